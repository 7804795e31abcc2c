// SPDX-License-Identifier: GPL-2.0
/*
 * RocketMQ's RECONSUME_LATER for consumer groups (MQDEV_IOC_GROUP_RECONSUME):
 * a record handed back comes back from the retry topic after its back-off,
 * its delivery count raised by the kernel; past max_deliveries it lands in
 * the DLQ with its history and the kernel-only flag; a non-member, a member
 * not owning the partition, an offset committed or past the head, unknown
 * flags and bad settings are refused with nothing scheduled or written; a
 * producer's forged count neither raises nor lowers the kernel's.
 */
#include <time.h>
#include "common.h"
#include "kselftest_harness.h"

FIXTURE(rc) {
	int fd, prod;
	char src[MQDEV_NAME_MAX + 1];
	char retry[MQDEV_NAME_MAX + 1];
	char dlq[MQDEV_NAME_MAX + 1];
};

FIXTURE_SETUP(rc)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->src, topic_name("rcsrc"));
	strcpy(self->retry, topic_name("rcretry"));
	strcpy(self->dlq, topic_name("rcdlq"));
	ASSERT_EQ(0, create_topic(self->fd, self->src, 1, 1 << 20, 0));
	ASSERT_EQ(0, create_topic(self->fd, self->retry, 1, 1 << 20, 0));
	ASSERT_EQ(0, create_topic(self->fd, self->dlq, 1, 1 << 20, 0));
	self->prod = attach(self->src, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, self->prod);
}

FIXTURE_TEARDOWN_PARENT(rc)
{
	int fd = mqdev_open();

	if (fd < 0)
		return;
	mqdev_topic_delete(fd, self->src);
	mqdev_topic_delete(fd, self->retry);
	mqdev_topic_delete(fd, self->dlq);
	close(fd);
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* A record with key "k1", a header "trace: abc" (and @forged) and "poison". */
static int produce_poison(int prod, bool forged, uint64_t *offset)
{
	static const char block[] = "\1\0\0\0" "\5\0\0\0" "\3\0\0\0"
				    "trace" "abc" "poison";
	/* a producer's count, and a fake first topic */
	static const char forged_block[] = "\3\0\0\0"
		"\5\0\0\0" "\3\0\0\0" "trace" "abc"
		"\24\0\0\0" "\2\0\0\0" "mqdev.dlq.deliveries" "99"
		"\17\0\0\0" "\4\0\0\0" "mqdev.dlq.topic" "fake"
		"poison";
	struct mqdev_msg msg;
	struct mqdev_produce req = {
		.msgs = (uintptr_t)&msg, .count = 1, .msg_size = sizeof(msg),
	};

	if (forged)
		mqdev_msg_init(&msg, "k1", 2, forged_block,
			       sizeof(forged_block) - 1, 0);
	else
		mqdev_msg_init(&msg, "k1", 2, block, sizeof(block) - 1, 0);
	msg.flags = MQDEV_MSG_HEADERS;
	if (ioctl(prod, MQDEV_IOC_PRODUCE, &req) != 1)
		return -errno;
	*offset = msg.offset;
	return 0;
}

/* What a record read back carries. */
struct seen {
	struct dead d;
	uint64_t timestamp;
	uint32_t flags, deliveries;
};

static int seen_parse(const struct mqdev_record *rec, struct seen *s)
{
	s->flags = rec->flags;
	s->timestamp = rec->timestamp;
	s->deliveries = mqdev_record_deliveries(rec);
	return dead_parse(rec, &s->d);
}

/* A member's turn: the record it got, and what it did with it. */
struct turn {
	struct mqdev_consumer *c;
	const struct mqdev_reconsume_opts *opts;	/* NULL: just read */
	struct seen s;
	uint64_t at;		/* when it was handed back */
	int result, n;
};

static int on_record(void *ctx, const struct mqdev_record *rec)
{
	struct turn *t = ctx;

	if (t->n++)
		return -E2BIG;
	if (seen_parse(rec, &t->s))
		return -EBADMSG;
	t->at = real_ns();
	if (t->opts)
		t->result = mqdev_consumer_reconsume_later(t->c, rec, t->opts);
	return 0;
}

/* A member of group "g" of @topic, from its earliest record. */
static struct mqdev_consumer *member(const char *topic)
{
	struct mqdev_consumer *c;

	if (mqdev_consumer_new(topic, NULL, &c))
		return NULL;
	if (mqdev_consumer_join(c, "g", MQDEV_SEEK_EARLIEST)) {
		mqdev_consumer_free(c);
		return NULL;
	}
	return c;
}

/* Wait up to @ms for one record; hand it to @t.  Return: records seen. */
static int take_one(struct turn *t, int ms)
{
	uint64_t end = real_ns() + ms * 1000000ULL;

	t->n = 0;
	t->result = 0;
	while (!t->n && real_ns() < end)
		if (mqdev_consumer_poll(t->c, 50, 1, on_record, t) < 0)
			return -1;
	if (t->n && mqdev_consumer_commit(t->c))
		return -1;
	return t->n;
}

/* Everything in partition 0 of @topic within @ms, the first into @s. */
static int read_all(const char *topic, struct seen *s, int ms)
{
	struct turn t = { 0 };
	uint64_t end = real_ns() + ms * 1000000ULL;
	int n = 0;

	if (mqdev_consumer_new(topic, NULL, &t.c))
		return -1;
	if (mqdev_consumer_seek(t.c, 0, MQDEV_SEEK_EARLIEST, 0, 0, NULL))
		n = -1;
	while (n >= 0 && real_ns() < end) {
		t.n = 0;
		if (mqdev_consumer_poll(t.c, 20, 1, on_record, &t) < 0)
			n = -1;
		else if (t.n && !n++)
			*s = t.s;
	}
	mqdev_consumer_free(t.c);
	return n;
}

/* Messages scheduled on @topic. */
static int scheduled(const char *topic)
{
	struct mqdev_sched_list req = { 0 };
	int fd = attach(topic, MQDEV_ATTACH_CONSUME, NULL);
	int err;

	if (fd < 0)
		return fd;
	err = xioctl(fd, MQDEV_IOC_SCHED_LIST, &req);
	close(fd);
	return err ? err : (int)req.scheduled;
}

/* Back-offs short enough for a TCG guest; the tolerance it needs. */
#define FIRST_MS	400
#define SECOND_MS	200
#define SLACK_MS	4000

/*
 * Handed back, a record comes back from the retry topic after its
 * back-off with its count raised, and again; handed back at its
 * max_deliveries-th delivery it lands in
 * the DLQ with where it first was, its count, the member's error, its own
 * key, value and headers, and MQDEV_RECORD_DEAD_LETTER.
 */
TEST_F(rc, retried_then_dead_lettered)
{
	static const uint32_t backoff[] = { FIRST_MS, SECOND_MS };
	LIBMQDEV_OPTS(mqdev_reconsume_opts, opts, .retry_topic = self->retry,
		      .dlq_topic = self->dlq, .max_deliveries = 3,
		      .backoff_ms = backoff, .nr_backoff = 2);
	LIBMQDEV_OPTS(mqdev_reconsume_opts, last, .retry_topic = self->retry,
		      .dlq_topic = self->dlq, .max_deliveries = 3,
		      .backoff_ms = backoff, .nr_backoff = 2,
		      .error = "boom");
	struct turn a = { .opts = &opts }, b = { .opts = &opts };
	struct seen d;
	uint64_t off, took;

	ASSERT_EQ(0, produce_poison(self->prod, false, &off));
	a.c = member(self->src);
	b.c = member(self->retry);
	ASSERT_NE(NULL, a.c);
	ASSERT_NE(NULL, b.c);

	ASSERT_EQ(1, take_one(&a, 2000));
	EXPECT_EQ(MQDEV_RECONSUME_RETRIED, a.result);
	EXPECT_EQ(1, a.s.deliveries);
	EXPECT_EQ(1, scheduled(self->retry));

	/* the first retry: after FIRST_MS, delivered twice now */
	ASSERT_EQ(1, take_one(&b, FIRST_MS + SLACK_MS));
	took = (b.s.timestamp - a.at) / 1000000;
	EXPECT_LE(FIRST_MS - 20, took);
	EXPECT_GE(FIRST_MS + SLACK_MS, took);
	EXPECT_EQ(MQDEV_RECORD_HEADERS | MQDEV_RECORD_RETRY, b.s.flags);
	EXPECT_EQ(2, b.s.deliveries);
	EXPECT_EQ(2, b.s.d.count);
	EXPECT_STREQ(self->src, b.s.d.topic);
	EXPECT_EQ(off, b.s.d.offset);
	EXPECT_EQ(0, b.s.d.partition);
	EXPECT_STREQ(MQDEV_DLQ_RECONSUME, b.s.d.reason);
	EXPECT_STREQ("g", b.s.d.group);
	EXPECT_STREQ("k1", b.s.d.key);
	EXPECT_STREQ("abc", b.s.d.trace);
	EXPECT_STREQ("poison", b.s.d.value);
	EXPECT_EQ(MQDEV_RECONSUME_RETRIED, b.result);
	a.at = b.at;

	/*
	 * the second: after SECOND_MS, three times: the max, so handed back
	 * it goes to the DLQ, and the retry topic gets nothing more
	 */
	b.opts = &last;
	ASSERT_EQ(1, take_one(&b, SECOND_MS + SLACK_MS));
	took = (b.s.timestamp - a.at) / 1000000;
	EXPECT_LE(SECOND_MS - 20, took);
	EXPECT_GE(SECOND_MS + SLACK_MS, took);
	EXPECT_EQ(3, b.s.deliveries);
	EXPECT_STREQ(self->src, b.s.d.topic);
	EXPECT_EQ(off, b.s.d.offset);
	EXPECT_EQ(MQDEV_RECONSUME_DEAD_LETTERED, b.result);
	EXPECT_EQ(0, scheduled(self->retry));
	EXPECT_EQ(0, take_one(&b, 300));
	ASSERT_EQ(1, read_all(self->dlq, &d, 300));
	EXPECT_EQ(MQDEV_RECORD_HEADERS | MQDEV_RECORD_DEAD_LETTER, d.flags);
	EXPECT_STREQ(self->src, d.d.topic);
	EXPECT_EQ(off, d.d.offset);
	EXPECT_EQ(3, d.d.count);
	EXPECT_STREQ(MQDEV_DLQ_MAX_DELIVERIES, d.d.reason);
	EXPECT_STREQ("boom", d.d.error);
	EXPECT_STREQ("g", d.d.group);
	EXPECT_STREQ("k1", d.d.key);
	EXPECT_STREQ("abc", d.d.trace);
	EXPECT_STREQ("poison", d.d.value);
	EXPECT_EQ(8, d.d.nr_dlq_headers);
	/* not a retry: deliveries are the kernel's only */
	EXPECT_EQ(1, d.deliveries);
	mqdev_consumer_free(a.c);
	mqdev_consumer_free(b.c);
}

/* MQDEV_RECONSUME_DEAD: to the DLQ now, "rejected"; with none, dropped. */
TEST_F(rc, dead_now)
{
	LIBMQDEV_OPTS(mqdev_reconsume_opts, dead, .dlq_topic = self->dlq,
		      .dead_now = true);
	LIBMQDEV_OPTS(mqdev_reconsume_opts, drop, .dead_now = true);
	struct turn a = { .opts = &dead };
	struct seen d;
	uint64_t off;

	ASSERT_EQ(0, produce_poison(self->prod, false, &off));
	ASSERT_EQ(0, produce_poison(self->prod, false, &off));
	a.c = member(self->src);
	ASSERT_NE(NULL, a.c);
	ASSERT_EQ(1, take_one(&a, 2000));
	EXPECT_EQ(MQDEV_RECONSUME_DEAD_LETTERED, a.result);
	a.opts = &drop;
	ASSERT_EQ(1, take_one(&a, 2000));
	EXPECT_EQ(MQDEV_RECONSUME_DROPPED, a.result);
	ASSERT_EQ(1, read_all(self->dlq, &d, 300));
	EXPECT_STREQ(MQDEV_DLQ_REJECTED, d.d.reason);
	EXPECT_EQ(1, d.d.count);
	EXPECT_EQ(0, d.d.offset);
	mqdev_consumer_free(a.c);
}

/*
 * A producer's mqdev.dlq.deliveries header counts for nothing: the record
 * is delivered once, its retry twice; and no producer may set
 * MQDEV_RECORD_RETRY.
 */
TEST_F(rc, forged_count_ignored)
{
	LIBMQDEV_OPTS(mqdev_reconsume_opts, opts, .retry_topic = self->retry,
		      .dlq_topic = self->dlq, .max_deliveries = 3,
		      .delay_ms = 1);
	struct turn a = { .opts = &opts }, b = { .opts = NULL };
	struct mqdev_msg msg;
	struct mqdev_produce req = {
		.msgs = (uintptr_t)&msg, .count = 1, .msg_size = sizeof(msg),
	};
	uint64_t off;

	mqdev_msg_init(&msg, NULL, 0, "x", 1, 0);
	msg.flags = MQDEV_RECORD_RETRY;
	EXPECT_EQ(-1, ioctl(self->prod, MQDEV_IOC_PRODUCE, &req));
	EXPECT_EQ(EINVAL, errno);

	ASSERT_EQ(0, produce_poison(self->prod, true, &off));
	a.c = member(self->src);
	b.c = member(self->retry);
	ASSERT_NE(NULL, a.c);
	ASSERT_NE(NULL, b.c);
	ASSERT_EQ(1, take_one(&a, 2000));
	EXPECT_EQ(1, a.s.deliveries);
	EXPECT_EQ(MQDEV_RECONSUME_RETRIED, a.result);
	ASSERT_EQ(1, take_one(&b, SLACK_MS));
	EXPECT_EQ(2, b.s.deliveries);
	EXPECT_EQ(2, b.s.d.count);
	/* the kernel's first topic, not the producer's "fake" */
	EXPECT_STREQ(self->src, b.s.d.topic);
	/* the kernel's seven, the producer's two dropped */
	EXPECT_EQ(7, b.s.d.nr_dlq_headers);
	mqdev_consumer_free(a.c);
	mqdev_consumer_free(b.c);
}

/* A raw member of group @group of @topic: its handle, the generation. */
static int raw_member_of(const char *topic, const char *group, uint32_t *gen)
{
	struct mqdev_group_join join = { .reset = MQDEV_SEEK_EARLIEST };
	int fd = attach(topic, MQDEV_ATTACH_CONSUME, NULL);

	if (fd < 0)
		return fd;
	strcpy(join.group, group);
	if (xioctl(fd, MQDEV_IOC_GROUP_JOIN, &join)) {
		close(fd);
		return -1;
	}
	*gen = join.generation;
	return fd;
}

/* A raw member of group "g" of @topic. */
static int raw_member(const char *topic, uint32_t *gen)
{
	return raw_member_of(topic, "g", gen);
}

static void req_init(struct mqdev_reconsume *req, const char *retry,
		     const char *dlq, uint32_t gen, uint64_t offset)
{
	memset(req, 0, sizeof(*req));
	mqdev_name_set(req->retry_topic, retry);
	mqdev_name_set(req->dlq, dlq);
	req->generation = gen;
	req->offset = offset;
	req->delay_ms = 1;
}

/* Refused, with nothing scheduled into the retry topic or written. */
TEST_F(rc, bad_input_nothing_changed)
{
	struct mqdev_reconsume req;
	struct mqdev_group_commit commit = { 0 };
	struct seen d;
	uint32_t gen, gen_b;
	uint64_t off, now;
	int a, b, plain;

	ASSERT_EQ(0, produce_poison(self->prod, false, &off));
	ASSERT_EQ(0, produce_poison(self->prod, false, &off));
	plain = attach(self->src, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, plain);
	a = raw_member(self->src, &gen);
	ASSERT_LE(0, a);

	/* a handle that is no member */
	req_init(&req, self->retry, self->dlq, gen, 0);
	EXPECT_EQ(-EBADFD, xioctl(plain, MQDEV_IOC_GROUP_RECONSUME, &req));
	/* a producer's handle */
	EXPECT_EQ(-EBADF, xioctl(self->prod, MQDEV_IOC_GROUP_RECONSUME, &req));

	/* a member that does not own the partition (one partition, two) */
	b = raw_member(self->src, &gen_b);
	ASSERT_LE(0, b);
	req_init(&req, self->retry, self->dlq, gen_b, 0);
	EXPECT_EQ(-ESTALE, xioctl(b, MQDEV_IOC_GROUP_RECONSUME, &req));
	/* the owner, in an old generation */
	req_init(&req, self->retry, self->dlq, gen_b - 1, 0);
	EXPECT_EQ(-ESTALE, xioctl(a, MQDEV_IOC_GROUP_RECONSUME, &req));

	/* offsets: past the head, at it, committed */
	req_init(&req, self->retry, self->dlq, gen_b, 1000);
	EXPECT_EQ(-ERANGE, xioctl(a, MQDEV_IOC_GROUP_RECONSUME, &req));
	req_init(&req, self->retry, self->dlq, gen_b, 2);
	EXPECT_EQ(-ERANGE, xioctl(a, MQDEV_IOC_GROUP_RECONSUME, &req));
	commit.generation = gen_b;
	commit.offset = 1;
	ASSERT_EQ(0, xioctl(a, MQDEV_IOC_GROUP_COMMIT, &commit));
	req_init(&req, self->retry, self->dlq, gen_b, 0);
	EXPECT_EQ(-ERANGE, xioctl(a, MQDEV_IOC_GROUP_RECONSUME, &req));

	/* bad requests */
	req_init(&req, self->retry, self->dlq, gen_b, 1);
	req.flags = 1U << 5;
	EXPECT_EQ(-EINVAL, xioctl(a, MQDEV_IOC_GROUP_RECONSUME, &req));
	req_init(&req, self->retry, self->dlq, gen_b, 1);
	req.reserved = 1;
	EXPECT_EQ(-EINVAL, xioctl(a, MQDEV_IOC_GROUP_RECONSUME, &req));
	req_init(&req, self->retry, self->dlq, gen_b, 1);
	req.result = 1;
	EXPECT_EQ(-EINVAL, xioctl(a, MQDEV_IOC_GROUP_RECONSUME, &req));
	req_init(&req, self->retry, self->dlq, gen_b, 1);
	req.partition = 1;
	EXPECT_EQ(-EINVAL, xioctl(a, MQDEV_IOC_GROUP_RECONSUME, &req));
	req_init(&req, self->retry, self->dlq, gen_b, 1);
	req.max_deliveries = MQDEV_SHARE_MAX_DELIVERIES + 1;
	EXPECT_EQ(-EINVAL, xioctl(a, MQDEV_IOC_GROUP_RECONSUME, &req));
	req_init(&req, self->retry, self->dlq, gen_b, 1);
	req.nr_backoff = 1;
	EXPECT_EQ(-EINVAL, xioctl(a, MQDEV_IOC_GROUP_RECONSUME, &req));
	req_init(&req, self->retry, self->dlq, gen_b, 1);
	memset(req.error, 'e', sizeof(req.error));
	EXPECT_EQ(-EINVAL, xioctl(a, MQDEV_IOC_GROUP_RECONSUME, &req));
	/* bytes past the error's NUL; two back-offs; one with _DEAD */
	req_init(&req, self->retry, self->dlq, gen_b, 1);
	req.error[5] = 'e';
	EXPECT_EQ(-EINVAL, xioctl(a, MQDEV_IOC_GROUP_RECONSUME, &req));
	req_init(&req, self->retry, self->dlq, gen_b, 1);
	req.nr_backoff = 1;
	req.backoff_ms[0] = 100;
	EXPECT_EQ(-EINVAL, xioctl(a, MQDEV_IOC_GROUP_RECONSUME, &req));
	req_init(&req, self->retry, self->dlq, gen_b, 1);
	req.flags = MQDEV_RECONSUME_DEAD;
	EXPECT_EQ(-EINVAL, xioctl(a, MQDEV_IOC_GROUP_RECONSUME, &req));
	/* no retry topic, a missing one, the DLQ the record's own topic */
	req_init(&req, "", self->dlq, gen_b, 1);
	EXPECT_EQ(-EINVAL, xioctl(a, MQDEV_IOC_GROUP_RECONSUME, &req));
	req_init(&req, "rc-no-such-topic", self->dlq, gen_b, 1);
	EXPECT_EQ(-ENOENT, xioctl(a, MQDEV_IOC_GROUP_RECONSUME, &req));
	req_init(&req, self->retry, self->src, gen_b, 1);
	EXPECT_EQ(-EINVAL, xioctl(a, MQDEV_IOC_GROUP_RECONSUME, &req));

	EXPECT_EQ(0, scheduled(self->retry));
	EXPECT_EQ(0, read_all(self->dlq, &d, 100));

	/* and the good one is taken, its results back */
	req_init(&req, self->retry, self->dlq, gen_b, 1);
	/* RocketMQ's schedule: the first retry after 10 s */
	req.delay_ms = 0;
	now = real_ns();
	ASSERT_EQ(0, xioctl(a, MQDEV_IOC_GROUP_RECONSUME, &req));
	EXPECT_EQ(MQDEV_RECONSUME_RETRIED, req.result);
	EXPECT_EQ(2, req.deliveries);
	EXPECT_LE(now + 10000000000ULL, req.due);
	EXPECT_GE(real_ns() + 10000000000ULL, req.due);
	close(plain);
	close(a);
	close(b);
}

/*
 * A record of an open or aborted transaction, which no consumer is handed,
 * is not retried (ENODATA); a committed one is.
 */
TEST_F(rc, transactions_only_committed)
{
	struct mqdev_reconsume req;
	struct mqdev_session *s;
	struct mqdev_producer *p;
	char producer[MQDEV_NAME_MAX + 1];
	uint32_t gen;
	int a;

	snprintf(producer, sizeof(producer), "rc-%d", getpid());
	ASSERT_EQ(0, mqdev_session_new(producer, 0, &s));
	ASSERT_EQ(0, mqdev_producer_new(self->src, NULL, &p));
	ASSERT_EQ(0, mqdev_producer_bind(p, s));
	a = raw_member(self->src, &gen);
	ASSERT_LE(0, a);

	ASSERT_EQ(0, mqdev_txn_begin(s, 0));
	ASSERT_EQ(0, mqdev_producer_send(p, NULL, 0, "open", 4, 0, NULL));
	ASSERT_LE(0, mqdev_producer_flush(p));
	req_init(&req, self->retry, self->dlq, gen, 0);
	EXPECT_EQ(-ENODATA, xioctl(a, MQDEV_IOC_GROUP_RECONSUME, &req));
	ASSERT_EQ(0, mqdev_txn_abort(s));
	req_init(&req, self->retry, self->dlq, gen, 0);
	EXPECT_EQ(-ENODATA, xioctl(a, MQDEV_IOC_GROUP_RECONSUME, &req));
	EXPECT_EQ(0, scheduled(self->retry));

	ASSERT_EQ(0, mqdev_txn_begin(s, 0));
	ASSERT_EQ(0, mqdev_producer_send(p, NULL, 0, "done", 4, 0, NULL));
	ASSERT_EQ(0, mqdev_txn_commit(s));
	/* offset 1 is the abort's marker, if any: the record is the last */
	/* due in a minute: still scheduled when counted */
	req_init(&req, self->retry, self->dlq, gen, 0);
	req.delay_ms = 60000;
	while (req.offset < 8 &&
	       xioctl(a, MQDEV_IOC_GROUP_RECONSUME, &req) == -ENODATA) {
		req_init(&req, self->retry, self->dlq, gen, req.offset + 1);
		req.delay_ms = 60000;
	}
	EXPECT_EQ(MQDEV_RECONSUME_RETRIED, req.result);
	EXPECT_EQ(1, scheduled(self->retry));
	close(a);
	mqdev_producer_free(p);
	mqdev_session_free(s);
}

/* The caller must be allowed to produce to the retry topic. */
static int as_nobody(void *arg)
{
	struct mqdev_reconsume *req = arg;
	uint32_t gen;
	int fd = raw_member(req->error, &gen);

	if (fd < 0)
		return 100;
	req->generation = gen;
	memset(req->error, 0, sizeof(req->error));
	return -xioctl(fd, MQDEV_IOC_GROUP_RECONSUME, req);
}

TEST_F(rc, retry_topic_needs_produce_permission)
{
	struct mqdev_reconsume req;
	char open_src[MQDEV_NAME_MAX + 1];
	int prod;
	uint64_t off;

	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = 1,
		      .capacity = 1 << 20, .mode = 0666);
	LIBMQDEV_OPTS(mqdev_topic_opts, ro, .partitions = 1,
		      .capacity = 1 << 20, .mode = 0644);
	char ro_retry[MQDEV_NAME_MAX + 1];

	/* a source everyone may read, a retry topic only its owner writes */
	strcpy(open_src, topic_name("rcopen"));
	strcpy(ro_retry, topic_name("rcro"));
	ASSERT_EQ(0, mqdev_topic_create(self->fd, open_src, &cfg));
	ASSERT_EQ(0, mqdev_topic_create(self->fd, ro_retry, &ro));
	prod = attach(open_src, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, prod);
	ASSERT_EQ(0, produce_poison(prod, false, &off));
	req_init(&req, ro_retry, "", 0, 0);
	strcpy(req.error, open_src);
	EXPECT_EQ(EACCES, as_user(USER_UID, as_nobody, &req));
	EXPECT_EQ(0, scheduled(ro_retry));
	/* and a DLQ likewise */
	req_init(&req, open_src, ro_retry, 0, 0);
	strcpy(req.error, open_src);
	EXPECT_EQ(EACCES, as_user(USER_UID, as_nobody, &req));
	close(prod);
	mqdev_topic_delete(self->fd, open_src);
	mqdev_topic_delete(self->fd, ro_retry);
}

/* Hand back @offset of @fd's partition 0 until the record is there. */
static int reconsume_when_there(int fd, struct mqdev_reconsume *req, int ms)
{
	uint64_t end = real_ns() + ms * 1000000ULL;
	struct mqdev_reconsume r;
	int err;

	do {
		r = *req;
		err = xioctl(fd, MQDEV_IOC_GROUP_RECONSUME, &r);
		if (err != -ERANGE)
			break;
		usleep(20000);
	} while (real_ns() < end);
	*req = r;
	return err;
}

/*
 * The delivery count is a group's: the retry topic read by the same group
 * goes on counting, by another group starts again at one.  A retry's
 * first topic is refused as its DLQ (a dead letter there would be read
 * again, for ever).
 */
TEST_F(rc, count_is_the_groups)
{
	struct mqdev_reconsume req;
	uint32_t gen, gen_g, gen_h;
	uint64_t off;
	int a, g, h;

	ASSERT_EQ(0, produce_poison(self->prod, false, &off));
	a = raw_member(self->src, &gen);
	ASSERT_LE(0, a);
	req_init(&req, self->retry, "", gen, off);
	ASSERT_EQ(0, xioctl(a, MQDEV_IOC_GROUP_RECONSUME, &req));
	EXPECT_EQ(2, req.deliveries);

	g = raw_member_of(self->retry, "g", &gen_g);
	h = raw_member_of(self->retry, "h", &gen_h);
	ASSERT_LE(0, g);
	ASSERT_LE(0, h);
	/* group "g": its third delivery, but not into its first topic */
	req_init(&req, self->dlq, self->src, gen_g, 0);
	EXPECT_EQ(-EINVAL, reconsume_when_there(g, &req, SLACK_MS));
	req_init(&req, self->dlq, "", gen_g, 0);
	ASSERT_EQ(0, reconsume_when_there(g, &req, SLACK_MS));
	EXPECT_EQ(3, req.deliveries);
	/* group "h": a record it is given for the first time */
	req_init(&req, self->dlq, self->src, gen_h, 0);
	ASSERT_EQ(0, reconsume_when_there(h, &req, SLACK_MS));
	EXPECT_EQ(MQDEV_RECONSUME_RETRIED, req.result);
	EXPECT_EQ(2, req.deliveries);
	close(a);
	close(g);
	close(h);
}

/* Another consumer's record, handed to the lib. */
struct other {
	struct mqdev_consumer *c;
	const struct mqdev_reconsume_opts *opts;
	int result, copy_result, n;
};

static int on_record_other(void *ctx, const struct mqdev_record *rec)
{
	struct other *o = ctx;
	char copy[256];

	o->n++;
	o->result = mqdev_consumer_reconsume_later(o->c, rec, o->opts);
	if (rec->len <= sizeof(copy)) {
		memcpy(copy, rec, rec->len);
		o->copy_result = mqdev_consumer_reconsume_later(o->c,
				(const struct mqdev_record *)copy, o->opts);
	}
	return 0;
}

/*
 * libmqdev refuses a record that another consumer handed out (here one of
 * the retry topic's member, owning partition 0 of its own topic with
 * offset 0 uncommitted), or a copy, rather than retry a different record.
 */
TEST_F(rc, lib_refuses_anothers_record)
{
	LIBMQDEV_OPTS(mqdev_reconsume_opts, opts, .retry_topic = self->dlq,
		      .delay_ms = 1);
	struct other o = { .opts = &opts };
	struct mqdev_consumer *a;
	uint64_t off, end = real_ns() + 2000000000ULL;
	int rp;

	ASSERT_EQ(0, produce_poison(self->prod, false, &off));
	rp = attach(self->retry, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, rp);
	ASSERT_EQ(0, produce_poison(rp, false, &off));
	a = member(self->src);
	o.c = member(self->retry);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, o.c);
	while (!o.n && real_ns() < end)
		ASSERT_LE(0, mqdev_consumer_poll(a, 50, 1, on_record_other,
						 &o));
	ASSERT_EQ(1, o.n);
	EXPECT_EQ(-EINVAL, o.result);
	EXPECT_EQ(-EINVAL, o.copy_result);
	EXPECT_EQ(0, scheduled(self->dlq));
	mqdev_consumer_free(a);
	mqdev_consumer_free(o.c);
	close(rp);
}

/* A 4096-byte retry topic held full by @holder; its producer, or -1. */
static int full_retry_topic(char *name, struct mqdev_consumer **holder)
{
	char fill[512] = { 0 };
	int p, err;

	strcpy(name, topic_name("rcfull"));
	p = mqdev_open();
	err = p < 0 ? -1 : create_topic(p, name, 1, 4096, 0);
	close(p);
	if (err || mqdev_consumer_new(name, NULL, holder) ||
	    mqdev_consumer_seek(*holder, 0, MQDEV_SEEK_EARLIEST, 0,
				MQDEV_SEEK_HOLD, NULL))
		return -1;
	p = attach(name, MQDEV_ATTACH_PRODUCE, NULL);
	if (p < 0 || fcntl(p, F_SETFL, O_NONBLOCK))
		return -1;
	while (produce_one(p, 0, NULL, 0, fill, sizeof(fill), NULL) >= 0)
		;
	return p;
}

static int on_nothing(void *ctx, const struct mqdev_record *rec)
{
	return 0;
}

static int sched_stats(const char *topic, struct mqdev_sched_list *req)
{
	int fd = attach(topic, MQDEV_ATTACH_CONSUME, NULL);
	int err;

	if (fd < 0)
		return fd;
	memset(req, 0, sizeof(*req));
	err = xioctl(fd, MQDEV_IOC_SCHED_LIST, req);
	close(fd);
	return err;
}

/*
 * A retry answered RETRIED is not lost to a full retry topic: past the
 * minute after which a scheduled message is dropped it is still kept,
 * and it is appended once there is room.
 */
TEST_F_TIMEOUT(rc, retry_kept_while_topic_full, 180)
{
	struct mqdev_consumer *holder;
	struct mqdev_sched_list sl;
	struct mqdev_reconsume req;
	char full[MQDEV_NAME_MAX + 1];
	uint64_t off, end;
	uint32_t gen;
	int a, p;

	p = full_retry_topic(full, &holder);
	ASSERT_LE(0, p);
	ASSERT_EQ(0, produce_poison(self->prod, false, &off));
	a = raw_member(self->src, &gen);
	ASSERT_LE(0, a);
	req_init(&req, full, "", gen, off);
	ASSERT_EQ(0, xioctl(a, MQDEV_IOC_GROUP_RECONSUME, &req));
	ASSERT_EQ(MQDEV_RECONSUME_RETRIED, req.result);
	/* MQDEV_SCHED_RETRIES tries a second apart, and some */
	sleep(70);
	ASSERT_EQ(0, sched_stats(full, &sl));
	EXPECT_EQ(1, sl.scheduled);
	EXPECT_EQ(0, sl.dropped);
	/* room: the holder reads on, the retry is appended */
	end = real_ns() + SLACK_MS * 1000000ULL;
	while (real_ns() < end && scheduled(full) > 0)
		ASSERT_LE(0, mqdev_consumer_poll(holder, 50, 64, on_nothing,
						 NULL));
	EXPECT_EQ(0, scheduled(full));
	EXPECT_EQ(0, sched_stats(full, &sl));
	EXPECT_EQ(0, sl.dropped);
	mqdev_consumer_free(holder);
	close(a);
	close(p);
	mqdev_topic_delete(self->fd, full);
}

/* The struct grows by the size in the command, as the others. */
TEST_F(rc, struct_size)
{
	struct {
		struct mqdev_reconsume req;
		uint64_t more;
	} big = { 0 };
	char small[64] = { 0 };
	int fd = attach(self->src, MQDEV_ATTACH_CONSUME, NULL);

	ASSERT_LE(0, fd);
	EXPECT_TRUE(mqdev_features(self->fd) & MQDEV_FEAT_RECONSUME);
	EXPECT_EQ(1ULL << 13, MQDEV_FEAT_RECONSUME);
	big.more = 1;
	EXPECT_EQ(-E2BIG, xioctl(fd, _IOWR(MQDEV_IOC_MAGIC, 0x24, big), &big));
	big.more = 0;
	EXPECT_EQ(-EBADFD, xioctl(fd, _IOWR(MQDEV_IOC_MAGIC, 0x24, big), &big));
	EXPECT_EQ(-EINVAL, xioctl(fd, _IOWR(MQDEV_IOC_MAGIC, 0x24, small),
				  small));
	close(fd);
	EXPECT_EQ(400, sizeof(struct mqdev_reconsume));
	EXPECT_EQ(18, sizeof(((struct mqdev_reconsume *)0)->backoff_ms) / 4);
	EXPECT_EQ(MQDEV_SHARE_BACKOFF_LEVELS,
		  sizeof(((struct mqdev_reconsume *)0)->backoff_ms) / 4);
}

TEST_HARNESS_MAIN
