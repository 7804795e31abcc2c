// SPDX-License-Identifier: GPL-2.0
/*
 * Topics: the registry of named topics, their limits and their permissions.
 *
 * A topic belongs to the user that created it and has mode bits like a file:
 * producing needs write, consuming and describing need read, and deleting
 * needs ownership or CAP_SYS_ADMIN.  CAP_IPC_OWNER overrides the mode bits,
 * as it does for System V IPC.  Ring memory is charged to the creator's
 * memory cgroup and capped globally by module parameters.
 */

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/ctype.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>
#include <net/net_namespace.h>
#include "mqdev.h"

#define MQDEV_DEFAULT_CAPACITY	SZ_1M
#define MQDEV_DEFAULT_MODE	0644
#define MQDEV_MAX_RECORD	SZ_8M

MQDEV_LIMIT_SHARED(max_topics, 1024, 0, 1 << 20,
		   "Most topics that may exist at once");
MQDEV_LIMIT_SHARED(max_bytes, 256UL << 20, 0, MQDEV_MAX_TOTAL_BYTES,
		   "Most bytes of ring all topics may use together");
MQDEV_LIMIT(max_partition_bytes, 64UL << 20, PAGE_SIZE, MQDEV_MAX_CAPACITY,
	    "Largest capacity of one partition");

static DEFINE_MUTEX(mqdev_topics_lock);
static LIST_HEAD(mqdev_topics);		/* under mqdev_topics_lock */
static unsigned int mqdev_nr_topics;	/* under mqdev_topics_lock */
static atomic64_t mqdev_ring_bytes = ATOMIC64_INIT(0);

/**
 * mqdev_name_check() - is @name a valid topic, group or producer name?
 * @name: MQDEV_NAME_SIZE bytes: 1 to MQDEV_NAME_MAX letters, digits, '.',
 *	  '_' or '-', not "." nor "..", then zeros to the end
 *
 * Return: 0, or -EINVAL for a name that is not.
 */
int mqdev_name_check(const char *name)
{
	size_t len = strnlen(name, MQDEV_NAME_SIZE);
	size_t i;

	if (!len || len > MQDEV_NAME_MAX)
		return -EINVAL;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (!isalnum(name[i]) && !strchr("._-", name[i]))
			return -EINVAL;
	/* The padding is reserved: it must be zero. */
	for (; i < MQDEV_NAME_SIZE; i++)
		if (name[i])
			return -EINVAL;
	return 0;
}

/**
 * mqdev_key_hash() - the partition hash of keys, part of the ABI
 * @key: the key
 * @len: its length in bytes
 *
 * Return: the key's 32-bit FNV-1a hash.
 */
u32 mqdev_key_hash(const void *key, u32 len)
{
	const u8 *p = key;
	u32 hash = 2166136261U;

	while (len--) {
		hash ^= *p++;
		hash *= 16777619U;
	}
	return hash;
}

/*
 * Each partition is its capacity and a control page.  The capacity is at
 * most MQDEV_MAX_CAPACITY and partitions at most MQDEV_MAX_PARTITIONS, so
 * this cannot overflow; the helper says so where it is computed.
 */
static u64 topic_ring_bytes(const struct mqdev_topic *topic)
{
	u64 bytes;

	/* A single-writer ring has a writer page too. */
	u64 ctrl = mqdev_swriter(topic) ? 2 * PAGE_SIZE : PAGE_SIZE;

	if (check_mul_overflow((u64)topic->nr_parts, topic->capacity + ctrl,
			       &bytes))
		return U64_MAX;
	return bytes;
}

static void topic_free_rings(struct mqdev_topic *topic, u32 nr)
{
	while (nr--)
		mqdev_ring_free(&topic->parts[nr]);
}

/* What @topic counts against its user's limits. */
static void topic_usage(const struct mqdev_topic *topic, u64 *amount)
{
	memset(amount, 0, MQDEV_NR_CHARGES * sizeof(*amount));
	amount[MQDEV_CHARGE_TOPICS] = 1;
	amount[MQDEV_CHARGE_PARTITIONS] = topic->nr_parts;
	amount[MQDEV_CHARGE_BYTES] = topic_ring_bytes(topic);
}

static int user_charge(struct mqdev_topic *topic)
{
	u64 amount[MQDEV_NR_CHARGES];

	topic_usage(topic, amount);
	return mqdev_charge_many(topic->uid, amount);
}

static void user_uncharge(struct mqdev_topic *topic)
{
	u64 amount[MQDEV_NR_CHARGES];

	topic_usage(topic, amount);
	mqdev_uncharge_many(topic->uid, amount);
}

static void topic_release(struct kref *ref)
{
	struct mqdev_topic *topic = container_of(ref, struct mqdev_topic, ref);

	/* It re-arms itself, and holds no reference: it goes first. */
	cancel_delayed_work_sync(&topic->isr_work);
	mqdev_sched_kill(topic);
	user_uncharge(topic);
	mqdev_groups_free(topic);
	mqdev_shares_free(topic);
	mqdev_pstates_free(topic);
	topic_free_rings(topic, topic->nr_parts);
	atomic64_sub(topic_ring_bytes(topic), &mqdev_ring_bytes);
	mqdev_stats_free(topic);
	kvfree(topic);
}

/**
 * mqdev_topic_put() - drop a reference to a topic
 * @topic: the topic
 *
 * The last one frees it and gives back its charges.
 */
void mqdev_topic_put(struct mqdev_topic *topic)
{
	kref_put(&topic->ref, topic_release);
}

/* Topics are per network namespace: one list, each topic knows its own. */
static struct mqdev_topic *topic_find(struct net *net, const char *name)
{
	struct mqdev_topic *topic;

	lockdep_assert_held(&mqdev_topics_lock);
	list_for_each_entry(topic, &mqdev_topics, node)
		if (net_eq(topic->net, net) && !strcmp(topic->name, name))
			return topic;
	return NULL;
}

/**
 * mqdev_topic_get() - a reference to the topic @name, if the caller may @act
 * @nlskb: the netlink request asking, or NULL for the device's caller
 * @net: the caller's network namespace
 * @name: the topic's name, checked by mqdev_name_check()
 * @act: what the caller is about to do with it
 *
 * Return: the topic, ERR_PTR(-ENOENT), the refusal of mqdev_permits(), or
 * ERR_PTR(-EAGAIN) for a topic being restored, to any but a replica.
 */
struct mqdev_topic *mqdev_topic_get(const struct sk_buff *nlskb,
				    struct net *net, const char *name,
				    enum mqdev_act act)
{
	int err;

	struct mqdev_topic *topic;

	mutex_lock(&mqdev_topics_lock);
	topic = topic_find(net, name);
	err = topic ? mqdev_permits(nlskb, topic, NULL, act) : -ENOENT;
	/* Being restored: its replica brings its state back first. */
	if (!err && READ_ONCE(topic->restoring) && act != MQDEV_ACT_REPLICATE)
		err = -EAGAIN;
	if (err)
		topic = ERR_PTR(err);
	else
		kref_get(&topic->ref);
	mutex_unlock(&mqdev_topics_lock);
	return topic;
}

static int topic_create_check(const struct mqdev_topic_create *req,
			      u64 *capacity)
{
	int err = mqdev_name_check(req->name);

	if (err)
		return err;
	if (!req->partitions || req->partitions > MQDEV_MAX_PARTITIONS ||
	    (req->flags & ~MQDEV_TOPIC_FLAGS) || (req->mode & ~0777U))
		return -EINVAL;
	/*
	 * A durable topic's records are safe once confirmed: none dropped.
	 * Nor single-writer: its wake-up precedes the sync a replica would
	 * judge by (swriter.c, mqdev_swriter_ioctl()).
	 */
	if (req->flags & MQDEV_TOPIC_DURABLE ?
	    req->flags & (MQDEV_TOPIC_OVERWRITE | MQDEV_TOPIC_SINGLE_WRITER) ||
	    req->min_insync > MQDEV_MAX_MIN_INSYNC :
	    req->min_insync)
		return -EINVAL;

	*capacity = req->capacity ?: MQDEV_DEFAULT_CAPACITY;
	if (!is_power_of_2(*capacity) || *capacity < PAGE_SIZE ||
	    *capacity > mqdev_limit(&max_partition_bytes))
		return -EINVAL;
	return 0;
}

static struct mqdev_topic *topic_alloc(struct net *net,
				       const struct mqdev_topic_create *req,
				       u64 capacity)
{
	struct mqdev_topic *topic;

	topic = kvzalloc(struct_size(topic, parts, req->partitions),
			 GFP_KERNEL_ACCOUNT);
	if (!topic)
		return NULL;
	topic->nr_parts = req->partitions;
	if (mqdev_stats_init(topic)) {
		kvfree(topic);
		return NULL;
	}
	kref_init(&topic->ref);
	topic->net = net;
	topic->txns = mqdev_net(net)->txns;
	strscpy_pad(topic->name, req->name);
	topic->mode = req->mode ?: MQDEV_DEFAULT_MODE;
	topic->flags = req->flags;
	if (req->flags & MQDEV_TOPIC_DURABLE)
		topic->min_insync = req->min_insync ?: 1;
	spin_lock_init(&topic->replicas_lock);
	INIT_LIST_HEAD(&topic->replicas);
	init_waitqueue_head(&topic->groups_wait);
	mutex_init(&topic->restore_lock);
	INIT_DELAYED_WORK(&topic->isr_work, mqdev_replica_isr_work);
	topic->capacity = capacity;
	topic->max_record = min_t(u64, capacity / 2, MQDEV_MAX_RECORD);
	init_waitqueue_head(&topic->read_wait);
	init_waitqueue_head(&topic->replica_read_wait);
	mutex_init(&topic->groups_lock);
	INIT_LIST_HEAD(&topic->groups);
	INIT_LIST_HEAD(&topic->shares);
	mutex_init(&topic->producers_lock);
	xa_init(&topic->producers);
	mqdev_sched_init(topic);
	return topic;
}

/*
 * Register @topic under its name, unless the name or the limit is taken.
 * The caller keeps a reference of its own: once registered, the topic may
 * be deleted by its owner at any moment.
 */
static int topic_register(struct mqdev_topic *topic)
{
	int err = 0;

	mutex_lock(&mqdev_topics_lock);
	if (topic_find(topic->net, topic->name))
		err = -EEXIST;
	else if (mqdev_nr_topics >= mqdev_limit(&max_topics))
		err = -ENOSPC;
	if (!err) {
		kref_get(&topic->ref);
		list_add_tail(&topic->node, &mqdev_topics);
		mqdev_nr_topics++;
	}
	mutex_unlock(&mqdev_topics_lock);
	return err;
}

/* A restored partition's log goes on where it stood; its ring is empty. */
static void topic_restore_parts(struct mqdev_topic *topic,
				const struct mqdev_part_restore *parts)
{
	struct mqdev_part *part;
	u32 i;

	topic->restoring = true;
	for (i = 0; i < topic->nr_parts; i++) {
		part = &topic->parts[i];
		part->next_offset = parts[i].next_offset;
		part->tail_offset = parts[i].next_offset;
		part->hw_offset = parts[i].next_offset;
		part->ctrl->high_watermark = parts[i].next_offset;
		part->last_timestamp = parts[i].last_timestamp;
	}
}

/**
 * mqdev_topic_make() - make a topic, new or restored
 * @net: the caller's network namespace, the topic's
 * @req: the request
 * @uid: the topic's owner, who is charged for it
 * @gid: its group
 * @parts: for a restored topic, where each partition's log stands; or NULL
 *
 * A restored topic lets only replicas in until mqdev_topic_open().
 *
 * Return: 0; -EINVAL for a bad request, name or capacity; -EEXIST when
 * the name is taken; -ENOSPC when max_topics topics exist or max_bytes of
 * ring would be passed; -EDQUOT past the user's limits; or -ENOMEM.
 */
int mqdev_topic_make(struct net *net, const struct mqdev_topic_create *req,
		     kuid_t uid, kgid_t gid,
		     const struct mqdev_part_restore *parts)
{
	struct mqdev_topic *topic;
	u64 capacity, bytes;
	u32 nr;
	int err;

	err = topic_create_check(req, &capacity);
	if (err)
		return err;

	topic = topic_alloc(net, req, capacity);
	if (!topic)
		return -ENOMEM;
	topic->uid = uid;
	topic->gid = gid;

	bytes = topic_ring_bytes(topic);
	err = user_charge(topic);
	if (err)
		goto err_free_topic;
	if (atomic64_add_return(bytes, &mqdev_ring_bytes) >
	    mqdev_limit(&max_bytes)) {
		err = -ENOSPC;
		goto err_uncharge;
	}

	for (nr = 0; nr < topic->nr_parts; nr++) {
		topic->parts[nr].topic = topic;
		topic->parts[nr].index = nr;
		err = mqdev_ring_init(&topic->parts[nr], capacity);
		if (err)
			goto err_free_rings;
	}
	if (parts)
		topic_restore_parts(topic, parts);

	err = topic_register(topic);
	if (err)
		goto err_free_rings;
	mqdev_nl_topic_event(topic, true);
	mqdev_topic_put(topic);
	return 0;

err_free_rings:
	topic_free_rings(topic, nr);
err_uncharge:
	atomic64_sub(bytes, &mqdev_ring_bytes);
	user_uncharge(topic);
err_free_topic:
	mqdev_stats_free(topic);
	kvfree(topic);
	return err;
}

/**
 * mqdev_topic_create() - MQDEV_IOC_TOPIC_CREATE: make a topic
 * @net: the caller's network namespace, the topic's
 * @req: the request
 *
 * The topic belongs to the caller, who is charged for it.
 *
 * Return: as mqdev_topic_make().
 */
int mqdev_topic_create(struct net *net, const struct mqdev_topic_create *req)
{
	return mqdev_topic_make(net, req, current_fsuid(), current_fsgid(),
				NULL);
}

/* Off the list (the caller took it off): readers and producers are told. */
static void topic_kill(struct mqdev_topic *topic)
{
	u32 i;

	for (i = 0; i < topic->nr_parts; i++)
		mqdev_ring_kill(&topic->parts[i]);
	wake_up_all(&topic->read_wait);
	wake_up_all(&topic->replica_read_wait);
	wake_up_all(&topic->groups_wait);
	mqdev_groups_kill(topic);
	mqdev_shares_kill(topic);
	/* Other groups' dead letters to it: not to pin its rings. */
	mqdev_dlqs_topic_gone(topic);
	/* Its delayed messages go now, with their charges. */
	mqdev_sched_kill(topic);
	mqdev_topic_put(topic);
}

/**
 * mqdev_topic_delete() - delete a topic
 * @net: the caller's network namespace
 * @name: the topic's name, checked by mqdev_name_check()
 *
 * It leaves the registry now and is freed with its last reference; its
 * readers, producers and group members are told.
 *
 * Return: 0, -ENOENT for no such topic, or -EPERM for a caller that
 * neither owns it nor has CAP_SYS_ADMIN.
 */
int mqdev_topic_delete(struct net *net, const char *name)
{
	struct mqdev_topic *topic;
	int err;

	mutex_lock(&mqdev_topics_lock);
	topic = topic_find(net, name);
	if (!topic) {
		mutex_unlock(&mqdev_topics_lock);
		return -ENOENT;
	}
	err = mqdev_permits(NULL, topic, NULL, MQDEV_ACT_TOPIC_DELETE);
	if (err) {
		mutex_unlock(&mqdev_topics_lock);
		return err;
	}
	list_del(&topic->node);
	mqdev_nr_topics--;
	WRITE_ONCE(topic->dead, true);
	mutex_unlock(&mqdev_topics_lock);

	mqdev_nl_topic_event(topic, false);
	/* what routes to it goes, not to pin its rings and charges */
	mqdev_exchanges_topic_gone(topic);
	topic_kill(topic);
	return 0;
}

/**
 * mqdev_topics_destroy_net() - delete a dying namespace's topics
 * @net: the namespace, going away
 */
void mqdev_topics_destroy_net(struct net *net)
{
	struct mqdev_topic *topic, *next;
	LIST_HEAD(dying);

	mutex_lock(&mqdev_topics_lock);
	list_for_each_entry_safe(topic, next, &mqdev_topics, node) {
		if (!net_eq(topic->net, net))
			continue;
		list_move_tail(&topic->node, &dying);
		mqdev_nr_topics--;
		WRITE_ONCE(topic->dead, true);
	}
	mutex_unlock(&mqdev_topics_lock);
	list_for_each_entry_safe(topic, next, &dying, node) {
		list_del(&topic->node);
		topic_kill(topic);
	}
}

/* Each name at its element's place, the rest of a larger element cleared. */
static int topic_copy_names(const struct mqdev_topic_list *req, u32 size,
			    char (*names)[MQDEV_NAME_SIZE], u32 n)
{
	u8 __user *dst = u64_to_user_ptr(req->names);
	u32 i;

	if (size == MQDEV_NAME_SIZE)
		return copy_to_user(dst, names, (size_t)n * size) ? -EFAULT : 0;
	for (i = 0; i < n; i++, dst += size)
		if (mqdev_copy_element(dst, names[i], MQDEV_NAME_SIZE, size))
			return -EFAULT;
	return 0;
}

/**
 * mqdev_topic_list() - MQDEV_IOC_TOPIC_LIST: the names of the topics
 * @net: the caller's network namespace, whose topics are listed
 * @req: the request: room for names, or none; the count of topics goes back
 *
 * Only the topics the caller may read are listed, as over netlink.  Names
 * are snapshotted under the lock and copied out after it.  With no room,
 * only the count is asked, and the element size is not looked at.
 *
 * Return: 0; -EINVAL for a bad element size; -ENOMEM; or -EFAULT.
 */
int mqdev_topic_list(struct net *net, struct mqdev_topic_list *req)
{
	u32 size = req->name_size ?: MQDEV_NAME_SIZE;
	char (*names)[MQDEV_NAME_SIZE] = NULL;
	u32 room = req->count, n = 0;
	struct mqdev_topic *topic;
	int err;

	if (room && (size < MQDEV_NAME_SIZE || size > PAGE_SIZE))
		return -EINVAL;
	room = min_t(unsigned long, room, mqdev_limit(&max_topics));
	if (room) {
		names = kvcalloc(room, MQDEV_NAME_SIZE, GFP_KERNEL);
		if (!names)
			return -ENOMEM;
	}

	mutex_lock(&mqdev_topics_lock);
	list_for_each_entry(topic, &mqdev_topics, node) {
		if (!net_eq(topic->net, net) ||
		    mqdev_permits(NULL, topic, NULL, MQDEV_ACT_CONSUME))
			continue;
		if (n < room)
			memcpy(names[n], topic->name, MQDEV_NAME_SIZE);
		n++;
	}
	mutex_unlock(&mqdev_topics_lock);

	err = topic_copy_names(req, size, names, min(n, room));
	req->count = n;
	kvfree(names);
	return err;
}

static int topic_copy_parts(struct mqdev_topic *topic,
			    const struct mqdev_topic_info *req)
{
	struct mqdev_partition_info info = {};
	u32 size = req->part_info_size;
	u8 __user *dst = u64_to_user_ptr(req->parts);
	u32 i, n = min(req->parts_count, topic->nr_parts);

	for (i = 0; i < n; i++, dst += size) {
		mqdev_ring_info(&topic->parts[i], &info);
		if (mqdev_copy_element(dst, &info, sizeof(info), size))
			return -EFAULT;
	}
	return 0;
}

/**
 * mqdev_topic_describe() - MQDEV_IOC_TOPIC_DESCRIBE: a topic, its partitions
 * @net: the caller's network namespace
 * @req: the request: the name, and room for partitions, or none; what the
 *	 topic is goes back
 *
 * Return: 0; -EINVAL for a bad request or name; -ENOENT for no such topic;
 * -EACCES without read permission; or -EFAULT.
 */
int mqdev_topic_describe(struct net *net, struct mqdev_topic_info *req)
{
	struct mqdev_topic *topic;
	int err = mqdev_name_check(req->name);

	if (err)
		return err;
	if (req->reserved)
		return -EINVAL;
	if (req->parts_count &&
	    (req->part_info_size < sizeof(struct mqdev_partition_info) ||
	     req->part_info_size > PAGE_SIZE))
		return -EINVAL;

	topic = mqdev_topic_get(NULL, net, req->name, MQDEV_ACT_CONSUME);
	if (IS_ERR(topic))
		return PTR_ERR(topic);

	err = topic_copy_parts(topic, req);
	req->capacity = topic->capacity;
	req->partitions = topic->nr_parts;
	req->flags = topic->flags;
	req->mode = topic->mode;
	req->uid = from_kuid_munged(current_user_ns(), topic->uid);
	req->gid = from_kgid_munged(current_user_ns(), topic->gid);
	req->max_record = topic->max_record;
	req->min_insync = topic->min_insync;
	req->replicas = READ_ONCE(topic->nr_replicas);
	mqdev_topic_put(topic);
	return err;
}

/**
 * mqdev_topics_get() - references to the topics the caller may read
 * @nlskb: the netlink request asking
 * @net: the caller's network namespace
 * @name: only the topic of this name, or NULL for all
 * @count: how many went in the array goes here
 *
 * Give them back with mqdev_topics_put().
 *
 * Return: the array, of *@count topics (maybe none), or NULL when it could
 * not be allocated.
 */
struct mqdev_topic **mqdev_topics_get(const struct sk_buff *nlskb,
				      struct net *net, const char *name,
				      u32 *count)
{
	struct mqdev_topic **topics, *topic;
	u32 n = 0;

	mutex_lock(&mqdev_topics_lock);
	topics = kcalloc(mqdev_nr_topics ?: 1, sizeof(*topics), GFP_KERNEL);
	if (topics)
		list_for_each_entry(topic, &mqdev_topics, node) {
			if (!net_eq(topic->net, net) ||
			    (name && strcmp(topic->name, name)) ||
			    mqdev_permits(nlskb, topic, NULL, MQDEV_ACT_CONSUME))
				continue;
			kref_get(&topic->ref);
			topics[n++] = topic;
		}
	mutex_unlock(&mqdev_topics_lock);
	*count = n;
	return topics;
}

/**
 * mqdev_topics_put() - give back what mqdev_topics_get() gave
 * @topics: the array
 * @count: the topics in it
 */
void mqdev_topics_put(struct mqdev_topic **topics, u32 count)
{
	while (count--)
		mqdev_topic_put(topics[count]);
	kfree(topics);
}

/**
 * mqdev_topics_destroy() - free every topic
 *
 * Module exit: no handle is left, so nothing else holds a topic.
 */
void mqdev_topics_destroy(void)
{
	struct mqdev_topic *topic, *next;

	mutex_lock(&mqdev_topics_lock);
	list_for_each_entry_safe(topic, next, &mqdev_topics, node) {
		list_del(&topic->node);
		mqdev_topic_put(topic);
	}
	mqdev_nr_topics = 0;
	mutex_unlock(&mqdev_topics_lock);
}
