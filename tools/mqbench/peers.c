// SPDX-License-Identifier: GPL-2.0
/*
 * The peers for one producer to one consumer, each used the way its own
 * users would use it at its fastest.
 */
#include <fcntl.h>
#include <mqueue.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include "mqbench.h"

/* memcpy: the copy itself, no second process: an upper bound. */
static int memcpy_produce(struct bench *b, void *ctx)
{
	return 0;
}

static int memcpy_consume(struct bench *b, void *ctx)
{
	void *tmpl = template_of(b->size);
	char *src = malloc(b->size), *dst = malloc(b->size);
	uint64_t i, ok = 0;

	for (i = 0; i < b->count; i++) {
		fill(src, b->size, i, tmpl);
		memcpy(dst, src, b->size);
		ok += check(dst, b->size) == 0;
	}
	free(src);
	free(dst);
	free(tmpl);
	return ok == b->count ? 0 : -1;
}

/* A pipe, written and read in batches of whole messages. */
struct pipe_ctx {
	int fd[2];
};

static int pipe_setup(struct bench *b, void **ctx)
{
	struct pipe_ctx *p = calloc(1, sizeof(*p));

	*ctx = p;
	if (pipe(p->fd))
		return -1;
	fcntl(p->fd[1], F_SETPIPE_SZ, 1 << 20);
	return 0;
}

static int full_io(int fd, void *buf, size_t len, bool out)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = out ? write(fd, (char *)buf + done, len - done) :
			  read(fd, (char *)buf + done, len - done);
		if (n <= 0)
			return -1;
		done += n;
	}
	return 0;
}

static int pipe_produce(struct bench *b, void *ctx)
{
	struct pipe_ctx *p = ctx;
	char *buf = malloc(b->size * BATCH);
	void *tmpl = template_of(b->size);
	uint64_t i = 0, n, j;

	close(p->fd[0]);
	while (i < b->count) {
		n = b->count - i < BATCH ? b->count - i : BATCH;
		for (j = 0; j < n; j++)
			fill(buf + j * b->size, b->size, i + j, tmpl);
		if (full_io(p->fd[1], buf, n * b->size, true))
			return -1;
		i += n;
	}
	return 0;
}

static int pipe_consume(struct bench *b, void *ctx)
{
	struct pipe_ctx *p = ctx;
	char *buf = malloc(b->size * BATCH);
	uint64_t i = 0, n, j, ok = 0;

	close(p->fd[1]);
	while (i < b->count) {
		n = b->count - i < BATCH ? b->count - i : BATCH;
		if (full_io(p->fd[0], buf, n * b->size, false))
			return -1;
		for (j = 0; j < n; j++)
			ok += check(buf + j * b->size, b->size) == 0;
		i += n;
	}
	return ok == b->count ? 0 : -1;
}

static void pipe_teardown(void *ctx)
{
	struct pipe_ctx *p = ctx;

	close(p->fd[0]);
	close(p->fd[1]);
	free(p);
}

/* AF_UNIX SOCK_SEQPACKET with sendmmsg/recvmmsg batches. */
static int unix_setup(struct bench *b, void **ctx)
{
	struct pipe_ctx *p = calloc(1, sizeof(*p));
	int bufsize = 4 << 20;

	*ctx = p;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, p->fd))
		return -1;
	setsockopt(p->fd[0], SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
	setsockopt(p->fd[1], SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
	return 0;
}

static void mmsg_init(struct mmsghdr *m, struct iovec *iov, char *buf,
		      size_t size)
{
	int i;

	memset(m, 0, sizeof(*m) * BATCH);
	for (i = 0; i < BATCH; i++) {
		iov[i].iov_base = buf + i * size;
		iov[i].iov_len = size;
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
	}
}

static int unix_produce(struct bench *b, void *ctx)
{
	struct pipe_ctx *p = ctx;
	char *buf = malloc(b->size * BATCH);
	void *tmpl = template_of(b->size);
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	uint64_t i = 0, j;
	int n, sent;

	close(p->fd[0]);
	mmsg_init(m, iov, buf, b->size);
	while (i < b->count) {
		n = b->count - i < BATCH ? b->count - i : BATCH;
		for (j = 0; j < (uint64_t)n; j++)
			fill(buf + j * b->size, b->size, i + j, tmpl);
		for (sent = 0; sent < n;) {
			int r = sendmmsg(p->fd[1], m + sent, n - sent, 0);

			if (r <= 0)
				return -1;
			sent += r;
		}
		i += n;
	}
	return 0;
}

static int unix_consume(struct bench *b, void *ctx)
{
	struct pipe_ctx *p = ctx;
	char *buf = malloc(b->size * BATCH);
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	uint64_t i = 0, ok = 0;
	int n, j;

	close(p->fd[1]);
	mmsg_init(m, iov, buf, b->size);
	while (i < b->count) {
		n = recvmmsg(p->fd[0], m, BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0)
			return -1;
		for (j = 0; j < n; j++)
			ok += m[j].msg_len == b->size &&
			      check(buf + j * b->size, b->size) == 0;
		i += n;
	}
	return ok == b->count ? 0 : -1;
}

/* POSIX message queues: one message per call, as the API is. */
struct pmq_ctx {
	char name[32];
	mqd_t q;
};

static int pmq_setup(struct bench *b, void **ctx)
{
	struct pmq_ctx *p = calloc(1, sizeof(*p));
	struct mq_attr attr = { .mq_maxmsg = 10, .mq_msgsize = b->size };
	static unsigned int seq;
	FILE *f;
	long max = 10;

	*ctx = p;
	/* as deep a queue as the system allows */
	f = fopen("/proc/sys/fs/mqueue/msg_max", "r");
	if (f) {
		if (fscanf(f, "%ld", &max) != 1)
			max = 10;
		fclose(f);
	}
	attr.mq_maxmsg = max > 256 ? 256 : max;
	snprintf(p->name, sizeof(p->name), "/mqbench-%d-%u", getpid(), seq++);
	mq_unlink(p->name);
	p->q = mq_open(p->name, O_RDWR | O_CREAT, 0600, &attr);
	return p->q == (mqd_t)-1 ? -1 : 0;
}

static int pmq_produce(struct bench *b, void *ctx)
{
	struct pmq_ctx *p = ctx;
	char *buf = malloc(b->size);
	void *tmpl = template_of(b->size);
	uint64_t i;

	for (i = 0; i < b->count; i++) {
		fill(buf, b->size, i, tmpl);
		if (mq_send(p->q, buf, b->size, 0))
			return -1;
	}
	return 0;
}

static int pmq_consume(struct bench *b, void *ctx)
{
	struct pmq_ctx *p = ctx;
	char *buf = malloc(b->size);
	uint64_t i, ok = 0;

	for (i = 0; i < b->count; i++) {
		if (mq_receive(p->q, buf, b->size, NULL) != (ssize_t)b->size)
			return -1;
		ok += check(buf, b->size) == 0;
	}
	return ok == b->count ? 0 : -1;
}

static void pmq_teardown(void *ctx)
{
	struct pmq_ctx *p = ctx;

	mq_close(p->q);
	mq_unlink(p->name);
	free(p);
}

/*
 * A single-producer single-consumer ring in plain shared memory, written and
 * read in place, both sides spinning: the fastest a shared-memory design can
 * be, with no kernel at all.
 */
#define SHM_SLOTS	1024

struct shm_ring {
	size_t len;
	uint64_t head __attribute__((aligned(64)));
	uint64_t tail __attribute__((aligned(64)));
	char slots[] __attribute__((aligned(64)));
};

static int shm_setup(struct bench *b, void **ctx)
{
	size_t len = sizeof(struct shm_ring) + SHM_SLOTS * b->size;
	struct shm_ring *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return -1;
	m->len = len;
	*ctx = m;
	return 0;
}

static int shm_produce(struct bench *b, void *ctx)
{
	struct shm_ring *r = ctx;
	void *tmpl = template_of(b->size);
	uint64_t i;

	for (i = 0; i < b->count; i++) {
		while (i - __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) >=
		       SHM_SLOTS)
			__builtin_ia32_pause();
		fill(r->slots + (i % SHM_SLOTS) * b->size, b->size, i, tmpl);
		__atomic_store_n(&r->head, i + 1, __ATOMIC_RELEASE);
	}
	return 0;
}

static int shm_consume(struct bench *b, void *ctx)
{
	struct shm_ring *r = ctx;
	uint64_t i, ok = 0;

	for (i = 0; i < b->count; i++) {
		while (__atomic_load_n(&r->head, __ATOMIC_ACQUIRE) <= i)
			__builtin_ia32_pause();
		ok += check(r->slots + (i % SHM_SLOTS) * b->size, b->size) == 0;
		__atomic_store_n(&r->tail, i + 1, __ATOMIC_RELEASE);
	}
	return ok == b->count ? 0 : -1;
}

static void free_teardown(void *ctx)
{
	free(ctx);
}

static void shm_teardown(void *ctx)
{
	struct shm_ring *r = ctx;

	munmap(r, r->len);
}

/* A batch into the ring, then out of it, in one process: for -icount. */
int shm_cost(struct bench *b, double *produce_ns, double *consume_ns)
{
	struct shm_ring *r;
	struct bench each = *b;
	uint64_t i, tp = 0, tc = 0, t0;
	int err = 0;

	if (shm_setup(b, (void **)&r))
		return -1;
	each.count = BATCH;
	for (i = 0; i < b->count && !err; i += BATCH) {
		r->head = r->tail = 0;
		t0 = now_ns();
		shm_produce(&each, r);
		tp += now_ns() - t0;
		t0 = now_ns();
		err = shm_consume(&each, r);
		tc += now_ns() - t0;
	}
	shm_teardown(r);
	*produce_ns = (double)tp / i;
	*consume_ns = (double)tc / i;
	return err;
}

/*
 * The pipe's share of the same: a batch filled and written in one write(2),
 * then read in one read(2) and checked, in one process: for -icount, so
 * that the pipe's cost a message is counted, not reckoned from its parts.
 */
int pipe_cost(struct bench *b, double *produce_ns, double *consume_ns)
{
	size_t len = (size_t)b->size * BATCH;
	void *tmpl = template_of(b->size);
	char *buf = malloc(len), *in = malloc(len);
	uint64_t i, j, tp = 0, tc = 0, t0, ok = 0;
	struct pipe_ctx *p = NULL;
	int err = -1;

	*produce_ns = *consume_ns = 0;
	if (!buf || !in || !tmpl)
		goto out;
	if (pipe_setup(b, (void **)&p)) {
		free(p);	/* no pipe to close */
		p = NULL;
		goto out;
	}
	/* One thread writes a batch before it reads: it must fit. */
	if (fcntl(p->fd[1], F_GETPIPE_SZ) < (long)len)
		goto out;
	for (i = 0; i < b->count; i += BATCH) {
		t0 = now_ns();
		for (j = 0; j < BATCH; j++)
			fill(buf + j * b->size, b->size, i + j, tmpl);
		if (full_io(p->fd[1], buf, len, true))
			break;
		tp += now_ns() - t0;
		t0 = now_ns();
		/* Into a buffer of its own: the check is of what came out. */
		if (full_io(p->fd[0], in, len, false))
			break;
		for (j = 0; j < BATCH; j++)
			ok += check(in + j * b->size, b->size) == 0;
		tc += now_ns() - t0;
	}
	*produce_ns = i ? (double)tp / i : 0;
	*consume_ns = i ? (double)tc / i : 0;
	err = ok == b->count ? 0 : -1;
out:
	if (p)
		pipe_teardown(p);
	free(in);
	free(buf);
	free(tmpl);
	return err;
}

const struct peer peers[] = {
	{ "mqdev", mqdev_setup, mqdev_produce_all, mqdev_consume_all,
	  mqdev_teardown },
	{ "mqdev-msg", mqdev_setup, mqdev_produce_msgs, mqdev_consume_all,
	  mqdev_teardown },
	{ "mqdev-swriter", mqdev_sw_setup, mqdev_sw_produce, mqdev_consume_all,
	  mqdev_teardown },
	{ "posix-mq", pmq_setup, pmq_produce, pmq_consume, pmq_teardown },
	{ "unix-mmsg", unix_setup, unix_produce, unix_consume, pipe_teardown },
	{ "pipe", pipe_setup, pipe_produce, pipe_consume, pipe_teardown },
	{ "redis", redis_setup, redis_produce, redis_consume, redis_teardown },
	{ "shm-ring", shm_setup, shm_produce, shm_consume, shm_teardown },
	{ "memcpy", NULL, memcpy_produce, memcpy_consume, free_teardown },
};

const unsigned int nr_peers = sizeof(peers) / sizeof(peers[0]);
