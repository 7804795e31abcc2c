// SPDX-License-Identifier: GPL-2.0
/*
 * The ioctls of /dev/mq, dispatched from one table: the command, the struct
 * this kernel knows, the size of that struct's first version, what the
 * handle must be, whether the struct goes back to the caller, and the
 * handler.  Everything an ioctl shares with the others is done here, once:
 *
 *   - the command is looked up by its number and checked without its size,
 *     so a struct may grow and the command stay (unknown: ENOTTY);
 *   - the handle is what the command needs (attached to produce or consume,
 *     or a producer session), before anything is copied;
 *   - the struct is copied in as copy_struct_from_user() would: an older,
 *     smaller one back to its first version is zero-extended, a newer,
 *     larger one must be zero past what this kernel knows (E2BIG), one
 *     smaller than the first version is refused (EINVAL);
 *   - on success it is copied back, as much of it as the caller's holds.
 *
 * The struct this kernel knows is copied with a size known at compile time
 * (each command's entry is its own function, so the copy is inlined with
 * the command's sizeof), which hardened usercopy checks when it is compiled
 * instead of on every call: the produce path pays for its copies three
 * times.
 */

#include <linux/build_bug.h>
#include <linux/fs.h>
#include <linux/nospec.h>
#include <linux/uaccess.h>
#include "mqdev.h"

/* The first versions' sizes the uapi names, as the structs lay them out. */
static_assert(offsetof(struct mqdev_attach, off) +
	      offsetof(struct mqdev_ring_offsets, end) +
	      sizeof_field(struct mqdev_attach, reserved) ==
	      MQDEV_ATTACH_SIZE_VER0);
static_assert(offsetof(struct mqdev_msg, sequence) == MQDEV_MSG_SIZE_VER0);
static_assert(offsetof(struct mqdev_wait, send_arg) == MQDEV_WAIT_SIZE_VER0);
static_assert(offsetof(struct mqdev_exchange_bind, headers) ==
	      MQDEV_BIND_SIZE_VER0);
static_assert(sizeof(struct mqdev_exchange_bind) == MQDEV_BIND_SIZE_VER1);
static_assert(offsetof(struct mqdev_binding_info, match) ==
	      MQDEV_BINDING_INFO_SIZE_VER0);

/* The command without its size: structs may grow, the command stays. */
#define MQDEV_IOC_BASE(cmd)	((cmd) & ~IOCSIZE_MASK)

/* What the handle must be */
enum ioc_needs {
	ANY,
	PRODUCE,		/* attached with MQDEV_ATTACH_PRODUCE */
	CONSUME,		/* attached with MQDEV_ATTACH_CONSUME */
	SESSION,		/* a producer session */
};

#define BACK		BIT(0)	/* the struct goes back when it returns 0 */
/* and when a signal cut short a wait after it was done (made, not safe) */
#define BACK_INTR	BIT(1)

static int ioc_handle(struct mqdev_ioc *ioc, enum ioc_needs needs)
{
	struct mqdev_handle *h = ioc->h;

	switch (needs) {
	case ANY:
		return 0;
	case PRODUCE:
	case CONSUME:
		ioc->topic = mqdev_handle_topic(h, needs == PRODUCE ?
						MQDEV_ATTACH_PRODUCE :
						MQDEV_ATTACH_CONSUME);
		return PTR_ERR_OR_ZERO(ioc->topic);
	case SESSION:
		/* Pairs with smp_store_release() in mqdev_producer_init(). */
		ioc->session = smp_load_acquire(&h->session);
		return ioc->session ? 0 : -EBADFD;
	}
	return -EINVAL;
}

/* @ksize is a sizeof where this is inlined: see the head of the file. */
static __always_inline int ioc_copy_in(void *req, size_t ksize, size_t first,
				       const struct mqdev_ioc *ioc)
{
	if (ioc->usize == ksize)
		return copy_from_user(req, ioc->uarg, ksize) ? -EFAULT : 0;
	if (ioc->usize < first)
		return -EINVAL;
	return copy_struct_from_user(req, ksize, ioc->uarg, ioc->usize);
}

/* Before the handler: the handle, then the struct. */
static __always_inline long ioc_enter(struct mqdev_ioc *ioc, void *req,
				      size_t ksize, size_t first,
				      enum ioc_needs needs)
{
	return ioc_handle(ioc, needs) ?: ioc_copy_in(req, ksize, first, ioc);
}

/* After it: the struct back, if the command has it so and all went well. */
static __always_inline long ioc_leave(struct mqdev_ioc *ioc, long ret,
				      const void *req, size_t ksize,
				      unsigned int flags)
{
	if ((!ret && (flags & BACK)) || (ret == -EINTR && (flags & BACK_INTR)))
		ret = mqdev_ioc_copy_out(ioc, req, ksize) ?: ret;
	return ret;
}

/* ---- the handlers that only call on -------------------------------------- */

static long ioc_version(struct mqdev_ioc *ioc, struct mqdev_version *req)
{
	if (req->flags || req->reserved[0] || req->reserved[1])
		return -EINVAL;
	req->api = MQDEV_API_VERSION;
	req->features = MQDEV_FEAT_RECORD_BATCH | MQDEV_FEAT_WAIT |
			MQDEV_FEAT_GROUPS | MQDEV_FEAT_TXN |
			MQDEV_FEAT_GROUP_EVICT | MQDEV_FEAT_TXN_PER_NET |
			MQDEV_FEAT_DURABLE | MQDEV_FEAT_RECORD_FLAGS |
			MQDEV_FEAT_SCHEDULE | MQDEV_FEAT_EXCHANGES |
			MQDEV_FEAT_ROUTE_PROGRAMS | MQDEV_FEAT_SINGLE_WRITER |
			MQDEV_FEAT_SHARE_GROUPS | MQDEV_FEAT_RECONSUME |
			MQDEV_FEAT_SHARE_DLQ_EXPIRED | MQDEV_FEAT_WAIT_SEND;
	return 0;
}

static long ioc_topic_create(struct mqdev_ioc *ioc,
			     struct mqdev_topic_create *req)
{
	return mqdev_topic_create(ioc->h->net, req);
}

static long ioc_topic_delete(struct mqdev_ioc *ioc, struct mqdev_topic_id *req)
{
	if (req->flags || req->reserved)
		return -EINVAL;
	return mqdev_name_check(req->name) ?:
	       mqdev_topic_delete(ioc->h->net, req->name);
}

static long ioc_topic_list(struct mqdev_ioc *ioc, struct mqdev_topic_list *req)
{
	return mqdev_topic_list(ioc->h->net, req);
}

static long ioc_topic_describe(struct mqdev_ioc *ioc,
			       struct mqdev_topic_info *req)
{
	return mqdev_topic_describe(ioc->h->net, req);
}

/*
 * The commands a wait may send first: a batch, all or nothing, and a single
 * writer's call.  Not MQDEV_IOC_PRODUCE: it may append some of its messages
 * and says how many in its return, which the wait's would replace.
 */
static bool ioc_sendable(unsigned int cmd)
{
	switch (MQDEV_IOC_BASE(cmd)) {
	case MQDEV_IOC_BASE(MQDEV_IOC_PRODUCE_BATCH):
	case MQDEV_IOC_BASE(MQDEV_IOC_WRITER):
		return true;
	}
	return false;
}

/*
 * Of its struct only revents goes back, which every version holds: the
 * rest is as the caller wrote it, and a copy of it all would cost TCG a
 * byte an instruction, twice a wait with a send.
 */
static long ioc_wait(struct mqdev_ioc *ioc, struct mqdev_wait *req)
{
	struct mqdev_wait __user *uarg = ioc->uarg;
	int err;

	if ((req->flags & ~MQDEV_WAIT_FLAGS) || req->reserved)
		return -EINVAL;
	if (!(req->flags & MQDEV_WAIT_SEND)) {
		if (req->send_arg || req->send_cmd || req->send_fd)
			return -EINVAL;
	} else {
		if (!ioc_sendable(req->send_cmd))
			return -EINVAL;
		/*
		 * The answer must have somewhere to go before anything is
		 * sent: once it is, nothing may fail (only a racing
		 * munmap() can lose it).
		 */
		if (put_user(req->revents, &uarg->revents))
			return -EFAULT;
	}
	err = mqdev_wait(ioc->h, ioc->topic, req);
	if (err)
		return err;
	return put_user(req->revents, &uarg->revents) ? -EFAULT : 0;
}

static long ioc_group_join(struct mqdev_ioc *ioc, struct mqdev_group_join *req)
{
	return mqdev_group_join(ioc->h, req);
}

static long ioc_group_assignment(struct mqdev_ioc *ioc,
				 struct mqdev_group_assignment *req)
{
	return mqdev_group_assignment(ioc->h, req);
}

static long ioc_group_commit(struct mqdev_ioc *ioc,
			     struct mqdev_group_commit *req)
{
	return mqdev_group_commit(ioc->h, req);
}

static long ioc_producer_init(struct mqdev_ioc *ioc,
			      struct mqdev_producer_init *req)
{
	return mqdev_producer_init(ioc->h, req);
}

static long ioc_producer_bind(struct mqdev_ioc *ioc,
			      struct mqdev_producer_bind *req)
{
	return mqdev_producer_bind(ioc->h, req);
}

/* A commit that fails still says what became of the transaction. */
static long ioc_txn(struct mqdev_ioc *ioc, struct mqdev_txn *req)
{
	int err = mqdev_txn_ioctl(ioc->session, req);

	if (err && err != -ESTALE && err != -EOVERFLOW && err != -ERANGE &&
	    err != -ETIMEDOUT)
		return err;
	return mqdev_ioc_copy_out(ioc, req, sizeof(*req)) ?: err;
}

static long ioc_txn_offsets(struct mqdev_ioc *ioc,
			    struct mqdev_txn_offsets *req)
{
	return mqdev_txn_offsets(ioc->session, req);
}

/* ---- the table -------------------------------------------------------------- */

/*
 * The table, a line a command: IOC(command, its struct, the size of its
 * first version or 0 for the struct's, what the handle must be, BACK if the
 * struct goes back, the handler).  Each line is a function of its own, so
 * that the struct's size is a constant in it.
 */
#define IOC(cmd, type, first, needs, flags, fn)				\
static long ioc_##cmd(struct mqdev_ioc *ioc)				\
{									\
	type req;							\
	long ret;							\
									\
	ret = ioc_enter(ioc, &req, sizeof(req), (first) ?: sizeof(req),	\
			needs);						\
	if (ret)							\
		return ret;						\
	ret = fn(ioc, &req);						\
	return ioc_leave(ioc, ret, &req, sizeof(req), flags);		\
}

static long ioc_topic_restore(struct mqdev_ioc *ioc,
			      struct mqdev_topic_restore *req)
{
	return mqdev_topic_restore(ioc->h->net, req);
}

static long ioc_topic_open(struct mqdev_ioc *ioc, struct mqdev_topic_id *req)
{
	return mqdev_topic_open(ioc->h->net, req);
}

static long ioc_topic_config(struct mqdev_ioc *ioc,
			     struct mqdev_topic_config *req)
{
	return mqdev_topic_config(ioc->h->net, req);
}

static long ioc_identity_restore(struct mqdev_ioc *ioc,
				 struct mqdev_identity_state *req)
{
	return mqdev_identity_restore(ioc->h->net, req);
}

static long ioc_identity_list(struct mqdev_ioc *ioc,
			      struct mqdev_identity_list *req)
{
	return mqdev_identity_list(ioc->h->net, req);
}

static long ioc_exchange_create(struct mqdev_ioc *ioc,
				struct mqdev_exchange_create *req)
{
	return mqdev_exchange_create(ioc->h->net, req);
}

static long ioc_exchange_delete(struct mqdev_ioc *ioc,
				struct mqdev_topic_id *req)
{
	return mqdev_exchange_delete(ioc->h->net, req);
}

static long ioc_exchange_list(struct mqdev_ioc *ioc,
			      struct mqdev_topic_list *req)
{
	return mqdev_exchange_list(ioc->h->net, req);
}

static long ioc_exchange_describe(struct mqdev_ioc *ioc,
				  struct mqdev_exchange_info *req)
{
	return mqdev_exchange_describe(ioc->h->net, req);
}

static long ioc_exchange_bind(struct mqdev_ioc *ioc,
			      struct mqdev_exchange_bind *req)
{
	return mqdev_exchange_bind(ioc->h->net, req);
}

static long ioc_exchange_unbind(struct mqdev_ioc *ioc,
				struct mqdev_exchange_bind *req)
{
	return mqdev_exchange_unbind(ioc->h->net, req);
}

static long ioc_exchange_program(struct mqdev_ioc *ioc,
				 struct mqdev_exchange_program *req)
{
	return mqdev_exchange_program(ioc->h->net, req);
}

static long ioc_exchange_attach(struct mqdev_ioc *ioc,
				struct mqdev_exchange_attach *req)
{
	return mqdev_exchange_attach(ioc->h, req);
}

IOC(VERSION, struct mqdev_version, 0, ANY, BACK, ioc_version)
IOC(TOPIC_CREATE, struct mqdev_topic_create, 0, ANY, 0, ioc_topic_create)
IOC(TOPIC_DELETE, struct mqdev_topic_id, 0, ANY, 0, ioc_topic_delete)
IOC(TOPIC_LIST, struct mqdev_topic_list, 0, ANY, BACK, ioc_topic_list)
IOC(TOPIC_DESCRIBE, struct mqdev_topic_info, 0, ANY, BACK, ioc_topic_describe)
IOC(TOPIC_RESTORE, struct mqdev_topic_restore, 0, ANY, 0, ioc_topic_restore)
IOC(TOPIC_OPEN, struct mqdev_topic_id, 0, ANY, 0, ioc_topic_open)
IOC(ATTACH, struct mqdev_attach, MQDEV_ATTACH_SIZE_VER0, ANY, 0, mqdev_attach)
IOC(PRODUCE, struct mqdev_produce, 0, PRODUCE, 0, mqdev_produce)
IOC(PRODUCE_BATCH, struct mqdev_produce_batch, 0, PRODUCE, 0, mqdev_produce_batch)
IOC(SEEK, struct mqdev_seek, 0, CONSUME, BACK, mqdev_seek)
IOC(WAKEUP, struct mqdev_wakeup, 0, CONSUME, 0, mqdev_wakeup)
IOC(WAIT, struct mqdev_wait, MQDEV_WAIT_SIZE_VER0, CONSUME, 0, ioc_wait)
IOC(WRITER, struct mqdev_writer, 0, PRODUCE, BACK, mqdev_swriter_ioctl)
IOC(REPLICA_CONFIRM, struct mqdev_replica_confirm, 0, CONSUME, BACK, mqdev_replica_confirm)
IOC(REPLICA_GROUPS, struct mqdev_replica_groups, 0, CONSUME, BACK, mqdev_replica_groups)
IOC(GROUP_JOIN, struct mqdev_group_join, 0, CONSUME, BACK, ioc_group_join)
IOC(GROUP_ASSIGNMENT, struct mqdev_group_assignment, 0, CONSUME, BACK, ioc_group_assignment)
IOC(GROUP_COMMIT, struct mqdev_group_commit, 0, CONSUME, 0, ioc_group_commit)
IOC(GROUP_RESTORE, struct mqdev_group_restore, 0, CONSUME, 0, mqdev_group_restore_ioc)
IOC(GROUP_RECONSUME, struct mqdev_reconsume, 0, CONSUME, BACK, mqdev_group_reconsume)
IOC(PRODUCER_INIT, struct mqdev_producer_init, 0, ANY, BACK, ioc_producer_init)
IOC(PRODUCER_BIND, struct mqdev_producer_bind, 0, PRODUCE, 0, ioc_producer_bind)
IOC(TXN, struct mqdev_txn, 0, SESSION, 0, ioc_txn)
IOC(TXN_OFFSETS, struct mqdev_txn_offsets, 0, SESSION, 0, ioc_txn_offsets)
IOC(PRODUCER_RESTORE, struct mqdev_producer_restore, 0, CONSUME, 0, mqdev_producer_restore_ioc)
IOC(IDENTITY_RESTORE, struct mqdev_identity_state, 0, ANY, 0, ioc_identity_restore)
IOC(IDENTITY_LIST, struct mqdev_identity_list, 0, ANY, BACK, ioc_identity_list)
IOC(EXCHANGE_CREATE, struct mqdev_exchange_create, 0, ANY, 0, ioc_exchange_create)
IOC(EXCHANGE_DELETE, struct mqdev_topic_id, 0, ANY, 0, ioc_exchange_delete)
IOC(EXCHANGE_LIST, struct mqdev_topic_list, 0, ANY, BACK, ioc_exchange_list)
IOC(EXCHANGE_DESCRIBE, struct mqdev_exchange_info, 0, ANY, BACK, ioc_exchange_describe)
IOC(EXCHANGE_BIND, struct mqdev_exchange_bind, MQDEV_BIND_SIZE_VER0, ANY, 0, ioc_exchange_bind)
IOC(EXCHANGE_UNBIND, struct mqdev_exchange_bind, MQDEV_BIND_SIZE_VER0, ANY, 0, ioc_exchange_unbind)
IOC(EXCHANGE_ATTACH, struct mqdev_exchange_attach, 0, ANY, 0, ioc_exchange_attach)
IOC(EXCHANGE_PRODUCE, struct mqdev_exchange_produce, 0, ANY, 0, mqdev_exchange_produce)
IOC(EXCHANGE_PROGRAM, struct mqdev_exchange_program, 0, ANY, 0, ioc_exchange_program)
IOC(SCHEDULE, struct mqdev_schedule, 0, PRODUCE, BACK | BACK_INTR, mqdev_schedule)
IOC(SCHED_CANCEL, struct mqdev_sched_cancel, 0, PRODUCE, 0, mqdev_sched_cancel)
IOC(SCHED_LIST, struct mqdev_sched_list, 0, CONSUME, BACK, mqdev_sched_list)
IOC(SCHED_SNAPSHOT, struct mqdev_sched_snapshot, 0, CONSUME, BACK, mqdev_sched_snapshot)
IOC(SCHED_RESTORE, struct mqdev_sched_restore, 0, CONSUME, 0, mqdev_sched_restore_ioc)
IOC(TOPIC_CONFIG, struct mqdev_topic_config, 0, ANY, BACK, ioc_topic_config)
IOC(SHARE_JOIN, struct mqdev_share_join, 0, CONSUME, BACK, mqdev_share_join)
IOC(SHARE_ACQUIRE, struct mqdev_share_acquire, 0, CONSUME, BACK, mqdev_share_acquire)
IOC(SHARE_ACK, struct mqdev_share_ack, 0, CONSUME, 0, mqdev_share_ack)
IOC(SHARE_DESCRIBE, struct mqdev_share_info, 0, CONSUME, BACK, mqdev_share_describe)
IOC(SHARE_DLQ_INFO, struct mqdev_share_dlq_info, 0, CONSUME, BACK, mqdev_dlq_info)

struct mqdev_ioctl {
	unsigned int	cmd;
	long		(*call)(struct mqdev_ioc *ioc);
};

/* Indexed by command number; a hole is ENOTTY. */
#define IOC_AT(cmd)							\
	[_IOC_NR(MQDEV_IOC_##cmd)] = { MQDEV_IOC_##cmd, ioc_##cmd }

static const struct mqdev_ioctl mqdev_ioctls[] = {
	IOC_AT(VERSION),
	IOC_AT(TOPIC_CREATE),
	IOC_AT(TOPIC_DELETE),
	IOC_AT(TOPIC_LIST),
	IOC_AT(TOPIC_DESCRIBE),
	IOC_AT(TOPIC_RESTORE),
	IOC_AT(TOPIC_OPEN),
	IOC_AT(ATTACH),
	IOC_AT(PRODUCE),
	IOC_AT(PRODUCE_BATCH),
	IOC_AT(SEEK),
	IOC_AT(WAKEUP),
	IOC_AT(WAIT),
	IOC_AT(WRITER),
	IOC_AT(REPLICA_CONFIRM),
	IOC_AT(REPLICA_GROUPS),
	IOC_AT(GROUP_JOIN),
	IOC_AT(GROUP_ASSIGNMENT),
	IOC_AT(GROUP_COMMIT),
	IOC_AT(GROUP_RESTORE),
	IOC_AT(GROUP_RECONSUME),
	IOC_AT(PRODUCER_INIT),
	IOC_AT(PRODUCER_BIND),
	IOC_AT(TXN),
	IOC_AT(TXN_OFFSETS),
	IOC_AT(PRODUCER_RESTORE),
	IOC_AT(IDENTITY_RESTORE),
	IOC_AT(IDENTITY_LIST),
	IOC_AT(EXCHANGE_CREATE),
	IOC_AT(EXCHANGE_DELETE),
	IOC_AT(EXCHANGE_LIST),
	IOC_AT(EXCHANGE_DESCRIBE),
	IOC_AT(EXCHANGE_BIND),
	IOC_AT(EXCHANGE_UNBIND),
	IOC_AT(EXCHANGE_ATTACH),
	IOC_AT(EXCHANGE_PRODUCE),
	IOC_AT(EXCHANGE_PROGRAM),
	IOC_AT(SCHEDULE),
	IOC_AT(SCHED_CANCEL),
	IOC_AT(SCHED_LIST),
	IOC_AT(SCHED_SNAPSHOT),
	IOC_AT(SCHED_RESTORE),
	IOC_AT(TOPIC_CONFIG),
	IOC_AT(SHARE_JOIN),
	IOC_AT(SHARE_ACQUIRE),
	IOC_AT(SHARE_ACK),
	IOC_AT(SHARE_DESCRIBE),
	IOC_AT(SHARE_DLQ_INFO),
};

/**
 * mqdev_ioctl() - the device's unlocked_ioctl
 * @file: the handle's file
 * @cmd: the command, with the size of the caller's struct in it
 * @arg: the struct's address
 *
 * Return: -ENOTTY for a command this kernel does not know; -EBADFD or
 * -EBADF for a handle that is not what the command needs (see
 * mqdev_handle_topic(); -EBADFD too for no producer session); -EINVAL for
 * a struct smaller than its first version, -E2BIG for a larger one not
 * zero past what this kernel knows, -EFAULT; else what the command's
 * handler returns, or -EFAULT copying its struct back.
 */
long mqdev_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct mqdev_ioc ioc = {
		.h = file->private_data,
		.file = file,
		.uarg = (void __user *)arg,
		.usize = _IOC_SIZE(cmd),
	};
	const struct mqdev_ioctl *entry;
	unsigned int nr = _IOC_NR(cmd);

	if (nr >= ARRAY_SIZE(mqdev_ioctls))
		return -ENOTTY;
	/* Not even speculatively past the table: the entry holds a call. */
	entry = &mqdev_ioctls[array_index_nospec(nr, ARRAY_SIZE(mqdev_ioctls))];
	if (!entry->call || MQDEV_IOC_BASE(cmd) != MQDEV_IOC_BASE(entry->cmd))
		return -ENOTTY;
	return entry->call(&ioc);
}
