// SPDX-License-Identifier: GPL-2.0
/*
 * mqbench: /dev/mq against the IPC a user already has, and a real broker,
 * in one run.
 *
 * Every producer writes a checksum of the payload into the message's last 8
 * bytes and every consumer reads every byte and checks it, so reading in
 * place is compared fairly with copying.  Each peer is used the way its own
 * users would use it at its fastest.  Every scenario is repeated and reports
 * the median with the spread (min-max).  Scenarios:
 *
 *   throughput  one producer to one consumer, 64 B, 1 KiB and 16 KiB
 *   group       four producers into four partitions, a group of four
 *               (for the other peers: four independent pairs)
 *   fanout      one producer to 1, 4 and 16 groups: aggregate deliveries
 *   backlog     draining a full backlog against the steady state
 *   latency     ping-pong round trips, p50/p99/p99.9; --pin puts the
 *               two sides on CPUs 0 and 1, where the scheduler would
 *               otherwise choose, here and in the delay scenario's
 *               ping-pong baseline (latency.c)
 *   delay       delayed messages: how late they come, against ping-pong
 *   memory      memory per queued 64-byte message
 *   kafka       librdkafka through mqdev-kafkad against Redis, native
 *               and a loopback TCP echo (kafka.c)
 *   exchange    routing through direct, topic and fanout exchanges
 *               against a plain produce, and RabbitMQ (exchange.c,
 *               rabbitmq.c; --no-rabbitmq leaves RabbitMQ out: its start
 *               alone takes a minute or more under TCG)
 *   share       a share group of 1 and 8 members accepting each record
 *               against a consumer group, and RabbitMQ's acked consume
 *               (share.c; RabbitMQ shared with exchange, and as
 *               --no-rabbitmq says)
 *   cost        single-process time per message, produce and consume: run
 *               under -icount, where guest time counts instructions; then
 *               the excost and sharecost rows
 *   excost      the same for a produce through exchanges (excost.c)
 *   sharecost   the same for a share group's acquire and accept (share.c)
 *   sharelat    produce to an idle share member acquiring it: woken by the
 *               kernel, or looking every 10 ms (share.c)
 *   leg         one ping-pong leg in one process, without sleeping: what
 *               the calls cost apart from the wake-up (latency.c)
 *   trace       the cost scenario's loop, cut by marks, until the host
 *               stops it: the guest half of tools/vm/insn-trace
 *   swriter     a single-writer topic against the shared-memory ring, 64 B
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libmqdev.h"
#include "mqbench.h"

/* One run: the consumer's time from the go to its last message, in ns. */
int64_t run_once(const struct peer *p, struct bench *b)
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

static int reps = 3;
uint32_t fetch_min;
uint32_t fetch_max_wait_ms = 1;
bool no_rabbitmq;
bool pp_pin;
static bool json_first = true;

void json_result(FILE *json, const char *scenario, const char *peer,
		 size_t size, const char *fmt, ...)
{
	va_list ap;

	if (!json)
		return;
	fprintf(json, "%s{\"scenario\":\"%s\",\"peer\":\"%s\",\"size\":%zu,",
		json_first ? "" : ",\n", scenario, peer, size);
	va_start(ap, fmt);
	vfprintf(json, fmt, ap);
	va_end(ap);
	fputc('}', json);
	json_first = false;
}

/* A rate's median and spread over the repetitions of @once. */
struct rate {
	double med, min, max;
};

static int measure(int64_t (*once)(const struct peer *, struct bench *, int),
		   const struct peer *p, struct bench *b, int arg,
		   double scale, struct rate *out)
{
	double rate[16];
	int64_t ns;
	int r;

	for (r = 0; r < reps; r++) {
		ns = once(p, b, arg);
		if (ns <= 0)
			return -1;
		rate[r] = scale * 1e9 / ns;
	}
	qsort(rate, reps, sizeof(rate[0]), cmp_double);
	out->med = rate[reps / 2];
	out->min = rate[0];
	out->max = rate[reps - 1];
	return 0;
}

static void json_rate(FILE *json, const char *scenario, const char *peer,
		      size_t size, const struct rate *r, const char *extra)
{
	json_result(json, scenario, peer, size,
		    "%s\"msgs_per_s\":%.0f,\"min\":%.0f,\"max\":%.0f",
		    extra, r->med, r->min, r->max);
}

static int64_t once_pair(const struct peer *p, struct bench *b, int unused)
{
	return run_once(p, b);
}

static int64_t once_parallel(const struct peer *p, struct bench *b, int k)
{
	return run_parallel(p, b, k);
}

static int64_t once_backlog(const struct peer *p, struct bench *b, int unused)
{
	return run_backlog(p, b);
}

static int64_t once_groups(const struct peer *p, struct bench *b, int groups)
{
	return groups < 0 ? run_groups(b, -groups, 1, -groups) :
			    run_groups(b, 1, groups, 1);
}

static const struct peer *peer_named(const char *name)
{
	unsigned int i;

	for (i = 0; i < nr_peers; i++)
		if (!strcmp(peers[i].name, name))
			return &peers[i];
	return NULL;
}

/* --peers: the throughput, swriter and latency tables' peers, all by default */
static const char *peer_list;
static bool wanted(const char *list, const char *name, bool by_default);

static int throughput_table(uint64_t count, FILE *json)
{
	static const size_t sizes[] = { 64, 1024, 16384 };
	struct rate r;
	unsigned int s, i;
	int failed = 0;

	printf("\nthroughput: 1 producer -> 1 consumer, messages per second\n\n");
	printf("| peer | size | msgs/s | MB/s | spread |\n");
	printf("|---|---:|---:|---:|---:|\n");
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		struct bench b = { .size = sizes[s], .count = count };

		if (sizes[s] >= 16384)
			b.count = count / 8 ? count / 8 : 1;
		for (i = 0; i < nr_peers; i++) {
			if (!peer_wanted(peers[i].name))
				continue;
			if (measure(once_pair, &peers[i], &b, 0, b.count, &r)) {
				printf("| %s | %zu | FAILED | | |\n",
				       peers[i].name, b.size);
				failed++;
				continue;
			}
			printf("| %s | %zu | %.0f | %.1f | %.0f-%.0f |\n",
			       peers[i].name, b.size, r.med,
			       r.med * b.size / 1e6, r.min, r.max);
			fflush(stdout);
			json_rate(json, "throughput", peers[i].name, b.size, &r,
				  "");
		}
	}
	return failed;
}

/*
 * The single-writer path against the shared-memory ring, in the same run:
 * the target is half the ring (issue 20); the ordinary path and the pipe
 * for scale.
 */
static int swriter_table(uint64_t count, FILE *json)
{
	static const char *const names[] = {
		"mqdev-swriter", "shm-ring", "mqdev", "pipe",
	};
	struct bench b = { .size = 64, .count = count };
	struct rate r[4] = {};
	unsigned int i;
	int failed = 0;

	printf("\nswriter: 1 producer -> 1 consumer, 64 B, messages per "
	       "second, single writer against the shared-memory ring\n\n");
	printf("| peer | msgs/s | spread | of shm-ring |\n|---|---:|---:|---:|\n");
	for (i = 0; i < 4; i++) {
		const struct peer *p = peer_named(names[i]);

		if (!peer_wanted(names[i]))
			continue;
		if (!p || measure(once_pair, p, &b, 0, b.count, &r[i])) {
			r[i].med = 0;
			failed++;
		}
	}
	for (i = 0; i < 4; i++) {
		if (!peer_wanted(names[i]))
			continue;
		printf("| %s | %.0f | %.0f-%.0f | %.2f |\n", names[i], r[i].med,
		       r[i].min, r[i].max, r[1].med ? r[i].med / r[1].med : 0);
		if (r[i].med)
			json_rate(json, "swriter", names[i], 64, &r[i], "");
	}
	return failed;
}

/* Four producers, four consumers: mqdev's group of four, others' pairs. */
static int group_table(uint64_t count, FILE *json)
{
	static const char *const others[] = {
		"posix-mq", "unix-mmsg", "pipe", "shm-ring",
	};
	struct bench b = { .size = 64, .count = count };
	struct rate r;
	unsigned int i;
	int failed = 0;

	printf("\ngroup: 4 producers -> 4 consumers, 64 B, messages per "
	       "second in all\n\n");
	printf("| peer | how | msgs/s | spread |\n|---|---|---:|---:|\n");
	if (measure(once_groups, NULL, &b, -4, b.count, &r)) {
		printf("| mqdev | | FAILED | |\n");
		failed++;
	} else {
		printf("| mqdev | 4 partitions, a group of 4 | %.0f | %.0f-%.0f "
		       "|\n", r.med, r.min, r.max);
		json_rate(json, "group", "mqdev", 64, &r, "");
	}
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		const struct peer *p = peer_named(others[i]);

		if (!p || measure(once_parallel, p, &b, 4, b.count, &r)) {
			printf("| %s | | FAILED | |\n", others[i]);
			failed++;
			continue;
		}
		printf("| %s | 4 independent pairs | %.0f | %.0f-%.0f |\n",
		       others[i], r.med, r.min, r.max);
		fflush(stdout);
		json_rate(json, "group", others[i], 64, &r, "");
	}
	return failed;
}

/*
 * The CPU time the whole machine has spent, in clock ticks: busy (all but
 * idle and iowait) into *@busy, the total returned; 0 if /proc/stat
 * cannot say.
 */
static unsigned long long cpu_ticks(unsigned long long *busy)
{
	unsigned long long v[8] = {}, total = 0;
	FILE *f = fopen("/proc/stat", "r");
	int i, n;

	if (!f)
		return 0;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n != 8)
		return 0;
	for (i = 0; i < 8; i++)
		total += v[i];
	*busy = total - v[3] - v[4];
	return total;
}

/*
 * Fan-out's consumers configured as for throughput: Kafka's
 * max.partition.fetch.bytes for fetch.min.bytes, and a fetch.max.wait.ms
 * the producer fills that within.  Fewer, larger fetches are fewer
 * sleeps and wake-ups, which TCG charges far above their instructions
 * (README, "Wake-ups, as TCG prices them").
 */
#define FANOUT_FETCH_MIN	(1U << 20)
#define FANOUT_FETCH_WAIT_MS	100

/*
 * Fan-out, with how busy the CPUs were while it ran (all the repetitions,
 * set-up included): the bound in the README assumes both vCPUs busy, so a
 * ratio short of it with CPUs idle is time lost to sleeping and waking,
 * and one with them busy is instructions that cost more than counted.
 */
static int fanout_pass(uint64_t count, FILE *json)
{
	static const int groups[] = { 1, 4, 16 };
	struct bench b = { .size = 64, .count = count };
	unsigned long long busy0 = 0, busy1 = 0, total0, total1;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	double one = 0, used;
	char extra[128];
	struct rate r;
	unsigned int i;

	printf("\nfan-out: 1 producer -> N consumer groups (one member each), "
	       "64 B, aggregate deliveries; fetch-min %u bytes, fetch-max-wait "
	       "%u ms\n\n", fetch_min, fetch_max_wait_ms);
	printf("| groups | deliveries/s | vs 1 group | spread | CPUs busy |\n");
	printf("|---:|---:|---:|---:|---:|\n");
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		total0 = cpu_ticks(&busy0);
		if (measure(once_groups, NULL, &b, groups[i],
			    (double)b.count * groups[i], &r)) {
			printf("| %d | FAILED | | | |\n", groups[i]);
			return 1;
		}
		total1 = cpu_ticks(&busy1);
		used = total0 && total1 > total0 ?
		       (double)(busy1 - busy0) / (total1 - total0) * cpus : -1;
		if (groups[i] == 1)
			one = r.med;
		printf("| %d | %.0f | %.2fx | %.0f-%.0f | %.2f of %ld |\n",
		       groups[i], r.med, r.med / one, r.min, r.max, used, cpus);
		fflush(stdout);
		snprintf(extra, sizeof(extra),
			 "\"groups\":%d,\"cpus_busy\":%.2f,\"fetch_min\":%u,"
			 "\"fetch_max_wait_ms\":%u,", groups[i], used, fetch_min,
			 fetch_max_wait_ms);
		json_rate(json, "fanout", "mqdev", 64, &r, extra);
	}
	return 0;
}

/*
 * Fan-out with the consumers --fetch-min and --fetch-max-wait give, then,
 * unless they are already so, with fetch sizes for throughput: for a run
 * long enough that such a fetch is not its last as well as its first.
 */
static int fanout_table(uint64_t count, FILE *json)
{
	uint32_t min = fetch_min, wait = fetch_max_wait_ms;
	uint64_t bytes = count * record_space(64);
	int failed = fanout_pass(count, json);

	if (min == FANOUT_FETCH_MIN && wait == FANOUT_FETCH_WAIT_MS)
		return failed;
	if (bytes < 4 * FANOUT_FETCH_MIN) {
		printf("\nfan-out with fetch-min %u bytes: not run, %" PRIu64
		       " messages are under 4 such fetches\n",
		       FANOUT_FETCH_MIN, count);
		return failed;
	}
	fetch_min = FANOUT_FETCH_MIN;
	fetch_max_wait_ms = FANOUT_FETCH_WAIT_MS;
	failed += fanout_pass(count, json);
	fetch_min = min;
	fetch_max_wait_ms = wait;
	return failed;
}

/* Draining a backlog against the steady state, for the log-keeping peers. */
static int backlog_table(uint64_t count, FILE *json)
{
	static const char *const names[] = { "mqdev", "redis" };
	struct bench b = { .size = 64, .count = count };
	struct rate steady, drain;
	unsigned int i;
	int failed = 0;

	printf("\nbacklog: %" PRIu64 " messages of 64 B queued first, then "
	       "drained, against the steady state\n\n", count);
	printf("| peer | steady msgs/s | drain msgs/s | drain / steady |\n");
	printf("|---|---:|---:|---:|\n");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct peer *p = peer_named(names[i]);

		if (!p || measure(once_pair, p, &b, 0, b.count, &steady) ||
		    measure(once_backlog, p, &b, 0, b.count, &drain)) {
			printf("| %s | FAILED | | |\n", names[i]);
			failed++;
			continue;
		}
		printf("| %s | %.0f | %.0f | %.2f |\n", names[i], steady.med,
		       drain.med, drain.med / steady.med);
		fflush(stdout);
		json_rate(json, "backlog", names[i], 64, &drain, "");
	}
	return failed;
}

static int memory_table(uint64_t count, FILE *json)
{
	long depth = count > 65536 ? 65536 : (long)count;
	double mqdev, pmq, redis;

	mqdev = mqdev_bytes_per_msg(64, count);
	pmq = pmq_bytes_per_msg(64, depth);
	redis = redis_bytes_per_msg(64, count);
	printf("\nmemory per queued 64-byte message (bytes)\n\n");
	printf("| peer | bytes | how measured |\n|---|---:|---|\n");
	printf("| mqdev | %.1f | ring bytes per record, %" PRIu64 " queued "
	       "(the ring itself is allocated whole at creation) |\n", mqdev,
	       count);
	printf("| posix-mq | %.1f | slab growth, %ld queued |\n", pmq, depth);
	printf("| redis | %.1f | INFO used_memory growth, %" PRIu64
	       " queued |\n", redis, count);
	json_result(json, "memory", "mqdev", 64, "\"bytes\":%.1f", mqdev);
	json_result(json, "memory", "posix-mq", 64, "\"bytes\":%.1f", pmq);
	json_result(json, "memory", "redis", 64, "\"bytes\":%.1f", redis);
	return mqdev < 0 || pmq < 0 || redis < 0;
}

/* Under -icount shift=0 a guest nanosecond is one instruction. */
static int cost_table(uint64_t count, FILE *json)
{
	struct bench b = { .size = 64, .count = count - count % BATCH + BATCH };
	static const char *const names[] = {
		"mqdev", "mqdev-msg", "posix-mq", "mqdev-swriter", "shm-ring",
		"pipe", "mqdev-read",
	};
	double prod[sizeof(names) / sizeof(names[0])];
	double cons[sizeof(names) / sizeof(names[0])];
	unsigned int i;
	int err;

	err = mqdev_cost(&b, MQDEV_KIND_BATCH, &prod[0], &cons[0]) |
	      mqdev_cost(&b, MQDEV_KIND_MSGS, &prod[1], &cons[1]) |
	      pmq_cost(&b, &prod[2], &cons[2]) |
	      mqdev_cost(&b, MQDEV_KIND_SWRITER, &prod[3], &cons[3]) |
	      shm_cost(&b, &prod[4], &cons[4]) |
	      pipe_cost(&b, &prod[5], &cons[5]) |
	      mqdev_cost(&b, MQDEV_KIND_READ, &prod[6], &cons[6]);
	printf("\ncost: one process, batches of %d produced then consumed, "
	       "64 B, guest ns per message (instructions, under -icount)\n\n",
	       BATCH);
	printf("| peer | produce | consume | total |\n|---|---:|---:|---:|\n");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		printf("| %s | %.0f | %.0f | %.0f |\n", names[i], prod[i],
		       cons[i], prod[i] + cons[i]);
		json_result(json, "cost", names[i], 64,
			    "\"produce_ns\":%.0f,\"consume_ns\":%.0f", prod[i],
			    cons[i]);
	}
	err |= exchange_cost_table(count, json);
	return share_cost_table(count, json) || err ? 1 : 0;
}

/* $MQBENCH_TRACE_KIND: the cost scenario's rows that can be traced. */
static const struct {
	const char *name;
	enum mqdev_kind kind;
} trace_kinds[] = {
	{ "batch", MQDEV_KIND_BATCH },
	{ "msgs", MQDEV_KIND_MSGS },
	{ "swriter", MQDEV_KIND_SWRITER },
	{ "read", MQDEV_KIND_READ },
};

/*
 * tools/vm/insn-trace's guest half: the cost scenario's loop between marks
 * until the host says stop, in $MQBENCH_TRACE_DIR; $MQBENCH_TRACE_KIND
 * (trace_kinds[], batch when unset) picks the path, and
 * $MQBENCH_TRACE_BATCH (1-64) makes the batches shorter.
 */
static int trace_table(uint64_t count, FILE *json)
{
	const char *dir = getenv("MQBENCH_TRACE_DIR");
	const char *kind = getenv("MQBENCH_TRACE_KIND");
	const char *per_call = getenv("MQBENCH_TRACE_BATCH");
	struct bench b = { .size = 64, .count = UINT64_MAX / 2 };
	size_t i, nr = sizeof(trace_kinds) / sizeof(trace_kinds[0]);

	(void)count;
	(void)json;
	if (!dir) {
		fprintf(stderr, "mqbench: trace wants $MQBENCH_TRACE_DIR "
			"(tools/vm/insn-trace sets it)\n");
		return 1;
	}
	for (i = 0; kind && i < nr; i++)
		if (!strcmp(kind, trace_kinds[i].name))
			break;
	if (i == nr) {
		fprintf(stderr, "mqbench: no trace kind %s\n", kind);
		return 1;
	}
	return mqdev_trace(&b, kind ? trace_kinds[i].kind : MQDEV_KIND_BATCH,
			   dir, per_call ? atoi(per_call) : 0) ? 1 : 0;
}

static int exchange_table_reps(uint64_t count, FILE *json)
{
	return exchange_table(count, reps, json);
}

/* Round trips are slower than a stream: a tenth of the count of them. */
static int latency_table_count(uint64_t count, FILE *json)
{
	return latency_table(count / 10, reps, json);
}

static int share_table_reps(uint64_t count, FILE *json)
{
	return share_table(count, reps, json);
}

static int kafka_table_reps(uint64_t count, FILE *json)
{
	return kafka_table(count, reps, json);
}

static const struct {
	const char *name;
	int (*table)(uint64_t count, FILE *json);
	bool by_default;
} scenarios[] = {
	{ "throughput", throughput_table, true },
	{ "group", group_table, true },
	{ "fanout", fanout_table, true },
	{ "backlog", backlog_table, true },
	{ "latency", latency_table_count, true },
	{ "memory", memory_table, true },
	{ "durable", durable_table, true },
	{ "delay", delay_table, true },
	{ "kafka", kafka_table_reps, true },
	{ "exchange", exchange_table_reps, true },
	{ "share", share_table_reps, true },
	{ "cost", cost_table, false },
	{ "excost", exchange_cost_table, false },
	{ "sharecost", share_cost_table, false },
	{ "sharelat", share_latency_table, false },
	{ "trace", trace_table, false },
	{ "swriter", swriter_table, true },
	{ "leg", leg_table, false },
};

/* No /dev/mq: a run of peers other than mqdev. */
static bool no_mqdev(int err)
{
	return err == -ENOENT || err == -ENODEV || err == -ENXIO;
}

/*
 * The topics named mqbench* there are now, into *@names (to be freed);
 * how many, or -errno.
 */
static int bench_topics(char (**names)[MQDEV_NAME_SIZE])
{
	int fd = mqdev_open(), n, i, kept = 0;

	*names = NULL;
	if (fd < 0)
		return fd;
	n = mqdev_topic_list(fd, names);
	close(fd);
	for (i = 0; i < n; i++)
		if (!strncmp((*names)[i], "mqbench", 7))
			memmove((*names)[kept++], (*names)[i],
				MQDEV_NAME_SIZE);
	return n < 0 ? n : kept;
}

static bool listed(char (*names)[MQDEV_NAME_SIZE], int n, const char *name)
{
	while (n-- > 0)
		if (!strcmp(names[n], name))
			return true;
	return false;
}

/*
 * Each scenario deletes the topics it made: a ring left behind counts
 * against max_bytes in every scenario after it (the durable scenario's
 * 128 MiB once failed kafka's with ENOSPC).  @before holds the @nr_before
 * mqbench* topics there were before @scenario ran: those, a user's or
 * another run's, are not touched.  Returns 1, having named and deleted
 * what @scenario added, when it added any or the topics cannot be listed.
 */
static int topics_left(const char *scenario,
		       char (*before)[MQDEV_NAME_SIZE], int nr_before)
{
	char (*names)[MQDEV_NAME_SIZE];
	int n = bench_topics(&names), fd, i, left = 0, err;

	if (no_mqdev(n) && no_mqdev(nr_before)) {
		free(names);
		return 0;
	}
	if (n < 0 || nr_before < 0) {
		fprintf(stderr, "mqbench: %s: listing topics: %s\n", scenario,
			strerror(n < 0 ? -n : -nr_before));
		free(names);
		return 1;
	}
	fd = mqdev_open();
	for (i = 0; i < n; i++) {
		if (listed(before, nr_before, names[i]))
			continue;
		err = fd < 0 ? fd : mqdev_topic_delete(fd, names[i]);
		fprintf(stderr, "mqbench: %s: left topic %s behind%s%s\n",
			scenario, names[i], err ? "; deleting it: " : "",
			err ? strerror(-err) : "");
		left = 1;
	}
	if (fd >= 0)
		close(fd);
	free(names);
	return left;
}

static bool wanted(const char *list, const char *name, bool by_default)
{
	size_t len = strlen(name);
	const char *at;

	if (!list)
		return by_default;
	for (at = strstr(list, name); at; at = strstr(at + 1, name))
		if ((at == list || at[-1] == ',') &&
		    (at[len] == ',' || !at[len]))
			return true;
	return false;
}

/* --peers: is peer @name to be run?  All are, without the option. */
bool peer_wanted(const char *name)
{
	return wanted(peer_list, name, true);
}

/* Is @flag among the words of /proc/cpuinfo's flags line @flags? */
static bool has_flag(const char *flags, const char *flag)
{
	size_t len = strlen(flag);
	const char *at;

	for (at = strstr(flags, flag); at; at = strstr(at + 1, flag))
		if (at[-1] == ' ' && (at[len] == ' ' || at[len] == '\n'))
			return true;
	return false;
}

/*
 * The CPU model, and whether it has ERMS and FSRM: with them the kernel's
 * copies (and glibc's large ones) are rep movsb, which TCG runs a byte at
 * a time; without, rep movsq and vector loops, several bytes at a time.
 */
static void cpu_model(char *cpu, size_t len)
{
	char line[4096], model[256] = "unknown";
	bool erms = false, fsrm = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "model name", 10) && !strcmp(model, "unknown")) {
			snprintf(model, sizeof(model), "%s", strchr(line, ':') + 2);
			model[strcspn(model, "\n")] = '\0';
		} else if (!strncmp(line, "flags", 5)) {
			erms = has_flag(line, "erms");
			fsrm = has_flag(line, "fsrm");
			break;
		}
	}
	if (f)
		fclose(f);
	snprintf(cpu, len, "%s, %s", model,
		 erms && fsrm ? "erms fsrm" : erms ? "erms, no fsrm" :
		 fsrm ? "fsrm, no erms" : "no erms or fsrm");
}

/* --fetch-max-wait: whole milliseconds, 1 to 10 s, or the run fails. */
static uint32_t parse_wait_ms(const char *arg)
{
	unsigned long ms;
	char *end;

	errno = 0;
	ms = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || ms < 1 ||
	    ms > 10000) {
		if (!errno)
			errno = EINVAL;
		fail("--fetch-max-wait: 1 to 10000 ms");
	}
	return ms;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "reps", required_argument, NULL, 'r' },
		{ "json", required_argument, NULL, 'j' },
		{ "scenario", required_argument, NULL, 's' },
		{ "peers", required_argument, NULL, 'p' },
		{ "fetch-min", required_argument, NULL, 'f' },
		{ "fetch-max-wait", required_argument, NULL, 'w' },
		{ "no-rabbitmq", no_argument, NULL, 'R' },
		{ "pin", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *json_path = NULL, *list = NULL;
	uint64_t count = 200000;
	FILE *json = NULL;
	char (*before)[MQDEV_NAME_SIZE];
	int opt, failed = 0, nr_before;
	struct utsname uts;
	char cpu[320];
	unsigned int i;

	while ((opt = getopt_long(argc, argv, "n:r:j:s:p:f:w:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'n': count = strtoull(optarg, NULL, 0); break;
		case 'r': reps = atoi(optarg); break;
		case 'j': json_path = optarg; break;
		case 's': list = optarg; break;
		case 'p': peer_list = optarg; break;
		case 'f': fetch_min = strtoul(optarg, NULL, 0); break;
		case 'w': fetch_max_wait_ms = parse_wait_ms(optarg); break;
		case 'R': no_rabbitmq = true; break;
		case 'P': pp_pin = true; break;
		default:
			fprintf(stderr, "usage: mqbench [--count N] [--reps R] "
				"[--json FILE] [--scenario LIST] "
				"[--peers LIST] [--fetch-min BYTES] "
				"[--fetch-max-wait MS (1-10000, 1)] "
				"[--no-rabbitmq] [--pin]\n"
				"scenarios: throughput,group,fanout,backlog,"
				"latency,memory,durable,delay,kafka,exchange,"
				"share,swriter (the default), cost, excost, "
				"sharecost, sharelat, leg, trace\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (reps < 1 || reps > 16 || count < BATCH)
		fail("bad --reps or --count");
	cpu_model(cpu, sizeof(cpu));
	uname(&uts);
	if (json_path) {
		json = fopen(json_path, "w");
		if (!json)
			fail(json_path);
		fprintf(json, "{\"cpu\":\"%s\",\"kernel\":\"%s\",\"count\":%"
			PRIu64 ",\"reps\":%d,\"fetch_min\":%u,"
			"\"fetch_max_wait_ms\":%u,\"results\":[\n",
			cpu, uts.release, count, reps, fetch_min,
			fetch_max_wait_ms);
	}
	/* every peer at its fastest: a POSIX queue as deep as the others */
	pmq_raise_limits(256);
	/* Redis is a peer in these; the -icount boot has no server */
	if ((wanted(list, "throughput", true) || wanted(list, "backlog", true) ||
	     wanted(list, "memory", true) || wanted(list, "kafka", true)) &&
	    redis_start())
		fprintf(stderr, "mqbench: redis-server did not start\n");
	printf("mqbench: %" PRIu64 " messages, median of %d (min-max); CPU: %s; "
	       "kernel %s; mqdev fetch-min %u bytes, fetch-max-wait %u ms\n",
	       count, reps, cpu, uts.release, fetch_min, fetch_max_wait_ms);
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		if (!wanted(list, scenarios[i].name, scenarios[i].by_default))
			continue;
		nr_before = bench_topics(&before);
		failed += scenarios[i].table(count, json) +
			  topics_left(scenarios[i].name, before, nr_before);
		free(before);
	}
	redis_stop();
	rabbitmq_stop();
	if (json) {
		fputs("\n]}\n", json);
		fclose(json);
	}
	return failed ? 1 : 0;
}

