// SPDX-License-Identifier: GPL-2.0
/*
 * mqdev-kafkad: a transaction's group offsets (AddOffsetsToTxn,
 * TxnOffsetCommit), for consume-transform-produce pipelines.
 *
 * mqdev commits group offsets with a transaction only for a member of the
 * mqdev group (MQDEV_IOC_TXN_OFFSETS: checked against the member's
 * partitions and generation when sent and again at the commit), while the
 * daemon commits a Kafka group's offsets from outside its mqdev group
 * (group.c).  So for the transaction's span the daemon itself joins the
 * mqdev group of the offsets' topic, as its only member (it owns every
 * partition and reads nothing), sends the offsets with the transaction
 * through that membership, and leaves once the transaction is decided.
 * The offsets and the records become visible at one instant, or neither.
 * Meanwhile a plain OffsetCommit for that group and topic is refused as for
 * any mqdev group with members (GROUP_AUTHORIZATION_FAILED); so is a
 * TxnOffsetCommit while an mqdev consumer of the group's own is a member.
 * One topic's offsets per transaction, as mqdev's (others: INVALID_REQUEST).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include "kafkad.h"

/**
 * txn_offsets_done() - The transaction is decided: leave the mqdev group.
 * @p: the transactional producer
 */
void txn_offsets_done(struct kproducer *p)
{
	mqdev_consumer_free(p->off_member);
	p->off_member = NULL;
	p->off_group[0] = 0;
	p->off_topic[0] = 0;
}

/*
 * AddOffsetsToTxn v0: transactional_id, producer_id, producer_epoch,
 * group_id -> throttle_time_ms, error_code.  Begins the transaction if
 * need be; the group is the one TxnOffsetCommit must name.
 */
int handle_add_offsets_to_txn(struct daemon *d, struct conn *c,
			      const struct request *rq, struct kr *r,
			      struct kw *w)
{
	char group[MQDEV_NAME_SIZE];
	struct kproducer *p;
	struct kstr gid;
	int16_t err;

	err = txn_request(d, r, &p);
	gid = kr_str(r);
	if (r->err || kr_left(r))
		return H_CLOSE;
	if (!err && !kname(group, &gid))
		err = KERR_INVALID_GROUP_ID;
	if (!err && p->off_group[0] && strcmp(p->off_group, group))
		err = KERR_INVALID_REQUEST;	/* one group per transaction */
	if (!err)
		err = txn_begin(p);
	if (!err)
		strcpy(p->off_group, group);
	kw_i32(w, 0);			/* throttle_time_ms */
	kw_i16(w, err);
	return H_DONE;
}

/* The daemon's membership in the transaction's group of @topic. */
static int16_t txn_member(struct kproducer *p, const char *topic)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts);
	int err;

	if (p->off_member)
		return strcmp(p->off_topic, topic) ? KERR_INVALID_REQUEST :
						     KERR_NONE;
	err = mqdev_consumer_new(topic, &opts, &p->off_member);
	if (!err)
		err = mqdev_consumer_join(p->off_member, p->off_group,
					  MQDEV_SEEK_EARLIEST);
	if (err) {
		mqdev_consumer_free(p->off_member);
		p->off_member = NULL;
		return err == -EBUSY || err == -EPERM || err == -EACCES ?
		       KERR_GROUP_AUTHORIZATION_FAILED : kafka_error(err);
	}
	strcpy(p->off_topic, topic);
	return KERR_NONE;
}

/* Send one topic's offsets with the transaction. */
static int16_t txn_send(struct kproducer *p, const struct mqdev_group_commit *gc,
			uint32_t n)
{
	struct mqdev_txn_offsets req = {
		.consumer_fd = mqdev_consumer_fd(p->off_member),
		.count = n,
		.commits = (uint64_t)(uintptr_t)gc,
		.commit_size = sizeof(*gc),
	};

	if (!n)
		return KERR_NONE;
	if (ioctl(mqdev_session_fd(p->session), MQDEV_IOC_TXN_OFFSETS, &req))
		switch (errno) {
		case EXDEV:
			return KERR_INVALID_REQUEST;
		default:
			return txn_error(-errno);
		}
	return KERR_NONE;
}

/*
 * One topic of TxnOffsetCommit: its offsets gathered, sent, and every
 * partition answered with the outcome.
 */
static int txn_commit_topic(struct daemon *d, struct kproducer *p, int16_t err,
			    int16_t version, struct kr *r, struct kw *w)
{
	struct mqdev_group_commit *gc;
	char topic[MQDEV_NAME_SIZE];
	struct kstr name = kr_str(r);
	int32_t np = kr_array(r, 14), i;
	int32_t *parts;
	uint32_t n = 0;

	if (r->err || np < 0)
		return -1;
	gc = calloc(np ? np : 1, sizeof(*gc));
	parts = calloc(np ? np : 1, sizeof(*parts));
	if (!gc || !parts) {
		free(gc);
		free(parts);
		return -1;
	}
	for (i = 0; i < np; i++) {
		parts[i] = kr_i32(r);
		gc[n].offset = (uint64_t)kr_i64(r);
		if (version >= 2)
			kr_i32(r);	/* committed_leader_epoch */
		kr_str(r);		/* metadata: not kept */
		gc[n].partition = (uint32_t)parts[i];
		if (parts[i] < 0 || (int64_t)gc[n].offset < 0)
			err = err ? err : KERR_INVALID_REQUEST;
		n++;
	}
	if (!err && !kname(topic, &name))
		err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
	if (!err && !r->err)
		err = txn_member(p, topic);
	for (i = 0; !err && !r->err && i < np; i++)
		if (!mqdev_consumer_owns(p->off_member, gc[i].partition))
			err = KERR_GROUP_AUTHORIZATION_FAILED;
	for (i = 0; !err && !r->err && i < np; i++)
		gc[i].generation = mqdev_consumer_generation(p->off_member);
	if (!err && !r->err)
		err = txn_send(p, gc, n);
	kw_strn(w, name.p, name.len);
	kw_i32(w, np);
	for (i = 0; i < np; i++) {
		kw_i32(w, parts[i]);
		kw_i16(w, err);
	}
	if (err)
		logmsg(d, "transactional id %s: offsets of %.*s refused (%d)",
		       p ? p->txn_id : "?", (int)(name.len > 0 ? name.len : 0),
		       name.p, err);
	free(gc);
	free(parts);
	return r->err ? -1 : 0;
}

/*
 * TxnOffsetCommit v0-2: transactional_id, group_id, producer_id,
 * producer_epoch, [topic, [partition, offset, (v2) leader_epoch, metadata]]
 * -> throttle_time_ms, [topic, [partition, error]].
 */
int handle_txn_offset_commit(struct daemon *d, struct conn *c,
			     const struct request *rq, struct kr *r,
			     struct kw *w)
{
	char group[MQDEV_NAME_SIZE];
	struct kproducer *p = NULL;
	struct kstr txn, gid;
	int16_t epoch, err;
	int32_t nt, i;
	int64_t id;

	txn = kr_str(r);
	gid = kr_str(r);
	id = kr_i64(r);
	epoch = kr_i16(r);
	nt = kr_array(r, 6);
	if (r->err || nt < 0)
		return H_CLOSE;
	err = txn_producer(d, &txn, id, epoch, &p);
	if (!err && (!kname(group, &gid) || strcmp(group, p->off_group)))
		err = KERR_INVALID_GROUP_ID;	/* not the AddOffsetsToTxn one */
	if (!err && !p->in_txn)
		err = KERR_INVALID_TXN_STATE;
	kw_i32(w, 0);			/* throttle_time_ms */
	kw_i32(w, nt);
	for (i = 0; i < nt; i++)
		if (txn_commit_topic(d, err ? NULL : p, err, rq->version, r, w))
			return H_CLOSE;
	return kr_left(r) ? H_CLOSE : H_DONE;
}
