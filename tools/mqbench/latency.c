// SPDX-License-Identifier: GPL-2.0
/*
 * Ping-pong: one 64-byte message there and one back, a round trip at a
 * time, between two processes; the round trips' percentiles.  /dev/mq goes
 * both ways through two topics, sleeping in MQDEV_IOC_WAIT, or spinning
 * first (libmqdev's busy-poll) as a latency-critical consumer would; each
 * both through the ordinary produce path and through single-writer topics,
 * whose writer enters the kernel only to wake a sleeping reader, so that a
 * busy-polling pair makes no system call at all; and mqdev-send-wait, whose
 * send goes into the wait's system call (MQDEV_WAIT_SEND): one a side, as
 * for mqdev-swriter-send-wait, whose wait carries the writer's wake-up.
 */
#include <fcntl.h>
#include <sched.h>
#include <mqueue.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "libmqdev.h"
#include "mqbench.h"

#define PP_SIZE		64
/* posix-mq-*-send: steps of work a side (942 instructions at 6 a step, as
 * compiled now; 1,099 at 7 before: README, Benchmarks, "The take, cut") */
#define PP_AFTER_SEND_STEPS	157
#define BUSY_POLL_US	2000

/* Work added to POSIX's round trip (posix-mq-*-send): see pp_work(). */
enum pp_work {
	PP_WORK_NONE,
	PP_WORK_AFTER_SEND,	/* steps of a table walk, off the path */
	PP_WORK_BEFORE_SEND,	/* the same, on it */
	PP_CALLS_BEFORE_SEND,	/* as many calls of an empty function */
	PP_CLOCK_BEFORE_SEND,	/* one clock read */
};

struct pp_ctx {
	int fd[2][2];			/* pipes, or a socket pair in fd[0] */
	mqd_t q[2];
	char qname[2][32];
	char topic[2][MQDEV_NAME_MAX + 1];
	uint64_t *flag;			/* shm: [0] there, [8] back */
	unsigned int busy_usec;
	uint32_t topic_flags;		/* MQDEV_TOPIC_SINGLE_WRITER or 0 */
	bool send_wait;			/* the send in the wait's ioctl */
	enum pp_work work;		/* POSIX's with work: which */
};

/* One side's way to send one message on @dir and take one from the other. */
struct pp_ops {
	const char *name;
	int (*setup)(struct pp_ctx *p);
	int (*side)(struct pp_ctx *p, int me, uint64_t n, uint64_t *rtt);
	void (*teardown)(struct pp_ctx *p);
};

/* ---- pipes and sockets ---------------------------------------------------- */

static int pipe_pp_setup(struct pp_ctx *p)
{
	return pipe(p->fd[0]) || pipe(p->fd[1]) ? -1 : 0;
}

static int full(ssize_t r)
{
	return r == PP_SIZE ? 0 : -1;
}

/* me 0 pings: sends on 0 and waits on 1; me 1 answers. */
static int fd_side(int out, int in, int me, uint64_t n, uint64_t *rtt)
{
	char buf[PP_SIZE], msg[PP_SIZE];
	void *tmpl = template_of(PP_SIZE);
	uint64_t i, t0;

	for (i = 0; i < n; i++) {
		t0 = now_ns();
		if (me == 0) {
			fill(msg, PP_SIZE, i, tmpl);
			if (full(write(out, msg, PP_SIZE)) ||
			    full(read(in, buf, PP_SIZE)) || check(buf, PP_SIZE))
				return -1;
			rtt[i] = now_ns() - t0;
		} else {
			if (full(read(in, buf, PP_SIZE)) || check(buf, PP_SIZE) ||
			    full(write(out, buf, PP_SIZE)))
				return -1;
		}
	}
	free(tmpl);
	return 0;
}

static int pipe_pp_side(struct pp_ctx *p, int me, uint64_t n, uint64_t *rtt)
{
	return me == 0 ? fd_side(p->fd[0][1], p->fd[1][0], me, n, rtt) :
			 fd_side(p->fd[1][1], p->fd[0][0], me, n, rtt);
}

static void pipe_pp_teardown(struct pp_ctx *p)
{
	int i, j;

	for (i = 0; i < 2; i++)
		for (j = 0; j < 2; j++)
			close(p->fd[i][j]);
}

static int unix_pp_setup(struct pp_ctx *p)
{
	p->fd[1][0] = p->fd[1][1] = -1;
	return socketpair(AF_UNIX, SOCK_SEQPACKET, 0, p->fd[0]) ? -1 : 0;
}

static int unix_pp_side(struct pp_ctx *p, int me, uint64_t n, uint64_t *rtt)
{
	int fd = p->fd[0][me];

	return fd_side(fd, fd, me, n, rtt);
}

/* ---- POSIX message queues ---------------------------------------------- */

static int pmq_pp_setup(struct pp_ctx *p)
{
	struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = PP_SIZE };
	int i;

	for (i = 0; i < 2; i++) {
		snprintf(p->qname[i], sizeof(p->qname[i]), "/mqbench-pp%d-%d",
			 i, getpid());
		mq_unlink(p->qname[i]);
		p->q[i] = mq_open(p->qname[i], O_RDWR | O_CREAT, 0600, &attr);
		if (p->q[i] == (mqd_t)-1)
			return -1;
	}
	return 0;
}

static __attribute__((noinline)) void pp_empty(void)
{
	__asm__ volatile("" ::: "memory");
}

/*
 * POSIX's round trip with work added, to learn what reaches the latency
 * under TCG (README, Benchmarks, "The take, cut"): PP_AFTER_SEND_STEPS
 * steps of a dependent walk of a small table after each send, while the
 * other side answers; the same before the send, on the critical path; as
 * many calls of an empty function there (each a return, which TCG looks
 * up); or one clock read there (rdtsc, a helper call).
 */
static __attribute__((noinline)) void pp_do_work(enum pp_work work)
{
	static volatile uint8_t table[256];
	unsigned int i, at = 0;
	struct timespec ts;

	switch (work) {
	case PP_WORK_AFTER_SEND:
	case PP_WORK_BEFORE_SEND:
		for (i = 0; i < PP_AFTER_SEND_STEPS; i++)
			at = (at + table[at & 255] + 1) & 255;
		table[0] = (uint8_t)at;
		break;
	case PP_CALLS_BEFORE_SEND:
		for (i = 0; i < PP_AFTER_SEND_STEPS; i++)
			pp_empty();
		break;
	case PP_CLOCK_BEFORE_SEND:
		clock_gettime(CLOCK_REALTIME, &ts);
		break;
	case PP_WORK_NONE:
		break;
	}
}

static int pmq_after_send_setup(struct pp_ctx *p)
{
	p->work = PP_WORK_AFTER_SEND;
	return pmq_pp_setup(p);
}

static int pmq_before_send_setup(struct pp_ctx *p)
{
	p->work = PP_WORK_BEFORE_SEND;
	return pmq_pp_setup(p);
}

static int pmq_calls_before_send_setup(struct pp_ctx *p)
{
	p->work = PP_CALLS_BEFORE_SEND;
	return pmq_pp_setup(p);
}

static int pmq_clock_before_send_setup(struct pp_ctx *p)
{
	p->work = PP_CLOCK_BEFORE_SEND;
	return pmq_pp_setup(p);
}

/*
 * @p's work, if it goes @before the send (true) or after it (false):
 * plain posix-mq, the reference, pays a test, not a call.
 */
static inline void pp_work(const struct pp_ctx *p, bool before)
{
	if (p->work != PP_WORK_NONE &&
	    before == (p->work != PP_WORK_AFTER_SEND))
		pp_do_work(p->work);
}

static int pmq_pp_side(struct pp_ctx *p, int me, uint64_t n, uint64_t *rtt)
{
	char buf[PP_SIZE], msg[PP_SIZE];
	void *tmpl = template_of(PP_SIZE);
	mqd_t out = p->q[me], in = p->q[!me];
	uint64_t i, t0;

	for (i = 0; i < n; i++) {
		t0 = now_ns();
		if (me == 0) {
			fill(msg, PP_SIZE, i, tmpl);
			pp_work(p, true);
			if (mq_send(out, msg, PP_SIZE, 0))
				return -1;
			pp_work(p, false);
			if (full(mq_receive(in, buf, PP_SIZE, NULL)) ||
			    check(buf, PP_SIZE))
				return -1;
			rtt[i] = now_ns() - t0;
			continue;
		}
		if (full(mq_receive(in, buf, PP_SIZE, NULL)) ||
		    check(buf, PP_SIZE))
			return -1;
		pp_work(p, true);
		if (mq_send(out, buf, PP_SIZE, 0))
			return -1;
		pp_work(p, false);
	}
	free(tmpl);
	return 0;
}

static void pmq_pp_teardown(struct pp_ctx *p)
{
	int i;

	for (i = 0; i < 2; i++) {
		mq_close(p->q[i]);
		mq_unlink(p->qname[i]);
	}
}

/* ---- shared memory, spinning: the floor ------------------------------------ */

static int shm_pp_setup(struct pp_ctx *p)
{
	p->flag = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return p->flag == MAP_FAILED ? -1 : 0;
}

static int shm_pp_side(struct pp_ctx *p, int me, uint64_t n, uint64_t *rtt)
{
	uint64_t *out = &p->flag[me * 8], *in = &p->flag[!me * 8];
	uint64_t i, t0;

	for (i = 1; i <= n; i++) {
		t0 = now_ns();
		if (me == 0)
			__atomic_store_n(out, i, __ATOMIC_RELEASE);
		while (__atomic_load_n(in, __ATOMIC_ACQUIRE) != i)
			__builtin_ia32_pause();
		if (me == 0)
			rtt[i - 1] = now_ns() - t0;
		else
			__atomic_store_n(out, i, __ATOMIC_RELEASE);
	}
	return 0;
}

static void shm_pp_teardown(struct pp_ctx *p)
{
	munmap(p->flag, 4096);
}

/* ---- /dev/mq --------------------------------------------------------------- */

static int mqdev_pp_setup(struct pp_ctx *p)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = 1,
		      .capacity = 1 << 20, .flags = p->topic_flags);
	int fd = mqdev_open(), i, err = 0;

	if (fd < 0)
		return -1;
	for (i = 0; i < 2 && !err; i++) {
		bench_topic_name(p->topic[i], sizeof(p->topic[i]), "pp%d", i);
		mqdev_topic_delete(fd, p->topic[i]);
		err = mqdev_topic_create(fd, p->topic[i], &cfg);
	}
	if (err && i == 2)	/* the second failed: the first goes too */
		mqdev_topic_delete(fd, p->topic[0]);
	close(fd);
	return err ? -1 : 0;
}

static int mqdev_pp_send_wait_setup(struct pp_ctx *p)
{
	p->send_wait = true;
	return mqdev_pp_setup(p);
}

static int mqdev_pp_busy_setup(struct pp_ctx *p)
{
	p->busy_usec = BUSY_POLL_US;
	return mqdev_pp_setup(p);
}

static int mqdev_pp_sw_setup(struct pp_ctx *p)
{
	p->topic_flags = MQDEV_TOPIC_SINGLE_WRITER;
	return mqdev_pp_setup(p);
}

static int mqdev_pp_sw_send_wait_setup(struct pp_ctx *p)
{
	p->send_wait = true;
	return mqdev_pp_sw_setup(p);
}

static int mqdev_pp_sw_busy_setup(struct pp_ctx *p)
{
	p->busy_usec = BUSY_POLL_US;
	return mqdev_pp_sw_setup(p);
}

/*
 * After a wait that returned @woke: take the next record, check it, copy
 * its value to @echo (the answerer's, which sends it back as the other
 * peers' answerers do; or NULL), and let it go.  The waits have no
 * time-out, as the other peers' blocking reads: a time-out arms and
 * cancels an hrtimer every round trip, which under TCG cost mqdev about a
 * tenth of its real-time p50 (README, Benchmarks, "Ping-pong").
 */
static int mqdev_pp_taken(struct mqdev_consumer *c, int woke, void *echo)
{
	const struct mqdev_record *rec;
	int err;

	for (;;) {
		if (woke <= 0)
			return -1;
		rec = mqdev_consumer_peek(c);
		if (rec)
			break;
		woke = mqdev_consumer_wait(c, -1);
	}
	err = mqdev_record_value_len(rec) == PP_SIZE &&
	      !check(mqdev_record_value(rec), PP_SIZE) ? 0 : -1;
	if (!err && echo)
		memcpy(echo, mqdev_record_value(rec), PP_SIZE);
	mqdev_consumer_release(c);
	return err;
}

/*
 * Wait, then take, as mq_receive() does: the reply is never there before
 * the wait, so a take first would only fail.  The wait looks in the mapped
 * pages before it asks the kernel.
 */
static int mqdev_pp_take(struct mqdev_consumer *c, void *echo)
{
	return mqdev_pp_taken(c, mqdev_consumer_wait(c, -1), echo);
}

/* One side's way to send: a record batch, or a single writer's record. */
struct pp_sender {
	struct mqdev_producer	*prod;
	struct mqdev_batch	*batch;
	struct mqdev_swriter	*w;
	bool			send_wait;
};

static int pp_sender_new(struct pp_sender *s, const char *topic, bool sw)
{
	if (sw)
		return mqdev_swriter_new(topic, NULL, &s->w);
	return mqdev_producer_new(topic, NULL, &s->prod) ?:
	       mqdev_batch_new(record_space(PP_SIZE), &s->batch);
}

/* The next message's value, to fill in before pp_send(). */
static void *pp_value(struct pp_sender *s)
{
	struct mqdev_record *rec;
	void *value;

	if (s->w)
		return mqdev_swriter_reserve(s->w, 0, 0, PP_SIZE, 0, &rec) ?
		       NULL : rec + 1;
	return mqdev_batch_add(s->batch, NULL, 0, PP_SIZE, &value) ? NULL :
								    value;
}

static int pp_send(struct pp_sender *s)
{
	uint32_t part = 0;

	if (s->w)
		return mqdev_swriter_commit(s->w) ? -1 : 0;
	return mqdev_produce_batch(s->prod, s->batch, &part, NULL) == 1 ? 0 :
									  -1;
}

/*
 * Send, and take the answer: two calls, or for mqdev-send-wait the send in
 * the wait's system call (MQDEV_WAIT_SEND), as a request and its reply.
 * The answer's value goes to @echo, as in mqdev_pp_taken().
 */
static int pp_send_take(struct pp_sender *s, struct mqdev_consumer *c,
			void *echo)
{
	uint32_t part = 0;
	int woke;

	if (!s->send_wait)
		return pp_send(s) ?: mqdev_pp_take(c, echo);
	if (s->w)
		woke = mqdev_swriter_commit_wait(s->w, c, -1);
	else
		woke = mqdev_produce_batch_wait(s->prod, s->batch, &part, NULL,
						c, -1);
	if (!s->w && mqdev_batch_count(s->batch))
		return -1;		/* not sent */
	return mqdev_pp_taken(c, woke, echo);
}

static void pp_sender_free(struct pp_sender *s)
{
	mqdev_swriter_free(s->w);
	mqdev_batch_free(s->batch);
	mqdev_producer_free(s->prod);
}

static int mqdev_pp_side(struct pp_ctx *p, int me, uint64_t n, uint64_t *rtt)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts,
		      .busy_poll_usec = p->busy_usec);
	void *tmpl = template_of(PP_SIZE);
	struct pp_sender s = {};
	struct mqdev_consumer *c = NULL;
	char echo[PP_SIZE];
	uint64_t i, t0;
	void *value;
	int err = 0;

	s.send_wait = p->send_wait;
	if (pp_sender_new(&s, p->topic[me],
			  p->topic_flags & MQDEV_TOPIC_SINGLE_WRITER) ||
	    mqdev_consumer_new(p->topic[!me], &opts, &c) ||
	    mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0, MQDEV_SEEK_HOLD,
				NULL))
		err = -1;
	/* The answering side takes the first ping; then each answer waits. */
	if (!err && me == 1)
		err = mqdev_pp_take(c, echo);
	for (i = 0; i < n && !err; i++) {
		t0 = now_ns();
		value = pp_value(&s);
		if (!value) {
			err = -1;
			break;
		}
		/* The asker's new message; the answerer's is the one it took. */
		if (me == 0)
			fill(value, PP_SIZE, i, tmpl);
		else
			memcpy(value, echo, PP_SIZE);
		if (me == 1 && i == n - 1)
			err = pp_send(&s);	/* the last answer */
		else
			err = pp_send_take(&s, c, me == 1 ? echo : NULL);
		if (!err && me == 0)
			rtt[i] = now_ns() - t0;
	}
	mqdev_consumer_free(c);
	pp_sender_free(&s);
	free(tmpl);
	return err;
}

static void mqdev_pp_teardown(struct pp_ctx *p)
{
	bench_topic_delete(p->topic[0]);
	bench_topic_delete(p->topic[1]);
}

static const struct pp_ops pp_peers[] = {
	{ "mqdev", mqdev_pp_setup, mqdev_pp_side, mqdev_pp_teardown },
	{ "mqdev-send-wait", mqdev_pp_send_wait_setup, mqdev_pp_side,
	  mqdev_pp_teardown },
	{ "mqdev-busy-poll", mqdev_pp_busy_setup, mqdev_pp_side,
	  mqdev_pp_teardown },
	{ "mqdev-swriter", mqdev_pp_sw_setup, mqdev_pp_side, mqdev_pp_teardown },
	{ "mqdev-swriter-send-wait", mqdev_pp_sw_send_wait_setup, mqdev_pp_side,
	  mqdev_pp_teardown },
	{ "mqdev-swriter-busy-poll", mqdev_pp_sw_busy_setup, mqdev_pp_side,
	  mqdev_pp_teardown },
	{ "posix-mq", pmq_pp_setup, pmq_pp_side, pmq_pp_teardown },
	{ "posix-mq-after-send", pmq_after_send_setup, pmq_pp_side,
	  pmq_pp_teardown },
	{ "posix-mq-before-send", pmq_before_send_setup, pmq_pp_side,
	  pmq_pp_teardown },
	{ "posix-mq-calls-before-send", pmq_calls_before_send_setup,
	  pmq_pp_side, pmq_pp_teardown },
	{ "posix-mq-clock-before-send", pmq_clock_before_send_setup,
	  pmq_pp_side, pmq_pp_teardown },
	{ "unix-seqpacket", unix_pp_setup, unix_pp_side, pipe_pp_teardown },
	{ "pipe", pipe_pp_setup, pipe_pp_side, pipe_pp_teardown },
	{ "shm-spin", shm_pp_setup, shm_pp_side, shm_pp_teardown },
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * --pin: this process on @cpu alone.  Each side of a ping-pong on its own
 * vCPU, as the scheduler mostly leaves them in real time, so that
 * tools/vm/pingpong-trace's -icount windows compare like with like:
 * unpinned, a synchronous wake-up can put both on one vCPU.
 */
static int pp_pin_to(int cpu)
{
	cpu_set_t set;

	if (!pp_pin)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (!sched_setaffinity(0, sizeof(set), &set))
		return 0;
	perror("mqbench: --pin");
	return -1;
}

/* pp_run() on the CPUs it was given: the percentiles, or -1. */
static int pp_run_here(const struct pp_ops *ops, uint64_t n, double pct[3])
{
	struct pp_ctx p = {};
	uint64_t *rtt;
	int status, ok;
	pid_t pong;

	rtt = mmap(NULL, n * sizeof(*rtt), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rtt == MAP_FAILED)
		return -1;
	if (ops->setup(&p)) {
		munmap(rtt, n * sizeof(*rtt));
		return -1;
	}
	pong = fork();
	if (!pong)
		_exit(pp_pin_to(1) || ops->side(&p, 1, n, NULL) ? 1 : 0);
	ok = pong > 0 && ops->side(&p, 0, n, rtt) == 0;
	if (pong > 0)
		waitpid(pong, &status, 0);
	ok = ok && WIFEXITED(status) && !WEXITSTATUS(status);
	ops->teardown(&p);
	if (ok) {
		qsort(rtt, n, sizeof(*rtt), cmp_u64);
		pct[0] = rtt[n / 2];
		pct[1] = rtt[n * 99 / 100];
		pct[2] = rtt[n * 999 / 1000];
	}
	munmap(rtt, n * sizeof(*rtt));
	return ok ? 0 : -1;
}

/*
 * @n round trips of peer @i: percentiles in ns into @pct (50, 99, 99.9).
 * With --pin, the asker on CPU 0 and the answerer on CPU 1, then the
 * CPUs this process had before.
 */
static int pp_run(unsigned int i, uint64_t n, double pct[3])
{
	cpu_set_t mask;
	int err;

	if (!pp_pin)
		return pp_run_here(&pp_peers[i], n, pct);
	if (sched_getaffinity(0, sizeof(mask), &mask))
		return -1;
	/* CPU 1 tried first: the pong's pin cannot fail after the fork */
	err = pp_pin_to(1) || pp_pin_to(0) ? -1 :
	      pp_run_here(&pp_peers[i], n, pct);
	if (sched_setaffinity(0, sizeof(mask), &mask))
		err = -1;
	return err;
}

#define NR_PP_PEERS	(sizeof(pp_peers) / sizeof(pp_peers[0]))

/*
 * @n /dev/mq round trips (pp_peers[0]), for delay.c: p50, p99 and p99.9 in
 * ns into @pct.  Return: 0, or -1 if a round trip failed.
 */
int latency_mqdev_pct(uint64_t n, double pct[3])
{
	return pp_run(0, n, pct);
}

/* ---- one leg without sleeping --------------------------------------------- */

/*
 * One leg of the ping-pong in one process: a message sent, then taken by
 * the same process, which finds it there.  What a leg costs without the
 * sleeping and waking, each peer its own calls: a one-record batch and a
 * wait that finds it (or a single writer's commit), mq_send() and
 * mq_receive(), write() and read().  Mean ns a leg: instructions under
 * -icount.
 */
static int mqdev_leg(struct pp_ctx *p, uint64_t n, double *ns)
{
	void *tmpl = template_of(PP_SIZE), *value;
	struct pp_sender s = {};
	struct mqdev_consumer *c = NULL;
	uint64_t i, t0 = 0;
	int err = 0;

	if (pp_sender_new(&s, p->topic[0],
			  p->topic_flags & MQDEV_TOPIC_SINGLE_WRITER) ||
	    mqdev_consumer_new(p->topic[0], NULL, &c) ||
	    mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0, MQDEV_SEEK_HOLD,
				NULL))
		err = -1;
	for (i = 0; i < n && !err; i++) {
		if (i == n / 10)
			t0 = now_ns();	/* the first tenth warms up */
		value = pp_value(&s);
		if (!value)
			err = -1;
		else
			fill(value, PP_SIZE, i, tmpl);
		err = err ?: pp_send(&s) ?: mqdev_pp_take(c, NULL);
	}
	*ns = (double)(now_ns() - t0) / (n - n / 10);
	mqdev_consumer_free(c);
	pp_sender_free(&s);
	free(tmpl);
	return err;
}

/* A copying peer's leg: @msg sent, then taken back into @buf. */
static int pmq_one(struct pp_ctx *p, const char *msg, char *buf)
{
	return mq_send(p->q[0], msg, PP_SIZE, 0) ||
	       full(mq_receive(p->q[0], buf, PP_SIZE, NULL)) ? -1 : 0;
}

static int pipe_one(struct pp_ctx *p, const char *msg, char *buf)
{
	return full(write(p->fd[0][1], msg, PP_SIZE)) ||
	       full(read(p->fd[0][0], buf, PP_SIZE)) ? -1 : 0;
}

/* @n legs of a peer that copies the message in and out with @one. */
static int copy_leg(struct pp_ctx *p, uint64_t n, double *ns,
		    int (*one)(struct pp_ctx *p, const char *msg, char *buf))
{
	char buf[PP_SIZE], msg[PP_SIZE];
	void *tmpl = template_of(PP_SIZE);
	uint64_t i, t0 = 0;
	int err = 0;

	for (i = 0; i < n && !err; i++) {
		if (i == n / 10)
			t0 = now_ns();
		fill(msg, PP_SIZE, i, tmpl);
		err = one(p, msg, buf) || check(buf, PP_SIZE);
	}
	*ns = (double)(now_ns() - t0) / (n - n / 10);
	free(tmpl);
	return err ? -1 : 0;
}

static int pmq_leg(struct pp_ctx *p, uint64_t n, double *ns)
{
	return copy_leg(p, n, ns, pmq_one);
}

static int pipe_leg(struct pp_ctx *p, uint64_t n, double *ns)
{
	return copy_leg(p, n, ns, pipe_one);
}

static const struct {
	const char *name;
	int (*setup)(struct pp_ctx *p);
	int (*leg)(struct pp_ctx *p, uint64_t n, double *ns);
	void (*teardown)(struct pp_ctx *p);
} leg_peers[] = {
	{ "mqdev", mqdev_pp_setup, mqdev_leg, mqdev_pp_teardown },
	{ "mqdev-swriter", mqdev_pp_sw_setup, mqdev_leg, mqdev_pp_teardown },
	{ "posix-mq", pmq_pp_setup, pmq_leg, pmq_pp_teardown },
	{ "pipe", pipe_pp_setup, pipe_leg, pipe_pp_teardown },
};

/*
 * The leg scenario: @n legs of each peer, one process, no sleeping.
 * Return: how many peers failed.
 */
int leg_table(uint64_t n, FILE *json)
{
	unsigned int i;
	int failed = 0;
	double ns;

	printf("\nleg: one %d-byte message sent and taken by one process, no "
	       "sleeping, %" PRIu64 " legs, ns a leg (instructions under "
	       "-icount)\n\n| peer | ns |\n|---|---:|\n", PP_SIZE, n);
	for (i = 0; i < sizeof(leg_peers) / sizeof(leg_peers[0]); i++) {
		struct pp_ctx p = {};
		int err;

		if (!peer_wanted(leg_peers[i].name))
			continue;
		err = n < 10 || leg_peers[i].setup(&p) ? -1 :
		      leg_peers[i].leg(&p, n, &ns);
		if (!err)
			leg_peers[i].teardown(&p);
		if (err) {
			printf("| %s | FAILED |\n", leg_peers[i].name);
			failed++;
			continue;
		}
		printf("| %s | %.0f |\n", leg_peers[i].name, ns);
		json_result(json, "leg", leg_peers[i].name, PP_SIZE,
			    "\"ns\":%.0f", ns);
	}
	fflush(stdout);
	return failed;
}

#define MAX_REPS	16

/* The median of @n values, which it sorts. */
static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/*
 * Rounds of every peer in turn, so that what drifts during the run falls
 * on every peer alike; per peer, the median of each percentile over the
 * rounds, with the spread of p50.
 */
int latency_table(uint64_t n, int reps, FILE *json)
{
	static double pct[NR_PP_PEERS][3][MAX_REPS];
	int got[NR_PP_PEERS] = { 0 }, r, k, failed = 0;
	double one[3], med[3];
	unsigned int i;

	printf("\nping-pong: one %d-byte message each way, %" PRIu64
	       " round trips, microseconds, median of %d rounds\n\n", PP_SIZE,
	       n, reps);
	for (r = 0; r < reps && r < MAX_REPS; r++)
		for (i = 0; i < NR_PP_PEERS; i++) {
			if (!peer_wanted(pp_peers[i].name) || pp_run(i, n, one))
				continue;
			for (k = 0; k < 3; k++)
				pct[i][k][got[i]] = one[k];
			got[i]++;
		}
	printf("| peer | p50 | p99 | p99.9 | p50 spread |\n");
	printf("|---|---:|---:|---:|---:|\n");
	for (i = 0; i < NR_PP_PEERS; i++) {
		if (!peer_wanted(pp_peers[i].name))
			continue;
		if (got[i] < reps) {
			printf("| %s | FAILED | | | |\n", pp_peers[i].name);
			failed++;
			continue;
		}
		for (k = 0; k < 3; k++)
			med[k] = median(pct[i][k], got[i]);
		printf("| %s | %.1f | %.1f | %.1f | %.1f-%.1f |\n",
		       pp_peers[i].name, med[0] / 1e3, med[1] / 1e3,
		       med[2] / 1e3, pct[i][0][0] / 1e3,
		       pct[i][0][got[i] - 1] / 1e3);
		json_result(json, "latency", pp_peers[i].name, PP_SIZE,
			    "\"p50_ns\":%.0f,\"p99_ns\":%.0f,\"p999_ns\":%.0f",
			    med[0], med[1], med[2]);
	}
	fflush(stdout);
	return failed;
}
