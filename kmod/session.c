// SPDX-License-Identifier: GPL-2.0
/*
 * Producer sessions, identities and sequence numbers: exactly-once appends.
 *
 * A producer session is a /dev/mq handle that asked for an identity with
 * MQDEV_IOC_PRODUCER_INIT: a producer id, fresh or (for a name) the one the
 * name always has.  Producing handles bind to a session and from then on
 * every message they append carries the producer id and the producer's
 * sequence number in its partition.  Each topic keeps, per producer id and
 * partition, the next sequence it expects and the offsets of the last
 * MQDEV_SEQ_WINDOW records, all under the partition's lock, so the check and
 * the append are one step:
 *
 *   sequence == next   append, remember its offset, next++
 *   sequence <  next   a retry of something that landed: append nothing,
 *                      answer with the offset it got (if still remembered)
 *   sequence >  next   refused (EBADMSG): something before it never came
 *
 * A named identity survives its sessions, so a restarted producer resumes
 * its sequences where they stand.  Each new session of a name bumps the
 * identity's epoch; appends check the epoch under the partition lock, so an
 * old session that is still alive can no longer append anything (ESTALE)
 * once the new one has read where the sequences stand.
 */

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/module.h>
#include <linux/netlink.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <net/net_namespace.h>
#include "mqdev.h"
#include "trace.h"

#define MQDEV_MAX_TXN_TIMEOUT_MS	(15 * 60 * 1000)

MQDEV_LIMIT_SHARED(max_producers, 1024, 0, 1 << 20,
		   "Most named producers, and producer ids per topic");
MQDEV_LIMIT(txn_timeout_ms, 10000, 1, MQDEV_MAX_TXN_TIMEOUT_MS,
	    "Default transaction time-out (ms)");

static DEFINE_MUTEX(mqdev_identities_lock);
static LIST_HEAD(mqdev_identities);	/* named ones: under the lock */
static unsigned int mqdev_nr_named;	/* under the lock */
static atomic64_t mqdev_next_producer_id = ATOMIC64_INIT(0);
/* The highest id handed out (restored ones are not): what a restore avoids. */
static atomic64_t mqdev_handed_producer_id = ATOMIC64_INIT(0);

/* Raise @v to @id, if below it. */
static void producer_id_raise(atomic64_t *v, u64 id)
{
	s64 cur = atomic64_read(v);

	while ((u64)cur < id && !atomic64_try_cmpxchg(v, &cur, id))
		;
}

static DEFINE_SPINLOCK(mqdev_checker_lock);	/* every checker_* field */

/* A new identity: with @id, a restored one's, or 0 for the next id. */
static struct mqdev_identity *identity_alloc(struct net *net, const char *name,
					     u64 id)
{
	struct mqdev_identity *ident;

	ident = kzalloc(sizeof(*ident), GFP_KERNEL_ACCOUNT);
	if (!ident)
		return NULL;
	kref_init(&ident->ref);
	INIT_LIST_HEAD(&ident->node);
	INIT_LIST_HEAD(&ident->sessions);
	strscpy_pad(ident->name, name);
	if (!id) {
		id = atomic64_inc_return(&mqdev_next_producer_id);
		producer_id_raise(&mqdev_handed_producer_id, id);
	}
	ident->id = id;
	ident->uid = current_fsuid();
	ident->net = net;
	return ident;
}

static void identity_release(struct kref *ref)
{
	struct mqdev_identity *ident = container_of(ref, struct mqdev_identity,
						    ref);

	if (ident->checker_net)
		put_net(ident->checker_net);
	if (ident->name[0])
		mqdev_uncharge(ident->uid, MQDEV_CHARGE_PRODUCERS, 1);
	kfree(ident);
}

/**
 * mqdev_identity_put() - drop a reference to a producer identity
 * @ident: the identity
 *
 * The last one frees it, and gives back a name's charge.
 */
void mqdev_identity_put(struct mqdev_identity *ident)
{
	kref_put(&ident->ref, identity_release);
}

/* Names are per network namespace, as topics are. */
static struct mqdev_identity *identity_find(struct net *net, const char *name)
{
	struct mqdev_identity *ident;

	lockdep_assert_held(&mqdev_identities_lock);
	list_for_each_entry(ident, &mqdev_identities, node)
		if (net_eq(ident->net, net) && !strcmp(ident->name, name))
			return ident;
	return NULL;
}

static bool identity_may_use(const struct mqdev_identity *ident, bool capable)
{
	return uid_eq(current_fsuid(), ident->uid) || capable;
}

/* The named identity, made if new; a reference for the caller. */
static struct mqdev_identity *identity_named(struct net *net, const char *name,
					     bool capable)
{
	struct mqdev_identity *ident;
	int err;

	lockdep_assert_held(&mqdev_identities_lock);
	ident = identity_find(net, name);
	if (ident) {
		if (!identity_may_use(ident, capable))
			return ERR_PTR(-EPERM);
		kref_get(&ident->ref);
		return ident;
	}
	if (mqdev_nr_named >= mqdev_limit(&max_producers))
		return ERR_PTR(-ENOSPC);
	err = mqdev_charge(current_fsuid(), MQDEV_CHARGE_PRODUCERS, 1);
	if (err)
		return ERR_PTR(err);
	ident = identity_alloc(net, name, 0);
	if (!ident) {
		mqdev_uncharge(current_fsuid(), MQDEV_CHARGE_PRODUCERS, 1);
		return ERR_PTR(-ENOMEM);
	}
	kref_get(&ident->ref);		/* the list's */
	list_add_tail(&ident->node, &mqdev_identities);
	mqdev_nr_named++;
	return ident;
}

/*
 * A new session of a name fences the older ones: from now on their appends
 * and decisions are refused (ESTALE).  Their open transactions go to the
 * checker afterwards, in mqdev_txn_fence(), without this lock: an old
 * session may be busy, and nobody waits for it under a lock every producer
 * and every netlink socket's close needs.
 */
static void identity_fence(struct mqdev_identity *ident)
{
	lockdep_assert_held(&mqdev_identities_lock);
	WRITE_ONCE(ident->epoch, ident->epoch + 1);
}

static int producer_init_check(const struct mqdev_producer_init *req)
{
	if (req->flags || req->reserved || req->reserved2[0] ||
	    req->reserved2[1] || req->producer_id || req->epoch ||
	    req->txn_timeout_ms > MQDEV_MAX_TXN_TIMEOUT_MS)
		return -EINVAL;
	if (!memchr_inv(req->name, 0, sizeof(req->name)))
		return 0;
	return mqdev_name_check(req->name);
}

static bool handle_taken(struct mqdev_handle *h)
{
	bool taken;

	mutex_lock(&h->lock);
	taken = h->topic || h->session || h->exchange;
	mutex_unlock(&h->lock);
	return taken;
}

/* Leave the identity again: the handle was taken meanwhile. */
static void session_abandon(struct mqdev_session *s)
{
	mutex_lock(&mqdev_identities_lock);
	list_del(&s->node);
	mutex_unlock(&mqdev_identities_lock);
	mqdev_identity_put(s->ident);
	kfree(s);
}

/**
 * mqdev_producer_init() - MQDEV_IOC_PRODUCER_INIT: make the handle a session
 * @h: the handle, to be a producer session
 * @req: the request: a name, or none for a fresh producer id; the producer
 *	 id and the epoch go back
 *
 * A session of a name fences the name's older sessions.  h->lock is not
 * held across the identity's work: fencing takes the undecided
 * transactions' list lock, which a transaction's decision takes under the
 * groups_lock of its offsets' topic, and a group join takes h->lock under a
 * groups_lock.  The handle is checked before, and again after.
 *
 * Return: 0; -EINVAL for a bad request or name; -EBUSY for a handle
 * attached or a session already; -ENOMEM; for a name, -EPERM when it
 * belongs to another user (and the caller has no CAP_SYS_ADMIN in the
 * handle's namespace), -ENOSPC when max_producers names exist, or -EDQUOT
 * past the user's limit.
 */
int mqdev_producer_init(struct mqdev_handle *h, struct mqdev_producer_init *req)
{
	struct mqdev_identity *ident;
	struct mqdev_session *s;
	int err;

	err = producer_init_check(req);
	if (err)
		return err;
	if (handle_taken(h))
		return -EBUSY;
	s = kzalloc(sizeof(*s), GFP_KERNEL_ACCOUNT);
	if (!s)
		return -ENOMEM;
	mutex_init(&s->lock);
	s->txn_timeout_ms = req->txn_timeout_ms ?: mqdev_limit(&txn_timeout_ms);

	mutex_lock(&mqdev_identities_lock);
	if (req->name[0]) {
		ident = identity_named(h->net, req->name,
				       ns_capable(h->net->user_ns,
						  CAP_SYS_ADMIN));
		if (!IS_ERR(ident))
			identity_fence(ident);
	} else {
		ident = identity_alloc(h->net, "", 0) ?: ERR_PTR(-ENOMEM);
	}
	if (IS_ERR(ident)) {
		mutex_unlock(&mqdev_identities_lock);
		kfree(s);
		return PTR_ERR(ident);
	}
	s->ident = ident;
	s->epoch = ident->epoch;
	list_add_tail(&s->node, &ident->sessions);
	mutex_unlock(&mqdev_identities_lock);
	if (req->name[0])
		mqdev_txn_fence(ident);

	mutex_lock(&h->lock);
	if (h->topic || h->session || h->exchange) {		/* raced with another call */
		mutex_unlock(&h->lock);
		session_abandon(s);
		return -EBUSY;
	}
	req->producer_id = ident->id;
	req->epoch = s->epoch;
	/* Pairs with smp_load_acquire() in ioc_handle(): s is whole. */
	smp_store_release(&h->session, s);
	mutex_unlock(&h->lock);
	return 0;
}

/**
 * mqdev_session_release() - free a session whose handle is gone
 * @s: the session
 *
 * Its open transaction goes to the checker.
 */
void mqdev_session_release(struct mqdev_session *s)
{
	mutex_lock(&mqdev_identities_lock);
	list_del(&s->node);
	mutex_unlock(&mqdev_identities_lock);

	mutex_lock(&s->lock);
	if (s->txn)
		mqdev_txn_session_gone(s->txn);
	mutex_unlock(&s->lock);
	mqdev_identity_put(s->ident);
	kfree(s);
}

static void pstate_free(struct mqdev_pstate *ps)
{
	u32 i;

	for (i = 0; i < ps->nr_parts; i++)
		kfree(ps->seq[i]);
	mqdev_uncharge(ps->uid, MQDEV_CHARGE_PRODUCER_STATES, ps->nr_parts);
	kfree(ps);
}

/*
 * The topic's state for producer @id, made if new (charged to @uid, and
 * kept when no one is bound if @named), with one more user.
 */
static struct mqdev_pstate *pstate_get(struct mqdev_topic *topic, u64 id,
				       kuid_t uid, bool named)
{
	struct mqdev_pstate *ps;
	int err;

	mutex_lock(&topic->producers_lock);
	ps = xa_load(&topic->producers, id);
	if (ps)
		goto out_use;
	if (topic->nr_producers >= mqdev_limit(&max_producers)) {
		ps = ERR_PTR(-ENOSPC);
		goto out_unlock;
	}
	/* A sequence table for every partition, at worst: charged as such. */
	err = mqdev_charge(uid, MQDEV_CHARGE_PRODUCER_STATES, topic->nr_parts);
	if (err) {
		ps = ERR_PTR(err);
		goto out_unlock;
	}
	ps = kzalloc(struct_size(ps, seq, topic->nr_parts), GFP_KERNEL_ACCOUNT);
	if (!ps) {
		mqdev_uncharge(uid, MQDEV_CHARGE_PRODUCER_STATES, topic->nr_parts);
		ps = ERR_PTR(-ENOMEM);
		goto out_unlock;
	}
	ps->nr_parts = topic->nr_parts;
	ps->id = id;
	ps->uid = uid;
	ps->named = named;
	err = xa_insert(&topic->producers, id, ps, GFP_KERNEL_ACCOUNT);
	if (err) {
		pstate_free(ps);
		ps = ERR_PTR(err);
		goto out_unlock;
	}
	topic->nr_producers++;
out_use:
	ps->users++;
out_unlock:
	mutex_unlock(&topic->producers_lock);
	return ps;
}

/* An unnamed producer's sequences die with its last bound handle. */
static void pstate_put(struct mqdev_topic *topic, struct mqdev_pstate *ps)
{
	mutex_lock(&topic->producers_lock);
	if (!--ps->users && !ps->named) {
		xa_erase(&topic->producers, ps->id);
		topic->nr_producers--;
		pstate_free(ps);
	}
	mutex_unlock(&topic->producers_lock);
}

/**
 * mqdev_pstates_free() - free every producer's sequence state in @topic
 * @topic: the topic, released: no handle is bound to it any more
 */
void mqdev_pstates_free(struct mqdev_topic *topic)
{
	struct mqdev_pstate *ps;
	unsigned long id;

	xa_for_each(&topic->producers, id, ps)
		pstate_free(ps);
	xa_destroy(&topic->producers);
}

/* Where @ps's sequences stand in every partition, each read under its lock. */
static int pstate_copy_next(struct mqdev_topic *topic, struct mqdev_pstate *ps,
			    const struct mqdev_producer_bind *req)
{
	u32 size = req->seq_size ?: sizeof(u32), next, i;
	u8 __user *dst = u64_to_user_ptr(req->next_seq);
	struct mqdev_part *part;

	for (i = 0; i < topic->nr_parts; i++, dst += size) {
		part = &topic->parts[i];
		mutex_lock(&part->lock);
		next = ps->seq[i] ? ps->seq[i]->next : 0;
		mutex_unlock(&part->lock);
		if (mqdev_copy_element(dst, &next, sizeof(next), size))
			return -EFAULT;
	}
	return 0;
}

static struct mqdev_bound *bound_alloc(struct file *file,
				       struct mqdev_session *s,
				       struct mqdev_pstate *ps)
{
	struct mqdev_bound *b = kzalloc(sizeof(*b), GFP_KERNEL_ACCOUNT);

	if (!b)
		return NULL;
	b->file = get_file(file);
	b->session = s;
	b->pstate = ps;
	return b;
}

/* Claim the handle for a bind, or -EBUSY: h->lock is not held across it. */
static int bind_claim(struct mqdev_handle *h, bool claim)
{
	int err = 0;

	mutex_lock(&h->lock);
	if (claim && (h->bound || h->binding))
		err = -EBUSY;
	else
		h->binding = claim;
	mutex_unlock(&h->lock);
	return err;
}

/**
 * mqdev_producer_bind() - MQDEV_IOC_PRODUCER_BIND: append as a session
 * @h: the handle, attached to produce
 * @req: the request: the session's descriptor, and where the next sequence
 *	 number of every partition goes
 *
 * The handle's lock is a group member's too, which a rebalance takes, so the
 * sequences are copied out without it: the bind claims the handle instead.
 *
 * Return: 0; -EINVAL for a bad request or a descriptor that is no producer
 * session; -EBADF for a descriptor not open; -EBUSY for a handle bound, or
 * binding, already; -ENOSPC when the topic has max_producers producer ids;
 * -EDQUOT past the user's limit; -ENOMEM; or -EFAULT copying the sequence
 * numbers out.
 */
int mqdev_producer_bind(struct mqdev_handle *h,
			const struct mqdev_producer_bind *req)
{
	struct mqdev_topic *topic = h->topic;
	struct mqdev_handle *sh;
	struct mqdev_pstate *ps;
	struct mqdev_bound *b;
	int err;

	if (req->flags || req->next_seq_count < topic->nr_parts ||
	    (req->seq_size && req->seq_size < sizeof(u32)) ||
	    req->seq_size > PAGE_SIZE)
		return -EINVAL;
	CLASS(fd, f)(req->session_fd);
	if (fd_empty(f))
		return -EBADF;
	sh = mqdev_file_handle(fd_file(f));
	if (!sh || !sh->session)
		return -EINVAL;

	err = bind_claim(h, true);
	if (err)
		return err;
	ps = pstate_get(topic, sh->session->ident->id, sh->session->ident->uid,
			sh->session->ident->name[0]);
	if (IS_ERR(ps)) {
		err = PTR_ERR(ps);
		goto err_unclaim;
	}
	err = pstate_copy_next(topic, ps, req);
	if (err)
		goto err_put_pstate;
	b = bound_alloc(fd_file(f), sh->session, ps);
	if (!b) {
		err = -ENOMEM;
		goto err_put_pstate;
	}
	mutex_lock(&h->lock);
	h->binding = false;
	/* Pairs with smp_load_acquire() in the produce path: b is whole. */
	smp_store_release(&h->bound, b);
	mutex_unlock(&h->lock);
	return 0;

err_put_pstate:
	pstate_put(topic, ps);
err_unclaim:
	bind_claim(h, false);
	return err;
}

/**
 * mqdev_bound_release() - unbind a producing handle that is going away
 * @topic: the handle's topic
 * @b: what the handle is bound to
 *
 * An unnamed producer's sequences go with its last bound handle.
 */
void mqdev_bound_release(struct mqdev_topic *topic, struct mqdev_bound *b)
{
	pstate_put(topic, b->pstate);
	fput(b->file);
	kfree(b);
}

/**
 * mqdev_seq_prepare() - the sequence table of @part, made if new
 * @b: the bound producer
 * @part: the partition, not locked: nothing may sleep under its lock
 *
 * Return: 0 or -ENOMEM.
 */
int mqdev_seq_prepare(struct mqdev_bound *b, struct mqdev_part *part)
{
	struct mqdev_seq **slot = &b->pstate->seq[part->index];
	struct mqdev_seq *seq;

	if (READ_ONCE(*slot))
		return 0;
	seq = kzalloc(sizeof(*seq), GFP_KERNEL_ACCOUNT);
	if (!seq)
		return -ENOMEM;
	/* Another handle of the producer may have made it meanwhile. */
	if (cmpxchg(slot, NULL, seq))
		kfree(seq);
	return 0;
}

/**
 * mqdev_seq_check() - may the bound producer append @msg to @part?
 * @b: the bound producer
 * @part: the partition, locked, after mqdev_seq_prepare()
 * @msg: the message with its sequence number
 *
 * Return: 0 to append @msg; MQDEV_APPEND_DUPLICATE for one that landed
 * before (its offset, or MQDEV_OFFSET_UNKNOWN if no longer remembered, and
 * its status filled in); -ESTALE when the session was fenced; -EBADMSG for
 * a sequence number past the next; or -ENOMEM without mqdev_seq_prepare().
 */
int mqdev_seq_check(struct mqdev_bound *b, struct mqdev_part *part,
		    struct mqdev_msg *msg)
{
	struct mqdev_seq **slot = &b->pstate->seq[part->index];
	u32 behind;
	s32 ahead;

	lockdep_assert_held(&part->lock);
	if (READ_ONCE(b->session->ident->epoch) != b->session->epoch)
		return -ESTALE;
	if (WARN_ON_ONCE(!*slot))
		return -ENOMEM;
	ahead = (s32)(msg->sequence - (*slot)->next);
	if (ahead > 0)
		return -EBADMSG;
	if (!ahead)
		return 0;
	behind = -ahead;
	msg->status = MQDEV_MSG_DUPLICATE;
	msg->offset = behind <= MQDEV_SEQ_WINDOW ?
		      (*slot)->offsets[msg->sequence % MQDEV_SEQ_WINDOW] :
		      MQDEV_OFFSET_UNKNOWN;
	trace_mqdev_duplicate(part, b->pstate->id, msg);
	return MQDEV_APPEND_DUPLICATE;
}

/**
 * mqdev_seq_appended() - the message mqdev_seq_check() let through went in
 * @b: the bound producer
 * @part: the partition, still locked
 * @offset: the offset it got
 */
void mqdev_seq_appended(struct mqdev_bound *b, struct mqdev_part *part,
			u64 offset)
{
	struct mqdev_seq *seq = b->pstate->seq[part->index];

	seq->offsets[seq->next % MQDEV_SEQ_WINDOW] = offset;
	seq->next++;
}

/* ---- restoring a durable topic (restore.c) ------------------------------- */

/*
 * A producer id a restore may bring back: one no producer was handed since
 * the module was loaded (a restore comes first), and far from the top, so
 * that the ids handed out after it never wrap.
 */
static int producer_id_restorable(u64 id)
{
	if (!id || id > MQDEV_MAX_PRODUCER_ID)
		return -EINVAL;
	return id > (u64)atomic64_read(&mqdev_handed_producer_id) ? 0 : -EEXIST;
}

/* Ids handed out from now on are above @id, which a restore brought back. */
static void producer_id_above(u64 id)
{
	producer_id_raise(&mqdev_next_producer_id, id);
}

/**
 * mqdev_pstate_restore() - bring back a producer's sequences in a partition
 * @topic: the topic, being restored
 * @id: the producer id
 * @uid: charged for its state, which is kept until the topic goes
 * @part: the partition
 * @next: the sequence number expected next
 * @offsets: the offsets of the sequences before @next, by sequence % window
 *
 * Return: 0; -EINVAL for an id of 0 or past MQDEV_MAX_PRODUCER_ID; -EEXIST
 * for an id that may have been handed to a producer already; or what
 * pstate_get() returns: -ENOSPC, -EDQUOT, -ENOMEM.
 */
int mqdev_pstate_restore(struct mqdev_topic *topic, u64 id, kuid_t uid,
			 struct mqdev_part *part, u32 next, const u64 *offsets)
{
	struct mqdev_pstate *ps;
	struct mqdev_seq *seq;
	int err;

	err = producer_id_restorable(id);
	if (err)
		return err;
	seq = kzalloc(sizeof(*seq), GFP_KERNEL_ACCOUNT);
	if (!seq)
		return -ENOMEM;
	ps = pstate_get(topic, id, uid, true);
	if (IS_ERR(ps)) {
		kfree(seq);
		return PTR_ERR(ps);
	}
	memcpy(seq->offsets, offsets, sizeof(seq->offsets));
	seq->next = next;
	mutex_lock(&part->lock);
	swap(ps->seq[part->index], seq);
	mutex_unlock(&part->lock);
	kfree(seq);
	/* Kept: restored states have no bound handle to go with. */
	pstate_put(topic, ps);
	producer_id_above(id);
	return 0;
}

/**
 * mqdev_identity_restore() - MQDEV_IOC_IDENTITY_RESTORE
 * @net: the caller's namespace, the name's
 * @req: the name, its producer id, epoch and owner
 *
 * Return: 0; -EPERM without CAP_SYS_ADMIN; -EINVAL for a bad name, an id
 * of 0 or past MQDEV_MAX_PRODUCER_ID, reserved fields set, or an owner not
 * of the caller's user namespace; -EEXIST for a name in use, or an id that
 * may have been handed to a producer already; -ENOSPC, -EDQUOT or -ENOMEM
 * as for a new name.
 */
int mqdev_identity_restore(struct net *net,
			   const struct mqdev_identity_state *req)
{
	kuid_t uid = make_kuid(current_user_ns(), req->uid);
	struct mqdev_identity *ident;
	int err;

	if (!ns_capable(net->user_ns, CAP_SYS_ADMIN))
		return -EPERM;
	err = mqdev_name_check(req->name);
	if (err)
		return err;
	if (!uid_valid(uid) || req->reserved[0] || req->reserved[1])
		return -EINVAL;

	mutex_lock(&mqdev_identities_lock);
	err = producer_id_restorable(req->producer_id);
	if (!err && identity_find(net, req->name))
		err = -EEXIST;
	if (err)
		goto out_unlock;
	if (mqdev_nr_named >= mqdev_limit(&max_producers)) {
		err = -ENOSPC;
		goto out_unlock;
	}
	err = mqdev_charge(uid, MQDEV_CHARGE_PRODUCERS, 1);
	if (err)
		goto out_unlock;
	ident = identity_alloc(net, req->name, req->producer_id);
	if (!ident) {
		mqdev_uncharge(uid, MQDEV_CHARGE_PRODUCERS, 1);
		err = -ENOMEM;
		goto out_unlock;
	}
	ident->epoch = req->epoch;
	ident->uid = uid;
	list_add_tail(&ident->node, &mqdev_identities);
	mqdev_nr_named++;
	producer_id_above(req->producer_id);
out_unlock:
	mutex_unlock(&mqdev_identities_lock);
	return err;
}

/* The named identities of @net, at most @room, into @out; how many exist. */
static u32 identity_snapshot(struct net *net, struct mqdev_identity_state *out,
			     u32 room)
{
	struct mqdev_identity *ident;
	u32 n = 0;

	mutex_lock(&mqdev_identities_lock);
	list_for_each_entry(ident, &mqdev_identities, node) {
		if (!net_eq(ident->net, net))
			continue;
		if (n < room) {
			memcpy(out[n].name, ident->name, MQDEV_NAME_SIZE);
			out[n].producer_id = ident->id;
			out[n].epoch = READ_ONCE(ident->epoch);
			out[n].uid = from_kuid_munged(current_user_ns(),
						      ident->uid);
		}
		n++;
	}
	mutex_unlock(&mqdev_identities_lock);
	return n;
}

/**
 * mqdev_identity_list() - MQDEV_IOC_IDENTITY_LIST: the named producers
 * @net: the caller's namespace
 * @req: room for them, or none; how many there are goes back
 *
 * Snapshotted under the identities lock, copied out after it.
 *
 * Return: 0; -EPERM without CAP_SYS_ADMIN; -EINVAL for a bad request;
 * -ENOMEM; or -EFAULT.
 */
int mqdev_identity_list(struct net *net, struct mqdev_identity_list *req)
{
	u32 size = req->state_size, room, n, i;
	struct mqdev_identity_state *states = NULL;
	u8 __user *dst = u64_to_user_ptr(req->states);
	int err = 0;

	if (!ns_capable(net->user_ns, CAP_SYS_ADMIN))
		return -EPERM;
	if (req->reserved[0] || req->reserved[1] ||
	    (req->count && (size < sizeof(*states) || size > PAGE_SIZE)))
		return -EINVAL;
	room = min_t(unsigned long, req->count, mqdev_limit(&max_producers));
	if (room) {
		states = kvcalloc(room, sizeof(*states), GFP_KERNEL);
		if (!states)
			return -ENOMEM;
	}
	n = identity_snapshot(net, states, room);
	for (i = 0; i < min(n, room) && !err; i++)
		err = mqdev_copy_element(dst + (size_t)i * size, &states[i],
					 sizeof(states[i]), size);
	req->count = n;
	kvfree(states);
	return err;
}

/* ---- checkers ------------------------------------------------------------ */

/**
 * mqdev_checker_register() - a netlink socket checks a producer name
 * @name: the producer name, made if new
 * @portid: the socket's port id
 * @net: its namespace, which is the name's
 * @capable: the sender may check another user's name (CAP_SYS_ADMIN)
 * @extack: what went wrong goes here
 *
 * It is asked about the name's orphaned transactions from now on, in place
 * of the one before.
 *
 * Return: 0; -EPERM when the name belongs to another user and !@capable;
 * -ENOSPC when max_producers names exist; -EDQUOT past the user's limit;
 * or -ENOMEM.
 */
int mqdev_checker_register(const char *name, u32 portid, struct net *net,
			   bool capable, struct netlink_ext_ack *extack)
{
	struct mqdev_identity *ident;
	struct net *old;

	mutex_lock(&mqdev_identities_lock);
	ident = identity_named(net, name, capable);
	mutex_unlock(&mqdev_identities_lock);
	if (IS_ERR(ident)) {
		if (PTR_ERR(ident) == -EPERM)
			NL_SET_ERR_MSG(extack,
				       "the producer name belongs to another user");
		else
			NL_SET_ERR_MSG(extack, "too many producer names");
		return PTR_ERR(ident);
	}
	spin_lock(&mqdev_checker_lock);
	old = ident->checker_net;
	ident->checker_portid = portid;
	ident->checker_net = get_net(net);
	spin_unlock(&mqdev_checker_lock);
	if (old)
		put_net(old);
	mqdev_identity_put(ident);
	return 0;
}

/**
 * mqdev_checkers_forget() - a netlink socket closed: it checks nothing more
 * @portid: the socket's port id
 * @net: its namespace
 */
void mqdev_checkers_forget(u32 portid, struct net *net)
{
	struct mqdev_identity *ident;
	struct net *old;

	mutex_lock(&mqdev_identities_lock);
	list_for_each_entry(ident, &mqdev_identities, node) {
		old = NULL;
		spin_lock(&mqdev_checker_lock);
		if (ident->checker_portid == portid &&
		    net_eq(ident->checker_net, net)) {
			old = ident->checker_net;
			ident->checker_net = NULL;
			ident->checker_portid = 0;
		}
		spin_unlock(&mqdev_checker_lock);
		if (old)
			put_net(old);
	}
	mutex_unlock(&mqdev_identities_lock);
}

/**
 * mqdev_identity_checker() - who checks @ident's transactions
 * @ident: the producer identity
 * @portid: the checker's port id goes here
 *
 * Return: the checker's namespace, with a reference for the caller to put,
 * or NULL when @ident has no checker.
 */
struct net *mqdev_identity_checker(struct mqdev_identity *ident, u32 *portid)
{
	struct net *net = NULL;

	spin_lock(&mqdev_checker_lock);
	if (ident->checker_net) {
		net = get_net(ident->checker_net);
		*portid = ident->checker_portid;
	}
	spin_unlock(&mqdev_checker_lock);
	return net;
}

/**
 * mqdev_identities_destroy_net() - forget a dying namespace's names
 * @net: the namespace, going away
 */
void mqdev_identities_destroy_net(struct net *net)
{
	struct mqdev_identity *ident, *next;

	mutex_lock(&mqdev_identities_lock);
	list_for_each_entry_safe(ident, next, &mqdev_identities, node) {
		if (!net_eq(ident->net, net))
			continue;
		list_del_init(&ident->node);
		mqdev_nr_named--;
		mqdev_identity_put(ident);
	}
	mutex_unlock(&mqdev_identities_lock);
}

/**
 * mqdev_identities_destroy() - forget every producer name
 *
 * Module exit: no session is left.
 */
void mqdev_identities_destroy(void)
{
	struct mqdev_identity *ident, *next;

	mutex_lock(&mqdev_identities_lock);
	list_for_each_entry_safe(ident, next, &mqdev_identities, node) {
		list_del(&ident->node);
		mqdev_identity_put(ident);
	}
	mqdev_nr_named = 0;
	mutex_unlock(&mqdev_identities_lock);
}
