// SPDX-License-Identifier: GPL-2.0
/*
 * The exchange rows of the cost scenario: the instructions per message of
 * a produce to the topic, and through a direct, a 100,000-binding topic
 * and a fanout exchange, one copy each, BATCH a call.  Under -icount
 * shift=0 a guest nanosecond is one instruction, so the exchange
 * scenario's rates become counts that do not depend on the machine's load.
 */
#include <stdlib.h>
#include <unistd.h>
#include "libmqdev.h"
#include "mqbench.h"

#define EXC_SIZE	64
/* What fits in exchange.c's topic with room to spare, whatever --count. */
#define EXC_MAX_COUNT	65536

static const struct ex_case exc_cases[] = {
	{ "produce (no exchange)", -1, 0 },
	{ "direct exchange", MQDEV_EXCHANGE_DIRECT, 1 },
	{ "topic exchange, 100,000 bindings", MQDEV_EXCHANGE_TOPIC, 100000 },
	{ "fanout exchange", MQDEV_EXCHANGE_FANOUT, 1 },
};

#define EXC_NR	(sizeof(exc_cases) / sizeof(exc_cases[0]))

int exchange_cost_table(uint64_t count, FILE *json)
{
	uint64_t n = count < EXC_MAX_COUNT ? count : EXC_MAX_COUNT;
	char *buf = malloc(EXC_SIZE * BATCH), ex[MQDEV_NAME_MAX + 1];
	void *tmpl = template_of(EXC_SIZE);
	int fd = mqdev_open(), failed = 0;
	double ns[EXC_NR], rate;
	unsigned int i;

	if (fd < 0 || !buf || !tmpl) {
		failed = 1;
		goto out;
	}
	for (i = 0; i < BATCH; i++)
		fill(buf + i * EXC_SIZE, EXC_SIZE, i, tmpl);
	snprintf(ex, sizeof(ex), "mqbench-xc-%d", getpid());
	ex_raise_limits(true);
	for (i = 0; i < EXC_NR; i++) {
		rate = ex_once(fd, &exc_cases[i], ex, buf, n);
		ns[i] = rate > 0 ? 1e9 / rate : -1;
	}
	ex_raise_limits(false);
	printf("\ncost of routing: one process, %" PRIu64 " messages of %d B, "
	       "%d a call, one copy each, guest ns per message (instructions, "
	       "under -icount)\n\n", n, EXC_SIZE, BATCH);
	printf("| route | produce | vs no exchange |\n|---|---:|---:|\n");
	for (i = 0; i < EXC_NR; i++) {
		failed |= ns[i] < 0;
		printf("| %s | %.0f | %.2fx |\n", exc_cases[i].name, ns[i],
		       ns[i] / ns[0]);
		json_result(json, "cost", "mqdev-exchange", EXC_SIZE,
			    "\"route\":\"%s\",\"produce_ns\":%.0f",
			    exc_cases[i].name, ns[i]);
	}
out:
	free(buf);
	free(tmpl);
	if (fd >= 0)
		close(fd);
	return failed;
}
