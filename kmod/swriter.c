// SPDX-License-Identifier: GPL-2.0
/*
 * Single-writer topics: one writer writes its records into the mapped ring
 * itself and publishes them with one release store of its head, in a page
 * of its own after the data (Documentation/mqdev.rst, "Single-writer
 * topics").  Here: the writer role and its mapping, the kernel's checked
 * view of a ring it no longer writes (the sync), the kernel's checked walks
 * of it, the flag a sleeping reader leaves for the writer, and the writer's
 * ioctl.
 *
 * The writer may change the data and its page at any moment, before and
 * after any check: the kernel reads them with READ_ONCE(), through
 * mqdev_ring_record() (a masked position, a record at most max_record long,
 * the data mapped twice: never outside the ring), checks every step, and
 * never writes into them but to hand the role over.
 */

#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/sched/signal.h>
#include "mqdev.h"

static u64 sw_capacity(const struct mqdev_part *part)
{
	return part->mask + 1;
}

/*
 * Is the record at @pos one a reader may take: whole before @head, its key
 * within it, of this partition, with offset @offset (not the last there is:
 * the next one's must not wrap) and only the producer's flags?  Its end
 * goes to *@next.  libmqdev checks the same.
 */
static bool sw_record_ok(struct mqdev_part *part, u64 pos, u64 head,
			 u64 offset, u64 *next)
{
	const struct mqdev_record *rec = mqdev_ring_record(part, pos);
	u32 len = READ_ONCE(rec->len);

	if (len < sizeof(*rec) || len > part->topic->max_record ||
	    MQDEV_RECORD_SPACE(len) > head - pos ||
	    READ_ONCE(rec->key_len) > len - sizeof(*rec) ||
	    READ_ONCE(rec->offset) != offset || offset == U64_MAX ||
	    READ_ONCE(rec->partition) != part->index ||
	    (READ_ONCE(rec->flags) & ~MQDEV_RECORD_PRODUCER_FLAGS))
		return false;
	*next = pos + MQDEV_RECORD_SPACE(len);
	return true;
}

/*
 * The writer moved its tail to @tail, within [part->tail, its head].  False
 * when it is refused: a lapped ring whose record at @tail has an offset
 * behind the kernel's, or one so large that the ring's could wrap.
 */
static bool sw_take_tail(struct mqdev_part *part, u64 tail)
{
	u64 off;

	if (tail > part->head) {
		/* Lapped: what the kernel checked is gone; go on from @tail. */
		off = READ_ONCE(mqdev_ring_record(part, tail)->offset);
		if (off < part->next_offset || off > U64_MAX - sw_capacity(part))
			return false;
		part->head = tail;
		part->next_offset = off;
	}
	off = tail == part->head ? part->next_offset :
	      READ_ONCE(mqdev_ring_record(part, tail)->offset);
	part->tail_offset = clamp(off, part->tail_offset, part->next_offset);
	part->tail = tail;
	WRITE_ONCE(part->ctrl->tail, tail);
	return true;
}

/*
 * How many records a sync walks for a user other than the writer: what the
 * writer published costs them at most this, however it writes.
 */
#define SW_SYNC_BUDGET	1024

/*
 * Take what the writer published, as far as it holds, in at most @steps
 * records.  Positions that go back or span more than the ring are not
 * followed, nor a tail the kernel refuses; the new records are walked with
 * a reader's checks, and head and next_offset move only past the ones that
 * pass.  The walk never goes past a ring from the kernel's tail, nor takes
 * more steps than a ring holds headers, whatever the writer does to the
 * records behind it: part->head - part->tail stays within the ring.  Then
 * what was taken is published in the control page, as an append would,
 * waking readers if @wake (the writer's wake-up woke them already).
 */
static void sw_sync(struct mqdev_part *part, u64 steps, bool wake)
{
	struct mqdev_writer_page *wp = part->wpage;
	u64 cap = sw_capacity(part), head, tail, pos, off, next;

	lockdep_assert_held(&part->lock);
	steps = min(steps, cap / sizeof(struct mqdev_record));
	/* Pairs with the writer's release store of head. */
	head = smp_load_acquire(&wp->head);
	tail = READ_ONCE(wp->tail);
	if (head < part->head || tail > head || head - tail > cap)
		goto publish;
	/* A tail behind the kernel's (see sw_tail_to_floor()) is not taken. */
	if (tail > part->tail && !sw_take_tail(part, tail))
		goto publish;
	head = min(head, part->tail + cap);
	pos = part->head;
	off = part->next_offset;
	while (pos < head && steps-- &&
	       sw_record_ok(part, pos, head, off, &next)) {
		pos = next;
		off++;
	}
	part->head = pos;
	part->next_offset = off;
publish:
	if (wake)
		mqdev_ring_publish(part);
	else
		mqdev_ring_publish_quiet(part);
}

/**
 * mqdev_swriter_sync() - a sync for a user other than the writer
 * @part: a single-writer partition, locked
 *
 * The writer's own calls (its ioctl, the hand-over) take all it published;
 * others, a describe, take at most SW_SYNC_BUDGET records, so that what
 * the writer does costs them a bounded walk: their statistics count what
 * the kernel last synced.
 */
void mqdev_swriter_sync(struct mqdev_part *part)
{
	sw_sync(part, SW_SYNC_BUDGET, true);
}

/* Records of at least @min_bytes past @pos, as the writer's page says. */
static bool sw_ready(struct mqdev_part *part, u64 pos, u64 min_bytes)
{
	/* Pairs with the writer's release store of head. */
	u64 head = smp_load_acquire(&part->wpage->head);

	pos = max(pos, READ_ONCE(part->wpage->tail));
	return pos < head && head - pos >= min_bytes;
}

/**
 * mqdev_swriter_has() - ring_has() for a single-writer partition
 * @part: the partition
 * @pos: a reader's position: any value
 * @min_bytes: at least one
 *
 * Lock-free, for wake functions too.  A reader that finds too little is
 * about to sleep (or looked without sleeping, which costs the writer one
 * needless wake-up): it asks the writer to wake it, then looks again.  The
 * flag store and smp_mb__after_atomic() here pair with the writer's
 * release store of head and full fence before it reads the flags: either
 * the writer sees the flag, or this sees its records.
 *
 * Return: true when @min_bytes are published past @pos.
 */
bool mqdev_swriter_has(struct mqdev_part *part, u64 pos, u64 min_bytes)
{
	if (sw_ready(part, pos, min_bytes))
		return true;
	atomic_or(MQDEV_RING_READER_WAIT, &part->ctrl->flags);
	/* Pairs with the writer's full fence between head and flags. */
	smp_mb__after_atomic();
	return sw_ready(part, pos, min_bytes);
}

/* A checked walk from *@p (offset *@off) to @target, an offset or time. */
static int sw_walk(struct mqdev_part *part, u32 whence, u64 target,
		   u64 *p, u64 *off)
{
	const struct mqdev_record *rec;
	u64 next;

	while (*p < part->head) {
		rec = mqdev_ring_record(part, *p);
		if (whence == MQDEV_SEEK_OFFSET ? *off >= target :
		    READ_ONCE(rec->timestamp) >= target)
			return 0;
		if (!sw_record_ok(part, *p, part->head, *off, &next))
			return -EBADMSG;
		*p = next;
		(*off)++;
	}
	/* The end, short of the offset: the hint was not what it said. */
	return whence == MQDEV_SEEK_OFFSET && *off < target ? -EBADMSG : 0;
}

/*
 * On a block topic the writer may write up to ctrl->limit without asking
 * again: the records before limit - capacity may be gone at any moment.
 * A position located (a holder's, a group's commit or reset) must not be
 * there, or the writer laps the holder it did not know of when the limit
 * was granted: the kernel's tail moves to the first record at or past it,
 * walked with the reader's checks (all is dropped at the first that fails).
 */
static void sw_tail_to_floor(struct mqdev_part *part)
{
	u64 cap = sw_capacity(part), limit = READ_ONCE(part->ctrl->limit);
	u64 steps = cap / sizeof(struct mqdev_record);
	u64 pos = part->tail, off = part->tail_offset, next;

	if ((part->topic->flags & MQDEV_TOPIC_OVERWRITE) || limit < cap ||
	    limit - cap <= pos)
		return;
	while (pos < limit - cap) {
		if (pos >= part->head || !steps-- ||
		    !sw_record_ok(part, pos, part->head, off, &next)) {
			pos = part->head;
			off = part->next_offset;
			break;
		}
		pos = next;
		off++;
	}
	part->tail = pos;
	part->tail_offset = off;
	WRITE_ONCE(part->ctrl->tail, pos);
}

/**
 * mqdev_swriter_locate() - ring_locate() for a single-writer partition
 * @part: the partition, locked
 * @whence: MQDEV_SEEK_*
 * @offset: the offset or time asked; the offset found goes here
 * @pos: the position found goes here
 * @hint: a position whose record has offset @hint_offset, walked from if
 *	  it is kept and not past the target
 * @hint_offset: its offset
 *
 * Syncs first, SW_SYNC_BUDGET records or as many as the offset asked is
 * past the last synced, at most a ring's: the caller pays for what it asks.
 * Then walks with every step checked: a record that changed since the sync
 * stops the walk.  A walk from a hint that does not hold is tried again
 * from the tail.  On a block topic nothing is found before what the writer
 * may already overwrite (sw_tail_to_floor()).
 *
 * Return: 0, -ERANGE past the end, -EINVAL for an unknown @whence, or
 * -EBADMSG when the records on the way do not hold.
 */
int mqdev_swriter_locate(struct mqdev_part *part, u32 whence, u64 *offset,
			 u64 *pos, u64 hint, u64 hint_offset)
{
	u64 p, off, steps = SW_SYNC_BUDGET;
	int err;

	if (whence == MQDEV_SEEK_OFFSET && *offset > part->next_offset)
		steps = max(steps, *offset - part->next_offset);
	sw_sync(part, steps, true);
	sw_tail_to_floor(part);
	p = part->tail;
	off = part->tail_offset;
	switch (whence) {
	case MQDEV_SEEK_EARLIEST:
		break;
	case MQDEV_SEEK_LATEST:
		p = part->head;
		off = part->next_offset;
		break;
	case MQDEV_SEEK_OFFSET:
		if (*offset > part->next_offset)
			return -ERANGE;
		if (hint >= part->tail && hint <= part->head &&
		    hint_offset >= part->tail_offset && hint_offset <= *offset &&
		    !sw_walk(part, whence, *offset, &hint, &hint_offset)) {
			p = hint;
			off = hint_offset;
			break;
		}
		fallthrough;
	case MQDEV_SEEK_TIMESTAMP:
		err = sw_walk(part, whence, *offset, &p, &off);
		if (err)
			return err;
		break;
	default:
		return -EINVAL;
	}
	*offset = off;
	*pos = p;
	return 0;
}

/* The writer may write up to here: the slowest holder plus the ring. */
static u64 sw_limit(struct mqdev_part *part)
{
	u64 limit = U64_MAX;

	if (!(part->topic->flags & MQDEV_TOPIC_OVERWRITE))
		limit = mqdev_ring_hold_limit(part) + sw_capacity(part);
	WRITE_ONCE(part->ctrl->limit, limit);
	return limit;
}

/*
 * The role changes hands: the writer page says what the kernel's checks
 * found, so that the next writer starts after the last good record, and
 * nothing the last one left half-written or scribbled is ever published.
 */
static void sw_hand_over(struct mqdev_part *part)
{
	struct mqdev_writer_page *wp = part->wpage;

	mutex_lock(&part->lock);
	sw_sync(part, U64_MAX, true);
	WRITE_ONCE(wp->next_offset, part->next_offset);
	WRITE_ONCE(wp->tail, part->tail);
	/* Pairs with readers' acquire loads of head. */
	smp_store_release(&wp->head, part->head);
	sw_limit(part);
	mutex_unlock(&part->lock);
}

/**
 * mqdev_swriter_attach() - take the writer role of a single-writer topic
 * @h: the handle attaching with MQDEV_ATTACH_WRITER
 * @topic: the topic
 *
 * Return: 0, or -EBUSY while another handle holds the role.
 */
int mqdev_swriter_attach(struct mqdev_handle *h, struct mqdev_topic *topic)
{
	u32 i;

	if (cmpxchg(&topic->writer, NULL, h))
		return -EBUSY;
	for (i = 0; i < topic->nr_parts; i++)
		sw_hand_over(&topic->parts[i]);
	return 0;
}

/**
 * mqdev_swriter_detach() - give the role back, if @h holds it
 * @h: a handle being released: no mapping of it is left
 * @topic: its topic
 */
void mqdev_swriter_detach(struct mqdev_handle *h, struct mqdev_topic *topic)
{
	u32 i;

	if (READ_ONCE(topic->writer) != h)
		return;
	for (i = 0; i < topic->nr_parts; i++)
		sw_hand_over(&topic->parts[i]);
	/* Pairs with cmpxchg() in the next attach: the pages first. */
	smp_store_release(&topic->writer, NULL);
}

/**
 * mqdev_swriter_fill() - a single-writer topic's layout, for an attach
 * @off: the layout, filled in as for any topic
 * @topic: the topic
 * @writer: the handle attaches as its writer
 */
void mqdev_swriter_fill(struct mqdev_ring_offsets *off,
			const struct mqdev_topic *topic, bool writer)
{
	u64 wpage = PAGE_SIZE + 2 * topic->capacity;

	off->ring_size += PAGE_SIZE;
	off->head = wpage + offsetof(struct mqdev_writer_page, head);
	off->tail = wpage + offsetof(struct mqdev_writer_page, tail);
	off->writer_page = wpage;
	off->limit = offsetof(struct mqdev_ring_ctrl, limit);
	off->writer_mmap = writer ? MQDEV_WRITER_MMAP : 0;
}

/**
 * mqdev_swriter_mmap() - map a partition's data and writer page writable
 * @h: the handle: only the writer's may
 * @topic: its topic
 * @vma: the mapping, shared, not executable
 * @off: its offset past MQDEV_WRITER_MMAP
 *
 * The mapping is VM_IO: get_user_pages() refuses it, so that nothing but
 * the writer's own stores write through it, and only while it is mapped.
 *
 * Return: 0, -EACCES for a handle that is not the writer, -EINVAL for no
 * such partition, or what vm_map_pages_zero() returns.
 */
int mqdev_swriter_mmap(struct mqdev_handle *h, struct mqdev_topic *topic,
		       struct vm_area_struct *vma, u64 off)
{
	struct mqdev_part *part;
	u64 nr = off / MQDEV_PART_STRIDE;

	if (READ_ONCE(topic->writer) != h)
		return -EACCES;
	if (off % MQDEV_PART_STRIDE || nr >= topic->nr_parts)
		return -EINVAL;
	part = &topic->parts[array_index_nospec(nr, topic->nr_parts)];
	/*
	 * Not for get_user_pages(): a writer could otherwise pin the pages
	 * (io_uring's registered buffers) and write on after it let go of
	 * the role, or after another took it over.
	 */
	vm_flags_set(vma, VM_IO);
	return vm_map_pages_zero(vma, part->pages + 1, part->nr_map_pages - 1);
}

/* Wait until the writer may write up to @need, or fail. */
static long sw_room(struct mqdev_part *part, struct mqdev_writer *req,
		    bool nonblock)
{
	struct mqdev_ring_ctrl *ctrl = part->ctrl;
	int gen, err;

	for (;;) {
		gen = atomic_read(&part->space_gen);
		err = mutex_lock_interruptible(&part->lock);
		if (err)
			return err;
		sw_sync(part, U64_MAX, true);
		req->limit = sw_limit(part);
		if (req->limit < req->need) {
			atomic_or(MQDEV_RING_NEED_WAKEUP, &ctrl->flags);
			/* Pairs with smp_mb() in mqdev_ring_moved(). */
			smp_mb__after_atomic();
			req->limit = sw_limit(part);
		}
		mutex_unlock(&part->lock);
		if (req->limit >= req->need)
			return 0;
		if (mqdev_topic_dead(part->topic))
			return -EIDRM;
		if (nonblock)
			return -EAGAIN;
		err = wait_event_interruptible(part->space_wait,
					       atomic_read(&part->space_gen) != gen);
		if (err)
			return err;
	}
}

/**
 * mqdev_swriter_ioctl() - MQDEV_IOC_WRITER: wake readers, or wait for room
 * @ioc: the ioctl, on a handle attached to produce
 * @req: the request; the limit goes back
 *
 * Return: 0; -EINVAL for bad flags, reserved fields or partition; -EBADF
 * for a handle that is not the topic's writer; for ROOM, -EAGAIN on a
 * non-blocking handle, -EINTR or -ERESTARTSYS, -EIDRM for a deleted topic.
 */
long mqdev_swriter_ioctl(struct mqdev_ioc *ioc, struct mqdev_writer *req)
{
	struct mqdev_topic *topic = ioc->topic;
	struct mqdev_part *part;

	if (!req->flags || (req->flags & ~MQDEV_WRITER_FLAGS) ||
	    req->reserved[0] || req->reserved[1] ||
	    req->partition >= topic->nr_parts)
		return -EINVAL;
	if (READ_ONCE(topic->writer) != ioc->h)
		return -EBADF;
	part = &topic->parts[array_index_nospec(req->partition,
						topic->nr_parts)];
	if (req->flags & MQDEV_WRITER_WAKE) {
		/*
		 * The sleepers first: every sleeper of a single-writer topic
		 * judges what it waits for from the writer's page
		 * (ring_has()), not from the kernel's checked view: such a
		 * topic refuses read(2), durability (so replicas and acks=all)
		 * and share groups, which would.  So none needs the sync
		 * before it wakes, nor a second wake-up after it.  Cleared
		 * first: a reader woken for nothing sets it again.
		 */
		atomic_andnot(MQDEV_RING_READER_WAIT, &part->ctrl->flags);
		mqdev_ring_wake_readers(part);
		/* Then the writer's call pays for checking its records. */
		mutex_lock(&part->lock);
		sw_sync(part, U64_MAX, false);
		mutex_unlock(&part->lock);
	}
	if (req->flags & MQDEV_WRITER_ROOM)
		return sw_room(part, req, ioc->file->f_flags & O_NONBLOCK);
	req->limit = READ_ONCE(part->ctrl->limit);
	return 0;
}
