/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * mqdev: Kafka-style message queues behind /dev/mq.
 *
 * A topic has 1..MQDEV_MAX_PARTITIONS partitions; each partition is an
 * append-only log kept in a ring of kernel pages.  Producers append batches
 * with MQDEV_IOC_PRODUCE and get every record's partition and offset back,
 * or lay out a batch of records for one partition themselves and append it
 * whole with MQDEV_IOC_PRODUCE_BATCH, getting its first offset back.
 * Consumers map a partition's ring read-only and walk its records in place,
 * or copy them out with read(2).
 *
 * Every ioctl argument is a struct whose size is part of the command number.
 * The kernel accepts older (smaller) and newer (larger) structs the way
 * copy_struct_from_user() does: missing fields read as zero, extra fields must
 * be zero (E2BIG otherwise), and only as much as the caller's struct holds is
 * written back.  Older means back to the struct's first version: a size
 * below that (MQDEV_*_SIZE_VER0, or the struct's size where none is defined)
 * is refused with EINVAL.  Reserved fields and unknown flags are rejected
 * with EINVAL, unknown commands with ENOTTY.  MQDEV_IOC_VERSION says which
 * features this kernel has (MQDEV_FEAT_*), so that a library need not probe.
 *
 * Arrays passed by pointer carry their element size, which may likewise be
 * an older or a newer element's, at most a page.  For the sizes that were a
 * reserved field before they had a meaning (name_size, start_size,
 * seq_size), 0 means the first version's.
 */
#ifndef _UAPI_LINUX_MQDEV_H
#define _UAPI_LINUX_MQDEV_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#define MQDEV_DEVICE		"/dev/mq"

#define MQDEV_NAME_MAX		64	/* characters in a topic name */
#define MQDEV_NAME_SIZE		72	/* NUL-terminated, zero-padded */
#define MQDEV_MAX_PARTITIONS	256
#define MQDEV_MAX_KEY		4096
/*
 * A keyed message that names no partition goes to partition
 * FNV-1a-32(key bytes) % partitions: a key maps to the same partition on
 * every kernel (libmqdev: mqdev_partition_for_key()).
 */
#define MQDEV_PARTITION_ANY	0xffffffffU
#define MQDEV_PARTITION_ALL	0xffffffffU

/* struct mqdev_topic_create.flags */
#define MQDEV_TOPIC_OVERWRITE	_BITUL(0) /* drop the oldest records when full */
/* replicated (see below); never with OVERWRITE */
#define MQDEV_TOPIC_DURABLE	_BITUL(1)
/*
 * one writer (MQDEV_ATTACH_WRITER) writes its records into the mapped ring
 * itself, with no system call; never with DURABLE.  See below.
 */
#define MQDEV_TOPIC_SINGLE_WRITER _BITUL(2)
#define MQDEV_TOPIC_FLAGS	(MQDEV_TOPIC_OVERWRITE | MQDEV_TOPIC_DURABLE | \
				 MQDEV_TOPIC_SINGLE_WRITER)

/*
 * A durable topic has replicas: privileged handles attached with
 * MQDEV_ATTACH_REPLICA that read its partitions past what consumers may see,
 * make the records safe somewhere (a disk, another host) and confirm, per
 * partition, the offset up to which they are (MQDEV_IOC_REPLICA_CONFIRM).  A
 * partition's high watermark is the lowest offset its in-sync replicas have
 * confirmed; consumers see only the records below it, so none acts on a
 * record a crash could take back.  A replica joins the in-sync set of a
 * partition once it has confirmed every record there (or every one up to a
 * transaction not yet decided, which it may not confirm), and drops out
 * when it has not been so caught up for the module's replica_lag_ms (as
 * Kafka's replica.lag.time.max.ms counts: every record appended before its
 * last confirmation confirmed), when it leaves the groups' changes
 * unconfirmed as long, or when its handle is closed.  While no replica is
 * in sync the high watermark is the end of the log, as a Kafka leader
 * alone in its ISR.  The high watermark never passes a record of an
 * undecided transaction.  A consumer may not seek or commit past it
 * (ERANGE); a replica may seek to the end.
 */

struct mqdev_topic_create {
	char	name[MQDEV_NAME_SIZE];
	__u64	capacity;	/* bytes per partition, a power of two */
	__u32	partitions;
	__u32	flags;		/* MQDEV_TOPIC_* */
	__u32	mode;		/* permission bits, 0 for the default 0644 */
	__u32	min_insync;	/* DURABLE: in sync for ACKS_ALL; 0: 1 */
};

struct mqdev_topic_id {
	char	name[MQDEV_NAME_SIZE];
	__u32	flags;		/* none defined yet */
	__u32	reserved;
};

/* MQDEV_IOC_TOPIC_LIST: names are written as an array of name_size each. */
struct mqdev_topic_list {
	__u64	names;		/* user pointer to char[count][name_size] */
	__u32	count;		/* in: room in names; out: topics that exist */
	__u32	name_size;	/* in: MQDEV_NAME_SIZE (or 0) */
};

struct mqdev_partition_info {
	__u64	first_offset;	/* offset of the oldest record kept */
	__u64	next_offset;	/* offset the next record will get */
	__u64	bytes_used;	/* bytes of ring the kept records occupy */
	__u64	records;	/* next_offset - first_offset */
	__u64	high_watermark;	/* consumers see the records before it */
	__u32	in_sync;	/* replicas in sync, for a durable topic */
	__u32	reserved;
};

/* MQDEV_IOC_TOPIC_DESCRIBE */
struct mqdev_topic_info {
	char	name[MQDEV_NAME_SIZE];		/* in */
	__u64	parts;		/* in: user pointer to mqdev_partition_info[] */
	__u32	parts_count;	/* in: room in parts */
	__u32	part_info_size;	/* in: sizeof(struct mqdev_partition_info) */
	__u64	capacity;	/* out */
	__u32	partitions;	/* out */
	__u32	flags;		/* out: MQDEV_TOPIC_* */
	__u32	mode;		/* out */
	__u32	uid;		/* out */
	__u32	gid;		/* out */
	__u32	max_record;	/* out: largest record, header included */
	__u32	min_insync;	/* out: as created; 0 unless durable */
	__u32	replicas;	/* out: replica handles attached */
	__u64	reserved;
};

/*
 * Layout of a partition's mapping, as MQDEV_IOC_ATTACH reports it.  Userspace
 * must take every position from here rather than hard-coding it, so that the
 * layout can change without breaking binaries (as io_uring and AF_XDP do).
 *
 *   mmap(NULL, ring_size, PROT_READ, MAP_SHARED, fd,
 *        ring_mmap + partition * part_stride);
 *   mmap(NULL, cons_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, cons_mmap);
 */
struct mqdev_ring_offsets {
	__u64	ring_mmap;	/* mmap offset of partition 0's ring */
	__u64	part_stride;	/* mmap offset distance between partitions */
	__u64	ring_size;	/* bytes to map for one ring */
	__u64	cons_mmap;	/* mmap offset of this handle's position page */
	__u64	cons_size;
	__u32	head;		/* ring: __u64 byte position of the next record */
	__u32	tail;		/* ring: __u64 byte position of the oldest record */
	__u32	flags;		/* ring: __u32 MQDEV_RING_* */
	__u32	data;		/* ring: start of the data area */
	__u64	data_size;	/* ring: bytes of data, mapped twice after data */
	__u32	cons_pos;	/* cons: __u64 position of partition 0 */
	__u32	cons_stride;	/* cons: distance between partitions' positions */
	__u64	txn_mmap;	/* mmap offset of the transaction table */
	__u32	txn_size;	/* bytes to map for it */
	__u32	txn_slots;	/* __u32 MQDEV_TXN_* states, one per slot */
	__u32	end;		/* ring: __u64 byte position of the log's end */
	__u32	high_watermark;	/* ring: __u64 offset consumers see up to */
	__u32	ttl;		/* ring: __u64 the topic's TTL (ns), 0: none */
	/* single-writer topics (0 elsewhere): */
	__u32	writer_page;	/* ring: its struct mqdev_writer_page */
	__u64	writer_mmap;	/* mmap offset of partition 0's writer mapping */
	__u32	limit;		/* ring: __u64 position the writer may reach */
	/*
	 * No room is left after this: a later layout grows struct
	 * mqdev_attach (extensible by its size) rather than this one.
	 */
	__u32	reserved0;
};

/*
 * A consumer reads up to head.  On a durable topic head stops at the high
 * watermark, and end, which a replica reads up to, may be ahead of it; for
 * a replica handle, head names the end itself.  Elsewhere the two are one.
 */

/* ring flags word */
#define MQDEV_RING_NEED_WAKEUP	_BITUL(0) /* a producer waits for space */
#define MQDEV_RING_DEAD		_BITUL(1) /* the topic was deleted */
#define MQDEV_RING_READER_WAIT	_BITUL(2) /* a reader sleeps: WRITER_WAKE */

/*
 * A single-writer topic (MQDEV_TOPIC_SINGLE_WRITER; Documentation/mqdev.rst
 * says what a reader may trust of it).  The one handle attached with
 * MQDEV_ATTACH_WRITER maps each partition's data area (twice) and then its
 * writer page read-write:
 *
 *   mmap(NULL, ring_size - data, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
 *        writer_mmap + partition * part_stride);
 *
 * and writes whole records at head, every header field its own (offsets
 * rising by one from next_offset, the producer's flags only, the rest
 * zero).  It publishes them with a release store of head, then, after a
 * full barrier, reads the ring's flags: with MQDEV_RING_READER_WAIT set it
 * calls MQDEV_IOC_WRITER with MQDEV_WRITER_WAKE.  On an overwrite topic it
 * moves tail past whole records itself, storing it (and a release fence)
 * before it reuses their bytes; on a block topic it may write up to the
 * ring's limit, and asks for more with MQDEV_WRITER_ROOM.  For readers,
 * head and tail are those of the writer page: anything, to be checked.
 * The kernel writes the page only when the role changes hands: head and
 * tail as far as its checks of the records held, and next_offset.
 */
struct mqdev_writer_page {
	__u64	head;
	__u64	tail;
	__u64	next_offset;
};

/* struct mqdev_attach.flags */
#define MQDEV_ATTACH_PRODUCE	_BITUL(0)
#define MQDEV_ATTACH_CONSUME	_BITUL(1)
/* with CONSUME, on a durable topic, CAP_SYS_ADMIN: be one of its replicas */
#define MQDEV_ATTACH_REPLICA	_BITUL(2)
/*
 * with PRODUCE: an append returns only when the partition's high watermark
 * has passed it (Kafka's acks=all); see MQDEV_IOC_PRODUCE
 */
#define MQDEV_ATTACH_ACKS_ALL	_BITUL(3)
/*
 * with PRODUCE, on a single-writer topic: be its writer, the only one while
 * this file lives (EBUSY for a second)
 */
#define MQDEV_ATTACH_WRITER	_BITUL(4)
#define MQDEV_ATTACH_FLAGS	(MQDEV_ATTACH_PRODUCE | MQDEV_ATTACH_CONSUME | \
				 MQDEV_ATTACH_REPLICA | MQDEV_ATTACH_ACKS_ALL | \
				 MQDEV_ATTACH_WRITER)

/* MQDEV_IOC_ATTACH: bind the handle to one topic; once per handle. */
struct mqdev_attach {
	char	name[MQDEV_NAME_SIZE];		/* in */
	__u32	flags;				/* in: MQDEV_ATTACH_* */
	__u32	partitions;			/* out */
	__u64	capacity;			/* out */
	__u32	topic_flags;			/* out: MQDEV_TOPIC_* */
	__u32	max_record;			/* out */
	struct mqdev_ring_offsets off;		/* out */
	__u64	reserved[2];
};

/* struct mqdev_attach before struct mqdev_ring_offsets had reserved room */
#define MQDEV_ATTACH_SIZE_VER0	200

/* Where a consumer starts: struct mqdev_seek.whence */
#define MQDEV_SEEK_EARLIEST	0
#define MQDEV_SEEK_LATEST	1
#define MQDEV_SEEK_OFFSET	2
#define MQDEV_SEEK_TIMESTAMP	3	/* first record at or after a time (ns) */

/* struct mqdev_seek.flags */
#define MQDEV_SEEK_HOLD		_BITUL(0) /* under block, keep what we haven't read */
#define MQDEV_SEEK_FLAGS	(MQDEV_SEEK_HOLD)

/*
 * MQDEV_IOC_SEEK: subscribe the handle to a partition (or to all of them) and
 * place its position.  A holding reader's position keeps the records after it
 * from being reclaimed on a topic that blocks when full.
 */
struct mqdev_seek {
	__u32	partition;	/* or MQDEV_PARTITION_ALL */
	__u32	whence;		/* MQDEV_SEEK_* */
	__u64	offset;		/* in: the offset or timestamp; out: where it landed */
	__u32	flags;		/* MQDEV_SEEK_* flags */
	__u32	reserved;
};

/* struct mqdev_msg.status, out */
#define MQDEV_MSG_DUPLICATE	_BITUL(0) /* sequence seen before: not appended */

/* struct mqdev_msg.offset of a duplicate too old to remember */
#define MQDEV_OFFSET_UNKNOWN	(~(__u64)0)

/*
 * One message of a produce batch; the array element size is msg_size, at
 * least MQDEV_MSG_SIZE_VER0.  A handle bound to a producer session
 * (MQDEV_IOC_PRODUCER_BIND) must give every message its sequence number in
 * its partition, and a partition (or a key to hash).  A message whose
 * sequence was already appended is not appended again: it comes back with
 * MQDEV_MSG_DUPLICATE and the offset it got the first time.  A sequence that
 * skips ahead of the next expected one is refused with EBADMSG.
 */
struct mqdev_msg {
	__u64	key;		/* user pointer, or 0 */
	__u64	value;		/* user pointer */
	__u32	key_len;
	__u32	value_len;
	__u32	partition;	/* in: MQDEV_PARTITION_ANY or a number; out */
	__u32	flags;		/* MQDEV_MSG_*: they go to the record */
	__u64	offset;		/* out: the record's offset (the acknowledgment) */
	__u32	sequence;	/* in, for a bound handle */
	__u32	status;		/* out: MQDEV_MSG_* */
};

#define MQDEV_MSG_SIZE_VER0	40	/* without sequence and status */

/* struct mqdev_msg.flags: what the record says of its key and value */
#define MQDEV_MSG_NULL_KEY	MQDEV_RECORD_NULL_KEY
#define MQDEV_MSG_NULL_VALUE	MQDEV_RECORD_NULL_VALUE
#define MQDEV_MSG_HEADERS	MQDEV_RECORD_HEADERS
#define MQDEV_MSG_EXPIRES	MQDEV_RECORD_EXPIRES
#define MQDEV_MSG_FLAGS		MQDEV_RECORD_PRODUCER_FLAGS

/*
 * MQDEV_IOC_PRODUCE returns how many messages were appended, from the first;
 * fewer than count when it was interrupted or would block after some.
 *
 * On a handle attached with MQDEV_ATTACH_ACKS_ALL, to a durable topic, an
 * append is refused with ENOLINK, before anything is appended, while fewer
 * replicas are in sync than the topic's min_insync; after appending, the
 * call sleeps until every partition's high watermark has passed what it
 * appended.  If in the meantime replicas drop out below min_insync, it
 * fails with ENOLINK; on a signal, with EINTR: the records are appended
 * (their offsets are written back) but not known to be safe, and a resend
 * may duplicate them unless the handle is an idempotent producer's.  Records
 * of an open transaction are not waited for: they become safe after the
 * transaction is decided.  With O_NONBLOCK the call does not sleep: the
 * producer learns that its records are safe from the high watermark (the
 * ring's, or MQDEV_IOC_TOPIC_DESCRIBE's).
 */
struct mqdev_produce {
	__u64	msgs;		/* user pointer to the mqdev_msg array */
	__u32	count;		/* at most MQDEV_PRODUCE_MAX_MSGS: EINVAL */
	__u32	msg_size;	/* sizeof(struct mqdev_msg) */
	__u32	flags;		/* none defined yet */
	__u32	reserved;
};

/* The most messages one MQDEV_IOC_PRODUCE takes: the caller splits more. */
#define MQDEV_PRODUCE_MAX_MSGS	4096

/*
 * MQDEV_IOC_PRODUCE_BATCH: a record batch, as Kafka's producers send them.
 * The producer lays the records out in @records exactly as they will stand
 * in the ring: each a struct mqdev_record, its key and its value, starting
 * at an 8-byte aligned place (MQDEV_RECORD_SPACE() apart), @len bytes in
 * all.  It fills in each header's len and key_len, and in flags only the
 * producer's (MQDEV_RECORD_PRODUCER_FLAGS), and leaves the other header
 * fields zero: they are the kernel's to write (partition, offset,
 * timestamp) or reserved.  The kernel copies the batch into the partition's
 * ring in one go, checks every header there, where the producer can no
 * longer change it, and appends the whole batch or nothing: its records get
 * consecutive offsets from @base_offset on.
 *
 * The batch goes to one partition.  MQDEV_PARTITION_ANY picks the next one
 * in round-robin order, and is refused for a batch with keyed records: a
 * key's partition is the producer's to choose (mqdev_partition_for_key()).
 * A handle bound to a producer session numbers every message, and appends
 * with MQDEV_IOC_PRODUCE only.  Returns 0; EMSGSIZE for a batch larger than
 * MQDEV_BATCH_MAX or the ring; EINVAL, with nothing appended, for a batch
 * whose headers do not add up to @len.
 */
struct mqdev_produce_batch {
	__u64	records;	/* user pointer to the laid-out records */
	__u32	len;		/* bytes: their MQDEV_RECORD_SPACE()s added up */
	__u32	partition;	/* in: a number or MQDEV_PARTITION_ANY; out */
	__u32	flags;		/* none defined yet */
	__u32	count;		/* out: records appended */
	__u64	base_offset;	/* out: the first record's offset */
	__u64	reserved[2];
};

#define MQDEV_BATCH_MAX		(1024 * 1024)	/* bytes in one batch */

/*
 * MQDEV_IOC_REPLICA_GROUPS, on a replica handle: every consumer group of the
 * topic, one struct mqdev_group_state each (@state_size apart), with the
 * committed offset of each partition (MQDEV_OFFSET_UNKNOWN where it never
 * committed) in the __u64 array after it, @partitions long.  @serial is the
 * commit serial the snapshot covers: confirm it once the offsets are safe.
 * @count in: room in @states; out: the groups there are (more than room:
 * ask again with enough).
 */
struct mqdev_group_state {
	char	name[MQDEV_NAME_SIZE];
	__u32	uid;		/* its owner, in the caller's user namespace */
	__u32	reserved;
	/* followed by __u64 committed[partitions] */
};

struct mqdev_replica_groups {
	__u64	states;		/* user pointer */
	__u32	count;		/* in: room; out: groups */
	__u32	state_size;	/* in: sizeof(mqdev_group_state) + 8 * partitions */
	__u64	serial;		/* out */
	__u64	reserved[2];
};

/*
 * Restoring a durable topic after the module was loaded again (or the
 * machine restarted), by its disk replica, with CAP_SYS_ADMIN:
 *
 *   MQDEV_IOC_TOPIC_RESTORE makes the topic as it was: its owner, mode,
 *   settings, and each partition's next offset and last timestamp (its ring
 *   starts empty there; what came before is the replica's history).  Until
 *   MQDEV_IOC_TOPIC_OPEN, only replicas may attach (others get EAGAIN).
 *   On a replica handle of it, MQDEV_IOC_GROUP_RESTORE brings back a group
 *   with its owner and committed offsets, and MQDEV_IOC_PRODUCER_RESTORE a
 *   producer's sequence numbers in a partition, so that a resend of what was
 *   appended before the restart is answered as a duplicate.
 *   MQDEV_IOC_IDENTITY_RESTORE, on any handle, brings back a named
 *   producer identity (its id and epoch) in the caller's namespace, and
 *   MQDEV_IOC_IDENTITY_LIST lists them, for the replica to keep.  Producer
 *   ids handed out afterwards are above every restored one.
 */
struct mqdev_part_restore {
	__u64	next_offset;
	__u64	last_timestamp;	/* later appends are stamped after it */
};

struct mqdev_topic_restore {
	struct mqdev_topic_create topic;	/* with MQDEV_TOPIC_DURABLE */
	__u32	uid;		/* its owner, in the caller's user namespace */
	__u32	gid;
	__u64	parts;		/* user pointer to mqdev_part_restore[] */
	__u32	parts_count;	/* topic.partitions */
	__u32	part_size;	/* sizeof(struct mqdev_part_restore) */
	__u64	ttl_ns;		/* its TTL (MQDEV_IOC_TOPIC_CONFIG), 0: none */
	__u64	reserved;
};

struct mqdev_group_restore {
	char	name[MQDEV_NAME_SIZE];
	__u32	uid;
	__u32	count;		/* entries in offsets: the topic's partitions */
	__u64	offsets;	/* user pointer to __u64[count]; UNKNOWN: none */
	__u64	reserved[2];
};

struct mqdev_seq_restore {
	__u32	sequence;
	__u32	reserved;
	__u64	offset;		/* where the record of that sequence went */
};

struct mqdev_producer_restore {
	__u64	producer_id;
	__u32	partition;
	__u32	next_seq;	/* the sequence expected next */
	__u64	entries;	/* user pointer to mqdev_seq_restore[]: */
				/* up to next_seq - 1, MQDEV_SEQ_KEPT at most */
	__u32	count;
	__u32	entry_size;	/* sizeof(struct mqdev_seq_restore) */
	__u32	uid;		/* charged for it */
	__u32	reserved;
	__u64	reserved2[2];
};

/* Sequence numbers per producer and partition whose offsets are kept. */
#define MQDEV_SEQ_KEPT		128

struct mqdev_identity_state {
	char	name[MQDEV_NAME_SIZE];
	__u64	producer_id;	/* 1 to MQDEV_MAX_PRODUCER_ID */
	__u32	epoch;
	__u32	uid;
	__u64	reserved[2];
};

/* Producer ids stay below this (Kafka's are int64 too). */
#define MQDEV_MAX_PRODUCER_ID	((__u64)1 << 62)

/* MQDEV_IOC_IDENTITY_LIST: @count in: room; out: how many there are. */
struct mqdev_identity_list {
	__u64	states;		/* user pointer to mqdev_identity_state[] */
	__u32	count;
	__u32	state_size;	/* sizeof(struct mqdev_identity_state) */
	__u64	reserved[2];
};

/* struct mqdev_replica_confirm.flags */
#define MQDEV_CONFIRM_GROUPS	_BITUL(0) /* @offset is a groups serial */
#define MQDEV_CONFIRM_FLAGS	(MQDEV_CONFIRM_GROUPS)

/*
 * MQDEV_IOC_REPLICA_CONFIRM, on a replica handle: every record of
 * @partition before @offset is safe.  The confirmed offset only rises; it
 * stops before a record of a transaction not yet decided (the replica must
 * not have kept that one undecided), and @offset comes back as where it
 * stopped, with the partition's @high_watermark after the confirmation.
 *
 * With MQDEV_CONFIRM_GROUPS, @partition 0: the consumer groups' offsets as
 * MQDEV_IOC_REPLICA_GROUPS returned them with serial @offset are safe.  A
 * group commit on a durable topic returns once every replica in sync in its
 * partition confirmed a serial at or past its own (one that does not, in
 * replica_lag_ms, drops out of the set), even on a non-blocking handle, as
 * Kafka's commitSync() waits: a committed offset never goes back across a
 * restart.  With none in sync it returns at once.  A replica's handle polls
 * EPOLLPRI while the groups changed past what it confirmed.
 */
struct mqdev_replica_confirm {
	__u32	partition;
	__u32	flags;		/* MQDEV_CONFIRM_* */
	__u64	offset;		/* in: safe up to; out: confirmed up to */
	__u64	high_watermark;	/* out */
	__u64	reserved[2];
};

/*
 * Delayed messages.  MQDEV_IOC_SCHEDULE, on a handle attached to produce,
 * hands the kernel one message to append to its partition at a set time:
 * @at, CLOCK_REALTIME nanoseconds, or with MQDEV_SCHED_RELATIVE a delay in
 * nanoseconds from now.  The message (key and value) is copied and kept by
 * the kernel, charged to the caller's user (max_user_scheduled,
 * max_user_scheduled_bytes), until it is due; then it is appended as a
 * MQDEV_IOC_PRODUCE of it would be, stamped with the time of its append.
 * Messages of a topic are appended in the order of their due times, those
 * due at the same nanosecond in the order they were scheduled.  A time at
 * or before now is due at once (after what is already due); a negative
 * delay, or a negative time, is refused with EINVAL, a due time more than
 * MQDEV_SCHED_MAX_DELAY from now with ERANGE.  The partition is chosen now
 * (named, by key, or in turn) and comes back in @msg.partition; @id names
 * the scheduled message for MQDEV_IOC_SCHED_CANCEL, @due is its due time.
 * Not for a handle bound to a producer session (EINVAL): a sequence number
 * is for an append made now; nor for an acks=all handle (EINVAL): nobody
 * waits for the replicas when it is appended; nor on a single-writer
 * topic (EOPNOTSUPP): its ring is its writer's to write.  @msg.sequence
 * and @msg.status must be zero.  On a durable topic the call waits for a
 * replica in sync to keep the message; EINTR then means made, not known
 * safe, and @id, @due and @msg.partition still come back, so that a retry
 * need not schedule it twice.
 *
 * On a topic that blocks when full and is full at the due time, the append
 * is tried again every MQDEV_SCHED_RETRY_MS, holding back the messages due
 * after it, for MQDEV_SCHED_RETRIES tries; then the message is dropped and
 * counted (@dropped of MQDEV_IOC_SCHED_LIST).  A message that carries an
 * expiry (MQDEV_RECORD_EXPIRES) already past at its due time is dropped and
 * counted (@expired).  Deleting the topic drops what it has scheduled.
 */
#define MQDEV_SCHED_RELATIVE	_BITUL(0) /* @at is a delay from now */
#define MQDEV_SCHED_FLAGS	(MQDEV_SCHED_RELATIVE)

/* The farthest a due time may be from now: 90 days, in nanoseconds. */
#define MQDEV_SCHED_MAX_DELAY	(90ULL * 24 * 3600 * 1000000000ULL)
#define MQDEV_SCHED_RETRY_MS	100
#define MQDEV_SCHED_RETRIES	600

struct mqdev_schedule {
	struct mqdev_msg msg;	/* in: as for MQDEV_IOC_PRODUCE; out: partition */
	__s64	at;		/* in: a time, or a delay: see flags */
	__u32	flags;		/* in: MQDEV_SCHED_* */
	__u32	reserved;
	__u64	id;		/* out: the scheduled message's */
	__u64	due;		/* out: its due time (CLOCK_REALTIME ns) */
	__u64	reserved2[2];
};

/*
 * MQDEV_IOC_SCHED_CANCEL, on a handle attached to produce: drop the
 * scheduled message @id of the topic before it is due, and give back its
 * charge.  Only the user who scheduled it, the topic's owner or
 * CAP_SYS_ADMIN may (EPERM); ENOENT when there is no such message (any
 * more: it may have been appended).
 */
struct mqdev_sched_cancel {
	__u64	id;
	__u32	flags;		/* none defined yet */
	__u32	reserved;
};

/* What MQDEV_IOC_SCHED_LIST says of one scheduled message. */
struct mqdev_sched_info {
	__u64	id;
	__u64	due;		/* CLOCK_REALTIME ns */
	__u32	partition;
	__u32	uid;		/* who scheduled it, in the caller's namespace */
	__u32	key_len;
	__u32	value_len;
	__u32	flags;		/* the record's MQDEV_RECORD_* */
	__u32	reserved;
};

/*
 * MQDEV_IOC_SCHED_LIST, on a handle attached to consume (so with read
 * permission on the topic): its scheduled messages with an id at or past
 * @start, in the order of their ids, at most @count (and at most
 * MQDEV_SCHED_LIST_MAX) into @entries, @entry_size apart.  @count comes
 * back as how many were written, @next as the @start that goes on after
 * them (0: no more), and the topic's totals: messages scheduled now, and
 * since the topic was made, dropped expired and dropped for want of room.
 */
struct mqdev_sched_list {
	__u64	entries;	/* user pointer to mqdev_sched_info[] */
	__u32	count;		/* in: room; out: written */
	__u32	entry_size;	/* sizeof(struct mqdev_sched_info) */
	__u64	start;		/* in: the first id to look at */
	__u64	next;		/* out: where to go on, or 0 */
	__u64	scheduled;	/* out */
	__u64	expired;	/* out */
	__u64	dropped;	/* out */
	__u32	flags;		/* none defined yet */
	__u32	reserved;
};

#define MQDEV_SCHED_LIST_MAX	1024

/*
 * A durable topic's scheduled messages are kept by its disk replica and
 * brought back with the topic (see Documentation/mqdev.rst, "Scheduled
 * messages on durable topics").  Each change to them (a message scheduled,
 * cancelled or appended) counts in the serial that MQDEV_IOC_REPLICA_GROUPS
 * reports and MQDEV_CONFIRM_GROUPS confirms, and raises the replica's
 * EPOLLPRI; while a replica is in sync, MQDEV_IOC_SCHEDULE and
 * MQDEV_IOC_SCHED_CANCEL return once one confirmed the change, as a group
 * commit does.
 *
 * MQDEV_IOC_SCHED_SNAPSHOT, on a replica handle (EBADF otherwise): the
 * messages with an id at or past @start, in the order of their ids, each a
 * struct mqdev_sched_info (its uid in the caller's namespace) followed by
 * its key and value, padded to 8 bytes
 * (MQDEV_SCHED_ENTRY_SPACE()), as many as fit in @size bytes (at most
 * MQDEV_SCHED_SNAPSHOT_MAX, or the space of the largest record the topic
 * takes).  @next comes back as the @start that goes on (0: no more); with
 * @count 0 and @next set, @need is the space the next one needs.  @serial
 * is the serial before the messages were gathered: every change up to it
 * is in what comes back; @changed, the serial of the last change to them
 * (a replica whose copy is at or past it need not take them again).
 * @ends, when set, receives each partition's next
 * offset as it stood while they were gathered (@ends_count: the topic's
 * partitions): a message appended since is at or past it.  With
 * MQDEV_SCHED_SNAPSHOT_HOLD, no message of the topic is appended after
 * this one until a snapshot without it; the replica takes it when it
 * stops, so that what it kept and the log it wrote agree.  The hold is
 * the calling replica's: a call with @size 0 and no HOLD (a probe of the
 * serials) leaves it as it is, another replica's call does not end it,
 * and once its handle is closed it lasts the module's sched_hold_ms more.
 * While held, MQDEV_IOC_SCHEDULE, MQDEV_IOC_SCHED_CANCEL and a TTL set
 * fail with EAGAIN (a change the held snapshot lacks would be lost).
 */
#define MQDEV_SCHED_ENTRY_SPACE(key_len, value_len) \
	(sizeof(struct mqdev_sched_info) + \
	 ((((__u64)(key_len) + (value_len)) + 7) & ~7ULL))
#define MQDEV_SCHED_SNAPSHOT_HOLD	_BITUL(0)
#define MQDEV_SCHED_SNAPSHOT_FLAGS	(MQDEV_SCHED_SNAPSHOT_HOLD)
#define MQDEV_SCHED_SNAPSHOT_MAX	(4U << 20)

struct mqdev_sched_snapshot {
	__u64	buf;		/* user pointer */
	__u32	size;		/* in: bytes of @buf; out: bytes written */
	__u32	flags;		/* MQDEV_SCHED_SNAPSHOT_* */
	__u64	start;		/* in: the first id to look at */
	__u64	next;		/* out: where to go on, or 0 */
	__u64	serial;		/* out */
	__u64	ends;		/* user pointer to __u64[ends_count], or 0 */
	__u32	ends_count;	/* the topic's partitions, when @ends is set */
	__u32	count;		/* out: entries written */
	__u32	need;		/* out: with @count 0, the next one's space */
	__u32	reserved;
	__u64	changed;	/* out: the serial of their last change */
	__u64	reserved2;
};

/*
 * MQDEV_IOC_SCHED_RESTORE, on a replica handle of a topic being restored
 * (EBUSY once open), with CAP_SYS_ADMIN in its user namespace (EPERM):
 * schedule @msg again for @due under its old @id (EEXIST when taken),
 * charged to @uid as when it was scheduled.  @msg.partition is the one
 * chosen then; its flags may include MQDEV_RECORD_RETRY (a retry the
 * kernel scheduled, kept as it was).  A @due in the past is due at once,
 * in order of due time, once the topic is opened.
 */
struct mqdev_sched_restore {
	struct mqdev_msg msg;	/* key, value, lengths, partition, flags */
	__u64	id;		/* 1 to 2^32 - 1 */
	__u64	due;		/* CLOCK_REALTIME ns */
	__u32	uid;		/* in the caller's user namespace */
	__u32	flags;		/* none defined yet */
	__u64	reserved[2];
};

/*
 * MQDEV_IOC_TOPIC_CONFIG, on any handle: a topic's settings.  With
 * MQDEV_CONFIG_TTL its owner (or CAP_SYS_ADMIN) sets @ttl_ns, the topic's
 * time to live: a record whose timestamp is @ttl_ns or more in the past is
 * expired, as one past its own expiry (MQDEV_RECORD_EXPIRES) is, and never
 * delivered; 0 is none, the default.  Mapped readers find it in the ring's
 * control page (struct mqdev_ring_offsets.ttl).  Without flags, anyone who
 * may read the topic reads the settings; either way they come back.
 */
#define MQDEV_CONFIG_TTL	_BITUL(0)
#define MQDEV_CONFIG_FLAGS	(MQDEV_CONFIG_TTL)
#define MQDEV_TTL_MAX		_BITULL(62)	/* ns: EINVAL past it */

struct mqdev_topic_config {
	char	name[MQDEV_NAME_SIZE];
	__u32	flags;		/* in: MQDEV_CONFIG_*, what to set */
	__u32	reserved;
	__u64	ttl_ns;		/* in with MQDEV_CONFIG_TTL; out */
	__u64	reserved2[2];
};

/* MQDEV_IOC_WAKEUP: a holding reader moved on while a producer waited. */
struct mqdev_wakeup {
	__u32	partition;	/* or MQDEV_PARTITION_ALL */
	__u32	reserved;
};

/*
 * MQDEV_IOC_WAIT: sleep until a partition the handle reads has at least
 * @min_bytes of records ready past its position (Kafka's fetch.min.bytes;
 * 0 counts as 1), a group member's assignment changed, or the topic was
 * deleted, for at most @timeout_ns (Kafka's fetch.max.wait.ms; 0 does not
 * sleep, MQDEV_WAIT_FOREVER has no limit).  Unlike poll(2), the wake-up
 * looks at the waiter's own position and watermark before it wakes it, so
 * a consumer waiting for a batch's worth sleeps through smaller appends.
 * Returns 0 with @revents EPOLLIN, EPOLLPRI and EPOLLHUP as poll(2) would
 * report them; ETIMEDOUT when the time ran out first (records may be
 * ready, fewer than asked); EINTR on a signal; EDESTADDRREQ when the handle
 * reads no partition.
 *
 * With MQDEV_WAIT_SEND (MQDEV_FEAT_WAIT_SEND) the call first runs
 * @send_cmd on the handle @send_fd with @send_arg, as ioctl(2) would: a
 * request and the wait for its reply in one system call, as binder's
 * BINDER_WRITE_READ writes and then reads.  @send_cmd is
 * MQDEV_IOC_PRODUCE_BATCH or MQDEV_IOC_WRITER, whose structs say what they
 * did; any other is EINVAL.  A @send_fd that is no /dev/mq handle is
 * EINVAL (EBADF if it is not open); the security modules' ioctl hook sees
 * the send on its handle.  A send that fails returns its error, and nothing
 * was waited for (an acks=all batch may have been appended: its count says
 * so).  Once the send is done the call returns 0, never an error a restart
 * would send again: @revents 0 then says nothing was ready when the wait
 * ended (the time-out, counted from the send, a signal, or no memory to
 * wait with).  Without the flag the three fields are 0 (EINVAL).
 */
struct mqdev_wait {
	__u64	timeout_ns;
	__u32	min_bytes;
	__u32	flags;		/* MQDEV_WAIT_* */
	__u32	revents;	/* out */
	__u32	reserved;
	/* MQDEV_WAIT_SIZE_VER0 ends here */
	__u64	send_arg;	/* MQDEV_WAIT_SEND: user pointer, @send_cmd's */
	__u32	send_cmd;	/* MQDEV_WAIT_SEND: the command */
	__s32	send_fd;	/* MQDEV_WAIT_SEND: a /dev/mq handle */
};

#define MQDEV_WAIT_SIZE_VER0	24	/* without the send */
#define MQDEV_WAIT_FOREVER	(~(__u64)0)

/* struct mqdev_wait.flags */
#define MQDEV_WAIT_SEND		_BITUL(0) /* run @send_cmd first */
#define MQDEV_WAIT_FLAGS	MQDEV_WAIT_SEND

/* struct mqdev_writer.flags */
#define MQDEV_WRITER_WAKE	_BITUL(0) /* wake the partition's readers */
#define MQDEV_WRITER_ROOM	_BITUL(1) /* wait until @need <= the limit */
#define MQDEV_WRITER_FLAGS	(MQDEV_WRITER_WAKE | MQDEV_WRITER_ROOM)

/*
 * MQDEV_IOC_WRITER, on a single-writer topic's writer handle.  WAKE clears
 * MQDEV_RING_READER_WAIT and wakes the partition's sleeping readers.  ROOM
 * recomputes the partition's limit (the slowest holder's position plus the
 * capacity) and, unless @need is within it, sleeps until a holder moves on
 * (EAGAIN with O_NONBLOCK; EINTR on a signal).  @limit comes back.
 */
struct mqdev_writer {
	__u32	partition;
	__u32	flags;		/* MQDEV_WRITER_* */
	__u64	need;		/* ROOM: the position to reach */
	__u64	limit;		/* out */
	__u64	reserved[2];
};

/*
 * A record in a partition's data area.  Records start at 8-byte aligned
 * positions and take MQDEV_RECORD_SPACE(len) bytes; the key follows the
 * header, and the value follows the key.  Offsets rise by one per record.
 * read(2) lays the records it copies out the same way, MQDEV_RECORD_SPACE()
 * apart; the padding bytes between them are unspecified.
 */
struct mqdev_record {
	__u32	len;		/* header + key + value */
	__u16	key_len;
	__u16	partition;	/* the partition the record is in */
	__u64	offset;
	__u64	timestamp;	/* CLOCK_REALTIME nanoseconds at append */
	__u64	producer_id;	/* 0 unless produced through a session */
	__u32	sequence;	/* the producer's, in this partition */
	__u16	flags;		/* MQDEV_RECORD_* */
	__u16	txn;		/* transaction table slot, with _TXN */
};

/*
 * struct mqdev_record.flags.  A record written in a transaction carries
 * MQDEV_RECORD_TXN and its transaction's slot.  Until the transaction is
 * decided, no reader may pass it (the "last stable offset" of Kafka): records
 * after it in the partition wait too.  The decision is one store to the
 * slot's state in the transaction table; afterwards the kernel also marks
 * every record of it COMMITTED or ABORTED, and only then reuses the slot.  So
 * a reader that finds a TXN record unmarked reads the slot's state, then the
 * record's flags again: if they are still unmarked, the state it read is the
 * record's own transaction's (MQDEV_TXN_OPEN: wait).  Aborted records are
 * never to be delivered; read(2) copies them out with ABORTED set so that a
 * reader can account for their sequence numbers.
 */
#define MQDEV_RECORD_TXN	_BITUL(0)
#define MQDEV_RECORD_COMMITTED	_BITUL(1)
#define MQDEV_RECORD_ABORTED	_BITUL(2)

/*
 * The producer's record flags (struct mqdev_msg.flags, or the flags of a
 * record batch's headers; the rest of the flags are the kernel's), for the
 * Kafka record model: a key or a value that is null, distinct from empty
 * (key_len or the value's length is then 0), and headers.  With
 * MQDEV_RECORD_HEADERS the value starts with a header block, all in host
 * byte order and unaligned:
 *
 *   __u32 count;
 *   count times: __u32 key_len; __s32 value_len (-1: null);
 *                key_len bytes of key; value_len bytes of value (if not null)
 *
 * and the value proper follows it (with NULL_VALUE, nothing does).  The
 * kernel stores the block as it stores values, without looking into it:
 * a reader checks it against the record's bounds (libmqdev:
 * mqdev_record_payload(), mqdev_record_header_next()).
 */
#define MQDEV_RECORD_NULL_KEY	_BITUL(3)
#define MQDEV_RECORD_NULL_VALUE	_BITUL(4)
#define MQDEV_RECORD_HEADERS	_BITUL(5)
/*
 * A record's time to live (the topic may have one too: see
 * MQDEV_IOC_TOPIC_CONFIG): with MQDEV_RECORD_EXPIRES the value starts with
 * a __u64 (host byte order, unaligned): the CLOCK_REALTIME nanosecond at
 * which the record expires (0: never); the header block, if any, and the
 * value proper follow it.  An expired record is never delivered: read(2)
 * skips it and counts it, a library reading the ring must skip it by the
 * same test (libmqdev does, and counts it), and a scheduled one past it
 * when due is not appended.  The producer writes the expiry (libmqdev:
 * mqdev_send_opts.ttl_ns); the kernel checks only that it is there.
 */
#define MQDEV_RECORD_EXPIRES	_BITUL(6)
/*
 * A dead letter (see MQDEV_IOC_SHARE_JOIN's struct mqdev_share_dlq): only
 * the kernel sets it, on the records it writes into a dead-letter topic, so
 * a reader (mqctl dlq redrive) can tell them from a record anyone allowed
 * to produce to that topic wrote with the same headers.  A producer, an
 * exchange binding or a scheduled message that sets it gets EINVAL.
 */
#define MQDEV_RECORD_DEAD_LETTER	_BITUL(7)
/*
 * A retry (MQDEV_IOC_GROUP_RECONSUME): only the kernel sets it, on the
 * copy of a record it schedules into a group's retry topic.  Such a record
 * carries the mqdev.dlq.* headers of its first delivery's topic,
 * partition, offset and time, and its delivery count; the kernel reads the
 * count back only from a record with this flag, so a producer's headers of
 * the same names count for nothing.  A producer that sets it gets EINVAL.
 */
#define MQDEV_RECORD_RETRY	_BITUL(8)
#define MQDEV_RECORD_PRODUCER_FLAGS \
	(MQDEV_RECORD_NULL_KEY | MQDEV_RECORD_NULL_VALUE | \
	 MQDEV_RECORD_HEADERS | MQDEV_RECORD_EXPIRES)

/* Transaction table slot states, and struct mqdev_txn.op */
#define MQDEV_TXN_FREE		0
#define MQDEV_TXN_OPEN		1
#define MQDEV_TXN_COMMIT	2
#define MQDEV_TXN_ABORT		3
#define MQDEV_TXN_BEGIN		4	/* op only */
#define MQDEV_TXN_UNKNOWN	5	/* a checker's answer: ask again later */

#define MQDEV_RECORD_ALIGN	8
#define MQDEV_RECORD_SPACE(len) \
	(((len) + MQDEV_RECORD_ALIGN - 1) & ~(__u64)(MQDEV_RECORD_ALIGN - 1))

/*
 * MQDEV_IOC_GROUP_JOIN: make this consuming handle a member of a consumer
 * group of its topic, for as long as the handle lives.  Every group gets
 * every record; the members of one group share the partitions.  The kernel
 * moves partitions between members the moment one joins or its handle is
 * closed, and says so with EPOLLPRI; MQDEV_IOC_GROUP_ASSIGNMENT then tells
 * the member what it owns and where each partition starts.
 */
struct mqdev_group_join {
	char	group[MQDEV_NAME_SIZE];
	__u32	reset;		/* MQDEV_SEEK_EARLIEST or _LATEST, for a new group */
	__u32	flags;		/* none defined yet */
	__u32	member_id;	/* out */
	__u32	generation;	/* out */
	__u64	reserved[2];
};

/* Where an owned partition starts: the group's position in it. */
struct mqdev_group_start {
	__u64	offset;
	__u64	pos;		/* byte position, as in the position page */
};

struct mqdev_group_assignment {
	__u32	generation;	/* out */
	__u32	count;		/* out: partitions owned */
	__u64	owned[MQDEV_MAX_PARTITIONS / 64];	/* out: bitmap */
	__u64	starts;		/* in: user pointer to mqdev_group_start[] */
	__u32	starts_count;	/* in: entries, one per partition of the topic */
	__u32	start_size;	/* in: sizeof(struct mqdev_group_start), or 0 */
};

/*
 * MQDEV_IOC_GROUP_COMMIT: every record of @partition before @offset is done.
 * Refused with ESTALE unless the member owns the partition in @generation.
 */
struct mqdev_group_commit {
	__u32	partition;
	__u32	generation;
	__u64	offset;
	__u32	flags;		/* none defined yet */
	__u32	reserved;
};

/*
 * Share groups.
 * Records of a partition are handed out one by one, or in runs, to any
 * member, each acquired with a lock that expires; the member accepts,
 * releases or rejects them by offset range.  Order is not promised.
 * Documentation/mqdev.rst, "Share groups", has the in-flight window.
 *
 * MQDEV_IOC_SHARE_JOIN makes a consuming handle a member of a share group of
 * its topic for as long as the handle lives; not a member of a consumer
 * group (EBUSY).  The first member makes the group with @lock_ms (0: the
 * default, 30 s; else MQDEV_SHARE_MIN_LOCK_MS to _MAX_LOCK_MS),
 * @max_deliveries (0: 5; at most MQDEV_SHARE_MAX_DELIVERIES) and @reset
 * (MQDEV_SEEK_EARLIEST or _LATEST); later ones get the group's back in them.
 * A later member that passes a @lock_ms, @max_deliveries or @dlq other than
 * the group's gets EEXIST, as for a consumer group's name (Kafka's
 * INCONSISTENT_GROUP_PROTOCOL): 0 for each joins with the group's.
 */
struct mqdev_share_join {
	char	group[MQDEV_NAME_SIZE];
	__u32	reset;		/* in: for a new group; out: the group's */
	__u32	flags;		/* none defined yet */
	__u32	lock_ms;	/* in: for a new group, or 0; out: the group's */
	__u32	max_deliveries;	/* in: for a new group, or 0; out: the group's */
	__u32	member_id;	/* out */
	__u32	window;		/* out: in-flight records a partition, at most */
	__u64	dlq;		/* in: user pointer to mqdev_share_dlq, or 0 */
	__u64	reserved;
};

/*
 * MQDEV_IOC_GROUP_RECONSUME, on a group member's consuming handle: RocketMQ's
 * RECONSUME_LATER.  The member hands back the record at @offset of
 * @partition, which it owns in @generation and has not committed: the
 * kernel copies the record from its own ring (key, value, headers) and
 * schedules the copy into @retry_topic, due after the back-off for its
 * delivery count, with MQDEV_RECORD_RETRY and the mqdev.dlq.* headers of
 * where it came from.  A record that came from a retry topic counts on from
 * its kernel-set count when that retry was this group's (mqdev.dlq.group);
 * another group's starts again at 1.  A record delivered @max_deliveries times already,
 * or one handed back with MQDEV_RECONSUME_DEAD, goes to @dlq instead, as a
 * share group's dead letter (MQDEV_RECORD_DEAD_LETTER), with @error in an
 * mqdev.dlq.error header.  The member then commits past it and goes on.
 *
 * The settings are the caller's, each call, as RocketMQ's consumer sends
 * its max reconsume times with each message it sends back: the caller must
 * be allowed to produce to both topics (checked like an exchange binding),
 * the DLQ may not be the handle's own topic nor a retry's first topic.
 * The back-off is @delay_ms or @backoff_ms (not both: EINVAL, and neither
 * with MQDEV_RECONSUME_DEAD), @error's bytes after its NUL zero.  It is
 * @delay_ms if not 0, else @backoff_ms[deliveries - 1] (the last level
 * past the end), else
 * RocketMQ's retry schedule from 10 s: 10 s 30 s 1 m 2 m ... 10 m 20 m 30 m
 * 1 h 2 h.  The scheduled copy is charged to the caller as a
 * MQDEV_IOC_SCHEDULE is.  The struct grows by size in the command.
 */
#define MQDEV_RECONSUME_DEAD	_BITUL(0)	/* to @dlq now */
#define MQDEV_RECONSUME_FLAGS	MQDEV_RECONSUME_DEAD
#define MQDEV_RECONSUME_DEF_DELIVERIES	17	/* RocketMQ's 16 retries */
#define MQDEV_RECONSUME_ERROR_SIZE	128

/* struct mqdev_reconsume.result */
#define MQDEV_RECONSUME_RETRIED	1	/* scheduled into the retry topic */
#define MQDEV_RECONSUME_DEAD_LETTERED 2	/* written to the DLQ */
#define MQDEV_RECONSUME_DROPPED	3	/* past the max, no DLQ named */

/* A back-off schedule's levels: room for RocketMQ's 18 delay levels. */
#define MQDEV_SHARE_BACKOFF_LEVELS	18

struct mqdev_reconsume {
	__u32	partition;
	__u32	generation;	/* the member owns @partition in it */
	__u64	offset;		/* a record of @partition, not committed */
	__u32	flags;		/* MQDEV_RECONSUME_* */
	__u32	max_deliveries;	/* 0: _DEF_DELIVERIES; <= SHARE_MAX_DELIVERIES */
	char	retry_topic[MQDEV_NAME_SIZE]; /* "" only with _DEAD */
	char	dlq[MQDEV_NAME_SIZE];	/* "": past the max, dropped */
	__u32	delay_ms;	/* 0: the schedule's; <= _SHARE_MAX_BACKOFF_MS */
	__u32	nr_backoff;	/* as struct mqdev_share_dlq's */
	__u32	backoff_ms[MQDEV_SHARE_BACKOFF_LEVELS];
	char	error[MQDEV_RECONSUME_ERROR_SIZE]; /* "", or why */
	__u32	deliveries;	/* out: the copy's delivery count */
	__u32	result;		/* out: MQDEV_RECONSUME_RETRIED ... */
	__u64	due;		/* out: CLOCK_REALTIME ns, for a retry */
	__u64	reserved;
};

/*
 * A new share group's dead-letter topic and retry back-off, given to
 * MQDEV_IOC_SHARE_JOIN in @dlq; a later member's must be the group's
 * (EEXIST if not).  They last as long as the group, members or not:
 * until GROUP_DELETE or the topic's deletion.  @topic ("" for none) gets a
 * dead letter of every record rejected by a member or past the group's
 * max_deliveries (a full one is retried until it has room); the
 * maker must be allowed to produce to it, and it may not be the group's
 * own topic (EINVAL) nor a single writer's (EOPNOTSUPP).  A release without
 * a back-off waits @backoff_ms[count - 1] (the last level past the end)
 * when @nr_backoff is not 0: room for RocketMQ's 18 delay levels, 1 s 5 s
 * 10 s 30 s 1 m 2 m ... 10 m 20 m 30 m 1 h 2 h.  @size is sizeof() the
 * caller's struct (extensible: a larger one must have zeroes past the
 * kernel's, E2BIG if not; a smaller one, from MQDEV_SHARE_DLQ_SIZE_VER0 up,
 * has zeroes added).  Documentation/mqdev.rst, "Dead-letter topics", has
 * what a dead letter carries.
 */

/*
 * struct mqdev_share_dlq.flags: MQDEV_SHARE_DLQ_EXPIRED, with a @topic only
 * (else EINVAL), also dead-letters a record whose expiry (its own or its
 * topic's TTL) passed before a member took it, or before it was delivered
 * again, with reason "expired" (MQDEV_FEAT_SHARE_DLQ_EXPIRED).
 */
#define MQDEV_SHARE_DLQ_EXPIRED	_BITUL(0)
#define MQDEV_SHARE_DLQ_FLAGS	MQDEV_SHARE_DLQ_EXPIRED

struct mqdev_share_dlq {
	__u32	size;		/* sizeof(struct mqdev_share_dlq) */
	char	topic[MQDEV_NAME_SIZE];
	__u32	flags;		/* MQDEV_SHARE_DLQ_* */
	__u32	nr_backoff;	/* levels of @backoff_ms, at most _LEVELS */
	__u32	backoff_ms[MQDEV_SHARE_BACKOFF_LEVELS]; /* each <= _MAX_BACKOFF_MS */
	__u32	pad;		/* zero */
	__u64	reserved;
};

#define MQDEV_SHARE_DLQ_SIZE_VER0	168	/* the first */

/*
 * MQDEV_IOC_SHARE_DLQ_INFO, on a consuming handle: a share group's
 * dead-letter topic, back-off schedule and what became of its dead letters,
 * also for a group with no members left (ENOENT once it is deleted).
 */
struct mqdev_share_dlq_info {
	char	group[MQDEV_NAME_SIZE];	/* in */
	char	topic[MQDEV_NAME_SIZE];	/* out, and the rest: "" for none */
	__u64	written;	/* dead letters in the dead-letter topic */
	__u64	full;		/* found no room (a block topic): retried */
	__u64	gone;		/* not written: the topic was deleted */
	__u64	failed;		/* not written: too big, no memory, lapped */
	__u32	nr_backoff;
	__u32	flags;		/* in: 0; out: MQDEV_SHARE_DLQ_* */
	__u32	backoff_ms[MQDEV_SHARE_BACKOFF_LEVELS];
	__u64	reserved;
};

/* A dead letter's headers, after the record's own (values in decimal) */
#define MQDEV_DLQ_HDR_PREFIX	"mqdev.dlq."
#define MQDEV_DLQ_HDR_TOPIC	"mqdev.dlq.topic"
#define MQDEV_DLQ_HDR_PARTITION	"mqdev.dlq.partition"
#define MQDEV_DLQ_HDR_OFFSET	"mqdev.dlq.offset"
#define MQDEV_DLQ_HDR_COUNT	"mqdev.dlq.deliveries"
#define MQDEV_DLQ_HDR_REASON	"mqdev.dlq.reason"	/* one of these: */
#define MQDEV_DLQ_REJECTED	"rejected"
#define MQDEV_DLQ_MAX_DELIVERIES "max-deliveries"
#define MQDEV_DLQ_EXPIRED	"expired"	/* MQDEV_SHARE_DLQ_EXPIRED */
#define MQDEV_DLQ_HDR_GROUP	"mqdev.dlq.group"
#define MQDEV_DLQ_HDR_TIMESTAMP	"mqdev.dlq.timestamp"	/* the record's */
#define MQDEV_DLQ_HDR_ERROR	"mqdev.dlq.error"	/* the member's, if any */
#define MQDEV_DLQ_RECONSUME	"reconsume-later"	/* a retry's reason */

#define MQDEV_SHARE_MIN_LOCK_MS		10
#define MQDEV_SHARE_MAX_LOCK_MS		3600000		/* an hour */
#define MQDEV_SHARE_MAX_DELIVERIES	1000
#define MQDEV_SHARE_MAX_BACKOFF_MS	86400000	/* a day */
#define MQDEV_SHARE_ACQUIRE_MAX		256

/* One record acquired: its place in the partition's ring mapping. */
struct mqdev_share_record {
	__u64	offset;
	__u64	pos;		/* byte position in the partition's ring */
	__u64	lock_until;	/* CLOCK_MONOTONIC ns, the caller's time namespace */
	__u32	partition;
	__u32	len;		/* the record's, header included */
	__u16	delivery_count;	/* 1 the first time */
	__u16	reserved[3];
};

/*
 * MQDEV_IOC_SHARE_ACQUIRE: take up to @count records (at most
 * MQDEV_SHARE_ACQUIRE_MAX) of @partition, or of the next partition with
 * some (MQDEV_PARTITION_ANY), into @records, @record_size bytes apart (at
 * most a page).  @count comes back as how many were taken (0: none
 * available now, or none came within @timeout_ns), all of one partition,
 * oldest first.  With @timeout_ns (MQDEV_WAIT_FOREVER: no limit), and the
 * file not O_NONBLOCK, a call that finds none sleeps until one may be
 * acquired, as poll(2) on the member's handle would wait for EPOLLIN.
 */
struct mqdev_share_acquire {
	__u64	records;	/* in: user pointer to mqdev_share_record[] */
	__u32	count;		/* in: room; out: taken */
	__u32	record_size;	/* in: sizeof(struct mqdev_share_record), or 0 */
	__u32	partition;	/* in: a number or MQDEV_PARTITION_ANY */
	__u32	flags;		/* none defined yet */
	__u64	timeout_ns;	/* in: how long to wait for one; 0: not at all */
	__u64	reserved;
};

/* struct mqdev_share_ack.type */
#define MQDEV_SHARE_ACCEPT	1	/* done (0 is no type: EINVAL) */
#define MQDEV_SHARE_RELEASE	2	/* deliver again, after @backoff_ms */
#define MQDEV_SHARE_REJECT	3	/* put aside, never delivered again */

/*
 * struct mqdev_share_ack.flags: MQDEV_SHARE_ACK_NOW, with RELEASE and no
 * @backoff_ms only (else EINVAL), makes the records available at once
 * whatever the group's back-off schedule (RabbitMQ's nack requeue=true):
 * with a schedule, a @backoff_ms of 0 means "the schedule's level".
 */
#define MQDEV_SHARE_ACK_NOW	_BITUL(0)
#define MQDEV_SHARE_ACK_FLAGS	MQDEV_SHARE_ACK_NOW

/*
 * MQDEV_IOC_SHARE_ACK: every record of [@first, @last) of @partition, all
 * acquired by this member and still locked (else ESTALE, nothing changed;
 * outside the in-flight window, ERANGE), is accepted, released or rejected.
 */
struct mqdev_share_ack {
	__u64	first;
	__u64	last;		/* past the range's last offset */
	__u32	partition;
	__u32	type;		/* MQDEV_SHARE_* */
	__u32	backoff_ms;	/* RELEASE only, else 0 */
	__u32	flags;		/* MQDEV_SHARE_ACK_* */
	__u64	reserved[2];
};

/*
 * MQDEV_IOC_SHARE_DESCRIBE, on a consuming handle: a share group's window
 * in @partition and the records in it by state.
 */
struct mqdev_share_info {
	char	group[MQDEV_NAME_SIZE];	/* in */
	__u32	partition;	/* in */
	__u32	members;	/* out, and the rest */
	__u64	start;		/* every record before it is done */
	__u64	end;		/* no record from it on was looked at yet */
	__u32	available;
	__u32	acquired;
	__u32	acknowledged;
	__u32	rejected;
	__u32	lock_ms;
	__u32	max_deliveries;
	__u64	lost;		/* records the ring reclaimed before done */
	__u64	rejected_total;	/* records put aside since the group was made */
};

/*
 * MQDEV_IOC_PRODUCER_INIT turns a handle that is not attached to any topic
 * into a producer session.  With a name, the session takes over that stable
 * producer identity: the same producer id, its sequence numbers where they
 * stand, and a new epoch that fences every older session of the name (their
 * appends and transaction calls fail with ESTALE; an open transaction of
 * theirs is handed to the name's checker).  Without a name it gets a fresh
 * producer id of its own.  Only the user that first used a name, or a
 * CAP_SYS_ADMIN one, may use it again.
 */
struct mqdev_producer_init {
	char	name[MQDEV_NAME_SIZE];	/* in: or all zero */
	__u32	flags;			/* none defined yet */
	__u32	txn_timeout_ms;		/* in: 0 for the module's default */
	__u64	producer_id;		/* out */
	__u32	epoch;			/* out */
	__u32	reserved;
	__u64	reserved2[2];
};

/*
 * MQDEV_IOC_PRODUCER_BIND: a producing handle appends as the session
 * @session_fd from now on, and learns the next sequence number of every
 * partition of its topic (a restarted named producer resumes from there).
 */
struct mqdev_producer_bind {
	__s32	session_fd;
	__u32	flags;			/* none defined yet */
	__u64	next_seq;		/* user pointer to __u32[next_seq_count] */
	__u32	next_seq_count;		/* at least the topic's partitions */
	__u32	seq_size;		/* sizeof(__u32), or 0 */
};

/*
 * MQDEV_IOC_TXN on a session: @op is MQDEV_TXN_BEGIN, _COMMIT or _ABORT.
 * Between BEGIN and COMMIT, what the session's bound handles append is
 * invisible to every reader; COMMIT makes all of it visible at one instant,
 * in every partition of every topic; ABORT (or a commit that cannot hold,
 * see below) makes none of it ever visible.  @cookie is the application's
 * (an order number, say): a checker is given it when asked about the
 * transaction.  COMMIT fails with ESTALE, and aborts, when the group offsets
 * sent with the transaction are no longer the sender's to commit; with
 * ERANGE when one of them is past its partition's end; with
 * EOVERFLOW when a topic dropped a record of it first (one that overwrites,
 * or a blocking one whose holding readers had all moved past it); with
 * ETIMEDOUT when the time-out passed and the transaction was decided without
 * the session (then @op says how: MQDEV_TXN_COMMIT or _ABORT, or 0 while
 * its checker is still being asked).  A fenced session's calls fail with
 * ESTALE and @op 0: its transaction is the checker's to decide.
 */
struct mqdev_txn {
	__u32	op;
	__u32	flags;			/* none defined yet */
	__u64	cookie;			/* in at BEGIN */
	__u64	txn_id;			/* out */
	__u64	reserved[2];
};

/*
 * MQDEV_IOC_TXN_OFFSETS: commit a consumer group's offsets with the open
 * transaction (consume-transform-produce, exactly once).  @consumer_fd is a
 * member of the group; each entry is as for MQDEV_IOC_GROUP_COMMIT and is
 * checked now and again at the commit.  One group per transaction.
 */
struct mqdev_txn_offsets {
	__s32	consumer_fd;
	__u32	count;
	__u64	commits;		/* user pointer to mqdev_group_commit[] */
	__u32	commit_size;		/* sizeof(struct mqdev_group_commit) */
	__u32	reserved;
};

/*
 * Exchanges, as AMQP 0-9-1 has them: named objects of a namespace with an
 * owner and mode bits like a topic's.  A producer sends to an exchange with
 * a routing key; the exchange's bindings, each to a topic (and maybe one
 * of its partitions) with a binding key, decide which topics get a copy:
 *
 *   DIRECT  the routing key equals the binding key
 *   FANOUT  every binding, whatever the key
 *   TOPIC   keys are words separated by '.'; in a binding key the word
 *           '*' matches exactly one word and '#' zero or more.  An empty
 *           key has no words; "a..b" has three, the second empty.
 *   HEADERS the routing key is not looked at: each binding holds a set of
 *           header names and values (struct mqdev_exchange_bind.headers)
 *           and matches a message whose record headers (the value's
 *           MQDEV_RECORD_HEADERS block) hold all of them, or any one
 *           (MQDEV_MATCH_ALL, _ANY).  See MQDEV_BIND_HEADERS_MAX.
 *
 * Any exchange may also have a routing program (MQDEV_IOC_EXCHANGE_PROGRAM):
 * a classic BPF program that chooses the bindings itself, or lets the
 * type's rule choose (struct mqdev_prog_ctx).
 *
 * A message goes to each destination (a topic, or a topic's partition)
 * once, however many of its bindings matched; every binding that matched
 * counts it.  One that matches nothing goes to the exchange's alternate
 * topic when it has one, else is refused with EHOSTUNREACH when the
 * producer asked (MQDEV_EXMSG_MANDATORY, AMQP's mandatory), else counted
 * as dropped (MQDEV_IOC_EXCHANGE_DESCRIBE).
 *
 * Permissions: creating is anyone's (charged to the creator); deleting is
 * the owner's or CAP_SYS_ADMIN's; binding needs write permission on the
 * exchange and on the topic, unbinding write permission on the exchange;
 * producing, write permission on the exchange: the binder's permission to
 * write the topic is what the exchange's producers use.  Listing and
 * describing need read permission.
 */
#define MQDEV_EXCHANGE_DIRECT	0
#define MQDEV_EXCHANGE_FANOUT	1
#define MQDEV_EXCHANGE_TOPIC	2
#define MQDEV_EXCHANGE_HEADERS	3
#define MQDEV_EXCHANGE_TYPES	4

/* Bytes in a binding or routing key, as AMQP's short strings. */
#define MQDEV_ROUTING_KEY_MAX	255
#define MQDEV_ROUTING_KEY_SIZE	256	/* NUL-terminated, zero-padded */
/* '#' words a binding key may have (E2BIG past it) */
#define MQDEV_ROUTING_KEY_MAX_HASHES 8
/* binding-key patterns one routing key's match may keep alive (E2BIG) */
#define MQDEV_ROUTING_MAX_LIVE	256

/* MQDEV_IOC_EXCHANGE_CREATE */
struct mqdev_exchange_create {
	char	name[MQDEV_NAME_SIZE];
	char	alternate[MQDEV_NAME_SIZE];	/* a topic, or all zero */
	__u32	type;		/* MQDEV_EXCHANGE_* */
	__u32	flags;		/* none defined yet */
	__u32	mode;		/* permission bits, 0 for the default 0644 */
	__u32	reserved;
};

/*
 * MQDEV_IOC_EXCHANGE_BIND and _UNBIND.  @partition is a partition of the
 * topic, or MQDEV_PARTITION_ANY to place each copy as MQDEV_IOC_PRODUCE
 * would (by the message's key, else round-robin).  Unbinding names the
 * binding by all three: exchange, topic and partition, and key.  A
 * single-writer topic can be neither a binding's topic nor an exchange's
 * alternate (EOPNOTSUPP): only its writer appends to it.
 */
struct mqdev_exchange_bind {
	char	exchange[MQDEV_NAME_SIZE];
	char	topic[MQDEV_NAME_SIZE];	/* or an exchange: MQDEV_BIND_EXCHANGE */
	__u64	key;		/* user pointer to the binding key */
	__u32	key_len;	/* at most MQDEV_ROUTING_KEY_MAX, no NUL */
	__u32	partition;	/* a number or MQDEV_PARTITION_ANY */
	__u32	flags;		/* MQDEV_BIND_* */
	__u32	reserved;
	/* Since MQDEV_BIND_SIZE_VER1: a headers exchange's binding only. */
	__u64	headers;	/* user pointer to a header block, or 0 */
	__u32	headers_len;	/* at most MQDEV_BIND_HEADERS_MAX */
	__u32	match;		/* MQDEV_MATCH_ALL or MQDEV_MATCH_ANY */
};

#define MQDEV_BIND_SIZE_VER0	168	/* without headers */
#define MQDEV_BIND_SIZE_VER1	184

/*
 * A headers exchange's binding: @headers is a header block in the record
 * format (MQDEV_RECORD_HEADERS: __u32 count, then per header __u32
 * key_len, __s32 value_len, the key, the value) of at most
 * MQDEV_BIND_HEADERS_MAX bytes.  A header of the binding with a value
 * (even an empty one) is matched by a message header of the same name and
 * the same value; one with a null value (value_len -1) by a message header
 * of that name, whatever its value.  Names and values are bytes, compared
 * exactly; names starting "x-" are not special (RabbitMQ's all-with-x and
 * any-with-x behaviour).  A message may repeat a name: any of its headers
 * of that name may match.  ALL with no headers matches every message, ANY
 * with none no message.  The message's own block is looked at within the
 * first MQDEV_ROUTE_HEADERS_MAX bytes of its value (where it starts after
 * the expiry of a message with MQDEV_RECORD_EXPIRES, as in the record); a
 * block that is not well formed there gets EINVAL for that message.
 * Unbinding names the headers and match too.
 */
#define MQDEV_MATCH_ALL		0
#define MQDEV_MATCH_ANY		1
#define MQDEV_BIND_HEADERS_MAX	512
#define MQDEV_ROUTE_HEADERS_MAX	4096

/*
 * struct mqdev_exchange_bind.flags.  MQDEV_BIND_EXCHANGE: the destination
 * is the exchange named by @topic (AMQP's exchange-to-exchange binding;
 * write permission on it, @partition MQDEV_PARTITION_ANY): a message routed
 * to it is routed again by its bindings, with the same routing key.  A
 * binding that would close a cycle, or let a message pass through more
 * than MQDEV_EXCHANGE_MAX_DEPTH exchanges (the producer's included), is
 * refused with ELOOP.  A message gets one copy per distinct topic and
 * partition, however many paths lead there.
 */
#define MQDEV_BIND_EXCHANGE	_BITUL(0)
#define MQDEV_BIND_FLAGS	(MQDEV_BIND_EXCHANGE)
#define MQDEV_EXCHANGE_MAX_DEPTH 8

/* One binding as MQDEV_IOC_EXCHANGE_DESCRIBE reports it. */
struct mqdev_binding_info {
	char	topic[MQDEV_NAME_SIZE];
	char	key[MQDEV_ROUTING_KEY_SIZE];
	__u32	key_len;
	__u32	partition;	/* or MQDEV_PARTITION_ANY */
	__u64	routed;		/* messages it matched and that went in */
	__u32	uid;		/* who bound it */
	__u32	flags;		/* MQDEV_BINDING_EXCHANGE */
	__u64	failed;		/* copies it matched that failed */
	/* Since MQDEV_BINDING_INFO_SIZE_VER1 */
	__u32	match;		/* MQDEV_MATCH_*: a headers exchange's */
	__u32	headers_len;	/* the binding's header block */
	__u8	headers[MQDEV_BIND_HEADERS_MAX];
};

#define MQDEV_BINDING_INFO_SIZE_VER0	360

/* struct mqdev_binding_info.flags: @topic names an exchange */
#define MQDEV_BINDING_EXCHANGE	_BITUL(0)

/*
 * MQDEV_IOC_EXCHANGE_DESCRIBE.  @bindings_count in: room; out: the
 * bindings there are (more than room: ask again with enough).
 */
struct mqdev_exchange_info {
	char	name[MQDEV_NAME_SIZE];		/* in */
	__u64	bindings;	/* in: user pointer to mqdev_binding_info[] */
	__u32	bindings_count;	/* in: room; out: bindings */
	__u32	binding_info_size; /* in: sizeof(struct mqdev_binding_info) */
	char	alternate[MQDEV_NAME_SIZE];	/* out: or all zero */
	__u32	type;		/* out */
	__u32	flags;		/* out: none defined yet */
	__u32	mode;		/* out */
	__u32	uid;		/* out */
	__u32	gid;		/* out */
	__u32	producers;	/* out: handles attached */
	__u64	routed;		/* out: messages that went to a binding */
	__u64	alternated;	/* out: unroutable, to the alternate topic */
	__u64	refused;	/* out: unroutable, refused (mandatory) */
	__u64	dropped;	/* out: unroutable, counted and dropped */
	__u64	failed;		/* out: copies that failed (acks' error) */
	__u64	over_budget;	/* out: refused past the routing work budget */
	__u64	prog_out_of_range; /* out: program verdicts past the bindings */
	__u32	prog_len;	/* out: routing program's instructions, or 0 */
	__u32	reserved2;
};

/*
 * MQDEV_IOC_EXCHANGE_PROGRAM: attach a classic BPF routing program to an
 * exchange (replacing any), or detach it (MQDEV_PROG_DETACH, @insns and
 * @len zero).  Needs write permission on the exchange.  @insns points to
 * @len struct sock_filter (<linux/filter.h>), at most MQDEV_PROG_MAX_INSNS.
 * A program the checks refuse gets EINVAL and, when @log_size is not zero,
 * the reason as a NUL-terminated string in @log (cut to fit).
 *
 * The program runs for every message, on a struct mqdev_prog_ctx, before
 * the exchange's own matching.  It reads the context with `ld [k]` only
 * (BPF_LD|BPF_W|BPF_ABS: k a multiple of 4 within the struct) and `ld len`
 * (its size); packet loads of bytes, halfwords or by index are refused.
 * Numbers are host-order words; the byte arrays are read four bytes at a
 * time in network order, as a packet filter reads a packet: `ld [k]` of
 * routing_key gives its byte 0 in bits 31..24.  Bytes past a length are 0.
 * What it returns (A or K) chooses:
 *
 *   0                 no binding: the message is unroutable (alternate,
 *                     mandatory or dropped, as for any exchange)
 *   1 .. 2^30 - 1     the binding of index value - 1 (MQDEV_ROUTE_TO())
 *   2^31 | mask       bit i of mask (0 to 29): the binding of index i
 *                     (MQDEV_ROUTE_MASK())
 *   3 << 30 and up    the exchange's own matching (MQDEV_ROUTE_MATCH)
 *
 * Indices are the bindings' order in MQDEV_IOC_EXCHANGE_DESCRIBE (binding
 * order; an unbind moves the later ones down).  An index at or past the
 * number of bindings is counted (prog_out_of_range) and routes nowhere;
 * a message left with no binding is unroutable.
 */
#define MQDEV_PROG_MAX_INSNS	1024
#define MQDEV_PROG_DETACH	_BITUL(0)
#define MQDEV_PROG_FLAGS	(MQDEV_PROG_DETACH)

struct mqdev_exchange_program {
	char	name[MQDEV_NAME_SIZE];
	__u64	insns;		/* user pointer to struct sock_filter[len] */
	__u32	len;
	__u32	flags;		/* MQDEV_PROG_* */
	__u64	log;		/* user pointer: why a program was refused */
	__u32	log_size;	/* bytes at log, or 0 */
	__u32	reserved;
};

#define MQDEV_ROUTE_KEY_BYTES	64	/* of the record's key in the context */
#define MQDEV_ROUTE_VALUE_BYTES	64	/* of its value */

/*
 * What a routing program reads; see MQDEV_IOC_EXCHANGE_PROGRAM.  @value is
 * the value as sent: an expiry (MQDEV_RECORD_EXPIRES) and a header block
 * come first when @record_flags say so.
 */
struct mqdev_prog_ctx {
	__u32	routing_key_len;
	__u32	key_len;	/* the record key's whole length */
	__u32	value_len;	/* the value's whole length */
	__u32	nr_bindings;	/* the exchange's, as the program runs */
	__u32	record_flags;	/* the message's MQDEV_MSG_FLAGS */
	__u32	reserved[3];	/* 0 */
	__u8	routing_key[MQDEV_ROUTING_KEY_SIZE];
	__u8	key[MQDEV_ROUTE_KEY_BYTES];	/* its first bytes */
	__u8	value[MQDEV_ROUTE_VALUE_BYTES];	/* its first bytes */
};

#define MQDEV_ROUTE_NONE	0U
#define MQDEV_ROUTE_TO(i)	((__u32)(i) + 1)
#define MQDEV_ROUTE_MASK(m)	(0x80000000U | ((__u32)(m) & 0x3fffffffU))
#define MQDEV_ROUTE_MATCH	0xffffffffU

/* MQDEV_IOC_EXCHANGE_ATTACH: make a fresh handle an exchange's producer. */
struct mqdev_exchange_attach {
	char	name[MQDEV_NAME_SIZE];
	__u32	flags;		/* none defined yet */
	__u32	reserved;
};

/* struct mqdev_exchange_msg.flags */
#define MQDEV_EXMSG_MANDATORY	_BITUL(0) /* unroutable: refuse it */
#define MQDEV_EXMSG_FLAGS	(MQDEV_EXMSG_MANDATORY)

/* struct mqdev_exchange_msg.status, out */
#define MQDEV_EXMSG_ALTERNATE	_BITUL(0) /* unroutable: to the alternate */
#define MQDEV_EXMSG_DROPPED	_BITUL(1) /* unroutable: counted, dropped */
#define MQDEV_EXMSG_FAILED	_BITUL(2) /* some copies failed: see their acks */

/*
 * One message of MQDEV_IOC_EXCHANGE_PRODUCE; the element size is msg_size.
 * Its copies' acknowledgements are acks[first_ack] on, nr_acks of them.
 */
struct mqdev_exchange_msg {
	__u64	routing_key;	/* user pointer */
	__u32	routing_key_len; /* at most MQDEV_ROUTING_KEY_MAX */
	__u32	flags;		/* MQDEV_EXMSG_* */
	__u64	key;		/* user pointer, or 0 */
	__u64	value;		/* user pointer */
	__u32	key_len;
	__u32	value_len;
	__u32	record_flags;	/* MQDEV_MSG_FLAGS: they go to the records */
	__u32	status;		/* out: MQDEV_EXMSG_ALTERNATE, _DROPPED */
	__u32	first_ack;	/* out */
	__u32	nr_acks;	/* out: copies appended */
};

/* Where one copy went, or (@error) why it did not. */
struct mqdev_exchange_ack {
	char	topic[MQDEV_NAME_SIZE];
	__u32	partition;	/* or MQDEV_PARTITION_ANY, failed unplaced */
	__u32	error;		/* 0, or the errno this copy failed with */
	__u64	offset;		/* when error is 0 */
};

/*
 * MQDEV_IOC_EXCHANGE_PRODUCE, on a handle attached to an exchange: route
 * and append each message, and say in @acks where every copy went, the
 * messages' in turn.  Returns how many messages were routed, from the
 * first; fewer than count when one failed after others.  A message whose
 * copies do not all fit in the room left in @acks is refused with ENOBUFS
 * before any of its copies is appended.  A copy that fails (a full topic
 * under O_NONBLOCK: EAGAIN; a record too large for it: EMSGSIZE) is
 * skipped and the others go on: its ack carries the errno, the message's
 * status MQDEV_EXMSG_FAILED, and the bindings and the exchange count it.
 * A message none of whose copies went in ends the call with the first
 * copy's errno (its acks still say why each failed).  A routing key whose
 * match keeps more than 256 binding-key patterns alive at once is refused
 * with E2BIG.  EIDRM once the exchange was deleted.  A message whose
 * acknowledgements cannot be written (@acks not mapped writable where its
 * copies' acks would go; one for a message no binding matches) is refused
 * with EFAULT before any of its copies is appended.  As with
 * MQDEV_IOC_PRODUCE, a message appended whose acks or out fields a racing
 * munmap() of the arrays lost counts as routed: the call returns at it.
 */
struct mqdev_exchange_produce {
	__u64	msgs;		/* user pointer to mqdev_exchange_msg[] */
	__u32	count;
	__u32	msg_size;	/* sizeof(struct mqdev_exchange_msg) */
	__u64	acks;		/* user pointer to mqdev_exchange_ack[] */
	__u32	acks_count;	/* room in acks */
	__u32	ack_size;	/* sizeof(struct mqdev_exchange_ack) */
	__u32	flags;		/* none defined yet */
	__u32	reserved;
};

/*
 * The control channel: generic netlink family "mqdev".  A described group
 * can run to tens of KiB: read MQDEV_CMD_GROUP_GET dumps with a 64 KiB buffer.
 *
 * Its commands, attributes, their types and checks, and its multicast group
 * are specified and documented in Documentation/netlink/specs/mqdev.yaml;
 * the lines between the two markers below are generated from it by the
 * kernel's ynl-gen-c.py (make regen, scripts/ynl-regen.sh).
 */
/* YNL-GEN-BEGIN: generated from the spec by make regen; do not edit */
#define MQDEV_GENL_NAME		"mqdev"
#define MQDEV_GENL_VERSION	1

/**
 * enum mqdev_refusal - Why a produce was refused, for the statistics: each a
 *   counter of its partition (or of the topic, before a partition was chosen).
 * @MQDEV_REFUSED_FULL: No room, and the producer may not sleep for it
 *   (EAGAIN).
 * @MQDEV_REFUSED_TOO_BIG: Larger than the topic's max_record or the batch
 *   limit (EMSGSIZE).
 * @MQDEV_REFUSED_INVALID: A bad message, record header or partition (EINVAL,
 *   E2BIG).
 * @MQDEV_REFUSED_FAULT: Its memory was not there (EFAULT).
 * @MQDEV_REFUSED_FENCED: Its producer session was fenced by a newer one
 *   (ESTALE).
 * @MQDEV_REFUSED_SEQUENCE: A sequence number past the next expected (EBADMSG).
 * @MQDEV_REFUSED_TXN: Its transaction was decided, timed out or too big
 *   (ETIMEDOUT, EFBIG).
 * @MQDEV_REFUSED_OTHER: Anything else (ENOMEM, ...); signals and deletion are
 *   not counted.
 */
enum mqdev_refusal {
	MQDEV_REFUSED_FULL,
	MQDEV_REFUSED_TOO_BIG,
	MQDEV_REFUSED_INVALID,
	MQDEV_REFUSED_FAULT,
	MQDEV_REFUSED_FENCED,
	MQDEV_REFUSED_SEQUENCE,
	MQDEV_REFUSED_TXN,
	MQDEV_REFUSED_OTHER,

	/* private: */
	__MQDEV_REFUSED_MAX,
	MQDEV_REFUSED_MAX = (__MQDEV_REFUSED_MAX - 1)
};

/**
 * enum mqdev_charge_kind - What the module counts against its limits
 *   (Documentation/mqdev.rst).
 * @MQDEV_CHARGE_BYTES: Ring bytes, the ring's pages with their control pages.
 * @MQDEV_CHARGE_PRODUCERS: Producer names.
 * @MQDEV_CHARGE_PRODUCER_STATES: Partitions of producers' sequence tables.
 * @MQDEV_CHARGE_TXNS: Open transactions.
 * @MQDEV_CHARGE_SCHEDULED: Delayed messages the kernel holds until they are
 *   due.
 * @MQDEV_CHARGE_SCHEDULED_BYTES: Their bytes, key, value and bookkeeping.
 * @MQDEV_CHARGE_BINDINGS: Exchange bindings, charged to the user that made
 *   them.
 */
enum mqdev_charge_kind {
	MQDEV_CHARGE_TOPICS,
	MQDEV_CHARGE_PARTITIONS,
	MQDEV_CHARGE_BYTES,
	MQDEV_CHARGE_GROUPS,
	MQDEV_CHARGE_PRODUCERS,
	MQDEV_CHARGE_PRODUCER_STATES,
	MQDEV_CHARGE_TXNS,
	MQDEV_CHARGE_SCHEDULED,
	MQDEV_CHARGE_SCHEDULED_BYTES,
	MQDEV_CHARGE_EXCHANGES,
	MQDEV_CHARGE_BINDINGS,

	/* private: */
	__MQDEV_CHARGE_MAX,
	MQDEV_CHARGE_MAX = (__MQDEV_CHARGE_MAX - 1)
};

/**
 * enum mqdev_group_type - The kind of a group, as group-get reports it.
 * @MQDEV_GROUP_TYPE_CONSUMER: A consumer group, its partitions divided among
 *   its members.
 * @MQDEV_GROUP_TYPE_SHARE: A share group: any member acquires any record, each
 *   under a lock (MQDEV_IOC_SHARE_JOIN). Described with
 *   MQDEV_IOC_SHARE_DESCRIBE.
 */
enum mqdev_group_type {
	MQDEV_GROUP_TYPE_CONSUMER,
	MQDEV_GROUP_TYPE_SHARE,
};

enum {
	MQDEV_A_UNSPEC,
	MQDEV_A_PAD,
	MQDEV_A_GROUP,
	MQDEV_A_TOPIC,
	MQDEV_A_PARTITION,
	MQDEV_A_OFFSET,
	MQDEV_A_GENERATION,
	MQDEV_A_RESET,
	MQDEV_A_TIMESTAMP,
	MQDEV_A_FORCE,
	MQDEV_A_MEMBERS,
	MQDEV_A_MEMBER,
	MQDEV_A_PART,
	MQDEV_A_PRODUCER,
	MQDEV_A_PRODUCER_ID,
	MQDEV_A_TXN,
	MQDEV_A_COOKIE,
	MQDEV_A_DECISION,
	MQDEV_A_PSTATS,
	MQDEV_A_GSTATS,
	MQDEV_A_CHARGE,
	MQDEV_A_GROUP_TYPE,

	__MQDEV_A_MAX
};

#define MQDEV_A_MAX (__MQDEV_A_MAX - 1)

enum {
	MQDEV_MEMBER_A_UNSPEC,
	MQDEV_MEMBER_A_ID,
	MQDEV_MEMBER_A_PID,
	MQDEV_MEMBER_A_COMM,
	MQDEV_MEMBER_A_COUNT,

	__MQDEV_MEMBER_A_MAX
};

#define MQDEV_MEMBER_A_MAX (__MQDEV_MEMBER_A_MAX - 1)

enum {
	MQDEV_PART_A_UNSPEC,
	MQDEV_PART_A_PAD,
	MQDEV_PART_A_INDEX,
	MQDEV_PART_A_COMMITTED,
	MQDEV_PART_A_POSITION,
	MQDEV_PART_A_FIRST,
	MQDEV_PART_A_END,
	MQDEV_PART_A_LAG,
	MQDEV_PART_A_OWNER,

	__MQDEV_PART_A_MAX
};

#define MQDEV_PART_A_MAX (__MQDEV_PART_A_MAX - 1)

enum {
	MQDEV_PSTAT_A_UNSPEC,
	MQDEV_PSTAT_A_PAD,
	MQDEV_PSTAT_A_RECORDS_IN,
	MQDEV_PSTAT_A_BYTES_IN,
	MQDEV_PSTAT_A_RECORDS_OUT,
	MQDEV_PSTAT_A_BYTES_OUT,
	MQDEV_PSTAT_A_DROPS,
	MQDEV_PSTAT_A_WAITS,
	MQDEV_PSTAT_A_WAIT_NS,
	MQDEV_PSTAT_A_READER_WAKEUPS,
	MQDEV_PSTAT_A_PRODUCER_WAKEUPS,
	MQDEV_PSTAT_A_REFUSAL,
	MQDEV_PSTAT_A_KEPT_RECORDS,
	MQDEV_PSTAT_A_KEPT_BYTES,

	__MQDEV_PSTAT_A_MAX
};

#define MQDEV_PSTAT_A_MAX (__MQDEV_PSTAT_A_MAX - 1)

enum {
	MQDEV_REFUSAL_A_UNSPEC,
	MQDEV_REFUSAL_A_PAD,
	MQDEV_REFUSAL_A_REASON,
	MQDEV_REFUSAL_A_COUNT,

	__MQDEV_REFUSAL_A_MAX
};

#define MQDEV_REFUSAL_A_MAX (__MQDEV_REFUSAL_A_MAX - 1)

enum {
	MQDEV_GSTAT_A_UNSPEC,
	MQDEV_GSTAT_A_PAD,
	MQDEV_GSTAT_A_COMMITS,
	MQDEV_GSTAT_A_REBALANCES,
	MQDEV_GSTAT_A_MEMBERS,
	MQDEV_GSTAT_A_LAG,
	MQDEV_GSTAT_A_PART,

	__MQDEV_GSTAT_A_MAX
};

#define MQDEV_GSTAT_A_MAX (__MQDEV_GSTAT_A_MAX - 1)

enum {
	MQDEV_CHARGE_A_UNSPEC,
	MQDEV_CHARGE_A_PAD,
	MQDEV_CHARGE_A_KIND,
	MQDEV_CHARGE_A_USED,
	MQDEV_CHARGE_A_LIMIT,
	MQDEV_CHARGE_A_USER_USED,
	MQDEV_CHARGE_A_USER_LIMIT,

	__MQDEV_CHARGE_A_MAX
};

#define MQDEV_CHARGE_A_MAX (__MQDEV_CHARGE_A_MAX - 1)

enum {
	MQDEV_CMD_UNSPEC,
	MQDEV_CMD_GROUP_GET,
	MQDEV_CMD_GROUP_COMMIT,
	MQDEV_CMD_GROUP_RESET,
	MQDEV_CMD_GROUP_DELETE,
	MQDEV_CMD_EVENT_REBALANCE,
	MQDEV_CMD_EVENT_TOPIC_NEW,
	MQDEV_CMD_EVENT_TOPIC_DEL,
	MQDEV_CMD_CHECKER_REGISTER,
	MQDEV_CMD_TXN_CHECK,
	MQDEV_CMD_TXN_RESOLVE,
	MQDEV_CMD_STATS_GET,
	MQDEV_CMD_MODULE_STATS_GET,

	__MQDEV_CMD_MAX
};

#define MQDEV_CMD_MAX (__MQDEV_CMD_MAX - 1)

#define MQDEV_GENL_MCGRP_EVENTS	"events"
/* YNL-GEN-END */

/*
 * MQDEV_IOC_VERSION, on any handle: what this kernel's mqdev is and can do.
 * A feature's bit is set when its ioctl or behaviour is there.  @flags and
 * @reserved go in, and must be zero.
 */
struct mqdev_version {
	__u32	api;		/* MQDEV_API_VERSION of the kernel */
	__u32	flags;		/* none defined yet */
	__u64	features;	/* out: MQDEV_FEAT_* */
	__u64	reserved[2];
};

#define MQDEV_API_VERSION	1

#define MQDEV_FEAT_RECORD_BATCH	_BITULL(0) /* MQDEV_IOC_PRODUCE_BATCH */
#define MQDEV_FEAT_WAIT		_BITULL(1) /* MQDEV_IOC_WAIT */
#define MQDEV_FEAT_GROUPS	_BITULL(2) /* consumer groups */
#define MQDEV_FEAT_TXN		_BITULL(3) /* sessions and transactions */
#define MQDEV_FEAT_GROUP_EVICT	_BITULL(4) /* GROUP_DELETE with FORCE */
#define MQDEV_FEAT_TXN_PER_NET	_BITULL(5) /* a state page per namespace */
#define MQDEV_FEAT_DURABLE	_BITULL(6) /* durable topics, replicas, acks */
#define MQDEV_FEAT_RECORD_FLAGS	_BITULL(7) /* null key/value, headers */
#define MQDEV_FEAT_EXCHANGES	_BITULL(8) /* exchanges, bindings, routing */
#define MQDEV_FEAT_ROUTE_PROGRAMS _BITULL(9) /* headers exchanges, programs */
#define MQDEV_FEAT_SCHEDULE	_BITULL(10) /* delayed messages, expiry */
#define MQDEV_FEAT_SINGLE_WRITER _BITULL(11) /* single-writer topics */
#define MQDEV_FEAT_SHARE_GROUPS	_BITULL(12) /* share groups */
#define MQDEV_FEAT_RECONSUME	_BITULL(13) /* MQDEV_IOC_GROUP_RECONSUME */
#define MQDEV_FEAT_SHARE_DLQ_EXPIRED _BITULL(14) /* MQDEV_SHARE_DLQ_EXPIRED */
#define MQDEV_FEAT_WAIT_SEND	_BITULL(15) /* MQDEV_WAIT_SEND */

#define MQDEV_IOC_MAGIC		0xB9

#define MQDEV_IOC_VERSION	_IOWR(MQDEV_IOC_MAGIC, 0x00, struct mqdev_version)
#define MQDEV_IOC_TOPIC_CREATE	 _IOW(MQDEV_IOC_MAGIC, 0x01, struct mqdev_topic_create)
#define MQDEV_IOC_TOPIC_DELETE	 _IOW(MQDEV_IOC_MAGIC, 0x02, struct mqdev_topic_id)
#define MQDEV_IOC_TOPIC_LIST	_IOWR(MQDEV_IOC_MAGIC, 0x03, struct mqdev_topic_list)
#define MQDEV_IOC_TOPIC_DESCRIBE _IOWR(MQDEV_IOC_MAGIC, 0x04, struct mqdev_topic_info)
#define MQDEV_IOC_ATTACH	_IOWR(MQDEV_IOC_MAGIC, 0x10, struct mqdev_attach)
#define MQDEV_IOC_PRODUCE	 _IOW(MQDEV_IOC_MAGIC, 0x11, struct mqdev_produce)
#define MQDEV_IOC_SEEK		_IOWR(MQDEV_IOC_MAGIC, 0x12, struct mqdev_seek)
#define MQDEV_IOC_WAKEUP	 _IOW(MQDEV_IOC_MAGIC, 0x13, struct mqdev_wakeup)
#define MQDEV_IOC_PRODUCE_BATCH _IOWR(MQDEV_IOC_MAGIC, 0x14, struct mqdev_produce_batch)
#define MQDEV_IOC_WAIT		_IOWR(MQDEV_IOC_MAGIC, 0x15, struct mqdev_wait)
#define MQDEV_IOC_REPLICA_CONFIRM _IOWR(MQDEV_IOC_MAGIC, 0x16, struct mqdev_replica_confirm)
#define MQDEV_IOC_REPLICA_GROUPS _IOWR(MQDEV_IOC_MAGIC, 0x17, struct mqdev_replica_groups)
#define MQDEV_IOC_WRITER	_IOWR(MQDEV_IOC_MAGIC, 0x18, struct mqdev_writer)
#define MQDEV_IOC_TOPIC_RESTORE	 _IOW(MQDEV_IOC_MAGIC, 0x05, struct mqdev_topic_restore)
#define MQDEV_IOC_TOPIC_OPEN	 _IOW(MQDEV_IOC_MAGIC, 0x06, struct mqdev_topic_id)
#define MQDEV_IOC_GROUP_RESTORE	 _IOW(MQDEV_IOC_MAGIC, 0x23, struct mqdev_group_restore)
#define MQDEV_IOC_PRODUCER_RESTORE _IOW(MQDEV_IOC_MAGIC, 0x34, struct mqdev_producer_restore)
#define MQDEV_IOC_IDENTITY_RESTORE _IOW(MQDEV_IOC_MAGIC, 0x35, struct mqdev_identity_state)
#define MQDEV_IOC_IDENTITY_LIST	_IOWR(MQDEV_IOC_MAGIC, 0x36, struct mqdev_identity_list)
#define MQDEV_IOC_GROUP_JOIN	_IOWR(MQDEV_IOC_MAGIC, 0x20, struct mqdev_group_join)
#define MQDEV_IOC_GROUP_ASSIGNMENT _IOWR(MQDEV_IOC_MAGIC, 0x21, struct mqdev_group_assignment)
#define MQDEV_IOC_GROUP_COMMIT	 _IOW(MQDEV_IOC_MAGIC, 0x22, struct mqdev_group_commit)
#define MQDEV_IOC_GROUP_RECONSUME _IOWR(MQDEV_IOC_MAGIC, 0x24, struct mqdev_reconsume)
#define MQDEV_IOC_PRODUCER_INIT	_IOWR(MQDEV_IOC_MAGIC, 0x30, struct mqdev_producer_init)
#define MQDEV_IOC_PRODUCER_BIND	 _IOW(MQDEV_IOC_MAGIC, 0x31, struct mqdev_producer_bind)
#define MQDEV_IOC_TXN		_IOWR(MQDEV_IOC_MAGIC, 0x32, struct mqdev_txn)
#define MQDEV_IOC_TXN_OFFSETS	 _IOW(MQDEV_IOC_MAGIC, 0x33, struct mqdev_txn_offsets)
#define MQDEV_IOC_EXCHANGE_CREATE _IOW(MQDEV_IOC_MAGIC, 0x40, struct mqdev_exchange_create)
#define MQDEV_IOC_EXCHANGE_DELETE _IOW(MQDEV_IOC_MAGIC, 0x41, struct mqdev_topic_id)
#define MQDEV_IOC_EXCHANGE_LIST	_IOWR(MQDEV_IOC_MAGIC, 0x42, struct mqdev_topic_list)
#define MQDEV_IOC_EXCHANGE_DESCRIBE _IOWR(MQDEV_IOC_MAGIC, 0x43, struct mqdev_exchange_info)
#define MQDEV_IOC_EXCHANGE_BIND	 _IOW(MQDEV_IOC_MAGIC, 0x44, struct mqdev_exchange_bind)
#define MQDEV_IOC_EXCHANGE_UNBIND _IOW(MQDEV_IOC_MAGIC, 0x45, struct mqdev_exchange_bind)
#define MQDEV_IOC_EXCHANGE_ATTACH _IOW(MQDEV_IOC_MAGIC, 0x46, struct mqdev_exchange_attach)
#define MQDEV_IOC_EXCHANGE_PRODUCE _IOW(MQDEV_IOC_MAGIC, 0x47, struct mqdev_exchange_produce)
#define MQDEV_IOC_EXCHANGE_PROGRAM _IOW(MQDEV_IOC_MAGIC, 0x48, struct mqdev_exchange_program)
#define MQDEV_IOC_SCHEDULE	_IOWR(MQDEV_IOC_MAGIC, 0x50, struct mqdev_schedule)
#define MQDEV_IOC_SCHED_CANCEL	 _IOW(MQDEV_IOC_MAGIC, 0x51, struct mqdev_sched_cancel)
#define MQDEV_IOC_SCHED_LIST	_IOWR(MQDEV_IOC_MAGIC, 0x52, struct mqdev_sched_list)
#define MQDEV_IOC_SCHED_SNAPSHOT _IOWR(MQDEV_IOC_MAGIC, 0x53, struct mqdev_sched_snapshot)
#define MQDEV_IOC_SCHED_RESTORE	 _IOW(MQDEV_IOC_MAGIC, 0x54, struct mqdev_sched_restore)
#define MQDEV_IOC_TOPIC_CONFIG	_IOWR(MQDEV_IOC_MAGIC, 0x07, struct mqdev_topic_config)
/* share groups */
#define MQDEV_IOC_SHARE_JOIN	_IOWR(MQDEV_IOC_MAGIC, 0x60, struct mqdev_share_join)
#define MQDEV_IOC_SHARE_ACQUIRE	_IOWR(MQDEV_IOC_MAGIC, 0x61, struct mqdev_share_acquire)
#define MQDEV_IOC_SHARE_ACK	 _IOW(MQDEV_IOC_MAGIC, 0x62, struct mqdev_share_ack)
#define MQDEV_IOC_SHARE_DESCRIBE _IOWR(MQDEV_IOC_MAGIC, 0x63, struct mqdev_share_info)
#define MQDEV_IOC_SHARE_DLQ_INFO _IOWR(MQDEV_IOC_MAGIC, 0x64, struct mqdev_share_dlq_info)

#endif /* _UAPI_LINUX_MQDEV_H */
