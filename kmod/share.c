// SPDX-License-Identifier: GPL-2.0
/*
 * Share groups (KIP-932's model): records of a partition are handed out to
 * any member, each under a lock that expires, and accepted, released or
 * rejected one by one.  Per partition the group keeps an in-flight window
 * of offsets [start, end) with a slot per record; before start every record
 * is done, from end on none was looked at.  Documentation/mqdev.rst, "Share
 * groups", has the design.
 *
 * A group outlives its members (KIP-932): its windows and delivery counts
 * stay until netlink GROUP_DELETE or its topic's end, so a record that
 * kills every member that takes it still reaches max_deliveries, and a
 * lone member that restarts goes on where the group was.
 *
 * Locks: groups are on topic->shares under topic->groups_lock; a group's
 * state is under its own sg->lock, taken outside a partition's lock and
 * never under groups_lock: a scan of a window under sg->lock may take long,
 * and every GROUP_COMMIT and JOIN of the topic's consumer groups needs
 * groups_lock (design page, "Share groups").  What a join or a deletion
 * needs of a group under groups_lock is groups_lock's own: its place on the
 * list, next_member_id, dead (set once, read with READ_ONCE) and
 * nr_members (atomic: a leave lowers it without groups_lock).
 * No user memory is touched under either lock.  A group is counted
 * (sg->ref): one for the topic's list, one a member, and one for a describe
 * that let go of groups_lock.
 *
 * Members waiting to acquire (poll(2), a blocking MQDEV_IOC_SHARE_ACQUIRE)
 * sleep on sg->wait, woken when a record becomes acquirable again (release,
 * lock expiry, a back-off's end, a member's death) or the group is deleted,
 * and on the topic's read_wait, woken by appends and transaction decisions.
 *
 * A group's dead-letter settings (sg->dlq, dlq.c) live as long as it is
 * listed: a memberless group still dead-letters and reports them.  Its
 * deletion (GROUP_DELETE, its topic's) takes it off the list under
 * groups_lock, then, with groups_lock let go of, lets go of its dead-letter
 * settings and of the list's reference: see shares_reap().
 */

#include <linux/bitmap.h>
#include <linux/jiffies.h>
#include <linux/kref.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/time_namespace.h>
#include <net/netlink.h>
#include "mqdev.h"

MQDEV_LIMIT(max_share_inflight, 1024, 16, 65536,
	    "Most in-flight records of a share group in one partition");

#define SHARE_DEFAULT_LOCK_MS		30000
#define SHARE_DEFAULT_DELIVERIES	5

enum share_state {
	SLOT_AVAILABLE,
	SLOT_ACQUIRED,
	SLOT_ACKED,
	SLOT_REJECTED,
	SLOT_LOST,		/* the ring reclaimed it before it was done */
};

/* One record of the window; what is outside [start, end) is stale. */
struct share_slot {
	u64	pos;		/* the record's position in the ring */
	u64	time;		/* acquired: lock's end; available: back-off's */
	u32	member;		/* acquired: by whom */
	u32	len;
	u16	count;		/* deliveries so far */
	u8	state;		/* enum share_state */
	u8	dead;		/* enum mqdev_dlq_note: a dead letter to write */
	u8	why;		/* rejected: enum mqdev_dlq_reason */
};

struct share_part {
	u64			start, end;	/* offsets */
	u64			start_pos;	/* held: hold.pos points here */
	u64			end_pos;
	u32			nr_acquired;	/* slots acquired: 0, not scanned */
	u32			nr_waiting;	/* dead letters waiting for dlq.c */
	u64			waiting_from;	/* no waiting one before: offset */
	u64			deadline;	/* no lock ends before: U64_MAX */
	u64			ready_at;	/* none available before: U64_MAX */
	struct mqdev_hold	hold;
	struct share_slot	*slots;
};

struct mqdev_share {
	struct list_head	node;		/* on topic->shares */
	struct mqdev_topic	*topic;
	char			name[MQDEV_NAME_SIZE];
	kuid_t			uid;		/* its maker, charged */
	struct kref		ref;
	u32			next_member_id;	/* groups_lock */
	bool			dead;		/* set under groups_lock, once */
	atomic_t		nr_members;	/* raised under groups_lock */
	wait_queue_head_t	wait;		/* members waiting to acquire */
	struct mutex		lock;		/* all below */
	u32			lock_ms;
	u32			max_deliveries;
	u32			reset;
	u32			window;		/* slots a partition: 2^n */
	u32			next_part;	/* MQDEV_PARTITION_ANY's turn */
	bool			holds;
	u32			nr_charged;	/* parts whose window is charged */
	u64			lost;		/* records lost to the ring */
	u64			rejected;	/* records put aside, ever */
	u64			expire_at;	/* the work's, or U64_MAX */
	struct mqdev_dlq	*dlq;		/* dlq.c's, or NULL: set once */
	struct delayed_work	expire;
	u32			nr_parts;
	struct share_part	parts[] __counted_by(nr_parts);
};

struct mqdev_share_member {
	struct mqdev_share	*sg;
	u32			id;
};

/*
 * Never under groups_lock (top of the file): lockdep checks every taker,
 * and a debug kernel's selftests (make check-debug) run them all.
 */
static void share_lock(struct mqdev_share *sg)
{
	lockdep_assert_not_held(&sg->topic->groups_lock);
	mutex_lock(&sg->lock);
}

static struct share_slot *share_slot(struct mqdev_share *sg,
				     struct share_part *sp, u64 offset)
{
	return &sp->slots[offset & (sg->window - 1)];
}

/* ---- making and freeing ------------------------------------------------ */

static struct mqdev_share *share_find(struct mqdev_topic *topic,
				      const char *name)
{
	struct mqdev_share *sg;

	lockdep_assert_held(&topic->groups_lock);
	list_for_each_entry(sg, &topic->shares, node)
		if (!strcmp(sg->name, name))
			return sg;
	return NULL;
}

/**
 * mqdev_share_named() - has the topic a share group of this name?
 * @topic: the topic, its groups_lock held
 * @name: the name
 *
 * Return: true if it has: a consumer group may not take the name.
 */
bool mqdev_share_named(struct mqdev_topic *topic, const char *name)
{
	return share_find(topic, name);
}

/**
 * mqdev_shares_each() - call @fn for each share group of @topic, in order
 * @topic: the topic, its groups_lock held
 * @fn: told each group's name and member count; non-zero stops
 * @ctx: for @fn
 *
 * For netlink's group listing: what it reports is groups_lock's, so a
 * listing never waits for a member's scan (sg->lock).
 *
 * Return: what @fn returned last, 0 if it never stopped.
 */
int mqdev_shares_each(struct mqdev_topic *topic, mqdev_share_fn fn, void *ctx)
{
	struct mqdev_share *sg;
	int err;

	lockdep_assert_held(&topic->groups_lock);
	list_for_each_entry(sg, &topic->shares, node) {
		err = fn(ctx, sg->name, atomic_read(&sg->nr_members));
		if (err)
			return err;
	}
	return 0;
}

static void share_expire_work(struct work_struct *work);

/* The bytes a partition's window takes, charged to the group's maker. */
static u64 share_window_bytes(const struct mqdev_share *sg)
{
	return (u64)sg->window * sizeof(struct share_slot);
}

/*
 * Lets go of what share_create() took: the holds, the slots, the charge.
 * Every part's hold node is initialised before anything can fail, so a
 * part share_create() did not reach is let go as a no-op.  No lock is
 * held at the last kref_put() (a member's leave, a describe, a reap, the
 * topic's release), nor for a spare: it waits for the expiry work and for
 * the dead-letter work of a group still listed at its topic's release (a
 * deleted group's went in mqdev_shares_reap()).
 */
static void share_free(struct mqdev_share *sg)
{
	u32 i;

	cancel_delayed_work_sync(&sg->expire);
	mqdev_dlq_free(sg->dlq);
	for (i = 0; i < sg->nr_parts; i++) {
		mqdev_ring_hold(&sg->topic->parts[i], &sg->parts[i].hold, false);
		kvfree(sg->parts[i].slots);
	}
	mqdev_uncharge(sg->uid, MQDEV_CHARGE_BYTES,
		       sg->nr_charged * share_window_bytes(sg));
	mqdev_uncharge(sg->uid, MQDEV_CHARGE_GROUPS, 1);
	kfree(sg);
}

static void share_release(struct kref *ref)
{
	share_free(container_of(ref, struct mqdev_share, ref));
}

/* A partition's window: charged, allocated and placed at the reset. */
static int share_part_init(struct mqdev_share *sg, u32 i)
{
	struct share_part *sp = &sg->parts[i];
	int err;

	err = mqdev_charge(sg->uid, MQDEV_CHARGE_BYTES, share_window_bytes(sg));
	if (err)
		return err;
	sg->nr_charged++;
	sp->slots = kvcalloc(sg->window, sizeof(*sp->slots),
			     GFP_KERNEL_ACCOUNT);
	if (!sp->slots)
		return -ENOMEM;
	err = mqdev_ring_seek(&sg->topic->parts[i], sg->reset, &sp->start,
			      &sp->start_pos, &sp->hold, sg->holds, false);
	if (err)
		return err;
	sp->end = sp->start;
	sp->end_pos = sp->start_pos;
	return 0;
}

/* Its maker may write the topic: its window holds a block topic's records. */
static bool share_may_hold(struct mqdev_topic *topic)
{
	return !mqdev_permits(NULL, topic, NULL, MQDEV_ACT_HOLD);
}

/*
 * A new group, not yet on the topic's list: made without groups_lock (it
 * allocates and places every partition, which may sleep on their locks).
 */
static struct mqdev_share *share_create(struct mqdev_topic *topic,
					const struct mqdev_share_join *req)
{
	struct share_part *sp;
	struct mqdev_share *sg;
	kuid_t uid = current_fsuid();
	u32 i;
	int err;

	err = mqdev_charge(uid, MQDEV_CHARGE_GROUPS, 1);
	if (err)
		return ERR_PTR(err);
	sg = kzalloc(struct_size(sg, parts, topic->nr_parts),
		     GFP_KERNEL_ACCOUNT);
	if (!sg) {
		mqdev_uncharge(uid, MQDEV_CHARGE_GROUPS, 1);
		return ERR_PTR(-ENOMEM);
	}
	sg->nr_parts = topic->nr_parts;
	sg->topic = topic;
	strscpy_pad(sg->name, req->group);
	sg->uid = uid;
	kref_init(&sg->ref);		/* the topic's list's, once on it */
	mutex_init(&sg->lock);
	init_waitqueue_head(&sg->wait);
	sg->lock_ms = req->lock_ms ?: SHARE_DEFAULT_LOCK_MS;
	sg->max_deliveries = req->max_deliveries ?: SHARE_DEFAULT_DELIVERIES;
	sg->reset = req->reset;
	sg->window = roundup_pow_of_two(mqdev_limit(&max_share_inflight));
	sg->holds = share_may_hold(topic);
	sg->expire_at = U64_MAX;
	INIT_DELAYED_WORK(&sg->expire, share_expire_work);

	/* All of them first: share_free() lets go of every part's hold. */
	for (i = 0; i < sg->nr_parts; i++) {
		sp = &sg->parts[i];
		INIT_LIST_HEAD(&sp->hold.node);
		sp->hold.pos = &sp->start_pos;
		sp->deadline = U64_MAX;
		sp->ready_at = U64_MAX;
	}
	for (i = 0; i < sg->nr_parts; i++) {
		err = share_part_init(sg, i);
		if (err)
			goto err_free;
	}
	return sg;

err_free:
	share_free(sg);
	return ERR_PTR(err);
}

static int join_check(const struct mqdev_share_join *req)
{
	if (req->flags || req->member_id || req->window || req->reserved)
		return -EINVAL;
	if (req->reset != MQDEV_SEEK_EARLIEST &&
	    req->reset != MQDEV_SEEK_LATEST)
		return -EINVAL;
	if (req->lock_ms && (req->lock_ms < MQDEV_SHARE_MIN_LOCK_MS ||
			     req->lock_ms > MQDEV_SHARE_MAX_LOCK_MS))
		return -EINVAL;
	if (req->max_deliveries > MQDEV_SHARE_MAX_DELIVERIES)
		return -EINVAL;
	return mqdev_name_check(req->group);
}

/*
 * A later joiner's settings, @mine its dead-letter ones: each it passed
 * must be the group's (0 and no @req->dlq pass none), as a consumer
 * group's kind must (Kafka's INCONSISTENT_GROUP_PROTOCOL): -EEXIST if not,
 * rather than settings it asked for silently not applied.  Under
 * groups_lock, the group listed: its settings are fixed (sg->dlq goes only
 * once it is off the list, in mqdev_shares_reap()).
 */
static int join_same(const struct mqdev_share *sg,
		     const struct mqdev_share_join *req,
		     const struct mqdev_dlq *mine)
{
	lockdep_assert_held(&sg->topic->groups_lock);
	if ((req->lock_ms && req->lock_ms != sg->lock_ms) ||
	    (req->max_deliveries && req->max_deliveries != sg->max_deliveries))
		return -EEXIST;
	if (req->dlq && !mqdev_dlq_same(sg->dlq, mine))
		return -EEXIST;
	return 0;
}

/*
 * The group named, that the caller may join, or @*spare put in its place
 * (then taken: @*spare becomes NULL).  -EAGAIN: there is none and no
 * spare; share_create() makes one without groups_lock, which GROUP_COMMIT
 * needs, and the caller comes back.
 */
static struct mqdev_share *share_lookup(struct mqdev_topic *topic,
					const struct mqdev_share_join *req,
					struct mqdev_share **spare)
{
	struct mqdev_share *sg;
	int err;

	lockdep_assert_held(&topic->groups_lock);
	/*
	 * mqdev_shares_kill() emptied the list: a group made now would keep
	 * its dead-letter topic until this one's last handle closes.
	 */
	if (mqdev_topic_dead(topic))
		return ERR_PTR(-EIDRM);
	/* One name, one kind of group: Kafka's group type. */
	if (mqdev_group_find(topic, req->group))
		return ERR_PTR(-EEXIST);
	sg = share_find(topic, req->group);
	if (sg) {
		err = mqdev_owner_permits(topic->net, sg->uid);
		return err ? ERR_PTR(err) : sg;
	}
	if (!*spare)
		return ERR_PTR(-EAGAIN);
	/* Share groups and consumer groups share the topic's one limit. */
	if (topic->nr_shares + topic->nr_groups >= mqdev_limit_topic_groups())
		return ERR_PTR(-ENOSPC);
	sg = *spare;
	*spare = NULL;
	list_add_tail(&sg->node, &topic->shares);
	topic->nr_shares++;
	return sg;
}

/**
 * mqdev_share_join() - MQDEV_IOC_SHARE_JOIN: the handle joins a share group
 * @ioc: the call, on a handle attached to consume
 * @req: the group's name and, for a new one, its settings; the group's
 *	 settings and the member's id go back
 *
 * Return: 0; -EINVAL for a bad request or a replica's handle; -EOPNOTSUPP
 * on a single-writer topic; -EBUSY for a handle already in a group;
 * -EEXIST for a consumer group's name, or a share group's whose settings
 * differ from those passed (join_same()); -EPERM for another user's group;
 * -EIDRM for a deleted topic; -EACCES, -ENOSPC, -EDQUOT, -ENOMEM, -EINTR.
 */
long mqdev_share_join(struct mqdev_ioc *ioc, struct mqdev_share_join *req)
{
	struct mqdev_handle *h = ioc->h;
	struct mqdev_topic *topic = ioc->topic;
	struct mqdev_share *sg, *offered, *spare = NULL;
	struct mqdev_share_member *m;
	struct mqdev_dlq *dlq;
	int err;

	err = join_check(req);
	if (err)
		return err;
	if (handle_replica(h))
		return -EINVAL;
	/*
	 * Not on a durable topic yet: its ring lets go of what the replica
	 * has, window or not, and reading the replica's history is to come.
	 * Nor on a single writer's: its wake-up precedes the sync an acquire
	 * would judge by (swriter.c, mqdev_swriter_ioctl()).
	 */
	if (mqdev_swriter(topic) || (topic->flags & MQDEV_TOPIC_DURABLE))
		return -EOPNOTSUPP;
	err = mqdev_permits(NULL, topic, NULL, MQDEV_ACT_CONSUME);
	if (err)
		return err;
	/* A new group's (dlq.c): checked by every joiner, used by its maker. */
	err = mqdev_dlq_new(topic, req->group, req->dlq, &dlq);
	if (err)
		return err;
	m = kzalloc(sizeof(*m), GFP_KERNEL_ACCOUNT);
	if (!m) {
		mqdev_dlq_free(dlq);
		return -ENOMEM;
	}

again:
	mutex_lock(&topic->groups_lock);
	mutex_lock(&h->lock);
	/* Not a group's member, nor a reader placed by MQDEV_IOC_SEEK. */
	err = h->member || h->share ||
	      !bitmap_empty(h->subscribed, topic->nr_parts) ? -EBUSY : 0;
	mutex_unlock(&h->lock);
	offered = spare;
	sg = err ? ERR_PTR(err) : share_lookup(topic, req, &spare);
	if (sg == ERR_PTR(-EAGAIN)) {
		mutex_unlock(&topic->groups_lock);
		spare = share_create(topic, req);
		if (!IS_ERR(spare)) {
			spare->dlq = dlq;
			dlq = NULL;
			goto again;
		}
		sg = spare;
		spare = NULL;
		mutex_lock(&topic->groups_lock);
	}
	if (IS_ERR(sg)) {
fail:
		mutex_unlock(&topic->groups_lock);
		kfree(m);
		if (spare)
			share_free(spare);
		mqdev_dlq_free(dlq);
		return PTR_ERR(sg);
	}
	/* Not the maker: its settings are checked (a spare's are its own). */
	err = sg != offered ?
	      join_same(sg, req, dlq ?: spare ? spare->dlq : NULL) : 0;
	if (err) {
		/* The common exit: a spare made meanwhile goes too. */
		sg = ERR_PTR(err);
		goto fail;
	}
	/*
	 * Ids are never reused: one member may not ack another's records.
	 * No sg->lock: what changes here is groups_lock's, and the settings
	 * read are fixed at creation.
	 */
	if (sg->next_member_id == U32_MAX) {
		/* The common exit: a spare made meanwhile goes too. */
		sg = ERR_PTR(-ENOSPC);
		goto fail;
	}
	kref_get(&sg->ref);		/* the member's */
	m->sg = sg;
	m->id = ++sg->next_member_id;
	atomic_inc(&sg->nr_members);
	req->reset = sg->reset;
	req->lock_ms = sg->lock_ms;
	req->max_deliveries = sg->max_deliveries;
	req->window = sg->window;
	req->member_id = m->id;
	mutex_lock(&h->lock);
	/* Pairs with smp_load_acquire() in share_member(): m is whole. */
	smp_store_release(&h->share, m);
	mutex_unlock(&h->lock);
	mutex_unlock(&topic->groups_lock);
	if (spare)		/* another join made the group meanwhile */
		share_free(spare);
	mqdev_dlq_free(dlq);	/* the group's stand */
	return 0;
}

/* ---- the window ------------------------------------------------------ */

/* Put aside for good, and counted: the group's total outlives the window. */
static void share_put_aside(struct mqdev_share *sg, struct share_slot *slot)
{
	slot->member = 0;
	slot->state = SLOT_REJECTED;
	sg->rejected++;
}

/* A dead letter waits for dlq.c's queue: mqdev_share_dead_requeue() looks. */
static void share_waiting(struct share_part *sp, u64 off)
{
	if (!sp->nr_waiting++ || off < sp->waiting_from)
		sp->waiting_from = off;
}

/* Rejected: put aside for good, and a dead letter written of it (dlq.c). */
static void share_reject(struct mqdev_share *sg, u32 p, u64 off,
			 struct share_slot *slot, enum mqdev_dlq_reason why)
{
	share_put_aside(sg, slot);
	slot->why = why;
	/* Kept in the window, so held in the ring, until dlq.c read it. */
	slot->dead = mqdev_dlq_note(sg->dlq, sg, p, off, slot->pos, slot->len,
				    slot->count, why);
	if (slot->dead == MQDEV_DLQ_WAITING)
		share_waiting(&sg->parts[p], off);
}

/* @n acquired slots of @sp are not any more (accepted, released, ...). */
static void share_unacquired(struct share_part *sp, u32 n)
{
	sp->nr_acquired -= n;
	if (!sp->nr_acquired)
		sp->deadline = U64_MAX;
}

/* Available again, after @until (0: at once), or rejected past the limit. */
static void share_make_available(struct mqdev_share *sg, u32 p, u64 off,
				 struct share_slot *slot, u64 until)
{
	slot->member = 0;
	if (slot->count >= sg->max_deliveries) {
		share_reject(sg, p, off, slot, MQDEV_DLQ_REASON_MAX_DELIVERIES);
		return;
	}
	slot->state = SLOT_AVAILABLE;
	slot->time = until;
	/* A lower bound: share_take() makes it exact again. */
	sg->parts[p].ready_at = min(sg->parts[p].ready_at, until);
}

/*
 * Something became acquirable (or the group went): wake the members
 * waiting.  Under sg->lock, which their check takes too, so none misses it.
 */
static void share_news(struct mqdev_share *sg)
{
	if (wq_has_sleeper(&sg->wait))
		wake_up_interruptible_poll(&sg->wait, EPOLLIN | EPOLLRDNORM);
}

/*
 * Expired before a member took it (again): never delivered, counted, and
 * dead-lettered if the group asked (MQDEV_SHARE_DLQ_EXPIRED).
 */
static void share_expire(struct mqdev_share *sg, u32 p, u64 off,
			 struct share_slot *slot)
{
	atomic64_inc(&sg->topic->sched.expired);
	if (mqdev_dlq_expired(sg->dlq))
		share_reject(sg, p, off, slot, MQDEV_DLQ_REASON_EXPIRED);
	else
		share_put_aside(sg, slot);
}

/* Move start past done records; producers waiting for room may go on. */
static void share_advance(struct mqdev_share *sg, u32 p)
{
	struct share_part *sp = &sg->parts[p];
	struct share_slot *slot;
	u64 start = sp->start, pos = sp->start_pos;
	bool full = sp->end - sp->start >= sg->window;

	while (start < sp->end) {
		slot = share_slot(sg, sp, start);
		if (slot->state == SLOT_AVAILABLE ||
		    slot->state == SLOT_ACQUIRED || slot->dead)
			break;
		pos = slot->pos + MQDEV_RECORD_SPACE(slot->len);
		start++;
	}
	if (start == sp->start)
		return;
	sp->start = start;
	WRITE_ONCE(sp->start_pos, start == sp->end ? sp->end_pos : pos);
	if (sg->holds)
		mqdev_ring_moved(&sg->topic->parts[p]);
	/* Room for what the ring has past the window's end. */
	if (full)
		share_news(sg);
}

/*
 * Lapped (a group that does not hold, on a ring that reclaimed past its
 * end): the window restarts at the tail.  What it held is gone.
 */
static void share_resync(struct mqdev_share *sg, struct share_part *sp,
			 struct mqdev_part *part)
{
	struct mqdev_record *rec;
	u64 tail, offset, off;
	u8 state;

	for (off = sp->start; off < sp->end; off++) {
		state = share_slot(sg, sp, off)->state;
		if (state == SLOT_AVAILABLE || state == SLOT_ACQUIRED)
			sg->lost++;
	}
	share_unacquired(sp, sp->nr_acquired);
	sp->nr_waiting = 0;		/* their records are gone with them */
	sp->ready_at = U64_MAX;

	do {
		tail = READ_ONCE(part->ctrl->tail);
		rec = mqdev_ring_record(part, tail);
		offset = READ_ONCE(rec->offset);
		/* Pairs with smp_wmb() in ring_publish_tail(). */
		smp_rmb();
	} while (READ_ONCE(part->ctrl->tail) != tail);
	sp->start = offset;
	sp->end = offset;
	WRITE_ONCE(sp->start_pos, tail);
	sp->end_pos = tail;
}

static bool share_expired(struct mqdev_part *part,
			  const struct mqdev_record *rec, u32 len, u64 now)
{
	u64 ttl = READ_ONCE(part->topic->ttl_ns);

	return mqdev_record_expired(rec, len, now) ||
	       mqdev_ttl_passed(READ_ONCE(rec->timestamp), ttl, now);
}

/*
 * Take the record at the window's end into it, read lock-free as read(2)
 * reads.  Return: its slot, or NULL when the window is full or there is no
 * record that may be read yet.
 */
static struct share_slot *share_extend(struct mqdev_share *sg, u32 p)
{
	struct mqdev_part *part = &sg->topic->parts[p];
	struct share_part *sp = &sg->parts[p];
	struct share_slot *slot;
	struct mqdev_record *rec;
	u64 head, pos, offset;
	u32 len, state;

	if (sp->end - sp->start >= sg->window)
		return NULL;
	/* Pairs with smp_store_release() in mqdev_ring_publish(). */
	head = smp_load_acquire(&part->ctrl->head);
	if (sp->end_pos < READ_ONCE(part->ctrl->tail))
		share_resync(sg, sp, part);
	pos = sp->end_pos;
	if (pos >= head)
		return NULL;
	rec = mqdev_ring_record(part, pos);
	state = mqdev_txn_record_state(part, rec);
	if (state == MQDEV_TXN_OPEN)
		return NULL;
	len = READ_ONCE(rec->len);
	offset = READ_ONCE(rec->offset);
	/* Pairs with smp_wmb() in ring_publish_tail(). */
	smp_rmb();
	if (READ_ONCE(part->ctrl->tail) > pos)
		return NULL;		/* lapped: resynced next time */
	if (len < sizeof(*rec) || len > sg->topic->max_record ||
	    pos + MQDEV_RECORD_SPACE(len) > head || offset != sp->end)
		return NULL;		/* not a record: never on our rings */

	slot = share_slot(sg, sp, sp->end);
	slot->pos = pos;
	slot->len = len;
	slot->count = 0;
	slot->time = 0;
	slot->member = 0;
	slot->state = SLOT_AVAILABLE;
	slot->dead = 0;
	/* Not dead-lettered: it was never committed (design page). */
	if (state == MQDEV_TXN_ABORT)
		share_put_aside(sg, slot);
	else if (share_expired(part, rec, len, ktime_get_real_ns()))
		share_expire(sg, p, sp->end, slot);
	sp->end++;
	sp->end_pos = pos + MQDEV_RECORD_SPACE(len);
	return slot;
}

/* A CLOCK_MONOTONIC time as the caller's time namespace reads it. */
static u64 share_user_time(u64 ns)
{
	struct timespec64 ts = ns_to_timespec64(ns);

	timens_add_monotonic(&ts);
	return timespec64_to_ns(&ts);
}

static void share_give(struct mqdev_share *sg, u32 member, u32 p,
		       u64 offset, struct share_slot *slot, u64 now,
		       struct mqdev_share_record *out)
{
	struct share_part *sp = &sg->parts[p];

	slot->state = SLOT_ACQUIRED;
	slot->member = member;
	slot->count++;
	slot->time = now + (u64)sg->lock_ms * NSEC_PER_MSEC;
	sp->nr_acquired++;
	sp->deadline = min(sp->deadline, slot->time);
	memset(out, 0, sizeof(*out));
	out->offset = offset;
	out->pos = slot->pos;
	out->lock_until = share_user_time(slot->time);
	out->partition = p;
	out->len = slot->len;
	out->delivery_count = slot->count;
}

/*
 * Make a partition's expired locks available; the earliest lock left.  A
 * partition without locks, or none ending yet, is not scanned.
 */
static u64 share_expire_part(struct mqdev_share *sg, u32 p, u64 now)
{
	struct share_part *sp = &sg->parts[p];
	struct share_slot *slot;
	u64 next = U64_MAX, off;

	if (sp->deadline > now)
		return sp->deadline;
	for (off = sp->start; off < sp->end; off++) {
		slot = share_slot(sg, sp, off);
		if (slot->state != SLOT_ACQUIRED)
			continue;
		if (slot->time <= now) {
			share_make_available(sg, p, off, slot, 0);
			share_unacquired(sp, 1);
		} else {
			next = min(next, slot->time);
		}
	}
	if (sp->nr_acquired)
		sp->deadline = next;
	share_advance(sg, p);
	return next;
}

static void share_arm(struct mqdev_share *sg, u64 until, u64 now);

/* Acquire up to @max records of partition @p for @member; how many. */
static u32 share_take(struct mqdev_share *sg, u32 member, u32 p,
		      struct mqdev_share_record *out, u32 max, u64 now)
{
	struct mqdev_part *part = &sg->topic->parts[p];
	struct share_part *sp = &sg->parts[p];
	struct share_slot *slot;
	u64 off, real = 0, later = U64_MAX;
	bool expired, scan;
	u32 n = 0;

	/*
	 * Locks past their end go now, not when the expiry work runs: the
	 * timer wheel may run it an eighth of the lock late.  O(1) unless a
	 * lock of the partition has ended.
	 */
	share_expire_part(sg, p, now);
	/*
	 * None available before ready_at (a lower bound: share_extend() makes
	 * available only what is handed out at once): no scan.  A waiter
	 * woken by every append to a full window would scan it every time.
	 */
	scan = sp->ready_at <= now;
	for (off = sp->start; scan && off < sp->end; off++) {
		slot = share_slot(sg, sp, off);
		if (slot->state != SLOT_AVAILABLE)
			continue;
		if (slot->time > now) {		/* backing off */
			later = min(later, slot->time);
			continue;
		}
		/* Enough: ready_at stays exact, poll(2) says ready rightly. */
		if (n == max) {
			later = slot->time;
			break;
		}
		/* Delivered before: its TTL may have passed since it came in. */
		expired = false;
		if (slot->count) {
			real = real ?: ktime_get_real_ns();
			expired = share_expired(part,
						mqdev_ring_record(part, slot->pos),
						slot->len, real);
			/* Pairs with smp_wmb() in ring_publish_tail(). */
			smp_rmb();
		}
		/* Reclaimed under a window that does not hold: gone. */
		if (slot->pos < READ_ONCE(part->ctrl->tail)) {
			slot->state = SLOT_LOST;
			sg->lost++;
			continue;
		}
		if (expired) {
			/* Not delivered again, as read(2) would not. */
			share_expire(sg, p, off, slot);
			continue;
		}
		share_give(sg, member, p, off, slot, now, &out[n++]);
	}
	/*
	 * Looked at up to the first slot left acquirable now, or every slot:
	 * when one is acquirable next is known, and the expiry work wakes the
	 * waiting members then.  Not looked at: ready_at is still right.
	 */
	if (scan) {
		sp->ready_at = later;
		if (later > now && later != U64_MAX)
			share_arm(sg, later, now);
	}
	while (n < max && (slot = share_extend(sg, p)))
		if (slot->state == SLOT_AVAILABLE)
			share_give(sg, member, p, sp->end - 1, slot, now,
				   &out[n++]);
	share_advance(sg, p);
	return n;
}

/* The expiry work runs by the earliest lock's end, @until. */
static void share_arm(struct mqdev_share *sg, u64 until, u64 now)
{
	if (until >= sg->expire_at)
		return;
	sg->expire_at = until;
	mod_delayed_work(system_unbound_wq, &sg->expire,
			 nsecs_to_jiffies(until > now ? until - now : 0) + 1);
}

static void share_expire_work(struct work_struct *work)
{
	struct mqdev_share *sg = container_of(to_delayed_work(work),
					      struct mqdev_share, expire);
	u64 next = U64_MAX, until, now;
	bool news = false;
	u32 p;

	share_lock(sg);
	/* An acquire while the lock is let go of below arms the work anew. */
	sg->expire_at = U64_MAX;
	for (p = 0; p < sg->nr_parts; p++) {
		now = ktime_get_ns();
		until = share_expire_part(sg, p, now);
		next = min(next, until);
		/* Locks that ended, back-offs that did: members may take them. */
		if (sg->parts[p].ready_at <= now)
			news = true;
		else
			next = min(next, sg->parts[p].ready_at);
		if (until != U64_MAX && need_resched()) {
			/* 256 windows of 65536: let members in meanwhile. */
			mutex_unlock(&sg->lock);
			cond_resched();
			share_lock(sg);
		}
	}
	if (next != U64_MAX)
		share_arm(sg, next, ktime_get_ns());
	if (news)
		share_news(sg);
	mutex_unlock(&sg->lock);
}

/*
 * The member @h is, or NULL; it stays until the file's release.  No
 * h->lock: every consumer's poll(2) comes here, and should not wait for a
 * join.
 */
static struct mqdev_share_member *share_member(struct mqdev_handle *h)
{
	/* Pairs with smp_store_release() in mqdev_share_join(). */
	return smp_load_acquire(&h->share);
}

/*
 * The group of the member @ioc's handle is, and the member's id, after the
 * request's check @err; -EIDRM once the topic is deleted.  The member stays
 * until the file is released, so after no call on it has returned.
 */
static struct mqdev_share *share_enter(struct mqdev_ioc *ioc, int err,
				       u32 *member)
{
	struct mqdev_share_member *m;

	if (err)
		return ERR_PTR(err);
	m = share_member(ioc->h);
	if (!m)
		return ERR_PTR(-EBADFD);
	if (mqdev_topic_dead(ioc->topic))
		return ERR_PTR(-EIDRM);
	*member = m->id;
	return m->sg;
}

static int acquire_check(const struct mqdev_share_acquire *req,
			 const struct mqdev_topic *topic)
{
	if (req->flags || req->reserved)
		return -EINVAL;
	if (!req->count || req->count > MQDEV_SHARE_ACQUIRE_MAX)
		return -EINVAL;
	/* Capped: the room past our struct is cleared for every record. */
	if (req->record_size && (req->record_size <
	    sizeof(struct mqdev_share_record) || req->record_size > PAGE_SIZE))
		return -EINVAL;
	if (req->partition != MQDEV_PARTITION_ANY &&
	    req->partition >= topic->nr_parts)
		return -EINVAL;
	return 0;
}

/* Might the ring's record past the window's end be taken into it now? */
static bool share_extendable(struct mqdev_share *sg, u32 p)
{
	struct mqdev_part *part = &sg->topic->parts[p];
	struct share_part *sp = &sg->parts[p];
	struct mqdev_record *rec;

	if (sp->end - sp->start >= sg->window)
		return false;		/* an ack that makes room wakes */
	/* Pairs with smp_store_release() in mqdev_ring_publish(). */
	if (sp->end_pos >= smp_load_acquire(&part->ctrl->head))
		return false;		/* an append wakes */
	if (sp->end_pos < READ_ONCE(part->ctrl->tail))
		return true;		/* lapped: the acquire resyncs */
	rec = mqdev_ring_record(part, sp->end_pos);
	/* An open transaction's records wait for its decision, which wakes. */
	return mqdev_txn_record_state(part, rec) != MQDEV_TXN_OPEN;
}

/*
 * Has a partition a record a member may acquire now?  As share_take()
 * would find, lock-ended slots made available first; a stale ready_at
 * (a lower bound) says yes once, and the acquire that finds nothing makes
 * it exact.  O(partitions), unless a lock ended.
 */
static bool share_ready(struct mqdev_share *sg, u64 now)
{
	u32 p;

	lockdep_assert_held(&sg->lock);
	for (p = 0; p < sg->nr_parts; p++) {
		share_expire_part(sg, p, now);
		if (sg->parts[p].ready_at <= now || share_extendable(sg, p))
			return true;
	}
	return false;
}

/**
 * mqdev_share_poll() - poll(2) of a share group's member
 * @h: the handle
 * @topic: its topic
 * @file: the handle's file
 * @pt: the poll table
 *
 * Waits on the group's queue (releases, lock expiries, back-offs' ends, a
 * member's death, the group's deletion) and on the topic's read_wait
 * (appends, transaction decisions).
 *
 * Return: EPOLLIN when a record of some partition may be acquired,
 * EPOLLHUP once the group is deleted, 0 for a handle that is no member.
 */
__poll_t mqdev_share_poll(struct mqdev_handle *h, struct mqdev_topic *topic,
			  struct file *file, poll_table *pt)
{
	struct mqdev_share_member *m = share_member(h);
	struct mqdev_share *sg;
	__poll_t mask = 0;

	if (!m)
		return 0;
	sg = m->sg;
	poll_wait(file, &sg->wait, pt);
	poll_wait(file, &topic->read_wait, pt);
	/*
	 * The entries queued before the look, as sock_poll_wait() orders
	 * them: pairs with the smp_mb() before ring_wake()'s peek, and with
	 * wq_has_sleeper()'s in share_news().
	 */
	smp_mb();
	share_lock(sg);
	if (READ_ONCE(sg->dead))
		mask = EPOLLHUP;
	else if (share_ready(sg, ktime_get_ns()))
		mask = EPOLLIN | EPOLLRDNORM;
	mutex_unlock(&sg->lock);
	return mask;
}

/* Take what there is: into @recs, how many in @*n. */
static int share_try(struct mqdev_share *sg, u32 member,
		     const struct mqdev_share_acquire *req,
		     struct mqdev_share_record *recs, u32 *n)
{
	u64 now;
	u32 i, p;
	int err = 0;

	share_lock(sg);
	now = ktime_get_ns();
	if (READ_ONCE(sg->dead)) {
		err = -EIDRM;
	} else if (req->partition != MQDEV_PARTITION_ANY) {
		*n = share_take(sg, member, req->partition, recs, req->count,
				now);
	} else {
		for (i = 0; i < sg->nr_parts && !*n; i++) {
			p = (sg->next_part + i) % sg->nr_parts;
			*n = share_take(sg, member, p, recs, req->count, now);
		}
		sg->next_part = (sg->next_part + 1) % sg->nr_parts;
	}
	/* Every lock taken here ends then (lock_until is the caller's clock). */
	if (*n)
		share_arm(sg, now + (u64)sg->lock_ms * NSEC_PER_MSEC, now);
	mutex_unlock(&sg->lock);
	return err;
}

/*
 * A blocking acquire's sleep: one entry on the group's queue, whose flag
 * wait_woken() reads, and one on the topic's read_wait that sets it too.
 */
struct share_waiter {
	struct wait_queue_entry	wq;
	struct wait_queue_entry	read_wq;
	struct mqdev_share	*sg;
	u32			partition;	/* or MQDEV_PARTITION_ANY */
};

/*
 * Might an append let a window of @partition's (any, for ANY) take a
 * record?  Not when full: the ack that makes room wakes sg->wait
 * (share_advance()).  Lock-free, under a producer's read_wait lock, so a
 * racy read: a stale "room" is a wake-up for nothing, and a stale "full"
 * is followed by that ack's wake-up.
 */
static bool share_room(struct mqdev_share *sg, u32 partition)
{
	u32 p = partition == MQDEV_PARTITION_ANY ? 0 : partition;
	u32 last = partition == MQDEV_PARTITION_ANY ? sg->nr_parts : p + 1;
	struct share_part *sp;

	for (; p < last; p++) {
		sp = &sg->parts[p];
		/* Racy on purpose: see above; a torn read is one of those. */
		if (data_race(sp->end - sp->start) < sg->window)
			return true;
	}
	return false;
}

/* An append or a transaction's decision: for us only if there is room. */
static int share_read_wake(struct wait_queue_entry *curr, unsigned int mode,
			   int sync, void *key)
{
	struct share_waiter *w = container_of(curr, struct share_waiter,
					      read_wq);

	if (!share_room(w->sg, w->partition))
		return 0;
	return woken_wake_function(&w->wq, mode, sync, key);
}

/* Jiffies left until @end (ns, CLOCK_MONOTONIC), U64_MAX: forever; 0: none. */
static long share_timeout(u64 end)
{
	u64 now = ktime_get_ns();

	if (end == U64_MAX)
		return MAX_SCHEDULE_TIMEOUT;
	if (end <= now)
		return 0;
	return min_t(u64, nsecs_to_jiffies(end - now) + 1,
		     MAX_SCHEDULE_TIMEOUT - 1);
}

/*
 * Acquire, and while nothing is taken sleep until something may be, a
 * signal or @end.  No wake-up is lost: a wake-up after share_try() looked
 * sets the entry's WQ_FLAG_WOKEN, and wait_woken() then does not sleep.
 */
static int share_wait(struct mqdev_ioc *ioc, struct mqdev_share *sg,
		      u32 member, const struct mqdev_share_acquire *req,
		      struct mqdev_share_record *recs, u32 *n, u64 end)
{
	struct wait_queue_head *read_wait = &ioc->topic->read_wait;
	struct share_waiter w;
	long timeo;
	int err;

	init_waitqueue_func_entry(&w.wq, woken_wake_function);
	w.wq.private = current;
	init_waitqueue_func_entry(&w.read_wq, share_read_wake);
	w.read_wq.private = current;
	w.sg = sg;
	w.partition = req->partition;
	add_wait_queue(&sg->wait, &w.wq);
	add_wait_queue(read_wait, &w.read_wq);
	/*
	 * Queued before share_try() looks: pairs with the smp_mb() before
	 * ring_wake()'s peek, and with wq_has_sleeper()'s in share_news().
	 * Later looks are ordered by wait_woken()'s smp_store_mb().
	 */
	smp_mb();
	for (;;) {
		err = share_try(sg, member, req, recs, n);
		if (err || *n)
			break;
		if (mqdev_topic_dead(ioc->topic)) {
			err = -EIDRM;
			break;
		}
		/*
		 * Restarted after a stop or a handler without SA_RESTART,
		 * when there is no deadline to keep; as sock_intr_errno().
		 */
		if (signal_pending(current)) {
			err = end == U64_MAX ? -ERESTARTSYS : -EINTR;
			break;
		}
		timeo = share_timeout(end);
		if (!timeo)
			break;
		wait_woken(&w.wq, TASK_INTERRUPTIBLE, timeo);
	}
	remove_wait_queue(read_wait, &w.read_wq);
	remove_wait_queue(&sg->wait, &w.wq);
	return err;
}

/**
 * mqdev_share_acquire() - MQDEV_IOC_SHARE_ACQUIRE: records for a member
 * @ioc: the call, on a member's handle
 * @req: the request; how many were taken goes back in @req->count
 *
 * With @req->timeout_ns, and the file not O_NONBLOCK, a member that finds
 * nothing sleeps until a record may be acquired, up to that long: woken by
 * an append, a release, a lock's expiry, a back-off's end or a member's
 * death (design page, "Wake-ups").  The records are copied out after the
 * group's lock is let go: a fault there leaves them acquired until their
 * lock expires.
 *
 * Return: 0 (@req->count 0: none came in time); -EINVAL for a bad request;
 * -EBADFD for a handle that is not a share group's member; -EIDRM for a
 * deleted topic or group; -EINTR for a signal while waiting with a
 * timeout (waiting forever, the call restarts after a handler with
 * SA_RESTART, a stop or a ptrace attach, or fails -EINTR); -ENOMEM;
 * -EFAULT.
 */
long mqdev_share_acquire(struct mqdev_ioc *ioc,
			 struct mqdev_share_acquire *req)
{
	u32 usize = req->record_size ?: sizeof(struct mqdev_share_record);
	struct mqdev_share_record __user *urec;
	struct mqdev_share_record *recs;
	struct mqdev_share *sg;
	u32 i, member, n = 0;
	u64 end = U64_MAX;
	int err;

	sg = share_enter(ioc, acquire_check(req, ioc->topic), &member);
	if (IS_ERR(sg))
		return PTR_ERR(sg);
	recs = kmalloc_array(req->count, sizeof(*recs), GFP_KERNEL);
	if (!recs)
		return -ENOMEM;

	if (req->timeout_ns != MQDEV_WAIT_FOREVER)
		end = ktime_get_ns() + min_t(u64, req->timeout_ns, KTIME_MAX / 2);
	if (req->timeout_ns && !(ioc->file->f_flags & O_NONBLOCK))
		err = share_wait(ioc, sg, member, req, recs, &n, end);
	else
		err = share_try(sg, member, req, recs, &n);

	urec = u64_to_user_ptr(req->records);
	for (i = 0; i < n && !err; i++)
		err = mqdev_copy_element((char __user *)urec + (u64)i * usize,
					 &recs[i], sizeof(recs[i]), usize);
	kfree(recs);
	req->count = n;
	return err;
}

/* The group's back-off for a release that gave none: its end, or 0. */
static u64 share_backoff(struct mqdev_share *sg, struct share_slot *slot,
			 u64 now)
{
	u64 ns = mqdev_dlq_backoff(sg->dlq, slot->count);

	return ns ? now + ns : 0;
}

static int ack_check(const struct mqdev_share_ack *req,
		     const struct mqdev_topic *topic)
{
	if ((req->flags & ~MQDEV_SHARE_ACK_FLAGS) ||
	    req->reserved[0] || req->reserved[1])
		return -EINVAL;
	if ((req->flags & MQDEV_SHARE_ACK_NOW) &&
	    (req->type != MQDEV_SHARE_RELEASE || req->backoff_ms))
		return -EINVAL;
	if (req->type < MQDEV_SHARE_ACCEPT || req->type > MQDEV_SHARE_REJECT ||
	    req->first >= req->last)
		return -EINVAL;
	if (req->backoff_ms && (req->type != MQDEV_SHARE_RELEASE ||
				req->backoff_ms > MQDEV_SHARE_MAX_BACKOFF_MS))
		return -EINVAL;
	return req->partition < topic->nr_parts ? 0 : -EINVAL;
}

/* Every record of the range is @member's and locked still. */
static int ack_owned(struct mqdev_share *sg, struct share_part *sp,
		     const struct mqdev_share_ack *req, u32 member, u64 now)
{
	struct share_slot *slot;
	u64 off;

	if (req->first < sp->start || req->last > sp->end)
		return -ERANGE;
	for (off = req->first; off < req->last; off++) {
		slot = share_slot(sg, sp, off);
		if (slot->state != SLOT_ACQUIRED || slot->member != member ||
		    slot->time <= now)
			return -ESTALE;
	}
	return 0;
}

/**
 * mqdev_share_ack() - MQDEV_IOC_SHARE_ACK: accept, release or reject
 * @ioc: the call, on a member's handle
 * @req: the range and what becomes of it
 *
 * All of the range or nothing: it is checked whole before any record
 * changes.
 *
 * Return: 0; -EINVAL for a bad request; -EBADFD for a handle that is not
 * a member; -ERANGE for a range outside the window; -ESTALE for a record
 * of it that is not the member's, or whose lock expired; -EIDRM for a
 * deleted topic or group.
 */
long mqdev_share_ack(struct mqdev_ioc *ioc, struct mqdev_share_ack *req)
{
	struct share_slot *slot;
	struct share_part *sp;
	struct mqdev_share *sg;
	u64 now, off, until = 0;
	u32 member;
	int err;

	sg = share_enter(ioc, ack_check(req, ioc->topic), &member);
	if (IS_ERR(sg))
		return PTR_ERR(sg);
	sp = &sg->parts[req->partition];

	share_lock(sg);
	now = ktime_get_ns();
	err = READ_ONCE(sg->dead) ? -EIDRM : ack_owned(sg, sp, req, member, now);
	if (err)
		goto out_unlock;
	if (req->backoff_ms)
		until = now + (u64)req->backoff_ms * NSEC_PER_MSEC;
	share_unacquired(sp, req->last - req->first);
	for (off = req->first; off < req->last; off++) {
		slot = share_slot(sg, sp, off);
		if (req->type == MQDEV_SHARE_RELEASE) {
			bool at_once = req->flags & MQDEV_SHARE_ACK_NOW;

			/* None given: ACK_NOW, or the schedule by count. */
			share_make_available(sg, req->partition, off, slot,
					     until ?: at_once ? 0 :
					     share_backoff(sg, slot, now));
		} else if (req->type == MQDEV_SHARE_REJECT) {
			share_reject(sg, req->partition, off, slot,
				     MQDEV_DLQ_REASON_REJECTED);
		} else {
			slot->member = 0;
			slot->state = SLOT_ACKED;
		}
	}
	share_advance(sg, req->partition);
	if (req->type == MQDEV_SHARE_RELEASE && sp->ready_at <= now)
		share_news(sg);
	else if (req->type == MQDEV_SHARE_RELEASE)	/* after a back-off */
		share_arm(sg, sp->ready_at, now);
out_unlock:
	mutex_unlock(&sg->lock);
	return err;
}

/**
 * mqdev_share_leave() - the handle leaves its share group, if a member
 * @h: the handle, going away
 *
 * What it held is available at once, not after its locks expire.  The
 * group stays, memberless, until it is deleted: its windows and delivery
 * counts are what the next member goes on from.
 */
void mqdev_share_leave(struct mqdev_handle *h)
{
	struct mqdev_share_member *m = h->share;
	struct share_slot *slot;
	struct share_part *sp;
	struct mqdev_share *sg;
	bool news = false;
	u64 off;
	u32 p;

	if (!m)
		return;
	sg = m->sg;
	/* No groups_lock: the member's reference keeps the group. */
	share_lock(sg);
	for (p = 0; p < sg->nr_parts; p++) {
		sp = &sg->parts[p];
		for (off = sp->start; off < sp->end && sp->nr_acquired; off++) {
			slot = share_slot(sg, sp, off);
			if (slot->state == SLOT_ACQUIRED &&
			    slot->member == m->id) {
				share_make_available(sg, p, off, slot, 0);
				share_unacquired(sp, 1);
				news = true;
			}
		}
		share_advance(sg, p);
	}
	/* Another member's death: what it held is for those waiting. */
	if (news)
		share_news(sg);
	atomic_dec(&sg->nr_members);
	mutex_unlock(&sg->lock);
	mutex_lock(&h->lock);
	WRITE_ONCE(h->share, NULL);
	mutex_unlock(&h->lock);
	kfree(m);
	kref_put(&sg->ref, share_release);
}

/*
 * Off the topic's list onto @gone, its holds let go of (producers go on);
 * members left are told -EIDRM, and those waiting woken.  The list's
 * reference is kept for mqdev_shares_reap().  sg->lock is not taken: a
 * member's scan may hold it long, and groups_lock is held (mqdev_shares_reap()
 * takes it once groups_lock is let go of).
 */
static void share_unlist(struct mqdev_share *sg, struct list_head *gone)
{
	u32 i;

	lockdep_assert_held(&sg->topic->groups_lock);
	list_move_tail(&sg->node, gone);
	sg->topic->nr_shares--;
	/* Read under sg->lock: a member sees it at its next call at worst. */
	WRITE_ONCE(sg->dead, true);
	for (i = 0; i < sg->nr_parts; i++)
		mqdev_ring_hold(&sg->topic->parts[i], &sg->parts[i].hold, false);
	wake_up_interruptible_all(&sg->wait);
}

/**
 * mqdev_shares_reap() - let go of share groups a deletion took off the list
 * @gone: the groups, from mqdev_share_delete() or mqdev_shares_kill()
 *
 * Called with no lock held, and before the caller's reference to the
 * topic goes (a group does not hold its topic).  Each group's dead-letter
 * settings go first: their work is flushed (dead letters noted before the
 * deletion are written) and the dead-letter topic's reference dropped, so
 * two topics whose groups dead-letter to each other do not keep each other.
 * That is done here and not in share_free() under groups_lock: the work
 * takes the group's lock and the dead-letter partition's, and dropping the
 * last reference to the dead-letter topic frees its groups, whose work is
 * flushed in turn; neither may wait under a groups_lock.  The work still
 * tells the group (mqdev_share_dead_done()), so the group lives until
 * after the flush: the list's reference is dropped last.  A member left
 * (a forced delete) keeps the group, not its dead-letter topic.
 */
void mqdev_shares_reap(struct list_head *gone)
{
	struct mqdev_share *sg, *next;
	struct mqdev_dlq *dlq;

	list_for_each_entry_safe(sg, next, gone, node) {
		list_del(&sg->node);
		/* Its holds went: no producer waits on its moving on. */
		share_lock(sg);
		sg->holds = false;
		mutex_unlock(&sg->lock);
		/*
		 * What was rejected before the deletion is written, records
		 * that waited for the queue too (sg->dlq is cleared here only).
		 */
		mqdev_dlq_flush(sg->dlq);
		/* Off the list: no dlq_fill(); a member's leave notes nothing. */
		share_lock(sg);
		dlq = sg->dlq;
		sg->dlq = NULL;
		mutex_unlock(&sg->lock);
		mqdev_dlq_free(dlq);
		kref_put(&sg->ref, share_release);
	}
}

/**
 * mqdev_share_delete() - netlink GROUP_DELETE of a share group
 * @nlskb: the request
 * @topic: the topic, its groups_lock held
 * @name: the group's name
 * @force: delete it under its members too
 * @gone: where the group goes, for mqdev_shares_reap() once groups_lock is
 *	  let go of
 * @extack: where a refusal is explained
 *
 * Who may: the group's maker, the topic's owner, or CAP_SYS_ADMIN, as for
 * a consumer group: over netlink the capability counts only if the
 * socket's opener has it too (no confused deputy).
 *
 * Return: 0; -ENOENT for no such share group; -EPERM; -EBUSY for a group
 * with members and no @force.
 */
int mqdev_share_delete(struct sk_buff *nlskb, struct mqdev_topic *topic,
		       const char *name, bool force, struct list_head *gone,
		       struct netlink_ext_ack *extack)
{
	struct mqdev_share *sg;
	bool busy;

	lockdep_assert_held(&topic->groups_lock);
	sg = share_find(topic, name);
	if (!sg)
		return -ENOENT;
	if (mqdev_group_delete_permits(nlskb, topic, sg->uid)) {
		NL_SET_ERR_MSG(extack, "the group belongs to another user");
		return -EPERM;
	}
	/* Only a join raises it, under groups_lock: no sg->lock wait here. */
	busy = atomic_read(&sg->nr_members) && !force;
	if (busy) {
		NL_SET_ERR_MSG(extack,
			       "the group has members; stop them, or force");
		return -EBUSY;
	}
	share_unlist(sg, gone);
	return 0;
}

/**
 * mqdev_shares_kill() - a deleted topic's share groups go now
 * @topic: the topic, off the registry, its reference held
 *
 * Their charges and holds are given back now, not with the topic's last
 * reference (a handle may keep that long); members left are told -EIDRM.
 * A group's references to other topics (its dead-letter topic's) go too,
 * so two topics' groups referring to each other do not keep both.  Joins
 * from now on are refused (share_lookup()).
 */
void mqdev_shares_kill(struct mqdev_topic *topic)
{
	struct mqdev_share *sg, *next;
	LIST_HEAD(gone);

	mutex_lock(&topic->groups_lock);
	list_for_each_entry_safe(sg, next, &topic->shares, node)
		share_unlist(sg, &gone);
	mutex_unlock(&topic->groups_lock);
	mqdev_shares_reap(&gone);
}

/**
 * mqdev_shares_free() - let go of every share group of a topic being freed
 * @topic: the topic
 *
 * Topic release: no member is left (each held a reference to the topic),
 * nothing else can reach the groups any more.
 */
void mqdev_shares_free(struct mqdev_topic *topic)
{
	struct mqdev_share *sg, *next;

	list_for_each_entry_safe(sg, next, &topic->shares, node) {
		list_del(&sg->node);
		kref_put(&sg->ref, share_release);
	}
}

/* Count the window's records by state. */
static void share_count(struct mqdev_share *sg, u32 p,
			struct mqdev_share_info *req)
{
	struct share_part *sp = &sg->parts[p];
	u32 *by_state[] = {
		[SLOT_AVAILABLE] = &req->available,
		[SLOT_ACQUIRED] = &req->acquired,
		[SLOT_ACKED] = &req->acknowledged,
		[SLOT_REJECTED] = &req->rejected,
		[SLOT_LOST] = &req->rejected,
	};
	u64 off;

	req->start = sp->start;
	req->end = sp->end;
	for (off = sp->start; off < sp->end; off++)
		(*by_state[share_slot(sg, sp, off)->state])++;
}

/**
 * mqdev_share_describe() - MQDEV_IOC_SHARE_DESCRIBE: a share group's window
 * @ioc: the call, on a handle attached to consume
 * @req: the group and partition; the window and its counts go back
 *
 * Return: 0; -EINVAL for a bad request; -ENOENT for no such share group.
 */
long mqdev_share_describe(struct mqdev_ioc *ioc, struct mqdev_share_info *req)
{
	struct mqdev_topic *topic = ioc->topic;
	struct mqdev_share *sg;
	int err;

	err = mqdev_name_check(req->group);
	if (err)
		return err;
	if (req->partition >= topic->nr_parts || req->members || req->start ||
	    req->end || req->available || req->acquired ||
	    req->acknowledged || req->rejected || req->lock_ms ||
	    req->max_deliveries || req->lost || req->rejected_total)
		return -EINVAL;
	/* groups_lock is let go of before sg->lock: GROUP_COMMIT needs it. */
	mutex_lock(&topic->groups_lock);
	sg = share_find(topic, req->group);
	if (sg)
		kref_get(&sg->ref);
	mutex_unlock(&topic->groups_lock);
	if (!sg)
		return -ENOENT;
	share_lock(sg);
	req->members = atomic_read(&sg->nr_members);
	req->lock_ms = sg->lock_ms;
	req->max_deliveries = sg->max_deliveries;
	req->lost = sg->lost;
	req->rejected_total = sg->rejected;
	share_count(sg, req->partition, req);
	mutex_unlock(&sg->lock);
	kref_put(&sg->ref, share_release);
	return 0;
}

/**
 * mqdev_share_dlq_fill() - a share group's dead-letter settings and counts
 * @topic: the group's topic
 * @req: the group's name; filled in by mqdev_dlq_fill()
 *
 * Return: 0, or -ENOENT for no such share group.
 */
int mqdev_share_dlq_fill(struct mqdev_topic *topic,
			 struct mqdev_share_dlq_info *req)
{
	struct mqdev_share *sg;

	mutex_lock(&topic->groups_lock);
	sg = share_find(topic, req->group);
	if (sg)
		mqdev_dlq_fill(sg->dlq, req);
	mutex_unlock(&topic->groups_lock);
	return sg ? 0 : -ENOENT;
}

/**
 * mqdev_share_dead_done() - a rejected record's dead letter was dealt with
 * @sg: its group
 * @p: its partition
 * @off: its offset
 * @pos: its place in the ring, to know the slot is still its own
 *
 * Written or counted as not (dlq.c): the window may pass the record now.
 */
void mqdev_share_dead_done(struct mqdev_share *sg, u32 p, u64 off, u64 pos)
{
	struct share_part *sp = &sg->parts[p];
	struct share_slot *slot;

	share_lock(sg);
	/* Under the lock: the window's slots are the lock's to change. */
	slot = share_slot(sg, sp, off);
	/* A window lapped and restarted meanwhile let it go already. */
	if (off >= sp->start && off < sp->end && slot->pos == pos)
		slot->dead = 0;
	share_advance(sg, p);
	mutex_unlock(&sg->lock);
}

/**
 * mqdev_share_dead_requeue() - note the records that waited for dlq.c's queue
 * @sg: the group
 *
 * Called by dlq.c's work, with its queue empty, when a note found it full:
 * the group's waiting records are noted again, oldest first, as many as
 * the queue takes.
 */
void mqdev_share_dead_requeue(struct mqdev_share *sg)
{
	struct share_slot *slot;
	struct share_part *sp;
	u64 off;
	u32 p;

	for (p = 0; p < sg->nr_parts; p++) {
		sp = &sg->parts[p];
		/*
		 * From the first waiting offset, not the window's start, and
		 * the lock let go of between partitions: a queueful of 256
		 * is not a scan of every window under the members' lock.
		 */
		share_lock(sg);
		off = max(sp->start, sp->waiting_from);
		for (; sp->nr_waiting && off < sp->end; off++) {
			slot = share_slot(sg, sp, off);
			if (slot->dead != MQDEV_DLQ_WAITING)
				continue;
			slot->dead = mqdev_dlq_note(sg->dlq, sg, p, off,
						    slot->pos, slot->len,
						    slot->count,
						    slot->why);
			if (slot->dead == MQDEV_DLQ_WAITING) {
				sp->waiting_from = off;
				mutex_unlock(&sg->lock);
				return;
			}
			sp->nr_waiting--;
		}
		if (off >= sp->end)	/* none left here, whatever the count */
			sp->nr_waiting = 0;
		mutex_unlock(&sg->lock);
		cond_resched();
	}
}
