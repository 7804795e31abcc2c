/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
#ifndef _MQDEV_INTERNAL_H
#define _MQDEV_INTERNAL_H

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <time.h>
#include "libmqdev.h"

#define MQDEV_EXPORT __attribute__((visibility("default")))

/*
 * The mmap offsets the kernel hands out (struct mqdev_ring_offsets) lie
 * past 4 GiB, from partition 1's ring on: a 32-bit build must map with a
 * 64-bit off_t, or every one of them would be cut to its low 32 bits.
 */
_Static_assert(sizeof(off_t) == 8,
	       "build libmqdev with -D_FILE_OFFSET_BITS=64");

/*
 * The 64-bit words shared with the kernel (a ring's head and tail, our
 * position, a record's offset) are 8-aligned in their pages, but i386
 * aligns a uint64_t to 4.  Accessed as u64_shared, an atomic access is one
 * instruction there too, not a call into libatomic, which this library
 * does not link and which may take a lock the kernel knows nothing of.
 * shared_ro() and shared_rw() take a field of a struct in such a page as
 * one; the cast goes through void *, as clang otherwise keeps the
 * struct's 4-byte alignment for the field.
 */
typedef uint64_t u64_shared __attribute__((aligned(8)));
#define shared_ro(p)	((const u64_shared *)(const void *)(p))
#define shared_rw(p)	((u64_shared *)(void *)(p))

/*
 * Options and results with a leading size_t sz, as libbpf has them (see
 * libmqdev.h).  TYPE_LAST is the last field this library knows of a struct.
 */
#ifndef offsetofend
#define offsetofend(TYPE, FIELD) \
	(offsetof(TYPE, FIELD) + sizeof(((TYPE *)0)->FIELD))
#endif

/*
 * @sz covers at least the size field, and what lies past the @known bytes
 * of this library's struct is zero: options it does not know are unset.
 */
static inline bool mqdev_opts_valid(const void *opts, size_t known)
{
	const unsigned char *p = opts;
	size_t sz, i;

	if (!opts)
		return true;
	sz = *(const size_t *)opts;
	if (sz < sizeof(size_t))
		return false;
	for (i = known; i < sz; i++)
		if (p[i])
			return false;
	return true;
}

#define OPTS_VALID(opts, type) \
	mqdev_opts_valid(opts, offsetofend(struct type, type##__last))
/* The caller's struct has @field: it ends within sz. */
#define OPTS_HAS(opts, field) \
	((opts) && (opts)->sz >= offsetofend(typeof(*(opts)), field))
/* @field of @opts, or @def where the caller's (older) struct lacks it. */
#define OPTS_GET(opts, field, def) \
	(OPTS_HAS(opts, field) ? (opts)->field : (def))

/*
 * Hand result struct @src, of which this library knows @known bytes, to the
 * caller's @dst: what fits in dst's sz, and zeros past @known up to it; sz
 * itself is the caller's and stays.  0, or -EINVAL for a sz that does not
 * even cover itself.
 */
static inline int mqdev_out_check(const void *dst)
{
	return dst && *(const size_t *)dst >= sizeof(size_t) ? 0 : -EINVAL;
}

static inline void mqdev_out_copy(void *dst, const void *src, size_t known)
{
	size_t sz = *(const size_t *)dst;

	memcpy((char *)dst + sizeof(size_t), (const char *)src + sizeof(size_t),
	       (sz < known ? sz : known) - sizeof(size_t));
	if (sz > known)
		memset((char *)dst + known, 0, sz - known);
}

#define OUT_COPY(dst, src, type) \
	mqdev_out_copy(dst, src, offsetofend(struct type, type##__last))

/* The last field of each struct with a sz, as this library knows them. */
#define mqdev_topic_opts__last		min_insync
#define mqdev_producer_opts__last	ack_ctx
#define mqdev_consumer_opts__last	data_dir
#define mqdev_share_opts__last		dlq_flags
#define mqdev_share_ack_opts__last	flags
#define mqdev_reconsume_opts__last	dead_now
#define mqdev_verify_stats__last	repeats
#define mqdev_event__last		cookie
#define mqdev_stats_module__last	charge
#define mqdev_send_opts__last		sched_id
#define mqdev_exchange_opts__last	alternate
#define mqdev_bind_opts__last		match
#define mqdev_exchange_send_opts__last	record_flags
#define mqdev_swriter_opts__last	flags

/* A field added after __last would be dropped: only padding may follow. */
#define OPTS_LAST_CHECK(type)						\
	_Static_assert(offsetofend(struct type, type##__last) +		\
		       _Alignof(struct type) > sizeof(struct type),	\
		       #type "__last is not its last field")
OPTS_LAST_CHECK(mqdev_topic_opts);
OPTS_LAST_CHECK(mqdev_producer_opts);
OPTS_LAST_CHECK(mqdev_consumer_opts);
OPTS_LAST_CHECK(mqdev_verify_stats);
OPTS_LAST_CHECK(mqdev_event);
OPTS_LAST_CHECK(mqdev_send_opts);
OPTS_LAST_CHECK(mqdev_stats_module);
OPTS_LAST_CHECK(mqdev_exchange_opts);
OPTS_LAST_CHECK(mqdev_bind_opts);
OPTS_LAST_CHECK(mqdev_exchange_send_opts);
OPTS_LAST_CHECK(mqdev_swriter_opts);

/* admin.c: the names a *_LIST ioctl gives, newly allocated; or -errno. */
int mqdev_list_names(int fd, unsigned long cmd,
		     char (**names)[MQDEV_NAME_SIZE]);

/* record.c: the bytes a header block of @n headers takes, or 0 if bad. */
size_t mqdev_headers_size(const struct mqdev_header *h, unsigned int n);

/* ioctl() as the library reports it: a result, or -errno. */
static inline int mqdev_ioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

/* CLOCK_REALTIME now, in ns: the clock records are stamped and expire by. */
static inline uint64_t mqdev_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Is a record stamped @stamp past a TTL of @ttl ns (0: none) at @now?  As
 * stamp + ttl <= now, with no sum to wrap on a stamp a writer chose; the
 * kernel's mqdev_ttl_passed() is the same.
 */
static inline bool mqdev_ttl_passed(uint64_t stamp, uint64_t ttl, uint64_t now)
{
	return ttl && now >= ttl && stamp <= now - ttl;
}

/* Open /dev/mq and attach to @topic; returns the descriptor or -errno. */
int mqdev_attach_fd(const char *topic, uint32_t mode, int oflags,
		    struct mqdev_attach *attach);

/*
 * A producer session, and the producers bound to it: a commit flushes them
 * first, so that everything sent before it is in the transaction.
 */
struct mqdev_session {
	int				fd;
	struct mqdev_producer_init	init;
	struct mqdev_producer		*bound;		/* list, by ->session_next */
	uint64_t			txn_id;
	bool				in_txn;
	int				txn_error;	/* a message refused in it */

	/* group offsets sent with the open transaction */
	struct mqdev_consumer		*offsets_consumer;
	struct mqdev_group_commit	*offsets;
	uint32_t			nr_offsets;
};

/* Flush every producer bound to @s; the first error, or 0. */
int mqdev_session_flush(struct mqdev_session *s);
/* @p is being freed: @s forgets it. */
void mqdev_session_unbind(struct mqdev_session *s, struct mqdev_producer *p);

/*
 * A group member's released-but-uncommitted positions, one entry per owned
 * partition that moved, into @commits (room for every partition); how many.
 */
uint32_t mqdev_consumer_uncommitted(const struct mqdev_consumer *c,
				    struct mqdev_group_commit *commits);
/* @rec is one @c handed out (its ring, its buffer or its disk run). */
bool mqdev_consumer_holds(const struct mqdev_consumer *c,
			  const struct mqdev_record *rec);
/*
 * The command @cmd on the handle @fd (a batch, or a single writer's
 * wake-up), then mqdev_consumer_wait(): in one MQDEV_IOC_WAIT with
 * MQDEV_WAIT_SEND when the consumer has to sleep, else in two calls; the
 * command runs whatever the consumer's state.  @done, if not NULL, is
 * non-zero once the kernel did the command even though it then failed (a
 * batch's count); without it the command may be made twice.  *@sent says
 * whether it was done; when it was not, the return is its -errno.
 */
int mqdev_consumer_wait_send(struct mqdev_consumer *c, int timeout_ms,
			     int fd, unsigned long cmd, void *arg,
			     const uint32_t *done, bool *sent);
/* They were committed (by a transaction). */
void mqdev_consumer_committed(struct mqdev_consumer *c,
			      const struct mqdev_group_commit *commits,
			      uint32_t count);

/* netlink.c: a request of the family, and its run to the end. */
struct mqdev_nl;
struct nlmsghdr;
struct nlmsghdr *mqdev_nl_new(struct mqdev_nl *nl, uint16_t flags,
			      uint8_t cmd);
int mqdev_nl_run(struct mqdev_nl *nl, struct nlmsghdr *nlh,
		 int (*cb)(const struct nlmsghdr *nlh, void *ctx), void *ctx);

/* history.c: a durable topic's records older than the ring, from disk */
struct mqdev_history;

const char *mqdev_history_dir(const char *opt);
int mqdev_history_open(const char *dir, const char *topic, uint32_t partition,
		       uint64_t *from, uint64_t until, struct mqdev_history **h);
int mqdev_history_take(struct mqdev_history *h,
		       const struct mqdev_record **recs, unsigned int max,
		       uint64_t live);
bool mqdev_history_done(const struct mqdev_history *h);
int mqdev_history_extend(struct mqdev_history *h, uint64_t until);
void mqdev_history_free(struct mqdev_history *h);

#endif /* _MQDEV_INTERNAL_H */
