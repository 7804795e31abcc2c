/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/mqdev.yaml */
/* YNL-GEN kernel header */

#ifndef _LINUX_MQDEV_GEN_H
#define _LINUX_MQDEV_GEN_H

#include <net/netlink.h>
#include <net/genetlink.h>

#include <uapi/linux/mqdev.h>

#define MQDEV_PARTITION_MAX	255

/* Ops table for mqdev */
extern const struct genl_split_ops mqdev_nl_ops[8];

int mqdev_nl_group_get_start(struct netlink_callback *cb);

int mqdev_nl_group_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb);
int mqdev_nl_group_commit_doit(struct sk_buff *skb, struct genl_info *info);
int mqdev_nl_group_reset_doit(struct sk_buff *skb, struct genl_info *info);
int mqdev_nl_group_delete_doit(struct sk_buff *skb, struct genl_info *info);
int mqdev_nl_checker_register_doit(struct sk_buff *skb, struct genl_info *info);
int mqdev_nl_txn_resolve_doit(struct sk_buff *skb, struct genl_info *info);
int mqdev_nl_stats_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb);
int mqdev_nl_module_stats_get_doit(struct sk_buff *skb, struct genl_info *info);

enum {
	MQDEV_NLGRP_EVENTS,
};

#endif /* _LINUX_MQDEV_GEN_H */
