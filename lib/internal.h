/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
#ifndef _MQDEV_INTERNAL_H
#define _MQDEV_INTERNAL_H

#include <errno.h>
#include <sys/ioctl.h>
#include "mqdev.h"

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

#endif /* _MQDEV_INTERNAL_H */
