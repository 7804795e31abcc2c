// SPDX-License-Identifier: GPL-2.0
/*
 * The same uapi from a 32-bit process (built with -m32, linked with a
 * 32-bit libmqdev): every call goes through compat_ptr_ioctl(), so the
 * structs must have the one layout on both sides, and the mmap offsets the
 * kernel hands out (partition 1's ring at 4 GiB, the position page past
 * it) must reach it whole through mmap2(2).  A send in the wait passes the
 * security modules' ioctl hook, as a 32-bit ioctl(2) would.
 */
#include <sys/mount.h>
#include "common.h"
#include "kselftest_harness.h"

#define RECORDS		20
#define VALUE		24

FIXTURE(compat) {
	int fd;
	char name[MQDEV_NAME_MAX + 1];
};

FIXTURE_SETUP(compat)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("compat"));
	ASSERT_EQ(0, create_topic(self->fd, self->name, 2, 65536, 0));
}

FIXTURE_TEARDOWN(compat)
{
	mqdev_topic_delete(self->fd, self->name);
	close(self->fd);
}

/* The point of the test: a 32-bit process, mapping with a 64-bit off_t. */
TEST(is_a_32_bit_process)
{
	ASSERT_EQ(4, sizeof(void *));
	ASSERT_EQ(4, sizeof(long));
	ASSERT_EQ(8, sizeof(off_t));
}

/* Commands and bad input come through compat_ptr_ioctl() as from 64 bits. */
TEST_F(compat, version_and_bad_input)
{
	struct mqdev_version v = {};
	struct mqdev_wait w = { .flags = 1U << 31 };
	int cons;

	ASSERT_EQ(0, xioctl(self->fd, MQDEV_IOC_VERSION, &v));
	EXPECT_EQ(MQDEV_API_VERSION, v.api);
	EXPECT_NE(0, v.features & MQDEV_FEAT_WAIT_SEND);
	v.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, MQDEV_IOC_VERSION, &v));
	EXPECT_EQ(-ENOTTY, xioctl(self->fd, _IO(MQDEV_IOC_MAGIC, 0xff), NULL));
	cons = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, cons);
	EXPECT_EQ(-EINVAL, xioctl(cons, MQDEV_IOC_WAIT, &w));
	close(cons);
}

/* Record @i of partition @part: its value says which it is. */
static void value_fill(char *value, uint32_t part, int i)
{
	memset(value, 0, VALUE);
	snprintf(value, VALUE, "p%u-r%d", part, i);
}

static void produce_both(struct __test_metadata *_metadata,
			 struct mqdev_producer *p)
{
	uint64_t base;
	uint32_t part;
	struct mqdev_batch *b;
	void *value;
	int i;

	ASSERT_EQ(0, mqdev_batch_new(4096, &b));
	for (part = 0; part < 2; part++) {
		for (i = 0; i < RECORDS; i++) {
			ASSERT_EQ(0, mqdev_batch_add(b, NULL, 0, VALUE,
						     &value));
			value_fill(value, part, i);
		}
		base = ~0ULL;
		ASSERT_EQ(RECORDS, mqdev_produce_batch(p, b, &part, &base));
		EXPECT_EQ(0, base);
	}
	mqdev_batch_free(b);
}

/* Every record of both partitions, read in place, each once and whole. */
static void read_both(struct __test_metadata *_metadata,
		      struct mqdev_consumer *c)
{
	const struct mqdev_record *rec;
	int next[2] = {};
	char want[VALUE];

	while (next[0] + next[1] < 2 * RECORDS) {
		rec = mqdev_consumer_peek(c);
		if (!rec) {
			ASSERT_EQ(0, mqdev_consumer_error(c));
			ASSERT_EQ(1, mqdev_consumer_wait(c, 5000));
			continue;
		}
		ASSERT_GT(2, rec->partition);
		ASSERT_GT(RECORDS, next[rec->partition]);
		EXPECT_EQ(next[rec->partition], rec->offset);
		ASSERT_EQ(VALUE, mqdev_record_value_len(rec));
		value_fill(want, rec->partition, next[rec->partition]);
		EXPECT_EQ(0, memcmp(want, mqdev_record_value(rec), VALUE));
		next[rec->partition]++;
		ASSERT_EQ(0, mqdev_consumer_release(c));
	}
	EXPECT_TRUE(mqdev_consumer_peek(c) == NULL);
}

/*
 * A batch to each partition, then both read in place: partition 1's ring
 * is mapped at 4 GiB and the position page at 1 TiB.
 */
TEST_F(compat, produce_and_read_in_place)
{
	struct mqdev_producer *p;
	struct mqdev_consumer *c;

	ASSERT_EQ(0, mqdev_producer_new(self->name, NULL, &p));
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, MQDEV_PARTITION_ALL,
					 MQDEV_SEEK_EARLIEST, 0, 0, NULL));
	produce_both(_metadata, p);
	read_both(_metadata, c);
	mqdev_consumer_free(c);
	mqdev_producer_free(p);
}

/* The single writer's mapping lies past 4 GiB too. */
TEST_F(compat, single_writer)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = 2,
		      .capacity = 65536, .flags = MQDEV_TOPIC_SINGLE_WRITER);
	char name[MQDEV_NAME_MAX + 1];
	struct mqdev_swriter *w;
	struct mqdev_consumer *c;
	struct mqdev_record *rec;
	uint32_t part;
	int i;

	strcpy(name, topic_name("compat-sw"));
	ASSERT_EQ(0, mqdev_topic_create(self->fd, name, &cfg));
	ASSERT_EQ(0, mqdev_swriter_new(name, NULL, &w));
	ASSERT_EQ(0, mqdev_consumer_new(name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, MQDEV_PARTITION_ALL,
					 MQDEV_SEEK_EARLIEST, 0, 0, NULL));
	for (part = 0; part < 2; part++) {
		for (i = 0; i < RECORDS; i++) {
			ASSERT_EQ(0, mqdev_swriter_reserve(w, part, 0, VALUE,
							   0, &rec));
			value_fill((char *)mqdev_record_value(rec), part, i);
		}
		ASSERT_EQ(0, mqdev_swriter_commit(w));
	}
	read_both(_metadata, c);
	mqdev_consumer_free(c);
	mqdev_swriter_free(w);
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, name));
}

/* A producer, a consumer from the start and a batch: a send in the wait. */
struct waiter {
	struct mqdev_producer	*p;
	struct mqdev_consumer	*c;
	struct mqdev_batch	*b;
};

static void waiter_free(struct waiter *w)
{
	mqdev_batch_free(w->b);
	mqdev_consumer_free(w->c);
	mqdev_producer_free(w->p);
}

static int waiter_new(const char *name, struct waiter *w)
{
	int err;

	memset(w, 0, sizeof(*w));
	err = mqdev_producer_new(name, NULL, &w->p) ?:
	      mqdev_consumer_new(name, NULL, &w->c) ?:
	      mqdev_consumer_seek(w->c, 0, MQDEV_SEEK_EARLIEST, 0, 0, NULL) ?:
	      mqdev_batch_new(4096, &w->b);
	if (err)
		waiter_free(w);
	return err;
}

/* One record to partition 0, sent from inside the wait it ends. */
static int waiter_send(struct waiter *w, uint64_t *base)
{
	uint32_t part = 0;
	void *value;
	int err;

	err = mqdev_batch_add(w->b, NULL, 0, VALUE, &value);
	if (err)
		return err;
	value_fill(value, 0, 0);
	return mqdev_produce_batch_wait(w->p, w->b, &part, base, w->c, 5000);
}

/* A batch sent from inside the consumer's wait, which its record wakes. */
TEST_F(compat, send_in_the_wait)
{
	uint64_t base = ~0ULL;
	struct waiter w;

	ASSERT_EQ(0, waiter_new(self->name, &w));
	EXPECT_EQ(1, waiter_send(&w, &base));
	EXPECT_EQ(0, mqdev_batch_count(w.b));
	EXPECT_EQ(0, base);
	EXPECT_TRUE(mqdev_consumer_peek(w.c) != NULL);
	waiter_free(&w);
}

/*
 * From 32 bits too the send passes the security modules' ioctl hook: under
 * a Landlock ruleset that handles IOCTL_DEV, a handle opened after it is
 * refused through the send as through a 32-bit ioctl(2).  Landlock answers
 * an mqdev command alike through the compat hook and the native one, so
 * this shows that the compat path passes a hook, not which one
 * (send_passes_the_compat_hook does).
 */
TEST_F(compat, send_passes_the_ioctl_hook)
{
	struct mqdev_produce_batch req = {};
	int cons, err;

	cons = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, cons);
	ASSERT_EQ(0, seek(cons, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
	err = landlock_refuses_send(cons, &req);
	close(cons);
	if (err == KSFT_SKIP)
		SKIP(return, "no Landlock with IOCTL_DEV (ABI 5) here");
	EXPECT_EQ(0, err);
}

/*
 * Which hook the send passes: a kprobe on security_file_ioctl_compat()
 * counts its calls (tracefs's kprobe_profile) while this 32-bit process
 * sends from inside its wait, once.  The wait's own ioctl(2) passes it,
 * and so must the send: twice.  Had wait_send() taken the native hook,
 * once.  No other 32-bit process runs in the test VM.
 */
#define TRACEFS		"/sys/kernel/tracing"
#define HOOK_PROBE	"mqdev_compat_hook"

static int tracefs_put(const char *file, const char *text)
{
	int fd = open(file, O_WRONLY | O_APPEND | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* The probe on the compat hook, enabled; -errno. */
static int hook_probe_on(void)
{
	if (access(TRACEFS "/kprobe_events", F_OK) &&
	    mount("nodev", TRACEFS, "tracefs", 0, NULL))
		return -errno;
	tracefs_put(TRACEFS "/kprobe_events", "-:" HOOK_PROBE);	/* stale */
	return tracefs_put(TRACEFS "/kprobe_events",
			   "p:" HOOK_PROBE " security_file_ioctl_compat") ?:
	       tracefs_put(TRACEFS "/events/kprobes/" HOOK_PROBE "/enable",
			   "1");
}

static void hook_probe_off(void)
{
	tracefs_put(TRACEFS "/events/kprobes/" HOOK_PROBE "/enable", "0");
	tracefs_put(TRACEFS "/kprobe_events", "-:" HOOK_PROBE);
}

/* The compat hook's calls since the probe was set, or -1. */
static long hook_hits(void)
{
	FILE *f = fopen(TRACEFS "/kprobe_profile", "re");
	unsigned long hit, missed;
	char name[128];
	long hits = -1;

	while (f && fscanf(f, "%127s %lu %lu", name, &hit, &missed) == 3)
		if (!strcmp(name, HOOK_PROBE))
			hits = (long)hit;
	if (f)
		fclose(f);
	return hits;
}

TEST_F(compat, send_passes_the_compat_hook)
{
	uint64_t base = ~0ULL;
	struct waiter w;
	long before;
	int err;

	ASSERT_EQ(0, waiter_new(self->name, &w));
	err = hook_probe_on();
	if (err) {
		hook_probe_off();
		waiter_free(&w);
		SKIP(return, "no kprobe on the compat hook: %s", strerror(-err));
	}
	before = hook_hits();
	EXPECT_EQ(1, waiter_send(&w, &base));
	EXPECT_LE(0, before);
	EXPECT_EQ(2, hook_hits() - before);
	hook_probe_off();
	EXPECT_EQ(0, base);
	waiter_free(&w);
}

TEST_HARNESS_MAIN
