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

/* How often the in-sync sets are looked at, and waiters look again. */
static unsigned long replica_check_period(void)
{
	return max(msecs_to_jiffies(mqdev_limit(&replica_lag_ms)) / 4, 1UL);
}

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
	mod_delayed_work(system_wq, &topic->isr_work, replica_check_period());
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

	WRITE_ONCE(part->nr_in_sync, n);
	if (n) {
		part->hw_pos = pos;
		WRITE_ONCE(part->hw_offset, offset);
	}
	/* With none in sync, publishing makes the end the watermark. */
	mqdev_ring_publish(part);
	if (n != was) {
		mqdev_ring_wake_readers(part);
		wake_up_interruptible_all(&topic->groups_wait);
	}
	/* Room held for the slowest replica may be free now. */
	mqdev_ring_moved(part);
}

/*
 * Has @rp all a replica may have of @part?  Every record, or every one up
 * to a transaction not yet decided, which it may not confirm (see
 * replica_advance()): that is the writer's wait, not the replica's lag.
 */
static bool replica_caught_up(struct mqdev_part *part,
			      const struct mqdev_replica_part *rp)
{
	const u16 done = MQDEV_RECORD_COMMITTED | MQDEV_RECORD_ABORTED;
	const struct mqdev_record *rec;

	if (!rp->known)
		return false;
	if (rp->offset >= part->next_offset)
		return true;
	rec = mqdev_ring_record(part, rp->pos);
	return (rec->flags & MQDEV_RECORD_TXN) && !(rec->flags & done);
}

/*
 * Is a replica behind on the groups for longer than replica_lag_ms?  The
 * time it fell behind is taken the first time it is seen so, here: at most
 * a check period late.  Under the topic's replicas_lock.
 */
static bool replica_groups_lagging(struct mqdev_topic *topic,
				   struct mqdev_replica *r, unsigned long lag)
{
	if (r->groups_safe >= READ_ONCE(topic->groups_serial)) {
		r->groups_behind = 0;
		return false;
	}
	if (!r->groups_behind)
		r->groups_behind = jiffies ?: 1;
	return time_after(jiffies, r->groups_behind + lag);
}

/*
 * Drop the replicas that lag: one that has not been caught up (as Kafka's
 * replica.lag.time.max.ms counts it: every record appended before its last
 * confirmation confirmed by it) for replica_lag_ms, or that left the
 * groups' changes unconfirmed for as long.  On jiffies, which no clock
 * change moves.
 */
static void replica_isr_check(struct mqdev_part *part)
{
	unsigned long lag = msecs_to_jiffies(mqdev_limit(&replica_lag_ms));
	struct mqdev_topic *topic = part->topic;
	struct mqdev_replica_part *rp;
	struct mqdev_replica *r;

	lockdep_assert_held(&part->lock);
	spin_lock(&topic->replicas_lock);
	list_for_each_entry(r, &topic->replicas, node) {
		rp = &r->parts[part->index];
		if (!rp->in_sync)
			continue;
		if (replica_caught_up(part, rp))
			rp->caught_up = jiffies;
		if (time_after(jiffies, rp->caught_up + lag) ||
		    replica_groups_lagging(topic, r, lag))
			WRITE_ONCE(rp->in_sync, false);
	}
	spin_unlock(&topic->replicas_lock);
}

/* A waiter's slice ran out, or the check period: drop replicas that lag. */
static void replica_isr_refresh(struct mqdev_part *part)
{
	mutex_lock(&part->lock);
	replica_isr_check(part);
	replica_hw_update(part);
	mutex_unlock(&part->lock);
}

/**
 * mqdev_replica_isr_work() - look at a durable topic's in-sync sets
 * @work: the topic's isr_work
 *
 * Every quarter of replica_lag_ms while the topic has replicas, so that a
 * replica that stopped (hung, stopped, its disk stuck) leaves the in-sync
 * sets in time whoever waits: producers for room, consumers for the
 * watermark, acks=all producers, group commits.  It holds no reference:
 * the topic's release cancels it first.
 */
void mqdev_replica_isr_work(struct work_struct *work)
{
	struct mqdev_topic *topic = container_of(to_delayed_work(work),
						 struct mqdev_topic, isr_work);
	u32 i;

	for (i = 0; i < topic->nr_parts; i++)
		if (READ_ONCE(topic->parts[i].nr_in_sync))
			replica_isr_refresh(&topic->parts[i]);
	if (READ_ONCE(topic->nr_replicas) && !mqdev_topic_dead(topic))
		mod_delayed_work(system_wq, &topic->isr_work,
				 replica_check_period());
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
		WRITE_ONCE(r->parts[i].in_sync, false);
		replica_hw_update(part);
		mutex_unlock(&part->lock);
	}
	spin_lock(&topic->replicas_lock);
	list_del(&r->node);
	topic->nr_replicas--;
	spin_unlock(&topic->replicas_lock);
	/* Its hold on the scheduled messages ends, after sched_hold_ms. */
	mqdev_sched_unhold(topic, r);
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

/* Replica @r kept the groups' state up to @serial. */
static int replica_confirm_groups(struct mqdev_topic *topic,
				  struct mqdev_replica *r, u64 serial)
{
	if (serial > READ_ONCE(topic->groups_serial))
		return -ERANGE;
	spin_lock(&topic->replicas_lock);
	r->groups_safe = max(r->groups_safe, serial);
	spin_unlock(&topic->replicas_lock);
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
		       replica_confirm_groups(ioc->topic, r, req->offset);
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
	/* Caught up with the end as it stood at its last confirmation. */
	if (rp->known && rp->offset >= rp->prev_end)
		rp->caught_up = jiffies;
	rp->prev_end = part->next_offset;
	if (!rp->in_sync && replica_caught_up(part, rp)) {
		WRITE_ONCE(rp->in_sync, true);
		rp->caught_up = jiffies;
	}
	replica_isr_check(part);
	replica_hw_update(part);
	req->offset = rp->offset;
	req->high_watermark = part->hw_offset;
	mutex_unlock(&part->lock);
	return 0;
}

/**
 * mqdev_replica_groups_pending() - have the groups changed past a replica?
 * @topic: a durable topic
 * @r: one of its replicas
 *
 * For poll: the replica's EPOLLPRI.
 *
 * Return: true while the groups changed past what @r confirmed.
 */
bool mqdev_replica_groups_pending(struct mqdev_topic *topic,
				  struct mqdev_replica *r)
{
	bool pending;

	spin_lock(&topic->replicas_lock);
	pending = r->groups_safe < READ_ONCE(topic->groups_serial);
	spin_unlock(&topic->replicas_lock);
	return pending;
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

/**
 * mqdev_acks_wait_part() - wait until @part's watermark reaches @need
 * @part: a partition of a durable topic
 * @need: the offset after the last record waited for
 *
 * Replicas that lag are dropped from the in-sync set meanwhile, a quarter
 * of replica_lag_ms at a time, so the wait is bounded.
 *
 * Return: as mqdev_acks_wait().
 */
int mqdev_acks_wait_part(struct mqdev_part *part, u64 need)
{
	long left;

	for (;;) {
		left = wait_event_interruptible_timeout(part->data_wait,
							acks_settled(part, need),
							replica_check_period());
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
		err = mqdev_acks_wait_part(&topic->parts[i], need[i]);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Every replica in sync in @part kept the groups at @serial (with none in
 * sync, that is every one), or the topic is gone.  A wait condition: the
 * in-sync flags are read without the partition's lock, and looked at again
 * by the next wake-up when they change.
 */
static bool groups_settled(struct mqdev_part *part, u64 serial)
{
	struct mqdev_topic *topic = part->topic;
	struct mqdev_replica *r;
	bool safe = true;

	if (mqdev_topic_dead(topic))
		return true;
	spin_lock(&topic->replicas_lock);
	list_for_each_entry(r, &topic->replicas, node)
		if (READ_ONCE(r->parts[part->index].in_sync) &&
		    r->groups_safe < serial)
			safe = false;
	spin_unlock(&topic->replicas_lock);
	return safe;
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
							replica_check_period());
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
