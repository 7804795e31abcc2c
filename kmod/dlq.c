// SPDX-License-Identifier: GPL-2.0
/*
 * A share group's dead-letter topic and retry back-off schedule
 * (Documentation/mqdev.rst, "Dead-letter topics and retries").
 *
 * A record rejected by a member, or past the group's max_deliveries, is
 * noted under the group's lock (share.c) in a bounded queue of this file:
 * its partition, offset, place in the ring and delivery count, nothing
 * else, and nothing that sleeps.  The group keeps the record in its window
 * (so in a ring it holds) until the work is done with it; when the queue
 * is full, the record waits there and the group notes it again once the
 * work has emptied the queue (mqdev_share_dead_requeue()).  A work then reads the record lock-free
 * from the source ring, as read(2) does (checking afterwards that the ring
 * did not lap it), builds the dead letter in kernel memory and appends it
 * to the dead-letter topic through ring.c's mqdev_append(), as the
 * exchange path appends: no lock of the source partition or of the group
 * is held while appending, and the append never waits for room.
 *
 * A dead letter that finds no room (a full block topic) or no memory is
 * not dropped: its note stays first in the queue, and so its record in
 * the group's window, and the work tries again after a back-off (10 ms,
 * doubling to a second), until it is written, the dead-letter topic is
 * deleted (counted gone) or the group goes (counted, not written).  The
 * queue behind it waits: a full dead-letter topic stops the group, as a
 * RabbitMQ at-least-once dead-letter target or a RocketMQ retry topic
 * would.  What cannot ever be written (too big, lapped) is counted
 * failed; the record stays rejected in its group.
 *
 * Locks: dlq->lock (a spinlock) guards the queue and the dead-letter
 * topic's pointer, taken inside the group's lock; the dead-letter
 * partition's lock only inside the work.  dlq_all_lock (a mutex) guards
 * the list of the settings that name a dead-letter topic, so that a
 * deleted topic's references go at once (mqdev_dlqs_topic_gone()); no
 * lock is held while taking it.
 */

#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include "mqdev.h"

/* Notes for the work; past that, records wait in their group's window. */
#define DLQ_QUEUE	256
/* Room for the headers a dead letter gets, names and values. */
#define DLQ_HDR_ROOM	768
/* A letter's headers, not counting an error. */
#define DLQ_NR_HEADERS	7
/* A dead letter that found no room is tried again after this, doubling. */
#define DLQ_RETRY_MIN_MS	10
#define DLQ_RETRY_MAX_MS	1000

struct dlq_note {
	struct mqdev_share *sg;
	u64	offset;
	u64	pos;
	u32	part;
	u32	len;
	u16	count;
	u8	reason;		/* enum mqdev_dlq_reason */
};

struct mqdev_dlq {
	struct mqdev_topic	*src;		/* the group's: not referenced */
	struct mqdev_topic	*topic;		/* referenced, or NULL */
	struct list_head	node;		/* dlq_all, while it has one */
	bool			lost;		/* topic deleted: dropped */
	bool			dying;		/* the group goes: no retry */
	char			group[MQDEV_NAME_SIZE];
	char			name[MQDEV_NAME_SIZE];	/* @topic's, as asked */
	u32			flags;		/* MQDEV_SHARE_DLQ_* */
	u32			retry_ms;	/* the work's: 0, or back-off */
	u32			nr_backoff;
	u32			backoff_ms[MQDEV_SHARE_BACKOFF_LEVELS];
	atomic64_t		written, full, gone, failed;
	struct work_struct	work;
	struct delayed_work	retry;		/* queues @work again */
	spinlock_t		lock;		/* the queue */
	u32			head, tail;	/* free-running */
	struct mqdev_share	*waiting;	/* has records to note again */
	struct dlq_note		queue[DLQ_QUEUE];
};

static void dlq_work(struct work_struct *work);
static void dlq_retry_work(struct work_struct *work);

/* The settings with a dead-letter topic, for mqdev_dlqs_topic_gone(). */
static LIST_HEAD(dlq_all);
static DEFINE_MUTEX(dlq_all_lock);

/**
 * mqdev_backoff_check() - is a back-off schedule good?
 * @nr: its levels
 * @ms: MQDEV_SHARE_BACKOFF_LEVELS levels, the first @nr of them used
 *
 * Return: 0; -EINVAL for too many levels, a used one 0 or past
 * MQDEV_SHARE_MAX_BACKOFF_MS, or an unused one not 0.
 */
int mqdev_backoff_check(u32 nr, const u32 *ms)
{
	u32 i;

	if (nr > MQDEV_SHARE_BACKOFF_LEVELS)
		return -EINVAL;
	for (i = 0; i < MQDEV_SHARE_BACKOFF_LEVELS; i++)
		if (i < nr ? !ms[i] || ms[i] > MQDEV_SHARE_MAX_BACKOFF_MS :
		    ms[i])
			return -EINVAL;
	return 0;
}

static int dlq_check(const struct mqdev_share_dlq *req)
{
	if ((req->flags & ~MQDEV_SHARE_DLQ_FLAGS) || req->pad || req->reserved ||
	    mqdev_backoff_check(req->nr_backoff, req->backoff_ms))
		return -EINVAL;
	if (!req->topic[0] && !memchr_inv(req->topic, 0, sizeof(req->topic)))
		/* Nowhere to put an expired record. */
		return req->flags & MQDEV_SHARE_DLQ_EXPIRED ? -EINVAL : 0;
	return mqdev_name_check(req->topic);
}

/**
 * mqdev_letter_topic_get() - a dead-letter or retry topic, referenced
 * @src: the group's topic
 * @name: the topic's name
 * @self: whether it may be @src itself (a retry topic may)
 *
 * Checked as an exchange binding's topic: the caller may produce to it and
 * it is not a single writer's.
 *
 * Return: the topic; ERR_PTR(-EINVAL) for @src when !@self, -EOPNOTSUPP
 * for a single writer's, or what mqdev_topic_get() returns.
 */
struct mqdev_topic *mqdev_letter_topic_get(struct mqdev_topic *src,
					   const char *name, bool self)
{
	struct mqdev_topic *topic;

	topic = mqdev_topic_get(NULL, src->net, name, MQDEV_ACT_PRODUCE);
	if (IS_ERR(topic))
		return topic;
	if ((topic == src && !self) || mqdev_swriter(topic)) {
		mqdev_topic_put(topic);
		return ERR_PTR(topic == src ? -EINVAL : -EOPNOTSUPP);
	}
	return topic;
}

/**
 * mqdev_dlq_new() - a share group's dead-letter settings, from its joiner
 * @src: the group's topic
 * @group: the group's name
 * @uptr: user pointer to a struct mqdev_share_dlq, or 0 for none
 * @out: the settings, or NULL for none
 *
 * Called with no lock held: it copies from user memory and looks the
 * topic up.
 *
 * Return: 0; -EFAULT; -EINVAL for a bad request or the group's own topic;
 * -E2BIG for a larger struct than the kernel's with non-zero bytes past it;
 * -ENOENT for no such topic; -EACCES when the caller may not produce to
 * it; -EOPNOTSUPP for a single writer's; -ENOMEM.
 */
int mqdev_dlq_new(struct mqdev_topic *src, const char *group, u64 uptr,
		  struct mqdev_dlq **out)
{
	struct mqdev_share_dlq req;
	struct mqdev_topic *topic = NULL;
	struct mqdev_dlq *dlq;
	u32 size;
	int err;

	*out = NULL;
	if (!uptr)
		return 0;
	/* Extensible by size: the first field says how much the caller has. */
	if (get_user(size, (u32 __user *)u64_to_user_ptr(uptr)))
		return -EFAULT;
	if (size < MQDEV_SHARE_DLQ_SIZE_VER0)
		return -EINVAL;
	if (size > PAGE_SIZE)
		return -E2BIG;
	err = copy_struct_from_user(&req, sizeof(req), u64_to_user_ptr(uptr),
				    size);
	if (err)
		return err;
	err = dlq_check(&req);
	if (err)
		return err;
	if (req.topic[0]) {
		topic = mqdev_letter_topic_get(src, req.topic, false);
		if (IS_ERR(topic))
			return PTR_ERR(topic);
	}
	dlq = kzalloc(sizeof(*dlq), GFP_KERNEL_ACCOUNT);
	if (!dlq) {
		if (topic)
			mqdev_topic_put(topic);
		return -ENOMEM;
	}
	dlq->src = src;
	dlq->topic = topic;
	strscpy_pad(dlq->group, group);
	strscpy_pad(dlq->name, req.topic);
	dlq->flags = req.flags;
	dlq->nr_backoff = req.nr_backoff;
	memcpy(dlq->backoff_ms, req.backoff_ms, sizeof(dlq->backoff_ms));
	spin_lock_init(&dlq->lock);
	INIT_WORK(&dlq->work, dlq_work);
	INIT_DELAYED_WORK(&dlq->retry, dlq_retry_work);
	INIT_LIST_HEAD(&dlq->node);
	if (topic) {
		mutex_lock(&dlq_all_lock);
		list_add_tail(&dlq->node, &dlq_all);
		mutex_unlock(&dlq_all_lock);
	}
	*out = dlq;
	return 0;
}

/*
 * The group goes: no dead letter is retried from now on.  A run that may
 * have read dying as false is waited for, then the retry it may have
 * armed is cancelled, and the work runs once more for the note a retry
 * was for: written if there is room now, counted if not.
 */
static void dlq_stop(struct mqdev_dlq *dlq)
{
	WRITE_ONCE(dlq->dying, true);
	flush_work(&dlq->work);
	cancel_delayed_work_sync(&dlq->retry);
	queue_work(system_unbound_wq, &dlq->work);
	flush_work(&dlq->work);
}

/**
 * mqdev_dlq_flush() - the group goes: write what was noted, retry no more
 * @dlq: the settings, or NULL
 *
 * The work runs until its queue is empty and no record of the group waits
 * to be noted again, so the group's waiting records are written too; a
 * dead letter with no room in the dead-letter topic is counted, not
 * retried (bounded: the deleter does not wait for room).  Called with no
 * lock held that the work takes, nor any groups_lock.
 */
void mqdev_dlq_flush(struct mqdev_dlq *dlq)
{
	if (dlq)
		dlq_stop(dlq);
}

/**
 * mqdev_dlq_free() - write what is queued, then let the settings go
 * @dlq: the settings, or NULL
 *
 * Called once nothing can note a dead letter, with no lock held that the
 * work takes (the group's, a partition's) nor any groups_lock: it waits
 * for the work, and the dead-letter topic's last reference may go here,
 * freeing that topic's own groups (share.c's mqdev_shares_reap()).
 */
void mqdev_dlq_free(struct mqdev_dlq *dlq)
{
	if (!dlq)
		return;
	/* After this, mqdev_dlqs_topic_gone() has done with it or never will. */
	mutex_lock(&dlq_all_lock);
	list_del_init(&dlq->node);
	mutex_unlock(&dlq_all_lock);
	dlq_stop(dlq);
	/*
	 * The work may have queued itself again (mqdev_share_dead_requeue())
	 * after the flush began: the queue is empty now, so that run would
	 * find nothing, but it must not run on freed memory.
	 */
	cancel_work_sync(&dlq->work);
	if (dlq->topic)
		mqdev_topic_put(dlq->topic);
	kfree(dlq);
}

/**
 * mqdev_dlqs_topic_gone() - a topic was deleted: drop the references to it
 * @topic: the topic, marked dead, its registry reference still held
 *
 * Every share group naming it as its dead-letter topic lets it go now, so
 * that its rings and its owner's charges come back at once, as exchange
 * bindings do (mqdev_exchanges_topic_gone()); those groups' dead letters
 * are counted gone from now on.  The work may be writing to it: it read
 * the pointer under dlq->lock, so waiting for the work is enough.  The
 * cost, the deleter's, is a walk of the groups with a dead-letter topic,
 * bounded by the groups' limits.
 */
void mqdev_dlqs_topic_gone(struct mqdev_topic *topic)
{
	struct mqdev_dlq *dlq, *next;

	mutex_lock(&dlq_all_lock);
	list_for_each_entry_safe(dlq, next, &dlq_all, node) {
		if (dlq->topic != topic)
			continue;
		spin_lock(&dlq->lock);
		dlq->topic = NULL;
		dlq->lost = true;
		spin_unlock(&dlq->lock);
		list_del_init(&dlq->node);
		flush_work(&dlq->work);
		/* The caller's reference keeps it: this never frees it. */
		mqdev_topic_put(topic);
		cond_resched();
	}
	mutex_unlock(&dlq_all_lock);
}

/**
 * mqdev_dlq_backoff() - the back-off of a release that gave none
 * @dlq: the group's settings, or NULL
 * @count: the record's deliveries so far, 1 or more
 *
 * Return: nanoseconds; 0 for none (the record is available at once).
 */
u64 mqdev_dlq_backoff(const struct mqdev_dlq *dlq, u16 count)
{
	return dlq ? mqdev_backoff_ns(dlq->nr_backoff, dlq->backoff_ms, count) :
		     0;
}

/**
 * mqdev_backoff_ns() - the back-off of a schedule for a delivery count
 * @nr: the schedule's levels
 * @ms: the levels, checked by mqdev_backoff_check()
 * @count: the record's deliveries so far, 1 or more
 *
 * Return: nanoseconds: level @count - 1, the last past the end; 0 for no
 * levels.
 */
u64 mqdev_backoff_ns(u32 nr, const u32 *ms, u32 count)
{
	u32 level;

	if (!nr)
		return 0;
	level = min_t(u32, count ? count - 1 : 0, nr - 1);
	return (u64)ms[level] * NSEC_PER_MSEC;
}

/**
 * mqdev_dlq_expired() - are expired records dead-lettered?
 * @dlq: the group's settings, or NULL
 *
 * Return: true with MQDEV_SHARE_DLQ_EXPIRED (which needs a topic).
 */
bool mqdev_dlq_expired(const struct mqdev_dlq *dlq)
{
	return dlq && (dlq->flags & MQDEV_SHARE_DLQ_EXPIRED);
}

/**
 * mqdev_dlq_same() - are a later joiner's settings the group's?
 * @dlq: the group's settings, or NULL for none
 * @other: the joiner's, or NULL for none
 *
 * The dead-letter topic is compared by the name asked for: it may have
 * been deleted since the group was made.  Called with the group listed
 * (its topic's groups_lock held): its settings do not change.
 *
 * Return: true if they are the same; none and all-zero ones are.
 */
bool mqdev_dlq_same(const struct mqdev_dlq *dlq, const struct mqdev_dlq *other)
{
	static const struct mqdev_dlq none;

	dlq = dlq ?: &none;
	other = other ?: &none;
	return !memcmp(dlq->name, other->name, sizeof(dlq->name)) &&
	       dlq->flags == other->flags &&
	       dlq->nr_backoff == other->nr_backoff &&
	       !memcmp(dlq->backoff_ms, other->backoff_ms,
		       sizeof(dlq->backoff_ms));
}

/**
 * mqdev_dlq_note() - a record of the group became rejected
 * @dlq: the group's settings, or NULL
 * @sg: the group, told by mqdev_share_dead_done() when it is dealt with
 * @part: its partition
 * @offset: its offset
 * @pos: its place in the partition's ring
 * @len: its length
 * @count: its deliveries
 * @reason: why: a member rejected it, it reached max_deliveries, or it
 *	    expired (MQDEV_SHARE_DLQ_EXPIRED)
 *
 * Called under the group's lock: it only queues, and never sleeps.  When
 * the queue is full the work, once it is empty, has the group note its
 * waiting records again (mqdev_share_dead_requeue()).
 *
 * Return: enum mqdev_dlq_note: the group keeps a record QUEUED or WAITING
 * until mqdev_share_dead_done().
 */
u8 mqdev_dlq_note(struct mqdev_dlq *dlq, struct mqdev_share *sg, u32 part,
		  u64 offset, u64 pos, u32 len, u16 count,
		  enum mqdev_dlq_reason reason)
{
	struct dlq_note *n;

	if (!dlq)
		return MQDEV_DLQ_NONE;
	spin_lock(&dlq->lock);
	if (!dlq->topic) {
		/* Its dead-letter topic was deleted: counted, not written. */
		if (dlq->lost)
			atomic64_inc(&dlq->gone);
		spin_unlock(&dlq->lock);
		return MQDEV_DLQ_NONE;
	}
	if (dlq->head - dlq->tail >= DLQ_QUEUE) {
		dlq->waiting = sg;
		spin_unlock(&dlq->lock);
		return MQDEV_DLQ_WAITING;
	}
	n = &dlq->queue[dlq->head++ % DLQ_QUEUE];
	*n = (struct dlq_note){
		.sg = sg, .offset = offset, .pos = pos, .part = part,
		.len = len, .count = count, .reason = reason,
	};
	spin_unlock(&dlq->lock);
	queue_work(system_unbound_wq, &dlq->work);
	return MQDEV_DLQ_QUEUED;
}

/**
 * mqdev_record_copy() - a copy of a record in a ring, read lock-free
 * @part: the partition
 * @pos: the record's place in its ring
 * @offset: the record's offset
 * @len: its length, as the caller found it
 *
 * Read as read(2) reads, with no lock: the lap check afterwards throws
 * away a copy the ring reclaimed or an overwrite producer tore meanwhile.
 *
 * Return: the copy (kvfree() it); ERR_PTR(-ENODATA) when the ring no longer
 * has the record (a caller may not retry it), or -ENOMEM (one may).
 */
void *mqdev_record_copy(struct mqdev_part *part, u64 pos, u64 offset, u32 len)
{
	struct mqdev_record *rec;
	void *buf;

	if (len < sizeof(*rec))
		return ERR_PTR(-ENODATA);
	/* In a caller's ioctl too: charged to it, no splat a user can cause. */
	buf = kvmalloc(len, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	/*
	 * An overwrite producer may be writing these bytes as we copy: a
	 * race on purpose, as read(2)'s, made harmless by the lap check
	 * below, which throws a torn copy away.
	 */
	data_race(memcpy(buf, mqdev_ring_record(part, pos), len));
	rec = buf;
	/* Pairs with smp_wmb() in ring_publish_tail(). */
	smp_rmb();
	if (READ_ONCE(part->ctrl->tail) > pos || rec->offset != offset ||
	    rec->len != len) {
		kvfree(buf);
		return ERR_PTR(-ENODATA);
	}
	return buf;
}

/*
 * Unaligned words of a header block, in host order: by memcpy, as
 * route_headers.c reads them (6.1 has no linux/unaligned.h).
 */
static u32 dlq_get32(const u8 *p)
{
	u32 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void dlq_put32(u8 *p, u32 v)
{
	memcpy(p, &v, sizeof(v));
}

/* Length of a header block at @p, at most @room bytes; -1 if bad. */
static s64 dlq_headers_len(const u8 *p, u32 room, u32 *count)
{
	u32 off = sizeof(u32), i, klen;
	s32 vlen;

	if (room < sizeof(u32))
		return -1;
	*count = dlq_get32(p);
	for (i = 0; i < *count; i++) {
		if (room - off < 2 * sizeof(u32))
			return -1;
		klen = dlq_get32(p + off);
		vlen = (s32)dlq_get32(p + off + sizeof(u32));
		off += 2 * sizeof(u32);
		if (vlen < -1 || klen > room - off ||
		    (vlen > 0 && (u32)vlen > room - off - klen))
			return -1;
		off += klen + max(vlen, 0);
	}
	return off;
}

static u32 dlq_put_header(u8 *p, const char *name, const char *value)
{
	u32 klen = strlen(name), vlen = strlen(value);

	dlq_put32(p, klen);
	dlq_put32(p + sizeof(u32), vlen);
	memcpy(p + 2 * sizeof(u32), name, klen);
	memcpy(p + 2 * sizeof(u32) + klen, value, vlen);
	return 2 * sizeof(u32) + klen + vlen;
}

/* The letter's own headers at @p; how many bytes, how many in @nr. */
static u32 dlq_put_headers(const struct mqdev_letter *l, u8 *p, u32 *nr)
{
	char num[24];
	u32 len = 0;

	len += dlq_put_header(p + len, MQDEV_DLQ_HDR_TOPIC, l->topic);
	snprintf(num, sizeof(num), "%u", l->part);
	len += dlq_put_header(p + len, MQDEV_DLQ_HDR_PARTITION, num);
	snprintf(num, sizeof(num), "%llu", l->offset);
	len += dlq_put_header(p + len, MQDEV_DLQ_HDR_OFFSET, num);
	snprintf(num, sizeof(num), "%u", l->count);
	len += dlq_put_header(p + len, MQDEV_DLQ_HDR_COUNT, num);
	len += dlq_put_header(p + len, MQDEV_DLQ_HDR_REASON, l->reason);
	len += dlq_put_header(p + len, MQDEV_DLQ_HDR_GROUP, l->group);
	snprintf(num, sizeof(num), "%llu", l->timestamp);
	len += dlq_put_header(p + len, MQDEV_DLQ_HDR_TIMESTAMP, num);
	*nr = DLQ_NR_HEADERS;
	if (l->error && l->error[0]) {
		len += dlq_put_header(p + len, MQDEV_DLQ_HDR_ERROR, l->error);
		(*nr)++;
	}
	return len;
}

/*
 * dlq_put_headers() at its longest (or more): two lengths and a name per
 * header, the longest reason, the topic's and the group's names, four
 * numbers of at most 20 digits, an error.  Growing MQDEV_NAME_SIZE must
 * not overflow the room.
 */
#define DLQ_STRLEN(s)	(sizeof(s) - 1)
#define DLQ_HDR_WORST							\
	((DLQ_NR_HEADERS + 1) * 2 * sizeof(u32) +			\
	 DLQ_STRLEN(MQDEV_DLQ_HDR_TOPIC) +				\
	 DLQ_STRLEN(MQDEV_DLQ_HDR_PARTITION) +				\
	 DLQ_STRLEN(MQDEV_DLQ_HDR_OFFSET) +				\
	 DLQ_STRLEN(MQDEV_DLQ_HDR_COUNT) +				\
	 DLQ_STRLEN(MQDEV_DLQ_HDR_REASON) +				\
	 DLQ_STRLEN(MQDEV_DLQ_HDR_GROUP) +				\
	 DLQ_STRLEN(MQDEV_DLQ_HDR_TIMESTAMP) +				\
	 DLQ_STRLEN(MQDEV_DLQ_HDR_ERROR) +				\
	 DLQ_STRLEN(MQDEV_DLQ_REJECTED) +				\
	 DLQ_STRLEN(MQDEV_DLQ_MAX_DELIVERIES) +				\
	 DLQ_STRLEN(MQDEV_DLQ_EXPIRED) +				\
	 DLQ_STRLEN(MQDEV_DLQ_RECONSUME) +				\
	 2 * (MQDEV_NAME_SIZE - 1) + 4 * 20 +				\
	 MQDEV_RECONSUME_ERROR_SIZE - 1)
static_assert(DLQ_HDR_WORST <= DLQ_HDR_ROOM);

/*
 * Copy the record's own headers (@v, a block of @count checked by
 * dlq_headers_len()) to @out, but for those named like the dead letter's:
 * a dead letter carries only the kernel's (a record dead-lettered twice,
 * or one a producer gave such headers, would otherwise carry two sets).
 * Return: the bytes written; how many headers in @kept.
 */
static u32 dlq_copy_headers(u8 *out, const u8 *v, u32 count, u32 *kept)
{
	u32 off = sizeof(u32), o = 0, i, klen, size;
	const size_t plen = strlen(MQDEV_DLQ_HDR_PREFIX);
	s32 vlen;

	*kept = 0;
	for (i = 0; i < count; i++) {
		klen = dlq_get32(v + off);
		vlen = (s32)dlq_get32(v + off + sizeof(u32));
		size = 2 * sizeof(u32) + klen + max(vlen, 0);
		if (klen < plen ||
		    memcmp(v + off + 2 * sizeof(u32), MQDEV_DLQ_HDR_PREFIX,
			   plen)) {
			memcpy(out + o, v + off, size);
			o += size;
			(*kept)++;
		}
		off += size;
	}
	return o;
}

/*
 * The value of @rec past its expiry, if any: @v and @vlen.  With headers,
 * their block's length in @hlen and count in @count.  Return: 0, or -1 for
 * a bad header block.
 */
static int dlq_value(const struct mqdev_record *rec, const u8 **v, u32 *vlen,
		     s64 *hlen, u32 *count)
{
	*v = (const u8 *)(rec + 1) + rec->key_len;
	*vlen = rec->len - sizeof(*rec) - rec->key_len;
	*hlen = 0;
	*count = 0;
	if (rec->flags & MQDEV_RECORD_EXPIRES) {
		if (*vlen < sizeof(u64))
			return -1;
		*v += sizeof(u64);
		*vlen -= sizeof(u64);
	}
	if (rec->flags & MQDEV_RECORD_HEADERS) {
		*hlen = dlq_headers_len(*v, *vlen, count);
		if (*hlen < 0 || *count > U32_MAX - DLQ_NR_HEADERS - 1)
			return -1;
	}
	return 0;
}

/**
 * mqdev_letter_build() - a dead letter or a retry of a record, in kernel memory
 * @l: where the record came from, and why: its headers
 * @rec: the record, a copy (mqdev_record_copy())
 * @len: the value's length goes here
 * @flags: the record's flags go here
 *
 * The value is a header block of the record's headers (less any
 * mqdev.dlq.* ones) and @l's, then the record's value proper.  An expiry the
 * record had is not kept; the flags say @l->flags (MQDEV_RECORD_DEAD_LETTER
 * or _RETRY, which no producer may set) and the record's null key or value.
 *
 * Return: the value (kvfree() it); ERR_PTR(-EBADMSG) for a bad header block,
 * -ENOMEM.
 */
u8 *mqdev_letter_build(const struct mqdev_letter *l,
		       const struct mqdev_record *rec, u32 *len, u32 *flags)
{
	const u8 *v;
	u32 vlen, count, nr;
	s64 hlen;
	u8 *out;
	u32 o;

	if (dlq_value(rec, &v, &vlen, &hlen, &count))
		return ERR_PTR(-EBADMSG);
	out = kvmalloc(vlen + sizeof(u32) + DLQ_HDR_ROOM,
		       GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!out)
		return ERR_PTR(-ENOMEM);
	o = sizeof(u32);
	if (hlen)
		o += dlq_copy_headers(out + o, v, count, &count);
	o += dlq_put_headers(l, out + o, &nr);
	dlq_put32(out, count + nr);
	memcpy(out + o, v + hlen, vlen - hlen);
	*len = o + vlen - hlen;
	*flags = MQDEV_RECORD_HEADERS | l->flags |
		 (rec->flags & (MQDEV_RECORD_NULL_KEY | MQDEV_RECORD_NULL_VALUE));
	return out;
}

/*
 * The value of header @name in block @v of @count (checked by
 * dlq_headers_len()): its length, and where it is in @val; -1 if none.
 */
static s32 dlq_header_find(const u8 *v, u32 count, const char *name,
			   const u8 **val)
{
	u32 off = sizeof(u32), i, klen, nlen = strlen(name);
	s32 vlen;

	for (i = 0; i < count; i++) {
		klen = dlq_get32(v + off);
		vlen = (s32)dlq_get32(v + off + sizeof(u32));
		off += 2 * sizeof(u32);
		if (klen == nlen && !memcmp(v + off, name, nlen)) {
			*val = v + off + klen;
			return vlen;
		}
		off += klen + max(vlen, 0);
	}
	return -1;
}

/* The decimal value of header @name in block @v of @count, or -1. */
static s64 dlq_header_num(const u8 *v, u32 count, const char *name)
{
	const u8 *val;
	s32 vlen = dlq_header_find(v, count, name, &val);
	char num[24];
	u64 n;

	if (vlen <= 0 || vlen >= sizeof(num))
		return -1;
	memcpy(num, val, vlen);
	num[vlen] = 0;
	return kstrtou64(num, 10, &n) || n > S64_MAX ? -1 : (s64)n;
}

/**
 * mqdev_letter_origin() - where a retry came from, by its kernel-set headers
 * @rec: the record, a copy, with MQDEV_RECORD_RETRY
 * @l: the caller's group in; its first delivery's partition, offset, time
 *	and count go here
 * @topic: room for MQDEV_NAME_SIZE bytes: its first topic's name
 *
 * Only the kernel writes a record with MQDEV_RECORD_RETRY, so these are the
 * headers it wrote, not a producer's (which mqdev_letter_build() drops).
 * The count is a group's (RocketMQ's reconsumeTimes): another group's
 * retry, read from a shared retry topic, leaves @l as it was.
 *
 * Return: 0; 1 for another group's retry; -EBADMSG for headers the kernel
 * did not write.
 */
int mqdev_letter_origin(const struct mqdev_record *rec, struct mqdev_letter *l,
			char *topic)
{
	s64 hlen, part, offset, nr, ts;
	u32 vlen, count;
	const u8 *v, *name, *group;
	s32 tlen, glen;

	if (!(rec->flags & MQDEV_RECORD_RETRY) ||
	    dlq_value(rec, &v, &vlen, &hlen, &count) || !hlen)
		return -EBADMSG;
	part = dlq_header_num(v, count, MQDEV_DLQ_HDR_PARTITION);
	offset = dlq_header_num(v, count, MQDEV_DLQ_HDR_OFFSET);
	nr = dlq_header_num(v, count, MQDEV_DLQ_HDR_COUNT);
	ts = dlq_header_num(v, count, MQDEV_DLQ_HDR_TIMESTAMP);
	tlen = dlq_header_find(v, count, MQDEV_DLQ_HDR_TOPIC, &name);
	glen = dlq_header_find(v, count, MQDEV_DLQ_HDR_GROUP, &group);
	if (part < 0 || part > U32_MAX || offset < 0 || nr < 1 ||
	    nr > MQDEV_SHARE_MAX_DELIVERIES || ts < 0 || tlen <= 0 ||
	    tlen >= MQDEV_NAME_SIZE || glen <= 0)
		return -EBADMSG;
	if (glen != strnlen(l->group, MQDEV_NAME_SIZE) ||
	    memcmp(group, l->group, glen))
		return 1;
	memcpy(topic, name, tlen);
	topic[tlen] = 0;
	l->topic = topic;
	l->part = part;
	l->offset = offset;
	l->count = nr;
	l->timestamp = ts;
	return 0;
}

/**
 * mqdev_letter_msg() - the message of a letter, for an append or a schedule
 * @l: the letter
 * @rec: the record, a copy
 * @topic: the topic it goes to: its partition is taken modulo its count
 * @msg: filled in: its key is @rec's, its value the returned buffer
 *
 * Return: the value (kvfree() it); ERR_PTR(-EBADMSG) for a bad header
 * block, -ENOMEM or, for a letter larger than @topic's max_record,
 * -EMSGSIZE.
 */
u8 *mqdev_letter_msg(const struct mqdev_letter *l,
		     const struct mqdev_record *rec, struct mqdev_topic *topic,
		     struct mqdev_msg *msg)
{
	u8 *value;

	memset(msg, 0, sizeof(*msg));
	msg->key_len = rec->key_len;
	value = mqdev_letter_build(l, rec, &msg->value_len, &msg->flags);
	if (IS_ERR(value))
		return value;
	if (sizeof(*rec) + (u64)msg->key_len + msg->value_len >
	    topic->max_record) {
		kvfree(value);
		return ERR_PTR(-EMSGSIZE);
	}
	msg->key = (uintptr_t)(rec + 1);
	msg->value = (uintptr_t)value;
	/* The partition's number, so each partition's order stays. */
	msg->partition = l->part % topic->nr_parts;
	return value;
}

/**
 * mqdev_letter_append() - append a letter of @rec to @topic, now
 * @topic: the dead-letter topic, referenced
 * @l: the letter
 * @rec: the record, a copy
 *
 * The append never waits for room.  Called with no lock held.
 *
 * Return: 0 or the append's error (-EAGAIN for no room, -EIDRM for a
 * deleted topic), -EMSGSIZE, -ENOMEM.
 */
int mqdev_letter_append(struct mqdev_topic *topic,
			const struct mqdev_letter *l,
			const struct mqdev_record *rec)
{
	struct mqdev_append ap = { .nonblock = true, .kernel = true };
	struct mqdev_msg msg;
	u8 *value;
	int err;

	value = mqdev_letter_msg(l, rec, topic, &msg);
	if (IS_ERR(value))
		return PTR_ERR(value);
	err = mqdev_append(&ap, &topic->parts[msg.partition], &msg, rec + 1);
	mqdev_append_end(&ap);
	kvfree(value);
	return err;
}

/* enum mqdev_dlq_reason's header values */
static const char *const dlq_reasons[] = {
	[MQDEV_DLQ_REASON_REJECTED] = MQDEV_DLQ_REJECTED,
	[MQDEV_DLQ_REASON_MAX_DELIVERIES] = MQDEV_DLQ_MAX_DELIVERIES,
	[MQDEV_DLQ_REASON_EXPIRED] = MQDEV_DLQ_EXPIRED,
};

/* Write the dead letter @n notes: 0, or why not (-EIDRM: topic gone). */
static int dlq_write(struct mqdev_dlq *dlq, struct mqdev_topic *topic,
		     const struct dlq_note *n)
{
	struct mqdev_record *rec;
	struct mqdev_letter l = {
		.topic = dlq->src->name, .group = dlq->group,
		.part = n->part, .offset = n->offset, .count = n->count,
		.reason = dlq_reasons[n->reason],
		.flags = MQDEV_RECORD_DEAD_LETTER,
	};
	int err;

	if (!topic || mqdev_topic_dead(topic))
		return -EIDRM;
	rec = mqdev_record_copy(&dlq->src->parts[n->part], n->pos, n->offset,
				n->len);
	if (IS_ERR(rec))
		return PTR_ERR(rec);
	l.timestamp = rec->timestamp;
	err = mqdev_letter_append(topic, &l, rec);
	kvfree(rec);
	return err;
}

/*
 * No room (or no memory) for the dead letter: try again after a back-off,
 * its note left first in the queue, unless the group goes.  A dead letter
 * is counted full once, however often it is tried.  Return: true if it
 * is to be tried again.
 */
static bool dlq_retry(struct mqdev_dlq *dlq, int err)
{
	if (err == -EAGAIN && !dlq->retry_ms)
		atomic64_inc(&dlq->full);
	if ((err != -EAGAIN && err != -ENOMEM) || READ_ONCE(dlq->dying))
		return false;
	dlq->retry_ms = clamp(dlq->retry_ms * 2, DLQ_RETRY_MIN_MS,
			      DLQ_RETRY_MAX_MS);
	queue_delayed_work(system_unbound_wq, &dlq->retry,
			   msecs_to_jiffies(dlq->retry_ms));
	return true;
}

/* What became of a dead letter, counted (full was, by dlq_retry()). */
static void dlq_count(struct mqdev_dlq *dlq, int err)
{
	if (!err)
		atomic64_inc(&dlq->written);
	else if (err == -EIDRM)
		atomic64_inc(&dlq->gone);
	else if (err != -EAGAIN)
		atomic64_inc(&dlq->failed);
}

static void dlq_retry_work(struct work_struct *work)
{
	struct mqdev_dlq *dlq = container_of(to_delayed_work(work),
					     struct mqdev_dlq, retry);

	queue_work(system_unbound_wq, &dlq->work);
}

static void dlq_work(struct work_struct *work)
{
	struct mqdev_dlq *dlq = container_of(work, struct mqdev_dlq, work);
	struct mqdev_topic *topic;
	struct mqdev_share *waiting;
	struct dlq_note n;
	int err;

	/* Only this work takes notes off the queue, one run at a time. */
	for (;;) {
		spin_lock(&dlq->lock);
		if (dlq->tail == dlq->head) {
			waiting = dlq->waiting;
			dlq->waiting = NULL;
			spin_unlock(&dlq->lock);
			if (!waiting)
				return;
			/* It notes them again, and queues this work. */
			mqdev_share_dead_requeue(waiting);
			continue;
		}
		/* Taken off only once dealt with: a retry starts from it. */
		n = dlq->queue[dlq->tail % DLQ_QUEUE];
		/* mqdev_dlqs_topic_gone() waits for this run before its put. */
		topic = dlq->topic;
		spin_unlock(&dlq->lock);
		err = dlq_write(dlq, topic, &n);
		if (dlq_retry(dlq, err))
			return;
		dlq_count(dlq, err);
		dlq->retry_ms = 0;
		spin_lock(&dlq->lock);
		dlq->tail++;
		spin_unlock(&dlq->lock);
		mqdev_share_dead_done(n.sg, n.part, n.offset, n.pos);
		cond_resched();
	}
}

/**
 * mqdev_dlq_fill() - a share group's dead-letter settings and counts
 * @dlq: the group's settings, or NULL
 * @req: filled in
 *
 * Called under the topic's groups_lock: it does not sleep.  The name is
 * read under dlq->lock, as the dead-letter topic may be deleted meanwhile.
 */
void mqdev_dlq_fill(struct mqdev_dlq *dlq, struct mqdev_share_dlq_info *req)
{
	if (!dlq)
		return;
	spin_lock(&dlq->lock);
	if (dlq->topic)
		memcpy(req->topic, dlq->topic->name, MQDEV_NAME_SIZE);
	spin_unlock(&dlq->lock);
	req->written = atomic64_read(&dlq->written);
	req->full = atomic64_read(&dlq->full);
	req->gone = atomic64_read(&dlq->gone);
	req->failed = atomic64_read(&dlq->failed);
	req->flags = dlq->flags;
	req->nr_backoff = dlq->nr_backoff;
	memcpy(req->backoff_ms, dlq->backoff_ms, sizeof(req->backoff_ms));
}

/**
 * mqdev_dlq_info() - MQDEV_IOC_SHARE_DLQ_INFO
 * @ioc: the call, on a handle attached to consume
 * @req: the group; its dead-letter settings and counts go back
 *
 * Return: 0; -EINVAL for a bad request; -ENOENT for no such share group.
 */
long mqdev_dlq_info(struct mqdev_ioc *ioc, struct mqdev_share_dlq_info *req)
{
	int err = mqdev_name_check(req->group);

	if (err)
		return err;
	if (req->flags || req->reserved ||
	    memchr_inv(req->topic, 0, sizeof(req->topic)) ||
	    memchr_inv(&req->written, 0,
		       offsetof(typeof(*req), flags) -
		       offsetof(typeof(*req), written)) ||
	    memchr_inv(req->backoff_ms, 0, sizeof(req->backoff_ms)))
		return -EINVAL;
	return mqdev_share_dlq_fill(ioc->topic, req);
}
