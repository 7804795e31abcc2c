// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * History older than the ring: on a durable topic, a consumer whose
 * position lies before the oldest record the ring keeps reads the records
 * from the disk replica's segment files (mqdev-persistd, see segment.h),
 * up to where the ring begins, and then goes on in the ring.  The files
 * are the topic's: owned by its owner, readable as the topic is, so the
 * filesystem lets exactly the topic's readers read its history.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"
#include "segment.h"

#define DATA_DIR_DEFAULT	"/var/lib/mqdev"

struct mqdev_history {
	struct mqseg_reader	r;
	char			*path;	/* the partition's directory */
	uint64_t		until;	/* the ring's first offset */
	uint64_t		next;	/* after the last record handed out */
	bool			done;
};

/**
 * mqdev_history_dir() - where the segment files are
 * @opt: the consumer's data_dir option, or NULL
 *
 * Return: @opt, else $MQDEV_DATA_DIR, else /var/lib/mqdev.
 */
const char *mqdev_history_dir(const char *opt)
{
	/* not from a set-id program's caller */
	const char *env = secure_getenv("MQDEV_DATA_DIR");

	if (opt)
		return opt;
	return env && *env ? env : DATA_DIR_DEFAULT;
}

/**
 * mqdev_history_open() - read @topic's partition @partition from disk
 * @dir: the data directory
 * @topic: the topic
 * @partition: the partition
 * @from: the first offset wanted; where it lands comes back here (the
 *	  oldest record on disk, if it is younger)
 * @until: the ring's first offset: history ends before it
 * @h: the new reader
 *
 * Return: 0; -ENOENT when there is no history on disk (nothing to read
 * but the ring); -EACCES when the caller may not read it; or -errno.
 */
int mqdev_history_open(const char *dir, const char *topic, uint32_t partition,
		       uint64_t *from, uint64_t until, struct mqdev_history **h)
{
	char path[PATH_MAX];
	struct mqdev_history *nh;
	int dirfd, err;

	if (snprintf(path, sizeof(path), "%s/%s/%u", dir, topic, partition) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	nh = calloc(1, sizeof(*nh));
	if (nh)
		nh->path = strdup(path);
	if (!nh || !nh->path) {
		free(nh);
		close(dirfd);
		return -ENOMEM;
	}
	err = mqseg_reader_open(&nh->r, dirfd, *from);
	if (err) {
		free(nh->path);
		free(nh);
		return err;
	}
	*from = nh->next = nh->r.next_offset;
	nh->until = until;
	nh->done = *from >= until;
	*h = nh;
	return 0;
}

/* The next record below the ring's first offset, or NULL (done, or error). */
static const struct mqdev_record *history_next(struct mqdev_history *h)
{
	const struct mqdev_record *rec = mqseg_reader_next(&h->r);

	if (!rec || rec->offset >= h->until) {
		h->done = !h->r.error;	/* at the ring, or the disk's end */
		return NULL;
	}
	h->next = rec->offset + 1;
	return rec;
}

/**
 * mqdev_history_extend() - read on to the ring's oldest record as it is now
 * @h: a reader that is done
 * @until: the ring's first offset now
 *
 * Return: 0 when there is more to read, -EAGAIN when not, or -errno.
 */
int mqdev_history_extend(struct mqdev_history *h, uint64_t until)
{
	int dirfd, err;

	if (until <= h->next || h->r.error)
		return -EAGAIN;
	dirfd = open(h->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	mqseg_reader_close(&h->r);
	err = mqseg_reader_open(&h->r, dirfd, h->next);
	if (err)
		return err;
	h->until = until;
	h->done = false;
	return 0;
}

/* Would @rec come alone: aborted, with an expiry, or stamped before @live? */
static bool history_alone(const struct mqdev_record *rec, uint64_t live)
{
	return (rec->flags & (MQDEV_RECORD_ABORTED | MQDEV_RECORD_EXPIRES)) ||
	       rec->timestamp < live;
}

/**
 * mqdev_history_take() - a run of up to @max next records, in place
 * @h: the reader
 * @recs: where they go
 * @max: room in @recs, at least 1
 * @live: records stamped at or after it are alive whatever a TTL says
 *        (0: every record, with no TTL, for a replica, or while the TTL
 *        is longer than the clock has run)
 *
 * A run is of one batch, with no gap in the offsets.  A record the caller
 * must judge comes alone: one aborted, one with an expiry of its own, or
 * one stamped before @live, which a TTL may have expired.  That way a run
 * never has to be put back because its first record was expired.  They stay
 * valid until the next call.  Only records before the ring's first offset:
 * at it, or where the disk ends before it, the history is done
 * (mqdev_history_done()).
 *
 * Return: how many, 0 when done, or -errno (-EBADMSG: a corrupted batch).
 */
int mqdev_history_take(struct mqdev_history *h,
		       const struct mqdev_record **recs, unsigned int max,
		       uint64_t live)
{
	const struct mqdev_record *rec;
	unsigned int n = 1;

	if (h->done)
		return 0;
	recs[0] = history_next(h);
	if (!recs[0])
		return h->r.error;
	if (history_alone(recs[0], live))
		return 1;
	while (n < max && (rec = mqseg_reader_peek(&h->r)) &&
	       rec->offset == recs[n - 1]->offset + 1 &&
	       !history_alone(rec, live)) {
		recs[n] = history_next(h);
		if (!recs[n])
			break;
		n++;
	}
	return n;
}

/**
 * mqdev_history_done() - has the reader reached the ring, or the disk's end?
 * @h: the reader
 *
 * Return: true when it has nothing more before the ring.
 */
bool mqdev_history_done(const struct mqdev_history *h)
{
	return h->done;
}

void mqdev_history_free(struct mqdev_history *h)
{
	if (!h)
		return;
	mqseg_reader_close(&h->r);
	free(h->path);
	free(h);
}
