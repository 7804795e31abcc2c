// SPDX-License-Identifier: GPL-2.0
/*
 * mqdev-kafkad: the requests' dispatch, and the broker-wide APIs
 * (ApiVersions, Metadata, FindCoordinator).
 *
 * The daemon is advertised as a Kafka 0.11-era broker: of the flexible
 * versions (compact strings and arrays, tagged fields) only ApiVersions v3
 * is served, since librdkafka asks it first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "kafkad.h"

typedef int (*handler_fn)(struct daemon *d, struct conn *c,
			  const struct request *rq, struct kr *r, struct kw *w);

static int handle_api_versions(struct daemon *d, struct conn *c,
			       const struct request *rq, struct kr *r,
			       struct kw *w);
static int handle_metadata(struct daemon *d, struct conn *c,
			   const struct request *rq, struct kr *r,
			   struct kw *w);
static int handle_find_coordinator(struct daemon *d, struct conn *c,
				   const struct request *rq, struct kr *r,
				   struct kw *w);

static const struct api {
	int16_t		key;
	int16_t		min;
	int16_t		max;
	handler_fn	fn;
} apis[] = {
	{ API_PRODUCE,		3, 3, handle_produce },
	{ API_FETCH,		4, 4, handle_fetch },
	{ API_LIST_OFFSETS,	1, 2, handle_list_offsets },
	{ API_METADATA,		0, 4, handle_metadata },
	{ API_OFFSET_COMMIT,	0, 7, handle_offset_commit },
	{ API_OFFSET_FETCH,	1, 5, handle_offset_fetch },
	{ API_FIND_COORDINATOR,	0, 2, handle_find_coordinator },
	{ API_JOIN_GROUP,	0, 5, handle_join_group },
	{ API_HEARTBEAT,	0, 3, handle_heartbeat },
	{ API_LEAVE_GROUP,	0, 1, handle_leave_group },
	{ API_SYNC_GROUP,	0, 3, handle_sync_group },
	{ API_DESCRIBE_GROUPS,	0, 4, handle_describe_groups },
	{ API_LIST_GROUPS,	0, 2, handle_list_groups },
	{ API_API_VERSIONS,	0, 3, handle_api_versions },
	{ API_CREATE_TOPICS,	0, 4, handle_create_topics },
	{ API_DELETE_TOPICS,	0, 3, handle_delete_topics },
	{ API_INIT_PRODUCER_ID,	0, 1, handle_init_producer_id },
	{ API_ADD_PARTITIONS_TO_TXN, 0, 0, handle_add_partitions_to_txn },
	{ API_ADD_OFFSETS_TO_TXN, 0, 0, handle_add_offsets_to_txn },
	{ API_END_TXN,		0, 1, handle_end_txn },
	{ API_TXN_OFFSET_COMMIT, 0, 2, handle_txn_offset_commit },
};

#define NR_APIS	(sizeof(apis) / sizeof(apis[0]))

/**
 * kafka_error() - The Kafka error code that says what libmqdev's -errno does.
 * @err: 0 or a negative errno
 *
 * Return: a KERR_* code.
 */
int kafka_error(int err)
{
	switch (err) {
	case 0:
		return KERR_NONE;
	case -ENOENT:
	case -ENODEV:
	case -EIDRM:	/* deleted under a handle: a retry opens anew */
		return KERR_UNKNOWN_TOPIC_OR_PARTITION;
	case -EACCES:
	case -EPERM:
		return KERR_TOPIC_AUTHORIZATION_FAILED;
	case -EMSGSIZE:
		return KERR_MESSAGE_TOO_LARGE;
	case -EAGAIN:
	case -ETIMEDOUT:
		return KERR_REQUEST_TIMED_OUT;
	case -ENOLINK:
		return KERR_NOT_ENOUGH_REPLICAS;
	case -ERANGE:
		return KERR_OFFSET_OUT_OF_RANGE;
	case -EEXIST:
		return KERR_TOPIC_ALREADY_EXISTS;
	case -ENOSPC:
	case -ENOMEM:
	case -EDQUOT:
		return KERR_KAFKA_STORAGE_ERROR;
	default:
		return KERR_UNKNOWN_SERVER;
	}
}

static void write_api_list(struct kw *w, bool compact)
{
	size_t i;

	if (compact)
		kw_uvarint(w, NR_APIS + 1);
	else
		kw_i32(w, NR_APIS);
	for (i = 0; i < NR_APIS; i++) {
		kw_i16(w, apis[i].key);
		kw_i16(w, apis[i].min);
		kw_i16(w, apis[i].max);
		if (compact)
			kw_uvarint(w, 0);	/* no tagged fields */
	}
}

/*
 * ApiVersions: the answer's header is v0's whatever the version (a client
 * must read it before it knows which versions the broker speaks), and a
 * version above 3 is answered in v0's body with UNSUPPORTED_VERSION and the
 * list, from which the client picks one it shares.
 */
static int handle_api_versions(struct daemon *d, struct conn *c,
			       const struct request *rq, struct kr *r,
			       struct kw *w)
{
	if (rq->version > 3 || rq->version < 0) {
		kw_i16(w, KERR_UNSUPPORTED_VERSION);
		write_api_list(w, false);
		return H_DONE;
	}
	if (rq->version >= 3) {
		kr_compact_str(r);	/* client_software_name */
		kr_compact_str(r);	/* client_software_version */
		kr_skip_tags(r);
		if (r->err)
			return H_CLOSE;
	}
	kw_i16(w, KERR_NONE);
	write_api_list(w, rq->version >= 3);
	if (rq->version >= 1)
		kw_i32(w, 0);		/* throttle_time_ms */
	if (rq->version >= 3)
		kw_uvarint(w, 0);	/* no tagged fields */
	return H_DONE;
}

static void write_broker(struct daemon *d, struct kw *w, int16_t version)
{
	kw_i32(w, 1);
	kw_i32(w, 0);			/* node_id */
	kw_str(w, d->cfg.advertised_host);
	kw_i32(w, d->cfg.advertised_port);
	if (version >= 1)
		kw_str(w, NULL);	/* rack */
}

static void write_topic_meta(struct kw *w, int16_t version, int16_t err,
			     const void *name, int32_t name_len,
			     uint32_t partitions)
{
	uint32_t p;

	kw_i16(w, err);
	kw_strn(w, name, name_len);
	if (version >= 1)
		kw_i8(w, 0);		/* is_internal */
	kw_i32(w, err ? 0 : partitions);
	for (p = 0; !err && p < partitions; p++) {
		kw_i16(w, KERR_NONE);
		kw_i32(w, p);
		kw_i32(w, 0);		/* leader: us */
		kw_i32(w, 1);		/* replicas */
		kw_i32(w, 0);
		kw_i32(w, 1);		/* in-sync replicas */
		kw_i32(w, 0);
	}
}

static int metadata_all(struct daemon *d, struct kw *w, int16_t version)
{
	char (*names)[MQDEV_NAME_SIZE] = NULL;
	struct mqdev_topic_info info;
	int n, i, nout = 0;
	size_t at;

	n = mqdev_topic_list(d->mqfd, &names);
	at = w->len;
	kw_i32(w, 0);
	for (i = 0; i < n; i++) {
		/* Those we may not describe, or gone meanwhile, are left out. */
		if (mqdev_topic_describe(d->mqfd, names[i], &info, NULL, 0))
			continue;
		write_topic_meta(w, version, KERR_NONE, names[i],
				 strlen(names[i]), info.partitions);
		nout++;
	}
	kw_put_i32_at(w, at, nout);
	free(names);
	return 0;
}

/* Metadata may create what it is asked for, when configured to. */
static int metadata_create(struct daemon *d, const char *name)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, opts,
		      .partitions = d->cfg.create_partitions,
		      .capacity = d->cfg.create_capacity);

	logmsg(d, "creating topic %s", name);
	return mqdev_topic_create(d->mqfd, name, &opts);
}

static int handle_metadata(struct daemon *d, struct conn *c,
			   const struct request *rq, struct kr *r,
			   struct kw *w)
{
	struct mqdev_topic_info info;
	struct kr topics;
	char name[MQDEV_NAME_SIZE];
	bool create = d->cfg.auto_create;
	int32_t n, i;
	struct kstr t;
	int err;

	n = kr_array(r, 2);
	topics = *r;
	for (i = 0; i < n; i++)
		kr_str(r);
	if (rq->version >= 4)
		create = create && kr_i8(r);
	if (r->err)
		return H_CLOSE;

	if (rq->version >= 3)
		kw_i32(w, 0);		/* throttle_time_ms */
	write_broker(d, w, rq->version);
	if (rq->version >= 2)
		kw_str(w, "mqdev");	/* cluster_id */
	if (rq->version >= 1)
		kw_i32(w, 0);		/* controller_id */

	/* v0: an empty list is every topic; v1 on: null is. */
	if (n < 0 || (n == 0 && rq->version == 0))
		return metadata_all(d, w, rq->version);
	kw_i32(w, n);
	for (i = 0; i < n; i++) {
		t = kr_str(&topics);
		if (!kname(name, &t)) {
			write_topic_meta(w, rq->version, KERR_INVALID_TOPIC,
					 t.p, t.len, 0);
			continue;
		}
		err = mqdev_topic_describe(d->mqfd, name, &info, NULL, 0);
		if (err == -ENOENT && create) {
			err = metadata_create(d, name);
			if (!err || err == -EEXIST)
				err = mqdev_topic_describe(d->mqfd, name, &info,
							   NULL, 0);
		}
		write_topic_meta(w, rq->version, kafka_error(err), t.p, t.len,
				 info.partitions);
	}
	return H_DONE;
}

/* Every group's and transaction's coordinator is node 0, us. */
static int handle_find_coordinator(struct daemon *d, struct conn *c,
				   const struct request *rq, struct kr *r,
				   struct kw *w)
{
	struct kstr key = kr_str(r);
	int8_t type = rq->version >= 1 ? kr_i8(r) : 0;
	int16_t err = KERR_NONE;

	if (r->err)
		return H_CLOSE;
	if (type != 0 && type != 1)		/* group, transaction */
		err = KERR_INVALID_REQUEST;
	else if (key.len <= 0 || key.len >= MQDEV_NAME_SIZE)
		err = type ? KERR_INVALID_REQUEST : KERR_INVALID_GROUP_ID;
	if (rq->version >= 1)
		kw_i32(w, 0);		/* throttle_time_ms */
	kw_i16(w, err);
	if (rq->version >= 1)
		kw_str(w, NULL);	/* error_message */
	kw_i32(w, err ? -1 : 0);
	kw_str(w, err ? "" : d->cfg.advertised_host);
	kw_i32(w, err ? -1 : d->cfg.advertised_port);
	return H_DONE;
}

/**
 * handle_request() - Answer one request, its header read into @rq.
 * @d: the daemon
 * @c: the connection it came on
 * @rq: the request
 *
 * An unknown API key, or a version outside the range advertised (other than
 * ApiVersions'), closes the connection: that is what a Kafka broker does, as
 * the client could not parse any answer it did not expect.
 *
 * Return: H_DONE with the answer's body written, H_PARK, or H_CLOSE.
 */
int handle_request(struct daemon *d, struct conn *c, const struct request *rq)
{
	struct kr r;
	size_t i;

	kr_init(&r, rq->body, rq->body_len);
	for (i = 0; i < NR_APIS; i++) {
		if (apis[i].key != rq->key)
			continue;
		if ((rq->version < apis[i].min || rq->version > apis[i].max) &&
		    rq->key != API_API_VERSIONS) {
			logmsg(d, "API %d version %d is not served", rq->key,
			       rq->version);
			return H_CLOSE;
		}
		return apis[i].fn(d, c, rq, &r, &c->out);
	}
	logmsg(d, "unknown API key %d", rq->key);
	return H_CLOSE;
}
