// SPDX-License-Identifier: GPL-2.0
/*
 * mqdev-kafkad: Kafka's primitive types (see codec.h) and CRC-32C.
 */
#include <stdlib.h>
#include <string.h>
#include "codec.h"

static const uint8_t *kr_need(struct kr *r, size_t len)
{
	const uint8_t *p = r->p;

	if (r->err || (size_t)(r->end - r->p) < len) {
		r->err = true;
		return NULL;
	}
	r->p += len;
	return p;
}

const uint8_t *kr_take(struct kr *r, size_t len)
{
	return kr_need(r, len);
}

int8_t kr_i8(struct kr *r)
{
	const uint8_t *p = kr_need(r, 1);

	return p ? (int8_t)p[0] : 0;
}

int16_t kr_i16(struct kr *r)
{
	const uint8_t *p = kr_need(r, 2);

	return p ? (int16_t)be16get(p) : 0;
}

int32_t kr_i32(struct kr *r)
{
	const uint8_t *p = kr_need(r, 4);

	return p ? (int32_t)be32get(p) : 0;
}

int64_t kr_i64(struct kr *r)
{
	const uint8_t *p = kr_need(r, 8);

	return p ? (int64_t)be64get(p) : 0;
}

/* Unsigned LEB128, at most 10 bytes (64 bits). */
uint64_t kr_uvarint(struct kr *r)
{
	uint64_t v = 0;
	unsigned int shift;
	const uint8_t *p;

	for (shift = 0; shift < 64; shift += 7) {
		p = kr_need(r, 1);
		if (!p)
			return 0;
		v |= (uint64_t)(*p & 0x7f) << shift;
		if (!(*p & 0x80))
			return v;
	}
	r->err = true;
	return 0;
}

int64_t kr_varint(struct kr *r)
{
	uint64_t v = kr_uvarint(r);

	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* @len bytes in place, or a null (-1); anything else below 0 is an error. */
static struct kstr kr_span(struct kr *r, int64_t len)
{
	struct kstr s = { NULL, -1 };

	if (len == -1 && !r->err)
		return s;
	if (len < 0 || len > INT32_MAX) {
		r->err = true;
		return s;
	}
	s.p = kr_need(r, len);
	s.len = s.p ? (int32_t)len : -1;
	return s;
}

struct kstr kr_str(struct kr *r)
{
	return kr_span(r, kr_i16(r));
}

struct kstr kr_bytes(struct kr *r)
{
	return kr_span(r, kr_i32(r));
}

/*
 * A compact length or count: plus one as an unsigned varint, 0 for null
 * (-1).  Computed unsigned: a varint may hold up to 2^64 - 1, and one past
 * INT32_MAX is an error (-2) however large it is.
 */
static int64_t kr_compact_len(struct kr *r)
{
	uint64_t v = kr_uvarint(r);

	if (!v)
		return -1;
	return v - 1 > INT32_MAX ? -2 : (int64_t)(v - 1);
}

struct kstr kr_compact_str(struct kr *r)
{
	return kr_span(r, kr_compact_len(r));
}

/*
 * An array's count, -1 for null.  A count that the bytes left could not
 * hold, at @min_elem bytes an element, is an error: no loop runs on a
 * count the request does not back.
 */
static int32_t kr_count(struct kr *r, int64_t n, size_t min_elem)
{
	if (r->err)
		return 0;
	if (n == -1)
		return -1;
	if (n < 0 || n > INT32_MAX ||
	    (min_elem && (uint64_t)n > kr_left(r) / min_elem)) {
		r->err = true;
		return 0;
	}
	return (int32_t)n;
}

int32_t kr_array(struct kr *r, size_t min_elem)
{
	return kr_count(r, kr_i32(r), min_elem);
}

int32_t kr_compact_array(struct kr *r, size_t min_elem)
{
	return kr_count(r, kr_compact_len(r), min_elem);
}

/* Tagged fields: none is known to us, all are skipped. */
void kr_skip_tags(struct kr *r)
{
	uint64_t n = kr_uvarint(r), i, len;

	if (n > kr_left(r) / 2) {
		r->err = true;
		return;
	}
	for (i = 0; i < n && !r->err; i++) {
		kr_uvarint(r);
		len = kr_uvarint(r);
		kr_span(r, len > INT32_MAX ? -2 : (int64_t)len);
	}
}

void kw_init(struct kw *w, size_t limit)
{
	memset(w, 0, sizeof(*w));
	w->limit = limit;
}

void kw_free(struct kw *w)
{
	free(w->buf);
	kw_init(w, w->limit);
}

/* Room for @len more bytes, which the caller fills; NULL past the limit. */
void *kw_room(struct kw *w, size_t len)
{
	size_t cap;
	void *p;

	if (w->err)
		return NULL;
	if (len > w->limit - w->len) {
		w->err = true;
		return NULL;
	}
	if (w->len + len > w->cap) {
		cap = w->cap ? w->cap : 256;
		while (cap < w->len + len)
			cap *= 2;
		if (cap > w->limit)
			cap = w->limit;
		p = realloc(w->buf, cap);
		if (!p) {
			w->err = true;
			return NULL;
		}
		w->buf = p;
		w->cap = cap;
	}
	p = w->buf + w->len;
	w->len += len;
	return p;
}

void kw_raw(struct kw *w, const void *src, size_t len)
{
	void *p = kw_room(w, len);

	if (p && len)
		memcpy(p, src, len);
}

void kw_i8(struct kw *w, int8_t v)
{
	kw_raw(w, &v, 1);
}

void kw_i16(struct kw *w, int16_t v)
{
	uint8_t b[2] = { (uint16_t)v >> 8, (uint8_t)v };

	kw_raw(w, b, 2);
}

void kw_i32(struct kw *w, int32_t v)
{
	uint8_t b[4];

	be32put(b, (uint32_t)v);
	kw_raw(w, b, 4);
}

void kw_i64(struct kw *w, int64_t v)
{
	kw_i32(w, (int32_t)((uint64_t)v >> 32));
	kw_i32(w, (int32_t)(uint32_t)v);
}

void kw_uvarint(struct kw *w, uint64_t v)
{
	uint8_t b[10];
	size_t n = 0;

	while (v >= 0x80) {
		b[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b[n++] = (uint8_t)v;
	kw_raw(w, b, n);
}

void kw_varint(struct kw *w, int64_t v)
{
	kw_uvarint(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

size_t uvarint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

size_t varint_size(int64_t v)
{
	return uvarint_size(((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void kw_strn(struct kw *w, const void *p, int32_t len)
{
	kw_i16(w, (int16_t)len);
	if (len > 0)
		kw_raw(w, p, len);
}

void kw_str(struct kw *w, const char *s)
{
	if (!s)
		kw_i16(w, -1);
	else
		kw_strn(w, s, (int32_t)strlen(s));
}

void kw_bytes(struct kw *w, const void *p, int32_t len)
{
	kw_i32(w, len);
	if (len > 0)
		kw_raw(w, p, len);
}

void kw_compact_strn(struct kw *w, const void *p, int32_t len)
{
	kw_uvarint(w, (uint64_t)(len + 1));
	if (len > 0)
		kw_raw(w, p, len);
}

void kw_put_i32_at(struct kw *w, size_t at, int32_t v)
{
	if (!w->err && at + 4 <= w->len)
		be32put(w->buf + at, (uint32_t)v);
}

void kw_put_i16_at(struct kw *w, size_t at, int16_t v)
{
	if (!w->err && at + 2 <= w->len) {
		w->buf[at] = (uint16_t)v >> 8;
		w->buf[at + 1] = (uint16_t)v & 0xff;
	}
}

/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), which Kafka's
 * record batches carry, a byte at a time through a table built once.
 */
static uint32_t crc32c_table[256];

static void crc32c_init(void)
{
	uint32_t c, i, k;

	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78U : c >> 1;
		crc32c_table[i] = c;
	}
}

/* Return: the CRC-32C of @buf continued from @crc (0 to start). */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (!crc32c_table[1])
		crc32c_init();
	crc = ~crc;
	while (len--)
		crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}
