// SPDX-License-Identifier: GPL-2.0
/* Producing: acknowledgements, partitioning, and what bad messages get. */
#include "common.h"
#include "kselftest_harness.h"

#define PARTS 4

FIXTURE(produce) {
	int fd;			/* admin */
	int prod;		/* attached producer */
	char name[MQDEV_NAME_MAX + 1];
	struct mqdev_attach att;
};

FIXTURE_SETUP(produce)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("produce"));
	ASSERT_EQ(0, create_topic(self->fd, self->name, PARTS, 65536, 0));
	self->prod = attach(self->name, MQDEV_ATTACH_PRODUCE, &self->att);
	ASSERT_LE(0, self->prod);
}

FIXTURE_TEARDOWN(produce)
{
	close(self->prod);
	mqdev_topic_delete(self->fd, self->name);
	close(self->fd);
}

static int produce_batch(int fd, struct mqdev_msg *msgs, uint32_t count)
{
	struct mqdev_produce req = {
		.msgs = (uintptr_t)msgs, .count = count,
		.msg_size = sizeof(*msgs),
	};
	int n = ioctl(fd, MQDEV_IOC_PRODUCE, &req);

	return n < 0 ? -errno : n;
}

TEST_F(produce, acks_are_consecutive_offsets)
{
	struct mqdev_partition_info parts[PARTS];
	struct mqdev_topic_info info;
	struct mqdev_msg msgs[10];
	char value[10][20];
	int i;

	for (i = 0; i < 10; i++) {
		snprintf(value[i], sizeof(value[i]), "value %d", i);
		mqdev_msg_init(&msgs[i], NULL, 0, value[i], strlen(value[i]), 1);
	}
	ASSERT_EQ(10, produce_batch(self->prod, msgs, 10));
	for (i = 0; i < 10; i++) {
		EXPECT_EQ(1, msgs[i].partition);
		EXPECT_EQ(i, msgs[i].offset);
	}
	ASSERT_EQ(5, produce_batch(self->prod, msgs, 5));
	EXPECT_EQ(14, msgs[4].offset);

	ASSERT_EQ(0, mqdev_topic_describe(self->fd, self->name, &info, parts,
					  PARTS));
	EXPECT_EQ(0, parts[1].first_offset);
	EXPECT_EQ(15, parts[1].next_offset);
	EXPECT_EQ(15, parts[1].records);
	EXPECT_EQ(0, parts[0].next_offset);
	EXPECT_EQ(10 * MQDEV_RECORD_SPACE(sizeof(struct mqdev_record) + 7) +
		  5 * MQDEV_RECORD_SPACE(sizeof(struct mqdev_record) + 7),
		  parts[1].bytes_used);
}

/* Keys pick partitions by a documented hash: FNV-1a, modulo partitions. */
TEST_F(produce, key_partition_is_stable)
{
	char key[16];
	uint64_t off;
	int i, p;

	/* known answers of 32-bit FNV-1a: the ABI does not change */
	EXPECT_EQ(0x811c9dc5U, mqdev_key_hash("", 0));
	EXPECT_EQ(0xe40c292cU, mqdev_key_hash("a", 1));
	EXPECT_EQ(0xbf9cf968U, mqdev_key_hash("foobar", 6));

	for (i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		p = produce_one(self->prod, MQDEV_PARTITION_ANY, key,
				strlen(key), "v", 1, &off);
		ASSERT_LE(0, p);
		EXPECT_EQ(mqdev_partition_for_key(key, strlen(key), PARTS), p);
		/* and again: the same key, the same partition */
		EXPECT_EQ(p, produce_one(self->prod, MQDEV_PARTITION_ANY, key,
					 strlen(key), "w", 1, NULL));
	}
	/* an explicit partition wins over the key */
	EXPECT_EQ(3, produce_one(self->prod, 3, "key-0", 5, "v", 1, NULL));
}

TEST_F(produce, unkeyed_messages_rotate_by_batch)
{
	int seen[PARTS] = {}, i, p;
	struct mqdev_msg msgs[8];

	for (i = 0; i < 2 * PARTS; i++) {
		p = produce_one(self->prod, MQDEV_PARTITION_ANY, NULL, 0,
				"x", 1, NULL);
		ASSERT_LE(0, p);
		ASSERT_GT(PARTS, p);
		seen[p]++;
	}
	for (i = 0; i < PARTS; i++)
		EXPECT_EQ(2, seen[i]);

	/* one batch sticks to one partition */
	for (i = 0; i < 8; i++)
		mqdev_msg_init(&msgs[i], NULL, 0, "y", 1, MQDEV_PARTITION_ANY);
	ASSERT_EQ(8, produce_batch(self->prod, msgs, 8));
	for (i = 1; i < 8; i++) {
		EXPECT_EQ(msgs[0].partition, msgs[i].partition);
		EXPECT_EQ(msgs[0].offset + i, msgs[i].offset);
	}
}

TEST_F(produce, record_size_limits)
{
	uint32_t max_value = self->att.max_record - sizeof(struct mqdev_record);
	char *big = calloc(1, max_value + 1);
	uint64_t off;

	ASSERT_NE(NULL, big);
	EXPECT_EQ(32768, self->att.max_record);
	EXPECT_EQ(0, produce_one(self->prod, 0, NULL, 0, big, max_value, &off));
	EXPECT_EQ(-EMSGSIZE, produce_one(self->prod, 0, NULL, 0, big,
					 max_value + 1, NULL));
	EXPECT_EQ(-EMSGSIZE, produce_one(self->prod, 0, "k", 1, big, max_value,
					 NULL));
	/* empty values are records too (a tombstone, in Kafka's words) */
	EXPECT_EQ(0, produce_one(self->prod, 0, NULL, 0, NULL, 0, &off));
	EXPECT_EQ(1, off);
	EXPECT_EQ(2, next_offset(self->fd, self->name, 0));
	free(big);
}

TEST_F(produce, bad_messages_change_nothing)
{
	static char key[MQDEV_MAX_KEY + 1];
	struct mqdev_produce req = {};
	struct mqdev_msg msgs[4];
	int i;

	mqdev_msg_init(&msgs[0], NULL, 0, "v", 1, PARTS);
	EXPECT_EQ(-EINVAL, produce_batch(self->prod, msgs, 1));
	mqdev_msg_init(&msgs[0], key, sizeof(key), "v", 1, 0);
	EXPECT_EQ(-EINVAL, produce_batch(self->prod, msgs, 1));
	mqdev_msg_init(&msgs[0], NULL, 0, "v", 1, 0);
	msgs[0].flags = 1;
	EXPECT_EQ(-EINVAL, produce_batch(self->prod, msgs, 1));
	mqdev_msg_init(&msgs[0], NULL, 0, (void *)0x10, 100, 0);
	EXPECT_EQ(-EFAULT, produce_batch(self->prod, msgs, 1));
	mqdev_msg_init(&msgs[0], (void *)0x10, 4, "v", 1, 0);
	EXPECT_EQ(-EFAULT, produce_batch(self->prod, msgs, 1));
	mqdev_msg_init(&msgs[0], (void *)0x10, 4, "v", 1, MQDEV_PARTITION_ANY);
	EXPECT_EQ(-EFAULT, produce_batch(self->prod, msgs, 1));
	EXPECT_EQ(-EFAULT, produce_batch(self->prod, NULL, 1));
	/* the acknowledgement must have somewhere to go */
	mqdev_msg_init(&msgs[0], NULL, 0, "v", 1, 0);
	{
		struct mqdev_msg *ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
					    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		ASSERT_NE(MAP_FAILED, ro);
		*ro = msgs[0];
		ASSERT_EQ(0, mprotect(ro, 4096, PROT_READ));
		EXPECT_EQ(-EFAULT, produce_batch(self->prod, ro, 1));
		munmap(ro, 4096);
	}

	/* the batch itself */
	req.msgs = (uintptr_t)msgs;
	req.count = 1;
	req.msg_size = MQDEV_MSG_SIZE_VER0 - 8;
	EXPECT_EQ(-EINVAL, xioctl(self->prod, MQDEV_IOC_PRODUCE, &req));
	req.msg_size = sizeof(msgs[0]);
	req.count = MQDEV_PRODUCE_MAX_MSGS + 1;
	EXPECT_EQ(-EINVAL, xioctl(self->prod, MQDEV_IOC_PRODUCE, &req));
	req.count = 1;
	req.flags = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->prod, MQDEV_IOC_PRODUCE, &req));
	req.flags = 0;
	req.reserved = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->prod, MQDEV_IOC_PRODUCE, &req));
	req.reserved = 0;
	req.count = 0;
	EXPECT_EQ(0, ioctl(self->prod, MQDEV_IOC_PRODUCE, &req));

	for (i = 0; i < PARTS; i++)
		EXPECT_EQ(0, next_offset(self->fd, self->name, i));

	/* a bad message stops the batch: those before it are appended */
	for (i = 0; i < 4; i++)
		mqdev_msg_init(&msgs[i], NULL, 0, "ok", 2, 2);
	msgs[2].partition = 99;
	EXPECT_EQ(2, produce_batch(self->prod, msgs, 4));
	EXPECT_EQ(0, msgs[0].offset);
	EXPECT_EQ(1, msgs[1].offset);
	EXPECT_EQ(2, next_offset(self->fd, self->name, 2));
}

/* Larger message elements from a newer library: known part must fit. */
TEST_F(produce, message_elements_can_grow)
{
	struct {
		struct mqdev_msg msg;
		uint64_t newer;
	} m[2] = {};
	struct mqdev_produce req = {
		.msgs = (uintptr_t)m, .count = 2, .msg_size = sizeof(m[0]),
	};

	mqdev_msg_init(&m[0].msg, NULL, 0, "a", 1, 0);
	mqdev_msg_init(&m[1].msg, NULL, 0, "b", 1, 0);
	EXPECT_EQ(2, ioctl(self->prod, MQDEV_IOC_PRODUCE, &req));
	EXPECT_EQ(1, m[1].msg.offset);
	m[1].newer = 1;
	EXPECT_EQ(1, ioctl(self->prod, MQDEV_IOC_PRODUCE, &req));
	EXPECT_EQ(3, next_offset(self->fd, self->name, 0));
}

TEST_F(produce, attach_rules)
{
	struct mqdev_attach req = {};
	int fd, cons;

	fd = mqdev_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBADFD, produce_one(fd, 0, NULL, 0, "v", 1, NULL));
	mqdev_name_set(req.name, self->name);
	req.flags = 0;
	EXPECT_EQ(-EINVAL, xioctl(fd, MQDEV_IOC_ATTACH, &req));
	req.flags = 1 << 7;
	EXPECT_EQ(-EINVAL, xioctl(fd, MQDEV_IOC_ATTACH, &req));
	req.flags = MQDEV_ATTACH_PRODUCE;
	req.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, xioctl(fd, MQDEV_IOC_ATTACH, &req));
	req.reserved[1] = 0;
	mqdev_name_set(req.name, "no-such-topic");
	EXPECT_EQ(-ENOENT, xioctl(fd, MQDEV_IOC_ATTACH, &req));
	mqdev_name_set(req.name, self->name);
	EXPECT_EQ(0, xioctl(fd, MQDEV_IOC_ATTACH, &req));
	EXPECT_EQ(PARTS, req.partitions);
	EXPECT_EQ(65536, req.capacity);
	EXPECT_EQ(65536, req.off.data_size);
	EXPECT_EQ(4096 + 2 * 65536, req.off.ring_size);
	/* one topic per handle */
	memset(&req.off, 0, sizeof(req.off));
	req.partitions = 0;
	req.capacity = 0;
	req.topic_flags = 0;
	req.max_record = 0;
	EXPECT_EQ(-EBUSY, xioctl(fd, MQDEV_IOC_ATTACH, &req));
	close(fd);

	cons = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, cons);
	EXPECT_EQ(-EBADF, produce_one(cons, 0, NULL, 0, "v", 1, NULL));
	close(cons);
}

/* libmqdev's queued producer: copies, batches, and acks every message. */
struct acks {
	int n, errors;
	uint64_t offsets[64];
};

static void on_ack(void *ctx, const struct mqdev_ack *ack)
{
	struct acks *a = ctx;

	if (ack->error)
		a->errors++;
	else
		a->offsets[(uintptr_t)ack->opaque] = ack->offset;
	a->n++;
}

TEST_F(produce, library_send_and_flush)
{
	struct acks acks = {};
	LIBMQDEV_OPTS(mqdev_producer_opts, opts, .ack_fn = on_ack,
		      .ack_ctx = &acks);
	struct mqdev_producer *p;
	char buf[32];
	int i;

	ASSERT_EQ(0, mqdev_producer_new(self->name, &opts, &p));
	for (i = 0; i < 40; i++) {
		snprintf(buf, sizeof(buf), "message %d", i);
		ASSERT_EQ(0, mqdev_producer_send(p, NULL, 0, buf, strlen(buf),
						 3, (void *)(uintptr_t)i));
		memset(buf, 0, sizeof(buf));	/* the library kept a copy */
	}
	EXPECT_EQ(0, acks.n);
	/* one too big is refused at once, not at the flush */
	EXPECT_EQ(-EMSGSIZE, mqdev_producer_send(p, NULL, 0, buf, 1 << 20, 3,
						 NULL));
	EXPECT_EQ(40, mqdev_producer_flush(p));
	EXPECT_EQ(40, acks.n);
	EXPECT_EQ(0, acks.errors);
	for (i = 0; i < 40; i++)
		EXPECT_EQ(i, acks.offsets[i]);
	EXPECT_EQ(40, next_offset(self->fd, self->name, 3));
	mqdev_producer_free(p);
}

TEST_HARNESS_MAIN
