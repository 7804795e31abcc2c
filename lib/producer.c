// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The producer: batches of messages appended with one ioctl each, either
 * straight from the caller's buffers (mqdev_produce) or queued and copied
 * into a batch that is flushed when full (mqdev_producer_send).
 *
 * A producer bound to a session numbers its messages per partition, so the
 * partition is chosen here, when a message is queued, not by the kernel.
 * next_seq[] is the number the next queued message of a partition gets; a
 * queued message the kernel refused never used its number, so the messages
 * queued after it in its partition move down by one.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

#define PRODUCER_BATCH		256
#define PRODUCER_ARENA		(256 * 1024)

struct mqdev_producer {
	int			fd;
	struct mqdev_attach	attach;
	bool			nonblock;
	mqdev_ack_fn		ack_fn;
	void			*ack_ctx;

	/* bound to a session (which may be freed first: numbering goes on) */
	struct mqdev_session	*session;
	struct mqdev_producer	*session_next;
	uint32_t		*next_seq;	/* per partition, once bound */
	uint32_t		sticky;		/* unkeyed messages' partition */
	uint32_t		next_rr;

	/* the queued batch: messages point into arena */
	struct mqdev_msg	msgs[PRODUCER_BATCH];
	void			*opaque[PRODUCER_BATCH];
	uint32_t		count;
	int			stopped;	/* why the last flush stopped */
	char			*arena;
	size_t			arena_used;
	size_t			arena_size;
};

MQDEV_EXPORT int mqdev_producer_new(const char *topic,
				    const struct mqdev_producer_opts *opts,
				    struct mqdev_producer **producer)
{
	struct mqdev_producer *p;
	uint32_t flags, attach = MQDEV_ATTACH_PRODUCE;
	int oflags = 0;

	if (!OPTS_VALID(opts, mqdev_producer_opts))
		return -EINVAL;
	flags = OPTS_GET(opts, flags, 0);
	if (flags & ~(MQDEV_PRODUCER_NONBLOCK | MQDEV_PRODUCER_ACKS_ALL))
		return -EINVAL;
	if (flags & MQDEV_PRODUCER_NONBLOCK)
		oflags |= O_NONBLOCK;
	if (flags & MQDEV_PRODUCER_ACKS_ALL)
		attach |= MQDEV_ATTACH_ACKS_ALL;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->nonblock = flags & MQDEV_PRODUCER_NONBLOCK;
	p->ack_fn = OPTS_GET(opts, ack_fn, NULL);
	p->ack_ctx = OPTS_GET(opts, ack_ctx, NULL);
	p->sticky = MQDEV_PARTITION_ANY;
	p->fd = mqdev_attach_fd(topic, attach, oflags, &p->attach);
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
	if (p->session)
		mqdev_session_unbind(p->session, p);
	close(p->fd);
	free(p->next_seq);
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

MQDEV_EXPORT int mqdev_producer_bind(struct mqdev_producer *p,
				     struct mqdev_session *s)
{
	struct mqdev_producer_bind req = {
		.session_fd = s->fd,
		.next_seq_count = p->attach.partitions,
		.seq_size = sizeof(uint32_t),
	};
	uint32_t *next;
	int err;

	if (p->next_seq)
		return -EBUSY;
	if (p->count)		/* queued unnumbered */
		return -EINPROGRESS;
	next = calloc(p->attach.partitions, sizeof(*next));
	if (!next)
		return -ENOMEM;
	req.next_seq = (uint64_t)(uintptr_t)next;
	err = mqdev_ioctl(p->fd, MQDEV_IOC_PRODUCER_BIND, &req);
	if (err) {
		free(next);
		return err;
	}
	p->next_seq = next;
	p->session = s;
	p->session_next = s->bound;
	s->bound = p;
	return 0;
}

MQDEV_EXPORT uint32_t
mqdev_producer_next_sequence(const struct mqdev_producer *p, uint32_t partition)
{
	return p->next_seq && partition < p->attach.partitions ?
	       p->next_seq[partition] : 0;
}

/* The partition of a message to a bound producer, chosen as the kernel would. */
static uint32_t producer_partition(struct mqdev_producer *p,
				   const struct mqdev_msg *msg)
{
	uint32_t n = p->attach.partitions;

	if (msg->partition != MQDEV_PARTITION_ANY)
		return msg->partition;
	if (msg->key_len)
		return mqdev_partition_for_key((const void *)(uintptr_t)msg->key,
					       msg->key_len, n);
	if (p->sticky == MQDEV_PARTITION_ANY)
		p->sticky = p->next_rr++ % n;
	return p->sticky;
}

/* A bound producer's message gets its partition and its sequence number. */
static void producer_number(struct mqdev_producer *p, struct mqdev_msg *msg)
{
	msg->partition = producer_partition(p, msg);
	/* Out of range is the kernel's to refuse, numbered or not. */
	if (msg->partition < p->attach.partitions)
		msg->sequence = p->next_seq[msg->partition]++;
}

MQDEV_EXPORT void mqdev_producer_stamp(struct mqdev_producer *p,
				       struct mqdev_msg *msgs, uint32_t count)
{
	uint32_t i;

	if (!p->next_seq)
		return;
	for (i = 0; i < count; i++)
		producer_number(p, &msgs[i]);
	p->sticky = MQDEV_PARTITION_ANY;	/* the next batch moves on */
}

/* Queued message @i was refused: the ones after it in its partition move up. */
static void producer_unnumber(struct mqdev_producer *p, uint32_t i)
{
	uint32_t part = p->msgs[i].partition, j;

	if (!p->next_seq || part >= p->attach.partitions)
		return;
	for (j = i + 1; j < p->count; j++)
		if (p->msgs[j].partition == part)
			p->msgs[j].sequence--;
	p->next_seq[part]--;
}

static void producer_ack(struct mqdev_producer *p, uint32_t i, int error)
{
	struct mqdev_ack ack = {
		.sz = sizeof(ack),
		.partition = p->msgs[i].partition,
		.offset = p->msgs[i].offset,
		.error = error,
		.opaque = p->opaque[i],
		.sequence = p->msgs[i].sequence,
		.duplicate = p->msgs[i].status & MQDEV_MSG_DUPLICATE,
	};

	/* A transaction that lost a message must not commit without it. */
	if (error && p->session && p->session->in_txn &&
	    !p->session->txn_error)
		p->session->txn_error = error;

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
 * A transaction's appends never sleep in the kernel (they hold it against
 * its decision): a blocking producer waits for room here instead.
 */
static int producer_wait_room(struct mqdev_producer *p)
{
	struct pollfd pfd = { .fd = p->fd, .events = POLLOUT };

	if (p->nonblock || !p->session || !p->session->in_txn)
		return -EAGAIN;
	if (poll(&pfd, 1, -1) < 0)
		return -errno;
	return 0;
}

/* Stop a flush at message @done for @err: it and the rest stay queued. */
static int producer_stop(struct mqdev_producer *p, uint32_t done,
			 int appended, int err)
{
	producer_keep(p, done);
	p->stopped = err;
	return appended ? appended : err;
}

/*
 * Append everything queued.  A message the kernel refuses gets an ack with
 * the error and the rest go on; -EAGAIN, or -EINTR (a signal, while the
 * kernel or producer_wait_room() waited for room), stop the flush with the
 * rest still queued: it is never retried here.  Returns how many were
 * appended, or that error.
 *
 * A signal that comes after the kernel appended some of a call's messages
 * is answered with that count, like any short count, and the next call for
 * the rest may sleep again: a caller that must stop on a signal makes the
 * descriptor non-blocking in its handler (mqctl does).
 */
MQDEV_EXPORT int mqdev_producer_flush(struct mqdev_producer *p)
{
	uint32_t done = 0, i;
	int appended = 0, n;

	while (done < p->count) {
		n = mqdev_produce(p, p->msgs + done, p->count - done);
		if (n == -EAGAIN) {
			n = producer_wait_room(p);
			if (!n)
				continue;
			return producer_stop(p, done, appended, n);
		}
		if (n == -EINTR)
			return producer_stop(p, done, appended, n);
		if (n < 0) {
			producer_unnumber(p, done);
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
	p->sticky = MQDEV_PARTITION_ANY;	/* the next batch moves on */
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

/* The message's flags, checked, with what the library adds. */
static int send_flags(const void *key, uint32_t key_len, const void *value,
		      uint32_t value_len, const struct mqdev_send_opts *opts,
		      uint32_t *flagsp)
{
	uint32_t flags = OPTS_GET(opts, flags, 0);

	/* C's null: no pointer and no length. */
	if (!key && !key_len)
		flags |= MQDEV_MSG_NULL_KEY;
	if (!value && !value_len)
		flags |= MQDEV_MSG_NULL_VALUE;
	if (!OPTS_VALID(opts, mqdev_send_opts) ||
	    (flags & ~(MQDEV_MSG_NULL_KEY | MQDEV_MSG_NULL_VALUE)) ||
	    ((flags & MQDEV_MSG_NULL_KEY) && key_len) ||
	    ((flags & MQDEV_MSG_NULL_VALUE) && value_len) ||
	    (OPTS_GET(opts, nr_headers, 0) && !OPTS_GET(opts, headers, NULL)) ||
	    (OPTS_GET(opts, deliver_at, 0) && OPTS_GET(opts, delay_ns, 0)) ||
	    OPTS_GET(opts, ttl_ns, 0) > MQDEV_TTL_MAX)	/* the sum can't wrap */
		return -EINVAL;
	if (OPTS_GET(opts, ttl_ns, 0))
		flags |= MQDEV_MSG_EXPIRES;
	*flagsp = flags;
	return 0;
}

/* Hand the message just laid out at the arena's end to the kernel's timer. */
static int send_scheduled(struct mqdev_producer *p, struct mqdev_msg *msg,
			  const struct mqdev_send_opts *opts)
{
	struct mqdev_schedule req = { .msg = *msg };
	uint64_t *id = OPTS_GET(opts, sched_id, NULL);
	int err;

	if (OPTS_GET(opts, delay_ns, 0)) {
		req.at = (int64_t)opts->delay_ns;
		req.flags = MQDEV_SCHED_RELATIVE;
	} else {
		req.at = (int64_t)opts->deliver_at;
	}
	err = mqdev_ioctl(p->fd, MQDEV_IOC_SCHEDULE, &req);
	/* Interrupted waiting for the replica: scheduled, its id given. */
	if ((!err || err == -EINTR) && id)
		*id = req.id;
	return err;
}

MQDEV_EXPORT int mqdev_producer_send_opts(struct mqdev_producer *p,
					  const void *key, uint32_t key_len,
					  const void *value, uint32_t value_len,
					  uint32_t partition, void *opaque,
					  const struct mqdev_send_opts *opts)
{
	const struct mqdev_header *headers = OPTS_GET(opts, headers, NULL);
	unsigned int nr = OPTS_GET(opts, nr_headers, 0);
	uint64_t ttl = OPTS_GET(opts, ttl_ns, 0), expires;
	size_t block = 0, len, pre;
	struct mqdev_msg *msg;
	uint32_t flags;
	char *dst;
	int err;

	err = send_flags(key, key_len, value, value_len, opts, &flags);
	if (err)
		return err;
	if (nr) {
		block = mqdev_headers_size(headers, nr);
		if (!block)
			return -EINVAL;
		flags |= MQDEV_MSG_HEADERS;
	}
	pre = ttl ? sizeof(expires) : 0;
	len = (size_t)key_len + pre + block + value_len;
	if (sizeof(struct mqdev_record) + len > p->attach.max_record)
		return -EMSGSIZE;
	err = producer_room(p, len);
	if (err)
		return err;

	dst = p->arena + p->arena_used;
	if (key_len)
		memcpy(dst, key, key_len);
	if (pre) {
		expires = mqdev_realtime_ns() + ttl;
		memcpy(dst + key_len, &expires, pre);
	}
	if (block)
		mqdev_headers_encode(dst + key_len + pre, block, headers, nr);
	if (value_len)
		memcpy(dst + key_len + pre + block, value, value_len);
	msg = &p->msgs[p->count];
	mqdev_msg_init(msg, key_len ? dst : NULL, key_len, dst + key_len,
		       pre + block + value_len, partition);
	msg->flags = flags;
	/* Scheduled: sent now, alone; the arena's room is not kept. */
	if (OPTS_GET(opts, deliver_at, 0) || OPTS_GET(opts, delay_ns, 0))
		return send_scheduled(p, msg, opts);
	p->arena_used += len;
	if (p->next_seq)
		producer_number(p, msg);
	p->opaque[p->count++] = opaque;
	return 0;
}

MQDEV_EXPORT int mqdev_producer_cancel(struct mqdev_producer *p, uint64_t id)
{
	struct mqdev_sched_cancel req = { .id = id };

	return mqdev_ioctl(p->fd, MQDEV_IOC_SCHED_CANCEL, &req);
}

MQDEV_EXPORT int mqdev_scheduled_list(const char *topic,
				      struct mqdev_sched_list *req)
{
	struct mqdev_attach attach;
	int fd, err;

	fd = mqdev_attach_fd(topic, MQDEV_ATTACH_CONSUME, 0, &attach);
	if (fd < 0)
		return fd;
	err = mqdev_ioctl(fd, MQDEV_IOC_SCHED_LIST, req);
	close(fd);
	return err;
}

MQDEV_EXPORT int mqdev_producer_send(struct mqdev_producer *p,
				     const void *key, uint32_t key_len,
				     const void *value, uint32_t value_len,
				     uint32_t partition, void *opaque)
{
	return mqdev_producer_send_opts(p, key, key_len, value, value_len,
					partition, opaque, NULL);
}

int mqdev_session_flush(struct mqdev_session *s)
{
	struct mqdev_producer *p;
	int err;

	for (p = s->bound; p; p = p->session_next) {
		err = mqdev_producer_flush(p);
		if (err < 0)
			return err;
		if (p->count)
			return p->stopped;
	}
	return 0;
}

void mqdev_session_unbind(struct mqdev_session *s, struct mqdev_producer *p)
{
	struct mqdev_producer **link;

	for (link = &s->bound; *link; link = &(*link)->session_next) {
		if (*link != p)
			continue;
		*link = p->session_next;
		p->session = NULL;
		p->session_next = NULL;
		return;
	}
}
