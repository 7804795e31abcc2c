// SPDX-License-Identifier: GPL-2.0
/*
 * The routing trie of an exchange: binding keys stored word by word, so
 * that finding the bindings a routing key matches costs what the key's
 * words and the patterns alive along them cost, not what the number of
 * bindings does (the structure RabbitMQ's topic exchange keeps).
 *
 * Every node is a word after its parent's: the edge (parent, word) is found
 * in one hash table per trie, and the wildcard words '*' and '#' of a topic
 * exchange are each parent's two pointers instead.  A binding hangs off the
 * node its key ends at.  A direct exchange's key is one word, whatever it
 * holds: its trie is a hash table from the root.
 *
 * Matching walks the key as a set of live nodes, one word at a time, as an
 * NFA is simulated: a node lives on into the next word through its child of
 * that word, its '*' child, and itself if it is a '#' node; a '#' child
 * lives already where its parent does, for it may match zero words.  Each
 * node joins a word's set once (visit marks, kept in the matcher's own
 * scratch so that readers write nothing shared), so it is expanded once per
 * word and a pattern such as "#.#" cannot make the walk blow up; a set of
 * more than MQDEV_ROUTE_MAX_LIVE nodes ends the match with E2BIG.  A match
 * thus costs at most words * MQDEV_ROUTE_MAX_LIVE hash lookups.
 *
 * The trie is the exchange's (exchange.c), changed under its mutex by bind,
 * unbind and delete, with every node made before; it is published with RCU
 * (the hash table's own, and rcu_assign_pointer() of the wildcard
 * children) and nodes are freed after a grace period.  Matching takes no
 * lock at all: it runs under rcu_read_lock() into the caller's scratch, and
 * never sleeps, allocates or touches user memory.
 */

#include <linux/jhash.h>
#include <linux/rhashtable.h>
#include <linux/slab.h>
#include <linux/hash.h>
#include <linux/log2.h>
#include <linux/string.h>
#include "exchange.h"

struct route_key {
	const struct mqdev_route_node	*parent;
	const char			*word;
	u32				len;
};

static u32 route_hash(const struct mqdev_route_node *parent, const char *word,
		      u32 len, u32 seed)
{
	return jhash(word, len, seed ^ (u32)hash_ptr(parent, 32));
}

static u32 route_key_hash(const void *data, u32 len, u32 seed)
{
	const struct route_key *k = data;

	return route_hash(k->parent, k->word, k->len, seed);
}

static u32 route_obj_hash(const void *data, u32 len, u32 seed)
{
	const struct mqdev_route_node *n = data;

	return route_hash(n->parent, n->word, n->len, seed);
}

static int route_cmp(struct rhashtable_compare_arg *arg, const void *obj)
{
	const struct route_key *k = arg->key;
	const struct mqdev_route_node *n = obj;

	return n->parent != k->parent || n->len != k->len ||
	       memcmp(n->word, k->word, k->len);
}

static const struct rhashtable_params route_params = {
	.head_offset		= offsetof(struct mqdev_route_node, hnode),
	.hashfn			= route_key_hash,
	.obj_hashfn		= route_obj_hash,
	.obj_cmpfn		= route_cmp,
	.automatic_shrinking	= true,
};

/**
 * mqdev_route_node_alloc() - a node for mqdev_route_insert() to use
 * @len: the longest word it may hold
 *
 * Return: the node, or NULL.
 */
struct mqdev_route_node *mqdev_route_node_alloc(u32 len)
{
	struct mqdev_route_node *n;

	n = kzalloc(struct_size(n, word, len), GFP_KERNEL_ACCOUNT);
	if (n)
		INIT_LIST_HEAD(&n->ends);
	return n;
}

/**
 * mqdev_route_init() - an empty trie
 * @t: the trie
 * @wildcards: '*' and '#' are wildcards (a topic exchange)
 *
 * Return: 0 or -ENOMEM.
 */
int mqdev_route_init(struct mqdev_route_trie *t, bool wildcards)
{
	int err;

	t->root = mqdev_route_node_alloc(0);
	if (!t->root)
		return -ENOMEM;
	err = rhashtable_init(&t->edges, &route_params);
	if (err) {
		kfree(t->root);
		return err;
	}
	t->wildcards = wildcards;
	t->nr_nodes = 1;
	return 0;
}

/**
 * mqdev_route_destroy() - free a trie; its bindings are gone already
 * @t: the trie, no longer reachable
 */
void mqdev_route_destroy(struct mqdev_route_trie *t)
{
	WARN_ON_ONCE(t->nr_nodes != 1 || t->root->children);
	rhashtable_destroy(&t->edges);
	kfree(t->root);
}

static bool word_is(const struct mqdev_route_word *w, char c)
{
	return w->len == 1 && w->word[0] == c;
}

/**
 * mqdev_route_split() - a key's words
 * @t: the trie whose kind of key it is, or NULL for a topic exchange's
 * @key: the key
 * @len: its length, at most MQDEV_ROUTING_KEY_MAX
 * @words: room for MQDEV_ROUTE_MAX_WORDS words
 *
 * A topic key's words are what the dots separate, empty ones included; the
 * empty key has none.  A direct key is one word.
 *
 * Return: the number of words.
 */
u32 mqdev_route_split(const struct mqdev_route_trie *t, const char *key,
		      u32 len, struct mqdev_route_word *words)
{
	u32 i, start = 0, n = 0;

	if (t && !t->wildcards) {
		words[0].word = key;
		words[0].len = len;
		return 1;
	}
	if (!len)
		return 0;
	/*
	 * One pass, not a memchr() a word: it runs for every message routed.
	 * len <= MQDEV_ROUTING_KEY_MAX: at most len + 1 words fit.
	 */
	for (i = 0; i < len; i++) {
		if (key[i] != '.')
			continue;
		words[n].word = key + start;
		words[n++].len = i - start;
		start = i + 1;
	}
	words[n].word = key + start;
	words[n++].len = len - start;
	return n;
}

/* Writers hold the trie's writer lock (the exchange's mutex). */
#define route_deref_w(p)	rcu_dereference_protected(p, 1)

static struct mqdev_route_node *route_child(struct mqdev_route_trie *t,
					    struct mqdev_route_node *parent,
					    const struct mqdev_route_word *w)
{
	struct route_key k = { parent, w->word, w->len };

	if (t->wildcards && word_is(w, '*'))
		return route_deref_w(parent->star);
	if (t->wildcards && word_is(w, '#'))
		return route_deref_w(parent->hash);
	return rhashtable_lookup_fast(&t->edges, &k, route_params);
}

/* Fill @n in, then publish it: readers may find it from now on. */
static int route_link(struct mqdev_route_trie *t,
		      struct mqdev_route_node *parent,
		      struct mqdev_route_node *n,
		      const struct mqdev_route_word *w)
{
	int err = 0;

	n->parent = parent;
	n->len = w->len;
	memcpy(n->word, w->word, w->len);
	n->kind = MQDEV_ROUTE_WORD;
	if (t->wildcards && word_is(w, '*')) {
		n->kind = MQDEV_ROUTE_STAR;
		rcu_assign_pointer(parent->star, n);
	} else if (t->wildcards && word_is(w, '#')) {
		n->kind = MQDEV_ROUTE_HASH;
		rcu_assign_pointer(parent->hash, n);
	} else {
		err = rhashtable_insert_fast(&t->edges, &n->hnode,
					     route_params);
	}
	if (err)
		return err;
	parent->children++;
	t->nr_nodes++;
	return 0;
}

static void route_unlink(struct mqdev_route_trie *t,
			 struct mqdev_route_node *n)
{
	struct mqdev_route_node *parent = n->parent;

	if (n->kind == MQDEV_ROUTE_STAR)
		RCU_INIT_POINTER(parent->star, NULL);
	else if (n->kind == MQDEV_ROUTE_HASH)
		RCU_INIT_POINTER(parent->hash, NULL);
	else
		rhashtable_remove_fast(&t->edges, &n->hnode, route_params);
	parent->children--;
	t->nr_nodes--;
	/* Readers may hold it until their grace period ends. */
	kfree_rcu(n, rcu);
}

/**
 * mqdev_route_prune() - free the nodes no binding needs any more
 * @t: the trie, its writer lock held
 * @n: where a binding left, or where an insertion stopped
 */
void mqdev_route_prune(struct mqdev_route_trie *t, struct mqdev_route_node *n)
{
	struct mqdev_route_node *parent;

	while (n != t->root && !n->children && list_empty(&n->ends)) {
		parent = n->parent;
		route_unlink(t, n);
		n = parent;
	}
}

/**
 * mqdev_route_insert() - the node a key ends at, made as needed
 * @t: the trie, its writer lock held
 * @words: the key's words
 * @nr: how many
 * @max_nodes: the most nodes the trie may have
 * @spare: at least @nr nodes, from mqdev_route_node_alloc(), each with room
 *	   for the longest word; those used are taken off the array (NULL)
 *
 * Return: the node, or an ERR_PTR() of -E2BIG past @max_nodes, or of the
 * hash table's -ENOMEM or -EBUSY, with the trie as it was.
 */
struct mqdev_route_node *mqdev_route_insert(struct mqdev_route_trie *t,
					    const struct mqdev_route_word *words,
					    u32 nr, u32 max_nodes,
					    struct mqdev_route_node **spare)
{
	struct mqdev_route_node *n = t->root, *child;
	u32 i, have;
	int err;

	for (have = 0; have < nr; have++) {
		child = route_child(t, n, &words[have]);
		if (!child)
			break;
		n = child;
	}
	if (t->nr_nodes + (nr - have) > max_nodes)
		return ERR_PTR(-E2BIG);
	for (i = have; i < nr; i++) {
		child = spare[i];
		err = route_link(t, n, child, &words[i]);
		if (err) {
			mqdev_route_prune(t, n);
			return ERR_PTR(err);
		}
		spare[i] = NULL;
		n = child;
	}
	return n;
}

/**
 * mqdev_route_find() - the node a key ends at, if there is one
 * @t: the trie, its writer lock held
 * @words: the key's words
 * @nr: how many
 *
 * Return: the node or NULL.
 */
struct mqdev_route_node *mqdev_route_find(struct mqdev_route_trie *t,
					  const struct mqdev_route_word *words,
					  u32 nr)
{
	struct mqdev_route_node *n = t->root;
	u32 i;

	for (i = 0; i < nr && n; i++)
		n = route_child(t, n, &words[i]);
	return n;
}

/**
 * mqdev_route_lookup() - the node a direct exchange's key ends at
 * @t: a direct exchange's trie, under rcu_read_lock() (no lock)
 * @w: the key, one word
 *
 * What mqdev_route_match() finds for one word when there are no wildcards,
 * with one hash lookup and no live set.
 *
 * Return: the node, valid until rcu_read_unlock(), or NULL.
 */
struct mqdev_route_node *mqdev_route_lookup(struct mqdev_route_trie *t,
					    const struct mqdev_route_word *w)
{
	struct route_key k = { t->root, w->word, w->len };

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "route lookup outside RCU");
	return rhashtable_lookup(&t->edges, &k, route_params);
}

/*
 * Mark @n seen in this step; was it already?  The table has twice the
 * room a step may mark (MQDEV_ROUTE_MAX_LIVE, and the one that overflows),
 * so a free slot is always found.
 */
static bool seen_mark(struct mqdev_route_scratch *s,
		      const struct mqdev_route_node *n)
{
	u32 mask = ARRAY_SIZE(s->seen) - 1;
	u32 i = hash_ptr(n, ilog2(ARRAY_SIZE(s->seen)));

	BUILD_BUG_ON_NOT_POWER_OF_2(ARRAY_SIZE(s->seen));
	for (;; i = (i + 1) & mask) {
		if (s->seen[i].gen != s->gen) {
			s->seen[i].gen = s->gen;
			s->seen[i].node = n;
			return false;
		}
		if (s->seen[i].node == n)
			return true;
	}
}

/* A new step: marks of the ones before no longer count. */
static void seen_next(struct mqdev_route_scratch *s)
{
	if (!++s->gen) {
		memset(s->seen, 0, sizeof(s->seen));
		s->gen = 1;
	}
}

/*
 * Add @n to @set, once, and the '#' nodes under it, which live where it
 * does for they may match no word.  A node seen in this step has had its
 * '#' children added with it.
 */
static int set_add(struct mqdev_route_scratch *s, struct mqdev_route_node **set,
		   u32 *nr, struct mqdev_route_node *n)
{
	for (; n; n = rcu_dereference(n->hash)) {
		if (seen_mark(s, n))
			return 0;
		if (*nr == MQDEV_ROUTE_MAX_LIVE)
			return -E2BIG;
		set[(*nr)++] = n;
	}
	return 0;
}

/* The nodes that live after word @w, from those of @cur, into @next. */
static int set_step(struct mqdev_route_trie *t, struct mqdev_route_scratch *s,
		    struct mqdev_route_node **cur, u32 nr,
		    const struct mqdev_route_word *w,
		    struct mqdev_route_node **next, u32 *nr_next)
{
	struct mqdev_route_node *n;
	u32 i;
	int err = 0;

	*nr_next = 0;
	seen_next(s);
	for (i = 0; i < nr && !err; i++) {
		struct route_key k = { cur[i], w->word, w->len };

		n = rhashtable_lookup(&t->edges, &k, route_params);
		err = set_add(s, next, nr_next, n) ?:
		      set_add(s, next, nr_next, rcu_dereference(cur[i]->star));
		/* a '#' node goes on eating words */
		if (!err && cur[i]->kind == MQDEV_ROUTE_HASH)
			err = set_add(s, next, nr_next, cur[i]);
	}
	return err;
}

/**
 * mqdev_route_match() - the nodes whose keys match a routing key
 * @t: the trie, under rcu_read_lock() (no lock)
 * @words: the routing key's words (mqdev_route_split())
 * @nr: how many
 * @s: the matcher's scratch, one of its own
 * @matched: set to the array of the matching nodes, in @s, each once
 *
 * A topic key matched against a direct exchange's trie is one word, so
 * only the key itself matches there.  The nodes stay valid until
 * rcu_read_unlock().
 *
 * Each step spends one unit of @s->budget per live node (a hash lookup
 * and the '*' and '#' children).
 *
 * Return: the number of matching nodes, or -E2BIG when more than
 * MQDEV_ROUTE_MAX_LIVE nodes were alive at once or the budget ran out.
 */
int mqdev_route_match(struct mqdev_route_trie *t,
		      const struct mqdev_route_word *words, u32 nr,
		      struct mqdev_route_scratch *s,
		      struct mqdev_route_node ***matched)
{
	struct mqdev_route_node **cur = s->set[0], **next = s->set[1], **tmp;
	u32 n = 0, i;
	int err;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "route match outside RCU");
	seen_next(s);
	err = set_add(s, cur, &n, t->root);
	for (i = 0; i < nr && n && !err; i++) {
		if (n > s->budget) {
			s->over = true;
			return -E2BIG;
		}
		s->budget -= n;
		err = set_step(t, s, cur, n, &words[i], next, &n);
		tmp = cur;
		cur = next;
		next = tmp;
	}
	*matched = cur;
	return err ?: n;
}
