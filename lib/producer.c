// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The producer: batches of messages appended with one ioctl each, either
 * straight from the caller's buffers (mqdev_produce) or queued and copied
 * into a batch that is flushed when full (mqdev_producer_send).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

#define PRODUCER_BATCH		256
#define PRODUCER_ARENA		(256 * 1024)

struct mqdev_producer {
	int			fd;
	struct mqdev_attach	attach;
	mqdev_ack_fn		ack_fn;
	void			*ack_ctx;

	/* the queued batch: messages point into arena */
	struct mqdev_msg	msgs[PRODUCER_BATCH];
	void			*opaque[PRODUCER_BATCH];
	uint32_t		count;
	int			stopped;	/* why the last flush stopped */
	char			*arena;
	size_t			arena_used;
	size_t			arena_size;
};

MQDEV_EXPORT int mqdev_producer_new(const char *topic, unsigned int flags,
				    struct mqdev_producer **producer)
{
	struct mqdev_producer *p;
	int oflags = 0;

	if (flags & ~MQDEV_PRODUCER_NONBLOCK)
		return -EINVAL;
	if (flags & MQDEV_PRODUCER_NONBLOCK)
		oflags |= O_NONBLOCK;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->fd = mqdev_attach_fd(topic, MQDEV_ATTACH_PRODUCE, oflags, &p->attach);
	if (p->fd < 0) {
		int err = p->fd;

		free(p);
		return err;
	}
	*producer = p;
	return 0;
}

MQDEV_EXPORT void mqdev_producer_free(struct mqdev_producer *p)
{
	if (!p)
		return;
	close(p->fd);
	free(p->arena);
	free(p);
}

MQDEV_EXPORT int mqdev_producer_fd(const struct mqdev_producer *p)
{
	return p->fd;
}

MQDEV_EXPORT uint32_t mqdev_producer_partitions(const struct mqdev_producer *p)
{
	return p->attach.partitions;
}

MQDEV_EXPORT void mqdev_producer_set_ack(struct mqdev_producer *p,
					 mqdev_ack_fn fn, void *ctx)
{
	p->ack_fn = fn;
	p->ack_ctx = ctx;
}

MQDEV_EXPORT int mqdev_produce(struct mqdev_producer *p, struct mqdev_msg *msgs,
			       uint32_t count)
{
	struct mqdev_produce req = {
		.msgs = (uint64_t)(uintptr_t)msgs,
		.count = count,
		.msg_size = sizeof(*msgs),
	};

	return mqdev_ioctl(p->fd, MQDEV_IOC_PRODUCE, &req);
}

static void producer_ack(struct mqdev_producer *p, uint32_t i, int error)
{
	struct mqdev_ack ack = {
		.partition = p->msgs[i].partition,
		.offset = p->msgs[i].offset,
		.error = error,
		.opaque = p->opaque[i],
	};

	if (p->ack_fn)
		p->ack_fn(p->ack_ctx, &ack);
}

/* Keep messages [from, count) queued; their bytes stay where they are. */
static void producer_keep(struct mqdev_producer *p, uint32_t from)
{
	memmove(p->msgs, p->msgs + from, (p->count - from) * sizeof(*p->msgs));
	memmove(p->opaque, p->opaque + from,
		(p->count - from) * sizeof(*p->opaque));
	p->count -= from;
}

/*
 * Append everything queued.  A message the kernel refuses gets an ack with
 * the error and the rest go on; -EAGAIN or -EINTR stop the flush with the
 * rest still queued.  Returns how many were appended, or that error.
 */
MQDEV_EXPORT int mqdev_producer_flush(struct mqdev_producer *p)
{
	uint32_t done = 0, i;
	int appended = 0, n;

	while (done < p->count) {
		n = mqdev_produce(p, p->msgs + done, p->count - done);
		if (n == -EAGAIN || n == -EINTR) {
			producer_keep(p, done);
			p->stopped = n;
			return appended ? appended : n;
		}
		if (n < 0) {
			producer_ack(p, done++, n);
			continue;
		}
		for (i = done; i < done + (uint32_t)n; i++)
			producer_ack(p, i, 0);
		done += n;
		appended += n;
	}
	p->count = 0;
	p->arena_used = 0;
	return appended;
}

static int producer_room(struct mqdev_producer *p, size_t len)
{
	char *arena;
	int err;

	if (p->count < PRODUCER_BATCH && p->arena_used + len <= p->arena_size)
		return 0;
	if (p->count) {
		err = mqdev_producer_flush(p);
		if (err < 0)
			return err;
		if (p->count)		/* some went, the rest could not */
			return p->stopped;
	}
	if (len <= p->arena_size)
		return 0;
	arena = malloc(len > PRODUCER_ARENA ? len : PRODUCER_ARENA);
	if (!arena)
		return -ENOMEM;
	free(p->arena);
	p->arena = arena;
	p->arena_size = len > PRODUCER_ARENA ? len : PRODUCER_ARENA;
	return 0;
}

MQDEV_EXPORT int mqdev_producer_send(struct mqdev_producer *p,
				     const void *key, uint32_t key_len,
				     const void *value, uint32_t value_len,
				     uint32_t partition, void *opaque)
{
	size_t len = (size_t)key_len + value_len;
	char *dst;
	int err;

	if (sizeof(struct mqdev_record) + len > p->attach.max_record)
		return -EMSGSIZE;
	err = producer_room(p, len);
	if (err)
		return err;

	dst = p->arena + p->arena_used;
	if (key_len)
		memcpy(dst, key, key_len);
	if (value_len)
		memcpy(dst + key_len, value, value_len);
	p->arena_used += len;
	mqdev_msg_init(&p->msgs[p->count], key_len ? dst : NULL, key_len,
		       dst + key_len, value_len, partition);
	p->opaque[p->count++] = opaque;
	return 0;
}
