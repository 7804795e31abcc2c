// SPDX-License-Identifier: GPL-2.0
/*
 * The share scenario: a backlog of 64-byte records on a 1-partition topic
 * drained by a share group of 1 and of 8 members, each record accepted on
 * its own (MQDEV_SHARE_ACCEPT of [offset, offset + 1)), against a
 * partitioned consumer group reading the same records (one member: a
 * partition has one owner), and against RabbitMQ's basic.consume with
 * manual acks, one ack a message, 1 and 8 consumers (rabbitmq.c), when
 * it runs.  Every record's checksum is checked.  A drain is timed from
 * the go to the last record accepted (or released, or acked), whoever
 * took it: the members count what is done in a page they share.
 *
 * share_cost_table() is the same in one process, for -icount: the
 * instructions of a group's consume, of a share group's acquire with one
 * accept for a run of records, and with one accept a record; the last two
 * differ by the cost of an accept.
 *
 * share_latency_table() (sharelat) times a record from its produce to an
 * idle member acquiring it, the member waiting in the kernel or looking
 * every 10 ms.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "libmqdev.h"
#include "mqbench.h"

#define SH_SIZE		64
/*
 * RabbitMQ publishes and consumes some 1,000 a second under TCG: a drain
 * of 16,384 takes it half a minute.
 */
#define SH_MAX_COUNT	16384
#define SH_CAPACITY	(32 << 20)
/* RabbitMQ's consumers: basic.qos prefetch count */
#define SH_PREFETCH	64
/* a member that has seen nothing to take for this long gives up */
#define SH_IDLE_NS	(30 * 1000000000ULL)

/* How a drain reads: a consumer group, or a share group accepting so. */
enum sh_kind { SH_GROUP, SH_SHARE_EACH, SH_SHARE_RUN };

static const char *sh_topic(char *buf, size_t len)
{
	bench_topic_name(buf, len, "share");
	return buf;
}

/* A topic of one partition with @n checked 64-byte records: 0 or -1. */
static int sh_fill(const char *topic, uint64_t n)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = 1,
		      .capacity = SH_CAPACITY);
	char *buf = malloc(SH_SIZE * BATCH);
	void *tmpl = template_of(SH_SIZE);
	struct mqdev_msg msgs[BATCH];
	struct mqdev_producer *p = NULL;
	int fd = mqdev_open(), r = -1;
	uint64_t done = 0;
	uint32_t j, k;

	if (fd < 0 || !buf || !tmpl)
		goto out;
	mqdev_topic_delete(fd, topic);
	if (mqdev_topic_create(fd, topic, &cfg) ||
	    mqdev_producer_new(topic, NULL, &p))
		goto out;
	r = 0;
	while (done < n && r >= 0) {
		k = n - done < BATCH ? n - done : BATCH;
		for (j = 0; j < k; j++) {
			fill(buf + j * SH_SIZE, SH_SIZE, done + j, tmpl);
			mqdev_msg_init(&msgs[j], NULL, 0, buf + j * SH_SIZE,
				       SH_SIZE, 0);
		}
		r = mqdev_produce(p, msgs, k);
		done += r > 0 ? r : 0;
	}
out:
	mqdev_producer_free(p);
	if (fd >= 0)
		close(fd);
	free(buf);
	free(tmpl);
	return r < 0 ? -1 : 0;
}

static bool sh_ok(const struct mqdev_record *rec)
{
	return rec && mqdev_record_value_len(rec) == SH_SIZE &&
	       !check(mqdev_record_value(rec), SH_SIZE);
}

/*
 * Accept what one acquire took, each record on its own or the run at
 * once (one member's acquire of a backlog is one run of offsets): how
 * many of them were whole, or -1.
 */
static int sh_accept(struct mqdev_share *s, const struct mqdev_delivery *d,
		     int n, enum sh_kind kind)
{
	LIBMQDEV_OPTS(mqdev_share_ack_opts, o, .read = d, .nr_read = n);
	int i, ok = 0;

	for (i = 0; i < n; i++)
		ok += sh_ok(d[i].rec);
	if (kind == SH_SHARE_RUN &&
	    d[n - 1].offset - d[0].offset == (uint64_t)n - 1)
		return mqdev_share_ack(s, d[0].partition, d[0].offset,
				       d[n - 1].offset + 1, MQDEV_SHARE_ACCEPT,
				       &o) ? -1 : ok;
	o.nr_read = 1;
	for (i = 0; i < n; i++) {
		o.read = &d[i];
		if (mqdev_share_ack(s, d[i].partition, d[i].offset,
				    d[i].offset + 1, MQDEV_SHARE_ACCEPT, &o))
			return -1;
	}
	return ok;
}

/*
 * One member's drain: until @prog says all @n are done, acquire and
 * accept; the time of its last accept goes to @last (0: none).
 */
static int sh_member(struct mqdev_share *s, enum sh_kind kind, uint64_t n,
		     struct drain_progress *prog, uint64_t *last)
{
	struct mqdev_delivery d[BATCH];
	uint64_t idle = 0;
	int got, ok;

	*last = 0;
	while (__atomic_load_n(&prog->done, __ATOMIC_RELAXED) < n) {
		got = mqdev_share_acquire(s, 0, d, BATCH);
		if (got < 0)
			return -1;
		if (!got) {
			/* the others hold the rest of the window */
			if (!idle)
				idle = now_ns();
			else if (now_ns() - idle > SH_IDLE_NS)
				return -1;
			sched_yield();
			continue;
		}
		idle = 0;
		ok = sh_accept(s, d, got, kind);
		if (ok < 0)
			return -1;
		*last = now_ns();
		__atomic_add_fetch(&prog->done, got, __ATOMIC_RELAXED);
		__atomic_add_fetch(&prog->failed, got - ok, __ATOMIC_RELAXED);
	}
	return 0;
}

/* A member of consumer group @group reads until @n are done. */
static int sh_group_member(struct mqdev_consumer *c, uint64_t n,
			   struct drain_progress *prog, uint64_t *last)
{
	const struct mqdev_record *recs[BATCH];
	int got, i, ok, err;

	*last = 0;
	while (__atomic_load_n(&prog->done, __ATOMIC_RELAXED) < n) {
		err = mqdev_consumer_wait(c, 1000);
		if (err < 0)
			return -1;
		while ((got = mqdev_consumer_peek_batch(c, recs, BATCH)) > 0) {
			for (i = 0, ok = 0; i < got; i++)
				ok += sh_ok(recs[i]);
			mqdev_consumer_release(c);
			*last = now_ns();
			__atomic_add_fetch(&prog->done, got, __ATOMIC_RELAXED);
			__atomic_add_fetch(&prog->failed, got - ok,
					   __ATOMIC_RELAXED);
		}
		if (mqdev_consumer_commit(c))
			return -1;
	}
	return 0;
}

/* A child's part in run_drain(): join, wait for the go, drain, report. */
static void drain_child(const struct drainer *d, const void *arg, uint64_t n,
			struct drain_progress *prog, const int *fds)
{
	void *member = d->join(arg);
	uint64_t last = 0;
	int err;
	char ch;

	/* joined before the go: the group is whole when it starts */
	if (write(fds[2], member ? "r" : "x", 1) != 1 || !member ||
	    read(fds[0], &ch, 1) != 1)
		_exit(3);
	err = d->drain(member, n, prog, &last);
	if (write(fds[1], &last, sizeof(last)) != sizeof(last))
		_exit(3);
	/* leaving is not timed: until every member is done */
	while (read(fds[3], &ch, 1) > 0)
		;
	d->leave(member);
	_exit(err ? 1 : 0);
}

int64_t run_drain(const struct drainer *d, const void *arg, int members,
		  uint64_t n, const char *who)
{
	struct drain_progress *prog;
	int go[2], done[2], ready[2], hold[2], fds[4], i, ok = 1;
	pid_t pids[DRAIN_MAX_MEMBERS];
	int64_t ns;
	char ch;

	if (members > DRAIN_MAX_MEMBERS)
		return -1;
	prog = mmap(NULL, sizeof(*prog), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (prog == MAP_FAILED)
		return -1;
	if (pipe(go) || pipe(done) || pipe(ready) || pipe(hold))
		fail("pipe");
	fds[0] = go[0];
	fds[1] = done[1];
	fds[2] = ready[1];
	fds[3] = hold[0];
	for (i = 0; i < members; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			fail("fork");
		if (pids[i])
			continue;
		close(hold[1]);
		drain_child(d, arg, n, prog, fds);
	}
	for (i = 0; i < members; i++)
		ok &= read(ready[0], &ch, 1) == 1 && ch == 'r';
	ns = run_children(go[1], done[0], members, members, hold[1], pids,
			  members);
	if (!ok || prog->done != n || prog->failed) {
		fprintf(stderr, "mqbench: %s: %" PRIu64 " of %" PRIu64
			" done, %" PRIu64 " did not check out\n", who,
			prog->done, n, prog->failed);
		ns = -1;
	}
	for (i = 0; i < 2; i++) {
		close(go[i]);
		close(done[i]);
		close(ready[i]);
	}
	close(hold[0]);
	munmap(prog, sizeof(*prog));
	return ns;
}

/* A member of a drain: a consumer group's or a share group's. */
struct sh_member {
	enum sh_kind		kind;
	struct mqdev_consumer	*c;
	struct mqdev_share	*s;
};

struct sh_arg {
	const char	*topic;
	const char	*group;
	enum sh_kind	kind;
};

static void sh_leave(void *member)
{
	struct sh_member *m = member;

	mqdev_consumer_free(m->c);
	mqdev_share_free(m->s);
	free(m);
}

static void *sh_join(const void *arg)
{
	const struct sh_arg *a = arg;
	struct sh_member *m = calloc(1, sizeof(*m));
	int err;

	if (!m)
		return NULL;
	m->kind = a->kind;
	if (a->kind == SH_GROUP)
		err = mqdev_consumer_new(a->topic, NULL, &m->c) ||
		      mqdev_consumer_join(m->c, a->group, MQDEV_SEEK_EARLIEST);
	else
		err = mqdev_share_new(a->topic, a->group, NULL, &m->s);
	if (err) {
		sh_leave(m);
		return NULL;
	}
	return m;
}

static int sh_drain_member(void *member, uint64_t n,
			   struct drain_progress *prog, uint64_t *last)
{
	struct sh_member *m = member;

	return m->kind == SH_GROUP ? sh_group_member(m->c, n, prog, last) :
				     sh_member(m->s, m->kind, n, prog, last);
}

static const struct drainer sh_drainer = {
	.join = sh_join,
	.drain = sh_drain_member,
	.leave = sh_leave,
};

/*
 * @members drain the @n records of @topic as group @group: from the go to
 * the last record done, in ns, or -1.
 */
static int64_t sh_drain(const char *topic, const char *group,
			enum sh_kind kind, int members, uint64_t n)
{
	const struct sh_arg a = { topic, group, kind };

	return run_drain(&sh_drainer, &a, members, n, group);
}

/* The cases of the table; the RabbitMQ rows follow. */
static const struct sh_case {
	const char	*name;
	enum sh_kind	kind;
	int		members;
} sh_cases[] = {
	{ "consumer group, 1 member (commit a run)", SH_GROUP, 1 },
	{ "share group, 1 member, accept each", SH_SHARE_EACH, 1 },
	{ "share group, 8 members, accept each", SH_SHARE_EACH, 8 },
	{ "share group, 1 member, accept a run", SH_SHARE_RUN, 1 },
};

#define SH_NR	(sizeof(sh_cases) / sizeof(sh_cases[0]))

/* Case @c's median rate over @reps drains of the topic, a group each. */
static double sh_rate(const char *topic, unsigned int c, uint64_t n, int reps)
{
	char group[MQDEV_NAME_MAX + 1];
	double rate[16];
	int64_t ns;
	int r;

	for (r = 0; r < reps; r++) {
		snprintf(group, sizeof(group), "sb-%u-%d", c, r);
		ns = sh_drain(topic, group, sh_cases[c].kind,
			      sh_cases[c].members, n);
		if (ns <= 0)
			return -1;
		rate[r] = n * 1e9 / ns;
	}
	qsort(rate, reps, sizeof(rate[0]), cmp_double);
	return rate[reps / 2];
}

static void sh_row(const char *name, double rate, double base, FILE *json,
		   const char *peer)
{
	if (rate > 0)
		printf("| %s | %.0f | %.3gx |\n", name, rate, rate / base);
	else
		printf("| %s | %s | |\n", name,
		       rate == RABBITMQ_LEFT_OUT ? (no_rabbitmq ? "left out" :
						    "not run") : "FAILED");
	if (rate > 0)
		json_result(json, "share", peer, SH_SIZE,
			    "\"case\":\"%s\",\"msgs_per_s\":%.0f", name, rate);
}

int share_table(uint64_t count, int reps, FILE *json)
{
	static const int rabbit_consumers[] = { 1, 8 };
	uint64_t n = count < SH_MAX_COUNT ? count : SH_MAX_COUNT;
	double rates[SH_NR], rabbit[2] = { RABBITMQ_LEFT_OUT, RABBITMQ_LEFT_OUT };
	char topic[MQDEV_NAME_MAX + 1], name[64];
	bool have_rabbit;
	unsigned int i;
	int failed = 0;

	sh_topic(topic, sizeof(topic));
	if (sh_fill(topic, n)) {
		printf("\nshare: FAILED to fill the topic\n");
		bench_topic_delete(topic);
		return 1;
	}
	for (i = 0; i < SH_NR; i++)
		rates[i] = sh_rate(topic, i, n, reps);
	bench_topic_delete(topic);
	have_rabbit = !no_rabbitmq && !rabbitmq_start();
	for (i = 0; have_rabbit && i < 2; i++)
		rabbit[i] = rabbitmq_consume_rate(SH_SIZE, n,
						  rabbit_consumers[i],
						  SH_PREFETCH, reps);

	printf("\nshare: %" PRIu64 " records of %d B queued on 1 partition, "
	       "then drained, each record's checksum checked (records/s)\n\n",
	       n, SH_SIZE);
	printf("| how | records/s | vs consumer group |\n|---|---:|---:|\n");
	for (i = 0; i < SH_NR; i++) {
		failed |= rates[i] < 0;
		sh_row(sh_cases[i].name, rates[i], rates[0], json, "mqdev");
	}
	for (i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "rabbitmq, %d consumer%s, prefetch "
			 "%d, ack each", rabbit_consumers[i],
			 rabbit_consumers[i] > 1 ? "s" : "", SH_PREFETCH);
		failed |= have_rabbit && rabbit[i] < 0;
		sh_row(name, rabbit[i], rates[0], json, "rabbitmq");
	}
	/* the target: per-record accepts at 5x RabbitMQ's acked rate */
	for (i = 0; have_rabbit && i < 2; i++) {
		if (rabbit[i] <= 0 || rates[1 + i] <= 0)
			continue;
		printf("%sshare group, %d member%s, accept each / rabbitmq, %d "
		       "consumer%s: %.1fx (target >= 5x: %s)\n", i ? "" : "\n",
		       rabbit_consumers[i], i ? "s" : "", rabbit_consumers[i],
		       i ? "s" : "", rates[1 + i] / rabbit[i],
		       rates[1 + i] / rabbit[i] >= 5 ? "met" : "missed");
		json_result(json, "share", "rabbitmq", SH_SIZE,
			    "\"members\":%d,\"mqdev_ratio\":%.2f",
			    rabbit_consumers[i], rates[1 + i] / rabbit[i]);
	}
	return failed;
}

/* ---- one process, for -icount ------------------------------------------ */

/* Group @group reads the @n records of @topic: guest ns per record. */
static double sh_cost_group(const char *topic, uint64_t n)
{
	const struct mqdev_record *recs[BATCH];
	struct mqdev_consumer *c;
	uint64_t i = 0, ok = 0, t0;
	int got, j, idle = 0;

	if (mqdev_consumer_new(topic, NULL, &c))
		return -1;
	if (mqdev_consumer_join(c, "sb-cost-g", MQDEV_SEEK_EARLIEST))
		goto fail;
	t0 = now_ns();
	while (i < n) {
		got = mqdev_consumer_peek_batch(c, recs, BATCH);
		/* the assignment may come after the join: wait for it */
		if (!got && idle++ < 10 && mqdev_consumer_wait(c, 1000) >= 0)
			continue;
		if (got <= 0 || mqdev_consumer_release(c) ||
		    mqdev_consumer_commit(c))
			goto fail;
		for (j = 0; j < got; j++)
			ok += sh_ok(recs[j]);
		i += got;
	}
	t0 = now_ns() - t0;
	mqdev_consumer_free(c);
	return ok == n ? (double)t0 / n : -1;
fail:
	mqdev_consumer_free(c);
	return -1;
}

/* Share group @group, accepting as @kind: guest ns per record. */
static double sh_cost_share(const char *topic, const char *group,
			    enum sh_kind kind, uint64_t n)
{
	struct mqdev_delivery d[BATCH];
	struct mqdev_share *s;
	uint64_t i = 0, ok = 0, t0;
	int got, r = 0;

	if (mqdev_share_new(topic, group, NULL, &s))
		return -1;
	t0 = now_ns();
	while (i < n && r >= 0) {
		got = mqdev_share_acquire(s, 0, d, BATCH);
		r = got > 0 ? sh_accept(s, d, got, kind) : -1;
		ok += r > 0 ? r : 0;
		i += got > 0 ? got : 0;
	}
	t0 = now_ns() - t0;
	mqdev_share_free(s);
	return r >= 0 && ok == n ? (double)t0 / n : -1;
}

int share_cost_table(uint64_t count, FILE *json)
{
	uint64_t n = count < SH_MAX_COUNT ? count : SH_MAX_COUNT;
	char topic[MQDEV_NAME_MAX + 1];
	double g, run, each;

	sh_topic(topic, sizeof(topic));
	if (sh_fill(topic, n)) {
		bench_topic_delete(topic);
		return 1;
	}
	g = sh_cost_group(topic, n);
	run = sh_cost_share(topic, "sb-cost-run", SH_SHARE_RUN, n);
	each = sh_cost_share(topic, "sb-cost-each", SH_SHARE_EACH, n);
	bench_topic_delete(topic);
	printf("\ncost of a share group: one process, %" PRIu64 " records of "
	       "%d B queued, then read %d at a time, guest ns per record "
	       "(instructions, under -icount)\n\n", n, SH_SIZE, BATCH);
	printf("| how | consume | vs consumer group |\n|---|---:|---:|\n");
	printf("| consumer group (a commit a run) | %.0f | 1.00x |\n", g);
	printf("| share group, acquire, accept the run | %.0f | %.2fx |\n", run,
	       run / g);
	printf("| share group, acquire, accept each | %.0f | %.2fx |\n", each,
	       each / g);
	printf("\nan accept of one record: %.0f (accept each - accept the run, "
	       "per record)\n", each - run);
	json_result(json, "cost", "mqdev-share", SH_SIZE,
		    "\"group_ns\":%.0f,\"share_run_ns\":%.0f,"
		    "\"share_each_ns\":%.0f,\"accept_ns\":%.0f", g, run, each,
		    each - run);
	return g < 0 || run < 0 || each < 0;
}

/* ---- sharelat: produce to a share member seeing the record -------------- */

/*
 * One producer and one idle share-group member, in two threads: each
 * record carries its send time, and the member notes when it acquired it.
 * The member either looks again every 10 ms when it finds nothing (what
 * mqctl consume --share-group did before the kernel woke members), or
 * sleeps in mqdev_share_acquire_wait().  Records are sent 3 to 9 ms apart,
 * so a 10 ms look lands anywhere in its period.
 */
#define SL_COUNT	200

struct sl_member {
	struct mqdev_share	*s;
	bool			wait;
	uint64_t		lat[SL_COUNT];
	int			seen;
	int			err;
};

static void *sl_member_run(void *arg)
{
	struct sl_member *m = arg;
	struct mqdev_delivery d[16];
	uint64_t sent, now, until = now_ns() + 60 * 1000000000ULL;
	int got, i;

	while (m->seen < SL_COUNT && now_ns() < until) {
		got = m->wait ?
		      mqdev_share_acquire_wait(m->s, MQDEV_PARTITION_ANY, d,
					       16, 5000) :
		      mqdev_share_acquire(m->s, MQDEV_PARTITION_ANY, d, 16);
		if (got < 0)
			break;
		if (!got) {
			if (!m->wait)
				usleep(10000);
			continue;
		}
		now = now_ns();
		for (i = 0; i < got && m->seen < SL_COUNT; i++) {
			if (!d[i].rec)
				continue;
			memcpy(&sent, mqdev_record_value(d[i].rec),
			       sizeof(sent));
			m->lat[m->seen++] = now - sent;
			mqdev_share_ack(m->s, d[i].partition, d[i].offset,
					d[i].offset + 1, MQDEV_SHARE_ACCEPT,
					NULL);
		}
	}
	m->err = m->seen < SL_COUNT;
	return NULL;
}

static int sl_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The latencies of one way of waiting, sorted into @m->lat: 0 or -1. */
static int sl_run(const char *topic, struct sl_member *m)
{
	LIBMQDEV_OPTS(mqdev_share_opts, opts, .reset = MQDEV_SEEK_LATEST);
	struct mqdev_producer *p = NULL;
	struct mqdev_msg msg;
	pthread_t thread;
	uint64_t t;
	int i, r = -1;

	if (mqdev_share_new(topic, m->wait ? "sl-wait" : "sl-poll", &opts,
			    &m->s))
		return -1;
	if (mqdev_producer_new(topic, NULL, &p) ||
	    pthread_create(&thread, NULL, sl_member_run, m))
		goto out;
	usleep(100000);		/* the member is idle when the first comes */
	for (i = 0; i < SL_COUNT; i++) {
		usleep(3000 + (i * 7919 % 7) * 1000);
		t = now_ns();
		mqdev_msg_init(&msg, NULL, 0, &t, sizeof(t), 0);
		if (mqdev_produce(p, &msg, 1) != 1)
			break;
	}
	pthread_join(thread, NULL);
	if (!m->err) {
		qsort(m->lat, SL_COUNT, sizeof(m->lat[0]), sl_cmp);
		r = 0;
	}
out:
	mqdev_producer_free(p);
	mqdev_share_free(m->s);
	return r;
}

int share_latency_table(uint64_t count, FILE *json)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = 1,
		      .capacity = 1 << 20);
	static struct sl_member m[2] = { { .wait = false }, { .wait = true } };
	static const char *const how[2] = {
		"look every 10 ms (before)", "acquire_wait (kernel wake-up)",
	};
	char topic[MQDEV_NAME_MAX + 1];
	int fd = mqdev_open(), i, failed = 0;
	uint64_t *l;

	(void)count;
	sh_topic(topic, sizeof(topic));
	if (fd < 0 || mqdev_topic_create(fd, topic, &cfg)) {
		printf("\nsharelat: FAILED to make the topic\n");
		return 1;
	}
	for (i = 0; i < 2; i++)
		failed |= sl_run(topic, &m[i]) ? 1 << i : 0;
	mqdev_topic_delete(fd, topic);
	close(fd);

	printf("\nsharelat: %d records of 8 B sent 3-9 ms apart to an idle "
	       "share-group member: produce to acquired (us)\n\n", SL_COUNT);
	printf("| how | p50 | p90 | p99 |\n|---|---:|---:|---:|\n");
	for (i = 0; i < 2; i++) {
		l = m[i].lat;
		if (failed & 1 << i) {
			printf("| %s | FAILED | | |\n", how[i]);
			continue;
		}
		printf("| %s | %.0f | %.0f | %.0f |\n", how[i],
		       l[SL_COUNT / 2] / 1e3, l[SL_COUNT * 9 / 10] / 1e3,
		       l[SL_COUNT * 99 / 100] / 1e3);
		json_result(json, "sharelat", "mqdev", 8,
			    "\"case\":\"%s\",\"p50_ns\":%" PRIu64
			    ",\"p99_ns\":%" PRIu64, i ? "wait" : "poll10ms",
			    l[SL_COUNT / 2], l[SL_COUNT * 99 / 100]);
	}
	if (!failed)
		printf("\np50 before / after: %.1fx\n",
		       (double)m[0].lat[SL_COUNT / 2] /
		       (double)m[1].lat[SL_COUNT / 2]);
	return failed ? 1 : 0;
}
