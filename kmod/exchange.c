// SPDX-License-Identifier: GPL-2.0
/*
 * Exchanges: AMQP 0-9-1's routing, in front of the topics.
 *
 * An exchange is a named object of a network namespace, with an owner and
 * mode bits like a topic's (perm.c), charged to its creator.  Its bindings
 * each join it to a topic, or one partition of a topic, or to another
 * exchange (AMQP's exchange-to-exchange bindings), with a binding key.  A
 * binding holds a reference to its destination; deleting a topic or an
 * exchange drops the bindings to it (and an exchange's alternate topic),
 * so nothing pins a deleted topic's rings or its binders' charges.
 *
 * A producer attaches a handle to an exchange and produces messages with a
 * routing key each.  A message is routed in three steps, so that no lock
 * another user needs is held across user memory, a sleep or a match:
 *
 *   1. the message, its routing key and its key are copied into the
 *      kernel, with no lock held;
 *   2. under rcu_read_lock() only, the exchange's matching bindings are
 *      found (route.c for direct and topic exchanges, the binding list for
 *      fanout), those to exchanges followed with the same routing key, and
 *      the topics' bindings referenced into the producer's arrays;
 *   3. with no exchange lock, each copy is appended through ring.c's
 *      mqdev_append(), as MQDEV_IOC_PRODUCE appends; a copy that fails is
 *      counted and acknowledged with its errno, and the others go on.
 *
 * A call's messages take steps 1 and 2 a batch at a time, then step 3 for
 * the whole batch in one run of appends (struct mqdev_route_ctx).
 *
 * Locks:
 *
 *   mqdev_exchange_graph_lock  the exchange-to-exchange bindings (exits
 *                              and entries): bind, unbind and delete of
 *                              them, and the cycle and depth check
 *   mqdev_exchanges_lock       the registry: lookups, create, delete,
 *                              list, and a topic's deletion walking it
 *   ex->lock (mutex)           the bindings and the trie, for writers:
 *                              bind, unbind, delete, describe; readers
 *                              (routing) take no lock, only RCU
 *   ex->alt_lock (spinlock)    the alternate topic pointer
 *   part->lock                 ring.c's, taken by the appends only
 *
 * in that order: graph, registry, ex->lock, alt_lock.  Bindings and trie
 * nodes are freed after an RCU grace period, and an exchange's trie once
 * no reader can be in it (exchange_release()).
 */

#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/filter.h>
#include <linux/workqueue.h>
#include <net/net_namespace.h>
#include "exchange.h"
#include "xroute.h"

#define EXCHANGE_DEFAULT_MODE	0644
/* Messages in one MQDEV_IOC_EXCHANGE_PRODUCE, as MQDEV_IOC_PRODUCE. */
#define EXCHANGE_MAX_MSGS	MQDEV_PRODUCE_MAX_MSGS
/* Copies of one message: more is refused, however many acks fit. */
#define EXCHANGE_MAX_COPIES	4096
/* Exchanges one message may pass through, the producer's included. */
#define EXCHANGE_MAX_VISITS	256
/* Messages copied in, and their out fields back, in one copy each. */
#define EXCHANGE_CHUNK		64
/* The keys of a batch (route_gather()): room for the largest, twice. */
#define EXCHANGE_KEYS		(2 * MQDEV_MAX_KEY)
/* Bindings DESCRIBE fills under the lock and copies out, a round. */
#define DESCRIBE_CHUNK		4

MQDEV_LIMIT_SHARED(max_exchanges, 1024, 0, 1 << 20,
		   "Most exchanges that may exist at once");
MQDEV_LIMIT(max_exchange_bindings, 4096, 0, 1 << 20,
	    "Most bindings one exchange may have");
MQDEV_LIMIT(max_exchange_nodes, 65536, 1, 1 << 24,
	    "Most routing trie nodes (binding key words) one exchange may have");
/*
 * The work one message's routing may take, in all the exchanges it passes
 * through, in units of about one hash lookup: a live trie node a word, a
 * header looked up, a binding collected or walked, 16 program
 * instructions.  Past it the message is refused (E2BIG), so that what
 * binders made cannot keep a producer in the kernel for long.
 */
MQDEV_LIMIT(max_route_work, 1 << 16, 1, 1 << 24,
	    "Most routing work (about one hash lookup a unit) one message may take");

struct mqdev_exchange {
	struct kref		ref;
	struct list_head	node;		/* on the registry */
	char			name[MQDEV_NAME_SIZE];
	struct net		*net;		/* no reference: see topics */
	kuid_t			uid;
	kgid_t			gid;
	umode_t			mode;
	u32			type;		/* MQDEV_EXCHANGE_* */
	bool			dead;		/* READ_ONCE: deleted */
	spinlock_t		alt_lock;
	struct mqdev_topic	*alternate;	/* referenced, or NULL */
	struct mutex		lock;		/* writers of bindings, trie */
	struct list_head	bindings;	/* RCU: fanout's readers */
	u32			nr_bindings;	/* under lock; routers READ_ONCE */
	struct mqdev_route_trie	trie;		/* not for fanout */
	/* under mqdev_exchange_graph_lock: */
	struct list_head	exits;		/* its bindings to exchanges */
	struct list_head	entries;	/* bindings to it */
	u32			graph_gen;	/* graph_depth is of this walk */
	u32			graph_depth;
	atomic_t		producers;
	atomic64_t		routed;
	atomic64_t		alternated;
	atomic64_t		refused;
	atomic64_t		dropped;
	atomic64_t		failed;		/* copies */
	atomic64_t		over_budget;	/* past max_route_work */
	/* a routing program (route_bpf.c): set under lock, run under RCU */
	struct bpf_prog __rcu	*prog;
	u32			prog_len;
	atomic64_t		prog_out_of_range;
	struct rcu_work		free_work;	/* exchange_release() */
};

struct mqdev_binding {
	struct kref		ref;		/* the exchange's, and routings' */
	struct list_head	all;		/* RCU, on ex->bindings */
	struct list_head	end;		/* RCU, on its trie node's ends */
	struct list_head	exit;		/* on src->exits (to exchange) */
	struct list_head	entry;		/* on dest->entries */
	struct list_head	reap;		/* unlinked, to be put */
	struct rcu_head		rcu;
	struct mqdev_exchange	*src;		/* its exchange, not referenced */
	struct mqdev_route_node	*node;		/* NULL for fanout */
	struct mqdev_topic	*topic;		/* referenced, or NULL */
	struct mqdev_exchange	*dest;		/* referenced, or NULL */
	kuid_t			uid;		/* the binder, charged */
	u32			partition;	/* or MQDEV_PARTITION_ANY */
	bool			unlinked;	/* under src->lock */
	atomic64_t		routed;
	atomic64_t		failed;
	struct mqdev_bind_headers *hdrs;	/* a headers exchange's */
	u32			key_len;
	char			key[MQDEV_ROUTING_KEY_SIZE];
};

/* Has the exchange a trie of binding keys (route.c)? */
static bool exchange_keyed(u32 type)
{
	return type == MQDEV_EXCHANGE_DIRECT || type == MQDEV_EXCHANGE_TOPIC;
}

/* Frees exchanges once no router can be in them: exchange_release(). */
static struct workqueue_struct *mqdev_exchange_wq;
static DEFINE_MUTEX(mqdev_exchange_graph_lock);
static u32 mqdev_graph_gen;			/* under the graph lock */
static DEFINE_MUTEX(mqdev_exchanges_lock);
static LIST_HEAD(mqdev_exchanges);		/* under mqdev_exchanges_lock */
static unsigned int mqdev_nr_exchanges;		/* under mqdev_exchanges_lock */

/* ---- references and the registry ---------------------------------------- */

static void exchange_put(struct mqdev_exchange *ex);

static void binding_release(struct kref *ref)
{
	struct mqdev_binding *b = container_of(ref, struct mqdev_binding, ref);

	mqdev_uncharge(b->uid, MQDEV_CHARGE_BINDINGS, 1);
	if (b->topic)
		mqdev_topic_put(b->topic);
	if (b->dest)
		exchange_put(b->dest);
	/* Routers may still be reading it under RCU. */
	if (b->hdrs)
		kfree_rcu(b->hdrs, rcu);
	kfree_rcu(b, rcu);
}

/* May sleep (its destination's last reference): never under a lock. */
static void binding_put(struct mqdev_binding *b)
{
	kref_put(&b->ref, binding_release);
}

static void bindings_put(struct list_head *reap)
{
	struct mqdev_binding *b, *next;

	list_for_each_entry_safe(b, next, reap, reap)
		binding_put(b);
}

/* After a grace period, in a worker: the trie's table may sleep to go. */
static void exchange_free(struct work_struct *work)
{
	struct mqdev_exchange *ex = container_of(to_rcu_work(work),
						 struct mqdev_exchange,
						 free_work);

	if (exchange_keyed(ex->type))
		mqdev_route_destroy(&ex->trie);
	mqdev_prog_free(rcu_dereference_protected(ex->prog, true));
	mutex_destroy(&ex->lock);
	kfree(ex);
}

/*
 * A router that came through a binding to it may still walk its trie and
 * run its program: those are freed after a grace period, which neither
 * the last putter (a producer, a namespace's teardown under
 * pernet_ops_rwsem) nor anyone else waits for.
 */
static void exchange_release(struct kref *ref)
{
	struct mqdev_exchange *ex = container_of(ref, struct mqdev_exchange,
						 ref);

	WARN_ON_ONCE(!list_empty(&ex->bindings));
	/* what no router reads goes now: the charge is back at once */
	if (ex->alternate)
		mqdev_topic_put(ex->alternate);
	mqdev_uncharge(ex->uid, MQDEV_CHARGE_EXCHANGES, 1);
	INIT_RCU_WORK(&ex->free_work, exchange_free);
	queue_rcu_work(mqdev_exchange_wq, &ex->free_work);
}

/* May sleep: never under a lock, nor under RCU. */
static void exchange_put(struct mqdev_exchange *ex)
{
	kref_put(&ex->ref, exchange_release);
}

static struct mqdev_exchange *exchange_find(struct net *net, const char *name)
{
	struct mqdev_exchange *ex;

	lockdep_assert_held(&mqdev_exchanges_lock);
	list_for_each_entry(ex, &mqdev_exchanges, node)
		if (net_eq(ex->net, net) && !strcmp(ex->name, name))
			return ex;
	return NULL;
}

/* What @may (MAY_READ, MAY_WRITE) on @ex gets: 0 or -EACCES. */
static int exchange_may(const struct mqdev_exchange *ex, int may)
{
	return mqdev_mode_permits(ex->net, ex->uid, ex->gid, ex->mode, may);
}

/* A reference to the exchange @name, if the caller may @may on it. */
static struct mqdev_exchange *exchange_get(struct net *net, const char *name,
					   int may)
{
	struct mqdev_exchange *ex;
	int err;

	err = mqdev_name_check(name);
	if (err)
		return ERR_PTR(err);
	mutex_lock(&mqdev_exchanges_lock);
	ex = exchange_find(net, name);
	err = ex ? exchange_may(ex, may) : -ENOENT;
	if (err)
		ex = ERR_PTR(err);
	else
		kref_get(&ex->ref);
	mutex_unlock(&mqdev_exchanges_lock);
	return ex;
}

/*
 * A topic an exchange may append to (a binding's, or the alternate),
 * referenced: the caller must be allowed to produce there, and the topic
 * must not be a single writer's, whose ring only its writer appends to.
 */
static struct mqdev_topic *exchange_dest_get(struct net *net,
					     const char *name)
{
	struct mqdev_topic *topic;

	topic = mqdev_topic_get(NULL, net, name, MQDEV_ACT_PRODUCE);
	if (!IS_ERR(topic) && mqdev_swriter(topic)) {
		mqdev_topic_put(topic);
		return ERR_PTR(-EOPNOTSUPP);
	}
	return topic;
}

/* The alternate topic, referenced, or NULL. */
static struct mqdev_topic *exchange_alternate(struct mqdev_exchange *ex)
{
	struct mqdev_topic *alt;

	spin_lock(&ex->alt_lock);
	alt = ex->alternate;
	if (alt)
		kref_get(&alt->ref);
	spin_unlock(&ex->alt_lock);
	return alt;
}

/* ---- create ---------------------------------------------------------- */

static int exchange_create_check(const struct mqdev_exchange_create *req)
{
	if (req->type >= MQDEV_EXCHANGE_TYPES || req->flags || req->reserved ||
	    (req->mode & ~0777U))
		return -EINVAL;
	if (memchr_inv(req->alternate, 0, sizeof(req->alternate)) &&
	    mqdev_name_check(req->alternate))
		return -EINVAL;
	return mqdev_name_check(req->name);
}

static struct mqdev_exchange *
exchange_alloc(struct net *net, const struct mqdev_exchange_create *req)
{
	struct mqdev_exchange *ex;

	ex = kzalloc(sizeof(*ex), GFP_KERNEL_ACCOUNT);
	if (!ex)
		return NULL;
	if (exchange_keyed(req->type) &&
	    mqdev_route_init(&ex->trie, req->type == MQDEV_EXCHANGE_TOPIC)) {
		kfree(ex);
		return NULL;
	}
	kref_init(&ex->ref);
	strscpy_pad(ex->name, req->name);
	ex->net = net;
	ex->uid = current_fsuid();
	ex->gid = current_fsgid();
	ex->mode = req->mode ?: EXCHANGE_DEFAULT_MODE;
	ex->type = req->type;
	spin_lock_init(&ex->alt_lock);
	mutex_init(&ex->lock);
	INIT_LIST_HEAD(&ex->bindings);
	INIT_LIST_HEAD(&ex->exits);
	INIT_LIST_HEAD(&ex->entries);
	return ex;
}

/* Under the registry's lock: may @ex join it? */
static int exchange_register(struct mqdev_exchange *ex)
{
	lockdep_assert_held(&mqdev_exchanges_lock);
	if (exchange_find(ex->net, ex->name))
		return -EEXIST;
	if (mqdev_nr_exchanges >= mqdev_limit(&max_exchanges))
		return -ENOSPC;
	/*
	 * A topic's deletion walks the registry after marking it dead: the
	 * alternate is seen dead here, or this exchange there.
	 */
	if (ex->alternate && mqdev_topic_dead(ex->alternate))
		return -ENOENT;
	list_add_tail(&ex->node, &mqdev_exchanges);
	mqdev_nr_exchanges++;
	return 0;
}

/**
 * mqdev_exchange_create() - MQDEV_IOC_EXCHANGE_CREATE
 * @net: the caller's network namespace, the exchange's
 * @req: the request
 *
 * The exchange belongs to the caller, who is charged for it.  An alternate
 * topic needs the caller's write permission, as a binding does.
 *
 * Return: 0; -EINVAL for a bad request; -ENOENT or -EACCES for the
 * alternate topic, -EOPNOTSUPP for a single-writer one; -EEXIST for a
 * name taken; -ENOSPC past max_exchanges; -EDQUOT past max_user_exchanges;
 * -ENOMEM.
 */
int mqdev_exchange_create(struct net *net,
			  const struct mqdev_exchange_create *req)
{
	struct mqdev_topic *alt = NULL;
	struct mqdev_exchange *ex;
	int err;

	err = exchange_create_check(req);
	if (err)
		return err;
	if (req->alternate[0]) {
		alt = exchange_dest_get(net, req->alternate);
		if (IS_ERR(alt))
			return PTR_ERR(alt);
	}
	err = mqdev_charge(current_fsuid(), MQDEV_CHARGE_EXCHANGES, 1);
	if (err)
		goto err_put_alt;
	ex = exchange_alloc(net, req);
	if (!ex) {
		mqdev_uncharge(current_fsuid(), MQDEV_CHARGE_EXCHANGES, 1);
		err = -ENOMEM;
		goto err_put_alt;
	}
	ex->alternate = alt;

	mutex_lock(&mqdev_exchanges_lock);
	err = exchange_register(ex);
	mutex_unlock(&mqdev_exchanges_lock);
	if (err)
		exchange_put(ex);	/* gives back the charge and @alt */
	return err;

err_put_alt:
	if (alt)
		mqdev_topic_put(alt);
	return err;
}

/* ---- unlinking bindings ------------------------------------------------ */

/*
 * Under ex->lock (and the graph lock for a binding to an exchange): take
 * @b off every list readers walk, onto @reap for binding_put() once the
 * locks are let go of.  Routers that found it before may still use it.
 */
static void binding_unlink(struct mqdev_exchange *ex, struct mqdev_binding *b,
			   struct list_head *reap)
{
	lockdep_assert_held(&ex->lock);
	list_del_rcu(&b->all);
	b->unlinked = true;
	WRITE_ONCE(ex->nr_bindings, ex->nr_bindings - 1);
	if (b->node) {
		list_del_rcu(&b->end);
		mqdev_route_prune(&ex->trie, b->node);
	}
	if (b->dest) {
		lockdep_assert_held(&mqdev_exchange_graph_lock);
		list_del(&b->exit);
		list_del(&b->entry);
	}
	list_add_tail(&b->reap, reap);
}

/* ---- delete ---------------------------------------------------------- */

/*
 * Off the registry: its bindings go, and those of other exchanges to it;
 * attached producers get EIDRM.
 */
static void exchange_kill(struct mqdev_exchange *ex)
{
	struct mqdev_binding *b, *next;
	struct mqdev_exchange *src;
	struct mqdev_topic *alt;
	LIST_HEAD(reap);

	WRITE_ONCE(ex->dead, true);
	mutex_lock(&mqdev_exchange_graph_lock);
	list_for_each_entry_safe(b, next, &ex->entries, entry) {
		src = b->src;
		mutex_lock(&src->lock);
		binding_unlink(src, b, &reap);
		mutex_unlock(&src->lock);
	}
	mutex_lock(&ex->lock);
	list_for_each_entry_safe(b, next, &ex->bindings, all)
		binding_unlink(ex, b, &reap);
	/*
	 * Its producers' handles may keep it for long: they must not keep
	 * the alternate topic's rings, nor its owner's charge, with it.
	 */
	spin_lock(&ex->alt_lock);
	alt = ex->alternate;
	ex->alternate = NULL;
	spin_unlock(&ex->alt_lock);
	mutex_unlock(&ex->lock);
	mutex_unlock(&mqdev_exchange_graph_lock);
	bindings_put(&reap);
	if (alt)
		mqdev_topic_put(alt);
	exchange_put(ex);
}

/**
 * mqdev_exchange_delete() - MQDEV_IOC_EXCHANGE_DELETE
 * @net: the caller's network namespace
 * @req: the exchange's name; flags and reserved zero
 *
 * Other exchanges' bindings to it go with it.
 *
 * Return: 0; -EINVAL; -ENOENT; -EPERM unless the caller owns it or has
 * CAP_SYS_ADMIN.
 */
int mqdev_exchange_delete(struct net *net, const struct mqdev_topic_id *req)
{
	struct mqdev_exchange *ex;
	int err;

	if (req->flags || req->reserved)
		return -EINVAL;
	err = mqdev_name_check(req->name);
	if (err)
		return err;
	mutex_lock(&mqdev_exchanges_lock);
	ex = exchange_find(net, req->name);
	err = ex ? mqdev_owner_permits(net, ex->uid) : -ENOENT;
	if (!err) {
		list_del(&ex->node);
		mqdev_nr_exchanges--;
	}
	mutex_unlock(&mqdev_exchanges_lock);
	if (!err)
		exchange_kill(ex);
	return err;
}

/**
 * mqdev_exchanges_destroy_net() - delete a dying namespace's exchanges
 * @net: the namespace
 *
 * Before its topics go: the bindings hold them.
 */
void mqdev_exchanges_destroy_net(struct net *net)
{
	struct mqdev_exchange *ex, *next;
	LIST_HEAD(dying);

	mutex_lock(&mqdev_exchanges_lock);
	list_for_each_entry_safe(ex, next, &mqdev_exchanges, node) {
		if (!net_eq(ex->net, net))
			continue;
		list_move_tail(&ex->node, &dying);
		mqdev_nr_exchanges--;
	}
	mutex_unlock(&mqdev_exchanges_lock);
	list_for_each_entry_safe(ex, next, &dying, node) {
		list_del(&ex->node);
		exchange_kill(ex);
	}
}

/* Under ex->lock: unlink @ex's bindings to @topic, and its alternate. */
static struct mqdev_topic *exchange_drop_topic(struct mqdev_exchange *ex,
					       struct mqdev_topic *topic,
					       struct list_head *reap)
{
	struct mqdev_topic *alt = NULL;
	struct mqdev_binding *b, *next;

	list_for_each_entry_safe(b, next, &ex->bindings, all)
		if (b->topic == topic)
			binding_unlink(ex, b, reap);
	spin_lock(&ex->alt_lock);
	if (ex->alternate == topic) {
		alt = topic;
		ex->alternate = NULL;
	}
	spin_unlock(&ex->alt_lock);
	return alt;
}

/**
 * mqdev_exchanges_topic_gone() - a topic was deleted: drop what routes to it
 * @topic: the topic, marked dead, still referenced by the caller
 *
 * Every binding to it and every exchange's alternate reference to it go,
 * with their charges, so that they do not pin its rings.  The cost, the
 * deleter's, is a walk of the namespace's exchanges and their bindings
 * (max_exchanges times max_exchange_bindings at most), each exchange's lock
 * held for its own walk only.
 */
void mqdev_exchanges_topic_gone(struct mqdev_topic *topic)
{
	struct mqdev_topic *alt;
	struct mqdev_exchange *ex;
	LIST_HEAD(reap);
	u32 alts = 0;

	mutex_lock(&mqdev_exchanges_lock);
	list_for_each_entry(ex, &mqdev_exchanges, node) {
		if (!net_eq(ex->net, topic->net))
			continue;
		mutex_lock(&ex->lock);
		alt = exchange_drop_topic(ex, topic, &reap);
		mutex_unlock(&ex->lock);
		alts += !!alt;
		cond_resched();
	}
	mutex_unlock(&mqdev_exchanges_lock);
	bindings_put(&reap);
	/* The caller's reference keeps it alive: these never free it. */
	while (alts--)
		mqdev_topic_put(topic);
}

/* ---- list ------------------------------------------------------------ */

/**
 * mqdev_exchange_list() - MQDEV_IOC_EXCHANGE_LIST: the exchanges' names
 * @net: the caller's network namespace
 * @req: as for MQDEV_IOC_TOPIC_LIST
 *
 * Only those the caller may read.
 *
 * Return: 0, -EINVAL, -ENOMEM or -EFAULT.
 */
int mqdev_exchange_list(struct net *net, struct mqdev_topic_list *req)
{
	u32 size = req->name_size ?: MQDEV_NAME_SIZE, room = req->count;
	u8 __user *dst = u64_to_user_ptr(req->names);
	char (*names)[MQDEV_NAME_SIZE] = NULL;
	struct mqdev_exchange *ex;
	u32 n = 0, i;
	int err = 0;

	if (room && (size < MQDEV_NAME_SIZE || size > PAGE_SIZE))
		return -EINVAL;
	room = min_t(unsigned long, room, mqdev_limit(&max_exchanges));
	if (room) {
		names = kvcalloc(room, MQDEV_NAME_SIZE, GFP_KERNEL_ACCOUNT);
		if (!names)
			return -ENOMEM;
	}
	mutex_lock(&mqdev_exchanges_lock);
	list_for_each_entry(ex, &mqdev_exchanges, node) {
		if (!net_eq(ex->net, net) || exchange_may(ex, MAY_READ))
			continue;
		if (n < room)
			memcpy(names[n], ex->name, MQDEV_NAME_SIZE);
		n++;
	}
	mutex_unlock(&mqdev_exchanges_lock);
	for (i = 0; i < min(n, room) && !err; i++, dst += size)
		err = mqdev_copy_element(dst, names[i], MQDEV_NAME_SIZE, size);
	req->count = n;
	kvfree(names);
	return err;
}

/* ---- bind and unbind ------------------------------------------------- */

struct bind_ctx {
	struct mqdev_exchange		*ex;
	struct mqdev_topic		*topic;		/* one of these two */
	struct mqdev_exchange		*dest;
	char				key[MQDEV_ROUTING_KEY_SIZE];
	u32				key_len;
	struct mqdev_route_word		words[MQDEV_ROUTE_MAX_WORDS];
	u32				nr_words;
	struct mqdev_route_node		*spare[MQDEV_ROUTE_MAX_WORDS];
	struct mqdev_bind_headers	*hdrs;	/* a headers exchange's */
};

static int bind_key_check(const struct mqdev_exchange *ex,
			  const struct bind_ctx *c)
{
	u32 i, hashes = 0;

	if (memchr(c->key, 0, c->key_len))
		return -EINVAL;
	if (ex->type != MQDEV_EXCHANGE_TOPIC)
		return 0;
	/* '*' and '#' are words of their own, as AMQP's topic keys have them */
	for (i = 0; i < c->nr_words; i++) {
		if (c->words[i].len > 1 &&
		    (memchr(c->words[i].word, '*', c->words[i].len) ||
		     memchr(c->words[i].word, '#', c->words[i].len)))
			return -EINVAL;
		hashes += c->words[i].len == 1 && c->words[i].word[0] == '#';
	}
	/* each '#' multiplies what a match may keep alive */
	return hashes > MQDEV_ROUTE_MAX_HASHES ? -E2BIG : 0;
}

/* A headers exchange's binding headers; no others may be given. */
static int bind_headers(struct bind_ctx *c,
			const struct mqdev_exchange_bind *req)
{
	if (c->ex->type != MQDEV_EXCHANGE_HEADERS)
		return req->headers || req->headers_len || req->match ?
		       -EINVAL : 0;
	c->hdrs = mqdev_bind_headers_new(u64_to_user_ptr(req->headers),
					 req->headers_len, req->match);
	if (IS_ERR(c->hdrs))
		return PTR_ERR(c->hdrs);
	return 0;
}

/* Everything a bind or unbind needs, made with no lock held. */
static int bind_prepare(struct net *net, const struct mqdev_exchange_bind *req,
			struct bind_ctx *c)
{
	int err;

	if ((req->flags & ~MQDEV_BIND_FLAGS) || req->reserved ||
	    req->key_len > MQDEV_ROUTING_KEY_MAX)
		return -EINVAL;
	if ((req->flags & MQDEV_BIND_EXCHANGE) &&
	    req->partition != MQDEV_PARTITION_ANY)
		return -EINVAL;
	err = mqdev_name_check(req->exchange) ?: mqdev_name_check(req->topic);
	if (err)
		return err;
	memset(c->key, 0, sizeof(c->key));
	if (copy_from_user(c->key, u64_to_user_ptr(req->key), req->key_len))
		return -EFAULT;
	c->key_len = req->key_len;
	c->ex = exchange_get(net, req->exchange, MAY_WRITE);
	if (IS_ERR(c->ex))
		return PTR_ERR(c->ex);
	c->nr_words = !exchange_keyed(c->ex->type) ? 0 :
		      mqdev_route_split(&c->ex->trie, c->key, c->key_len,
					c->words);
	err = bind_key_check(c->ex, c) ?: bind_headers(c, req);
	if (err)
		exchange_put(c->ex);
	return err;
}

/* A bind or unbind's context, its exchange referenced; free with kfree(). */
static struct bind_ctx *bind_ctx_new(struct net *net,
				     const struct mqdev_exchange_bind *req)
{
	struct bind_ctx *c;
	int err;

	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		return ERR_PTR(-ENOMEM);
	err = bind_prepare(net, req, c);
	if (err) {
		kfree(c);
		return ERR_PTR(err);
	}
	return c;
}

static void bind_ctx_free(struct bind_ctx *c)
{
	kfree(c->hdrs);
	kfree(c);
}

/* The name of what @b routes to. */
static const char *binding_dest_name(const struct mqdev_binding *b)
{
	return b->dest ? b->dest->name : b->topic->name;
}

static bool binding_is(const struct mqdev_binding *b, const char *dest,
		       bool to_exchange, u32 partition,
		       const struct bind_ctx *c)
{
	return !b->dest == !to_exchange && b->partition == partition &&
	       b->key_len == c->key_len &&
	       !memcmp(b->key, c->key, c->key_len) &&
	       mqdev_bind_headers_equal(b->hdrs, c->hdrs) &&
	       !strcmp(binding_dest_name(b), dest);
}

/*
 * The binding of @c's key to @dest (by name: it may have been deleted and
 * made again), an exchange or a topic, and @partition, under ex->lock.  In
 * a trie only the bindings of the key's own node are looked at, so that
 * binding does not cost what the exchange's other bindings number.
 */
static struct mqdev_binding *binding_find(struct mqdev_exchange *ex,
					  const char *dest, bool to_exchange,
					  u32 partition,
					  const struct bind_ctx *c)
{
	struct mqdev_route_node *n;
	struct mqdev_binding *b;

	lockdep_assert_held(&ex->lock);
	if (!exchange_keyed(ex->type)) {
		list_for_each_entry(b, &ex->bindings, all)
			if (binding_is(b, dest, to_exchange, partition, c))
				return b;
		return NULL;
	}
	n = mqdev_route_find(&ex->trie, c->words, c->nr_words);
	if (n)
		list_for_each_entry(b, &n->ends, end)
			if (binding_is(b, dest, to_exchange, partition, c))
				return b;
	return NULL;
}

static struct mqdev_binding *binding_alloc(const struct bind_ctx *c,
					   const struct mqdev_exchange_bind *req)
{
	struct mqdev_binding *b;
	u32 i;

	for (i = 0; i < c->nr_words; i++)
		if (!c->spare[i])
			return NULL;
	b = kzalloc(sizeof(*b), GFP_KERNEL_ACCOUNT);
	if (!b)
		return NULL;
	kref_init(&b->ref);
	INIT_LIST_HEAD(&b->end);
	b->src = c->ex;
	b->uid = current_fsuid();
	b->partition = req->partition;
	b->key_len = c->key_len;
	memcpy(b->key, c->key, c->key_len);
	return b;
}

/* Is @b's destination deleted?  Its deletion then walks, or walked, us. */
static bool binding_dest_dead(const struct mqdev_binding *b)
{
	return b->dest ? READ_ONCE(b->dest->dead) : mqdev_topic_dead(b->topic);
}

/* Under ex->lock: link @b in, its trie node made of spares; publish it. */
static int binding_link(struct bind_ctx *c, struct mqdev_binding *b)
{
	struct mqdev_exchange *ex = c->ex;
	struct mqdev_route_node *n;

	lockdep_assert_held(&ex->lock);
	if (READ_ONCE(ex->dead))
		return -EIDRM;
	if (binding_dest_dead(b))
		return -ENOENT;
	if (binding_find(ex, binding_dest_name(b), b->dest, b->partition, c))
		return -EEXIST;
	if (ex->nr_bindings >= mqdev_limit(&max_exchange_bindings))
		return -ENOSPC;
	if (exchange_keyed(ex->type)) {
		n = mqdev_route_insert(&ex->trie, c->words, c->nr_words,
				       mqdev_limit(&max_exchange_nodes),
				       c->spare);
		if (IS_ERR(n))
			return PTR_ERR(n);
		b->node = n;
		list_add_tail_rcu(&b->end, &n->ends);
	}
	list_add_tail_rcu(&b->all, &ex->bindings);
	WRITE_ONCE(ex->nr_bindings, ex->nr_bindings + 1);
	return 0;
}

static int bind_spares(struct bind_ctx *c)
{
	u32 i;

	for (i = 0; i < c->nr_words; i++) {
		c->spare[i] = mqdev_route_node_alloc(c->words[i].len);
		if (!c->spare[i])
			return -ENOMEM;
	}
	return 0;
}

static void bind_free_spares(struct bind_ctx *c)
{
	u32 i;

	for (i = 0; i < c->nr_words; i++)
		kfree(c->spare[i]);
}

/* The destination, referenced into @c: a topic or an exchange. */
static int bind_dest(struct net *net, const struct mqdev_exchange_bind *req,
		     struct bind_ctx *c)
{
	if (req->flags & MQDEV_BIND_EXCHANGE) {
		c->dest = exchange_get(net, req->topic, MAY_WRITE);
		return PTR_ERR_OR_ZERO(c->dest);
	}
	c->topic = exchange_dest_get(net, req->topic);
	if (IS_ERR(c->topic))
		return PTR_ERR(c->topic);
	if (req->partition != MQDEV_PARTITION_ANY &&
	    req->partition >= c->topic->nr_parts) {
		mqdev_topic_put(c->topic);
		return -EINVAL;
	}
	return 0;
}

/*
 * The longest chain of exchange-to-exchange bindings from @x, in bindings,
 * or -ELOOP if @src is on one (a new binding @src -> @x would close a
 * cycle).  Under the graph lock; each exchange is walked once (@gen), and
 * the graph is acyclic and at most MQDEV_EXCHANGE_MAX_DEPTH deep, which
 * bounds the recursion.
 */
static int graph_down(struct mqdev_exchange *x, const struct mqdev_exchange *src,
		      u32 gen)
{
	struct mqdev_binding *b;
	int d, depth = 0;

	if (x == src)
		return -ELOOP;
	if (x->graph_gen == gen)
		return x->graph_depth;
	list_for_each_entry(b, &x->exits, exit) {
		d = graph_down(b->dest, src, gen);
		if (d < 0)
			return d;
		depth = max(depth, d + 1);
	}
	x->graph_gen = gen;
	x->graph_depth = depth;
	return depth;
}

/* The longest chain of bindings to @x, the same way. */
static int graph_up(struct mqdev_exchange *x, u32 gen)
{
	struct mqdev_binding *b;
	int depth = 0;

	if (x->graph_gen == gen)
		return x->graph_depth;
	list_for_each_entry(b, &x->entries, entry)
		depth = max(depth, graph_up(b->src, gen) + 1);
	x->graph_gen = gen;
	x->graph_depth = depth;
	return depth;
}

/*
 * May @src bind to @dest?  Not if it closes a cycle, nor if a message would
 * then pass through more than MQDEV_EXCHANGE_MAX_DEPTH exchanges: -ELOOP.
 */
static int graph_check(struct mqdev_exchange *src, struct mqdev_exchange *dest)
{
	int down, up;

	lockdep_assert_held(&mqdev_exchange_graph_lock);
	down = graph_down(dest, src, ++mqdev_graph_gen);
	if (down < 0)
		return down;
	up = graph_up(src, ++mqdev_graph_gen);
	if (up + 1 + down + 1 > MQDEV_EXCHANGE_MAX_DEPTH)
		return -ELOOP;
	return 0;
}

/* Link @b in; a binding to an exchange under the graph lock, checked. */
static int bind_link(struct bind_ctx *c, struct mqdev_binding *b)
{
	int err = 0;

	if (!b->dest) {
		mutex_lock(&c->ex->lock);
		err = binding_link(c, b);
		mutex_unlock(&c->ex->lock);
		return err;
	}
	mutex_lock(&mqdev_exchange_graph_lock);
	err = graph_check(c->ex, b->dest);
	if (!err) {
		mutex_lock(&c->ex->lock);
		err = binding_link(c, b);
		mutex_unlock(&c->ex->lock);
	}
	if (!err) {
		list_add_tail(&b->exit, &c->ex->exits);
		list_add_tail(&b->entry, &b->dest->entries);
	}
	mutex_unlock(&mqdev_exchange_graph_lock);
	return err;
}

/**
 * mqdev_exchange_bind() - MQDEV_IOC_EXCHANGE_BIND
 * @net: the caller's network namespace
 * @req: the binding
 *
 * Needs write permission on the exchange and on the destination, a topic
 * or (MQDEV_BIND_EXCHANGE) an exchange; the binding is charged to the
 * caller.
 *
 * Return: 0; -EINVAL for a bad request, key or partition; -ENOENT;
 * -EACCES; -EEXIST for a binding there already; -ENOSPC past
 * max_exchange_bindings; -E2BIG past max_exchange_nodes or
 * MQDEV_ROUTE_MAX_HASHES; -ELOOP for a cycle or a chain of exchanges
 * deeper than MQDEV_EXCHANGE_MAX_DEPTH; -EDQUOT past max_user_bindings;
 * -EIDRM for an exchange deleted meanwhile; -EFAULT; -ENOMEM.
 */
int mqdev_exchange_bind(struct net *net, const struct mqdev_exchange_bind *req)
{
	struct mqdev_binding *b = NULL;
	struct bind_ctx *c;
	int err;

	c = bind_ctx_new(net, req);
	if (IS_ERR(c))
		return PTR_ERR(c);
	err = bind_dest(net, req, c);
	if (err)
		goto out_put_ex;
	err = mqdev_charge(current_fsuid(), MQDEV_CHARGE_BINDINGS, 1);
	if (err)
		goto out_put_dest;
	err = bind_spares(c);
	b = err ? NULL : binding_alloc(c, req);
	if (!b) {
		err = -ENOMEM;
		mqdev_uncharge(current_fsuid(), MQDEV_CHARGE_BINDINGS, 1);
		goto out_put_dest;
	}
	/* the binding's references from now on, and its headers once linked */
	b->topic = c->topic;
	b->dest = c->dest;
	b->hdrs = c->hdrs;
	err = bind_link(c, b);
	if (err) {
		b->hdrs = NULL;		/* still the context's to free */
		binding_put(b);
	} else {
		c->hdrs = NULL;
	}
	goto out_spares;

out_put_dest:
	if (c->topic)
		mqdev_topic_put(c->topic);
	if (c->dest)
		exchange_put(c->dest);
out_spares:
	bind_free_spares(c);
out_put_ex:
	exchange_put(c->ex);
	bind_ctx_free(c);
	return err;
}

/**
 * mqdev_exchange_unbind() - MQDEV_IOC_EXCHANGE_UNBIND
 * @net: the caller's network namespace
 * @req: the binding, as it was made
 *
 * Needs write permission on the exchange only: its routing is its
 * writers' to change.
 *
 * Return: 0; -EINVAL; -ENOENT for no such exchange or binding; -EACCES;
 * -EFAULT; -ENOMEM.
 */
int mqdev_exchange_unbind(struct net *net,
			  const struct mqdev_exchange_bind *req)
{
	bool to_exchange = req->flags & MQDEV_BIND_EXCHANGE;
	struct mqdev_binding *b;
	struct bind_ctx *c;
	LIST_HEAD(reap);

	c = bind_ctx_new(net, req);
	if (IS_ERR(c))
		return PTR_ERR(c);
	if (to_exchange)
		mutex_lock(&mqdev_exchange_graph_lock);
	mutex_lock(&c->ex->lock);
	b = binding_find(c->ex, req->topic, to_exchange, req->partition, c);
	if (b)
		binding_unlink(c->ex, b, &reap);
	mutex_unlock(&c->ex->lock);
	if (to_exchange)
		mutex_unlock(&mqdev_exchange_graph_lock);
	bindings_put(&reap);
	exchange_put(c->ex);
	bind_ctx_free(c);
	return b ? 0 : -ENOENT;
}

/* ---- describe -------------------------------------------------------- */

static void binding_fill(const struct mqdev_binding *b,
			 struct mqdev_binding_info *info)
{
	memset(info, 0, sizeof(*info));
	memcpy(info->topic, binding_dest_name(b), MQDEV_NAME_SIZE);
	memcpy(info->key, b->key, b->key_len);
	info->key_len = b->key_len;
	info->partition = b->partition;
	info->routed = atomic64_read(&b->routed);
	info->failed = atomic64_read(&b->failed);
	info->uid = from_kuid_munged(current_user_ns(), b->uid);
	info->flags = b->dest ? MQDEV_BINDING_EXCHANGE : 0;
	if (b->hdrs) {
		info->match = b->hdrs->match;
		info->headers_len = b->hdrs->len;
		memcpy(info->headers, b->hdrs->block, b->hdrs->len);
	}
}

/*
 * Under ex->lock: the binding after @last (referenced, the one a round
 * ended at), or the @done-th if @last was unlinked meanwhile, or NULL.
 */
static struct mqdev_binding *describe_resume(struct mqdev_exchange *ex,
					     struct mqdev_binding *last,
					     u32 done)
{
	struct list_head *pos = last ? &last->all : &ex->bindings;

	if (last && last->unlinked) {
		pos = &ex->bindings;
		while (done-- && pos->next != &ex->bindings)
			pos = pos->next;
	}
	return pos->next == &ex->bindings ? NULL :
	       list_entry(pos->next, struct mqdev_binding, all);
}

/*
 * A round: up to @room bindings after @*last into @infos, under the lock;
 * @*last becomes the last of them, referenced (the caller puts the old one
 * with no lock held).  Return: how many; *@total, the exchange's count.
 */
static u32 describe_round(struct mqdev_exchange *ex,
			  struct mqdev_binding **last, u32 done,
			  struct mqdev_binding_info *infos, u32 room,
			  u32 *total)
{
	struct mqdev_binding *b, *end = NULL;
	u32 n = 0;

	mutex_lock(&ex->lock);
	for (b = describe_resume(ex, *last, done); b && n < room;
	     b = list_is_last(&b->all, &ex->bindings) ? NULL :
		 list_next_entry(b, all)) {
		binding_fill(b, &infos[n++]);
		end = b;
	}
	if (end)
		kref_get(&end->ref);
	*total = ex->nr_bindings;
	mutex_unlock(&ex->lock);
	*last = end;
	return n;
}

/*
 * The bindings out to @dst, DESCRIBE_CHUNK at a time through @infos, the
 * lock held for each round's fill only.  Return: 0 or -EFAULT; *@total is
 * how many the exchange has.
 */
static int describe_bindings(struct mqdev_exchange *ex, u8 __user *dst,
			     u32 size, u32 room,
			     struct mqdev_binding_info *infos, u32 *total)
{
	struct mqdev_binding *last = NULL, *prev;
	u32 done = 0, n, i;
	int err = 0;

	do {
		prev = last;
		n = describe_round(ex, &last, done, infos,
				   min_t(u32, room - done, DESCRIBE_CHUNK), total);
		if (prev)
			binding_put(prev);
		for (i = 0; i < n && !err; i++, dst += size)
			err = mqdev_copy_element(dst, &infos[i],
						 min_t(u32, size,
						       sizeof(*infos)), size);
		done += n;
	} while (!err && n == DESCRIBE_CHUNK && done < room);
	if (last)
		binding_put(last);
	return err;
}

static void describe_fill(struct mqdev_exchange *ex,
			  struct mqdev_exchange_info *req)
{
	spin_lock(&ex->alt_lock);
	if (ex->alternate)
		memcpy(req->alternate, ex->alternate->name, MQDEV_NAME_SIZE);
	else
		memset(req->alternate, 0, sizeof(req->alternate));
	spin_unlock(&ex->alt_lock);
	req->type = ex->type;
	req->flags = 0;
	req->mode = ex->mode;
	req->uid = from_kuid_munged(current_user_ns(), ex->uid);
	req->gid = from_kgid_munged(current_user_ns(), ex->gid);
	req->producers = atomic_read(&ex->producers);
	req->routed = atomic64_read(&ex->routed);
	req->alternated = atomic64_read(&ex->alternated);
	req->refused = atomic64_read(&ex->refused);
	req->dropped = atomic64_read(&ex->dropped);
	req->failed = atomic64_read(&ex->failed);
	req->over_budget = atomic64_read(&ex->over_budget);
	req->prog_out_of_range = atomic64_read(&ex->prog_out_of_range);
	req->prog_len = READ_ONCE(ex->prog_len);
}

/**
 * mqdev_exchange_describe() - MQDEV_IOC_EXCHANGE_DESCRIBE
 * @net: the caller's network namespace
 * @req: the name and room for bindings in; the exchange goes back
 *
 * Needs read permission.  The bindings go out DESCRIBE_CHUNK at a time
 * through a buffer of that size, each round filled under the exchange's
 * lock and copied out after it: a list changed meanwhile is read as it is
 * at each round.
 *
 * Return: 0; -EINVAL; -ENOENT; -EACCES; -ENOMEM; -EFAULT.
 */
int mqdev_exchange_describe(struct net *net, struct mqdev_exchange_info *req)
{
	struct mqdev_binding_info *infos = NULL;
	u32 size = req->binding_info_size, room, n = 0;
	struct mqdev_exchange *ex;
	int err = 0;

	if (req->reserved2)
		return -EINVAL;
	if (req->bindings_count &&
	    (size < MQDEV_BINDING_INFO_SIZE_VER0 || size > PAGE_SIZE))
		return -EINVAL;
	ex = exchange_get(net, req->name, MAY_READ);
	if (IS_ERR(ex))
		return PTR_ERR(ex);
	room = req->bindings_count;
	/* one buffer under a page, charged, whatever the room */
	infos = kmalloc_array(DESCRIBE_CHUNK, sizeof(*infos),
			      GFP_KERNEL_ACCOUNT);
	if (!infos) {
		exchange_put(ex);
		return -ENOMEM;
	}
	err = describe_bindings(ex, u64_to_user_ptr(req->bindings), size,
				room, infos, &n);
	describe_fill(ex, req);
	exchange_put(ex);
	req->bindings_count = n;
	kfree(infos);
	return err;
}

/* ---- routing programs ---------------------------------------------- */

/**
 * mqdev_exchange_program() - MQDEV_IOC_EXCHANGE_PROGRAM
 * @net: the caller's network namespace
 * @req: the exchange, and the program or MQDEV_PROG_DETACH
 *
 * Needs write permission on the exchange, as binding does: a program only
 * chooses among its bindings, runs at most MQDEV_PROG_MAX_INSNS
 * instructions a message and reads nothing but its context
 * (route_bpf.c).  The program replaced or detached is freed once no
 * routing runs it.
 *
 * Return: 0; -EINVAL for a bad request or a program refused (the reason
 * in the caller's log); -ENOENT; -EACCES; -EIDRM for an exchange deleted
 * meanwhile; -EFAULT; -ENOMEM.
 */
int mqdev_exchange_program(struct net *net,
			   const struct mqdev_exchange_program *req)
{
	bool detach = req->flags & MQDEV_PROG_DETACH;
	struct bpf_prog *prog = NULL, *old;
	struct mqdev_exchange *ex;
	int err = 0;

	if ((req->flags & ~MQDEV_PROG_FLAGS) || req->reserved ||
	    (detach && (req->insns || req->len)))
		return -EINVAL;
	ex = exchange_get(net, req->name, MAY_WRITE);
	if (IS_ERR(ex))
		return PTR_ERR(ex);
	if (!detach) {
		prog = mqdev_prog_load(req);
		if (IS_ERR(prog)) {
			exchange_put(ex);
			return PTR_ERR(prog);
		}
	}
	mutex_lock(&ex->lock);
	if (READ_ONCE(ex->dead)) {
		err = -EIDRM;
		old = prog;
	} else {
		old = rcu_replace_pointer(ex->prog, prog,
					  lockdep_is_held(&ex->lock));
		WRITE_ONCE(ex->prog_len, prog ? req->len : 0);
	}
	mutex_unlock(&ex->lock);
	if (old && !err)
		synchronize_rcu();	/* routings run it under RCU */
	mqdev_prog_free(old);
	exchange_put(ex);
	return err;
}

/* ---- produce: the producer's context ----------------------------------- */

/* An exchange a message passes through, and how deep. */
struct route_visit {
	struct mqdev_exchange		*ex;
	u32				depth;	/* 0: the producer's */
	bool				out_of_range; /* its program's */
	bool				landed;	/* a copy from here went in */
	u32				parent;	/* the visit @via is of */
	struct mqdev_binding		*via;	/* referenced; 0: NULL */
};

/*
 * A message of a batch, matched (route_gather()) and not yet appended
 * (route_settle()): its copies' bindings are dest[first, first + nr).
 */
struct route_pending {
	u32				first;
	u32				nr;
	u32				copies;		/* distinct partitions */
	u32				key_off;	/* in keys[] */
	int				err;		/* of its way in or match */
	bool				over;		/* past max_route_work */
	bool				out_of_range;	/* visit 0's program */
	u32				acks_end;	/* batch's acks, through it */
};

/*
 * One message's way through the exchanges, and the producer's scratch:
 * made when a handle attaches, so that routing allocates nothing per
 * message (but to grow dest when a message has more copies than before).
 *
 * A chunk's messages are routed in batches: each message of a batch is
 * copied in and matched with no lock held (route_gather()), then the
 * batch's copies are appended in the messages' order in one run, so that
 * copies to one partition in a row take its lock once (route_settle()),
 * and the acknowledgements go out in one copy.  A batch ends with a
 * message that passes through other exchanges (visits[] is one
 * message's), whose match fails, or before one whose key or bindings do
 * not fit.
 */
struct mqdev_route_ctx {
	struct mqdev_exchange		*ex;
	struct mqdev_append		ap;
	struct mqdev_exchange_msg	*m;		/* in chunk[] */
	struct mqdev_exchange_msg	chunk[EXCHANGE_CHUNK];
	struct route_pending		pend[EXCHANGE_CHUNK];
	bool				chunked;	/* chunk[] copied */
	char				rkey[MQDEV_ROUTING_KEY_SIZE];
	struct mqdev_route_word		words[MQDEV_ROUTE_MAX_WORDS];
	u32				nr_words;	/* as a topic exchange's */
	bool				split;		/* words[] are m's */
	const u8			*key;		/* m's, in keys[] */
	u8				keys[EXCHANGE_KEYS];
	u32				keys_used;
	struct mqdev_route_scratch	scratch;
	struct route_visit		visits[EXCHANGE_MAX_VISITS];
	u32				nr_visits;
	u32				depth;		/* of the one matched */
	struct mqdev_binding		**dest;		/* dest_room */
	u32				dest_room;
	u32				dest_base;	/* m's first in dest */
	u32				nr_dest;	/* referenced in dest */
	u32				overflow;	/* matched past the room */
	/* dest_room + EXCHANGE_CHUNK: a copy each, or an alternate's */
	struct mqdev_exchange_ack	*acks;
	u32				nr_acks;	/* the batch's, in acks */
	u32				acks_used;	/* of the caller's */
	/*
	 * Headers exchanges and routing programs (xroute.h): the first bytes
	 * of the value, copied in only when an exchange on the way needs
	 * them, then the message's headers and a program's context, made once
	 * per message when one does.
	 */
	u32				visit;		/* the one matched */
	bool				want_peek, peeked;
	bool				mh_ready, pctx_ready;
	u32				peek_len;
	u8				peek[MQDEV_ROUTE_HEADERS_MAX];
	struct mqdev_hdr		hdrs[MQDEV_MSG_HDRS_MAX];
	struct mqdev_msg_headers	mh;
	u32				pctx[MQDEV_PROG_CTX_WORDS];
};

/* Grow the destinations and their acknowledgements to @n, or fail. */
static int ctx_grow_dest(struct mqdev_route_ctx *c, u32 n)
{
	struct mqdev_exchange_ack *acks;
	struct mqdev_binding **dest;

	if (n > EXCHANGE_MAX_COPIES)
		return -E2BIG;
	n = min_t(u32, max(n, 2 * c->dest_room), EXCHANGE_MAX_COPIES);
	dest = kvmalloc_array(n, sizeof(*dest), GFP_KERNEL_ACCOUNT);
	acks = kvmalloc_array(n + EXCHANGE_CHUNK, sizeof(*acks),
			      GFP_KERNEL_ACCOUNT);
	if (!dest || !acks) {
		kvfree(dest);
		kvfree(acks);
		return -ENOMEM;
	}
	kvfree(c->dest);
	kvfree(c->acks);
	c->dest = dest;
	c->acks = acks;
	c->dest_room = n;
	return 0;
}

static struct mqdev_route_ctx *route_ctx_new(void)
{
	struct mqdev_route_ctx *c;

	c = kvzalloc(sizeof(*c), GFP_KERNEL_ACCOUNT);
	if (c && ctx_grow_dest(c, 16)) {
		kvfree(c);
		c = NULL;
	}
	if (c)
		c->mh.h = c->hdrs;
	return c;
}

static void route_ctx_free(struct mqdev_route_ctx *c)
{
	if (!c)
		return;
	kvfree(c->dest);
	kvfree(c->acks);
	kvfree(c);
}

/* ---- attach ---------------------------------------------------------- */

/**
 * mqdev_exchange_attach() - MQDEV_IOC_EXCHANGE_ATTACH
 * @h: a handle attached to nothing, and no producer session
 * @req: the exchange's name
 *
 * Needs write permission on the exchange.  The handle holds the exchange
 * until it is closed, deleted or not, and its routing context (some tens
 * of KiB, charged to the caller's memory cgroup).
 *
 * Return: 0; -EINVAL; -ENOENT; -EACCES; -EBUSY for a handle that is
 * attached or a session; -ENOMEM.
 */
int mqdev_exchange_attach(struct mqdev_handle *h,
			  const struct mqdev_exchange_attach *req)
{
	struct mqdev_route_ctx *c;
	struct mqdev_exchange *ex;
	int err = 0;

	if (req->flags || req->reserved)
		return -EINVAL;
	ex = exchange_get(h->net, req->name, MAY_WRITE);
	if (IS_ERR(ex))
		return PTR_ERR(ex);
	c = route_ctx_new();
	if (!c) {
		exchange_put(ex);
		return -ENOMEM;
	}
	mutex_lock(&h->lock);
	if (h->topic || h->session || h->exchange) {
		err = -EBUSY;
	} else {
		atomic_inc(&ex->producers);
		h->route_ctx = c;
		/* Pairs with smp_load_acquire() in mqdev_exchange_produce(). */
		smp_store_release(&h->exchange, ex);
	}
	mutex_unlock(&h->lock);
	if (err) {
		route_ctx_free(c);
		exchange_put(ex);
	}
	return err;
}

/**
 * mqdev_exchange_detach() - a handle attached to an exchange is closed
 * @h: the handle
 */
void mqdev_exchange_detach(struct mqdev_handle *h)
{
	if (!h->exchange)
		return;
	atomic_dec(&h->exchange->producers);
	exchange_put(h->exchange);
	h->exchange = NULL;
	route_ctx_free(h->route_ctx);
	h->route_ctx = NULL;
}

/* ---- produce: matching ----------------------------------------------- */

/* Under RCU: spend @units of the message's routing work, or -E2BIG. */
static int route_spend(struct mqdev_route_ctx *c, u32 units)
{
	struct mqdev_route_scratch *s = &c->scratch;

	if (units > s->budget) {
		s->over = true;
		return -E2BIG;
	}
	s->budget -= units;
	return 0;
}

/*
 * Follow @b to its exchange, once per message and not too deep; @b is
 * referenced, to count the message once a copy from there went in.
 */
static int ctx_visit(struct mqdev_route_ctx *c, struct mqdev_binding *b)
{
	struct mqdev_exchange *ex = b->dest;
	struct route_visit *v;
	u32 i;

	/* the graph is checked at bind time; a router may see it change */
	if (c->depth + 1 >= MQDEV_EXCHANGE_MAX_DEPTH)
		return 0;
	for (i = 0; i < c->nr_visits; i++)
		if (c->visits[i].ex == ex)
			return 0;
	if (c->nr_visits == EXCHANGE_MAX_VISITS)
		return -E2BIG;
	if (!kref_get_unless_zero(&b->ref))	/* going away */
		return 0;
	v = &c->visits[c->nr_visits++];
	v->ex = ex;
	v->depth = c->depth + 1;
	v->out_of_range = false;
	v->landed = false;
	v->parent = c->visit;
	v->via = b;
	return 0;
}

/* Under RCU: @b matched.  Reference it, or count it past the room. */
static int ctx_add(struct mqdev_route_ctx *c, struct mqdev_binding *b)
{
	int err = route_spend(c, 1);

	if (err)
		return err;
	if (b->dest)
		return ctx_visit(c, b);
	if (c->nr_dest == c->dest_room)
		c->overflow++;
	else if (kref_get_unless_zero(&b->ref))	/* else: going away */
		c->dest[c->nr_dest++] = b;
	return 0;
}

/*
 * Under RCU: the bindings a program's verdict (not MATCH) names.  An index
 * past them is counted once the match is over (route_collect()).
 */
static int ctx_match_verdict(struct mqdev_route_ctx *c,
			     struct mqdev_exchange *ex, u32 v)
{
	struct mqdev_binding *b;
	u32 i = 0, mask;
	int err;

	if (!(v & BIT(31))) {
		if (v == MQDEV_ROUTE_NONE)
			return 0;
		list_for_each_entry_rcu(b, &ex->bindings, all) {
			if (i++ == v - 1)
				return ctx_add(c, b);
			err = route_spend(c, 1);
			if (err)
				return err;
		}
		c->visits[c->visit].out_of_range = true;
		return 0;
	}
	mask = v & GENMASK(29, 0);
	list_for_each_entry_rcu(b, &ex->bindings, all) {
		if (!mask)
			return 0;
		if (mask & BIT(i)) {
			err = ctx_add(c, b);
			if (err)
				return err;
			mask &= ~BIT(i);
		}
		i++;
	}
	c->visits[c->visit].out_of_range = !!mask;
	return 0;
}

/* The first bytes of the value, if the match wants them: -EAGAIN if not in. */
static int route_need_peek(struct mqdev_route_ctx *c)
{
	c->want_peek = !c->peeked;
	return c->want_peek ? -EAGAIN : 0;
}

/* With no lock held: the value's first bytes, as much as routing reads. */
static int route_peek_in(struct mqdev_route_ctx *c)
{
	const struct mqdev_exchange_msg *m = c->m;
	u32 n = m->record_flags & MQDEV_RECORD_HEADERS ?
		MQDEV_ROUTE_HEADERS_MAX : MQDEV_ROUTE_VALUE_BYTES;

	n = min(n, m->value_len);
	if (copy_from_user(c->peek, u64_to_user_ptr(m->value), n))
		return -EFAULT;
	c->peek_len = n;
	c->peeked = true;
	return 0;
}

/*
 * Under RCU: the message's headers, parsed once; EINVAL for a bad block.
 * The block follows the record's expiry when it has one (as the record
 * format lays it out), within the same peeked bytes.
 */
static int route_msg_headers(struct mqdev_route_ctx *c)
{
	u32 skip = c->m->record_flags & MQDEV_RECORD_EXPIRES ? sizeof(u64) : 0;
	int err;

	if (c->mh_ready)
		return 0;
	c->mh.nr = 0;
	c->mh.block = c->peek + skip;
	if (c->m->record_flags & MQDEV_RECORD_HEADERS) {
		/* valid flags: the value holds the expiry and a block's count */
		err = route_need_peek(c) ?:
		      mqdev_msg_headers_parse(&c->mh, c->peek_len - skip);
		if (err)
			return err;
	}
	c->mh_ready = true;
	return 0;
}

/* Under RCU: the bindings of a headers exchange the message matches. */
static int route_collect_headers(struct mqdev_route_ctx *c,
				 struct mqdev_exchange *ex)
{
	struct mqdev_binding *b;
	int err;

	err = route_msg_headers(c);
	if (err)
		return err;
	list_for_each_entry_rcu(b, &ex->bindings, all) {
		/* a lookup in the message's headers for each of the binding's */
		err = route_spend(c, 1 + (b->hdrs ? b->hdrs->nr : 0));
		if (err)
			return err;
		if (!b->hdrs || !mqdev_headers_match(b->hdrs, &c->mh))
			continue;
		err = ctx_add(c, b);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Under RCU: @ex's routing program chooses, if it has one and does not
 * leave it to the type's rule.  Return: 1 if it chose, 0 if not, -errno.
 */
static int route_collect_prog(struct mqdev_route_ctx *c,
			      struct mqdev_exchange *ex)
{
	struct bpf_prog *prog = rcu_dereference(ex->prog);
	int err;
	u32 v;

	if (!prog)
		return 0;
	if (!c->pctx_ready) {
		err = route_need_peek(c);
		if (err)
			return err;
		mqdev_prog_ctx_fill(c->pctx, c->m, c->rkey, c->key,
				    c->peek, c->peek_len);
		c->pctx_ready = true;
	}
	err = route_spend(c, 1 + READ_ONCE(ex->prog_len) / 16);
	if (err)
		return err;
	v = mqdev_prog_run(prog, c->pctx, READ_ONCE(ex->nr_bindings));
	if (v >> 30 == MQDEV_ROUTE_MATCH >> 30)
		return 0;
	return ctx_match_verdict(c, ex, v) ?: 1;
}

/* Under RCU: the bindings of @ex the message matches. */
static int route_collect_ex(struct mqdev_route_ctx *c,
			    struct mqdev_exchange *ex)
{
	struct mqdev_route_node **set, *node;
	struct mqdev_route_word one;
	struct mqdev_binding *b;
	int n, i, err;

	err = route_collect_prog(c, ex);
	if (err)
		return min(err, 0);
	if (ex->type == MQDEV_EXCHANGE_HEADERS)
		return route_collect_headers(c, ex);

	if (ex->type == MQDEV_EXCHANGE_FANOUT) {
		list_for_each_entry_rcu(b, &ex->bindings, all) {
			err = ctx_add(c, b);
			if (err)
				return err;
		}
		return 0;
	}
	if (ex->type == MQDEV_EXCHANGE_DIRECT) {
		/* the budget as mqdev_route_match() spends it: one live node */
		one.word = c->rkey;
		one.len = c->m->routing_key_len;
		err = route_spend(c, 1);
		node = err ? NULL : mqdev_route_lookup(&ex->trie, &one);
		if (!node)
			return err;
		list_for_each_entry_rcu(b, &node->ends, end) {
			err = ctx_add(c, b);
			if (err)
				return err;
		}
		return 0;
	}
	/* once, for every topic exchange the message passes through */
	if (!c->split)
		c->nr_words = mqdev_route_split(NULL, c->rkey,
						c->m->routing_key_len, c->words);
	c->split = true;
	n = mqdev_route_match(&ex->trie, c->words, c->nr_words, &c->scratch,
			      &set);
	for (i = 0; i < n; i++) {
		list_for_each_entry_rcu(b, &set[i]->ends, end) {
			err = ctx_add(c, b);
			if (err)
				return err;
		}
	}
	return min(n, 0);
}

/*
 * The message's exchange and those its bindings lead to, each once, under
 * rcu_read_lock() only: no lock a binder or another producer needs.  Its
 * bindings go to dest[] after the batch's.
 */
static int route_collect(struct mqdev_route_ctx *c)
{
	struct mqdev_exchange *ex;
	int err = 0;
	u32 i;

	c->nr_dest = c->dest_base;
	c->overflow = 0;
	c->scratch.budget = mqdev_limit(&max_route_work);
	c->scratch.over = false;
	c->visits[0].ex = c->ex;
	c->visits[0].depth = 0;
	c->visits[0].out_of_range = false;
	c->visits[0].landed = false;
	c->visits[0].via = NULL;
	c->nr_visits = 1;
	rcu_read_lock();
	for (i = 0; i < c->nr_visits && !err; i++) {
		ex = c->visits[i].ex;
		c->depth = c->visits[i].depth;
		c->visit = i;
		/* a deleted one's bindings are going: it routes nothing */
		if (i && READ_ONCE(ex->dead))
			continue;
		err = route_collect_ex(c, ex);
	}
	rcu_read_unlock();
	return err;
}

/* The bindings the collection of one message referenced, from @first. */
static void ctx_put_dest(struct mqdev_route_ctx *c, u32 first)
{
	u32 i;

	for (i = first; i < c->nr_dest; i++)
		binding_put(c->dest[i]);
	c->nr_dest = first;
	for (i = 1; i < c->nr_visits; i++)
		binding_put(c->visits[i].via);
	c->nr_visits = 1;
}

/*
 * A copy matched by @b went in: the bindings to exchanges that led to
 * @b's exchange count the message, each once (the first way there, where
 * two lead to one exchange).
 */
static void route_landed(struct mqdev_route_ctx *c,
			 const struct mqdev_binding *b)
{
	u32 v;

	for (v = 1; v < c->nr_visits; v++)
		if (c->visits[v].ex == b->src)
			break;
	while (v && v < c->nr_visits && !c->visits[v].landed) {
		c->visits[v].landed = true;
		atomic64_inc(&c->visits[v].via->routed);
		v = c->visits[v].parent;
	}
}

/* Not an error: the batch ends before this message, which starts the next. */
#define ROUTE_BATCH_FULL	1
/* Appended, but its acks or out fields could not be written (munmap()). */
#define EXCHANGE_ACK_LOST	1

/*
 * The topics' bindings the message matches, referenced into c->dest after
 * the batch's; ROUTE_BATCH_FULL when they do not fit after them.
 */
static int route_match(struct mqdev_route_ctx *c)
{
	int err;

	for (;;) {
		err = route_collect(c);
		if (err == -EAGAIN && c->want_peek) {
			/* an exchange wants the value's first bytes: copy, again */
			ctx_put_dest(c, c->dest_base);
			err = route_peek_in(c);
			if (err)
				return err;
			continue;
		}
		if (err || !c->overflow)
			return err;
		ctx_put_dest(c, c->dest_base);
		if (c->dest_base)
			return ROUTE_BATCH_FULL;
		err = ctx_grow_dest(c, c->dest_room + c->overflow);
		if (err)
			return err == -E2BIG ? -ENOBUFS : err;
		if (fatal_signal_pending(current))
			return -EINTR;
	}
}

static int dest_cmp(const void *a, const void *b)
{
	const struct mqdev_binding *x = *(const struct mqdev_binding **)a;
	const struct mqdev_binding *y = *(const struct mqdev_binding **)b;

	if (x->topic != y->topic)
		return (unsigned long)x->topic < (unsigned long)y->topic ?
		       -1 : 1;
	if (x->partition != y->partition)
		return x->partition < y->partition ? -1 : 1;
	return 0;
}

/* Copies of the message @p: one per distinct (topic, partition). */
static u32 route_copies(struct mqdev_route_ctx *c, struct route_pending *p)
{
	struct mqdev_binding **d = c->dest + p->first;
	u32 i, n = 0;

	if (p->nr > 1)
		sort(d, p->nr, sizeof(*d), dest_cmp, NULL);
	for (i = 0; i < p->nr; i++)
		n += !i || dest_cmp(&d[i - 1], &d[i]);
	return n;
}

/* ---- produce: copies --------------------------------------------------- */

static int route_msg_check(const struct mqdev_exchange_msg *m)
{
	if ((m->flags & ~MQDEV_EXMSG_FLAGS) ||
	    m->routing_key_len > MQDEV_ROUTING_KEY_MAX ||
	    m->key_len > MQDEV_MAX_KEY ||
	    !mqdev_record_flags_valid(m->record_flags, m->key_len,
				      m->value_len))
		return -EINVAL;
	return 0;
}

/*
 * The message @m (copied in with its chunk, or else from @umsg now) and its
 * keys into the kernel, with no lock held: its key after the batch's, or
 * ROUTE_BATCH_FULL when it does not fit there.
 */
static int route_copy_in(struct mqdev_route_ctx *c,
			 struct mqdev_exchange_msg *m,
			 const void __user *umsg, u32 msg_size)
{
	u8 *key = c->keys + c->keys_used;
	/* not zeroed first (INIT_STACK_ALL_ZERO): only what came in is read */
	char rkey[MQDEV_ROUTING_KEY_SIZE] __uninitialized;
	int err = 0;

	c->m = m;
	if (!c->chunked)
		err = copy_struct_from_user(m, sizeof(*m), umsg, msg_size);
	err = err ?: route_msg_check(m);
	if (err)
		return err;
	if (m->key_len > EXCHANGE_KEYS - c->keys_used)
		return ROUTE_BATCH_FULL;	/* never for a batch's first */
	/*
	 * The routing key by way of the stack: hardened usercopy checks a
	 * stack destination in a few instructions, and this context (a large
	 * allocation) in a hundred or more, for every message.
	 */
	if (copy_from_user(rkey, u64_to_user_ptr(m->routing_key),
			   m->routing_key_len) ||
	    copy_from_user(key, u64_to_user_ptr(m->key), m->key_len))
		return -EFAULT;
	memcpy(c->rkey, rkey, m->routing_key_len);
	c->key = key;
	c->split = false;
	c->want_peek = false;
	c->peeked = false;
	c->mh_ready = false;
	c->pctx_ready = false;
	return 0;
}

/*
 * One copy to @topic, in @partition or placed as MQDEV_IOC_PRODUCE would;
 * @ack says where it went, or why it did not.  The run goes on: the
 * caller ends it.
 */
static int route_append(struct mqdev_route_ctx *c, struct mqdev_topic *topic,
			u32 partition, struct mqdev_exchange_ack *ack)
{
	const struct mqdev_exchange_msg *m = c->m;
	struct mqdev_msg msg = {
		.key = m->key, .value = m->value, .key_len = m->key_len,
		.value_len = m->value_len, .flags = m->record_flags,
	};
	int err = 0;

	memcpy(ack->topic, topic->name, MQDEV_NAME_SIZE);
	ack->partition = partition;
	ack->error = 0;
	ack->offset = 0;
	if (sizeof(struct mqdev_record) + (u64)m->key_len + m->value_len >
	    topic->max_record)
		err = -EMSGSIZE;
	if (!err && partition == MQDEV_PARTITION_ANY)
		partition = m->key_len ?
			    mqdev_key_hash(c->key, m->key_len) % topic->nr_parts :
			    (u32)atomic_inc_return(&topic->next_rr) %
			    topic->nr_parts;
	if (!err) {
		ack->partition = partition;
		err = mqdev_append(&c->ap, &topic->parts[partition], &msg,
				   m->key_len ? c->key : NULL);
	}
	if (err) {
		ack->error = -err;
		return err;
	}
	ack->offset = msg.offset;
	return 0;
}

/*
 * A copy per destination of @p, in c->acks: one that fails is counted (by
 * each binding that matched it, and by the exchange), acknowledged with
 * its errno, and skipped.  Return: the copies that went in; *@first_err is
 * the first failure's error.
 */
static u32 route_deliver(struct mqdev_route_ctx *c,
			 const struct route_pending *p, bool last,
			 int *first_err)
{
	struct mqdev_binding **d = c->dest + p->first, *b;
	u32 i, j, k, ok = 0;
	int err;

	*first_err = 0;
	for (i = 0; i < p->nr; i = j) {
		b = d[i];
		err = route_append(c, b->topic, b->partition,
				   &c->acks[c->nr_acks++]);
		for (j = i; j < p->nr && !dest_cmp(&d[i], &d[j]); j++)
			;
		for (k = i; k < j; k++) {
			atomic64_inc(err ? &d[k]->failed : &d[k]->routed);
			if (!err && last && c->nr_visits > 1)
				route_landed(c, d[k]);
		}
		if (!err) {
			ok++;
			continue;
		}
		atomic64_inc(&c->ex->failed);
		if (!*first_err)
			*first_err = err;
	}
	return ok;
}

/*
 * A message no binding matched: the alternate, a refusal, or a count.  An
 * alternate's copy ends the run, to put the topic with no lock held.
 */
static int route_unroutable(struct mqdev_route_ctx *c, u32 room, u32 *done)
{
	struct mqdev_exchange *ex = c->ex;
	struct mqdev_topic *alt;
	int err;

	*done = 0;
	/* a partition's lock is never held with an exchange's */
	mqdev_append_end(&c->ap);
	alt = exchange_alternate(ex);
	if (alt) {
		c->m->status = MQDEV_EXMSG_ALTERNATE;
		err = room ? route_append(c, alt, MQDEV_PARTITION_ANY,
					  &c->acks[c->nr_acks]) : -ENOBUFS;
		mqdev_append_end(&c->ap);
		mqdev_topic_put(alt);
		if (err)
			return err;
		c->nr_acks++;
		*done = 1;
		atomic64_inc(&ex->alternated);
		return 0;
	}
	if (c->m->flags & MQDEV_EXMSG_MANDATORY) {
		atomic64_inc(&ex->refused);
		return -EHOSTUNREACH;
	}
	c->m->status = MQDEV_EXMSG_DROPPED;
	atomic64_inc(&ex->dropped);
	return 0;
}

/* The copies of a matched message; its status and acks say how they went. */
static int route_copies_deliver(struct mqdev_route_ctx *c,
				const struct route_pending *p, bool last)
{
	int first_err;
	u32 ok;

	ok = route_deliver(c, p, last, &first_err);
	if (ok)
		atomic64_inc(&c->ex->routed);
	if (ok < p->copies)
		c->m->status |= MQDEV_EXMSG_FAILED;
	/* a message none of whose copies went in is not routed */
	return ok ? 0 : first_err;
}

/* Programs' verdicts past their bindings, once per message matched. */
static void route_count_out_of_range(struct mqdev_route_ctx *c,
				     const struct route_pending *p, bool last)
{
	u32 i;

	if (!last || c->nr_visits == 1) {
		if (p->out_of_range)
			atomic64_inc(&c->ex->prog_out_of_range);
		return;
	}
	for (i = 0; i < c->nr_visits; i++)
		if (c->visits[i].out_of_range)
			atomic64_inc(&c->visits[i].ex->prog_out_of_range);
}

/*
 * Append the copies of the batch's message @p (@last: the batch's last,
 * whose visits c->visits holds), or say why not.  Its out fields go to
 * c->m; *@done is how many acknowledgements it has.
 */
static int route_settle_one(struct mqdev_route_ctx *c,
			    const struct mqdev_exchange_produce *req,
			    const struct route_pending *p, bool last, u32 *done)
{
	u32 room = req->acks_count - c->acks_used;
	int err = p->err;

	*done = 0;
	if (err == -E2BIG && p->over)
		atomic64_inc(&c->ex->over_budget);
	if (err)
		return err;
	route_count_out_of_range(c, p, last);
	if (!p->copies && READ_ONCE(c->ex->dead)) {
		/* deleted while it matched: its bindings were gone */
		return -EIDRM;
	} else if (p->copies > room) {
		return -ENOBUFS;
	} else if (p->copies) {
		*done = p->copies;
		return route_copies_deliver(c, p, last);
	}
	return route_unroutable(c, room, done);
}

/*
 * The batch's messages @first on, @n of them, appended in their order:
 * the run keeps a partition locked across copies to it in a row.  The
 * first message that fails ends it.  Return: 0 or its error; *@tried is
 * how many were tried, the failed one included; *@outs how many have out
 * fields (the failed one too when some of its copies were acknowledged).
 */
static int route_settle(struct mqdev_route_ctx *c,
			const struct mqdev_exchange_produce *req, u32 first,
			u32 n, u32 *tried, u32 *outs)
{
	struct route_pending *p;
	u32 i, done;
	int err = 0;

	*outs = 0;
	for (i = 0; i < n && !err; i++) {
		p = &c->pend[first + i];
		c->m = &c->chunk[c->chunked ? first + i : 0];
		c->key = c->keys + p->key_off;
		err = route_settle_one(c, req, p, i == n - 1, &done);
		if (err && !done)
			continue;
		c->m->first_ack = c->acks_used;
		c->m->nr_acks = done;
		c->acks_used += done;
		++*outs;
	}
	*tried = i;
	return err;
}

/*
 * Gather a batch from the chunk's message @first: copy each in and match
 * it, no lock held.  Return: how many the batch has (0 when a fatal
 * signal came first); the last one's error, if any, is in its pend[].
 */
static u32 route_gather(struct mqdev_route_ctx *c,
			const struct mqdev_exchange_produce *req,
			u8 __user *umsgs, u32 first, u32 count)
{
	struct route_pending *p;
	u32 i;
	int err;

	c->dest_base = 0;
	c->nr_dest = 0;
	c->keys_used = 0;
	for (i = first; i < count; i++) {
		/* a call routes up to 4096 messages: let others run, and die */
		cond_resched();
		if (fatal_signal_pending(current))
			break;
		p = &c->pend[i];
		p->first = c->dest_base;
		p->nr = 0;
		p->copies = 0;
		p->key_off = c->keys_used;
		p->over = false;
		err = route_copy_in(c, &c->chunk[c->chunked ? i : 0],
				    umsgs + (size_t)i * req->msg_size,
				    req->msg_size);
		if (err == ROUTE_BATCH_FULL)
			break;
		if (!err && READ_ONCE(c->ex->dead))
			err = -EIDRM;
		if (!err) {
			err = route_match(c);
			c->m->status = 0;
		}
		if (err == ROUTE_BATCH_FULL)
			break;
		p->err = err;
		if (err) {
			p->over = err == -E2BIG && c->scratch.over;
			return i - first + 1;
		}
		p->nr = c->nr_dest - c->dest_base;
		p->copies = route_copies(c, p);
		p->out_of_range = c->visits[0].out_of_range;
		c->dest_base = c->nr_dest;
		c->keys_used += c->m->key_len;
		/*
		 * its visits are the batch's last; and one message at a time
		 * when not copied in with the chunk
		 */
		if (c->nr_visits > 1 || !c->chunked)
			return i - first + 1;
	}
	return i - first;
}

/*
 * The acknowledgements of the batch, and the out fields of a message not
 * copied in with the chunk (@umsg), back to the caller, no lock held; the
 * out fields of a chunk go back with it (route_chunk()).
 */
static int route_copy_out(struct mqdev_route_ctx *c,
			  const struct mqdev_exchange_produce *req,
			  u32 acks_first, struct mqdev_exchange_msg __user *umsg)
{
	u8 __user *dst = u64_to_user_ptr(req->acks);
	u32 out[3] = { c->m->status, c->m->first_ack, c->m->nr_acks };
	u32 i, n = c->nr_acks;

	static_assert(offsetof(struct mqdev_exchange_msg, first_ack) ==
		      offsetof(struct mqdev_exchange_msg, status) + 4 &&
		      offsetof(struct mqdev_exchange_msg, nr_acks) ==
		      offsetof(struct mqdev_exchange_msg, status) + 8);
	dst += (size_t)acks_first * req->ack_size;
	if (req->ack_size == sizeof(*c->acks)) {
		if (n && copy_to_user(dst, c->acks, n * sizeof(*c->acks)))
			return -EFAULT;
	} else {
		for (i = 0; i < n; i++)
			if (mqdev_copy_element(dst + (size_t)i * req->ack_size,
					       &c->acks[i], sizeof(c->acks[i]),
					       req->ack_size))
				return -EFAULT;
	}
	if (c->chunked || !umsg)
		return 0;
	return copy_to_user(&umsg->status, out, sizeof(out)) ? -EFAULT : 0;
}

/*
 * How many of the batch's @n messages from @first have room to write
 * their acknowledgements, no lock held: faulted in before anything is
 * appended, so that an ack is lost only to a racing munmap().  A message
 * no binding matched may take one, the alternate's copy.  Positions only
 * shrink as messages go (dropped, refused), so each message's acks land
 * below the end reckoned here.
 */
static u32 route_acks_writable(struct mqdev_route_ctx *c,
			       const struct mqdev_exchange_produce *req,
			       u32 first, u32 n)
{
	u8 __user *dst = u64_to_user_ptr(req->acks) +
			 (size_t)c->acks_used * req->ack_size;
	u32 room = req->acks_count - c->acks_used;
	const struct route_pending *p;
	size_t len, ok;
	u32 i, end;

	for (i = 0, end = 0; i < n; i++) {
		p = &c->pend[first + i];
		if (!p->err)
			end = min(end + (p->copies ?: 1), room);
		c->pend[first + i].acks_end = end;
	}
	len = (size_t)end * req->ack_size;
	ok = len - fault_in_writeable((char __user *)dst, len);
	for (i = 0; i < n; i++)
		if ((size_t)c->pend[first + i].acks_end * req->ack_size > ok)
			break;
	return i;
}

/*
 * One batch from the chunk's message @first: matched, appended, its
 * references put and its acknowledgements out.  *@got is how many it
 * took, *@tried how many of them were tried.  A message whose acks have
 * nowhere to go ends it with -EFAULT, none of its copies appended; acks
 * lost after the appends (a racing munmap()) leave them counted, as
 * MQDEV_IOC_PRODUCE does: EXCHANGE_ACK_LOST.
 */
static int route_batch(struct mqdev_route_ctx *c,
		       const struct mqdev_exchange_produce *req,
		       u8 __user *umsgs, u32 first, u32 count, u32 *got,
		       u32 *tried)
{
	u32 acks_first = c->acks_used, outs = 0, n;
	int err;

	*tried = 0;
	*got = route_gather(c, req, umsgs, first, count);
	if (!*got)
		return 0;
	n = route_acks_writable(c, req, first, *got);
	c->nr_acks = 0;
	err = n ? route_settle(c, req, first, n, tried, &outs) : 0;
	mqdev_append_end(&c->ap);
	/* no partition locked: a last reference may free a topic */
	ctx_put_dest(c, 0);
	if (!err && n < *got) {
		/* the first whose acks cannot be written: tried, not routed */
		*tried = n + 1;
		err = -EFAULT;
	}
	if (!n || !outs)
		return err;
	if (!route_copy_out(c, req, acks_first,
			    (void __user *)(umsgs + (size_t)first *
					    req->msg_size)))
		return err;
	/* appended, their acks lost; a failed message's acks too */
	return err ? -EFAULT : EXCHANGE_ACK_LOST;
}

/*
 * The out fields of the chunk's first @n messages back to @umsgs, three
 * stores each rather than the whole elements again.
 */
static int route_chunk_out(struct mqdev_route_ctx *c,
			   struct mqdev_exchange_msg __user *umsgs, u32 n)
{
	const struct mqdev_exchange_msg *m = c->chunk;
	const struct mqdev_exchange_msg *end;
	struct mqdev_exchange_msg __user *u = umsgs;

	if (!n)
		return 0;
	/*
	 * No call may be made with user access open (objtool, SMAP): the
	 * bound is checked here, and the loop walks pointers, which no
	 * sanitizer instruments with a call the way it does c->chunk[i].
	 */
	end = c->chunk + min_t(u32, n, ARRAY_SIZE(c->chunk));
	if (!user_write_access_begin(umsgs, n * sizeof(*umsgs)))
		return -EFAULT;
	for (; m < end; m++, u++) {
		unsafe_put_user(m->status, &u->status, fault);
		unsafe_put_user(m->first_ack, &u->first_ack, fault);
		unsafe_put_user(m->nr_acks, &u->nr_acks, fault);
	}
	user_write_access_end();
	return 0;
fault:
	user_write_access_end();
	return -EFAULT;
}

/*
 * Route the messages of a chunk from @first, copied in at once when their
 * size is the kernel's (else each as it comes) and their out fields back
 * the same way; *@n is how many were routed.
 */
static int route_chunk(struct mqdev_route_ctx *c,
		       const struct mqdev_exchange_produce *req, u32 first,
		       u32 *n)
{
	u8 __user *umsgs = u64_to_user_ptr(req->msgs) +
			   (size_t)first * req->msg_size;
	u32 i = 0, got = 1, tried = 0, t;
	u32 count = min(req->count - first, EXCHANGE_CHUNK);
	int err = 0;

	c->chunked = req->msg_size == sizeof(*c->chunk) &&
		     !copy_from_user(c->chunk, umsgs, count * sizeof(*c->chunk));
	while (i < count && got && !err) {
		err = route_batch(c, req, umsgs, i, count, &got, &t);
		tried += t;
		i += got;
	}
	*n = tried - (err < 0);
	if (i < count && !err)		/* killed between messages */
		err = -EINTR;
	/* appended, out fields lost: counted, as lost acks are */
	if (c->chunked && route_chunk_out(c, (void __user *)umsgs, tried))
		err = err < 0 ? -EFAULT : EXCHANGE_ACK_LOST;
	return err;
}

/**
 * mqdev_exchange_produce() - MQDEV_IOC_EXCHANGE_PRODUCE
 * @ioc: the ioctl, on a handle attached to an exchange
 * @req: the request
 *
 * Return: how many messages were routed, from the first, if any was; else
 * 0 for none asked, -EBADFD for a handle not attached to an exchange,
 * -EINVAL for a bad request or message, -EIDRM for a deleted exchange,
 * -EHOSTUNREACH for an unroutable mandatory message, -ENOBUFS for a
 * message with more copies than room for their acknowledgements (or more
 * than 4096), -E2BIG for one whose match kept too many patterns alive,
 * passed through too many exchanges or took more than max_route_work
 * (counted in over_budget), -EINTR for a fatal signal, -EFAULT, -ENOMEM,
 * or the error of the
 * first copy of a message none of whose copies went in (-EMSGSIZE,
 * -EAGAIN, -EIDRM, what mqdev_append() returns).
 */
long mqdev_exchange_produce(struct mqdev_ioc *ioc,
			    struct mqdev_exchange_produce *req)
{
	struct mqdev_handle *h = ioc->h;
	/* Pairs with smp_store_release() in mqdev_exchange_attach(). */
	struct mqdev_exchange *ex = smp_load_acquire(&h->exchange);
	struct mqdev_route_ctx *c;
	bool own = false;
	long done;
	int err = 0;
	u32 n;

	if (!ex)
		return -EBADFD;
	if (req->flags || req->reserved || req->count > EXCHANGE_MAX_MSGS ||
	    req->msg_size < sizeof(struct mqdev_exchange_msg) ||
	    req->msg_size > PAGE_SIZE ||
	    (req->acks_count && (req->ack_size < sizeof(*c->acks) ||
				 req->ack_size > PAGE_SIZE)))
		return -EINVAL;
	c = h->route_ctx;
	/* threads producing on one handle at once: the others make their own */
	if (test_and_set_bit_lock(0, &h->route_busy)) {
		c = route_ctx_new();
		if (!c)
			return -ENOMEM;
		own = true;
	}
	c->ex = ex;
	memset(&c->ap, 0, sizeof(c->ap));
	c->ap.nonblock = ioc->file->f_flags & O_NONBLOCK;
	c->acks_used = 0;
	for (done = 0; !err && done < req->count; done += n)
		err = route_chunk(c, req, done, &n);
	if (own)
		route_ctx_free(c);
	else
		clear_bit_unlock(0, &h->route_busy);
	return done ? done : err;
}

/**
 * mqdev_exchanges_init() - module init: the workqueue exchanges are freed on
 *
 * Return: 0 or -ENOMEM.
 */
int __init mqdev_exchanges_init(void)
{
	mqdev_exchange_wq = alloc_workqueue("mqdev_exchange", WQ_UNBOUND, 0);
	return mqdev_exchange_wq ? 0 : -ENOMEM;
}

/**
 * mqdev_exchanges_exit() - module exit, or init failed: the frees wait
 *
 * After mqdev_exchanges_destroy(), or with no exchange made.
 */
void mqdev_exchanges_exit(void)
{
	rcu_barrier();		/* every queue_rcu_work() is queued */
	destroy_workqueue(mqdev_exchange_wq);	/* and has run */
}

/**
 * mqdev_exchanges_destroy() - free every exchange, at module exit
 */
void mqdev_exchanges_destroy(void)
{
	struct mqdev_exchange *ex, *next;
	LIST_HEAD(dying);

	mutex_lock(&mqdev_exchanges_lock);
	list_splice_init(&mqdev_exchanges, &dying);
	mqdev_nr_exchanges = 0;
	mutex_unlock(&mqdev_exchanges_lock);
	list_for_each_entry_safe(ex, next, &dying, node) {
		list_del(&ex->node);
		exchange_kill(ex);
	}
}
