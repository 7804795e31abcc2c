// SPDX-License-Identifier: GPL-2.0
/* Permissions: a topic has an owner and mode bits, checked like a file's. */
#include "common.h"
#include "kselftest_harness.h"

struct perm_case {
	const char *name;
	int produce, consume, describe, delete;	/* expected results */
};

static int try_all(void *arg)
{
	const struct perm_case *pc = arg;
	struct mqdev_topic_info info;
	int fd = mqdev_open(), got, fails = 0;

	if (fd < 0)
		return 100;
	got = attach(pc->name, MQDEV_ATTACH_PRODUCE, NULL);
	fails += got >= 0 ? pc->produce != 0 : pc->produce != got;
	if (got >= 0)
		close(got);
	got = attach(pc->name, MQDEV_ATTACH_CONSUME, NULL);
	fails += got >= 0 ? pc->consume != 0 : pc->consume != got;
	if (got >= 0)
		close(got);
	got = attach(pc->name, MQDEV_ATTACH_PRODUCE | MQDEV_ATTACH_CONSUME,
		     NULL);
	fails += got >= 0 ? (pc->produce || pc->consume) :
		 (!pc->produce && !pc->consume);
	if (got >= 0)
		close(got);
	got = mqdev_topic_describe(fd, pc->name, &info, NULL, 0);
	fails += got != pc->describe;
	got = mqdev_topic_delete(fd, pc->name);
	fails += got != pc->delete;
	close(fd);
	return fails;
}

FIXTURE(perm) {
	int fd;
	char name[MQDEV_NAME_MAX + 1];
};

FIXTURE_SETUP(perm)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("perm"));
}

FIXTURE_TEARDOWN(perm)
{
	mqdev_topic_delete(self->fd, self->name);
	close(self->fd);
}

static int create_mode(int fd, const char *name, uint32_t mode)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = 1, .capacity = 4096,
		      .mode = mode);

	return mqdev_topic_create(fd, name, &cfg);
}

TEST_F(perm, mode_bits_for_others)
{
	struct perm_case pc = { .name = self->name };

	ASSERT_EQ(0, create_mode(self->fd, self->name, 0600));
	pc.produce = pc.consume = pc.describe = -EACCES;
	pc.delete = -EPERM;
	EXPECT_EQ(0, as_user(USER_UID, try_all, &pc));
	ASSERT_EQ(0, mqdev_topic_delete(self->fd, self->name));

	ASSERT_EQ(0, create_mode(self->fd, self->name, 0602));
	pc.produce = 0;
	pc.consume = pc.describe = -EACCES;
	EXPECT_EQ(0, as_user(USER_UID, try_all, &pc));
	ASSERT_EQ(0, mqdev_topic_delete(self->fd, self->name));

	ASSERT_EQ(0, create_mode(self->fd, self->name, 0604));
	pc.produce = -EACCES;
	pc.consume = pc.describe = 0;
	EXPECT_EQ(0, as_user(USER_UID, try_all, &pc));
	/* nothing the user tried changed the topic */
	EXPECT_EQ(0, mqdev_topic_describe(self->fd, self->name,
					  &(struct mqdev_topic_info){}, NULL, 0));
}

static int create_own(void *arg)
{
	return -create_mode(mqdev_open(), arg, 0640);
}

static int delete_own(void *arg)
{
	return -mqdev_topic_delete(mqdev_open(), arg);
}

TEST_F(perm, owner_group_and_admin)
{
	struct perm_case pc = { .name = self->name };
	struct mqdev_topic_info info;

	/* a user's own topic: the owner bits, and only the owner deletes */
	ASSERT_EQ(0, as_user(USER_UID, create_own, self->name));
	ASSERT_EQ(0, mqdev_topic_describe(self->fd, self->name, &info, NULL, 0));
	EXPECT_EQ(USER_UID, info.uid);
	EXPECT_EQ(USER_UID, info.gid);
	EXPECT_EQ(0640, info.mode);

	pc.produce = pc.consume = pc.describe = -EACCES;
	pc.delete = -EPERM;
	EXPECT_EQ(0, as_user(OTHER_UID, try_all, &pc));
	EXPECT_EQ(0, as_user(USER_UID, delete_own, self->name));
	EXPECT_EQ(-ENOENT, mqdev_topic_describe(self->fd, self->name, &info,
						NULL, 0));

	/* root may delete anyone's topic */
	ASSERT_EQ(0, as_user(USER_UID, create_own, self->name));
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, self->name));
}

static int produce_to(void *arg)
{
	int fd = attach(arg, MQDEV_ATTACH_PRODUCE, NULL);

	if (fd < 0)
		return -fd;
	return produce_one(fd, 0, NULL, 0, "u", 1, NULL) == 0 ? 0 : 1;
}

/* Permission is checked when a handle attaches, as open() does. */
TEST_F(perm, checked_at_attach)
{
	int prod;

	ASSERT_EQ(0, create_mode(self->fd, self->name, 0622));
	EXPECT_EQ(0, as_user(USER_UID, produce_to, self->name));
	prod = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, prod);
	EXPECT_EQ(0, produce_one(prod, 0, NULL, 0, "r", 1, NULL));
	close(prod);
}

TEST_HARNESS_MAIN
