// SPDX-License-Identifier: GPL-2.0
/* The generic netlink control channel: groups described, reset, committed,
 * deleted, events announced, and malformed requests refused with a reason.
 */
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <sys/utsname.h>
#include "common.h"
#include "kselftest_harness.h"

#define PARTS 3

FIXTURE(nl) {
	int fd, prod;
	struct mqdev_nl *nl;
	char name[MQDEV_NAME_MAX + 1];
};

FIXTURE_SETUP(nl)
{
	int p, i;

	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, mqdev_nl_open(&self->nl));
	strcpy(self->name, topic_name("nl"));
	ASSERT_EQ(0, create_topic(self->fd, self->name, PARTS, 65536, 0));
	self->prod = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, self->prod);
	/* partition p gets 10 * (p + 1) records */
	for (p = 0; p < PARTS; p++)
		for (i = 0; i < 10 * (p + 1); i++)
			ASSERT_EQ(p, produce_one(self->prod, p, NULL, 0, "x", 1,
						 NULL));
}

FIXTURE_TEARDOWN(nl)
{
	close(self->prod);
	mqdev_topic_delete(self->fd, self->name);
	mqdev_nl_close(self->nl);
	close(self->fd);
}

struct seen {
	int count;
	struct mqdev_group_info info;
	struct mqdev_group_partition part[PARTS];
	struct mqdev_member_info member[4];
};

static int keep(void *ctx, const struct mqdev_group_info *info)
{
	struct seen *s = ctx;

	s->count++;
	s->info = *info;
	memcpy(s->part, info->part, sizeof(s->part[0]) *
	       (info->nr_parts < PARTS ? info->nr_parts : PARTS));
	memcpy(s->member, info->member, sizeof(s->member[0]) *
	       (info->nr_members < 4 ? info->nr_members : 4));
	return 0;
}

static void read_n(struct mqdev_consumer *c, int n)
{
	while (n-- && mqdev_consumer_peek(c))
		mqdev_consumer_release(c);
}

TEST_F(nl, describe_members_and_lag)
{
	struct mqdev_consumer *a, *b;
	struct seen s = {};
	int p, owned_by_a = 0;

	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &a));
	ASSERT_EQ(0, mqdev_consumer_join(a, "desc", MQDEV_SEEK_EARLIEST));
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &b));
	ASSERT_EQ(0, mqdev_consumer_join(b, "desc", MQDEV_SEEK_EARLIEST));
	mqdev_consumer_wait(a, 0);
	read_n(a, 5);
	ASSERT_EQ(0, mqdev_consumer_commit(a));

	ASSERT_EQ(0, mqdev_group_get(self->nl, "desc", self->name, keep, &s));
	ASSERT_EQ(1, s.count);
	EXPECT_STREQ("desc", s.info.group);
	EXPECT_STREQ(self->name, s.info.topic);
	EXPECT_EQ(2, s.info.members);
	EXPECT_EQ(mqdev_consumer_generation(a), s.info.generation);
	ASSERT_EQ(2, s.info.nr_members);
	EXPECT_EQ(getpid(), s.member[0].pid);
	EXPECT_STREQ("netlink_test", s.member[0].comm);
	EXPECT_EQ(PARTS, s.member[0].partitions + s.member[1].partitions);
	ASSERT_EQ(PARTS, s.info.nr_parts);
	for (p = 0; p < PARTS; p++) {
		EXPECT_EQ(p, s.part[p].partition);
		EXPECT_EQ(10 * (p + 1), s.part[p].end);
		EXPECT_EQ(s.part[p].end - s.part[p].position, s.part[p].lag);
		EXPECT_TRUE(s.part[p].owned);
		owned_by_a += mqdev_consumer_owns(a, p);
	}
	/* a read 5 records of its first partition and committed them */
	EXPECT_LE(1, owned_by_a);
	for (p = 0; p < PARTS && !mqdev_consumer_owns(a, p); p++)
		;
	EXPECT_TRUE(s.part[p].committed);
	EXPECT_EQ(5, s.part[p].position);
	EXPECT_EQ(10 * (p + 1) - 5, s.part[p].lag);

	/* the whole list has it too, and nothing for a name that is not there */
	s.count = 0;
	ASSERT_EQ(0, mqdev_group_get(self->nl, NULL, NULL, keep, &s));
	EXPECT_LE(1, s.count);
	s.count = 0;
	ASSERT_EQ(0, mqdev_group_get(self->nl, "nope", NULL, keep, &s));
	EXPECT_EQ(0, s.count);
	mqdev_consumer_free(a);
	mqdev_consumer_free(b);
}

TEST_F(nl, reset_commit_delete)
{
	struct mqdev_consumer *c;
	const struct mqdev_record *rec;
	struct seen s = {};
	uint32_t gen;
	uint64_t ts;

	/* reset creates a group before anyone joins */
	ASSERT_EQ(0, mqdev_group_reset(self->nl, "rst", self->name,
				       MQDEV_PARTITION_ALL, MQDEV_SEEK_LATEST,
				       0, false));
	ASSERT_EQ(0, mqdev_group_get(self->nl, "rst", self->name, keep, &s));
	EXPECT_EQ(0, s.part[2].lag);
	EXPECT_EQ(30, s.part[2].position);
	ASSERT_EQ(0, mqdev_group_reset(self->nl, "rst", self->name, 1,
				       MQDEV_SEEK_OFFSET, 7, false));
	ASSERT_EQ(-ERANGE, mqdev_group_reset(self->nl, "rst", self->name, 1,
					     MQDEV_SEEK_OFFSET, 21, false));
	EXPECT_STRNE("", mqdev_nl_error(self->nl));
	ASSERT_EQ(0, mqdev_group_get(self->nl, "rst", self->name, keep, &s));
	EXPECT_EQ(7, s.part[1].position);
	EXPECT_EQ(13, s.part[1].lag);
	EXPECT_EQ(30, s.part[2].position);

	/* a member starts where the group was put */
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_join(c, "rst", MQDEV_SEEK_EARLIEST));
	rec = mqdev_consumer_peek(c);
	ASSERT_NE(NULL, rec);
	EXPECT_EQ(1, rec->partition);
	EXPECT_EQ(7, rec->offset);
	ts = rec->timestamp;

	/* with a member, resets need force and commits the generation */
	EXPECT_EQ(-EBUSY, mqdev_group_reset(self->nl, "rst", self->name,
					    MQDEV_PARTITION_ALL,
					    MQDEV_SEEK_EARLIEST, 0, false));
	EXPECT_STRNE("", mqdev_nl_error(self->nl));
	EXPECT_EQ(-EBUSY, mqdev_group_commit_offset(self->nl, "rst", self->name,
						    0, 1, NULL));
	gen = mqdev_consumer_generation(c) - 1;
	EXPECT_EQ(-ESTALE, mqdev_group_commit_offset(self->nl, "rst",
						     self->name, 0, 1, &gen));
	gen++;
	EXPECT_EQ(0, mqdev_group_commit_offset(self->nl, "rst", self->name, 0,
					       1, &gen));
	EXPECT_EQ(-EBUSY, mqdev_group_delete(self->nl, "rst", self->name, false));

	/* forced: by time, and the member is moved at once */
	EXPECT_EQ(0, mqdev_group_reset(self->nl, "rst", self->name, 1,
				       MQDEV_SEEK_TIMESTAMP, ts, true));
	EXPECT_EQ(1, mqdev_consumer_wait(c, 1000));
	ASSERT_EQ(0, mqdev_group_get(self->nl, "rst", self->name, keep, &s));
	EXPECT_GE(7, s.part[1].position);
	mqdev_consumer_free(c);

	EXPECT_EQ(0, mqdev_group_delete(self->nl, "rst", NULL, false));
	EXPECT_EQ(-ENOENT, mqdev_group_delete(self->nl, "rst", self->name, false));
	EXPECT_EQ(-ENOENT, mqdev_group_reset(self->nl, "rst", "no-topic",
					     MQDEV_PARTITION_ALL,
					     MQDEV_SEEK_EARLIEST, 0, false));
	EXPECT_STREQ("no such topic", mqdev_nl_error(self->nl));
}

TEST_F(nl, events)
{
	struct mqdev_consumer *c;
	LIBMQDEV_OPTS(mqdev_event, ev);
	struct mqdev_nl *watch;
	const char *t = topic_name("nl-ev");
	char topic[MQDEV_NAME_MAX + 1];

	strcpy(topic, t);
	ASSERT_EQ(0, mqdev_nl_open(&watch));
	ASSERT_EQ(0, mqdev_nl_subscribe(watch));

	ASSERT_EQ(0, create_topic(self->fd, topic, 1, 4096, 0));
	ASSERT_EQ(1, mqdev_nl_event(watch, &ev, 2000));
	EXPECT_EQ(MQDEV_CMD_EVENT_TOPIC_NEW, ev.cmd);
	EXPECT_STREQ(topic, ev.topic);

	ASSERT_EQ(0, mqdev_consumer_new(topic, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_join(c, "ev", MQDEV_SEEK_EARLIEST));
	ASSERT_EQ(1, mqdev_nl_event(watch, &ev, 2000));
	EXPECT_EQ(MQDEV_CMD_EVENT_REBALANCE, ev.cmd);
	EXPECT_STREQ("ev", ev.group);
	EXPECT_EQ(1, ev.members);
	EXPECT_EQ(mqdev_consumer_generation(c), ev.generation);
	mqdev_consumer_free(c);
	ASSERT_EQ(1, mqdev_nl_event(watch, &ev, 2000));
	EXPECT_EQ(MQDEV_CMD_EVENT_REBALANCE, ev.cmd);
	EXPECT_EQ(0, ev.members);

	ASSERT_EQ(0, mqdev_topic_delete(self->fd, topic));
	ASSERT_EQ(1, mqdev_nl_event(watch, &ev, 2000));
	EXPECT_EQ(MQDEV_CMD_EVENT_TOPIC_DEL, ev.cmd);
	EXPECT_EQ(0, mqdev_nl_event(watch, &ev, 100));
	mqdev_nl_close(watch);
}

/* Raw requests: the family's id, then hand-made messages. */
static int family_id(void)
{
	char buf[8192];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_GENERIC);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;
	struct nlattr *a;
	int id = -1, n;

	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = CTRL_CMD_GETFAMILY;
	genl->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, MQDEV_GENL_NAME);
	mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID);
	mnl_socket_sendto(nl, nlh, nlh->nlmsg_len);
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	nlh = (struct nlmsghdr *)buf;
	if (n > 0 && nlh->nlmsg_type == GENL_ID_CTRL)
		mnl_attr_for_each(a, nlh, sizeof(*genl))
			if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID)
				id = mnl_attr_get_u16(a);
	mnl_socket_close(nl);
	return id;
}

struct raw {
	char buf[8192];
	struct nlmsghdr *nlh;
	char msg[256];
	int32_t offs;		/* of the attribute the ext-ack names, or -1 */
};

static struct nlmsghdr *raw_start(struct raw *r, int family, uint8_t cmd)
{
	struct genlmsghdr *genl;

	r->nlh = mnl_nlmsg_put_header(r->buf);
	r->nlh->nlmsg_type = family;
	r->nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	genl = mnl_nlmsg_put_extra_header(r->nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = MQDEV_GENL_VERSION;
	return r->nlh;
}

/* A request about group "bad" of @topic. */
static struct nlmsghdr *raw_group(struct raw *r, int family, uint8_t cmd,
				  const char *topic)
{
	raw_start(r, family, cmd);
	mnl_attr_put_strz(r->nlh, MQDEV_A_GROUP, "bad");
	mnl_attr_put_strz(r->nlh, MQDEV_A_TOPIC, topic);
	return r->nlh;
}

/* Send and return the error in the ack, keeping the ext-ack message and
 * the offset of the attribute it points at.
 */
static int raw_send(struct raw *r)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_GENERIC);
	char rbuf[8192];
	const struct nlmsgerr *err;
	const struct nlattr *attr;
	struct nlmsghdr *nlh;
	int one = 1, ret = -EPROTO, n;

	r->msg[0] = '\0';
	r->offs = -1;
	mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID);
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	mnl_socket_sendto(nl, r->nlh, r->nlh->nlmsg_len);
	n = mnl_socket_recvfrom(nl, rbuf, sizeof(rbuf));
	nlh = (struct nlmsghdr *)rbuf;
	if (n > 0 && nlh->nlmsg_type == NLMSG_ERROR) {
		err = mnl_nlmsg_get_payload(nlh);
		ret = err->error;
		mnl_attr_for_each_payload((const void *)(err + 1),
					  mnl_nlmsg_get_payload_len(nlh) -
					  sizeof(*err))
			if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG)
				snprintf(r->msg, sizeof(r->msg), "%s",
					 mnl_attr_get_str(attr));
			else if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_OFFS)
				r->offs = mnl_attr_get_u32(attr);
	}
	mnl_socket_close(nl);
	return ret;
}

TEST_F(nl, malformed_requests)
{
	int family = family_id();
	struct seen before = {}, after = {};
	static struct raw r;
	char longname[100];

	ASSERT_LT(0, family);
	ASSERT_EQ(0, mqdev_group_reset(self->nl, "bad", self->name,
				       MQDEV_PARTITION_ALL, MQDEV_SEEK_OFFSET,
				       3, false));
	ASSERT_EQ(0, mqdev_group_get(self->nl, "bad", NULL, keep, &before));

	raw_start(&r, family, 99);				/* unknown */
	EXPECT_EQ(-EOPNOTSUPP, raw_send(&r));

	raw_group(&r, family, MQDEV_CMD_GROUP_COMMIT, self->name);		/* missing */
	EXPECT_EQ(-EINVAL, raw_send(&r));
	EXPECT_STREQ("missing attribute: partition", r.msg);

	raw_group(&r, family, MQDEV_CMD_GROUP_COMMIT, self->name);		/* wrong size */
	mnl_attr_put_u16(r.nlh, MQDEV_A_PARTITION, 0);
	mnl_attr_put_u64(r.nlh, MQDEV_A_OFFSET, 1);
	EXPECT_EQ(-EINVAL, raw_send(&r));
	EXPECT_STRNE("", r.msg);

	raw_group(&r, family, MQDEV_CMD_GROUP_COMMIT, self->name);		/* range */
	mnl_attr_put_u32(r.nlh, MQDEV_A_PARTITION, 256);
	mnl_attr_put_u64(r.nlh, MQDEV_A_OFFSET, 1);
	EXPECT_EQ(-ERANGE, raw_send(&r));

	raw_group(&r, family, MQDEV_CMD_GROUP_COMMIT, self->name);		/* no partition */
	mnl_attr_put_u32(r.nlh, MQDEV_A_PARTITION, PARTS);
	mnl_attr_put_u64(r.nlh, MQDEV_A_OFFSET, 1);
	EXPECT_EQ(-EINVAL, raw_send(&r));
	EXPECT_STREQ("the topic has no such partition", r.msg);

	raw_start(&r, family, MQDEV_CMD_GROUP_RESET);		/* long name */
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	mnl_attr_put_strz(r.nlh, MQDEV_A_GROUP, longname);
	mnl_attr_put_strz(r.nlh, MQDEV_A_TOPIC, self->name);
	mnl_attr_put_u32(r.nlh, MQDEV_A_RESET, MQDEV_SEEK_EARLIEST);
	EXPECT_EQ(-EINVAL, raw_send(&r));

	raw_start(&r, family, MQDEV_CMD_GROUP_RESET);		/* bad name */
	mnl_attr_put_strz(r.nlh, MQDEV_A_GROUP, "a/b");
	mnl_attr_put_strz(r.nlh, MQDEV_A_TOPIC, self->name);
	mnl_attr_put_u32(r.nlh, MQDEV_A_RESET, MQDEV_SEEK_EARLIEST);
	EXPECT_EQ(-EINVAL, raw_send(&r));
	EXPECT_STRNE("", r.msg);

	raw_group(&r, family, MQDEV_CMD_GROUP_RESET, self->name);		/* bad whence */
	mnl_attr_put_u32(r.nlh, MQDEV_A_RESET, 9);
	EXPECT_EQ(-ERANGE, raw_send(&r));

	raw_group(&r, family, MQDEV_CMD_GROUP_RESET, self->name);		/* no offset */
	mnl_attr_put_u32(r.nlh, MQDEV_A_RESET, MQDEV_SEEK_OFFSET);
	EXPECT_EQ(-EINVAL, raw_send(&r));

	raw_group(&r, family, MQDEV_CMD_GROUP_RESET, self->name);		/* unknown attr */
	mnl_attr_put_u32(r.nlh, MQDEV_A_RESET, MQDEV_SEEK_EARLIEST);
	mnl_attr_put_u32(r.nlh, 200, 1);
	EXPECT_EQ(-EINVAL, raw_send(&r));

	raw_group(&r, family, MQDEV_CMD_GROUP_RESET, self->name);		/* reply-only */
	mnl_attr_put_u32(r.nlh, MQDEV_A_RESET, MQDEV_SEEK_EARLIEST);
	mnl_attr_put_u32(r.nlh, MQDEV_A_MEMBERS, 1);
	EXPECT_EQ(-EINVAL, raw_send(&r));

	raw_start(&r, family, MQDEV_CMD_EVENT_REBALANCE);	/* not a request */
	EXPECT_EQ(-EOPNOTSUPP, raw_send(&r));

	/* none of it changed the group */
	ASSERT_EQ(0, mqdev_group_get(self->nl, "bad", NULL, keep, &after));
	EXPECT_EQ(before.info.generation, after.info.generation);
	EXPECT_EQ(0, memcmp(before.part, after.part, sizeof(before.part)));
	EXPECT_EQ(3, after.part[0].position);
}

/*
 * Each command has its own policy (Documentation/netlink/specs/mqdev.yaml):
 * GROUP_COMMIT takes no FORCE, and says which attribute it refused rather
 * than committing as if it were not there.
 */
TEST_F(nl, commit_refuses_force)
{
	int family = family_id();
	struct seen s = {};
	static struct raw r;
	struct nlattr *force;

	ASSERT_LT(0, family);
	ASSERT_EQ(0, mqdev_group_reset(self->nl, "bad", self->name,
				       MQDEV_PARTITION_ALL, MQDEV_SEEK_OFFSET,
				       3, false));

	raw_group(&r, family, MQDEV_CMD_GROUP_COMMIT, self->name);
	mnl_attr_put_u32(r.nlh, MQDEV_A_PARTITION, 0);
	mnl_attr_put_u64(r.nlh, MQDEV_A_OFFSET, 1);
	force = mnl_nlmsg_get_payload_tail(r.nlh);
	mnl_attr_put(r.nlh, MQDEV_A_FORCE, 0, NULL);
	EXPECT_EQ(-EINVAL, raw_send(&r));
	EXPECT_STREQ("Unknown attribute type", r.msg);
	EXPECT_EQ((char *)force - (char *)r.nlh, r.offs)
		TH_LOG("the ext-ack should point at FORCE");
	ASSERT_EQ(0, mqdev_group_get(self->nl, "bad", self->name, keep, &s));
	EXPECT_EQ(3, s.part[0].position) TH_LOG("a refused commit moved it");

	/* without FORCE the same commit is taken */
	raw_group(&r, family, MQDEV_CMD_GROUP_COMMIT, self->name);
	mnl_attr_put_u32(r.nlh, MQDEV_A_PARTITION, 0);
	mnl_attr_put_u64(r.nlh, MQDEV_A_OFFSET, 1);
	EXPECT_EQ(0, raw_send(&r));
	ASSERT_EQ(0, mqdev_group_get(self->nl, "bad", self->name, keep, &s));
	EXPECT_EQ(1, s.part[0].position);
	EXPECT_EQ(0, mqdev_group_delete(self->nl, "bad", self->name, false));
}

/* Under overwrite a slow group loses records, is told how many, and its
 * lag shows it.
 */
TEST_F(nl, overwrite_slow_group)
{
	const struct mqdev_record *rec;
	struct mqdev_consumer *c;
	struct seen s = {};
	char topic[MQDEV_NAME_MAX + 1], value[100] = {};
	int prod, i, got = 0;

	strcpy(topic, topic_name("nl-ow"));
	ASSERT_EQ(0, create_topic(self->fd, topic, 1, 8192,
				  MQDEV_TOPIC_OVERWRITE));
	prod = attach(topic, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, prod);
	ASSERT_EQ(0, mqdev_consumer_new(topic, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_join(c, "slow", MQDEV_SEEK_EARLIEST));
	for (i = 0; i < 500; i++)
		ASSERT_EQ(0, produce_one(prod, 0, NULL, 0, value, sizeof(value),
					 NULL));

	/* the group is still at 0: its lag counts what it already lost */
	ASSERT_EQ(0, mqdev_group_get(self->nl, "slow", topic, keep, &s));
	EXPECT_EQ(0, s.part[0].position);
	EXPECT_EQ(500, s.part[0].lag);
	EXPECT_LT(0, s.part[0].first);

	while ((rec = mqdev_consumer_peek(c))) {
		EXPECT_EQ(s.part[0].first + got, rec->offset);
		mqdev_consumer_release(c);
		got++;
	}
	EXPECT_EQ(s.part[0].first, mqdev_consumer_lost(c));
	EXPECT_EQ(500, got + mqdev_consumer_lost(c));
	ASSERT_EQ(0, mqdev_consumer_commit(c));
	ASSERT_EQ(0, mqdev_group_get(self->nl, "slow", topic, keep, &s));
	EXPECT_EQ(0, s.part[0].lag);
	EXPECT_EQ(500, s.part[0].position);
	mqdev_consumer_free(c);
	close(prod);
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, topic));
}

struct user_args {
	const char *topic;
};

static int as_other(void *arg)
{
	struct user_args *u = arg;
	struct mqdev_nl *nl;
	struct seen s = {};
	int fails = 0;

	if (mqdev_nl_open(&nl))
		return 100;
	/* root's group on a topic others may read: visible, not changeable */
	fails += mqdev_group_get(nl, "root-group", u->topic, keep, &s) != 0;
	fails += s.count != 1;
	fails += mqdev_group_reset(nl, "root-group", u->topic,
				   MQDEV_PARTITION_ALL, MQDEV_SEEK_EARLIEST, 0,
				   false) != -EPERM;
	fails += mqdev_group_delete(nl, "root-group", u->topic, false) != -EPERM;
	fails += mqdev_group_commit_offset(nl, "root-group", u->topic, 0, 1,
					   NULL) != -EPERM;
	/* its own group on the same topic is its own */
	fails += mqdev_group_reset(nl, "users-group", u->topic,
				   MQDEV_PARTITION_ALL, MQDEV_SEEK_LATEST, 0,
				   false) != 0;
	fails += mqdev_group_delete(nl, "users-group", u->topic, false) != 0;
	mqdev_nl_close(nl);
	return fails;
}

static int as_other_private(void *arg)
{
	struct user_args *u = arg;
	struct mqdev_nl *nl;
	struct seen s = {};
	int fails = 0;

	if (mqdev_nl_open(&nl))
		return 100;
	/* a topic it may not read: its groups are not there for it */
	fails += mqdev_group_get(nl, NULL, u->topic, keep, &s) != 0;
	fails += s.count != 0;
	fails += mqdev_group_reset(nl, "root-group", u->topic,
				   MQDEV_PARTITION_ALL, MQDEV_SEEK_EARLIEST, 0,
				   false) != -EACCES;
	mqdev_nl_close(nl);
	return fails;
}

TEST_F(nl, unprivileged_users)
{
	struct user_args u = { .topic = self->name };
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = 1, .mode = 0600);
	char private[MQDEV_NAME_MAX + 1];

	ASSERT_EQ(0, mqdev_group_reset(self->nl, "root-group", self->name,
				       MQDEV_PARTITION_ALL, MQDEV_SEEK_EARLIEST,
				       0, false));
	EXPECT_EQ(0, as_user(USER_UID, as_other, &u));

	strcpy(private, topic_name("nl-private"));
	ASSERT_EQ(0, mqdev_topic_create(self->fd, private, &cfg));
	ASSERT_EQ(0, mqdev_group_reset(self->nl, "root-group", private,
				       MQDEV_PARTITION_ALL, MQDEV_SEEK_EARLIEST,
				       0, false));
	u.topic = private;
	EXPECT_EQ(0, as_user(USER_UID, as_other_private, &u));
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, private));
}

/* Groups seen by kind, and the last share group's member count. */
struct kinds {
	int consumer, share;
	uint32_t share_members;
	bool share_has_parts;
};

static int count_kinds(void *ctx, const struct mqdev_group_info *info)
{
	struct kinds *k = ctx;

	if (info->type == MQDEV_GROUP_TYPE_SHARE) {
		k->share++;
		k->share_members = info->members;
		k->share_has_parts |= info->nr_parts || info->nr_members;
	} else {
		k->consumer += info->type == MQDEV_GROUP_TYPE_CONSUMER;
	}
	return 0;
}

/*
 * Share groups are listed, after the topic's consumer groups, with their
 * kind and member count, members or not, until deleted: by name too.
 */
TEST_F(nl, share_groups_listed)
{
	struct mqdev_share *s;
	struct kinds k = {};

	ASSERT_EQ(0, mqdev_group_reset(self->nl, "cg-list", self->name,
				       MQDEV_PARTITION_ALL, MQDEV_SEEK_EARLIEST,
				       0, false));
	ASSERT_EQ(0, mqdev_share_new(self->name, "sg-list", NULL, &s));
	ASSERT_EQ(0, mqdev_group_get(self->nl, NULL, self->name, count_kinds,
				     &k));
	EXPECT_EQ(1, k.consumer);
	ASSERT_EQ(1, k.share) TH_LOG("the share group is not listed");
	EXPECT_EQ(1, k.share_members);
	EXPECT_FALSE(k.share_has_parts);

	memset(&k, 0, sizeof(k));
	ASSERT_EQ(0, mqdev_group_get(self->nl, "sg-list", NULL, count_kinds,
				     &k));
	EXPECT_EQ(0, k.consumer);
	EXPECT_EQ(1, k.share);

	/* memberless, it stays listed: what its deletion needs is shown */
	mqdev_share_free(s);
	memset(&k, 0, sizeof(k));
	ASSERT_EQ(0, mqdev_group_get(self->nl, "sg-list", self->name,
				     count_kinds, &k));
	EXPECT_EQ(1, k.share);
	EXPECT_EQ(0, k.share_members);
	/*
	 * A delete by name alone is a consumer group's, as it was before
	 * share groups were listed: this one is left alone.  Its topic
	 * names it.
	 */
	EXPECT_EQ(-ENOENT, mqdev_group_delete(self->nl, "sg-list", NULL,
					      false));
	memset(&k, 0, sizeof(k));
	ASSERT_EQ(0, mqdev_group_get(self->nl, "sg-list", self->name,
				     count_kinds, &k));
	EXPECT_EQ(1, k.share) TH_LOG("deleted by a consumer-group delete");
	EXPECT_EQ(0, mqdev_group_delete(self->nl, "sg-list", self->name,
					false));
	memset(&k, 0, sizeof(k));
	ASSERT_EQ(0, mqdev_group_get(self->nl, NULL, self->name, count_kinds,
				     &k));
	EXPECT_EQ(0, k.share);
	EXPECT_EQ(1, k.consumer);
}

struct share_user {
	const char *open, *private;
};

/* A reader sees a share group of a topic it may read, not of another. */
static int as_share_reader(void *arg)
{
	struct share_user *u = arg;
	struct mqdev_nl *nl;
	struct kinds k = {};
	int fails = 0;

	if (mqdev_nl_open(&nl))
		return 100;
	if (mqdev_group_get(nl, NULL, u->open, count_kinds, &k) || k.share != 1)
		fails |= 1;
	memset(&k, 0, sizeof(k));
	if (mqdev_group_get(nl, NULL, u->private, count_kinds, &k) ||
	    k.share || k.consumer)
		fails |= 2;
	memset(&k, 0, sizeof(k));
	if (mqdev_group_get(nl, "sg-hidden", NULL, count_kinds, &k) || k.share)
		fails |= 4;
	/* and may not delete another user's */
	if (mqdev_group_delete(nl, "sg-seen", u->open, false) != -EPERM)
		fails |= 8;
	mqdev_nl_close(nl);
	return fails;
}

TEST_F(nl, share_groups_listed_for_readers_only)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = 1, .mode = 0600);
	char private[MQDEV_NAME_MAX + 1];
	struct share_user u = { .open = self->name, .private = private };
	struct mqdev_share *seen, *hidden;

	strcpy(private, topic_name("nl-sprivate"));
	ASSERT_EQ(0, mqdev_topic_create(self->fd, private, &cfg));
	ASSERT_EQ(0, mqdev_share_new(self->name, "sg-seen", NULL, &seen));
	ASSERT_EQ(0, mqdev_share_new(private, "sg-hidden", NULL, &hidden));
	EXPECT_EQ(0, as_user(USER_UID, as_share_reader, &u));
	mqdev_share_free(seen);
	mqdev_share_free(hidden);
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, private));
}

/* The two topics of events_only_for_readers, owned by USER_UID. */
struct ev_topics {
	char private[MQDEV_NAME_MAX + 1];	/* mode 0600 */
	char public[MQDEV_NAME_MAX + 1];	/* mode 0644 */
};

#define HEARD_PRIVATE_NEW	1
#define HEARD_PUBLIC_NEW	2
#define HEARD_PRIVATE_DEL	4
#define HEARD_PUBLIC_DEL	8

static int create_both(void *arg)
{
	struct ev_topics *t = arg;
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = 1, .capacity = 4096);
	int fd = mqdev_open(), fails = 0;

	if (fd < 0)
		return 100;
	cfg.mode = 0600;
	fails += mqdev_topic_create(fd, t->private, &cfg) != 0;
	cfg.mode = 0644;
	fails += mqdev_topic_create(fd, t->public, &cfg) != 0;
	close(fd);
	return fails;
}

/* What @nl heard of the two topics until nothing came for half a second. */
static int heard(struct mqdev_nl *nl, const struct ev_topics *t)
{
	LIBMQDEV_OPTS(mqdev_event, ev);
	int i, got = 0, priv, pub;

	for (i = 0; i < 1000 && mqdev_nl_event(nl, &ev, 500) == 1; i++) {
		priv = !strcmp(ev.topic, t->private);
		pub = !strcmp(ev.topic, t->public);
		if (ev.cmd == MQDEV_CMD_EVENT_TOPIC_NEW)
			got |= (priv ? HEARD_PRIVATE_NEW : 0) |
			       (pub ? HEARD_PUBLIC_NEW : 0);
		else if (ev.cmd == MQDEV_CMD_EVENT_TOPIC_DEL)
			got |= (priv ? HEARD_PRIVATE_DEL : 0) |
			       (pub ? HEARD_PUBLIC_DEL : 0);
	}
	return got;
}

/*
 * Can the module filter a multicast listener by listener (6.8 on)?  Before,
 * kmod/compat.h sends an event only when everyone may read its topic.
 */
static bool per_listener_events(void)
{
	unsigned int major, minor;
	struct utsname u;

	if (uname(&u) || sscanf(u.release, "%u.%u", &major, &minor) != 2)
		return true;
	return major > 6 || (major == 6 && minor >= 8);
}

/*
 * The events group tells a listener only of topics it may read, by the
 * credentials of whoever opened the socket: OTHER_UID hears of USER_UID's
 * 0644 topic coming and going and nothing of its 0600 one; root of both,
 * or, on a kernel before 6.8, of the 0644 one only (nobody of the other).
 */
TEST_F(nl, events_only_for_readers)
{
	struct pollfd pfd = { .events = POLLIN };
	struct mqdev_nl *root;
	struct ev_topics t;
	int ready[2], go[2], status;
	pid_t pid;
	char b = 0;

	strcpy(t.private, topic_name("nl-ev-private"));
	strcpy(t.public, topic_name("nl-ev-public"));
	ASSERT_EQ(0, mqdev_nl_open(&root));
	ASSERT_EQ(0, mqdev_nl_subscribe(root));
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct mqdev_nl *nl;

		close(ready[0]);
		close(go[1]);
		if (setgroups(0, NULL) || setgid(OTHER_UID) ||
		    setuid(OTHER_UID))
			_exit(254);
		if (mqdev_nl_open(&nl) || mqdev_nl_subscribe(nl))
			_exit(253);
		if (write(ready[1], &b, 1) != 1 || read(go[0], &b, 1) != 1)
			_exit(252);
		_exit(heard(nl, &t));
	}
	close(ready[1]);
	close(go[0]);
	pfd.fd = ready[0];
	EXPECT_EQ(1, poll(&pfd, 1, 10000));
	EXPECT_EQ(1, read(ready[0], &b, 1));

	EXPECT_EQ(0, as_user(USER_UID, create_both, &t));
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, t.private));
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, t.public));
	EXPECT_EQ(1, write(go[1], &b, 1));
	close(go[1]);
	close(ready[0]);

	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(HEARD_PUBLIC_NEW | HEARD_PUBLIC_DEL, WEXITSTATUS(status))
		TH_LOG("bit %d: a 0600 topic's creation reached another user; "
		       "bit %d: its deletion", HEARD_PRIVATE_NEW,
		       HEARD_PRIVATE_DEL);
	if (per_listener_events()) {
		EXPECT_EQ(HEARD_PRIVATE_NEW | HEARD_PUBLIC_NEW |
			  HEARD_PRIVATE_DEL | HEARD_PUBLIC_DEL, heard(root, &t));
	} else {
		EXPECT_EQ(HEARD_PUBLIC_NEW | HEARD_PUBLIC_DEL, heard(root, &t));
	}
	mqdev_nl_close(root);
}

/*
 * A reset moves every partition it names or none: an offset past one
 * partition's end (ERANGE) leaves the others where they were, and a reset
 * of a missing group with bad input makes no group.
 */
TEST_F(nl, reset_is_all_or_nothing)
{
	struct seen s = {};
	int i;

	/* partition 0 has 10 records, 1 has 20, 2 has 30: add to 0 */
	for (i = 0; i < 15; i++)
		ASSERT_EQ(0, produce_one(self->prod, 0, NULL, 0, "x", 1, NULL));
	ASSERT_EQ(0, mqdev_group_reset(self->nl, "whole", self->name,
				       MQDEV_PARTITION_ALL, MQDEV_SEEK_EARLIEST,
				       0, false));
	/* 25 is inside partition 0 (25 records), past 1's end (20) */
	EXPECT_EQ(-ERANGE, mqdev_group_reset(self->nl, "whole", self->name,
					     MQDEV_PARTITION_ALL,
					     MQDEV_SEEK_OFFSET, 25, false));
	ASSERT_EQ(0, mqdev_group_get(self->nl, "whole", self->name, keep, &s));
	EXPECT_EQ(0, s.part[0].position) TH_LOG("a failed reset moved one");

	EXPECT_EQ(-EINVAL, mqdev_group_reset(self->nl, "never", self->name, 7,
					     MQDEV_SEEK_EARLIEST, 0, false));
	s.count = 0;
	ASSERT_EQ(0, mqdev_group_get(self->nl, "never", self->name, keep, &s));
	EXPECT_EQ(0, s.count) TH_LOG("a refused reset made a group");
	EXPECT_EQ(0, mqdev_group_delete(self->nl, "whole", self->name, false));
}

TEST_HARNESS_MAIN
