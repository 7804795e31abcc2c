// SPDX-License-Identifier: GPL-2.0
/* /dev/mq in the benchmark: the peer, and its consumer groups. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>
#include "libmqdev.h"
#include "mqbench.h"

/*
 * /dev/mq: record batches appended with one ioctl each (or, as the peer
 * "mqdev-msg", messages acknowledged one by one, or as "mqdev-swriter", a
 * single-writer topic's records written in place), read in place through
 * mmap (or, as "mqdev-read", copied out with read(2)).
 */
struct mqdev_ctx {
	char topic[MQDEV_NAME_MAX + 1];
	int group;		/* consume as a member of group "gN", or -1 */
	uint32_t partition;	/* the producer's */
	uint32_t consumer_flags;	/* MQDEV_CONSUMER_* of its readers */
};

/*
 * 32 MiB a partition: a backlog of 200,000 64-byte messages fits, so the
 * drain scenario never waits for room.
 */
#define MQDEV_BENCH_CAPACITY	(32 << 20)

void bench_topic_name(char *buf, size_t len, const char *fmt, ...)
{
	int n = snprintf(buf, len, "mqbench-%d-", getpid());
	va_list ap;

	if (n < 0 || (size_t)n >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

void bench_topic_delete(const char *name)
{
	int fd = mqdev_open();

	if (fd < 0)
		return;
	mqdev_topic_delete(fd, name);
	close(fd);
}

static int mqdev_setup_flags(void **ctx, uint32_t partitions, uint32_t flags)
{
	struct mqdev_ctx *m = calloc(1, sizeof(*m));
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = partitions,
		      .capacity = MQDEV_BENCH_CAPACITY, .flags = flags);
	static unsigned int seq;
	int fd = mqdev_open(), err;

	*ctx = NULL;
	if (fd < 0 || !m) {
		if (fd >= 0)
			close(fd);
		free(m);
		return -1;
	}
	m->group = -1;
	bench_topic_name(m->topic, sizeof(m->topic), "%u", seq++);
	mqdev_topic_delete(fd, m->topic);
	err = mqdev_topic_create(fd, m->topic, &cfg);
	close(fd);
	if (err) {
		free(m);
		return -1;
	}
	*ctx = m;
	return 0;
}

static int mqdev_setup_parts(void **ctx, uint32_t partitions)
{
	return mqdev_setup_flags(ctx, partitions, 0);
}

int mqdev_setup(struct bench *b, void **ctx)
{
	return mqdev_setup_parts(ctx, 1);
}

int mqdev_sw_setup(struct bench *b, void **ctx)
{
	return mqdev_setup_flags(ctx, 1, MQDEV_TOPIC_SINGLE_WRITER);
}

/* The ring bytes of a keyless record of @value_len bytes. */
uint64_t record_space(size_t value_len)
{
	return MQDEV_RECORD_SPACE(sizeof(struct mqdev_record) + value_len);
}

/* Messages in one record batch: BATCH, or what fits in the largest batch. */
static uint32_t batch_msgs(size_t size)
{
	uint64_t space = record_space(size);

	return space * BATCH <= MQDEV_BATCH_MAX ? BATCH :
					  MQDEV_BATCH_MAX / space;
}

/* Messages @first.. laid out in place in @batch and appended with it. */
static int produce_batch_of(struct mqdev_producer *p,
			    struct mqdev_batch *batch, const struct bench *b,
			    uint64_t first, uint32_t n, uint32_t partition,
			    const void *tmpl)
{
	uint32_t j, part;
	void *value;
	int r;

	for (j = 0; j < n; j++) {
		if (mqdev_batch_add(batch, NULL, 0, b->size, &value))
			return -1;
		fill(value, b->size, first + j, tmpl);
	}
	do {
		part = partition;
		r = mqdev_produce_batch(p, batch, &part, NULL);
	} while (r == -EINTR);
	return r == (int)n ? 0 : -1;
}

/* Messages @first.. each from its own buffer, acknowledged one by one. */
static int produce_msgs_of(struct mqdev_producer *p, char *buf,
			   const struct bench *b, uint64_t first, uint32_t n,
			   uint32_t partition, const void *tmpl)
{
	struct mqdev_msg msgs[BATCH];
	uint32_t j, done;
	int r;

	for (j = 0; j < n; j++) {
		fill(buf + j * b->size, b->size, first + j, tmpl);
		mqdev_msg_init(&msgs[j], NULL, 0, buf + j * b->size, b->size,
			       partition);
	}
	for (done = 0; done < n;) {
		r = mqdev_produce(p, msgs + done, n - done);
		if (r < 0 && r != -EINTR)
			return -1;
		if (r > 0)
			done += r;
	}
	return 0;
}

/* Messages @first.. written in place by a single writer, then committed. */
static int produce_in_place(struct mqdev_swriter *w, const struct bench *b,
			    uint64_t first, uint32_t n, const void *tmpl)
{
	struct mqdev_record *rec;
	uint32_t j;

	for (j = 0; j < n; j++) {
		if (mqdev_swriter_reserve(w, 0, 0, b->size, 0, &rec))
			return -1;
		fill(rec + 1, b->size, first + j, tmpl);
	}
	return mqdev_swriter_commit(w) ? -1 : 0;
}

/*
 * A producer that appends @b's messages as record batches, through
 * MQDEV_IOC_PRODUCE with one struct mqdev_msg each, or in place.
 */
struct bench_producer {
	struct mqdev_producer	*p;
	struct mqdev_swriter	*w;
	struct mqdev_batch	*batch;
	char			*buf;
	void			*tmpl;
	uint32_t		per_call;
};

static int bench_producer_new(struct bench_producer *bp, const char *topic,
			      const struct bench *b, enum mqdev_kind kind)
{
	bool msgs = kind == MQDEV_KIND_MSGS;

	memset(bp, 0, sizeof(*bp));
	bp->tmpl = template_of(b->size);
	if (kind == MQDEV_KIND_SWRITER) {
		bp->per_call = BATCH;
		return mqdev_swriter_new(topic, NULL, &bp->w) ? -1 : 0;
	}
	if (mqdev_producer_new(topic, NULL, &bp->p))
		return -1;
	bp->per_call = msgs ? BATCH : batch_msgs(b->size);
	if (msgs) {
		bp->buf = malloc(b->size * BATCH);
		return bp->buf ? 0 : -1;
	}
	return mqdev_batch_new(MQDEV_BATCH_MAX, &bp->batch) ? -1 : 0;
}

static void bench_producer_free(struct bench_producer *bp)
{
	mqdev_batch_free(bp->batch);
	mqdev_producer_free(bp->p);
	mqdev_swriter_free(bp->w);
	free(bp->buf);
	free(bp->tmpl);
}

/* Up to one call's worth of messages from @first; how many, or -1. */
static int bench_produce(struct bench_producer *bp, const struct bench *b,
			 uint64_t first, uint32_t partition)
{
	uint32_t n = b->count - first < bp->per_call ? b->count - first :
						       bp->per_call;
	int err = bp->w ? produce_in_place(bp->w, b, first, n, bp->tmpl) :
		  bp->batch ?
		  produce_batch_of(bp->p, bp->batch, b, first, n, partition,
				   bp->tmpl) :
		  produce_msgs_of(bp->p, bp->buf, b, first, n, partition,
				  bp->tmpl);

	return err ? -1 : (int)n;
}

static int produce_all(struct bench *b, void *ctx, enum mqdev_kind kind)
{
	struct mqdev_ctx *m = ctx;
	struct bench_producer bp;
	uint64_t i;
	int n = 0;

	if (bench_producer_new(&bp, m->topic, b, kind))
		return -1;
	for (i = 0; i < b->count && n >= 0; i += n)
		n = bench_produce(&bp, b, i, m->partition);
	bench_producer_free(&bp);
	return n < 0 ? -1 : 0;
}

int mqdev_produce_all(struct bench *b, void *ctx)
{
	return produce_all(b, ctx, MQDEV_KIND_BATCH);
}

int mqdev_sw_produce(struct bench *b, void *ctx)
{
	return produce_all(b, ctx, MQDEV_KIND_SWRITER);
}

int mqdev_produce_msgs(struct bench *b, void *ctx)
{
	return produce_all(b, ctx, MQDEV_KIND_MSGS);
}

/* A standalone holding reader, or the one member of group "g<group>". */
static struct mqdev_consumer *mqdev_reader(const struct mqdev_ctx *m)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts, .fetch_min = fetch_min,
		      .flags = m->consumer_flags);
	const char *busy_poll = getenv("MQBENCH_BUSY_POLL");
	struct mqdev_consumer *c;
	char group[16];
	int err;

	if (busy_poll)
		opts.busy_poll_usec = atoi(busy_poll);
	if (mqdev_consumer_new(m->topic, &opts, &c))
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

/* How many of a run of records have the size and checksum they should. */
static uint64_t check_run(const struct mqdev_record **recs, int n,
			  size_t size)
{
	uint64_t ok = 0;
	int i;

	for (i = 0; i < n; i++)
		ok += mqdev_record_value_len(recs[i]) == size &&
		      check(mqdev_record_value(recs[i]), size) == 0;
	return ok;
}

/*
 * With --fetch-min, a consumer sleeps until that many bytes are ready
 * (fetch.min.bytes), for at most --fetch-max-wait ms (fetch.max.wait.ms: 1
 * unless given; Kafka's default is 500), after which it takes what there
 * is.  A fetch that fewer bytes than fetch.min are left for, the run's
 * last, cannot reach the watermark and waits FETCH_TAIL_WAIT_MS whatever
 * --fetch-max-wait says: the shortest run, one group's, would otherwise
 * pay the longest wait's share of its time, flattering many groups over
 * one.  Only a benchmark that knows how many records will come can do so.
 */
#define FETCH_TAIL_WAIT_MS	1
#define IDLE_LIMIT_MS		10000

/* How long to wait for the next fetch with @left records still to come. */
static int fetch_wait_ms(const struct bench *b, uint64_t left)
{
	uint64_t each = record_space(b->size);

	if (!fetch_min)
		return IDLE_LIMIT_MS;
	/* left * each >= fetch_min: the watermark can still be reached */
	return left > (fetch_min - 1) / each ? (int)fetch_max_wait_ms :
					       FETCH_TAIL_WAIT_MS;
}

static int mqdev_consume_from(struct bench *b, struct mqdev_consumer *c)
{
	const struct mqdev_record *recs[BATCH];
	uint64_t i = 0, ok = 0;
	int err, n, idle_ms = 0;

	while (i < b->count) {
		int wait_ms = fetch_wait_ms(b, b->count - i);

		err = mqdev_consumer_wait(c, wait_ms);
		if (err == 0 && (idle_ms += wait_ms) < IDLE_LIMIT_MS)
			continue;
		if (err <= 0) {
			fprintf(stderr, "mqbench: mqdev: %s after %" PRIu64
				" of %" PRIu64 " records\n",
				err ? strerror(-err) : "nothing for 10 s", i,
				b->count);
			return -1;
		}
		idle_ms = 0;
		while ((n = mqdev_consumer_peek_batch(c, recs, BATCH)) > 0) {
			ok += check_run(recs, n, b->size);
			mqdev_consumer_release(c);
			i += n;
		}
		/*
		 * A group's commit is what frees space under block.  ESTALE:
		 * a member that finished left, and the group rebalanced.
		 */
		err = mqdev_consumer_generation(c) ? mqdev_consumer_commit(c) : 0;
		if (err && err != -ESTALE) {
			fprintf(stderr, "mqbench: mqdev: commit: %s\n",
				strerror(-err));
			return -1;
		}
	}
	if (ok != b->count)
		fprintf(stderr, "mqbench: mqdev: %" PRIu64 " of %" PRIu64
			" records checked out\n", ok, b->count);
	return ok == b->count ? 0 : -1;
}

int mqdev_consume_all(struct bench *b, void *ctx)
{
	struct mqdev_consumer *c = mqdev_reader(ctx);
	int err;

	if (!c)
		return -1;
	err = mqdev_consume_from(b, c);
	mqdev_consumer_free(c);
	return err;
}

void mqdev_teardown(void *ctx)
{
	struct mqdev_ctx *m = ctx;

	bench_topic_delete(m->topic);
	free(m);
}

/*
 * One producer per partition of a topic of @parts, read by @groups consumer
 * groups of @members each (members == parts, or 1 and 1): every group gets
 * every record, each member count / members of them.  The time from the go
 * until the last member has its last record, in ns.
 */
int64_t run_groups(struct bench *b, uint32_t parts, int groups, int members)
{
	struct bench each = { .size = b->size, .count = b->count / members };
	struct bench share = { .size = b->size, .count = b->count / parts };
	int go[2], done[2], ready[2], hold[2], i, n = groups * members, ok = 1;
	pid_t pids[64];
	int nr_pids = 0;
	uint64_t t1;
	int64_t ns;
	struct mqdev_consumer *c;
	struct mqdev_ctx *m;
	char ch = 0;

	if (n + parts > 64 || mqdev_setup_parts((void **)&m, parts))
		return -1;
	if (pipe(go) || pipe(done) || pipe(ready) || pipe(hold))
		fail("pipe");
	for (i = 0; i < n; i++) {
		pids[nr_pids] = fork();
		if (pids[nr_pids++])
			continue;
		close(hold[1]);
		m->group = i / members;
		c = mqdev_reader(m);
		/* joined before the producers start: every group holds */
		if (write(ready[1], c ? "r" : "x", 1) != 1 || !c ||
		    read(go[0], &ch, 1) != 1)
			_exit(3);
		ok = mqdev_consume_from(&each, c);
		t1 = now_ns();		/* run_children() times from the go */
		if (write(done[1], &t1, sizeof(t1)) != sizeof(t1))
			_exit(3);
		/*
		 * Not timed, and not while others are: unmapping the ring and
		 * leaving the group take about 5 ms of guest time under
		 * -icount, as long as 10,000 deliveries, and a member that
		 * finished first would take them from the slower ones.  Until
		 * every member is done (EOF), as a consumer that stays would.
		 */
		while (read(hold[0], &ch, 1) > 0)
			;
		mqdev_consumer_free(c);
		_exit(ok ? 1 : 0);
	}
	for (i = 0; i < n; i++)
		ok &= read(ready[0], &ch, 1) == 1 && ch == 'r';
	for (i = 0; i < (int)parts; i++) {
		pids[nr_pids] = fork();
		if (pids[nr_pids++])
			continue;
		close(hold[1]);
		m->partition = i;
		if (read(go[0], &ch, 1) != 1)
			_exit(3);
		_exit(mqdev_produce_all(&share, m) ? 1 : 0);
	}
	ns = run_children(go[1], done[0], n + parts, n, hold[1], pids,
			  nr_pids);
	if (!ok)		/* a member could not join */
		ns = -1;
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
	close(ready[0]);
	close(ready[1]);
	close(hold[0]);
	mqdev_teardown(m);
	return ns;
}

/* Ring bytes per record when @n messages of @size are queued. */
double mqdev_bytes_per_msg(size_t size, uint64_t n)
{
	struct mqdev_partition_info part;
	struct mqdev_topic_info info;
	struct bench b = { .size = size, .count = n };
	struct mqdev_ctx *m;
	double per = -1;
	int fd;

	if (mqdev_setup(&b, (void **)&m))
		return -1;
	if (mqdev_produce_all(&b, m)) {
		mqdev_teardown(m);
		return -1;
	}
	fd = mqdev_open();
	if (fd >= 0 && !mqdev_topic_describe(fd, m->topic, &info, &part, 1) &&
	    part.records == n)
		per = (double)part.bytes_used / n;
	if (fd >= 0)
		close(fd);
	mqdev_teardown(m);
	return per;
}

/* @n records consumed in place and checked: how many were whole. */
static uint64_t consume_n(struct mqdev_consumer *c, int n, size_t size)
{
	const struct mqdev_record *recs[BATCH];
	uint64_t ok = 0;
	int j, got;

	for (j = 0; j < n; j += got) {
		got = mqdev_consumer_peek_batch(c, recs, BATCH);
		if (got <= 0)
			break;
		ok += check_run(recs, got, size);
		mqdev_consumer_release(c);
	}
	return ok;
}

/* The cost scenario's reader for @kind: by read(2) for MQDEV_KIND_READ. */
static struct mqdev_consumer *kind_reader(struct mqdev_ctx *m,
					  enum mqdev_kind kind)
{
	if (kind == MQDEV_KIND_READ)
		m->consumer_flags = MQDEV_CONSUMER_COPY;
	return mqdev_reader(m);
}

/*
 * A batch produced, then consumed in place, in one process: as a record
 * batch, as messages acknowledged one by one, or written in place; or a
 * record batch consumed with read(2).
 */
int mqdev_cost(struct bench *b, enum mqdev_kind kind, double *produce_ns,
	       double *consume_ns)
{
	struct bench_producer bp;
	struct mqdev_consumer *c;
	uint64_t i, tp = 0, tc = 0, t0, ok = 0;
	struct mqdev_ctx *m;
	int n = 0;

	if (kind == MQDEV_KIND_SWRITER ? mqdev_sw_setup(b, (void **)&m) :
					 mqdev_setup(b, (void **)&m))
		return -1;
	if (bench_producer_new(&bp, m->topic, b, kind)) {
		bench_producer_free(&bp);
		mqdev_teardown(m);
		return -1;
	}
	c = kind_reader(m, kind);
	if (!c) {
		bench_producer_free(&bp);
		mqdev_teardown(m);
		return -1;
	}
	for (i = 0; i < b->count && n >= 0; i += n) {
		t0 = now_ns();
		n = bench_produce(&bp, b, i, 0);
		tp += now_ns() - t0;
		t0 = now_ns();
		ok += consume_n(c, n, b->size);
		tc += now_ns() - t0;
	}
	mqdev_consumer_free(c);
	bench_producer_free(&bp);
	mqdev_teardown(m);
	*produce_ns = (double)tp / i;
	*consume_ns = (double)tc / i;
	return n >= 0 && ok == i ? 0 : -1;
}

/*
 * Where tools/vm/insn-trace cuts the guest's trace of translated blocks:
 * each is a call of its own (noinline, and an empty asm so that it is not
 * merged with another), whose address the trace names.
 */
static __attribute__((noinline)) void trace_mark_produce(void)
{
	__asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void trace_mark_consume(void)
{
	__asm__ volatile("nop" ::: "memory");
}

static __attribute__((noinline)) void trace_mark_idle(void)
{
	__asm__ volatile("nop; nop" ::: "memory");
}

/* @from's contents into @dir/@name: the host names the trace's addresses. */
static int copy_to(const char *from, const char *dir, const char *name)
{
	char path[4096], buf[65536];
	FILE *in = fopen(from, "r"), *out;
	size_t n;
	int err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	out = fopen(path, "w");
	if (!in || !out) {
		err = -1;
		goto out;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			err = -1;
out:
	if (in)
		fclose(in);
	if (out && fclose(out))
		err = -1;
	return err;
}

/*
 * tools/vm/insn-trace's guest half: the cost scenario's loop, a batch
 * produced then consumed (in place, or with read(2) for MQDEV_KIND_READ),
 * between marks, until the host creates
 * @dir/stop.  First the addresses: the kernel's symbols (the module's
 * too), this process's mappings and the marks, then @dir/ready.
 * @per_call, when not 0, makes the batches that short (1: a busy-poll
 * round trip's produce and read).
 */
int mqdev_trace(struct bench *b, enum mqdev_kind kind, const char *dir,
		unsigned int per_call)
{
	struct bench_producer bp;
	struct mqdev_consumer *c = NULL;
	struct mqdev_ctx *m;
	uint64_t i = 0, ok = 0, rounds = 0;
	char path[4096];
	FILE *f;
	int n = -1;

	if (kind == MQDEV_KIND_SWRITER ? mqdev_sw_setup(b, (void **)&m) :
					 mqdev_setup(b, (void **)&m))
		return -1;
	if (bench_producer_new(&bp, m->topic, b, kind))
		goto out;
	if (per_call && per_call < bp.per_call)
		bp.per_call = per_call;
	c = kind_reader(m, kind);
	if (!c || copy_to("/proc/kallsyms", dir, "kallsyms") ||
	    copy_to("/proc/self/maps", dir, "maps"))
		goto out;
	snprintf(path, sizeof(path), "%s/ready", dir);
	f = fopen(path, "w");
	if (!f)
		goto out;
	fprintf(f, "produce %p\nconsume %p\nidle %p\nbatch %u\n",
		(void *)trace_mark_produce, (void *)trace_mark_consume,
		(void *)trace_mark_idle, bp.per_call);
	if (fclose(f))
		goto out;
	snprintf(path, sizeof(path), "%s/stop", dir);
	for (n = 0; n >= 0; i += n, rounds++) {
		/* a look at the host's file, every 64 rounds, outside the marks */
		if (!(rounds % 64) && !access(path, F_OK))
			break;
		trace_mark_produce();
		n = bench_produce(&bp, b, i, 0);
		trace_mark_consume();
		ok += consume_n(c, n, b->size);
		trace_mark_idle();
	}
	printf("trace: %" PRIu64 " rounds of %u messages\n", rounds,
	       bp.per_call);
out:
	mqdev_consumer_free(c);
	bench_producer_free(&bp);
	mqdev_teardown(m);
	return n >= 0 && ok == i ? 0 : -1;
}
