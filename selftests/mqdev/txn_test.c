// SPDX-License-Identifier: GPL-2.0
/*
 * Transactions ("half" messages): invisible until the commit, all visible
 * at once after it, never after an abort; a dead or late producer's open
 * transaction resolved by its checker, or aborted; group offsets committed
 * with the transaction; limits and bad input.
 */
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include "common.h"
#include "kselftest_harness.h"

#define PARTS 4

FIXTURE(txn) {
	int fd;
	char name[MQDEV_NAME_MAX + 1], other[MQDEV_NAME_MAX + 1];
	char producer[MQDEV_NAME_MAX + 1];
	char third[MQDEV_NAME_MAX + 1];	/* a test's own topic, if any */
	struct mqdev_session *s;
	struct mqdev_producer *p, *q;	/* to name and other */
};

FIXTURE_SETUP(txn)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("txn"));
	strcpy(self->other, topic_name("txn-other"));
	snprintf(self->producer, sizeof(self->producer), "txn-%d", getpid());
	ASSERT_EQ(0, create_topic(self->fd, self->name, PARTS, 1 << 18, 0));
	ASSERT_EQ(0, create_topic(self->fd, self->other, 1, 1 << 18, 0));
	ASSERT_EQ(0, mqdev_session_new(self->producer, 0, &self->s));
	ASSERT_EQ(0, mqdev_producer_new(self->name, NULL, &self->p));
	ASSERT_EQ(0, mqdev_producer_new(self->other, NULL, &self->q));
	ASSERT_EQ(0, mqdev_producer_bind(self->p, self->s));
	ASSERT_EQ(0, mqdev_producer_bind(self->q, self->s));
}

/* Everything queued in the fixture's producers goes in. */
static int flush_both(FIXTURE_DATA(txn) *self)
{
	int a = mqdev_producer_flush(self->p), b = mqdev_producer_flush(self->q);

	return a < 0 ? a : b < 0 ? b : 0;
}

FIXTURE_TEARDOWN(txn)
{
	mqdev_producer_free(self->p);
	mqdev_producer_free(self->q);
	mqdev_session_free(self->s);
	mqdev_topic_delete(self->fd, self->name);
	mqdev_topic_delete(self->fd, self->other);
	if (self->third[0])
		mqdev_topic_delete(self->fd, self->third);
	close(self->fd);
}

/* Send @n values base.. to every partition of name and to other. */
static int send_all(struct mqdev_producer *p, struct mqdev_producer *q,
		    uint32_t base, int n)
{
	uint32_t v;
	int i, part, err;

	for (i = 0; i < n; i++) {
		v = base + i;
		for (part = 0; part < PARTS; part++) {
			err = mqdev_producer_send(p, NULL, 0, &v, sizeof(v),
						  part, NULL);
			if (err)
				return err;
		}
		if (q) {
			err = mqdev_producer_send(q, NULL, 0, &v, sizeof(v), 0,
						  NULL);
			if (err)
				return err;
		}
	}
	return 0;
}

/* Records a consumer can take now, without waiting. */
static int drain(struct mqdev_consumer *c)
{
	int n = 0;

	while (mqdev_consumer_peek(c)) {
		mqdev_consumer_release(c);
		n++;
	}
	return n;
}

static struct mqdev_consumer *
reader_opts(const char *name, const struct mqdev_consumer_opts *opts)
{
	struct mqdev_consumer *c;

	if (mqdev_consumer_new(name, opts, &c))
		return NULL;
	if (mqdev_consumer_seek(c, MQDEV_PARTITION_ALL, MQDEV_SEEK_EARLIEST, 0,
				0, NULL)) {
		mqdev_consumer_free(c);
		return NULL;
	}
	return c;
}

static struct mqdev_consumer *reader(const char *name, unsigned int flags)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts, .flags = flags);

	return reader_opts(name, &opts);
}

TEST_F(txn, invisible_until_commit)
{
	struct mqdev_consumer *c = reader(self->name, 0);
	struct mqdev_consumer *cc = reader(self->name, MQDEV_CONSUMER_COPY);
	struct mqdev_consumer *co = reader(self->other, 0);
	const struct mqdev_record *rec;
	uint32_t v, expect[PARTS] = {};
	int i;

	ASSERT_TRUE(c && cc && co);
	ASSERT_EQ(0, mqdev_txn_begin(self->s, 7));
	EXPECT_NE(0, mqdev_txn_id(self->s));
	ASSERT_EQ(0, send_all(self->p, self->q, 0, 25));
	ASSERT_EQ(0, flush_both(self));

	/* In the ring, and no reader gets any of it, or is woken for it. */
	EXPECT_EQ(0, mqdev_consumer_wait(c, 50));
	EXPECT_EQ(0, drain(c));
	EXPECT_EQ(0, mqdev_consumer_wait(cc, 50));
	EXPECT_EQ(0, drain(cc));
	EXPECT_EQ(0, drain(co));
	EXPECT_EQ(0, mqdev_consumer_error(c));

	ASSERT_EQ(0, mqdev_txn_commit(self->s));
	EXPECT_EQ(1, mqdev_consumer_wait(c, 1000));
	for (i = 0; i < 25 * PARTS; i++) {
		rec = mqdev_consumer_peek(c);
		ASSERT_NE(NULL, rec);
		memcpy(&v, mqdev_record_value(rec), sizeof(v));
		EXPECT_EQ(expect[rec->partition]++, v);	/* in order */
		EXPECT_EQ(mqdev_session_producer_id(self->s), rec->producer_id);
		EXPECT_EQ(v, rec->sequence);
		mqdev_consumer_release(c);
	}
	EXPECT_EQ(NULL, mqdev_consumer_peek(c));
	EXPECT_EQ(25 * PARTS, drain(cc));
	EXPECT_EQ(25, drain(co));
	EXPECT_EQ(0, mqdev_consumer_lost(c));
	mqdev_consumer_free(c);
	mqdev_consumer_free(cc);
	mqdev_consumer_free(co);
}

/* Records after an open transaction's wait for it; order is kept. */
TEST_F(txn, plain_records_wait_behind)
{
	struct mqdev_producer *plain;
	const struct mqdev_record *rec;
	struct mqdev_consumer *c;
	uint32_t v = 100, got[2];
	int i;

	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 2, MQDEV_SEEK_EARLIEST, 0, 0,
					 NULL));
	ASSERT_EQ(0, mqdev_producer_new(self->name, NULL, &plain));
	ASSERT_EQ(0, mqdev_txn_begin(self->s, 0));
	ASSERT_EQ(0, send_all(self->p, NULL, 1, 1));
	ASSERT_EQ(0, flush_both(self));
	ASSERT_EQ(0, mqdev_producer_send(plain, NULL, 0, &v, 4, 2, NULL));
	ASSERT_EQ(1, mqdev_producer_flush(plain));
	EXPECT_EQ(0, drain(c));
	ASSERT_EQ(0, mqdev_txn_commit(self->s));
	for (i = 0; i < 2; i++) {
		rec = mqdev_consumer_peek(c);
		ASSERT_NE(NULL, rec);
		memcpy(&got[i], mqdev_record_value(rec), 4);
		mqdev_consumer_release(c);
	}
	EXPECT_EQ(1, got[0]);
	EXPECT_EQ(100, got[1]);
	mqdev_producer_free(plain);
	mqdev_consumer_free(c);
}

TEST_F(txn, abort_leaves_nothing)
{
	struct mqdev_consumer *cc = reader(self->name, MQDEV_CONSUMER_COPY);
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts);
	LIBMQDEV_OPTS(mqdev_verify_stats, st);
	struct mqdev_consumer *c;
	struct mqdev_verifier *v;
	struct mqdev_record *rec;
	char buf[4096];
	ssize_t n;
	int raw, aborted = 0, off;

	ASSERT_TRUE(cc != NULL);
	ASSERT_EQ(0, mqdev_verifier_new(MQDEV_VERIFY_FROM_START, NULL, NULL,
					&v));
	opts.verifier = v;
	c = reader_opts(self->name, &opts);
	ASSERT_TRUE(c != NULL);
	ASSERT_EQ(0, mqdev_txn_begin(self->s, 0));
	ASSERT_EQ(0, send_all(self->p, self->q, 0, 10));
	ASSERT_EQ(0, mqdev_txn_abort(self->s));
	ASSERT_EQ(0, mqdev_txn_begin(self->s, 0));
	ASSERT_EQ(0, send_all(self->p, NULL, 10, 1));
	ASSERT_EQ(0, mqdev_txn_commit(self->s));

	/* Readers see only the committed one in each partition. */
	EXPECT_EQ(PARTS, drain(c));
	EXPECT_EQ(10 * PARTS, mqdev_consumer_aborted(c));
	EXPECT_EQ(PARTS, drain(cc));
	EXPECT_EQ(10 * PARTS, mqdev_consumer_aborted(cc));
	mqdev_verifier_stats(v, &st);
	EXPECT_EQ(11 * PARTS, st.records);	/* the aborted used numbers */
	EXPECT_EQ(0, st.gaps + st.repeats);

	/* read(2) itself hands aborted records out marked, to be skipped. */
	raw = attach(self->other, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, raw);
	ASSERT_EQ(0, seek(raw, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
	n = read(raw, buf, sizeof(buf));
	ASSERT_LT(0, n);
	for (off = 0; off < n; off += MQDEV_RECORD_SPACE(rec->len)) {
		rec = (struct mqdev_record *)(buf + off);
		EXPECT_TRUE(rec->flags & MQDEV_RECORD_TXN);
		aborted += !!(rec->flags & MQDEV_RECORD_ABORTED);
	}
	EXPECT_EQ(10, aborted);
	close(raw);
	mqdev_verifier_free(v);
	mqdev_consumer_free(c);
	mqdev_consumer_free(cc);
}

/*
 * A producer commits and aborts transactions of K records in every
 * partition while a reader watches: the moment it sees one record of a
 * transaction, the rest of it, in every partition, must be there to read
 * without waiting; and no record of an aborted one ever shows.
 */
#define ROUNDS 60
#define K 5

static void txn_loop(const char *topic, const char *producer)
{
	struct mqdev_producer *p;
	struct mqdev_session *s;
	uint32_t v;
	int t, i, part;

	if (mqdev_session_new(producer, 0, &s) ||
	    mqdev_producer_new(topic, NULL, &p) || mqdev_producer_bind(p, s))
		_exit(2);
	for (t = 1; t <= ROUNDS; t++) {
		if (mqdev_txn_begin(s, t))
			_exit(3);
		for (i = 0; i < K; i++)
			for (part = 0; part < PARTS; part++) {
				v = t;
				if (mqdev_producer_send(p, NULL, 0, &v, 4, part,
							NULL))
					_exit(4);
				if (i == 2)	/* some go in early */
					mqdev_producer_flush(p);
			}
		if ((t % 3 ? mqdev_txn_commit(s) : mqdev_txn_abort(s)))
			_exit(5);
	}
	_exit(0);
}

static uint32_t value_of(const struct mqdev_record *rec)
{
	uint32_t v;

	memcpy(&v, mqdev_record_value(rec), 4);
	return v;
}

static void all_at_once(struct __test_metadata *_metadata,
			FIXTURE_DATA(txn) *self, unsigned int flags)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts, .flags = flags);
	struct mqdev_consumer *c[PARTS];
	const struct mqdev_record *rec;
	int counts[PARTS][ROUNDS + 1] = {};
	int part, q, status, seen = 0;
	uint32_t t;
	pid_t pid;

	for (part = 0; part < PARTS; part++) {
		ASSERT_EQ(0, mqdev_consumer_new(self->name, &opts, &c[part]));
		ASSERT_EQ(0, mqdev_consumer_seek(c[part], part,
						 MQDEV_SEEK_EARLIEST, 0, 0,
						 NULL));
	}
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		txn_loop(self->name, self->producer);

	while (seen < ROUNDS - ROUNDS / 3) {
		ASSERT_LE(0, mqdev_consumer_wait(c[0], 5000));
		rec = mqdev_consumer_peek(c[0]);
		if (!rec)
			continue;
		t = value_of(rec);
		ASSERT_NE(0, t % 3);		/* never an aborted one */
		ASSERT_GE(ROUNDS, t);
		counts[0][t]++;
		mqdev_consumer_release(c[0]);
		if (counts[0][t] != 1)
			continue;
		/* First sight of t: all of t must be readable everywhere. */
		for (q = 1; q < PARTS; q++) {
			while (counts[q][t] < K) {
				rec = mqdev_consumer_peek(c[q]);
				ASSERT_NE(NULL, rec) {
					TH_LOG("txn %u: partition %d had %d of %d",
					       t, q, counts[q][t], K);
				}
				ASSERT_NE(0, value_of(rec) % 3);
				counts[q][value_of(rec)]++;
				mqdev_consumer_release(c[q]);
			}
		}
		seen++;
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	for (part = 0; part < PARTS; part++) {
		while ((rec = mqdev_consumer_peek(c[part]))) {
			counts[part][value_of(rec)]++;
			mqdev_consumer_release(c[part]);
		}
		EXPECT_EQ(K * (ROUNDS / 3), mqdev_consumer_aborted(c[part]));
		mqdev_consumer_free(c[part]);
	}
	for (t = 1; t <= ROUNDS; t++)
		for (part = 0; part < PARTS; part++)
			EXPECT_EQ(t % 3 ? K : 0, counts[part][t]);
}

TEST_F(txn, all_at_once)
{
	all_at_once(_metadata, self, 0);
}

/*
 * The same through read(2), which marks each copy with its transaction's
 * outcome: a copy taken before an abort's mark landed in the ring once went
 * out unmarked, as if committed (mqtorture found it).
 */
TEST_F(txn, all_at_once_copying)
{
	all_at_once(_metadata, self, MQDEV_CONSUMER_COPY);
}

/*
 * read(2) copies plain records in runs; a run ends at a transaction's
 * record.  A plain record, then an open transaction's, then plain ones:
 * one read gets only the first, then nothing until the commit, then the
 * transaction's record marked committed and the plain ones after it.
 */
TEST_F(txn, read_stops_a_run_at_an_open_transaction)
{
	size_t space = MQDEV_RECORD_SPACE(sizeof(struct mqdev_record) + 4);
	const struct mqdev_record *rec;
	char buf[4096];
	uint32_t v = 1;
	int plain, cons, i;

	plain = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, plain);
	cons = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, cons);
	ASSERT_EQ(0, fcntl(cons, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(0, seek(cons, 0, MQDEV_SEEK_EARLIEST, NULL, 0));

	ASSERT_EQ(0, produce_one(plain, 0, NULL, 0, &v, 4, NULL));
	ASSERT_EQ(0, mqdev_txn_begin(self->s, 0));
	ASSERT_EQ(0, mqdev_producer_send(self->p, NULL, 0, &v, 4, 0, NULL));
	ASSERT_EQ(1, mqdev_producer_flush(self->p));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, produce_one(plain, 0, NULL, 0, &v, 4, NULL));

	EXPECT_EQ(space, read(cons, buf, sizeof(buf)));
	rec = (const void *)buf;
	EXPECT_EQ(0, rec->offset);
	EXPECT_EQ(-1, read(cons, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);

	ASSERT_EQ(0, mqdev_txn_commit(self->s));
	EXPECT_EQ(4 * space, read(cons, buf, sizeof(buf)));
	EXPECT_EQ(1, rec->offset);
	EXPECT_TRUE(rec->flags & MQDEV_RECORD_COMMITTED);
	rec = (const void *)(buf + 3 * space);
	EXPECT_EQ(4, rec->offset);
	close(cons);
	close(plain);
}

/* ---- when the producer cannot decide -------------------------------------- */

/* The next checker question, within @ms. */
static int next_question(struct mqdev_nl *nl, struct mqdev_event *ev, int ms)
{
	int ret;

	do {
		ret = mqdev_nl_event(nl, ev, ms);
	} while (ret == 1 && ev->cmd != MQDEV_CMD_TXN_CHECK);
	return ret;
}

static void checker_answers(struct __test_metadata *_metadata,
			    FIXTURE_DATA(txn) *self, uint32_t decision)
{
	struct mqdev_consumer *c = reader(self->name, 0);
	char name[MQDEV_NAME_MAX + 1];
	LIBMQDEV_OPTS(mqdev_event, ev);
	struct mqdev_nl *nl;
	uint64_t id;

	snprintf(name, sizeof(name), "%.40s-%u", self->producer, decision);
	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, mqdev_nl_open(&nl));
	ASSERT_EQ(0, mqdev_nl_checker_register(nl, name));
	id = open_and_die(self->name, name, 4242, 0);
	ASSERT_NE(0, id);

	ASSERT_EQ(1, next_question(nl, &ev, 5000));
	EXPECT_STREQ(name, ev.producer);
	EXPECT_EQ(id, ev.txn);
	EXPECT_EQ(4242, ev.cookie);
	EXPECT_NE(0, ev.producer_id);
	/* Undecided until the answer: nothing to read. */
	EXPECT_EQ(0, drain(c));
	ASSERT_EQ(0, mqdev_txn_resolve(nl, name, id, decision));
	EXPECT_EQ(-ENOENT, mqdev_txn_resolve(nl, name, id, decision));
	EXPECT_STREQ("no such undecided transaction", mqdev_nl_error(nl));

	EXPECT_EQ(1, mqdev_consumer_wait(c, 1000));
	EXPECT_EQ(decision == MQDEV_TXN_COMMIT ? 3 : 0, drain(c));
	EXPECT_EQ(decision == MQDEV_TXN_COMMIT ? 0 : 3,
		  mqdev_consumer_aborted(c));
	mqdev_nl_close(nl);
	mqdev_consumer_free(c);
}

TEST_F(txn, dead_producer_checker_commits)
{
	checker_answers(_metadata, self, MQDEV_TXN_COMMIT);
}

TEST_F(txn, dead_producer_checker_aborts)
{
	checker_answers(_metadata, self, MQDEV_TXN_ABORT);
}

TEST_F(txn, dead_producer_no_checker)
{
	struct mqdev_consumer *c = reader(self->name, 0);
	char name[MQDEV_NAME_MAX + 1];

	ASSERT_NE(NULL, c);
	snprintf(name, sizeof(name), "%.40s-none", self->producer);
	ASSERT_NE(0, open_and_die(self->name, name, 1, 0));
	EXPECT_EQ(1, mqdev_consumer_wait(c, 2000));
	EXPECT_EQ(0, drain(c));
	EXPECT_EQ(3, mqdev_consumer_aborted(c));
	mqdev_consumer_free(c);
}

/* A checker that says "don't know" is asked again, then gives way to abort. */
TEST_F(txn, silent_checker_aborts)
{
	struct mqdev_consumer *c = reader(self->name, 0);
	char name[MQDEV_NAME_MAX + 1];
	LIBMQDEV_OPTS(mqdev_event, ev);
	struct mqdev_nl *nl;
	int asked = 0;
	uint64_t id;

	snprintf(name, sizeof(name), "%.40s-silent", self->producer);
	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, mqdev_nl_open(&nl));
	ASSERT_EQ(0, mqdev_nl_checker_register(nl, name));
	id = open_and_die(self->name, name, 5, 100);
	ASSERT_NE(0, id);
	while (next_question(nl, &ev, 1000) == 1) {
		EXPECT_EQ(id, ev.txn);
		asked++;
		if (asked == 1)
			EXPECT_EQ(0, mqdev_txn_resolve(nl, name, id,
						       MQDEV_TXN_UNKNOWN));
	}
	EXPECT_EQ(3, asked);
	EXPECT_EQ(0, drain(c));
	EXPECT_EQ(3, mqdev_consumer_aborted(c));
	EXPECT_EQ(-ENOENT, mqdev_txn_resolve(nl, name, id, MQDEV_TXN_COMMIT));
	mqdev_nl_close(nl);
	mqdev_consumer_free(c);
}

/* A live producer that lets its transaction time out loses it. */
TEST_F(txn, timeout_aborts)
{
	struct mqdev_consumer *c = reader(self->name, 0);
	struct mqdev_txn req = { .op = MQDEV_TXN_BEGIN };
	struct mqdev_session *s, *raw;
	struct mqdev_producer *p;

	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, mqdev_session_new(NULL, 100, &s));
	ASSERT_EQ(0, mqdev_producer_new(self->name, NULL, &p));
	ASSERT_EQ(0, mqdev_producer_bind(p, s));
	ASSERT_EQ(0, mqdev_txn_begin(s, 0));
	ASSERT_EQ(0, send_all(p, NULL, 0, 2));
	ASSERT_EQ(2 * PARTS, mqdev_producer_flush(p));
	usleep(400 * 1000);
	/* Its appends are refused, and so is the commit. */
	EXPECT_EQ(0, send_all(p, NULL, 0, 1));
	EXPECT_EQ(0, mqdev_producer_flush(p));
	EXPECT_EQ(-ETIMEDOUT, mqdev_txn_commit(s));
	EXPECT_EQ(0, drain(c));
	EXPECT_EQ(2 * PARTS, mqdev_consumer_aborted(c));
	/* ...and the session goes on with a new one. */
	ASSERT_EQ(0, mqdev_txn_begin(s, 0));
	ASSERT_EQ(0, mqdev_txn_commit(s));

	/* The commit's answer says what became of the transaction. */
	ASSERT_EQ(0, mqdev_session_new(NULL, 100, &raw));
	ASSERT_EQ(0, xioctl(mqdev_session_fd(raw), MQDEV_IOC_TXN, &req));
	usleep(400 * 1000);
	req.op = MQDEV_TXN_COMMIT;
	EXPECT_EQ(-ETIMEDOUT, xioctl(mqdev_session_fd(raw), MQDEV_IOC_TXN,
				     &req));
	EXPECT_EQ(MQDEV_TXN_ABORT, req.op);
	mqdev_session_free(raw);
	mqdev_producer_free(p);
	mqdev_session_free(s);
	mqdev_consumer_free(c);
}

/* A fenced instance's open transaction is taken from it. */
TEST_F(txn, fenced_instance_loses_txn)
{
	struct mqdev_consumer *c = reader(self->name, 0);
	struct mqdev_txn req = { .op = MQDEV_TXN_COMMIT };
	struct mqdev_session *s2;

	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, mqdev_txn_begin(self->s, 0));
	ASSERT_EQ(0, send_all(self->p, NULL, 0, 1));
	ASSERT_EQ(0, flush_both(self));
	ASSERT_EQ(0, mqdev_session_new(self->producer, 0, &s2));
	EXPECT_EQ(-ESTALE, xioctl(mqdev_session_fd(self->s), MQDEV_IOC_TXN,
				  &req));
	EXPECT_EQ(0, req.op);		/* not ours to know any more */
	EXPECT_EQ(-ESTALE, mqdev_txn_commit(self->s));
	EXPECT_EQ(1, mqdev_consumer_wait(c, 2000));
	EXPECT_EQ(0, drain(c));
	EXPECT_EQ(PARTS, mqdev_consumer_aborted(c));
	mqdev_session_free(s2);
	mqdev_consumer_free(c);
}

/* ---- offsets in the transaction -------------------------------------------- */

static int committed_cb(void *ctx, const struct mqdev_group_info *info)
{
	uint64_t *out = ctx;
	uint32_t i;

	for (i = 0; i < info->nr_parts; i++)
		out[info->part[i].partition] = info->part[i].committed ?
					       info->part[i].position : ~0ULL;
	return 0;
}

TEST_F(txn, offsets_with_txn)
{
	char group[MQDEV_NAME_MAX + 1];
	struct mqdev_consumer *in, *in2, *out;
	const struct mqdev_record *rec;
	struct mqdev_producer *src;
	uint64_t committed[1];
	struct mqdev_nl *nl;
	uint32_t v;
	int i;

	snprintf(group, sizeof(group), "xform-%d", getpid());
	ASSERT_EQ(0, mqdev_nl_open(&nl));
	ASSERT_EQ(0, mqdev_producer_new(self->other, NULL, &src));
	out = reader(self->name, 0);
	ASSERT_NE(NULL, out);
	for (v = 0; v < 20; v++)
		ASSERT_EQ(0, mqdev_producer_send(src, NULL, 0, &v, 4, 0, NULL));
	ASSERT_EQ(20, mqdev_producer_flush(src));
	ASSERT_EQ(0, mqdev_consumer_new(self->other, NULL, &in));
	ASSERT_EQ(0, mqdev_consumer_join(in, group, MQDEV_SEEK_EARLIEST));

	/* Consume 10, produce their doubles, commit both in one step. */
	ASSERT_EQ(0, mqdev_txn_begin(self->s, 0));
	for (i = 0; i < 10; i++) {
		rec = mqdev_consumer_peek(in);
		ASSERT_NE(NULL, rec);
		v = 2 * value_of(rec);
		ASSERT_EQ(0, mqdev_producer_send(self->p, NULL, 0, &v, 4, 0,
						 NULL));
		mqdev_consumer_release(in);
	}
	ASSERT_EQ(0, mqdev_txn_send_offsets(self->s, in));
	ASSERT_EQ(0, mqdev_group_get(nl, group, self->other, committed_cb,
				     committed));
	EXPECT_EQ(~0ULL, committed[0]);	/* not before the commit */
	ASSERT_EQ(0, mqdev_txn_commit(self->s));
	ASSERT_EQ(0, mqdev_group_get(nl, group, self->other, committed_cb,
				     committed));
	EXPECT_EQ(10, committed[0]);
	EXPECT_EQ(10, drain(out));

	/* Aborted: the offsets stay where they were. */
	ASSERT_EQ(0, mqdev_txn_begin(self->s, 0));
	for (i = 0; i < 5; i++) {
		ASSERT_NE(NULL, mqdev_consumer_peek(in));
		mqdev_consumer_release(in);
	}
	ASSERT_EQ(0, mqdev_txn_send_offsets(self->s, in));
	ASSERT_EQ(0, mqdev_txn_abort(self->s));
	ASSERT_EQ(0, mqdev_group_get(nl, group, self->other, committed_cb,
				     committed));
	EXPECT_EQ(10, committed[0]);

	/* Rebalanced away before the commit: the commit aborts, ESTALE. */
	ASSERT_EQ(0, mqdev_txn_begin(self->s, 0));
	ASSERT_EQ(0, mqdev_producer_send(self->p, NULL, 0, &v, 4, 0, NULL));
	ASSERT_EQ(0, mqdev_txn_send_offsets(self->s, in));
	ASSERT_EQ(0, mqdev_consumer_new(self->other, NULL, &in2));
	ASSERT_EQ(0, mqdev_consumer_join(in2, group, MQDEV_SEEK_EARLIEST));
	mqdev_consumer_free(in);	/* in2 owns the partition now */
	EXPECT_EQ(1, mqdev_consumer_wait(in2, 1000));
	EXPECT_TRUE(mqdev_consumer_owns(in2, 0));
	EXPECT_EQ(-ESTALE, mqdev_txn_commit(self->s));
	ASSERT_EQ(0, mqdev_group_get(nl, group, self->other, committed_cb,
				     committed));
	EXPECT_EQ(10, committed[0]);
	EXPECT_EQ(0, drain(out));
	EXPECT_EQ(1, mqdev_consumer_aborted(out));
	/* The new owner starts where the transaction committed. */
	EXPECT_EQ(10, mqdev_consumer_position(in2, 0));

	mqdev_consumer_free(in2);
	mqdev_consumer_free(out);
	mqdev_producer_free(src);
	mqdev_nl_close(nl);
}

/*
 * An offset past the partition's end sent with a transaction: the commit
 * fails, and it fails whole.  Before, the decision was published first and
 * the offsets applied after, so the commit returned ERANGE for a
 * transaction whose records were visible.
 */
TEST_F(txn, commit_that_cannot_hold_aborts_whole)
{
	char group[MQDEV_NAME_MAX + 1];
	struct mqdev_txn req = { .op = MQDEV_TXN_COMMIT };
	struct mqdev_group_commit gc = { .partition = 0 };
	struct mqdev_txn_offsets off = {
		.commits = (uintptr_t)&gc, .commit_size = sizeof(gc),
		.count = 1,
	};
	struct mqdev_consumer *in, *out;
	uint64_t committed[1];
	struct mqdev_nl *nl;
	uint32_t v = 7;

	snprintf(group, sizeof(group), "range-%d", getpid());
	ASSERT_EQ(0, mqdev_nl_open(&nl));
	out = reader(self->name, 0);
	ASSERT_NE(NULL, out);
	ASSERT_EQ(0, mqdev_consumer_new(self->other, NULL, &in));
	ASSERT_EQ(0, mqdev_consumer_join(in, group, MQDEV_SEEK_EARLIEST));

	ASSERT_EQ(0, mqdev_txn_begin(self->s, 0));
	ASSERT_EQ(0, mqdev_producer_send(self->p, NULL, 0, &v, 4, 0, NULL));
	ASSERT_EQ(1, mqdev_producer_flush(self->p));
	off.consumer_fd = mqdev_consumer_fd(in);
	gc.generation = mqdev_consumer_generation(in);
	gc.offset = 1000;		/* the partition is empty */
	ASSERT_EQ(0, xioctl(mqdev_session_fd(self->s), MQDEV_IOC_TXN_OFFSETS,
			    &off));
	EXPECT_EQ(-ERANGE, xioctl(mqdev_session_fd(self->s), MQDEV_IOC_TXN,
				  &req));
	EXPECT_EQ(MQDEV_TXN_ABORT, req.op);
	/* nothing of it: no record, no offset */
	EXPECT_EQ(0, drain(out));
	EXPECT_EQ(1, mqdev_consumer_aborted(out));
	ASSERT_EQ(0, mqdev_group_get(nl, group, self->other, committed_cb,
				     committed));
	EXPECT_EQ(~0ULL, committed[0]);

	mqdev_consumer_free(in);
	mqdev_consumer_free(out);
	mqdev_nl_close(nl);
}

/*
 * Make the fixture's third topic, of one 64 KiB partition with @flags, and
 * in *@tp a producer to it bound to the session; a plain producer's fd.
 */
static int third_topic(FIXTURE_DATA(txn) *self, uint32_t flags,
		       struct mqdev_producer **tp)
{
	int err, plain;

	strcpy(self->third, topic_name("txn-third"));
	err = create_topic(self->fd, self->third, 1, 65536, flags) ?:
	      mqdev_producer_new(self->third, NULL, tp);
	if (err)
		return err;
	err = mqdev_producer_bind(*tp, self->s);
	plain = attach(self->third, MQDEV_ATTACH_PRODUCE, NULL);
	if (err || plain < 0) {
		mqdev_producer_free(*tp);
		if (plain >= 0)
			close(plain);
		return err ?: plain;
	}
	return plain;
}

/*
 * An overwriting topic that drops a record of an open transaction fails its
 * commit (EOVERFLOW): the transaction could not be seen whole.  What is left
 * of it is aborted; the plain records after it are read as ever.
 */
TEST_F(txn, a_dropped_record_fails_the_commit)
{
	char value[1000] = "";
	struct mqdev_producer *tp;
	struct mqdev_consumer *c;
	uint32_t v = 7;
	int plain, i;

	plain = third_topic(self, MQDEV_TOPIC_OVERWRITE, &tp);
	ASSERT_LE(0, plain);
	ASSERT_EQ(0, mqdev_txn_begin(self->s, 0));
	ASSERT_EQ(0, mqdev_producer_send(tp, NULL, 0, &v, sizeof(v), 0, NULL));
	ASSERT_EQ(1, mqdev_producer_flush(tp));
	/* twice round the ring: the transaction's record is dropped */
	for (i = 0; i < 2 * 65536 / (int)sizeof(value); i++)
		ASSERT_EQ(0, produce_one(plain, 0, NULL, 0, value,
					 sizeof(value), NULL));
	ASSERT_EQ(0, mqdev_producer_send(tp, NULL, 0, &v, sizeof(v), 0, NULL));
	ASSERT_EQ(1, mqdev_producer_flush(tp));
	EXPECT_EQ(-EOVERFLOW, mqdev_txn_commit(self->s));

	c = reader(self->third, 0);
	ASSERT_NE(NULL, c);
	EXPECT_LT(0, drain(c));
	EXPECT_EQ(1, mqdev_consumer_aborted(c));
	EXPECT_EQ(0, mqdev_consumer_error(c));
	mqdev_consumer_free(c);
	close(plain);
	mqdev_producer_free(tp);
}

/*
 * A blocking topic drops what every holder has passed, an open
 * transaction's record too when the only holder seeked past it: the
 * commit then fails (EOVERFLOW), and the held records are all kept.
 */
TEST_F(txn, a_blocking_topic_drops_what_no_holder_needs)
{
	char value[1000] = "";
	struct mqdev_producer *tp;
	struct mqdev_consumer *c;
	int plain, holder, i, err = 0;
	uint32_t v = 7;

	plain = third_topic(self, 0, &tp);
	ASSERT_LE(0, plain);
	ASSERT_EQ(0, fcntl(plain, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(0, mqdev_txn_begin(self->s, 0));
	ASSERT_EQ(0, mqdev_producer_send(tp, NULL, 0, &v, sizeof(v), 0, NULL));
	ASSERT_EQ(1, mqdev_producer_flush(tp));
	holder = attach(self->third, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, holder);
	ASSERT_EQ(0, seek(holder, 0, MQDEV_SEEK_LATEST, NULL,
			  MQDEV_SEEK_HOLD));
	/* until the ring is full of what the holder holds */
	for (i = 0; i < 2 * 65536 / (int)sizeof(value) && !err; i++)
		err = produce_one(plain, 0, NULL, 0, value, sizeof(value),
				  NULL);
	ASSERT_EQ(-EAGAIN, err);
	EXPECT_EQ(-EOVERFLOW, mqdev_txn_commit(self->s));

	c = reader(self->third, 0);
	ASSERT_NE(NULL, c);
	EXPECT_EQ(i - 1, drain(c));
	EXPECT_EQ(0, mqdev_consumer_error(c));
	mqdev_consumer_free(c);
	close(holder);
	close(plain);
	mqdev_producer_free(tp);
}

/*
 * The offsets sent with a transaction are for the group the sender was a
 * member of, not for its name: deleted and made again, even with the same
 * generation and member id, it is another group, and the commit aborts.
 */
TEST_F(txn, offsets_follow_the_group_not_its_name)
{
	char group[MQDEV_NAME_MAX + 1];
	struct mqdev_consumer *in, *again;
	uint64_t committed[1];
	struct mqdev_producer *src;
	struct mqdev_nl *nl;
	uint32_t v = 1;

	snprintf(group, sizeof(group), "serial-%d", getpid());
	ASSERT_EQ(0, mqdev_nl_open(&nl));
	ASSERT_EQ(0, mqdev_producer_new(self->other, NULL, &src));
	ASSERT_EQ(0, mqdev_producer_send(src, NULL, 0, &v, 4, 0, NULL));
	ASSERT_EQ(1, mqdev_producer_flush(src));
	ASSERT_EQ(0, mqdev_consumer_new(self->other, NULL, &in));
	ASSERT_EQ(0, mqdev_consumer_join(in, group, MQDEV_SEEK_EARLIEST));

	ASSERT_EQ(0, mqdev_txn_begin(self->s, 0));
	ASSERT_NE(NULL, mqdev_consumer_peek(in));
	mqdev_consumer_release(in);
	ASSERT_EQ(0, mqdev_txn_send_offsets(self->s, in));
	/* the group goes, and one of the same name comes, its first member 1 */
	ASSERT_EQ(0, mqdev_group_delete(nl, group, self->other, true));
	mqdev_consumer_free(in);
	ASSERT_EQ(0, mqdev_consumer_new(self->other, NULL, &again));
	ASSERT_EQ(0, mqdev_consumer_join(again, group, MQDEV_SEEK_EARLIEST));

	EXPECT_EQ(-ESTALE, mqdev_txn_commit(self->s));
	ASSERT_EQ(0, mqdev_group_get(nl, group, self->other, committed_cb,
				     committed));
	EXPECT_EQ(~0ULL, committed[0]);
	mqdev_consumer_free(again);
	mqdev_producer_free(src);
	mqdev_nl_close(nl);
}

/* ---- limits and bad input ------------------------------------------------------ */

TEST_F(txn, limit_open_txns)
{
	unsigned long max = get_param("max_txns");
	struct mqdev_session *more[3];
	int i;

	ASSERT_EQ(0, set_param("max_txns", 2));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, mqdev_session_new(NULL, 0, &more[i]));
	EXPECT_EQ(0, mqdev_txn_begin(more[0], 0));
	EXPECT_EQ(0, mqdev_txn_begin(more[1], 0));
	EXPECT_EQ(-ENOSPC, mqdev_txn_begin(more[2], 0));
	EXPECT_EQ(0, mqdev_txn_abort(more[0]));
	EXPECT_EQ(0, mqdev_txn_begin(more[2], 0));
	for (i = 0; i < 3; i++)
		mqdev_session_free(more[i]);
	ASSERT_EQ(0, set_param("max_txns", max));
}

TEST_F(txn, limit_txn_bytes)
{
	unsigned long max = get_param("max_txn_bytes");
	struct mqdev_consumer *c = reader(self->name, 0);
	char value[512] = "";
	int i;

	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, set_param("max_txn_bytes", 4096));
	ASSERT_EQ(0, mqdev_txn_begin(self->s, 0));
	for (i = 0; i < 10; i++)
		ASSERT_EQ(0, mqdev_producer_send(self->p, NULL, 0, value,
						 sizeof(value), 0, NULL));
	EXPECT_EQ(-EFBIG, mqdev_txn_commit(self->s));
	ASSERT_EQ(0, set_param("max_txn_bytes", max));
	EXPECT_EQ(0, drain(c));
	EXPECT_LT(0, mqdev_consumer_aborted(c));
	mqdev_consumer_free(c);
}

/* Create a topic, waiting up to 2 s for memory that is being given back. */
static int create_waiting(int fd, const char *name, uint64_t capacity)
{
	int i, err = -ENOSPC;

	for (i = 0; i < 200 && err == -ENOSPC; i++) {
		err = create_topic(fd, name, 1, capacity, 0);
		if (err == -ENOSPC)
			usleep(10 * 1000);
	}
	return err;
}

/*
 * A session closed with its transaction open used to keep a reference on
 * the transaction, so the transaction kept its topics: deleted ones never
 * gave their ring memory back.  With room for one more 64 KiB topic, six in
 * a row must fit.
 */
TEST_F(txn, closed_session_lets_topics_go)
{
	unsigned long max = get_param("max_bytes");
	struct mqdev_producer *p;
	struct mqdev_session *s;
	char name[MQDEV_NAME_MAX + 1];
	int i;

	/* the fixture's 5 partitions of 256 KiB, and one of 64 KiB: each
	 * with its control page */
	ASSERT_EQ(0, set_param("max_bytes", 5 * ((256 << 10) + 4096) +
				 (64 << 10) + 4096));
	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "txn-gone-%d-%d", getpid(), i);
		ASSERT_EQ(0, create_waiting(self->fd, name, 64 << 10)) {
			TH_LOG("round %d: the deleted topics' memory is held", i);
		}
		ASSERT_EQ(0, mqdev_session_new(NULL, 0, &s));
		ASSERT_EQ(0, mqdev_producer_new(name, NULL, &p));
		ASSERT_EQ(0, mqdev_producer_bind(p, s));
		ASSERT_EQ(0, mqdev_txn_begin(s, i));
		ASSERT_EQ(0, mqdev_producer_send(p, NULL, 0, "x", 1, 0, NULL));
		ASSERT_EQ(1, mqdev_producer_flush(p));
		mqdev_producer_free(p);
		mqdev_session_free(s);		/* open: aborted, no checker */
		ASSERT_EQ(0, mqdev_topic_delete(self->fd, name));
	}
	ASSERT_EQ(0, set_param("max_bytes", max));
}

TEST_F(txn, bad_input)
{
	struct mqdev_txn req = { .op = MQDEV_TXN_BEGIN };
	struct mqdev_txn_offsets off = { .commit_size = 24, .count = 1 };
	struct mqdev_group_commit gc = {};
	int sfd = mqdev_session_fd(self->s), plain = mqdev_open(), raw;
	struct mqdev_attach at;
	uint32_t i, open_slots;
	void *map;

	ASSERT_LE(0, plain);
	EXPECT_EQ(-EBADFD, xioctl(plain, MQDEV_IOC_TXN, &req));
	EXPECT_EQ(-EBADFD, xioctl(plain, MQDEV_IOC_TXN_OFFSETS, &off));
	req.op = 9;
	EXPECT_EQ(-EINVAL, xioctl(sfd, MQDEV_IOC_TXN, &req));
	req.op = MQDEV_TXN_BEGIN;
	req.flags = 1;
	EXPECT_EQ(-EINVAL, xioctl(sfd, MQDEV_IOC_TXN, &req));
	req.flags = 0;
	req.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, xioctl(sfd, MQDEV_IOC_TXN, &req));
	req.reserved[1] = 0;
	req.op = MQDEV_TXN_COMMIT;
	EXPECT_EQ(-ENOENT, xioctl(sfd, MQDEV_IOC_TXN, &req));
	req.cookie = 1;
	EXPECT_EQ(-EINVAL, xioctl(sfd, MQDEV_IOC_TXN, &req));
	req.cookie = 0;
	req.op = MQDEV_TXN_BEGIN;
	ASSERT_EQ(0, xioctl(sfd, MQDEV_IOC_TXN, &req));
	EXPECT_EQ(-EBUSY, xioctl(sfd, MQDEV_IOC_TXN, &req));

	off.commits = (uintptr_t)&gc;
	off.consumer_fd = -1;
	EXPECT_EQ(-EBADF, xioctl(sfd, MQDEV_IOC_TXN_OFFSETS, &off));
	off.consumer_fd = plain;		/* not a consumer */
	EXPECT_EQ(-EINVAL, xioctl(sfd, MQDEV_IOC_TXN_OFFSETS, &off));
	off.consumer_fd = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, off.consumer_fd);
	EXPECT_EQ(-EBADFD, xioctl(sfd, MQDEV_IOC_TXN_OFFSETS, &off));
	off.count = 0;
	EXPECT_EQ(-EINVAL, xioctl(sfd, MQDEV_IOC_TXN_OFFSETS, &off));
	off.count = 1;
	off.commit_size = 8;
	EXPECT_EQ(-EINVAL, xioctl(sfd, MQDEV_IOC_TXN_OFFSETS, &off));
	/* elements of any size were scanned whole: a page at most */
	off.commit_size = 8192;
	EXPECT_EQ(-EINVAL, xioctl(sfd, MQDEV_IOC_TXN_OFFSETS, &off));
	off.commit_size = 24;
	off.commits = 8;
	EXPECT_EQ(-EFAULT, xioctl(sfd, MQDEV_IOC_TXN_OFFSETS, &off));
	close(off.consumer_fd);

	/* The table is read-only to every consumer, and no one else's. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ, MAP_SHARED, plain,
				   1ULL << 41));
	raw = attach(self->name, MQDEV_ATTACH_CONSUME, &at);
	ASSERT_LE(0, raw);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, at.off.txn_size,
				   PROT_READ | PROT_WRITE, MAP_SHARED, raw,
				   at.off.txn_mmap));
	map = mmap(NULL, at.off.txn_size, PROT_READ, MAP_SHARED, raw,
		   at.off.txn_mmap);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(-1, mprotect(map, at.off.txn_size, PROT_READ | PROT_WRITE));
	/* The transaction begun above is open in one slot of it. */
	for (i = 0, open_slots = 0; i < at.off.txn_slots; i++)
		open_slots += ((uint32_t *)map)[i] == MQDEV_TXN_OPEN;
	EXPECT_EQ(1, open_slots);
	munmap(map, at.off.txn_size);
	close(raw);

	req.op = MQDEV_TXN_ABORT;
	EXPECT_EQ(0, xioctl(sfd, MQDEV_IOC_TXN, &req));
	EXPECT_EQ(MQDEV_TXN_ABORT, req.op);
	close(plain);
}

/* Malformed questions on the netlink channel get a clear refusal. */
TEST_F(txn, netlink_bad_input)
{
	char name[MQDEV_NAME_MAX + 1];
	struct mqdev_nl *nl;

	snprintf(name, sizeof(name), "%.40s-nl", self->producer);
	ASSERT_EQ(0, mqdev_nl_open(&nl));
	EXPECT_EQ(-EINVAL, mqdev_txn_resolve(nl, name, 1, MQDEV_TXN_BEGIN));
	EXPECT_EQ(-ERANGE, mqdev_txn_resolve(nl, name, 1, 77));
	EXPECT_EQ(-EINVAL, mqdev_nl_checker_register(nl, ""));
	EXPECT_EQ(-ENOENT, mqdev_txn_resolve(nl, name, 12345678, 2));

	/* A live producer's transaction is not the checker's to decide. */
	ASSERT_EQ(0, mqdev_txn_begin(self->s, 0));
	EXPECT_EQ(-EBUSY, mqdev_txn_resolve(nl, self->producer,
					    mqdev_txn_id(self->s),
					    MQDEV_TXN_COMMIT));
	EXPECT_STREQ("its producer is alive and decides it", mqdev_nl_error(nl));
	EXPECT_EQ(0, mqdev_txn_commit(self->s));
	mqdev_nl_close(nl);
}

/*
 * One peek skips at most 4096 records (CONSUMER_MAX_SKIPS in
 * lib/consumer.c), so an aborted transaction of 5000 costs a reader one
 * empty peek, with no error; the next wait returns at once and the next
 * peek skips the rest and hands out the committed record behind them.
 * Mapped and copying readers alike.  mqdev_consumer_poll() waits on
 * through such an empty take, within its time-out.
 */
#define SKIPS_MAX	4096
#define ABORTED_MANY	5000

static int count_cb(void *ctx, const struct mqdev_record *rec)
{
	(*(int *)ctx)++;
	return 0;
}

TEST_F(txn, a_peek_skips_a_bounded_number_of_aborted_records)
{
	char big[MQDEV_NAME_MAX + 1];
	struct mqdev_consumer *c[3];
	const struct mqdev_record *rec;
	struct mqdev_producer *p;
	uint32_t v;
	int i, got = 0;

	strcpy(big, topic_name("txn-big"));
	ASSERT_EQ(0, create_topic(self->fd, big, 1, 1 << 20, 0));
	ASSERT_EQ(0, mqdev_producer_new(big, NULL, &p));
	ASSERT_EQ(0, mqdev_producer_bind(p, self->s));
	c[0] = reader(big, 0);
	c[1] = reader(big, MQDEV_CONSUMER_COPY);
	c[2] = reader(big, 0);
	ASSERT_TRUE(c[0] && c[1] && c[2]);
	ASSERT_EQ(0, mqdev_txn_begin(self->s, 0));
	for (v = 0; v < ABORTED_MANY; v++)
		ASSERT_EQ(0, mqdev_producer_send(p, NULL, 0, &v, sizeof(v), 0,
						 NULL));
	ASSERT_EQ(0, mqdev_txn_abort(self->s));
	ASSERT_EQ(0, mqdev_txn_begin(self->s, 0));
	ASSERT_EQ(0, mqdev_producer_send(p, NULL, 0, &v, sizeof(v), 0, NULL));
	ASSERT_EQ(0, mqdev_txn_commit(self->s));

	for (i = 0; i < 2; i++) {
		EXPECT_EQ(NULL, mqdev_consumer_peek(c[i]));
		EXPECT_EQ(0, mqdev_consumer_error(c[i]));
		EXPECT_EQ(SKIPS_MAX, mqdev_consumer_aborted(c[i]));
		EXPECT_EQ(1, mqdev_consumer_wait(c[i], 0));
		rec = mqdev_consumer_peek(c[i]);
		ASSERT_NE(NULL, rec);
		EXPECT_EQ(ABORTED_MANY, *(const uint32_t *)
					 mqdev_record_value(rec));
		EXPECT_EQ(ABORTED_MANY, mqdev_consumer_aborted(c[i]));
		EXPECT_EQ(0, mqdev_consumer_release(c[i]));
	}
	/* poll: its first take is empty, its second hands the record out */
	EXPECT_EQ(1, mqdev_consumer_poll(c[2], 1000, 8, count_cb, &got));
	EXPECT_EQ(1, got);
	EXPECT_EQ(ABORTED_MANY, mqdev_consumer_aborted(c[2]));
	for (i = 0; i < 3; i++)
		mqdev_consumer_free(c[i]);
	mqdev_producer_free(p);
	mqdev_topic_delete(self->fd, big);
}

TEST_HARNESS_MAIN
