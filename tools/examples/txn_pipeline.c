// SPDX-License-Identifier: GPL-2.0
/*
 * Exactly-once consume-transform-produce with a transaction.
 *
 * The pipeline reads numbers from INPUT as a member of group "doubler" and
 * writes their doubles to OUTPUT.  Each batch is one transaction: the
 * doubles and the group's new offsets are committed together, or neither
 * is.  A crash in the middle of a batch (here: the process drops its
 * session before committing) aborts what it wrote, and the restarted
 * pipeline reads the batch again from the last committed offset.  Readers
 * of OUTPUT see every double exactly once.
 *
 *   txn_pipeline INPUT OUTPUT    (one partition each, empty)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "libmqdev.h"

#define NUMBERS 10
#define BATCH 4

static void fail(const char *what, int err)
{
	fprintf(stderr, "txn_pipeline: %s: %s\n", what, strerror(-err));
	exit(1);
}

static void check(int err, const char *what)
{
	if (err < 0)
		fail(what, err);
}

static uint32_t value_of(const struct mqdev_record *rec)
{
	uint32_t v;

	memcpy(&v, mqdev_record_value(rec), sizeof(v));
	return v;
}

/* One run of the pipeline; with @crash_in_batch it dies inside that batch. */
static void pipeline(const char *in, const char *out, int crash_in_batch)
{
	const struct mqdev_record *rec;
	struct mqdev_consumer *c;
	struct mqdev_producer *p;
	struct mqdev_session *s;
	int batch, n;
	uint32_t v;

	check(mqdev_consumer_new(in, NULL, &c), "consumer");
	check(mqdev_consumer_join(c, "doubler", MQDEV_SEEK_EARLIEST), "join");
	check(mqdev_session_new("doubler", 0, &s), "session");
	check(mqdev_producer_new(out, NULL, &p), "producer");
	check(mqdev_producer_bind(p, s), "bind");

	for (batch = 1; mqdev_consumer_wait(c, 200) > 0; batch++) {
		check(mqdev_txn_begin(s, batch), "begin");
		for (n = 0; n < BATCH && (rec = mqdev_consumer_peek(c)); n++) {
			v = 2 * value_of(rec);
			check(mqdev_producer_send(p, NULL, 0, &v, sizeof(v), 0,
						  NULL), "send");
			mqdev_consumer_release(c);
		}
		check(mqdev_txn_send_offsets(s, c), "offsets");
		if (batch == crash_in_batch) {
			check(mqdev_producer_flush(p), "flush");
			printf("crash in batch %d, after writing %d doubles\n",
			       batch, n);
			break;		/* without committing */
		}
		check(mqdev_txn_commit(s), "commit");
		printf("batch %d: %d doubles and their offsets committed\n",
		       batch, n);
	}
	mqdev_producer_free(p);
	mqdev_session_free(s);		/* an open transaction is aborted */
	mqdev_consumer_free(c);
}

int main(int argc, char **argv)
{
	const struct mqdev_record *rec;
	int seen[2 * NUMBERS] = {}, total = 0, once = 0, i;
	struct mqdev_producer *src;
	struct mqdev_consumer *c;
	uint32_t v;

	if (argc != 3) {
		fputs("usage: txn_pipeline INPUT OUTPUT\n", stderr);
		return 2;
	}
	check(mqdev_producer_new(argv[1], NULL, &src), "input");
	for (v = 0; v < NUMBERS; v++)
		check(mqdev_producer_send(src, NULL, 0, &v, sizeof(v), 0, NULL),
		      "input");
	check(mqdev_producer_flush(src), "input");
	mqdev_producer_free(src);

	pipeline(argv[1], argv[2], 2);
	printf("restart\n");
	pipeline(argv[1], argv[2], 0);

	check(mqdev_consumer_new(argv[2], NULL, &c), "output");
	check(mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0, 0, NULL),
	      "output");
	while (mqdev_consumer_wait(c, 500) > 0 && (rec = mqdev_consumer_peek(c))) {
		v = value_of(rec);
		if (v < 2 * NUMBERS)
			seen[v]++;
		total++;
		mqdev_consumer_release(c);
	}
	for (i = 0; i < NUMBERS; i++)
		once += seen[2 * i] == 1;
	printf("output: %d records, %d of %d doubles exactly once, %llu "
	       "aborted records skipped\n", total, once, NUMBERS,
	       (unsigned long long)mqdev_consumer_aborted(c));
	mqdev_consumer_free(c);
	return total == NUMBERS && once == NUMBERS ? 0 : 1;
}
