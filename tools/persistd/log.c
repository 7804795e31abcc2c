// SPDX-License-Identifier: GPL-2.0
/*
 * One partition's log: records gathered into a batch in memory, written
 * with one write(2) per batch into the active segment, an index entry every
 * INDEX_EVERY bytes, segments rolled at the topic's segment_bytes and
 * deleted whole by retention.  A write that fails is undone (the file cut
 * back to where it stood) and kept in memory to retry: nothing is confirmed
 * that is not in the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include "persistd.h"

#define INDEX_EVERY	4096		/* bytes of log per index entry */
#define BATCH_FLUSH	(1U << 20)	/* gather this much, then write */

void plog_init(struct plog *p, uint32_t partition)
{
	memset(p, 0, sizeof(*p));
	p->partition = partition;
	p->dirfd = p->fd = p->idx_fd = -1;
}

/* A file of the topic, owned and readable as the topic is. */
static int open_owned(int dirfd, const char *name, int flags,
		      const struct topic *t)
{
	mode_t mode = t->info.mode & 0444;
	int fd = openat(dirfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
			mode);
	struct stat st;

	if (fd < 0)
		return -errno;
	/*
	 * The topic's owner owns the directory: a FIFO there is no log, and
	 * a hard link it planted under the next segment's name (to a file of
	 * root's, say) is no file of ours to chown and write: ours have one
	 * link, and are root's (just made) or the topic owner's.
	 */
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    (st.st_uid != 0 && st.st_uid != t->info.uid)) {
		close(fd);
		return -EPERM;
	}
	if (fchown(fd, t->info.uid, t->info.gid) || fchmod(fd, mode)) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* Cut the index of the active segment back to entries before @valid. */
static int index_cut(struct plog *p, uint64_t valid)
{
	struct mqseg_index e;
	struct stat st;
	off_t n;

	if (fstat(p->idx_fd, &st))
		return -errno;
	for (n = st.st_size / sizeof(e); n > 0; n--) {
		if (pread(p->idx_fd, &e, sizeof(e), (n - 1) * sizeof(e)) !=
		    sizeof(e))
			return -EIO;
		if (e.pos < valid)
			break;
	}
	if (ftruncate(p->idx_fd, n * sizeof(e)))
		return -errno;
	p->indexed = n ? e.pos : 0;
	return 0;
}

static int segment_open(struct plog *p, uint64_t base, const struct topic *t)
{
	char name[MQSEG_NAME_LEN];
	int fd, ifd;

	mqseg_name(name, base, "log");
	fd = open_owned(p->dirfd, name, O_RDWR | O_CREAT | O_APPEND, t);
	if (fd < 0)
		return fd;
	mqseg_name(name, base, "index");
	ifd = open_owned(p->dirfd, name, O_RDWR | O_CREAT | O_APPEND, t);
	if (ifd < 0) {
		close(fd);
		return ifd;
	}
	p->fd = fd;
	p->idx_fd = ifd;
	p->base = base;
	p->size = lseek(fd, 0, SEEK_END);	/* 0 unless it was there */
	p->indexed = 0;
	p->seg_max_ts = 0;
	return 0;
}

/* Scan every segment; cut a torn (or corrupted) tail off the last one. */
static int plog_scan(struct plog *p, const struct topic *t, uint64_t *bases,
		     int n, mqseg_record_fn fn, void *ctx)
{
	struct mqseg_scan s = {};
	char name[MQSEG_NAME_LEN];
	int i, fd, err;

	for (i = 0; i < n; i++) {
		mqseg_name(name, bases[i], "log");
		fd = open_owned(p->dirfd, name, O_RDONLY, t);
		if (fd < 0)
			return fd;
		err = mqseg_scan(fd, bases[i], fn, ctx, &s);
		close(fd);
		if (err)
			return err;
		if (s.valid < s.size && i < n - 1)
			say(LOG_CRIT, "%s/%u/%s: corrupted at byte %llu of %llu: "
			    "the records from offset %llu to %llu cannot be read",
			    t->name, p->partition, name,
			    (unsigned long long)s.valid,
			    (unsigned long long)s.size,
			    (unsigned long long)s.next_offset,
			    (unsigned long long)bases[i + 1] - 1);
		if (s.max_timestamp > p->last_ts)
			p->last_ts = s.max_timestamp;
	}
	err = segment_open(p, bases[n - 1], t);
	if (err)
		return err;
	if (s.valid < s.size) {
		say(LOG_WARNING, "%s/%u/%s: cutting off a torn or corrupted "
		    "tail: %llu bytes after offset %llu", t->name, p->partition,
		    name, (unsigned long long)(s.size - s.valid),
		    (unsigned long long)s.next_offset);
		if (ftruncate(p->fd, s.valid))
			return -errno;
	}
	/* what a crash left in the page cache only is made safe now */
	if (fdatasync(p->fd))
		return -errno;
	err = index_cut(p, s.valid);
	if (err)
		return err;
	p->size = s.valid;
	p->seg_max_ts = s.max_timestamp;
	p->next_offset = p->written = p->synced = s.next_offset;
	return 0;
}

/**
 * plog_open() - open (or make) partition @p's log, checking what is there
 * @p: the partition, from plog_init()
 * @topic_dirfd: the topic's directory
 * @t: the topic
 * @fn: called for every record found on disk (may be NULL)
 * @ctx: for @fn
 *
 * Return: 0 or -errno; @p->next_offset is where the log ends.
 */
int plog_open(struct plog *p, int topic_dirfd, const struct topic *t,
	      mqseg_record_fn fn, void *ctx)
{
	char name[16];
	uint64_t *bases = NULL;
	int n, err;

	snprintf(name, sizeof(name), "%u", p->partition);
	err = mkdir_owned(topic_dirfd, name, t);
	if (err)
		return err;
	p->dirfd = openat(topic_dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			  O_CLOEXEC);
	if (p->dirfd < 0)
		return -errno;
	n = mqseg_list(p->dirfd, &bases);
	if (n < 0)
		return n;
	if (n)
		err = plog_scan(p, t, bases, n, fn, ctx);
	else
		err = segment_open(p, 0, t);
	free(bases);
	return err;
}

static int buf_room(struct plog *p, uint32_t len)
{
	uint32_t want = sizeof(struct mqseg_batch) + p->buf_len + len;
	uint32_t size = p->buf_size ? p->buf_size : 64 * 1024;
	char *nb;

	if (want <= p->buf_size)
		return 0;
	while (size < want)
		size *= 2;
	nb = realloc(p->buf, size);
	if (!nb)
		return -ENOMEM;
	p->buf = nb;
	p->buf_size = size;
	return 0;
}

static int buf_add(struct plog *p, const struct mqdev_record *rec,
		   uint16_t flags)
{
	uint32_t space = MQDEV_RECORD_SPACE(rec->len);
	struct mqdev_record *copy;
	int err;

	if (p->buf_len && (rec->offset != p->buf_base + p->buf_count ||
			   p->buf_len + space > MQSEG_BATCH_MAX))
		return -EAGAIN;	/* another batch: flush first */
	err = buf_room(p, space);
	if (err)
		return err;
	copy = (void *)(p->buf + sizeof(struct mqseg_batch) + p->buf_len);
	memcpy(copy, rec, rec->len);
	memset((char *)copy + rec->len, 0, space - rec->len);
	copy->flags = flags;
	if (!p->buf_count)
		p->buf_base = rec->offset;
	if (rec->timestamp > p->buf_max_ts)
		p->buf_max_ts = rec->timestamp;
	p->buf_len += space;
	p->buf_count++;
	p->next_offset = rec->offset + 1;
	return 0;
}

/**
 * plog_append() - gather a record into the batch being built
 * @p: the partition
 * @rec: the record, as the replica read it
 * @committed: it is of a transaction, handed out because committed
 *
 * Return: 0; -EAGAIN when the batch must be written first (plog_flush());
 * or -ENOMEM.
 */
int plog_append(struct plog *p, const struct mqdev_record *rec, bool committed)
{
	uint16_t flags = rec->flags;

	if (p->buf_len >= BATCH_FLUSH)
		return -EAGAIN;
	if ((flags & MQDEV_RECORD_TXN) && committed)
		flags |= MQDEV_RECORD_COMMITTED;
	return buf_add(p, rec, flags);
}

/**
 * plog_placeholder() - keep an aborted record the replica never saw
 * @p: the partition
 * @offset: its offset
 *
 * Return: as plog_append().
 */
int plog_placeholder(struct plog *p, uint64_t offset)
{
	struct mqdev_record rec = {
		.len = sizeof(rec), .partition = p->partition,
		.offset = offset, .timestamp = p->buf_max_ts,
		.flags = MQDEV_RECORD_TXN | MQDEV_RECORD_ABORTED,
	};

	if (p->buf_len >= BATCH_FLUSH)
		return -EAGAIN;
	return buf_add(p, &rec, rec.flags);
}

/* Close the active segment and start one at @base. */
static int segment_roll(struct plog *p, uint64_t base, const struct topic *t)
{
	struct timespec ts[2];
	int err;

	if (p->written > p->synced && t->pol->fsync != FSYNC_OS) {
		err = plog_sync(p);
		if (err)
			return err;
	}
	/* retention by time goes by the newest record's time: the mtime */
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = p->seg_max_ts / 1000000000ULL;
	ts[1].tv_nsec = p->seg_max_ts % 1000000000ULL;
	if (p->seg_max_ts)
		futimens(p->fd, ts);
	close(p->fd);
	close(p->idx_fd);
	p->fd = p->idx_fd = -1;
	err = segment_open(p, base, t);
	if (err)
		return err;
	/* under "always", the new file's name must survive a power cut too */
	return t->pol->fsync == FSYNC_ALWAYS ? fsync_dir(p->dirfd) : 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= n;
	}
	return 0;
}

static void index_add(struct plog *p, uint64_t pos, uint64_t offset)
{
	struct mqseg_index e = {
		.rel_offset = offset - p->base, .pos = pos,
	};

	/* the index is a hint, rebuilt lazily: a failed write costs speed */
	if (pos && pos - p->indexed < INDEX_EVERY)
		return;
	if (write(p->idx_fd, &e, sizeof(e)) == sizeof(e))
		p->indexed = pos;
}

/**
 * plog_flush() - write the gathered batch to the active segment
 * @p: the partition
 * @t: its topic
 *
 * Rolls to a new segment first when the batch would take the active one
 * past segment_bytes.  A failed write leaves the file as it was and the
 * batch in memory, for the next try.
 *
 * Return: 0 or -errno.
 */
int plog_flush(struct plog *p, const struct topic *t)
{
	struct mqseg_batch *b = (void *)p->buf;
	uint64_t len;
	int err;

	if (!p->buf_count)
		return 0;
	len = sizeof(*b) + p->buf_len;
	if (p->fd < 0 || (p->size && p->size + len > t->pol->segment_bytes) ||
	    p->buf_base - p->base > UINT32_MAX) {
		err = p->fd < 0 ? segment_open(p, p->buf_base, t) :
		      segment_roll(p, p->buf_base, t);
		if (err)
			return err;
	}
	b->base_offset = p->buf_base;
	b->max_timestamp = p->buf_max_ts;
	b->count = p->buf_count;
	b->len = p->buf_len;
	mqseg_batch_seal(b);
	err = write_all(p->fd, p->buf, len);
	if (err) {
		/* undo a partial write: the file ends at a whole batch */
		if (ftruncate(p->fd, p->size))
			say(LOG_ERR, "%s/%u: cannot cut back a failed write: %s",
			    t->name, p->partition, strerror(errno));
		return err;
	}
	index_add(p, p->size, p->buf_base);
	p->size += len;
	if (p->buf_max_ts > p->seg_max_ts)
		p->seg_max_ts = p->buf_max_ts;
	if (p->buf_max_ts > p->last_ts)
		p->last_ts = p->buf_max_ts;
	p->written = p->buf_base + p->buf_count;
	p->buf_len = p->buf_count = 0;
	p->buf_max_ts = 0;
	return 0;
}

/**
 * plog_sync() - make what was written durable
 * @p: the partition
 *
 * Return: 0 or -errno.
 */
int plog_sync(struct plog *p)
{
	uint64_t upto = p->written;

	if (upto == p->synced)
		return 0;
	if (fdatasync(p->fd))
		return -errno;
	p->synced = upto;
	return 0;
}

/* Bytes and newest record's time (the mtime) of segment @base. */
static int segment_stat(struct plog *p, uint64_t base, struct stat *st)
{
	char name[MQSEG_NAME_LEN];

	mqseg_name(name, base, "log");
	return fstatat(p->dirfd, name, st, 0) ? -errno : 0;
}

static void segment_delete(struct plog *p, uint64_t base)
{
	char name[MQSEG_NAME_LEN];

	mqseg_name(name, base, "log");
	unlinkat(p->dirfd, name, 0);
	mqseg_name(name, base, "index");
	unlinkat(p->dirfd, name, 0);
}

/*
 * Is a segment last written at @mtime (s since the epoch) older than
 * @retention_ms at @now (ms)?  The file's owner may set any time on it: a
 * time before the epoch is old, one past the clock is not, and no product
 * or sum may wrap on the way.
 */
static bool segment_expired(time_t mtime, uint64_t retention_ms,
			    uint64_t now)
{
	uint64_t before;	/* older than it, in ms */

	if (now <= retention_ms)
		return false;
	before = now - retention_ms;
	/* mtime * 1000 < before, in seconds: the product could wrap */
	return mtime <= 0 || (uint64_t)mtime <= (before - 1) / 1000;
}

/**
 * plog_retention() - delete whole old segments, as Kafka's retention.ms
 * and retention.bytes do; never the active one
 * @p: the partition
 * @t: its topic
 * @now: the time, ms since the epoch
 */
void plog_retention(struct plog *p, const struct topic *t, uint64_t now)
{
	const struct policy *pol = t->pol;
	uint64_t *bases, total = 0;
	struct stat st;
	int n, i;

	if (!pol->retention_ms && !pol->retention_bytes)
		return;
	n = mqseg_list(p->dirfd, &bases);
	if (n <= 0)
		return;
	for (i = 0; i < n; i++)
		if (!segment_stat(p, bases[i], &st))
			total += st.st_size;
	for (i = 0; i < n - 1 && bases[i] != p->base; i++) {
		if (segment_stat(p, bases[i], &st))
			break;
		if (!(pol->retention_ms &&
		      segment_expired(st.st_mtime, pol->retention_ms, now)) &&
		    !(pol->retention_bytes &&
		      total - st.st_size >= (uint64_t)pol->retention_bytes))
			break;
		segment_delete(p, bases[i]);
		total -= st.st_size;
		say(LOG_INFO, "%s/%u: retention: deleted the segment from "
		    "offset %llu", t->name, p->partition,
		    (unsigned long long)bases[i]);
	}
	free(bases);
}

void plog_close(struct plog *p)
{
	if (p->fd >= 0)
		close(p->fd);
	if (p->idx_fd >= 0)
		close(p->idx_fd);
	if (p->dirfd >= 0)
		close(p->dirfd);
	free(p->buf);
	plog_init(p, p->partition);
}
