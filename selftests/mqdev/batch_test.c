// SPDX-License-Identifier: GPL-2.0
/*
 * Record batches (MQDEV_IOC_PRODUCE_BATCH): appended whole with consecutive
 * offsets, readable in place and through read(2), and every malformed batch
 * refused with nothing appended and nothing dropped.
 */
#include <stddef.h>
#include "common.h"
#include "kselftest_harness.h"

#define PARTS		4
#define CAPACITY	65536
#define HDR		((uint32_t)sizeof(struct mqdev_record))

FIXTURE(batch) {
	int fd;			/* admin */
	int prod;		/* attached producer */
	char name[MQDEV_NAME_MAX + 1];
	uint64_t buf[1024];	/* a hand-laid batch, 8 KiB */
};

FIXTURE_SETUP(batch)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("batch"));
	ASSERT_EQ(0, create_topic(self->fd, self->name, PARTS, CAPACITY, 0));
	self->prod = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, self->prod);
	memset(self->buf, 0, sizeof(self->buf));
}

FIXTURE_TEARDOWN(batch)
{
	close(self->prod);
	mqdev_topic_delete(self->fd, self->name);
	close(self->fd);
}

/* MQDEV_IOC_PRODUCE_BATCH by hand: records appended, or -errno. */
static int batch_ioctl(int fd, const void *records, uint32_t len,
		       uint32_t *part, uint64_t *base)
{
	struct mqdev_produce_batch req = {
		.records = (uintptr_t)records, .len = len, .partition = *part,
	};
	int err = xioctl(fd, MQDEV_IOC_PRODUCE_BATCH, &req);

	if (err)
		return err;
	*part = req.partition;
	if (base)
		*base = req.base_offset;
	return req.count;
}

/* Lay out a record at byte @at of @buf; returns the byte after it. */
static uint32_t lay(void *buf, uint32_t at, const char *key, const char *value)
{
	struct mqdev_record *rec = (void *)((char *)buf + at);
	uint32_t klen = key ? strlen(key) : 0, vlen = strlen(value);

	memset(rec, 0, HDR);
	rec->len = HDR + klen + vlen;
	rec->key_len = klen;
	memcpy(rec + 1, key ? key : "", klen);
	memcpy((char *)(rec + 1) + klen, value, vlen);
	return at + MQDEV_RECORD_SPACE(rec->len);
}

static struct mqdev_record *rec_at(void *buf, uint32_t at)
{
	return (void *)((char *)buf + at);
}

static struct mqdev_partition_info part_info(int fd, const char *name,
					     uint32_t part)
{
	struct mqdev_partition_info parts[PARTS], none;
	struct mqdev_topic_info info;

	memset(&none, 0xff, sizeof(none));
	if (mqdev_topic_describe(fd, name, &info, parts, PARTS))
		return none;
	return parts[part];
}

#define STORE_REC	256

/* Every record of @part, copied into @store, read mapped or with read(2). */
static int read_all(const char *name, uint32_t part, unsigned int flags,
		    char *store, int max)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts, .flags = flags);
	const struct mqdev_record *rec;
	struct mqdev_consumer *c;
	int n = 0;

	if (mqdev_consumer_new(name, &opts, &c))
		return -1;
	if (mqdev_consumer_seek(c, part, MQDEV_SEEK_EARLIEST, 0, 0, NULL)) {
		mqdev_consumer_free(c);
		return -1;
	}
	while (n < max && (rec = mqdev_consumer_peek(c))) {
		memcpy(store + n * STORE_REC, rec,
		       rec->len < STORE_REC ? rec->len : STORE_REC);
		n++;
		mqdev_consumer_release(c);
	}
	mqdev_consumer_free(c);
	return n;
}

static const struct mqdev_record *stored(char *store, int i)
{
	return (const void *)(store + i * STORE_REC);
}

/* The library's batch: laid out in place, appended whole, read back. */
TEST_F(batch, appended_whole_with_consecutive_offsets)
{
	static char store[32 * STORE_REC];
	const unsigned int modes[] = { 0, MQDEV_CONSUMER_COPY };
	struct mqdev_partition_info info;
	const struct mqdev_record *rec;
	struct mqdev_producer *p;
	struct mqdev_batch *b;
	uint64_t base = 99, space = 0;
	uint32_t part = 2, klen;
	char value[32], key[8];
	unsigned int m;
	void *at;
	int i, n;

	ASSERT_EQ(0, mqdev_producer_new(self->name, NULL, &p));
	ASSERT_EQ(0, mqdev_batch_new(4096, &b));
	for (i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(value, sizeof(value), "value number %d", i);
		klen = i % 2 ? strlen(key) : 0;
		ASSERT_EQ(0, mqdev_batch_add(b, key, klen, strlen(value), &at));
		memcpy(at, value, strlen(value));
		space += MQDEV_RECORD_SPACE(HDR + klen + strlen(value));
	}
	EXPECT_EQ(10, mqdev_batch_count(b));
	ASSERT_EQ(10, mqdev_produce_batch(p, b, &part, &base));
	EXPECT_EQ(2, part);
	EXPECT_EQ(0, base);
	EXPECT_EQ(0, mqdev_batch_count(b));	/* emptied for the next one */

	/* the next batch goes on from there, after a message of the old kind */
	EXPECT_EQ(2, produce_one(self->prod, 2, NULL, 0, "single", 6, NULL));
	ASSERT_EQ(0, mqdev_batch_add(b, NULL, 0, 4, &at));
	memcpy(at, "last", 4);
	ASSERT_EQ(1, mqdev_produce_batch(p, b, &part, &base));
	EXPECT_EQ(11, base);

	info = part_info(self->fd, self->name, 2);
	EXPECT_EQ(12, info.next_offset);
	EXPECT_EQ(space + MQDEV_RECORD_SPACE(HDR + 6) +
		  MQDEV_RECORD_SPACE(HDR + 4), info.bytes_used);
	EXPECT_EQ(0, part_info(self->fd, self->name, 1).next_offset);

	for (m = 0; m < 2; m++) {
		n = read_all(self->name, 2, modes[m], store, 32);
		ASSERT_EQ(12, n);
		for (i = 0; i < 10; i++) {
			rec = stored(store, i);
			snprintf(key, sizeof(key), "k%d", i);
			snprintf(value, sizeof(value), "value number %d", i);
			klen = i % 2 ? strlen(key) : 0;
			EXPECT_EQ(i, rec->offset);
			EXPECT_EQ(2, rec->partition);
			EXPECT_EQ(klen, rec->key_len);
			EXPECT_EQ(strlen(value), mqdev_record_value_len(rec));
			EXPECT_EQ(0, memcmp(mqdev_record_key(rec), key, klen));
			EXPECT_EQ(0, memcmp(mqdev_record_value(rec), value,
					    strlen(value)));
			EXPECT_EQ(0, rec->producer_id);
			EXPECT_EQ(0, rec->flags);
			/* one batch, one time, and never before the last one */
			EXPECT_EQ(stored(store, 0)->timestamp, rec->timestamp);
		}
		EXPECT_NE(0, stored(store, 0)->timestamp);
		EXPECT_LE(stored(store, 9)->timestamp,
			  stored(store, 10)->timestamp);
		EXPECT_EQ(11, stored(store, 11)->offset);
		EXPECT_EQ(0, memcmp(mqdev_record_value(stored(store, 11)),
				    "last", 4));
	}
	mqdev_batch_free(b);
	mqdev_producer_free(p);
}

TEST_F(batch, library_batch_limits)
{
	struct mqdev_batch *b;
	void *at;
	int i;

	EXPECT_EQ(-EINVAL, mqdev_batch_new(HDR - 1, &b));
	EXPECT_EQ(-EINVAL, mqdev_batch_new(MQDEV_BATCH_MAX + 1, &b));
	ASSERT_EQ(0, mqdev_batch_new(256, &b));
	EXPECT_EQ(-EMSGSIZE, mqdev_batch_add(b, NULL, 0, 256, &at));
	EXPECT_EQ(-EMSGSIZE, mqdev_batch_add(b, "k", MQDEV_MAX_KEY + 1, 1,
					     &at));
	/* 64-byte records: four fit in 256 bytes, the fifth does not */
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, mqdev_batch_add(b, NULL, 0, 64 - HDR, &at));
	EXPECT_EQ(-ENOSPC, mqdev_batch_add(b, NULL, 0, 1, &at));
	EXPECT_EQ(4, mqdev_batch_count(b));
	mqdev_batch_clear(b);
	EXPECT_EQ(0, mqdev_batch_count(b));
	EXPECT_EQ(0, mqdev_batch_add(b, NULL, 0, 1, &at));
	mqdev_batch_free(b);
}

/* PARTITION_ANY takes turns, and refuses keys: their partition is chosen. */
TEST_F(batch, any_partition_rotates_and_refuses_keys)
{
	uint32_t len = lay(self->buf, 0, NULL, "abc"), part, seen = 0;
	uint64_t base;
	int i;

	for (i = 0; i < PARTS; i++) {
		part = MQDEV_PARTITION_ANY;
		ASSERT_EQ(1, batch_ioctl(self->prod, self->buf, len, &part,
					 &base));
		ASSERT_GT(PARTS, part);
		EXPECT_EQ(0, base);
		seen |= 1U << part;
	}
	EXPECT_EQ((1U << PARTS) - 1, seen);

	len = lay(self->buf, len, "key", "abc");
	part = MQDEV_PARTITION_ANY;
	EXPECT_EQ(-EINVAL, batch_ioctl(self->prod, self->buf, len, &part,
				       NULL));
	for (i = 0; i < PARTS; i++)
		EXPECT_EQ(1, part_info(self->fd, self->name, i).next_offset);
	part = 3;
	EXPECT_EQ(2, batch_ioctl(self->prod, self->buf, len, &part, &base));
	EXPECT_EQ(1, base);
}

/*
 * Every malformed batch: refused with its errno, the partition unchanged,
 * and a good batch afterwards lands right after what was there.
 */
TEST_F(batch, malformed_batches_append_nothing)
{
	struct mqdev_partition_info before, after;
	uint32_t good, second, part = 1, max_record;
	void *buf = self->buf;
	struct mqdev_topic_info tinfo;
	uint64_t base, big_len;
	static char store[8 * STORE_REC];
	struct mqdev_produce_batch req;
	struct {
		struct mqdev_produce_batch req;
		uint64_t more;
	} bigger;
#define FIELD(f) { offsetof(struct mqdev_record, f), \
		   sizeof(((struct mqdev_record *)0)->f) }
	/* each with its first and last byte: the kernel ors them as words */
	static const struct { size_t at, size; } kernel_fields[] = {
		FIELD(partition), FIELD(offset), FIELD(timestamp),
		FIELD(producer_id), FIELD(sequence), FIELD(flags), FIELD(txn),
	};
#undef FIELD
	size_t at;
	void *unmapped;
	size_t i;
	char *big;

	ASSERT_EQ(0, mqdev_topic_describe(self->fd, self->name, &tinfo,
					  NULL, 0));
	max_record = tinfo.max_record;
	/* one good record first, so the partition is not empty */
	good = lay(buf, 0, "k", "first");
	ASSERT_EQ(1, batch_ioctl(self->prod, buf, good, &part, NULL));
	before = part_info(self->fd, self->name, 1);

#define REFUSED(err, len) do {						\
		part = 1;						\
		EXPECT_EQ(err, batch_ioctl(self->prod, buf, len, &part,	\
					   NULL));			\
		after = part_info(self->fd, self->name, 1);		\
		EXPECT_EQ(before.next_offset, after.next_offset);	\
		EXPECT_EQ(before.bytes_used, after.bytes_used);		\
	} while (0)

	/* the batch's length */
	second = lay(buf, 0, NULL, "fine");
	good = lay(buf, second, "key", "fine too");
	REFUSED(-EINVAL, 0);
	REFUSED(-EINVAL, good - 4);		/* not a multiple of 8 */
	REFUSED(-EINVAL, good - 8);		/* cuts the last record */
	REFUSED(-EINVAL, good + 8);		/* a short header at the end */
	REFUSED(-EINVAL, good + HDR + 8);	/* a zeroed header at the end */

	/* a bad record after a good one: the good one does not go in either */
	rec_at(buf, second)->len = HDR - 8;
	REFUSED(-EINVAL, good);
	rec_at(buf, second)->len = good;		/* longer than the batch */
	REFUSED(-EINVAL, good);
	good = lay(buf, second, "key", "fine too");
	rec_at(buf, second)->key_len = 20;	/* past its own end */
	REFUSED(-EINVAL, good);
	good = lay(buf, second, "key", "fine too");

	/* the fields that are the kernel's must be left zero, each of them */
	for (i = 0; i < sizeof(kernel_fields) / sizeof(kernel_fields[0]); i++) {
		at = kernel_fields[i].at;
		((char *)rec_at(buf, second))[at] = 1;
		REFUSED(-EINVAL, good);
		((char *)rec_at(buf, second))[at] = 0;
		at += kernel_fields[i].size - 1;
		((char *)rec_at(buf, second))[at] = 0x80;
		REFUSED(-EINVAL, good);
		((char *)rec_at(buf, second))[at] = 0;
	}

	/* a record larger than the topic takes */
	big_len = MQDEV_RECORD_SPACE(max_record + 8);
	big = calloc(1, big_len);
	ASSERT_NE(NULL, big);
	rec_at(big, 0)->len = max_record + 8;
	part = 1;
	EXPECT_EQ(-EMSGSIZE, batch_ioctl(self->prod, big, big_len, &part,
					 NULL));
	free(big);

	/* batches larger than the ring or than any batch */
	REFUSED(-EMSGSIZE, CAPACITY + 8);
	REFUSED(-EMSGSIZE, MQDEV_BATCH_MAX + 8);

	/* memory that is not there */
	unmapped = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	ASSERT_NE(MAP_FAILED, unmapped);
	munmap(unmapped, 4096);
	part = 1;
	EXPECT_EQ(-EFAULT, batch_ioctl(self->prod, unmapped, 64, &part,
				       NULL));
	EXPECT_EQ(-EFAULT, batch_ioctl(self->prod, NULL, 64, &part, NULL));

	/* the request itself */
	req = (struct mqdev_produce_batch){
		.records = (uintptr_t)buf, .len = good, .partition = 1,
	};
	bigger.req = req;
	bigger.more = 1;
	req.flags = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->prod, MQDEV_IOC_PRODUCE_BATCH, &req));
	req.flags = 0;
	req.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->prod, MQDEV_IOC_PRODUCE_BATCH, &req));
	req.reserved[1] = 0;
	req.partition = PARTS;
	EXPECT_EQ(-EINVAL, xioctl(self->prod, MQDEV_IOC_PRODUCE_BATCH, &req));
	/* a newer struct with a field this kernel does not know */
	EXPECT_EQ(-E2BIG, xioctl(self->prod, _IOC(_IOC_READ | _IOC_WRITE,
						  MQDEV_IOC_MAGIC, 0x14,
						  sizeof(bigger)), &bigger));
	EXPECT_EQ(-EFAULT, xioctl(self->prod, MQDEV_IOC_PRODUCE_BATCH, NULL));
	after = part_info(self->fd, self->name, 1);
	EXPECT_EQ(before.next_offset, after.next_offset);

	/* and after all that, the good batch goes in right after the first */
	part = 1;
	ASSERT_EQ(2, batch_ioctl(self->prod, buf, good, &part, &base));
	EXPECT_EQ(1, base);
	ASSERT_EQ(3, read_all(self->name, 1, 0, store, 8));
	EXPECT_EQ(0, memcmp(mqdev_record_value(stored(store, 0)), "first", 5));
	EXPECT_EQ(0, memcmp(mqdev_record_value(stored(store, 1)), "fine", 4));
	EXPECT_EQ(0, memcmp(mqdev_record_key(stored(store, 2)), "key", 3));
#undef REFUSED
}

/* Only a producing handle, not bound to a session, appends batches. */
/*
 * Records with the producer's flags are not the kernel's common case (it
 * checks those one by one): they go in as they are, or are refused whole.
 */
TEST_F(batch, producer_flags_in_a_batch)
{
	uint32_t second, end, part = 1;
	static char store[4 * STORE_REC];
	void *buf = self->buf;
	uint64_t base;

	second = lay(buf, 0, NULL, "");
	rec_at(buf, 0)->flags = MQDEV_RECORD_NULL_KEY | MQDEV_RECORD_NULL_VALUE;
	end = lay(buf, second, "k", "12345678");
	rec_at(buf, second)->flags = MQDEV_RECORD_EXPIRES;
	ASSERT_EQ(2, batch_ioctl(self->prod, buf, end, &part, &base));
	ASSERT_EQ(2, read_all(self->name, 1, 0, store, 4));
	EXPECT_EQ(MQDEV_RECORD_NULL_KEY | MQDEV_RECORD_NULL_VALUE,
		  stored(store, 0)->flags);
	EXPECT_EQ(MQDEV_RECORD_EXPIRES, stored(store, 1)->flags);

	/* an expiry with no room for it, a null key that has bytes */
	end = lay(buf, second, "k", "1234");
	rec_at(buf, second)->flags = MQDEV_RECORD_EXPIRES;
	EXPECT_EQ(-EINVAL, batch_ioctl(self->prod, buf, end, &part, NULL));
	rec_at(buf, second)->flags = MQDEV_RECORD_NULL_KEY;
	EXPECT_EQ(-EINVAL, batch_ioctl(self->prod, buf, end, &part, NULL));
}

TEST_F(batch, handles_that_may_not)
{
	uint32_t len = lay(self->buf, 0, NULL, "x"), part = 0;
	struct mqdev_session *s;
	struct mqdev_producer *p;
	int cons, fd;

	fd = mqdev_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBADFD, batch_ioctl(fd, self->buf, len, &part, NULL));
	close(fd);

	cons = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, cons);
	EXPECT_EQ(-EBADF, batch_ioctl(cons, self->buf, len, &part, NULL));
	close(cons);

	/* a session numbers every message: batches would bypass it */
	ASSERT_EQ(0, mqdev_session_new(NULL, 0, &s));
	ASSERT_EQ(0, mqdev_producer_new(self->name, NULL, &p));
	ASSERT_EQ(0, mqdev_producer_bind(p, s));
	EXPECT_EQ(-EINVAL, batch_ioctl(mqdev_producer_fd(p), self->buf, len,
				       &part, NULL));
	mqdev_producer_free(p);
	mqdev_session_free(s);
	EXPECT_EQ(0, part_info(self->fd, self->name, 0).next_offset);
}

/*
 * A full topic that blocks: the batch that does not fit appends nothing
 * (EAGAIN without waiting), POLLOUT stays off until a holding reader moves
 * on, and then the whole batch goes in.
 */
TEST(full_block_topic_takes_batches_whole)
{
	const char *name = topic_name("batch-block");
	static uint64_t buf[512];
	struct mqdev_partition_info parts[1];
	struct mqdev_topic_info info;
	struct mqdev_consumer *c;
	struct pollfd pfd;
	uint32_t len = 0, part = 0;
	int fd = mqdev_open(), prod, i, n, appended = 0;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, create_topic(fd, name, 1, 4096, 0));
	prod = attach(name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, prod);
	ASSERT_EQ(0, fcntl(prod, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(0, mqdev_consumer_new(name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0,
					 MQDEV_SEEK_HOLD, NULL));

	/* batches of 8 records of 128 bytes: four fill the 4 KiB ring */
	for (i = 0; i < 8; i++) {
		struct mqdev_record *rec = (void *)((char *)buf + len);

		memset(rec, 0, 128);
		rec->len = 128;
		len += 128;
	}
	for (i = 0; i < 5; i++) {
		part = 0;
		n = batch_ioctl(prod, buf, len, &part, NULL);
		if (n < 0)
			break;
		appended += n;
	}
	EXPECT_EQ(-EAGAIN, n);
	EXPECT_EQ(32, appended);
	ASSERT_EQ(0, mqdev_topic_describe(fd, name, &info, parts, 1));
	EXPECT_EQ(32, parts[0].next_offset);
	pfd = (struct pollfd){ .fd = prod, .events = POLLOUT };
	EXPECT_EQ(0, poll(&pfd, 1, 0));

	/* the reader takes 7 records: not room enough for 8, still nothing */
	for (i = 0; i < 7; i++) {
		ASSERT_NE(NULL, mqdev_consumer_peek(c));
		mqdev_consumer_release(c);
	}
	EXPECT_EQ(-EAGAIN, batch_ioctl(prod, buf, len, &part, NULL));
	ASSERT_NE(NULL, mqdev_consumer_peek(c));
	mqdev_consumer_release(c);
	EXPECT_EQ(1, poll(&pfd, 1, 1000));
	part = 0;
	EXPECT_EQ(8, batch_ioctl(prod, buf, len, &part, NULL));
	ASSERT_EQ(0, mqdev_topic_describe(fd, name, &info, parts, 1));
	EXPECT_EQ(40, parts[0].next_offset);
	EXPECT_EQ(8, parts[0].first_offset);

	mqdev_consumer_free(c);
	close(prod);
	EXPECT_EQ(0, mqdev_topic_delete(fd, name));
	close(fd);
}

/*
 * A full topic that overwrites drops its oldest records for a batch that
 * fits, and none at all for a batch it refuses.
 */
TEST(overwrite_drops_nothing_for_a_refused_batch)
{
	const char *name = topic_name("batch-overwrite");
	static uint64_t buf[512];
	struct mqdev_partition_info parts[1];
	struct mqdev_topic_info info;
	uint32_t len = 0, part = 0;
	int fd = mqdev_open(), prod, i;
	uint64_t first;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, create_topic(fd, name, 1, 4096, MQDEV_TOPIC_OVERWRITE));
	prod = attach(name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, prod);
	for (i = 0; i < 8; i++) {
		struct mqdev_record *rec = (void *)((char *)buf + len);

		memset(rec, 0, 128);
		rec->len = 128;
		len += 128;
	}
	for (i = 0; i < 6; i++)		/* 48 records through 32 places */
		ASSERT_EQ(8, batch_ioctl(prod, buf, len, &part, NULL));
	ASSERT_EQ(0, mqdev_topic_describe(fd, name, &info, parts, 1));
	EXPECT_EQ(48, parts[0].next_offset);
	EXPECT_EQ(16, parts[0].first_offset);
	first = parts[0].first_offset;

	/* the last record is bad: refused before anything is dropped */
	((struct mqdev_record *)((char *)buf + 7 * 128))->key_len = 200;
	EXPECT_EQ(-EINVAL, batch_ioctl(prod, buf, len, &part, NULL));
	((struct mqdev_record *)((char *)buf + 7 * 128))->key_len = 0;
	EXPECT_EQ(-EFAULT, batch_ioctl(prod, NULL, len, &part, NULL));
	ASSERT_EQ(0, mqdev_topic_describe(fd, name, &info, parts, 1));
	EXPECT_EQ(48, parts[0].next_offset);
	EXPECT_EQ(first, parts[0].first_offset);

	EXPECT_EQ(8, batch_ioctl(prod, buf, len, &part, NULL));
	ASSERT_EQ(0, mqdev_topic_describe(fd, name, &info, parts, 1));
	EXPECT_EQ(56, parts[0].next_offset);
	EXPECT_EQ(24, parts[0].first_offset);

	close(prod);
	EXPECT_EQ(0, mqdev_topic_delete(fd, name));
	close(fd);
}

TEST_HARNESS_MAIN
