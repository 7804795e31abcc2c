// SPDX-License-Identifier: GPL-2.0
/*
 * A share group's dead-letter topic and retry schedule: a rejected record,
 * and one past max_deliveries, in the dead-letter topic once, with its
 * key, value, headers and the dead letter's own; a full or deleted
 * dead-letter topic counted, nothing lost in the source; the back-off
 * schedule applied to a release that gives none; bad settings refused
 * with nothing made; a memberless group still dead-letters, and its
 * deletion, or its topic's, lets go of the dead-letter topic at once.
 * Expired records dead-lettered with MQDEV_SHARE_DLQ_EXPIRED only; a dead
 * letter with no room retried until it has some; a later member whose
 * settings differ from the group's refused.
 */
#include <fcntl.h>
#include <time.h>
#include "common.h"
#include "kselftest_harness.h"

FIXTURE(dlq) {
	int fd, prod;
	char src[MQDEV_NAME_MAX + 1];
	char dlq[MQDEV_NAME_MAX + 1];
	/* USER_UID's topics, and its limit, put back whatever a test did */
	char user[2][MQDEV_NAME_MAX + 1];
	unsigned long max_user_topics;
};

FIXTURE_SETUP(dlq)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->src, topic_name("dlqsrc"));
	strcpy(self->dlq, topic_name("dlqdst"));
	ASSERT_EQ(0, create_topic(self->fd, self->src, 1, 1 << 20, 0));
	ASSERT_EQ(0, create_topic(self->fd, self->dlq, 1, 1 << 20, 0));
	self->prod = attach(self->src, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, self->prod);
	self->user[0][0] = self->user[1][0] = 0;
	self->max_user_topics = get_param("max_user_topics");
}

/*
 * In the parent, once the test's process is gone (its descriptors with
 * it): 6.12's own harness skips a child's teardown after a failed ASSERT
 * (the top-level Makefile mends the copy it builds with, a kernel tree's
 * may not be), and a max_user_topics left at 1 would fail every test after.
 */
FIXTURE_TEARDOWN_PARENT(dlq)
{
	int fd = mqdev_open();

	if (fd < 0)
		return;
	mqdev_topic_delete(fd, self->src);
	mqdev_topic_delete(fd, self->dlq);
	if (self->user[0][0])
		mqdev_topic_delete(fd, self->user[0]);
	if (self->user[1][0])
		mqdev_topic_delete(fd, self->user[1]);
	if (self->max_user_topics)
		set_param("max_user_topics", self->max_user_topics);
	close(fd);
}

static struct mqdev_share *join(const char *topic, const char *dlq,
				uint32_t max_deliveries,
				const uint32_t *backoff, uint32_t nr_backoff)
{
	LIBMQDEV_OPTS(mqdev_share_opts, opts, .lock_ms = 10000,
		      .max_deliveries = max_deliveries,
		      .reset = MQDEV_SEEK_EARLIEST, .dlq_topic = dlq,
		      .backoff_ms = backoff, .nr_backoff = nr_backoff);
	struct mqdev_share *s;

	return mqdev_share_new(topic, "g", &opts, &s) ? NULL : s;
}

/* A record with key "k1", a header "trace: abc" and value "poison". */
static int produce_poison(int prod, uint64_t *offset)
{
	static const char block[] = "\1\0\0\0" "\5\0\0\0" "\3\0\0\0"
				    "trace" "abc" "poison";
	struct mqdev_msg msg;
	struct mqdev_produce req = {
		.msgs = (uintptr_t)&msg, .count = 1, .msg_size = sizeof(msg),
	};

	mqdev_msg_init(&msg, "k1", 2, block, sizeof(block) - 1, 0);
	msg.flags = MQDEV_MSG_HEADERS;
	if (ioctl(prod, MQDEV_IOC_PRODUCE, &req) != 1)
		return -errno;
	*offset = msg.offset;
	return 0;
}

struct reader {
	struct dead d[4];
	int n;
};

static int on_dead(void *ctx, const struct mqdev_record *rec)
{
	struct reader *r = ctx;

	if (r->n < 4 && dead_parse(rec, &r->d[r->n]))
		return -EBADMSG;
	r->n++;
	return 0;
}

/*
 * The dead letters of @topic that come within @ms (all of it: one more
 * than expected must show): how many there were, or -1.
 */
static int read_dead(const char *topic, struct reader *r, int ms)
{
	struct mqdev_consumer *c;
	uint64_t end = mono_ms() + ms;

	memset(r, 0, sizeof(*r));
	if (mqdev_consumer_new(topic, NULL, &c))
		return -1;
	if (mqdev_consumer_seek(c, MQDEV_PARTITION_ALL, MQDEV_SEEK_EARLIEST,
				0, 0, NULL))
		r->n = -1;
	while (r->n >= 0 && mono_ms() < end)
		if (mqdev_consumer_poll(c, 20, 16, on_dead, r) < 0)
			r->n = -1;
	mqdev_consumer_free(c);
	return r->n;
}

/* Acquire one record, waiting up to @ms for it: its delivery, or -1. */
static int acquire_one(struct mqdev_share *s, struct mqdev_delivery *d, int ms)
{
	uint64_t end = mono_ms() + ms;
	int n;

	do {
		n = mqdev_share_acquire(s, 0, d, 1);
		if (n)
			return n == 1 ? 0 : n;
		sleep_ms(2);
	} while (mono_ms() < end);
	return -1;
}

static int ack(struct mqdev_share *s, const struct mqdev_delivery *d,
	       uint32_t type)
{
	return mqdev_share_ack(s, 0, d->offset, d->offset + 1, type, NULL);
}

/* Wait up to a second for the dead letters to be dealt with. */
static void dlq_wait(struct mqdev_share *s, struct mqdev_share_dlq_info *info,
		     uint64_t dealt)
{
	int i;

	for (i = 0; i < 100; i++) {
		if (mqdev_share_dlq_info(mqdev_share_fd(s), "g", info))
			return;
		if (info->written + info->full + info->gone + info->failed >=
		    dealt)
			return;
		sleep_ms(10);
	}
}

/* Rejected by a member: in the dead-letter topic once, whole. */
TEST_F(dlq, poison_rejected_once_with_headers)
{
	struct mqdev_share_dlq_info info;
	struct mqdev_delivery d;
	struct mqdev_share *s;
	struct reader r;
	uint64_t off;
	uint32_t v = 7;

	ASSERT_EQ(0, produce_one(self->prod, 0, NULL, 0, &v, sizeof(v), NULL));
	ASSERT_EQ(0, produce_poison(self->prod, &off));
	ASSERT_EQ(1, off);
	s = join(self->src, self->dlq, 0, NULL, 0);
	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, acquire_one(s, &d, 100));
	ASSERT_EQ(0, ack(s, &d, MQDEV_SHARE_ACCEPT));
	ASSERT_EQ(0, acquire_one(s, &d, 100));
	ASSERT_EQ(1, d.offset);
	ASSERT_EQ(0, ack(s, &d, MQDEV_SHARE_REJECT));
	dlq_wait(s, &info, 1);
	EXPECT_EQ(1, info.written);
	EXPECT_EQ(0, info.full + info.gone + info.failed);
	EXPECT_STREQ(self->dlq, info.topic);

	/* once: a second look, later, finds one still */
	sleep_ms(100);
	ASSERT_EQ(1, read_dead(self->dlq, &r, 300));
	EXPECT_STREQ("k1", r.d[0].key);
	EXPECT_STREQ("poison", r.d[0].value);
	EXPECT_STREQ("abc", r.d[0].trace);
	EXPECT_STREQ(self->src, r.d[0].topic);
	EXPECT_EQ(0, r.d[0].partition);
	EXPECT_EQ(1, r.d[0].offset);
	EXPECT_EQ(1, r.d[0].count);
	EXPECT_STREQ(MQDEV_DLQ_REJECTED, r.d[0].reason);
	EXPECT_STREQ("g", r.d[0].group);
	EXPECT_EQ(7, r.d[0].nr_dlq_headers);
	EXPECT_EQ(8, r.d[0].nr_headers);
	mqdev_share_free(s);
}

/*
 * A group "g" with dead-letter topic @dlq joins @src, takes its first record
 * and rejects it: @info once its dead letter is dealt with, and the dead
 * letters read back into @r (how many, or -1).
 */
static int reject_first(const char *src, const char *dlq,
			struct mqdev_share_dlq_info *info, struct reader *r)
{
	struct mqdev_share *s = join(src, dlq, 0, NULL, 0);
	struct mqdev_delivery d;
	int err;

	if (!s)
		return -1;
	err = acquire_one(s, &d, 100) ?: ack(s, &d, MQDEV_SHARE_REJECT);
	if (!err)
		dlq_wait(s, info, 1);
	mqdev_share_free(s);
	return err ? -1 : read_dead(dlq, r, 300);
}

/*
 * A record whose header block does not hold (a count with no room for its
 * headers: the kernel checks only the count's room at append) is still
 * dead-lettered, its value whole, with an error saying why.
 */
TEST_F(dlq, bad_header_block_dead_lettered_raw)
{
	static const char block[] = "\5\0\0\0" "junk";
	struct mqdev_share_dlq_info info;
	struct mqdev_msg msg;
	struct mqdev_produce req = {
		.msgs = (uintptr_t)&msg, .count = 1, .msg_size = sizeof(msg),
	};
	struct reader r;

	mqdev_msg_init(&msg, "k1", 2, block, sizeof(block) - 1, 0);
	msg.flags = MQDEV_MSG_HEADERS;
	ASSERT_EQ(1, ioctl(self->prod, MQDEV_IOC_PRODUCE, &req));
	ASSERT_EQ(1, reject_first(self->src, self->dlq, &info, &r));
	EXPECT_EQ(1, info.written);
	EXPECT_EQ(0, info.full + info.gone + info.failed);
	EXPECT_STREQ("k1", r.d[0].key);
	EXPECT_EQ(0, memcmp(block, r.d[0].value, sizeof(block)));
	EXPECT_STREQ("bad header block", r.d[0].error);
	EXPECT_STREQ(MQDEV_DLQ_REJECTED, r.d[0].reason);
	EXPECT_EQ(msg.offset, r.d[0].offset);
	EXPECT_EQ(8, r.d[0].nr_dlq_headers);
}

/* Released until max_deliveries: a dead letter with the count. */
TEST_F(dlq, max_deliveries_via_releases)
{
	struct mqdev_share_dlq_info info;
	struct mqdev_share_info w;
	struct mqdev_delivery d;
	struct mqdev_share *s;
	struct reader r;
	uint64_t off;
	int i;

	ASSERT_EQ(0, produce_poison(self->prod, &off));
	s = join(self->src, self->dlq, 3, NULL, 0);
	ASSERT_NE(NULL, s);
	for (i = 1; i <= 3; i++) {
		ASSERT_EQ(0, acquire_one(s, &d, 100));
		EXPECT_EQ(i, d.delivery_count);
		ASSERT_EQ(0, ack(s, &d, MQDEV_SHARE_RELEASE));
	}
	EXPECT_EQ(-1, acquire_one(s, &d, 50));
	dlq_wait(s, &info, 1);
	EXPECT_EQ(1, info.written);
	ASSERT_EQ(1, read_dead(self->dlq, &r, 300));
	EXPECT_EQ(3, r.d[0].count);
	EXPECT_EQ(off, r.d[0].offset);
	EXPECT_STREQ(MQDEV_DLQ_MAX_DELIVERIES, r.d[0].reason);
	EXPECT_STREQ("poison", r.d[0].value);
	ASSERT_EQ(0, mqdev_share_describe(mqdev_share_fd(s), "g", 0, &w));
	EXPECT_EQ(1, w.end);
	mqdev_share_free(s);
}

static int group_delete(const char *topic);

/* The source record, still there after its dead letter failed. */
static void source_still_has(struct __test_metadata *_metadata,
			     const char *src, uint64_t off)
{
	struct mqdev_consumer *c;
	const struct mqdev_record *rec;
	uint64_t landed;

	ASSERT_EQ(0, mqdev_consumer_new(src, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_OFFSET, off, 0,
					 &landed));
	EXPECT_EQ(off, landed);
	rec = mqdev_consumer_peek(c);
	ASSERT_NE(NULL, rec);
	EXPECT_EQ(off, rec->offset);
	mqdev_consumer_free(c);
}

/*
 * A topic of 4096 bytes that blocks, filled up and held by @holder: no
 * room for a dead letter.  Its producer's descriptor, or -1.
 */
static int full_topic(struct __test_metadata *_metadata, int fd, char *name,
		      struct mqdev_consumer **holder)
{
	char fill[512] = { 0 };
	int p, err;

	strcpy(name, topic_name("dlqsmall"));
	if (create_topic(fd, name, 1, 4096, 0))
		return -1;
	/* a reader holding the records keeps them: the ring fills up */
	if (mqdev_consumer_new(name, NULL, holder))
		return -1;
	if (mqdev_consumer_seek(*holder, 0, MQDEV_SEEK_EARLIEST, 0,
				MQDEV_SEEK_HOLD, NULL))
		return -1;
	p = attach(name, MQDEV_ATTACH_PRODUCE, NULL);
	if (p < 0 || fcntl(p, F_SETFL, O_NONBLOCK))
		return -1;
	/* big records, then small ones: no room left for a dead letter */
	do
		err = produce_one(p, 0, NULL, 0, fill, sizeof(fill), NULL);
	while (err >= 0);
	EXPECT_EQ(-EAGAIN, err);
	do
		err = produce_one(p, 0, NULL, 0, fill, 8, NULL);
	while (err >= 0);
	EXPECT_EQ(-EAGAIN, err);
	return p;
}

static int on_nothing(void *ctx, const struct mqdev_record *rec)
{
	(void)ctx;
	(void)rec;
	return 0;
}

/*
 * @holder reads all it holds, so the ring may take it back: room again.
 * (With no holder at all a block topic frees nothing: ring.c.)
 */
static int drain(struct mqdev_consumer *holder)
{
	int n, i;

	for (i = 0; i < 3; i++)
		do
			n = mqdev_consumer_poll(holder, 20, 64, on_nothing,
						NULL);
		while (n > 0);
	return n;
}

/* The last dead letter of partition 0 of @topic, and how many there were. */
struct last_dead {
	struct dead d;
	int n;
};

static int on_last_dead(void *ctx, const struct mqdev_record *rec)
{
	struct last_dead *l = ctx;

	if (!(rec->flags & MQDEV_RECORD_DEAD_LETTER))
		return 0;
	l->n++;
	return dead_parse(rec, &l->d);
}

static int read_last_dead(const char *topic, struct last_dead *l)
{
	struct mqdev_consumer *c;
	int err;

	memset(l, 0, sizeof(*l));
	err = mqdev_consumer_new(topic, NULL, &c);
	if (err)
		return err;
	err = mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0, 0, NULL);
	while (!err && (err = mqdev_consumer_poll(c, 100, 16, on_last_dead,
						  l)) > 0)
		err = 0;
	mqdev_consumer_free(c);
	return err < 0 ? err : 0;
}

/*
 * A poison record of the source rejected by group "g", whose dead-letter
 * topic @small is full (full_topic()): the dead letter found no room.
 */
static void reject_into_full(struct __test_metadata *_metadata,
			     FIXTURE_DATA(dlq) *self, char *small,
			     struct mqdev_consumer **holder, int *p,
			     uint64_t *off, struct mqdev_share **s)
{
	struct mqdev_share_dlq_info info;
	struct mqdev_delivery d;

	*s = NULL;
	*p = full_topic(_metadata, self->fd, small, holder);
	ASSERT_LE(0, *p);
	ASSERT_EQ(0, produce_poison(self->prod, off));
	*s = join(self->src, small, 0, NULL, 0);
	ASSERT_NE(NULL, *s);
	ASSERT_EQ(0, acquire_one(*s, &d, 100));
	ASSERT_EQ(0, ack(*s, &d, MQDEV_SHARE_REJECT));
	dlq_wait(*s, &info, 1);
	EXPECT_EQ(1, info.full);
	EXPECT_EQ(0, info.written + info.failed + info.gone);
}

/*
 * No room in a dead-letter topic that blocks: the dead letter is counted
 * full and retried, its record held in the group's window (the window
 * does not pass it); once the topic has room it is written, once, and
 * the window goes on.  Nothing is lost.
 */
TEST_F(dlq, full_dlq_retried_until_room)
{
	char small[MQDEV_NAME_MAX + 1];
	struct mqdev_share_dlq_info info;
	struct mqdev_share_info w;
	struct mqdev_consumer *holder;
	struct last_dead l;
	struct mqdev_share *s;
	uint64_t off;
	int p, i;

	reject_into_full(_metadata, self, small, &holder, &p, &off, &s);
	ASSERT_NE(NULL, s);
	/* a few retries later: still waiting, the window held at it */
	sleep_ms(300);
	ASSERT_EQ(0, mqdev_share_dlq_info(mqdev_share_fd(s), "g", &info));
	EXPECT_EQ(1, info.full);
	EXPECT_EQ(0, info.written + info.failed);
	ASSERT_EQ(0, mqdev_share_describe(mqdev_share_fd(s), "g", 0, &w));
	EXPECT_EQ(off, w.start);
	EXPECT_EQ(1, w.rejected);
	source_still_has(_metadata, self->src, off);

	/* the holder reads on: the ring may take its oldest, the retry goes in */
	ASSERT_LE(0, drain(holder));
	for (i = 0; i < 300; i++) {
		ASSERT_EQ(0, mqdev_share_dlq_info(mqdev_share_fd(s), "g",
						  &info));
		if (info.written)
			break;
		sleep_ms(10);
	}
	EXPECT_EQ(1, info.written);
	EXPECT_EQ(1, info.full);
	EXPECT_EQ(0, info.failed + info.gone);
	ASSERT_EQ(0, mqdev_share_describe(mqdev_share_fd(s), "g", 0, &w));
	EXPECT_EQ(off + 1, w.start);
	ASSERT_EQ(0, read_last_dead(small, &l));
	EXPECT_EQ(1, l.n);
	EXPECT_EQ(off, l.d.offset);
	EXPECT_STREQ("poison", l.d.value);
	EXPECT_STREQ(MQDEV_DLQ_REJECTED, l.d.reason);
	mqdev_share_free(s);
	mqdev_consumer_free(holder);
	close(p);
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, small));
}

/*
 * A dead letter waiting for room whose record the source ring reclaimed
 * meanwhile (an overwrite topic: its group does not hold it) can never be
 * written: counted failed at the next try, not retried on as "no memory"
 * (mqdev_record_copy()'s -ENODATA), nor written from a later record.
 */
TEST_F(dlq, reclaimed_record_failed_not_retried)
{
	char small[MQDEV_NAME_MAX + 1], src[MQDEV_NAME_MAX + 1];
	struct mqdev_share_dlq_info info;
	struct mqdev_consumer *holder;
	struct mqdev_delivery d;
	struct mqdev_share *s;
	char fill[256] = { 0 };
	uint64_t off;
	int p, prod, i;

	p = full_topic(_metadata, self->fd, small, &holder);
	ASSERT_LE(0, p);
	strcpy(src, topic_name("dlqow"));
	ASSERT_EQ(0, create_topic(self->fd, src, 1, 4096,
				  MQDEV_TOPIC_OVERWRITE));
	prod = attach(src, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, prod);
	ASSERT_EQ(0, produce_poison(prod, &off));
	s = join(src, small, 0, NULL, 0);
	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, acquire_one(s, &d, 100));
	ASSERT_EQ(0, ack(s, &d, MQDEV_SHARE_REJECT));
	dlq_wait(s, &info, 1);
	EXPECT_EQ(1, info.full);
	/* the source laps the poison record: its ring has it no more */
	for (i = 0; i < 64; i++)
		ASSERT_LE(0, produce_one(prod, 0, NULL, 0, fill, sizeof(fill),
					 NULL));
	ASSERT_LE(0, drain(holder));
	for (i = 0; i < 300; i++) {
		ASSERT_EQ(0, mqdev_share_dlq_info(mqdev_share_fd(s), "g",
						  &info));
		if (info.written + info.failed + info.gone)
			break;
		sleep_ms(10);
	}
	EXPECT_EQ(1, info.failed);
	EXPECT_EQ(1, info.full);
	EXPECT_EQ(0, info.written + info.gone);
	mqdev_share_free(s);
	mqdev_consumer_free(holder);
	close(p);
	close(prod);
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, small));
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, src));
}

/*
 * Retries last until the group goes, no longer: deleting a group whose
 * dead letter waits for room returns at once (the deleter does not wait
 * for room), and the dead-letter topic's room is not taken after.
 */
TEST_F(dlq, full_dlq_retries_end_with_group)
{
	char small[MQDEV_NAME_MAX + 1];
	struct mqdev_consumer *holder;
	struct mqdev_share *s;
	struct last_dead l;
	uint64_t off, t0;
	int p;

	reject_into_full(_metadata, self, small, &holder, &p, &off, &s);
	ASSERT_NE(NULL, s);
	mqdev_share_free(s);
	t0 = mono_ms();
	EXPECT_EQ(0, group_delete(self->src));
	EXPECT_GT(1000, mono_ms() - t0);
	/* room now: a retry left over would write the dead letter */
	ASSERT_LE(0, drain(holder));
	sleep_ms(1200);		/* past the longest back-off */
	ASSERT_EQ(0, read_last_dead(small, &l));
	EXPECT_EQ(0, l.n);
	mqdev_consumer_free(holder);
	close(p);
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, small));
}

/* A dead-letter topic deleted after the join: counted as gone. */
TEST_F(dlq, deleted_dlq_counted_source_kept)
{
	struct mqdev_share_dlq_info info;
	struct mqdev_delivery d;
	struct mqdev_share *s;
	uint64_t off;

	ASSERT_EQ(0, produce_poison(self->prod, &off));
	s = join(self->src, self->dlq, 0, NULL, 0);
	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, mqdev_topic_delete(self->fd, self->dlq));
	ASSERT_EQ(0, acquire_one(s, &d, 100));
	ASSERT_EQ(0, ack(s, &d, MQDEV_SHARE_REJECT));
	dlq_wait(s, &info, 1);
	EXPECT_EQ(1, info.gone);
	EXPECT_EQ(0, info.written);
	source_still_has(_metadata, self->src, off);
	mqdev_share_free(s);
}

/* A release with no back-off waits the schedule's level, by count. */
TEST_F(dlq, backoff_schedule_applied)
{
	static const uint32_t sched[] = { 300, 600 };
	static const uint32_t want[] = { 300, 600, 600 };
	struct mqdev_share_dlq_info info;
	struct mqdev_delivery d;
	struct mqdev_share *s;
	uint64_t off, t0, waited;
	int i;

	ASSERT_EQ(0, produce_poison(self->prod, &off));
	s = join(self->src, NULL, 10, sched, 2);
	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, mqdev_share_dlq_info(mqdev_share_fd(s), "g", &info));
	EXPECT_EQ(2, info.nr_backoff);
	EXPECT_EQ(600, info.backoff_ms[1]);
	EXPECT_STREQ("", info.topic);
	ASSERT_EQ(0, acquire_one(s, &d, 100));
	for (i = 0; i < 3; i++) {
		/* before the kernel's clock is read: waited is not short */
		t0 = mono_ms();
		ASSERT_EQ(0, ack(s, &d, MQDEV_SHARE_RELEASE));
		ASSERT_EQ(0, acquire_one(s, &d, 3000));
		waited = mono_ms() - t0;
		EXPECT_LE(want[i], waited);
		/* the VM is slow: a generous tolerance above */
		EXPECT_GT(want[i] + 400, waited);
		EXPECT_EQ(i + 2, d.delivery_count);
	}
	/* an explicit back-off still wins: 0 is "the schedule", 50 is 50 */
	ASSERT_EQ(0, mqdev_share_ack(s, 0, d.offset, d.offset + 1,
				     MQDEV_SHARE_RELEASE,
				     &(struct mqdev_share_ack_opts){
					.sz = sizeof(struct mqdev_share_ack_opts),
					.backoff_ms = 50 }));
	t0 = mono_ms();
	ASSERT_EQ(0, acquire_one(s, &d, 3000));
	EXPECT_GT(300, mono_ms() - t0);
	/* MQDEV_SHARE_ACK_NOW: at once, whatever the schedule; not with others */
	EXPECT_EQ(-EINVAL, mqdev_share_ack(s, 0, d.offset, d.offset + 1,
					   MQDEV_SHARE_ACCEPT,
					   &(struct mqdev_share_ack_opts){
					.sz = sizeof(struct mqdev_share_ack_opts),
					.flags = MQDEV_SHARE_ACK_NOW }));
	EXPECT_EQ(-EINVAL, mqdev_share_ack(s, 0, d.offset, d.offset + 1,
					   MQDEV_SHARE_RELEASE,
					   &(struct mqdev_share_ack_opts){
					.sz = sizeof(struct mqdev_share_ack_opts),
					.backoff_ms = 50, .flags = 2 }));
	ASSERT_EQ(0, mqdev_share_ack(s, 0, d.offset, d.offset + 1,
				     MQDEV_SHARE_RELEASE,
				     &(struct mqdev_share_ack_opts){
					.sz = sizeof(struct mqdev_share_ack_opts),
					.flags = MQDEV_SHARE_ACK_NOW }));
	t0 = mono_ms();
	ASSERT_EQ(0, acquire_one(s, &d, 3000));
	EXPECT_GT(200, mono_ms() - t0);
	mqdev_share_free(s);
}

struct bad_join {
	const char *topic;
	struct mqdev_share_dlq req;
	uint64_t reserved;
};

/* Join group "g" of @topic with @req: -errno. */
static int join_raw(const char *topic, const struct mqdev_share_dlq *req,
		    uint64_t reserved)
{
	struct mqdev_share_join jn = {
		.reset = MQDEV_SEEK_EARLIEST, .dlq = (uintptr_t)req,
		.reserved = reserved,
	};
	int fd, err;

	fd = attach(topic, MQDEV_ATTACH_CONSUME, NULL);
	if (fd < 0)
		return fd;
	mqdev_name_set(jn.group, "g");
	err = xioctl(fd, MQDEV_IOC_SHARE_JOIN, &jn);
	close(fd);
	return err;
}

static int join_raw_as(void *arg)
{
	const struct bad_join *b = arg;

	return -join_raw(b->topic, &b->req, b->reserved);
}

/* Nothing made: no group of the name on @topic. */
static int no_group(const char *topic)
{
	struct mqdev_share_info info;
	int fd = attach(topic, MQDEV_ATTACH_CONSUME, NULL), err;

	err = mqdev_share_describe(fd, "g", 0, &info);
	close(fd);
	return err == -ENOENT;
}

TEST_F(dlq, bad_settings_refused_nothing_made)
{
	char sw[MQDEV_NAME_MAX + 1];
	struct bad_join b = { .topic = self->src,
			      .req.size = sizeof(struct mqdev_share_dlq) };

	strcpy(sw, topic_name("dlqsw"));
	ASSERT_EQ(0, create_topic(self->fd, sw, 1, 1 << 16,
				  MQDEV_TOPIC_SINGLE_WRITER));

	mqdev_name_set(b.req.topic, self->src);		/* its own topic */
	EXPECT_EQ(-EINVAL, join_raw(self->src, &b.req, 0));
	mqdev_name_set(b.req.topic, "no-such-dlq");
	EXPECT_EQ(-ENOENT, join_raw(self->src, &b.req, 0));
	mqdev_name_set(b.req.topic, sw);
	EXPECT_EQ(-EOPNOTSUPP, join_raw(self->src, &b.req, 0));
	/* 0644, root's: another user may read the source, not write the DLQ */
	mqdev_name_set(b.req.topic, self->dlq);
	EXPECT_EQ(EACCES, as_user(OTHER_UID, join_raw_as, &b));
	b.req.flags = MQDEV_SHARE_DLQ_FLAGS << 1;	/* unknown */
	EXPECT_EQ(-EINVAL, join_raw(self->src, &b.req, 0));
	b.req.flags = MQDEV_SHARE_DLQ_EXPIRED;		/* and no topic */
	memset(b.req.topic, 0, sizeof(b.req.topic));
	EXPECT_EQ(-EINVAL, join_raw(self->src, &b.req, 0));
	mqdev_name_set(b.req.topic, self->dlq);
	b.req.flags = 0;
	b.req.reserved = 1;
	EXPECT_EQ(-EINVAL, join_raw(self->src, &b.req, 0));
	b.req.reserved = 0;
	EXPECT_EQ(-EINVAL, join_raw(self->src, &b.req, 1));
	b.req.nr_backoff = MQDEV_SHARE_BACKOFF_LEVELS + 1;
	EXPECT_EQ(-EINVAL, join_raw(self->src, &b.req, 0));
	b.req.nr_backoff = 1;				/* a level of 0 */
	EXPECT_EQ(-EINVAL, join_raw(self->src, &b.req, 0));
	b.req.backoff_ms[0] = MQDEV_SHARE_MAX_BACKOFF_MS + 1;
	EXPECT_EQ(-EINVAL, join_raw(self->src, &b.req, 0));
	b.req.backoff_ms[0] = 10;
	b.req.backoff_ms[1] = 10;			/* past nr_backoff */
	EXPECT_EQ(-EINVAL, join_raw(self->src, &b.req, 0));
	EXPECT_EQ(-EFAULT, join_raw(self->src, (void *)8, 0));
	EXPECT_TRUE(no_group(self->src));

	/* and good ones are taken */
	b.req.backoff_ms[1] = 0;
	EXPECT_EQ(0, join_raw(self->src, &b.req, 0));
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, sw));
}

/* Produce @value (@len bytes) with @flags to partition 0; its offset. */
static int produce_flags(int prod, const void *value, uint32_t len,
			 uint32_t flags, uint64_t *offset)
{
	struct mqdev_msg msg;
	struct mqdev_produce req = {
		.msgs = (uintptr_t)&msg, .count = 1, .msg_size = sizeof(msg),
	};

	mqdev_msg_init(&msg, NULL, 0, value, len, 0);
	msg.flags = flags;
	if (ioctl(prod, MQDEV_IOC_PRODUCE, &req) != 1)
		return -errno;
	*offset = msg.offset;
	return 0;
}

struct flags_seen {
	uint32_t flags[2];
	const void *value[2];
	uint32_t len[2];
	char text[2][8];
	int n;
};

static int on_flags(void *ctx, const struct mqdev_record *rec)
{
	struct flags_seen *f = ctx;

	if (f->n >= 2)
		return -E2BIG;
	f->flags[f->n] = rec->flags;
	if (mqdev_record_payload(rec, &f->value[f->n], &f->len[f->n]))
		return -EBADMSG;
	if (f->value[f->n] && f->len[f->n] < sizeof(f->text[0]))
		memcpy(f->text[f->n], f->value[f->n], f->len[f->n]);
	f->n++;
	return 0;
}

/* Partition 0 of @topic from its start into @f: 0, or -errno. */
static int read_flags(const char *topic, struct flags_seen *f)
{
	struct mqdev_consumer *c;
	int err;

	err = mqdev_consumer_new(topic, NULL, &c);
	if (err)
		return err;
	err = mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0, 0, NULL);
	while (!err && mqdev_consumer_poll(c, 100, 4, on_flags, f) > 0)
		;
	mqdev_consumer_free(c);
	return err;
}

/*
 * A null key and a null value stay null in the dead letter; an expiry is
 * not kept (the value proper is what follows it).
 */
TEST_F(dlq, null_kept_expiry_dropped)
{
	struct mqdev_share_dlq_info info;
	struct mqdev_delivery d;
	struct flags_seen f = { 0 };
	struct mqdev_share *s;
	char exp[8 + 3];
	uint64_t off, far = UINT64_MAX / 2;
	int i;

	ASSERT_EQ(0, produce_flags(self->prod, NULL, 0, MQDEV_MSG_NULL_KEY |
				   MQDEV_MSG_NULL_VALUE, &off));
	memcpy(exp, &far, 8);
	memcpy(exp + 8, "ttl", 3);
	ASSERT_EQ(0, produce_flags(self->prod, exp, sizeof(exp),
				   MQDEV_MSG_EXPIRES, &off));
	s = join(self->src, self->dlq, 0, NULL, 0);
	ASSERT_NE(NULL, s);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, acquire_one(s, &d, 100));
		ASSERT_EQ(0, ack(s, &d, MQDEV_SHARE_REJECT));
	}
	dlq_wait(s, &info, 2);
	EXPECT_EQ(2, info.written);
	ASSERT_EQ(0, read_flags(self->dlq, &f));
	ASSERT_EQ(2, f.n);
	EXPECT_EQ(MQDEV_RECORD_HEADERS | MQDEV_RECORD_DEAD_LETTER |
		  MQDEV_RECORD_NULL_KEY | MQDEV_RECORD_NULL_VALUE, f.flags[0]);
	EXPECT_EQ(NULL, f.value[0]);
	EXPECT_EQ(MQDEV_RECORD_HEADERS | MQDEV_RECORD_DEAD_LETTER, f.flags[1]);
	EXPECT_STREQ("ttl", f.text[1]);
	mqdev_share_free(s);
}

/* Join "g" of @topic with dead-letter @flags: 0 or -errno, in @s. */
static int join_flags(const char *topic, const char *dlq, uint32_t flags,
		      uint32_t max_deliveries, struct mqdev_share **s)
{
	LIBMQDEV_OPTS(mqdev_share_opts, opts, .lock_ms = 10000,
		      .max_deliveries = max_deliveries,
		      .reset = MQDEV_SEEK_EARLIEST, .dlq_topic = dlq,
		      .dlq_flags = flags);

	return mqdev_share_new(topic, "g", &opts, s);
}

/*
 * A later member's settings must be the group's (EEXIST, as for a
 * consumer group's name): passing none joins with the group's, passing
 * the same joins, passing others is refused, not silently ignored.
 */
TEST_F(dlq, later_member_other_settings_refused)
{
	static const uint32_t mine[] = { 100 }, theirs[] = { 200, 300 };
	struct mqdev_share_join jn = { .reset = MQDEV_SEEK_EARLIEST };
	struct mqdev_share_dlq_info info;
	struct mqdev_share *a, *b, *c;
	struct mqdev_share_dlq bad = { .size = sizeof(bad), .nr_backoff = 99 };
	int fd;

	a = join(self->src, self->dlq, 0, mine, 1);
	ASSERT_NE(NULL, a);
	/* none: the group's */
	b = join(self->src, NULL, 0, NULL, 0);
	ASSERT_NE(NULL, b);
	ASSERT_EQ(0, mqdev_share_dlq_info(mqdev_share_fd(b), "g", &info));
	EXPECT_STREQ(self->dlq, info.topic);
	EXPECT_EQ(1, info.nr_backoff);
	EXPECT_EQ(100, info.backoff_ms[0]);
	EXPECT_EQ(0, info.flags);
	/* the same: joins */
	c = join(self->src, self->dlq, 0, mine, 1);
	ASSERT_NE(NULL, c);
	mqdev_share_free(c);
	/* another schedule, topic, flag, max_deliveries, lock: refused */
	EXPECT_EQ(NULL, join(self->src, self->dlq, 0, theirs, 2));
	EXPECT_EQ(NULL, join(self->src, NULL, 0, mine, 1));
	EXPECT_EQ(-EEXIST, join_flags(self->src, self->dlq, 0, 0, &c));
	EXPECT_EQ(-EEXIST, join_flags(self->src, self->dlq,
				      MQDEV_SHARE_DLQ_EXPIRED, 0, &c));
	EXPECT_EQ(-EEXIST, join_flags(self->src, NULL, 0, 7, &c));
	fd = attach(self->src, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, fd);
	mqdev_name_set(jn.group, "g");
	jn.lock_ms = 20000;
	EXPECT_EQ(-EEXIST, xioctl(fd, MQDEV_IOC_SHARE_JOIN, &jn));
	jn.lock_ms = 10000;		/* the group's */
	EXPECT_EQ(0, xioctl(fd, MQDEV_IOC_SHARE_JOIN, &jn));
	close(fd);
	/* a bad one is still a bad request */
	EXPECT_EQ(-EINVAL, join_raw(self->src, &bad, 0));
	mqdev_share_free(b);
	mqdev_share_free(a);
}

/* Real time in ns: a record's expiry is in CLOCK_REALTIME. */
static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* A record of @text that expires @ms from now. */
static int produce_expiring(int prod, const char *text, uint64_t ms)
{
	char v[8 + 16];
	uint64_t at = real_ns() + ms * 1000000, off;
	size_t n = strlen(text);

	memcpy(v, &at, 8);
	memcpy(v + 8, text, n);
	return produce_flags(prod, v, 8 + n, MQDEV_MSG_EXPIRES, &off);
}

/* The source topic's expired count (MQDEV_IOC_SCHED_LIST's). */
static uint64_t expired_count(const char *topic)
{
	struct mqdev_sched_info e;
	struct mqdev_sched_list l = {
		.entries = (uintptr_t)&e, .count = 1, .entry_size = sizeof(e),
	};

	return mqdev_scheduled_list(topic, &l) ? UINT64_MAX : l.expired;
}

/*
 * Records that expire before a member takes them: one by its own expiry,
 * one by the topic's TTL before it entered the window, one by the TTL
 * while released.  With @flags MQDEV_SHARE_DLQ_EXPIRED each is in the
 * dead-letter topic once, reason expired; without, none is.  Both ways
 * each is counted, never delivered, and the live record is.
 */
static void expire_three(struct __test_metadata *_metadata,
			 FIXTURE_DATA(dlq) *self, uint32_t flags)
{
	struct mqdev_share_dlq_info info;
	struct mqdev_share_info w;
	struct mqdev_delivery d[4];
	struct mqdev_share *s;
	struct reader r;
	uint64_t before = expired_count(self->src);
	uint32_t v = 1;

	ASSERT_EQ(0, produce_expiring(self->prod, "exp0", 30));	/* 0 */
	ASSERT_EQ(0, produce_one(self->prod, 0, NULL, 0, &v, sizeof(v),
				 NULL));				/* 1 */
	sleep_ms(60);
	ASSERT_EQ(0, join_flags(self->src, self->dlq, flags, 0, &s));
	ASSERT_EQ(1, mqdev_share_acquire(s, 0, d, 1));
	EXPECT_EQ(1, d[0].offset);
	ASSERT_EQ(0, mqdev_share_ack(s, 0, 1, 2, MQDEV_SHARE_ACCEPT, NULL));
	ASSERT_EQ(0, produce_one(self->prod, 0, NULL, 0, &v, sizeof(v),
				 NULL));				/* 2 */
	ASSERT_EQ(1, mqdev_share_acquire(s, 0, d, 1));
	EXPECT_EQ(2, d[0].offset);
	ASSERT_EQ(0, mqdev_share_ack(s, 0, 2, 3, MQDEV_SHARE_RELEASE, NULL));
	ASSERT_EQ(0, produce_one(self->prod, 0, NULL, 0, &v, sizeof(v),
				 NULL));				/* 3 */
	ASSERT_EQ(0, mqdev_topic_set_ttl(self->fd, self->src, 1000000));
	sleep_ms(20);
	EXPECT_EQ(0, mqdev_share_acquire(s, 0, d, 4))
		TH_LOG("an expired record was delivered");
	ASSERT_EQ(0, mqdev_share_describe(mqdev_share_fd(s), "g", 0, &w));
	EXPECT_EQ(3, w.rejected_total);
	EXPECT_EQ(3, expired_count(self->src) - before);
	if (!flags) {
		ASSERT_EQ(0, mqdev_share_dlq_info(mqdev_share_fd(s), "g",
						  &info));
		EXPECT_EQ(0, info.written + info.full + info.failed);
		EXPECT_EQ(4, w.start);
		EXPECT_EQ(0, read_dead(self->dlq, &r, 200));
		mqdev_share_free(s);
		return;
	}
	dlq_wait(s, &info, 3);
	EXPECT_EQ(3, info.written);
	EXPECT_EQ(0, info.full + info.failed + info.gone);
	EXPECT_EQ(MQDEV_SHARE_DLQ_EXPIRED, info.flags);
	ASSERT_EQ(0, mqdev_share_describe(mqdev_share_fd(s), "g", 0, &w));
	EXPECT_EQ(4, w.start);
	/* once each: a second look, later, finds three still */
	sleep_ms(100);
	ASSERT_EQ(3, read_dead(self->dlq, &r, 300));
	EXPECT_EQ(0, r.d[0].offset);
	EXPECT_EQ(0, r.d[0].count);
	EXPECT_STREQ("exp0", r.d[0].value);
	EXPECT_EQ(2, r.d[1].offset);
	EXPECT_EQ(1, r.d[1].count);
	EXPECT_EQ(3, r.d[2].offset);
	EXPECT_EQ(0, r.d[2].count);
	for (v = 0; v < 3; v++) {
		EXPECT_STREQ(MQDEV_DLQ_EXPIRED, r.d[v].reason);
		EXPECT_STREQ(self->src, r.d[v].topic);
		EXPECT_STREQ("g", r.d[v].group);
		EXPECT_EQ(7, r.d[v].nr_dlq_headers);
	}
	mqdev_share_free(s);
}

TEST_F(dlq, expired_dead_lettered_with_flag)
{
	/* Bit 13 is MQDEV_FEAT_RECONSUME's: the two merged apart. */
	EXPECT_EQ(1ULL << 14, MQDEV_FEAT_SHARE_DLQ_EXPIRED);
	EXPECT_TRUE(mqdev_features(self->fd) & MQDEV_FEAT_SHARE_DLQ_EXPIRED);
	expire_three(_metadata, self, MQDEV_SHARE_DLQ_EXPIRED);
}

TEST_F(dlq, expired_only_counted_without_flag)
{
	expire_three(_metadata, self, 0);
}

/*
 * Only the kernel sets MQDEV_RECORD_DEAD_LETTER: a producer that does gets
 * EINVAL.  A record that carries mqdev.dlq.* headers of its own (forged)
 * is dead-lettered with the kernel's seven only, and the flag.
 */
TEST_F(dlq, dead_letter_flag_kernel_only)
{
	static const char block[] = "\2\0\0\0"
		"\17\0\0\0" "\7\0\0\0" "mqdev.dlq.topic" "payment"
		"\5\0\0\0" "\3\0\0\0" "trace" "abc" "v";
	struct mqdev_share_dlq_info info;
	struct flags_seen f = { 0 };
	struct reader r;
	uint64_t off;

	EXPECT_EQ(-EINVAL, produce_flags(self->prod, "x", 1,
					 MQDEV_RECORD_DEAD_LETTER, &off));
	EXPECT_EQ(-EINVAL, produce_flags(self->prod, block, sizeof(block) - 1,
					 MQDEV_MSG_HEADERS |
					 MQDEV_RECORD_DEAD_LETTER, &off));
	ASSERT_EQ(0, produce_flags(self->prod, block, sizeof(block) - 1,
				   MQDEV_MSG_HEADERS, &off));
	ASSERT_EQ(0, off);
	ASSERT_EQ(1, reject_first(self->src, self->dlq, &info, &r));
	EXPECT_EQ(1, info.written);
	EXPECT_STREQ(self->src, r.d[0].topic);
	EXPECT_STREQ("abc", r.d[0].trace);
	EXPECT_STREQ("v", r.d[0].value);
	EXPECT_EQ(7, r.d[0].nr_dlq_headers);
	EXPECT_EQ(8, r.d[0].nr_headers);
	ASSERT_EQ(0, read_flags(self->dlq, &f));
	ASSERT_EQ(1, f.n);
	EXPECT_EQ(MQDEV_RECORD_HEADERS | MQDEV_RECORD_DEAD_LETTER, f.flags[0]);
}

/* RocketMQ's 18 default delay levels, 1 s to 2 h, are taken whole. */
TEST_F(dlq, rocketmq_schedule_taken)
{
	static const uint32_t levels[] = {
		1000, 5000, 10000, 30000, 60000, 120000, 180000, 240000,
		300000, 360000, 420000, 480000, 540000, 600000, 1200000,
		1800000, 3600000, 7200000,
	};
	struct mqdev_share_dlq_info info;
	struct mqdev_share *s;

	ASSERT_EQ(MQDEV_SHARE_BACKOFF_LEVELS, ARRAY_SIZE(levels));
	EXPECT_LE(24 * 3600 * 1000U, MQDEV_SHARE_MAX_BACKOFF_MS);
	s = join(self->src, self->dlq, 0, levels, ARRAY_SIZE(levels));
	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, mqdev_share_dlq_info(mqdev_share_fd(s), "g", &info));
	EXPECT_EQ(18, info.nr_backoff);
	EXPECT_EQ(1000, info.backoff_ms[0]);
	EXPECT_EQ(7200000, info.backoff_ms[17]);
	mqdev_share_free(s);
}

/* struct mqdev_share_dlq is extensible by its size, as openat2's how is. */
TEST_F(dlq, dlq_struct_by_size)
{
	struct {
		struct mqdev_share_dlq req;
		uint64_t more;
	} big = { .req.size = sizeof(big) };
	struct mqdev_share_dlq req = { .size = MQDEV_SHARE_DLQ_SIZE_VER0 };

	EXPECT_EQ(168, sizeof(struct mqdev_share_dlq));
	mqdev_name_set(req.topic, self->dlq);
	mqdev_name_set(big.req.topic, self->dlq);
	req.size = 0;
	EXPECT_EQ(-EINVAL, join_raw(self->src, &req, 0));
	req.size = MQDEV_SHARE_DLQ_SIZE_VER0 - 8;
	EXPECT_EQ(-EINVAL, join_raw(self->src, &req, 0));
	req.pad = 1;
	req.size = sizeof(req);
	EXPECT_EQ(-EINVAL, join_raw(self->src, &req, 0));
	req.backoff_ms[0] = MQDEV_SHARE_MAX_BACKOFF_MS + 1;
	req.pad = 0;
	req.nr_backoff = 1;
	EXPECT_EQ(-EINVAL, join_raw(self->src, &req, 0));
	big.more = 1;
	EXPECT_EQ(-E2BIG, join_raw(self->src, &big.req, 0));
	EXPECT_TRUE(no_group(self->src));
	big.more = 0;
	EXPECT_EQ(0, join_raw(self->src, &big.req, 0));
}

/*
 * A holding group keeps a rejected record in its ring until its dead
 * letter is written: a producer that needs its room at once waits for it
 * (EAGAIN here, nonblocking), and no dead letter is lost to the reclaim.
 */
TEST_F(dlq, held_until_written)
{
	static char big[8192 - sizeof(struct mqdev_record)];
	char held[MQDEV_NAME_MAX + 1], v[300] = { 0 };
	struct mqdev_share_dlq_info info;
	struct mqdev_delivery d[64];
	struct mqdev_share *s;
	int p, n, err, tries, i;

	strcpy(held, topic_name("dlqheld"));
	ASSERT_EQ(0, create_topic(self->fd, held, 1, 16384, 0));
	s = join(held, self->dlq, 0, NULL, 0);
	ASSERT_NE(NULL, s);
	p = attach(held, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, p);
	ASSERT_EQ(0, fcntl(p, F_SETFL, O_NONBLOCK));
	/* the group holds every record: the ring fills up */
	for (n = 0; produce_one(p, 0, NULL, 0, v, sizeof(v), NULL) >= 0; n++)
		;
	ASSERT_LT(20, n);
	ASSERT_GE(64, n);
	ASSERT_EQ(n, mqdev_share_acquire(s, 0, d, 64));
	ASSERT_EQ(0, mqdev_share_ack(s, 0, d[0].offset, d[n - 1].offset + 1,
				     MQDEV_SHARE_REJECT, NULL));
	/* half the ring at once, as soon as it may be had */
	for (tries = 0; tries < 1000; tries++) {
		err = produce_one(p, 0, NULL, 0, big, sizeof(big), NULL);
		if (err != -EAGAIN)
			break;
		sleep_ms(1);
	}
	EXPECT_EQ(0, err);
	for (i = 0; i < 100; i++) {
		ASSERT_EQ(0, mqdev_share_dlq_info(mqdev_share_fd(s), "g",
						  &info));
		if (info.written + info.failed >= (uint64_t)n)
			break;
		sleep_ms(10);
	}
	EXPECT_EQ(n, info.written);
	EXPECT_EQ(0, info.failed);
	close(p);
	mqdev_share_free(s);
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, held));
}

/*
 * More rejected in one call than the work's queue holds (256): every one
 * still gets its dead letter, none counted as failed.
 */
TEST_F(dlq, many_rejected_at_once)
{
	struct mqdev_share_dlq_info info;
	struct mqdev_delivery d[64];
	struct mqdev_share *s;
	struct reader r;
	int n = 0, got, i;

	for (i = 0; i < 300; i++)
		ASSERT_EQ(0, produce_one(self->prod, 0, NULL, 0, &i, sizeof(i),
					 NULL));
	s = join(self->src, self->dlq, 0, NULL, 0);
	ASSERT_NE(NULL, s);
	while (n < 300) {
		got = mqdev_share_acquire(s, 0, d, 64);
		ASSERT_LT(0, got);
		n += got;
	}
	ASSERT_EQ(0, mqdev_share_ack(s, 0, 0, 300, MQDEV_SHARE_REJECT, NULL));
	for (i = 0; i < 300; i++) {
		ASSERT_EQ(0, mqdev_share_dlq_info(mqdev_share_fd(s), "g",
						  &info));
		if (info.written + info.failed >= 300)
			break;
		sleep_ms(10);
	}
	EXPECT_EQ(300, info.written);
	EXPECT_EQ(0, info.failed);
	EXPECT_EQ(300, read_dead(self->dlq, &r, 300));
	mqdev_share_free(s);
}

/* Make a topic as USER_UID and delete it: 0, or the errno (EDQUOT). */
static int user_topic_room(int fd)
{
	char name[MQDEV_NAME_MAX + 1];
	struct topic_try tt = { name, 1, 4096 };
	int err;

	strcpy(name, topic_name("dlqprobe"));
	err = as_user(USER_UID, create_topic_as, &tt);
	if (!err)
		mqdev_topic_delete(fd, name);
	return err;
}

/* A topic of @size bytes made by USER_UID, named in @name: 0 or errno. */
static int user_topic(char *name, const char *test, uint64_t size)
{
	struct topic_try tt = { name, 1, size };

	strcpy(name, topic_name(test));
	return as_user(USER_UID, create_topic_as, &tt);
}

/* netlink GROUP_DELETE of share group "g" of @topic: 0 or -errno. */
static int group_delete(const char *topic)
{
	struct mqdev_nl *nl;
	int err;

	if (mqdev_nl_open(&nl))
		return -ENOTCONN;
	err = mqdev_group_delete(nl, "g", topic, false);
	mqdev_nl_close(nl);
	return err;
}

/* A share group "g" of @topic, made and left: it stays, memberless. */
static int memberless_group(const char *topic, const char *dlq)
{
	struct mqdev_share *s = join(topic, dlq, 0, NULL, 0);

	if (!s)
		return -1;
	mqdev_share_free(s);
	return 0;
}

/*
 * A group outlives its members, and its dead-letter settings with it: the
 * record its last member leaves past max_deliveries is dead-lettered with
 * no member left, and the info call still answers.  Deleting its
 * dead-letter topic gives that topic's charge back at once (the group lets
 * go of it); GROUP_DELETE then ends the group.
 */
TEST_F(dlq, memberless_group_dead_letters_until_deleted)
{
	char *d = self->user[0];
	struct mqdev_share_dlq_info info;
	struct mqdev_share_info w;
	struct mqdev_delivery dv;
	struct mqdev_share *s;
	struct reader r;
	uint64_t off;
	int fd, i;

	ASSERT_EQ(0, set_param("max_user_topics", 1));
	ASSERT_EQ(0, user_topic(d, "dlquser", 1 << 16));
	EXPECT_EQ(EDQUOT, user_topic_room(self->fd));
	ASSERT_EQ(0, produce_poison(self->prod, &off));
	/* each member takes the record and leaves without a word */
	for (i = 1; i <= 2; i++) {
		s = join(self->src, d, 2, NULL, 0);
		ASSERT_NE(NULL, s);
		ASSERT_EQ(0, acquire_one(s, &dv, 100));
		EXPECT_EQ(i, dv.delivery_count);
		mqdev_share_free(s);
	}
	fd = attach(self->src, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, fd);
	for (i = 0; i < 100; i++) {
		ASSERT_EQ(0, mqdev_share_dlq_info(fd, "g", &info));
		if (info.written + info.full + info.gone + info.failed)
			break;
		sleep_ms(10);
	}
	EXPECT_EQ(1, info.written);
	EXPECT_STREQ(d, info.topic);
	ASSERT_EQ(0, mqdev_share_describe(fd, "g", 0, &w));
	EXPECT_EQ(0, w.members);
	EXPECT_EQ(1, w.rejected_total);
	ASSERT_EQ(1, read_dead(d, &r, 300));
	EXPECT_EQ(off, r.d[0].offset);
	EXPECT_EQ(2, r.d[0].count);
	EXPECT_STREQ(MQDEV_DLQ_MAX_DELIVERIES, r.d[0].reason);

	/*
	 * Deleted, the dead-letter topic goes from the group at once: its
	 * charge comes back while the group stays, and the group's later
	 * dead letters are counted gone.
	 */
	ASSERT_EQ(0, mqdev_topic_delete(self->fd, d));
	EXPECT_EQ(0, user_topic_room(self->fd))
		TH_LOG("a memberless group pins its deleted dead-letter topic");
	ASSERT_EQ(0, mqdev_share_dlq_info(fd, "g", &info));
	EXPECT_STREQ("", info.topic);
	ASSERT_EQ(0, produce_poison(self->prod, &off));
	for (i = 1; i <= 2; i++) {
		s = join(self->src, NULL, 2, NULL, 0);
		ASSERT_NE(NULL, s);
		ASSERT_EQ(0, acquire_one(s, &dv, 100));
		EXPECT_EQ(off, dv.offset);
		mqdev_share_free(s);
	}
	for (i = 0; i < 100; i++) {
		ASSERT_EQ(0, mqdev_share_dlq_info(fd, "g", &info));
		if (info.gone)
			break;
		sleep_ms(10);
	}
	EXPECT_EQ(1, info.written);
	EXPECT_EQ(1, info.gone);
	EXPECT_EQ(0, group_delete(self->src));
	EXPECT_EQ(-ENOENT, mqdev_share_dlq_info(fd, "g", &info));
	EXPECT_EQ(0, user_topic_room(self->fd));
	close(fd);
}

/*
 * The source topic deleted while dead letters are pending (300 rejected
 * at once: more than the work's queue), a member still attached: the
 * deletion writes every dead letter, then the group lets go of its
 * dead-letter topic at once, not at the member's close; the member is
 * told EIDRM, and a join on the deleted topic is refused.
 */
TEST_F(dlq, topic_deleted_with_dead_letters_pending)
{
	struct mqdev_share_join jn = { .reset = MQDEV_SEEK_EARLIEST };
	char *d = self->user[0];
	struct mqdev_delivery dv[64];
	struct mqdev_share *s;
	struct reader r;
	int n = 0, got, fd, i;

	ASSERT_EQ(0, set_param("max_user_topics", 1));
	ASSERT_EQ(0, user_topic(d, "dlqpend", 1 << 20));
	for (i = 0; i < 300; i++)
		ASSERT_EQ(0, produce_one(self->prod, 0, NULL, 0, &i, sizeof(i),
					 NULL));
	s = join(self->src, d, 0, NULL, 0);
	ASSERT_NE(NULL, s);
	fd = attach(self->src, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, fd);
	while (n < 300) {
		got = mqdev_share_acquire(s, 0, dv, 64);
		ASSERT_LT(0, got);
		n += got;
	}
	ASSERT_EQ(0, mqdev_share_ack(s, 0, 0, 300, MQDEV_SHARE_REJECT, NULL));
	ASSERT_EQ(0, mqdev_topic_delete(self->fd, self->src));

	EXPECT_EQ(-EIDRM, mqdev_share_acquire(s, 0, dv, 1));
	mqdev_name_set(jn.group, "g2");
	EXPECT_EQ(-EIDRM, xioctl(fd, MQDEV_IOC_SHARE_JOIN, &jn));
	/* all written before the deletion ended, the 44 that waited too */
	EXPECT_EQ(300, read_dead(d, &r, 300));
	ASSERT_EQ(0, mqdev_topic_delete(self->fd, d));
	EXPECT_EQ(0, user_topic_room(self->fd));
	close(fd);
	mqdev_share_free(s);
}

/*
 * Two topics whose memberless groups dead-letter to each other: deleting
 * both frees both (each group lets go of the other topic at its own
 * topic's deletion), so their charges come back.
 */
TEST_F(dlq, mutual_dead_letter_topics_freed)
{
	char *a = self->user[0], *b = self->user[1];

	ASSERT_EQ(0, set_param("max_user_topics", 2));
	ASSERT_EQ(0, user_topic(a, "dlqmutuala", 1 << 16));
	ASSERT_EQ(0, user_topic(b, "dlqmutualb", 1 << 16));
	ASSERT_EQ(0, memberless_group(a, b));
	ASSERT_EQ(0, memberless_group(b, a));
	EXPECT_EQ(EDQUOT, user_topic_room(self->fd));
	ASSERT_EQ(0, mqdev_topic_delete(self->fd, a));
	ASSERT_EQ(0, mqdev_topic_delete(self->fd, b));
	EXPECT_EQ(0, user_topic_room(self->fd));
}

/* The info call checks its input and names a group that exists. */
TEST_F(dlq, info_bad_input)
{
	struct mqdev_share_dlq_info info = { 0 };
	int fd = attach(self->src, MQDEV_ATTACH_CONSUME, NULL);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOENT, mqdev_share_dlq_info(fd, "g", &info));
	mqdev_name_set(info.group, "g");
	info.written = 1;
	EXPECT_EQ(-EINVAL, xioctl(fd, MQDEV_IOC_SHARE_DLQ_INFO, &info));
	info.written = 0;
	info.flags = 1;
	EXPECT_EQ(-EINVAL, xioctl(fd, MQDEV_IOC_SHARE_DLQ_INFO, &info));
	close(fd);
}

TEST_HARNESS_MAIN
