/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
#ifndef _MQDEV_INTERNAL_H
#define _MQDEV_INTERNAL_H

#include <errno.h>
#include <sys/ioctl.h>
#include "libmqdev.h"

#define MQDEV_EXPORT __attribute__((visibility("default")))

/* ioctl() as the library reports it: a result, or -errno. */
static inline int mqdev_ioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

/* Open /dev/mq and attach to @topic; returns the descriptor or -errno. */
int mqdev_attach_fd(const char *topic, uint32_t mode, int oflags,
		    struct mqdev_attach *attach);

/*
 * A producer session, and the producers bound to it: a commit flushes them
 * first, so that everything sent before it is in the transaction.
 */
struct mqdev_session {
	int				fd;
	struct mqdev_producer_init	init;
	struct mqdev_producer		*bound;		/* list, by ->session_next */
	uint64_t			txn_id;
	bool				in_txn;
	int				txn_error;	/* a message refused in it */

	/* group offsets sent with the open transaction */
	struct mqdev_consumer		*offsets_consumer;
	struct mqdev_group_commit	*offsets;
	uint32_t			nr_offsets;
};

/* Flush every producer bound to @s; the first error, or 0. */
int mqdev_session_flush(struct mqdev_session *s);
/* @p is being freed: @s forgets it. */
void mqdev_session_unbind(struct mqdev_session *s, struct mqdev_producer *p);

/*
 * A group member's released-but-uncommitted positions, one entry per owned
 * partition that moved, into @commits (room for every partition); how many.
 */
uint32_t mqdev_consumer_uncommitted(const struct mqdev_consumer *c,
				    struct mqdev_group_commit *commits);
/* They were committed (by a transaction). */
void mqdev_consumer_committed(struct mqdev_consumer *c,
			      const struct mqdev_group_commit *commits,
			      uint32_t count);

#endif /* _MQDEV_INTERNAL_H */
