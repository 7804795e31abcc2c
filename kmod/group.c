// SPDX-License-Identifier: GPL-2.0
/*
 * Consumer groups.  Every group of a topic receives every record; the
 * members of one group share the partitions, each partition owned by at most
 * one member at a time.  A member is a consuming handle that joined, so
 * membership ends exactly when the handle is closed, also when its process
 * dies: the kernel rebalances at once, with no session time-out to wait for.
 *
 * Each group keeps a position per partition: the offset every record before
 * which is done (committed), and where that is in the ring.  The position is
 * a holder of the partition (see ring.c), so on a topic that blocks, a record
 * is reclaimed only when every holding group has committed past it: every
 * group whose maker may write the topic (see group_create()).
 *
 * Assignment is sticky: a rebalance keeps every member's partitions up to its
 * new share and moves only the rest.  Each rebalance starts a generation; a
 * commit from a member that does not own the partition in the current
 * generation is refused (fencing), so a member that lost a partition cannot
 * move the group's position in it.
 */

#include <linux/bitmap.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/string.h>
#include "mqdev.h"
#include "trace.h"

/* Members beyond the partition count only wait: this is plenty. */
#define MQDEV_MAX_MEMBERS	256

/* A name can be made again after a delete; a serial is never reused. */
static atomic64_t mqdev_group_serial = ATOMIC64_INIT(0);

MQDEV_LIMIT(max_topic_groups, 256, 1, 65536,
	    "Most consumer groups one topic may have");

/**
 * mqdev_group_find() - the group of @topic named @name
 * @topic: the topic, its groups_lock held
 * @name: the group's name
 *
 * No permission is asked: see mqdev_group_lookup().
 *
 * Return: the group, or NULL when there is none.
 */
struct mqdev_group *mqdev_group_find(struct mqdev_topic *topic,
				     const char *name)
{
	struct mqdev_group *g;

	lockdep_assert_held(&topic->groups_lock);
	list_for_each_entry(g, &topic->groups, node)
		if (!strcmp(g->name, name))
			return g;
	return NULL;
}

static void group_unhold(struct mqdev_group *g, u32 nr)
{
	while (nr--)
		mqdev_ring_hold(&g->topic->parts[nr], &g->parts[nr].hold, false);
}

static void group_revoke(struct mqdev_group *g, u32 part);

static void group_free(struct mqdev_group *g)
{
	mqdev_uncharge(g->uid, MQDEV_CHARGE_GROUPS, 1);
	kfree(g);
}

/*
 * What a durable topic's replica keeps of its groups changed: the commits
 * it makes safe are counted by a serial, and it is woken to keep them.
 */
static void groups_changed(struct mqdev_topic *topic)
{
	lockdep_assert_held(&topic->groups_lock);
	if (!(topic->flags & MQDEV_TOPIC_DURABLE))
		return;
	/* READ_ONCE() in the replica's poll */
	WRITE_ONCE(topic->groups_serial, topic->groups_serial + 1);
	wake_up_interruptible_all(&topic->groups_wait);
}

/**
 * mqdev_groups_bump() - something else its replica keeps changed
 * @topic: a durable topic
 * @mark: set to the serial after the change, under the same lock (what
 *	  changed notes it there), or NULL
 *
 * Its scheduled messages and settings are kept with the groups, under the
 * same serial: the replica is woken to keep them, and a caller who must
 * know the change safe waits for the serial returned.
 *
 * Return: the serial after the change.
 */
u64 mqdev_groups_bump(struct mqdev_topic *topic, u64 *mark)
{
	u64 serial;

	mutex_lock(&topic->groups_lock);
	groups_changed(topic);
	serial = topic->groups_serial;
	if (mark)
		WRITE_ONCE(*mark, serial);
	mutex_unlock(&topic->groups_lock);
	return serial;
}

/**
 * mqdev_groups_serial() - the serial of what a topic's replica keeps
 * @topic: the topic
 *
 * A mark mqdev_groups_bump() set for a change counted in it is seen by a
 * READ_ONCE() after this: the lock orders them.
 *
 * Return: its serial now: every change counted in it is made.
 */
u64 mqdev_groups_serial(struct mqdev_topic *topic)
{
	u64 serial;

	mutex_lock(&topic->groups_lock);
	serial = topic->groups_serial;
	mutex_unlock(&topic->groups_lock);
	return serial;
}

/*
 * A new group starts every partition at @reset.  It belongs to its maker,
 * who is charged for it.  It holds the records from there on, so that the
 * producers of a block topic wait for it, only if its maker may write the
 * topic: holding is a say over the producers, as MQDEV_SEEK_HOLD is (see
 * perm.c).  A reader's group reads as on an overwrite topic: lapped when it
 * falls behind, and told how much it lost.  A share group's name is
 * refused (EEXIST), for every way a group is made.
 */
static struct mqdev_group *group_create(struct mqdev_topic *topic,
					const char *name, kuid_t uid,
					bool holds, u32 reset)
{
	struct mqdev_group_part *gp;
	struct mqdev_group *g;
	u32 i;
	int err;

	lockdep_assert_held(&topic->groups_lock);
	/* One name, one kind of group: not a share group's (share.c). */
	if (mqdev_share_named(topic, name))
		return ERR_PTR(-EEXIST);
	/* Share groups count against the same limit. */
	if (topic->nr_groups + topic->nr_shares >=
	    mqdev_limit(&max_topic_groups))
		return ERR_PTR(-ENOSPC);
	err = mqdev_charge(uid, MQDEV_CHARGE_GROUPS, 1);
	if (err)
		return ERR_PTR(err);
	g = kzalloc(struct_size(g, parts, topic->nr_parts), GFP_KERNEL_ACCOUNT);
	if (!g) {
		mqdev_uncharge(uid, MQDEV_CHARGE_GROUPS, 1);
		return ERR_PTR(-ENOMEM);
	}
	g->nr_parts = topic->nr_parts;
	g->topic = topic;
	strscpy_pad(g->name, name);
	g->uid = uid;
	g->serial = atomic64_inc_return(&mqdev_group_serial);
	g->holds = holds;
	INIT_LIST_HEAD(&g->members);
	init_waitqueue_head(&g->wait);

	for (i = 0; i < g->nr_parts; i++) {
		gp = &g->parts[i];
		INIT_LIST_HEAD(&gp->hold.node);
		gp->hold.pos = &gp->pos;
		err = mqdev_ring_seek(&topic->parts[i], reset, &gp->offset,
				      &gp->pos, &gp->hold, g->holds, false);
		if (err)
			goto err_unhold;
	}
	list_add_tail(&g->node, &topic->groups);
	topic->nr_groups++;
	groups_changed(topic);
	return g;

err_unhold:
	group_unhold(g, i);
	group_free(g);
	return ERR_PTR(err);
}

/*
 * The caller's group: its own, holding if it may write the topic.
 */
static struct mqdev_group *group_create_own(const struct sk_buff *nlskb,
					    struct mqdev_topic *topic,
					    const char *name, u32 reset)
{
	return group_create(topic, name, current_fsuid(),
			    !mqdev_permits(nlskb, topic, NULL, MQDEV_ACT_HOLD),
			    reset);
}

/**
 * mqdev_group_lookup() - a group of @topic, if the caller may use it
 * @nlskb: the netlink request asking, or NULL for the device's caller
 * @topic: the topic, its groups_lock held
 * @name: the group's name
 * @create: make the group, reading from the earliest record, if there is
 *	    none
 *
 * For an administrator's reset: a group may be set up before anyone joins.
 *
 * Return: the group; NULL when there is none and !@create; for one that
 * exists, ERR_PTR(-EACCES) without read permission on the topic or
 * ERR_PTR(-EPERM) when it is another user's; making one, ERR_PTR(-EEXIST)
 * for a share group's name, ERR_PTR(-ENOSPC)
 * when the topic has max_topic_groups groups, ERR_PTR(-EDQUOT) past the
 * user's limit, ERR_PTR(-ENOMEM), or ERR_PTR(-EINTR) for a signal.
 */
struct mqdev_group *mqdev_group_lookup(const struct sk_buff *nlskb,
				       struct mqdev_topic *topic,
				       const char *name, bool create)
{
	struct mqdev_group *g = mqdev_group_find(topic, name);
	int err;

	if (!g)
		return create ? group_create_own(nlskb, topic, name,
						 MQDEV_SEEK_EARLIEST) : NULL;
	err = mqdev_permits(nlskb, topic, g, MQDEV_ACT_GROUP_USE);
	return err ? ERR_PTR(err) : g;
}

/*
 * The members' view: revoked from every partition and woken, the group
 * deleted under them.  They stay members of nothing until their handles go.
 */
static void group_evict(struct mqdev_group *g)
{
	u32 i;

	for (i = 0; i < g->nr_parts; i++)
		if (g->parts[i].owner)
			group_revoke(g, i);
	WRITE_ONCE(g->generation, g->generation + 1);
	wake_up_interruptible_poll(&g->wait, EPOLLHUP | EPOLLPRI | EPOLLIN);
	wake_up_interruptible(&g->topic->read_wait);
}

/**
 * mqdev_group_destroy() - delete a group
 * @g: the group, its topic's groups_lock held
 *
 * Its holds go and producers may go on.  A group with members is marked
 * dead, its members evicted and woken, and freed by the last one to leave.
 */
void mqdev_group_destroy(struct mqdev_group *g)
{
	lockdep_assert_held(&g->topic->groups_lock);
	list_del(&g->node);
	g->topic->nr_groups--;
	groups_changed(g->topic);
	group_unhold(g, g->nr_parts);
	if (!g->nr_members) {
		group_free(g);
		return;
	}
	WRITE_ONCE(g->dead, true);
	group_evict(g);
}

/**
 * mqdev_groups_free() - free every group of a topic being freed
 * @topic: the topic
 *
 * Topic release: nothing else can reach the groups any more.
 */
void mqdev_groups_free(struct mqdev_topic *topic)
{
	struct mqdev_group *g, *next;

	list_for_each_entry_safe(g, next, &topic->groups, node) {
		list_del(&g->node);
		group_free(g);
	}
}

/**
 * mqdev_groups_kill() - wake the members of a deleted topic's groups
 * @topic: the topic, deleted
 *
 * Every member wakes, the idle ones too.
 */
void mqdev_groups_kill(struct mqdev_topic *topic)
{
	struct mqdev_group *g;

	mutex_lock(&topic->groups_lock);
	list_for_each_entry(g, &topic->groups, node)
		wake_up_interruptible_poll(&g->wait, EPOLLHUP | EPOLLIN);
	mutex_unlock(&topic->groups_lock);
}

/* Give @part to @m: its handle reads on from the group's position. */
static void group_assign(struct mqdev_group *g, u32 part,
			 struct mqdev_member *m)
{
	struct mqdev_handle *h = m->h;

	g->parts[part].owner = m;
	m->count++;
	mutex_lock(&h->lock);
	WRITE_ONCE(*handle_pos(h, part), g->parts[part].pos);
	set_bit(part, h->subscribed);
	mutex_unlock(&h->lock);
}

static void group_revoke(struct mqdev_group *g, u32 part)
{
	struct mqdev_member *m = g->parts[part].owner;
	struct mqdev_handle *h = m->h;

	g->parts[part].owner = NULL;
	m->count--;
	mutex_lock(&h->lock);
	clear_bit(part, h->subscribed);
	mutex_unlock(&h->lock);
}

/* Shares: n / members each, and one more for n % members of them. */
static void group_set_quotas(struct mqdev_group *g)
{
	u32 base = g->nr_parts / g->nr_members;
	u32 extra = g->nr_parts % g->nr_members;
	struct mqdev_member *m;

	list_for_each_entry(m, &g->members, node)
		m->quota = base;
	/* Members that own more than the base keep one more, first. */
	list_for_each_entry(m, &g->members, node)
		if (extra && m->count > base) {
			m->quota++;
			extra--;
		}
	list_for_each_entry(m, &g->members, node)
		if (extra && m->quota == base) {
			m->quota++;
			extra--;
		}
}

static void group_rebalance(struct mqdev_group *g)
{
	struct mqdev_member *m;
	u32 i;

	lockdep_assert_held(&g->topic->groups_lock);
	WRITE_ONCE(g->generation, g->generation + 1);
	g->rebalances++;
	if (g->nr_members) {
		group_set_quotas(g);
		for (i = g->nr_parts; i-- > 0;) {
			m = g->parts[i].owner;
			if (m && m->count > m->quota)
				group_revoke(g, i);
		}
		m = list_first_entry(&g->members, struct mqdev_member, node);
		for (i = 0; i < g->nr_parts; i++) {
			if (g->parts[i].owner)
				continue;
			while (m->count >= m->quota)
				m = list_next_entry(m, node);
			group_assign(g, i, m);
		}
	}
	/*
	 * EPOLLIN too: a member may be handed a partition with records, and
	 * its epoll may wait for EPOLLIN alone.  read(2) sleepers likewise.
	 */
	trace_mqdev_rebalance(g);
	wake_up_interruptible_poll(&g->wait, EPOLLPRI | EPOLLIN | EPOLLRDNORM);
	wake_up_interruptible(&g->topic->read_wait);
	mqdev_nl_rebalanced(g);
}

/**
 * mqdev_group_resync() - assign every partition anew
 * @g: the group, its topic's groups_lock held
 *
 * After positions moved under the members: they read on from the new ones.
 */
void mqdev_group_resync(struct mqdev_group *g)
{
	u32 i;

	for (i = 0; i < g->nr_parts; i++)
		if (g->parts[i].owner)
			group_revoke(g, i);
	group_rebalance(g);
}

static int join_check(const struct mqdev_group_join *req)
{
	if ((req->reset != MQDEV_SEEK_EARLIEST &&
	     req->reset != MQDEV_SEEK_LATEST) || req->flags ||
	    req->reserved[0] || req->reserved[1])
		return -EINVAL;
	return mqdev_name_check(req->group);
}

static struct mqdev_member *member_alloc(struct mqdev_handle *h)
{
	struct mqdev_member *m = kzalloc(sizeof(*m), GFP_KERNEL_ACCOUNT);

	if (!m)
		return NULL;
	m->h = h;
	m->pid = get_pid(task_tgid(current));
	get_task_comm(m->comm, current);
	return m;
}

static void member_free(struct mqdev_member *m)
{
	put_pid(m->pid);
	kfree(m);
}

/* Add @m to @g unless the handle already reads on its own. */
static int member_add(struct mqdev_group *g, struct mqdev_member *m)
{
	struct mqdev_handle *h = m->h;
	int err = 0;

	mutex_lock(&h->lock);
	if (h->member || h->share ||
	    !bitmap_empty(h->subscribed, g->nr_parts))
		err = -EBUSY;
	else if (g->nr_members >= MQDEV_MAX_MEMBERS)
		err = -ENOSPC;
	if (!err) {
		m->group = g;
		m->id = ++g->next_member_id;
		list_add_tail(&m->node, &g->members);
		g->nr_members++;
		/* Pairs with smp_load_acquire() in mqdev_group_poll(), wait_add(). */
		smp_store_release(&h->member, m);
	}
	mutex_unlock(&h->lock);
	return err;
}

/**
 * mqdev_group_join() - MQDEV_IOC_GROUP_JOIN: become a member of a group
 * @h: the handle, attached to consume
 * @req: the request: the group, made if new; the member id and the
 *	 generation go back
 *
 * The group rebalances at once.
 *
 * Return: 0; -EINVAL for a bad request or name; -EBUSY for a handle that
 * is a member already or reads partitions of its own; -ENOSPC when the
 * group has MQDEV_MAX_MEMBERS members; -ENOMEM; or what
 * mqdev_group_lookup() returns for a group the caller may not use or
 * could not make.
 */
int mqdev_group_join(struct mqdev_handle *h, struct mqdev_group_join *req)
{
	struct mqdev_topic *topic = h->topic;
	struct mqdev_member *m;
	struct mqdev_group *g;
	bool created = false;
	int err;

	err = join_check(req);
	if (err)
		return err;
	m = member_alloc(h);
	if (!m)
		return -ENOMEM;

	mutex_lock(&topic->groups_lock);
	g = mqdev_group_lookup(NULL, topic, req->group, false);
	if (!g) {
		g = group_create_own(NULL, topic, req->group, req->reset);
		created = true;
	}
	if (IS_ERR(g)) {
		err = PTR_ERR(g);
		goto err_unlock;
	}
	err = member_add(g, m);
	if (err)
		goto err_destroy;
	group_rebalance(g);
	req->member_id = m->id;
	req->generation = g->generation;
	mutex_unlock(&topic->groups_lock);
	return 0;

err_destroy:
	if (created)
		mqdev_group_destroy(g);
err_unlock:
	mutex_unlock(&topic->groups_lock);
	member_free(m);
	return err;
}

/**
 * mqdev_group_leave() - the handle leaves its group, if it is a member
 * @h: the handle, going away
 *
 * The group rebalances; a deleted one is freed by its last member.
 */
void mqdev_group_leave(struct mqdev_handle *h)
{
	struct mqdev_member *m = h->member;
	struct mqdev_topic *topic = h->topic;
	struct mqdev_group *g;
	u32 i;

	if (!m)
		return;
	mutex_lock(&topic->groups_lock);
	g = m->group;
	for (i = 0; i < g->nr_parts; i++)
		if (g->parts[i].owner == m)
			group_revoke(g, i);
	list_del(&m->node);
	g->nr_members--;
	h->member = NULL;
	if (!g->dead)
		group_rebalance(g);
	else if (!g->nr_members)
		group_free(g);		/* deleted under its members */
	mutex_unlock(&topic->groups_lock);
	member_free(m);
}

/**
 * mqdev_group_assignment() - MQDEV_IOC_GROUP_ASSIGNMENT: what the member owns
 * @h: the handle, attached to consume
 * @req: the request: room for a start in every partition; the partitions
 *	 owned, their starts and the generation go back
 *
 * The starts are taken under the lock, so that they are of one generation,
 * and copied out after it: a slow user buffer stalls nobody else.  Once
 * they are out, the member has seen the generation: EPOLLPRI ends.
 *
 * Return: 0; -EBADFD for a handle that is no member; -EINVAL for a bad
 * request; -ENOMEM; or -EFAULT.
 */
int mqdev_group_assignment(struct mqdev_handle *h,
			   struct mqdev_group_assignment *req)
{
	u8 __user *ustarts = u64_to_user_ptr(req->starts);
	struct mqdev_member *m = h->member;
	struct mqdev_group_start *starts;
	struct mqdev_group *g;
	u32 size = req->start_size ?: sizeof(*starts);
	u32 i, nr = h->topic->nr_parts;
	int err = 0;

	if (!m)
		return -EBADFD;
	if (req->starts_count < nr || size < sizeof(*starts) ||
	    size > PAGE_SIZE)
		return -EINVAL;
	starts = kcalloc(nr, sizeof(*starts), GFP_KERNEL);
	if (!starts)
		return -ENOMEM;
	memset(req->owned, 0, sizeof(req->owned));

	mutex_lock(&h->topic->groups_lock);
	g = m->group;
	for (i = 0; i < nr; i++) {
		if (g->parts[i].owner != m)
			continue;
		req->owned[i / 64] |= 1ULL << (i % 64);
		starts[i].offset = g->parts[i].offset;
		starts[i].pos = g->parts[i].pos;
	}
	req->count = m->count;
	req->generation = g->generation;
	mutex_unlock(&h->topic->groups_lock);

	for (i = 0; i < nr && !err; i++)
		if (req->owned[i / 64] & (1ULL << (i % 64)))
			err = mqdev_copy_element(ustarts + (size_t)i * size,
						 &starts[i], sizeof(starts[i]),
						 size);
	/* Seen only once the starts are the member's. */
	if (!err)
		WRITE_ONCE(m->seen_gen, req->generation);
	kfree(starts);
	return err;
}

/**
 * mqdev_group_locate() - where the group's position in @part would go
 * @g: the group, its topic's groups_lock held
 * @part: the partition
 * @whence: MQDEV_SEEK_OFFSET (a commit, or a reset), _EARLIEST, _LATEST, or
 *	    _TIMESTAMP (the first record at or after a time)
 * @value: the offset or the time
 * @found: the position and offset found, for mqdev_group_move()
 *
 * The walk starts from the current position when it can, so a commit costs
 * only the records it covers.  Nothing is changed.
 *
 * Return: 0, -ERANGE for an offset past the high watermark, -EINVAL for
 * an unknown @whence, or on a single-writer topic -EBADMSG when the
 * records on the way do not hold.
 */
int mqdev_group_locate(struct mqdev_group *g, u32 part, u32 whence, u64 value,
		       struct mqdev_group_pos *found)
{
	struct mqdev_group_part *gp = &g->parts[part];

	lockdep_assert_held(&g->topic->groups_lock);
	found->offset = value;
	found->pos = gp->pos;
	return mqdev_ring_locate(&g->topic->parts[part], whence, &found->offset,
				 &found->pos, gp->offset);
}

/**
 * mqdev_group_move() - move the group's position to what was located
 * @g: the group, its topic's groups_lock held since mqdev_group_locate()
 * @part: the partition
 * @found: from mqdev_group_locate()
 *
 * Cannot fail: what can was checked when it was located.
 */
void mqdev_group_move(struct mqdev_group *g, u32 part,
		      const struct mqdev_group_pos *found)
{
	struct mqdev_group_part *gp = &g->parts[part];

	lockdep_assert_held(&g->topic->groups_lock);
	trace_mqdev_group_commit(g, part, found);
	WRITE_ONCE(gp->pos, found->pos);
	gp->offset = found->offset;
	gp->committed = true;
	groups_changed(g->topic);
	mqdev_ring_moved(&g->topic->parts[part]);
}

/**
 * mqdev_group_set() - commit: mqdev_group_locate(), then mqdev_group_move()
 * @g: the group, its topic's groups_lock held
 * @part: the partition
 * @whence: as for mqdev_group_locate()
 * @value: as for mqdev_group_locate()
 *
 * Return: 0, or with nothing moved -ERANGE, -EINVAL or -EBADMSG, as
 * mqdev_group_locate().  A commit: the group counts it.
 */
int mqdev_group_set(struct mqdev_group *g, u32 part, u32 whence, u64 value)
{
	struct mqdev_group_pos found;
	int err;

	err = mqdev_group_locate(g, part, whence, value, &found);
	if (!err)
		mqdev_group_move(g, part, &found);
	g->commits += !err;
	return err;
}

/**
 * mqdev_group_commit() - MQDEV_IOC_GROUP_COMMIT: move the group's position
 * @h: the handle, attached to consume
 * @req: the partition, the offset, and the generation the member owns it in
 *
 * Return: 0; -EBADFD for a handle that is no member; -EINVAL for a bad
 * request; -EIDRM when the group was deleted; -ESTALE when the member does
 * not own the partition in the generation (fenced); -ERANGE for an
 * offset past the partition's end; -EBADMSG for a single writer's records
 * that do not hold on the way to it; or on a durable topic, committed but
 * not yet known safe, -EINTR for a signal (see mqdev_groups_wait_safe()).
 */
int mqdev_group_commit(struct mqdev_handle *h,
		       const struct mqdev_group_commit *req)
{
	struct mqdev_member *m = h->member;
	struct mqdev_group *g;
	u64 serial;
	int err;

	if (!m)
		return -EBADFD;
	if (req->flags || req->reserved || req->partition >= h->topic->nr_parts)
		return -EINVAL;

	mutex_lock(&h->topic->groups_lock);
	g = m->group;
	if (g->dead)
		err = -EIDRM;
	else if (req->generation != g->generation ||
		 g->parts[req->partition].owner != m)
		err = -ESTALE;
	else
		err = mqdev_group_set(g, req->partition, MQDEV_SEEK_OFFSET,
				      req->offset);
	serial = h->topic->groups_serial;
	mutex_unlock(&h->topic->groups_lock);
	if (err || !(h->topic->flags & MQDEV_TOPIC_DURABLE))
		return err;
	return mqdev_groups_wait_safe(&h->topic->parts[req->partition], serial);
}

/* Who made a restored group, and whether it holds: as if it made it now. */
static bool group_owner_may_write(const struct mqdev_topic *topic, kuid_t uid)
{
	return uid_eq(uid, topic->uid) ? topic->mode & 0200 :
					 topic->mode & 0002;
}

/**
 * mqdev_group_restore() - bring a durable topic's group back, as it was
 * @topic: the topic, being restored
 * @name: the group's name
 * @uid: its owner, who is charged for it
 * @offsets: per partition, the committed offset, or MQDEV_OFFSET_UNKNOWN
 *	     for none (it starts at the earliest record); none past the end
 *
 * It holds only if its owner may write the topic by the topic's mode (a
 * supplementary group of the owner's is not known here: such a group reads
 * as a reader's does).
 *
 * Return: 0; -EEXIST for a group of that name; or as group_create().
 */
int mqdev_group_restore(struct mqdev_topic *topic, const char *name,
			kuid_t uid, const u64 *offsets)
{
	struct mqdev_group *g;
	int err = 0;
	u32 i;

	mutex_lock(&topic->groups_lock);
	if (mqdev_group_find(topic, name)) {
		err = -EEXIST;
		goto out_unlock;
	}
	g = group_create(topic, name, uid, group_owner_may_write(topic, uid),
			 MQDEV_SEEK_EARLIEST);
	if (IS_ERR(g)) {
		err = PTR_ERR(g);
		goto out_unlock;
	}
	for (i = 0; i < topic->nr_parts && !err; i++)
		if (offsets[i] != MQDEV_OFFSET_UNKNOWN)
			err = mqdev_group_set(g, i, MQDEV_SEEK_OFFSET,
					      offsets[i]);
	if (err)
		mqdev_group_destroy(g);
out_unlock:
	mutex_unlock(&topic->groups_lock);
	return err;
}

/*
 * What the replica keeps of a group: its name, owner and committed offsets,
 * at @out, which has room for sizeof(struct mqdev_group_state) and the
 * topic's partitions' offsets.
 */
static void group_state_fill(const struct mqdev_group *g, void *out)
{
	struct mqdev_group_state *st = out;
	u64 *committed = out + sizeof(*st);
	u32 i;

	memcpy(st->name, g->name, MQDEV_NAME_SIZE);
	st->uid = from_kuid_munged(current_user_ns(), g->uid);
	for (i = 0; i < g->nr_parts; i++)
		committed[i] = g->parts[i].committed ? g->parts[i].offset :
						       MQDEV_OFFSET_UNKNOWN;
}

/**
 * mqdev_limit_topic_groups() - the most groups a topic may have now
 *
 * Return: max_topic_groups.
 */
u32 mqdev_limit_topic_groups(void)
{
	return mqdev_limit(&max_topic_groups);
}

/**
 * mqdev_groups_snapshot() - every group of @topic as its replica keeps them
 * @topic: the topic
 * @buf: room for @room states of mqdev_groups_state_size() bytes each
 * @room: how many fit
 * @serial: the commit serial the snapshot covers goes here
 *
 * Return: how many groups there are (those past @room were not written).
 */
u32 mqdev_groups_snapshot(struct mqdev_topic *topic, void *buf, u32 room,
			  u64 *serial)
{
	size_t size = mqdev_groups_state_size(topic);
	struct mqdev_group *g;
	u32 n = 0;

	mutex_lock(&topic->groups_lock);
	list_for_each_entry(g, &topic->groups, node) {
		if (n < room)
			group_state_fill(g, buf + n * size);
		n++;
	}
	*serial = topic->groups_serial;
	mutex_unlock(&topic->groups_lock);
	return n;
}

/**
 * mqdev_member_news() - what a member's group has to tell it
 * @m: the member
 *
 * Lock-free: for a waiter's every look.
 *
 * Return: 0 when the member has seen its group's generation; EPOLLPRI for
 * a new assignment not yet fetched; EPOLLHUP | EPOLLPRI for a group
 * deleted under it.
 */
__poll_t mqdev_member_news(const struct mqdev_member *m)
{
	if (READ_ONCE(m->group->dead))
		return EPOLLHUP | EPOLLPRI;
	return READ_ONCE(m->seen_gen) != READ_ONCE(m->group->generation) ?
	       EPOLLPRI : 0;
}

/**
 * mqdev_group_poll() - what a member's poll(2) sees of its group
 * @h: the handle
 * @file: its file; NULL, with a NULL @pt, only to ask
 * @pt: the poll table, or NULL
 *
 * Return: 0 for a handle that is no member; else mqdev_member_news().
 */
__poll_t mqdev_group_poll(struct mqdev_handle *h, struct file *file,
			  poll_table *pt)
{
	/* Pairs with smp_store_release() in member_add(): m is whole. */
	struct mqdev_member *m = smp_load_acquire(&h->member);

	if (!m)
		return 0;
	poll_wait(file, &m->group->wait, pt);
	return mqdev_member_news(m);
}
