// SPDX-License-Identifier: GPL-2.0
/*
 * What besides the records must survive: a topic's configuration (its TTL
 * too), its groups' committed offsets, its scheduled messages (sched.c),
 * and the named producer identities.  Each is a file replaced atomically:
 * written to NAME.tmp@, fsync'ed, renamed over NAME, and the directory
 * fsync'ed.  They are root's, in the data directory itself (TOPIC@config,
 * TOPIC@groups, TOPIC@scheduled, identities@): '@' is
 * in no topic name, so they never meet a topic's directory, which its owner
 * owns (and could fill with links).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include "persistd.h"

#define IDENTITIES_FILE	"identities@"
#define STATE_MAX	(16U << 20)	/* bytes of one state file */

/**
 * fsync_dir() - make a directory's entries durable
 * @dirfd: the directory
 *
 * Return: 0 or -errno.
 */
/**
 * state_name() - the name of one of @topic's state files
 * @buf: MQDEV_NAME_SIZE + 16 bytes
 * @topic: the topic
 * @what: "config", "groups" or "scheduled"
 *
 * Return: @buf.
 */
const char *state_name(char *buf, const char *topic, const char *what)
{
	snprintf(buf, MQDEV_NAME_SIZE + 16, "%s@%s", topic, what);
	return buf;
}

int fsync_dir(int dirfd)
{
	return fsync(dirfd) ? -errno : 0;
}

/**
 * state_write() - replace file @name in @dirfd atomically and durably
 * @dirfd: the directory
 * @name: the file
 * @text: its new contents
 * @len: bytes of them
 * @mode: its permission bits
 *
 * Return: 0 or -errno; on failure the old file is as it was.
 */
int state_write(int dirfd, const char *name, const char *text, size_t len,
		mode_t mode)
{
	char tmp[NAME_MAX + 1];
	ssize_t n;
	int fd, err = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp@", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
		    O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	while (len && !err) {
		n = write(fd, text, len);
		if (n < 0 && errno != EINTR)
			err = -errno;
		else if (n > 0)
			text += n, len -= n;
	}
	if (!err && fsync(fd))
		err = -errno;
	close(fd);
	if (!err && renameat(dirfd, tmp, dirfd, name))
		err = -errno;
	if (err)
		unlinkat(dirfd, tmp, 0);
	return err ? err : fsync_dir(dirfd);
}

/**
 * state_read() - read a state file whole
 * @dirfd: the directory
 * @name: the file
 * @text: a new NUL-terminated buffer, to free()
 *
 * Return: 0 or -errno (-ENOENT: there is none; -EFBIG: too large).
 */
int state_read(int dirfd, const char *name, char **text)
{
	struct stat st;
	char *buf;
	int fd, err = 0;
	ssize_t n;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
	} else if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
	} else if (st.st_size > STATE_MAX) {
		err = -EFBIG;
	} else {
		buf = malloc(st.st_size + 1);
		n = buf ? pread(fd, buf, st.st_size, 0) : -1;
		if (n != st.st_size) {
			err = buf && n < 0 ? -errno : buf ? -EIO : -ENOMEM;
			free(buf);
		} else {
			buf[n] = '\0';
			*text = buf;
		}
	}
	close(fd);
	return err;
}

/**
 * mkdir_owned() - make a directory of topic @t: readable and searchable by
 * exactly those who may read the topic
 * @dirfd: where
 * @name: its name
 * @t: the topic
 *
 * Return: 0 (also when it was there) or -errno.
 */
int mkdir_owned(int dirfd, const char *name, const struct topic *t)
{
	mode_t r = t->info.mode & 0444, mode = r | r >> 2;
	int fd, err = 0;

	if (mkdirat(dirfd, name, mode) && errno != EEXIST)
		return -errno;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchown(fd, t->info.uid, t->info.gid) || fchmod(fd, mode))
		err = -errno;
	close(fd);
	return err ? err : fsync_dir(dirfd);
}

/**
 * rmtree_at() - remove a directory and what is in it
 * @dirfd: where it is
 * @name: the directory
 *
 * Return: 0 or -errno.
 */
int rmtree_at(int dirfd, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOTDIR ? (unlinkat(dirfd, name, 0) ? -errno : 0)
					: -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(fd, de->d_name, 0) && errno == EISDIR)
			rmtree_at(fd, de->d_name);
	}
	closedir(d);
	return unlinkat(dirfd, name, AT_REMOVEDIR) ? -errno : 0;
}

/* ---- the topic's configuration ---------------------------------------- */

/**
 * topic_config_write() - keep @t's configuration, for its restore
 * @t: the topic, its directory open
 *
 * Return: 0 or -errno.
 */
int topic_config_write(const struct topic *t)
{
	const struct mqdev_topic_info *i = &t->info;
	char text[256], name[MQDEV_NAME_SIZE + 16];
	int len;

	len = snprintf(text, sizeof(text),
		       "partitions %u\ncapacity %llu\nflags %u\nmode %o\n"
		       "uid %u\ngid %u\nmin_insync %u\nttl_ns %llu\n",
		       i->partitions, (unsigned long long)i->capacity, i->flags,
		       i->mode, i->uid, i->gid, i->min_insync,
		       (unsigned long long)t->ttl_ns);
	return state_write(data_dirfd, state_name(name, t->name, "config"),
			   text, len, 0600);
}

/**
 * topic_config_read() - a topic's configuration, as topic_config_write()
 * kept it
 * @topic: the topic's name
 * @info: filled in (the name is not)
 * @ttl_ns: its TTL; 0 when the file (an older daemon's) does not say
 *
 * Return: 0, -ENOENT, or -EINVAL for a file that does not say it all.
 */
int topic_config_read(const char *topic, struct mqdev_topic_info *info,
		      uint64_t *ttl_ns)
{
	char *text, name[MQDEV_NAME_SIZE + 16];
	unsigned long long cap, ttl = 0;
	int err, n;

	err = state_read(data_dirfd, state_name(name, topic, "config"), &text);
	if (err)
		return err;
	n = sscanf(text, "partitions %u\ncapacity %llu\nflags %u\nmode %o\n"
		   "uid %u\ngid %u\nmin_insync %u\nttl_ns %llu\n",
		   &info->partitions, &cap, &info->flags, &info->mode,
		   &info->uid, &info->gid, &info->min_insync, &ttl);
	free(text);
	info->capacity = cap;
	/* One bad line costs the TTL, not the topic: the rest is restored. */
	if (ttl > MQDEV_TTL_MAX) {
		say(LOG_ERR, "%s: its config's ttl_ns %llu is past %llu: "
		    "restored without a TTL", topic, ttl,
		    (unsigned long long)MQDEV_TTL_MAX);
		ttl = 0;
	}
	*ttl_ns = ttl;
	if (n < 7 || !info->partitions ||
	    info->partitions > MQDEV_MAX_PARTITIONS ||
	    !(info->flags & MQDEV_TOPIC_DURABLE))
		return -EINVAL;
	return 0;
}

/* ---- consumer groups ----------------------------------------------------- */

static int groups_fetch(struct topic *t, char **states, uint32_t *count,
			uint64_t *serial, size_t size)
{
	struct mqdev_replica_groups req = {};
	uint32_t room = 16;
	char *buf = NULL, *nb;
	int err;

	for (;;) {
		nb = realloc(buf, room * size);
		if (!nb) {
			free(buf);
			return -ENOMEM;
		}
		buf = nb;
		memset(&req, 0, sizeof(req));
		req.states = (uintptr_t)buf;
		req.count = room;
		req.state_size = size;
		if (ioctl(t->fd, MQDEV_IOC_REPLICA_GROUPS, &req)) {
			err = -errno;
			free(buf);
			return err;
		}
		if (req.count <= room)
			break;
		room = req.count;
	}
	*states = buf;
	*count = req.count;
	*serial = req.serial;
	return 0;
}

/**
 * groups_persist() - keep the groups' committed offsets
 * @t: the topic, whose replica's handle polled EPOLLPRI
 *
 * The serial they are at is confirmed once the topic's other state of it
 * is kept too (topic_kept_confirm()).
 *
 * Return: 0 or -errno (-ENOTTY: the kernel cannot say).
 */
int groups_persist(struct topic *t)
{
	uint32_t parts = t->info.partitions, count = 0, i, p;
	size_t size = sizeof(struct mqdev_group_state) + 8 * parts;
	const struct mqdev_group_state *g;
	const uint64_t *committed;
	char *states = NULL, *text, name[MQDEV_NAME_SIZE + 16];
	size_t len = 0, room;
	uint64_t serial = 0;
	int err;

	err = groups_fetch(t, &states, &count, &serial, size);
	if (err)
		return err;
	room = count * (MQDEV_NAME_SIZE + 32 + parts * 21) + 1;
	text = malloc(room);
	if (!text) {
		free(states);
		return -ENOMEM;
	}
	for (i = 0; i < count; i++) {
		g = (const void *)(states + i * size);
		committed = (const void *)(g + 1);
		len += snprintf(text + len, room - len, "%.*s %u",
				MQDEV_NAME_MAX, g->name, g->uid);
		for (p = 0; p < parts; p++)
			len += snprintf(text + len, room - len, " %" PRIu64,
					committed[p]);
		len += snprintf(text + len, room - len, "\n");
	}
	free(states);
	err = state_write(data_dirfd, state_name(name, t->name, "groups"),
			  text, len, 0600);
	free(text);
	if (!err)
		t->groups_kept = serial;
	return err;
}

/* ---- producer identities ----------------------------------------------- */

/*
 * Producer ids whose identity (if named) is on disk: a record of one may
 * be confirmed.  An open-addressing set; ids are never 0.
 */
static uint64_t *known;
static size_t known_size, known_used;
static bool pending;
/* ids taken since the last keeping: anonymous ones count as kept after it */
#define PENDING_MAX	1024
static uint64_t pending_ids[PENDING_MAX];
static unsigned int nr_pending;

static bool set_find(uint64_t id, size_t *slot)
{
	size_t i = (id * 0x9e3779b97f4a7c15ULL) & (known_size - 1);

	while (known[i] && known[i] != id)
		i = (i + 1) & (known_size - 1);
	*slot = i;
	return known[i] == id;
}

/**
 * identity_known() - may records of producer @id be confirmed?
 * @id: a producer id, 0 for none
 *
 * Return: true when its identity (if it has a name) is on disk.
 */
bool identity_known(uint64_t id)
{
	size_t slot;

	return !id || (known_size && set_find(id, &slot));
}

static int set_add(uint64_t id)
{
	uint64_t *old = known, *nk;
	size_t old_size = known_size, slot, i;

	if (identity_known(id))
		return 0;
	if ((known_used + 1) * 2 > known_size) {
		nk = calloc(known_size ? known_size * 2 : 1024, sizeof(*nk));
		if (!nk)
			return -ENOMEM;
		known = nk;
		known_size = known_size ? known_size * 2 : 1024;
		for (i = 0; i < old_size; i++)
			if (old[i]) {
				set_find(old[i], &slot);
				known[slot] = old[i];
			}
		free(old);
	}
	set_find(id, &slot);
	known[slot] = id;
	known_used++;
	return 0;
}

/* A record of producer @id was taken: its identity must be kept first. */
void identity_note(uint64_t id)
{
	unsigned int i;

	if (identity_known(id))
		return;
	pending = true;
	for (i = 0; i < nr_pending && pending_ids[i] != id; i++)
		;
	if (i == nr_pending && nr_pending < PENDING_MAX)
		pending_ids[nr_pending++] = id;
}

/**
 * identities_pending() - were records taken of producers not yet known?
 *
 * Return: true when identities_persist() must run before confirming.
 */
bool identities_pending(void)
{
	return pending;
}

static int identities_fetch(struct mqdev_identity_state **states,
			    uint32_t *count)
{
	struct mqdev_identity_list req = {};
	struct mqdev_identity_state *buf = NULL, *nb;
	uint32_t room = 64;
	int fd = mqdev_open(), err = 0;

	if (fd < 0)
		return fd;
	for (;;) {
		nb = realloc(buf, room * sizeof(*buf));
		if (!nb) {
			err = -ENOMEM;
			break;
		}
		buf = nb;
		memset(&req, 0, sizeof(req));
		req.states = (uintptr_t)buf;
		req.count = room;
		req.state_size = sizeof(*buf);
		if (ioctl(fd, MQDEV_IOC_IDENTITY_LIST, &req)) {
			err = -errno;
			break;
		}
		if (req.count <= room)
			break;
		room = req.count;
	}
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	*states = buf;
	*count = req.count;
	return 0;
}

/**
 * identities_persist() - keep every named producer identity, so that the
 * records of every producer taken so far may be confirmed
 * @dirfd: the data directory
 *
 * Anonymous producers' ids have no identity to keep: after this, every id
 * taken counts as kept.
 *
 * Return: 0 or -errno (-ENOTTY: the kernel cannot list them).
 */
int identities_persist(int dirfd)
{
	struct mqdev_identity_state *s;
	size_t len = 0, room;
	uint32_t count, i;
	char *text;
	int err;

	err = identities_fetch(&s, &count);
	if (err)
		return err;
	room = count * (MQDEV_NAME_SIZE + 64) + 1;
	text = malloc(room);
	if (!text) {
		free(s);
		return -ENOMEM;
	}
	for (i = 0; i < count; i++)
		len += snprintf(text + len, room - len, "%.*s %" PRIu64 " %u %u\n",
				MQDEV_NAME_MAX, s[i].name,
				(uint64_t)s[i].producer_id, s[i].epoch,
				s[i].uid);
	err = state_write(dirfd, IDENTITIES_FILE, text, len, 0600);
	free(text);
	for (i = 0; !err && i < count; i++)
		err = set_add(s[i].producer_id);
	for (i = 0; !err && i < nr_pending; i++)
		err = set_add(pending_ids[i]);
	free(s);
	if (!err) {
		pending = false;
		nr_pending = 0;
	}
	return err;
}

/**
 * restore_identities() - bring back every kept producer identity
 * @dirfd: the data directory
 *
 * Return: 0 or -errno (-ENOTTY: the kernel cannot).
 */
int restore_identities(int dirfd)
{
	struct mqdev_identity_state s;
	char *text, *line, *save = NULL;
	char name[MQDEV_NAME_SIZE];
	unsigned long long id;
	int fd, err = 0;

	err = state_read(dirfd, IDENTITIES_FILE, &text);
	if (err)
		return err == -ENOENT ? 0 : err;
	fd = mqdev_open();
	if (fd < 0) {
		free(text);
		return fd;
	}
	for (line = strtok_r(text, "\n", &save); line && !err;
	     line = strtok_r(NULL, "\n", &save)) {
		memset(&s, 0, sizeof(s));
		if (sscanf(line, "%64s %llu %u %u", name, &id, &s.epoch,
			   &s.uid) != 4 || mqdev_name_set(s.name, name)) {
			say(LOG_ERR, "%s: a line that is not an identity: '%s'",
			    IDENTITIES_FILE, line);
			continue;
		}
		s.producer_id = id;
		if (ioctl(fd, MQDEV_IOC_IDENTITY_RESTORE, &s) && errno != EEXIST)
			err = -errno;
		else
			err = set_add(id);
	}
	close(fd);
	free(text);
	return err;
}
