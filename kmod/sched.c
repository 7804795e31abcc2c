// SPDX-License-Identifier: GPL-2.0
/*
 * Delayed messages: MQDEV_IOC_SCHEDULE keeps a copy of a message until its
 * due time, then appends it to its partition through ring.c's
 * mqdev_append(), as a produce of it would be.
 *
 * Each topic has a timerqueue (an rbtree keyed by due time, its leftmost
 * node cached) of its scheduled messages, an xarray of them by id for
 * cancel and list, and one hrtimer on CLOCK_REALTIME armed for the earliest
 * due time.  The timer only queues the topic's work: an append takes the
 * partition's mutex and may have to wait for room, which an hrtimer
 * callback may not.  The work appends what is due, in order of due time
 * (equal times in order of scheduling: timerqueue_add() puts an equal key
 * after the ones there), and arms the timer for the next.  Scheduling
 * costs O(log n) under the topic's xarray lock; firing, O(log n) per
 * message and one timer expiry per distinct due time; nothing scans.
 *
 * On a durable topic its replica keeps them (MQDEV_IOC_SCHED_SNAPSHOT):
 * each change (scheduled, cancelled, appended) counts in the serial the
 * groups' commits count in, and SCHEDULE and SCHED_CANCEL wait for a
 * replica in sync to confirm it as a commit does.  A snapshot is taken
 * under run_lock, so that no message is half appended while the
 * partitions' ends are read: one appended after it is past them.
 *
 *   lock                      guards
 *   sched.ids' xa_lock        the queue, the ids, dead, nr_held,
 *                             orphan_until, each replica's sched_hold,
 *                             nr, a TTL being set, the timer's arming
 *   sched.run_lock (mutex)    a message the work is appending: a cancel
 *                             waits for it, the work never frees under it
 *
 * run_lock is taken before part->lock (the append) and the xa_lock after
 * both; the xa_lock is a spinlock, under which nothing sleeps or touches
 * user memory.
 */

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/hrtimer.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/timerqueue.h>
#include "mqdev.h"

MQDEV_LIMIT_SHARED(max_scheduled, 1UL << 20, 0, 1UL << 26,
		   "Most delayed messages every user together may have scheduled");
MQDEV_LIMIT_SHARED(max_scheduled_bytes, 256UL << 20, 0, MQDEV_MAX_TOTAL_BYTES,
		   "Most bytes of delayed messages every user together may have scheduled");

MQDEV_LIMIT(sched_hold_ms, 10000, 0, 600000,
	    "How long a replica's hold on a topic's scheduled messages outlives its handle, ms");

/* Messages a snapshot copies before it lets go of the xa_lock a while. */
#define SCHED_SNAP_BATCH	64

/* Messages the work appends before it lets others have the CPU. */
#define SCHED_RUN_MAX		64

/* One scheduled message, charged to @uid until it is appended or dropped. */
struct sched_msg {
	struct timerqueue_node	node;	/* expires: the due time */
	u32			id;
	kuid_t			uid;
	u32			partition;
	u32			flags;	/* the record's */
	u32			key_len;
	u32			value_len;
	u32			tries;	/* appends refused for want of room */
	char			data[];	/* the key, then the value */
};

static u64 sched_msg_bytes(const struct sched_msg *m)
{
	return sizeof(*m) + m->key_len + m->value_len;
}

static void sched_charges(const struct sched_msg *m, u64 *amount)
{
	memset(amount, 0, MQDEV_NR_CHARGES * sizeof(*amount));
	amount[MQDEV_CHARGE_SCHEDULED] = 1;
	amount[MQDEV_CHARGE_SCHEDULED_BYTES] = sched_msg_bytes(m);
}

static atomic64_t sched_nr_all = ATOMIC64_INIT(0);
static atomic64_t sched_bytes_all = ATOMIC64_INIT(0);

/* Count @m against its user's limits and the module's. */
static int sched_charge(struct sched_msg *m)
{
	u64 amount[MQDEV_NR_CHARGES];
	u64 bytes = sched_msg_bytes(m);
	int err;

	/* Each count is taken back only if it was added. */
	if (atomic64_add_return(1, &sched_nr_all) >
	    mqdev_limit(&max_scheduled)) {
		atomic64_dec(&sched_nr_all);
		return -ENOSPC;
	}
	if (atomic64_add_return(bytes, &sched_bytes_all) >
	    mqdev_limit(&max_scheduled_bytes)) {
		atomic64_sub(bytes, &sched_bytes_all);
		atomic64_dec(&sched_nr_all);
		return -ENOSPC;
	}
	sched_charges(m, amount);
	err = mqdev_charge_many(m->uid, amount);
	if (err) {
		atomic64_dec(&sched_nr_all);
		atomic64_sub(bytes, &sched_bytes_all);
	}
	return err;
}

/* Give back what @m was charged, and free it. */
static void sched_msg_free(struct sched_msg *m)
{
	u64 amount[MQDEV_NR_CHARGES];

	sched_charges(m, amount);
	mqdev_uncharge_many(m->uid, amount);
	atomic64_dec(&sched_nr_all);
	atomic64_sub(sched_msg_bytes(m), &sched_bytes_all);
	kvfree(m);
}

/* Take @m off the topic's queue and ids; the xa_lock is held. */
static void sched_unlink(struct mqdev_sched *s, struct sched_msg *m)
{
	timerqueue_del(&s->queue, &m->node);
	__xa_erase(&s->ids, m->id);
	s->nr--;
}

/**
 * mqdev_record_expired() - is a record past its expiry?
 * @rec: the record, in the ring or a copy
 * @len: its length, checked against the ring (rec->len may be changing)
 * @now: CLOCK_REALTIME ns
 *
 * Return: true when @rec carries an expiry (MQDEV_RECORD_EXPIRES) at or
 * before @now.
 */
bool mqdev_record_expired(const struct mqdev_record *rec, u32 len, u64 now)
{
	u32 key_len = READ_ONCE(rec->key_len);
	u64 expires;

	if (!(READ_ONCE(rec->flags) & MQDEV_RECORD_EXPIRES) ||
	    (u64)sizeof(*rec) + key_len + sizeof(u64) > len)
		return false;
	/* Unaligned, after the key: see the uapi header.  0: none. */
	memcpy(&expires, (const char *)(rec + 1) + key_len, sizeof(expires));
	return expires && expires <= now;
}

/* The expiry of a scheduled message, as its record will carry it. */
static bool sched_msg_expired(const struct sched_msg *m, u64 now)
{
	u64 expires;

	if (!(m->flags & MQDEV_RECORD_EXPIRES))
		return false;
	memcpy(&expires, m->data + m->key_len, sizeof(expires));
	return expires && expires <= now;
}

static enum hrtimer_restart sched_timer_fn(struct hrtimer *timer)
{
	struct mqdev_sched *s = container_of(timer, struct mqdev_sched, timer);

	queue_work(system_unbound_wq, &s->work);
	return HRTIMER_NORESTART;
}

/* Arm the timer for @due; the xa_lock is held. */
static void sched_arm(struct mqdev_sched *s, u64 due)
{
	hrtimer_start(&s->timer, ns_to_ktime(due), HRTIMER_MODE_ABS);
}

/*
 * Are @s's messages held at @now?  A replica that stops holds them
 * (MQDEV_SCHED_SNAPSHOT_HOLD) so that none is appended after its last
 * snapshot; once its handle is closed the hold lasts until orphan_until
 * (sched_hold_ms later), then ends with a line in the log.  The xa_lock
 * is held.
 */
static bool sched_held(struct mqdev_sched *s, u64 now)
{
	struct mqdev_topic *topic = container_of(s, struct mqdev_topic, sched);

	if (s->nr_held)
		return true;
	if (!s->orphan_until)
		return false;
	if (now < s->orphan_until)
		return true;
	s->orphan_until = 0;
	pr_info_ratelimited("mqdev: %s: the hold of a replica that left is over: scheduled messages are appended again\n",
			    topic->name);
	return false;
}

/*
 * The earliest message if it is due, else NULL with the timer armed for it
 * (or for the end of a hold whose replica left).  The caller holds
 * run_lock: the message stays until it unlinks it.
 */
static struct sched_msg *sched_peek_due(struct mqdev_sched *s, u64 *now)
{
	struct mqdev_topic *topic = container_of(s, struct mqdev_topic, sched);
	struct timerqueue_node *node;
	struct sched_msg *m = NULL;

	xa_lock(&s->ids);
	node = timerqueue_getnext(&s->queue);
	*now = ktime_get_real_ns();
	/*
	 * Held, or the topic is being restored: nothing is appended, until
	 * TOPIC_OPEN, the replica's next snapshot or the end of the hold
	 * queue the work again.
	 */
	if (!node || s->dead || READ_ONCE(topic->restoring))
		goto out_unlock;
	if (sched_held(s, *now)) {
		/* Its replica left: the work looks again when the hold ends. */
		if (!s->nr_held)
			sched_arm(s, max_t(u64, node->expires,
					   s->orphan_until));
	} else if (node->expires <= *now) {
		m = container_of(node, struct sched_msg, node);
	} else {
		sched_arm(s, node->expires);
	}
out_unlock:
	xa_unlock(&s->ids);
	return m;
}

/*
 * Append @m to its partition.  Return: 0 when it is done with (appended,
 * or dropped and counted), -EAGAIN when it is to be tried again later.
 */
static int sched_deliver(struct mqdev_topic *topic, struct mqdev_append *ap,
			 struct sched_msg *m, u64 now)
{
	struct mqdev_msg msg = {
		.key = (uintptr_t)m->data,
		.value = (uintptr_t)(m->data + m->key_len),
		.key_len = m->key_len,
		.value_len = m->value_len,
		.partition = m->partition,
		.flags = m->flags,
	};
	int err;

	if (sched_msg_expired(m, now)) {
		atomic64_inc(&topic->sched.expired);
		return 0;
	}
	err = mqdev_append(ap, &topic->parts[m->partition], &msg,
			   m->key_len ? m->data : NULL);
	/*
	 * A kernel retry (reconsume.c) whose member was told RETRIED and
	 * committed past the record is kept until there is room: it stays
	 * charged to its user, within the user's limits of scheduled bytes.
	 */
	if (err == -EAGAIN && ((m->flags & MQDEV_RECORD_RETRY) ||
			       ++m->tries < MQDEV_SCHED_RETRIES))
		return -EAGAIN;
	if (err && err != -EIDRM)
		atomic64_inc(&topic->sched.dropped);
	return 0;
}

static void sched_work_fn(struct work_struct *work)
{
	struct mqdev_sched *s = container_of(work, struct mqdev_sched, work);
	struct mqdev_topic *topic = container_of(s, struct mqdev_topic, sched);
	struct mqdev_append ap = { .nonblock = true, .kernel = true };
	struct sched_msg *m, *done[SCHED_RUN_MAX];
	unsigned int n;
	u64 now;

	mutex_lock(&s->run_lock);
	for (n = 0; n < SCHED_RUN_MAX; n++) {
		m = sched_peek_due(s, &now);
		if (!m)
			break;
		/*
		 * A run stamps its records with the time it began: one due
		 * since then takes the time now, or it would look early.
		 */
		if (ap.part && m->node.expires > ap.timestamp)
			mqdev_append_restamp(&ap);
		if (sched_deliver(topic, &ap, m, now)) {
			/* Full: it keeps its place, those after it wait. */
			xa_lock(&s->ids);
			if (!s->dead)
				sched_arm(s, now + MQDEV_SCHED_RETRY_MS *
					  NSEC_PER_MSEC);
			xa_unlock(&s->ids);
			break;
		}
		xa_lock(&s->ids);
		sched_unlink(s, m);
		xa_unlock(&s->ids);
		done[n] = m;
	}
	/* Publishes the run and wakes its readers. */
	mqdev_append_end(&ap);
	mutex_unlock(&s->run_lock);
	if (n == SCHED_RUN_MAX)
		queue_work(system_unbound_wq, &s->work);
	/* Its replica drops them from what it keeps: no one waits for it. */
	if (n && (topic->flags & MQDEV_TOPIC_DURABLE))
		mqdev_groups_bump(topic, &s->changed);
	while (n--)
		sched_msg_free(done[n]);
}

/**
 * mqdev_sched_init() - a new topic's empty schedule
 * @topic: the topic, being made
 */
void mqdev_sched_init(struct mqdev_topic *topic)
{
	struct mqdev_sched *s = &topic->sched;

	xa_init_flags(&s->ids, XA_FLAGS_ALLOC1);
	timerqueue_init_head(&s->queue);
	mutex_init(&s->run_lock);
	hrtimer_init(&s->timer, CLOCK_REALTIME, HRTIMER_MODE_ABS);
	s->timer.function = sched_timer_fn;
	INIT_WORK(&s->work, sched_work_fn);
	atomic64_set(&s->expired, 0);
	atomic64_set(&s->dropped, 0);
}

/**
 * mqdev_sched_kill() - drop a topic's scheduled messages, for good
 * @topic: the topic, deleted (or freed)
 *
 * Nothing is scheduled on it afterwards.  Every charge is given back.
 * Called again, it finds nothing to do.
 */
void mqdev_sched_kill(struct mqdev_topic *topic)
{
	struct mqdev_sched *s = &topic->sched;
	struct timerqueue_node *node;
	struct sched_msg *m;

	xa_lock(&s->ids);
	s->dead = true;
	xa_unlock(&s->ids);
	/* The work arms the timer only while not dead: both stop here. */
	hrtimer_cancel(&s->timer);
	cancel_work_sync(&s->work);
	for (;;) {
		xa_lock(&s->ids);
		node = timerqueue_getnext(&s->queue);
		m = node ? container_of(node, struct sched_msg, node) : NULL;
		if (m)
			sched_unlink(s, m);
		xa_unlock(&s->ids);
		if (!m)
			break;
		sched_msg_free(m);
		cond_resched();
	}
	xa_destroy(&s->ids);
}

/* The due time of a request, now being @now: 0 or -errno. */
static int sched_due(const struct mqdev_schedule *req, u64 now, u64 *due)
{
	if (req->at < 0)
		return -EINVAL;
	if (req->flags & MQDEV_SCHED_RELATIVE) {
		if ((u64)req->at > MQDEV_SCHED_MAX_DELAY)
			return -ERANGE;
		*due = now + req->at;
		return 0;
	}
	if ((u64)req->at > now + MQDEV_SCHED_MAX_DELAY)
		return -ERANGE;
	/* In the past: due now, after what is already due. */
	*due = max_t(u64, req->at, now);
	return 0;
}

static int sched_check(struct mqdev_handle *h, struct mqdev_topic *topic,
		       const struct mqdev_schedule *req)
{
	/*
	 * Pairs with smp_store_release() in mqdev_producer_bind().  An
	 * acks=all handle waits for replicas at its append: a scheduled
	 * message is appended later, when nobody waits for it.
	 */
	if (smp_load_acquire(&h->bound) || (h->mode & MQDEV_ATTACH_ACKS_ALL) ||
	    (req->flags & ~MQDEV_SCHED_FLAGS) ||
	    req->reserved || req->reserved2[0] || req->reserved2[1] ||
	    req->msg.sequence || req->msg.status)
		return -EINVAL;
	return mqdev_msg_check(topic, &req->msg, false);
}

/* Room for a message of @msg's key and value, its fields set but data. */
static struct sched_msg *sched_msg_alloc(const struct mqdev_msg *msg)
{
	struct sched_msg *m;

	/* A value may be as large as max_record, past what kmalloc() gives. */
	m = kvmalloc(struct_size(m, data, (size_t)msg->key_len + msg->value_len),
		     GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!m)
		return NULL;
	timerqueue_init(&m->node);
	m->uid = current_fsuid();
	m->partition = msg->partition;
	m->flags = msg->flags;
	m->key_len = msg->key_len;
	m->value_len = msg->value_len;
	m->tries = 0;
	return m;
}

/* A copy of the message's key and value, its partition chosen. */
static int sched_msg_make(struct mqdev_topic *topic, struct mqdev_msg *msg,
			  struct sched_msg **mp)
{
	struct sched_msg *m;

	m = sched_msg_alloc(msg);
	if (!m)
		return -ENOMEM;
	if (copy_from_user(m->data, u64_to_user_ptr(msg->key), msg->key_len) ||
	    copy_from_user(m->data + msg->key_len,
			   u64_to_user_ptr(msg->value), msg->value_len)) {
		kvfree(m);
		return -EFAULT;
	}
	if (msg->partition == MQDEV_PARTITION_ANY)
		msg->partition = msg->key_len ?
			mqdev_key_hash(m->data, msg->key_len) % topic->nr_parts :
			mqdev_next_rr_partition(topic);
	m->partition = msg->partition;
	*mp = m;
	return 0;
}

/*
 * Give @m the id *@id (0: a new one, which goes back in *@id) and its
 * place; the timer if it is the earliest.  -EEXIST for an id taken.
 */
static int sched_insert(struct mqdev_sched *s, struct sched_msg *m, u64 due,
			u32 *id)
{
	int err;

	m->node.expires = due;
	m->id = *id;
	xa_lock(&s->ids);
	if (s->dead) {
		err = -EIDRM;
		goto out_unlock;
	}
	/* A replica that stops has taken its last snapshot: see sched_held(). */
	if (!m->id && sched_held(s, ktime_get_real_ns())) {
		err = -EAGAIN;
		goto out_unlock;
	}
	/* May let go of the lock to allocate: dead is looked at again. */
	if (m->id) {
		err = __xa_insert(&s->ids, m->id, m, GFP_KERNEL_ACCOUNT);
		if (err == -EBUSY)
			err = -EEXIST;
		/* New ids go on after the restored ones. */
		if (!err && m->id >= s->next_id)
			s->next_id = m->id + 1;
	} else {
		err = __xa_alloc_cyclic(&s->ids, &m->id, m, xa_limit_32b,
					&s->next_id, GFP_KERNEL_ACCOUNT);
	}
	if (err < 0)
		goto out_unlock;
	err = 0;
	if (s->dead) {
		__xa_erase(&s->ids, m->id);
		err = -EIDRM;
		goto out_unlock;
	}
	timerqueue_add(&s->queue, &m->node);
	*id = m->id;
	s->nr++;
	if (timerqueue_getnext(&s->queue) == &m->node)
		sched_arm(s, due);
out_unlock:
	xa_unlock(&s->ids);
	return err;
}

/*
 * Charge @m to its owner and queue it on @topic for @due (id *@id, 0: a
 * new one); frees on error.  Its id goes back in *@id: once queued, @m
 * may be appended and freed at once.
 */
static int sched_add(struct mqdev_topic *topic, struct sched_msg *m, u64 due,
		     u32 *id)
{
	int err = sched_charge(m);

	if (err) {
		kvfree(m);
		return err;
	}
	err = sched_insert(&topic->sched, m, due, id);
	if (err)
		sched_msg_free(m);
	return err;
}

/*
 * On a durable topic, a change to its scheduled messages (or settings) is
 * returned once a replica in sync kept it, as a group commit is: then a
 * restart brings it back.  -EINTR for a signal: made, not known safe.
 */
static int sched_wait_safe(struct mqdev_topic *topic, u32 partition)
{
	if (!(topic->flags & MQDEV_TOPIC_DURABLE))
		return 0;
	return mqdev_groups_wait_safe(&topic->parts[partition],
				      mqdev_groups_bump(topic,
							&topic->sched.changed));
}

/**
 * mqdev_schedule() - MQDEV_IOC_SCHEDULE: append a message at a set time
 * @ioc: the ioctl, on a handle attached to produce
 * @req: the request, copied in; its id, due time and partition go back
 *
 * Return: 0; -EINVAL for bad flags, reserved fields set, a bound handle, a
 * bad message or a negative time; -ERANGE for a due time past
 * MQDEV_SCHED_MAX_DELAY from now; -EMSGSIZE for a message larger than the
 * topic's max_record; -EDQUOT past the user's limits, -ENOSPC past the
 * module's; -EIDRM for a deleted topic; -EOPNOTSUPP for a single-writer
 * topic; -EAGAIN while a replica holds the topic; -EFAULT; -ENOMEM; on a
 * durable topic, scheduled but not yet known safe, -EINTR for a signal
 * (see mqdev_groups_wait_safe()): the struct goes back then too.
 */
long mqdev_schedule(struct mqdev_ioc *ioc, struct mqdev_schedule *req)
{
	struct mqdev_topic *topic = ioc->topic;
	struct sched_msg *m;
	u64 now = ktime_get_real_ns(), due;
	u32 id = 0;
	int err;

	/*
	 * A single writer's ring is its own to write (swriter.c): the work
	 * could not append the message when it is due.
	 */
	if (mqdev_swriter(topic))
		return -EOPNOTSUPP;
	err = sched_check(ioc->h, topic, req) ?: sched_due(req, now, &due);
	if (err)
		goto out_refused;
	err = sched_msg_make(topic, &req->msg, &m);
	if (err)
		goto out_refused;
	err = sched_add(topic, m, due, &id);
	if (err)
		goto out_refused;
	req->id = id;
	req->due = due;
	req->msg.offset = MQDEV_OFFSET_UNKNOWN;
	return sched_wait_safe(topic, req->msg.partition);

out_refused:
	mqdev_stats_refused(topic, MQDEV_PARTITION_ANY, err);
	return err;
}

/**
 * mqdev_sched_kernel() - schedule a message the kernel made
 * @topic: the topic, referenced, not a single writer's
 * @msg: the message: its partition chosen, its value in kernel memory,
 *	 its flags the kernel's (a retry's, see reconsume.c)
 * @key: its key, in kernel memory
 * @due: CLOCK_REALTIME ns
 * @id: its id goes here
 *
 * The copy is charged to the caller as a MQDEV_IOC_SCHEDULE's is.
 *
 * Return: 0; -EDQUOT or -ENOSPC past the limits, -EIDRM for a deleted
 * topic, -EAGAIN while a replica holds it, -ENOMEM.
 */
int mqdev_sched_kernel(struct mqdev_topic *topic, const struct mqdev_msg *msg,
		       const void *key, u64 due, u32 *id)
{
	struct sched_msg *m = sched_msg_alloc(msg);
	int err;

	if (!m)
		return -ENOMEM;
	memcpy(m->data, key, msg->key_len);
	memcpy(m->data + msg->key_len, (const void *)(uintptr_t)msg->value,
	       msg->value_len);
	*id = 0;
	err = sched_add(topic, m, due, id);
	/* Kept by its replica too; nobody waits for it (see reconsume.c). */
	if (!err && (topic->flags & MQDEV_TOPIC_DURABLE))
		mqdev_groups_bump(topic, &topic->sched.changed);
	return err;
}

/**
 * mqdev_sched_cancel() - MQDEV_IOC_SCHED_CANCEL: drop a scheduled message
 * @ioc: the ioctl, on a handle attached to produce
 * @req: the request
 *
 * Return: 0; -EINVAL for flags or reserved set; -ENOENT for no such
 * message scheduled; -EPERM for a caller who neither scheduled it nor owns
 * the topic and has no CAP_SYS_ADMIN; -EAGAIN while a replica holds the
 * topic; on a durable topic, cancelled but not yet known safe, -EINTR for
 * a signal.
 */
long mqdev_sched_cancel(struct mqdev_ioc *ioc, struct mqdev_sched_cancel *req)
{
	struct mqdev_topic *topic = ioc->topic;
	struct mqdev_sched *s = &topic->sched;
	bool owner = !mqdev_permits(NULL, topic, NULL, MQDEV_ACT_TOPIC_DELETE);
	kuid_t uid = current_fsuid();
	struct sched_msg *m;
	u32 partition = 0;
	int err = 0;

	if (req->flags || req->reserved)
		return -EINVAL;
	if (!req->id || req->id > U32_MAX)
		return -ENOENT;
	/* Not while the work appends it: it is its until then. */
	mutex_lock(&s->run_lock);
	xa_lock(&s->ids);
	m = xa_load(&s->ids, req->id);
	if (sched_held(s, ktime_get_real_ns()))
		err = -EAGAIN;
	else if (!m)
		err = -ENOENT;
	else if (!owner && !uid_eq(m->uid, uid))
		err = -EPERM;
	else
		sched_unlink(s, m);
	xa_unlock(&s->ids);
	mutex_unlock(&s->run_lock);
	if (err)
		return err;
	partition = m->partition;
	sched_msg_free(m);
	return sched_wait_safe(topic, partition);
}

/**
 * mqdev_topic_ttl_set() - set a topic's TTL
 * @topic: the topic
 * @ttl: ns, at most MQDEV_TTL_MAX; 0 for none
 *
 * Every partition's control page says it too, for mapped readers.  Under
 * the xa_lock, so that two setters leave them agreeing, and so that none
 * is set after a stopping replica's last snapshot.
 *
 * Return: 0, or -EAGAIN while a replica holds the topic (see sched_held()).
 */
int mqdev_topic_ttl_set(struct mqdev_topic *topic, u64 ttl)
{
	struct mqdev_sched *s = &topic->sched;
	int err = 0;
	u32 i;

	xa_lock(&s->ids);
	if (sched_held(s, ktime_get_real_ns())) {
		err = -EAGAIN;
		goto out_unlock;
	}
	WRITE_ONCE(topic->ttl_ns, ttl);
	for (i = 0; i < topic->nr_parts; i++)
		WRITE_ONCE(topic->parts[i].ctrl->ttl_ns, ttl);
out_unlock:
	xa_unlock(&s->ids);
	return err;
}

/**
 * mqdev_topic_config() - MQDEV_IOC_TOPIC_CONFIG: a topic's settings
 * @net: the caller's network namespace
 * @req: the request; the settings go back in it
 *
 * Return: 0; -EINVAL for unknown flags, reserved fields set or a bad name;
 * -ENOENT for no such topic; -EACCES without read permission (to read),
 * -EPERM for a caller who does not own it and has no CAP_SYS_ADMIN (to
 * set); -EAGAIN (to set) while a replica holds the topic; on a durable
 * topic, set but not yet known safe, -EINTR for a signal.
 */
int mqdev_topic_config(struct net *net, struct mqdev_topic_config *req)
{
	struct mqdev_topic *topic;
	int err = mqdev_name_check(req->name);

	if (err)
		return err;
	if ((req->flags & ~MQDEV_CONFIG_FLAGS) || req->reserved ||
	    req->reserved2[0] || req->reserved2[1] ||
	    req->ttl_ns > MQDEV_TTL_MAX)
		return -EINVAL;
	topic = mqdev_topic_get(NULL, net, req->name, req->flags ?
				MQDEV_ACT_TOPIC_DELETE : MQDEV_ACT_CONSUME);
	if (IS_ERR(topic))
		return PTR_ERR(topic);
	if (req->flags & MQDEV_CONFIG_TTL) {
		err = mqdev_topic_ttl_set(topic, req->ttl_ns);
		/* Its replica keeps it in TOPIC@config. */
		if (!err)
			err = sched_wait_safe(topic, 0);
	}
	req->ttl_ns = READ_ONCE(topic->ttl_ns);
	mqdev_topic_put(topic);
	return err;
}

static void sched_info(const struct sched_msg *m, struct mqdev_sched_info *info)
{
	info->id = m->id;
	info->due = m->node.expires;
	info->partition = m->partition;
	info->uid = from_kuid_munged(current_user_ns(), m->uid);
	info->key_len = m->key_len;
	info->value_len = m->value_len;
	info->flags = m->flags;
	info->reserved = 0;
}

/* Up to @n messages from @req->start on into @infos; how many went. */
static u32 sched_gather(struct mqdev_sched *s, struct mqdev_sched_list *req,
			struct mqdev_sched_info *infos, u32 n)
{
	unsigned long id;
	struct sched_msg *m;
	u32 i = 0;

	req->next = 0;
	xa_lock(&s->ids);
	xa_for_each_start(&s->ids, id, m, req->start) {
		if (i == n) {
			req->next = id;
			break;
		}
		sched_info(m, &infos[i++]);
	}
	req->scheduled = s->nr;
	xa_unlock(&s->ids);
	return i;
}

/**
 * mqdev_sched_list() - MQDEV_IOC_SCHED_LIST: a page of scheduled messages
 * @ioc: the ioctl, on a handle attached to consume
 * @req: the request; what was found goes back in it
 *
 * Return: 0; -EINVAL for flags or reserved set or a bad element size;
 * -ENOMEM; -EFAULT.
 */
long mqdev_sched_list(struct mqdev_ioc *ioc, struct mqdev_sched_list *req)
{
	struct mqdev_sched *s = &ioc->topic->sched;
	u8 __user *dst = u64_to_user_ptr(req->entries);
	struct mqdev_sched_info *infos = NULL;
	u32 n = min_t(u32, req->count, MQDEV_SCHED_LIST_MAX), i;
	int err = 0;

	if (req->flags || req->reserved)
		return -EINVAL;
	if (n && (req->entry_size < sizeof(*infos) ||
		  req->entry_size > PAGE_SIZE))
		return -EINVAL;
	if (n) {
		infos = kvcalloc(n, sizeof(*infos), GFP_KERNEL);
		if (!infos)
			return -ENOMEM;
	}
	req->count = sched_gather(s, req, infos, n);
	for (i = 0; i < req->count && !err; i++)
		err = mqdev_copy_element(dst + (size_t)i * req->entry_size,
					 &infos[i], sizeof(*infos),
					 req->entry_size);
	kvfree(infos);
	req->expired = atomic64_read(&s->expired);
	req->dropped = atomic64_read(&s->dropped);
	return err;
}

/* ---- kept by a durable topic's replica ---------------------------------- */

/**
 * mqdev_sched_unhold() - a replica's handle is closed: its hold ends
 * @topic: the topic
 * @r: the replica, leaving
 *
 * Not at once: a daemon that stopped cleanly held the messages so that
 * its file and its log agree until the module is loaded again, which
 * follows shortly.  After sched_hold_ms they are appended again (a daemon
 * that stopped for good, or crashed, must not stop them for ever).
 */
void mqdev_sched_unhold(struct mqdev_topic *topic, struct mqdev_replica *r)
{
	struct mqdev_sched *s = &topic->sched;
	u64 grace = mqdev_limit(&sched_hold_ms) * NSEC_PER_MSEC;
	bool last = false;

	xa_lock(&s->ids);
	if (r->sched_hold) {
		r->sched_hold = false;
		last = !--s->nr_held;
		if (last)
			s->orphan_until = max(s->orphan_until,
					      ktime_get_real_ns() + grace);
	}
	xa_unlock(&s->ids);
	/* It arms the timer for the end of the hold. */
	if (last)
		queue_work(system_unbound_wq, &s->work);
}

/**
 * mqdev_sched_open() - a restored topic is open: its messages may come due
 * @topic: the topic
 */
void mqdev_sched_open(struct mqdev_topic *topic)
{
	queue_work(system_unbound_wq, &topic->sched.work);
}

/* The most a snapshot call may take: its page, or the largest message. */
static u64 sched_snap_room(const struct mqdev_topic *topic)
{
	return max_t(u64, MQDEV_SCHED_SNAPSHOT_MAX,
		     MQDEV_SCHED_ENTRY_SPACE(0, topic->max_record));
}

/* @m as a snapshot has it, at @e: the xa_lock is held. */
static void sched_entry_fill(const struct sched_msg *m,
			     struct mqdev_sched_info *e, u64 space)
{
	u64 len = (u64)m->key_len + m->value_len;

	sched_info(m, e);
	memcpy(e + 1, m->data, len);
	memset((u8 *)(e + 1) + len, 0, space - sizeof(*e) - len);
}

/*
 * Replica @r takes its hold, or lets go of it and of any hold left by a
 * replica that left (it takes what they kept from here on).  A call with
 * no room and no HOLD (a probe of the serials) changes nothing, nor does
 * another replica's.  The xa_lock is held.  Return: true when that ended
 * the last hold.
 */
static bool sched_hold_set(struct mqdev_sched *s, struct mqdev_replica *r,
			   const struct mqdev_sched_snapshot *req)
{
	bool was = s->nr_held || s->orphan_until;

	if (req->flags & MQDEV_SCHED_SNAPSHOT_HOLD) {
		if (!r->sched_hold)
			s->nr_held++;
		r->sched_hold = true;
		return false;
	}
	if (!req->size)
		return false;
	if (r->sched_hold)
		s->nr_held--;
	r->sched_hold = false;
	s->orphan_until = 0;
	return was && !s->nr_held;
}

/*
 * Messages from @req->start on into @buf, @room bytes, and @r's hold;
 * run_lock is held.  Return: the bytes filled.
 */
static u32 sched_snap_gather(struct mqdev_sched *s, struct mqdev_replica *r,
			     struct mqdev_sched_snapshot *req, u8 *buf,
			     u32 room, bool *released)
{
	struct sched_msg *m;
	unsigned long id;
	u32 used = 0;
	u64 space;

	req->next = 0;
	req->need = 0;
	req->count = 0;
	xa_lock(&s->ids);
	/* First: a SCHEDULE the walk may miss is refused while held. */
	*released = sched_hold_set(s, r, req);
	xa_for_each_start(&s->ids, id, m, req->start) {
		space = MQDEV_SCHED_ENTRY_SPACE(m->key_len, m->value_len);
		if (space > room - used) {
			req->next = id;
			if (!req->count)
				req->need = space;
			break;
		}
		sched_entry_fill(m, (void *)(buf + used), space);
		used += space;
		if (++req->count % SCHED_SNAP_BATCH)
			continue;
		/*
		 * Let others' SCHEDULE and LIST in, and go on after @id.
		 * Nothing gathered goes away meanwhile (cancels and the work
		 * wait for run_lock), and what is added is after the serial.
		 */
		xa_unlock(&s->ids);
		cond_resched();
		xa_lock(&s->ids);
	}
	xa_unlock(&s->ids);
	return used;
}

static int sched_snap_check(struct mqdev_ioc *ioc,
			    const struct mqdev_sched_snapshot *req)
{
	if (!ioc->h->replica)
		return -EBADF;
	if ((req->flags & ~MQDEV_SCHED_SNAPSHOT_FLAGS) || req->reserved ||
	    req->reserved2 ||
	    (req->ends && req->ends_count != ioc->topic->nr_parts) ||
	    (!req->ends && req->ends_count))
		return -EINVAL;
	return req->size > sched_snap_room(ioc->topic) ? -EMSGSIZE : 0;
}

/**
 * mqdev_sched_snapshot() - MQDEV_IOC_SCHED_SNAPSHOT: what to keep
 * @ioc: the ioctl, on a replica handle
 * @req: the request; what was found goes back in it
 *
 * Gathered into a kernel buffer under the topic's xa_lock, let go of
 * every SCHED_SNAP_BATCH messages, copied out after it.  Under run_lock
 * throughout, so that the partitions' ends said are those at the
 * gathering.
 *
 * Return: 0; -EBADF on a handle that is no replica; -EINVAL for unknown
 * flags, reserved fields set or a bad @ends_count; -EMSGSIZE for a @size
 * past what one call may take; -ENOMEM; -EFAULT.
 */
long mqdev_sched_snapshot(struct mqdev_ioc *ioc,
			  struct mqdev_sched_snapshot *req)
{
	struct mqdev_topic *topic = ioc->topic;
	struct mqdev_sched *s = &topic->sched;
	u64 *ends = NULL;
	u8 *buf = NULL;
	bool released;
	int err;
	u32 used, i;

	err = sched_snap_check(ioc, req);
	if (err)
		return err;
	buf = req->size ?
	      kvmalloc(req->size, GFP_KERNEL_ACCOUNT | __GFP_NOWARN) : NULL;
	if (req->ends)
		ends = kvcalloc(topic->nr_parts, sizeof(*ends), GFP_KERNEL);
	if ((req->size && !buf) || (req->ends && !ends)) {
		err = -ENOMEM;
		goto out_free;
	}
	/* Before gathering: every change counted in it is in what is. */
	req->serial = mqdev_groups_serial(topic);
	req->changed = READ_ONCE(s->changed);
	mutex_lock(&s->run_lock);
	for (i = 0; ends && i < topic->nr_parts; i++)
		ends[i] = READ_ONCE(topic->parts[i].next_offset);
	used = sched_snap_gather(s, ioc->h->replica, req, buf, req->size,
				 &released);
	mutex_unlock(&s->run_lock);
	if (released)
		queue_work(system_unbound_wq, &s->work);
	if (copy_to_user(u64_to_user_ptr(req->buf), buf, used) ||
	    (ends && copy_to_user(u64_to_user_ptr(req->ends), ends,
				  topic->nr_parts * sizeof(*ends))))
		err = -EFAULT;
	req->size = used;
out_free:
	kvfree(ends);
	kvfree(buf);
	return err;
}

/* A restored message's request, as it was when it was scheduled. */
static int sched_restore_check(struct mqdev_topic *topic,
			       const struct mqdev_sched_restore *req)
{
	struct mqdev_msg msg = req->msg;

	if (req->flags || req->reserved[0] || req->reserved[1] ||
	    !req->id || req->id > U32_MAX ||
	    req->msg.partition >= topic->nr_parts ||
	    req->msg.sequence || req->msg.status)
		return -EINVAL;
	if (req->due > ktime_get_real_ns() + MQDEV_SCHED_MAX_DELAY)
		return -ERANGE;
	/*
	 * A retry (reconsume.c) carries a flag only the kernel sets: kept
	 * by the replica as the kernel made it, and believed as the rest of
	 * a restore is (CAP_SYS_ADMIN).
	 */
	msg.flags &= ~MQDEV_RECORD_RETRY;
	return mqdev_msg_check(topic, &msg, false);
}

/**
 * mqdev_sched_restore() - schedule a kept message again
 * @topic: the topic being restored
 * @req: the message, its id, due time and owner
 * @uid: its owner, who is charged for it
 *
 * Return: 0; -EINVAL for a bad request; -ERANGE for a due time past
 * MQDEV_SCHED_MAX_DELAY from now; -EMSGSIZE; -EEXIST for an id taken;
 * -EDQUOT or -ENOSPC past the limits; -EIDRM; -EFAULT; -ENOMEM.
 */
int mqdev_sched_restore(struct mqdev_topic *topic,
			const struct mqdev_sched_restore *req, kuid_t uid)
{
	struct mqdev_msg msg = req->msg;
	struct sched_msg *m;
	u32 id = req->id;
	int err;

	err = sched_restore_check(topic, req);
	if (err)
		return err;
	err = sched_msg_make(topic, &msg, &m);
	if (err)
		return err;
	m->uid = uid;
	return sched_add(topic, m, req->due, &id);
}
