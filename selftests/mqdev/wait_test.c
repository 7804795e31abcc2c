// SPDX-License-Identifier: GPL-2.0
/*
 * MQDEV_IOC_WAIT: a consumer sleeps until a watermark of bytes is ready
 * (Kafka's fetch.min.bytes), a rebalance, the topic's deletion, a signal or
 * its time-out, and appends smaller than the watermark do not wake it.
 */
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include "common.h"
#include "kselftest_harness.h"

#define VALUE		56
#define SPACE		MQDEV_RECORD_SPACE(sizeof(struct mqdev_record) + VALUE)
#define SEC		1000000000ULL

FIXTURE(wait) {
	int fd;			/* admin */
	int prod;
	int cons;		/* attached consumer, reading partition 0 */
	char name[MQDEV_NAME_MAX + 1];
	char more[2][MQDEV_NAME_MAX + 1];	/* a test's own topics, or "" */
	unsigned long lag;	/* replica_lag_ms to restore, if changed */
};

FIXTURE_SETUP(wait)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("wait"));
	ASSERT_EQ(0, create_topic(self->fd, self->name, 2, 65536, 0));
	self->prod = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, self->prod);
	self->cons = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, self->cons);
	ASSERT_EQ(0, seek(self->cons, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
}

FIXTURE_TEARDOWN(wait)
{
	if (self->lag)
		set_param("replica_lag_ms", self->lag);
	close(self->cons);
	close(self->prod);
	mqdev_topic_delete(self->fd, self->name);
	if (self->more[0][0])
		mqdev_topic_delete(self->fd, self->more[0]);
	if (self->more[1][0])
		mqdev_topic_delete(self->fd, self->more[1]);
	close(self->fd);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * SEC + ts.tv_nsec;
}

/* MQDEV_IOC_WAIT: 0 or -errno; *revents what it woke for. */
static int wait_for(int fd, uint32_t min_bytes, uint64_t timeout_ns,
		    uint32_t *revents)
{
	struct mqdev_wait req = {
		.timeout_ns = timeout_ns, .min_bytes = min_bytes,
	};
	int err = xioctl(fd, MQDEV_IOC_WAIT, &req);

	if (revents)
		*revents = err ? 0 : req.revents;
	return err;
}

static void append(struct __test_metadata *_metadata, int prod, int n)
{
	char value[VALUE] = "a value";

	while (n--)
		ASSERT_EQ(0, produce_one(prod, 0, NULL, 0, value, VALUE, NULL));
}

/* A thread asleep in MQDEV_IOC_WAIT, and what it came back with. */
struct waiter {
	int fd;
	uint32_t min_bytes;
	int err;
	uint32_t revents;
	long switches;		/* voluntary context switches while waiting */
	int done;
	pid_t tid;
	pthread_t thread;
};

static void *waiter_run(void *arg)
{
	struct waiter *w = arg;
	struct sched_param fair = {};
	struct rusage before, after;

	/* Fair, whatever its creator is (woken_for_a_record_gone_...) */
	sched_setscheduler(0, SCHED_OTHER, &fair);
	__atomic_store_n(&w->tid, gettid(), __ATOMIC_RELEASE);
	getrusage(RUSAGE_THREAD, &before);
	w->err = wait_for(w->fd, w->min_bytes, MQDEV_WAIT_FOREVER, &w->revents);
	getrusage(RUSAGE_THREAD, &after);
	w->switches = after.ru_nvcsw - before.ru_nvcsw;
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int waiter_start(struct waiter *w, int fd, uint32_t min_bytes)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->min_bytes = min_bytes;
	return pthread_create(&w->thread, NULL, waiter_run, w);
}

static bool waiter_done(struct waiter *w)
{
	return __atomic_load_n(&w->done, __ATOMIC_ACQUIRE);
}

/* Wait up to a second for the waiter to be asleep (in the wait: S). */
static bool waiter_asleep(struct waiter *w)
{
	char path[64], stat[256], *state;
	pid_t tid;
	int i, fd;
	ssize_t n;

	for (i = 0; i < 1000; i++, usleep(1000)) {
		tid = __atomic_load_n(&w->tid, __ATOMIC_ACQUIRE);
		if (!tid)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			return false;
		n = read(fd, stat, sizeof(stat) - 1);
		close(fd);
		if (n <= 0)
			return false;
		stat[n] = 0;
		/* after "tid (comm) ", and a comm may hold ") " */
		state = strrchr(stat, ')');
		if (state && state[1] == ' ' && state[2] == 'S')
			return true;
	}
	return false;
}

/* Wait up to a second for the waiter to come back. */
static bool waiter_join(struct waiter *w)
{
	int i;

	for (i = 0; i < 1000 && !waiter_done(w); i++)
		usleep(1000);
	if (!waiter_done(w))
		return false;
	pthread_join(w->thread, NULL);
	return true;
}

TEST_F(wait, ready_returns_at_once)
{
	uint32_t revents;
	uint64_t t0;

	append(_metadata, self->prod, 1);
	t0 = now_ns();
	EXPECT_EQ(0, wait_for(self->cons, 0, 10 * SEC, &revents));
	EXPECT_EQ(EPOLLIN, revents);
	EXPECT_EQ(0, wait_for(self->cons, SPACE, 0, &revents));
	EXPECT_EQ(EPOLLIN, revents);
	EXPECT_GT(SEC / 2, now_ns() - t0);
}

/*
 * A handle on more partitions than the kernel's entries on its stack
 * cover: ready, it comes back at once (it looks before it allocates);
 * not ready, it sleeps on every partition and any of them wakes it.
 */
TEST_F(wait, many_partitions)
{
	char name[MQDEV_NAME_MAX + 1];
	struct waiter w;
	uint32_t revents;
	int prod, cons;

	strcpy(name, topic_name("wait-many"));
	ASSERT_EQ(0, create_topic(self->fd, name, 6, 65536, 0));
	prod = attach(name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, prod);
	cons = attach(name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, cons);
	ASSERT_EQ(0, seek(cons, MQDEV_PARTITION_ALL, MQDEV_SEEK_EARLIEST,
			  NULL, 0));
	ASSERT_EQ(0, waiter_start(&w, cons, 0));
	usleep(100 * 1000);
	EXPECT_FALSE(waiter_done(&w));
	ASSERT_EQ(5, produce_one(prod, 5, NULL, 0, "x", 1, NULL));
	ASSERT_TRUE(waiter_join(&w));
	EXPECT_EQ(0, w.err);
	EXPECT_EQ(EPOLLIN, w.revents);
	EXPECT_EQ(0, wait_for(cons, 0, 10 * SEC, &revents));
	EXPECT_EQ(EPOLLIN, revents);
	close(cons);
	close(prod);
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, name));
}

TEST_F(wait, times_out)
{
	uint64_t t0 = now_ns();

	EXPECT_EQ(-ETIMEDOUT, wait_for(self->cons, 0, 0, NULL));
	EXPECT_EQ(-ETIMEDOUT, wait_for(self->cons, 0, 50000000, NULL));
	EXPECT_LE(50000000, now_ns() - t0);
	EXPECT_GT(5 * SEC, now_ns() - t0);
	/* records of another partition do not count */
	EXPECT_EQ(1, produce_one(self->prod, 1, NULL, 0, "x", 1, NULL));
	EXPECT_EQ(-ETIMEDOUT, wait_for(self->cons, 0, 20000000, NULL));
	/* fewer than the watermark: the time runs out */
	append(_metadata, self->prod, 3);
	EXPECT_EQ(-ETIMEDOUT, wait_for(self->cons, 4 * SPACE, 20000000, NULL));
	EXPECT_EQ(0, wait_for(self->cons, 3 * SPACE, 20000000, NULL));
}

/*
 * The point of it: nine appends below the watermark do not wake the
 * waiter at all (one voluntary switch: the sleep), the tenth does.
 */
TEST_F(wait, smaller_appends_do_not_wake)
{
	struct waiter w;
	int i;

	ASSERT_EQ(0, waiter_start(&w, self->cons, 10 * SPACE));
	usleep(50000);
	for (i = 0; i < 9; i++) {
		append(_metadata, self->prod, 1);
		usleep(20000);
		ASSERT_FALSE(waiter_done(&w));
	}
	append(_metadata, self->prod, 1);
	ASSERT_TRUE(waiter_join(&w));
	EXPECT_EQ(0, w.err);
	EXPECT_EQ(EPOLLIN, w.revents);
	EXPECT_GE(2, w.switches);
	TH_LOG("voluntary context switches while waiting: %ld", w.switches);
}

/* The library: fetch.min.bytes, and what there is after fetch.max.wait. */
TEST_F(wait, library_fetch_min)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts, .fetch_min = 4 * SPACE);
	struct mqdev_consumer *c;

	ASSERT_EQ(0, mqdev_consumer_new(self->name, &opts, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0, 0,
					 NULL));
	EXPECT_EQ(0, mqdev_consumer_wait(c, 20));	/* nothing at all */
	append(_metadata, self->prod, 1);
	/* fewer than the minimum: after the wait, what there is */
	EXPECT_EQ(1, mqdev_consumer_wait(c, 20));
	ASSERT_NE(NULL, mqdev_consumer_peek(c));
	EXPECT_EQ(0, mqdev_consumer_release(c));
	append(_metadata, self->prod, 4);
	EXPECT_EQ(1, mqdev_consumer_wait(c, 0));
	mqdev_consumer_free(c);
}

TEST_F(wait, deleted_topic_wakes)
{
	struct waiter w;

	ASSERT_EQ(0, waiter_start(&w, self->cons, 1 << 20));
	usleep(50000);
	ASSERT_FALSE(waiter_done(&w));
	ASSERT_EQ(0, mqdev_topic_delete(self->fd, self->name));
	ASSERT_TRUE(waiter_join(&w));
	EXPECT_EQ(0, w.err);
	EXPECT_TRUE(w.revents & EPOLLHUP);
}

/*
 * A waiter woken for a record that is gone by the time it looks (another
 * thread of the handle moved the position past it) sleeps again, and is
 * woken by the next.  The wake-up takes the waiter's entry off its queue
 * (wait.c), so this checks that it is put back.  The main thread, FIFO on
 * the waiter's only CPU, runs until it sleeps: the waiter looks only after
 * the position moved.  (A waker on another CPU that has made the waiter
 * runnable but not yet taken its entry off is a race this cannot order;
 * wait_requeue() takes the queue's lock for it.)
 */
TEST_F(wait, woken_for_a_record_gone_sleeps_again)
{
	struct sched_param fifo = { .sched_priority = 1 };
	struct mqdev_attach att;
	volatile uint64_t *pos;
	struct waiter w;
	cpu_set_t one;
	void *page;
	int cons;

	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(one), &one));
	if (sched_setscheduler(0, SCHED_FIFO, &fifo))
		SKIP(return, "no SCHED_FIFO here: %s", strerror(errno));
	cons = attach(self->name, MQDEV_ATTACH_CONSUME, &att);
	ASSERT_LE(0, cons);
	ASSERT_EQ(0, seek(cons, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
	page = mmap(NULL, att.off.cons_size, PROT_READ | PROT_WRITE,
		    MAP_SHARED, cons, att.off.cons_mmap);
	ASSERT_NE(MAP_FAILED, page);
	pos = (uint64_t *)((char *)page + att.off.cons_pos);
	ASSERT_EQ(0, *pos);

	/* the waiter's thread takes the main thread's policy: made fair */
	ASSERT_EQ(0, waiter_start(&w, cons, 0));
	ASSERT_TRUE(waiter_asleep(&w));
	ASSERT_FALSE(waiter_done(&w));

	append(_metadata, self->prod, 1);	/* wakes it; it cannot run */
	*pos = SPACE;				/* and the record is read */
	usleep(50000);				/* it looks: nothing, sleeps */
	EXPECT_FALSE(waiter_done(&w));

	append(_metadata, self->prod, 1);
	ASSERT_TRUE(waiter_join(&w));
	EXPECT_EQ(0, w.err);
	EXPECT_EQ(EPOLLIN, w.revents);
	munmap(page, att.off.cons_size);
	close(cons);
}

TEST_F(wait, signal_interrupts)
{
	struct sigaction sa = { .sa_handler = caught_signal };
	struct waiter w;

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, waiter_start(&w, self->cons, 1 << 20));
	usleep(50000);
	ASSERT_FALSE(waiter_done(&w));
	pthread_kill(w.thread, SIGUSR1);
	ASSERT_TRUE(waiter_join(&w));
	EXPECT_EQ(-EINTR, w.err);
}

/* Take in a member's assignment; how many partitions it owns, or -errno. */
static int assignment(int fd)
{
	struct mqdev_group_start starts[2];
	struct mqdev_group_assignment as = {
		.starts = (uintptr_t)starts, .starts_count = 2,
	};
	int err = xioctl(fd, MQDEV_IOC_GROUP_ASSIGNMENT, &as);

	return err ? err : (int)as.count;
}

/* A member, with or without partitions, wakes when the group rebalances. */
TEST_F(wait, rebalance_wakes_members)
{
	struct mqdev_group_join join = { .reset = MQDEV_SEEK_EARLIEST };
	int a, b, c;
	struct waiter wa, wc;

	a = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	b = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	c = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_LE(0, c);
	mqdev_name_set(join.group, "wg");
	ASSERT_EQ(0, xioctl(a, MQDEV_IOC_GROUP_JOIN, &join));
	ASSERT_EQ(0, xioctl(b, MQDEV_IOC_GROUP_JOIN, &join));
	ASSERT_EQ(0, xioctl(c, MQDEV_IOC_GROUP_JOIN, &join));
	/* take in the assignments so far, then sleep: c owns nothing */
	EXPECT_EQ(1, assignment(a));
	EXPECT_EQ(0, assignment(c));
	ASSERT_EQ(0, waiter_start(&wa, a, 1 << 20));
	ASSERT_EQ(0, waiter_start(&wc, c, 1 << 20));
	usleep(50000);
	ASSERT_FALSE(waiter_done(&wa));
	ASSERT_FALSE(waiter_done(&wc));
	close(b);			/* b leaves: a rebalance */
	ASSERT_TRUE(waiter_join(&wa));
	ASSERT_TRUE(waiter_join(&wc));
	EXPECT_EQ(0, wa.err);
	EXPECT_TRUE(wa.revents & EPOLLPRI);
	EXPECT_EQ(0, wc.err);
	EXPECT_TRUE(wc.revents & EPOLLPRI);
	close(a);
	close(c);
}

TEST_F(wait, bad_requests)
{
	struct mqdev_wait req = { .timeout_ns = 0 };
	struct {
		struct mqdev_wait req;
		uint64_t more;
	} bigger = { .more = 1 };
	int fd;

	req.flags = 1 << 1;		/* not one this kernel knows */
	EXPECT_EQ(-EINVAL, xioctl(self->cons, MQDEV_IOC_WAIT, &req));
	req.flags = 0;
	req.reserved = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->cons, MQDEV_IOC_WAIT, &req));
	EXPECT_EQ(-E2BIG, xioctl(self->cons, _IOC(_IOC_READ | _IOC_WRITE,
						  MQDEV_IOC_MAGIC, 0x15,
						  sizeof(bigger)), &bigger));
	EXPECT_EQ(-EFAULT, xioctl(self->cons, MQDEV_IOC_WAIT, NULL));
	EXPECT_EQ(-EBADF, wait_for(self->prod, 0, 0, NULL));
	fd = mqdev_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBADFD, wait_for(fd, 0, 0, NULL));
	close(fd);
	/* reads nothing and is no member: nothing could ever wake it */
	fd = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EDESTADDRREQ, wait_for(fd, 0, SEC, NULL));
	close(fd);
}

/* ---- MQDEV_WAIT_SEND: a batch (or a writer's call), then the wait ---- */

/* A one-record batch for partition @p: its layout, and the request. */
struct one_batch {
	struct {
		struct mqdev_record hdr;
		char value[VALUE];
	} rec;
	struct mqdev_produce_batch req;
};

static void one_batch_init(struct one_batch *b, uint32_t p)
{
	memset(b, 0, sizeof(*b));
	b->rec.hdr.len = sizeof(b->rec);
	b->req.records = (uintptr_t)&b->rec;
	b->req.len = MQDEV_RECORD_SPACE(sizeof(b->rec));
	b->req.partition = p;
}

/* MQDEV_IOC_WAIT on @fd with MQDEV_WAIT_SEND of @cmd on @send_fd. */
static int send_wait(int fd, int send_fd, uint32_t cmd, void *arg,
		     uint64_t timeout_ns, uint32_t *revents)
{
	struct mqdev_wait req = {
		.timeout_ns = timeout_ns, .flags = MQDEV_WAIT_SEND,
		.send_arg = (uintptr_t)arg, .send_cmd = cmd, .send_fd = send_fd,
	};
	int err = xioctl(fd, MQDEV_IOC_WAIT, &req);

	if (revents)
		*revents = err ? ~0U : req.revents;
	return err;
}

/* How many records partition @p of the fixture's topic has: its end. */
static uint64_t end_of(struct __test_metadata *_metadata, const char *name,
		       uint32_t p)
{
	uint64_t end = 0;
	int fd = attach(name, MQDEV_ATTACH_CONSUME, NULL);

	EXPECT_LE(0, fd);
	EXPECT_EQ(0, seek(fd, p, MQDEV_SEEK_LATEST, &end, 0));
	close(fd);
	return end;
}

/*
 * The batch goes to partition 1 before the wait on partition 0 starts;
 * the time-out ends the wait, and the call says so with revents 0, not
 * an error: the batch is in.
 */
TEST_F(wait, send_then_wait)
{
	struct one_batch b;
	uint32_t revents;
	uint64_t t0;

	one_batch_init(&b, 1);
	t0 = now_ns();
	EXPECT_EQ(0, send_wait(self->cons, self->prod,
			       MQDEV_IOC_PRODUCE_BATCH, &b.req, 50000000,
			       &revents));
	EXPECT_LE(50000000, now_ns() - t0);
	EXPECT_EQ(0, revents);
	EXPECT_EQ(1, b.req.partition);
	EXPECT_EQ(1, b.req.count);
	EXPECT_EQ(0, b.req.base_offset);
	EXPECT_EQ(1, end_of(_metadata, self->name, 1));
	/* a time-out of 0 only looks, after the send */
	one_batch_init(&b, 1);
	EXPECT_EQ(0, send_wait(self->cons, self->prod,
			       MQDEV_IOC_PRODUCE_BATCH, &b.req, 0, &revents));
	EXPECT_EQ(0, revents);
	EXPECT_EQ(1, b.req.base_offset);
	/* sent to the partition it waits on: ready at once */
	one_batch_init(&b, 0);
	EXPECT_EQ(0, send_wait(self->cons, self->prod,
			       MQDEV_IOC_PRODUCE_BATCH, &b.req,
			       MQDEV_WAIT_FOREVER, &revents));
	EXPECT_EQ(EPOLLIN, revents);
	EXPECT_EQ(0, b.req.partition);
}

/* A thread asleep after its send, until a record comes or a signal. */
struct sender_waiter {
	int fd, prod;
	struct one_batch b;
	int err;
	uint32_t revents;
	int done;
	pthread_t thread;
};

static void *sender_waiter_run(void *arg)
{
	struct sender_waiter *w = arg;

	w->err = send_wait(w->fd, w->prod, MQDEV_IOC_PRODUCE_BATCH, &w->b.req,
			   MQDEV_WAIT_FOREVER, &w->revents);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int sender_waiter_start(struct sender_waiter *w, int fd, int prod)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->prod = prod;
	one_batch_init(&w->b, 1);
	return pthread_create(&w->thread, NULL, sender_waiter_run, w);
}

/* Sent and asleep: a record wakes it; the batch went in once. */
TEST_F(wait, send_then_sleep_until_woken)
{
	struct sender_waiter w;
	int i;

	ASSERT_EQ(0, sender_waiter_start(&w, self->cons, self->prod));
	for (i = 0; i < 1000 && end_of(_metadata, self->name, 1) < 1; i++)
		usleep(1000);
	EXPECT_EQ(1, end_of(_metadata, self->name, 1));
	usleep(50000);
	EXPECT_FALSE(__atomic_load_n(&w.done, __ATOMIC_ACQUIRE));
	append(_metadata, self->prod, 1);
	pthread_join(w.thread, NULL);
	EXPECT_EQ(0, w.err);
	EXPECT_EQ(EPOLLIN, w.revents);
	EXPECT_EQ(1, end_of(_metadata, self->name, 1));
}

/*
 * A signal ends the wait after the send: 0 and revents 0, not EINTR,
 * whose restart would send the batch a second time.
 */
TEST_F(wait, send_then_signal_sends_once)
{
	struct sigaction sa = { .sa_handler = caught_signal };
	struct sender_waiter w;
	int i;

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, sender_waiter_start(&w, self->cons, self->prod));
	for (i = 0; i < 1000 && end_of(_metadata, self->name, 1) < 1; i++)
		usleep(1000);
	usleep(50000);
	ASSERT_FALSE(__atomic_load_n(&w.done, __ATOMIC_ACQUIRE));
	pthread_kill(w.thread, SIGUSR1);
	pthread_join(w.thread, NULL);
	EXPECT_EQ(0, w.err);
	EXPECT_EQ(0, w.revents);
	EXPECT_EQ(1, end_of(_metadata, self->name, 1));
}

/*
 * What a bad send gets: a clear error at once, with a time-out that would
 * otherwise have run for seconds, and nothing appended.
 */
TEST_F(wait, bad_sends_change_nothing)
{
	struct mqdev_wait req = {};
	struct mqdev_topic_id id = {};
	struct one_batch b;
	int fds[2], fd;
	uint64_t t0 = now_ns();

	one_batch_init(&b, 1);
	/* each of the send's fields without the flag */
	req.send_fd = self->prod;
	EXPECT_EQ(-EINVAL, xioctl(self->cons, MQDEV_IOC_WAIT, &req));
	req.send_fd = 0;
	req.send_cmd = MQDEV_IOC_PRODUCE_BATCH;
	EXPECT_EQ(-EINVAL, xioctl(self->cons, MQDEV_IOC_WAIT, &req));
	req.send_cmd = 0;
	req.send_arg = (uintptr_t)&b.req;
	EXPECT_EQ(-EINVAL, xioctl(self->cons, MQDEV_IOC_WAIT, &req));
	/* commands a wait may not send */
	EXPECT_EQ(-EINVAL, send_wait(self->cons, self->prod, MQDEV_IOC_PRODUCE,
				     &b.req, 2 * SEC, NULL));
	EXPECT_EQ(-EINVAL, send_wait(self->cons, self->cons, MQDEV_IOC_WAIT,
				     &req, 2 * SEC, NULL));
	mqdev_name_set(id.name, self->name);
	EXPECT_EQ(-EINVAL, send_wait(self->cons, self->fd,
				     MQDEV_IOC_TOPIC_DELETE, &id, 2 * SEC,
				     NULL));
	/* no /dev/mq handle */
	EXPECT_EQ(-EBADF, send_wait(self->cons, -1, MQDEV_IOC_PRODUCE_BATCH,
				    &b.req, 2 * SEC, NULL));
	ASSERT_EQ(0, pipe(fds));
	EXPECT_EQ(-EINVAL, send_wait(self->cons, fds[0],
				    MQDEV_IOC_PRODUCE_BATCH, &b.req, 2 * SEC,
				    NULL));
	close(fds[0]);
	close(fds[1]);
	/* a handle that does not produce: the batch's own error */
	EXPECT_EQ(-EBADF, send_wait(self->cons, self->cons,
				    MQDEV_IOC_PRODUCE_BATCH, &b.req, 2 * SEC,
				    NULL));
	/* a batch whose headers do not add up */
	b.rec.hdr.len = 8;
	EXPECT_EQ(-EINVAL, send_wait(self->cons, self->prod,
				     MQDEV_IOC_PRODUCE_BATCH, &b.req, 2 * SEC,
				     NULL));
	EXPECT_EQ(-EFAULT, send_wait(self->cons, self->prod,
				     MQDEV_IOC_PRODUCE_BATCH, NULL, 2 * SEC,
				     NULL));
	one_batch_init(&b, 1);
	/* a wait that could never end is refused before the send */
	fd = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EDESTADDRREQ, send_wait(fd, self->prod,
					   MQDEV_IOC_PRODUCE_BATCH, &b.req,
					   2 * SEC, NULL));
	close(fd);
	EXPECT_GT(SEC, now_ns() - t0);
	EXPECT_EQ(0, end_of(_metadata, self->name, 1));
	EXPECT_EQ(0, end_of(_metadata, self->name, 0));	/* still there */
}

/*
 * The send passes the security modules' ioctl hook, as ioctl(2) on its
 * handle would: a handle this process may not ioctl (opened under a
 * Landlock ruleset that handles IOCTL_DEV) gets EACCES from the send as
 * from the call, not the handle's own EBADFD.
 */
TEST_F(wait, send_passes_the_ioctl_hook)
{
	struct one_batch b;
	int err;

	one_batch_init(&b, 1);
	err = landlock_refuses_send(self->cons, &b.req);
	if (err == KSFT_SKIP)
		SKIP(return, "no Landlock with IOCTL_DEV (ABI 5) here");
	EXPECT_EQ(0, err);
}

/* ---- the send as unprivileged users: the handles' rights, not theirs ---- */

/* @n descriptors over the socket @sock (SCM_RIGHTS): 0 or -errno. */
static int fds_send(int sock, const int *fds, int n)
{
	char byte = 0;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u = {};
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = CMSG_SPACE(n * sizeof(int)),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	if (n > 2)
		return -EINVAL;
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

/* Exactly @n descriptors from @sock, as fds_send() sent them: 0 or -errno. */
static int fds_recv(int sock, int *fds, int n)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;

	if (n > 2)
		return -EINVAL;
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -errno;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_level != SOL_SOCKET ||
	    cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len != CMSG_LEN(n * sizeof(int)))
		return -EPROTO;
	memcpy(fds, CMSG_DATA(cm), n * sizeof(int));
	return 0;
}

/* Two topics and a socket between the users: what the test's children share. */
struct two_users {
	char mine[MQDEV_NAME_MAX + 1];		/* 1000's, mode 0644 */
	char theirs[MQDEV_NAME_MAX + 1];	/* 1001's, mode 0644 */
	int sock[2];
};

static int make_topic_0644(void *name)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = 1,
		      .capacity = 65536, .mode = 0644);
	int fd = mqdev_open(), err;

	if (fd < 0)
		return 100;
	err = mqdev_topic_create(fd, name, &cfg);
	close(fd);
	return err ? 101 : 0;
}

/*
 * As 1001: a producing handle of its own topic and a consuming one of
 * 1000's (which it may read, not write), passed to 1000 over the socket.
 */
static int other_hands_over(void *arg)
{
	struct two_users *u = arg;
	int fds[2];

	fds[0] = attach(u->theirs, MQDEV_ATTACH_PRODUCE, NULL);
	fds[1] = attach(u->mine, MQDEV_ATTACH_CONSUME, NULL);
	if (fds[0] < 0 || fds[1] < 0)
		return 1;
	if (attach(u->mine, MQDEV_ATTACH_PRODUCE, NULL) != -EACCES)
		return 2;
	/* a consumer reading partition 0, as one would wait on it */
	if (seek(fds[1], 0, MQDEV_SEEK_EARLIEST, NULL, 0))
		return 3;
	return fds_send(u->sock[0], fds, 2) ? 4 : 0;
}

/* Partition 0 of @name as @fd's user describes it; all ones if it cannot. */
static struct mqdev_partition_info part0_of(int fd, const char *name)
{
	struct mqdev_partition_info p;
	struct mqdev_topic_info t;

	if (mqdev_topic_describe(fd, name, &t, &p, 1))
		memset(&p, 0xff, sizeof(p));
	return p;
}

/* Partition 0's next offset, as a reader of the topic sees it; ~0 if none. */
static uint64_t next_of(const char *name)
{
	int fd = mqdev_open();
	uint64_t next;

	if (fd < 0)
		return ~0ULL;
	next = part0_of(fd, name).next_offset;
	close(fd);
	return next;
}

/* A consumer of @name reading partition 0 from its start, or -errno. */
static int reader_of(const char *name)
{
	int fd = attach(name, MQDEV_ATTACH_CONSUME, NULL);

	if (fd >= 0 && seek(fd, 0, MQDEV_SEEK_EARLIEST, NULL, 0)) {
		close(fd);
		return -EIO;
	}
	return fd;
}

/* In a child, whose exit status counts the failed checks; each says which. */
#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			ksft_print_msg("%s:%d: failed: %s\n", __FILE__,	\
				       __LINE__, #cond);		\
			fails++;					\
		}							\
	} while (0)

/*
 * As 1000: sends through its waits on handles it opened and on 1001's.
 * Each refusal is the one ioctl(2) on the sending handle gets, with
 * nothing appended and at once; each send that ioctl(2) would make goes
 * in once.
 */
static int user_sends(void *arg)
{
	struct two_users *u = arg;
	int fails = 0, got[2], their_p, their_r, own_r, c_theirs, c_mine,
	    p_mine;
	struct one_batch b;
	uint32_t revents;
	uint64_t t0;

	CHECK(getuid() == USER_UID && geteuid() == USER_UID);
	CHECK(!fds_recv(u->sock[1], got, 2));
	if (fails)
		return 100 + fails;
	their_p = got[0];		/* 1001's producer of theirs */
	their_r = got[1];		/* 1001's consumer of mine */
	/* 1000 may read 1001's topic and not write it; its own, both */
	CHECK(attach(u->theirs, MQDEV_ATTACH_PRODUCE, NULL) == -EACCES);
	own_r = attach(u->theirs, MQDEV_ATTACH_CONSUME, NULL);
	c_theirs = reader_of(u->theirs);
	c_mine = reader_of(u->mine);
	p_mine = attach(u->mine, MQDEV_ATTACH_PRODUCE, NULL);
	CHECK(own_r >= 0 && c_theirs >= 0 && c_mine >= 0 && p_mine >= 0);
	if (fails)
		return 100 + fails;

	/*
	 * Its read-only handle of 1001's topic: the batch's own EBADF, from
	 * the call and from the send, whichever consumer waits (one of the
	 * same topic, which a wrong append would wake); nothing appended.
	 */
	one_batch_init(&b, 0);
	CHECK(xioctl(own_r, MQDEV_IOC_PRODUCE_BATCH, &b.req) == -EBADF);
	t0 = now_ns();
	CHECK(send_wait(c_mine, own_r, MQDEV_IOC_PRODUCE_BATCH, &b.req,
			2 * SEC, NULL) == -EBADF);
	CHECK(send_wait(c_theirs, own_r, MQDEV_IOC_PRODUCE_BATCH, &b.req,
			2 * SEC, NULL) == -EBADF);
	CHECK(now_ns() - t0 < SEC);
	CHECK(b.req.count == 0 && b.req.base_offset == 0);
	CHECK(next_of(u->theirs) == 0);

	/*
	 * 1001's producing handle, which 1000 could not have opened: the
	 * send appends as ioctl(2) on it does, the handle's right (as with
	 * any file passed), and its consumer of the topic wakes for it.
	 */
	one_batch_init(&b, 0);
	CHECK(send_wait(c_theirs, their_p, MQDEV_IOC_PRODUCE_BATCH, &b.req,
			5 * SEC, &revents) == 0);
	CHECK(revents == EPOLLIN);
	CHECK(b.req.count == 1 && b.req.base_offset == 0 &&
	      b.req.partition == 0);
	one_batch_init(&b, 0);
	CHECK(xioctl(their_p, MQDEV_IOC_PRODUCE_BATCH, &b.req) == 0);
	CHECK(b.req.count == 1 && b.req.base_offset == 1);
	CHECK(next_of(u->theirs) == 2);		/* each landed once */

	/*
	 * Its own topic, which it may write, through 1001's consuming handle
	 * of it: refused, as that handle is; its own producer sends it.
	 */
	one_batch_init(&b, 0);
	CHECK(xioctl(their_r, MQDEV_IOC_PRODUCE_BATCH, &b.req) == -EBADF);
	t0 = now_ns();
	CHECK(send_wait(c_mine, their_r, MQDEV_IOC_PRODUCE_BATCH, &b.req,
			2 * SEC, NULL) == -EBADF);
	CHECK(b.req.count == 0);
	CHECK(next_of(u->mine) == 0);
	/* nor is a producing handle waited on, even with a good send */
	CHECK(send_wait(their_p, p_mine, MQDEV_IOC_PRODUCE_BATCH, &b.req,
			2 * SEC, NULL) == -EBADF);
	CHECK(now_ns() - t0 < SEC);
	CHECK(next_of(u->mine) == 0);
	/* 1001's consumer of 1000's topic waits for 1000's own send */
	CHECK(send_wait(their_r, p_mine, MQDEV_IOC_PRODUCE_BATCH, &b.req,
			5 * SEC, &revents) == 0);
	CHECK(revents == EPOLLIN && b.req.count == 1);
	CHECK(next_of(u->mine) == 1);
	return fails;
}

/*
 * The send as unprivileged users: what a send may do is what its handle
 * was opened for (checked at attach, as open(2) checks a file's mode),
 * whoever holds it now, and never what the caller could open itself.
 * 1000 and 1001 each own a topic the other may only read; 1001 passes
 * 1000 a producing handle of its own topic and a consuming one of 1000's.
 */
TEST_F(wait, send_as_unprivileged_users)
{
	struct two_users u;

	strcpy(u.mine, topic_name("wait-mine"));
	strcpy(u.theirs, topic_name("wait-theirs"));
	strcpy(self->more[0], u.mine);		/* the teardown's, if we fail */
	strcpy(self->more[1], u.theirs);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
				u.sock));
	ASSERT_EQ(0, as_user(USER_UID, make_topic_0644, u.mine));
	ASSERT_EQ(0, as_user(OTHER_UID, make_topic_0644, u.theirs));
	/* the handles stay open in the socket after 1001's process exits */
	EXPECT_EQ(0, as_user(OTHER_UID, other_hands_over, &u));
	EXPECT_EQ(0, as_user(USER_UID, user_sends, &u));
	/* as root sees them: what went in, once */
	EXPECT_EQ(2, next_of(u.theirs));
	EXPECT_EQ(1, next_of(u.mine));
	close(u.sock[0]);
	close(u.sock[1]);
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, u.mine));
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, u.theirs));
}

/*
 * The library's ioctl(2) calls, counted by command: libmqdev, linked in
 * statically, calls the test's ioctl() instead of libc's.  Only the
 * counting thread's calls count.
 */
static __thread int ioctl_counting;
static unsigned int ioctl_calls[256];

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (ioctl_counting && _IOC_TYPE(req) == MQDEV_IOC_MAGIC)
		__atomic_add_fetch(&ioctl_calls[_IOC_NR(req)], 1,
				   __ATOMIC_RELAXED);
	return syscall(SYS_ioctl, fd, req, arg);
}

static void ioctl_count(bool on)
{
	if (on)
		memset(ioctl_calls, 0, sizeof(ioctl_calls));
	ioctl_counting = on;
}

/* One value into a batch of the library's. */
static void batch_one(struct __test_metadata *_metadata,
		      struct mqdev_batch *b)
{
	void *value;

	ASSERT_EQ(0, mqdev_batch_add(b, NULL, 0, VALUE, &value));
	memset(value, 0, VALUE);
}

/*
 * mqdev_produce_batch_wait(): one system call when the consumer has to
 * sleep, the send alone when it has records, and the two calls for a
 * consumer that busy-polls; the batch goes in once each time.
 */
TEST_F(wait, library_produce_batch_wait)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, spin, .busy_poll_usec = 100);
	struct mqdev_consumer *c, *busy;
	struct mqdev_producer *p;
	struct mqdev_batch *b;
	uint32_t part = 1;
	uint64_t base = 99;

	ASSERT_NE(0, mqdev_features(self->fd) & MQDEV_FEAT_WAIT_SEND);
	ASSERT_EQ(0, mqdev_producer_new(self->name, NULL, &p));
	ASSERT_EQ(0, mqdev_batch_new(4096, &b));
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0, 0,
					 NULL));
	/* nothing to read: one MQDEV_IOC_WAIT, which sends */
	batch_one(_metadata, b);
	ioctl_count(true);
	EXPECT_EQ(0, mqdev_produce_batch_wait(p, b, &part, &base, c, 20));
	ioctl_count(false);
	EXPECT_EQ(1, ioctl_calls[_IOC_NR(MQDEV_IOC_WAIT)]);
	EXPECT_EQ(0, ioctl_calls[_IOC_NR(MQDEV_IOC_PRODUCE_BATCH)]);
	EXPECT_EQ(0, mqdev_batch_count(b));
	EXPECT_EQ(1, part);
	EXPECT_EQ(0, base);
	EXPECT_EQ(1, end_of(_metadata, self->name, 1));
	/* a record to read: the batch alone, and 1 at once */
	append(_metadata, self->prod, 1);
	batch_one(_metadata, b);
	ioctl_count(true);
	EXPECT_EQ(1, mqdev_produce_batch_wait(p, b, &part, &base, c, -1));
	ioctl_count(false);
	EXPECT_EQ(0, ioctl_calls[_IOC_NR(MQDEV_IOC_WAIT)]);
	EXPECT_EQ(1, ioctl_calls[_IOC_NR(MQDEV_IOC_PRODUCE_BATCH)]);
	EXPECT_EQ(1, base);
	/* a busy-polling consumer: the two calls */
	ASSERT_EQ(0, mqdev_consumer_new(self->name, &spin, &busy));
	ASSERT_EQ(0, mqdev_consumer_seek(busy, 0, MQDEV_SEEK_LATEST, 0, 0,
					 NULL));
	batch_one(_metadata, b);
	EXPECT_EQ(0, mqdev_produce_batch_wait(p, b, &part, &base, busy, 20));
	EXPECT_EQ(2, base);
	EXPECT_EQ(3, end_of(_metadata, self->name, 1));
	/*
	 * A refused batch while the consumer would sleep: its error from the
	 * one call, the batch as it was, no wait, and no second try alone.
	 */
	ASSERT_NE(NULL, mqdev_consumer_peek(c));
	EXPECT_EQ(0, mqdev_consumer_release(c));
	batch_one(_metadata, b);
	part = 7;
	ioctl_count(true);
	EXPECT_EQ(-EINVAL, mqdev_produce_batch_wait(p, b, &part, &base, c,
						    -1));
	ioctl_count(false);
	EXPECT_EQ(1, ioctl_calls[_IOC_NR(MQDEV_IOC_WAIT)]);
	EXPECT_EQ(0, ioctl_calls[_IOC_NR(MQDEV_IOC_PRODUCE_BATCH)]);
	EXPECT_EQ(1, mqdev_batch_count(b));
	/* a consumer that reads nothing: the kernel refuses the wait, the
	 * batch still goes in, alone, and the wait's error comes back */
	mqdev_consumer_free(c);
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	part = 1;
	EXPECT_EQ(-EDESTADDRREQ, mqdev_produce_batch_wait(p, b, &part, &base,
							  c, -1));
	EXPECT_EQ(0, mqdev_batch_count(b));
	EXPECT_EQ(3, base);
	EXPECT_EQ(4, end_of(_metadata, self->name, 1));
	mqdev_consumer_free(busy);
	mqdev_consumer_free(c);
	mqdev_batch_free(b);
	mqdev_producer_free(p);
}

/* A reader asleep on a single-writer topic, and what its wait returned. */
struct sw_reader {
	struct mqdev_consumer *c;
	int ret;
	uint64_t took_ns;
	pthread_t thread;
};

static void *sw_reader_run(void *arg)
{
	struct sw_reader *r = arg;
	uint64_t t0 = now_ns();

	r->ret = mqdev_consumer_wait(r->c, 10000);
	r->took_ns = now_ns() - t0;
	return NULL;
}

/*
 * mqdev_swriter_commit_wait(): the wake-up of the writer's sleeping
 * reader goes in the writer's own wait, and reaches the reader at once,
 * not at its 10 s time-out.
 */
TEST_F(wait, library_swriter_commit_wait)
{
	char name[MQDEV_NAME_MAX + 1];
	struct mqdev_consumer *c;
	struct mqdev_swriter *w;
	struct mqdev_record *rec;
	struct sw_reader r = {};
	int i;

	strcpy(name, topic_name("wait-sw"));
	ASSERT_EQ(0, create_topic(self->fd, name, 1, 65536,
				  MQDEV_TOPIC_SINGLE_WRITER));
	ASSERT_EQ(0, mqdev_swriter_new(name, NULL, &w));
	ASSERT_EQ(0, mqdev_consumer_new(name, NULL, &r.c));
	ASSERT_EQ(0, mqdev_consumer_seek(r.c, 0, MQDEV_SEEK_EARLIEST, 0, 0,
					 NULL));
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0, 0,
					 NULL));
	ASSERT_EQ(0, pthread_create(&r.thread, NULL, sw_reader_run, &r));
	usleep(300 * 1000);		/* asleep, its flag raised */
	ASSERT_EQ(0, mqdev_swriter_reserve(w, 0, 0, VALUE, 0, &rec));
	memset(rec + 1, 0, VALUE);
	ioctl_count(true);
	EXPECT_EQ(0, mqdev_swriter_commit_wait(w, c, 20));
	ioctl_count(false);
	EXPECT_EQ(1, ioctl_calls[_IOC_NR(MQDEV_IOC_WAIT)]);
	EXPECT_EQ(0, ioctl_calls[_IOC_NR(MQDEV_IOC_WRITER)]);
	for (i = 0; i < 100 && !r.took_ns; i++)
		usleep(20 * 1000);
	pthread_join(r.thread, NULL);
	EXPECT_EQ(1, r.ret);
	EXPECT_GT(2 * SEC, r.took_ns);
	mqdev_consumer_free(c);
	mqdev_consumer_free(r.c);
	mqdev_swriter_free(w);
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, name));
}

/* ---- acks=all: appended, then not acknowledged, through the send ---- */

#define LAG_MS		300	/* replica_lag_ms: a stalled replica's time */

/* A replica's confirmation of everything before @offset. */
static int confirm(int fd, uint64_t offset)
{
	struct mqdev_replica_confirm req = { .offset = offset };

	return xioctl(fd, MQDEV_IOC_REPLICA_CONFIRM, &req);
}

/*
 * An acks=all batch on a durable topic whose one replica is in sync and
 * then confirms nothing: appended, then ENOLINK once the replica drops
 * out, with count 1.  The kernel's send returns that error at once, the
 * wait not run; mqdev_produce_batch_wait() counts the batch as appended
 * (emptied, *base set) whichever way it sent it, so calling it again does
 * not append it a second time.
 */
TEST_F(wait, send_acks_all_appended_not_acknowledged)
{
	LIBMQDEV_OPTS(mqdev_producer_opts, acks_all,
		      .flags = MQDEV_PRODUCER_ACKS_ALL);
	char name[MQDEV_NAME_MAX + 1];
	struct mqdev_consumer *c;
	struct mqdev_producer *p;
	struct mqdev_batch *batch;
	struct one_batch b;
	uint32_t part;
	uint64_t base, t0, took;
	int acks, r;

	strcpy(name, topic_name("wait-acks"));
	strcpy(self->more[0], name);		/* the teardown's, if we fail */
	ASSERT_EQ(0, create_topic(self->fd, name, 1, 65536,
				  MQDEV_TOPIC_DURABLE));
	self->lag = get_param("replica_lag_ms");
	ASSERT_NE(0, self->lag);
	ASSERT_EQ(0, set_param("replica_lag_ms", LAG_MS));
	acks = attach(name, MQDEV_ATTACH_PRODUCE | MQDEV_ATTACH_ACKS_ALL, NULL);
	ASSERT_LE(0, acks);
	r = attach(name, MQDEV_ATTACH_CONSUME | MQDEV_ATTACH_REPLICA, NULL);
	ASSERT_LE(0, r);
	/* the replica is dropped a lag after it caught up, here */
	t0 = now_ns();
	ASSERT_EQ(0, confirm(r, 0));
	ASSERT_EQ(1, part0_of(self->fd, name).in_sync);

	/*
	 * The kernel's: the send waits for its acknowledgment, the replica
	 * drops out, and the call fails with the send's ENOLINK, its count
	 * saying the batch is in, and no 5 s wait for the consumer after it.
	 */
	one_batch_init(&b, 0);
	EXPECT_EQ(-ENOLINK, send_wait(self->cons, acks,
				      MQDEV_IOC_PRODUCE_BATCH, &b.req,
				      5 * SEC, NULL));
	took = now_ns() - t0;
	EXPECT_LE(LAG_MS * 900000ULL, took);
	EXPECT_GT(4 * SEC, took);
	EXPECT_EQ(1, b.req.count);
	EXPECT_EQ(0, b.req.base_offset);
	EXPECT_EQ(0, b.req.partition);
	EXPECT_EQ(1, part0_of(self->fd, name).next_offset);
	EXPECT_EQ(0, part0_of(self->fd, name).in_sync);

	/* the library's one call, the consumer having to sleep */
	ASSERT_EQ(0, mqdev_producer_new(name, &acks_all, &p));
	ASSERT_EQ(0, mqdev_batch_new(4096, &batch));
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0, 0,
					 NULL));
	ASSERT_EQ(0, confirm(r, 1));		/* in sync again */
	batch_one(_metadata, batch);
	part = 0;
	base = 99;
	ioctl_count(true);
	EXPECT_EQ(-ENOLINK, mqdev_produce_batch_wait(p, batch, &part, &base,
						     c, 5000));
	ioctl_count(false);
	EXPECT_EQ(1, ioctl_calls[_IOC_NR(MQDEV_IOC_WAIT)]);
	EXPECT_EQ(0, ioctl_calls[_IOC_NR(MQDEV_IOC_PRODUCE_BATCH)]);
	EXPECT_EQ(0, mqdev_batch_count(batch));
	EXPECT_EQ(0, part);
	EXPECT_EQ(1, base);
	EXPECT_EQ(2, part0_of(self->fd, name).next_offset);
	/* again, with the replica back, which a resend would get past */
	ASSERT_EQ(0, confirm(r, 2));
	EXPECT_EQ(0, mqdev_produce_batch_wait(p, batch, &part, &base, c, 20));
	EXPECT_EQ(2, part0_of(self->fd, name).next_offset);

	/* the send alone, the consumer having a record to read */
	append(_metadata, self->prod, 1);
	batch_one(_metadata, batch);
	ioctl_count(true);
	EXPECT_EQ(-ENOLINK, mqdev_produce_batch_wait(p, batch, &part, &base,
						     c, 5000));
	ioctl_count(false);
	EXPECT_EQ(0, ioctl_calls[_IOC_NR(MQDEV_IOC_WAIT)]);
	EXPECT_EQ(1, ioctl_calls[_IOC_NR(MQDEV_IOC_PRODUCE_BATCH)]);
	EXPECT_EQ(0, mqdev_batch_count(batch));
	EXPECT_EQ(2, base);
	EXPECT_EQ(3, part0_of(self->fd, name).next_offset);
	ASSERT_EQ(0, confirm(r, 3));
	EXPECT_EQ(1, mqdev_produce_batch_wait(p, batch, &part, &base, c, 20));
	EXPECT_EQ(3, part0_of(self->fd, name).next_offset);

	mqdev_consumer_free(c);
	mqdev_batch_free(batch);
	mqdev_producer_free(p);
	close(r);
	close(acks);
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, name));
}

/* A caller built before the send: the first version's size still waits. */
TEST_F(wait, first_version_size)
{
	struct mqdev_wait req = {};
	unsigned long cmd = _IOC(_IOC_READ | _IOC_WRITE, MQDEV_IOC_MAGIC, 0x15,
				 MQDEV_WAIT_SIZE_VER0);
	struct one_batch b;

	memset(&req, 0xa5, sizeof(req));	/* a canary past the first */
	req.timeout_ns = 0;
	req.min_bytes = 0;
	req.flags = 0;
	req.reserved = 0;
	EXPECT_EQ(-ETIMEDOUT, xioctl(self->cons, cmd, &req));
	append(_metadata, self->prod, 1);
	EXPECT_EQ(0, xioctl(self->cons, cmd, &req));
	EXPECT_EQ(EPOLLIN, req.revents);
	EXPECT_EQ(0xa5a5a5a5a5a5a5a5ULL, req.send_arg);	/* not written */
	/* the flag without room for the send: nothing to send */
	one_batch_init(&b, 1);
	req.flags = MQDEV_WAIT_SEND;
	req.send_arg = (uintptr_t)&b.req;
	req.send_cmd = MQDEV_IOC_PRODUCE_BATCH;
	req.send_fd = self->prod;
	EXPECT_EQ(-EINVAL, xioctl(self->cons, cmd, &req));
	EXPECT_EQ(0, end_of(_metadata, self->name, 1));
	req.flags = 0;
	EXPECT_EQ(-EINVAL, xioctl(self->cons, _IOC(_IOC_READ | _IOC_WRITE,
						   MQDEV_IOC_MAGIC, 0x15, 16),
				  &req));
}

/* An open transaction's record is not ready, whatever its size. */
TEST_F(wait, open_transaction_is_not_ready)
{
	struct mqdev_producer *p;
	struct mqdev_session *s;
	uint32_t revents;

	ASSERT_EQ(0, mqdev_session_new(NULL, 0, &s));
	ASSERT_EQ(0, mqdev_producer_new(self->name, NULL, &p));
	ASSERT_EQ(0, mqdev_producer_bind(p, s));
	ASSERT_EQ(0, mqdev_txn_begin(s, 1));
	ASSERT_EQ(0, mqdev_producer_send(p, NULL, 0, "t", 1, 0, NULL));
	ASSERT_EQ(1, mqdev_producer_flush(p));
	EXPECT_EQ(-ETIMEDOUT, wait_for(self->cons, 0, 20000000, NULL));
	ASSERT_EQ(0, mqdev_txn_commit(s));
	EXPECT_EQ(0, wait_for(self->cons, 0, SEC, &revents));
	EXPECT_EQ(EPOLLIN, revents);
	mqdev_producer_free(p);
	mqdev_session_free(s);
}

TEST_HARNESS_MAIN
