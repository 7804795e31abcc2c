// SPDX-License-Identifier: GPL-2.0
/*
 * Limits: every module parameter that bounds something refuses values out of
 * its range, and what one user may make the kernel hold is bounded per user
 * (EDQUOT past it) and per topic (ENOSPC): consumer groups, producer names,
 * producer sequence state, open transactions.  A refused call makes
 * nothing, and what is freed gives its room back.
 */
#include <limits.h>
#include <sched.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include "common.h"
#include "kselftest_harness.h"

#define MAX_SAVED	32
#define GIB		(1UL << 30)
#define TIB		(1UL << 40)

FIXTURE(limits) {
	int fd;
	struct mqdev_nl *nl;
	int nr_saved;
	struct {
		const char *name;
		unsigned long value;
	} saved[MAX_SAVED];
	char topic[2][MQDEV_NAME_MAX + 1];	/* deleted by the teardown */
};

FIXTURE_SETUP(limits)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, mqdev_nl_open(&self->nl));
}

/* Every parameter a test changed gets its value back, last changed first. */
FIXTURE_TEARDOWN(limits)
{
	int i;

	for (i = self->nr_saved - 1; i >= 0; i--) {
		EXPECT_EQ(0, set_param(self->saved[i].name,
				       self->saved[i].value))
			TH_LOG("restoring %s", self->saved[i].name);
	}
	for (i = 0; i < 2; i++)
		if (self->topic[i][0])
			mqdev_topic_delete(self->fd, self->topic[i]);
	mqdev_nl_close(self->nl);
	close(self->fd);
}

static bool param_exists(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/module/mqdev/parameters/%s", name);
	return access(path, F_OK) == 0;
}

/* Remember @name's value for the teardown, once; -ENOENT if there is none. */
static int save_param(FIXTURE_DATA(limits) *self, const char *name)
{
	int i;

	if (!param_exists(name))
		return -ENOENT;
	for (i = 0; i < self->nr_saved; i++)
		if (!strcmp(self->saved[i].name, name))
			return 0;
	if (self->nr_saved == MAX_SAVED)
		return -ENOSPC;
	self->saved[self->nr_saved].name = name;
	self->saved[self->nr_saved].value = get_param(name);
	self->nr_saved++;
	return 0;
}

/* Set @name for this test only. */
static int limit(FIXTURE_DATA(limits) *self, const char *name,
		 unsigned long value)
{
	return save_param(self, name) ?: set_param(name, value);
}

static int make_topic(FIXTURE_DATA(limits) *self, int i, const char *test,
		      uint32_t parts, uint32_t mode)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = parts,
		      .capacity = 65536, .mode = mode);

	strcpy(self->topic[i], topic_name(test));
	return mqdev_topic_create(self->fd, self->topic[i], &cfg);
}

static int count_one(void *ctx, const struct mqdev_group_info *info)
{
	(*(int *)ctx)++;
	return 0;
}

/* The groups of @topic the caller may see, or -errno. */
static int group_count(struct mqdev_nl *nl, const char *topic)
{
	int n = 0, err = mqdev_group_get(nl, NULL, topic, count_one, &n);

	return err ?: n;
}

/*
 * In a child, where the harness's checks cannot be used: 0 if @got is what
 * was wanted, else 1 and a line saying what went wrong.
 */
static int check_eq(int line, const char *what, long want, long got)
{
	if (want == got)
		return 0;
	fprintf(stderr, "# limits_test.c:%d: %s: want %ld, got %ld\n", line,
		what, want, got);
	return 1;
}

#define CHECK(want, expr)	check_eq(__LINE__, #expr, (want), (expr))

/* ---- 1. every limit refuses values out of its range ------------------------ */

TEST_F(limits, parameter_ranges)
{
	const unsigned long page = sysconf(_SC_PAGESIZE);
	const struct {
		const char *name;
		unsigned long min, max;
	} range[] = {
		{ "max_partition_bytes",	page,	GIB },
		{ "max_bytes",			0,	TIB },
		{ "max_user_bytes",		0,	TIB },
		{ "max_topics",			0,	1 << 20 },
		{ "max_user_topics",		0,	65536 },
		{ "max_user_partitions",	0,	1 << 20 },
		{ "max_user_groups",		0,	65536 },
		{ "max_user_producers",		0,	65536 },
		{ "max_user_producer_states",	0,	1 << 20 },
		{ "max_user_txns",		0,	1024 },
		{ "max_txns",			0,	1024 },
		{ "max_txn_bytes",		0,	TIB },
		{ "max_producers",		0,	1 << 20 },
		{ "txn_timeout_ms",		1,	900000 },
		{ "max_topic_groups",		1,	65536 },
	};
	unsigned long old, bad[3];
	size_t i, j, nr_bad;

	for (i = 0; i < ARRAY_SIZE(range); i++) {
		const char *name = range[i].name;

		EXPECT_TRUE(param_exists(name)) TH_LOG("no parameter %s", name);
		if (save_param(self, name))
			continue;
		old = get_param(name);
		nr_bad = 0;
		if (range[i].min)
			bad[nr_bad++] = range[i].min - 1;
		bad[nr_bad++] = range[i].max + 1;
		bad[nr_bad++] = ULONG_MAX;
		for (j = 0; j < nr_bad; j++) {
			EXPECT_EQ(-EINVAL, set_param(name, bad[j]))
				TH_LOG("%s=%lu was taken", name, bad[j]);
			EXPECT_EQ(old, get_param(name))
				TH_LOG("%s changed by %lu", name, bad[j]);
			/* where it was taken, nothing may use it */
			set_param(name, old);
		}
		/* both ends are values it may have */
		EXPECT_EQ(0, set_param(name, range[i].max))
			TH_LOG("%s=%lu refused", name, range[i].max);
		EXPECT_EQ(range[i].max, get_param(name));
		EXPECT_EQ(0, set_param(name, range[i].min))
			TH_LOG("%s=%lu refused", name, range[i].min);
		EXPECT_EQ(range[i].min, get_param(name));
		EXPECT_EQ(0, set_param(name, old));
		EXPECT_EQ(old, get_param(name));
	}
}

/* ---- 2. the largest partition: no size computation can overflow ------------ */

TEST_F(limits, largest_partition)
{
	char name[MQDEV_NAME_MAX + 1];
	struct topic_try t = { name, MQDEV_MAX_PARTITIONS, GIB };
	int n = topic_count(self->fd);

	strcpy(name, topic_name("huge"));
	ASSERT_EQ(0, limit(self, "max_partition_bytes", GIB));
	ASSERT_EQ(GIB, get_param("max_partition_bytes"));
	ASSERT_EQ(0, limit(self, "max_bytes", 8 << 20));
	ASSERT_EQ(0, limit(self, "max_user_bytes", 64 << 20));

	/* 256 GiB: root is stopped by max_bytes, a user by its own limit */
	EXPECT_EQ(-ENOSPC, create_topic(self->fd, name, MQDEV_MAX_PARTITIONS,
					GIB, 0));
	EXPECT_EQ(-ENOSPC, create_topic(self->fd, name, 1, GIB, 0));
	EXPECT_EQ(EDQUOT, as_user(USER_UID, create_topic_as, &t));
	/* past the largest partition, or the largest the module may allow */
	EXPECT_EQ(-EINVAL, create_topic(self->fd, name, 1, 2 * GIB, 0));
	EXPECT_EQ(-EINVAL, create_topic(self->fd, name, 2, 1ULL << 63, 0));
	t.parts = 1;
	t.capacity = 2 * GIB;
	EXPECT_EQ(EINVAL, as_user(USER_UID, create_topic_as, &t));
	EXPECT_EQ(n, topic_count(self->fd));
	EXPECT_EQ(-ENOENT, mqdev_topic_delete(self->fd, name));

	/* the refused ones gave back what they counted: 4 MiB still fit in 8 */
	EXPECT_EQ(0, create_topic(self->fd, name, 4, 1 << 20, 0));
	EXPECT_EQ(n + 1, topic_count(self->fd));
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, name));

	/* a lower largest partition is obeyed */
	ASSERT_EQ(0, set_param("max_partition_bytes", GIB / 2));
	EXPECT_EQ(-EINVAL, create_topic(self->fd, name, 1, GIB, 0));
	EXPECT_EQ(n, topic_count(self->fd));
}

/* ---- 3. consumer groups per user ------------------------------------------- */

struct group_args {
	const char *topic;
};

static int join(const char *topic, const char *group,
		struct mqdev_consumer **c)
{
	int err = mqdev_consumer_new(topic, NULL, c);

	if (err)
		return err;
	err = mqdev_consumer_join(*c, group, MQDEV_SEEK_EARLIEST);
	if (err) {
		mqdev_consumer_free(*c);
		*c = NULL;
	}
	return err;
}

static int reset(struct mqdev_nl *nl, const char *group, const char *topic)
{
	return mqdev_group_reset(nl, group, topic, MQDEV_PARTITION_ALL,
				 MQDEV_SEEK_EARLIEST, 0, false);
}

/* As a user with room for two groups. */
static int groups_as_user(void *arg)
{
	const struct group_args *a = arg;
	struct mqdev_consumer *c[4] = {};
	struct mqdev_nl *nl;
	int fails = 0, i;

	if (mqdev_nl_open(&nl))
		return 100;
	fails += CHECK(0, join(a->topic, "g0", &c[0]));
	fails += CHECK(0, join(a->topic, "g1", &c[1]));
	fails += CHECK(-EDQUOT, join(a->topic, "g2", &c[2]));
	fails += CHECK(2, group_count(nl, a->topic));
	/* netlink too; g2 was not made, or its reset would find it, empty */
	fails += CHECK(-EDQUOT, reset(nl, "g2", a->topic));
	fails += CHECK(-EDQUOT, reset(nl, "g3", a->topic));
	fails += CHECK(2, group_count(nl, a->topic));

	/* using one's own group takes no more room: g0 stays when c[0] goes */
	mqdev_consumer_free(c[0]);
	c[0] = NULL;
	fails += CHECK(0, reset(nl, "g0", a->topic));
	fails += CHECK(2, group_count(nl, a->topic));

	/* a deleted group gives its room back */
	fails += CHECK(0, mqdev_group_delete(nl, "g0", a->topic, false));
	fails += CHECK(1, group_count(nl, a->topic));
	fails += CHECK(0, join(a->topic, "g2", &c[2]));
	fails += CHECK(-EDQUOT, reset(nl, "g3", a->topic));
	fails += CHECK(2, group_count(nl, a->topic));
	/* forced, with its member in it: the same */
	fails += CHECK(0, mqdev_group_delete(nl, "g1", a->topic, true));
	mqdev_consumer_free(c[1]);
	c[1] = NULL;
	fails += CHECK(0, reset(nl, "g3", a->topic));
	fails += CHECK(-EDQUOT, join(a->topic, "g4", &c[3]));
	fails += CHECK(2, group_count(nl, a->topic));

	for (i = 0; i < 4; i++)
		mqdev_consumer_free(c[i]);
	mqdev_nl_close(nl);
	return fails;
}

static int one_group_as_user(void *arg)
{
	const struct group_args *a = arg;
	struct mqdev_consumer *c;
	int err = join(a->topic, "other-user", &c);

	if (err)
		return -err;
	mqdev_consumer_free(c);
	return 0;
}

TEST_F(limits, user_groups)
{
	struct group_args a = { self->topic[0] };
	const char *const left[] = { "g2", "g3" }, *const gone[] = {
		"g0", "g1", "g4",
	};
	int i, n;

	ASSERT_EQ(0, make_topic(self, 0, "ugroups", 2, 0644));
	ASSERT_EQ(0, limit(self, "max_user_groups", 2));
	EXPECT_EQ(0, as_user(USER_UID, groups_as_user, &a));

	/* what the user made, and only that, is there */
	EXPECT_EQ(2, group_count(self->nl, self->topic[0]));
	for (i = 0; i < 2; i++) {
		n = 0;
		EXPECT_EQ(0, mqdev_group_get(self->nl, left[i], self->topic[0],
					     count_one, &n));
		EXPECT_EQ(1, n) TH_LOG("group %s", left[i]);
	}
	for (i = 0; i < 3; i++) {
		n = 0;
		EXPECT_EQ(0, mqdev_group_get(self->nl, gone[i], self->topic[0],
					     count_one, &n));
		EXPECT_EQ(0, n) TH_LOG("group %s", gone[i]);
	}
	/* each user has its own room, and root goes past it */
	EXPECT_EQ(0, as_user(OTHER_UID, one_group_as_user, &a));
	EXPECT_EQ(0, reset(self->nl, "root-1", self->topic[0]));
	EXPECT_EQ(0, reset(self->nl, "root-2", self->topic[0]));
	EXPECT_EQ(0, reset(self->nl, "root-3", self->topic[0]));
	EXPECT_EQ(6, group_count(self->nl, self->topic[0]));
}

/* ---- 4. consumer groups per topic ------------------------------------------ */

TEST_F(limits, topic_groups)
{
	struct mqdev_consumer *c, *d;
	struct group_args a = { self->topic[0] };

	ASSERT_EQ(0, make_topic(self, 0, "tgroups", 2, 0644));
	ASSERT_EQ(0, make_topic(self, 1, "tgroups", 1, 0644));
	ASSERT_EQ(0, limit(self, "max_topic_groups", 3));
	/* root goes past its own limit, never past the topic's */
	ASSERT_EQ(0, limit(self, "max_user_groups", 1));

	ASSERT_EQ(0, reset(self->nl, "t0", self->topic[0]));
	ASSERT_EQ(0, reset(self->nl, "t1", self->topic[0]));
	ASSERT_EQ(0, join(self->topic[0], "t2", &c));
	EXPECT_EQ(-ENOSPC, join(self->topic[0], "t3", &d));
	EXPECT_EQ(-ENOSPC, reset(self->nl, "t3", self->topic[0]));
	EXPECT_STRNE("", mqdev_nl_error(self->nl));
	EXPECT_EQ(3, group_count(self->nl, self->topic[0]));
	/* a user is refused for the topic too, before its own limit */
	EXPECT_EQ(ENOSPC, as_user(USER_UID, one_group_as_user, &a));
	EXPECT_EQ(3, group_count(self->nl, self->topic[0]));

	/* another topic has its own room */
	EXPECT_EQ(0, reset(self->nl, "t3", self->topic[1]));
	EXPECT_EQ(1, group_count(self->nl, self->topic[1]));

	/* a deleted group's place is free again */
	EXPECT_EQ(-EBUSY, mqdev_group_delete(self->nl, "t2", self->topic[0],
					     false));
	mqdev_consumer_free(c);
	EXPECT_EQ(0, mqdev_group_delete(self->nl, "t2", self->topic[0], false));
	EXPECT_EQ(2, group_count(self->nl, self->topic[0]));
	ASSERT_EQ(0, join(self->topic[0], "t3", &d));
	EXPECT_EQ(-ENOSPC, reset(self->nl, "t4", self->topic[0]));
	EXPECT_EQ(3, group_count(self->nl, self->topic[0]));
	mqdev_consumer_free(d);
}

/* ---- 5. producer names per user -------------------------------------------- */

struct name_args {
	char name[4][MQDEV_NAME_MAX + 1];
};

static int session_name(const char *name)
{
	struct mqdev_session *s;
	int err = mqdev_session_new(name, 0, &s);

	if (!err)
		mqdev_session_free(s);
	return err;
}

static int register_name(const char *name)
{
	struct mqdev_nl *nl;
	int err = mqdev_nl_open(&nl);

	if (err)
		return err;
	err = mqdev_nl_checker_register(nl, name);
	mqdev_nl_close(nl);
	return err;
}

static int first_name_as_user(void *arg)
{
	const struct name_args *a = arg;

	return -session_name(a->name[0]);
}

/* The user has name[0] and room for one name more. */
static int names_as_user(void *arg)
{
	const struct name_args *a = arg;
	struct mqdev_session *s;
	int fails = 0;

	fails += CHECK(0, mqdev_session_new(a->name[1], 0, &s));
	fails += CHECK(-EDQUOT, session_name(a->name[2]));
	/* name[2] was not made: if it had been, this would take it */
	fails += CHECK(-EDQUOT, register_name(a->name[2]));
	fails += CHECK(-EDQUOT, register_name(a->name[3]));
	fails += CHECK(-EDQUOT, session_name(a->name[3]));
	/* the user's own names, with or without a session, still serve */
	fails += CHECK(0, session_name(a->name[0]));
	fails += CHECK(0, register_name(a->name[0]));
	fails += CHECK(0, register_name(a->name[1]));
	mqdev_session_free(s);
	fails += CHECK(0, session_name(a->name[1]));
	return fails;
}

/* With room for one more: the refusals counted nothing. */
static int one_more_name_as_user(void *arg)
{
	const struct name_args *a = arg;
	int fails = 0;

	fails += CHECK(0, register_name(a->name[2]));
	fails += CHECK(0, session_name(a->name[2]));
	fails += CHECK(-EDQUOT, session_name(a->name[3]));
	fails += CHECK(-EDQUOT, register_name(a->name[3]));
	return fails;
}

TEST_F(limits, user_producers)
{
	struct name_args a;
	unsigned long had;
	int i, err;

	/*
	 * Names last as long as their network namespace: these go with this
	 * test's.  The user may have names from other tests, made in the
	 * initial one: count them, by the smallest limit that lets it make
	 * its first name.  On a fresh module that is none, and the limit 2.
	 */
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	for (i = 0; i < 4; i++)
		snprintf(a.name[i], sizeof(a.name[i]), "limits-%d-%d",
			 getpid(), i);
	for (had = 0; ; had++) {
		ASSERT_EQ(0, limit(self, "max_user_producers", had + 1));
		err = as_user(USER_UID, first_name_as_user, &a);
		if (err != EDQUOT || had == 255)
			break;
	}
	ASSERT_EQ(0, err);
	if (had)
		TH_LOG("uid %d had %lu producer names", USER_UID, had);

	ASSERT_EQ(0, set_param("max_user_producers", had + 2));
	EXPECT_EQ(0, as_user(USER_UID, names_as_user, &a));
	ASSERT_EQ(0, set_param("max_user_producers", had + 3));
	EXPECT_EQ(0, as_user(USER_UID, one_more_name_as_user, &a));
	/* root goes past it */
	ASSERT_EQ(0, set_param("max_user_producers", 0));
	EXPECT_EQ(0, session_name(a.name[3]));
	EXPECT_EQ(0, register_name(a.name[3]));
}

/* ---- 6. producer sequence state per user ----------------------------------- */

struct pstate_args {
	const char *topic;	/* 4 partitions */
	const char *small;	/* 1 */
};

/* Room for 8 partitions of producer state: two producers on the topic. */
static int pstates_as_user(void *arg)
{
	const struct pstate_args *a = arg;
	struct mqdev_producer *p[4], *q;
	struct mqdev_session *s[3];
	int fails = 0, i;

	for (i = 0; i < 3; i++)
		if (mqdev_session_new(NULL, 0, &s[i]))
			return 100;
	for (i = 0; i < 4; i++)
		if (mqdev_producer_new(a->topic, NULL, &p[i]))
			return 101;
	if (mqdev_producer_new(a->small, NULL, &q))
		return 102;

	fails += CHECK(0, mqdev_producer_bind(p[0], s[0]));
	fails += CHECK(0, mqdev_producer_bind(p[1], s[1]));
	fails += CHECK(-EDQUOT, mqdev_producer_bind(p[2], s[2]));
	fails += CHECK(-EDQUOT, mqdev_producer_bind(q, s[2]));
	/* another handle of a producer with state there takes no more */
	fails += CHECK(0, mqdev_producer_bind(p[3], s[0]));

	/* the state goes, and its room comes back, with its last handle */
	mqdev_producer_free(p[0]);
	fails += CHECK(-EDQUOT, mqdev_producer_bind(p[2], s[2]));
	mqdev_producer_free(p[3]);
	mqdev_session_free(s[0]);
	fails += CHECK(0, mqdev_producer_bind(p[2], s[2]));
	fails += CHECK(-EDQUOT, mqdev_producer_bind(q, s[2]));

	/* the refused bind left the handle whole */
	fails += CHECK(0, mqdev_producer_send(p[2], NULL, 0, "x", 1, 3, NULL));
	fails += CHECK(1, mqdev_producer_flush(p[2]));
	fails += CHECK(1, mqdev_producer_next_sequence(p[2], 3));

	mqdev_producer_free(q);
	mqdev_producer_free(p[1]);
	mqdev_producer_free(p[2]);
	mqdev_session_free(s[1]);
	mqdev_session_free(s[2]);
	return fails;
}

TEST_F(limits, user_producer_states)
{
	struct pstate_args a = { self->topic[0], self->topic[1] };
	struct mqdev_partition_info parts[4];
	struct mqdev_topic_info info;
	int p;

	ASSERT_EQ(0, make_topic(self, 0, "pstates", 4, 0666));
	ASSERT_EQ(0, make_topic(self, 1, "pstates-small", 1, 0666));
	ASSERT_EQ(0, limit(self, "max_user_producer_states", 8));
	EXPECT_EQ(0, as_user(USER_UID, pstates_as_user, &a));

	/* the one record, from the bind that was refused first */
	ASSERT_EQ(0, mqdev_topic_describe(self->fd, self->topic[0], &info,
					  parts, 4));
	for (p = 0; p < 4; p++)
		EXPECT_EQ(p == 3, parts[p].next_offset);
}

/* ---- 7. open transactions per user ----------------------------------------- */

static int txns_as_user(void *arg)
{
	struct mqdev_txn abort = { .op = MQDEV_TXN_ABORT };
	struct mqdev_session *s[2];
	struct mqdev_producer *p;
	int fails = 0, i;

	for (i = 0; i < 2; i++)
		if (mqdev_session_new(NULL, 0, &s[i]))
			return 100;
	if (mqdev_producer_new(arg, NULL, &p) || mqdev_producer_bind(p, s[0]))
		return 101;

	fails += CHECK(0, mqdev_txn_begin(s[0], 1));
	fails += CHECK(0, mqdev_producer_send(p, NULL, 0, "t", 1, 0, NULL));
	fails += CHECK(-EDQUOT, mqdev_txn_begin(s[1], 2));
	/* the kernel holds no transaction of the refused session's */
	fails += CHECK(-ENOENT, xioctl(mqdev_session_fd(s[1]), MQDEV_IOC_TXN,
				       &abort));
	fails += CHECK(0, mqdev_txn_commit(s[0]));

	/* decided, it gave its room back: either way */
	fails += CHECK(0, mqdev_txn_begin(s[1], 2));
	fails += CHECK(-EDQUOT, mqdev_txn_begin(s[0], 3));
	fails += CHECK(0, mqdev_txn_abort(s[1]));
	fails += CHECK(0, mqdev_txn_begin(s[0], 3));
	fails += CHECK(-EDQUOT, mqdev_txn_begin(s[1], 4));
	fails += CHECK(0, mqdev_txn_commit(s[0]));

	mqdev_producer_free(p);
	mqdev_session_free(s[0]);
	mqdev_session_free(s[1]);
	return fails;
}

TEST_F(limits, user_txns)
{
	struct mqdev_partition_info part;
	struct mqdev_topic_info info;

	ASSERT_EQ(0, make_topic(self, 0, "txns", 1, 0666));
	ASSERT_EQ(0, limit(self, "max_user_txns", 1));
	EXPECT_EQ(0, as_user(USER_UID, txns_as_user, self->topic[0]));
	/* the one record, of the first transaction */
	ASSERT_EQ(0, mqdev_topic_describe(self->fd, self->topic[0], &info,
					  &part, 1));
	EXPECT_EQ(1, part.next_offset);
}

TEST_HARNESS_MAIN
