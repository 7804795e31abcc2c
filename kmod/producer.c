// SPDX-License-Identifier: GPL-2.0
/*
 * Producing: MQDEV_IOC_PRODUCE, a batch of messages each placed in its
 * partition (named, by key, or one partition per batch in turn) and
 * appended with ring.c's mqdev_append(), and MQDEV_IOC_PRODUCE_BATCH, a
 * record batch the producer laid out, appended whole.  A handle bound to a
 * producer session (session.c) numbers its messages, and appends in its
 * open transaction (txn.c).  Every user memory access here happens with
 * the run's locks let go of (mqdev_append_pause()): see ring.c.
 */

#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "mqdev.h"
#include "trace.h"

#define PRODUCE_CHUNK		64

/* Does a produce on @h wait for the high watermark (Kafka's acks=all)? */
static bool produce_acks_all(const struct mqdev_handle *h,
			     const struct mqdev_topic *topic)
{
	return (h->mode & MQDEV_ATTACH_ACKS_ALL) &&
	       (topic->flags & MQDEV_TOPIC_DURABLE);
}

/* Appended, but its acknowledgment could not be written (a racing munmap). */
#define PRODUCE_ACK_LOST	1

struct produce_ctx {
	struct mqdev_append	ap;
	struct mqdev_topic	*topic;
	void			*key;		/* a keyed message's key */
	u32			sticky;		/* unkeyed messages' partition */
	struct mqdev_msg	*chunk;		/* PRODUCE_CHUNK copied in */
	u64			*acks;		/* acks=all: offsets to wait for */
};

/**
 * mqdev_next_rr_partition() - the partition whose turn it is
 * @topic: the topic
 *
 * For a batch, or a delayed message, that names none.
 *
 * Return: a partition of @topic.
 */
u32 mqdev_next_rr_partition(struct mqdev_topic *topic)
{
	return (u32)atomic_inc_return(&topic->next_rr) % topic->nr_parts;
}

/*
 * The key of a message the kernel places: the run of the message before may
 * still hold its partition's lock (and a transaction's), where no user
 * memory may fault and nothing may sleep (see ring.c), so the buffer is
 * made and a key that is not there now is copied with the run paused.
 */
static int produce_copy_key(struct produce_ctx *ctx, const void __user *ukey,
			    u32 len)
{
	int err = 0;

	if (ctx->key && !copy_from_user_nofault(ctx->key, ukey, len))
		return 0;
	mqdev_append_pause(&ctx->ap);
	if (!ctx->key)
		ctx->key = kmalloc(MQDEV_MAX_KEY, GFP_KERNEL);
	if (!ctx->key)
		err = -ENOMEM;
	else if (copy_from_user(ctx->key, ukey, len))
		err = -EFAULT;
	mqdev_append_resume(&ctx->ap);
	return err;
}

/*
 * A message's partition: its own, its key's hash, or for unkeyed messages one
 * partition for the whole batch, the next in round-robin order (the sticky
 * partitioning Kafka's producer uses, so batches stay whole).
 */
static int produce_partition(struct produce_ctx *ctx, struct mqdev_msg *msg,
			     const void **kkey)
{
	struct mqdev_topic *topic = ctx->topic;
	int err;

	*kkey = NULL;
	if (msg->partition != MQDEV_PARTITION_ANY)
		return 0;
	if (msg->key_len) {
		err = produce_copy_key(ctx, u64_to_user_ptr(msg->key),
				       msg->key_len);
		if (err)
			return err;
		msg->partition = mqdev_key_hash(ctx->key, msg->key_len) %
				 topic->nr_parts;
		*kkey = ctx->key;
		return 0;
	}
	if (ctx->sticky == MQDEV_PARTITION_ANY)
		ctx->sticky = mqdev_next_rr_partition(topic);
	msg->partition = ctx->sticky;
	return 0;
}

/*
 * What an acks=all produce waits for.  An open transaction's records are
 * not: they become safe once it is decided (see the uapi header).
 */
static void produce_acks_need(struct produce_ctx *ctx,
			      const struct mqdev_msg *msg)
{
	u64 *need;

	if (!ctx->acks || ctx->ap.txn || msg->offset == MQDEV_OFFSET_UNKNOWN)
		return;
	need = &ctx->acks[msg->partition];
	*need = max(*need, msg->offset + 1);
}

/* An acks=all producer's message, once placed: enough replicas in sync? */
static int produce_acks_check(const struct produce_ctx *ctx,
			      const struct mqdev_msg *msg)
{
	return ctx->acks ?
	       mqdev_acks_check(&ctx->topic->parts[msg->partition]) : 0;
}

/* Check, place and append one message already in kernel memory. */
static int produce_msg(struct mqdev_handle *h, struct produce_ctx *ctx,
		       struct mqdev_msg *msg)
{
	const void *kkey;
	int err;

	msg->status = 0;
	err = mqdev_msg_check(ctx->topic, msg, ctx->ap.bound) ?:
	      produce_partition(ctx, msg, &kkey) ?:
	      produce_acks_check(ctx, msg) ?:
	      mqdev_append(&ctx->ap, &ctx->topic->parts[msg->partition], msg,
			   kkey);
	if (err <= MQDEV_APPEND_DUPLICATE && err >= 0)
		produce_acks_need(ctx, msg);
	if (err == MQDEV_APPEND_DUPLICATE)
		return 0;		/* acknowledged as it was the first time */
	if (err == -EAGAIN) {
		WRITE_ONCE(h->wait_space, MQDEV_RECORD_SPACE(sizeof(struct
				mqdev_record) + msg->key_len + msg->value_len));
		WRITE_ONCE(h->wait_part, msg->partition);
	}
	if (err)
		trace_mqdev_refuse(ctx->topic->name, MQDEV_TRACE_PRODUCE,
				   msg->partition,
				   (u64)msg->key_len + msg->value_len, err);
	if (err < 0)
		mqdev_stats_refused(ctx->topic, msg->partition, err);
	return err;
}

/*
 * One message straight from user memory: the exact path, for elements of
 * another size and for chunks that could not be copied whole.  Returns
 * PRODUCE_ACK_LOST if the message was appended but its acknowledgment could
 * not be written.
 */
static int produce_one(struct mqdev_handle *h, struct produce_ctx *ctx,
		       struct mqdev_msg __user *umsg, u32 msg_size)
{
	struct mqdev_msg msg;
	int err;

	/* No user memory under the run's locks: see ring.c. */
	mqdev_append_pause(&ctx->ap);
	err = copy_struct_from_user(&msg, sizeof(msg), umsg, msg_size);
	/* The acknowledgment must have somewhere to go before we append. */
	if (!err && put_user(msg.partition, &umsg->partition))
		err = -EFAULT;
	mqdev_append_resume(&ctx->ap);
	if (err) {
		mqdev_stats_refused(ctx->topic, MQDEV_PARTITION_ANY, err);
		return err;
	}
	err = produce_msg(h, ctx, &msg);
	if (err)
		return err;
	/* Appended: only a racing munmap() of the array can lose the ack. */
	mqdev_append_pause(&ctx->ap);
	err = put_user(msg.partition, &umsg->partition) ||
	      put_user(msg.offset, &umsg->offset) ||
	      (msg_size >= offsetofend(struct mqdev_msg, status) &&
	       put_user(msg.status, &umsg->status));
	mqdev_append_resume(&ctx->ap);
	return err ? PRODUCE_ACK_LOST : 0;
}

/*
 * Up to PRODUCE_CHUNK messages of the current size with one copy in and one
 * copy out, instead of several user accesses per message.  *@appended says
 * how many went in; a chunk that cannot be copied whole goes message by
 * message instead, so errors land on the same message either way.
 */
static int produce_chunk(struct mqdev_handle *h, struct produce_ctx *ctx,
			 struct mqdev_msg __user *umsgs, u32 n, u32 *appended)
{
	size_t len = n * sizeof(*umsgs);
	bool faulted;
	int err = 0;
	u32 i;

	*appended = 0;
	/* No user memory under the run's locks: see ring.c. */
	mqdev_append_pause(&ctx->ap);
	/* Reading it back out also proves the acks have somewhere to go. */
	faulted = copy_from_user(ctx->chunk, umsgs, len) ||
		  copy_to_user(umsgs, ctx->chunk, len);
	mqdev_append_resume(&ctx->ap);
	if (faulted) {
		for (i = 0; i < n && !err; i++) {
			err = produce_one(h, ctx, &umsgs[i], sizeof(*umsgs));
			if (err <= 0)
				*appended += !err;
			else
				++*appended;
		}
		return err;
	}
	for (i = 0; i < n; i++) {
		err = produce_msg(h, ctx, &ctx->chunk[i]);
		if (err)
			break;
	}
	*appended = i;
	mqdev_append_pause(&ctx->ap);
	faulted = copy_to_user(umsgs, ctx->chunk, i * sizeof(*umsgs));
	mqdev_append_resume(&ctx->ap);
	if (faulted)
		return PRODUCE_ACK_LOST;	/* a racing munmap() */
	return err;
}

/**
 * mqdev_produce() - MQDEV_IOC_PRODUCE: append a batch of messages
 * @ioc: the ioctl, on a handle attached to produce
 * @req: the request, copied in
 *
 * A duplicate of a bound producer counts as appended: it is acknowledged as
 * it was the first time.  So does a message whose acknowledgment a racing
 * munmap() of the array lost.
 *
 * Return: how many messages were appended, from the first, if any was;
 * else 0 for an empty batch, -EINVAL for a bad request or message, -E2BIG
 * for a message struct larger than this kernel's and not zero past it,
 * -EMSGSIZE for a message larger than the topic's max_record, -EFAULT,
 * -ENOMEM, -ESTALE or -ETIMEDOUT for a session whose transaction was
 * orphaned (fenced, or timed out), or what mqdev_append() returns.  On an
 * acks=all handle: -ENOLINK before the first message when too few replicas
 * are in sync; and once appended, what mqdev_acks_wait() returns.
 */
long mqdev_produce(struct mqdev_ioc *ioc, struct mqdev_produce *req)
{
	struct produce_ctx ctx = {
		.topic = ioc->topic, .sticky = MQDEV_PARTITION_ANY,
	};
	struct mqdev_handle *h = ioc->h;
	u8 __user *umsgs;
	long done = 0;
	int err;

	/* A single writer's ring is its own to write: swriter.c. */
	if (mqdev_swriter(ctx.topic))
		return -EOPNOTSUPP;
	/* Pairs with smp_store_release() in mqdev_producer_bind(). */
	ctx.ap.bound = smp_load_acquire(&h->bound);
	if (req->flags || req->reserved || req->count > MQDEV_PRODUCE_MAX_MSGS ||
	    req->msg_size < (ctx.ap.bound ? sizeof(struct mqdev_msg) :
			     MQDEV_MSG_SIZE_VER0) ||
	    req->msg_size > PAGE_SIZE) {
		mqdev_stats_refused(ctx.topic, MQDEV_PARTITION_ANY, -EINVAL);
		return -EINVAL;
	}

	WRITE_ONCE(h->wait_part, MQDEV_PARTITION_ANY);
	umsgs = u64_to_user_ptr(req->msgs);
	if (produce_acks_all(h, ctx.topic)) {
		ctx.acks = kcalloc(ctx.topic->nr_parts, sizeof(*ctx.acks),
				   GFP_KERNEL);
		if (!ctx.acks)
			return -ENOMEM;
	}
	if (req->msg_size == sizeof(struct mqdev_msg)) {
		ctx.chunk = kmalloc_array(min_t(u32, req->count, PRODUCE_CHUNK),
					  sizeof(*ctx.chunk), GFP_KERNEL);
		if (!ctx.chunk) {
			err = -ENOMEM;
			goto out_free;
		}
	}
	if (ctx.ap.bound) {
		err = mqdev_txn_append_begin(ctx.ap.bound->session, &ctx.ap.txn);
		if (err)
			goto out_free;
	}
	/*
	 * An open transaction's own records may be what fills the ring, and
	 * it must stay decidable: its appends never sleep for room.
	 */
	ctx.ap.nonblock = (ioc->file->f_flags & O_NONBLOCK) || ctx.ap.txn;
	err = 0;
	for (done = 0; done < req->count && !err;) {
		u32 n = min_t(u32, req->count - done, PRODUCE_CHUNK), went;

		if (ctx.chunk) {
			err = produce_chunk(h, &ctx, (struct mqdev_msg __user *)
					    umsgs + done, n, &went);
			done += went;
		} else {
			err = produce_one(h, &ctx, (struct mqdev_msg __user *)
					  (umsgs + done * req->msg_size),
					  req->msg_size);
			done += err >= 0;
		}
	}
	mqdev_append_end(&ctx.ap);
	mqdev_txn_append_end(ctx.ap.txn);
	kfree(ctx.key);
	if (done && ctx.acks && !(ioc->file->f_flags & O_NONBLOCK)) {
		err = mqdev_acks_wait(ctx.topic, ctx.acks);
		if (err)
			done = 0;	/* appended, but not acknowledged */
	}
out_free:
	kfree(ctx.chunk);
	kfree(ctx.acks);
	/* err == PRODUCE_ACK_LOST: appended, an ack not written (counted) */
	return done ? done : err;
}

static int produce_batch_check(struct mqdev_handle *h,
			       const struct mqdev_topic *topic,
			       const struct mqdev_produce_batch *req)
{
	/* Pairs with smp_store_release() in mqdev_producer_bind(). */
	struct mqdev_bound *bound = smp_load_acquire(&h->bound);

	if (req->flags || req->reserved[0] || req->reserved[1] || bound ||
	    !req->len || req->len % MQDEV_RECORD_ALIGN ||
	    (req->partition != MQDEV_PARTITION_ANY &&
	     req->partition >= topic->nr_parts))
		return -EINVAL;
	if (req->len > MQDEV_BATCH_MAX || req->len > topic->capacity)
		return -EMSGSIZE;
	return 0;
}

/**
 * mqdev_produce_batch() - MQDEV_IOC_PRODUCE_BATCH: append a record batch
 * @ioc: the ioctl, on a handle attached to produce
 * @req: the request, copied in; its acknowledgment goes back
 *
 * Return: 0; else, with nothing of the batch appended: -EINVAL for a bad
 * request (flags or reserved set, a bound handle, a length of 0 or not
 * aligned, no such partition), -EMSGSIZE for a batch larger than
 * MQDEV_BATCH_MAX or the partition, -EFAULT writing the acknowledgment, or
 * what mqdev_append_batch() returns.
 */
long mqdev_produce_batch(struct mqdev_ioc *ioc, struct mqdev_produce_batch *req)
{
	struct mqdev_append ap = {
		.nonblock = ioc->file->f_flags & O_NONBLOCK,
	};
	struct mqdev_topic *topic = ioc->topic;
	struct mqdev_handle *h = ioc->h;
	bool any;
	int err;

	if (mqdev_swriter(topic))
		return -EOPNOTSUPP;
	/* The acknowledgment must have somewhere to go before we append. */
	err = produce_batch_check(h, topic, req) ?:
	      mqdev_ioc_copy_out(ioc, req, sizeof(*req));
	if (err)
		goto out_refused;

	any = req->partition == MQDEV_PARTITION_ANY;
	if (any)
		req->partition = mqdev_next_rr_partition(topic);
	if (produce_acks_all(h, topic)) {
		err = mqdev_acks_check(&topic->parts[req->partition]);
		if (err)
			goto out_refused;
	}
	WRITE_ONCE(h->wait_part, MQDEV_PARTITION_ANY);
	err = mqdev_append_batch(&ap, &topic->parts[req->partition],
				 u64_to_user_ptr(req->records), req->len, any,
				 &req->base_offset, &req->count);
	mqdev_append_end(&ap);
	if (err == -EAGAIN) {
		WRITE_ONCE(h->wait_space, req->len);
		WRITE_ONCE(h->wait_part, req->partition);
	}
	if (err)
		goto out_refused;
	/* Appended: only a racing munmap() can lose the acknowledgment. */
	mqdev_ioc_copy_out(ioc, req, sizeof(*req));
	if (produce_acks_all(h, topic) && !ap.nonblock)
		/* the batch is one partition's: wait for its last record */
		return mqdev_acks_wait_part(&topic->parts[req->partition],
					    req->base_offset + req->count);
	return 0;

out_refused:
	trace_mqdev_refuse(topic->name, MQDEV_TRACE_BATCH, req->partition,
			   req->len, err);
	mqdev_stats_refused(topic, req->partition, err);
	return err;
}
