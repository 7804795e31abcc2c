// SPDX-License-Identifier: GPL-2.0
/*
 * Kafka's record model on mqdev records: null keys and values, distinct
 * from empty ones, and headers, through the library and the raw ioctls;
 * what a producer may set in a record's flags, and what a reader does with
 * a header block that does not add up.
 */
#include "common.h"
#include "kselftest_harness.h"

FIXTURE(record) {
	int fd;
	char name[MQDEV_NAME_SIZE];
	struct mqdev_producer *p;
	struct mqdev_consumer *c;
};

FIXTURE_SETUP(record)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("record"));
	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 0, 0));
	ASSERT_EQ(0, mqdev_producer_new(self->name, NULL, &self->p));
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &self->c));
	ASSERT_EQ(0, mqdev_consumer_seek(self->c, 0, MQDEV_SEEK_EARLIEST, 0, 0,
					 NULL));
}

FIXTURE_TEARDOWN(record)
{
	mqdev_consumer_free(self->c);
	mqdev_producer_free(self->p);
	mqdev_topic_delete(self->fd, self->name);
	close(self->fd);
}

TEST_F(record, null_is_not_empty)
{
	const struct mqdev_record *rec;
	const void *value;
	uint32_t len;

	ASSERT_EQ(0, mqdev_producer_send(self->p, NULL, 0, "v", 1, 0, NULL));
	ASSERT_EQ(0, mqdev_producer_send(self->p, "", 0, "", 0, 0, NULL));
	ASSERT_EQ(0, mqdev_producer_send(self->p, "k", 1, NULL, 0, 0, NULL));
	ASSERT_EQ(3, mqdev_producer_flush(self->p));

	ASSERT_NE(NULL, rec = mqdev_consumer_peek(self->c));
	EXPECT_EQ(MQDEV_RECORD_NULL_KEY, rec->flags);
	EXPECT_EQ(0, mqdev_consumer_release(self->c));
	ASSERT_NE(NULL, rec = mqdev_consumer_peek(self->c));
	EXPECT_EQ(0, rec->flags);			/* empty, both */
	EXPECT_EQ(0, mqdev_record_payload(rec, &value, &len));
	EXPECT_NE(NULL, value);
	EXPECT_EQ(0, len);
	EXPECT_EQ(0, mqdev_consumer_release(self->c));
	ASSERT_NE(NULL, rec = mqdev_consumer_peek(self->c));
	EXPECT_EQ(MQDEV_RECORD_NULL_VALUE, rec->flags);
	EXPECT_EQ(0, mqdev_record_payload(rec, &value, &len));
	EXPECT_EQ(NULL, value);
	EXPECT_EQ(0, mqdev_consumer_release(self->c));
}

TEST_F(record, headers_round_trip)
{
	const struct mqdev_header h[3] = {
		{ .key = "trace-id", .key_len = 8, .value = "abc", .value_len = 3 },
		{ .key = "empty", .key_len = 5, .value = "", .value_len = 0 },
		{ .key = "none", .key_len = 4, .value_len = -1 },
	};
	LIBMQDEV_OPTS(mqdev_send_opts, opts, .headers = h, .nr_headers = 3);
	struct mqdev_header_iter it = {};
	const struct mqdev_record *rec;
	struct mqdev_header got;
	const void *value;
	uint32_t len;
	int i;

	ASSERT_EQ(0, mqdev_producer_send_opts(self->p, "k", 1, "payload", 7,
					      0, NULL, &opts));
	ASSERT_EQ(1, mqdev_producer_flush(self->p));
	ASSERT_NE(NULL, rec = mqdev_consumer_peek(self->c));
	EXPECT_EQ(MQDEV_RECORD_HEADERS, rec->flags);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(1, mqdev_record_header_next(rec, &it, &got));
		EXPECT_EQ(h[i].key_len, got.key_len);
		EXPECT_EQ(0, memcmp(h[i].key, got.key, got.key_len));
		EXPECT_EQ(h[i].value_len, got.value_len);
		if (h[i].value_len < 0) {
			EXPECT_EQ(NULL, got.value);
		} else {
			EXPECT_EQ(0, memcmp(h[i].value, got.value,
					    got.value_len));
		}
	}
	EXPECT_EQ(0, mqdev_record_header_next(rec, &it, &got));
	ASSERT_EQ(0, mqdev_record_payload(rec, &value, &len));
	EXPECT_EQ(7, len);
	EXPECT_EQ(0, memcmp("payload", value, 7));
	EXPECT_EQ(0, mqdev_consumer_release(self->c));
}

TEST_F(record, bad_flags_are_refused)
{
	int p = mqdev_producer_fd(self->p);
	struct mqdev_msg msg;
	struct mqdev_produce req = {
		.msgs = (uintptr_t)&msg, .count = 1, .msg_size = sizeof(msg),
	};
	struct mqdev_partition_info info;
	struct mqdev_topic_info t;
	static const struct {
		uint32_t flags, key_len, value_len;
	} bad[] = {
		{ MQDEV_RECORD_TXN, 0, 1 },		/* the kernel's */
		{ MQDEV_RECORD_COMMITTED, 0, 1 },
		{ 1U << 15, 0, 1 },			/* unknown */
		{ MQDEV_MSG_NULL_KEY, 1, 1 },		/* null, but a key */
		{ MQDEV_MSG_NULL_VALUE, 0, 1 },		/* null, but a value */
		{ MQDEV_MSG_HEADERS, 0, 3 },		/* no room for a count */
	};
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mqdev_msg_init(&msg, "key", bad[i].key_len, "value",
			       bad[i].value_len, 0);
		msg.flags = bad[i].flags;
		EXPECT_EQ(-1, ioctl(p, MQDEV_IOC_PRODUCE, &req))
			TH_LOG("case %u was accepted", i);
		EXPECT_EQ(EINVAL, errno);
	}
	ASSERT_EQ(0, mqdev_topic_describe(self->fd, self->name, &t, &info, 1));
	EXPECT_EQ(0, info.next_offset);			/* nothing went in */
	/* and the library refuses what it cannot lay out */
	EXPECT_EQ(-EINVAL, mqdev_producer_send_opts(self->p, "k", 1, "v", 1, 0,
						    NULL, &(struct mqdev_send_opts){
			.sz = sizeof(struct mqdev_send_opts),
			.flags = MQDEV_MSG_NULL_KEY }));
}

/* A header block a producer got wrong is the reader's to refuse. */
TEST_F(record, a_bad_header_block_is_caught)
{
	uint32_t block[3] = { 5, 100, 0 };	/* 5 headers, a key of 100 */
	struct mqdev_header_iter it = {};
	const struct mqdev_record *rec;
	struct mqdev_header got;
	struct mqdev_msg msg;
	const void *value;
	uint32_t len;

	mqdev_msg_init(&msg, NULL, 0, block, sizeof(block), 0);
	msg.flags = MQDEV_MSG_HEADERS;
	ASSERT_EQ(1, mqdev_produce(self->p, &msg, 1));
	ASSERT_NE(NULL, rec = mqdev_consumer_peek(self->c));
	EXPECT_EQ(-EBADMSG, mqdev_record_header_next(rec, &it, &got));
	EXPECT_EQ(-EBADMSG, mqdev_record_payload(rec, &value, &len));
	EXPECT_EQ(0, mqdev_consumer_release(self->c));
	EXPECT_EQ(-ENOSPC, mqdev_headers_encode(block, 4,
		&(struct mqdev_header){ .key = "k", .key_len = 1 }, 1));
}

TEST_HARNESS_MAIN
