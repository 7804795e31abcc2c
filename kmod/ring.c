// SPDX-License-Identifier: GPL-2.0
/*
 * A partition: an append-only log in a ring of kernel pages.
 *
 * The pages are vmap()ed for the kernel and vm_insert_page()d for readers in
 * the same order, with every data page twice:
 *
 *   +--------+-----------------------------+-----------------------------+
 *   |  ctrl  |  data  0  1  2  ...  n-1    |  data  0  1  2  ...  n-1    |
 *   +--------+-----------------------------+-----------------------------+
 *            ^ data                        ^ data + capacity
 *
 * A record that starts near the end of the data area runs on into the second
 * mapping of the same pages, so neither the kernel nor a reader ever splits
 * one.  Positions are byte counts that only grow; (pos & mask) is where they
 * fall in the data area:
 *
 *      tail             a reader's pos              head
 *   ... |  kept, read     |  kept, not yet read      |  free  ...
 *
 * Producers append under part->lock and publish a batch by moving head with
 * smp_store_release(); readers load head with smp_load_acquire() and read the
 * records before it without taking any lock.
 *
 * When the ring is full, a topic that overwrites moves tail past its oldest
 * records, and publishes the new tail before it reuses their bytes: a reader
 * that reads tail again after reading a record knows whether the record may
 * have been overwritten under it, as a seqlock reader does.  A topic that
 * blocks moves tail only up to the slowest holding reader; when it cannot
 * make room, the producer sets MQDEV_RING_NEED_WAKEUP and sleeps until a
 * holding reader that moved on says so (MQDEV_IOC_WAKEUP), as AF_XDP does.
 *
 * part->lock is needed by every producer of the partition, by poll and by
 * describe, so nothing under it sleeps or faults on user memory, where a
 * slow mapping (FUSE, userfaultfd) would stall them all: copies under it do
 * not fault (copy_page_from_iter_atomic(), copy_from_user_nofault()), and
 * one that would ends the run, faults the memory in without the lock, and
 * starts the message again, as generic_perform_write() does with a page
 * lock.
 */

#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/vmalloc.h>
#include "mqdev.h"
#include "trace.h"

static inline u64 ring_capacity(const struct mqdev_part *part)
{
	return part->mask + 1;
}

/**
 * mqdev_ring_init() - allocate and map a partition's ring
 * @part: the partition, its topic and index set
 * @capacity: bytes of data: a power of two, at least PAGE_SIZE
 *
 * Return: 0 or -ENOMEM.
 */
int mqdev_ring_init(struct mqdev_part *part, u64 capacity)
{
	const gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_NOWARN |
			  __GFP_RETRY_MAYFAIL;
	unsigned int nr_data = capacity >> PAGE_SHIFT;
	/* A single writer's page goes after the data: see swriter.c. */
	unsigned int wpage = mqdev_swriter(part->topic);
	unsigned int i;
	void *vaddr;

	part->nr_pages = 1 + nr_data;
	part->nr_map_pages = 1 + 2 * nr_data + wpage;
	part->pages = kvcalloc(part->nr_map_pages, sizeof(*part->pages),
			       GFP_KERNEL_ACCOUNT);
	if (!part->pages)
		return -ENOMEM;

	for (i = 0; i < part->nr_pages; i++) {
		part->pages[i] = alloc_page(gfp);
		if (!part->pages[i])
			goto err_free_pages;
		if (i)
			part->pages[nr_data + i] = part->pages[i];
	}
	if (wpage) {
		part->pages[part->nr_map_pages - 1] = alloc_page(gfp);
		if (!part->pages[part->nr_map_pages - 1])
			goto err_free_pages;
	}

	vaddr = vmap(part->pages, part->nr_map_pages, VM_MAP, PAGE_KERNEL);
	if (!vaddr)
		goto err_free_wpage;

	part->ctrl = vaddr;
	part->data = vaddr + PAGE_SIZE;
	part->mask = capacity - 1;
	if (wpage) {
		part->wpage = vaddr + PAGE_SIZE + 2 * capacity;
		/* The most a block topic's writer may fill before it asks. */
		part->ctrl->limit = part->topic->flags & MQDEV_TOPIC_OVERWRITE ?
				    U64_MAX : capacity;
	}
	mutex_init(&part->lock);
	spin_lock_init(&part->holders_lock);
	INIT_LIST_HEAD(&part->holders);
	init_waitqueue_head(&part->data_wait);
	init_waitqueue_head(&part->end_wait);
	init_waitqueue_head(&part->space_wait);
	atomic_set(&part->space_gen, 0);
	return 0;

err_free_wpage:
	if (wpage)
		__free_page(part->pages[part->nr_map_pages - 1]);
err_free_pages:
	while (i--)
		__free_page(part->pages[i]);
	kvfree(part->pages);
	return -ENOMEM;
}

/**
 * mqdev_ring_free() - free a ring made by mqdev_ring_init()
 * @part: the partition
 *
 * Readers' mappings hold their own page references and outlive this.
 */
void mqdev_ring_free(struct mqdev_part *part)
{
	unsigned int i;

	vunmap(part->ctrl);
	for (i = 0; i < part->nr_pages; i++)
		put_page(part->pages[i]);
	if (part->wpage)
		put_page(part->pages[part->nr_map_pages - 1]);
	kvfree(part->pages);
}

/**
 * mqdev_ring_kick() - wake every producer that waits for room in @part
 * @part: the partition
 *
 * Each looks again; so do poll(2) sleepers waiting for EPOLLOUT.
 */
void mqdev_ring_kick(struct mqdev_part *part)
{
	atomic_andnot(MQDEV_RING_NEED_WAKEUP, &part->ctrl->flags);
	atomic_inc(&part->space_gen);
	trace_mqdev_wake_producers(part);
	this_cpu_inc(part->stats->producer_wakeups);
	wake_up_all(&part->space_wait);
}

/**
 * mqdev_ring_kill() - mark the partition of a deleted topic dead
 * @part: the partition
 *
 * The topic is gone: tell every sleeper and every mapping.
 */
void mqdev_ring_kill(struct mqdev_part *part)
{
	atomic_or(MQDEV_RING_DEAD, &part->ctrl->flags);
	wake_up_all(&part->data_wait);
	wake_up_all(&part->end_wait);
	mqdev_ring_kick(part);
}

/**
 * mqdev_ring_info() - what the partition holds, for a describe
 * @part: the partition
 * @info: filled in: first and next offset, bytes and records kept
 */
void mqdev_ring_info(struct mqdev_part *part, struct mqdev_partition_info *info)
{
	mutex_lock(&part->lock);
	if (part->wpage)
		mqdev_swriter_sync(part);
	info->first_offset = part->tail_offset;
	info->next_offset = part->next_offset;
	info->bytes_used = part->head - part->tail;
	info->records = part->next_offset - part->tail_offset;
	info->high_watermark = part->hw_offset;
	info->in_sync = part->nr_in_sync;
	mutex_unlock(&part->lock);
}

/*
 * Wake a queue's sleepers, if any.  Safe without the lock: the caller's
 * smp_mb() orders the change first, and pairs with the barrier in
 * prepare_to_wait(), so a sleeper that missed the wake-up sees the change.
 *
 * The wake-up is synchronous (WF_SYNC), as pipe_write() and AF_UNIX's
 * sendmsg give theirs: the waker is a producer on its way back to user
 * space, about to wait for an answer or to produce again (a single writer's
 * wake-up then syncs what it wrote, a walk bounded by the ring), so the
 * reader may run on the waker's CPU rather than wait for an idle one to be
 * woken by an IPI.  It is a hint: the scheduler still picks an idle CPU the
 * reader last ran on when it shares a cache with this one.
 */
static void ring_wake(struct mqdev_part *part, wait_queue_head_t *wq,
		      bool poll_key)
{
	/* Lock-free peek: ordered by the caller's smp_mb(), as said above. */
	if (!waitqueue_active(wq))
		return;
	this_cpu_inc(part->stats->reader_wakeups);
	if (poll_key)
		wake_up_interruptible_sync_poll(wq, EPOLLIN | EPOLLRDNORM);
	else
		wake_up_interruptible_sync(wq);
}

/*
 * Only the end moved: on a durable topic, past the high watermark, where
 * only replicas read.  Consumers would find nothing new: not woken.
 */
static void ring_wake_replicas(struct mqdev_part *part)
{
	/* Pairs with the barrier in prepare_to_wait(): see ring_wake(). */
	smp_mb();
	ring_wake(part, &part->end_wait, true);
	ring_wake(part, &part->topic->replica_read_wait, false);
}

/**
 * mqdev_ring_wake_readers() - wake who waits to read @part
 * @part: the partition
 *
 * Records became readable: head moved, or a transaction was decided.
 * Consumers and replicas sleep on queues of their own (replicas read past
 * head, up to the end); both are woken.
 */
void mqdev_ring_wake_readers(struct mqdev_part *part)
{
	/* Pairs with the barrier in prepare_to_wait(): see ring_wake(). */
	smp_mb();
	trace_mqdev_wake_readers(part);
	ring_wake(part, &part->data_wait, true);
	ring_wake(part, &part->topic->read_wait, false);
	ring_wake(part, &part->end_wait, true);
	ring_wake(part, &part->topic->replica_read_wait, false);
}

#define RING_HEAD_MOVED	BIT(0)
#define RING_END_MOVED	BIT(1)

/* mqdev_ring_publish()'s stores: which of head and end moved. */
static unsigned int ring_publish_positions(struct mqdev_part *part)
{
	struct mqdev_ring_ctrl *ctrl = part->ctrl;
	unsigned int moved = 0;

	lockdep_assert_held(&part->lock);
	if (!part->nr_in_sync) {
		part->hw_pos = part->head;
		part->hw_offset = part->next_offset;
	}
	if (ctrl->end != part->head) {
		/* Pairs with smp_load_acquire() of end in replicas. */
		smp_store_release(&ctrl->end, part->head);
		moved |= RING_END_MOVED;
	}
	if (ctrl->high_watermark != part->hw_offset)
		WRITE_ONCE(ctrl->high_watermark, part->hw_offset);
	if (ctrl->head != part->hw_pos) {
		/* Pairs with smp_load_acquire() of head in readers, as end. */
		smp_store_release(&ctrl->head, part->hw_pos);
		moved |= RING_HEAD_MOVED;
	}
	return moved;
}

/**
 * mqdev_ring_publish() - show readers what was appended, and how far it is safe
 * @part: the partition, locked
 *
 * The end of the log is published for replicas; head, what consumers see,
 * stops at the high watermark (replica.c), which is the end itself on a
 * topic that is not durable or while no replica is in sync.
 */
void mqdev_ring_publish(struct mqdev_part *part)
{
	unsigned int moved = ring_publish_positions(part);

	if (moved & RING_HEAD_MOVED)
		mqdev_ring_wake_readers(part);
	else if (moved & RING_END_MOVED)
		ring_wake_replicas(part);
}

/**
 * mqdev_ring_publish_quiet() - mqdev_ring_publish() without its wake-ups
 * @part: the partition, locked
 *
 * For a caller that woke the readers itself, before it published, because
 * none of them judges what it waits for from what is published here (a
 * single writer's: see swriter.c).
 */
void mqdev_ring_publish_quiet(struct mqdev_part *part)
{
	ring_publish_positions(part);
}

static void ring_publish_tail(struct mqdev_part *part)
{
	WRITE_ONCE(part->ctrl->tail, part->tail);
	/* Pairs with smp_rmb() in readers: tail moves before its bytes do. */
	smp_wmb();
}

/* Only a transaction's record has anything to tell when it is dropped. */
static inline void ring_record_dropped(struct mqdev_part *part,
				       const struct mqdev_record *rec)
{
	if (unlikely(rec->flags & MQDEV_RECORD_TXN))
		mqdev_txn_record_dropped(part, rec);
}

/**
 * mqdev_ring_hold_limit() - the lowest position a holding reader still needs
 * @part: the partition, locked
 *
 * Return: a position within [tail, head]; on a durable topic with a
 * replica in sync, the high watermark's position, whatever the holders.
 */
u64 mqdev_ring_hold_limit(struct mqdev_part *part)
{
	struct mqdev_hold *hold;
	u64 limit = U64_MAX;

	spin_lock(&part->holders_lock);
	list_for_each_entry(hold, &part->holders, node)
		limit = min(limit, READ_ONCE(*hold->pos));
	spin_unlock(&part->holders_lock);

	/*
	 * On a durable topic with a replica in sync, the ring keeps only what
	 * is not yet safe: what is, a reader that fell behind reads from the
	 * replica's history, so producers wait for the disk, never for a
	 * slow consumer (see Documentation/mqdev.rst, Durable topics).
	 */
	if (part->nr_in_sync)
		return part->hw_pos;
	if (limit == U64_MAX)		/* nobody has consumed anything */
		return part->tail;
	return clamp(limit, part->tail, part->ctrl->head);
}

static bool ring_fits(struct mqdev_part *part, u64 space)
{
	return part->head + space - part->tail <= ring_capacity(part);
}

/*
 * How much more than an append needs a blocking topic's producer reclaims
 * of what every holder has passed: enough that the holders are walked
 * (mqdev_ring_hold_limit()) once in that many bytes appended, not on every
 * append of a full ring, small rings included; little enough that no one
 * append drops a whole large ring's records at once (a 1 MiB ring of
 * 64-byte messages held some 10,000, and the append that dropped them ran
 * some 300,000 instructions).
 */
static u64 ring_reclaim_slack(struct mqdev_part *part)
{
	return max_t(u64, ring_capacity(part) / 64, PAGE_SIZE);
}

/* The holding readers whose positions were among the records dropped. */
static u32 ring_lapped(struct mqdev_part *part, u64 old_tail)
{
	struct mqdev_hold *hold;
	u32 lapped = 0;
	u64 pos;

	spin_lock(&part->holders_lock);
	list_for_each_entry(hold, &part->holders, node) {
		pos = READ_ONCE(*hold->pos);
		lapped += pos >= old_tail && pos < part->tail;
	}
	spin_unlock(&part->holders_lock);
	return lapped;
}

/* The holders are walked only while the event is on. */
static void ring_trace_overwrite(struct mqdev_part *part, u64 old_tail,
				 u64 old_offset)
{
	if (trace_mqdev_overwrite_enabled())
		trace_mqdev_overwrite(part, old_tail, old_offset,
				      ring_lapped(part, old_tail));
}

/*
 * When @want bytes do not fit at head: drop the oldest records until they
 * do, or until the next record is one still needed by the reader at @limit
 * (at most head): a blocking topic's holders (mqdev_ring_hold_limit()), or
 * head itself for an overwriting topic, which drops whatever is oldest.
 * The tail stays in locals until the end, since every record of a
 * streaming topic goes through here once.  Only the kernel writes these
 * records' lengths: a single writer's ring never gets here (append_lock()
 * refuses its topic).
 */
static void ring_reclaim(struct mqdev_part *part, u64 want, u64 limit)
{
	u64 tail = part->tail, tail_offset = part->tail_offset;
	/* where tail must get to: past it, since @want does not fit */
	u64 goal = part->head + want - ring_capacity(part);
	const struct mqdev_record *rec;
	u64 space;

	if (WARN_ON_ONCE(part->wpage))
		return;
	/* past @limit there may be no record to read */
	while (tail < goal && tail < limit) {
		rec = mqdev_ring_record(part, tail);
		space = MQDEV_RECORD_SPACE(rec->len);
		if (tail + space > limit)
			break;
		ring_record_dropped(part, rec);
		tail_offset = rec->offset + 1;
		tail += space;
	}
	part->tail = tail;
	part->tail_offset = tail_offset;
}

/* Make room for @space bytes at head; false when a blocking topic is full. */
static bool ring_reserve(struct mqdev_part *part, u64 space)
{
	u64 old_tail = part->tail, old_offset = part->tail_offset;
	u64 limit, want;

	if (ring_fits(part, space))
		return true;

	if (part->topic->flags & MQDEV_TOPIC_OVERWRITE) {
		/* Only ever drop records that readers have been shown. */
		mqdev_ring_publish(part);
		/* what is appended fits the ring (producer.c): room is made */
		ring_reclaim(part, space, part->head);
		ring_trace_overwrite(part, old_tail, old_offset);
	} else {
		limit = mqdev_ring_hold_limit(part);
		want = space + ring_reclaim_slack(part);
		if (!ring_fits(part, want))
			ring_reclaim(part, want, limit);
	}

	if (part->tail != old_tail)
		ring_publish_tail(part);
	return ring_fits(part, space);
}

/* Reserve room, or ask holding readers to wake us when they move on. */
static bool ring_reserve_or_arm(struct mqdev_part *part, u64 space)
{
	if (ring_reserve(part, space))
		return true;
	atomic_or(MQDEV_RING_NEED_WAKEUP, &part->ctrl->flags);
	/* Pairs with smp_mb() in mqdev_ring_moved() and libmqdev's release. */
	smp_mb__after_atomic();
	return ring_reserve(part, space);
}

/**
 * mqdev_ring_has_room() - is there room for @space bytes, for poll(2)?
 * @part: the partition
 * @space: the bytes a record or batch needs
 *
 * The room is made as an append would make it: an overwrite topic drops
 * its oldest records.  Where there is none, holding readers are asked to
 * say when they move on (MQDEV_RING_NEED_WAKEUP).
 *
 * Return: true when @space bytes fit now.
 */
bool mqdev_ring_has_room(struct mqdev_part *part, u64 space)
{
	bool room;

	mutex_lock(&part->lock);
	room = ring_reserve_or_arm(part, space);
	mutex_unlock(&part->lock);
	return room;
}

/**
 * mqdev_append_end() - end a run of appends: publish it, unlock
 * @ap: the run; nothing happens if it holds no partition
 */
void mqdev_append_end(struct mqdev_append *ap)
{
	if (!ap->part)
		return;
	mqdev_ring_publish(ap->part);
	mutex_unlock(&ap->part->lock);
	ap->part = NULL;
}

/* Keep the partition locked across a run of messages for it. */
static int append_lock(struct mqdev_append *ap, struct mqdev_part *part)
{
	int err;

	if (ap->part == part)
		return 0;
	mqdev_append_end(ap);
	/* The ring is its one writer's: see swriter.c. */
	if (mqdev_swriter(part->topic))
		return -EOPNOTSUPP;
	err = mutex_lock_interruptible(&part->lock);
	if (err)
		return err;
	if (mqdev_topic_dead(part->topic)) {
		mutex_unlock(&part->lock);
		return -EIDRM;
	}
	ap->part = part;
	/* Taken under the lock: timestamps never go back within a partition. */
	ap->timestamp = max(ktime_get_real_ns(), part->last_timestamp);
	part->last_timestamp = ap->timestamp;
	return 0;
}

/**
 * mqdev_append_restamp() - the run's next records get the time now
 * @ap: the run, its partition locked
 *
 * For a run whose records are appended as they come due (sched.c):
 * timestamps still never go back within the partition.
 */
void mqdev_append_restamp(struct mqdev_append *ap)
{
	struct mqdev_part *part = ap->part;

	lockdep_assert_held(&part->lock);
	ap->timestamp = max(ktime_get_real_ns(), part->last_timestamp);
	part->last_timestamp = ap->timestamp;
}

/*
 * The lock was dropped: check the message again from the start.  Never
 * returned from mqdev_append(), and not MQDEV_APPEND_DUPLICATE.
 */
#define APPEND_AGAIN	(MQDEV_APPEND_DUPLICATE + 1)

/*
 * Room for @space bytes, or a sleep without the lock until a holding reader
 * moves on, after which the caller starts the message again.
 */
static int append_wait_room(struct mqdev_append *ap, u64 space)
{
	struct mqdev_part *part = ap->part;
	u64 start;
	int gen, err;

	gen = atomic_read(&part->space_gen);
	if (ring_reserve_or_arm(part, space))
		return 0;
	if (ap->nonblock)
		return -EAGAIN;

	trace_mqdev_room_wait(part, space);
	mqdev_append_end(ap);
	start = ktime_get_ns();
	err = wait_event_interruptible(part->space_wait,
				       atomic_read(&part->space_gen) != gen);
	this_cpu_inc(part->stats->waits);
	this_cpu_add(part->stats->wait_ns, ktime_get_ns() - start);
	trace_mqdev_room_wait_end(part, start, err);
	return err ?: APPEND_AGAIN;
}

/**
 * mqdev_append_pause() - let go of every lock of a run, for user memory
 * @ap: the run: its partition, and its transaction if it has one
 *
 * The records appended so far are published.  Resume with
 * mqdev_append_resume() before appending again.
 */
void mqdev_append_pause(struct mqdev_append *ap)
{
	mqdev_append_end(ap);
	if (ap->txn)
		mqdev_txn_append_pause(ap->txn);
}

/**
 * mqdev_append_resume() - take back what mqdev_append_pause() let go of
 * @ap: the run
 *
 * The partition is locked again by the next append.  A transaction decided
 * meanwhile takes no more records: mqdev_txn_reserve() refuses them.
 */
void mqdev_append_resume(struct mqdev_append *ap)
{
	if (ap->txn)
		mqdev_txn_append_resume(ap->txn);
}

/*
 * Fault @len1 bytes at @src1 and @len2 at @src2 in with every lock let go
 * of, then start the message again.  A signal ends the retries: a buffer
 * that keeps going away (MADV_DONTNEED from another thread) costs only its
 * owner's time.
 */
static int append_fault_in(struct mqdev_append *ap, const void __user *src1,
			   size_t len1, const void __user *src2, size_t len2)
{
	bool failed;

	mqdev_append_pause(ap);
	failed = fault_in_readable(src1, len1) ||
		 fault_in_readable(src2, len2);
	mqdev_append_resume(ap);
	if (failed)
		return -EFAULT;
	return signal_pending(current) ? -EINTR : APPEND_AGAIN;
}

/*
 * The data page that holds offset @off, where in it @off falls, and in @n
 * how much of @len stays in that page.
 */
static struct page *ring_chunk(struct mqdev_part *part, u64 off, u32 len,
			       u32 *in_page, u32 *n)
{
	u64 o = off & part->mask;

	*in_page = offset_in_page(o);
	*n = min_t(u32, len, PAGE_SIZE - *in_page);
	return part->pages[1 + (o >> PAGE_SHIFT)];
}

/*
 * ring_copy_in() and ring_copy_out() copy between user memory and the ring
 * a data page at a time, as pipes and the page cache copy:
 * copy_page_from_iter_atomic() and copy_page_to_iter() check the user range
 * with access_ok() and keep the copy in the page.  copy_from_user_nofault()
 * and copy_to_user() added hardened usercopy's check of the kernel side for
 * every record, which for a ring page (not slab, not stack) finds nothing
 * the ring's mask and the page have not already bounded, and which for an
 * address of the vmap (the ring as mapped twice) searches the vmap areas
 * under their lock.
 *
 * In: under the partition's lock, with page faults off, so -EFAULT means
 * the memory is not there now; append_fault_in() brings it in without the
 * lock and the append starts again.
 */
static int ring_copy_in(struct mqdev_part *part, u64 off,
			const char __user *src, u32 len)
{
	struct iov_iter iter;
	struct page *page;
	u32 in_page, n;

	lockdep_assert_held(&part->lock);
	iov_iter_ubuf(&iter, ITER_SOURCE, (char __user *)src, len);
	/* The atomic copy maps the page with faults off today; say so here. */
	pagefault_disable();
	for (; len; off += n, len -= n) {
		page = ring_chunk(part, off, len, &in_page, &n);
		if (copy_page_from_iter_atomic(page, in_page, n, &iter) != n)
			break;
	}
	pagefault_enable();
	return len ? -EFAULT : 0;
}

/*
 * Out: for read(2), which may fault, so never under the partition's lock
 * that every producer of the partition needs.
 */
static int ring_copy_out(struct mqdev_part *part, u64 off, char __user *dst,
			 u32 len)
{
	struct iov_iter iter;
	struct page *page;
	u32 in_page, n;

	lockdep_assert_not_held(&part->lock);
	iov_iter_ubuf(&iter, ITER_DEST, dst, len);
	for (; len; off += n, len -= n) {
		page = ring_chunk(part, off, len, &in_page, &n);
		if (copy_page_to_iter(page, in_page, n, &iter) != n)
			return -EFAULT;
	}
	return 0;
}

static int append_copy(struct mqdev_append *ap, u64 pos,
		       const struct mqdev_msg *msg, const void *kkey)
{
	struct mqdev_part *part = ap->part;
	u64 key = pos + sizeof(struct mqdev_record);

	if (kkey)
		memcpy(mqdev_ring_record(part, pos) + 1, kkey, msg->key_len);
	else if (msg->key_len &&
		 ring_copy_in(part, key, u64_to_user_ptr(msg->key),
			      msg->key_len))
		return -EFAULT;
	/* A delayed message's value, kept by the kernel (sched.c). */
	if (ap->kernel) {
		memcpy(part->data + ((key + msg->key_len) & part->mask),
		       (const void *)(uintptr_t)msg->value, msg->value_len);
		return 0;
	}
	return ring_copy_in(part, key + msg->key_len,
			    u64_to_user_ptr(msg->value), msg->value_len);
}

static void append_header(struct mqdev_append *ap, struct mqdev_record *rec,
			  const struct mqdev_msg *msg, u32 len)
{
	struct mqdev_part *part = ap->part;

	rec->len = len;
	rec->key_len = msg->key_len;
	rec->partition = part->index;
	rec->offset = part->next_offset;
	rec->timestamp = ap->timestamp;
	rec->producer_id = ap->bound ? ap->bound->pstate->id : 0;
	rec->sequence = ap->bound ? msg->sequence : 0;
	rec->flags = msg->flags | (ap->txn ? MQDEV_RECORD_TXN : 0);
	rec->txn = ap->txn ? mqdev_txn_slot(ap->txn) : 0;
}

/* Fault in what append_copy() reads: the key, unless copied, and the value. */
static int append_fault_in_msg(struct mqdev_append *ap,
			       const struct mqdev_msg *msg, const void *kkey)
{
	return append_fault_in(ap, u64_to_user_ptr(msg->value), msg->value_len,
			       u64_to_user_ptr(msg->key), kkey ? 0 : msg->key_len);
}

/* What the append will need under the lock, made before it is taken. */
static int append_prepare(struct mqdev_append *ap, struct mqdev_part *part)
{
	int err = 0;

	if (ap->bound)
		err = mqdev_seq_prepare(ap->bound, part);
	if (!err && ap->txn)
		err = mqdev_txn_prepare(ap->txn, part);
	return err;
}

/* mqdev_append() with @part locked; APPEND_AGAIN when it had to unlock. */
static int append_locked(struct mqdev_append *ap, struct mqdev_part *part,
			 struct mqdev_msg *msg, const void *kkey,
			 bool *faulted_in)
{
	u32 len = sizeof(struct mqdev_record) + msg->key_len + msg->value_len;
	u64 space = MQDEV_RECORD_SPACE(len);
	struct mqdev_record *rec;
	int err;

	if (ap->bound) {
		err = mqdev_seq_check(ap->bound, part, msg);
		if (err)
			return err;
	}
	if (ap->txn) {
		err = mqdev_txn_reserve(ap->txn, part, space);
		if (err)
			return err;
	}
	/*
	 * A bad pointer must fail before room is made for it: when records
	 * have to go, fault the message in first.  When it fits, a failed copy
	 * simply publishes nothing.
	 */
	if (!*faulted_in && !ring_fits(part, space)) {
		*faulted_in = true;
		return append_fault_in_msg(ap, msg, kkey);
	}
	err = append_wait_room(ap, space);
	if (err)
		return err;

	rec = mqdev_ring_record(part, part->head);
	if (append_copy(ap, part->head, msg, kkey)) {
		*faulted_in = true;
		return append_fault_in_msg(ap, msg, kkey);
	}
	append_header(ap, rec, msg, len);
	trace_mqdev_append(part, rec);
	if (ap->bound)
		mqdev_seq_appended(ap->bound, part, part->next_offset);
	if (ap->txn)
		mqdev_txn_appended(ap->txn, part->head, space);
	part->head += space;
	msg->offset = part->next_offset++;
	return 0;
}

/**
 * mqdev_append() - append one message to a partition
 * @ap: the run of appends: the partition stays locked across it
 * @part: the partition
 * @msg: the message; its offset goes to msg->offset; its value is in
 *	 kernel memory when @ap->kernel is set, with @kkey its key
 * @kkey: the key when the caller already copied it in, else NULL
 *
 * Records are visible once the run ends in mqdev_append_end(); on error
 * nothing of this message is.
 *
 * Return: 0; MQDEV_APPEND_DUPLICATE, appending nothing, for a bound
 * producer's duplicate (its first offset in msg->offset); -EAGAIN when
 * there is no room and the run may not sleep for it; -EINTR or
 * -ERESTARTSYS for a signal; -EIDRM for a deleted topic; -EFAULT for a key
 * or value not in user memory; -ENOMEM; for a bound producer, -ESTALE
 * when its session was fenced or -EBADMSG for a sequence number past the
 * next (as mqdev_seq_check()); in a transaction, -ETIMEDOUT when it was
 * decided or orphaned meanwhile or -EFBIG past max_txn_bytes (as
 * mqdev_txn_reserve()).
 */
int mqdev_append(struct mqdev_append *ap, struct mqdev_part *part,
		 struct mqdev_msg *msg, const void *kkey)
{
	/* Kernel memory is always there: nothing to fault in. */
	bool faulted_in = ap->kernel;
	int err;

	do {
		err = append_prepare(ap, part) ?: append_lock(ap, part);
		if (err)
			return err;
		err = append_locked(ap, part, msg, kkey, &faulted_in);
	} while (err == APPEND_AGAIN);
	return err;
}

/*
 * One header of a record batch: it fits in the @room left of the batch and
 * in the topic, so does its key, and the fields that are the kernel's to
 * write are zero (a later version may give them a meaning).
 */
static int batch_record_check(const struct mqdev_record *rec, u64 room,
			      u32 max_record, bool keyless)
{
	if (rec->len > max_record)
		return -EMSGSIZE;
	if (rec->len < sizeof(*rec) || MQDEV_RECORD_SPACE(rec->len) > room ||
	    rec->key_len > MQDEV_MAX_KEY ||
	    rec->key_len > rec->len - sizeof(*rec) || (keyless && rec->key_len))
		return -EINVAL;
	if (rec->partition || rec->offset || rec->timestamp ||
	    rec->producer_id || rec->sequence || rec->txn ||
	    !mqdev_record_flags_valid(rec->flags, rec->key_len,
				      rec->len - sizeof(*rec) - rec->key_len))
		return -EINVAL;
	return 0;
}

/*
 * The common record, found in one pass: no flags, and the fields that are
 * the kernel's to write (partition, offset, timestamp, producer_id,
 * sequence, txn) zero, read as the five words of the header and or-ed; its
 * length and key within bounds.  True says batch_record_check() would
 * return 0; false sends the record there, for its error or its flags.  It
 * runs for each record of every batch: the check and stamp went from 80
 * to 38 instructions a record (the design page, "Instructions of the
 * ordinary path").
 */
static bool batch_record_plain(const struct mqdev_record *rec, u64 room,
			       u32 max_record, bool keyless)
{
	const u64 *w = (const u64 *)rec;
	u32 len = rec->len, key_len = rec->key_len;

	/* w[1..4]: offset, timestamp, producer_id, sequence to txn */
	BUILD_BUG_ON(sizeof(*rec) != 5 * sizeof(u64) ||
		     offsetof(struct mqdev_record, offset) != sizeof(u64));
	if (rec->partition | w[1] | w[2] | w[3] | w[4])
		return false;
	return len <= max_record && len >= sizeof(*rec) + key_len &&
	       MQDEV_RECORD_SPACE(len) <= room &&
	       key_len <= (keyless ? 0 : MQDEV_MAX_KEY);
}

/*
 * The batch as it stands in user memory, for when records must be dropped
 * to make room for it: bad input has to fail before anything goes.  The
 * check that counts is batch_stamp()'s, of the copy.
 */
static int batch_check_user(const char __user *src, u32 len, u32 max_record,
			    bool keyless)
{
	struct mqdev_record rec;
	u32 off;
	int err;

	for (off = 0; off < len; off += MQDEV_RECORD_SPACE(rec.len)) {
		if (len - off < sizeof(rec))
			return -EINVAL;
		if (copy_from_user(&rec, src + off, sizeof(rec)))
			return -EFAULT;
		err = batch_record_check(&rec, len - off, max_record, keyless);
		if (err)
			return err;
	}
	return fault_in_readable(src, len) ? -EFAULT : 0;
}

/*
 * Check the batch of @len bytes copied in at head and stamp its records
 * with their partition, offsets and time.  Reading a header past the end of
 * a short batch reads the ring's own bytes, which the room check refuses.
 */
static int batch_stamp(struct mqdev_append *ap, u64 len, bool keyless,
		       u32 *count)
{
	struct mqdev_part *part = ap->part;
	u64 pos, end = part->head + len, offset = part->next_offset;
	/* in locals: the stores to the records could alias @part and @ap */
	u32 max_record = part->topic->max_record;
	u64 mask = part->mask, now = ap->timestamp;
	u16 index = part->index;
	char *data = part->data;
	struct mqdev_record *rec;
	int err;

	for (pos = part->head; pos < end; pos += MQDEV_RECORD_SPACE(rec->len)) {
		rec = (struct mqdev_record *)(data + (pos & mask));
		if (!batch_record_plain(rec, end - pos, max_record, keyless)) {
			err = batch_record_check(rec, end - pos, max_record,
						 keyless);
			if (err)
				return err;
		}
		rec->partition = index;
		rec->offset = offset++;
		rec->timestamp = now;
	}
	*count = offset - part->next_offset;
	return 0;
}

/* mqdev_append_batch() with @part locked; APPEND_AGAIN when it unlocked. */
static int append_batch_locked(struct mqdev_append *ap, struct mqdev_part *part,
			       const char __user *src, u32 len, bool keyless,
			       u32 *count, bool *checked)
{
	int err;

	if (!*checked && !ring_fits(part, len)) {
		*checked = true;
		mqdev_append_end(ap);
		err = batch_check_user(src, len, part->topic->max_record,
				       keyless);
		return err ?: APPEND_AGAIN;
	}
	err = append_wait_room(ap, len);
	if (err)
		return err;
	if (ring_copy_in(part, part->head, src, len))
		return append_fault_in(ap, src, len, NULL, 0);
	return batch_stamp(ap, len, keyless, count);
}

/**
 * mqdev_append_batch() - append a record batch to a partition, whole
 * @ap: the run of appends: the partition stays locked across it
 * @part: the partition
 * @src: the batch: records laid out as in the ring, the kernel's fields 0
 * @len: its length in bytes
 * @keyless: the partition was not the producer's choice, so keys are refused
 * @base_offset: the offset of its first record goes here
 * @count: how many records it had goes here
 *
 * Whole or not at all: one copy into the free space at head, where only
 * this producer writes and no reader looks, then the check of every header
 * in that copy.  A batch that fails it leaves head where it was, so nothing
 * of it is ever seen.  Its records are visible once the run ends in
 * mqdev_append_end().  When records must be dropped to make room, the batch
 * is checked in user memory first, without the lock, so that bad input
 * drops nothing.
 *
 * Return: 0; -EINVAL for a bad record header, -EMSGSIZE for a record
 * larger than the topic's max_record, -EFAULT for a batch not in user
 * memory, -EAGAIN when there is no room and the run may not sleep for it,
 * -EINTR or -ERESTARTSYS for a signal, or -EIDRM for a deleted topic.
 */
int mqdev_append_batch(struct mqdev_append *ap, struct mqdev_part *part,
		       const char __user *src, u32 len, bool keyless,
		       u64 *base_offset, u32 *count)
{
	bool checked = false;
	int err;

	do {
		err = append_lock(ap, part);
		if (err)
			return err;
		err = append_batch_locked(ap, part, src, len, keyless, count,
					  &checked);
	} while (err == APPEND_AGAIN);
	if (err)
		return err;
	*base_offset = part->next_offset;
	trace_mqdev_append_batch(part, *base_offset, *count, len);
	part->next_offset += *count;
	part->head += len;
	return 0;
}

/*
 * The position of the first record at or after @offset (or, for
 * MQDEV_SEEK_TIMESTAMP, with a timestamp at or after it), walking from @hint
 * when it is a kept record at or before the target, else from the tail.
 * *@offset becomes the offset found.  A reader finds nothing past what it
 * may see: the high watermark, or the end for a @replica.  Called with
 * part->lock held.
 */
static int ring_locate(struct mqdev_part *part, u32 whence, u64 *offset,
		       u64 *pos, u64 hint, u64 hint_offset, bool replica)
{
	u64 end = replica ? part->head : part->hw_pos;
	u64 end_offset = replica ? part->next_offset : part->hw_offset;
	struct mqdev_record *rec;
	u64 p = part->tail, off = part->tail_offset;

	lockdep_assert_held(&part->lock);
	/* Its records may be anything: every step is checked there. */
	if (part->wpage)
		return mqdev_swriter_locate(part, whence, offset, pos, hint,
					    hint_offset);
	switch (whence) {
	case MQDEV_SEEK_EARLIEST:
		break;
	case MQDEV_SEEK_LATEST:
		/* what consumers may see: Kafka's latest is the watermark */
		p = part->hw_pos;
		off = part->hw_offset;
		break;
	case MQDEV_SEEK_OFFSET:
		if (*offset > end_offset)
			return -ERANGE;
		/*
		 * Older than the ring, on a durable topic: kept as asked, at
		 * the tail, for the reader to read from the replica's history.
		 */
		if (*offset < off &&
		    (part->topic->flags & MQDEV_TOPIC_DURABLE)) {
			off = *offset;
			break;
		}
		/* A hint older than the ring is no record's: not walked from. */
		if (hint >= part->tail && hint <= part->head &&
		    hint_offset >= part->tail_offset && hint_offset <= *offset) {
			p = hint;
			off = hint_offset;
		}
		while (off < *offset) {
			rec = mqdev_ring_record(part, p);
			p += MQDEV_RECORD_SPACE(rec->len);
			off = rec->offset + 1;
		}
		break;
	case MQDEV_SEEK_TIMESTAMP:
		while (p < end) {
			rec = mqdev_ring_record(part, p);
			if (rec->timestamp >= *offset)
				break;
			p += MQDEV_RECORD_SPACE(rec->len);
			off = rec->offset + 1;
		}
		break;
	default:
		return -EINVAL;
	}
	*offset = off;
	*pos = p;
	return 0;
}

/**
 * mqdev_ring_locate() - find a record by offset or time, without moving
 * @part: the partition, not locked
 * @whence: MQDEV_SEEK_EARLIEST, _LATEST, _OFFSET or _TIMESTAMP
 * @offset: the offset or time asked; the offset found goes here
 * @pos: in, the hint: a position whose record has offset @hint_offset,
 *	 walked from when it is still kept and not past the target; out, the
 *	 position found
 * @hint_offset: the offset of the record at the hint
 *
 * Not interruptible: a transaction's commit checks its offsets here, and the
 * lock is never held across user memory or a sleep: the wait is for a walk,
 * on a single-writer topic up to a ring's headers (mqdev_swriter_locate()).
 *
 * Return: 0, -ERANGE for an offset past the high watermark, -EINVAL for
 * an unknown @whence, or on a single-writer topic -EBADMSG when the
 * records on the way do not hold.
 */
int mqdev_ring_locate(struct mqdev_part *part, u32 whence, u64 *offset,
		      u64 *pos, u64 hint_offset)
{
	int err;

	mutex_lock(&part->lock);
	err = ring_locate(part, whence, offset, pos, *pos, hint_offset, false);
	mutex_unlock(&part->lock);
	return err;
}

/**
 * mqdev_ring_hold() - make a reader's position a holder of @part, or not
 * @part: the partition
 * @hold: the reader's hold, its position set
 * @on: hold, or let go (which wakes the producers waiting for room)
 *
 * On a block topic, a holder's records from its position on are not
 * reclaimed.  A hold already as @on asks is left so.
 */
void mqdev_ring_hold(struct mqdev_part *part, struct mqdev_hold *hold, bool on)
{
	bool released = false;

	spin_lock(&part->holders_lock);
	if (on && list_empty(&hold->node)) {
		list_add(&hold->node, &part->holders);
	} else if (!on && !list_empty(&hold->node)) {
		list_del_init(&hold->node);
		released = true;
	}
	spin_unlock(&part->holders_lock);

	if (released)
		mqdev_ring_kick(part);
}

/**
 * mqdev_ring_seek() - place a reader at a record found by offset or time
 * @part: the partition, not locked
 * @whence: MQDEV_SEEK_EARLIEST, _LATEST, _OFFSET or _TIMESTAMP
 * @offset: the offset or time asked; the offset landed at goes here
 * @cons_pos: the reader's position, set to where it landed
 * @hold: the reader's hold on @part
 * @holding: whether the position is to hold the records from there on
 * @replica: the reader is a replica: it may seek past the high watermark
 *
 * Done under the partition lock so that a hold taken here covers the
 * records from the position on before any producer can reclaim them.
 *
 * Return: 0, -EINTR for a signal, -ERANGE for an offset past what the
 * reader may see (the high watermark, or a replica's end of the log),
 * -EINVAL for an unknown @whence, or on a single-writer topic -EBADMSG
 * when the records on the way do not hold; on error nothing is changed.
 */
int mqdev_ring_seek(struct mqdev_part *part, u32 whence, u64 *offset,
		    u64 *cons_pos, struct mqdev_hold *hold, bool holding,
		    bool replica)
{
	u64 pos;
	int err;

	err = mutex_lock_interruptible(&part->lock);
	if (err)
		return err;
	err = ring_locate(part, whence, offset, &pos, 0, U64_MAX, replica);
	if (!err) {
		WRITE_ONCE(*cons_pos, pos);
		mqdev_ring_hold(part, hold, holding);
	}
	mutex_unlock(&part->lock);
	return err;
}

/* Where a reader's records end: the watermark, or for a replica the end. */
static u64 ring_readers_end(struct mqdev_part *part, bool replica)
{
	if (replica)
		/* Pairs with smp_store_release() in mqdev_ring_publish(). */
		return smp_load_acquire(&part->ctrl->end);
	/* Pairs with smp_store_release() in mqdev_ring_publish(). */
	return smp_load_acquire(&part->ctrl->head);
}

/*
 * At least @min_bytes (one or more) of records are published past @pos and
 * the first may be read: no open transaction holds it.  Lock-free, so that
 * a wake function may ask it too.
 */
static bool ring_has(struct mqdev_part *part, u64 pos, u64 min_bytes,
		     bool replica)
{
	u64 head;

	if (part->wpage)
		return mqdev_swriter_has(part, pos, min_bytes);
	head = ring_readers_end(part, replica);
	if (pos >= head)
		return false;
	pos = max(pos, READ_ONCE(part->ctrl->tail));
	return pos < head && head - pos >= min_bytes &&
	       mqdev_txn_record_state(part, mqdev_ring_record(part, pos)) !=
	       MQDEV_TXN_OPEN;
}

/**
 * mqdev_ring_readable() - may the record at @pos be read?
 * @part: the partition
 * @pos: a reader's position, which it may have written: any value
 * @replica: the reader is a replica: it reads past the high watermark
 *
 * Lock-free.
 *
 * Return: true when a record is published at @pos (or, if @pos was
 * reclaimed, at the tail) and no open transaction holds it.
 */
bool mqdev_ring_readable(struct mqdev_part *part, u64 pos, bool replica)
{
	return ring_has(part, pos, 1, replica);
}

/**
 * mqdev_ring_ready() - what a watermark waiter at @pos waits for
 * @part: the partition
 * @pos: the waiter's position, which it may have written: any value
 * @min_bytes: how much must be ready: 0 counts as 1
 * @replica: the waiter is a replica: it reads past the high watermark
 *
 * Lock-free, so that a wake function may ask it.
 *
 * Return: true when at least @min_bytes of records are published past @pos
 * and the first may be read: no open transaction holds it.
 */
bool mqdev_ring_ready(struct mqdev_part *part, u64 pos, u32 min_bytes,
		      bool replica)
{
	return ring_has(part, pos, max(min_bytes, 1U), replica);
}

/**
 * mqdev_ring_resolve() - mark a decided transaction's records in @part
 * @part: the partition, not locked
 * @first: the position of the transaction's first record here
 * @last: and of its last
 * @producer_id: the producer id its records carry
 * @slot: its slot, which its records carry
 * @mark: MQDEV_RECORD_COMMITTED or MQDEV_RECORD_ABORTED
 *
 * Only the records still kept, and still unmarked, are marked.
 */
void mqdev_ring_resolve(struct mqdev_part *part, u64 first, u64 last,
			u64 producer_id, u16 slot, u16 mark)
{
	const u16 done = MQDEV_RECORD_COMMITTED | MQDEV_RECORD_ABORTED;
	struct mqdev_record *rec;
	u64 pos;
	u16 flags;

	mutex_lock(&part->lock);
	for (pos = max(first, part->tail); pos <= last && pos < part->head;
	     pos += MQDEV_RECORD_SPACE(rec->len)) {
		rec = mqdev_ring_record(part, pos);
		flags = rec->flags;
		if ((flags & MQDEV_RECORD_TXN) && !(flags & done) &&
		    rec->txn == slot && rec->producer_id == producer_id)
			WRITE_ONCE(rec->flags, flags | mark);
	}
	mutex_unlock(&part->lock);
}

/**
 * mqdev_ring_moved() - a holding reader moved on
 * @part: the partition
 *
 * Wakes the producers that wait for the space, if they asked to be
 * (MQDEV_RING_NEED_WAKEUP).
 */
void mqdev_ring_moved(struct mqdev_part *part)
{
	/* Pairs with smp_mb__after_atomic() in ring_reserve_or_arm(). */
	smp_mb();
	if (atomic_read(&part->ctrl->flags) & MQDEV_RING_NEED_WAKEUP)
		mqdev_ring_kick(part);
}

static bool ring_record_sane(struct mqdev_part *part, u64 pos, u64 head,
			     u32 len)
{
	return len >= sizeof(struct mqdev_record) &&
	       len <= part->topic->max_record &&
	       pos + MQDEV_RECORD_SPACE(len) <= head;
}

/*
 * A record of a decided transaction goes out marked with the decision
 * @state, whatever the copy caught of its marking in place: the copy may
 * have been taken before the mark landed, so what the ring says now is no
 * guide to what the copy says.
 */
static int ring_read_mark(const struct mqdev_record *rec,
			  struct mqdev_record __user *urec, u32 state)
{
	u16 flags = READ_ONCE(rec->flags);

	if (!(flags & MQDEV_RECORD_TXN))
		return 0;
	flags &= ~(MQDEV_RECORD_COMMITTED | MQDEV_RECORD_ABORTED);
	flags |= state == MQDEV_TXN_ABORT ? MQDEV_RECORD_ABORTED :
					    MQDEV_RECORD_COMMITTED;
	return put_user(flags, &urec->flags);
}

/* What a read(2) reads up to, and how it judges a record's age. */
struct ring_read {
	struct mqdev_part	*part;
	u64			head;	/* the end of what it may read */
	u64			now;	/* CLOCK_REALTIME ns, as records' stamps */
	u64			ttl;	/* the topic's, 0 for none */
	bool			replica; /* keeps the log whole: expired too */
};

/*
 * The most a run copies: enough that the copy's set-up is nothing a record
 * (some 600 records of 64-byte values), little enough that a run an
 * overwriting producer catches wastes little.
 */
#define RING_READ_RUN_MAX	SZ_64K

/* A sane record that read(2) skips: past its expiry or the topic's TTL. */
static bool ring_read_expired(const struct ring_read *rr,
			      const struct mqdev_record *rec, u32 rlen)
{
	return !rr->replica &&
	       (mqdev_record_expired(rec, rlen, rr->now) ||
		mqdev_ttl_passed(READ_ONCE(rec->timestamp), rr->ttl, rr->now));
}

/*
 * The bytes from @pos, where a record of @rlen that fits starts, that one
 * ring_copy_out() can take: that record, and the records after it as long
 * as each is sane, plain (a transaction's record goes alone, for its copy
 * to be marked with the outcome), not skipped, and within @room bytes of
 * the buffer and RING_READ_RUN_MAX.  A copy then costs its set-up once a
 * page chunk rather than once a record.  The padding between the records
 * goes out too: bytes of the ring, which every reader of the topic may
 * map.  Counts the records in *@nr.
 */
static u64 ring_read_run(const struct ring_read *rr, u64 pos, u32 rlen,
			 size_t room, u64 *nr)
{
	u64 span = rlen, next = pos + MQDEV_RECORD_SPACE(rlen);
	const struct mqdev_record *rec;

	room = min_t(size_t, room, RING_READ_RUN_MAX);
	for (*nr = 1; next < rr->head; (*nr)++) {
		rec = mqdev_ring_record(rr->part, next);
		rlen = READ_ONCE(rec->len);
		/* a transaction's record is marked only after its decision */
		if ((READ_ONCE(rec->flags) & MQDEV_RECORD_TXN) ||
		    !ring_record_sane(rr->part, next, rr->head, rlen) ||
		    next - pos + rlen > room ||
		    ring_read_expired(rr, rec, rlen))
			break;
		span = next - pos + rlen;
		next += MQDEV_RECORD_SPACE(rlen);
	}
	return span;
}

/**
 * mqdev_ring_read() - copy whole records from a reader's position to @buf
 * @part: the partition
 * @cons_pos: the reader's position; moved past what was copied
 * @buf: the user buffer
 * @len: its size
 * @replica: the reader is a replica: it reads past the high watermark
 *
 * Each record goes at the aligned place it has in the ring, a run of them
 * in one copy (ring_read_run()).  Lock-free: a record that an overwriting
 * producer reclaimed while we copied it is dropped, and the reader goes on
 * from the new tail (it sees the gap in the offsets).  The position is the
 * reader's to write, so it is checked, never trusted.  It stops at a
 * record of an open transaction; aborted ones are copied out marked
 * MQDEV_RECORD_ABORTED, for the reader to skip.  Expired records
 * (MQDEV_RECORD_EXPIRES past now, or older than the topic's TTL) are
 * skipped and counted here, except for a replica.  A run is at most
 * RING_READ_RUN_MAX.  A run that faults is copied again a record at a time,
 * so that what fits before the fault is read; after an overwrite under a
 * copy, the rest of the read goes a record at a time as well.
 *
 * Return: the bytes of @buf filled, records and their padding, if any
 * record was copied; else 0 when there is nothing that may be read,
 * -EMSGSIZE when the first record is larger than @len, -EINVAL when the
 * position is not at a record, or -EFAULT.
 */
ssize_t mqdev_ring_read(struct mqdev_part *part, u64 *cons_pos,
			char __user *buf, size_t len, bool replica)
{
	struct ring_read rr = {
		.part = part, .head = ring_readers_end(part, replica),
		.now = ktime_get_real_ns(), .replica = replica,
		.ttl = READ_ONCE(part->topic->ttl_ns),
	};
	struct mqdev_record *rec;
	bool sane, fits, try_runs = true;
	size_t done = 0;
	u64 pos, span, nr, records = 0, bytes = 0, expired = 0;
	int err = 0;
	u32 rlen, state;

	/* Past the watermark is a place to wait, not to be moved back from. */
	pos = READ_ONCE(*cons_pos);
	if (pos > rr.head && pos <= READ_ONCE(part->ctrl->end))
		return 0;
	pos = min(pos, rr.head);

	while (pos < rr.head) {
		pos = max(pos, READ_ONCE(part->ctrl->tail));
		if (pos >= rr.head)
			break;
		rec = mqdev_ring_record(part, pos);
		state = mqdev_txn_record_state(part, rec);
		if (state == MQDEV_TXN_OPEN)
			break;
		rlen = READ_ONCE(rec->len);
		sane = ring_record_sane(part, pos, rr.head, rlen);
		if (sane && ring_read_expired(&rr, rec, rlen)) {
			/* Pairs with smp_wmb() in ring_publish_tail(). */
			smp_rmb();
			if (READ_ONCE(part->ctrl->tail) > pos)
				continue;	/* overwritten under us */
			pos += MQDEV_RECORD_SPACE(rlen);
			/* A ring of expired records is long to skip. */
			if (!(++expired % 1024)) {
				cond_resched();
				if (fatal_signal_pending(current))
					break;
			}
			continue;
		}
		fits = sane && done + rlen <= len;
		span = rlen;
		nr = 1;
		if (fits && try_runs && !(READ_ONCE(rec->flags) & MQDEV_RECORD_TXN))
			span = ring_read_run(&rr, pos, rlen, len - done, &nr);
		if (fits &&
		    (ring_copy_out(part, pos, buf + done, span) ||
		     ring_read_mark(rec, (struct mqdev_record __user *)
					 (buf + done), state))) {
			if (nr > 1) {
				/* again a record at a time: those before the fault */
				try_runs = false;
				continue;
			}
			err = -EFAULT;
			break;
		}
		/*
		 * Pairs with smp_wmb() in ring_publish_tail(): a producer moves
		 * the tail past a record before it reuses a byte of it, and the
		 * whole run lies at or after @pos, so one look covers it.
		 */
		smp_rmb();
		if (READ_ONCE(part->ctrl->tail) > pos) {
			/*
			 * Overwritten under us.  The rest a record at a time, as
			 * a run from the tail of a busy topic loses every race.
			 */
			try_runs = false;
			continue;
		}
		if (!fits) {
			err = sane ? -EMSGSIZE : -EINVAL;
			break;
		}
		span = MQDEV_RECORD_SPACE(span);
		pos += span;
		done = min_t(size_t, done + span, len);
		records += nr;
		bytes += span;
	}

	WRITE_ONCE(*cons_pos, pos);
	if (expired)
		atomic64_add(expired, &part->topic->sched.expired);
	this_cpu_add(part->stats->records_out, records);
	this_cpu_add(part->stats->bytes_out, bytes);
	return done ? done : err;
}
