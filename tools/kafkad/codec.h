/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mqdev-kafkad's wire codec: Kafka's primitive types, read from a request
 * with every length checked against what is left, and written into a
 * response buffer that grows up to a limit.  A reader or writer that runs
 * out (or meets a malformed value) turns its err flag on and from then on
 * reads zeros and writes nothing, so that a handler checks once, at the end.
 */
#ifndef KAFKAD_CODEC_H
#define KAFKAD_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kr {
	const uint8_t	*p;
	const uint8_t	*end;
	bool		err;
};

/* A string or bytes read in place: len -1 is null. */
struct kstr {
	const uint8_t	*p;
	int32_t		len;
};

static inline void kr_init(struct kr *r, const void *buf, size_t len)
{
	r->p = buf;
	r->end = r->p + len;
	r->err = false;
}

static inline size_t kr_left(const struct kr *r)
{
	return r->err ? 0 : (size_t)(r->end - r->p);
}

int8_t kr_i8(struct kr *r);
int16_t kr_i16(struct kr *r);
int32_t kr_i32(struct kr *r);
int64_t kr_i64(struct kr *r);
uint64_t kr_uvarint(struct kr *r);
int64_t kr_varint(struct kr *r);
struct kstr kr_str(struct kr *r);
struct kstr kr_bytes(struct kr *r);
struct kstr kr_compact_str(struct kr *r);
int32_t kr_array(struct kr *r, size_t min_elem);
int32_t kr_compact_array(struct kr *r, size_t min_elem);
void kr_skip_tags(struct kr *r);
const uint8_t *kr_take(struct kr *r, size_t len);

struct kw {
	uint8_t		*buf;
	size_t		len;
	size_t		cap;
	size_t		limit;		/* the most it may grow to */
	bool		err;
};

void kw_init(struct kw *w, size_t limit);
void kw_free(struct kw *w);
void *kw_room(struct kw *w, size_t len);
void kw_i8(struct kw *w, int8_t v);
void kw_i16(struct kw *w, int16_t v);
void kw_i32(struct kw *w, int32_t v);
void kw_i64(struct kw *w, int64_t v);
void kw_uvarint(struct kw *w, uint64_t v);
void kw_varint(struct kw *w, int64_t v);
void kw_raw(struct kw *w, const void *p, size_t len);
void kw_str(struct kw *w, const char *s);
void kw_strn(struct kw *w, const void *p, int32_t len);
void kw_bytes(struct kw *w, const void *p, int32_t len);
void kw_compact_strn(struct kw *w, const void *p, int32_t len);
void kw_put_i32_at(struct kw *w, size_t at, int32_t v);
void kw_put_i16_at(struct kw *w, size_t at, int16_t v);

/* Bytes a varint (zigzag) or an unsigned varint of @v takes. */
size_t varint_size(int64_t v);
size_t uvarint_size(uint64_t v);

uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

static inline uint16_t be16get(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t be32get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t be64get(const uint8_t *p)
{
	return (uint64_t)be32get(p) << 32 | be32get(p + 4);
}

static inline void be32put(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

#endif /* KAFKAD_CODEC_H */
