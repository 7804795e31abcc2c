// SPDX-License-Identifier: GPL-2.0
/*
 * Share groups: records handed out one by one to any member, each under a
 * lock; every record accepted exactly once whatever the number of members;
 * a killed member's records delivered again at once with their count
 * raised; locks that expire; release with a back-off, reject and the
 * maximum count; bad input refused with nothing changed; an idle member
 * asleep in poll(2) or a waiting acquire, woken by an append, a release, a
 * lock's expiry, a back-off's end, a member's death and the group's
 * deletion, and by nothing else.
 */
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>
#include "common.h"
#include "kselftest_harness.h"

#define RECORDS 3000

FIXTURE(share) {
	int fd, prod;
	char name[MQDEV_NAME_MAX + 1];
};

FIXTURE_SETUP(share)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("share"));
	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 1 << 20, 0));
	self->prod = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, self->prod);
}

FIXTURE_TEARDOWN(share)
{
	close(self->prod);
	mqdev_topic_delete(self->fd, self->name);
	close(self->fd);
}

static void produce_n(struct __test_metadata *_metadata, int prod, int n)
{
	uint32_t v;
	int i;

	for (v = 0, i = 0; i < n; i++, v++)
		ASSERT_EQ(0, produce_one(prod, 0, NULL, 0, &v, sizeof(v), NULL));
}

static uint32_t value_of(const struct mqdev_record *rec)
{
	uint32_t v;

	memcpy(&v, mqdev_record_value(rec), sizeof(v));
	return v;
}

static struct mqdev_share *join(const char *topic, const char *group,
				uint32_t lock_ms, uint32_t max_deliveries)
{
	LIBMQDEV_OPTS(mqdev_share_opts, opts, .lock_ms = lock_ms,
		      .max_deliveries = max_deliveries,
		      .reset = MQDEV_SEEK_EARLIEST);
	struct mqdev_share *s;

	return mqdev_share_new(topic, group, &opts, &s) ? NULL : s;
}

/* Accept @d[0..n), a run of contiguous offsets at a time. */
static int accept_all(struct mqdev_share *s, const struct mqdev_delivery *d,
		      int n)
{
	int i = 0, j, err;

	while (i < n) {
		for (j = i + 1; j < n && d[j].offset == d[j - 1].offset + 1 &&
		     d[j].partition == d[i].partition; j++)
			;
		err = mqdev_share_ack(s, d[i].partition, d[i].offset,
				      d[j - 1].offset + 1, MQDEV_SHARE_ACCEPT,
				      NULL);
		if (err)
			return err;
		i = j;
	}
	return 0;
}

/* Shared between members and the test. */
struct tally {
	uint32_t accepted;
	uint8_t seen[RECORDS];
};

/* A member: acquire and accept until every record is accepted. */
static int member(const char *topic, const char *group, struct tally *t)
{
	struct mqdev_delivery d[16];
	struct mqdev_share *s;
	uint64_t give_up = mono_ms() + 60000;
	int n, i;

	s = join(topic, group, 30000, 0);
	if (!s)
		return 10;
	while (__atomic_load_n(&t->accepted, __ATOMIC_ACQUIRE) < RECORDS) {
		if (mono_ms() > give_up)
			return 11;
		n = mqdev_share_acquire(s, MQDEV_PARTITION_ANY, d, 16);
		if (n < 0)
			return 12;
		if (!n) {
			usleep(1000);
			continue;
		}
		for (i = 0; i < n; i++) {
			if (!d[i].rec || d[i].delivery_count != 1 ||
			    value_of(d[i].rec) != d[i].offset)
				return 13;
			__atomic_fetch_add(&t->seen[d[i].offset], 1,
					   __ATOMIC_RELAXED);
		}
		if (accept_all(s, d, n))
			return 14;
		__atomic_fetch_add(&t->accepted, n, __ATOMIC_RELEASE);
	}
	mqdev_share_free(s);
	return 0;
}

static void run_members(struct __test_metadata *_metadata, const char *topic,
			int fd, int prod, int members)
{
	struct mqdev_share *keeper;
	struct mqdev_share_info info;
	struct tally *t;
	pid_t pids[16];
	char group[32];
	int i, status;
	uint64_t t0;

	t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, t);
	snprintf(group, sizeof(group), "once-%d", members);
	/* A member that only keeps the group while the others come and go. */
	keeper = join(topic, group, 30000, 0);
	ASSERT_NE(NULL, keeper);
	produce_n(_metadata, prod, RECORDS);
	t0 = mono_ms();
	for (i = 0; i < members; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (!pids[i])
			_exit(member(topic, group, t));
	}
	for (i = 0; i < members; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("member %d", i);
	}
	EXPECT_EQ(RECORDS, t->accepted);
	/* Not a benchmark (forks, a TCG guest): a figure to watch. */
	TH_LOG("%d members: %d records acquired and accepted in %llu ms",
	       members, RECORDS, (unsigned long long)(mono_ms() - t0));
	for (i = 0; i < RECORDS; i++)
		ASSERT_EQ(1, t->seen[i]) TH_LOG("offset %d", i);
	/* Every record done: the window is empty, past the last. */
	ASSERT_EQ(0, mqdev_share_describe(mqdev_share_fd(keeper), group, 0,
					  &info));
	EXPECT_EQ(RECORDS, info.start);
	EXPECT_EQ(RECORDS, info.end);
	EXPECT_EQ(1, info.members);
	mqdev_share_free(keeper);
	munmap(t, sizeof(*t));
}

TEST_F(share, one_member_every_record_once)
{
	run_members(_metadata, self->name, self->fd, self->prod, 1);
}

TEST_F(share, four_members_every_record_once)
{
	run_members(_metadata, self->name, self->fd, self->prod, 4);
}

TEST_F(share, sixteen_members_every_record_once)
{
	run_members(_metadata, self->name, self->fd, self->prod, 16);
}

/*
 * A member that releases a record in four, accepting the rest one by one;
 * @dies: it exits after a while holding what it acquired last.
 */
static int churner(const char *topic, struct tally *t, unsigned int seed,
		   bool dies)
{
	struct mqdev_delivery d[8];
	struct mqdev_share *s;
	uint64_t give_up = mono_ms() + 60000;
	int n, i, rounds = 0, err;
	uint32_t type;

	s = join(topic, "churn", 30000, MQDEV_SHARE_MAX_DELIVERIES);
	if (!s)
		return 10;
	while (__atomic_load_n(&t->accepted, __ATOMIC_ACQUIRE) < RECORDS) {
		if (mono_ms() > give_up)
			return 11;
		n = mqdev_share_acquire(s, MQDEV_PARTITION_ANY, d,
					1 + rand_r(&seed) % 8);
		if (n < 0)
			return 12;
		if (!n) {
			usleep(1000);
			continue;
		}
		if (dies && ++rounds == 20)
			_exit(0);	/* holding n records */
		for (i = 0; i < n; i++) {
			type = rand_r(&seed) % 4 ? MQDEV_SHARE_ACCEPT :
						   MQDEV_SHARE_RELEASE;
			err = mqdev_share_ack(s, 0, d[i].offset,
					      d[i].offset + 1, type, NULL);
			if (err)
				return 13;
			if (type == MQDEV_SHARE_RELEASE)
				continue;
			__atomic_fetch_add(&t->seen[d[i].offset], 1,
					   __ATOMIC_RELAXED);
			__atomic_fetch_add(&t->accepted, 1, __ATOMIC_RELEASE);
		}
	}
	mqdev_share_free(s);
	return 0;
}

/* Releases, and members dying with records: still each accepted once. */
TEST_F(share, churn_every_record_accepted_once)
{
	struct mqdev_share *keeper;
	struct mqdev_share_info info;
	struct tally *t;
	pid_t pids[8];
	int i, status;

	t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, t);
	keeper = join(self->name, "churn", 30000, MQDEV_SHARE_MAX_DELIVERIES);
	ASSERT_NE(NULL, keeper);
	produce_n(_metadata, self->prod, RECORDS);
	for (i = 0; i < 8; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (!pids[i])
			_exit(churner(self->name, t, i + 1, i < 3));
	}
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("member %d", i);
	}
	EXPECT_EQ(RECORDS, t->accepted);
	for (i = 0; i < RECORDS; i++)
		ASSERT_EQ(1, t->seen[i]) TH_LOG("offset %d", i);
	ASSERT_EQ(0, mqdev_share_describe(mqdev_share_fd(keeper), "churn", 0,
					  &info));
	EXPECT_EQ(RECORDS, info.start);
	EXPECT_EQ(RECORDS, info.end);
	mqdev_share_free(keeper);
	munmap(t, sizeof(*t));
}

/* Records of a member killed while it holds them: again at once, count 2. */
/*
 * @n records produced (values 0 to @n - 1) to partition 0 through @prod,
 * and a child process that joins @group of @topic, acquires them and
 * waits to be killed: its pid once it holds them, or -1.
 */
static pid_t fork_holder(const char *topic, int prod, const char *group,
			 uint32_t n)
{
	struct mqdev_delivery d[16];
	struct mqdev_share *s;
	int ready[2];
	uint32_t v;
	pid_t pid;
	char c;

	for (v = 0; v < n; v++)
		if (produce_one(prod, 0, NULL, 0, &v, sizeof(v), NULL))
			return -1;
	if (pipe(ready))
		return -1;
	pid = fork();
	if (!pid) {
		s = join(topic, group, 0, 0);
		if (!s || mqdev_share_acquire(s, 0, d, 16) != (int)n)
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(2);
		pause();
		_exit(3);
	}
	close(ready[1]);		/* a child that failed: EOF */
	if (pid > 0 && read(ready[0], &c, 1) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(ready[0]);
	return pid;
}

TEST_F(share, killed_member_records_redelivered_at_once)
{
	struct mqdev_share *keeper;
	struct mqdev_delivery d[16];
	struct mqdev_share_info info;
	int status, i;
	uint64_t t0;
	pid_t pid;

	keeper = join(self->name, "kill", 60000, 0);
	ASSERT_NE(NULL, keeper);
	pid = fork_holder(self->name, self->prod, "kill", 10);
	ASSERT_LT(0, pid);
	/* Held by the child: nothing for anyone else. */
	EXPECT_EQ(0, mqdev_share_acquire(keeper, 0, d, 16));
	ASSERT_EQ(0, mqdev_share_describe(mqdev_share_fd(keeper), "kill", 0,
					  &info));
	EXPECT_EQ(10, info.acquired);
	EXPECT_EQ(2, info.members);

	t0 = mono_ms();
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(10, mqdev_share_acquire(keeper, 0, d, 16));
	/* At once: the lock was a minute. */
	EXPECT_GT(1000, mono_ms() - t0);
	for (i = 0; i < 10; i++) {
		EXPECT_EQ(i, d[i].offset);
		EXPECT_EQ(2, d[i].delivery_count);
		ASSERT_NE(NULL, d[i].rec);
		EXPECT_EQ(i, value_of(d[i].rec));
	}
	EXPECT_EQ(0, accept_all(keeper, d, 10));
	mqdev_share_free(keeper);
}

/* A lock that expires makes the record available again, count raised. */
TEST_F(share, lock_expiry)
{
	struct mqdev_share *a, *b;
	struct mqdev_delivery d[16];
	uint64_t t0;
	int n, i;

	a = join(self->name, "expiry", 200, 0);
	ASSERT_NE(NULL, a);
	b = join(self->name, "expiry", 0, 0);
	ASSERT_NE(NULL, b);
	produce_n(_metadata, self->prod, 5);
	t0 = mono_ms();
	ASSERT_EQ(5, mqdev_share_acquire(a, 0, d, 16));
	EXPECT_EQ(0, mqdev_share_acquire(b, 0, d, 16));
	do {
		usleep(10000);
		n = mqdev_share_acquire(b, 0, d, 16);
	} while (!n && mono_ms() - t0 < 5000);
	ASSERT_EQ(5, n);
	/* not before the lock's end, and not much after it */
	EXPECT_LE(200, mono_ms() - t0);
	EXPECT_GT(2000, mono_ms() - t0);
	for (i = 0; i < 5; i++)
		EXPECT_EQ(2, d[i].delivery_count);
	/* The first holder's lock is gone: its accept is refused. */
	EXPECT_EQ(-ESTALE, mqdev_share_ack(a, 0, 0, 5, MQDEV_SHARE_ACCEPT,
					   NULL));
	EXPECT_EQ(0, mqdev_share_ack(b, 0, 0, 5, MQDEV_SHARE_ACCEPT, NULL));
	mqdev_share_free(a);
	mqdev_share_free(b);
}

/*
 * A lock ends on time, not when the timer wheel runs the expiry work (for
 * a 3 s lock up to 256 ms late at HZ=250): an acquire just past the lock's
 * end gets the record.
 */
TEST_F(share, lock_expiry_on_time)
{
	struct mqdev_share *a, *b;
	struct mqdev_delivery d[2];

	a = join(self->name, "ontime", 3000, 0);
	ASSERT_NE(NULL, a);
	b = join(self->name, "ontime", 0, 0);
	ASSERT_NE(NULL, b);
	produce_n(_metadata, self->prod, 1);
	ASSERT_EQ(1, mqdev_share_acquire(a, 0, d, 2));
	usleep(3010000);
	EXPECT_EQ(1, mqdev_share_acquire(b, 0, d, 2))
		TH_LOG("the lock ended, but the record waits for the work");
	EXPECT_EQ(2, d[0].delivery_count);
	mqdev_share_free(a);
	mqdev_share_free(b);
}

/*
 * A record whose TTL passed while it was released is not delivered again
 * (read(2) would not hand it out): it is put aside.
 */
TEST_F(share, ttl_passed_while_released)
{
	struct mqdev_share_info info;
	struct mqdev_delivery d[2];
	struct mqdev_share *s;

	s = join(self->name, "ttl", 0, 0);
	ASSERT_NE(NULL, s);
	produce_n(_metadata, self->prod, 1);
	ASSERT_EQ(1, mqdev_share_acquire(s, 0, d, 2));
	ASSERT_EQ(0, mqdev_share_ack(s, 0, 0, 1, MQDEV_SHARE_RELEASE, NULL));
	ASSERT_EQ(0, mqdev_topic_set_ttl(self->fd, self->name, 1000000));
	usleep(20000);
	EXPECT_EQ(0, mqdev_share_acquire(s, 0, d, 2))
		TH_LOG("an expired record was delivered again");
	ASSERT_EQ(0, mqdev_share_describe(mqdev_share_fd(s), "ttl", 0,
					  &info));
	EXPECT_EQ(1, info.rejected_total);
	mqdev_share_free(s);
}

/* Release with a back-off, reject, and the maximum delivery count. */
TEST_F(share, release_reject_and_max_deliveries)
{
	LIBMQDEV_OPTS(mqdev_share_ack_opts, later, .backoff_ms = 300);
	struct mqdev_share_info info;
	struct mqdev_delivery d[16];
	struct mqdev_share *s;
	uint64_t t0;
	int n;

	s = join(self->name, "retry", 0, 2);
	ASSERT_NE(NULL, s);
	produce_n(_metadata, self->prod, 3);
	ASSERT_EQ(3, mqdev_share_acquire(s, 0, d, 16));
	t0 = mono_ms();
	EXPECT_EQ(0, mqdev_share_ack(s, 0, 0, 1, MQDEV_SHARE_RELEASE, &later));
	EXPECT_EQ(0, mqdev_share_ack(s, 0, 1, 2, MQDEV_SHARE_REJECT, NULL));
	EXPECT_EQ(0, mqdev_share_acquire(s, 0, d, 16));
	do {
		usleep(10000);
		n = mqdev_share_acquire(s, 0, d, 16);
	} while (!n && mono_ms() - t0 < 5000);
	ASSERT_EQ(1, n);
	EXPECT_LE(300, mono_ms() - t0);
	EXPECT_GT(2000, mono_ms() - t0);
	EXPECT_EQ(0, d[0].offset);
	EXPECT_EQ(2, d[0].delivery_count);
	/* Its second delivery was its last: released, it is put aside. */
	EXPECT_EQ(0, mqdev_share_ack(s, 0, 0, 1, MQDEV_SHARE_RELEASE, NULL));
	EXPECT_EQ(0, mqdev_share_acquire(s, 0, d, 16));
	ASSERT_EQ(0, mqdev_share_describe(mqdev_share_fd(s), "retry", 0,
					  &info));
	/* 0 and 1 rejected, done: the window starts at 2, still acquired */
	EXPECT_EQ(2, info.start);
	EXPECT_EQ(3, info.end);
	EXPECT_EQ(1, info.acquired);
	EXPECT_EQ(0, mqdev_share_ack(s, 0, 2, 3, MQDEV_SHARE_ACCEPT, NULL));
	mqdev_share_free(s);
}

static int acquire_raw(int fd, struct mqdev_share_acquire *req)
{
	return xioctl(fd, MQDEV_IOC_SHARE_ACQUIRE, req);
}

static int ack_raw(int fd, uint64_t first, uint64_t last, uint32_t type,
		   uint32_t backoff_ms)
{
	struct mqdev_share_ack req = {
		.first = first, .last = last, .type = type,
		.backoff_ms = backoff_ms,
	};

	return xioctl(fd, MQDEV_IOC_SHARE_ACK, &req);
}

/* Bad input is refused, and the window is as it was. */
TEST_F(share, bad_input_changes_nothing)
{
	struct mqdev_share_record recs[4];
	struct mqdev_share_acquire acq = {
		.records = (uintptr_t)recs, .count = 2,
		.record_size = sizeof(recs[0]),
	};
	struct mqdev_share_join jn = { .reset = MQDEV_SEEK_EARLIEST };
	struct mqdev_share_info before, after;
	struct mqdev_share_acquire bad;
	struct mqdev_share *s, *other;
	int fd, cons;

	s = join(self->name, "bad", 0, 0);
	ASSERT_NE(NULL, s);
	other = join(self->name, "bad", 0, 0);
	ASSERT_NE(NULL, other);
	fd = mqdev_share_fd(s);
	produce_n(_metadata, self->prod, 4);
	ASSERT_EQ(0, acquire_raw(fd, &acq));
	ASSERT_EQ(2, acq.count);
	/* the other member had 2 and 3, and let them go */
	ASSERT_EQ(2, mqdev_share_acquire(other, 0,
					 (struct mqdev_delivery[4]){}, 4));
	ASSERT_EQ(0, mqdev_share_ack(other, 0, 2, 4, MQDEV_SHARE_RELEASE,
				     NULL));
	ASSERT_EQ(0, mqdev_share_describe(fd, "bad", 0, &before));
	EXPECT_EQ(2, before.acquired);
	EXPECT_EQ(2, before.available);

	bad = acq;
	bad.count = 0;
	EXPECT_EQ(-EINVAL, acquire_raw(fd, &bad));
	bad.count = MQDEV_SHARE_ACQUIRE_MAX + 1;
	EXPECT_EQ(-EINVAL, acquire_raw(fd, &bad));
	bad = acq;
	bad.flags = 1;
	EXPECT_EQ(-EINVAL, acquire_raw(fd, &bad));
	bad = acq;
	bad.reserved = 1;
	EXPECT_EQ(-EINVAL, acquire_raw(fd, &bad));
	bad = acq;
	bad.partition = 1;
	EXPECT_EQ(-EINVAL, acquire_raw(fd, &bad));
	bad = acq;
	bad.record_size = 8;
	EXPECT_EQ(-EINVAL, acquire_raw(fd, &bad));
	bad.record_size = sysconf(_SC_PAGESIZE) + 8;	/* cleared: capped */
	EXPECT_EQ(-EINVAL, acquire_raw(fd, &bad));

	EXPECT_EQ(-EINVAL, ack_raw(fd, 0, 1, 0, 0));	/* 0: no type */
	EXPECT_EQ(-EINVAL, ack_raw(fd, 0, 1, MQDEV_SHARE_REJECT + 1, 0));
	EXPECT_EQ(-EINVAL, ack_raw(fd, 1, 1, MQDEV_SHARE_ACCEPT, 0));
	EXPECT_EQ(-EINVAL, ack_raw(fd, 0, 1, MQDEV_SHARE_ACCEPT, 10));
	EXPECT_EQ(-EINVAL, ack_raw(fd, 0, 1, MQDEV_SHARE_RELEASE,
				   MQDEV_SHARE_MAX_BACKOFF_MS + 1));
	/* past the window's end; another's; some not acquired */
	EXPECT_EQ(-ERANGE, ack_raw(fd, 0, 5, MQDEV_SHARE_ACCEPT, 0));
	EXPECT_EQ(-ESTALE, mqdev_share_ack(other, 0, 0, 1, MQDEV_SHARE_ACCEPT,
					   NULL));
	EXPECT_EQ(-ESTALE, ack_raw(fd, 0, 4, MQDEV_SHARE_REJECT, 0));

	/* joins: settings out of range, twice, a consumer group's name */
	cons = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, cons);
	EXPECT_EQ(-EBADFD, ack_raw(cons, 0, 1, MQDEV_SHARE_ACCEPT, 0));
	EXPECT_EQ(-EBADFD, acquire_raw(cons, &acq));
	mqdev_name_set(jn.group, "bad2");
	jn.lock_ms = 1;
	EXPECT_EQ(-EINVAL, xioctl(cons, MQDEV_IOC_SHARE_JOIN, &jn));
	jn.lock_ms = 0;
	jn.reset = 7;
	EXPECT_EQ(-EINVAL, xioctl(cons, MQDEV_IOC_SHARE_JOIN, &jn));
	jn.reset = 0;
	jn.flags = 1;
	EXPECT_EQ(-EINVAL, xioctl(cons, MQDEV_IOC_SHARE_JOIN, &jn));
	jn.flags = 0;
	jn.max_deliveries = MQDEV_SHARE_MAX_DELIVERIES + 1;
	EXPECT_EQ(-EINVAL, xioctl(cons, MQDEV_IOC_SHARE_JOIN, &jn));
	jn.max_deliveries = 0;
	mqdev_name_set(jn.group, "bad");
	EXPECT_EQ(-EBUSY, xioctl(fd, MQDEV_IOC_SHARE_JOIN, &jn));
	ASSERT_EQ(0, xioctl(cons, MQDEV_IOC_SHARE_JOIN, &jn));
	close(cons);

	ASSERT_EQ(0, mqdev_share_describe(fd, "bad", 0, &after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)));
	EXPECT_EQ(-ENOENT, mqdev_share_describe(fd, "none", 0, &after));

	/* The refusals changed nothing: the two acquired are still ours. */
	EXPECT_EQ(0, ack_raw(fd, 0, 2, MQDEV_SHARE_ACCEPT, 0));
	mqdev_share_free(other);
	mqdev_share_free(s);
}

/* A share group's name is not a consumer group's, and the other way. */
TEST_F(share, names_are_one_kind)
{
	struct mqdev_consumer *c;
	struct mqdev_share *s;
	struct mqdev_nl *nl;

	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_join(c, "kind", MQDEV_SEEK_EARLIEST));
	EXPECT_EQ(NULL, join(self->name, "kind", 0, 0));
	mqdev_consumer_free(c);
	s = join(self->name, "kind2", 0, 0);
	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	EXPECT_EQ(-EEXIST, mqdev_consumer_join(c, "kind2",
					       MQDEV_SEEK_EARLIEST));
	mqdev_consumer_free(c);
	/* A reset over netlink makes a missing group: not over a share one. */
	ASSERT_EQ(0, mqdev_nl_open(&nl));
	EXPECT_EQ(-EEXIST, mqdev_group_reset(nl, "kind2", self->name,
					     MQDEV_PARTITION_ALL,
					     MQDEV_SEEK_EARLIEST, 0, false));
	mqdev_nl_close(nl);
	mqdev_share_free(s);
}

struct join_try {
	const char *topic;
	const char *group;
};

/* As another user (no CAP_SYS_RESOURCE): join, and leave at once. */
static int join_as(void *arg)
{
	const struct join_try *t = arg;
	struct mqdev_share_join jn = { .reset = MQDEV_SEEK_EARLIEST };
	int fd, err;

	fd = attach(t->topic, MQDEV_ATTACH_CONSUME, NULL);
	if (fd < 0)
		return 100;
	mqdev_name_set(jn.group, t->group);
	err = xioctl(fd, MQDEV_IOC_SHARE_JOIN, &jn);
	close(fd);
	return -err;
}

/*
 * A group's windows are charged to its maker's bytes, partition by
 * partition: a limit that lets some in fails the join half way, and the
 * partitions not reached are let go as cleanly as those reached (this
 * oopsed once).  Nothing is left: no group, no charge.
 */
TEST_F(share, create_error_unwinds_every_partition)
{
	unsigned long bytes = get_param("max_user_bytes");
	unsigned long window = 1024 * 32;	/* slots x sizeof(slot) */
	char name[MQDEV_NAME_MAX + 1];
	struct join_try t = { name, "quota" };
	struct mqdev_share_info info;
	unsigned long l;
	int cons;

	if (get_param("max_share_inflight") != 1024)
		SKIP(return, "max_share_inflight is not the default");
	strcpy(name, topic_name("sharequota"));
	ASSERT_EQ(0, create_topic(self->fd, name, 4, 4096, 0));
	cons = attach(name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, cons);
	/* 0, 1, 2 and 3 of the 4 windows fit */
	for (l = 0; l < 4; l++) {
		ASSERT_EQ(0, set_param("max_user_bytes", l * window + 100));
		EXPECT_EQ(EDQUOT, as_user(USER_UID, join_as, &t));
		EXPECT_EQ(-ENOENT, mqdev_share_describe(cons, "quota", 0,
							&info));
	}
	/* nothing was left charged: all four fit in four windows' room */
	ASSERT_EQ(0, set_param("max_user_bytes", 4 * window + 100));
	EXPECT_EQ(0, as_user(USER_UID, join_as, &t));
	ASSERT_EQ(0, set_param("max_user_bytes", bytes));
	close(cons);
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, name));
}

/* Consumer and share groups count against one max_topic_groups. */
TEST_F(share, one_group_limit_for_both_kinds)
{
	unsigned long groups = get_param("max_topic_groups");
	struct mqdev_consumer *c;

	ASSERT_EQ(0, set_param("max_topic_groups", 1));
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_join(c, "cg", MQDEV_SEEK_EARLIEST));
	EXPECT_EQ(NULL, join(self->name, "sg", 0, 0));
	EXPECT_EQ(ENOSPC, as_user(0, join_as,
				  &(struct join_try){ self->name, "sg" }));
	mqdev_consumer_free(c);
	ASSERT_EQ(0, set_param("max_topic_groups", groups));
}

/* A deleted topic's members are told so, not left polling. */
TEST_F(share, deleted_topic_eidrm)
{
	struct mqdev_delivery d[4];
	struct mqdev_share *s;

	s = join(self->name, "gone", 0, 0);
	ASSERT_NE(NULL, s);
	produce_n(_metadata, self->prod, 4);
	ASSERT_EQ(2, mqdev_share_acquire(s, 0, d, 2));
	ASSERT_EQ(0, mqdev_topic_delete(self->fd, self->name));
	EXPECT_EQ(-EIDRM, mqdev_share_acquire(s, 0, d, 2));
	EXPECT_EQ(-EIDRM, mqdev_share_ack(s, 0, 0, 2, MQDEV_SHARE_ACCEPT,
					  NULL));
	mqdev_share_free(s);
}

/* Not on a durable topic: its ring does not keep a window's records. */
TEST_F(share, not_on_durable_topics)
{
	char name[MQDEV_NAME_MAX + 1];

	strcpy(name, topic_name("sharedur"));
	if (create_topic(self->fd, name, 1, 1 << 16, MQDEV_TOPIC_DURABLE))
		SKIP(return, "no durable topics here");
	EXPECT_EQ(NULL, join(name, "dur", 0, 0));
	EXPECT_EQ(EOPNOTSUPP, as_user(0, join_as,
				      &(struct join_try){ name, "dur" }));
	mqdev_topic_delete(self->fd, name);
}

/*
 * An accept names what was read: a record overwritten (or never found) is
 * not accepted, and nothing of the range changes.
 */
TEST_F(share, accept_rechecks_what_was_read)
{
	struct mqdev_delivery d[2], stale[2];
	struct mqdev_share_info info;
	struct mqdev_share *s;

	s = join(self->name, "reread", 0, 0);
	ASSERT_NE(NULL, s);
	produce_n(_metadata, self->prod, 2);
	ASSERT_EQ(2, mqdev_share_acquire(s, 0, d, 2));
	ASSERT_NE(NULL, d[0].rec);
	ASSERT_NE(NULL, d[1].rec);
	memcpy(stale, d, sizeof(d));
	stale[1].offset = 7;		/* the ring holds another record now */
	LIBMQDEV_OPTS(mqdev_share_ack_opts, bad, .read = stale, .nr_read = 2);
	EXPECT_EQ(-ENODATA, mqdev_share_ack(s, 0, 0, 2, MQDEV_SHARE_ACCEPT,
					    &bad));
	stale[1] = d[1];
	stale[1].rec = NULL;		/* not found at acquire */
	EXPECT_EQ(-ENODATA, mqdev_share_ack(s, 0, 0, 2, MQDEV_SHARE_ACCEPT,
					    &bad));
	ASSERT_EQ(0, mqdev_share_describe(mqdev_share_fd(s), "reread", 0,
					  &info));
	EXPECT_EQ(2, info.acquired);
	LIBMQDEV_OPTS(mqdev_share_ack_opts, good, .read = d, .nr_read = 2);
	EXPECT_EQ(0, mqdev_share_ack(s, 0, 0, 2, MQDEV_SHARE_ACCEPT, &good));
	mqdev_share_free(s);
}

/*
 * A handle placed by SEEK reads on its own: it may not join too; and the
 * other way, a share member is handed its records and may not SEEK.
 */
TEST_F(share, seeked_handle_may_not_join)
{
	struct mqdev_share_join jn = { .reset = MQDEV_SEEK_EARLIEST };
	struct mqdev_seek sk = { .whence = MQDEV_SEEK_EARLIEST };
	int cons;

	cons = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, cons);
	ASSERT_EQ(0, xioctl(cons, MQDEV_IOC_SEEK, &sk));
	mqdev_name_set(jn.group, "seeked");
	EXPECT_EQ(-EBUSY, xioctl(cons, MQDEV_IOC_SHARE_JOIN, &jn));
	close(cons);

	cons = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, cons);
	ASSERT_EQ(0, xioctl(cons, MQDEV_IOC_SHARE_JOIN, &jn));
	EXPECT_EQ(-EBUSY, xioctl(cons, MQDEV_IOC_SEEK, &sk));
	sk.partition = MQDEV_PARTITION_ALL;
	EXPECT_EQ(-EBUSY, xioctl(cons, MQDEV_IOC_SEEK, &sk));
	close(cons);
}

/*
 * Lapped: available records the ring took before they were done are lost,
 * counted, and never handed out (they were, with stale positions, once).
 */
TEST_F(share, lapped_records_are_lost_not_delivered)
{
	char name[MQDEV_NAME_MAX + 1];
	struct mqdev_share_info info;
	struct mqdev_delivery d[4];
	struct mqdev_share *s;
	int prod, n, i;

	strcpy(name, topic_name("sharelap"));
	ASSERT_EQ(0, create_topic(self->fd, name, 1, 4096,
				  MQDEV_TOPIC_OVERWRITE));
	prod = attach(name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, prod);
	s = join(name, "lap", 0, 0);
	ASSERT_NE(NULL, s);
	produce_n(_metadata, prod, 4);
	ASSERT_EQ(4, mqdev_share_acquire(s, 0, d, 4));
	ASSERT_EQ(0, mqdev_share_ack(s, 0, 0, 4, MQDEV_SHARE_RELEASE, NULL));
	produce_n(_metadata, prod, 1000);	/* laps a 4 KiB ring */
	n = mqdev_share_acquire(s, 0, d, 4);
	ASSERT_LT(0, n);
	for (i = 0; i < n; i++) {
		EXPECT_LE(4, d[i].offset);
		EXPECT_NE(NULL, d[i].rec);
	}
	ASSERT_EQ(0, mqdev_share_describe(mqdev_share_fd(s), "lap", 0, &info));
	EXPECT_EQ(4, info.lost);
	mqdev_share_free(s);
	close(prod);
	mqdev_topic_delete(self->fd, name);
}

/* Not on a single-writer topic: its writer's ring is read only as it says. */
TEST_F(share, not_on_single_writer_topics)
{
	char name[MQDEV_NAME_MAX + 1];

	strcpy(name, topic_name("sharesw"));
	ASSERT_EQ(0, create_topic(self->fd, name, 1, 1 << 16,
				  MQDEV_TOPIC_SINGLE_WRITER));
	EXPECT_EQ(NULL, join(name, "sw", 0, 0));
	EXPECT_EQ(EOPNOTSUPP, as_user(0, join_as,
				      &(struct join_try){ name, "sw" }));
	mqdev_topic_delete(self->fd, name);
}

/* A lone member: joins, acquires one record, tells its count, is killed. */
static int acquire_and_die(const char *topic, int tell)
{
	struct mqdev_delivery d;
	struct mqdev_share *s;
	uint32_t got[2];

	s = join(topic, "crash", 60000, 3);
	if (!s || mqdev_share_acquire(s, 0, &d, 1) != 1)
		_exit(1);
	got[0] = d.offset;
	got[1] = d.delivery_count;
	if (write(tell, got, sizeof(got)) != sizeof(got))
		_exit(2);
	pause();
	_exit(3);
}

/*
 * KIP-932: the group outlives its members.  A poison record that kills
 * every lone member taking it reaches max_deliveries and is put aside,
 * counted, instead of being delivered forever (each restart started over
 * while the group died with its member).
 */
TEST_F(share, crash_loop_ends_at_max_deliveries)
{
	struct mqdev_share_info info;
	struct mqdev_delivery d[4];
	struct mqdev_share *s;
	int tell[2], status, i;
	uint32_t got[2];
	pid_t pid;

	produce_n(_metadata, self->prod, 2);	/* 0: the poison one */
	ASSERT_EQ(0, pipe(tell));
	for (i = 1; i <= 3; i++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid)
			acquire_and_die(self->name, tell[1]);
		ASSERT_EQ(sizeof(got), read(tell[0], got, sizeof(got)));
		EXPECT_EQ(0, got[0]);
		EXPECT_EQ(i, got[1]);
		ASSERT_EQ(0, kill(pid, SIGKILL));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
	}
	close(tell[0]);
	close(tell[1]);
	/* memberless, and still there: the record's third delivery was its last */
	s = join(self->name, "crash", 0, 0);
	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, mqdev_share_describe(mqdev_share_fd(s), "crash", 0,
					  &info));
	EXPECT_EQ(1, info.members);
	EXPECT_EQ(3, info.max_deliveries);
	EXPECT_EQ(1, info.rejected_total);
	EXPECT_EQ(1, info.start);
	ASSERT_EQ(1, mqdev_share_acquire(s, 0, d, 4));
	EXPECT_EQ(1, d[0].offset);
	EXPECT_EQ(1, d[0].delivery_count);
	EXPECT_EQ(0, mqdev_share_ack(s, 0, 1, 2, MQDEV_SHARE_ACCEPT, NULL));
	mqdev_share_free(s);
}

/*
 * A lone member that leaves and joins again goes on where the group was:
 * what it accepted is not delivered again, what it held comes back (its
 * count raised), nothing is lost.
 */
TEST_F(share, lone_member_resumes)
{
	struct mqdev_share_info info;
	struct mqdev_delivery d[16];
	struct mqdev_share *s;
	int i;

	s = join(self->name, "resume", 0, 0);
	ASSERT_NE(NULL, s);
	produce_n(_metadata, self->prod, 10);
	ASSERT_EQ(10, mqdev_share_acquire(s, 0, d, 16));
	ASSERT_EQ(0, mqdev_share_ack(s, 0, 0, 5, MQDEV_SHARE_ACCEPT, NULL));
	mqdev_share_free(s);		/* leaves holding 5..9 */
	produce_n(_metadata, self->prod, 5);

	s = join(self->name, "resume", 0, 0);
	ASSERT_NE(NULL, s);
	ASSERT_EQ(10, mqdev_share_acquire(s, 0, d, 16));
	for (i = 0; i < 10; i++) {
		EXPECT_EQ(5 + i, d[i].offset);
		EXPECT_EQ(i < 5 ? 2 : 1, d[i].delivery_count);
		ASSERT_NE(NULL, d[i].rec);
		EXPECT_EQ((5 + i) % 10, value_of(d[i].rec));
	}
	EXPECT_EQ(0, mqdev_share_acquire(s, 0, d, 16));
	EXPECT_EQ(0, mqdev_share_ack(s, 0, 5, 15, MQDEV_SHARE_ACCEPT, NULL));
	ASSERT_EQ(0, mqdev_share_describe(mqdev_share_fd(s), "resume", 0,
					  &info));
	EXPECT_EQ(15, info.start);
	EXPECT_EQ(15, info.end);
	EXPECT_EQ(0, info.rejected_total);
	mqdev_share_free(s);
}

struct delete_try {
	const char *topic;
	const char *group;
	bool force;
};

/* netlink GROUP_DELETE, as whoever runs it; the -errno. */
static int delete_group(void *arg)
{
	const struct delete_try *t = arg;
	struct mqdev_nl *nl;
	int err;

	if (mqdev_nl_open(&nl))
		return 100;
	err = mqdev_group_delete(nl, t->group, t->topic, t->force);
	mqdev_nl_close(nl);
	return -err;
}

/* A new share group, made and left by @uid: it stays, memberless. */
static int make_group(uid_t uid, const char *topic, const char *group)
{
	return as_user(uid, join_as, &(struct join_try){ topic, group });
}

/*
 * GROUP_DELETE of a share group: its maker, the topic's owner or
 * CAP_SYS_ADMIN, as for a consumer group; EBUSY with members unless
 * forced, and then the members are told EIDRM.
 */
TEST_F(share, group_delete_rules)
{
	struct delete_try del = { self->name, "del", false };
	struct mqdev_share_info info;
	struct mqdev_delivery d[2];
	struct mqdev_share *s;
	struct topic_try tt;
	char name[MQDEV_NAME_MAX + 1];

	/* root's group on root's topic: not another user's to delete */
	ASSERT_EQ(0, make_group(0, self->name, "del"));
	EXPECT_EQ(EPERM, as_user(USER_UID, delete_group, &del));
	EXPECT_EQ(0, delete_group(&del));
	EXPECT_EQ(ENOENT, delete_group(&del));

	/* the maker may; CAP_SYS_ADMIN may delete another's */
	ASSERT_EQ(0, make_group(USER_UID, self->name, "del"));
	EXPECT_EQ(0, as_user(USER_UID, delete_group, &del));
	ASSERT_EQ(0, make_group(USER_UID, self->name, "del"));
	EXPECT_EQ(0, delete_group(&del));

	/* the topic's owner may delete root's group on it */
	strcpy(name, topic_name("sharedel"));
	tt = (struct topic_try){ name, 1, 1 << 16 };
	ASSERT_EQ(0, as_user(USER_UID, create_topic_as, &tt));
	ASSERT_EQ(0, make_group(0, name, "del"));
	EXPECT_EQ(0, as_user(USER_UID, delete_group,
			     &(struct delete_try){ name, "del", false }));
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, name));

	/* with members: EBUSY; forced, the member is told EIDRM */
	s = join(self->name, "del", 0, 0);
	ASSERT_NE(NULL, s);
	produce_n(_metadata, self->prod, 2);
	ASSERT_EQ(2, mqdev_share_acquire(s, 0, d, 2));
	EXPECT_EQ(EBUSY, delete_group(&del));
	EXPECT_EQ(0, mqdev_share_describe(mqdev_share_fd(s), "del", 0, &info));
	EXPECT_EQ(2, info.acquired);
	del.force = true;
	EXPECT_EQ(0, delete_group(&del));
	EXPECT_EQ(-ENOENT, mqdev_share_describe(mqdev_share_fd(s), "del", 0,
						&info));
	EXPECT_EQ(-EIDRM, mqdev_share_acquire(s, 0, d, 2));
	EXPECT_EQ(-EIDRM, mqdev_share_ack(s, 0, 0, 2, MQDEV_SHARE_ACCEPT,
					  NULL));
	mqdev_share_free(s);
	/* the name is free again: a new group starts over */
	s = join(self->name, "del", 0, 0);
	ASSERT_NE(NULL, s);
	ASSERT_EQ(2, mqdev_share_acquire(s, 0, d, 2));
	EXPECT_EQ(1, d[0].delivery_count);
	mqdev_share_free(s);
}

/*
 * root deleting over a netlink socket that another user opened: root's
 * CAP_SYS_ADMIN does not count (the opener lacks it), as for a consumer
 * group, so another user's group on another user's topic stays.  The
 * kernel asks the opener only of a message with no destination address
 * (NETLINK_SKB_DST unset): a write(2), as a set-uid program's output to a
 * socket it was handed would be; libmnl's sendto() is addressed.
 */
static int family_cb(const struct nlattr *attr, void *data)
{
	if (mnl_attr_get_type(attr) == CTRL_ATTR_FAMILY_ID)
		*(uint16_t *)data = mnl_attr_get_u16(attr);
	return MNL_CB_OK;
}

static int family_id_cb(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, GENL_HDRLEN, family_cb, data);
}

static struct nlmsghdr *genl_msg(char *buf, uint16_t type, uint8_t cmd,
				 uint8_t version)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = 1;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return nlh;
}

static int delete_as_deputy(void *arg)
{
	const struct delete_try *t = arg;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct mnl_socket *nl;
	uint16_t family = 0;
	ssize_t n;
	int err;

	/* the socket is opened as OTHER_UID, with no capability */
	if (setresuid(-1, OTHER_UID, 0))
		return 100;
	nl = mnl_socket_open(NETLINK_GENERIC);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return 101;
	if (setresuid(-1, 0, -1))
		return 102;
	nlh = genl_msg(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, MQDEV_GENL_NAME);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return 103;
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n <= 0 || mnl_cb_run(buf, n, 1, 0, family_id_cb, &family) < 0 ||
	    !family)
		return 104;
	mnl_socket_recvfrom(nl, buf, sizeof(buf));	/* the ack */
	nlh = genl_msg(buf, family, MQDEV_CMD_GROUP_DELETE, MQDEV_GENL_VERSION);
	mnl_attr_put_strz(nlh, MQDEV_A_GROUP, t->group);
	mnl_attr_put_strz(nlh, MQDEV_A_TOPIC, t->topic);
	if (t->force)
		mnl_attr_put(nlh, MQDEV_A_FORCE, 0, NULL);
	/* no address: the opener's capabilities are asked */
	if (write(mnl_socket_get_fd(nl), nlh, nlh->nlmsg_len) != nlh->nlmsg_len)
		return 105;
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n <= 0)
		return 106;
	err = mnl_cb_run(buf, n, 1, 0, NULL, NULL) < 0 ? errno : 0;
	mnl_socket_close(nl);
	return err;
}

TEST_F(share, group_delete_no_deputy)
{
	char name[MQDEV_NAME_MAX + 1];
	struct topic_try tt;
	struct delete_try del = { name, "dep", true };

	strcpy(name, topic_name("sharedep"));
	tt = (struct topic_try){ name, 1, 1 << 16 };
	ASSERT_EQ(0, as_user(USER_UID, create_topic_as, &tt));
	ASSERT_EQ(0, make_group(USER_UID, name, "dep"));
	/* a fork: the deputy's uid changes stay in it */
	EXPECT_EQ(EPERM, as_user(0, delete_as_deputy, &del))
		TH_LOG("root's capability counted on another user's socket");
	/* root on its own socket may */
	EXPECT_EQ(0, delete_group(&del));
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, name));
}

/* A window of 16 (the least): acquire stops at its end until some is done. */
/* Members @a and @b of a new @group whose windows hold 16 records. */
static int join_window_16(const char *topic, const char *group,
			  struct mqdev_share **a, struct mqdev_share **b)
{
	unsigned long window = get_param("max_share_inflight");

	if (set_param("max_share_inflight", 16))
		return -1;
	*a = join(topic, group, 0, 0);
	if (set_param("max_share_inflight", window))
		return -1;
	*b = join(topic, group, 0, 0);
	return *a && *b ? 0 : -1;
}

TEST_F(share, full_window)
{
	struct mqdev_share_info info;
	struct mqdev_delivery d[32];
	struct mqdev_share *a, *b;

	ASSERT_EQ(0, join_window_16(self->name, "full", &a, &b));
	produce_n(_metadata, self->prod, 40);
	ASSERT_EQ(16, mqdev_share_acquire(a, 0, d, 32));
	EXPECT_EQ(15, d[15].offset);
	/* full: nothing for the other member though 24 more wait */
	EXPECT_EQ(0, mqdev_share_acquire(b, 0, d, 32));
	ASSERT_EQ(0, mqdev_share_describe(mqdev_share_fd(b), "full", 0,
					  &info));
	EXPECT_EQ(0, info.start);
	EXPECT_EQ(16, info.end);
	EXPECT_EQ(16, info.acquired);
	/* accepting 4 from the start makes room for 4, no more */
	ASSERT_EQ(0, mqdev_share_ack(a, 0, 0, 4, MQDEV_SHARE_ACCEPT, NULL));
	ASSERT_EQ(4, mqdev_share_acquire(b, 0, d, 32));
	EXPECT_EQ(16, d[0].offset);
	EXPECT_EQ(19, d[3].offset);
	/* accepting in the middle makes none: the window starts at 4 still */
	ASSERT_EQ(0, mqdev_share_ack(a, 0, 8, 16, MQDEV_SHARE_ACCEPT, NULL));
	EXPECT_EQ(0, mqdev_share_acquire(b, 0, d, 32));
	ASSERT_EQ(0, mqdev_share_ack(a, 0, 4, 8, MQDEV_SHARE_ACCEPT, NULL));
	ASSERT_EQ(12, mqdev_share_acquire(b, 0, d, 32));
	EXPECT_EQ(20, d[0].offset);
	mqdev_share_free(a);
	mqdev_share_free(b);
}

/* How many records a blocking producer has appended, and whether it ended. */
struct progress {
	uint32_t done;
	uint32_t ended;
};

/* Wait until the producer has stood still for 300 ms; its count. */
static uint32_t producer_stalls(struct progress *pr)
{
	uint32_t last;

	do {
		last = __atomic_load_n(&pr->done, __ATOMIC_ACQUIRE);
		usleep(300000);
	} while (__atomic_load_n(&pr->done, __ATOMIC_ACQUIRE) != last);
	return last;
}

/* Wait up to 5 s for the producer to pass @count; whether it did. */
static bool producer_passes(struct progress *pr, uint32_t count)
{
	uint64_t t0 = mono_ms();

	while (__atomic_load_n(&pr->done, __ATOMIC_ACQUIRE) <= count)
		if (mono_ms() - t0 > 5000)
			return false;
		else
			usleep(10000);
	return true;
}

/*
 * A block topic: the window of a maker that may write holds the records
 * from its start on, so a producer waits on it, wakes when an accept moves
 * the start, and keeps waiting when the last member leaves (the group
 * stays).  (Deleted, the group holds nothing; but with no holder left a
 * block topic keeps every record, so the producer waits on.)
 */
TEST_F(share, block_producer_waits_on_the_window)
{
	char name[MQDEV_NAME_MAX + 1];
	struct delete_try del = { name, "blk", false };
	struct mqdev_delivery d[16];
	struct mqdev_share *s;
	struct progress *pr;
	uint32_t stalled, v;
	int prod, status, go[2];
	pid_t pid;
	char b;

	strcpy(name, topic_name("shareblk"));
	ASSERT_EQ(0, create_topic(self->fd, name, 1, 4096, 0));
	pr = mmap(NULL, sizeof(*pr), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, pr);
	ASSERT_EQ(0, pipe(go));
	/* forked first: it must not inherit the member's handle */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (read(go[0], &b, 1) != 1)
			_exit(3);
		prod = attach(name, MQDEV_ATTACH_PRODUCE, NULL);
		for (v = 0; prod >= 0 && v < 1000; v++) {
			if (produce_one(prod, 0, NULL, 0, &v, sizeof(v), NULL))
				_exit(1);
			__atomic_store_n(&pr->done, v + 1, __ATOMIC_RELEASE);
		}
		_exit(prod < 0 ? 2 : 0);
	}
	s = join(name, "blk", 0, 0);
	ASSERT_NE(NULL, s);
	ASSERT_EQ(1, write(go[1], "x", 1));
	stalled = producer_stalls(pr);
	ASSERT_GT(1000, stalled) TH_LOG("a 4 KiB ring took 1000 records");
	ASSERT_EQ(0, waitpid(pid, &status, WNOHANG));

	/* an accept of the window's first records lets it on */
	ASSERT_EQ(16, mqdev_share_acquire(s, 0, d, 16));
	ASSERT_EQ(0, mqdev_share_ack(s, 0, 0, 16, MQDEV_SHARE_ACCEPT, NULL));
	EXPECT_TRUE(producer_passes(pr, stalled));
	stalled = producer_stalls(pr);

	/* the last member leaves holding records: the group still holds */
	ASSERT_EQ(16, mqdev_share_acquire(s, 0, d, 16));
	mqdev_share_free(s);
	EXPECT_FALSE(producer_passes(pr, stalled));

	EXPECT_EQ(0, delete_group(&del));
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	munmap(pr, sizeof(*pr));
	close(go[0]);
	close(go[1]);
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, name));
}

/*
 * A memberless group stays charged to its maker until deleted: a limit of
 * one group's windows lets a second in only once the first is deleted
 * (GROUP_DELETE), or its topic is (at once, though a handle keeps the
 * deleted topic).
 */
TEST_F(share, charge_kept_until_deleted)
{
	unsigned long bytes = get_param("max_user_bytes");
	unsigned long window = 1024 * 32;	/* slots x sizeof(slot) */
	char a[MQDEV_NAME_MAX + 1], b[MQDEV_NAME_MAX + 1];
	int cons;

	if (get_param("max_share_inflight") != 1024)
		SKIP(return, "max_share_inflight is not the default");
	strcpy(a, topic_name("sharechga"));
	strcpy(b, topic_name("sharechgb"));
	ASSERT_EQ(0, create_topic(self->fd, a, 1, 4096, 0));
	ASSERT_EQ(0, create_topic(self->fd, b, 1, 4096, 0));
	ASSERT_EQ(0, set_param("max_user_bytes", window + 100));
	EXPECT_EQ(0, make_group(USER_UID, a, "one"));
	EXPECT_EQ(EDQUOT, make_group(USER_UID, b, "two"));
	EXPECT_EQ(0, delete_group(&(struct delete_try){ a, "one", false }));
	EXPECT_EQ(0, make_group(USER_UID, b, "two"));
	EXPECT_EQ(EDQUOT, make_group(USER_UID, a, "one"));
	/* the topic's deletion frees its memberless group */
	cons = attach(b, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, cons);
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, b));
	EXPECT_EQ(0, make_group(USER_UID, a, "one"));
	close(cons);
	ASSERT_EQ(0, set_param("max_user_bytes", bytes));
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, a));
}

/*
 * A copy-out that faults: EFAULT, and what was acquired stays the
 * member's until its lock ends (the records were taken before the copy).
 */
TEST_F(share, acquire_efault)
{
	struct mqdev_share_acquire acq = {
		.records = 8, .count = 4,	/* not a user address */
	};
	struct mqdev_share_info info;
	struct mqdev_share *s;
	int fd;

	s = join(self->name, "fault", 0, 0);
	ASSERT_NE(NULL, s);
	fd = mqdev_share_fd(s);
	produce_n(_metadata, self->prod, 4);
	EXPECT_EQ(-EFAULT, acquire_raw(fd, &acq));
	ASSERT_EQ(0, mqdev_share_describe(fd, "fault", 0, &info));
	EXPECT_EQ(4, info.acquired);
	EXPECT_EQ(0, ack_raw(fd, 0, 4, MQDEV_SHARE_RELEASE, 0));
	mqdev_share_free(s);
}

/*
 * MQDEV_PARTITION_ANY on 4 partitions: a call's records are of one
 * partition, the partitions take turns, and every record of every
 * partition is acquired once.
 */
TEST_F(share, any_partition_every_record_once)
{
	char name[MQDEV_NAME_MAX + 1];
	struct mqdev_delivery d[16];
	struct mqdev_share *s;
	uint8_t seen[4][10] = {};
	uint32_t v, p, calls = 0;
	int prod, n, i, total = 0;

	strcpy(name, topic_name("shareany"));
	ASSERT_EQ(0, create_topic(self->fd, name, 4, 1 << 16, 0));
	prod = attach(name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, prod);
	for (p = 0; p < 4; p++)
		for (v = 0; v < 10; v++)
			ASSERT_EQ(p, produce_one(prod, p, NULL, 0, &v,
						 sizeof(v), NULL));
	s = join(name, "any", 0, 0);
	ASSERT_NE(NULL, s);
	while ((n = mqdev_share_acquire(s, MQDEV_PARTITION_ANY, d, 16)) > 0) {
		ASSERT_GT(20, ++calls);
		for (i = 0; i < n; i++) {
			ASSERT_EQ(d[0].partition, d[i].partition);
			ASSERT_GT(10, d[i].offset);
			ASSERT_NE(NULL, d[i].rec);
			EXPECT_EQ(d[i].offset, value_of(d[i].rec));
			seen[d[i].partition][d[i].offset]++;
		}
		ASSERT_EQ(0, accept_all(s, d, n));
		total += n;
	}
	EXPECT_EQ(0, n);
	EXPECT_EQ(40, total);
	EXPECT_EQ(4, calls);		/* one call a partition: 10 < 16 */
	for (p = 0; p < 4; p++)
		for (v = 0; v < 10; v++)
			EXPECT_EQ(1, seen[p][v]) TH_LOG("%u:%u", p, v);
	mqdev_share_free(s);
	close(prod);
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, name));
}

/*
 * When partition @p of @s's group has a record available, in ms since @t0,
 * waiting up to 5 s; it only looks (an acquire would arm the expiry work).
 */
static int64_t available_when(struct mqdev_share *s, const char *group,
			      uint32_t p, uint64_t t0)
{
	struct mqdev_share_info info;

	do {
		if (mqdev_share_describe(mqdev_share_fd(s), group, p, &info))
			return -1;
		if (info.available)
			return mono_ms() - t0;
		usleep(5000);
	} while (mono_ms() - t0 < 5000);
	return -1;
}

/*
 * Locks of two partitions ending at different times: each partition
 * keeps its own earliest deadline, and the expiry work, which skips a
 * partition with nothing due, still comes back for the later one.
 */
TEST_F(share, expiry_per_partition)
{
	char name[MQDEV_NAME_MAX + 1];
	struct mqdev_delivery d;
	struct mqdev_share *a, *b;
	uint32_t v = 0, p;
	int64_t t;
	uint64_t t0;
	int prod;

	strcpy(name, topic_name("shareexp"));
	ASSERT_EQ(0, create_topic(self->fd, name, 2, 1 << 16, 0));
	prod = attach(name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, prod);
	for (p = 0; p < 2; p++)
		ASSERT_EQ(p, produce_one(prod, p, NULL, 0, &v, sizeof(v),
					 NULL));
	a = join(name, "exp", 400, 0);
	ASSERT_NE(NULL, a);
	b = join(name, "exp", 0, 0);
	ASSERT_NE(NULL, b);
	t0 = mono_ms();
	ASSERT_EQ(1, mqdev_share_acquire(a, 0, &d, 1));	/* ends at 400 */
	usleep(300000);
	ASSERT_EQ(1, mqdev_share_acquire(a, 1, &d, 1));	/* at 700 or so */
	t = available_when(b, "exp", 0, t0);
	EXPECT_LE(400, t);
	/* partition 1's lock has 300 ms to go: not yet */
	if (t >= 0 && mono_ms() - t0 < 650)
		EXPECT_EQ(0, mqdev_share_acquire(b, 1, &d, 1));
	t = available_when(b, "exp", 1, t0);
	EXPECT_LE(700, t);
	EXPECT_GT(2500, t);
	mqdev_share_free(a);
	mqdev_share_free(b);
	close(prod);
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, name));
}

/* ---- wake-ups: an idle member sleeps until a record may be acquired ---- */

/* A member asleep in poll(2) or mqdev_share_acquire_wait(), in a thread. */
struct waiter {
	struct mqdev_share	*s;
	int			timeout_ms;
	bool			use_poll;
	int			n;		/* poll's or the acquire's */
	short			revents;
	uint64_t		ms;		/* how long it took */
	uint64_t		end;		/* mono_ms() when it returned */
	long			csw;		/* voluntary context switches */
	struct mqdev_delivery	d[16];
	pthread_t		thread;
};

static void *waiter_run(void *arg)
{
	struct waiter *w = arg;
	struct pollfd pfd = { .fd = mqdev_share_fd(w->s), .events = POLLIN };
	struct rusage r0, r1;
	uint64_t t0;

	getrusage(RUSAGE_THREAD, &r0);
	t0 = mono_ms();
	if (w->use_poll) {
		w->n = poll(&pfd, 1, w->timeout_ms);
		w->revents = pfd.revents;
	} else {
		w->n = mqdev_share_acquire_wait(w->s, MQDEV_PARTITION_ANY,
						w->d, 16, w->timeout_ms);
	}
	w->end = mono_ms();
	w->ms = w->end - t0;
	getrusage(RUSAGE_THREAD, &r1);
	w->csw = r1.ru_nvcsw - r0.ru_nvcsw;
	return NULL;
}

/* Start @w, and give it the time to fall asleep. */
static int waiter_start(struct waiter *w, struct mqdev_share *s,
			bool use_poll, int timeout_ms)
{
	memset(w, 0, sizeof(*w));
	w->s = s;
	w->use_poll = use_poll;
	w->timeout_ms = timeout_ms;
	if (pthread_create(&w->thread, NULL, waiter_run, w))
		return -1;
	usleep(300000);
	return 0;
}

/* Nothing may be acquired: poll(2) says so at once. */
static bool not_ready(struct mqdev_share *s)
{
	struct pollfd pfd = { .fd = mqdev_share_fd(s), .events = POLLIN };

	return poll(&pfd, 1, 0) == 0;
}

TEST_F(share, poll_woken_by_append)
{
	struct mqdev_delivery d[2];
	struct mqdev_share *s;
	struct waiter w;

	s = join(self->name, "wake-append", 0, 0);
	ASSERT_NE(NULL, s);
	EXPECT_TRUE(not_ready(s));
	ASSERT_EQ(0, waiter_start(&w, s, true, 5000));
	produce_n(_metadata, self->prod, 1);
	pthread_join(w.thread, NULL);
	ASSERT_EQ(1, w.n) TH_LOG("poll was not woken by the append");
	EXPECT_TRUE(w.revents & POLLIN);
	EXPECT_GT(3000, w.ms);
	ASSERT_EQ(1, mqdev_share_acquire(s, 0, d, 2));
	EXPECT_EQ(0, accept_all(s, d, 1));
	/* Taken: nothing more, and poll says so. */
	EXPECT_TRUE(not_ready(s));
	mqdev_share_free(s);
}

TEST_F(share, acquire_wait_woken_by_append)
{
	struct mqdev_share *s;
	struct waiter w;

	s = join(self->name, "wait-append", 0, 0);
	ASSERT_NE(NULL, s);
	uint64_t woken;

	ASSERT_EQ(0, waiter_start(&w, s, false, 5000));
	woken = mono_ms();
	produce_n(_metadata, self->prod, 3);
	pthread_join(w.thread, NULL);
	ASSERT_LE(1, w.n) TH_LOG("the acquire was not woken by the append");
	EXPECT_GT(3000, w.ms);
	/* it did wait: it returned after the append, however late it ran */
	EXPECT_LE(woken, w.end);
	EXPECT_EQ(0, w.d[0].offset);
	mqdev_share_free(s);
}

/* Members @a (its locks @lock_ms) and @b of @group, @a holding a new record. */
static int one_held(const char *topic, int prod, const char *group,
		    uint32_t lock_ms, struct mqdev_share **a,
		    struct mqdev_share **b)
{
	struct mqdev_delivery d[2];
	uint32_t v = 0;

	*a = join(topic, group, lock_ms, 0);
	*b = join(topic, group, 0, 0);
	if (!*a || !*b || produce_one(prod, 0, NULL, 0, &v, sizeof(v), NULL))
		return -1;
	return mqdev_share_acquire(*a, 0, d, 2) == 1 ? 0 : -1;
}

TEST_F(share, woken_by_release)
{
	struct mqdev_share *a, *b;
	struct waiter w;

	ASSERT_EQ(0, one_held(self->name, self->prod, "wake-release", 60000,
			      &a, &b));
	EXPECT_TRUE(not_ready(b));
	ASSERT_EQ(0, waiter_start(&w, b, false, 5000));
	ASSERT_EQ(0, mqdev_share_ack(a, 0, 0, 1, MQDEV_SHARE_RELEASE, NULL));
	pthread_join(w.thread, NULL);
	ASSERT_EQ(1, w.n) TH_LOG("the release woke no one");
	EXPECT_GT(3000, w.ms);
	EXPECT_EQ(2, w.d[0].delivery_count);
	mqdev_share_free(a);
	mqdev_share_free(b);
}

TEST_F(share, woken_by_lock_expiry)
{
	struct mqdev_share *a, *b;
	struct mqdev_delivery d[2];
	struct waiter w;
	uint64_t t0 = mono_ms();

	ASSERT_EQ(0, one_held(self->name, self->prod, "wake-expiry", 600,
			      &a, &b));
	ASSERT_EQ(0, waiter_start(&w, b, true, 5000));
	pthread_join(w.thread, NULL);
	ASSERT_EQ(1, w.n) TH_LOG("the lock's expiry woke no one");
	/* not before the 600 ms lock ended, however late the thread ran */
	EXPECT_LE(t0 + 600, w.end);
	EXPECT_GT(3000, w.ms);
	ASSERT_EQ(1, mqdev_share_acquire(b, 0, d, 2));
	EXPECT_EQ(2, d[0].delivery_count);
	mqdev_share_free(a);
	mqdev_share_free(b);
}

TEST_F(share, woken_by_member_death)
{
	struct mqdev_share *b;
	struct waiter w;
	int status;
	pid_t pid;

	b = join(self->name, "wake-death", 0, 0);
	ASSERT_NE(NULL, b);
	pid = fork_holder(self->name, self->prod, "wake-death", 1);
	ASSERT_LT(0, pid);
	EXPECT_TRUE(not_ready(b));
	ASSERT_EQ(0, waiter_start(&w, b, false, 5000));
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	pthread_join(w.thread, NULL);
	ASSERT_EQ(1, w.n) TH_LOG("the member's death woke no one");
	EXPECT_GT(3000, w.ms);
	EXPECT_EQ(2, w.d[0].delivery_count);
	mqdev_share_free(b);
}

/*
 * No busy loop: an idle member sleeps through a second with a handful of
 * context switches (one look every 10 ms would be 100), and a record
 * backing off is not acquirable, so poll(2) does not say it is, until the
 * back-off's end, which wakes it.
 */
TEST_F(share, idle_member_sleeps)
{
	LIBMQDEV_OPTS(mqdev_share_ack_opts, later, .backoff_ms = 800);
	struct mqdev_delivery d[2];
	struct mqdev_share *s;
	struct waiter w;
	uint64_t t0;

	s = join(self->name, "idle", 0, 0);
	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, waiter_start(&w, s, false, 1000));
	pthread_join(w.thread, NULL);
	EXPECT_EQ(0, w.n);
	EXPECT_LE(950, w.ms);
	EXPECT_GE(5, w.csw) TH_LOG("%ld context switches idle", w.csw);

	produce_n(_metadata, self->prod, 1);
	ASSERT_EQ(1, mqdev_share_acquire(s, 0, d, 2));
	t0 = mono_ms();
	ASSERT_EQ(0, mqdev_share_ack(s, 0, 0, 1, MQDEV_SHARE_RELEASE, &later));
	EXPECT_TRUE(not_ready(s)) TH_LOG("backing off, yet said ready");
	ASSERT_EQ(0, waiter_start(&w, s, true, 5000));
	pthread_join(w.thread, NULL);
	ASSERT_EQ(1, w.n) TH_LOG("the back-off's end woke no one");
	EXPECT_LE(t0 + 800, w.end);	/* not before the back-off's end */
	EXPECT_GT(3000, w.ms);
	EXPECT_GE(5, w.csw) TH_LOG("%ld context switches backing off", w.csw);
	ASSERT_EQ(1, mqdev_share_acquire(s, 0, d, 2));
	mqdev_share_free(s);
}

/* O_NONBLOCK: a waiting acquire does not wait; bad input is refused. */
TEST_F(share, acquire_wait_nonblock)
{
	struct mqdev_delivery d[2];
	struct mqdev_share *s;
	uint64_t t0;
	int fd;

	s = join(self->name, "nonblock", 0, 0);
	ASSERT_NE(NULL, s);
	fd = mqdev_share_fd(s);
	ASSERT_EQ(0, fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK));
	t0 = mono_ms();
	EXPECT_EQ(0, mqdev_share_acquire_wait(s, 0, d, 2, 2000));
	EXPECT_GT(500, mono_ms() - t0);
	EXPECT_EQ(-EINVAL, mqdev_share_acquire_wait(s, 0, d, 2, -2));
	mqdev_share_free(s);
}

/* A member waiting with no limit is woken by the group's deletion. */
TEST_F(share, acquire_wait_woken_by_delete)
{
	struct mqdev_share *s;
	struct mqdev_nl *nl;
	struct waiter w;

	s = join(self->name, "wake-delete", 0, 0);
	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, mqdev_nl_open(&nl));
	ASSERT_EQ(0, waiter_start(&w, s, false, -1));
	ASSERT_EQ(0, mqdev_group_delete(nl, "wake-delete", self->name, true));
	pthread_join(w.thread, NULL);
	EXPECT_EQ(-EIDRM, w.n);
	mqdev_nl_close(nl);
	mqdev_share_free(s);
}

/* A member asleep in poll(2) is told EPOLLHUP by a forced delete. */
TEST_F(share, poll_hup_on_delete)
{
	struct mqdev_share *s;
	struct mqdev_nl *nl;
	struct waiter w;

	s = join(self->name, "hup-delete", 0, 0);
	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, mqdev_nl_open(&nl));
	ASSERT_EQ(0, waiter_start(&w, s, true, 5000));
	ASSERT_EQ(0, mqdev_group_delete(nl, "hup-delete", self->name, true));
	pthread_join(w.thread, NULL);
	ASSERT_EQ(1, w.n) TH_LOG("the delete woke no poller");
	EXPECT_TRUE(w.revents & POLLHUP);
	EXPECT_GT(3000, w.ms);
	mqdev_nl_close(nl);
	mqdev_share_free(s);
}

/*
 * A full window: appends past it are for no one, so a member waiting
 * sleeps through 1000 of them (each woke it, and it scanned the window,
 * before).
 */
TEST_F(share, full_window_waiter_sleeps)
{
	struct mqdev_delivery d[16];
	struct mqdev_share *a, *b;
	struct waiter w;

	ASSERT_EQ(0, join_window_16(self->name, "full-wait", &a, &b));
	produce_n(_metadata, self->prod, 16);
	ASSERT_EQ(16, mqdev_share_acquire(a, 0, d, 16));
	ASSERT_EQ(0, waiter_start(&w, b, false, 1500));
	produce_n(_metadata, self->prod, 1000);
	pthread_join(w.thread, NULL);
	EXPECT_EQ(0, w.n);
	EXPECT_GE(20, w.csw) TH_LOG("%ld context switches for 1000 appends",
				    w.csw);
	ksft_print_msg("%ld context switches for 1000 appends\n", w.csw);
	/* room again: the waiting member is woken and takes the next */
	ASSERT_EQ(0, waiter_start(&w, b, false, 5000));
	ASSERT_EQ(0, mqdev_share_ack(a, 0, 0, 1, MQDEV_SHARE_ACCEPT, NULL));
	pthread_join(w.thread, NULL);
	ASSERT_EQ(1, w.n) TH_LOG("room in the window woke no one");
	EXPECT_EQ(16, w.d[0].offset);
	mqdev_share_free(a);
	mqdev_share_free(b);
}

/*
 * An acquire that stops once it has enough still finds out whether any is
 * left: poll(2) does not say ready when none is (it did, over and over).
 */
TEST_F(share, poll_ready_exact_after_short_acquire)
{
	struct mqdev_share *x, *y, *z;
	struct mqdev_delivery d[2];

	x = join(self->name, "exact", 0, 0);
	y = join(self->name, "exact", 0, 0);
	z = join(self->name, "exact", 0, 0);
	ASSERT_NE(NULL, x);
	ASSERT_NE(NULL, y);
	ASSERT_NE(NULL, z);
	produce_n(_metadata, self->prod, 2);
	ASSERT_EQ(2, mqdev_share_acquire(x, 0, d, 2));
	ASSERT_EQ(0, mqdev_share_ack(x, 0, 0, 1, MQDEV_SHARE_RELEASE, NULL));
	EXPECT_FALSE(not_ready(z));
	ASSERT_EQ(1, mqdev_share_acquire(y, 0, d, 1));
	EXPECT_EQ(0, d[0].offset);
	EXPECT_TRUE(not_ready(z)) TH_LOG("none left, yet said ready");
	EXPECT_EQ(0, mqdev_share_acquire(z, 0, d, 2));
	/* one left when the acquire stopped: ready, rightly */
	ASSERT_EQ(0, mqdev_share_ack(x, 0, 1, 2, MQDEV_SHARE_RELEASE, NULL));
	ASSERT_EQ(0, mqdev_share_ack(y, 0, 0, 1, MQDEV_SHARE_RELEASE, NULL));
	ASSERT_EQ(1, mqdev_share_acquire(y, 0, d, 1));
	EXPECT_FALSE(not_ready(z)) TH_LOG("one left, yet not ready");
	ASSERT_EQ(1, mqdev_share_acquire(z, 0, d, 2));
	EXPECT_TRUE(not_ready(z));
	mqdev_share_free(x);
	mqdev_share_free(y);
	mqdev_share_free(z);
}

/*
 * A stop and a continue (a debugger's attach, the freezer) are no error
 * for a member waiting with no limit: its acquire goes on, and the record
 * appended then is what it returns (it failed EINTR before).  The child
 * exits with how many it got, 100 + -n for an error.
 */
TEST_F(share, wait_forever_survives_stop)
{
	struct mqdev_delivery d[2];
	struct mqdev_share *s;
	int status, n;
	pid_t pid;

	s = join(self->name, "stop", 0, 0);
	ASSERT_NE(NULL, s);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		n = mqdev_share_acquire_wait(s, 0, d, 2, -1);
		_exit(n < 0 ? 100 - n : n);
	}
	usleep(300000);
	ASSERT_EQ(0, kill(pid, SIGSTOP));
	ASSERT_EQ(pid, waitpid(pid, &status, WUNTRACED));
	ASSERT_TRUE(WIFSTOPPED(status));
	ASSERT_EQ(0, kill(pid, SIGCONT));
	usleep(300000);
	produce_n(_metadata, self->prod, 1);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(1, WEXITSTATUS(status))
		TH_LOG("the waiting acquire ended with %d",
		       WEXITSTATUS(status) >= 100 ?
		       100 - WEXITSTATUS(status) : WEXITSTATUS(status));
	mqdev_share_free(s);
}

/* A new group with reset LATEST starts past what is there: only news. */
TEST_F(share, reset_latest_takes_only_what_comes_after)
{
	LIBMQDEV_OPTS(mqdev_share_opts, opts, .reset = MQDEV_SEEK_LATEST);
	struct mqdev_delivery d[8];
	struct mqdev_share *s;

	produce_n(_metadata, self->prod, 5);
	ASSERT_EQ(0, mqdev_share_new(self->name, "latest", &opts, &s));
	EXPECT_EQ(0, mqdev_share_acquire(s, 0, d, 8));
	produce_n(_metadata, self->prod, 1);
	ASSERT_EQ(1, mqdev_share_acquire_wait(s, 0, d, 8, 5000));
	EXPECT_EQ(5, d[0].offset);
	mqdev_share_free(s);
}

/*
 * A waiting acquire with a time-out, interrupted by a handler, fails EINTR
 * long before its time-out even with SA_RESTART: restarted, it would wait
 * its whole time-out again; the caller keeps its own deadline.  The
 * member goes on: the record that comes next is the next acquire's, a
 * first delivery.
 */
TEST_F(share, timed_wait_interrupted_eintr)
{
	struct mqdev_delivery d[2];
	struct mqdev_share *s;
	pid_t pid;
	int n;

	s = join(self->name, "eintr", 0, 0);
	ASSERT_NE(NULL, s);
	pid = fork_catching_usr1(SA_RESTART);
	ASSERT_LE(0, pid);
	if (!pid) {
		n = mqdev_share_acquire_wait(s, 0, d, 2, 60000);
		_exit(n < 0 ? 100 - n : n);
	}
	EXPECT_EQ(100 + EINTR, signal_until_exit(pid));
	/* under KASAN, a wait left queued by the child would be used here */
	produce_n(_metadata, self->prod, 1);
	ASSERT_EQ(1, mqdev_share_acquire(s, 0, d, 2));
	EXPECT_EQ(0, d[0].offset);
	EXPECT_EQ(1, d[0].delivery_count);
	mqdev_share_free(s);
}

/*
 * A forced delete racing members that acquire (waiting), accept, release
 * and describe, and a consumer group's commits over netlink: every member
 * ends with EIDRM, nothing else fails.  Under make check-debug's lockdep,
 * every taker of a share group's lock asserts it holds no groups_lock.
 */
struct racer {
	struct mqdev_share *s;
	int		end;		/* the error it stopped on */
	uint64_t	done;
	pthread_t	thread;
};

static void *racer_run(void *arg)
{
	struct racer *r = arg;
	struct mqdev_share_info info;
	struct mqdev_delivery d[16];
	int n, i, err = 0;

	while (!err) {
		n = mqdev_share_acquire_wait(r->s, MQDEV_PARTITION_ANY, d, 16,
					     20);
		if (n < 0) {
			err = n;
			break;
		}
		for (i = 0; i < n && !err; i++)
			err = mqdev_share_ack(r->s, d[i].partition,
					      d[i].offset, d[i].offset + 1,
					      i & 1 ? MQDEV_SHARE_RELEASE :
					      MQDEV_SHARE_ACCEPT, NULL);
		r->done += n;
		/* a count under the group's lock; ENOENT once deleted */
		mqdev_share_describe(mqdev_share_fd(r->s), "race", 0, &info);
	}
	r->end = err;
	return NULL;
}

TEST_F(share, forced_delete_races_members)
{
	struct racer r[4];
	struct mqdev_nl *nl;
	int i, commits = 0;
	uint64_t t0;

	ASSERT_EQ(0, mqdev_nl_open(&nl));
	ASSERT_EQ(0, mqdev_group_reset(nl, "race-cg", self->name,
				       MQDEV_PARTITION_ALL,
				       MQDEV_SEEK_EARLIEST, 0, false));
	produce_n(_metadata, self->prod, 2000);
	for (i = 0; i < 4; i++) {
		r[i] = (struct racer){};
		r[i].s = join(self->name, "race", 0, 0);
		ASSERT_NE(NULL, r[i].s);
		ASSERT_EQ(0, pthread_create(&r[i].thread, NULL, racer_run,
					    &r[i]));
	}
	/* groups_lock's other users, while the members scan */
	for (t0 = mono_ms(); mono_ms() - t0 < 300; commits++)
		ASSERT_EQ(0, mqdev_group_commit_offset(nl, "race-cg",
						       self->name, 0,
						       commits % 100, NULL));
	ASSERT_EQ(0, mqdev_group_delete(nl, "race", self->name, true));
	produce_n(_metadata, self->prod, 10);	/* wakes the waiting too */
	for (i = 0; i < 4; i++) {
		pthread_join(r[i].thread, NULL);
		EXPECT_EQ(-EIDRM, r[i].end);
		mqdev_share_free(r[i].s);
	}
	EXPECT_LT(0, r[0].done + r[1].done + r[2].done + r[3].done);
	mqdev_nl_close(nl);
}

TEST_HARNESS_MAIN
