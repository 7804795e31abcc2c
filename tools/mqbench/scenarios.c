// SPDX-License-Identifier: GPL-2.0
/*
 * The scenarios beyond one producer and one consumer: several pairs at
 * once, draining a backlog, memory per queued message, and single-process
 * cost per message for the -icount mode.
 */
#include <fcntl.h>
#include <mqueue.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "libmqdev.h"
#include "mqbench.h"

/*
 * @k producer-consumer pairs of @p at once, each moving count / k messages:
 * the time from the go until the last consumer is done, in ns.
 */
int64_t run_parallel(const struct peer *p, struct bench *b, int k)
{
	struct bench each = { .size = b->size, .count = b->count / k };
	int go[2], done[2], i, ok, nr_pids = 0;
	uint64_t t1;
	int64_t ns;
	pid_t pids[32];
	void *ctx[16];
	char c;

	if (k > 16)
		return -1;
	for (i = 0; i < k; i++) {
		if (p->setup && p->setup(&each, &ctx[i])) {
			while (p->teardown && i--)	/* those made before */
				p->teardown(ctx[i]);
			return -1;
		}
	}
	if (pipe(go) || pipe(done))
		fail("pipe");
	for (i = 0; i < 2 * k; i++) {
		pids[nr_pids] = fork();
		if (pids[nr_pids++])
			continue;
		if (read(go[0], &c, 1) != 1)
			_exit(3);
		if (i >= k)
			_exit(p->produce(&each, ctx[i - k]) ? 1 : 0);
		ok = p->consume(&each, ctx[i]);
		t1 = now_ns();		/* run_children() times from the go */
		if (write(done[1], &t1, sizeof(t1)) != sizeof(t1))
			_exit(3);
		_exit(ok ? 1 : 0);
	}
	ns = run_children(go[1], done[0], 2 * k, k, -1, pids, nr_pids);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
	for (i = 0; i < k; i++)
		if (p->teardown)
			p->teardown(ctx[i]);
	return ns;
}

/*
 * The producer sends everything first; then the consumer drains the
 * backlog: its time, in ns.
 */
int64_t run_backlog(const struct peer *p, struct bench *b)
{
	int status, ok;
	uint64_t t0, t1;
	void *ctx;
	pid_t pid;

	if (p->setup(b, &ctx))
		return -1;
	pid = fork();
	if (!pid)
		_exit(p->produce(b, ctx) ? 1 : 0);
	waitpid(pid, &status, 0);
	ok = WIFEXITED(status) && !WEXITSTATUS(status);
	t0 = now_ns();
	ok = ok && p->consume(b, ctx) == 0;
	t1 = now_ns() - t0;
	p->teardown(ctx);
	return ok ? (int64_t)t1 : -1;
}

/* ---- memory per queued message -------------------------------------------- */

static long meminfo_kb(const char *field)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			kb = strtol(line + strlen(field), NULL, 10);
	fclose(f);
	return kb;
}

/*
 * POSIX queues keep each message in its own slab object: the growth of
 * the kernel's slab memory while @n messages sit in a queue.
 */
double pmq_bytes_per_msg(size_t size, long n)
{
	struct mq_attr attr = { .mq_maxmsg = n, .mq_msgsize = size };
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	char *buf = calloc(1, size), name[32];
	long before, after, i;
	mqd_t q;

	setrlimit(RLIMIT_MSGQUEUE, &unlimited);
	snprintf(name, sizeof(name), "/mqbench-mem-%d", getpid());
	mq_unlink(name);
	q = mq_open(name, O_RDWR | O_CREAT | O_NONBLOCK, 0600, &attr);
	if (q == (mqd_t)-1 || !buf)
		return -1;
	before = meminfo_kb("Slab:");
	for (i = 0; i < n; i++)
		if (mq_send(q, buf, size, 0))
			break;
	after = meminfo_kb("Slab:");
	mq_close(q);
	mq_unlink(name);
	free(buf);
	return i == n ? (after - before) * 1024.0 / n : -1;
}

/* Raise the POSIX queue depth limit, so that its peer runs at its fastest. */
long pmq_raise_limits(long depth)
{
	FILE *f = fopen("/proc/sys/fs/mqueue/msg_max", "w");
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };

	setrlimit(RLIMIT_MSGQUEUE, &unlimited);
	if (!f)
		return -1;
	fprintf(f, "%ld\n", depth);
	return fclose(f) ? -1 : depth;
}

/* ---- single-process cost per message (for -icount) -------------------------- */

/* A batch of POSIX sends, then as many receives: 0, or -1 on an error. */
static int pmq_cost_batch(mqd_t q, const struct bench *b, uint64_t first,
			  char *buf, char *in, const void *tmpl,
			  uint64_t *tp, uint64_t *tc, uint64_t *ok)
{
	uint64_t t0 = now_ns(), j;

	for (j = 0; j < BATCH; j++) {
		fill(buf, b->size, first + j, tmpl);
		if (mq_send(q, buf, b->size, 0))
			return -1;
	}
	*tp += now_ns() - t0;
	t0 = now_ns();
	for (j = 0; j < BATCH; j++) {
		/* into a buffer of its own: the check is of what came */
		if (mq_receive(q, in, b->size, NULL) != (ssize_t)b->size)
			return -1;
		*ok += check(in, b->size) == 0;
	}
	*tc += now_ns() - t0;
	return 0;
}

/* POSIX queues: a batch sent, then received, in one process. */
int pmq_cost(struct bench *b, double *produce_ns, double *consume_ns)
{
	struct mq_attr attr = { .mq_maxmsg = BATCH, .mq_msgsize = b->size };
	void *tmpl = template_of(b->size);
	char *buf = malloc(b->size), *in = malloc(b->size), name[32];
	uint64_t i = 0, tp = 0, tc = 0, ok = 0;
	int err = -1;
	mqd_t q;

	*produce_ns = *consume_ns = 0;
	snprintf(name, sizeof(name), "/mqbench-cost-%d", getpid());
	mq_unlink(name);
	q = mq_open(name, O_RDWR | O_CREAT, 0600, &attr);
	if (q == (mqd_t)-1 || !tmpl || !buf || !in)
		goto out;
	for (err = 0; i < b->count && !err; i += BATCH)
		err = pmq_cost_batch(q, b, i, buf, in, tmpl, &tp, &tc, &ok);
	if (!err) {
		*produce_ns = (double)tp / i;
		*consume_ns = (double)tc / i;
		err = ok == i ? 0 : -1;
	}
out:
	if (q != (mqd_t)-1) {
		mq_close(q);
		mq_unlink(name);
	}
	free(in);
	free(buf);
	free(tmpl);
	return err;
}
