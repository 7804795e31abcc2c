// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/mq: the misc device.  Every open file is a handle that may attach to
 * one topic, to produce to it, consume from it, or both.  A consuming handle
 * owns one page of reader positions, one per partition, which it maps
 * writable; everything else it maps is read-only.
 */

#include <linux/bitmap.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nsproxy.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include "mqdev.h"

#define MQDEV_MAX_BATCH		4096

/* The command without its size: structs may grow, the command stays. */
#define MQDEV_IOC_BASE(cmd)	((cmd) & ~IOCSIZE_MASK)

/*
 * The struct as this kernel knows it is copied with a size known at compile
 * time (these are inlined where @ksize is a sizeof), which hardened
 * usercopy checks when it is compiled instead of on every call: the
 * produce path pays for the copies of its request three times.  A newer,
 * larger struct goes through copy_struct_from_user().
 */
static __always_inline int mqdev_copy_in(void *dst, size_t ksize,
					 const void __user *src, size_t usize)
{
	/* Every struct so far is its first version: nothing may be missing. */
	if (usize < ksize)
		return -EINVAL;
	if (usize == ksize)
		return copy_from_user(dst, src, ksize) ? -EFAULT : 0;
	return copy_struct_from_user(dst, ksize, src, usize);
}

/* Only after mqdev_copy_in(), which made sure the caller's struct has room. */
static __always_inline int mqdev_copy_out(void __user *dst, const void *src,
					  size_t ksize)
{
	return copy_to_user(dst, src, ksize) ? -EFAULT : 0;
}

/* The handle's topic, if it is attached in @mode. */
static struct mqdev_topic *handle_topic(struct mqdev_handle *h, u32 mode)
{
	/* Pairs with smp_store_release() in mqdev_ioctl_attach(). */
	struct mqdev_topic *topic = smp_load_acquire(&h->topic);

	if (!topic)
		return ERR_PTR(-EBADFD);
	if (!(h->mode & mode))
		return ERR_PTR(-EBADF);
	return topic;
}

/* The handle's topic for @mode, with the request copied in. */
static __always_inline struct mqdev_topic *
handle_request(struct mqdev_handle *h, u32 mode, void *req, size_t ksize,
	       const void __user *uarg, size_t usize)
{
	struct mqdev_topic *topic = handle_topic(h, mode);
	int err;

	if (IS_ERR(topic))
		return topic;
	err = mqdev_copy_in(req, ksize, uarg, usize);
	return err ? ERR_PTR(err) : topic;
}

static int mqdev_open(struct inode *inode, struct file *file)
{
	struct mqdev_handle *h;

	h = kzalloc(sizeof(*h), GFP_KERNEL_ACCOUNT);
	if (!h)
		return -ENOMEM;
	mutex_init(&h->lock);
	mutex_init(&h->read_lock);
	h->wait_part = MQDEV_PARTITION_ANY;
	/* Like a socket: the namespace it was opened in is the one it sees. */
	h->net = get_net(current->nsproxy->net_ns);
	file->private_data = h;
	return 0;
}

/* Leaves the handle as it was before handle_alloc_reader(): it may try again. */
static void handle_free_reader(struct mqdev_handle *h)
{
	bitmap_free(h->subscribed);
	h->subscribed = NULL;
	kfree(h->holds);
	h->holds = NULL;
	if (h->cons_page)
		put_page(h->cons_page);
	h->cons_page = NULL;
	h->cons = NULL;
}

static int handle_alloc_reader(struct mqdev_handle *h, u32 nr_parts)
{
	u32 i;

	h->cons_page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	h->holds = kcalloc(nr_parts, sizeof(*h->holds), GFP_KERNEL_ACCOUNT);
	h->subscribed = bitmap_zalloc(nr_parts, GFP_KERNEL_ACCOUNT);
	if (!h->cons_page || !h->holds || !h->subscribed) {
		handle_free_reader(h);
		return -ENOMEM;
	}
	h->cons = page_address(h->cons_page);
	for (i = 0; i < nr_parts; i++) {
		INIT_LIST_HEAD(&h->holds[i].node);
		h->holds[i].pos = handle_pos(h, i);
	}
	return 0;
}

static int mqdev_release(struct inode *inode, struct file *file)
{
	struct mqdev_handle *h = file->private_data;
	struct mqdev_topic *topic = h->topic;
	u32 i;

	if (h->session)
		mqdev_session_release(h->session);
	if (topic) {
		if (h->bound)
			mqdev_bound_release(topic, h->bound);
		mqdev_group_leave(h);
		if (h->holds)
			for (i = 0; i < topic->nr_parts; i++)
				mqdev_ring_hold(&topic->parts[i],
						&h->holds[i], false);
		handle_free_reader(h);
		mqdev_topic_put(topic);
	}
	put_net(h->net);
	kfree(h);
	return 0;
}

static void attach_fill(struct mqdev_attach *req,
			const struct mqdev_topic *topic)
{
	struct mqdev_ring_offsets *off = &req->off;

	req->partitions = topic->nr_parts;
	req->capacity = topic->capacity;
	req->topic_flags = topic->flags;
	req->max_record = topic->max_record;
	off->ring_mmap = MQDEV_RING_MMAP;
	off->part_stride = MQDEV_PART_STRIDE;
	off->ring_size = PAGE_SIZE + 2 * topic->capacity;
	off->cons_mmap = MQDEV_CONS_MMAP;
	off->cons_size = PAGE_SIZE;
	off->head = offsetof(struct mqdev_ring_ctrl, head);
	off->tail = offsetof(struct mqdev_ring_ctrl, tail);
	off->flags = offsetof(struct mqdev_ring_ctrl, flags);
	off->data = PAGE_SIZE;
	off->data_size = topic->capacity;
	off->cons_pos = 0;
	off->cons_stride = MQDEV_CONS_STRIDE;
	mqdev_txn_fill_offsets(off);
}

static long mqdev_ioctl_attach(struct mqdev_handle *h, void __user *uarg,
			       size_t usize)
{
	static const enum mqdev_act acts[] = {
		[MQDEV_ATTACH_PRODUCE] = MQDEV_ACT_PRODUCE,
		[MQDEV_ATTACH_CONSUME] = MQDEV_ACT_CONSUME,
		[MQDEV_ATTACH_PRODUCE | MQDEV_ATTACH_CONSUME] =
			MQDEV_ACT_PRODUCE_CONSUME,
	};
	struct mqdev_topic *topic;
	struct mqdev_attach req;
	int err;

	err = mqdev_copy_in(&req, sizeof(req), uarg, usize);
	if (err)
		return err;
	if (!req.flags || (req.flags & ~MQDEV_ATTACH_FLAGS) ||
	    req.reserved[0] || req.reserved[1] ||
	    memchr_inv(&req.off, 0, sizeof(req.off)))
		return -EINVAL;
	err = mqdev_name_check(req.name);
	if (err)
		return err;

	topic = mqdev_topic_get(NULL, h->net, req.name, acts[req.flags]);
	if (IS_ERR(topic))
		return PTR_ERR(topic);

	mutex_lock(&h->lock);
	if (h->topic || h->session) {
		err = -EBUSY;
		goto err_unlock;
	}
	attach_fill(&req, topic);
	err = mqdev_copy_out(uarg, &req, sizeof(req));
	if (err)
		goto err_unlock;
	if (req.flags & MQDEV_ATTACH_CONSUME) {
		err = handle_alloc_reader(h, topic->nr_parts);
		if (err)
			goto err_unlock;
	}
	h->mode = req.flags;
	/* Pairs with smp_load_acquire() in handle_topic(): state first. */
	smp_store_release(&h->topic, topic);
	mutex_unlock(&h->lock);
	return 0;

err_unlock:
	mutex_unlock(&h->lock);
	mqdev_topic_put(topic);
	return err;
}

static int produce_check(const struct mqdev_topic *topic,
			 const struct mqdev_msg *msg, bool bound)
{
	u64 len = sizeof(struct mqdev_record) + (u64)msg->key_len +
		  msg->value_len;

	if (msg->flags || msg->key_len > MQDEV_MAX_KEY ||
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

#define PRODUCE_CHUNK		64

struct produce_ctx {
	struct mqdev_append	ap;
	struct mqdev_topic	*topic;
	void			*key;		/* a keyed message's key */
	u32			sticky;		/* unkeyed messages' partition */
	struct mqdev_msg	*chunk;		/* PRODUCE_CHUNK copied in */
};

/* The partition whose turn it is, for a batch that names none. */
static u32 next_rr_partition(struct mqdev_topic *topic)
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
		ctx->sticky = next_rr_partition(topic);
	msg->partition = ctx->sticky;
	return 0;
}

/* Check, place and append one message already in kernel memory. */
static int produce_msg(struct mqdev_handle *h, struct produce_ctx *ctx,
		       struct mqdev_msg *msg)
{
	const void *kkey;
	int err;

	msg->status = 0;
	err = produce_check(ctx->topic, msg, ctx->ap.bound);
	if (err)
		return err;
	err = produce_partition(ctx, msg, &kkey);
	if (err)
		return err;
	err = mqdev_append(&ctx->ap, &ctx->topic->parts[msg->partition], msg,
			   kkey);
	if (err > 0)
		return 0;		/* a duplicate: acknowledged as before */
	if (err == -EAGAIN) {
		WRITE_ONCE(h->wait_space, MQDEV_RECORD_SPACE(sizeof(struct
				mqdev_record) + msg->key_len + msg->value_len));
		WRITE_ONCE(h->wait_part, msg->partition);
	}
	return err;
}

/*
 * One message straight from user memory: the exact path, for elements of
 * another size and for chunks that could not be copied whole.  Returns 1 if
 * the message was appended but its acknowledgment could not be written.
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
	if (err)
		return err;
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
	return err ? 1 : 0;
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
		return 1;	/* a racing munmap(): appended, acks lost */
	return err;
}

static long mqdev_ioctl_produce(struct mqdev_handle *h, struct file *file,
				void __user *uarg, size_t usize)
{
	struct produce_ctx ctx = { .sticky = MQDEV_PARTITION_ANY };
	struct mqdev_produce req;
	u8 __user *umsgs;
	long done = 0;
	int err;

	ctx.topic = handle_request(h, MQDEV_ATTACH_PRODUCE, &req, sizeof(req),
				   uarg, usize);
	if (IS_ERR(ctx.topic))
		return PTR_ERR(ctx.topic);
	/* Pairs with smp_store_release() in mqdev_producer_bind(). */
	ctx.ap.bound = smp_load_acquire(&h->bound);
	if (req.flags || req.reserved || req.count > MQDEV_MAX_BATCH ||
	    req.msg_size < (ctx.ap.bound ? sizeof(struct mqdev_msg) :
			    MQDEV_MSG_SIZE_VER0) ||
	    req.msg_size > PAGE_SIZE)
		return -EINVAL;

	WRITE_ONCE(h->wait_part, MQDEV_PARTITION_ANY);
	umsgs = u64_to_user_ptr(req.msgs);
	if (req.msg_size == sizeof(struct mqdev_msg)) {
		ctx.chunk = kmalloc_array(min_t(u32, req.count, PRODUCE_CHUNK),
					  sizeof(*ctx.chunk), GFP_KERNEL);
		if (!ctx.chunk)
			return -ENOMEM;
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
	ctx.ap.nonblock = (file->f_flags & O_NONBLOCK) || ctx.ap.txn;
	err = 0;
	for (done = 0; done < req.count && !err;) {
		u32 n = min_t(u32, req.count - done, PRODUCE_CHUNK), went;

		if (ctx.chunk) {
			err = produce_chunk(h, &ctx, (struct mqdev_msg __user *)
					    umsgs + done, n, &went);
			done += went;
		} else {
			err = produce_one(h, &ctx, (struct mqdev_msg __user *)
					  (umsgs + done * req.msg_size),
					  req.msg_size);
			done += err >= 0;
		}
	}
	mqdev_append_end(&ctx.ap);
	mqdev_txn_append_end(ctx.ap.txn);
	kfree(ctx.key);
out_free:
	kfree(ctx.chunk);
	/* err > 0: appended, but an ack could not be written (counted) */
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

static long mqdev_ioctl_produce_batch(struct mqdev_handle *h,
				      struct file *file, void __user *uarg,
				      size_t usize)
{
	struct mqdev_append ap = { .nonblock = file->f_flags & O_NONBLOCK };
	struct mqdev_produce_batch req;
	struct mqdev_topic *topic;
	bool any;
	int err;

	topic = handle_request(h, MQDEV_ATTACH_PRODUCE, &req, sizeof(req),
			       uarg, usize);
	if (IS_ERR(topic))
		return PTR_ERR(topic);
	err = produce_batch_check(h, topic, &req);
	if (err)
		return err;
	/* The acknowledgment must have somewhere to go before we append. */
	if (mqdev_copy_out(uarg, &req, sizeof(req)))
		return -EFAULT;

	any = req.partition == MQDEV_PARTITION_ANY;
	if (any)
		req.partition = next_rr_partition(topic);
	WRITE_ONCE(h->wait_part, MQDEV_PARTITION_ANY);
	err = mqdev_append_batch(&ap, &topic->parts[req.partition],
				 u64_to_user_ptr(req.records), req.len, any,
				 &req.base_offset, &req.count);
	mqdev_append_end(&ap);
	if (err == -EAGAIN) {
		WRITE_ONCE(h->wait_space, req.len);
		WRITE_ONCE(h->wait_part, req.partition);
	}
	if (err)
		return err;
	/* Appended: only a racing munmap() can lose the acknowledgment. */
	mqdev_copy_out(uarg, &req, sizeof(req));
	return 0;
}

static long mqdev_ioctl_wait(struct mqdev_handle *h, void __user *uarg,
			     size_t usize)
{
	struct mqdev_topic *topic;
	struct mqdev_wait req;
	int err;

	topic = handle_request(h, MQDEV_ATTACH_CONSUME, &req, sizeof(req),
			       uarg, usize);
	if (IS_ERR(topic))
		return PTR_ERR(topic);
	if (req.flags || req.reserved)
		return -EINVAL;
	err = mqdev_wait(h, topic, &req);
	return err ?: mqdev_copy_out(uarg, &req, sizeof(req));
}

static int seek_one(struct mqdev_handle *h, struct mqdev_topic *topic,
		    u32 part, const struct mqdev_seek *req, u64 *offset)
{
	int err;

	*offset = req->offset;
	err = mqdev_ring_seek(&topic->parts[part], req->whence, offset,
			      handle_pos(h, part), &h->holds[part],
			      req->flags & MQDEV_SEEK_HOLD);
	if (!err)
		set_bit(part, h->subscribed);
	return err;
}

static long mqdev_ioctl_seek(struct mqdev_handle *h, void __user *uarg,
			     size_t usize)
{
	struct mqdev_topic *topic;
	struct mqdev_seek req;
	u64 offset = 0;
	u32 i;
	int err;

	topic = handle_request(h, MQDEV_ATTACH_CONSUME, &req, sizeof(req),
			       uarg, usize);
	if (IS_ERR(topic))
		return PTR_ERR(topic);
	if (req.whence > MQDEV_SEEK_TIMESTAMP ||
	    (req.flags & ~MQDEV_SEEK_FLAGS) ||
	    req.reserved)
		return -EINVAL;
	/* Offsets belong to one partition; times do not. */
	if (req.partition == MQDEV_PARTITION_ALL ?
	    req.whence == MQDEV_SEEK_OFFSET : req.partition >= topic->nr_parts)
		return -EINVAL;

	/* Holding a block topic's records stops its producers: a writer's say. */
	if ((req.flags & MQDEV_SEEK_HOLD) &&
	    !(topic->flags & MQDEV_TOPIC_OVERWRITE)) {
		err = mqdev_permits(NULL, topic, NULL, MQDEV_ACT_HOLD);
		if (err)
			return err;
	}

	mutex_lock(&h->lock);
	/* A member reads where its group says. */
	if (h->member)
		err = -EBUSY;
	else if (req.partition != MQDEV_PARTITION_ALL)
		err = seek_one(h, topic, req.partition, &req, &offset);
	else
		for (i = 0; i < topic->nr_parts && !err; i++)
			err = seek_one(h, topic, i, &req, &offset);
	mutex_unlock(&h->lock);
	if (err)
		return err;

	req.offset = offset;
	return mqdev_copy_out(uarg, &req, sizeof(req));
}

static long mqdev_ioctl_wakeup(struct mqdev_handle *h, void __user *uarg,
			       size_t usize)
{
	struct mqdev_topic *topic;
	struct mqdev_wakeup req;
	u32 i;

	topic = handle_request(h, MQDEV_ATTACH_CONSUME, &req, sizeof(req),
			       uarg, usize);
	if (IS_ERR(topic))
		return PTR_ERR(topic);
	if (req.reserved || (req.partition != MQDEV_PARTITION_ALL &&
			     req.partition >= topic->nr_parts))
		return -EINVAL;

	for (i = 0; i < topic->nr_parts; i++)
		if (req.partition == MQDEV_PARTITION_ALL || req.partition == i)
			mqdev_ring_moved(&topic->parts[i]);
	return 0;
}

static long mqdev_ioctl_group(struct mqdev_handle *h, unsigned int cmd,
			      void __user *uarg, size_t usize)
{
	union {
		struct mqdev_group_join join;
		struct mqdev_group_assignment assignment;
		struct mqdev_group_commit commit;
	} req;
	struct mqdev_topic *topic;
	size_t ksize;
	int err;

	switch (MQDEV_IOC_BASE(cmd)) {
	case MQDEV_IOC_BASE(MQDEV_IOC_GROUP_JOIN):
		ksize = sizeof(req.join);
		break;
	case MQDEV_IOC_BASE(MQDEV_IOC_GROUP_ASSIGNMENT):
		ksize = sizeof(req.assignment);
		break;
	default:
		ksize = sizeof(req.commit);
		break;
	}
	topic = handle_request(h, MQDEV_ATTACH_CONSUME, &req, ksize, uarg, usize);
	if (IS_ERR(topic))
		return PTR_ERR(topic);

	switch (MQDEV_IOC_BASE(cmd)) {
	case MQDEV_IOC_BASE(MQDEV_IOC_GROUP_JOIN):
		err = mqdev_group_join(h, &req.join);
		break;
	case MQDEV_IOC_BASE(MQDEV_IOC_GROUP_ASSIGNMENT):
		err = mqdev_group_assignment(h, &req.assignment);
		break;
	default:
		return mqdev_group_commit(h, &req.commit);
	}
	return err ?: mqdev_copy_out(uarg, &req, ksize);
}

static long mqdev_ioctl_producer(struct mqdev_handle *h, unsigned int cmd,
				 void __user *uarg, size_t usize)
{
	union {
		struct mqdev_producer_init init;
		struct mqdev_producer_bind bind;
		struct mqdev_txn txn;
		struct mqdev_txn_offsets offsets;
	} req;
	struct mqdev_session *session;
	struct mqdev_topic *topic;
	size_t ksize;
	int err;

	switch (MQDEV_IOC_BASE(cmd)) {
	case MQDEV_IOC_BASE(MQDEV_IOC_PRODUCER_INIT):
		ksize = sizeof(req.init);
		break;
	case MQDEV_IOC_BASE(MQDEV_IOC_PRODUCER_BIND):
		topic = handle_request(h, MQDEV_ATTACH_PRODUCE, &req.bind,
				       sizeof(req.bind), uarg, usize);
		return IS_ERR(topic) ? PTR_ERR(topic) :
		       mqdev_producer_bind(h, &req.bind);
	case MQDEV_IOC_BASE(MQDEV_IOC_TXN):
		ksize = sizeof(req.txn);
		break;
	default:
		ksize = sizeof(req.offsets);
		break;
	}
	err = mqdev_copy_in(&req, ksize, uarg, usize);
	if (err)
		return err;
	/* Pairs with smp_store_release() in mqdev_producer_init(). */
	session = smp_load_acquire(&h->session);
	if (MQDEV_IOC_BASE(cmd) == MQDEV_IOC_BASE(MQDEV_IOC_PRODUCER_INIT))
		err = mqdev_producer_init(h, &req.init);
	else if (!session)
		return -EBADFD;
	else if (MQDEV_IOC_BASE(cmd) == MQDEV_IOC_BASE(MQDEV_IOC_TXN))
		err = mqdev_txn_ioctl(session, &req.txn);
	else
		return mqdev_txn_offsets(session, &req.offsets);
	/* A commit that fails still says what became of the transaction. */
	if (err && err != -ESTALE && err != -EOVERFLOW && err != -ERANGE &&
	    err != -ETIMEDOUT)
		return err;
	return mqdev_copy_out(uarg, &req, ksize) ?: err;
}

static long mqdev_ioctl_topic(struct mqdev_handle *h, unsigned int cmd,
			      void __user *uarg,
			      size_t usize)
{
	union {
		struct mqdev_topic_create create;
		struct mqdev_topic_id id;
		struct mqdev_topic_list list;
		struct mqdev_topic_info info;
	} req;
	size_t ksize;
	int err;

	switch (MQDEV_IOC_BASE(cmd)) {
	case MQDEV_IOC_BASE(MQDEV_IOC_TOPIC_CREATE):
		ksize = sizeof(req.create);
		break;
	case MQDEV_IOC_BASE(MQDEV_IOC_TOPIC_DELETE):
		ksize = sizeof(req.id);
		break;
	case MQDEV_IOC_BASE(MQDEV_IOC_TOPIC_LIST):
		ksize = sizeof(req.list);
		break;
	default:
		ksize = sizeof(req.info);
		break;
	}
	err = mqdev_copy_in(&req, ksize, uarg, usize);
	if (err)
		return err;

	switch (MQDEV_IOC_BASE(cmd)) {
	case MQDEV_IOC_BASE(MQDEV_IOC_TOPIC_CREATE):
		return mqdev_topic_create(h->net, &req.create);
	case MQDEV_IOC_BASE(MQDEV_IOC_TOPIC_DELETE):
		if (req.id.flags || req.id.reserved)
			return -EINVAL;
		err = mqdev_name_check(req.id.name);
		return err ?: mqdev_topic_delete(h->net, req.id.name);
	case MQDEV_IOC_BASE(MQDEV_IOC_TOPIC_LIST):
		err = mqdev_topic_list(h->net, &req.list);
		break;
	default:
		err = mqdev_topic_describe(h->net, &req.info);
		break;
	}
	return err ?: mqdev_copy_out(uarg, &req, ksize);
}

static long mqdev_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct mqdev_handle *h = file->private_data;
	void __user *uarg = (void __user *)arg;
	size_t usize = _IOC_SIZE(cmd);

	switch (MQDEV_IOC_BASE(cmd)) {
	case MQDEV_IOC_BASE(MQDEV_IOC_TOPIC_CREATE):
	case MQDEV_IOC_BASE(MQDEV_IOC_TOPIC_DELETE):
	case MQDEV_IOC_BASE(MQDEV_IOC_TOPIC_LIST):
	case MQDEV_IOC_BASE(MQDEV_IOC_TOPIC_DESCRIBE):
		return mqdev_ioctl_topic(h, cmd, uarg, usize);
	case MQDEV_IOC_BASE(MQDEV_IOC_ATTACH):
		return mqdev_ioctl_attach(h, uarg, usize);
	case MQDEV_IOC_BASE(MQDEV_IOC_PRODUCE):
		return mqdev_ioctl_produce(h, file, uarg, usize);
	case MQDEV_IOC_BASE(MQDEV_IOC_PRODUCE_BATCH):
		return mqdev_ioctl_produce_batch(h, file, uarg, usize);
	case MQDEV_IOC_BASE(MQDEV_IOC_WAIT):
		return mqdev_ioctl_wait(h, uarg, usize);
	case MQDEV_IOC_BASE(MQDEV_IOC_SEEK):
		return mqdev_ioctl_seek(h, uarg, usize);
	case MQDEV_IOC_BASE(MQDEV_IOC_WAKEUP):
		return mqdev_ioctl_wakeup(h, uarg, usize);
	case MQDEV_IOC_BASE(MQDEV_IOC_GROUP_JOIN):
	case MQDEV_IOC_BASE(MQDEV_IOC_GROUP_ASSIGNMENT):
	case MQDEV_IOC_BASE(MQDEV_IOC_GROUP_COMMIT):
		return mqdev_ioctl_group(h, cmd, uarg, usize);
	case MQDEV_IOC_BASE(MQDEV_IOC_PRODUCER_INIT):
	case MQDEV_IOC_BASE(MQDEV_IOC_PRODUCER_BIND):
	case MQDEV_IOC_BASE(MQDEV_IOC_TXN):
	case MQDEV_IOC_BASE(MQDEV_IOC_TXN_OFFSETS):
		return mqdev_ioctl_producer(h, cmd, uarg, usize);
	default:
		return -ENOTTY;
	}
}

/*
 * Where the handle reads @part next, if it reads @part.  h->lock is held only
 * to look: a rebalance takes it under the topic's groups_lock, so it is never
 * held across the copy to user memory.
 */
static bool handle_read_pos(struct mqdev_handle *h, u32 part, u64 *pos)
{
	bool subscribed;

	mutex_lock(&h->lock);
	subscribed = test_bit(part, h->subscribed);
	*pos = READ_ONCE(*handle_pos(h, part));
	mutex_unlock(&h->lock);
	return subscribed;
}

/*
 * Move on to @pos, unless the position was moved (a seek, a rebalance).  A
 * move to exactly @from meanwhile is not seen: the read's records were
 * delivered anyway, and a group's reader commits by offset, not position.
 */
static void handle_read_done(struct mqdev_handle *h, u32 part, u64 from,
			     u64 pos)
{
	mutex_lock(&h->lock);
	if (test_bit(part, h->subscribed) &&
	    READ_ONCE(*handle_pos(h, part)) == from)
		WRITE_ONCE(*handle_pos(h, part), pos);
	mutex_unlock(&h->lock);
}

/*
 * Read from the first subscribed partition with records, round-robin.
 * h->read_lock keeps this handle's readers in turn; nobody else takes it.
 */
static ssize_t handle_read_once(struct mqdev_handle *h,
				struct mqdev_topic *topic,
				char __user *buf, size_t len)
{
	u32 n = topic->nr_parts, i, part;
	bool subscribed = false;
	ssize_t ret = 0;
	u64 from, pos;

	mutex_lock(&h->read_lock);
	for (i = 0; i < n && !ret; i++) {
		part = (h->next_read + i) % n;
		if (!handle_read_pos(h, part, &from))
			continue;
		subscribed = true;
		if (!mqdev_ring_readable(&topic->parts[part], from))
			continue;
		pos = from;
		ret = mqdev_ring_read(&topic->parts[part], &pos, buf, len);
		handle_read_done(h, part, from, pos);
		if (!list_empty(&h->holds[part].node))
			mqdev_ring_moved(&topic->parts[part]);
		h->next_read = part + 1;
	}
	mutex_unlock(&h->read_lock);
	return subscribed ? ret : -EDESTADDRREQ;
}

/*
 * What ends a read(2) sleep: records, the topic's deletion, or for a group
 * member its group's deletion under it (a rebalance wakes the sleepers, who
 * look at their partitions again).
 */
static bool handle_read_wakes(struct mqdev_handle *h, struct mqdev_topic *topic)
{
	return mqdev_handle_ready(h, topic, 1) || mqdev_topic_dead(topic) ||
	       (mqdev_group_poll(h, NULL, NULL) & EPOLLHUP);
}

static ssize_t mqdev_read(struct file *file, char __user *buf, size_t len,
			  loff_t *ppos)
{
	struct mqdev_handle *h = file->private_data;
	struct mqdev_topic *topic = handle_topic(h, MQDEV_ATTACH_CONSUME);
	ssize_t ret;

	if (IS_ERR(topic))
		return PTR_ERR(topic);
	for (;;) {
		ret = handle_read_once(h, topic, buf, len);
		/*
		 * A member that owns nothing waits for its assignment.
		 * Pairs with smp_store_release() in member_add().
		 */
		if (ret == -EDESTADDRREQ && smp_load_acquire(&h->member))
			ret = 0;
		if (ret)
			return ret;
		if (mqdev_topic_dead(topic))
			return 0;
		if (mqdev_group_poll(h, NULL, NULL) & EPOLLHUP)
			return -EIDRM;
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible(topic->read_wait,
					       handle_read_wakes(h, topic));
		if (ret)
			return ret;
	}
}

static __poll_t mqdev_poll(struct file *file, poll_table *pt)
{
	struct mqdev_handle *h = file->private_data;
	/* Pairs with smp_store_release() in mqdev_ioctl_attach(). */
	struct mqdev_topic *topic = smp_load_acquire(&h->topic);
	__poll_t mask = 0;
	u32 i, part;

	if (!topic)
		return EPOLLERR;

	if (h->mode & MQDEV_ATTACH_CONSUME) {
		for_each_set_bit(i, h->subscribed, topic->nr_parts) {
			poll_wait(file, &topic->parts[i].data_wait, pt);
			if (mqdev_ring_readable(&topic->parts[i],
						READ_ONCE(*handle_pos(h, i))))
				mask |= EPOLLIN | EPOLLRDNORM;
		}
	}
	if (h->mode & MQDEV_ATTACH_PRODUCE) {
		part = READ_ONCE(h->wait_part);
		if (part == MQDEV_PARTITION_ANY) {
			mask |= EPOLLOUT | EPOLLWRNORM;
		} else {
			poll_wait(file, &topic->parts[part].space_wait, pt);
			if (mqdev_ring_has_room(&topic->parts[part],
						READ_ONCE(h->wait_space)))
				mask |= EPOLLOUT | EPOLLWRNORM;
		}
	}
	if (mqdev_topic_dead(topic))
		mask |= EPOLLHUP;
	return mask | mqdev_group_poll(h, file, pt);
}

/*
 * A consumer maps each partition's ring read-only (ctrl page, data twice) and
 * its own position page writable, at offsets MQDEV_IOC_ATTACH reports.
 */
static int mqdev_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct mqdev_handle *h = file->private_data;
	struct mqdev_topic *topic = handle_topic(h, MQDEV_ATTACH_CONSUME);
	u64 off = (u64)vma->vm_pgoff << PAGE_SHIFT;
	struct mqdev_part *part;

	if (IS_ERR(topic))
		return PTR_ERR(topic);
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	vm_flags_mod(vma, VM_DONTEXPAND, VM_MAYEXEC);

	if (off == MQDEV_CONS_MMAP)
		return vm_map_pages_zero(vma, &h->cons_page, 1);
	if (off == MQDEV_TXN_MMAP)
		return mqdev_txn_mmap(h->net, vma);

	if (off >= MQDEV_CONS_MMAP || off % MQDEV_PART_STRIDE ||
	    off / MQDEV_PART_STRIDE >= topic->nr_parts)
		return -EINVAL;
	if (vma->vm_flags & VM_WRITE)
		return -EACCES;
	vm_flags_clear(vma, VM_MAYWRITE);
	part = &topic->parts[off / MQDEV_PART_STRIDE];
	return vm_map_pages_zero(vma, part->pages, part->nr_map_pages);
}

static const struct file_operations mqdev_fops = {
	.owner		= THIS_MODULE,
	.open		= mqdev_open,
	.release	= mqdev_release,
	.read		= mqdev_read,
	.poll		= mqdev_poll,
	.mmap		= mqdev_mmap,
	.unlocked_ioctl	= mqdev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

/* The handle behind a file, if it is one of ours. */
struct mqdev_handle *mqdev_file_handle(struct file *file)
{
	return file->f_op == &mqdev_fops ? file->private_data : NULL;
}

static struct miscdevice mqdev_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "mq",
	.fops	= &mqdev_fops,
	.mode	= 0666,
};

static unsigned int mqdev_net_id __read_mostly;

/**
 * mqdev_net() - what mqdev keeps for a network namespace
 * @net: the namespace
 *
 * Return: its struct mqdev_net, made when the namespace was.
 */
struct mqdev_net *mqdev_net(const struct net *net)
{
	return net_generic(net, mqdev_net_id);
}

static int __net_init mqdev_net_init(struct net *net)
{
	return mqdev_txn_init_net(net);
}

/*
 * Topics and producer names belong to a network namespace, as the netlink
 * control channel does; when a namespace goes, so do they.  Its
 * transactions are aborted first: they hold its topics and names.
 */
static void __net_exit mqdev_net_exit(struct net *net)
{
	mqdev_txn_exit_net(net);
	mqdev_topics_destroy_net(net);
	mqdev_identities_destroy_net(net);
}

static struct pernet_operations mqdev_net_ops = {
	.init	= mqdev_net_init,
	.exit	= mqdev_net_exit,
	.id	= &mqdev_net_id,
	.size	= sizeof(struct mqdev_net),
};

static int __init mqdev_init(void)
{
	int err;

	err = mqdev_txn_init();
	if (err)
		return err;
	err = mqdev_nl_init();
	if (err)
		goto err_txn_exit;
	err = register_pernet_subsys(&mqdev_net_ops);
	if (err)
		goto err_nl_exit;
	err = misc_register(&mqdev_misc);
	if (err)
		goto err_unregister_pernet;
	return 0;

err_unregister_pernet:
	unregister_pernet_subsys(&mqdev_net_ops);
err_nl_exit:
	mqdev_nl_exit();
err_txn_exit:
	mqdev_txn_exit();
	return err;
}

/* No handle is left: every namespace's part of mqdev goes, then the rest. */
static void __exit mqdev_exit(void)
{
	misc_deregister(&mqdev_misc);
	unregister_pernet_subsys(&mqdev_net_ops);
	mqdev_nl_exit();
	mqdev_identities_destroy();
	mqdev_topics_destroy();
	mqdev_txn_exit();
	mqdev_users_destroy();
}

module_init(mqdev_init);
module_exit(mqdev_exit);
MODULE_DESCRIPTION("Kafka-style message queues behind /dev/mq");
MODULE_AUTHOR("The mqdev authors");
MODULE_LICENSE("GPL");
