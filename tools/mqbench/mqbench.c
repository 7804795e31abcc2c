// SPDX-License-Identifier: GPL-2.0
/*
 * mqbench: /dev/mq against the IPC a user already has, in one run.
 *
 * One producer process sends N messages of S bytes to one consumer process.
 * Every producer writes a checksum of the payload into the message's last 8
 * bytes and every consumer reads every byte and checks it, so reading in
 * place is compared fairly with copying.  Each peer is used the way its own
 * users would use it at its fastest.  Results: messages and bytes per second,
 * the median of the repetitions with their spread.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mqdev.h"

#define BATCH		64
#define MAX_SIZE	(64 * 1024)

struct bench {
	size_t		size;		/* message bytes, checksum included */
	uint64_t	count;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void fail(const char *what)
{
	perror(what);
	exit(2);
}

/* ---- the payload ---------------------------------------------------------- */

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
static void fill(void *msg, size_t size, uint64_t seq, const void *tmpl)
{
	uint64_t sum;

	memcpy(msg, tmpl, size - 8);
	memcpy(msg, &seq, 8);
	sum = sum_words(msg, size - 8);
	memcpy((char *)msg + size - 8, &sum, 8);
}

static int check(const void *msg, size_t size)
{
	uint64_t sum;

	memcpy(&sum, (const char *)msg + size - 8, 8);
	return sum == sum_words(msg, size - 8) ? 0 : -1;
}

static void *template_of(size_t size)
{
	unsigned char *t = malloc(size);
	size_t i;

	for (i = 0; i < size; i++)
		t[i] = (unsigned char)(i * 131 + 7);
	return t;
}

/* ---- peers ---------------------------------------------------------------- */

struct peer {
	const char *name;
	int (*setup)(struct bench *b, void **ctx);
	int (*produce)(struct bench *b, void *ctx);
	int (*consume)(struct bench *b, void *ctx);	/* checked count or -1 */
	void (*teardown)(void *ctx);
};

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
	snprintf(p->name, sizeof(p->name), "/mqbench-%d", getpid());
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

/* /dev/mq: batches appended with one ioctl, read in place through mmap. */
struct mqdev_ctx {
	char topic[MQDEV_NAME_MAX + 1];
	int group;		/* consume as a member of group "gN", or -1 */
};

static int mqdev_setup(struct bench *b, void **ctx)
{
	struct mqdev_ctx *m = calloc(1, sizeof(*m));
	struct mqdev_topic_config cfg = {
		.partitions = 1, .capacity = 8 << 20,
	};
	int fd = mqdev_open(), err;

	*ctx = m;
	if (fd < 0)
		return -1;
	m->group = -1;
	snprintf(m->topic, sizeof(m->topic), "mqbench-%d", getpid());
	mqdev_topic_delete(fd, m->topic);
	err = mqdev_topic_create(fd, m->topic, &cfg);
	close(fd);
	return err ? -1 : 0;
}

static int mqdev_produce_all(struct bench *b, void *ctx)
{
	struct mqdev_ctx *m = ctx;
	char *buf = malloc(b->size * BATCH);
	void *tmpl = template_of(b->size);
	struct mqdev_msg msgs[BATCH];
	struct mqdev_producer *p;
	uint64_t i = 0, j;
	int n, done;

	if (mqdev_producer_new(m->topic, 0, &p))
		return -1;
	while (i < b->count) {
		n = b->count - i < BATCH ? b->count - i : BATCH;
		for (j = 0; j < (uint64_t)n; j++) {
			fill(buf + j * b->size, b->size, i + j, tmpl);
			mqdev_msg_init(&msgs[j], NULL, 0, buf + j * b->size,
				       b->size, 0);
		}
		for (done = 0; done < n;) {
			int r = mqdev_produce(p, msgs + done, n - done);

			if (r < 0 && r != -EINTR)
				return -1;
			if (r > 0)
				done += r;
		}
		i += n;
	}
	mqdev_producer_free(p);
	return 0;
}

/* A standalone holding reader, or the one member of group "g<group>". */
static struct mqdev_consumer *mqdev_reader(const struct mqdev_ctx *m)
{
	struct mqdev_consumer *c;
	char group[16];
	int err;

	if (mqdev_consumer_new(m->topic, 0, &c))
		return NULL;
	if (m->group < 0) {
		err = mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0,
					  MQDEV_SEEK_HOLD, NULL);
	} else {
		snprintf(group, sizeof(group), "g%d", m->group);
		err = mqdev_consumer_join(c, group, MQDEV_SEEK_EARLIEST);
	}
	if (err) {
		mqdev_consumer_free(c);
		return NULL;
	}
	return c;
}

static int mqdev_consume_from(struct bench *b, struct mqdev_consumer *c)
{
	const struct mqdev_record *rec;
	uint64_t i = 0, ok = 0;

	if (getenv("MQBENCH_BUSY_POLL"))
		mqdev_consumer_set_busy_poll(c, atoi(getenv("MQBENCH_BUSY_POLL")));
	while (i < b->count) {
		if (mqdev_consumer_wait(c, 10000) <= 0)
			return -1;
		while ((rec = mqdev_consumer_peek(c))) {
			ok += mqdev_record_value_len(rec) == b->size &&
			      check(mqdev_record_value(rec), b->size) == 0;
			mqdev_consumer_release(c);
			i++;
		}
		/* a group's commit is what frees space under block */
		if (mqdev_consumer_generation(c) && mqdev_consumer_commit(c))
			return -1;
	}
	mqdev_consumer_free(c);
	return ok == b->count ? 0 : -1;
}

static int mqdev_consume_all(struct bench *b, void *ctx)
{
	struct mqdev_consumer *c = mqdev_reader(ctx);

	return c ? mqdev_consume_from(b, c) : -1;
}

static void mqdev_teardown(void *ctx)
{
	struct mqdev_ctx *m = ctx;
	int fd = mqdev_open();

	if (fd >= 0) {
		mqdev_topic_delete(fd, m->topic);
		close(fd);
	}
	free(m);
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

static const struct peer peers[] = {
	{ "mqdev", mqdev_setup, mqdev_produce_all, mqdev_consume_all,
	  mqdev_teardown },
	{ "posix-mq", pmq_setup, pmq_produce, pmq_consume, pmq_teardown },
	{ "unix-mmsg", unix_setup, unix_produce, unix_consume, pipe_teardown },
	{ "pipe", pipe_setup, pipe_produce, pipe_consume, pipe_teardown },
	{ "shm-ring", shm_setup, shm_produce, shm_consume, shm_teardown },
	{ "memcpy", NULL, memcpy_produce, memcpy_consume, free_teardown },
};

/* One run: the consumer's time from the go to its last message, in ns. */
static int64_t run_once(const struct peer *p, struct bench *b)
{
	int go[2], done[2], status, ok;
	void *ctx = NULL;
	pid_t prod, cons;
	uint64_t t0, t1;
	char c = 0;

	if (p->setup && p->setup(b, &ctx))
		return -1;
	if (pipe(go) || pipe(done))
		fail("pipe");
	cons = fork();
	if (!cons) {
		if (read(go[0], &c, 1) != 1)
			_exit(3);
		t0 = now_ns();
		ok = p->consume(b, ctx);
		t1 = now_ns() - t0;
		if (write(done[1], &t1, sizeof(t1)) != sizeof(t1))
			_exit(3);
		_exit(ok ? 1 : 0);
	}
	prod = fork();
	if (!prod) {
		if (read(go[0], &c, 1) != 1)
			_exit(3);
		_exit(p->produce(b, ctx) ? 1 : 0);
	}
	if (write(go[1], "gg", 2) != 2)
		fail("write");
	ok = read(done[0], &t1, sizeof(t1)) == sizeof(t1);
	waitpid(cons, &status, 0);
	ok = ok && WIFEXITED(status) && !WEXITSTATUS(status);
	waitpid(prod, &status, 0);
	ok = ok && WIFEXITED(status) && !WEXITSTATUS(status);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
	if (p->teardown)
		p->teardown(ctx);
	return ok ? (int64_t)t1 : -1;
}

/*
 * One producer, @groups consumer groups of one member each, every group
 * reading every record in place: the time from the go until the last group
 * has its last record, in ns.
 */
static int64_t run_fanout(struct bench *b, int groups)
{
	int go[2], done[2], ready[2], status, g, ok = 1;
	struct mqdev_consumer *c;
	struct mqdev_ctx *m;
	uint64_t t0, t1, slowest = 0;
	char ch = 0;
	pid_t pid;

	if (mqdev_setup(b, (void **)&m))
		return -1;
	if (pipe(go) || pipe(done) || pipe(ready))
		fail("pipe");
	for (g = 0; g < groups; g++) {
		if (fork())
			continue;
		m->group = g;
		c = mqdev_reader(m);
		/* joined before the producer starts: every group holds */
		if (write(ready[1], c ? "r" : "x", 1) != 1 || !c ||
		    read(go[0], &ch, 1) != 1)
			_exit(3);
		t0 = now_ns();
		ok = mqdev_consume_from(b, c);
		t1 = now_ns() - t0;
		if (write(done[1], &t1, sizeof(t1)) != sizeof(t1))
			_exit(3);
		_exit(ok ? 1 : 0);
	}
	for (g = 0; g < groups; g++)
		ok &= read(ready[0], &ch, 1) == 1 && ch == 'r';
	pid = fork();
	if (!pid) {
		if (read(go[0], &ch, 1) != 1)
			_exit(3);
		_exit(mqdev_produce_all(b, m) ? 1 : 0);
	}
	for (g = 0; g <= groups; g++)
		if (write(go[1], "g", 1) != 1)
			fail("write");
	for (g = 0; g < groups && ok; g++) {
		ok = read(done[0], &t1, sizeof(t1)) == sizeof(t1);
		if (t1 > slowest)
			slowest = t1;
	}
	while (wait(&status) > 0)
		ok = ok && WIFEXITED(status) && !WEXITSTATUS(status);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
	close(ready[0]);
	close(ready[1]);
	mqdev_teardown(m);
	return ok ? (int64_t)slowest : -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Aggregate deliveries per second to 1, 4 and 16 groups, at 64 B. */
static int fanout_table(uint64_t count, int reps, FILE *json)
{
	static const int groups[] = { 1, 4, 16 };
	struct bench b = { .size = 64, .count = count };
	double rate[16], med, one = 0;
	unsigned int i;
	int64_t ns;
	int r;

	printf("\nfan-out: 1 producer -> N consumer groups (one member each), "
	       "64 B, aggregate deliveries\n\n");
	printf("| groups | deliveries/s | vs 1 group | spread |\n");
	printf("|---:|---:|---:|---:|\n");
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		for (r = 0; r < reps; r++) {
			ns = run_fanout(&b, groups[i]);
			if (ns <= 0)
				break;
			rate[r] = (double)b.count * groups[i] * 1e9 / ns;
		}
		if (r < reps) {
			printf("| %d | FAILED | | |\n", groups[i]);
			return 1;
		}
		qsort(rate, reps, sizeof(rate[0]), cmp_double);
		med = rate[reps / 2];
		if (groups[i] == 1)
			one = med;
		printf("| %d | %.0f | %.2fx | %.0f-%.0f |\n", groups[i], med,
		       med / one, rate[0], rate[reps - 1]);
		fflush(stdout);
		if (json)
			fprintf(json, ",{\"scenario\":\"fanout\",\"groups\":%d,"
				"\"size\":64,\"msgs_per_s\":%.0f,\"min\":%.0f,"
				"\"max\":%.0f}", groups[i], med, rate[0],
				rate[reps - 1]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "reps", required_argument, NULL, 'r' },
		{ "json", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	static const size_t sizes[] = { 64, 1024, 16384 };
	uint64_t count = 200000;
	const char *json_path = NULL;
	double rate[16];
	FILE *json = NULL;
	int reps = 3, opt, r, first = 1, failed = 0;
	unsigned int s, i;
	char cpu[128] = "unknown";
	FILE *f;

	while ((opt = getopt_long(argc, argv, "n:r:j:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'n': count = strtoull(optarg, NULL, 0); break;
		case 'r': reps = atoi(optarg); break;
		case 'j': json_path = optarg; break;
		default:
			fprintf(stderr, "usage: mqbench [--count N] [--reps R] "
				"[--json FILE]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (reps < 1 || reps > 16 || !count)
		fail("bad --reps or --count");
	f = fopen("/proc/cpuinfo", "r");
	if (f) {
		char line[256];

		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "model name", 10)) {
				snprintf(cpu, sizeof(cpu), "%s",
					 strchr(line, ':') + 2);
				cpu[strcspn(cpu, "\n")] = '\0';
				break;
			}
		fclose(f);
	}
	if (json_path) {
		json = fopen(json_path, "w");
		if (!json)
			fail(json_path);
		fprintf(json, "{\"cpu\":\"%s\",\"count\":%" PRIu64 ",\"reps\":%d,"
			"\"results\":[", cpu, count, reps);
	}

	printf("1 producer -> 1 consumer, %" PRIu64 " messages, median of %d "
	       "(min-max); CPU: %s\n\n", count, reps, cpu);
	printf("| peer | size | msgs/s | MB/s | spread |\n");
	printf("|---|---:|---:|---:|---:|\n");
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		struct bench b = { .size = sizes[s], .count = count };

		if (sizes[s] >= 16384)
			b.count = count / 8 ? count / 8 : 1;
		for (i = 0; i < sizeof(peers) / sizeof(peers[0]); i++) {
			double med, mps;
			int64_t ns;

			for (r = 0; r < reps; r++) {
				ns = run_once(&peers[i], &b);
				if (ns <= 0)
					break;
				rate[r] = b.count * 1e9 / ns;
			}
			if (r < reps) {
				printf("| %s | %zu | FAILED | | |\n",
				       peers[i].name, b.size);
				failed++;
				continue;
			}
			qsort(rate, reps, sizeof(rate[0]), cmp_double);
			med = rate[reps / 2];
			mps = med * b.size / 1e6;
			printf("| %s | %zu | %.0f | %.1f | %.0f-%.0f |\n",
			       peers[i].name, b.size, med, mps, rate[0],
			       rate[reps - 1]);
			fflush(stdout);
			if (json)
				fprintf(json, "%s{\"peer\":\"%s\",\"size\":%zu,"
					"\"msgs_per_s\":%.0f,\"min\":%.0f,"
					"\"max\":%.0f}", first ? "" : ",",
					peers[i].name, b.size, med, rate[0],
					rate[reps - 1]);
			first = 0;
		}
	}
	failed += fanout_table(count, reps, json);
	if (json) {
		fputs("]}\n", json);
		fclose(json);
	}
	return failed ? 1 : 0;
}
