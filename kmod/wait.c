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
 *   __wake_up(data_wait)                  wait_ready(): enough?  no:
 *     wait_wake(): enough past *pos?        schedule()
 *       no: return 0 (stay asleep)
 *       yes: wake the waiter  ------->    wait_ready(): enough, return
 *
 * The producer's smp_mb() pairs with the one in set_current_state(): either
 * the waiter sees the new head, or the producer sees the entry.
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
	struct mqdev_part	*part;
	const u64		*pos;		/* the handle's, in its page */
	u32			min_bytes;
	bool			replica;
};

static int wait_wake(struct wait_queue_entry *curr, unsigned int mode,
		     int wake_flags, void *key)
{
	struct wait_entry *e = container_of(curr, struct wait_entry, wq);

	/* The topic is marked dead before its rings' sleepers are woken. */
	if (!mqdev_ring_ready(e->part, READ_ONCE(*e->pos), e->min_bytes,
			      e->replica) &&
	    !mqdev_topic_dead(e->part->topic))
		return 0;	/* another waiter may be content with less */
	return default_wake_function(curr, mode, wake_flags, key);
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
	struct wait_queue_entry	group_wq;
	wait_queue_head_t	*group_head;	/* or NULL */
};

static void wait_add(struct mqdev_handle *h, struct mqdev_topic *topic,
		     struct wait_entries *we, u32 min_bytes)
{
	/* Pairs with smp_store_release() in member_add(): m is whole. */
	struct mqdev_member *m = smp_load_acquire(&h->member);
	u32 i, n = 0;

	/* A rebalance may change the partitions meanwhile: it wakes us. */
	for_each_set_bit(i, h->subscribed, topic->nr_parts) {
		if (n == we->nr)
			break;
		we->e[n].part = &topic->parts[i];
		we->e[n].pos = handle_pos(h, i);
		we->e[n].min_bytes = min_bytes;
		we->e[n].replica = handle_replica(h);
		init_waitqueue_func_entry(&we->e[n].wq, wait_wake);
		we->e[n].wq.private = current;
		add_wait_queue(we->e[n].replica ?
			       &topic->parts[i].end_wait :
			       &topic->parts[i].data_wait, &we->e[n].wq);
		n++;
	}
	we->nr = n;
	we->group_head = m ? &m->group->wait : NULL;
	if (we->group_head) {
		init_waitqueue_entry(&we->group_wq, current);
		add_wait_queue(we->group_head, &we->group_wq);
	}
}

static void wait_remove(struct wait_entries *we)
{
	u32 i;

	for (i = 0; i < we->nr; i++)
		remove_wait_queue(we->e[i].replica ?
				  &we->e[i].part->end_wait :
				  &we->e[i].part->data_wait, &we->e[i].wq);
	if (we->group_head)
		remove_wait_queue(we->group_head, &we->group_wq);
}

/*
 * Queue the waiter's entries, then sleep until wait_ready() says something,
 * a signal, or @expires.  The look after queueing is the one that counts;
 * none comes before it, as libmqdev asks only after its own look in the
 * mapped pages failed, except for a handle with more partitions than fit
 * on the stack, which looks before it allocates.  The tracepoints mark a
 * waiter that got as far as schedule(), not one that found records at
 * once.
 */
static int wait_sleep(struct mqdev_handle *h, struct mqdev_topic *topic,
		      const struct mqdev_wait *req, ktime_t *expires,
		      __poll_t *revents)
{
	struct wait_entry stack[WAIT_ON_STACK];
	struct wait_entries we = {
		.e = stack,
		.nr = bitmap_weight(h->subscribed, topic->nr_parts),
	};
	bool timed_out = false, slept = false;
	u64 start = 0;
	int err = 0;

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
		*revents = wait_ready(h, topic, req->min_bytes);
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
		if (!slept) {
			slept = true;
			trace_mqdev_read_wait(topic, req->min_bytes,
					      req->timeout_ns);
			if (trace_mqdev_read_wait_end_enabled())
				start = ktime_get_ns();
		}
		timed_out = !schedule_hrtimeout(expires, HRTIMER_MODE_ABS);
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
