// SPDX-License-Identifier: GPL-2.0
/*
 * mqdev-kafkad: Produce v3.
 *
 * Each partition's record batches are checked (magic 2, CRC-32C, the
 * records' fields), decompressed, and appended with one mqdev_produce() from
 * the request's own buffer (or the decompressed one).  The daemon's
 * producer handles never sleep: a 'block' topic that is full parks the
 * request, which tries again until its timeout and then answers
 * REQUEST_TIMED_OUT for what is left; acks=all waits, parked too, for the
 * partition's high watermark to pass what was appended.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "kafkad.h"

/* MQDEV_IOC_PRODUCE takes at most this many messages a call. */
#define PRODUCE_CHUNK	MQDEV_PRODUCE_MAX_MSGS

struct pentry {
	struct kstr	topic;
	int32_t		partition;
	int16_t		err;
	bool		done;
	int64_t		base_offset;
	struct mqdev_msg *msgs;
	uint32_t	nmsgs;
	uint32_t	appended;
	uint64_t	need_hw;	/* acks=all: the watermark to wait for */
	uint8_t		**allocs;	/* decompressed records */
	uint32_t	nallocs;
	int64_t		pid;		/* idempotent: >= 0 */
	int16_t		epoch;
	bool		txnl;		/* transactional */
	bool		rebased;	/* sequences are the session's */
};

struct pstate {
	int16_t		acks;
	size_t		zleft;		/* bytes it may still decompress */
	int32_t		ntopics;
	int32_t		*parts_per_topic;
	uint32_t	nentries;
	struct pentry	*e;
};

static void pstate_free(void *p)
{
	struct pstate *st = p;
	uint32_t i, k;

	if (!st)
		return;
	for (i = 0; i < st->nentries; i++) {
		for (k = 0; k < st->e[i].nallocs; k++)
			free(st->e[i].allocs[k]);
		free(st->e[i].allocs);
		free(st->e[i].msgs);
	}
	free(st->e);
	free(st->parts_per_topic);
	free(st);
}

/* Kafka's header entries (checked by record_next()) as mqdev headers. */
static int headers_parse(const struct krecord *rec, struct mqdev_header *h)
{
	struct kr r;
	int32_t i;
	int64_t len;

	kr_init(&r, rec->headers.p, rec->headers.len);
	for (i = 0; i < rec->nheaders; i++) {
		len = kr_varint(&r);
		h[i].key_len = (uint32_t)len;
		h[i].key = kr_take(&r, len);
		len = kr_varint(&r);
		h[i].value_len = (int32_t)len;
		h[i].value = len > 0 ? kr_take(&r, len) : NULL;
		if (len == 0)
			h[i].value = "";
	}
	return r.err ? -1 : 0;
}

/*
 * A record with headers: its value is laid out after its header block
 * (MQDEV_MSG_HEADERS) in a buffer of its own, kept with the entry.
 */
static int record_headers(struct pentry *e, const struct krecord *rec,
			  struct mqdev_msg *m)
{
	struct mqdev_header *h;
	uint8_t *buf, **allocs;
	size_t size;
	int n;

	h = calloc(rec->nheaders, sizeof(*h));
	if (!h || headers_parse(rec, h)) {
		free(h);
		return KERR_CORRUPT_MESSAGE;
	}
	/* A block takes no more than the Kafka entries plus 8 bytes each. */
	size = 4 + (size_t)rec->headers.len + 8 * (size_t)rec->nheaders +
	       (rec->value.len > 0 ? rec->value.len : 0);
	buf = malloc(size);
	allocs = realloc(e->allocs, (e->nallocs + 1) * sizeof(*allocs));
	if (!buf || !allocs) {
		free(h);
		free(buf);
		if (allocs)
			e->allocs = allocs;
		return KERR_UNKNOWN_SERVER;
	}
	e->allocs = allocs;
	e->allocs[e->nallocs++] = buf;
	n = mqdev_headers_encode(buf, size, h, rec->nheaders);
	free(h);
	if (n < 0)
		return KERR_INVALID_RECORD;
	if (rec->value.len > 0)
		memcpy(buf + n, rec->value.p, rec->value.len);
	m->value = (uint64_t)(uintptr_t)buf;
	m->value_len = n + (rec->value.len > 0 ? rec->value.len : 0);
	m->flags |= MQDEV_MSG_HEADERS;
	return KERR_NONE;
}

/*
 * One Kafka record as an mqdev message, faithfully: a null key or value is
 * flagged as such (MQDEV_MSG_NULL_KEY, _NULL_VALUE), distinct from an
 * empty one, and headers go in a header block before the value.  mqdev
 * keeps keys of up to MQDEV_MAX_KEY (4 KiB): a longer one is INVALID_RECORD.
 */
static int record_to_msg(struct pentry *e, const struct krecord *rec,
			 struct mqdev_msg *m)
{
	if (rec->key.len > MQDEV_MAX_KEY)
		return KERR_INVALID_RECORD;
	mqdev_msg_init(m, rec->key.len > 0 ? rec->key.p : NULL,
		       rec->key.len > 0 ? rec->key.len : 0,
		       rec->value.len > 0 ? rec->value.p : NULL,
		       rec->value.len > 0 ? rec->value.len : 0, e->partition);
	if (rec->key.len < 0)
		m->flags |= MQDEV_MSG_NULL_KEY;
	if (rec->value.len < 0)
		m->flags |= MQDEV_MSG_NULL_VALUE;
	return rec->nheaders ? record_headers(e, rec, m) : KERR_NONE;
}

/*
 * An idempotent batch numbers its records from its base sequence; every
 * batch of one partition in a request must be of the same producer.
 */
static int entry_batch_producer(struct pentry *e, const struct kbatch *b)
{
	bool txnl = b->attributes & BATTR_TRANSACTIONAL;

	if (b->attributes & BATTR_CONTROL)
		return KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
	if (b->producer_id >= 0 && b->base_sequence < 0)
		return KERR_INVALID_RECORD;
	if (txnl && b->producer_id < 0)
		return KERR_INVALID_RECORD;
	if (!e->nmsgs) {
		e->pid = b->producer_id < 0 ? -1 : b->producer_id;
		e->epoch = b->producer_epoch;
		e->txnl = txnl;
	} else if (e->pid != (b->producer_id < 0 ? -1 : b->producer_id) ||
		   e->epoch != b->producer_epoch || e->txnl != txnl) {
		return KERR_INVALID_RECORD;
	}
	return KERR_NONE;
}

static int entry_add_msgs(struct pentry *e, const struct kbatch *b)
{
	struct mqdev_msg *msgs;
	struct krecord rec;
	struct kr r;
	int32_t i;
	int err;

	err = entry_batch_producer(e, b);
	if (err)
		return err;
	/* An empty batch adds nothing, and realloc() to 0 bytes frees. */
	if (!b->count)
		return KERR_INVALID_RECORD;
	msgs = realloc(e->msgs, (e->nmsgs + (size_t)b->count) * sizeof(*msgs));
	if (!msgs)
		return KERR_UNKNOWN_SERVER;
	e->msgs = msgs;
	kr_init(&r, b->records, b->records_len);
	for (i = 0; i < b->count; i++) {
		if (record_next(&r, &rec))
			return KERR_CORRUPT_MESSAGE;
		err = record_to_msg(e, &rec, &msgs[e->nmsgs + i]);
		if (err)
			return err;
		if (e->pid >= 0)
			msgs[e->nmsgs + i].sequence =
				(uint32_t)b->base_sequence + (uint32_t)i;
	}
	if (kr_left(&r))
		return KERR_CORRUPT_MESSAGE;
	e->nmsgs += b->count;
	return KERR_NONE;
}

/*
 * A partition's records: every batch checked before any is appended.
 * What compressed batches take uncompressed, and the messages for all
 * batches' records, come out of *@zleft, the whole request's budget: the
 * request keeps them until it is answered.
 */
static int entry_decode(struct daemon *d, struct pentry *e,
			const struct kstr *records, size_t *zleft)
{
	struct kbatch b;
	uint8_t **allocs;
	struct kr r;
	int err;

	if (records->len <= 0)
		return KERR_CORRUPT_MESSAGE;
	kr_init(&r, records->p, records->len);
	while (kr_left(&r)) {
		err = batch_parse(&r, &b, *zleft);
		if (err)
			return err;
		if (b.alloc) {
			*zleft -= b.records_len;
			allocs = realloc(e->allocs,
					 (e->nallocs + 1) * sizeof(*allocs));
			if (!allocs) {
				batch_release(&b);
				return KERR_UNKNOWN_SERVER;
			}
			e->allocs = allocs;
			e->allocs[e->nallocs++] = b.alloc;
		}
		/* The messages describing them come out of it too. */
		if ((size_t)b.count > *zleft / sizeof(struct mqdev_msg))
			return KERR_MESSAGE_TOO_LARGE;
		*zleft -= (size_t)b.count * sizeof(struct mqdev_msg);
		err = entry_add_msgs(e, &b);
		if (err)
			return err;
	}
	return e->nmsgs ? KERR_NONE : KERR_CORRUPT_MESSAGE;
}

static struct mqdev_producer *entry_producer(struct daemon *d,
					     struct topic_handle *t,
					     bool all, int *err)
{
	struct mqdev_producer **pp = all ? &t->prod_all : &t->prod;
	LIBMQDEV_OPTS(mqdev_producer_opts, opts,
		      .flags = MQDEV_PRODUCER_NONBLOCK |
			       (all ? MQDEV_PRODUCER_ACKS_ALL : 0));

	*err = 0;
	if (!*pp)
		*err = mqdev_producer_new(t->name, &opts, pp);
	return *pp;
}

/*
 * The handle that appends an entry: the topic's own, or for an idempotent
 * producer its session's.  NULL with e->err set when there is none.
 */
static struct mqdev_producer *entry_handle(struct daemon *d, struct pstate *st,
					   struct pentry *e,
					   struct topic_handle *t,
					   struct kproducer **kp)
{
	struct mqdev_producer *prod;
	const uint32_t *base;
	uint32_t i;
	int err;

	*kp = NULL;
	if (e->pid < 0) {
		prod = entry_producer(d, t, st->acks == -1, &err);
	} else {
		*kp = producer_find(d, e->pid);
		if (!*kp && !e->txnl && e->nmsgs)
			*kp = producer_adopt(d, e->pid, e->epoch,
					     e->msgs[0].sequence);
		if (!*kp) {
			e->err = KERR_UNKNOWN_PRODUCER_ID;
			return NULL;
		}
		if ((*kp)->epoch != e->epoch) {
			e->err = KERR_INVALID_PRODUCER_EPOCH;
			return NULL;
		}
		if (e->txnl) {
			e->err = producer_txn_check(*kp);
			if (e->err)
				return NULL;
		}
		prod = producer_bound(d, *kp, t->name, st->acks == -1, &base,
				      &err);
		if (prod && !e->rebased) {
			for (i = 0; i < e->nmsgs; i++)
				e->msgs[i].sequence += base[e->partition];
			e->rebased = true;
		}
	}
	if (!prod)
		e->err = kafka_error(err);
	return prod;
}

/* What an append's -errno is to Kafka, and whether to reopen the handle. */
static int16_t entry_error(int n, bool *reopen)
{
	*reopen = false;
	switch (n) {
	case -EBADMSG:
		return KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
	case -ESTALE:
		return KERR_INVALID_PRODUCER_EPOCH;
	case -EAGAIN:
	case -EMSGSIZE:
	case -ENOLINK:
		return kafka_error(n);
	default:
		/* The topic may be gone, or another by its name: reopen. */
		*reopen = true;
		return kafka_error(n);
	}
}

/*
 * The answer's offset is the first record's: for a batch sent again that
 * had landed, where it landed then (mqdev's MQDEV_MSG_DUPLICATE), or, when
 * that is too old to be remembered, DUPLICATE_SEQUENCE_NUMBER, which
 * Kafka's producers take as success.
 */
static void entry_landed(struct daemon *d, struct pstate *st,
			 struct pentry *e)
{
	const struct mqdev_msg *last = &e->msgs[e->nmsgs - 1];
	uint32_t i, dups = 0;

	for (i = 0; i < e->nmsgs; i++)
		dups += !!(e->msgs[i].status & MQDEV_MSG_DUPLICATE);
	if (dups)
		logmsg(d, "producer %lld: %u of %u records to %.*s[%d] sent again: not appended",
		       (long long)e->pid, dups, e->nmsgs, (int)e->topic.len,
		       e->topic.p, e->partition);

	if ((e->msgs[0].status & MQDEV_MSG_DUPLICATE) &&
	    e->msgs[0].offset == MQDEV_OFFSET_UNKNOWN)
		e->err = KERR_DUPLICATE_SEQUENCE_NUMBER;
	if (st->acks == -1 && last->offset != MQDEV_OFFSET_UNKNOWN)
		e->need_hw = last->offset + 1;
}

/*
 * Every record within the topic's max_record, checked before the first is
 * appended: the kernel would refuse one mid-batch, after those before it.
 */
static bool entry_fits(const struct pentry *e, const struct topic_handle *t)
{
	uint32_t i;

	for (i = 0; i < e->nmsgs; i++)
		if (sizeof(struct mqdev_record) + (uint64_t)e->msgs[i].key_len +
		    e->msgs[i].value_len > t->max_record)
			return false;
	return true;
}

/*
 * A 'block' topic's partition that has no room for all of an entry's
 * records is not begun: they are appended in chunks, and a request that
 * timed out after some would leave them in the log while its client sends
 * them all again.  (Another producer may still take the room between this
 * look and the appends: see entry_try().)  Records that could never fit
 * are RECORD_LIST_TOO_LARGE, the entry done.
 */
static bool entry_room(struct daemon *d, struct pentry *e,
		       const struct topic_handle *t)
{
	struct mqdev_partition_info *parts;
	struct mqdev_topic_info info;
	uint64_t need = 0;
	uint32_t i;

	if (e->appended || (t->topic_flags & MQDEV_TOPIC_OVERWRITE))
		return true;
	if (topic_describe(d, t->name, &info, &parts) ||
	    (uint32_t)e->partition >= info.partitions)
		return true;		/* the append says what is wrong */
	for (i = 0; i < e->nmsgs; i++)
		need += MQDEV_RECORD_SPACE(sizeof(struct mqdev_record) +
					   (uint64_t)e->msgs[i].key_len +
					   e->msgs[i].value_len);
	/* More than a partition holds can never be appended whole. */
	if (need > info.capacity) {
		e->err = KERR_RECORD_LIST_TOO_LARGE;
		e->done = true;
		return false;
	}
	return need + parts[e->partition].bytes_used <= info.capacity;
}

/* Append what is left of one partition's records; EAGAIN leaves it due. */
static void entry_try(struct daemon *d, struct pstate *st, struct pentry *e,
		      bool final)
{
	struct mqdev_producer *prod;
	struct topic_handle *t;
	struct kproducer *kp;
	bool reopen;
	int n, err;

	err = topic_get(d, &e->topic, &t);
	if (err) {
		e->err = err == -EINVAL ? KERR_INVALID_TOPIC : kafka_error(err);
		e->done = true;
		return;
	}
	if (e->partition < 0 || (uint32_t)e->partition >= t->partitions) {
		e->err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
		e->done = true;
		return;
	}
	if (!e->appended && !entry_fits(e, t)) {
		e->err = KERR_MESSAGE_TOO_LARGE;
		e->done = true;
		return;
	}
	if (!entry_room(d, e, t)) {
		if (final && !e->done) {
			e->err = KERR_REQUEST_TIMED_OUT;
			e->done = true;
		}
		return;
	}
	prod = entry_handle(d, st, e, t, &kp);
	if (!prod) {
		e->done = true;
		if (e->err != KERR_UNKNOWN_PRODUCER_ID &&
		    e->err != KERR_INVALID_PRODUCER_EPOCH &&
		    e->err != KERR_INVALID_TXN_STATE)
			topic_drop(d, t);
		return;
	}
	do {
		n = mqdev_produce(prod, e->msgs + e->appended,
				  e->nmsgs - e->appended < PRODUCE_CHUNK ?
				  e->nmsgs - e->appended : PRODUCE_CHUNK);
		if (n <= 0)
			break;
		if (!e->appended)
			e->base_offset = e->msgs[0].offset;
		e->appended += n;
		d->produced = true;
	} while (e->appended < e->nmsgs);
	if (n == 0)
		n = -EAGAIN;
	if (n == -EAGAIN && !final)
		return;
	e->done = true;
	if (n < 0) {
		e->err = entry_error(n, &reopen);
		/*
		 * Part of it is in the log (another producer took the room
		 * entry_room() saw): not REQUEST_TIMED_OUT, which says
		 * nothing was.  No Kafka code says "part"; this one is
		 * logged.
		 */
		if (e->appended && e->err == KERR_REQUEST_TIMED_OUT) {
			logmsg(d, "%s[%d]: %u of %u records appended at the timeout",
			       t->name, e->partition, e->appended, e->nmsgs);
			e->err = KERR_UNKNOWN_SERVER;
		}
		if (reopen && kp)
			producer_unbind(kp, prod);
		else if (reopen)
			topic_drop(d, t);
		return;
	}
	entry_landed(d, st, e);
}

/* acks=all: has the watermark passed what was appended? */
static bool entry_acked(struct daemon *d, struct pentry *e, bool final)
{
	struct mqdev_partition_info *parts;
	struct mqdev_topic_info info;
	char name[MQDEV_NAME_SIZE];
	int err;

	if (!e->need_hw || e->err)
		return true;
	if (!kname(name, &e->topic))
		return true;
	err = topic_describe(d, name, &info, &parts);
	if (err || (uint32_t)e->partition >= info.partitions) {
		e->err = kafka_error(err ? err : -ENOENT);
	} else if (parts[e->partition].high_watermark >= e->need_hw) {
		e->need_hw = 0;
		return true;
	} else if (!final) {
		return false;
	} else {
		e->err = KERR_REQUEST_TIMED_OUT;
	}
	e->need_hw = 0;
	return true;
}

static void produce_answer(struct pstate *st, struct kw *w)
{
	struct pentry *e = st->e;
	int32_t t, p;

	kw_i32(w, st->ntopics);
	for (t = 0; t < st->ntopics; t++) {
		kw_strn(w, e->topic.p, e->topic.len);
		kw_i32(w, st->parts_per_topic[t]);
		for (p = 0; p < st->parts_per_topic[t]; p++, e++) {
			kw_i32(w, e->partition);
			kw_i16(w, e->err);
			kw_i64(w, e->err ? -1 : e->base_offset);
			kw_i64(w, -1);	/* log_append_time: CreateTime */
		}
	}
	kw_i32(w, 0);			/* throttle_time_ms */
}

static int produce_run(struct daemon *d, struct conn *c, bool final)
{
	struct pstate *st = c->park_state;
	bool waiting = false;
	uint32_t i;

	for (i = 0; i < st->nentries; i++) {
		if (!st->e[i].done)
			entry_try(d, st, &st->e[i], final);
		if (!st->e[i].done || !entry_acked(d, &st->e[i], final))
			waiting = true;
	}
	if (waiting && !final)
		return H_PARK;
	if (st->acks == 0)
		return H_SILENT;
	produce_answer(st, &c->out);
	return H_DONE;
}

static int produce_park(struct daemon *d, struct conn *c, bool final)
{
	return produce_run(d, c, final);
}

static int produce_parse(struct daemon *d, struct pstate *st, struct kr *r)
{
	int32_t nt, np, t, p;
	struct kstr name, records;
	struct pentry *e;

	nt = kr_array(r, 6);
	if (nt < 0)
		return -1;
	st->ntopics = nt;
	st->parts_per_topic = calloc(nt ? nt : 1, sizeof(int32_t));
	if (!st->parts_per_topic)
		return -1;
	for (t = 0; t < nt; t++) {
		name = kr_str(r);
		np = kr_array(r, 8);
		if (r->err || np < 0 || name.len < 0)
			return -1;
		st->parts_per_topic[t] = np;
		e = realloc(st->e, (st->nentries + (size_t)np) * sizeof(*e));
		if (!e)
			return -1;
		st->e = e;
		for (p = 0; p < np; p++) {
			e = &st->e[st->nentries++];
			memset(e, 0, sizeof(*e));
			e->topic = name;
			e->partition = kr_i32(r);
			records = kr_bytes(r);
			if (r->err)
				return -1;
			if (st->acks != 0 && st->acks != 1 && st->acks != -1)
				e->err = KERR_INVALID_REQUIRED_ACKS;
			else
				e->err = entry_decode(d, e, &records,
						      &st->zleft);
			e->done = e->err != KERR_NONE;
		}
	}
	return kr_left(r) ? -1 : 0;
}

int handle_produce(struct daemon *d, struct conn *c, const struct request *rq,
		   struct kr *r, struct kw *w)
{
	struct pstate *st;
	struct kstr txn;
	int32_t timeout;
	uint32_t i;

	st = calloc(1, sizeof(*st));
	if (!st)
		return H_CLOSE;
	st->zleft = (size_t)d->cfg.max_request * 4;
	txn = kr_str(r);
	st->acks = kr_i16(r);
	timeout = kr_i32(r);
	if (r->err || produce_parse(d, st, r)) {
		pstate_free(st);
		return H_CLOSE;
	}
	/* Transactional batches come with a transactional id, and only they. */
	for (i = 0; i < st->nentries; i++) {
		if (!st->e[i].err && st->e[i].txnl != (txn.len >= 0)) {
			st->e[i].err = KERR_INVALID_TXN_STATE;
			st->e[i].done = true;
		}
	}
	c->park_state = st;
	c->park_free = pstate_free;
	c->park = produce_park;
	if (timeout < 0)
		timeout = 0;
	c->deadline_ms = d->now_ms + (uint64_t)timeout;
	return produce_run(d, c, timeout == 0);
}
