// SPDX-License-Identifier: GPL-2.0
/*
 * mqdev-kafkad: Kafka's RecordBatch v2 (magic 2), as Produce brings it:
 * the header checked, the CRC-32C verified, the records decompressed (gzip,
 * snappy, lz4, zstd) into a buffer of bounded size, and walked one by one.
 */
#include <errno.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include "kafkad.h"

#define ZSTD_WINDOWLOG_LIMIT	23	/* 8 MiB windows; zstd takes 128 MiB */

/* The output of a decompression, grown up to a limit. */
struct obuf {
	uint8_t	*p;
	size_t	len;
	size_t	cap;
	size_t	limit;
};

static uint8_t *obuf_room(struct obuf *o, size_t want, size_t *room)
{
	size_t cap;
	uint8_t *p;

	if (o->cap - o->len < want) {
		if (o->cap >= o->limit)
			return NULL;
		cap = o->cap ? o->cap * 2 : 65536;
		while (cap - o->len < want && cap < o->limit)
			cap *= 2;
		if (cap > o->limit)
			cap = o->limit;
		p = realloc(o->p, cap);
		if (!p)
			return NULL;
		o->p = p;
		o->cap = cap;
	}
	*room = o->cap - o->len;
	return o->p + o->len;
}

static int gunzip(const uint8_t *in, size_t len, struct obuf *o)
{
	z_stream zs = { .next_in = (Bytef *)in, .avail_in = len };
	size_t room;
	int ret;

	if (inflateInit2(&zs, 15 + 32) != Z_OK)
		return -ENOMEM;
	do {
		zs.next_out = obuf_room(o, 4096, &room);
		if (!zs.next_out) {
			ret = Z_MEM_ERROR;
			break;
		}
		zs.avail_out = room;
		ret = inflate(&zs, Z_NO_FLUSH);
		o->len += room - zs.avail_out;
	} while (ret == Z_OK);
	inflateEnd(&zs);
	return ret == Z_STREAM_END ? 0 : -EINVAL;
}

static int unsnappy_block(const uint8_t *in, size_t len, struct obuf *o)
{
	size_t want, room;
	uint8_t *p;

	if (snappy_uncompressed_length((const char *)in, len, &want) !=
	    SNAPPY_OK || want > o->limit - o->len)
		return -EINVAL;
	p = obuf_room(o, want, &room);
	if (!p || room < want)
		return -EINVAL;
	if (snappy_uncompress((const char *)in, len, (char *)p, &want) !=
	    SNAPPY_OK)
		return -EINVAL;
	o->len += want;
	return 0;
}

/*
 * Java's clients frame snappy as xerial's snappy-java does (a magic
 * header, then blocks each with its big-endian length); librdkafka may send
 * one raw block.  Both are taken.
 */
static int unsnappy(const uint8_t *in, size_t len, struct obuf *o)
{
	static const uint8_t magic[8] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0 };
	uint32_t blen;
	int err;

	if (len < 16 || memcmp(in, magic, 8))
		return unsnappy_block(in, len, o);
	in += 16;
	len -= 16;
	while (len) {
		if (len < 4)
			return -EINVAL;
		blen = be32get(in);
		if (blen > len - 4)
			return -EINVAL;
		err = unsnappy_block(in + 4, blen, o);
		if (err)
			return err;
		in += 4 + blen;
		len -= 4 + blen;
	}
	return 0;
}

static int unlz4(const uint8_t *in, size_t len, struct obuf *o)
{
	LZ4F_decompressionContext_t ctx;
	size_t room, src, ret;
	uint8_t *p;
	int err = -EINVAL;

	if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION)))
		return -ENOMEM;
	while (len) {
		p = obuf_room(o, 4096, &room);
		if (!p)
			break;
		src = len;
		ret = LZ4F_decompress(ctx, p, &room, in, &src, NULL);
		if (LZ4F_isError(ret))
			break;
		o->len += room;
		in += src;
		len -= src;
		if (ret == 0) {
			err = len ? -EINVAL : 0;
			break;
		}
		if (!src && !room)
			break;
	}
	LZ4F_freeDecompressionContext(ctx);
	return err;
}

static int unzstd(const uint8_t *in, size_t len, struct obuf *o)
{
	ZSTD_DStream *zs = ZSTD_createDStream();
	ZSTD_inBuffer ib = { in, len, 0 };
	ZSTD_outBuffer ob;
	size_t room, ret = 1;
	int err = -EINVAL;

	if (!zs)
		return -ENOMEM;
	ZSTD_initDStream(zs);
	/* A frame may ask for a window of up to 2 GiB: 8 MiB is plenty. */
	ZSTD_DCtx_setParameter(zs, ZSTD_d_windowLogMax, ZSTD_WINDOWLOG_LIMIT);
	while (ib.pos < ib.size || ret) {
		ob.dst = obuf_room(o, 4096, &room);
		if (!ob.dst)
			break;
		ob.size = room;
		ob.pos = 0;
		ret = ZSTD_decompressStream(zs, &ob, &ib);
		if (ZSTD_isError(ret))
			break;
		o->len += ob.pos;
		if (!ret && ib.pos == ib.size) {
			err = 0;
			break;
		}
		if (!ob.pos && ib.pos == ib.size)
			break;		/* truncated */
	}
	ZSTD_freeDStream(zs);
	return err;
}

static int batch_decompress(struct kbatch *b, const uint8_t *in, size_t len,
			    size_t limit)
{
	struct obuf o = { .limit = limit };
	int err;

	switch (b->attributes & BATTR_COMPRESSION) {
	case 1:
		err = gunzip(in, len, &o);
		break;
	case 2:
		err = unsnappy(in, len, &o);
		break;
	case 3:
		err = unlz4(in, len, &o);
		break;
	case 4:
		err = unzstd(in, len, &o);
		break;
	default:
		return KERR_UNSUPPORTED_COMPRESSION_TYPE;
	}
	if (err) {
		free(o.p);
		/* Past the limit, or past what the output could ever be. */
		return o.cap >= limit ? KERR_MESSAGE_TOO_LARGE :
					KERR_CORRUPT_MESSAGE;
	}
	b->alloc = o.p;
	b->records = o.p;
	b->records_len = o.len;
	/* Each record takes 7 bytes at least: no count beyond the bytes. */
	if ((size_t)b->count > b->records_len / 7) {
		batch_release(b);
		return KERR_CORRUPT_MESSAGE;
	}
	return KERR_NONE;
}

/**
 * batch_parse() - Read one record batch, checked, its records uncompressed.
 * @r: at the batch, in a Produce's records; moved past it
 * @b: filled; batch_release() it after a KERR_NONE
 * @limit: the most bytes its records may take uncompressed
 *
 * Return: KERR_NONE, KERR_CORRUPT_MESSAGE (truncated, a bad length or CRC,
 * more records than the bytes hold), KERR_MESSAGE_TOO_LARGE (more than
 * @limit bytes uncompressed),
 * KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT (not magic 2) or
 * KERR_UNSUPPORTED_COMPRESSION_TYPE.
 */
int batch_parse(struct kr *r, struct kbatch *b, size_t limit)
{
	const uint8_t *start = r->p, *body;
	int32_t len;
	int8_t magic;
	uint32_t crc;
	struct kr h;

	memset(b, 0, sizeof(*b));
	if (kr_left(r) < BATCH_HEADER_SIZE)
		return KERR_CORRUPT_MESSAGE;
	h = *r;
	b->base_offset = kr_i64(&h);
	len = kr_i32(&h);
	if (len < BATCH_HEADER_SIZE - 12 || (size_t)len > kr_left(&h))
		return KERR_CORRUPT_MESSAGE;
	kr_i32(&h);			/* partitionLeaderEpoch */
	magic = kr_i8(&h);
	if (magic != 2)
		return KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
	crc = (uint32_t)kr_i32(&h);
	if (crc32c(0, start + BATCH_ATTR_AT, len + 12 - BATCH_ATTR_AT) != crc)
		return KERR_CORRUPT_MESSAGE;
	b->attributes = kr_i16(&h);
	b->last_offset_delta = kr_i32(&h);
	b->first_ts = kr_i64(&h);
	b->max_ts = kr_i64(&h);
	b->producer_id = kr_i64(&h);
	b->producer_epoch = kr_i16(&h);
	b->base_sequence = kr_i32(&h);
	b->count = kr_i32(&h);
	kr_take(r, len + 12);
	body = start + BATCH_HEADER_SIZE;
	/* Each record takes 7 bytes at least: no count beyond the bytes. */
	if (b->count < 0 || b->last_offset_delta < 0)
		return KERR_CORRUPT_MESSAGE;
	if (!(b->attributes & BATTR_COMPRESSION)) {
		b->records = body;
		b->records_len = len + 12 - BATCH_HEADER_SIZE;
		if ((size_t)b->count > b->records_len / 7)
			return KERR_CORRUPT_MESSAGE;
		return KERR_NONE;
	}
	return batch_decompress(b, body, len + 12 - BATCH_HEADER_SIZE, limit);
}

void batch_release(struct kbatch *b)
{
	free(b->alloc);
	b->alloc = NULL;
}

/* A varint length, -1 for null, then as many bytes. */
static struct kstr record_span(struct kr *r)
{
	int64_t len = kr_varint(r);
	struct kstr s = { NULL, -1 };

	if (len == -1)
		return s;
	if (len < 0 || len > INT32_MAX || (size_t)len > kr_left(r)) {
		r->err = true;
		return s;
	}
	s.p = kr_take(r, len);
	s.len = (int32_t)len;
	return s;
}

/**
 * record_next() - Read one record of a batch.
 * @r: at the record, in a batch's uncompressed records; moved past it
 * @rec: filled, in place
 *
 * Return: 0, or -EINVAL for a record whose fields do not add up to its
 * length.
 */
int record_next(struct kr *r, struct krecord *rec)
{
	int64_t len = kr_varint(r);
	struct kr b;
	int32_t i;
	const uint8_t *hstart;

	if (r->err || len < 6 || (size_t)len > kr_left(r))
		return -EINVAL;
	kr_init(&b, kr_take(r, len), len);
	kr_i8(&b);			/* attributes, unused */
	rec->ts_delta = kr_varint(&b);
	rec->offset_delta = (int32_t)kr_varint(&b);
	rec->key = record_span(&b);
	rec->value = record_span(&b);
	rec->nheaders = (int32_t)kr_varint(&b);
	hstart = b.p;
	if (rec->nheaders < 0 || (size_t)rec->nheaders > kr_left(&b) / 2)
		return -EINVAL;
	for (i = 0; i < rec->nheaders; i++) {
		struct kstr k = record_span(&b);

		if (k.len < 0)
			b.err = true;
		record_span(&b);
	}
	rec->headers.p = hstart;
	rec->headers.len = (int32_t)(b.p - hstart);
	if (b.err || kr_left(&b))
		return -EINVAL;
	return 0;
}
