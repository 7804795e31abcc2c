// SPDX-License-Identifier: GPL-2.0
/*
 * mqdev-kafkad: the admin APIs on topics, CreateTopics and DeleteTopics,
 * as mqdev topic creation and deletion with the daemon's credentials (so
 * any client may create and delete what the daemon's user may: see the
 * design page's threat model).
 *
 * What Kafka's request asks that mqdev has no word for is refused with the
 * error that says so: a replication factor other than 1 (one broker),
 * replica assignments, and topic configs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "kafkad.h"

struct create_spec {
	struct kstr	name;
	int32_t		partitions;
	int16_t		err;		/* found while reading it */
};

/* One topic of CreateTopics, read and checked. */
static void create_parse(struct daemon *d, struct kr *r,
			 struct create_spec *cs)
{
	int32_t nassign, nconf, nbrokers, i;
	int16_t repl;

	cs->name = kr_str(r);
	cs->partitions = kr_i32(r);
	repl = kr_i16(r);
	cs->err = KERR_NONE;
	nassign = kr_array(r, 8);
	for (i = 0; i < nassign; i++) {
		kr_i32(r);			/* partition_index */
		nbrokers = kr_array(r, 4);
		if (nbrokers > 0)
			kr_take(r, 4 * (size_t)nbrokers);
	}
	nconf = kr_array(r, 4);
	for (i = 0; i < nconf; i++) {
		kr_str(r);
		kr_str(r);
	}
	if (nassign > 0)
		cs->err = KERR_INVALID_REPLICA_ASSIGNMENT;
	else if (nconf > 0)
		cs->err = KERR_INVALID_CONFIG;
	else if (repl != 1 && repl != -1)
		cs->err = KERR_INVALID_REPLICATION_FACTOR;
	if (cs->partitions == -1)
		cs->partitions = d->cfg.create_partitions;
	if (!cs->err && (cs->partitions < 1 ||
			 cs->partitions > MQDEV_MAX_PARTITIONS))
		cs->err = KERR_INVALID_PARTITIONS;
}

/* Create it, or with validate_only say whether it could be. */
static int16_t create_one(struct daemon *d, const struct create_spec *cs,
			  bool validate)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, opts,
		      .partitions = cs->partitions,
		      .capacity = d->cfg.create_capacity);
	struct mqdev_topic_info info;
	char n[MQDEV_NAME_SIZE];
	int e;

	if (cs->err)
		return cs->err;
	if (!kname(n, &cs->name))
		return KERR_INVALID_TOPIC;
	if (validate) {
		e = mqdev_topic_describe(d->mqfd, n, &info, NULL, 0);
		return !e ? KERR_TOPIC_ALREADY_EXISTS :
		       e == -ENOENT ? KERR_NONE : kafka_error(e);
	}
	e = mqdev_topic_create(d->mqfd, n, &opts);
	logmsg(d, "CreateTopics %s, %d partitions: %s", n, cs->partitions,
	       e ? strerror(-e) : "created");
	return e == -EINVAL ? KERR_INVALID_TOPIC : kafka_error(e);
}

/*
 * CreateTopics v0-4: [name, num_partitions, replication_factor,
 * [assignments], [configs]], timeout_ms, (v1+) validate_only ->
 * (v2+) throttle_time_ms, [name, error_code, (v1+) error_message].
 * The whole request is read before anything is created: validate_only
 * comes last.
 */
int handle_create_topics(struct daemon *d, struct conn *c,
			 const struct request *rq, struct kr *r, struct kw *w)
{
	struct create_spec *cs;
	bool validate = false;
	int32_t nt, i;

	nt = kr_array(r, 14);
	if (r->err || nt < 0)
		return H_CLOSE;
	cs = calloc(nt ? nt : 1, sizeof(*cs));
	if (!cs)
		return H_CLOSE;
	for (i = 0; i < nt; i++)
		create_parse(d, r, &cs[i]);
	kr_i32(r);				/* timeout_ms */
	if (rq->version >= 1)
		validate = kr_i8(r);
	if (r->err || kr_left(r)) {
		free(cs);
		return H_CLOSE;
	}
	if (rq->version >= 2)
		kw_i32(w, 0);			/* throttle_time_ms */
	kw_i32(w, nt);
	for (i = 0; i < nt; i++) {
		kw_strn(w, cs[i].name.p, cs[i].name.len);
		kw_i16(w, create_one(d, &cs[i], validate));
		if (rq->version >= 1)
			kw_str(w, NULL);	/* error_message */
	}
	free(cs);
	return H_DONE;
}

/*
 * DeleteTopics v0-3: [name], timeout_ms -> (v1+) throttle_time_ms,
 * [name, error_code].  The daemon's handles on a deleted topic go with it.
 */
int handle_delete_topics(struct daemon *d, struct conn *c,
			 const struct request *rq, struct kr *r, struct kw *w)
{
	struct topic_handle *t;
	char n[MQDEV_NAME_SIZE];
	struct kstr name;
	int32_t nt, i;
	int16_t err;
	int e;

	nt = kr_array(r, 2);
	if (r->err || nt < 0)
		return H_CLOSE;
	if (rq->version >= 1)
		kw_i32(w, 0);			/* throttle_time_ms */
	kw_i32(w, nt);
	for (i = 0; i < nt; i++) {
		name = kr_str(r);
		if (r->err)
			return H_CLOSE;
		if (!kname(n, &name)) {
			err = KERR_INVALID_TOPIC;
		} else {
			if (!topic_get(d, &name, &t))
				topic_drop(d, t);
			e = mqdev_topic_delete(d->mqfd, n);
			err = e == -EINVAL ? KERR_INVALID_TOPIC : kafka_error(e);
			logmsg(d, "DeleteTopics %s: %s", n,
			       e ? strerror(-e) : "deleted");
		}
		kw_strn(w, name.p, name.len);
		kw_i16(w, err);
	}
	kr_i32(r);				/* timeout_ms */
	return r->err || kr_left(r) ? H_CLOSE : H_DONE;
}
