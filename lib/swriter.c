// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The single writer of a single-writer topic: records written straight into
 * each partition's ring, through the writer's own read-write mapping, and
 * published with one release store of the writer page's head; a system call
 * only when a reader sleeps (MQDEV_RING_READER_WAIT) or a block topic's
 * holders leave no room (Documentation/mqdev.rst, "Single-writer topics").
 *
 * Reserve and commit, as libbpf's ring_buffer__reserve() and __submit():
 * reserved records are invisible until the commit publishes them, one
 * store per partition.  A wait for room publishes only what was committed
 * (or sent), never a reservation the caller may not have written yet.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "internal.h"

struct swriter_part {
	void			*ring;		/* read-only: ctrl page */
	char			*data;		/* ours: data, mapped twice */
	struct mqdev_writer_page *wp;		/* ours: published head, tail */
	const uint32_t		*flags;		/* the kernel's */
	const u64_shared	*limit;		/* the kernel's */
	uint64_t		head;		/* reserved up to here */
	uint64_t		done;		/* written up to here */
	uint64_t		pub;		/* published up to here */
	uint64_t		tail;
	uint64_t		next_offset;
	uint64_t		limit_seen;
};

struct mqdev_swriter {
	int			fd;
	bool			nonblock;
	bool			overwrite;
	struct mqdev_attach	attach;
	uint64_t		mask;
	uint32_t		next_rr;
	uint64_t		last_ts;
	uint64_t		run_ts;		/* of the records before a commit */
	uint64_t		slack;		/* what a block topic drops more */
	struct swriter_part	*parts;
};

static void swriter_unmap(struct mqdev_swriter *w)
{
	const struct mqdev_ring_offsets *off = &w->attach.off;
	struct swriter_part *sp;
	uint32_t p;

	for (p = 0; p < w->attach.partitions; p++) {
		sp = &w->parts[p];
		if (sp->ring)
			munmap(sp->ring, off->ring_size);
		if (sp->data)
			munmap(sp->data, off->ring_size - off->data);
	}
}

static int swriter_map(struct mqdev_swriter *w, uint32_t p)
{
	const struct mqdev_ring_offsets *off = &w->attach.off;
	struct swriter_part *sp = &w->parts[p];
	char *ring, *data;

	ring = mmap(NULL, off->ring_size, PROT_READ, MAP_SHARED, w->fd,
		    off->ring_mmap + p * off->part_stride);
	if (ring == MAP_FAILED)
		return -errno;
	sp->ring = ring;
	data = mmap(NULL, off->ring_size - off->data, PROT_READ | PROT_WRITE,
		    MAP_SHARED, w->fd, off->writer_mmap + p * off->part_stride);
	if (data == MAP_FAILED)
		return -errno;
	sp->data = data;
	sp->wp = (void *)(data + off->writer_page - off->data);
	sp->flags = (const uint32_t *)(ring + off->flags);
	sp->limit = (const u64_shared *)(ring + off->limit);
	/* The kernel wrote them when we took the role: they hold. */
	sp->head = sp->done = sp->pub = sp->wp->head;
	sp->tail = sp->wp->tail;
	sp->next_offset = sp->wp->next_offset;
	sp->limit_seen = __atomic_load_n(sp->limit, __ATOMIC_RELAXED);
	return 0;
}

/* The kernel's ring_reclaim_slack(): a 64th of the ring, at least a page. */
static uint64_t swriter_slack(uint64_t capacity)
{
	long page = sysconf(_SC_PAGESIZE);

	if (page < 0 || capacity / 64 > (uint64_t)page)
		return capacity / 64;
	return page;
}

MQDEV_EXPORT int mqdev_swriter_new(const char *topic,
				   const struct mqdev_swriter_opts *opts,
				   struct mqdev_swriter **writer)
{
	struct mqdev_swriter *w;
	uint32_t flags, p;
	int err;

	if (!OPTS_VALID(opts, mqdev_swriter_opts))
		return -EINVAL;
	flags = OPTS_GET(opts, flags, 0);
	if (flags & ~MQDEV_SWRITER_NONBLOCK)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->nonblock = flags & MQDEV_SWRITER_NONBLOCK;
	w->fd = mqdev_attach_fd(topic, MQDEV_ATTACH_PRODUCE |
				MQDEV_ATTACH_WRITER,
				w->nonblock ? O_NONBLOCK : 0, &w->attach);
	if (w->fd < 0) {
		err = w->fd;
		free(w);
		return err;
	}
	w->mask = w->attach.capacity - 1;
	w->slack = swriter_slack(w->attach.capacity);
	w->overwrite = w->attach.topic_flags & MQDEV_TOPIC_OVERWRITE;
	w->parts = calloc(w->attach.partitions, sizeof(*w->parts));
	err = w->parts ? 0 : -ENOMEM;
	for (p = 0; !err && p < w->attach.partitions; p++)
		err = swriter_map(w, p);
	if (err) {
		if (w->parts)
			swriter_unmap(w);
		free(w->parts);
		close(w->fd);
		free(w);
		return err;
	}
	*writer = w;
	return 0;
}

MQDEV_EXPORT void mqdev_swriter_free(struct mqdev_swriter *w)
{
	if (!w)
		return;
	mqdev_swriter_commit(w);
	swriter_unmap(w);
	free(w->parts);
	close(w->fd);
	free(w);
}

MQDEV_EXPORT int mqdev_swriter_fd(const struct mqdev_swriter *w)
{
	return w->fd;
}

MQDEV_EXPORT uint32_t mqdev_swriter_partitions(const struct mqdev_swriter *w)
{
	return w->attach.partitions;
}

/*
 * The bytes of the oldest record.  Our own records hold; one that does not
 * was left by a writer before us: all up to head, then.
 */
static uint64_t swriter_oldest_space(const struct mqdev_swriter *w,
				     const struct swriter_part *sp)
{
	const struct mqdev_record *rec = (const void *)(sp->data +
							(sp->tail & w->mask));
	uint32_t len = __atomic_load_n(&rec->len, __ATOMIC_RELAXED);

	if (len < sizeof(*rec) || len > w->attach.max_record ||
	    MQDEV_RECORD_SPACE(len) > sp->head - sp->tail)
		return sp->head - sp->tail;
	return MQDEV_RECORD_SPACE(len);
}

/* Publish partition @sp's written records; true if there were any. */
static bool swriter_publish(struct swriter_part *sp)
{
	if (sp->pub == sp->done)
		return false;
	/* Pairs with readers' acquire loads of head. */
	__atomic_store_n(shared_rw(&sp->wp->head), sp->done, __ATOMIC_RELEASE);
	sp->pub = sp->done;
	return true;
}

static int swriter_wake(struct mqdev_swriter *w, uint32_t p)
{
	struct mqdev_writer req = { .partition = p,
				    .flags = MQDEV_WRITER_WAKE };

	if (!(__atomic_load_n(w->parts[p].flags, __ATOMIC_RELAXED) &
	      MQDEV_RING_READER_WAIT))
		return 0;
	return mqdev_ioctl(w->fd, MQDEV_IOC_WRITER, &req);
}

/*
 * A block topic's limit: ask the kernel for room up to @need.  Out of line,
 * as the overwrite below and the clock read: reserve's common path then
 * saves no registers for calls it does not make.
 */
static __attribute__((noinline, cold)) int
swriter_wait_room(struct mqdev_swriter *w, uint32_t p, uint64_t need)
{
	struct swriter_part *sp = &w->parts[p];
	struct mqdev_writer req = { .partition = p, .flags = MQDEV_WRITER_ROOM,
				    .need = need };
	int err;

	sp->limit_seen = __atomic_load_n(sp->limit, __ATOMIC_RELAXED);
	if (need <= sp->limit_seen)
		return 0;
	/*
	 * Holders can move on only through what is published, and reserved
	 * records the caller has not written yet are not: if they alone
	 * leave no room, waiting would never end.
	 */
	if (need - sp->done > w->mask + 1)
		return -ENOBUFS;
	if (swriter_publish(sp)) {
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		swriter_wake(w, p);
	}
	err = mqdev_ioctl(w->fd, MQDEV_IOC_WRITER, &req);
	if (err)
		return err;
	sp->limit_seen = req.limit;
	return 0;
}

/*
 * Drop the oldest records until @need fits: the tail stored before reuse.
 * A block topic's writer drops more, as the kernel's producers do
 * (ring_reclaim_slack()): a 64th of the ring, at least a page, of what every
 * holder has passed (the records before limit_seen less the ring), so that
 * a full ring drops once in that many bytes, not at every record.  An
 * overwriting one drops only what it needs, as the kernel's: a slow reader
 * loses no record sooner than it must.
 */
static __attribute__((noinline)) void swriter_drop_to(struct mqdev_swriter *w,
						     struct swriter_part *sp,
						     uint64_t need)
{
	uint64_t cap = w->mask + 1, want = need, passed = 0, space;

	if (!w->overwrite) {
		want = need + w->slack;
		passed = sp->limit_seen - cap;	/* need <= limit_seen */
	}
	/* An empty ring has room for any record: slack or not, it is done. */
	while (want - sp->tail > cap && sp->tail < sp->head) {
		space = swriter_oldest_space(w, sp);
		if (need - sp->tail <= cap && sp->tail + space > passed)
			break;		/* the slack only from what was passed */
		sp->tail += space;
	}
	__atomic_store_n(shared_rw(&sp->wp->tail), sp->tail, __ATOMIC_RELAXED);
	/* Pairs with readers' fence before they look at tail again. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

/* Room for @space bytes at head. */
static int swriter_room(struct mqdev_swriter *w, uint32_t p, uint64_t space)
{
	struct swriter_part *sp = &w->parts[p];
	uint64_t need = sp->head + space;
	int err;

	if (!w->overwrite && need > sp->limit_seen) {
		err = swriter_wait_room(w, p, need);
		if (err)
			return err;
	}
	if (need - sp->tail > w->mask + 1)
		swriter_drop_to(w, sp, need);
	return 0;
}

static __attribute__((noinline)) uint64_t swriter_now(struct mqdev_swriter *w)
{
	uint64_t now = mqdev_realtime_ns();

	/* Never back within a partition, as the kernel's appends. */
	if (now < w->last_ts)
		now = w->last_ts;
	w->last_ts = now;
	return now;
}

/*
 * The records of one commit share a time, as an append's run in the kernel
 * does: one clock read per commit, not per record.
 */
static uint64_t swriter_run_ts(struct mqdev_swriter *w)
{
	if (!w->run_ts)
		w->run_ts = swriter_now(w);
	return w->run_ts;
}

/* The record's header at head, which then moves past it. */
static inline struct mqdev_record *swriter_put(struct mqdev_swriter *w,
					       struct swriter_part *sp,
					       uint32_t p, uint32_t len,
					       uint32_t key_len, uint32_t flags)
{
	struct mqdev_record *rec = (void *)(sp->data + (sp->head & w->mask));

	rec->len = len;
	rec->key_len = key_len;
	rec->partition = p;
	rec->offset = sp->next_offset++;
	rec->timestamp = w->run_ts;
	rec->producer_id = 0;
	rec->sequence = 0;
	rec->flags = flags;
	rec->txn = 0;
	sp->head += MQDEV_RECORD_SPACE(len);
	return rec;
}

/*
 * What a reserve may have to do first: learn that the topic is gone, wait
 * for room or drop the oldest, read the clock for a new commit.
 */
static __attribute__((noinline)) int
swriter_reserve_slow(struct mqdev_swriter *w, uint32_t p, uint32_t len,
		     uint32_t key_len, uint32_t flags,
		     struct mqdev_record **recp)
{
	struct swriter_part *sp = &w->parts[p];
	int err;

	/* A deleted topic: nobody reads what would be written. */
	if (__atomic_load_n(sp->flags, __ATOMIC_RELAXED) & MQDEV_RING_DEAD)
		return -EIDRM;
	err = swriter_room(w, p, MQDEV_RECORD_SPACE(len));
	if (err)
		return err;
	swriter_run_ts(w);
	*recp = swriter_put(w, sp, p, len, key_len, flags);
	return 0;
}

/*
 * The common case, with no call but the tail call to the rest: it saves no
 * registers for calls it does not make (16 instructions a record fewer
 * under -icount: README, Benchmarks, "Single-writer topics").
 */
static int swriter_reserve(struct mqdev_swriter *w, uint32_t p,
			   uint32_t key_len, uint32_t value_len, uint32_t flags,
			   struct mqdev_record **recp)
{
	uint64_t len = sizeof(struct mqdev_record) + (uint64_t)key_len +
		       value_len, need;
	struct swriter_part *sp;

	if (p >= w->attach.partitions || key_len > MQDEV_MAX_KEY ||
	    (flags & ~MQDEV_RECORD_PRODUCER_FLAGS))
		return -EINVAL;
	if (len > w->attach.max_record)
		return -EMSGSIZE;
	sp = &w->parts[p];
	need = sp->head + MQDEV_RECORD_SPACE(len);
	if ((__atomic_load_n(sp->flags, __ATOMIC_RELAXED) & MQDEV_RING_DEAD) ||
	    (!w->overwrite && need > sp->limit_seen) ||
	    need - sp->tail > w->mask + 1 || !w->run_ts)
		return swriter_reserve_slow(w, p, len, key_len, flags, recp);
	*recp = swriter_put(w, sp, p, len, key_len, flags);
	return 0;
}

MQDEV_EXPORT int mqdev_swriter_reserve(struct mqdev_swriter *w,
				       uint32_t partition, uint32_t key_len,
				       uint32_t value_len, uint32_t flags,
				       struct mqdev_record **rec)
{
	return swriter_reserve(w, partition, key_len, value_len, flags, rec);
}

/* Publish every reserved record; true if there were any. */
static bool swriter_publish_all(struct mqdev_swriter *w)
{
	uint32_t p, n = w->attach.partitions;
	bool any = false;

	w->run_ts = 0;
	for (p = 0; p < n; p++) {
		w->parts[p].done = w->parts[p].head;
		any |= swriter_publish(&w->parts[p]);
	}
	if (any)
		/*
		 * Pairs with smp_mb__after_atomic() in the kernel's
		 * mqdev_swriter_has(): head before the flag, as the reader
		 * the flag before head.
		 */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return any;
}

/* Wake partitions [@from, @to)'s sleeping readers: the first error. */
static int swriter_wake_range(struct mqdev_swriter *w, uint32_t from,
			      uint32_t to)
{
	int err = 0, e;

	for (; from < to; from++) {
		e = swriter_wake(w, from);
		if (e && !err)
			err = e;
	}
	return err;
}

MQDEV_EXPORT int mqdev_swriter_commit(struct mqdev_swriter *w)
{
	if (!swriter_publish_all(w))
		return 0;
	return swriter_wake_range(w, 0, w->attach.partitions);
}

/* The last partition whose readers asked to be woken, or -1. */
static int swriter_last_waiting(const struct mqdev_swriter *w)
{
	int p;

	for (p = w->attach.partitions - 1; p >= 0; p--)
		if (__atomic_load_n(w->parts[p].flags, __ATOMIC_RELAXED) &
		    MQDEV_RING_READER_WAIT)
			return p;
	return -1;
}

MQDEV_EXPORT int mqdev_swriter_commit_wait(struct mqdev_swriter *w,
					   struct mqdev_consumer *c,
					   int timeout_ms)
{
	struct mqdev_writer req = { .flags = MQDEV_WRITER_WAKE };
	int last, err;
	bool sent;

	last = swriter_publish_all(w) ? swriter_last_waiting(w) : -1;
	if (last < 0)
		return mqdev_consumer_wait(c, timeout_ms);
	/* Every wake-up but the last alone; the last with the wait. */
	err = swriter_wake_range(w, 0, last);
	if (err)
		return swriter_wake(w, last), err;
	req.partition = last;
	return mqdev_consumer_wait_send(c, timeout_ms, w->fd,
					MQDEV_IOC_WRITER, &req, NULL, &sent);
}

static uint32_t swriter_partition(struct mqdev_swriter *w,
				  const struct mqdev_msg *msg)
{
	if (msg->partition != MQDEV_PARTITION_ANY)
		return msg->partition;
	if (msg->key_len)
		return mqdev_partition_for_key((const void *)(uintptr_t)msg->key,
					       msg->key_len,
					       w->attach.partitions);
	return w->next_rr++ % w->attach.partitions;
}

MQDEV_EXPORT int mqdev_swriter_send(struct mqdev_swriter *w,
				    struct mqdev_msg *msgs, unsigned int count)
{
	struct mqdev_record *rec;
	unsigned int i;
	uint32_t p;
	int err = 0;

	for (i = 0; i < count; i++) {
		p = swriter_partition(w, &msgs[i]);
		err = swriter_reserve(w, p, msgs[i].key_len, msgs[i].value_len,
				      msgs[i].flags, &rec);
		if (err)
			break;
		if (msgs[i].key_len)
			memcpy(rec + 1, (const void *)(uintptr_t)msgs[i].key,
			       msgs[i].key_len);
		if (msgs[i].value_len)
			memcpy((char *)(rec + 1) + msgs[i].key_len,
			       (const void *)(uintptr_t)msgs[i].value,
			       msgs[i].value_len);
		msgs[i].partition = p;
		msgs[i].offset = rec->offset;
		/* Written: a wait for room may publish it. */
		w->parts[p].done = w->parts[p].head;
	}
	mqdev_swriter_commit(w);
	return i ? (int)i : err;
}
