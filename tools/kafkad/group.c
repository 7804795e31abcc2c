// SPDX-License-Identifier: GPL-2.0
/*
 * mqdev-kafkad: the group coordinator, as Kafka's: JoinGroup gathers the
 * members into a generation and names a leader, which receives every
 * member's subscription and computes the assignment itself (in the client);
 * SyncGroup hands each member its share; heartbeats keep members in, and a
 * member silent for its session timeout is dropped and the rest rebalance.
 *
 * Committed offsets are kept in mqdev's own consumer groups (one per topic,
 * named as the Kafka group), committed from outside the group through
 * netlink: they survive the daemon, show in `mqctl group describe`, and
 * hold records on 'block' topics as any group's do.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kafkad.h"

#define MEMBER_ID_SIZE	128
#define PROTO_NAME_SIZE	64
/*
 * Members, in one group and in all: each holds its subscription and its
 * assignment, of at most MEMBER_BYTES each, until its session times out.
 */
#define MAX_MEMBERS	1024
#define MEMBER_BYTES	65536
#define SESSION_MIN_MS	1000
/* What a member whose client is gone holds, it holds this long at most. */
#define SESSION_MAX_MS	300000
/*
 * Members one connection may have made while it is open: a consumer
 * joins a group or a few.  Those that never synced go with it.
 */
#define CONN_MAX_MEMBERS 16
/*
 * The members' metadata of one group, all in its leader's JoinGroup
 * answer: within what a connection's output may hold.
 */
#define GROUP_META_BYTES (4 << 20)

enum { G_EMPTY, G_PREPARING, G_AWAITING_SYNC, G_STABLE };

struct kproto {
	char		name[PROTO_NAME_SIZE];
	uint8_t		*meta;
	int32_t		len;
};

struct kmember {
	struct kmember	*next;
	char		id[MEMBER_ID_SIZE];
	int32_t		session_ms;
	int32_t		rebalance_ms;
	uint64_t	last_seen;
	struct kproto	*protos;
	int32_t		nprotos;
	uint8_t		*assignment;
	int32_t		assignment_len;
	char		client_id[64];
	char		client_host[48];
	bool		joined;		/* in the rebalance under way */
	struct conn	*join_conn;	/* its JoinGroup, parked */
	struct conn	*sync_conn;	/* its SyncGroup, parked */
	struct conn	*owner;		/* the connection that made it, open */
	bool		synced;		/* had an assignment once */
};

struct kgroup {
	struct kgroup	*next;
	char		id[MQDEV_NAME_SIZE];
	int		state;
	int32_t		generation;
	char		protocol_type[PROTO_NAME_SIZE];
	char		protocol[PROTO_NAME_SIZE];
	char		leader[MEMBER_ID_SIZE];
	struct kmember	*members;
	unsigned int	nmembers;
	uint64_t	deadline;	/* of the rebalance under way */
	uint64_t	next_member;
};

static bool kcopy(char *dst, size_t size, const struct kstr *s)
{
	if (s->len < 0 || (size_t)s->len >= size || memchr(s->p, 0, s->len))
		return false;
	memcpy(dst, s->p, s->len);
	dst[s->len] = 0;
	return true;
}

static struct kgroup *group_find(struct daemon *d, const char *id)
{
	struct kgroup *g;

	for (g = d->groups; g; g = g->next)
		if (!strcmp(g->id, id))
			return g;
	return NULL;
}

static struct kmember *member_find(struct kgroup *g, const struct kstr *id)
{
	struct kmember *m;

	for (m = g->members; m; m = m->next)
		if ((size_t)id->len == strlen(m->id) &&
		    !memcmp(m->id, id->p, id->len))
			return m;
	return NULL;
}

static void member_protos_free(struct kmember *m)
{
	int32_t i;

	for (i = 0; i < m->nprotos; i++)
		free(m->protos[i].meta);
	free(m->protos);
	m->protos = NULL;
	m->nprotos = 0;
}

static void member_free(struct kmember *m)
{
	if (m->owner)
		m->owner->nmembers--;
	member_protos_free(m);
	free(m->assignment);
	free(m);
}

static const struct kproto *member_proto(const struct kmember *m,
					 const char *name)
{
	int32_t i;

	for (i = 0; i < m->nprotos; i++)
		if (!strcmp(m->protos[i].name, name))
			return &m->protos[i];
	return NULL;
}

/* Answer a member's parked JoinGroup or SyncGroup with an error alone. */
static void answer_error(struct daemon *d, struct conn *c, int16_t err)
{
	size_t mark;

	if (!c)
		return;
	mark = conn_begin_answer(c);
	if (c->req.key == API_JOIN_GROUP) {
		if (c->req.version >= 2)
			kw_i32(&c->out, 0);
		kw_i16(&c->out, err);
		kw_i32(&c->out, -1);
		kw_str(&c->out, "");
		kw_str(&c->out, "");
		kw_str(&c->out, "");
		kw_i32(&c->out, 0);
	} else {
		if (c->req.version >= 1)
			kw_i32(&c->out, 0);
		kw_i16(&c->out, err);
		kw_bytes(&c->out, NULL, 0);
	}
	conn_end_answer(d, c, mark);
	conn_unpark(d, c);
}

static void member_remove(struct daemon *d, struct kgroup *g,
			  struct kmember *m)
{
	struct kmember **pp;

	for (pp = &g->members; *pp; pp = &(*pp)->next) {
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	}
	g->nmembers--;
	d->nmembers--;
	answer_error(d, m->join_conn, KERR_UNKNOWN_MEMBER_ID);
	answer_error(d, m->sync_conn, KERR_UNKNOWN_MEMBER_ID);
	logmsg(d, "group %s: member %s left", g->id, m->id);
	member_free(m);
}

static void group_free(struct kgroup *g)
{
	struct kmember *m;

	while ((m = g->members)) {
		g->members = m->next;
		member_free(m);
	}
	free(g);
}

/* The protocol every member supports, in the first member's order. */
static const char *group_pick_protocol(struct kgroup *g)
{
	struct kmember *first = g->members, *m;
	int32_t i;

	for (i = 0; first && i < first->nprotos; i++) {
		for (m = first->next; m; m = m->next)
			if (!member_proto(m, first->protos[i].name))
				break;
		if (!m)
			return first->protos[i].name;
	}
	return NULL;
}

static void join_answer(struct kw *w, int16_t version, struct kgroup *g,
			struct kmember *m)
{
	struct kmember *o;
	const struct kproto *pr;
	bool leader = !strcmp(g->leader, m->id);

	if (version >= 2)
		kw_i32(w, 0);		/* throttle_time_ms */
	kw_i16(w, KERR_NONE);
	kw_i32(w, g->generation);
	kw_str(w, g->protocol);
	kw_str(w, g->leader);
	kw_str(w, m->id);
	kw_i32(w, leader ? (int32_t)g->nmembers : 0);
	for (o = g->members; leader && o; o = o->next) {
		pr = member_proto(o, g->protocol);
		kw_str(w, o->id);
		if (version >= 5)
			kw_str(w, NULL);	/* group_instance_id */
		kw_bytes(w, pr ? pr->meta : NULL, pr ? pr->len : 0);
	}
}

static int32_t group_rebalance_ms(const struct kgroup *g)
{
	const struct kmember *m;
	int32_t longest = 0;

	for (m = g->members; m; m = m->next)
		if (m->rebalance_ms > longest)
			longest = m->rebalance_ms;
	return longest;
}

/* The metadata the members but @skip hold, and @with's. */
static size_t group_meta_bytes(const struct kgroup *g,
			       const struct kmember *skip,
			       const struct kmember *with)
{
	const struct kmember *m;
	size_t total = 0;
	int32_t i;

	for (m = g->members; m; m = m->next) {
		if (m == skip)
			continue;
		for (i = 0; i < m->nprotos; i++)
			total += m->protos[i].len;
	}
	for (i = 0; i < with->nprotos; i++)
		total += with->protos[i].len;
	return total;
}

/*
 * The rebalance ends: who has not rejoined is out, the rest form the next
 * generation, and every parked JoinGroup is answered (@self's into @w,
 * the answer its handler is writing).  Return: true if @self was answered.
 */
static bool group_complete_join(struct daemon *d, struct kgroup *g,
				struct conn *self, struct kw *w)
{
	struct kmember *m, *next;
	const char *proto;
	bool answered = false;
	size_t mark;

	for (m = g->members; m; m = next) {
		next = m->next;
		if (!m->joined)
			member_remove(d, g, m);
	}
	if (!g->members) {
		g->state = G_EMPTY;
		return false;
	}
	proto = group_pick_protocol(g);
	snprintf(g->protocol, sizeof(g->protocol), "%s", proto ? proto : "");
	g->generation++;
	if (!member_find(g, &(struct kstr){ (const uint8_t *)g->leader,
					    (int32_t)strlen(g->leader) }))
		strcpy(g->leader, g->members->id);
	g->state = G_AWAITING_SYNC;
	/* The leader has as long to send its assignment (then it is out). */
	g->deadline = d->now_ms + (uint64_t)group_rebalance_ms(g);
	logmsg(d, "group %s: generation %d, %u members, leader %s", g->id,
	       g->generation, g->nmembers, g->leader);
	for (m = g->members; m; m = m->next) {
		struct conn *c = m->join_conn;

		m->joined = false;
		m->join_conn = NULL;
		m->last_seen = d->now_ms;
		free(m->assignment);
		m->assignment = NULL;
		m->assignment_len = 0;
		if (!c)
			continue;
		if (c == self) {
			join_answer(w, c->req.version, g, m);
			answered = true;
			continue;
		}
		mark = conn_begin_answer(c);
		join_answer(&c->out, c->req.version, g, m);
		conn_end_answer(d, c, mark);
		conn_unpark(d, c);
	}
	return answered;
}

static bool group_all_joined(const struct kgroup *g)
{
	const struct kmember *m;

	for (m = g->members; m; m = m->next)
		if (!m->joined)
			return false;
	return true;
}

/*
 * Can the rebalance end?  When every member has joined, except that a new
 * group's first one waits out group_initial_delay_ms for more; and when its
 * time is up, with those that did.
 */
static bool group_ready(struct daemon *d, const struct kgroup *g)
{
	if (d->now_ms >= g->deadline)
		return true;
	return group_all_joined(g) &&
	       (g->generation || !d->cfg.group_initial_delay_ms);
}

/* A member came, went or asked: everyone must join again. */
static void group_rebalance(struct daemon *d, struct kgroup *g)
{
	struct kmember *m;
	int32_t longest = 0;

	if (g->state == G_PREPARING)
		return;
	for (m = g->members; m; m = m->next) {
		if (m->rebalance_ms > longest)
			longest = m->rebalance_ms;
		/* A SyncGroup parked for the old generation is told. */
		if (m->sync_conn) {
			answer_error(d, m->sync_conn, KERR_REBALANCE_IN_PROGRESS);
			m->sync_conn = NULL;
		}
	}
	g->deadline = d->now_ms + (uint64_t)longest;
	if (g->state == G_EMPTY && d->cfg.group_initial_delay_ms)
		g->deadline = d->now_ms + d->cfg.group_initial_delay_ms;
	g->state = G_PREPARING;
	logmsg(d, "group %s: rebalancing", g->id);
}

static int join_parse_protos(struct kmember *m, struct kr *r)
{
	int32_t n = kr_array(r, 6), i;
	struct kstr name, meta;
	size_t total = 0;

	if (n < 0 || r->err)
		return -1;
	member_protos_free(m);
	m->protos = calloc(n ? n : 1, sizeof(*m->protos));
	if (!m->protos)
		return -1;
	for (i = 0; i < n; i++) {
		name = kr_str(r);
		meta = kr_bytes(r);
		if (r->err || !kcopy(m->protos[i].name, PROTO_NAME_SIZE, &name))
			return -1;
		m->nprotos = i + 1;
		total += meta.len > 0 ? meta.len : 0;
		if (total > MEMBER_BYTES)
			return -1;
		if (meta.len > 0) {
			m->protos[i].meta = malloc(meta.len);
			if (!m->protos[i].meta)
				return -1;
			memcpy(m->protos[i].meta, meta.p, meta.len);
			m->protos[i].len = meta.len;
		}
	}
	return 0;
}

static int join_error(struct kw *w, int16_t version, int16_t err,
		      const struct kstr *member)
{
	if (version >= 2)
		kw_i32(w, 0);
	kw_i16(w, err);
	kw_i32(w, -1);
	kw_str(w, "");
	kw_str(w, "");
	kw_strn(w, member->p, member->len > 0 ? member->len : 0);
	kw_i32(w, 0);
	return H_DONE;
}

/* Does the newcomer share a protocol with every member there is? */
static bool join_compatible(struct kgroup *g, struct kmember *m)
{
	struct kmember *o;
	int32_t i;

	for (i = 0; i < m->nprotos; i++) {
		for (o = g->members; o; o = o->next)
			if (o != m && !member_proto(o, m->protos[i].name))
				break;
		if (!o)
			return true;
	}
	return false;
}

static struct kgroup *group_get(struct daemon *d, const char *id)
{
	struct kgroup *g = group_find(d, id);

	if (g)
		return g;
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	strcpy(g->id, id);
	g->next = d->groups;
	d->groups = g;
	return g;
}

int handle_join_group(struct daemon *d, struct conn *c,
		      const struct request *rq, struct kr *r, struct kw *w)
{
	struct kstr gid, member, ptype;
	char id[MQDEV_NAME_SIZE], type[PROTO_NAME_SIZE];
	int32_t session, rebalance;
	struct kmember *m, tmp = { 0 };
	struct kgroup *g;

	gid = kr_str(r);
	session = kr_i32(r);
	rebalance = rq->version >= 1 ? kr_i32(r) : session;
	member = kr_str(r);
	if (rq->version >= 5)
		kr_str(r);		/* group_instance_id: static membership */
	ptype = kr_str(r);
	if (r->err || join_parse_protos(&tmp, r) || kr_left(r)) {
		member_protos_free(&tmp);
		return H_CLOSE;
	}
	if (!kname(id, &gid) || !kcopy(type, sizeof(type), &ptype) ||
	    !tmp.nprotos) {
		member_protos_free(&tmp);
		return join_error(w, rq->version, !kname(id, &gid) ?
				  KERR_INVALID_GROUP_ID :
				  KERR_INCONSISTENT_GROUP_PROTOCOL, &member);
	}
	if (session < SESSION_MIN_MS || session > SESSION_MAX_MS) {
		member_protos_free(&tmp);
		return join_error(w, rq->version, KERR_INVALID_SESSION_TIMEOUT,
				  &member);
	}
	g = group_get(d, id);
	if (!g || (g->members && strcmp(g->protocol_type, type))) {
		member_protos_free(&tmp);
		return join_error(w, rq->version, g ?
				  KERR_INCONSISTENT_GROUP_PROTOCOL :
				  KERR_COORDINATOR_NOT_AVAILABLE, &member);
	}
	m = member.len > 0 ? member_find(g, &member) : NULL;
	if (member.len > 0 && !m) {
		member_protos_free(&tmp);
		return join_error(w, rq->version, KERR_UNKNOWN_MEMBER_ID,
				  &member);
	}
	if ((!m && (g->nmembers >= d->cfg.group_max_size ||
		    c->nmembers >= CONN_MAX_MEMBERS)) ||
	    group_meta_bytes(g, m, &tmp) > GROUP_META_BYTES) {
		member_protos_free(&tmp);
		return join_error(w, rq->version, KERR_GROUP_MAX_SIZE_REACHED,
				  &member);
	}
	if (!m) {
		m = d->nmembers < MAX_MEMBERS ? calloc(1, sizeof(*m)) : NULL;
		if (!m) {
			member_protos_free(&tmp);
			return join_error(w, rq->version,
					  KERR_COORDINATOR_NOT_AVAILABLE,
					  &member);
		}
		snprintf(m->id, sizeof(m->id), "%.*s-%llu-%llu",
			 rq->client_id.len > 0 && rq->client_id.len < 64 ?
			 (int)rq->client_id.len : 0,
			 rq->client_id.len > 0 ? (const char *)rq->client_id.p : "",
			 (unsigned long long)c->id,
			 (unsigned long long)++g->next_member);
		kcopy(m->client_id, sizeof(m->client_id), &rq->client_id);
		snprintf(m->client_host, sizeof(m->client_host), "/%.*s",
			 (int)strcspn(c->peer, ":"), c->peer);
		m->next = g->members;
		g->members = m;
		g->nmembers++;
		d->nmembers++;
		m->owner = c;
		c->nmembers++;
	}
	member_protos_free(m);
	m->protos = tmp.protos;
	m->nprotos = tmp.nprotos;
	if (g->nmembers > 1 && !join_compatible(g, m)) {
		if (!m->last_seen)
			member_remove(d, g, m);
		return join_error(w, rq->version,
				  KERR_INCONSISTENT_GROUP_PROTOCOL, &member);
	}
	strcpy(g->protocol_type, type);
	m->session_ms = session;
	m->rebalance_ms = rebalance;
	m->last_seen = d->now_ms;
	if (m->join_conn && m->join_conn != c)
		answer_error(d, m->join_conn, KERR_UNKNOWN_MEMBER_ID);
	m->join_conn = c;
	m->joined = true;
	group_rebalance(d, g);
	if (group_ready(d, g) && group_complete_join(d, g, c, w))
		return H_DONE;
	return H_PARK;
}

static void sync_answer(struct kw *w, int16_t version, int16_t err,
			const struct kmember *m)
{
	if (version >= 1)
		kw_i32(w, 0);
	kw_i16(w, err);
	if (m && !err)
		kw_bytes(w, m->assignment, m->assignment_len);
	else
		kw_bytes(w, NULL, 0);
}

/*
 * A member's standing for SyncGroup, Heartbeat and OffsetCommit.  While
 * the group prepares a rebalance its generation is still the last one;
 * members are told so (REBALANCE_IN_PROGRESS), but may still commit what
 * they read in it, as Kafka lets them (@commit): what a member read before
 * it rejoins is then not read again by the next owner.
 */
static int16_t member_check(struct daemon *d, const struct kstr *gid,
			    int32_t generation, const struct kstr *member,
			    bool commit, struct kgroup **gp,
			    struct kmember **mp)
{
	char id[MQDEV_NAME_SIZE];

	*gp = NULL;
	*mp = NULL;
	if (!kname(id, gid))
		return KERR_INVALID_GROUP_ID;
	*gp = group_find(d, id);
	if (!*gp)
		return KERR_UNKNOWN_MEMBER_ID;
	*mp = member_find(*gp, member);
	if (!*mp)
		return KERR_UNKNOWN_MEMBER_ID;
	(*mp)->last_seen = d->now_ms;
	if (generation != (*gp)->generation)
		return KERR_ILLEGAL_GENERATION;
	if ((*gp)->state == G_PREPARING && !commit)
		return KERR_REBALANCE_IN_PROGRESS;
	if ((*gp)->state == G_AWAITING_SYNC && commit)
		return KERR_REBALANCE_IN_PROGRESS;
	return KERR_NONE;
}

static int sync_store(struct kgroup *g, struct kr *r, int32_t n)
{
	struct kstr mid, a;
	struct kmember *m;
	int32_t i;

	for (i = 0; i < n; i++) {
		mid = kr_str(r);
		a = kr_bytes(r);
		if (r->err)
			return -1;
		m = member_find(g, &mid);
		if (!m || a.len <= 0 || a.len > MEMBER_BYTES)
			continue;
		free(m->assignment);
		m->assignment = malloc(a.len);
		if (!m->assignment)
			return -1;
		memcpy(m->assignment, a.p, a.len);
		m->assignment_len = a.len;
	}
	return 0;
}

int handle_sync_group(struct daemon *d, struct conn *c,
		      const struct request *rq, struct kr *r, struct kw *w)
{
	struct kstr gid, member;
	struct kmember *m, *o;
	struct kgroup *g;
	int32_t generation, n;
	int16_t err;
	size_t mark;

	gid = kr_str(r);
	generation = kr_i32(r);
	member = kr_str(r);
	if (rq->version >= 3)
		kr_str(r);		/* group_instance_id */
	n = kr_array(r, 6);
	if (r->err || n < 0)
		return H_CLOSE;
	err = member_check(d, &gid, generation, &member, false, &g, &m);
	if (err) {
		sync_answer(w, rq->version, err, NULL);
		return H_DONE;
	}
	if (g->state == G_STABLE) {
		sync_answer(w, rq->version, KERR_NONE, m);
		m->synced = true;
		return H_DONE;
	}
	if (strcmp(g->leader, m->id)) {
		/* One parked SyncGroup a member: an earlier one is told. */
		if (m->sync_conn)
			answer_error(d, m->sync_conn,
				     KERR_REBALANCE_IN_PROGRESS);
		m->sync_conn = c;
		return H_PARK;
	}
	if (sync_store(g, r, n) || kr_left(r))
		return H_CLOSE;
	g->state = G_STABLE;
	for (o = g->members; o; o = o->next) {
		struct conn *oc = o->sync_conn;

		o->sync_conn = NULL;
		if (!oc || oc == c)
			continue;
		o->synced = true;
		mark = conn_begin_answer(oc);
		sync_answer(&oc->out, oc->req.version, KERR_NONE, o);
		conn_end_answer(d, oc, mark);
		conn_unpark(d, oc);
	}
	sync_answer(w, rq->version, KERR_NONE, m);
	m->synced = true;
	return H_DONE;
}

int handle_heartbeat(struct daemon *d, struct conn *c,
		     const struct request *rq, struct kr *r, struct kw *w)
{
	struct kstr gid, member;
	struct kmember *m;
	struct kgroup *g;
	int32_t generation;
	int16_t err;

	gid = kr_str(r);
	generation = kr_i32(r);
	member = kr_str(r);
	if (rq->version >= 3)
		kr_str(r);
	if (r->err || kr_left(r))
		return H_CLOSE;
	err = member_check(d, &gid, generation, &member, false, &g, &m);
	if (err)
		logmsg(d, "heartbeat %.*s generation %d: error %d", gid.len,
		       gid.p, generation, err);
	if (rq->version >= 1)
		kw_i32(w, 0);
	kw_i16(w, err);
	return H_DONE;
}

/* Once the members have changed: rebalance those left, if any. */
static void group_after_change(struct daemon *d, struct kgroup *g)
{
	if (!g->members) {
		g->state = G_EMPTY;
		return;
	}
	group_rebalance(d, g);
	if (group_all_joined(g))
		group_complete_join(d, g, NULL, NULL);
}

int handle_leave_group(struct daemon *d, struct conn *c,
		       const struct request *rq, struct kr *r, struct kw *w)
{
	char id[MQDEV_NAME_SIZE];
	struct kstr gid, member;
	struct kmember *m = NULL;
	struct kgroup *g = NULL;
	int16_t err = KERR_NONE;

	gid = kr_str(r);
	member = kr_str(r);
	if (r->err || kr_left(r))
		return H_CLOSE;
	if (!kname(id, &gid))
		err = KERR_INVALID_GROUP_ID;
	else if (!(g = group_find(d, id)) || !(m = member_find(g, &member)))
		err = KERR_UNKNOWN_MEMBER_ID;
	if (!err) {
		member_remove(d, g, m);
		group_after_change(d, g);
	}
	if (rq->version >= 1)
		kw_i32(w, 0);
	kw_i16(w, err);
	return H_DONE;
}

/**
 * groups_tick() - Members silent for their session timeout are dropped, and
 * rebalances whose time is up end with the members that rejoined.
 * @d: the daemon
 */
void groups_tick(struct daemon *d)
{
	struct kgroup *g, **pp;
	struct kmember *m, *next;
	bool changed;

	for (pp = &d->groups; (g = *pp);) {
		changed = false;
		for (m = g->members; m; m = next) {
			next = m->next;
			if (m->join_conn || m->sync_conn ||
			    d->now_ms - m->last_seen <= (uint64_t)m->session_ms)
				continue;
			logmsg(d, "group %s: member %s timed out", g->id, m->id);
			member_remove(d, g, m);
			changed = true;
		}
		/* A leader that never sent the assignment: the rest rejoin. */
		if (g->state == G_AWAITING_SYNC && d->now_ms >= g->deadline &&
		    (m = member_find(g, &(struct kstr){ (const uint8_t *)g->leader,
						       (int32_t)strlen(g->leader) }))) {
			logmsg(d, "group %s: leader %s did not sync", g->id,
			       m->id);
			member_remove(d, g, m);
			changed = true;
		}
		if (changed)
			group_after_change(d, g);
		if (g->state == G_PREPARING && group_ready(d, g))
			group_complete_join(d, g, NULL, NULL);
		/* Nothing of an empty group is kept here: its offsets are mqdev's. */
		if (!g->members) {
			*pp = g->next;
			group_free(g);
			continue;
		}
		pp = &g->next;
	}
}

/*
 * A connection closed: its parked requests are no longer to be answered,
 * and the members it made that never had an assignment go (a client that
 * joins and leaves holds nothing for a session timeout); the others live
 * on their heartbeats, from another connection.
 */
void groups_conn_gone(struct daemon *d, struct conn *c)
{
	struct kmember *m, *next;
	struct kgroup *g;
	bool changed;

	for (g = d->groups; g; g = g->next) {
		changed = false;
		for (m = g->members; m; m = next) {
			next = m->next;
			if (m->join_conn == c)
				m->join_conn = NULL;
			if (m->sync_conn == c)
				m->sync_conn = NULL;
			if (m->owner != c)
				continue;
			if (m->synced) {
				m->owner = NULL;
				c->nmembers--;
				continue;
			}
			member_remove(d, g, m);
			changed = true;
		}
		if (changed)
			group_after_change(d, g);
	}
}

void groups_free(struct daemon *d)
{
	struct kgroup *g;

	while ((g = d->groups)) {
		d->groups = g->next;
		group_free(g);
	}
}

/* ---- offsets ---------------------------------------------------------- */

static int16_t commit_error(int err)
{
	switch (err) {
	case 0:
		return KERR_NONE;
	case -ENOENT:
	case -EINVAL:
		return KERR_UNKNOWN_TOPIC_OR_PARTITION;
	case -ERANGE:
		return KERR_OFFSET_OUT_OF_RANGE;
	case -EPERM:
	case -EACCES:
		return KERR_GROUP_AUTHORIZATION_FAILED;
	case -EBUSY:
		/* An mqdev group of that name has members of its own. */
		return KERR_GROUP_AUTHORIZATION_FAILED;
	default:
		return kafka_error(err);
	}
}

/*
 * Commit from outside the mqdev group (it has no members of its own); the
 * first commit creates it, which only a reset does.
 */
/*
 * @create: the mqdev group may be made for it (the daemon's, counted in its
 * user's group limit): a member's commit, or anyone's with
 * allow_simple_commit.
 */
static int group_commit(struct daemon *d, const char *group,
			const char *topic, int32_t p, int64_t offset,
			bool create)
{
	int err;

	err = mqdev_group_commit_offset(d->nl, group, topic, p, offset, NULL);
	if (err == -ENOENT && !create)
		return -EACCES;
	if (err == -ENOENT)
		err = mqdev_group_reset(d->nl, group, topic, p,
					MQDEV_SEEK_OFFSET, offset, false);
	return err;
}

int handle_offset_commit(struct daemon *d, struct conn *c,
			 const struct request *rq, struct kr *r, struct kw *w)
{
	char id[MQDEV_NAME_SIZE], topic[MQDEV_NAME_SIZE];
	struct kstr gid, member = { NULL, 0 }, name;
	int32_t generation = -1, nt, np, i, k, p;
	int16_t gerr = KERR_NONE, err;
	struct kmember *m;
	struct kgroup *g;
	int64_t offset;
	bool simple;
	int ret;

	gid = kr_str(r);
	if (rq->version >= 1) {
		generation = kr_i32(r);
		member = kr_str(r);
	}
	if (rq->version >= 7)
		kr_str(r);		/* group_instance_id */
	if (rq->version >= 2 && rq->version <= 4)
		kr_i64(r);		/* retention_time_ms */
	nt = kr_array(r, 6);
	if (r->err || nt < 0)
		return H_CLOSE;
	simple = generation < 0 && member.len <= 0;
	if (!kname(id, &gid)) {
		gerr = KERR_INVALID_GROUP_ID;
	} else if (generation >= 0 || member.len > 0) {
		gerr = member_check(d, &gid, generation, &member, true, &g, &m);
		if (gerr)
			logmsg(d, "commit %s generation %d: error %d", id,
			       generation, gerr);
	} else {
		g = group_find(d, id);
		/* A commit from outside the group, while it has members. */
		if (g && g->members)
			gerr = KERR_UNKNOWN_MEMBER_ID;
	}
	if (rq->version >= 3)
		kw_i32(w, 0);
	kw_i32(w, nt);
	for (i = 0; i < nt; i++) {
		name = kr_str(r);
		np = kr_array(r, 14);
		if (r->err || np < 0)
			return H_CLOSE;
		kw_strn(w, name.p, name.len);
		kw_i32(w, np);
		for (k = 0; k < np; k++) {
			p = kr_i32(r);
			offset = kr_i64(r);
			if (rq->version >= 6)
				kr_i32(r);	/* committed_leader_epoch */
			if (rq->version == 1)
				kr_i64(r);	/* commit_timestamp */
			kr_str(r);		/* metadata: not kept */
			if (r->err)
				return H_CLOSE;
			err = gerr;
			if (!err && !kname(topic, &name))
				err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
			if (!err && (offset < 0 || p < 0))
				err = KERR_OFFSET_OUT_OF_RANGE;
			if (!err) {
				ret = group_commit(d, id, topic, p, offset,
						   simple ?
						   d->cfg.allow_simple_commit :
						   true);
				if (ret)
					logmsg(d, "commit %s %s/%d at %lld: %s",
					       id, topic, p, (long long)offset,
					       mqdev_nl_error(d->nl));
				err = commit_error(ret);
			}
			kw_i32(w, p);
			kw_i16(w, err);
		}
	}
	return kr_left(r) ? H_CLOSE : H_DONE;
}

/* Committed offsets of one (topic, group), by partition; -1: none. */
struct committed {
	int64_t		off[MQDEV_MAX_PARTITIONS];
	uint32_t	nparts;
	bool		found;
};

static int committed_fn(void *ctx, const struct mqdev_group_info *info)
{
	struct committed *cm = ctx;
	uint32_t i, p;

	if (info->type == MQDEV_GROUP_TYPE_SHARE)	/* not Kafka's kind */
		return 0;
	cm->found = true;
	for (i = 0; i < info->nr_parts; i++) {
		p = info->part[i].partition;
		if (p < MQDEV_MAX_PARTITIONS && info->part[i].committed)
			cm->off[p] = (int64_t)info->part[i].position;
		if (p + 1 > cm->nparts)
			cm->nparts = p + 1;
	}
	return 0;
}

static void committed_get(struct daemon *d, const char *group,
			  const char *topic, struct committed *cm)
{
	uint32_t p;

	for (p = 0; p < MQDEV_MAX_PARTITIONS; p++)
		cm->off[p] = -1;
	cm->nparts = 0;
	cm->found = false;
	mqdev_group_get(d->nl, group, topic, committed_fn, cm);
}

static void offset_fetch_part(struct kw *w, int16_t version, int32_t p,
			      int64_t off, int16_t err)
{
	kw_i32(w, p);
	kw_i64(w, off);
	if (version >= 5)
		kw_i32(w, -1);		/* committed_leader_epoch */
	kw_str(w, "");			/* metadata: not kept */
	kw_i16(w, err);
}

/* Every topic the group committed in, for a null topic list. */
struct fetch_all {
	struct kw	*w;
	int16_t		version;
	int32_t		ntopics;
};

static int fetch_all_fn(void *ctx, const struct mqdev_group_info *info)
{
	struct fetch_all *fa = ctx;
	size_t at;
	uint32_t i;
	int32_t n = 0;

	if (info->type == MQDEV_GROUP_TYPE_SHARE)	/* not Kafka's kind */
		return 0;
	kw_str(fa->w, info->topic);
	at = fa->w->len;
	kw_i32(fa->w, 0);
	for (i = 0; i < info->nr_parts; i++) {
		if (!info->part[i].committed)
			continue;
		offset_fetch_part(fa->w, fa->version, info->part[i].partition,
				  (int64_t)info->part[i].position, KERR_NONE);
		n++;
	}
	kw_put_i32_at(fa->w, at, n);
	fa->ntopics++;
	return 0;
}

int handle_offset_fetch(struct daemon *d, struct conn *c,
			const struct request *rq, struct kr *r, struct kw *w)
{
	static struct committed cm;
	char id[MQDEV_NAME_SIZE], topic[MQDEV_NAME_SIZE];
	struct fetch_all fa = { w, rq->version, 0 };
	int32_t nt, np, i, k, p;
	int16_t gerr = KERR_NONE, err;
	struct kstr gid, name;
	size_t at;

	gid = kr_str(r);
	nt = kr_array(r, 6);
	if (r->err || (nt < 0 && rq->version < 2))
		return H_CLOSE;
	if (!kname(id, &gid))
		gerr = KERR_INVALID_GROUP_ID;
	if (rq->version >= 3)
		kw_i32(w, 0);
	if (nt < 0) {
		at = w->len;
		kw_i32(w, 0);
		if (!gerr)
			mqdev_group_get(d->nl, id, NULL, fetch_all_fn, &fa);
		kw_put_i32_at(w, at, fa.ntopics);
	} else {
		kw_i32(w, nt);
	}
	for (i = 0; i < nt; i++) {
		name = kr_str(r);
		np = kr_array(r, 4);
		if (r->err || np < 0)
			return H_CLOSE;
		kw_strn(w, name.p, name.len);
		kw_i32(w, np);
		err = gerr;
		if (!err && !kname(topic, &name))
			err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
		if (!err)
			committed_get(d, id, topic, &cm);
		for (k = 0; k < np; k++) {
			p = kr_i32(r);
			offset_fetch_part(w, rq->version, p,
					  !err && p >= 0 && p < MQDEV_MAX_PARTITIONS ?
					  cm.off[p] : -1, err);
		}
	}
	if (rq->version >= 2)
		kw_i16(w, gerr);
	return kr_left(r) || r->err ? H_CLOSE : H_DONE;
}

/* ---- ListGroups, DescribeGroups ------------------------------------------ */

struct list_groups {
	struct daemon	*d;
	struct kw	*w;
	int32_t		n;
	char		(*seen)[MQDEV_NAME_SIZE];
	uint32_t	nseen;
};

/* A group known only by its committed offsets in mqdev, once each. */
static int list_groups_fn(void *ctx, const struct mqdev_group_info *info)
{
	struct list_groups *lg = ctx;
	char (*seen)[MQDEV_NAME_SIZE];
	uint32_t i;

	if (info->type == MQDEV_GROUP_TYPE_SHARE)	/* not Kafka's kind */
		return 0;
	if (group_find(lg->d, info->group))
		return 0;
	for (i = 0; i < lg->nseen; i++)
		if (!strcmp(lg->seen[i], info->group))
			return 0;
	seen = realloc(lg->seen, (lg->nseen + 1) * sizeof(*seen));
	if (!seen)
		return -ENOMEM;
	lg->seen = seen;
	strcpy(lg->seen[lg->nseen++], info->group);
	kw_str(lg->w, info->group);
	kw_str(lg->w, "consumer");
	lg->n++;
	return 0;
}

/*
 * ListGroups v0-2: -> (v1+) throttle_time_ms, error_code, [group_id,
 * protocol_type]: the groups the coordinator holds, and those that live
 * only in mqdev's committed offsets (after a restart, or mqdev's own).
 */
int handle_list_groups(struct daemon *d, struct conn *c,
		       const struct request *rq, struct kr *r, struct kw *w)
{
	struct list_groups lg = { .d = d, .w = w };
	struct kgroup *g;
	size_t at;
	int err;

	if (kr_left(r))
		return H_CLOSE;
	if (rq->version >= 1)
		kw_i32(w, 0);			/* throttle_time_ms */
	at = w->len;
	kw_i16(w, KERR_NONE);
	kw_i32(w, 0);
	for (g = d->groups; g; g = g->next) {
		kw_str(w, g->id);
		kw_str(w, g->protocol_type[0] ? g->protocol_type : "consumer");
		lg.n++;
	}
	err = mqdev_group_get(d->nl, NULL, NULL, list_groups_fn, &lg);
	free(lg.seen);
	if (err)
		kw_put_i16_at(w, at, KERR_COORDINATOR_NOT_AVAILABLE);
	kw_put_i32_at(w, at + 2, lg.n);
	return H_DONE;
}

static const char *const group_states[] = {
	[G_EMPTY]		= "Empty",
	[G_PREPARING]		= "PreparingRebalance",
	[G_AWAITING_SYNC]	= "CompletingRebalance",
	[G_STABLE]		= "Stable",
};

static void describe_member(struct kw *w, int16_t version,
			    const struct kgroup *g, const struct kmember *m)
{
	const struct kproto *pr = member_proto(m, g->protocol);

	kw_str(w, m->id);
	if (version >= 4)
		kw_str(w, NULL);		/* group_instance_id */
	kw_str(w, m->client_id);
	kw_str(w, m->client_host);
	kw_bytes(w, pr ? pr->meta : NULL, pr ? pr->len : 0);
	kw_bytes(w, m->assignment, m->assignment_len);
}

static int group_known_fn(void *ctx, const struct mqdev_group_info *info)
{
	if (info->type == MQDEV_GROUP_TYPE_SHARE)	/* not Kafka's kind */
		return 0;
	*(bool *)ctx = true;
	return 0;
}

/*
 * One group of DescribeGroups: as Kafka, a group the coordinator does not
 * hold is "Empty" if it has committed offsets (in mqdev: after the daemon's
 * restart, or once its last member left), else "Dead", with no error.
 */
static void describe_group(struct daemon *d, struct kw *w, int16_t version,
			   const struct kstr *gid)
{
	char id[MQDEV_NAME_SIZE];
	struct kgroup *g = NULL;
	struct kmember *m;
	bool valid = kname(id, gid), known = false;

	if (valid)
		g = group_find(d, id);
	if (valid && !g)
		mqdev_group_get(d->nl, id, NULL, group_known_fn, &known);
	kw_i16(w, valid ? KERR_NONE : KERR_INVALID_GROUP_ID);
	kw_strn(w, gid->p, gid->len);
	kw_str(w, g ? group_states[g->state] : known ? "Empty" : "Dead");
	kw_str(w, g ? g->protocol_type : known ? "consumer" : "");
	kw_str(w, g && g->state == G_STABLE ? g->protocol : "");
	kw_i32(w, g ? (int32_t)g->nmembers : 0);
	for (m = g ? g->members : NULL; m; m = m->next)
		describe_member(w, version, g, m);
	if (version >= 3)
		kw_i32(w, INT32_MIN);		/* authorized_operations */
}

/*
 * DescribeGroups v0-4: [group_id], (v3+) include_authorized_operations ->
 * (v1+) throttle_time_ms, [error_code, group_id, state, protocol_type,
 * protocol, [member_id, (v4) group_instance_id, client_id, client_host,
 * metadata, assignment], (v3+) authorized_operations].
 */
int handle_describe_groups(struct daemon *d, struct conn *c,
			   const struct request *rq, struct kr *r,
			   struct kw *w)
{
	struct kstr *ids;
	int32_t n, i;

	n = kr_array(r, 2);
	if (r->err || n < 0)
		return H_CLOSE;
	ids = calloc(n ? n : 1, sizeof(*ids));
	if (!ids)
		return H_CLOSE;
	for (i = 0; i < n; i++)
		ids[i] = kr_str(r);
	if (rq->version >= 3)
		kr_i8(r);		/* include_authorized_operations */
	if (r->err || kr_left(r)) {
		free(ids);
		return H_CLOSE;
	}
	if (rq->version >= 1)
		kw_i32(w, 0);			/* throttle_time_ms */
	kw_i32(w, n);
	for (i = 0; i < n; i++)
		describe_group(d, w, rq->version, &ids[i]);
	free(ids);
	return H_DONE;
}
