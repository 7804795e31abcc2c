// SPDX-License-Identifier: GPL-2.0
/*
 * Bringing a durable topic back after the module was loaded again, or the
 * machine restarted, from what its disk replica kept (see the uapi header):
 *
 *   TOPIC_RESTORE      the topic as it was, each partition's log going on
 *                      where it stood; only replicas may attach
 *   GROUP_RESTORE      on a replica handle: a group, its owner and offsets
 *   PRODUCER_RESTORE   on a replica handle: a producer's sequence numbers
 *   IDENTITY_RESTORE   a named producer's id and epoch (session.c)
 *   SCHED_RESTORE      on a replica handle: a scheduled message (sched.c)
 *   TOPIC_OPEN         everyone else may come in
 *
 * All of it needs CAP_SYS_ADMIN in the topic's user namespace: what is
 * restored is believed, as a replica's confirmations are.  Every array is
 * copied in before anything is changed, and nothing is changed on error.
 */

#include <linux/capability.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <net/net_namespace.h>
#include "mqdev.h"

static bool restore_capable(const struct net *net)
{
	return ns_capable(net->user_ns, CAP_SYS_ADMIN);
}

/*
 * A caller's array of @count elements of @size bytes (at least @ksize, at
 * most a page) copied into a new kernel array of @ksize bytes each.
 */
static void *restore_copy_array(u64 uptr, u32 count, u32 size, size_t ksize)
{
	const u8 __user *src = u64_to_user_ptr(uptr);
	u8 *array;
	u32 i;
	int err;

	if (count && (size < ksize || size > PAGE_SIZE))
		return ERR_PTR(-EINVAL);
	array = kvcalloc(count, ksize, GFP_KERNEL);
	if (!array)
		return ERR_PTR(-ENOMEM);
	for (i = 0; i < count; i++) {
		err = copy_struct_from_user(array + i * ksize, ksize,
					    src + (size_t)i * size, size);
		if (err) {
			kvfree(array);
			return ERR_PTR(err);
		}
	}
	return array;
}

/*
 * Where a partition stood: an offset Kafka could have (an int64), and a
 * time not ahead of the clock, which every later append would take.
 */
static int restore_parts_check(const struct mqdev_part_restore *parts, u32 n)
{
	u64 now = ktime_get_real_ns();
	u32 i;

	for (i = 0; i < n; i++)
		if (parts[i].next_offset > S64_MAX ||
		    parts[i].last_timestamp > now + NSEC_PER_SEC)
			return -EINVAL;
	return 0;
}

/*
 * The TTL of the topic just made, before anyone but a replica may attach:
 * only a delete since could have taken it away (-ENOENT).
 */
static int restore_ttl(struct net *net, const struct mqdev_topic_restore *req)
{
	struct mqdev_topic *topic;
	int err;

	if (!req->ttl_ns)
		return 0;
	topic = mqdev_topic_get(NULL, net, req->topic.name,
				MQDEV_ACT_REPLICATE);
	if (IS_ERR(topic))
		return PTR_ERR(topic);
	/* Being restored, it has no replica that could hold it yet. */
	err = mqdev_topic_ttl_set(topic, req->ttl_ns);
	mqdev_topic_put(topic);
	return err;
}

/**
 * mqdev_topic_restore() - MQDEV_IOC_TOPIC_RESTORE
 * @net: the caller's namespace, the topic's
 * @req: the topic as it was, its owner, its TTL, and where each partition
 *	 stood
 *
 * Return: 0; -EPERM without CAP_SYS_ADMIN; -EINVAL for a topic that is not
 * durable, an owner not of the caller's user namespace, a TTL past
 * MQDEV_TTL_MAX, or a bad array; -EFAULT; or as mqdev_topic_make().
 */
int mqdev_topic_restore(struct net *net, const struct mqdev_topic_restore *req)
{
	kuid_t uid = make_kuid(current_user_ns(), req->uid);
	kgid_t gid = make_kgid(current_user_ns(), req->gid);
	struct mqdev_part_restore *parts;
	int err;

	if (!restore_capable(net))
		return -EPERM;
	if (!(req->topic.flags & MQDEV_TOPIC_DURABLE) || !uid_valid(uid) ||
	    !gid_valid(gid) || req->parts_count != req->topic.partitions ||
	    !req->parts_count || req->parts_count > MQDEV_MAX_PARTITIONS ||
	    req->ttl_ns > MQDEV_TTL_MAX || req->reserved)
		return -EINVAL;
	parts = restore_copy_array(req->parts, req->parts_count,
				   req->part_size, sizeof(*parts));
	if (IS_ERR(parts))
		return PTR_ERR(parts);
	err = restore_parts_check(parts, req->parts_count) ?:
	      mqdev_topic_make(net, &req->topic, uid, gid, parts);
	kvfree(parts);
	return err ?: restore_ttl(net, req);
}

/**
 * mqdev_topic_open() - MQDEV_IOC_TOPIC_OPEN: a restored topic is ready
 * @net: the caller's namespace
 * @req: the topic's name
 *
 * Opening a topic that is open already does nothing.
 *
 * Return: 0; -EPERM without CAP_SYS_ADMIN; -EINVAL for a bad request or
 * name; or -ENOENT.
 */
int mqdev_topic_open(struct net *net, const struct mqdev_topic_id *req)
{
	struct mqdev_topic *topic;
	int err;

	if (!restore_capable(net))
		return -EPERM;
	if (req->flags || req->reserved)
		return -EINVAL;
	err = mqdev_name_check(req->name);
	if (err)
		return err;
	topic = mqdev_topic_get(NULL, net, req->name, MQDEV_ACT_REPLICATE);
	if (IS_ERR(topic))
		return PTR_ERR(topic);
	mutex_lock(&topic->restore_lock);
	WRITE_ONCE(topic->restoring, false);
	mutex_unlock(&topic->restore_lock);
	/* What came due while it was restored is appended now. */
	mqdev_sched_open(topic);
	mqdev_topic_put(topic);
	return 0;
}

/* What a replica handle may restore into: its topic while it is restored. */
static int restore_target(struct mqdev_ioc *ioc)
{
	if (!ioc->h->replica)
		return -EBADF;
	if (!READ_ONCE(ioc->topic->restoring))
		return -EBUSY;
	return restore_capable(ioc->topic->net) ? 0 : -EPERM;
}

/*
 * MQDEV_IOC_GROUP_RESTORE, under the topic's restore_lock: a group's name,
 * owner and committed offsets.
 *
 * Return: 0; -EBADF on a handle that is no replica; -EBUSY for a topic
 * that is open already; -EPERM without CAP_SYS_ADMIN; -EINVAL for a bad
 * request, name, owner or offset count; -ERANGE for an offset past its
 * partition's end; -EFAULT; or as mqdev_group_restore().
 */
static long group_restore(struct mqdev_ioc *ioc,
			  struct mqdev_group_restore *req)
{
	kuid_t uid = make_kuid(current_user_ns(), req->uid);
	struct mqdev_topic *topic = ioc->topic;
	u64 *offsets;
	int err;
	u32 i;

	err = restore_target(ioc);
	if (err)
		return err;
	if (req->reserved[0] || req->reserved[1] || !uid_valid(uid) ||
	    req->count != topic->nr_parts)
		return -EINVAL;
	err = mqdev_name_check(req->name);
	if (err)
		return err;
	offsets = restore_copy_array(req->offsets, req->count, sizeof(u64),
				     sizeof(u64));
	if (IS_ERR(offsets))
		return PTR_ERR(offsets);
	for (i = 0; i < req->count && !err; i++)
		if (offsets[i] != MQDEV_OFFSET_UNKNOWN &&
		    offsets[i] > topic->parts[i].next_offset)
			err = -ERANGE;
	if (!err)
		err = mqdev_group_restore(topic, req->name, uid, offsets);
	kvfree(offsets);
	return err;
}

/*
 * The sequences of @req's window, by sequence % window; -EINVAL for one not
 * in the window before next_seq, or an offset the partition never gave.
 */
static int restore_seq_window(const struct mqdev_producer_restore *req,
			      const struct mqdev_seq_restore *entries,
			      const struct mqdev_part *part, u64 *offsets)
{
	u32 i, behind;

	for (i = 0; i < MQDEV_SEQ_WINDOW; i++)
		offsets[i] = MQDEV_OFFSET_UNKNOWN;
	for (i = 0; i < req->count; i++) {
		behind = req->next_seq - entries[i].sequence;
		if (entries[i].reserved || !behind ||
		    behind > MQDEV_SEQ_WINDOW ||
		    entries[i].offset >= part->next_offset)
			return -EINVAL;
		offsets[entries[i].sequence % MQDEV_SEQ_WINDOW] =
			entries[i].offset;
	}
	return 0;
}

/*
 * MQDEV_IOC_PRODUCER_RESTORE, under the topic's restore_lock: a producer,
 * the partition, and where its sequences stood.
 *
 * Return: 0; -EBADF on a handle that is no replica; -EBUSY for a topic
 * that is open already; -EPERM without CAP_SYS_ADMIN; -EINVAL for a bad
 * request, owner or window; -EFAULT; or as mqdev_pstate_restore().
 */
static long producer_restore(struct mqdev_ioc *ioc,
			     struct mqdev_producer_restore *req)
{
	kuid_t uid = make_kuid(current_user_ns(), req->uid);
	struct mqdev_seq_restore *entries;
	u64 *offsets;
	int err;

	err = restore_target(ioc);
	if (err)
		return err;
	if (req->reserved || req->reserved2[0] || req->reserved2[1] ||
	    !req->producer_id || !uid_valid(uid) ||
	    req->partition >= ioc->topic->nr_parts ||
	    req->count > MQDEV_SEQ_WINDOW)
		return -EINVAL;
	entries = restore_copy_array(req->entries, req->count, req->entry_size,
				     sizeof(*entries));
	if (IS_ERR(entries))
		return PTR_ERR(entries);
	offsets = kmalloc_array(MQDEV_SEQ_WINDOW, sizeof(*offsets), GFP_KERNEL);
	err = offsets ? restore_seq_window(req, entries,
					   &ioc->topic->parts[req->partition],
					   offsets) : -ENOMEM;
	if (!err)
		err = mqdev_pstate_restore(ioc->topic, req->producer_id, uid,
					   &ioc->topic->parts[req->partition],
					   req->next_seq, offsets);
	kfree(offsets);
	kvfree(entries);
	return err;
}

/**
 * mqdev_group_restore_ioc() - MQDEV_IOC_GROUP_RESTORE, on a replica handle
 * @ioc: the ioctl
 * @req: the group's name, owner and committed offsets
 *
 * The topic's restore_lock keeps TOPIC_OPEN from coming in between the
 * check that the topic is still being restored and the restore.
 *
 * Return: as group_restore().
 */
long mqdev_group_restore_ioc(struct mqdev_ioc *ioc,
			     struct mqdev_group_restore *req)
{
	long err;

	mutex_lock(&ioc->topic->restore_lock);
	err = group_restore(ioc, req);
	mutex_unlock(&ioc->topic->restore_lock);
	return err;
}

/**
 * mqdev_producer_restore_ioc() - MQDEV_IOC_PRODUCER_RESTORE
 * @ioc: the ioctl, on a replica handle
 * @req: the producer, the partition, and where its sequences stood
 *
 * Under the topic's restore_lock, as mqdev_group_restore_ioc().
 *
 * Return: as producer_restore().
 */
long mqdev_producer_restore_ioc(struct mqdev_ioc *ioc,
				struct mqdev_producer_restore *req)
{
	long err;

	mutex_lock(&ioc->topic->restore_lock);
	err = producer_restore(ioc, req);
	mutex_unlock(&ioc->topic->restore_lock);
	return err;
}

/**
 * mqdev_sched_restore_ioc() - MQDEV_IOC_SCHED_RESTORE, on a replica handle
 * @ioc: the ioctl
 * @req: the message, its old id, due time and owner
 *
 * Under the topic's restore_lock, as mqdev_group_restore_ioc().
 *
 * Return: 0; -EBADF on a handle that is no replica; -EBUSY for a topic
 * that is open already; -EPERM without CAP_SYS_ADMIN; -EINVAL for an owner
 * not of the caller's user namespace; or as mqdev_sched_restore().
 */
long mqdev_sched_restore_ioc(struct mqdev_ioc *ioc,
			     struct mqdev_sched_restore *req)
{
	kuid_t uid = make_kuid(current_user_ns(), req->uid);
	long err;

	mutex_lock(&ioc->topic->restore_lock);
	err = restore_target(ioc);
	if (!err)
		err = uid_valid(uid) ?
		      mqdev_sched_restore(ioc->topic, req, uid) : -EINVAL;
	mutex_unlock(&ioc->topic->restore_lock);
	return err;
}
