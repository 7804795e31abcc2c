// SPDX-License-Identifier: GPL-2.0
/*
 * Durable topics: replicas, the high watermark and acks=all producers.
 *
 * Consumers see a durable partition only up to its high watermark, the
 * lowest offset its in-sync replicas confirmed; a replica reads past it; an
 * acks=all producer is refused while too few replicas are in sync and waits
 * after appending until the watermark passes its records; a replica that
 * stops confirming drops out after replica_lag_ms, one that closes (or whose
 * process is killed) at once; with two needed and one stalled, acks=all
 * waits, then is refused, and consumers never see past the watermark.
 */
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include "call.h"
#include "common.h"
#include "kselftest_harness.h"

#define LAG_MS		300

/* attach(), and O_NONBLOCK if @oflags asks for it. */
static int attach_as(const char *name, uint32_t flags, int oflags)
{
	int fd = attach(name, flags, NULL);

	if (fd >= 0 && oflags && fcntl(fd, F_SETFL, oflags)) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* One message to partition 0: the count appended, or -errno. */
static long produce_value(int fd, const char *value, uint64_t *offset)
{
	struct mqdev_msg msg;
	struct mqdev_produce req = {
		.msgs = (uintptr_t)&msg, .count = 1, .msg_size = sizeof(msg),
	};
	long ret;

	mqdev_msg_init(&msg, NULL, 0, value, strlen(value), 0);
	ret = ioctl(fd, MQDEV_IOC_PRODUCE, &req);
	if (ret < 0)
		return -errno;
	if (offset)
		*offset = msg.offset;
	return ret;
}

static int confirm(int fd, uint64_t offset, uint64_t *confirmed,
		   uint64_t *hw)
{
	struct mqdev_replica_confirm req = { .offset = offset };
	int err = xioctl(fd, MQDEV_IOC_REPLICA_CONFIRM, &req);

	if (!err && confirmed)
		*confirmed = req.offset;
	if (!err && hw)
		*hw = req.high_watermark;
	return err;
}

static struct mqdev_partition_info part0(int fd, const char *name,
					 struct mqdev_topic_info *info)
{
	struct mqdev_partition_info p = {};
	struct mqdev_topic_info t;

	if (mqdev_topic_describe(fd, name, &t, &p, 1))
		memset(&p, 0xff, sizeof(p));
	if (info)
		*info = t;
	return p;
}

/* Records a read(2) reader at the earliest offset gets now. */
static int readable(int fd)
{
	char buf[8192];
	int n = 0, i;
	ssize_t len;

	if (seek(fd, 0, MQDEV_SEEK_EARLIEST, NULL, 0))
		return -1;
	while ((len = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < len; n++)
			i += MQDEV_RECORD_SPACE(((struct mqdev_record *)
						 (buf + i))->len);
	return n;
}

FIXTURE(durable) {
	int fd;
	char name[MQDEV_NAME_SIZE];
	unsigned long lag;
};

FIXTURE_SETUP(durable)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("durable"));
	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 64 * 1024,
				  MQDEV_TOPIC_DURABLE));
	self->lag = get_param("replica_lag_ms");
	ASSERT_EQ(0, set_param("replica_lag_ms", LAG_MS));
}

FIXTURE_TEARDOWN(durable)
{
	set_param("replica_lag_ms", self->lag);
	mqdev_topic_delete(self->fd, self->name);
	close(self->fd);
}

TEST_F(durable, described)
{
	struct mqdev_topic_info info;
	struct mqdev_partition_info p = part0(self->fd, self->name, &info);
	int r = attach_as(self->name, MQDEV_ATTACH_CONSUME |
			  MQDEV_ATTACH_REPLICA, 0);

	EXPECT_EQ(MQDEV_TOPIC_DURABLE, info.flags);
	EXPECT_EQ(1, info.min_insync);
	EXPECT_EQ(0, info.replicas);
	EXPECT_EQ(0, p.in_sync);
	ASSERT_LE(0, r);
	part0(self->fd, self->name, &info);
	EXPECT_EQ(1, info.replicas);
	close(r);
	part0(self->fd, self->name, &info);
	EXPECT_EQ(0, info.replicas);
	EXPECT_TRUE(mqdev_features(self->fd) & MQDEV_FEAT_DURABLE);
}

struct attach_try {
	const char *name;
	uint32_t flags;
};

static int attach_try_as(void *arg)
{
	struct attach_try *t = arg;
	int fd = attach_as(t->name, t->flags, 0);

	return fd < 0 ? -fd : 0;
}

TEST_F(durable, who_may_be_a_replica)
{
	struct attach_try t = {
		self->name, MQDEV_ATTACH_CONSUME | MQDEV_ATTACH_REPLICA,
	};
	char plain[MQDEV_NAME_SIZE];

	/* a reader of the topic, but not CAP_SYS_ADMIN */
	EXPECT_EQ(EPERM, as_user(USER_UID, attach_try_as, &t));
	/* and bad combinations of flags */
	EXPECT_EQ(-EINVAL, attach_as(self->name, MQDEV_ATTACH_REPLICA, 0));
	EXPECT_EQ(-EINVAL, attach_as(self->name, MQDEV_ATTACH_CONSUME |
				     MQDEV_ATTACH_ACKS_ALL, 0));
	strcpy(plain, topic_name("plain"));
	ASSERT_EQ(0, create_topic(self->fd, plain, 1, 0, 0));
	EXPECT_EQ(-EINVAL, attach_as(plain, MQDEV_ATTACH_CONSUME |
				     MQDEV_ATTACH_REPLICA, 0));
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, plain));
}

TEST_F(durable, replicas_are_bounded)
{
	unsigned long max = get_param("max_topic_replicas");
	int fds[64], i, n = 0;

	ASSERT_LT(0, max);
	ASSERT_GE(64, max);
	for (i = 0; i < (int)max; i++) {
		fds[n] = attach_as(self->name, MQDEV_ATTACH_CONSUME |
				   MQDEV_ATTACH_REPLICA, 0);
		ASSERT_LE(0, fds[n]);
		n++;
	}
	EXPECT_EQ(-ENOSPC, attach_as(self->name, MQDEV_ATTACH_CONSUME |
				     MQDEV_ATTACH_REPLICA, 0));
	while (n--)
		close(fds[n]);
}

/* No replica in sync: consumers see everything; acks=all is refused. */
TEST_F(durable, without_replicas)
{
	int prod = attach_as(self->name, MQDEV_ATTACH_PRODUCE, 0);
	int acks = attach_as(self->name, MQDEV_ATTACH_PRODUCE |
			     MQDEV_ATTACH_ACKS_ALL, 0);
	int cons = attach_as(self->name, MQDEV_ATTACH_CONSUME, O_NONBLOCK);
	struct mqdev_partition_info p;

	ASSERT_LE(0, prod);
	ASSERT_LE(0, acks);
	ASSERT_LE(0, cons);
	EXPECT_EQ(1, produce_value(prod, "one", NULL));
	EXPECT_EQ(-ENOLINK, produce_value(acks, "refused", NULL));
	p = part0(self->fd, self->name, NULL);
	EXPECT_EQ(1, p.next_offset);		/* nothing of it appended */
	EXPECT_EQ(1, p.high_watermark);
	EXPECT_EQ(1, readable(cons));
	close(cons);
	close(acks);
	close(prod);
}

TEST_F(durable, consumers_stop_at_the_watermark)
{
	int prod = attach_as(self->name, MQDEV_ATTACH_PRODUCE, 0);
	int cons = attach_as(self->name, MQDEV_ATTACH_CONSUME, O_NONBLOCK);
	int r = attach_as(self->name, MQDEV_ATTACH_CONSUME |
			  MQDEV_ATTACH_REPLICA, O_NONBLOCK);
	LIBMQDEV_OPTS(mqdev_consumer_opts, ropts,
		      .flags = MQDEV_CONSUMER_REPLICA);
	struct mqdev_consumer *mapped, *replica;
	struct mqdev_partition_info p;
	uint64_t confirmed, hw, landed;
	int i;

	ASSERT_LE(0, prod);
	ASSERT_LE(0, cons);
	ASSERT_LE(0, r);
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &mapped));
	ASSERT_EQ(0, mqdev_consumer_new(self->name, &ropts, &replica));
	ASSERT_EQ(0, mqdev_consumer_seek(mapped, 0, MQDEV_SEEK_EARLIEST, 0,
					 0, NULL));
	ASSERT_EQ(0, mqdev_consumer_seek(replica, 0, MQDEV_SEEK_EARLIEST, 0,
					 0, NULL));

	/* in sync by confirming the end: nothing appended yet */
	ASSERT_EQ(0, confirm(r, 0, &confirmed, &hw));
	EXPECT_EQ(1, part0(self->fd, self->name, NULL).in_sync);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(1, produce_value(prod, "unsafe", NULL));

	p = part0(self->fd, self->name, NULL);
	EXPECT_EQ(3, p.next_offset);
	EXPECT_EQ(0, p.high_watermark);
	EXPECT_EQ(0, readable(cons));
	EXPECT_EQ(NULL, mqdev_consumer_peek(mapped));
	/* the replicas read past it, mapped and by read(2) */
	EXPECT_EQ(3, readable(r));
	ASSERT_NE(NULL, mqdev_consumer_peek(replica));
	EXPECT_EQ(0, mqdev_consumer_release(replica));

	ASSERT_EQ(0, confirm(r, 2, &confirmed, &hw));
	EXPECT_EQ(2, confirmed);
	EXPECT_EQ(2, hw);
	EXPECT_EQ(2, readable(cons));
	for (i = 0; i < 2; i++) {
		ASSERT_NE(NULL, mqdev_consumer_peek(mapped));
		EXPECT_EQ(0, mqdev_consumer_release(mapped));
	}
	EXPECT_EQ(NULL, mqdev_consumer_peek(mapped));
	/* Kafka's latest, for a consumer, is the watermark */
	landed = 0;
	EXPECT_EQ(0, seek(cons, 0, MQDEV_SEEK_LATEST, &landed, 0));
	EXPECT_EQ(2, landed);

	/* confirmations only rise, and not past the end */
	EXPECT_EQ(-EINVAL, confirm(r, 1, NULL, NULL));
	EXPECT_EQ(-ERANGE, confirm(r, 4, NULL, NULL));
	EXPECT_EQ(2, part0(self->fd, self->name, NULL).high_watermark);
	ASSERT_EQ(0, confirm(r, 3, NULL, &hw));
	EXPECT_EQ(3, hw);
	EXPECT_EQ(3, readable(cons));

	mqdev_consumer_free(replica);
	mqdev_consumer_free(mapped);
	close(r);
	close(cons);
	close(prod);
}

/* Partition 0's end and lag in group @group, as mqdev_group_get() says. */
struct end_lag {
	uint64_t end, lag;
	int seen;
};

static int note_end_lag(void *ctx, const struct mqdev_group_info *info)
{
	struct end_lag *el = ctx;

	if (info->nr_parts < 1)
		return -EINVAL;
	el->end = info->part[0].end;
	el->lag = info->part[0].lag;
	el->seen++;
	return 0;
}

static struct end_lag group_end_lag(const char *group, const char *topic)
{
	struct end_lag el = { 0 };
	struct mqdev_nl *nl;

	if (mqdev_nl_open(&nl))
		return el;
	if (mqdev_group_get(nl, group, topic, note_end_lag, &el))
		el.seen = -1;
	mqdev_nl_close(nl);
	return el;
}

/* A group's lag counts what its consumers may read: up to the watermark. */
TEST_F(durable, group_lag_ends_at_the_watermark)
{
	int prod = attach_as(self->name, MQDEV_ATTACH_PRODUCE, 0);
	int r = attach_as(self->name, MQDEV_ATTACH_CONSUME |
			  MQDEV_ATTACH_REPLICA, O_NONBLOCK);
	struct mqdev_consumer *c;
	struct end_lag el;
	int i;

	ASSERT_LE(0, prod);
	ASSERT_LE(0, r);
	ASSERT_EQ(0, confirm(r, 0, NULL, NULL));
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_join(c, "lag", MQDEV_SEEK_EARLIEST));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(1, produce_value(prod, "unsafe", NULL));

	el = group_end_lag("lag", self->name);
	ASSERT_EQ(1, el.seen);
	EXPECT_EQ(0, el.end);
	EXPECT_EQ(0, el.lag);

	ASSERT_EQ(0, confirm(r, 2, NULL, NULL));
	el = group_end_lag("lag", self->name);
	EXPECT_EQ(2, el.end);
	EXPECT_EQ(2, el.lag);

	mqdev_consumer_free(c);
	close(r);
	close(prod);
}

/* A reader asleep in poll(2) or read(2) until a record comes. */
struct sleeper {
	int fd;
	bool use_poll;
	int woken;	/* 1: by a record */
};

static void *sleep_for_record(void *arg)
{
	struct sleeper *s = arg;
	struct pollfd p = { .fd = s->fd, .events = POLLIN };
	char buf[4096];

	if (s->use_poll)
		s->woken = poll(&p, 1, 20000) == 1 && (p.revents & POLLIN);
	else
		s->woken = read(s->fd, buf, sizeof(buf)) > 0;
	return NULL;
}

/*
 * Appends past the watermark are the replicas' to read: consumers asleep
 * are woken when a confirmation makes records safe, not on every append.
 */
TEST_F(durable, appends_wake_replicas_and_confirmations_consumers)
{
	int prod = attach_as(self->name, MQDEV_ATTACH_PRODUCE, 0);
	int r = attach_as(self->name, MQDEV_ATTACH_CONSUME |
			  MQDEV_ATTACH_REPLICA, O_NONBLOCK);
	struct sleeper polled = { .use_poll = true }, reader = { 0 };
	struct sleeper replica = { .use_poll = true };
	pthread_t tp, tr, trep;
	char buf[4096];
	int i;

	ASSERT_EQ(0, set_param("replica_lag_ms", 20000));
	ASSERT_LE(0, prod);
	ASSERT_LE(0, r);
	polled.fd = attach_as(self->name, MQDEV_ATTACH_CONSUME, O_NONBLOCK);
	reader.fd = attach_as(self->name, MQDEV_ATTACH_CONSUME, 0);
	ASSERT_LE(0, polled.fd);
	ASSERT_LE(0, reader.fd);
	ASSERT_EQ(0, confirm(r, 0, NULL, NULL));
	ASSERT_EQ(0, seek(polled.fd, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
	ASSERT_EQ(0, seek(reader.fd, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
	ASSERT_EQ(0, pthread_create(&tp, NULL, sleep_for_record, &polled));
	ASSERT_EQ(0, pthread_create(&tr, NULL, sleep_for_record, &reader));
	usleep(300000);			/* asleep by now */

	for (i = 0; i < 3; i++)
		EXPECT_EQ(1, produce_value(prod, "unsafe", NULL));
	usleep(200000);
	EXPECT_EQ(0, reader_wakeups(self->name));
	EXPECT_EQ(0, polled.woken);
	EXPECT_EQ(0, reader.woken);

	ASSERT_EQ(0, confirm(r, 3, NULL, NULL));
	ASSERT_EQ(0, pthread_join(tp, NULL));
	ASSERT_EQ(0, pthread_join(tr, NULL));
	EXPECT_EQ(1, polled.woken);
	EXPECT_EQ(1, reader.woken);
	EXPECT_LE(1, reader_wakeups(self->name));

	/* a replica that read everything is woken by the next append */
	ASSERT_EQ(0, seek(r, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
	while (read(r, buf, sizeof(buf)) > 0)
		;
	EXPECT_EQ(EAGAIN, errno);
	replica.fd = r;
	ASSERT_EQ(0, pthread_create(&trep, NULL, sleep_for_record, &replica));
	usleep(300000);
	EXPECT_EQ(0, replica.woken);
	EXPECT_EQ(1, produce_value(prod, "unsafe", NULL));
	ASSERT_EQ(0, pthread_join(trep, NULL));
	EXPECT_EQ(1, replica.woken);

	close(reader.fd);
	close(polled.fd);
	close(r);
	close(prod);
}

TEST_F(durable, bad_confirmations)
{
	int cons = attach_as(self->name, MQDEV_ATTACH_CONSUME, 0);
	int r = attach_as(self->name, MQDEV_ATTACH_CONSUME |
			  MQDEV_ATTACH_REPLICA, 0);
	struct mqdev_replica_confirm req = {};

	ASSERT_LE(0, cons);
	ASSERT_LE(0, r);
	EXPECT_EQ(-EBADF, confirm(cons, 0, NULL, NULL));
	req.flags = 1U << 31;				/* unknown */
	EXPECT_EQ(-EINVAL, xioctl(r, MQDEV_IOC_REPLICA_CONFIRM, &req));
	req.flags = MQDEV_CONFIRM_GROUPS;		/* partition 0 only */
	req.partition = 1;
	EXPECT_EQ(-EINVAL, xioctl(r, MQDEV_IOC_REPLICA_CONFIRM, &req));
	req.partition = 0;
	req.flags = 0;
	req.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, xioctl(r, MQDEV_IOC_REPLICA_CONFIRM, &req));
	req.reserved[1] = 0;
	req.partition = 1;
	EXPECT_EQ(-EINVAL, xioctl(r, MQDEV_IOC_REPLICA_CONFIRM, &req));
	/* none of it put the replica in sync */
	EXPECT_EQ(0, part0(self->fd, self->name, NULL).in_sync);
	close(r);
	close(cons);
}

struct acks_args {
	int fd;
	uint64_t offset;
};

static long do_acks_produce(void *arg)
{
	struct acks_args *a = arg;

	return produce_value(a->fd, "acks=all", &a->offset);
}

TEST_F(durable, acks_all_waits_for_the_replica)
{
	struct acks_args a = {
		.fd = attach_as(self->name, MQDEV_ATTACH_PRODUCE |
				MQDEV_ATTACH_ACKS_ALL, 0),
	};
	int r = attach_as(self->name, MQDEV_ATTACH_CONSUME |
			  MQDEV_ATTACH_REPLICA, 0);
	struct call c;

	ASSERT_LE(0, a.fd);
	ASSERT_LE(0, r);
	ASSERT_EQ(0, confirm(r, 0, NULL, NULL));

	ASSERT_EQ(0, call_start(&c, do_acks_produce, &a));
	EXPECT_FALSE(call_done(&c, LAG_MS / 3));
	/* appended, not yet safe */
	EXPECT_EQ(1, part0(self->fd, self->name, NULL).next_offset);
	ASSERT_EQ(0, confirm(r, 1, NULL, NULL));
	EXPECT_TRUE(call_done(&c, 2000));
	pthread_join(c.thread, NULL);
	EXPECT_EQ(1, c.ret);
	EXPECT_EQ(0, a.offset);

	/* with O_NONBLOCK it appends and returns at once */
	close(a.fd);
	a.fd = attach_as(self->name, MQDEV_ATTACH_PRODUCE |
			 MQDEV_ATTACH_ACKS_ALL, O_NONBLOCK);
	ASSERT_LE(0, a.fd);
	EXPECT_EQ(1, produce_value(a.fd, "later", &a.offset));
	EXPECT_EQ(1, a.offset);
	EXPECT_EQ(1, part0(self->fd, self->name, NULL).high_watermark);
	close(a.fd);
	close(r);
}

/* A record batch of one record: it waits as one message does. */
static long do_acks_batch(void *arg)
{
	struct acks_args *a = arg;
	uint64_t buf[8] = {};
	struct mqdev_record *rec = (struct mqdev_record *)buf;
	struct mqdev_produce_batch req = {
		.records = (uintptr_t)buf, .partition = 0,
	};

	rec->len = sizeof(*rec) + 1;
	((char *)(rec + 1))[0] = 'b';
	req.len = MQDEV_RECORD_SPACE(rec->len);
	if (ioctl(a->fd, MQDEV_IOC_PRODUCE_BATCH, &req))
		return -errno;
	a->offset = req.base_offset;
	return req.count;
}

TEST_F(durable, acks_all_batch_waits_for_the_replica)
{
	struct acks_args a = {
		.fd = attach_as(self->name, MQDEV_ATTACH_PRODUCE |
				MQDEV_ATTACH_ACKS_ALL, 0),
	};
	int r = attach_as(self->name, MQDEV_ATTACH_CONSUME |
			  MQDEV_ATTACH_REPLICA, 0);
	struct call c;

	ASSERT_LE(0, a.fd);
	ASSERT_LE(0, r);
	/* none in sync: refused, nothing appended */
	EXPECT_EQ(-ENOLINK, do_acks_batch(&a));
	EXPECT_EQ(0, part0(self->fd, self->name, NULL).next_offset);
	ASSERT_EQ(0, confirm(r, 0, NULL, NULL));
	ASSERT_EQ(0, call_start(&c, do_acks_batch, &a));
	EXPECT_FALSE(call_done(&c, LAG_MS / 3));
	EXPECT_EQ(1, part0(self->fd, self->name, NULL).next_offset);
	ASSERT_EQ(0, confirm(r, 1, NULL, NULL));
	EXPECT_TRUE(call_done(&c, 2000));
	pthread_join(c.thread, NULL);
	EXPECT_EQ(1, c.ret);
	EXPECT_EQ(0, a.offset);
	close(a.fd);
	close(r);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A replica that stops confirming drops out after replica_lag_ms. */
TEST_F(durable, a_stalled_replica_drops_out)
{
	int acks = attach_as(self->name, MQDEV_ATTACH_PRODUCE |
			     MQDEV_ATTACH_ACKS_ALL, 0);
	int r = attach_as(self->name, MQDEV_ATTACH_CONSUME |
			  MQDEV_ATTACH_REPLICA, 0);
	struct mqdev_partition_info p;
	double start, took;

	ASSERT_LE(0, acks);
	ASSERT_LE(0, r);
	ASSERT_EQ(0, confirm(r, 0, NULL, NULL));
	start = now_ms();
	EXPECT_EQ(-ENOLINK, produce_value(acks, "never safe", NULL));
	took = now_ms() - start;
	EXPECT_LE(LAG_MS * 0.9, took);
	EXPECT_GE(LAG_MS * 10, took);
	p = part0(self->fd, self->name, NULL);
	EXPECT_EQ(0, p.in_sync);
	EXPECT_EQ(1, p.next_offset);
	/* with none in sync the watermark is the end, as a lone leader's */
	EXPECT_EQ(1, p.high_watermark);
	/* and it comes back by catching up */
	ASSERT_EQ(0, confirm(r, 1, NULL, NULL));
	EXPECT_EQ(1, part0(self->fd, self->name, NULL).in_sync);
	close(r);
	close(acks);
}

/* A replica that closes leaves at once: a waiting producer is told. */
TEST_F(durable, a_closed_replica_leaves_at_once)
{
	struct acks_args a = {
		.fd = attach_as(self->name, MQDEV_ATTACH_PRODUCE |
				MQDEV_ATTACH_ACKS_ALL, 0),
	};
	int r;
	struct call c;

	ASSERT_EQ(0, set_param("replica_lag_ms", 60000));
	r = attach_as(self->name, MQDEV_ATTACH_CONSUME |
		      MQDEV_ATTACH_REPLICA, 0);
	ASSERT_LE(0, a.fd);
	ASSERT_LE(0, r);
	ASSERT_EQ(0, confirm(r, 0, NULL, NULL));
	ASSERT_EQ(0, call_start(&c, do_acks_produce, &a));
	EXPECT_FALSE(call_done(&c, 200));
	close(r);
	EXPECT_TRUE(call_done(&c, 2000));
	pthread_join(c.thread, NULL);
	EXPECT_EQ(-ENOLINK, c.ret);
	EXPECT_EQ(0, part0(self->fd, self->name, NULL).in_sync);
	close(a.fd);
}

/*
 * A replica stopped before an open transaction has all it may have: it is
 * not lagging, and stays in sync however long the writer takes; the
 * watermark stays before the transaction, and moves past once it is
 * decided and the replica confirms.
 */
TEST_F(durable, an_open_transaction_is_not_the_replicas_lag)
{
	int r = attach_as(self->name, MQDEV_ATTACH_CONSUME |
			  MQDEV_ATTACH_REPLICA, 0);
	struct mqdev_producer *p;
	struct mqdev_session *s;
	uint64_t confirmed, hw;

	ASSERT_LE(0, r);
	ASSERT_EQ(0, confirm(r, 0, NULL, NULL));
	ASSERT_EQ(0, mqdev_producer_new(self->name, NULL, &p));
	ASSERT_EQ(0, mqdev_session_new(NULL, 60000, &s));
	ASSERT_EQ(0, mqdev_producer_bind(p, s));
	ASSERT_EQ(0, mqdev_txn_begin(s, 1));
	ASSERT_EQ(0, mqdev_producer_send(p, NULL, 0, "t", 1, 0, NULL));
	ASSERT_EQ(1, mqdev_producer_flush(p));

	ASSERT_EQ(0, confirm(r, 1, &confirmed, &hw));
	EXPECT_EQ(0, confirmed);		/* stopped before it */
	usleep(3 * LAG_MS * 1000);
	ASSERT_EQ(0, confirm(r, 0, NULL, &hw));
	EXPECT_EQ(1, part0(self->fd, self->name, NULL).in_sync);
	EXPECT_EQ(0, hw);

	ASSERT_EQ(0, mqdev_txn_commit(s));
	ASSERT_EQ(0, confirm(r, 1, &confirmed, &hw));
	EXPECT_EQ(1, confirmed);
	EXPECT_EQ(1, hw);
	mqdev_producer_free(p);
	mqdev_session_free(s);
	close(r);
}

TEST(min_insync)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = 1,
		      .flags = MQDEV_TOPIC_DURABLE, .min_insync = 2);
	const char *name = topic_name("mininsync");
	int fd = mqdev_open(), acks, r1, r2;
	struct mqdev_topic_info info;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mqdev_topic_create(fd, name, &cfg));
	part0(fd, name, &info);
	EXPECT_EQ(2, info.min_insync);
	acks = attach_as(name, MQDEV_ATTACH_PRODUCE | MQDEV_ATTACH_ACKS_ALL, 0);
	r1 = attach_as(name, MQDEV_ATTACH_CONSUME | MQDEV_ATTACH_REPLICA, 0);
	r2 = attach_as(name, MQDEV_ATTACH_CONSUME | MQDEV_ATTACH_REPLICA, 0);
	ASSERT_LE(0, acks);
	ASSERT_LE(0, r1);
	ASSERT_LE(0, r2);
	ASSERT_EQ(0, confirm(r1, 0, NULL, NULL));
	/* one in sync of the two needed */
	EXPECT_EQ(-ENOLINK, produce_value(acks, "refused", NULL));
	EXPECT_EQ(0, part0(fd, name, NULL).next_offset);
	ASSERT_EQ(0, confirm(r2, 0, NULL, NULL));
	EXPECT_EQ(2, part0(fd, name, NULL).in_sync);
	close(r2);
	close(r1);
	close(acks);
	EXPECT_EQ(0, mqdev_topic_delete(fd, name));
	close(fd);
}

/*
 * On a durable topic the ring keeps what is not yet safe, and no more: a
 * producer that filled it waits for the replica, and goes on once it
 * confirms, with no consumer in the way.
 */
TEST_F(durable, the_ring_waits_for_the_replica_only)
{
	int prod = attach_as(self->name, MQDEV_ATTACH_PRODUCE, O_NONBLOCK);
	int r = attach_as(self->name, MQDEV_ATTACH_CONSUME |
			  MQDEV_ATTACH_REPLICA, 0);
	char value[1000];
	uint64_t offset = 0;
	long ret;
	int n = 0;

	ASSERT_LE(0, prod);
	ASSERT_LE(0, r);
	ASSERT_EQ(0, set_param("replica_lag_ms", 60000));
	ASSERT_EQ(0, confirm(r, 0, NULL, NULL));
	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = 0;
	while ((ret = produce_value(prod, value, &offset)) == 1)
		n++;
	EXPECT_EQ(-EAGAIN, ret);
	EXPECT_LT(32, n);
	ASSERT_EQ(0, confirm(r, n, NULL, NULL));
	EXPECT_EQ(1, produce_value(prod, value, &offset));
	EXPECT_EQ(n, offset);
	close(r);
	close(prod);
}

/*
 * A replica's process killed (SIGKILL, not a close of its own) while an
 * acks=all producer waits: the producer is told at once, long before the
 * time-out, and no consumer saw the record while it was not safe.
 */
TEST_F(durable, a_killed_replica_process_leaves_at_once)
{
	struct acks_args a = {
		.fd = attach_as(self->name, MQDEV_ATTACH_PRODUCE |
				MQDEV_ATTACH_ACKS_ALL, 0),
	};
	int cons = attach_as(self->name, MQDEV_ATTACH_CONSUME, O_NONBLOCK);
	int ready[2], r, status;
	struct call c;
	pid_t pid;
	char ok;

	ASSERT_LE(0, a.fd);
	ASSERT_LE(0, cons);
	ASSERT_EQ(0, set_param("replica_lag_ms", 60000));
	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		r = attach_as(self->name, MQDEV_ATTACH_CONSUME |
			      MQDEV_ATTACH_REPLICA, 0);
		ok = r >= 0 && !confirm(r, 0, NULL, NULL);
		if (write(ready[1], &ok, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	ASSERT_EQ(1, read(ready[0], &ok, 1));
	ASSERT_TRUE(ok);
	EXPECT_EQ(1, part0(self->fd, self->name, NULL).in_sync);

	ASSERT_EQ(0, call_start(&c, do_acks_produce, &a));
	EXPECT_FALSE(call_done(&c, 200));
	EXPECT_EQ(0, readable(cons));	/* appended, not safe: unseen */
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(call_done(&c, 2000));
	pthread_join(c.thread, NULL);
	EXPECT_EQ(-ENOLINK, c.ret);
	EXPECT_EQ(0, part0(self->fd, self->name, NULL).in_sync);
	close(ready[0]);
	close(ready[1]);
	close(cons);
	close(a.fd);
}

/*
 * Two replicas needed, one stalls: the producer waits (the watermark stays
 * where the stalled one left it, and consumers with it), is refused once the
 * stalled one drops out after the time-out, and the next append is refused
 * before it goes in.
 */
TEST_F(durable, a_stalled_replica_below_min_insync)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = 1,
		      .flags = MQDEV_TOPIC_DURABLE, .min_insync = 2);
	const char *name = topic_name("stalled");
	struct acks_args a;
	struct mqdev_partition_info p;
	int r1, r2, cons;
	double start, took;
	struct call c;

	ASSERT_EQ(0, mqdev_topic_create(self->fd, name, &cfg));
	a.fd = attach_as(name, MQDEV_ATTACH_PRODUCE | MQDEV_ATTACH_ACKS_ALL, 0);
	cons = attach_as(name, MQDEV_ATTACH_CONSUME, O_NONBLOCK);
	r1 = attach_as(name, MQDEV_ATTACH_CONSUME | MQDEV_ATTACH_REPLICA, 0);
	r2 = attach_as(name, MQDEV_ATTACH_CONSUME | MQDEV_ATTACH_REPLICA, 0);
	ASSERT_LE(0, a.fd);
	ASSERT_LE(0, cons);
	ASSERT_LE(0, r1);
	ASSERT_LE(0, r2);
	ASSERT_EQ(0, confirm(r1, 0, NULL, NULL));
	ASSERT_EQ(0, confirm(r2, 0, NULL, NULL));

	start = now_ms();
	ASSERT_EQ(0, call_start(&c, do_acks_produce, &a));
	EXPECT_FALSE(call_done(&c, LAG_MS / 3));
	ASSERT_EQ(0, confirm(r1, 1, NULL, NULL));	/* r2 stalls */
	EXPECT_FALSE(call_done(&c, LAG_MS / 3));
	p = part0(self->fd, name, NULL);
	EXPECT_EQ(0, p.high_watermark);
	EXPECT_EQ(2, p.in_sync);
	EXPECT_EQ(0, readable(cons));
	EXPECT_TRUE(call_done(&c, LAG_MS * 10));
	took = now_ms() - start;
	pthread_join(c.thread, NULL);
	EXPECT_EQ(-ENOLINK, c.ret);
	/*
	 * Not before the time-out; loosely, as the lag is measured by the
	 * records' CLOCK_REALTIME stamps, which a loaded TCG guest may step.
	 */
	EXPECT_LE(LAG_MS / 2, took);
	p = part0(self->fd, name, NULL);
	EXPECT_EQ(1, p.in_sync);
	EXPECT_EQ(1, p.next_offset);
	/* the one left in sync has it: safe by its word, consumers see it */
	EXPECT_EQ(1, p.high_watermark);
	EXPECT_EQ(1, readable(cons));
	/* below min_insync: refused before anything goes in */
	EXPECT_EQ(-ENOLINK, produce_value(a.fd, "refused", NULL));
	EXPECT_EQ(1, part0(self->fd, name, NULL).next_offset);
	close(r2);
	close(r1);
	close(cons);
	close(a.fd);
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, name));
}

TEST_HARNESS_MAIN
