// SPDX-License-Identifier: GPL-2.0
/*
 * Exactly-once appends with an idempotent producer.
 *
 * A producer that is not sure a batch landed (a crash, an error between the
 * append and the acknowledgement) sends it again, unchanged.  Bound to a
 * producer session, every message carries the producer's id and its
 * sequence number in its partition; the kernel appends the ones it has not
 * seen and acknowledges the others with the offsets they got the first
 * time.  A restarted process takes the same name and resumes the numbers;
 * the instance before it, if still alive, is fenced.
 *
 *   idempotent_retry TOPIC
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "libmqdev.h"

#define BATCH 4

static int fail(const char *what, int err)
{
	fprintf(stderr, "idempotent_retry: %s: %s\n", what, strerror(-err));
	return 1;
}

static void print_acks(const char *when, const struct mqdev_msg *msgs, int n)
{
	int i;

	printf("%s:\n", when);
	for (i = 0; i < n; i++)
		printf("  sequence %u -> partition %u offset %llu%s\n",
		       msgs[i].sequence, msgs[i].partition,
		       (unsigned long long)msgs[i].offset,
		       msgs[i].status & MQDEV_MSG_DUPLICATE ?
		       " (a duplicate: not appended again)" : "");
}

int main(int argc, char **argv)
{
	static const char *const values[BATCH] = {
		"debit 10", "credit 10", "debit 5", "credit 5",
	};
	struct mqdev_msg msgs[BATCH];
	struct mqdev_producer *p;
	struct mqdev_session *s, *again;
	int i, n, err;

	if (argc != 2) {
		fputs("usage: idempotent_retry TOPIC\n", stderr);
		return 2;
	}
	err = mqdev_session_new("ledger-writer", 0, &s);
	if (err)
		return fail("producer session", err);
	err = mqdev_producer_new(argv[1], NULL, &p);
	if (!err)
		err = mqdev_producer_bind(p, s);
	if (err)
		return fail(argv[1], err);

	/* Number the batch once; a retry sends it exactly as it was. */
	for (i = 0; i < BATCH; i++)
		mqdev_msg_init(&msgs[i], NULL, 0, values[i], strlen(values[i]),
			       0);
	mqdev_producer_stamp(p, msgs, BATCH);
	n = mqdev_produce(p, msgs, BATCH);
	if (n != BATCH)
		return fail("produce", n < 0 ? n : -EIO);
	print_acks("first send", msgs, BATCH);

	/* "Did that land?" -- send it again. */
	n = mqdev_produce(p, msgs, BATCH);
	if (n != BATCH)
		return fail("resend", n < 0 ? n : -EIO);
	print_acks("the same batch again", msgs, BATCH);

	/* A restart: the new instance resumes, the old one is fenced. */
	err = mqdev_session_new("ledger-writer", 0, &again);
	if (err)
		return fail("second session", err);
	printf("restarted as producer %llu epoch %u; the old instance now "
	       "gets: %s\n", (unsigned long long)mqdev_session_producer_id(again),
	       mqdev_session_epoch(again),
	       strerror(-mqdev_produce(p, msgs, 1)));
	mqdev_producer_free(p);
	err = mqdev_producer_new(argv[1], NULL, &p);
	if (!err)
		err = mqdev_producer_bind(p, again);
	if (err)
		return fail("rebind", err);
	printf("its next sequence number in partition 0: %u\n",
	       mqdev_producer_next_sequence(p, 0));
	mqdev_producer_free(p);
	mqdev_session_free(again);
	mqdev_session_free(s);
	return 0;
}
