/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Routing beyond binding keys: headers exchanges (route_headers.c) and
 * routing programs (route_bpf.c), called from exchange.c.
 */
#ifndef _MQDEV_XROUTE_H
#define _MQDEV_XROUTE_H

#include <linux/rcupdate.h>
#include <linux/types.h>
#include "mqdev.h"

struct bpf_prog;

/* One header: a name and a value (value_len -1: null, value NULL). */
struct mqdev_hdr {
	const u8	*name;
	const u8	*value;
	u32		name_len;
	s32		value_len;
};

/* A headers exchange binding's headers: h[] point into block[]. */
struct mqdev_bind_headers {
	struct rcu_head	rcu;		/* routers read it under RCU */
	u32		match;		/* MQDEV_MATCH_* */
	u32		len;		/* of block */
	u32		nr;
	struct mqdev_hdr *h;		/* nr, after block */
	u8		block[];
};

/* Headers a message's block may hold within MQDEV_ROUTE_HEADERS_MAX. */
#define MQDEV_MSG_HDRS_MAX	((MQDEV_ROUTE_HEADERS_MAX - 4) / 8)

/* A message's headers, parsed and sorted, as one routing sees them. */
struct mqdev_msg_headers {
	u8		*block;		/* MQDEV_ROUTE_HEADERS_MAX bytes */
	struct mqdev_hdr *h;		/* MQDEV_MSG_HDRS_MAX */
	u32		nr;
};

struct mqdev_bind_headers *mqdev_bind_headers_new(const void __user *block,
						  u32 len, u32 match);
bool mqdev_bind_headers_equal(const struct mqdev_bind_headers *a,
			      const struct mqdev_bind_headers *b);
int mqdev_msg_headers_parse(struct mqdev_msg_headers *m, u32 len);
bool mqdev_headers_match(const struct mqdev_bind_headers *b,
			 const struct mqdev_msg_headers *m);

/* The words a routing program reads: struct mqdev_prog_ctx, as loaded. */
#define MQDEV_PROG_CTX_WORDS	(sizeof(struct mqdev_prog_ctx) / 4)

struct bpf_prog *mqdev_prog_load(const struct mqdev_exchange_program *req);
void mqdev_prog_free(struct bpf_prog *prog);
void mqdev_prog_ctx_fill(u32 *ctx, const struct mqdev_exchange_msg *m,
			 const void *rkey, const void *key,
			 const void *value, u32 value_bytes);
u32 mqdev_prog_run(const struct bpf_prog *prog, u32 *ctx, u32 nr_bindings);

#endif /* _MQDEV_XROUTE_H */
