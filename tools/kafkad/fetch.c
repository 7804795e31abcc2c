// SPDX-License-Identifier: GPL-2.0
/*
 * mqdev-kafkad: Fetch v4 and ListOffsets v1-v2.
 *
 * A partition is read through a consumer of its own (one per partition, so
 * that a seek there moves nothing else), from the offset the client asks
 * for, up to the high watermark; its records go out as one RecordBatch v2,
 * uncompressed, with its CRC-32C computed.  Aborted transactions' records
 * never leave mqdev's consumer, and it stops before an undecided one: that
 * is the last stable offset.  The batch spans the aborted records it
 * stepped over at its end (obatch_cover()), so that clients go on past
 * them.  A Fetch that finds fewer bytes than its
 * min_bytes is parked and run again until it does or max_wait_ms passes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "kafkad.h"

#define FETCH_RUN	256		/* records peeked at a time */
#define FETCH_WAIT_MAX	30000		/* ms a Fetch may be parked */
/*
 * A parked Fetch is run again and again: one of more bytes than this
 * (some 2,000 partitions) is answered at once instead, its client's to
 * ask again.
 */
#define FETCH_PARK_BYTES 32768

/*
 * One mqdev record as Kafka sees it: a null key or value where the record
 * says so (MQDEV_RECORD_NULL_KEY, _NULL_VALUE), its headers from its header
 * block.  A block that does not fit in the record (a producer wrote it) is
 * not trusted: the value goes out whole, without headers.
 */
struct rview {
	const void	*key;
	int64_t		klen;		/* -1: null */
	const void	*value;
	int64_t		vlen;		/* -1: null */
	bool		headers;
	uint32_t	nheaders;
	size_t		hsize;		/* the headers' bytes, count included */
};

static void rview_init(struct rview *v, const struct mqdev_record *rec)
{
	struct mqdev_header_iter it = { 0 };
	struct mqdev_header h;
	uint32_t len;

	v->key = mqdev_record_key(rec);
	v->klen = rec->flags & MQDEV_RECORD_NULL_KEY ? -1 : rec->key_len;
	v->value = mqdev_record_value(rec);
	v->vlen = mqdev_record_value_len(rec);
	v->headers = false;
	v->nheaders = 0;
	v->hsize = 0;
	if (rec->flags & MQDEV_RECORD_NULL_VALUE && !(rec->flags & MQDEV_RECORD_HEADERS))
		v->vlen = -1;
	if (!(rec->flags & MQDEV_RECORD_HEADERS) ||
	    mqdev_record_payload(rec, &v->value, &len))
		goto count;
	v->vlen = v->value ? (int64_t)len : -1;
	v->headers = true;
	while (mqdev_record_header_next(rec, &it, &h) == 1) {
		v->nheaders++;
		v->hsize += varint_size(h.key_len) + h.key_len +
			    varint_size(h.value_len) +
			    (h.value_len > 0 ? h.value_len : 0);
	}
count:
	v->hsize += varint_size(v->nheaders);
}

/* The bytes it takes as a Kafka record, its length included. */
static size_t record_size(const struct rview *v, int64_t ts_delta,
			  int64_t off_delta, size_t *body)
{
	*body = 1 + varint_size(ts_delta) + varint_size(off_delta) +
		varint_size(v->klen) + (v->klen > 0 ? v->klen : 0) +
		varint_size(v->vlen) + (v->vlen > 0 ? v->vlen : 0) + v->hsize;
	return varint_size((int64_t)*body) + *body;
}

static void record_write(struct kw *w, const struct mqdev_record *rec,
			 const struct rview *v, int64_t ts_delta,
			 int64_t off_delta, size_t body)
{
	struct mqdev_header_iter it = { 0 };
	struct mqdev_header h;

	kw_varint(w, (int64_t)body);
	kw_i8(w, 0);			/* attributes */
	kw_varint(w, ts_delta);
	kw_varint(w, off_delta);
	kw_varint(w, v->klen);
	if (v->klen > 0)
		kw_raw(w, v->key, v->klen);
	kw_varint(w, v->vlen);
	if (v->vlen > 0)
		kw_raw(w, v->value, v->vlen);
	kw_varint(w, v->nheaders);
	while (v->headers && mqdev_record_header_next(rec, &it, &h) == 1) {
		kw_varint(w, h.key_len);
		kw_raw(w, h.key, h.key_len);
		kw_varint(w, h.value_len);
		if (h.value_len > 0)
			kw_raw(w, h.value, h.value_len);
	}
}

/* A batch being written into the answer, its header to patch at the end. */
struct obatch {
	size_t		at;		/* where the batch starts */
	int64_t		base_offset;
	int64_t		base_ts;	/* ms */
	int64_t		max_ts;
	int64_t		last_offset;
	int32_t		count;
};

static void obatch_begin_at(struct kw *w, struct obatch *b, int64_t offset,
			    int64_t ts)
{
	b->at = w->len;
	b->base_offset = offset;
	b->base_ts = ts;
	b->max_ts = b->base_ts;
	b->last_offset = offset;
	b->count = 0;
	kw_i64(w, b->base_offset);
	kw_i32(w, 0);			/* batchLength, patched */
	kw_i32(w, 0);			/* partitionLeaderEpoch */
	kw_i8(w, 2);			/* magic */
	kw_i32(w, 0);			/* crc, patched */
	kw_i16(w, 0);			/* attributes: uncompressed, CreateTime */
	kw_i32(w, 0);			/* lastOffsetDelta, patched */
	kw_i64(w, b->base_ts);
	kw_i64(w, 0);			/* maxTimestamp, patched */
	kw_i64(w, -1);			/* producerId */
	kw_i16(w, -1);			/* producerEpoch */
	kw_i32(w, -1);			/* baseSequence */
	kw_i32(w, 0);			/* records count, patched */
}

static void obatch_begin(struct kw *w, struct obatch *b,
			 const struct mqdev_record *first)
{
	obatch_begin_at(w, b, first->offset, first->timestamp / 1000000);
}

static void obatch_end(struct kw *w, struct obatch *b)
{
	uint8_t *p;

	if (w->err)
		return;
	p = w->buf + b->at;
	be32put(p + 8, (uint32_t)(w->len - b->at - 12));
	be32put(p + 23, (uint32_t)(b->last_offset - b->base_offset));
	be32put(p + 35, (uint32_t)((uint64_t)b->max_ts >> 32));
	be32put(p + 39, (uint32_t)b->max_ts);
	be32put(p + 57, (uint32_t)b->count);
	be32put(p + BATCH_CRC_AT, crc32c(0, p + BATCH_ATTR_AT,
					 w->len - b->at - BATCH_ATTR_AT));
}

/*
 * Make room for one more cached consumer (each holds a file descriptor and
 * a mapping of its topic): at d->cfg.max_consumers, one of another
 * partition is closed, the next in turn after the last one closed.
 */
static void consumers_trim(struct daemon *d, const struct topic_handle *keep)
{
	static uint32_t next;
	struct topic_handle *t;
	uint32_t p, i;

	if (d->nconsumers < d->cfg.max_consumers)
		return;
	for (t = d->topics; t; t = t->next) {
		for (i = 0; t != keep && i < t->partitions; i++) {
			p = (next + i) % t->partitions;
			if (!t->cons[p])
				continue;
			mqdev_consumer_free(t->cons[p]);
			t->cons[p] = NULL;
			d->nconsumers--;
			next = p + 1;
			return;
		}
	}
	/* All of @keep's: one of its own other partitions goes. */
	for (p = 0; p < keep->partitions; p++) {
		if (keep->cons[p]) {
			mqdev_consumer_free(keep->cons[p]);
			keep->cons[p] = NULL;
			d->nconsumers--;
			return;
		}
	}
}

static struct mqdev_consumer *part_consumer(struct daemon *d,
					    struct topic_handle *t,
					    uint32_t p, int *err)
{
	*err = 0;
	if (!t->cons[p]) {
		consumers_trim(d, t);
		*err = mqdev_consumer_new(t->name, NULL, &t->cons[p]);
		if (!*err)
			d->nconsumers++;
	}
	return t->cons[p];
}

/*
 * The offsets up to @end (the reader's position once nothing more is
 * visible: past the aborted records it skipped, short of an open
 * transaction), and below the watermark @hw, that no record of @b covers.  Kafka's log has aborted
 * records and transaction markers there, which a client steps over as it
 * reads them; here there is nothing to read, and a client asking for one of
 * those offsets again and again would never reach the end.  So the batch
 * says it ends at @end - 1 (its lastOffsetDelta, as a batch that
 * compaction emptied at its end does), or, with no record at all, an empty
 * control batch spans them.  Clients go on at @end.
 */
static bool obatch_cover(struct kw *w, struct obatch *b, uint64_t offset,
			 uint64_t end, uint64_t hw)
{
	uint64_t from = b->count ? (uint64_t)b->last_offset + 1 : offset;

	if (end > hw)
		end = hw;
	if (end <= from)
		return b->count;
	if (!b->count) {
		obatch_begin_at(w, b, (int64_t)offset, 0);
		if (!w->err)
			w->buf[b->at + BATCH_ATTR_AT + 1] |= BATTR_CONTROL;
	}
	b->last_offset = (int64_t)end - 1;
	return true;
}

/* Where a fetch of one partition stands. */
struct pfetch {
	uint64_t	offset;		/* asked for */
	uint64_t	hw;
	uint64_t	lso;
	size_t		budget;		/* bytes it may add */
	bool		first;		/* nothing in the answer yet */
};

/*
 * Write partition @p's records from f->offset into @w as one batch, within
 * f->budget bytes (but at least one record when the answer has none yet,
 * as Kafka does, so that a large record is never stuck).
 * Return: the bytes written, or -errno.
 */
static long part_records(struct daemon *d, struct topic_handle *t,
			 uint32_t p, struct kw *w, struct pfetch *f)
{
	const struct mqdev_record *recs[FETCH_RUN];
	struct mqdev_consumer *cons;
	struct obatch b = { 0 };
	struct rview v;
	size_t start = w->len, size, body;
	bool full = false, open = false;
	int n, i, err;

	cons = part_consumer(d, t, p, &err);
	if (!cons)
		return err;
	/* Every fetch seeks: one ioctl, and no doubt where it reads from. */
	err = mqdev_consumer_seek(cons, p, MQDEV_SEEK_OFFSET, f->offset, 0,
				  NULL);
	if (err)
		return err;
	f->lso = f->hw;
	while (!full) {
		n = mqdev_consumer_peek_batch(cons, recs, FETCH_RUN);
		if (n <= 0) {
			err = mqdev_consumer_error(cons);
			if (err)
				return err;
			/* Stopped short of the watermark: an open transaction. */
			if (mqdev_consumer_position(cons, p) < f->hw)
				f->lso = mqdev_consumer_position(cons, p);
			open = obatch_cover(w, &b, f->offset,
					    mqdev_consumer_position(cons, p),
					    f->hw);
			break;
		}
		for (i = 0; i < n; i++) {
			const struct mqdev_record *rec = recs[i];
			int64_t ts = rec->timestamp / 1000000;

			if (rec->offset >= f->hw) {
				full = true;
				break;
			}
			if (!b.count)
				obatch_begin(w, &b, rec);
			rview_init(&v, rec);
			size = record_size(&v, ts - b.base_ts,
					   rec->offset - b.base_offset, &body);
			if (w->len - start + size > f->budget &&
			    !(f->first && !b.count)) {
				full = true;
				break;
			}
			record_write(w, rec, &v, ts - b.base_ts,
				     rec->offset - b.base_offset, body);
			b.count++;
			b.last_offset = rec->offset;
			if (ts > b.max_ts)
				b.max_ts = ts;
		}
		mqdev_consumer_release(cons);
	}
	if (b.count || open)
		obatch_end(w, &b);
	else if (w->len > start)
		w->len = start;
	return (long)(w->len - start);
}

/*
 * One partition's part of the answer.  Return: the bytes of records in it,
 * or -1 when the topic's handles must be reopened.
 */
static long fetch_partition(struct daemon *d, struct topic_handle *t,
			    const struct mqdev_partition_info *pi,
			    int32_t p, struct kw *w, struct pfetch *f)
{
	size_t size_at;
	int16_t err = KERR_NONE;
	long got = 0;

	kw_i32(w, p);
	if (f->offset < pi->first_offset || f->offset > pi->high_watermark)
		err = KERR_OFFSET_OUT_OF_RANGE;
	kw_i16(w, err);
	kw_i64(w, (int64_t)pi->high_watermark);
	size_at = w->len;
	kw_i64(w, (int64_t)pi->high_watermark);	/* last stable, patched */
	kw_i32(w, 0);			/* aborted_transactions: none */
	kw_i32(w, 0);			/* records' size, patched */
	if (err || f->offset == pi->high_watermark)
		return 0;
	f->hw = pi->high_watermark;
	got = part_records(d, t, p, w, f);
	if (got < 0) {
		/*
		 * The answer says so, with no records (part of a batch may
		 * be written); the handles are reopened next time.  The
		 * error code is before the watermark, 10 bytes back.
		 */
		if (!w->err) {
			w->len = size_at + 16;
			err = kafka_error((int)got);
			w->buf[size_at - 10] = (uint16_t)err >> 8;
			w->buf[size_at - 9] = (uint8_t)err;
		}
		return -1;
	}
	if (!w->err) {
		be32put(w->buf + size_at, (uint32_t)((uint64_t)f->lso >> 32));
		be32put(w->buf + size_at + 4, (uint32_t)f->lso);
		be32put(w->buf + size_at + 12, (uint32_t)got);
	}
	return got;
}

static void fetch_unknown(struct kw *w, int32_t p, int16_t err)
{
	kw_i32(w, p);
	kw_i16(w, err);
	kw_i64(w, -1);
	kw_i64(w, -1);
	kw_i32(w, 0);
	kw_i32(w, 0);
}

/*
 * A topic's part of a Fetch or ListOffsets: its name echoed and its count
 * of partitions read and echoed; its handles and partitions looked up,
 * *@nparts 0 when it cannot be read.  Return: the count, or -1 for a
 * malformed request.
 */
static int32_t topic_entry(struct daemon *d, struct kr *r, size_t min_part,
			   struct kw *w, struct topic_handle **t,
			   struct mqdev_partition_info **parts, uint32_t *nparts)
{
	struct mqdev_topic_info info;
	struct kstr name = kr_str(r);
	int32_t np = kr_array(r, min_part);

	if (r->err || np < 0)
		return -1;
	kw_strn(w, name.p, name.len);
	kw_i32(w, np);
	*nparts = 0;
	if (!topic_get(d, &name, t) &&
	    !topic_describe(d, (*t)->name, &info, parts))
		*nparts = info.partitions < (*t)->partitions ?
			  info.partitions : (*t)->partitions;
	return np;
}

/*
 * The whole answer, from the request's frame (it is run again while
 * parked).  Return: H_DONE, H_PARK (fewer than min_bytes and not @final)
 * or H_CLOSE.
 */
static int fetch_run(struct daemon *d, struct conn *c, bool final)
{
	struct mqdev_partition_info *parts;
	struct topic_handle *t;
	struct kw *w = &c->out;
	int32_t max_wait, min_bytes, max_bytes, nt, np, i, k, p, pmax;
	size_t total = 0, limit = d->cfg.max_response;
	struct pfetch f = { 0 };
	uint32_t nparts;
	struct kr r;
	long got;

	kr_init(&r, c->req.body, c->req.body_len);
	kr_i32(&r);			/* replica_id */
	max_wait = kr_i32(&r);
	min_bytes = kr_i32(&r);
	max_bytes = kr_i32(&r);
	kr_i8(&r);			/* isolation_level */
	nt = kr_array(&r, 6);
	if (r.err || nt < 0)
		return H_CLOSE;
	if (max_bytes > 0 && (size_t)max_bytes < limit)
		limit = max_bytes;

	kw_i32(w, 0);			/* throttle_time_ms */
	kw_i32(w, nt);
	for (i = 0; i < nt; i++) {
		np = topic_entry(d, &r, 16, w, &t, &parts, &nparts);
		if (np < 0)
			return H_CLOSE;
		for (k = 0; k < np; k++) {
			p = kr_i32(&r);
			f.offset = (uint64_t)kr_i64(&r);
			pmax = kr_i32(&r);
			if (r.err)
				return H_CLOSE;
			if (p < 0 || (uint32_t)p >= nparts) {
				fetch_unknown(w, p, KERR_UNKNOWN_TOPIC_OR_PARTITION);
				continue;
			}
			f.first = total == 0;
			f.budget = total < limit ? limit - total : 0;
			if (pmax >= 0 && (size_t)pmax < f.budget)
				f.budget = pmax;
			got = fetch_partition(d, t, &parts[p], p, w, &f);
			if (got < 0) {
				topic_drop(d, t);
				nparts = 0;
				continue;
			}
			total += got;
		}
	}
	if (kr_left(&r) || r.err)
		return H_CLOSE;
	if (!final && max_wait > 0 && total < (size_t)(min_bytes > 0 ?
						       min_bytes : 1))
		return H_PARK;
	return H_DONE;
}

static int fetch_park(struct daemon *d, struct conn *c, bool final)
{
	return fetch_run(d, c, final);
}

int handle_fetch(struct daemon *d, struct conn *c, const struct request *rq,
		 struct kr *r, struct kw *w)
{
	struct kr peek = *r;
	int32_t max_wait;
	int ret;

	kr_i32(&peek);
	max_wait = kr_i32(&peek);
	if (max_wait > FETCH_WAIT_MAX)
		max_wait = FETCH_WAIT_MAX;
	if (kr_left(r) > FETCH_PARK_BYTES)
		max_wait = 0;
	ret = fetch_run(d, c, max_wait <= 0);
	if (ret == H_PARK) {
		c->park = fetch_park;
		c->deadline_ms = d->now_ms + (uint64_t)max_wait;
	}
	return ret;
}

/*
 * The first offset at or after @ts_ms, or -1 when there is none; the
 * timestamp of the record there goes to *@found_ms, as Kafka answers.
 */
static int64_t offset_for_time(struct daemon *d, struct topic_handle *t,
			       uint32_t p, int64_t ts_ms, uint64_t hw,
			       int64_t *found_ms, int *err)
{
	struct mqdev_consumer *cons;
	const struct mqdev_record *rec;
	uint64_t landed;

	/* past any time an append is stamped with, in nanoseconds */
	if (ts_ms < 0 || (uint64_t)ts_ms > UINT64_MAX / 1000000)
		return -1;
	cons = part_consumer(d, t, p, err);
	if (!cons)
		return -1;
	*err = mqdev_consumer_seek(cons, p, MQDEV_SEEK_TIMESTAMP,
				   (uint64_t)ts_ms * 1000000, 0, &landed);
	if (*err || landed >= hw)
		return -1;
	rec = mqdev_consumer_peek(cons);
	*found_ms = rec && rec->offset == landed ?
		    (int64_t)(rec->timestamp / 1000000) : ts_ms;
	return (int64_t)landed;
}

int handle_list_offsets(struct daemon *d, struct conn *c,
			const struct request *rq, struct kr *r, struct kw *w)
{
	struct mqdev_partition_info *parts;
	struct topic_handle *t;
	int32_t nt, np, i, k, p;
	int64_t ts, off, found;
	uint32_t nparts;
	int perr;

	kr_i32(r);			/* replica_id */
	if (rq->version >= 2)
		kr_i8(r);		/* isolation_level */
	nt = kr_array(r, 6);
	if (r->err || nt < 0)
		return H_CLOSE;
	if (rq->version >= 2)
		kw_i32(w, 0);		/* throttle_time_ms */
	kw_i32(w, nt);
	for (i = 0; i < nt; i++) {
		np = topic_entry(d, r, 12, w, &t, &parts, &nparts);
		if (np < 0)
			return H_CLOSE;
		for (k = 0; k < np; k++) {
			p = kr_i32(r);
			ts = kr_i64(r);
			if (r->err)
				return H_CLOSE;
			kw_i32(w, p);
			if (p < 0 || (uint32_t)p >= nparts) {
				kw_i16(w, KERR_UNKNOWN_TOPIC_OR_PARTITION);
				kw_i64(w, -1);
				kw_i64(w, -1);
				continue;
			}
			perr = 0;
			found = -1;
			if (ts == -1)		/* latest */
				off = (int64_t)parts[p].high_watermark;
			else if (ts == -2)	/* earliest */
				off = (int64_t)parts[p].first_offset;
			else
				off = offset_for_time(d, t, p, ts,
						      parts[p].high_watermark,
						      &found, &perr);
			kw_i16(w, kafka_error(perr));
			kw_i64(w, off < 0 ? -1 : found);
			kw_i64(w, off);
		}
	}
	return kr_left(r) ? H_CLOSE : H_DONE;
}
