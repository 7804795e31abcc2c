// SPDX-License-Identifier: GPL-2.0
/*
 * mqdev-mirror end to end, against librdkafka's mock cluster (three brokers
 * on loopback, served by this program, topics with a replication factor of
 * three): outbound (a durable mqdev topic replicated to Kafka; acks=all
 * producers answered once Kafka has the records) and inbound (a Kafka topic
 * appended to an mqdev topic), across partition leaders going down,
 * injected retriable errors, and the mirror SIGKILLed and started again;
 * a killed mirror's Produce request landing after its successor started;
 * inbound into a durable topic whose watermark a replica holds; a cluster
 * that cannot be reached, both ways; bad configurations.  The daemon is the
 * one built with the address and undefined-behaviour sanitizers.
 *
 * It needs librdkafka and the daemon: the top-level Makefile builds it, not
 * this directory's; make check runs it once (userspace.list).
 */
#include <libgen.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <time.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include "common.h"
#include "kselftest_harness.h"

#define LAG_MS		2000
#define PARTS		2
#define RECORDS		240
#define MAX_RECS	4096
#define KAFKA_PRODUCE	0	/* the Produce request's ApiKey */
#define KAFKA_FETCH	1	/* the Fetch request's */

/* ---- the daemon ---------------------------------------------------------- */

struct daemon {
	pid_t pid;
	char conf[96], log[96], status[96];
	int starts;
};

static void daemon_paths(struct daemon *d, const char *name)
{
	snprintf(d->conf, sizeof(d->conf), "/tmp/%s.conf", name);
	snprintf(d->log, sizeof(d->log), "/tmp/%s.log", name);
	snprintf(d->status, sizeof(d->status), "/tmp/%s.status", name);
	unlink(d->log);
	unlink(d->status);
}

static void exe_path(char *bin, size_t size, const char *name)
{
	char exe[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	exe[n > 0 ? n : 0] = '\0';
	snprintf(bin, size, "%s/%s", dirname(exe), name);
}

/*
 * A child started while a broker goes down must not hold the broker's
 * listening socket: the mock closes it and binds its port again at once,
 * and a copy still open in a child between fork() and its close_range()
 * keeps the port listening, so the bind fails and librdkafka asserts.
 * spawn() returns only once the child closed what it inherited, and an
 * outage takes a broker down only between spawns.
 */
static pthread_mutex_t spawn_lock = PTHREAD_MUTEX_INITIALIZER;

/* @argv run with its output appended to @log; -1 if it cannot be started. */
static pid_t spawn(const char *log, char *const argv[])
{
	pid_t parent = getpid(), pid;
	int closed[2], fd;
	char c;

	if (pipe2(closed, O_CLOEXEC))
		return -1;
	pthread_mutex_lock(&spawn_lock);
	pid = fork();
	if (!pid) {
		/*
		 * Dies with the test, whatever ends it: a daemon left running
		 * holds /dev/mq, and so the module, for the tests after.
		 */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
			_exit(127);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 2);
		dup2(fd, 1);
		close_range(3, ~0U, 0);	/* @closed's write end too: done */
		setenv("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0", 1);
		setenv("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1", 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(closed[1]);
	while (pid > 0 && read(closed[0], &c, 1) < 0 && errno == EINTR)
		;
	pthread_mutex_unlock(&spawn_lock);
	close(closed[0]);
	return pid;
}

static pid_t daemon_run(struct daemon *d, const char *arg, const char *arg2)
{
	char bin[600];
	char *argv[] = { bin, "--config", d->conf, (char *)arg, (char *)arg2,
			 NULL };

	exe_path(bin, sizeof(bin), "mqdev-mirror-asan");
	return spawn(d->log, argv);
}

static void daemon_start(struct daemon *d)
{
	d->pid = daemon_run(d, "--foreground", NULL);
	d->starts++;
}

static int wait_status(pid_t pid)
{
	int status;

	if (pid <= 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) :
	       128 + WTERMSIG(status);
}

static bool log_has(struct daemon *d, const char *what)
{
	return log_lines(d->log, what) > 0;
}

static int log_count(struct daemon *d, const char *what)
{
	return log_lines(d->log, what);
}

static void log_dump(struct daemon *d)
{
	log_print(d->log, "mirror");
}

/* Its log says @what @count times within @ms. */
static bool log_wait(struct daemon *d, const char *what, int count, int ms)
{
	uint64_t end = mono_ms() + ms;

	while (log_count(d, what) < count && mono_ms() < end)
		sleep_ms(50);
	return log_count(d, what) >= count;
}

/*
 * SIGKILL at a random moment of its work: once it is mirroring (so that
 * every restart has something to go on from), within 300 ms.
 */
static void daemon_kill_working(struct daemon *d)
{
	log_wait(d, "mirroring", d->starts, 60000);
	sleep_ms(rand() % 300);
	kill(d->pid, SIGKILL);
	wait_status(d->pid);
	d->pid = 0;
}

static void daemon_kill(struct daemon *d)
{
	kill(d->pid, SIGKILL);
	wait_status(d->pid);
	d->pid = 0;
}

/* SIGTERM: its exit status, 0 when clean and no sanitizer spoke. */
static int daemon_stop(struct daemon *d)
{
	int status;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	status = wait_status(d->pid);
	d->pid = 0;
	if (log_has(d, "ERROR: AddressSanitizer") ||
	    log_has(d, "runtime error") || log_has(d, "LeakSanitizer"))
		status = 99;
	if (status)
		log_dump(d);
	return status;
}

/* ---- the mock cluster ---------------------------------------------------- */

struct cluster {
	rd_kafka_t *rk;
	rd_kafka_mock_cluster_t *mc;
	char boot[256];
};

#define RESERVED_PORTS	"/proc/sys/net/ipv4/ip_local_reserved_ports"

/*
 * The brokers' ports, taken from the ephemeral range, kept out of it while
 * the test runs: a broker taken down closes its listener, and a connection
 * (a reconnect to it can even connect to itself) given its port meanwhile
 * would make its listener fail to bind again when it comes back up.
 */
static void ports_reserve(const char *boot)
{
	char ports[256] = "", *p;
	const char *s = boot;
	FILE *f;

	while ((s = strchr(s, ':'))) {
		p = ports + strlen(ports);
		snprintf(p, sizeof(ports) - (p - ports), "%s%ld",
			 ports[0] ? "," : "", strtol(s + 1, NULL, 10));
		s++;
	}
	f = fopen(RESERVED_PORTS, "w");
	if (f) {
		fprintf(f, "%s\n", ports);	/* "\n" alone: none */
		fclose(f);
	}
}

static int cluster_new(struct cluster *c, const char *topic)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[256];

	rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
	c->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!c->rk)
		return -1;
	c->mc = rd_kafka_mock_cluster_new(c->rk, 3);
	if (!c->mc)
		return -1;
	snprintf(c->boot, sizeof(c->boot), "%s",
		 rd_kafka_mock_cluster_bootstraps(c->mc));
	ports_reserve(c->boot);
	return rd_kafka_mock_topic_create(c->mc, topic, PARTS, 3) ? -1 : 0;
}

static void cluster_free(struct cluster *c)
{
	ports_reserve("");
	if (c->mc)
		rd_kafka_mock_cluster_destroy(c->mc);
	if (c->rk)
		rd_kafka_destroy(c->rk);
}

static rd_kafka_t *client(struct cluster *c, rd_kafka_type_t type)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[256];

	rd_kafka_conf_set(conf, "bootstrap.servers", c->boot, err, sizeof(err));
	rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
	if (type == RD_KAFKA_CONSUMER) {
		rd_kafka_conf_set(conf, "group.id", "test", err, sizeof(err));
		rd_kafka_conf_set(conf, "enable.auto.commit", "false", err,
				  sizeof(err));
	} else {
		rd_kafka_conf_set(conf, "enable.idempotence", "true", err,
				  sizeof(err));
	}
	return rd_kafka_new(type, conf, err, sizeof(err));
}

/* A record as either side has it, to be compared. */
struct rec {
	int64_t origin;		/* the other side's offset */
	uint32_t partition;
	bool null_key, null_value;
	char key[32], value[64], hdr[64];
	int nhdr;
	uint64_t stamp;		/* mqdev's time: its own, or mqdev.timestamp */
};

/* The number a header's value spells. */
static int64_t hdr_number(const void *val, size_t size)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%.*s", val ? (int)size : 0,
		 val ? (const char *)val : "");
	return strtoll(buf, NULL, 10);
}

static void rec_of_kafka(struct rec *r, rd_kafka_message_t *m,
			 const char *origin_hdr)
{
	rd_kafka_headers_t *h;
	const char *name;
	const void *val;
	size_t size, i;

	memset(r, 0, sizeof(*r));
	r->origin = -1;
	r->partition = m->partition;
	r->null_key = !m->key;
	r->null_value = !m->payload;
	snprintf(r->key, sizeof(r->key), "%.*s", (int)m->key_len,
		 (char *)m->key);
	snprintf(r->value, sizeof(r->value), "%.*s", (int)m->len,
		 (char *)m->payload);
	if (rd_kafka_message_headers(m, &h))
		return;
	for (i = 0; !rd_kafka_header_get_all(h, i, &name, &val, &size); i++) {
		if (!strcmp(name, origin_hdr)) {
			r->origin = hdr_number(val, size);
		} else if (!strcmp(name, "mqdev.timestamp")) {
			r->stamp = hdr_number(val, size);
		} else if (!strcmp(name, "h")) {
			snprintf(r->hdr + strlen(r->hdr),
				 sizeof(r->hdr) - strlen(r->hdr), "%.*s|",
				 val ? (int)size : 6, val ? (char *)val : "(null)");
			r->nhdr++;
		}
	}
}

static void rec_of_mqdev(struct rec *r, const struct mqdev_record *m,
			 const char *origin_hdr)
{
	struct mqdev_header_iter it = {};
	struct mqdev_header h;
	const void *val;
	uint32_t len;

	memset(r, 0, sizeof(*r));
	r->origin = -1;
	r->stamp = m->timestamp;
	r->partition = m->partition;
	r->null_key = m->flags & MQDEV_RECORD_NULL_KEY;
	r->null_value = m->flags & MQDEV_RECORD_NULL_VALUE;
	snprintf(r->key, sizeof(r->key), "%.*s", m->key_len,
		 (char *)mqdev_record_key(m));
	mqdev_record_payload(m, &val, &len);
	snprintf(r->value, sizeof(r->value), "%.*s", len, (char *)val);
	while (mqdev_record_header_next(m, &it, &h) > 0) {
		if (h.key_len && h.key_len == strlen(origin_hdr) &&
		    !memcmp(h.key, origin_hdr, h.key_len)) {
			r->origin = hdr_number(h.value, h.value_len);
		} else if (h.key_len == 15 &&
			   !memcmp(h.key, "mqdev.timestamp", 15)) {
			r->stamp = hdr_number(h.value, h.value_len);
		} else if (h.key_len == 1 && !memcmp(h.key, "h", 1)) {
			snprintf(r->hdr + strlen(r->hdr),
				 sizeof(r->hdr) - strlen(r->hdr), "%.*s|",
				 h.value_len < 0 ? 6 : h.value_len,
				 h.value ? (char *)h.value : "(null)");
			r->nhdr++;
		}
	}
}

static bool rec_same(const struct rec *a, const struct rec *b)
{
	return a->partition == b->partition && a->null_key == b->null_key &&
	       a->null_value == b->null_value && !strcmp(a->key, b->key) &&
	       !strcmp(a->value, b->value) && !strcmp(a->hdr, b->hdr) &&
	       a->nhdr == b->nhdr;
}

/* Every record of the Kafka topic, partition by partition, into @out. */
static int kafka_read_all(struct cluster *c, const char *topic,
			  struct rec *out, int max, const char *origin_hdr)
{
	rd_kafka_topic_partition_list_t *tp;
	rd_kafka_t *k = client(c, RD_KAFKA_CONSUMER);
	int64_t lo, hi[PARTS], got[PARTS] = {};
	rd_kafka_message_t *m;
	uint64_t end = mono_ms() + 30000;
	int n = 0, p, done = 0;

	tp = rd_kafka_topic_partition_list_new(PARTS);
	for (p = 0; p < PARTS; p++) {
		if (rd_kafka_query_watermark_offsets(k, topic, p, &lo, &hi[p],
						     10000))
			return -1;
		rd_kafka_topic_partition_list_add(tp, topic, p)->offset =
			RD_KAFKA_OFFSET_BEGINNING;
		done += hi[p] == 0;
	}
	rd_kafka_assign(k, tp);
	rd_kafka_topic_partition_list_destroy(tp);
	while (done < PARTS && n < max && mono_ms() < end) {
		m = rd_kafka_consumer_poll(k, 100);
		if (!m)
			continue;
		if (!m->err) {
			rec_of_kafka(&out[n++], m, origin_hdr);
			if (++got[m->partition] == hi[m->partition])
				done++;
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(k);
	rd_kafka_destroy(k);
	return done == PARTS ? n : -1;
}

/*
 * Every record of the mqdev topic up to its watermark, into @out; each
 * one's origin is the offset header @origin_hdr names, or with "" its own
 * offset.
 */
static int mqdev_read_all(const char *topic, struct rec *out, int max,
			  const char *origin_hdr, uint64_t *aborted)
{
	struct mqdev_consumer *c;
	const struct mqdev_record *m;
	int n = 0;

	if (mqdev_consumer_new(topic, NULL, &c))
		return -1;
	mqdev_consumer_seek(c, MQDEV_PARTITION_ALL, MQDEV_SEEK_EARLIEST, 0, 0,
			    NULL);
	while (n < max && (m = mqdev_consumer_peek(c))) {
		rec_of_mqdev(&out[n], m, origin_hdr);
		if (!*origin_hdr)
			out[n].origin = m->offset;
		n++;
		mqdev_consumer_release(c);
	}
	if (aborted)
		*aborted = mqdev_consumer_aborted(c);
	mqdev_consumer_free(c);
	return n;
}

/* The content of record @i, as the tests produce it on either side. */
static void content(int i, bool *nk, bool *nv, char *key, char *val,
		    char *h1, char *h2)
{
	*nk = i % 5 == 0;
	*nv = i % 7 == 3;
	sprintf(key, "key-%d", i);
	sprintf(val, "value-%d", i);
	sprintf(h1, "one-%d", i);
	sprintf(h2, "two-%d", i);
}

/* Broker @broker down now, and up again @ms later, while the test goes on. */
struct outage {
	rd_kafka_mock_cluster_t *mc;
	int broker, ms;
	pthread_t thread;
};

static void *outage_run(void *arg)
{
	struct outage *o = arg;

	pthread_mutex_lock(&spawn_lock);
	rd_kafka_mock_broker_set_down(o->mc, o->broker);
	pthread_mutex_unlock(&spawn_lock);
	sleep_ms(o->ms);
	rd_kafka_mock_broker_set_up(o->mc, o->broker);
	return NULL;
}

static void outage_start(struct outage *o, rd_kafka_mock_cluster_t *mc,
			 const char *topic, int32_t partition, int broker,
			 int ms)
{
	o->mc = mc;
	o->broker = broker;
	o->ms = ms;
	rd_kafka_mock_partition_set_leader(mc, topic, partition, broker);
	pthread_create(&o->thread, NULL, outage_run, o);
}

/* ---- the fixture ----------------------------------------------------------- */

FIXTURE(mirror) {
	struct cluster c;
	struct daemon d;
	char topic[MQDEV_NAME_SIZE];
	char ktopic[MQDEV_NAME_SIZE + 8];
	unsigned long lag;
	struct rec *a, *b;
	pid_t kafkad;		/* mqdev_to_mqdev's gateway */
	char more[2][MQDEV_NAME_SIZE];	/* its other topics */
};

FIXTURE_SETUP(mirror)
{
	srand(getpid());
	self->lag = get_param("replica_lag_ms");
	ASSERT_EQ(0, set_param("replica_lag_ms", LAG_MS));
	snprintf(self->topic, sizeof(self->topic), "%s",
		 topic_name(_metadata->name));
	snprintf(self->ktopic, sizeof(self->ktopic), "k.%s", self->topic);
	ASSERT_EQ(0, cluster_new(&self->c, self->ktopic));
	daemon_paths(&self->d, self->topic);
	self->a = calloc(MAX_RECS, sizeof(struct rec));
	self->b = calloc(MAX_RECS, sizeof(struct rec));
}

FIXTURE_TEARDOWN(mirror)
{
	int fd = mqdev_open();

	if (self->d.pid > 0)
		daemon_kill(&self->d);
	if (self->kafkad > 0) {
		kill(self->kafkad, SIGKILL);
		wait_status(self->kafkad);
	}
	mqdev_topic_delete(fd, self->topic);
	if (self->more[0][0])
		mqdev_topic_delete(fd, self->more[0]);
	if (self->more[1][0])
		mqdev_topic_delete(fd, self->more[1]);
	close(fd);
	cluster_free(&self->c);
	set_param("replica_lag_ms", self->lag);
	free(self->a);
	free(self->b);
}

/* A short wait by default: most restarts have nothing in flight. */
static unsigned int settle_ms = 300;

static void write_config(struct daemon *d, const char *boot, const char *dir,
			 const char *topic, const char *ktopic)
{
	FILE *f = fopen(d->conf, "w");

	fprintf(f, "bootstrap_servers = %s\nstatus_file = %s\n"
		"status_ms = 200\nretry_max_ms = 1000\n"
		"resume_settle_ms = %u\n"
		"kafka.socket.timeout.ms = 3000\n"
		"kafka.topic.metadata.refresh.interval.ms = 1000\n"
		"\n[%s %s]\nkafka_topic = %s\n", boot, d->status, settle_ms,
		dir, topic, ktopic);
	fclose(f);
}

static int create_durable(const char *name)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, opts, .partitions = PARTS,
		      .flags = MQDEV_TOPIC_DURABLE, .min_insync = 1);
	int fd = mqdev_open(), err;

	err = mqdev_topic_create(fd, name, &opts);
	close(fd);
	return err;
}

static bool all_safe(const char *topic)
{
	struct mqdev_partition_info pi[PARTS];
	struct mqdev_topic_info info;
	int fd = mqdev_open(), p;
	bool ok;

	/* in sync: with no replica in sync, the watermark is the end */
	ok = !mqdev_topic_describe(fd, topic, &info, pi, PARTS);
	for (p = 0; ok && p < PARTS; p++)
		ok = pi[p].high_watermark == pi[p].next_offset &&
		     pi[p].in_sync == 1;
	close(fd);
	return ok;
}

static bool wait_safe(const char *topic, int ms)
{
	uint64_t end = mono_ms() + ms;

	while (!all_safe(topic) && mono_ms() < end)
		sleep_ms(100);
	return all_safe(topic);
}

/* The records the mqdev topic has, over its partitions. */
static uint64_t topic_records(const char *topic)
{
	struct mqdev_partition_info pi[PARTS];
	struct mqdev_topic_info info;
	uint64_t n = 0;
	int fd = mqdev_open(), p;

	if (!mqdev_topic_describe(fd, topic, &info, pi, PARTS))
		for (p = 0; p < PARTS; p++)
			n += pi[p].next_offset;
	close(fd);
	return n;
}

static void wait_records(const char *topic, uint64_t n)
{
	uint64_t end = mono_ms() + 60000;

	while (topic_records(topic) < n && mono_ms() < end)
		sleep_ms(50);
}

struct acked {
	int n, errors, last_error;
	uint64_t offset[MAX_RECS];
	uint32_t partition[MAX_RECS];
};

static void on_ack(void *ctx, const struct mqdev_ack *ack)
{
	struct acked *a = ctx;

	if (ack->error) {
		a->errors++;
		a->last_error = ack->error;
		return;
	}
	a->offset[a->n] = ack->offset;
	a->partition[a->n++] = ack->partition;
}

/* Record @i through @pr, to partition i % PARTS: the flush's result. */
static int send_rec(struct mqdev_producer *pr, int i)
{
	struct mqdev_header h[2];
	LIBMQDEV_OPTS(mqdev_send_opts, opts, .headers = h);
	char key[32], val[32], h1[32], h2[32];
	bool nk, nv;

	content(i, &nk, &nv, key, val, h1, h2);
	h[0] = (struct mqdev_header){ "h", 1, strlen(h1), h1 };
	h[1] = (struct mqdev_header){ "h", 1, -1, NULL };
	opts.nr_headers = i % 3 == 0 ? 0 : i % 3;
	mqdev_producer_send_opts(pr, nk ? NULL : key, nk ? 0 : strlen(key),
				 nv ? NULL : val, nv ? 0 : strlen(val),
				 i % PARTS, NULL, &opts);
	return mqdev_producer_flush(pr);
}

/*
 * The same record @i to Kafka, to partition i % PARTS; @origin: -1, or the
 * mqdev offset it carries, as the mirror sends it, with its mqdev time
 * @stamp.
 */
static int kafka_send(rd_kafka_t *kp, const char *ktopic, int i,
		      int64_t origin, uint64_t stamp)
{
	char key[32], val[32], h1[32], h2[32], obuf[24];
	rd_kafka_headers_t *h = rd_kafka_headers_new(3);
	bool nk, nv;

	content(i, &nk, &nv, key, val, h1, h2);
	if (i % 3)
		rd_kafka_header_add(h, "h", 1, h1, -1);
	if (i % 3 == 2)
		rd_kafka_header_add(h, "h", 1, NULL, 0);
	if (origin >= 0) {
		snprintf(obuf, sizeof(obuf), "%" PRIu64, stamp);
		rd_kafka_header_add(h, "mqdev.timestamp", -1, obuf, -1);
		snprintf(obuf, sizeof(obuf), "%" PRId64, origin);
		rd_kafka_header_add(h, "mqdev.offset", -1, obuf, -1);
	}
	return rd_kafka_producev(kp, RD_KAFKA_V_TOPIC(ktopic),
		RD_KAFKA_V_PARTITION(i % PARTS),
		RD_KAFKA_V_KEY(nk ? NULL : key, nk ? 0 : strlen(key)),
		RD_KAFKA_V_VALUE(nv ? NULL : val, nv ? 0 : strlen(val)),
		RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
}

/* Record @i through @pr (acks=all), again until acknowledged. */
static int send_acked(struct mqdev_producer *pr, struct acked *acked, int i)
{
	int tries, before;

	for (tries = 0; tries < 600; tries++) {
		before = acked->n;
		send_rec(pr, i);
		if (acked->n > before)
			return 0;
		sleep_ms(50);	/* ENOLINK: no replica in sync yet */
	}
	return -ETIMEDOUT;
}

/* Kafka's records equal the mqdev log's visible ones: once, in order. */
static void check_out(struct __test_metadata *_metadata, FIXTURE_DATA(mirror) *self,
		      struct acked *acked, uint64_t want_aborted)
{
	int nk, nm, i, j, p;
	uint64_t aborted = 0;
	int64_t last[PARTS];

	nm = mqdev_read_all(self->topic, self->a, MAX_RECS, "", &aborted);
	nk = kafka_read_all(&self->c, self->ktopic, self->b, MAX_RECS,
			    "mqdev.offset");
	ASSERT_LT(0, nm);
	ASSERT_EQ(nm, nk);
	EXPECT_EQ(want_aborted, aborted);
	for (p = 0; p < PARTS; p++)
		last[p] = -1;
	/* Kafka: per partition, mqdev offsets strictly rising */
	for (i = 0; i < nk; i++) {
		p = self->b[i].partition;
		ASSERT_LT(last[p], self->b[i].origin);
		last[p] = self->b[i].origin;
	}
	/* the same records: mqdev's in offset order, matched one to one */
	for (i = 0; i < nm; i++) {
		for (j = 0; j < nk; j++)
			if (self->b[j].partition == self->a[i].partition &&
			    self->b[j].origin == self->a[i].origin)
				break;
		ASSERT_LT(j, nk) TH_LOG("mqdev %u/%lld not in Kafka",
					self->a[i].partition,
					(long long)self->a[i].origin);
		EXPECT_TRUE(rec_same(&self->a[i], &self->b[j]))
			TH_LOG("record %u/%lld differs: key %s/%s value %s/%s "
			       "headers %s/%s", self->a[i].partition,
			       (long long)self->a[i].origin, self->a[i].key,
			       self->b[j].key, self->a[i].value,
			       self->b[j].value, self->a[i].hdr,
			       self->b[j].hdr);
		/* its mqdev time, to the nanosecond */
		EXPECT_EQ(self->a[i].stamp, self->b[j].stamp);
	}
	/* every acknowledged record is there */
	for (i = 0; i < acked->n; i++) {
		for (j = 0; j < nk; j++)
			if (self->b[j].partition == acked->partition[i] &&
			    self->b[j].origin == (int64_t)acked->offset[i])
				break;
		EXPECT_LT(j, nk) TH_LOG("acknowledged %u/%" PRIu64 " lost",
					acked->partition[i], acked->offset[i]);
	}
}

/* The outbound tests' acks=all producers (LIBMQDEV_OPTS, at file scope) */
static struct mqdev_producer_opts out_popts = {
	.sz = sizeof(struct mqdev_producer_opts),
	.flags = MQDEV_PRODUCER_ACKS_ALL, .ack_fn = on_ack,
};

/* Outbound: a durable topic mirrored, and an acks=all producer on it. */
static struct mqdev_producer *out_begin(struct __test_metadata *_metadata,
					FIXTURE_DATA(mirror) *self,
					struct acked *acked)
{
	struct mqdev_producer *pr = NULL;

	ASSERT_EQ(0, create_durable(self->topic));
	write_config(&self->d, self->c.boot, "out", self->topic, self->ktopic);
	daemon_start(&self->d);
	ASSERT_TRUE(log_wait(&self->d, "mirroring", 1, 60000)) log_dump(&self->d);
	out_popts.ack_ctx = acked;
	ASSERT_EQ(0, mqdev_producer_new(self->topic, &out_popts, &pr));
	return pr;
}

/*
 * Outbound: acks=all producers through the mirror; the leader of partition
 * 0 down and up, retriable Produce errors, the mirror killed at random
 * moments; an aborted transaction never reaches Kafka.
 */
TEST_F_TIMEOUT(mirror, outbound, 300)
{
	static struct acked acked;
	struct outage outage;
	struct mqdev_producer *pr, *tp;
	struct mqdev_session *s;
	int i, kills = 0, next_kill;

	pr = out_begin(_metadata, self, &acked);
	next_kill = 40 + rand() % 40;
	for (i = 0; i < RECORDS; i++) {
		if (i == 30)	/* partition 0's leader, for 1.5 s */
			outage_start(&outage, self->c.mc, self->ktopic, 0, 1,
				     1500);
		if (i == 50)
			pthread_join(outage.thread, NULL);
		if (i == 60)
			rd_kafka_mock_push_request_errors(self->c.mc,
				KAFKA_PRODUCE, 4,
				RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
				RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
				RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
				RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
		if (i == 70)
			rd_kafka_mock_broker_set_rtt(self->c.mc, 2, 50);
		if (i == next_kill && kills < 3) {
			/* mid-flight: what it produced may be unacknowledged */
			daemon_kill_working(&self->d);
			daemon_start(&self->d);
			kills++;
			next_kill = i + 30 + rand() % 40;
		}
		ASSERT_EQ(0, send_acked(pr, &acked, i)) log_dump(&self->d);
		if (i == 100) {
			/* a transaction aborted, one committed */
			ASSERT_EQ(0, mqdev_session_new(NULL, 0, &s));
			ASSERT_EQ(0, mqdev_producer_new(self->topic, NULL, &tp));
			ASSERT_EQ(0, mqdev_producer_bind(tp, s));
			ASSERT_EQ(0, mqdev_txn_begin(s, 1));
			mqdev_producer_send(tp, "k", 1, "aborted", 7, 0, NULL);
			mqdev_producer_send(tp, "k", 1, "aborted", 7, 1, NULL);
			mqdev_producer_send(tp, "k", 1, "aborted", 7, 0, NULL);
			ASSERT_EQ(0, mqdev_txn_abort(s));
			ASSERT_EQ(0, mqdev_txn_begin(s, 2));
			mqdev_producer_send(tp, "k", 1, "committed", 9, 0, NULL);
			ASSERT_EQ(0, mqdev_txn_commit(s));
			mqdev_producer_free(tp);
			mqdev_session_free(s);
		}
	}
	mqdev_producer_free(pr);
	rd_kafka_mock_broker_set_rtt(self->c.mc, 2, 0);
	EXPECT_EQ(3, kills);
	ASSERT_TRUE(wait_safe(self->topic, 30000)) log_dump(&self->d);
	ASSERT_EQ(RECORDS, acked.n);
	check_out(_metadata, self, &acked, 3);
	EXPECT_EQ(0, daemon_stop(&self->d));
}

/* How many of @n records are partition 0's and carry origin @off. */
static int count_origin(const struct rec *r, int n, int64_t off)
{
	int i, c = 0;

	for (i = 0; i < n; i++)
		c += r[i].partition == 0 && r[i].origin == off;
	return c;
}

/* Does Kafka hold mqdev offset @off of partition 0? */
static bool kafka_has(const struct rec *r, int n, int64_t off)
{
	return count_origin(r, n, off) > 0;
}

/*
 * Kafka refuses a batch for good while a later one, in flight, lands: a
 * hole in Kafka's copy.  The mirror must not go on past it as if it were
 * not there (confirming what follows and mirroring on): it stops the
 * link there and says so.
 */
TEST_F_TIMEOUT(mirror, outbound_refused_batch_is_a_hole_not_skipped, 180)
{
	static struct acked acked;
	struct mqdev_producer *pr;
	int i, n, b;

	pr = out_begin(_metadata, self, &acked);
	mqdev_producer_free(pr);
	pr = NULL;
	ASSERT_EQ(0, mqdev_producer_new(self->topic, NULL, &pr));
	/* two batches in flight at once: answers come late */
	for (b = 1; b <= 3; b++)
		rd_kafka_mock_broker_set_rtt(self->c.mc, b, 400);
	rd_kafka_mock_push_request_errors(self->c.mc, KAFKA_PRODUCE, 1,
					  RD_KAFKA_RESP_ERR_INVALID_RECORD);
	for (i = 0; i < 8; i++) {
		mqdev_producer_send(pr, NULL, 0, "v", 1, 0, NULL);
		mqdev_producer_flush(pr);
		sleep_ms(i == 1 ? 100 : 5);
	}
	sleep_ms(3000);
	for (b = 1; b <= 3; b++)
		rd_kafka_mock_broker_set_rtt(self->c.mc, b, 0);
	for (i = 0; i < 4; i++)	/* after the hole */
		mqdev_producer_send(pr, NULL, 0, "after", 5, 0, NULL);
	mqdev_producer_flush(pr);
	sleep_ms(3000);
	mqdev_producer_free(pr);
	n = kafka_read_all(&self->c, self->ktopic, self->b, MAX_RECS,
			   "mqdev.offset");
	ASSERT_LE(0, n);
	if (!kafka_has(self->b, n, 0) && kafka_has(self->b, n, 2)) {
		/* the hole was made: the mirror saw it and stopped there */
		EXPECT_TRUE(log_has(&self->d, "a hole")) log_dump(&self->d);
		EXPECT_FALSE(kafka_has(self->b, n, 8));
	} else {
		/* no hole: then everything came, in order */
		for (i = 0; i < 12; i++)
			EXPECT_TRUE(kafka_has(self->b, n, i))
				TH_LOG("mqdev offset %d not in Kafka", i);
	}
	TH_LOG("Kafka holds %d records; offset 0 %s, 2 %s", n,
	       kafka_has(self->b, n, 0) ? "yes" : "no",
	       kafka_has(self->b, n, 2) ? "yes" : "no");
	EXPECT_EQ(0, daemon_stop(&self->d));
}

/*
 * Whether the mqdev topic has @n records to read within a minute: up to
 * its watermark, where wait_records() counts those appended.
 */
static bool mqdev_wait_for(FIXTURE_DATA(mirror) *self, int n)
{
	int i;

	for (i = 0; i < 600; i++) {
		if (mqdev_read_all(self->topic, self->a, MAX_RECS,
				   "kafka.offset", NULL) >= n)
			return true;
		sleep_ms(100);
	}
	return false;
}

/*
 * Inbound: what Kafka holds arrives in mqdev, once each, in order, with
 * its content: the @total records the test produced (@want of them per
 * partition) and, if @outage, any copy of them Kafka itself appended.
 * The mock broker of librdkafka 2.0 drops a retried batch only for a
 * transactional producer: an outage that ate an idempotent producer's
 * acknowledgement leaves the batch in Kafka twice, and the mirror must
 * copy both.  Without an outage Kafka holds what was sent, no more.
 */
static void check_in(struct __test_metadata *_metadata,
		     FIXTURE_DATA(mirror) *self, int total,
		     const int64_t *want, bool outage)
{
	int64_t held[PARTS] = {};
	int i, n, p, kn;

	/*
	 * Kafka is read once the mirror has fetched what was sent: a test
	 * may have set the mock's next fetches to fail, for the mirror.
	 */
	ASSERT_TRUE(mqdev_wait_for(self, total)) log_dump(&self->d);
	kn = kafka_read_all(&self->c, self->ktopic, self->b, MAX_RECS,
			    "kafka.offset");
	if (outage) {
		ASSERT_LE(total, kn);
	} else {
		ASSERT_EQ(total, kn);
	}
	for (i = 0; i < kn; i++)
		held[self->b[i].partition]++;
	for (p = 0; p < PARTS; p++)
		ASSERT_LE(want[p], held[p]);
	/* every record arrives, then no more */
	mqdev_wait_for(self, kn);
	sleep_ms(1000);
	n = mqdev_read_all(self->topic, self->a, MAX_RECS, "kafka.offset",
			   NULL);
	ASSERT_EQ(kn, n) log_dump(&self->d);
	/* per partition: Kafka offsets 0, 1, 2... and the same records */
	for (p = 0; p < PARTS; p++) {
		int64_t expect = 0;

		for (i = 0; i < n; i++) {
			if (self->a[i].partition != (uint32_t)p)
				continue;
			ASSERT_EQ(expect, self->a[i].origin);
			expect++;
		}
		EXPECT_EQ(held[p], expect);
	}
	if (kn > total)
		TH_LOG("Kafka holds %d records of the %d sent: its own copies "
		       "of retried batches", kn, total);
	/* the content: the i-th record of a partition is Kafka's */
	for (p = 0; p < PARTS; p++) {
		int ia = 0, ib = 0;

		while (1) {
			while (ia < n && self->a[ia].partition != (uint32_t)p)
				ia++;
			while (ib < kn && self->b[ib].partition != (uint32_t)p)
				ib++;
			if (ia >= n || ib >= kn)
				break;
			EXPECT_TRUE(rec_same(&self->a[ia], &self->b[ib]))
				TH_LOG("partition %d: %s/%s %s/%s %s/%s", p,
				       self->a[ia].key, self->b[ib].key,
				       self->a[ia].value, self->b[ib].value,
				       self->a[ia].hdr, self->b[ib].hdr);
			ia++;
			ib++;
		}
	}
}

/* Inbound: what Kafka has appears in mqdev once, in order, across kills. */
TEST_F_TIMEOUT(mirror, inbound, 300)
{
	rd_kafka_t *kp = client(&self->c, RD_KAFKA_PRODUCER);
	struct outage outage;
	int i, kills = 0;
	int64_t want[PARTS] = {};
	uint64_t had = 0;
	LIBMQDEV_OPTS(mqdev_topic_opts, topts, .partitions = PARTS);
	int fd = mqdev_open();

	ASSERT_EQ(0, mqdev_topic_create(fd, self->topic, &topts));
	close(fd);
	write_config(&self->d, self->c.boot, "in", self->topic, self->ktopic);
	for (i = 0; i < RECORDS; i++) {
		if (i == RECORDS / 2) {
			rd_kafka_flush(kp, 30000);
			daemon_start(&self->d);
			had = topic_records(self->topic);
		}
		if (i == RECORDS / 2 + 20)	/* partition 1's leader */
			outage_start(&outage, self->c.mc, self->ktopic, 1, 2,
				     1500);
		if (i == RECORDS / 2 + 50)
			pthread_join(outage.thread, NULL);
		if (i > RECORDS / 2 && i % 30 == 0 && kills < 3) {
			/* once this instance appended: its successor goes on */
			rd_kafka_flush(kp, 30000);
			wait_records(self->topic, had + 1);
			daemon_kill_working(&self->d);
			daemon_start(&self->d);
			had = topic_records(self->topic);
			kills++;
		}
		ASSERT_EQ(0, kafka_send(kp, self->ktopic, i, -1, 0));
		want[i % PARTS]++;
		rd_kafka_poll(kp, 0);
	}
	ASSERT_EQ(0, rd_kafka_flush(kp, 30000));
	rd_kafka_destroy(kp);
	EXPECT_EQ(3, kills);

	check_in(_metadata, self, RECORDS, want, true);
	EXPECT_EQ(0, daemon_stop(&self->d));
}

/*
 * Kafka's consumer handing out again what it handed out before: a fetch
 * answered OFFSET_OUT_OF_RANGE sends it back to the earliest offset (the
 * link's auto.offset.reset), as a position a new leader does not confirm
 * sets it back.  What mqdev has already is not appended again.
 */
TEST_F_TIMEOUT(mirror, inbound_consumer_rewound, 180)
{
	rd_kafka_t *kp = client(&self->c, RD_KAFKA_PRODUCER);
	int64_t want[PARTS] = {};
	LIBMQDEV_OPTS(mqdev_topic_opts, topts, .partitions = PARTS);
	int fd = mqdev_open(), i;

	ASSERT_EQ(0, mqdev_topic_create(fd, self->topic, &topts));
	close(fd);
	write_config(&self->d, self->c.boot, "in", self->topic, self->ktopic);
	for (i = 0; i < 40; i++) {
		ASSERT_EQ(0, kafka_send(kp, self->ktopic, i, -1, 0));
		want[i % PARTS]++;
	}
	ASSERT_EQ(0, rd_kafka_flush(kp, 30000));
	daemon_start(&self->d);
	wait_records(self->topic, 40);
	ASSERT_EQ(40, topic_records(self->topic));
	/* every fetch in flight and the next ones: all partitions set back */
	rd_kafka_mock_push_request_errors(self->c.mc, KAFKA_FETCH, 4,
					  RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE,
					  RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE,
					  RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE,
					  RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE);
	for (; i < 60; i++) {
		ASSERT_EQ(0, kafka_send(kp, self->ktopic, i, -1, 0));
		want[i % PARTS]++;
	}
	ASSERT_EQ(0, rd_kafka_flush(kp, 30000));
	rd_kafka_destroy(kp);
	check_in(_metadata, self, 60, want, false);
	EXPECT_TRUE(log_has(&self->d, "again, below")) log_dump(&self->d);
	EXPECT_EQ(0, daemon_stop(&self->d));
}

/* @n records of @len bytes to partition 0 of Kafka's topic @t. */
static int kafka_send_n(rd_kafka_t *kp, const char *t, int n, size_t len)
{
	char *val = malloc(len + 1);
	int i, err = 0;

	if (!val)
		return -ENOMEM;
	memset(val, 'v', len);
	for (i = 0; i < n && !err; i++)
		err = rd_kafka_producev(kp, RD_KAFKA_V_TOPIC(t),
					RD_KAFKA_V_PARTITION(0),
					RD_KAFKA_V_VALUE(val, len),
					RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
					RD_KAFKA_V_END);
	free(val);
	return err ?: rd_kafka_flush(kp, 30000);
}


/*
 * A record mqdev will not take (larger than the topic allows) stops the
 * link before it, saying so: the records after it are not appended past a
 * hole, and a restart goes on at it.
 */
TEST_F_TIMEOUT(mirror, inbound_stops_at_a_refused_record, 180)
{
	rd_kafka_t *kp = client(&self->c, RD_KAFKA_PRODUCER);
	LIBMQDEV_OPTS(mqdev_topic_opts, topts, .partitions = PARTS,
		      .capacity = 8192);
	int fd = mqdev_open(), n;

	ASSERT_EQ(0, mqdev_topic_create(fd, self->topic, &topts));
	close(fd);
	write_config(&self->d, self->c.boot, "in", self->topic, self->ktopic);
	ASSERT_EQ(0, kafka_send_n(kp, self->ktopic, 1, 16));
	ASSERT_EQ(0, kafka_send_n(kp, self->ktopic, 1, 6000));
	ASSERT_EQ(0, kafka_send_n(kp, self->ktopic, 1, 16));
	rd_kafka_destroy(kp);
	daemon_start(&self->d);
	ASSERT_TRUE(log_wait(&self->d, "refused Kafka offset 1", 2, 60000))
		log_dump(&self->d);
	sleep_ms(500);
	n = mqdev_read_all(self->topic, self->a, MAX_RECS, "kafka.offset",
			   NULL);
	EXPECT_EQ(1, n);
	EXPECT_EQ(1, count_origin(self->a, n, 0));
	EXPECT_EQ(0, count_origin(self->a, n, 2));
	EXPECT_EQ(0, daemon_stop(&self->d));
}

/*
 * Another producer's transaction open in the inbound topic when the mirror
 * starts again hides the mirror's later records from a reader: the mirror
 * waits for it to be decided rather than append them a second time.
 */
TEST_F_TIMEOUT(mirror, inbound_waits_for_an_open_transaction, 240)
{
	rd_kafka_t *kp = client(&self->c, RD_KAFKA_PRODUCER);
	LIBMQDEV_OPTS(mqdev_topic_opts, topts, .partitions = PARTS);
	LIBMQDEV_OPTS(mqdev_producer_opts, popts);
	struct mqdev_session *s;
	struct mqdev_producer *pr;
	int fd = mqdev_open(), n;
	int64_t off;

	ASSERT_EQ(0, mqdev_topic_create(fd, self->topic, &topts));
	close(fd);
	write_config(&self->d, self->c.boot, "in", self->topic, self->ktopic);
	ASSERT_EQ(0, kafka_send_n(kp, self->ktopic, 10, 16));
	daemon_start(&self->d);
	wait_records(self->topic, 10);

	/* a transaction opens; the mirror appends 10 more after its record */
	ASSERT_EQ(0, mqdev_session_new(NULL, 60000, &s));
	ASSERT_EQ(0, mqdev_producer_new(self->topic, &popts, &pr));
	ASSERT_EQ(0, mqdev_producer_bind(pr, s));
	ASSERT_EQ(0, mqdev_txn_begin(s, 1));
	ASSERT_LE(0, mqdev_producer_send(pr, NULL, 0, "txn", 3, 0, NULL));
	ASSERT_LE(0, mqdev_producer_flush(pr));
	ASSERT_EQ(0, kafka_send_n(kp, self->ktopic, 10, 16));
	wait_records(self->topic, 21);
	daemon_kill(&self->d);

	daemon_start(&self->d);
	EXPECT_TRUE(log_wait(&self->d, "transaction is open", 1, 60000))
		log_dump(&self->d);
	ASSERT_EQ(0, mqdev_txn_commit(s));
	ASSERT_TRUE(log_wait(&self->d, "mirroring", 2, 60000));
	sleep_ms(1000);
	n = mqdev_read_all(self->topic, self->a, MAX_RECS, "kafka.offset",
			   NULL);
	EXPECT_EQ(21, n);
	for (off = 0; off < 20; off++)
		EXPECT_EQ(1, count_origin(self->a, n, off)) TH_LOG("%ld", (long)off);
	mqdev_producer_free(pr);
	mqdev_session_free(s);
	rd_kafka_destroy(kp);
	EXPECT_EQ(0, daemon_stop(&self->d));
}

/*
 * A cluster that cannot be reached: the mirror retries and says so;
 * acks=all producers are refused (no replica in sync) or time out waiting;
 * once the cluster is back, everything appended is in Kafka.
 */
TEST_F_TIMEOUT(mirror, unreachable, 300)
{
	LIBMQDEV_OPTS(mqdev_producer_opts, popts,
		      .flags = MQDEV_PRODUCER_ACKS_ALL);
	static struct acked acked;
	struct mqdev_producer *pr;
	uint64_t t0;
	char cmd[1200], line[512];
	FILE *f;
	bool lag_seen = false;
	int b, i;

	ASSERT_EQ(0, create_durable(self->topic));
	write_config(&self->d, self->c.boot, "out", self->topic, self->ktopic);
	for (b = 1; b <= 3; b++)
		rd_kafka_mock_broker_set_down(self->c.mc, b);
	daemon_start(&self->d);
	ASSERT_TRUE(log_wait(&self->d, "retrying in", 2, 60000))
		log_dump(&self->d);
	popts.ack_fn = on_ack;
	popts.ack_ctx = &acked;
	ASSERT_EQ(0, mqdev_producer_new(self->topic, &popts, &pr));
	mqdev_producer_send(pr, "k", 1, "refused", 7, 0, NULL);
	EXPECT_EQ(0, mqdev_producer_flush(pr));
	EXPECT_EQ(0, acked.n);
	EXPECT_EQ(1, acked.errors);
	EXPECT_EQ(-ENOLINK, acked.last_error);

	for (b = 1; b <= 3; b++)
		rd_kafka_mock_broker_set_up(self->c.mc, b);
	ASSERT_TRUE(log_wait(&self->d, "mirroring", 1, 60000))
		log_dump(&self->d);
	for (i = 0; i < 20; i++)
		ASSERT_EQ(0, send_acked(pr, &acked, i));

	/* down while attached: an acks=all producer waits, then ENOLINK */
	for (b = 1; b <= 3; b++)
		rd_kafka_mock_broker_set_down(self->c.mc, b);
	t0 = mono_ms();
	mqdev_producer_send(pr, "k", 1, "waits", 5, 1, NULL);
	EXPECT_EQ(0, mqdev_producer_flush(pr));
	EXPECT_EQ(20, acked.n);
	EXPECT_EQ(-ENOLINK, acked.last_error);
	EXPECT_LE(LAG_MS / 2, mono_ms() - t0);
	EXPECT_GE(LAG_MS * 5, mono_ms() - t0);

	/* the status says where each partition stands */
	exe_path(line, sizeof(line), "mqdev-mirror-asan");
	snprintf(cmd, sizeof(cmd), "ASAN_OPTIONS=detect_leaks=0 %s "
		 "--status-file %s", line, self->d.status);
	f = popen(cmd, "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		lag_seen |= strstr(line, "partition 1") && strstr(line, "lag");
	EXPECT_EQ(0, pclose(f));
	EXPECT_TRUE(lag_seen);

	for (b = 1; b <= 3; b++)
		rd_kafka_mock_broker_set_up(self->c.mc, b);
	ASSERT_TRUE(wait_safe(self->topic, 60000)) log_dump(&self->d);
	mqdev_producer_free(pr);
	check_out(_metadata, self, &acked, 0);
	EXPECT_EQ(0, daemon_stop(&self->d));
}

/*
 * The window a killed mirror leaves: a Produce request it had sent lands
 * after its successor started.  Here the test is the dead mirror: record
 * 10 is appended to mqdev with no mirror running, and produced to Kafka
 * (with its mqdev.offset, as the mirror would) once the new mirror looked
 * at Kafka's ends.  The new mirror must see the end move and go on after
 * it: Kafka then holds record 10 once.  Without the wait it would read the
 * end first and produce record 10 again.
 */
TEST_F_TIMEOUT(mirror, late_produce, 180)
{
	rd_kafka_t *kp = client(&self->c, RD_KAFKA_PRODUCER);
	struct mqdev_partition_info pi[PARTS];
	struct mqdev_topic_info info;
	static struct acked acked;
	struct mqdev_producer *pr;
	int i, fd, n;

	ASSERT_NE(NULL, kp);
	settle_ms = 3000;
	pr = out_begin(_metadata, self, &acked);
	for (i = 0; i < 10; i++)
		ASSERT_EQ(0, send_acked(pr, &acked, i)) log_dump(&self->d);
	mqdev_producer_free(pr);
	ASSERT_TRUE(wait_safe(self->topic, 30000)) log_dump(&self->d);
	daemon_kill(&self->d);

	/* record 10: in the ring, on its way to Kafka when "it" died */
	ASSERT_EQ(0, mqdev_producer_new(self->topic, NULL, &pr));
	ASSERT_EQ(1, send_rec(pr, 10));	/* one appended */
	mqdev_producer_free(pr);
	fd = mqdev_open();
	ASSERT_EQ(0, mqdev_topic_describe(fd, self->topic, &info, pi, PARTS));
	close(fd);

	daemon_start(&self->d);
	ASSERT_TRUE(log_wait(&self->d, "partition ends read", 2, 60000))
		log_dump(&self->d);
	sleep_ms(300);
	/* as the mirror sent it: its offset and its time */
	n = mqdev_read_all(self->topic, self->a, MAX_RECS, "", NULL);
	for (i = 0; i < n; i++)
		if (self->a[i].partition == 10 % PARTS &&
		    self->a[i].origin == (int64_t)pi[10 % PARTS].next_offset - 1)
			break;
	ASSERT_LT(i, n);
	ASSERT_EQ(0, kafka_send(kp, self->ktopic, 10, self->a[i].origin,
				self->a[i].stamp));
	ASSERT_EQ(0, rd_kafka_flush(kp, 10000));
	ASSERT_TRUE(log_wait(&self->d, "mirroring", 2, 60000)) log_dump(&self->d);
	EXPECT_TRUE(log_has(&self->d, "partition ends moved")) log_dump(&self->d);
	rd_kafka_destroy(kp);

	/* and it goes on after it */
	ASSERT_EQ(0, mqdev_producer_new(self->topic, &out_popts, &pr));
	for (i = 11; i < 20; i++)
		ASSERT_EQ(0, send_acked(pr, &acked, i)) log_dump(&self->d);
	mqdev_producer_free(pr);
	ASSERT_TRUE(wait_safe(self->topic, 30000)) log_dump(&self->d);
	check_out(_metadata, self, &acked, 0);
	EXPECT_EQ(0, daemon_stop(&self->d));
}

/* A replica's confirmation of every record @rep's partitions have. */
static int confirm_all(struct mqdev_consumer *rep, const char *topic)
{
	struct mqdev_partition_info pi[PARTS];
	struct mqdev_topic_info info;
	int p, err;

	err = mqdev_topic_describe(mqdev_consumer_fd(rep), topic, &info, pi,
				   PARTS);
	for (p = 0; !err && p < PARTS; p++)
		err = mqdev_replica_confirm(rep, p, pi[p].next_offset, NULL,
					    NULL);
	return err;
}

/*
 * Inbound into a durable topic: a restarted mirror reads the topic's end
 * only once a replica made it safe (the records past the watermark could
 * be taken back), waits meanwhile and says so, then goes on with nothing
 * lost or appended twice.  The replica is the test's, holding the
 * watermark at 0 until it confirms.
 */
TEST_F_TIMEOUT(mirror, inbound_durable, 180)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, ropts,
		      .flags = MQDEV_CONSUMER_REPLICA);
	rd_kafka_t *kp = client(&self->c, RD_KAFKA_PRODUCER);
	struct mqdev_consumer *rep;
	int64_t want[PARTS] = {};
	int i, p;

	ASSERT_NE(NULL, kp);
	/* the test's replica stays in sync while it holds the watermark */
	ASSERT_EQ(0, set_param("replica_lag_ms", 60000));
	ASSERT_EQ(0, create_durable(self->topic));
	ASSERT_EQ(0, mqdev_consumer_new(self->topic, &ropts, &rep));
	for (p = 0; p < PARTS; p++)
		ASSERT_EQ(0, mqdev_replica_confirm(rep, p, 0, NULL, NULL));
	write_config(&self->d, self->c.boot, "in", self->topic, self->ktopic);
	for (i = 0; i < 20; i++) {
		ASSERT_EQ(0, kafka_send(kp, self->ktopic, i, -1, 0));
		want[i % PARTS]++;
	}
	ASSERT_EQ(0, rd_kafka_flush(kp, 30000));
	daemon_start(&self->d);
	wait_records(self->topic, 20);
	ASSERT_EQ(20, topic_records(self->topic)) log_dump(&self->d);
	daemon_kill(&self->d);

	daemon_start(&self->d);
	ASSERT_TRUE(log_wait(&self->d, "records past the high watermark", 2,
			     60000)) log_dump(&self->d);
	EXPECT_EQ(1, log_count(&self->d, "mirroring"));
	EXPECT_EQ(20, topic_records(self->topic));
	ASSERT_EQ(0, confirm_all(rep, self->topic));
	ASSERT_TRUE(log_wait(&self->d, "mirroring", 2, 60000))
		log_dump(&self->d);
	for (i = 20; i < 40; i++) {
		ASSERT_EQ(0, kafka_send(kp, self->ktopic, i, -1, 0));
		want[i % PARTS]++;
	}
	ASSERT_EQ(0, rd_kafka_flush(kp, 30000));
	rd_kafka_destroy(kp);
	wait_records(self->topic, 40);
	ASSERT_EQ(0, confirm_all(rep, self->topic));
	check_in(_metadata, self, 40, want, false);
	mqdev_consumer_free(rep);
	EXPECT_EQ(0, daemon_stop(&self->d));
}

/* Its log says it is retrying, @count times in all, within @ms. */
static bool retries_wait(struct daemon *d, int count, int ms)
{
	uint64_t end = mono_ms() + ms;
	int n;

	do {
		n = log_count(d, "retrying in") +
		    log_count(d, "retried with backoff");
		if (n >= count)
			return true;
		sleep_ms(100);
	} while (mono_ms() < end);
	return false;
}

/*
 * Inbound from a cluster that cannot be reached, at the start and while
 * mirroring: the mirror retries and says so; once the cluster is back,
 * every record arrives once, in order.
 */
TEST_F_TIMEOUT(mirror, inbound_unreachable, 180)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, topts, .partitions = PARTS);
	rd_kafka_t *kp = client(&self->c, RD_KAFKA_PRODUCER);
	int64_t want[PARTS] = {};
	int fd = mqdev_open(), b, i, said;

	ASSERT_NE(NULL, kp);
	ASSERT_EQ(0, mqdev_topic_create(fd, self->topic, &topts));
	close(fd);
	write_config(&self->d, self->c.boot, "in", self->topic, self->ktopic);
	for (i = 0; i < 20; i++) {
		ASSERT_EQ(0, kafka_send(kp, self->ktopic, i, -1, 0));
		want[i % PARTS]++;
	}
	ASSERT_EQ(0, rd_kafka_flush(kp, 30000));

	for (b = 1; b <= 3; b++)
		rd_kafka_mock_broker_set_down(self->c.mc, b);
	daemon_start(&self->d);
	ASSERT_TRUE(retries_wait(&self->d, 2, 60000)) log_dump(&self->d);
	EXPECT_EQ(0, topic_records(self->topic));
	for (b = 1; b <= 3; b++)
		rd_kafka_mock_broker_set_up(self->c.mc, b);
	ASSERT_TRUE(log_wait(&self->d, "mirroring", 1, 60000))
		log_dump(&self->d);
	wait_records(self->topic, 20);

	/* down while mirroring: said; the records produced meanwhile wait */
	said = log_count(&self->d, "retrying in") +
	       log_count(&self->d, "retried with backoff");
	for (b = 1; b <= 3; b++)
		rd_kafka_mock_broker_set_down(self->c.mc, b);
	for (i = 20; i < 30; i++) {
		ASSERT_EQ(0, kafka_send(kp, self->ktopic, i, -1, 0));
		want[i % PARTS]++;
	}
	EXPECT_TRUE(retries_wait(&self->d, said + 1, 30000))
		log_dump(&self->d);
	for (b = 1; b <= 3; b++)
		rd_kafka_mock_broker_set_up(self->c.mc, b);
	ASSERT_EQ(0, rd_kafka_flush(kp, 60000));
	rd_kafka_destroy(kp);
	check_in(_metadata, self, 30, want, false);
	EXPECT_EQ(0, daemon_stop(&self->d));
}

/* Bad configurations: a clear error naming the line, exit status 2. */
TEST_F_TIMEOUT(mirror, bad_config, 120)
{
	static const struct {
		const char *text, *says;
	} cases[] = {
		{ "[out t]\n", "bootstrap_servers is not set" },
		{ "bootstrap_servers = x:1\n", "nothing to mirror" },
		{ "bootstrap_servers = x:1\n[sideways t]\n",
		  ":2: a section is [out TOPIC] or [in TOPIC]" },
		{ "bootstrap_servers = x:1\ncolour = blue\n[out t]\n",
		  ":2: unknown key colour" },
		{ "bootstrap_servers = x:1\n[out t]\n[in t]\n",
		  ":3: topic mirrored twice" },
		{ "bootstrap_servers = x:1\nretry_max_ms = 5\n[out t]\n",
		  ":2: retry_max_ms = 5: bad value" },
		{ "bootstrap_servers = x:1\n[out t]\ngroup = g\n",
		  ":3: unknown key group in a topic's section" },
		{ "bootstrap_servers\n", ":1: expected key = value" },
		{ "bootstrap_servers = x:1\nkafka.no.such.thing = 1\n[out t]\n",
		  "no.such.thing" },
		{ "bootstrap_servers = x:1\n[out t]\ntransactional = maybe\n",
		  ":3: transactional = maybe: bad value" },
		{ "bootstrap_servers = x:1\n[in t]\ntransactional = true\n",
		  ":3: unknown key transactional in a topic's section" },
		{ "bootstrap_servers = x:1\n[out t]\ntransactional_id = x\n",
		  ":2: transactional_id without transactional = true" },
	};
	unsigned int i;
	FILE *f;
	int fd;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unlink(self->d.log);
		f = fopen(self->d.conf, "w");
		fputs(cases[i].text, f);
		fclose(f);
		EXPECT_EQ(2, wait_status(daemon_run(&self->d, "--foreground",
						    NULL)));
		EXPECT_TRUE(log_has(&self->d, cases[i].says))
			TH_LOG("case %u: wanted \"%s\"", i, cases[i].says);
		EXPECT_FALSE(log_has(&self->d, "Sanitizer"));
	}
	unlink(self->d.conf);
	EXPECT_EQ(2, wait_status(daemon_run(&self->d, "--foreground", NULL)));
	EXPECT_TRUE(log_has(&self->d, "No such file"));
	EXPECT_EQ(2, wait_status(daemon_run(&self->d, "--bogus", NULL)));

	/* a topic that is not durable cannot be mirrored out: said, retried */
	fd = mqdev_open();
	ASSERT_EQ(0, mqdev_topic_create(fd, self->topic, NULL));
	close(fd);
	unlink(self->d.log);
	write_config(&self->d, self->c.boot, "out", self->topic, self->ktopic);
	daemon_start(&self->d);
	EXPECT_TRUE(log_wait(&self->d, "not a durable topic", 2, 30000))
		log_dump(&self->d);
	EXPECT_EQ(0, daemon_stop(&self->d));
}

/* ---- mqdev to mqdev, through mqdev-kafkad -------------------------------- */

#define KAFKAD_ADDR	"127.0.0.1:19093"
#define M2M_RECORDS	120

/*
 * The gateway of "host 2", built with the sanitizers, on KAFKAD_ADDR, its
 * log in @log; started the @nth time once it says it listens.  @advertise:
 * "advertised_port=PORT" for its clients to come through a proxy, or NULL.
 */
static pid_t kafkad_start_at(const char *bin, const char *log, int nth,
			     const char *advertise)
{
	char *argv[] = { (char *)bin, "--listen", KAFKAD_ADDR, "-v", "--set",
			 "allow_simple_commit=yes",
			 advertise ? "--set" : NULL, (char *)advertise, NULL };
	uint64_t end = mono_ms() + 60000;
	pid_t pid = spawn(log, argv);

	if (pid < 0)
		return -1;
	while (log_lines(log, "listening on") < nth && mono_ms() < end)
		sleep_ms(50);
	if (log_lines(log, "listening on") >= nth)
		return pid;
	kill(pid, SIGKILL);
	wait_status(pid);
	return -1;
}

static pid_t kafkad_start(const char *bin, const char *log, int nth)
{
	return kafkad_start_at(bin, log, nth, NULL);
}

/* SIGTERM: 0 when it ended cleanly and no sanitizer spoke. */
static int kafkad_stop(pid_t pid, const char *log)
{
	int status;

	kill(pid, SIGTERM);
	status = wait_status(pid);
	if (log_lines(log, "Sanitizer") || log_lines(log, "runtime error"))
		status = 99;
	if (status)
		log_print(log, "kafkad");
	return status;
}

/*
 * @dst, appended by a link from @src through the gateway (both read here
 * as the mqdev topics they are; @hdr: the header its records carry their
 * @src offset in): each of @src's records once, in its order per
 * partition, with its key, value, headers and mqdev time.
 */
static void check_chain(struct __test_metadata *_metadata,
			FIXTURE_DATA(mirror) *self, const char *src,
			const char *dst, const char *hdr)
{
	int64_t last[PARTS] = { -1, -1 };
	int ns, nd, i, j, p;

	ns = mqdev_read_all(src, self->a, MAX_RECS, "", NULL);
	nd = mqdev_read_all(dst, self->b, MAX_RECS, hdr, NULL);
	ASSERT_LT(0, ns);
	ASSERT_EQ(ns, nd);
	for (i = 0; i < nd; i++) {
		p = self->b[i].partition;
		ASSERT_LT(last[p], self->b[i].origin) TH_LOG("%s: %d/%lld "
			"after %lld", dst, p, (long long)self->b[i].origin,
			(long long)last[p]);
		last[p] = self->b[i].origin;
		for (j = 0; j < ns; j++)
			if (self->a[j].partition == (uint32_t)p &&
			    self->a[j].origin == self->b[i].origin)
				break;
		ASSERT_LT(j, ns) TH_LOG("%s has %d/%lld, %s does not", dst, p,
					(long long)self->b[i].origin, src);
		EXPECT_TRUE(rec_same(&self->a[j], &self->b[i]))
			TH_LOG("%d/%lld differs", p, (long long)self->b[i].origin);
		EXPECT_EQ(self->a[j].stamp, self->b[i].stamp);
	}
}

/* Both of its links mirroring (again), then SIGKILL within 300 ms. */
static void mirror_kill_working(struct daemon *d)
{
	log_wait(d, "mirroring", 2 * d->starts, 60000);
	sleep_ms(rand() % 300);
	daemon_kill(d);
}

/*
 * Two hosts joined as they would be with Kafka between them, the Kafka
 * side being mqdev-kafkad: on "host 1" a durable topic A mirrored out
 * (acks=all producers answered once the gateway has the records), through
 * the gateway into topic B of "host 2", and B mirrored in through the
 * gateway into topic C.  The mirror is SIGKILLed at random moments and the
 * gateway twice, once with the mirror's requests unanswered (librdkafka
 * fails the producer: the mirror makes it anew and resumes) and once
 * between requests (the new gateway takes on the producer id, at the
 * epoch librdkafka bumps to): B must hold each of A's records once, in order, the same,
 * every acknowledged one among them, and C each of B's.  One mqdev serves
 * both hosts, told apart by their topics' names.
 */
TEST_F_TIMEOUT(mirror, mqdev_to_mqdev, 900)
{
	static struct acked acked;
	LIBMQDEV_OPTS(mqdev_topic_opts, topts, .partitions = PARTS);
	struct mqdev_producer *pr = NULL, *plain;
	char bin[600], klog[96], *b = self->more[0], *c = self->more[1];
	/*
	 * The mirror's kills: from which record, over how many; away from
	 * the gateway's, at M2M_RECORDS / 2 and 3 / 4.
	 */
	static const int kill_at[3][2] = { { 10, 35 }, { 66, 18 }, { 96, 19 } };
	int i, j, fd, kills = 0, next_kill, adopted, anew;
	FILE *f;

	exe_path(bin, sizeof(bin), "../bin/mqdev-kafkad-san");
	if (access(bin, X_OK))
		SKIP(return, "no %s (make)", bin);
	snprintf(klog, sizeof(klog), "/tmp/%s.kafkad.log", self->topic);
	unlink(klog);
	/* the Kafka side of check_out() is the gateway */
	snprintf(self->c.boot, sizeof(self->c.boot), "%s", KAFKAD_ADDR);
	snprintf(b, MQDEV_NAME_SIZE, "%.64s", self->ktopic);
	snprintf(c, MQDEV_NAME_SIZE, "c.%.62s", self->topic);
	fd = mqdev_open();
	ASSERT_EQ(0, mqdev_topic_create(fd, b, &topts));
	ASSERT_EQ(0, mqdev_topic_create(fd, c, &topts));
	close(fd);
	ASSERT_EQ(0, create_durable(self->topic));
	self->kafkad = kafkad_start(bin, klog, 1);
	ASSERT_LT(0, self->kafkad) log_print(klog, "kafkad");

	f = fopen(self->d.conf, "w");
	ASSERT_NE(NULL, f);
	fprintf(f, "bootstrap_servers = %s\nstatus_file = %s\n"
		"status_ms = 200\nretry_max_ms = 1000\nresume_settle_ms = 1000\n"
		"kafka.socket.timeout.ms = 10000\n"
		"kafka.topic.metadata.refresh.interval.ms = 1000\n"
		"[out %s]\nkafka_topic = %s\n[in %s]\nkafka_topic = %s\n",
		KAFKAD_ADDR, self->d.status, self->topic, b, c, b);
	fclose(f);
	daemon_start(&self->d);
	ASSERT_TRUE(log_wait(&self->d, "mirroring", 2, 120000))
		log_dump(&self->d);
	out_popts.ack_ctx = &acked;
	ASSERT_EQ(0, mqdev_producer_new(self->topic, &out_popts, &pr));

	next_kill = kill_at[0][0] + rand() % kill_at[0][1];
	for (i = 0; i < M2M_RECORDS; i++) {
		if (i == next_kill && kills < 3) {
			mirror_kill_working(&self->d);
			daemon_start(&self->d);
			if (++kills < 3)
				next_kill = kill_at[kills][0] +
					    rand() % kill_at[kills][1];
		}
		if (i == M2M_RECORDS * 3 / 4) {
			/* and between two requests */
			kill(self->kafkad, SIGKILL);
			wait_status(self->kafkad);
			self->kafkad = kafkad_start(bin, klog, 3);
			ASSERT_LT(0, self->kafkad) log_print(klog, "kafkad");
		}
		if (i == M2M_RECORDS / 2) {
			/*
			 * host 2's gateway dies with the mirror's requests
			 * unanswered: sent again, to the next one
			 */
			kill(self->kafkad, SIGSTOP);
			ASSERT_EQ(0, mqdev_producer_new(self->topic, NULL,
							&plain));
			for (j = 0; j < 4; j++)
				send_rec(plain, M2M_RECORDS + j);
			mqdev_producer_free(plain);
			sleep_ms(1000);
			kill(self->kafkad, SIGKILL);
			wait_status(self->kafkad);
			self->kafkad = kafkad_start(bin, klog, 2);
			ASSERT_LT(0, self->kafkad) log_print(klog, "kafkad");
		}
		ASSERT_EQ(0, send_acked(pr, &acked, i)) {
			log_dump(&self->d);
			log_print(klog, "kafkad");
		}
	}
	mqdev_producer_free(pr);
	EXPECT_EQ(3, kills);
	ASSERT_TRUE(wait_safe(self->topic, 60000)) log_dump(&self->d);
	ASSERT_EQ(M2M_RECORDS, acked.n);
	check_out(_metadata, self, &acked, 0);

	/* inbound: C catches up with B, then holds each of its records once */
	for (i = 0; i < 1200 && topic_records(c) < topic_records(b); i++)
		sleep_ms(100);
	sleep_ms(1000);
	check_chain(_metadata, self, b, c, "kafka.offset");
	/*
	 * Both ways through a restart of the gateway were taken: see the
	 * test's comment.
	 */
	adopted = log_lines(klog, "taken on at sequence 0");
	anew = log_count(&self->d, "starting it anew");
	EXPECT_LT(0, adopted);
	EXPECT_LT(0, anew);
	TH_LOG("A -> B -> C: %d records, the mirror started %d times; the "
	       "gateway took on %d producer ids, the mirror's producer was "
	       "made anew %d times", M2M_RECORDS + 4, self->d.starts, adopted,
	       anew);
	EXPECT_EQ(0, daemon_stop(&self->d));
	EXPECT_EQ(0, kafkad_stop(self->kafkad, klog));
	self->kafkad = 0;
}

/* ---- a dead mirror's Produce landing late, through a proxy ---------------- */

#define PROXY_PORT	19094
#define PROXY_ADDR	"127.0.0.1:19094"
#define PROXY_CONNS	64
#define PROXY_BUF	(1 << 20)

/* One client's connection, and the proxy's to the gateway. */
struct pconn {
	int c, s;		/* -1: closed */
	size_t len;		/* bytes from the client not yet forwarded */
	bool held;		/* forwarding stopped at a Produce request */
	char *buf;
};

/*
 * A TCP proxy in front of the gateway (which advertises it, so that every
 * connection of the mirror's goes through it).  Armed, it holds the next
 * Produce request a client sends, with whatever that connection sends
 * after it, even past the client's death; released, it hands them to the
 * gateway: a request of a killed mirror's, landing whenever the test says.
 */
struct proxy {
	int lfd;
	pthread_t thread;
	struct pconn conns[PROXY_CONNS];
	volatile bool stop, arm, release;
	volatile int held, landed;
};

static void pconn_close(struct pconn *pc)
{
	if (pc->c >= 0)
		close(pc->c);
	if (pc->s >= 0)
		close(pc->s);
	free(pc->buf);
	memset(pc, 0, sizeof(*pc));
	pc->c = pc->s = -1;
}

static void proxy_accept(struct proxy *px)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(19093),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int c = accept(px->lfd, NULL, NULL), s, i;

	if (c < 0)
		return;
	s = socket(AF_INET, SOCK_STREAM, 0);
	for (i = 0; i < PROXY_CONNS && px->conns[i].buf; i++)
		;
	if (s < 0 || i == PROXY_CONNS ||
	    connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		close(c);
		if (s >= 0)
			close(s);
		return;
	}
	px->conns[i].c = c;
	px->conns[i].s = s;
	px->conns[i].buf = malloc(PROXY_BUF);
	if (!px->conns[i].buf)
		pconn_close(&px->conns[i]);
}

/* Whole requests to the gateway, up to a Produce if armed. */
static void proxy_forward(struct proxy *px, struct pconn *pc)
{
	uint32_t size;
	uint16_t api;

	while (!pc->held && pc->len >= 6) {
		memcpy(&size, pc->buf, 4);
		memcpy(&api, pc->buf + 4, 2);
		size = ntohl(size) + 4;
		if (px->arm && ntohs(api) == KAFKA_PRODUCE) {
			px->arm = false;
			pc->held = true;
			px->held++;
			return;
		}
		if (pc->len < size)
			return;
		send(pc->s, pc->buf, size, MSG_NOSIGNAL);
		memmove(pc->buf, pc->buf + size, pc->len - size);
		pc->len -= size;
	}
}

static void proxy_release(struct proxy *px)
{
	struct pconn *pc;
	int i;

	px->release = false;
	for (i = 0; i < PROXY_CONNS; i++) {
		pc = &px->conns[i];
		if (!pc->buf || !pc->held)
			continue;
		send(pc->s, pc->buf, pc->len, MSG_NOSIGNAL);
		pc->len = 0;
		pc->held = false;
		px->landed++;
	}
}

/* What is readable on @pc: -1 when it is over. */
static int proxy_io(struct proxy *px, struct pconn *pc, short cev, short sev)
{
	char buf[65536];
	ssize_t n;

	if (sev & (POLLIN | POLLHUP | POLLERR)) {
		n = recv(pc->s, buf, sizeof(buf), 0);
		if (n <= 0)
			return -1;
		/* a dead client's answer: its request was served */
		if (pc->c < 0)
			return -1;
		send(pc->c, buf, n, MSG_NOSIGNAL);
	}
	if (pc->c >= 0 && (cev & (POLLIN | POLLHUP | POLLERR))) {
		n = recv(pc->c, pc->buf + pc->len, PROXY_BUF - pc->len, 0);
		if (n <= 0) {
			close(pc->c);
			pc->c = -1;
			return pc->held ? 0 : -1;	/* held: to land later */
		}
		pc->len += n;
		proxy_forward(px, pc);
	}
	return 0;
}

static void *proxy_run(void *arg)
{
	struct pollfd fds[1 + 2 * PROXY_CONNS];
	struct proxy *px = arg;
	struct pconn *pc;
	int i;

	while (!px->stop) {
		fds[0] = (struct pollfd){ .fd = px->lfd, .events = POLLIN };
		for (i = 0; i < PROXY_CONNS; i++) {
			pc = &px->conns[i];
			fds[1 + 2 * i] = (struct pollfd){ .fd = pc->buf ? pc->c : -1,
				.events = pc->len < PROXY_BUF ? POLLIN : 0 };
			fds[2 + 2 * i] = (struct pollfd){ .fd = pc->buf ? pc->s : -1,
							  .events = POLLIN };
		}
		if (poll(fds, 1 + 2 * PROXY_CONNS, 50) < 0)
			break;
		if (px->release)
			proxy_release(px);
		if (fds[0].revents & POLLIN)
			proxy_accept(px);
		for (i = 0; i < PROXY_CONNS; i++) {
			pc = &px->conns[i];
			if (pc->buf && proxy_io(px, pc, fds[1 + 2 * i].revents,
						fds[2 + 2 * i].revents))
				pconn_close(pc);
		}
	}
	for (i = 0; i < PROXY_CONNS; i++)
		if (px->conns[i].buf)
			pconn_close(&px->conns[i]);
	return NULL;
}

static int proxy_start(struct proxy *px)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(PROXY_PORT),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, i;

	memset(px, 0, sizeof(*px));
	for (i = 0; i < PROXY_CONNS; i++)
		px->conns[i].c = px->conns[i].s = -1;
	px->lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (px->lfd < 0)
		return -1;
	setsockopt(px->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(px->lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(px->lfd, 16) ||
	    pthread_create(&px->thread, NULL, proxy_run, px)) {
		close(px->lfd);
		return -1;
	}
	return 0;
}

static void proxy_stop(struct proxy *px)
{
	px->stop = true;
	pthread_join(px->thread, NULL);
	close(px->lfd);
}

/* Records of @topic that carry the same mqdev offset as one before them. */
static int duplicates(FIXTURE_DATA(mirror) *self, const char *topic)
{
	int n = mqdev_read_all(topic, self->b, MAX_RECS, "mqdev.offset", NULL);
	int i, j, dups = 0;

	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
			if (self->b[j].partition == self->b[i].partition &&
			    self->b[j].origin == self->b[i].origin) {
				dups++;
				break;
			}
	return dups;
}

static bool wait_visible(FIXTURE_DATA(mirror) *self, const char *topic,
			 int n, int ms)
{
	uint64_t end = mono_ms() + ms;

	while (mqdev_read_all(topic, self->b, MAX_RECS, "", NULL) < n &&
	       mono_ms() < end)
		sleep_ms(100);
	return mqdev_read_all(topic, self->b, MAX_RECS, "", NULL) >= n;
}

/* @n aborted records at the end of each partition of @topic. */
static int append_aborted(const char *topic, int n)
{
	struct mqdev_producer *tp = NULL;
	struct mqdev_session *s;
	int i, err;

	err = mqdev_session_new(NULL, 0, &s);
	if (err)
		return err;
	err = mqdev_producer_new(topic, NULL, &tp);
	if (!err)
		err = mqdev_producer_bind(tp, s);
	if (!err)
		err = mqdev_txn_begin(s, 1);
	for (i = 0; !err && i < n * PARTS; i++)
		mqdev_producer_send(tp, "k", 1, "aborted", 7, i % PARTS, NULL);
	if (!err && mqdev_producer_flush(tp) < 0)
		err = -EIO;
	if (!err)
		err = mqdev_txn_abort(s);
	mqdev_producer_free(tp);
	mqdev_session_free(s);
	return err;
}

#define LATE_RECORDS	60
#define LATE_HELD	4	/* records 10 to 13, in the held request */

/*
 * A durable topic A mirrored out through the gateway into topic B, every
 * connection through the proxy.  Records 0-9 mirrored; then the proxy
 * holds the mirror's next Produce (records 10-13), the mirror is SIGKILLed
 * and started again; once the new one has mirrored 10-13 itself, the held
 * request lands.  Returns B's duplicates then; with @kills, the mirror is
 * then killed that many times more at random moments of its work while
 * records go on to LATE_RECORDS, and B must hold each of A's once; the
 * first of them with aborted records at the end of B (as a dead
 * transactional instance leaves on Kafka), which the new mirror must read
 * back past to find where it stopped.
 */
static int late_through_gateway(struct __test_metadata *_metadata,
				FIXTURE_DATA(mirror) *self, bool txn,
				int kills)
{
	static struct acked acked;
	LIBMQDEV_OPTS(mqdev_topic_opts, topts, .partitions = PARTS);
	struct mqdev_producer *pr = NULL, *plain;
	char bin[600], klog[96], *b = self->more[0];
	struct proxy px;
	int i, fd, dups = -1, next_kill = 0;
	uint64_t end;
	FILE *f;

	memset(&acked, 0, sizeof(acked));
	exe_path(bin, sizeof(bin), "../bin/mqdev-kafkad-san");
	if (access(bin, X_OK)) {
		SKIP(return -1, "no %s (make)", bin);
	}
	snprintf(klog, sizeof(klog), "/tmp/%s.kafkad.log", self->topic);
	unlink(klog);
	snprintf(b, MQDEV_NAME_SIZE, "%.64s", self->ktopic);
	fd = mqdev_open();
	EXPECT_EQ(0, mqdev_topic_create(fd, b, &topts));
	close(fd);
	EXPECT_EQ(0, create_durable(self->topic));
	self->kafkad = kafkad_start_at(bin, klog, 1, "advertised_port=19094");
	EXPECT_LT(0, self->kafkad) log_print(klog, "kafkad");
	if (self->kafkad <= 0 || proxy_start(&px))
		return -1;

	f = fopen(self->d.conf, "w");
	fprintf(f, "bootstrap_servers = %s\nstatus_file = %s\n"
		"status_ms = 200\nretry_max_ms = 1000\nresume_settle_ms = 300\n"
		"kafka.socket.timeout.ms = 10000\n"
		"[out %s]\nkafka_topic = %s\ntransactional = %s\n",
		PROXY_ADDR, self->d.status, self->topic, b,
		txn ? "true" : "false");
	fclose(f);
	daemon_start(&self->d);
	if (!log_wait(&self->d, "mirroring", 1, 120000))
		goto out;
	out_popts.ack_ctx = &acked;
	if (mqdev_producer_new(self->topic, &out_popts, &pr))
		goto out;
	for (i = 0; i < 10; i++)
		if (send_acked(pr, &acked, i))
			goto out;

	/* 10-13 on their way, held; the mirror dies, another one starts */
	px.arm = true;
	mqdev_producer_new(self->topic, NULL, &plain);
	for (i = 10; i < 10 + LATE_HELD; i++)
		send_rec(plain, i);
	mqdev_producer_free(plain);
	for (end = mono_ms() + 30000; !px.held && mono_ms() < end;)
		sleep_ms(20);
	EXPECT_EQ(1, px.held);
	daemon_kill(&self->d);
	daemon_start(&self->d);
	EXPECT_TRUE(log_wait(&self->d, "mirroring", 2, 120000));
	EXPECT_TRUE(wait_safe(self->topic, 60000));
	EXPECT_TRUE(wait_visible(self, b, 10 + LATE_HELD, 30000));
	/* now the dead one's request lands, and is answered */
	px.release = true;
	for (end = mono_ms() + 10000; !px.landed && mono_ms() < end;)
		sleep_ms(20);
	EXPECT_EQ(1, px.landed);
	sleep_ms(1000);
	dups = duplicates(self, b);
	TH_LOG("%s: the dead mirror's request landed: %d duplicates",
	       txn ? "transactional" : "not transactional", dups);

	if (kills)
		next_kill = 20 + rand() % 10;
	for (i = 10 + LATE_HELD; i < LATE_RECORDS; i++) {
		if (kills && i == next_kill) {
			daemon_kill_working(&self->d);
			/* 5 per partition: read back over 1, 2, 4 then 8 */
			if (self->d.starts == 2)
				EXPECT_EQ(0, append_aborted(b, 5));
			daemon_start(&self->d);
			next_kill += 8 + rand() % 8;
			kills--;
		}
		if (send_acked(pr, &acked, i))
			break;
	}
	EXPECT_EQ(LATE_RECORDS, i);
	EXPECT_EQ(0, kills);
	EXPECT_TRUE(wait_safe(self->topic, 60000));
	EXPECT_TRUE(wait_visible(self, b, LATE_RECORDS, 30000));
	sleep_ms(500);
out:
	mqdev_producer_free(pr);
	proxy_stop(&px);
	if (dups >= 0 && _metadata->exit_code == KSFT_PASS)
		return dups;
	log_dump(&self->d);
	log_print(klog, "kafkad");
	return dups;
}

/*
 * The window left without transactions: a dead mirror's Produce landing
 * after its successor read the end and the settle wait passed is written
 * twice.  This shows it, so that the test below means something.
 */
TEST_F_TIMEOUT(mirror, late_produce_through_gateway_duplicates, 300)
{
	int dups = late_through_gateway(_metadata, self, false, 0);
	char klog[96];

	EXPECT_LT(0, dups);
	EXPECT_EQ(0, daemon_stop(&self->d));
	snprintf(klog, sizeof(klog), "/tmp/%s.kafkad.log", self->topic);
	EXPECT_EQ(0, kafkad_stop(self->kafkad, klog));
	self->kafkad = 0;
}

/*
 * The same with "transactional = true": the new mirror's
 * init_transactions() fenced the dead one, whose request is refused when it
 * lands.  Then the mirror is killed three times more at random moments:
 * B holds each of A's records once, in order, the same.
 */
TEST_F_TIMEOUT(mirror, late_produce_through_gateway_transactional, 600)
{
	char klog[96];

	EXPECT_EQ(0, late_through_gateway(_metadata, self, true, 3));
	check_chain(_metadata, self, self->topic, self->more[0],
		    "mqdev.offset");
	EXPECT_LE(3, log_count(&self->d, "the instances before are fenced"));
	EXPECT_EQ(0, daemon_stop(&self->d));
	snprintf(klog, sizeof(klog), "/tmp/%s.kafkad.log", self->topic);
	EXPECT_EQ(0, kafkad_stop(self->kafkad, klog));
	self->kafkad = 0;
}

TEST_HARNESS_MAIN
