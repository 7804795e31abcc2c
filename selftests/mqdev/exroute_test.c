// SPDX-License-Identifier: GPL-2.0
/*
 * Routing beyond binding keys: headers exchanges against a table of header
 * sets and bindings (all and any, missing headers, empty and null values,
 * repeated names), their bad input, a header block behind an expiry;
 * routing programs accepted, refused with a reason, out of range, routing
 * by the record key's first byte, and detached.
 */
#include <linux/filter.h>
#include "common.h"
#include "kselftest_harness.h"

static const char *xr_name(const char *test)
{
	static char name[MQDEV_NAME_MAX + 1];
	static unsigned int seq;

	snprintf(name, sizeof(name), "r%.30s-%d-%u", test, getpid(), seq++);
	return name;
}

static int xr_create(int fd, const char *name, uint32_t type)
{
	LIBMQDEV_OPTS(mqdev_exchange_opts, o, .type = type);

	return mqdev_exchange_create(fd, name, &o);
}

/*
 * "a=1,b=2": headers a and b; "c" alone: c with a null value; "e=": e
 * with an empty one; "" none.  Parsed in place of a copy in @buf.
 */
static unsigned int parse_set(const char *set, char *buf, size_t size,
			      struct mqdev_header *h)
{
	unsigned int n = 0;
	char *p, *eq, *save = NULL;

	snprintf(buf, size, "%s", set);
	for (p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		eq = strchr(p, '=');
		h[n].key = p;
		h[n].key_len = eq ? (uint32_t)(eq - p) : strlen(p);
		h[n].value = eq ? eq + 1 : NULL;
		h[n].value_len = eq ? (int32_t)strlen(eq + 1) : -1;
		if (eq)
			*eq = '\0';
		n++;
	}
	return n;
}

static int bind_headers(int fd, const char *ex, const char *topic,
			const char *set, uint32_t match, bool bind)
{
	struct mqdev_header h[16];
	char buf[256];
	LIBMQDEV_OPTS(mqdev_bind_opts, o, .headers = h, .match = match);

	o.nheaders = parse_set(set, buf, sizeof(buf), h);
	return bind ? mqdev_exchange_bind(fd, ex, topic, NULL, &o) :
		      mqdev_exchange_unbind(fd, ex, topic, NULL, &o);
}

/* One message with the headers of @set (NULL: no header block at all). */
static int send_headers(int pfd, const char *set)
{
	LIBMQDEV_OPTS(mqdev_exchange_send_opts, o);
	struct mqdev_exchange_ack acks[8];
	struct mqdev_header h[16];
	unsigned char value[512];
	char buf[256];
	int len = 0;

	if (set) {
		len = mqdev_headers_encode(value, sizeof(value), h,
					   parse_set(set, buf, sizeof(buf), h));
		if (len < 0)
			return len;
		o.record_flags = MQDEV_RECORD_HEADERS;
	}
	memcpy(value + len, "body", 4);
	return mqdev_exchange_send(pfd, "ignored", value, len + 4, &o, acks, 8);
}

/* A raw message: @value of @len with MQDEV_RECORD_HEADERS. */
static int send_raw(int pfd, const void *value, uint32_t len)
{
	LIBMQDEV_OPTS(mqdev_exchange_send_opts, o,
		      .record_flags = MQDEV_RECORD_HEADERS);
	struct mqdev_exchange_ack acks[8];

	return mqdev_exchange_send(pfd, "", value, len, &o, acks, 8);
}

struct headers_case {
	const char *binding;
	uint32_t match;
	const char *message;	/* NULL: a record without headers */
	int copies;		/* 1: it matches; 0: dropped (-ENOENT) */
};

#define ALL MQDEV_MATCH_ALL
#define ANY MQDEV_MATCH_ANY

static const struct headers_case hcases[] = {
	{ "a=1", ALL, "a=1", 1 },
	{ "a=1", ALL, "a=2", 0 },
	{ "a=1", ALL, NULL, 0 },
	{ "a=1", ALL, "", 0 },
	{ "a=1", ALL, "A=1", 0 },		/* names are bytes */
	{ "ab=1", ALL, "a=b1", 0 },		/* where a name ends counts */
	{ "a=1,b=2", ALL, "a=1", 0 },		/* a header missing */
	{ "a=1,b=2", ALL, "b=2,z=9,a=1", 1 },	/* any order, extras */
	{ "a=1,b=2", ANY, "b=2", 1 },
	{ "a=1,b=2", ANY, "c=3", 0 },
	{ "a=1,b=2", ANY, NULL, 0 },
	{ "c", ALL, "c=anything", 1 },		/* a null value: the name */
	{ "c", ALL, "c", 1 },
	{ "c", ALL, "c=", 1 },
	{ "c", ALL, "d=1", 0 },
	{ "e=", ALL, "e=", 1 },			/* empty is a value */
	{ "e=", ALL, "e", 0 },			/* and not a null one */
	{ "e=", ALL, "e=x", 0 },
	{ "e=x", ALL, "e", 0 },
	{ "", ALL, NULL, 1 },			/* all of none: every one */
	{ "", ALL, "x=1", 1 },
	{ "", ANY, "x=1", 0 },			/* any of none: none */
	{ "d=1,d=2", ALL, "d=2,d=1", 1 },	/* repeated names */
	{ "d=1,d=2", ALL, "d=1", 0 },
	{ "d=1,d=2", ANY, "d=2", 1 },
	{ "a=1", ALL, "a=2,a=1", 1 },		/* any one of the message's */
	{ "x-match=any", ALL, "x-match=any", 1 }, /* "x-" is not special */
};

FIXTURE(exroute) {
	int fd;
	char topic[MQDEV_NAME_SIZE];
};

FIXTURE_SETUP(exroute)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	if (!(mqdev_features(self->fd) & MQDEV_FEAT_ROUTE_PROGRAMS))
		SKIP(return, "no MQDEV_FEAT_ROUTE_PROGRAMS");
	snprintf(self->topic, sizeof(self->topic), "%s", topic_name("xr"));
	ASSERT_EQ(0, create_topic(self->fd, self->topic, 1, 0, 0));
}

FIXTURE_TEARDOWN(exroute)
{
	mqdev_topic_delete(self->fd, self->topic);
	close(self->fd);
}

TEST_F(exroute, headers_table)
{
	const struct headers_case *c;
	const char *ex;
	int pfd, got;

	for (c = hcases; c < hcases + ARRAY_SIZE(hcases); c++) {
		ex = xr_name("ht");
		ASSERT_EQ(0, xr_create(self->fd, ex, MQDEV_EXCHANGE_HEADERS));
		ASSERT_EQ(0, bind_headers(self->fd, ex, self->topic,
					  c->binding, c->match, true));
		pfd = ex_producer(ex);
		ASSERT_LE(0, pfd);
		got = send_headers(pfd, c->message);
		EXPECT_EQ(c->copies ? 1 : -ENOENT, got)
			TH_LOG("binding '%s' %s, message '%s'", c->binding,
			       c->match == ANY ? "any" : "all",
			       c->message ?: "(no headers)");
		close(pfd);
		ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
	}
}

/* Several bindings at once: each gets what it matches; describe shows them. */
TEST_F(exroute, headers_bindings)
{
	char t2[MQDEV_NAME_SIZE];
	struct mqdev_binding_info binds[4];
	struct mqdev_exchange_info info;
	const char *ex = strdup(xr_name("hb"));
	int pfd;

	snprintf(t2, sizeof(t2), "%s", topic_name("xr2"));
	ASSERT_EQ(0, create_topic(self->fd, t2, 1, 0, 0));
	ASSERT_EQ(0, xr_create(self->fd, ex, MQDEV_EXCHANGE_HEADERS));
	ASSERT_EQ(0, bind_headers(self->fd, ex, self->topic, "kind=order",
				  ALL, true));
	ASSERT_EQ(0, bind_headers(self->fd, ex, t2, "kind=order,eu", ANY,
				  true));
	/* the same topic with other headers is another binding */
	ASSERT_EQ(0, bind_headers(self->fd, ex, t2, "kind=refund", ALL, true));
	EXPECT_EQ(-EEXIST, bind_headers(self->fd, ex, t2, "kind=refund", ALL,
					true));
	pfd = ex_producer(ex);
	ASSERT_LE(0, pfd);
	EXPECT_EQ(2, send_headers(pfd, "kind=order"));
	EXPECT_EQ(1, send_headers(pfd, "eu=1"));
	EXPECT_EQ(1, send_headers(pfd, "kind=refund"));
	EXPECT_EQ(-ENOENT, send_headers(pfd, "kind=other"));

	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, ex, &info, binds, 4));
	EXPECT_EQ(MQDEV_EXCHANGE_HEADERS, info.type);
	ASSERT_EQ(3, info.bindings_count);
	EXPECT_EQ(1, info.dropped);
	EXPECT_EQ(ALL, binds[0].match);
	EXPECT_EQ(ANY, binds[1].match);
	EXPECT_EQ(1, binds[0].routed);
	EXPECT_EQ(2, binds[1].routed);
	EXPECT_EQ(1, binds[2].routed);
	/* count, then key_len 4, value_len 5, "kind", "order" */
	EXPECT_EQ(4 + 8 + 4 + 5, binds[0].headers_len);
	EXPECT_EQ(0, memcmp(binds[0].headers + 12, "kindorder", 9));

	/* unbinding names the headers and the match too */
	EXPECT_EQ(-ENOENT, bind_headers(self->fd, ex, t2, "kind=refund", ANY,
					false));
	EXPECT_EQ(-ENOENT, bind_headers(self->fd, ex, t2, "kind=refunds", ALL,
					false));
	EXPECT_EQ(0, bind_headers(self->fd, ex, t2, "kind=refund", ALL, false));
	EXPECT_EQ(-ENOENT, send_headers(pfd, "kind=refund"));
	close(pfd);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
	mqdev_topic_delete(self->fd, t2);
}

/*
 * A message of @hdrs whose value starts with an expiry at @expires
 * (MQDEV_RECORD_EXPIRES), then its header block, then "body".
 */
static int send_expiring(int pfd, const char *hdrs, uint64_t expires)
{
	LIBMQDEV_OPTS(mqdev_exchange_send_opts, o,
		      .record_flags = MQDEV_RECORD_EXPIRES |
				      MQDEV_RECORD_HEADERS);
	struct mqdev_exchange_ack acks[8];
	struct mqdev_header h[16];
	unsigned char value[512];
	char buf[256];
	int len;

	memcpy(value, &expires, sizeof(expires));
	len = mqdev_headers_encode(value + 8, sizeof(value) - 8, h,
				   parse_set(hdrs, buf, sizeof(buf), h));
	if (len < 0)
		return len;
	memcpy(value + 8 + len, "body", 4);
	return mqdev_exchange_send(pfd, "", value, 8 + len + 4, &o, acks, 8);
}

/*
 * A message with an expiry has its header block after it, as the record
 * has: a headers exchange matches the block there, and each copy keeps the
 * expiry, so that one expired is routed but never read.
 */
TEST_F(exroute, headers_after_expiry)
{
	char buf[4096];
	const struct mqdev_record *rec = (const void *)buf;
	const char *ex = xr_name("he");
	struct timespec ts;
	const void *body;
	uint64_t now, later;
	uint32_t len;
	int pfd, cfd;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	later = now + 3600000000000ULL;
	ASSERT_EQ(0, xr_create(self->fd, ex, MQDEV_EXCHANGE_HEADERS));
	ASSERT_EQ(0, bind_headers(self->fd, ex, self->topic, "kind=order",
				  ALL, true));
	pfd = ex_producer(ex);
	ASSERT_LE(0, pfd);
	EXPECT_EQ(1, send_expiring(pfd, "kind=order", now - 1));
	EXPECT_EQ(-ENOENT, send_expiring(pfd, "kind=refund", later));
	EXPECT_EQ(1, send_expiring(pfd, "a=1,kind=order", later));
	close(pfd);

	cfd = attach(self->topic, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, cfd);
	fcntl(cfd, F_SETFL, O_NONBLOCK);
	ASSERT_EQ(0, seek(cfd, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
	ASSERT_LT(0, read(cfd, buf, sizeof(buf)));
	/* the expired first copy is skipped: the second comes */
	EXPECT_EQ(1, rec->offset);
	EXPECT_EQ(MQDEV_RECORD_EXPIRES | MQDEV_RECORD_HEADERS, rec->flags);
	EXPECT_EQ(later, mqdev_record_expiry(rec));
	ASSERT_EQ(0, mqdev_record_payload(rec, &body, &len));
	ASSERT_EQ(4, len);
	EXPECT_EQ(0, memcmp(body, "body", 4));
	EXPECT_EQ(-1, read(cfd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	close(cfd);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
}

static int bind_raw(int fd, const char *ex, const char *topic,
		    const void *block, uint32_t len, uint32_t match)
{
	struct mqdev_exchange_bind req = {
		.headers = (uintptr_t)block,
		.headers_len = len,
		.match = match,
		.partition = MQDEV_PARTITION_ANY,
	};

	mqdev_name_set(req.exchange, ex);
	mqdev_name_set(req.topic, topic);
	return ioctl(fd, MQDEV_IOC_EXCHANGE_BIND, &req) ? -errno : 0;
}

TEST_F(exroute, headers_bad_input)
{
	/* count 2, one header of key "k" and value "v" */
	const uint32_t short_block[] = { 2, 1, 1, 0x7676 };
	unsigned char block[MQDEV_BIND_HEADERS_MAX + 8] = {};
	unsigned char *big;
	struct mqdev_header h = { "k", 1, 5000, NULL };
	const char *ex = strdup(xr_name("hbad"));
	const char *dx = strdup(xr_name("hdir"));
	struct mqdev_exchange_bind old = { .partition = MQDEV_PARTITION_ANY };
	uint32_t count = 1;
	int pfd;

	ASSERT_EQ(0, xr_create(self->fd, ex, MQDEV_EXCHANGE_HEADERS));
	ASSERT_EQ(0, xr_create(self->fd, dx, MQDEV_EXCHANGE_DIRECT));
	/* headers only for a headers exchange */
	EXPECT_EQ(-EINVAL, bind_headers(self->fd, dx, self->topic, "a=1", ALL,
					true));
	EXPECT_EQ(-EINVAL, bind_raw(self->fd, dx, self->topic, NULL, 0, ANY));
	/* malformed: short, count too big, bytes left over, too long */
	EXPECT_EQ(-EINVAL, bind_raw(self->fd, ex, self->topic, short_block,
				    sizeof(short_block), ALL));
	EXPECT_EQ(-EINVAL, bind_raw(self->fd, ex, self->topic, block, 3, ALL));
	memcpy(block, &count, 4);
	EXPECT_EQ(-EINVAL, bind_raw(self->fd, ex, self->topic, block, 8, ALL));
	count = 0;
	memcpy(block, &count, 4);
	EXPECT_EQ(-EINVAL, bind_raw(self->fd, ex, self->topic, block, 5, ALL));
	EXPECT_EQ(-EINVAL, bind_raw(self->fd, ex, self->topic, block,
				    MQDEV_BIND_HEADERS_MAX + 4, ALL));
	EXPECT_EQ(-EINVAL, bind_raw(self->fd, ex, self->topic, block, 4, 2));
	EXPECT_EQ(-EFAULT, bind_raw(self->fd, ex, self->topic, (void *)8, 4,
				    ALL));
	/* a well-formed empty block is fine */
	EXPECT_EQ(0, bind_raw(self->fd, ex, self->topic, block, 4, ALL));

	/* a bind struct of the first version still binds */
	mqdev_name_set(old.exchange, dx);
	mqdev_name_set(old.topic, self->topic);
	EXPECT_EQ(0, ioctl(self->fd, _IOC(_IOC_WRITE, MQDEV_IOC_MAGIC, 0x44,
					  MQDEV_BIND_SIZE_VER0), &old));

	/* messages: a block that is not well formed is refused, EINVAL */
	pfd = ex_producer(ex);
	ASSERT_LE(0, pfd);
	EXPECT_EQ(-EINVAL, send_raw(pfd, "ab", 2));
	EXPECT_EQ(-EINVAL, send_raw(pfd, short_block, sizeof(short_block)));
	count = 1000;
	memcpy(block, &count, 4);
	EXPECT_EQ(-EINVAL, send_raw(pfd, block, 64));
	/* one that ends past what a headers exchange reads: refused too */
	big = calloc(2, 8192);
	ASSERT_NE(NULL, big);
	h.value = big + 8192;	/* 5000 bytes of the second half */
	ASSERT_LT(0, mqdev_headers_encode(big, 8192, &h, 1));
	EXPECT_EQ(-EINVAL, send_raw(pfd, big, 8192));
	h.value_len = 4000;	/* but one within it routes */
	ASSERT_LT(0, mqdev_headers_encode(big, 8192, &h, 1));
	EXPECT_EQ(1, send_raw(pfd, big, 8192));
	free(big);
	close(pfd);
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, ex));
	ASSERT_EQ(0, mqdev_exchange_delete(self->fd, dx));
}

/* ---- routing programs --------------------------------------------------- */

#define CTX_RKEY	offsetof(struct mqdev_prog_ctx, routing_key)
#define CTX_KEY		offsetof(struct mqdev_prog_ctx, key)
#define CTX_VALUE	offsetof(struct mqdev_prog_ctx, value)
#define CTX_NR		offsetof(struct mqdev_prog_ctx, nr_bindings)

static int prog_attach(int fd, const char *ex, const struct sock_filter *insns,
		  uint32_t len, char *log)
{
	return mqdev_exchange_program(fd, ex, insns, len, log, 160);
}

static int send_key(int pfd, const char *rkey, const char *key,
		    struct mqdev_exchange_ack *acks)
{
	LIBMQDEV_OPTS(mqdev_exchange_send_opts, o, .key = key,
		      .key_len = key ? strlen(key) : 0);

	return mqdev_exchange_send(pfd, rkey, "value", 5, &o, acks, 8);
}

FIXTURE(prog) {
	int fd;
	const char *ex;
	char t[3][MQDEV_NAME_SIZE];
};

/* A direct exchange with bindings 0, 1, 2 to topics t[0..2], keys k0..k2. */
FIXTURE_SETUP(prog)
{
	char key[4];
	int i;

	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	if (!(mqdev_features(self->fd) & MQDEV_FEAT_ROUTE_PROGRAMS))
		SKIP(return, "no MQDEV_FEAT_ROUTE_PROGRAMS");
	self->ex = strdup(xr_name("prog"));
	ASSERT_EQ(0, xr_create(self->fd, self->ex, MQDEV_EXCHANGE_DIRECT));
	for (i = 0; i < 3; i++) {
		snprintf(self->t[i], MQDEV_NAME_SIZE, "%s", topic_name("pt"));
		snprintf(key, sizeof(key), "k%d", i);
		ASSERT_EQ(0, create_topic(self->fd, self->t[i], 1, 0, 0));
		ASSERT_EQ(0, mqdev_exchange_bind(self->fd, self->ex,
						 self->t[i], key, NULL));
	}
}

FIXTURE_TEARDOWN(prog)
{
	int i;

	mqdev_exchange_delete(self->fd, self->ex);
	for (i = 0; i < 3; i++)
		mqdev_topic_delete(self->fd, self->t[i]);
	close(self->fd);
}

/* Which of the three topics @acks (n of them) went to, as a bit set. */
static int topics_of(const char t[3][MQDEV_NAME_SIZE],
		     const struct mqdev_exchange_ack *acks, int n)
{
	int i, j, set = 0;

	for (i = 0; i < n; i++)
		for (j = 0; j < 3; j++)
			if (!strcmp(acks[i].topic, t[j]))
				set |= 1 << j;
	return set;
}

/* Route by the record key's first byte: binding (key[0] % bindings). */
TEST_F(prog, by_key_first_byte)
{
	const struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, CTX_NR),
		BPF_STMT(BPF_MISC | BPF_TAX, 0),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, CTX_KEY),
		BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 24),
		BPF_STMT(BPF_ALU | BPF_MOD | BPF_X, 0),
		BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, 1),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	struct mqdev_exchange_ack acks[8];
	struct mqdev_exchange_info info;
	char log[160];
	int pfd, i;

	ASSERT_EQ(0, prog_attach(self->fd, self->ex, insns, ARRAY_SIZE(insns), log))
		TH_LOG("%s", log);
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, self->ex, &info, NULL,
					     0));
	EXPECT_EQ(ARRAY_SIZE(insns), info.prog_len);
	pfd = ex_producer(self->ex);
	ASSERT_LE(0, pfd);
	/* '0' is 48: 48 % 3 = 0; '1' binding 1, '2' binding 2, 'c' (99) 0 */
	for (i = 0; i < 4; i++) {
		const char *key = (const char *[]){ "0x", "1", "2zz", "c" }[i];
		int want = (const int[]){ 1, 2, 4, 1 }[i];

		ASSERT_EQ(1, send_key(pfd, "k9", key, acks));
		EXPECT_EQ(want, topics_of(self->t, acks, 1)) TH_LOG("%s", key);
	}
	close(pfd);
}

/* The context: lengths in host order, bytes four at a time in network order. */
TEST_F(prog, context)
{
	/* binding (routing_key_len - 1), if the routing key starts "k" */
	const struct sock_filter by_len[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, CTX_RKEY),
		BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 24),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 'k', 1, 0),
		BPF_STMT(BPF_RET | BPF_K, MQDEV_ROUTE_NONE),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	/* binding 2 if the value starts "valu", and the length is 5 */
	const struct sock_filter by_value[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, CTX_VALUE),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x76616c75, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct mqdev_prog_ctx, value_len)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 5, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, MQDEV_ROUTE_TO(2)),
		BPF_STMT(BPF_RET | BPF_K, MQDEV_ROUTE_NONE),
	};
	struct mqdev_exchange_ack acks[8];
	char log[160];
	int pfd;

	ASSERT_EQ(0, prog_attach(self->fd, self->ex, by_len, ARRAY_SIZE(by_len),
			    log)) TH_LOG("%s", log);
	pfd = ex_producer(self->ex);
	ASSERT_LE(0, pfd);
	ASSERT_EQ(1, send_key(pfd, "k", NULL, acks));
	EXPECT_EQ(1, topics_of(self->t, acks, 1));
	ASSERT_EQ(1, send_key(pfd, "kxx", NULL, acks));
	EXPECT_EQ(4, topics_of(self->t, acks, 1));
	ASSERT_EQ(1, send_key(pfd, "k0", "x", acks));
	EXPECT_EQ(2, topics_of(self->t, acks, 1));
	EXPECT_EQ(-ENOENT, send_key(pfd, "x", NULL, acks));
	ASSERT_EQ(0, prog_attach(self->fd, self->ex, by_value, ARRAY_SIZE(by_value),
			    log)) TH_LOG("%s", log);
	ASSERT_EQ(1, send_key(pfd, "", NULL, acks));
	EXPECT_EQ(4, topics_of(self->t, acks, 1));
	close(pfd);
}

/* Masks, MATCH, NONE, and indices past the bindings. */
TEST_F(prog, verdicts)
{
	struct sock_filter ret[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
	struct mqdev_exchange_ack acks[8];
	struct mqdev_exchange_info info;
	char log[160];
	int pfd;

	pfd = ex_producer(self->ex);
	ASSERT_LE(0, pfd);
	ret[0].k = MQDEV_ROUTE_MASK(5);
	ASSERT_EQ(0, prog_attach(self->fd, self->ex, ret, 1, log));
	ASSERT_EQ(2, send_key(pfd, "zz", NULL, acks));
	EXPECT_EQ(5, topics_of(self->t, acks, 2));

	ret[0].k = MQDEV_ROUTE_MATCH;	/* the direct exchange's own rule */
	ASSERT_EQ(0, prog_attach(self->fd, self->ex, ret, 1, log));
	ASSERT_EQ(1, send_key(pfd, "k1", NULL, acks));
	EXPECT_EQ(2, topics_of(self->t, acks, 1));
	EXPECT_EQ(-ENOENT, send_key(pfd, "zz", NULL, acks));

	ret[0].k = MQDEV_ROUTE_NONE;
	ASSERT_EQ(0, prog_attach(self->fd, self->ex, ret, 1, log));
	EXPECT_EQ(-ENOENT, send_key(pfd, "k1", NULL, acks));

	/* past the bindings: counted, and routes nowhere */
	ret[0].k = MQDEV_ROUTE_TO(3);
	ASSERT_EQ(0, prog_attach(self->fd, self->ex, ret, 1, log));
	EXPECT_EQ(-ENOENT, send_key(pfd, "k1", NULL, acks));
	ret[0].k = 0x7fffffff;
	ASSERT_EQ(0, prog_attach(self->fd, self->ex, ret, 1, log));
	EXPECT_EQ(-ENOENT, send_key(pfd, "k1", NULL, acks));
	/* a mask with bits past them: those in range still route */
	ret[0].k = MQDEV_ROUTE_MASK(0x3ffffffe);
	ASSERT_EQ(0, prog_attach(self->fd, self->ex, ret, 1, log));
	ASSERT_EQ(2, send_key(pfd, "k1", NULL, acks));
	EXPECT_EQ(6, topics_of(self->t, acks, 2));
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, self->ex, &info, NULL,
					     0));
	EXPECT_EQ(3, info.prog_out_of_range);
	EXPECT_EQ(4, info.dropped);

	/* an unbind moves the later bindings down */
	ret[0].k = MQDEV_ROUTE_TO(1);
	ASSERT_EQ(0, prog_attach(self->fd, self->ex, ret, 1, log));
	ASSERT_EQ(1, send_key(pfd, "", NULL, acks));
	EXPECT_EQ(2, topics_of(self->t, acks, 1));
	ASSERT_EQ(0, mqdev_exchange_unbind(self->fd, self->ex, self->t[0],
					   "k0", NULL));
	ASSERT_EQ(1, send_key(pfd, "", NULL, acks));
	EXPECT_EQ(4, topics_of(self->t, acks, 1));
	close(pfd);
}

TEST_F(prog, detach)
{
	const struct sock_filter ret[] = {
		BPF_STMT(BPF_RET | BPF_K, MQDEV_ROUTE_TO(0))
	};
	struct mqdev_exchange_ack acks[8];
	struct mqdev_exchange_info info;
	char log[160];
	int pfd;

	pfd = ex_producer(self->ex);
	ASSERT_LE(0, pfd);
	ASSERT_EQ(0, prog_attach(self->fd, self->ex, ret, 1, log));
	ASSERT_EQ(1, send_key(pfd, "k2", NULL, acks));
	EXPECT_EQ(1, topics_of(self->t, acks, 1));
	ASSERT_EQ(0, mqdev_exchange_program(self->fd, self->ex, NULL, 0,
					    NULL, 0));
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, self->ex, &info, NULL,
					     0));
	EXPECT_EQ(0, info.prog_len);
	ASSERT_EQ(1, send_key(pfd, "k2", NULL, acks));
	EXPECT_EQ(4, topics_of(self->t, acks, 1));
	/* detaching none is no error */
	EXPECT_EQ(0, mqdev_exchange_program(self->fd, self->ex, NULL, 0,
					    NULL, 0));
	close(pfd);
}

struct refusal {
	struct sock_filter insns[3];
	uint32_t len;
	const char *why;	/* in the log */
};

static const struct refusal refusals[] = {
	{ { BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 32),
	    BPF_STMT(BPF_RET | BPF_A, 0) }, 2, "instruction 0: a packet load" },
	{ { BPF_STMT(BPF_LD | BPF_W | BPF_IND, 0),
	    BPF_STMT(BPF_RET | BPF_A, 0) }, 2, "instruction 0: a packet load" },
	{ { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2),
	    BPF_STMT(BPF_RET | BPF_A, 0) }, 2, "instruction 0: a load outside" },
	{ { BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		     sizeof(struct mqdev_prog_ctx)),
	    BPF_STMT(BPF_RET | BPF_A, 0) }, 2, "instruction 0: a load outside" },
	{ { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0x80000000u),
	    BPF_STMT(BPF_RET | BPF_A, 0) }, 2, "instruction 0: a load outside" },
	{ { BPF_STMT(BPF_LD | BPF_IMM, 1),
	    BPF_JUMP(BPF_JMP | BPF_JA, 5, 0, 0),
	    BPF_STMT(BPF_RET | BPF_A, 0) }, 3, "instruction 1: a jump past" },
	{ { BPF_STMT(BPF_LD | BPF_IMM, 1),
	    BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0),
	    BPF_STMT(BPF_RET | BPF_A, 0) }, 3, "instruction 1: a division" },
	{ { BPF_STMT(BPF_LD | BPF_IMM, 1) }, 1, "the last must return" },
	{ { BPF_STMT(0xffff, 0), BPF_STMT(BPF_RET | BPF_A, 0) }, 2,
	  "instruction 0: an opcode" },
	{ { BPF_STMT(BPF_LD | BPF_MEM, 3), BPF_STMT(BPF_RET | BPF_A, 0) }, 2,
	  "classic BPF checker" },
	{ { BPF_STMT(BPF_RET | BPF_A, 0) }, 0, "0 instructions" },
};

TEST_F(prog, refused)
{
	static struct sock_filter many[MQDEV_PROG_MAX_INSNS + 1];
	struct mqdev_exchange_program req = { .flags = 2 };
	const struct refusal *r;
	char log[160];
	int i;

	for (r = refusals; r < refusals + ARRAY_SIZE(refusals); r++) {
		memset(log, 'x', sizeof(log));
		EXPECT_EQ(-EINVAL, mqdev_exchange_program(self->fd, self->ex,
							  r->insns, r->len,
							  log, sizeof(log)));
		EXPECT_NE(NULL, strstr(log, r->why))
			TH_LOG("want '%s', got '%s'", r->why, log);
	}
	for (i = 0; i < MQDEV_PROG_MAX_INSNS + 1; i++)
		many[i] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
	EXPECT_EQ(-EINVAL, mqdev_exchange_program(self->fd, self->ex, many,
						  MQDEV_PROG_MAX_INSNS + 1,
						  log, sizeof(log)));
	EXPECT_NE(NULL, strstr(log, "1025 instructions")) TH_LOG("%s", log);
	/* as many as may be is fine */
	EXPECT_EQ(0, mqdev_exchange_program(self->fd, self->ex, many,
					    MQDEV_PROG_MAX_INSNS, NULL, 0));
	/* a log cut short is still a string */
	memset(log, 'x', sizeof(log));
	EXPECT_EQ(-EINVAL, mqdev_exchange_program(self->fd, self->ex,
						  refusals[0].insns, 2, log, 8));
	EXPECT_EQ(7, strlen(log));
	/* bad requests */
	mqdev_name_set(req.name, self->ex);
	EXPECT_EQ(-1, ioctl(self->fd, MQDEV_IOC_EXCHANGE_PROGRAM, &req));
	EXPECT_EQ(EINVAL, errno);
	req.flags = MQDEV_PROG_DETACH;
	req.len = 1;
	EXPECT_EQ(-1, ioctl(self->fd, MQDEV_IOC_EXCHANGE_PROGRAM, &req));
	EXPECT_EQ(EINVAL, errno);
	req.len = 0;
	req.reserved = 1;
	EXPECT_EQ(-1, ioctl(self->fd, MQDEV_IOC_EXCHANGE_PROGRAM, &req));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EFAULT, mqdev_exchange_program(self->fd, self->ex,
						  (void *)8, 2, NULL, 0));
	EXPECT_EQ(-ENOENT, mqdev_exchange_program(self->fd, "no-such-exchange",
						  refusals[0].insns, 1, NULL,
						  0));
}

/* Write permission on the exchange, as binding; another user has none. */
TEST_F(prog, permission)
{
	const struct sock_filter ret[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
	pid_t pid;
	int status;

	if (geteuid())
		SKIP(return, "needs root to become another user");
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int fd;

		if (setresuid(65534, 65534, 65534))
			_exit(2);
		fd = mqdev_open();
		_exit(mqdev_exchange_program(fd, self->ex, ret, 1, NULL, 0) ==
		      -EACCES ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_HARNESS_MAIN
