/* SPDX-License-Identifier: GPL-2.0 */
/*
 * How the daemons (mqdev-persistd, mqdev-mirror, mqdev-exporter) take
 * their signals: SIGINT and SIGTERM through a descriptor their event loop
 * polls, so a stop is one more event and never interrupts a write half
 * done; SIGPIPE ignored, so a peer that went away is an EPIPE to handle.
 */
#ifndef MQDEV_TOOLS_SIG_H
#define MQDEV_TOOLS_SIG_H

#include <errno.h>
#include <signal.h>
#include <sys/signalfd.h>

/**
 * stop_signal_fd() - block SIGINT and SIGTERM and open a signalfd for them
 *
 * Return: a non-blocking, close-on-exec signalfd, or -errno.
 */
static inline int stop_signal_fd(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

#endif /* MQDEV_TOOLS_SIG_H */
