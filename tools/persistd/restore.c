// SPDX-License-Identifier: GPL-2.0
/*
 * Restore: a topic on disk that the kernel does not have (the module was
 * loaded again, or the machine restarted) is brought back in the order the
 * uapi header gives: TOPIC_RESTORE with each partition's next offset and
 * last timestamp from the log, the replica attached, every group and every
 * producer's sequence window and every scheduled message (sched.c)
 * restored through it, then TOPIC_OPEN lets
 * producers and consumers in.  Producers' windows are rebuilt by scanning
 * the log at start (the scan checks every batch's CRC anyway).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <syslog.h>
#include <unistd.h>
#include "persistd.h"

/* The last MQDEV_SEQ_KEPT sequence numbers of one producer in a partition. */
struct pwin {
	uint64_t		producer_id;
	uint32_t		next_seq;
	uint32_t		count;		/* entries kept, at most SEQ_KEPT */
	uint32_t		head;		/* the oldest, when full */
	struct mqdev_seq_restore ent[MQDEV_SEQ_KEPT];
};

struct pwins {
	struct pwin		*v;
	size_t			n, room;
	size_t			last;		/* the one found last: a hint */
};

static struct pwin *pwin_get(struct pwins *w, uint64_t id)
{
	struct pwin *nv;
	size_t i;

	if (w->n && w->v[w->last].producer_id == id)
		return &w->v[w->last];
	for (i = 0; i < w->n; i++)
		if (w->v[i].producer_id == id)
			return &w->v[w->last = i];
	if (w->n == w->room) {
		nv = realloc(w->v, (w->room ? w->room * 2 : 8) * sizeof(*nv));
		if (!nv)
			return NULL;
		w->v = nv;
		w->room = w->room ? w->room * 2 : 8;
	}
	memset(&w->v[w->n], 0, sizeof(w->v[0]));
	w->v[w->n].producer_id = id;
	w->last = w->n;
	return &w->v[w->n++];
}

/* mqseg_scan()'s callback: note each producer's sequence numbers. */
static void pwin_note(void *ctx, const struct mqdev_record *rec)
{
	struct pwins *w = ctx;
	struct pwin *pw;
	uint32_t slot;

	if (!rec->producer_id || !w)
		return;
	pw = pwin_get(w, rec->producer_id);
	if (!pw)
		return;		/* no memory: a resend may then be appended */
	if (pw->count < MQDEV_SEQ_KEPT) {
		slot = pw->count++;
	} else {
		slot = pw->head;
		pw->head = (pw->head + 1) % MQDEV_SEQ_KEPT;
	}
	pw->ent[slot].sequence = rec->sequence;
	pw->ent[slot].reserved = 0;
	pw->ent[slot].offset = rec->offset;
	pw->next_seq = rec->sequence + 1;
}

static int restore_producers(struct topic *t, uint32_t p, struct pwins *w)
{
	struct mqdev_seq_restore ent[MQDEV_SEQ_KEPT];
	struct mqdev_producer_restore req;
	struct pwin *pw;
	uint32_t i;
	size_t k;

	for (k = 0; k < w->n; k++) {
		pw = &w->v[k];
		for (i = 0; i < pw->count; i++)
			ent[i] = pw->ent[(pw->head + i) % pw->count];
		memset(&req, 0, sizeof(req));
		req.producer_id = pw->producer_id;
		req.partition = p;
		req.next_seq = pw->next_seq;
		req.entries = (uintptr_t)ent;
		req.count = pw->count;
		req.entry_size = sizeof(ent[0]);
		req.uid = t->info.uid;
		if (ioctl(t->fd, MQDEV_IOC_PRODUCER_RESTORE, &req))
			return -errno;
	}
	return 0;
}

/*
 * A committed offset past what the log kept: its records were written but
 * not yet synced when the power went (the "os" and "interval" policies keep
 * the groups' file after every change, the segments only at their sync).
 * The group goes back to the log's end, and what it had committed past it
 * is gone with those records: said, not refused (a refused group would
 * keep the whole topic from opening).
 */
static uint64_t restore_group_offset(struct topic *t, uint32_t p,
				     uint64_t offset)
{
	uint64_t end = t->parts[p].next_offset;

	if (offset == MQDEV_OFFSET_UNKNOWN || offset <= end)
		return offset;
	say(LOG_WARNING, "%s/%u: a group committed %llu, past the log's end "
	    "%llu (records not synced before a crash): it resumes at the end",
	    t->name, p, (unsigned long long)offset, (unsigned long long)end);
	return end;
}

static int restore_groups(struct topic *t)
{
	uint32_t parts = t->info.partitions, uid, p;
	struct mqdev_group_restore req;
	char *text, *line, *save = NULL, *s, *end;
	char name[MQDEV_NAME_SIZE + 16];
	uint64_t *offsets;
	int err, n;

	err = state_read(data_dirfd, state_name(name, t->name, "groups"),
			 &text);
	if (err)
		return err == -ENOENT ? 0 : err;
	offsets = calloc(parts, sizeof(*offsets));
	if (!offsets) {
		free(text);
		return -ENOMEM;
	}
	for (line = strtok_r(text, "\n", &save); line && !err;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%64s %u%n", name, &uid, &n) != 2)
			goto bad;
		s = line + n;
		for (p = 0; p < parts; p++, s = end) {
			errno = 0;
			offsets[p] = strtoull(s, &end, 10);
			if (errno || end == s)
				goto bad;
			offsets[p] = restore_group_offset(t, p, offsets[p]);
		}
		memset(&req, 0, sizeof(req));
		if (mqdev_name_set(req.name, name))
			goto bad;
		req.uid = uid;
		req.count = parts;
		req.offsets = (uintptr_t)offsets;
		if (ioctl(t->fd, MQDEV_IOC_GROUP_RESTORE, &req))
			err = -errno;
		continue;
bad:
		say(LOG_ERR, "%s@groups: a line that is not a group: '%s'",
		    t->name, line);
	}
	free(offsets);
	free(text);
	return err;
}

/**
 * restore_topic_create() - TOPIC_RESTORE: make the topic as the disk has it
 * @t: the topic, its logs open (their ends known)
 *
 * Return: 0 or -errno (-ENOTTY: this kernel cannot restore).
 */
int restore_topic_create(const struct topic *t)
{
	uint32_t n = t->info.partitions, p;
	struct mqdev_part_restore *parts;
	struct mqdev_topic_restore req = {};
	int fd, err = 0;

	parts = calloc(n, sizeof(*parts));
	if (!parts)
		return -ENOMEM;
	for (p = 0; p < n; p++) {
		parts[p].next_offset = t->parts[p].next_offset;
		parts[p].last_timestamp = t->parts[p].last_ts;
	}
	mqdev_name_set(req.topic.name, t->name);
	req.topic.capacity = t->info.capacity;
	req.topic.partitions = n;
	req.topic.flags = t->info.flags;
	req.topic.mode = t->info.mode;
	req.topic.min_insync = t->info.min_insync;
	req.ttl_ns = t->ttl_ns;
	req.uid = t->info.uid;
	req.gid = t->info.gid;
	req.parts = (uintptr_t)parts;
	req.parts_count = n;
	req.part_size = sizeof(*parts);
	fd = mqdev_open();
	if (fd < 0)
		err = fd;
	else if (ioctl(fd, MQDEV_IOC_TOPIC_RESTORE, &req))
		err = -errno;
	if (fd >= 0)
		close(fd);
	free(parts);
	return err;
}

/**
 * restore_topic_state() - through the attached replica: groups and
 * producers' windows, then TOPIC_OPEN
 * @t: the topic
 * @w: per partition, the producers' windows the scan found
 *
 * Return: 0 or -errno.
 */
int restore_topic_state(struct topic *t, struct pwins *w)
{
	struct mqdev_topic_id id = {};
	uint32_t p;
	int err;

	err = restore_groups(t);
	for (p = 0; !err && p < t->info.partitions; p++)
		err = restore_producers(t, p, &w[p]);
	if (!err)
		err = restore_sched(t);
	if (err)
		return err;
	mqdev_name_set(id.name, t->name);
	return ioctl(t->fd, MQDEV_IOC_TOPIC_OPEN, &id) ? -errno : 0;
}

/**
 * pwins_new() - room for the producers' windows of @n partitions
 * @n: the topic's partitions
 *
 * Return: the windows, to pwins_free(), or NULL.
 */
struct pwins *pwins_new(uint32_t n)
{
	return calloc(n, sizeof(struct pwins));
}

void pwins_free(struct pwins *w, uint32_t n)
{
	uint32_t p;

	for (p = 0; w && p < n; p++)
		free(w[p].v);
	free(w);
}

/**
 * pwins_at() - the windows of one partition, as pwins_fn()'s context
 * @w: from pwins_new(), or NULL
 * @partition: the partition
 *
 * Return: the context, or NULL for none.
 */
void *pwins_at(struct pwins *w, uint32_t partition)
{
	return w ? &w[partition] : NULL;
}

/**
 * pwins_fn() - the mqseg_scan() callback that fills a partition's windows
 *
 * Return: the callback; it ignores a NULL context.
 */
mqseg_record_fn pwins_fn(void)
{
	return pwin_note;
}
