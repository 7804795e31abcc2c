/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A call made in a thread of its own, so that a test can time it: whether
 * it returned, or does within so many milliseconds, without waiting for it
 * longer than that.  For tests of what blocks and what wakes.
 */
#ifndef _MQDEV_SELFTEST_CALL_H
#define _MQDEV_SELFTEST_CALL_H

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct call {
	pthread_t thread;
	long (*fn)(void *arg);
	void *arg;
	long ret;
	int efd;		/* readable once fn returned */
	bool running;
};

static inline void *call_run(void *p)
{
	struct call *c = p;
	uint64_t one = 1;

	c->ret = c->fn(c->arg);
	if (write(c->efd, &one, sizeof(one)) != sizeof(one))
		abort();
	return NULL;
}

static inline int call_start(struct call *c, long (*fn)(void *), void *arg)
{
	int err;

	memset(c, 0, sizeof(*c));
	c->fn = fn;
	c->arg = arg;
	c->efd = eventfd(0, EFD_CLOEXEC);
	if (c->efd < 0)
		return -errno;
	err = pthread_create(&c->thread, NULL, call_run, c);
	if (err) {
		close(c->efd);
		return -err;
	}
	c->running = true;
	return 0;
}

/* Has the call returned, or does it within @ms? */
static inline bool call_done(struct call *c, int ms)
{
	struct pollfd pfd = { .fd = c->efd, .events = POLLIN };

	return poll(&pfd, 1, ms) == 1;
}

#endif /* _MQDEV_SELFTEST_CALL_H */
