/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _MQDEV_H
#define _MQDEV_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/hrtimer.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/timerqueue.h>
#include <linux/uidgid.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>
#include <linux/mqdev.h>

/* The first page of every ring mapping; userspace finds these fields through
 * struct mqdev_ring_offsets.
 */
struct mqdev_ring_ctrl {
	u64		head;		/* written by producers, under part->lock */
	u64		tail;		/* written by producers, under part->lock */
	atomic_t	flags;		/* MQDEV_RING_* */
	u64		end;		/* under part->lock: the log's end */
	u64		high_watermark;	/* under part->lock: an offset */
	u64		ttl_ns;		/* the topic's TTL, for mapped readers */
	u64		limit;		/* single writer: where it may write to */
};

/* A reader whose position keeps records from being reclaimed under block. */
struct mqdev_hold {
	struct list_head	node;	/* on part->holders */
	u64			*pos;	/* in the holder's position page */
};

struct file;
struct net;
struct netlink_ext_ack;
struct vm_area_struct;
struct mqdev_topic;
struct mqdev_transaction;
struct mqdev_txn_table;

/* What mqdev keeps per network namespace (net_generic()). */
struct mqdev_net {
	struct mqdev_txn_table	*txns;
};

struct mqdev_net *mqdev_net(const struct net *net);

/* The refusals a topic counts: the netlink family's enum mqdev_refusal. */
#define MQDEV_NR_REFUSALS	(MQDEV_REFUSED_MAX + 1)

/*
 * A partition's counters that are not under part->lock, per CPU: readers
 * count lock-free, and the rest are off the hot path.  What appends count
 * needs no counter of its own (see stats.c).
 */
struct mqdev_part_pcpu {
	u64			records_out;	/* read(2) */
	u64			bytes_out;
	u64			waits;		/* producers' sleeps for room */
	u64			wait_ns;
	u64			reader_wakeups;
	u64			producer_wakeups;
	u64			refused[MQDEV_NR_REFUSALS];
};

struct mqdev_part {
	struct mqdev_topic	*topic;
	u32			index;
	struct mqdev_part_pcpu __percpu *stats;	/* in topic->stats */

	struct mutex		lock;		/* serialises producers */
	u64			head;		/* next byte to write */
	u64			tail;		/* oldest byte kept */
	u64			next_offset;
	u64			tail_offset;	/* offset of the record at tail */
	u64			last_timestamp;
	/* what consumers see up to (replica.c); the end while none in sync */
	u64			hw_pos;
	u64			hw_offset;	/* READ_ONCE: acks=all waiters */
	u32			nr_in_sync;	/* replicas in sync here */

	struct mqdev_ring_ctrl	*ctrl;
	char			*data;		/* data area, mapped twice */
	u64			mask;
	struct page		**pages;	/* ctrl, data, data again[, wpage] */
	/* single writer: its page, which it may change at any moment */
	struct mqdev_writer_page *wpage;
	unsigned int		nr_pages;	/* distinct pages */
	unsigned int		nr_map_pages;	/* entries in pages[] */

	spinlock_t		holders_lock;	/* guards holders */
	struct list_head	holders;

	wait_queue_head_t	data_wait;	/* readers in poll */
	wait_queue_head_t	end_wait;	/* replicas in poll: end moved */
	wait_queue_head_t	space_wait;	/* producers and POLLOUT */
	atomic_t		space_gen;	/* bumped when space may be back */
};

/* A topic's delayed messages (sched.c). */
struct mqdev_sched {
	struct xarray		ids;	/* id -> message; its lock is the tree's */
	struct timerqueue_head	queue;	/* by due time: under the lock */
	u32			next_id;
	bool			dead;	/* the topic was deleted: under the lock */
	u32			nr_held; /* replicas holding: under the lock */
	u64			orphan_until; /* real ns: under the lock */
	u64			changed; /* groups serial then: groups_lock */
	u64			nr;	/* scheduled now: under the lock */
	struct mutex		run_lock;	/* a message being appended */
	struct hrtimer		timer;	/* armed for the earliest */
	struct work_struct	work;	/* appends what is due */
	atomic64_t		expired;	/* dropped by their expiry */
	atomic64_t		dropped;	/* dropped, no room too long */
};

struct mqdev_topic {
	struct kref		ref;
	struct list_head	node;		/* on the registry, under its lock */
	char			name[MQDEV_NAME_SIZE];
	kuid_t			uid;
	kgid_t			gid;
	umode_t			mode;
	u32			flags;		/* MQDEV_TOPIC_* */
	u64			capacity;
	u32			max_record;
	bool			dead;		/* deleted; WRITE_ONCE/READ_ONCE */
	bool			restoring;	/* replicas only, until opened */
	struct mutex		restore_lock;	/* restores against the open */
	/* its namespace: no reference, the namespace's exit deletes it */
	struct net		*net;
	struct mqdev_txn_table	*txns;		/* its namespace's */
	struct mutex		groups_lock;	/* groups and all their state */
	struct list_head	groups;
	u32			nr_groups;	/* under groups_lock */
	struct list_head	shares;		/* share groups: groups_lock */
	u32			nr_shares;	/* under groups_lock */
	atomic_t		next_rr;	/* round-robin partition */
	struct mutex		producers_lock;	/* producers and their users */
	struct xarray		producers;	/* id -> struct mqdev_pstate */
	u32			nr_producers;
	u32			min_insync;	/* durable: for acks=all */
	u64			groups_serial;	/* commits: under groups_lock */
	wait_queue_head_t	groups_wait;	/* commits waiting for replicas */
	struct delayed_work	isr_work;	/* drops lagging replicas */
	spinlock_t		replicas_lock;	/* inside part->lock */
	struct list_head	replicas;	/* struct mqdev_replica */
	u32			nr_replicas;	/* under replicas_lock */
	wait_queue_head_t	read_wait;	/* readers blocked in read() */
	wait_queue_head_t	replica_read_wait; /* replicas in read() */
	struct mqdev_sched	sched;		/* its delayed messages */
	u64			ttl_ns;		/* READ_ONCE: 0, or its TTL */
	struct mqdev_handle	*writer;	/* single writer: cmpxchg() */
	/* nr_parts + 1: the last counts what no partition was chosen for */
	struct mqdev_part_pcpu __percpu *stats;
	u32			nr_parts;
	struct mqdev_part	parts[] __counted_by(nr_parts);
};

/* The per-open-file state: a handle attached to at most one topic. */
struct mqdev_handle {
	struct mutex		lock;		/* attach, seek, assignment */
	struct mutex		read_lock;	/* read(2): its own readers only */
	struct net		*net;		/* the opener's: what it may see */
	struct mqdev_topic	*topic;		/* set once, under lock */
	u32			mode;		/* MQDEV_ATTACH_* */
	struct page		*cons_page;	/* reader positions, user-writable */
	u64			*cons;
	struct mqdev_hold	*holds;		/* one per partition */
	unsigned long		*subscribed;	/* bitmap of partitions */
	unsigned int		next_read;	/* read() round-robin start */
	u32			wait_part;	/* where POLLOUT waits, or ANY */
	u32			wait_space;
	struct mqdev_member	*member;	/* of a group, under both locks */
	/*
	 * of a share group: set at join under groups_lock and h->lock,
	 * cleared at release under h->lock; read under h->lock
	 */
	struct mqdev_share_member *share;
	struct mqdev_session	*session;	/* this handle is a producer session */
	struct mqdev_bound	*bound;		/* appends as a session */
	struct mqdev_replica	*replica;	/* a durable topic's replica */
	bool			binding;	/* a bind is under way: lock */
	struct mqdev_exchange	*exchange;	/* produces to it: exchange.c */
	struct mqdev_route_ctx	*route_ctx;	/* its scratch, exchange.c */
	unsigned long		route_busy;	/* bit 0: route_ctx in use */
};

/* A replica's confirmation in one partition; under that part->lock. */
struct mqdev_replica_part {
	u64			offset;		/* confirmed: safe before it */
	u64			pos;		/* of the record at offset */
	u64			prev_end;	/* the log's end at the last one */
	unsigned long		caught_up;	/* jiffies it last was */
	bool			known;		/* pos is still in the ring */
	bool			in_sync;
};

/* A replica handle of a durable topic (replica.c). */
struct mqdev_replica {
	struct list_head	node;		/* on topic->replicas */
	/* the groups' serial it kept; since when it is behind (0: not) */
	u64			groups_safe;	/* under topic->replicas_lock */
	unsigned long		groups_behind;	/* under topic->replicas_lock */
	bool			sched_hold;	/* under topic->sched.ids' lock */
	u32			nr_parts;
	struct mqdev_replica_part parts[] __counted_by(nr_parts);
};

/*
 * A producer identity: a producer id and, when named, the epoch that fences
 * older sessions of the name and the checker asked about its transactions.
 */
struct mqdev_identity {
	struct kref		ref;
	struct list_head	node;		/* on the named list, if named */
	char			name[MQDEV_NAME_SIZE];
	u64			id;
	u32			epoch;		/* READ_ONCE: checked by appends */
	kuid_t			uid;
	struct net		*net;		/* a name is per namespace */
	struct list_head	sessions;	/* under the identities lock */
	u32			checker_portid;	/* 0: none */
	struct net		*checker_net;
};

/* What a producer session handle holds. */
struct mqdev_session {
	struct list_head	node;		/* on identity->sessions */
	struct mqdev_identity	*ident;
	u32			epoch;
	u32			txn_timeout_ms;
	struct mutex		lock;		/* txn, and appends through it */
	struct mqdev_transaction	*txn;		/* the open transaction, or NULL */
};

/* The most recent offsets of a producer's sequence numbers in a partition. */
#define MQDEV_SEQ_WINDOW	MQDEV_SEQ_KEPT

struct mqdev_seq {
	u32			next;		/* the sequence expected next */
	u64			offsets[MQDEV_SEQ_WINDOW];
};

/* One producer id's sequence numbers in one topic; under part->lock each. */
struct mqdev_pstate {
	u64			id;
	kuid_t			uid;		/* charged for it */
	u32			users;		/* bound handles: producers_lock */
	bool			named;		/* kept when no one is bound */
	u32			nr_parts;
	struct mqdev_seq	*seq[] __counted_by(nr_parts);
};

/* A producing handle bound to a session. */
struct mqdev_bound {
	struct file		*file;		/* the session's, pinned */
	struct mqdev_session	*session;
	struct mqdev_pstate	*pstate;
};

/* A consumer group's state in one partition. */
struct mqdev_group_part {
	u64			pos;		/* the group's position: held */
	u64			offset;		/* the offset at pos */
	bool			committed;	/* pos came from a commit */
	struct mqdev_hold	hold;
	struct mqdev_member	*owner;
};

/* Where a group's position in a partition is to go. */
struct mqdev_group_pos {
	u64			pos;
	u64			offset;
};

/* A consumer group of one topic; all of it under topic->groups_lock. */
struct mqdev_group {
	struct list_head	node;		/* on topic->groups */
	struct mqdev_topic	*topic;
	char			name[MQDEV_NAME_SIZE];
	kuid_t			uid;		/* who made it: its owner */
	u64			serial;		/* no other group ever has it */
	bool			holds;		/* its positions hold the ring */
	bool			dead;		/* deleted under its members */
	u32			generation;
	u64			commits;	/* for the statistics */
	u64			rebalances;
	struct list_head	members;
	u32			nr_members;
	u32			next_member_id;
	wait_queue_head_t	wait;		/* members' EPOLLPRI */
	u32			nr_parts;
	struct mqdev_group_part	parts[] __counted_by(nr_parts);
};

struct mqdev_member {
	struct list_head	node;		/* on group->members */
	struct mqdev_group	*group;
	struct mqdev_handle	*h;
	u32			id;
	u32			seen_gen;	/* last assignment fetched */
	u32			count;		/* partitions owned */
	u32			quota;		/* while rebalancing */
	struct pid		*pid;
	char			comm[TASK_COMM_LEN];
};

#define MQDEV_CONS_STRIDE	16

/**
 * handle_replica() - does the handle read as a replica, past the watermark?
 * @h: an attached handle
 *
 * Return: true for a replica of a durable topic.
 */
static inline bool handle_replica(const struct mqdev_handle *h)
{
	return h->replica;
}

/**
 * handle_pos() - where a consuming handle reads a partition next
 * @h: the handle, with its position page
 * @part: the partition
 *
 * The page is mapped writable by the handle's owner: the position may
 * change at any moment, and is checked where it is used, never trusted.
 *
 * Return: a pointer to the position of @part in @h's position page.
 */
static inline u64 *handle_pos(struct mqdev_handle *h, u32 part)
{
	return &h->cons[part * (MQDEV_CONS_STRIDE / sizeof(u64))];
}

#define MQDEV_RING_MMAP		0ULL
#define MQDEV_PART_STRIDE	BIT_ULL(32)
#define MQDEV_CONS_MMAP		BIT_ULL(40)
#define MQDEV_TXN_MMAP		BIT_ULL(41)
#define MQDEV_WRITER_MMAP	BIT_ULL(42)

/* limits.c */

/* A module parameter with the range it may be set to. */
struct mqdev_limit {
	unsigned long	val;
	unsigned long	min;
	unsigned long	max;
};

extern const struct kernel_param_ops mqdev_limit_ops;

/* @name is an identifier: a variable and the parameter it backs. */
#define MQDEV_LIMIT(name, def, lo, hi, desc)				\
	static struct mqdev_limit name = {				\
		.val = (def), .min = (lo), .max = (hi),			\
	};								\
	module_param_cb(name, &mqdev_limit_ops, &name, 0644);		\
	MODULE_PARM_DESC(name, desc " [" #lo ", " #hi "]")

/* The same, for a limit other files read too (declared below). */
#define MQDEV_LIMIT_SHARED(name, def, lo, hi, desc)			\
	struct mqdev_limit name = {					\
		.val = (def), .min = (lo), .max = (hi),			\
	};								\
	module_param_cb(name, &mqdev_limit_ops, &name, 0644);		\
	MODULE_PARM_DESC(name, desc " [" #lo ", " #hi "]")

/**
 * mqdev_limit() - the value a limit is set to now
 * @limit: the limit, from MQDEV_LIMIT()
 *
 * Return: its value; it may be set again at any moment.
 */
static inline unsigned long mqdev_limit(const struct mqdev_limit *limit)
{
	return READ_ONCE(limit->val);
}

/* The largest partition, and the most ring bytes any limit may allow. */
#define MQDEV_MAX_CAPACITY	BIT_ULL(30)
#define MQDEV_MAX_TOTAL_BYTES	BIT_ULL(40)

/* The kinds of charge are the netlink family's (enum mqdev_charge_kind). */
#define MQDEV_NR_CHARGES	(MQDEV_CHARGE_MAX + 1)

/* The module-wide limits some kinds have, beside the objects they bound. */
extern struct mqdev_limit max_topics, max_bytes, max_producers, max_exchanges;

int mqdev_charge_many(kuid_t uid, const u64 *amount);
void mqdev_uncharge_many(kuid_t uid, const u64 *amount);
int mqdev_charge(kuid_t uid, enum mqdev_charge_kind what, u64 n);
void mqdev_uncharge(kuid_t uid, enum mqdev_charge_kind what, u64 n);
void mqdev_users_destroy(void);
void mqdev_charges_read(kuid_t uid, u64 *used, u64 *user_used,
			u64 *limit, u64 *user_limit);

/* perm.c: what each act needs is in the table there */
enum mqdev_act {
	MQDEV_ACT_PRODUCE,
	MQDEV_ACT_CONSUME,
	MQDEV_ACT_PRODUCE_CONSUME,
	MQDEV_ACT_HOLD,
	MQDEV_ACT_TOPIC_DELETE,
	MQDEV_ACT_GROUP_USE,
	MQDEV_ACT_GROUP_DELETE,
	MQDEV_ACT_REPLICATE,
};

struct cred;
struct sk_buff;
int mqdev_permits(const struct sk_buff *nlskb, const struct mqdev_topic *topic,
		  const struct mqdev_group *g, enum mqdev_act act);
bool mqdev_cred_may_read(kuid_t uid, kgid_t gid, umode_t mode,
			 const struct cred *cred);
int mqdev_mode_permits(const struct net *net, kuid_t uid, kgid_t gid,
		       umode_t mode, int may);
int mqdev_owner_permits(const struct net *net, kuid_t uid);
int mqdev_group_delete_permits(const struct sk_buff *nlskb,
			       const struct mqdev_topic *topic, kuid_t uid);

/**
 * mqdev_handle_topic() - the handle's topic, if it is attached in @mode
 * @h: the handle
 * @mode: MQDEV_ATTACH_PRODUCE and/or MQDEV_ATTACH_CONSUME; one is enough
 *
 * Return: the topic, ERR_PTR(-EBADFD) when @h is not attached, or
 * ERR_PTR(-EBADF) when it is attached in none of @mode.
 */
static inline struct mqdev_topic *mqdev_handle_topic(struct mqdev_handle *h,
						     u32 mode)
{
	/* Pairs with smp_store_release() in mqdev_attach(). */
	struct mqdev_topic *topic = smp_load_acquire(&h->topic);

	if (!topic)
		return ERR_PTR(-EBADFD);
	if (!(h->mode & mode))
		return ERR_PTR(-EBADF);
	return topic;
}

/**
 * mqdev_copy_element() - one element of an array the caller sized
 * @dst: the element's place in user memory
 * @src: what this kernel knows of the element
 * @ksize: its size
 * @usize: the caller's element size, at least @ksize (checked before)
 *
 * A newer caller's larger element gets the rest cleared, as
 * copy_struct_from_user() would want it read back.
 *
 * Return: 0, or -EFAULT.
 */
static inline int mqdev_copy_element(void __user *dst, const void *src,
				     size_t ksize, size_t usize)
{
	if (copy_to_user(dst, src, ksize) ||
	    clear_user((u8 __user *)dst + ksize, usize - ksize))
		return -EFAULT;
	return 0;
}

/* ioctl.c: one ioctl as its handler sees it */
struct mqdev_ioc {
	struct mqdev_handle	*h;
	struct file		*file;
	struct mqdev_topic	*topic;		/* when it needs one attached */
	struct mqdev_session	*session;	/* when it needs a session */
	void __user		*uarg;		/* the caller's struct */
	size_t			usize;		/* and its size */
};

/**
 * mqdev_ioc_copy_out() - copy an ioctl's struct back to the caller
 * @ioc: the ioctl
 * @req: the struct, as this kernel knows it
 * @ksize: its size, a sizeof
 *
 * As much of @req goes back as the caller's struct holds: with the size
 * known at compile time where the caller's is this kernel's (see ioctl.c).
 *
 * Return: 0 or -EFAULT.
 */
static __always_inline int mqdev_ioc_copy_out(const struct mqdev_ioc *ioc,
					      const void *req, size_t ksize)
{
	/* Two copies, not one of a chosen size: the first's is a constant. */
	if (likely(ioc->usize >= ksize))
		return copy_to_user(ioc->uarg, req, ksize) ? -EFAULT : 0;
	return copy_to_user(ioc->uarg, req, ioc->usize) ? -EFAULT : 0;
}

long mqdev_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

/* dev.c */
struct mqdev_handle *mqdev_file_handle(struct file *file);
long mqdev_attach(struct mqdev_ioc *ioc, struct mqdev_attach *req);

/* producer.c */
long mqdev_produce(struct mqdev_ioc *ioc, struct mqdev_produce *req);
long mqdev_produce_batch(struct mqdev_ioc *ioc,
			 struct mqdev_produce_batch *req);
u32 mqdev_next_rr_partition(struct mqdev_topic *topic);

/* sched.c */
extern struct mqdev_limit max_scheduled, max_scheduled_bytes;

void mqdev_sched_init(struct mqdev_topic *topic);
void mqdev_sched_kill(struct mqdev_topic *topic);
long mqdev_schedule(struct mqdev_ioc *ioc, struct mqdev_schedule *req);
int mqdev_sched_kernel(struct mqdev_topic *topic, const struct mqdev_msg *msg,
		       const void *key, u64 due, u32 *id);
long mqdev_sched_cancel(struct mqdev_ioc *ioc, struct mqdev_sched_cancel *req);
long mqdev_sched_list(struct mqdev_ioc *ioc, struct mqdev_sched_list *req);
long mqdev_sched_snapshot(struct mqdev_ioc *ioc,
			  struct mqdev_sched_snapshot *req);
long mqdev_sched_restore_ioc(struct mqdev_ioc *ioc,
			     struct mqdev_sched_restore *req);
int mqdev_sched_restore(struct mqdev_topic *topic,
			const struct mqdev_sched_restore *req, kuid_t uid);
int mqdev_topic_ttl_set(struct mqdev_topic *topic, u64 ttl);
void mqdev_sched_unhold(struct mqdev_topic *topic, struct mqdev_replica *r);
void mqdev_sched_open(struct mqdev_topic *topic);
bool mqdev_record_expired(const struct mqdev_record *rec, u32 len, u64 now);
int mqdev_topic_config(struct net *net, struct mqdev_topic_config *req);

/* consumer.c */
long mqdev_seek(struct mqdev_ioc *ioc, struct mqdev_seek *req);
long mqdev_wakeup(struct mqdev_ioc *ioc, struct mqdev_wakeup *req);

/* topic.c */
int mqdev_topic_create(struct net *net, const struct mqdev_topic_create *req);
int mqdev_topic_make(struct net *net, const struct mqdev_topic_create *req,
		     kuid_t uid, kgid_t gid,
		     const struct mqdev_part_restore *parts);
int mqdev_topic_delete(struct net *net, const char *name);
int mqdev_topic_list(struct net *net, struct mqdev_topic_list *req);
int mqdev_topic_describe(struct net *net, struct mqdev_topic_info *req);
struct mqdev_topic *mqdev_topic_get(const struct sk_buff *nlskb,
				    struct net *net, const char *name,
				    enum mqdev_act act);
void mqdev_topic_put(struct mqdev_topic *topic);
int mqdev_name_check(const char *name);
void mqdev_topics_destroy(void);
struct mqdev_topic **mqdev_topics_get(const struct sk_buff *nlskb,
				      struct net *net, const char *name,
				      u32 *count);
void mqdev_topics_destroy_net(struct net *net);
void mqdev_topics_put(struct mqdev_topic **topics, u32 count);
u32 mqdev_key_hash(const void *key, u32 len);

/**
 * mqdev_topic_dead() - was the topic deleted?
 * @topic: the topic, referenced
 *
 * Return: true once @topic is deleted (or its namespace is gone).
 */
static inline bool mqdev_topic_dead(const struct mqdev_topic *topic)
{
	return READ_ONCE(topic->dead);
}

/**
 * mqdev_ring_record() - the record at a position of a partition's ring
 * @part: the partition
 * @pos: a position the ring keeps a record at
 *
 * Return: the record, in the kernel's mapping of the data area.
 */
static inline struct mqdev_record *mqdev_ring_record(struct mqdev_part *part,
						     u64 pos)
{
	return (struct mqdev_record *)(part->data + (pos & part->mask));
}

/**
 * mqdev_record_flags_valid() - may a producer give a record these flags?
 * @flags: the record's flags, as the producer gave them
 * @key_len: its key's length
 * @value_len: its value's length, the header block's included
 *
 * Only the producer's flags; a null key or value has length 0; an expiry
 * is there whole, and a header block has at least its count.
 *
 * Return: true when they may stand.
 */
static inline bool mqdev_record_flags_valid(u32 flags, u32 key_len,
					    u32 value_len)
{
	u32 need = 0;

	if (likely(!flags))	/* the common record: one test */
		return true;
	if (flags & ~MQDEV_RECORD_PRODUCER_FLAGS)
		return false;
	if ((flags & MQDEV_RECORD_NULL_KEY) && key_len)
		return false;
	if (flags & MQDEV_RECORD_EXPIRES)
		need += sizeof(u64);
	if (flags & MQDEV_RECORD_HEADERS)
		need += sizeof(u32);
	if (need)
		return value_len >= need;
	return !(flags & MQDEV_RECORD_NULL_VALUE) || !value_len;
}

/**
 * mqdev_msg_check() - may this message be appended to the topic?
 * @topic: the topic
 * @msg: the message, copied in
 * @bound: the handle is bound to a producer session: it numbers messages
 *
 * Inline: it runs for every message of MQDEV_IOC_PRODUCE, where a call of
 * its own showed as the largest single cost of the check (the design page,
 * "The copy into the ring").
 *
 * Return: 0, -EINVAL for bad flags, key or partition, or -EMSGSIZE for a
 * record larger than the topic's max_record.
 */
static inline int mqdev_msg_check(const struct mqdev_topic *topic,
				  const struct mqdev_msg *msg, bool bound)
{
	u64 len = sizeof(struct mqdev_record) + (u64)msg->key_len +
		  msg->value_len;

	if (!mqdev_record_flags_valid(msg->flags, msg->key_len,
				      msg->value_len) ||
	    msg->key_len > MQDEV_MAX_KEY ||
	    (msg->partition != MQDEV_PARTITION_ANY &&
	     msg->partition >= topic->nr_parts))
		return -EINVAL;
	/* A sequence number belongs to one partition: it must be known. */
	if (bound && msg->partition == MQDEV_PARTITION_ANY && !msg->key_len)
		return -EINVAL;
	if (len > topic->max_record)
		return -EMSGSIZE;
	return 0;
}

/**
 * mqdev_ttl_passed() - is a record past its topic's TTL?
 * @stamp: the record's timestamp
 * @ttl: the topic's TTL in ns, 0 for none
 * @now: CLOCK_REALTIME ns
 *
 * As stamp + ttl <= now, with no sum to wrap.  The kernel's own stamps
 * could not wrap it (CLOCK_REALTIME stays below 2^63, a TTL at most 2^62),
 * but the library judges a single writer's stamps, which may be anything,
 * and both must judge alike (libmqdev's mqdev_ttl_passed()).
 *
 * Return: true when it is.
 */
static inline bool mqdev_ttl_passed(u64 stamp, u64 ttl, u64 now)
{
	return ttl && now >= ttl && stamp <= now - ttl;
}

/* ring.c */
int mqdev_ring_init(struct mqdev_part *part, u64 capacity);
void mqdev_ring_free(struct mqdev_part *part);
void mqdev_ring_kill(struct mqdev_part *part);
void mqdev_ring_info(struct mqdev_part *part, struct mqdev_partition_info *info);

struct mqdev_append {
	struct mqdev_part	*part;		/* locked while set */
	u64			timestamp;	/* of the records of this run */
	bool			nonblock;
	bool			kernel;		/* msg->value is kernel memory */
	struct mqdev_bound	*bound;		/* idempotent, or NULL */
	struct mqdev_transaction	*txn;		/* locked, or NULL */
};

/* mqdev_append()'s and mqdev_seq_check()'s: not appended, seen before */
#define MQDEV_APPEND_DUPLICATE	1

int mqdev_append(struct mqdev_append *ap, struct mqdev_part *part,
		 struct mqdev_msg *msg, const void *kkey);
int mqdev_append_batch(struct mqdev_append *ap, struct mqdev_part *part,
		       const char __user *src, u32 len, bool keyless,
		       u64 *base_offset, u32 *count);
void mqdev_append_end(struct mqdev_append *ap);
void mqdev_append_restamp(struct mqdev_append *ap);
void mqdev_append_pause(struct mqdev_append *ap);
void mqdev_append_resume(struct mqdev_append *ap);
bool mqdev_ring_has_room(struct mqdev_part *part, u64 len);

int mqdev_ring_seek(struct mqdev_part *part, u32 whence, u64 *offset,
		    u64 *cons_pos, struct mqdev_hold *hold, bool holding,
		    bool replica);
void mqdev_ring_hold(struct mqdev_part *part, struct mqdev_hold *hold, bool on);
int mqdev_ring_locate(struct mqdev_part *part, u32 whence, u64 *offset,
		      u64 *pos, u64 hint_offset);
bool mqdev_ring_readable(struct mqdev_part *part, u64 pos, bool replica);
bool mqdev_ring_ready(struct mqdev_part *part, u64 pos, u32 min_bytes,
		      bool replica);
void mqdev_ring_publish(struct mqdev_part *part);
void mqdev_ring_publish_quiet(struct mqdev_part *part);
ssize_t mqdev_ring_read(struct mqdev_part *part, u64 *pos, char __user *buf,
			size_t len, bool replica);
void mqdev_ring_kick(struct mqdev_part *part);
void mqdev_ring_moved(struct mqdev_part *part);
void mqdev_ring_wake_readers(struct mqdev_part *part);
void mqdev_ring_resolve(struct mqdev_part *part, u64 first, u64 last,
			u64 producer_id, u16 slot, u16 mark);

/**
 * mqdev_swriter() - is the topic a single-writer one?
 * @topic: the topic
 *
 * Return: true when one writer writes its ring (swriter.c).
 */
static inline bool mqdev_swriter(const struct mqdev_topic *topic)
{
	return topic->flags & MQDEV_TOPIC_SINGLE_WRITER;
}

u64 mqdev_ring_hold_limit(struct mqdev_part *part);

/* swriter.c */
int mqdev_swriter_attach(struct mqdev_handle *h, struct mqdev_topic *topic);
void mqdev_swriter_detach(struct mqdev_handle *h, struct mqdev_topic *topic);
void mqdev_swriter_sync(struct mqdev_part *part);
bool mqdev_swriter_has(struct mqdev_part *part, u64 pos, u64 min_bytes);
int mqdev_swriter_locate(struct mqdev_part *part, u32 whence, u64 *offset,
			 u64 *pos, u64 hint, u64 hint_offset);
int mqdev_swriter_mmap(struct mqdev_handle *h, struct mqdev_topic *topic,
		       struct vm_area_struct *vma, u64 off);
void mqdev_swriter_fill(struct mqdev_ring_offsets *off,
			const struct mqdev_topic *topic, bool writer);
long mqdev_swriter_ioctl(struct mqdev_ioc *ioc, struct mqdev_writer *req);

/* restore.c */
int mqdev_topic_restore(struct net *net, const struct mqdev_topic_restore *req);
int mqdev_topic_open(struct net *net, const struct mqdev_topic_id *req);
long mqdev_group_restore_ioc(struct mqdev_ioc *ioc,
			     struct mqdev_group_restore *req);
long mqdev_producer_restore_ioc(struct mqdev_ioc *ioc,
				struct mqdev_producer_restore *req);

/* session.c, for restore.c */
int mqdev_pstate_restore(struct mqdev_topic *topic, u64 id, kuid_t uid,
			 struct mqdev_part *part, u32 next, const u64 *offsets);
int mqdev_identity_restore(struct net *net,
			   const struct mqdev_identity_state *req);
int mqdev_identity_list(struct net *net, struct mqdev_identity_list *req);

/* replica.c */
#define MQDEV_MAX_MIN_INSYNC	64	/* max_topic_replicas' own limit */
int mqdev_replica_attach(struct mqdev_handle *h, struct mqdev_topic *topic);
void mqdev_replica_detach(struct mqdev_handle *h, struct mqdev_topic *topic);
long mqdev_replica_confirm(struct mqdev_ioc *ioc,
			   struct mqdev_replica_confirm *req);
int mqdev_acks_check(struct mqdev_part *part);
int mqdev_acks_wait(struct mqdev_topic *topic, const u64 *need);
int mqdev_acks_wait_part(struct mqdev_part *part, u64 need);
int mqdev_groups_wait_safe(struct mqdev_part *part, u64 serial);
u64 mqdev_groups_bump(struct mqdev_topic *topic, u64 *mark);
u64 mqdev_groups_serial(struct mqdev_topic *topic);
bool mqdev_replica_groups_pending(struct mqdev_topic *topic,
				  struct mqdev_replica *r);
void mqdev_replica_isr_work(struct work_struct *work);
long mqdev_replica_groups(struct mqdev_ioc *ioc,
			  struct mqdev_replica_groups *req);

/* session.c */
int mqdev_producer_init(struct mqdev_handle *h,
			struct mqdev_producer_init *req);
int mqdev_producer_bind(struct mqdev_handle *h,
			const struct mqdev_producer_bind *req);
void mqdev_session_release(struct mqdev_session *s);
void mqdev_bound_release(struct mqdev_topic *topic, struct mqdev_bound *b);
int mqdev_seq_prepare(struct mqdev_bound *b, struct mqdev_part *part);
int mqdev_seq_check(struct mqdev_bound *b, struct mqdev_part *part,
		    struct mqdev_msg *msg);
void mqdev_seq_appended(struct mqdev_bound *b, struct mqdev_part *part,
			u64 offset);
void mqdev_pstates_free(struct mqdev_topic *topic);
void mqdev_identities_destroy_net(struct net *net);
void mqdev_identity_put(struct mqdev_identity *ident);
int mqdev_checker_register(const char *name, u32 portid, struct net *net,
			   bool capable, struct netlink_ext_ack *extack);
void mqdev_checkers_forget(u32 portid, struct net *net);
struct net *mqdev_identity_checker(struct mqdev_identity *ident, u32 *portid);
void mqdev_identities_destroy(void);

/* txn.c */
int mqdev_txn_init(void);
void mqdev_txn_exit(void);
int mqdev_txn_init_net(struct net *net);
void mqdev_txn_exit_net(struct net *net);
int mqdev_txn_ioctl(struct mqdev_session *s, struct mqdev_txn *req);
int mqdev_txn_offsets(struct mqdev_session *s,
		      const struct mqdev_txn_offsets *req);
int mqdev_txn_append_begin(struct mqdev_session *s,
			   struct mqdev_transaction **txn);
void mqdev_txn_append_end(struct mqdev_transaction *txn);
void mqdev_txn_append_pause(struct mqdev_transaction *txn);
void mqdev_txn_append_resume(struct mqdev_transaction *txn);
int mqdev_txn_prepare(struct mqdev_transaction *txn, struct mqdev_part *part);
int mqdev_txn_reserve(struct mqdev_transaction *txn, struct mqdev_part *part,
		      u64 space);
void mqdev_txn_appended(struct mqdev_transaction *txn, u64 pos, u64 space);
u16 mqdev_txn_slot(const struct mqdev_transaction *txn);
u32 mqdev_txn_record_state(const struct mqdev_part *part,
			   const struct mqdev_record *rec);
void mqdev_txn_record_dropped(const struct mqdev_part *part,
			      const struct mqdev_record *rec);
void mqdev_txn_orphan(struct mqdev_transaction *txn);
void mqdev_txn_session_gone(struct mqdev_transaction *txn);
void mqdev_txn_fence(struct mqdev_identity *ident);
int mqdev_txn_resolve(struct net *net, const char *name, u64 txn_id,
		      u32 decision, bool capable, struct netlink_ext_ack *extack);
int mqdev_txn_mmap(struct net *net, struct vm_area_struct *vma);
void mqdev_txn_fill_offsets(struct mqdev_ring_offsets *off);

/* group.c */
int mqdev_group_join(struct mqdev_handle *h, struct mqdev_group_join *req);
int mqdev_group_assignment(struct mqdev_handle *h,
			   struct mqdev_group_assignment *req);
int mqdev_group_commit(struct mqdev_handle *h,
		       const struct mqdev_group_commit *req);
void mqdev_group_leave(struct mqdev_handle *h);
__poll_t mqdev_group_poll(struct mqdev_handle *h, struct file *file,
			  poll_table *pt);
__poll_t mqdev_member_news(const struct mqdev_member *m);
void mqdev_groups_free(struct mqdev_topic *topic);
struct mqdev_group *mqdev_group_find(struct mqdev_topic *topic,
				     const char *name);
int mqdev_group_locate(struct mqdev_group *g, u32 part, u32 whence, u64 value,
		       struct mqdev_group_pos *found);
void mqdev_group_move(struct mqdev_group *g, u32 part,
		      const struct mqdev_group_pos *found);
int mqdev_group_set(struct mqdev_group *g, u32 part, u32 whence, u64 value);
void mqdev_groups_kill(struct mqdev_topic *topic);
void mqdev_group_resync(struct mqdev_group *g);
void mqdev_group_destroy(struct mqdev_group *g);
struct mqdev_group *mqdev_group_lookup(const struct sk_buff *nlskb,
				       struct mqdev_topic *topic,
				       const char *name, bool create);

int mqdev_group_restore(struct mqdev_topic *topic, const char *name,
			kuid_t uid, const u64 *offsets);
u32 mqdev_groups_snapshot(struct mqdev_topic *topic, void *buf, u32 room,
			  u64 *serial);
u32 mqdev_limit_topic_groups(void);

/**
 * mqdev_groups_state_size() - a group's state as its replica keeps it
 * @topic: the topic
 *
 * Return: the bytes of a struct mqdev_group_state and its offsets.
 */
static inline size_t mqdev_groups_state_size(const struct mqdev_topic *topic)
{
	return sizeof(struct mqdev_group_state) + topic->nr_parts * sizeof(u64);
}

/* share.c */
struct mqdev_share_member;
long mqdev_share_join(struct mqdev_ioc *ioc, struct mqdev_share_join *req);
long mqdev_share_acquire(struct mqdev_ioc *ioc,
			 struct mqdev_share_acquire *req);
long mqdev_share_ack(struct mqdev_ioc *ioc, struct mqdev_share_ack *req);
long mqdev_share_describe(struct mqdev_ioc *ioc, struct mqdev_share_info *req);
void mqdev_share_leave(struct mqdev_handle *h);
__poll_t mqdev_share_poll(struct mqdev_handle *h, struct mqdev_topic *topic,
			  struct file *file, poll_table *pt);
bool mqdev_share_named(struct mqdev_topic *topic, const char *name);
int mqdev_share_delete(struct sk_buff *nlskb, struct mqdev_topic *topic,
		       const char *name, bool force, struct list_head *gone,
		       struct netlink_ext_ack *extack);
void mqdev_shares_reap(struct list_head *gone);
typedef int (*mqdev_share_fn)(void *ctx, const char *name, u32 members);
int mqdev_shares_each(struct mqdev_topic *topic, mqdev_share_fn fn, void *ctx);
void mqdev_shares_kill(struct mqdev_topic *topic);
void mqdev_shares_free(struct mqdev_topic *topic);
int mqdev_share_dlq_fill(struct mqdev_topic *topic,
			 struct mqdev_share_dlq_info *req);
struct mqdev_share;
void mqdev_share_dead_done(struct mqdev_share *sg, u32 p, u64 off, u64 pos);
void mqdev_share_dead_requeue(struct mqdev_share *sg);

/* dlq.c */
struct mqdev_dlq;
enum mqdev_dlq_reason {
	MQDEV_DLQ_REASON_REJECTED,	/* by a member */
	MQDEV_DLQ_REASON_MAX_DELIVERIES,
	MQDEV_DLQ_REASON_EXPIRED,	/* MQDEV_SHARE_DLQ_EXPIRED */
};

int mqdev_dlq_new(struct mqdev_topic *src, const char *group, u64 uptr,
		  struct mqdev_dlq **out);
void mqdev_dlq_flush(struct mqdev_dlq *dlq);
void mqdev_dlq_free(struct mqdev_dlq *dlq);
void mqdev_dlqs_topic_gone(struct mqdev_topic *topic);
u64 mqdev_dlq_backoff(const struct mqdev_dlq *dlq, u16 count);
bool mqdev_dlq_expired(const struct mqdev_dlq *dlq);
bool mqdev_dlq_same(const struct mqdev_dlq *dlq, const struct mqdev_dlq *other);
/* mqdev_dlq_note(): what became of a rejected record's dead letter */
enum mqdev_dlq_note {
	MQDEV_DLQ_NONE,		/* the group has no dead-letter topic */
	MQDEV_DLQ_QUEUED,	/* for the work; the group keeps the record */
	MQDEV_DLQ_WAITING,	/* the queue was full: keep it, note it again */
};

u8 mqdev_dlq_note(struct mqdev_dlq *dlq, struct mqdev_share *sg, u32 part,
		  u64 offset, u64 pos, u32 len, u16 count,
		  enum mqdev_dlq_reason reason);
void mqdev_dlq_fill(struct mqdev_dlq *dlq, struct mqdev_share_dlq_info *req);
long mqdev_dlq_info(struct mqdev_ioc *ioc, struct mqdev_share_dlq_info *req);
int mqdev_backoff_check(u32 nr, const u32 *ms);
u64 mqdev_backoff_ns(u32 nr, const u32 *ms, u32 count);
void *mqdev_record_copy(struct mqdev_part *part, u64 pos, u64 offset, u32 len);

/*
 * A record's dead letter, or its retry: where it came from and why, in
 * the mqdev.dlq.* headers they carry (dlq.c).
 */
struct mqdev_letter {
	const char	*topic;		/* of its first delivery */
	const char	*group;
	const char	*reason;	/* MQDEV_DLQ_REJECTED ... */
	const char	*error;		/* the member's, or NULL */
	u64		offset;
	u64		timestamp;	/* its first append's */
	u32		part;
	u32		count;		/* deliveries */
	u32		flags;		/* MQDEV_RECORD_DEAD_LETTER or _RETRY */
};

u8 *mqdev_letter_build(const struct mqdev_letter *l,
		       const struct mqdev_record *rec, u32 *len, u32 *flags);
int mqdev_letter_origin(const struct mqdev_record *rec, struct mqdev_letter *l,
			char *topic);
u8 *mqdev_letter_msg(const struct mqdev_letter *l,
		     const struct mqdev_record *rec, struct mqdev_topic *topic,
		     struct mqdev_msg *msg);
struct mqdev_topic *mqdev_letter_topic_get(struct mqdev_topic *src,
					   const char *name, bool self);
int mqdev_letter_append(struct mqdev_topic *topic,
			const struct mqdev_letter *l,
			const struct mqdev_record *rec);

/* reconsume.c */
long mqdev_group_reconsume(struct mqdev_ioc *ioc, struct mqdev_reconsume *req);

/* wait.c */
bool mqdev_handle_ready(struct mqdev_handle *h, struct mqdev_topic *topic,
			u32 min_bytes);
int mqdev_wait(struct mqdev_handle *h, struct mqdev_topic *topic,
	       struct mqdev_wait *req);

/* stats.c */
int mqdev_stats_init(struct mqdev_topic *topic);
void mqdev_stats_free(struct mqdev_topic *topic);
void mqdev_stats_refused(struct mqdev_topic *topic, u32 part, int err);

/* A partition's counters as read: the per-CPU ones summed, and the rest. */
struct mqdev_part_stats {
	struct mqdev_part_pcpu	pcpu;
	u64			records_in;
	u64			bytes_in;
	u64			drops;
	u64			kept_records;
	u64			kept_bytes;
};

void mqdev_stats_read(struct mqdev_part *part, struct mqdev_part_stats *st);
void mqdev_stats_read_topic(struct mqdev_topic *topic,
			    struct mqdev_part_pcpu *sum);

/* exchange.c */
struct mqdev_exchange;
struct mqdev_route_ctx;
int mqdev_exchange_create(struct net *net,
			  const struct mqdev_exchange_create *req);
int mqdev_exchange_delete(struct net *net, const struct mqdev_topic_id *req);
int mqdev_exchange_list(struct net *net, struct mqdev_topic_list *req);
int mqdev_exchange_describe(struct net *net, struct mqdev_exchange_info *req);
int mqdev_exchange_bind(struct net *net, const struct mqdev_exchange_bind *req);
int mqdev_exchange_unbind(struct net *net,
			  const struct mqdev_exchange_bind *req);
int mqdev_exchange_attach(struct mqdev_handle *h,
			  const struct mqdev_exchange_attach *req);
void mqdev_exchange_detach(struct mqdev_handle *h);
int mqdev_exchange_program(struct net *net,
			   const struct mqdev_exchange_program *req);
long mqdev_exchange_produce(struct mqdev_ioc *ioc,
			    struct mqdev_exchange_produce *req);
void mqdev_exchanges_destroy_net(struct net *net);
void mqdev_exchanges_destroy(void);
int mqdev_exchanges_init(void);
void mqdev_exchanges_exit(void);
void mqdev_exchanges_topic_gone(struct mqdev_topic *topic);

/* netlink.c */
int mqdev_nl_init(void);
void mqdev_nl_exit(void);
void mqdev_nl_rebalanced(struct mqdev_group *g);
void mqdev_nl_topic_event(const struct mqdev_topic *topic, bool created);
int mqdev_nl_txn_check(struct net *net, u32 portid,
		       const struct mqdev_identity *ident, u64 txn_id,
		       u64 cookie);

#endif /* _MQDEV_H */
