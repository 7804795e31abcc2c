// SPDX-License-Identifier: GPL-2.0
/*
 * Delayed messages: how late they reach a consumer.  One process schedules
 * N messages (MQDEV_IOC_SCHEDULE), each carrying its due time: 1,000 of
 * them, spread among the rest, due over one second starting after it is
 * done scheduling, the others an hour later, so that the kernel's queue
 * holds all N while the 1,000 come due.  Then it consumes them from the
 * ring, waiting in the kernel between them, and takes each one's
 * lateness: the CLOCK_REALTIME it is seen at minus its due time.
 * That is the kernel's timer, its work, the append and the consumer's
 * wake-up, against the same boot's ping-pong p99, the VM's own wake-up
 * cost.
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
	uint64_t need = n * MQDEV_RECORD_SPACE(sizeof(struct mqdev_record) +
					       sizeof(uint64_t)), cap = 1 << 16;

	while (cap < 2 * need)
		cap <<= 1;
	return cap;
}

#define PROBES		1000

/*
 * Schedule @n messages: PROBES of them due from @start over one second, in
 * shuffled order, the rest an hour later (the topic's deletion drops them).
 */
static int delay_schedule(const char *topic, uint64_t n, uint64_t start)
{
	struct mqdev_schedule req = {};
	struct mqdev_attach attach = { .flags = MQDEV_ATTACH_PRODUCE };
	uint64_t i, due;
	int fd = mqdev_open(), err = 0;

	if (fd < 0 || mqdev_name_set(attach.name, topic) ||
	    ioctl(fd, MQDEV_IOC_ATTACH, &attach))
		return -1;
	for (i = 0; i < n && !err; i++) {
		/* a stride prime to PROBES: every slot once, out of order */
		if (i % (n / PROBES))
			due = start + 3600ULL * 1000000000;
		else
			due = start + (i / (n / PROBES) * 7919 % PROBES) *
				      (1000000000 / PROBES);
		mqdev_msg_init(&req.msg, NULL, 0, &due, sizeof(due),
			       MQDEV_PARTITION_ANY);
		req.at = (int64_t)due;
		err = ioctl(fd, MQDEV_IOC_SCHEDULE, &req);
	}
	close(fd);
	return err ? -1 : 0;
}

/* Consume @n of them: lateness of each into @late, ns. */
static int delay_consume(struct mqdev_consumer *c, uint64_t n, int64_t *late)
{
	const struct mqdev_record *rec;
	uint64_t got = 0, due;

	while (got < n) {
		rec = mqdev_consumer_peek(c);
		if (!rec) {
			if (mqdev_consumer_wait(c, 5000) <= 0)
				return -1;
			continue;
		}
		memcpy(&due, mqdev_record_value(rec), sizeof(due));
		late[got++] = (int64_t)(realtime_ns() - due);
		mqdev_consumer_release(c);
	}
	return 0;
}

/* One run of @n: percentiles of the probes' lateness (50, 99, max), ns. */
static int delay_run(uint64_t n, double pct[3])
{
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = 1,
		      .capacity = ring_for(n));
	struct mqdev_consumer *c = NULL;
	char topic[MQDEV_NAME_SIZE];
	int64_t *late = calloc(PROBES, sizeof(*late));
	int fd = mqdev_open(), err = -1;
	uint64_t start;

	snprintf(topic, sizeof(topic), "mqbench-delay-%d", getpid());
	if (!late || fd < 0)
		goto out;
	mqdev_topic_delete(fd, topic);
	if (mqdev_topic_create(fd, topic, &cfg) ||
	    mqdev_consumer_new(topic, NULL, &c) ||
	    mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0, 0, NULL))
		goto out;
	/* an emulated VM, shared, schedules some 5,000 a second: room */
	start = realtime_ns() + 500000000 + n * 200000;
	if (delay_schedule(topic, n, start)) {
		fprintf(stderr, "mqbench: delay: scheduling failed\n");
		goto out;
	}
	if (realtime_ns() >= start) {
		fprintf(stderr, "mqbench: delay: scheduling %" PRIu64
			" took longer than their lead\n", n);
		goto out;
	}
	/* asleep in the kernel before the first is due, not in nanosleep */
	while (realtime_ns() + 50000000 < start)
		usleep(20000);
	if (delay_consume(c, PROBES, late)) {
		fprintf(stderr, "mqbench: delay: a record did not come\n");
		goto out;
	}
	qsort(late, PROBES, sizeof(*late), cmp_i64);
	pct[0] = late[PROBES / 2];
	pct[1] = late[PROBES * 99 / 100];
	pct[2] = late[PROBES - 1];
	err = 0;
out:
	mqdev_consumer_free(c);
	if (fd >= 0) {
		mqdev_topic_delete(fd, topic);
		close(fd);
	}
	free(late);
	return err;
}

/**
 * delay_table() - the delay scenario: lateness with 1,000 and 100,000 held
 * @count: the run's --count; below 100,000 the larger run holds 5 times it
 * @json: where results go, or NULL
 *
 * Return: the number of runs that failed.
 */
int delay_table(uint64_t count, FILE *json)
{
	uint64_t sizes[2] = { 1000, count >= 100000 ? 100000 : 5 * count };
	double pct[3], pp99 = latency_mqdev_p99(1000);
	int failed = 0, i;

	printf("\ndelay: %d messages due over 1 s among all those scheduled, "
	       "lateness seen by a consumer, microseconds; /dev/mq ping-pong "
	       "p99 of this boot: %.1f\n\n", PROBES, pp99 / 1e3);
	printf("| scheduled | p50 | p99 | max | p99 / ping-pong p99 |\n");
	printf("|---:|---:|---:|---:|---:|\n");
	for (i = 0; i < 2; i++) {
		if (delay_run(sizes[i], pct)) {
			printf("| %" PRIu64 " | FAILED | | | |\n", sizes[i]);
			failed++;
			continue;
		}
		printf("| %" PRIu64 " | %.1f | %.1f | %.1f | %.2f |\n",
		       sizes[i], pct[0] / 1e3, pct[1] / 1e3, pct[2] / 1e3,
		       pp99 > 0 ? pct[1] / pp99 : 0);
		json_result(json, "delay", "mqdev", sizes[i],
			    "\"p50_ns\":%.0f,\"p99_ns\":%.0f,\"max_ns\":%.0f,"
			    "\"pingpong_p99_ns\":%.0f", pct[0], pct[1], pct[2],
			    pp99);
	}
	fflush(stdout);
	return failed;
}
