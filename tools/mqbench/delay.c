// SPDX-License-Identifier: GPL-2.0
/*
 * Delayed messages: how late they reach a consumer.  One process schedules
 * N messages (MQDEV_IOC_SCHEDULE), each carrying its due time: first the
 * N - 1,000 due an hour on, then 1,000 probes due over one second
 * from a start set only once the others are in, so that the kernel's
 * queue holds all N while the probes come due and no scheduling is left
 * to do by then.  Then it consumes them from the ring, waiting in the
 * kernel between them, and takes each one's lateness: the CLOCK_REALTIME
 * it is seen at minus its due time, in two parts, at the record's append
 * timestamp: the kernel's timer, its work and the append; then the
 * consumer's wake-up.  Against the same boot's ping-pong p99, the VM's
 * own wake-up cost.  Nothing is written during the window (under
 * -icount with sleep=off, a wait for the host's I/O moves the guest's
 * clock to its next timer).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "libmqdev.h"
#include "mqbench.h"

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The smallest power of two ring, at least 64 KiB, for @n 16-byte values. */
static uint64_t ring_for(uint64_t n)
{
	uint64_t need = n * record_space(sizeof(uint64_t)), cap = 1 << 16;

	while (cap < 2 * need)
		cap <<= 1;
	return cap;
}

#define PROBES		1000
#define HOUR_NS		(3600ULL * 1000000000)
/* the probes' lead: room for scheduling them on a slow, shared TCG host */
#define PROBE_LEAD_NS	(500000000ULL + PROBES * 200000ULL)
/* "no worse at 100,000 than at 1,000": the p99s' ratio at most this */
#define DELAY_GROWTH	1.10
/* "within 2x the same boot's ping-pong p99" */
#define DELAY_PP_RATIO	2.0

/* One run's figures, ns. */
struct delay_result {
	double	late[3];	/* p50, p99, max of seen - due */
	double	append[2];	/* p50, p99 of append timestamp - due */
	double	wake[2];	/* p50, p99 of seen - append timestamp */
	double	sched_ns;	/* scheduling the N - PROBES held an hour */
	int64_t	worst_at;	/* the latest probe: due after the start, */
	int64_t	worst_append;	/* its append's lag, */
	int64_t	worst_wake;	/* and its consumer's */
};

/* What each probe's record said, and when it was seen. */
struct probe {
	uint64_t due, stamp, seen;
};

static int delay_attach(const char *topic)
{
	struct mqdev_attach attach = { .flags = MQDEV_ATTACH_PRODUCE };
	int fd = mqdev_open();

	if (fd >= 0 && (mqdev_name_set(attach.name, topic) ||
			ioctl(fd, MQDEV_IOC_ATTACH, &attach))) {
		close(fd);
		return -1;
	}
	return fd;
}

static int delay_one(int fd, uint64_t due)
{
	struct mqdev_schedule req = {};

	mqdev_msg_init(&req.msg, NULL, 0, &due, sizeof(due),
		       MQDEV_PARTITION_ANY);
	req.at = (int64_t)due;
	return ioctl(fd, MQDEV_IOC_SCHEDULE, &req);
}

/*
 * Schedule @n messages: @n - PROBES due over the hour after the next (the
 * topic's deletion drops them), then PROBES due from *@start over one
 * second, each part in shuffled order, so that the tree has the shape
 * of mixed due times; *@sched_ns is how long the first part took.
 */
static int delay_schedule(const char *topic, uint64_t n, uint64_t *start,
			  double *sched_ns)
{
	uint64_t i, t0 = realtime_ns();
	int fd = delay_attach(topic), err = 0;

	if (fd < 0)
		return -1;
	/* a prime stride: each slot once, out of order (n = 10^k: prime to it) */
	for (i = PROBES; i < n && !err; i++)
		err = delay_one(fd, t0 + HOUR_NS + i * 7919 % n * (HOUR_NS / n));
	*sched_ns = realtime_ns() - t0;
	*start = realtime_ns() + PROBE_LEAD_NS;
	for (i = 0; i < PROBES && !err; i++)
		err = delay_one(fd, *start + i * 7919 % PROBES *
					     (1000000000 / PROBES));
	close(fd);
	return err ? -1 : 0;
}

/* Consume PROBES of them into @p, in memory only. */
static int delay_consume(struct mqdev_consumer *c, struct probe *p)
{
	const struct mqdev_record *rec;
	uint64_t got = 0;

	while (got < PROBES) {
		rec = mqdev_consumer_peek(c);
		if (!rec) {
			if (mqdev_consumer_wait(c, 5000) <= 0)
				return -1;
			continue;
		}
		p[got].seen = realtime_ns();
		memcpy(&p[got].due, mqdev_record_value(rec), sizeof(p->due));
		p[got++].stamp = rec->timestamp;
		mqdev_consumer_release(c);
	}
	return 0;
}

/* @v's p50, p99 and max into @pct (of PROBES values; sorts them). */
static void delay_pct(int64_t *v, double pct[3])
{
	qsort(v, PROBES, sizeof(*v), cmp_i64);
	pct[0] = v[PROBES / 2];
	pct[1] = v[PROBES * 99 / 100];
	pct[2] = v[PROBES - 1];
}

/* The figures of PROBES probes @p, due from @start, into @r. */
static void delay_figures(const struct probe *p, uint64_t start,
			  struct delay_result *r, int64_t *v)
{
	double pct[3];
	uint64_t i, worst = 0;

	for (i = 0; i < PROBES; i++) {
		v[i] = (int64_t)(p[i].seen - p[i].due);
		if (v[i] > v[worst])
			worst = i;
	}
	r->worst_at = (int64_t)(p[worst].due - start);
	r->worst_append = (int64_t)(p[worst].stamp - p[worst].due);
	r->worst_wake = (int64_t)(p[worst].seen - p[worst].stamp);
	delay_pct(v, r->late);
	for (i = 0; i < PROBES; i++)
		v[i] = (int64_t)(p[i].stamp - p[i].due);
	delay_pct(v, pct);
	memcpy(r->append, pct, sizeof(r->append));
	for (i = 0; i < PROBES; i++)
		v[i] = (int64_t)(p[i].seen - p[i].stamp);
	delay_pct(v, pct);
	memcpy(r->wake, pct, sizeof(r->wake));
}

/* One run of @n held: its figures into @r. */
static int delay_run(uint64_t n, struct delay_result *r)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = 1,
		      .capacity = ring_for(PROBES));
	struct mqdev_consumer *c = NULL;
	char topic[MQDEV_NAME_SIZE];
	struct probe *p = calloc(PROBES, sizeof(*p));
	int64_t *v = calloc(PROBES, sizeof(*v));
	int fd = mqdev_open(), err = -1;
	uint64_t start;

	bench_topic_name(topic, sizeof(topic), "delay");
	if (!p || !v || fd < 0)
		goto out;
	mqdev_topic_delete(fd, topic);
	if (mqdev_topic_create(fd, topic, &cfg) ||
	    mqdev_consumer_new(topic, NULL, &c) ||
	    mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0, 0, NULL))
		goto out;
	if (delay_schedule(topic, n, &start, &r->sched_ns)) {
		fprintf(stderr, "mqbench: delay: scheduling failed\n");
		goto out;
	}
	if (realtime_ns() >= start) {
		fprintf(stderr, "mqbench: delay: scheduling the probes took "
			"longer than their lead\n");
		goto out;
	}
	/* asleep in the kernel before the first is due, not in nanosleep */
	while (realtime_ns() + 50000000 < start)
		usleep(20000);
	if (delay_consume(c, p)) {
		fprintf(stderr, "mqbench: delay: a record did not come\n");
		goto out;
	}
	delay_figures(p, start, r, v);
	err = 0;
out:
	mqdev_consumer_free(c);
	if (fd >= 0) {
		mqdev_topic_delete(fd, topic);
		close(fd);
	}
	free(v);
	free(p);
	return err;
}

static const char *met(bool yes)
{
	return yes ? "met" : "NOT met";
}

/* The two targets, as ratios of this boot's figures. */
static void delay_verdict(const struct delay_result *r, const uint64_t *held,
			  double pp99)
{
	double a = r[0].late[1] / pp99, b = r[1].late[1] / pp99;
	double growth = r[1].late[1] / r[0].late[1];

	printf("\ndelay targets: p99 within %.0fx the ping-pong p99: %.2f at "
	       "%" PRIu64 ", %.2f at %" PRIu64 ": %s; p99 at %" PRIu64
	       " / at %" PRIu64 ": %.2f (at most %.2f): %s\n", DELAY_PP_RATIO,
	       a, held[0], b, held[1], met(a <= DELAY_PP_RATIO &&
					   b <= DELAY_PP_RATIO),
	       held[1], held[0], growth, DELAY_GROWTH,
	       met(growth <= DELAY_GROWTH));
}

static void delay_print(uint64_t held, const struct delay_result *r,
			double pp99, FILE *json)
{
	printf("| %" PRIu64 " | %.1f | %.1f | %.1f | %.2f | %.1f | %.1f | "
	       "%.1f ms: %.1f + %.1f | %.2f |\n", held, r->late[0] / 1e3,
	       r->late[1] / 1e3, r->late[2] / 1e3, r->late[1] / pp99,
	       r->append[1] / 1e3, r->wake[1] / 1e3, r->worst_at / 1e6,
	       r->worst_append / 1e3, r->worst_wake / 1e3, r->sched_ns / 1e9);
	json_result(json, "delay", "mqdev", held,
		    "\"p50_ns\":%.0f,\"p99_ns\":%.0f,\"max_ns\":%.0f,"
		    "\"append_p50_ns\":%.0f,\"append_p99_ns\":%.0f,"
		    "\"wake_p50_ns\":%.0f,\"wake_p99_ns\":%.0f,"
		    "\"worst_at_ns\":%" PRId64 ",\"worst_append_ns\":%" PRId64
		    ",\"worst_wake_ns\":%" PRId64 ",\"sched_ns\":%.0f,"
		    "\"pingpong_p99_ns\":%.0f", r->late[0], r->late[1],
		    r->late[2], r->append[0], r->append[1], r->wake[0],
		    r->wake[1], r->worst_at,
		    r->worst_append, r->worst_wake, r->sched_ns, pp99);
}

/**
 * delay_table() - the delay scenario: lateness with 1,000 and 100,000 held
 * @count: the run's --count; below 100,000 the larger run holds 5 times it
 * @json: where results go, or NULL
 *
 * Return: the number of runs that failed (a target not met is printed,
 * not counted: in real time the host's load moves it; tools/mqbench/
 * delay-check holds the -icount boots to it).
 */
int delay_table(uint64_t count, FILE *json)
{
	uint64_t held[2] = { PROBES, count >= 100000 ? 100000 : 5 * count };
	struct delay_result r[2];
	double pp[3];
	int failed = 0, i;

	if (latency_mqdev_pct(1000, pp) || pp[1] <= 0) {
		printf("\ndelay: the /dev/mq ping-pong FAILED\n");
		return 1;
	}
	printf("\ndelay: %d messages due over 1 s among all those held, "
	       "lateness seen by a consumer, microseconds; /dev/mq ping-pong "
	       "of this boot: p50 %.1f, p99 %.1f\n\n", PROBES, pp[0] / 1e3,
	       pp[1] / 1e3);
	printf("| held | p50 | p99 | max | p99 / ping-pong p99 "
	       "| append p99 | wake-up p99 | latest: due at, append + wake-up "
	       "| scheduling the held, s |\n");
	printf("|---:|---:|---:|---:|---:|---:|---:|---|---:|\n");
	for (i = 0; i < 2; i++) {
		if (delay_run(held[i], &r[i])) {
			printf("| %" PRIu64 " | FAILED | | | | | | | |\n",
			       held[i]);
			failed++;
			continue;
		}
		delay_print(held[i], &r[i], pp[1], json);
	}
	json_result(json, "delay-pingpong", "mqdev", 64,
		    "\"p50_ns\":%.0f,\"p99_ns\":%.0f", pp[0], pp[1]);
	if (!failed)
		delay_verdict(r, held, pp[1]);
	fflush(stdout);
	return failed;
}
