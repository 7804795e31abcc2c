// SPDX-License-Identifier: GPL-2.0
/*
 * libmqdev's options and result structs, as libbpf has them: a caller built
 * against a newer header (a larger sz) works as long as what this library
 * does not know is zero, and is refused otherwise, with nothing done; one
 * built against an older header (a smaller sz) gets the defaults for what
 * its struct lacks; results are never written past the caller's sz.
 */
#include "common.h"
#include "kselftest_harness.h"

#define offsetofend(TYPE, FIELD) \
	(offsetof(TYPE, FIELD) + sizeof(((TYPE *)0)->FIELD))

#define CANARY		0xa5
#define EXTRA		16	/* bytes of a "newer" struct past ours */

/* A newer caller's struct: ours, and fields this library does not know. */
struct newer_topic_opts {
	struct mqdev_topic_opts	opts;
	unsigned char		extra[EXTRA];
};

struct newer_producer_opts {
	struct mqdev_producer_opts opts;
	unsigned char		extra[EXTRA];
};

struct newer_consumer_opts {
	struct mqdev_consumer_opts opts;
	unsigned char		extra[EXTRA];
};

FIXTURE(opts) {
	int fd;
	char name[MQDEV_NAME_MAX + 1];
};

FIXTURE_SETUP(opts)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("opts"));
}

FIXTURE_TEARDOWN(opts)
{
	mqdev_topic_delete(self->fd, self->name);
	close(self->fd);
}

static int describe(int fd, const char *name, struct mqdev_topic_info *info)
{
	return mqdev_topic_describe(fd, name, info, NULL, 0);
}

TEST_F(opts, topic_null_takes_defaults)
{
	struct mqdev_topic_info info;

	ASSERT_EQ(0, mqdev_topic_create(self->fd, self->name, NULL));
	ASSERT_EQ(0, describe(self->fd, self->name, &info));
	EXPECT_EQ(1, info.partitions);
	EXPECT_EQ(1 << 20, info.capacity);
	EXPECT_EQ(0, info.flags);
	EXPECT_EQ(0644, info.mode);
}

TEST_F(opts, topic_macro)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, o, .partitions = 3, .capacity = 65536,
		      .mode = 0600);
	struct mqdev_topic_info info;

	EXPECT_EQ(sizeof(struct mqdev_topic_opts), o.sz);
	ASSERT_EQ(0, mqdev_topic_create(self->fd, self->name, &o));
	ASSERT_EQ(0, describe(self->fd, self->name, &info));
	EXPECT_EQ(3, info.partitions);
	EXPECT_EQ(65536, info.capacity);
	EXPECT_EQ(0600, info.mode);
}

TEST_F(opts, topic_newer_zero_tail)
{
	struct newer_topic_opts n;
	struct mqdev_topic_info info;

	memset(&n, 0, sizeof(n));
	n.opts.sz = sizeof(n);
	n.opts.partitions = 2;
	n.opts.capacity = 65536;
	ASSERT_EQ(0, mqdev_topic_create(self->fd, self->name, &n.opts));
	ASSERT_EQ(0, describe(self->fd, self->name, &info));
	EXPECT_EQ(2, info.partitions);
	EXPECT_EQ(65536, info.capacity);
}

TEST_F(opts, topic_newer_nonzero_tail)
{
	struct newer_topic_opts n;
	struct mqdev_topic_info info;
	int before = topic_count(self->fd), i;

	for (i = 0; i < EXTRA; i++) {
		memset(&n, 0, sizeof(n));
		n.opts.sz = sizeof(n);
		n.opts.partitions = 2;
		n.extra[i] = 1;
		EXPECT_EQ(-EINVAL, mqdev_topic_create(self->fd, self->name,
						      &n.opts));
	}
	EXPECT_EQ(-ENOENT, describe(self->fd, self->name, &info));
	EXPECT_EQ(before, topic_count(self->fd));
}

TEST_F(opts, topic_older_takes_defaults)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, o, .partitions = 2, .capacity = 65536,
		      .flags = MQDEV_TOPIC_OVERWRITE, .mode = 0600);
	struct mqdev_topic_info info;

	/* built when the struct ended after partitions */
	o.sz = offsetofend(struct mqdev_topic_opts, partitions);
	ASSERT_EQ(0, mqdev_topic_create(self->fd, self->name, &o));
	ASSERT_EQ(0, describe(self->fd, self->name, &info));
	EXPECT_EQ(2, info.partitions);
	EXPECT_EQ(1 << 20, info.capacity);
	EXPECT_EQ(0, info.flags);
	EXPECT_EQ(0644, info.mode);
}

TEST_F(opts, topic_sz_too_small)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, o, .partitions = 2);
	struct mqdev_topic_info info;

	o.sz = 0;
	EXPECT_EQ(-EINVAL, mqdev_topic_create(self->fd, self->name, &o));
	o.sz = sizeof(size_t) - 1;
	EXPECT_EQ(-EINVAL, mqdev_topic_create(self->fd, self->name, &o));
	EXPECT_EQ(-ENOENT, describe(self->fd, self->name, &info));
	/* sz alone: every default */
	o.sz = sizeof(size_t);
	ASSERT_EQ(0, mqdev_topic_create(self->fd, self->name, &o));
	ASSERT_EQ(0, describe(self->fd, self->name, &info));
	EXPECT_EQ(1, info.partitions);
}

static void count_ack(void *ctx, const struct mqdev_ack *ack)
{
	int *n = ctx;

	if (!ack->error && ack->sz >= offsetofend(struct mqdev_ack, duplicate))
		(*n)++;
}

/* Send one message through a new producer; how many acks came. */
static int acks_of(const char *name, const struct mqdev_producer_opts *o,
		   int *acks)
{
	struct mqdev_producer *p;
	uint32_t v = 1;
	int err;

	*acks = 0;
	err = mqdev_producer_new(name, o, &p);
	if (err)
		return err;
	err = mqdev_producer_send(p, NULL, 0, &v, sizeof(v), 0, NULL);
	if (!err)
		err = mqdev_producer_flush(p) == 1 ? 0 : -EIO;
	mqdev_producer_free(p);
	return err;
}

TEST_F(opts, producer)
{
	LIBMQDEV_OPTS(mqdev_producer_opts, o, .ack_fn = count_ack);
	struct mqdev_producer *p = NULL;
	struct newer_producer_opts n;
	int acks;

	o.ack_ctx = &acks;
	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 65536, 0));
	ASSERT_EQ(0, acks_of(self->name, NULL, &acks));
	EXPECT_EQ(0, acks);
	ASSERT_EQ(0, acks_of(self->name, &o, &acks));
	EXPECT_EQ(1, acks);

	/* older: no ack callback in its struct */
	o.sz = offsetofend(struct mqdev_producer_opts, flags);
	ASSERT_EQ(0, acks_of(self->name, &o, &acks));
	EXPECT_EQ(0, acks);

	/* unknown flags are refused, unless the struct is too old for them */
	o.sz = sizeof(o);
	o.flags = 1U << 7;
	EXPECT_EQ(-EINVAL, mqdev_producer_new(self->name, &o, &p));
	o.sz = sizeof(size_t);
	ASSERT_EQ(0, acks_of(self->name, &o, &acks));
	EXPECT_EQ(0, acks);
	o.sz = 0;
	EXPECT_EQ(-EINVAL, mqdev_producer_new(self->name, &o, &p));

	memset(&n, 0, sizeof(n));
	n.opts.sz = sizeof(n);
	n.opts.ack_fn = count_ack;
	n.opts.ack_ctx = &acks;
	ASSERT_EQ(0, acks_of(self->name, &n.opts, &acks));
	EXPECT_EQ(1, acks);
	n.extra[EXTRA - 1] = 0x80;
	EXPECT_EQ(-EINVAL, mqdev_producer_new(self->name, &n.opts, &p));
	EXPECT_EQ(NULL, p);
}

/*
 * Read every record of the topic through a new consumer with a verifier:
 * how many records it read (or -errno), and how many the verifier saw.
 */
static int read_verified(const char *name, struct mqdev_consumer_opts *o,
			 uint64_t *verified)
{
	LIBMQDEV_OPTS(mqdev_verify_stats, st);
	struct mqdev_consumer *c;
	struct mqdev_verifier *v;
	int n = 0, err;

	err = mqdev_verifier_new(0, NULL, NULL, &v);
	if (err)
		return err;
	o->verifier = v;
	err = mqdev_consumer_new(name, o, &c);
	if (!err) {
		err = mqdev_consumer_seek(c, MQDEV_PARTITION_ALL,
					  MQDEV_SEEK_EARLIEST, 0, 0, NULL);
		while (!err && mqdev_consumer_peek(c)) {
			mqdev_consumer_release(c);
			n++;
		}
		mqdev_consumer_free(c);
	}
	mqdev_verifier_stats(v, &st);
	*verified = st.records;
	mqdev_verifier_free(v);
	return err ?: n;
}

TEST_F(opts, consumer)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, o);
	struct mqdev_consumer *c = NULL;
	struct newer_consumer_opts n;
	struct mqdev_producer *p;
	struct mqdev_session *s;
	uint64_t verified;
	uint32_t v = 1;

	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 65536, 0));
	ASSERT_EQ(0, mqdev_session_new(NULL, 0, &s));
	ASSERT_EQ(0, mqdev_producer_new(self->name, NULL, &p));
	ASSERT_EQ(0, mqdev_producer_bind(p, s));
	ASSERT_EQ(0, mqdev_producer_send(p, NULL, 0, &v, sizeof(v), 0, NULL));
	ASSERT_EQ(1, mqdev_producer_flush(p));
	mqdev_producer_free(p);
	mqdev_session_free(s);

	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	mqdev_consumer_free(c);

	EXPECT_EQ(1, read_verified(self->name, &o, &verified));
	EXPECT_EQ(1, verified);
	/* older: no verifier in its struct */
	o.sz = offsetofend(struct mqdev_consumer_opts, auto_commit_ms);
	EXPECT_EQ(1, read_verified(self->name, &o, &verified));
	EXPECT_EQ(0, verified);

	o.sz = sizeof(o);
	o.verifier = NULL;
	o.flags = 1U << 7;
	c = NULL;
	EXPECT_EQ(-EINVAL, mqdev_consumer_new(self->name, &o, &c));
	o.sz = offsetofend(struct mqdev_consumer_opts, sz);
	ASSERT_EQ(0, mqdev_consumer_new(self->name, &o, &c));
	mqdev_consumer_free(c);
	o.sz = 1;
	c = NULL;
	EXPECT_EQ(-EINVAL, mqdev_consumer_new(self->name, &o, &c));

	memset(&n, 0, sizeof(n));
	n.opts.sz = sizeof(n);
	n.opts.flags = MQDEV_CONSUMER_COPY;
	EXPECT_EQ(1, read_verified(self->name, &n.opts, &verified));
	EXPECT_EQ(1, verified);
	n.opts.verifier = NULL;
	n.extra[3] = 1;
	EXPECT_EQ(-EINVAL, mqdev_consumer_new(self->name, &n.opts, &c));
	EXPECT_EQ(NULL, c);
}

/* A result struct is written up to the caller's sz, and zeroed past ours. */
TEST(verify_stats_sz)
{
	union {
		struct mqdev_verify_stats st;
		unsigned char b[sizeof(struct mqdev_verify_stats) + EXTRA];
	} u;
	const size_t small = offsetofend(struct mqdev_verify_stats, records);
	struct mqdev_record rec = {
		.len = sizeof(rec), .producer_id = 7,
	};
	struct mqdev_verifier *v;
	size_t i;

	ASSERT_EQ(0, mqdev_verifier_new(MQDEV_VERIFY_FROM_START, NULL, NULL,
					&v));
	ASSERT_EQ(0, mqdev_verifier_check(v, &rec));
	rec.sequence = 1;
	ASSERT_EQ(0, mqdev_verifier_check(v, &rec));

	/* older: only records */
	memset(&u, CANARY, sizeof(u));
	u.st.sz = small;
	ASSERT_EQ(0, mqdev_verifier_stats(v, &u.st));
	EXPECT_EQ(small, u.st.sz);
	EXPECT_EQ(2, u.st.records);
	for (i = small; i < sizeof(u); i++)
		ASSERT_EQ(CANARY, u.b[i]);

	/* newer: ours, then zeros up to its sz, then untouched */
	memset(&u, CANARY, sizeof(u));
	u.st.sz = sizeof(u) - 1;
	ASSERT_EQ(0, mqdev_verifier_stats(v, &u.st));
	EXPECT_EQ(2, u.st.records);
	EXPECT_EQ(1, u.st.producers);
	EXPECT_EQ(0, u.st.gaps + u.st.missing + u.st.repeats);
	for (i = sizeof(u.st); i < sizeof(u) - 1; i++)
		ASSERT_EQ(0, u.b[i]);
	EXPECT_EQ(CANARY, u.b[sizeof(u) - 1]);

	/* too small for sz itself: refused, untouched */
	memset(&u, CANARY, sizeof(u));
	u.st.sz = 0;
	EXPECT_EQ(-EINVAL, mqdev_verifier_stats(v, &u.st));
	for (i = sizeof(size_t); i < sizeof(u); i++)
		ASSERT_EQ(CANARY, u.b[i]);
	mqdev_verifier_free(v);
}

TEST_F(opts, event_sz)
{
	union {
		struct mqdev_event ev;
		unsigned char b[sizeof(struct mqdev_event) + EXTRA];
	} u;
	const size_t small = offsetofend(struct mqdev_event, cmd);
	struct mqdev_nl *nl;
	size_t i;

	ASSERT_EQ(0, mqdev_nl_open(&nl));
	ASSERT_EQ(0, mqdev_nl_subscribe(nl));
	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 4096, 0));

	/* refused before anything is received: the event is still there */
	memset(&u, CANARY, sizeof(u));
	u.ev.sz = sizeof(size_t) - 1;
	EXPECT_EQ(-EINVAL, mqdev_nl_event(nl, &u.ev, 2000));
	for (i = sizeof(size_t); i < sizeof(u); i++)
		ASSERT_EQ(CANARY, u.b[i]);

	/* older: only cmd */
	u.ev.sz = small;
	ASSERT_EQ(1, mqdev_nl_event(nl, &u.ev, 2000));
	EXPECT_EQ(MQDEV_CMD_EVENT_TOPIC_NEW, u.ev.cmd);
	for (i = small; i < sizeof(u); i++)
		ASSERT_EQ(CANARY, u.b[i]);

	/* newer: ours, then zeros up to its sz */
	ASSERT_EQ(0, mqdev_topic_delete(self->fd, self->name));
	memset(&u, CANARY, sizeof(u));
	u.ev.sz = sizeof(u);
	ASSERT_EQ(1, mqdev_nl_event(nl, &u.ev, 2000));
	EXPECT_EQ(MQDEV_CMD_EVENT_TOPIC_DEL, u.ev.cmd);
	EXPECT_STREQ(self->name, u.ev.topic);
	for (i = sizeof(u.ev); i < sizeof(u); i++)
		ASSERT_EQ(0, u.b[i]);
	mqdev_nl_close(nl);
}

static void note_anomaly(void *ctx, const struct mqdev_anomaly *a)
{
	*(size_t *)ctx = a->sz;
}

static int note_group(void *ctx, const struct mqdev_group_info *info)
{
	*(size_t *)ctx = info->sz;
	return 0;
}

/* Structs handed to callbacks carry the library's own sz. */
TEST_F(opts, callback_sz)
{
	struct mqdev_record rec = {
		.len = sizeof(rec), .producer_id = 7, .sequence = 2,
	};
	size_t anomaly_sz = 0, group_sz = 0;
	struct mqdev_verifier *v;
	struct mqdev_consumer *c;
	struct mqdev_nl *nl;

	ASSERT_EQ(0, mqdev_verifier_new(MQDEV_VERIFY_FROM_START, note_anomaly,
					&anomaly_sz, &v));
	EXPECT_EQ(MQDEV_ANOMALY_GAP, mqdev_verifier_check(v, &rec));
	EXPECT_EQ(sizeof(struct mqdev_anomaly), anomaly_sz);
	mqdev_verifier_free(v);

	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 4096, 0));
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_join(c, "opts", MQDEV_SEEK_EARLIEST));
	ASSERT_EQ(0, mqdev_nl_open(&nl));
	EXPECT_EQ(0, mqdev_group_get(nl, "opts", self->name, note_group,
				     &group_sz));
	EXPECT_EQ(sizeof(struct mqdev_group_info), group_sz);
	mqdev_nl_close(nl);
	mqdev_consumer_free(c);
}

TEST_HARNESS_MAIN
