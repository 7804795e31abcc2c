// SPDX-License-Identifier: GPL-2.0
/*
 * The kafka scenario: mqdev-kafkad (the release build) on loopback, driven
 * by librdkafka the way a Kafka user tuned for throughput drives a broker,
 * against Redis Streams and native libmqdev in the same run, and against a
 * loopback TCP echo of the bytes the produce requests carried: the network
 * stack's own cost, the floor for any daemon in front of /dev/mq.
 *
 * The producer sends everything (acks=1, linger.ms=5, batches up to 1 MB,
 * no compression) and flushes; then a consumer assigned the partition
 * from the beginning reads and checks every message.  The daemon's CPU is
 * its utime+stime from /proc over each phase; the bytes it was sent are
 * its /proc/PID/io rchar over the produce phase.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
#include "libmqdev.h"
#include "mqbench.h"

#define KAFKA_PORT	9392
#define ECHO_PORT	9393
#define ECHO_CHUNK	(64 * 1024)

static pid_t kafkad_pid;
/*
 * A new topic for each run: the daemon keeps its handles open, and one to
 * a topic deleted and created again under the same name fails its next
 * append (UNKNOWN_SERVER_ERROR, which librdkafka does not retry).
 */
static char topic[MQDEV_NAME_SIZE];

/* utime+stime of @pid, in ns; -1 if unreadable. */
static int64_t cpu_ns(pid_t pid)
{
	unsigned long long ut, st;
	char path[64], buf[1024], *p;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n > 0 ? n : 0] = '\0';
	/* the command may hold spaces and parentheses: after the last ')' */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%llu %llu", &ut, &st) != 2)
		return -1;
	return (int64_t)(ut + st) * (1000000000 / sysconf(_SC_CLK_TCK));
}

/* Bytes @pid has read through read(2) and recv(2) so far; -1 if unknown. */
static int64_t rchar(pid_t pid)
{
	char path[64], line[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/io", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "rchar: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static int tcp_connect(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Start the daemon in the background; 0 once it accepts connections. */
static int kafkad_start(void)
{
	char listen[32];
	int i, fd;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", KAFKA_PORT);
	kafkad_pid = fork();
	if (kafkad_pid < 0)
		return -1;
	if (!kafkad_pid) {
		/* the release build, never the sanitized one */
		execlp("mqdev-kafkad", "mqdev-kafkad", "--config", "/dev/null",
		       "--listen", listen, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 100; i++) {
		fd = tcp_connect(KAFKA_PORT);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		usleep(50 * 1000);
	}
	return -1;
}

static void kafkad_stop(void)
{
	if (kafkad_pid <= 0)
		return;
	kill(kafkad_pid, SIGTERM);
	waitpid(kafkad_pid, NULL, 0);
	kafkad_pid = 0;
}

/*
 * The topic, one partition large enough for @b's whole backlog: a power of
 * two, as mqdev wants, at most its max_partition_bytes (64 MiB by default).
 */
static int topic_create(const struct bench *b)
{
	uint64_t need = b->count * record_space(b->size) + (1 << 20);
	uint64_t cap = 1 << 20;
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = 1);
	static unsigned int seq;
	int fd = mqdev_open(), err;

	if (fd < 0)
		return fd;
	while (cap < need)
		cap <<= 1;
	cfg.capacity = cap;
	bench_topic_name(topic, sizeof(topic), "kafka-%u", seq++);
	mqdev_topic_delete(fd, topic);
	err = mqdev_topic_create(fd, topic, &cfg);
	close(fd);
	return err;
}

static rd_kafka_conf_t *kconf(const char *const *kv)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[256], broker[32];

	snprintf(broker, sizeof(broker), "127.0.0.1:%d", KAFKA_PORT);
	if (rd_kafka_conf_set(conf, "bootstrap.servers", broker, err,
			      sizeof(err)))
		goto bad;
	for (; *kv; kv += 2)
		if (rd_kafka_conf_set(conf, kv[0], kv[1], err, sizeof(err)))
			goto bad;
	return conf;
bad:
	fprintf(stderr, "mqbench: librdkafka: %s\n", err);
	rd_kafka_conf_destroy(conf);
	return NULL;
}

static void delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opq)
{
	/* the first failure says why */
	if (m->err && !(*(uint64_t *)opq)++)
		fprintf(stderr, "mqbench: kafka: %s\n", rd_kafka_err2str(m->err));
}

/* A client of @type with the settings @kv; a producer counts @failed. */
static rd_kafka_t *kclient(rd_kafka_type_t type, const char *const *kv,
			   uint64_t *failed)
{
	rd_kafka_conf_t *conf = kconf(kv);
	rd_kafka_t *rk;
	char err[256];

	if (!conf)
		return NULL;
	if (failed) {
		rd_kafka_conf_set_dr_msg_cb(conf, delivered);
		rd_kafka_conf_set_opaque(conf, failed);
	}
	rk = rd_kafka_new(type, conf, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "mqbench: librdkafka: %s\n", err);
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

/* A producer tuned for throughput; what the README says it is. */
static const char *const producer_conf[] = {
	"acks", "1",
	"linger.ms", "5",
	"batch.size", "1000000",
	"batch.num.messages", "100000",
	"compression.type", "none",
	"queue.buffering.max.messages", "1000000",
	"queue.buffering.max.kbytes", "1048576",
	NULL,
};

/* Produce @b's messages and flush: the time, in ns, or -1. */
static int64_t kafka_produce(const struct bench *b)
{
	void *tmpl = template_of(b->size), *msg = malloc(b->size);
	uint64_t i, failed = 0, t0;
	int64_t ns = -1;
	rd_kafka_t *rk;

	rk = kclient(RD_KAFKA_PRODUCER, producer_conf, &failed);
	if (!rk || !tmpl || !msg)
		goto out;
	t0 = now_ns();
	for (i = 0; i < b->count; i++) {
		fill(msg, b->size, i, tmpl);
		while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
					 RD_KAFKA_V_PARTITION(0),
					 RD_KAFKA_V_VALUE(msg, b->size),
					 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
					 RD_KAFKA_V_END) ==
		       RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(rk, 1);
		rd_kafka_poll(rk, 0);
	}
	if (!rd_kafka_flush(rk, 120000) && !failed)
		ns = now_ns() - t0;
	else
		fprintf(stderr, "mqbench: kafka: %" PRIu64 " not delivered\n",
			failed);
out:
	if (rk)
		rd_kafka_destroy(rk);
	free(tmpl);
	free(msg);
	return ns;
}

static const char *const consumer_conf[] = {
	"group.id", "mqbench-kafka",
	"enable.auto.commit", "false",
	"enable.partition.eof", "false",
	"fetch.wait.max.ms", "10",
	NULL,
};

/* Read and check @b's messages from the beginning: the time, or -1. */
static int64_t kafka_consume(const struct bench *b)
{
	rd_kafka_t *rk = kclient(RD_KAFKA_CONSUMER, consumer_conf, NULL);
	rd_kafka_topic_partition_list_t *parts;
	uint64_t got = 0, t0, idle = 0;
	rd_kafka_message_t *m;
	int64_t ns = -1;

	if (!rk)
		return -1;
	rd_kafka_poll_set_consumer(rk);
	parts = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(parts, topic, 0)->offset =
		RD_KAFKA_OFFSET_BEGINNING;
	t0 = 0;
	if (rd_kafka_assign(rk, parts))
		goto out;
	/* a minute without a message is a failure */
	while (got < b->count && idle < 600) {
		m = rd_kafka_consumer_poll(rk, 100);
		if (!m) {
			idle++;
			continue;
		}
		idle = 0;
		if (!m->err) {
			/* the rate is from the first message: not the start-up */
			if (!t0)
				t0 = now_ns();
			if (m->len != b->size || check(m->payload, m->len)) {
				rd_kafka_message_destroy(m);
				break;
			}
			got++;
		}
		rd_kafka_message_destroy(m);
	}
	if (got == b->count)
		ns = (now_ns() - t0) * b->count / (b->count - 1);
	else
		fprintf(stderr, "mqbench: kafka: consumed %" PRIu64 " of %"
			PRIu64 "\n", got, b->count);
out:
	rd_kafka_topic_partition_list_destroy(parts);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return ns;
}

/* ---- the floor: a loopback TCP echo ------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

/* The echo server: one connection, every byte sent back. */
static void echo_serve(int lfd)
{
	static char buf[ECHO_CHUNK];
	int fd = accept(lfd, NULL, NULL);
	ssize_t n;

	if (fd < 0)
		_exit(1);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write_all(fd, buf, n))
			_exit(1);
	_exit(0);
}

/* The writer: @total bytes in chunks of 64 KiB, then a half close. */
static void echo_push(int fd, uint64_t total)
{
	static char buf[ECHO_CHUNK];
	size_t n;

	memset(buf, 0x5a, sizeof(buf));
	for (; total; total -= n) {
		n = total < sizeof(buf) ? total : sizeof(buf);
		if (write_all(fd, buf, n))
			_exit(1);
	}
	shutdown(fd, SHUT_WR);
	_exit(0);
}

/*
 * Push @total bytes through an echo server and read them back: the time
 * in ns, the server's CPU (its rusage, once reaped) into *@cpu.
 */
static int64_t echo_run(uint64_t total, int64_t *cpu)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(ECHO_PORT),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	static char buf[ECHO_CHUNK];
	int lfd, fd, one = 1, status;
	pid_t server, writer = -1;
	uint64_t got = 0, t0;
	struct rusage ru;
	int64_t ns = -1;
	ssize_t n;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 1)) {
		close(lfd);
		return -1;
	}
	server = fork();
	if (!server)
		echo_serve(lfd);
	close(lfd);
	if (server < 0)
		return -1;
	t0 = now_ns();
	fd = tcp_connect(ECHO_PORT);
	if (fd >= 0) {
		writer = fork();
		if (!writer)
			echo_push(fd, total);
		while (got < total && (n = read(fd, buf, sizeof(buf))) > 0)
			got += n;
		if (got == total)
			ns = now_ns() - t0;
		close(fd);
	}
	if (writer > 0)
		waitpid(writer, &status, 0);
	/* the server has seen the end of the stream, or is told to stop */
	if (ns < 0)
		kill(server, SIGTERM);
	if (wait4(server, &status, 0, &ru) != server)
		return -1;
	*cpu = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
	return ns;
}

/* ---- the peers of the same run ------------------------------------------ */

/* One producer to one consumer of @name at once: the rate, as throughput. */
static double peer_rate(const char *name, struct bench *b)
{
	unsigned int i;
	int64_t ns;

	for (i = 0; i < nr_peers; i++)
		if (!strcmp(peers[i].name, name)) {
			ns = run_once(&peers[i], b);
			return ns > 0 ? b->count * 1e9 / ns : -1;
		}
	return -1;
}

/* ---- one repetition, and the table ------------------------------------- */

/* rates first (msgs/s), then CPU (ns/msg), then the wire bytes */
enum {
	PROD, CONS, REDIS, NATIVE, ECHO,
	PROD_CPU, CONS_CPU, ECHO_CPU,
	WIRE, NR_KEYS
};
static const char *const key_names[NR_KEYS] = {
	"kafkad_produce", "kafkad_consume", "redis", "mqdev", "tcp_echo",
	"kafkad_produce_cpu_ns", "kafkad_consume_cpu_ns", "echo_cpu_ns",
	"wire_bytes",
};

static int failed_at(const char *what, int err)
{
	fprintf(stderr, "mqbench: kafka: %s failed%s%s\n", what,
		err ? ": " : "", err ? strerror(-err) : "");
	return -1;
}

/* One repetition at @b's size: every value of the table into @v. */
static int kafka_once(struct bench *b, double *v)
{
	int64_t ns, c0, c1, r0, echo_cpu = 0;
	int err;

	err = topic_create(b);
	if (err)
		return failed_at("creating the topic", err);
	c0 = cpu_ns(kafkad_pid);
	r0 = rchar(kafkad_pid);
	ns = kafka_produce(b);
	c1 = cpu_ns(kafkad_pid);
	if (ns <= 0 || c0 < 0 || c1 < 0) {
		bench_topic_delete(topic);
		return failed_at("producing", 0);
	}
	v[PROD] = b->count * 1e9 / ns;
	v[PROD_CPU] = (double)(c1 - c0) / b->count;
	/* what the produce requests carried, as the daemon read them */
	v[WIRE] = r0 < 0 ? b->size + 16 :
		(double)(rchar(kafkad_pid) - r0) / b->count;
	ns = kafka_consume(b);
	c0 = cpu_ns(kafkad_pid);
	bench_topic_delete(topic);
	if (ns <= 0)
		return failed_at("consuming", 0);
	v[CONS] = b->count * 1e9 / ns;
	v[CONS_CPU] = (double)(c0 - c1) / b->count;
	ns = echo_run((uint64_t)(v[WIRE] * b->count), &echo_cpu);
	if (ns <= 0)
		return failed_at("the TCP echo", 0);
	v[ECHO] = b->count * 1e9 / ns;
	v[ECHO_CPU] = (double)echo_cpu / b->count;
	v[REDIS] = peer_rate("redis", b);
	if (v[REDIS] <= 0)
		return failed_at("the redis peer", 0);
	v[NATIVE] = peer_rate("mqdev", b);
	if (v[NATIVE] <= 0)
		return failed_at("the mqdev peer", 0);
	return 0;
}

struct spread {
	double med, min, max;
};

static struct spread spread_of(double (*v)[NR_KEYS], int n, int key)
{
	double x[16];
	int i;

	for (i = 0; i < n; i++)
		x[i] = v[i][key];
	qsort(x, n, sizeof(x[0]), cmp_double);
	return (struct spread){ x[n / 2], x[0], x[n - 1] };
}

/* A ratio per repetition (of one run's numbers), then its spread. */
static struct spread ratio_of(double (*v)[NR_KEYS], int n, int num, int den)
{
	double x[16];
	int i;

	for (i = 0; i < n; i++)
		x[i] = v[i][den] > 0 ? v[i][num] / v[i][den] : 0;
	qsort(x, n, sizeof(x[0]), cmp_double);
	return (struct spread){ x[n / 2], x[0], x[n - 1] };
}

static void print_row(const char *what, const char *unit, struct spread s)
{
	printf("| %s | %.2f%s | %.2f-%.2f |\n", what, s.med, unit, s.min, s.max);
}

static void kafka_size(struct bench *b, double (*v)[NR_KEYS], int n,
		       FILE *json)
{
	static const struct { const char *what; int num, den; } ratios[] = {
		{ "produce: kafkad / redis (target >= 1)", PROD, REDIS },
		{ "consume: kafkad / redis (target >= 1)", CONS, REDIS },
		{ "produce: kafkad / native mqdev", PROD, NATIVE },
		{ "consume: kafkad / native mqdev", CONS, NATIVE },
		{ "daemon CPU, produce / echo server CPU", PROD_CPU, ECHO_CPU },
		{ "daemon CPU, consume / echo server CPU", CONS_CPU, ECHO_CPU },
	};
	struct spread s;
	unsigned int k;

	printf("\n%zu B, %" PRIu64 " messages (%.0f bytes a message on the "
	       "wire to the daemon)\n\n| what | median | spread |\n"
	       "|---|---:|---:|\n", b->size, b->count,
	       spread_of(v, n, WIRE).med);
	for (k = 0; k < NR_KEYS; k++) {
		s = spread_of(v, n, k);
		if (k == WIRE)
			continue;
		print_row(key_names[k], k < PROD_CPU ? " msgs/s" : " ns/msg",
			  s);
		json_result(json, "kafka", key_names[k], b->size,
			    "\"value\":%.1f,\"min\":%.1f,\"max\":%.1f",
			    s.med, s.min, s.max);
	}
	for (k = 0; k < sizeof(ratios) / sizeof(ratios[0]); k++) {
		s = ratio_of(v, n, ratios[k].num, ratios[k].den);
		print_row(ratios[k].what, "", s);
		json_result(json, "kafka-ratio", ratios[k].what, b->size,
			    "\"value\":%.3f,\"min\":%.3f,\"max\":%.3f",
			    s.med, s.min, s.max);
	}
	fflush(stdout);
}

int kafka_table(uint64_t count, int reps, FILE *json)
{
	static const size_t sizes[] = { 64, 1024 };
	double v[16][NR_KEYS];
	unsigned int s;
	int r, failed = 0;

	if (kafkad_start()) {
		printf("\nkafka: mqdev-kafkad did not start\n");
		kafkad_stop();
		return 1;
	}
	printf("\nkafka: librdkafka %s through mqdev-kafkad (acks=1, "
	       "linger.ms=5, batch.size=1000000, no compression): produce "
	       "all, then consume all from the beginning; redis and mqdev: "
	       "1 producer -> 1 consumer at once; tcp_echo: the produce "
	       "bytes through a loopback echo\n", rd_kafka_version_str());
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		/* a quarter of the messages at 1 KiB: the backlog's memory */
		struct bench b = { .size = sizes[s],
				   .count = sizes[s] > 64 ? count / 4 : count };

		for (r = 0; r < reps; r++)
			if (kafka_once(&b, v[r]))
				break;
		if (r < reps) {
			printf("\n%zu B: FAILED\n", b.size);
			failed++;
			continue;
		}
		kafka_size(&b, v, reps, json);
	}
	kafkad_stop();
	return failed;
}
