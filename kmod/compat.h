/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What mqdev needs of a kernel older than the one it is written for (6.12),
 * back to Debian 12's 6.1: the newer interfaces, spelt out in the older
 * ones, so that the rest of the module (and the code ynl-gen writes) is
 * written once, against the newest.  Kbuild includes this file first in
 * every object (-include): nothing else includes it.
 *
 * Each block names the release that brought the interface.  On a kernel
 * that has them all this file is empty but for <linux/version.h>.
 */
#ifndef _MQDEV_COMPAT_H
#define _MQDEV_COMPAT_H

#include <linux/version.h>

/*
 * 6.2: split genetlink ops (a do and a dump of one command apart), which the
 * generated netlink-gen.c declares.  6.1's struct genl_ops has every member
 * ynl-gen fills in: cmd, doit, start, dumpit, policy, maxattr and flags,
 * whose GENL_CMD_CAP_* bits (uapi since 5.x) 6.1 ignores in an op and sets
 * itself when it describes the family.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
#include <net/genetlink.h>
#define genl_split_ops		genl_ops
#define MQDEV_GENL_OPS(table)	.ops = (table), .n_ops = ARRAY_SIZE(table)
#else
#define MQDEV_GENL_OPS(table) \
	.split_ops = (table), .n_split_ops = ARRAY_SIZE(table)
#endif

/*
 * 6.6: a dump's parsed request is a struct genl_info (genl_info_dump());
 * before, struct genl_dumpit_info held the attributes itself.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 6, 0)
#define mqdev_genl_dump_attrs(cb)	(genl_dumpit_info(cb)->attrs)
#else
#define mqdev_genl_dump_attrs(cb)	(genl_info_dump(cb)->attrs)
#endif

/*
 * 6.8: genlmsg_multicast_netns_filtered().  Before it a module cannot pick
 * a multicast's listeners one by one, so nobody hears what @filter might
 * refuse to someone: it is asked once with a NULL socket, meaning "any
 * listener", and what it refuses is dropped, never sent to all.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 8, 0)
#include <net/genetlink.h>
static inline int
genlmsg_multicast_netns_filtered(const struct genl_family *family,
				 struct net *net, struct sk_buff *skb,
				 u32 portid, unsigned int group, gfp_t flags,
				 int (*filter)(struct sock *dsk,
					       struct sk_buff *skb, void *data),
				 void *filter_data)
{
	if (filter(NULL, skb, filter_data)) {
		nlmsg_free(skb);
		return -ESRCH;
	}
	return genlmsg_multicast_netns(family, net, skb, portid, group, flags);
}
#endif

/*
 * 6.3: vm_flags became read-only outside these helpers (for the per-VMA
 * lock); before, they were written directly, under the mmap lock as here.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
#include <linux/mm.h>
static inline void vm_flags_mod(struct vm_area_struct *vma, vm_flags_t set,
				vm_flags_t clear)
{
	vma->vm_flags = (vma->vm_flags | set) & ~clear;
}

static inline void vm_flags_set(struct vm_area_struct *vma,
				vm_flags_t flags)
{
	vma->vm_flags |= flags;
}

static inline void vm_flags_clear(struct vm_area_struct *vma,
				  vm_flags_t flags)
{
	vma->vm_flags &= ~flags;
}
#endif

/*
 * 6.9: strscpy_pad(dst, src) sizes an array destination itself; before,
 * the size was always the third argument.  The inner strscpy_pad() is the
 * function: a macro is not expanded again inside its own expansion.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 9, 0)
#include <linux/kernel.h>
#include <linux/string.h>
#define __mqdev_strscpy_pad0(dst, src, ...) \
	strscpy_pad(dst, src, sizeof(dst) + __must_be_array(dst))
#define __mqdev_strscpy_pad1(dst, src, size)	strscpy_pad(dst, src, size)
#define strscpy_pad(dst, src, ...) \
	CONCATENATE(__mqdev_strscpy_pad, COUNT_ARGS(__VA_ARGS__))(dst, src, \
								  __VA_ARGS__)
#endif

/*
 * 6.12: struct fd is read through fd_file() and fd_empty(); before, its
 * file pointer was a member.  (CLASS(fd) itself is 6.5's, and Debian's
 * 6.1 has it from the stable series.)
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 12, 0)
#include <linux/file.h>
#define fd_file(f)	((f).file)
#define fd_empty(f)	(!(f).file)
#endif

/*
 * 6.8, and some stable series (Kbuild looks in security.h): the ioctl hook
 * of a 32-bit caller.  Before it, such a caller's ioctl(2) passed the
 * 64-bit one.
 */
#ifndef MQDEV_HAVE_IOCTL_COMPAT_HOOK
#define security_file_ioctl_compat	security_file_ioctl
#endif

#endif /* _MQDEV_COMPAT_H */
