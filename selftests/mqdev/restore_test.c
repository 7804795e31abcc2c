// SPDX-License-Identifier: GPL-2.0
/*
 * Restoring a durable topic, as its disk replica does after the module was
 * loaded again: the topic with its owner and where each partition's log
 * stood, only replicas let in until it is opened; its groups with their
 * owners and offsets; producers' sequence numbers, so that a resend of what
 * was appended before is a duplicate; named producer identities; and group
 * commits that wait for the replica to keep them.
 */
#include <pthread.h>
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

TEST_HARNESS_MAIN
