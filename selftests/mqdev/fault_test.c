// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection, the way syzkaller does it: every ioctl of /dev/mq and
 * every request of the "mqdev" generic netlink family is run with the Nth
 * fault injection point its thread reaches made to fail, for N = 1, 2, 3...
 * until the call gets past all of them without reaching the Nth.  The points
 * are the allocations: slab ones through failslab, pages through
 * fail_page_alloc.
 *
 * After every injected fault the call must either have failed cleanly, with
 * an errno an allocation failure may give and nothing changed (no topic,
 * record, group, member, session, binding or transaction half made, and the
 * handle as able to go on as before), or, when the kernel got around the
 * failure, have done all it should.  Then the state is set up again for the
 * next N.
 *
 * /proc/thread-self/fail-nth (Documentation/fault-injection/
 * fault-injection.rst): writing N makes the Nth should_fail() of this task
 * fail, whatever the probability, interval, times and task-filter of the
 * debugfs attributes say; reading it gives what is left of N: 0 once the
 * fault was injected.  The filters of each capability still apply first, so
 * an allocation that may sleep (GFP_KERNEL) fails only with ignore-gfp-wait
 * N, and a single page only with fail_page_alloc's min-order 0.
 *
 * Needs CONFIG_FAULT_INJECTION, CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC and
 * CONFIG_FAULT_INJECTION_DEBUG_FS (make check-debug's kernel), and root;
 * every test skips elsewhere.
 */
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/time.h>
#include "common.h"
#include "kselftest_harness.h"

#define PARTS		6	/* more than MQDEV_IOC_WAIT keeps on its stack */
#define CAP		65536
#define RECS		3	/* records in every partition to begin with */
#define SMALL_PARTS	2	/* the topic TOPIC_CREATE makes */
#define SMALL_CAP	16384
#define MAX_NTH		2000	/* injection points one call may reach */
#define TIMEOUT		1200	/* seconds for one test: KASAN under TCG */
#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define DEBUGFS		"/sys/kernel/debug"

/* ---- the debugfs attributes, set for the whole run ------------------------ */

struct knob {
	const char	*path;		/* under DEBUGFS */
	const char	*value;		/* what the test needs */
	char		saved[32];
	bool		changed;
};

static struct knob knobs[] = {
	/* allocations that may sleep are most of them: fail those too */
	{ "failslab/ignore-gfp-wait", "N" },
	{ "failslab/cache-filter", "N" },
	/*
	 * No "FAULT_INJECTION: forcing a failure" line, and above all no
	 * stack dump (the default, 2): the VM runner fails on "Call Trace:".
	 */
	{ "failslab/verbose", "0" },
	{ "fail_page_alloc/ignore-gfp-wait", "N" },
	{ "fail_page_alloc/ignore-gfp-highmem", "N" },
	/* single pages too: the default is order 1 and up */
	{ "fail_page_alloc/min-order", "0" },
	{ "fail_page_alloc/verbose", "0" },
};

static char fault_skip[160];	/* why the tests skip; empty: they run */
static pid_t fault_owner;	/* the process that set the knobs */
static bool debugfs_mounted;

static int knob_read(const char *path, char *buf, size_t size)
{
	char full[128];
	ssize_t n;
	int fd;

	snprintf(full, sizeof(full), DEBUGFS "/%s", path);
	fd = open(full, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int knob_write(const char *path, const char *value)
{
	size_t len = strlen(value);
	char full[128];
	int fd, err = 0;

	snprintf(full, sizeof(full), DEBUGFS "/%s", path);
	fd = open(full, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, value, len) != (ssize_t)len)
		err = -errno;
	close(fd);
	return err;
}

static void __attribute__((destructor)) inject_restore(void)
{
	int i;

	if (!fault_owner || getpid() != fault_owner)
		return;
	for (i = ARRAY_SIZE(knobs) - 1; i >= 0; i--)
		if (knobs[i].changed &&
		    !knob_write(knobs[i].path, knobs[i].saved))
			knobs[i].changed = false;
	if (debugfs_mounted && !umount(DEBUGFS))
		debugfs_mounted = false;
	fault_owner = 0;
}

/* Once, in the process that runs the tests, before any of them. */
static void __attribute__((constructor)) inject_setup(void)
{
	size_t i;
	int err;

	if (access(FAIL_NTH, F_OK)) {
		snprintf(fault_skip, sizeof(fault_skip),
			 "no %s: a kernel without CONFIG_FAULT_INJECTION",
			 FAIL_NTH);
		return;
	}
	if (geteuid()) {
		snprintf(fault_skip, sizeof(fault_skip),
			 "setting up fault injection needs root");
		return;
	}
	fault_owner = getpid();
	if (access(DEBUGFS "/failslab", F_OK) &&
	    !mount("debugfs", DEBUGFS, "debugfs", 0, NULL))
		debugfs_mounted = true;
	if (access(DEBUGFS "/failslab", F_OK) ||
	    access(DEBUGFS "/fail_page_alloc", F_OK)) {
		snprintf(fault_skip, sizeof(fault_skip),
			 "no failslab and fail_page_alloc in %s (CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC, CONFIG_FAULT_INJECTION_DEBUG_FS)",
			 DEBUGFS);
		inject_restore();
		return;
	}
	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		err = knob_read(knobs[i].path, knobs[i].saved,
				sizeof(knobs[i].saved));
		if (!err && strcmp(knobs[i].saved, knobs[i].value)) {
			err = knob_write(knobs[i].path, knobs[i].value);
			knobs[i].changed = !err;
		}
		if (err) {
			snprintf(fault_skip, sizeof(fault_skip),
				 "cannot set %s/%s to %s: %s", DEBUGFS,
				 knobs[i].path, knobs[i].value, strerror(-err));
			inject_restore();
			return;
		}
	}
}

/* ---- fail-nth --------------------------------------------------------------- */

static int nth_write(int fd, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(fd, buf, len, 0) == len ? 0 : -errno;
}

/* Disarm: 1 if the fault was injected, 0 if not, or -errno. */
static int nth_disarm(int fd)
{
	char buf[16] = "";
	unsigned long left;
	ssize_t n;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return n ? -errno : -EIO;
	left = strtoul(buf, NULL, 10);
	if (nth_write(fd, 0))
		return -errno;
	return !left;
}

/*
 * Nothing between the write of fail-nth and the end of the call may fault a
 * page in: the fault would take the injected failure (or copy_from_user()
 * would, and fail with EFAULT).  So every page is made present and locked
 * first, the stack to well below where the calls reach included.
 */
static void stack_prefault(void)
{
	char buf[256 * 1024];

	memset(buf, 0, sizeof(buf));
	/* the compiler may not leave out what it thinks nobody reads */
	__asm__ __volatile__("" : : "r"(buf) : "memory");
}

/* ---- helpers ---------------------------------------------------------------- */

static char why_buf[512];

/* What went wrong, for the log; NULL stands for nothing. */
static const char *why(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static const char *why(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why_buf, sizeof(why_buf), fmt, ap);
	va_end(ap);
	return why_buf;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* A handle attached to @name in @mode that does not block; or -errno. */
static int handle(const char *name, uint32_t mode)
{
	int fd = attach(name, mode, NULL), err;

	if (fd >= 0 && fcntl(fd, F_SETFL, O_NONBLOCK)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int dev_open(void)
{
	int fd = open(MQDEV_DEVICE, O_RDWR | O_CLOEXEC | O_NONBLOCK);

	return fd < 0 ? -errno : fd;
}

/* The next offset of every partition of @name, and their sum; or -errno. */
static long next_offsets(int fd, const char *name, uint64_t *next)
{
	struct mqdev_partition_info parts[PARTS];
	struct mqdev_topic_info info;
	long sum = 0;
	int err, p;

	err = mqdev_topic_describe(fd, name, &info, parts, PARTS);
	if (err)
		return err;
	for (p = 0; p < PARTS; p++) {
		next[p] = parts[p].next_offset;
		sum += next[p];
	}
	return sum;
}

struct reading {
	int		records;
	int		committed;	/* marked MQDEV_RECORD_COMMITTED */
	int		aborted;	/* marked MQDEV_RECORD_ABORTED */
	uint64_t	first;		/* offset of the first record */
};

static int count_records(const char *buf, ssize_t n, struct reading *r)
{
	const struct mqdev_record *rec;
	ssize_t off;

	for (off = 0; off + (ssize_t)sizeof(*rec) <= n;
	     off += MQDEV_RECORD_SPACE(rec->len)) {
		rec = (const struct mqdev_record *)(buf + off);
		if (rec->len < sizeof(*rec))
			return -EPROTO;
		if (!r->records++)
			r->first = rec->offset;
		r->committed += !!(rec->flags & MQDEV_RECORD_COMMITTED);
		r->aborted += !!(rec->flags & MQDEV_RECORD_ABORTED);
	}
	return 0;
}

/* Read what @fd has ready, without waiting. */
static int read_ready(int fd, struct reading *r)
{
	static char buf[16384];
	ssize_t n;
	int err;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (!n)
			return 0;
		err = count_records(buf, n, r);
		if (err)
			return err;
	}
}

/* What a new reader of @part from @offset gets now, by read(2). */
static int read_from(const char *name, uint32_t part, uint64_t offset,
		     struct reading *r)
{
	int fd, err;

	memset(r, 0, sizeof(*r));
	fd = handle(name, MQDEV_ATTACH_CONSUME);
	if (fd < 0)
		return fd;
	err = seek(fd, part, MQDEV_SEEK_OFFSET, &offset, 0);
	if (!err)
		err = read_ready(fd, r);
	close(fd);
	return err;
}

/* A topic that works: every partition takes a record and gives it back. */
static const char *topic_works(const char *name, uint32_t parts)
{
	struct reading r = {};
	uint32_t p;
	int fd, ret;

	fd = handle(name, MQDEV_ATTACH_PRODUCE | MQDEV_ATTACH_CONSUME);
	if (fd < 0)
		return why("ATTACH: %s", strerror(-fd));
	for (p = 0; p < parts; p++) {
		ret = produce_one(fd, p, NULL, 0, "x", 1, NULL);
		if (ret != (int)p) {
			close(fd);
			return why("PRODUCE to partition %u: %d", p, ret);
		}
	}
	ret = seek(fd, MQDEV_PARTITION_ALL, MQDEV_SEEK_EARLIEST, NULL, 0);
	if (!ret)
		ret = read_ready(fd, &r);
	close(fd);
	if (ret)
		return why("reading it: %s", strerror(-ret));
	if (r.records != (int)parts)
		return why("%d records read back of the %u produced",
			   r.records, parts);
	return NULL;
}

/* ---- generic netlink ------------------------------------------------------------ */

static char nl_buf[1 << 17];		/* a dump needs 64 KiB at least */
static char nl_req_buf[4096];

static struct mnl_socket *nl_open(void)
{
	struct timeval tv = { .tv_sec = 10 };
	struct mnl_socket *nl = mnl_socket_open(NETLINK_GENERIC);
	int one = 1;

	if (!nl)
		return NULL;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(nl);
		return NULL;
	}
	mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv,
		   sizeof(tv));
	return nl;
}

static void nl_close(struct mnl_socket **nl)
{
	if (*nl)
		mnl_socket_close(*nl);
	*nl = NULL;
}

static struct nlmsghdr *nl_start(uint16_t family, uint8_t cmd, uint16_t flags)
{
	static uint32_t seq;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl_req_buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = family;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++seq;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = family == GENL_ID_CTRL ? 1 : MQDEV_GENL_VERSION;
	return nlh;
}

/*
 * Send @nlh and hand every answer to @fn until the ack or the end of the
 * dump: 0, or the request's -errno.  A receive that fails means an answer
 * was lost (the kernel could not allocate it): then *@lost is set, and what
 * the request did is unknown.  No library allocates anything in here.
 */
static int nl_talk(struct mnl_socket *nl, struct nlmsghdr *nlh,
		   int (*fn)(const struct nlmsghdr *nlh, void *ctx), void *ctx,
		   bool *lost)
{
	uint32_t seq = nlh->nlmsg_seq;
	const struct nlmsgerr *e;
	ssize_t len;
	int n, err;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		len = mnl_socket_recvfrom(nl, nl_buf, sizeof(nl_buf));
		if (len < 0) {
			if (errno == EAGAIN)
				return -ETIME;	/* no answer at all */
			if (lost)
				*lost = true;
			return -errno;
		}
		n = len;
		for (nlh = (struct nlmsghdr *)nl_buf; mnl_nlmsg_ok(nlh, n);
		     nlh = mnl_nlmsg_next(nlh, &n)) {
			if (nlh->nlmsg_seq != seq)
				continue;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				e = mnl_nlmsg_get_payload(nlh);
				return e->error;
			}
			if (nlh->nlmsg_type == NLMSG_DONE)
				return *(const int *)mnl_nlmsg_get_payload(nlh);
			if (fn) {
				err = fn(nlh, ctx);
				if (err)
					return err;
			}
		}
	}
}

static int family_cb(const struct nlmsghdr *nlh, void *ctx)
{
	const struct nlattr *a;
	int *id = ctx;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID)
			*id = mnl_attr_get_u16(a);
	return 0;
}

static int nl_family(void)
{
	struct mnl_socket *nl = nl_open();
	struct nlmsghdr *nlh;
	int id = -1, err;

	if (!nl)
		return -errno;
	nlh = nl_start(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, NLM_F_ACK);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, MQDEV_GENL_NAME);
	err = nl_talk(nl, nlh, family_cb, &id, NULL);
	mnl_socket_close(nl);
	return err ?: id;
}

/* A consumer group as MQDEV_CMD_GROUP_GET describes it. */
struct group_view {
	char		group[MQDEV_NAME_SIZE];
	uint32_t	generation;
	uint32_t	members;	/* MQDEV_A_MEMBERS */
	uint32_t	nr_members;	/* MQDEV_A_MEMBER nests */
	uint32_t	nr_parts;
	uint64_t	pos[PARTS];
	bool		committed[PARTS];
	bool		owned[PARTS];
};

struct groups_view {
	int			n;
	bool			bad;	/* something did not parse */
	struct group_view	g[8];
};

static void part_parse(const struct nlattr *nest, struct group_view *g,
		       bool *bad)
{
	uint32_t index = UINT32_MAX;
	bool committed = false, owned = false;
	const struct nlattr *a;
	uint64_t pos = 0;

	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case MQDEV_PART_A_INDEX:
			index = mnl_attr_get_u32(a);
			break;
		case MQDEV_PART_A_POSITION:
			pos = mnl_attr_get_u64(a);
			break;
		case MQDEV_PART_A_COMMITTED:
			committed = true;
			break;
		case MQDEV_PART_A_OWNER:
			owned = true;
			break;
		}
	}
	if (index >= PARTS) {
		*bad = true;
		return;
	}
	g->pos[index] = pos;
	g->committed[index] = committed;
	g->owned[index] = owned;
	g->nr_parts++;
}

static int group_cb(const struct nlmsghdr *nlh, void *ctx)
{
	struct groups_view *v = ctx;
	const struct nlattr *a;
	struct group_view *g;

	if (v->n == ARRAY_SIZE(v->g)) {
		v->bad = true;
		return 0;
	}
	g = &v->g[v->n++];
	memset(g, 0, sizeof(*g));
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(a)) {
		case MQDEV_A_GROUP:
			snprintf(g->group, sizeof(g->group), "%s",
				 mnl_attr_get_str(a));
			break;
		case MQDEV_A_GENERATION:
			g->generation = mnl_attr_get_u32(a);
			break;
		case MQDEV_A_MEMBERS:
			g->members = mnl_attr_get_u32(a);
			break;
		case MQDEV_A_MEMBER:
			g->nr_members++;
			break;
		case MQDEV_A_PART:
			part_parse(a, g, &v->bad);
			break;
		}
	}
	return 0;
}

static struct nlmsghdr *group_get_msg(int family, const char *group,
				      const char *topic)
{
	struct nlmsghdr *nlh = nl_start(family, MQDEV_CMD_GROUP_GET,
					NLM_F_DUMP);

	if (group)
		mnl_attr_put_strz(nlh, MQDEV_A_GROUP, group);
	if (topic)
		mnl_attr_put_strz(nlh, MQDEV_A_TOPIC, topic);
	return nlh;
}

/* The groups of @topic (only @group, unless NULL), on a socket of its own. */
static int groups_get(int family, const char *topic, const char *group,
		      struct groups_view *v)
{
	struct mnl_socket *nl = nl_open();
	int err;

	memset(v, 0, sizeof(*v));
	if (!nl)
		return -errno;
	err = nl_talk(nl, group_get_msg(family, group, topic), group_cb, v,
		      NULL);
	mnl_socket_close(nl);
	if (!err && v->bad)
		err = -EPROTO;
	return err;
}

/* The one group @group of @topic; -ENOENT if there is none. */
static int group_get(int family, const char *topic, const char *group,
		     struct group_view *g)
{
	struct groups_view v;
	int err = groups_get(family, topic, group, &v);

	if (err)
		return err;
	if (v.n != 1)
		return v.n ? -EPROTO : -ENOENT;
	*g = v.g[0];
	return 0;
}

/* A change requested on a socket of its own; 0 or -errno. */
static int nl_change(struct nlmsghdr *nlh)
{
	struct mnl_socket *nl = nl_open();
	int err;

	if (!nl)
		return -errno;
	err = nl_talk(nl, nlh, NULL, NULL, NULL);
	mnl_socket_close(nl);
	return err;
}

static struct nlmsghdr *group_msg(int family, uint8_t cmd, const char *group,
				  const char *topic)
{
	struct nlmsghdr *nlh = nl_start(family, cmd, NLM_F_ACK);

	mnl_attr_put_strz(nlh, MQDEV_A_GROUP, group);
	mnl_attr_put_strz(nlh, MQDEV_A_TOPIC, topic);
	return nlh;
}

static int group_delete(int family, const char *topic, const char *group)
{
	return nl_change(group_msg(family, MQDEV_CMD_GROUP_DELETE, group,
				   topic));
}

/* Make @group of @topic, with no members, at the earliest records. */
static int group_make(int family, const char *topic, const char *group)
{
	struct nlmsghdr *nlh = group_msg(family, MQDEV_CMD_GROUP_RESET, group,
					 topic);

	mnl_attr_put_u32(nlh, MQDEV_A_RESET, MQDEV_SEEK_EARLIEST);
	return nl_change(nlh);
}

/* ---- the fixture ------------------------------------------------------------- */

struct saved_param {
	char		name[32];
	unsigned long	value;
};

FIXTURE(fault) {
	int			fd;		/* topic administration */
	int			prod;		/* produces to the topic */
	int			family;		/* of "mqdev" */
	int			nth;		/* /proc/thread-self/fail-nth */
	char			name[MQDEV_NAME_SIZE];	/* PARTS partitions */
	char			scratch[MQDEV_NAME_SIZE];	/* made, deleted */
	char			group[MQDEV_NAME_SIZE];
	char			producer[MQDEV_NAME_SIZE];
	struct saved_param	params[8];	/* module parameters changed */
	int			nr_params;
	bool			user;		/* running as USER_UID */

	/* what the attempts work with */
	int			attempt;
	bool			ok;		/* the call did it */
	bool			lost;		/* a netlink answer was lost */
	struct mnl_socket	*nl;		/* a new one for each request */
	struct mnl_socket	*checker;
	int			h, h2, cons, member, sess, sess0;
	uint32_t		mode, flags, op, generation, epoch;
	int			count;
	long			sum;
	uint64_t		next[PARTS];
	uint64_t		value, txn_id, producer_id;
	uint32_t		seqs[PARTS];
	struct mqdev_msg	msgs[3];
	uint64_t		batch[32];
	uint32_t		batch_len;
	struct mqdev_produce_batch batch_req;
	struct mqdev_topic_list	list_req;
	char			list[16][MQDEV_NAME_SIZE];
	struct mqdev_partition_info parts[PARTS];
	struct mqdev_topic_info	info;
	struct mqdev_version	version;
	struct mqdev_group_join	join;
	struct mqdev_group_start starts[PARTS];
	struct mqdev_group_assignment assignment;
	struct mqdev_producer_init init;
	struct mqdev_seek	seek_req;
	struct mqdev_txn	txn;
	struct groups_view	view;
	struct group_view	before;
};

FIXTURE_SETUP(fault)
{
	int *fds[] = {
		&self->fd, &self->prod, &self->nth, &self->h, &self->h2,
		&self->cons, &self->member, &self->sess, &self->sess0,
	};
	size_t k;
	int p, i;

	for (k = 0; k < ARRAY_SIZE(fds); k++)
		*fds[k] = -1;
	if (fault_skip[0])
		SKIP(return, "%s", fault_skip);

	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	mqdev_name_set(self->name, topic_name("fault"));
	mqdev_name_set(self->scratch, topic_name("fault-scratch"));
	snprintf(self->group, sizeof(self->group), "fault-%d", getpid());
	snprintf(self->producer, sizeof(self->producer), "fault-%d",
		 getpid());
	ASSERT_EQ(0, create_topic(self->fd, self->name, PARTS, CAP, 0));
	self->prod = handle(self->name, MQDEV_ATTACH_PRODUCE);
	ASSERT_LE(0, self->prod);
	for (p = 0; p < PARTS; p++)
		for (i = 0; i < RECS; i++)
			ASSERT_EQ(p, produce_one(self->prod, p, NULL, 0, "seed",
						 4, NULL));
	self->family = nl_family();
	ASSERT_LT(0, self->family);

	self->nth = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->nth);
	stack_prefault();
	ASSERT_EQ(0, mlockall(MCL_CURRENT | MCL_FUTURE));
}

FIXTURE_TEARDOWN(fault)
{
	if (self->user && (seteuid(0) || setegid(0)))
		TH_LOG("cannot become root again: %s", strerror(errno));
	if (self->nth >= 0)
		nth_write(self->nth, 0);
	close_fd(&self->nth);
	while (self->nr_params-- > 0)
		set_param(self->params[self->nr_params].name,
			  self->params[self->nr_params].value);
	close_fd(&self->h);
	close_fd(&self->h2);
	close_fd(&self->cons);
	close_fd(&self->member);
	close_fd(&self->sess);
	close_fd(&self->sess0);
	close_fd(&self->prod);
	nl_close(&self->nl);
	nl_close(&self->checker);
	if (self->fd >= 0) {
		mqdev_topic_delete(self->fd, self->scratch);
		mqdev_topic_delete(self->fd, self->name);
	}
	close_fd(&self->fd);
}

/* Set module parameter @name for this test; the teardown puts it back. */
static int param_override(FIXTURE_DATA(fault) *self, const char *name,
			  unsigned long value)
{
	struct saved_param *p = &self->params[self->nr_params];
	char path[128];

	snprintf(path, sizeof(path), "/sys/module/mqdev/parameters/%s", name);
	if (access(path, W_OK))
		return -errno;
	if (self->nr_params == ARRAY_SIZE(self->params))
		return -ENOSPC;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->value = get_param(name);
	self->nr_params++;
	return set_param(name, value);
}

/* ---- the loop ------------------------------------------------------------------- */

/*
 * One call under fault injection.  Every function but call() runs with no
 * fault armed; those returning a string return NULL when all is well.
 */
struct fcase {
	const char	*name;
	/* The state the call starts from, made again before every attempt. */
	const char	*(*prepare)(FIXTURE_DATA(fault) *self);
	/* The call: what the ioctl returned, or -errno. */
	long		(*call)(FIXTURE_DATA(fault) *self);
	/* What it returns when it works (0, a count, -ETIMEDOUT...). */
	long		expect;
	/* It failed (returned @ret): nothing changed.  May follow it up. */
	const char	*(*unchanged)(FIXTURE_DATA(fault) *self, long ret);
	/* It worked: it did all of it.  Only looks, for netlink calls. */
	const char	*(*done)(FIXTURE_DATA(fault) *self);
	/* Back to where prepare() starts from; self->ok says how it went. */
	const char	*(*cleanup)(FIXTURE_DATA(fault) *self);
	/* A netlink request: on a socket of its own, ENOBUFS allowed. */
	bool		netlink;
	/* PRODUCE: some messages appended, then the failure (a count). */
	bool		partial;
};

/* The errors an allocation failure may give. */
static bool errno_ok(const struct fcase *c, long ret)
{
	if (ret == -ENOMEM)
		return true;
	/* netlink_sendmsg() and lost answers, and dumps cut short */
	return c->netlink && ret == -ENOBUFS;
}

static const char *judge_failure(FIXTURE_DATA(fault) *self,
				 const struct fcase *c, long ret)
{
	const char *bad;

	if (ret > 0 && !c->partial)
		return why("returned %ld, expected %ld or an error", ret,
			   c->expect);
	if (ret < 0 && !errno_ok(c, ret))
		return why("failed with %s (%ld), not an allocation failure's error",
			   strerror(-ret), ret);
	if (!c->unchanged)
		return NULL;
	bad = c->unchanged(self, ret);
	/*
	 * The ack could not be allocated: the request may have been done.
	 * Then all of it must have been.
	 */
	if (bad && self->lost && c->done && !c->done(self))
		bad = NULL;
	return bad;
}

static void run_case(struct __test_metadata *_metadata,
		     FIXTURE_DATA(fault) *self, const struct fcase *c)
{
	int n, injected, failed = 0, absorbed = 0, problems = 0;
	const char *bad;
	long ret;

	for (n = 1; n <= MAX_NTH; n++) {
		self->attempt = n;
		self->lost = false;
		bad = c->prepare ? c->prepare(self) : NULL;
		ASSERT_TRUE(!bad) {
			TH_LOG("%s: setting up for fault %d: %s", c->name, n,
			       bad);
		}
		if (c->netlink) {
			self->nl = nl_open();
			ASSERT_NE(NULL, self->nl);
		}

		ASSERT_EQ(0, nth_write(self->nth, n));
		ret = c->call(self);
		injected = nth_disarm(self->nth);
		ASSERT_LE(0, injected);

		self->ok = ret == c->expect;
		if (!injected) {
			/* It got past all n - 1 points without the nth. */
			EXPECT_EQ(c->expect, ret) {
				TH_LOG("%s: fault %d not reached, it returned %ld (%s)",
				       c->name, n, ret,
				       ret < 0 ? strerror(-ret) : "");
			}
			bad = self->ok && c->done ? c->done(self) : NULL;
			EXPECT_TRUE(!bad) {
				TH_LOG("%s: with no fault injected: %s",
				       c->name, bad);
			}
		} else if (self->ok) {
			absorbed++;
			bad = c->done ? c->done(self) : NULL;
			EXPECT_TRUE(!bad) {
				TH_LOG("%s: fault %d injected, the call succeeded, but %s",
				       c->name, n, bad);
			}
		} else {
			failed++;
			bad = judge_failure(self, c, ret);
			EXPECT_TRUE(!bad) {
				TH_LOG("%s: fault %d injected, it returned %ld%s: %s",
				       c->name, n, ret,
				       self->lost ? " (answer lost)" : "",
				       bad);
			}
		}
		problems += !!bad;
		nl_close(&self->nl);
		bad = c->cleanup ? c->cleanup(self) : NULL;
		ASSERT_TRUE(!bad) {
			TH_LOG("%s: after fault %d: %s", c->name, n, bad);
		}
		if (!injected)
			break;
	}
	ASSERT_GE(MAX_NTH, n) {
		TH_LOG("%s: still failing after %d injected faults", c->name,
		       MAX_NTH);
	}
	TH_LOG("%s: %d injection points: %d failed cleanly, %d absorbed, %d with problems",
	       c->name, n - 1, failed, absorbed, problems);
}

/* ---- TOPIC_CREATE, TOPIC_DELETE, TOPIC_LIST, TOPIC_DESCRIBE ------------------ */

static const char *create_prepare(FIXTURE_DATA(fault) *self)
{
	self->count = topic_count(self->fd);
	return self->count < 0 ? why("TOPIC_LIST: %d", self->count) : NULL;
}

static long create_call(FIXTURE_DATA(fault) *self)
{
	struct mqdev_topic_create req = {
		.capacity = SMALL_CAP, .partitions = SMALL_PARTS,
	};

	memcpy(req.name, self->scratch, sizeof(req.name));
	return xioctl(self->fd, MQDEV_IOC_TOPIC_CREATE, &req);
}

static const char *topic_absent(FIXTURE_DATA(fault) *self, int count)
{
	struct mqdev_topic_info info;
	int n = topic_count(self->fd), err;

	if (n != count)
		return why("TOPIC_LIST counts %d topics, expected %d", n,
			   count);
	err = mqdev_topic_describe(self->fd, self->scratch, &info, NULL, 0);
	if (err != -ENOENT)
		return why("TOPIC_DESCRIBE of it: %d, expected ENOENT", err);
	return NULL;
}

static const char *create_unchanged(FIXTURE_DATA(fault) *self, long ret)
{
	return topic_absent(self, self->count);
}

static const char *create_done(FIXTURE_DATA(fault) *self)
{
	int n = topic_count(self->fd);

	if (n != self->count + 1)
		return why("TOPIC_LIST counts %d topics, expected %d", n,
			   self->count + 1);
	return topic_works(self->scratch, SMALL_PARTS);
}

static const char *scratch_delete(FIXTURE_DATA(fault) *self)
{
	int err = mqdev_topic_delete(self->fd, self->scratch);

	return err && err != -ENOENT ? why("TOPIC_DELETE: %d", err) : NULL;
}

static const struct fcase topic_create_case = {
	.name = "TOPIC_CREATE", .prepare = create_prepare,
	.call = create_call, .unchanged = create_unchanged,
	.done = create_done, .cleanup = scratch_delete,
};

TEST_F_TIMEOUT(fault, topic_create, TIMEOUT)
{
	const struct fcase *c = &topic_create_case;

	/* One topic more than there are: a leaked one would show. */
	if (param_override(self, "max_topics", topic_count(self->fd) + 1))
		TH_LOG("max_topics not set: a leaked count will not show");
	run_case(_metadata, self, c);
}

static const char *delete_prepare(FIXTURE_DATA(fault) *self)
{
	int err = create_topic(self->fd, self->scratch, SMALL_PARTS,
			       SMALL_CAP, 0);

	if (err)
		return why("TOPIC_CREATE: %d", err);
	return create_prepare(self);
}

static long delete_call(FIXTURE_DATA(fault) *self)
{
	struct mqdev_topic_id req = {};

	memcpy(req.name, self->scratch, sizeof(req.name));
	return xioctl(self->fd, MQDEV_IOC_TOPIC_DELETE, &req);
}

static const char *delete_unchanged(FIXTURE_DATA(fault) *self, long ret)
{
	int n = topic_count(self->fd);

	if (n != self->count)
		return why("TOPIC_LIST counts %d topics, expected %d", n,
			   self->count);
	return topic_works(self->scratch, SMALL_PARTS);
}

static const char *delete_done(FIXTURE_DATA(fault) *self)
{
	return topic_absent(self, self->count - 1);
}

TEST_F_TIMEOUT(fault, topic_delete, TIMEOUT)
{
	static const struct fcase c = {
		.name = "TOPIC_DELETE", .prepare = delete_prepare,
		.call = delete_call, .unchanged = delete_unchanged,
		.done = delete_done, .cleanup = scratch_delete,
	};

	run_case(_metadata, self, &c);
}

static const char *list_prepare(FIXTURE_DATA(fault) *self)
{
	memset(self->list, 0, sizeof(self->list));
	memset(&self->list_req, 0, sizeof(self->list_req));
	self->list_req.names = (uintptr_t)self->list;
	self->list_req.count = ARRAY_SIZE(self->list);
	return create_prepare(self);
}

static long list_call(FIXTURE_DATA(fault) *self)
{
	return xioctl(self->fd, MQDEV_IOC_TOPIC_LIST, &self->list_req);
}

static const char *list_unchanged(FIXTURE_DATA(fault) *self, long ret)
{
	if (self->list_req.count != ARRAY_SIZE(self->list))
		return why("a failed TOPIC_LIST wrote a count, %u",
			   self->list_req.count);
	return NULL;
}

static const char *list_done(FIXTURE_DATA(fault) *self)
{
	uint32_t i;

	if (self->list_req.count != (uint32_t)self->count)
		return why("%u topics listed, there are %d",
			   self->list_req.count, self->count);
	for (i = 0; i < self->list_req.count && i < ARRAY_SIZE(self->list);
	     i++)
		if (!memcmp(self->list[i], self->name, MQDEV_NAME_SIZE))
			return NULL;
	return why("the topic is not in the list");
}

TEST_F_TIMEOUT(fault, topic_list, TIMEOUT)
{
	static const struct fcase c = {
		.name = "TOPIC_LIST", .prepare = list_prepare,
		.call = list_call, .unchanged = list_unchanged,
		.done = list_done,
	};

	run_case(_metadata, self, &c);
}

static const char *describe_prepare(FIXTURE_DATA(fault) *self)
{
	memset(&self->info, 0, sizeof(self->info));
	memcpy(self->info.name, self->name, sizeof(self->info.name));
	self->info.parts = (uintptr_t)self->parts;
	self->info.parts_count = PARTS;
	self->info.part_info_size = sizeof(self->parts[0]);
	memset(self->parts, 0xa5, sizeof(self->parts));
	return NULL;
}

static long describe_call(FIXTURE_DATA(fault) *self)
{
	return xioctl(self->fd, MQDEV_IOC_TOPIC_DESCRIBE, &self->info);
}

static const char *describe_done(FIXTURE_DATA(fault) *self)
{
	int p;

	if (self->info.partitions != PARTS || self->info.capacity != CAP)
		return why("%u partitions of %llu bytes, expected %d of %d",
			   self->info.partitions,
			   (unsigned long long)self->info.capacity, PARTS, CAP);
	for (p = 0; p < PARTS; p++)
		if (self->parts[p].next_offset != RECS ||
		    self->parts[p].first_offset)
			return why("partition %d: offsets %llu to %llu, expected 0 to %d",
				   p,
				   (unsigned long long)self->parts[p].first_offset,
				   (unsigned long long)self->parts[p].next_offset,
				   RECS);
	return NULL;
}

TEST_F_TIMEOUT(fault, topic_describe, TIMEOUT)
{
	static const struct fcase c = {
		.name = "TOPIC_DESCRIBE", .prepare = describe_prepare,
		.call = describe_call, .done = describe_done,
	};

	run_case(_metadata, self, &c);
}

static long version_call(FIXTURE_DATA(fault) *self)
{
	memset(&self->version, 0, sizeof(self->version));
	return xioctl(self->fd, MQDEV_IOC_VERSION, &self->version);
}

static const char *version_done(FIXTURE_DATA(fault) *self)
{
	const __u64 want = MQDEV_FEAT_GROUPS | MQDEV_FEAT_TXN;

	if (self->version.api != MQDEV_API_VERSION ||
	    (self->version.features & want) != want)
		return why("API %u with features %#llx", self->version.api,
			   (unsigned long long)self->version.features);
	return NULL;
}

TEST_F_TIMEOUT(fault, version, TIMEOUT)
{
	static const struct fcase c = {
		.name = "VERSION", .call = version_call, .done = version_done,
	};

	run_case(_metadata, self, &c);
}

/* ---- ATTACH -------------------------------------------------------------------- */

static const char *attach_prepare(FIXTURE_DATA(fault) *self)
{
	self->h = dev_open();
	self->h2 = dev_open();
	if (self->h < 0 || self->h2 < 0)
		return why("open: %s", strerror(errno));
	return NULL;
}

static long attach_fd(int fd, const char *name, uint32_t mode)
{
	struct mqdev_attach req = { .flags = mode };

	memcpy(req.name, name, sizeof(req.name));
	return xioctl(fd, MQDEV_IOC_ATTACH, &req);
}

static long attach_call(FIXTURE_DATA(fault) *self)
{
	return attach_fd(self->h, self->name, self->mode);
}

/* The handle does all that @mode allows. */
static const char *attach_works(FIXTURE_DATA(fault) *self, int fd,
				uint32_t mode)
{
	struct reading r = {};
	int ret;

	if (mode & MQDEV_ATTACH_PRODUCE) {
		ret = produce_one(fd, 1, NULL, 0, "a", 1, NULL);
		if (ret != 1)
			return why("PRODUCE through it: %d", ret);
	}
	if (mode & MQDEV_ATTACH_CONSUME) {
		ret = seek(fd, MQDEV_PARTITION_ALL, MQDEV_SEEK_EARLIEST, NULL,
			   0);
		if (!ret)
			ret = read_ready(fd, &r);
		if (ret)
			return why("reading through it: %s", strerror(-ret));
		if (r.records < PARTS * RECS)
			return why("%d records read through it, expected %d or more",
				   r.records, PARTS * RECS);
	}
	return NULL;
}

/*
 * The handle is as it was: not attached, and it attaches again.  As the
 * known bug goes: a consuming ATTACH that failed allocating the reader's
 * state left its freed pointers in the handle, a producing ATTACH then
 * worked, and close() freed them again.  So: attach to produce only, and
 * close.  On the other handle, the same attach again.
 */
static const char *attach_unchanged(FIXTURE_DATA(fault) *self, long ret)
{
	const char *bad;
	long err;

	err = produce_one(self->h, 0, NULL, 0, "a", 1, NULL);
	if (err != -EBADFD)
		return why("PRODUCE on the handle: %ld, expected EBADFD (not attached)",
			   err);
	err = attach_fd(self->h, self->name, MQDEV_ATTACH_PRODUCE);
	if (err)
		return why("ATTACH to produce, after: %s", strerror(-err));
	bad = attach_works(self, self->h, MQDEV_ATTACH_PRODUCE);
	if (bad)
		return bad;
	close_fd(&self->h);

	err = attach_fd(self->h2, self->name, self->mode);
	if (err)
		return why("ATTACH again on another handle: %s",
			   strerror(-err));
	bad = attach_works(self, self->h2, self->mode);
	close_fd(&self->h2);
	return bad;
}

static const char *attach_done(FIXTURE_DATA(fault) *self)
{
	return attach_works(self, self->h, self->mode);
}

static const char *attach_cleanup(FIXTURE_DATA(fault) *self)
{
	close_fd(&self->h);
	close_fd(&self->h2);
	return NULL;
}

static void attach_case(struct __test_metadata *_metadata,
			FIXTURE_DATA(fault) *self, const char *name,
			uint32_t mode)
{
	const struct fcase c = {
		.name = name, .prepare = attach_prepare,
		.call = attach_call, .unchanged = attach_unchanged,
		.done = attach_done, .cleanup = attach_cleanup,
	};

	self->mode = mode;
	run_case(_metadata, self, &c);
}

TEST_F_TIMEOUT(fault, attach_produce, TIMEOUT)
{
	attach_case(_metadata, self, "ATTACH produce", MQDEV_ATTACH_PRODUCE);
}

TEST_F_TIMEOUT(fault, attach_consume, TIMEOUT)
{
	attach_case(_metadata, self, "ATTACH consume", MQDEV_ATTACH_CONSUME);
}

TEST_F_TIMEOUT(fault, attach_both, TIMEOUT)
{
	attach_case(_metadata, self, "ATTACH produce+consume",
		    MQDEV_ATTACH_PRODUCE | MQDEV_ATTACH_CONSUME);
}

/* ---- PRODUCE, PRODUCE_BATCH ----------------------------------------------------- */

static const char *offsets_prepare(FIXTURE_DATA(fault) *self)
{
	self->sum = next_offsets(self->fd, self->name, self->next);
	return self->sum < 0 ? why("TOPIC_DESCRIBE: %ld", self->sum) : NULL;
}

static const char *produce_prepare_msgs(FIXTURE_DATA(fault) *self,
					bool keyed)
{
	static const char *const keys[] = { "alpha", "beta", "gamma" };
	static const char *const values[] = { "one", "two", "three" };
	int i;

	for (i = 0; i < 3; i++)
		mqdev_msg_init(&self->msgs[i], keyed ? keys[i] : NULL,
			       keyed ? strlen(keys[i]) : 0, values[i],
			       strlen(values[i]), MQDEV_PARTITION_ANY);
	return offsets_prepare(self);
}

static const char *produce_prepare(FIXTURE_DATA(fault) *self)
{
	return produce_prepare_msgs(self, false);
}

static const char *produce_keyed_prepare(FIXTURE_DATA(fault) *self)
{
	return produce_prepare_msgs(self, true);
}

static long produce_msgs(int fd, struct mqdev_msg *msgs, uint32_t count)
{
	struct mqdev_produce req = {
		.msgs = (uintptr_t)msgs, .count = count,
		.msg_size = sizeof(*msgs),
	};
	int n = ioctl(fd, MQDEV_IOC_PRODUCE, &req);

	return n < 0 ? -errno : n;
}

static long produce_call(FIXTURE_DATA(fault) *self)
{
	return produce_msgs(self->prod, self->msgs, 3);
}

/*
 * Exactly the first @appended messages went in, each where its ack says:
 * between the next offsets before and after.
 */
static const char *appended(FIXTURE_DATA(fault) *self, long appended)
{
	uint64_t now[PARTS];
	struct mqdev_msg *m;
	long sum, i;

	sum = next_offsets(self->fd, self->name, now);
	if (sum < 0)
		return why("TOPIC_DESCRIBE: %ld", sum);
	if (sum - self->sum != appended)
		return why("%ld records went in, the call says %ld",
			   sum - self->sum, appended);
	for (i = 0; i < appended; i++) {
		m = &self->msgs[i];
		if (m->partition >= PARTS || m->offset < self->next[m->partition] ||
		    m->offset >= now[m->partition])
			return why("message %ld acknowledged at %u:%llu, not among the new records",
				   i, m->partition,
				   (unsigned long long)m->offset);
		if (m->status & MQDEV_MSG_DUPLICATE)
			return why("message %ld acknowledged as a duplicate",
				   i);
	}
	return NULL;
}

static const char *produce_unchanged(FIXTURE_DATA(fault) *self, long ret)
{
	return appended(self, ret > 0 ? ret : 0);
}

static const char *produce_done(FIXTURE_DATA(fault) *self)
{
	const char *bad = appended(self, 3);
	int i;

	if (bad)
		return bad;
	/* one batch without keys: one partition, the sticky one */
	for (i = 1; i < 3; i++)
		if (self->msgs[i].partition != self->msgs[0].partition ||
		    self->msgs[i].offset != self->msgs[0].offset + i)
			return why("message %d at %u:%llu, not after the first at %u:%llu",
				   i, self->msgs[i].partition,
				   (unsigned long long)self->msgs[i].offset,
				   self->msgs[0].partition,
				   (unsigned long long)self->msgs[0].offset);
	return NULL;
}

TEST_F_TIMEOUT(fault, produce_unkeyed, TIMEOUT)
{
	static const struct fcase c = {
		.name = "PRODUCE unkeyed", .prepare = produce_prepare,
		.call = produce_call, .expect = 3, .partial = true,
		.unchanged = produce_unchanged, .done = produce_done,
	};

	run_case(_metadata, self, &c);
}

static const char *produce_keyed_done(FIXTURE_DATA(fault) *self)
{
	const char *bad = appended(self, 3);
	const struct mqdev_msg *m;
	uint32_t want;
	int i;

	for (i = 0; i < 3 && !bad; i++) {
		m = &self->msgs[i];
		want = mqdev_partition_for_key((const void *)(uintptr_t)m->key,
					       m->key_len, PARTS);
		if (m->partition != want)
			bad = why("key %d went to partition %u, its hash says %u",
				  i, m->partition, want);
	}
	return bad;
}

TEST_F_TIMEOUT(fault, produce_keyed, TIMEOUT)
{
	static const struct fcase c = {
		.name = "PRODUCE keyed", .prepare = produce_keyed_prepare,
		.call = produce_call, .expect = 3, .partial = true,
		.unchanged = produce_unchanged, .done = produce_keyed_done,
	};

	run_case(_metadata, self, &c);
}

static const char *batch_prepare(FIXTURE_DATA(fault) *self)
{
	static const char *const values[] = { "first", "second", "third" };
	struct mqdev_record *rec;
	uint32_t off = 0;
	int i;

	memset(self->batch, 0, sizeof(self->batch));
	for (i = 0; i < 3; i++) {
		rec = (struct mqdev_record *)((char *)self->batch + off);
		rec->len = sizeof(*rec) + strlen(values[i]);
		memcpy(rec + 1, values[i], strlen(values[i]));
		off += MQDEV_RECORD_SPACE(rec->len);
	}
	self->batch_len = off;
	memset(&self->batch_req, 0, sizeof(self->batch_req));
	self->batch_req.records = (uintptr_t)self->batch;
	self->batch_req.len = off;
	self->batch_req.partition = 2;
	return offsets_prepare(self);
}

static long batch_call(FIXTURE_DATA(fault) *self)
{
	return xioctl(self->prod, MQDEV_IOC_PRODUCE_BATCH, &self->batch_req);
}

static const char *batch_unchanged(FIXTURE_DATA(fault) *self, long ret)
{
	return appended(self, 0);
}

static const char *batch_done(FIXTURE_DATA(fault) *self)
{
	uint64_t now[PARTS];
	long sum = next_offsets(self->fd, self->name, now);

	if (sum - self->sum != 3 || now[2] != self->next[2] + 3)
		return why("%ld records appended, %llu to partition 2; expected 3",
			   sum - self->sum,
			   (unsigned long long)(now[2] - self->next[2]));
	if (self->batch_req.count != 3 ||
	    self->batch_req.base_offset != self->next[2])
		return why("acknowledged %u records from %llu, expected 3 from %llu",
			   self->batch_req.count,
			   (unsigned long long)self->batch_req.base_offset,
			   (unsigned long long)self->next[2]);
	return NULL;
}

TEST_F_TIMEOUT(fault, produce_batch, TIMEOUT)
{
	static const struct fcase c = {
		.name = "PRODUCE_BATCH", .prepare = batch_prepare,
		.call = batch_call, .unchanged = batch_unchanged,
		.done = batch_done,
	};

	run_case(_metadata, self, &c);
}

/* ---- WAIT, SEEK, WAKEUP ------------------------------------------------------- */

static const char *cons_prepare(FIXTURE_DATA(fault) *self)
{
	int err;

	if (self->cons < 0) {
		self->cons = handle(self->name, MQDEV_ATTACH_CONSUME);
		if (self->cons < 0)
			return why("ATTACH: %s", strerror(-self->cons));
	}
	err = seek(self->cons, MQDEV_PARTITION_ALL, MQDEV_SEEK_LATEST, NULL, 0);
	return err ? why("SEEK: %s", strerror(-err)) : NULL;
}

/* Nothing is ready: WAIT sleeps (entries allocated for 6 partitions). */
static long wait_call(FIXTURE_DATA(fault) *self)
{
	struct mqdev_wait req = { .timeout_ns = 1000000, .min_bytes = 1 };

	return xioctl(self->cons, MQDEV_IOC_WAIT, &req);
}

static const char *wait_unchanged(FIXTURE_DATA(fault) *self, long ret)
{
	struct mqdev_wait req = { .timeout_ns = 0 };
	int err = xioctl(self->cons, MQDEV_IOC_WAIT, &req);

	return err != -ETIMEDOUT ?
	       why("WAIT again, with nothing ready: %d, expected ETIMEDOUT", err) :
	       NULL;
}

TEST_F_TIMEOUT(fault, wait, TIMEOUT)
{
	static const struct fcase c = {
		.name = "WAIT", .prepare = cons_prepare, .call = wait_call,
		.expect = -ETIMEDOUT, .unchanged = wait_unchanged,
	};

	run_case(_metadata, self, &c);
}

static const char *seek_prepare(FIXTURE_DATA(fault) *self)
{
	const char *bad = cons_prepare(self);

	memset(&self->seek_req, 0, sizeof(self->seek_req));
	self->seek_req.partition = MQDEV_PARTITION_ALL;
	self->seek_req.whence = MQDEV_SEEK_EARLIEST;
	self->seek_req.flags = self->flags;
	return bad;
}

static long seek_call(FIXTURE_DATA(fault) *self)
{
	return xioctl(self->cons, MQDEV_IOC_SEEK, &self->seek_req);
}

static const char *seek_done(FIXTURE_DATA(fault) *self)
{
	struct reading r = {};
	int err = read_ready(self->cons, &r);

	if (err)
		return why("reading: %s", strerror(-err));
	if (r.records != PARTS * RECS || r.first)
		return why("%d records read from %llu, expected %d from 0",
			   r.records, (unsigned long long)r.first,
			   PARTS * RECS);
	return NULL;
}

static const char *seek_unchanged(FIXTURE_DATA(fault) *self, long ret)
{
	/* a seek may have moved some partitions: it must work again */
	int err = seek_call(self);

	return err ? why("SEEK again: %s", strerror(-err)) : seek_done(self);
}

TEST_F_TIMEOUT(fault, seek, TIMEOUT)
{
	static const struct fcase c = {
		.name = "SEEK", .prepare = seek_prepare, .call = seek_call,
		.unchanged = seek_unchanged, .done = seek_done,
	};

	self->flags = 0;
	run_case(_metadata, self, &c);
}

TEST_F_TIMEOUT(fault, seek_hold, TIMEOUT)
{
	static const struct fcase c = {
		.name = "SEEK hold", .prepare = seek_prepare,
		.call = seek_call, .unchanged = seek_unchanged,
		.done = seek_done,
	};

	self->flags = MQDEV_SEEK_HOLD;
	run_case(_metadata, self, &c);
}

static long wakeup_call(FIXTURE_DATA(fault) *self)
{
	struct mqdev_wakeup req = { .partition = MQDEV_PARTITION_ALL };

	return xioctl(self->cons, MQDEV_IOC_WAKEUP, &req);
}

TEST_F_TIMEOUT(fault, wakeup, TIMEOUT)
{
	static const struct fcase c = {
		.name = "WAKEUP", .prepare = cons_prepare,
		.call = wakeup_call,
	};

	run_case(_metadata, self, &c);
}

/* ---- GROUP_JOIN, GROUP_ASSIGNMENT, GROUP_COMMIT ------------------------------- */

static long join_fd(int fd, const char *group, struct mqdev_group_join *req)
{
	memset(req, 0, sizeof(*req));
	mqdev_name_set(req->group, group);
	req->reset = MQDEV_SEEK_EARLIEST;
	return xioctl(fd, MQDEV_IOC_GROUP_JOIN, req);
}

static long assignment_of(int fd, struct mqdev_group_assignment *req,
			  struct mqdev_group_start *starts)
{
	memset(req, 0, sizeof(*req));
	req->starts = (uintptr_t)starts;
	req->starts_count = PARTS;
	return xioctl(fd, MQDEV_IOC_GROUP_ASSIGNMENT, req);
}

/* A member of the group on its own, owning every partition. */
static const char *member_prepare(FIXTURE_DATA(fault) *self)
{
	struct mqdev_group_join join;
	long err;

	if (self->member >= 0)
		return NULL;
	self->member = handle(self->name, MQDEV_ATTACH_CONSUME);
	if (self->member < 0)
		return why("ATTACH: %s", strerror(-self->member));
	err = join_fd(self->member, self->group, &join);
	return err ? why("GROUP_JOIN: %s", strerror(-err)) : NULL;
}

static const char *join_new_prepare(FIXTURE_DATA(fault) *self)
{
	int err = group_delete(self->family, self->name, self->group);

	if (err && err != -ENOENT)
		return why("GROUP_DELETE: %d", err);
	self->h = handle(self->name, MQDEV_ATTACH_CONSUME);
	return self->h < 0 ? why("ATTACH: %s", strerror(-self->h)) : NULL;
}

static long join_call(FIXTURE_DATA(fault) *self)
{
	return join_fd(self->h, self->group, &self->join);
}

static const char *not_member(FIXTURE_DATA(fault) *self)
{
	long err = assignment_of(self->h, &self->assignment, self->starts);

	return err != -EBADFD ?
	       why("GROUP_ASSIGNMENT of the handle: %ld, expected EBADFD (no member)",
		   err) : NULL;
}

static const char *join_new_unchanged(FIXTURE_DATA(fault) *self, long ret)
{
	struct groups_view v;
	int err = groups_get(self->family, self->name, self->group, &v);

	if (err)
		return why("GROUP_GET: %d", err);
	if (v.n)
		return why("the group is there (generation %u, %u members)",
			   v.g[0].generation, v.g[0].members);
	return not_member(self);
}

static const char *join_new_done(FIXTURE_DATA(fault) *self)
{
	struct group_view g;
	long err = group_get(self->family, self->name, self->group, &g);

	if (err)
		return why("GROUP_GET: %ld", err);
	if (g.members != 1 || g.nr_members != 1 || g.nr_parts != PARTS ||
	    g.generation != self->join.generation)
		return why("generation %u, %u (%u) members, %u partitions; expected %u, 1 member",
			   g.generation, g.members, g.nr_members, g.nr_parts,
			   self->join.generation);
	err = assignment_of(self->h, &self->assignment, self->starts);
	if (err || self->assignment.count != PARTS)
		return why("GROUP_ASSIGNMENT: %ld, %u partitions owned", err,
			   self->assignment.count);
	return NULL;
}

/* After a failure, the handle joins as if nothing happened. */
static const char *join_cleanup(FIXTURE_DATA(fault) *self)
{
	struct mqdev_group_join join;
	long err = 0;

	if (!self->ok && self->h >= 0)
		err = join_fd(self->h, self->group, &join);
	close_fd(&self->h);
	if (err)
		return why("GROUP_JOIN again, with no fault: %s",
			   strerror(-err));
	return NULL;
}

static const struct fcase group_join_new_case = {
	.name = "GROUP_JOIN new group", .prepare = join_new_prepare,
	.call = join_call, .unchanged = join_new_unchanged,
	.done = join_new_done, .cleanup = join_cleanup,
};

TEST_F_TIMEOUT(fault, group_join_new, TIMEOUT)
{
	const struct fcase *c = &group_join_new_case;

	/* The one group the topic may have: a leaked count would show. */
	if (param_override(self, "max_topic_groups", 1))
		TH_LOG("max_topic_groups not set: a leaked count will not show");
	run_case(_metadata, self, c);
}

static const char *join_existing_prepare(FIXTURE_DATA(fault) *self)
{
	const char *bad = member_prepare(self);
	int err;

	if (bad)
		return bad;
	err = group_get(self->family, self->name, self->group, &self->before);
	if (err)
		return why("GROUP_GET: %d", err);
	self->h = handle(self->name, MQDEV_ATTACH_CONSUME);
	return self->h < 0 ? why("ATTACH: %s", strerror(-self->h)) : NULL;
}

static const char *join_existing_unchanged(FIXTURE_DATA(fault) *self,
					   long ret)
{
	struct mqdev_group_assignment a;
	struct group_view g;
	long err;

	err = group_get(self->family, self->name, self->group, &g);
	if (err)
		return why("GROUP_GET: %ld", err);
	if (g.members != 1 || g.nr_members != 1 ||
	    g.generation != self->before.generation)
		return why("generation %u with %u (%u) members, expected %u with one",
			   g.generation, g.members, g.nr_members,
			   self->before.generation);
	err = assignment_of(self->member, &a, self->starts);
	if (err || a.count != PARTS || a.generation != g.generation)
		return why("the member's GROUP_ASSIGNMENT: %ld, %u partitions in generation %u",
			   err, a.count, a.generation);
	return not_member(self);
}

static const char *join_existing_done(FIXTURE_DATA(fault) *self)
{
	struct group_view g;
	long err = group_get(self->family, self->name, self->group, &g);

	if (err)
		return why("GROUP_GET: %ld", err);
	if (g.members != 2 || g.nr_members != 2 ||
	    g.generation != self->before.generation + 1)
		return why("generation %u with %u (%u) members, expected %u with two",
			   g.generation, g.members, g.nr_members,
			   self->before.generation + 1);
	return NULL;
}

TEST_F_TIMEOUT(fault, group_join_existing, TIMEOUT)
{
	static const struct fcase c = {
		.name = "GROUP_JOIN existing group",
		.prepare = join_existing_prepare, .call = join_call,
		.unchanged = join_existing_unchanged,
		.done = join_existing_done, .cleanup = join_cleanup,
	};

	run_case(_metadata, self, &c);
}

static long assignment_call(FIXTURE_DATA(fault) *self)
{
	return assignment_of(self->member, &self->assignment, self->starts);
}

static const char *assignment_done(FIXTURE_DATA(fault) *self)
{
	const struct mqdev_group_assignment *a = &self->assignment;
	int p;

	if (a->count != PARTS || a->owned[0] != (1ULL << PARTS) - 1)
		return why("%u partitions owned (%#llx), expected all %d",
			   a->count, (unsigned long long)a->owned[0], PARTS);
	for (p = 0; p < PARTS; p++)
		if (self->starts[p].offset > RECS)
			return why("partition %d starts at %llu", p,
				   (unsigned long long)self->starts[p].offset);
	return NULL;
}

TEST_F_TIMEOUT(fault, group_assignment, TIMEOUT)
{
	static const struct fcase c = {
		.name = "GROUP_ASSIGNMENT", .prepare = member_prepare,
		.call = assignment_call, .done = assignment_done,
	};

	run_case(_metadata, self, &c);
}

/* The group's position in partition 0 now, and another to commit. */
static const char *position_prepare(FIXTURE_DATA(fault) *self,
				    const char *group)
{
	int err = group_get(self->family, self->name, group, &self->before);

	if (err)
		return why("GROUP_GET: %d", err);
	self->value = self->before.pos[0] % RECS + 1;
	return NULL;
}

static const char *position_is(FIXTURE_DATA(fault) *self, const char *group,
			       uint64_t want, bool committed)
{
	struct group_view g;
	int err = group_get(self->family, self->name, group, &g);

	if (err)
		return why("GROUP_GET: %d", err);
	if (g.pos[0] != want || (committed && !g.committed[0]))
		return why("the group is at %llu%s in partition 0, expected %llu",
			   (unsigned long long)g.pos[0],
			   g.committed[0] ? " (committed)" : "",
			   (unsigned long long)want);
	return NULL;
}

static const char *commit_prepare(FIXTURE_DATA(fault) *self)
{
	const char *bad = member_prepare(self);
	long err;

	if (bad)
		return bad;
	err = assignment_of(self->member, &self->assignment, self->starts);
	if (err)
		return why("GROUP_ASSIGNMENT: %s", strerror(-err));
	return position_prepare(self, self->group);
}

static long commit_call(FIXTURE_DATA(fault) *self)
{
	struct mqdev_group_commit req = {
		.partition = 0, .generation = self->assignment.generation,
		.offset = self->value,
	};

	return xioctl(self->member, MQDEV_IOC_GROUP_COMMIT, &req);
}

static const char *commit_unchanged(FIXTURE_DATA(fault) *self, long ret)
{
	return position_is(self, self->group, self->before.pos[0], false);
}

static const char *commit_done(FIXTURE_DATA(fault) *self)
{
	return position_is(self, self->group, self->value, true);
}

TEST_F_TIMEOUT(fault, group_commit, TIMEOUT)
{
	static const struct fcase c = {
		.name = "GROUP_COMMIT", .prepare = commit_prepare,
		.call = commit_call, .unchanged = commit_unchanged,
		.done = commit_done,
	};

	run_case(_metadata, self, &c);
}

/* ---- PRODUCER_INIT, PRODUCER_BIND, bound PRODUCE ------------------------------- */

static long init_fd(int fd, const char *name, uint32_t timeout_ms,
		    struct mqdev_producer_init *req)
{
	memset(req, 0, sizeof(*req));
	if (name)
		mqdev_name_set(req->name, name);
	req->txn_timeout_ms = timeout_ms;
	return xioctl(fd, MQDEV_IOC_PRODUCER_INIT, req);
}

static long txn_op(int fd, uint32_t op, struct mqdev_txn *req)
{
	memset(req, 0, sizeof(*req));
	req->op = op;
	req->cookie = op == MQDEV_TXN_BEGIN ? 7 : 0;
	return xioctl(fd, MQDEV_IOC_TXN, req);
}

/* A fresh session of its own producer id; -errno. */
static int session_new(const char *name, uint32_t timeout_ms)
{
	struct mqdev_producer_init init;
	int fd = dev_open();
	long err;

	if (fd < 0)
		return fd;
	err = init_fd(fd, name, timeout_ms, &init);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/*
 * The newest session of the name is sess0, and h is a new handle: a failed
 * PRODUCER_INIT must not have fenced sess0 (nor bumped the epoch).
 */
static const char *init_named_prepare(FIXTURE_DATA(fault) *self)
{
	long err;

	close_fd(&self->sess0);
	self->sess0 = dev_open();
	if (self->sess0 < 0)
		return why("open: %s", strerror(-self->sess0));
	err = init_fd(self->sess0, self->producer, 0, &self->init);
	if (err)
		return why("PRODUCER_INIT: %s", strerror(-err));
	self->producer_id = self->init.producer_id;
	self->epoch = self->init.epoch;
	self->h = dev_open();
	return self->h < 0 ? why("open: %s", strerror(-self->h)) : NULL;
}

static long init_named_call(FIXTURE_DATA(fault) *self)
{
	return init_fd(self->h, self->producer, 0, &self->init);
}

static const char *not_session(FIXTURE_DATA(fault) *self)
{
	long err = txn_op(self->h, MQDEV_TXN_BEGIN, &self->txn);

	return err != -EBADFD ?
	       why("TXN BEGIN on the handle: %ld, expected EBADFD (not a session)",
		   err) : NULL;
}

static const char *init_named_unchanged(FIXTURE_DATA(fault) *self, long ret)
{
	const char *bad = not_session(self);
	long err;

	if (bad)
		return bad;
	err = txn_op(self->sess0, MQDEV_TXN_BEGIN, &self->txn);
	if (!err)
		err = txn_op(self->sess0, MQDEV_TXN_ABORT, &self->txn);
	if (err)
		return why("the older session's TXN: %s: the failed call fenced it",
			   strerror(-err));
	err = init_named_call(self);
	if (err)
		return why("PRODUCER_INIT again: %s", strerror(-err));
	if (self->init.producer_id != self->producer_id ||
	    self->init.epoch != self->epoch + 1)
		return why("producer %llu epoch %u again, expected %llu epoch %u",
			   (unsigned long long)self->init.producer_id,
			   self->init.epoch,
			   (unsigned long long)self->producer_id,
			   self->epoch + 1);
	return NULL;
}

static const char *init_named_done(FIXTURE_DATA(fault) *self)
{
	long err;

	if (self->init.producer_id != self->producer_id ||
	    self->init.epoch != self->epoch + 1)
		return why("producer %llu epoch %u, expected %llu epoch %u",
			   (unsigned long long)self->init.producer_id,
			   self->init.epoch,
			   (unsigned long long)self->producer_id,
			   self->epoch + 1);
	err = txn_op(self->sess0, MQDEV_TXN_BEGIN, &self->txn);
	if (err != -ESTALE)
		return why("the older session's TXN BEGIN: %ld, expected ESTALE (fenced)",
			   err);
	return NULL;
}

static const char *h_cleanup(FIXTURE_DATA(fault) *self)
{
	close_fd(&self->h);
	return NULL;
}

TEST_F_TIMEOUT(fault, producer_init_named, TIMEOUT)
{
	static const struct fcase c = {
		.name = "PRODUCER_INIT named", .prepare = init_named_prepare,
		.call = init_named_call, .unchanged = init_named_unchanged,
		.done = init_named_done, .cleanup = h_cleanup,
	};

	run_case(_metadata, self, &c);
}

static const char *h_prepare(FIXTURE_DATA(fault) *self)
{
	self->h = dev_open();
	return self->h < 0 ? why("open: %s", strerror(-self->h)) : NULL;
}

static long init_anon_call(FIXTURE_DATA(fault) *self)
{
	return init_fd(self->h, NULL, 0, &self->init);
}

static const char *session_works(int fd)
{
	struct mqdev_txn txn;
	long err = txn_op(fd, MQDEV_TXN_BEGIN, &txn);

	if (!err)
		err = txn_op(fd, MQDEV_TXN_ABORT, &txn);
	return err ? why("TXN on the session: %s", strerror(-err)) : NULL;
}

static const char *init_anon_unchanged(FIXTURE_DATA(fault) *self, long ret)
{
	const char *bad = not_session(self);
	long err;

	if (bad)
		return bad;
	err = init_anon_call(self);
	if (err)
		return why("PRODUCER_INIT again: %s", strerror(-err));
	return session_works(self->h);
}

static const char *init_anon_done(FIXTURE_DATA(fault) *self)
{
	if (!self->init.producer_id)
		return why("producer id 0");
	return session_works(self->h);
}

TEST_F_TIMEOUT(fault, producer_init_anonymous, TIMEOUT)
{
	static const struct fcase c = {
		.name = "PRODUCER_INIT anonymous", .prepare = h_prepare,
		.call = init_anon_call, .unchanged = init_anon_unchanged,
		.done = init_anon_done, .cleanup = h_cleanup,
	};

	run_case(_metadata, self, &c);
}

static long bind_fd(int fd, int session, uint32_t *seqs)
{
	struct mqdev_producer_bind req = {
		.session_fd = session, .next_seq = (uintptr_t)seqs,
		.next_seq_count = PARTS,
	};

	memset(seqs, 0xff, PARTS * sizeof(*seqs));
	return xioctl(fd, MQDEV_IOC_PRODUCER_BIND, &req);
}

/* A new anonymous session, and a producing handle h not bound yet. */
static const char *bind_prepare(FIXTURE_DATA(fault) *self)
{
	self->sess = session_new(NULL, 0);
	if (self->sess < 0)
		return why("PRODUCER_INIT: %s", strerror(-self->sess));
	self->h = handle(self->name, MQDEV_ATTACH_PRODUCE);
	return self->h < 0 ? why("ATTACH: %s", strerror(-self->h)) : NULL;
}

static long bind_call(FIXTURE_DATA(fault) *self)
{
	return bind_fd(self->h, self->sess, self->seqs);
}

/* Message 0 with sequence 0 goes in once, and again is a duplicate. */
static const char *bound_works(FIXTURE_DATA(fault) *self)
{
	struct mqdev_msg m;
	uint64_t offset;
	long n;
	int p;

	for (p = 0; p < PARTS; p++)
		if (self->seqs[p])
			return why("next sequence %u in partition %d of a new producer",
				   self->seqs[p], p);
	mqdev_msg_init(&m, NULL, 0, "s", 1, 0);
	n = produce_msgs(self->h, &m, 1);
	if (n != 1 || (m.status & MQDEV_MSG_DUPLICATE))
		return why("PRODUCE as the session: %ld, status %u", n,
			   m.status);
	offset = m.offset;
	mqdev_msg_init(&m, NULL, 0, "s", 1, 0);
	n = produce_msgs(self->h, &m, 1);
	if (n != 1 || !(m.status & MQDEV_MSG_DUPLICATE) || m.offset != offset)
		return why("sent again: %ld, status %u at %llu, expected a duplicate of %llu",
			   n, m.status, (unsigned long long)m.offset,
			   (unsigned long long)offset);
	return NULL;
}

static const char *bind_unchanged(FIXTURE_DATA(fault) *self, long ret)
{
	long err = bind_call(self);

	if (err)
		return why("PRODUCER_BIND again: %s", strerror(-err));
	return bound_works(self);
}

static const char *sess_cleanup(FIXTURE_DATA(fault) *self)
{
	close_fd(&self->h);
	close_fd(&self->sess);
	return NULL;
}

static const struct fcase producer_bind_case = {
	.name = "PRODUCER_BIND", .prepare = bind_prepare,
	.call = bind_call, .unchanged = bind_unchanged,
	.done = bound_works, .cleanup = sess_cleanup,
};

TEST_F_TIMEOUT(fault, producer_bind, TIMEOUT)
{
	const struct fcase *c = &producer_bind_case;

	run_case(_metadata, self, c);
}

/* Three messages with sequence 0, to partitions 0, 1 and 2. */
static const char *bound_msgs(FIXTURE_DATA(fault) *self)
{
	static const char *const values[] = { "b0", "b1", "b2" };
	int i;

	for (i = 0; i < 3; i++)
		mqdev_msg_init(&self->msgs[i], NULL, 0, values[i], 2, i);
	return offsets_prepare(self);
}

static const char *bound_prepare(FIXTURE_DATA(fault) *self)
{
	const char *bad = bind_prepare(self);
	long err;

	if (bad)
		return bad;
	err = bind_call(self);
	if (err)
		return why("PRODUCER_BIND: %s", strerror(-err));
	return bound_msgs(self);
}

static long bound_call(FIXTURE_DATA(fault) *self)
{
	return produce_msgs(self->h, self->msgs, 3);
}

/*
 * Exactly what was acknowledged went in; and the batch sent again as it is
 * goes in exactly once: the acknowledged ones are duplicates.
 */
static const char *bound_unchanged(FIXTURE_DATA(fault) *self, long ret)
{
	long done = ret > 0 ? ret : 0, n, i;
	bool dup, landed;
	uint64_t acked[3];
	const char *bad;

	bad = appended(self, done);
	if (bad)
		return bad;
	for (i = 0; i < 3; i++)
		acked[i] = self->msgs[i].offset;
	n = produce_msgs(self->h, self->msgs, 3);
	if (n != 3)
		return why("PRODUCE of the same messages again: %ld", n);
	for (i = 0; i < 3; i++) {
		dup = self->msgs[i].status & MQDEV_MSG_DUPLICATE;
		landed = i < done;
		if (dup != landed || (landed && self->msgs[i].offset != acked[i]))
			return why("message %ld sent again: status %u at %llu",
				   i, self->msgs[i].status,
				   (unsigned long long)self->msgs[i].offset);
	}
	n = next_offsets(self->fd, self->name, acked);
	if (n - self->sum != 3)
		return why("%ld records in all, expected 3", n - self->sum);
	return NULL;
}

static const char *bound_done(FIXTURE_DATA(fault) *self)
{
	return appended(self, 3);
}

static const struct fcase produce_bound_case = {
	.name = "PRODUCE idempotent", .prepare = bound_prepare,
	.call = bound_call, .expect = 3, .partial = true,
	.unchanged = bound_unchanged, .done = bound_done,
	.cleanup = sess_cleanup,
};

TEST_F_TIMEOUT(fault, produce_bound, TIMEOUT)
{
	const struct fcase *c = &produce_bound_case;

	run_case(_metadata, self, c);
}

/* ---- TXN, TXN_OFFSETS -------------------------------------------------------------- */

static const char *sess_prepare(FIXTURE_DATA(fault) *self)
{
	self->sess = session_new(NULL, 0);
	return self->sess < 0 ?
	       why("PRODUCER_INIT: %s", strerror(-self->sess)) : NULL;
}

static long begin_call(FIXTURE_DATA(fault) *self)
{
	return txn_op(self->sess, MQDEV_TXN_BEGIN, &self->txn);
}

static const char *begin_unchanged(FIXTURE_DATA(fault) *self, long ret)
{
	long err = txn_op(self->sess, MQDEV_TXN_COMMIT, &self->txn);

	if (err != -ENOENT)
		return why("TXN COMMIT: %ld, expected ENOENT (none open)", err);
	/* With max_txns 1, a slot the failure kept would show here. */
	return session_works(self->sess);
}

static const char *begin_done(FIXTURE_DATA(fault) *self)
{
	long err;

	if (!self->txn.txn_id)
		return why("transaction id 0");
	err = txn_op(self->sess, MQDEV_TXN_COMMIT, &self->txn);
	return err ? why("TXN COMMIT: %s", strerror(-err)) : NULL;
}

static const struct fcase txn_begin_case = {
	.name = "TXN begin", .prepare = sess_prepare,
	.call = begin_call, .unchanged = begin_unchanged,
	.done = begin_done, .cleanup = sess_cleanup,
};

TEST_F_TIMEOUT(fault, txn_begin, TIMEOUT)
{
	const struct fcase *c = &txn_begin_case;

	/* One transaction open at most: a slot kept by a failure shows. */
	if (param_override(self, "max_txns", 1))
		TH_LOG("max_txns not set: a leaked slot will not show");
	run_case(_metadata, self, c);
}

/* A transaction open with message 0 and 1 of bound_msgs() in it. */
static const char *txn_prepare(FIXTURE_DATA(fault) *self)
{
	const char *bad = bound_prepare(self);
	long err;

	if (bad)
		return bad;
	err = txn_op(self->sess, MQDEV_TXN_BEGIN, &self->txn);
	if (err)
		return why("TXN BEGIN: %s", strerror(-err));
	err = produce_msgs(self->h, self->msgs, 2);
	if (err != 2)
		return why("PRODUCE in the transaction: %ld", err);
	return NULL;
}

static long txn_call(FIXTURE_DATA(fault) *self)
{
	return txn_op(self->sess, self->op, &self->txn);
}

/* What readers get of message @i: @records records, @marked of them so. */
static const char *txn_reads(FIXTURE_DATA(fault) *self, int i, int records,
			     uint32_t op)
{
	const struct mqdev_msg *m = &self->msgs[i];
	struct reading r;
	int err, marked;

	err = read_from(self->name, m->partition, m->offset, &r);
	if (err)
		return why("reading: %s", strerror(-err));
	marked = op == MQDEV_TXN_ABORT ? r.aborted : r.committed;
	if (r.records != records || marked != records)
		return why("%d records (%d marked %s) at %u:%llu, expected %d",
			   r.records, marked,
			   op == MQDEV_TXN_ABORT ? "aborted" : "committed",
			   m->partition, (unsigned long long)m->offset,
			   records);
	return NULL;
}

static const char *txn_unchanged(FIXTURE_DATA(fault) *self, long ret)
{
	const char *bad = txn_reads(self, 0, 0, self->op);
	long err;

	if (bad)
		return why("still open: %s", bad);
	err = txn_call(self);
	if (err)
		return why("TXN again: %s", strerror(-err));
	return txn_reads(self, 1, 1, self->op);
}

static const char *txn_done(FIXTURE_DATA(fault) *self)
{
	return txn_reads(self, 0, 1, self->op) ?:
	       txn_reads(self, 1, 1, self->op);
}

TEST_F_TIMEOUT(fault, txn_commit, TIMEOUT)
{
	static const struct fcase c = {
		.name = "TXN commit", .prepare = txn_prepare,
		.call = txn_call, .unchanged = txn_unchanged,
		.done = txn_done, .cleanup = sess_cleanup,
	};

	self->op = MQDEV_TXN_COMMIT;
	run_case(_metadata, self, &c);
}

TEST_F_TIMEOUT(fault, txn_abort, TIMEOUT)
{
	static const struct fcase c = {
		.name = "TXN abort", .prepare = txn_prepare,
		.call = txn_call, .unchanged = txn_unchanged,
		.done = txn_done, .cleanup = sess_cleanup,
	};

	self->op = MQDEV_TXN_ABORT;
	run_case(_metadata, self, &c);
}

/* In a transaction: each message's partition is new to it. */
static const char *txn_produce_prepare(FIXTURE_DATA(fault) *self)
{
	const char *bad = bound_prepare(self);
	long err;

	if (bad)
		return bad;
	err = txn_op(self->sess, MQDEV_TXN_BEGIN, &self->txn);
	return err ? why("TXN BEGIN: %s", strerror(-err)) : NULL;
}

/* What went in is what was acknowledged, and commits with the rest. */
static const char *txn_produce_check(FIXTURE_DATA(fault) *self, long done)
{
	const char *bad = appended(self, done);
	long err;
	int i;

	if (bad)
		return bad;
	err = txn_op(self->sess, MQDEV_TXN_COMMIT, &self->txn);
	if (err)
		return why("TXN COMMIT: %s", strerror(-err));
	for (i = 0; i < done && !bad; i++)
		bad = txn_reads(self, i, 1, MQDEV_TXN_COMMIT);
	return bad;
}

static const char *txn_produce_unchanged(FIXTURE_DATA(fault) *self, long ret)
{
	return txn_produce_check(self, ret > 0 ? ret : 0);
}

static const char *txn_produce_done(FIXTURE_DATA(fault) *self)
{
	return txn_produce_check(self, 3);
}

static const struct fcase produce_txn_case = {
	.name = "PRODUCE in a transaction",
	.prepare = txn_produce_prepare, .call = bound_call,
	.expect = 3, .partial = true,
	.unchanged = txn_produce_unchanged,
	.done = txn_produce_done, .cleanup = sess_cleanup,
};

TEST_F_TIMEOUT(fault, produce_txn, TIMEOUT)
{
	const struct fcase *c = &produce_txn_case;

	run_case(_metadata, self, c);
}

/* The member, a session with a transaction open, and an offset to send. */
static const char *offsets_txn_prepare(FIXTURE_DATA(fault) *self)
{
	const char *bad = commit_prepare(self);
	long err;

	if (bad)
		return bad;
	bad = sess_prepare(self);
	if (bad)
		return bad;
	err = txn_op(self->sess, MQDEV_TXN_BEGIN, &self->txn);
	return err ? why("TXN BEGIN: %s", strerror(-err)) : NULL;
}

static long offsets_txn_call(FIXTURE_DATA(fault) *self)
{
	struct mqdev_group_commit commit = {
		.partition = 0, .generation = self->assignment.generation,
		.offset = self->value,
	};
	struct mqdev_txn_offsets req = {
		.consumer_fd = self->member, .count = 1,
		.commits = (uintptr_t)&commit, .commit_size = sizeof(commit),
	};

	return xioctl(self->sess, MQDEV_IOC_TXN_OFFSETS, &req);
}

static const char *offsets_txn_unchanged(FIXTURE_DATA(fault) *self, long ret)
{
	long err = txn_op(self->sess, MQDEV_TXN_COMMIT, &self->txn);

	if (err)
		return why("TXN COMMIT: %s", strerror(-err));
	return position_is(self, self->group, self->before.pos[0], false);
}

static const char *offsets_txn_done(FIXTURE_DATA(fault) *self)
{
	long err = txn_op(self->sess, MQDEV_TXN_COMMIT, &self->txn);

	if (err)
		return why("TXN COMMIT: %s", strerror(-err));
	return position_is(self, self->group, self->value, true);
}

static const struct fcase txn_offsets_case = {
	.name = "TXN_OFFSETS", .prepare = offsets_txn_prepare,
	.call = offsets_txn_call, .unchanged = offsets_txn_unchanged,
	.done = offsets_txn_done, .cleanup = sess_cleanup,
};

TEST_F_TIMEOUT(fault, txn_offsets, TIMEOUT)
{
	const struct fcase *c = &txn_offsets_case;

	run_case(_metadata, self, c);
}

/* ---- the netlink requests ---------------------------------------------------------- */

static long nl_call(FIXTURE_DATA(fault) *self, struct nlmsghdr *nlh)
{
	return nl_talk(self->nl, nlh, NULL, NULL, &self->lost);
}

/* Three groups: two without members, one with the member. */
static const char *get_prepare(FIXTURE_DATA(fault) *self)
{
	const char *bad = member_prepare(self);
	int err;

	if (bad)
		return bad;
	if (self->attempt == 1) {
		err = group_make(self->family, self->name, "fault-a");
		if (!err)
			err = group_make(self->family, self->name, "fault-b");
		if (err)
			return why("GROUP_RESET: %d", err);
	}
	memset(&self->view, 0, sizeof(self->view));
	return NULL;
}

static long get_call(FIXTURE_DATA(fault) *self)
{
	return nl_talk(self->nl, group_get_msg(self->family, NULL, self->name),
		       group_cb, &self->view, &self->lost);
}

static const char *get_done(FIXTURE_DATA(fault) *self)
{
	const struct groups_view *v = &self->view;
	const struct group_view *g;
	int i, members = 0;

	if (v->bad || v->n != 3)
		return why("%d groups described%s, expected 3", v->n,
			   v->bad ? ", not all of them well" : "");
	for (i = 0; i < v->n; i++) {
		g = &v->g[i];
		if (g->nr_parts != PARTS || g->members != g->nr_members)
			return why("group %s: %u partitions, %u (%u) members",
				   g->group, g->nr_parts, g->members,
				   g->nr_members);
		if (strcmp(g->group, "fault-a") && strcmp(g->group, "fault-b") &&
		    strcmp(g->group, self->group))
			return why("a group %s", g->group);
		members += g->members;
	}
	return members == 1 ? NULL : why("%d members in all, expected 1",
					 members);
}

TEST_F_TIMEOUT(fault, nl_group_get, TIMEOUT)
{
	static const struct fcase c = {
		.name = "netlink GROUP_GET", .prepare = get_prepare,
		.call = get_call, .done = get_done, .netlink = true,
	};

	run_case(_metadata, self, &c);
}

/* ---- the statistics: read only, so the answer is all there is to check -- */

static int stats_msg_cb(const struct nlmsghdr *nlh, void *ctx)
{
	FIXTURE_DATA(fault) *self = ctx;
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == MQDEV_A_PSTATS ||
		    mnl_attr_get_type(a) == MQDEV_A_CHARGE)
			self->count++;
	return 0;	/* nl_talk(): anything else ends the answer */
}

static const char *stats_prepare(FIXTURE_DATA(fault) *self)
{
	self->count = 0;
	return NULL;
}

static long stats_call(FIXTURE_DATA(fault) *self)
{
	struct nlmsghdr *nlh = nl_start(self->family, MQDEV_CMD_STATS_GET,
					NLM_F_DUMP);

	mnl_attr_put_strz(nlh, MQDEV_A_TOPIC, self->name);
	return nl_talk(self->nl, nlh, stats_msg_cb, self, &self->lost);
}

/* Each partition's message, and the topic's. */
static const char *stats_done(FIXTURE_DATA(fault) *self)
{
	return self->count == PARTS + 1 ? NULL :
	       why("%d messages of counters, expected %d", self->count,
		   PARTS + 1);
}

TEST_F_TIMEOUT(fault, nl_stats_get, TIMEOUT)
{
	static const struct fcase c = {
		.name = "netlink STATS_GET", .prepare = stats_prepare,
		.call = stats_call, .done = stats_done, .netlink = true,
	};

	run_case(_metadata, self, &c);
}

static long module_stats_call(FIXTURE_DATA(fault) *self)
{
	return nl_talk(self->nl, nl_start(self->family,
					  MQDEV_CMD_MODULE_STATS_GET,
					  NLM_F_ACK),
		       stats_msg_cb, self, &self->lost);
}

/* One charge of each kind. */
static const char *module_stats_done(FIXTURE_DATA(fault) *self)
{
	return self->count == MQDEV_CHARGE_MAX + 1 ? NULL :
	       why("%d charges, expected %d", self->count,
		   MQDEV_CHARGE_MAX + 1);
}

TEST_F_TIMEOUT(fault, nl_module_stats_get, TIMEOUT)
{
	static const struct fcase c = {
		.name = "netlink MODULE_STATS_GET", .prepare = stats_prepare,
		.call = module_stats_call, .done = module_stats_done,
		.netlink = true,
	};

	run_case(_metadata, self, &c);
}

#define NL_GROUP	"fault-nl"

static const char *nl_commit_prepare(FIXTURE_DATA(fault) *self)
{
	int err;

	if (self->attempt == 1) {
		err = group_make(self->family, self->name, NL_GROUP);
		if (err)
			return why("GROUP_RESET: %d", err);
	}
	return position_prepare(self, NL_GROUP);
}

static long nl_commit_call(FIXTURE_DATA(fault) *self)
{
	struct nlmsghdr *nlh = group_msg(self->family, MQDEV_CMD_GROUP_COMMIT,
					 NL_GROUP, self->name);

	mnl_attr_put_u32(nlh, MQDEV_A_PARTITION, 0);
	mnl_attr_put_u64(nlh, MQDEV_A_OFFSET, self->value);
	return nl_call(self, nlh);
}

static const char *nl_commit_unchanged(FIXTURE_DATA(fault) *self, long ret)
{
	return position_is(self, NL_GROUP, self->before.pos[0], false);
}

static const char *nl_commit_done(FIXTURE_DATA(fault) *self)
{
	return position_is(self, NL_GROUP, self->value, true);
}

TEST_F_TIMEOUT(fault, nl_group_commit, TIMEOUT)
{
	static const struct fcase c = {
		.name = "netlink GROUP_COMMIT", .prepare = nl_commit_prepare,
		.call = nl_commit_call, .unchanged = nl_commit_unchanged,
		.done = nl_commit_done, .netlink = true,
	};

	run_case(_metadata, self, &c);
}

static const char *nl_reset_new_prepare(FIXTURE_DATA(fault) *self)
{
	int err = group_delete(self->family, self->name, NL_GROUP);

	if (err && err != -ENOENT)
		return why("GROUP_DELETE: %d", err);
	return offsets_prepare(self);
}

static long nl_reset_new_call(FIXTURE_DATA(fault) *self)
{
	struct nlmsghdr *nlh = group_msg(self->family, MQDEV_CMD_GROUP_RESET,
					 NL_GROUP, self->name);

	mnl_attr_put_u32(nlh, MQDEV_A_RESET, MQDEV_SEEK_LATEST);
	return nl_call(self, nlh);
}

static const char *nl_group_absent(FIXTURE_DATA(fault) *self, long ret)
{
	struct group_view g;
	int err = group_get(self->family, self->name, NL_GROUP, &g);

	if (err == -ENOENT)
		return NULL;
	return err ? why("GROUP_GET: %d", err) :
	       why("the group is there, generation %u", g.generation);
}

static const char *nl_reset_new_done(FIXTURE_DATA(fault) *self)
{
	struct group_view g;
	int err = group_get(self->family, self->name, NL_GROUP, &g), p;

	if (err)
		return why("GROUP_GET: %d", err);
	if (g.nr_parts != PARTS || g.members)
		return why("%u partitions, %u members", g.nr_parts, g.members);
	for (p = 0; p < PARTS; p++)
		if (g.pos[p] != self->next[p])
			return why("at %llu in partition %d, expected the latest, %llu",
				   (unsigned long long)g.pos[p], p,
				   (unsigned long long)self->next[p]);
	return NULL;
}

static const char *nl_group_cleanup(FIXTURE_DATA(fault) *self)
{
	int err = group_delete(self->family, self->name, NL_GROUP);

	return err && err != -ENOENT ? why("GROUP_DELETE: %d", err) : NULL;
}

static const struct fcase nl_group_reset_new_case = {
	.name = "netlink GROUP_RESET new group",
	.prepare = nl_reset_new_prepare, .call = nl_reset_new_call,
	.unchanged = nl_group_absent, .done = nl_reset_new_done,
	.cleanup = nl_group_cleanup, .netlink = true,
};

TEST_F_TIMEOUT(fault, nl_group_reset_new, TIMEOUT)
{
	const struct fcase *c = &nl_group_reset_new_case;

	/* The one group the topic may have: a leaked count would show. */
	if (param_override(self, "max_topic_groups", 1))
		TH_LOG("max_topic_groups not set: a leaked count will not show");
	run_case(_metadata, self, c);
}

static const char *nl_reset_force_prepare(FIXTURE_DATA(fault) *self)
{
	const char *bad = member_prepare(self);

	return bad ?: position_prepare(self, self->group);
}

static long nl_reset_force_call(FIXTURE_DATA(fault) *self)
{
	struct nlmsghdr *nlh = group_msg(self->family, MQDEV_CMD_GROUP_RESET,
					 self->group, self->name);

	mnl_attr_put_u32(nlh, MQDEV_A_RESET, MQDEV_SEEK_OFFSET);
	mnl_attr_put_u64(nlh, MQDEV_A_OFFSET, self->value);
	mnl_attr_put_u32(nlh, MQDEV_A_PARTITION, 0);
	mnl_attr_put(nlh, MQDEV_A_FORCE, 0, NULL);
	return nl_call(self, nlh);
}

static const char *nl_reset_force_unchanged(FIXTURE_DATA(fault) *self,
					    long ret)
{
	struct group_view g;
	int err = group_get(self->family, self->name, self->group, &g);

	if (err)
		return why("GROUP_GET: %d", err);
	if (g.pos[0] != self->before.pos[0] ||
	    g.generation != self->before.generation)
		return why("at %llu in generation %u, expected %llu in %u",
			   (unsigned long long)g.pos[0], g.generation,
			   (unsigned long long)self->before.pos[0],
			   self->before.generation);
	return NULL;
}

static const char *nl_reset_force_done(FIXTURE_DATA(fault) *self)
{
	struct mqdev_group_assignment a;
	struct mqdev_group_start starts[PARTS];
	struct group_view g;
	int err = group_get(self->family, self->name, self->group, &g);

	if (err)
		return why("GROUP_GET: %d", err);
	if (g.pos[0] != self->value ||
	    g.generation <= self->before.generation)
		return why("at %llu in generation %u, expected %llu after %u",
			   (unsigned long long)g.pos[0], g.generation,
			   (unsigned long long)self->value,
			   self->before.generation);
	err = assignment_of(self->member, &a, starts);
	if (err || a.count != PARTS || starts[0].offset != self->value)
		return why("the member: GROUP_ASSIGNMENT %d, %u partitions, partition 0 from %llu",
			   err, a.count,
			   (unsigned long long)starts[0].offset);
	return NULL;
}

TEST_F_TIMEOUT(fault, nl_group_reset_force, TIMEOUT)
{
	static const struct fcase c = {
		.name = "netlink GROUP_RESET forced, with a member",
		.prepare = nl_reset_force_prepare,
		.call = nl_reset_force_call,
		.unchanged = nl_reset_force_unchanged,
		.done = nl_reset_force_done, .netlink = true,
	};

	run_case(_metadata, self, &c);
}

static const char *nl_delete_prepare(FIXTURE_DATA(fault) *self)
{
	int err = group_make(self->family, self->name, NL_GROUP);

	return err ? why("GROUP_RESET: %d", err) : NULL;
}

static long nl_delete_call(FIXTURE_DATA(fault) *self)
{
	return nl_call(self, group_msg(self->family, MQDEV_CMD_GROUP_DELETE,
				       NL_GROUP, self->name));
}

static const char *nl_delete_unchanged(FIXTURE_DATA(fault) *self, long ret)
{
	struct group_view g;
	int err = group_get(self->family, self->name, NL_GROUP, &g);

	if (err)
		return why("GROUP_GET: %d: the group is gone", err);
	return g.nr_parts == PARTS ? NULL :
	       why("%u partitions in the group", g.nr_parts);
}

static const char *nl_delete_done(FIXTURE_DATA(fault) *self)
{
	return nl_group_absent(self, 0);
}

TEST_F_TIMEOUT(fault, nl_group_delete, TIMEOUT)
{
	static const struct fcase c = {
		.name = "netlink GROUP_DELETE", .prepare = nl_delete_prepare,
		.call = nl_delete_call, .unchanged = nl_delete_unchanged,
		.done = nl_delete_done, .cleanup = nl_group_cleanup,
		.netlink = true,
	};

	run_case(_metadata, self, &c);
}

/* The group with a member, h. */
static const char *nl_delete_force_prepare(FIXTURE_DATA(fault) *self)
{
	struct mqdev_group_join join;
	long err;

	self->h = handle(self->name, MQDEV_ATTACH_CONSUME);
	if (self->h < 0)
		return why("ATTACH: %s", strerror(-self->h));
	err = join_fd(self->h, NL_GROUP, &join);
	return err ? why("GROUP_JOIN: %s", strerror(-err)) : NULL;
}

static long nl_delete_force_call(FIXTURE_DATA(fault) *self)
{
	struct nlmsghdr *nlh = group_msg(self->family, MQDEV_CMD_GROUP_DELETE,
					 NL_GROUP, self->name);

	mnl_attr_put(nlh, MQDEV_A_FORCE, 0, NULL);
	return nl_call(self, nlh);
}

static const char *nl_delete_force_unchanged(FIXTURE_DATA(fault) *self,
					     long ret)
{
	struct mqdev_group_assignment a;
	struct group_view g;
	long err = group_get(self->family, self->name, NL_GROUP, &g);

	if (err)
		return why("GROUP_GET: %ld: the group is gone", err);
	if (g.members != 1)
		return why("%u members, expected 1", g.members);
	err = assignment_of(self->h, &a, self->starts);
	if (err || a.count != PARTS)
		return why("the member's GROUP_ASSIGNMENT: %ld, %u partitions",
			   err, a.count);
	return NULL;
}

/* Gone, and its member owns nothing: its commits are refused. */
static const char *nl_delete_force_done(FIXTURE_DATA(fault) *self)
{
	struct mqdev_group_commit req = { .partition = 0 };
	const char *bad = nl_group_absent(self, 0);
	long err;

	if (bad)
		return bad;
	err = xioctl(self->h, MQDEV_IOC_GROUP_COMMIT, &req);
	return err == -EIDRM ? NULL :
	       why("GROUP_COMMIT of the evicted member: %ld, expected EIDRM",
		   err);
}

static const char *nl_delete_force_cleanup(FIXTURE_DATA(fault) *self)
{
	close_fd(&self->h);
	return nl_group_cleanup(self);
}

TEST_F_TIMEOUT(fault, nl_group_delete_force, TIMEOUT)
{
	static const struct fcase c = {
		.name = "netlink GROUP_DELETE forced, with a member",
		.prepare = nl_delete_force_prepare,
		.call = nl_delete_force_call,
		.unchanged = nl_delete_force_unchanged,
		.done = nl_delete_force_done,
		.cleanup = nl_delete_force_cleanup, .netlink = true,
	};

	if (param_override(self, "max_topic_groups", 1))
		TH_LOG("max_topic_groups not set: a leaked count will not show");
	run_case(_metadata, self, &c);
}

/* A producer name of its own for every attempt: each makes the identity. */
static const char *checker_prepare(FIXTURE_DATA(fault) *self)
{
	snprintf(self->producer, sizeof(self->producer), "fault-chk-%d-%d",
		 getpid(), self->attempt);
	return NULL;
}

static long checker_call(FIXTURE_DATA(fault) *self)
{
	struct nlmsghdr *nlh = nl_start(self->family,
					MQDEV_CMD_CHECKER_REGISTER, NLM_F_ACK);

	mnl_attr_put_strz(nlh, MQDEV_A_PRODUCER, self->producer);
	return nl_call(self, nlh);
}

/*
 * Whether the name's identity was there before this look: 1 if so, 0 if
 * the look made it (its producer id is newer than one made just before).
 */
static int name_existed(FIXTURE_DATA(fault) *self)
{
	struct mqdev_producer_init anon, named;
	int a = dev_open(), b = dev_open();
	long err = a < 0 || b < 0 ? -EBADF : init_fd(a, NULL, 0, &anon);

	if (!err)
		err = init_fd(b, self->producer, 0, &named);
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	if (err)
		return err;
	return named.producer_id < anon.producer_id;
}

static const char *checker_unchanged(FIXTURE_DATA(fault) *self, long ret)
{
	int existed = name_existed(self);

	return existed ? why("the producer name exists (%d): it was made",
			     existed) : NULL;
}

static const char *checker_done(FIXTURE_DATA(fault) *self)
{
	int existed = name_existed(self);

	return existed == 1 ? NULL :
	       why("the producer name was not made (%d)", existed);
}

TEST_F_TIMEOUT(fault, nl_checker_register, TIMEOUT)
{
	static const struct fcase c = {
		.name = "netlink CHECKER_REGISTER", .prepare = checker_prepare,
		.call = checker_call, .unchanged = checker_unchanged,
		.done = checker_done, .netlink = true,
	};

	run_case(_metadata, self, &c);
}

/* The next question to the checker about transaction @txn_id, within 10 s. */
static int checker_question(struct mnl_socket *nl, uint64_t txn_id)
{
	const struct nlattr *a;
	struct nlmsghdr *nlh;
	struct pollfd pfd = { .fd = mnl_socket_get_fd(nl), .events = POLLIN };
	ssize_t len;
	int n;

	for (;;) {
		if (poll(&pfd, 1, 10000) != 1)
			return -ETIMEDOUT;
		len = mnl_socket_recvfrom(nl, nl_buf, sizeof(nl_buf));
		if (len < 0)
			return -errno;
		n = len;
		for (nlh = (struct nlmsghdr *)nl_buf; mnl_nlmsg_ok(nlh, n);
		     nlh = mnl_nlmsg_next(nlh, &n)) {
			if (nlh->nlmsg_type < NLMSG_MIN_TYPE ||
			    ((struct genlmsghdr *)mnl_nlmsg_get_payload(nlh))->cmd !=
			    MQDEV_CMD_TXN_CHECK)
				continue;
			mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
				if (mnl_attr_get_type(a) == MQDEV_A_TXN &&
				    mnl_attr_get_u64(a) == txn_id)
					return 0;
		}
	}
}

/*
 * A transaction with one record in partition 0, orphaned: its session and
 * producer are closed, the checker was asked.
 */
static const char *resolve_prepare(FIXTURE_DATA(fault) *self)
{
	struct nlmsghdr *nlh;
	struct mqdev_msg m;
	long err;

	if (!self->checker) {
		self->checker = nl_open();
		if (!self->checker)
			return why("netlink socket: %s", strerror(errno));
		nlh = nl_start(self->family, MQDEV_CMD_CHECKER_REGISTER,
			       NLM_F_ACK);
		mnl_attr_put_strz(nlh, MQDEV_A_PRODUCER, self->producer);
		err = nl_talk(self->checker, nlh, NULL, NULL, NULL);
		if (err)
			return why("CHECKER_REGISTER: %ld", err);
	}
	self->sess = session_new(self->producer, 60000);
	if (self->sess < 0)
		return why("PRODUCER_INIT: %s", strerror(-self->sess));
	self->h = handle(self->name, MQDEV_ATTACH_PRODUCE);
	if (self->h < 0)
		return why("ATTACH: %s", strerror(-self->h));
	err = bind_fd(self->h, self->sess, self->seqs);
	if (!err)
		err = txn_op(self->sess, MQDEV_TXN_BEGIN, &self->txn);
	if (err)
		return why("PRODUCER_BIND, TXN BEGIN: %s", strerror(-err));
	self->txn_id = self->txn.txn_id;
	mqdev_msg_init(&m, NULL, 0, "r", 1, 0);
	m.sequence = self->seqs[0];
	err = produce_msgs(self->h, &m, 1);
	if (err != 1)
		return why("PRODUCE in the transaction: %ld", err);
	self->msgs[0] = m;
	close_fd(&self->h);
	close_fd(&self->sess);
	err = checker_question(self->checker, self->txn_id);
	return err ? why("the checker's question: %s", strerror(-err)) : NULL;
}

static struct nlmsghdr *resolve_msg(FIXTURE_DATA(fault) *self,
				    uint32_t decision)
{
	struct nlmsghdr *nlh = nl_start(self->family, MQDEV_CMD_TXN_RESOLVE,
					NLM_F_ACK);

	mnl_attr_put_strz(nlh, MQDEV_A_PRODUCER, self->producer);
	mnl_attr_put_u64(nlh, MQDEV_A_TXN, self->txn_id);
	mnl_attr_put_u32(nlh, MQDEV_A_DECISION, decision);
	return nlh;
}

static long resolve_call(FIXTURE_DATA(fault) *self)
{
	return nl_call(self, resolve_msg(self, MQDEV_TXN_COMMIT));
}

static const char *resolve_unchanged(FIXTURE_DATA(fault) *self, long ret)
{
	const char *bad = txn_reads(self, 0, 0, MQDEV_TXN_COMMIT);

	return bad ? why("not undecided: %s", bad) : NULL;
}

static const char *resolve_done(FIXTURE_DATA(fault) *self)
{
	return txn_reads(self, 0, 1, MQDEV_TXN_COMMIT);
}

/* An undecided one is aborted, so that it does not linger. */
static const char *resolve_cleanup(FIXTURE_DATA(fault) *self)
{
	int err;

	if (self->ok)
		return NULL;
	err = nl_change(resolve_msg(self, MQDEV_TXN_ABORT));
	return err && err != -EALREADY && err != -ENOENT ?
	       why("TXN_RESOLVE abort: %d", err) : NULL;
}

TEST_F_TIMEOUT(fault, nl_txn_resolve, TIMEOUT)
{
	static const struct fcase c = {
		.name = "netlink TXN_RESOLVE", .prepare = resolve_prepare,
		.call = resolve_call, .unchanged = resolve_unchanged,
		.done = resolve_done, .cleanup = resolve_cleanup,
		.netlink = true,
	};

	snprintf(self->producer, sizeof(self->producer), "fault-rsv-%d",
		 getpid());
	run_case(_metadata, self, &c);
}

/* ---- as a user, with the limits as tight as they go ----------------------------- */

/*
 * What a call counts against its user (topics, partitions, groups, producer
 * states, transactions) must be given back when it fails, and nothing but
 * the limit shows it.  So these run as USER_UID, with its limits set to what
 * one attempt needs: a charge that a failed attempt kept makes the next
 * attempt, or the follow-up after the failure, fail with EDQUOT.
 */
struct limit {
	const char	*param;
	unsigned long	value;
};

/* Become USER_UID with @limits, on a topic of its own; false to skip. */
static bool become_user(struct __test_metadata *_metadata,
			FIXTURE_DATA(fault) *self, const struct limit *limits)
{
	int p, i, err;

	for (; limits->param; limits++) {
		err = param_override(self, limits->param, limits->value);
		if (err == -ENOENT)
			SKIP(return false, "the module has no parameter %s",
			     limits->param);
		ASSERT_EQ(0, err) {
			TH_LOG("setting %s: %s", limits->param,
			       strerror(-err));
		}
	}
	/* the user's own topic, of the same name: root's goes */
	close_fd(&self->prod);
	ASSERT_EQ(0, mqdev_topic_delete(self->fd, self->name));
	ASSERT_EQ(0, setegid(USER_UID));
	ASSERT_EQ(0, seteuid(USER_UID));
	self->user = true;
	ASSERT_EQ(0, create_topic(self->fd, self->name, PARTS, CAP, 0));
	self->prod = handle(self->name, MQDEV_ATTACH_PRODUCE);
	ASSERT_LE(0, self->prod);
	for (p = 0; p < PARTS; p++)
		for (i = 0; i < RECS; i++)
			ASSERT_EQ(p, produce_one(self->prod, p, NULL, 0, "seed",
						 4, NULL));
	return true;
}

TEST_F_TIMEOUT(fault, user_topic_create, TIMEOUT)
{
	static const struct limit limits[] = {
		{ "max_user_topics", 2 },
		{ "max_user_partitions", PARTS + SMALL_PARTS },
		{ }
	};

	if (become_user(_metadata, self, limits))
		run_case(_metadata, self, &topic_create_case);
}

static const struct limit group_limits[] = {
	{ "max_user_groups", 1 },
	{ "max_topic_groups", 1 },
	{ }
};

TEST_F_TIMEOUT(fault, user_group_join_new, TIMEOUT)
{
	if (become_user(_metadata, self, group_limits))
		run_case(_metadata, self, &group_join_new_case);
}

TEST_F_TIMEOUT(fault, user_nl_group_reset_new, TIMEOUT)
{
	if (become_user(_metadata, self, group_limits))
		run_case(_metadata, self, &nl_group_reset_new_case);
}

/* A producer's sequence state is charged a partition at a time. */
static const struct limit pstate_limits[] = {
	{ "max_user_producer_states", PARTS },
	{ }
};

TEST_F_TIMEOUT(fault, user_producer_bind, TIMEOUT)
{
	if (become_user(_metadata, self, pstate_limits))
		run_case(_metadata, self, &producer_bind_case);
}

TEST_F_TIMEOUT(fault, user_produce_bound, TIMEOUT)
{
	if (become_user(_metadata, self, pstate_limits))
		run_case(_metadata, self, &produce_bound_case);
}

TEST_F_TIMEOUT(fault, user_txn_begin, TIMEOUT)
{
	static const struct limit limits[] = {
		{ "max_user_txns", 1 },
		{ "max_txns", 1 },
		{ }
	};

	if (become_user(_metadata, self, limits))
		run_case(_metadata, self, &txn_begin_case);
}

TEST_F_TIMEOUT(fault, user_produce_txn, TIMEOUT)
{
	static const struct limit limits[] = {
		{ "max_user_txns", 1 },
		{ "max_user_producer_states", PARTS },
		{ }
	};

	if (become_user(_metadata, self, limits))
		run_case(_metadata, self, &produce_txn_case);
}

TEST_F_TIMEOUT(fault, user_txn_offsets, TIMEOUT)
{
	static const struct limit limits[] = {
		{ "max_user_txns", 1 },
		{ "max_user_groups", 1 },
		{ }
	};

	if (become_user(_metadata, self, limits))
		run_case(_metadata, self, &txn_offsets_case);
}

TEST_HARNESS_MAIN
