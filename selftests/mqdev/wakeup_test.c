// SPDX-License-Identifier: GPL-2.0
/*
 * Every waiter wakes when its topic is deleted, when a rebalance hands it
 * records, and when its group is deleted under it: MQDEV_IOC_WAIT, poll(2),
 * read(2) and epoll, for members with partitions and for idle ones.
 *
 * A waiter that sleeps on past WAKE_MS fails the test and is then woken
 * with a signal (its handler is installed without SA_RESTART), so that a
 * missed wake-up fails cleanly instead of hanging.
 */
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include "call.h"
#include "common.h"
#include "kselftest_harness.h"

#define VALUE		56
#define REC_LEN		(sizeof(struct mqdev_record) + VALUE)
#define WAKE_MS		2000	/* for a waiter to wake */
#define ASLEEP_MS	200	/* a waiter still asleep after this sleeps */
#define STOP_MS		5000	/* for a signalled waiter to come back */

/* ---- calls made in threads of their own: call.h ---- */

/*
 * Join the call, which should have returned by now: if it has not, signal
 * it until it does (a waiter that missed its wake-up).  False if it had to
 * be signalled, or never came back.
 */
static bool call_stop(struct call *c)
{
	bool on_its_own = call_done(c, 0);
	int i;

	for (i = 0; !on_its_own && i < STOP_MS / 50; i++) {
		pthread_kill(c->thread, SIGUSR1);
		if (call_done(c, 50))
			break;
	}
	if (!call_done(c, 0)) {
		pthread_detach(c->thread);	/* lost: fail, don't hang */
		return false;
	}
	pthread_join(c->thread, NULL);
	close(c->efd);
	c->running = false;
	return on_its_own;
}

/* ---- the waits ---- */

struct wait_args {
	int fd;
	uint32_t revents;	/* out */
};

/* MQDEV_IOC_WAIT: 0 or -errno; *@revents what it woke for. */
static int wait_for(int fd, uint64_t timeout_ns, uint32_t *revents)
{
	struct mqdev_wait req = { .timeout_ns = timeout_ns };
	int err = xioctl(fd, MQDEV_IOC_WAIT, &req);

	*revents = err ? 0 : req.revents;
	return err;
}

/* MQDEV_IOC_WAIT with no time limit. */
static long do_wait(void *p)
{
	struct wait_args *a = p;

	return wait_for(a->fd, MQDEV_WAIT_FOREVER, &a->revents);
}

/* poll(2) for POLLIN | POLLPRI with no time limit; the revents or -errno. */
static long do_poll(void *p)
{
	struct pollfd pfd = { .fd = *(int *)p, .events = POLLIN | POLLPRI };

	return poll(&pfd, 1, -1) < 0 ? -errno : pfd.revents;
}

struct read_args {
	int fd;
	char buf[4096];
};

static long do_read(void *p)
{
	struct read_args *a = p;
	ssize_t n = read(a->fd, a->buf, sizeof(a->buf));

	return n < 0 ? -errno : n;
}

/* ---- the tests ---- */

FIXTURE(wake) {
	int fd;
	char name[MQDEV_NAME_MAX + 1];
};

FIXTURE_SETUP(wake)
{
	struct sigaction sa = { .sa_handler = caught_signal };	/* no restart */

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("wakeup"));
}

FIXTURE_TEARDOWN(wake)
{
	mqdev_topic_delete(self->fd, self->name);
	close(self->fd);
}

/* A consuming handle that joined @group of @topic; the fd or -errno. */
static int member(const char *topic, const char *group)
{
	struct mqdev_group_join req = { .reset = MQDEV_SEEK_EARLIEST };
	int fd = attach(topic, MQDEV_ATTACH_CONSUME, NULL), err;

	if (fd < 0)
		return fd;
	mqdev_name_set(req.group, group);
	err = xioctl(fd, MQDEV_IOC_GROUP_JOIN, &req);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/*
 * Take in a member's assignment, as a consumer does after EPOLLPRI: how
 * many partitions it owns, or -errno; *@owned and *@gen as told.
 */
static int assignment(int fd, uint64_t *owned, uint32_t *gen)
{
	struct mqdev_group_start starts[MQDEV_MAX_PARTITIONS];
	struct mqdev_group_assignment req = {
		.starts = (uintptr_t)starts,
		.starts_count = MQDEV_MAX_PARTITIONS,
	};
	int err = xioctl(fd, MQDEV_IOC_GROUP_ASSIGNMENT, &req);

	if (err)
		return err;
	if (owned)
		*owned = req.owned[0];
	if (gen)
		*gen = req.generation;
	return req.count;
}

static void produce_n(struct __test_metadata *_metadata, const char *topic,
		      uint32_t part, int n)
{
	char value[VALUE];
	int prod = attach(topic, MQDEV_ATTACH_PRODUCE, NULL), i;

	ASSERT_LE(0, prod);
	for (i = 0; i < n; i++) {
		pattern_fill(value, VALUE, i);
		ASSERT_EQ(part, produce_one(prod, part, NULL, 0, value, VALUE,
					    NULL));
	}
	close(prod);
}

/* The first record in @buf is record 0 of @part, as produce_n() made it. */
static void check_first(struct __test_metadata *_metadata, const char *buf,
			uint32_t part)
{
	const struct mqdev_record *rec = (const void *)buf;

	EXPECT_EQ(part, rec->partition);
	EXPECT_EQ(0, rec->offset);
	EXPECT_EQ(REC_LEN, rec->len);
	EXPECT_EQ(0, pattern_check(mqdev_record_value(rec), VALUE, 0));
}

/* Two members of a one-partition topic; the second owns nothing. */
static void idle_pair(struct __test_metadata *_metadata, const char *topic,
		      int *busy, int *idle)
{
	*busy = member(topic, "g");
	ASSERT_LE(0, *busy);
	*idle = member(topic, "g");
	ASSERT_LE(0, *idle);
	ASSERT_EQ(1, assignment(*busy, NULL, NULL));
	ASSERT_EQ(0, assignment(*idle, NULL, NULL));
}

/* An idle member asleep in MQDEV_IOC_WAIT wakes when the topic goes. */
TEST_F(wake, deletion_wakes_idle_wait)
{
	struct wait_args w = {};
	struct call c;
	int busy, woke;

	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 8192, 0));
	idle_pair(_metadata, self->name, &busy, &w.fd);
	ASSERT_EQ(0, call_start(&c, do_wait, &w));
	EXPECT_FALSE(call_done(&c, ASLEEP_MS));

	EXPECT_EQ(0, mqdev_topic_delete(self->fd, self->name));
	woke = call_done(&c, WAKE_MS);
	EXPECT_TRUE(woke) TH_LOG("the idle member slept through the deletion");
	EXPECT_TRUE(call_stop(&c));
	if (woke) {
		EXPECT_EQ(0, c.ret);
		EXPECT_TRUE(w.revents & EPOLLHUP);
	}
	close(w.fd);
	close(busy);
}

/* The same member blocked in poll(2). */
TEST_F(wake, deletion_wakes_idle_poll)
{
	struct call c;
	int busy, idle, woke;

	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 8192, 0));
	idle_pair(_metadata, self->name, &busy, &idle);
	ASSERT_EQ(0, call_start(&c, do_poll, &idle));
	EXPECT_FALSE(call_done(&c, ASLEEP_MS));

	EXPECT_EQ(0, mqdev_topic_delete(self->fd, self->name));
	woke = call_done(&c, WAKE_MS);
	EXPECT_TRUE(woke) TH_LOG("the idle member's poll slept on");
	EXPECT_TRUE(call_stop(&c));
	if (woke) {
		EXPECT_LT(0, c.ret);
		EXPECT_TRUE(c.ret & POLLHUP);
	}
	close(idle);
	close(busy);
}

/*
 * A member blocked in read(2) on its own empty partition is handed the
 * other member's, with records in it, when that member leaves: the read
 * returns them.
 */
TEST_F(wake, rebalance_wakes_read)
{
	struct read_args r = {};
	uint64_t owned;
	struct call c;
	int a, woke;

	ASSERT_EQ(0, create_topic(self->fd, self->name, 2, 8192, 0));
	a = member(self->name, "g");
	ASSERT_LE(0, a);
	r.fd = member(self->name, "g");
	ASSERT_LE(0, r.fd);
	ASSERT_EQ(1, assignment(a, &owned, NULL));
	ASSERT_EQ(1, owned);		/* a keeps partition 0 */
	ASSERT_EQ(1, assignment(r.fd, &owned, NULL));
	ASSERT_EQ(2, owned);		/* the reader has partition 1 */
	produce_n(_metadata, self->name, 0, 3);	/* a's backlog */

	ASSERT_EQ(0, call_start(&c, do_read, &r));
	EXPECT_FALSE(call_done(&c, ASLEEP_MS));
	close(a);			/* the reader gets partition 0 */
	woke = call_done(&c, WAKE_MS);
	EXPECT_TRUE(woke) TH_LOG("the reader slept on past the rebalance");
	EXPECT_TRUE(call_stop(&c));
	if (woke) {
		EXPECT_EQ(3 * MQDEV_RECORD_SPACE(REC_LEN), c.ret);
		check_first(_metadata, r.buf, 0);
	}
	close(r.fd);
}

/*
 * A member that owns nothing blocks in read(2) for its assignment, as it
 * does in MQDEV_IOC_WAIT (it used to fail at once with EDESTADDRREQ), and
 * is woken with the records of the partition it is handed.  Non-blocking,
 * it gets EAGAIN; evicted, EIDRM.
 */
TEST_F(wake, idle_member_reads_its_assignment)
{
	struct read_args r = {};
	struct mqdev_nl *nl;
	struct call c;
	char buf[64];
	int busy, woke;

	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 8192, 0));
	idle_pair(_metadata, self->name, &busy, &r.fd);
	produce_n(_metadata, self->name, 0, 3);	/* busy's backlog */
	ASSERT_EQ(0, fcntl(r.fd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, read(r.fd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, fcntl(r.fd, F_SETFL, 0));

	ASSERT_EQ(0, call_start(&c, do_read, &r));
	EXPECT_FALSE(call_done(&c, ASLEEP_MS));
	close(busy);			/* the idle member gets partition 0 */
	woke = call_done(&c, WAKE_MS);
	EXPECT_TRUE(woke) TH_LOG("the idle reader slept on past the rebalance");
	EXPECT_TRUE(call_stop(&c));
	if (woke) {
		EXPECT_EQ(3 * MQDEV_RECORD_SPACE(REC_LEN), c.ret);
		check_first(_metadata, r.buf, 0);
	}

	/* deleted under it while it sleeps in read(2): EIDRM, then too */
	ASSERT_EQ(0, call_start(&c, do_read, &r));
	EXPECT_FALSE(call_done(&c, ASLEEP_MS));
	ASSERT_EQ(0, mqdev_nl_open(&nl));
	ASSERT_EQ(0, mqdev_group_delete(nl, "g", self->name, true));
	mqdev_nl_close(nl);
	woke = call_done(&c, WAKE_MS);
	EXPECT_TRUE(woke) TH_LOG("the reader slept on past the eviction");
	EXPECT_TRUE(call_stop(&c));
	if (woke)
		EXPECT_EQ(-EIDRM, c.ret);
	EXPECT_EQ(-1, read(r.fd, buf, sizeof(buf)));
	EXPECT_EQ(EIDRM, errno);
	close(r.fd);
}

/*
 * epoll waiting for EPOLLIN alone on an idle member: handed a partition
 * with records when the other member leaves, it is told.
 */
TEST_F(wake, rebalance_wakes_epollin)
{
	struct epoll_event ev = { .events = EPOLLIN };
	char buf[4096];
	int busy, idle, ep, n;

	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 8192, 0));
	idle_pair(_metadata, self->name, &busy, &idle);
	produce_n(_metadata, self->name, 0, 3);	/* busy's backlog */
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, idle, &ev));
	ASSERT_EQ(0, epoll_wait(ep, &ev, 1, 0));

	close(busy);			/* idle gets the partition */
	memset(&ev, 0, sizeof(ev));
	n = epoll_wait(ep, &ev, 1, WAKE_MS);
	EXPECT_EQ(1, n) TH_LOG("epoll slept on past the rebalance");
	EXPECT_TRUE(ev.events & EPOLLIN);
	/* and there are the records */
	ASSERT_EQ(0, fcntl(idle, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(3 * MQDEV_RECORD_SPACE(REC_LEN), read(idle, buf, sizeof(buf)));
	check_first(_metadata, buf, 0);
	close(ep);
	close(idle);
}

static int raw_commit(int fd, uint32_t part, uint32_t gen, uint64_t offset)
{
	struct mqdev_group_commit req = {
		.partition = part, .generation = gen, .offset = offset,
	};

	return xioctl(fd, MQDEV_IOC_GROUP_COMMIT, &req);
}

static int count_groups(void *ctx, const struct mqdev_group_info *info)
{
	++*(int *)ctx;
	return 0;
}

/* Each of the @n waiters must wake, with EPOLLHUP. */
static void expect_hangups(struct __test_metadata *_metadata,
			   struct call *c, struct wait_args *w, int n)
{
	bool woke;
	int i;

	for (i = 0; i < n; i++) {
		woke = call_done(&c[i], WAKE_MS);
		EXPECT_TRUE(woke) TH_LOG("member %d slept through its eviction",
					 i);
		EXPECT_TRUE(call_stop(&c[i]));
		if (woke) {
			EXPECT_EQ(0, c[i].ret);
			EXPECT_TRUE(w[i].revents & EPOLLHUP);
		}
	}
}

/*
 * A group deleted under its members, by force: both, the one with the
 * partition and the idle one, wake with EPOLLHUP, own nothing, and may not
 * commit.  Without force, a group with members is not deleted.
 */
TEST_F(wake, forced_group_delete_evicts)
{
	struct wait_args w[2] = {};
	struct mqdev_nl *nl;
	struct call c[2];
	uint32_t gen, revents;
	int i, groups = 0;

	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 8192, 0));
	ASSERT_EQ(0, mqdev_nl_open(&nl));
	idle_pair(_metadata, self->name, &w[0].fd, &w[1].fd);
	ASSERT_EQ(1, assignment(w[0].fd, NULL, &gen));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, call_start(&c[i], do_wait, &w[i]));
	EXPECT_FALSE(call_done(&c[0], ASLEEP_MS));
	EXPECT_FALSE(call_done(&c[1], 0));

	EXPECT_EQ(-EBUSY, mqdev_group_delete(nl, "g", self->name, false));
	EXPECT_FALSE(call_done(&c[0], ASLEEP_MS));
	EXPECT_FALSE(call_done(&c[1], 0));
	EXPECT_EQ(0, raw_commit(w[0].fd, 0, gen, 0));

	EXPECT_EQ(0, mqdev_group_delete(nl, "g", self->name, true));
	expect_hangups(_metadata, c, w, 2);

	for (i = 0; i < 2; i++) {
		EXPECT_EQ(-EIDRM, raw_commit(w[i].fd, 0, gen, 0));
		EXPECT_EQ(0, assignment(w[i].fd, NULL, NULL));
		/* and it stays told */
		EXPECT_EQ(0, wait_for(w[i].fd, 100000000, &revents));
		EXPECT_TRUE(revents & EPOLLHUP);
	}
	ASSERT_EQ(0, mqdev_group_get(nl, "g", self->name, count_groups,
				     &groups));
	EXPECT_EQ(0, groups);
	for (i = 0; i < 2; i++)
		close(w[i].fd);
	mqdev_nl_close(nl);
}

struct owner_args {
	const char *topic;
	uint32_t mode;
};

static int create_as_user(void *arg)
{
	struct owner_args *d = arg;
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = 1, .capacity = 8192,
		      .mode = d->mode);
	int fd = mqdev_open(), err;

	if (fd < 0)
		return 200;
	err = mqdev_topic_create(fd, d->topic, &cfg);
	close(fd);
	return -err;
}

/* Force-delete root's group "g" of the topic: 0 or the errno. */
static int delete_forced(void *arg)
{
	struct owner_args *d = arg;
	struct mqdev_nl *nl;
	int err;

	if (mqdev_nl_open(&nl))
		return 200;
	err = mqdev_group_delete(nl, "g", d->topic, true);
	mqdev_nl_close(nl);
	return -err;
}

/*
 * The topic's owner may take away a group someone else made on it, and
 * its members with it; a third user may not.
 */
TEST_F(wake, topic_owner_evicts)
{
	struct owner_args d = { .topic = self->name, .mode = 0644 };
	struct wait_args w = {};
	struct call c;

	ASSERT_EQ(0, as_user(USER_UID, create_as_user, &d));
	w.fd = member(self->name, "g");		/* root's group */
	ASSERT_LE(0, w.fd);
	ASSERT_EQ(1, assignment(w.fd, NULL, NULL));
	ASSERT_EQ(0, call_start(&c, do_wait, &w));
	EXPECT_FALSE(call_done(&c, ASLEEP_MS));

	EXPECT_EQ(EPERM, as_user(OTHER_UID, delete_forced, &d));
	EXPECT_FALSE(call_done(&c, ASLEEP_MS));
	EXPECT_EQ(0, as_user(USER_UID, delete_forced, &d));
	expect_hangups(_metadata, &c, &w, 1);
	EXPECT_EQ(0, assignment(w.fd, NULL, NULL));
	close(w.fd);
}

TEST_HARNESS_MAIN
