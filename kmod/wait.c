// SPDX-License-Identifier: GPL-2.0
/*
 * Waiting for records with a watermark (MQDEV_IOC_WAIT): Kafka's
 * fetch.min.bytes and fetch.max.wait.ms for a consumer that reads in place.
 *
 * poll(2) wakes every sleeper on a partition's data_wait whenever head moves,
 * and each one that wanted more goes back to sleep having cost a wake-up and
 * two context switches; with many consumer groups on one topic that is most
 * of what consuming costs.  Here the waiter hangs one entry on the data_wait
 * (a replica's: end_wait, woken when the end moves past the high watermark)
 * of every partition it reads, with a wake function that looks at how much
 * is ready past the waiter's own position before waking it, as io_uring's
 * io_wake_function() does for min_complete:
 *
 *   producer                              waiter
 *   smp_store_release(head)               add entries to data_wait
 *   smp_mb(), waitqueue_active()          set_current_state(INTERRUPTIBLE)
 *   __wake_up(data_wait)                  look: enough?  no:
 *     wait_wake(): enough past *pos?        schedule()
 *       no: return 0 (stay asleep)
 *       yes: wake the waiter, take
 *            its entry off  ----------->  look: enough, return
 *                                         (not enough: entry back under
 *                                          the lock, look, then sleep)
 *
 * The producer's smp_mb() pairs with the one in set_current_state(): either
 * the waiter sees the new head, or the producer sees the entry.  The entry
 * leaves the queue in the wake-up, as autoremove_wake_function() has it,
 * so the waiter's way out takes the queue's lock only for an entry nobody
 * woke.
 */

#include <linux/compat.h>
#include <linux/file.h>
#include <linux/hrtimer.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/security.h>
#include <linux/slab.h>
#include "mqdev.h"
#include "trace.h"

/* Entries on the stack for this many partitions; more are allocated. */
#define WAIT_ON_STACK		4

struct wait_entry {
	struct wait_queue_entry	wq;
	wait_queue_head_t	*head;		/* data_wait, or a replica's end_wait */
	struct mqdev_part	*part;
	const u64		*pos;		/* the handle's, in its page */
	u32			min_bytes;
	bool			replica;
};

/* Is what the entry waits for there: enough past its position? */
static bool wait_entry_ready(const struct wait_entry *e)
{
	return mqdev_ring_ready(e->part, READ_ONCE(*e->pos), e->min_bytes,
				e->replica);
}

/*
 * Called under the queue's lock.  A waiter it wakes leaves the queue here,
 * as autoremove_wake_function() has it, so that the waiter's way out takes
 * no lock for it (wait_remove()); a waiter that must sleep again puts the
 * entry back first (wait_requeue()).
 */
static int wait_wake(struct wait_queue_entry *curr, unsigned int mode,
		     int wake_flags, void *key)
{
	struct wait_entry *e = container_of(curr, struct wait_entry, wq);
	int woken;

	/* The topic is marked dead before its rings' sleepers are woken. */
	if (!wait_entry_ready(e) && !mqdev_topic_dead(e->part->topic))
		return 0;	/* another waiter may be content with less */
	woken = default_wake_function(curr, mode, wake_flags, key);
	/*
	 * Pairs with list_empty_careful() in wait_remove(); wait_requeue()
	 * looks under the lock.
	 */
	if (woken)
		list_del_init_careful(&curr->entry);
	return woken;
}

/**
 * mqdev_handle_ready() - has the handle enough to read?
 * @h: the handle, attached to consume
 * @topic: its topic
 * @min_bytes: how much must be ready: 0 counts as 1
 *
 * Lock-free, as mqdev_ring_ready(): for wake conditions too.
 *
 * Return: true when a partition @h reads has @min_bytes ready past its
 * position.
 */
bool mqdev_handle_ready(struct mqdev_handle *h, struct mqdev_topic *topic,
			u32 min_bytes)
{
	u32 i;

	for_each_set_bit(i, h->subscribed, topic->nr_parts)
		if (mqdev_ring_ready(&topic->parts[i],
				     READ_ONCE(*handle_pos(h, i)), min_bytes,
				     handle_replica(h)))
			return true;
	return false;
}

/* What the handle would be woken for now: EPOLLIN, EPOLLPRI, EPOLLHUP. */
static __poll_t wait_ready(struct mqdev_handle *h, struct mqdev_topic *topic,
			   u32 min_bytes)
{
	/* A NULL poll table asks without waiting, as vfs_poll() allows. */
	__poll_t mask = mqdev_group_poll(h, NULL, NULL);

	if (mqdev_handle_ready(h, topic, min_bytes))
		mask |= EPOLLIN;
	if (mqdev_topic_dead(topic))
		mask |= EPOLLHUP;
	return mask;
}

/* The waiter's entries: one per partition it reads, one for its group. */
struct wait_entries {
	struct wait_entry	*e;
	u32			nr;
	struct mqdev_member	*member;	/* or NULL */
	struct wait_queue_entry	group_wq;
};

static void wait_add(struct mqdev_handle *h, struct mqdev_topic *topic,
		     struct wait_entries *we, u32 min_bytes)
{
	struct wait_entry *e = we->e;
	u32 i;

	/* Pairs with smp_store_release() in member_add(): m is whole. */
	we->member = smp_load_acquire(&h->member);
	/*
	 * A rebalance may change the partitions meanwhile: it wakes us, with
	 * news.  A partition seek()ed meanwhile by another thread of the
	 * handle is waited on from the next wait.
	 */
	for_each_set_bit(i, h->subscribed, topic->nr_parts) {
		if (e == we->e + we->nr)
			break;
		e->part = &topic->parts[i];
		e->pos = handle_pos(h, i);
		e->min_bytes = min_bytes;
		e->replica = handle_replica(h);
		e->head = e->replica ? &e->part->end_wait : &e->part->data_wait;
		init_waitqueue_func_entry(&e->wq, wait_wake);
		e->wq.private = current;
		add_wait_queue(e->head, &e->wq);
		e++;
	}
	we->nr = e - we->e;
	if (we->member) {
		init_waitqueue_entry(&we->group_wq, current);
		add_wait_queue(&we->member->group->wait, &we->group_wq);
	}
}

/*
 * Put back on its queue each entry a wake-up took off (wait_wake()), for a
 * waiter that was woken, found nothing and must sleep again; it looks once
 * more before it does.  Under the queue's lock, as prepare_to_wait() does:
 * a waker on another CPU makes the task runnable before it takes the entry
 * off, so a look without the lock could find the entry still queued and
 * the waiter sleep with none.
 *
 * Return: true if any was put back.
 */
static bool wait_requeue(struct wait_entries *we)
{
	bool requeued = false;
	unsigned long flags;
	struct wait_entry *e;

	for (e = we->e; e < we->e + we->nr; e++) {
		spin_lock_irqsave(&e->head->lock, flags);
		if (list_empty(&e->wq.entry)) {
			__add_wait_queue(e->head, &e->wq);
			requeued = true;
		}
		spin_unlock_irqrestore(&e->head->lock, flags);
	}
	return requeued;
}

/*
 * As finish_wait(): an entry a wake-up took off costs no lock.  One it is
 * still taking off is not seen empty, and the lock waits for that waker.
 */
static void wait_remove(struct wait_entries *we)
{
	u32 i;

	for (i = 0; i < we->nr; i++) {
		if (!list_empty_careful(&we->e[i].wq.entry))
			remove_wait_queue(we->e[i].head, &we->e[i].wq);
	}
	if (we->member)
		remove_wait_queue(&we->member->group->wait, &we->group_wq);
}

/*
 * What the waiter would be woken for now, as wait_ready() says it, from
 * its entries: the partitions it waits on and still reads (a rebalance may
 * have revoked one), without a walk of the handle's bitmap.
 */
static __poll_t wait_entries_ready(const struct wait_entries *we,
				   struct mqdev_handle *h,
				   struct mqdev_topic *topic)
{
	__poll_t mask = we->member ? mqdev_member_news(we->member) : 0;
	u32 i;

	for (i = 0; i < we->nr; i++) {
		if (test_bit(we->e[i].part - topic->parts, h->subscribed) &&
		    wait_entry_ready(&we->e[i])) {
			mask |= EPOLLIN;
			break;
		}
	}
	if (mqdev_topic_dead(topic))
		mask |= EPOLLHUP;
	return mask;
}

/*
 * Queue the waiter's entries, then sleep until wait_entries_ready() says
 * something, a signal, or @expires (none: forever).  The look after
 * queueing is the one that counts; none comes before it, as libmqdev asks
 * only after its own look in the mapped pages failed, except for a handle
 * with more partitions than fit on the stack, which looks before it
 * allocates.  The tracepoints mark a waiter that got as far as schedule(),
 * not one that found records at once.
 */
static int wait_sleep(struct mqdev_handle *h, struct mqdev_topic *topic,
		      const struct mqdev_wait *req, ktime_t *expires,
		      __poll_t *revents)
{
	/*
	 * Not zeroed first, as CONFIG_INIT_STACK_ALL_ZERO would (some 40
	 * stores a wait): wait_add() fills each entry it queues and the
	 * struct's fields before they are read; no other entry is read.
	 */
	struct wait_entry stack[WAIT_ON_STACK] __uninitialized;
	struct wait_entries we __uninitialized;
	bool timed_out = false, slept = false;
	u64 start = 0;
	int err = 0;

	we.e = stack;
	we.nr = bitmap_weight(h->subscribed, topic->nr_parts);
	if (we.nr > WAIT_ON_STACK) {
		*revents = wait_ready(h, topic, req->min_bytes);
		if (*revents)
			return 0;
		we.e = kmalloc_array(we.nr, sizeof(*we.e), GFP_KERNEL);
		if (!we.e)
			return -ENOMEM;
	}
	wait_add(h, topic, &we, req->min_bytes);
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		*revents = wait_entries_ready(&we, h, topic);
		if (*revents)
			break;
		if (signal_pending(current)) {
			err = -EINTR;
			break;
		}
		if (timed_out) {
			err = -ETIMEDOUT;
			break;
		}
		/*
		 * Only a waiter that slept can find an entry off its queue
		 * here: before that, a wake-up that took one off also made
		 * the task runnable, and schedule() returns at once.
		 */
		if (slept && wait_requeue(&we))
			continue;
		if (!slept) {
			slept = true;
			trace_mqdev_read_wait(topic, req->min_bytes,
					      req->timeout_ns);
			if (trace_mqdev_read_wait_end_enabled())
				start = ktime_get_ns();
		}
		if (expires)
			timed_out = !schedule_hrtimeout(expires,
							HRTIMER_MODE_ABS);
		else
			schedule();
	}
	__set_current_state(TASK_RUNNING);
	wait_remove(&we);
	if (we.e != stack)
		kfree(we.e);
	if (slept)
		trace_mqdev_read_wait_end(topic, start, *revents, err);
	return err;
}

/*
 * MQDEV_WAIT_SEND: the request's command on its handle, past the security
 * modules' ioctl hook as ioctl(2) would take it (a policy that refuses the
 * command on that file refuses it here too), then through the same table,
 * so that it checks and costs what the call alone would; nothing of the
 * wait is queued or held across it.
 */
static int wait_send(const struct mqdev_wait *req)
{
	unsigned long arg = (unsigned long)u64_to_user_ptr(req->send_arg);
	int err;

	CLASS(fd, f)(req->send_fd);
	if (fd_empty(f))
		return -EBADF;
	if (!mqdev_file_handle(fd_file(f)))
		return -EINVAL;
	/* The hook a 32-bit caller's ioctl(2) would pass. */
	if (in_compat_syscall())
		err = security_file_ioctl_compat(fd_file(f), req->send_cmd,
						 arg);
	else
		err = security_file_ioctl(fd_file(f), req->send_cmd, arg);
	return err ?: mqdev_ioctl(fd_file(f), req->send_cmd, arg);
}

/**
 * mqdev_wait() - MQDEV_IOC_WAIT: sleep until enough is ready to read
 * @h: the handle, attached to consume
 * @topic: its topic
 * @req: the request: the watermark and the time-out; revents goes back
 *
 * Also woken by the topic's deletion and, for a group member, by its
 * group's news (a rebalance, the group's deletion), as poll(2) would be.
 *
 * With MQDEV_WAIT_SEND, req->send_cmd runs first (the caller checked it
 * is one a wait may send).
 *
 * Return: 0 with req->revents set (only then is it written back);
 * -EDESTADDRREQ for a handle that reads no partition and is no group
 * member; -ETIMEDOUT when nothing came in time (at once for a time-out of
 * 0); -EINTR for a signal; or -ENOMEM, when nothing was ready.  With a
 * send: -EBADF for a send_fd that is not open, -EINVAL for one that is no
 * /dev/mq handle, or the send's error, before any wait; once it is done,
 * 0, with req->revents 0 where a wait alone would have failed: a restart
 * would send again.
 */
int mqdev_wait(struct mqdev_handle *h, struct mqdev_topic *topic,
	       struct mqdev_wait *req)
{
	/* Pairs with smp_store_release() in member_add(). */
	bool member = smp_load_acquire(&h->member);
	ktime_t expires, *until = NULL;
	__poll_t mask = 0;
	int err = 0;

	/* A member with no partitions waits for its next assignment. */
	if (bitmap_empty(h->subscribed, topic->nr_parts) && !member)
		return -EDESTADDRREQ;
	if (req->flags & MQDEV_WAIT_SEND) {
		err = wait_send(req);
		if (err)
			return err;
	}
	if (!req->timeout_ns) {
		mask = wait_ready(h, topic, req->min_bytes);
		if (!mask)
			err = -ETIMEDOUT;
	} else {
		if (req->timeout_ns != MQDEV_WAIT_FOREVER) {
			expires = ktime_add_ns(ktime_get(),
					       min_t(u64, req->timeout_ns,
						     KTIME_MAX / 2));
			until = &expires;
		}
		err = wait_sleep(h, topic, req, until, &mask);
	}
	if (err && (req->flags & MQDEV_WAIT_SEND))
		err = 0;	/* sent: revents 0 says the wait came to nothing */
	/* As poll(2) reports them to userspace. */
	req->revents = mangle_poll(mask);
	return err;
}
