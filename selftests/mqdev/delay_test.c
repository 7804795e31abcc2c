// SPDX-License-Identifier: GPL-2.0
/*
 * Delayed messages (MQDEV_IOC_SCHEDULE, _SCHED_CANCEL, _SCHED_LIST) and
 * records that expire (MQDEV_RECORD_EXPIRES): due order across many due
 * times, a burst of 100,000, cancel, list, the charges and what deleting
 * the topic gives back, permissions, bad input refused with nothing
 * changed, expiry through read(2) and the library, and namespaces.
 */
#include <poll.h>
#include <sched.h>
#include <time.h>
#include "common.h"
#include "kselftest_harness.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Schedule one message; -errno, or 0 with its id and due time. */
static int schedule(int fd, uint32_t partition, const void *value,
		    uint32_t len, int64_t at, uint32_t flags, uint64_t *id,
		    uint64_t *due)
{
	struct mqdev_schedule req = { .at = at, .flags = flags };
	int err;

	mqdev_msg_init(&req.msg, NULL, 0, value, len, partition);
	err = xioctl(fd, MQDEV_IOC_SCHEDULE, &req);
	if (!err && id)
		*id = req.id;
	if (!err && due)
		*due = req.due;
	return err;
}

/* The topic's list from @start: its totals, and up to @room entries. */
static int sched_list(int cfd, uint64_t start, struct mqdev_sched_info *infos,
		      uint32_t room, struct mqdev_sched_list *out)
{
	memset(out, 0, sizeof(*out));
	out->entries = (uintptr_t)infos;
	out->count = room;
	out->entry_size = sizeof(*infos);
	out->start = start;
	return xioctl(cfd, MQDEV_IOC_SCHED_LIST, out);
}

static uint64_t scheduled_now(int cfd)
{
	struct mqdev_sched_list l;

	return sched_list(cfd, 0, NULL, 0, &l) ? ~0ULL : l.scheduled;
}

/* A delayed message's value: its due time and its number. */
struct payload {
	uint64_t due;
	uint32_t n;
	uint32_t pad;
};

/*
 * Read records with read(2) from a consumer handle until @want came or
 * @timeout_ms passed; each one's payload and append time to the arrays.
 */
static int read_records(int cfd, struct payload *got, uint64_t *stamps,
			int want, int timeout_ms)
{
	static char buf[1 << 16];
	struct pollfd pfd = { .fd = cfd, .events = POLLIN };
	uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000;
	int n = 0;
	ssize_t len, off;

	while (n < want && now_ns() < end) {
		len = read(cfd, buf, sizeof(buf));
		if (len < 0 && errno != EAGAIN)
			return -errno;
		if (len <= 0) {
			poll(&pfd, 1, 50);
			continue;
		}
		for (off = 0; off < len && n < want;) {
			const struct mqdev_record *rec = (const void *)(buf + off);

			if (got)
				memcpy(&got[n], mqdev_record_value(rec),
				       sizeof(got[n]));
			if (stamps)
				stamps[n] = rec->timestamp;
			n++;
			off += MQDEV_RECORD_SPACE(rec->len);
		}
	}
	return n;
}

FIXTURE(delay) {
	int fd;			/* /dev/mq, unattached */
	int pfd;		/* the topic's producer */
	int cfd;		/* and a reader, at its start */
	char name[MQDEV_NAME_SIZE];
};

FIXTURE_SETUP(delay)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("delay"));
	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 8 << 20, 0));
	self->pfd = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, self->pfd);
	self->cfd = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, self->cfd);
	fcntl(self->cfd, F_SETFL, O_NONBLOCK);
	ASSERT_EQ(0, seek(self->cfd, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
}

FIXTURE_TEARDOWN(delay)
{
	close(self->pfd);
	close(self->cfd);
	mqdev_topic_delete(self->fd, self->name);
	close(self->fd);
}

/*
 * 300 messages due at 60 distinct times, scheduled in a shuffled order:
 * they come in the order of their due times, those of one time in the
 * order they were scheduled, none before it is due.
 */
TEST_F(delay, due_order)
{
	enum { N = 300, TIMES = 60 };
	static struct payload got[N];
	static uint64_t stamps[N];
	uint64_t base = now_ns() + 300000000, last_due = 0;
	uint32_t last_n = 0;
	struct payload p = {};
	int i;

	srand(18);
	for (i = 0; i < N; i++) {
		p.due = base + (uint64_t)(rand() % TIMES) * 7000000;
		p.n = i;
		ASSERT_EQ(0, schedule(self->pfd, 0, &p, sizeof(p), p.due, 0,
				      NULL, NULL));
	}
	ASSERT_EQ(N, scheduled_now(self->cfd));
	ASSERT_EQ(N, read_records(self->cfd, got, stamps, N, 10000));
	for (i = 0; i < N; i++) {
		ASSERT_LE(got[i].due, stamps[i]) TH_LOG("record %d early", i);
		ASSERT_LE(last_due, got[i].due) TH_LOG("record %d out of order", i);
		if (got[i].due == last_due)
			ASSERT_LT(last_n, got[i].n);
		last_due = got[i].due;
		last_n = got[i].n;
	}
	ASSERT_EQ(0, scheduled_now(self->cfd));
}

/* A burst of 100,000, due over 1 s: all come, in order, charges back. */
/*
 * How long scheduling @n messages takes on this kernel, in ns: on a topic
 * of its own, deleted after.  A debug kernel (KASAN, lockdep) under TCG is
 * ten times slower than the others.
 */
static uint64_t schedule_cost(int fd, int n)
{
	char name[MQDEV_NAME_SIZE];
	struct payload p = {};
	uint64_t start;
	int pfd, i;

	strcpy(name, topic_name("delay-cost"));
	if (create_topic(fd, name, 1, 1 << 20, 0))
		return ~0ULL;
	pfd = attach(name, MQDEV_ATTACH_PRODUCE, NULL);
	start = now_ns();
	for (i = 0; pfd >= 0 && i < n; i++)
		if (schedule(pfd, 0, &p, sizeof(p), 3600000000000LL,
			     MQDEV_SCHED_RELATIVE, NULL, NULL))
			break;
	start = i == n ? now_ns() - start : ~0ULL;
	close(pfd);
	mqdev_topic_delete(fd, name);
	return start;
}

TEST_F_TIMEOUT(delay, burst_100k, 900)
{
	enum { N = 100000 };
	static struct payload got[N];
	/* scheduling them takes seconds in an emulated VM: measured first */
	uint64_t cost = schedule_cost(self->fd, 1000);
	uint64_t lead = cost == ~0ULL ? 0 : cost * (N / 1000) * 2;
	uint64_t base = now_ns() + (lead > 20000000000ULL ? lead :
				    20000000000ULL);
	struct payload p = {};
	int i;

	ASSERT_NE(~0ULL, cost);
	ASSERT_GT(300000000000ULL, lead) TH_LOG("too slow: %llu ns for 1000",
						(unsigned long long)cost);

	for (i = 0; i < N; i++) {
		p.due = base + (uint64_t)(N - i) * 10000;
		p.n = i;
		ASSERT_EQ(0, schedule(self->pfd, 0, &p, sizeof(p), p.due, 0,
				      NULL, NULL)) TH_LOG("message %d", i);
	}
	ASSERT_GT(base, now_ns()) TH_LOG("scheduling took longer than measured");
	ASSERT_EQ(N, scheduled_now(self->cfd));
	ASSERT_EQ(N, read_records(self->cfd, got, NULL, N,
				  90000 + (base - now_ns()) / 1000000));
	for (i = 1; i < N; i++)
		ASSERT_EQ(got[i - 1].n, got[i].n + 1);
	ASSERT_EQ(0, scheduled_now(self->cfd));
}

/* A time in the past, or a delay of 0, is due at once. */
TEST_F(delay, past_is_due_now)
{
	uint64_t due, t0 = now_ns();
	struct payload p = {};

	ASSERT_EQ(0, schedule(self->pfd, 0, &p, sizeof(p), 1, 0, NULL, &due));
	ASSERT_LE(t0, due);
	ASSERT_EQ(0, schedule(self->pfd, 0, &p, sizeof(p), 0,
			      MQDEV_SCHED_RELATIVE, NULL, NULL));
	ASSERT_EQ(2, read_records(self->cfd, NULL, NULL, 2, 2000));
}

/* Cancel: by id, once; the message never comes. */
TEST_F(delay, cancel)
{
	struct mqdev_sched_cancel c = {};
	struct payload p = { .n = 1 }, got[2];
	uint64_t id[3];
	int i;

	for (i = 0; i < 3; i++) {
		p.n = i;
		ASSERT_EQ(0, schedule(self->pfd, 0, &p, sizeof(p),
				      200000000 + i * 1000, MQDEV_SCHED_RELATIVE,
				      &id[i], NULL));
	}
	c.id = id[1];
	ASSERT_EQ(0, xioctl(self->pfd, MQDEV_IOC_SCHED_CANCEL, &c));
	ASSERT_EQ(-ENOENT, xioctl(self->pfd, MQDEV_IOC_SCHED_CANCEL, &c));
	c.id = 0;
	ASSERT_EQ(-ENOENT, xioctl(self->pfd, MQDEV_IOC_SCHED_CANCEL, &c));
	c.id = id[0];
	c.flags = 1;
	ASSERT_EQ(-EINVAL, xioctl(self->pfd, MQDEV_IOC_SCHED_CANCEL, &c));
	ASSERT_EQ(2, scheduled_now(self->cfd));
	ASSERT_EQ(2, read_records(self->cfd, got, NULL, 2, 3000));
	ASSERT_EQ(0, got[0].n);
	ASSERT_EQ(2, got[1].n);
	ASSERT_EQ(0, read_records(self->cfd, NULL, NULL, 1, 300));
}

/* List: a page at a time, in id order, with what each message is. */
TEST_F(delay, list_pages)
{
	struct mqdev_sched_info infos[4];
	struct mqdev_sched_list l;
	uint64_t ids[10], start = 0;
	struct payload p = {};
	int i, seen = 0;

	for (i = 0; i < 10; i++)
		ASSERT_EQ(0, schedule(self->pfd, 0, &p, sizeof(p),
				      60000000000LL, MQDEV_SCHED_RELATIVE,
				      &ids[i], NULL));
	do {
		ASSERT_EQ(0, sched_list(self->cfd, start, infos, 4, &l));
		ASSERT_EQ(10, l.scheduled);
		for (i = 0; i < (int)l.count; i++) {
			ASSERT_EQ(ids[seen], infos[i].id);
			ASSERT_EQ(sizeof(p), infos[i].value_len);
			ASSERT_EQ(0, infos[i].partition);
			ASSERT_EQ(getuid(), infos[i].uid);
			seen++;
		}
		start = l.next;
	} while (start);
	ASSERT_EQ(10, seen);
	/* on a producer handle: the list is for readers */
	ASSERT_EQ(-EBADF, sched_list(self->pfd, 0, infos, 4, &l));
	l.flags = 1;
	ASSERT_EQ(-EINVAL, xioctl(self->cfd, MQDEV_IOC_SCHED_LIST, &l));
}

/* Bad input is refused, and nothing is scheduled. */
TEST_F(delay, bad_input)
{
	struct mqdev_schedule req = {};
	struct payload p = {};
	uint64_t now = now_ns();

	ASSERT_EQ(-EINVAL, schedule(self->pfd, 0, &p, sizeof(p), 1000,
				    1U << 5, NULL, NULL));
	ASSERT_EQ(-EINVAL, schedule(self->pfd, 0, &p, sizeof(p), -1,
				    MQDEV_SCHED_RELATIVE, NULL, NULL));
	ASSERT_EQ(-EINVAL, schedule(self->pfd, 0, &p, sizeof(p), -1, 0,
				    NULL, NULL));
	ASSERT_EQ(-ERANGE, schedule(self->pfd, 0, &p, sizeof(p),
				    MQDEV_SCHED_MAX_DELAY + 1,
				    MQDEV_SCHED_RELATIVE, NULL, NULL));
	ASSERT_EQ(-ERANGE, schedule(self->pfd, 0, &p, sizeof(p),
				    now + MQDEV_SCHED_MAX_DELAY + 1000000000ULL,
				    0, NULL, NULL));
	ASSERT_EQ(-EINVAL, schedule(self->pfd, 5, &p, sizeof(p), 1000,
				    MQDEV_SCHED_RELATIVE, NULL, NULL));
	mqdev_msg_init(&req.msg, NULL, 0, &p, sizeof(p), 0);
	req.reserved = 1;
	ASSERT_EQ(-EINVAL, xioctl(self->pfd, MQDEV_IOC_SCHEDULE, &req));
	req.reserved = 0;
	req.msg.sequence = 1;
	ASSERT_EQ(-EINVAL, xioctl(self->pfd, MQDEV_IOC_SCHEDULE, &req));
	req.msg.sequence = 0;
	req.msg.flags = 1U << 7;
	ASSERT_EQ(-EINVAL, xioctl(self->pfd, MQDEV_IOC_SCHEDULE, &req));
	/* an expiry that is not there whole */
	req.msg.flags = MQDEV_MSG_EXPIRES;
	req.msg.value_len = 4;
	ASSERT_EQ(-EINVAL, xioctl(self->pfd, MQDEV_IOC_SCHEDULE, &req));
	/* a consumer handle does not produce */
	ASSERT_EQ(-EBADF, schedule(self->cfd, 0, &p, sizeof(p), 0,
				   MQDEV_SCHED_RELATIVE, NULL, NULL));
	ASSERT_EQ(0, scheduled_now(self->cfd));
	ASSERT_EQ(0, read_records(self->cfd, NULL, NULL, 1, 200));
}

/* A value that starts with its expiry, then @n. */
struct expiring {
	uint64_t expires;
	uint32_t n;
} __attribute__((packed));

static int produce_expiring(int pfd, uint64_t expires, uint32_t n)
{
	struct expiring v = { .expires = expires, .n = n };
	struct mqdev_msg msg;
	struct mqdev_produce req = {
		.msgs = (uintptr_t)&msg, .count = 1, .msg_size = sizeof(msg),
	};

	mqdev_msg_init(&msg, NULL, 0, &v, sizeof(v), 0);
	msg.flags = MQDEV_MSG_EXPIRES;
	return ioctl(pfd, MQDEV_IOC_PRODUCE, &req) == 1 ? 0 : -errno;
}

/* read(2) skips an expired record and counts it; the rest come. */
TEST_F(delay, ttl_read)
{
	struct mqdev_sched_list l;
	char buf[4096];
	const struct mqdev_record *rec = (const void *)buf;
	uint64_t now = now_ns();
	struct expiring v;
	ssize_t len;

	ASSERT_EQ(0, produce_expiring(self->pfd, now - 1, 1));
	ASSERT_EQ(0, produce_expiring(self->pfd, now + 60000000000ULL, 2));
	ASSERT_EQ(0, produce_expiring(self->pfd, now + 200000000, 3));
	/* an expiry of 0 is none, for the kernel as for the library */
	ASSERT_EQ(0, produce_expiring(self->pfd, 0, 4));
	len = read(self->cfd, buf, MQDEV_RECORD_SPACE(sizeof(*rec) +
						       sizeof(v)));
	ASSERT_LT(0, len);
	memcpy(&v, mqdev_record_value(rec), sizeof(v));
	ASSERT_EQ(2, v.n);
	ASSERT_EQ(1, rec->offset);
	usleep(300000);
	len = read(self->cfd, buf, sizeof(buf));
	ASSERT_EQ(MQDEV_RECORD_SPACE(sizeof(*rec) + sizeof(v)), len);
	memcpy(&v, mqdev_record_value(rec), sizeof(v));
	ASSERT_EQ(4, v.n);
	ASSERT_EQ(3, rec->offset);
	ASSERT_EQ(-1, read(self->cfd, buf, sizeof(buf)));
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, sched_list(self->cfd, 0, NULL, 0, &l));
	ASSERT_EQ(2, l.expired);
}

/*
 * One read(2) over records that are live, expired, live: the expired one
 * is left out of the run copied, and the next live one follows the first
 * in the buffer.
 */
TEST_F(delay, ttl_read_skips_within_one_read)
{
	size_t space = MQDEV_RECORD_SPACE(sizeof(struct mqdev_record) +
					  sizeof(struct expiring));
	const struct mqdev_record *rec;
	uint64_t now = now_ns();
	struct expiring v;
	char buf[4096];

	ASSERT_EQ(0, produce_expiring(self->pfd, 0, 1));
	ASSERT_EQ(0, produce_expiring(self->pfd, now - 1, 2));
	ASSERT_EQ(0, produce_expiring(self->pfd, 0, 3));
	ASSERT_EQ(0, produce_expiring(self->pfd, 0, 4));
	ASSERT_EQ(3 * space, read(self->cfd, buf, sizeof(buf)));
	rec = (const void *)buf;
	memcpy(&v, mqdev_record_value(rec), sizeof(v));
	EXPECT_EQ(1, v.n);
	EXPECT_EQ(0, rec->offset);
	rec = (const void *)(buf + space);
	memcpy(&v, mqdev_record_value(rec), sizeof(v));
	EXPECT_EQ(3, v.n);
	EXPECT_EQ(2, rec->offset);
	rec = (const void *)(buf + 2 * space);
	memcpy(&v, mqdev_record_value(rec), sizeof(v));
	EXPECT_EQ(4, v.n);
	EXPECT_EQ(3, rec->offset);
}

static int count_record(void *ctx, const struct mqdev_record *rec)
{
	struct expiring v;

	memcpy(&v, mqdev_record_value(rec), sizeof(v));
	if (mqdev_record_expiry(rec) != v.expires)
		return -EPROTO;
	*(uint32_t *)ctx = v.n;
	return 0;
}

/* The library's mmap reader skips them too, and counts them. */
TEST_F(delay, ttl_mmap)
{
	struct mqdev_consumer *c;
	uint64_t now = now_ns();
	uint32_t last = 0;

	ASSERT_EQ(0, produce_expiring(self->pfd, now - 1, 1));
	ASSERT_EQ(0, produce_expiring(self->pfd, now + 60000000000ULL, 2));
	ASSERT_EQ(0, produce_expiring(self->pfd, now - 1, 3));
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0, 0,
					 NULL));
	ASSERT_EQ(1, mqdev_consumer_poll(c, 1000, 10, count_record, &last));
	ASSERT_EQ(2, last);
	ASSERT_EQ(0, mqdev_consumer_poll(c, 100, 10, count_record, &last));
	ASSERT_EQ(2, mqdev_consumer_expired(c));
	mqdev_consumer_free(c);
}

/* Set the topic's TTL: 0 or -errno. */
static int set_ttl(int fd, const char *name, uint64_t ttl)
{
	return mqdev_topic_set_ttl(fd, name, ttl);
}

/* A topic's TTL: records older than it are skipped, by read(2) and mmap. */
TEST_F(delay, ttl_topic)
{
	struct mqdev_consumer *c;
	struct mqdev_sched_list l;
	struct payload p = {};
	uint64_t ttl = 1;
	uint32_t last = 0;

	ASSERT_EQ(0, mqdev_topic_get_ttl(self->fd, self->name, &ttl));
	ASSERT_EQ(0, ttl);
	ASSERT_EQ(0, produce_one(self->pfd, 0, NULL, 0, &p, sizeof(p), NULL));
	/* long enough for a slow emulated VM to read the first in time */
	ASSERT_EQ(0, set_ttl(self->fd, self->name, 3000000000ULL));
	ASSERT_EQ(0, mqdev_topic_get_ttl(self->fd, self->name, &ttl));
	ASSERT_EQ(3000000000ULL, ttl);
	/* the first is young enough: read(2) and the library get it */
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0, 0,
					 NULL));
	ASSERT_EQ(1, mqdev_consumer_poll(c, 1000, 10, count_record, &last));
	ASSERT_EQ(0, seek(self->cfd, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
	ASSERT_EQ(1, read_records(self->cfd, NULL, NULL, 1, 1000));
	/* the second waits past the TTL: neither gets it */
	p.n = 2;
	ASSERT_EQ(0, produce_one(self->pfd, 0, NULL, 0, &p, sizeof(p), NULL));
	usleep(3200000);
	ASSERT_EQ(0, read_records(self->cfd, NULL, NULL, 1, 100));
	ASSERT_EQ(0, mqdev_consumer_poll(c, 100, 10, count_record, &last));
	ASSERT_EQ(1, mqdev_consumer_expired(c));
	ASSERT_EQ(0, sched_list(self->cfd, 0, NULL, 0, &l));
	ASSERT_EQ(1, l.expired);
	mqdev_consumer_free(c);
	/* past the limit; and only the owner sets it */
	ASSERT_EQ(-EINVAL, set_ttl(self->fd, self->name, MQDEV_TTL_MAX + 1));
	ASSERT_EQ(-ENOENT, set_ttl(self->fd, "no-such-topic", 1));
}

static int other_sets_ttl(void *arg)
{
	int fd = mqdev_open();

	return fd < 0 ? 1 : -mqdev_topic_set_ttl(fd, arg, 1);
}

TEST_F(delay, ttl_topic_owner_only)
{
	ASSERT_EQ(EPERM, as_user(OTHER_UID, other_sets_ttl, self->name));
}

/*
 * The library's send with a ttl: the record carries its expiry.  A ttl
 * past MQDEV_TTL_MAX, whose expiry would wrap round to a time long past,
 * is refused and nothing is queued.
 */
TEST_F(delay, ttl_library_send)
{
	LIBMQDEV_OPTS(mqdev_send_opts, opts, .ttl_ns = 60000000000ULL);
	LIBMQDEV_OPTS(mqdev_send_opts, forever, .ttl_ns = UINT64_MAX);
	struct mqdev_producer *p;
	char buf[4096];
	const struct mqdev_record *rec = (const void *)buf;
	const void *value;
	uint32_t len;
	uint64_t t0 = now_ns();

	ASSERT_EQ(0, mqdev_producer_new(self->name, NULL, &p));
	EXPECT_EQ(-EINVAL, mqdev_producer_send_opts(p, NULL, 0, "abc", 3, 0,
						    NULL, &forever));
	forever.ttl_ns = MQDEV_TTL_MAX + 1;
	EXPECT_EQ(-EINVAL, mqdev_producer_send_opts(p, NULL, 0, "abc", 3, 0,
						    NULL, &forever));
	EXPECT_EQ(0, mqdev_producer_flush(p));
	ASSERT_EQ(0, mqdev_producer_send_opts(p, NULL, 0, "abc", 3, 0, NULL,
					      &opts));
	ASSERT_EQ(1, mqdev_producer_flush(p));
	ASSERT_LT(0, read(self->cfd, buf, sizeof(buf)));
	ASSERT_TRUE(rec->flags & MQDEV_RECORD_EXPIRES);
	ASSERT_LE(t0 + 60000000000ULL, mqdev_record_expiry(rec));
	ASSERT_EQ(0, mqdev_record_payload(rec, &value, &len));
	ASSERT_EQ(3, len);
	ASSERT_EQ(0, memcmp(value, "abc", 3));
	mqdev_producer_free(p);
}

/* A scheduled message past its expiry when due is dropped, and counted. */
TEST_F(delay, ttl_scheduled)
{
	LIBMQDEV_OPTS(mqdev_send_opts, opts, .ttl_ns = 100000000,
		      .delay_ns = 300000000);
	LIBMQDEV_OPTS(mqdev_send_opts, ok, .ttl_ns = 60000000000ULL,
		      .delay_ns = 300000000);
	struct mqdev_partition_info part;
	struct mqdev_topic_info info;
	struct mqdev_producer *p;
	struct mqdev_sched_list l;
	uint64_t id = 0;

	ASSERT_EQ(0, mqdev_producer_new(self->name, NULL, &p));
	opts.sched_id = &id;
	ASSERT_EQ(0, mqdev_producer_send_opts(p, NULL, 0, "x", 1, 0, NULL,
					      &opts));
	ASSERT_NE(0, id);
	ASSERT_EQ(0, mqdev_producer_send_opts(p, NULL, 0, "y", 1, 0, NULL,
					      &ok));
	ASSERT_EQ(1, read_records(self->cfd, NULL, NULL, 2, 1500));
	ASSERT_EQ(0, sched_list(self->cfd, 0, NULL, 0, &l));
	ASSERT_EQ(1, l.expired);
	ASSERT_EQ(0, l.scheduled);
	/* not appended at all: the partition holds the other one only */
	ASSERT_EQ(0, mqdev_topic_describe(self->fd, self->name, &info, &part,
					  1));
	ASSERT_EQ(1, part.next_offset);
	/* gone: nothing to cancel */
	ASSERT_EQ(-ENOENT, mqdev_producer_cancel(p, id));
	mqdev_producer_free(p);
}

/* Another user, who may write the topic, cancels only what it scheduled. */
static int other_cancels(void *arg)
{
	const uint64_t *ids = arg;
	struct mqdev_attach a;
	struct mqdev_sched_cancel c = { .id = ids[0] };
	char *name = (char *)(ids + 2);
	int fd = attach(name, MQDEV_ATTACH_PRODUCE, &a);
	struct payload p = {};
	uint64_t mine;

	if (fd < 0)
		return 10;
	if (xioctl(fd, MQDEV_IOC_SCHED_CANCEL, &c) != -EPERM)
		return 11;
	if (schedule(fd, 0, &p, sizeof(p), 60000000000LL,
		     MQDEV_SCHED_RELATIVE, &mine, NULL))
		return 12;
	c.id = mine;
	if (xioctl(fd, MQDEV_IOC_SCHED_CANCEL, &c))
		return 13;
	/* no read permission: no list */
	if (attach(name, MQDEV_ATTACH_CONSUME, NULL) != -EACCES)
		return 14;
	return 0;
}

TEST_F(delay, permissions)
{
	struct {
		uint64_t ids[2];
		char name[MQDEV_NAME_SIZE];
	} arg = {};
	struct mqdev_sched_cancel c = {};
	char name[MQDEV_NAME_SIZE];
	struct payload p = {};
	int pfd;

	strcpy(name, topic_name("delay-perm"));
	{
		LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = 1,
			      .mode = 0622);
		ASSERT_EQ(0, mqdev_topic_create(self->fd, name, &cfg));
	}
	pfd = attach(name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, pfd);
	ASSERT_EQ(0, schedule(pfd, 0, &p, sizeof(p), 60000000000LL,
			      MQDEV_SCHED_RELATIVE, &arg.ids[0], NULL));
	strcpy(arg.name, name);
	ASSERT_EQ(0, as_user(OTHER_UID, other_cancels, &arg));
	/* the owner cancels anyone's */
	c.id = arg.ids[0];
	ASSERT_EQ(0, xioctl(pfd, MQDEV_IOC_SCHED_CANCEL, &c));
	close(pfd);
	ASSERT_EQ(0, mqdev_topic_delete(self->fd, name));
}

/*
 * A user's scheduled messages are charged: past max_user_scheduled they
 * are refused; deleting the topic drops them and gives the charge back.
 */
static int fill_delete_refill(void *arg)
{
	const char *names = arg;
	struct payload p = {};
	int fd = mqdev_open(), pfd, i, err;

	if (fd < 0)
		return 20;
	for (int round = 0; round < 2; round++) {
		const char *name = names + round * MQDEV_NAME_SIZE;

		if (create_topic(fd, name, 1, 0, 0))
			return 21;
		pfd = attach(name, MQDEV_ATTACH_PRODUCE, NULL);
		if (pfd < 0)
			return 22;
		for (i = 0; i < 10; i++)
			if (schedule(pfd, 0, &p, sizeof(p), 60000000000LL,
				     MQDEV_SCHED_RELATIVE, NULL, NULL))
				return 23 + round;
		err = schedule(pfd, 0, &p, sizeof(p), 60000000000LL,
			       MQDEV_SCHED_RELATIVE, NULL, NULL);
		if (err != -EDQUOT)
			return 30 + round;
		close(pfd);
		if (mqdev_topic_delete(fd, name))
			return 40;
	}
	return 0;
}

TEST_F(delay, limit_and_delete_release)
{
	char names[2][MQDEV_NAME_SIZE];
	unsigned long old = get_param("max_user_scheduled");

	strcpy(names[0], topic_name("delay-lim"));
	strcpy(names[1], topic_name("delay-lim"));
	ASSERT_EQ(0, set_param("max_user_scheduled", 10));
	EXPECT_EQ(0, as_user(USER_UID, fill_delete_refill, names));
	ASSERT_EQ(0, set_param("max_user_scheduled", old));
}

/*
 * The module-wide limit refuses, and refusals change nothing: once the
 * messages are gone, as many can be scheduled again.
 */
TEST_F(delay, module_limit_refusals_change_nothing)
{
	unsigned long old = get_param("max_scheduled");
	struct mqdev_sched_cancel c = {};
	struct payload p = {};
	uint64_t ids[3];
	int i, round;

	ASSERT_EQ(0, set_param("max_scheduled", 3));
	for (round = 0; round < 3; round++) {
		for (i = 0; i < 3; i++)
			ASSERT_EQ(0, schedule(self->pfd, 0, &p, sizeof(p),
					      3600000000000LL,
					      MQDEV_SCHED_RELATIVE, &ids[i],
					      NULL));
		for (i = 0; i < 10; i++)
			ASSERT_EQ(-ENOSPC, schedule(self->pfd, 0, &p,
						    sizeof(p), 3600000000000LL,
						    MQDEV_SCHED_RELATIVE, NULL,
						    NULL));
		for (i = 0; i < 3; i++) {
			c.id = ids[i];
			ASSERT_EQ(0, xioctl(self->pfd, MQDEV_IOC_SCHED_CANCEL,
					    &c));
		}
	}
	ASSERT_EQ(0, set_param("max_scheduled", old));
}

/* An acks=all producer waits for replicas at its append: none later. */
TEST_F(delay, not_for_acks_all)
{
	int fd = attach(self->name, MQDEV_ATTACH_PRODUCE |
			MQDEV_ATTACH_ACKS_ALL, NULL);
	struct payload p = {};

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, schedule(fd, 0, &p, sizeof(p), 1000,
				    MQDEV_SCHED_RELATIVE, NULL, NULL));
	EXPECT_EQ(0, scheduled_now(self->cfd));
	close(fd);
}

/* A topic of another namespace is not there to schedule on. */
TEST_F(delay, namespaces)
{
	struct payload p = {};
	pid_t pid;
	int status;

	ASSERT_EQ(0, schedule(self->pfd, 0, &p, sizeof(p), 60000000000LL,
			      MQDEV_SCHED_RELATIVE, NULL, NULL));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char other[MQDEV_NAME_SIZE];
		int fd, cfd;

		if (unshare(CLONE_NEWNET))
			_exit(1);
		if (attach(self->name, MQDEV_ATTACH_CONSUME, NULL) != -ENOENT)
			_exit(2);
		fd = mqdev_open();
		strcpy(other, self->name);
		if (fd < 0 || create_topic(fd, other, 1, 0, 0))
			_exit(3);
		cfd = attach(other, MQDEV_ATTACH_CONSUME, NULL);
		/* the namesake here has nothing scheduled */
		if (cfd < 0 || scheduled_now(cfd) != 0)
			_exit(4);
		close(cfd);
		mqdev_topic_delete(fd, other);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(1, scheduled_now(self->cfd));
}

TEST_HARNESS_MAIN
