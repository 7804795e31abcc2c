// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The consumer: walks records in place in each partition's read-only ring
 * mapping, or copies them out with read(2) (MQDEV_CONSUMER_COPY).
 *
 * In place, a record is checked twice against the ring's tail: when it is
 * peeked, and again when it is released.  A topic that overwrites moves the
 * tail before it reuses bytes, so a record whose position fell behind the
 * tail by the second check may have been overwritten while the caller read
 * it: release reports -ESTALE, and the record counts as lost.
 *
 * A record of a transaction is delivered once it is committed: the kernel
 * marks it so, but a reader may find it first and then asks the transaction
 * table (see struct mqdev_record).  A record of an open transaction stops
 * its partition; one of an aborted transaction is skipped, unseen.
 *
 * On a durable topic a position older than the ring's oldest record is
 * read from the disk replica's files first (history.c), then the ring.
 *
 * A single-writer topic's ring is written by its writer, who may change
 * any byte at any moment.  Its lengths are read in place only to bound how
 * much to copy; the run is copied into the consumer's own buffer and every
 * record is checked there (length, key, partition, offset going on by one,
 * the producer's flags only), and the copy is what the caller gets, so
 * nothing it reads can change under it.  A record that does not hold stops
 * the consumer with -EBADMSG.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

#define CONSUMER_BURST		64	/* records from one partition in a row */
#define CONSUMER_KICK_EVERY	64	/* releases between wake-up checks */
#define CONSUMER_COPY_BUF	(256 * 1024)
/*
 * Laps one call may take (consumer_call_begin()): times it finds the tail
 * moved past the record it was reading and tries again.  Then it returns
 * nothing, as when no record is ready, and the caller's next wait (at
 * once: the ring has records) and peek go on.  An honest writer laps a
 * reader only by overwriting that record within the few loads between the
 * reader's two looks at the tail, so 8 in a row hardly ever happen, and
 * cost one more call when they do;
 * a single writer moves the tail itself and could do it at every look,
 * keeping the caller inside the library for ever.  8 bounds that to 8 walks
 * of a run (at most CONSUMER_BURST records each) per call.
 */
#define CONSUMER_MAX_LAPS	8
/*
 * Records one call may skip, expired or of an aborted transaction, before
 * it returns nothing as above.  Skipping is cheap, but a writer can make
 * such records as fast as we pass them (a single writer in its own ring, a
 * producer appending ones already expired), and a reader that only ever
 * skipped would never return.  4096 is some 64 runs of CONSUMER_BURST: a
 * ring full of honest expired records costs an empty peek per 4096.
 */
#define CONSUMER_MAX_SKIPS	4096

struct consumer_part {
	void			*map;		/* the ring, read-only */
	const u64_shared	*head;
	const u64_shared	*tail;
	const uint32_t		*flags;
	const u64_shared	*ttl;		/* the topic's TTL, or NULL */
	const char		*data;
	u64_shared		*pos;		/* ours, read by the kernel */
	uint64_t		next_offset;	/* what we expect to read next */
	uint64_t		committed;	/* a member's last commit */
	struct mqdev_history	*hist;		/* reading from disk first */
	bool			subscribed;
	bool			holding;
};

struct mqdev_consumer {
	int			fd;
	bool			copy;
	bool			replica;	/* keeps every record, expired too */
	struct mqdev_attach	attach;
	uint64_t		mask;
	void			*cons;		/* position page */
	struct consumer_part	*parts;
	uint32_t		cur;		/* partition being read */
	uint32_t		burst;
	unsigned int		busy_usec;
	uint32_t		fetch_min;	/* bytes to wake for, or 0 */
	bool			no_wait_ioctl;	/* an older kernel: poll(2) */
	bool			wait_send;	/* MQDEV_WAIT_SEND */
	uint64_t		lost;
	uint64_t		aborted;
	uint64_t		expired;
	int			error;
	const uint32_t		*txn_states;	/* the transaction table */
	struct mqdev_verifier	*verifier;
	unsigned int		unkicked;	/* holding releases not checked */
	unsigned int		laps;		/* this call's: CONSUMER_MAX_LAPS */
	unsigned int		skips;		/* this call's: CONSUMER_MAX_SKIPS */
	bool			sw;		/* a single writer's: shadowed */

	/* a member of a consumer group */
	bool			member;
	uint32_t		generation;
	unsigned int		commit_ms;	/* auto-commit interval, or 0 */
	uint64_t		commit_due;	/* usec */

	/* the run of records handed out by peek, all of one partition */
	const struct mqdev_record *held;	/* its first */
	uint32_t		held_part;
	uint32_t		held_count;
	uint64_t		held_pos;	/* of the first, in place */
	uint64_t		held_end;	/* after the last: ring or buf */
	uint64_t		held_next;	/* the offset after the last */

	bool			held_hist;	/* the run is from disk */
	uint32_t		hists;		/* partitions read from disk */
	const char		*data_dir;	/* durable: history's, or NULL */

	/* MQDEV_CONSUMER_COPY */
	char			*buf;
	size_t			buf_size;
	size_t			buf_len;
	size_t			buf_off;
};

/* The partition's topic's TTL now, from the control page: 0 is none. */
static inline uint64_t part_ttl(const struct consumer_part *cp)
{
	return cp->ttl ? __atomic_load_n(cp->ttl, __ATOMIC_RELAXED) : 0;
}

static bool record_sane(const struct mqdev_consumer *c, uint32_t len)
{
	return len >= sizeof(struct mqdev_record) &&
	       len <= c->attach.max_record;
}

MQDEV_EXPORT int mqdev_consumer_new(const char *topic,
				    const struct mqdev_consumer_opts *opts,
				    struct mqdev_consumer **consumer)
{
	struct mqdev_consumer *c;
	const struct mqdev_ring_offsets *off;
	uint64_t features;
	uint32_t flags;
	int err;

	if (!OPTS_VALID(opts, mqdev_consumer_opts))
		return -EINVAL;
	flags = OPTS_GET(opts, flags, 0);
	if (flags & ~(MQDEV_CONSUMER_COPY | MQDEV_CONSUMER_REPLICA))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->copy = flags & MQDEV_CONSUMER_COPY;
	c->replica = flags & MQDEV_CONSUMER_REPLICA;
	c->busy_usec = OPTS_GET(opts, busy_poll_usec, 0);
	c->fetch_min = OPTS_GET(opts, fetch_min, 0);
	c->commit_ms = OPTS_GET(opts, auto_commit_ms, 0);
	c->verifier = OPTS_GET(opts, verifier, NULL);
	c->data_dir = OPTS_GET(opts, data_dir, NULL);
	c->fd = mqdev_attach_fd(topic, MQDEV_ATTACH_CONSUME |
				(flags & MQDEV_CONSUMER_REPLICA ?
				 MQDEV_ATTACH_REPLICA : 0), O_NONBLOCK,
				&c->attach);
	if (c->fd < 0) {
		err = c->fd;
		goto err_free;
	}
	/* History from disk, for the consumers of a durable topic. */
	if ((c->attach.topic_flags & MQDEV_TOPIC_DURABLE) &&
	    !(flags & MQDEV_CONSUMER_REPLICA))
		c->data_dir = mqdev_history_dir(c->data_dir);
	else
		c->data_dir = NULL;
	/* A kernel from before MQDEV_IOC_WAIT: sleep in poll(2) instead. */
	features = mqdev_features(c->fd);
	c->no_wait_ioctl = !(features & MQDEV_FEAT_WAIT);
	c->wait_send = features & MQDEV_FEAT_WAIT_SEND;
	off = &c->attach.off;
	c->mask = off->data_size - 1;
	c->parts = calloc(c->attach.partitions, sizeof(*c->parts));
	if (!c->parts) {
		err = -ENOMEM;
		goto err_close;
	}

	c->sw = c->attach.topic_flags & MQDEV_TOPIC_SINGLE_WRITER;
	/* read(2) is refused on them: what it copies could change under it. */
	if (c->copy && c->sw) {
		err = -EOPNOTSUPP;
		goto err_free_parts;
	}
	if (c->copy || c->sw) {
		c->buf_size = c->attach.max_record > CONSUMER_COPY_BUF ?
			      c->attach.max_record : CONSUMER_COPY_BUF;
		c->buf = malloc(c->buf_size);
		if (!c->buf) {
			err = -ENOMEM;
			goto err_free_parts;
		}
	}
	if (!c->copy) {
		c->cons = mmap(NULL, off->cons_size, PROT_READ | PROT_WRITE,
			       MAP_SHARED, c->fd, off->cons_mmap);
		if (c->cons == MAP_FAILED) {
			err = -errno;
			goto err_free_parts;
		}
	}
	*consumer = c;
	return 0;

err_free_parts:
	free(c->buf);
	free(c->parts);
err_close:
	close(c->fd);
err_free:
	free(c);
	return err;
}

MQDEV_EXPORT void mqdev_consumer_free(struct mqdev_consumer *c)
{
	const struct mqdev_ring_offsets *off;
	uint32_t i;

	if (!c)
		return;
	off = &c->attach.off;
	for (i = 0; i < c->attach.partitions; i++) {
		if (c->parts[i].map)
			munmap(c->parts[i].map, off->ring_size);
		mqdev_history_free(c->parts[i].hist);
	}
	if (c->cons)
		munmap(c->cons, off->cons_size);
	if (c->txn_states)
		munmap((void *)c->txn_states, off->txn_size);
	free(c->buf);
	free(c->parts);
	close(c->fd);
	free(c);
}

MQDEV_EXPORT int mqdev_consumer_fd(const struct mqdev_consumer *c)
{
	return c->fd;
}

MQDEV_EXPORT uint32_t mqdev_consumer_partitions(const struct mqdev_consumer *c)
{
	return c->attach.partitions;
}

MQDEV_EXPORT uint64_t mqdev_consumer_lost(const struct mqdev_consumer *c)
{
	return c->lost;
}

MQDEV_EXPORT uint64_t mqdev_consumer_aborted(const struct mqdev_consumer *c)
{
	return c->aborted;
}

MQDEV_EXPORT uint64_t mqdev_consumer_expired(const struct mqdev_consumer *c)
{
	return c->expired;
}

MQDEV_EXPORT int mqdev_consumer_error(const struct mqdev_consumer *c)
{
	return c->error;
}

MQDEV_EXPORT uint64_t mqdev_consumer_position(const struct mqdev_consumer *c,
					      uint32_t partition)
{
	return partition < c->attach.partitions ?
	       c->parts[partition].next_offset : 0;
}

static int consumer_map(struct mqdev_consumer *c, uint32_t p)
{
	const struct mqdev_ring_offsets *off = &c->attach.off;
	struct consumer_part *cp = &c->parts[p];
	char *ring;

	if (c->copy || cp->map)
		return 0;
	ring = mmap(NULL, off->ring_size, PROT_READ, MAP_SHARED, c->fd,
		    off->ring_mmap + p * off->part_stride);
	if (ring == MAP_FAILED)
		return -errno;
	cp->map = ring;
	cp->head = (const u64_shared *)(ring + off->head);
	cp->tail = (const u64_shared *)(ring + off->tail);
	cp->flags = (const uint32_t *)(ring + off->flags);
	/* An older kernel has no TTL to say: 0 */
	cp->ttl = off->ttl ? (const u64_shared *)(ring + off->ttl) : NULL;
	cp->data = ring + off->data;
	cp->pos = (u64_shared *)((char *)c->cons + off->cons_pos +
			       p * off->cons_stride);
	return 0;
}

static void history_stop(struct mqdev_consumer *c, uint32_t p)
{
	if (c->parts[p].hist)
		c->hists--;
	mqdev_history_free(c->parts[p].hist);
	c->parts[p].hist = NULL;
}

/* The oldest offset partition @p's ring keeps now, or -errno. */
static int64_t ring_first(struct mqdev_consumer *c, uint32_t p)
{
	struct mqdev_partition_info *pi;
	struct mqdev_topic_info info;
	int64_t first;
	int err;

	pi = calloc(c->attach.partitions, sizeof(*pi));
	if (!pi)
		return -ENOMEM;
	err = mqdev_topic_describe(c->fd, c->attach.name, &info, pi,
				   c->attach.partitions);
	first = err ? err : (int64_t)pi[p].first_offset;
	free(pi);
	return first;
}

/*
 * Read partition @p from disk from offset @from on, if the ring no longer
 * has it: *@landed becomes where the reader starts.  No history on disk is
 * no error: the reader starts in the ring.
 */
static int history_start(struct mqdev_consumer *c, uint32_t p, uint64_t from,
			 uint64_t *landed)
{
	struct mqdev_history *h;
	int64_t first;
	int err;

	history_stop(c, p);
	if (!c->data_dir)
		return 0;
	first = ring_first(c, p);
	if (first < 0)
		return first;
	if (from >= (uint64_t)first)
		return 0;
	err = mqdev_history_open(c->data_dir, c->attach.name, p, &from, first,
				 &h);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	if (mqdev_history_done(h)) {
		mqdev_history_free(h);
		return 0;
	}
	c->parts[p].hist = h;
	c->hists++;
	*landed = from;
	return 0;
}

/*
 * The history reached the ring's oldest record as it was: if the ring moved
 * on meanwhile, read on from disk to where it begins now.  True if it did.
 */
static bool history_extend(struct mqdev_consumer *c, uint32_t p)
{
	int64_t first = ring_first(c, p);

	return first > 0 && !mqdev_history_extend(c->parts[p].hist, first);
}

static int consumer_seek_one(struct mqdev_consumer *c, uint32_t p,
			     uint32_t whence, uint64_t offset, uint32_t flags,
			     uint64_t *landed)
{
	struct mqdev_seek req = {
		.partition = p,
		.whence = whence,
		.offset = offset,
		.flags = flags,
	};
	uint64_t landed_at;
	int err;

	err = consumer_map(c, p);
	if (err)
		return err;
	err = mqdev_ioctl(c->fd, MQDEV_IOC_SEEK, &req);
	if (err)
		return err;
	landed_at = req.offset;
	if (whence == MQDEV_SEEK_EARLIEST || whence == MQDEV_SEEK_OFFSET) {
		err = history_start(c, p, whence == MQDEV_SEEK_OFFSET ?
				    offset : 0, &landed_at);
		if (err)
			return err;
	} else {
		history_stop(c, p);
	}
	req.offset = landed_at;
	c->parts[p].next_offset = req.offset;
	c->parts[p].subscribed = true;
	c->parts[p].holding = flags & MQDEV_SEEK_HOLD;
	if (landed)
		*landed = req.offset;
	return 0;
}

MQDEV_EXPORT int mqdev_consumer_seek(struct mqdev_consumer *c,
				     uint32_t partition, uint32_t whence,
				     uint64_t offset, uint32_t flags,
				     uint64_t *landed)
{
	uint32_t p;
	int err;

	if (c->held)
		return -EBUSY;
	/* Records already copied out are from before the seek. */
	c->buf_len = c->buf_off = 0;
	if (partition != MQDEV_PARTITION_ALL) {
		err = consumer_seek_one(c, partition, whence, offset, flags,
					landed);
	} else if (whence == MQDEV_SEEK_OFFSET) {
		return -EINVAL;
	} else {
		for (p = 0, err = 0; !err && p < c->attach.partitions; p++)
			err = consumer_seek_one(c, p, whence, offset, flags,
						NULL);
	}
	/* A single writer's bad record is behind: read on from there. */
	if (!err && c->error == -EBADMSG)
		c->error = 0;
	return err;
}

static void consumer_note_offset(struct mqdev_consumer *c, uint32_t p,
				 uint64_t offset)
{
	struct consumer_part *cp = &c->parts[p];

	if (offset > cp->next_offset)
		c->lost += offset - cp->next_offset;
	cp->next_offset = offset;
}

/* Mapped the first time a transaction's record is met. */
static const uint32_t *consumer_txn_states(struct mqdev_consumer *c)
{
	const struct mqdev_ring_offsets *off = &c->attach.off;
	void *map;

	if (c->txn_states || !off->txn_size)
		return c->txn_states;
	map = mmap(NULL, off->txn_size, PROT_READ, MAP_SHARED, c->fd,
		   off->txn_mmap);
	if (map == MAP_FAILED) {
		c->error = -errno;
		return NULL;
	}
	c->txn_states = map;
	return map;
}

/*
 * What to do with @rec: 0 deliver it, MQDEV_TXN_OPEN wait (its transaction
 * is undecided), MQDEV_TXN_ABORT skip it.
 */
static uint32_t record_txn_state(struct mqdev_consumer *c,
				 const struct mqdev_record *rec)
{
	const uint16_t done = MQDEV_RECORD_COMMITTED | MQDEV_RECORD_ABORTED;
	uint16_t flags = __atomic_load_n(&rec->flags, __ATOMIC_RELAXED);
	const uint32_t *states;
	uint32_t state;
	uint16_t slot;

	if (!(flags & MQDEV_RECORD_TXN) || (flags & done))
		return flags & MQDEV_RECORD_ABORTED ? MQDEV_TXN_ABORT : 0;
	states = consumer_txn_states(c);
	slot = __atomic_load_n(&rec->txn, __ATOMIC_RELAXED);
	if (!states)
		return MQDEV_TXN_OPEN;
	if (slot >= c->attach.off.txn_slots)
		return MQDEV_TXN_ABORT;
	/* Pairs with smp_store_release() in txn_decide() and txn_unslot(). */
	state = __atomic_load_n(&states[slot], __ATOMIC_ACQUIRE);
	/* Marked meanwhile: the slot may be another transaction's by now. */
	flags = __atomic_load_n(&rec->flags, __ATOMIC_RELAXED);
	if (flags & done)
		return flags & MQDEV_RECORD_ABORTED ? MQDEV_TXN_ABORT : 0;
	if (state == MQDEV_TXN_OPEN || state == MQDEV_TXN_COMMIT)
		return state == MQDEV_TXN_OPEN ? MQDEV_TXN_OPEN : 0;
	return MQDEV_TXN_ABORT;
}

/*
 * A durable topic's ring moved on past a reader that fell behind (its
 * records were safe: see ring_hold_limit()): read what it missed from the
 * disk replica's history, from where it stood, then the ring from its
 * tail.  True if the history took over.
 */
static bool consumer_lapped_to_history(struct mqdev_consumer *c, uint32_t p,
				       uint64_t tail)
{
	struct consumer_part *cp = &c->parts[p];
	uint64_t landed;

	if (!c->data_dir || cp->hist ||
	    history_start(c, p, cp->next_offset, &landed) || !cp->hist)
		return false;
	/* Pairs with READ_ONCE() in the kernel's ring_hold_limit(). */
	__atomic_store_n(cp->pos, tail, __ATOMIC_RELEASE);
	return true;
}

/* Lapped once more in this call: may the partition be tried again? */
static bool consumer_may_lap(struct mqdev_consumer *c)
{
	return ++c->laps <= CONSUMER_MAX_LAPS;
}

/* May this call skip more records (consumer_skip())? */
static bool consumer_may_skip(const struct mqdev_consumer *c)
{
	return c->skips < CONSUMER_MAX_SKIPS;
}

/*
 * The record at the reader's position in partition @p, at least the tail,
 * with its length, offset and transaction state read before the tail is
 * checked again (a record overwritten meanwhile is read anew); or NULL.
 */
static const struct mqdev_record *ring_next(struct mqdev_consumer *c,
					    uint32_t p, uint64_t *posp,
					    uint32_t *state)
{
	struct consumer_part *cp = &c->parts[p];
	const struct mqdev_record *rec;
	uint64_t pos = *cp->pos, head, tail;
	uint64_t offset;
	uint32_t len;

	/* Pairs with smp_store_release() in the kernel's ring_publish(). */
	head = __atomic_load_n(cp->head, __ATOMIC_ACQUIRE);
	for (;;) {
		if (pos >= head)
			return NULL;
		tail = __atomic_load_n(cp->tail, __ATOMIC_RELAXED);
		if (pos < tail && consumer_lapped_to_history(c, p, tail))
			return NULL;	/* the disk first: see consumer_take() */
		if (pos < tail)
			pos = tail;		/* lapped: go on from the oldest */
		if (pos >= head)
			return NULL;
		rec = (const void *)(cp->data + (pos & c->mask));
		len = __atomic_load_n(&rec->len, __ATOMIC_RELAXED);
		offset = __atomic_load_n(shared_ro(&rec->offset),
					 __ATOMIC_RELAXED);
		*state = record_txn_state(c, rec);
		/* Pairs with smp_wmb() in ring_publish_tail(). */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(cp->tail, __ATOMIC_RELAXED) <= pos)
			break;
		if (!consumer_may_lap(c))
			return NULL;	/* the next call goes on from the tail */
	}
	if (!record_sane(c, len) || pos + MQDEV_RECORD_SPACE(len) > head) {
		c->error = -EIO;
		return NULL;
	}
	if (pos != *cp->pos)
		__atomic_store_n(cp->pos, pos, __ATOMIC_RELAXED);
	consumer_note_offset(c, p, offset);
	*posp = pos;
	return rec;
}

/*
 * An aborted record goes by unseen, but its sequence number was used; so
 * does an expired one (MQDEV_RECORD_EXPIRES past now), which read(2) too
 * leaves out.
 */
static void consumer_skip(struct mqdev_consumer *c, uint32_t p,
			  const struct mqdev_record *rec, bool expired)
{
	if (expired)
		c->expired++;
	else
		c->aborted++;
	c->skips++;
	c->parts[p].next_offset = rec->offset + 1;
	if (c->verifier)
		mqdev_verifier_check(c->verifier, rec);
}

/*
 * Has @rec of partition @p expired: past its own expiry, or older than the
 * topic's TTL (in the ring's control page, where the kernel keeps it)?
 */
static bool record_expired_slow(const struct mqdev_consumer *c, uint32_t p,
				const struct mqdev_record *rec)
{
	uint64_t expires, now, ttl = part_ttl(&c->parts[p]);

	/* A replica keeps the log whole: its readers decide later. */
	if (c->replica)
		return false;
	expires = mqdev_record_expiry(rec);
	if (!expires && !ttl)
		return false;
	now = mqdev_realtime_ns();
	return (expires && expires <= now) ||
	       mqdev_ttl_passed(rec->timestamp, ttl, now);
}

/*
 * Most records: no TTL and no expiry of their own, decided here, inline,
 * without a call that saves registers and sets up a stack frame.
 */
static inline bool record_expired(const struct mqdev_consumer *c,
				  uint32_t p, const struct mqdev_record *rec)
{
	if (!(rec->flags & MQDEV_RECORD_EXPIRES) && !part_ttl(&c->parts[p]))
		return false;
	return record_expired_slow(c, p, rec);
}

/* The next record of partition @p in place, or NULL. */
static const struct mqdev_record *peek_ring(struct mqdev_consumer *c,
					    uint32_t p)
{
	const struct mqdev_record *rec;
	uint32_t state;
	uint64_t pos;

	for (;;) {
		rec = ring_next(c, p, &pos, &state);
		if (!rec || state == MQDEV_TXN_OPEN)
			return NULL;
		if (state == 0 && !record_expired(c, p, rec))
			break;
		if (!consumer_may_skip(c))
			return NULL;	/* the next call goes on */
		consumer_skip(c, p, rec, state == 0);
		/* Pairs with READ_ONCE() in ring_hold_limit(): done with it. */
		__atomic_store_n(c->parts[p].pos,
				 pos + MQDEV_RECORD_SPACE(rec->len),
				 __ATOMIC_RELEASE);
	}
	c->held_pos = pos;
	return rec;
}

/* The next record read with read(2), or NULL. */
static const struct mqdev_record *peek_copy(struct mqdev_consumer *c)
{
	const struct mqdev_record *rec;
	ssize_t n;

	if (c->buf_off >= c->buf_len) {
		n = read(c->fd, c->buf, c->buf_size);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN)
				c->error = -errno;
			return NULL;
		}
		c->buf_len = n;
		c->buf_off = 0;
	}
	rec = (const void *)(c->buf + c->buf_off);
	if (!record_sane(c, rec->len) || rec->partition >= c->attach.partitions) {
		c->error = -EIO;
		return NULL;
	}
	consumer_note_offset(c, rec->partition, rec->offset);
	c->held_part = rec->partition;
	return rec;
}

/* The next record read with read(2) that was not aborted, or NULL. */
static const struct mqdev_record *peek_copy_visible(struct mqdev_consumer *c)
{
	const struct mqdev_record *rec;

	while ((rec = peek_copy(c)) && (rec->flags & MQDEV_RECORD_ABORTED)) {
		if (!consumer_may_skip(c))
			return NULL;	/* the next call goes on */
		consumer_skip(c, rec->partition, rec, false);
		c->buf_off += MQDEV_RECORD_SPACE(rec->len);
	}
	return rec;
}

/*
 * Was the run from held_pos overwritten while it was walked?  Its lengths
 * were read first; the tail, read after, says.
 */
static bool run_lapped(const struct mqdev_consumer *c,
		       const struct consumer_part *cp)
{
	/* Pairs with smp_wmb() in ring_publish_tail(). */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(cp->tail, __ATOMIC_RELAXED) > c->held_pos;
}

/*
 * The records after @first in partition @p's ring that can go out with it,
 * into @recs[1..max-1]: up to head, ending before any record of a
 * transaction (peek_ring() decides those one at a time) or a gap in the
 * offsets (which the next peek counts as lost).  Their lengths are
 * read before the tail is checked once for the whole run, as ring_next()
 * does for one record.  Returns the run's length, 0 if it was overwritten
 * under us; held_end and held_next describe its end.
 */
static unsigned int ring_run(struct mqdev_consumer *c, uint32_t p,
			     const struct mqdev_record **recs,
			     unsigned int max)
{
	const struct consumer_part *cp = &c->parts[p];
	const struct mqdev_record *rec = recs[0];
	uint64_t pos = c->held_pos + MQDEV_RECORD_SPACE(rec->len), head;
	uint64_t next = rec->offset + 1;
	/*
	 * Per record, in locals: the stores into @recs could alias @c, so
	 * the compiler would load them again for every record.  record_sane()
	 * is one unsigned compare here (a length under the header's wraps;
	 * max_record is at least the header, as @first passed it).
	 */
	const uint64_t mask = c->mask;
	const char *data = cp->data;
	const uint32_t over = c->attach.max_record - sizeof(*rec);
	unsigned int n = 1;
	uint32_t len;

	/* Pairs with smp_store_release() in the kernel's ring_publish(). */
	head = __atomic_load_n(cp->head, __ATOMIC_ACQUIRE);
	for (; n < max && pos < head; n++) {
		rec = (const void *)(data + (pos & mask));
		len = __atomic_load_n(&rec->len, __ATOMIC_RELAXED);
		/* peek_ring() decides these one at a time */
		if ((__atomic_load_n(&rec->flags, __ATOMIC_RELAXED) &
		     (MQDEV_RECORD_TXN | MQDEV_RECORD_EXPIRES)) ||
		    len - (uint32_t)sizeof(*rec) > over ||
		    pos + MQDEV_RECORD_SPACE(len) > head ||
		    __atomic_load_n(shared_ro(&rec->offset),
				    __ATOMIC_RELAXED) != next)
			break;
		next++;
		recs[n] = rec;
		pos += MQDEV_RECORD_SPACE(len);
	}
	if (run_lapped(c, cp))
		return 0;
	c->held_end = pos;
	c->held_next = next;
	return n;
}

/*
 * The records after @first in the read(2) buffer that can go out with it:
 * of its partition, with no gap in the offsets (read(2) leaves out what
 * was overwritten while it copied; the next peek counts that as lost).
 */
static unsigned int copy_run(struct mqdev_consumer *c,
			     const struct mqdev_record **recs,
			     unsigned int max)
{
	const struct mqdev_record *rec = recs[0];
	size_t off = c->buf_off + MQDEV_RECORD_SPACE(rec->len);
	uint64_t next = rec->offset + 1;
	unsigned int n = 1;

	for (; n < max && off + sizeof(*rec) <= c->buf_len; n++) {
		rec = (const void *)(c->buf + off);
		if (rec->partition != c->held_part || rec->offset != next ||
		    (rec->flags & MQDEV_RECORD_ABORTED) ||
		    !record_sane(c, rec->len) || off + rec->len > c->buf_len)
			break;
		next++;
		recs[n] = rec;
		off += MQDEV_RECORD_SPACE(rec->len);
	}
	c->held_end = off;
	c->held_next = next;
	return n;
}

/*
 * From when on partition @p's records are alive whatever its TTL says: 0
 * with no TTL (or for a replica, which keeps the log whole), else the
 * oldest stamp the TTL still lets live now.  History runs stop before an
 * older record, which comes alone to be judged (mqdev_history_take()).
 */
static uint64_t history_live_from(const struct mqdev_consumer *c, uint32_t p)
{
	uint64_t now, ttl = part_ttl(&c->parts[p]);

	if (c->replica || !ttl)
		return 0;
	now = mqdev_realtime_ns();
	/* Passed when stamp <= now - ttl (mqdev_ttl_passed()). */
	return now < ttl ? 0 : now - ttl + 1;
}

/*
 * Is @rec, taken from history by a take that cut at @live_from, not to be
 * handed out: aborted, past the TTL as that take judged it (the take's
 * reading of the clock, so the two agree), or past an expiry of its own?
 */
static bool history_dead(const struct mqdev_consumer *c,
			 const struct mqdev_record *rec, uint64_t live_from)
{
	uint64_t expires;

	if ((rec->flags & MQDEV_RECORD_ABORTED) || rec->timestamp < live_from)
		return true;
	/* A replica keeps the log whole: its readers decide later. */
	if (c->replica || !(rec->flags & MQDEV_RECORD_EXPIRES))
		return false;
	expires = mqdev_record_expiry(rec);
	return expires && expires <= mqdev_realtime_ns();
}

/*
 * A run from the first partition still reading its history, which goes
 * before anything from the rings: how many (0: none is).  Aborted and
 * expired records are skipped as in the ring; a take leaves them alone
 * (mqdev_history_take()), so a run holds none.
 */
static unsigned int history_run(struct mqdev_consumer *c,
				const struct mqdev_record **recs,
				unsigned int max)
{
	struct consumer_part *cp;
	uint64_t live_from;
	bool extended;
	uint32_t p;
	int n;

	/* Before every take: one load, not a walk of the partitions. */
	if (!c->hists)
		return 0;
	for (p = 0; p < c->attach.partitions; p++) {
		cp = &c->parts[p];
		extended = false;
		while (cp->hist && cp->subscribed) {
			if (!consumer_may_skip(c))
				return 0;	/* the next call goes on */
			live_from = history_live_from(c, p);
			n = mqdev_history_take(cp->hist, recs, max, live_from);
			if (n < 0) {
				c->error = n;
				return 0;
			}
			/*
			 * Done: read on towards the ring's oldest record, once.
			 * Still nothing: the disk ends before it (segments
			 * removed), and the ring goes on from its oldest.
			 */
			if (!n && !extended && history_extend(c, p)) {
				extended = true;
				continue;
			}
			if (!n) {
				history_stop(c, p);
				break;
			}
			extended = false;
			consumer_note_offset(c, p, recs[0]->offset);
			/* Only a record that may be dead comes alone. */
			if (n == 1 && history_dead(c, recs[0], live_from)) {
				consumer_skip(c, p, recs[0], !(recs[0]->flags &
						MQDEV_RECORD_ABORTED));
				continue;
			}
			c->held_hist = true;
			c->held_part = p;
			c->held_next = recs[n - 1]->offset + 1;
			return n;
		}
	}
	return 0;
}

/*
 * Skip the @gone expired records that lead the run held in our buffer,
 * @lead bytes of it: counted, and the position moved past them.
 */
static void sw_skip(struct mqdev_consumer *c, unsigned int gone,
		    uint64_t lead)
{
	const struct mqdev_record *d;
	uint64_t at;

	for (at = 0; gone--; at += MQDEV_RECORD_SPACE(d->len)) {
		d = (const void *)(c->buf + at);
		consumer_skip(c, c->held_part, d, true);
	}
	c->held_pos += lead;
	/* Pairs with READ_ONCE() in ring_hold_limit(): done with them. */
	__atomic_store_n(c->parts[c->held_part].pos, c->held_pos,
			 __ATOMIC_RELEASE);
}

/*
 * The run of a single writer's partition from held_pos to held_end, at most
 * @n records, copied into our buffer in one go (it is contiguous in the
 * doubly mapped ring) and judged there, once: each length within the copy,
 * each record of the partition, its key within it, offsets one by one (the
 * first, after a jump to the tail, any later one: @jumped), the producer's
 * flags only.  Expiry is judged there too (see peek_ring()): expired
 * records that lead the run are skipped (*@skipped), one after a record
 * kept ends it.  @recs then point into the copy.  Returns how many records
 * are kept, or -EAGAIN if the writer reused any of the run's bytes
 * meanwhile.
 */
static int sw_shadow(struct mqdev_consumer *c,
		     const struct mqdev_record **recs, unsigned int n,
		     bool jumped, bool *skipped)
{
	struct consumer_part *cp = &c->parts[c->held_part];
	uint64_t next = cp->next_offset, bytes = c->held_end - c->held_pos;
	uint64_t start = c->held_pos, at = 0, lead = 0;
	unsigned int i, kept = 0, gone = 0;
	const struct mqdev_record *d;
	uint32_t len;
	bool ttl;

	/* Never past the mapping: at most the ring, from within its first. */
	if (bytes > c->buf_size)
		bytes = c->buf_size;
	if (bytes > c->mask + 1)
		bytes = c->mask + 1;
	memcpy(c->buf, cp->data + (start & c->mask), bytes);
	/* No clock to read for a record with no expiry in a topic with no TTL. */
	ttl = part_ttl(cp) != 0;
	if (jumped && bytes >= sizeof(*d) &&
	    ((const struct mqdev_record *)c->buf)->offset > next)
		next = ((const struct mqdev_record *)c->buf)->offset;
	for (i = 0; i < n; i++) {
		d = (const void *)(c->buf + at);
		if (bytes - at < sizeof(*d))
			break;
		len = d->len;
		if (!record_sane(c, len) || MQDEV_RECORD_SPACE(len) > bytes - at ||
		    d->key_len > len - sizeof(*d) ||
		    d->partition != c->held_part || d->offset != next ||
		    (d->flags & ~MQDEV_RECORD_PRODUCER_FLAGS))
			break;
		if ((!ttl && !(d->flags & MQDEV_RECORD_EXPIRES)) ||
		    !record_expired_slow(c, c->held_part, d))
			recs[kept++] = d;
		else if (kept)
			break;
		else
			gone++;
		at += MQDEV_RECORD_SPACE(len);
		next++;
		if (gone && !kept)
			lead = at;
	}
	/* Pairs with the writer's release fence after it moves tail. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	/*
	 * Reused while we copied: the copy may be torn, whatever it says;
	 * the caller never sees it.  Try again from the tail.
	 */
	if (__atomic_load_n(cp->tail, __ATOMIC_RELAXED) > start)
		return -EAGAIN;
	if (!i) {
		c->error = -EBADMSG;
		return 0;
	}
	/* What the tail jumped over, counted once the first record held. */
	consumer_note_offset(c, c->held_part, next - i);
	if (gone) {
		sw_skip(c, gone, lead);
		*skipped = true;
	}
	c->held_end = start + at;
	c->held_next = next;
	return kept;
}

/*
 * A single writer's next run in partition @p, up to @max records.  How far
 * it reaches is read in place, from lengths its writer may change at any
 * moment, only to bound the copy (by head, and by sw_shadow() by our
 * buffer); sw_shadow() then judges the copy.  A first length that is no
 * length in place leaves the copy to say why: overwritten, or bad.
 * Returns as sw_shadow(), 0 if there is nothing to read.
 */
static int sw_peek_run(struct mqdev_consumer *c, uint32_t p,
		       const struct mqdev_record **recs, unsigned int max,
		       bool *skipped)
{
	struct consumer_part *cp = &c->parts[p];
	/* record_sane() as one unsigned compare: see ring_run(). */
	const uint32_t over = c->attach.max_record -
			      sizeof(struct mqdev_record);
	uint64_t pos = *cp->pos, head, tail, end;
	unsigned int n;
	bool jumped;
	uint32_t len;

	/* Pairs with the writer's release store of head. */
	head = __atomic_load_n(cp->head, __ATOMIC_ACQUIRE);
	tail = __atomic_load_n(cp->tail, __ATOMIC_RELAXED);
	/*
	 * Lapped: go on from the oldest.  Our position moves there only with
	 * a record checked there (release(), sw_skip()): a tail the writer
	 * put anywhere for a moment must not strand us.
	 */
	jumped = pos < tail;
	if (jumped)
		pos = tail;
	if (pos >= head)
		return 0;
	for (n = 0, end = pos; n < max && end < head; n++) {
		len = __atomic_load_n(&((const struct mqdev_record *)
					(cp->data + (end & c->mask)))->len,
				      __ATOMIC_RELAXED);
		if (len - (uint32_t)sizeof(struct mqdev_record) > over ||
		    end + MQDEV_RECORD_SPACE(len) > head)
			break;
		end += MQDEV_RECORD_SPACE(len);
	}
	c->held_part = p;
	c->held_pos = pos;
	c->held_end = n ? end : head;
	return sw_shadow(c, recs, n ? n : 1, jumped, skipped);
}

/*
 * The next record of partition @p in place and the run after it, up to
 * @max records.  Returns how many, 0 if none, -EAGAIN if the run was
 * overwritten under us.
 */
static int ring_peek_run(struct mqdev_consumer *c, uint32_t p,
			 const struct mqdev_record **recs, unsigned int max)
{
	unsigned int n;

	recs[0] = peek_ring(c, p);
	if (!recs[0])
		return 0;
	c->held_part = p;
	n = ring_run(c, p, recs, max);
	return n ? (int)n : -EAGAIN;
}

/*
 * The next run in place: from the partition whose turn it is, or the next.
 * *@skipped: a single writer's expired records went by (sw_shadow()).
 */
static unsigned int peek_ring_run(struct mqdev_consumer *c,
				  const struct mqdev_record **recs,
				  unsigned int max, bool *skipped)
{
	uint32_t n = c->attach.partitions, i, p;
	unsigned int most;
	int got;

	if (c->burst >= CONSUMER_BURST) {
		c->burst = 0;
		c->cur = c->cur + 1 < n ? c->cur + 1 : 0;
	}
	/* Partitions in turn from cur, without a division for each. */
	for (i = 0, p = c->cur; i < n && !c->error && consumer_may_skip(c);
	     i++, p = p + 1 < n ? p + 1 : 0) {
		if (!c->parts[p].subscribed)
			continue;
		most = CONSUMER_BURST - (p == c->cur ? c->burst : 0);
		if (most > max)
			most = max;
		got = c->sw ? sw_peek_run(c, p, recs, most, skipped) :
			      ring_peek_run(c, p, recs, most);
		if (got > 0) {
			if (p != c->cur)
				c->burst = 0;
			c->cur = p;
			return got;
		}
		if (got == -EAGAIN && consumer_may_lap(c)) {
			i--;		/* lapped meanwhile: this one again */
			p = p ? p - 1 : n - 1;
		}
	}
	return 0;
}

/* A call of the API begins: its laps and skips are bounded anew. */
static void consumer_call_begin(struct mqdev_consumer *c)
{
	c->laps = 0;
	c->skips = 0;
}

/*
 * Take the next run of up to @max records, or none; how many.  Within a
 * call's bounds: consumer_call_begin().
 */
static unsigned int consumer_take(struct mqdev_consumer *c,
				  const struct mqdev_record **recs,
				  unsigned int max)
{
	unsigned int n = 0, i;
	bool skipped;

	if (c->error)
		return 0;
	n = history_run(c, recs, max);
	/* Stopped by the bound with history left: nothing may pass it. */
	if (!n && c->hists && !consumer_may_skip(c))
		return 0;
	if (!n && c->copy) {
		recs[0] = peek_copy_visible(c);
		if (recs[0])
			n = copy_run(c, recs, max);
	} else if (!n) {
		do {
			skipped = false;
			n = peek_ring_run(c, recs, max, &skipped);
		} while (!n && skipped && consumer_may_skip(c) && !c->error);
		/* A reader the ring lapped reads the disk first. */
		if (!n)
			n = history_run(c, recs, max);
	}
	if (!n)
		return 0;
	c->held = recs[0];
	c->held_count = n;
	for (i = 0; c->verifier && i < n; i++)
		mqdev_verifier_check(c->verifier, recs[i]);
	return n;
}

MQDEV_EXPORT const struct mqdev_record *
mqdev_consumer_peek(struct mqdev_consumer *c)
{
	const struct mqdev_record *rec;

	if (c->held)
		return c->held;
	consumer_call_begin(c);
	return consumer_take(c, &rec, 1) ? rec : NULL;
}

MQDEV_EXPORT int mqdev_consumer_peek_batch(struct mqdev_consumer *c,
					   const struct mqdev_record **recs,
					   unsigned int max)
{
	if (c->held)
		return -EBUSY;
	if (!max)
		return -EINVAL;
	consumer_call_begin(c);
	return consumer_take(c, recs, max);
}

/* A holding reader moved on: wake a producer that waits for the room. */
static void consumer_moved(struct mqdev_consumer *c, uint32_t p)
{
	struct mqdev_wakeup req = { .partition = p };

	/* Pairs with smp_mb__after_atomic() in ring_reserve_or_arm(). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(c->parts[p].flags, __ATOMIC_RELAXED) &
	    MQDEV_RING_NEED_WAKEUP)
		mqdev_ioctl(c->fd, MQDEV_IOC_WAKEUP, &req);
}

static void consumer_kick_all(struct mqdev_consumer *c)
{
	uint32_t p;

	if (!c->unkicked)
		return;
	c->unkicked = 0;
	for (p = 0; p < c->attach.partitions; p++)
		if (c->parts[p].holding && c->parts[p].flags)
			consumer_moved(c, p);
}

MQDEV_EXPORT int mqdev_consumer_release(struct mqdev_consumer *c)
{
	struct consumer_part *cp;

	if (!c->held)
		return -EINVAL;
	c->held = NULL;
	cp = &c->parts[c->held_part];
	if (c->held_hist) {
		c->held_hist = false;
		cp->next_offset = c->held_next;
		return 0;
	}
	if (c->copy) {
		c->buf_off = c->held_end;
		cp->next_offset = c->held_next;
		return 0;
	}

	/* Reused under us?  Not a single writer's copy, whole when handed out. */
	if (!c->sw) {
		/* Pairs with smp_wmb() in ring_publish_tail(). */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(cp->tail, __ATOMIC_RELAXED) > c->held_pos)
			return -ESTALE;	/* the next peek counts them as lost */
	}

	cp->next_offset = c->held_next;
	c->burst += c->held_count;
	/* Pairs with READ_ONCE() in ring_hold_limit(): done with the bytes. */
	__atomic_store_n(cp->pos, c->held_end, __ATOMIC_RELEASE);
	/*
	 * A producer waiting for this room is told every so often, and always
	 * before this consumer sleeps (consumer_kick_all()): not a full
	 * barrier per record.
	 */
	if (cp->holding) {
		c->unkicked += c->held_count;
		if (c->unkicked >= CONSUMER_KICK_EVERY)
			consumer_kick_all(c);
	}
	return 0;
}

/*
 * A hint: partition @p has a record to deliver or skip at its position,
 * and at least @min_bytes of records from there on.
 */
static bool part_ready(struct mqdev_consumer *c, uint32_t p,
		       uint32_t min_bytes)
{
	const struct consumer_part *cp = &c->parts[p];
	/* Pairs with smp_store_release() in the kernel's ring_publish(). */
	uint64_t head = __atomic_load_n(cp->head, __ATOMIC_ACQUIRE);
	uint64_t pos = *cp->pos, tail = __atomic_load_n(cp->tail,
						       __ATOMIC_RELAXED);

	if (pos < tail)
		pos = tail;
	/* A single writer has no transactions: its TXN flag is not looked up. */
	return pos < head && head - pos >= min_bytes &&
	       (c->sw ||
		record_txn_state(c, (const void *)(cp->data + (pos & c->mask))) !=
		MQDEV_TXN_OPEN);
}

static bool consumer_ready(struct mqdev_consumer *c, uint32_t min_bytes)
{
	uint32_t p;

	if (c->held || c->buf_off < c->buf_len)
		return true;
	for (p = 0; c->hists && p < c->attach.partitions; p++)
		if (c->parts[p].hist && c->parts[p].subscribed)
			return true;
	if (c->copy)
		return false;
	for (p = 0; p < c->attach.partitions; p++)
		if (c->parts[p].subscribed && part_ready(c, p, min_bytes))
			return true;
	return false;
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static bool consumer_spin(struct mqdev_consumer *c)
{
	uint64_t end;

	if (!c->busy_usec || c->copy)
		return false;
	end = now_usec() + c->busy_usec;
	do {
		if (consumer_ready(c, c->fetch_min))
			return true;
		cpu_relax();
	} while (now_usec() < end);
	return false;
}

static int consumer_refresh(struct mqdev_consumer *c);
static int consumer_group_tick(struct mqdev_consumer *c);

/* poll(2), for a kernel without MQDEV_IOC_WAIT: POLL* bits, 0, or -errno. */
static int consumer_poll_fd(struct mqdev_consumer *c, int timeout_ms)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN | POLLPRI };
	int n = poll(&pfd, 1, timeout_ms);

	if (n < 0)
		return -errno;
	return n ? pfd.revents : 0;
}

/* MQDEV_IOC_WAIT's request for @timeout_ms (-1: forever) and fetch_min. */
static struct mqdev_wait consumer_wait_req(const struct mqdev_consumer *c,
					   int timeout_ms)
{
	return (struct mqdev_wait) {
		.timeout_ns = timeout_ms < 0 ? MQDEV_WAIT_FOREVER :
			      (uint64_t)timeout_ms * 1000000,
		.min_bytes = c->fetch_min,
	};
}

/*
 * Sleep in MQDEV_IOC_WAIT, whose wake-up heeds fetch_min: POLL* bits, 0
 * when the time ran out, or -errno.
 */
static int consumer_sleep(struct mqdev_consumer *c, int timeout_ms)
{
	struct mqdev_wait req = consumer_wait_req(c, timeout_ms);
	int err;

	if (c->no_wait_ioctl)
		return consumer_poll_fd(c, timeout_ms);
	err = mqdev_ioctl(c->fd, MQDEV_IOC_WAIT, &req);
	if (err == -ETIMEDOUT)
		return 0;
	return err ? err : (int)req.revents;
}

/* What a wait woke for, @revents, as mqdev_consumer_wait() returns it. */
static int consumer_woken(struct mqdev_consumer *c, int revents)
{
	int err;

	if (revents < 0)
		return revents;
	if (revents & POLLPRI) {
		err = consumer_refresh(c);
		return err ? err : 1;
	}
	if (revents & POLLIN)
		return 1;
	if (revents & POLLHUP)
		return -EIDRM;
	if (revents & POLLERR)
		return -EIO;
	/* fetch.max.wait passed: what there is, if fewer than fetch_min */
	return consumer_ready(c, 1) ? 1 : 0;
}

/*
 * What comes before a sleep: 0 when the consumer should ask the kernel,
 * else what mqdev_consumer_wait() returns without asking.
 */
static int consumer_before_sleep(struct mqdev_consumer *c)
{
	int err;

	/* Every peek would fail: a caller's wait-and-peek loop would spin. */
	if (c->error)
		return c->error;
	if (c->member) {
		err = consumer_group_tick(c);
		if (err)		/* an error, or a new assignment */
			return err;
	}
	if (consumer_ready(c, c->fetch_min))
		return 1;
	consumer_kick_all(c);		/* before any chance of sleeping */
	return 0;
}

MQDEV_EXPORT int mqdev_consumer_wait(struct mqdev_consumer *c, int timeout_ms)
{
	int err = consumer_before_sleep(c);

	if (err)
		return err;
	if (consumer_spin(c))
		return 1;
	return consumer_woken(c, consumer_sleep(c, timeout_ms));
}

/*
 * The send alone, then what a wait would give: @woken, or (0) the wait's
 * return.  *@sent as mqdev_consumer_wait_send() sets it.
 */
static int consumer_send_alone(struct mqdev_consumer *c, int timeout_ms,
			       const struct mqdev_wait *req,
			       const uint32_t *done, int woken, bool *sent)
{
	int err = mqdev_ioctl(req->send_fd, req->send_cmd,
			      (void *)(uintptr_t)req->send_arg);

	*sent = !err || (done && *done);
	if (err)
		return err;
	return woken ?: mqdev_consumer_wait(c, timeout_ms);
}

int mqdev_consumer_wait_send(struct mqdev_consumer *c, int timeout_ms,
			     int fd, unsigned long cmd, void *arg,
			     const uint32_t *done, bool *sent)
{
	struct mqdev_wait req = consumer_wait_req(c, timeout_ms);
	int err;

	req.flags = MQDEV_WAIT_SEND;
	req.send_arg = (uint64_t)(uintptr_t)arg;
	req.send_cmd = cmd;
	req.send_fd = fd;

	/* A spinner, or an older kernel: the two calls. */
	if (!c->wait_send || c->busy_usec)
		return consumer_send_alone(c, timeout_ms, &req, done, 0, sent);
	/* No sleep (records, news, an error of the consumer's): the send. */
	err = consumer_before_sleep(c);
	if (err)
		return consumer_send_alone(c, timeout_ms, &req, done, err,
					   sent);
	err = mqdev_ioctl(c->fd, MQDEV_IOC_WAIT, &req);
	*sent = !err || (done && *done);
	if (!err)
		return consumer_woken(c, req.revents);
	/*
	 * The send's own error (or an acks=all append's), but for a wait
	 * refused before it: a consumer that reads nothing, which no send
	 * returns.  Only then the send alone, so no failed send is made twice.
	 */
	if (*sent || err != -EDESTADDRREQ)
		return err;
	return consumer_send_alone(c, timeout_ms, &req, done, 0, sent);
}

/*
 * One wait and what it makes ready, handed to @fn: how many records were
 * handled and released, or 0 if the wait timed out or *@none: it made
 * nothing ready to hand out (a rebalance, or records that this call's
 * bounds, consumer_call_begin(), let it only skip).
 */
static int consumer_poll_once(struct mqdev_consumer *c, int timeout_ms,
			      unsigned int max, mqdev_record_fn fn, void *ctx,
			      bool *none)
{
	const struct mqdev_record *recs[CONSUMER_BURST];
	unsigned int done = 0, tried = 0, n, i;
	int err;

	err = mqdev_consumer_wait(c, timeout_ms);
	if (err <= 0)
		return err;
	consumer_call_begin(c);
	/* Bounded by what is handed out, released or lapped (-ESTALE). */
	while (tried < max &&
	       (n = consumer_take(c, recs, max - tried < CONSUMER_BURST ?
				  max - tried : CONSUMER_BURST))) {
		for (i = 0; i < n; i++) {
			err = fn(ctx, recs[i]);
			if (err < 0)
				return err;
		}
		tried += n;
		if (mqdev_consumer_release(c) == 0)
			done += n;
	}
	*none = max && !tried;
	return c->error ? c->error : (int)done;
}

MQDEV_EXPORT int mqdev_consumer_poll(struct mqdev_consumer *c, int timeout_ms,
				     unsigned int max, mqdev_record_fn fn,
				     void *ctx)
{
	uint64_t end = now_usec() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) *
		       1000, now;
	int left = timeout_ms, got;
	bool none;

	/* Woken for nothing to hand out: wait again, within the time-out. */
	for (;;) {
		none = false;
		got = consumer_poll_once(c, left, max, fn, ctx, &none);
		if (got || !none)
			return got;
		if (timeout_ms < 0)
			continue;		/* for ever, as asked */
		now = now_usec();
		if (!timeout_ms || now >= end)
			return 0;
		left = (int)((end - now + 999) / 1000);
	}
}

/* ---- consumer groups ---------------------------------------------------- */

/*
 * A group's position in partition @p older than the ring's oldest record
 * (a group restored with the topic, say): read from disk up to the ring.
 */
static int group_history(struct mqdev_consumer *c, uint32_t p, uint64_t from)
{
	uint64_t landed = from;
	int err = history_start(c, p, from, &landed);

	if (!err && c->parts[p].hist)
		c->parts[p].next_offset = landed;
	return err;
}

/* Take the assignment of the current generation. */
static int consumer_refresh(struct mqdev_consumer *c)
{
	uint32_t n = c->attach.partitions, p;
	struct mqdev_group_start *starts;
	struct mqdev_group_assignment req = {};
	struct consumer_part *cp;
	bool owned;
	int err;

	starts = calloc(n, sizeof(*starts));
	if (!starts)
		return -ENOMEM;
	req.starts = (uint64_t)(uintptr_t)starts;
	req.starts_count = n;
	req.start_size = sizeof(*starts);
	err = mqdev_ioctl(c->fd, MQDEV_IOC_GROUP_ASSIGNMENT, &req);
	if (err)
		goto out_free;

	for (p = 0; p < n; p++) {
		cp = &c->parts[p];
		owned = req.owned[p / 64] & (1ULL << (p % 64));
		if (owned && (!cp->subscribed || req.generation != c->generation)) {
			err = consumer_map(c, p);
			if (err)
				goto out_free;
			if (!cp->subscribed) {
				/* anew: from where the group left off */
				if (cp->pos)	/* not in copy mode */
					__atomic_store_n(cp->pos, starts[p].pos,
							 __ATOMIC_RELAXED);
				cp->next_offset = starts[p].offset;
				cp->committed = starts[p].offset;
				err = group_history(c, p, starts[p].offset);
				if (err)
					goto out_free;
			}
		}
		if (!owned && c->held && c->held_part == p)
			c->held = NULL;		/* no longer ours to finish */
		if (!owned)
			history_stop(c, p);
		cp->subscribed = owned;
	}
	c->generation = req.generation;
	c->buf_len = c->buf_off = 0;
out_free:
	free(starts);
	return err;
}

MQDEV_EXPORT int mqdev_consumer_join(struct mqdev_consumer *c,
				     const char *group, uint32_t reset)
{
	struct mqdev_group_join req = { .reset = reset };
	int err;

	if (c->member)
		return -EBUSY;
	err = mqdev_name_set(req.group, group);
	if (err)
		return err;
	err = mqdev_ioctl(c->fd, MQDEV_IOC_GROUP_JOIN, &req);
	if (err)
		return err;
	c->member = true;
	c->commit_due = now_usec() + c->commit_ms * 1000ULL;
	return consumer_refresh(c);
}

uint32_t mqdev_consumer_uncommitted(const struct mqdev_consumer *c,
				    struct mqdev_group_commit *commits)
{
	const struct consumer_part *cp;
	uint32_t p, n = 0;

	if (!c->member)
		return 0;
	for (p = 0; p < c->attach.partitions; p++) {
		cp = &c->parts[p];
		if (!cp->subscribed || cp->next_offset == cp->committed)
			continue;
		/* flags and reserved must be zero: the kernel refuses others */
		memset(&commits[n], 0, sizeof(commits[n]));
		commits[n].partition = p;
		commits[n].generation = c->generation;
		commits[n].offset = cp->next_offset;
		n++;
	}
	return n;
}

void mqdev_consumer_committed(struct mqdev_consumer *c,
			      const struct mqdev_group_commit *commits,
			      uint32_t count)
{
	uint32_t i;

	for (i = 0; i < count; i++)
		c->parts[commits[i].partition].committed = commits[i].offset;
}

MQDEV_EXPORT int mqdev_replica_confirm(struct mqdev_consumer *c,
				      uint32_t partition, uint64_t offset,
				      uint64_t *confirmed, uint64_t *hw)
{
	struct mqdev_replica_confirm req = {
		.partition = partition, .offset = offset,
	};
	int err = mqdev_ioctl(c->fd, MQDEV_IOC_REPLICA_CONFIRM, &req);

	if (err)
		return err;
	if (confirmed)
		*confirmed = req.offset;
	if (hw)
		*hw = req.high_watermark;
	return 0;
}

MQDEV_EXPORT int mqdev_consumer_commit(struct mqdev_consumer *c)
{
	struct mqdev_group_commit commits[MQDEV_MAX_PARTITIONS];
	int err, ret = 0;
	uint32_t n, i;

	if (!c->member)
		return -EINVAL;
	n = mqdev_consumer_uncommitted(c, commits);
	for (i = 0; i < n; i++) {
		err = mqdev_ioctl(c->fd, MQDEV_IOC_GROUP_COMMIT, &commits[i]);
		if (!err)
			mqdev_consumer_committed(c, &commits[i], 1);
		else if (!ret)
			ret = err;
	}
	if (ret == -ESTALE) {
		err = consumer_refresh(c);
		if (err)
			return err;
	}
	return ret;
}

/*
 * Between batches: an auto-commit when due, and a new assignment when one
 * was made (then 1: the caller should look for records again).
 */
static int consumer_group_tick(struct mqdev_consumer *c)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLPRI };
	int err;

	if (c->commit_ms && now_usec() >= c->commit_due) {
		err = mqdev_consumer_commit(c);
		if (err && err != -ESTALE)
			return err;
		c->commit_due = now_usec() + c->commit_ms * 1000ULL;
	}
	if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLPRI)) {
		err = consumer_refresh(c);
		return err ? err : 1;
	}
	return 0;
}

/*
 * Is @rec one @c handed out: in its partition's mapped ring, its copy
 * buffer, or the run it reads from disk?  A record of another consumer
 * would name an offset of a different record here.
 */
bool mqdev_consumer_holds(const struct mqdev_consumer *c,
			  const struct mqdev_record *rec)
{
	uintptr_t r = (uintptr_t)rec, b;
	const struct consumer_part *cp;

	if (rec->partition >= c->attach.partitions)
		return false;
	cp = &c->parts[rec->partition];
	b = (uintptr_t)cp->map;
	if (cp->map && r >= b && r - b < c->attach.off.ring_size)
		return true;
	b = (uintptr_t)c->buf;
	if (c->buf && r >= b && r - b < c->buf_size)
		return true;
	/* From disk: only the run held, of its partition. */
	return c->held_hist && rec->partition == c->held_part &&
	       rec->offset < c->held_next;
}

MQDEV_EXPORT uint32_t mqdev_consumer_generation(const struct mqdev_consumer *c)
{
	return c->generation;
}

MQDEV_EXPORT bool mqdev_consumer_owns(const struct mqdev_consumer *c,
				      uint32_t partition)
{
	return c->member && partition < c->attach.partitions &&
	       c->parts[partition].subscribed;
}
