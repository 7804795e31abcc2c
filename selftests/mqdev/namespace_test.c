// SPDX-License-Identifier: GPL-2.0
/*
 * Topics, groups and producer names belong to a network namespace (the one
 * /dev/mq was opened in, as for a socket): a process in another sees none of
 * them, over the device or over netlink, and can use the same names freely.
 */
#include <sched.h>
#include "common.h"
#include "kselftest_harness.h"

struct seen {
	int topics;		/* topic_count() in the new namespace */
	int attach;		/* attaching to the parent's topic */
	int create;		/* creating the same name there */
	int inherited;		/* topic_count() on the parent's handle */
	int groups;		/* groups netlink shows there */
	int events;		/* events seen while the parent made a topic */
	int fence;		/* taking the parent's producer name */
};

static int count_groups(void *ctx, const struct mqdev_group_info *g)
{
	(*(int *)ctx)++;
	return 0;
}

FIXTURE(ns) {
	int fd;
	char name[MQDEV_NAME_MAX + 1];
	char group[32], producer[32];
};

FIXTURE_SETUP(ns)
{
	struct mqdev_consumer *c;

	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("ns"));
	snprintf(self->group, sizeof(self->group), "nsg-%d", getpid());
	snprintf(self->producer, sizeof(self->producer), "nsp-%d", getpid());
	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 4096, 0));
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_join(c, self->group, MQDEV_SEEK_EARLIEST));
	mqdev_consumer_free(c);		/* the group stays, empty */
}

FIXTURE_TEARDOWN(ns)
{
	mqdev_topic_delete(self->fd, self->name);
	close(self->fd);
}

TEST_F(ns, another_namespace_sees_nothing)
{
	struct seen *seen = mmap(NULL, sizeof(*seen), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct mqdev_session *mine, *theirs;
	struct mqdev_producer *p;
	int go[2], ready[2], status, fd, before = topic_count(self->fd);
	char ev_topic[MQDEV_NAME_MAX + 1];
	char c;
	pid_t pid;

	ASSERT_NE(MAP_FAILED, seen);
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, mqdev_session_new(self->producer, 0, &mine));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		LIBMQDEV_OPTS(mqdev_event, ev);
		struct mqdev_nl *nl;

		if (unshare(CLONE_NEWNET))
			_exit(10);
		fd = mqdev_open();
		seen->topics = topic_count(fd);
		seen->attach = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
		seen->create = create_topic(fd, self->name, 1, 4096, 0);
		seen->inherited = topic_count(self->fd);
		seen->fence = mqdev_session_new(self->producer, 0, &theirs);
		if (mqdev_nl_open(&nl) || mqdev_nl_subscribe(nl))
			_exit(11);
		mqdev_group_get(nl, NULL, NULL, count_groups, &seen->groups);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(12);
		while (mqdev_nl_event(nl, &ev, 500) == 1)
			seen->events++;
		/* its own topic goes with the namespace, at exit */
		_exit(0);
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));
	/* an event in our namespace the child must not hear */
	strcpy(ev_topic, topic_name("ns-ev"));
	ASSERT_EQ(0, create_topic(self->fd, ev_topic, 1, 4096, 0));
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));

	EXPECT_EQ(0, seen->topics);
	EXPECT_EQ(-ENOENT, seen->attach);
	EXPECT_EQ(0, seen->create);		/* the same name, its own */
	EXPECT_EQ(before, seen->inherited);	/* an fd keeps its namespace */
	EXPECT_EQ(0, seen->groups);
	EXPECT_EQ(0, seen->events);
	EXPECT_EQ(0, seen->fence);
	/* our producer name was not taken over: not fenced */
	ASSERT_EQ(0, mqdev_producer_new(self->name, NULL, &p));
	ASSERT_EQ(0, mqdev_producer_bind(p, mine));
	EXPECT_EQ(0, mqdev_producer_send(p, NULL, 0, "x", 1, 0, NULL));
	EXPECT_EQ(1, mqdev_producer_flush(p));
	mqdev_producer_free(p);
	mqdev_session_free(mine);
	/* ours are untouched by the child's topic of the same name */
	EXPECT_EQ(before + 1, topic_count(self->fd));
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, ev_topic));
}

/* The states in a handle's mapped transaction page that are not free. */
static int busy_slots(const char *topic)
{
	struct mqdev_attach at;
	const uint32_t *states;
	int fd = attach(topic, MQDEV_ATTACH_CONSUME, &at), n = 0;
	uint32_t i;

	if (fd < 0)
		return -1;
	states = mmap(NULL, at.off.txn_size, PROT_READ, MAP_SHARED, fd,
		      at.off.txn_mmap);
	if (states == MAP_FAILED) {
		close(fd);
		return -1;
	}
	for (i = 0; i < at.off.txn_slots; i++)
		n += states[i] != MQDEV_TXN_FREE;
	munmap((void *)states, at.off.txn_size);
	close(fd);
	return n;
}

/*
 * Each namespace has its own page of transaction states: an open
 * transaction here is not a state a reader in another namespace can see.
 */
TEST_F(ns, transaction_states_are_per_namespace)
{
	struct mqdev_session *s;
	struct mqdev_producer *p;
	pid_t pid;
	int status;

	ASSERT_EQ(0, mqdev_session_new(NULL, 0, &s));
	ASSERT_EQ(0, mqdev_producer_new(self->name, NULL, &p));
	ASSERT_EQ(0, mqdev_producer_bind(p, s));
	ASSERT_EQ(0, mqdev_txn_begin(s, 0));
	ASSERT_EQ(0, mqdev_producer_send(p, NULL, 0, "x", 1, 0, NULL));
	ASSERT_EQ(1, mqdev_producer_flush(p));
	EXPECT_LE(1, busy_slots(self->name));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int fd;

		if (unshare(CLONE_NEWNET))
			_exit(100);
		fd = mqdev_open();
		if (fd < 0 || create_topic(fd, "ns-txn", 1, 4096, 0))
			_exit(101);
		_exit(busy_slots("ns-txn"));
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("another namespace sees open slots");

	EXPECT_EQ(0, mqdev_txn_abort(s));
	mqdev_producer_free(p);
	mqdev_session_free(s);
}

TEST_HARNESS_MAIN
