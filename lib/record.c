// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * Kafka's record model on mqdev records: null keys and values, and headers
 * in a block at the start of the value, after the record's expiry if it
 * has one (the layout is in the uapi header).
 * The block comes from a producer: every length is checked against the
 * record before it is followed.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

/* An unaligned __u32 of the block, in host order, as the producer laid it. */
static uint32_t block_u32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* The bytes of the value an expiry takes before the rest (see the uapi). */
static uint32_t expiry_size(const struct mqdev_record *rec)
{
	if (!(rec->flags & MQDEV_RECORD_EXPIRES) ||
	    mqdev_record_value_len(rec) < sizeof(uint64_t))
		return 0;
	return sizeof(uint64_t);
}

MQDEV_EXPORT uint64_t mqdev_record_expiry(const struct mqdev_record *rec)
{
	uint64_t expires;

	if (!expiry_size(rec))
		return 0;
	memcpy(&expires, mqdev_record_value(rec), sizeof(expires));
	return expires;
}

/* The header block: its bytes, or an empty one for a record without it. */
static uint32_t header_block(const struct mqdev_record *rec,
			     const unsigned char **block)
{
	uint32_t skip = expiry_size(rec);

	*block = (const unsigned char *)mqdev_record_value(rec) + skip;
	if (!(rec->flags & MQDEV_RECORD_HEADERS))
		return 0;
	return mqdev_record_value_len(rec) - skip;
}

MQDEV_EXPORT int mqdev_record_header_next(const struct mqdev_record *rec,
					  struct mqdev_header_iter *iter,
					  struct mqdev_header *h)
{
	const unsigned char *block;
	uint32_t size = header_block(rec, &block), klen, room;
	int32_t vlen;

	if (!size)
		return 0;
	if (!iter->pos) {
		if (size < sizeof(uint32_t))
			return -EBADMSG;
		iter->left = block_u32(block);
		iter->pos = sizeof(uint32_t);
	}
	if (!iter->left)
		return 0;
	room = size - iter->pos;
	if (room < 2 * sizeof(uint32_t))
		return -EBADMSG;
	klen = block_u32(block + iter->pos);
	vlen = (int32_t)block_u32(block + iter->pos + sizeof(uint32_t));
	room -= 2 * sizeof(uint32_t);
	if (klen > room || vlen < -1 || (vlen > 0 && (uint32_t)vlen > room - klen))
		return -EBADMSG;
	h->key = block + iter->pos + 2 * sizeof(uint32_t);
	h->key_len = klen;
	h->value_len = vlen;
	h->value = vlen < 0 ? NULL : (const unsigned char *)h->key + klen;
	iter->pos += 2 * sizeof(uint32_t) + klen + (vlen > 0 ? vlen : 0);
	iter->left--;
	return 1;
}

MQDEV_EXPORT int mqdev_record_payload(const struct mqdev_record *rec,
				      const void **value, uint32_t *len)
{
	struct mqdev_header_iter iter = {};
	struct mqdev_header h;
	const unsigned char *block;
	int ret;

	header_block(rec, &block);
	while ((ret = mqdev_record_header_next(rec, &iter, &h)) > 0)
		;
	if (ret < 0)
		return ret;
	*value = block + iter.pos;
	*len = mqdev_record_value_len(rec) - expiry_size(rec) - iter.pos;
	if (rec->flags & MQDEV_RECORD_NULL_VALUE) {
		*value = NULL;
		*len = 0;
	}
	return 0;
}

size_t mqdev_headers_size(const struct mqdev_header *h, unsigned int n)
{
	size_t need = sizeof(uint32_t);
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (h[i].value_len < -1)
			return 0;
		need += 2 * sizeof(uint32_t) + h[i].key_len +
			(h[i].value_len > 0 ? h[i].value_len : 0);
	}
	return need <= INT32_MAX ? need : 0;
}

MQDEV_EXPORT int mqdev_headers_encode(void *buf, size_t size,
				      const struct mqdev_header *h,
				      unsigned int n)
{
	size_t need = mqdev_headers_size(h, n), at;
	unsigned char *p = buf;
	uint32_t count = n, klen;
	unsigned int i;

	if (!need)
		return -EINVAL;
	if (need > size)
		return -ENOSPC;
	memcpy(p, &count, sizeof(count));
	at = sizeof(count);
	for (i = 0; i < n; i++) {
		klen = h[i].key_len;
		memcpy(p + at, &klen, sizeof(klen));
		memcpy(p + at + 4, &h[i].value_len, sizeof(h[i].value_len));
		at += 2 * sizeof(uint32_t);
		memcpy(p + at, h[i].key, klen);
		at += klen;
		if (h[i].value_len > 0) {
			memcpy(p + at, h[i].value, h[i].value_len);
			at += h[i].value_len;
		}
	}
	return (int)at;
}
