// SPDX-License-Identifier: GPL-2.0
/*
 * The statistics (MQDEV_CMD_STATS_GET, MQDEV_CMD_MODULE_STATS_GET, through
 * libmqdev's mqdev_stats_*): counters that move by exactly what was
 * produced and read, refusals counted by reason, an overwrite topic's
 * drops, wake-ups, a group's commits, rebalances and lag, the module's
 * charges, and what a user who may not read a topic is told of it.
 */
#include <pthread.h>
#include "common.h"
#include "kselftest_harness.h"

#define PARTS		2
#define VALUE		100
#define SPACE		MQDEV_RECORD_SPACE(sizeof(struct mqdev_record) + VALUE)

struct snap {
	struct mqdev_stats	part[PARTS];
	struct mqdev_stats	topic;
	struct mqdev_stats	group;
	uint64_t		lag[PARTS];
	int			nr_part, nr_topic, nr_group;
};

static int keep(void *ctx, const struct mqdev_stats *st)
{
	struct snap *s = ctx;

	if (st->kind == MQDEV_STATS_PARTITION && st->partition < PARTS) {
		s->part[st->partition] = *st;
		s->nr_part++;
	} else if (st->kind == MQDEV_STATS_TOPIC) {
		s->topic = *st;
		s->nr_topic++;
	} else if (st->kind == MQDEV_STATS_GROUP) {
		s->group = *st;
		memcpy(s->lag, st->part_lag, sizeof(s->lag));
		s->nr_group++;
	}
	return 0;
}

static int snap(struct mqdev_nl *nl, const char *topic, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	return mqdev_stats_get(nl, topic, keep, s);
}

FIXTURE(stats) {
	int fd, prod, cons;
	struct mqdev_nl *nl;
	char name[MQDEV_NAME_MAX + 1];
};

FIXTURE_SETUP(stats)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, mqdev_nl_open(&self->nl));
	strcpy(self->name, topic_name("stats"));
	ASSERT_EQ(0, create_topic(self->fd, self->name, PARTS, 65536, 0));
	self->prod = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, self->prod);
	self->cons = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, self->cons);
}

FIXTURE_TEARDOWN(stats)
{
	close(self->cons);
	close(self->prod);
	mqdev_topic_delete(self->fd, self->name);
	mqdev_nl_close(self->nl);
	close(self->fd);
}

/* @n values of VALUE bytes to @part: 0, or the first error. */
static int produce_n(int fd, uint32_t part, int n)
{
	char value[VALUE] = "v";
	int err = 0;

	while (n-- && err >= 0)
		err = produce_one(fd, part, NULL, 0, value, VALUE, NULL);
	return err < 0 ? err : 0;
}

/* Records and bytes in and out move by exactly what went in and came out. */
TEST_F(stats, in_and_out)
{
	char buf[65536];
	struct snap s;
	ssize_t n;
	int i;

	ASSERT_EQ(0, snap(self->nl, self->name, &s));
	ASSERT_EQ(PARTS, s.nr_part);
	ASSERT_EQ(1, s.nr_topic);
	EXPECT_EQ(0, s.part[0].records_in);
	ASSERT_EQ(0, produce_n(self->prod, 0, 7));
	ASSERT_EQ(0, produce_n(self->prod, 1, 3));
	ASSERT_EQ(0, snap(self->nl, self->name, &s));
	EXPECT_EQ(7, s.part[0].records_in);
	EXPECT_EQ(7 * SPACE, s.part[0].bytes_in);
	EXPECT_EQ(3, s.part[1].records_in);
	EXPECT_EQ(3 * SPACE, s.part[1].bytes_in);
	EXPECT_EQ(7, s.part[0].kept_records);
	EXPECT_EQ(0, s.part[0].records_out);

	ASSERT_EQ(0, seek(self->cons, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
	ASSERT_EQ(0, seek(self->cons, 1, MQDEV_SEEK_EARLIEST, NULL, 0));
	/* room for two records of partition 0, then the rest */
	n = read(self->cons, buf, 2 * SPACE);
	ASSERT_EQ(2 * SPACE, n);
	ASSERT_EQ(0, snap(self->nl, self->name, &s));
	EXPECT_EQ(2, s.part[0].records_out + s.part[1].records_out);
	EXPECT_EQ(2 * SPACE, s.part[0].bytes_out + s.part[1].bytes_out);
	/* the rest, until there is nothing (non-blocking: EAGAIN) */
	ASSERT_EQ(0, fcntl(self->cons, F_SETFL,
			   fcntl(self->cons, F_GETFL) | O_NONBLOCK));
	for (i = 0; i < 20 && read(self->cons, buf, sizeof(buf)) > 0; i++)
		;
	ASSERT_EQ(-1, read(self->cons, buf, sizeof(buf)));
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, snap(self->nl, self->name, &s));
	EXPECT_EQ(7, s.part[0].records_out);
	EXPECT_EQ(7 * SPACE, s.part[0].bytes_out);
	EXPECT_EQ(3, s.part[1].records_out);
	EXPECT_EQ(3 * SPACE, s.part[1].bytes_out);
	EXPECT_EQ(0, s.part[0].drops);
}

/* Each refusal under its reason, in its partition or the topic's. */
TEST_F(stats, refusals)
{
	static char big[65536];
	char value[VALUE] = "v";
	struct snap s;
	int flags;

	ASSERT_EQ(-EMSGSIZE, produce_one(self->prod, 1, NULL, 0, big,
					 sizeof(big), NULL));
	ASSERT_EQ(-EINVAL, produce_one(self->prod, PARTS + 3, NULL, 0, value,
				       VALUE, NULL));
	/* fill partition 0 of a blocking topic held by a reader */
	ASSERT_EQ(0, seek(self->cons, 0, MQDEV_SEEK_EARLIEST, NULL,
			  MQDEV_SEEK_HOLD));
	flags = fcntl(self->prod, F_GETFL);
	ASSERT_EQ(0, fcntl(self->prod, F_SETFL, flags | O_NONBLOCK));
	ASSERT_EQ(-EAGAIN, produce_n(self->prod, 0, 10000));
	ASSERT_EQ(-EAGAIN, produce_one(self->prod, 0, NULL, 0, value, VALUE,
				       NULL));

	ASSERT_EQ(0, snap(self->nl, self->name, &s));
	EXPECT_EQ(1, s.part[1].refused[MQDEV_REFUSED_TOO_BIG]);
	EXPECT_EQ(0, s.part[0].refused[MQDEV_REFUSED_TOO_BIG]);
	EXPECT_EQ(1, s.topic.refused[MQDEV_REFUSED_INVALID]);
	EXPECT_EQ(2, s.part[0].refused[MQDEV_REFUSED_FULL]);
	EXPECT_EQ(0, s.part[1].refused[MQDEV_REFUSED_FULL]);
	EXPECT_STREQ("full", mqdev_stats_refusal_name(MQDEV_REFUSED_FULL));
	EXPECT_EQ(NULL, mqdev_stats_refusal_name(MQDEV_REFUSED_MAX + 1));
}

struct blocked_read {
	int fd;
	ssize_t n;
};

static void *read_blocked(void *arg)
{
	struct blocked_read *r = arg;
	char buf[4096];

	r->n = read(r->fd, buf, sizeof(buf));
	return NULL;
}

/* A reader asleep in read(2) is woken by a record: counted. */
TEST_F(stats, reader_wakeups)
{
	struct blocked_read r = { .fd = self->cons };
	pthread_t t;
	struct snap s;

	ASSERT_EQ(0, seek(self->cons, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
	ASSERT_EQ(0, pthread_create(&t, NULL, read_blocked, &r));
	usleep(300000);			/* asleep by now */
	ASSERT_EQ(0, produce_one(self->prod, 0, NULL, 0, "x", 1, NULL));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_LT(0, r.n);
	ASSERT_EQ(0, snap(self->nl, self->name, &s));
	EXPECT_LE(1, s.part[0].reader_wakeups);
	EXPECT_EQ(0, s.part[1].reader_wakeups);
}

/* A group's commits, and its lag: the records past its position. */
TEST_F(stats, group)
{
	struct snap s;
	int i;

	for (i = 0; i < 5; i++)
		ASSERT_EQ(0, produce_one(self->prod, 0, NULL, 0, "x", 1, NULL));
	ASSERT_EQ(1, produce_one(self->prod, 1, NULL, 0, "x", 1, NULL));
	ASSERT_EQ(0, mqdev_group_reset(self->nl, "g", self->name,
				       MQDEV_PARTITION_ALL,
				       MQDEV_SEEK_EARLIEST, 0, false));
	ASSERT_EQ(0, snap(self->nl, self->name, &s));
	ASSERT_EQ(1, s.nr_group);
	EXPECT_STREQ("g", s.group.group);
	EXPECT_EQ(0, s.group.commits);
	EXPECT_EQ(6, s.group.lag);
	EXPECT_EQ(5, s.lag[0]);
	EXPECT_EQ(1, s.lag[1]);

	ASSERT_EQ(0, mqdev_group_commit_offset(self->nl, "g", self->name, 0, 3,
					       NULL));
	ASSERT_EQ(0, mqdev_group_commit_offset(self->nl, "g", self->name, 1, 1,
					       NULL));
	ASSERT_EQ(0, snap(self->nl, self->name, &s));
	EXPECT_EQ(2, s.group.commits);
	EXPECT_EQ(2, s.lag[0]);
	EXPECT_EQ(0, s.lag[1]);
	EXPECT_EQ(2, s.group.lag);
	EXPECT_EQ(0, s.group.members);
	/* a refused commit is none */
	ASSERT_EQ(-ERANGE, mqdev_group_commit_offset(self->nl, "g", self->name,
						     0, 99, NULL));
	ASSERT_EQ(0, snap(self->nl, self->name, &s));
	EXPECT_EQ(2, s.group.commits);
}

/* A member joining and leaving rebalances the group: counted. */
TEST_F(stats, rebalances)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts);
	struct mqdev_consumer *c;
	struct snap s;

	ASSERT_EQ(0, mqdev_consumer_new(self->name, &opts, &c));
	ASSERT_EQ(0, mqdev_consumer_join(c, "rb", MQDEV_SEEK_EARLIEST));
	ASSERT_EQ(0, snap(self->nl, self->name, &s));
	EXPECT_EQ(1, s.group.members);
	EXPECT_LE(1, s.group.rebalances);
	mqdev_consumer_free(c);
	ASSERT_EQ(0, snap(self->nl, self->name, &s));
	EXPECT_EQ(0, s.group.members);
	EXPECT_LE(2, s.group.rebalances);
}

/* An overwrite topic's drops are the records it reclaimed. */
TEST(overwrite_drops)
{
	char name[MQDEV_NAME_MAX + 1];
	struct mqdev_nl *nl;
	struct snap s;
	int fd, prod;

	fd = mqdev_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mqdev_nl_open(&nl));
	strcpy(name, topic_name("drops"));
	ASSERT_EQ(0, create_topic(fd, name, 1, 4096, MQDEV_TOPIC_OVERWRITE));
	prod = attach(name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, prod);
	ASSERT_EQ(0, produce_n(prod, 0, 100));
	ASSERT_EQ(0, snap(nl, name, &s));
	EXPECT_EQ(100, s.part[0].records_in);
	EXPECT_EQ(100 - s.part[0].kept_records, s.part[0].drops);
	EXPECT_LT(0, s.part[0].drops);
	close(prod);
	mqdev_topic_delete(fd, name);
	mqdev_nl_close(nl);
	close(fd);
}

#define MQDEV_NR_KINDS	(MQDEV_CHARGE_MAX + 1)

static int module_topics(struct mqdev_nl *nl, struct mqdev_stats_charge *c)
{
	LIBMQDEV_OPTS(mqdev_stats_module, m);
	int err = mqdev_stats_module(nl, &m);

	if (!err)
		memcpy(c, m.charge, sizeof(m.charge[0]) * MQDEV_NR_KINDS);
	return err;
}

/* A topic is charged module-wide and to its user, and given back. */
TEST(module_charges)
{
	struct mqdev_stats_charge was[MQDEV_NR_KINDS], now[MQDEV_NR_KINDS];
	char name[MQDEV_NAME_MAX + 1];
	struct mqdev_nl *nl;
	int fd;

	fd = mqdev_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mqdev_nl_open(&nl));
	ASSERT_EQ(0, module_topics(nl, was));
	strcpy(name, topic_name("charges"));
	ASSERT_EQ(0, create_topic(fd, name, 3, 8192, 0));
	ASSERT_EQ(0, module_topics(nl, now));
	EXPECT_EQ(was[MQDEV_CHARGE_TOPICS].used + 1,
		  now[MQDEV_CHARGE_TOPICS].used);
	EXPECT_EQ(was[MQDEV_CHARGE_TOPICS].user_used + 1,
		  now[MQDEV_CHARGE_TOPICS].user_used);
	EXPECT_EQ(was[MQDEV_CHARGE_PARTITIONS].used + 3,
		  now[MQDEV_CHARGE_PARTITIONS].used);
	/* each partition's ring and its control page */
	EXPECT_EQ(was[MQDEV_CHARGE_BYTES].used + 3 * (8192 + getpagesize()),
		  now[MQDEV_CHARGE_BYTES].used);
	EXPECT_EQ(get_param("max_topics"), now[MQDEV_CHARGE_TOPICS].limit);
	EXPECT_EQ(get_param("max_user_topics"),
		  now[MQDEV_CHARGE_TOPICS].user_limit);
	EXPECT_EQ(get_param("max_bytes"), now[MQDEV_CHARGE_BYTES].limit);
	EXPECT_EQ(UINT64_MAX, now[MQDEV_CHARGE_GROUPS].limit);
	ASSERT_EQ(0, mqdev_topic_delete(fd, name));
	ASSERT_EQ(0, module_topics(nl, now));
	EXPECT_EQ(was[MQDEV_CHARGE_TOPICS].used, now[MQDEV_CHARGE_TOPICS].used);
	EXPECT_EQ(was[MQDEV_CHARGE_BYTES].used, now[MQDEV_CHARGE_BYTES].used);
	mqdev_nl_close(nl);
	close(fd);
}

/* What user 1001 is told of user 1000's private topic: nothing. */
static int stats_as_other(void *arg)
{
	struct mqdev_stats_charge c[MQDEV_NR_KINDS];
	struct mqdev_nl *nl;
	struct snap s;

	if (mqdev_nl_open(&nl))
		return 10;
	if (snap(nl, arg, &s))
		return 11;
	if (s.nr_part || s.nr_topic || s.nr_group)
		return 12;		/* told of a topic it may not read */
	if (snap(nl, NULL, &s) || s.nr_part)
		return 13;
	/* the module's totals are for anyone; its own charges are none */
	if (module_topics(nl, c) || !c[MQDEV_CHARGE_TOPICS].used ||
	    c[MQDEV_CHARGE_TOPICS].user_used)
		return 14;
	mqdev_nl_close(nl);
	return 0;
}

static int stats_as_owner(void *arg)
{
	struct mqdev_stats_charge c[MQDEV_NR_KINDS];
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = PARTS, .mode = 0600);
	struct mqdev_nl *nl;
	struct snap s;
	int fd = mqdev_open();

	if (fd < 0 || mqdev_topic_create(fd, arg, &cfg))
		return 20;
	if (mqdev_nl_open(&nl) || snap(nl, arg, &s) || s.nr_part != PARTS)
		return 21;
	if (module_topics(nl, c) || c[MQDEV_CHARGE_TOPICS].user_used != 1)
		return 22;
	mqdev_nl_close(nl);
	close(fd);
	return 0;
}

TEST(permissions)
{
	char name[MQDEV_NAME_MAX + 1];
	struct snap s;
	struct mqdev_nl *nl;
	int fd = mqdev_open();

	ASSERT_LE(0, fd);
	strcpy(name, topic_name("private"));
	ASSERT_EQ(0, as_user(USER_UID, stats_as_owner, name));
	EXPECT_EQ(0, as_user(OTHER_UID, stats_as_other, name));
	/* root reads it, CAP_IPC_OWNER */
	ASSERT_EQ(0, mqdev_nl_open(&nl));
	ASSERT_EQ(0, snap(nl, name, &s));
	EXPECT_EQ(PARTS, s.nr_part);
	mqdev_nl_close(nl);
	EXPECT_EQ(0, mqdev_topic_delete(fd, name));
	close(fd);
}

TEST_HARNESS_MAIN
