// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * Producer sessions and transactions.
 *
 * A session is a /dev/mq handle that holds a producer identity; producers
 * bind to it and number their messages.  A transaction is the session's:
 * begin, send through any bound producer (to any topic), perhaps send a
 * group's offsets, then commit.  The commit first flushes every bound
 * producer, so that what was sent before it is in it, and fails (aborting)
 * if any message sent in it was refused.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

MQDEV_EXPORT int mqdev_session_new(const char *name, uint32_t txn_timeout_ms,
				   struct mqdev_session **session)
{
	struct mqdev_session *s;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->init.txn_timeout_ms = txn_timeout_ms;
	if (name) {
		err = mqdev_name_set(s->init.name, name);
		if (err)
			goto err_free;
	}
	s->fd = mqdev_open();
	if (s->fd < 0) {
		err = s->fd;
		goto err_free;
	}
	err = mqdev_ioctl(s->fd, MQDEV_IOC_PRODUCER_INIT, &s->init);
	if (err)
		goto err_close;
	*session = s;
	return 0;

err_close:
	close(s->fd);
err_free:
	free(s);
	return err;
}

MQDEV_EXPORT void mqdev_session_free(struct mqdev_session *s)
{
	if (!s)
		return;
	/* The producers stay usable, unbound from a session that is gone. */
	while (s->bound)
		mqdev_session_unbind(s, s->bound);
	close(s->fd);
	free(s->offsets);
	free(s);
}

MQDEV_EXPORT int mqdev_session_fd(const struct mqdev_session *s)
{
	return s->fd;
}

MQDEV_EXPORT uint64_t mqdev_session_producer_id(const struct mqdev_session *s)
{
	return s->init.producer_id;
}

MQDEV_EXPORT uint32_t mqdev_session_epoch(const struct mqdev_session *s)
{
	return s->init.epoch;
}

MQDEV_EXPORT uint64_t mqdev_txn_id(const struct mqdev_session *s)
{
	return s->txn_id;
}

static void txn_forget_offsets(struct mqdev_session *s)
{
	free(s->offsets);
	s->offsets = NULL;
	s->nr_offsets = 0;
	s->offsets_consumer = NULL;
}

MQDEV_EXPORT int mqdev_txn_begin(struct mqdev_session *s, uint64_t cookie)
{
	struct mqdev_txn req = { .op = MQDEV_TXN_BEGIN, .cookie = cookie };
	int err;

	if (s->in_txn)
		return -EBUSY;
	/* What was sent before the transaction is not part of it. */
	err = mqdev_session_flush(s);
	if (err)
		return err;
	err = mqdev_ioctl(s->fd, MQDEV_IOC_TXN, &req);
	if (err)
		return err;
	s->txn_id = req.txn_id;
	s->in_txn = true;
	s->txn_error = 0;
	return 0;
}

static int txn_end(struct mqdev_session *s, uint32_t op)
{
	struct mqdev_txn req = { .op = op };
	int err;

	err = mqdev_ioctl(s->fd, MQDEV_IOC_TXN, &req);
	/* req.op is the outcome only when the kernel got that far */
	if (!err && op == MQDEV_TXN_COMMIT && s->offsets_consumer)
		mqdev_consumer_committed(s->offsets_consumer, s->offsets,
					 s->nr_offsets);
	txn_forget_offsets(s);
	s->in_txn = false;
	return err;
}

MQDEV_EXPORT int mqdev_txn_commit(struct mqdev_session *s)
{
	int err;

	if (!s->in_txn)
		return -ENOENT;
	err = mqdev_session_flush(s);
	if (!err)
		err = s->txn_error;
	if (err) {
		txn_end(s, MQDEV_TXN_ABORT);
		return err;
	}
	return txn_end(s, MQDEV_TXN_COMMIT);
}

MQDEV_EXPORT int mqdev_txn_abort(struct mqdev_session *s)
{
	if (!s->in_txn)
		return -ENOENT;
	/* Queued messages go in and are thrown away with the rest. */
	mqdev_session_flush(s);
	return txn_end(s, MQDEV_TXN_ABORT);
}

MQDEV_EXPORT int mqdev_txn_send_offsets(struct mqdev_session *s,
					struct mqdev_consumer *c)
{
	struct mqdev_txn_offsets req = {
		.consumer_fd = mqdev_consumer_fd(c),
		.commit_size = sizeof(struct mqdev_group_commit),
	};
	struct mqdev_group_commit *commits;
	uint32_t n;
	int err;

	if (!s->in_txn)
		return -ENOENT;
	if (s->offsets_consumer && s->offsets_consumer != c)
		return -EXDEV;
	commits = calloc(mqdev_consumer_partitions(c), sizeof(*commits));
	if (!commits)
		return -ENOMEM;
	n = mqdev_consumer_uncommitted(c, commits);
	req.commits = (uint64_t)(uintptr_t)commits;
	req.count = n;
	err = n ? mqdev_ioctl(s->fd, MQDEV_IOC_TXN_OFFSETS, &req) : 0;
	if (err) {
		free(commits);
		return err;
	}
	/* The kernel keeps the latest offset per partition; so do we. */
	free(s->offsets);
	s->offsets = commits;
	s->nr_offsets = n;
	s->offsets_consumer = c;
	return 0;
}
