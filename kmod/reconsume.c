// SPDX-License-Identifier: GPL-2.0
/*
 * RocketMQ's RECONSUME_LATER for consumer groups: MQDEV_IOC_GROUP_RECONSUME
 * (Documentation/mqdev.rst, "Retries of consumer groups").
 *
 * A member hands back a record it owns and has not committed.  The kernel
 * finds it in its own ring by the group's position (the walk a commit of
 * that offset would make), copies it lock-free as read(2) reads, and either
 * schedules a retry of it into the caller's retry topic through sched.c,
 * charged to the caller as MQDEV_IOC_SCHEDULE is, or past the deliveries
 * allowed appends its dead letter to the caller's DLQ through dlq.c.  The
 * delivery count is the kernel's: it is read back only from a record the
 * kernel wrote with MQDEV_RECORD_RETRY.  Nothing of the group changes: the
 * member commits past the record itself.
 *
 * Locks: the topic's groups_lock while the member's ownership is checked
 * and the record located (the partition's lock inside it, as a commit
 * takes them); none while copying, building or appending.
 */

#include <linux/slab.h>
#include <linux/timekeeping.h>
#include "mqdev.h"

/* RocketMQ's delay levels from its first retry's on: 10 s 30 s 1 m 2 m ... */
static const u32 reconsume_backoff_ms[MQDEV_SHARE_BACKOFF_LEVELS] = {
	10000, 30000, 60000, 120000, 180000, 240000, 300000, 360000,
	420000, 480000, 540000, 600000, 1200000, 1800000, 3600000, 7200000,
};

#define RECONSUME_DEF_LEVELS	16

static_assert(sizeof_field(struct mqdev_reconsume, backoff_ms) ==
	      sizeof(reconsume_backoff_ms));

static bool reconsume_name_none(const char *name)
{
	return !memchr_inv(name, 0, MQDEV_NAME_SIZE);
}

/* A string, its bytes after the NUL zero: they may gain a meaning. */
static bool reconsume_error_bad(const char *error)
{
	const char *nul = memchr(error, 0, MQDEV_RECONSUME_ERROR_SIZE);

	return !nul ||
	       memchr_inv(nul, 0, error + MQDEV_RECONSUME_ERROR_SIZE - nul);
}

static int reconsume_check(const struct mqdev_reconsume *req)
{
	if ((req->flags & ~MQDEV_RECONSUME_FLAGS) || req->reserved ||
	    req->deliveries || req->result || req->due ||
	    req->max_deliveries > MQDEV_SHARE_MAX_DELIVERIES ||
	    req->delay_ms > MQDEV_SHARE_MAX_BACKOFF_MS ||
	    mqdev_backoff_check(req->nr_backoff, req->backoff_ms) ||
	    reconsume_error_bad(req->error))
		return -EINVAL;
	/* One back-off, and none for a record dead-lettered now. */
	if ((req->delay_ms && req->nr_backoff) ||
	    ((req->flags & MQDEV_RECONSUME_DEAD) &&
	     (req->delay_ms || req->nr_backoff)))
		return -EINVAL;
	/* A retry topic, but for a record sent to its DLQ now. */
	if (!reconsume_name_none(req->retry_topic) ||
	    !(req->flags & MQDEV_RECONSUME_DEAD)) {
		if (mqdev_name_check(req->retry_topic))
			return -EINVAL;
	}
	if (!reconsume_name_none(req->dlq) && mqdev_name_check(req->dlq))
		return -EINVAL;
	return 0;
}

/* The record the member hands back, what the kernel knows of it. */
struct reconsume_rec {
	u64	pos;
	u32	len;
	char	group[MQDEV_NAME_SIZE];
};

/*
 * Under the groups_lock: the caller is the member owning the partition in
 * the generation, the offset is one it has not committed, and the ring has
 * it.  Return: 0 with @r filled in; -EIDRM, -ESTALE, -ERANGE, -ENODATA.
 */
static int reconsume_find(struct mqdev_handle *h, struct mqdev_member *m,
			  const struct mqdev_reconsume *req,
			  struct reconsume_rec *r)
{
	struct mqdev_part *part = &h->topic->parts[req->partition];
	struct mqdev_group *g = m->group;
	struct mqdev_group_part *gp;
	u64 off = req->offset;
	int err;

	lockdep_assert_held(&h->topic->groups_lock);
	if (g->dead)
		return -EIDRM;
	gp = &g->parts[req->partition];
	if (req->generation != g->generation || gp->owner != m)
		return -ESTALE;
	/* Not one committed, nor one no consumer has seen. */
	if (off < gp->offset || off >= READ_ONCE(part->hw_offset))
		return -ERANGE;
	r->pos = gp->pos;
	err = mqdev_ring_locate(part, MQDEV_SEEK_OFFSET, &off, &r->pos,
				gp->offset);
	if (err)
		return err;
	if (off != req->offset)
		return -ENODATA;
	/* Checked against the copy's: mqdev_record_copy(). */
	r->len = READ_ONCE(mqdev_ring_record(part, r->pos)->len);
	memcpy(r->group, g->name, sizeof(r->group));
	return 0;
}

/*
 * Past its deliveries, or handed back for good: its dead letter, or
 * nothing without a DLQ.
 */
static int reconsume_dead(struct mqdev_reconsume *req, struct mqdev_topic *dlq,
			  struct mqdev_letter *l, const struct mqdev_record *rec)
{
	int err = 0;

	l->reason = req->flags & MQDEV_RECONSUME_DEAD ?
		    MQDEV_DLQ_REJECTED : MQDEV_DLQ_MAX_DELIVERIES;
	l->flags = MQDEV_RECORD_DEAD_LETTER;
	if (dlq)
		err = mqdev_letter_append(dlq, l, rec);
	if (!err)
		req->result = dlq ? MQDEV_RECONSUME_DEAD_LETTERED :
				    MQDEV_RECONSUME_DROPPED;
	return err;
}

/* Its retry, due after the back-off for the deliveries it had. */
static int reconsume_retry(struct mqdev_reconsume *req,
			   struct mqdev_topic *retry, struct mqdev_letter *l,
			   const struct mqdev_record *rec)
{
	struct mqdev_msg msg;
	u64 delay;
	u8 *value;
	u32 id;
	int err;

	if (req->delay_ms)
		delay = (u64)req->delay_ms * NSEC_PER_MSEC;
	else if (req->nr_backoff)
		delay = mqdev_backoff_ns(req->nr_backoff, req->backoff_ms,
					 l->count);
	else
		delay = mqdev_backoff_ns(RECONSUME_DEF_LEVELS,
					 reconsume_backoff_ms, l->count);
	l->count++;
	l->reason = MQDEV_DLQ_RECONSUME;
	l->flags = MQDEV_RECORD_RETRY;
	value = mqdev_letter_msg(l, rec, retry, &msg);
	if (IS_ERR(value))
		return PTR_ERR(value);
	req->due = ktime_get_real_ns() + delay;
	err = mqdev_sched_kernel(retry, &msg, rec + 1, req->due, &id);
	kvfree(value);
	if (err) {
		req->due = 0;
		return err;
	}
	req->result = MQDEV_RECONSUME_RETRIED;
	return 0;
}

/*
 * Its transaction's state, read on the ring record, not on the copy: the
 * slot protocol re-reads the record's flags where an abort marks them,
 * and a slot reused since the copy must not pass an aborted record for a
 * committed one.  The lap check again after: the ring record read was
 * still this one.  Return: 0, or -ENODATA for an open or aborted
 * transaction's record or one the ring reclaimed meanwhile.
 */
static int reconsume_txn(struct mqdev_part *part, u64 pos, u64 offset)
{
	const struct mqdev_record *rec = mqdev_ring_record(part, pos);
	u32 state = mqdev_txn_record_state(part, rec);

	/* Pairs with smp_wmb() in ring_publish_tail(). */
	smp_rmb();
	/* An overwrite producer may be writing it: any other value fails. */
	if (READ_ONCE(part->ctrl->tail) > pos || READ_ONCE(rec->offset) != offset)
		return -ENODATA;
	return state ? -ENODATA : 0;
}

/*
 * A retry's first delivery's place and count, when it is this group's
 * retry; another group's starts again at one, from here.  Its origin
 * cannot be the DLQ: a dead letter there would be read again, for ever.
 */
static int reconsume_origin(const struct mqdev_record *rec,
			    struct mqdev_letter *l, char *origin,
			    const struct mqdev_topic *dlq)
{
	int err = mqdev_letter_origin(rec, l, origin);

	if (err > 0)
		return 0;
	if (!err && dlq && !strcmp(l->topic, dlq->name))
		return -EINVAL;
	return err;
}

/*
 * The record @r found: copied, then retried or dead-lettered.  Its first
 * delivery's place and count come from the kernel's own headers of a
 * retry, else from where it is.
 */
static int reconsume_record(struct mqdev_topic *topic,
			    struct mqdev_reconsume *req,
			    const struct reconsume_rec *r,
			    struct mqdev_topic *retry, struct mqdev_topic *dlq)
{
	struct mqdev_letter l = {
		.topic = topic->name, .group = r->group, .error = req->error,
		.part = req->partition, .offset = req->offset, .count = 1,
	};
	u32 max = req->max_deliveries ?: MQDEV_RECONSUME_DEF_DELIVERIES;
	struct mqdev_part *part = &topic->parts[req->partition];
	struct mqdev_record *rec;
	char origin[MQDEV_NAME_SIZE];
	int err;

	/* Read with no lock: a length the ring no longer means is refused. */
	if (r->len > topic->max_record)
		return -ENODATA;
	rec = mqdev_record_copy(part, r->pos, req->offset, r->len);
	if (IS_ERR(rec))
		return PTR_ERR(rec);
	l.timestamp = rec->timestamp;
	/* No consumer is handed an open or aborted transaction's record. */
	err = reconsume_txn(part, r->pos, req->offset);
	if (!err && (rec->flags & MQDEV_RECORD_RETRY))
		err = reconsume_origin(rec, &l, origin, dlq);
	if (!err) {
		if ((req->flags & MQDEV_RECONSUME_DEAD) || l.count >= max)
			err = reconsume_dead(req, dlq, &l, rec);
		else
			err = reconsume_retry(req, retry, &l, rec);
	}
	req->deliveries = l.count;
	kvfree(rec);
	return err;
}

/* The topics named, referenced: the caller must be allowed to write them. */
static int reconsume_topics(struct mqdev_topic *topic,
			    const struct mqdev_reconsume *req,
			    struct mqdev_topic **retry, struct mqdev_topic **dlq)
{
	*retry = NULL;
	*dlq = NULL;
	if (!reconsume_name_none(req->retry_topic)) {
		*retry = mqdev_letter_topic_get(topic, req->retry_topic, true);
		if (IS_ERR(*retry))
			return PTR_ERR(*retry);
	}
	if (!reconsume_name_none(req->dlq)) {
		*dlq = mqdev_letter_topic_get(topic, req->dlq, false);
		if (IS_ERR(*dlq)) {
			if (*retry)
				mqdev_topic_put(*retry);
			return PTR_ERR(*dlq);
		}
	}
	return 0;
}

/**
 * mqdev_group_reconsume() - MQDEV_IOC_GROUP_RECONSUME: retry a record later
 * @ioc: the call, on a group member's consuming handle
 * @req: the request; the copy's delivery count, what became of it and its
 *	 due time go back
 *
 * Return: 0; -EBADFD for a handle that is no member; -EINVAL for a bad
 * request, or a DLQ that is the handle's topic or the first topic of
 * this group's retry; -EOPNOTSUPP for a single
 * writer's topic (the handle's or one named); -ENOENT, -EACCES for a topic
 * named that is missing or the caller may not produce to; -EIDRM for a
 * deleted group, or a retry topic or DLQ deleted since it was looked up;
 * -EAGAIN for a topic being restored; -ESTALE when the member does not
 * own the partition in the generation; -ERANGE for an offset committed or
 * past the high watermark; -ENODATA for a record the ring no longer has,
 * or of a transaction open or aborted; -EBADMSG for a retry whose kernel
 * headers do not hold, or a retry (not a dead letter) of a record with a
 * bad header block; -EMSGSIZE for a copy larger than the retry topic's or
 * DLQ's max_record; -EAGAIN for a full DLQ; -EDQUOT, -ENOSPC past the
 * limits of scheduled messages; -ENOMEM.  On an error nothing was written
 * or scheduled.
 */
long mqdev_group_reconsume(struct mqdev_ioc *ioc, struct mqdev_reconsume *req)
{
	struct mqdev_handle *h = ioc->h;
	struct mqdev_topic *topic = ioc->topic;
	/* Pairs with smp_store_release() in group.c's join. */
	struct mqdev_member *m = smp_load_acquire(&h->member);
	struct mqdev_topic *retry, *dlq;
	struct reconsume_rec r;
	int err;

	if (!m)
		return -EBADFD;
	err = reconsume_check(req);
	if (err)
		return err;
	if (req->partition >= topic->nr_parts)
		return -EINVAL;
	/* Its records are a single writer's, not the kernel's to trust. */
	if (mqdev_swriter(topic))
		return -EOPNOTSUPP;
	err = reconsume_topics(topic, req, &retry, &dlq);
	if (err)
		return err;
	mutex_lock(&topic->groups_lock);
	err = reconsume_find(h, m, req, &r);
	mutex_unlock(&topic->groups_lock);
	if (!err)
		err = reconsume_record(topic, req, &r, retry, dlq);
	if (retry)
		mqdev_topic_put(retry);
	if (dlq)
		mqdev_topic_put(dlq);
	return err;
}
