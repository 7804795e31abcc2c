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
 *   lock                      guards
 *   sched.ids' xa_lock        the queue, the ids, dead, nr, the timer's arming
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
 * The earliest message if it is due, else NULL with the timer armed for it.
 * The caller holds run_lock: the message stays until it unlinks it.
 */
static struct sched_msg *sched_peek_due(struct mqdev_sched *s, u64 *now)
{
	struct timerqueue_node *node;
	struct sched_msg *m = NULL;

	xa_lock(&s->ids);
	node = timerqueue_getnext(&s->queue);
	*now = ktime_get_real_ns();
	if (node && !s->dead) {
		if (node->expires <= *now)
			m = container_of(node, struct sched_msg, node);
		else
			sched_arm(s, node->expires);
	}
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

/* Give @m an id and its place; the timer if it is the earliest. */
static int sched_insert(struct mqdev_sched *s, struct sched_msg *m, u64 due,
			u32 *id)
{
	int err;

	m->node.expires = due;
	xa_lock(&s->ids);
	if (s->dead) {
		err = -EIDRM;
		goto out_unlock;
	}
	/* May let go of the lock to allocate: dead is looked at again. */
	err = __xa_alloc_cyclic(&s->ids, &m->id, m, xa_limit_32b, &s->next_id,
				GFP_KERNEL_ACCOUNT);
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
 * Charge @m to the caller and queue it on @topic for @due; frees on error.
 * Its id goes in @id: once queued, @m may be appended and freed at once.
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
 * topic; -EFAULT; -ENOMEM.
 */
long mqdev_schedule(struct mqdev_ioc *ioc, struct mqdev_schedule *req)
{
	struct mqdev_topic *topic = ioc->topic;
	struct sched_msg *m;
	u64 now = ktime_get_real_ns(), due;
	u32 id;
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
	return 0;

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
 * topic, -ENOMEM.
 */
int mqdev_sched_kernel(struct mqdev_topic *topic, const struct mqdev_msg *msg,
		       const void *key, u64 due, u32 *id)
{
	struct sched_msg *m = sched_msg_alloc(msg);

	if (!m)
		return -ENOMEM;
	memcpy(m->data, key, msg->key_len);
	memcpy(m->data + msg->key_len, (const void *)(uintptr_t)msg->value,
	       msg->value_len);
	return sched_add(topic, m, due, id);
}

/**
 * mqdev_sched_cancel() - MQDEV_IOC_SCHED_CANCEL: drop a scheduled message
 * @ioc: the ioctl, on a handle attached to produce
 * @req: the request
 *
 * Return: 0; -EINVAL for flags or reserved set; -ENOENT for no such
 * message scheduled; -EPERM for a caller who neither scheduled it nor owns
 * the topic and has no CAP_SYS_ADMIN.
 */
long mqdev_sched_cancel(struct mqdev_ioc *ioc, struct mqdev_sched_cancel *req)
{
	struct mqdev_topic *topic = ioc->topic;
	struct mqdev_sched *s = &topic->sched;
	bool owner = !mqdev_permits(NULL, topic, NULL, MQDEV_ACT_TOPIC_DELETE);
	kuid_t uid = current_fsuid();
	struct sched_msg *m;
	int err = 0;

	if (req->flags || req->reserved)
		return -EINVAL;
	if (!req->id || req->id > U32_MAX)
		return -ENOENT;
	/* Not while the work appends it: it is its until then. */
	mutex_lock(&s->run_lock);
	xa_lock(&s->ids);
	m = xa_load(&s->ids, req->id);
	if (!m)
		err = -ENOENT;
	else if (!owner && !uid_eq(m->uid, uid))
		err = -EPERM;
	else
		sched_unlink(s, m);
	xa_unlock(&s->ids);
	mutex_unlock(&s->run_lock);
	if (!err)
		sched_msg_free(m);
	return err;
}

/* Every partition's control page says it too, for mapped readers. */
static void topic_ttl_set(struct mqdev_topic *topic, u64 ttl)
{
	u32 i;

	WRITE_ONCE(topic->ttl_ns, ttl);
	for (i = 0; i < topic->nr_parts; i++)
		WRITE_ONCE(topic->parts[i].ctrl->ttl_ns, ttl);
}

/**
 * mqdev_topic_config() - MQDEV_IOC_TOPIC_CONFIG: a topic's settings
 * @net: the caller's network namespace
 * @req: the request; the settings go back in it
 *
 * Return: 0; -EINVAL for unknown flags, reserved fields set or a bad name;
 * -ENOENT for no such topic; -EACCES without read permission (to read),
 * -EPERM for a caller who does not own it and has no CAP_SYS_ADMIN (to
 * set).
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
	if (req->flags & MQDEV_CONFIG_TTL)
		topic_ttl_set(topic, req->ttl_ns);
	req->ttl_ns = READ_ONCE(topic->ttl_ns);
	mqdev_topic_put(topic);
	return 0;
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
