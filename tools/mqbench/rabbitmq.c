// SPDX-License-Identifier: GPL-2.0
/*
 * RabbitMQ, the exchange scenario's other peer: Debian's rabbitmq-server
 * started in the guest from the host's /usr (tools/vm/run --host-usr) by
 * rabbitmq-server.sh, once per run, and driven over loopback by a
 * producer on librabbitmq (rabbitmq-c) with the routing of exchange.c's
 * cases: an exchange of the same type, one queue bound with the same
 * binding keys as the mqdev topic (100,000 bindings: 100,000 keys on the
 * one queue), messages of the same size with the same routing key.  The
 * plain produce's case publishes to the queue through the default
 * exchange.
 *
 * Publisher confirms are on and a round of BATCH messages is published,
 * then its confirms awaited before the next: a message counts once the
 * broker has taken responsibility for it, as an mqdev produce counts once
 * its call returned the acknowledgement.  The queue is a classic one, not
 * durable, the messages transient (delivery mode 1): in memory, as an
 * mqdev topic is.  The queue is purged between repetitions.  Each case has
 * an exchange and a queue of its own, left to the node when it is done
 * (purged): RabbitMQ takes as long to delete bindings as to make them,
 * and the node is thrown away at the end of the scenario.
 */
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include "libmqdev.h"
#include "mqbench.h"

#define RABBIT_HOST	"127.0.0.1"
#define RABBIT_PORT	5672
#define RABBIT_CHANNEL	1
/*
 * Under TCG the node took 185 s to answer on a busy machine (8 s on the
 * host): room for a slower one.
 */
#define RABBIT_START_S	300
/* How long the bindings of one case may take (rabbit_bind()). */
#define RABBIT_BIND_S	300
#define RABBIT_BIND_CHUNK 1000

static pid_t rabbit_pid;
static char rabbit_dir[] = "/tmp/mqbench-rabbitmq.XXXXXX";

/* A connection logged in as the default user, channel 1 open; or NULL. */
static amqp_connection_state_t rabbit_connect(void)
{
	amqp_connection_state_t c = amqp_new_connection();
	struct timeval tv = { .tv_sec = 10 };
	amqp_socket_t *s = c ? amqp_tcp_socket_new(c) : NULL;
	amqp_rpc_reply_t r;

	if (!s || amqp_socket_open_noblock(s, RABBIT_HOST, RABBIT_PORT, &tv))
		goto fail;
	r = amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest",
		       "guest");
	if (r.reply_type != AMQP_RESPONSE_NORMAL)
		goto fail;
	if (!amqp_channel_open(c, RABBIT_CHANNEL))
		goto fail;
	return c;
fail:
	if (c)
		amqp_destroy_connection(c);
	return NULL;
}

static void rabbit_close(amqp_connection_state_t c)
{
	amqp_channel_close(c, RABBIT_CHANNEL, AMQP_REPLY_SUCCESS);
	amqp_connection_close(c, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(c);
}

/* The start script, beside this program's sources in the project tree. */
static int rabbit_script(char *path, size_t len)
{
	const char *root = getenv("MQDEV_ROOT");
	char exe[512];
	ssize_t n;

	if (root) {
		snprintf(path, len, "%s/tools/mqbench/rabbitmq-server.sh", root);
		return access(path, R_OK);
	}
	/* build/bin/mqbench -> tools/mqbench/ */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	snprintf(path, len, "%s/../../tools/mqbench/rabbitmq-server.sh",
		 dirname(exe));
	return access(path, R_OK);
}

/* The last lines of @file to stderr: why the node did not come up. */
static void rabbit_tail(const char *file)
{
	char cmd[640];

	snprintf(cmd, sizeof(cmd), "tail -n 25 '%s/%s' >&2", rabbit_dir, file);
	fprintf(stderr, "----- %s/%s -----\n", rabbit_dir, file);
	if (system(cmd))
		fprintf(stderr, "(none)\n");
}

static void rabbit_kill(void)
{
	int i;

	if (rabbit_pid <= 0)
		return;
	/* the script, the node, epmd: the group rabbit_spawn() made */
	kill(-rabbit_pid, SIGTERM);
	for (i = 0; i < 150; i++) {
		if (waitpid(rabbit_pid, NULL, WNOHANG) == rabbit_pid)
			break;
		usleep(100 * 1000);
	}
	kill(-rabbit_pid, SIGKILL);
	if (i == 150)
		waitpid(rabbit_pid, NULL, 0);
	rabbit_pid = 0;
}

/* The start script in a new process group, its output to start.log. */
static int rabbit_spawn(const char *script)
{
	char log[sizeof(rabbit_dir) + 16], port[16];

	snprintf(log, sizeof(log), "%s/start.log", rabbit_dir);
	snprintf(port, sizeof(port), "%d", RABBIT_PORT);
	rabbit_pid = fork();
	if (rabbit_pid < 0)
		return -1;
	if (!rabbit_pid) {
		setpgid(0, 0);
		if (!freopen(log, "w", stdout) || dup2(1, 2) < 0)
			_exit(126);
		execl("/bin/sh", "sh", script, rabbit_dir, port, (char *)NULL);
		_exit(127);
	}
	setpgid(rabbit_pid, rabbit_pid);
	return 0;
}

/**
 * rabbitmq_start() - start RabbitMQ in the guest, once per run
 *
 * A second call answers as the first did, without starting it again.  Waits until the node accepts an AMQP login, RABBIT_START_S at most, and
 * says on stderr how long it took, or why it did not start (the start
 * script's output and the node's log).
 *
 * Return: 0 once it answers, -1 if it is not there or did not start.
 */
int rabbitmq_start(void)
{
	const char *usr = getenv("MQDEV_HOST_USR");
	uint64_t t0 = now_ns();
	amqp_connection_state_t c;
	char script[512], path[512];
	static bool tried;
	int status;

	/* once per run: the exchange and share scenarios both use it */
	if (tried)
		return rabbit_pid > 0 ? 0 : -1;
	tried = true;
	snprintf(path, sizeof(path), "%s/lib/rabbitmq/bin/rabbitmq-server",
		 usr ? usr : "/usr");
	if (access(path, X_OK) || rabbit_script(script, sizeof(script))) {
		fprintf(stderr, "mqbench: no %s (Debian's rabbitmq-server; in "
			"the VM, tools/vm/run --host-usr): RabbitMQ not run\n",
			path);
		return -1;
	}
	if (!mkdtemp(rabbit_dir) || rabbit_spawn(script))
		return -1;
	while (now_ns() - t0 < RABBIT_START_S * 1000000000ULL) {
		if (waitpid(rabbit_pid, &status, WNOHANG) == rabbit_pid) {
			fprintf(stderr, "mqbench: rabbitmq-server exited (status "
				"%d) before it answered\n", status);
			rabbit_pid = 0;
			goto fail;
		}
		c = rabbit_connect();
		if (c) {
			rabbit_close(c);
			fprintf(stderr, "mqbench: rabbitmq-server up after "
				"%.0f s\n", (now_ns() - t0) / 1e9);
			return 0;
		}
		sleep(1);
	}
	fprintf(stderr, "mqbench: rabbitmq-server did not answer on port %d "
		"within %d s\n", RABBIT_PORT, RABBIT_START_S);
fail:
	rabbit_tail("start.log");
	rabbit_tail("log/rabbit@localhost.log");
	rabbit_kill();
	return -1;
}

/**
 * rabbitmq_stop() - stop the node rabbitmq_start() started, if any: at
 * the end of the run (main())
 */
void rabbitmq_stop(void)
{
	rabbit_kill();
}

static const char *rabbit_type(int type)
{
	switch (type) {
	case MQDEV_EXCHANGE_DIRECT: return "direct";
	case MQDEV_EXCHANGE_TOPIC: return "topic";
	case MQDEV_EXCHANGE_FANOUT: return "fanout";
	}
	return NULL;
}

/* The last RPC's failure, if any: the broker's reason for it to stderr. */
static int rabbit_failed(amqp_connection_state_t c, const char *what)
{
	amqp_rpc_reply_t r = amqp_get_rpc_reply(c);
	const amqp_channel_close_t *cc;

	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return 0;
	if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
	    r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
		cc = r.reply.decoded;
		fprintf(stderr, "mqbench: rabbitmq %s: %.*s\n", what,
			(int)cc->reply_text.len, (char *)cc->reply_text.bytes);
	} else {
		fprintf(stderr, "mqbench: rabbitmq %s failed (%d)\n", what,
			r.reply_type);
	}
	return -1;
}

/* One case of the scenario: its routing, and its exchange and queue. */
struct rabbit_case {
	int		type;		/* MQDEV_EXCHANGE_*, -1: no exchange */
	uint32_t	bindings;
	char		ex[64];		/* "" for the default exchange */
	char		queue[64];
	char		rkey[64];
	amqp_bytes_t	exb, queueb;
};

static void rabbit_case_init(struct rabbit_case *rc, int type,
			     uint32_t bindings)
{
	rc->type = type;
	rc->bindings = bindings;
	snprintf(rc->queue, sizeof(rc->queue), "mqbench-q-%d-%u", type,
		 bindings);
	if (type < 0) {
		rc->ex[0] = '\0';
		/* the default exchange routes by the queue's name */
		snprintf(rc->rkey, sizeof(rc->rkey), "%s", rc->queue);
	} else {
		snprintf(rc->ex, sizeof(rc->ex), "mqbench-x-%s-%u",
			 rabbit_type(type), bindings);
		exchange_keys(type, bindings, 0, NULL, 0, rc->rkey,
			      sizeof(rc->rkey));
	}
	rc->exb = amqp_cstring_bytes(rc->ex);
	rc->queueb = amqp_cstring_bytes(rc->queue);
}

/*
 * Bind the queue to the exchange under each of the case's keys.  They are
 * pipelined (no-wait), a synchronous bind ending each RABBIT_BIND_CHUNK:
 * a failure of any closes the channel, which that one then reports.
 * RabbitMQ makes each binding in a transaction of its own, a few hundred
 * a second on the host, and TCG is many times slower: past RABBIT_BIND_S
 * the case is given up, and said so.
 *
 * Return: 0, 1 if given up, -1 on failure.
 */
static int rabbit_bind(amqp_connection_state_t c, const struct rabbit_case *rc)
{
	amqp_queue_bind_t req = {
		.queue = rc->queueb,
		.exchange = rc->exb,
		.nowait = 1,
		.arguments = amqp_empty_table,
	};
	uint64_t t0 = now_ns(), ns;
	char key[64];
	uint32_t i;

	for (i = 0; i < rc->bindings; i++) {
		exchange_keys(rc->type, rc->bindings, i, key, sizeof(key),
			      NULL, 0);
		req.routing_key = amqp_cstring_bytes(key);
		if ((i + 1) % RABBIT_BIND_CHUNK && i + 1 < rc->bindings) {
			if (amqp_send_method(c, RABBIT_CHANNEL,
					     AMQP_QUEUE_BIND_METHOD, &req))
				return -1;
			continue;
		}
		amqp_queue_bind(c, RABBIT_CHANNEL, req.queue, req.exchange,
				req.routing_key, amqp_empty_table);
		if (rabbit_failed(c, "queue.bind"))
			return -1;
		ns = now_ns() - t0;
		if (i + 1 < rc->bindings &&
		    ns > RABBIT_BIND_S * 1000000000ULL) {
			fprintf(stderr, "mqbench: rabbitmq: %u of %u bindings "
				"made in %.0f s (%.0f/s): case left out\n",
				i + 1, rc->bindings, ns / 1e9,
				(i + 1) * 1e9 / ns);
			return 1;
		}
	}
	if (rc->bindings > RABBIT_BIND_CHUNK)
		fprintf(stderr, "mqbench: rabbitmq: %u bindings made in %.1f "
			"s\n", rc->bindings, (now_ns() - t0) / 1e9);
	return 0;
}

/* The queue, the exchange and its bindings: as rabbit_bind() returns. */
static int rabbit_build(amqp_connection_state_t c, const struct rabbit_case *rc)
{
	amqp_queue_declare(c, RABBIT_CHANNEL, rc->queueb, 0, 0, 0, 0,
			   amqp_empty_table);
	if (rabbit_failed(c, "queue.declare"))
		return -1;
	if (rc->type < 0)
		return 0;
	amqp_exchange_declare(c, RABBIT_CHANNEL, rc->exb,
			      amqp_cstring_bytes(rabbit_type(rc->type)), 0, 0,
			      0, 0, amqp_empty_table);
	if (rabbit_failed(c, "exchange.declare"))
		return -1;
	return rabbit_bind(c, rc);
}

/*
 * Wait for the confirms of every message up to delivery tag @upto (tags
 * count the channel's publishes from 1).  One queue confirms in order; an
 * ack may cover all tags up to its own (multiple).
 */
static int rabbit_confirms(amqp_connection_state_t c, uint64_t *acked,
			   uint64_t upto)
{
	const amqp_basic_ack_t *ack;
	amqp_frame_t f;

	while (*acked < upto) {
		if (amqp_simple_wait_frame(c, &f) != AMQP_STATUS_OK)
			return -1;
		if (f.frame_type != AMQP_FRAME_METHOD)
			continue;
		if (f.payload.method.id != AMQP_BASIC_ACK_METHOD) {
			/* a nack, or the channel or connection closing */
			fprintf(stderr, "mqbench: rabbitmq: method 0x%08x "
				"instead of a confirm\n", f.payload.method.id);
			return -1;
		}
		ack = f.payload.method.decoded;
		if (ack->delivery_tag > *acked)
			*acked = ack->delivery_tag;
	}
	return 0;
}

/* @n messages of @size from @buf, BATCH a round, confirmed: ns, or -1. */
static int64_t rabbit_publish(amqp_connection_state_t c,
			      const struct rabbit_case *rc, const char *buf,
			      size_t size, uint64_t n, uint64_t *tag)
{
	amqp_basic_properties_t props = {
		._flags = AMQP_BASIC_DELIVERY_MODE_FLAG,
		.delivery_mode = 1,		/* transient */
	};
	amqp_bytes_t rkey = amqp_cstring_bytes(rc->rkey);
	uint64_t done = 0, acked = *tag, t0 = now_ns();
	amqp_bytes_t body = { .len = size };
	uint32_t j, k;

	while (done < n) {
		k = n - done < BATCH ? n - done : BATCH;
		for (j = 0; j < k; j++) {
			body.bytes = (void *)(buf + j * size);
			if (amqp_basic_publish(c, RABBIT_CHANNEL, rc->exb, rkey,
					       0, 0, &props, body))
				return -1;
		}
		*tag += k;
		if (rabbit_confirms(c, &acked, *tag))
			return -1;
		amqp_maybe_release_buffers(c);
		done += k;
	}
	return now_ns() - t0;
}

/* Each repetition into the emptied queue; the rates into @rate. */
static int rabbit_reps(amqp_connection_state_t c, const struct rabbit_case *rc,
		       const char *buf, size_t size, uint64_t n, int reps,
		       double *rate)
{
	uint64_t tag = 0;
	int64_t ns;
	int r;

	for (r = 0; r < reps; r++) {
		amqp_queue_purge(c, RABBIT_CHANNEL, rc->queueb);
		if (rabbit_failed(c, "queue.purge"))
			return -1;
		ns = rabbit_publish(c, rc, buf, size, n, &tag);
		if (ns <= 0)
			return -1;
		rate[r] = n * 1e9 / ns;
	}
	amqp_queue_purge(c, RABBIT_CHANNEL, rc->queueb);
	return rabbit_failed(c, "queue.purge");
}

/*
 * A round of messages in @buf, the channel in confirm mode (every publish
 * acked or nacked), the case's queue and routing: as rabbit_build().
 */
static int rabbit_prepare(amqp_connection_state_t c,
			  const struct rabbit_case *rc, char *buf, size_t size,
			  const void *tmpl)
{
	uint32_t j;

	for (j = 0; j < BATCH; j++)
		fill(buf + j * size, size, j, tmpl);
	amqp_confirm_select(c, RABBIT_CHANNEL);
	if (rabbit_failed(c, "confirm.select"))
		return -1;
	return rabbit_build(c, rc);
}

/* A connection, and a round of messages to publish from. */
struct rabbit_run {
	amqp_connection_state_t	c;
	char			*buf;
	void			*tmpl;
};

static int rabbit_run_open(struct rabbit_run *rr, size_t size)
{
	rr->c = rabbit_connect();
	rr->buf = malloc(size * BATCH);
	rr->tmpl = template_of(size);
	return rr->c && rr->buf && rr->tmpl ? 0 : -1;
}

/* Closes @rr; the median of the @reps rates, or @med if @err. */
static double rabbit_run_close(struct rabbit_run *rr, int err, double *rate,
			       int reps, double med)
{
	if (rr->c)
		rabbit_close(rr->c);
	free(rr->buf);
	free(rr->tmpl);
	if (err)
		return med;
	qsort(rate, reps, sizeof(rate[0]), cmp_double);
	return rate[reps / 2];
}

double rabbitmq_rate(int type, uint32_t bindings, size_t size, uint64_t n,
		     int reps)
{
	struct rabbit_run rr;
	struct rabbit_case rc;
	double rate[16];
	int err = -1;

	if (rabbit_run_open(&rr, size) || (type >= 0 && !rabbit_type(type)))
		goto out;
	rabbit_case_init(&rc, type, bindings);
	err = rabbit_prepare(rr.c, &rc, rr.buf, size, rr.tmpl);
	if (!err)
		err = rabbit_reps(rr.c, &rc, rr.buf, size, n, reps, rate);
out:
	return rabbit_run_close(&rr, err, rate, reps,
				err > 0 ? RABBITMQ_LEFT_OUT : -1);
}

/* ---- the share scenario's peer: consumed with manual acks --------------- */

#define RABBIT_SHARE_QUEUE	"mqbench-share"
/* a consumer that has had nothing for this long gives up */
#define RABBIT_IDLE_NS		(30 * 1000000000ULL)

/*
 * One consumer: basic.consume with manual acks, each message checked and
 * acked on its own (multiple off), until @prog says all @n are; the time
 * of its last ack to @last.
 */
static int rabbit_consume(amqp_connection_state_t c, uint64_t n,
			  size_t size, struct drain_progress *prog,
			  uint64_t *last)
{
	struct timeval tv = { .tv_usec = 100000 };
	uint64_t idle = now_ns();
	amqp_envelope_t env;
	amqp_rpc_reply_t r;
	int ok;

	*last = 0;
	amqp_basic_consume(c, RABBIT_CHANNEL,
			   amqp_cstring_bytes(RABBIT_SHARE_QUEUE),
			   amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
	if (rabbit_failed(c, "basic.consume"))
		return -1;
	while (__atomic_load_n(&prog->done, __ATOMIC_RELAXED) < n) {
		amqp_maybe_release_buffers(c);
		r = amqp_consume_message(c, &env, &tv, 0);
		if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
		    r.library_error == AMQP_STATUS_TIMEOUT) {
			if (now_ns() - idle > RABBIT_IDLE_NS)
				return -1;
			continue;
		}
		if (r.reply_type != AMQP_RESPONSE_NORMAL)
			return -1;
		idle = now_ns();
		ok = env.message.body.len == size &&
		     !check(env.message.body.bytes, size);
		if (amqp_basic_ack(c, RABBIT_CHANNEL, env.delivery_tag, 0)) {
			amqp_destroy_envelope(&env);
			return -1;
		}
		amqp_destroy_envelope(&env);
		*last = now_ns();
		__atomic_add_fetch(&prog->done, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&prog->failed, !ok, __ATOMIC_RELAXED);
	}
	return 0;
}

/* What a consumer is given, and what it is. */
struct rabbit_consumer {
	amqp_connection_state_t	c;
	size_t			size;
	int			prefetch;
};

/* A consumer: connected, the prefetch set; or NULL. */
static void *rabbit_join(const void *arg)
{
	const struct rabbit_consumer *a = arg;
	struct rabbit_consumer *rc = malloc(sizeof(*rc));

	if (!rc)
		return NULL;
	*rc = *a;
	rc->c = rabbit_connect();
	if (!rc->c)
		goto fail;
	amqp_basic_qos(rc->c, RABBIT_CHANNEL, 0, rc->prefetch, 0);
	if (!rabbit_failed(rc->c, "basic.qos"))
		return rc;
	rabbit_close(rc->c);
fail:
	free(rc);
	return NULL;
}

static int rabbit_drain_member(void *member, uint64_t n,
			       struct drain_progress *prog, uint64_t *last)
{
	struct rabbit_consumer *rc = member;

	return rabbit_consume(rc->c, n, rc->size, prog, last);
}

static void rabbit_leave(void *member)
{
	struct rabbit_consumer *rc = member;

	rabbit_close(rc->c);
	free(rc);
}

static const struct drainer rabbit_drainer = {
	.join = rabbit_join,
	.drain = rabbit_drain_member,
	.leave = rabbit_leave,
};

double rabbitmq_consume_rate(size_t size, uint64_t n, int consumers,
			     int prefetch, int reps)
{
	const struct rabbit_consumer arg = { .size = size,
					     .prefetch = prefetch };
	struct rabbit_case rc = { .type = -1 };
	struct rabbit_run rr;
	double rate[16];
	uint64_t tag = 0;
	int r, err = -1;
	int64_t ns;

	snprintf(rc.queue, sizeof(rc.queue), RABBIT_SHARE_QUEUE);
	snprintf(rc.rkey, sizeof(rc.rkey), RABBIT_SHARE_QUEUE);
	rc.exb = amqp_cstring_bytes(rc.ex);
	rc.queueb = amqp_cstring_bytes(rc.queue);
	if (rabbit_run_open(&rr, size) ||
	    rabbit_prepare(rr.c, &rc, rr.buf, size, rr.tmpl))
		goto out;
	for (r = 0; r < reps; r++) {
		amqp_queue_purge(rr.c, RABBIT_CHANNEL, rc.queueb);
		if (rabbit_failed(rr.c, "queue.purge") ||
		    rabbit_publish(rr.c, &rc, rr.buf, size, n, &tag) <= 0)
			goto out;
		ns = run_drain(&rabbit_drainer, &arg, consumers, n,
			       "rabbitmq");
		if (ns <= 0)
			goto out;
		rate[r] = n * 1e9 / ns;
	}
	err = 0;
out:
	return rabbit_run_close(&rr, err, rate, reps, -1);
}
