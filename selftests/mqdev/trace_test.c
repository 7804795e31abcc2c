// SPDX-License-Identifier: GPL-2.0
/*
 * The module's tracepoints (kmod/trace.h), read back through tracefs: each
 * test drives one kind of event with the library or the ioctls and finds it
 * in the trace with the fields it must have (topic, partition, offsets,
 * errno and reason, group and generation, producer and transaction).
 *
 * The program records into a tracefs instance of its own, with every mqdev
 * event on, so that it neither sees nor disturbs anyone else's tracing.
 * tracefs is mounted if it is not (the test VM's init does not); a kernel
 * without it skips.  The events must be there: a module without them fails.
 */
#include <stdarg.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>

#include "kselftest_harness.h"
#include "common.h"

#define TRACEFS		"/sys/kernel/tracing"
#define REC		sizeof(struct mqdev_record)
/* A value whose record takes 1 KiB of ring exactly. */
#define VALUE_1K	(1024 - REC)

/* Mount tracefs where it goes, if it is not there yet: 0, or -errno. */
static int tracefs_mount(void)
{
	if (!access(TRACEFS "/instances", F_OK))
		return 0;
	if (mount("nodev", TRACEFS, "tracefs", 0, NULL))
		return -errno;
	return 0;
}

static int write_str(const char *dir, const char *file, const char *s)
{
	char path[256];
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -errno;
	close(fd);
	return ret;
}

/* The whole trace of @dir, NUL-terminated, to be freed; NULL on error. */
static char *trace_read(const char *dir)
{
	size_t len = 0, size = 1 << 16;
	char path[256], *buf = malloc(size);
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/trace", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((n = read(fd, buf + len, size - len - 1)) > 0) {
		len += n;
		if (size - len < 4096) {
			char *more = realloc(buf, size *= 2);

			if (!more)
				break;
			buf = more;
		}
	}
	buf[len] = 0;
	close(fd);
	return buf;
}

/*
 * The instance, made and its events turned on once for the whole program:
 * turning an event on or off patches code (static keys), which the test
 * VM's TCG is known to trip over, rarely, on the other vCPU.  For the same
 * reason the comm of each pid is not recorded (options/record-cmd, which is
 * tracefs' own and global, off until the program ends): recording it turns
 * the scheduler's own tracepoints on and off with the events, and those run
 * all the time on every CPU.  Each test clears the buffer instead.
 */
static char instance[128];
static int instance_err;	/* tracefs is not there: -errno */
static int events_err;		/* the mqdev events could not be turned on */
static char record_cmd;		/* options/record-cmd as it was */
static pid_t instance_owner;

static void __attribute__((constructor)) instance_up(void)
{
	char path[] = TRACEFS "/options/record-cmd";
	int fd;

	instance_err = tracefs_mount();
	if (instance_err)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, &record_cmd, 1) != 1)
		record_cmd = 0;
	if (fd >= 0)
		close(fd);
	write_str(TRACEFS, "options/record-cmd", "0");
	snprintf(instance, sizeof(instance), TRACEFS "/instances/mqdev-%d",
		 getpid());
	if (mkdir(instance, 0700)) {
		instance_err = -errno;
		instance[0] = 0;
		return;
	}
	instance_owner = getpid();
	events_err = write_str(instance, "events/mqdev/enable", "1");
}

/* In the program itself only, not in the harness's children. */
static void __attribute__((destructor)) instance_down(void)
{
	char was[2] = { record_cmd, 0 };

	if (!instance[0] || getpid() != instance_owner)
		return;
	write_str(instance, "events/mqdev/enable", "0");
	rmdir(instance);
	if (record_cmd)
		write_str(TRACEFS, "options/record-cmd", was);
}

FIXTURE(trace) {
	char dir[128];
	char topic[MQDEV_NAME_MAX + 1];
	char line[1024];	/* the last line trace_find() found */
	int fd;			/* /dev/mq */
};

FIXTURE_SETUP(trace)
{
	self->fd = -1;
	if (instance_err == -ENODEV || instance_err == -ENOENT)
		SKIP(return, "tracefs: %s (CONFIG_TRACING?)",
		     strerror(-instance_err));
	ASSERT_EQ(0, instance_err)
		TH_LOG("no tracefs instance: %s", strerror(-instance_err));
	ASSERT_EQ(0, events_err)
		TH_LOG("the module has no mqdev events in tracefs: %s",
		       strerror(-events_err));
	snprintf(self->dir, sizeof(self->dir), "%s", instance);
	/* Opened for writing with O_TRUNC, the trace is emptied. */
	ASSERT_EQ(0, write_str(self->dir, "trace", ""));
	snprintf(self->topic, sizeof(self->topic), "%s",
		 topic_name(_metadata->name));
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(trace)
{
	if (self->fd >= 0) {
		mqdev_topic_delete(self->fd, self->topic);
		close(self->fd);
	}
}

/*
 * The first line of event @event (e.g. "mqdev_append") with every one of
 * the NULL-terminated fields after it, each a printf format and its
 * arguments in turn ("topic=%s ", name): into self->line, or NULL.
 * Fields end with a space where a longer value could also match.
 */
static const char *trace_find(FIXTURE_DATA(trace) *self, const char *event,
			      ...)
{
	char want[16][160], tag[80], *buf, *line, *end, *next;
	const char *fmt;
	int n = 0, i;
	va_list ap;

	va_start(ap, event);
	while (n < 16 && (fmt = va_arg(ap, const char *))) {
		char f[160];

		/* Each field takes its format's one argument, if any. */
		if (strchr(fmt, '%')) {
			if (strstr(fmt, "%s"))
				snprintf(f, sizeof(f), fmt, va_arg(ap, char *));
			else if (strstr(fmt, "%ll"))
				snprintf(f, sizeof(f), fmt,
					 va_arg(ap, unsigned long long));
			else
				snprintf(f, sizeof(f), fmt, va_arg(ap, int));
		} else {
			snprintf(f, sizeof(f), "%s", fmt);
		}
		snprintf(want[n++], sizeof(want[0]), "%s", f);
	}
	va_end(ap);

	buf = trace_read(self->dir);
	if (!buf)
		return NULL;
	snprintf(tag, sizeof(tag), " %s: ", event);
	for (line = buf; line; line = next) {
		end = strchr(line, '\n');
		next = end ? end + 1 : NULL;
		if (end)
			*end = 0;
		if (!strstr(line, tag))
			continue;
		for (i = 0; i < n && strstr(line, want[i]); i++)
			;
		if (i == n) {
			snprintf(self->line, sizeof(self->line), "%s", line);
			free(buf);
			return self->line;
		}
	}
	free(buf);
	return NULL;
}

/* What the trace has of mqdev, into the log: when an event is missing. */
static void trace_dump(FIXTURE_DATA(trace) *self)
{
	char *buf = trace_read(self->dir), *line, *end;

	for (line = buf; line && *line; line = end + 1) {
		end = strchrnul(line, '\n');
		if (strstr(line, " mqdev_"))
			ksft_print_msg("trace: %.*s\n", (int)(end - line), line);
		if (!*end)
			break;
	}
	free(buf);
}

/*
 * An event may be recorded a moment after what the test saw of it: a
 * check-back's is, by the worker that sent the question, once it is sent.
 * So it is looked for again, for up to two seconds.
 */
#define EXPECT_EVENT(event, ...)					\
	do {								\
		bool found = false;					\
		int try_;						\
									\
		for (try_ = 0; try_ < 40 && !found; try_++) {		\
			if (try_)					\
				usleep(50 * 1000);			\
			found = trace_find(self, event, __VA_ARGS__,	\
					   NULL);			\
		}							\
		if (!found)						\
			trace_dump(self);				\
		EXPECT_TRUE(found)					\
			TH_LOG("no %s event with those fields", event);	\
	} while (0)

/* The number after @field= in self->line, or -1. */
static long long line_value(FIXTURE_DATA(trace) *self, const char *field)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), " %s=", field);
	p = strstr(self->line, key);
	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

static int nonblock(int fd)
{
	return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* ---- appends ------------------------------------------------------------ */

TEST_F(trace, append)
{
	char value[5] = "value";
	uint64_t offset;
	int fd;

	ASSERT_EQ(0, create_topic(self->fd, self->topic, 2, 4096, 0));
	fd = attach(self->topic, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, produce_one(fd, 1, "key", 3, value, 5, &offset));
	ASSERT_EQ(1, produce_one(fd, 1, NULL, 0, value, 5, &offset));
	EXPECT_EQ(1, offset);
	close(fd);

	EXPECT_EVENT("mqdev_append", "topic=%s ", self->topic,
		     "partition=1 ", "offset=0 ", "len=%d ", (int)(REC + 8),
		     "key_len=3 ", "producer_id=0 ", "txn=0");
	EXPECT_EVENT("mqdev_append", "topic=%s ", self->topic,
		     "partition=1 ", "offset=1 ", "len=%d ", (int)(REC + 5),
		     "key_len=0 ");
}

TEST_F(trace, append_batch)
{
	struct mqdev_producer *p;
	struct mqdev_batch *b;
	uint32_t part = 1;
	uint64_t base;
	void *v;
	int i;

	ASSERT_EQ(0, create_topic(self->fd, self->topic, 2, 4096, 0));
	ASSERT_EQ(0, mqdev_producer_new(self->topic, NULL, &p));
	ASSERT_EQ(0, mqdev_batch_new(4096, &b));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, mqdev_batch_add(b, NULL, 0, 16, &v));
		memset(v, i, 16);
	}
	ASSERT_EQ(3, mqdev_produce_batch(p, b, &part, &base));
	ASSERT_EQ(0, base);

	EXPECT_EVENT("mqdev_append_batch", "topic=%s ", self->topic,
		     "partition=1 ", "base_offset=0 ", "count=3 ",
		     "bytes=%d", (int)(3 * MQDEV_RECORD_SPACE(REC + 16)));
	mqdev_batch_free(b);
	mqdev_producer_free(p);
}

/* ---- refusals ------------------------------------------------------------ */

static int attach_as(void *arg)
{
	int fd = attach(arg, MQDEV_ATTACH_PRODUCE, NULL);

	return fd < 0 ? -fd : 0;
}

TEST_F(trace, refusals)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .capacity = 4096, .mode = 0600);
	static char big[8192], value[VALUE_1K];
	int fd, err, n = 0;

	ASSERT_EQ(0, mqdev_topic_create(self->fd, self->topic, &cfg));
	fd = attach(self->topic, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, fd);

	/* Larger than the topic's largest record. */
	EXPECT_EQ(-EMSGSIZE, produce_one(fd, 0, NULL, 0, big, sizeof(big),
					 NULL));
	EXPECT_EVENT("mqdev_refuse", "topic=%s ", self->topic, "op=produce ",
		     "partition=0 ", "bytes=8192 ", "errno=90 ",
		     "reason=too_big");

	/* Full, and no holder to reclaim for: a block topic refuses. */
	ASSERT_EQ(0, nonblock(fd));
	while ((err = produce_one(fd, 0, NULL, 0, value, sizeof(value),
				  NULL)) == 0 && n < 100)
		n++;
	EXPECT_EQ(-EAGAIN, err);
	EXPECT_EQ(4, n);
	EXPECT_EVENT("mqdev_refuse", "topic=%s ", self->topic, "op=produce ",
		     "partition=0 ", "errno=11 ", "reason=full");
	close(fd);

	/* No such topic, and one another user may not write. */
	EXPECT_EQ(-ENOENT, attach("trace-no-such-topic", MQDEV_ATTACH_PRODUCE,
				  NULL));
	EXPECT_EVENT("mqdev_refuse", "topic=trace-no-such-topic ",
		     "op=attach ", "errno=2 ", "reason=no_topic");
	EXPECT_EQ(EACCES, as_user(OTHER_UID, attach_as, self->topic));
	EXPECT_EVENT("mqdev_refuse", "topic=%s ", self->topic, "op=attach ",
		     "errno=13 ", "reason=permission");
}

/* A bound producer: a retry is a duplicate, a sequence ahead is refused. */
TEST_F(trace, sequences)
{
	struct mqdev_producer *p;
	struct mqdev_session *s;
	struct mqdev_msg msg;
	uint64_t id;

	ASSERT_EQ(0, create_topic(self->fd, self->topic, 1, 4096, 0));
	ASSERT_EQ(0, mqdev_session_new(NULL, 0, &s));
	ASSERT_EQ(0, mqdev_producer_new(self->topic, NULL, &p));
	ASSERT_EQ(0, mqdev_producer_bind(p, s));
	id = mqdev_session_producer_id(s);

	mqdev_msg_init(&msg, NULL, 0, "x", 1, 0);
	mqdev_producer_stamp(p, &msg, 1);
	ASSERT_EQ(1, mqdev_produce(p, &msg, 1));
	EXPECT_EVENT("mqdev_append", "topic=%s ", self->topic,
		     "producer_id=%llu ", (unsigned long long)id,
		     "sequence=0 ");
	ASSERT_EQ(1, mqdev_produce(p, &msg, 1));
	EXPECT_EQ(MQDEV_MSG_DUPLICATE, msg.status);
	EXPECT_EVENT("mqdev_duplicate", "topic=%s ", self->topic,
		     "partition=0 ", "producer_id=%llu ",
		     (unsigned long long)id, "sequence=0 ", "offset=0");

	msg.sequence = 7;
	EXPECT_EQ(-EBADMSG, mqdev_produce(p, &msg, 1));
	EXPECT_EVENT("mqdev_refuse", "topic=%s ", self->topic,
		     "op=produce ", "errno=74 ", "reason=bad_sequence");
	mqdev_producer_free(p);
	mqdev_session_free(s);
}

/* ---- waits and wake-ups ----------------------------------------------------- */

/*
 * A group holds a full block topic; a producer sleeps for room until the
 * group commits: the wait, how long it took, the kick and the commit.
 */
TEST_F(trace, room_wait)
{
	static char value[VALUE_1K];
	struct mqdev_consumer *c;
	int fd, status, n = 0;
	pid_t pid;

	ASSERT_EQ(0, create_topic(self->fd, self->topic, 1, 4096, 0));
	ASSERT_EQ(0, mqdev_consumer_new(self->topic, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_join(c, "waiters", MQDEV_SEEK_EARLIEST));
	fd = attach(self->topic, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, nonblock(fd));
	while (!produce_one(fd, 0, NULL, 0, value, sizeof(value), NULL) &&
	       n < 100)
		n++;
	ASSERT_EQ(4, n);
	close(fd);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		fd = attach(self->topic, MQDEV_ATTACH_PRODUCE, NULL);
		_exit(produce_one(fd, 0, NULL, 0, value, sizeof(value),
				  NULL) ? 1 : 0);
	}
	usleep(300 * 1000);
	EXPECT_EVENT("mqdev_room_wait", "topic=%s ", self->topic,
		     "partition=0 ", "space=1024 ", "used=4096");

	EXPECT_EQ(1, mqdev_consumer_wait(c, 1000));
	while (mqdev_consumer_peek(c))
		mqdev_consumer_release(c);
	EXPECT_EQ(0, mqdev_consumer_commit(c));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);

	EXPECT_EVENT("mqdev_group_commit", "topic=%s ", self->topic,
		     "group=waiters ", "partition=0 ", "old_offset=0 ",
		     "offset=4");
	EXPECT_EVENT("mqdev_wake_producers", "topic=%s ", self->topic,
		     "partition=0 ", "sleepers=1");
	EXPECT_EVENT("mqdev_room_wait_end", "topic=%s ", self->topic,
		     "error=0");
	EXPECT_LE(250 * 1000 * 1000LL, line_value(self, "waited_ns"))
		TH_LOG("%s", self->line);
	mqdev_consumer_free(c);
}

/* A reader asleep in MQDEV_IOC_WAIT is woken by an append: both traced. */
TEST_F(trace, wake_readers)
{
	struct mqdev_consumer *c;
	int fd, status;
	pid_t pid;

	ASSERT_EQ(0, create_topic(self->fd, self->topic, 2, 4096, 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (mqdev_consumer_new(self->topic, NULL, &c) ||
		    mqdev_consumer_seek(c, MQDEV_PARTITION_ALL,
					MQDEV_SEEK_EARLIEST, 0, 0, NULL))
			_exit(2);
		_exit(mqdev_consumer_wait(c, 10000) == 1 ? 0 : 1);
	}
	usleep(300 * 1000);
	/* Appends nobody waits for are not wake-ups; nobody waits yet... */
	fd = attach(self->topic, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, produce_one(fd, 1, NULL, 0, "abc", 3, NULL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	close(fd);
	EXPECT_EVENT("mqdev_wake_readers", "topic=%s ", self->topic,
		     "partition=1 ", "head=%d", (int)MQDEV_RECORD_SPACE(REC + 3));
	/* The reader's side: its sleep, and what woke it (POLLIN). */
	EXPECT_EVENT("mqdev_read_wait", "topic=%s ", self->topic,
		     "min_bytes=0 ", "timeout_ns=10000000000");
	EXPECT_EVENT("mqdev_read_wait_end", "topic=%s ", self->topic,
		     "revents=0x1 ", "error=0");
	EXPECT_LE(250 * 1000 * 1000LL, line_value(self, "waited_ns"))
		TH_LOG("%s", self->line);
}

/*
 * A wait with a time-out that finds a record at once returns it and is no
 * sleep: neither read_wait event.  The kernel looks only after queueing
 * the waiter, so this is the look under the entries that says "ready".
 */
TEST_F(trace, a_ready_wait_is_no_sleep)
{
	struct mqdev_wait req = { .timeout_ns = 10ULL * 1000000000 };
	int prod, cons;

	ASSERT_EQ(0, create_topic(self->fd, self->topic, 1, 4096, 0));
	prod = attach(self->topic, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, prod);
	cons = attach(self->topic, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, cons);
	ASSERT_EQ(0, seek(cons, MQDEV_PARTITION_ALL, MQDEV_SEEK_EARLIEST,
			  NULL, 0));
	ASSERT_EQ(0, produce_one(prod, 0, NULL, 0, "abc", 3, NULL));
	EXPECT_EQ(0, xioctl(cons, MQDEV_IOC_WAIT, &req));
	EXPECT_EQ(POLLIN, req.revents);
	close(cons);
	close(prod);
	EXPECT_EVENT("mqdev_append", "topic=%s ", self->topic, "offset=0 ");
	EXPECT_EQ(NULL, trace_find(self, "mqdev_read_wait", "topic=%s ",
				   self->topic, NULL));
	EXPECT_EQ(NULL, trace_find(self, "mqdev_read_wait_end", "topic=%s ",
				   self->topic, NULL));
}

/* An append with nobody asleep wakes nobody: no event. */
TEST_F(trace, no_sleeper_no_wakeup)
{
	int fd;

	ASSERT_EQ(0, create_topic(self->fd, self->topic, 1, 4096, 0));
	fd = attach(self->topic, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, produce_one(fd, 0, NULL, 0, "abc", 3, NULL));
	close(fd);
	EXPECT_EVENT("mqdev_append", "topic=%s ", self->topic, "offset=0 ");
	EXPECT_EQ(NULL, trace_find(self, "mqdev_wake_readers", "topic=%s ",
				   self->topic, NULL));
}

/* ---- overwrite laps ------------------------------------------------------------ */

TEST_F(trace, overwrite_lap)
{
	static char value[VALUE_1K];
	struct mqdev_consumer *c;
	int fd, i;

	ASSERT_EQ(0, create_topic(self->fd, self->topic, 1, 4096,
				  MQDEV_TOPIC_OVERWRITE));
	/* A group of a writer holds its position: it is lapped, and known. */
	ASSERT_EQ(0, mqdev_consumer_new(self->topic, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_join(c, "lapped", MQDEV_SEEK_EARLIEST));
	fd = attach(self->topic, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, fd);
	for (i = 0; i < 6; i++)
		ASSERT_EQ(0, produce_one(fd, 0, NULL, 0, value, sizeof(value),
					 NULL));
	close(fd);

	EXPECT_EVENT("mqdev_overwrite", "topic=%s ", self->topic,
		     "partition=0 ", "records=1 ", "bytes=1024 ",
		     "first_offset=1 ", "lapped=1");
	EXPECT_EVENT("mqdev_overwrite", "topic=%s ", self->topic,
		     "records=1 ", "first_offset=2 ", "lapped=0");
	mqdev_consumer_free(c);
}

/* ---- groups ------------------------------------------------------------------- */

TEST_F(trace, rebalance_and_commit)
{
	struct mqdev_consumer *a, *b;
	uint32_t part;
	int fd;

	ASSERT_EQ(0, create_topic(self->fd, self->topic, 2, 4096, 0));
	fd = attach(self->topic, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, fd);
	for (part = 0; part < 2; part++)
		ASSERT_EQ(part, produce_one(fd, part, NULL, 0, "v", 1, NULL));
	close(fd);

	ASSERT_EQ(0, mqdev_consumer_new(self->topic, NULL, &a));
	ASSERT_EQ(0, mqdev_consumer_join(a, "rebal", MQDEV_SEEK_EARLIEST));
	EXPECT_EVENT("mqdev_rebalance", "topic=%s ", self->topic,
		     "group=rebal ", "generation=1 ", "members=1 ",
		     "partitions=2");
	ASSERT_EQ(0, mqdev_consumer_new(self->topic, NULL, &b));
	ASSERT_EQ(0, mqdev_consumer_join(b, "rebal", MQDEV_SEEK_EARLIEST));
	EXPECT_EVENT("mqdev_rebalance", "topic=%s ", self->topic,
		     "group=rebal ", "generation=2 ", "members=2 ");

	/* b's partition: read and commit it. */
	EXPECT_EQ(1, mqdev_consumer_wait(b, 1000));
	part = mqdev_consumer_owns(b, 0) ? 0 : 1;
	ASSERT_NE(NULL, mqdev_consumer_peek(b));
	ASSERT_EQ(0, mqdev_consumer_release(b));
	ASSERT_EQ(0, mqdev_consumer_commit(b));
	EXPECT_EVENT("mqdev_group_commit", "topic=%s ", self->topic,
		     "group=rebal ", "partition=%d ", (int)part,
		     "generation=2 ", "old_offset=0 ", "offset=1");
	mqdev_consumer_free(b);
	EXPECT_EVENT("mqdev_rebalance", "topic=%s ", self->topic,
		     "group=rebal ", "generation=3 ", "members=1 ");
	mqdev_consumer_free(a);
}

/* ---- transactions ------------------------------------------------------------ */

TEST_F(trace, txn_decided_by_producer)
{
	char name[MQDEV_NAME_MAX + 1];
	struct mqdev_producer *p;
	struct mqdev_session *s;
	uint64_t id, pid;

	snprintf(name, sizeof(name), "%.60s-p", self->topic);
	ASSERT_EQ(0, create_topic(self->fd, self->topic, 1, 4096, 0));
	ASSERT_EQ(0, mqdev_session_new(name, 0, &s));
	ASSERT_EQ(0, mqdev_producer_new(self->topic, NULL, &p));
	ASSERT_EQ(0, mqdev_producer_bind(p, s));
	pid = mqdev_session_producer_id(s);

	ASSERT_EQ(0, mqdev_txn_begin(s, 1));
	ASSERT_EQ(0, mqdev_producer_send(p, NULL, 0, "ab", 2, 0, NULL));
	ASSERT_EQ(1, mqdev_producer_flush(p));
	id = mqdev_txn_id(s);
	EXPECT_EVENT("mqdev_append", "topic=%s ", self->topic, "txn=1");
	ASSERT_EQ(0, mqdev_txn_commit(s));
	EXPECT_EVENT("mqdev_txn_decide", "producer=%s ", name,
		     "producer_id=%llu ", (unsigned long long)pid,
		     "txn_id=%llu ", (unsigned long long)id,
		     "want=commit ", "decision=commit ", "by=producer ",
		     "bytes=%d ", (int)MQDEV_RECORD_SPACE(REC + 2), "error=0");

	ASSERT_EQ(0, mqdev_txn_begin(s, 2));
	id = mqdev_txn_id(s);
	ASSERT_EQ(0, mqdev_txn_abort(s));
	EXPECT_EVENT("mqdev_txn_decide", "producer=%s ", name,
		     "txn_id=%llu ", (unsigned long long)id, "want=abort ",
		     "decision=abort ", "by=producer ", "bytes=0 ");
	mqdev_producer_free(p);
	mqdev_session_free(s);
}

TEST_F(trace, txn_check_back)
{
	char name[MQDEV_NAME_MAX + 1];
	LIBMQDEV_OPTS(mqdev_event, ev);
	struct mqdev_nl *nl;
	uint64_t id;
	int ret;

	snprintf(name, sizeof(name), "%.60s-c", self->topic);
	ASSERT_EQ(0, create_topic(self->fd, self->topic, 1, 4096, 0));
	ASSERT_EQ(0, mqdev_nl_open(&nl));
	ASSERT_EQ(0, mqdev_nl_checker_register(nl, name));
	id = open_and_die(self->topic, name, 4242, 0);
	ASSERT_NE(0, id);
	do {
		ret = mqdev_nl_event(nl, &ev, 5000);
	} while (ret == 1 && ev.cmd != MQDEV_CMD_TXN_CHECK);
	ASSERT_EQ(1, ret);
	EXPECT_EVENT("mqdev_txn_check", "producer=%s ", name,
		     "txn_id=%llu ", (unsigned long long)id, "cookie=4242 ",
		     "attempt=1 ", "error=0");
	EXPECT_NE(0, line_value(self, "portid"));

	ASSERT_EQ(0, mqdev_txn_resolve(nl, name, id, MQDEV_TXN_COMMIT));
	EXPECT_EVENT("mqdev_txn_answer", "producer=%s ", name,
		     "txn_id=%llu ", (unsigned long long)id,
		     "decision=commit ", "error=0");
	EXPECT_EVENT("mqdev_txn_decide", "producer=%s ", name,
		     "txn_id=%llu ", (unsigned long long)id,
		     "decision=commit ", "by=checker ", "error=0");
	/* Too late: answered, and the answer is traced as refused. */
	EXPECT_EQ(-ENOENT, mqdev_txn_resolve(nl, name, id, MQDEV_TXN_ABORT));
	EXPECT_EVENT("mqdev_txn_answer", "producer=%s ", name,
		     "decision=abort ", "error=-2");
	mqdev_nl_close(nl);
}

/* No checker: the orphan is aborted by the kernel. */
TEST_F(trace, txn_orphan_aborted)
{
	char name[MQDEV_NAME_MAX + 1];
	uint64_t id;
	int i;

	snprintf(name, sizeof(name), "%.60s-o", self->topic);
	ASSERT_EQ(0, create_topic(self->fd, self->topic, 1, 4096, 0));
	id = open_and_die(self->topic, name, 7, 0);
	ASSERT_NE(0, id);
	for (i = 0; i < 50 && !trace_find(self, "mqdev_txn_decide",
					  "producer=%s ", name, NULL); i++)
		usleep(100 * 1000);
	EXPECT_EVENT("mqdev_txn_decide", "producer=%s ", name,
		     "txn_id=%llu ", (unsigned long long)id, "want=abort ",
		     "decision=abort ", "by=timeout ",
		     "bytes=%d ", (int)(3 * MQDEV_RECORD_SPACE(REC + 4)));
	EXPECT_EQ(NULL, trace_find(self, "mqdev_txn_check", "producer=%s ",
				   name, NULL));
}

TEST_HARNESS_MAIN
