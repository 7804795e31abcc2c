// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/mq: the misc device.  Every open file is a handle that may attach to
 * one topic, to produce to it, consume from it, or both.  A consuming handle
 * owns one page of reader positions, one per partition, which it maps
 * writable; everything else it maps is read-only.  Here: the file
 * operations, attaching, mapping, read(2) and poll(2); the ioctls are
 * dispatched by ioctl.c, producing is producer.c's.
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

#define CREATE_TRACE_POINTS
#include "trace.h"

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
	mqdev_exchange_detach(h);
	if (topic) {
		if (h->bound)
			mqdev_bound_release(topic, h->bound);
		mqdev_group_leave(h);
		mqdev_share_leave(h);
		mqdev_replica_detach(h, topic);
		mqdev_swriter_detach(h, topic);
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
	bool replica = req->flags & MQDEV_ATTACH_REPLICA;
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
	/* A replica reads to the end of the log: see the uapi header. */
	off->head = replica ? offsetof(struct mqdev_ring_ctrl, end) :
			      offsetof(struct mqdev_ring_ctrl, head);
	off->end = offsetof(struct mqdev_ring_ctrl, end);
	off->high_watermark = offsetof(struct mqdev_ring_ctrl, high_watermark);
	off->ttl = offsetof(struct mqdev_ring_ctrl, ttl_ns);
	off->tail = offsetof(struct mqdev_ring_ctrl, tail);
	off->flags = offsetof(struct mqdev_ring_ctrl, flags);
	off->data = PAGE_SIZE;
	off->data_size = topic->capacity;
	off->cons_pos = 0;
	off->cons_stride = MQDEV_CONS_STRIDE;
	mqdev_txn_fill_offsets(off);
	if (mqdev_swriter(topic))
		mqdev_swriter_fill(off, topic,
				   req->flags & MQDEV_ATTACH_WRITER);
}

/**
 * mqdev_attach() - MQDEV_IOC_ATTACH: bind the handle to one topic, once
 * @ioc: the ioctl
 * @req: the request; the topic's layout goes back before it is attached
 *
 * Return: 0; else, with the handle as it was: -EINVAL for bad flags or
 * name, or reserved fields or layout not zero, or REPLICA on a topic that
 * is not durable, -ENOENT for no such topic, -EACCES without the
 * permission the flags ask, -EPERM for a replica without CAP_SYS_ADMIN,
 * -EBUSY for a handle already attached or a producer session, -ENOSPC for
 * a topic with all the replicas it may have, -EFAULT copying the layout
 * back, or -ENOMEM.
 */
long mqdev_attach(struct mqdev_ioc *ioc, struct mqdev_attach *req)
{
	static const enum mqdev_act acts[] = {
		[MQDEV_ATTACH_PRODUCE] = MQDEV_ACT_PRODUCE,
		[MQDEV_ATTACH_CONSUME] = MQDEV_ACT_CONSUME,
		[MQDEV_ATTACH_PRODUCE | MQDEV_ATTACH_CONSUME] =
			MQDEV_ACT_PRODUCE_CONSUME,
	};
	const u32 rw = MQDEV_ATTACH_PRODUCE | MQDEV_ATTACH_CONSUME;
	bool replica = req->flags & MQDEV_ATTACH_REPLICA;
	struct mqdev_handle *h = ioc->h;
	struct mqdev_topic *topic;
	int err;

	if (!(req->flags & rw) || (req->flags & ~MQDEV_ATTACH_FLAGS) ||
	    (replica && !(req->flags & MQDEV_ATTACH_CONSUME)) ||
	    ((req->flags & (MQDEV_ATTACH_ACKS_ALL | MQDEV_ATTACH_WRITER)) &&
	     !(req->flags & MQDEV_ATTACH_PRODUCE)) ||
	    req->reserved[0] || req->reserved[1] ||
	    memchr_inv(&req->off, 0, sizeof(req->off)))
		return -EINVAL;
	err = mqdev_name_check(req->name);
	if (err)
		return err;

	topic = mqdev_topic_get(NULL, h->net, req->name,
				replica ? MQDEV_ACT_REPLICATE :
					  acts[req->flags & rw]);
	if (IS_ERR(topic)) {
		trace_mqdev_refuse(req->name, MQDEV_TRACE_ATTACH,
				   MQDEV_PARTITION_ANY, 0, PTR_ERR(topic));
		return PTR_ERR(topic);
	}
	if ((replica && !(topic->flags & MQDEV_TOPIC_DURABLE)) ||
	    (!(req->flags & MQDEV_ATTACH_WRITER) != !mqdev_swriter(topic) &&
	     (req->flags & MQDEV_ATTACH_PRODUCE))) {
		mqdev_topic_put(topic);
		return -EINVAL;
	}

	mutex_lock(&h->lock);
	if (h->topic || h->session || h->exchange) {
		err = -EBUSY;
		goto err_unlock;
	}
	attach_fill(req, topic);
	err = mqdev_ioc_copy_out(ioc, req, sizeof(*req));
	if (err)
		goto err_unlock;
	if (req->flags & MQDEV_ATTACH_CONSUME) {
		err = handle_alloc_reader(h, topic->nr_parts);
		if (err)
			goto err_unlock;
	}
	if (replica) {
		err = mqdev_replica_attach(h, topic);
		if (err)
			goto err_free_reader;
	}
	if (req->flags & MQDEV_ATTACH_WRITER) {
		err = mqdev_swriter_attach(h, topic);
		if (err)
			goto err_free_reader;
	}
	h->mode = req->flags;
	/* Pairs with smp_load_acquire() in mqdev_handle_topic(): state first. */
	smp_store_release(&h->topic, topic);
	mutex_unlock(&h->lock);
	return 0;

err_free_reader:
	handle_free_reader(h);
err_unlock:
	mutex_unlock(&h->lock);
	mqdev_topic_put(topic);
	return err;
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
		if (!mqdev_ring_readable(&topic->parts[part], from,
					 handle_replica(h)))
			continue;
		pos = from;
		ret = mqdev_ring_read(&topic->parts[part], &pos, buf, len,
				      handle_replica(h));
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
	struct mqdev_topic *topic = mqdev_handle_topic(h, MQDEV_ATTACH_CONSUME);
	ssize_t ret;

	if (IS_ERR(topic))
		return PTR_ERR(topic);
	/*
	 * Not a copy of what its writer may change under it: swriter.c (whose
	 * wake-up precedes the sync a read would judge by).
	 */
	if (mqdev_swriter(topic))
		return -EOPNOTSUPP;
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
		ret = wait_event_interruptible(*(handle_replica(h) ?
						 &topic->replica_read_wait :
						 &topic->read_wait),
					       handle_read_wakes(h, topic));
		if (ret)
			return ret;
	}
}

static __poll_t mqdev_poll(struct file *file, poll_table *pt)
{
	struct mqdev_handle *h = file->private_data;
	/* Pairs with smp_store_release() in mqdev_attach(). */
	struct mqdev_topic *topic = smp_load_acquire(&h->topic);
	__poll_t mask = 0;
	u32 i, part;

	if (!topic)
		return EPOLLERR;

	if (handle_replica(h)) {
		poll_wait(file, &topic->groups_wait, pt);
		if (mqdev_replica_groups_pending(topic, h->replica))
			mask |= EPOLLPRI;
	}
	if (h->mode & MQDEV_ATTACH_CONSUME) {
		for_each_set_bit(i, h->subscribed, topic->nr_parts) {
			poll_wait(file, handle_replica(h) ?
				  &topic->parts[i].end_wait :
				  &topic->parts[i].data_wait, pt);
			if (mqdev_ring_readable(&topic->parts[i],
						READ_ONCE(*handle_pos(h, i)),
						handle_replica(h)))
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
	if (h->mode & MQDEV_ATTACH_CONSUME)
		mask |= mqdev_share_poll(h, topic, file, pt);
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
	/* A writer maps its ring too, to read the kernel's flags and limit. */
	struct mqdev_topic *topic = mqdev_handle_topic(h, MQDEV_ATTACH_CONSUME |
						       MQDEV_ATTACH_WRITER);
	u64 off = (u64)vma->vm_pgoff << PAGE_SHIFT;
	struct mqdev_part *part;

	if (IS_ERR(topic))
		return PTR_ERR(topic);
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	vm_flags_mod(vma, VM_DONTEXPAND, VM_MAYEXEC);

	if (off >= MQDEV_WRITER_MMAP)
		return mqdev_swriter_mmap(h, topic, vma, off - MQDEV_WRITER_MMAP);
	if (!(h->mode & MQDEV_ATTACH_CONSUME) &&
	    (off == MQDEV_CONS_MMAP || off == MQDEV_TXN_MMAP))
		return -EBADF;
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

/**
 * mqdev_file_handle() - the handle behind a file, if it is one of ours
 * @file: any file, such as one a caller passed by descriptor
 *
 * Return: the handle, or NULL when @file is not a /dev/mq file.
 */
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
	mqdev_exchanges_destroy_net(net);	/* its bindings hold topics */
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
	err = mqdev_exchanges_init();
	if (err)
		goto err_txn_exit;
	err = mqdev_nl_init();
	if (err)
		goto err_exchanges_exit;
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
err_exchanges_exit:
	mqdev_exchanges_exit();
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
	mqdev_exchanges_destroy();
	mqdev_exchanges_exit();		/* their frees, before the users' */
	mqdev_topics_destroy();
	mqdev_txn_exit();
	mqdev_users_destroy();
}

module_init(mqdev_init);
module_exit(mqdev_exit);
MODULE_DESCRIPTION("Kafka-style message queues behind /dev/mq");
MODULE_AUTHOR("The mqdev authors");
MODULE_LICENSE("GPL");
