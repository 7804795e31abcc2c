/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * libmqdev: the userspace side of /dev/mq.
 *
 * Every function that can fail returns 0 (or a count) on success and a
 * negative errno on failure, as the kernel does; errno is left alone.
 */
#ifndef _MQDEV_LIB_H
#define _MQDEV_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/mqdev.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- administration ---------------------------------------------------- */

struct mqdev_topic_config {
	uint32_t	partitions;	/* 0: 1 */
	uint64_t	capacity;	/* bytes per partition, 0: 1 MiB */
	uint32_t	flags;		/* MQDEV_TOPIC_OVERWRITE or 0 (block) */
	uint32_t	mode;		/* 0: 0644 */
};

/* Open /dev/mq (close-on-exec); returns a descriptor or -errno. */
int mqdev_open(void);

int mqdev_topic_create(int fd, const char *name,
		       const struct mqdev_topic_config *config);
int mqdev_topic_delete(int fd, const char *name);

/*
 * List topics into a newly allocated array of names, to be freed with
 * free(); returns the number of topics or -errno.
 */
int mqdev_topic_list(int fd, char (**names)[MQDEV_NAME_SIZE]);

/* Describe a topic and up to nparts of its partitions. */
int mqdev_topic_describe(int fd, const char *name,
			 struct mqdev_topic_info *info,
			 struct mqdev_partition_info *parts, uint32_t nparts);

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

/* ---- producer ------------------------------------------------------------ */

struct mqdev_producer;

/* The acknowledgement of one message: where it landed, or why it did not. */
struct mqdev_ack {
	uint32_t	partition;
	uint64_t	offset;
	int		error;		/* 0, or -errno when not appended */
	void		*opaque;	/* as given to mqdev_producer_send() */
};

typedef void (*mqdev_ack_fn)(void *ctx, const struct mqdev_ack *ack);

#define MQDEV_PRODUCER_NONBLOCK	(1U << 0)	/* -EAGAIN instead of waiting */

int mqdev_producer_new(const char *topic, unsigned int flags,
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
}

/*
 * Append a batch in one system call, zero-copy from the caller's buffers;
 * partition and offset of every appended message are written back into it.
 * Returns how many were appended (from the first), or -errno if none were.
 */
int mqdev_produce(struct mqdev_producer *producer, struct mqdev_msg *msgs,
		  uint32_t count);

/*
 * Queue one message (key and value are copied) for the next flush, which
 * happens when the batch is full or on mqdev_producer_flush().  @partition
 * may be MQDEV_PARTITION_ANY.  The ack callback, if set, is called for every
 * message at its flush.
 */
int mqdev_producer_send(struct mqdev_producer *producer,
			const void *key, uint32_t key_len,
			const void *value, uint32_t value_len,
			uint32_t partition, void *opaque);
int mqdev_producer_flush(struct mqdev_producer *producer);
void mqdev_producer_set_ack(struct mqdev_producer *producer, mqdev_ack_fn fn,
			    void *ctx);

/* ---- consumer ------------------------------------------------------------ */

struct mqdev_consumer;

#define MQDEV_CONSUMER_COPY	(1U << 0)	/* read(2), not mmap */

int mqdev_consumer_new(const char *topic, unsigned int flags,
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
 * Done with the record from the last peek: move past it.  Returns 0, or
 * -ESTALE when, on a topic that overwrites, it was overwritten while it was
 * held: whatever was made of it must be thrown away (it counts as lost).
 */
int mqdev_consumer_release(struct mqdev_consumer *consumer);

/*
 * Wait up to @timeout_ms (-1: forever) for a record: 1 when there may be
 * one (or, for a group member, the assignment changed), 0 on time-out.
 */
int mqdev_consumer_wait(struct mqdev_consumer *consumer, int timeout_ms);

/*
 * Spin for up to @usec microseconds before sleeping in mqdev_consumer_wait(),
 * for consumers that trade a CPU for latency.  0 turns it off.
 */
void mqdev_consumer_set_busy_poll(struct mqdev_consumer *consumer,
				  unsigned int usec);

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

/* ---- consumer groups ----------------------------------------------------- */

/*
 * Join consumer group @group of the consumer's topic, instead of seeking.
 * A new group starts at @reset (MQDEV_SEEK_EARLIEST or _LATEST).  The
 * partitions this member owns are read from where the group left off, and
 * change the moment a member joins or leaves; mqdev_consumer_wait() follows.
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

/* Commit from mqdev_consumer_wait() every @interval_ms; 0: only by hand. */
void mqdev_consumer_set_auto_commit(struct mqdev_consumer *consumer,
				    unsigned int interval_ms);

uint32_t mqdev_consumer_generation(const struct mqdev_consumer *consumer);
bool mqdev_consumer_owns(const struct mqdev_consumer *consumer,
			 uint32_t partition);

/* ---- the control channel: generic netlink, through libmnl ------------------ */

struct mqdev_nl;

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
	uint64_t	end;		/* next offset to be written */
	uint64_t	lag;		/* end - position */
};

struct mqdev_group_info {
	char				group[MQDEV_NAME_SIZE];
	char				topic[MQDEV_NAME_SIZE];
	uint32_t			generation;
	uint32_t			members;
	uint32_t			nr_members;
	struct mqdev_member_info	*member;
	uint32_t			nr_parts;
	struct mqdev_group_partition	*part;
};

typedef int (*mqdev_group_fn)(void *ctx, const struct mqdev_group_info *info);

struct mqdev_event {
	uint8_t		cmd;		/* MQDEV_CMD_EVENT_* */
	char		group[MQDEV_NAME_SIZE];
	char		topic[MQDEV_NAME_SIZE];
	uint32_t	generation;
	uint32_t	members;
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

/* Delete a group with no members, of @topic or (NULL) of every topic. */
int mqdev_group_delete(struct mqdev_nl *nl, const char *group,
		       const char *topic);

/* Receive rebalances and topics coming and going, as they happen. */
int mqdev_nl_subscribe(struct mqdev_nl *nl);
/* Wait up to @timeout_ms for an event: 1, or 0 on time-out, or -errno. */
int mqdev_nl_event(struct mqdev_nl *nl, struct mqdev_event *event,
		   int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* _MQDEV_LIB_H */
