// SPDX-License-Identifier: GPL-2.0
/*
 * The payload every peer carries: a template stamped with the message's
 * number and a checksum in its last 8 bytes, which every consumer checks by
 * reading every byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "mqbench.h"

static uint64_t sum_words(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t sum = 0, w;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		sum = (sum ^ w) * 0x100000001b3ULL;
	}
	return sum;
}

/* Message @seq: a template stamped with its number, and the checksum. */
void fill(void *msg, size_t size, uint64_t seq, const void *tmpl)
{
	uint64_t sum;

	memcpy(msg, tmpl, size - 8);
	memcpy(msg, &seq, 8);
	sum = sum_words(msg, size - 8);
	memcpy((char *)msg + size - 8, &sum, 8);
}

int check(const void *msg, size_t size)
{
	uint64_t sum;

	memcpy(&sum, (const char *)msg + size - 8, 8);
	return sum == sum_words(msg, size - 8) ? 0 : -1;
}

void *template_of(size_t size)
{
	unsigned char *t = malloc(size);
	size_t i;

	for (i = 0; i < size; i++)
		t[i] = (unsigned char)(i * 131 + 7);
	return t;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void fail(const char *what)
{
	perror(what);
	exit(2);
}

int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Let @starts children waiting on @go_fd start at once, then take the
 * times (now_ns()) at which @finishers of them report on @done_fd that they
 * are done: from the go to the last, in ns, or -1 if any of @pids failed.
 * One clock for all: a child that reads its go late is not timed from
 * then.  @hold_fd (or -1) is closed once every finisher has reported, for
 * children that wait for that before they clean up.  Only @pids are
 * reaped: the Redis server is a child too.
 */
int64_t run_children(int go_fd, int done_fd, int starts, int finishers,
		     int hold_fd, const pid_t *pids, int nr_pids)
{
	uint64_t t, t0 = now_ns(), slowest = t0;
	int i, status, ok = 1;

	for (i = 0; i < starts; i++)
		if (write(go_fd, "g", 1) != 1)
			fail("write");
	for (i = 0; i < finishers && ok; i++) {
		ok = read(done_fd, &t, sizeof(t)) == sizeof(t);
		if (ok && t > slowest)
			slowest = t;
	}
	if (hold_fd >= 0)
		close(hold_fd);
	for (i = 0; i < nr_pids; i++)
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			ok = 0;
	return ok ? (int64_t)(slowest - t0) : -1;
}
