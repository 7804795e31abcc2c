/* SPDX-License-Identifier: GPL-2.0 */
/* Exchanges (exchange.c) and their routing tries (route.c). */
#ifndef _MQDEV_EXCHANGE_H
#define _MQDEV_EXCHANGE_H

#include <linux/rcupdate.h>
#include <linux/rhashtable-types.h>
#include "mqdev.h"

/*
 * A key of MQDEV_ROUTING_KEY_MAX bytes has at most this many words: empty
 * words count, so a key of dots alone has one more word than bytes.
 */
#define MQDEV_ROUTE_MAX_WORDS	(MQDEV_ROUTING_KEY_MAX + 1)

/*
 * Patterns one match may keep alive at once: a routing key whose walk
 * would keep more is refused (E2BIG).  A match expands each live node once
 * per word, so it costs at most MQDEV_ROUTE_MAX_WORDS * MQDEV_ROUTE_MAX_LIVE
 * steps of one hash lookup each, whatever the bindings.
 */
#define MQDEV_ROUTE_MAX_LIVE	MQDEV_ROUTING_MAX_LIVE
/* '#' words one binding key may have: more is refused (EINVAL). */
#define MQDEV_ROUTE_MAX_HASHES	MQDEV_ROUTING_KEY_MAX_HASHES

struct mqdev_route_word {
	const char	*word;
	u32		len;
};

enum mqdev_route_kind {
	MQDEV_ROUTE_WORD,
	MQDEV_ROUTE_STAR,
	MQDEV_ROUTE_HASH,
};

/* A word of a binding key after its parent's; see route.c. */
struct mqdev_route_node {
	struct rhash_head		hnode;	/* in edges, by parent and word */
	struct mqdev_route_node		*parent;
	struct mqdev_route_node __rcu	*star;	/* the '*' child */
	struct mqdev_route_node __rcu	*hash;	/* the '#' child */
	u32				children;
	u32				kind;	/* enum mqdev_route_kind */
	struct list_head		ends;	/* bindings whose key ends here */
	struct rcu_head			rcu;
	u32				len;
	char				word[];
};

struct mqdev_route_trie {
	struct rhashtable		edges;
	struct mqdev_route_node		*root;
	u32				nr_nodes;
	bool				wildcards;	/* a topic exchange */
};

/* A match's own arrays: one per producer, so readers share nothing. */
struct mqdev_route_scratch {
	struct mqdev_route_node		*set[2][MQDEV_ROUTE_MAX_LIVE];
	struct {
		const struct mqdev_route_node	*node;
		u32				gen;
	} seen[2 * MQDEV_ROUTE_MAX_LIVE];	/* visit marks, by address */
	u32				gen;
	u32				budget;	/* work left; see exchange.c */
	bool				over;	/* the budget ran out */
};

struct mqdev_route_node *mqdev_route_node_alloc(u32 len);
int mqdev_route_init(struct mqdev_route_trie *t, bool wildcards);
void mqdev_route_destroy(struct mqdev_route_trie *t);
u32 mqdev_route_split(const struct mqdev_route_trie *t, const char *key,
		      u32 len, struct mqdev_route_word *words);
struct mqdev_route_node *mqdev_route_lookup(struct mqdev_route_trie *t,
					    const struct mqdev_route_word *w);
struct mqdev_route_node *mqdev_route_insert(struct mqdev_route_trie *t,
					    const struct mqdev_route_word *words,
					    u32 nr, u32 max_nodes,
					    struct mqdev_route_node **spare);
struct mqdev_route_node *mqdev_route_find(struct mqdev_route_trie *t,
					  const struct mqdev_route_word *words,
					  u32 nr);
void mqdev_route_prune(struct mqdev_route_trie *t, struct mqdev_route_node *n);
int mqdev_route_match(struct mqdev_route_trie *t,
		      const struct mqdev_route_word *words, u32 nr,
		      struct mqdev_route_scratch *s,
		      struct mqdev_route_node ***matched);

#endif /* _MQDEV_EXCHANGE_H */
