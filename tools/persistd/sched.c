// SPDX-License-Identifier: GPL-2.0
/*
 * A durable topic's scheduled messages, kept in TOPIC@scheduled and
 * scheduled again when the topic is restored.
 *
 * The kernel counts each change to them in the groups' serial and raises
 * EPOLLPRI; the daemon takes a snapshot (MQDEV_IOC_SCHED_SNAPSHOT), which
 * also says each partition's end as it stood.  A message appended since
 * lies past those ends, in the log: the file is replaced only once the log
 * on disk (synced, for the "always" policy) reaches them, so that a
 * message is never in neither.  Until then the serial is not confirmed,
 * and the replica's EPOLLPRI is not asked for.
 *
 * The file: a header (magic, CRC-32C of the rest, count, bytes), then the
 * kernel's entries as the snapshot gave them: a struct mqdev_sched_info,
 * its key and value, padded to 8 bytes.  Binary: keys and values are.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include "persistd.h"

#define SCHED_MAGIC	"MQSCHED1"
#define SCHED_PAGE	(1U << 20)	/* the first room asked for */
#define SCHED_FILE_MAX	(1ULL << 32)	/* bytes of TOPIC@scheduled */

struct sched_file {
	char		magic[8];
	uint32_t	crc;		/* of everything after the header */
	uint32_t	reserved;
	uint64_t	count;
	uint64_t	bytes;		/* of the entries */
};

/**
 * sched_free() - forget a snapshot not yet written
 * @t: the topic
 */
void sched_free(struct topic *t)
{
	free(t->sched_buf);
	free(t->sched_ends);
	t->sched_buf = NULL;
	t->sched_ends = NULL;
	t->sched_len = t->sched_room = 0;
	t->sched_count = 0;
	t->sched_pending = false;
}

/* Room for @need more bytes past what was gathered. */
static int sched_grow(struct topic *t, uint64_t need)
{
	uint64_t room = t->sched_room ? t->sched_room : SCHED_PAGE;
	char *nb;

	while (room - t->sched_len < need)
		room *= 2;
	if (room == t->sched_room)
		return 0;
	if (room > SCHED_FILE_MAX)
		return -EFBIG;
	nb = realloc(t->sched_buf, room);
	if (!nb)
		return -ENOMEM;
	t->sched_buf = nb;
	t->sched_room = room;
	return 0;
}

/*
 * One call: from @req->start on into what is left of the buffer, at most
 * a call's page, or @need (one message larger than that) when set.
 */
static int sched_page(struct topic *t, struct mqdev_sched_snapshot *req,
		      bool hold, uint32_t need)
{
	uint64_t left = t->sched_room - t->sched_len;
	uint64_t cap = need > MQDEV_SCHED_SNAPSHOT_MAX ? need :
		       MQDEV_SCHED_SNAPSHOT_MAX;
	uint64_t start = req->start;

	memset(req, 0, sizeof(*req));
	req->start = start;
	req->buf = (uintptr_t)(t->sched_buf + t->sched_len);
	req->size = left > cap ? cap : left;
	req->flags = hold ? MQDEV_SCHED_SNAPSHOT_HOLD : 0;
	req->ends = (uintptr_t)t->sched_ends;
	req->ends_count = t->info.partitions;
	return ioctl(t->fd, MQDEV_IOC_SCHED_SNAPSHOT, req) ? -errno : 0;
}

/**
 * sched_fetch() - take a snapshot of @t's scheduled messages, to write
 * once the log reaches the ends it says
 * @t: the topic, its replica attached
 * @hold: let no message be appended after it (the daemon stops)
 *
 * Return: 0 or -errno (-ENOTTY: the kernel cannot).
 */
int sched_fetch(struct topic *t, bool hold)
{
	struct mqdev_sched_snapshot req = {};
	bool first = true;
	uint32_t need = 0;
	int err;

	sched_free(t);
	t->sched_ends = calloc(t->info.partitions, sizeof(uint64_t));
	if (!t->sched_ends)
		return -ENOMEM;
	err = sched_grow(t, SCHED_PAGE);
	while (!err) {
		err = sched_page(t, &req, hold, need);
		if (err)
			break;
		/* room for what it said it needs, and still none: give up */
		if (!req.count && req.next && need && req.need <= need) {
			err = -EIO;
			break;
		}
		/* the first serial: every change up to it is in the pages */
		if (first)
			t->sched_serial = req.serial;
		first = false;
		t->sched_len += req.size;
		t->sched_count += req.count;
		if (!req.next)
			break;
		req.start = req.next;
		need = req.count ? 0 : req.need;
		err = sched_grow(t, need ? need : SCHED_PAGE);
	}
	if (err) {
		sched_free(t);
		return err;
	}
	t->sched_pending = true;
	return 0;
}

/**
 * sched_unhold() - let go of the hold this replica took
 * @t: the topic, its replica attached
 *
 * A snapshot call without the hold and with room (a probe, with none,
 * leaves the hold as it is); 8 bytes, too few for any message.
 *
 * Return: 0 or -errno.
 */
int sched_unhold(struct topic *t)
{
	struct mqdev_sched_snapshot req = {};
	uint64_t room;

	req.buf = (uintptr_t)&room;
	req.size = sizeof(room);
	return ioctl(t->fd, MQDEV_IOC_SCHED_SNAPSHOT, &req) ? -errno : 0;
}

/**
 * sched_unchanged() - is the file still what the kernel has?
 * @t: the topic, no snapshot pending
 *
 * One snapshot call with no room: the serial, and that of the last change
 * to the scheduled messages.  When the file is at or past that change, it
 * stands for the serial now, and nothing is copied (a group commit then
 * costs no copy of every scheduled message).
 *
 * Return: 1 when unchanged (the serial kept moves on), 0 when changed, or
 * -errno.
 */
int sched_unchanged(struct topic *t)
{
	struct mqdev_sched_snapshot req = {};

	if (ioctl(t->fd, MQDEV_IOC_SCHED_SNAPSHOT, &req))
		return -errno;
	if (req.changed > t->sched_kept)
		return 0;
	t->sched_kept = req.serial;
	return 1;
}

/**
 * sched_taken() - has the replica taken every record the snapshot's ends
 * say?
 * @t: the topic, a snapshot pending
 *
 * Return: true when every partition's log was taken up to its end.
 */
bool sched_taken(const struct topic *t)
{
	uint32_t p;

	for (p = 0; p < t->info.partitions; p++)
		if (t->parts[p].next_offset < t->sched_ends[p])
			return false;
	return true;
}

/**
 * sched_ready() - may the pending snapshot replace the file?
 * @t: the topic, a snapshot pending
 *
 * Return: true when the log is safe, as the topic's policy has it, up to
 * every end the snapshot said.
 */
bool sched_ready(const struct topic *t)
{
	const struct plog *p;
	uint32_t i;

	for (i = 0; i < t->info.partitions; i++) {
		p = &t->parts[i];
		if ((t->pol->fsync == FSYNC_ALWAYS ? p->synced : p->written) <
		    t->sched_ends[i])
			return false;
	}
	return true;
}

/**
 * sched_write() - replace TOPIC@scheduled with the pending snapshot
 * @t: the topic
 *
 * Return: 0 (the snapshot's serial is kept) or -errno.
 */
int sched_write(struct topic *t)
{
	struct sched_file *h;
	char name[MQDEV_NAME_SIZE + 16];
	char *buf;
	int err;

	buf = malloc(sizeof(*h) + t->sched_len);
	if (!buf)
		return -ENOMEM;
	h = (struct sched_file *)buf;
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, SCHED_MAGIC, sizeof(h->magic));
	h->count = t->sched_count;
	h->bytes = t->sched_len;
	if (t->sched_len)
		memcpy(h + 1, t->sched_buf, t->sched_len);
	h->crc = mqseg_crc32c(0, &h->count, sizeof(*h) - 16 + t->sched_len);
	err = state_write(data_dirfd, state_name(name, t->name, "scheduled"),
			  buf, sizeof(*h) + t->sched_len, 0600);
	free(buf);
	if (!err) {
		t->sched_kept = t->sched_serial;
		sched_free(t);
	}
	return err;
}

/* The whole file, checked: its header and CRC. */
static int sched_read(const struct topic *t, char **buf, uint64_t *len)
{
	char name[MQDEV_NAME_SIZE + 16];
	const struct sched_file *h;
	struct stat st;
	ssize_t n;
	int fd, err = 0;

	fd = openat(data_dirfd, state_name(name, t->name, "scheduled"),
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
	} else if (!S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(*h) ||
		   (uint64_t)st.st_size > SCHED_FILE_MAX + sizeof(*h)) {
		err = -EINVAL;
	} else {
		*buf = malloc(st.st_size);
		n = *buf ? pread(fd, *buf, st.st_size, 0) : -1;
		if (n != st.st_size) {
			err = !*buf ? -ENOMEM : n < 0 ? -errno : -EIO;
			free(*buf);
		}
	}
	close(fd);
	if (err)
		return err;
	h = (const struct sched_file *)*buf;
	if (memcmp(h->magic, SCHED_MAGIC, sizeof(h->magic)) ||
	    h->bytes != st.st_size - sizeof(*h) ||
	    h->crc != mqseg_crc32c(0, &h->count, st.st_size - 16)) {
		free(*buf);
		return -EBADMSG;
	}
	*len = h->bytes;
	return 0;
}

/* Schedule the entry at @e again, @left bytes from it to the file's end. */
static int sched_restore_one(struct topic *t, const struct mqdev_sched_info *e,
			     uint64_t left, uint64_t *space)
{
	struct mqdev_sched_restore req = {};
	const char *data = (const char *)(e + 1);

	if (left < sizeof(*e))
		return -EBADMSG;
	*space = MQDEV_SCHED_ENTRY_SPACE(e->key_len, e->value_len);
	if (*space > left)
		return -EBADMSG;
	req.msg.key = e->key_len ? (uintptr_t)data : 0;
	req.msg.value = (uintptr_t)(data + e->key_len);
	req.msg.key_len = e->key_len;
	req.msg.value_len = e->value_len;
	req.msg.partition = e->partition;
	req.msg.flags = e->flags;
	req.id = e->id;
	req.due = e->due;
	req.uid = e->uid;
	if (ioctl(t->fd, MQDEV_IOC_SCHED_RESTORE, &req))
		return -errno;
	return 0;
}

/**
 * restore_sched() - schedule again what TOPIC@scheduled kept
 * @t: the topic being restored, its replica attached
 *
 * A message the kernel refuses is said and skipped (as a bad group line
 * is): one refused must not keep the whole topic from opening.  A file
 * that fails its check is said, and none of it is scheduled.
 *
 * Return: 0 or -errno for a failure to read the file.
 */
int restore_sched(struct topic *t)
{
	const struct mqdev_sched_info *e;
	uint64_t len = 0, pos = 0, space, n = 0, refused = 0;
	char *buf = NULL;
	int err;

	err = sched_read(t, &buf, &len);
	if (err == -ENOENT)
		return 0;
	if (err == -EBADMSG || err == -EINVAL) {
		say(LOG_CRIT, "%s@scheduled: not a file of scheduled messages, "
		    "or torn: none is scheduled again", t->name);
		return 0;
	}
	if (err)
		return err;
	while (pos < len) {
		e = (const void *)(buf + sizeof(struct sched_file) + pos);
		err = sched_restore_one(t, e, len - pos, &space);
		if (err == -EBADMSG)
			break;
		if (err) {
			say(LOG_ERR, "%s: scheduled message %llu: %s: not "
			    "scheduled again", t->name,
			    (unsigned long long)e->id, strerror(-err));
			refused++;
		} else {
			n++;
		}
		pos += space;
	}
	if (err == -EBADMSG)
		say(LOG_CRIT, "%s@scheduled: an entry past the file's end: the "
		    "rest is not scheduled again", t->name);
	say(LOG_INFO, "%s: %llu scheduled messages scheduled again, %llu "
	    "refused", t->name, (unsigned long long)n,
	    (unsigned long long)refused);
	free(buf);
	return 0;
}
