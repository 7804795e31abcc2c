// SPDX-License-Identifier: GPL-2.0
/*
 * Who may do what: the one place the ioctls and the netlink family ask.
 *
 * The actors and what each may cost the others are in the threat model of
 * Documentation/mqdev.rst ("Who may do what"); this file is its code:
 *
 *   act                 needs
 *   ------------------  -----------------------------------------------------
 *   PRODUCE             write permission on the topic (its mode bits)
 *   CONSUME, DESCRIBE   read permission on the topic
 *   HOLD                a standalone reader holding a block topic's records:
 *                       write permission (holding stops the producers)
 *   TOPIC_DELETE        the topic's owner, or CAP_SYS_ADMIN
 *   GROUP_USE           read permission, and the group's owner (its maker);
 *                       join, commit, reset, and make a group by doing so;
 *                       a group holds a block topic only if its maker may
 *                       HOLD
 *   GROUP_DELETE        the group's owner or the topic's owner: whatever
 *                       holds a topic, its owner may take away
 *   REPLICATE           read permission and CAP_SYS_ADMIN: a replica's
 *                       confirmations are what acks=all producers are told
 *                       is safe, and a slow one holds them all back
 *
 * Exchanges (exchange.c) have an owner and mode bits of their own, asked
 * through mqdev_mode_permits() and mqdev_owner_permits():
 *
 *   EXCHANGE_CREATE     anyone, charged; an alternate topic needs PRODUCE
 *   EXCHANGE_DELETE     the exchange's owner, or CAP_SYS_ADMIN
 *   LIST, DESCRIBE      read permission on the exchange
 *   BIND                write permission on the exchange and PRODUCE on the
 *                       topic: the binder lends the exchange's producers
 *                       its right to write the topic
 *   UNBIND              write permission on the exchange
 *   EXCHANGE_ATTACH     write permission on the exchange (to produce)
 *
 * CAP_IPC_OWNER in the topic's user namespace passes the mode bits, as it
 * does for System V IPC; CAP_SYS_ADMIN there passes every owner check.  Over
 * netlink a capability counts only if the socket's opener has it too, as
 * netlink_ns_capable() asks, so that a privileged process writing what an
 * unprivileged one asked for on its socket is no deputy.
 */

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/netlink.h>
#include <net/net_namespace.h>
#include "mqdev.h"

static bool cred_in_group(const struct cred *cred, kgid_t gid)
{
	const struct group_info *gi = cred->group_info;
	int i;

	if (gid_eq(cred->fsgid, gid))
		return true;
	for (i = 0; gi && i < gi->ngroups; i++)
		if (gid_eq(gi->gid[i], gid))
			return true;
	return false;
}

/* @may is MAY_READ and/or MAY_WRITE, checked against @mode like a file's. */
static bool mode_permits(kuid_t uid, kgid_t gid, umode_t mode,
			 const struct cred *cred, int may)
{
	if (uid_eq(cred->fsuid, uid))
		mode >>= 6;
	else if (cred_in_group(cred, gid))
		mode >>= 3;
	return !(may & ~mode & (MAY_READ | MAY_WRITE));
}

/**
 * mqdev_cred_may_read() - may a listener with @cred hear of a topic?
 * @uid: the topic's owner
 * @gid: the topic's group
 * @mode: the topic's mode bits
 * @cred: the listener's credentials, from when it opened its socket
 *
 * For the netlink events, filtered per listener in atomic context: no
 * capability is asked, only the mode bits, and root is root.
 *
 * Return: true when @cred may read the topic.
 */
bool mqdev_cred_may_read(kuid_t uid, kgid_t gid, umode_t mode,
			 const struct cred *cred)
{
	return mode_permits(uid, gid, mode, cred, MAY_READ) ||
	       uid_eq(cred->euid, GLOBAL_ROOT_UID);
}

/* Who asks: the device's caller, or a netlink request's sender and opener. */
static bool subject_capable(const struct sk_buff *nlskb,
			    const struct mqdev_topic *topic, int cap)
{
	struct user_namespace *ns = topic->net->user_ns;

	return nlskb ? netlink_ns_capable(nlskb, ns, cap) : ns_capable(ns, cap);
}

/* Ownership is by fsuid, as it was recorded, like a file's. */
static bool topic_owner(const struct sk_buff *nlskb,
			const struct mqdev_topic *topic)
{
	return uid_eq(current_fsuid(), topic->uid) ||
	       subject_capable(nlskb, topic, CAP_SYS_ADMIN);
}

static bool topic_may(const struct sk_buff *nlskb,
		      const struct mqdev_topic *topic, int may)
{
	return mode_permits(topic->uid, topic->gid, topic->mode,
			    current_cred(), may) ||
	       subject_capable(nlskb, topic, CAP_IPC_OWNER);
}

static bool owner_of(const struct sk_buff *nlskb,
		     const struct mqdev_topic *topic, kuid_t uid)
{
	return uid_eq(current_fsuid(), uid) ||
	       subject_capable(nlskb, topic, CAP_SYS_ADMIN);
}

static bool group_owner(const struct sk_buff *nlskb,
			const struct mqdev_group *g)
{
	return owner_of(nlskb, g->topic, g->uid);
}

/**
 * mqdev_group_delete_permits() - may the caller delete a group of @topic?
 * @nlskb: the netlink request asking, or NULL for the device's caller
 * @topic: the group's topic
 * @uid: the group's owner (its maker)
 *
 * MQDEV_ACT_GROUP_DELETE for a group that is not a struct mqdev_group (a
 * share group): its owner or the topic's, with CAP_SYS_ADMIN counted only
 * if a netlink socket's opener has it too.
 *
 * Return: 0 or -EPERM.
 */
int mqdev_group_delete_permits(const struct sk_buff *nlskb,
			       const struct mqdev_topic *topic, kuid_t uid)
{
	return owner_of(nlskb, topic, uid) || topic_owner(nlskb, topic) ?
	       0 : -EPERM;
}

/**
 * mqdev_mode_permits() - may the device's caller @may on an object?
 * @net: the object's network namespace
 * @uid: its owner
 * @gid: its group
 * @mode: its mode bits
 * @may: MAY_READ and/or MAY_WRITE
 *
 * For objects other than topics (exchanges): the mode bits, or
 * CAP_IPC_OWNER in the namespace's user namespace, as for a topic.
 *
 * Return: 0 or -EACCES.
 */
int mqdev_mode_permits(const struct net *net, kuid_t uid, kgid_t gid,
		       umode_t mode, int may)
{
	if (mode_permits(uid, gid, mode, current_cred(), may) ||
	    ns_capable(net->user_ns, CAP_IPC_OWNER))
		return 0;
	return -EACCES;
}

/**
 * mqdev_owner_permits() - is the device's caller an object's owner?
 * @net: the object's network namespace
 * @uid: its owner
 *
 * Return: 0 for its owner or a caller with CAP_SYS_ADMIN there, or -EPERM.
 */
int mqdev_owner_permits(const struct net *net, kuid_t uid)
{
	if (uid_eq(current_fsuid(), uid) ||
	    ns_capable(net->user_ns, CAP_SYS_ADMIN))
		return 0;
	return -EPERM;
}

/**
 * mqdev_permits() - may the caller do @act?
 * @nlskb: the netlink request asking, or NULL for the device's caller
 * @topic: the topic acted on
 * @g: the group acted on, for the GROUP_* acts; else NULL
 * @act: what the caller wants to do
 *
 * Return: 0, -EACCES for what needs permission on the topic, or -EPERM for
 * what needs ownership (and for an unknown @act).
 */
int mqdev_permits(const struct sk_buff *nlskb, const struct mqdev_topic *topic,
		  const struct mqdev_group *g, enum mqdev_act act)
{
	switch (act) {
	case MQDEV_ACT_PRODUCE:
	case MQDEV_ACT_HOLD:
		return topic_may(nlskb, topic, MAY_WRITE) ? 0 : -EACCES;
	case MQDEV_ACT_CONSUME:
		return topic_may(nlskb, topic, MAY_READ) ? 0 : -EACCES;
	case MQDEV_ACT_PRODUCE_CONSUME:
		return topic_may(nlskb, topic, MAY_READ | MAY_WRITE) ? 0 : -EACCES;
	case MQDEV_ACT_TOPIC_DELETE:
		return topic_owner(nlskb, topic) ? 0 : -EPERM;
	case MQDEV_ACT_GROUP_USE:
		if (!topic_may(nlskb, topic, MAY_READ))
			return -EACCES;
		return !g || group_owner(nlskb, g) ? 0 : -EPERM;
	case MQDEV_ACT_GROUP_DELETE:
		return mqdev_group_delete_permits(nlskb, topic, g->uid);
	case MQDEV_ACT_REPLICATE:
		if (!topic_may(nlskb, topic, MAY_READ))
			return -EACCES;
		return subject_capable(nlskb, topic, CAP_SYS_ADMIN) ? 0 : -EPERM;
	}
	return -EPERM;
}
