/* SPDX-License-Identifier: GPL-2.0 */
/* mqbench: what its files share. */
#ifndef _MQBENCH_H
#define _MQBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define BATCH		64
#define MAX_SIZE	(64 * 1024)

struct bench {
	size_t		size;		/* message bytes, checksum included */
	uint64_t	count;
};

struct peer {
	const char *name;
	int (*setup)(struct bench *b, void **ctx);
	int (*produce)(struct bench *b, void *ctx);
	int (*consume)(struct bench *b, void *ctx);	/* 0 if all checked */
	void (*teardown)(void *ctx);
};

/*
 * mqbench.c: --fetch-min, the mqdev consumers' watermark in bytes, and
 * --fetch-max-wait, how long they wait for it in ms
 */
extern uint32_t fetch_min;
extern uint32_t fetch_max_wait_ms;

/* payload.c */
uint64_t now_ns(void);
void fail(const char *what);
void fill(void *msg, size_t size, uint64_t seq, const void *tmpl);
int check(const void *msg, size_t size);
void *template_of(size_t size);
int cmp_double(const void *a, const void *b);
int64_t run_children(int go_fd, int done_fd, int starts, int finishers,
		     int hold_fd, const pid_t *pids, int nr_pids);

/* peers.c: one producer to one consumer */
extern const struct peer peers[];
extern const unsigned int nr_peers;

/*
 * mqdev.c: every topic mqbench makes is named by bench_topic_name(),
 * "mqbench-PID-" and then @fmt, so that mqbench.c's leftover check tells
 * this run's topics from anyone else's; bench_topic_delete() deletes one
 * on its own descriptor, for the paths that hold none.
 */
void bench_topic_name(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void bench_topic_delete(const char *name);

/* mqdev.c: /dev/mq as a peer, and as groups */
struct mqdev_ctx;
uint64_t record_space(size_t value_len);
int mqdev_setup(struct bench *b, void **ctx);
void mqdev_teardown(void *ctx);
int mqdev_produce_all(struct bench *b, void *ctx);
int mqdev_sw_setup(struct bench *b, void **ctx);
int mqdev_sw_produce(struct bench *b, void *ctx);
int mqdev_produce_msgs(struct bench *b, void *ctx);
int mqdev_consume_all(struct bench *b, void *ctx);
int64_t run_groups(struct bench *b, uint32_t parts, int groups, int members);
double mqdev_bytes_per_msg(size_t size, uint64_t n);
/* MQDEV_KIND_READ: record batches, read with read(2) (MQDEV_CONSUMER_COPY) */
enum mqdev_kind {
	MQDEV_KIND_BATCH, MQDEV_KIND_MSGS, MQDEV_KIND_SWRITER, MQDEV_KIND_READ
};
int mqdev_cost(struct bench *b, enum mqdev_kind kind, double *produce_ns,
	       double *consume_ns);
/* the guest half of tools/vm/insn-trace: rounds until @dir/stop appears */
int mqdev_trace(struct bench *b, enum mqdev_kind kind, const char *dir,
		unsigned int per_call);

/*
 * peers.c: the shared-memory ring and the pipe, produced then consumed in
 * one process
 */
int shm_cost(struct bench *b, double *produce_ns, double *consume_ns);
int pipe_cost(struct bench *b, double *produce_ns, double *consume_ns);

/* mqbench.c: one producer and one consumer at once, the consumer's ns */
int64_t run_once(const struct peer *p, struct bench *b);

/* scenarios.c */
int64_t run_parallel(const struct peer *p, struct bench *b, int k);
int64_t run_backlog(const struct peer *p, struct bench *b);
double pmq_bytes_per_msg(size_t size, long n);
long pmq_raise_limits(long depth);
int pmq_cost(struct bench *b, double *produce_ns, double *consume_ns);

/* mqbench.c */
bool peer_wanted(const char *name);

/* latency.c; mqbench.c: --pin, the ping-pong's sides on CPUs 0 and 1 */
extern bool pp_pin;
int latency_table(uint64_t n, int reps, FILE *json);
int latency_mqdev_pct(uint64_t n, double pct[3]);
int leg_table(uint64_t n, FILE *json);

/* delay.c: delayed messages' lateness */
int delay_table(uint64_t count, FILE *json);

/* mqbench.c: one result, as a JSON object in the results array */
void json_result(FILE *json, const char *scenario, const char *peer,
		 size_t size, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* redis.c: Redis Streams, a real broker, started in the guest */
int redis_start(void);
void redis_stop(void);
int redis_setup(struct bench *b, void **ctx);
int redis_produce(struct bench *b, void *ctx);
int redis_consume(struct bench *b, void *ctx);
void redis_teardown(void *ctx);
double redis_bytes_per_msg(size_t size, uint64_t n);
int redis_aof_start(const char *policy);
void redis_aof_stop(void);
int64_t redis_aof_produce(size_t size, uint64_t until);

/* exchange.c: producing through exchanges, against RabbitMQ */
struct ex_case {
	const char	*name;
	int		type;		/* MQDEV_EXCHANGE_*, or -1: the topic */
	uint32_t	bindings;
};

int exchange_table(uint64_t count, int reps, FILE *json);
/* ex_raise_limits(): the limits 100,000 bindings need, or back; ex_once():
 * @n messages of @c through exchange @ex (BATCH a call) in msgs/s, or -1 */
void ex_raise_limits(bool raise);
double ex_once(int fd, const struct ex_case *c, const char *ex, char *buf,
	       uint64_t n);
/* excost.c: exchange_cost_table(), the exchange rows of the cost scenario */
int exchange_cost_table(uint64_t count, FILE *json);
void exchange_keys(int type, uint32_t bindings, uint32_t i, char *key,
		   size_t len, char *rkey, size_t rlen);
/* mqbench.c: --no-rabbitmq, the exchange scenario without its RabbitMQ peer */
extern bool no_rabbitmq;

/*
 * rabbitmq.c: RabbitMQ started in the guest, and a producer on librabbitmq
 * publishing with the same routing as exchange.c's case (@type -1: to a
 * queue through the default exchange), publisher confirms on.
 * rabbitmq_rate(): msgs/s, the median of @reps, RABBITMQ_LEFT_OUT when
 * making the bindings took too long, or -1.
 */
#define RABBITMQ_LEFT_OUT	(-2.0)
int rabbitmq_start(void);
void rabbitmq_stop(void);
double rabbitmq_rate(int type, uint32_t bindings, size_t size, uint64_t n,
		     int reps);
/*
 * rabbitmq_consume_rate(): @n messages of @size published to a queue, then
 * consumed by @consumers with manual acks, one a message, @prefetch
 * unacked at most each: msgs/s, the median of @reps, or -1.
 */
double rabbitmq_consume_rate(size_t size, uint64_t n, int consumers,
			     int prefetch, int reps);

/* share.c: share groups against a consumer group and RabbitMQ's acks */
int share_table(uint64_t count, int reps, FILE *json);
int share_cost_table(uint64_t count, FILE *json);
int share_latency_table(uint64_t count, FILE *json);

/*
 * share.c: run_drain(), @members processes draining @n messages at once,
 * each joined (@d->join(@arg), NULL on failure) before the go; each counts
 * what it did in @prog, shared, and stops when all @n are done, reporting
 * the time of its last one.  From the go to the last message done, in ns,
 * or -1 (@who says so on stderr when the counts are wrong).
 */
#define DRAIN_MAX_MEMBERS	16
struct drain_progress {
	uint64_t	done;
	uint64_t	failed;		/* did not check out */
};

struct drainer {
	void	*(*join)(const void *arg);
	int	(*drain)(void *member, uint64_t n, struct drain_progress *prog,
			 uint64_t *last);
	void	(*leave)(void *member);
};

int64_t run_drain(const struct drainer *d, const void *arg, int members,
		  uint64_t n, const char *who);

/* durable.c: acks=all against fsync, Redis's AOF and memory, on the disk */
int durable_table(uint64_t count, FILE *json);

/* kafka.c: librdkafka through mqdev-kafkad, against Redis and TCP echo */
int kafka_table(uint64_t count, int reps, FILE *json);

#endif /* _MQBENCH_H */
