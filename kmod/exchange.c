// SPDX-License-Identifier: GPL-2.0
/*
 * Exchanges: AMQP 0-9-1's routing, in front of the topics.
 *
 * An exchange is a named object of a network namespace, with an owner and
 * mode bits like a topic's (perm.c), charged to its creator.  Its bindings
 * each join it to a topic, or one partition of a topic, with a binding key;
 * a binding holds a reference to its topic, so a deleted topic's bindings
 * stay (describe shows them) but route nothing: its appends fail EIDRM.
 *
 * A producer attaches a fresh handle to an exchange and produces messages
 * with a routing key each.  A message is routed in three steps, so that no
 * lock another user needs is held across user memory or a sleep:
 *
 *   1. the message, its routing key and its key are copied into the
 *      kernel: without faulting while the run of appends of the message
 *      before still holds its partition's lock, else with the run let go
 *      of (ring.c's rule, which MQDEV_IOC_PRODUCE follows for keys);
 *   2. with ex->lock held for reading, the matching bindings are found and
 *      referenced into a kernel array (route.c for direct and topic
 *      exchanges, the binding list for fanout), and nothing else;
 *   3. with no exchange lock, each copy is appended through ring.c's
 *      mqdev_append(), as MQDEV_IOC_PRODUCE appends, and acknowledged as
 *      the message was copied in.
 *
 * Locks:
 *
 *   mqdev_exchanges_lock   the registry: lookups, create, delete, list;
 *                          no other lock is taken under it
 *   part->lock             ring.c's, held by a run of appends across
 *                          messages (never across a fault or a sleep)
 *   ex->lock (rwlock)      the bindings and the trie: written by bind,
 *                          unbind and delete with every allocation made
 *                          before; read by routing (inside a run's
 *                          part->lock) and describe, into arrays made
 *                          before; no other mqdev lock under it
 */

#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/filter.h>
#include <net/net_namespace.h>
#include "exchange.h"
#include "xroute.h"

#define EXCHANGE_DEFAULT_MODE	0644
/* Messages in one MQDEV_IOC_EXCHANGE_PRODUCE, as MQDEV_IOC_PRODUCE. */
#define EXCHANGE_MAX_MSGS	4096
/* Messages a run of appends may span, as MQDEV_IOC_PRODUCE's chunks. */
#define EXCHANGE_RUN_MSGS	64
/* Copies of one message: more is refused, however many acks fit. */
#define EXCHANGE_MAX_COPIES	4096

MQDEV_LIMIT_SHARED(max_exchanges, 1024, 0, 1 << 20,
		   "Most exchanges that may exist at once");
MQDEV_LIMIT(max_exchange_bindings, 4096, 0, 1 << 20,
	    "Most bindings one exchange may have");

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
	struct mqdev_topic	*alternate;	/* referenced, or NULL */
	rwlock_t		lock;		/* bindings, trie */
	struct list_head	bindings;
	u32			nr_bindings;
	struct mqdev_route_trie	trie;		/* not for fanout */
	atomic_t		producers;
	atomic64_t		routed;
	atomic64_t		alternated;
	atomic64_t		refused;
	atomic64_t		dropped;
	/* a routing program (route_bpf.c): set under lock, run under RCU */
	struct bpf_prog __rcu	*prog;
	u32			prog_len;
	atomic64_t		prog_out_of_range;
};

struct mqdev_binding {
	struct kref		ref;		/* the exchange's, and routings' */
	struct list_head	all;		/* on ex->bindings */
	struct list_head	end;		/* on its trie node's ends */
	struct mqdev_route_node	*node;		/* NULL for fanout */
	struct mqdev_topic	*topic;		/* referenced */
	kuid_t			uid;		/* the binder, charged */
	u32			partition;	/* or MQDEV_PARTITION_ANY */
	atomic64_t		routed;
	struct mqdev_bind_headers *hdrs;	/* a headers exchange's */
	u32			key_len;
	char			key[MQDEV_ROUTING_KEY_SIZE];
};

/* Has the exchange a trie of binding keys (route.c)? */
static bool exchange_keyed(u32 type)
{
	return type == MQDEV_EXCHANGE_DIRECT || type == MQDEV_EXCHANGE_TOPIC;
}

static DEFINE_MUTEX(mqdev_exchanges_lock);
static LIST_HEAD(mqdev_exchanges);		/* under mqdev_exchanges_lock */
static unsigned int mqdev_nr_exchanges;		/* under mqdev_exchanges_lock */

/* ---- references and the registry ---------------------------------------- */

static void binding_release(struct kref *ref)
{
	struct mqdev_binding *b = container_of(ref, struct mqdev_binding, ref);

	mqdev_uncharge(b->uid, MQDEV_CHARGE_BINDINGS, 1);
	mqdev_topic_put(b->topic);
	kfree(b->hdrs);
	kfree(b);
}

/* May sleep (the topic's last reference): never under ex->lock. */
static void binding_put(struct mqdev_binding *b)
{
	kref_put(&b->ref, binding_release);
}

static void exchange_release(struct kref *ref)
{
	struct mqdev_exchange *ex = container_of(ref, struct mqdev_exchange,
						 ref);

	WARN_ON_ONCE(!list_empty(&ex->bindings));
	if (exchange_keyed(ex->type))
		mqdev_route_destroy(&ex->trie);
	mqdev_prog_free(rcu_dereference_protected(ex->prog, true));
	if (ex->alternate)
		mqdev_topic_put(ex->alternate);
	mqdev_uncharge(ex->uid, MQDEV_CHARGE_EXCHANGES, 1);
	kfree(ex);
}

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
	rwlock_init(&ex->lock);
	INIT_LIST_HEAD(&ex->bindings);
	return ex;
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
 * alternate topic; -EEXIST for a name taken; -ENOSPC past max_exchanges;
 * -EDQUOT past max_user_exchanges; -ENOMEM.
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
		alt = mqdev_topic_get(NULL, net, req->alternate,
				      MQDEV_ACT_PRODUCE);
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
	if (exchange_find(net, ex->name))
		err = -EEXIST;
	else if (mqdev_nr_exchanges >= mqdev_limit(&max_exchanges))
		err = -ENOSPC;
	if (!err) {
		list_add_tail(&ex->node, &mqdev_exchanges);
		mqdev_nr_exchanges++;
	}
	mutex_unlock(&mqdev_exchanges_lock);
	if (err)
		exchange_put(ex);	/* gives back the charge and @alt */
	return err;

err_put_alt:
	if (alt)
		mqdev_topic_put(alt);
	return err;
}

/* ---- delete ---------------------------------------------------------- */

/* Off the registry: its bindings go; attached producers get EIDRM. */
static void exchange_kill(struct mqdev_exchange *ex)
{
	struct mqdev_binding *b, *next;
	LIST_HEAD(gone);

	WRITE_ONCE(ex->dead, true);
	write_lock(&ex->lock);
	list_splice_init(&ex->bindings, &gone);
	list_for_each_entry(b, &gone, all) {
		if (!b->node)
			continue;
		list_del(&b->end);
		mqdev_route_prune(&ex->trie, b->node);
	}
	ex->nr_bindings = 0;
	write_unlock(&ex->lock);
	list_for_each_entry_safe(b, next, &gone, all)
		binding_put(b);
	exchange_put(ex);
}

/**
 * mqdev_exchange_delete() - MQDEV_IOC_EXCHANGE_DELETE
 * @net: the caller's network namespace
 * @req: the exchange's name; flags and reserved zero
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
		names = kvcalloc(room, MQDEV_NAME_SIZE, GFP_KERNEL);
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
	struct mqdev_topic		*topic;
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
	u32 i;

	if (memchr(c->key, 0, c->key_len))
		return -EINVAL;
	if (ex->type != MQDEV_EXCHANGE_TOPIC)
		return 0;
	/* '*' and '#' are words of their own, as AMQP's topic keys have them */
	for (i = 0; i < c->nr_words; i++)
		if (c->words[i].len > 1 &&
		    (memchr(c->words[i].word, '*', c->words[i].len) ||
		     memchr(c->words[i].word, '#', c->words[i].len)))
			return -EINVAL;
	return 0;
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

	if (req->flags || req->reserved || req->key_len > MQDEV_ROUTING_KEY_MAX)
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

/* Is @b the binding of @c's key to the topic named @topic, @partition? */
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

static bool binding_is(const struct mqdev_binding *b, const char *topic,
		       u32 partition, const struct bind_ctx *c)
{
	return b->partition == partition && b->key_len == c->key_len &&
	       !memcmp(b->key, c->key, c->key_len) &&
	       mqdev_bind_headers_equal(b->hdrs, c->hdrs) &&
	       !strcmp(b->topic->name, topic);
}

/*
 * The binding of @c's key to @topic (by name: it may have been deleted and
 * made again) and @partition, under ex->lock.  In a trie only the bindings
 * of the key's own node are looked at, so that binding does not cost what
 * the exchange's other bindings number; a fanout exchange has its list.
 */
static struct mqdev_binding *binding_find(struct mqdev_exchange *ex,
					  const char *topic, u32 partition,
					  const struct bind_ctx *c)
{
	struct mqdev_route_node *n;
	struct mqdev_binding *b;

	if (!exchange_keyed(ex->type)) {
		list_for_each_entry(b, &ex->bindings, all)
			if (binding_is(b, topic, partition, c))
				return b;
		return NULL;
	}
	n = mqdev_route_find(&ex->trie, c->words, c->nr_words);
	if (n)
		list_for_each_entry(b, &n->ends, end)
			if (binding_is(b, topic, partition, c))
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
	b->uid = current_fsuid();
	b->partition = req->partition;
	b->key_len = c->key_len;
	memcpy(b->key, c->key, c->key_len);
	return b;
}

/* Under ex->lock for writing: link @b in, its trie node made of spares. */
static int binding_link(struct bind_ctx *c, struct mqdev_binding *b)
{
	struct mqdev_exchange *ex = c->ex;
	struct mqdev_route_node *n;

	if (READ_ONCE(ex->dead))
		return -EIDRM;
	if (binding_find(ex, b->topic->name, b->partition, c))
		return -EEXIST;
	if (ex->nr_bindings >= mqdev_limit(&max_exchange_bindings))
		return -ENOSPC;
	if (exchange_keyed(ex->type)) {
		n = mqdev_route_insert(&ex->trie, c->words, c->nr_words,
				       c->spare);
		if (IS_ERR(n))
			return PTR_ERR(n);
		b->node = n;
		list_add_tail(&b->end, &n->ends);
	}
	list_add_tail(&b->all, &ex->bindings);
	ex->nr_bindings++;
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

static int bind_topic(struct net *net, const struct mqdev_exchange_bind *req,
		      struct bind_ctx *c)
{
	c->topic = mqdev_topic_get(NULL, net, req->topic, MQDEV_ACT_PRODUCE);
	if (IS_ERR(c->topic))
		return PTR_ERR(c->topic);
	if (req->partition != MQDEV_PARTITION_ANY &&
	    req->partition >= c->topic->nr_parts) {
		mqdev_topic_put(c->topic);
		return -EINVAL;
	}
	return 0;
}

/**
 * mqdev_exchange_bind() - MQDEV_IOC_EXCHANGE_BIND
 * @net: the caller's network namespace
 * @req: the binding
 *
 * Needs write permission on the exchange and on the topic; the binding is
 * charged to the caller.
 *
 * Return: 0; -EINVAL for a bad request, key or partition; -ENOENT;
 * -EACCES; -EEXIST for a binding there already; -ENOSPC past
 * max_exchange_bindings; -EDQUOT past max_user_bindings; -EIDRM for an
 * exchange deleted meanwhile; -EFAULT; -ENOMEM.
 */
int mqdev_exchange_bind(struct net *net, const struct mqdev_exchange_bind *req)
{
	struct mqdev_binding *b = NULL;
	struct bind_ctx *c;
	int err;

	c = bind_ctx_new(net, req);
	if (IS_ERR(c))
		return PTR_ERR(c);
	err = bind_topic(net, req, c);
	if (err)
		goto out_put_ex;
	err = mqdev_charge(current_fsuid(), MQDEV_CHARGE_BINDINGS, 1);
	if (err)
		goto out_put_topic;
	err = bind_spares(c);
	b = err ? NULL : binding_alloc(c, req);
	if (!b) {
		err = -ENOMEM;
		mqdev_uncharge(current_fsuid(), MQDEV_CHARGE_BINDINGS, 1);
		goto out_put_topic;
	}
	b->topic = c->topic;	/* the binding's reference from now on */
	b->hdrs = c->hdrs;	/* and its headers, once linked */

	write_lock(&c->ex->lock);
	err = binding_link(c, b);
	write_unlock(&c->ex->lock);
	if (err) {
		b->hdrs = NULL;		/* still the context's to free */
		binding_put(b);
	} else {
		c->hdrs = NULL;
	}
	goto out_spares;

out_put_topic:
	mqdev_topic_put(c->topic);
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
 * writers' to change.  The topic may have been deleted since.
 *
 * Return: 0; -EINVAL; -ENOENT for no such exchange or binding; -EACCES;
 * -EFAULT; -ENOMEM.
 */
int mqdev_exchange_unbind(struct net *net,
			  const struct mqdev_exchange_bind *req)
{
	struct mqdev_binding *b;
	struct bind_ctx *c;
	int err;

	c = bind_ctx_new(net, req);
	if (IS_ERR(c))
		return PTR_ERR(c);
	write_lock(&c->ex->lock);
	b = binding_find(c->ex, req->topic, req->partition, c);
	if (b) {
		list_del(&b->all);
		c->ex->nr_bindings--;
		if (b->node) {
			list_del(&b->end);
			mqdev_route_prune(&c->ex->trie, b->node);
		}
	}
	write_unlock(&c->ex->lock);
	err = b ? 0 : -ENOENT;
	if (b)
		binding_put(b);
	exchange_put(c->ex);
	bind_ctx_free(c);
	return err;
}

/* ---- describe -------------------------------------------------------- */

static void binding_fill(const struct mqdev_binding *b,
			 struct mqdev_binding_info *info)
{
	memset(info, 0, sizeof(*info));
	memcpy(info->topic, b->topic->name, MQDEV_NAME_SIZE);
	memcpy(info->key, b->key, b->key_len);
	info->key_len = b->key_len;
	info->partition = b->partition;
	info->routed = atomic64_read(&b->routed);
	info->uid = from_kuid_munged(current_user_ns(), b->uid);
	if (b->hdrs) {
		info->match = b->hdrs->match;
		info->headers_len = b->hdrs->len;
		memcpy(info->headers, b->hdrs->block, b->hdrs->len);
	}
}

/* The bindings into @infos (room for @room), under the lock; how many. */
static u32 describe_bindings(struct mqdev_exchange *ex,
			     struct mqdev_binding_info *infos, u32 room)
{
	struct mqdev_binding *b;
	u32 n = 0;

	read_lock(&ex->lock);
	list_for_each_entry(b, &ex->bindings, all)
		if (n < room)
			binding_fill(b, &infos[n++]);
	n = ex->nr_bindings;
	read_unlock(&ex->lock);
	return n;
}

static void describe_fill(const struct mqdev_exchange *ex,
			  struct mqdev_exchange_info *req)
{
	if (ex->alternate)
		memcpy(req->alternate, ex->alternate->name, MQDEV_NAME_SIZE);
	else
		memset(req->alternate, 0, sizeof(req->alternate));
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
	req->prog_out_of_range = atomic64_read(&ex->prog_out_of_range);
	req->prog_len = READ_ONCE(ex->prog_len);
}

/**
 * mqdev_exchange_describe() - MQDEV_IOC_EXCHANGE_DESCRIBE
 * @net: the caller's network namespace
 * @req: the name and room for bindings in; the exchange goes back
 *
 * Needs read permission.  The bindings are snapshotted into kernel memory
 * under the exchange's lock and copied out after it.
 *
 * Return: 0; -EINVAL; -ENOENT; -EACCES; -ENOMEM; -EFAULT.
 */
int mqdev_exchange_describe(struct net *net, struct mqdev_exchange_info *req)
{
	struct mqdev_binding_info *infos = NULL;
	u8 __user *dst = u64_to_user_ptr(req->bindings);
	u32 size = req->binding_info_size, room, n, i;
	struct mqdev_exchange *ex;
	int err = 0;

	if (req->reserved)
		return -EINVAL;
	if (req->bindings_count &&
	    (size < MQDEV_BINDING_INFO_SIZE_VER0 || size > PAGE_SIZE))
		return -EINVAL;
	ex = exchange_get(net, req->name, MAY_READ);
	if (IS_ERR(ex))
		return PTR_ERR(ex);
	room = min_t(unsigned long, req->bindings_count,
		     mqdev_limit(&max_exchange_bindings));
	if (room) {
		infos = kvcalloc(room, sizeof(*infos), GFP_KERNEL);
		if (!infos) {
			exchange_put(ex);
			return -ENOMEM;
		}
	}
	n = describe_bindings(ex, infos, room);
	describe_fill(ex, req);
	exchange_put(ex);
	for (i = 0; i < min(n, room) && !err; i++, dst += size)
		err = mqdev_copy_element(dst, &infos[i],
					 min_t(u32, size, sizeof(*infos)), size);
	req->bindings_count = n;
	kvfree(infos);
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
	write_lock(&ex->lock);
	if (READ_ONCE(ex->dead)) {
		err = -EIDRM;
		old = prog;
	} else {
		old = rcu_replace_pointer(ex->prog, prog,
					  lockdep_is_held(&ex->lock));
		WRITE_ONCE(ex->prog_len, prog ? req->len : 0);
	}
	write_unlock(&ex->lock);
	if (old && !err)
		synchronize_rcu();	/* routings run it under RCU */
	mqdev_prog_free(old);
	exchange_put(ex);
	return err;
}

/* ---- attach ---------------------------------------------------------- */

/**
 * mqdev_exchange_attach() - MQDEV_IOC_EXCHANGE_ATTACH
 * @h: a handle attached to nothing, and no producer session
 * @req: the exchange's name
 *
 * Needs write permission on the exchange.  The handle holds the exchange
 * until it is closed, deleted or not.
 *
 * Return: 0; -EINVAL; -ENOENT; -EACCES; -EBUSY for a handle that is
 * attached or a session.
 */
int mqdev_exchange_attach(struct mqdev_handle *h,
			  const struct mqdev_exchange_attach *req)
{
	struct mqdev_exchange *ex;
	int err = 0;

	if (req->flags || req->reserved)
		return -EINVAL;
	ex = exchange_get(h->net, req->name, MAY_WRITE);
	if (IS_ERR(ex))
		return PTR_ERR(ex);
	mutex_lock(&h->lock);
	if (h->topic || h->session || h->exchange) {
		err = -EBUSY;
	} else {
		atomic_inc(&ex->producers);
		/* Pairs with smp_load_acquire() in mqdev_exchange_produce(). */
		smp_store_release(&h->exchange, ex);
	}
	mutex_unlock(&h->lock);
	if (err)
		exchange_put(ex);
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
}

/* ---- produce --------------------------------------------------------- */

/* One message's way through the exchange, and the call's scratch. */
struct route_ctx {
	struct mqdev_exchange		*ex;
	struct mqdev_append		ap;
	struct mqdev_exchange_msg	msg;
	char				rkey[MQDEV_ROUTING_KEY_SIZE];
	struct mqdev_route_word		words[MQDEV_ROUTE_MAX_WORDS];
	u32				nr_words;
	void				*key;		/* MQDEV_MAX_KEY */
	struct mqdev_route_node		**set;		/* two of set_room */
	u32				set_room;
	struct mqdev_binding		**dest;		/* dest_room */
	u32				dest_room;
	u32				nr_dest;
	struct mqdev_exchange_ack	*acks;		/* dest_room */
	u32				acks_used;	/* of the caller's */
	/* headers exchanges and routing programs: xroute.h */
	struct mqdev_msg_headers	mh;	/* a headers exchange's */
	u8				peek[MQDEV_ROUTE_VALUE_BYTES];
	u32				peek_len;
	u32				*pctx;	/* a program's context */
	bool				pctx_ready;
	bool				out_of_range;
};

/* Grow one of the context's arrays to @n entries, or fail. */
static int ctx_grow(void **arr, u32 *room, u32 n, size_t size, u32 max)
{
	void *p;

	if (n > max)
		return -E2BIG;
	n = max_t(u32, n, 2 * *room);
	n = min(n, max);
	p = kvmalloc_array(n, size, GFP_KERNEL_ACCOUNT);
	if (!p)
		return -ENOMEM;
	kvfree(*arr);
	*arr = p;
	*room = n;
	return 0;
}

static int ctx_grow_set(struct route_ctx *c, u32 n)
{
	u32 room = c->set_room;
	int err;

	/* Two arrays in one: the room is each one's. */
	err = ctx_grow((void **)&c->set, &room, 2 * n, sizeof(*c->set),
		       2 * (mqdev_limit(&max_exchange_bindings) *
			    MQDEV_ROUTE_MAX_WORDS + 1));
	c->set_room = room / 2;
	return err;
}

static int ctx_grow_dest(struct route_ctx *c, u32 n)
{
	u32 room = c->dest_room;
	int err;

	err = ctx_grow((void **)&c->dest, &room, n, sizeof(*c->dest),
		       EXCHANGE_MAX_COPIES);
	if (err)
		return err;
	kvfree(c->acks);
	c->acks = kvmalloc_array(room, sizeof(*c->acks), GFP_KERNEL_ACCOUNT);
	c->dest_room = c->acks ? room : 0;
	return c->acks ? 0 : -ENOMEM;
}

/* Reference @b as a destination; count them all, keep what there is room for. */
static void ctx_add(struct route_ctx *c, struct mqdev_binding *b)
{
	if (c->nr_dest < c->dest_room) {
		kref_get(&b->ref);
		c->dest[c->nr_dest] = b;
	}
	c->nr_dest++;
}

/* Under ex->lock: the bindings a headers exchange's message matches. */
static void ctx_match_headers(struct route_ctx *c)
{
	struct mqdev_binding *b;

	list_for_each_entry(b, &c->ex->bindings, all)
		if (mqdev_headers_match(b->hdrs, &c->mh))
			ctx_add(c, b);
}

/*
 * Under ex->lock: the routing program's verdict, or MQDEV_ROUTE_MATCH for
 * none.  A message copied in before a program was attached has no context
 * for it: it is routed as it would have been before the attach.
 */
static u32 route_prog(struct route_ctx *c)
{
	struct bpf_prog *prog;
	u32 v = MQDEV_ROUTE_MATCH;

	if (!c->pctx_ready)
		return v;
	rcu_read_lock();
	prog = rcu_dereference(c->ex->prog);
	if (prog)
		v = mqdev_prog_run(prog, c->pctx, c->ex->nr_bindings);
	rcu_read_unlock();
	return v;
}

/* Under ex->lock: the bindings a program's verdict (not MATCH) names. */
static void ctx_match_verdict(struct route_ctx *c, u32 v)
{
	struct mqdev_binding *b;
	u32 i = 0, mask;

	if (!(v & BIT(31))) {
		if (v == MQDEV_ROUTE_NONE)
			return;
		list_for_each_entry(b, &c->ex->bindings, all)
			if (i++ == v - 1) {
				ctx_add(c, b);
				return;
			}
		c->out_of_range = true;
		return;
	}
	mask = v & GENMASK(29, 0);
	list_for_each_entry(b, &c->ex->bindings, all) {
		if (!mask)
			return;
		if (mask & BIT(i)) {
			ctx_add(c, b);
			mask &= ~BIT(i);
		}
		i++;
	}
	c->out_of_range = !!mask;
}

/* Under ex->lock: the bindings of the matching nodes. */
static int ctx_match_trie(struct route_ctx *c)
{
	struct mqdev_binding *b;
	int n, i;

	n = mqdev_route_match(&c->ex->trie, c->words, c->nr_words, c->set,
			      c->set_room);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++)
		list_for_each_entry(b, &c->set[i]->ends, end)
			ctx_add(c, b);
	return 0;
}

/*
 * The run may hold a partition's lock, under which nothing may sleep: a
 * binding's last reference (it was unbound meanwhile) may be its topic's,
 * whose freeing sleeps, so that one is dropped with the run let go of.
 */
static void ctx_put_dest(struct route_ctx *c)
{
	struct mqdev_binding *b;
	u32 i;

	for (i = 0; i < min(c->nr_dest, c->dest_room); i++) {
		b = c->dest[i];
		if (refcount_dec_not_one(&b->ref.refcount))
			continue;
		mqdev_append_pause(&c->ap);
		binding_put(b);
		mqdev_append_resume(&c->ap);
	}
	c->nr_dest = 0;
}

/*
 * The bindings the message matches, referenced into c->dest; the arrays
 * grow, with the lock let go of, until they hold them all.
 */
static int route_match(struct route_ctx *c)
{
	struct mqdev_exchange *ex = c->ex;
	struct mqdev_binding *b;
	u32 need, had, verdict;
	int err;

	for (;;) {
		c->nr_dest = 0;
		c->out_of_range = false;
		err = 0;
		read_lock(&ex->lock);
		verdict = route_prog(c);
		if (verdict >> 30 != MQDEV_ROUTE_MATCH >> 30)
			ctx_match_verdict(c, verdict);
		else if (ex->type == MQDEV_EXCHANGE_FANOUT)
			list_for_each_entry(b, &ex->bindings, all)
				ctx_add(c, b);
		else if (ex->type == MQDEV_EXCHANGE_HEADERS)
			ctx_match_headers(c);
		else
			err = ctx_match_trie(c);
		/* '#' children join the set before repeats leave it: twice */
		need = err == -E2BIG ? 2 * ex->trie.nr_nodes : 0;
		read_unlock(&ex->lock);
		if (!err && c->nr_dest <= c->dest_room) {
			if (c->out_of_range)
				atomic64_inc(&ex->prog_out_of_range);
			return 0;
		}
		if (!err)
			need = c->nr_dest;
		/* the references go before the array they are in */
		ctx_put_dest(c);
		/* no allocation under the run's partition lock */
		mqdev_append_pause(&c->ap);
		had = c->set_room;
		if (err == -E2BIG) {
			err = ctx_grow_set(c, need);
			/* no more room to be had: never the same try again */
			if (!err && c->set_room <= had)
				err = -ENOBUFS;
		} else {
			err = ctx_grow_dest(c, need);
		}
		mqdev_append_resume(&c->ap);
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

/* Copies of the message to the destinations c->dest names. */
static u32 route_copies(struct route_ctx *c)
{
	u32 i, n = 0;

	sort(c->dest, c->nr_dest, sizeof(*c->dest), dest_cmp, NULL);
	for (i = 0; i < c->nr_dest; i++)
		n += !i || dest_cmp(&c->dest[i - 1], &c->dest[i]);
	return n;
}

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
 * How much of the value routing looks at, and where it goes: a headers
 * exchange's message's header block, and a routing program's first bytes.
 */
static u32 route_peek(struct route_ctx *c, u8 **peek)
{
	const struct mqdev_exchange_msg *m = &c->msg;
	u32 n = 0;

	c->pctx_ready = !!rcu_access_pointer(c->ex->prog);
	if (c->pctx_ready)
		n = MQDEV_ROUTE_VALUE_BYTES;
	*peek = c->peek;
	if (c->ex->type == MQDEV_EXCHANGE_HEADERS) {
		*peek = c->mh.block;
		if (m->record_flags & MQDEV_RECORD_HEADERS)
			n = MQDEV_ROUTE_HEADERS_MAX;
	}
	c->peek_len = min(n, m->value_len);
	return c->peek_len;
}

/* What routing needs of the copied message, besides its routing key. */
static int route_prepare(struct route_ctx *c)
{
	const struct mqdev_exchange_msg *m = &c->msg;
	u8 *peek = c->ex->type == MQDEV_EXCHANGE_HEADERS ? c->mh.block :
		   c->peek;
	u32 n = c->peek_len;
	int err = 0;

	c->mh.nr = 0;
	if (c->ex->type == MQDEV_EXCHANGE_HEADERS &&
	    (m->record_flags & MQDEV_RECORD_HEADERS))
		err = mqdev_msg_headers_parse(&c->mh, n);
	if (!err && c->pctx_ready)
		mqdev_prog_ctx_fill(c->pctx, m, c->rkey, c->key, peek, n);
	return err;
}

/*
 * The message and its keys into the kernel, with the run's partition lock
 * perhaps still held from the message before, where no user memory may
 * fault (ring.c): copies that do not fault, as producer.c copies keys.
 * Any that would, or a message that is not right, goes the slow way.
 */
static bool route_copy_in_nofault(struct route_ctx *c, const void __user *umsg,
				  u32 msg_size)
{
	struct mqdev_exchange_msg *m = &c->msg;
	u8 *peek;
	u32 n;

	if (msg_size != sizeof(*m) ||
	    copy_from_user_nofault(m, umsg, sizeof(*m)) || route_msg_check(m))
		return false;
	n = route_peek(c, &peek);
	return !copy_from_user_nofault(c->rkey,
				       u64_to_user_ptr(m->routing_key),
				       m->routing_key_len) &&
	       !copy_from_user_nofault(c->key, u64_to_user_ptr(m->key),
				       m->key_len) &&
	       !copy_from_user_nofault(peek, u64_to_user_ptr(m->value), n);
}

/* The same with the run let go of: faults are taken, errors reported. */
static int route_copy_in_slow(struct route_ctx *c, const void __user *umsg,
			      u32 msg_size)
{
	struct mqdev_exchange_msg *m = &c->msg;
	u8 *peek;
	u32 n;
	int err;

	err = copy_struct_from_user(m, sizeof(*m), umsg, msg_size) ?:
	      route_msg_check(m);
	if (err)
		return err;
	n = route_peek(c, &peek);
	if (copy_from_user(c->rkey, u64_to_user_ptr(m->routing_key),
			   m->routing_key_len) ||
	    copy_from_user(c->key, u64_to_user_ptr(m->key), m->key_len) ||
	    copy_from_user(peek, u64_to_user_ptr(m->value), n))
		return -EFAULT;
	return 0;
}

static int route_copy_in(struct route_ctx *c, const void __user *umsg,
			 u32 msg_size)
{
	int err;

	if (!route_copy_in_nofault(c, umsg, msg_size)) {
		mqdev_append_pause(&c->ap);
		err = route_copy_in_slow(c, umsg, msg_size);
		mqdev_append_resume(&c->ap);
		if (err)
			return err;
	}
	if (!exchange_keyed(c->ex->type))
		c->nr_words = 0;
	else
		c->nr_words = mqdev_route_split(&c->ex->trie, c->rkey,
						c->msg.routing_key_len, c->words);
	return route_prepare(c);
}

/* One copy to @topic, in @partition or placed as MQDEV_IOC_PRODUCE would. */
static int route_append(struct route_ctx *c, struct mqdev_topic *topic,
			u32 partition, struct mqdev_exchange_ack *ack)
{
	const struct mqdev_exchange_msg *m = &c->msg;
	struct mqdev_msg msg = {
		.key = m->key, .value = m->value, .key_len = m->key_len,
		.value_len = m->value_len, .flags = m->record_flags,
	};
	int err;

	if (sizeof(struct mqdev_record) + (u64)m->key_len + m->value_len >
	    topic->max_record)
		return -EMSGSIZE;
	if (partition == MQDEV_PARTITION_ANY)
		partition = m->key_len ?
			    mqdev_key_hash(c->key, m->key_len) % topic->nr_parts :
			    (u32)atomic_inc_return(&topic->next_rr) %
			    topic->nr_parts;
	err = mqdev_append(&c->ap, &topic->parts[partition], &msg,
			   m->key_len ? c->key : NULL);
	if (err)
		return err;
	memset(ack, 0, sizeof(*ack));
	memcpy(ack->topic, topic->name, MQDEV_NAME_SIZE);
	ack->partition = partition;
	ack->offset = msg.offset;
	return 0;
}

/* Append a copy per destination; *@done says how many went in. */
static int route_deliver(struct route_ctx *c, u32 *done)
{
	struct mqdev_binding *b;
	u32 i, j;
	int err = 0;

	*done = 0;
	for (i = 0; i < c->nr_dest && !err; i = j) {
		b = c->dest[i];
		err = route_append(c, b->topic, b->partition, &c->acks[*done]);
		for (j = i; j < c->nr_dest && !dest_cmp(&c->dest[i],
							&c->dest[j]); j++)
			if (!err)
				atomic64_inc(&c->dest[j]->routed);
		*done += !err;
	}
	return err;
}

/* A message no binding matched: the alternate, a refusal, or a count. */
static int route_unroutable(struct route_ctx *c, u32 *done)
{
	struct mqdev_exchange *ex = c->ex;
	int err;

	*done = 0;
	if (ex->alternate) {
		c->msg.status = MQDEV_EXMSG_ALTERNATE;
		err = route_append(c, ex->alternate, MQDEV_PARTITION_ANY,
				   &c->acks[0]);
		if (err)
			return err;
		*done = 1;
		atomic64_inc(&ex->alternated);
		return 0;
	}
	if (c->msg.flags & MQDEV_EXMSG_MANDATORY) {
		atomic64_inc(&ex->refused);
		return -EHOSTUNREACH;
	}
	c->msg.status = MQDEV_EXMSG_DROPPED;
	atomic64_inc(&ex->dropped);
	return 0;
}

/* The acknowledgements of a message and its out fields, no lock held. */
static int route_copy_out(struct route_ctx *c,
			  const struct mqdev_exchange_produce *req,
			  struct mqdev_exchange_msg __user *umsg, u32 n)
{
	u8 __user *dst = u64_to_user_ptr(req->acks);
	u32 out[3] = { c->msg.status, c->acks_used, n };
	bool faulted;
	u32 i;

	static_assert(offsetof(struct mqdev_exchange_msg, first_ack) ==
		      offsetof(struct mqdev_exchange_msg, status) + 4 &&
		      offsetof(struct mqdev_exchange_msg, nr_acks) ==
		      offsetof(struct mqdev_exchange_msg, status) + 8);
	dst += (size_t)c->acks_used * req->ack_size;
	c->acks_used += n;
	/* Without faulting first, under the run's lock: see route_copy_in(). */
	if (req->ack_size == sizeof(*c->acks) &&
	    !copy_to_user_nofault(dst, c->acks, n * sizeof(*c->acks)) &&
	    !copy_to_user_nofault(&umsg->status, out, sizeof(out)))
		return 0;
	mqdev_append_pause(&c->ap);
	for (i = 0, faulted = false; i < n && !faulted; i++)
		faulted = mqdev_copy_element(dst + (size_t)i * req->ack_size,
					     &c->acks[i], sizeof(c->acks[i]),
					     req->ack_size);
	faulted = faulted || copy_to_user(&umsg->status, out, sizeof(out));
	mqdev_append_resume(&c->ap);
	return faulted ? -EFAULT : 0;
}

/* Route one message, from user memory to its copies' acknowledgements. */
static int route_one(struct route_ctx *c,
		     const struct mqdev_exchange_produce *req,
		     struct mqdev_exchange_msg __user *umsg)
{
	u32 copies, done = 0;
	int err, err2;

	err = route_copy_in(c, umsg, req->msg_size);
	if (err)
		return err;
	if (READ_ONCE(c->ex->dead))
		return -EIDRM;
	err = route_match(c);
	if (err)
		return err;
	copies = route_copies(c);
	/* deleted while it matched: its bindings were gone, not unmatched */
	if (!copies && READ_ONCE(c->ex->dead))
		return -EIDRM;
	c->msg.status = 0;
	/* an unroutable message takes one, for the alternate topic's copy */
	if ((copies ?: !!c->ex->alternate) > req->acks_count - c->acks_used) {
		err = -ENOBUFS;
	} else if (copies) {
		err = route_deliver(c, &done);
		if (done)
			atomic64_inc(&c->ex->routed);
	} else {
		err = route_unroutable(c, &done);
	}
	ctx_put_dest(c);
	if (err && !done)
		return err;
	err2 = route_copy_out(c, req, umsg, done);
	return err ?: err2;
}

static int route_ctx_init(struct route_ctx *c)
{
	int err;

	c->key = kmalloc(MQDEV_MAX_KEY, GFP_KERNEL);
	c->pctx = kmalloc_array(MQDEV_PROG_CTX_WORDS, sizeof(*c->pctx),
				GFP_KERNEL);
	if (!c->key || !c->pctx)
		return -ENOMEM;
	if (c->ex->type == MQDEV_EXCHANGE_HEADERS) {
		err = mqdev_msg_headers_init(&c->mh);
		if (err)
			return err;
	}
	return ctx_grow_set(c, 16) ?: ctx_grow_dest(c, 16);
}

static void route_ctx_free(struct route_ctx *c)
{
	ctx_put_dest(c);
	kfree(c->key);
	kfree(c->pctx);
	mqdev_msg_headers_free(&c->mh);
	kvfree(c->set);
	kvfree(c->dest);
	kvfree(c->acks);
	kfree(c);
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
 * than 4096), -EMSGSIZE for one larger than a topic's max_record, -EFAULT,
 * -ENOMEM, or what mqdev_append() returns.
 */
long mqdev_exchange_produce(struct mqdev_ioc *ioc,
			    struct mqdev_exchange_produce *req)
{
	/* Pairs with smp_store_release() in mqdev_exchange_attach(). */
	struct mqdev_exchange *ex = smp_load_acquire(&ioc->h->exchange);
	struct mqdev_exchange_msg __user *umsg;
	struct route_ctx *c;
	long done;
	int err;

	if (!ex)
		return -EBADFD;
	if (req->flags || req->reserved || req->count > EXCHANGE_MAX_MSGS ||
	    req->msg_size < sizeof(struct mqdev_exchange_msg) ||
	    req->msg_size > PAGE_SIZE ||
	    (req->acks_count && (req->ack_size < sizeof(*c->acks) ||
				 req->ack_size > PAGE_SIZE)))
		return -EINVAL;
	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		return -ENOMEM;
	c->ex = ex;
	c->ap.nonblock = ioc->file->f_flags & O_NONBLOCK;
	err = route_ctx_init(c);
	for (done = 0; !err && done < req->count; done += !err) {
		/* a run publishes, and lets other producers in, now and then */
		if (done && !(done % EXCHANGE_RUN_MSGS))
			mqdev_append_end(&c->ap);
		umsg = u64_to_user_ptr(req->msgs + done * req->msg_size);
		err = route_one(c, req, umsg);
	}
	mqdev_append_end(&c->ap);
	route_ctx_free(c);
	return done ? done : err;
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
