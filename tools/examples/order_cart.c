// SPDX-License-Identifier: GPL-2.0
/*
 * The order and the shopping cart: a transactional ("half") message with a
 * RocketMQ-style check-back.
 *
 * When an order is placed, the cart service must empty the customer's cart,
 * but only if the order really was written.  The order service:
 *
 *   1. sends "order N placed" as a half message (begin, send): no consumer
 *      can see it yet;
 *   2. writes the order to its own database (here, a file per order);
 *   3. commits the message if the write succeeded, aborts it if not.
 *
 * If the order service dies between 1 and 3, no one is left to decide.  The
 * kernel then asks the checker registered for the producer name
 * "order-service" (over netlink): "transaction T, cookie N: commit or
 * abort?"  The checker looks for order N in the database and answers.  With
 * no checker, or no answer in time, the message is aborted.
 *
 * This program plays all three parts: the checker (this process), the order
 * service (a child per order, killed at the worst moments) and the cart
 * service (a consumer group member reading the topic at the end).
 *
 *   order_cart TOPIC DBDIR
 */
#include <errno.h>
#include <signal.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "libmqdev.h"

#define PRODUCER "order-service"

enum fate { COMPLETES, DIES_BEFORE_WRITE, DIES_AFTER_WRITE };

static const char *dbdir;

static void fail(const char *what, int err)
{
	fprintf(stderr, "order_cart: %s: %s\n", what, strerror(-err));
	exit(1);
}

static void check(int err, const char *what)
{
	if (err < 0)
		fail(what, err);
}

static void order_path(char *buf, size_t len, uint64_t order)
{
	snprintf(buf, len, "%s/order-%llu", dbdir, (unsigned long long)order);
}

/* The local transaction: the order is written, or it is not. */
static int db_write_order(uint64_t order)
{
	char path[4096];
	FILE *f;

	order_path(path, sizeof(path), order);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "order %llu: 1 book\n", (unsigned long long)order);
	return fclose(f);
}

static bool db_has_order(uint64_t order)
{
	char path[4096];

	order_path(path, sizeof(path), order);
	return access(path, F_OK) == 0;
}

/* The order service, in a child process that may die on purpose. */
static void order_service(const char *topic, uint64_t order, enum fate fate)
{
	struct mqdev_producer *p;
	struct mqdev_session *s;
	char msg[64];

	check(mqdev_session_new(PRODUCER, 1000, &s), "session");
	check(mqdev_producer_new(topic, NULL, &p), "producer");
	check(mqdev_producer_bind(p, s), "bind");

	/* 1. the half message, flushed into the ring, invisible */
	check(mqdev_txn_begin(s, order), "begin");
	snprintf(msg, sizeof(msg), "order %llu placed",
		 (unsigned long long)order);
	check(mqdev_producer_send(p, NULL, 0, msg, strlen(msg), 0, NULL),
	      "send");
	check(mqdev_producer_flush(p), "flush");
	if (fate == DIES_BEFORE_WRITE)
		raise(SIGKILL);

	/* 2. the local transaction */
	if (db_write_order(order)) {
		check(mqdev_txn_abort(s), "abort");
		exit(0);
	}
	if (fate == DIES_AFTER_WRITE)
		raise(SIGKILL);

	/* 3. it was written: the message goes out */
	check(mqdev_txn_commit(s), "commit");
	exit(0);
}

/* The checker: answer every question about an orphaned order message. */
static void answer_questions(struct mqdev_nl *nl)
{
	LIBMQDEV_OPTS(mqdev_event, ev);
	uint32_t decision;

	while (mqdev_nl_event(nl, &ev, 300) == 1) {
		if (ev.cmd != MQDEV_CMD_TXN_CHECK)
			continue;
		decision = db_has_order(ev.cookie) ? MQDEV_TXN_COMMIT :
						     MQDEV_TXN_ABORT;
		printf("checker: transaction %llu of %s, order %llu: %s\n",
		       (unsigned long long)ev.txn, ev.producer,
		       (unsigned long long)ev.cookie,
		       decision == MQDEV_TXN_COMMIT ?
		       "the order is in the database: commit" :
		       "no such order: abort");
		check(mqdev_txn_resolve(nl, ev.producer, ev.txn, decision),
		      "resolve");
	}
}

static void place_order(const char *topic, struct mqdev_nl *nl,
			uint64_t order, enum fate fate)
{
	static const char *const what[] = {
		[COMPLETES] = "completes",
		[DIES_BEFORE_WRITE] = "dies before writing the order",
		[DIES_AFTER_WRITE] = "dies after writing it, before committing",
	};
	int status;
	pid_t pid;

	printf("order %llu: the order service %s\n",
	       (unsigned long long)order, what[fate]);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		fail("fork", -errno);
	if (pid == 0)
		order_service(topic, order, fate);
	waitpid(pid, &status, 0);
	answer_questions(nl);
}

/* The cart service: empty the cart of every order that was placed. */
static int cart_service(const char *topic)
{
	const struct mqdev_record *rec;
	struct mqdev_consumer *c;
	int n = 0;

	check(mqdev_consumer_new(topic, NULL, &c), "cart");
	check(mqdev_consumer_join(c, "cart-service", MQDEV_SEEK_EARLIEST),
	      "cart");
	while (mqdev_consumer_wait(c, 300) > 0) {
		while ((rec = mqdev_consumer_peek(c))) {
			printf("cart service: %.*s: emptying the cart\n",
			       (int)mqdev_record_value_len(rec),
			       (const char *)mqdev_record_value(rec));
			mqdev_consumer_release(c);
			n++;
		}
		check(mqdev_consumer_commit(c), "cart commit");
	}
	printf("cart service: %d carts emptied, %llu aborted messages never "
	       "seen\n", n, (unsigned long long)mqdev_consumer_aborted(c));
	mqdev_consumer_free(c);
	return n;
}

int main(int argc, char **argv)
{
	struct mqdev_nl *nl;

	if (argc != 3) {
		fputs("usage: order_cart TOPIC DBDIR\n", stderr);
		return 2;
	}
	dbdir = argv[2];
	check(mqdev_nl_open(&nl), "netlink");
	check(mqdev_nl_checker_register(nl, PRODUCER), "register checker");

	place_order(argv[1], nl, 1, COMPLETES);
	place_order(argv[1], nl, 2, DIES_AFTER_WRITE);
	place_order(argv[1], nl, 3, DIES_BEFORE_WRITE);
	mqdev_nl_close(nl);

	/* Orders 1 and 2 were placed; order 3 never was. */
	return cart_service(argv[1]) == 2 && db_has_order(2) &&
	       !db_has_order(3) ? 0 : 1;
}
