// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * Share groups: a member acquires records of any partition, each under a
 * lock that expires, and accepts, releases or rejects them by offset range
 * (Documentation/mqdev.rst, "Share groups").  The records are read in place
 * in the partitions' read-only ring mappings, mapped as first needed; the
 * kernel says where each one is, and its header is checked to be the
 * record acquired (a group that does not hold its topic may be lapped).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "internal.h"

struct mqdev_share {
	int			fd;
	struct mqdev_attach	attach;
	struct mqdev_share_join	join;
	struct mqdev_share_dlq	dlq;
	char			**rings;	/* per partition, or NULL */
};

/* The dead-letter settings of @opts, checked by the kernel. */
static int share_dlq_set(struct mqdev_share_dlq *dlq,
			 const struct mqdev_share_opts *opts)
{
	const char *topic = OPTS_GET(opts, dlq_topic, NULL);
	const uint32_t *backoff = OPTS_GET(opts, backoff_ms, NULL);
	uint32_t n = OPTS_GET(opts, nr_backoff, 0);
	int err;

	dlq->size = sizeof(*dlq);
	if (topic) {
		err = mqdev_name_set(dlq->topic, topic);
		if (err)
			return err;
	}
	if (n > MQDEV_SHARE_BACKOFF_LEVELS || (n && !backoff))
		return -EINVAL;
	dlq->flags = OPTS_GET(opts, dlq_flags, 0);
	dlq->nr_backoff = n;
	if (n)
		memcpy(dlq->backoff_ms, backoff, n * sizeof(*backoff));
	return 0;
}

MQDEV_EXPORT int mqdev_share_new(const char *topic, const char *group,
				 const struct mqdev_share_opts *opts,
				 struct mqdev_share **share)
{
	struct mqdev_share *s;
	int err;

	if (!OPTS_VALID(opts, mqdev_share_opts))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = -1;
	err = mqdev_name_set(s->join.group, group);
	if (err)
		goto err_free;
	s->join.reset = OPTS_GET(opts, reset, MQDEV_SEEK_EARLIEST);
	s->join.lock_ms = OPTS_GET(opts, lock_ms, 0);
	s->join.max_deliveries = OPTS_GET(opts, max_deliveries, 0);
	err = share_dlq_set(&s->dlq, opts);
	if (err)
		goto err_free;
	/* None asked for: a later member joins with the group's. */
	if (s->dlq.topic[0] || s->dlq.nr_backoff || s->dlq.flags)
		s->join.dlq = (uintptr_t)&s->dlq;
	/*
	 * Not O_NONBLOCK: mqdev_share_acquire_wait() sleeps in the kernel.
	 * An acquire without a time-out never waits, whatever the flag.
	 */
	s->fd = mqdev_attach_fd(topic, MQDEV_ATTACH_CONSUME, 0, &s->attach);
	if (s->fd < 0) {
		err = s->fd;
		goto err_free;
	}
	s->rings = calloc(s->attach.partitions, sizeof(*s->rings));
	if (!s->rings) {
		err = -ENOMEM;
		goto err_free;
	}
	err = mqdev_ioctl(s->fd, MQDEV_IOC_SHARE_JOIN, &s->join);
	if (err)
		goto err_free;
	*share = s;
	return 0;

err_free:
	mqdev_share_free(s);
	return err;
}

MQDEV_EXPORT void mqdev_share_free(struct mqdev_share *s)
{
	uint32_t p;

	if (!s)
		return;
	for (p = 0; s->rings && p < s->attach.partitions; p++)
		if (s->rings[p])
			munmap(s->rings[p], s->attach.off.ring_size);
	free(s->rings);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

MQDEV_EXPORT int mqdev_share_fd(const struct mqdev_share *s)
{
	return s->fd;
}

MQDEV_EXPORT uint32_t mqdev_share_member_id(const struct mqdev_share *s)
{
	return s->join.member_id;
}

static const char *share_ring(struct mqdev_share *s, uint32_t p)
{
	const struct mqdev_ring_offsets *off = &s->attach.off;
	void *ring;

	if (p >= s->attach.partitions)
		return NULL;
	if (!s->rings[p]) {
		ring = mmap(NULL, off->ring_size, PROT_READ, MAP_SHARED,
			    s->fd, off->ring_mmap + p * off->part_stride);
		if (ring == MAP_FAILED)
			return NULL;
		s->rings[p] = ring;
	}
	return s->rings[p] + off->data;
}

/* The record the kernel says is at @r, if it still is. */
static const struct mqdev_record *share_record(struct mqdev_share *s,
					       const struct mqdev_share_record *r)
{
	const char *data = share_ring(s, r->partition);
	const struct mqdev_record *rec;

	if (!data)
		return NULL;
	rec = (const void *)(data + (r->pos & (s->attach.off.data_size - 1)));
	if (__atomic_load_n(shared_ro(&rec->offset),
			    __ATOMIC_ACQUIRE) != r->offset ||
	    rec->len != r->len)
		return NULL;
	return rec;
}

/* Acquire, waiting up to @timeout_ns (MQDEV_WAIT_FOREVER, 0) for one. */
static int share_acquire(struct mqdev_share *s, uint32_t partition,
			 struct mqdev_delivery *out, uint32_t max,
			 uint64_t timeout_ns)
{
	struct mqdev_share_record recs[64];
	struct mqdev_share_acquire req = {
		.records = (uintptr_t)recs,
		.record_size = sizeof(recs[0]),
		.partition = partition,
		.timeout_ns = timeout_ns,
	};
	uint32_t i;
	int err;

	if (!out || !max)
		return -EINVAL;
	req.count = max < 64 ? max : 64;
	err = mqdev_ioctl(s->fd, MQDEV_IOC_SHARE_ACQUIRE, &req);
	if (err)
		return err;
	for (i = 0; i < req.count; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].rec = share_record(s, &recs[i]);
		out[i].offset = recs[i].offset;
		out[i].lock_until_ns = recs[i].lock_until;
		out[i].partition = recs[i].partition;
		out[i].delivery_count = recs[i].delivery_count;
	}
	return req.count;
}

MQDEV_EXPORT int mqdev_share_acquire(struct mqdev_share *s, uint32_t partition,
				     struct mqdev_delivery *out, uint32_t max)
{
	return share_acquire(s, partition, out, max, 0);
}

MQDEV_EXPORT int mqdev_share_acquire_wait(struct mqdev_share *s,
					  uint32_t partition,
					  struct mqdev_delivery *out,
					  uint32_t max, int timeout_ms)
{
	if (timeout_ms < -1)
		return -EINVAL;
	/* 0 asks the kernel not to wait at all: the same as acquire. */
	return share_acquire(s, partition, out, max, timeout_ms < 0 ?
			     MQDEV_WAIT_FOREVER :
			     (uint64_t)timeout_ms * 1000000);
}

/* Every record read is where it was still: it was read whole. */
static bool share_still_read(const struct mqdev_delivery *d, uint32_t n)
{
	uint32_t i;

	/* The reads of the records come before the offsets' second look. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	for (i = 0; i < n; i++)
		if (!d[i].rec ||
		    __atomic_load_n(shared_ro(&d[i].rec->offset),
				    __ATOMIC_RELAXED) != d[i].offset)
			return false;
	return true;
}

MQDEV_EXPORT int mqdev_share_ack(struct mqdev_share *s, uint32_t partition,
				 uint64_t first, uint64_t last, uint32_t type,
				 const struct mqdev_share_ack_opts *opts)
{
	struct mqdev_share_ack req = {
		.first = first,
		.last = last,
		.partition = partition,
		.type = type,
	};

	if (!OPTS_VALID(opts, mqdev_share_ack_opts))
		return -EINVAL;
	req.backoff_ms = OPTS_GET(opts, backoff_ms, 0);
	req.flags = OPTS_GET(opts, flags, 0);
	if (type == MQDEV_SHARE_ACCEPT &&
	    !share_still_read(OPTS_GET(opts, read, NULL),
			      OPTS_GET(opts, nr_read, 0)))
		return -ENODATA;
	return mqdev_ioctl(s->fd, MQDEV_IOC_SHARE_ACK, &req);
}

/* A report on @group: @info (@size bytes) starts with the group's name. */
static int share_report(int fd, unsigned long cmd, const char *group,
			void *info, size_t size, const uint32_t *partition)
{
	int err;

	memset(info, 0, size);
	err = mqdev_name_set(info, group);
	if (err)
		return err;
	if (partition)
		((struct mqdev_share_info *)info)->partition = *partition;
	return mqdev_ioctl(fd, cmd, info);
}

MQDEV_EXPORT int mqdev_share_describe(int fd, const char *group,
				      uint32_t partition,
				      struct mqdev_share_info *info)
{
	return share_report(fd, MQDEV_IOC_SHARE_DESCRIBE, group, info,
			    sizeof(*info), &partition);
}

MQDEV_EXPORT int mqdev_share_dlq_info(int fd, const char *group,
				      struct mqdev_share_dlq_info *info)
{
	return share_report(fd, MQDEV_IOC_SHARE_DLQ_INFO, group, info,
			    sizeof(*info), NULL);
}
