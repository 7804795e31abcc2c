// SPDX-License-Identifier: GPL-2.0
/*
 * mqdev-mirror: mqdev topics mirrored to and from a Kafka cluster.
 *
 * One process, one epoll loop (librdkafka runs its own threads for the
 * network and hands its results to this loop through its queues, which
 * wake it through a pipe).  Each turn: links not running are (re)started
 * when their backoff has passed; outbound links produce what is new in
 * their rings and confirm what Kafka acknowledged (out.c); inbound links
 * append what Kafka delivered (in.c); the status file is rewritten every
 * status_ms.  A link that fails says why in the log and is started anew
 * after a backoff that doubles up to retry_max_ms.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "mirror.h"
#include "../common/sig.h"

#define TICK_MS		100
#define PAUSE_MS	10	/* see link_arm() */
#define SUMMARY_MS	60000	/* between each link's line in the log */
#define BACKOFF_MIN_MS	250
#define STATUS_MAX	(1 << 20)	/* bytes --status reads at most */
#define SIG_TAG		((void *)1)
#define WAKE_TAG	((void *)2)

static struct config config;
static int epfd = -1, sigfd = -1, wake[2] = { -1, -1 };
static bool stopping;
static int exit_status;		/* 1: stopped for a failure, to be restarted */

static const char usage[] =
"usage: mqdev-mirror [--config FILE] [--foreground]\n"
"       mqdev-mirror --status [--config FILE | --status-file FILE]\n"
"\n"
"Mirrors mqdev topics to and from a Kafka cluster.  [out TOPIC] sections:\n"
"the durable mqdev topic is replicated to a Kafka topic (the mirror is one\n"
"of its replicas: an acks=all producer returns once Kafka's in-sync\n"
"replicas have its records).  [in TOPIC] sections: a Kafka topic is\n"
"appended to the mqdev topic.  Neither loses nor duplicates a record\n"
"across a crash of the mirror.  Outbound needs CAP_SYS_ADMIN.\n"
"\n"
"  -c, --config FILE       default /etc/mqdev/mqdev-mirror.conf\n"
"  -f, --foreground        log to stderr only (the default under systemd)\n"
"  -s, --status            print each mirrored partition's lag, rate and\n"
"                          errors, from the running mirror's status file\n"
"      --status-file FILE  that file, instead of the configuration's\n"
"  -h, --help\n"
"\n"
"Exit status: 0 after SIGTERM, 1 on a fatal error, 2 for a bad command\n"
"line or configuration.\n";

static const char *const level_names[] = {
	"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"
};

void say(int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "mqdev-mirror: %s: %s\n", level_names[level & 7], buf);
}

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static const char *link_name(const struct link *l)
{
	return l->dir == DIR_OUT ? "out" : "in";
}

/**
 * link_fail() - a link stops, and says why; it starts again after a backoff
 * @l: the link
 * @err: -errno
 * @fmt: what failed
 */
void link_fail(struct link *l, int err, const char *fmt, ...)
{
	char what[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	l->backoff_ms = l->backoff_ms ? l->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (l->backoff_ms > config.retry_max_ms)
		l->backoff_ms = config.retry_max_ms;
	l->retry_at = now_ms() + l->backoff_ms;
	l->ready = false;
	snprintf(l->state, sizeof(l->state), "%s: %s", what, strerror(-err));
	say(LOG_WARNING, "%s %s: %s: retrying in %u ms", link_name(l),
	    l->topic, l->state, l->backoff_ms);
}

void link_ok(struct link *l)
{
	l->ready = true;
	l->backoff_ms = 0;
	snprintf(l->state, sizeof(l->state), "ok");
	say(LOG_NOTICE, "%s %s: mirroring %s Kafka topic %s", link_name(l),
	    l->topic, l->dir == DIR_OUT ? "to" : "from", l->kafka_topic);
}

/**
 * link_sizes() - what a link's two topics are now
 * @l: the link
 * @k: a Kafka client to ask
 * @info: the mqdev topic's description
 * @kparts: the Kafka topic's partitions
 *
 * Return: 0, or -errno after link_fail() said why.
 */
int link_sizes(struct link *l, rd_kafka_t *k, struct mqdev_topic_info *info,
	       uint32_t *kparts)
{
	int fd = mqdev_open(), err;

	if (fd < 0) {
		link_fail(l, fd, "/dev/mq");
		return fd;
	}
	err = mqdev_topic_describe(fd, l->topic, info, NULL, 0);
	close(fd);
	if (err) {
		link_fail(l, err, "the mqdev topic");
		return err;
	}
	err = kafka_partitions(k, l->kafka_topic, kparts, 5000);
	if (err)
		link_fail(l, err, "Kafka topic %s", l->kafka_topic);
	return err;
}

/* kafka.debug is set: librdkafka's debug lines are asked for, and said */
static bool kafka_debug;

static void kafka_log(const rd_kafka_t *k, int level, const char *fac,
		      const char *buf)
{
	/* errors come to the error callbacks, said once there */
	if ((level <= LOG_WARNING || kafka_debug) && strcmp(fac, "FAIL") &&
	    strcmp(fac, "ERROR"))
		say(level, "kafka: %s: %s", fac, buf);
}

/**
 * kafka_conf() - librdkafka's configuration: ours, then the file's kafka.*
 * @cfg: the configuration
 * @confp: the new configuration
 * @err: a message on failure
 * @errlen: its room
 *
 * Return: 0, or -EINVAL with @err set (and nothing to free).
 */
int kafka_conf(const struct config *cfg, rd_kafka_conf_t **confp, char *err,
	       size_t errlen)
{
	static const char *const props[][2] = {
		{ "reconnect.backoff.ms", "100" },
		{ "log.connection.close", "false" },
	};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char max[16];
	unsigned int i;

	snprintf(max, sizeof(max), "%u", cfg->retry_max_ms);
	if (rd_kafka_conf_set(conf, "bootstrap.servers", cfg->bootstrap, err,
			      errlen) ||
	    rd_kafka_conf_set(conf, "reconnect.backoff.max.ms", max, err,
			      errlen))
		goto bad;
	for (i = 0; i < sizeof(props) / sizeof(props[0]); i++)
		if (rd_kafka_conf_set(conf, props[i][0], props[i][1], err,
				      errlen))
			goto bad;
	for (i = 0; i < cfg->nprops; i++) {
		kafka_debug |= !strcmp(cfg->props[i].key, "debug");
		if (rd_kafka_conf_set(conf, cfg->props[i].key,
				      cfg->props[i].val, err, errlen)) {
			snprintf(err + strlen(err), errlen - strlen(err),
				 " (%s:%d)", cfg->path, cfg->props[i].line);
			goto bad;
		}
	}
	rd_kafka_conf_set_log_cb(conf, kafka_log);
	*confp = conf;
	return 0;
bad:
	rd_kafka_conf_destroy(conf);
	return -EINVAL;
}

/**
 * kafka_conf_with() - kafka_conf(), then properties of the caller's own
 * @cfg: the configuration
 * @props: { property, value } pairs, set after the file's kafka.*
 * @n: how many
 * @confp: the new configuration
 * @err: a message on failure
 * @errlen: its room
 *
 * Return: 0, or -EINVAL with @err set (and nothing to free).
 */
int kafka_conf_with(const struct config *cfg, const char *const (*props)[2],
		    unsigned int n, rd_kafka_conf_t **confp, char *err,
		    size_t errlen)
{
	unsigned int i;

	if (kafka_conf(cfg, confp, err, errlen))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (rd_kafka_conf_set(*confp, props[i][0], props[i][1], err,
				      errlen)) {
			rd_kafka_conf_destroy(*confp);
			return -EINVAL;
		}
	}
	return 0;
}

/**
 * kafka_partitions() - how many partitions a Kafka topic has
 * @k: a client
 * @topic: the topic
 * @count: the answer
 * @timeout_ms: how long to wait for the cluster
 *
 * Return: 0, -ENOENT for no such topic, or -EAGAIN (unreachable).
 */
int kafka_partitions(rd_kafka_t *k, const char *topic, uint32_t *count,
		     int timeout_ms)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_topic_t *t = rd_kafka_topic_new(k, topic, NULL);
	int err = -EAGAIN;

	if (!t)
		return -ENOMEM;
	if (!rd_kafka_metadata(k, 0, t, &md, timeout_ms)) {
		if (md->topic_cnt != 1 || md->topics[0].err ||
		    !md->topics[0].partition_cnt) {
			err = -ENOENT;
		} else {
			*count = md->topics[0].partition_cnt;
			err = 0;
		}
		rd_kafka_metadata_destroy(md);
	}
	rd_kafka_topic_destroy(t);
	return err;
}

/* ---- the status ---------------------------------------------------------- */

static uint64_t out_end(const struct link *l, uint32_t p,
			const struct mqdev_partition_info *pi, bool have)
{
	return have ? pi[p].next_offset : l->parts[p].next;
}

static void status_link(FILE *f, struct link *l, uint64_t ms)
{
	static struct mqdev_partition_info pi[MAX_PARTITIONS];
	struct mqdev_topic_info info;
	int64_t lo, hi;
	struct mpart *mp;
	bool have = false;
	uint64_t end;
	uint32_t p;

	if (l->ready && l->dir == DIR_OUT && l->rep)
		have = !mqdev_topic_describe(mqdev_consumer_fd(l->rep),
					     l->topic, &info, pi, l->nparts);
	fprintf(f, "%s %s kafka %s state %s", link_name(l), l->topic,
		l->kafka_topic, l->state);
	if (l->transactional)
		fprintf(f, " transactional_id %s committed %" PRIu64,
			l->txn_id, l->tx_commits);
	fputc('\n', f);
	for (p = 0; l->parts && p < l->nparts; p++) {
		mp = &l->parts[p];
		if (l->dir == DIR_OUT) {
			end = out_end(l, p, pi, have);
			mp->lag = end > mp->acked ? end - mp->acked : 0;
		} else if (l->rk_in &&
			   !rd_kafka_get_watermark_offsets(l->rk_in,
							   l->kafka_topic, p,
							   &lo, &hi)) {
			mp->lag = hi > (int64_t)mp->appended ?
				  hi - mp->appended : 0;
		}
		mp->rate = (mp->records - mp->rate_base) * 1000 / (ms ? ms : 1);
		mp->rate_base = mp->records;
		fprintf(f, "  partition %u next %" PRIu64 " %s %" PRIu64
			" lag %" PRIu64 " records %" PRIu64 " bytes %" PRIu64
			" rate %" PRIu64 "/s errors %" PRIu64 "\n", p, mp->next,
			l->dir == DIR_OUT ? "acked" : "appended",
			l->dir == DIR_OUT ? mp->acked : mp->appended, mp->lag,
			mp->records, mp->bytes, mp->rate, mp->errors);
	}
}

/* Each link's lag, rate and errors, in the log every SUMMARY_MS. */
static void status_summary(struct link *l, uint64_t ms)
{
	uint64_t lag = 0, records = 0, errors = 0;
	uint32_t p;

	for (p = 0; l->parts && p < l->nparts; p++) {
		lag += l->parts[p].lag;
		records += l->parts[p].records;
		errors += l->parts[p].errors;
	}
	say(LOG_INFO, "%s %s: %s; lag %" PRIu64 " records, %" PRIu64
	    " records/s, %" PRIu64 " records in all, %" PRIu64 " errors",
	    link_name(l), l->topic, l->state,
	    lag, (records - l->summary_base) * 1000 / (ms ? ms : 1), records,
	    errors);
	l->summary_base = records;
}

/* Written whole to a temporary file, then renamed: never read half done. */
static void status_write(uint64_t ms)
{
	static bool warned;
	char tmp[4096 + 8];
	struct link *l;
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", config.status_file);
	f = fopen(tmp, "w");
	if (!f) {
		if (!warned)
			say(LOG_WARNING, "status file %s: %s: --status will not "
			    "work", tmp, strerror(errno));
		warned = true;
		return;
	}
	fprintf(f, "mqdev-mirror pid %d bootstrap %s\n", (int)getpid(),
		config.bootstrap);
	for (l = config.links; l; l = l->next)
		status_link(f, l, ms);
	if (fclose(f) || rename(tmp, config.status_file))
		unlink(tmp);
}

static int status_show(const char *path, uint32_t status_ms)
{
	char buf[4096];
	struct stat st;
	size_t n, total = 0;
	FILE *f = fopen(path, "r");

	if (!f || fstat(fileno(f), &st)) {
		fprintf(stderr, "mqdev-mirror: %s: %s (is the mirror "
			"running?)\n", path, strerror(errno));
		if (f)
			fclose(f);
		return 1;
	}
	while (total < STATUS_MAX && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
		fwrite(buf, 1, n, stdout);
		total += n;
	}
	fclose(f);
	if (time(NULL) - st.st_mtime > 3 * (status_ms / 1000 + 1)) {
		printf("stale: not updated for %lld s: the mirror is not "
		       "running\n", (long long)(time(NULL) - st.st_mtime));
		return 1;
	}
	return 0;
}

/* ---- the loop ------------------------------------------------------------ */

/* librdkafka writes to the pipe when a queue of ours stops being empty. */
static void wake_on(rd_kafka_queue_t *q)
{
	rd_kafka_queue_io_event_enable(q, wake[1], "1", 1);
	rd_kafka_queue_destroy(q);
}

static void link_start(struct link *l)
{
	int err;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLPRI, .data.ptr = l };

	if (l->dir == DIR_OUT) {
		l->disarmed = l->woke = false;
		err = out_start(l);
		if (!err && epoll_ctl(epfd, EPOLL_CTL_ADD,
				      mqdev_consumer_fd(l->rep), &ev))
			err = -errno;
		if (err) {
			out_stop(l);
			return;
		}
		if (l->rk_tx)
			wake_on(rd_kafka_queue_get_main(l->rk_tx));
	} else {
		err = in_start(&config, l);
		if (err) {
			in_stop(l);
			return;
		}
		wake_on(rd_kafka_queue_get_consumer(l->rk_in));
	}
	link_ok(l);
}

static uint64_t link_inflight(const struct link *l)
{
	uint64_t n = 0;
	uint32_t p;

	for (p = 0; l->parts && p < l->nparts; p++)
		n += l->parts[p].inflight;
	return n;
}

/* A failed link's resources go; an outbound one's once Kafka answered. */
static void link_stop(struct link *l)
{
	if (l->dir == DIR_IN) {
		in_stop(l);
	} else if (l->transactional || !link_inflight(l)) {
		/*
		 * closing the handle drops it from the ISR; a transactional
		 * link's producer goes with what it had open, to be aborted
		 */
		out_stop(l);
	}
}

static bool link_running(const struct link *l)
{
	return l->dir == DIR_OUT ? l->rep != NULL : l->rk_in != NULL;
}

static void producer_restart(void)
{
	struct link *l;

	/* the transactional links' producers are their own */
	for (l = config.links; l; l = l->next) {
		if (l->dir == DIR_OUT && !l->transactional && l->ready)
			link_fail(l, -EIO, "the Kafka producer failed");
	}
	out_exit();
	for (l = config.links; l; l = l->next) {
		if (l->dir == DIR_OUT && !l->transactional) {
			memset(l->parts, 0, l->nparts * sizeof(*l->parts));
			out_stop(l);
		}
	}
	if (!out_init(&config)) {
		wake_on(rd_kafka_queue_get_main(out_rk()));
	} else {
		say(LOG_CRIT, "the Kafka producer cannot be made again: "
		    "stopping, for the service manager to start us again");
		exit_status = 1;
		stopping = true;
	}
}

/*
 * The rings can poll readable with nothing to take: a transaction not yet
 * decided, or no room in flight.  Their EPOLLIN is then left out for
 * PAUSE_MS, so that the loop does not spin on it.
 */
static void link_arm(struct link *l, bool on, uint64_t now)
{
	struct epoll_event ev = { .events = EPOLLPRI | (on ? EPOLLIN : 0),
				  .data.ptr = l };

	if (epoll_ctl(epfd, EPOLL_CTL_MOD, mqdev_consumer_fd(l->rep), &ev))
		return;
	l->disarmed = !on;
	l->rearm_at = now + PAUSE_MS;
}

static void out_turn(struct link *l, uint64_t now, int *timeout)
{
	int n = out_drain(l);

	out_poll(0);
	if (l->ready)
		out_confirm(l);
	if (!l->ready)
		return;
	if (n > 0)
		*timeout = 0;
	else if (l->woke && !l->disarmed)
		link_arm(l, false, now);
	else if (l->disarmed && now >= l->rearm_at)
		link_arm(l, true, now);
	if (l->disarmed && *timeout > PAUSE_MS)
		*timeout = PAUSE_MS;
	l->woke = false;
}

/* One turn of the loop: how long it may sleep next, in ms. */
static int turn(void)
{
	uint64_t now = now_ms();
	int timeout = TICK_MS;
	struct link *l;

	if (out_fatal())
		producer_restart();
	out_poll(0);
	for (l = config.links; l; l = l->next) {
		if (!l->ready && link_running(l))
			link_stop(l);
		if (!l->ready && !link_running(l) && now >= l->retry_at &&
		    !l->fenced)
			link_start(l);
		if (!l->ready)
			continue;
		if (l->dir == DIR_OUT) {
			out_turn(l, now, &timeout);
		} else if (in_pump(l) > 0) {
			timeout = 0;
		} else if (l->held && timeout > PAUSE_MS) {
			timeout = PAUSE_MS;	/* mqdev had no room */
		}
	}
	return timeout;
}

static void on_event(struct epoll_event *ev)
{
	struct signalfd_siginfo si;
	struct link *l = ev->data.ptr;
	char buf[64];

	if (ev->data.ptr == SIG_TAG) {
		if (read(sigfd, &si, sizeof(si)) == sizeof(si))
			stopping = true;
		return;
	}
	if (ev->data.ptr == WAKE_TAG) {
		while (read(wake[0], buf, sizeof(buf)) > 0)
			;
		return;
	}
	if (l->ready && (ev->events & EPOLLPRI))
		out_groups(l);
	if (ev->events & EPOLLIN)
		l->woke = true;
}

static int loop(void)
{
	struct epoll_event evs[16];
	uint64_t next_status = 0, last_status = now_ms(), now;
	uint64_t last_summary = last_status;
	struct link *l;
	int n, i, timeout;

	while (!stopping) {
		timeout = turn();
		now = now_ms();
		if (now >= next_status) {
			status_write(now - last_status);
			last_status = now;
			next_status = now + config.status_ms;
		}
		if (now >= last_summary + SUMMARY_MS) {
			for (l = config.links; l; l = l->next)
				status_summary(l, now - last_summary);
			last_summary = now;
		}
		n = epoll_wait(epfd, evs, 16, timeout);
		for (i = 0; i < n; i++)
			on_event(&evs[i]);
	}
	return 0;
}

/* SIGTERM: what is in flight gets its answer and is confirmed, then exit. */
static void shutdown_links(void)
{
	struct link *l;

	out_flush(10000);
	for (l = config.links; l; l = l->next) {
		if (l->dir == DIR_OUT && l->ready)
			out_confirm(l);
		if (l->dir == DIR_IN && l->ready) {
			mqdev_producer_flush(l->prod);
			l->commit_at = 0;
			in_pump(l);
		}
	}
	out_exit();
	status_write(1000);
	for (l = config.links; l; l = l->next) {
		if (l->dir == DIR_OUT)
			out_stop(l);
		else
			in_stop(l);
		l->ready = false;
	}
}

static int setup(void)
{
	struct epoll_event ev = { .events = EPOLLIN };

	sigfd = stop_signal_fd();
	if (sigfd < 0)
		return sigfd;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0 || pipe2(wake, O_CLOEXEC | O_NONBLOCK))
		return -errno;
	ev.data.ptr = SIG_TAG;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, sigfd, &ev))
		return -errno;
	ev.data.ptr = WAKE_TAG;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, wake[0], &ev))
		return -errno;
	if (out_init(&config))
		return -EINVAL;
	wake_on(rd_kafka_queue_get_main(out_rk()));
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "status", no_argument, NULL, 's' },
		{ "status-file", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *path = "/etc/mqdev/mqdev-mirror.conf", *sfile = NULL;
	bool status = false;
	int opt, err;

	while ((opt = getopt_long(argc, argv, "c:fsh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			break;
		case 's':
			status = true;
			break;
		case 'S':
			sfile = optarg;
			status = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mqdev-mirror: unexpected argument %s\n%s",
			argv[optind], usage);
		return 2;
	}
	if (status && sfile)
		return status_show(sfile, 1000);
	if (config_load(&config, path)) {
		config_free(&config);
		return 2;
	}
	if (status) {
		err = status_show(config.status_file, config.status_ms);
		config_free(&config);
		return err;
	}
	err = setup();
	if (err) {
		say(LOG_ERR, "starting: %s", strerror(-err));
		config_free(&config);
		return err == -EINVAL ? 2 : 1;
	}
	say(LOG_INFO, "ready: %s", config.path);
	loop();
	say(LOG_INFO, "stopping");
	shutdown_links();
	config_free(&config);
	return exit_status;
}
