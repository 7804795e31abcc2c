// SPDX-License-Identifier: GPL-2.0
/*
 * The uapi keeps its promises (uapi/linux/mqdev.h, at its top): a struct
 * of an older version back to its first, or of a newer one with its new
 * fields zero, is taken; only as much as the caller's struct holds is
 * written; arrays go by their element size; MQDEV_IOC_VERSION says what the
 * kernel can do; unknown commands are ENOTTY.
 */
#include "common.h"
#include "kselftest_harness.h"

#define CANARY		0xa5

/* The command @cmd with the struct size @size in it. */
static unsigned long sized(unsigned long cmd, size_t size)
{
	return (cmd & ~((unsigned long)_IOC_SIZEMASK << _IOC_SIZESHIFT)) |
	       ((unsigned long)size << _IOC_SIZESHIFT);
}

FIXTURE(uapi) {
	int fd;
	char name[MQDEV_NAME_MAX + 1];
};

FIXTURE_SETUP(uapi)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("uapi"));
	ASSERT_EQ(0, create_topic(self->fd, self->name, 2, 4096, 0));
}

FIXTURE_TEARDOWN(uapi)
{
	mqdev_topic_delete(self->fd, self->name);
	close(self->fd);
}

TEST_F(uapi, version_and_features)
{
	struct mqdev_version v = {};

	ASSERT_EQ(0, xioctl(self->fd, MQDEV_IOC_VERSION, &v));
	EXPECT_EQ(MQDEV_API_VERSION, v.api);
	EXPECT_TRUE(v.features & MQDEV_FEAT_WAIT);
	EXPECT_TRUE(v.features & MQDEV_FEAT_RECORD_BATCH);
	EXPECT_TRUE(v.features & MQDEV_FEAT_TXN);
	EXPECT_TRUE(v.features & MQDEV_FEAT_SCHEDULE);
	EXPECT_TRUE(v.features & MQDEV_FEAT_SINGLE_WRITER);
	/* shipped numbers: scheduling's bit 10; bits 8 and 9 are exchanges' */
	EXPECT_EQ(1ULL << 10, MQDEV_FEAT_SCHEDULE);
	EXPECT_EQ(1ULL << 11, MQDEV_FEAT_SINGLE_WRITER);
	EXPECT_EQ(v.features, mqdev_features(self->fd));
	v.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, MQDEV_IOC_VERSION, &v));
	v.reserved[1] = 0;
	v.flags = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, MQDEV_IOC_VERSION, &v));
}

TEST_F(uapi, unknown_commands)
{
	char buf[64] = {};

	EXPECT_EQ(-ENOTTY, xioctl(self->fd, _IOWR(MQDEV_IOC_MAGIC, 0x3f,
						   char[8]), buf));
	EXPECT_EQ(-ENOTTY, xioctl(self->fd, _IOWR(MQDEV_IOC_MAGIC, 0xfe,
						   char[8]), buf));
	/* a known number with the wrong direction, or another magic */
	EXPECT_EQ(-ENOTTY, xioctl(self->fd, _IOW(MQDEV_IOC_MAGIC, 0x00,
						  struct mqdev_version), buf));
	EXPECT_EQ(-ENOTTY, xioctl(self->fd, _IOR('x', 0x00,
						  struct mqdev_version), buf));
}

/*
 * struct mqdev_attach grew when struct mqdev_ring_offsets got its reserved
 * room: a caller built before, with the first version's 200 bytes, is
 * served, and nothing past its struct is written.
 */
TEST_F(uapi, attach_first_version)
{
	unsigned char buf[sizeof(struct mqdev_attach) + 16];
	struct mqdev_attach *req = (void *)buf;
	int fd = mqdev_open(), i, untouched = 1;

	ASSERT_LE(0, fd);
	memset(buf, CANARY, sizeof(buf));
	memset(buf, 0, MQDEV_ATTACH_SIZE_VER0);
	mqdev_name_set(req->name, self->name);
	req->flags = MQDEV_ATTACH_CONSUME;
	/* smaller than the first version: refused */
	EXPECT_EQ(-EINVAL, xioctl(fd, sized(MQDEV_IOC_ATTACH,
					    MQDEV_ATTACH_SIZE_VER0 - 8), req));
	ASSERT_EQ(0, xioctl(fd, sized(MQDEV_IOC_ATTACH, MQDEV_ATTACH_SIZE_VER0),
			    req));
	EXPECT_EQ(2, req->partitions);
	EXPECT_EQ(4096, req->off.data_size);
	EXPECT_NE(0, req->off.txn_slots);
	for (i = MQDEV_ATTACH_SIZE_VER0; i < (int)sizeof(buf); i++)
		untouched &= buf[i] == CANARY;
	EXPECT_TRUE(untouched) TH_LOG("written past the caller's struct");
	close(fd);
}

/* A newer, larger struct: its new fields must be zero (E2BIG), then taken. */
TEST_F(uapi, larger_struct)
{
	struct {
		struct mqdev_seek seek;
		uint64_t newer;
	} req = { .seek = { .partition = 0, .whence = MQDEV_SEEK_EARLIEST } };
	int fd = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);

	ASSERT_LE(0, fd);
	req.newer = 1;
	EXPECT_EQ(-E2BIG, xioctl(fd, sized(MQDEV_IOC_SEEK, sizeof(req)), &req));
	req.newer = 0;
	EXPECT_EQ(0, xioctl(fd, sized(MQDEV_IOC_SEEK, sizeof(req)), &req));
	/* and the reserved room of the ring layout is refused when set */
	close(fd);
}

TEST_F(uapi, reserved_room_is_zero)
{
	struct mqdev_attach req = { .flags = MQDEV_ATTACH_CONSUME };
	int fd = mqdev_open();

	ASSERT_LE(0, fd);
	mqdev_name_set(req.name, self->name);
	req.off.reserved0 = 1;
	EXPECT_EQ(-EINVAL, xioctl(fd, MQDEV_IOC_ATTACH, &req));
	req.off.reserved0 = 0;
	EXPECT_EQ(0, xioctl(fd, MQDEV_IOC_ATTACH, &req));
	EXPECT_EQ(0, req.off.reserved0);
	close(fd);
}

/*
 * struct mqdev_ring_offsets as released: ttl where it shipped, the
 * single-writer fields in what was its reserved room, the size unchanged.
 * Every attach reports the TTL's place; only a single-writer topic's the
 * writer page and limit, and only its writer's handle the writer mapping.
 */
TEST_F(uapi, ring_offsets_layout)
{
	struct mqdev_attach att;
	char sw[MQDEV_NAME_MAX + 1];
	int fd;

	EXPECT_EQ(96, offsetof(struct mqdev_ring_offsets, ttl));
	EXPECT_EQ(100, offsetof(struct mqdev_ring_offsets, writer_page));
	EXPECT_EQ(104, offsetof(struct mqdev_ring_offsets, writer_mmap));
	EXPECT_EQ(112, offsetof(struct mqdev_ring_offsets, limit));
	EXPECT_EQ(116, offsetof(struct mqdev_ring_offsets, reserved0));
	EXPECT_EQ(120, sizeof(struct mqdev_ring_offsets));
	EXPECT_EQ(232, sizeof(struct mqdev_attach));

	fd = attach(self->name, MQDEV_ATTACH_CONSUME, &att);
	ASSERT_LE(0, fd);
	EXPECT_NE(0, att.off.ttl);
	EXPECT_EQ(0, att.off.writer_page);
	EXPECT_EQ(0, att.off.writer_mmap);
	EXPECT_EQ(0, att.off.limit);
	close(fd);

	strcpy(sw, topic_name("uapi-sw"));
	ASSERT_EQ(0, create_topic(self->fd, sw, 1, 4096,
				  MQDEV_TOPIC_SINGLE_WRITER));
	fd = attach(sw, MQDEV_ATTACH_CONSUME, &att);
	EXPECT_LE(0, fd);
	EXPECT_NE(0, att.off.ttl);
	EXPECT_NE(0, att.off.writer_page);
	EXPECT_EQ(0, att.off.writer_mmap);
	EXPECT_NE(0, att.off.limit);
	EXPECT_EQ(0, att.off.reserved0);
	close(fd);
	fd = attach(sw, MQDEV_ATTACH_PRODUCE | MQDEV_ATTACH_WRITER, &att);
	EXPECT_LE(0, fd);
	EXPECT_NE(0, att.off.ttl);
	EXPECT_NE(0, att.off.writer_mmap);
	EXPECT_NE(att.off.ttl, att.off.limit);
	close(fd);
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, sw));
}

/* Names listed at a larger element size: each at its place, the rest 0. */
TEST_F(uapi, list_by_element_size)
{
	char names[64][MQDEV_NAME_SIZE + 8];
	struct mqdev_topic_list req = {
		.names = (uintptr_t)names, .count = 64,
		.name_size = sizeof(names[0]),
	};
	int i, found = 0, clean = 1;

	memset(names, CANARY, sizeof(names));
	ASSERT_EQ(0, xioctl(self->fd, MQDEV_IOC_TOPIC_LIST, &req));
	ASSERT_LE(1, req.count);
	for (i = 0; i < (int)req.count && i < 64; i++) {
		found += !strcmp(names[i], self->name);
		clean &= !memchr(names[i] + MQDEV_NAME_SIZE - 1, CANARY, 9);
	}
	EXPECT_EQ(1, found);
	EXPECT_TRUE(clean) TH_LOG("an element's tail was not cleared");
	req.name_size = MQDEV_NAME_SIZE - 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, MQDEV_IOC_TOPIC_LIST, &req));
	/* 0: the first version's size, from before the field meant anything */
	req.name_size = 0;
	EXPECT_EQ(0, xioctl(self->fd, MQDEV_IOC_TOPIC_LIST, &req));
	EXPECT_EQ(0, req.name_size);
}

/* A group assignment's starts at a larger element size. */
TEST_F(uapi, assignment_by_element_size)
{
	struct {
		struct mqdev_group_start start;
		uint64_t newer;
	} starts[2];
	struct mqdev_group_assignment req = {
		.starts = (uintptr_t)starts, .starts_count = 2,
		.start_size = sizeof(starts[0]),
	};
	struct mqdev_group_join join = { .reset = MQDEV_SEEK_EARLIEST };
	int fd = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);

	ASSERT_LE(0, fd);
	mqdev_name_set(join.group, "uapi");
	ASSERT_EQ(0, xioctl(fd, MQDEV_IOC_GROUP_JOIN, &join));
	memset(starts, CANARY, sizeof(starts));
	ASSERT_EQ(0, xioctl(fd, MQDEV_IOC_GROUP_ASSIGNMENT, &req));
	EXPECT_EQ(2, req.count);
	EXPECT_EQ(0, starts[1].start.offset);
	EXPECT_EQ(0, starts[0].newer);
	EXPECT_EQ(0, starts[1].newer);
	req.start_size = sizeof(struct mqdev_group_start) - 8;
	EXPECT_EQ(-EINVAL, xioctl(fd, MQDEV_IOC_GROUP_ASSIGNMENT, &req));
	close(fd);
}

TEST_HARNESS_MAIN
