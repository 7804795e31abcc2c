/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mqdev-persistd: the disk replica of every durable topic of its network
 * namespace (see mqdev-persistd(8) and Documentation/mqdev.rst).
 */
#ifndef _PERSISTD_H
#define _PERSISTD_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include "libmqdev.h"
#include "segment.h"

enum fsync_policy {
	FSYNC_ALWAYS,		/* confirm only what an fdatasync covered */
	FSYNC_INTERVAL,		/* confirm after write; fdatasync every N ms */
	FSYNC_OS,		/* confirm after write; the kernel flushes */
};

struct policy {
	char			topic[MQDEV_NAME_SIZE];	/* "" for the default */
	enum fsync_policy	fsync;
	uint32_t		interval_ms;
	int64_t			retention_ms;		/* 0: keep forever */
	int64_t			retention_bytes;	/* per partition; 0: no limit */
	uint64_t		segment_bytes;
};

struct config {
	char			data_dir[PATH_MAX];
	struct policy		def;
	struct policy		*topics;	/* per-topic overrides */
	unsigned int		nr_topics;
};

/* One partition's log on disk, and what of it is safe. */
struct plog {
	uint32_t		partition;
	int			dirfd;
	int			fd;		/* the active segment, or -1 */
	int			idx_fd;
	uint64_t		base;		/* its base offset */
	uint64_t		size;		/* its bytes */
	uint64_t		indexed;	/* position of its last index entry */
	uint64_t		seg_max_ts;
	uint64_t		next_offset;	/* after the last record taken */
	uint64_t		written;	/* after the last record written */
	uint64_t		synced;		/* after the last one fdatasync'ed */
	uint64_t		confirmed;	/* to the kernel */
	uint64_t		last_ts;
	/* the batch being gathered: a header, then records */
	char			*buf;
	uint32_t		buf_size;
	uint32_t		buf_len;	/* bytes of records */
	uint32_t		buf_count;
	uint64_t		buf_base;
	uint64_t		buf_max_ts;
	int			write_err;	/* the last write's, until one works */
};

struct topic {
	struct topic		*next;
	char			name[MQDEV_NAME_SIZE];
	struct mqdev_topic_info	info;
	const struct policy	*pol;
	struct mqdev_consumer	*rep;
	int			fd;		/* the replica's */
	int			dirfd;
	struct plog		*parts;
	uint64_t		aborted;	/* mqdev_consumer_aborted() seen */
	uint64_t		lost;		/* mqdev_consumer_lost() seen */
	uint64_t		next_sync_ms;	/* FSYNC_INTERVAL */
	bool			groups_unsupported;
	uint64_t		ttl_ns;		/* kept in TOPIC@config */
	/* the serials of what is on disk, and the one confirmed */
	uint64_t		groups_kept;
	uint64_t		sched_kept;
	uint64_t		kept_confirmed;
	/* a snapshot of the scheduled messages, until the log reaches ends */
	bool			sched_unsupported;
	bool			sched_pending;
	char			*sched_buf;
	uint64_t		sched_len, sched_room, sched_count;
	uint64_t		sched_serial;
	uint64_t		*sched_ends;	/* per partition */
	bool			dead;		/* removed, not yet freed */
	int			read_err;	/* the replica's sticky error */
	bool			stalled;	/* a write failed: read no more */
	/* the run taken from the ring and not yet all in batches */
	const struct mqdev_record *run[64];
	int			run_n, run_i;
};

/* config.c */
int config_load(struct config *cfg, const char *path);
const struct policy *config_policy(const struct config *cfg, const char *topic);
void config_free(struct config *cfg);

/* log.c */
void plog_init(struct plog *p, uint32_t partition);
int plog_open(struct plog *p, int topic_dirfd, const struct topic *t,
	      mqseg_record_fn fn, void *ctx);
int plog_append(struct plog *p, const struct mqdev_record *rec, bool committed);
int plog_placeholder(struct plog *p, uint64_t offset);
int plog_flush(struct plog *p, const struct topic *t);
int plog_sync(struct plog *p);
void plog_retention(struct plog *p, const struct topic *t, uint64_t now_ms);
void plog_close(struct plog *p);

/* state.c */
int state_write(int dirfd, const char *name, const char *text, size_t len,
		mode_t mode);
int state_read(int dirfd, const char *name, char **text);
int fsync_dir(int dirfd);
int mkdir_owned(int dirfd, const char *name, const struct topic *t);
int rmtree_at(int dirfd, const char *name);
int topic_config_write(const struct topic *t);
int topic_config_read(const char *topic, struct mqdev_topic_info *info,
		      uint64_t *ttl_ns);
const char *state_name(char *buf, const char *topic, const char *what);
int groups_persist(struct topic *t);
int identities_persist(int data_dirfd);
bool identity_known(uint64_t producer_id);
void identity_note(uint64_t producer_id);
bool identities_pending(void);

int restore_identities(int data_dirfd);

/* sched.c */
void sched_free(struct topic *t);
int sched_fetch(struct topic *t, bool hold);
int sched_unhold(struct topic *t);
int sched_unchanged(struct topic *t);
bool sched_taken(const struct topic *t);
bool sched_ready(const struct topic *t);
int sched_write(struct topic *t);
int restore_sched(struct topic *t);

/* restore.c */
struct pwins;
struct pwins *pwins_new(uint32_t partitions);
void pwins_free(struct pwins *w, uint32_t partitions);
mqseg_record_fn pwins_fn(void);
void *pwins_at(struct pwins *w, uint32_t partition);
int restore_topic_create(const struct topic *t);
int restore_topic_state(struct topic *t, struct pwins *w);

/* persistd.c */
extern int data_dirfd;
extern const struct config *cfg;
uint64_t now_ms(void);
void say(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* _PERSISTD_H */
