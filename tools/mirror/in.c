// SPDX-License-Identifier: GPL-2.0
/*
 * Inbound: a Kafka topic appended to an mqdev topic, partition to the same
 * partition, through an idempotent mqdev producer (a named session).
 *
 * Each record appended carries its Kafka offset (header "kafka.offset"):
 * the mqdev log itself says how far the mirror got.  A mirror that starts
 * first takes the session's name, which fences an instance still running,
 * then reads the last such header of each mqdev partition and has the Kafka
 * consumer go on right after it.  A crash loses nothing (what was not
 * appended is fetched again) and duplicates nothing (what was is not).
 * Kafka's committed offsets follow, for Kafka's tools, and are used only
 * when mqdev keeps no record of the mirror's (a new topic, or one whose
 * records were all reclaimed).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "mirror.h"

#define PUMP_MAX	1024	/* records taken from Kafka per turn */
#define MAX_HEADERS	64
#define COMMIT_MS	1000

/* The Kafka offset @rec carries, or -1. */
static int64_t record_kafka_offset(const struct mqdev_record *rec)
{
	struct mqdev_header_iter it = {};
	struct mqdev_header h;
	int64_t off = -1;
	char buf[24];

	while (mqdev_record_header_next(rec, &it, &h) > 0) {
		if (h.key_len != strlen(HDR_KAFKA_OFFSET) ||
		    memcmp(h.key, HDR_KAFKA_OFFSET, h.key_len) ||
		    h.value_len <= 0 || h.value_len >= (int32_t)sizeof(buf))
			continue;
		memcpy(buf, h.value, h.value_len);
		buf[h.value_len] = '\0';
		off = strtoll(buf, NULL, 10);
	}
	return off;
}

/*
 * The Kafka offset after the last one @l's mqdev partitions carry, into
 * @next[] (-1: none carried), reading each ring from its oldest record.
 * Records past the high watermark cannot be read: -EAGAIN until a replica
 * made them safe, so that none is appended twice.  Nor can records after
 * another producer's undecided transaction, where a reader stops: -EBUSY
 * until it is decided, for the same reason.
 */
static int in_scan(struct link *l, int64_t *next)
{
	struct mqdev_partition_info pi[MAX_PARTITIONS];
	const struct mqdev_record *rec;
	struct mqdev_consumer *c;
	struct mqdev_topic_info info;
	int64_t off;
	uint32_t p;
	int err;

	err = mqdev_consumer_new(l->topic, NULL, &c);
	if (err)
		return err;
	err = mqdev_topic_describe(mqdev_consumer_fd(c), l->topic, &info, pi,
				   l->nparts);
	for (p = 0; !err && p < l->nparts; p++) {
		if (pi[p].high_watermark < pi[p].next_offset) {
			err = -EAGAIN;
			break;
		}
		next[p] = -1;
		err = mqdev_consumer_seek(c, p, MQDEV_SEEK_OFFSET,
					  pi[p].first_offset, 0, NULL);
	}
	while (!err && (rec = mqdev_consumer_peek(c))) {
		off = record_kafka_offset(rec);
		if (off >= 0)
			next[rec->partition] = off + 1;
		mqdev_consumer_release(c);
	}
	if (!err)
		err = mqdev_consumer_error(c);
	for (p = 0; !err && p < l->nparts; p++)
		if (mqdev_consumer_position(c, p) < pi[p].next_offset)
			err = -EBUSY;
	mqdev_consumer_free(c);
	return err;
}

/*
 * mqdev would not take a record: the link stops before it, and a restart
 * reads the mqdev topic again and goes on at it, so that nothing is
 * skipped; one that mqdev cannot ever take (too large for the topic) stops
 * the link over and over, saying so, until an operator steps in.  Another
 * instance that took the session fenced this one: it stops for good.
 */
static void in_refused(struct link *l, int err, uint32_t part, int64_t off)
{
	if (l->refused)
		return;
	l->refused = err;
	l->refused_part = part;
	l->refused_offset = off;
	if (err == -ESTALE)
		l->fenced = true;
}

/* One record appended (or refused): see in_pump(). */
static void in_acked(void *ctx, const struct mqdev_ack *ack)
{
	struct link *l = ctx;
	struct mpart *mp = &l->parts[ack->partition];
	uint64_t off = (uintptr_t)ack->opaque;

	if (ack->error) {
		mp->errors++;
		in_refused(l, ack->error, ack->partition, off);
		return;
	}
	mp->records++;
	/* After a refusal the session refuses the rest (a gap): none lost. */
	if (!l->refused)
		mp->appended = off + 1;
}

static void in_kafka_error(rd_kafka_t *k, int err, const char *reason,
			   void *opaque)
{
	struct link *l = opaque;

	say(LOG_WARNING, "%s: kafka consumer: %s%s", l->topic, reason,
	    err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ?
	    ": retried with backoff" : "");
}

static int in_consumer(const struct config *cfg, struct link *l)
{
	const char *const props[][2] = {
		{ "group.id", l->group },
		{ "enable.auto.commit", "false" },
		{ "enable.auto.offset.store", "false" },
		{ "auto.offset.reset", "earliest" },
		{ "queued.max.messages.kbytes", "16384" },
	};
	rd_kafka_conf_t *conf;
	char err[256];

	if (kafka_conf_with(cfg, props, ARRAY_SIZE(props), &conf, err,
			    sizeof(err)))
		goto bad;
	rd_kafka_conf_set_error_cb(conf, in_kafka_error);
	rd_kafka_conf_set_opaque(conf, l);
	l->rk_in = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (!l->rk_in)
		goto bad;
	rd_kafka_poll_set_consumer(l->rk_in);
	return 0;
bad:
	link_fail(l, -EINVAL, "kafka consumer: %s", err);
	return -EINVAL;
}

static int in_sizes(struct link *l)
{
	struct mqdev_topic_info info;
	uint32_t kparts;
	int err;

	err = link_sizes(l, l->rk_in, &info, &kparts);
	if (err)
		return err;
	if (kparts > info.partitions || info.partitions > MAX_PARTITIONS) {
		link_fail(l, -EINVAL, "Kafka topic %s has %u partitions, the "
			  "mqdev topic %u: each goes to the same partition",
			  l->kafka_topic, kparts, info.partitions);
		return -EINVAL;
	}
	free(l->parts);
	l->nparts = kparts;
	l->parts = calloc(kparts, sizeof(*l->parts));
	return l->parts ? 0 : -ENOMEM;
}

/* The session first: an older instance can append nothing after the scan. */
static int in_producer(struct link *l)
{
	LIBMQDEV_OPTS(mqdev_producer_opts, opts,
		      .flags = MQDEV_PRODUCER_NONBLOCK, .ack_fn = in_acked,
		      .ack_ctx = l);
	int err;

	err = mqdev_session_new(l->session, 0, &l->sess);
	if (err)
		return link_fail(l, err, "producer session %s", l->session),
		       err;
	err = mqdev_producer_new(l->topic, &opts, &l->prod);
	if (!err)
		err = mqdev_producer_bind(l->prod, l->sess);
	if (err)
		link_fail(l, err, "mqdev producer");
	return err;
}

static int in_assign(struct link *l, const int64_t *next)
{
	rd_kafka_topic_partition_list_t *tp;
	rd_kafka_resp_err_t kerr;
	uint32_t p;

	tp = rd_kafka_topic_partition_list_new(l->nparts);
	for (p = 0; p < l->nparts; p++) {
		if (next[p] >= 0)
			say(LOG_INFO, "in %s: partition %u goes on at Kafka "
			    "offset %" PRId64 ", after the last one it has",
			    l->topic, p, next[p]);
		else
			say(LOG_INFO, "in %s: partition %u has no record from "
			    "Kafka: it starts at the group's committed offset",
			    l->topic, p);
		rd_kafka_topic_partition_list_add(tp, l->kafka_topic, p)->offset =
			next[p] >= 0 ? next[p] : RD_KAFKA_OFFSET_STORED;
		l->parts[p].next = l->parts[p].appended =
			next[p] >= 0 ? next[p] : 0;
	}
	kerr = rd_kafka_assign(l->rk_in, tp);
	rd_kafka_topic_partition_list_destroy(tp);
	if (kerr) {
		link_fail(l, -EIO, "assigning: %s", rd_kafka_err2str(kerr));
		return -EIO;
	}
	return 0;
}

/**
 * in_start() - start an inbound link where its mqdev topic says
 * @cfg: the configuration
 * @l: the link
 *
 * Return: 0, or -errno after link_fail() said why.
 */
int in_start(const struct config *cfg, struct link *l)
{
	int64_t next[MAX_PARTITIONS];
	int err;

	err = in_consumer(cfg, l);
	if (!err)
		err = in_sizes(l);
	if (!err)
		err = in_producer(l);
	if (err)
		return err;
	l->refused = 0;
	err = in_scan(l, next);
	if (err == -EBUSY) {
		link_fail(l, err, "another producer's transaction is open in "
			  "the mqdev topic: waiting for it to be decided");
		return err;
	}
	if (err == -EAGAIN) {
		link_fail(l, err, "records past the high watermark: waiting "
			  "for a replica to make them safe");
		return err;
	}
	if (err)
		return link_fail(l, err, "reading the mqdev topic"), err;
	return in_assign(l, next);
}

void in_stop(struct link *l)
{
	if (l->held)
		rd_kafka_message_destroy(l->held);
	l->held = NULL;
	if (l->rk_in) {
		rd_kafka_consumer_close(l->rk_in);
		rd_kafka_destroy(l->rk_in);
	}
	l->rk_in = NULL;
	mqdev_producer_free(l->prod);
	l->prod = NULL;
	mqdev_session_free(l->sess);
	l->sess = NULL;
}

/* Queue one Kafka record for mqdev: 0, -EAGAIN (no room yet) or -errno. */
static int in_send(struct link *l, rd_kafka_message_t *m)
{
	LIBMQDEV_OPTS(mqdev_send_opts, opts);
	struct mqdev_header h[MAX_HEADERS + 2];
	char off[24], ts[24];
	rd_kafka_headers_t *kh;
	const char *name;
	const void *val;
	unsigned int n = 0;
	size_t size, i;

	if (!rd_kafka_message_headers(m, &kh)) {
		for (i = 0; n < MAX_HEADERS &&
		     !rd_kafka_header_get_all(kh, i, &name, &val, &size); i++) {
			h[n].key = name;
			h[n].key_len = strlen(name);
			h[n].value = val;
			h[n++].value_len = val ? (int32_t)size : -1;
		}
	}
	snprintf(off, sizeof(off), "%" PRId64, m->offset);
	h[n++] = (struct mqdev_header){ HDR_KAFKA_OFFSET,
		strlen(HDR_KAFKA_OFFSET), strlen(off), off };
	snprintf(ts, sizeof(ts), "%" PRId64, rd_kafka_message_timestamp(m, NULL));
	h[n++] = (struct mqdev_header){ HDR_KAFKA_TIMESTAMP,
		strlen(HDR_KAFKA_TIMESTAMP), strlen(ts), ts };
	opts.headers = h;
	opts.nr_headers = n;
	return mqdev_producer_send_opts(l->prod, m->key, m->key_len,
					m->payload, m->len, m->partition,
					(void *)(uintptr_t)m->offset, &opts);
}

static void in_commit(struct link *l)
{
	rd_kafka_topic_partition_list_t *tp;
	uint32_t p;

	tp = rd_kafka_topic_partition_list_new(l->nparts);
	for (p = 0; p < l->nparts; p++)
		if (l->parts[p].appended)
			rd_kafka_topic_partition_list_add(tp, l->kafka_topic,
							  p)->offset =
				l->parts[p].appended;
	if (tp->cnt)
		rd_kafka_commit(l->rk_in, tp, 1);
	rd_kafka_topic_partition_list_destroy(tp);
}

/*
 * Kafka's consumer may hand out again records it handed out before: after
 * a partition's leader moved, a position the new leader does not confirm
 * is set back, and an offset reset starts over.  Those were queued for
 * mqdev already (next is past them): appending them again would write
 * them twice.  True for such a record, which is skipped.
 */
static bool in_again(struct link *l, const rd_kafka_message_t *m)
{
	struct mpart *mp = &l->parts[m->partition];

	if (m->offset >= (int64_t)mp->next) {
		mp->rewound = false;
		return false;
	}
	if (!mp->rewound)
		say(LOG_NOTICE, "in %s/%d: Kafka hands out offset %" PRId64
		    " again, below %" PRIu64 ": already appended, skipped",
		    l->topic, m->partition, m->offset, mp->next);
	mp->rewound = true;
	return true;
}

/* A record taken from Kafka: queued, held back for want of room, or not. */
static bool in_take(struct link *l, rd_kafka_message_t *m)
{
	int err;

	if (m->err) {
		if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			say(LOG_WARNING, "%s: kafka: %s", l->topic,
			    rd_kafka_message_errstr(m));
		rd_kafka_message_destroy(m);
		return true;
	}
	if (m->partition < 0 || (uint32_t)m->partition >= l->nparts ||
	    in_again(l, m)) {
		rd_kafka_message_destroy(m);
		return true;
	}
	err = in_send(l, m);
	if (err == -EAGAIN || err == -EINTR) {
		l->held = m;
		return false;
	}
	if (err) {
		l->parts[m->partition].errors++;
		in_refused(l, err, m->partition, m->offset);
		rd_kafka_message_destroy(m);
		return false;
	}
	l->parts[m->partition].next = m->offset + 1;
	l->parts[m->partition].bytes += m->len + m->key_len;
	rd_kafka_message_destroy(m);
	return true;
}

/* The link stops at the record mqdev refused: see in_refused(). */
static int in_stop_refused(struct link *l)
{
	int err = l->refused;

	if (l->fenced)
		say(LOG_CRIT, "in %s: the producer session %s was taken by "
		    "another instance: this one stops for good", l->topic,
		    l->session);
	else
		say(LOG_CRIT, "in %s/%u: mqdev refused Kafka offset %" PRId64
		    ": %s: the link stops before it and will go on at it",
		    l->topic, l->refused_part, l->refused_offset,
		    strerror(-err));
	link_fail(l, err, "Kafka offset %" PRId64 " of partition %u refused",
		  l->refused_offset, l->refused_part);
	return err;
}

/**
 * in_pump() - move what Kafka has to mqdev
 * @l: a ready inbound link
 *
 * Up to PUMP_MAX records; a record mqdev has no room for yet is held (and
 * Kafka's fetching with it, its queue bounded by queued.max.messages.kbytes)
 * until a later turn.
 *
 * Return: how many were taken, or -errno.
 */
int in_pump(struct link *l)
{
	rd_kafka_message_t *m;
	int n = 0, err;

	while (n < PUMP_MAX && !l->refused) {
		m = l->held ? l->held : rd_kafka_consumer_poll(l->rk_in, 0);
		l->held = NULL;
		if (!m)
			break;
		if (!in_take(l, m))
			break;
		n++;
	}
	err = mqdev_producer_flush(l->prod);
	if (l->refused)
		return in_stop_refused(l);
	if (err < 0 && err != -EAGAIN && err != -EINTR) {
		link_fail(l, err, "appending");
		return err;
	}
	if (now_ms() >= l->commit_at) {
		in_commit(l);
		l->commit_at = now_ms() + COMMIT_MS;
	}
	return n;
}
