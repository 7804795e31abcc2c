// SPDX-License-Identifier: GPL-2.0
/*
 * Outbound links with "transactional = true": the records go to Kafka in
 * transactions, which closes the window a mirror that died leaves open
 * (see out.c) where the Kafka side has transactions.
 *
 * Each such link has a producer of its own, whose transactional.id is the
 * link's (by default "mqdev-mirror." and the Kafka topic: the same for
 * every instance of the mirror, on any host, that writes that topic).  Its
 * init_transactions() at every start of the link makes the cluster bump
 * the id's epoch: a Produce, AddPartitionsToTxn or EndTxn of an instance
 * before it, whenever it lands, is refused (fenced), and the transaction it
 * left open is aborted.  Only then does the link read where Kafka ends, with
 * isolation.level=read_committed: that point is exact, nothing of a dead
 * instance can land after it, and no settle wait is needed.
 *
 * What one turn of the loop read (up to its DRAIN_MAX records or
 * TXN_MAX_BYTES) is one transaction: begun with its first record, committed
 * once the turn is over.  The loop waits for the commit, up to
 * COMMIT_TIMEOUT_MS: a round trip to the coordinator once the records are
 * in.  (librdkafka 2.0.2's commit called with no wait and again until done
 * trips an assertion in its transaction state machine when the commit
 * completes, so it is not used.)  Once the transaction is committed, and
 * only then, its records are acknowledged and confirmed to mqdev.  One that
 * cannot be committed in time fails the link: the producer goes, and the
 * link starts again, from what Kafka committed, with a new one (whose
 * init_transactions() aborts what is left).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "mirror.h"

#define INIT_TIMEOUT_MS		10000
#define COMMIT_TIMEOUT_MS	10000	/* the loop waits for a commit */
#define TXN_TIMEOUT		"60000"	/* transaction.timeout.ms */

static void txn_delivered(rd_kafka_t *k, const rd_kafka_message_t *m,
			  void *opaque)
{
	struct link *l = opaque;
	struct mpart *mp;

	if (!l->parts || m->partition < 0 || (uint32_t)m->partition >= l->nparts)
		return;
	mp = &l->parts[m->partition];
	if (mp->inflight)
		mp->inflight--;
	if (m->err) {
		/* the transaction cannot commit: txn_turn() says why */
		mp->errors++;
		return;
	}
	mp->records++;
	mp->bytes += m->len + m->key_len;
}

static void txn_error_cb(rd_kafka_t *k, int err, const char *reason,
			 void *opaque)
{
	struct link *l = opaque;
	char buf[256];

	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(k, buf, sizeof(buf));
		say(LOG_ERR, "out %s: transactional producer: fatal: %s",
		    l->topic, buf);
		l->tx_fatal = true;
		return;
	}
	say(LOG_WARNING, "out %s: transactional producer: %s", l->topic,
	    reason);
}

static rd_kafka_t *txn_producer(const struct config *cfg, struct link *l)
{
	const char *const props[][2] = {
		{ "transactional.id", l->txn_id },
		{ "transaction.timeout.ms", TXN_TIMEOUT },
		{ "enable.idempotence", "true" },
		{ "acks", "all" },
		/* a record not delivered in time aborts the transaction */
		{ "message.timeout.ms", TXN_TIMEOUT },
		{ "linger.ms", "2" },
		{ "retry.backoff.ms", "100" },
	};
	rd_kafka_conf_t *conf;
	rd_kafka_t *k;
	char err[256];

	if (kafka_conf_with(cfg, props, ARRAY_SIZE(props), &conf, err,
			    sizeof(err)))
		goto bad;
	rd_kafka_conf_set_opaque(conf, l);
	rd_kafka_conf_set_dr_msg_cb(conf, txn_delivered);
	rd_kafka_conf_set_error_cb(conf, txn_error_cb);
	k = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (k)
		return k;
bad:
	link_fail(l, -EINVAL, "transactional producer: %.80s", err);
	return NULL;
}

/* Says why a transactional call failed, and fails the link: -EIO. */
static int txn_failed(struct link *l, const char *what, rd_kafka_error_t *e)
{
	link_fail(l, -EIO, "%s: %s%s", what, rd_kafka_error_string(e),
		  rd_kafka_error_is_fatal(e) ? " (fatal)" : "");
	rd_kafka_error_destroy(e);
	return -EIO;
}

/**
 * txn_start() - a transactional link's producer, the instances before fenced
 * @cfg: the configuration
 * @l: a transactional outbound link, not running
 *
 * Return: 0, or -errno after link_fail() said why.
 */
int txn_start(const struct config *cfg, struct link *l)
{
	rd_kafka_error_t *e;

	l->tx_fatal = false;
	l->rk_tx = txn_producer(cfg, l);
	if (!l->rk_tx)
		return -EINVAL;
	e = rd_kafka_init_transactions(l->rk_tx, INIT_TIMEOUT_MS);
	if (e)
		return txn_failed(l, "init_transactions", e);
	say(LOG_NOTICE, "out %s: transactional id %s: the instances before "
	    "are fenced, what they left open aborted", l->topic, l->txn_id);
	return 0;
}

/**
 * txn_stop() - the link's producer goes, with what it had open
 * @l: a transactional outbound link
 *
 * The next txn_start() aborts the open transaction, if the cluster has not.
 */
void txn_stop(struct link *l)
{
	uint32_t p;

	if (!l->rk_tx)
		return;
	rd_kafka_purge(l->rk_tx, RD_KAFKA_PURGE_F_QUEUE |
		       RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_poll(l->rk_tx, 0);
	rd_kafka_destroy(l->rk_tx);
	l->rk_tx = NULL;
	for (p = 0; l->parts && p < l->nparts; p++)
		l->parts[p].inflight = 0;
}

/**
 * txn_begin() - begin a transaction, for the record about to be produced
 * @l: a ready transactional link, with none open
 *
 * Return: 0, or -EIO after link_fail().
 */
int txn_begin(struct link *l)
{
	rd_kafka_error_t *e = rd_kafka_begin_transaction(l->rk_tx);

	if (e)
		return txn_failed(l, "begin_transaction", e);
	l->tx_bytes = 0;
	return 0;
}

/* Committed: every record produced is in Kafka, to be confirmed. */
static void txn_committed(struct link *l)
{
	uint32_t p;

	for (p = 0; p < l->nparts; p++)
		l->parts[p].acked = l->parts[p].next;
	l->tx_commits++;
}

/**
 * txn_turn() - serve a transactional link's producer
 * @l: a ready transactional link
 *
 * Return: 0, or -EIO after link_fail().
 */
int txn_turn(struct link *l)
{
	rd_kafka_poll(l->rk_tx, 0);
	if (!l->tx_fatal)
		return 0;
	link_fail(l, -EIO, "the transactional producer failed");
	return -EIO;
}

/**
 * txn_commit() - commit the transaction out_drain() opened, waiting for it
 * @l: a ready transactional link
 *
 * Return: 0, or -EIO after link_fail().
 */
int txn_commit(struct link *l)
{
	rd_kafka_error_t *e;

	e = rd_kafka_commit_transaction(l->rk_tx, COMMIT_TIMEOUT_MS);
	if (e)
		return txn_failed(l, "commit_transaction", e);
	txn_committed(l);
	return 0;
}
