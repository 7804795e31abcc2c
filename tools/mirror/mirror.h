/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mqdev-mirror: durable mqdev topics mirrored to a Kafka cluster as a
 * replica (outbound), and Kafka topics appended to mqdev topics (inbound).
 */
#ifndef MQDEV_MIRROR_H
#define MQDEV_MIRROR_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>
#include <librdkafka/rdkafka.h>
#include "libmqdev.h"

/* The headers a mirrored record carries its origin in. */
#define HDR_MQDEV_OFFSET	"mqdev.offset"
#define HDR_MQDEV_TIMESTAMP	"mqdev.timestamp"	/* ns: Kafka's are ms */
#define HDR_KAFKA_OFFSET	"kafka.offset"
#define HDR_KAFKA_TIMESTAMP	"kafka.timestamp"

#define MAX_KAFKA_PROPS		64
#define MAX_PARTITIONS		1024

enum dir { DIR_OUT, DIR_IN };

/* One "key = value" passed to librdkafka as it is (kafka.KEY = VALUE). */
struct kprop {
	char *key, *val;
	int line;
};

/* Counters and positions of one mirrored partition. */
struct mpart {
	uint64_t next;		/* out: next mqdev offset read; in: Kafka's */
	uint64_t acked;		/* out: Kafka has every record before it */
	uint64_t confirmed;	/* out: confirmed to mqdev */
	uint64_t appended;	/* in: mqdev has every Kafka offset before it */
	bool rewound;		/* in: Kafka is handing out queued ones again */
	uint64_t inflight;	/* out: produced, not yet acknowledged */
	uint64_t records, bytes, errors;
	uint64_t lag;
	uint64_t rate_base, rate;	/* records per second, last second */
	int64_t settle_end;	/* out: Kafka's end when last looked at */
};

struct link {
	struct link *next;
	enum dir dir;
	char *topic;		/* mqdev's */
	char *kafka_topic;
	char *group;		/* in: Kafka consumer group */
	char *session;		/* in: the mqdev producer identity's name */
	int line;		/* of its section, for messages */

	bool ready;		/* attached, positions known */
	uint64_t retry_at;	/* ms, while not ready */
	uint32_t backoff_ms;
	char state[160];	/* "ok", or why not, for the status */
	uint64_t summary_base;	/* records at the last summary logged */
	uint32_t nparts;
	struct mpart *parts;

	/* outbound */
	struct mqdev_consumer *rep;
	rd_kafka_topic_t *rkt;
	bool stalled;		/* librdkafka's queue was full */
	bool woke;		/* the rings polled readable this turn */
	bool disarmed;		/* EPOLLIN left out until rearm_at */
	uint64_t rearm_at;
	bool settling;		/* Kafka's ends looked at once: see out_settle */

	/* outbound, transactional (txn.c) */
	bool transactional;
	char *txn_id;		/* Kafka's transactional.id */
	rd_kafka_t *rk_tx;	/* the link's own producer, of that id */
	uint64_t tx_bytes;	/* produced in the open transaction */
	uint64_t tx_commits;
	bool tx_fatal;		/* librdkafka said the producer is done for */

	/* inbound */
	rd_kafka_t *rk_in;
	struct mqdev_session *sess;
	struct mqdev_producer *prod;
	rd_kafka_message_t *held;	/* taken from Kafka, not yet queued */
	uint64_t commit_at;
	int refused;		/* -errno: a record mqdev would not take */
	uint32_t refused_part;
	int64_t refused_offset;	/* its Kafka offset */
	bool fenced;		/* another instance took the session: stop */
	/*
	 * out: per partition, 1 + the lowest mqdev offset Kafka refused for
	 * good (0: none), kept across the link's restarts: what Kafka holds
	 * past it would be past a hole, never to be confirmed.
	 */
	uint64_t *kafka_refused;
};

struct config {
	char *path;
	char *bootstrap;
	char *status_file;
	char *group;		/* default for inbound links */
	uint32_t retry_max_ms;
	uint32_t status_ms;
	uint32_t settle_ms;	/* Kafka's ends still that long: resume */
	struct kprop props[MAX_KAFKA_PROPS];
	unsigned int nprops;
	struct link *links;
};

/* mirror.c */
void say(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
uint64_t now_ms(void);
void link_fail(struct link *l, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void link_ok(struct link *l);
int link_sizes(struct link *l, rd_kafka_t *k, struct mqdev_topic_info *info,
	       uint32_t *kparts);
int kafka_conf(const struct config *cfg, rd_kafka_conf_t **confp,
	       char *err, size_t errlen);
int kafka_conf_with(const struct config *cfg, const char *const (*props)[2],
		    unsigned int n, rd_kafka_conf_t **confp, char *err,
		    size_t errlen);
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
int kafka_partitions(rd_kafka_t *rk, const char *topic, uint32_t *count,
		     int timeout_ms);

/* config.c */
int config_load(struct config *cfg, const char *path);
void config_free(struct config *cfg);

/* out.c */
int out_init(const struct config *cfg);
int out_start(struct link *l);
void out_stop(struct link *l);
int out_drain(struct link *l);
void out_confirm(struct link *l);
void out_groups(struct link *l);
int out_poll(int timeout_ms);
void out_flush(int timeout_ms);
void out_exit(void);
bool out_fatal(void);
uint64_t out_inflight(void);
rd_kafka_t *out_rk(void);

/* txn.c */
int txn_start(const struct config *cfg, struct link *l);
void txn_stop(struct link *l);
int txn_begin(struct link *l);
int txn_turn(struct link *l);
int txn_commit(struct link *l);

/* in.c */
int in_start(const struct config *cfg, struct link *l);
void in_stop(struct link *l);
int in_pump(struct link *l);

#endif /* MQDEV_MIRROR_H */
