// SPDX-License-Identifier: GPL-2.0
/*
 * The exchange scenario: one producer sending 64-byte messages, BATCH a
 * call, to a topic directly (MQDEV_IOC_PRODUCE) and through a direct, a
 * topic (10, 1,000 and 100,000 bindings) and a fanout exchange
 * (MQDEV_IOC_EXCHANGE_PRODUCE), each message to one topic, and the same
 * routing through RabbitMQ when rabbitmq.c can start it (in the VM:
 * tools/vm/run --host-usr) and --no-rabbitmq does not leave it out.  Only
 * the produce is timed; the bindings are made before.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "libmqdev.h"
#include "mqbench.h"

#define EX_SIZE		64
/* Every repetition's messages fit in the topic: nothing waits for room. */
#define EX_CAPACITY	(32 << 20)
#define EX_MAX_COUNT	65536

static const struct ex_case ex_cases[] = {
	{ "topic, no exchange", -1, 0 },
	{ "direct exchange", MQDEV_EXCHANGE_DIRECT, 1 },
	{ "topic exchange, 10 bindings", MQDEV_EXCHANGE_TOPIC, 10 },
	{ "topic exchange, 1,000 bindings", MQDEV_EXCHANGE_TOPIC, 1000 },
	{ "topic exchange, 100,000 bindings", MQDEV_EXCHANGE_TOPIC, 100000 },
	{ "fanout exchange", MQDEV_EXCHANGE_FANOUT, 1 },
};

/* The module's limits the 100,000 bindings need, raised for the run. */
static const char *const ex_limits[] = {
	"max_exchange_bindings", "max_user_bindings", "max_exchange_nodes",
};
static long ex_saved[3];

static long limit_rw(const char *name, long set)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/mqdev/parameters/%s", name);
	f = fopen(path, set < 0 ? "r" : "w");
	if (!f)
		return -1;
	if (set < 0 ? fscanf(f, "%ld", &v) != 1 : fprintf(f, "%ld\n", set) < 0)
		v = -1;
	if (fclose(f))
		v = -1;
	return set < 0 ? v : 0;
}

void ex_raise_limits(bool raise)
{
	unsigned int i;

	for (i = 0; i < 3; i++) {
		if (raise)
			ex_saved[i] = limit_rw(ex_limits[i], -1);
		if (ex_saved[i] >= 0)
			limit_rw(ex_limits[i], raise ? 1 << 20 : ex_saved[i]);
	}
}

/**
 * exchange_keys() - the keys of the exchange scenario's routing
 * @type: the exchange's type, MQDEV_EXCHANGE_*
 * @bindings: how many bindings it has
 * @i: which binding's key to write to @key
 * @key: where binding @i's key goes, or NULL
 * @len: its size
 * @rkey: where the routing key of every message goes, or NULL
 * @rlen: its size
 *
 * In a topic exchange binding i's key is "ev.<i>.*" and every message's
 * routing key "ev.<bindings/2>.created", matching one of them: the trie
 * holds all the others beside it.  A direct exchange's bindings all have
 * the routing key "ev.<bindings/2>"; a fanout's keys are "ev.<i>".
 * RabbitMQ's peer (rabbitmq.c) binds and routes with the same keys.
 */
void exchange_keys(int type, uint32_t bindings, uint32_t i, char *key,
		   size_t len, char *rkey, size_t rlen)
{
	bool topic = type == MQDEV_EXCHANGE_TOPIC;

	if (key)
		snprintf(key, len, topic ? "ev.%u.*" : "ev.%u",
			 type == MQDEV_EXCHANGE_DIRECT ? bindings / 2 : i);
	if (rkey)
		snprintf(rkey, rlen, topic ? "ev.%u.created" : "ev.%u",
			 bindings / 2);
}

/* The exchange of @c bound to @topic; the key of each binding its own. */
static int ex_build(int fd, const struct ex_case *c, const char *ex,
		    const char *topic)
{
	LIBMQDEV_OPTS(mqdev_exchange_opts, o, .type = c->type);
	char key[64];
	uint32_t i;

	mqdev_exchange_delete(fd, ex);
	if (mqdev_exchange_create(fd, ex, &o))
		return -1;
	for (i = 0; i < c->bindings; i++) {
		exchange_keys(c->type, c->bindings, i, key, sizeof(key), NULL,
			      0);
		if (mqdev_exchange_bind(fd, ex, topic, key, NULL))
			return -1;
	}
	return 0;
}

/* @n messages to the topic, BATCH a call: ns, or -1. */
static int64_t ex_produce_topic(const char *topic, char *buf, uint64_t n)
{
	struct mqdev_msg msgs[BATCH];
	struct mqdev_producer *p;
	uint64_t done = 0, t0;
	uint32_t j, k;
	int r = 0;

	if (mqdev_producer_new(topic, NULL, &p))
		return -1;
	for (j = 0; j < BATCH; j++)
		mqdev_msg_init(&msgs[j], NULL, 0, buf + j * EX_SIZE, EX_SIZE,
			       MQDEV_PARTITION_ANY);
	t0 = now_ns();
	while (done < n && r >= 0) {
		k = n - done < BATCH ? n - done : BATCH;
		r = mqdev_produce(p, msgs, k);
		done += r > 0 ? r : 0;
	}
	t0 = now_ns() - t0;
	mqdev_producer_free(p);
	return r < 0 ? -1 : (int64_t)t0;
}

/* @n messages through exchange @ex, BATCH a call, one copy each: ns. */
static int64_t ex_produce_exchange(const char *ex, const char *rkey,
				   char *buf, uint64_t n)
{
	struct mqdev_exchange_msg msgs[BATCH] = {};
	struct mqdev_exchange_ack acks[BATCH];
	int fd = mqdev_open(), r = 0;
	uint64_t done = 0, t0;
	uint32_t j, k;

	if (fd < 0 || mqdev_exchange_attach(fd, ex)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	for (j = 0; j < BATCH; j++) {
		msgs[j].routing_key = (uintptr_t)rkey;
		msgs[j].routing_key_len = strlen(rkey);
		msgs[j].value = (uintptr_t)(buf + j * EX_SIZE);
		msgs[j].value_len = EX_SIZE;
	}
	t0 = now_ns();
	while (done < n && r >= 0) {
		k = n - done < BATCH ? n - done : BATCH;
		r = mqdev_exchange_produce(fd, msgs, k, acks, BATCH);
		/* one copy each, or the routing is not what it should be */
		if (r > 0 && msgs[r - 1].nr_acks != 1)
			r = -EPROTO;
		done += r > 0 ? r : 0;
	}
	t0 = now_ns() - t0;
	close(fd);
	return r < 0 ? -1 : (int64_t)t0;
}

/* One repetition of @c: a fresh topic, the messages, the rate. */
double ex_once(int fd, const struct ex_case *c, const char *ex, char *buf,
	       uint64_t n)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = 1,
		      .capacity = EX_CAPACITY);
	char topic[MQDEV_NAME_MAX + 1], rkey[64];
	int64_t ns = -1;

	bench_topic_name(topic, sizeof(topic), "ex");
	mqdev_exchange_delete(fd, ex);
	mqdev_topic_delete(fd, topic);
	if (mqdev_topic_create(fd, topic, &cfg))
		return -1;
	if (c->type < 0) {
		ns = ex_produce_topic(topic, buf, n);
	} else if (!ex_build(fd, c, ex, topic)) {
		/* the trie's hash table grows in a worker: not in the timing */
		usleep(200000);
		exchange_keys(c->type, c->bindings, 0, NULL, 0, rkey,
			      sizeof(rkey));
		ns = ex_produce_exchange(ex, rkey, buf, n);
	}
	mqdev_exchange_delete(fd, ex);
	mqdev_topic_delete(fd, topic);
	return ns > 0 ? n * 1e9 / ns : -1;
}

static double ex_rate(int fd, const struct ex_case *c, char *buf,
		      uint64_t n, int reps)
{
	char ex[MQDEV_NAME_MAX + 1];
	double rate[16];
	int r;

	snprintf(ex, sizeof(ex), "mqbench-x-%d", getpid());
	for (r = 0; r < reps; r++) {
		rate[r] = ex_once(fd, c, ex, buf, n);
		if (rate[r] < 0)
			return -1;
	}
	qsort(rate, reps, sizeof(rate[0]), cmp_double);
	return rate[reps / 2];
}

/* The other target: every exchange route measured at 10x RabbitMQ's. */
static void ex_rabbit_verdict(const double *rates, const double *rabbit,
			      unsigned int nc, FILE *json)
{
	unsigned int i, worst = 0;
	double r, min = 0;

	for (i = 0; i < nc; i++) {
		if (ex_cases[i].type < 0 || rabbit[i] <= 0 || rates[i] <= 0)
			continue;
		r = rates[i] / rabbit[i];
		if (!worst || r < min) {
			min = r;
			worst = i;
		}
	}
	if (!worst)
		return;
	printf("mqdev / rabbitmq, the slowest exchange route measured (%s): "
	       "%.1fx (target >= 10x: %s)\n", ex_cases[worst].name, min,
	       min >= 10 ? "met" : "missed");
	json_result(json, "exchange", "rabbitmq", EX_SIZE,
		    "\"min_mqdev_ratio\":%.2f", min);
}

int exchange_table(uint64_t count, int reps, FILE *json)
{
	uint64_t n = count < EX_MAX_COUNT ? count : EX_MAX_COUNT;
	double rates[6], rabbit[6], direct_topic;
	void *tmpl = template_of(EX_SIZE);
	char *buf = malloc(EX_SIZE * BATCH);
	unsigned int i, nc = sizeof(ex_cases) / sizeof(ex_cases[0]);
	int fd = mqdev_open(), failed = 0;
	bool have_rabbit;

	if (fd < 0 || !buf || !tmpl)
		return 1;
	for (i = 0; i < BATCH; i++)
		fill(buf + i * EX_SIZE, EX_SIZE, i, tmpl);
	ex_raise_limits(true);
	for (i = 0; i < nc; i++)
		rates[i] = ex_rate(fd, &ex_cases[i], buf, n, reps);
	ex_raise_limits(false);
	have_rabbit = !no_rabbitmq && !rabbitmq_start();
	for (i = 0; i < nc; i++)
		rabbit[i] = have_rabbit ?
			    rabbitmq_rate(ex_cases[i].type, ex_cases[i].bindings,
					  EX_SIZE, n, reps) : -1;

	direct_topic = rates[0];
	printf("\nexchanges: 1 producer, %" PRIu64 " messages of %d B, %d a "
	       "call, each routed to one topic (msgs/s)\n\n", n, EX_SIZE, BATCH);
	printf("| route | mqdev | vs topic | rabbitmq | mqdev/rabbitmq |\n"
	       "|---|---:|---:|---:|---:|\n");
	for (i = 0; i < nc; i++) {
		failed |= rates[i] < 0 ||
			  (have_rabbit && rabbit[i] < 0 &&
			   rabbit[i] != RABBITMQ_LEFT_OUT);
		printf("| %s | %.0f | %.2fx |", ex_cases[i].name, rates[i],
		       rates[i] / direct_topic);
		if (rabbit[i] > 0)
			printf(" %.0f | %.1fx |\n", rabbit[i],
			       rates[i] / rabbit[i]);
		else
			printf(" %s | |\n", !have_rabbit ?
			       (no_rabbitmq ? "left out" : "not run") :
			       rabbit[i] == RABBITMQ_LEFT_OUT ?
			       "bindings too slow" : "FAILED");
		json_result(json, "exchange", "mqdev", EX_SIZE,
			    "\"route\":\"%s\",\"msgs_per_s\":%.0f",
			    ex_cases[i].name, rates[i]);
		if (rabbit[i] > 0)
			json_result(json, "exchange", "rabbitmq", EX_SIZE,
				    "\"route\":\"%s\",\"msgs_per_s\":%.0f",
				    ex_cases[i].name, rabbit[i]);
	}
	/* the targets: a 100,000-binding topic exchange costs < 2x a produce */
	printf("\ntopic exchange (100,000 bindings) cost / direct produce: "
	       "%.2fx (target < 2x)\n", direct_topic / rates[4]);
	if (have_rabbit)
		ex_rabbit_verdict(rates, rabbit, nc, json);
	json_result(json, "exchange", "mqdev", EX_SIZE,
		    "\"topic100k_cost_ratio\":%.2f", direct_topic / rates[4]);
	free(buf);
	free(tmpl);
	close(fd);
	return failed;
}
