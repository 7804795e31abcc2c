// SPDX-License-Identifier: GPL-2.0
/*
 * The control channel: generic netlink family "mqdev".  Consumer groups are
 * listed and described, their offsets committed, reset and deleted here, and
 * the "events" multicast group announces rebalances and topics coming and
 * going.  Every refusal comes with an extended-ack message a person can read.
 *
 * The family's ABI is Documentation/netlink/specs/mqdev.yaml: each command's
 * strict policy (the attributes it takes, their types, lengths and ranges)
 * and the split ops table are generated from it into netlink-gen.c by the
 * kernel's ynl-gen-c.py (make regen), so an attribute a command does not
 * take is refused before its handler runs.  The handlers are here, named as
 * the generator declares them in netlink-gen.h.
 *
 * Requests run in the sender's context and ask mqdev_permits() (perm.c), as
 * the ioctls do: describing needs read permission on the topic; committing
 * for a group or resetting it needs that and the group's ownership; deleting
 * a group needs the group's or the topic's ownership.  Events go only to
 * listeners that may read the topic they are about.
 */

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/string.h>
#include <net/genetlink.h>
#include <net/sock.h>
#include "mqdev.h"
#include "netlink-gen.h"

/* The spec's limits are the header's (the spec can only hold numbers). */
static_assert(MQDEV_PARTITION_MAX + 1 == MQDEV_MAX_PARTITIONS);
/* put_u64() pads with attribute 1 of each statistics nest. */
static_assert(MQDEV_PSTAT_A_PAD == 1 && MQDEV_REFUSAL_A_PAD == 1 &&
	      MQDEV_GSTAT_A_PAD == 1 && MQDEV_CHARGE_A_PAD == 1);

static struct genl_family mqdev_genl_family;

/*
 * A name attribute as the zero-padded field the rest of mqdev checks.
 *
 * Here and in the handlers a required attribute is checked with
 * GENL_REQ_ATTR_CHECK(), which reports the missing one to tools
 * (NLMSGERR_ATTR_MISS_TYPE); the message names it for people.
 */
static int nl_name(struct genl_info *info, int attr, char *name)
{
	struct nlattr *nla = info->attrs[attr];

	if (GENL_REQ_ATTR_CHECK(info, attr)) {
		NL_SET_ERR_MSG(info->extack, "missing a topic or group name");
		return -EINVAL;
	}
	memset(name, 0, MQDEV_NAME_SIZE);
	nla_strscpy(name, nla, MQDEV_NAME_SIZE);
	if (mqdev_name_check(name)) {
		NL_SET_ERR_MSG_ATTR(info->extack, nla,
				    "names are 1 to 64 of [A-Za-z0-9._-]");
		return -EINVAL;
	}
	return 0;
}

static int fill_member(struct sk_buff *skb, const struct mqdev_member *m)
{
	struct nlattr *nest = nla_nest_start(skb, MQDEV_A_MEMBER);

	if (!nest ||
	    nla_put_u32(skb, MQDEV_MEMBER_A_ID, m->id) ||
	    nla_put_u32(skb, MQDEV_MEMBER_A_PID, pid_vnr(m->pid)) ||
	    nla_put_string(skb, MQDEV_MEMBER_A_COMM, m->comm) ||
	    nla_put_u32(skb, MQDEV_MEMBER_A_COUNT, m->count))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

/*
 * A group's lag in a partition, as Kafka counts it: from its position to
 * the high watermark, the last offset its consumers may read (on a topic
 * that is not durable, the log's end).  A restored group may name an offset
 * past a watermark not yet restored: no lag, not a wrapped one.
 */
static u64 part_lag(const struct mqdev_partition_info *info, u64 position)
{
	return info->high_watermark > position ?
	       info->high_watermark - position : 0;
}

static int fill_part(struct sk_buff *skb, struct mqdev_group *g, u32 i)
{
	const struct mqdev_group_part *gp = &g->parts[i];
	struct mqdev_partition_info info;
	struct nlattr *nest;

	mqdev_ring_info(&g->topic->parts[i], &info);
	nest = nla_nest_start(skb, MQDEV_A_PART);
	if (!nest ||
	    nla_put_u32(skb, MQDEV_PART_A_INDEX, i) ||
	    (gp->committed &&
	     nla_put_u64_64bit(skb, MQDEV_PART_A_COMMITTED, gp->offset,
			       MQDEV_PART_A_PAD)) ||
	    nla_put_u64_64bit(skb, MQDEV_PART_A_POSITION, gp->offset,
			      MQDEV_PART_A_PAD) ||
	    nla_put_u64_64bit(skb, MQDEV_PART_A_FIRST, info.first_offset,
			      MQDEV_PART_A_PAD) ||
	    nla_put_u64_64bit(skb, MQDEV_PART_A_END, info.high_watermark,
			      MQDEV_PART_A_PAD) ||
	    nla_put_u64_64bit(skb, MQDEV_PART_A_LAG,
			      part_lag(&info, gp->offset), MQDEV_PART_A_PAD) ||
	    (gp->owner && nla_put_u32(skb, MQDEV_PART_A_OWNER, gp->owner->id)))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

/* One message describing @g; topic->groups_lock held. */
static int fill_group(struct sk_buff *skb, u32 portid, u32 seq, int flags,
		      u8 cmd, struct mqdev_group *g, bool detail)
{
	struct mqdev_member *m;
	void *hdr;
	u32 i;

	hdr = genlmsg_put(skb, portid, seq, &mqdev_genl_family, flags, cmd);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_string(skb, MQDEV_A_GROUP, g->name) ||
	    nla_put_string(skb, MQDEV_A_TOPIC, g->topic->name) ||
	    nla_put_u32(skb, MQDEV_A_GENERATION, g->generation) ||
	    nla_put_u32(skb, MQDEV_A_MEMBERS, g->nr_members) ||
	    nla_put_u32(skb, MQDEV_A_GROUP_TYPE, MQDEV_GROUP_TYPE_CONSUMER))
		goto err_cancel;
	if (detail) {
		list_for_each_entry(m, &g->members, node)
			if (fill_member(skb, m))
				goto err_cancel;
		for (i = 0; i < g->nr_parts; i++)
			if (fill_part(skb, g, i))
				goto err_cancel;
	}
	genlmsg_end(skb, hdr);
	return 0;

err_cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

/*
 * A described group of 256 partitions and members runs to tens of KiB: one
 * message must fit one dump buffer (readers need a 64 KiB receive buffer).
 * stats-get starts here too: its group messages carry 256 partitions' lag.
 */
int mqdev_nl_group_get_start(struct netlink_callback *cb)
{
	cb->min_dump_alloc = U16_MAX;
	return 0;
}

/* One message per dump entry: the @*idx'th, unless @skip were sent. */
typedef int (*nl_topic_dump_fn)(struct sk_buff *skb,
				struct netlink_callback *cb,
				struct mqdev_topic *topic, long *idx,
				long skip);

/*
 * A dump over the topics the caller may read (TOPIC narrows it), @fn
 * writing each topic's messages: a topic the caller may not read is left
 * out, as one that does not exist is.  cb->args[0] counts the messages sent
 * by earlier calls.
 */
static int nl_dump_topics(struct sk_buff *skb, struct netlink_callback *cb,
			  nl_topic_dump_fn fn)
{
	struct nlattr **attrs = mqdev_genl_dump_attrs(cb);
	struct nlattr *want_topic = attrs[MQDEV_A_TOPIC];
	struct mqdev_topic **topics;
	long idx = 0, skip = cb->args[0];
	u32 n, i;
	int err = 0;

	topics = mqdev_topics_get(cb->skb, sock_net(cb->skb->sk),
				  want_topic ? nla_data(want_topic) : NULL, &n);
	if (!topics)
		return -ENOMEM;
	for (i = 0; i < n && !err; i++)
		err = fn(skb, cb, topics[i], &idx, skip);
	mqdev_topics_put(topics, n);
	cb->args[0] = idx;
	/* A message too big for an empty buffer can never be sent. */
	if (err && !skb->len)
		return err;
	return skb->len;
}

/* Where a topic's share groups go, a message each, as its groups do. */
struct share_dump {
	struct sk_buff		*skb;
	struct netlink_callback	*cb;
	struct mqdev_topic	*topic;
	const struct nlattr	*want_group;
	long			*idx, skip;
};

static int fill_share(void *ctx, const char *name, u32 members)
{
	struct share_dump *sd = ctx;
	void *hdr;

	if (sd->want_group && nla_strcmp(sd->want_group, name))
		return 0;
	if ((*sd->idx)++ < sd->skip)
		return 0;
	hdr = genlmsg_put(sd->skb, NETLINK_CB(sd->cb->skb).portid,
			  sd->cb->nlh->nlmsg_seq, &mqdev_genl_family,
			  NLM_F_MULTI, MQDEV_CMD_GROUP_GET);
	if (!hdr)
		goto err;
	if (nla_put_string(sd->skb, MQDEV_A_GROUP, name) ||
	    nla_put_string(sd->skb, MQDEV_A_TOPIC, sd->topic->name) ||
	    nla_put_u32(sd->skb, MQDEV_A_MEMBERS, members) ||
	    nla_put_u32(sd->skb, MQDEV_A_GROUP_TYPE, MQDEV_GROUP_TYPE_SHARE)) {
		genlmsg_cancel(sd->skb, hdr);
		goto err;
	}
	genlmsg_end(sd->skb, hdr);
	return 0;
err:
	(*sd->idx)--;
	return -EMSGSIZE;
}

/*
 * A topic's groups, each a message, its share groups after its consumer
 * groups; GROUP narrows it.
 */
static int group_dump_topic(struct sk_buff *skb, struct netlink_callback *cb,
			    struct mqdev_topic *topic, long *idx, long skip)
{
	struct nlattr *want_group = mqdev_genl_dump_attrs(cb)[MQDEV_A_GROUP];
	struct share_dump sd = {
		.skb = skb, .cb = cb, .topic = topic, .want_group = want_group,
		.idx = idx, .skip = skip,
	};
	struct mqdev_group *g;
	int err = 0;

	mutex_lock(&topic->groups_lock);
	list_for_each_entry(g, &topic->groups, node) {
		if (want_group && nla_strcmp(want_group, g->name))
			continue;
		if ((*idx)++ < skip)
			continue;
		err = fill_group(skb, NETLINK_CB(cb->skb).portid,
				 cb->nlh->nlmsg_seq, NLM_F_MULTI,
				 MQDEV_CMD_GROUP_GET, g, true);
		if (err) {
			(*idx)--;
			break;
		}
	}
	if (!err)
		err = mqdev_shares_each(topic, fill_share, &sd);
	mutex_unlock(&topic->groups_lock);
	return err;
}

/* Each (topic, group) the caller may read a message; GROUP, TOPIC narrow. */
int mqdev_nl_group_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	return nl_dump_topics(skb, cb, group_dump_topic);
}

/* ---- statistics (stats.c keeps them) ---- */

static int put_u64(struct sk_buff *skb, int attr, u64 v)
{
	/* Every pad attribute of the statistics' nests is number 1. */
	return nla_put_u64_64bit(skb, attr, v, 1);
}

static int fill_refusals(struct sk_buff *skb, const u64 *refused)
{
	struct nlattr *nest;
	u32 i;

	for (i = 0; i < MQDEV_NR_REFUSALS; i++) {
		if (!refused[i])
			continue;
		nest = nla_nest_start(skb, MQDEV_PSTAT_A_REFUSAL);
		if (!nest || nla_put_u32(skb, MQDEV_REFUSAL_A_REASON, i) ||
		    put_u64(skb, MQDEV_REFUSAL_A_COUNT, refused[i]))
			return -EMSGSIZE;
		nla_nest_end(skb, nest);
	}
	return 0;
}

static int fill_pstats(struct sk_buff *skb, const struct mqdev_part_stats *st)
{
	const struct mqdev_part_pcpu *c = &st->pcpu;
	struct nlattr *nest = nla_nest_start(skb, MQDEV_A_PSTATS);

	if (!nest ||
	    put_u64(skb, MQDEV_PSTAT_A_RECORDS_IN, st->records_in) ||
	    put_u64(skb, MQDEV_PSTAT_A_BYTES_IN, st->bytes_in) ||
	    put_u64(skb, MQDEV_PSTAT_A_RECORDS_OUT, c->records_out) ||
	    put_u64(skb, MQDEV_PSTAT_A_BYTES_OUT, c->bytes_out) ||
	    put_u64(skb, MQDEV_PSTAT_A_DROPS, st->drops) ||
	    put_u64(skb, MQDEV_PSTAT_A_WAITS, c->waits) ||
	    put_u64(skb, MQDEV_PSTAT_A_WAIT_NS, c->wait_ns) ||
	    put_u64(skb, MQDEV_PSTAT_A_READER_WAKEUPS, c->reader_wakeups) ||
	    put_u64(skb, MQDEV_PSTAT_A_PRODUCER_WAKEUPS, c->producer_wakeups) ||
	    put_u64(skb, MQDEV_PSTAT_A_KEPT_RECORDS, st->kept_records) ||
	    put_u64(skb, MQDEV_PSTAT_A_KEPT_BYTES, st->kept_bytes) ||
	    fill_refusals(skb, c->refused))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

/*
 * One message of a topic's statistics: partition @i's, or for i ==
 * nr_parts the refusals counted before a partition was chosen.
 */
static int fill_part_stats(struct sk_buff *skb, struct netlink_callback *cb,
			   struct mqdev_topic *topic, u32 i)
{
	struct mqdev_part_stats st = {};
	void *hdr;

	if (i < topic->nr_parts)
		mqdev_stats_read(&topic->parts[i], &st);
	else
		mqdev_stats_read_topic(topic, &st.pcpu);
	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &mqdev_genl_family, NLM_F_MULTI, MQDEV_CMD_STATS_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_string(skb, MQDEV_A_TOPIC, topic->name) ||
	    (i < topic->nr_parts && nla_put_u32(skb, MQDEV_A_PARTITION, i)) ||
	    fill_pstats(skb, &st)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

/* @g's counters and its lag in each partition; groups_lock held. */
static int fill_gstats(struct sk_buff *skb, struct mqdev_group *g)
{
	struct mqdev_partition_info info;
	struct nlattr *nest, *pnest;
	u64 lag, total = 0;
	u32 i;

	nest = nla_nest_start(skb, MQDEV_A_GSTATS);
	if (!nest ||
	    put_u64(skb, MQDEV_GSTAT_A_COMMITS, g->commits) ||
	    put_u64(skb, MQDEV_GSTAT_A_REBALANCES, g->rebalances) ||
	    nla_put_u32(skb, MQDEV_GSTAT_A_MEMBERS, g->nr_members))
		return -EMSGSIZE;
	for (i = 0; i < g->nr_parts; i++) {
		mqdev_ring_info(&g->topic->parts[i], &info);
		lag = part_lag(&info, g->parts[i].offset);
		total += lag;
		pnest = nla_nest_start(skb, MQDEV_GSTAT_A_PART);
		if (!pnest || nla_put_u32(skb, MQDEV_PART_A_INDEX, i) ||
		    nla_put_u64_64bit(skb, MQDEV_PART_A_LAG, lag,
				      MQDEV_PART_A_PAD))
			return -EMSGSIZE;
		nla_nest_end(skb, pnest);
	}
	if (put_u64(skb, MQDEV_GSTAT_A_LAG, total))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

static int fill_group_stats(struct sk_buff *skb, struct netlink_callback *cb,
			    struct mqdev_group *g)
{
	void *hdr;

	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &mqdev_genl_family, NLM_F_MULTI, MQDEV_CMD_STATS_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_string(skb, MQDEV_A_TOPIC, g->topic->name) ||
	    nla_put_string(skb, MQDEV_A_GROUP, g->name) ||
	    fill_gstats(skb, g)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

/* One topic's messages from the @*idx'th on; @skip of them were sent. */
static int stats_dump_topic(struct sk_buff *skb, struct netlink_callback *cb,
			    struct mqdev_topic *topic, long *idx, long skip)
{
	struct mqdev_group *g;
	int err = 0;
	u32 i;

	for (i = 0; i <= topic->nr_parts && !err; i++)
		if ((*idx)++ >= skip)
			err = fill_part_stats(skb, cb, topic, i);
	mutex_lock(&topic->groups_lock);
	list_for_each_entry(g, &topic->groups, node) {
		if (err)
			break;
		if ((*idx)++ >= skip)
			err = fill_group_stats(skb, cb, g);
	}
	mutex_unlock(&topic->groups_lock);
	if (err)
		(*idx)--;
	return err;
}

/* The counters of the topics the caller may read, as for group-get. */
int mqdev_nl_stats_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	return nl_dump_topics(skb, cb, stats_dump_topic);
}

static int fill_charge(struct sk_buff *skb, u32 kind, u64 used,
		       u64 user_used, u64 limit, u64 user_limit)
{
	struct nlattr *nest = nla_nest_start(skb, MQDEV_A_CHARGE);

	if (!nest || nla_put_u32(skb, MQDEV_CHARGE_A_KIND, kind) ||
	    put_u64(skb, MQDEV_CHARGE_A_USED, used) ||
	    put_u64(skb, MQDEV_CHARGE_A_USER_USED, user_used) ||
	    (limit != U64_MAX && put_u64(skb, MQDEV_CHARGE_A_LIMIT, limit)) ||
	    put_u64(skb, MQDEV_CHARGE_A_USER_LIMIT, user_limit))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

/*
 * What the module holds of each kind, against its limits: totals of every
 * user and the caller's own, to anyone (see the threat model).
 */
int mqdev_nl_module_stats_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	u64 used[MQDEV_NR_CHARGES], user_used[MQDEV_NR_CHARGES];
	u64 limit[MQDEV_NR_CHARGES], user_limit[MQDEV_NR_CHARGES];
	struct sk_buff *msg;
	void *hdr;
	u32 i;

	mqdev_charges_read(current_fsuid(), used, user_used, limit,
			   user_limit);
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &mqdev_genl_family, 0,
				MQDEV_CMD_MODULE_STATS_GET);
	if (!hdr)
		goto err_free;
	for (i = 0; i < MQDEV_NR_CHARGES; i++)
		if (fill_charge(msg, i, used[i], user_used[i], limit[i],
				user_limit[i]))
			goto err_free;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_free:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

/* What a change to a group asks of it: mqdev_group_lookup() or deletion. */
enum nl_group_op {
	NL_GROUP_USE,
	NL_GROUP_CREATE,
	NL_GROUP_DELETE,
};

static void nl_group_refused(struct genl_info *info, int err)
{
	if (err == -ENOENT)
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[MQDEV_A_GROUP],
				    "no such group on the topic");
	else if (err == -EPERM)
		NL_SET_ERR_MSG(info->extack,
			       "the group belongs to another user");
	else if (err == -EDQUOT)
		NL_SET_ERR_MSG(info->extack,
			       "over your limit of consumer groups");
	else if (err == -ENOSPC)
		NL_SET_ERR_MSG(info->extack,
			       "the topic has as many groups as it may");
}

static struct mqdev_group *nl_group_find(const struct sk_buff *skb,
					 struct mqdev_topic *topic,
					 const char *name, enum nl_group_op op,
					 bool *created)
{
	struct mqdev_group *g;
	int err;

	if (op != NL_GROUP_DELETE) {
		g = mqdev_group_lookup(skb, topic, name, false);
		if (g || op != NL_GROUP_CREATE)
			return g ?: ERR_PTR(-ENOENT);
		*created = true;
		return mqdev_group_lookup(skb, topic, name, true);
	}
	g = mqdev_group_find(topic, name);
	if (!g)		/* NULL: a share group's, deleted by share.c */
		return mqdev_share_named(topic, name) ? NULL : ERR_PTR(-ENOENT);
	err = mqdev_permits(skb, topic, g, MQDEV_ACT_GROUP_DELETE);
	return err ? ERR_PTR(err) : g;
}

/*
 * The topic and group a change names, with the topic's groups locked;
 * *@created says whether NL_GROUP_CREATE made it.
 * NL_GROUP_DELETE gives NULL for a share group of the name (share.c
 * deletes it).
 */
static struct mqdev_group *nl_group_lock(struct sk_buff *skb,
					 struct genl_info *info,
					 struct mqdev_topic **topicp,
					 enum nl_group_op op, bool *created)
{
	char topic_name[MQDEV_NAME_SIZE], group_name[MQDEV_NAME_SIZE];
	struct mqdev_topic *topic;
	struct mqdev_group *g;

	int err = nl_name(info, MQDEV_A_TOPIC, topic_name) ?:
		  nl_name(info, MQDEV_A_GROUP, group_name);
	if (err)
		return ERR_PTR(err);
	topic = mqdev_topic_get(skb, genl_info_net(info), topic_name,
				MQDEV_ACT_CONSUME);
	if (IS_ERR(topic)) {
		if (PTR_ERR(topic) == -ENOENT)
			NL_SET_ERR_MSG_ATTR(info->extack,
					    info->attrs[MQDEV_A_TOPIC],
					    "no such topic");
		else
			NL_SET_ERR_MSG_ATTR(info->extack,
					    info->attrs[MQDEV_A_TOPIC],
					    "no read permission on the topic");
		return ERR_CAST(topic);
	}
	mutex_lock(&topic->groups_lock);
	*created = false;
	g = nl_group_find(skb, topic, group_name, op, created);
	if (IS_ERR(g)) {
		nl_group_refused(info, PTR_ERR(g));
		mutex_unlock(&topic->groups_lock);
		mqdev_topic_put(topic);
		return g;
	}
	*topicp = topic;
	return g;
}

static void nl_group_unlock(struct mqdev_topic *topic)
{
	mutex_unlock(&topic->groups_lock);
	mqdev_topic_put(topic);
}

int mqdev_nl_group_commit_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **a = info->attrs;
	struct mqdev_topic *topic;
	struct mqdev_group *g;
	bool created;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, MQDEV_A_PARTITION)) {
		NL_SET_ERR_MSG(info->extack, "missing attribute: partition");
		return -EINVAL;
	}
	if (GENL_REQ_ATTR_CHECK(info, MQDEV_A_OFFSET)) {
		NL_SET_ERR_MSG(info->extack, "missing attribute: offset");
		return -EINVAL;
	}
	g = nl_group_lock(skb, info, &topic, NL_GROUP_USE, &created);
	if (IS_ERR(g))
		return PTR_ERR(g);

	err = -EINVAL;
	if (nla_get_u32(a[MQDEV_A_PARTITION]) >= g->nr_parts) {
		NL_SET_ERR_MSG_ATTR(info->extack, a[MQDEV_A_PARTITION],
				    "the topic has no such partition");
	} else if (a[MQDEV_A_GENERATION] &&
		   nla_get_u32(a[MQDEV_A_GENERATION]) != g->generation) {
		NL_SET_ERR_MSG_ATTR(info->extack, a[MQDEV_A_GENERATION],
				    "stale generation: the group has rebalanced");
		err = -ESTALE;
	} else if (!a[MQDEV_A_GENERATION] && g->nr_members) {
		NL_SET_ERR_MSG(info->extack,
			       "the group has members: commit with its generation");
		err = -EBUSY;
	} else {
		err = mqdev_group_set(g, nla_get_u32(a[MQDEV_A_PARTITION]),
				      MQDEV_SEEK_OFFSET,
				      nla_get_u64(a[MQDEV_A_OFFSET]));
		if (err == -ERANGE)
			NL_SET_ERR_MSG_ATTR(info->extack, a[MQDEV_A_OFFSET],
					    "offset beyond the end of the partition");
	}
	nl_group_unlock(topic);
	return err;
}

/* What a reset asks for: a whence and its value, checked. */
static int nl_reset_target(struct genl_info *info, u32 *whence, u64 *value)
{
	struct nlattr **a = info->attrs;

	if (GENL_REQ_ATTR_CHECK(info, MQDEV_A_RESET)) {
		NL_SET_ERR_MSG(info->extack,
			       "missing attribute: reset (where to)");
		return -EINVAL;
	}
	*whence = nla_get_u32(a[MQDEV_A_RESET]);
	*value = 0;
	if (*whence == MQDEV_SEEK_OFFSET) {
		if (GENL_REQ_ATTR_CHECK(info, MQDEV_A_OFFSET)) {
			NL_SET_ERR_MSG(info->extack,
				       "missing attribute: offset");
			return -EINVAL;
		}
		*value = nla_get_u64(a[MQDEV_A_OFFSET]);
	} else if (*whence == MQDEV_SEEK_TIMESTAMP) {
		if (GENL_REQ_ATTR_CHECK(info, MQDEV_A_TIMESTAMP)) {
			NL_SET_ERR_MSG(info->extack,
				       "missing attribute: timestamp");
			return -EINVAL;
		}
		*value = nla_get_u64(a[MQDEV_A_TIMESTAMP]);
	}
	return 0;
}

/*
 * Every partition a reset names is located before any is moved: a reset
 * that fails (ERANGE) moves nothing.
 */
static int nl_reset_locate(struct genl_info *info, struct mqdev_group *g,
			   u32 whence, u64 value, struct mqdev_group_pos *found)
{
	struct nlattr *part = info->attrs[MQDEV_A_PARTITION];
	int err = 0;
	u32 i;

	if (part && nla_get_u32(part) >= g->nr_parts) {
		NL_SET_ERR_MSG_ATTR(info->extack, part,
				    "the topic has no such partition");
		return -EINVAL;
	}
	for (i = 0; i < g->nr_parts && !err; i++)
		if (!part || nla_get_u32(part) == i)
			err = mqdev_group_locate(g, i, whence, value,
						 &found[i]);
	if (err == -ERANGE)
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[MQDEV_A_OFFSET],
				    "offset beyond the end of a partition");
	return err;
}

int mqdev_nl_group_reset_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *part = info->attrs[MQDEV_A_PARTITION];
	struct mqdev_group_pos *found;
	struct mqdev_topic *topic;
	struct mqdev_group *g;
	bool created;
	u32 whence, i;
	u64 value;
	int err;

	err = nl_reset_target(info, &whence, &value);
	if (err)
		return err;
	found = kcalloc(MQDEV_MAX_PARTITIONS, sizeof(*found), GFP_KERNEL);
	if (!found)
		return -ENOMEM;
	g = nl_group_lock(skb, info, &topic, NL_GROUP_CREATE, &created);
	if (IS_ERR(g)) {
		kfree(found);
		return PTR_ERR(g);
	}

	if (g->nr_members && !nla_get_flag(info->attrs[MQDEV_A_FORCE])) {
		NL_SET_ERR_MSG(info->extack,
			       "the group has members; stop them, or force");
		err = -EBUSY;
		goto out_unlock;
	}
	err = nl_reset_locate(info, g, whence, value, found);
	if (err) {
		if (created)		/* bad input makes nothing */
			mqdev_group_destroy(g);
		goto out_unlock;
	}
	for (i = 0; i < g->nr_parts; i++)
		if (!part || nla_get_u32(part) == i)
			mqdev_group_move(g, i, &found[i]);
	/* Members read on from the new positions. */
	if (g->nr_members)
		mqdev_group_resync(g);
out_unlock:
	nl_group_unlock(topic);
	kfree(found);
	return err;
}

int mqdev_nl_group_delete_doit(struct sk_buff *skb, struct genl_info *info)
{
	bool force = nla_get_flag(info->attrs[MQDEV_A_FORCE]);
	char name[MQDEV_NAME_SIZE];
	struct mqdev_topic *topic;
	struct mqdev_group *g;
	LIST_HEAD(gone);
	bool created;
	int err = 0;

	g = nl_group_lock(skb, info, &topic, NL_GROUP_DELETE, &created);
	if (IS_ERR(g))
		return PTR_ERR(g);
	if (!g) {
		err = nl_name(info, MQDEV_A_GROUP, name) ?:
		      mqdev_share_delete(skb, topic, name, force, &gone,
					 info->extack);
		/* Its dead-letter work is flushed without groups_lock. */
		mutex_unlock(&topic->groups_lock);
		mqdev_shares_reap(&gone);
		mqdev_topic_put(topic);
		return err;
	}
	/* Forced, its members are evicted: they own nothing from now on. */
	if (g->nr_members && !force) {
		NL_SET_ERR_MSG(info->extack,
			       "the group has members; stop them, or force");
		err = -EBUSY;
	} else {
		mqdev_group_destroy(g);
	}
	nl_group_unlock(topic);
	return err;
}

/*
 * The sender checks the transactions of a producer name: when one is
 * orphaned, MQDEV_CMD_TXN_CHECK comes to this socket, until it closes.
 */
int mqdev_nl_checker_register_doit(struct sk_buff *skb,
				   struct genl_info *info)
{
	char name[MQDEV_NAME_SIZE];
	int err;

	err = nl_name(info, MQDEV_A_PRODUCER, name);
	if (err)
		return err;
	return mqdev_checker_register(name, info->snd_portid, genl_info_net(info),
				      netlink_capable(skb, CAP_SYS_ADMIN),
				      info->extack);
}

int mqdev_nl_txn_resolve_doit(struct sk_buff *skb, struct genl_info *info)
{
	char name[MQDEV_NAME_SIZE];
	u32 decision;
	int err;

	err = nl_name(info, MQDEV_A_PRODUCER, name);
	if (err)
		return err;
	if (GENL_REQ_ATTR_CHECK(info, MQDEV_A_TXN)) {
		NL_SET_ERR_MSG(info->extack,
			       "missing attribute: transaction id");
		return -EINVAL;
	}
	if (GENL_REQ_ATTR_CHECK(info, MQDEV_A_DECISION)) {
		NL_SET_ERR_MSG(info->extack, "missing attribute: decision");
		return -EINVAL;
	}
	/* The spec's range has BEGIN in it, which is no answer. */
	decision = nla_get_u32(info->attrs[MQDEV_A_DECISION]);
	if (decision == MQDEV_TXN_BEGIN) {
		NL_SET_ERR_MSG_ATTR(info->extack,
				    info->attrs[MQDEV_A_DECISION],
				    "answer commit, abort or unknown");
		return -EINVAL;
	}
	return mqdev_txn_resolve(genl_info_net(info), name,
				 nla_get_u64(info->attrs[MQDEV_A_TXN]),
				 decision, netlink_capable(skb, CAP_SYS_ADMIN),
				 info->extack);
}

/* The question to a checker: "transaction T of producer P: commit or abort?" */
int mqdev_nl_txn_check(struct net *net, u32 portid,
		       const struct mqdev_identity *ident, u64 txn_id,
		       u64 cookie)
{
	struct sk_buff *skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	void *hdr;

	if (!skb)
		return -ENOMEM;
	hdr = genlmsg_put(skb, 0, 0, &mqdev_genl_family, 0,
			  MQDEV_CMD_TXN_CHECK);
	if (!hdr ||
	    nla_put_string(skb, MQDEV_A_PRODUCER, ident->name) ||
	    nla_put_u64_64bit(skb, MQDEV_A_PRODUCER_ID, ident->id, MQDEV_A_PAD) ||
	    nla_put_u64_64bit(skb, MQDEV_A_TXN, txn_id, MQDEV_A_PAD) ||
	    nla_put_u64_64bit(skb, MQDEV_A_COOKIE, cookie, MQDEV_A_PAD)) {
		nlmsg_free(skb);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return genlmsg_unicast(net, skb, portid);
}

static int mqdev_nl_notify(struct notifier_block *nb, unsigned long event,
			   void *ptr)
{
	struct netlink_notify *n = ptr;

	if (event == NETLINK_URELEASE && n->protocol == NETLINK_GENERIC &&
	    n->portid)
		mqdev_checkers_forget(n->portid, n->net);
	return NOTIFY_DONE;
}

static struct notifier_block mqdev_nl_notifier = {
	.notifier_call	= mqdev_nl_notify,
};

static const struct genl_multicast_group mqdev_mcgrps[] = {
	[MQDEV_NLGRP_EVENTS] = { .name = MQDEV_GENL_MCGRP_EVENTS },
};

/*
 * The spec's protocol is genetlink-c (its names are the uapi header's), for
 * which the generator writes the ops and their policies but not the family:
 * it is here, with the generated split ops.  Requests are serialized by
 * genl_mutex, as they always were (no parallel_ops).
 */
static struct genl_family mqdev_genl_family __ro_after_init = {
	.name		= MQDEV_GENL_NAME,
	.version	= MQDEV_GENL_VERSION,
	.netnsok	= true,
	.module		= THIS_MODULE,
	MQDEV_GENL_OPS(mqdev_nl_ops),
	.mcgrps		= mqdev_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(mqdev_mcgrps),
};

/* What a listener must be allowed to read to hear an event. */
struct nl_event_topic {
	kuid_t		uid;
	kgid_t		gid;
	umode_t		mode;
};

/*
 * Nonzero: @dsk's opener may not read the topic, so it does not hear of it.
 * A NULL @dsk is any listener (compat.h, before 6.8): only a topic everyone
 * may read passes.
 */
static int nl_event_filter(struct sock *dsk, struct sk_buff *skb, void *data)
{
	const struct nl_event_topic *t = data;
	struct socket *sock;

	if (!dsk)
		return (t->mode & 0444) != 0444;
	sock = dsk->sk_socket;
	if (!sock || !sock->file)
		return 1;
	return !mqdev_cred_may_read(t->uid, t->gid, t->mode, sock->file->f_cred);
}

/*
 * Events go to listeners in the topic's own network namespace that may read
 * the topic: a group's or a topic's name is not news to anyone else.
 */
static void nl_multicast(const struct mqdev_topic *topic, struct sk_buff *skb)
{
	struct nl_event_topic t = {
		.uid = topic->uid, .gid = topic->gid, .mode = topic->mode,
	};

	genlmsg_multicast_netns_filtered(&mqdev_genl_family, topic->net, skb, 0,
					 MQDEV_NLGRP_EVENTS, GFP_KERNEL,
					 nl_event_filter, &t);
}

/* Events are best effort, as netlink notifications are: no memory, none. */
void mqdev_nl_rebalanced(struct mqdev_group *g)
{
	struct sk_buff *skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);

	if (!skb)
		return;
	if (fill_group(skb, 0, 0, 0, MQDEV_CMD_EVENT_REBALANCE, g, false)) {
		nlmsg_free(skb);
		return;
	}
	nl_multicast(g->topic, skb);
}

void mqdev_nl_topic_event(const struct mqdev_topic *topic, bool created)
{
	struct sk_buff *skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	void *hdr;

	if (!skb)
		return;
	hdr = genlmsg_put(skb, 0, 0, &mqdev_genl_family, 0, created ?
			  MQDEV_CMD_EVENT_TOPIC_NEW : MQDEV_CMD_EVENT_TOPIC_DEL);
	if (!hdr || nla_put_string(skb, MQDEV_A_TOPIC, topic->name)) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_end(skb, hdr);
	nl_multicast(topic, skb);
}

int __init mqdev_nl_init(void)
{
	int err;

	err = netlink_register_notifier(&mqdev_nl_notifier);
	if (err)
		return err;
	err = genl_register_family(&mqdev_genl_family);
	if (err)
		netlink_unregister_notifier(&mqdev_nl_notifier);
	return err;
}

void mqdev_nl_exit(void)
{
	genl_unregister_family(&mqdev_genl_family);
	netlink_unregister_notifier(&mqdev_nl_notifier);
}
