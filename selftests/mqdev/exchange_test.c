// SPDX-License-Identifier: GPL-2.0
/*
 * Exchanges: each type against a table of routing and binding keys, a copy
 * per destination with its offsets, unroutable messages under each policy,
 * permissions, deletion under an attached producer, limits, bad input.
 */
#include <pthread.h>
#include "common.h"
#include "kselftest_harness.h"

static struct mqdev_topic_info ti_unused;

static int bind_ex(int fd, const char *src, const char *dest, const char *key);

static const char *ex_name(const char *test)
{
	static char name[MQDEV_NAME_MAX + 1];
	static unsigned int seq;

	snprintf(name, sizeof(name), "x%.30s-%d-%u", test, getpid(), seq++);
	return name;
}

static int ex_create(int fd, const char *name, uint32_t type, const char *alt)
{
	LIBMQDEV_OPTS(mqdev_exchange_opts, o, .type = type, .alternate = alt);

	return mqdev_exchange_create(fd, name, &o);
}

static int bind_part(int fd, const char *ex, const char *topic,
		     const char *key, uint32_t part)
{
	LIBMQDEV_OPTS(mqdev_bind_opts, o, .partition_set = true,
		      .partition = part);

	return mqdev_exchange_bind(fd, ex, topic, key, &o);
}

/* One message, mandatory or not: copies made, or -errno. */
static int send_key(int pfd, const char *rkey, bool mandatory,
		    struct mqdev_exchange_ack *acks, uint32_t nacks)
{
	LIBMQDEV_OPTS(mqdev_exchange_send_opts, o, .mandatory = mandatory);

	return mqdev_exchange_send(pfd, rkey, "v", 1, &o, acks, nacks);
}

struct route_case {
	uint32_t type;
	const char *binding;
	const char *routing;
	int copies;		/* 1 matches, 0 does not */
};

static const struct route_case cases[] = {
	/* topic: '#' and '*' against words, empty words, no dots */
	{ MQDEV_EXCHANGE_TOPIC, "#", "", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "#", "a", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "#", "a.b.c", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "#", ".", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "*", "", 0 },
	{ MQDEV_EXCHANGE_TOPIC, "*", "a", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "*", "a.b", 0 },
	{ MQDEV_EXCHANGE_TOPIC, "*", ".", 0 },
	{ MQDEV_EXCHANGE_TOPIC, "*.*", ".", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "*.*", "a.", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "*.*", "a", 0 },
	{ MQDEV_EXCHANGE_TOPIC, "a.*", "a.b", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "a.*", "a", 0 },
	{ MQDEV_EXCHANGE_TOPIC, "a.*", "a.b.c", 0 },
	{ MQDEV_EXCHANGE_TOPIC, "a.*", "a.", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "a.#", "a", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "a.#", "a.b.c", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "a.#", "ab", 0 },
	{ MQDEV_EXCHANGE_TOPIC, "#.a", "a", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "#.a", "x.y.a", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "#.a", "a.x", 0 },
	{ MQDEV_EXCHANGE_TOPIC, "#.#", "", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "#.#", "a.b.c", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "#.*", "", 0 },
	{ MQDEV_EXCHANGE_TOPIC, "#.*", "a", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "#.*", "a.b.c", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "a.#.b", "a.b", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "a.#.b", "a.x.y.b", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "a.#.b", "a.x.y", 0 },
	{ MQDEV_EXCHANGE_TOPIC, "a.#.#.b", "a.b", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "*.b.#", "x.b", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "*.b.#", "b", 0 },
	{ MQDEV_EXCHANGE_TOPIC, "a..b", "a..b", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "a.*.b", "a..b", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "a.b", "a.b", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "a.b", "a.b.", 0 },
	{ MQDEV_EXCHANGE_TOPIC, "abc", "abc", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "abc", "abd", 0 },
	{ MQDEV_EXCHANGE_TOPIC, "", "", 1 },
	{ MQDEV_EXCHANGE_TOPIC, "", "a", 0 },
	/* direct: equal keys only; '*' and '#' are characters */
	{ MQDEV_EXCHANGE_DIRECT, "a.b", "a.b", 1 },
	{ MQDEV_EXCHANGE_DIRECT, "a.*", "a.b", 0 },
	{ MQDEV_EXCHANGE_DIRECT, "a.*", "a.*", 1 },
	{ MQDEV_EXCHANGE_DIRECT, "#", "x", 0 },
	{ MQDEV_EXCHANGE_DIRECT, "", "", 1 },
	{ MQDEV_EXCHANGE_DIRECT, "x", "", 0 },
	{ MQDEV_EXCHANGE_DIRECT, "x", "xx", 0 },
	/* fanout: every binding, whatever the keys */
	{ MQDEV_EXCHANGE_FANOUT, "a", "b", 1 },
	{ MQDEV_EXCHANGE_FANOUT, "", "x.y", 1 },
};

FIXTURE(exchange) {
	int fd;
};

FIXTURE_SETUP(exchange)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	if (!(mqdev_features(self->fd) & MQDEV_FEAT_EXCHANGES))
		SKIP(return, "no MQDEV_FEAT_EXCHANGES");
}

FIXTURE_TEARDOWN(exchange)
{
	close(self->fd);
}

TEST_F(exchange, routing_table)
{
	struct mqdev_exchange_ack ack;
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct route_case *rc = &cases[i];
		const char *topic = strdup(topic_name("rt"));
		const char *ex = strdup(ex_name("rt"));
		int pfd, n;

		ASSERT_EQ(0, create_topic(self->fd, topic, 1, 0, 0));
		ASSERT_EQ(0, ex_create(self->fd, ex, rc->type, NULL));
		ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex, topic,
						 rc->binding, NULL));
		pfd = ex_producer(ex);
		ASSERT_LE(0, pfd);
		n = send_key(pfd, rc->routing, true, &ack, 1);
		EXPECT_EQ(rc->copies ? 1 : -EHOSTUNREACH, n) {
			TH_LOG("%u: '%s' against '%s', type %u", i,
			       rc->binding, rc->routing, rc->type);
		}
		close(pfd);
		EXPECT_EQ(0, mqdev_exchange_delete(self->fd, ex));
		EXPECT_EQ(0, mqdev_topic_delete(self->fd, topic));
	}
}

/*
 * Keys of dots alone have more words than bytes halved (every word may be
 * empty): a binding and a routing key of 255 dots are routed, not written
 * past the words' arrays; a binding of as many '#' words as allowed is
 * matched, and one more is refused.
 */
TEST_F(exchange, keys_of_dots_and_hashes)
{
	const char *topic = strdup(topic_name("dots"));
	const char *ex = strdup(ex_name("dots"));
	char dots[256], hashes[64];
	struct mqdev_exchange_ack ack;
	int pfd, i, n = 2 * MQDEV_ROUTING_KEY_MAX_HASHES - 1;

	memset(dots, '.', 255);
	dots[255] = 0;
	for (i = 0; i < n + 2; i++)
		hashes[i] = i % 2 ? '.' : '#';
	hashes[n + 2] = 0;		/* one '#' word too many */
	ASSERT_EQ(0, create_topic(self->fd, topic, 1, 0, 0));
	ASSERT_EQ(0, ex_create(self->fd, ex, MQDEV_EXCHANGE_TOPIC, NULL));
	ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex, topic, dots, NULL));
	EXPECT_EQ(-E2BIG, mqdev_exchange_bind(self->fd, ex, topic, hashes,
					      NULL));
	hashes[n] = 0;			/* as many as allowed */
	ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex, topic, hashes, NULL));
	pfd = ex_producer(ex);
	ASSERT_LE(0, pfd);
	EXPECT_EQ(1, send_key(pfd, dots, true, &ack, 1));
	EXPECT_EQ(1, send_key(pfd, "a.b.c", true, &ack, 1));
	EXPECT_EQ(1, send_key(pfd, "", true, &ack, 1));
	close(pfd);
	EXPECT_EQ(0, mqdev_exchange_delete(self->fd, ex));
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, topic));
}

/* Many patterns in one trie: each routing key finds exactly its own. */
TEST_F(exchange, one_trie_many_patterns)
{
	static const char *const pats[] = {
		"a.b.c", "a.*.c", "a.#", "#.c", "*.b.*", "x.y", "#",
	};
	static const struct { const char *key; unsigned int mask; } keys[] = {
		{ "a.b.c", 0x7f & ~0x20 },	/* all but x.y */
		{ "a.q.c", 0x01 << 1 | 0x04 | 0x08 | 0x40 },
		{ "x.y", 0x20 | 0x40 },
		{ "q", 0x40 },
		{ "q.b.r", 0x10 | 0x40 },
	};
	char topics[7][MQDEV_NAME_SIZE];
	struct mqdev_exchange_ack acks[8];
	const char *ex = strdup(ex_name("many"));
	unsigned int i, j, got;
	int pfd, n;

	ASSERT_EQ(0, ex_create(self->fd, ex, MQDEV_EXCHANGE_TOPIC, NULL));
	for (i = 0; i < 7; i++) {
		snprintf(topics[i], sizeof(topics[i]), "%s", topic_name("many"));
		ASSERT_EQ(0, create_topic(self->fd, topics[i], 1, 0, 0));
		ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex, topics[i],
						 pats[i], NULL));
	}
	pfd = ex_producer(ex);
	ASSERT_LE(0, pfd);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		n = send_key(pfd, keys[i].key, true, acks, 8);
		ASSERT_LT(0, n);
		for (got = 0, j = 0; j < (unsigned int)n; j++) {
			unsigned int t;

			for (t = 0; t < 7; t++)
				if (!strcmp(acks[j].topic, topics[t]))
					got |= 1U << t;
		}
		EXPECT_EQ(keys[i].mask, got) TH_LOG("key %s", keys[i].key);
		EXPECT_EQ(__builtin_popcount(keys[i].mask), n);
	}
	close(pfd);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
	for (i = 0; i < 7; i++)
		mqdev_topic_delete(self->fd, topics[i]);
}

/* A copy per destination, with its topic, partition and offset. */
TEST_F(exchange, copies_and_offsets)
{
	char t1[MQDEV_NAME_SIZE], t2[MQDEV_NAME_SIZE], t3[MQDEV_NAME_SIZE];
	struct mqdev_binding_info binds[8];
	struct mqdev_exchange_ack acks[8];
	struct mqdev_exchange_msg msgs[2];
	struct mqdev_exchange_info info;
	struct mqdev_topic_info ti;
	const char *ex = strdup(ex_name("copies"));
	int pfd, i;

	snprintf(t1, sizeof(t1), "%s", topic_name("c1"));
	snprintf(t2, sizeof(t2), "%s", topic_name("c2"));
	snprintf(t3, sizeof(t3), "%s", topic_name("c3"));
	ASSERT_EQ(0, create_topic(self->fd, t1, 1, 0, 0));
	ASSERT_EQ(0, create_topic(self->fd, t2, 1, 0, 0));
	ASSERT_EQ(0, create_topic(self->fd, t3, 4, 0, 0));
	ASSERT_EQ(0, ex_create(self->fd, ex, MQDEV_EXCHANGE_TOPIC, NULL));
	ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex, t1, "a.*", NULL));
	ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex, t2, "#", NULL));
	/* the same destination again: still one copy there */
	ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex, t2, "a.b", NULL));
	ASSERT_EQ(0, bind_part(self->fd, ex, t3, "a.b", 2));
	ASSERT_EQ(0, bind_part(self->fd, ex, t3, "nomatch", 1));
	EXPECT_EQ(-EEXIST, mqdev_exchange_bind(self->fd, ex, t1, "a.*", NULL));
	EXPECT_EQ(-EINVAL, bind_part(self->fd, ex, t3, "a", 4));

	pfd = ex_producer(ex);
	ASSERT_LE(0, pfd);
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < 2; i++) {
		msgs[i].routing_key = (uintptr_t)"a.b";
		msgs[i].routing_key_len = 3;
		msgs[i].value = (uintptr_t)"hello";
		msgs[i].value_len = 5;
	}
	ASSERT_EQ(2, mqdev_exchange_produce(pfd, msgs, 2, acks, 8));
	for (i = 0; i < 2; i++) {
		int j, seen = 0;

		EXPECT_EQ(3, msgs[i].nr_acks);
		EXPECT_EQ(3 * i, msgs[i].first_ack);
		EXPECT_EQ(0, msgs[i].status);
		for (j = msgs[i].first_ack; j < msgs[i].first_ack + 3; j++) {
			EXPECT_EQ(i, acks[j].offset) TH_LOG("%s", acks[j].topic);
			if (!strcmp(acks[j].topic, t3)) {
				EXPECT_EQ(2, acks[j].partition);
				seen |= 4;
			}
			if (!strcmp(acks[j].topic, t1))
				seen |= 1;
			if (!strcmp(acks[j].topic, t2))
				seen |= 2;
		}
		EXPECT_EQ(7, seen);
	}
	ASSERT_EQ(0, mqdev_topic_describe(self->fd, t2, &ti, NULL, 0));
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, ex, &info, binds, 8));
	EXPECT_EQ(5, info.bindings_count);
	EXPECT_EQ(2, info.routed);
	EXPECT_EQ(1, info.producers);
	EXPECT_EQ(MQDEV_EXCHANGE_TOPIC, info.type);
	for (i = 0; i < 5; i++)
		EXPECT_EQ(strcmp(binds[i].key, "nomatch") ? 2 : 0,
			  binds[i].routed) TH_LOG("%s", binds[i].key);
	EXPECT_EQ(2, binds[3].partition);
	EXPECT_EQ(1, binds[4].partition);
	EXPECT_EQ(MQDEV_PARTITION_ANY, binds[0].partition);

	/* no room for three acknowledgements: refused, nothing appended */
	EXPECT_EQ(-ENOBUFS, mqdev_exchange_produce(pfd, msgs, 1, acks, 2));
	ASSERT_EQ(0, mqdev_exchange_unbind(self->fd, ex, t2, "#", NULL));
	EXPECT_EQ(-ENOENT, mqdev_exchange_unbind(self->fd, ex, t2, "#", NULL));
	ASSERT_EQ(1, mqdev_exchange_produce(pfd, msgs, 1, acks, 3));
	EXPECT_EQ(3, msgs[0].nr_acks);
	ASSERT_EQ(0, mqdev_exchange_unbind(self->fd, ex, t2, "a.b", NULL));
	ASSERT_EQ(1, mqdev_exchange_produce(pfd, msgs, 1, acks, 3));
	EXPECT_EQ(2, msgs[0].nr_acks);
	close(pfd);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
	mqdev_topic_delete(self->fd, t1);
	mqdev_topic_delete(self->fd, t2);
	mqdev_topic_delete(self->fd, t3);
}

/* Unroutable: dropped and counted, refused when mandatory, or alternated. */
TEST_F(exchange, unroutable)
{
	const char *ex = strdup(ex_name("unr"));
	const char *alt_ex = strdup(ex_name("alt"));
	const char *alt = strdup(topic_name("alt"));
	struct mqdev_exchange_ack ack;
	struct mqdev_exchange_info info;
	struct mqdev_exchange_msg msg = {
		.routing_key = (uintptr_t)"nowhere", .routing_key_len = 7,
		.value = (uintptr_t)"v", .value_len = 1,
	};
	int pfd;

	ASSERT_EQ(0, ex_create(self->fd, ex, MQDEV_EXCHANGE_DIRECT, NULL));
	pfd = ex_producer(ex);
	ASSERT_LE(0, pfd);
	/* dropped needs no room for acknowledgements */
	ASSERT_EQ(1, mqdev_exchange_produce(pfd, &msg, 1, NULL, 0));
	EXPECT_EQ(MQDEV_EXMSG_DROPPED, msg.status);
	EXPECT_EQ(0, msg.nr_acks);
	EXPECT_EQ(-ENOENT, send_key(pfd, "nowhere", false, &ack, 1));
	EXPECT_EQ(-EHOSTUNREACH, send_key(pfd, "nowhere", true, &ack, 1));
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, ex, &info, NULL, 0));
	EXPECT_EQ(2, info.dropped);
	EXPECT_EQ(1, info.refused);
	EXPECT_EQ(0, info.routed);
	close(pfd);

	ASSERT_EQ(0, create_topic(self->fd, alt, 2, 0, 0));
	EXPECT_EQ(-ENOENT, ex_create(self->fd, alt_ex, MQDEV_EXCHANGE_TOPIC,
				     "no-such-topic"));
	ASSERT_EQ(0, ex_create(self->fd, alt_ex, MQDEV_EXCHANGE_TOPIC, alt));
	pfd = ex_producer(alt_ex);
	ASSERT_LE(0, pfd);
	/* the alternate takes it, mandatory or not */
	msg.flags = MQDEV_EXMSG_MANDATORY;
	EXPECT_EQ(-ENOBUFS, mqdev_exchange_produce(pfd, &msg, 1, NULL, 0));
	ASSERT_EQ(1, mqdev_exchange_produce(pfd, &msg, 1, &ack, 1));
	EXPECT_EQ(MQDEV_EXMSG_ALTERNATE, msg.status);
	EXPECT_EQ(1, msg.nr_acks);
	EXPECT_STREQ(alt, ack.topic);
	EXPECT_EQ(0, ack.offset);
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, alt_ex, &info, NULL, 0));
	EXPECT_STREQ(alt, info.alternate);
	EXPECT_EQ(1, info.alternated);
	close(pfd);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, alt_ex));
	mqdev_topic_delete(self->fd, alt);
}

TEST_F(exchange, delete_under_producer)
{
	const char *ex = strdup(ex_name("del"));
	const char *topic = strdup(topic_name("del"));
	struct mqdev_exchange_ack ack;
	int pfd;

	ASSERT_EQ(0, create_topic(self->fd, topic, 1, 0, 0));
	ASSERT_EQ(0, ex_create(self->fd, ex, MQDEV_EXCHANGE_FANOUT, NULL));
	ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex, topic, NULL, NULL));
	pfd = ex_producer(ex);
	ASSERT_LE(0, pfd);
	ASSERT_EQ(1, send_key(pfd, "k", true, &ack, 1));
	/* an attached handle is an exchange's only */
	EXPECT_EQ(-EBUSY, mqdev_exchange_attach(pfd, ex));
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
	EXPECT_EQ(-EIDRM, send_key(pfd, "k", true, &ack, 1));
	EXPECT_EQ(-ENOENT, mqdev_exchange_attach(self->fd, ex));
	/* the name is free again, and the old handle still sees the old one */
	ASSERT_EQ(0, ex_create(self->fd, ex, MQDEV_EXCHANGE_FANOUT, NULL));
	EXPECT_EQ(-EIDRM, send_key(pfd, "k", true, &ack, 1));
	close(pfd);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
	/* a deleted topic's binding goes with it: nothing routes there */
	ASSERT_EQ(0, ex_create(self->fd, ex, MQDEV_EXCHANGE_FANOUT, NULL));
	ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex, topic, NULL, NULL));
	pfd = ex_producer(ex);
	ASSERT_LE(0, pfd);
	ASSERT_EQ(0, mqdev_topic_delete(self->fd, topic));
	EXPECT_EQ(-EHOSTUNREACH, send_key(pfd, "k", true, &ack, 1));
	close(pfd);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
}

TEST_F(exchange, bad_input)
{
	const char *ex = strdup(ex_name("bad"));
	const char *topic = strdup(topic_name("bad"));
	struct mqdev_exchange_create cr = {};
	struct mqdev_exchange_bind b = {};
	struct mqdev_exchange_produce p = {};
	struct mqdev_exchange_msg m = {};
	char longkey[300];
	uint64_t off;
	int pfd;

	strcpy(cr.name, ex);
	cr.type = MQDEV_EXCHANGE_TYPES;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, MQDEV_IOC_EXCHANGE_CREATE, &cr));
	cr.type = MQDEV_EXCHANGE_TOPIC;
	cr.flags = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, MQDEV_IOC_EXCHANGE_CREATE, &cr));
	cr.flags = 0;
	cr.reserved = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, MQDEV_IOC_EXCHANGE_CREATE, &cr));
	cr.reserved = 0;
	cr.mode = 01000;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, MQDEV_IOC_EXCHANGE_CREATE, &cr));
	cr.mode = 0;
	ASSERT_EQ(0, xioctl(self->fd, MQDEV_IOC_EXCHANGE_CREATE, &cr));
	EXPECT_EQ(-EEXIST, xioctl(self->fd, MQDEV_IOC_EXCHANGE_CREATE, &cr));
	ASSERT_EQ(0, create_topic(self->fd, topic, 1, 0, 0));

	/* '*' and '#' are whole words of a topic key */
	EXPECT_EQ(-EINVAL, mqdev_exchange_bind(self->fd, ex, topic, "a*", NULL));
	EXPECT_EQ(-EINVAL, mqdev_exchange_bind(self->fd, ex, topic, "a.#b", NULL));
	memset(longkey, 'a', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = 0;
	EXPECT_EQ(-EINVAL, mqdev_exchange_bind(self->fd, ex, topic, longkey,
					       NULL));
	EXPECT_EQ(-ENOENT, mqdev_exchange_bind(self->fd, ex, "no-such", "a",
					       NULL));
	strcpy(b.exchange, ex);
	strcpy(b.topic, topic);
	b.partition = MQDEV_PARTITION_ANY;
	b.key = (uintptr_t)"k\0k";
	b.key_len = 3;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, MQDEV_IOC_EXCHANGE_BIND, &b));
	b.key_len = 1;
	b.reserved = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, MQDEV_IOC_EXCHANGE_BIND, &b));
	b.reserved = 0;
	b.key = 8;
	EXPECT_EQ(-EFAULT, xioctl(self->fd, MQDEV_IOC_EXCHANGE_BIND, &b));

	/* producing needs an attached handle, and a sane request */
	EXPECT_EQ(-EBADFD, xioctl(self->fd, MQDEV_IOC_EXCHANGE_PRODUCE, &p));
	pfd = ex_producer(ex);
	ASSERT_LE(0, pfd);
	p.msg_size = sizeof(struct mqdev_exchange_msg) - 8;
	EXPECT_EQ(-EINVAL, xioctl(pfd, MQDEV_IOC_EXCHANGE_PRODUCE, &p));
	p.msg_size = sizeof(struct mqdev_exchange_msg);
	p.flags = 1;
	EXPECT_EQ(-EINVAL, xioctl(pfd, MQDEV_IOC_EXCHANGE_PRODUCE, &p));
	p.flags = 0;
	EXPECT_EQ(0, xioctl(pfd, MQDEV_IOC_EXCHANGE_PRODUCE, &p));
	m.routing_key = (uintptr_t)longkey;
	m.routing_key_len = 256;
	EXPECT_EQ(-EINVAL, mqdev_exchange_produce(pfd, &m, 1, NULL, 0));
	m.routing_key_len = 1;
	m.flags = 2;
	EXPECT_EQ(-EINVAL, mqdev_exchange_produce(pfd, &m, 1, NULL, 0));
	m.flags = 0;
	m.record_flags = MQDEV_RECORD_TXN;
	EXPECT_EQ(-EINVAL, mqdev_exchange_produce(pfd, &m, 1, NULL, 0));
	m.record_flags = 0;
	m.routing_key = 8;
	EXPECT_EQ(-EFAULT, mqdev_exchange_produce(pfd, &m, 1, NULL, 0));
	/* a producer of an exchange is no topic's */
	EXPECT_EQ(-EBADFD, produce_one(pfd, 0, NULL, 0, "v", 1, &off));
	close(pfd);
	EXPECT_EQ(-ENOTTY, xioctl(self->fd, _IOW(MQDEV_IOC_MAGIC, 0x4f, int),
				  &p));
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
	mqdev_topic_delete(self->fd, topic);
}

TEST_F(exchange, list)
{
	const char *ex = strdup(ex_name("list"));
	char (*names)[MQDEV_NAME_SIZE] = NULL;
	int n, i, found = 0;

	ASSERT_EQ(0, ex_create(self->fd, ex, MQDEV_EXCHANGE_FANOUT, NULL));
	n = mqdev_exchange_list(self->fd, &names);
	ASSERT_LE(1, n);
	for (i = 0; i < n; i++)
		found += !strcmp(names[i], ex);
	EXPECT_EQ(1, found);
	free(names);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
}

/*
 * DESCRIBE copies the bindings out a few at a time: every room, below,
 * at and past the rounds' size, gets the first bindings in order and the
 * whole count; a binding unbound between calls is not seen again.
 */
TEST_F(exchange, describe_in_rounds)
{
	static const unsigned int rooms[] = { 0, 1, 3, 4, 5, 8, 9, 11, 20 };
	const char *topic = strdup(topic_name("rounds"));
	const char *ex = strdup(ex_name("rounds"));
	struct mqdev_binding_info bi[20];
	struct mqdev_exchange_info info;
	unsigned int i, r, room;
	char key[16];

	ASSERT_EQ(0, create_topic(self->fd, topic, 1, 0, 0));
	ASSERT_EQ(0, ex_create(self->fd, ex, MQDEV_EXCHANGE_DIRECT, NULL));
	for (i = 0; i < 11; i++) {
		snprintf(key, sizeof(key), "k%u", i);
		ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex, topic, key,
						 NULL));
	}
	for (r = 0; r < ARRAY_SIZE(rooms); r++) {
		room = rooms[r];
		memset(bi, 0xa5, sizeof(bi));
		ASSERT_EQ(0, mqdev_exchange_describe(self->fd, ex, &info,
						     room ? bi : NULL, room));
		EXPECT_EQ(11, info.bindings_count);
		for (i = 0; i < room && i < 11; i++) {
			snprintf(key, sizeof(key), "k%u", i);
			EXPECT_EQ(strlen(key), bi[i].key_len);
			EXPECT_EQ(0, memcmp(bi[i].key, key, strlen(key)))
				TH_LOG("room %u binding %u", room, i);
			EXPECT_STREQ(topic, bi[i].topic);
		}
		/* nothing written past the bindings there are */
		for (; i < room; i++)
			EXPECT_EQ(0xa5a5a5a5, bi[i].key_len);
	}
	ASSERT_EQ(0, mqdev_exchange_unbind(self->fd, ex, topic, "k4", NULL));
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, ex, &info, bi, 20));
	ASSERT_EQ(10, info.bindings_count);
	EXPECT_EQ(0, memcmp(bi[3].key, "k3", 2));
	EXPECT_EQ(0, memcmp(bi[4].key, "k5", 2));
	EXPECT_EQ(0, memcmp(bi[9].key, "k10", 3));
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
	mqdev_topic_delete(self->fd, topic);
}

/* ---- permissions, as users 1000 and 1001 ------------------------------ */

struct perm_try {
	const char *ex;
	const char *topic;
	int what;
};

enum { TRY_BIND, TRY_ATTACH, TRY_DELETE, TRY_DESCRIBE, TRY_UNBIND, TRY_MAKE };

static int perm_as(void *arg)
{
	const struct perm_try *t = arg;
	struct mqdev_exchange_info info;
	int fd = mqdev_open(), err = -EINVAL;

	if (fd < 0)
		return 100;
	switch (t->what) {
	case TRY_BIND:
		err = mqdev_exchange_bind(fd, t->ex, t->topic, "k", NULL);
		break;
	case TRY_ATTACH:
		err = mqdev_exchange_attach(fd, t->ex);
		break;
	case TRY_DELETE:
		err = mqdev_exchange_delete(fd, t->ex);
		break;
	case TRY_DESCRIBE:
		err = mqdev_exchange_describe(fd, t->ex, &info, NULL, 0);
		break;
	case TRY_UNBIND:
		err = mqdev_exchange_unbind(fd, t->ex, t->topic, "k", NULL);
		break;
	case TRY_MAKE:
		err = ex_create(fd, t->ex, MQDEV_EXCHANGE_DIRECT, NULL);
		break;
	}
	close(fd);
	return -err;
}

static int try_as(uid_t uid, const char *ex, const char *topic, int what)
{
	struct perm_try t = { ex, topic, what };

	return -as_user(uid, perm_as, &t);
}

static int make_topic_as(void *arg)
{
	int fd = mqdev_open(), err;
	LIBMQDEV_OPTS(mqdev_topic_opts, o, .mode = 0600);

	if (fd < 0)
		return 100;
	err = mqdev_topic_create(fd, arg, &o);
	close(fd);
	return -err;
}

TEST_F(exchange, permissions)
{
	const char *ex = strdup(ex_name("perm"));
	const char *mine = strdup(topic_name("perm-mine"));	/* 0644, root */
	const char *theirs = strdup(topic_name("perm-1000"));	/* 0600, 1000 */
	const char *their_ex = strdup(ex_name("perm-1000"));

	if (geteuid())
		SKIP(return, "needs root to become users 1000 and 1001");
	ASSERT_EQ(0, create_topic(self->fd, mine, 1, 0, 0));
	ASSERT_EQ(0, as_user(USER_UID, make_topic_as, (void *)theirs));
	/* an exchange of root's, 0644: others may read, not write */
	ASSERT_EQ(0, ex_create(self->fd, ex, MQDEV_EXCHANGE_DIRECT, NULL));
	EXPECT_EQ(0, try_as(USER_UID, ex, mine, TRY_DESCRIBE));
	EXPECT_EQ(-EACCES, try_as(USER_UID, ex, mine, TRY_ATTACH));
	EXPECT_EQ(-EACCES, try_as(USER_UID, ex, mine, TRY_BIND));
	EXPECT_EQ(-EPERM, try_as(USER_UID, ex, mine, TRY_DELETE));

	/* user 1000's exchange: 1000 may not bind to a topic it cannot write */
	ASSERT_EQ(0, try_as(USER_UID, their_ex, NULL, TRY_MAKE));
	EXPECT_EQ(-EACCES, try_as(USER_UID, their_ex, mine, TRY_BIND));
	EXPECT_EQ(0, try_as(USER_UID, their_ex, theirs, TRY_BIND));
	EXPECT_EQ(0, try_as(USER_UID, their_ex, theirs, TRY_ATTACH));
	/* 1001 may look at it, not use it, unbind from it, or delete it */
	EXPECT_EQ(0, try_as(OTHER_UID, their_ex, theirs, TRY_DESCRIBE));
	EXPECT_EQ(-EACCES, try_as(OTHER_UID, their_ex, theirs, TRY_ATTACH));
	EXPECT_EQ(-EACCES, try_as(OTHER_UID, their_ex, theirs, TRY_UNBIND));
	EXPECT_EQ(-EPERM, try_as(OTHER_UID, their_ex, theirs, TRY_DELETE));
	EXPECT_EQ(0, try_as(USER_UID, their_ex, theirs, TRY_UNBIND));
	EXPECT_EQ(0, try_as(USER_UID, their_ex, theirs, TRY_DELETE));

	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
	mqdev_topic_delete(self->fd, mine);
	mqdev_topic_delete(self->fd, theirs);
}

/* ---- bindings changing under producers, then the exchange deleted ------ */

/*
 * How long from its start a race test goes on, once it has run its
 * minimum of rounds.  On the debug kernel under emulation a round can take
 * ten times what it takes on 6.12, and a bad boot doubles that: a fixed
 * count of rounds came near the harness's 30 s there and, once, passed it.
 */
#define RACE_MS		8000

struct race {
	const char *ex;
	const char *topic;
	int pfd;
	uint64_t copies;	/* acknowledged by this producer */
	int end;		/* the error that ended it */
};

static void *race_producer(void *arg)
{
	struct race *r = arg;
	struct mqdev_exchange_ack acks[4];
	char key[32];
	int i, n;

	for (i = 0;; i++) {
		snprintf(key, sizeof(key), "k.%d.x", i % 50);
		n = send_key(r->pfd, key, false, acks, 4);
		if (n == -ENOENT)	/* no binding at that moment: dropped */
			continue;
		if (n < 0) {
			r->end = n;
			return NULL;
		}
		r->copies += n;
	}
}

TEST_F(exchange, bindings_change_under_producers)
{
	const char *ex = strdup(ex_name("race"));
	const char *topic = strdup(topic_name("race"));
	uint64_t start = mono_ms();
	struct mqdev_partition_info part;
	struct mqdev_exchange_info info;
	struct race r[2];
	pthread_t th[2];
	char key[32];
	int i, round;

	ASSERT_EQ(0, create_topic(self->fd, topic, 1, 1 << 20,
				  MQDEV_TOPIC_OVERWRITE));
	ASSERT_EQ(0, ex_create(self->fd, ex, MQDEV_EXCHANGE_TOPIC, NULL));
	for (i = 0; i < 2; i++) {
		r[i] = (struct race){ .ex = ex, .topic = topic };
		r[i].pfd = ex_producer(ex);
		ASSERT_LE(0, r[i].pfd);
		ASSERT_EQ(0, pthread_create(&th[i], NULL, race_producer, &r[i]));
	}
	/* patterns come and go, the trie grows and shrinks under them */
	for (round = 0; round < 20; round++) {
		if (round >= 3 && mono_ms() - start > RACE_MS)
			break;
		for (i = 0; i < 50; i++) {
			snprintf(key, sizeof(key), i % 2 ? "k.%d.#" : "*.%d.x", i);
			ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex, topic, key,
							 NULL));
		}
		for (i = 0; i < 50; i++) {
			snprintf(key, sizeof(key), i % 2 ? "k.%d.#" : "*.%d.x", i);
			ASSERT_EQ(0, mqdev_exchange_unbind(self->fd, ex, topic,
							   key, NULL));
		}
	}
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, ex, &info, NULL, 0));
	EXPECT_EQ(0, info.bindings_count);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, pthread_join(th[i], NULL));
		EXPECT_EQ(-EIDRM, r[i].end);
		close(r[i].pfd);
	}
	/* every copy acknowledged is in the topic, and nothing else is */
	ASSERT_EQ(0, mqdev_topic_describe(self->fd, topic, &ti_unused, &part, 1));
	EXPECT_EQ(r[0].copies + r[1].copies, part.next_offset);
	mqdev_topic_delete(self->fd, topic);
}

/* ---- limits ----------------------------------------------------------- */

TEST_F(exchange, limits)
{
	unsigned long bindings = get_param("max_exchange_bindings");
	unsigned long per_user = get_param("max_user_exchanges");
	const char *ex = strdup(ex_name("lim"));
	const char *topic = strdup(topic_name("lim"));
	const char *other = strdup(ex_name("lim-1000"));

	if (geteuid())
		SKIP(return, "needs root to set the module's parameters");
	ASSERT_EQ(0, create_topic(self->fd, topic, 1, 0, 0));
	ASSERT_EQ(0, ex_create(self->fd, ex, MQDEV_EXCHANGE_TOPIC, NULL));
	ASSERT_EQ(0, set_param("max_exchange_bindings", 2));
	EXPECT_EQ(0, mqdev_exchange_bind(self->fd, ex, topic, "a", NULL));
	EXPECT_EQ(0, mqdev_exchange_bind(self->fd, ex, topic, "b.#", NULL));
	EXPECT_EQ(-ENOSPC, mqdev_exchange_bind(self->fd, ex, topic, "c", NULL));
	EXPECT_EQ(0, mqdev_exchange_unbind(self->fd, ex, topic, "a", NULL));
	EXPECT_EQ(0, mqdev_exchange_bind(self->fd, ex, topic, "c", NULL));
	ASSERT_EQ(0, set_param("max_exchange_bindings", bindings));

	/* a user's exchanges are counted: none allowed, none made */
	ASSERT_EQ(0, set_param("max_user_exchanges", 0));
	EXPECT_EQ(-EDQUOT, try_as(USER_UID, other, NULL, TRY_MAKE));
	ASSERT_EQ(0, set_param("max_user_exchanges", per_user));
	EXPECT_EQ(0, try_as(USER_UID, other, NULL, TRY_MAKE));
	EXPECT_EQ(0, mqdev_exchange_delete(self->fd, other));

	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
	mqdev_topic_delete(self->fd, topic);
}

/*
 * Calls of more messages than one chunk (the kernel copies 64 at once when
 * the element is its size, else one by one): every message routed, its
 * out fields written back, and a bad one in a later chunk ends the call
 * there.
 */
TEST_F(exchange, many_messages_a_call)
{
	const char *topic = strdup(topic_name("many"));
	const char *ex = strdup(ex_name("manymsg"));
	static struct mqdev_exchange_ack acks[200];
	static char buf[200 * (sizeof(struct mqdev_exchange_msg) + 8)];
	struct mqdev_exchange_produce p;
	struct mqdev_exchange_msg *m;
	unsigned int i, size, round;
	int pfd;

	ASSERT_EQ(0, create_topic(self->fd, topic, 1, 0, 0));
	ASSERT_EQ(0, ex_create(self->fd, ex, MQDEV_EXCHANGE_DIRECT, NULL));
	ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex, topic, "k", NULL));
	pfd = ex_producer(ex);
	ASSERT_LE(0, pfd);
	for (round = 0; round < 2; round++) {
		size = sizeof(*m) + 8 * round;
		memset(buf, 0, sizeof(buf));
		for (i = 0; i < 150; i++) {
			m = (void *)(buf + i * size);
			m->routing_key = (uintptr_t)"k";
			m->routing_key_len = 1;
			m->value = (uintptr_t)"v";
			m->value_len = 1;
		}
		/* message 130 has a flag no one knows */
		((struct mqdev_exchange_msg *)(buf + 130 * size))->flags = 1U << 30;
		memset(&p, 0, sizeof(p));
		p.msgs = (uintptr_t)buf;
		p.count = 150;
		p.msg_size = size;
		p.acks = (uintptr_t)acks;
		p.acks_count = 200;
		p.ack_size = sizeof(acks[0]);
		ASSERT_EQ(130, ioctl(pfd, MQDEV_IOC_EXCHANGE_PRODUCE, &p))
			TH_LOG("element size %u", size);
		for (i = 0; i < 130; i++) {
			m = (void *)(buf + i * size);
			ASSERT_EQ(1, m->nr_acks);
			ASSERT_EQ(i, m->first_ack);
			ASSERT_EQ(130 * round + i, acks[i].offset);
		}
	}
	close(pfd);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
	mqdev_topic_delete(self->fd, topic);
}

/* ---- bounded matching --------------------------------------------------- */

/* The @k-word binding key of @i: its bits say '*' (1) or "a" (0). */
static void star_key(char *buf, unsigned int k, unsigned int i)
{
	unsigned int j;

	for (j = 0; j < k; j++, buf += 2) {
		buf[0] = i >> j & 1 ? '*' : 'a';
		buf[1] = j + 1 < k ? '.' : 0;
	}
}

/*
 * Every key of k words "a" or "*" matches a routing key of k words "a":
 * 2^k nodes are alive at the k-th word.  2^8 is as many as a match keeps;
 * 2^9 is refused (E2BIG), not walked.  An exchange's trie nodes are
 * capped by max_exchange_nodes.
 */
TEST_F(exchange, match_caps)
{
	unsigned long nodes = get_param("max_exchange_nodes");
	const char *topic = strdup(topic_name("caps"));
	const char *ex = strdup(ex_name("caps"));
	char key[32], rkey[32];
	struct mqdev_exchange_ack ack;
	unsigned int i, k;
	int pfd;

	ASSERT_EQ(0, create_topic(self->fd, topic, 1, 0, 0));
	for (k = 8; k <= 9; k++) {
		ASSERT_EQ(0, ex_create(self->fd, ex, MQDEV_EXCHANGE_TOPIC,
				       NULL));
		for (i = 0; i < 1U << k; i++) {
			star_key(key, k, i);
			ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex, topic,
							 key, NULL));
		}
		star_key(rkey, k, 0);
		pfd = ex_producer(ex);
		ASSERT_LE(0, pfd);
		/* one topic: one copy, however many bindings matched */
		EXPECT_EQ(k == 8 ? 1 : -E2BIG,
			  send_key(pfd, rkey, true, &ack, 1)) {
			TH_LOG("%u words", k);
		}
		/* a key whose walk dies early is routed as ever */
		EXPECT_EQ(-EHOSTUNREACH, send_key(pfd, "b", true, &ack, 1));
		close(pfd);
		ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
	}

	if (geteuid())
		SKIP(return, "needs root to set the module's parameters");
	ASSERT_EQ(0, ex_create(self->fd, ex, MQDEV_EXCHANGE_TOPIC, NULL));
	ASSERT_EQ(0, set_param("max_exchange_nodes", 4));
	EXPECT_EQ(0, mqdev_exchange_bind(self->fd, ex, topic, "a.b.c", NULL));
	EXPECT_EQ(-E2BIG, mqdev_exchange_bind(self->fd, ex, topic, "x", NULL));
	/* no new node: fits */
	EXPECT_EQ(0, mqdev_exchange_bind(self->fd, ex, topic, "a.b", NULL));
	EXPECT_EQ(0, mqdev_exchange_unbind(self->fd, ex, topic, "a.b.c",
					   NULL));
	EXPECT_EQ(0, mqdev_exchange_bind(self->fd, ex, topic, "x", NULL));
	ASSERT_EQ(0, set_param("max_exchange_nodes", nodes));
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
	mqdev_topic_delete(self->fd, topic);
}

/* ---- the routing work budget ------------------------------------------ */

/*
 * A topic exchange whose 128 keys "#" then 7 words '' or '*' keep 255
 * nodes alive for each word of a routing key of 255 dots: about 65,000
 * trie steps a message, just within max_route_work by default.
 */
static int heavy_topic_ex(int fd, const char *ex, const char *topic)
{
	char key[32], *p;
	unsigned int i, j;
	int err;

	err = ex_create(fd, ex, MQDEV_EXCHANGE_TOPIC, NULL);
	for (i = 0; i < 128 && !err; i++) {
		p = key + sprintf(key, "#");
		for (j = 0; j < 7; j++)
			p += sprintf(p, ".%s", i >> j & 1 ? "*" : "");
		err = mqdev_exchange_bind(fd, ex, topic, key, NULL);
	}
	return err;
}

static char dots[MQDEV_ROUTING_KEY_MAX + 1];

/*
 * The budget is one message's, across the exchanges it passes: one heavy
 * exchange is routed, a fanout exchange bound to two is refused (E2BIG)
 * and counts it; a smaller budget refuses the one too.
 */
TEST_F(exchange, route_work_budget)
{
	unsigned long work = get_param("max_route_work");
	const char *topic = strdup(topic_name("budget"));
	const char *t1 = strdup(ex_name("budget-t1"));
	const char *t2 = strdup(ex_name("budget-t2"));
	const char *f = strdup(ex_name("budget-f"));
	struct mqdev_exchange_info info;
	struct mqdev_exchange_ack ack;
	int pfd, ffd;

	memset(dots, '.', MQDEV_ROUTING_KEY_MAX);
	ASSERT_EQ(0, create_topic(self->fd, topic, 1, 0, 0));
	ASSERT_EQ(0, heavy_topic_ex(self->fd, t1, topic));
	ASSERT_EQ(0, heavy_topic_ex(self->fd, t2, topic));
	ASSERT_EQ(0, ex_create(self->fd, f, MQDEV_EXCHANGE_FANOUT, NULL));
	ASSERT_EQ(0, bind_ex(self->fd, f, t1, ""));
	ASSERT_EQ(0, bind_ex(self->fd, f, t2, ""));
	pfd = ex_producer(t1);
	ASSERT_LE(0, pfd);
	ffd = ex_producer(f);
	ASSERT_LE(0, ffd);
	EXPECT_EQ(1, send_key(pfd, dots, true, &ack, 1));
	EXPECT_EQ(-E2BIG, send_key(ffd, dots, true, &ack, 1));
	/* a key of few words costs little anywhere: 8 empty words */
	EXPECT_EQ(1, send_key(ffd, ".......", true, &ack, 1));
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, f, &info, NULL, 0));
	EXPECT_EQ(1, info.over_budget);
	EXPECT_EQ(1, info.routed);
	if (geteuid())
		goto out;
	ASSERT_EQ(0, set_param("max_route_work", 1000));
	EXPECT_EQ(-E2BIG, send_key(pfd, dots, true, &ack, 1));
	EXPECT_EQ(1, send_key(pfd, ".......", true, &ack, 1));
	ASSERT_EQ(0, set_param("max_route_work", work));
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, t1, &info, NULL, 0));
	EXPECT_EQ(1, info.over_budget);
out:
	close(pfd);
	close(ffd);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, f));
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, t1));
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, t2));
	mqdev_topic_delete(self->fd, topic);
}

/* Produce 4096 heavy messages a call, for ever. */
static void heavy_producer(const char *ex)
{
	static struct mqdev_exchange_msg msgs[MQDEV_PRODUCE_MAX_MSGS];
	static struct mqdev_exchange_ack acks[MQDEV_PRODUCE_MAX_MSGS];
	unsigned int i;
	int pfd = ex_producer(ex);

	if (pfd < 0)
		_exit(1);
	for (i = 0; i < MQDEV_PRODUCE_MAX_MSGS; i++) {
		msgs[i].routing_key = (uintptr_t)dots;
		msgs[i].routing_key_len = MQDEV_ROUTING_KEY_MAX;
		msgs[i].value = (uintptr_t)"v";
		msgs[i].value_len = 1;
	}
	for (;;)
		mqdev_exchange_produce(pfd, msgs, MQDEV_PRODUCE_MAX_MSGS, acks,
				       MQDEV_PRODUCE_MAX_MSGS);
}

/*
 * A producer SIGKILLed in a call of 4096 messages that each take a while
 * (the budget raised, four heavy exchanges behind a fanout one: minutes a
 * call) dies within a message or so, not at the call's end.
 */
TEST_F(exchange, killed_in_long_produce)
{
	unsigned long work = get_param("max_route_work");
	const char *topic = strdup(topic_name("kill"));
	const char *f = strdup(ex_name("kill-f"));
	const char *t[4];
	struct timespec t0, t1;
	unsigned int i;
	int status, rc = 0;
	pid_t pid;

	if (geteuid())
		SKIP(return, "needs root to set the module's parameters");
	memset(dots, '.', MQDEV_ROUTING_KEY_MAX);
	ASSERT_EQ(0, create_topic(self->fd, topic, 1, 0, 0));
	ASSERT_EQ(0, ex_create(self->fd, f, MQDEV_EXCHANGE_FANOUT, NULL));
	for (i = 0; i < 4; i++) {
		t[i] = strdup(ex_name("kill-t"));
		ASSERT_EQ(0, heavy_topic_ex(self->fd, t[i], topic));
		ASSERT_EQ(0, bind_ex(self->fd, f, t[i], ""));
	}
	ASSERT_EQ(0, set_param("max_route_work", 1 << 24));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		heavy_producer(f);
	sleep(2);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	for (i = 0; i < 100 && !rc; i++) {
		rc = waitpid(pid, &status, WNOHANG);
		if (!rc)
			usleep(50000);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	TH_LOG("died after %.3f s",
	       t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	EXPECT_EQ(pid, rc);
	ASSERT_EQ(0, set_param("max_route_work", work));
	if (rc != pid)
		waitpid(pid, &status, 0);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, f));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, mqdev_exchange_delete(self->fd, t[i]));
	mqdev_topic_delete(self->fd, topic);
}

/* ---- deleted topics --------------------------------------------------- */

struct user_op {
	const char *ex;
	const char *topic;
	const char *alt;
	int what;
};

enum { OP_TOPIC, OP_EXCHANGE, OP_BIND };

static int user_op_as(void *arg)
{
	const struct user_op *o = arg;
	LIBMQDEV_OPTS(mqdev_topic_opts, to, .mode = 0600,
		      .capacity = 1 << 16);
	int fd = mqdev_open(), err = -EINVAL;

	if (fd < 0)
		return 100;
	switch (o->what) {
	case OP_TOPIC:
		err = mqdev_topic_create(fd, o->topic, &to);
		break;
	case OP_EXCHANGE:
		err = ex_create(fd, o->ex, MQDEV_EXCHANGE_FANOUT, o->alt);
		break;
	case OP_BIND:
		err = mqdev_exchange_bind(fd, o->ex, o->topic, NULL, NULL);
		break;
	}
	close(fd);
	return -err;
}

static int user_op(const char *ex, const char *topic, const char *alt,
		   int what)
{
	struct user_op o = { ex, topic, alt, what };

	return -as_user(USER_UID, user_op_as, &o);
}

/*
 * Deleting a bound topic drops its bindings and the alternate references
 * to it: describe no longer lists them, the binder's binding charge and
 * the topic owner's topic charge come back at once.
 */
TEST_F(exchange, topic_deleted_unpins)
{
	unsigned long topics = get_param("max_user_topics");
	unsigned long binds = get_param("max_user_bindings");
	char t1[MQDEV_NAME_SIZE], t2[MQDEV_NAME_SIZE], t3[MQDEV_NAME_SIZE];
	const char *ex = strdup(ex_name("unpin"));
	const char *ex2 = strdup(ex_name("unpin-alt"));
	struct mqdev_binding_info bi[4];
	struct mqdev_exchange_info info;

	if (geteuid())
		SKIP(return, "needs root to set the module's parameters");
	snprintf(t1, sizeof(t1), "%s", topic_name("unpin1"));
	snprintf(t2, sizeof(t2), "%s", topic_name("unpin2"));
	snprintf(t3, sizeof(t3), "%s", topic_name("unpin3"));
	ASSERT_EQ(0, user_op(NULL, t1, NULL, OP_TOPIC));
	ASSERT_EQ(0, user_op(NULL, t2, NULL, OP_TOPIC));
	ASSERT_EQ(0, user_op(ex, NULL, NULL, OP_EXCHANGE));
	ASSERT_EQ(0, user_op(ex2, NULL, t1, OP_EXCHANGE));
	ASSERT_EQ(0, set_param("max_user_bindings", 1));
	ASSERT_EQ(0, set_param("max_user_topics", 2));
	ASSERT_EQ(0, user_op(ex, t1, NULL, OP_BIND));
	EXPECT_EQ(-EDQUOT, user_op(ex, t2, NULL, OP_BIND));
	EXPECT_EQ(-EDQUOT, user_op(NULL, t3, NULL, OP_TOPIC));
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, ex, &info, bi, 4));
	EXPECT_EQ(1, info.bindings_count);

	ASSERT_EQ(0, mqdev_topic_delete(self->fd, t1));
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, ex, &info, bi, 4));
	EXPECT_EQ(0, info.bindings_count);
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, ex2, &info, NULL, 0));
	EXPECT_EQ(0, info.alternate[0]);
	/* the binding's charge is back, and so is the topic's */
	EXPECT_EQ(0, user_op(ex, t2, NULL, OP_BIND));
	EXPECT_EQ(0, user_op(NULL, t3, NULL, OP_TOPIC));
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, ex, &info, bi, 4));
	ASSERT_EQ(1, info.bindings_count);
	EXPECT_STREQ(t2, bi[0].topic);

	ASSERT_EQ(0, set_param("max_user_bindings", binds));
	ASSERT_EQ(0, set_param("max_user_topics", topics));
	/* a topic made again under the old name is not bound */
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex2));
	mqdev_topic_delete(self->fd, t2);
	mqdev_topic_delete(self->fd, t3);
}

/*
 * A deleted exchange lets go of its alternate topic at once, though an
 * attached producer keeps the exchange: deleting the topic then gives its
 * owner's charge back.
 */
TEST_F(exchange, deleted_exchange_unpins_alternate)
{
	unsigned long topics = get_param("max_user_topics");
	char t1[MQDEV_NAME_SIZE], t2[MQDEV_NAME_SIZE];
	const char *ex = strdup(ex_name("unpin-dead"));
	int pfd;

	if (geteuid())
		SKIP(return, "needs root to set the module's parameters");
	snprintf(t1, sizeof(t1), "%s", topic_name("alt-dead1"));
	snprintf(t2, sizeof(t2), "%s", topic_name("alt-dead2"));
	ASSERT_EQ(0, user_op(NULL, t1, NULL, OP_TOPIC));
	ASSERT_EQ(0, user_op(ex, NULL, t1, OP_EXCHANGE));
	pfd = ex_producer(ex);
	ASSERT_LE(0, pfd);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
	ASSERT_EQ(0, mqdev_topic_delete(self->fd, t1));
	ASSERT_EQ(0, set_param("max_user_topics", 1));
	/* t1's charge is back though pfd still holds the exchange */
	EXPECT_EQ(0, user_op(NULL, t2, NULL, OP_TOPIC));
	ASSERT_EQ(0, set_param("max_user_topics", topics));
	close(pfd);
	mqdev_topic_delete(self->fd, t2);
}

/* ---- a handle is one thing ------------------------------------------- */

struct attach_race {
	pthread_barrier_t	go;
	const char		*ex;
	int			fd;
	int			err;
	bool			stop;
};

static void *attach_racer(void *arg)
{
	struct attach_race *r = arg;

	for (;;) {
		pthread_barrier_wait(&r->go);
		if (r->stop)
			return NULL;
		r->err = mqdev_exchange_attach(r->fd, r->ex);
		pthread_barrier_wait(&r->go);
	}
}

/*
 * MQDEV_IOC_EXCHANGE_ATTACH and MQDEV_IOC_PRODUCER_INIT racing on one
 * handle: one of them gets EBUSY, never neither.  3000 rounds, or fewer
 * once RACE_MS have gone, but never fewer than 300.
 */
TEST_F(exchange, attach_races_session)
{
	struct attach_race r = { .ex = strdup(ex_name("race-sess")) };
	uint64_t start = mono_ms();
	struct mqdev_producer_init init;
	unsigned int i, spin, both = 0, ok = 0;
	pthread_t t;
	int err;

	ASSERT_EQ(0, ex_create(self->fd, r.ex, MQDEV_EXCHANGE_FANOUT, NULL));
	ASSERT_EQ(0, pthread_barrier_init(&r.go, NULL, 2));
	ASSERT_EQ(0, pthread_create(&t, NULL, attach_racer, &r));
	for (i = 0; i < 3000; i++) {
		if (i >= 300 && mono_ms() - start > RACE_MS)
			break;
		r.fd = mqdev_open();
		ASSERT_LE(0, r.fd);
		memset(&init, 0, sizeof(init));
		/* a named session's way is longer: a wider window */
		snprintf(init.name, sizeof(init.name), "xrace-%d", getpid());
		pthread_barrier_wait(&r.go);
		/* start at a different moment of the attach each time */
		for (spin = 0; spin < (i * 7919) % 20000; spin++)
			__asm__ __volatile__("" ::: "memory");
		err = xioctl(r.fd, MQDEV_IOC_PRODUCER_INIT, &init);
		pthread_barrier_wait(&r.go);
		both += !err && !r.err;
		ok += !err || !r.err;
		close(r.fd);
	}
	r.stop = true;
	pthread_barrier_wait(&r.go);
	pthread_join(t, NULL);
	pthread_barrier_destroy(&r.go);
	TH_LOG("%u rounds in %llu ms", i,
	       (unsigned long long)(mono_ms() - start));
	EXPECT_EQ(0, both);
	EXPECT_EQ(i, ok);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, r.ex));
}

/* ---- failed copies ---------------------------------------------------- */

/*
 * A copy that fails (a record too large for one of three topics) is
 * skipped: the others go in, its acknowledgement carries EMSGSIZE, and the
 * binding and the exchange count it.  Only a message none of whose copies
 * went in fails.
 */
TEST_F(exchange, failed_copy_skipped)
{
	char big1[MQDEV_NAME_SIZE], big2[MQDEV_NAME_SIZE];
	char small[MQDEV_NAME_SIZE];
	const char *ex = strdup(ex_name("fail"));
	const char *ex2 = strdup(ex_name("fail2"));
	LIBMQDEV_OPTS(mqdev_exchange_send_opts, o);
	struct mqdev_exchange_ack acks[4];
	struct mqdev_binding_info bi[4];
	struct mqdev_exchange_info info;
	static char value[3000];
	int pfd, n, i, bad = 0, good = 0;

	snprintf(big1, sizeof(big1), "%s", topic_name("fbig"));
	snprintf(big2, sizeof(big2), "%s", topic_name("fbig"));
	snprintf(small, sizeof(small), "%s", topic_name("fsmall"));
	ASSERT_EQ(0, create_topic(self->fd, big1, 1, 0, 0));
	ASSERT_EQ(0, create_topic(self->fd, small, 1, 4096, 0));
	ASSERT_EQ(0, create_topic(self->fd, big2, 1, 0, 0));
	ASSERT_EQ(0, ex_create(self->fd, ex, MQDEV_EXCHANGE_FANOUT, NULL));
	ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex, big1, NULL, NULL));
	ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex, small, NULL, NULL));
	ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex, big2, NULL, NULL));
	pfd = ex_producer(ex);
	ASSERT_LE(0, pfd);
	for (i = 0; i < 2; i++) {
		n = mqdev_exchange_send(pfd, "k", value, sizeof(value), &o,
					acks, 4);
		ASSERT_EQ(3, n);
	}
	for (i = 0; i < n; i++) {
		if (!strcmp(acks[i].topic, small)) {
			EXPECT_EQ(EMSGSIZE, acks[i].error);
			bad++;
		} else {
			EXPECT_EQ(0, acks[i].error);
			EXPECT_EQ(1, acks[i].offset);
			good++;
		}
	}
	EXPECT_EQ(1, bad);
	EXPECT_EQ(2, good);
	/* a small record goes everywhere */
	EXPECT_EQ(3, mqdev_exchange_send(pfd, "k", "v", 1, &o, acks, 4));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, acks[i].error);
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, ex, &info, bi, 4));
	EXPECT_EQ(3, info.routed);
	EXPECT_EQ(2, info.failed);
	for (i = 0; i < 3; i++) {
		bool is_small = !strcmp(bi[i].topic, small);

		EXPECT_EQ(is_small ? 2 : 0, bi[i].failed);
		EXPECT_EQ(is_small ? 1 : 3, bi[i].routed);
	}
	close(pfd);

	/* every copy failed: the message fails, with the copy's errno */
	ASSERT_EQ(0, ex_create(self->fd, ex2, MQDEV_EXCHANGE_FANOUT, NULL));
	ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex2, small, NULL, NULL));
	pfd = ex_producer(ex2);
	ASSERT_LE(0, pfd);
	EXPECT_EQ(-EMSGSIZE, mqdev_exchange_send(pfd, "k", value,
						 sizeof(value), &o, acks, 4));
	close(pfd);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex2));
	mqdev_topic_delete(self->fd, big1);
	mqdev_topic_delete(self->fd, big2);
	mqdev_topic_delete(self->fd, small);
}

/* ---- exchange-to-exchange bindings --------------------------------------- */

static int bind_ex(int fd, const char *src, const char *dest, const char *key)
{
	LIBMQDEV_OPTS(mqdev_bind_opts, o, .to_exchange = true);

	return mqdev_exchange_bind(fd, src, dest, key, &o);
}

static int unbind_ex(int fd, const char *src, const char *dest,
		     const char *key)
{
	LIBMQDEV_OPTS(mqdev_bind_opts, o, .to_exchange = true);

	return mqdev_exchange_unbind(fd, src, dest, key, &o);
}

static uint64_t topic_end(int fd, const char *topic)
{
	struct mqdev_partition_info part;
	struct mqdev_topic_info ti;

	if (mqdev_topic_describe(fd, topic, &ti, &part, 1))
		return ~0ULL;
	return part.next_offset;
}

/* A message of a call: routing key @rkey, value @len bytes of @value. */
static void batch_msg(struct mqdev_exchange_msg *m, const char *rkey,
		      const char *value, uint32_t len, bool mandatory)
{
	memset(m, 0, sizeof(*m));
	m->routing_key = (uintptr_t)rkey;
	m->routing_key_len = strlen(rkey);
	m->value = (uintptr_t)value;
	m->value_len = len;
	m->flags = mandatory ? MQDEV_EXMSG_MANDATORY : 0;
	m->first_ack = 77;		/* an out field the kernel must not touch */
	m->nr_acks = 77;
}

/*
 * A call's messages are matched ahead of their appends (a batch): a message
 * that fails ends the call there, as if the others had never been seen.
 * Copies to two topics in turn; the fifth message's only copy is too large
 * (EMSGSIZE), so the first four go in, it is acknowledged with its errno,
 * and nothing after it is appended, acknowledged or counted.  Then a
 * dropped message and a refused mandatory one in the middle of a call.
 */
TEST_F(exchange, a_failed_message_ends_its_batch)
{
	char small[MQDEV_NAME_SIZE], other[MQDEV_NAME_SIZE];
	const char *ex = strdup(ex_name("batch"));
	struct mqdev_exchange_ack acks[16];
	struct mqdev_exchange_msg msgs[8];
	struct mqdev_exchange_info info;
	static char value[3000];
	int pfd, i;

	snprintf(small, sizeof(small), "%s", topic_name("bsmall"));
	snprintf(other, sizeof(other), "%s", topic_name("bother"));
	ASSERT_EQ(0, create_topic(self->fd, small, 1, 4096, 0));
	ASSERT_EQ(0, create_topic(self->fd, other, 1, 0, 0));
	ASSERT_EQ(0, ex_create(self->fd, ex, MQDEV_EXCHANGE_DIRECT, NULL));
	ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex, small, "s", NULL));
	ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex, other, "o", NULL));
	pfd = ex_producer(ex);
	ASSERT_LE(0, pfd);

	for (i = 0; i < 8; i++)
		batch_msg(&msgs[i], i % 2 ? "o" : "s", "v", 1, false);
	msgs[4].value = (uintptr_t)value;
	msgs[4].value_len = sizeof(value);
	ASSERT_EQ(4, mqdev_exchange_produce(pfd, msgs, 8, acks, 16));
	EXPECT_EQ(2, topic_end(self->fd, small));
	EXPECT_EQ(2, topic_end(self->fd, other));
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(1, msgs[i].nr_acks);
		EXPECT_EQ(i, msgs[i].first_ack);
		EXPECT_EQ(0, acks[i].error);
		EXPECT_EQ(i / 2, acks[i].offset);
		EXPECT_STREQ(i % 2 ? other : small, acks[i].topic);
	}
	EXPECT_EQ(1, msgs[4].nr_acks);
	EXPECT_EQ(4, msgs[4].first_ack);
	EXPECT_EQ(MQDEV_EXMSG_FAILED, msgs[4].status);
	EXPECT_EQ(EMSGSIZE, acks[4].error);
	for (i = 5; i < 8; i++) {
		EXPECT_EQ(77, msgs[i].nr_acks);
		EXPECT_EQ(77, msgs[i].first_ack);
	}
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, ex, &info, NULL, 0));
	EXPECT_EQ(4, info.routed);
	EXPECT_EQ(1, info.failed);

	/* kept, dropped, refused (mandatory): the call ends there */
	batch_msg(&msgs[0], "s", "v", 1, false);
	batch_msg(&msgs[1], "none", "v", 1, false);
	batch_msg(&msgs[2], "none", "v", 1, true);
	batch_msg(&msgs[3], "o", "v", 1, false);
	ASSERT_EQ(2, mqdev_exchange_produce(pfd, msgs, 4, acks, 16));
	EXPECT_EQ(3, topic_end(self->fd, small));
	EXPECT_EQ(2, topic_end(self->fd, other));
	EXPECT_EQ(MQDEV_EXMSG_DROPPED, msgs[1].status);
	EXPECT_EQ(0, msgs[1].nr_acks);
	EXPECT_EQ(77, msgs[3].nr_acks);
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, ex, &info, NULL, 0));
	EXPECT_EQ(5, info.routed);
	EXPECT_EQ(1, info.dropped);
	EXPECT_EQ(1, info.refused);
	EXPECT_EQ(-EHOSTUNREACH, mqdev_exchange_produce(pfd, &msgs[2], 1,
							acks, 16));
	close(pfd);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
	mqdev_topic_delete(self->fd, small);
	mqdev_topic_delete(self->fd, other);
}

/*
 * Acks that cannot all be written: the batch ends before the first
 * message whose acks have nowhere to go, none of it appended.
 */
TEST_F(exchange, acks_fault_ends_batch)
{
	const char *ex = strdup(ex_name("afault"));
	const char *topic = strdup(topic_name("afault"));
	struct mqdev_exchange_msg msgs[8];
	struct mqdev_exchange_info info;
	struct mqdev_exchange_ack *acks;
	long pg = sysconf(_SC_PAGESIZE);
	char *map;
	int pfd, i;

	map = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, mprotect(map + pg, pg, PROT_NONE));
	/* entry 5 crosses into the PROT_NONE page */
	acks = (void *)(map + pg - 5 * sizeof(*acks) - sizeof(*acks) / 2);
	ASSERT_EQ(0, create_topic(self->fd, topic, 1, 0, 0));
	ASSERT_EQ(0, ex_create(self->fd, ex, MQDEV_EXCHANGE_DIRECT, NULL));
	ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex, topic, "k", NULL));
	pfd = ex_producer(ex);
	ASSERT_LE(0, pfd);

	for (i = 0; i < 8; i++)
		batch_msg(&msgs[i], "k", "v", 1, false);
	ASSERT_EQ(5, mqdev_exchange_produce(pfd, msgs, 8, acks, 8));
	EXPECT_EQ(5, topic_end(self->fd, topic));
	for (i = 0; i < 5; i++) {
		EXPECT_EQ(0, msgs[i].status);
		EXPECT_EQ(i, msgs[i].first_ack);
		EXPECT_EQ(1, msgs[i].nr_acks);
		EXPECT_EQ(0, acks[i].error);
		EXPECT_EQ(0, acks[i].partition);
		EXPECT_EQ(i, acks[i].offset);
		EXPECT_STREQ(topic, acks[i].topic);
	}
	/* the rest, sent again: message 5 fails first, still not appended */
	EXPECT_EQ(-EFAULT, mqdev_exchange_produce(pfd, &msgs[5], 3,
						  &acks[5], 3));
	EXPECT_EQ(5, topic_end(self->fd, topic));
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, ex, &info, NULL, 0));
	EXPECT_EQ(5, info.routed);

	close(pfd);
	munmap(map, 2 * pg);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
	mqdev_topic_delete(self->fd, topic);
}

/*
 * A call blocked on a full topic when its exchange is deleted: the message
 * waiting for room goes in once there is room, none after it does, though
 * the whole call was matched before the first append.  Deleting an
 * exchange ends every call routing through it within one message.
 */
TEST_F(exchange, delete_ends_a_blocked_call)
{
	const char *ex = strdup(ex_name("dblk"));
	const char *topic = strdup(topic_name("dblk"));
	static struct mqdev_exchange_ack acks[32];
	static char value[128];
	struct mqdev_exchange_msg msgs[32];
	struct mqdev_consumer *c;
	uint64_t before, end;
	int pfd, i, status;
	pid_t pid;

	ASSERT_EQ(0, create_topic(self->fd, topic, 1, 4096, 0));
	ASSERT_EQ(0, ex_create(self->fd, ex, MQDEV_EXCHANGE_DIRECT, NULL));
	ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex, topic, "k", NULL));
	ASSERT_EQ(0, mqdev_consumer_new(topic, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0,
					 MQDEV_SEEK_HOLD, NULL));
	pfd = ex_producer(ex);
	ASSERT_LE(0, pfd);
	for (i = 0; i < 32; i++)
		batch_msg(&msgs[i], "k", value, sizeof(value), false);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(mqdev_exchange_produce(pfd, msgs, 32, acks, 32) & 0xff);

	/* the 4 KiB ring holds fewer than 32: the call waits for room */
	before = 0;
	for (i = 0; i < 50; i++) {
		usleep(100000);
		end = topic_end(self->fd, topic);
		if (end && end == before)
			break;
		before = end;
	}
	ASSERT_LT(0, before);
	ASSERT_GT(32, before);
	EXPECT_EQ(0, waitpid(pid, &status, WNOHANG));
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
	/* the reader takes them all: room for every message left */
	for (i = 0; i < (int)before; i++) {
		ASSERT_NE(NULL, mqdev_consumer_peek(c));
		ASSERT_EQ(0, mqdev_consumer_release(c));
	}
	mqdev_consumer_wait(c, 0);	/* tells the waiting producer */
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	end = topic_end(self->fd, topic);
	EXPECT_EQ(before + 1, end);
	EXPECT_EQ(end, WEXITSTATUS(status));

	mqdev_consumer_free(c);
	close(pfd);
	mqdev_topic_delete(self->fd, topic);
}

/* ---- batch boundaries ---------------------------------------------------- */

/*
 * @topic holds @n records, the i-th of value want[i] (4 bytes) and, if
 * @keys, the key msg_key() gives for want[i]; 0 or the index that differs.
 */
static void msg_key(uint32_t i, const unsigned char **key, uint32_t *len)
{
	static unsigned char keys[64][MQDEV_MAX_KEY];
	static const uint32_t lens[3] = { MQDEV_MAX_KEY, 0, 100 };

	memset(keys[i % 64], 'a' + i % 26, lens[i % 3]);
	*key = lens[i % 3] ? keys[i % 64] : NULL;
	*len = lens[i % 3];
}

static int topic_holds(const char *topic, const uint32_t *want, int n,
		       bool keys)
{
	const struct mqdev_record *rec;
	const unsigned char *key;
	struct mqdev_consumer *c;
	uint32_t key_len, v;
	int i, bad = 0;

	if (mqdev_consumer_new(topic, NULL, &c) ||
	    mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0, 0, NULL))
		return -1;
	for (i = 0; i < n && !bad; i++) {
		rec = mqdev_consumer_peek(c);
		if (!rec || rec->offset != (uint64_t)i ||
		    mqdev_record_value_len(rec) != sizeof(v)) {
			bad = i + 1;
			break;
		}
		memcpy(&v, mqdev_record_value(rec), sizeof(v));
		msg_key(want[i], &key, &key_len);
		if (v != want[i] ||
		    (keys && (rec->key_len != key_len ||
			      memcmp(mqdev_record_key(rec), key, key_len))))
			bad = i + 1;
		mqdev_consumer_release(c);
	}
	if (!bad && mqdev_consumer_peek(c))
		bad = n + 1;		/* one too many */
	mqdev_consumer_free(c);
	return bad;
}

/* One call of 64 messages, value i for the i-th; keys if @keys. */
static int send_64(int pfd, const char *const rkeys[2], bool keys,
		   struct mqdev_exchange_msg *msgs,
		   struct mqdev_exchange_ack *acks, uint32_t nacks)
{
	static uint32_t values[64];
	const unsigned char *key;
	uint32_t i;

	for (i = 0; i < 64; i++) {
		values[i] = i;
		batch_msg(&msgs[i], rkeys[i % 2], (char *)&values[i],
			  sizeof(values[i]), false);
		if (keys) {
			msg_key(i, &key, &msgs[i].key_len);
			msgs[i].key = (uintptr_t)key;
		}
	}
	return mqdev_exchange_produce(pfd, msgs, 64, acks, nacks);
}

/*
 * Where a call's batches end: keys that fill the batch's key room (4096,
 * none and 100 bytes in turn: two whole keys a batch), bindings that fill
 * its destinations (five copies each: the fourth message of each batch
 * is matched again as the next one's first), and the alternate in every
 * other message.  Each message goes in once, in order, with its own key,
 * and counts once.
 */
TEST_F(exchange, batch_boundaries)
{
	static const char *const same[2] = { "k", "k" }, *const alt[2] = {
		"k", "x" };
	static struct mqdev_exchange_ack acks[64 * 5];
	static struct mqdev_binding_info b[5];
	struct mqdev_exchange_msg msgs[64];
	struct mqdev_exchange_info info;
	uint32_t all[64], even[32], odd[32];
	const char *ex = strdup(ex_name("bb"));
	const char *a = strdup(topic_name("bb-alt"));
	const char *e = strdup(topic_name("bb-even"));
	const char *t[5];
	int pfd, i;

	for (i = 0; i < 64; i++)
		all[i] = i;
	for (i = 0; i < 32; i++) {
		even[i] = 2 * i;
		odd[i] = 2 * i + 1;
	}
	for (i = 0; i < 5; i++) {
		t[i] = strdup(topic_name("bb"));
		ASSERT_EQ(0, create_topic(self->fd, t[i], 1, 1 << 20, 0));
	}
	ASSERT_EQ(0, create_topic(self->fd, a, 1, 1 << 20, 0));
	ASSERT_EQ(0, create_topic(self->fd, e, 1, 1 << 20, 0));

	/* keys: the batch ends where the next key does not fit */
	ASSERT_EQ(0, ex_create(self->fd, ex, MQDEV_EXCHANGE_DIRECT, NULL));
	ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex, t[0], "k", NULL));
	pfd = ex_producer(ex);
	ASSERT_LE(0, pfd);
	ASSERT_EQ(64, send_64(pfd, same, true, msgs, acks, 64));
	for (i = 0; i < 64; i++) {
		ASSERT_EQ(1, msgs[i].nr_acks);
		ASSERT_EQ(i, acks[msgs[i].first_ack].offset);
	}
	EXPECT_EQ(0, topic_holds(t[0], all, 64, true));
	close(pfd);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));

	/* destinations: five copies a message, sixteen a batch */
	ASSERT_EQ(0, ex_create(self->fd, ex, MQDEV_EXCHANGE_FANOUT, NULL));
	for (i = 0; i < 5; i++)
		ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex, t[i], NULL,
						 NULL));
	pfd = ex_producer(ex);
	ASSERT_LE(0, pfd);
	ASSERT_EQ(64, send_64(pfd, same, false, msgs, acks, 64 * 5));
	for (i = 0; i < 64; i++)
		ASSERT_EQ(5, msgs[i].nr_acks);
	for (i = 1; i < 5; i++)
		EXPECT_EQ(0, topic_holds(t[i], all, 64, false));
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, ex, &info, b, 5));
	EXPECT_EQ(64, info.routed);
	for (i = 0; i < 5; i++)
		EXPECT_EQ(64, b[i].routed);
	close(pfd);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));

	/* the alternate takes every other message, in its order */
	ASSERT_EQ(0, ex_create(self->fd, ex, MQDEV_EXCHANGE_DIRECT, a));
	ASSERT_EQ(0, mqdev_exchange_bind(self->fd, ex, e, "k", NULL));
	pfd = ex_producer(ex);
	ASSERT_LE(0, pfd);
	ASSERT_EQ(64, send_64(pfd, alt, false, msgs, acks, 64));
	for (i = 0; i < 64; i++) {
		ASSERT_EQ(i % 2 ? MQDEV_EXMSG_ALTERNATE : 0, msgs[i].status);
		ASSERT_EQ(i / 2, acks[msgs[i].first_ack].offset);
	}
	EXPECT_EQ(0, topic_holds(e, even, 32, false));
	EXPECT_EQ(0, topic_holds(a, odd, 32, false));
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, ex, &info, NULL, 0));
	EXPECT_EQ(32, info.alternated);
	close(pfd);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));

	for (i = 0; i < 5; i++)
		mqdev_topic_delete(self->fd, t[i]);
	mqdev_topic_delete(self->fd, a);
	mqdev_topic_delete(self->fd, e);
}

/* A chain routes again with the same key, by each exchange's own type. */
TEST_F(exchange, e2e_chain)
{
	const char *a = strdup(ex_name("ea"));
	const char *b = strdup(ex_name("eb"));
	const char *topic = strdup(topic_name("echain"));
	LIBMQDEV_OPTS(mqdev_bind_opts, part0, .to_exchange = true,
		      .partition_set = true, .partition = 0);
	struct mqdev_exchange_ack acks[4];
	struct mqdev_binding_info bi[2];
	struct mqdev_exchange_info info;
	int pfd;

	ASSERT_EQ(0, create_topic(self->fd, topic, 1, 0, 0));
	ASSERT_EQ(0, ex_create(self->fd, a, MQDEV_EXCHANGE_TOPIC, NULL));
	ASSERT_EQ(0, ex_create(self->fd, b, MQDEV_EXCHANGE_DIRECT, NULL));
	ASSERT_EQ(0, bind_ex(self->fd, a, b, "a.#"));
	ASSERT_EQ(0, mqdev_exchange_bind(self->fd, b, topic, "a.b", NULL));
	/* a binding to an exchange has no partition */
	EXPECT_EQ(-EINVAL, mqdev_exchange_bind(self->fd, a, b, "x", &part0));
	/* nor is a topic of the name an exchange */
	EXPECT_EQ(-ENOENT, bind_ex(self->fd, a, topic, "x"));
	EXPECT_EQ(-EEXIST, bind_ex(self->fd, a, b, "a.#"));
	pfd = ex_producer(a);
	ASSERT_LE(0, pfd);
	EXPECT_EQ(1, send_key(pfd, "a.b", true, acks, 4));
	EXPECT_STREQ(topic, acks[0].topic);
	EXPECT_EQ(0, acks[0].offset);
	/* a's binding matches, b's does not: unroutable */
	EXPECT_EQ(-EHOSTUNREACH, send_key(pfd, "a.c", true, acks, 4));
	EXPECT_EQ(-EHOSTUNREACH, send_key(pfd, "x.b", true, acks, 4));
	EXPECT_EQ(1, topic_end(self->fd, topic));
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, a, &info, bi, 2));
	ASSERT_EQ(1, info.bindings_count);
	EXPECT_EQ(MQDEV_BINDING_EXCHANGE, bi[0].flags);
	EXPECT_STREQ(b, bi[0].topic);
	/* "a.c" matched a's binding, but b routed it nowhere */
	EXPECT_EQ(1, bi[0].routed);
	ASSERT_EQ(0, unbind_ex(self->fd, a, b, "a.#"));
	EXPECT_EQ(-ENOENT, unbind_ex(self->fd, a, b, "a.#"));
	EXPECT_EQ(-EHOSTUNREACH, send_key(pfd, "a.b", true, acks, 4));
	close(pfd);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, a));
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, b));
	mqdev_topic_delete(self->fd, topic);
}

/* One message with the header kind=@kind through @pfd, routing key "k". */
static int send_kind(int pfd, const char *kind)
{
	LIBMQDEV_OPTS(mqdev_exchange_send_opts, o,
		      .record_flags = MQDEV_RECORD_HEADERS);
	struct mqdev_header h = { "kind", 4, strlen(kind), kind };
	struct mqdev_exchange_ack acks[4];
	unsigned char value[128];
	int len;

	len = mqdev_headers_encode(value, sizeof(value), &h, 1);
	if (len < 0)
		return len;
	return mqdev_exchange_send(pfd, "k", value, len, &o, acks, 4);
}

/*
 * A binding to an exchange counts the messages it carried of which a copy
 * went in, once each: not again when routing ran twice (a headers
 * exchange behind it wants the value's first bytes), nor for a message
 * the exchange behind routed nowhere.
 */
TEST_F(exchange, e2e_routed_counts_landed)
{
	const char *d = strdup(ex_name("rc-d"));
	const char *h = strdup(ex_name("rc-h"));
	const char *topic = strdup(topic_name("rcount"));
	struct mqdev_header order = { "kind", 4, 5, "order" };
	LIBMQDEV_OPTS(mqdev_bind_opts, o, .headers = &order, .nheaders = 1,
		      .match = MQDEV_MATCH_ALL);
	struct mqdev_binding_info bi[2];
	struct mqdev_exchange_info info;
	int pfd;

	ASSERT_EQ(0, create_topic(self->fd, topic, 1, 0, 0));
	ASSERT_EQ(0, ex_create(self->fd, d, MQDEV_EXCHANGE_DIRECT, NULL));
	ASSERT_EQ(0, ex_create(self->fd, h, MQDEV_EXCHANGE_HEADERS, NULL));
	ASSERT_EQ(0, mqdev_exchange_bind(self->fd, h, topic, NULL, &o));
	ASSERT_EQ(0, bind_ex(self->fd, d, h, "k"));
	pfd = ex_producer(d);
	ASSERT_LE(0, pfd);
	EXPECT_EQ(1, send_kind(pfd, "order"));
	EXPECT_EQ(-ENOENT, send_kind(pfd, "refund"));
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, d, &info, bi, 2));
	ASSERT_EQ(1, info.bindings_count);
	EXPECT_EQ(1, bi[0].routed);
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, h, &info, bi, 2));
	EXPECT_EQ(1, bi[0].routed);
	close(pfd);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, d));
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, h));
	mqdev_topic_delete(self->fd, topic);
}

/*
 * A diamond: a reaches the topic through b and c and by itself; the
 * message gets one copy per distinct (topic, partition), as RabbitMQ
 * delivers to a queue once.
 */
TEST_F(exchange, e2e_diamond)
{
	const char *a = strdup(ex_name("da"));
	const char *b = strdup(ex_name("db"));
	const char *c = strdup(ex_name("dc"));
	const char *topic = strdup(topic_name("diamond"));
	struct mqdev_exchange_ack acks[4];
	int pfd;

	ASSERT_EQ(0, create_topic(self->fd, topic, 2, 0, 0));
	ASSERT_EQ(0, ex_create(self->fd, a, MQDEV_EXCHANGE_FANOUT, NULL));
	ASSERT_EQ(0, ex_create(self->fd, b, MQDEV_EXCHANGE_FANOUT, NULL));
	ASSERT_EQ(0, ex_create(self->fd, c, MQDEV_EXCHANGE_TOPIC, NULL));
	ASSERT_EQ(0, bind_ex(self->fd, a, b, NULL));
	ASSERT_EQ(0, bind_ex(self->fd, a, c, NULL));
	ASSERT_EQ(0, bind_ex(self->fd, b, c, NULL));
	ASSERT_EQ(0, bind_part(self->fd, b, topic, NULL, 1));
	ASSERT_EQ(0, bind_part(self->fd, c, topic, "#", 1));
	ASSERT_EQ(0, bind_part(self->fd, a, topic, NULL, 1));
	pfd = ex_producer(a);
	ASSERT_LE(0, pfd);
	EXPECT_EQ(1, send_key(pfd, "k", true, acks, 4));
	EXPECT_EQ(1, acks[0].partition);
	/* another partition is another destination */
	ASSERT_EQ(0, bind_part(self->fd, c, topic, "k", 0));
	EXPECT_EQ(2, send_key(pfd, "k", true, acks, 4));
	EXPECT_EQ(1, send_key(pfd, "j", true, acks, 4));
	close(pfd);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, a));
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, b));
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, c));
	mqdev_topic_delete(self->fd, topic);
}

/* Cycles are refused, and so are chains deeper than the maximum. */
TEST_F(exchange, e2e_cycles_and_depth)
{
	char names[MQDEV_EXCHANGE_MAX_DEPTH + 2][MQDEV_NAME_SIZE];
	const char *topic = strdup(topic_name("deep"));
	struct mqdev_exchange_ack acks[2];
	int i, pfd, n = MQDEV_EXCHANGE_MAX_DEPTH + 2;

	ASSERT_EQ(0, create_topic(self->fd, topic, 1, 0, 0));
	for (i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "%s", ex_name("deep"));
		ASSERT_EQ(0, ex_create(self->fd, names[i],
				       MQDEV_EXCHANGE_FANOUT, NULL));
	}
	EXPECT_EQ(-ELOOP, bind_ex(self->fd, names[0], names[0], NULL));
	ASSERT_EQ(0, bind_ex(self->fd, names[0], names[1], NULL));
	ASSERT_EQ(0, bind_ex(self->fd, names[1], names[2], NULL));
	EXPECT_EQ(-ELOOP, bind_ex(self->fd, names[2], names[0], NULL));
	EXPECT_EQ(-ELOOP, bind_ex(self->fd, names[1], names[0], "other"));
	/* a chain of MQDEV_EXCHANGE_MAX_DEPTH exchanges: 1..MAX */
	ASSERT_EQ(0, unbind_ex(self->fd, names[0], names[1], NULL));
	for (i = 2; i < MQDEV_EXCHANGE_MAX_DEPTH; i++)
		ASSERT_EQ(0, bind_ex(self->fd, names[i], names[i + 1], NULL));
	ASSERT_EQ(0, mqdev_exchange_bind(self->fd,
					 names[MQDEV_EXCHANGE_MAX_DEPTH],
					 topic, NULL, NULL));
	/* one more at either end is too deep */
	EXPECT_EQ(-ELOOP, bind_ex(self->fd, names[0], names[1], NULL));
	EXPECT_EQ(-ELOOP, bind_ex(self->fd, names[MQDEV_EXCHANGE_MAX_DEPTH],
				  names[MQDEV_EXCHANGE_MAX_DEPTH + 1], NULL));
	pfd = ex_producer(names[1]);
	ASSERT_LE(0, pfd);
	EXPECT_EQ(1, send_key(pfd, "k", true, acks, 2));
	EXPECT_STREQ(topic, acks[0].topic);
	close(pfd);
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, mqdev_exchange_delete(self->fd, names[i]));
	mqdev_topic_delete(self->fd, topic);
}

static int bind_ex_as(void *arg)
{
	const char *const *names = arg;
	int fd = mqdev_open(), err;

	if (fd < 0)
		return 100;
	err = bind_ex(fd, names[0], names[1], NULL);
	close(fd);
	return -err;
}

/*
 * Deleting an exchange in the middle of a chain drops the bindings to it;
 * binding to another's exchange needs write permission on it.
 */
TEST_F(exchange, e2e_delete_middle_and_permission)
{
	const char *a = strdup(ex_name("ma"));
	const char *b = strdup(ex_name("mb"));
	const char *mine = strdup(ex_name("mine"));
	const char *topic = strdup(topic_name("middle"));
	struct mqdev_exchange_ack acks[2];
	struct mqdev_exchange_info info;
	const char *names[2];
	int pfd;

	ASSERT_EQ(0, create_topic(self->fd, topic, 1, 0, 0));
	ASSERT_EQ(0, ex_create(self->fd, a, MQDEV_EXCHANGE_FANOUT, NULL));
	ASSERT_EQ(0, ex_create(self->fd, b, MQDEV_EXCHANGE_FANOUT, NULL));
	ASSERT_EQ(0, bind_ex(self->fd, a, b, NULL));
	ASSERT_EQ(0, mqdev_exchange_bind(self->fd, b, topic, NULL, NULL));
	pfd = ex_producer(a);
	ASSERT_LE(0, pfd);
	EXPECT_EQ(1, send_key(pfd, "k", true, acks, 2));
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, b));
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, a, &info, NULL, 0));
	EXPECT_EQ(0, info.bindings_count);
	EXPECT_EQ(-EHOSTUNREACH, send_key(pfd, "k", true, acks, 2));
	/* the name is free, and the new b is not bound */
	ASSERT_EQ(0, ex_create(self->fd, b, MQDEV_EXCHANGE_FANOUT, NULL));
	ASSERT_EQ(0, mqdev_exchange_bind(self->fd, b, topic, NULL, NULL));
	EXPECT_EQ(-EHOSTUNREACH, send_key(pfd, "k", true, acks, 2));
	close(pfd);

	/* another user's exchange, theirs to bind from, not ours to write */
	if (!geteuid()) {
		ASSERT_EQ(0, user_op(mine, NULL, NULL, OP_EXCHANGE));
		names[0] = mine;
		names[1] = b;
		EXPECT_EQ(EACCES, as_user(USER_UID, bind_ex_as, names));
		names[0] = b;
		names[1] = mine;
		EXPECT_EQ(EACCES, as_user(USER_UID, bind_ex_as, names));
		EXPECT_EQ(0, mqdev_exchange_delete(self->fd, mine));
	}
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, a));
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, b));
	mqdev_topic_delete(self->fd, topic);
}

TEST_HARNESS_MAIN
