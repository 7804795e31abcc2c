// SPDX-License-Identifier: GPL-2.0
/*
 * mqtorture: producers, transactions and a consumer group under SIGKILL.
 *
 * For a fixed time, on one topic that blocks when full:
 *   - idempotent producers (named, so a restarted one resumes its numbers)
 *     send records and note every acknowledgment;
 *   - batch producers append record batches of 1 to 32 records to one
 *     partition each and note every acknowledged batch;
 *   - transactional producers write one record to every partition per
 *     transaction and commit or abort it, noting the outcome they saw; a
 *     checker answers for the ones whose producer was killed, and notes its
 *     answers;
 *   - members of one consumer group read, note every record they were
 *     given, and commit after processing;
 * while the supervisor kills a random one of them every few milliseconds
 * and starts it again.  An auditor (never killed) reads every record as it
 * is published, with read(2), holding the space until it has.  Then:
 *
 *   1. every acknowledged record is in its partition, exactly once, in order
 *      (each producer's numbers run 0, 1, 2, ... in each partition, and
 *      reach at least the last acknowledged one);
 *   2. no transaction is half visible: all of the records that went into it
 *      or none, all PARTS if its producer's commit was acknowledged, none if
 *      an abort was;
 *   3. the group's committed offsets never go back;
 *   4. every record the group was given is either committed or delivered
 *      again: after the run, one last member reads from the committed
 *      offsets, and every record (but aborted ones) was delivered at least
 *      once;
 *   5. every record batch is whole and in one piece: its records follow
 *      each other in one partition, none missing, and every acknowledged
 *      batch is there.
 *
 * Then, for a quarter of the time (at least 2 s, or --exchange-seconds),
 * producers send through a topic exchange while bindings come and go and
 * bound topics are deleted:
 *
 *   6. every acknowledged copy is in its topic at its offset, with its
 *      producer's value, and every record there was acknowledged once.
 *
 * Then, for as long again (or --swriter-seconds), a single-writer topic's
 * writer is killed over and over while readers check 7 (see
 * swriter_torture()).
 *
 * Then a share group's members accept, release, reject and die holding
 * records while a producer sends them, until every record is done (at most
 * --share-seconds, 60 by default; 0 leaves the phase out), and the checker
 * sees 8 (see share_torture()).
 *
 * It prints what it checked and exits 1 at the first violation.
 *
 *   mqtorture [--seconds T] [--exchange-seconds T] [--swriter-seconds T]
 *             [--share-seconds T] [--seed S]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "libmqdev.h"

#define PARTS		4
#define PRODUCERS	3
#define TXNERS		2
#define BATCHERS	2
#define MAX_BATCHES	(1 << 20)	/* per batch producer */
#define MEMBERS		3
#define MAX_OFFSETS	(1 << 23)	/* per partition, for the delivery counts */
#define MAX_TXNS	(1 << 20)
#define TOPIC		"torture"
#define GROUP		"tg"

enum { KIND_PLAIN = 1, KIND_TXN = 2, KIND_BATCH = 3 };

struct value {
	uint32_t	kind;
	uint32_t	who;
	uint64_t	n;		/* a transaction's or a batch's number */
	uint32_t	i, count;	/* a batch's record i of count */
};

/*
 * How a transaction ended, as its producer or the checker was told.  A
 * checker may commit one whose producer died before its records went in:
 * that makes nothing visible, correctly.
 */
enum { TXN_NONE, TXN_COMMITTED, TXN_ABORTED, TXN_CHECKED_COMMIT };

struct audit {
	uint64_t	next_seq[PRODUCERS][PARTS];
	uint64_t	next_offset[PARTS];
	uint8_t		txn_parts[MAX_TXNS];		/* visible records */
	uint8_t		txn_aborted[MAX_TXNS];		/* aborted records */
	uint64_t	records, aborted;
	struct value	last[PARTS];			/* each one's last */
	uint8_t		batch_whole[BATCHERS][MAX_BATCHES];
	uint64_t	batches;
	/* of them, those with offsets the delivery counts can hold */
	uint64_t	tracked, tracked_aborted;
};

/* Shared by every process, in an anonymous shared mapping. */
struct shared {
	uint64_t	acked[PRODUCERS][PARTS];	/* numbers acknowledged */
	uint64_t	next_txn;
	uint64_t	next_batch[BATCHERS];
	uint8_t		batch_acked[BATCHERS][MAX_BATCHES];
	uint8_t		txn_seen[MAX_TXNS];		/* TXN_*, as decided */
	uint8_t		delivered[PARTS][MAX_OFFSETS];	/* to the group */
	volatile int	stop;
	struct audit	audit;				/* the auditor's */
};

static struct shared *sh;
static unsigned int seconds = 60;
static uint64_t seed = 1;

static void violation(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static void violation(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("mqtorture: VIOLATION: ");
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	exit(1);
}

/* A worker that cannot even start says why. */
static void worker_fails(const char *what)
	__attribute__((noreturn));

static void worker_fails(const char *what)
{
	printf("mqtorture: %s: %s\n", what, strerror(errno));
	fflush(stdout);
	_exit(2);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* ---- the workers ------------------------------------------------------------ */

static void note_ack(void *ctx, const struct mqdev_ack *ack)
{
	uint64_t *acked = ctx;

	if (!ack->error && ack->partition < PARTS &&
	    ack->sequence + 1ULL > acked[ack->partition])
		__atomic_store_n(&acked[ack->partition], ack->sequence + 1ULL,
				 __ATOMIC_RELAXED);
}

static void plain_producer(unsigned int who, uint64_t rs)
{
	struct value v = { .kind = KIND_PLAIN, .who = who };
	LIBMQDEV_OPTS(mqdev_producer_opts, opts, .ack_fn = note_ack,
		      .ack_ctx = sh->acked[who]);
	struct mqdev_producer *p;
	struct mqdev_session *s;
	char name[32];
	int i, n;

	snprintf(name, sizeof(name), "tp%u", who);
	if (mqdev_session_new(name, 0, &s) ||
	    mqdev_producer_new(TOPIC, &opts, &p) || mqdev_producer_bind(p, s))
		_exit(2);
	while (!sh->stop) {
		n = 1 + rnd(&rs) % 32;
		for (i = 0; i < n; i++)
			mqdev_producer_send(p, NULL, 0, &v, sizeof(v),
					    rnd(&rs) % PARTS, NULL);
		mqdev_producer_flush(p);
		usleep(rnd(&rs) % 2000);
	}
	_exit(0);
}

/*
 * The odd batcher's way to send: with a wait for the topic's next records
 * in the same call (MQDEV_WAIT_SEND), a sleep the other producers end.
 * It reads everything there is first, so that the call has to sleep.
 * Return: whether the batch went in.
 */
static bool batch_send_wait(struct mqdev_producer *p, struct mqdev_batch *b,
			    uint32_t *part, struct mqdev_consumer *c,
			    uint64_t *rs)
{
	while (mqdev_consumer_peek(c))
		mqdev_consumer_release(c);
	mqdev_produce_batch_wait(p, b, part, NULL, c, rnd(rs) % 3);
	return !mqdev_batch_count(b);
}

/* Record batches of 1 to 32 records to one partition, whole or not at all. */
static void batch_producer(unsigned int who, uint64_t rs)
{
	struct value v = { .kind = KIND_BATCH, .who = who };
	struct mqdev_consumer *c = NULL;
	struct mqdev_producer *p;
	struct mqdev_batch *b;
	uint32_t part;
	bool sent;
	void *at;

	if (mqdev_producer_new(TOPIC, NULL, &p) || mqdev_batch_new(4096, &b))
		_exit(2);
	if (who % 2 && (mqdev_consumer_new(TOPIC, NULL, &c) ||
			mqdev_consumer_seek(c, MQDEV_PARTITION_ALL,
					    MQDEV_SEEK_LATEST, 0, 0, NULL)))
		_exit(2);
	while (!sh->stop) {
		v.n = sh->next_batch[who]++;
		if (v.n >= MAX_BATCHES)
			break;
		v.count = 1 + rnd(&rs) % 32;
		for (v.i = 0; v.i < v.count; v.i++) {
			if (mqdev_batch_add(b, NULL, 0, sizeof(v), &at))
				_exit(2);
			memcpy(at, &v, sizeof(v));
		}
		part = rnd(&rs) % PARTS;
		if (c)
			sent = batch_send_wait(p, b, &part, c, &rs);
		else
			sent = mqdev_produce_batch(p, b, &part, NULL) ==
			       (int)v.count;
		if (sent)
			sh->batch_acked[who][v.n] = 1;
		mqdev_batch_clear(b);
		usleep(rnd(&rs) % 2000);
	}
	_exit(0);
}

static void txn_producer(unsigned int who, uint64_t rs)
{
	struct value v = { .kind = KIND_TXN, .who = who };
	struct mqdev_producer *p;
	struct mqdev_session *s;
	uint32_t part;
	char name[32];

	snprintf(name, sizeof(name), "tx%u", who);
	if (mqdev_session_new(name, 300, &s) ||
	    mqdev_producer_new(TOPIC, NULL, &p) || mqdev_producer_bind(p, s))
		_exit(2);
	while (!sh->stop) {
		v.n = __atomic_fetch_add(&sh->next_txn, 1, __ATOMIC_RELAXED);
		if (v.n >= MAX_TXNS)
			break;
		if (mqdev_txn_begin(s, v.n))
			continue;
		for (part = 0; part < PARTS; part++)
			mqdev_producer_send(p, NULL, 0, &v, sizeof(v), part,
					    NULL);
		usleep(rnd(&rs) % 3000);	/* a window to be killed in */
		if (rnd(&rs) % 5) {
			if (!mqdev_txn_commit(s))
				sh->txn_seen[v.n] = TXN_COMMITTED;
		} else if (!mqdev_txn_abort(s)) {
			sh->txn_seen[v.n] = TXN_ABORTED;
		}
	}
	_exit(0);
}

/* Answer for killed transactional producers, at random; never killed. */
static void checker(uint64_t rs)
{
	LIBMQDEV_OPTS(mqdev_event, ev);
	struct mqdev_nl *nl;
	char name[32];
	unsigned int i;
	uint32_t d;

	if (mqdev_nl_open(&nl))
		_exit(2);
	for (i = 0; i < TXNERS; i++) {
		snprintf(name, sizeof(name), "tx%u", i);
		if (mqdev_nl_checker_register(nl, name))
			_exit(2);
	}
	for (;;) {
		if (mqdev_nl_event(nl, &ev, 1000) != 1 ||
		    ev.cmd != MQDEV_CMD_TXN_CHECK || ev.cookie >= MAX_TXNS)
			continue;
		d = rnd(&rs) % 2 ? MQDEV_TXN_COMMIT : MQDEV_TXN_ABORT;
		if (!mqdev_txn_resolve(nl, ev.producer, ev.txn, d))
			sh->txn_seen[ev.cookie] = d == MQDEV_TXN_COMMIT ?
						  TXN_CHECKED_COMMIT :
						  TXN_ABORTED;
	}
}

static void member(uint64_t rs)
{
	const struct mqdev_record *rec;
	struct mqdev_consumer *c;
	int n = 0;

	if (mqdev_consumer_new(TOPIC, NULL, &c) ||
	    mqdev_consumer_join(c, GROUP, MQDEV_SEEK_EARLIEST))
		_exit(2);
	while (!sh->stop) {
		if (mqdev_consumer_wait(c, 100) < 0)
			continue;
		while ((rec = mqdev_consumer_peek(c))) {
			if (rec->offset < MAX_OFFSETS &&
			    sh->delivered[rec->partition][rec->offset] < 255)
				__atomic_add_fetch(&sh->delivered[rec->partition]
						   [rec->offset], 1,
						   __ATOMIC_RELAXED);
			mqdev_consumer_release(c);
			if (++n % (1 + rnd(&rs) % 16) == 0)
				mqdev_consumer_commit(c);
		}
		mqdev_consumer_commit(c);
	}
	_exit(0);
}

/* ---- the auditor ---------------------------------------------------------------- */


/* 5: a batch's records follow each other in its partition, none missing. */
static void audit_batch(struct audit *a, uint32_t p, const struct value *v,
			uint64_t offset)
{
	const struct value *last = &a->last[p];
	bool open = last->kind == KIND_BATCH && last->i + 1 < last->count;

	if (v->kind != KIND_BATCH) {
		if (open)
			violation("partition %u offset %" PRIu64 ": batch %u/%"
				  PRIu64 " cut off after %u of %u records", p,
				  offset, last->who, last->n, last->i + 1,
				  last->count);
		return;
	}
	if (v->who >= BATCHERS || v->n >= MAX_BATCHES || !v->count ||
	    v->i >= v->count ||
	    (v->i ? !open || last->who != v->who || last->n != v->n ||
		    last->i + 1 != v->i : open))
		violation("partition %u offset %" PRIu64 ": batch %u/%" PRIu64
			  " record %u of %u out of place", p, offset, v->who,
			  v->n, v->i, v->count);
	if (v->i + 1 == v->count) {
		a->batch_whole[v->who][v->n] = 1;
		a->batches++;
	}
}

static void audit_record(struct audit *a, const struct mqdev_record *rec)
{
	struct value v;
	uint32_t p = rec->partition;

	if (p >= PARTS || rec->offset != a->next_offset[p])
		violation("partition %u: offset %" PRIu64 " where %" PRIu64
			  " was due", p, (uint64_t)rec->offset,
			  a->next_offset[p]);
	a->next_offset[p]++;
	a->records++;
	if (rec->offset < MAX_OFFSETS) {
		a->tracked++;
		a->tracked_aborted += !!(rec->flags & MQDEV_RECORD_ABORTED);
	}
	if (mqdev_record_value_len(rec) != sizeof(v))
		violation("partition %u offset %" PRIu64 ": %u bytes", p,
			  (uint64_t)rec->offset, mqdev_record_value_len(rec));
	memcpy(&v, mqdev_record_value(rec), sizeof(v));
	audit_batch(a, p, &v, rec->offset);
	a->last[p] = v;
	if (v.kind == KIND_BATCH) {
		return;
	} else if (v.kind == KIND_PLAIN) {
		if (v.who >= PRODUCERS || rec->sequence != a->next_seq[v.who][p])
			violation("producer tp%u partition %u: sequence %u where "
				  "%" PRIu64 " was due (offset %" PRIu64 ")",
				  v.who, p, rec->sequence,
				  a->next_seq[v.who % PRODUCERS][p],
				  (uint64_t)rec->offset);
		a->next_seq[v.who][p]++;
	} else if (v.kind == KIND_TXN && v.n < MAX_TXNS) {
		if (rec->flags & MQDEV_RECORD_ABORTED) {
			a->aborted++;
			a->txn_aborted[v.n]++;
		} else {
			a->txn_parts[v.n]++;
		}
	} else {
		violation("partition %u offset %" PRIu64 ": a record of no one",
			  p, (uint64_t)rec->offset);
	}
}

/*
 * Read every record as it is published, with read(2), which hands aborted
 * records out marked; holding, so nothing is reclaimed before it is read.
 */
static void auditor(void)
{
	struct audit *a = &sh->audit;
	static char buf[1 << 16];
	struct mqdev_attach at = { .flags = MQDEV_ATTACH_CONSUME };
	struct mqdev_seek seek = {
		.partition = MQDEV_PARTITION_ALL, .whence = MQDEV_SEEK_EARLIEST,
		.flags = MQDEV_SEEK_HOLD,
	};
	struct mqdev_partition_info parts[PARTS];
	struct mqdev_topic_info info;
	const struct mqdev_record *rec;
	struct pollfd pfd;
	bool finished;
	ssize_t n, off;
	uint32_t p;
	int fd;

	fd = mqdev_open();
	mqdev_name_set(at.name, TOPIC);
	if (fd < 0 || ioctl(fd, MQDEV_IOC_ATTACH, &at) ||
	    ioctl(fd, MQDEV_IOC_SEEK, &seek) ||
	    fcntl(fd, F_SETFL, O_NONBLOCK))
		worker_fails("auditor");
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		poll(&pfd, 1, 100);
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			for (off = 0; off < n;
			     off += MQDEV_RECORD_SPACE(rec->len)) {
				rec = (const void *)(buf + off);
				audit_record(a, rec);
			}
		if (sh->stop < 2)
			continue;
		/* stopped: finished once every published record is read */
		p = mqdev_topic_describe(fd, TOPIC, &info, parts, PARTS);
		if (p) {
			errno = -(int)p;
			worker_fails("auditor: describe");
		}
		finished = true;
		for (p = 0; p < PARTS; p++)
			finished &= a->next_offset[p] == parts[p].next_offset;
		if (finished)
			break;
	}
	_exit(0);
}

/* ---- exchanges ---------------------------------------------------------------- */

/*
 * Producers send through a topic exchange while a churner binds and
 * unbinds patterns and deletes topics (each made again under a new name,
 * "xt-SLOT-GEN", so that an acknowledgement names one topic for good).
 * Then, in every topic that is left: every acknowledged copy is at its
 * offset with its producer's value, and every record there was
 * acknowledged once.
 */
#define XSLOTS		4
#define XPARTS		2
#define XPRODUCERS	2
#define MAX_XACKS	(1 << 19)	/* per producer */
#define XEXCHANGE	"xtorture"

struct xvalue {
	uint32_t	who;
	uint32_t	pad;
	uint64_t	seq;
};

struct xack {
	uint32_t	slot, gen, partition, who;
	uint64_t	offset, seq;
};

struct xshared {
	struct xack	acks[XPRODUCERS][MAX_XACKS];
	uint32_t	nr_acks[XPRODUCERS];
	uint32_t	gen[XSLOTS];		/* the churner's, final at the end */
	uint64_t	sent, failed_copies, dropped, deleted, binds;
	volatile int	stop;
};

static struct xshared *xs;

static void xtopic_name(char *buf, uint32_t slot, uint32_t gen)
{
	snprintf(buf, MQDEV_NAME_SIZE, "xt-%u-%u", slot, gen);
}

static void xproducer(unsigned int who, uint64_t rs)
{
	LIBMQDEV_OPTS(mqdev_exchange_send_opts, so);
	struct mqdev_exchange_ack acks[XSLOTS * XPARTS];
	struct xvalue v = { .who = who };
	struct xack *x;
	char rkey[32];
	int fd, n, i;

	fd = mqdev_open();
	if (fd < 0 || mqdev_exchange_attach(fd, XEXCHANGE) ||
	    fcntl(fd, F_SETFL, O_NONBLOCK))
		worker_fails("exchange producer");
	for (; !xs->stop; v.seq++) {
		snprintf(rkey, sizeof(rkey), "k.%u.%u", (unsigned int)(rnd(&rs) % 4),
			 (unsigned int)(rnd(&rs) % 3));
		n = mqdev_exchange_send(fd, rkey, &v, sizeof(v), &so, acks,
					XSLOTS * XPARTS);
		__atomic_add_fetch(&xs->sent, 1, __ATOMIC_RELAXED);
		if (n == -ENOENT || n == -EAGAIN || n == -EIDRM) {
			/* unbound, full, or every copy's topic deleted */
			__atomic_add_fetch(&xs->dropped, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (n < 0)
			violation("exchange producer %u: %s", who, strerror(-n));
		for (i = 0; i < n; i++) {
			if (acks[i].error) {
				__atomic_add_fetch(&xs->failed_copies, 1,
						   __ATOMIC_RELAXED);
				continue;
			}
			if (xs->nr_acks[who] == MAX_XACKS)
				return;
			x = &xs->acks[who][xs->nr_acks[who]];
			if (sscanf(acks[i].topic, "xt-%u-%u", &x->slot,
				   &x->gen) != 2 || x->slot >= XSLOTS)
				violation("an ack names topic '%s'",
					  acks[i].topic);
			x->partition = acks[i].partition;
			x->offset = acks[i].offset;
			x->who = who;
			x->seq = v.seq;
			/* the record is noted before it counts */
			__atomic_store_n(&xs->nr_acks[who], xs->nr_acks[who] + 1,
					 __ATOMIC_RELEASE);
		}
	}
}

static void xchurner(uint64_t rs)
{
	static const char *const pats[] = {
		"k.*.#", "k.1.#", "#", "*.*.2", "k.2.0", "k.#.1", "*.3.*",
	};
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = XPARTS,
		      .capacity = 1 << 20);
	char name[MQDEV_NAME_SIZE];
	uint32_t s, k;
	int fd, err;

	fd = mqdev_open();
	if (fd < 0)
		worker_fails("exchange churner");
	while (!xs->stop) {
		s = rnd(&rs) % XSLOTS;
		k = rnd(&rs) % (sizeof(pats) / sizeof(pats[0]));
		xtopic_name(name, s, xs->gen[s]);
		switch (rnd(&rs) % 64) {
		case 0:
			/* deleted, and made again under a new name, unbound */
			if (mqdev_topic_delete(fd, name))
				violation("cannot delete topic %s", name);
			xs->gen[s]++;
			xtopic_name(name, s, xs->gen[s]);
			if (mqdev_topic_create(fd, name, &cfg))
				violation("cannot create topic %s", name);
			xs->deleted++;
			break;
		case 1 ... 24:
			err = mqdev_exchange_unbind(fd, XEXCHANGE, name, pats[k],
						    NULL);
			if (err && err != -ENOENT)
				violation("unbind: %s", strerror(-err));
			break;
		default:
			err = mqdev_exchange_bind(fd, XEXCHANGE, name, pats[k],
						  NULL);
			if (err && err != -EEXIST)
				violation("bind: %s", strerror(-err));
			xs->binds += !err;
		}
		usleep(rnd(&rs) % 2000);
	}
	_exit(0);
}

/* The values of a topic's records, by partition and offset. */
static struct xvalue *xread(int fd, const char *name, uint64_t end[XPARTS],
			     uint64_t *stride)
{
	struct mqdev_attach at = { .flags = MQDEV_ATTACH_CONSUME };
	struct mqdev_seek seek = {
		.partition = MQDEV_PARTITION_ALL, .whence = MQDEV_SEEK_EARLIEST,
	};
	struct mqdev_partition_info parts[XPARTS];
	const struct mqdev_record *rec;
	struct mqdev_topic_info info;
	static char buf[1 << 16];
	struct xvalue *vals;
	uint64_t got = 0, want = 0;
	ssize_t n, off;
	uint32_t p;
	int cfd;

	if (mqdev_topic_describe(fd, name, &info, parts, XPARTS))
		violation("cannot describe %s", name);
	for (p = 0; p < XPARTS; p++) {
		end[p] = parts[p].next_offset;
		want += end[p];
		if (parts[p].first_offset)
			violation("%s: records reclaimed", name);
	}
	*stride = want + 1;
	vals = calloc(XPARTS * *stride, sizeof(*vals));
	cfd = mqdev_open();
	mqdev_name_set(at.name, name);
	if (!vals || cfd < 0 || ioctl(cfd, MQDEV_IOC_ATTACH, &at) ||
	    ioctl(cfd, MQDEV_IOC_SEEK, &seek) ||
	    fcntl(cfd, F_SETFL, O_NONBLOCK))
		violation("cannot read %s: %s", name, strerror(errno));
	while (got < want && (n = read(cfd, buf, sizeof(buf))) > 0)
		for (off = 0; off < n; off += MQDEV_RECORD_SPACE(rec->len)) {
			rec = (const void *)(buf + off);
			if (rec->partition >= XPARTS ||
			    rec->offset >= end[rec->partition] ||
			    mqdev_record_value_len(rec) != sizeof(*vals))
				violation("%s: a stray record", name);
			memcpy(&vals[rec->partition * *stride + rec->offset],
			       mqdev_record_value(rec), sizeof(*vals));
			got++;
		}
	if (got != want)
		violation("%s: %" PRIu64 " records read of %" PRIu64, name, got,
			  want);
	close(cfd);
	return vals;
}

/* Every acknowledged copy is in its topic at its offset, and only those. */
static void xcheck(int fd)
{
	uint64_t end[XPARTS], stride, checked = 0, gone = 0, records = 0;
	char name[MQDEV_NAME_SIZE];
	struct xvalue *vals, *v;
	uint8_t *seen;
	uint32_t s, w, i, p;
	struct xack *x;

	for (s = 0; s < XSLOTS; s++) {
		xtopic_name(name, s, xs->gen[s]);
		vals = xread(fd, name, end, &stride);
		seen = calloc(XPARTS, stride);
		if (!seen)
			violation("out of memory");
		for (w = 0; w < XPRODUCERS; w++)
			for (i = 0; i < xs->nr_acks[w]; i++) {
				x = &xs->acks[w][i];
				if (x->slot != s)
					continue;
				if (x->gen != xs->gen[s]) {
					gone++;
					continue;
				}
				p = x->partition;
				if (p >= XPARTS || x->offset >= end[p])
					violation("%s: ack of partition %u "
						  "offset %" PRIu64 " past its "
						  "end", name, p, x->offset);
				v = &vals[p * stride + x->offset];
				if (v->who != x->who || v->seq != x->seq ||
				    seen[p * stride + x->offset]++)
					violation("%s partition %u offset %"
						  PRIu64 ": producer %u's %"
						  PRIu64 " acknowledged, %u's %"
						  PRIu64 " there", name, p,
						  x->offset, x->who, x->seq,
						  v->who, v->seq);
				checked++;
			}
		for (p = 0; p < XPARTS; p++) {
			records += end[p];
			for (i = 0; i < end[p]; i++)
				if (!seen[p * stride + i] &&
				    xs->nr_acks[0] < MAX_XACKS &&
				    xs->nr_acks[1] < MAX_XACKS)
					violation("%s partition %u offset %u: "
						  "never acknowledged", name,
						  p, i);
		}
		free(seen);
		free(vals);
	}
	printf("mqtorture: exchanges: %" PRIu64 " messages sent, %" PRIu64
	       " unrouted or refused whole, %" PRIu64 " copies failed; %"
	       PRIu64 " binds, %" PRIu64 " topics deleted; %" PRIu64
	       " copies checked at their offsets in %" PRIu64 " records, "
	       "%" PRIu64 " in deleted topics: OK\n", xs->sent, xs->dropped,
	       xs->failed_copies, xs->binds, xs->deleted, checked, records,
	       gone);
}

static void exchange_torture(unsigned int secs, uint64_t rs)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = XPARTS,
		      .capacity = 1 << 20);
	LIBMQDEV_OPTS(mqdev_exchange_opts, eo, .type = MQDEV_EXCHANGE_TOPIC);
	pid_t pids[XPRODUCERS + 1];
	char name[MQDEV_NAME_SIZE];
	unsigned int i;
	int fd, status;

	xs = mmap(NULL, sizeof(*xs), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fd = mqdev_open();
	if (xs == MAP_FAILED || fd < 0)
		violation("exchanges: cannot set up: %s", strerror(errno));
	mqdev_exchange_delete(fd, XEXCHANGE);
	if (mqdev_exchange_create(fd, XEXCHANGE, &eo))
		violation("cannot create the exchange");
	for (i = 0; i < XSLOTS; i++) {
		xtopic_name(name, i, 0);
		mqdev_topic_delete(fd, name);
		if (mqdev_topic_create(fd, name, &cfg) ||
		    mqdev_exchange_bind(fd, XEXCHANGE, name, "#", NULL))
			violation("cannot create topic %s", name);
	}
	for (i = 0; i <= XPRODUCERS; i++) {
		pids[i] = fork();
		if (pids[i])
			continue;
		if (i < XPRODUCERS)
			xproducer(i, rnd(&rs) + i);
		else
			xchurner(rnd(&rs));
		_exit(0);
	}
	sleep(secs);
	xs->stop = 1;
	for (i = 0; i <= XPRODUCERS; i++)
		if (waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			violation("exchange worker %u failed", i);
	xcheck(fd);
	mqdev_exchange_delete(fd, XEXCHANGE);
	for (i = 0; i < XSLOTS; i++) {
		xtopic_name(name, i, xs->gen[i]);
		mqdev_topic_delete(fd, name);
	}
	close(fd);
}

/*
 * A shared mapping of @size for the workers, the control file and the
 * netlink socket, and topic @name made afresh; a failure is a violation.
 */
static void *torture_setup(size_t size, const char *name,
			   const struct mqdev_topic_opts *cfg, int *fd,
			   struct mqdev_nl **nl)
{
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	*fd = mqdev_open();
	if (mem == MAP_FAILED || *fd < 0 || mqdev_nl_open(nl))
		violation("%s: cannot set up: %s", name, strerror(errno));
	mqdev_topic_delete(*fd, name);
	if (mqdev_topic_create(*fd, name, cfg))
		violation("cannot create the topic %s", name);
	return mem;
}

/* A group's committed offsets, into @ctx: PARTS of them. */
static int committed_cb(void *ctx, const struct mqdev_group_info *g)
{
	uint64_t *out = ctx;
	uint32_t i;

	for (i = 0; i < g->nr_parts; i++)
		if (g->part[i].partition < PARTS)
			out[g->part[i].partition] = g->part[i].committed ?
						    g->part[i].position : 0;
	return 0;
}

/* ---- single-writer topics ---------------------------------------------------- */

/*
 * One writer at a time writes records straight into a single-writer
 * topic's rings, each a generation (its number given by the supervisor)
 * counting 0, 1, 2, ... in each partition, and is killed at random, also
 * halfway through writing a record or between the partitions of a commit;
 * the next one takes over.  A holding reader and the one member of a group
 * (never killed) check every record as they are given it:
 *
 *   7. each partition's offsets run 0, 1, 2, ...; generations only grow;
 *      a generation's records in a partition count 0, 1, 2, ... from 0
 *      (what a killed writer published is a prefix of what it wrote);
 *      every record is whole: its length and every byte of its value are
 *      what its writer wrote; and every record a writer's commit returned
 *      for is there, for both readers, and the group committed all of it.
 */
#define SWTOPIC		"torture-sw"
#define SWGROUP		"tsg"
#define SWPARTS		2
#define SWREADERS	2		/* a holding reader, a group's member */
#define MAX_SWGENS	(1 << 14)
#define SWFILL_MAX	200

struct swvalue {
	uint32_t	gen;
	uint32_t	fill;		/* bytes of pattern after this header */
	uint64_t	seq;
	uint64_t	sum;		/* of the above and the pattern */
};

struct swshared {
	/* per generation and partition: records its commits returned for */
	uint64_t	acked[MAX_SWGENS][SWPARTS];
	/* what each reader was given of each generation, per partition */
	uint64_t	seen[SWREADERS][MAX_SWGENS][SWPARTS];
	uint64_t	records[SWREADERS];
	uint64_t	committed;	/* commits that returned */
	uint32_t	reserved;	/* the writer's, not yet committed */
	volatile int	stop;
};

static struct swshared *sws;

static uint8_t sw_pattern(uint32_t gen, uint64_t seq, uint32_t i)
{
	return (uint8_t)(gen * 31 + seq * 7 + i * 13 + 1);
}

static uint64_t sw_sum(const struct swvalue *v)
{
	const uint8_t *b = (const uint8_t *)(v + 1);
	uint64_t s = v->gen * 0x9e3779b97f4a7c15ULL ^ v->seq ^
		     (uint64_t)v->fill << 48;
	uint32_t i;

	for (i = 0; i < v->fill; i++)
		s = (s ^ b[i]) * 0x100000001b3ULL;
	return s;
}

/* Writes until killed; the value is written in two halves, to be cut in. */
static void sw_writer(uint32_t gen, uint64_t rs)
{
	uint64_t seq[SWPARTS] = {};
	struct mqdev_swriter *w;
	struct mqdev_record *rec;
	struct swvalue *v;
	unsigned int i, n, p;
	uint32_t fill, j;
	uint8_t *b;
	int err;

	while ((err = mqdev_swriter_new(SWTOPIC, NULL, &w)) == -EBUSY)
		usleep(1000);	/* the last one's files are not closed yet */
	if (err) {
		errno = -err;
		worker_fails("single writer");
	}
	for (;;) {
		n = 1 + rnd(&rs) % 16;
		for (i = 0; i < n; i++) {
			p = rnd(&rs) % SWPARTS;
			fill = rnd(&rs) % (SWFILL_MAX + 1);
			if (mqdev_swriter_reserve(w, p, 0, sizeof(*v) + fill,
						  0, &rec))
				worker_fails("single writer: reserve");
			__atomic_store_n(&sws->reserved, i + 1,
					 __ATOMIC_RELAXED);
			v = (struct swvalue *)mqdev_record_value(rec);
			b = (uint8_t *)(v + 1);
			v->gen = gen;
			v->fill = fill;
			v->seq = seq[p]++;
			for (j = 0; j < fill / 2; j++)
				b[j] = sw_pattern(gen, v->seq, j);
			if (rnd(&rs) % 64 == 0)
				usleep(200);	/* a window to be killed in */
			for (; j < fill; j++)
				b[j] = sw_pattern(gen, v->seq, j);
			v->sum = sw_sum(v);
		}
		if (mqdev_swriter_commit(w))
			worker_fails("single writer: commit");
		for (p = 0; p < SWPARTS; p++)
			__atomic_store_n(&sws->acked[gen][p], seq[p],
					 __ATOMIC_RELEASE);
		__atomic_add_fetch(&sws->committed, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&sws->reserved, 0, __ATOMIC_RELAXED);
		if (rnd(&rs) % 4 == 0)
			usleep(rnd(&rs) % 1000);
	}
}

/* 7, for one record given to reader @r. */
static void sw_check(unsigned int r, const struct mqdev_record *rec,
		     uint64_t next_offset[SWPARTS], uint32_t last_gen[SWPARTS],
		     uint64_t next_seq[SWPARTS])
{
	const char *who = r ? "the group's member" : "the holding reader";
	uint32_t p = rec->partition, len = mqdev_record_value_len(rec), i;
	struct swvalue v;
	const uint8_t *b;

	if (p >= SWPARTS || rec->offset != next_offset[p])
		violation("single writer: %s: partition %u offset %" PRIu64
			  " where %" PRIu64 " was due", who, p,
			  (uint64_t)rec->offset, next_offset[p % SWPARTS]);
	next_offset[p]++;
	if (len < sizeof(v))
		violation("single writer: %s: partition %u offset %" PRIu64
			  ": torn, %u bytes", who, p, (uint64_t)rec->offset,
			  len);
	memcpy(&v, mqdev_record_value(rec), sizeof(v));
	b = (const uint8_t *)mqdev_record_value(rec) + sizeof(v);
	if (v.fill != len - sizeof(v) || v.gen >= MAX_SWGENS ||
	    v.sum != sw_sum(mqdev_record_value(rec)))
		violation("single writer: %s: partition %u offset %" PRIu64
			  ": torn (generation %u record %" PRIu64 ", %u bytes)",
			  who, p, (uint64_t)rec->offset, v.gen, v.seq, len);
	for (i = 0; i < v.fill; i++)
		if (b[i] != sw_pattern(v.gen, v.seq, i))
			violation("single writer: %s: partition %u offset %"
				  PRIu64 ": byte %u torn", who, p,
				  (uint64_t)rec->offset, i);
	if (v.gen < last_gen[p] ||
	    (v.gen > last_gen[p] ? v.seq != 0 : v.seq != next_seq[p]))
		violation("single writer: %s: partition %u offset %" PRIu64
			  ": generation %u record %" PRIu64 " after generation "
			  "%u record %" PRIu64, who, p, (uint64_t)rec->offset,
			  v.gen, v.seq, last_gen[p], next_seq[p] - 1);
	last_gen[p] = v.gen;
	next_seq[p] = v.seq + 1;
	sws->seen[r][v.gen][p]++;
	sws->records[r]++;
}

/* Reader @r: 0 holds from the earliest record, 1 is a group's member. */
static void sw_reader(unsigned int r)
{
	uint64_t next_offset[SWPARTS] = {}, next_seq[SWPARTS] = {};
	uint32_t last_gen[SWPARTS] = {};
	struct mqdev_partition_info parts[SWPARTS];
	const struct mqdev_record *rec;
	struct mqdev_topic_info info;
	struct mqdev_consumer *c;
	bool finished;
	uint32_t p;
	int fd = mqdev_open(), err;

	if (fd < 0 || mqdev_consumer_new(SWTOPIC, NULL, &c))
		worker_fails("single writer: reader");
	err = r ? mqdev_consumer_join(c, SWGROUP, MQDEV_SEEK_EARLIEST) :
		  mqdev_consumer_seek(c, MQDEV_PARTITION_ALL,
				      MQDEV_SEEK_EARLIEST, 0, MQDEV_SEEK_HOLD,
				      NULL);
	if (err) {
		errno = -err;
		worker_fails("single writer: reader");
	}
	for (;;) {
		err = mqdev_consumer_wait(c, 100);
		if (err < 0 && err != -EINTR)
			violation("single writer: reader %u: wait: %s", r,
				  strerror(-err));
		while ((rec = mqdev_consumer_peek(c))) {
			sw_check(r, rec, next_offset, last_gen, next_seq);
			mqdev_consumer_release(c);
		}
		err = mqdev_consumer_error(c);
		if (err)
			violation("single writer: reader %u: %s", r,
				  strerror(-err));
		if (r && mqdev_consumer_commit(c))
			violation("single writer: the group's commit failed");
		if (sws->stop < 2)
			continue;
		err = mqdev_topic_describe(fd, SWTOPIC, &info, parts, SWPARTS);
		if (err)
			violation("single writer: describe: %s", strerror(-err));
		finished = true;
		for (p = 0; p < SWPARTS; p++)
			finished &= next_offset[p] == parts[p].next_offset;
		if (finished)
			break;
	}
	mqdev_consumer_free(c);
	_exit(0);
}

static pid_t sw_start(uint32_t gen, uint64_t rs)
{
	pid_t pid = fork();

	if (!pid)
		sw_writer(gen, rs);
	return pid;
}

static void swriter_torture(unsigned int secs, uint64_t rs)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = SWPARTS,
		      .capacity = 256 << 10, .flags = MQDEV_TOPIC_SINGLE_WRITER);
	struct mqdev_partition_info parts[SWPARTS];
	uint64_t committed[PARTS], end, kills = 0, records = 0, cut = 0;
	pid_t readers[SWREADERS], writer;
	struct mqdev_topic_info info;
	uint32_t gen = 0, g, p;
	struct mqdev_nl *nl;
	struct timespec ts;
	unsigned int r;
	int fd, status;

	sws = torture_setup(sizeof(*sws), SWTOPIC, &cfg, &fd, &nl);
	for (r = 0; r < SWREADERS; r++) {
		readers[r] = fork();
		if (!readers[r])
			sw_reader(r);
	}
	usleep(200 * 1000);		/* both hold from offset 0 */
	writer = sw_start(gen, rnd(&rs));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = ts.tv_sec + secs;
	while (clock_gettime(CLOCK_MONOTONIC, &ts), (uint64_t)ts.tv_sec < end &&
	       gen + 1 < MAX_SWGENS) {
		usleep(2000 + rnd(&rs) % 30000);
		kill(writer, SIGKILL);
		/* killed with records reserved, not committed (as near as told) */
		cut += __atomic_exchange_n(&sws->reserved, 0,
					   __ATOMIC_RELAXED) != 0;
		if (waitpid(writer, &status, 0) != writer ||
		    !WIFSIGNALED(status))
			violation("single writer: generation %u failed", gen);
		kills++;
		writer = sw_start(++gen, rnd(&rs));
	}
	kill(writer, SIGKILL);
	if (waitpid(writer, &status, 0) != writer || !WIFSIGNALED(status))
		violation("single writer: generation %u failed", gen);
	sws->stop = 2;
	for (r = 0; r < SWREADERS; r++)
		if (waitpid(readers[r], &status, 0) != readers[r] ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			violation("single writer: reader %u failed", r);
	/* every record a commit returned for was given to both readers */
	for (g = 0; g <= gen; g++)
		for (p = 0; p < SWPARTS; p++)
			for (r = 0; r < SWREADERS; r++)
				if (sws->seen[r][g][p] < sws->acked[g][p])
					violation("single writer: generation %u "
						  "partition %u: %" PRIu64
						  " committed, reader %u was "
						  "given %" PRIu64, g, p,
						  sws->acked[g][p], r,
						  sws->seen[r][g][p]);
	if (mqdev_topic_describe(fd, SWTOPIC, &info, parts, SWPARTS))
		violation("single writer: describe failed");
	memset(committed, 0, sizeof(committed));
	if (mqdev_group_get(nl, SWGROUP, SWTOPIC, committed_cb, committed))
		violation("single writer: the group is gone");
	for (p = 0; p < SWPARTS; p++) {
		if (committed[p] != parts[p].next_offset)
			violation("single writer: partition %u: the group "
				  "committed %" PRIu64 " of %" PRIu64, p,
				  committed[p], (uint64_t)parts[p].next_offset);
		records += parts[p].next_offset;
	}
	if (sws->records[0] != records || sws->records[1] != records)
		violation("single writer: %" PRIu64 " records, the readers "
			  "were given %" PRIu64 " and %" PRIu64, records,
			  sws->records[0], sws->records[1]);
	printf("mqtorture: single writer: %u s, %" PRIu64 " writers killed (%"
	       PRIu64 " with records reserved, not committed), %" PRIu64
	       " commits returned; %" PRIu64 " records, each whole and in "
	       "order for a holding reader and a group's member; every "
	       "committed one there; the group committed them all: OK\n",
	       secs, kills, cut, sws->committed, records);
	mqdev_nl_close(nl);
	mqdev_topic_delete(fd, SWTOPIC);
	close(fd);
}

/* ---- share groups and dead letters ------------------------------------- */

/*
 * A producer (never killed) sends SHRECORDS records, each its own number,
 * to a topic while members of one share group acquire them: most accept,
 * some release (with a back-off of their own or the group's schedule), all
 * reject the poison ones (every SHPOISON-th), and some die by SIGKILL
 * holding what they acquired, leave holding it, or sleep past their locks.
 * The group's dead-letter topic gets the rejected records, those past
 * max_deliveries and (MQDEV_SHARE_DLQ_EXPIRED) those that expired before
 * a member took them: every SHEXPIRING-th record is sent with a TTL of a
 * few milliseconds, so some are taken in time and some are not.  Once
 * every partition's window has moved past its last record, the
 * dead-letter topic is read and:
 *
 *   8. no record was accepted twice; no poison record was accepted; every
 *      record was accepted exactly once or is in the dead-letter topic
 *      exactly once, never both, never neither; and each dead letter's
 *      mqdev.dlq.* headers name the group, the topic, the record's partition
 *      and offset, its delivery count and a reason that fits (a poison
 *      record "rejected" by a member, "max-deliveries" at the group's
 *      maximum, or "expired" for a record sent with a TTL).
 *
 * A member kills itself right after an acquire, never between an accept
 * and its note of it, so that every accept the kernel did is counted.
 */
#define SHTOPIC		"torture-sh"
#define SHDLQ		"torture-shdlq"
#define SHGROUP		"tshg"
#define SHPARTS		2
#define SHMEMBERS	4
#define SHRECORDS	3000
#define SHPOISON	29
#define SHEXPIRING	37	/* records id % it == 5 have a TTL */
#define SHMAX_DELIVERIES 3
#define SHLOCK_MS	200
#define SHMAGIC		0x73686172U

struct shvalue {
	uint32_t	magic;
	uint32_t	id;
};

struct sshared {
	uint64_t	offset[SHRECORDS];	/* where the producer's landed */
	uint8_t		acked[SHRECORDS];
	uint32_t	accepted[SHRECORDS];	/* by the members */
	uint32_t	rejected[SHRECORDS];
	uint32_t	dead[SHRECORDS];	/* in the dead-letter topic */
	uint64_t	released, stale, kills, leaves, stalls;
	uint64_t	maxed, expired;		/* dead letters by reason */
	volatile int	produced, stop;
};

static struct sshared *ss;

static void sh_note_ack(void *ctx, const struct mqdev_ack *ack)
{
	uint32_t id = (uint32_t)(uintptr_t)ack->opaque;

	if (ack->error || id >= SHRECORDS || ack->partition != id % SHPARTS)
		violation("share: record %u not produced: %d", id, ack->error);
	ss->offset[id] = ack->offset;
	ss->acked[id] = 1;
}

static bool sh_expiring(uint32_t id)
{
	return id % SHEXPIRING == 5;
}

static void sh_producer(uint64_t rs)
{
	LIBMQDEV_OPTS(mqdev_producer_opts, opts, .ack_fn = sh_note_ack);
	LIBMQDEV_OPTS(mqdev_send_opts, so);
	struct shvalue v = { .magic = SHMAGIC };
	struct mqdev_producer *p;
	uint32_t n;

	if (mqdev_producer_new(SHTOPIC, &opts, &p))
		worker_fails("share producer");
	for (v.id = 0; v.id < SHRECORDS; ) {
		for (n = 1 + rnd(&rs) % 64; n && v.id < SHRECORDS; n--, v.id++) {
			/* 1 to 20 ms: some taken in time, some not */
			so.ttl_ns = sh_expiring(v.id) ?
				    (1 + rnd(&rs) % 20) * 1000000ULL : 0;
			if (mqdev_producer_send_opts(p, NULL, 0, &v, sizeof(v),
						     v.id % SHPARTS,
						     (void *)(uintptr_t)v.id,
						     &so) < 0)
				worker_fails("share producer send");
		}
		if (mqdev_producer_flush(p) < 0)
			worker_fails("share producer flush");
		usleep(rnd(&rs) % 3000);
	}
	mqdev_producer_free(p);
	_exit(0);
}

#define SHLOCK_SLACK_NS	(20 * 1000000ULL)

static uint64_t sh_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* One acquired record handled: accepted, released or rejected. */
static void sh_handle(struct mqdev_share *s, const struct mqdev_delivery *d,
		      uint64_t *rs)
{
	LIBMQDEV_OPTS(mqdev_share_ack_opts, ao, .read = d, .nr_read = 1);
	const struct shvalue *v;
	const void *val;
	uint32_t len, type;
	int err;

	if (!d->rec || mqdev_record_payload(d->rec, &val, &len) ||
	    len != sizeof(*v))
		violation("share: partition %u offset %" PRIu64 ": not a "
			  "record of ours", d->partition, d->offset);
	v = val;
	if (v->magic != SHMAGIC || v->id >= SHRECORDS ||
	    v->id % SHPARTS != d->partition)
		violation("share: partition %u offset %" PRIu64 ": bad value",
			  d->partition, d->offset);
	if (d->delivery_count < 1 || d->delivery_count > SHMAX_DELIVERIES)
		violation("share: record %u delivered with count %u", v->id,
			  d->delivery_count);
	if (v->id % SHPOISON == 0)
		type = MQDEV_SHARE_REJECT;
	else if (rnd(rs) % 5 == 0)
		type = MQDEV_SHARE_RELEASE;
	else
		type = MQDEV_SHARE_ACCEPT;
	if (type == MQDEV_SHARE_RELEASE) {
		/* half with the group's schedule, half with our own */
		ao.backoff_ms = rnd(rs) % 2 ? 0 : 1 + rnd(rs) % 5;
		ao.read = NULL;
		ao.nr_read = 0;
	}
	err = mqdev_share_ack(s, d->partition, d->offset, d->offset + 1,
			      type, &ao);
	/*
	 * Our lock expired: the record comes again (ESTALE), or another
	 * member already finished it and the window moved past (ERANGE).
	 * Not before it expired (give or take a timer tick).
	 */
	if (err == -ESTALE || err == -ERANGE) {
		if (sh_now_ns() + SHLOCK_SLACK_NS < d->lock_until_ns)
			violation("share: ack of record %u: %s with its lock "
				  "held for %" PRIu64 " ms more", v->id,
				  strerror(-err), (d->lock_until_ns -
						   sh_now_ns()) / 1000000);
		__atomic_add_fetch(&ss->stale, 1, __ATOMIC_RELAXED);
		return;
	}
	if (err)
		violation("share: ack of record %u (type %u): %s", v->id,
			  type, strerror(-err));
	if (type == MQDEV_SHARE_ACCEPT)
		__atomic_add_fetch(&ss->accepted[v->id], 1, __ATOMIC_RELAXED);
	else if (type == MQDEV_SHARE_REJECT)
		__atomic_add_fetch(&ss->rejected[v->id], 1, __ATOMIC_RELAXED);
	else
		__atomic_add_fetch(&ss->released, 1, __ATOMIC_RELAXED);
}

static void sh_member(uint64_t rs)
{
	static const uint32_t backoff[] = { 1, 2, 4 };
	LIBMQDEV_OPTS(mqdev_share_opts, opts, .lock_ms = SHLOCK_MS,
		      .max_deliveries = SHMAX_DELIVERIES, .dlq_topic = SHDLQ,
		      .backoff_ms = backoff, .nr_backoff = 3,
		      .dlq_flags = MQDEV_SHARE_DLQ_EXPIRED);
	struct mqdev_delivery d[16];
	struct mqdev_share *s;
	int n, i;

	if (mqdev_share_new(SHTOPIC, SHGROUP, &opts, &s))
		worker_fails("share member");
	while (!ss->stop) {
		n = mqdev_share_acquire(s, MQDEV_PARTITION_ANY, d,
					1 + rnd(&rs) % 16);
		if (n < 0)
			violation("share: acquire: %s", strerror(-n));
		if (!n) {
			usleep(500);
			continue;
		}
		switch (rnd(&rs) % 100) {
		case 0 ... 1:	/* dies holding them */
			__atomic_add_fetch(&ss->kills, 1, __ATOMIC_RELAXED);
			raise(SIGKILL);
			break;
		case 2 ... 3:	/* leaves holding them */
			__atomic_add_fetch(&ss->leaves, 1, __ATOMIC_RELAXED);
			mqdev_share_free(s);
			_exit(0);
		case 4:		/* its locks expire */
			__atomic_add_fetch(&ss->stalls, 1, __ATOMIC_RELAXED);
			usleep((SHLOCK_MS + 50) * 1000);
			break;
		}
		for (i = 0; i < n; i++)
			sh_handle(s, &d[i], &rs);
	}
	mqdev_share_free(s);
	_exit(0);
}

/* Every partition's window past its last record, or not yet. */
static bool sh_settled(int fd)
{
	struct mqdev_share_info info;
	uint32_t p, count[SHPARTS] = {};

	/* records go to partition id % SHPARTS */
	for (p = 0; p < SHPARTS; p++)
		count[p] = (SHRECORDS - p + SHPARTS - 1) / SHPARTS;
	for (p = 0; p < SHPARTS; p++)
		if (mqdev_share_describe(fd, SHGROUP, p, &info) ||
		    info.start < count[p])
			return false;
	return true;
}

static uint64_t sh_num(const struct mqdev_header *h)
{
	char num[24];
	uint32_t n = h->value_len < 0 ? 0 : (uint32_t)h->value_len;

	if (n >= sizeof(num))
		n = sizeof(num) - 1;
	memcpy(num, h->value, n);
	num[n] = 0;
	return strtoull(num, NULL, 10);
}

static bool sh_is(const struct mqdev_header *h, const char *name,
		  const char *value)
{
	size_t len = strlen(name);

	if (h->key_len != len || memcmp(h->key, name, len))
		return false;
	return !value || ((size_t)h->value_len == strlen(value) &&
			  !memcmp(h->value, value, h->value_len));
}

/* A dead letter: the record it carries and what its headers say. */
static int sh_dead(void *ctx, const struct mqdev_record *rec)
{
	struct mqdev_header_iter it = {};
	uint64_t part = ~0ULL, off = ~0ULL, count = 0;
	bool topic = false, group = false, rejected = false, maxed = false;
	bool expired = false;
	const struct shvalue *v;
	struct mqdev_header h;
	const void *val;
	uint32_t len;
	int r;

	while ((r = mqdev_record_header_next(rec, &it, &h)) == 1) {
		topic |= sh_is(&h, MQDEV_DLQ_HDR_TOPIC, SHTOPIC);
		group |= sh_is(&h, MQDEV_DLQ_HDR_GROUP, SHGROUP);
		rejected |= sh_is(&h, MQDEV_DLQ_HDR_REASON, MQDEV_DLQ_REJECTED);
		maxed |= sh_is(&h, MQDEV_DLQ_HDR_REASON,
			       MQDEV_DLQ_MAX_DELIVERIES);
		expired |= sh_is(&h, MQDEV_DLQ_HDR_REASON, MQDEV_DLQ_EXPIRED);
		if (sh_is(&h, MQDEV_DLQ_HDR_PARTITION, NULL))
			part = sh_num(&h);
		else if (sh_is(&h, MQDEV_DLQ_HDR_OFFSET, NULL))
			off = sh_num(&h);
		else if (sh_is(&h, MQDEV_DLQ_HDR_COUNT, NULL))
			count = sh_num(&h);
	}
	if (r < 0 || mqdev_record_payload(rec, &val, &len) ||
	    len != sizeof(*v))
		violation("share: dead letter at %" PRIu64 ": malformed",
			  (uint64_t)rec->offset);
	v = val;
	if (v->magic != SHMAGIC || v->id >= SHRECORDS)
		violation("share: dead letter at %" PRIu64 ": not ours",
			  (uint64_t)rec->offset);
	/* an expired record may never have been delivered */
	if (!topic || !group || part != v->id % SHPARTS ||
	    off != ss->offset[v->id] || (count < 1 && !expired) ||
	    count > SHMAX_DELIVERIES || rejected + maxed + expired != 1)
		violation("share: dead letter of record %u: headers say topic "
			  "%d group %d partition %" PRIu64 " offset %" PRIu64
			  " (it was at %" PRIu64 ") deliveries %" PRIu64
			  " reason %s", v->id, topic, group, part, off,
			  ss->offset[v->id], count,
			  rejected ? "rejected" : maxed ? "max-deliveries" :
			  expired ? "expired" : "none");
	/* rejected: by a member that said so; else at the maximum */
	if ((rejected && (v->id % SHPOISON || !ss->rejected[v->id])) ||
	    (maxed && count != SHMAX_DELIVERIES) ||
	    (expired && !sh_expiring(v->id)))
		violation("share: dead letter of record %u: reason %s after "
			  "%" PRIu64 " deliveries", v->id,
			  rejected ? "rejected" : maxed ? "max-deliveries" :
			  "expired", count);
	ss->dead[v->id]++;
	ss->maxed += maxed;
	ss->expired += expired;
	(*(uint64_t *)ctx)++;
	return 0;
}

/* 8: each record accepted once or dead once, and no poison accepted. */
static void sh_check(uint64_t dead)
{
	uint64_t accepted = 0;
	uint32_t id;

	for (id = 0; id < SHRECORDS; id++) {
		if (!ss->acked[id])
			violation("share: record %u never acknowledged", id);
		if (ss->accepted[id] > 1)
			violation("share: record %u accepted %u times", id,
				  ss->accepted[id]);
		if (ss->dead[id] > 1)
			violation("share: record %u dead-lettered %u times",
				  id, ss->dead[id]);
		if (id % SHPOISON == 0 && ss->accepted[id])
			violation("share: poison record %u accepted", id);
		if (ss->accepted[id] + ss->dead[id] != 1)
			violation("share: record %u %s", id, ss->dead[id] ?
				  "accepted and dead-lettered" :
				  "lost: neither accepted nor dead-lettered");
		accepted += ss->accepted[id];
	}
	printf("mqtorture: share groups: %u records, %" PRIu64 " accepted "
	       "once each, %" PRIu64 " dead letters (%" PRIu64 " past the "
	       "maximum, %" PRIu64 " expired), each right; %" PRIu64
	       " releases, %" PRIu64
	       " members killed holding records, %" PRIu64 " left holding, %"
	       PRIu64 " stalled past their locks (%" PRIu64 " stale acks): "
	       "OK\n", SHRECORDS, accepted, dead, ss->maxed, ss->expired,
	       ss->released,
	       ss->kills, ss->leaves, ss->stalls, ss->stale);
}

static void share_torture(unsigned int secs, uint64_t rs)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = SHPARTS,
		      .capacity = 1 << 20);
	LIBMQDEV_OPTS(mqdev_topic_opts, dcfg, .partitions = 1,
		      .capacity = 1 << 20);
	struct mqdev_attach att = { .flags = MQDEV_ATTACH_CONSUME };
	struct mqdev_share_dlq_info dinfo;
	struct mqdev_consumer *c;
	pid_t prod, m[SHMEMBERS];
	struct mqdev_nl *nl;
	uint64_t dead = 0, end;
	unsigned int i;
	int fd, status, r;
	struct timespec ts;

	ss = torture_setup(sizeof(*ss), SHTOPIC, &cfg, &fd, &nl);
	mqdev_topic_delete(fd, SHDLQ);
	snprintf(att.name, sizeof(att.name), "%s", SHTOPIC);
	if (mqdev_topic_create(fd, SHDLQ, &dcfg) ||
	    ioctl(fd, MQDEV_IOC_ATTACH, &att))
		violation("share: cannot create %s", SHDLQ);
	prod = fork();
	if (!prod)
		sh_producer(rnd(&rs));
	for (i = 0; i < SHMEMBERS; i++) {
		m[i] = fork();
		if (!m[i])
			sh_member(rnd(&rs) + i);
	}
	/* dead members come back until the windows are past every record */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = ts.tv_sec + secs;
	while (!sh_settled(fd)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if ((uint64_t)ts.tv_sec >= end)
			violation("share: not every record done in %u s", secs);
		for (i = 0; i < SHMEMBERS; i++) {
			r = waitpid(m[i], &status, WNOHANG);
			if (r != m[i])
				continue;
			if (WIFEXITED(status) && WEXITSTATUS(status))
				violation("share: member failed");
			m[i] = fork();
			if (!m[i])
				sh_member(rnd(&rs) + i);
		}
		usleep(10000);
	}
	ss->stop = 1;
	for (i = 0; i < SHMEMBERS; i++)
		waitpid(m[i], &status, 0);
	if (waitpid(prod, &status, 0) != prod || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		violation("share: the producer failed");
	/* the dead letters, until none came for a second */
	if (mqdev_consumer_new(SHDLQ, NULL, &c) ||
	    mqdev_consumer_seek(c, MQDEV_PARTITION_ALL, MQDEV_SEEK_EARLIEST,
				0, 0, NULL))
		violation("share: cannot read %s", SHDLQ);
	while ((r = mqdev_consumer_poll(c, 1000, 64, sh_dead, &dead)) > 0)
		;
	if (r < 0)
		violation("share: reading %s: %s", SHDLQ, strerror(-r));
	mqdev_consumer_free(c);
	if (mqdev_share_dlq_info(fd, SHGROUP, &dinfo) ||
	    dinfo.written != dead || dinfo.full || dinfo.gone || dinfo.failed)
		violation("share: dead-letter counts: %" PRIu64 " written, %"
			  PRIu64 " read, %" PRIu64 " full, %" PRIu64 " gone, %"
			  PRIu64 " failed", (uint64_t)dinfo.written, dead,
			  (uint64_t)dinfo.full, (uint64_t)dinfo.gone,
			  (uint64_t)dinfo.failed);
	sh_check(dead);
	close(fd);
	mqdev_nl_close(nl);
	fd = mqdev_open();
	mqdev_topic_delete(fd, SHTOPIC);
	mqdev_topic_delete(fd, SHDLQ);
	close(fd);
}

/* ---- the supervisor --------------------------------------------------------- */

enum role { PLAIN, TXNER, BATCHER, MEMBER, NR_ROLES };

struct worker {
	enum role	role;
	unsigned int	index;
	pid_t		pid;
};

static pid_t start(struct worker *w, uint64_t rs)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	switch (w->role) {
	case PLAIN:
		plain_producer(w->index, rs);
		break;
	case TXNER:
		txn_producer(w->index, rs);
		break;
	case BATCHER:
		batch_producer(w->index, rs);
		break;
	default:
		member(rs);
	}
	_exit(0);
}

static uint64_t group_committed(struct mqdev_nl *nl, uint64_t out[PARTS])
{
	memset(out, 0, PARTS * sizeof(*out));
	return mqdev_group_get(nl, GROUP, TOPIC, committed_cb, out) ? 1 : 0;
}

/* Read from the group's offsets to the end as its last member. */
static void last_member(void)
{
	struct mqdev_consumer *c;
	const struct mqdev_record *rec;
	uint64_t got = 0;

	if (mqdev_consumer_new(TOPIC, NULL, &c) ||
	    mqdev_consumer_join(c, GROUP, MQDEV_SEEK_EARLIEST))
		violation("the last member cannot join");
	while (mqdev_consumer_wait(c, 500) > 0)
		while ((rec = mqdev_consumer_peek(c))) {
			if (rec->offset < MAX_OFFSETS)
				sh->delivered[rec->partition][rec->offset]++;
			mqdev_consumer_release(c);
			got++;
		}
	mqdev_consumer_commit(c);
	mqdev_consumer_free(c);
	printf("mqtorture: the last member read %" PRIu64 " records from the "
	       "group's committed offsets\n", got);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 's' },
		{ "exchange-seconds", required_argument, NULL, 'x' },
		{ "swriter-seconds", required_argument, NULL, 'w' },
		{ "share-seconds", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct audit *a;
	struct worker w[PRODUCERS + TXNERS + BATCHERS + MEMBERS];
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = PARTS,
		      .capacity = 4 << 20);
	uint64_t rs, end, committed[PARTS], prev[PARTS] = {}, kills = 0;
	uint64_t o, n, given = 0, txns = 0, whole = 0;
	unsigned int i, nr = 0, p, t;
	int opt, fd, status, xseconds = -1, swseconds = -1;
	int shseconds = 60;
	pid_t audit_pid, checker_pid;
	struct mqdev_nl *nl;
	struct timespec ts;

	while ((opt = getopt_long(argc, argv, "t:s:x:w:g:h", opts, NULL)) != -1) {
		switch (opt) {
		case 't': seconds = atoi(optarg); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'x': xseconds = atoi(optarg); break;
		case 'w': swseconds = atoi(optarg); break;
		case 'g': shseconds = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: mqtorture [--seconds T] "
				"[--exchange-seconds T] [--swriter-seconds T] "
				"[--share-seconds T] [--seed S]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	rs = seed * 2654435761ULL | 1;
	sh = torture_setup(sizeof(*sh), TOPIC, &cfg, &fd, &nl);

	a = &sh->audit;
	audit_pid = fork();
	if (!audit_pid)
		auditor();
	checker_pid = fork();
	if (!checker_pid)
		checker(rnd(&rs));
	usleep(200 * 1000);		/* the auditor holds from offset 0 */
	for (i = 0; i < PRODUCERS; i++)
		w[nr++] = (struct worker){ PLAIN, i, 0 };
	for (i = 0; i < TXNERS; i++)
		w[nr++] = (struct worker){ TXNER, i, 0 };
	for (i = 0; i < BATCHERS; i++)
		w[nr++] = (struct worker){ BATCHER, i, 0 };
	for (i = 0; i < MEMBERS; i++)
		w[nr++] = (struct worker){ MEMBER, i, 0 };
	for (i = 0; i < nr; i++)
		w[i].pid = start(&w[i], rnd(&rs));

	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = ts.tv_sec + seconds;
	while (clock_gettime(CLOCK_MONOTONIC, &ts), (uint64_t)ts.tv_sec < end) {
		usleep(5000 + rnd(&rs) % 50000);
		i = rnd(&rs) % nr;
		if (w[i].pid > 0) {
			kill(w[i].pid, SIGKILL);
			waitpid(w[i].pid, &status, 0);
			kills++;
		}
		w[i].pid = start(&w[i], rnd(&rs));
		/* 3: committed offsets never go back */
		if (!group_committed(nl, committed))
			for (p = 0; p < PARTS; p++) {
				if (committed[p] < prev[p])
					violation("partition %u: the group's "
						  "committed offset went back "
						  "from %" PRIu64 " to %" PRIu64,
						  p, prev[p], committed[p]);
				prev[p] = committed[p];
			}
	}
	/* a worker may sleep on a full partition: stop them all the hard way */
	sh->stop = 1;
	for (i = 0; i < nr; i++) {
		if (w[i].pid <= 0)
			continue;
		kill(w[i].pid, SIGKILL);
		waitpid(w[i].pid, &status, 0);
	}
	/* transactions left open are the checker's now: let it answer */
	sleep(2);
	sh->stop = 2;
	if (waitpid(audit_pid, &status, 0) != audit_pid ||
	    !WIFEXITED(status) || WEXITSTATUS(status))
		violation("the auditor did not finish");
	kill(checker_pid, SIGKILL);
	waitpid(checker_pid, &status, 0);

	/* 1: every acknowledged record is there (order was checked as read) */
	for (i = 0; i < PRODUCERS; i++)
		for (p = 0; p < PARTS; p++)
			if (a->next_seq[i][p] < sh->acked[i][p])
				violation("producer tp%u partition %u: %" PRIu64
					  " acknowledged, %" PRIu64 " there",
					  i, p, sh->acked[i][p],
					  a->next_seq[i][p]);
	/* 5: no batch cut off at the end, and every acknowledged one there */
	for (p = 0; p < PARTS; p++)
		audit_batch(a, p, &(struct value){ .kind = KIND_PLAIN },
			    a->next_offset[p]);
	for (i = 0; i < BATCHERS; i++)
		for (n = 0; n < sh->next_batch[i] && n < MAX_BATCHES; n++)
			if (sh->batch_acked[i][n] && !a->batch_whole[i][n])
				violation("batch %u/%" PRIu64 ": acknowledged, "
					  "not there", i, n);
	/* 2: no transaction half visible, each as its outcome says */
	for (t = 0; t < sh->next_txn && t < MAX_TXNS; t++) {
		/*
		 * All that went into it, or none: a checker that commits for a
		 * producer killed halfway through sending commits what the
		 * transaction holds, which may be fewer than PARTS records.
		 */
		if (a->txn_parts[t] && a->txn_aborted[t])
			violation("transaction %u: %u records visible, %u aborted",
				  t, a->txn_parts[t], a->txn_aborted[t]);
		if ((sh->txn_seen[t] == TXN_COMMITTED &&
		     a->txn_parts[t] != PARTS) ||
		    (sh->txn_seen[t] == TXN_ABORTED && a->txn_parts[t]))
			violation("transaction %u: %s, %u records visible", t,
				  sh->txn_seen[t] == TXN_COMMITTED ?
				  "its commit acknowledged" : "aborted",
				  a->txn_parts[t]);
		txns += !!sh->txn_seen[t];
		whole += a->txn_parts[t] && !a->txn_aborted[t];
	}
	/* 4: everything the group was given is committed or comes again */
	last_member();
	for (p = 0; p < PARTS; p++)
		for (o = 0; o < a->next_offset[p] && o < MAX_OFFSETS; o++)
			given += sh->delivered[p][o] != 0;
	if (given + a->tracked_aborted < a->tracked)
		violation("%" PRIu64 " records were never delivered to the group "
			  "(%" PRIu64 " published, %" PRIu64 " aborted)",
			  a->tracked - a->tracked_aborted - given, a->tracked,
			  a->tracked_aborted);
	if (a->tracked < a->records)
		printf("mqtorture: deliveries checked for the first %d offsets "
		       "of each partition: %" PRIu64 " of %" PRIu64 " records\n",
		       MAX_OFFSETS, a->tracked, a->records);

	printf("mqtorture: %u s, %" PRIu64 " kills; %" PRIu64 " records "
	       "audited in order; every acknowledged one there once; %" PRIu64
	       " record batches, each whole; %" PRIu64
	       " transactions decided, %" PRIu64 " visible whole, none in part, "
	       "%" PRIu64 " aborted records never delivered; committed offsets "
	       "never went back; every record delivered to the group: OK\n",
	       seconds, kills, a->records, a->batches, txns, whole, a->aborted);
	mqdev_topic_delete(fd, TOPIC);
	if (xseconds < 0)
		xseconds = seconds / 4 > 2 ? seconds / 4 : 2;
	if (xseconds)
		exchange_torture(xseconds, rnd(&rs));
	if (swseconds < 0)
		swseconds = seconds / 4 > 2 ? seconds / 4 : 2;
	if (swseconds)
		swriter_torture(swseconds, rnd(&rs));
	if (shseconds)
		share_torture(shseconds, rnd(&rs));
	return 0;
}
