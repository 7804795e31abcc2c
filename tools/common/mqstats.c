// SPDX-License-Identifier: GPL-2.0
/*
 * One snapshot of mqdev's statistics, and its Prometheus text exposition
 * (https://prometheus.io/docs/instrumenting/exposition_formats/): counters
 * end in _total, units are in the names (_bytes, _seconds), every family has
 * its HELP and TYPE.  Topic and group names are [A-Za-z0-9._-]: label
 * values that need no escaping.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "mqstats.h"

static int collect(void *ctx, const struct mqdev_stats *st)
{
	struct mqstats *s = ctx;
	struct mqdev_stats *v;
	uint64_t *lag;

	v = realloc(s->v, (s->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->v = v;
	v[s->n] = *st;
	v[s->n].part_lag = NULL;
	if (st->kind == MQDEV_STATS_GROUP && st->nr_parts) {
		lag = realloc(s->lag, (s->nr_lag + st->nr_parts) * sizeof(*lag));
		if (!lag)
			return -ENOMEM;
		s->lag = lag;
		memcpy(lag + s->nr_lag, st->part_lag,
		       st->nr_parts * sizeof(*lag));
		/* an index until the end: s->lag may move again */
		v[s->n].part_lag = (const uint64_t *)(uintptr_t)(s->nr_lag + 1);
		s->nr_lag += st->nr_parts;
	}
	s->n++;
	return 0;
}

int mqstats_take(struct mqdev_nl *nl, const char *topic, struct mqstats *s)
{
	size_t i;
	int err;

	memset(s, 0, sizeof(*s));
	s->module.sz = sizeof(s->module);
	err = mqdev_stats_get(nl, topic, collect, s) ?:
	      mqdev_stats_module(nl, &s->module);
	if (err) {
		mqstats_free(s);
		return err;
	}
	for (i = 0; i < s->n; i++)
		if (s->v[i].part_lag)
			s->v[i].part_lag = s->lag +
				((uintptr_t)s->v[i].part_lag - 1);
	return 0;
}

void mqstats_free(struct mqstats *s)
{
	free(s->v);
	free(s->lag);
	memset(s, 0, sizeof(*s));
}

static void family(FILE *out, const char *name, const char *type,
		   const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A partition's counter, as selected by @field (an offset into it). */
struct part_metric {
	const char	*name;
	const char	*type;
	const char	*help;
	size_t		field;
	const char	*label;		/* an extra label="value", or NULL */
};

#define PM(n, t, f, l, h) { n, t, h, offsetof(struct mqdev_stats, f), l }

static const struct part_metric part_metrics[] = {
	PM("mqdev_partition_records_total", "counter", records_in,
	   "direction=\"in\"", "Records appended (in) and read by read(2) (out)"),
	PM(NULL, NULL, records_out, "direction=\"out\"", NULL),
	PM("mqdev_partition_bytes_total", "counter", bytes_in,
	   "direction=\"in\"",
	   "Ring bytes (headers, keys, values, padding) appended and read by read(2)"),
	PM(NULL, NULL, bytes_out, "direction=\"out\"", NULL),
	PM("mqdev_partition_dropped_records_total", "counter", drops, NULL,
	   "Records an overwrite topic reclaimed to make room"),
	PM("mqdev_partition_producer_waits_total", "counter", waits, NULL,
	   "Times a producer slept for room"),
	PM("mqdev_partition_wakeups_total", "counter", reader_wakeups,
	   "waiter=\"reader\"",
	   "Times sleeping readers, or producers waiting for room, were woken"),
	PM(NULL, NULL, producer_wakeups, "waiter=\"producer\"", NULL),
	PM("mqdev_partition_kept_records", "gauge", kept_records, NULL,
	   "Records the partition keeps now"),
	PM("mqdev_partition_kept_bytes", "gauge", kept_bytes, NULL,
	   "Ring bytes the partition keeps now"),
};

static uint64_t field_of(const struct mqdev_stats *st, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)st + off, sizeof(v));
	return v;
}

static void part_labels(FILE *out, const struct mqdev_stats *st)
{
	fprintf(out, "{topic=\"%s\",partition=\"%u\"", st->topic,
		st->partition);
}

static void print_part_metrics(const struct mqstats *s, FILE *out)
{
	const struct part_metric *m;
	const char *name = NULL;
	size_t i, k;

	for (k = 0; k < sizeof(part_metrics) / sizeof(*part_metrics); k++) {
		m = &part_metrics[k];
		if (m->name) {
			name = m->name;
			family(out, name, m->type, m->help);
		}
		for (i = 0; i < s->n; i++) {
			if (s->v[i].kind != MQDEV_STATS_PARTITION)
				continue;
			fputs(name, out);
			part_labels(out, &s->v[i]);
			if (m->label)
				fprintf(out, ",%s", m->label);
			fprintf(out, "} %" PRIu64 "\n",
				field_of(&s->v[i], m->field));
		}
	}
	family(out, "mqdev_partition_producer_wait_seconds_total", "counter",
	       "Time producers slept for room");
	for (i = 0; i < s->n; i++) {
		if (s->v[i].kind != MQDEV_STATS_PARTITION)
			continue;
		fputs("mqdev_partition_producer_wait_seconds_total", out);
		part_labels(out, &s->v[i]);
		fprintf(out, "} %" PRIu64 ".%09" PRIu64 "\n",
			s->v[i].wait_ns / 1000000000,
			s->v[i].wait_ns % 1000000000);
	}
}

/* Refusals by reason: per partition, and the topic's before one was chosen. */
static void print_refusals(const struct mqstats *s, FILE *out)
{
	const char *reason;
	size_t i;
	uint32_t r;

	family(out, "mqdev_partition_refusals_total", "counter",
	       "Produces refused, by reason; partition=\"none\": before a "
	       "partition was chosen");
	for (i = 0; i < s->n; i++) {
		if (s->v[i].kind == MQDEV_STATS_GROUP)
			continue;
		for (r = 0; (reason = mqdev_stats_refusal_name(r)); r++) {
			fprintf(out, "mqdev_partition_refusals_total{topic=\"%s\",",
				s->v[i].topic);
			if (s->v[i].kind == MQDEV_STATS_PARTITION)
				fprintf(out, "partition=\"%u\"",
					s->v[i].partition);
			else
				fputs("partition=\"none\"", out);
			fprintf(out, ",reason=\"%s\"} %" PRIu64 "\n", reason,
				s->v[i].refused[r]);
		}
	}
}

static void print_group_metric(const struct mqstats *s, FILE *out,
			       const char *name, const char *type,
			       const char *help, size_t off, bool u32)
{
	const struct mqdev_stats *g;
	uint32_t m;
	size_t i;

	family(out, name, type, help);
	for (i = 0; i < s->n; i++) {
		g = &s->v[i];
		if (g->kind != MQDEV_STATS_GROUP)
			continue;
		if (u32)
			memcpy(&m, (const char *)g + off, sizeof(m));
		fprintf(out, "%s{topic=\"%s\",group=\"%s\"} %" PRIu64 "\n",
			name, g->topic, g->group,
			u32 ? (uint64_t)m : field_of(g, off));
	}
}

static void print_groups(const struct mqstats *s, FILE *out)
{
	const struct mqdev_stats *g;
	size_t i;
	uint32_t p;

	print_group_metric(s, out, "mqdev_group_commits_total", "counter",
			   "Positions the group committed",
			   offsetof(struct mqdev_stats, commits), false);
	print_group_metric(s, out, "mqdev_group_rebalances_total", "counter",
			   "Times the group's assignment was remade",
			   offsetof(struct mqdev_stats, rebalances), false);
	print_group_metric(s, out, "mqdev_group_members", "gauge",
			   "Members the group has now",
			   offsetof(struct mqdev_stats, members), true);
	family(out, "mqdev_group_lag", "gauge",
	       "Records between the group's position and the partition's end");
	for (i = 0; i < s->n; i++) {
		g = &s->v[i];
		if (g->kind != MQDEV_STATS_GROUP)
			continue;
		for (p = 0; p < g->nr_parts; p++)
			fprintf(out, "mqdev_group_lag{topic=\"%s\",group=\"%s\","
				"partition=\"%u\"} %" PRIu64 "\n", g->topic,
				g->group, p, g->part_lag[p]);
	}
}

/* One family of the module's charges: ring bytes apart from object counts. */
static void print_charges(const struct mqstats *s, FILE *out,
			  const char *name, const char *help, bool bytes,
			  size_t off)
{
	const struct mqdev_stats_module *m = &s->module;
	uint64_t v;
	uint32_t k;

	family(out, name, "gauge", help);
	for (k = 0; k < m->nr_charges; k++) {
		if ((k == MQDEV_CHARGE_BYTES) != bytes)
			continue;
		memcpy(&v, (const char *)&m->charge[k] + off, sizeof(v));
		if (v == UINT64_MAX)
			continue;	/* no such limit */
		if (bytes)
			fprintf(out, "%s %" PRIu64 "\n", name, v);
		else
			fprintf(out, "%s{kind=\"%s\"} %" PRIu64 "\n", name,
				mqdev_stats_charge_name(k), v);
	}
}

#define CHARGE(f)	offsetof(struct mqdev_stats_charge, f)

static void print_module(const struct mqstats *s, FILE *out)
{
	print_charges(s, out, "mqdev_module_objects",
		      "Objects the module holds, every user's", false,
		      CHARGE(used));
	print_charges(s, out, "mqdev_module_objects_limit",
		      "The module-wide limit of each kind that has one", false,
		      CHARGE(limit));
	print_charges(s, out, "mqdev_user_objects",
		      "Objects the reading user holds", false,
		      CHARGE(user_used));
	print_charges(s, out, "mqdev_user_objects_limit",
		      "The limit of one user, of each kind", false,
		      CHARGE(user_limit));
	print_charges(s, out, "mqdev_module_ring_bytes",
		      "Ring memory the module holds, every user's", true,
		      CHARGE(used));
	print_charges(s, out, "mqdev_module_ring_limit_bytes",
		      "The module-wide limit of ring memory (max_bytes)", true,
		      CHARGE(limit));
	print_charges(s, out, "mqdev_user_ring_bytes",
		      "Ring memory the reading user holds", true,
		      CHARGE(user_used));
	print_charges(s, out, "mqdev_user_ring_limit_bytes",
		      "The ring memory one user may hold (max_user_bytes)",
		      true, CHARGE(user_limit));
}

int mqstats_prometheus(const struct mqstats *s, FILE *out)
{
	print_part_metrics(s, out);
	print_refusals(s, out);
	print_groups(s, out);
	print_module(s, out);
	return ferror(out) ? -EIO : 0;
}
