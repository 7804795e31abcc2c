/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mqdev-kafkad: one Kafka broker (node 0, its own controller and every
 * group's coordinator) in front of /dev/mq.  One thread, one epoll loop
 * (main.c); the requests' handlers (api.c, produce.c, fetch.c, group.c);
 * the wire codec (codec.c).
 */
#ifndef KAFKAD_H
#define KAFKAD_H

#include <stdbool.h>
#include <stdint.h>
#include <libmqdev.h>
#include "codec.h"

/* Kafka's error codes, those the daemon answers with. */
enum {
	KERR_UNKNOWN_SERVER		= -1,
	KERR_NONE			= 0,
	KERR_OFFSET_OUT_OF_RANGE	= 1,
	KERR_CORRUPT_MESSAGE		= 2,
	KERR_UNKNOWN_TOPIC_OR_PARTITION	= 3,
	KERR_REQUEST_TIMED_OUT		= 7,
	KERR_MESSAGE_TOO_LARGE		= 10,
	KERR_RECORD_LIST_TOO_LARGE	= 18,
	KERR_COORDINATOR_NOT_AVAILABLE	= 15,
	KERR_NOT_COORDINATOR		= 16,
	KERR_INVALID_TOPIC		= 17,
	KERR_NOT_ENOUGH_REPLICAS	= 19,
	KERR_INVALID_REQUIRED_ACKS	= 21,
	KERR_ILLEGAL_GENERATION		= 22,
	KERR_INCONSISTENT_GROUP_PROTOCOL = 23,
	KERR_INVALID_GROUP_ID		= 24,
	KERR_UNKNOWN_MEMBER_ID		= 25,
	KERR_INVALID_SESSION_TIMEOUT	= 26,
	KERR_REBALANCE_IN_PROGRESS	= 27,
	KERR_TOPIC_AUTHORIZATION_FAILED	= 29,
	KERR_GROUP_AUTHORIZATION_FAILED	= 30,
	KERR_UNSUPPORTED_VERSION	= 35,
	KERR_TOPIC_ALREADY_EXISTS	= 36,
	KERR_INVALID_PARTITIONS		= 37,
	KERR_INVALID_REPLICATION_FACTOR	= 38,
	KERR_INVALID_REPLICA_ASSIGNMENT	= 39,
	KERR_INVALID_CONFIG		= 40,
	KERR_INVALID_REQUEST		= 42,
	KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT = 43,
	KERR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
	KERR_DUPLICATE_SEQUENCE_NUMBER	= 46,
	KERR_INVALID_PRODUCER_EPOCH	= 47,
	KERR_INVALID_TXN_STATE		= 48,
	KERR_INVALID_PRODUCER_ID_MAPPING = 49,
	KERR_INVALID_TRANSACTION_TIMEOUT = 50,
	KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53,
	KERR_KAFKA_STORAGE_ERROR	= 56,
	KERR_UNKNOWN_PRODUCER_ID	= 59,
	KERR_GROUP_ID_NOT_FOUND		= 69,
	KERR_UNSUPPORTED_COMPRESSION_TYPE = 76,
	KERR_GROUP_MAX_SIZE_REACHED	= 81,
	KERR_INVALID_RECORD		= 87,
};

/* API keys the daemon knows. */
enum {
	API_PRODUCE		= 0,
	API_FETCH		= 1,
	API_LIST_OFFSETS	= 2,
	API_METADATA		= 3,
	API_OFFSET_COMMIT	= 8,
	API_OFFSET_FETCH	= 9,
	API_FIND_COORDINATOR	= 10,
	API_JOIN_GROUP		= 11,
	API_HEARTBEAT		= 12,
	API_LEAVE_GROUP		= 13,
	API_SYNC_GROUP		= 14,
	API_DESCRIBE_GROUPS	= 15,
	API_LIST_GROUPS		= 16,
	API_API_VERSIONS	= 18,
	API_CREATE_TOPICS	= 19,
	API_DELETE_TOPICS	= 20,
	API_INIT_PRODUCER_ID	= 22,
	API_ADD_PARTITIONS_TO_TXN = 24,
	API_ADD_OFFSETS_TO_TXN	= 25,
	API_END_TXN		= 26,
	API_TXN_OFFSET_COMMIT	= 28,
};

struct config {
	char		listen_host[64];
	uint16_t	port;
	char		advertised_host[64];	/* "": listen_host */
	uint16_t	advertised_port;	/* 0: port */
	unsigned int	max_connections;
	uint32_t	max_request;		/* bytes of one request frame */
	uint32_t	max_response;		/* bytes of one Fetch response */
	uint32_t	max_pending_out;	/* unsent bytes before reads stop */
	unsigned int	idle_timeout_ms;
	unsigned int	first_request_ms;	/* for a new connection's first */
	bool		auto_create;		/* Metadata creates topics */
	bool		allow_simple_commit;	/* non-members create groups */
	uint32_t	create_partitions;
	uint64_t	create_capacity;
	unsigned int	group_initial_delay_ms;
	unsigned int	group_max_size;		/* members of one group */
	unsigned int	max_consumers;		/* cached, one fd each */
	unsigned int	max_producers;		/* idempotent producers' sessions */
	bool		verbose;
};

struct conn;
struct daemon;

/*
 * A request being served.  Its frame is the connection's until the answer
 * is written; a handler that must wait parks the connection (no further
 * request is read from it meanwhile, as a Kafka broker mutes a channel).
 */
struct request {
	int16_t		key;
	int16_t		version;
	int32_t		corr;
	struct kstr	client_id;
	const uint8_t	*body;
	size_t		body_len;
};

/* What a handler returns besides a Kafka-level answer. */
enum {
	H_DONE	= 0,	/* the answer is written */
	H_PARK	= 1,	/* waiting: the connection's park_fn, or the group */
	H_CLOSE	= -1,	/* malformed: close the connection, as Kafka does */
	H_SILENT = 2,	/* no answer at all (Produce with acks=0) */
};

typedef int (*park_fn)(struct daemon *d, struct conn *c, bool final);

struct conn {
	int		fd;
	uint64_t	id;
	struct conn	*next;
	char		peer[48];
	/* the frame being read: 4 bytes of size, then the request */
	uint8_t		size_buf[4];
	uint32_t	size_got;
	uint8_t		*frame;
	uint32_t	frame_len;
	uint32_t	frame_got;
	/* a request parked: answered later by park_fn or the group */
	bool		parked;
	struct request	req;
	park_fn		park;
	void		*park_state;
	void		(*park_free)(void *state);
	uint64_t	deadline_ms;
	uint64_t	park_next_ms;	/* run again then, or on a produce */
	unsigned int	park_wait_ms;	/* and then after this, doubling */
	/* answers not yet sent */
	struct kw	out;
	size_t		out_sent;
	uint64_t	last_io_ms;
	bool		closing;
	unsigned int	nmembers;	/* group members it made (JoinGroup) */
	uint64_t	opened_ms;
	bool		served;		/* a request was answered */
};

struct topic_handle;

struct daemon {
	struct config	cfg;
	int		epfd;
	int		lfd;
	int		mqfd;		/* /dev/mq, for administration */
	struct mqdev_nl	*nl;		/* groups' offsets */
	struct conn	*conns;
	unsigned int	nconns;
	uint64_t	next_conn_id;
	struct topic_handle *topics;
	struct kgroup	*groups;
	struct kproducer *producers;
	unsigned int	nproducers;
	unsigned int	nmembers;	/* of all groups */
	uint64_t	now_ms;
	bool		produced;	/* since parked fetches last looked */
	unsigned int	nconsumers;	/* cached in d->topics */
	bool		accept_paused;	/* out of fds: the listener disarmed */
};

uint64_t now_ms(void);
void logmsg(const struct daemon *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* main.c: answers outside the handler that was called. */
size_t conn_begin_answer(struct conn *c);
void conn_end_answer(struct daemon *d, struct conn *c, size_t mark);
void conn_unpark(struct daemon *d, struct conn *c);

/* api.c */
int handle_request(struct daemon *d, struct conn *c, const struct request *rq);
int kafka_error(int err);

/* topics.c: cached libmqdev handles per topic */
struct topic_handle {
	struct topic_handle	*next;
	char			name[MQDEV_NAME_SIZE];
	uint32_t		partitions;
	uint32_t		max_record;	/* header included */
	uint32_t		topic_flags;	/* MQDEV_TOPIC_* */
	uint64_t		capacity;	/* of each partition */
	struct mqdev_producer	*prod;		/* acks 0 or 1 */
	struct mqdev_producer	*prod_all;	/* acks=all */
	struct mqdev_consumer	**cons;		/* one per partition */
};

int topic_get(struct daemon *d, const struct kstr *name,
	      struct topic_handle **th);
void topic_drop(struct daemon *d, struct topic_handle *th);
void topics_free(struct daemon *d);
int topic_describe(struct daemon *d, const char *name,
		   struct mqdev_topic_info *info,
		   struct mqdev_partition_info **parts);
bool kname(char dst[MQDEV_NAME_SIZE], const struct kstr *s);

/* produce.c, fetch.c, group.c */
int handle_produce(struct daemon *d, struct conn *c, const struct request *rq,
		   struct kr *r, struct kw *w);
int handle_fetch(struct daemon *d, struct conn *c, const struct request *rq,
		 struct kr *r, struct kw *w);
int handle_list_offsets(struct daemon *d, struct conn *c,
			const struct request *rq, struct kr *r, struct kw *w);
void fetch_poke(struct daemon *d);

struct kgroup;
int handle_join_group(struct daemon *d, struct conn *c,
		      const struct request *rq, struct kr *r, struct kw *w);
int handle_sync_group(struct daemon *d, struct conn *c,
		      const struct request *rq, struct kr *r, struct kw *w);
int handle_heartbeat(struct daemon *d, struct conn *c,
		     const struct request *rq, struct kr *r, struct kw *w);
int handle_leave_group(struct daemon *d, struct conn *c,
		       const struct request *rq, struct kr *r, struct kw *w);
int handle_offset_commit(struct daemon *d, struct conn *c,
			 const struct request *rq, struct kr *r, struct kw *w);
int handle_offset_fetch(struct daemon *d, struct conn *c,
			const struct request *rq, struct kr *r, struct kw *w);
void groups_tick(struct daemon *d);
void groups_conn_gone(struct daemon *d, struct conn *c);
void groups_free(struct daemon *d);

/* producers.c: idempotent producers, each an mqdev producer session */
struct kbound {
	struct kbound		*next;
	char			topic[MQDEV_NAME_SIZE];
	bool			all;		/* acks=all */
	struct mqdev_producer	*prod;		/* bound to the session */
	uint32_t		*base;		/* first sequence, per partition */
	uint32_t		nbase;
	bool			shared;		/* base is another kbound's */
};

/* mqdev's longest transaction time-out */
#define TXN_TIMEOUT_MAX_MS	(15 * 60 * 1000)

struct kproducer {
	struct kproducer	*next;
	int64_t			id;
	int16_t			epoch;
	char			txn_id[MQDEV_NAME_SIZE];	/* "": none */
	bool			in_txn;
	/* the transaction's group offsets (txn.c) */
	char			off_group[MQDEV_NAME_SIZE];
	char			off_topic[MQDEV_NAME_SIZE];
	struct mqdev_consumer	*off_member;	/* the daemon in off_group */
	struct mqdev_session	*session;
	struct kbound		*bound;
	uint64_t		last_ms;
	bool			adopted;	/* producer_adopt()'s */
};

int handle_init_producer_id(struct daemon *d, struct conn *c,
			    const struct request *rq, struct kr *r,
			    struct kw *w);
int handle_add_partitions_to_txn(struct daemon *d, struct conn *c,
				 const struct request *rq, struct kr *r,
				 struct kw *w);
int handle_end_txn(struct daemon *d, struct conn *c,
		   const struct request *rq, struct kr *r, struct kw *w);
int16_t producer_txn_check(const struct kproducer *p);
int16_t txn_error(int err);
int16_t txn_producer(struct daemon *d, const struct kstr *txn, int64_t id,
		     int16_t epoch, struct kproducer **pp);
int16_t txn_request(struct daemon *d, struct kr *r, struct kproducer **pp);
int16_t txn_begin(struct kproducer *p);

/* txn.c: a transaction's group offsets */
int handle_add_offsets_to_txn(struct daemon *d, struct conn *c,
			      const struct request *rq, struct kr *r,
			      struct kw *w);
int handle_txn_offset_commit(struct daemon *d, struct conn *c,
			     const struct request *rq, struct kr *r,
			     struct kw *w);
void txn_offsets_done(struct kproducer *p);
struct kproducer *producer_find(struct daemon *d, int64_t id);
struct kproducer *producer_adopt(struct daemon *d, int64_t id, int16_t epoch,
				 int32_t first_seq);
struct mqdev_producer *producer_bound(struct daemon *d, struct kproducer *p,
				      const char *topic, bool all,
				      const uint32_t **base, int *err);
void producer_unbind(struct kproducer *p, struct mqdev_producer *prod);
void producers_free(struct daemon *d);

/* admin.c, group.c: the admin APIs */
int handle_create_topics(struct daemon *d, struct conn *c,
			 const struct request *rq, struct kr *r, struct kw *w);
int handle_delete_topics(struct daemon *d, struct conn *c,
			 const struct request *rq, struct kr *r, struct kw *w);
int handle_list_groups(struct daemon *d, struct conn *c,
		       const struct request *rq, struct kr *r, struct kw *w);
int handle_describe_groups(struct daemon *d, struct conn *c,
			   const struct request *rq, struct kr *r,
			   struct kw *w);

/* records.c: RecordBatch v2 */
#define BATCH_HEADER_SIZE	61	/* up to and with the record count */
#define BATCH_CRC_AT		17
#define BATCH_ATTR_AT		21	/* where the CRC starts covering */

#define BATTR_COMPRESSION	0x07
#define BATTR_LOG_APPEND_TIME	0x08
#define BATTR_TRANSACTIONAL	0x10
#define BATTR_CONTROL		0x20

struct kbatch {
	int64_t		base_offset;
	int16_t		attributes;
	int32_t		last_offset_delta;
	int64_t		first_ts;
	int64_t		max_ts;
	int64_t		producer_id;
	int16_t		producer_epoch;
	int32_t		base_sequence;
	int32_t		count;
	const uint8_t	*records;	/* uncompressed */
	size_t		records_len;
	uint8_t		*alloc;		/* records, when decompressed */
};

struct krecord {
	int64_t		ts_delta;
	int32_t		offset_delta;
	struct kstr	key;
	struct kstr	value;
	int32_t		nheaders;
	struct kstr	headers;	/* the header entries, as sent */
};

int batch_parse(struct kr *r, struct kbatch *b, size_t limit);
void batch_release(struct kbatch *b);
int record_next(struct kr *r, struct krecord *rec);

#endif /* KAFKAD_H */
