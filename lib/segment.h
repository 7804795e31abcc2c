/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * The on-disk log of a durable topic's partition, as mqdev-persistd writes
 * it and libmqdev reads it back (history older than the ring).
 *
 *   DATA_DIR/TOPIC/PARTITION/BASE.log     BASE: the first offset, 20 digits
 *   DATA_DIR/TOPIC/PARTITION/BASE.index   sparse: offset -> position in .log
 *
 * A segment is a run of batches.  A batch is a struct mqseg_batch and then
 * @len bytes of records laid out exactly as in the ring (struct
 * mqdev_record, key, value, MQDEV_RECORD_SPACE() apart), so that a reader
 * hands them out in place.  The CRC-32C covers everything after the crc
 * field: the rest of the header and the records.  A batch cut short or
 * failing its CRC ends the valid part of a segment: at restore the daemon
 * cuts it off (a torn tail), a reader stops there.
 *
 * A record of a transaction is kept with its decision marked
 * (MQDEV_RECORD_COMMITTED or _ABORTED); an aborted record whose contents the
 * replica never saw is kept as a bare header, flags TXN|ABORTED, so that
 * offsets in the log run on without gaps.
 *
 * Everything is in the host's byte order: the files stay on the machine.
 */
#ifndef _MQDEV_SEGMENT_H
#define _MQDEV_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/mqdev.h>

#define MQSEG_MAGIC		0x3142514dU	/* "MQB1" */
/* bytes of records in one: more than the largest record (8 MiB) */
#define MQSEG_BATCH_MAX		(16U << 20)
#define MQSEG_NAME_LEN		32		/* "%020llu.index" and NUL */

struct mqseg_batch {
	uint32_t	magic;
	uint32_t	crc;		/* CRC-32C of what follows it */
	uint64_t	base_offset;	/* of the first record */
	uint64_t	max_timestamp;	/* the latest record's */
	uint32_t	count;		/* records */
	uint32_t	len;		/* bytes of records after the header */
};

struct mqseg_index {
	uint32_t	rel_offset;	/* offset - the segment's base */
	uint32_t	pos;		/* of a batch starting at or before it */
};

/**
 * mqseg_crc32c() - CRC-32C (Castagnoli), as iSCSI and ext4 use it
 * @crc: 0 to start, or the CRC so far
 * @buf: bytes
 * @len: how many
 *
 * Return: the CRC of everything so far.
 */
uint32_t mqseg_crc32c(uint32_t crc, const void *buf, size_t len);

/**
 * mqseg_batch_seal() - fill in a batch header's magic and CRC
 * @b: the header, its other fields set, with @b->len bytes of records
 *     following it in memory
 */
void mqseg_batch_seal(struct mqseg_batch *b);

/**
 * mqseg_batch_check() - is a batch whole and intact?
 * @b: the header, with @b->len bytes following it in memory
 *
 * Checks the magic, the CRC, and that the records add up to @b->len with
 * offsets running on from @b->base_offset.
 *
 * Return: true when it is.
 */
bool mqseg_batch_check(const struct mqseg_batch *b);

/**
 * mqseg_name() - a segment file's name
 * @buf: MQSEG_NAME_LEN bytes
 * @base: the segment's first offset
 * @ext: "log" or "index"
 */
void mqseg_name(char *buf, uint64_t base, const char *ext);

/**
 * mqseg_list() - the segments of a partition directory, oldest first
 * @dirfd: the directory
 * @bases: a new array of their base offsets, to free()
 *
 * Return: how many, or -errno.
 */
int mqseg_list(int dirfd, uint64_t **bases);

/* What mqseg_scan() found in a segment. */
struct mqseg_scan {
	uint64_t	valid;		/* bytes of whole, intact batches */
	uint64_t	size;		/* bytes in the file */
	uint64_t	next_offset;	/* after the last record of them */
	uint64_t	max_timestamp;
	uint64_t	batches;
};

typedef void (*mqseg_record_fn)(void *ctx, const struct mqdev_record *rec);

/**
 * mqseg_scan() - walk a segment's batches, checking each
 * @fd: the segment, open for reading
 * @base: its base offset
 * @fn: called for every record of every intact batch (may be NULL)
 * @ctx: for @fn
 * @out: what was found; @out->valid < @out->size: the rest is torn or bad
 *
 * Return: 0 or -errno (a read error; a bad batch is not one).
 */
int mqseg_scan(int fd, uint64_t base, mqseg_record_fn fn, void *ctx,
	       struct mqseg_scan *out);

/*
 * A reader of one partition's log, from an offset on, one batch in memory
 * at a time.  Bounded: the buffer grows to the largest batch met, at most
 * MQSEG_BATCH_MAX.
 */
struct mqseg_reader {
	int			dirfd;
	int			fd;		/* the segment being read, or -1 */
	uint64_t		base;		/* its base offset */
	uint64_t		pos;		/* of the next batch in it */
	char			*buf;		/* header and records */
	uint32_t		buf_size;
	uint32_t		rec_pos;	/* next record in buf */
	uint64_t		next_offset;	/* the next record's */
	int			error;		/* sticky: -EBADMSG, -EIO... */
};

/**
 * mqseg_reader_open() - read the log in @dirfd from @offset
 * @r: the reader
 * @dirfd: the partition's directory; the reader owns it from now on
 * @offset: the first offset wanted; an older one than the log keeps
 *	    starts at its oldest record
 *
 * Return: 0; -ENOENT when the log has no segment; or -errno.
 */
int mqseg_reader_open(struct mqseg_reader *r, int dirfd, uint64_t offset);

/**
 * mqseg_reader_next() - the next record, in place
 * @r: the reader
 *
 * The record stays valid until the batch is done: while the returned
 * records are of one batch (mqseg_reader_batch_left() > 0 before the call).
 *
 * Return: the record, or NULL at the end of what is on disk now, or on an
 * error (then @r->error says which).
 */
const struct mqdev_record *mqseg_reader_next(struct mqseg_reader *r);

/* Records of the batch in memory still to be handed out. */
static inline bool mqseg_reader_batch_left(const struct mqseg_reader *r)
{
	const struct mqseg_batch *b = (const void *)r->buf;

	return r->buf && r->rec_pos < sizeof(*b) + b->len && b->len;
}

/* The record mqseg_reader_next() gives next if it is of this batch, or NULL. */
static inline const struct mqdev_record *
mqseg_reader_peek(const struct mqseg_reader *r)
{
	return mqseg_reader_batch_left(r) ?
	       (const struct mqdev_record *)(r->buf + r->rec_pos) : NULL;
}

void mqseg_reader_close(struct mqseg_reader *r);

#endif /* _MQDEV_SEGMENT_H */
