/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * libmqdev: the userspace side of /dev/mq.
 *
 * Every function that can fail returns 0 (or a count) on success and a
 * negative errno on failure, as the kernel does; errno is left alone.
 *
 * Options and results, as libbpf has them: every struct a function takes
 * options in (struct mqdev_*_opts), or fills for the caller (struct
 * mqdev_verify_stats, struct mqdev_event), starts with `size_t sz`, the
 * size of the struct as the caller was built, which the caller sets:
 *
 *	LIBMQDEV_OPTS(mqdev_consumer_opts, opts, .fetch_min = 65536);
 *	err = mqdev_consumer_new("orders", &opts, &c);
 *
 * declares the struct zero-filled, sz set, and the fields named.  New
 * fields are only ever added at the end.  A library older than the caller
 * refuses options it does not know (-EINVAL, when any byte past the end of
 * its own struct is non-zero), and fills results only as far as it knows
 * them, zeroing the rest up to sz; a library newer than the caller takes
 * the defaults (0) for the options the caller's struct lacks, and writes
 * results no further than sz.  A sz smaller than sizeof(size_t) is -EINVAL.
 * A NULL options pointer takes every default.
 *
 * Structs the library hands to a callback (struct mqdev_ack, struct
 * mqdev_anomaly, struct mqdev_group_info) carry the library's own sz
 * instead: a field is there when it ends within sz.
 */
#ifndef _LIBMQDEV_H
#define _LIBMQDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/mqdev.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Declare options (or a result) struct @TYPE named @NAME: zero-filled,
 * padding included, with sz = sizeof(struct TYPE) and the fields given.
 */
#define LIBMQDEV_OPTS(TYPE, NAME, ...)					\
	struct TYPE NAME = ({						\
		memset(&NAME, 0, sizeof(struct TYPE));			\
		(struct TYPE) {						\
			.sz = sizeof(struct TYPE),			\
			__VA_ARGS__					\
		};							\
	})

/* ---- administration ---------------------------------------------------- */

struct mqdev_topic_opts {
	size_t		sz;		/* sizeof(struct mqdev_topic_opts) */
	uint32_t	partitions;	/* 0: 1 */
	uint64_t	capacity;	/* bytes per partition, 0: 1 MiB */
	uint32_t	flags;		/* MQDEV_TOPIC_OVERWRITE or _DURABLE, or 0 */
	uint32_t	mode;		/* 0: 0644 */
	/* DURABLE: replicas in sync an acks=all producer needs; 0: 1 */
	uint32_t	min_insync;
};

/* Open /dev/mq (close-on-exec); returns a descriptor or -errno. */
int mqdev_open(void);
/*
 * What the kernel's mqdev can do, MQDEV_FEAT_* bits (MQDEV_IOC_VERSION), on
 * any /dev/mq descriptor; 0 from a kernel that cannot say.
 */
uint64_t mqdev_features(int fd);

/* Create topic @name; @opts may be NULL (one partition of 1 MiB, 0644). */
int mqdev_topic_create(int fd, const char *name,
		       const struct mqdev_topic_opts *opts);
int mqdev_topic_delete(int fd, const char *name);

/*
 * List topics into a newly allocated array of names, to be freed with
 * free(); returns the number of topics or -errno.
 */
int mqdev_topic_list(int fd, char (**names)[MQDEV_NAME_SIZE]);

/* Describe a topic and up to nparts of its partitions. */
/*
 * A topic's time to live (since LIBMQDEV_0.3): records older than it are
 * expired, never delivered; 0 is none.  Setting it is for the topic's owner
 * (-EPERM), reading it for its readers (-EACCES).  0 or -errno.
 */
int mqdev_topic_set_ttl(int fd, const char *name, uint64_t ttl_ns);
int mqdev_topic_get_ttl(int fd, const char *name, uint64_t *ttl_ns);

int mqdev_topic_describe(int fd, const char *name,
			 struct mqdev_topic_info *info,
			 struct mqdev_partition_info *parts, uint32_t nparts);

/* ---- exchanges (MQDEV_FEAT_EXCHANGES, since LIBMQDEV_0.3) ---------------- */

struct mqdev_exchange_opts {
	size_t		sz;		/* sizeof(struct mqdev_exchange_opts) */
	uint32_t	type;		/* MQDEV_EXCHANGE_*, 0: DIRECT */
	uint32_t	mode;		/* 0: 0644 */
	/* a topic unroutable messages go to (write permission), or NULL */
	const char	*alternate;
};

/* Create exchange @name; @opts may be NULL (a direct exchange, 0644). */
int mqdev_exchange_create(int fd, const char *name,
			  const struct mqdev_exchange_opts *opts);
int mqdev_exchange_delete(int fd, const char *name);
/* As mqdev_topic_list(), for exchanges. */
int mqdev_exchange_list(int fd, char (**names)[MQDEV_NAME_SIZE]);
/*
 * Describe an exchange and up to @nbindings of its bindings; the number of
 * bindings it has is info->bindings_count.
 */
int mqdev_exchange_describe(int fd, const char *name,
			    struct mqdev_exchange_info *info,
			    struct mqdev_binding_info *bindings,
			    uint32_t nbindings);

struct mqdev_header;

struct mqdev_bind_opts {
	size_t		sz;		/* sizeof(struct mqdev_bind_opts) */
	bool		partition_set;	/* false: each copy placed by key */
	uint32_t	partition;
	/* @topic names an exchange (MQDEV_BIND_EXCHANGE); no partition */
	bool		to_exchange;
	/*
	 * A headers exchange's binding (MQDEV_FEAT_ROUTE_PROGRAMS): the
	 * headers it matches (a NULL value: the name alone), and how.
	 */
	const struct mqdev_header *headers;
	unsigned int	nheaders;
	uint32_t	match;		/* MQDEV_MATCH_ALL (0) or _ANY */
};

/*
 * Bind @exchange to @topic (or, with to_exchange, to the exchange @topic)
 * with binding key @key (a string; NULL is ""); needs write permission on
 * both.  Unbind names the same three.
 */
int mqdev_exchange_bind(int fd, const char *exchange, const char *topic,
			const char *key, const struct mqdev_bind_opts *opts);
int mqdev_exchange_unbind(int fd, const char *exchange, const char *topic,
			  const char *key, const struct mqdev_bind_opts *opts);

/*
 * Attach the classic BPF routing program @insns (@len instructions) to
 * @exchange, or detach its program when @insns is NULL (write
 * permission).  A refused program gets -EINVAL and, if @log is not NULL,
 * the reason in it (NUL-terminated, cut to @log_size).
 */
int mqdev_exchange_program(int fd, const char *exchange,
			   const struct sock_filter *insns, uint32_t len,
			   char *log, size_t log_size);

/* Make a fresh descriptor @exchange's producer (write permission). */
int mqdev_exchange_attach(int fd, const char *exchange);
/*
 * Route @count messages (MQDEV_IOC_EXCHANGE_PRODUCE): returns how many
 * were routed, or -errno for the first; each message's copies are
 * acknowledged in @acks from its first_ack on, nr_acks of them.
 */
int mqdev_exchange_produce(int fd, struct mqdev_exchange_msg *msgs,
			   uint32_t count, struct mqdev_exchange_ack *acks,
			   uint32_t nacks);

struct mqdev_exchange_send_opts {
	size_t		sz;	/* sizeof(struct mqdev_exchange_send_opts) */
	const void	*key;	/* the records' key, or NULL */
	uint32_t	key_len;
	bool		mandatory; /* unroutable: -EHOSTUNREACH */
	/* MQDEV_MSG_FLAGS, e.g. MQDEV_RECORD_HEADERS: @value starts with them */
	uint32_t	record_flags;
};

/*
 * One message with routing key @routing_key: returns how many copies it
 * had (their acknowledgements in @acks: one whose error is not 0 failed
 * with that errno and the others went in), -ENOENT when it was unroutable
 * and dropped (the exchange counts it), or -errno (that of the first copy
 * when none went in).
 */
int mqdev_exchange_send(int fd, const char *routing_key, const void *value,
			uint32_t value_len,
			const struct mqdev_exchange_send_opts *opts,
			struct mqdev_exchange_ack *acks, uint32_t nacks);

/* Copy @name into a zero-padded uapi name field; -EINVAL if too long. */
int mqdev_name_set(char dst[MQDEV_NAME_SIZE], const char *name);

/* The partition hash of keys, as the kernel computes it: 32-bit FNV-1a. */
static inline uint32_t mqdev_key_hash(const void *key, uint32_t len)
{
	const unsigned char *p = (const unsigned char *)key;
	uint32_t hash = 2166136261U;

	while (len--) {
		hash ^= *p++;
		hash *= 16777619U;
	}
	return hash;
}

/* The partition a keyed message that names none goes to. */
static inline uint32_t mqdev_partition_for_key(const void *key, uint32_t len,
					       uint32_t partitions)
{
	return mqdev_key_hash(key, len) % partitions;
}

/* ---- records ------------------------------------------------------------ */

static inline const void *mqdev_record_key(const struct mqdev_record *rec)
{
	return rec + 1;
}

static inline const void *mqdev_record_value(const struct mqdev_record *rec)
{
	return (const char *)(rec + 1) + rec->key_len;
}

static inline uint32_t mqdev_record_value_len(const struct mqdev_record *rec)
{
	return rec->len - sizeof(*rec) - rec->key_len;
}

/*
 * Kafka's record model (MQDEV_RECORD_NULL_KEY, _NULL_VALUE, _HEADERS; see
 * the uapi header): a record's headers, and its value after them.
 */
struct mqdev_header {
	const void	*key;
	uint32_t	key_len;
	int32_t		value_len;	/* -1: a null value */
	const void	*value;		/* NULL for a null value */
};

/* Where mqdev_record_header_next() is in a record's header block. */
struct mqdev_header_iter {
	uint32_t	pos;		/* 0 before the first */
	uint32_t	left;
};

/*
 * The next header of @rec into *@h: 1, or 0 after the last (and for a
 * record without headers), or -EBADMSG for a header block that does not fit
 * in the record.  @iter starts zeroed.  The block is checked, never
 * trusted: a producer wrote it.
 */
int mqdev_record_header_next(const struct mqdev_record *rec,
			     struct mqdev_header_iter *iter,
			     struct mqdev_header *h);

/*
 * The value proper of @rec, after its header block if it has one, in
 * *@value and *@len (NULL and 0 for a null value): 0, or -EBADMSG for a
 * header block that does not fit in the record.
 */
int mqdev_record_payload(const struct mqdev_record *rec, const void **value,
			 uint32_t *len);

/*
 * The CLOCK_REALTIME nanosecond at which @rec expires (MQDEV_RECORD_EXPIRES),
 * or 0 when it does not (since LIBMQDEV_0.3).  Consumers skip expired
 * records themselves: see mqdev_consumer_expired().
 */
uint64_t mqdev_record_expiry(const struct mqdev_record *rec);

/*
 * Lay @n headers out as a header block in @buf, of @size bytes, for a
 * message with MQDEV_MSG_HEADERS (the value proper goes right after it):
 * the bytes it took, or -ENOSPC when they do not fit, -EINVAL for a
 * header with a negative length other than -1.
 */
int mqdev_headers_encode(void *buf, size_t size, const struct mqdev_header *h,
			 unsigned int n);

/* ---- producer ------------------------------------------------------------ */

struct mqdev_producer;

/*
 * The acknowledgement of one message: where it landed, or why it did not.
 * The library's own: sz is its size in the library.
 */
struct mqdev_ack {
	size_t		sz;
	uint32_t	partition;
	uint64_t	offset;
	int		error;		/* 0, or -errno when not appended */
	void		*opaque;	/* as given to mqdev_producer_send() */
	uint32_t	sequence;	/* a bound producer's, in the partition */
	bool		duplicate;	/* landed before: offset is the first one's */
};

typedef void (*mqdev_ack_fn)(void *ctx, const struct mqdev_ack *ack);

#define MQDEV_PRODUCER_NONBLOCK	(1U << 0)	/* -EAGAIN instead of waiting */
/*
 * Kafka's acks=all: on a durable topic, a produce returns only once the
 * high watermark has passed its records (see MQDEV_ATTACH_ACKS_ALL);
 * -ENOLINK while too few replicas are in sync.
 */
#define MQDEV_PRODUCER_ACKS_ALL	(1U << 1)

struct mqdev_producer_opts {
	size_t		sz;		/* sizeof(struct mqdev_producer_opts) */
	uint32_t	flags;		/* MQDEV_PRODUCER_* */
	mqdev_ack_fn	ack_fn;		/* see mqdev_producer_set_ack() */
	void		*ack_ctx;
};

/* A producer of @topic; @opts may be NULL (blocking, no ack callback). */
int mqdev_producer_new(const char *topic,
		       const struct mqdev_producer_opts *opts,
		       struct mqdev_producer **producer);
void mqdev_producer_free(struct mqdev_producer *producer);
int mqdev_producer_fd(const struct mqdev_producer *producer);
uint32_t mqdev_producer_partitions(const struct mqdev_producer *producer);

/* Fill one message of a batch for mqdev_produce(). */
static inline void mqdev_msg_init(struct mqdev_msg *msg,
				  const void *key, uint32_t key_len,
				  const void *value, uint32_t value_len,
				  uint32_t partition)
{
	msg->key = (uint64_t)(uintptr_t)key;
	msg->value = (uint64_t)(uintptr_t)value;
	msg->key_len = key_len;
	msg->value_len = value_len;
	msg->partition = partition;
	msg->flags = 0;
	msg->offset = 0;
	msg->sequence = 0;
	msg->status = 0;
}

/*
 * Append a batch of at most MQDEV_PRODUCE_MAX_MSGS in one system call,
 * zero-copy from the caller's buffers; partition and offset of every
 * appended message are written back into it.
 * Returns how many were appended (from the first), or -errno if none were.
 */
int mqdev_produce(struct mqdev_producer *producer, struct mqdev_msg *msgs,
		  uint32_t count);

/*
 * Queue one message (key and value are copied) for the next flush, which
 * happens when the batch is full or on mqdev_producer_flush().  @partition
 * may be MQDEV_PARTITION_ANY.  The ack callback, if set, is called for every
 * message at its flush.  A NULL key or value of length 0 is null
 * (MQDEV_RECORD_NULL_KEY, _NULL_VALUE), distinct from an empty one.
 */
int mqdev_producer_send(struct mqdev_producer *producer,
			const void *key, uint32_t key_len,
			const void *value, uint32_t value_len,
			uint32_t partition, void *opaque);

/*
 * The one writer of a single-writer topic (MQDEV_TOPIC_SINGLE_WRITER): it
 * writes records straight into the mapped rings and publishes them with a
 * store, entering the kernel only to wake a sleeping reader or, on a block
 * topic, to wait for room.  One at a time per topic: a second is -EBUSY
 * until the first is freed (or its process dies), and the next one goes on
 * after the last record the kernel found whole.
 */
#define MQDEV_SWRITER_NONBLOCK	(1U << 0) /* -EAGAIN instead of waiting */

struct mqdev_swriter_opts {
	size_t		sz;		/* sizeof(struct mqdev_swriter_opts) */
	uint32_t	flags;		/* MQDEV_SWRITER_* */
};

struct mqdev_swriter;
struct mqdev_consumer;
int mqdev_swriter_new(const char *topic,
		      const struct mqdev_swriter_opts *opts,
		      struct mqdev_swriter **writer);
/* Commits what is reserved, then gives the role back. */
void mqdev_swriter_free(struct mqdev_swriter *writer);
int mqdev_swriter_fd(const struct mqdev_swriter *writer);
uint32_t mqdev_swriter_partitions(const struct mqdev_swriter *writer);
/*
 * Reserve a record of @partition with room for @key_len bytes of key and
 * @value_len of value, its header filled in (offset, time, @flags: the
 * producer's MQDEV_RECORD_* only): write the key at mqdev_record_key() and
 * the value after it.  Invisible to readers until mqdev_swriter_commit().
 * -EMSGSIZE past max_record; on a full block topic, waits for room (commits
 * first), or -EAGAIN with MQDEV_SWRITER_NONBLOCK.
 */
int mqdev_swriter_reserve(struct mqdev_swriter *writer, uint32_t partition,
			  uint32_t key_len, uint32_t value_len, uint32_t flags,
			  struct mqdev_record **rec);
/* Publish every reserved record; wakes sleeping readers if any asked. */
int mqdev_swriter_commit(struct mqdev_swriter *writer);
/*
 * mqdev_swriter_commit(), then mqdev_consumer_wait(@consumer, @timeout_ms):
 * the wake-up of a sleeping reader, if one asked, goes into the wait's
 * system call (MQDEV_WAIT_SEND).  The records are published whatever it
 * returns: -errno when a wake-up failed (and nothing was waited for), else
 * what the wait returns.
 */
int mqdev_swriter_commit_wait(struct mqdev_swriter *writer,
			      struct mqdev_consumer *consumer, int timeout_ms);
/*
 * Copy a batch in and commit it: partition (MQDEV_PARTITION_ANY: by key, or
 * round-robin) and offset of each message are written back.  Returns how
 * many were written, from the first, or -errno if none were.
 */
int mqdev_swriter_send(struct mqdev_swriter *writer, struct mqdev_msg *msgs,
		       unsigned int count);

/* A message in Kafka's record model, for mqdev_producer_send_opts(). */
struct mqdev_send_opts {
	size_t		sz;		/* sizeof(struct mqdev_send_opts) */
	uint32_t	flags;		/* MQDEV_MSG_NULL_KEY, _NULL_VALUE */
	unsigned int	nr_headers;
	const struct mqdev_header *headers;	/* nr_headers of them */
	/* since LIBMQDEV_0.3 */
	uint64_t	ttl_ns;		/* expires this long after the send; 0: never */
	uint64_t	deliver_at;	/* CLOCK_REALTIME ns to deliver at; 0: now */
	uint64_t	delay_ns;	/* or this long from now; not with deliver_at */
	uint64_t	*sched_id;	/* a scheduled message's id goes here */
};

/*
 * mqdev_producer_send() with a null key or value (whose length must be 0)
 * and headers, which go in a header block before the value
 * (MQDEV_MSG_HEADERS); @opts may be NULL.  -EINVAL for bad flags or a
 * header length, -EMSGSIZE for a record over the topic's max_record.
 *
 * With ttl_ns the record carries its expiry (MQDEV_MSG_EXPIRES): it is
 * never delivered after it; -EINVAL past MQDEV_TTL_MAX, as for a topic's.
 * With deliver_at or delay_ns the message is not queued: it goes to the
 * kernel at once (MQDEV_IOC_SCHEDULE), which appends it when due; its id,
 * for mqdev_producer_cancel(), goes to *sched_id; no ack callback is
 * called for it.  Then also -ERANGE for a time past MQDEV_SCHED_MAX_DELAY
 * from now, -EINVAL for a negative delay or a bound producer, -EDQUOT or
 * -ENOSPC past the scheduled limits.
 */
int mqdev_producer_send_opts(struct mqdev_producer *producer,
			     const void *key, uint32_t key_len,
			     const void *value, uint32_t value_len,
			     uint32_t partition, void *opaque,
			     const struct mqdev_send_opts *opts);
int mqdev_producer_flush(struct mqdev_producer *producer);
/*
 * Cancel the scheduled message @id of the producer's topic (since
 * LIBMQDEV_0.3): 0, -ENOENT when it is not (or no longer) scheduled,
 * -EPERM when it is another user's and the topic is not ours.
 */
int mqdev_producer_cancel(struct mqdev_producer *producer, uint64_t id);

/*
 * A page of @topic's scheduled messages (MQDEV_IOC_SCHED_LIST, which says
 * what goes in and out of @req), read permission needed (since
 * LIBMQDEV_0.3): 0 or -errno.
 */
int mqdev_scheduled_list(const char *topic, struct mqdev_sched_list *req);

/* Change the ack callback (initially the opts' ack_fn); NULL: none. */
void mqdev_producer_set_ack(struct mqdev_producer *producer, mqdev_ack_fn fn,
			    void *ctx);

/* ---- record batches -------------------------------------------------------- */

/*
 * A record batch for one partition, as Kafka's producers build them: the
 * records are laid out in the batch as they will stand in the ring, each
 * value written in place by the caller, and the whole batch goes in with
 * one system call and one copy.  For producers not bound to a session.
 */
struct mqdev_batch;

/* A batch of up to @size bytes (MQDEV_BATCH_MAX at most). */
int mqdev_batch_new(uint32_t size, struct mqdev_batch **batch);
void mqdev_batch_free(struct mqdev_batch *batch);

/*
 * Lay out one more record: the key is copied in, and *@value is where the
 * caller writes its @value_len bytes before the batch is produced.
 * -ENOSPC: the batch is full (produce it, then add again); -EMSGSIZE: the
 * record is larger than any batch of this size.
 */
int mqdev_batch_add(struct mqdev_batch *batch, const void *key,
		    uint32_t key_len, uint32_t value_len, void **value);
uint32_t mqdev_batch_count(const struct mqdev_batch *batch);
void mqdev_batch_clear(struct mqdev_batch *batch);

/*
 * Append the whole batch to *@partition (or MQDEV_PARTITION_ANY, for a
 * batch without keys), which becomes the partition it went to; its records
 * have offsets *@base_offset, *@base_offset + 1, ...  Returns how many
 * records were appended, all of the batch, which is then empty; or -errno,
 * with nothing appended and the batch as it was, except for an acks=all
 * producer whose append was not acknowledged (EINTR, ENOLINK, EIDRM): the
 * batch is then empty, as appended.
 */
int mqdev_produce_batch(struct mqdev_producer *producer,
			struct mqdev_batch *batch, uint32_t *partition,
			uint64_t *base_offset);

/*
 * A request and the wait for its reply: mqdev_produce_batch(), then
 * mqdev_consumer_wait(@consumer, @timeout_ms), in one system call when the
 * consumer has to sleep and does not busy-poll (MQDEV_WAIT_SEND); the
 * batch goes in whatever the consumer's state.  Returns -errno with
 * nothing appended and the batch as it was (a non-zero
 * mqdev_batch_count()); once the batch is appended (the batch empty,
 * *@partition and *@base_offset set), what the wait returns, or an
 * acks=all producer's error, as mqdev_produce_batch() has it.
 */
int mqdev_produce_batch_wait(struct mqdev_producer *producer,
			     struct mqdev_batch *batch, uint32_t *partition,
			     uint64_t *base_offset,
			     struct mqdev_consumer *consumer, int timeout_ms);

/* ---- producer sessions: idempotence and transactions ----------------------- */

struct mqdev_session;

/*
 * A producer identity for one process.  With @name (may be NULL), the stable
 * identity of that name: a restarted process continues its producer id and
 * sequence numbers, and fences the instance before it (whose appends fail
 * with -ESTALE from then on).  @txn_timeout_ms: how long a transaction may
 * stay open before its checker is asked (0: the module's default).
 */
int mqdev_session_new(const char *name, uint32_t txn_timeout_ms,
		      struct mqdev_session **session);
/* Closing a session with an open transaction hands it to the checker. */
void mqdev_session_free(struct mqdev_session *session);
int mqdev_session_fd(const struct mqdev_session *session);
uint64_t mqdev_session_producer_id(const struct mqdev_session *session);
uint32_t mqdev_session_epoch(const struct mqdev_session *session);

/*
 * Append as @session from now on: every message carries the producer id and
 * a sequence number per partition, so that a resent message is appended
 * once.  mqdev_producer_send() then picks partitions in the library (the
 * named one, the key's hash, or one per batch in turn) and numbers them.
 */
int mqdev_producer_bind(struct mqdev_producer *producer,
			struct mqdev_session *session);

/* The sequence number the next message to @partition gets. */
uint32_t mqdev_producer_next_sequence(const struct mqdev_producer *producer,
				      uint32_t partition);

/*
 * For mqdev_produce() on a bound producer: give each message a partition
 * (if MQDEV_PARTITION_ANY) and the next sequence number in it.  Stamp a batch
 * once; sending it again as it is, after an error that left it unclear what
 * landed, appends only what had not (those come back MQDEV_MSG_DUPLICATE).
 */
void mqdev_producer_stamp(struct mqdev_producer *producer,
			  struct mqdev_msg *msgs, uint32_t count);

/*
 * Transactions: between begin and commit, what the session's bound
 * producers send is invisible to every consumer; commit flushes them and
 * makes all of it visible at once; abort (or a failed commit) makes none of
 * it ever visible.  @cookie is handed to the checker if the producer dies
 * or the transaction times out (an order number, say).
 */
int mqdev_txn_begin(struct mqdev_session *session, uint64_t cookie);
int mqdev_txn_commit(struct mqdev_session *session);
int mqdev_txn_abort(struct mqdev_session *session);
/* The open (or last) transaction's id, as the checker is told it. */
uint64_t mqdev_txn_id(const struct mqdev_session *session);

struct mqdev_consumer;

/*
 * Commit group member @consumer's released records with the open
 * transaction instead of by itself: consume-transform-produce, exactly once.
 * The consumer must outlive the commit.
 */
int mqdev_txn_send_offsets(struct mqdev_session *session,
			   struct mqdev_consumer *consumer);

/* ---- consumer ------------------------------------------------------------ */

struct mqdev_consumer;

struct mqdev_verifier;

#define MQDEV_CONSUMER_COPY	(1U << 0)	/* read(2), not mmap */
/*
 * A replica of a durable topic (CAP_SYS_ADMIN): reads to the end of the
 * log, past the high watermark, and confirms with mqdev_replica_confirm().
 */
#define MQDEV_CONSUMER_REPLICA	(1U << 1)

struct mqdev_consumer_opts {
	size_t		sz;		/* sizeof(struct mqdev_consumer_opts) */
	uint32_t	flags;		/* MQDEV_CONSUMER_* */
	/*
	 * Spin for up to this many microseconds before sleeping in
	 * mqdev_consumer_wait(), for consumers that trade a CPU for
	 * latency.  0: never spin.
	 */
	uint32_t	busy_poll_usec;
	/*
	 * Kafka's fetch.min.bytes: mqdev_consumer_wait() sleeps until this
	 * many bytes of records are ready in a partition (0: any record),
	 * and when its time-out (fetch.max.wait.ms) passes first, returns 1
	 * if fewer are.  The kernel checks the watermark before waking the
	 * consumer (MQDEV_IOC_WAIT), so appends smaller than it do not
	 * wake it.
	 */
	uint32_t	fetch_min;
	/*
	 * A group member commits from mqdev_consumer_wait() every this
	 * many milliseconds after it joins; 0: only by hand.
	 */
	uint32_t	auto_commit_ms;
	/*
	 * Feed every record peeked, and every aborted record skipped, to
	 * this verifier (see below), which must outlive the consumer.
	 * NULL: none.
	 */
	struct mqdev_verifier *verifier;
	/*
	 * On a durable topic, where its disk replica (mqdev-persistd) keeps
	 * the records: a position older than the ring's oldest record is
	 * read from there first, then the ring.  NULL: $MQDEV_DATA_DIR, or
	 * /var/lib/mqdev.
	 */
	const char	*data_dir;
};

/* A consumer of @topic; @opts may be NULL (mmap, no spinning, ...). */
int mqdev_consumer_new(const char *topic,
		       const struct mqdev_consumer_opts *opts,
		       struct mqdev_consumer **consumer);
void mqdev_consumer_free(struct mqdev_consumer *consumer);
int mqdev_consumer_fd(const struct mqdev_consumer *consumer);
uint32_t mqdev_consumer_partitions(const struct mqdev_consumer *consumer);

/*
 * Start reading @partition (or MQDEV_PARTITION_ALL) at MQDEV_SEEK_EARLIEST,
 * MQDEV_SEEK_LATEST or MQDEV_SEEK_OFFSET @offset.  With MQDEV_SEEK_HOLD the
 * records not yet released are kept from reclaim on a topic that blocks.
 * Returns 0 or -errno; *landed (may be NULL) gets the offset it landed on.
 */
int mqdev_consumer_seek(struct mqdev_consumer *consumer, uint32_t partition,
			uint32_t whence, uint64_t offset, uint32_t flags,
			uint64_t *landed);

/*
 * The next record in place, from the subscribed partitions in turn, or NULL
 * when none is ready (or on error: see mqdev_consumer_error()).  It stays
 * valid until mqdev_consumer_release().
 */
const struct mqdev_record *mqdev_consumer_peek(struct mqdev_consumer *consumer);

/*
 * Up to @max of the next records in place, in order and all of one
 * partition, into @recs: what peek and release would hand out one after
 * another, with one look at the ring for all of them (as libbpf's ring
 * buffer consumer walks every record up to the producer's position).  A run
 * ends before a record of a transaction, which peek then hands out alone.
 * They stay valid until mqdev_consumer_release(), which releases them all.
 * Returns how many (0: none is ready, or see mqdev_consumer_error()),
 * -EBUSY while records are held, -EINVAL for @max 0.
 */
int mqdev_consumer_peek_batch(struct mqdev_consumer *consumer,
			      const struct mqdev_record **recs,
			      unsigned int max);

/*
 * Done with the record (or the run) from the last peek: move past it.
 * Returns 0, or -ESTALE when, on a topic that overwrites, it was
 * overwritten while it was held: whatever was made of it must be thrown
 * away (it counts as lost).
 */
int mqdev_consumer_release(struct mqdev_consumer *consumer);

/*
 * Wait up to @timeout_ms (-1: forever) for a record: 1 when there may be
 * one (or, for a group member, the assignment changed), 0 on time-out,
 * or -errno: among them, at once, the sticky error of
 * mqdev_consumer_error() that makes every peek fail until a seek.
 */
int mqdev_consumer_wait(struct mqdev_consumer *consumer, int timeout_ms);

typedef int (*mqdev_record_fn)(void *ctx, const struct mqdev_record *rec);

/*
 * Wait up to @timeout_ms for records, then hand each ready one to @fn and
 * release it, up to @max records.  Returns how many were handled, or the
 * first negative value @fn returned, or -errno.
 */
int mqdev_consumer_poll(struct mqdev_consumer *consumer, int timeout_ms,
			unsigned int max, mqdev_record_fn fn, void *ctx);

/* Records skipped because the ring overwrote them before they were read. */
uint64_t mqdev_consumer_lost(const struct mqdev_consumer *consumer);

/* The sticky error that made peek return NULL, or 0. */
int mqdev_consumer_error(const struct mqdev_consumer *consumer);

/* The offset the consumer will read next in @partition. */
uint64_t mqdev_consumer_position(const struct mqdev_consumer *consumer,
				 uint32_t partition);

/* ---- loss and duplicate detection ----------------------------------------- */

#define MQDEV_ANOMALY_GAP	1	/* sequence numbers missing */
#define MQDEV_ANOMALY_REPEAT	2	/* a sequence number seen again */

/* The library's own: sz is its size in the library. */
struct mqdev_anomaly {
	size_t		sz;
	uint32_t	kind;		/* MQDEV_ANOMALY_* */
	uint32_t	partition;
	uint64_t	producer_id;
	uint32_t	expected;	/* the sequence number due */
	uint32_t	sequence;	/* the one found */
	uint64_t	offset;		/* of the record where it was found */
	uint32_t	count;		/* records missing, for a gap */
};

typedef void (*mqdev_anomaly_fn)(void *ctx, const struct mqdev_anomaly *a);

/* Every producer's first record in a partition is expected at sequence 0. */
#define MQDEV_VERIFY_FROM_START	(1U << 0)

/*
 * Per partition and producer, checks that sequence numbers run on without
 * gaps or repeats, and calls @fn (may be NULL) for each anomaly.  Records
 * without a producer id are not checked.
 */
int mqdev_verifier_new(unsigned int flags, mqdev_anomaly_fn fn, void *ctx,
		       struct mqdev_verifier **verifier);
void mqdev_verifier_free(struct mqdev_verifier *verifier);
/* Check one record (aborted ones too: they used their numbers). */
int mqdev_verifier_check(struct mqdev_verifier *verifier,
			 const struct mqdev_record *rec);

/* Filled by mqdev_verifier_stats(), up to the caller's sz. */
struct mqdev_verify_stats {
	size_t		sz;		/* sizeof(struct mqdev_verify_stats) */
	uint64_t	records;	/* checked */
	uint64_t	producers;	/* (partition, producer) streams seen */
	uint64_t	gaps;		/* gap anomalies */
	uint64_t	missing;	/* records missing in them */
	uint64_t	repeats;
};

/* The counts so far into @stats, whose sz the caller sets: 0 or -EINVAL. */
int mqdev_verifier_stats(const struct mqdev_verifier *verifier,
			 struct mqdev_verify_stats *stats);

/* Transactional records skipped because their transaction was aborted. */
uint64_t mqdev_consumer_aborted(const struct mqdev_consumer *consumer);

/*
 * Records skipped because they had expired (since LIBMQDEV_0.3), found in
 * the ring or the history; those read(2) left out are counted by the
 * kernel, per topic (MQDEV_IOC_SCHED_LIST's @expired).
 */
uint64_t mqdev_consumer_expired(const struct mqdev_consumer *consumer);

/* ---- consumer groups ----------------------------------------------------- */

/*
 * Join consumer group @group of the consumer's topic, instead of seeking.
 * A new group starts at @reset (MQDEV_SEEK_EARLIEST or _LATEST).  The
 * partitions this member owns are read from where the group left off, and
 * change the moment a member joins or leaves; mqdev_consumer_wait() follows
 * (and commits every auto_commit_ms of the consumer's opts, if set).
 */
int mqdev_consumer_join(struct mqdev_consumer *consumer, const char *group,
			uint32_t reset);

/*
 * Commit, in every owned partition, the records released so far: they will
 * not be delivered to this group again.  Returns 0, or -ESTALE when a
 * partition was taken away before its commit (its uncommitted records go to
 * the new owner: at-least-once), or -errno.
 */
int mqdev_consumer_commit(struct mqdev_consumer *consumer);

/*
 * A replica's confirmation: the records of @partition before @offset are
 * safe.  *@confirmed (may be NULL) gets where the kernel moved the
 * replica to, which stops before a transaction not yet decided; *@hw
 * (may be NULL) the partition's high watermark after it.
 */
int mqdev_replica_confirm(struct mqdev_consumer *replica, uint32_t partition,
			  uint64_t offset, uint64_t *confirmed, uint64_t *hw);

uint32_t mqdev_consumer_generation(const struct mqdev_consumer *consumer);
bool mqdev_consumer_owns(const struct mqdev_consumer *consumer,
			 uint32_t partition);

/* ---- retries of consumer groups (MQDEV_FEAT_RECONSUME, LIBMQDEV_0.5) ------ */

/*
 * RocketMQ's RECONSUME_LATER: group member @consumer hands back @rec, a
 * record it was given and has not committed.  The kernel schedules a copy
 * of it into @retry_topic, due after the back-off for its delivery count,
 * or, once it has been delivered @max_deliveries times (or with @dead_now),
 * writes its dead letter to @dlq_topic.  The member then commits past it and
 * goes on; the retry comes back to whoever consumes @retry_topic in the same
 * group (mqctl consume --retry-topic does; a consumer reads one topic, so
 * the caller opens a second one for @retry_topic).  The caller must be
 * allowed to produce to both topics.  A retry is kept in memory, charged
 * to the caller, until its topic has room: lost on module unload or
 * reboot unless @retry_topic is durable (mqdev-persistd keeps it), and
 * on deletion of @retry_topic (Documentation/mqdev.rst, "Retries of
 * consumer groups").
 */
struct mqdev_reconsume_opts {
	size_t		sz;		/* sizeof(struct mqdev_reconsume_opts) */
	const char	*retry_topic;	/* NULL only with @dead_now */
	const char	*dlq_topic;	/* NULL: past the max, dropped */
	uint32_t	max_deliveries;	/* 0: 17, RocketMQ's 16 retries */
	uint32_t	delay_ms;	/* 0: the schedule's */
	/*
	 * The back-off: @backoff_ms[deliveries - 1], the last past the end;
	 * none: RocketMQ's from 10 s (10 s 30 s 1 m 2 m ... 1 h 2 h).
	 */
	const uint32_t	*backoff_ms;
	uint32_t	nr_backoff;	/* at most MQDEV_SHARE_BACKOFF_LEVELS */
	const char	*error;		/* NULL, or why: mqdev.dlq.error */
	bool		dead_now;	/* to the DLQ now, reason "rejected" */
};

/*
 * Returns what became of it, MQDEV_RECONSUME_RETRIED, _DEAD_LETTERED or
 * _DROPPED, or -errno (-ESTALE: the partition was taken away; -EINVAL: @rec
 * is not a record @consumer handed out; -EBADMSG: @rec's header block is
 * malformed, so it is not retried: dead_now dead-letters it whole).
 */
int mqdev_consumer_reconsume_later(struct mqdev_consumer *consumer,
				   const struct mqdev_record *rec,
				   const struct mqdev_reconsume_opts *opts);

/*
 * How many times @rec has been delivered: 1, or the kernel's count of a
 * retry (MQDEV_RECORD_RETRY); a producer's header cannot change it.
 */
uint32_t mqdev_record_deliveries(const struct mqdev_record *rec);

/* ---- share groups (MQDEV_FEAT_SHARE_GROUPS, since LIBMQDEV_0.4) ----------- */

/*
 * A member of a share group: records of any partition are acquired one by
 * one (or in runs), each under a lock that expires, and accepted, released
 * or rejected by offset range.  Order is not promised.  The group is made
 * by its first member with these settings; later members get the group's.
 */
struct mqdev_share_opts {
	size_t		sz;		/* sizeof(struct mqdev_share_opts) */
	uint32_t	lock_ms;	/* a record's lock; 0: the kernel's, 30 s */
	uint32_t	max_deliveries;	/* then rejected; 0: the kernel's, 5 */
	uint32_t	reset;		/* a new group: MQDEV_SEEK_EARLIEST (0), _LATEST */
	/*
	 * A new group's dead-letter topic (NULL: none), which gets a dead
	 * letter of every record rejected or past @max_deliveries, and its
	 * retry schedule: a release with no back-off waits
	 * @backoff_ms[delivery_count - 1], the last one past the end.
	 */
	const char	*dlq_topic;
	const uint32_t	*backoff_ms;
	uint32_t	nr_backoff;	/* at most MQDEV_SHARE_BACKOFF_LEVELS */
	/*
	 * MQDEV_SHARE_DLQ_EXPIRED (with @dlq_topic): a record that expired
	 * before a member took it goes there too, reason "expired".
	 */
	uint32_t	dlq_flags;
};

struct mqdev_share;

/*
 * One record acquired.  @rec is the record in place in the ring mapping, or
 * NULL when the ring no longer has it (a group of a reader that may not
 * hold the topic was lapped): acknowledge it all the same.
 */
struct mqdev_delivery {
	const struct mqdev_record *rec;
	uint64_t	offset;
	uint64_t	lock_until_ns;	/* CLOCK_MONOTONIC */
	uint32_t	partition;
	uint16_t	delivery_count;	/* 1 the first time */
};

/* Join share group @group of @topic (made if need be); @opts may be NULL. */
int mqdev_share_new(const char *topic, const char *group,
		    const struct mqdev_share_opts *opts,
		    struct mqdev_share **share);
/* Leave: what the member holds is delivered again at once. */
void mqdev_share_free(struct mqdev_share *share);
int mqdev_share_fd(const struct mqdev_share *share);
uint32_t mqdev_share_member_id(const struct mqdev_share *share);
/*
 * Acquire up to @max records (64 a call at most) of @partition, or of any
 * (MQDEV_PARTITION_ANY), all of one partition: how many, 0 for none now,
 * or -errno.
 */
int mqdev_share_acquire(struct mqdev_share *share, uint32_t partition,
			struct mqdev_delivery *out, uint32_t max);
/*
 * Since LIBMQDEV_0.5: as mqdev_share_acquire(), but when none may be
 * acquired now, sleep in the kernel until one may (an append, a release,
 * a lock's expiry, a back-off's end, a member's death), at most
 * @timeout_ms (-1: no limit): 0 then means none came in time; -EINTR for
 * a signal.  Or poll(2) mqdev_share_fd() for POLLIN.
 */
int mqdev_share_acquire_wait(struct mqdev_share *share, uint32_t partition,
			     struct mqdev_delivery *out, uint32_t max,
			     int timeout_ms);

struct mqdev_share_ack_opts {
	size_t		sz;		/* sizeof(struct mqdev_share_ack_opts) */
	uint32_t	backoff_ms;	/* MQDEV_SHARE_RELEASE: not before */
	/*
	 * MQDEV_SHARE_ACCEPT: the deliveries the caller read for the range;
	 * each is checked to be in the ring still (the ring may lap a
	 * group that does not hold it) before anything is accepted.
	 */
	const struct mqdev_delivery *read;
	uint32_t	nr_read;
	/* MQDEV_SHARE_ACK_NOW: a release with no back-off, at once */
	uint32_t	flags;
};

/*
 * @type (MQDEV_SHARE_ACCEPT, _RELEASE or _REJECT) every record of
 * [@first, @last) of @partition, all held by this member: 0, or -ESTALE
 * (one is not, or its lock expired) or -ERANGE with nothing changed;
 * -ENODATA with nothing changed for an accept of which a record of
 * @opts->read was overwritten before it was done being read (release it).
 */
int mqdev_share_ack(struct mqdev_share *share, uint32_t partition,
		    uint64_t first, uint64_t last, uint32_t type,
		    const struct mqdev_share_ack_opts *opts);
/* On a handle attached to consume: a share group's window in @partition. */
int mqdev_share_describe(int fd, const char *group, uint32_t partition,
			 struct mqdev_share_info *info);
/* On a handle attached to consume: a share group's dead-letter settings. */
int mqdev_share_dlq_info(int fd, const char *group,
			 struct mqdev_share_dlq_info *info);

/* ---- the control channel: generic netlink, through libmnl ------------------ */

struct mqdev_nl;

/*
 * The elements of mqdev_group_info's arrays, struct mqdev_member_info and
 * struct mqdev_group_partition, are indexed by the caller: their size is
 * fixed for good.  What more a later version says of members or partitions
 * comes as new arrays in struct mqdev_group_info.
 */
struct mqdev_member_info {
	uint32_t	id;
	uint32_t	pid;
	uint32_t	partitions;	/* how many it owns */
	char		comm[16];
};

struct mqdev_group_partition {
	uint32_t	partition;
	bool		committed;	/* the group committed here */
	bool		owned;
	uint32_t	owner;		/* member id, when owned */
	uint64_t	position;	/* the group's offset */
	uint64_t	first;		/* oldest offset kept */
	uint64_t	end;		/* high watermark: past what it may read */
	uint64_t	lag;		/* end - position, or 0 */
};

/* The library's own, for a callback: sz is its size in the library. */
struct mqdev_group_info {
	size_t				sz;
	char				group[MQDEV_NAME_SIZE];
	char				topic[MQDEV_NAME_SIZE];
	uint32_t			generation;
	uint32_t			members;
	uint32_t			nr_members;
	struct mqdev_member_info	*member;
	uint32_t			nr_parts;
	struct mqdev_group_partition	*part;
	/*
	 * Since LIBMQDEV_0.5: MQDEV_GROUP_TYPE_CONSUMER or _SHARE (a share
	 * group's info has its name, topic and members only; describe it with
	 * mqdev_share_describe()).
	 */
	uint32_t			type;
};

typedef int (*mqdev_group_fn)(void *ctx, const struct mqdev_group_info *info);

/* Filled by mqdev_nl_event(), up to the caller's sz. */
struct mqdev_event {
	size_t		sz;		/* sizeof(struct mqdev_event) */
	uint8_t		cmd;		/* MQDEV_CMD_EVENT_*, _TXN_CHECK */
	char		group[MQDEV_NAME_SIZE];
	char		topic[MQDEV_NAME_SIZE];
	uint32_t	generation;
	uint32_t	members;
	/* MQDEV_CMD_TXN_CHECK: a transaction to commit or abort */
	char		producer[MQDEV_NAME_SIZE];
	uint64_t	producer_id;
	uint64_t	txn;
	uint64_t	cookie;
};

int mqdev_nl_open(struct mqdev_nl **nl);
void mqdev_nl_close(struct mqdev_nl *nl);
int mqdev_nl_fd(const struct mqdev_nl *nl);

/* The kernel's own words for the last refusal (extended ack), or "". */
const char *mqdev_nl_error(const struct mqdev_nl *nl);

/* Every (topic, group) the caller may see; @group, @topic narrow (NULL: all). */
int mqdev_group_get(struct mqdev_nl *nl, const char *group, const char *topic,
		    mqdev_group_fn fn, void *ctx);

/* Commit for a group from outside it: with its @generation, or while empty. */
int mqdev_group_commit_offset(struct mqdev_nl *nl, const char *group,
			      const char *topic, uint32_t partition,
			      uint64_t offset, const uint32_t *generation);

/*
 * Move a group's positions in @partition (or MQDEV_PARTITION_ALL) to
 * MQDEV_SEEK_EARLIEST, _LATEST, _OFFSET @value or _TIMESTAMP @value (ns).
 * Refused while the group has members unless @force.
 */
int mqdev_group_reset(struct mqdev_nl *nl, const char *group,
		      const char *topic, uint32_t partition, uint32_t whence,
		      uint64_t value, bool force);

/*
 * Delete a group of @topic, or (NULL) the consumer group of that name of
 * every topic (share groups of the name are left alone: name their topic):
 * the group's owner, or the topic's.  Refused while it has members unless
 * @force, which evicts them: they own nothing from then on and their poll
 * reports EPOLLHUP.
 */
int mqdev_group_delete(struct mqdev_nl *nl, const char *group,
		       const char *topic, bool force);

/* Receive rebalances and topics coming and going, as they happen. */
int mqdev_nl_subscribe(struct mqdev_nl *nl);
/*
 * Wait up to @timeout_ms for an event (or a checker's question) into
 * @event, whose sz the caller sets: 1, or 0 on time-out, or -errno
 * (-EINVAL for a bad sz, before anything is received).
 */
int mqdev_nl_event(struct mqdev_nl *nl, struct mqdev_event *event,
		   int timeout_ms);

/*
 * Become the checker of producer name @producer: when one of its
 * transactions is orphaned (its producer died, or let it time out), an
 * MQDEV_CMD_TXN_CHECK event arrives on this socket, to be answered with
 * mqdev_txn_resolve().  No answer in time, or no checker: it is aborted.
 */
int mqdev_nl_checker_register(struct mqdev_nl *nl, const char *producer);

/* Answer: MQDEV_TXN_COMMIT, _ABORT, or _UNKNOWN (ask again later). */
int mqdev_txn_resolve(struct mqdev_nl *nl, const char *producer,
		      uint64_t txn, uint32_t decision);

/* ---- statistics (since LIBMQDEV_0.2) --------------------------------------- */

/* What a struct mqdev_stats is about. */
enum mqdev_stats_kind {
	MQDEV_STATS_PARTITION,	/* a partition's counters */
	MQDEV_STATS_TOPIC,	/* refusals before a partition was chosen */
	MQDEV_STATS_GROUP,	/* a consumer group's counters */
};

/* Room for this many refusal reasons (enum mqdev_refusal), for good. */
#define MQDEV_STATS_REFUSALS	16

/*
 * One of mqdev_stats_get()'s answers, the library's own, for a callback:
 * sz is its size in the library.  Counters count from the topic's (or the
 * group's) creation; bytes are ring bytes (headers, keys, values and their
 * padding).  "Out" counts what read(2) copied: readers of the mapped ring
 * read without the kernel and are seen in their group's commits and lag.
 */
struct mqdev_stats {
	size_t		sz;
	uint32_t	kind;			/* enum mqdev_stats_kind */
	char		topic[MQDEV_NAME_SIZE];
	/* MQDEV_STATS_PARTITION and _TOPIC (refused only) */
	uint32_t	partition;
	uint64_t	records_in;
	uint64_t	bytes_in;
	uint64_t	records_out;
	uint64_t	bytes_out;
	uint64_t	drops;			/* an overwrite topic's */
	uint64_t	waits;			/* producers' sleeps for room */
	uint64_t	wait_ns;
	uint64_t	reader_wakeups;
	uint64_t	producer_wakeups;
	uint64_t	kept_records;
	uint64_t	kept_bytes;
	uint64_t	refused[MQDEV_STATS_REFUSALS];	/* by enum mqdev_refusal */
	/* MQDEV_STATS_GROUP */
	char		group[MQDEV_NAME_SIZE];
	uint64_t	commits;
	uint64_t	rebalances;
	uint32_t	members;
	uint64_t	lag;			/* summed over partitions */
	uint32_t	nr_parts;
	const uint64_t	*part_lag;		/* by partition, nr_parts */
};

typedef int (*mqdev_stats_fn)(void *ctx, const struct mqdev_stats *stats);

/*
 * The counters of every topic the caller may read, or of @topic (NULL:
 * all): for each topic its partitions in order, then its refusals before a
 * partition was chosen, then its groups.  @fn returning < 0 stops it, and
 * that is returned.  A topic the caller may not read is left out, as one
 * that does not exist.
 */
int mqdev_stats_get(struct mqdev_nl *nl, const char *topic, mqdev_stats_fn fn,
		    void *ctx);

/* One kind of object the module counts (enum mqdev_charge_kind). */
struct mqdev_stats_charge {
	uint64_t	used;		/* module-wide, every user */
	uint64_t	limit;		/* module-wide; UINT64_MAX: none */
	uint64_t	user_used;	/* the caller's user */
	uint64_t	user_limit;
};

/* Room for this many kinds of charge, for good. */
#define MQDEV_STATS_CHARGES	16

/* Filled by mqdev_stats_module(), up to the caller's sz. */
struct mqdev_stats_module {
	size_t				sz;
	uint32_t			nr_charges;
	struct mqdev_stats_charge	charge[MQDEV_STATS_CHARGES];
};

/* What the module holds, against its limits: 0 or -errno. */
int mqdev_stats_module(struct mqdev_nl *nl, struct mqdev_stats_module *out);

/* Names for the reasons and kinds: "full", "topics"...; NULL if unknown. */
const char *mqdev_stats_refusal_name(uint32_t reason);
const char *mqdev_stats_charge_name(uint32_t kind);

#ifdef __cplusplus
}
#endif

#endif /* _LIBMQDEV_H */
