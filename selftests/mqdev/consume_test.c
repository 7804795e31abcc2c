// SPDX-License-Identifier: GPL-2.0
/* Consuming: in place through mmap, by copy through read(), and polling. */
#include <pthread.h>
#include "common.h"
#include "kselftest_harness.h"

#define PARTS 2
#define CAP 65536

FIXTURE(consume) {
	int fd;
	int prod;
	char name[MQDEV_NAME_MAX + 1];
};

FIXTURE_SETUP(consume)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("consume"));
	ASSERT_EQ(0, create_topic(self->fd, self->name, PARTS, CAP, 0));
	self->prod = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, self->prod);
}

FIXTURE_TEARDOWN(consume)
{
	close(self->prod);
	mqdev_topic_delete(self->fd, self->name);
	close(self->fd);
}

static void produce_n(struct __test_metadata *_metadata, int prod,
		      uint32_t part, int first, int n)
{
	char key[16], value[64];
	int i;

	for (i = first; i < first + n; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(value, sizeof(value), "value number %d", i);
		ASSERT_EQ((int)part, produce_one(prod, part, key, strlen(key),
						 value, strlen(value), NULL));
	}
}

/* Read every ready record with @c and check it is value number @first... */
static int consume_check(struct __test_metadata *_metadata,
			 struct mqdev_consumer *c, uint32_t part, int first)
{
	const struct mqdev_record *rec;
	char key[16], value[64];
	int n = 0;

	while ((rec = mqdev_consumer_peek(c))) {
		snprintf(key, sizeof(key), "k%d", first + n);
		snprintf(value, sizeof(value), "value number %d", first + n);
		EXPECT_EQ(part, rec->partition);
		EXPECT_EQ(first + n, rec->offset);
		EXPECT_EQ(strlen(key), rec->key_len);
		EXPECT_EQ(0, memcmp(mqdev_record_key(rec), key, strlen(key)));
		EXPECT_EQ(strlen(value), mqdev_record_value_len(rec));
		EXPECT_EQ(0, memcmp(mqdev_record_value(rec), value,
				    strlen(value)));
		EXPECT_NE(0, rec->timestamp);
		EXPECT_EQ(0, mqdev_consumer_release(c));
		n++;
	}
	EXPECT_EQ(0, mqdev_consumer_error(c));
	return n;
}

static void round_trip(struct __test_metadata *_metadata,
		       FIXTURE_DATA(consume) *self, unsigned int flags)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts, .flags = flags);
	struct mqdev_consumer *c;
	uint64_t landed;

	produce_n(_metadata, self->prod, 1, 0, 300);
	ASSERT_EQ(0, mqdev_consumer_new(self->name, &opts, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 1, MQDEV_SEEK_EARLIEST, 0, 0,
					 &landed));
	EXPECT_EQ(0, landed);
	EXPECT_EQ(300, consume_check(_metadata, c, 1, 0));
	/* more after the reader caught up, across the ring's wrap */
	produce_n(_metadata, self->prod, 1, 300, 200);
	EXPECT_EQ(200, consume_check(_metadata, c, 1, 300));
	EXPECT_EQ(500, mqdev_consumer_position(c, 1));
	EXPECT_EQ(0, mqdev_consumer_lost(c));
	mqdev_consumer_free(c);
}

TEST_F(consume, round_trip_in_place)
{
	round_trip(_metadata, self, 0);
}

TEST_F(consume, round_trip_by_copy)
{
	round_trip(_metadata, self, MQDEV_CONSUMER_COPY);
}

TEST_F(consume, seek)
{
	struct mqdev_consumer *c;
	const struct mqdev_record *rec;
	uint64_t off = 0;
	int cons, k;

	/*
	 * Apart in time: timestamps never go back within a partition, but two
	 * appends within one tick of a coarse clock share one, and seeking by
	 * time below needs ts[2] < ts[3].
	 */
	for (k = 0; k < 5; k++) {
		produce_n(_metadata, self->prod, 0, k, 1);
		usleep(10000);
	}
	cons = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, cons);
	EXPECT_EQ(0, seek(cons, 0, MQDEV_SEEK_EARLIEST, &off, 0));
	EXPECT_EQ(0, off);
	EXPECT_EQ(0, seek(cons, 0, MQDEV_SEEK_LATEST, &off, 0));
	EXPECT_EQ(5, off);
	off = 3;
	EXPECT_EQ(0, seek(cons, 0, MQDEV_SEEK_OFFSET, &off, 0));
	EXPECT_EQ(3, off);
	off = 5;
	EXPECT_EQ(0, seek(cons, 0, MQDEV_SEEK_OFFSET, &off, 0));
	off = 6;
	EXPECT_EQ(-ERANGE, seek(cons, 0, MQDEV_SEEK_OFFSET, &off, 0));
	EXPECT_EQ(-EINVAL, seek(cons, MQDEV_PARTITION_ALL, MQDEV_SEEK_OFFSET,
				NULL, 0));
	EXPECT_EQ(-EINVAL, seek(cons, PARTS, MQDEV_SEEK_EARLIEST, NULL, 0));
	EXPECT_EQ(-EINVAL, seek(cons, 0, 4, NULL, 0));
	EXPECT_EQ(-EINVAL, seek(cons, 0, MQDEV_SEEK_EARLIEST, NULL, 1 << 5));
	EXPECT_EQ(-EBADF, seek(self->prod, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
	close(cons);

	/* by time: the first record at or after it */
	{
		struct mqdev_consumer *tc;
		const struct mqdev_record *r;
		uint64_t ts[5];
		int i = 0;

		ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &tc));
		ASSERT_EQ(0, mqdev_consumer_seek(tc, 0, MQDEV_SEEK_EARLIEST, 0,
						 0, NULL));
		while ((r = mqdev_consumer_peek(tc)) && i < 5) {
			ts[i++] = r->timestamp;
			mqdev_consumer_release(tc);
		}
		ASSERT_EQ(5, i);
		for (i = 1; i < 5; i++)
			ASSERT_LE(ts[i - 1], ts[i]);
		ASSERT_LT(ts[2], ts[3]);
		off = ts[3];
		EXPECT_EQ(0, seek(mqdev_consumer_fd(tc), 0,
				  MQDEV_SEEK_TIMESTAMP, &off, 0));
		EXPECT_EQ(3, off);
		off = 0;
		EXPECT_EQ(0, seek(mqdev_consumer_fd(tc), 0,
				  MQDEV_SEEK_TIMESTAMP, &off, 0));
		EXPECT_EQ(0, off);
		off = ~0ULL;
		EXPECT_EQ(0, seek(mqdev_consumer_fd(tc), 0,
				  MQDEV_SEEK_TIMESTAMP, &off, 0));
		EXPECT_EQ(5, off);
		mqdev_consumer_free(tc);
	}

	/* reading starts where the seek landed */
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_OFFSET, 3, 0, NULL));
	rec = mqdev_consumer_peek(c);
	ASSERT_NE(NULL, rec);
	EXPECT_EQ(3, rec->offset);
	EXPECT_EQ(0, mqdev_consumer_release(c));
	EXPECT_EQ(1, consume_check(_metadata, c, 0, 4));
	mqdev_consumer_free(c);
}

struct delayed {
	int prod;
	uint32_t part;
	int delay_ms;
};

static void *produce_later(void *arg)
{
	struct delayed *d = arg;

	usleep(d->delay_ms * 1000);
	produce_one(d->prod, d->part, NULL, 0, "late", 4, NULL);
	return NULL;
}

TEST_F(consume, poll_wakes_the_reader)
{
	struct delayed d = { .prod = self->prod, .part = 1, .delay_ms = 200 };
	struct mqdev_consumer *c;
	struct pollfd pfd;
	pthread_t t;

	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, MQDEV_PARTITION_ALL,
					 MQDEV_SEEK_LATEST, 0, 0, NULL));
	pfd.fd = mqdev_consumer_fd(c);
	pfd.events = POLLIN;
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	EXPECT_EQ(0, mqdev_consumer_wait(c, 50));

	ASSERT_EQ(0, pthread_create(&t, NULL, produce_later, &d));
	EXPECT_EQ(1, poll(&pfd, 1, 10000));
	EXPECT_TRUE(pfd.revents & POLLIN);
	ASSERT_NE(NULL, mqdev_consumer_peek(c));
	EXPECT_EQ(0, mqdev_consumer_release(c));
	/* read to the end: no longer readable */
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	pthread_join(t, NULL);

	/* and through the library's wait */
	ASSERT_EQ(0, pthread_create(&t, NULL, produce_later, &d));
	EXPECT_EQ(1, mqdev_consumer_wait(c, 10000));
	pthread_join(t, NULL);
	mqdev_consumer_free(c);
}

TEST_F(consume, read_copies_whole_records)
{
	struct mqdev_record *rec;
	char buf[4096];
	void *volatile bad;
	int cons;
	ssize_t n;

	cons = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, cons);
	EXPECT_EQ(-1, read(cons, buf, sizeof(buf)));
	EXPECT_EQ(EDESTADDRREQ, errno);
	ASSERT_EQ(0, seek(cons, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
	ASSERT_EQ(0, fcntl(cons, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, read(cons, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);

	produce_n(_metadata, self->prod, 0, 0, 3);
	/* too small for one record: an error, and the position stays */
	EXPECT_EQ(-1, read(cons, buf, sizeof(struct mqdev_record) + 2));
	EXPECT_EQ(EMSGSIZE, errno);
	bad = (void *)0x10;	/* hidden from the compiler's bounds checks */
	EXPECT_EQ(-1, read(cons, bad, sizeof(buf)));
	EXPECT_EQ(EFAULT, errno);
	n = read(cons, buf, sizeof(buf));
	ASSERT_LT(0, n);
	rec = (void *)buf;
	EXPECT_EQ(0, rec->offset);
	rec = (void *)(buf + MQDEV_RECORD_SPACE(rec->len));
	EXPECT_EQ(1, rec->offset);
	rec = (void *)((char *)rec + MQDEV_RECORD_SPACE(rec->len));
	EXPECT_EQ(2, rec->offset);
	EXPECT_EQ(n, (char *)rec - buf + MQDEV_RECORD_SPACE(rec->len));
	EXPECT_EQ(-1, read(cons, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	close(cons);
}

/*
 * A record that straddles into a page the reader cannot write: read(2)
 * returns the records before it, then -EFAULT with the position where it
 * was, and a good buffer gets that record whole and the ones after it.
 */
TEST_F(consume, read_fault_mid_record_keeps_the_position)
{
	long page = sysconf(_SC_PAGESIZE);
	char value[900], *buf, *good;
	struct mqdev_record *rec;
	ssize_t n, space;
	int cons, i, nrec;

	space = MQDEV_RECORD_SPACE(sizeof(struct mqdev_record) +
				   sizeof(value));
	ASSERT_NE(0, page % space);	/* so that one record straddles */
	nrec = page / space + 2;
	buf = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	ASSERT_EQ(0, mprotect(buf + page, page, PROT_NONE));
	good = malloc(2 * page);
	ASSERT_NE(NULL, good);
	cons = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, cons);
	ASSERT_EQ(0, seek(cons, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
	ASSERT_EQ(0, fcntl(cons, F_SETFL, O_NONBLOCK));
	for (i = 0; i < nrec; i++) {
		pattern_fill(value, sizeof(value), i);
		ASSERT_EQ(0, produce_one(self->prod, 0, NULL, 0, value,
					 sizeof(value), NULL));
	}
	/* the records that fit before the closed page, and not the next */
	n = read(cons, buf, 2 * page);
	EXPECT_EQ(page / space * space, n);
	/* that next one, straddling: nothing read, the position stays */
	EXPECT_EQ(-1, read(cons, buf + page - space / 2, space));
	EXPECT_EQ(EFAULT, errno);
	n = read(cons, good, 2 * page);
	EXPECT_EQ((nrec - page / space) * space, n);
	rec = (void *)good;
	EXPECT_EQ(page / space, rec->offset);
	EXPECT_EQ(0, pattern_check(mqdev_record_value(rec), sizeof(value),
				   rec->offset));
	close(cons);
	free(good);
	munmap(buf, 2 * page);
}

/* A value that differs in every byte, every page and every record. */
static unsigned char wrap_byte(uint64_t seed, size_t i)
{
	uint64_t x = (seed << 32 | i) * 0x9e3779b97f4a7c15ull;

	return x >> 56;
}

/*
 * Rounds of @per_read records of @size bytes, each round produced and then
 * read back with one read(2), every byte checked, three times round the
 * ring: so some records, or runs of them, cross the ring's end.
 */
static void wrap_and_read(struct __test_metadata *_metadata,
			  FIXTURE_DATA(consume) *self, size_t size,
			  int per_read)
{
	unsigned char *value = malloc(size), *buf = malloc(per_read * size * 2);
	const unsigned char *got;
	struct mqdev_attach att;
	struct mqdev_record *rec;
	uint64_t start = 0, space, seq = 0;
	int cons, i, k, rounds, across = 0;
	size_t j;

	ASSERT_TRUE(value && buf);
	cons = attach(self->name, MQDEV_ATTACH_CONSUME, &att);
	ASSERT_LE(0, cons);
	if (sizeof(struct mqdev_record) + size > att.max_record)
		SKIP(goto out, "a %zu-byte record is more than the topic takes",
		     size);
	/* holding, so that the blocking topic reclaims what we have read */
	ASSERT_EQ(0, seek(cons, 0, MQDEV_SEEK_EARLIEST, NULL, MQDEV_SEEK_HOLD));
	ASSERT_EQ(0, fcntl(cons, F_SETFL, O_NONBLOCK));
	/* a reclaim that fails is an EAGAIN here, not a hang */
	ASSERT_EQ(0, fcntl(self->prod, F_SETFL, O_NONBLOCK));
	space = MQDEV_RECORD_SPACE(sizeof(struct mqdev_record) + size);
	rounds = 3 * att.off.data_size / (per_read * space);
	for (i = 0; i < rounds; i++) {
		for (k = 0; k < per_read; k++) {
			for (j = 0; j < size; j++)
				value[j] = wrap_byte(seq + k, j);
			ASSERT_EQ(0, produce_one(self->prod, 0, NULL, 0, value,
						 size, NULL));
		}
		ASSERT_EQ(per_read * space,
			  read(cons, buf, per_read * size * 2));
		for (k = 0; k < per_read; k++, seq++) {
			rec = (void *)(buf + k * space);
			ASSERT_EQ(seq, rec->offset);
			ASSERT_EQ(size, mqdev_record_value_len(rec));
			got = mqdev_record_value(rec);
			for (j = 0; j < size && got[j] == wrap_byte(seq, j); j++)
				;
			ASSERT_EQ(size, j) TH_LOG("record %llu byte %zu",
						  (unsigned long long)seq, j);
		}
		/* the test's own premise: some rounds crossed the end */
		across += start / att.off.data_size !=
			  (start + per_read * space - 1) / att.off.data_size;
		start += per_read * space;
	}
	EXPECT_LE(2, across);
out:
	close(cons);
	free(buf);
	free(value);
}

/* Records larger than a page, each read alone, across the ring's end. */
TEST_F(consume, read_copies_records_larger_than_a_page_across_the_end)
{
	long page = sysconf(_SC_PAGESIZE);

	wrap_and_read(_metadata, self, page + page / 4, 1);
}

/* Runs of records, read five at a time, across the ring's end. */
TEST_F(consume, read_copies_runs_across_the_end)
{
	wrap_and_read(_metadata, self, 1000, 5);
}

/*
 * A run ends where the buffer does: a record fits when its bytes do, its
 * padding need not, and nothing is written past the length asked for.
 */
TEST_F(consume, read_stops_where_the_buffer_ends)
{
	size_t rlen = sizeof(struct mqdev_record) + 5;
	size_t space = MQDEV_RECORD_SPACE(rlen), j;
	struct mqdev_record *rec;
	unsigned char buf[256];
	int cons, i;

	ASSERT_LT(rlen, space);		/* so that the record has padding */
	cons = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, cons);
	ASSERT_EQ(0, seek(cons, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
	ASSERT_EQ(0, fcntl(cons, F_SETFL, O_NONBLOCK));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, produce_one(self->prod, 0, NULL, 0, "12345", 5,
					 NULL));
	/* one byte short of the second record: the first alone */
	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(space, read(cons, buf, space + rlen - 1));
	rec = (void *)buf;
	EXPECT_EQ(0, rec->offset);
	for (j = space; j < sizeof(buf) && buf[j] == 0xa5; j++)
		;
	EXPECT_EQ(sizeof(buf), j);
	/* the second and the third, whose padding does not fit */
	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(space + rlen, read(cons, buf, space + rlen));
	EXPECT_EQ(1, rec->offset);
	rec = (void *)(buf + space);
	EXPECT_EQ(2, rec->offset);
	EXPECT_EQ(0, memcmp(mqdev_record_value(rec), "12345", 5));
	for (j = space + rlen; j < sizeof(buf) && buf[j] == 0xa5; j++)
		;
	EXPECT_EQ(sizeof(buf), j);
	close(cons);
}

static int write_to(volatile char *p)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		*p = 1;
		_exit(0);
	}
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

TEST_F(consume, mappings_are_read_only)
{
	struct mqdev_attach att = {};
	size_t size;
	char *ring, *cons_page;
	int cons;

	cons = attach(self->name, MQDEV_ATTACH_CONSUME, &att);
	ASSERT_LE(0, cons);
	size = att.off.ring_size;
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size, PROT_READ | PROT_WRITE,
				   MAP_SHARED, cons, att.off.ring_mmap));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size, PROT_READ, MAP_PRIVATE, cons,
				   att.off.ring_mmap));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size, PROT_READ | PROT_EXEC,
				   MAP_SHARED, cons, att.off.ring_mmap));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size, PROT_READ, MAP_SHARED, cons,
				   att.off.ring_mmap + PARTS * att.off.part_stride));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size, PROT_READ, MAP_SHARED, cons,
				   att.off.ring_mmap + 4096));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size + 4096, PROT_READ, MAP_SHARED,
				   cons, att.off.ring_mmap));

	ring = mmap(NULL, size, PROT_READ, MAP_SHARED, cons,
		    att.off.ring_mmap + att.off.part_stride);
	ASSERT_NE(MAP_FAILED, ring);
	EXPECT_EQ(-1, mprotect(ring, size, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(SIGSEGV, write_to(ring));
	EXPECT_EQ(SIGSEGV, write_to(ring + att.off.data + 100));

	/* the data pages are mapped twice: the same bytes at both places */
	produce_n(_metadata, self->prod, 1, 0, 1);
	EXPECT_EQ(0, memcmp(ring + att.off.data,
			    ring + att.off.data + att.off.data_size, 4096));
	EXPECT_EQ(0, ((struct mqdev_record *)(ring + att.off.data +
					       att.off.data_size))->offset);
	EXPECT_LT(0, *(uint64_t *)(ring + att.off.head));

	/* the position page is the one the reader may write */
	cons_page = mmap(NULL, att.off.cons_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, cons, att.off.cons_mmap);
	ASSERT_NE(MAP_FAILED, cons_page);
	EXPECT_EQ(0, write_to(cons_page));
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 2 * 4096, PROT_READ, MAP_SHARED, cons,
				   att.off.cons_mmap));
	munmap(cons_page, att.off.cons_size);
	munmap(ring, size);
	close(cons);

	/* producers map nothing */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size, PROT_READ, MAP_SHARED,
				   self->prod, att.off.ring_mmap));
	EXPECT_EQ(EBADF, errno);
}

/* A reader that scribbles over its own position hurts only itself. */
TEST_F(consume, scribbled_position)
{
	struct mqdev_attach att = {};
	uint64_t *pos, head;
	char buf[4096], *ring;
	int cons;

	produce_n(_metadata, self->prod, 0, 0, 10);
	cons = attach(self->name, MQDEV_ATTACH_CONSUME, &att);
	ASSERT_LE(0, cons);
	ASSERT_EQ(0, fcntl(cons, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(0, seek(cons, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
	pos = mmap(NULL, att.off.cons_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   cons, att.off.cons_mmap);
	ASSERT_NE(MAP_FAILED, pos);
	ring = mmap(NULL, att.off.ring_size, PROT_READ, MAP_SHARED, cons,
		    att.off.ring_mmap);
	ASSERT_NE(MAP_FAILED, ring);
	head = *(uint64_t *)(ring + att.off.head);

	*pos = 12;		/* inside the first record */
	EXPECT_EQ(-1, read(cons, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
	*pos = head + 1000;	/* beyond what exists */
	EXPECT_EQ(-1, read(cons, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	*pos = ~0ULL;
	EXPECT_EQ(-1, read(cons, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	/* a seek puts it right */
	ASSERT_EQ(0, seek(cons, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
	EXPECT_LT(0, read(cons, buf, sizeof(buf)));
	EXPECT_EQ(head, *pos);

	/* nobody else noticed */
	EXPECT_EQ(0, produce_one(self->prod, 0, NULL, 0, "more", 4, NULL));
	munmap(ring, att.off.ring_size);
	munmap(pos, att.off.cons_size);
	close(cons);
}

TEST_F(consume, deleted_topic)
{
	struct mqdev_attach att = {};
	struct mqdev_consumer *c;
	struct pollfd pfd;
	char buf[4096], *ring;
	uint32_t flags;
	int cons;

	produce_n(_metadata, self->prod, 0, 0, 2);
	cons = attach(self->name, MQDEV_ATTACH_CONSUME, &att);
	ASSERT_LE(0, cons);
	ASSERT_EQ(0, seek(cons, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
	ring = mmap(NULL, att.off.ring_size, PROT_READ, MAP_SHARED, cons,
		    att.off.ring_mmap);
	ASSERT_NE(MAP_FAILED, ring);
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_LATEST, 0, 0, NULL));

	ASSERT_EQ(0, mqdev_topic_delete(self->fd, self->name));
	EXPECT_EQ(-EIDRM, produce_one(self->prod, 0, NULL, 0, "x", 1, NULL));
	EXPECT_EQ(-ENOENT, attach(self->name, MQDEV_ATTACH_CONSUME, NULL));

	flags = *(uint32_t *)(ring + att.off.flags);
	EXPECT_TRUE(flags & MQDEV_RING_DEAD);
	EXPECT_EQ(0, ((struct mqdev_record *)(ring + att.off.data))->offset);
	pfd.fd = cons;
	pfd.events = POLLIN;
	EXPECT_EQ(1, poll(&pfd, 1, 1000));
	EXPECT_TRUE(pfd.revents & POLLHUP);
	/* what was there can still be read, then it is the end */
	EXPECT_LT(0, read(cons, buf, sizeof(buf)));
	EXPECT_EQ(0, read(cons, buf, sizeof(buf)));
	EXPECT_EQ(-EIDRM, mqdev_consumer_wait(c, 1000));
	mqdev_consumer_free(c);
	munmap(ring, att.off.ring_size);
	close(cons);
}

/*
 * Runs: every record of both partitions exactly once, in order, each run
 * of one partition with consecutive offsets and no longer than asked.
 */
static void read_in_runs(struct __test_metadata *_metadata, const char *name,
			 unsigned int flags)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts, .flags = flags);
	const struct mqdev_record *recs[256];
	uint64_t next[PARTS] = {};
	struct mqdev_consumer *c;
	int n, i, runs = 0, total = 0;
	unsigned int max;

	ASSERT_EQ(0, mqdev_consumer_new(name, &opts, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, MQDEV_PARTITION_ALL,
					 MQDEV_SEEK_EARLIEST, 0, 0, NULL));
	EXPECT_EQ(-EINVAL, mqdev_consumer_peek_batch(c, recs, 0));
	for (max = 7;; max = max == 7 ? 256 : 7) {
		n = mqdev_consumer_peek_batch(c, recs, max);
		if (n <= 0)
			break;
		runs++;
		ASSERT_GE(max, (unsigned int)n);
		/* peek hands out the run's first; no second run meanwhile */
		EXPECT_EQ(recs[0], mqdev_consumer_peek(c));
		EXPECT_EQ(-EBUSY, mqdev_consumer_peek_batch(c, recs, max));
		for (i = 0; i < n; i++) {
			ASSERT_GT(PARTS, recs[i]->partition);
			EXPECT_EQ(recs[0]->partition, recs[i]->partition);
			EXPECT_EQ(next[recs[i]->partition], recs[i]->offset);
			next[recs[i]->partition] = recs[i]->offset + 1;
		}
		total += n;
		EXPECT_EQ(0, mqdev_consumer_release(c));
		EXPECT_EQ(-EINVAL, mqdev_consumer_release(c));
	}
	EXPECT_EQ(0, n);
	EXPECT_EQ(0, mqdev_consumer_error(c));
	EXPECT_EQ(100, next[0]);
	EXPECT_EQ(30, next[1]);
	EXPECT_EQ(130, total);
	/* runs, not one record at a time, and never past a burst of 64 */
	EXPECT_GT(130 / 2, runs);
	EXPECT_LE((130 + 63) / 64, runs);
	EXPECT_EQ(0, mqdev_consumer_lost(c));
	mqdev_consumer_free(c);
}

TEST_F(consume, peek_batch_in_place)
{
	produce_n(_metadata, self->prod, 0, 0, 60);
	produce_n(_metadata, self->prod, 1, 0, 30);
	produce_n(_metadata, self->prod, 0, 60, 40);
	read_in_runs(_metadata, self->name, 0);
}

TEST_F(consume, peek_batch_by_copy)
{
	produce_n(_metadata, self->prod, 0, 0, 60);
	produce_n(_metadata, self->prod, 1, 0, 30);
	produce_n(_metadata, self->prod, 0, 60, 40);
	read_in_runs(_metadata, self->name, MQDEV_CONSUMER_COPY);
}

/* A run ends before a transaction's record: those are decided one by one. */
TEST_F(consume, peek_batch_stops_at_transactions)
{
	const struct mqdev_record *recs[64];
	struct mqdev_producer *p;
	struct mqdev_session *s;
	struct mqdev_consumer *c;
	const int want[] = { 3, 1, 4 };
	unsigned int i;

	produce_n(_metadata, self->prod, 0, 0, 3);
	ASSERT_EQ(0, mqdev_session_new(NULL, 0, &s));
	ASSERT_EQ(0, mqdev_producer_new(self->name, NULL, &p));
	ASSERT_EQ(0, mqdev_producer_bind(p, s));
	ASSERT_EQ(0, mqdev_txn_begin(s, 1));
	ASSERT_EQ(0, mqdev_producer_send(p, NULL, 0, "t1", 2, 0, NULL));
	ASSERT_EQ(0, mqdev_producer_send(p, NULL, 0, "t2", 2, 0, NULL));
	ASSERT_EQ(0, mqdev_txn_commit(s));
	produce_n(_metadata, self->prod, 0, 5, 3);

	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0, 0,
					 NULL));
	/* the plain three; t1 alone; t2 first of a run with the plain three */
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ASSERT_EQ(want[i], mqdev_consumer_peek_batch(c, recs, 64));
		EXPECT_EQ(i ? 3 + i - 1 : 0, recs[0]->offset);
		EXPECT_EQ(i != 0, !!(recs[0]->flags & MQDEV_RECORD_TXN));
		if (want[i] > 1)
			EXPECT_EQ(0, recs[1]->flags & MQDEV_RECORD_TXN);
		EXPECT_EQ(0, mqdev_consumer_release(c));
	}
	EXPECT_EQ(0, mqdev_consumer_peek_batch(c, recs, 64));
	mqdev_consumer_free(c);
	mqdev_producer_free(p);
	mqdev_session_free(s);
}

TEST_HARNESS_MAIN
