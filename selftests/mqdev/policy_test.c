// SPDX-License-Identifier: GPL-2.0
/*
 * What happens when a partition is full: block (flow control, space held by
 * holding readers) or overwrite (retention, readers told what they lost).
 */
#include <pthread.h>
#include "common.h"
#include "kselftest_harness.h"

#define CAP 16384
#define VALUE 100
#define SPACE MQDEV_RECORD_SPACE(sizeof(struct mqdev_record) + VALUE)

FIXTURE(policy) {
	int fd;
	char name[MQDEV_NAME_MAX + 1];
};

FIXTURE_SETUP(policy)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("policy"));
}

FIXTURE_TEARDOWN(policy)
{
	mqdev_topic_delete(self->fd, self->name);
	close(self->fd);
}

/* Value @seq, seeded by its sequence, at @v. */
static void seeded_value(char *v, uint64_t seq)
{
	pattern_fill(v, VALUE, seq);
	memcpy(v, &seq, sizeof(seq));
}

/* Produce values seeded by their sequence until the first error. */
static int fill(int prod, uint64_t first, uint64_t max, int *err)
{
	char value[VALUE];
	uint64_t i;
	int ret = 0;

	for (i = first; i < first + max; i++) {
		seeded_value(value, i);
		ret = produce_one(prod, 0, NULL, 0, value, VALUE, NULL);
		if (ret < 0)
			break;
	}
	*err = ret < 0 ? ret : 0;
	return i - first;
}

static int check_value(const struct mqdev_record *rec)
{
	const char *v = mqdev_record_value(rec);
	char expect[VALUE];
	uint64_t seq;

	if (mqdev_record_value_len(rec) != VALUE)
		return -1;
	memcpy(&seq, v, sizeof(seq));
	seeded_value(expect, seq);
	return memcmp(v, expect, VALUE) ? -1 : 0;
}

TEST_F(policy, block_eagain_then_pollout)
{
	struct mqdev_consumer *c;
	struct pollfd pfd;
	int prod, n, err, i;

	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, CAP, 0));
	prod = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, prod);
	ASSERT_EQ(0, fcntl(prod, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0,
					 MQDEV_SEEK_HOLD, NULL));

	n = fill(prod, 0, 1000, &err);
	EXPECT_EQ(-EAGAIN, err);
	EXPECT_EQ(CAP / SPACE, n);
	pfd.fd = prod;
	pfd.events = POLLOUT;
	EXPECT_EQ(0, poll(&pfd, 1, 0));

	/* the holder reads five: their space comes back, POLLOUT says so */
	for (i = 0; i < 5; i++) {
		const struct mqdev_record *rec = mqdev_consumer_peek(c);

		ASSERT_NE(NULL, rec);
		EXPECT_EQ(i, rec->offset);
		EXPECT_EQ(0, check_value(rec));
		EXPECT_EQ(0, mqdev_consumer_release(c));
	}
	EXPECT_EQ(1, poll(&pfd, 1, 5000));
	EXPECT_TRUE(pfd.revents & POLLOUT);
	EXPECT_EQ(5, fill(prod, n, 1000, &err));
	EXPECT_EQ(-EAGAIN, err);
	mqdev_consumer_free(c);
	close(prod);
}

/* No holder, nothing is reclaimed: a plain reader does not free space. */
TEST_F(policy, block_keeps_what_nobody_holds)
{
	struct mqdev_consumer *reader, *holder;
	int prod, n, err, read = 0;

	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, CAP, 0));
	prod = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, prod);
	ASSERT_EQ(0, fcntl(prod, F_SETFL, O_NONBLOCK));
	n = fill(prod, 0, 1000, &err);
	EXPECT_EQ(-EAGAIN, err);

	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &reader));
	ASSERT_EQ(0, mqdev_consumer_seek(reader, 0, MQDEV_SEEK_EARLIEST, 0, 0,
					 NULL));
	while (mqdev_consumer_peek(reader)) {
		EXPECT_EQ(0, mqdev_consumer_release(reader));
		read++;
	}
	EXPECT_EQ(n, read);
	EXPECT_EQ(0, fill(prod, n, 1, &err));
	EXPECT_EQ(-EAGAIN, err);

	/* a holder from the earliest record frees what it reads */
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &holder));
	ASSERT_EQ(0, mqdev_consumer_seek(holder, 0, MQDEV_SEEK_EARLIEST, 0,
					 MQDEV_SEEK_HOLD, NULL));
	ASSERT_NE(NULL, mqdev_consumer_peek(holder));
	EXPECT_EQ(0, mqdev_consumer_release(holder));
	EXPECT_EQ(1, fill(prod, n, 1, &err));
	mqdev_consumer_free(holder);
	mqdev_consumer_free(reader);
	close(prod);
}

struct producer_arg {
	int prod;
	uint64_t count;
	bool record_batches;	/* MQDEV_IOC_PRODUCE_BATCH, not _PRODUCE */
	int err;
	int done;
};

static void *blocking_producer(void *arg)
{
	struct producer_arg *a = arg;

	fill(a->prod, 0, a->count, &a->err);
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* A blocking producer sleeps until the holder makes room, and loses nothing. */
TEST_F(policy, block_producer_waits_for_holder)
{
	struct producer_arg a = { .count = 3 * CAP / SPACE + 17 };
	const struct mqdev_record *rec;
	struct mqdev_consumer *c;
	uint64_t expect = 0;
	pthread_t t;

	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, CAP, 0));
	a.prod = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, a.prod);
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0,
					 MQDEV_SEEK_HOLD, NULL));
	ASSERT_EQ(0, pthread_create(&t, NULL, blocking_producer, &a));

	/* let it fill the ring and block */
	usleep(300 * 1000);
	EXPECT_EQ(0, __atomic_load_n(&a.done, __ATOMIC_ACQUIRE));

	while (expect < a.count) {
		ASSERT_EQ(1, mqdev_consumer_wait(c, 10000));
		while ((rec = mqdev_consumer_peek(c))) {
			EXPECT_EQ(expect, rec->offset);
			EXPECT_EQ(0, check_value(rec));
			EXPECT_EQ(0, mqdev_consumer_release(c));
			expect++;
		}
	}
	pthread_join(t, NULL);
	EXPECT_EQ(0, a.err);
	EXPECT_EQ(0, mqdev_consumer_lost(c));
	mqdev_consumer_free(c);
	close(a.prod);
}

/*
 * In a child, its SIGUSR1 caught with @sa_flags: produce @count values from
 * @first on a blocking handle.  Its exit status: how many the call
 * appended (at most 2 * CAP / SPACE), or 200 + errno.
 */
static pid_t produce_in_child(const char *name, uint64_t first,
			      uint32_t count, int sa_flags)
{
	static char values[2 * CAP / SPACE][VALUE];
	static struct mqdev_msg msgs[2 * CAP / SPACE];
	struct mqdev_produce req = {
		.msgs = (uintptr_t)msgs, .count = count,
		.msg_size = sizeof(*msgs),
	};
	pid_t pid = fork_catching_usr1(sa_flags);
	int prod, n;
	uint32_t i;

	if (pid)
		return pid;
	prod = attach(name, MQDEV_ATTACH_PRODUCE, NULL);
	if (prod < 0 || count > 2 * CAP / SPACE)
		_exit(99);
	for (i = 0; i < count; i++) {
		seeded_value(values[i], first + i);
		mqdev_msg_init(&msgs[i], NULL, 0, values[i], VALUE, 0);
	}
	n = ioctl(prod, MQDEV_IOC_PRODUCE, &req);
	_exit(n < 0 ? 200 + errno : n);
}

/*
 * A producer asleep for room, its signal caught by a handler without
 * SA_RESTART: the call answers with the messages it appended before it
 * slept and appends none after; with none appended it fails EINTR.  With
 * SA_RESTART the call starts again, sleeps again, and appends once a
 * holder makes room.
 */
TEST_F_TIMEOUT(policy, block_producer_interrupted, 60)
{
	const uint32_t fit = CAP / SPACE;
	const struct mqdev_record *rec;
	struct mqdev_consumer *c;
	struct mqdev_stats st;
	uint64_t waits;
	pid_t pid;
	int i;

	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, CAP, 0));
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0,
					 MQDEV_SEEK_HOLD, NULL));

	/* the signal comes once the ring is full: it is asleep, or nearly */
	pid = produce_in_child(self->name, 0, fit + 5, 0);
	ASSERT_LE(0, pid);
	for (i = 0; i < 200 && next_offset(self->fd, self->name, 0) < fit; i++)
		sleep_ms(50);
	EXPECT_EQ(fit, signal_until_exit(pid));
	EXPECT_EQ(fit, next_offset(self->fd, self->name, 0));

	pid = produce_in_child(self->name, fit, 1, 0);
	ASSERT_LE(0, pid);
	EXPECT_EQ(200 + EINTR, signal_until_exit(pid));
	EXPECT_EQ(fit, next_offset(self->fd, self->name, 0));

	/*
	 * Restarted: signalled until a signal has ended one of its sleeps
	 * (the partition counts each), then given room; it could only
	 * append if the call started again.
	 */
	ASSERT_EQ(0, part0_stats(self->name, &st));
	waits = st.waits;
	pid = produce_in_child(self->name, fit, 1, SA_RESTART);
	ASSERT_LE(0, pid);
	for (i = 0; i < 100 && !part0_stats(self->name, &st) &&
	     st.waits == waits; i++) {
		kill(pid, SIGUSR1);
		sleep_ms(100);
	}
	EXPECT_LT(waits, st.waits) TH_LOG("no signal ended a sleep for room");
	for (i = 0; i < 5 && (rec = mqdev_consumer_peek(c)); i++) {
		EXPECT_EQ(i, rec->offset);
		EXPECT_EQ(0, check_value(rec));
		EXPECT_EQ(0, mqdev_consumer_release(c));
	}
	EXPECT_EQ(1, signal_until_exit(pid));
	EXPECT_EQ(fit + 1, next_offset(self->fd, self->name, 0));
	mqdev_consumer_free(c);
}

/* Space is held by the slowest holder; when it leaves, the next one rules. */
TEST_F(policy, block_slowest_holder_rules)
{
	struct mqdev_consumer *slow, *fast;
	int prod, n, err;

	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, CAP, 0));
	prod = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, prod);
	ASSERT_EQ(0, fcntl(prod, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &slow));
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &fast));
	ASSERT_EQ(0, mqdev_consumer_seek(slow, 0, MQDEV_SEEK_EARLIEST, 0,
					 MQDEV_SEEK_HOLD, NULL));
	ASSERT_EQ(0, mqdev_consumer_seek(fast, 0, MQDEV_SEEK_EARLIEST, 0,
					 MQDEV_SEEK_HOLD, NULL));
	n = fill(prod, 0, 1000, &err);
	ASSERT_EQ(-EAGAIN, err);

	while (mqdev_consumer_peek(fast))
		EXPECT_EQ(0, mqdev_consumer_release(fast));
	EXPECT_EQ(0, fill(prod, n, 1, &err));
	EXPECT_EQ(-EAGAIN, err);

	mqdev_consumer_free(slow);
	EXPECT_EQ(n, fill(prod, n, 1000, &err));
	EXPECT_EQ(-EAGAIN, err);
	mqdev_consumer_free(fast);
	close(prod);
}

/*
 * A full ring whose holder has read it all: an append takes back what it
 * needs and a little more (a 64th of the ring, at least a page), not every
 * record the holder passed, which would make that one append as slow as a
 * ring's worth of drops.  The rest stays readable from the earliest offset.
 */
TEST_F(policy, block_reclaims_a_little_at_a_time)
{
	const long page = sysconf(_SC_PAGESIZE);
	const long slack = CAP / 64 > page ? CAP / 64 : page;
	const uint64_t most = (SPACE + slack) / SPACE + 1;
	struct mqdev_partition_info part;
	const struct mqdev_record *kept;
	struct mqdev_topic_info info;
	struct mqdev_consumer *holder, *reader;
	uint64_t first = 0, next;
	int prod, n, err, i;

	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, CAP, 0));
	prod = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, prod);
	ASSERT_EQ(0, fcntl(prod, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &holder));
	ASSERT_EQ(0, mqdev_consumer_seek(holder, 0, MQDEV_SEEK_EARLIEST, 0,
					 MQDEV_SEEK_HOLD, NULL));
	n = fill(prod, 0, 1000, &err);
	ASSERT_EQ(-EAGAIN, err);
	while (mqdev_consumer_peek(holder))
		ASSERT_EQ(0, mqdev_consumer_release(holder));

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(1, fill(prod, n + i, 1, &err));
		ASSERT_EQ(0, mqdev_topic_describe(self->fd, self->name, &info,
						  &part, 1));
		EXPECT_EQ(n + i + 1, part.next_offset);
		/* each append drops at most the room for one and the slack */
		EXPECT_LE(first + !i, part.first_offset);
		EXPECT_GE(first + most, part.first_offset);
		EXPECT_LE(part.bytes_used, CAP);
		first = part.first_offset;
	}
	/* the holder reads on from where it stood: nothing lost */
	for (i = 0; i < 3; i++) {
		const struct mqdev_record *rec = mqdev_consumer_peek(holder);

		ASSERT_NE(NULL, rec);
		EXPECT_EQ(n + i, rec->offset);
		EXPECT_EQ(0, check_value(rec));
		EXPECT_EQ(0, mqdev_consumer_release(holder));
	}
	EXPECT_EQ(0, mqdev_consumer_lost(holder));

	/* what was not reclaimed is whole, from the earliest offset on */
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &reader));
	ASSERT_EQ(0, mqdev_consumer_seek(reader, 0, MQDEV_SEEK_EARLIEST, 0, 0,
					 NULL));
	for (next = first; (kept = mqdev_consumer_peek(reader)); next++) {
		EXPECT_EQ(next, kept->offset);
		EXPECT_EQ(0, check_value(kept));
		EXPECT_EQ(0, mqdev_consumer_release(reader));
	}
	EXPECT_EQ(n + 3, next);
	mqdev_consumer_free(reader);
	mqdev_consumer_free(holder);
	close(prod);
}

TEST_F(policy, overwrite_reports_lost_records)
{
	struct mqdev_partition_info part;
	struct mqdev_topic_info info;
	const struct mqdev_record *rec;
	struct mqdev_consumer *c;
	uint64_t first = ~0ULL, got = 0;
	int prod, err;

	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, CAP,
				  MQDEV_TOPIC_OVERWRITE));
	prod = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, prod);
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0,
					 MQDEV_SEEK_HOLD, NULL));
	/* holding means nothing to a topic that overwrites: it never blocks */
	ASSERT_EQ(1000, fill(prod, 0, 1000, &err));
	ASSERT_EQ(0, err);

	ASSERT_EQ(0, mqdev_topic_describe(self->fd, self->name, &info, &part, 1));
	EXPECT_EQ(1000, part.next_offset);
	EXPECT_EQ(1000 - CAP / SPACE, part.first_offset);
	EXPECT_LE(part.bytes_used, CAP);

	while ((rec = mqdev_consumer_peek(c))) {
		if (first == ~0ULL)
			first = rec->offset;
		EXPECT_EQ(first + got, rec->offset);
		EXPECT_EQ(0, check_value(rec));
		EXPECT_EQ(0, mqdev_consumer_release(c));
		got++;
	}
	EXPECT_EQ(part.first_offset, first);
	EXPECT_EQ(first, mqdev_consumer_lost(c));
	EXPECT_EQ(1000, got + mqdev_consumer_lost(c));
	mqdev_consumer_free(c);
	close(prod);
}

/* @n messages from @seq, through MQDEV_IOC_PRODUCE. */
static int produce_msgs(int prod, uint64_t seq, int n)
{
	static char values[64][VALUE];
	struct mqdev_msg msgs[64];
	struct mqdev_produce req = {
		.msgs = (uintptr_t)msgs, .msg_size = sizeof(msgs[0]), .count = n,
	};
	int i;

	for (i = 0; i < n; i++) {
		seeded_value(values[i], seq + i);
		mqdev_msg_init(&msgs[i], NULL, 0, values[i], VALUE, 0);
	}
	return ioctl(prod, MQDEV_IOC_PRODUCE, &req) == n ? 0 : -errno;
}

/* @n messages from @seq, as one record batch laid out in place. */
static int produce_record_batch(int prod, uint64_t seq, int n)
{
	static uint64_t buf[64 * SPACE / 8];
	struct mqdev_produce_batch req = {
		.records = (uintptr_t)buf, .len = n * SPACE,
	};
	struct mqdev_record *rec;
	int i;

	for (i = 0; i < n; i++) {
		rec = (void *)((char *)buf + i * SPACE);
		memset(rec, 0, sizeof(*rec));
		rec->len = sizeof(*rec) + VALUE;
		seeded_value((char *)(rec + 1), seq + i);
	}
	return ioctl(prod, MQDEV_IOC_PRODUCE_BATCH, &req) ? -errno : 0;
}

/*
 * As fast as it can, each value seeded by its sequence: messages 64 at a
 * time, or record batches of 32 (a quarter of the 8 KiB ring).
 */
static void *overwriting_producer(void *arg)
{
	struct producer_arg *a = arg;
	int per_call = a->record_batches ? 32 : 64, n;
	uint64_t seq;

	for (seq = 0; seq < a->count && !a->err; seq += n) {
		n = a->count - seq < (uint64_t)per_call ? a->count - seq :
							  per_call;
		a->err = a->record_batches ? produce_record_batch(a->prod, seq, n) :
					     produce_msgs(a->prod, seq, n);
	}
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* A reader that takes its time over a record, so the producer laps it. */
static int slow_check(const struct mqdev_record *rec)
{
	volatile int spin;
	int ok = check_value(rec);

	for (spin = 0; spin < 20000; spin++)
		;
	return ok | check_value(rec);
}

/*
 * A reader that is lapped again and again, in place and by copy, must never
 * accept a record that was overwritten under it.
 */
static void never_torn(struct __test_metadata *_metadata, const char *name,
		       unsigned int flags, unsigned int run, bool record_batches)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts, .flags = flags);
	struct producer_arg a = {
		.count = 60000, .record_batches = record_batches,
	};
	const struct mqdev_record *recs[16];
	struct mqdev_consumer *c;
	uint64_t accepted = 0, stale = 0, bad = 0, last = 0;
	pthread_t t;
	int i, n;

	a.prod = attach(name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, a.prod);
	ASSERT_EQ(0, mqdev_consumer_new(name, &opts, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0, 0,
					 NULL));
	ASSERT_EQ(0, pthread_create(&t, NULL, overwriting_producer, &a));
	for (;;) {
		int done = __atomic_load_n(&a.done, __ATOMIC_ACQUIRE);

		while ((n = mqdev_consumer_peek_batch(c, recs, run)) > 0) {
			uint64_t off;
			int ok = 1;

			for (i = 0; i < n; i++) {
				ok &= slow_check(recs[i]) == 0;
				/* a run is consecutive: read before release */
				ok &= recs[i]->offset == recs[0]->offset + i;
			}
			off = recs[n - 1]->offset;
			if (mqdev_consumer_release(c) == -ESTALE) {
				stale += n;
				continue;
			}
			bad += !ok;
			EXPECT_LE(last, off);
			last = off;
			accepted += n;
		}
		if (done && !mqdev_consumer_peek(c))
			break;
	}
	pthread_join(t, NULL);
	EXPECT_EQ(0, a.err);
	EXPECT_EQ(0, bad);
	/* the point of the test: the reader was lapped, many times */
	EXPECT_LT(a.count / 10, mqdev_consumer_lost(c));
	EXPECT_EQ(0, mqdev_consumer_error(c));
	EXPECT_EQ(a.count - 1, last);
	/* every offset was either read or counted lost */
	EXPECT_EQ(a.count, accepted + mqdev_consumer_lost(c));
	TH_LOG("accepted %llu, lost %llu (of which %llu overwritten while held)",
	       (unsigned long long)accepted,
	       (unsigned long long)mqdev_consumer_lost(c),
	       (unsigned long long)stale);
	mqdev_consumer_free(c);
	close(a.prod);
}

TEST_F(policy, overwrite_never_torn_in_place)
{
	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 8192,
				  MQDEV_TOPIC_OVERWRITE));
	never_torn(_metadata, self->name, 0, 1, false);
}

TEST_F(policy, overwrite_never_torn_by_copy)
{
	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 8192,
				  MQDEV_TOPIC_OVERWRITE));
	never_torn(_metadata, self->name, MQDEV_CONSUMER_COPY, 1, false);
}

/* Runs of records held at once, lapped by a producer of record batches. */
TEST_F(policy, overwrite_never_torn_in_runs)
{
	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 8192,
				  MQDEV_TOPIC_OVERWRITE));
	never_torn(_metadata, self->name, 0, 16, true);
}

TEST_F(policy, overwrite_never_torn_in_runs_by_copy)
{
	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 8192,
				  MQDEV_TOPIC_OVERWRITE));
	never_torn(_metadata, self->name, MQDEV_CONSUMER_COPY, 16, true);
}

TEST_HARNESS_MAIN
