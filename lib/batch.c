// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * Record batches: records laid out by the producer exactly as they will
 * stand in a partition's ring, values written in place by the caller, and
 * appended whole with one MQDEV_IOC_PRODUCE_BATCH (the kernel copies the
 * batch once and checks it in its own copy).
 */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

struct mqdev_batch {
	char		*buf;
	uint32_t	size;		/* bytes of buf */
	uint32_t	len;		/* bytes laid out */
	uint32_t	count;		/* records laid out */
};

MQDEV_EXPORT int mqdev_batch_new(uint32_t size, struct mqdev_batch **batch)
{
	struct mqdev_batch *b;

	if (size < sizeof(struct mqdev_record) || size > MQDEV_BATCH_MAX)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->size = size & ~(MQDEV_RECORD_ALIGN - 1);
	b->buf = aligned_alloc(MQDEV_RECORD_ALIGN, b->size);
	if (!b->buf) {
		free(b);
		return -ENOMEM;
	}
	*batch = b;
	return 0;
}

MQDEV_EXPORT void mqdev_batch_free(struct mqdev_batch *b)
{
	if (!b)
		return;
	free(b->buf);
	free(b);
}

MQDEV_EXPORT uint32_t mqdev_batch_count(const struct mqdev_batch *b)
{
	return b->count;
}

MQDEV_EXPORT void mqdev_batch_clear(struct mqdev_batch *b)
{
	b->len = 0;
	b->count = 0;
}

/*
 * The key into its record, out of line and last: called in tail position,
 * it leaves mqdev_batch_add() a leaf for a keyless record, with no
 * registers to save (some 20 instructions a record of a 64-record batch,
 * under -icount: the design page's "Instructions of the ordinary path").
 */
static __attribute__((noinline)) int batch_key(struct mqdev_record *rec,
					       const void *key,
					       uint32_t key_len)
{
	memcpy(rec + 1, key, key_len);
	return 0;
}

MQDEV_EXPORT int mqdev_batch_add(struct mqdev_batch *b, const void *key,
				 uint32_t key_len, uint32_t value_len,
				 void **value)
{
	uint64_t len = sizeof(struct mqdev_record) + (uint64_t)key_len +
		       value_len;
	uint64_t space = MQDEV_RECORD_SPACE(len);
	struct mqdev_record *rec;
	char *at;

	if (key_len > MQDEV_MAX_KEY || space > b->size)
		return -EMSGSIZE;
	if (space > b->size - b->len)
		return -ENOSPC;
	at = b->buf + b->len;
	/* The padding after the value goes into the ring too: no stale bytes. */
	memset(at + space - MQDEV_RECORD_ALIGN, 0, MQDEV_RECORD_ALIGN);
	rec = (struct mqdev_record *)at;
	memset(rec, 0, sizeof(*rec));
	rec->len = len;
	rec->key_len = key_len;
	*value = (char *)(rec + 1) + key_len;
	b->len += space;
	b->count++;
	return key_len ? batch_key(rec, key, key_len) : 0;
}

static void batch_request(const struct mqdev_batch *b, uint32_t partition,
			  struct mqdev_produce_batch *req)
{
	*req = (struct mqdev_produce_batch) {
		.records = (uint64_t)(uintptr_t)b->buf,
		.len = b->len,
		.partition = partition,
	};
}

/* @req appended @b: where to, and the batch is empty again. */
static void batch_appended(struct mqdev_batch *b,
			   const struct mqdev_produce_batch *req,
			   uint32_t *partition, uint64_t *base_offset)
{
	*partition = req->partition;
	if (base_offset)
		*base_offset = req->base_offset;
	mqdev_batch_clear(b);
}

MQDEV_EXPORT int mqdev_produce_batch(struct mqdev_producer *p,
				     struct mqdev_batch *b,
				     uint32_t *partition,
				     uint64_t *base_offset)
{
	struct mqdev_produce_batch req;
	uint32_t count = b->count;
	int err;

	if (!count)
		return 0;
	batch_request(b, *partition, &req);
	err = mqdev_ioctl(mqdev_producer_fd(p), MQDEV_IOC_PRODUCE_BATCH, &req);
	/* An acks=all handle's wait may fail after the append: it counts. */
	if (!err || req.count)
		batch_appended(b, &req, partition, base_offset);
	return err ?: (int)count;
}

MQDEV_EXPORT int mqdev_produce_batch_wait(struct mqdev_producer *p,
					  struct mqdev_batch *b,
					  uint32_t *partition,
					  uint64_t *base_offset,
					  struct mqdev_consumer *c,
					  int timeout_ms)
{
	struct mqdev_produce_batch req;
	bool sent;
	int ret;

	if (!b->count)
		return mqdev_consumer_wait(c, timeout_ms);
	batch_request(b, *partition, &req);
	ret = mqdev_consumer_wait_send(c, timeout_ms, mqdev_producer_fd(p),
				       MQDEV_IOC_PRODUCE_BATCH, &req,
				       &req.count, &sent);
	if (sent)
		batch_appended(b, &req, partition, base_offset);
	return ret;
}
