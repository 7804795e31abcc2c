// SPDX-License-Identifier: GPL-2.0
/*
 * At-least-once and at-most-once consumption in a consumer group.
 *
 * A group commits, per partition, the offset up to which its records are
 * done; a member that dies leaves the rest to whoever takes its partitions.
 * Commit after processing and a crash between the two makes the next member
 * process those records again (at least once: processing should be
 * idempotent); commit before processing and a crash loses them instead (at
 * most once).  The loss and duplicate detector shows which happened.
 *
 *   at_least_once TOPIC     (a topic with one partition, empty)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "libmqdev.h"

#define RECORDS 10

static int fail(const char *what, int err)
{
	fprintf(stderr, "at_least_once: %s: %s\n", what, strerror(-err));
	exit(1);
}

static void produce(const char *topic)
{
	struct mqdev_producer *p;
	struct mqdev_session *s;
	char value[32];
	int i, err;

	err = mqdev_session_new(NULL, 0, &s);
	if (!err)
		err = mqdev_producer_new(topic, NULL, &p);
	if (!err)
		err = mqdev_producer_bind(p, s);
	for (i = 0; i < RECORDS && !err; i++) {
		snprintf(value, sizeof(value), "invoice %d", i);
		err = mqdev_producer_send(p, NULL, 0, value, strlen(value), 0,
					  NULL);
	}
	if (err || mqdev_producer_flush(p) != RECORDS)
		fail("produce", err ? err : -EIO);
	mqdev_producer_free(p);
	mqdev_session_free(s);
}

/*
 * A member of group "billing" that processes up to @max records, committing
 * after each of the first four; then it "crashes" (leaves without
 * committing the rest).
 */
static int member(const char *topic, struct mqdev_verifier *v, int max,
		  const char *who)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts, .verifier = v);
	const struct mqdev_record *rec;
	struct mqdev_consumer *c;
	int n = 0, err;

	err = mqdev_consumer_new(topic, &opts, &c);
	if (!err)
		err = mqdev_consumer_join(c, "billing", MQDEV_SEEK_EARLIEST);
	if (err)
		fail("join", err);
	while (n < max && mqdev_consumer_wait(c, 200) > 0) {
		while (n < max && (rec = mqdev_consumer_peek(c))) {
			printf("%s: processed %.*s (offset %llu)\n", who,
			       (int)mqdev_record_value_len(rec),
			       (const char *)mqdev_record_value(rec),
			       (unsigned long long)rec->offset);
			mqdev_consumer_release(c);
			n++;
			/* the crash comes after processing 6, commits after 4 */
			if (n <= 4) {
				err = mqdev_consumer_commit(c);
				if (err)
					fail("commit", err);
			}
		}
	}
	mqdev_consumer_free(c);		/* gone: its partition moves on */
	return n;
}

int main(int argc, char **argv)
{
	LIBMQDEV_OPTS(mqdev_verify_stats, st);
	struct mqdev_verifier *v;
	int a, b, err;

	if (argc != 2) {
		fputs("usage: at_least_once TOPIC\n", stderr);
		return 2;
	}
	produce(argv[1]);
	err = mqdev_verifier_new(MQDEV_VERIFY_FROM_START, NULL, NULL, &v);
	if (err)
		fail("verifier", err);
	a = member(argv[1], v, 6, "member A");
	printf("member A crashed after processing %d, having committed 4\n", a);
	b = member(argv[1], v, RECORDS, "member B");
	mqdev_verifier_stats(v, &st);
	printf("%d + %d processed: %llu repeats, %llu missing -- "
	       "at least once, never lost\n", a, b,
	       (unsigned long long)st.repeats, (unsigned long long)st.missing);
	mqdev_verifier_free(v);
	return st.missing || st.repeats != 2 ? 1 : 0;
}
