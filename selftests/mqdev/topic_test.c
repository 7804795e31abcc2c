// SPDX-License-Identifier: GPL-2.0
/* Topics: create, list, describe, delete, and what bad input gets. */
#include "common.h"
#include "kselftest_harness.h"

FIXTURE(topic) {
	int fd;
};

FIXTURE_SETUP(topic)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(topic)
{
	close(self->fd);
}

TEST_F(topic, create_describe_delete)
{
	const char *name = topic_name("cdd");
	struct mqdev_partition_info parts[4];
	struct mqdev_topic_info info;
	int before = topic_count(self->fd);

	ASSERT_EQ(0, create_topic(self->fd, name, 3, 65536, 0));
	EXPECT_EQ(before + 1, topic_count(self->fd));

	memset(parts, 0xa5, sizeof(parts));
	ASSERT_EQ(0, mqdev_topic_describe(self->fd, name, &info, parts, 4));
	EXPECT_EQ(3, info.partitions);
	EXPECT_EQ(65536, info.capacity);
	EXPECT_EQ(0, info.flags);
	EXPECT_EQ(0644, info.mode);
	EXPECT_EQ(getuid(), info.uid);
	EXPECT_EQ(32768, info.max_record);
	EXPECT_EQ(0, parts[2].first_offset);
	EXPECT_EQ(0, parts[2].next_offset);
	EXPECT_EQ(0, parts[2].bytes_used);
	/* only three were asked for by the kernel: the fourth is untouched */
	EXPECT_EQ(0xa5a5a5a5a5a5a5a5ULL, parts[3].first_offset);

	EXPECT_EQ(-EEXIST, create_topic(self->fd, name, 1, 0, 0));
	ASSERT_EQ(0, mqdev_topic_delete(self->fd, name));
	EXPECT_EQ(before, topic_count(self->fd));
	EXPECT_EQ(-ENOENT, mqdev_topic_delete(self->fd, name));
	EXPECT_EQ(-ENOENT, mqdev_topic_describe(self->fd, name, &info, NULL, 0));
}

TEST_F(topic, defaults_and_list)
{
	const char *name = strdup(topic_name("list"));
	char (*names)[MQDEV_NAME_SIZE];
	struct mqdev_topic_info info;
	int n, i, found = 0;

	ASSERT_EQ(0, mqdev_topic_create(self->fd, name, NULL));
	ASSERT_EQ(0, mqdev_topic_describe(self->fd, name, &info, NULL, 0));
	EXPECT_EQ(1, info.partitions);
	EXPECT_EQ(1 << 20, info.capacity);

	n = mqdev_topic_list(self->fd, &names);
	ASSERT_LE(1, n);
	for (i = 0; i < n; i++)
		found += !strcmp(names[i], name);
	EXPECT_EQ(1, found);
	free(names);
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, name));
}

TEST_F(topic, bad_names)
{
	static const char *const bad[] = {
		"", "a b", "a/b", "ä", ".", "..", "x\n", "semi;colon",
		"0123456789012345678901234567890123456789012345678901234567890123X",
	};
	struct mqdev_topic_create req = { .partitions = 1 };
	int before = topic_count(self->fd);
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(req.name, 0, sizeof(req.name));
		strncpy(req.name, bad[i], sizeof(req.name) - 1);
		EXPECT_EQ(-EINVAL, xioctl(self->fd, MQDEV_IOC_TOPIC_CREATE, &req))
			TH_LOG("name '%s' was accepted", bad[i]);
	}
	/* 64 characters is the longest name */
	memset(req.name, 0, sizeof(req.name));
	memset(req.name, 'n', MQDEV_NAME_MAX);
	EXPECT_EQ(0, xioctl(self->fd, MQDEV_IOC_TOPIC_CREATE, &req));
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, req.name));
	/* the padding after the name is reserved */
	memset(req.name, 0, sizeof(req.name));
	strcpy(req.name, "pad");
	req.name[10] = 'x';
	EXPECT_EQ(-EINVAL, xioctl(self->fd, MQDEV_IOC_TOPIC_CREATE, &req));
	/* no terminating NUL at all */
	memset(req.name, 'z', sizeof(req.name));
	EXPECT_EQ(-EINVAL, xioctl(self->fd, MQDEV_IOC_TOPIC_CREATE, &req));
	EXPECT_EQ(before, topic_count(self->fd));
}

TEST_F(topic, bad_parameters)
{
	struct mqdev_topic_create req;
	int before = topic_count(self->fd);
	struct {
		uint32_t parts;
		uint64_t capacity;
		uint32_t flags, mode, min_insync;
	} bad[] = {
		{ 0, 0, 0, 0, 0 },			/* no partitions */
		{ 257, 0, 0, 0, 0 },			/* too many */
		{ 1, 3000, 0, 0, 0 },			/* not a power of two */
		{ 1, 2048, 0, 0, 0 },			/* under a page */
		{ 1, 1ULL << 40, 0, 0, 0 },		/* over the limit */
		{ 1, 0, 0x80, 0, 0 },			/* unknown flag */
		{ 1, 0, 0, 01000, 0 },			/* not permission bits */
		{ 1, 0, 0, 0, 1 },			/* min_insync, not durable */
		{ 1, 0, MQDEV_TOPIC_DURABLE | MQDEV_TOPIC_OVERWRITE, 0, 0 },
		{ 1, 0, MQDEV_TOPIC_DURABLE, 0, 65 },	/* past every limit */
	};
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&req, 0, sizeof(req));
		mqdev_name_set(req.name, topic_name("badparam"));
		req.partitions = bad[i].parts;
		req.capacity = bad[i].capacity;
		req.flags = bad[i].flags;
		req.mode = bad[i].mode;
		req.min_insync = bad[i].min_insync;
		EXPECT_EQ(-EINVAL, xioctl(self->fd, MQDEV_IOC_TOPIC_CREATE, &req))
			TH_LOG("case %u was accepted", i);
	}
	EXPECT_EQ(before, topic_count(self->fd));

	/* 256 partitions is the most */
	memset(&req, 0, sizeof(req));
	mqdev_name_set(req.name, topic_name("parts256"));
	req.partitions = 256;
	req.capacity = 4096;
	EXPECT_EQ(0, xioctl(self->fd, MQDEV_IOC_TOPIC_CREATE, &req));
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, req.name));
}

TEST_F(topic, bad_ioctls)
{
	struct mqdev_topic_id id = {};
	struct {
		struct mqdev_topic_create req;
		uint64_t tail;
	} big = {};
	const char *name = topic_name("ioctl");
	struct mqdev_topic_list list = {};
	int before = topic_count(self->fd);

	EXPECT_EQ(-1, ioctl(self->fd, _IO(MQDEV_IOC_MAGIC, 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, _IO('T', 0x01)));
	EXPECT_EQ(ENOTTY, errno);

	/* bad user pointers */
	EXPECT_EQ(-EFAULT, xioctl(self->fd, MQDEV_IOC_TOPIC_CREATE, NULL));
	EXPECT_EQ(-EFAULT, xioctl(self->fd, MQDEV_IOC_TOPIC_CREATE,
				  (void *)0x10));
	ASSERT_EQ(0, create_topic(self->fd, name, 1, 0, 0));
	list.names = 0x10;
	list.count = 100;
	EXPECT_EQ(-EFAULT, xioctl(self->fd, MQDEV_IOC_TOPIC_LIST, &list));
	list.names = 0;
	list.name_size = 1;	/* smaller than a name */
	EXPECT_EQ(-EINVAL, xioctl(self->fd, MQDEV_IOC_TOPIC_LIST, &list));

	/* delete: flags and reserved must be zero */
	mqdev_name_set(id.name, name);
	id.flags = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, MQDEV_IOC_TOPIC_DELETE, &id));
	id.flags = 0;
	id.reserved = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, MQDEV_IOC_TOPIC_DELETE, &id));
	EXPECT_EQ(before + 1, topic_count(self->fd));
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, name));

	/* a newer, larger struct: accepted if what we don't know is zero */
	big.req.partitions = 1;
	mqdev_name_set(big.req.name, name);
	big.tail = 1;
	EXPECT_EQ(-E2BIG, xioctl(self->fd, _IOW(MQDEV_IOC_MAGIC, 0x01, big),
				 &big));
	big.tail = 0;
	EXPECT_EQ(0, xioctl(self->fd, _IOW(MQDEV_IOC_MAGIC, 0x01, big), &big));
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, name));
	/* an older, smaller one lacks fields this kernel needs */
	EXPECT_EQ(-EINVAL, xioctl(self->fd, _IOW(MQDEV_IOC_MAGIC, 0x01,
						 struct mqdev_topic_id), &id));
	EXPECT_EQ(before, topic_count(self->fd));
}

TEST_F(topic, limits)
{
	unsigned long old_topics = get_param("max_topics");
	unsigned long old_bytes = get_param("max_bytes");
	int n = topic_count(self->fd);
	char first[MQDEV_NAME_MAX + 1], second[MQDEV_NAME_MAX + 1];

	ASSERT_LT(0, old_topics);
	/* room for exactly one more topic */
	ASSERT_EQ(0, set_param("max_topics", n + 1));
	strcpy(first, topic_name("limit"));
	EXPECT_EQ(0, create_topic(self->fd, first, 1, 4096, 0));
	EXPECT_EQ(-ENOSPC, create_topic(self->fd, topic_name("limit"), 1,
					4096, 0));
	EXPECT_EQ(n + 1, topic_count(self->fd));
	ASSERT_EQ(0, set_param("max_topics", old_topics));

	/* the memory cap counts every partition of the topic */
	ASSERT_EQ(0, set_param("max_bytes", 8 << 20));
	EXPECT_EQ(-ENOSPC, create_topic(self->fd, topic_name("limit"), 16,
					1 << 20, 0));
	EXPECT_EQ(n + 1, topic_count(self->fd));
	strcpy(second, topic_name("limit"));
	EXPECT_EQ(0, create_topic(self->fd, second, 4, 1 << 20, 0));
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, second));
	ASSERT_EQ(0, set_param("max_bytes", old_bytes));
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, first));
	EXPECT_EQ(n, topic_count(self->fd));
}

/* What a user may create: topics, partitions, bytes (EDQUOT past them). */
static int delete_as(void *arg)
{
	const struct topic_try *t = arg;
	int fd = mqdev_open(), err;

	if (fd < 0)
		return 100;
	err = mqdev_topic_delete(fd, t->name);
	close(fd);
	return -err;
}

TEST_F(topic, user_limits)
{
	char names[4][MQDEV_NAME_MAX + 1];
	struct topic_try t[4];
	int i, n = topic_count(self->fd);

	for (i = 0; i < 4; i++) {
		strcpy(names[i], topic_name("ulimit"));
		t[i] = (struct topic_try){ names[i], 1, 4096 };
	}
	/* topics: two for the user, then EDQUOT, and nothing made */
	unsigned long topics = get_param("max_user_topics");
	unsigned long parts = get_param("max_user_partitions");
	unsigned long bytes = get_param("max_user_bytes");

	ASSERT_EQ(0, set_param("max_user_topics", 2));
	EXPECT_EQ(0, as_user(USER_UID, create_topic_as, &t[0]));
	EXPECT_EQ(0, as_user(USER_UID, create_topic_as, &t[1]));
	EXPECT_EQ(EDQUOT, as_user(USER_UID, create_topic_as, &t[2]));
	EXPECT_EQ(n + 2, topic_count(self->fd));
	/* another user, and root (CAP_SYS_RESOURCE), have their own room */
	EXPECT_EQ(0, as_user(OTHER_UID, create_topic_as, &t[2]));
	EXPECT_EQ(0, create_topic(self->fd, names[3], 1, 4096, 0));
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, names[3]));
	/* a deleted topic gives its room back */
	EXPECT_EQ(0, as_user(USER_UID, delete_as, &t[1]));
	EXPECT_EQ(0, as_user(USER_UID, create_topic_as, &t[3]));
	EXPECT_EQ(0, as_user(USER_UID, delete_as, &t[3]));
	ASSERT_EQ(0, set_param("max_user_topics", topics));

	/* partitions and bytes count every partition of the topic */
	ASSERT_EQ(0, set_param("max_user_partitions", 4));
	t[1] = (struct topic_try){ names[1], 4, 4096 };	/* 1 + 4 > 4 */
	EXPECT_EQ(EDQUOT, as_user(USER_UID, create_topic_as, &t[1]));
	t[1].parts = 3;
	EXPECT_EQ(0, as_user(USER_UID, create_topic_as, &t[1]));
	EXPECT_EQ(0, as_user(USER_UID, delete_as, &t[1]));
	ASSERT_EQ(0, set_param("max_user_partitions", parts));
	ASSERT_EQ(0, set_param("max_user_bytes", 64 << 10));
	t[1] = (struct topic_try){ names[1], 1, 64 << 10 };	/* + the control page */
	EXPECT_EQ(EDQUOT, as_user(USER_UID, create_topic_as, &t[1]));
	t[1].capacity = 32 << 10;
	EXPECT_EQ(0, as_user(USER_UID, create_topic_as, &t[1]));
	EXPECT_EQ(0, as_user(USER_UID, delete_as, &t[1]));
	ASSERT_EQ(0, set_param("max_user_bytes", bytes));

	EXPECT_EQ(0, as_user(USER_UID, delete_as, &t[0]));
	EXPECT_EQ(0, as_user(OTHER_UID, delete_as, &t[2]));
	EXPECT_EQ(n, topic_count(self->fd));
}

TEST_HARNESS_MAIN
