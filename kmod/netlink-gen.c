// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/mqdev.yaml */
/* YNL-GEN kernel source */

#include <net/netlink.h>
#include <net/genetlink.h>

#include "netlink-gen.h"

#include <uapi/linux/mqdev.h>

/* MQDEV_CMD_GROUP_GET - dump */
static const struct nla_policy mqdev_group_get_nl_policy[MQDEV_A_TOPIC + 1] = {
	[MQDEV_A_GROUP] = { .type = NLA_NUL_STRING, .len = 64, },
	[MQDEV_A_TOPIC] = { .type = NLA_NUL_STRING, .len = 64, },
};

/* MQDEV_CMD_GROUP_COMMIT - do */
static const struct nla_policy mqdev_group_commit_nl_policy[MQDEV_A_GENERATION + 1] = {
	[MQDEV_A_GROUP] = { .type = NLA_NUL_STRING, .len = 64, },
	[MQDEV_A_TOPIC] = { .type = NLA_NUL_STRING, .len = 64, },
	[MQDEV_A_PARTITION] = NLA_POLICY_MAX(NLA_U32, MQDEV_PARTITION_MAX),
	[MQDEV_A_OFFSET] = { .type = NLA_U64, },
	[MQDEV_A_GENERATION] = { .type = NLA_U32, },
};

/* MQDEV_CMD_GROUP_RESET - do */
static const struct nla_policy mqdev_group_reset_nl_policy[MQDEV_A_FORCE + 1] = {
	[MQDEV_A_GROUP] = { .type = NLA_NUL_STRING, .len = 64, },
	[MQDEV_A_TOPIC] = { .type = NLA_NUL_STRING, .len = 64, },
	[MQDEV_A_PARTITION] = NLA_POLICY_MAX(NLA_U32, MQDEV_PARTITION_MAX),
	[MQDEV_A_OFFSET] = { .type = NLA_U64, },
	[MQDEV_A_RESET] = NLA_POLICY_MAX(NLA_U32, 3),
	[MQDEV_A_TIMESTAMP] = { .type = NLA_U64, },
	[MQDEV_A_FORCE] = { .type = NLA_FLAG, },
};

/* MQDEV_CMD_GROUP_DELETE - do */
static const struct nla_policy mqdev_group_delete_nl_policy[MQDEV_A_FORCE + 1] = {
	[MQDEV_A_GROUP] = { .type = NLA_NUL_STRING, .len = 64, },
	[MQDEV_A_TOPIC] = { .type = NLA_NUL_STRING, .len = 64, },
	[MQDEV_A_FORCE] = { .type = NLA_FLAG, },
};

/* MQDEV_CMD_CHECKER_REGISTER - do */
static const struct nla_policy mqdev_checker_register_nl_policy[MQDEV_A_PRODUCER + 1] = {
	[MQDEV_A_PRODUCER] = { .type = NLA_NUL_STRING, .len = 64, },
};

/* MQDEV_CMD_TXN_RESOLVE - do */
static const struct nla_policy mqdev_txn_resolve_nl_policy[MQDEV_A_DECISION + 1] = {
	[MQDEV_A_PRODUCER] = { .type = NLA_NUL_STRING, .len = 64, },
	[MQDEV_A_TXN] = { .type = NLA_U64, },
	[MQDEV_A_DECISION] = NLA_POLICY_RANGE(NLA_U32, 2, 5),
};

/* MQDEV_CMD_STATS_GET - dump */
static const struct nla_policy mqdev_stats_get_nl_policy[MQDEV_A_TOPIC + 1] = {
	[MQDEV_A_TOPIC] = { .type = NLA_NUL_STRING, .len = 64, },
};

/* Ops table for mqdev */
const struct genl_split_ops mqdev_nl_ops[8] = {
	{
		.cmd		= MQDEV_CMD_GROUP_GET,
		.start		= mqdev_nl_group_get_start,
		.dumpit		= mqdev_nl_group_get_dumpit,
		.policy		= mqdev_group_get_nl_policy,
		.maxattr	= MQDEV_A_TOPIC,
		.flags		= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= MQDEV_CMD_GROUP_COMMIT,
		.doit		= mqdev_nl_group_commit_doit,
		.policy		= mqdev_group_commit_nl_policy,
		.maxattr	= MQDEV_A_GENERATION,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= MQDEV_CMD_GROUP_RESET,
		.doit		= mqdev_nl_group_reset_doit,
		.policy		= mqdev_group_reset_nl_policy,
		.maxattr	= MQDEV_A_FORCE,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= MQDEV_CMD_GROUP_DELETE,
		.doit		= mqdev_nl_group_delete_doit,
		.policy		= mqdev_group_delete_nl_policy,
		.maxattr	= MQDEV_A_FORCE,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= MQDEV_CMD_CHECKER_REGISTER,
		.doit		= mqdev_nl_checker_register_doit,
		.policy		= mqdev_checker_register_nl_policy,
		.maxattr	= MQDEV_A_PRODUCER,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= MQDEV_CMD_TXN_RESOLVE,
		.doit		= mqdev_nl_txn_resolve_doit,
		.policy		= mqdev_txn_resolve_nl_policy,
		.maxattr	= MQDEV_A_DECISION,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= MQDEV_CMD_STATS_GET,
		.start		= mqdev_nl_group_get_start,
		.dumpit		= mqdev_nl_stats_get_dumpit,
		.policy		= mqdev_stats_get_nl_policy,
		.maxattr	= MQDEV_A_TOPIC,
		.flags		= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd	= MQDEV_CMD_MODULE_STATS_GET,
		.doit	= mqdev_nl_module_stats_get_doit,
		.flags	= GENL_CMD_CAP_DO,
	},
};

static const struct genl_multicast_group mqdev_nl_mcgrps[] = {
	[MQDEV_NLGRP_EVENTS] = { "events", },
};
