/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mqdev's tracepoints: what an operator asks of a running queue (who
 * appended what where, who was refused and why, who waited and how long,
 * which records an overwrite lapped, how groups rebalance and commit, how
 * transactions were decided and by whom), filtered by topic, partition,
 * group, producer or transaction.
 *
 * Each hook is one trace_mqdev_*() call, which is a static branch while the
 * event is off: the arguments are the objects at hand, and the fields are
 * taken from them only in TP_fast_assign, when the event is on.  Names are
 * fixed arrays of MQDEV_NAME_SIZE, which read the same on every kernel
 * version (__string()/__assign_str() changed theirs in 6.10).
 *
 * dev.c defines CREATE_TRACE_POINTS; kmod/Kbuild gives it -I$(src), where
 * TRACE_INCLUDE_PATH finds this file again.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM mqdev

#if !defined(_MQDEV_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _MQDEV_TRACE_H

#include <linux/errno.h>
#include <linux/poll.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/tracepoint.h>
#include "mqdev.h"

/* mqdev_refuse's op: what was refused */
#define MQDEV_TRACE_PRODUCE	1	/* one message of MQDEV_IOC_PRODUCE */
#define MQDEV_TRACE_BATCH	2	/* MQDEV_IOC_PRODUCE_BATCH */
#define MQDEV_TRACE_ATTACH	3	/* MQDEV_IOC_ATTACH */

/* mqdev_txn_decide's by: who decided */
#define MQDEV_TRACE_BY_PRODUCER	1	/* its session, MQDEV_IOC_TXN */
#define MQDEV_TRACE_BY_CHECKER	2	/* the checker's answer */
#define MQDEV_TRACE_BY_TIMEOUT	3	/* no checker, or no decisive answer */
#define MQDEV_TRACE_BY_NET_EXIT	4	/* its namespace went away */

/*
 * A name the module keeps (a topic's, a group's, a producer's): zero-padded
 * to MQDEV_NAME_SIZE, so copied whole, which costs an append's event less
 * than a strscpy() would.  A name passed as a pointer is a string.
 */
#define mqdev_trace_name(dst, src)					\
	do {								\
		BUILD_BUG_ON(sizeof(src) != MQDEV_NAME_SIZE);		\
		memcpy(dst, src, MQDEV_NAME_SIZE);			\
	} while (0)
#define mqdev_trace_str(dst, src)	strscpy(dst, src, MQDEV_NAME_SIZE)

/*
 * The fields most events begin with, as sunrpc's trace headers share
 * theirs: the partition's (its topic and index), the group's (its topic
 * and name), the transaction's (its producer, producer id and id).
 */
#define MQDEV_PART_FIELDS						\
	__array(char,	topic, MQDEV_NAME_SIZE)				\
	__field(u32,	partition)
#define MQDEV_PART_ASSIGN(part)						\
	do {								\
		mqdev_trace_name(__entry->topic, (part)->topic->name);	\
		__entry->partition = (part)->index;			\
	} while (0)
#define MQDEV_PART_FMT		"topic=%s partition=%u"
#define MQDEV_PART_ARGS		__entry->topic, __entry->partition

#define MQDEV_GROUP_FIELDS						\
	__array(char,	topic, MQDEV_NAME_SIZE)				\
	__array(char,	group, MQDEV_NAME_SIZE)
#define MQDEV_GROUP_ASSIGN(g)						\
	do {								\
		mqdev_trace_name(__entry->topic, (g)->topic->name);	\
		mqdev_trace_name(__entry->group, (g)->name);		\
	} while (0)
#define MQDEV_GROUP_FMT		"topic=%s group=%s"
#define MQDEV_GROUP_ARGS	__entry->topic, __entry->group

#define MQDEV_TXN_FIELDS						\
	__array(char,	producer, MQDEV_NAME_SIZE)			\
	__field(u64,	producer_id)					\
	__field(u64,	txn_id)
#define MQDEV_TXN_ASSIGN(ident, txn)					\
	do {								\
		mqdev_trace_name(__entry->producer, (ident)->name);	\
		__entry->producer_id = (ident)->id;			\
		__entry->txn_id = (txn);				\
	} while (0)
#define MQDEV_TXN_FMT		"producer=%s producer_id=%llu txn_id=%llu"
#define MQDEV_TXN_ARGS		__entry->producer, __entry->producer_id, \
				__entry->txn_id

/* An errno (positive) as the reason an operator reads. */
#define mqdev_trace_reason(errno)					\
	__print_symbolic(errno,						\
			 { EAGAIN,	"full" },			\
			 { EMSGSIZE,	"too_big" },			\
			 { EBADMSG,	"bad_sequence" },		\
			 { ESTALE,	"fenced" },			\
			 { EACCES,	"permission" },			\
			 { EPERM,	"permission" },			\
			 { ENOENT,	"no_topic" },			\
			 { EIDRM,	"deleted" },			\
			 { ETIMEDOUT,	"txn_closed" },			\
			 { EFBIG,	"txn_too_big" },		\
			 { EINVAL,	"invalid" },			\
			 { EFAULT,	"fault" },			\
			 { ENOMEM,	"no_memory" },			\
			 { EINTR,	"signal" },			\
			 { ERESTARTSYS,	"signal" })

#define mqdev_trace_decision(d)						\
	__print_symbolic(d, { 0, "none" },				\
			 { MQDEV_TXN_COMMIT, "commit" },		\
			 { MQDEV_TXN_ABORT, "abort" },			\
			 { MQDEV_TXN_UNKNOWN, "unknown" })

/* One message appended: the record is in the ring, not yet published. */
TRACE_EVENT(mqdev_append,
	TP_PROTO(const struct mqdev_part *part, const struct mqdev_record *rec),
	TP_ARGS(part, rec),
	TP_STRUCT__entry(
		MQDEV_PART_FIELDS
		__field(u64,	offset)
		__field(u32,	len)
		__field(u32,	key_len)
		__field(u64,	producer_id)
		__field(u32,	sequence)
		__field(bool,	txn)
	),
	TP_fast_assign(
		MQDEV_PART_ASSIGN(part);
		__entry->offset = rec->offset;
		__entry->len = rec->len;
		__entry->key_len = rec->key_len;
		__entry->producer_id = rec->producer_id;
		__entry->sequence = rec->sequence;
		__entry->txn = rec->flags & MQDEV_RECORD_TXN;
	),
	TP_printk(MQDEV_PART_FMT " offset=%llu len=%u key_len=%u producer_id=%llu sequence=%u txn=%d",
		  MQDEV_PART_ARGS, __entry->offset,
		  __entry->len, __entry->key_len, __entry->producer_id,
		  __entry->sequence, __entry->txn)
);

/* A record batch appended whole. */
TRACE_EVENT(mqdev_append_batch,
	TP_PROTO(const struct mqdev_part *part, u64 base_offset, u32 count,
		 u32 bytes),
	TP_ARGS(part, base_offset, count, bytes),
	TP_STRUCT__entry(
		MQDEV_PART_FIELDS
		__field(u64,	base_offset)
		__field(u32,	count)
		__field(u32,	bytes)
	),
	TP_fast_assign(
		MQDEV_PART_ASSIGN(part);
		__entry->base_offset = base_offset;
		__entry->count = count;
		__entry->bytes = bytes;
	),
	TP_printk(MQDEV_PART_FMT " base_offset=%llu count=%u bytes=%u",
		  MQDEV_PART_ARGS, __entry->base_offset,
		  __entry->count, __entry->bytes)
);

/*
 * A message, a batch or an attach refused, with its errno (positive, so
 * that perf and trace-cmd, whose print-format parser takes -(x) as
 * unsigned, show the reason too) and the reason it stands for.  The
 * partition is the one asked for (0xffffffff: any).
 */
TRACE_EVENT(mqdev_refuse,
	TP_PROTO(const char *topic, u32 op, u32 partition, u64 bytes, int error),
	TP_ARGS(topic, op, partition, bytes, error),
	TP_STRUCT__entry(
		__array(char,	topic, MQDEV_NAME_SIZE)
		__field(u32,	op)
		__field(u32,	partition)
		__field(u64,	bytes)
		__field(int,	errno)
	),
	TP_fast_assign(
		mqdev_trace_str(__entry->topic, topic);
		__entry->op = op;
		__entry->partition = partition;
		__entry->bytes = bytes;
		__entry->errno = -error;
	),
	TP_printk("topic=%s op=%s partition=%u bytes=%llu errno=%d reason=%s",
		  __entry->topic,
		  __print_symbolic(__entry->op,
				   { MQDEV_TRACE_PRODUCE, "produce" },
				   { MQDEV_TRACE_BATCH, "batch" },
				   { MQDEV_TRACE_ATTACH, "attach" }),
		  __entry->partition, __entry->bytes, __entry->errno,
		  mqdev_trace_reason(__entry->errno))
);

/* A bound producer's retry of a message that landed: acknowledged, not appended. */
TRACE_EVENT(mqdev_duplicate,
	TP_PROTO(const struct mqdev_part *part, u64 producer_id,
		 const struct mqdev_msg *msg),
	TP_ARGS(part, producer_id, msg),
	TP_STRUCT__entry(
		MQDEV_PART_FIELDS
		__field(u64,	producer_id)
		__field(u32,	sequence)
		__field(u64,	offset)
	),
	TP_fast_assign(
		MQDEV_PART_ASSIGN(part);
		__entry->producer_id = producer_id;
		__entry->sequence = msg->sequence;
		__entry->offset = msg->offset;
	),
	TP_printk(MQDEV_PART_FMT " producer_id=%llu sequence=%u offset=%llu",
		  MQDEV_PART_ARGS, __entry->producer_id,
		  __entry->sequence, __entry->offset)
);

/* A producer goes to sleep until a holding reader makes room. */
TRACE_EVENT(mqdev_room_wait,
	TP_PROTO(const struct mqdev_part *part, u64 space),
	TP_ARGS(part, space),
	TP_STRUCT__entry(
		MQDEV_PART_FIELDS
		__field(u64,	space)
		__field(u64,	used)
	),
	TP_fast_assign(
		MQDEV_PART_ASSIGN(part);
		__entry->space = space;
		__entry->used = part->head - part->tail;
	),
	TP_printk(MQDEV_PART_FMT " space=%llu used=%llu",
		  MQDEV_PART_ARGS, __entry->space,
		  __entry->used)
);

/*
 * It woke: room may be back (it looks again), or a signal (error).  @start
 * is ktime_get_ns() before the sleep, or 0 if this event was off then.
 */
TRACE_EVENT(mqdev_room_wait_end,
	TP_PROTO(const struct mqdev_part *part, u64 start, int error),
	TP_ARGS(part, start, error),
	TP_STRUCT__entry(
		MQDEV_PART_FIELDS
		__field(u64,	waited_ns)
		__field(int,	error)
	),
	TP_fast_assign(
		MQDEV_PART_ASSIGN(part);
		__entry->waited_ns = start ? ktime_get_ns() - start : 0;
		__entry->error = error;
	),
	TP_printk(MQDEV_PART_FMT " waited_ns=%llu error=%d",
		  MQDEV_PART_ARGS, __entry->waited_ns,
		  __entry->error)
);

/*
 * A consumer sleeps in MQDEV_IOC_WAIT for @min_bytes in its partitions: it
 * found too little with its entries queued and calls schedule() (a record
 * that lands just then ends a sleep of almost nothing).
 */
TRACE_EVENT(mqdev_read_wait,
	TP_PROTO(const struct mqdev_topic *topic, u32 min_bytes,
		 u64 timeout_ns),
	TP_ARGS(topic, min_bytes, timeout_ns),
	TP_STRUCT__entry(
		__array(char,	topic, MQDEV_NAME_SIZE)
		__field(u32,	min_bytes)
		__field(u64,	timeout_ns)
	),
	TP_fast_assign(
		mqdev_trace_name(__entry->topic, topic->name);
		__entry->min_bytes = min_bytes;
		__entry->timeout_ns = timeout_ns;
	),
	TP_printk("topic=%s min_bytes=%u timeout_ns=%llu", __entry->topic,
		  __entry->min_bytes, __entry->timeout_ns)
);

/* It woke with @revents (as poll(2) says them), or a time-out or signal. */
TRACE_EVENT(mqdev_read_wait_end,
	TP_PROTO(const struct mqdev_topic *topic, u64 start, __poll_t mask,
		 int error),
	TP_ARGS(topic, start, mask, error),
	TP_STRUCT__entry(
		__array(char,	topic, MQDEV_NAME_SIZE)
		__field(u64,	waited_ns)
		__field(u32,	revents)
		__field(int,	error)
	),
	TP_fast_assign(
		mqdev_trace_name(__entry->topic, topic->name);
		__entry->waited_ns = start ? ktime_get_ns() - start : 0;
		__entry->revents = mangle_poll(mask);
		__entry->error = error;
	),
	TP_printk("topic=%s waited_ns=%llu revents=%#x error=%d",
		  __entry->topic, __entry->waited_ns, __entry->revents,
		  __entry->error)
);

/*
 * Records became readable and someone sleeps for them (poll, read(2),
 * MQDEV_IOC_WAIT): only then does it count as a wake-up.
 */
TRACE_EVENT_CONDITION(mqdev_wake_readers,
	TP_PROTO(struct mqdev_part *part),
	TP_ARGS(part),
	/* After mqdev_ring_wake_readers()' smp_mb(), as its own looks are. */
	TP_CONDITION(waitqueue_active(&part->data_wait) ||
		     /* the same barrier serves both queues */
		     waitqueue_active(&part->topic->read_wait)),
	TP_STRUCT__entry(
		MQDEV_PART_FIELDS
		__field(u64,	head)
	),
	TP_fast_assign(
		MQDEV_PART_ASSIGN(part);
		/* A single writer's wake-up comes before the kernel's sync. */
		__entry->head = part->wpage ? READ_ONCE(part->wpage->head) :
					      READ_ONCE(part->ctrl->head);
	),
	TP_printk(MQDEV_PART_FMT " head=%llu",
		  MQDEV_PART_ARGS, __entry->head)
);

/* Producers waiting for room are told to look again. */
TRACE_EVENT(mqdev_wake_producers,
	TP_PROTO(struct mqdev_part *part),
	TP_ARGS(part),
	TP_STRUCT__entry(
		MQDEV_PART_FIELDS
		__field(bool,	sleepers)
	),
	TP_fast_assign(
		MQDEV_PART_ASSIGN(part);
		/* A hint only: the wake-up that follows takes the lock. */
		__entry->sleepers = waitqueue_active(&part->space_wait);
	),
	TP_printk(MQDEV_PART_FMT " sleepers=%d",
		  MQDEV_PART_ARGS, __entry->sleepers)
);

/*
 * An overwrite topic dropped its oldest records for room: readers behind
 * the new tail were lapped (@lapped of them hold a position, a group or an
 * MQDEV_SEEK_HOLD handle; plain readers' positions are their own).
 */
TRACE_EVENT(mqdev_overwrite,
	TP_PROTO(const struct mqdev_part *part, u64 old_tail, u64 old_offset,
		 u32 lapped),
	TP_ARGS(part, old_tail, old_offset, lapped),
	TP_STRUCT__entry(
		MQDEV_PART_FIELDS
		__field(u64,	records)
		__field(u64,	bytes)
		__field(u64,	first_offset)
		__field(u32,	lapped)
	),
	TP_fast_assign(
		MQDEV_PART_ASSIGN(part);
		__entry->records = part->tail_offset - old_offset;
		__entry->bytes = part->tail - old_tail;
		__entry->first_offset = part->tail_offset;
		__entry->lapped = lapped;
	),
	TP_printk(MQDEV_PART_FMT " records=%llu bytes=%llu first_offset=%llu lapped=%u",
		  MQDEV_PART_ARGS, __entry->records,
		  __entry->bytes, __entry->first_offset, __entry->lapped)
);

/* A group's partitions were shared out again: a new generation. */
TRACE_EVENT(mqdev_rebalance,
	TP_PROTO(const struct mqdev_group *g),
	TP_ARGS(g),
	TP_STRUCT__entry(
		MQDEV_GROUP_FIELDS
		__field(u32,	generation)
		__field(u32,	members)
		__field(u32,	partitions)
	),
	TP_fast_assign(
		MQDEV_GROUP_ASSIGN(g);
		__entry->generation = g->generation;
		__entry->members = g->nr_members;
		__entry->partitions = g->nr_parts;
	),
	TP_printk(MQDEV_GROUP_FMT " generation=%u members=%u partitions=%u",
		  MQDEV_GROUP_ARGS, __entry->generation,
		  __entry->members, __entry->partitions)
);

/*
 * A group's position moved: a member's commit, one over netlink, a reset,
 * or the offsets of a committed transaction.
 */
TRACE_EVENT(mqdev_group_commit,
	TP_PROTO(const struct mqdev_group *g, u32 partition,
		 const struct mqdev_group_pos *found),
	TP_ARGS(g, partition, found),
	TP_STRUCT__entry(
		MQDEV_GROUP_FIELDS
		__field(u32,	partition)
		__field(u32,	generation)
		__field(u64,	old_offset)
		__field(u64,	offset)
	),
	TP_fast_assign(
		MQDEV_GROUP_ASSIGN(g);
		__entry->partition = partition;
		__entry->generation = g->generation;
		__entry->old_offset = g->parts[partition].offset;
		__entry->offset = found->offset;
	),
	TP_printk(MQDEV_GROUP_FMT " partition=%u generation=%u old_offset=%llu offset=%llu",
		  MQDEV_GROUP_ARGS, __entry->partition,
		  __entry->generation, __entry->old_offset, __entry->offset)
);

/*
 * A transaction decided: @want is what was asked, @decision what became of
 * it (a commit that cannot hold aborts, @error says why).
 */
TRACE_EVENT(mqdev_txn_decide,
	TP_PROTO(const struct mqdev_identity *ident, u64 txn_id, u32 want,
		 u32 decision, u32 by, u64 bytes, int error),
	TP_ARGS(ident, txn_id, want, decision, by, bytes, error),
	TP_STRUCT__entry(
		MQDEV_TXN_FIELDS
		__field(u32,	want)
		__field(u32,	decision)
		__field(u32,	by)
		__field(u64,	bytes)
		__field(int,	error)
	),
	TP_fast_assign(
		MQDEV_TXN_ASSIGN(ident, txn_id);
		__entry->want = want;
		__entry->decision = decision;
		__entry->by = by;
		__entry->bytes = bytes;
		__entry->error = error;
	),
	TP_printk(MQDEV_TXN_FMT " want=%s decision=%s by=%s bytes=%llu error=%d",
		  MQDEV_TXN_ARGS,
		  mqdev_trace_decision(__entry->want),
		  mqdev_trace_decision(__entry->decision),
		  __print_symbolic(__entry->by,
				   { MQDEV_TRACE_BY_PRODUCER, "producer" },
				   { MQDEV_TRACE_BY_CHECKER, "checker" },
				   { MQDEV_TRACE_BY_TIMEOUT, "timeout" },
				   { MQDEV_TRACE_BY_NET_EXIT, "net_exit" }),
		  __entry->bytes, __entry->error)
);

/*
 * An orphaned transaction's checker asked (MQDEV_CMD_TXN_CHECK), question
 * @attempt; @error is the send's (a checker gone: it is asked again).
 */
TRACE_EVENT(mqdev_txn_check,
	TP_PROTO(const struct mqdev_identity *ident, u64 txn_id, u64 cookie,
		 u32 portid, u32 attempt, int error),
	TP_ARGS(ident, txn_id, cookie, portid, attempt, error),
	TP_STRUCT__entry(
		MQDEV_TXN_FIELDS
		__field(u64,	cookie)
		__field(u32,	portid)
		__field(u32,	attempt)
		__field(int,	error)
	),
	TP_fast_assign(
		MQDEV_TXN_ASSIGN(ident, txn_id);
		__entry->cookie = cookie;
		__entry->portid = portid;
		__entry->attempt = attempt;
		__entry->error = error;
	),
	TP_printk(MQDEV_TXN_FMT " cookie=%llu portid=%u attempt=%u error=%d",
		  MQDEV_TXN_ARGS,
		  __entry->cookie, __entry->portid, __entry->attempt,
		  __entry->error)
);

/* A checker's answer (MQDEV_CMD_TXN_RESOLVE), and what became of it. */
TRACE_EVENT(mqdev_txn_answer,
	TP_PROTO(const char *producer, u64 txn_id, u32 decision, int error),
	TP_ARGS(producer, txn_id, decision, error),
	TP_STRUCT__entry(
		__array(char,	producer, MQDEV_NAME_SIZE)
		__field(u64,	txn_id)
		__field(u32,	decision)
		__field(int,	error)
	),
	TP_fast_assign(
		mqdev_trace_str(__entry->producer, producer);
		__entry->txn_id = txn_id;
		__entry->decision = decision;
		__entry->error = error;
	),
	TP_printk("producer=%s txn_id=%llu decision=%s error=%d",
		  __entry->producer, __entry->txn_id,
		  mqdev_trace_decision(__entry->decision), __entry->error)
);

#endif /* _MQDEV_TRACE_H */

/* This part must be outside the include guard. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
