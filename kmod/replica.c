// SPDX-License-Identifier: GPL-2.0
/*
 * Replicas of a durable topic, and the high watermark they set.
 *
 * A replica is a privileged handle (MQDEV_ATTACH_REPLICA) that reads a
 * durable topic's partitions up to the end of the log, makes the records
 * safe somewhere (a disk, another host) and confirms, per partition, the
 * offset before which they are (MQDEV_IOC_REPLICA_CONFIRM).  In each
 * partition:
 *
 *              tail          high watermark                    end
 *   ... | consumed, kept | safe: consumers see it | not yet safe |  free
 *                                    ^ the slowest replica in sync
 *
 * A replica joins the in-sync set of a partition when it has confirmed every
 * record appended to it, and leaves it when the oldest record it has not
 * confirmed was appended more than replica_lag_ms ago, or when its handle
 * is closed.  The high watermark is the lowest offset the in-sync replicas
 * have confirmed, or the end of the log while none is in sync.  It never
 * goes back: a replica joins at the end, which is past it, and a replica
 * that leaves only raises the lowest.  While a replica is in sync, the ring
 * keeps every record past the watermark: a producer waits for the slowest
 * in-sync replica, never past the time-out.
 *
 * Producers attached with MQDEV_ATTACH_ACKS_ALL are refused while fewer
 * replicas are in sync in their partition than the topic's min_insync, and
 * wait after appending until the watermark has passed their records.
 *
 * All of a partition's replica state is under its part->lock; the list of
 * replicas under topic->replicas_lock, taken inside it.  Nothing here sleeps
 * or touches user memory under either.
 */

#include <linux/ktime.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include "mqdev.h"

MQDEV_LIMIT(max_topic_replicas, 4, 1, 64,
	    "replica handles one durable topic may have");
MQDEV_LIMIT(replica_lag_ms, 10000, 10, 3600000,
	    "ms a replica in sync may leave a record unconfirmed");

/**
 * mqdev_replica_attach() - make @h a replica of the durable @topic
 * @h: the handle, being attached to consume, its lock held
 * @topic: the topic
 *
 * The replica starts out of sync everywhere: it joins a partition's
 * in-sync set by confirming the end of the log there.
 *
 * Return: 0, -ENOSPC when the topic has max_topic_replicas replicas, or
 * -ENOMEM.
 */
int mqdev_replica_attach(struct mqdev_handle *h, struct mqdev_topic *topic)
{
	struct mqdev_replica *r;
	int err = 0;

	r = kvzalloc(struct_size(r, parts, topic->nr_parts),
		     GFP_KERNEL_ACCOUNT);
	if (!r)
		return -ENOMEM;
	r->nr_parts = topic->nr_parts;

	spin_lock(&topic->replicas_lock);
	if (topic->nr_replicas >= mqdev_limit(&max_topic_replicas)) {
		err = -ENOSPC;
	} else {
		list_add_tail(&r->node, &topic->replicas);
		topic->nr_replicas++;
	}
	spin_unlock(&topic->replicas_lock);
	if (err) {
		kvfree(r);
		return err;
	}
	h->replica = r;
	return 0;
}

/*
 * The in-sync set and the watermark, from the replicas' confirmations.
 * Readers and acks=all producers are woken when either changed.
 */
static void replica_hw_update(struct mqdev_part *part)
{
	struct mqdev_topic *topic = part->topic;
	struct mqdev_replica_part *rp;
	struct mqdev_replica *r;
	u64 offset = U64_MAX, pos = 0;
	u32 n = 0, was = part->nr_in_sync;

	lockdep_assert_held(&part->lock);
	spin_lock(&topic->replicas_lock);
	list_for_each_entry(r, &topic->replicas, node) {
		rp = &r->parts[part->index];
		if (!rp->in_sync)
			continue;
		n++;
		if (rp->offset < offset) {
			offset = rp->offset;
			pos = rp->pos;
		}
	}
	spin_unlock(&topic->replicas_lock);

	part->nr_in_sync = n;
	if (n) {
		part->hw_pos = pos;
		WRITE_ONCE(part->hw_offset, offset);
	}
	/* With none in sync, publishing makes the end the watermark. */
	mqdev_ring_publish(part);
	if (n != was)
		mqdev_ring_wake_readers(part);
	/* Room held for the slowest replica may be free now. */
	mqdev_ring_moved(part);
}

/*
 * Drop the replicas that left a record unconfirmed for longer than
 * replica_lag_ms: by the record's own timestamp, so that a replica that was
 * idle because nothing was appended is not blamed for it.
 */
static void replica_isr_check(struct mqdev_part *part)
{
	u64 lag = mqdev_limit(&replica_lag_ms) * NSEC_PER_MSEC;
	u64 now = ktime_get_real_ns();
	struct mqdev_replica_part *rp;
	struct mqdev_replica *r;
	u64 stamp;

	lockdep_assert_held(&part->lock);
	spin_lock(&part->topic->replicas_lock);
	list_for_each_entry(r, &part->topic->replicas, node) {
		rp = &r->parts[part->index];
		if (!rp->in_sync || rp->offset >= part->next_offset)
			continue;
		/* In sync, so the ring still keeps its first unconfirmed. */
		stamp = mqdev_ring_record(part, rp->pos)->timestamp;
		if (now > stamp && now - stamp > lag)
			rp->in_sync = false;
	}
	spin_unlock(&part->topic->replicas_lock);
}

/**
 * mqdev_replica_detach() - a replica handle is closed
 * @h: the handle
 * @topic: its topic
 *
 * It leaves every in-sync set at once: the watermark moves on without it.
 */
void mqdev_replica_detach(struct mqdev_handle *h, struct mqdev_topic *topic)
{
	struct mqdev_replica *r = h->replica;
	struct mqdev_part *part;
	u32 i;

	if (!r)
		return;
	for (i = 0; i < topic->nr_parts; i++) {
		part = &topic->parts[i];
		mutex_lock(&part->lock);
		r->parts[i].in_sync = false;
		replica_hw_update(part);
		mutex_unlock(&part->lock);
	}
	spin_lock(&topic->replicas_lock);
	list_del(&r->node);
	topic->nr_replicas--;
	spin_unlock(&topic->replicas_lock);
	h->replica = NULL;
	kvfree(r);
}

/*
 * Move @rp to @offset: walk the ring from where it stood (or from the tail,
 * if the ring no longer keeps that), stopping before a record of a
 * transaction not yet decided.  The ring is the kernel's: its records are
 * trusted, and the walk is bounded by the records in it.
 */
static void replica_advance(struct mqdev_part *part,
			    struct mqdev_replica_part *rp, u64 offset)
{
	const u16 done = MQDEV_RECORD_COMMITTED | MQDEV_RECORD_ABORTED;
	struct mqdev_record *rec;
	u64 pos = rp->pos, off = rp->offset;

	if (!rp->known || off < part->tail_offset) {
		pos = part->tail;
		off = part->tail_offset;
	}
	if (offset < off) {		/* no longer in the ring */
		rp->offset = offset;
		rp->known = false;
		return;
	}
	while (off < offset) {
		rec = mqdev_ring_record(part, pos);
		if ((rec->flags & MQDEV_RECORD_TXN) && !(rec->flags & done))
			break;
		pos += MQDEV_RECORD_SPACE(rec->len);
		off = rec->offset + 1;
	}
	rp->offset = off;
	rp->pos = pos;
	rp->known = true;
}

/* A replica confirmed the groups' state up to @serial. */
static int replica_confirm_groups(struct mqdev_topic *topic, u64 serial)
{
	s64 safe = atomic64_read(&topic->groups_safe);
	int err = 0;

	mutex_lock(&topic->groups_lock);
	if (serial > topic->groups_serial)
		err = -ERANGE;
	mutex_unlock(&topic->groups_lock);
	if (err)
		return err;
	while (safe < (s64)serial &&
	       !atomic64_try_cmpxchg(&topic->groups_safe, &safe, serial))
		;
	wake_up_interruptible_all(&topic->groups_wait);
	return 0;
}

/**
 * mqdev_replica_confirm() - MQDEV_IOC_REPLICA_CONFIRM
 * @ioc: the ioctl, on a replica handle
 * @req: the request; where the confirmation stopped and the watermark go
 *	 back
 *
 * With MQDEV_CONFIRM_GROUPS, @req's offset is a serial of the groups'
 * state (MQDEV_IOC_REPLICA_GROUPS): the commits up to it are safe.
 *
 * Return: 0; -EBADF on a handle that is not a replica; -EINVAL for flags
 * or reserved fields set, no such partition, or an offset below the one
 * the replica confirmed before; -ERANGE for an offset past the end of the
 * log (or a serial not reached yet); -EINTR for a signal; or -EFAULT.
 */
long mqdev_replica_confirm(struct mqdev_ioc *ioc,
			   struct mqdev_replica_confirm *req)
{
	struct mqdev_replica *r = ioc->h->replica;
	struct mqdev_replica_part *rp;
	struct mqdev_part *part;
	int err;

	if (!r)
		return -EBADF;
	if ((req->flags & ~MQDEV_CONFIRM_FLAGS) || req->reserved[0] ||
	    req->reserved[1] || req->partition >= ioc->topic->nr_parts)
		return -EINVAL;
	if (req->flags & MQDEV_CONFIRM_GROUPS)
		return req->partition ? -EINVAL :
		       replica_confirm_groups(ioc->topic, req->offset);
	part = &ioc->topic->parts[req->partition];
	rp = &r->parts[req->partition];

	err = mutex_lock_interruptible(&part->lock);
	if (err)
		return err;
	if (req->offset > part->next_offset)
		err = -ERANGE;
	else if (req->offset < rp->offset)
		err = -EINVAL;
	if (err) {
		mutex_unlock(&part->lock);
		return err;
	}
	replica_advance(part, rp, req->offset);
	if (rp->known && rp->offset == part->next_offset)
		rp->in_sync = true;
	replica_isr_check(part);
	replica_hw_update(part);
	req->offset = rp->offset;
	req->high_watermark = part->hw_offset;
	mutex_unlock(&part->lock);
	return 0;
}

/**
 * mqdev_replica_groups_pending() - do group commits wait for a replica?
 * @topic: a durable topic
 *
 * Lock-free, for poll: a replica's EPOLLPRI.
 *
 * Return: true while the groups changed past what a replica confirmed.
 */
bool mqdev_replica_groups_pending(struct mqdev_topic *topic)
{
	return READ_ONCE(topic->groups_serial) >
	       (u64)atomic64_read(&topic->groups_safe);
}

/**
 * mqdev_acks_check() - may an acks=all producer append to @part?
 * @part: the partition of a durable topic
 *
 * Lock-free: the in-sync set may change the next moment, as Kafka's does.
 *
 * Return: 0, or -ENOLINK while fewer replicas are in sync in @part than
 * the topic's min_insync.
 */
int mqdev_acks_check(struct mqdev_part *part)
{
	return READ_ONCE(part->nr_in_sync) < part->topic->min_insync ?
	       -ENOLINK : 0;
}

/* Safe, or no longer safe to wait for: the in-sync set fell too small. */
static bool acks_settled(struct mqdev_part *part, u64 need)
{
	return READ_ONCE(part->hw_offset) >= need || mqdev_acks_check(part) ||
	       mqdev_topic_dead(part->topic);
}

/* How long a waiter for the replicas sleeps before it checks on them. */
static long replica_wait_slice(void)
{
	return max(msecs_to_jiffies(mqdev_limit(&replica_lag_ms)) / 4, 1UL);
}

/* A waiter's slice ran out: drop the replicas that lag behind. */
static void replica_isr_refresh(struct mqdev_part *part)
{
	mutex_lock(&part->lock);
	replica_isr_check(part);
	replica_hw_update(part);
	mutex_unlock(&part->lock);
}

/* Wait for @part's watermark to reach @need, dropping replicas that lag. */
static int acks_wait_part(struct mqdev_part *part, u64 need)
{
	long left;

	for (;;) {
		left = wait_event_interruptible_timeout(part->data_wait,
							acks_settled(part, need),
							replica_wait_slice());
		/* Appended already: a restart would append it again. */
		if (left < 0)
			return -EINTR;
		if (mqdev_topic_dead(part->topic))
			return -EIDRM;
		if (left)
			return mqdev_acks_check(part);
		replica_isr_refresh(part);
	}
}

/**
 * mqdev_acks_wait() - wait until what an acks=all produce appended is safe
 * @topic: the durable topic
 * @need: per partition, the offset the watermark must reach (0: none)
 *
 * Bounded: a replica that does not confirm leaves the in-sync set after
 * replica_lag_ms, and then either the watermark moves or the set is too
 * small.
 *
 * Return: 0; -ENOLINK when fewer replicas than min_insync remain in sync;
 * -EINTR for a signal; -EIDRM when the topic was deleted.
 */
int mqdev_acks_wait(struct mqdev_topic *topic, const u64 *need)
{
	int err;
	u32 i;

	for (i = 0; i < topic->nr_parts; i++) {
		if (!need[i])
			continue;
		err = acks_wait_part(&topic->parts[i], need[i]);
		if (err)
			return err;
	}
	return 0;
}

/* Safe, or no replica is in sync to make it so, or the topic is gone. */
static bool groups_settled(struct mqdev_part *part, u64 serial)
{
	return atomic64_read(&part->topic->groups_safe) >= (s64)serial ||
	       !READ_ONCE(part->nr_in_sync) || mqdev_topic_dead(part->topic);
}

/**
 * mqdev_groups_wait_safe() - wait until a group commit is safe
 * @part: the partition committed, of a durable topic
 * @serial: the groups' serial after the commit
 *
 * Only while a replica is in sync in @part: a commit is then returned only
 * once a replica kept it, so that a committed offset never goes back
 * across a restart.  With none in sync it is as safe as it will get.
 * Bounded as mqdev_acks_wait() is.
 *
 * Return: 0, or -EINTR for a signal (committed, not known safe).
 */
int mqdev_groups_wait_safe(struct mqdev_part *part, u64 serial)
{
	long left;

	for (;;) {
		left = wait_event_interruptible_timeout(part->topic->groups_wait,
							groups_settled(part,
								       serial),
							replica_wait_slice());
		if (left < 0)
			return -EINTR;
		if (left)
			return 0;
		replica_isr_refresh(part);
	}
}

/**
 * mqdev_replica_groups() - MQDEV_IOC_REPLICA_GROUPS: the groups to keep
 * @ioc: the ioctl, on a replica handle
 * @req: room for the groups' states; how many there are and the serial
 *	 they are at go back
 *
 * Snapshotted under the groups' lock, copied out after it.
 *
 * Return: 0; -EBADF on a handle that is no replica; -EINVAL for a bad
 * request or a state size too small for the topic's partitions; -ENOMEM;
 * or -EFAULT.
 */
long mqdev_replica_groups(struct mqdev_ioc *ioc,
			  struct mqdev_replica_groups *req)
{
	size_t size = mqdev_groups_state_size(ioc->topic);
	u8 __user *dst = u64_to_user_ptr(req->states);
	u32 room, n, i;
	void *buf = NULL;
	int err = 0;

	if (!ioc->h->replica)
		return -EBADF;
	if (req->reserved[0] || req->reserved[1] ||
	    (req->count && (req->state_size < size ||
			    req->state_size > 4 * PAGE_SIZE)))
		return -EINVAL;
	room = min_t(unsigned long, req->count, mqdev_limit_topic_groups());
	if (room) {
		buf = kvcalloc(room, size, GFP_KERNEL);
		if (!buf)
			return -ENOMEM;
	}
	n = mqdev_groups_snapshot(ioc->topic, buf, room, &req->serial);
	for (i = 0; i < min(n, room) && !err; i++)
		err = mqdev_copy_element(dst + (size_t)i * req->state_size,
					 buf + i * size, size,
					 req->state_size);
	req->count = n;
	kvfree(buf);
	return err;
}
