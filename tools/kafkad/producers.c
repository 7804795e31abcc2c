// SPDX-License-Identifier: GPL-2.0
/*
 * mqdev-kafkad: idempotent producers (InitProducerId), as mqdev producer
 * sessions.
 *
 * InitProducerId without a transactional id opens an mqdev session of the
 * daemon's own; its producer id is the Kafka producer id and its epoch the
 * Kafka epoch.  The daemon keeps the session, not the connection, so a
 * client that reconnects goes on with the same producer: a batch it sends
 * again after a dropped connection carries the sequence numbers it had, and
 * the kernel, which keeps each partition's next sequence and the offsets of
 * the last records under the partition's lock, appends nothing of it again
 * and gives back the offsets it got the first time.  A Kafka batch's
 * records have the sequences base_sequence, base_sequence + 1, ..., from 0
 * at each new epoch: each is an mqdev message's sequence, counted from
 * where the session found its partition's sequences (bound_base()).
 *
 * The sessions are bounded (max_producers): past it, the one idle longest
 * is closed, and its client's next batch is answered UNKNOWN_PRODUCER_ID.
 * So is one after a restart of the daemon, whose sessions close with it
 * (Kafka keeps producer state in its log; mqdev keeps it with the session,
 * or with a session's name).  librdkafka then bumps the epoch itself and
 * starts again at sequence 0, which producer_adopt() takes on.
 *
 * A transactional id is an mqdev session name: the same producer id for
 * every instance, and each InitProducerId a new epoch that fences the
 * instances before it (the kernel refuses their appends, ESTALE), after the
 * daemon aborted what the last one left open, as Kafka's coordinator does.
 * AddPartitionsToTxn begins the mqdev transaction, the records produced
 * meanwhile are invisible to every reader, and EndTxn commits or aborts it:
 * mqdev's readers (and so Fetch) never see an aborted or undecided record.
 * Offsets sent with a transaction (AddOffsetsToTxn, TxnOffsetCommit) are
 * not served: mqdev commits a group's offsets with a transaction only for a
 * member of that mqdev group (MQDEV_IOC_TXN_OFFSETS), and the daemon's Kafka
 * groups commit from outside theirs (see group.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "kafkad.h"

static void kproducer_free(struct kproducer *p)
{
	struct kbound *b;

	while ((b = p->bound)) {
		p->bound = b->next;
		mqdev_producer_free(b->prod);
		if (!b->shared)
			free(b->base);
		free(b);
	}
	/* an open transaction goes to its checker: with none, it aborts */
	mqdev_session_free(p->session);
	txn_offsets_done(p);
	free(p);
}

static void producer_unlink(struct daemon *d, struct kproducer *p)
{
	struct kproducer **pp;

	for (pp = &d->producers; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			d->nproducers--;
			return;
		}
	}
}

/* Past max_producers: close the session idle longest. */
static void producers_evict(struct daemon *d)
{
	struct kproducer *p, *oldest = NULL;

	for (p = d->producers; p; p = p->next)
		if (!oldest || p->last_ms < oldest->last_ms)
			oldest = p;
	if (!oldest)
		return;
	logmsg(d, "producer %lld: closed, the longest idle of %u",
	       (long long)oldest->id, d->nproducers);
	producer_unlink(d, oldest);
	kproducer_free(oldest);
}

/**
 * producer_find() - The idempotent producer of a Kafka producer id.
 * @d: the daemon
 * @id: the batch's producer id
 *
 * Return: the producer, or NULL if the daemon has none of that id.
 */
struct kproducer *producer_find(struct daemon *d, int64_t id)
{
	struct kproducer *p;

	for (p = d->producers; p; p = p->next) {
		if (p->id == id) {
			p->last_ms = d->now_ms;
			return p;
		}
	}
	return NULL;
}

/**
 * producer_adopt() - take on an idempotent producer the daemon does not know
 * @d: the daemon
 * @id: the batch's producer id
 * @epoch: its epoch
 * @first_seq: its base sequence
 *
 * A producer id the daemon does not hold (of an instance of the daemon
 * before this one, or closed past max_producers) is answered
 * UNKNOWN_PRODUCER_ID.  librdkafka then does not ask for a new id: it
 * bumps the epoch itself and numbers its records from 0 again, as Kafka's
 * brokers take a producer they have no state of that starts at 0.  So the
 * daemon takes it on, with a session of its own under the client's id and
 * epoch, for such a batch only: non-transactional, sequence 0, an epoch
 * past the first (which every session the daemon opens has).  A batch of
 * epoch 0 may be the client's first sent again after the daemon that
 * appended it died: it stays UNKNOWN_PRODUCER_ID, and librdkafka, unsure
 * whether it landed, fails rather than bump (see mqdev-kafkad(8)).
 *
 * Return: the producer, or NULL when it is not to be taken on or no
 * session could be opened.
 */
struct kproducer *producer_adopt(struct daemon *d, int64_t id, int16_t epoch,
				 int32_t first_seq)
{
	struct kproducer *p;

	if (id < 0 || epoch <= 0 || first_seq != 0)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	if (d->nproducers >= d->cfg.max_producers)
		producers_evict(d);
	if (mqdev_session_new(NULL, 0, &p->session)) {
		free(p);
		return NULL;
	}
	p->id = id;
	p->epoch = epoch;
	p->adopted = true;
	p->last_ms = d->now_ms;
	p->next = d->producers;
	d->producers = p;
	d->nproducers++;
	logmsg(d, "producer id %lld, epoch %d: not this daemon's, taken on at "
	       "sequence 0", (long long)id, epoch);
	return p;
}

/*
 * Where the session's sequences start in each partition of a topic, read
 * when it first binds there: Kafka numbers a producer's records from 0 at
 * every new epoch, while a named identity's sequences go on where the
 * instance before left them.  Kept for the session's life, and shared by
 * its handles on the topic (acks=all or not), so that a batch sent again
 * is numbered as it was the first time.
 */
static int bound_base(struct kproducer *p, struct kbound *nb)
{
	uint32_t i, n = mqdev_producer_partitions(nb->prod);
	struct kbound *b;

	for (b = p->bound; b; b = b->next) {
		if (b != nb && !strcmp(b->topic, nb->topic) && b->base) {
			if (b->nbase != n)
				return -ESTALE;	/* not the same topic */
			nb->base = b->base;
			nb->nbase = n;
			nb->shared = true;
			return 0;
		}
	}
	nb->base = calloc(n, sizeof(*nb->base));
	if (!nb->base)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		nb->base[i] = mqdev_producer_next_sequence(nb->prod, i);
	nb->nbase = n;
	return 0;
}

/* The handle of @b, opened and bound anew if an error closed it. */
static int bound_open(struct kproducer *p, struct kbound *b)
{
	LIBMQDEV_OPTS(mqdev_producer_opts, opts,
		      .flags = MQDEV_PRODUCER_NONBLOCK |
			       (b->all ? MQDEV_PRODUCER_ACKS_ALL : 0));
	int err;

	err = mqdev_producer_new(b->topic, &opts, &b->prod);
	if (!err)
		err = mqdev_producer_bind(b->prod, p->session);
	if (!err && !b->base)
		err = bound_base(p, b);
	if (!err && b->nbase != mqdev_producer_partitions(b->prod))
		err = -ESTALE;		/* another topic of that name */
	if (err) {
		mqdev_producer_free(b->prod);
		b->prod = NULL;
	}
	return err;
}

/**
 * producer_bound() - The producer's handle on a topic, bound to its session.
 * @d: the daemon
 * @p: the idempotent producer
 * @topic: the topic's name
 * @all: attached for acks=all
 * @base: set to where the session's sequences start in each partition
 * @err: set to libmqdev's -errno when there is none
 *
 * Return: the handle, or NULL.
 */
struct mqdev_producer *producer_bound(struct daemon *d, struct kproducer *p,
				      const char *topic, bool all,
				      const uint32_t **base, int *err)
{
	struct kbound *b;

	for (b = p->bound; b; b = b->next)
		if (b->all == all && !strcmp(b->topic, topic))
			break;
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b) {
			*err = -ENOMEM;
			return NULL;
		}
		strcpy(b->topic, topic);
		b->all = all;
		b->next = p->bound;
		p->bound = b;
	}
	*err = b->prod ? 0 : bound_open(p, b);
	*base = b->base;
	return b->prod;
}

/**
 * producer_unbind() - Close the producer's handle on a topic, after an
 * error that says the topic may be gone: the next batch opens it anew (and
 * its sequences go on from the same start).
 * @p: the idempotent producer
 * @prod: the handle producer_bound() gave
 */
void producer_unbind(struct kproducer *p, struct mqdev_producer *prod)
{
	struct kbound *b;

	for (b = p->bound; b; b = b->next) {
		if (b->prod == prod) {
			mqdev_producer_free(b->prod);
			b->prod = NULL;
			return;
		}
	}
}

/**
 * txn_error() - A session's -errno as a transactional API's error.
 * @err: libmqdev's -errno
 *
 * Return: a KERR_* code.
 */
int16_t txn_error(int err)
{
	switch (err) {
	case -ESTALE:
		return KERR_INVALID_PRODUCER_EPOCH;
	case -ETIMEDOUT:
		/* decided without the producer: its epoch is over */
		return KERR_INVALID_PRODUCER_EPOCH;
	case -EACCES:
	case -EPERM:
		return KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
	case -EINVAL:
		return KERR_INVALID_REQUEST;
	case -ENOENT:
		return KERR_INVALID_TXN_STATE;
	default:
		return kafka_error(err);
	}
}

/*
 * A new instance of a transactional id: what the one before left open is
 * aborted, and its session closed (the new session fences it anyway).
 */
static void txn_retire(struct daemon *d, const char *name)
{
	struct kproducer *p;

	for (p = d->producers; p; p = p->next)
		if (!strcmp(p->txn_id, name))
			break;
	if (!p)
		return;
	if (p->in_txn && mqdev_txn_abort(p->session))
		logmsg(d, "transactional id %s: the open transaction is its checker's",
		       name);
	producer_unlink(d, p);
	kproducer_free(p);
}

/*
 * A producer taken on under id @id (producer_adopt()) gives it up to the
 * session the kernel just numbered so: its client is told it is unknown.
 */
static void producer_disown(struct daemon *d, int64_t id)
{
	struct kproducer *p;

	for (p = d->producers; p; p = p->next) {
		if (p->id == id && p->adopted) {
			producer_unlink(d, p);
			kproducer_free(p);
			return;
		}
	}
}

/* The session of a new producer: of its own, or its transactional id's. */
static int16_t producer_open(struct daemon *d, struct kproducer *p,
			     const struct kstr *txn, int32_t timeout_ms)
{
	const char *name = NULL;
	int err;

	if (txn->len >= 0) {
		if (!kname(p->txn_id, txn))
			return KERR_INVALID_REQUEST;
		if (timeout_ms <= 0 || timeout_ms > TXN_TIMEOUT_MAX_MS)
			return KERR_INVALID_TRANSACTION_TIMEOUT;
		txn_retire(d, p->txn_id);
		name = p->txn_id;
	}
	if (d->nproducers >= d->cfg.max_producers)
		producers_evict(d);
	err = mqdev_session_new(name, name ? timeout_ms : 0, &p->session);
	if (err)
		return name ? txn_error(err) : kafka_error(err);
	if (mqdev_session_epoch(p->session) > INT16_MAX) {
		mqdev_session_free(p->session);
		return KERR_UNKNOWN_SERVER;
	}
	return KERR_NONE;
}

/*
 * InitProducerId v0-1: transactional_id, transaction_timeout_ms ->
 * throttle_time_ms, error_code, producer_id, producer_epoch.
 */
int handle_init_producer_id(struct daemon *d, struct conn *c,
			    const struct request *rq, struct kr *r,
			    struct kw *w)
{
	struct kproducer *p;
	struct kstr txn;
	int32_t timeout;
	int16_t err;

	txn = kr_str(r);
	timeout = kr_i32(r);
	if (r->err || kr_left(r))
		return H_CLOSE;
	p = calloc(1, sizeof(*p));
	if (!p)
		return H_CLOSE;
	err = producer_open(d, p, &txn, timeout);
	kw_i32(w, 0);			/* throttle_time_ms */
	kw_i16(w, err);
	if (err) {
		free(p);
		kw_i64(w, -1);
		kw_i16(w, -1);
		return H_DONE;
	}
	p->id = (int64_t)mqdev_session_producer_id(p->session);
	p->epoch = (int16_t)mqdev_session_epoch(p->session);
	producer_disown(d, p->id);
	p->last_ms = d->now_ms;
	p->next = d->producers;
	d->producers = p;
	d->nproducers++;
	logmsg(d, "%s: producer id %lld, epoch %d%s%s", c->peer,
	       (long long)p->id, p->epoch, p->txn_id[0] ? ", transactional id " : "",
	       p->txn_id);
	kw_i64(w, p->id);
	kw_i16(w, p->epoch);
	return H_DONE;
}

/**
 * txn_producer() - The transactional producer a request names.
 * @d: the daemon
 * @txn: the request's transactional id
 * @id: its producer id
 * @epoch: its epoch
 * @pp: set to the producer, or NULL
 *
 * Return: KERR_NONE, or the error that says why it is not that producer's.
 */
int16_t txn_producer(struct daemon *d, const struct kstr *txn,
			    int64_t id, int16_t epoch, struct kproducer **pp)
{
	struct kproducer *p = producer_find(d, id);

	*pp = p;
	if (!p || !p->txn_id[0] || txn->len != (int32_t)strlen(p->txn_id) ||
	    memcmp(txn->p, p->txn_id, txn->len))
		return KERR_INVALID_PRODUCER_ID_MAPPING;
	if (epoch != p->epoch)
		return KERR_INVALID_PRODUCER_EPOCH;
	return KERR_NONE;
}

/**
 * txn_request() - Read the head most transactional requests begin with
 * (transactional_id, producer_id, producer_epoch) and find its producer.
 * @d: the daemon
 * @r: the request, at its head; r->err set if it is malformed
 * @pp: set to the producer, or NULL
 *
 * Return: as txn_producer().
 */
int16_t txn_request(struct daemon *d, struct kr *r, struct kproducer **pp)
{
	struct kstr txn = kr_str(r);
	int64_t id = kr_i64(r);
	int16_t epoch = kr_i16(r);

	return txn_producer(d, &txn, id, epoch, pp);
}

/**
 * txn_begin() - Begin the producer's transaction, if it is not open: with
 * its first partition or group, as Kafka's does.
 * @p: the transactional producer
 *
 * Return: KERR_NONE or the error.
 */
int16_t txn_begin(struct kproducer *p)
{
	int err;

	if (p->in_txn)
		return KERR_NONE;
	err = mqdev_txn_begin(p->session, 0);
	if (err)
		return txn_error(err);
	p->in_txn = true;
	return KERR_NONE;
}

/* One topic's partitions of AddPartitionsToTxn, answered as they are read. */
static int add_partitions_topic(struct daemon *d, struct kr *r, struct kw *w,
				int16_t err)
{
	struct topic_handle *t = NULL;
	struct kstr name = kr_str(r);
	int32_t np = kr_array(r, 4), i, part;
	int16_t perr = err;

	if (r->err || np < 0 || name.len < 0)
		return -1;
	if (!perr) {
		int e = topic_get(d, &name, &t);

		if (e)
			perr = e == -EINVAL ? KERR_INVALID_TOPIC : kafka_error(e);
	}
	kw_strn(w, name.p, name.len);
	kw_i32(w, np);
	for (i = 0; i < np; i++) {
		part = kr_i32(r);
		kw_i32(w, part);
		if (!perr && (part < 0 || (uint32_t)part >= t->partitions))
			kw_i16(w, KERR_UNKNOWN_TOPIC_OR_PARTITION);
		else
			kw_i16(w, perr);
	}
	return r->err ? -1 : 0;
}

/*
 * AddPartitionsToTxn v0: transactional_id, producer_id, producer_epoch,
 * [topic, [partition]] -> throttle_time_ms, [topic, [partition, error]].
 * mqdev's transaction takes in whatever its session appends: a partition
 * needs nothing but to exist.
 */
int handle_add_partitions_to_txn(struct daemon *d, struct conn *c,
				 const struct request *rq, struct kr *r,
				 struct kw *w)
{
	struct kproducer *p;
	int16_t err;
	int32_t nt, i;

	err = txn_request(d, r, &p);
	nt = kr_array(r, 6);
	if (r->err || nt < 0)
		return H_CLOSE;
	if (!err)
		err = txn_begin(p);
	kw_i32(w, 0);			/* throttle_time_ms */
	kw_i32(w, nt);
	for (i = 0; i < nt; i++)
		if (add_partitions_topic(d, r, w, err))
			return H_CLOSE;
	return kr_left(r) ? H_CLOSE : H_DONE;
}

/*
 * EndTxn v0-1: transactional_id, producer_id, producer_epoch, committed ->
 * throttle_time_ms, error_code.  The mqdev transaction commits, making all
 * its records visible at one instant, or aborts; a commit that cannot hold
 * aborts, and the producer learns that its epoch is over.
 */
int handle_end_txn(struct daemon *d, struct conn *c,
		   const struct request *rq, struct kr *r, struct kw *w)
{
	struct kproducer *p;
	int16_t err;
	int8_t commit;
	int e;

	err = txn_request(d, r, &p);
	commit = kr_i8(r);
	if (r->err || kr_left(r))
		return H_CLOSE;
	if (!err && !p->in_txn)
		err = KERR_INVALID_TXN_STATE;
	if (!err) {
		e = commit ? mqdev_txn_commit(p->session) :
			     mqdev_txn_abort(p->session);
		p->in_txn = false;
		txn_offsets_done(p);
		err = e ? txn_error(e) : KERR_NONE;
		logmsg(d, "transactional id %s: %s%s", p->txn_id,
		       commit ? "committed" : "aborted", e ? ": failed" : "");
	}
	kw_i32(w, 0);			/* throttle_time_ms */
	kw_i16(w, err);
	return H_DONE;
}

/**
 * producer_txn_check() - May a transactional batch be appended?
 * @p: its producer
 *
 * Return: KERR_NONE when its transaction is open, else the error that says
 * why not.
 */
int16_t producer_txn_check(const struct kproducer *p)
{
	if (!p->txn_id[0] || !p->in_txn)
		return KERR_INVALID_TXN_STATE;
	return KERR_NONE;
}

void producers_free(struct daemon *d)
{
	struct kproducer *p;

	while ((p = d->producers)) {
		d->producers = p->next;
		kproducer_free(p);
	}
	d->nproducers = 0;
}
