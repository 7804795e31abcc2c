// SPDX-License-Identifier: GPL-2.0
/*
 * Idempotent producers: a resent batch is appended once and acknowledged
 * with the first offsets, a sequence that skips ahead is refused, a restarted
 * named producer resumes its numbers and fences the instance before it, and
 * the detector finds gaps and repeats in what consumers see.
 */
#include "common.h"
#include "kselftest_harness.h"

#define N 10

FIXTURE(idem) {
	int fd;
	char name[MQDEV_NAME_MAX + 1];
	char producer[MQDEV_NAME_MAX + 1];
	struct mqdev_session *s;
	struct mqdev_producer *p;
	struct mqdev_msg msgs[2 * N];
	uint32_t values[2 * N];
};

FIXTURE_SETUP(idem)
{
	int i;

	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("idem"));
	snprintf(self->producer, sizeof(self->producer), "idem-%d", getpid());
	ASSERT_EQ(0, create_topic(self->fd, self->name, 2, 1 << 16, 0));
	ASSERT_EQ(0, mqdev_session_new(NULL, 0, &self->s));
	ASSERT_EQ(0, mqdev_producer_new(self->name, NULL, &self->p));
	ASSERT_EQ(0, mqdev_producer_bind(self->p, self->s));
	for (i = 0; i < 2 * N; i++) {
		self->values[i] = i;
		mqdev_msg_init(&self->msgs[i], NULL, 0, &self->values[i],
			       sizeof(self->values[i]), 1);
	}
}

FIXTURE_TEARDOWN(idem)
{
	mqdev_producer_free(self->p);
	mqdev_session_free(self->s);
	mqdev_topic_delete(self->fd, self->name);
	close(self->fd);
}

static uint64_t records_in(int fd, const char *name, uint32_t part)
{
	struct mqdev_partition_info parts[2];
	struct mqdev_topic_info info;

	if (mqdev_topic_describe(fd, name, &info, parts, 2))
		return ~0ULL;
	return parts[part].next_offset;
}

/* The same stamped batch, sent twice: appended once, acked the same twice. */
TEST_F(idem, retry_appends_once)
{
	uint64_t first[N];
	int i;

	EXPECT_NE(0, mqdev_session_producer_id(self->s));
	mqdev_producer_stamp(self->p, self->msgs, N);
	ASSERT_EQ(N, mqdev_produce(self->p, self->msgs, N));
	for (i = 0; i < N; i++) {
		EXPECT_EQ((uint32_t)i, self->msgs[i].sequence);
		EXPECT_EQ(0, self->msgs[i].status);
		first[i] = self->msgs[i].offset;
		self->msgs[i].offset = 0;
	}
	ASSERT_EQ(N, mqdev_produce(self->p, self->msgs, N));
	for (i = 0; i < N; i++) {
		EXPECT_EQ(MQDEV_MSG_DUPLICATE, self->msgs[i].status);
		EXPECT_EQ(first[i], self->msgs[i].offset);
	}
	EXPECT_EQ(N, records_in(self->fd, self->name, 1));

	/* Half old, half new: only the new half goes in. */
	mqdev_producer_stamp(self->p, self->msgs + N, N / 2);
	ASSERT_EQ(N, mqdev_produce(self->p, self->msgs + N / 2, N));
	for (i = N / 2; i < N; i++)
		EXPECT_EQ(MQDEV_MSG_DUPLICATE, self->msgs[i].status);
	for (i = N; i < N + N / 2; i++) {
		EXPECT_EQ(0, self->msgs[i].status);
		EXPECT_EQ((uint64_t)i, self->msgs[i].offset);
	}
	EXPECT_EQ(N + N / 2, records_in(self->fd, self->name, 1));
}

/* A number ahead of the one due is refused, and nothing goes in. */
TEST_F(idem, gap_refused)
{
	mqdev_producer_stamp(self->p, self->msgs, 3);
	self->msgs[2].sequence = 5;
	EXPECT_EQ(2, mqdev_produce(self->p, self->msgs, 3));
	EXPECT_EQ(-EBADMSG, mqdev_produce(self->p, self->msgs + 2, 1));
	EXPECT_EQ(2, records_in(self->fd, self->name, 1));
	self->msgs[2].sequence = 2;
	EXPECT_EQ(1, mqdev_produce(self->p, self->msgs + 2, 1));
	EXPECT_EQ(2, self->msgs[2].offset);
	EXPECT_EQ(3, mqdev_producer_next_sequence(self->p, 1));
}

/* A bound handle's messages need the larger layout and a known partition. */
TEST_F(idem, bound_needs_partition)
{
	struct mqdev_produce req = {
		.msgs = (uintptr_t)self->msgs, .count = 1,
		.msg_size = MQDEV_MSG_SIZE_VER0,
	};
	int fd = mqdev_producer_fd(self->p);

	EXPECT_EQ(-EINVAL, xioctl(fd, MQDEV_IOC_PRODUCE, &req));
	req.msg_size = sizeof(struct mqdev_msg);
	self->msgs[0].partition = MQDEV_PARTITION_ANY;
	EXPECT_EQ(-EINVAL, xioctl(fd, MQDEV_IOC_PRODUCE, &req));
	EXPECT_EQ(0, records_in(self->fd, self->name, 0));
	EXPECT_EQ(0, records_in(self->fd, self->name, 1));

	/* A key names its partition: the library numbers it there. */
	self->msgs[0].key = (uintptr_t)"k";
	self->msgs[0].key_len = 1;
	mqdev_producer_stamp(self->p, self->msgs, 1);
	EXPECT_EQ(mqdev_partition_for_key("k", 1, 2), self->msgs[0].partition);
	EXPECT_EQ(1, mqdev_produce(self->p, self->msgs, 1));
}

/* The send path numbers, acks duplicates never, and renumbers a refusal. */
struct acks {
	int n, errors;
	uint32_t seq[8];
};

static void count_ack(void *ctx, const struct mqdev_ack *ack)
{
	struct acks *a = ctx;

	if (ack->error)
		a->errors++;
	else if (a->n < 8)
		a->seq[a->n++] = ack->sequence;
}

TEST_F(idem, send_renumbers_refused)
{
	static char big[1 << 17], key[MQDEV_MAX_KEY + 1];
	struct acks a = {};
	uint32_t v = 7;

	mqdev_producer_set_ack(self->p, count_ack, &a);
	ASSERT_EQ(0, mqdev_producer_send(self->p, NULL, 0, &v, 4, 0, NULL));
	/* fits a record, but the kernel refuses a key that long: EINVAL */
	ASSERT_EQ(0, mqdev_producer_send(self->p, key, sizeof(key), &v, 4, 0,
					 NULL));
	ASSERT_EQ(0, mqdev_producer_send(self->p, NULL, 0, &v, 4, 0, NULL));
	EXPECT_EQ(2, mqdev_producer_flush(self->p));
	EXPECT_EQ(1, a.errors);
	ASSERT_EQ(2, a.n);
	EXPECT_EQ(0, a.seq[0]);
	EXPECT_EQ(1, a.seq[1]);
	EXPECT_EQ(2, mqdev_producer_next_sequence(self->p, 0));
	EXPECT_EQ(-EMSGSIZE, mqdev_producer_send(self->p, NULL, 0, big,
						 sizeof(big), 0, NULL));
}

/* A restarted named producer resumes, and the old instance is fenced. */
TEST_F(idem, restart_resumes_and_fences)
{
	struct mqdev_session *a, *b;
	struct mqdev_producer *pa, *pb;
	uint64_t id, offsets[N];
	int i;

	ASSERT_EQ(0, mqdev_session_new(self->producer, 0, &a));
	ASSERT_EQ(0, mqdev_producer_new(self->name, NULL, &pa));
	ASSERT_EQ(0, mqdev_producer_bind(pa, a));
	id = mqdev_session_producer_id(a);
	mqdev_producer_stamp(pa, self->msgs, N);
	ASSERT_EQ(N, mqdev_produce(pa, self->msgs, N));
	for (i = 0; i < N; i++)
		offsets[i] = self->msgs[i].offset;

	/* The second instance comes up while the first still runs. */
	ASSERT_EQ(0, mqdev_session_new(self->producer, 0, &b));
	EXPECT_EQ(id, mqdev_session_producer_id(b));
	EXPECT_EQ(mqdev_session_epoch(a) + 1, mqdev_session_epoch(b));
	ASSERT_EQ(0, mqdev_producer_new(self->name, NULL, &pb));
	ASSERT_EQ(0, mqdev_producer_bind(pb, b));
	EXPECT_EQ(N, mqdev_producer_next_sequence(pb, 1));
	EXPECT_EQ(0, mqdev_producer_next_sequence(pb, 0));

	/* The old one can append nothing more. */
	mqdev_producer_stamp(pa, self->msgs + N, 1);
	EXPECT_EQ(-ESTALE, mqdev_produce(pa, self->msgs + N, 1));
	EXPECT_EQ(N, records_in(self->fd, self->name, 1));

	/* The new one resending the old batch gets the old acks. */
	for (i = 0; i < N; i++)
		self->msgs[i].offset = 0;
	ASSERT_EQ(N, mqdev_produce(pb, self->msgs, N));
	for (i = 0; i < N; i++) {
		EXPECT_EQ(MQDEV_MSG_DUPLICATE, self->msgs[i].status);
		EXPECT_EQ(offsets[i], self->msgs[i].offset);
	}
	EXPECT_EQ(N, records_in(self->fd, self->name, 1));

	mqdev_producer_free(pa);
	mqdev_session_free(a);
	mqdev_producer_free(pb);
	mqdev_session_free(b);
}

static int use_name(void *arg)
{
	struct mqdev_session *s;
	int err = mqdev_session_new(arg, 0, &s);

	if (!err)
		mqdev_session_free(s);
	return -err;
}

/* A name is its first user's (or root's). */
TEST_F(idem, name_belongs_to_user)
{
	struct mqdev_session *s;

	ASSERT_EQ(0, mqdev_session_new(self->producer, 0, &s));
	mqdev_session_free(s);
	EXPECT_EQ(EPERM, as_user(USER_UID, use_name, self->producer));
	EXPECT_EQ(0, as_user(USER_UID, use_name, "idem-users-own"));
}

TEST_F(idem, bad_input)
{
	struct mqdev_producer_init init = {};
	struct mqdev_producer_bind bind = {};
	struct mqdev_attach at = { .flags = MQDEV_ATTACH_PRODUCE };
	uint32_t next[4];
	int h = mqdev_open(), prod;

	ASSERT_LE(0, h);
	init.flags = 1;
	EXPECT_EQ(-EINVAL, xioctl(h, MQDEV_IOC_PRODUCER_INIT, &init));
	init.flags = 0;
	init.reserved2[1] = 1;
	EXPECT_EQ(-EINVAL, xioctl(h, MQDEV_IOC_PRODUCER_INIT, &init));
	init.reserved2[1] = 0;
	init.txn_timeout_ms = 16 * 60 * 1000;
	EXPECT_EQ(-EINVAL, xioctl(h, MQDEV_IOC_PRODUCER_INIT, &init));
	init.txn_timeout_ms = 0;
	memset(init.name, 'x', sizeof(init.name));
	EXPECT_EQ(-EINVAL, xioctl(h, MQDEV_IOC_PRODUCER_INIT, &init));
	memset(init.name, 0, sizeof(init.name));
	EXPECT_EQ(0, xioctl(h, MQDEV_IOC_PRODUCER_INIT, &init));
	EXPECT_NE(0, init.producer_id);
	EXPECT_EQ(-EINVAL, xioctl(h, MQDEV_IOC_PRODUCER_INIT, &init));
	memset(&init, 0, sizeof(init));		/* outputs must come in zero */
	EXPECT_EQ(-EBUSY, xioctl(h, MQDEV_IOC_PRODUCER_INIT, &init));

	/* A session is not a topic handle, and a topic handle no session. */
	mqdev_name_set(at.name, self->name);
	EXPECT_EQ(-EBUSY, xioctl(h, MQDEV_IOC_ATTACH, &at));
	prod = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, prod);
	memset(&init, 0, sizeof(init));
	EXPECT_EQ(-EBUSY, xioctl(prod, MQDEV_IOC_PRODUCER_INIT, &init));

	bind.next_seq = (uintptr_t)next;
	bind.next_seq_count = 4;
	bind.session_fd = -1;
	EXPECT_EQ(-EBADF, xioctl(prod, MQDEV_IOC_PRODUCER_BIND, &bind));
	bind.session_fd = self->fd;		/* not a session */
	EXPECT_EQ(-EINVAL, xioctl(prod, MQDEV_IOC_PRODUCER_BIND, &bind));
	bind.session_fd = h;
	bind.next_seq_count = 1;
	EXPECT_EQ(-EINVAL, xioctl(prod, MQDEV_IOC_PRODUCER_BIND, &bind));
	bind.next_seq_count = 4;
	bind.seq_size = 1;		/* smaller than a sequence number */
	EXPECT_EQ(-EINVAL, xioctl(prod, MQDEV_IOC_PRODUCER_BIND, &bind));
	bind.seq_size = 0;
	bind.next_seq = 8;
	EXPECT_EQ(-EFAULT, xioctl(prod, MQDEV_IOC_PRODUCER_BIND, &bind));
	bind.next_seq = (uintptr_t)next;
	EXPECT_EQ(0, xioctl(prod, MQDEV_IOC_PRODUCER_BIND, &bind));
	EXPECT_EQ(-EBUSY, xioctl(prod, MQDEV_IOC_PRODUCER_BIND, &bind));
	/* a session handle cannot bind, and a consumer cannot */
	EXPECT_EQ(-EBADFD, xioctl(h, MQDEV_IOC_PRODUCER_BIND, &bind));
	close(prod);
	close(h);
}

/* ---- the detector ------------------------------------------------------- */

struct found {
	int gaps, repeats;
	uint32_t missing;
};

static void note_anomaly(void *ctx, const struct mqdev_anomaly *a)
{
	struct found *f = ctx;

	if (a->kind == MQDEV_ANOMALY_GAP) {
		f->gaps++;
		f->missing += a->count;
	} else {
		f->repeats++;
	}
}

static struct mqdev_record fake(uint32_t part, uint64_t id, uint32_t seq)
{
	struct mqdev_record rec = {
		.len = sizeof(rec), .partition = part, .producer_id = id,
		.sequence = seq,
	};

	return rec;
}

TEST(detector_counts)
{
	static const uint32_t seqs[] = { 0, 1, 4, 4, 5, 2, 6 };
	LIBMQDEV_OPTS(mqdev_verify_stats, st);
	struct mqdev_verifier *v;
	struct mqdev_record rec;
	struct found f = {};
	unsigned int i;

	ASSERT_EQ(-EINVAL, mqdev_verifier_new(8, NULL, NULL, &v));
	ASSERT_EQ(0, mqdev_verifier_new(MQDEV_VERIFY_FROM_START, note_anomaly,
					&f, &v));
	for (i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		rec = fake(0, 9, seqs[i]);
		mqdev_verifier_check(v, &rec);
		/* another producer, another partition: their own streams */
		rec = fake(1, 9, i);
		mqdev_verifier_check(v, &rec);
		rec = fake(0, 10, i);
		mqdev_verifier_check(v, &rec);
	}
	rec = fake(0, 0, 77);		/* no producer: not checked */
	EXPECT_EQ(0, mqdev_verifier_check(v, &rec));
	rec = fake(2, 11, 3);		/* from the start: 0..2 missing */
	EXPECT_EQ(MQDEV_ANOMALY_GAP, mqdev_verifier_check(v, &rec));
	mqdev_verifier_stats(v, &st);
	EXPECT_EQ(21 + 1, st.records);
	EXPECT_EQ(4, st.producers);
	EXPECT_EQ(2, st.gaps);
	EXPECT_EQ(2 + 3, st.missing);
	EXPECT_EQ(2, st.repeats);
	EXPECT_EQ(2, f.gaps);
	EXPECT_EQ(5, f.missing);
	EXPECT_EQ(2, f.repeats);
	mqdev_verifier_free(v);
}

/* Records an overwriting topic dropped before a slow reader got to them. */
TEST_F(idem, detector_finds_overwritten)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts);
	LIBMQDEV_OPTS(mqdev_verify_stats, st);
	struct mqdev_consumer *c;
	struct mqdev_verifier *v;
	struct mqdev_producer *p;
	struct mqdev_session *s;
	char name[MQDEV_NAME_MAX + 1], value[200] = "";
	uint64_t read = 0;
	int i, total = 200;

	strcpy(name, topic_name("idem-ow"));
	ASSERT_EQ(0, create_topic(self->fd, name, 1, 4096,
				  MQDEV_TOPIC_OVERWRITE));
	ASSERT_EQ(0, mqdev_session_new(NULL, 0, &s));
	ASSERT_EQ(0, mqdev_producer_new(name, NULL, &p));
	ASSERT_EQ(0, mqdev_producer_bind(p, s));
	ASSERT_EQ(0, mqdev_verifier_new(MQDEV_VERIFY_FROM_START, NULL, NULL,
					&v));
	opts.verifier = v;
	ASSERT_EQ(0, mqdev_consumer_new(name, &opts, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0, 0, NULL));

	/* Read a few as they come, then fall behind by far more than fits. */
	for (i = 0; i < total; i++) {
		ASSERT_EQ(0, mqdev_producer_send(p, NULL, 0, value,
						 sizeof(value), 0, NULL));
		ASSERT_EQ(1, mqdev_producer_flush(p));
		if (i < 5 || i == total - 1) {
			while (mqdev_consumer_peek(c)) {
				mqdev_consumer_release(c);
				read++;
			}
		}
	}
	mqdev_verifier_stats(v, &st);
	EXPECT_EQ(read, st.records);
	EXPECT_LT(0, st.gaps);
	EXPECT_EQ(total - read, st.missing);
	EXPECT_EQ(mqdev_consumer_lost(c), st.missing);
	EXPECT_EQ(0, st.repeats);

	mqdev_consumer_free(c);
	mqdev_verifier_free(v);
	mqdev_producer_free(p);
	mqdev_session_free(s);
	mqdev_topic_delete(self->fd, name);
}

/* A group member that dies before committing: its records come again. */
TEST_F(idem, detector_finds_redelivered)
{
	char group[MQDEV_NAME_MAX + 1];
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts);
	LIBMQDEV_OPTS(mqdev_verify_stats, st);
	struct mqdev_consumer *c;
	struct mqdev_verifier *v;
	int round, i;

	snprintf(group, sizeof(group), "g-%d", getpid());
	for (i = 0; i < N; i++)
		ASSERT_EQ(0, mqdev_producer_send(self->p, NULL, 0, &i,
						 sizeof(i), 1, NULL));
	ASSERT_EQ(N, mqdev_producer_flush(self->p));
	ASSERT_EQ(0, mqdev_verifier_new(MQDEV_VERIFY_FROM_START, NULL, NULL,
					&v));
	opts.verifier = v;
	for (round = 0; round < 2; round++) {
		ASSERT_EQ(0, mqdev_consumer_new(self->name, &opts, &c));
		ASSERT_EQ(0, mqdev_consumer_join(c, group,
						 MQDEV_SEEK_EARLIEST));
		for (i = 0; i < N && mqdev_consumer_peek(c); i++)
			mqdev_consumer_release(c);
		EXPECT_EQ(N, i);
		mqdev_consumer_free(c);		/* no commit */
	}
	mqdev_verifier_stats(v, &st);
	EXPECT_EQ(2 * N, st.records);
	EXPECT_EQ(N, st.repeats);
	EXPECT_EQ(0, st.gaps);
	mqdev_verifier_free(v);
}

TEST_HARNESS_MAIN
