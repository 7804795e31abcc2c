// SPDX-License-Identifier: GPL-2.0
/*
 * Restoring a durable topic, as its disk replica does after the module was
 * loaded again: the topic with its owner and where each partition's log
 * stood, only replicas let in until it is opened; its groups with their
 * owners and offsets; producers' sequence numbers, so that a resend of what
 * was appended before is a duplicate; named producer identities; group
 * commits that wait for the replica to keep them; and scheduled messages
 * and the TTL, with their snapshot for the replica and its hold.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include "call.h"
#include "common.h"
#include "kselftest_harness.h"

#define OWNER		USER_UID

static int replica_of(const char *name)
{
	return attach(name, MQDEV_ATTACH_CONSUME | MQDEV_ATTACH_REPLICA, NULL);
}

static void restore_req(struct mqdev_topic_restore *req, const char *name,
			struct mqdev_part_restore *parts, uint32_t nparts)
{
	memset(req, 0, sizeof(*req));
	mqdev_name_set(req->topic.name, name);
	req->topic.partitions = nparts;
	req->topic.capacity = 64 * 1024;
	req->topic.flags = MQDEV_TOPIC_DURABLE;
	req->topic.mode = 0640;
	req->uid = OWNER;
	req->gid = OWNER;
	req->parts = (uintptr_t)parts;
	req->parts_count = nparts;
	req->part_size = sizeof(*parts);
}

static int try_restore(void *arg)
{
	int fd = mqdev_open();

	return fd < 0 ? 100 : -xioctl(fd, MQDEV_IOC_TOPIC_RESTORE, arg);
}

static int try_identity_restore(void *arg)
{
	int fd = mqdev_open();

	return fd < 0 ? 100 : -xioctl(fd, MQDEV_IOC_IDENTITY_RESTORE, arg);
}

static int try_attach(void *name)
{
	int fd = attach(name, MQDEV_ATTACH_CONSUME, NULL);

	return fd < 0 ? -fd : 0;
}

FIXTURE(restore) {
	int fd;
	char name[MQDEV_NAME_SIZE];
	struct mqdev_part_restore parts[2];
	struct mqdev_topic_restore req;
};

FIXTURE_SETUP(restore)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("restore"));
	self->parts[0].next_offset = 100;
	self->parts[0].last_timestamp = 1000;
	self->parts[1].next_offset = 7;
	restore_req(&self->req, self->name, self->parts, 2);
}

FIXTURE_TEARDOWN(restore)
{
	mqdev_topic_delete(self->fd, self->name);
	close(self->fd);
}

TEST_F(restore, bad_requests_change_nothing)
{
	struct mqdev_topic_restore bad = self->req;
	struct mqdev_topic_info info;

	EXPECT_EQ(EPERM, as_user(OWNER, try_restore, &self->req));
	bad.topic.flags = 0;				/* not durable */
	EXPECT_EQ(-EINVAL, xioctl(self->fd, MQDEV_IOC_TOPIC_RESTORE, &bad));
	bad = self->req;
	bad.parts_count = 1;				/* not its partitions */
	EXPECT_EQ(-EINVAL, xioctl(self->fd, MQDEV_IOC_TOPIC_RESTORE, &bad));
	bad = self->req;
	bad.part_size = 8;				/* too small */
	EXPECT_EQ(-EINVAL, xioctl(self->fd, MQDEV_IOC_TOPIC_RESTORE, &bad));
	bad = self->req;
	bad.uid = (uint32_t)-1;				/* no such user */
	EXPECT_EQ(-EINVAL, xioctl(self->fd, MQDEV_IOC_TOPIC_RESTORE, &bad));
	bad = self->req;
	bad.reserved = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, MQDEV_IOC_TOPIC_RESTORE, &bad));
	bad = self->req;
	bad.parts = 8;					/* not mapped */
	EXPECT_EQ(-EFAULT, xioctl(self->fd, MQDEV_IOC_TOPIC_RESTORE, &bad));
	EXPECT_EQ(-ENOENT, mqdev_topic_describe(self->fd, self->name, &info,
						NULL, 0));
}

TEST_F(restore, the_topic_comes_back_closed_until_opened)
{
	struct mqdev_topic_id open_req = {};
	struct mqdev_partition_info p[2];
	struct mqdev_topic_info info;
	int r, c;

	ASSERT_EQ(0, xioctl(self->fd, MQDEV_IOC_TOPIC_RESTORE, &self->req));
	EXPECT_EQ(-EEXIST, xioctl(self->fd, MQDEV_IOC_TOPIC_RESTORE,
				  &self->req));
	/* nobody but a replica, not even its owner or root, until opened */
	EXPECT_EQ(-EAGAIN, attach(self->name, MQDEV_ATTACH_CONSUME, NULL));
	EXPECT_EQ(EAGAIN, as_user(OWNER, try_attach, self->name));
	r = replica_of(self->name);
	ASSERT_LE(0, r);

	mqdev_name_set(open_req.name, self->name);
	EXPECT_EQ(0, xioctl(self->fd, MQDEV_IOC_TOPIC_OPEN, &open_req));
	ASSERT_EQ(0, mqdev_topic_describe(self->fd, self->name, &info, p, 2));
	EXPECT_EQ(OWNER, info.uid);
	EXPECT_EQ(OWNER, info.gid);
	EXPECT_EQ(0640, info.mode);
	EXPECT_EQ(100, p[0].next_offset);
	EXPECT_EQ(100, p[0].first_offset);
	EXPECT_EQ(100, p[0].high_watermark);
	EXPECT_EQ(7, p[1].next_offset);
	EXPECT_EQ(0, as_user(OWNER, try_attach, self->name));
	c = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, c);
	close(c);
	close(r);
}

TEST_F(restore, groups_come_back_with_their_owners)
{
	uint64_t offsets[2] = { 90, MQDEV_OFFSET_UNKNOWN };
	struct mqdev_group_restore g = {
		.uid = OWNER, .count = 2, .offsets = (uintptr_t)offsets,
	};
	struct mqdev_topic_id open_req = {};
	struct mqdev_group_join join = { .reset = MQDEV_SEEK_LATEST };
	struct mqdev_group_start starts[2];
	struct mqdev_group_assignment a = {
		.starts = (uintptr_t)starts, .starts_count = 2,
		.start_size = sizeof(starts[0]),
	};
	struct mqdev_group_commit commit = { .partition = 0 };
	struct mqdev_msg msg;
	struct mqdev_produce produce = {
		.msgs = (uintptr_t)&msg, .count = 1, .msg_size = sizeof(msg),
	};
	int r, c, p;

	ASSERT_EQ(0, xioctl(self->fd, MQDEV_IOC_TOPIC_RESTORE, &self->req));
	r = replica_of(self->name);
	ASSERT_LE(0, r);
	mqdev_name_set(g.name, "billing");
	/* on a handle that is no replica, past the end, the wrong count */
	EXPECT_EQ(-EBADFD, xioctl(self->fd, MQDEV_IOC_GROUP_RESTORE, &g));
	offsets[0] = 101;
	EXPECT_EQ(-ERANGE, xioctl(r, MQDEV_IOC_GROUP_RESTORE, &g));
	offsets[0] = 90;
	g.count = 1;
	EXPECT_EQ(-EINVAL, xioctl(r, MQDEV_IOC_GROUP_RESTORE, &g));
	g.count = 2;
	EXPECT_EQ(0, xioctl(r, MQDEV_IOC_GROUP_RESTORE, &g));
	EXPECT_EQ(-EEXIST, xioctl(r, MQDEV_IOC_GROUP_RESTORE, &g));

	mqdev_name_set(open_req.name, self->name);
	ASSERT_EQ(0, xioctl(self->fd, MQDEV_IOC_TOPIC_OPEN, &open_req));
	mqdev_name_set(g.name, "late");
	EXPECT_EQ(-EBUSY, xioctl(r, MQDEV_IOC_GROUP_RESTORE, &g));

	/* root joins the owner's group: the owner's offsets are there */
	c = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, c);
	mqdev_name_set(join.group, "billing");
	ASSERT_EQ(0, xioctl(c, MQDEV_IOC_GROUP_JOIN, &join));
	ASSERT_EQ(0, xioctl(c, MQDEV_IOC_GROUP_ASSIGNMENT, &a));
	EXPECT_EQ(2, a.count);
	/* older than the ring: kept as it was, for the history */
	EXPECT_EQ(90, starts[0].offset);
	/* never committed: the earliest there is */
	EXPECT_EQ(7, starts[1].offset);

	/*
	 * Read from the history up to the ring, then commit the ring's first
	 * record's offset: that record is still to be read (the position
	 * older than the ring is no record's to walk from).
	 */
	p = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, p);
	mqdev_msg_init(&msg, NULL, 0, "v", 1, 0);
	ASSERT_EQ(1, ioctl(p, MQDEV_IOC_PRODUCE, &produce));
	ASSERT_EQ(1, ioctl(p, MQDEV_IOC_PRODUCE, &produce));
	commit.generation = join.generation;
	commit.offset = 100;
	ASSERT_EQ(0, xioctl(c, MQDEV_IOC_GROUP_COMMIT, &commit));
	ASSERT_EQ(0, xioctl(c, MQDEV_IOC_GROUP_ASSIGNMENT, &a));
	EXPECT_EQ(100, starts[0].offset);
	close(p);
	close(c);
	close(r);
}

static int join_billing(void *name)
{
	struct mqdev_group_join join = { .reset = MQDEV_SEEK_EARLIEST };
	int fd = attach(name, MQDEV_ATTACH_CONSUME, NULL);

	if (fd < 0)
		return -fd;
	mqdev_name_set(join.group, "billing");
	return -xioctl(fd, MQDEV_IOC_GROUP_JOIN, &join);
}

TEST_F(restore, a_restored_group_is_still_its_owners)
{
	uint64_t offsets[2] = { 100, 7 };
	struct mqdev_group_restore g = {
		.uid = OWNER, .count = 2, .offsets = (uintptr_t)offsets,
	};
	struct mqdev_topic_id open_req = {};
	int r;

	self->req.topic.mode = 0644;
	ASSERT_EQ(0, xioctl(self->fd, MQDEV_IOC_TOPIC_RESTORE, &self->req));
	r = replica_of(self->name);
	ASSERT_LE(0, r);
	mqdev_name_set(g.name, "billing");
	ASSERT_EQ(0, xioctl(r, MQDEV_IOC_GROUP_RESTORE, &g));
	mqdev_name_set(open_req.name, self->name);
	ASSERT_EQ(0, xioctl(self->fd, MQDEV_IOC_TOPIC_OPEN, &open_req));
	EXPECT_EQ(0, as_user(OWNER, join_billing, self->name));
	EXPECT_EQ(EPERM, as_user(OTHER_UID, join_billing, self->name));
	close(r);
}

/* A named producer's resend across the restart is a duplicate. */
TEST_F(restore, producers_resend_as_duplicates)
{
	struct mqdev_seq_restore seqs[2] = {
		{ .sequence = 3, .offset = 98 }, { .sequence = 4, .offset = 99 },
	};
	struct mqdev_producer_restore pr = {
		.producer_id = (1ULL << 40), .partition = 0, .next_seq = 5,
		.entries = (uintptr_t)seqs, .count = 2,
		.entry_size = sizeof(seqs[0]), .uid = OWNER,
	};
	struct mqdev_identity_state id = {
		.producer_id = (1ULL << 40), .epoch = 3, .uid = OWNER,
	};
	struct mqdev_identity_state listed[64];
	struct mqdev_identity_list list = {
		.states = (uintptr_t)listed, .count = 64,
		.state_size = sizeof(listed[0]),
	};
	struct mqdev_producer_init init = {}, anon = {};
	struct mqdev_topic_id open_req = {};
	uint32_t next[2];
	struct mqdev_producer_bind bind = {
		.next_seq = (uintptr_t)next, .next_seq_count = 2,
		.seq_size = sizeof(next[0]),
	};
	struct mqdev_msg msg;
	struct mqdev_produce produce = {
		.msgs = (uintptr_t)&msg, .count = 1, .msg_size = sizeof(msg),
	};
	int r, s, p, a;
	unsigned int i;
	bool found = false;

	/* an id a live producer has, or one near the top, is refused */
	snprintf(id.name, sizeof(id.name), "writer-%d", getpid());
	a = mqdev_open();
	ASSERT_LE(0, a);
	ASSERT_EQ(0, xioctl(a, MQDEV_IOC_PRODUCER_INIT, &anon));
	close(a);
	id.producer_id = anon.producer_id;
	EXPECT_EQ(-EEXIST, xioctl(self->fd, MQDEV_IOC_IDENTITY_RESTORE, &id));
	memset(&anon, 0, sizeof(anon));
	id.producer_id = MQDEV_MAX_PRODUCER_ID + 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, MQDEV_IOC_IDENTITY_RESTORE, &id));
	id.producer_id = 1ULL << 40;

	ASSERT_EQ(0, xioctl(self->fd, MQDEV_IOC_TOPIC_RESTORE, &self->req));
	r = replica_of(self->name);
	ASSERT_LE(0, r);
	/* a window that does not end before next_seq is refused */
	seqs[1].sequence = 5;
	EXPECT_EQ(-EINVAL, xioctl(r, MQDEV_IOC_PRODUCER_RESTORE, &pr));
	seqs[1].sequence = 4;
	EXPECT_EQ(-EBADFD, xioctl(self->fd, MQDEV_IOC_PRODUCER_RESTORE, &pr));
	ASSERT_EQ(0, xioctl(r, MQDEV_IOC_PRODUCER_RESTORE, &pr));

	snprintf(id.name, sizeof(id.name), "writer-%d", getpid());
	EXPECT_EQ(EPERM, as_user(OWNER, try_identity_restore, &id));
	ASSERT_EQ(0, xioctl(self->fd, MQDEV_IOC_IDENTITY_RESTORE, &id));
	EXPECT_EQ(-EEXIST, xioctl(self->fd, MQDEV_IOC_IDENTITY_RESTORE, &id));
	ASSERT_EQ(0, xioctl(self->fd, MQDEV_IOC_IDENTITY_LIST, &list));
	for (i = 0; i < list.count && i < 64; i++)
		if (!strcmp(listed[i].name, id.name))
			found = listed[i].producer_id == (1ULL << 40) &&
				listed[i].epoch == 3 && listed[i].uid == OWNER;
	EXPECT_TRUE(found);

	mqdev_name_set(open_req.name, self->name);
	ASSERT_EQ(0, xioctl(self->fd, MQDEV_IOC_TOPIC_OPEN, &open_req));

	/* the name's session: its id, a new epoch, its sequences */
	s = mqdev_open();
	ASSERT_LE(0, s);
	memcpy(init.name, id.name, sizeof(init.name));
	ASSERT_EQ(0, xioctl(s, MQDEV_IOC_PRODUCER_INIT, &init));
	EXPECT_EQ((1ULL << 40), init.producer_id);
	EXPECT_EQ(4, init.epoch);
	p = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, p);
	bind.session_fd = s;
	ASSERT_EQ(0, xioctl(p, MQDEV_IOC_PRODUCER_BIND, &bind));
	EXPECT_EQ(5, next[0]);
	EXPECT_EQ(0, next[1]);

	mqdev_msg_init(&msg, NULL, 0, "again", 5, 0);
	msg.sequence = 4;
	ASSERT_EQ(1, ioctl(p, MQDEV_IOC_PRODUCE, &produce));
	EXPECT_EQ(MQDEV_MSG_DUPLICATE, msg.status);
	EXPECT_EQ(99, msg.offset);
	mqdev_msg_init(&msg, NULL, 0, "new", 3, 0);
	msg.sequence = 5;
	ASSERT_EQ(1, ioctl(p, MQDEV_IOC_PRODUCE, &produce));
	EXPECT_EQ(0, msg.status);
	EXPECT_EQ(100, msg.offset);

	/* ids handed out afterwards are above every restored one */
	a = mqdev_open();
	ASSERT_LE(0, a);
	ASSERT_EQ(0, xioctl(a, MQDEV_IOC_PRODUCER_INIT, &anon));
	EXPECT_LT((1ULL << 40), anon.producer_id);
	close(a);
	close(p);
	close(s);
	close(r);
}

/* ---- group commits that wait for the replica ---- */

struct commit_args {
	int fd;
	struct mqdev_group_commit req;
};

static long do_commit(void *arg)
{
	struct commit_args *a = arg;

	return xioctl(a->fd, MQDEV_IOC_GROUP_COMMIT, &a->req);
}

static int replica_groups(int r, void *buf, size_t state_size, uint32_t room,
			  uint64_t *serial)
{
	struct mqdev_replica_groups req = {
		.states = (uintptr_t)buf, .count = room,
		.state_size = state_size,
	};
	int err = xioctl(r, MQDEV_IOC_REPLICA_GROUPS, &req);

	if (err)
		return err;
	*serial = req.serial;
	return req.count;
}

static int confirm_groups(int r, uint64_t serial)
{
	struct mqdev_replica_confirm req = {
		.flags = MQDEV_CONFIRM_GROUPS, .offset = serial,
	};

	return xioctl(r, MQDEV_IOC_REPLICA_CONFIRM, &req);
}

static short revents(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLPRI };

	return poll(&pfd, 1, 0) == 1 ? pfd.revents : 0;
}

TEST(commits_wait_for_the_replica)
{
	const char *name = topic_name("commitwait");
	struct mqdev_group_join join = { .reset = MQDEV_SEEK_EARLIEST };
	struct mqdev_replica_confirm rc = {};
	struct commit_args a;
	struct {
		struct mqdev_group_state st;
		uint64_t committed[1];
	} states[4];
	uint64_t serial = 0;
	struct call c;
	int fd = mqdev_open(), r, p;
	char v = 'v';
	struct mqdev_msg msg;
	struct mqdev_produce produce = {
		.msgs = (uintptr_t)&msg, .count = 1, .msg_size = sizeof(msg),
	};

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, create_topic(fd, name, 1, 64 * 1024,
				  MQDEV_TOPIC_DURABLE));
	p = attach(name, MQDEV_ATTACH_PRODUCE, NULL);
	r = replica_of(name);
	a.fd = attach(name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, p);
	ASSERT_LE(0, r);
	ASSERT_LE(0, a.fd);
	mqdev_msg_init(&msg, NULL, 0, &v, 1, 0);
	ASSERT_EQ(1, ioctl(p, MQDEV_IOC_PRODUCE, &produce));
	ASSERT_EQ(1, ioctl(p, MQDEV_IOC_PRODUCE, &produce));
	mqdev_name_set(join.group, "slow");
	ASSERT_EQ(0, xioctl(a.fd, MQDEV_IOC_GROUP_JOIN, &join));

	/* not a replica; a serial not reached */
	EXPECT_EQ(-EBADF, replica_groups(a.fd, states, sizeof(states[0]), 4,
					 &serial));
	ASSERT_LE(1, replica_groups(r, states, sizeof(states[0]), 4, &serial));
	EXPECT_EQ(-ERANGE, confirm_groups(r, serial + 1));
	EXPECT_EQ(0, confirm_groups(r, serial));
	EXPECT_FALSE(revents(r) & POLLPRI);

	/* with no replica in sync a commit does not wait */
	a.req = (struct mqdev_group_commit){
		.partition = 0, .generation = join.generation, .offset = 1,
	};
	EXPECT_EQ(0, do_commit(&a));
	EXPECT_TRUE(revents(r) & POLLPRI);

	/* with one in sync it waits for the replica to keep it */
	rc.offset = 2;
	ASSERT_EQ(0, xioctl(r, MQDEV_IOC_REPLICA_CONFIRM, &rc));
	a.req.offset = 2;
	ASSERT_EQ(0, call_start(&c, do_commit, &a));
	EXPECT_FALSE(call_done(&c, 300));
	EXPECT_TRUE(revents(r) & POLLPRI);
	ASSERT_EQ(1, replica_groups(r, states, sizeof(states[0]), 4, &serial));
	EXPECT_STREQ("slow", states[0].st.name);
	EXPECT_EQ(0, states[0].st.uid);
	EXPECT_EQ(2, states[0].committed[0]);
	EXPECT_EQ(0, confirm_groups(r, serial));
	EXPECT_TRUE(call_done(&c, 2000));
	pthread_join(c.thread, NULL);
	EXPECT_EQ(0, c.ret);
	EXPECT_FALSE(revents(r) & POLLPRI);

	close(a.fd);
	close(r);
	close(p);
	EXPECT_EQ(0, mqdev_topic_delete(fd, name));
	close(fd);
}

/* ---- scheduled messages and the TTL -------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sched_req(struct mqdev_sched_restore *req, uint64_t id,
		      uint64_t due, uint32_t part, const char *value)
{
	memset(req, 0, sizeof(*req));
	mqdev_msg_init(&req->msg, NULL, 0, value, strlen(value), part);
	req->id = id;
	req->due = due;
	req->uid = OWNER;
}

static int try_sched_restore(void *arg)
{
	struct { int fd; struct mqdev_sched_restore *req; } *a = arg;

	return -xioctl(a->fd, MQDEV_IOC_SCHED_RESTORE, a->req);
}

/* One delayed message, as the owner: its -errno, as an exit status. */
static int try_schedule(void *name)
{
	struct mqdev_schedule req = { .at = 60000000000LL,
				      .flags = MQDEV_SCHED_RELATIVE };
	int fd = attach(name, MQDEV_ATTACH_PRODUCE, NULL);

	if (fd < 0)
		return 100;
	mqdev_msg_init(&req.msg, NULL, 0, "x", 1, 0);
	return -xioctl(fd, MQDEV_IOC_SCHEDULE, &req);
}

static uint64_t sched_count(int cfd, struct mqdev_sched_info *infos,
			    uint32_t room)
{
	struct mqdev_sched_list l = {
		.entries = (uintptr_t)infos, .count = room,
		.entry_size = sizeof(*infos),
	};

	return xioctl(cfd, MQDEV_IOC_SCHED_LIST, &l) ? ~0ULL : l.scheduled;
}

static int snapshot(int r, void *buf, uint32_t size, uint32_t flags,
		    uint64_t *ends, uint32_t nends,
		    struct mqdev_sched_snapshot *out)
{
	memset(out, 0, sizeof(*out));
	out->buf = (uintptr_t)buf;
	out->size = size;
	out->flags = flags;
	out->ends = (uintptr_t)ends;
	out->ends_count = nends;
	return xioctl(r, MQDEV_IOC_SCHED_SNAPSHOT, out);
}

/* The value of the next record of @cfd's partition within @ms, or "". */
static void next_value(int cfd, char *buf, size_t len, int ms, uint64_t *ts)
{
	static char rbuf[4096];
	const struct mqdev_record *rec = (const void *)rbuf;
	struct pollfd pfd = { .fd = cfd, .events = POLLIN };
	ssize_t n = -1;

	buf[0] = '\0';
	if (poll(&pfd, 1, ms) == 1)
		n = read(cfd, rbuf, MQDEV_RECORD_SPACE(sizeof(*rec) + 64));
	if (n <= 0)
		return;
	snprintf(buf, len, "%.*s", (int)mqdev_record_value_len(rec),
		 (const char *)mqdev_record_value(rec));
	*ts = rec->timestamp;
}

/*
 * Bad requests to SCHED_RESTORE: each refused, nothing scheduled.  A
 * replica handle @r of the topic being restored.
 */
static void sched_restore_refusals(struct __test_metadata *_metadata,
				   int r, uint64_t now)
{
	static char big[128 * 1024];
	struct mqdev_sched_restore req;
	struct { int fd; struct mqdev_sched_restore *req; } a = { r, &req };

	sched_req(&req, 1, now, 0, "v");
	EXPECT_EQ(EPERM, as_user(OWNER, try_sched_restore, &a));
	req.flags = 1;
	EXPECT_EQ(-EINVAL, xioctl(r, MQDEV_IOC_SCHED_RESTORE, &req));
	sched_req(&req, 1, now, 0, "v");
	req.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, xioctl(r, MQDEV_IOC_SCHED_RESTORE, &req));
	sched_req(&req, 0, now, 0, "v");		/* no id */
	EXPECT_EQ(-EINVAL, xioctl(r, MQDEV_IOC_SCHED_RESTORE, &req));
	sched_req(&req, 1ULL << 32, now, 0, "v");	/* past 32 bits */
	EXPECT_EQ(-EINVAL, xioctl(r, MQDEV_IOC_SCHED_RESTORE, &req));
	sched_req(&req, 1, now, 2, "v");		/* no partition 2 */
	EXPECT_EQ(-EINVAL, xioctl(r, MQDEV_IOC_SCHED_RESTORE, &req));
	sched_req(&req, 1, now, MQDEV_PARTITION_ANY, "v");
	EXPECT_EQ(-EINVAL, xioctl(r, MQDEV_IOC_SCHED_RESTORE, &req));
	sched_req(&req, 1, now, 0, "v");
	req.uid = (uint32_t)-1;				/* no such user */
	EXPECT_EQ(-EINVAL, xioctl(r, MQDEV_IOC_SCHED_RESTORE, &req));
	sched_req(&req, 1, now + MQDEV_SCHED_MAX_DELAY + 60000000000ULL, 0,
		  "v");
	EXPECT_EQ(-ERANGE, xioctl(r, MQDEV_IOC_SCHED_RESTORE, &req));
	sched_req(&req, 1, now, 0, "v");
	req.msg.value = (uintptr_t)big;			/* past max_record */
	req.msg.value_len = sizeof(big);
	EXPECT_EQ(-EMSGSIZE, xioctl(r, MQDEV_IOC_SCHED_RESTORE, &req));
	sched_req(&req, 1, now, 0, "v");
	req.msg.value = 8;				/* not mapped */
	EXPECT_EQ(-EFAULT, xioctl(r, MQDEV_IOC_SCHED_RESTORE, &req));
	EXPECT_EQ(0, sched_count(r, NULL, 0));
}

/* Bad requests to SCHED_SNAPSHOT, on replica @r and consumer @c. */
static void snapshot_refusals(struct __test_metadata *_metadata, int r, int c)
{
	struct mqdev_sched_snapshot s;
	uint64_t ends[2];
	char buf[256];

	EXPECT_EQ(-EBADF, snapshot(c, buf, sizeof(buf), 0, NULL, 0, &s));
	EXPECT_EQ(-EINVAL, snapshot(r, buf, sizeof(buf), 2, NULL, 0, &s));
	EXPECT_EQ(-EINVAL, snapshot(r, buf, sizeof(buf), 0, ends, 1, &s));
	EXPECT_EQ(-EINVAL, snapshot(r, buf, sizeof(buf), 0, NULL, 2, &s));
	EXPECT_EQ(-EMSGSIZE, snapshot(r, buf, MQDEV_SCHED_SNAPSHOT_MAX + 1, 0,
				      NULL, 0, &s));
	memset(&s, 0, sizeof(s));
	s.buf = (uintptr_t)buf;
	s.size = sizeof(buf);
	s.reserved2 = 1;
	EXPECT_EQ(-EINVAL, xioctl(r, MQDEV_IOC_SCHED_SNAPSHOT, &s));
}

/* The snapshot of the three restored messages: whole, and page by page. */
static void snapshot_check(struct __test_metadata *_metadata, int r,
			   uint64_t now)
{
	const size_t space = MQDEV_SCHED_ENTRY_SPACE(0, 2);
	const struct mqdev_sched_info *e;
	struct mqdev_sched_snapshot s;
	uint64_t ends[2];
	char buf[1024];

	ASSERT_EQ(0, snapshot(r, buf, sizeof(buf), 0, ends, 2, &s));
	EXPECT_EQ(3, s.count);
	EXPECT_EQ(3 * space, s.size);
	EXPECT_EQ(0, s.next);
	EXPECT_EQ(100, ends[0]);
	EXPECT_EQ(7, ends[1]);
	e = (const void *)buf;
	EXPECT_EQ(3, e->id);
	EXPECT_EQ(1, e->partition);
	EXPECT_EQ(OWNER, e->uid);
	EXPECT_EQ(2, e->value_len);
	EXPECT_EQ(0, memcmp(e + 1, "s1", 2));
	e = (const void *)(buf + space);
	EXPECT_EQ(5, e->id);
	EXPECT_EQ(now + 4000000000ULL, e->due);
	EXPECT_EQ(0, memcmp(e + 1, "s2", 2));
	e = (const void *)(buf + 2 * space);
	EXPECT_EQ(9, e->id);
	EXPECT_EQ(0, memcmp(e + 1, "s3", 2));

	/* one at a time, resumed by id; too small for one: what it needs */
	ASSERT_EQ(0, snapshot(r, buf, space, 0, NULL, 0, &s));
	EXPECT_EQ(1, s.count);
	EXPECT_EQ(5, s.next);
	ASSERT_EQ(0, snapshot(r, buf, 8, 0, NULL, 0, &s));
	EXPECT_EQ(0, s.count);
	EXPECT_EQ(3, s.next);
	EXPECT_EQ(space, s.need);
}

/*
 * While replica @r holds @name: neither a probe of the serials (no room)
 * nor another replica's snapshot lets go; a SCHEDULE, a SCHED_CANCEL and a
 * TTL are refused with EAGAIN, as they could not be in the held snapshot.
 */
static void held_refusals(struct __test_metadata *_metadata, int fd,
			  const char *name, int r)
{
	struct mqdev_sched_snapshot s;
	struct mqdev_sched_cancel cancel = { .id = 5 };
	char buf[256];
	int r2 = replica_of(name), p = attach(name, MQDEV_ATTACH_PRODUCE, NULL);

	ASSERT_LE(0, r2);
	ASSERT_LE(0, p);
	ASSERT_EQ(0, snapshot(r, NULL, 0, 0, NULL, 0, &s));
	ASSERT_EQ(0, snapshot(r2, buf, sizeof(buf), 0, NULL, 0, &s));
	EXPECT_EQ(EAGAIN, as_user(OWNER, try_schedule, (void *)name));
	EXPECT_EQ(-EAGAIN, xioctl(p, MQDEV_IOC_SCHED_CANCEL, &cancel));
	EXPECT_EQ(-EAGAIN, mqdev_topic_set_ttl(fd, name, 1000000000ULL));
	close(p);
	close(r2);
}

/*
 * A replica brings back three scheduled messages with their ids, due
 * times and owner (charged to it again), and the TTL; each is appended at
 * its due time (one already past at once), once; a hold stops them until
 * let go.  Bad requests to either ioctl change nothing.
 */
TEST_F(restore, scheduled_messages_and_the_ttl_come_back)
{
	struct mqdev_topic_id open_req = {};
	struct mqdev_sched_snapshot s;
	struct mqdev_sched_info infos[4];
	struct mqdev_sched_restore req;
	uint64_t now = now_ns(), ttl = 0, ts = 0, due;
	unsigned long was = get_param("max_user_scheduled");
	char v[16], snap[256];
	int r, c0, c1;

	self->req.ttl_ns = 5000000000ULL;
	ASSERT_EQ(0, xioctl(self->fd, MQDEV_IOC_TOPIC_RESTORE, &self->req));
	r = replica_of(self->name);
	ASSERT_LE(0, r);
	sched_restore_refusals(_metadata, r, now);

	sched_req(&req, 5, now + 4000000000ULL, 0, "s2");
	ASSERT_EQ(0, xioctl(r, MQDEV_IOC_SCHED_RESTORE, &req));
	EXPECT_EQ(-EEXIST, xioctl(r, MQDEV_IOC_SCHED_RESTORE, &req));
	sched_req(&req, 3, now - 1000000000ULL, 1, "s1");	/* past */
	ASSERT_EQ(0, xioctl(r, MQDEV_IOC_SCHED_RESTORE, &req));
	sched_req(&req, 9, now + 6000000000ULL, 0, "s3");
	ASSERT_EQ(0, xioctl(r, MQDEV_IOC_SCHED_RESTORE, &req));
	ASSERT_EQ(3, sched_count(r, infos, 4));
	EXPECT_EQ(3, infos[0].id);
	EXPECT_EQ(OWNER, infos[1].uid);
	EXPECT_EQ(now + 4000000000ULL, infos[1].due);
	EXPECT_EQ(9, infos[2].id);
	snapshot_check(_metadata, r, now);

	mqdev_name_set(open_req.name, self->name);
	ASSERT_EQ(0, xioctl(self->fd, MQDEV_IOC_TOPIC_OPEN, &open_req));
	sched_req(&req, 11, now, 0, "late");			/* open now */
	EXPECT_EQ(-EBUSY, xioctl(r, MQDEV_IOC_SCHED_RESTORE, &req));
	EXPECT_EQ(0, mqdev_topic_get_ttl(self->fd, self->name, &ttl));
	EXPECT_EQ(5000000000ULL, ttl);

	c0 = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	c1 = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, c0);
	ASSERT_LE(0, c1);
	snapshot_refusals(_metadata, r, c0);
	ASSERT_EQ(0, seek(c0, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
	ASSERT_EQ(0, seek(c1, 1, MQDEV_SEEK_EARLIEST, NULL, 0));
	fcntl(c0, F_SETFL, O_NONBLOCK);
	fcntl(c1, F_SETFL, O_NONBLOCK);

	/* the one due before the restore comes at once */
	next_value(c1, v, sizeof(v), 2000, &ts);
	EXPECT_STREQ("s1", v);
	/* the other two are charged to their owner: with room for 2, no more */
	ASSERT_EQ(2, sched_count(r, NULL, 0));
	ASSERT_EQ(0, set_param("max_user_scheduled", 2));
	EXPECT_EQ(EDQUOT, as_user(OWNER, try_schedule, self->name));
	set_param("max_user_scheduled", was);
	/* held: s2 does not come at its due time */
	ASSERT_EQ(0, snapshot(r, NULL, 0, MQDEV_SCHED_SNAPSHOT_HOLD, NULL, 0,
			      &s));
	held_refusals(_metadata, self->fd, self->name, r);
	due = now + 4000000000ULL;
	next_value(c0, v, sizeof(v), (due - now_ns()) / 1000000 + 500, &ts);
	EXPECT_STREQ("", v);
	EXPECT_EQ(2, sched_count(r, NULL, 0));
	/* let go (a call with room): s2, then s3 at its time, each once */
	ASSERT_EQ(0, snapshot(r, snap, sizeof(snap), 0, NULL, 0, &s));
	EXPECT_EQ(2, s.count);
	next_value(c0, v, sizeof(v), 2000, &ts);
	EXPECT_STREQ("s2", v);
	next_value(c0, v, sizeof(v), 3000, &ts);
	EXPECT_STREQ("s3", v);
	EXPECT_LE(now + 6000000000ULL, ts);
	next_value(c0, v, sizeof(v), 300, &ts);
	EXPECT_STREQ("", v);
	next_value(c1, v, sizeof(v), 10, &ts);
	EXPECT_STREQ("", v);
	EXPECT_EQ(0, sched_count(r, NULL, 0));
	close(c0);
	close(c1);
	close(r);
}

/*
 * A retry the kernel scheduled (GROUP_RECONSUME) comes back with its flag,
 * which only the kernel and a restore set; a dead letter's flag is
 * refused, as from any producer.
 */
TEST_F(restore, a_kernel_retry_comes_back_with_its_flag)
{
	const struct mqdev_sched_info *e;
	struct mqdev_sched_snapshot s;
	struct mqdev_sched_restore req;
	char buf[256];
	int r;

	ASSERT_EQ(0, xioctl(self->fd, MQDEV_IOC_TOPIC_RESTORE, &self->req));
	r = replica_of(self->name);
	ASSERT_LE(0, r);
	sched_req(&req, 7, now_ns() + 60000000000ULL, 0, "retry");
	req.msg.flags = MQDEV_RECORD_DEAD_LETTER;
	EXPECT_EQ(-EINVAL, xioctl(r, MQDEV_IOC_SCHED_RESTORE, &req));
	req.msg.flags = MQDEV_RECORD_RETRY;
	ASSERT_EQ(0, xioctl(r, MQDEV_IOC_SCHED_RESTORE, &req));
	ASSERT_EQ(0, snapshot(r, buf, sizeof(buf), 0, NULL, 0, &s));
	ASSERT_EQ(1, s.count);
	e = (const void *)buf;
	EXPECT_EQ(7, e->id);
	EXPECT_EQ(MQDEV_RECORD_RETRY, e->flags);
	close(r);
}

/*
 * A snapshot of more messages than it copies under one hold of the lock
 * (64) has each once, in the order of their ids.
 */
TEST_F(restore, a_long_snapshot_has_each_once)
{
	static char buf[300 * MQDEV_SCHED_ENTRY_SPACE(0, 8)];
	const struct mqdev_sched_info *e;
	struct mqdev_sched_snapshot s;
	struct mqdev_sched_restore req;
	uint64_t due = now_ns() + 60000000000ULL;
	int r, i;

	ASSERT_EQ(0, xioctl(self->fd, MQDEV_IOC_TOPIC_RESTORE, &self->req));
	r = replica_of(self->name);
	ASSERT_LE(0, r);
	for (i = 1; i <= 300; i++) {
		sched_req(&req, i, due + 300 - i, i % 2, "8 bytes!");
		ASSERT_EQ(0, xioctl(r, MQDEV_IOC_SCHED_RESTORE, &req));
	}
	ASSERT_EQ(0, snapshot(r, buf, sizeof(buf), 0, NULL, 0, &s));
	ASSERT_EQ(300, s.count);
	EXPECT_EQ(0, s.next);
	EXPECT_EQ(sizeof(buf), s.size);
	for (i = 0; i < 300; i++) {
		e = (const void *)(buf + i * MQDEV_SCHED_ENTRY_SPACE(0, 8));
		EXPECT_EQ(i + 1, e->id);
		EXPECT_EQ(due + 299 - i, e->due);
	}
	close(r);
}

/* ---- a durable topic's schedule waits for the replica, as a commit does -- */

struct sched_args {
	int fd;
	struct mqdev_schedule req;
	struct mqdev_sched_cancel cancel;
};

static long do_schedule(void *arg)
{
	struct sched_args *a = arg;

	return xioctl(a->fd, MQDEV_IOC_SCHEDULE, &a->req);
}

static long do_cancel(void *arg)
{
	struct sched_args *a = arg;

	return xioctl(a->fd, MQDEV_IOC_SCHED_CANCEL, &a->cancel);
}

/* The serial a snapshot of @r says, and how many messages it has. */
static int snap_serial(int r, uint64_t *serial)
{
	struct mqdev_sched_snapshot s;
	char buf[1024];
	int err = snapshot(r, buf, sizeof(buf), 0, NULL, 0, &s);

	*serial = s.serial;
	return err ? err : (int)s.count;
}

static uint64_t serial_now(int r)
{
	uint64_t serial = 0;

	snap_serial(r, &serial);
	return serial;
}

/* @c returns only once replica @r confirmed; then it returned @want. */
static void wait_for_replica(struct __test_metadata *_metadata, int r,
			     struct call *c, int count, long want)
{
	uint64_t serial;

	EXPECT_FALSE(call_done(c, 300));
	EXPECT_TRUE(revents(r) & POLLPRI);
	EXPECT_EQ(count, snap_serial(r, &serial));
	EXPECT_EQ(0, confirm_groups(r, serial));
	EXPECT_TRUE(call_done(c, 2000));
	pthread_join(c->thread, NULL);
	EXPECT_EQ(want, c->ret);
	EXPECT_FALSE(revents(r) & POLLPRI);
}

/*
 * A durable topic @name of one partition, a producer in @a and its
 * replica, returned, in sync if @in_sync.
 */
static int sched_topic(struct __test_metadata *_metadata, int fd,
		       const char *name, struct sched_args *a, bool in_sync)
{
	struct mqdev_replica_confirm rc = {};
	int r;

	ASSERT_EQ(0, create_topic(fd, name, 1, 64 * 1024,
				  MQDEV_TOPIC_DURABLE));
	r = replica_of(name);
	a->fd = attach(name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, r);
	ASSERT_LE(0, a->fd);
	if (in_sync)
		ASSERT_EQ(0, xioctl(r, MQDEV_IOC_REPLICA_CONFIRM, &rc));
	return r;
}

/*
 * With a replica in sync, SCHEDULE and SCHED_CANCEL return once it kept
 * the change; a message appended at its due time is a change too (its
 * replica drops it from what it keeps), which nobody waits for.
 */
TEST(schedules_wait_for_the_replica)
{
	const char *name = topic_name("schedwait");
	struct mqdev_sched_snapshot s;
	struct sched_args a = {};
	uint64_t serial, kept;
	struct call c;
	int fd = mqdev_open(), r, i;

	ASSERT_LE(0, fd);
	r = sched_topic(_metadata, fd, name, &a, true);

	a.req.at = 60000000000LL;
	a.req.flags = MQDEV_SCHED_RELATIVE;
	mqdev_msg_init(&a.req.msg, NULL, 0, "later", 5, 0);
	ASSERT_EQ(0, call_start(&c, do_schedule, &a));
	wait_for_replica(_metadata, r, &c, 1, 0);

	a.cancel.id = a.req.id;
	ASSERT_EQ(0, call_start(&c, do_cancel, &a));
	wait_for_replica(_metadata, r, &c, 0, 0);
	/* the last change was theirs: nothing copied, the serial says it */
	ASSERT_EQ(0, snapshot(r, NULL, 0, 0, NULL, 0, &s));
	EXPECT_EQ(s.serial, s.changed);
	EXPECT_EQ(0, s.count);
	EXPECT_EQ(0, s.next);

	/* due in 1.5 s: kept, then appended, which bumps the serial again */
	a.req.at = 1500000000LL;
	ASSERT_EQ(0, call_start(&c, do_schedule, &a));
	wait_for_replica(_metadata, r, &c, 1, 0);
	kept = serial_now(r);
	for (i = 0; i < 80 && snap_serial(r, &serial); i++)
		usleep(50000);
	EXPECT_EQ(0, snap_serial(r, &serial));
	EXPECT_LT(kept, serial);
	EXPECT_TRUE(revents(r) & POLLPRI);
	EXPECT_EQ(0, confirm_groups(r, serial));
	EXPECT_FALSE(revents(r) & POLLPRI);

	close(a.fd);
	close(r);
	EXPECT_EQ(0, mqdev_topic_delete(fd, name));
	close(fd);
}

/*
 * A hold is its replica's: when that replica's handle is closed (a daemon
 * that stopped and was not followed by a reload, or crashed), it lasts
 * sched_hold_ms more, then the messages are appended again.
 */
TEST(a_hold_ends_when_its_replica_leaves)
{
	const char *name = topic_name("schedhold");
	unsigned long was = get_param("sched_hold_ms");
	struct mqdev_sched_snapshot s;
	struct sched_args a = {};
	uint64_t ts = 0, left;
	char v[16];
	int fd = mqdev_open(), r, c;

	ASSERT_LE(0, fd);
	r = sched_topic(_metadata, fd, name, &a, false);
	c = attach(name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, seek(c, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
	ASSERT_EQ(0, set_param("sched_hold_ms", 1500));

	/* not in sync: returns at once; due in 300 ms */
	a.req.at = 300000000LL;
	a.req.flags = MQDEV_SCHED_RELATIVE;
	mqdev_msg_init(&a.req.msg, NULL, 0, "held", 4, 0);
	ASSERT_EQ(0, do_schedule(&a));
	ASSERT_EQ(0, snapshot(r, NULL, 0, MQDEV_SCHED_SNAPSHOT_HOLD, NULL, 0,
			      &s));
	next_value(c, v, sizeof(v), 600, &ts);
	EXPECT_STREQ("", v);
	/*
	 * The replica leaves: still held for sched_hold_ms, then appended.
	 * The clock is read before close(): the hold's end is counted from
	 * inside it, and the rest of the release (a few ms on the debug
	 * kernel) must not count against the kernel.
	 */
	left = now_ns();
	close(r);
	EXPECT_EQ(-EAGAIN, do_schedule(&a));
	next_value(c, v, sizeof(v), 1000, &ts);
	EXPECT_STREQ("", v);
	next_value(c, v, sizeof(v), 2000, &ts);
	EXPECT_STREQ("held", v);
	EXPECT_LE(left + 1500000000ULL, ts);
	a.req.at = 0;
	EXPECT_EQ(0, do_schedule(&a));
	next_value(c, v, sizeof(v), 1000, &ts);
	EXPECT_STREQ("held", v);

	set_param("sched_hold_ms", was);
	close(c);
	close(a.fd);
	EXPECT_EQ(0, mqdev_topic_delete(fd, name));
	close(fd);
}

/*
 * A SCHEDULE that a signal cuts short while it waits for the replica was
 * made: its id, due time and partition come back with EINTR, so that a
 * retry need not schedule it twice.
 */
TEST(an_interrupted_schedule_says_its_id)
{
	const char *name = topic_name("schedintr");
	struct sigaction sa = { .sa_handler = caught_signal };
	struct mqdev_sched_info info;
	struct sched_args a = {};
	struct call c;
	int fd = mqdev_open(), r;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));	/* no SA_RESTART */
	r = sched_topic(_metadata, fd, name, &a, true);

	a.req.at = 60000000000LL;
	a.req.flags = MQDEV_SCHED_RELATIVE;
	mqdev_msg_init(&a.req.msg, NULL, 0, "intr", 4, MQDEV_PARTITION_ANY);
	ASSERT_EQ(0, call_start(&c, do_schedule, &a));
	EXPECT_FALSE(call_done(&c, 300));
	pthread_kill(c.thread, SIGUSR1);
	EXPECT_TRUE(call_done(&c, 2000));
	pthread_join(c.thread, NULL);
	EXPECT_EQ(-EINTR, c.ret);
	ASSERT_EQ(1, sched_count(r, &info, 1));
	EXPECT_NE(0, a.req.id);
	EXPECT_EQ(info.id, a.req.id);
	EXPECT_EQ(info.due, a.req.due);
	EXPECT_EQ(0, a.req.msg.partition);

	close(a.fd);
	close(r);
	EXPECT_EQ(0, mqdev_topic_delete(fd, name));
	close(fd);
}

TEST_HARNESS_MAIN
