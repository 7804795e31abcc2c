// SPDX-License-Identifier: GPL-2.0
/*
 * Headers exchanges: a binding holds header names and values, a message
 * matches it by its record headers (the MQDEV_RECORD_HEADERS block at the
 * start of its value, whose layout the uapi header gives).
 *
 * The block comes from the producer and is read as it is: every length is
 * checked against the bytes there before it is followed.  A message's
 * block is looked at within its first MQDEV_ROUTE_HEADERS_MAX bytes, which
 * the exchange copied in before routing, so a block holds at most 511
 * headers; they are sorted once per message, and each header of a binding
 * is then a binary search: matching a message costs the bindings times
 * their headers times log2(511), whatever the producer sends.
 */

#include <linux/bsearch.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>
#include "xroute.h"

#define HDR_FIXED	(2 * sizeof(u32))	/* key_len, value_len */
#define HDRS_MAX(len)	(((len) - sizeof(u32)) / HDR_FIXED)

static_assert(HDRS_MAX(MQDEV_ROUTE_HEADERS_MAX) == MQDEV_MSG_HDRS_MAX);

/* An unaligned word of the block, in host order as the producer laid it. */
static u32 block_u32(const u8 *p)
{
	u32 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * The headers of the block at @p, of at most @len bytes, into @h (room
 * for HDRS_MAX(@len)); *@used says how many bytes the block took.
 */
static int headers_parse(const u8 *p, u32 len, struct mqdev_hdr *h, u32 *nr,
			 u32 *used)
{
	u32 count, at = sizeof(u32), i, klen;
	s32 vlen;

	if (len < sizeof(u32))
		return -EINVAL;
	count = block_u32(p);
	if (count > HDRS_MAX(len))
		return -EINVAL;
	for (i = 0; i < count; i++) {
		if (len - at < HDR_FIXED)
			return -EINVAL;
		klen = block_u32(p + at);
		vlen = (s32)block_u32(p + at + sizeof(u32));
		at += HDR_FIXED;
		if (klen > len - at || vlen < -1 ||
		    (vlen > 0 && (u32)vlen > len - at - klen))
			return -EINVAL;
		h[i].name = p + at;
		h[i].name_len = klen;
		h[i].value_len = vlen;
		h[i].value = vlen < 0 ? NULL : p + at + klen;
		at += klen + (vlen > 0 ? vlen : 0);
	}
	*nr = count;
	*used = at;
	return 0;
}

static int bytes_cmp(const u8 *a, u32 alen, const u8 *b, u32 blen)
{
	int r = memcmp(a, b, min(alen, blen));

	if (r)
		return r;
	return alen < blen ? -1 : alen > blen;
}

/* By name, then value, a null value before every other. */
static int hdr_cmp(const void *x, const void *y)
{
	const struct mqdev_hdr *a = x, *b = y;
	int r = bytes_cmp(a->name, a->name_len, b->name, b->name_len);

	if (r || a->value_len < 0 || b->value_len < 0)
		return r ?: (a->value_len >= 0) - (b->value_len >= 0);
	return bytes_cmp(a->value, a->value_len, b->value, b->value_len);
}

/* A binding's header: a null value matches any header of its name. */
static int hdr_key_cmp(const void *key, const void *elt)
{
	const struct mqdev_hdr *k = key, *h = elt;

	if (k->value_len < 0)
		return bytes_cmp(k->name, k->name_len, h->name, h->name_len);
	return hdr_cmp(k, h);
}

/**
 * mqdev_bind_headers_new() - a headers exchange binding's headers
 * @block: user pointer to a header block (the record format), or NULL
 * @len: its bytes, at most MQDEV_BIND_HEADERS_MAX; 0 for no headers
 * @match: MQDEV_MATCH_ALL or MQDEV_MATCH_ANY
 *
 * Return: the headers, to kfree(); ERR_PTR(-EINVAL) for a bad match, a
 * block too long, or one that is not well formed or leaves bytes over;
 * -EFAULT; -ENOMEM.
 */
struct mqdev_bind_headers *mqdev_bind_headers_new(const void __user *block,
						  u32 len, u32 match)
{
	struct mqdev_bind_headers *b;
	u32 used, room;
	int err;

	if (match > MQDEV_MATCH_ANY || len > MQDEV_BIND_HEADERS_MAX)
		return ERR_PTR(-EINVAL);
	room = len >= sizeof(u32) ? HDRS_MAX(len) : 0;
	b = kzalloc(sizeof(*b) + ALIGN(len, 8) + room * sizeof(*b->h),
		    GFP_KERNEL_ACCOUNT);
	if (!b)
		return ERR_PTR(-ENOMEM);
	b->match = match;
	b->len = len;
	b->h = (struct mqdev_hdr *)(b->block + ALIGN(len, 8));
	if (copy_from_user(b->block, block, len)) {
		err = -EFAULT;
		goto err;
	}
	/* no block at all: no headers */
	err = len ? headers_parse(b->block, len, b->h, &b->nr, &used) : 0;
	if (!err && len && used != len)
		err = -EINVAL;
	if (err)
		goto err;
	return b;
err:
	kfree(b);
	return ERR_PTR(err);
}

/**
 * mqdev_bind_headers_equal() - do two bindings hold the same headers?
 * @a: one, or NULL (not a headers exchange's)
 * @b: the other, or NULL
 *
 * Byte for byte, as they were bound: unbinding names them as binding did.
 *
 * Return: true if they are the same.
 */
bool mqdev_bind_headers_equal(const struct mqdev_bind_headers *a,
			      const struct mqdev_bind_headers *b)
{
	if (!a || !b)
		return a == b;
	return a->match == b->match && a->len == b->len &&
	       !memcmp(a->block, b->block, a->len);
}

/**
 * mqdev_msg_headers_parse() - a message's headers, from its copied block
 * @m: m->block holds the first @len bytes of the value, m->h has room
 *	for MQDEV_MSG_HDRS_MAX headers
 * @len: how many, at most MQDEV_ROUTE_HEADERS_MAX
 *
 * Return: 0, or -EINVAL for a block that is not well formed within them.
 */
int mqdev_msg_headers_parse(struct mqdev_msg_headers *m, u32 len)
{
	u32 used;
	int err;

	m->nr = 0;
	err = headers_parse(m->block, len, m->h, &m->nr, &used);
	if (err)
		return err;
	sort(m->h, m->nr, sizeof(*m->h), hdr_cmp, NULL);
	return 0;
}

/**
 * mqdev_headers_match() - does a message match a binding's headers?
 * @b: the binding's
 * @m: the message's, parsed (an empty set for a message without)
 *
 * Return: true if it does, by the binding's match mode.
 */
bool mqdev_headers_match(const struct mqdev_bind_headers *b,
			 const struct mqdev_msg_headers *m)
{
	bool any = b->match == MQDEV_MATCH_ANY, found;
	u32 i;

	for (i = 0; i < b->nr; i++) {
		found = bsearch(&b->h[i], m->h, m->nr, sizeof(*m->h),
				hdr_key_cmp);
		if (found == any)
			return any;
	}
	return !any;
}
