// SPDX-License-Identifier: GPL-2.0
/*
 * Transactions: "half" messages that become visible all at once, or never.
 *
 * A transaction's records are appended to their partitions as they come,
 * marked MQDEV_RECORD_TXN with the transaction's slot in a table of states
 * that every consumer may map read-only.  No reader passes a marked record
 * while its slot says OPEN, so nothing after it in that partition is read
 * either.  The decision is one store to the slot; from that instant every
 * reader in every partition of every topic sees the same outcome:
 *
 *   begin        slot := OPEN                   (before any record is seen)
 *   produce      records marked TXN, slot       (readers stop at them)
 *   commit       group offsets located          (what can fail, first)
 *                slot := COMMIT                 <- the instant, release
 *                group offsets moved            (under the group's lock)
 *                every record marked COMMITTED  (in place, under part locks)
 *                slot := FREE, release          (only now may it be reused)
 *
 * A reader that finds a record marked TXN but neither COMMITTED nor ABORTED
 * loads the slot's state with acquire and then the record's flags again: if
 * they are still unmarked, the slot cannot have been freed yet, so the state
 * is this transaction's.
 *
 * A transaction whose session is gone, was fenced by a newer session of its
 * name, or outlived its time-out is an orphan: its producer can no longer
 * decide it.  As RocketMQ does, the kernel then asks: the checker registered
 * for the producer name gets MQDEV_CMD_TXN_CHECK over netlink and answers
 * with MQDEV_CMD_TXN_RESOLVE.  With no checker, or no decisive answer after
 * MQDEV_TXN_CHECKS questions a time-out apart, it is aborted.
 */

#include <linux/mm.h>
#include <linux/module.h>
#include <linux/netlink.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <net/net_namespace.h>
#include "mqdev.h"
#include "trace.h"

#define MQDEV_TXN_SLOTS		(PAGE_SIZE / sizeof(u32))
#define MQDEV_TXN_CHECKS	3
#define MQDEV_TXN_DAMAGED	16	/* kernel only: a record was overwritten */

MQDEV_LIMIT(max_txns, 128, 0, MQDEV_TXN_SLOTS,
	    "Most transactions open at once");
MQDEV_LIMIT(max_txn_bytes, 16UL << 20, 0, MQDEV_MAX_TOTAL_BYTES,
	    "Most bytes of records one transaction may hold");

/* txn->bits */
#define TXN_ORPHANED		0	/* its work was asked to run now */

/* One partition a transaction wrote to, and where its records lie. */
struct mqdev_txn_part {
	struct list_head	node;
	struct mqdev_topic	*topic;		/* a reference */
	struct mqdev_part	*part;
	u64			first;		/* position of its first record */
	u64			last;		/* and of its last */
	bool			any;		/* first and last are set */
};

struct mqdev_transaction {
	struct kref		ref;
	struct list_head	node;		/* on table->txns */
	struct mqdev_txn_table	*table;		/* its namespace's */
	struct mqdev_identity	*ident;
	u64			id;
	u64			cookie;
	u16			slot;
	u32			epoch;		/* of the session that began it */
	u32			timeout_ms;
	unsigned long		bits;		/* TXN_* */
	atomic_t		state;		/* OPEN, COMMIT, ABORT or DAMAGED */

	struct mutex		lock;		/* all below, and appends */
	u32			decided;	/* 0, MQDEV_TXN_COMMIT or _ABORT */
	bool			orphan;		/* the checker decides */
	unsigned int		checks;
	u64			bytes;
	struct list_head	parts;
	struct mqdev_txn_part	*cur;		/* the one last appended to */

	/* group offsets committed with it: one group of one topic */
	struct mqdev_topic	*off_topic;	/* a reference, or NULL */
	char			off_group[MQDEV_NAME_SIZE];
	u64			off_serial;	/* that group, not its name */
	u32			off_member;
	u32			off_generation;
	u32			nr_offsets;
	struct mqdev_group_commit *offsets;	/* one per partition at most */
	struct mqdev_group_pos	*found;		/* where each offset is */

	struct delayed_work	work;		/* time-out, then check-back */
	struct work_struct	free_work;
};

/*
 * A network namespace's transactions: each namespace has its own slots and
 * its own page of states, so that a reader of one sees nothing of another's.
 */
struct mqdev_txn_table {
	struct mutex		lock;		/* all below */
	struct list_head	txns;		/* undecided ones */
	unsigned int		nr;		/* slots in use */
	u32			next_slot;
	struct mqdev_transaction	*slots[MQDEV_TXN_SLOTS];
	struct page		*page;		/* the states, mapped by readers */
	u32			*states;
};

static atomic64_t mqdev_next_txn_id = ATOMIC64_INIT(0);
static struct workqueue_struct *mqdev_txn_wq;

/**
 * mqdev_txn_slot() - the slot of @txn in its namespace's table of states
 * @txn: the transaction
 *
 * Return: the slot, which its records carry.
 */
u16 mqdev_txn_slot(const struct mqdev_transaction *txn)
{
	return txn->slot;
}

static void txn_release(struct kref *ref)
{
	struct mqdev_transaction *txn = container_of(ref, struct mqdev_transaction, ref);
	struct mqdev_txn_part *tp, *next;

	list_for_each_entry_safe(tp, next, &txn->parts, node) {
		mqdev_topic_put(tp->topic);
		kfree(tp);
	}
	if (txn->off_topic)
		mqdev_topic_put(txn->off_topic);
	kfree(txn->offsets);
	kfree(txn->found);
	mqdev_identity_put(txn->ident);
	kfree(txn);
}

static void txn_put(struct mqdev_transaction *txn)
{
	kref_put(&txn->ref, txn_release);
}

/* Decided and freed from its slot: no work of it may run any more. */
static void txn_free_work(struct work_struct *work)
{
	struct mqdev_transaction *txn = container_of(work, struct mqdev_transaction,
					       free_work);

	cancel_delayed_work_sync(&txn->work);
	txn_put(txn);
}

/* ---- what readers see ------------------------------------------------------ */

/**
 * mqdev_txn_record_state() - the state of a record for a reader
 * @part: the record's partition
 * @rec: the record, in the ring
 *
 * Lock-free, for readers and wake functions.
 *
 * Return: 0 for a record in no transaction or in a committed one,
 * MQDEV_TXN_OPEN for one whose transaction is undecided (stop here), or
 * MQDEV_TXN_ABORT for an aborted one (never deliver it).
 */
u32 mqdev_txn_record_state(const struct mqdev_part *part,
			   const struct mqdev_record *rec)
{
	const u32 *states = part->topic->txns->states;
	u16 flags = READ_ONCE(rec->flags);
	u32 state;

	if (!(flags & MQDEV_RECORD_TXN) || (flags & MQDEV_RECORD_COMMITTED))
		return 0;
	if (flags & MQDEV_RECORD_ABORTED)
		return MQDEV_TXN_ABORT;
	if (rec->txn >= MQDEV_TXN_SLOTS)
		return MQDEV_TXN_ABORT;
	/* Pairs with smp_store_release() of the slot in txn_decide()/txn_unslot(). */
	state = smp_load_acquire(&states[rec->txn]);
	flags = READ_ONCE(rec->flags);
	if (flags & MQDEV_RECORD_COMMITTED)
		return 0;
	if (flags & MQDEV_RECORD_ABORTED)
		return MQDEV_TXN_ABORT;
	return state == MQDEV_TXN_COMMIT ? 0 : state == MQDEV_TXN_OPEN ?
	       MQDEV_TXN_OPEN : MQDEV_TXN_ABORT;
}

/**
 * mqdev_txn_record_dropped() - a topic dropped @rec: one that overwrites,
 * or a blocking one whose holders have all passed it
 * @part: the record's partition, locked
 * @rec: the record
 *
 * If its transaction is still open it can no longer commit whole.  The slot
 * cannot have been freed: that happens only after every record is marked,
 * and marking takes the partition lock we hold.
 */
void mqdev_txn_record_dropped(const struct mqdev_part *part,
			      const struct mqdev_record *rec)
{
	struct mqdev_transaction *txn;

	if (!(rec->flags & MQDEV_RECORD_TXN) ||
	    (rec->flags & (MQDEV_RECORD_COMMITTED | MQDEV_RECORD_ABORTED)) ||
	    rec->txn >= MQDEV_TXN_SLOTS)
		return;
	txn = READ_ONCE(part->topic->txns->slots[rec->txn]);
	if (txn)
		atomic_cmpxchg(&txn->state, MQDEV_TXN_OPEN, MQDEV_TXN_DAMAGED);
}

/**
 * mqdev_txn_mmap() - map a namespace's page of transaction states
 * @net: the namespace of the handle mapping it
 * @vma: the mapping: one page, not writable
 *
 * Return: 0; -EACCES for a writable mapping; or what vm_map_pages_zero()
 * returns, such as -ENXIO for a mapping larger than the page.
 */
int mqdev_txn_mmap(struct net *net, struct vm_area_struct *vma)
{
	struct mqdev_txn_table *table = mqdev_net(net)->txns;

	if (vma->vm_flags & VM_WRITE)
		return -EACCES;
	vm_flags_clear(vma, VM_MAYWRITE);
	return vm_map_pages_zero(vma, &table->page, 1);
}

/**
 * mqdev_txn_fill_offsets() - where a consumer finds the transaction states
 * @off: the layout MQDEV_IOC_ATTACH reports, its txn_* fields filled in
 */
void mqdev_txn_fill_offsets(struct mqdev_ring_offsets *off)
{
	off->txn_mmap = MQDEV_TXN_MMAP;
	off->txn_size = PAGE_SIZE;
	off->txn_slots = MQDEV_TXN_SLOTS;
}

/* ---- begin, and appends ---------------------------------------------------- */

static void txn_work(struct work_struct *work);

static int txn_take_slot(struct mqdev_transaction *txn)
{
	struct mqdev_txn_table *table = txn->table;
	u32 i, slot;
	int err = -ENOSPC;

	mutex_lock(&table->lock);
	if (table->nr >= mqdev_limit(&max_txns))
		goto out_unlock;
	for (i = 0; i < MQDEV_TXN_SLOTS; i++) {
		slot = (table->next_slot + i) % MQDEV_TXN_SLOTS;
		if (!table->slots[slot])
			break;
	}
	if (i == MQDEV_TXN_SLOTS)
		goto out_unlock;
	txn->slot = slot;
	table->next_slot = slot + 1;
	/* Published to readers by the release of the first record's head. */
	WRITE_ONCE(table->states[slot], MQDEV_TXN_OPEN);
	WRITE_ONCE(table->slots[slot], txn);
	list_add_tail(&txn->node, &table->txns);
	table->nr++;
	err = 0;
out_unlock:
	mutex_unlock(&table->lock);
	return err;
}

/* Every record is marked: the slot may serve another transaction. */
static void txn_unslot(struct mqdev_transaction *txn)
{
	struct mqdev_txn_table *table = txn->table;

	mutex_lock(&table->lock);
	/* Pairs with smp_load_acquire() in readers: marks before reuse. */
	smp_store_release(&table->states[txn->slot], MQDEV_TXN_FREE);
	WRITE_ONCE(table->slots[txn->slot], NULL);
	list_del(&txn->node);
	table->nr--;
	mutex_unlock(&table->lock);
	mqdev_uncharge(txn->ident->uid, MQDEV_CHARGE_TXNS, 1);
}

static int txn_begin(struct mqdev_session *s, struct mqdev_txn *req)
{
	struct mqdev_transaction *txn;
	int err;

	if (s->txn) {
		if (!s->txn->orphan)
			return -EBUSY;
		txn_put(s->txn);	/* decided without us: forget it */
		s->txn = NULL;
	}
	txn = kzalloc(sizeof(*txn), GFP_KERNEL_ACCOUNT);
	if (!txn)
		return -ENOMEM;
	kref_init(&txn->ref);		/* the slot's, until decided */
	mutex_init(&txn->lock);
	INIT_LIST_HEAD(&txn->parts);
	INIT_DELAYED_WORK(&txn->work, txn_work);
	INIT_WORK(&txn->free_work, txn_free_work);
	atomic_set(&txn->state, MQDEV_TXN_OPEN);
	txn->id = atomic64_inc_return(&mqdev_next_txn_id);
	txn->cookie = req->cookie;
	txn->timeout_ms = s->txn_timeout_ms;
	txn->epoch = s->epoch;
	kref_get(&s->ident->ref);
	txn->ident = s->ident;
	txn->table = mqdev_net(s->ident->net)->txns;

	err = mqdev_charge(txn->ident->uid, MQDEV_CHARGE_TXNS, 1);
	if (err)
		goto err_put;
	err = txn_take_slot(txn);
	if (err)
		goto err_uncharge;
	kref_get(&txn->ref);		/* the session's */
	s->txn = txn;
	req->txn_id = txn->id;
	queue_delayed_work(mqdev_txn_wq, &txn->work,
			   msecs_to_jiffies(txn->timeout_ms));
	return 0;

err_uncharge:
	mqdev_uncharge(txn->ident->uid, MQDEV_CHARGE_TXNS, 1);
err_put:
	txn_put(txn);
	return err;
}

/**
 * mqdev_txn_append_begin() - begin appends through a session
 * @s: the session
 * @txnp: its open transaction goes here, or NULL when it has none
 *
 * The transaction is locked against its decision until
 * mqdev_txn_append_end(), and referenced: the session's lock is not held,
 * so its own commit from another thread waits for the transaction's lock,
 * not for us.
 *
 * Return: 0; or, for a transaction orphaned already, -ESTALE when the
 * session was fenced, else -ETIMEDOUT.
 */
int mqdev_txn_append_begin(struct mqdev_session *s, struct mqdev_transaction **txnp)
{
	struct mqdev_transaction *txn;
	int err = 0;

	mutex_lock(&s->lock);
	txn = s->txn;
	*txnp = NULL;
	if (txn) {
		mutex_lock(&txn->lock);
		if (!txn->orphan) {
			kref_get(&txn->ref);
			*txnp = txn;
		} else {
			mutex_unlock(&txn->lock);
			err = READ_ONCE(s->ident->epoch) != s->epoch ?
			      -ESTALE : -ETIMEDOUT;
		}
	}
	mutex_unlock(&s->lock);
	return err;
}

/**
 * mqdev_txn_append_end() - end what mqdev_txn_append_begin() began
 * @txn: the transaction it gave, or NULL
 */
void mqdev_txn_append_end(struct mqdev_transaction *txn)
{
	if (!txn)
		return;
	mutex_unlock(&txn->lock);
	txn_put(txn);
}

/**
 * mqdev_txn_append_pause() - let go of @txn for a user memory access
 * @txn: the transaction an append run holds
 *
 * Its time-out and its checker may decide it meanwhile: a user buffer that
 * is slow to fault in must not keep a transaction open past its time-out.
 */
void mqdev_txn_append_pause(struct mqdev_transaction *txn)
{
	mutex_unlock(&txn->lock);
}

/**
 * mqdev_txn_append_resume() - take @txn again after mqdev_txn_append_pause()
 * @txn: the transaction
 *
 * If it was decided or orphaned meanwhile, mqdev_txn_reserve() refuses the
 * next append to it.
 */
void mqdev_txn_append_resume(struct mqdev_transaction *txn)
{
	mutex_lock(&txn->lock);
}

static struct mqdev_txn_part *txn_part(struct mqdev_transaction *txn,
				       struct mqdev_part *part)
{
	struct mqdev_txn_part *tp;

	if (txn->cur && txn->cur->part == part)
		return txn->cur;
	list_for_each_entry(tp, &txn->parts, node)
		if (tp->part == part)
			return tp;
	return NULL;
}

/**
 * mqdev_txn_prepare() - what an append to @part will need, made beforehand
 * @txn: the transaction, locked
 * @part: the partition, not locked: nothing may sleep under its lock
 *
 * Return: 0 or -ENOMEM.
 */
int mqdev_txn_prepare(struct mqdev_transaction *txn, struct mqdev_part *part)
{
	struct mqdev_txn_part *tp;

	lockdep_assert_held(&txn->lock);
	if (txn_part(txn, part))
		return 0;
	tp = kzalloc(sizeof(*tp), GFP_KERNEL_ACCOUNT);
	if (!tp)
		return -ENOMEM;
	kref_get(&part->topic->ref);
	tp->topic = part->topic;
	tp->part = part;
	list_add_tail(&tp->node, &txn->parts);
	return 0;
}

/**
 * mqdev_txn_reserve() - room in the transaction for a record in @part
 * @txn: the transaction, locked
 * @part: the partition, locked, after mqdev_txn_prepare()
 * @space: the bytes the record takes in the ring
 *
 * Return: 0; -ETIMEDOUT when @txn was decided or orphaned while it was let
 * go of; -EFBIG past max_txn_bytes; or -ENOMEM without mqdev_txn_prepare().
 */
int mqdev_txn_reserve(struct mqdev_transaction *txn, struct mqdev_part *part,
		      u64 space)
{
	lockdep_assert_held(&txn->lock);
	/* It was let go of for a user access: decided meanwhile, it is shut. */
	if (txn->decided || txn->orphan)
		return -ETIMEDOUT;
	if (txn->bytes + space > mqdev_limit(&max_txn_bytes))
		return -EFBIG;
	txn->cur = txn_part(txn, part);
	return txn->cur ? 0 : -ENOMEM;
}

/**
 * mqdev_txn_appended() - a record went in where mqdev_txn_reserve() said
 * @txn: the transaction, locked
 * @pos: the record's position in the partition just reserved
 * @space: the bytes it takes
 */
void mqdev_txn_appended(struct mqdev_transaction *txn, u64 pos, u64 space)
{
	struct mqdev_txn_part *tp = txn->cur;

	if (!tp->any)
		tp->first = pos;
	tp->any = true;
	tp->last = pos;
	txn->bytes += space;
}

/* ---- the decision ------------------------------------------------------------ */

/* The group offsets sent with @txn, if they are still the sender's to commit. */
static struct mqdev_group *txn_offsets_group(struct mqdev_transaction *txn)
{
	struct mqdev_group *g;
	struct mqdev_member *owner;
	u32 i;

	lockdep_assert_held(&txn->off_topic->groups_lock);
	g = mqdev_group_find(txn->off_topic, txn->off_group);
	if (!g || g->serial != txn->off_serial ||
	    g->generation != txn->off_generation)
		return NULL;
	for (i = 0; i < txn->nr_offsets; i++) {
		owner = g->parts[txn->offsets[i].partition].owner;
		if (!owner || owner->id != txn->off_member)
			return NULL;
	}
	return g;
}

/*
 * Where every offset sent with @txn lands, found before the decision: after
 * it nothing may fail.  Returns -ERANGE for an offset past a partition's end,
 * -EBADMSG for a single writer's records that do not hold on the way.
 */
static int txn_locate_offsets(struct mqdev_transaction *txn, struct mqdev_group *g)
{
	int err = 0;
	u32 i;

	for (i = 0; i < txn->nr_offsets && !err; i++)
		err = mqdev_group_locate(g, txn->offsets[i].partition,
					 MQDEV_SEEK_OFFSET,
					 txn->offsets[i].offset, &txn->found[i]);
	return err;
}

static void txn_move_offsets(struct mqdev_transaction *txn, struct mqdev_group *g)
{
	u32 i;

	for (i = 0; i < txn->nr_offsets; i++)
		mqdev_group_move(g, txn->offsets[i].partition, &txn->found[i]);
}

static void txn_mark_records(struct mqdev_transaction *txn, u32 decision)
{
	u16 mark = decision == MQDEV_TXN_COMMIT ? MQDEV_RECORD_COMMITTED :
						   MQDEV_RECORD_ABORTED;
	struct mqdev_txn_part *tp;

	list_for_each_entry(tp, &txn->parts, node) {
		if (tp->any)
			mqdev_ring_resolve(tp->part, tp->first, tp->last,
					   txn->ident->id, txn->slot, mark);
		mqdev_ring_wake_readers(tp->part);
	}
}

/*
 * What a commit of @txn needs, checked while nothing is decided: its group
 * offsets are still the sender's, and each lands in its partition.  Returns
 * the group to move, or NULL with *@err set when the commit cannot hold.
 */
static struct mqdev_group *txn_commit_check(struct mqdev_transaction *txn, int *err)
{
	struct mqdev_group *g = txn_offsets_group(txn);

	if (!g) {
		*err = -ESTALE;
		return NULL;
	}
	*err = txn_locate_offsets(txn, g);
	return *err ? NULL : g;
}

/*
 * Commit or abort, under txn->lock, @by whom (MQDEV_TRACE_BY_*, for the
 * trace).  A commit that cannot hold (offsets no longer the sender's or out
 * of range, a record overwritten) aborts instead and says why.  Everything
 * that can fail is checked before the instant; from the instant on, nothing
 * can fail or wait for a signal.
 */
static int txn_decide(struct mqdev_transaction *txn, u32 want, u32 by)
{
	u32 asked = want;
	struct mqdev_group *g = NULL;
	int err = 0;

	lockdep_assert_held(&txn->lock);
	if (txn->off_topic) {
		mutex_lock(&txn->off_topic->groups_lock);
		if (want == MQDEV_TXN_COMMIT) {
			g = txn_commit_check(txn, &err);
			if (!g)
				want = MQDEV_TXN_ABORT;
		}
	}
	if (want == MQDEV_TXN_COMMIT &&
	    atomic_cmpxchg(&txn->state, MQDEV_TXN_OPEN, MQDEV_TXN_COMMIT) !=
	    MQDEV_TXN_OPEN) {
		want = MQDEV_TXN_ABORT;
		err = -EOVERFLOW;
	}
	if (want == MQDEV_TXN_ABORT)
		atomic_set(&txn->state, MQDEV_TXN_ABORT);
	/* The instant. Pairs with smp_load_acquire() in readers. */
	smp_store_release(&txn->table->states[txn->slot], want);
	if (g && want == MQDEV_TXN_COMMIT)
		txn_move_offsets(txn, g);
	if (txn->off_topic)
		mutex_unlock(&txn->off_topic->groups_lock);

	txn->decided = want;
	trace_mqdev_txn_decide(txn->ident, txn->id, asked, want, by, txn->bytes,
			       err);
	txn_mark_records(txn, want);
	txn_unslot(txn);
	queue_work(mqdev_txn_wq, &txn->free_work);
	return err;
}

/* Ask the checker once; -ENOENT when there is none to ask. */
static int txn_ask(struct mqdev_transaction *txn)
{
	struct net *net;
	u32 portid;
	int err;

	net = mqdev_identity_checker(txn->ident, &portid);
	if (!net)
		return -ENOENT;
	err = mqdev_nl_txn_check(net, portid, txn->ident, txn->id,
				 txn->cookie);
	put_net(net);
	trace_mqdev_txn_check(txn->ident, txn->id, txn->cookie, portid,
			      txn->checks + 1, err);
	return err;
}

static void txn_work(struct work_struct *work)
{
	struct mqdev_transaction *txn = container_of(to_delayed_work(work),
					       struct mqdev_transaction, work);

	mutex_lock(&txn->lock);
	if (txn->decided)
		goto out_unlock;
	txn->orphan = true;
	set_bit(TXN_ORPHANED, &txn->bits);
	if (txn->checks < MQDEV_TXN_CHECKS && !txn_ask(txn)) {
		txn->checks++;
		queue_delayed_work(mqdev_txn_wq, &txn->work,
				   msecs_to_jiffies(txn->timeout_ms));
		goto out_unlock;
	}
	txn_decide(txn, MQDEV_TXN_ABORT, MQDEV_TRACE_BY_TIMEOUT);
out_unlock:
	mutex_unlock(&txn->lock);
}

/*
 * Run @txn's work now, once: it makes the transaction an orphan and asks the
 * checker.  @txn is still on its table's list, so its free_work, which
 * cancels the work, is not queued yet (it may be decided already: then the
 * work finds it so and does nothing).
 */
static void txn_orphan_now(struct mqdev_transaction *txn)
{
	if (!test_and_set_bit(TXN_ORPHANED, &txn->bits))
		mod_delayed_work(mqdev_txn_wq, &txn->work, 0);
}

/**
 * mqdev_txn_orphan() - its producer can no longer decide @txn
 * @txn: the transaction
 *
 * The checker is asked now, unless @txn is decided already.
 */
void mqdev_txn_orphan(struct mqdev_transaction *txn)
{
	mutex_lock(&txn->lock);
	if (!txn->decided)
		txn_orphan_now(txn);
	mutex_unlock(&txn->lock);
}

/**
 * mqdev_txn_fence() - a new session of @ident fenced the older ones
 * @ident: the producer name
 *
 * The older sessions' open transactions go to the checker.  Only the list
 * of undecided transactions is locked, never a session or a transaction,
 * which their producers may hold while they work.
 */
void mqdev_txn_fence(struct mqdev_identity *ident)
{
	struct mqdev_txn_table *table = mqdev_net(ident->net)->txns;
	u32 epoch = READ_ONCE(ident->epoch);
	struct mqdev_transaction *txn;

	mutex_lock(&table->lock);
	/* Undecided while on the list: txn_unslot() takes it off first. */
	list_for_each_entry(txn, &table->txns, node)
		if (txn->ident == ident && txn->epoch != epoch)
			txn_orphan_now(txn);
	mutex_unlock(&table->lock);
}

/**
 * mqdev_txn_session_gone() - the session of @txn is gone
 * @txn: the transaction, with the session's reference, which goes
 *
 * The checker decides it.
 */
void mqdev_txn_session_gone(struct mqdev_transaction *txn)
{
	mqdev_txn_orphan(txn);
	txn_put(txn);
}

/*
 * COMMIT or ABORT from the session that began it.  An orphan is the
 * checker's to decide: ETIMEDOUT, and @op says what became of it (0 while
 * the checker is still being asked).
 */
static int txn_end(struct mqdev_session *s, struct mqdev_txn *req)
{
	struct mqdev_transaction *txn = s->txn;
	int err;

	if (!txn)
		return -ENOENT;
	mutex_lock(&txn->lock);
	req->txn_id = txn->id;
	err = txn->orphan ? -ETIMEDOUT :
	      txn_decide(txn, req->op, MQDEV_TRACE_BY_PRODUCER);
	req->op = txn->decided;
	mutex_unlock(&txn->lock);
	s->txn = NULL;
	txn_put(txn);
	return err;
}

/**
 * mqdev_txn_ioctl() - MQDEV_IOC_TXN: begin, commit or abort
 * @s: the session
 * @req: the request; the transaction's id, and for a commit or an abort
 *	 what became of it, go back
 *
 * A commit that cannot hold aborts instead.
 *
 * Return: 0; -EINVAL for a bad request; -ESTALE for a fenced session (the
 * checker decides); to begin, -EBUSY when a transaction is open, -ENOSPC
 * when max_txns are open or no slot is free, -EDQUOT past the user's limit,
 * or -ENOMEM; to end, -ENOENT when none is open, -ETIMEDOUT for an orphan
 * (the checker decides; @req says what became of it), or for a commit
 * that aborted: -ESTALE when its group offsets are no longer the sender's,
 * -ERANGE for one past its partition's end, -EOVERFLOW when one of its
 * records was overwritten.
 */
int mqdev_txn_ioctl(struct mqdev_session *s, struct mqdev_txn *req)
{
	int err;

	if (req->flags || req->reserved[0] || req->reserved[1] ||
	    (req->op != MQDEV_TXN_BEGIN && req->op != MQDEV_TXN_COMMIT &&
	     req->op != MQDEV_TXN_ABORT) ||
	    (req->op != MQDEV_TXN_BEGIN && req->cookie))
		return -EINVAL;
	mutex_lock(&s->lock);
	if (READ_ONCE(s->ident->epoch) != s->epoch) {
		req->op = 0;	/* fenced: the checker decides, not we */
		err = -ESTALE;
	} else if (req->op == MQDEV_TXN_BEGIN) {
		err = txn_begin(s, req);
	} else {
		err = txn_end(s, req);
	}
	mutex_unlock(&s->lock);
	return err;
}

/* ---- group offsets ------------------------------------------------------------ */

static int offsets_check(struct mqdev_handle *ch, struct mqdev_group_commit *c,
			 u32 count)
{
	struct mqdev_member *m = ch->member;
	struct mqdev_group *g = m->group;
	u32 i;

	lockdep_assert_held(&ch->topic->groups_lock);
	for (i = 0; i < count; i++) {
		if (c[i].flags || c[i].reserved ||
		    c[i].partition >= ch->topic->nr_parts)
			return -EINVAL;
		if (c[i].generation != g->generation ||
		    g->parts[c[i].partition].owner != m)
			return -ESTALE;
	}
	return 0;
}

/* Merge @count commits into the transaction's, one per partition. */
static void offsets_merge(struct mqdev_transaction *txn,
			  const struct mqdev_group_commit *c, u32 count)
{
	u32 i, j;

	for (i = 0; i < count; i++) {
		for (j = 0; j < txn->nr_offsets; j++)
			if (txn->offsets[j].partition == c[i].partition)
				break;
		txn->offsets[j] = c[i];
		if (j == txn->nr_offsets)
			txn->nr_offsets++;
	}
}

static int offsets_attach(struct mqdev_transaction *txn, struct mqdev_handle *ch)
{
	struct mqdev_member *m = ch->member;

	if (txn->off_topic)
		return txn->off_topic == ch->topic &&
		       txn->off_serial == m->group->serial &&
		       txn->off_member == m->id ? 0 : -EXDEV;
	txn->offsets = kcalloc(ch->topic->nr_parts, sizeof(*txn->offsets),
			       GFP_KERNEL_ACCOUNT);
	txn->found = kcalloc(ch->topic->nr_parts, sizeof(*txn->found),
			     GFP_KERNEL_ACCOUNT);
	if (!txn->offsets || !txn->found) {
		kfree(txn->offsets);
		txn->offsets = NULL;
		kfree(txn->found);
		txn->found = NULL;
		return -ENOMEM;
	}
	kref_get(&ch->topic->ref);
	txn->off_topic = ch->topic;
	strscpy_pad(txn->off_group, m->group->name);
	txn->off_serial = m->group->serial;
	txn->off_member = m->id;
	return 0;
}

static int txn_offsets_locked(struct mqdev_transaction *txn, struct mqdev_handle *ch,
			      struct mqdev_group_commit *c, u32 count)
{
	int err;

	mutex_lock(&ch->topic->groups_lock);
	err = -EBADFD;
	if (!ch->member)
		goto out_unlock;
	err = offsets_check(ch, c, count);
	if (err)
		goto out_unlock;
	err = offsets_attach(txn, ch);
	if (err)
		goto out_unlock;
	txn->off_generation = ch->member->group->generation;
	offsets_merge(txn, c, count);
out_unlock:
	mutex_unlock(&ch->topic->groups_lock);
	return err;
}

/**
 * mqdev_txn_offsets() - MQDEV_IOC_TXN_OFFSETS: group offsets to commit with
 * @s: the session, with its transaction open
 * @req: the request: the descriptor of a consuming handle that is a group
 *	 member, and the member's commits
 *
 * The offsets are committed with the transaction, or not at all.  All the
 * offsets of one transaction are of one group, sent by one member.
 *
 * Return: 0; -EINVAL for a bad request or commit, or a descriptor that is
 * no consuming handle; -EBADF for a descriptor not open; -E2BIG or -EFAULT
 * copying the commits in; -ENOMEM; -ESTALE for a fenced session, or a
 * commit of a partition the member does not own in its generation;
 * -ENOENT when no transaction is open; -ETIMEDOUT for an orphan; -EBADFD
 * for a handle that is no group member; or -EXDEV for a topic, group or
 * member other than the one the transaction's offsets are already of.
 */
int mqdev_txn_offsets(struct mqdev_session *s,
		      const struct mqdev_txn_offsets *req)
{
	struct mqdev_group_commit *c;
	struct mqdev_handle *ch;
	struct mqdev_transaction *txn;
	int err;

	if (req->reserved || req->commit_size < sizeof(*c) ||
	    req->commit_size > PAGE_SIZE || !req->count ||
	    req->count > MQDEV_MAX_PARTITIONS)
		return -EINVAL;
	CLASS(fd, f)(req->consumer_fd);
	if (fd_empty(f))
		return -EBADF;
	ch = mqdev_file_handle(fd_file(f));
	/* Pairs with smp_store_release() in mqdev_attach(). */
	if (!ch || !smp_load_acquire(&ch->topic) ||
	    !(ch->mode & MQDEV_ATTACH_CONSUME) || req->count > ch->topic->nr_parts)
		return -EINVAL;

	c = kcalloc(req->count, sizeof(*c), GFP_KERNEL);
	if (!c)
		return -ENOMEM;
	err = 0;
	for (u32 i = 0; i < req->count && !err; i++)
		err = copy_struct_from_user(&c[i], sizeof(*c),
					    u64_to_user_ptr(req->commits) +
					    (u64)i * req->commit_size,
					    req->commit_size);
	if (err)
		goto out_free;

	mutex_lock(&s->lock);
	txn = s->txn;
	if (READ_ONCE(s->ident->epoch) != s->epoch) {
		err = -ESTALE;
	} else if (!txn) {
		err = -ENOENT;
	} else {
		mutex_lock(&txn->lock);
		err = txn->orphan ? -ETIMEDOUT :
		      txn_offsets_locked(txn, ch, c, req->count);
		mutex_unlock(&txn->lock);
	}
	mutex_unlock(&s->lock);
out_free:
	kfree(c);
	return err;
}

/* ---- the checker's answer -------------------------------------------------------- */

static struct mqdev_transaction *txn_find(struct net *net, const char *name,
					  u64 txn_id)
{
	struct mqdev_txn_table *table = mqdev_net(net)->txns;
	struct mqdev_transaction *txn, *found = NULL;

	mutex_lock(&table->lock);
	list_for_each_entry(txn, &table->txns, node) {
		if (txn->id == txn_id && !strcmp(txn->ident->name, name)) {
			kref_get(&txn->ref);
			found = txn;
			break;
		}
	}
	mutex_unlock(&table->lock);
	return found;
}

/**
 * mqdev_txn_resolve() - a checker's answer about an orphaned transaction
 * @net: the sender's namespace, where the transaction is looked for
 * @name: the transaction's producer name
 * @txn_id: the transaction
 * @decision: MQDEV_TXN_COMMIT, MQDEV_TXN_ABORT, or MQDEV_TXN_UNKNOWN to
 *	      leave it undecided: it is asked again later
 * @capable: the sender may decide another user's transactions
 *	     (CAP_SYS_ADMIN)
 * @extack: what went wrong goes here
 *
 * A commit that cannot hold aborts instead.
 *
 * Return: 0; -ENOENT for no such undecided transaction; -EPERM when it is
 * another user's and !@capable; -EALREADY when it was decided meanwhile;
 * -EBUSY when its producer is alive and decides it; or, for a commit that
 * aborted, -ESTALE, -ERANGE or -EOVERFLOW, as mqdev_txn_ioctl().
 */
int mqdev_txn_resolve(struct net *net, const char *name, u64 txn_id,
		      u32 decision, bool capable, struct netlink_ext_ack *extack)
{
	struct mqdev_transaction *txn = txn_find(net, name, txn_id);
	int err = 0;

	if (!txn) {
		NL_SET_ERR_MSG(extack, "no such undecided transaction");
		trace_mqdev_txn_answer(name, txn_id, decision, -ENOENT);
		return -ENOENT;
	}
	if (!uid_eq(current_fsuid(), txn->ident->uid) && !capable) {
		NL_SET_ERR_MSG(extack, "the producer name belongs to another user");
		err = -EPERM;
		goto out_put;
	}
	mutex_lock(&txn->lock);
	if (txn->decided) {
		NL_SET_ERR_MSG(extack, "the transaction is already decided");
		err = -EALREADY;
	} else if (!txn->orphan) {
		NL_SET_ERR_MSG(extack, "its producer is alive and decides it");
		err = -EBUSY;
	} else if (decision != MQDEV_TXN_UNKNOWN) {
		err = txn_decide(txn, decision, MQDEV_TRACE_BY_CHECKER);
		if (err)
			NL_SET_ERR_MSG(extack, "could not commit: aborted");
	}
	mutex_unlock(&txn->lock);
out_put:
	txn_put(txn);
	trace_mqdev_txn_answer(name, txn_id, decision, err);
	return err;
}

/* ---- module ------------------------------------------------------------------- */

/**
 * mqdev_txn_init() - module init: the transactions' workqueue
 *
 * Return: 0 or -ENOMEM.
 */
int __init mqdev_txn_init(void)
{
	mqdev_txn_wq = alloc_workqueue("mqdev_txn", WQ_UNBOUND, 0);
	return mqdev_txn_wq ? 0 : -ENOMEM;
}

/**
 * mqdev_txn_exit() - module exit: the transactions' workqueue goes
 *
 * Every namespace's transactions are decided already.
 */
void mqdev_txn_exit(void)
{
	destroy_workqueue(mqdev_txn_wq);
}

/**
 * mqdev_txn_init_net() - a namespace's table of transactions
 * @net: the namespace
 *
 * Return: 0 or -ENOMEM.
 */
int mqdev_txn_init_net(struct net *net)
{
	struct mqdev_txn_table *table;

	table = kzalloc(sizeof(*table), GFP_KERNEL_ACCOUNT);
	if (!table)
		return -ENOMEM;
	table->page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!table->page) {
		kfree(table);
		return -ENOMEM;
	}
	table->states = page_address(table->page);
	mutex_init(&table->lock);
	INIT_LIST_HEAD(&table->txns);
	mqdev_net(net)->txns = table;
	return 0;
}

/**
 * mqdev_txn_exit_net() - free a namespace's table of transactions
 * @net: the namespace, going away
 *
 * No session of it is left (a handle holds its namespace), so what the
 * checkers did not decide is aborted first.  Readers' mappings keep their
 * own reference on the page.
 */
void mqdev_txn_exit_net(struct net *net)
{
	struct mqdev_txn_table *table = mqdev_net(net)->txns;
	struct mqdev_transaction *txn;

	for (;;) {
		mutex_lock(&table->lock);
		txn = list_first_entry_or_null(&table->txns,
					       struct mqdev_transaction, node);
		if (txn)
			kref_get(&txn->ref);
		mutex_unlock(&table->lock);
		if (!txn)
			break;
		cancel_delayed_work_sync(&txn->work);
		mutex_lock(&txn->lock);
		if (!txn->decided)
			txn_decide(txn, MQDEV_TXN_ABORT,
				   MQDEV_TRACE_BY_NET_EXIT);
		mutex_unlock(&txn->lock);
		txn_put(txn);
	}
	put_page(table->page);
	kfree(table);
}
