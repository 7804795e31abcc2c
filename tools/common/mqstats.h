/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mqdev's statistics as the tools show them: one snapshot of every counter
 * the caller may read, and its Prometheus text exposition, shared by
 * mqctl stats --prometheus and mqdev-exporter so that both say the same.
 */
#ifndef _MQSTATS_H
#define _MQSTATS_H

#include <stdio.h>
#include "libmqdev.h"

struct mqstats {
	struct mqdev_stats		*v;	/* in the kernel's order */
	size_t				n;
	uint64_t			*lag;	/* the groups' part_lag point here */
	size_t				nr_lag;
	struct mqdev_stats_module	module;
};

/* Read every counter of @topic (NULL: of all): 0 or -errno. */
int mqstats_take(struct mqdev_nl *nl, const char *topic, struct mqstats *s);
void mqstats_free(struct mqstats *s);

/* The Prometheus text format (version 0.0.4) of @s: 0, or -errno. */
int mqstats_prometheus(const struct mqstats *s, FILE *out);

#endif /* _MQSTATS_H */
