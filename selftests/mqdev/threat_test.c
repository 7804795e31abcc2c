// SPDX-License-Identifier: GPL-2.0
/*
 * The threat model, tried as the users it names (Documentation/mqdev.rst,
 * "Who may do what"): a producer that sleeps blocks nobody but itself, a
 * group belongs to its maker, and whatever holds a topic its owner may take
 * away.
 */
#include <time.h>
#include "common.h"
#include "kselftest_harness.h"

#define VALUE_LEN	200

/* Wait up to @ms for @pid; its status, or -1 if it is still running. */
static int wait_ms(pid_t pid, int ms)
{
	int status;

	for (;; ms -= 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
		if (ms <= 0)
			return -1;
		usleep(10000);
	}
}

static int producer_init(int fd, const char *name)
{
	struct mqdev_producer_init req = {};

	mqdev_name_set(req.name, name);
	return xioctl(fd, MQDEV_IOC_PRODUCER_INIT, &req);
}

/* A handle of @topic producing as the named session @sfd. */
static int bound_producer(const char *topic, int sfd)
{
	uint32_t next[1];
	struct mqdev_producer_bind req = {
		.session_fd = sfd, .next_seq = (uintptr_t)next,
		.next_seq_count = 1,
	};
	int fd = attach(topic, MQDEV_ATTACH_PRODUCE, NULL);

	if (fd < 0 || xioctl(fd, MQDEV_IOC_PRODUCER_BIND, &req)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Append as a bound producer, sequence numbers from 0, until it blocks. */
static void produce_until_blocked(int fd)
{
	static char value[VALUE_LEN];
	struct mqdev_msg msg;
	struct mqdev_produce req = {
		.msgs = (uintptr_t)&msg, .count = 1, .msg_size = sizeof(msg),
	};
	uint32_t seq;

	for (seq = 0; ; seq++) {
		mqdev_msg_init(&msg, NULL, 0, value, sizeof(value), 0);
		msg.sequence = seq;
		if (ioctl(fd, MQDEV_IOC_PRODUCE, &req) != 1)
			_exit(1);
	}
}

FIXTURE(threat) {
	int fd;
	char name[MQDEV_NAME_MAX + 1];
};

FIXTURE_SETUP(threat)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("threat"));
}

FIXTURE_TEARDOWN(threat)
{
	mqdev_topic_delete(self->fd, self->name);
	close(self->fd);
}

/*
 * Finding 1: a named producer asleep for room on its own full topic, and a
 * second session of its name fencing it.  Before, the fence slept on the
 * old session's lock under the lock of every producer name, and from then on
 * every close of any generic netlink socket on the machine hung with it.
 */
TEST_F(threat, fence_does_not_wait_for_a_sleeping_producer)
{
	char pname[MQDEV_NAME_MAX + 1];
	struct mqdev_nl *nl;
	pid_t sleeper, fencer;
	int holder, st;
	uint64_t zero = 0;

	snprintf(pname, sizeof(pname), "fence-%d", getpid());
	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 4096, 0));
	/* a holder at the start: the ring fills and stays full */
	holder = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, holder);
	ASSERT_EQ(0, seek(holder, 0, MQDEV_SEEK_EARLIEST, &zero,
			  MQDEV_SEEK_HOLD));

	sleeper = fork();
	ASSERT_LE(0, sleeper);
	if (!sleeper) {
		int sfd = mqdev_open(), fd;

		if (sfd < 0 || producer_init(sfd, pname))
			_exit(2);
		fd = bound_producer(self->name, sfd);
		if (fd < 0)
			_exit(3);
		produce_until_blocked(fd);
	}
	usleep(500000);		/* it fills the ring and sleeps */
	ASSERT_EQ(-1, wait_ms(sleeper, 0));

	fencer = fork();
	ASSERT_LE(0, fencer);
	if (!fencer) {
		int sfd = mqdev_open();

		if (sfd < 0 || producer_init(sfd, pname))
			_exit(2);
		/* any netlink socket's close, anyone's */
		if (mqdev_nl_open(&nl))
			_exit(3);
		mqdev_nl_close(nl);
		_exit(0);
	}
	st = wait_ms(fencer, 5000);
	EXPECT_LE(0, st) TH_LOG("the fence waited for the sleeping producer");
	/* Never leave the machine hung: the sleeper's death frees it. */
	kill(sleeper, SIGKILL);
	waitpid(sleeper, NULL, 0);
	if (st < 0)
		st = wait_ms(fencer, 10000);
	EXPECT_EQ(0, st);
	close(holder);
}

/* ---- groups belong to their makers ----------------------------------------- */

struct group_args {
	const char *topic;
	const char *group;
	int expect;		/* what joining gets */
};

static int join_fd(int fd, const char *group, uint32_t reset)
{
	struct mqdev_group_join req = { .reset = reset };

	mqdev_name_set(req.group, group);
	return xioctl(fd, MQDEV_IOC_GROUP_JOIN, &req);
}

/* Join @group of @topic and leave; 0 when joining got ga->expect. */
static int try_join(void *arg)
{
	struct group_args *ga = arg;
	int fd = attach(ga->topic, MQDEV_ATTACH_CONSUME, NULL), err;

	if (fd < 0)
		return 100;
	err = join_fd(fd, ga->group, MQDEV_SEEK_EARLIEST);
	close(fd);
	return err != ga->expect;
}

/* As another user: nothing done to someone else's group goes through. */
static int try_change(void *arg)
{
	struct group_args *ga = arg;
	struct mqdev_nl *nl;
	int fails = 0;

	fails += try_join(arg);
	if (mqdev_nl_open(&nl))
		return 100;
	fails += mqdev_group_commit_offset(nl, ga->group, ga->topic, 0, 1,
					   NULL) != -EPERM;
	fails += mqdev_group_reset(nl, ga->group, ga->topic,
				   MQDEV_PARTITION_ALL, MQDEV_SEEK_LATEST, 0,
				   true) != -EPERM;
	fails += mqdev_group_delete(nl, ga->group, ga->topic, true) != -EPERM;
	mqdev_nl_close(nl);
	return fails;
}

static int make_topic(void *arg)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = 1, .capacity = 4096,
		      .mode = 0644);
	int fd = mqdev_open(), err;

	if (fd < 0)
		return 100;
	err = mqdev_topic_create(fd, arg, &cfg);
	close(fd);
	return err ? 1 : 0;
}

/*
 * Finding 3: uid 1001 could join uid 1000's group, commit the end offset
 * for it, and uid 1000's group silently skipped everything.
 */
TEST_F(threat, another_user_cannot_join_a_group)
{
	struct group_args mine = { self->name, "mine", 0 };
	struct group_args theirs = { self->name, "mine", -EPERM };

	ASSERT_EQ(0, as_user(USER_UID, make_topic, self->name));
	ASSERT_EQ(0, as_user(USER_UID, try_join, &mine));
	/* the group is 1000's: 1001 reads the topic but not through it */
	EXPECT_EQ(0, as_user(OTHER_UID, try_change, &theirs));
	/* its maker comes back to it */
	EXPECT_EQ(0, as_user(USER_UID, try_join, &mine));
	/* root may */
	mine.expect = 0;
	EXPECT_EQ(0, try_join(&mine));
}

/* Listed topics: only those the lister may read, as over netlink. */
static int listed(void *name)
{
	char (*names)[MQDEV_NAME_SIZE];
	int fd = mqdev_open(), n, i, found = 0;

	n = fd < 0 ? fd : mqdev_topic_list(fd, &names);
	if (n < 0)
		return 100;
	for (i = 0; i < n; i++)
		found |= !strcmp(names[i], name);
	free(names);
	close(fd);
	return found;
}

static int make_private_topic(void *name)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = 1, .mode = 0600);
	int fd = mqdev_open();

	return fd < 0 || mqdev_topic_create(fd, name, &cfg) ? 100 : 0;
}

/*
 * Finding of the man pages' read: TOPIC_LIST named every topic of the
 * namespace, where netlink and the events group show only what the
 * listener may read.
 */
TEST_F(threat, list_shows_only_readable_topics)
{
	ASSERT_EQ(0, as_user(USER_UID, make_private_topic, self->name));
	EXPECT_EQ(1, as_user(USER_UID, listed, self->name));
	EXPECT_EQ(0, as_user(OTHER_UID, listed, self->name));
	EXPECT_EQ(1, listed(self->name));	/* root */
}

/* ---- what holds a topic, its owner may take away ----------------------------- */

static int produce_nonblock(const char *topic)
{
	static char value[VALUE_LEN];
	int fd = attach(topic, MQDEV_ATTACH_PRODUCE, NULL), err;

	if (fd < 0)
		return fd;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	err = produce_one(fd, 0, NULL, 0, value, sizeof(value), NULL);
	close(fd);
	return err < 0 ? err : 0;
}

/* Fill the topic as its owner until it is full: 0 when it became so. */
static int fill(void *arg)
{
	int i, err = 0;

	for (i = 0; i < 100 && !err; i++)
		err = produce_nonblock(arg);
	return err == -EAGAIN ? 0 : 1;
}

/*
 * With no holder at all a block topic keeps every record, so the owner
 * consumes through a group of its own that starts at the end: what stops
 * the producer now is only what others hold.
 */
static int produce_one_more(void *arg)
{
	int fd = attach(arg, MQDEV_ATTACH_CONSUME, NULL), err;

	if (fd < 0)
		return 100;
	err = join_fd(fd, "owner", MQDEV_SEEK_LATEST) ?:
	      produce_nonblock(arg);
	close(fd);
	return err ? 1 : 0;
}

static int delete_group(void *arg)
{
	struct group_args *ga = arg;
	struct mqdev_nl *nl;
	int err;

	if (mqdev_nl_open(&nl))
		return 100;
	err = mqdev_group_delete(nl, ga->group, ga->topic, false);
	mqdev_nl_close(nl);
	return err != ga->expect;
}

static int hold_alone(void *arg)
{
	int fd = attach(arg, MQDEV_ATTACH_CONSUME, NULL), fails = 0;
	uint64_t zero = 0;

	if (fd < 0)
		return 100;
	fails += seek(fd, 0, MQDEV_SEEK_EARLIEST, &zero, MQDEV_SEEK_HOLD) !=
		 -EACCES;
	fails += seek(fd, 0, MQDEV_SEEK_EARLIEST, &zero, 0) != 0;
	close(fd);
	return fails;
}

/*
 * Finding 4: a reader's group at the earliest offset stopped the owner's
 * producers for good, and the owner could not delete it.  Holding is a
 * writer's say: a reader's group does not hold, a writer's does.
 */
TEST_F(threat, a_readers_group_does_not_hold)
{
	struct group_args readers = { self->name, "pin", 0 };
	struct group_args writers = { self->name, "own-pin", 0 };

	ASSERT_EQ(0, as_user(USER_UID, make_topic, self->name));
	ASSERT_EQ(0, as_user(OTHER_UID, try_join, &readers));
	ASSERT_EQ(0, as_user(USER_UID, fill, self->name));
	EXPECT_EQ(0, as_user(USER_UID, produce_one_more, self->name));
	/* a reader may not hold a block topic's records alone either */
	EXPECT_EQ(0, as_user(OTHER_UID, hold_alone, self->name));

	/* the owner's own group at the start does hold */
	ASSERT_EQ(0, as_user(USER_UID, try_join, &writers));
	ASSERT_EQ(0, as_user(USER_UID, fill, self->name));
	EXPECT_EQ(1, as_user(USER_UID, produce_one_more, self->name));
}

/* Whatever group is on a topic, its owner may delete it; no one else. */
TEST_F(threat, owner_deletes_a_readers_group)
{
	struct group_args g = { self->name, "theirs", 0 };

	ASSERT_EQ(0, as_user(USER_UID, make_topic, self->name));
	ASSERT_EQ(0, as_user(OTHER_UID, try_join, &g));
	g.expect = -EPERM;
	EXPECT_EQ(0, as_user(OTHER_UID + 1, delete_group, &g));
	g.expect = 0;
	EXPECT_EQ(0, as_user(USER_UID, delete_group, &g));
	g.expect = -ENOENT;
	EXPECT_EQ(0, as_user(OTHER_UID, delete_group, &g));
}

/* A member of @group as uid 1001, until told to go: the write end of @go. */
static pid_t member_of(const char *topic, const char *group, int *go,
		       int *joined)
{
	int to_child[2], from_child[2];
	char c = 0;
	pid_t pid;

	if (pipe(to_child) || pipe(from_child))
		return -1;
	pid = fork();
	if (!pid) {
		struct mqdev_group_commit gc = { .partition = 0 };
		int fd, err;

		if (setgroups(0, NULL) || setgid(OTHER_UID) ||
		    setuid(OTHER_UID))
			_exit(100);
		fd = attach(topic, MQDEV_ATTACH_CONSUME, NULL);
		c = fd >= 0 && !join_fd(fd, group, MQDEV_SEEK_EARLIEST);
		if (write(from_child[1], &c, 1) != 1 ||
		    read(to_child[0], &c, 1) != 1)
			_exit(101);
		/* evicted: its commits are refused */
		err = xioctl(fd, MQDEV_IOC_GROUP_COMMIT, &gc);
		c = err;
		_exit(err == -EIDRM ? 0 : 1);
	}
	close(to_child[0]);
	close(from_child[1]);
	*go = to_child[1];
	if (read(from_child[0], &c, 1) != 1)
		c = 0;
	close(from_child[0]);
	*joined = c;
	return pid;
}

static int delete_force(void *arg)
{
	struct group_args *ga = arg;
	struct mqdev_nl *nl;
	int fails = 0;

	if (mqdev_nl_open(&nl))
		return 100;
	fails += mqdev_group_delete(nl, ga->group, ga->topic, false) != -EBUSY;
	fails += mqdev_group_delete(nl, ga->group, ga->topic, true) != 0;
	mqdev_nl_close(nl);
	return fails;
}

/* A group with a member in it: the owner evicts them all at once. */
TEST_F(threat, owner_evicts_a_readers_members)
{
	struct group_args g = { self->name, "pinned", 0 };
	int go, joined;
	pid_t member;

	ASSERT_EQ(0, as_user(USER_UID, make_topic, self->name));
	member = member_of(self->name, "pinned", &go, &joined);
	ASSERT_LT(0, member);
	ASSERT_TRUE(joined);
	EXPECT_EQ(0, as_user(USER_UID, delete_force, &g));
	ASSERT_EQ(1, write(go, "x", 1));
	close(go);
	EXPECT_EQ(0, wait_ms(member, 5000));
}

TEST_HARNESS_MAIN
