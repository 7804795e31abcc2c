// SPDX-License-Identifier: GPL-2.0
/*
 * Outbound: a durable mqdev topic mirrored to a Kafka topic, the mirror
 * being one of the topic's replicas.
 *
 * Each partition is read in place past the high watermark, as a replica
 * reads, and produced to the same partition of the Kafka topic by one
 * idempotent producer (acks=all, so Kafka acknowledges a record once its
 * in-sync replicas have it).  Its delivery reports come in order within a
 * partition, so the records acknowledged are always a prefix of those
 * produced: the mirror confirms that prefix to mqdev, and an mqdev acks=all
 * producer returns once its records are in Kafka's ISR.
 *
 * Each Kafka record carries its mqdev offset (header "mqdev.offset").  A
 * mirror that starts reads the last record of each Kafka partition and
 * goes on right after it: what reached Kafka is not produced again, what
 * did not is produced now.
 *
 * Produce requests a mirror that died had already sent may still be on
 * their way, or queued at a broker: one applied after its successor read
 * the end would be written twice.  So a link starts only once the end of
 * every Kafka partition stayed put for resume_settle_ms (out_settle()).
 * That bounds the window, it does not close it: a request delayed longer
 * still is written twice.  A link with "transactional = true" closes it
 * where the Kafka side has transactions (txn.c): its transactional.id
 * fences the instances before it, and it needs no settle wait.
 * librdkafka 2.0.2's mock cluster does not fence (its InitProducerId makes
 * a new producer id, EndTxn aborts nothing), so links are not
 * transactional unless told; mqdev-kafkad does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "mirror.h"

#define PROBE_TIMEOUT_MS	5000
#define MAX_INFLIGHT		20000	/* records produced, not acknowledged */
#define DRAIN_MAX		4096	/* records from one topic per turn */
#define TXN_MAX_BYTES		(16u << 20)	/* in one transaction */

static rd_kafka_t *rk;		/* the one producer of every outbound link */
static rd_kafka_t *probe;	/* reads the last record of a partition */
static const struct config *out_cfg;
static uint64_t inflight;
static bool fatal;

/* The outbound link of Kafka topic @name (a handful: a walk is enough). */
static struct link *out_link(const char *name)
{
	struct link *l;

	for (l = out_cfg->links; l; l = l->next)
		if (l->dir == DIR_OUT && !strcmp(l->kafka_topic, name))
			return l;
	return NULL;
}

/* Kafka refused mqdev offset @off of @p for good: remember the lowest. */
static void out_refused(struct link *l, int32_t p, uint64_t off)
{
	if (!l->kafka_refused)
		l->kafka_refused = calloc(MAX_PARTITIONS, sizeof(*l->kafka_refused));
	if (!l->kafka_refused) {
		say(LOG_CRIT, "%s/%d: out of memory remembering a refused "
		    "record: stopping", l->topic, p);
		abort();	/* never confirm past what we cannot remember */
	}
	if (!l->kafka_refused[p] || off + 1 < l->kafka_refused[p])
		l->kafka_refused[p] = off + 1;
}

/* Kafka acknowledged (or refused) one record: see the file's comment. */
static void out_delivered(rd_kafka_t *k, const rd_kafka_message_t *m,
			  void *opaque)
{
	struct link *l = out_link(rd_kafka_topic_name(m->rkt));
	uint64_t off = (uintptr_t)m->_private;
	struct mpart *mp;

	if (!l || !l->parts || m->partition < 0 ||
	    (uint32_t)m->partition >= l->nparts)
		return;		/* cannot be: every record is a link's */
	mp = &l->parts[m->partition];

	inflight--;
	mp->inflight--;
	if (m->err) {
		mp->errors++;
		out_refused(l, m->partition, off);
		/* never confirm past it: the link starts again from Kafka */
		if (l->ready)
			link_fail(l, -EIO, "Kafka refused offset %" PRIu64
				  " of partition %d: %s", off, m->partition,
				  rd_kafka_err2str(m->err));
		return;
	}
	/* past a refused record, Kafka's acknowledgments confirm nothing */
	if (off + 1 > mp->acked &&
	    !(l->kafka_refused && l->kafka_refused[m->partition] &&
	      off >= l->kafka_refused[m->partition] - 1))
		mp->acked = off + 1;
	mp->records++;
	mp->bytes += m->len + m->key_len;
}

static void out_error(rd_kafka_t *k, int err, const char *reason, void *o)
{
	char buf[256];

	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(k, buf, sizeof(buf));
		say(LOG_ERR, "kafka producer: fatal: %s: starting it anew", buf);
		fatal = true;
		return;
	}
	say(LOG_WARNING, "kafka producer: %s%s", reason,
	    err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ?
	    ": records wait, and are retried with backoff" : "");
}

/**
 * out_init() - the producer every outbound link shares
 * @cfg: the configuration
 *
 * Return: 0 or -errno.
 */
int out_init(const struct config *cfg)
{
	static const char *const props[][2] = {
		{ "enable.idempotence", "true" },
		/* a batch refused for good fails the producer, not a hole */
		{ "enable.gapless.guarantee", "true" },
		{ "acks", "all" },
		/* never give up a record: it would be a hole in the mirror */
		{ "message.timeout.ms", "0" },
		{ "queue.buffering.max.messages", "100000" },
		{ "queue.buffering.max.kbytes", "1048576" },
		{ "linger.ms", "2" },
		{ "retry.backoff.ms", "100" },
	};
	/* committed records only, to the end it reports (see out_last) */
	static const char *const probe_props[][2] = {
		{ "isolation.level", "read_committed" },
		{ "enable.partition.eof", "true" },
	};
	rd_kafka_conf_t *conf;
	char err[256];

	out_cfg = cfg;
	fatal = false;
	if (kafka_conf_with(cfg, props, ARRAY_SIZE(props), &conf, err,
			    sizeof(err)))
		goto bad;
	rd_kafka_conf_set_dr_msg_cb(conf, out_delivered);
	rd_kafka_conf_set_error_cb(conf, out_error);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk)
		goto bad;
	if (kafka_conf_with(cfg, probe_props, ARRAY_SIZE(probe_props), &conf,
			    err, sizeof(err)))
		goto bad;
	probe = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (probe)
		return 0;
bad:
	say(LOG_ERR, "kafka producer: %s", err);
	return -EINVAL;
}

/* The mqdev offset a Kafka record carries, or -1. */
static int64_t record_mqdev_offset(rd_kafka_message_t *m)
{
	rd_kafka_headers_t *h;
	const void *val;
	char buf[24];
	size_t size;

	if (rd_kafka_message_headers(m, &h) ||
	    rd_kafka_header_get_last(h, HDR_MQDEV_OFFSET, &val, &size) ||
	    !val || !size || size >= sizeof(buf))
		return -1;
	memcpy(buf, val, size);
	buf[size] = '\0';
	return strtoll(buf, NULL, 10);
}

/*
 * The mqdev offset the last record of Kafka partition @p at or after
 * @from carries: reads to the end (@hi, or the partition's EOF, read
 * committed).  Return: it, -1 when there is no record there (only
 * transaction markers or aborted records), or -EAGAIN after link_fail().
 */
static int64_t out_last(struct link *l, uint32_t p, int64_t from, int64_t hi)
{
	uint64_t until = now_ms() + PROBE_TIMEOUT_MS;
	int64_t off = -1, at = -1;
	rd_kafka_message_t *m;
	rd_kafka_topic_t *t;
	bool end = false;

	t = rd_kafka_topic_new(probe, l->kafka_topic, NULL);
	if (!t || rd_kafka_consume_start(t, p, from)) {
		if (t)
			rd_kafka_topic_destroy(t);
		link_fail(l, -EAGAIN, "%s/%u: reading its last record",
			  l->kafka_topic, p);
		return -EAGAIN;
	}
	while (!end && now_ms() < until) {
		m = rd_kafka_consume(t, p, 200);
		if (!m)
			continue;
		end = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
		if (!m->err && m->offset < hi) {
			at = m->offset;
			off = record_mqdev_offset(m);
			end = m->offset == hi - 1;
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consume_stop(t, p);
	rd_kafka_topic_destroy(t);
	if (end && (at < 0 || off >= 0))
		return off;
	link_fail(l, -EAGAIN, "%s/%u: its last record (offset %" PRId64
		  ") %s", l->kafka_topic, p, at,
		  end ? "has no " HDR_MQDEV_OFFSET " header: not the mirror's "
		  "topic" : "could not be read in time");
	return -EAGAIN;
}

/*
 * Where the mirror goes on in Kafka partition @p: *@next, the mqdev
 * offset after the one its last record carries, or 0 when it has none.
 * The last offsets can hold no record (a transaction's marker, aborted
 * records): the reading goes back, twice as far each time, until one.
 */
static int out_resume(struct link *l, uint32_t p, uint64_t *next)
{
	rd_kafka_resp_err_t err;
	int64_t lo, hi, from, off = -1;

	err = rd_kafka_query_watermark_offsets(probe, l->kafka_topic, p, &lo,
					       &hi, PROBE_TIMEOUT_MS);
	if (err) {
		link_fail(l, -EAGAIN, "%s/%u: watermarks: %s", l->kafka_topic,
			  p, rd_kafka_err2str(err));
		return -EAGAIN;
	}
	*next = 0;
	for (from = hi - 1; hi > lo; from -= hi - from) {
		off = out_last(l, p, from < lo ? lo : from, hi);
		if (off == -EAGAIN)
			return -EAGAIN;
		if (off >= 0 || from <= lo)
			break;
	}
	if (off < 0) {
		if (hi > 0)
			say(LOG_WARNING, "%s: Kafka partition %u kept none of "
			    "its %" PRId64 " records: the mirror starts at the "
			    "oldest record mqdev keeps", l->topic, p, hi);
		return 0;
	}
	*next = off + 1;
	return 0;
}

/*
 * 0 once the end of every Kafka partition of @l stayed put for
 * resume_settle_ms; else -EINPROGRESS, the link to be started again when
 * that time has passed (no failure: no backoff), or -EAGAIN after
 * link_fail().
 */
static int out_settle(struct link *l)
{
	bool moved = !l->settling;
	rd_kafka_resp_err_t err;
	int64_t lo, hi;
	uint32_t p;

	for (p = 0; p < l->nparts; p++) {
		err = rd_kafka_query_watermark_offsets(probe, l->kafka_topic, p,
						       &lo, &hi,
						       PROBE_TIMEOUT_MS);
		if (err) {
			l->settling = false;
			link_fail(l, -EAGAIN, "%s/%u: watermarks: %s",
				  l->kafka_topic, p, rd_kafka_err2str(err));
			return -EAGAIN;
		}
		moved |= hi != l->parts[p].settle_end;
		l->parts[p].settle_end = hi;
	}
	if (!moved || !out_cfg->settle_ms) {
		l->settling = false;
		return 0;
	}
	say(LOG_NOTICE, "out %s: Kafka's partition ends %s: resuming once "
	    "they stay put for %u ms", l->topic,
	    l->settling ? "moved" : "read", out_cfg->settle_ms);
	l->settling = true;
	l->retry_at = now_ms() + out_cfg->settle_ms;
	snprintf(l->state, sizeof(l->state), "waiting for Kafka's partition "
		 "ends to stay put");
	return -EINPROGRESS;
}

/*
 * Kafka holds records after one it refused (its producer went on past a
 * failed batch, or another did): a hole, which no confirmation may cover.
 * The link stops there and says so, at every retry, until an operator
 * steps in.  Resuming at the refused record itself is no hole: it is
 * produced again.
 */
static bool out_past_refused(struct link *l, uint32_t p, uint64_t next)
{
	uint64_t refused;

	if (!l->kafka_refused || !l->kafka_refused[p])
		return false;
	refused = l->kafka_refused[p] - 1;
	if (next <= refused) {
		l->kafka_refused[p] = 0;
		return false;
	}
	say(LOG_CRIT, "out %s/%u: Kafka refused mqdev offset %" PRIu64
	    " but holds records up to %" PRIu64 ": a hole; not confirming "
	    "past it", l->topic, p, refused, next - 1);
	link_fail(l, -EIO, "partition %u: a hole at mqdev offset %" PRIu64,
		  p, refused);
	return true;
}

/* Seek each partition where Kafka ends, and confirm what it holds. */
static int out_position(struct link *l)
{
	struct mqdev_partition_info pi[MAX_PARTITIONS];
	struct mqdev_topic_info info;
	struct mpart *mp;
	uint64_t next;
	uint32_t p;
	int err;

	err = mqdev_topic_describe(mqdev_consumer_fd(l->rep), l->topic, &info,
				   pi, l->nparts);
	for (p = 0; !err && p < l->nparts; p++) {
		mp = &l->parts[p];
		err = out_resume(l, p, &next);
		if (err)
			return err;
		if (out_past_refused(l, p, next))
			return -EIO;
		if (next > pi[p].next_offset) {
			link_fail(l, -ESTALE, "partition %u: Kafka has mqdev "
				  "offsets up to %" PRIu64 ", the topic ends at %"
				  PRIu64 ": another incarnation of the topic",
				  p, next, (uint64_t)pi[p].next_offset);
			return -ESTALE;
		}
		if (next < pi[p].first_offset) {
			if (next)
				say(LOG_CRIT, "%s/%u: records %" PRIu64 " to %"
				    PRIu64 " left the ring before they reached "
				    "Kafka", l->topic, p, next,
				    (uint64_t)pi[p].first_offset - 1);
			next = pi[p].first_offset;
		}
		err = mqdev_consumer_seek(l->rep, p, MQDEV_SEEK_OFFSET, next, 0,
					  NULL);
		if (!err)
			err = mqdev_replica_confirm(l->rep, p, next,
						    &mp->confirmed, NULL);
		mp->next = mp->acked = next;
	}
	if (err)
		link_fail(l, err, "positioning the replica");
	return err;
}

static int out_topic_check(struct link *l)
{
	struct mqdev_topic_info info;
	uint32_t kparts;
	int err;

	err = link_sizes(l, rk, &info, &kparts);
	if (err)
		return err;
	if (!(info.flags & MQDEV_TOPIC_DURABLE)) {
		link_fail(l, -EINVAL, "not a durable topic: only those have "
			  "replicas");
		return -EINVAL;
	}
	if (info.partitions > MAX_PARTITIONS)
		return link_fail(l, -E2BIG, "too many partitions"), -E2BIG;
	if (kparts < info.partitions) {
		link_fail(l, -EINVAL, "Kafka topic %s has %u partitions, fewer "
			  "than the topic's %u", l->kafka_topic, kparts,
			  info.partitions);
		return -EINVAL;
	}
	if (l->parts && l->nparts != info.partitions) {
		free(l->parts);
		l->parts = NULL;
	}
	l->nparts = info.partitions;
	if (!l->parts)
		l->parts = calloc(l->nparts, sizeof(*l->parts));
	return l->parts ? 0 : -ENOMEM;
}

/* The producer a link's records go through: its own when transactional. */
static rd_kafka_t *out_producer(const struct link *l)
{
	return l->rk_tx ? l->rk_tx : rk;
}

/**
 * out_start() - attach an outbound link as a replica, where Kafka ends
 * @l: the link
 *
 * Return: 0, or -errno after link_fail() said why.
 */
int out_start(struct link *l)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts,
		      .flags = MQDEV_CONSUMER_REPLICA);
	int err;

	err = out_topic_check(l);
	/* fenced, the instances before land nothing more: no wait */
	if (!err)
		err = l->transactional ? txn_start(out_cfg, l) : out_settle(l);
	if (err)
		return err;
	err = mqdev_consumer_new(l->topic, &opts, &l->rep);
	if (err)
		return link_fail(l, err, "attaching as a replica"), err;
	err = out_position(l);
	if (err)
		return err;
	l->rkt = rd_kafka_topic_new(out_producer(l), l->kafka_topic, NULL);
	if (!l->rkt)
		return link_fail(l, -ENOMEM, "kafka topic handle"), -ENOMEM;
	return 0;
}

void out_stop(struct link *l)
{
	mqdev_consumer_free(l->rep);
	l->rep = NULL;
	if (l->rkt)
		rd_kafka_topic_destroy(l->rkt);
	l->rkt = NULL;
	txn_stop(l);
}

/*
 * Its headers as Kafka's, then its time and offset: a block that does not
 * parse goes as none.  The time goes in a header too, to the nanosecond:
 * Kafka keeps milliseconds, and a broker that stamps records itself (as
 * mqdev-kafkad does, mqdev stamping each append) keeps none of it.
 */
static rd_kafka_headers_t *record_headers(struct link *l,
					  const struct mqdev_record *rec)
{
	struct mqdev_header_iter it = {};
	rd_kafka_headers_t *hdrs = rd_kafka_headers_new(4);
	struct mqdev_header h;
	char off[24];
	int n;

	while ((n = mqdev_record_header_next(rec, &it, &h)) > 0)
		rd_kafka_header_add(hdrs, h.key, h.key_len, h.value,
				    h.value_len < 0 ? 0 : h.value_len);
	if (n < 0)
		say(LOG_WARNING, "%s/%u: offset %" PRIu64 ": a header block "
		    "that does not parse", l->topic, rec->partition,
		    (uint64_t)rec->offset);
	snprintf(off, sizeof(off), "%" PRIu64, (uint64_t)rec->timestamp);
	rd_kafka_header_add(hdrs, HDR_MQDEV_TIMESTAMP, -1, off, -1);
	/* last: a resume reads the last one, not one the record came with */
	snprintf(off, sizeof(off), "%" PRIu64, (uint64_t)rec->offset);
	rd_kafka_header_add(hdrs, HDR_MQDEV_OFFSET, -1, off, -1);
	return hdrs;
}

static rd_kafka_resp_err_t produce_record(struct link *l,
					  const struct mqdev_record *rec)
{
	rd_kafka_t *k = out_producer(l);
	const void *key = NULL, *val = NULL;
	rd_kafka_headers_t *hdrs;
	rd_kafka_resp_err_t err;
	uint32_t vlen = 0;

	if (!(rec->flags & MQDEV_RECORD_NULL_KEY))
		key = mqdev_record_key(rec);
	if (mqdev_record_payload(rec, &val, &vlen)) {
		val = mqdev_record_value(rec);
		vlen = mqdev_record_value_len(rec);
	}
	hdrs = record_headers(l, rec);
	err = rd_kafka_producev(k, RD_KAFKA_V_RKT(l->rkt),
				RD_KAFKA_V_PARTITION(rec->partition),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				RD_KAFKA_V_KEY(key, rec->key_len),
				RD_KAFKA_V_VALUE((void *)val, vlen),
				RD_KAFKA_V_HEADERS(hdrs),
				RD_KAFKA_V_TIMESTAMP(rec->timestamp / 1000000),
				RD_KAFKA_V_OPAQUE((void *)(uintptr_t)rec->offset),
				RD_KAFKA_V_END);
	if (err)
		rd_kafka_headers_destroy(hdrs);
	return err;
}

/*
 * Room for one more record: in flight, or in the transaction this turn
 * opened (@open; its records are bounded by the turn's DRAIN_MAX).
 */
static bool out_room(const struct link *l, bool open)
{
	if (l->rk_tx)
		return !open || l->tx_bytes < TXN_MAX_BYTES;
	return inflight < MAX_INFLIGHT;
}

/* One record taken by librdkafka: counted, and released from the ring. */
static void out_taken(struct link *l, const struct mqdev_record *rec)
{
	struct mpart *mp = &l->parts[rec->partition];

	mp->inflight++;
	mp->next = rec->offset + 1;
	if (l->rk_tx) {
		l->tx_bytes += rec->key_len + mqdev_record_value_len(rec);
	} else {
		inflight++;
	}
	mqdev_consumer_release(l->rep);
}

/**
 * out_drain() - produce what is new in a link's rings
 * @l: a ready outbound link
 *
 * One record at a time, released only once librdkafka took it: a full
 * queue leaves the rest in the ring for a later turn.  A transactional
 * link commits what one turn read before the turn ends.
 *
 * Return: records produced, or -errno after link_fail().
 */
int out_drain(struct link *l)
{
	const struct mqdev_record *rec;
	rd_kafka_resp_err_t kerr;
	bool open = false;	/* a transaction, until this turn commits it */
	int n = 0, err;

	err = l->rk_tx ? txn_turn(l) : 0;
	if (err)
		return err;
	l->stalled = false;
	while (n < DRAIN_MAX && out_room(l, open)) {
		rec = mqdev_consumer_peek(l->rep);
		if (!rec)
			break;
		if (l->rk_tx && !open) {
			if (txn_begin(l))
				return -EIO;
			open = true;
		}
		kerr = produce_record(l, rec);
		if (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			l->stalled = true;
			break;
		}
		if (kerr) {
			l->parts[rec->partition].errors++;
			link_fail(l, -EIO, "partition %u offset %" PRIu64 ": %s",
				  rec->partition, (uint64_t)rec->offset,
				  rd_kafka_err2str(kerr));
			return -EIO;
		}
		out_taken(l, rec);
		n++;
	}
	if (!out_room(l, open))
		l->stalled = true;
	err = mqdev_consumer_error(l->rep);
	if (err) {
		link_fail(l, err, "reading the rings");
		return err;
	}
	/* the turn's reading is over: its transaction commits */
	if (open) {
		err = txn_commit(l);
		if (err)
			return err;
	}
	return n;
}

/**
 * out_confirm() - confirm to mqdev what Kafka acknowledged
 * @l: a ready outbound link
 *
 * The acknowledged prefix; with nothing in flight, up to where the replica
 * reads, past the aborted records it skipped (never mirrored).
 */
void out_confirm(struct link *l)
{
	uint64_t upto, pos;
	struct mpart *mp;
	uint32_t p;
	int err;

	for (p = 0; p < l->nparts; p++) {
		mp = &l->parts[p];
		upto = mp->acked;
		pos = mqdev_consumer_position(l->rep, p);
		if (!mp->inflight && pos > upto)
			upto = pos;
		if (upto < mp->confirmed)
			continue;
		err = mqdev_replica_confirm(l->rep, p, upto, &mp->confirmed,
					    NULL);
		if (err) {
			link_fail(l, err, "partition %u: confirming %" PRIu64,
				  p, upto);
			return;
		}
	}
}

/**
 * out_groups() - confirm the groups' serial
 * @l: a ready outbound link, whose handle polled EPOLLPRI
 *
 * Consumer groups' offsets stay on this host (the disk replica keeps
 * them): the mirror carries records.  It confirms the serial so that
 * commits do not wait for it and it stays in the in-sync set.
 */
void out_groups(struct link *l)
{
	struct mqdev_replica_groups req = {};
	struct mqdev_replica_confirm conf = { .flags = MQDEV_CONFIRM_GROUPS };
	int fd = mqdev_consumer_fd(l->rep);

	if (ioctl(fd, MQDEV_IOC_REPLICA_GROUPS, &req))
		return;
	conf.offset = req.serial;
	if (ioctl(fd, MQDEV_IOC_REPLICA_CONFIRM, &conf))
		say(LOG_WARNING, "%s: confirming the groups: %s", l->topic,
		    strerror(errno));
}

/* Serve delivery reports: Return: how many. */
int out_poll(int timeout_ms)
{
	return rk ? rd_kafka_poll(rk, timeout_ms) : 0;
}

rd_kafka_t *out_rk(void)
{
	return rk;
}

bool out_fatal(void)
{
	return fatal;
}

uint64_t out_inflight(void)
{
	return inflight;
}

/* Wait up to @timeout_ms for Kafka to acknowledge what is in flight. */
void out_flush(int timeout_ms)
{
	if (rk)
		rd_kafka_flush(rk, timeout_ms);
}

/* Forget what is in flight (after a fatal error) and close the producer. */
void out_exit(void)
{
	if (rk) {
		rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE |
			       RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_poll(rk, 0);
		rd_kafka_flush(rk, 1000);
		rd_kafka_destroy(rk);
	}
	if (probe) {
		rd_kafka_destroy(probe);
	}
	rk = probe = NULL;
}
