// SPDX-License-Identifier: GPL-2.0
/*
 * mqdev-persistd: the disk replica of every durable topic of its network
 * namespace.
 *
 * One thread, one epoll loop.  Each turn of the loop:
 *   1. takes what is new in the rings of the topics that polled readable,
 *      gathering each partition's records into a batch in memory;
 *   2. writes each batch with one write(2) (segment files, see segment.h);
 *   3. fdatasyncs, once per file, what the "always" topics wrote: every
 *      batch that arrived while the previous fdatasync ran is covered by
 *      this one (group commit), with no thread to hand off to;
 *   4. confirms to the kernel what its topic's fsync policy makes safe.
 * Groups' offsets, scheduled messages and the TTL are kept when the
 * replica's handle polls EPOLLPRI (the scheduled messages once the log
 * reaches where the kernel's snapshot of them stood: sched.c); topics
 * come and go with the netlink events; a timer drives "interval" syncs,
 * retention and the retry of failed writes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include "persistd.h"
#include "../common/sig.h"

#define TICK_MS		100	/* the loop's longest sleep */
#define RETENTION_MS	5000	/* between retention passes */
#define RESCAN_MS	2000	/* between tries of a topic that failed */
#define DRAIN_BUDGET	(16U << 20)	/* bytes from one topic per turn */
#define NL_TAG		((void *)1)
#define SIG_TAG		((void *)2)

int data_dirfd = -1;
const struct config *cfg;

static struct config config;
static struct topic *topics;
static struct topic *graveyard;	/* removed, freed after the event batch */
static struct mqdev_nl *nl;
static int epfd = -1;
static bool foreground, stopping, ids_unsupported, rescan;

static const char usage[] =
"usage: mqdev-persistd [--config FILE] [--data-dir DIR] [--foreground]\n"
"\n"
"The disk replica of every durable mqdev topic of this network namespace:\n"
"writes each partition to segment files, confirms to the kernel what its\n"
"topic's fsync policy makes safe, keeps groups' offsets and producer\n"
"identities, applies retention, and restores the topics after the module\n"
"was loaded again.  Needs CAP_SYS_ADMIN.\n"
"\n"
"  -c, --config FILE   settings (default /etc/mqdev/mqdev-persistd.conf,\n"
"                      if it exists); see mqdev-persistd(8)\n"
"  -d, --data-dir DIR  where the logs go (overrides the file's data_dir)\n"
"  -f, --foreground    stay in the foreground, log to stderr\n"
"  -h, --help          this text\n"
"\n"
"SIGTERM or SIGINT: hold durable topics' scheduled messages, write and\n"
"sync what was taken and the scheduled messages, then exit.\n";

/**
 * now_ms() - the time of day
 *
 * Return: milliseconds since the epoch.
 */
uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void say(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (foreground) {
		fputs("mqdev-persistd: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	} else {
		vsyslog(prio, fmt, ap);
	}
	va_end(ap);
}

/* ---- topics ------------------------------------------------------------ */

static struct topic *topic_find(const char *name)
{
	struct topic *t;

	for (t = topics; t; t = t->next)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

static void topic_free(struct topic *t)
{
	uint32_t p;

	if (t->fd >= 0)
		epoll_ctl(epfd, EPOLL_CTL_DEL, t->fd, NULL);
	mqdev_consumer_free(t->rep);
	for (p = 0; t->parts && p < t->info.partitions; p++)
		plog_close(&t->parts[p]);
	free(t->parts);
	sched_free(t);
	if (t->dirfd >= 0)
		close(t->dirfd);
	free(t);
}

/* The topic's directory and logs, checked (and torn tails cut). */
static int topic_open_disk(struct topic *t, struct pwins *w)
{
	uint32_t p;
	int err;

	err = mkdir_owned(data_dirfd, t->name, t);
	if (err)
		return err;
	t->dirfd = openat(data_dirfd, t->name, O_RDONLY | O_DIRECTORY |
			  O_NOFOLLOW | O_CLOEXEC);
	if (t->dirfd < 0)
		return -errno;
	err = topic_config_write(t);
	if (err)
		return err;
	t->parts = calloc(t->info.partitions, sizeof(*t->parts));
	if (!t->parts)
		return -ENOMEM;
	for (p = 0; p < t->info.partitions; p++)
		plog_init(&t->parts[p], p);
	for (p = 0; p < t->info.partitions; p++) {
		err = plog_open(&t->parts[p], t->dirfd, t, pwins_fn(),
				pwins_at(w, p));
		if (err)
			return err;
	}
	return 0;
}

/*
 * Where the replica starts in each partition: where the disk ends.  The
 * ring may have moved past that (the daemon was down while the module
 * kept running with no replica in sync): those records were never safe
 * here and are gone.  A disk ahead of the ring is another incarnation of
 * the topic: -ESTALE.
 */
static int topic_seek(struct topic *t, bool restoring)
{
	uint32_t n = t->info.partitions, p;
	struct mqdev_partition_info *pi;
	struct mqdev_topic_info info;
	struct plog *pl;
	int err;

	pi = calloc(n, sizeof(*pi));
	if (!pi)
		return -ENOMEM;
	/* being restored (no one may describe it): its rings begin here */
	for (p = 0; restoring && p < n; p++)
		pi[p].first_offset = pi[p].next_offset = t->parts[p].next_offset;
	err = restoring ? 0 : mqdev_topic_describe(t->fd, t->name, &info, pi, n);
	for (p = 0; !err && p < n; p++) {
		pl = &t->parts[p];
		if (pl->next_offset > pi[p].next_offset) {
			err = -ESTALE;
			break;
		}
		if (pl->next_offset < pi[p].first_offset) {
			say(LOG_CRIT, "%s/%u: the ring starts at offset %llu, the "
			    "disk ends at %llu: records %llu to %llu were never "
			    "made safe here and are lost", t->name, p,
			    (unsigned long long)pi[p].first_offset,
			    (unsigned long long)pl->next_offset,
			    (unsigned long long)pl->next_offset,
			    (unsigned long long)pi[p].first_offset - 1);
			pl->next_offset = pl->written = pl->synced =
				pi[p].first_offset;
		}
		err = mqdev_consumer_seek(t->rep, p, MQDEV_SEEK_OFFSET,
					  pl->next_offset, 0, NULL);
	}
	free(pi);
	return err;
}

/*
 * Confirm where the disk ends in every partition: at the end of the log,
 * that puts the replica in sync at once (an empty topic's too).
 */
static int topic_join(struct topic *t)
{
	struct plog *p;
	uint32_t i;
	int err;

	for (i = 0; i < t->info.partitions; i++) {
		p = &t->parts[i];
		err = mqdev_replica_confirm(t->rep, i, p->synced, &p->confirmed,
					    NULL);
		if (err)
			return err;
	}
	return 0;
}

static int topic_attach(struct topic *t, bool restoring)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts,
		      .flags = MQDEV_CONSUMER_REPLICA);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLPRI, .data.ptr = t };
	int err;

	err = mqdev_consumer_new(t->name, &opts, &t->rep);
	if (err)
		return err;
	t->fd = mqdev_consumer_fd(t->rep);
	err = topic_seek(t, restoring);
	if (err)
		return err;
	err = topic_join(t);
	if (err)
		return err;
	return epoll_ctl(epfd, EPOLL_CTL_ADD, t->fd, &ev) ? -errno : 0;
}

/* Move an older incarnation's files out of the way, loudly. */
static void topic_set_aside(const char *name)
{
	char aside[NAME_MAX + 1];

	snprintf(aside, sizeof(aside), "%s@%llu", name,
		 (unsigned long long)now_ms());
	say(LOG_CRIT, "%s: the disk has offsets the kernel's topic of that name "
	    "never had: another topic; its files are kept as %s/%s", name,
	    config.data_dir, aside);
	if (renameat(data_dirfd, name, data_dirfd, aside))
		say(LOG_ERR, "%s: rename to %s: %s", name, aside,
		    strerror(errno));
}

static struct topic *topic_alloc(const char *name,
				 const struct mqdev_topic_info *info,
				 uint64_t ttl_ns)
{
	struct topic *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->info = *info;
	t->ttl_ns = ttl_ns;
	t->pol = config_policy(&config, name);
	t->fd = t->dirfd = -1;
	return t;
}

/* The kernel's TTL of @t: 0, or -errno. */
static int topic_ttl_query(struct topic *t)
{
	int fd = mqdev_open(), err;

	if (fd < 0)
		return fd;
	err = mqdev_topic_get_ttl(fd, t->name, &t->ttl_ns);
	close(fd);
	return err;
}

/*
 * The scheduled messages as the topic has them now, to write when the log
 * reaches the snapshot's ends: also a hold the daemon's last stop left
 * taken (sched_stop()) is let go.
 */
static int topic_sched_start(struct topic *t)
{
	int err = sched_fetch(t, false);

	if (err == -ENOTTY) {
		say(LOG_WARNING, "%s: this kernel cannot list scheduled "
		    "messages: they will not be restored", t->name);
		t->sched_unsupported = true;
		return 0;
	}
	return err;
}

/*
 * Replicate @name, which the kernel has (@restore false), or bring it back
 * from disk first (@restore true, with the TTL the disk kept).
 */
static int topic_add(const char *name, const struct mqdev_topic_info *info,
		     uint64_t ttl_ns, bool restore)
{
	struct pwins *w = NULL;
	struct topic *t;
	int err, tries = 0;

again:
	t = topic_alloc(name, info, ttl_ns);
	if (!t)
		return -ENOMEM;
	if (restore) {
		w = pwins_new(info->partitions);
		if (!w) {
			free(t);
			return -ENOMEM;
		}
	}
	err = restore ? 0 : topic_ttl_query(t);
	if (!err)
		err = topic_open_disk(t, w);
	if (!err && restore)
		err = restore_topic_create(t);
	if (!err)
		err = topic_attach(t, restore);
	if (!err && restore)
		err = restore_topic_state(t, w);
	if (!err)
		err = topic_sched_start(t);
	pwins_free(w, info->partitions);
	if (err == -ESTALE && !restore && !tries++) {
		topic_free(t);
		topic_set_aside(name);
		goto again;
	}
	if (err) {
		say(LOG_ERR, "%s: cannot %s it: %s%s", name,
		    restore ? "restore" : "replicate", strerror(-err),
		    err == -ENOTTY ? " (this kernel cannot restore topics)" :
		    err == -EACCES || err == -EROFS || err == -ENOSPC ?
		    ": nothing of it is confirmed until this is mended" : "");
		topic_free(t);
		return err;
	}
	t->next = topics;
	topics = t;
	say(LOG_INFO, "%s: %s, %u partitions, fsync %s", name,
	    restore ? "restored" : "replicating", info->partitions,
	    t->pol->fsync == FSYNC_ALWAYS ? "always" :
	    t->pol->fsync == FSYNC_OS ? "os" : "interval");
	return 0;
}

static void topic_remove(struct topic *t, bool delete_files)
{
	char name[MQDEV_NAME_SIZE + 16];
	struct topic **pp;

	for (pp = &topics; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	if (delete_files) {
		say(LOG_INFO, "%s: deleted: removing its files", t->name);
		close(t->dirfd);
		t->dirfd = -1;
		rmtree_at(data_dirfd, t->name);
		unlinkat(data_dirfd, state_name(name, t->name, "config"), 0);
		unlinkat(data_dirfd, state_name(name, t->name, "groups"), 0);
		unlinkat(data_dirfd, state_name(name, t->name, "scheduled"), 0);
		fsync_dir(data_dirfd);
	}
	/* events of this epoll_wait() may still name it */
	epoll_ctl(epfd, EPOLL_CTL_DEL, t->fd, NULL);
	t->dead = true;
	t->next = graveyard;
	graveyard = t;
}

static void graveyard_empty(void)
{
	struct topic *t;

	while ((t = graveyard)) {
		graveyard = t->next;
		topic_free(t);
	}
}

/* A topic the kernel has: replicate it if it is durable and new to us. */
static void topic_found(const char *name)
{
	struct mqdev_topic_info info;
	int fd, err;

	if (topic_find(name))
		return;
	fd = mqdev_open();
	if (fd < 0)
		return;
	err = mqdev_topic_describe(fd, name, &info, NULL, 0);
	close(fd);
	if (!err && (info.flags & MQDEV_TOPIC_DURABLE) &&
	    topic_add(name, &info, 0, false))
		rescan = true;	/* try again later */
}

/* ---- the work of a turn ------------------------------------------------ */

/* Records of partition @p between its log's end and @offset: aborted. */
static int fill_gap(struct topic *t, struct plog *p, uint64_t offset)
{
	int err;

	while (p->next_offset < offset) {
		err = plog_placeholder(p, p->next_offset);
		if (err == -EAGAIN)
			err = plog_flush(p, t);
		if (err)
			return err;
	}
	return 0;
}

static int run_append(struct topic *t, const struct mqdev_record *rec)
{
	struct plog *p = &t->parts[rec->partition];
	int err;

	err = fill_gap(t, p, rec->offset);
	if (err)
		return err;
	err = plog_append(p, rec, true);
	if (err == -EAGAIN) {
		err = plog_flush(p, t);
		if (!err)
			err = plog_append(p, rec, true);
	}
	if (!err)
		identity_note(rec->producer_id);
	return err;
}

static void write_failed(struct topic *t, struct plog *p, int err)
{
	if (p->write_err != err)
		say(LOG_ERR, "%s/%u: writing the log: %s: not confirming past "
		    "offset %llu until it works (retrying every %d ms)",
		    t->name, p->partition, strerror(-err),
		    (unsigned long long)p->written, TICK_MS);
	p->write_err = err;
	t->stalled = true;
}

/* Take what is new in @t's rings into batches; false if a write failed. */
static bool topic_drain(struct topic *t)
{
	uint64_t taken = 0, lost;
	int err;

	while (taken < DRAIN_BUDGET) {
		if (t->run_i == t->run_n) {
			t->run_n = mqdev_consumer_peek_batch(t->rep, t->run, 64);
			t->run_i = 0;
			if (t->run_n <= 0) {
				t->run_n = 0;
				break;
			}
		}
		for (; t->run_i < t->run_n; t->run_i++) {
			err = run_append(t, t->run[t->run_i]);
			if (err) {
				write_failed(t, &t->parts[t->run[t->run_i]->
							  partition], err);
				return false;
			}
			taken += t->run[t->run_i]->len;
		}
		mqdev_consumer_release(t->rep);
	}
	lost = mqdev_consumer_lost(t->rep);
	if (lost != t->lost) {
		say(LOG_CRIT, "%s: %llu records were reclaimed from the ring "
		    "before this replica read them: lost", t->name,
		    (unsigned long long)(lost - t->lost));
		t->lost = lost;
	}
	err = mqdev_consumer_error(t->rep);
	if (err && !t->read_err)
		say(LOG_ERR, "%s: reading the ring: %s: replicating it no more",
		    t->name, strerror(-err));
	t->read_err = err;
	return true;
}

/* Write every gathered batch, with the aborted records at the end. */
static void topic_write(struct topic *t)
{
	struct plog *p;
	uint32_t i;
	int err;

	t->stalled = false;
	for (i = 0; i < t->info.partitions; i++) {
		p = &t->parts[i];
		err = fill_gap(t, p, mqdev_consumer_position(t->rep, i));
		if (!err)
			err = plog_flush(p, t);
		if (err) {
			write_failed(t, p, err);
			continue;
		}
		if (p->write_err)
			say(LOG_INFO, "%s/%u: writing works again", t->name, i);
		p->write_err = 0;
	}
}

/*
 * More than one partition to make durable: one syncfs(2) covers them all,
 * where fdatasync(2) one after another would pay the disk's flush each
 * time (16 partitions: 16 flushes a turn).  True if that was done; false
 * to sync them one by one (one partition, or syncfs failed: each file's
 * own sync then says which).
 */
static bool topic_sync_all(struct topic *t)
{
	uint32_t i, dirty = 0;
	int fd = -1;
	uint64_t *upto;

	for (i = 0; i < t->info.partitions; i++)
		if (t->parts[i].written != t->parts[i].synced) {
			dirty++;
			fd = t->parts[i].fd;
		}
	if (dirty < 2)
		return false;
	upto = calloc(t->info.partitions, sizeof(*upto));
	if (!upto)
		return false;
	for (i = 0; i < t->info.partitions; i++)
		upto[i] = t->parts[i].written;
	if (syncfs(fd)) {
		free(upto);
		return false;
	}
	for (i = 0; i < t->info.partitions; i++)
		t->parts[i].synced = upto[i];
	free(upto);
	return true;
}

static void topic_sync(struct topic *t, uint64_t now)
{
	uint32_t i;
	int err;

	if (t->pol->fsync == FSYNC_OS)
		return;
	if (t->pol->fsync == FSYNC_INTERVAL) {
		if (now < t->next_sync_ms)
			return;
		t->next_sync_ms = now + t->pol->interval_ms;
	}
	if (topic_sync_all(t))
		return;
	for (i = 0; i < t->info.partitions; i++) {
		err = plog_sync(&t->parts[i]);
		if (err)
			say(LOG_ERR, "%s/%u: fdatasync: %s: not confirmed",
			    t->name, i, strerror(-err));
	}
}

static void topic_confirm(struct topic *t)
{
	uint64_t upto, confirmed;
	struct plog *p;
	uint32_t i;
	int err;

	for (i = 0; i < t->info.partitions; i++) {
		p = &t->parts[i];
		upto = t->pol->fsync == FSYNC_ALWAYS ? p->synced : p->written;
		if (upto <= p->confirmed)
			continue;
		err = mqdev_replica_confirm(t->rep, i, upto, &confirmed, NULL);
		if (err) {
			say(LOG_ERR, "%s/%u: confirming offset %llu: %s",
			    t->name, i, (unsigned long long)upto,
			    strerror(-err));
			continue;
		}
		p->confirmed = confirmed;
	}
}

/* Named producers' identities go to disk before their records count. */
static bool identities_safe(void)
{
	int err;

	if (!identities_pending())
		return true;
	err = identities_persist(data_dirfd);
	if (err == -ENOTTY) {
		if (!ids_unsupported)
			say(LOG_WARNING, "this kernel cannot list producer "
			    "identities: they will not be restored");
		ids_unsupported = true;
		return true;
	}
	if (err)
		say(LOG_ERR, "keeping producer identities: %s: not confirming",
		    strerror(-err));
	return !err;
}

/* EPOLLPRI only while there is something to keep and nothing pending. */
static void topic_pri(struct topic *t)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = t };

	if (!t->groups_unsupported && !t->sched_pending)
		ev.events |= EPOLLPRI;
	epoll_ctl(epfd, EPOLL_CTL_MOD, t->fd, &ev);
}

/*
 * Confirm the serial up to which both the groups and the scheduled
 * messages are on disk: a commit, a SCHEDULE or a SCHED_CANCEL waiting
 * for it returns.
 */
static void topic_kept_confirm(struct topic *t)
{
	struct mqdev_replica_confirm conf = { .flags = MQDEV_CONFIRM_GROUPS };
	uint64_t serial = t->groups_kept;

	if (!t->sched_unsupported && t->sched_kept < serial)
		serial = t->sched_kept;
	if (serial <= t->kept_confirmed)
		return;
	conf.offset = serial;
	if (ioctl(t->fd, MQDEV_IOC_REPLICA_CONFIRM, &conf))
		say(LOG_ERR, "%s: confirming serial %llu: %s", t->name,
		    (unsigned long long)serial, strerror(errno));
	else
		t->kept_confirmed = serial;
}

/* @what was kept (@err 0): confirm what is, and ask for EPOLLPRI again. */
static void topic_kept(struct topic *t, int err, const char *what)
{
	if (err) {
		say(LOG_ERR, "%s: keeping %s: %s: not confirmed", t->name, what,
		    strerror(-err));
		return;
	}
	topic_pri(t);
	topic_kept_confirm(t);
}

/* The TTL changed (it counts in the serial): TOPIC@config says it anew. */
static int topic_ttl_keep(struct topic *t)
{
	uint64_t was = t->ttl_ns;
	int err;

	err = topic_ttl_query(t);
	if (err || t->ttl_ns == was)
		return err;
	return topic_config_write(t);
}

/* The replica polled EPOLLPRI: what the kernel counts in the serial. */
static void topic_groups(struct topic *t)
{
	int err;

	if (t->groups_unsupported)
		return;
	err = groups_persist(t);
	if (err == -ENOTTY) {
		say(LOG_WARNING, "%s: this kernel cannot list groups' offsets: "
		    "they will not be restored", t->name);
		t->groups_unsupported = true;
		topic_pri(t);
		return;
	}
	if (err) {
		say(LOG_ERR, "%s: keeping groups' offsets: %s: not confirmed",
		    t->name, strerror(-err));
		return;
	}
	err = topic_ttl_keep(t);
	if (err) {
		say(LOG_ERR, "%s: keeping its TTL: %s: not confirmed", t->name,
		    strerror(-err));
		return;
	}
	if (!t->sched_unsupported && !t->sched_pending) {
		err = sched_unchanged(t);
		if (!err)
			err = topic_sched_start(t);
	}
	topic_kept(t, err < 0 ? err : 0, "scheduled messages");
}

/* A snapshot whose ends the log reached replaces TOPIC@scheduled. */
static void topic_sched_keep(struct topic *t)
{
	if (t->sched_pending && sched_ready(t))
		topic_kept(t, sched_write(t), "scheduled messages");
}

/*
 * How long a stop may wait for the log to reach a snapshot's ends: a
 * replica in sync may be as far behind as the module's replica_lag_ms
 * (10 s unless set), and a little more for the writes.
 */
static uint64_t sched_stop_ms(void)
{
	unsigned long lag = 10000;
	FILE *f = fopen("/sys/module/mqdev/parameters/replica_lag_ms", "re");

	if (f) {
		if (fscanf(f, "%lu", &lag) != 1)
			lag = 10000;
		fclose(f);
	}
	return (uint64_t)lag + 1000;
}

/*
 * Stopping: no scheduled message is appended from now on (the hold stays
 * until a daemon takes a snapshot again, or sched_hold_ms after this
 * replica's handle is closed), and the log is taken up to where the
 * snapshot's ends say, by @deadline, so that the file and the log agree:
 * a message is in exactly one of them.
 */
static void topic_sched_stop(struct topic *t, uint64_t deadline)
{
	int err;

	if (t->sched_unsupported || t->dead)
		return;
	err = sched_fetch(t, true);
	if (err) {
		/* A page after the first may have taken the hold: let go. */
		say(LOG_ERR, "%s: the scheduled messages' last snapshot: %s: "
		    "their file is the one before", t->name, strerror(-err));
		sched_unhold(t);
		return;
	}
	while (!sched_taken(t) && now_ms() < deadline) {
		if (!topic_drain(t))
			break;
		topic_write(t);
		if (!sched_taken(t))
			usleep(10000);
	}
}

/* ---- events ------------------------------------------------------------ */

static void nl_events(void)
{
	LIBMQDEV_OPTS(mqdev_event, ev);
	struct topic *t;
	char name[MQDEV_NAME_SIZE];

	while (mqdev_nl_event(nl, &ev, 0) > 0) {
		snprintf(name, sizeof(name), "%.*s", MQDEV_NAME_MAX, ev.topic);
		if (ev.cmd == MQDEV_CMD_EVENT_TOPIC_NEW) {
			topic_found(name);
		} else if (ev.cmd == MQDEV_CMD_EVENT_TOPIC_DEL) {
			t = topic_find(name);
			if (t)
				topic_remove(t, true);
		}
	}
}

/* Every durable topic the kernel has, and every one on disk it lacks. */
static int scan_topics(bool restore)
{
	char (*names)[MQDEV_NAME_SIZE] = NULL;
	struct mqdev_topic_info info;
	struct dirent *de;
	uint64_t ttl;
	int fd, n, i, dfd;
	DIR *d;

	fd = mqdev_open();
	if (fd < 0)
		return fd;
	n = mqdev_topic_list(fd, &names);
	close(fd);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++)
		topic_found(names[i]);
	if (!restore)
		goto out;
	dfd = dup(data_dirfd);
	d = dfd < 0 ? NULL : fdopendir(dfd);
	if (!d)
		goto out;
	while ((de = readdir(d))) {
		for (i = 0; i < n && strcmp(names[i], de->d_name); i++)
			;
		if (i < n || strchr(de->d_name, '@') || de->d_name[0] == '.' ||
		    strlen(de->d_name) > MQDEV_NAME_MAX)
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		memset(&info, 0, sizeof(info));
		if (!topic_config_read(de->d_name, &info, &ttl))
			topic_add(de->d_name, &info, ttl, true);
	}
	closedir(d);
out:
	free(names);
	return 0;
}

static void turn(uint64_t now)
{
	static uint64_t retention_due;
	struct topic *t;
	bool safe;
	uint32_t i;

	for (t = topics; t; t = t->next)
		topic_write(t);
	for (t = topics; t; t = t->next)
		topic_sync(t, now);
	safe = identities_safe();
	for (t = topics; safe && t; t = t->next)
		topic_confirm(t);
	for (t = topics; t; t = t->next)
		topic_sched_keep(t);
	if (now >= retention_due) {
		retention_due = now + RETENTION_MS;
		for (t = topics; t; t = t->next)
			for (i = 0; i < t->info.partitions; i++)
				plog_retention(&t->parts[i], t, now);
	}
}

/* Its ring says the topic is gone: if the kernel agrees, so are its files. */
static void topic_hup(struct topic *t)
{
	struct mqdev_topic_info info;
	int fd = mqdev_open(), err;

	if (fd < 0)
		return;
	err = mqdev_topic_describe(fd, t->name, &info, NULL, 0);
	close(fd);
	if (err == -ENOENT)
		topic_remove(t, true);
}

static void handle(struct epoll_event *ev)
{
	struct topic *t = ev->data.ptr;

	if (ev->data.ptr == NL_TAG) {
		nl_events();
		return;
	}
	if (t->dead)
		return;
	if (ev->events & EPOLLPRI)
		topic_groups(t);
	if (ev->events & EPOLLHUP) {
		topic_hup(t);
		return;
	}
	if (!t->stalled)
		topic_drain(t);
}

static int loop(int sfd)
{
	uint64_t rescan_due = 0, stop_by;
	struct epoll_event evs[64], ev = { .events = EPOLLIN };
	struct topic *t;
	int n, i;

	/* the signal is not read: it ends the loop, and the process */
	ev.data.ptr = SIG_TAG;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev))
		return -errno;
	while (!stopping) {
		n = epoll_wait(epfd, evs, 64, TICK_MS);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == SIG_TAG) {
				stopping = true;
				continue;
			}
			handle(&evs[i]);
		}
		graveyard_empty();
		if (rescan && now_ms() >= rescan_due) {
			rescan = false;
			rescan_due = now_ms() + RESCAN_MS;
			scan_topics(false);
		}
		turn(now_ms());
	}
	stop_by = now_ms() + sched_stop_ms();
	for (t = topics; t; t = t->next)
		topic_sched_stop(t, stop_by);
	for (t = topics; t; t = t->next)
		for (i = 0; i < (int)t->info.partitions; i++)
			plog_sync(&t->parts[i]);
	turn(now_ms());
	for (t = topics; t; t = t->next)
		if (t->sched_pending)
			say(LOG_ERR, "%s: the log did not reach the scheduled "
			    "messages' snapshot: their file is the one before",
			    t->name);
	say(LOG_INFO, "stopping: what was taken is written and synced");
	return 0;
}

static int setup(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NL_TAG };
	int err;

	if (mkdir(config.data_dir, 0755) && errno != EEXIST) {
		say(LOG_ERR, "data dir %s: %s", config.data_dir, strerror(errno));
		return -errno;
	}
	data_dirfd = open(config.data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (data_dirfd < 0) {
		err = -errno;
		say(LOG_ERR, "data dir %s: %s", config.data_dir, strerror(-err));
		return err;
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -errno;
	/* subscribe first: a topic made while we list is not missed */
	err = mqdev_nl_open(&nl);
	if (!err)
		err = mqdev_nl_subscribe(nl);
	if (err) {
		say(LOG_ERR, "the mqdev netlink family: %s", strerror(-err));
		return err;
	}
	ev.data.ptr = NL_TAG;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, mqdev_nl_fd(nl), &ev))
		return -errno;
	err = restore_identities(data_dirfd);
	if (err == -ENOTTY)
		say(LOG_WARNING, "this kernel cannot restore producer "
		    "identities");
	else if (err)
		say(LOG_ERR, "restoring producer identities: %s",
		    strerror(-err));
	err = scan_topics(true);
	if (!err)
		say(LOG_INFO, "ready: replicating the durable topics of %s",
		    config.data_dir);
	return err;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "data-dir", required_argument, NULL, 'd' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *path = NULL, *dir = NULL;
	int opt, sfd, err;

	while ((opt = getopt_long(argc, argv, "c:d:fh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'd': dir = optarg; break;
		case 'f': foreground = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	if (!foreground)
		openlog("mqdev-persistd", LOG_PID, LOG_DAEMON);
	if (!path && !access("/etc/mqdev/mqdev-persistd.conf", F_OK))
		path = "/etc/mqdev/mqdev-persistd.conf";
	if (config_load(&config, path))
		return 1;
	if (dir && (*dir != '/' || strlen(dir) >= sizeof(config.data_dir))) {
		say(LOG_ERR, "--data-dir: an absolute path, please");
		return 2;
	}
	if (dir)
		strcpy(config.data_dir, dir);
	cfg = &config;

	sfd = stop_signal_fd();
	if (sfd < 0)
		return 1;
	if (!foreground && daemon(0, 0))
		return 1;
	err = setup();
	if (!err)
		err = loop(sfd);
	while (topics)
		topic_remove(topics, false);
	graveyard_empty();
	mqdev_nl_close(nl);
	config_free(&config);
	close(sfd);
	if (err)
		say(LOG_ERR, "exiting: %s", strerror(-err));
	return err ? 1 : 0;
}
