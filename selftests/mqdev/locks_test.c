// SPDX-License-Identifier: GPL-2.0
/*
 * No user memory is touched under a lock another user's operation needs.
 *
 * A user buffer can take as long as its owner likes to fault in: a page of
 * a userfaultfd region stays missing until the process that registered it
 * says what goes there.  So each test makes one call (A) whose buffer is
 * such a page, waits until A is stalled in the kernel on it, and then makes
 * another user's call (B) that needs the locks A's call takes: B must be
 * done within LATE_MS while A still waits.  Then the page is filled, A must
 * finish, and what A did is checked.
 *
 * If B does wait for A, the test fails when LATE_MS has passed, fills the
 * page (which lets A and then B through), and joins both: nothing hangs.
 */
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include "call.h"
#include "common.h"
#include "kselftest_harness.h"

#define VALUE		100	/* bytes of every value */
#define REC_LEN		(sizeof(struct mqdev_record) + VALUE)
#define REC_SPACE	MQDEV_RECORD_SPACE(REC_LEN)
#define FAULT_MS	5000	/* for A to reach the missing page */
#define LATE_MS		2000	/* for B to be done while A waits */
#define JOIN_MS		10000	/* for anything once the page is there */
#define MAX_OTHERS	2

/* ---- a page of a userfaultfd region, missing until filled ---- */

struct uffd {
	int fd;
	char *page;
	size_t size;
};

static int uffd_open(struct uffd *u)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int err;

	u->size = sysconf(_SC_PAGESIZE);
	u->page = MAP_FAILED;
	u->fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (u->fd < 0)
		return -errno;
	if (ioctl(u->fd, UFFDIO_API, &api))
		goto err;
	u->page = mmap(NULL, u->size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (u->page == MAP_FAILED)
		goto err;
	reg.range.start = (uintptr_t)u->page;
	reg.range.len = u->size;
	if (ioctl(u->fd, UFFDIO_REGISTER, &reg))
		goto err;
	return 0;

err:
	err = -errno;
	if (u->page != MAP_FAILED)
		munmap(u->page, u->size);
	close(u->fd);
	u->fd = -1;
	return err;
}

/* Closing the descriptor lets every access to the region through. */
static void uffd_close(struct uffd *u)
{
	if (u->fd < 0)
		return;
	close(u->fd);
	munmap(u->page, u->size);
	u->fd = -1;
}

/* Wait up to @ms for an access to the page to stall on it. */
static int uffd_wait_fault(struct uffd *u, int ms)
{
	struct pollfd pfd = { .fd = u->fd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&pfd, 1, ms) != 1)
		return -ETIMEDOUT;
	if (read(u->fd, &msg, sizeof(msg)) != sizeof(msg))
		return -EIO;
	if (msg.event != UFFD_EVENT_PAGEFAULT ||
	    (msg.arg.pagefault.address & ~(uint64_t)(u->size - 1)) !=
	    (uintptr_t)u->page)
		return -EPROTO;
	return 0;
}

/* Put @src's page there: whoever waits for it goes on. */
static int uffd_fill(struct uffd *u, const void *src)
{
	struct uffdio_copy copy = {
		.dst = (uintptr_t)u->page, .src = (uintptr_t)src,
		.len = u->size,
	};

	if (ioctl(u->fd, UFFDIO_COPY, &copy))
		return errno == EEXIST ? 0 : -errno;
	return 0;
}

/* ---- calls made in threads of their own: call.h ---- */

/* Join the call if it returns within @ms. */
static bool call_join(struct call *c, int ms)
{
	if (!c->running)
		return true;
	if (!call_done(c, ms))
		return false;
	pthread_join(c->thread, NULL);
	close(c->efd);
	c->running = false;
	return true;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Another user's call, made while A is stalled on the page. */
struct other {
	const char *what;
	long (*fn)(void *arg);
	void *arg;
	long ret;		/* out */
	bool in_time;		/* out: done within LATE_MS */
};

/*
 * Start A (@fn on @arg) and wait until it stalls on the missing page; then
 * make the @n other calls, each of which must be done within LATE_MS while
 * A still waits.  Then fill the page from @fill and let everything finish.
 * Returns A's result in *@ret; every thread is joined before it returns.
 */
static void run_stalled(struct __test_metadata *_metadata, struct uffd *u,
			long (*fn)(void *), void *arg, long *ret,
			struct other *others, int n, const void *fill)
{
	struct call a, b[MAX_OTHERS];
	int64_t deadline, left;
	bool faulted;
	int i;

	ASSERT_GE(MAX_OTHERS, n);
	ASSERT_EQ(0, call_start(&a, fn, arg));
	/* From here on nothing may bail out before A is let through. */
	faulted = uffd_wait_fault(u, FAULT_MS) == 0;
	EXPECT_TRUE(faulted) TH_LOG("the call never stalled on its buffer");
	for (i = 0; i < n; i++) {
		others[i].in_time = false;
		b[i].running = false;
		if (faulted) {
			EXPECT_EQ(0, call_start(&b[i], others[i].fn,
						others[i].arg));
		}
	}
	deadline = now_ms() + LATE_MS;
	for (i = 0; i < n; i++) {
		if (!b[i].running)
			continue;
		left = deadline - now_ms();
		others[i].in_time = call_done(&b[i], left > 0 ? left : 0);
		EXPECT_TRUE(others[i].in_time)
			TH_LOG("%s waited for a stalled user buffer",
			       others[i].what);
	}
	if (faulted) {
		EXPECT_FALSE(call_done(&a, 0))
			TH_LOG("the call did not wait for its buffer");
	}
	EXPECT_EQ(0, uffd_fill(u, fill));
	EXPECT_TRUE(call_join(&a, JOIN_MS));
	*ret = a.ret;
	for (i = 0; i < n; i++) {
		EXPECT_TRUE(call_join(&b[i], JOIN_MS))
			TH_LOG("%s never returned", others[i].what);
		others[i].ret = b[i].ret;
	}
}

/* ---- the calls ---- */

struct produce_args {
	int fd;
	const void *value;
	uint64_t offset;	/* out */
};

static long do_produce(void *p)
{
	struct produce_args *a = p;

	return produce_one(a->fd, 0, NULL, 0, a->value, VALUE, &a->offset);
}

struct batch_args {
	int fd;
	const void *records;
	uint32_t len;
	struct mqdev_produce_batch req;	/* out */
};

static long do_batch(void *p)
{
	struct batch_args *a = p;

	memset(&a->req, 0, sizeof(a->req));
	a->req.records = (uintptr_t)a->records;
	a->req.len = a->len;
	a->req.partition = 0;
	return xioctl(a->fd, MQDEV_IOC_PRODUCE_BATCH, &a->req);
}

struct describe_args {
	int fd;
	const char *name;
	struct mqdev_topic_info info;	/* out */
	struct mqdev_partition_info part;
};

static long do_describe(void *p)
{
	struct describe_args *a = p;

	return mqdev_topic_describe(a->fd, a->name, &a->info, &a->part, 1);
}

/* poll(2) for POLLOUT without sleeping: the revents, or -errno. */
static long do_poll_out(void *p)
{
	struct pollfd pfd = { .fd = *(int *)p, .events = POLLOUT };
	int n = poll(&pfd, 1, 0);

	return n < 0 ? -errno : pfd.revents;
}

struct join_args {
	int fd;
	const char *group;
	struct mqdev_group_join req;	/* out */
};

static long do_join(void *p)
{
	struct join_args *a = p;

	memset(&a->req, 0, sizeof(a->req));
	a->req.reset = MQDEV_SEEK_EARLIEST;
	mqdev_name_set(a->req.group, a->group);
	return xioctl(a->fd, MQDEV_IOC_GROUP_JOIN, &a->req);
}

struct assignment_args {
	int fd;
	void *starts;
	uint32_t count;
	struct mqdev_group_assignment req;	/* out */
};

static long do_assignment(void *p)
{
	struct assignment_args *a = p;

	memset(&a->req, 0, sizeof(a->req));
	a->req.starts = (uintptr_t)a->starts;
	a->req.starts_count = a->count;
	return xioctl(a->fd, MQDEV_IOC_GROUP_ASSIGNMENT, &a->req);
}

struct read_args {
	int fd;
	void *buf;
	size_t len;
};

static long do_read(void *p)
{
	struct read_args *a = p;
	ssize_t n = read(a->fd, a->buf, a->len);

	return n < 0 ? -errno : n;
}

struct bind_args {
	int fd;
	int session;
	void *next_seq;
	uint32_t count;
};

static long do_bind(void *p)
{
	struct bind_args *a = p;
	struct mqdev_producer_bind req = {
		.session_fd = a->session, .next_seq = (uintptr_t)a->next_seq,
		.next_seq_count = a->count,
	};

	return xioctl(a->fd, MQDEV_IOC_PRODUCER_BIND, &req);
}

/* ---- the tests ---- */

FIXTURE(locks) {
	int fd;
	struct uffd u;
	char name[MQDEV_NAME_MAX + 1];
	char *fill;		/* what the missing page is filled with */
};

FIXTURE_SETUP(locks)
{
	int err = uffd_open(&self->u);

	if (err)
		SKIP(return, "no userfaultfd: %s", strerror(-err));
	self->fill = calloc(1, self->u.size);
	ASSERT_NE(NULL, self->fill);
	memset(self->fill, 0xaa, self->u.size);
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("locks"));
}

FIXTURE_TEARDOWN(locks)
{
	/* First let anything still waiting for the page through. */
	uffd_close(&self->u);
	mqdev_topic_delete(self->fd, self->name);
	close(self->fd);
	free(self->fill);
}

/* A consuming handle's group join; the generation, or -errno. */
static int join(int fd, const char *group)
{
	struct join_args j = { .fd = fd, .group = group };
	long err = do_join(&j);

	return err ? err : (int)j.req.generation;
}

/* Read the record at @offset of partition 0 back and check its value. */
static void check_record(struct __test_metadata *_metadata, const char *name,
			 uint64_t offset, uint64_t seed)
{
	char buf[4096];
	const struct mqdev_record *rec = (const void *)buf;
	uint64_t at = offset;
	int fd = attach(name, MQDEV_ATTACH_CONSUME, NULL);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, seek(fd, 0, MQDEV_SEEK_OFFSET, &at, 0));
	ASSERT_EQ(offset, at);
	ASSERT_LE((ssize_t)REC_SPACE, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(offset, rec->offset);
	EXPECT_EQ(REC_LEN, rec->len);
	EXPECT_EQ(0, rec->key_len);
	EXPECT_EQ(0, pattern_check(mqdev_record_value(rec), VALUE, seed))
		TH_LOG("the record is not what the page was filled with");
	close(fd);
}

/*
 * MQDEV_IOC_PRODUCE with the value in the missing page: describing the
 * topic and polling another producer (both take the partition's lock) go
 * on; the message is appended with what the page was filled with.
 */
TEST_F(locks, produce)
{
	struct produce_args a = { .value = self->u.page };
	struct describe_args d = { .fd = self->fd, .name = self->name };
	struct other others[] = {
		{ "describing the topic", do_describe, &d },
		{ "poll(POLLOUT) on another producer", do_poll_out, NULL },
	};
	char value[1000] = {};
	int full, i, fill = 7;
	long ret;

	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 8192, 0));
	a.fd = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, a.fd);
	/* 7 records of 1 KiB leave room for A's but not for 2 KiB */
	for (i = 0; i < fill; i++)
		ASSERT_EQ(0, produce_one(a.fd, 0, NULL, 0, value, sizeof(value),
					 NULL));
	full = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, full);
	ASSERT_EQ(0, fcntl(full, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(-EAGAIN, produce_one(full, 0, NULL, 0, self->fill, 2000,
				       NULL));
	/* now its poll asks the partition for room */
	others[1].arg = &full;

	pattern_fill(self->fill, VALUE, 1);
	run_stalled(_metadata, &self->u, do_produce, &a, &ret, others, 2,
		    self->fill);
	EXPECT_EQ(0, ret);
	EXPECT_EQ(fill, a.offset);
	EXPECT_EQ(0, others[0].ret);
	/* when it was in time, A's message was not in yet */
	EXPECT_EQ(fill, others[0].in_time ? d.part.next_offset : fill);
	EXPECT_LE(0, others[1].ret);
	EXPECT_FALSE(others[1].ret & POLLOUT);
	check_record(_metadata, self->name, fill, 1);
	close(full);
	close(a.fd);
}

/* MQDEV_IOC_PRODUCE_BATCH with the records in the missing page. */
TEST_F(locks, produce_batch)
{
	struct batch_args a = { .records = self->u.page, .len = REC_SPACE };
	struct describe_args d = { .fd = self->fd, .name = self->name };
	struct other others[] = {
		{ "describing the topic", do_describe, &d },
	};
	struct mqdev_record *hdr = (void *)self->fill;
	long ret;

	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 8192, 0));
	a.fd = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, a.fd);
	ASSERT_EQ(0, produce_one(a.fd, 0, NULL, 0, "x", 1, NULL));

	/* the batch the page will hold: one record */
	memset(self->fill, 0, self->u.size);
	hdr->len = REC_LEN;
	pattern_fill(hdr + 1, VALUE, 2);
	run_stalled(_metadata, &self->u, do_batch, &a, &ret, others, 1,
		    self->fill);
	EXPECT_EQ(0, ret);
	EXPECT_EQ(1, a.req.count);
	EXPECT_EQ(1, a.req.base_offset);
	EXPECT_EQ(0, others[0].ret);
	EXPECT_EQ(1, others[0].in_time ? d.part.next_offset : 1);
	check_record(_metadata, self->name, 1, 2);
	close(a.fd);
}

/*
 * MQDEV_IOC_GROUP_ASSIGNMENT with the starts in the missing page: another
 * handle joins the group (the topic's groups lock, and a rebalance) and
 * the stalled member's answer is still of its own generation.
 */
TEST_F(locks, group_assignment)
{
	struct assignment_args a = { .starts = self->u.page, .count = 2 };
	struct join_args j = { .group = "g" };
	struct other others[] = {
		{ "joining the group", do_join, &j },
	};
	const struct mqdev_group_start *starts = (const void *)self->u.page;
	struct mqdev_group_assignment now = {};
	struct mqdev_group_start mine[2];
	int gen;
	long ret;

	ASSERT_EQ(0, create_topic(self->fd, self->name, 2, 8192, 0));
	a.fd = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, a.fd);
	j.fd = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, j.fd);
	gen = join(a.fd, "g");
	ASSERT_LT(0, gen);

	run_stalled(_metadata, &self->u, do_assignment, &a, &ret, others, 1,
		    self->fill);
	EXPECT_EQ(0, ret);
	EXPECT_EQ(gen, a.req.generation);
	EXPECT_EQ(2, a.req.count);
	EXPECT_EQ(3, a.req.owned[0]);
	EXPECT_EQ(0, starts[0].offset);
	EXPECT_EQ(0, starts[1].offset);
	EXPECT_EQ(0, others[0].ret);
	EXPECT_LT(gen, j.req.generation);

	/* the stalled answer was a generation old: the member is told */
	now.starts = (uintptr_t)mine;
	now.starts_count = 2;
	ASSERT_EQ(0, xioctl(a.fd, MQDEV_IOC_GROUP_ASSIGNMENT, &now));
	EXPECT_EQ(j.req.generation, now.generation);
	EXPECT_EQ(1, now.count);
	close(j.fd);
	close(a.fd);
}

/*
 * read(2) by a member into the missing page: another handle joins the
 * group, and the rebalance takes a partition from the reader.
 */
TEST_F(locks, read)
{
	struct read_args a = { .buf = self->u.page, .len = self->u.size };
	struct join_args j = { .group = "g" };
	struct other others[] = {
		{ "joining the reader's group", do_join, &j },
	};
	const struct mqdev_record *rec = (const void *)self->u.page;
	char value[VALUE];
	int prod, p, i;
	long ret;

	ASSERT_EQ(0, create_topic(self->fd, self->name, 2, 8192, 0));
	prod = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, prod);
	for (p = 0; p < 2; p++)
		for (i = 0; i < 3; i++) {
			pattern_fill(value, VALUE, p * 100 + i);
			ASSERT_EQ(p, produce_one(prod, p, NULL, 0, value, VALUE,
						 NULL));
		}
	a.fd = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, a.fd);
	j.fd = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, j.fd);
	ASSERT_LT(0, join(a.fd, "g"));		/* it owns both */

	run_stalled(_metadata, &self->u, do_read, &a, &ret, others, 1,
		    self->fill);
	/* partition 0's three records, which the reader keeps */
	EXPECT_EQ(3 * REC_SPACE, ret);
	if (ret > 0) {
		EXPECT_EQ(0, rec->partition);
		EXPECT_EQ(0, rec->offset);
		EXPECT_EQ(REC_LEN, rec->len);
		EXPECT_EQ(0, pattern_check(mqdev_record_value(rec), VALUE, 0));
	}
	EXPECT_EQ(0, others[0].ret);
	close(j.fd);
	close(a.fd);
	close(prod);
}

/*
 * MQDEV_IOC_PRODUCER_BIND of a handle that is also a group member, with
 * next_seq in the missing page: another handle joins the group.
 */
TEST_F(locks, producer_bind)
{
	struct bind_args a = { .next_seq = self->u.page, .count = 2 };
	struct join_args j = { .group = "g" };
	struct other others[] = {
		{ "joining the binder's group", do_join, &j },
	};
	const uint32_t *next = (const void *)self->u.page;
	struct mqdev_producer_init init = {};
	uint32_t seq[2];
	long ret;

	ASSERT_EQ(0, create_topic(self->fd, self->name, 2, 8192, 0));
	a.session = mqdev_open();
	ASSERT_LE(0, a.session);
	ASSERT_EQ(0, xioctl(a.session, MQDEV_IOC_PRODUCER_INIT, &init));
	a.fd = attach(self->name, MQDEV_ATTACH_PRODUCE | MQDEV_ATTACH_CONSUME,
		      NULL);
	ASSERT_LE(0, a.fd);
	j.fd = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, j.fd);
	ASSERT_LT(0, join(a.fd, "g"));		/* it owns both */

	run_stalled(_metadata, &self->u, do_bind, &a, &ret, others, 1,
		    self->fill);
	EXPECT_EQ(0, ret);
	EXPECT_EQ(0, next[0]);
	EXPECT_EQ(0, next[1]);
	EXPECT_EQ(0, others[0].ret);
	/* it is bound: once */
	a.next_seq = seq;
	EXPECT_EQ(-EBUSY, do_bind(&a));
	close(j.fd);
	close(a.fd);
	close(a.session);
}

/* ---- a transaction's time-out is not held back by its producer's buffer ---- */

struct txn_produce_args {
	struct mqdev_producer *p;
	struct mqdev_msg msg;
};

static long do_txn_produce(void *p)
{
	struct txn_produce_args *a = p;

	mqdev_producer_stamp(a->p, &a->msg, 1);
	return mqdev_produce(a->p, &a->msg, 1);
}

/* Read(2) without sleeping until the transaction's first record comes out. */
static long do_wait_decided(void *p)
{
	int fd = *(int *)p;
	char buf[4096];
	int64_t until = now_ms() + LATE_MS;
	ssize_t n;

	do {
		n = read(fd, buf, sizeof(buf));
		if (n > 0)
			return ((struct mqdev_record *)buf)->flags;
		usleep(20000);
	} while (now_ms() < until);
	return -ETIMEDOUT;
}

/*
 * A transactional produce stalls on its buffer with its transaction open;
 * the transaction's time-out (no checker: abort) must come all the same, or
 * every reader of the partition waits behind its first record for as long
 * as the producer's buffer takes.  Then the produce is refused.
 */
TEST_F(locks, txn_timeout_while_stalled)
{
	struct txn_produce_args a = {};
	struct other others[] = {
		{ "the transaction's time-out", do_wait_decided, NULL },
	};
	struct mqdev_session *s;
	int reader;
	long ret;

	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 8192, 0));
	ASSERT_EQ(0, mqdev_session_new(NULL, 300, &s));
	ASSERT_EQ(0, mqdev_producer_new(self->name, NULL, &a.p));
	ASSERT_EQ(0, mqdev_producer_bind(a.p, s));
	reader = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, reader);
	ASSERT_EQ(0, fcntl(reader, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(0, seek(reader, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
	others[0].arg = &reader;

	ASSERT_EQ(0, mqdev_txn_begin(s, 0));
	ASSERT_EQ(0, mqdev_producer_send(a.p, NULL, 0, "first", 5, 0, NULL));
	ASSERT_EQ(1, mqdev_producer_flush(a.p));
	mqdev_msg_init(&a.msg, NULL, 0, self->u.page, VALUE, 0);

	pattern_fill(self->fill, VALUE, 1);
	run_stalled(_metadata, &self->u, do_txn_produce, &a, &ret, others, 1,
		    self->fill);
	EXPECT_EQ(-ETIMEDOUT, ret);
	EXPECT_TRUE(others[0].ret > 0 &&
		    (others[0].ret & MQDEV_RECORD_ABORTED))
		TH_LOG("the first record came out as %ld", others[0].ret);
	close(reader);
	mqdev_producer_free(a.p);
	mqdev_session_free(s);
}

TEST_HARNESS_MAIN
