// SPDX-License-Identifier: GPL-2.0
/*
 * Consumer groups: members share partitions, rebalance at once when one
 * joins, leaves or dies, commit with fencing, and hold space under block.
 */
#include "common.h"
#include "kselftest_harness.h"

#define PARTS 6
#define PER_PART 100

FIXTURE(group) {
	int fd, prod;
	char name[MQDEV_NAME_MAX + 1];
};

FIXTURE_SETUP(group)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("group"));
	ASSERT_EQ(0, create_topic(self->fd, self->name, PARTS, 1 << 18, 0));
	self->prod = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, self->prod);
}

FIXTURE_TEARDOWN(group)
{
	close(self->prod);
	mqdev_topic_delete(self->fd, self->name);
	close(self->fd);
}

/* Value i of partition p is the number p * PER_PART + i. */
static void produce_all(struct __test_metadata *_metadata, int prod, int n)
{
	uint32_t v;
	int p, i;

	for (p = 0; p < PARTS; p++)
		for (i = 0; i < n; i++) {
			v = p * PER_PART + i;
			ASSERT_EQ(p, produce_one(prod, p, NULL, 0, &v, sizeof(v),
						 NULL));
		}
}

static uint32_t value_of(const struct mqdev_record *rec)
{
	uint32_t v;

	memcpy(&v, mqdev_record_value(rec), sizeof(v));
	return v;
}

/* Shared between members and the test: how often each value was seen. */
static uint8_t *shared_counts(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int owned_count(struct mqdev_consumer *c)
{
	int p, n = 0;

	for (p = 0; p < PARTS; p++)
		n += mqdev_consumer_owns(c, p);
	return n;
}

/*
 * A member: join, say so, wait for the go, then read and commit every record
 * until nothing came for @idle_ms; exits 0 if all went well.
 */
static int member(const char *topic, const char *group, uint8_t *seen,
		  int ready_fd, int go_fd, int idle_ms)
{
	const struct mqdev_record *rec;
	struct mqdev_consumer *c;
	char b = 0;
	int err;

	if (mqdev_consumer_new(topic, NULL, &c) ||
	    mqdev_consumer_join(c, group, MQDEV_SEEK_EARLIEST))
		return 10;
	if (write(ready_fd, &b, 1) != 1 || read(go_fd, &b, 1) != 1)
		return 11;
	for (;;) {
		err = mqdev_consumer_wait(c, idle_ms);
		if (err < 0)
			return 12;
		if (!err)
			break;
		while ((rec = mqdev_consumer_peek(c))) {
			__atomic_fetch_add(&seen[value_of(rec)], 1,
					   __ATOMIC_RELAXED);
			mqdev_consumer_release(c);
		}
		err = mqdev_consumer_commit(c);
		if (err && err != -ESTALE)
			return 13;
	}
	mqdev_consumer_free(c);
	return 0;
}

static void run_members(struct __test_metadata *_metadata, const char *topic,
			const char *group, int n, uint8_t *seen, int prod)
{
	int ready[2], go[2], i, status;
	pid_t pids[8];
	char b = 0;

	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	for (i = 0; i < n; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (!pids[i])
			_exit(member(topic, group, seen, ready[1], go[0], 500));
	}
	for (i = 0; i < n; i++)
		ASSERT_EQ(1, read(ready[0], &b, 1));
	produce_all(_metadata, prod, PER_PART);
	for (i = 0; i < n; i++)
		ASSERT_EQ(1, write(go[1], &b, 1));
	for (i = 0; i < n; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status));
	}
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
}

TEST_F(group, members_share_every_record_once)
{
	uint8_t *seen = shared_counts(PARTS * PER_PART);
	int n;

	ASSERT_NE(NULL, seen);
	for (n = 1; n <= 3; n++) {
		char group[32];
		int i;

		snprintf(group, sizeof(group), "share-%d", n);
		memset(seen, 0, PARTS * PER_PART);
		run_members(_metadata, self->name, group, n, seen, self->prod);
		/* each run produced another PER_PART per partition */
		for (i = 0; i < PARTS * PER_PART; i++)
			ASSERT_EQ(n, seen[i]) TH_LOG("value %d with %d members",
						     i, n);
	}
}

/* Every group gets every record, whatever the others do. */
TEST_F(group, every_group_gets_everything)
{
	struct mqdev_consumer *c[5];
	const struct mqdev_record *rec;
	char group[16];
	int i, got;

	for (i = 0; i < 5; i++) {
		snprintf(group, sizeof(group), "fan-%d", i);
		ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c[i]));
		ASSERT_EQ(0, mqdev_consumer_join(c[i], group,
						 MQDEV_SEEK_EARLIEST));
		EXPECT_EQ(PARTS, owned_count(c[i]));
	}
	produce_all(_metadata, self->prod, 10);
	for (i = 0; i < 5; i++) {
		got = 0;
		while ((rec = mqdev_consumer_peek(c[i]))) {
			mqdev_consumer_release(c[i]);
			got++;
		}
		EXPECT_EQ(PARTS * 10, got);
		EXPECT_EQ(0, mqdev_consumer_commit(c[i]));
		mqdev_consumer_free(c[i]);
	}
}

TEST_F(group, sticky_even_and_idle_members)
{
	struct mqdev_consumer *c[8];
	bool before[PARTS];
	int i, p, total;

	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c[0]));
	ASSERT_EQ(0, mqdev_consumer_join(c[0], "sticky", MQDEV_SEEK_LATEST));
	EXPECT_EQ(PARTS, owned_count(c[0]));

	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c[1]));
	ASSERT_EQ(0, mqdev_consumer_join(c[1], "sticky", MQDEV_SEEK_LATEST));
	EXPECT_EQ(1, mqdev_consumer_wait(c[0], 1000));	/* told at once */
	EXPECT_EQ(3, owned_count(c[0]));
	EXPECT_EQ(3, owned_count(c[1]));
	for (p = 0; p < PARTS; p++) {
		EXPECT_NE(mqdev_consumer_owns(c[0], p),
			  mqdev_consumer_owns(c[1], p));
		before[p] = mqdev_consumer_owns(c[0], p);
	}

	/* a third member takes one from each; nobody else moves */
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c[2]));
	ASSERT_EQ(0, mqdev_consumer_join(c[2], "sticky", MQDEV_SEEK_LATEST));
	mqdev_consumer_wait(c[0], 0);
	mqdev_consumer_wait(c[1], 0);
	EXPECT_EQ(2, owned_count(c[0]));
	EXPECT_EQ(2, owned_count(c[1]));
	EXPECT_EQ(2, owned_count(c[2]));
	for (p = 0; p < PARTS; p++)
		if (mqdev_consumer_owns(c[0], p))
			EXPECT_TRUE(before[p]);

	/* beyond the partition count, members wait idle */
	for (i = 3; i < 8; i++) {
		ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c[i]));
		ASSERT_EQ(0, mqdev_consumer_join(c[i], "sticky",
						 MQDEV_SEEK_LATEST));
	}
	total = 0;
	for (i = 0; i < 8; i++) {
		mqdev_consumer_wait(c[i], 0);
		EXPECT_GE(1, owned_count(c[i]));
		total += owned_count(c[i]);
	}
	EXPECT_EQ(PARTS, total);

	/* leaving hands the partitions back, at once */
	for (i = 7; i >= 1; i--)
		mqdev_consumer_free(c[i]);
	mqdev_consumer_wait(c[0], 0);
	EXPECT_EQ(PARTS, owned_count(c[0]));
	mqdev_consumer_free(c[0]);
}

static int raw_commit(int fd, uint32_t part, uint32_t gen, uint64_t offset)
{
	struct mqdev_group_commit req = {
		.partition = part, .generation = gen, .offset = offset,
	};

	return xioctl(fd, MQDEV_IOC_GROUP_COMMIT, &req);
}

TEST_F(group, commits_are_fenced_and_checked)
{
	struct mqdev_group_join join = { .reset = MQDEV_SEEK_EARLIEST };
	struct mqdev_group_assignment asg = {};
	struct mqdev_group_start starts[PARTS];
	int a, b, gen_a, mine = -1, theirs = -1, p;

	produce_all(_metadata, self->prod, 5);
	a = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	b = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);

	EXPECT_EQ(-EBADFD, raw_commit(a, 0, 1, 1));
	mqdev_name_set(join.group, "fence");
	join.reset = 7;
	EXPECT_EQ(-EINVAL, xioctl(a, MQDEV_IOC_GROUP_JOIN, &join));
	join.reset = MQDEV_SEEK_EARLIEST;
	join.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, xioctl(a, MQDEV_IOC_GROUP_JOIN, &join));
	join.reserved[0] = 0;
	ASSERT_EQ(0, xioctl(a, MQDEV_IOC_GROUP_JOIN, &join));
	gen_a = join.generation;
	EXPECT_EQ(-EBUSY, xioctl(a, MQDEV_IOC_GROUP_JOIN, &join));
	EXPECT_EQ(-EBUSY, seek(a, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
	EXPECT_EQ(-EBADF, xioctl(self->prod, MQDEV_IOC_GROUP_JOIN, &join));

	ASSERT_EQ(0, xioctl(b, MQDEV_IOC_GROUP_JOIN, &join));
	EXPECT_LT(gen_a, join.generation);

	/* a's view is a generation old: its commits are refused */
	EXPECT_EQ(-ESTALE, raw_commit(a, 0, gen_a, 1));
	asg.starts = (uintptr_t)starts;
	asg.starts_count = PARTS - 1;
	EXPECT_EQ(-EINVAL, xioctl(a, MQDEV_IOC_GROUP_ASSIGNMENT, &asg));
	asg.starts_count = PARTS;
	ASSERT_EQ(0, xioctl(a, MQDEV_IOC_GROUP_ASSIGNMENT, &asg));
	EXPECT_EQ(join.generation, asg.generation);
	EXPECT_EQ(PARTS / 2, asg.count);
	for (p = 0; p < PARTS; p++) {
		if (asg.owned[0] & (1ULL << p))
			mine = p;
		else
			theirs = p;
	}
	ASSERT_LE(0, mine);
	ASSERT_LE(0, theirs);
	EXPECT_EQ(0, starts[mine].offset);
	EXPECT_EQ(-ESTALE, raw_commit(a, theirs, asg.generation, 1));
	EXPECT_EQ(-ERANGE, raw_commit(a, mine, asg.generation, 6));
	EXPECT_EQ(-EINVAL, raw_commit(a, PARTS, asg.generation, 1));
	EXPECT_EQ(0, raw_commit(a, mine, asg.generation, 5));
	EXPECT_EQ(0, raw_commit(a, mine, asg.generation, 3));	/* back */

	/* when a leaves, b starts its partitions at a's commit */
	close(a);
	asg.starts_count = PARTS;
	ASSERT_EQ(0, xioctl(b, MQDEV_IOC_GROUP_ASSIGNMENT, &asg));
	EXPECT_EQ(PARTS, asg.count);
	EXPECT_EQ(3, starts[mine].offset);
	EXPECT_EQ(0, starts[theirs].offset);
	close(b);
}

/* A member killed mid-stream: its partitions move, only uncommitted repeat. */
TEST_F(group, killed_member_loses_nothing)
{
	uint8_t *seen = shared_counts(PARTS * PER_PART);
	const struct mqdev_record *rec;
	struct mqdev_consumer *b;
	int ready[2], n = 0, i, extra = 0;
	pid_t pid;
	char ch;

	ASSERT_NE(NULL, seen);
	ASSERT_EQ(0, pipe(ready));
	produce_all(_metadata, self->prod, PER_PART);
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &b));
	ASSERT_EQ(0, mqdev_consumer_join(b, "kill", MQDEV_SEEK_EARLIEST));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct mqdev_consumer *a;

		if (mqdev_consumer_new(self->name, NULL, &a) ||
		    mqdev_consumer_join(a, "kill", MQDEV_SEEK_EARLIEST))
			_exit(1);
		/* read 50 and commit them, read 25 more and die */
		while (n < 75 && mqdev_consumer_wait(a, 2000) > 0) {
			while (n < 75 && (rec = mqdev_consumer_peek(a))) {
				seen[value_of(rec)]++;
				mqdev_consumer_release(a);
				if (++n == 50)
					mqdev_consumer_commit(a);
			}
		}
		ch = 0;
		if (write(ready[1], &ch, 1) != 1)
			_exit(2);
		pause();
		_exit(0);
	}
	ASSERT_EQ(1, read(ready[0], &ch, 1));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);

	/* b owns everything at once, and reads on */
	for (;;) {
		int got = mqdev_consumer_wait(b, 300);

		ASSERT_LE(0, got);
		if (!got)
			break;
		while ((rec = mqdev_consumer_peek(b))) {
			seen[value_of(rec)]++;
			mqdev_consumer_release(b);
		}
		ASSERT_EQ(0, mqdev_consumer_commit(b));
	}
	EXPECT_EQ(PARTS, owned_count(b));
	for (i = 0; i < PARTS * PER_PART; i++) {
		ASSERT_LE(1, seen[i]) TH_LOG("value %d was lost", i);
		ASSERT_GE(2, seen[i]);
		extra += seen[i] - 1;
	}
	/* only what the dead member read after its last commit came twice */
	EXPECT_EQ(25, extra);
	mqdev_consumer_free(b);
}

/* Under block, a group that has not committed holds producers back. */
TEST_F(group, groups_hold_space)
{
	struct mqdev_consumer *c, *reader;
	const struct mqdev_record *rec;
	char value[1000];
	int prod, n = 0, err;

	ASSERT_EQ(0, mqdev_topic_delete(self->fd, self->name));
	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 16384, 0));
	prod = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, prod);
	ASSERT_EQ(0, fcntl(prod, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_join(c, "holder", MQDEV_SEEK_EARLIEST));

	while ((err = produce_one(prod, 0, NULL, 0, value, sizeof(value),
				  NULL)) == 0)
		n++;
	EXPECT_EQ(-EAGAIN, err);
	EXPECT_EQ(16384 / MQDEV_RECORD_SPACE(sizeof(struct mqdev_record) +
					      sizeof(value)), n);

	/* a standalone reader reads it all and frees nothing */
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &reader));
	ASSERT_EQ(0, mqdev_consumer_seek(reader, 0, MQDEV_SEEK_EARLIEST, 0, 0,
					 NULL));
	while ((rec = mqdev_consumer_peek(reader)))
		mqdev_consumer_release(reader);
	EXPECT_EQ(-EAGAIN, produce_one(prod, 0, NULL, 0, value, sizeof(value),
				       NULL));

	/* reading without committing frees nothing either; committing does */
	ASSERT_NE(NULL, rec = mqdev_consumer_peek(c));
	mqdev_consumer_release(c);
	ASSERT_NE(NULL, rec = mqdev_consumer_peek(c));
	mqdev_consumer_release(c);
	EXPECT_EQ(-EAGAIN, produce_one(prod, 0, NULL, 0, value, sizeof(value),
				       NULL));
	EXPECT_EQ(0, mqdev_consumer_commit(c));
	EXPECT_EQ(0, produce_one(prod, 0, NULL, 0, value, sizeof(value), NULL));
	EXPECT_EQ(0, produce_one(prod, 0, NULL, 0, value, sizeof(value), NULL));
	EXPECT_EQ(-EAGAIN, produce_one(prod, 0, NULL, 0, value, sizeof(value),
				       NULL));

	/* the group outlives its members: it still holds */
	mqdev_consumer_free(c);
	mqdev_consumer_free(reader);
	EXPECT_EQ(-EAGAIN, produce_one(prod, 0, NULL, 0, value, sizeof(value),
				       NULL));
	close(prod);
}

TEST_F(group, member_limit)
{
	static struct mqdev_consumer *c[257];
	int i;

	for (i = 0; i < 256; i++) {
		ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c[i]));
		ASSERT_EQ(0, mqdev_consumer_join(c[i], "crowd",
						 MQDEV_SEEK_LATEST));
	}
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c[256]));
	EXPECT_EQ(-ENOSPC, mqdev_consumer_join(c[256], "crowd",
					       MQDEV_SEEK_LATEST));
	/* refused, it is no member: it may still read on its own */
	EXPECT_EQ(0, mqdev_consumer_seek(c[256], 0, MQDEV_SEEK_LATEST, 0, 0,
					 NULL));
	for (i = 0; i <= 256; i++)
		mqdev_consumer_free(c[i]);
}

TEST_HARNESS_MAIN
