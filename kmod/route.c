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
 * lives already where its parent does, for it may match zero words.  The
 * set holds each node once, so a pattern such as "#.#" cannot make the walk
 * blow up; it is never larger than the trie.
 *
 * The trie is the exchange's (exchange.c): changed under its lock held for
 * writing, with every node made before the lock is taken, and read under it
 * held for reading, into the caller's arrays: nothing here sleeps,
 * allocates (but the hash table's own atomic growth), or touches user
 * memory.
 */

#include <linux/jhash.h>
#include <linux/rhashtable.h>
#include <linux/slab.h>
#include <linux/sort.h>
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
	const char *end = key + len, *dot;
	u32 n = 0;

	if (t && !t->wildcards) {
		words[0].word = key;
		words[0].len = len;
		return 1;
	}
	if (!len)
		return 0;
	/* len <= MQDEV_ROUTING_KEY_MAX: at most len + 1 words fit */
	for (; n < MQDEV_ROUTE_MAX_WORDS; key = dot + 1) {
		dot = memchr(key, '.', end - key);
		words[n].word = key;
		words[n].len = (dot ?: end) - key;
		n++;
		if (!dot)
			break;
	}
	return n;
}

static struct mqdev_route_node *route_child(struct mqdev_route_trie *t,
					    struct mqdev_route_node *parent,
					    const struct mqdev_route_word *w)
{
	struct route_key k = { parent, w->word, w->len };

	if (t->wildcards && word_is(w, '*'))
		return parent->star;
	if (t->wildcards && word_is(w, '#'))
		return parent->hash;
	return rhashtable_lookup_fast(&t->edges, &k, route_params);
}

static int route_link(struct mqdev_route_trie *t,
		      struct mqdev_route_node *parent,
		      struct mqdev_route_node *n,
		      const struct mqdev_route_word *w)
{
	int err = 0;

	n->parent = parent;
	n->len = w->len;
	memcpy(n->word, w->word, w->len);
	if (t->wildcards && word_is(w, '*'))
		parent->star = n;
	else if (t->wildcards && word_is(w, '#'))
		parent->hash = n;
	else
		err = rhashtable_insert_fast(&t->edges, &n->hnode,
					     route_params);
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

	if (parent->star == n)
		parent->star = NULL;
	else if (parent->hash == n)
		parent->hash = NULL;
	else
		rhashtable_remove_fast(&t->edges, &n->hnode, route_params);
	parent->children--;
	t->nr_nodes--;
	/* No reader holds it (they hold the lock); the table may, briefly. */
	kfree_rcu(n, rcu);
}

/**
 * mqdev_route_prune() - free the nodes no binding needs any more
 * @t: the trie, locked for writing
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
 * @t: the trie, locked for writing
 * @words: the key's words
 * @nr: how many
 * @spare: at least @nr nodes, from mqdev_route_node_alloc(), each with room
 *	   for the longest word; those used are taken off the array (NULL)
 *
 * Return: the node, or an ERR_PTR() of the hash table's -ENOMEM or -EBUSY,
 * with the trie as it was.
 */
struct mqdev_route_node *mqdev_route_insert(struct mqdev_route_trie *t,
					    const struct mqdev_route_word *words,
					    u32 nr,
					    struct mqdev_route_node **spare)
{
	struct mqdev_route_node *n = t->root, *child;
	u32 i;
	int err;

	for (i = 0; i < nr; i++) {
		child = route_child(t, n, &words[i]);
		if (!child) {
			child = spare[i];
			err = route_link(t, n, child, &words[i]);
			if (err) {
				mqdev_route_prune(t, n);
				return ERR_PTR(err);
			}
			spare[i] = NULL;
		}
		n = child;
	}
	return n;
}

/**
 * mqdev_route_find() - the node a key ends at, if there is one
 * @t: the trie, locked
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

	rcu_read_lock();
	for (i = 0; i < nr && n; i++)
		n = route_child(t, n, &words[i]);
	rcu_read_unlock();
	return n;
}

static int ptr_cmp(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a;
	unsigned long y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/* Each node of @set once; returns how many are left. */
static u32 set_unique(struct mqdev_route_node **set, u32 nr)
{
	u32 i, n = 0;

	sort(set, nr, sizeof(*set), ptr_cmp, NULL);
	for (i = 0; i < nr; i++)
		if (!n || set[n - 1] != set[i])
			set[n++] = set[i];
	return n;
}

/* The '#' children of the set live where it does: zero words matched. */
static int set_close(struct mqdev_route_node **set, u32 *nr, u32 room)
{
	u32 before, i;

	do {
		before = *nr;
		for (i = 0; i < before; i++) {
			if (!set[i]->hash)
				continue;
			if (*nr == room)
				return -E2BIG;
			set[(*nr)++] = set[i]->hash;
		}
		*nr = set_unique(set, *nr);
	} while (*nr != before);
	return 0;
}

/* The nodes that live after word @w, from those of @cur, into @next. */
static int set_step(struct mqdev_route_trie *t, struct mqdev_route_node **cur,
		    u32 nr, const struct mqdev_route_word *w,
		    struct mqdev_route_node **next, u32 room, u32 *nr_next)
{
	struct mqdev_route_node *cand[3];
	u32 i, j, n = 0;

	for (i = 0; i < nr; i++) {
		struct route_key k = { cur[i], w->word, w->len };

		cand[0] = rhashtable_lookup(&t->edges, &k, route_params);
		cand[1] = cur[i]->star;
		/* a '#' node goes on eating words */
		cand[2] = cur[i]->parent && cur[i]->parent->hash == cur[i] ?
			  cur[i] : NULL;
		for (j = 0; j < ARRAY_SIZE(cand); j++) {
			if (!cand[j])
				continue;
			if (n == room)
				return -E2BIG;
			next[n++] = cand[j];
		}
	}
	*nr_next = set_unique(next, n);
	return set_close(next, nr_next, room);
}

/**
 * mqdev_route_match() - the nodes whose keys match a routing key
 * @t: the trie, locked for reading
 * @words: the routing key's words (mqdev_route_split())
 * @nr: how many
 * @set: two arrays of @room nodes each, one after the other: the matching
 *	 nodes are left at the start, each once
 * @room: the room in each
 *
 * A topic key matched against a direct exchange's trie is one word, so
 * only the key itself matches there.
 *
 * Return: the number of matching nodes, or -E2BIG when more nodes were
 * alive at once than @room (ask again with more: the trie's nr_nodes is
 * always enough).
 */
int mqdev_route_match(struct mqdev_route_trie *t,
		      const struct mqdev_route_word *words, u32 nr,
		      struct mqdev_route_node **set, u32 room)
{
	struct mqdev_route_node **cur = set, **next = set + room, **tmp;
	u32 n = 1, i;
	int err = 0;

	rcu_read_lock();
	cur[0] = t->root;
	if (t->wildcards)
		err = set_close(cur, &n, room);
	for (i = 0; i < nr && n && !err; i++) {
		err = set_step(t, cur, n, &words[i], next, room, &n);
		tmp = cur;
		cur = next;
		next = tmp;
	}
	rcu_read_unlock();
	if (err)
		return err;
	if (cur != set)
		memcpy(set, cur, n * sizeof(*set));
	return n;
}
