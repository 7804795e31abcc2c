// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The control channel: the "mqdev" generic netlink family, spoken with
 * libmnl.  Requests ask for extended acks, so that a refusal comes back with
 * the kernel's own explanation (mqdev_nl_error()).
 *
 * What the kernel sends unasked (events, a checker's questions) has sequence
 * number 0.  When it arrives while a request waits for its answer, it is put
 * aside for mqdev_nl_event() rather than taken for part of the answer.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include "internal.h"

#define NL_BUF_SIZE	(64 * 1024)

struct mqdev_nl {
	struct mnl_socket	*sock;
	uint32_t		portid;
	uint32_t		seq;
	uint16_t		family;
	uint32_t		events;		/* multicast group id */
	char			error[256];
	char			*buf;
	struct nl_aside		*aside;		/* oldest first */
	struct nl_aside		**aside_end;
};

struct nl_aside {
	struct nl_aside		*next;
	size_t			len;
	char			msg[];
};

/* What a request's callbacks share. */
struct nl_call {
	struct mqdev_nl		*nl;
	mnl_cb_t		cb;
	void			*ctx;
};

static struct nlmsghdr *nl_msg(struct mqdev_nl *nl, uint16_t type,
			       uint16_t flags, uint8_t cmd, uint8_t version)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++nl->seq;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = version;
	return nlh;
}

static int nl_ext_ack_cb(const struct nlattr *attr, void *data)
{
	struct mqdev_nl *nl = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		snprintf(nl->error, sizeof(nl->error), "%s",
			 mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

/* NLMSG_ERROR: an ack, or a refusal with perhaps a message (acks capped). */
static int nl_error_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_call *call = data;
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	size_t off = sizeof(*err);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS)
		mnl_attr_parse_payload((const char *)err + off,
				       mnl_nlmsg_get_payload_len(nlh) - off,
				       nl_ext_ack_cb, call->nl);
	if (!err->error)
		return MNL_CB_STOP;
	errno = -err->error;
	return MNL_CB_ERROR;
}

/* NLMSG_DONE ends a dump, and may carry its error and message. */
static int nl_done_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_call *call = data;
	const int *error = mnl_nlmsg_get_payload(nlh);

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*error) || !*error)
		return MNL_CB_STOP;
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS)
		mnl_attr_parse_payload(error + 1,
				       mnl_nlmsg_get_payload_len(nlh) -
				       sizeof(*error), nl_ext_ack_cb, call->nl);
	errno = -*error;
	return MNL_CB_ERROR;
}

/* Keep an unasked message for mqdev_nl_event(). */
static int nl_put_aside(struct mqdev_nl *nl, const struct nlmsghdr *nlh)
{
	struct nl_aside *a = malloc(sizeof(*a) + nlh->nlmsg_len);

	if (!a) {
		errno = ENOMEM;
		return MNL_CB_ERROR;
	}
	a->next = NULL;
	a->len = nlh->nlmsg_len;
	memcpy(a->msg, nlh, nlh->nlmsg_len);
	*nl->aside_end = a;
	nl->aside_end = &a->next;
	return MNL_CB_OK;
}

static int nl_data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_call *call = data;

	if (!nlh->nlmsg_seq)
		return nl_put_aside(call->nl, nlh);
	return call->cb ? call->cb(nlh, call->ctx) : MNL_CB_OK;
}

/* Send @nlh and run @cb on every reply until the ack or the dump's end. */
static int nl_request(struct mqdev_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb,
		      void *ctx)
{
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_ERROR] = nl_error_cb,
		[NLMSG_DONE] = nl_done_cb,
	};
	struct nl_call call = { .nl = nl, .cb = cb, .ctx = ctx };
	uint32_t seq = nlh->nlmsg_seq;
	ssize_t n;
	int ret;

	nl->error[0] = '\0';
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(nl->sock, nl->buf, NL_BUF_SIZE);
		if (n < 0)
			return -errno;
		ret = mnl_cb_run2(nl->buf, n, seq, nl->portid, nl_data_cb,
				  &call, ctl, NLMSG_MIN_TYPE);
	} while (ret > MNL_CB_STOP);
	return ret < 0 ? -errno : 0;
}

/* The family's request @cmd, for the other files (internal.h). */
struct nlmsghdr *mqdev_nl_new(struct mqdev_nl *nl, uint16_t flags, uint8_t cmd)
{
	return nl_msg(nl, nl->family, flags, cmd, MQDEV_GENL_VERSION);
}

int mqdev_nl_run(struct mqdev_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb,
		 void *ctx)
{
	return nl_request(nl, nlh, cb, ctx);
}

/* ---- resolving the family -------------------------------------------- */

static int nl_mcgrp_cb(const struct nlattr *attr, void *data)
{
	struct mqdev_nl *nl = data;
	struct nlattr *a;
	const char *name = NULL;
	uint32_t id = 0;

	mnl_attr_for_each_nested(a, attr) {
		if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GRP_NAME &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			name = mnl_attr_get_str(a);
		if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GRP_ID &&
		    mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			id = mnl_attr_get_u32(a);
	}
	if (name && !strcmp(name, MQDEV_GENL_MCGRP_EVENTS))
		nl->events = id;
	return MNL_CB_OK;
}

static int nl_family_cb(const struct nlmsghdr *nlh, void *data)
{
	struct mqdev_nl *nl = data;
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID &&
		    mnl_attr_validate(a, MNL_TYPE_U16) == 0)
			nl->family = mnl_attr_get_u16(a);
		if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GROUPS)
			mnl_attr_parse_nested(a, nl_mcgrp_cb, nl);
	}
	return MNL_CB_OK;
}

MQDEV_EXPORT int mqdev_nl_open(struct mqdev_nl **nlp)
{
	struct nlmsghdr *nlh;
	struct mqdev_nl *nl;
	int one = 1, err;

	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	nl->aside_end = &nl->aside;
	nl->buf = malloc(NL_BUF_SIZE);
	nl->sock = mnl_socket_open(NETLINK_GENERIC);
	if (!nl->buf || !nl->sock) {
		err = nl->buf ? -errno : -ENOMEM;
		goto err_close;
	}
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto err_close;
	}
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = time(NULL);

	nlh = nl_msg(nl, GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, MQDEV_GENL_NAME);
	err = nl_request(nl, nlh, nl_family_cb, nl);
	if (err == -ENOENT)
		err = -ENODEV;		/* the module is not loaded */
	if (err)
		goto err_close;
	*nlp = nl;
	return 0;

err_close:
	mqdev_nl_close(nl);
	return err;
}

MQDEV_EXPORT void mqdev_nl_close(struct mqdev_nl *nl)
{
	struct nl_aside *a;

	if (!nl)
		return;
	while ((a = nl->aside)) {
		nl->aside = a->next;
		free(a);
	}
	if (nl->sock)
		mnl_socket_close(nl->sock);
	free(nl->buf);
	free(nl);
}

MQDEV_EXPORT int mqdev_nl_fd(const struct mqdev_nl *nl)
{
	return mnl_socket_get_fd(nl->sock);
}

MQDEV_EXPORT const char *mqdev_nl_error(const struct mqdev_nl *nl)
{
	return nl->error;
}

/* ---- groups ------------------------------------------------------------ */

static void nl_put_names(struct nlmsghdr *nlh, const char *group,
			 const char *topic)
{
	if (group)
		mnl_attr_put_strz(nlh, MQDEV_A_GROUP, group);
	if (topic)
		mnl_attr_put_strz(nlh, MQDEV_A_TOPIC, topic);
}

static void nl_copy_name(char *dst, const struct nlattr *a)
{
	if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
		snprintf(dst, MQDEV_NAME_SIZE, "%s", mnl_attr_get_str(a));
}

static void parse_member(const struct nlattr *nest,
			 struct mqdev_member_info *m)
{
	struct nlattr *a;

	memset(m, 0, sizeof(*m));
	mnl_attr_for_each_nested(a, nest) {
		if (mnl_attr_get_type(a) == MQDEV_MEMBER_A_COMM) {
			if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
				snprintf(m->comm, sizeof(m->comm), "%s",
					 mnl_attr_get_str(a));
			continue;
		}
		if (mnl_attr_validate(a, MNL_TYPE_U32))
			continue;
		switch (mnl_attr_get_type(a)) {
		case MQDEV_MEMBER_A_ID:
			m->id = mnl_attr_get_u32(a);
			break;
		case MQDEV_MEMBER_A_PID:
			m->pid = mnl_attr_get_u32(a);
			break;
		case MQDEV_MEMBER_A_COUNT:
			m->partitions = mnl_attr_get_u32(a);
			break;
		}
	}
}

static void parse_part(const struct nlattr *nest,
		       struct mqdev_group_partition *p)
{
	struct nlattr *a;
	uint16_t type;

	memset(p, 0, sizeof(*p));
	mnl_attr_for_each_nested(a, nest) {
		type = mnl_attr_get_type(a);
		if (type == MQDEV_PART_A_INDEX || type == MQDEV_PART_A_OWNER) {
			if (mnl_attr_validate(a, MNL_TYPE_U32))
				continue;
			if (type == MQDEV_PART_A_INDEX) {
				p->partition = mnl_attr_get_u32(a);
			} else {
				p->owner = mnl_attr_get_u32(a);
				p->owned = true;
			}
			continue;
		}
		if (mnl_attr_validate(a, MNL_TYPE_U64))
			continue;
		switch (type) {
		case MQDEV_PART_A_COMMITTED:
			p->committed = true;
			break;
		case MQDEV_PART_A_POSITION:
			p->position = mnl_attr_get_u64(a);
			break;
		case MQDEV_PART_A_FIRST:
			p->first = mnl_attr_get_u64(a);
			break;
		case MQDEV_PART_A_END:
			p->end = mnl_attr_get_u64(a);
			break;
		case MQDEV_PART_A_LAG:
			p->lag = mnl_attr_get_u64(a);
			break;
		}
	}
}

struct group_parse {
	mqdev_group_fn	fn;
	void		*ctx;
	int		error;
};

/* Count the repeated nests first, then fill arrays of that size. */
static int parse_group(const struct nlmsghdr *nlh,
		       struct mqdev_group_info *info)
{
	struct nlattr *a;
	uint32_t nm = 0, np = 0;

	memset(info, 0, sizeof(*info));
	info->sz = sizeof(*info);
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		nm += mnl_attr_get_type(a) == MQDEV_A_MEMBER;
		np += mnl_attr_get_type(a) == MQDEV_A_PART;
	}
	info->member = calloc(nm ? nm : 1, sizeof(*info->member));
	info->part = calloc(np ? np : 1, sizeof(*info->part));
	if (!info->member || !info->part)
		return -ENOMEM;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(a)) {
		case MQDEV_A_GROUP:
			nl_copy_name(info->group, a);
			break;
		case MQDEV_A_TOPIC:
			nl_copy_name(info->topic, a);
			break;
		case MQDEV_A_GENERATION:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				info->generation = mnl_attr_get_u32(a);
			break;
		case MQDEV_A_MEMBERS:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				info->members = mnl_attr_get_u32(a);
			break;
		case MQDEV_A_GROUP_TYPE:	/* absent: a consumer group */
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				info->type = mnl_attr_get_u32(a);
			break;
		case MQDEV_A_MEMBER:
			parse_member(a, &info->member[info->nr_members++]);
			break;
		case MQDEV_A_PART:
			parse_part(a, &info->part[info->nr_parts++]);
			break;
		}
	}
	return 0;
}

static int group_cb(const struct nlmsghdr *nlh, void *data)
{
	struct group_parse *gp = data;
	struct mqdev_group_info info;
	int err;

	err = parse_group(nlh, &info);
	if (!err && gp->fn)
		err = gp->fn(gp->ctx, &info);
	free(info.member);
	free(info.part);
	if (err < 0) {
		gp->error = err;
		return MNL_CB_STOP;
	}
	return MNL_CB_OK;
}

MQDEV_EXPORT int mqdev_group_get(struct mqdev_nl *nl, const char *group,
				 const char *topic, mqdev_group_fn fn,
				 void *ctx)
{
	struct group_parse gp = { .fn = fn, .ctx = ctx };
	struct nlmsghdr *nlh;
	int err;

	nlh = nl_msg(nl, nl->family, NLM_F_DUMP, MQDEV_CMD_GROUP_GET,
		     MQDEV_GENL_VERSION);
	nl_put_names(nlh, group, topic);
	err = nl_request(nl, nlh, group_cb, &gp);
	return err ? err : gp.error;
}

MQDEV_EXPORT int mqdev_group_commit_offset(struct mqdev_nl *nl,
					   const char *group,
					   const char *topic,
					   uint32_t partition, uint64_t offset,
					   const uint32_t *generation)
{
	struct nlmsghdr *nlh;

	nlh = nl_msg(nl, nl->family, NLM_F_ACK, MQDEV_CMD_GROUP_COMMIT,
		     MQDEV_GENL_VERSION);
	nl_put_names(nlh, group, topic);
	mnl_attr_put_u32(nlh, MQDEV_A_PARTITION, partition);
	mnl_attr_put_u64(nlh, MQDEV_A_OFFSET, offset);
	if (generation)
		mnl_attr_put_u32(nlh, MQDEV_A_GENERATION, *generation);
	return nl_request(nl, nlh, NULL, NULL);
}

MQDEV_EXPORT int mqdev_group_reset(struct mqdev_nl *nl, const char *group,
				   const char *topic, uint32_t partition,
				   uint32_t whence, uint64_t value, bool force)
{
	struct nlmsghdr *nlh;

	nlh = nl_msg(nl, nl->family, NLM_F_ACK, MQDEV_CMD_GROUP_RESET,
		     MQDEV_GENL_VERSION);
	nl_put_names(nlh, group, topic);
	mnl_attr_put_u32(nlh, MQDEV_A_RESET, whence);
	if (partition != MQDEV_PARTITION_ALL)
		mnl_attr_put_u32(nlh, MQDEV_A_PARTITION, partition);
	if (whence == MQDEV_SEEK_OFFSET)
		mnl_attr_put_u64(nlh, MQDEV_A_OFFSET, value);
	if (whence == MQDEV_SEEK_TIMESTAMP)
		mnl_attr_put_u64(nlh, MQDEV_A_TIMESTAMP, value);
	if (force)
		mnl_attr_put(nlh, MQDEV_A_FORCE, 0, NULL);
	return nl_request(nl, nlh, NULL, NULL);
}

struct topic_names {
	char	(*names)[MQDEV_NAME_SIZE];
	int	n;
	int	others;		/* share groups of the name, left alone */
};

/*
 * A consumer group's topic.  A share group of the same name is not: a
 * consumer-group tool that deletes one by name did not touch share groups
 * before they were listed, and does not now (its topic names it).
 */
static int collect_topic(void *ctx, const struct mqdev_group_info *info)
{
	struct topic_names *t = ctx;
	void *grown;

	if (info->type != MQDEV_GROUP_TYPE_CONSUMER) {
		t->others++;
		return 0;
	}
	grown = realloc(t->names, (t->n + 1) * sizeof(*t->names));
	if (!grown)
		return -ENOMEM;
	t->names = grown;
	memcpy(t->names[t->n++], info->topic, MQDEV_NAME_SIZE);
	return 0;
}

static int group_delete_one(struct mqdev_nl *nl, const char *group,
			    const char *topic, bool force)
{
	struct nlmsghdr *nlh;

	nlh = nl_msg(nl, nl->family, NLM_F_ACK, MQDEV_CMD_GROUP_DELETE,
		     MQDEV_GENL_VERSION);
	nl_put_names(nlh, group, topic);
	if (force)
		mnl_attr_put(nlh, MQDEV_A_FORCE, 0, NULL);
	return nl_request(nl, nlh, NULL, NULL);
}

MQDEV_EXPORT int mqdev_group_delete(struct mqdev_nl *nl, const char *group,
				    const char *topic, bool force)
{
	struct topic_names t = {};
	int i, err;

	if (topic)
		return group_delete_one(nl, group, topic, force);
	err = mqdev_group_get(nl, group, NULL, collect_topic, &t);
	if (!err && !t.n) {
		snprintf(nl->error, sizeof(nl->error), t.others ?
			 "no such consumer group; a share group is deleted with its topic" :
			 "no such group");
		err = -ENOENT;
	}
	for (i = 0; i < t.n && !err; i++)
		err = group_delete_one(nl, group, t.names[i], force);
	free(t.names);
	return err;
}

/* ---- events ------------------------------------------------------------ */

MQDEV_EXPORT int mqdev_nl_subscribe(struct mqdev_nl *nl)
{
	if (!nl->events)
		return -ENOENT;
	if (mnl_socket_setsockopt(nl->sock, NETLINK_ADD_MEMBERSHIP,
				  &nl->events, sizeof(nl->events)) < 0)
		return -errno;
	return 0;
}

static void parse_txn_check(const struct nlmsghdr *nlh, struct mqdev_event *ev)
{
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(a)) {
		case MQDEV_A_PRODUCER:
			nl_copy_name(ev->producer, a);
			break;
		case MQDEV_A_PRODUCER_ID:
			if (mnl_attr_validate(a, MNL_TYPE_U64) == 0)
				ev->producer_id = mnl_attr_get_u64(a);
			break;
		case MQDEV_A_TXN:
			if (mnl_attr_validate(a, MNL_TYPE_U64) == 0)
				ev->txn = mnl_attr_get_u64(a);
			break;
		case MQDEV_A_COOKIE:
			if (mnl_attr_validate(a, MNL_TYPE_U64) == 0)
				ev->cookie = mnl_attr_get_u64(a);
			break;
		}
	}
}

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	struct mqdev_event *ev = data;
	const struct genlmsghdr *genl = mnl_nlmsg_get_payload(nlh);
	struct mqdev_group_info info;

	memset(ev, 0, sizeof(*ev));
	if (genl->cmd == MQDEV_CMD_TXN_CHECK) {
		parse_txn_check(nlh, ev);
		if (ev->txn)
			ev->cmd = genl->cmd;
		return MNL_CB_OK;
	}
	if (parse_group(nlh, &info) == 0) {
		ev->cmd = genl->cmd;
		memcpy(ev->group, info.group, sizeof(ev->group));
		memcpy(ev->topic, info.topic, sizeof(ev->topic));
		ev->generation = info.generation;
		ev->members = info.members;
	}
	free(info.member);
	free(info.part);
	return MNL_CB_OK;
}

/* The oldest message put aside during a request, as an event. */
static int nl_event_aside(struct mqdev_nl *nl, struct mqdev_event *ev)
{
	struct nl_aside *a = nl->aside;
	int ret;

	nl->aside = a->next;
	if (!nl->aside)
		nl->aside_end = &nl->aside;
	ret = mnl_cb_run(a->msg, a->len, 0, 0, event_cb, ev);
	free(a);
	if (ret < 0)
		return -errno;
	return ev->cmd ? 1 : 0;
}

static int nl_event(struct mqdev_nl *nl, struct mqdev_event *ev,
		    int timeout_ms)
{
	struct pollfd pfd = { .fd = mqdev_nl_fd(nl), .events = POLLIN };
	ssize_t n;
	int ret;

	if (nl->aside)
		return nl_event_aside(nl, ev);
	ret = poll(&pfd, 1, timeout_ms);
	if (ret <= 0)
		return ret < 0 ? -errno : 0;
	n = mnl_socket_recvfrom(nl->sock, nl->buf, NL_BUF_SIZE);
	if (n < 0)
		return -errno;
	ev->cmd = 0;
	ret = mnl_cb_run(nl->buf, n, 0, 0, event_cb, ev);
	if (ret < 0)
		return -errno;
	return ev->cmd ? 1 : 0;
}

MQDEV_EXPORT int mqdev_nl_event(struct mqdev_nl *nl, struct mqdev_event *event,
				int timeout_ms)
{
	struct mqdev_event ev = { .sz = sizeof(ev) };
	int ret = mqdev_out_check(event);

	if (ret)
		return ret;
	ret = nl_event(nl, &ev, timeout_ms);
	if (ret == 1)
		OUT_COPY(event, &ev, mqdev_event);
	return ret;
}

/* ---- transaction checkers ------------------------------------------------ */

MQDEV_EXPORT int mqdev_nl_checker_register(struct mqdev_nl *nl,
					   const char *producer)
{
	struct nlmsghdr *nlh;

	nlh = nl_msg(nl, nl->family, NLM_F_ACK, MQDEV_CMD_CHECKER_REGISTER,
		     MQDEV_GENL_VERSION);
	mnl_attr_put_strz(nlh, MQDEV_A_PRODUCER, producer);
	return nl_request(nl, nlh, NULL, NULL);
}

MQDEV_EXPORT int mqdev_txn_resolve(struct mqdev_nl *nl, const char *producer,
				   uint64_t txn, uint32_t decision)
{
	struct nlmsghdr *nlh;

	nlh = nl_msg(nl, nl->family, NLM_F_ACK, MQDEV_CMD_TXN_RESOLVE,
		     MQDEV_GENL_VERSION);
	mnl_attr_put_strz(nlh, MQDEV_A_PRODUCER, producer);
	mnl_attr_put_u64(nlh, MQDEV_A_TXN, txn);
	mnl_attr_put_u32(nlh, MQDEV_A_DECISION, decision);
	return nl_request(nl, nlh, NULL, NULL);
}
