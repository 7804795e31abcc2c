// SPDX-License-Identifier: GPL-2.0
/*
 * The durable scenario: what acknowledged-means-on-disk costs, on the disk
 * of tools/vm/run --disk (mounted at /var/lib/mqdev), against
 *   - the limit: a plain write(2) + fdatasync(2) loop per producer;
 *   - Redis Streams with appendfsync always and everysec (its AOF on the
 *     same disk, XADD pipelined BATCH at a time, as the stream peer does);
 *   - the in-memory mqdev path (a topic that is not durable, and that
 *     overwrites: producers never wait for a consumer, as here none runs);
 *   - mqdev acks=all on a durable topic, with the disk replica the
 *     environment names in MQBENCH_REPLICA (run with sh -c, left running
 *     until the scenario ends; "mqdev-persistd --foreground" by default).
 * Each producer runs for a fixed time, 10 us for each of --count (at
 * least 0.25 s, at most 2 s); the rate is every producer's messages over
 * it.  Then the round trip of one acks=all message alone, p50 and p99; and
 * a backlog ten times the ring drained from disk (the replica's segments,
 * through libmqdev's history reader) against the same consumer reading the
 * ring.
 * Without the disk the scenario says so and is skipped; without a replica
 * in sync, the acks=all rows are.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "libmqdev.h"
#include "mqbench.h"

#define DISK		"/var/lib/mqdev"
#define RUN_MAX_NS	2000000000ull	/* each rate, for the full count */
#define RUN_MIN_NS	250000000ull	/* and for make check's short one */
#define RTT_COUNT	200
#define MAX_PRODUCERS	16
#define BACKLOG_RING	(256 * 1024)	/* bytes, the one partition's ring */
#define BACKLOG_SIZE	1024

/* With the run's pid, as every mqbench topic: see topics_left(). */
static char durable_topic[MQDEV_NAME_SIZE];
static char memory_topic[MQDEV_NAME_SIZE];
static char backlog_topic[MQDEV_NAME_SIZE];

static uint64_t run_ns;
static const size_t sizes[] = { 64, 1024 };
static const int producers[] = { 1, 16 };

/* One producer's loop, for @secs: how many messages it had acknowledged. */
typedef int64_t (*worker_fn)(int idx, size_t size, uint64_t until);

static bool disk_mounted(void)
{
	struct stat disk, parent;

	return !stat(DISK, &disk) && !stat(DISK "/..", &parent) &&
	       disk.st_dev != parent.st_dev;
}

static int64_t w_fsync(int idx, size_t size, uint64_t until)
{
	char path[64], *buf = calloc(1, size);
	int64_t n = 0;
	int fd;

	snprintf(path, sizeof(path), DISK "/mqbench-fsync.%d", idx);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	if (fd < 0 || !buf)
		return -1;
	while (now_ns() < until) {
		if (write(fd, buf, size) != (ssize_t)size || fdatasync(fd))
			return -1;
		n++;
	}
	close(fd);
	unlink(path);
	free(buf);
	return n;
}

static int64_t w_redis(int idx, size_t size, uint64_t until)
{
	return redis_aof_produce(size, until);
}

static int64_t mqdev_loop(const char *topic, uint32_t flags, size_t size,
			  uint64_t until)
{
	LIBMQDEV_OPTS(mqdev_producer_opts, opts, .flags = flags);
	struct mqdev_producer *p;
	char *buf = calloc(1, size);
	int64_t n = 0;
	int i, sent;

	if (!buf || mqdev_producer_new(topic, &opts, &p))
		return -1;
	while (now_ns() < until) {
		for (i = 0; i < BATCH; i++)
			if (mqdev_producer_send(p, NULL, 0, buf, size,
						MQDEV_PARTITION_ANY, NULL))
				return -1;
		sent = mqdev_producer_flush(p);
		if (sent < 0)
			return -1;
		n += sent;
	}
	mqdev_producer_free(p);
	free(buf);
	return n;
}

static int64_t w_memory(int idx, size_t size, uint64_t until)
{
	return mqdev_loop(memory_topic, 0, size, until);
}

static int64_t w_acks_all(int idx, size_t size, uint64_t until)
{
	return mqdev_loop(durable_topic, MQDEV_PRODUCER_ACKS_ALL, size, until);
}

/* @k producers of @fn at once: messages a second, or -1. */
static double rate_of(worker_fn fn, int k, size_t size)
{
	uint64_t until = now_ns() + run_ns;
	int64_t n, total = 0;
	int fds[2], i, status, ok = 1;
	pid_t pids[MAX_PRODUCERS];

	if (pipe(fds))
		fail("pipe");
	for (i = 0; i < k; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			fail("fork");
		if (pids[i])
			continue;
		n = fn(i, size, until);
		_exit(write(fds[1], &n, sizeof(n)) == sizeof(n) ? 0 : 1);
	}
	for (i = 0; i < k; i++) {
		if (read(fds[0], &n, sizeof(n)) != sizeof(n) || n < 0)
			ok = 0;
		else
			total += n;
	}
	for (i = 0; i < k; i++)
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			ok = 0;
	close(fds[0]);
	close(fds[1]);
	return ok ? total * 1e9 / run_ns : -1;
}

/*
 * The scenario's two topics, deleted when it ends: their 128 MiB of ring
 * would hold half of max_bytes from the scenarios after it (kafka's topic
 * and its native peer then failed with ENOSPC in make bench).
 */
static void topics_delete(void)
{
	bench_topic_delete(memory_topic);
	bench_topic_delete(durable_topic);
}

static int topic_make(const char *name, uint32_t flags)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = MAX_PRODUCERS,
		      .capacity = 4 << 20, .flags = flags);
	int fd = mqdev_open(), err;

	if (fd < 0)
		return fd;
	mqdev_topic_delete(fd, name);
	err = mqdev_topic_create(fd, name, &cfg);
	close(fd);
	return err;
}

/* Is a replica in sync in every partition of durable topic @name? */
static bool replica_in_sync(const char *name, uint32_t nparts)
{
	struct mqdev_partition_info parts[MAX_PRODUCERS];
	struct mqdev_topic_info info;
	int fd = mqdev_open(), err;
	uint32_t i;

	memset(&info, 0, sizeof(info));
	err = fd < 0 ? fd : mqdev_topic_describe(fd, name, &info, parts,
						 nparts);
	if (fd >= 0)
		close(fd);
	if (err)
		return false;
	for (i = 0; i < nparts; i++)
		if (!parts[i].in_sync)
			return false;
	return true;
}

/* Wait up to 5 s for the replica to join @name. */
static bool replica_wait(const char *name, uint32_t nparts)
{
	int i;

	for (i = 0; i < 50; i++) {
		if (replica_in_sync(name, nparts))
			return true;
		usleep(100000);
	}
	return false;
}

/* Start the replica the environment names; its pid, or 0 if none joined. */
static pid_t replica_start(void)
{
	const char *cmd = getenv("MQBENCH_REPLICA");
	pid_t pid;
	int i;

	if (!cmd)
		cmd = "mqdev-persistd --foreground";
	pid = fork();
	if (!pid) {
		setpgid(0, 0);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	/* it joins by confirming the end of the log, empty here */
	for (i = 0; pid > 0 && i < 50; i++) {
		if (replica_in_sync(durable_topic, MAX_PRODUCERS))
			return pid;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			pid = 0;	/* it is not there, or it failed */
			break;
		}
		usleep(100000);
	}
	fprintf(stderr, "mqbench: durable: no replica in sync (%s): acks=all "
		"not measured\n", cmd);
	if (pid > 0) {
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return 0;
}

/* One acks=all message alone, RTT_COUNT times: p50 and p99 in us. */
static int rtt_acks_all(double *p50, double *p99)
{
	LIBMQDEV_OPTS(mqdev_producer_opts, opts,
		      .flags = MQDEV_PRODUCER_ACKS_ALL);
	double us[RTT_COUNT];
	struct mqdev_producer *p;
	struct mqdev_msg msg;
	char buf[64] = "";
	uint64_t t0;
	int i;

	if (mqdev_producer_new(durable_topic, &opts, &p))
		return -1;
	for (i = 0; i < RTT_COUNT; i++) {
		mqdev_msg_init(&msg, NULL, 0, buf, sizeof(buf), 0);
		t0 = now_ns();
		if (mqdev_produce(p, &msg, 1) != 1)
			return -1;
		us[i] = (now_ns() - t0) / 1000.0;
	}
	mqdev_producer_free(p);
	qsort(us, RTT_COUNT, sizeof(us[0]), cmp_double);
	*p50 = us[RTT_COUNT / 2];
	*p99 = us[RTT_COUNT * 99 / 100];
	return 0;
}

static void rate_row(FILE *json, const char *peer, worker_fn fn)
{
	unsigned int s, k;
	double r;

	printf("| %s |", peer);
	for (s = 0; s < 2; s++)
		for (k = 0; k < 2; k++) {
			r = fn ? rate_of(fn, producers[k], sizes[s]) : -1;
			if (r < 0) {
				printf(" - |");
				continue;
			}
			printf(" %.0f |", r);
			json_result(json, "durable", peer, sizes[s],
				    "\"producers\":%d,\"msgs_per_s\":%.0f",
				    producers[k], r);
		}
	printf("\n");
}

/* Read @c until offset @end of partition 0: messages a second, or -1. */
static double drain_rate(struct mqdev_consumer *c, uint64_t end, size_t size)
{
	const struct mqdev_record *rec;
	uint64_t t0 = now_ns(), n = 0;

	while (mqdev_consumer_position(c, 0) < end) {
		rec = mqdev_consumer_peek(c);
		if (!rec) {
			if (mqdev_consumer_error(c) ||
			    mqdev_consumer_wait(c, 2000) <= 0)
				return -1;
			continue;
		}
		if (mqdev_record_value_len(rec) != size)
			return -1;
		mqdev_consumer_release(c);
		n++;
	}
	return n * 1e9 / (now_ns() - t0);
}

/*
 * A backlog ten times the ring, produced with acks=all to a one-partition
 * durable topic (the steady rate: what a consumer keeping up would see),
 * then drained from offset 0 by a consumer that fell behind: the records
 * older than the ring come from the replica's segments, then the ring's.
 */
static int backlog_table(FILE *json)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = 1,
		      .capacity = BACKLOG_RING, .flags = MQDEV_TOPIC_DURABLE);
	LIBMQDEV_OPTS(mqdev_producer_opts, popts,
		      .flags = MQDEV_PRODUCER_ACKS_ALL);
	struct mqdev_partition_info part;
	struct mqdev_topic_info info;
	struct mqdev_producer *p = NULL;
	struct mqdev_consumer *c = NULL;
	char buf[BACKLOG_SIZE] = "";
	uint64_t total = 10 * BACKLOG_RING / BACKLOG_SIZE, i;
	double disk = -1, ring = -1, steady;
	int fd = mqdev_open(), j, err;
	uint64_t t0;

	if (fd < 0)
		return 1;
	mqdev_topic_delete(fd, backlog_topic);
	err = mqdev_topic_create(fd, backlog_topic, &cfg);
	if (!err && !replica_wait(backlog_topic, 1))
		err = -ENOLINK;
	if (!err)
		err = mqdev_producer_new(backlog_topic, &popts, &p);
	t0 = now_ns();
	for (i = 0; !err && i < total; i += BATCH) {
		for (j = 0; j < BATCH && !err; j++)
			err = mqdev_producer_send(p, NULL, 0, buf, sizeof(buf),
						  0, NULL);
		if (!err && mqdev_producer_flush(p) != BATCH)
			err = -EIO;
	}
	steady = total * 1e9 / (now_ns() - t0);
	memset(&info, 0, sizeof(info));
	if (!err)
		err = mqdev_topic_describe(fd, backlog_topic, &info, &part, 1);
	if (!err)
		err = mqdev_consumer_new(backlog_topic, NULL, &c);
	if (!err)
		err = mqdev_consumer_seek(c, 0, MQDEV_SEEK_OFFSET, 0, 0, NULL);
	if (!err) {
		disk = drain_rate(c, part.first_offset, sizeof(buf));
		ring = drain_rate(c, part.next_offset, sizeof(buf));
	}
	if (c)
		mqdev_consumer_free(c);
	if (p)
		mqdev_producer_free(p);
	mqdev_topic_delete(fd, backlog_topic);
	close(fd);
	if (err || disk < 0 || ring < 0) {
		printf("\ndraining a backlog from disk: failed (%s)\n",
		       err ? strerror(-err) : "a record missing or wrong");
		return 1;
	}
	printf("\na backlog of %" PRIu64 " 1 KiB records, 10x the ring, "
	       "produced with acks=all at %.0f a second (steady): the %" PRIu64
	       " older than the ring drained from disk at %.0f a second "
	       "(%.1fx), the rest from the ring\n",
	       (uint64_t)part.next_offset, steady,
	       (uint64_t)part.first_offset, disk, disk / steady);
	json_result(json, "durable-backlog", "mqdev history", sizeof(buf),
		    "\"disk_msgs_per_s\":%.0f,\"steady_msgs_per_s\":%.0f",
		    disk, steady);
	return 0;
}

/**
 * durable_table() - the durable scenario (see the head of this file)
 * @count: the run's --count, which sets how long each rate is measured
 * @json: where results go too, or NULL
 *
 * Return: 0, or 1 when a measurement that should have run failed.
 */
int durable_table(uint64_t count, FILE *json)
{
	double p50, p99;
	pid_t replica = 0;
	int err = 0;

	if (!disk_mounted()) {
		printf("\ndurable: skipped: no disk at " DISK
		       " (tools/vm/run --disk)\n");
		return 0;
	}
	bench_topic_name(durable_topic, sizeof(durable_topic), "durable");
	bench_topic_name(memory_topic, sizeof(memory_topic), "memory");
	bench_topic_name(backlog_topic, sizeof(backlog_topic), "backlog");
	run_ns = count * 10000;
	if (run_ns > RUN_MAX_NS)
		run_ns = RUN_MAX_NS;
	if (run_ns < RUN_MIN_NS)
		run_ns = RUN_MIN_NS;
	if (topic_make(memory_topic, MQDEV_TOPIC_OVERWRITE) ||
	    topic_make(durable_topic, MQDEV_TOPIC_DURABLE)) {
		topics_delete();
		return 1;
	}
	replica = replica_start();
	printf("\ndurable: messages a second, each producer for %.2f s, "
	       "acknowledged as each peer promises\n\n", run_ns / 1e9);
	printf("| peer | 64 B, 1 | 64 B, 16 | 1 KiB, 1 | 1 KiB, 16 |\n"
	       "|---|---:|---:|---:|---:|\n");
	rate_row(json, "write+fdatasync (the limit)", w_fsync);
	if (!redis_aof_start("always")) {
		rate_row(json, "redis appendfsync always", w_redis);
		redis_aof_stop();
	}
	if (!redis_aof_start("everysec")) {
		rate_row(json, "redis appendfsync everysec", w_redis);
		redis_aof_stop();
	}
	rate_row(json, "mqdev in memory", w_memory);
	rate_row(json, "mqdev acks=all", replica ? w_acks_all : NULL);
	if (replica) {
		if (!rtt_acks_all(&p50, &p99)) {
			printf("\nacks=all round trip, one 64 B message: "
			       "p50 %.0f us, p99 %.0f us\n", p50, p99);
			json_result(json, "durable-rtt", "mqdev acks=all", 64,
				    "\"p50_us\":%.0f,\"p99_us\":%.0f", p50,
				    p99);
		} else {
			err = 1;
		}
		err |= backlog_table(json);
	}
	/* with the replica up, which then removes the durable one's files */
	topics_delete();
	if (replica) {
		kill(-replica, SIGTERM);
		waitpid(replica, NULL, 0);
	}
	return err;
}
