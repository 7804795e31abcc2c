// SPDX-License-Identifier: GPL-2.0
/*
 * Consuming: where a handle reads each partition from.  MQDEV_IOC_SEEK
 * subscribes a handle to partitions and places its positions (and, with
 * MQDEV_SEEK_HOLD, makes them holders: see ring.c); MQDEV_IOC_WAKEUP is a
 * holding reader's word that it moved on.  A group member reads where its
 * group says (group.c); waiting is wait.c's, reading in place the
 * library's, and read(2) the device's (dev.c).
 */

#include <linux/bitmap.h>
#include "mqdev.h"

static int seek_one(struct mqdev_handle *h, struct mqdev_topic *topic,
		    u32 part, const struct mqdev_seek *req, u64 *offset)
{
	int err;

	*offset = req->offset;
	err = mqdev_ring_seek(&topic->parts[part], req->whence, offset,
			      handle_pos(h, part), &h->holds[part],
			      req->flags & MQDEV_SEEK_HOLD, handle_replica(h));
	if (!err)
		set_bit(part, h->subscribed);
	return err;
}

/**
 * mqdev_seek() - MQDEV_IOC_SEEK: read a partition (or all) from a place
 * @ioc: the ioctl, on a handle attached to consume
 * @req: the request; where it landed goes back
 *
 * For every partition, one that fails leaves those before it placed.
 *
 * Return: 0; -EINVAL for a bad request (unknown whence or flags, reserved
 * set, no such partition, or MQDEV_SEEK_OFFSET for every partition);
 * -EACCES for MQDEV_SEEK_HOLD on a block topic without write permission;
 * -EBUSY for a group member; or, as mqdev_ring_seek(), -EINTR or -ERANGE.
 */
long mqdev_seek(struct mqdev_ioc *ioc, struct mqdev_seek *req)
{
	struct mqdev_topic *topic = ioc->topic;
	struct mqdev_handle *h = ioc->h;
	u64 offset = 0;
	u32 i;
	int err;

	if (req->whence > MQDEV_SEEK_TIMESTAMP ||
	    (req->flags & ~MQDEV_SEEK_FLAGS) ||
	    req->reserved)
		return -EINVAL;
	/* Offsets belong to one partition; times do not. */
	if (req->partition == MQDEV_PARTITION_ALL ?
	    req->whence == MQDEV_SEEK_OFFSET : req->partition >= topic->nr_parts)
		return -EINVAL;

	/* Holding a block topic's records stops its producers: a writer's say. */
	if ((req->flags & MQDEV_SEEK_HOLD) &&
	    !(topic->flags & MQDEV_TOPIC_OVERWRITE)) {
		err = mqdev_permits(NULL, topic, NULL, MQDEV_ACT_HOLD);
		if (err)
			return err;
	}

	mutex_lock(&h->lock);
	/* A member reads where its group says, a share member where it is given. */
	if (h->member || h->share)
		err = -EBUSY;
	else if (req->partition != MQDEV_PARTITION_ALL)
		err = seek_one(h, topic, req->partition, req, &offset);
	else
		for (i = 0; i < topic->nr_parts && !err; i++)
			err = seek_one(h, topic, i, req, &offset);
	mutex_unlock(&h->lock);
	if (err)
		return err;

	req->offset = offset;
	return 0;
}

/**
 * mqdev_wakeup() - MQDEV_IOC_WAKEUP: a holding reader moved on
 * @ioc: the ioctl, on a handle attached to consume
 * @req: the partition, or all
 *
 * Return: 0, or -EINVAL for reserved set or no such partition.
 */
long mqdev_wakeup(struct mqdev_ioc *ioc, struct mqdev_wakeup *req)
{
	struct mqdev_topic *topic = ioc->topic;
	u32 i;

	if (req->reserved || (req->partition != MQDEV_PARTITION_ALL &&
			      req->partition >= topic->nr_parts))
		return -EINVAL;

	for (i = 0; i < topic->nr_parts; i++)
		if (req->partition == MQDEV_PARTITION_ALL || req->partition == i)
			mqdev_ring_moved(&topic->parts[i]);
	return 0;
}
