// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * Statistics over the control channel: MQDEV_CMD_STATS_GET, a dump of one
 * message per partition, per topic (its refusals before a partition was
 * chosen) and per group, and MQDEV_CMD_MODULE_STATS_GET.
 */
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include "internal.h"

_Static_assert(MQDEV_REFUSED_MAX < MQDEV_STATS_REFUSALS,
	       "struct mqdev_stats has no room for every refusal");
_Static_assert(MQDEV_CHARGE_MAX < MQDEV_STATS_CHARGES,
	       "struct mqdev_stats_module has no room for every charge");

static const char *const refusal_names[] = {
	[MQDEV_REFUSED_FULL]		= "full",
	[MQDEV_REFUSED_TOO_BIG]		= "too_big",
	[MQDEV_REFUSED_INVALID]		= "invalid",
	[MQDEV_REFUSED_FAULT]		= "fault",
	[MQDEV_REFUSED_FENCED]		= "fenced",
	[MQDEV_REFUSED_SEQUENCE]	= "sequence",
	[MQDEV_REFUSED_TXN]		= "txn",
	[MQDEV_REFUSED_OTHER]		= "other",
};

static const char *const charge_names[] = {
	[MQDEV_CHARGE_TOPICS]		= "topics",
	[MQDEV_CHARGE_PARTITIONS]	= "partitions",
	[MQDEV_CHARGE_BYTES]		= "bytes",
	[MQDEV_CHARGE_GROUPS]		= "groups",
	[MQDEV_CHARGE_PRODUCERS]	= "producers",
	[MQDEV_CHARGE_PRODUCER_STATES]	= "producer_states",
	[MQDEV_CHARGE_TXNS]		= "transactions",
	[MQDEV_CHARGE_SCHEDULED]	= "scheduled",
	[MQDEV_CHARGE_SCHEDULED_BYTES]	= "scheduled_bytes",
};

#define NAME_OF(names, i) \
	((i) < sizeof(names) / sizeof(names[0]) ? names[i] : NULL)

MQDEV_EXPORT const char *mqdev_stats_refusal_name(uint32_t reason)
{
	return NAME_OF(refusal_names, reason);
}

MQDEV_EXPORT const char *mqdev_stats_charge_name(uint32_t kind)
{
	return NAME_OF(charge_names, kind);
}

static uint64_t get_u64(const struct nlattr *a)
{
	return mnl_attr_validate(a, MNL_TYPE_U64) ? 0 : mnl_attr_get_u64(a);
}

static uint32_t get_u32(const struct nlattr *a)
{
	return mnl_attr_validate(a, MNL_TYPE_U32) ? 0 : mnl_attr_get_u32(a);
}

static void parse_refusal(const struct nlattr *nest, struct mqdev_stats *st)
{
	uint32_t reason = UINT32_MAX;
	uint64_t count = 0;
	struct nlattr *a;

	mnl_attr_for_each_nested(a, nest) {
		if (mnl_attr_get_type(a) == MQDEV_REFUSAL_A_REASON &&
		    mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			reason = mnl_attr_get_u32(a);
		else if (mnl_attr_get_type(a) == MQDEV_REFUSAL_A_COUNT)
			count = get_u64(a);
	}
	if (reason < MQDEV_STATS_REFUSALS)
		st->refused[reason] = count;
}

static void parse_pstats(const struct nlattr *nest, struct mqdev_stats *st)
{
	uint64_t *field[MQDEV_PSTAT_A_MAX + 1] = {
		[MQDEV_PSTAT_A_RECORDS_IN]	= &st->records_in,
		[MQDEV_PSTAT_A_BYTES_IN]	= &st->bytes_in,
		[MQDEV_PSTAT_A_RECORDS_OUT]	= &st->records_out,
		[MQDEV_PSTAT_A_BYTES_OUT]	= &st->bytes_out,
		[MQDEV_PSTAT_A_DROPS]		= &st->drops,
		[MQDEV_PSTAT_A_WAITS]		= &st->waits,
		[MQDEV_PSTAT_A_WAIT_NS]		= &st->wait_ns,
		[MQDEV_PSTAT_A_READER_WAKEUPS]	= &st->reader_wakeups,
		[MQDEV_PSTAT_A_PRODUCER_WAKEUPS] = &st->producer_wakeups,
		[MQDEV_PSTAT_A_KEPT_RECORDS]	= &st->kept_records,
		[MQDEV_PSTAT_A_KEPT_BYTES]	= &st->kept_bytes,
	};
	struct nlattr *a;
	uint16_t type;

	mnl_attr_for_each_nested(a, nest) {
		type = mnl_attr_get_type(a);
		if (type == MQDEV_PSTAT_A_REFUSAL)
			parse_refusal(a, st);
		else if (type <= MQDEV_PSTAT_A_MAX && field[type])
			*field[type] = get_u64(a);
	}
}

/* The partitions' lag, by index, into @lag of @n entries. */
static void parse_gstats(const struct nlattr *nest, struct mqdev_stats *st,
			 uint64_t *lag, uint32_t n)
{
	uint32_t index;
	struct nlattr *a, *p;

	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case MQDEV_GSTAT_A_COMMITS:
			st->commits = get_u64(a);
			break;
		case MQDEV_GSTAT_A_REBALANCES:
			st->rebalances = get_u64(a);
			break;
		case MQDEV_GSTAT_A_MEMBERS:
			st->members = get_u32(a);
			break;
		case MQDEV_GSTAT_A_LAG:
			st->lag = get_u64(a);
			break;
		case MQDEV_GSTAT_A_PART:
			index = UINT32_MAX;
			mnl_attr_for_each_nested(p, a)
				if (mnl_attr_get_type(p) == MQDEV_PART_A_INDEX)
					index = get_u32(p);
			mnl_attr_for_each_nested(p, a)
				if (mnl_attr_get_type(p) == MQDEV_PART_A_LAG &&
				    index < n)
					lag[index] = get_u64(p);
			if (index < n && index >= st->nr_parts)
				st->nr_parts = index + 1;
			break;
		}
	}
}

struct stats_call {
	mqdev_stats_fn	fn;
	void		*ctx;
	int		error;
	uint64_t	lag[MQDEV_MAX_PARTITIONS];
};

static int stats_cb(const struct nlmsghdr *nlh, void *data)
{
	struct stats_call *call = data;
	struct mqdev_stats st = { .sz = sizeof(st), .kind = MQDEV_STATS_TOPIC };
	struct nlattr *a;
	int err = 0;

	memset(call->lag, 0, sizeof(call->lag));
	st.part_lag = call->lag;
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(a)) {
		case MQDEV_A_TOPIC:
		case MQDEV_A_GROUP:
			if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
				break;
			snprintf(mnl_attr_get_type(a) == MQDEV_A_TOPIC ?
				 st.topic : st.group, MQDEV_NAME_SIZE, "%s",
				 mnl_attr_get_str(a));
			break;
		case MQDEV_A_PARTITION:
			st.partition = get_u32(a);
			st.kind = MQDEV_STATS_PARTITION;
			break;
		case MQDEV_A_PSTATS:
			parse_pstats(a, &st);
			break;
		case MQDEV_A_GSTATS:
			st.kind = MQDEV_STATS_GROUP;
			parse_gstats(a, &st, call->lag, MQDEV_MAX_PARTITIONS);
			break;
		}
	}
	if (call->fn)
		err = call->fn(call->ctx, &st);
	if (err < 0) {
		call->error = err;
		return MNL_CB_STOP;
	}
	return MNL_CB_OK;
}

MQDEV_EXPORT int mqdev_stats_get(struct mqdev_nl *nl, const char *topic,
				 mqdev_stats_fn fn, void *ctx)
{
	struct stats_call *call = calloc(1, sizeof(*call));
	struct nlmsghdr *nlh;
	int err;

	if (!call)
		return -ENOMEM;
	call->fn = fn;
	call->ctx = ctx;
	nlh = mqdev_nl_new(nl, NLM_F_DUMP, MQDEV_CMD_STATS_GET);
	if (topic)
		mnl_attr_put_strz(nlh, MQDEV_A_TOPIC, topic);
	err = mqdev_nl_run(nl, nlh, stats_cb, call);
	if (!err)
		err = call->error;
	free(call);
	return err;
}

static void parse_charge(const struct nlattr *nest,
			 struct mqdev_stats_module *m)
{
	struct mqdev_stats_charge c = { .limit = UINT64_MAX };
	uint32_t kind = UINT32_MAX;
	struct nlattr *a;

	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case MQDEV_CHARGE_A_KIND:
			kind = get_u32(a);
			break;
		case MQDEV_CHARGE_A_USED:
			c.used = get_u64(a);
			break;
		case MQDEV_CHARGE_A_LIMIT:
			c.limit = get_u64(a);
			break;
		case MQDEV_CHARGE_A_USER_USED:
			c.user_used = get_u64(a);
			break;
		case MQDEV_CHARGE_A_USER_LIMIT:
			c.user_limit = get_u64(a);
			break;
		}
	}
	if (kind >= MQDEV_STATS_CHARGES)
		return;
	m->charge[kind] = c;
	if (kind >= m->nr_charges)
		m->nr_charges = kind + 1;
}

static int module_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == MQDEV_A_CHARGE)
			parse_charge(a, data);
	return MNL_CB_OK;
}

MQDEV_EXPORT int mqdev_stats_module(struct mqdev_nl *nl,
				    struct mqdev_stats_module *out)
{
	struct mqdev_stats_module m = { .sz = sizeof(m) };
	int err = mqdev_out_check(out);

	if (err)
		return err;
	err = mqdev_nl_run(nl, mqdev_nl_new(nl, NLM_F_ACK,
					    MQDEV_CMD_MODULE_STATS_GET),
			   module_cb, &m);
	if (!err)
		OUT_COPY(out, &m, mqdev_stats_module);
	return err;
}
