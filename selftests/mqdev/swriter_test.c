// SPDX-License-Identifier: GPL-2.0
/*
 * Single-writer topics: one writer writes into the mapped ring itself.
 * Records in order and whole, groups and commits, holding, block and
 * overwrite, a writer killed mid-record and one taking over, a hostile
 * writer's garbage (readers get -EBADMSG, never a crash, the kernel's log
 * stays clean: tools/vm/run checks it), read-only readers, one writer.
 * A reader lapped or made to skip at every look returns all the same (and,
 * for comparison, one whose ordinary producer makes it skip).
 */
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <time.h>
#include "common.h"
#include "kselftest_harness.h"

#define CAP	65536
#define VALUE	56
#define REC	96	/* 40 + 56, 8-byte aligned */

FIXTURE(sw) {
	int fd;
	char name[MQDEV_NAME_MAX + 1];
};

FIXTURE_SETUP(sw)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("sw"));
	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, CAP,
				  MQDEV_TOPIC_SINGLE_WRITER));
}

FIXTURE_TEARDOWN(sw)
{
	mqdev_topic_delete(self->fd, self->name);
	close(self->fd);
}

static struct mqdev_swriter *writer(const char *name, uint32_t flags)
{
	LIBMQDEV_OPTS(mqdev_swriter_opts, opts, .flags = flags);
	struct mqdev_swriter *w;

	return mqdev_swriter_new(name, &opts, &w) ? NULL : w;
}

/* Send records @first..@first+@n-1, each value its number. */
static int send_n(struct mqdev_swriter *w, int first, int n)
{
	struct mqdev_msg msg;
	char value[VALUE];
	int i, err;

	for (i = first; i < first + n; i++) {
		memset(value, 0, sizeof(value));
		snprintf(value, sizeof(value), "v%d", i);
		mqdev_msg_init(&msg, NULL, 0, value, sizeof(value), 0);
		err = mqdev_swriter_send(w, &msg, 1);
		if (err != 1)
			return err;
	}
	return 0;
}

static struct mqdev_consumer *reader_at(const char *name, uint32_t whence,
					 uint32_t seek_flags)
{
	struct mqdev_consumer *c;

	if (mqdev_consumer_new(name, NULL, &c))
		return NULL;
	if (mqdev_consumer_seek(c, 0, whence, 0, seek_flags, NULL)) {
		mqdev_consumer_free(c);
		return NULL;
	}
	return c;
}

static struct mqdev_consumer *reader(const char *name, uint32_t seek_flags)
{
	return reader_at(name, MQDEV_SEEK_EARLIEST, seek_flags);
}

/* Read @n records, expecting offsets and values from @first on. */
static int read_n(struct mqdev_consumer *c, int first, int n, int timeout_ms)
{
	const struct mqdev_record *rec;
	char want[VALUE];
	int i;

	for (i = first; i < first + n; i++) {
		rec = mqdev_consumer_peek(c);
		if (!rec && mqdev_consumer_wait(c, timeout_ms) >= 0)
			rec = mqdev_consumer_peek(c);
		if (!rec)
			return mqdev_consumer_error(c) ?: -ETIMEDOUT;
		memset(want, 0, sizeof(want));
		snprintf(want, sizeof(want), "v%d", i);
		if (rec->offset != (uint64_t)i ||
		    mqdev_record_value_len(rec) != VALUE ||
		    memcmp(mqdev_record_value(rec), want, VALUE))
			return -EILSEQ;
		if (mqdev_consumer_release(c))
			return -ESTALE;
	}
	return 0;
}

/* The first @n partitions of @name, as a describe says. */
static int describe_n(int fd, const char *name,
		      struct mqdev_partition_info *pi, uint32_t n)
{
	struct mqdev_topic_info info = {};

	mqdev_name_set(info.name, name);
	info.parts = (uintptr_t)pi;
	info.parts_count = n;
	info.part_info_size = sizeof(*pi);
	return xioctl(fd, MQDEV_IOC_TOPIC_DESCRIBE, &info);
}

/* A raw writer of @name: its handle, and the data and page mapped at *@data. */
static int raw_writer(const char *name, struct mqdev_attach *att, char **data,
		      struct mqdev_writer_page **wp)
{
	int fd = attach(name, MQDEV_ATTACH_PRODUCE | MQDEV_ATTACH_WRITER, att);

	if (fd < 0)
		return fd;
	*data = mmap(NULL, att->off.ring_size - att->off.data,
		     PROT_READ | PROT_WRITE, MAP_SHARED, fd, att->off.writer_mmap);
	if (*data == MAP_FAILED) {
		close(fd);
		return -errno;
	}
	*wp = (void *)(*data + att->off.writer_page - att->off.data);
	return fd;
}

TEST_F(sw, records_in_order_and_whole)
{
	struct mqdev_swriter *w = writer(self->name, 0);
	struct mqdev_consumer *c = reader(self->name, 0);
	const struct mqdev_record *recs[64];
	int n;

	ASSERT_NE(NULL, w);
	ASSERT_NE(NULL, c);
	/* Block, and no holder: at most a ring's worth. */
	ASSERT_EQ(0, send_n(w, 0, 500));
	ASSERT_EQ(0, read_n(c, 0, 500, 1000));
	/* A run read in one go. */
	ASSERT_EQ(0, send_n(w, 500, 10));
	n = mqdev_consumer_peek_batch(c, recs, 64);
	ASSERT_EQ(10, n);
	EXPECT_EQ(509, recs[9]->offset);
	EXPECT_EQ(0, mqdev_consumer_release(c));
	mqdev_consumer_free(c);
	mqdev_swriter_free(w);
}

/*
 * Records reserved and written but not committed lie in the ring past head,
 * whole and in sequence: a run must end at head all the same.
 */
TEST_F(sw, a_run_ends_at_head_not_at_the_last_reservation)
{
	struct mqdev_swriter *w = writer(self->name, 0);
	struct mqdev_consumer *c = reader(self->name, 0);
	const struct mqdev_record *recs[64];
	struct mqdev_record *rec;
	int i;

	ASSERT_NE(NULL, w);
	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, send_n(w, 0, 3));
	for (i = 3; i < 5; i++) {
		ASSERT_EQ(0, mqdev_swriter_reserve(w, 0, 0, VALUE, 0, &rec));
		memset(rec + 1, 0, VALUE);
		snprintf((char *)(rec + 1), VALUE, "v%d", i);
	}
	ASSERT_EQ(3, mqdev_consumer_peek_batch(c, recs, 64));
	EXPECT_EQ(2, recs[2]->offset);
	EXPECT_EQ(0, mqdev_consumer_release(c));
	EXPECT_EQ(NULL, mqdev_consumer_peek(c));
	ASSERT_EQ(0, mqdev_swriter_commit(w));
	ASSERT_EQ(2, mqdev_consumer_peek_batch(c, recs, 64));
	EXPECT_EQ(4, recs[1]->offset);
	EXPECT_EQ(0, mqdev_consumer_release(c));
	mqdev_consumer_free(c);
	mqdev_swriter_free(w);
}

TEST_F(sw, one_writer_and_nothing_else_writes)
{
	struct mqdev_swriter *w = writer(self->name, 0), *w2;
	struct mqdev_produce_batch batch = {};
	struct mqdev_attach att;
	char buf[256];
	int fd;

	ASSERT_NE(NULL, w);
	EXPECT_EQ(-EBUSY, mqdev_swriter_new(self->name, NULL, &w2));
	/* Ordinary producers are not let in; the writer appends in place. */
	EXPECT_EQ(-EINVAL, attach(self->name, MQDEV_ATTACH_PRODUCE, NULL));
	EXPECT_EQ(-EOPNOTSUPP, xioctl(mqdev_swriter_fd(w),
				      MQDEV_IOC_PRODUCE_BATCH, &batch));
	/* read(2) would copy what the writer can change under it. */
	fd = attach(self->name, MQDEV_ATTACH_CONSUME, &att);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, seek(fd, 0, MQDEV_SEEK_EARLIEST, 0, 0));
	EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(EOPNOTSUPP, errno);
	close(fd);
	/* A writer of an ordinary topic, or one that does not produce: no. */
	EXPECT_EQ(0, create_topic(self->fd, "sw-plain", 1, CAP, 0));
	EXPECT_EQ(-EINVAL, attach("sw-plain", MQDEV_ATTACH_PRODUCE |
				  MQDEV_ATTACH_WRITER, NULL));
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, "sw-plain"));
	EXPECT_EQ(-EINVAL, attach(self->name, MQDEV_ATTACH_CONSUME |
				  MQDEV_ATTACH_WRITER, NULL));
	EXPECT_EQ(-EINVAL, create_topic(self->fd, "sw-durable", 1, CAP,
					MQDEV_TOPIC_SINGLE_WRITER |
					MQDEV_TOPIC_DURABLE));
	/* The role goes with the writer. */
	mqdev_swriter_free(w);
	w2 = writer(self->name, 0);
	EXPECT_NE(NULL, w2);
	mqdev_swriter_free(w2);
}

TEST_F(sw, readers_cannot_write)
{
	struct mqdev_swriter *w = writer(self->name, 0);
	struct mqdev_attach att;
	void *map;
	int fd;

	ASSERT_NE(NULL, w);
	fd = attach(self->name, MQDEV_ATTACH_CONSUME, &att);
	ASSERT_LE(0, fd);
	EXPECT_NE(0, att.off.writer_page);
	EXPECT_EQ(0, att.off.writer_mmap);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, att.off.ring_size,
				   PROT_READ | PROT_WRITE, MAP_SHARED, fd,
				   att.off.ring_mmap));
	map = mmap(NULL, att.off.ring_size, PROT_READ, MAP_SHARED, fd,
		   att.off.ring_mmap);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(-1, mprotect(map, att.off.ring_size, PROT_READ | PROT_WRITE));
	munmap(map, att.off.ring_size);
	/* The writer's mapping is the writer's alone. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, att.off.ring_size - att.off.data,
				   PROT_READ, MAP_SHARED, fd,
				   1ULL << 42));
	EXPECT_EQ(EACCES, errno);
	close(fd);
	mqdev_swriter_free(w);
}

TEST_F(sw, a_sleeping_reader_is_woken)
{
	struct mqdev_consumer *c = reader(self->name, 0);
	struct mqdev_swriter *w;
	int status, done[2];
	uint64_t t0;
	char ch;
	pid_t pid;

	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, pipe(done));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		w = writer(self->name, 0);
		usleep(300 * 1000);	/* the reader is asleep by now */
		if (!w || send_n(w, 0, 1))
			_exit(1);
		/* Still the writer: no hand-over wakes the reader instead. */
		_exit(read(done[0], &ch, 1) != 1);
	}
	/*
	 * One record, woken for by the writer's MQDEV_WRITER_WAKE, well
	 * before the wait's time-out (after which it would find it anyway).
	 */
	t0 = mono_ms();
	EXPECT_EQ(1, mqdev_consumer_wait(c, 3000));
	EXPECT_GT(2000, mono_ms() - t0) TH_LOG("the writer never woke it");
	EXPECT_EQ(0, read_n(c, 0, 1, 0));
	ASSERT_EQ(1, write(done[1], "x", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	mqdev_consumer_free(c);
}

/*
 * A writer's wake-up wakes an epoll reader once.  epoll's entry stays on
 * the partition's queue, so a second wake-up would count too: the sync that
 * follows the wake-up publishes without one, where it used to wake every
 * sleeper again.
 */
TEST_F(sw, an_epoll_reader_is_woken_once)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct mqdev_swriter *w = writer(self->name, 0);
	uint64_t before, after;
	int cons, ep;

	ASSERT_NE(NULL, w);
	cons = attach(self->name, MQDEV_ATTACH_CONSUME, NULL);
	ASSERT_LE(0, cons);
	ASSERT_EQ(0, seek(cons, 0, MQDEV_SEEK_EARLIEST, NULL, 0));
	ep = epoll_create1(0);
	ASSERT_LE(0, ep);
	/* Its poll finds nothing: the reader's flag asks for the wake-up. */
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, cons, &ev));
	before = reader_wakeups(self->name);
	ASSERT_NE(UINT64_MAX, before);
	ASSERT_EQ(0, send_n(w, 0, 1));
	ASSERT_EQ(1, epoll_wait(ep, &ev, 1, 3000));
	after = reader_wakeups(self->name);
	EXPECT_EQ(1, after - before);
	close(ep);
	close(cons);
	mqdev_swriter_free(w);
}

/*
 * The wake-up race, many times: a reader that sleeps just as the writer
 * publishes is woken, each time, well before its wait times out.
 */
TEST_F(sw, the_wake_up_race_many_times)
{
	struct mqdev_consumer *c = reader(self->name, 0);
	struct mqdev_swriter *w;
	int i, n = 200, status, slow = 0;
	uint64_t t0;
	pid_t pid;

	ASSERT_NE(NULL, c);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		w = writer(self->name, 0);
		if (!w)
			_exit(1);
		for (i = 0; i < n; i++) {
			usleep(i % 7 * 100);	/* around the reader's sleep */
			if (send_n(w, i, 1))
				_exit(1);
		}
		usleep(3000 * 1000);	/* no hand-over wakes the reader */
		_exit(0);
	}
	for (i = 0; i < n; i++) {
		t0 = mono_ms();
		if (!mqdev_consumer_peek(c))
			EXPECT_EQ(1, mqdev_consumer_wait(c, 2500));
		slow += mono_ms() - t0 > 2000;
		ASSERT_EQ(0, read_n(c, i, 1, 0)) TH_LOG("record %d", i);
	}
	EXPECT_EQ(0, slow) TH_LOG("%d wake-ups missed", slow);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	mqdev_consumer_free(c);
}

TEST_F(sw, groups_commit_and_resume)
{
	struct mqdev_swriter *w = writer(self->name, 0);
	struct mqdev_consumer *c;
	uint64_t landed;

	ASSERT_NE(NULL, w);
	ASSERT_EQ(0, send_n(w, 0, 30));
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_join(c, "g", MQDEV_SEEK_EARLIEST));
	EXPECT_EQ(0, read_n(c, 0, 10, 1000));
	EXPECT_EQ(0, mqdev_consumer_commit(c));
	mqdev_consumer_free(c);
	/* The group goes on from its commit, which the kernel checked. */
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_join(c, "g", MQDEV_SEEK_EARLIEST));
	EXPECT_EQ(0, read_n(c, 10, 20, 1000));
	mqdev_consumer_free(c);
	/* Seeks by offset walk checked records. */
	c = reader(self->name, 0);
	ASSERT_NE(NULL, c);
	EXPECT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_OFFSET, 17, 0,
					 &landed));
	EXPECT_EQ(17, landed);
	EXPECT_EQ(0, read_n(c, 17, 13, 1000));
	mqdev_consumer_free(c);
	mqdev_swriter_free(w);
}

/* Block: the writer waits at the limit while a holder lags, and resumes. */
TEST_F(sw, block_waits_for_the_holder)
{
	struct mqdev_consumer *c = reader(self->name, MQDEV_SEEK_HOLD);
	struct mqdev_swriter *w;
	int fit = 0, err, status;
	pid_t pid;

	ASSERT_NE(NULL, c);
	w = writer(self->name, MQDEV_SWRITER_NONBLOCK);
	ASSERT_NE(NULL, w);
	while (!(err = send_n(w, fit, 1)))
		fit++;
	EXPECT_EQ(-EAGAIN, err);
	EXPECT_EQ(CAP / REC, fit);
	mqdev_swriter_free(w);

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		w = writer(self->name, 0);
		_exit(!w || send_n(w, fit, 2 * fit));	/* waits, twice */
	}
	EXPECT_EQ(0, read_n(c, 0, 3 * fit, 5000));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	mqdev_consumer_free(c);
}

/*
 * A full block topic's writer drops what it needs and a slack more (a 64th
 * of the ring, at least a page: 4096 bytes here), as the kernel's
 * producers do: once in that many bytes, not at every record.  But only of
 * what every holder has passed.
 */
TEST_F(sw, block_drops_a_slack_of_what_holders_passed)
{
	struct mqdev_consumer *c = reader(self->name, MQDEV_SEEK_HOLD);
	struct mqdev_consumer *slow = reader(self->name, MQDEV_SEEK_HOLD);
	struct mqdev_swriter *w = writer(self->name, MQDEV_SWRITER_NONBLOCK);
	struct mqdev_partition_info pi;
	uint64_t fit = CAP / REC, need, first;

	ASSERT_NE(NULL, c);
	ASSERT_NE(NULL, slow);
	ASSERT_NE(NULL, w);
	ASSERT_EQ(0, send_n(w, 0, fit));
	ASSERT_EQ(0, read_n(c, 0, fit, 1000));
	ASSERT_EQ(0, read_n(slow, 0, 10, 1000));
	/* The slow holder passed 10: those go, not the slack's 43. */
	ASSERT_EQ(0, send_n(w, fit, 1));
	ASSERT_EQ(0, describe_n(self->fd, self->name, &pi, 1));
	EXPECT_EQ(10, pi.first_offset);
	EXPECT_EQ(0, read_n(slow, 10, fit + 1 - 10, 1000));

	/* Both passed all.  The next record that does not fit drops a slack. */
	ASSERT_EQ(0, send_n(w, fit + 1, 9));
	ASSERT_EQ(0, describe_n(self->fd, self->name, &pi, 1));
	EXPECT_EQ(10, pi.first_offset);
	ASSERT_EQ(0, send_n(w, fit + 10, 1));
	need = (fit + 11) * REC;
	first = (need + 4096 - CAP + REC - 1) / REC;	/* 53, not 11 */
	ASSERT_EQ(0, describe_n(self->fd, self->name, &pi, 1));
	EXPECT_EQ(first, pi.first_offset);
	/* And the records after it fit with no drop until the slack is used. */
	ASSERT_EQ(0, send_n(w, fit + 11, first - 11));
	ASSERT_EQ(0, describe_n(self->fd, self->name, &pi, 1));
	EXPECT_EQ(first, pi.first_offset);
	EXPECT_EQ(0, read_n(c, fit, first, 1000));
	mqdev_swriter_free(w);
	mqdev_consumer_free(slow);
	mqdev_consumer_free(c);
}

/*
 * A ring of a page: the slack is the whole ring, so a drop stops at head,
 * every record gone, rather than looking for more to drop.
 */
TEST_F(sw, a_ring_of_a_page_drops_and_goes_on)
{
	char name[MQDEV_NAME_MAX + 1];
	struct mqdev_consumer *c;
	struct mqdev_swriter *w;
	int fit = 4096 / REC, k;

	strcpy(name, topic_name("swpage"));
	ASSERT_EQ(0, create_topic(self->fd, name, 1, 4096,
				  MQDEV_TOPIC_SINGLE_WRITER));
	c = reader(name, MQDEV_SEEK_HOLD);
	ASSERT_NE(NULL, c);
	w = writer(name, MQDEV_SWRITER_NONBLOCK);
	ASSERT_NE(NULL, w);
	for (k = 0; k < 4; k++) {
		ASSERT_EQ(0, send_n(w, k * fit, fit)) TH_LOG("round %d", k);
		ASSERT_EQ(0, read_n(c, k * fit, fit, 1000)) TH_LOG("round %d", k);
	}
	mqdev_swriter_free(w);
	mqdev_consumer_free(c);
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, name));
}

/* A wait for room publishes what was committed, never a reservation. */
TEST_F(sw, a_wait_for_room_publishes_no_reservation)
{
	struct mqdev_consumer *c = reader(self->name, MQDEV_SEEK_HOLD);
	struct mqdev_swriter *w = writer(self->name, MQDEV_SWRITER_NONBLOCK);
	struct mqdev_record *a, *b;
	int fit = CAP / REC, n = 1, err;

	ASSERT_NE(NULL, c);
	ASSERT_NE(NULL, w);
	ASSERT_EQ(0, send_n(w, 0, fit - 1));
	ASSERT_EQ(0, mqdev_swriter_reserve(w, 0, 0, VALUE, 0, &a));
	/* The ring is full with it: the holder is waited for, A kept. */
	EXPECT_EQ(-EAGAIN, mqdev_swriter_reserve(w, 0, 0, VALUE, 0, &b));
	EXPECT_EQ(0, read_n(c, 0, fit - 1, 1000));
	EXPECT_EQ(NULL, mqdev_consumer_peek(c));
	EXPECT_EQ(0, mqdev_consumer_error(c));
	/* Reservations alone fill the ring: only a commit makes room. */
	while (!(err = mqdev_swriter_reserve(w, 0, 0, VALUE, 0, &b)))
		n++;
	EXPECT_EQ(-ENOBUFS, err);
	EXPECT_EQ(fit, n);
	EXPECT_EQ(NULL, mqdev_consumer_peek(c));
	memset(a + 1, 0, VALUE);
	snprintf((char *)(a + 1), VALUE, "v%d", fit - 1);
	EXPECT_EQ(0, mqdev_swriter_commit(w));
	EXPECT_EQ(0, read_n(c, fit - 1, 1, 1000));
	mqdev_consumer_free(c);
	mqdev_swriter_free(w);
}

/*
 * A holder placed after the writer was granted room is placed past what the
 * writer may overwrite without asking again, not at the old tail.
 */
TEST_F(sw, a_new_holder_is_placed_where_the_writer_cannot_lap_it)
{
	struct mqdev_consumer *c = reader(self->name, MQDEV_SEEK_HOLD), *c2;
	struct mqdev_swriter *w = writer(self->name, MQDEV_SWRITER_NONBLOCK);
	const struct mqdev_record *rec;
	int fit = CAP / REC;

	ASSERT_NE(NULL, c);
	ASSERT_NE(NULL, w);
	ASSERT_EQ(0, send_n(w, 0, fit));
	ASSERT_EQ(0, read_n(c, 0, fit, 1000));
	/* Room up to the holder plus the ring: the writer needs no more calls. */
	ASSERT_EQ(0, send_n(w, fit, 1));
	c2 = reader(self->name, MQDEV_SEEK_HOLD);
	ASSERT_NE(NULL, c2);
	rec = mqdev_consumer_peek(c2);
	ASSERT_NE(NULL, rec);
	EXPECT_EQ(fit, rec->offset);
	/* The writer writes up to its limit; the new holder reads it all. */
	ASSERT_EQ(0, send_n(w, fit + 1, fit - 1));
	EXPECT_EQ(0, read_n(c2, fit, fit, 1000));
	EXPECT_EQ(0, read_n(c, fit, fit, 1000));
	mqdev_consumer_free(c2);
	mqdev_consumer_free(c);
	mqdev_swriter_free(w);
}

/* The writer's pages cannot be pinned: it writes only while it maps them. */
TEST_F(sw, the_writer_mapping_cannot_be_pinned)
{
	struct mqdev_writer_page *wp = NULL;
	struct mqdev_attach att;
	struct iovec local, remote;
	char *data = NULL, buf[64];
	int fd = raw_writer(self->name, &att, &data, &wp);

	ASSERT_LE(0, fd);
	local.iov_base = buf;
	local.iov_len = sizeof(buf);
	remote.iov_base = data;
	remote.iov_len = sizeof(buf);
	/* process_vm_readv() takes the pages as io_uring would: GUP. */
	if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) < 0 &&
	    errno == ENOSYS) {
		munmap(data, att.off.ring_size - att.off.data);
		close(fd);
		SKIP(return, "no process_vm_readv() (CONFIG_CROSS_MEMORY_ATTACH)");
	}
	EXPECT_EQ(-1, process_vm_readv(getpid(), &local, 1, &remote, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	munmap(data, att.off.ring_size - att.off.data);
	close(fd);
}

/* Overwrite: the writer moves the tail; a lapped reader counts the loss. */
TEST_F(sw, overwrite_laps_readers)
{
	struct mqdev_consumer *c;
	struct mqdev_swriter *w;
	const struct mqdev_record *rec;
	uint64_t last = 0;
	int n = 0;

	ASSERT_EQ(0, create_topic(self->fd, "sw-ow", 1, CAP,
				  MQDEV_TOPIC_SINGLE_WRITER |
				  MQDEV_TOPIC_OVERWRITE));
	w = writer("sw-ow", 0);
	ASSERT_NE(NULL, w);
	c = reader("sw-ow", 0);
	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, send_n(w, 0, 5 * (CAP / REC)));
	while ((rec = mqdev_consumer_peek(c))) {
		EXPECT_LT(last, rec->offset + !n);
		last = rec->offset;
		n++;
		mqdev_consumer_release(c);
	}
	EXPECT_EQ(0, mqdev_consumer_error(c));
	EXPECT_EQ(5 * (CAP / REC) - 1, last);
	EXPECT_LT(0, mqdev_consumer_lost(c));
	EXPECT_GE(CAP / REC, n);
	mqdev_consumer_free(c);
	mqdev_swriter_free(w);
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, "sw-ow"));
}

/* A writer killed with a record half written: never seen; the next goes on. */
TEST_F(sw, killed_mid_record_then_taken_over)
{
	struct mqdev_consumer *c = reader(self->name, 0);
	struct mqdev_swriter *w;
	struct mqdev_record *rec;
	int status;
	pid_t pid;

	ASSERT_NE(NULL, c);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		w = writer(self->name, 0);
		if (!w || send_n(w, 0, 10) ||
		    mqdev_swriter_reserve(w, 0, 0, VALUE, 0, &rec))
			_exit(1);
		memset(rec + 1, 'x', VALUE / 2);
		raise(SIGKILL);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(0, read_n(c, 0, 10, 1000));
	EXPECT_EQ(NULL, mqdev_consumer_peek(c));
	EXPECT_EQ(0, mqdev_consumer_error(c));
	w = writer(self->name, 0);
	ASSERT_NE(NULL, w);
	ASSERT_EQ(0, send_n(w, 10, 5));
	EXPECT_EQ(0, read_n(c, 10, 5, 1000));
	mqdev_swriter_free(w);
	mqdev_consumer_free(c);
}

/*
 * A tail the kernel refuses, with a ring of 16-byte chunks that each look
 * like the start of a 48-byte record, in the order a walk visits them: the
 * walk must not go on past the ring from the kernel's tail.
 */
TEST_F(sw, a_refused_tail_walks_no_further_than_a_ring)
{
	struct mqdev_partition_info pi;
	struct mqdev_writer_page *wp = NULL;
	struct mqdev_swriter *w = writer(self->name, 0);
	struct mqdev_attach att;
	uint64_t h, next, k, *q;
	char *data = NULL;
	int fd;

	ASSERT_NE(NULL, w);
	ASSERT_EQ(0, send_n(w, 0, 64));	/* next_offset 64 > 48 */
	mqdev_swriter_free(w);
	fd = raw_writer(self->name, &att, &data, &wp);
	ASSERT_LE(0, fd);
	h = wp->head;
	next = wp->next_offset;
	ASSERT_EQ(0, h % 16);
	for (k = 0; k < CAP / 16; k++) {
		q = (uint64_t *)(data + ((h + 48 * k) & (CAP - 1)));
		q[0] = 48;	/* len 48, key_len 0, partition 0 */
		q[1] = next + k;
	}
	/* The "offset" at this tail is the next chunk's first word: 48. */
	wp->tail = h + 2 * CAP + 8;
	__atomic_store_n(&wp->head, wp->tail + CAP, __ATOMIC_RELEASE);
	ASSERT_EQ(0, describe_n(self->fd, self->name, &pi, 1));
	EXPECT_GE(CAP, pi.bytes_used);
	EXPECT_GE(CAP / 40, pi.records);
	/* A tail it takes, and a walk to the writer's head: still a ring. */
	wp->tail = h + 2 * CAP;
	ASSERT_EQ(0, describe_n(self->fd, self->name, &pi, 1));
	EXPECT_GE(CAP, pi.bytes_used);
	munmap(data, att.off.ring_size - att.off.data);
	close(fd);
}

/*
 * Others pay a bounded walk for what the writer published: a describe syncs
 * at most 1024 records; a seek to an offset walks as far as it asks; the
 * writer's own call syncs the rest.
 */
TEST_F(sw, others_sync_a_bounded_walk)
{
	struct mqdev_writer req = { .flags = MQDEV_WRITER_WAKE };
	struct mqdev_partition_info pi;
	struct mqdev_consumer *c;
	struct mqdev_swriter *w;
	struct mqdev_record *rec;
	const int n = 1600;	/* 40-byte records: within the ring */
	int i;

	ASSERT_EQ(0, create_topic(self->fd, "sw-sync", 1, CAP,
				  MQDEV_TOPIC_SINGLE_WRITER |
				  MQDEV_TOPIC_OVERWRITE));
	w = writer("sw-sync", 0);
	ASSERT_NE(NULL, w);
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, mqdev_swriter_reserve(w, 0, 0, 0, 0, &rec));
	ASSERT_EQ(0, mqdev_swriter_commit(w));
	ASSERT_EQ(0, describe_n(self->fd, "sw-sync", &pi, 1));
	EXPECT_EQ(1024, pi.next_offset);
	/* A seek walks as far as it asks. */
	c = reader("sw-sync", 0);
	ASSERT_NE(NULL, c);
	EXPECT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_OFFSET, n - 1, 0,
					 NULL));
	mqdev_consumer_free(c);
	ASSERT_EQ(0, describe_n(self->fd, "sw-sync", &pi, 1));
	EXPECT_EQ(n, pi.next_offset);
	/* The writer's own call syncs all it published. */
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, mqdev_swriter_reserve(w, 0, 0, 0, 0, &rec));
	ASSERT_EQ(0, mqdev_swriter_commit(w));
	ASSERT_EQ(0, xioctl(mqdev_swriter_fd(w), MQDEV_IOC_WRITER, &req));
	ASSERT_EQ(0, describe_n(self->fd, "sw-sync", &pi, 1));
	EXPECT_EQ(2 * n, pi.next_offset);
	EXPECT_GE(CAP, pi.bytes_used);
	mqdev_swriter_free(w);
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, "sw-sync"));
}

/* What a hostile writer may write, at the record after one good one. */
enum garbage {
	G_LEN_ZERO, G_LEN_HUGE, G_LEN_PAST_HEAD, G_OFFSET_BACK, G_OFFSET_SKIP,
	G_PARTITION, G_FLAGS, G_KEY_LEN, G_EXPIRES_KEY_LEN, G_HEAD_FAR,
	G_TAIL_PAST_HEAD, G_NR
};

/* An expiry, CLOCK_REALTIME ns: long past. */
static const uint64_t long_past = 1;

/*
 * Be a raw writer of @name: map its ring and scribble.  The handle, which
 * the caller closes, or -errno: the kernel cuts the garbage off when the
 * role changes hands, so readers must look before.
 */
static int scribble(const char *name, enum garbage g)
{
	struct mqdev_attach att;
	struct mqdev_writer_page *wp;
	struct mqdev_record *r0, *r1;
	char *data;
	int fd;

	fd = attach(name, MQDEV_ATTACH_PRODUCE | MQDEV_ATTACH_WRITER, &att);
	if (fd < 0)
		return fd;
	data = mmap(NULL, att.off.ring_size - att.off.data,
		    PROT_READ | PROT_WRITE, MAP_SHARED, fd, att.off.writer_mmap);
	if (data == MAP_FAILED)
		return -errno;
	wp = (void *)(data + att.off.writer_page - att.off.data);
	r0 = (void *)(data + (wp->head & (att.capacity - 1)));
	memset(r0, 0, 2 * REC);
	r0->len = sizeof(*r0) + VALUE;
	r0->offset = wp->next_offset;
	r1 = (void *)((char *)r0 + REC);
	*r1 = *r0;
	r1->offset++;
	switch (g) {
	case G_LEN_ZERO:	r1->len = 0; break;
	case G_LEN_HUGE:	r1->len = 0xfffffff0; break;
	case G_LEN_PAST_HEAD:	r1->len = 1000; break;
	case G_OFFSET_BACK:	r1->offset = 0; break;
	case G_OFFSET_SKIP:	r1->offset += 5; break;
	case G_PARTITION:	r1->partition = 7; break;
	case G_FLAGS:		r1->flags = MQDEV_RECORD_TXN; r1->txn = 0xffff;
				break;
	case G_KEY_LEN:		r1->key_len = 0xffff; break;
	/*
	 * a key past the record puts its expiry (1 ns: long past) after it:
	 * only a reader that judges expiry in place skips it, silently
	 */
	case G_EXPIRES_KEY_LEN:	r1->flags = MQDEV_RECORD_EXPIRES;
				r1->key_len = 2 * REC;
				memcpy((char *)(r1 + 1) + 2 * REC, &long_past,
				       sizeof(long_past));
				break;
	default:		break;
	}
	if (g == G_HEAD_FAR) {
		r1->len = 0x7fffffff;
		__atomic_store_n(&wp->head, wp->head + (1ULL << 40),
				 __ATOMIC_RELEASE);
	} else if (g == G_TAIL_PAST_HEAD) {
		wp->tail = wp->head + 4096;
		__atomic_store_n(&wp->head, wp->head + 2 * REC, __ATOMIC_RELEASE);
	} else {
		__atomic_store_n(&wp->head, wp->head + 2 * REC, __ATOMIC_RELEASE);
	}
	munmap(data, att.off.ring_size - att.off.data);
	return fd;
}

TEST_F(sw, hostile_writer_gets_readers_errors_not_crashes)
{
	struct mqdev_topic_info info = {};
	struct mqdev_partition_info pi;
	const struct mqdev_record *rec;
	struct mqdev_consumer *c;
	struct mqdev_swriter *w;
	uint64_t landed;
	int g, err, fd, good = 0;

	for (g = 0; g < G_NR; g++) {
		c = reader_at(self->name, MQDEV_SEEK_LATEST, 0);
		ASSERT_NE(NULL, c);
		fd = scribble(self->name, g);
		ASSERT_LE(0, fd);
		/* The good record goes out; then an error, or nothing. */
		rec = mqdev_consumer_peek(c);
		if (g == G_TAIL_PAST_HEAD) {
			EXPECT_EQ(NULL, rec);
			EXPECT_EQ(0, mqdev_consumer_error(c));
		} else {
			ASSERT_NE(NULL, rec) TH_LOG("garbage %d", g);
			mqdev_consumer_release(c);
			EXPECT_EQ(NULL, mqdev_consumer_peek(c))
				TH_LOG("garbage %d", g);
			err = mqdev_consumer_error(c);
			EXPECT_EQ(-EBADMSG, err) TH_LOG("garbage %d", g);
		}
		mqdev_consumer_free(c);
		/* The hand-over keeps the good record, unless all was bad. */
		close(fd);
		good += g != G_TAIL_PAST_HEAD && g != G_HEAD_FAR;
		/* The kernel's own walks: a describe, a seek by offset. */
		mqdev_name_set(info.name, self->name);
		info.parts = (uintptr_t)&pi;
		info.parts_count = 1;
		info.part_info_size = sizeof(pi);
		EXPECT_EQ(0, xioctl(self->fd, MQDEV_IOC_TOPIC_DESCRIBE, &info));
		c = reader(self->name, 0);
		ASSERT_NE(NULL, c);
		err = mqdev_consumer_seek(c, 0, MQDEV_SEEK_OFFSET, pi.next_offset,
					  0, &landed);
		EXPECT_TRUE(!err || err == -EBADMSG) TH_LOG("%d: %d", g, err);
		mqdev_consumer_free(c);
	}
	/* What is left is whole: the good records, nothing else. */
	c = reader(self->name, 0);
	ASSERT_NE(NULL, c);
	for (g = 0; (rec = mqdev_consumer_peek(c)); g++) {
		EXPECT_EQ(g, rec->offset);
		mqdev_consumer_release(c);
	}
	EXPECT_EQ(good, g);
	EXPECT_EQ(0, mqdev_consumer_error(c));
	mqdev_consumer_free(c);
	/* A writer taking over goes on after the last good record. */
	w = writer(self->name, 0);
	ASSERT_NE(NULL, w);
	ASSERT_EQ(0, mqdev_swriter_reserve(w, 0, 0, VALUE, 0,
					   (struct mqdev_record **)&rec));
	landed = rec->offset;
	EXPECT_EQ(good, landed);
	ASSERT_EQ(0, mqdev_swriter_commit(w));
	c = reader(self->name, 0);
	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_OFFSET, landed, 0,
					 NULL));
	rec = mqdev_consumer_peek(c);
	ASSERT_NE(NULL, rec);
	EXPECT_EQ(landed, rec->offset);
	mqdev_consumer_free(c);
	mqdev_swriter_free(w);
}

/*
 * Expiry on a single writer's topic: a record past its own expiry, or older
 * than the topic's TTL, is skipped and counted (judged on the reader's
 * copy), whether it leads a run or follows a kept record.  Delayed messages
 * are refused: the kernel would have to append them into the writer's ring.
 */
/*
 * A tail the writer puts far past head for a moment: the reader finds
 * nothing then, and its position stays where its last record left it, so
 * once the tail is back it reads on from there.
 */
TEST_F(sw, a_tail_put_anywhere_for_a_moment_strands_no_reader)
{
	struct mqdev_writer_page *wp;
	struct mqdev_consumer *c;
	struct mqdev_swriter *w;
	struct mqdev_attach att;
	uint64_t tail;
	char *data;
	int fd;

	w = writer(self->name, 0);
	ASSERT_NE(NULL, w);
	ASSERT_EQ(0, send_n(w, 0, 3));
	mqdev_swriter_free(w);
	c = reader(self->name, 0);
	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, read_n(c, 0, 1, 0));
	fd = raw_writer(self->name, &att, &data, &wp);
	ASSERT_LE(0, fd);
	tail = wp->tail;
	__atomic_store_n(&wp->tail, 1ULL << 62, __ATOMIC_RELEASE);
	EXPECT_EQ(NULL, mqdev_consumer_peek(c));
	EXPECT_EQ(0, mqdev_consumer_error(c));
	__atomic_store_n(&wp->tail, tail, __ATOMIC_RELEASE);
	EXPECT_EQ(0, read_n(c, 1, 2, 0));
	EXPECT_EQ(0, mqdev_consumer_lost(c));
	mqdev_consumer_free(c);
	munmap(data, att.off.ring_size - att.off.data);
	close(fd);
}

TEST_F(sw, expired_records_skipped_scheduling_refused)
{
	struct mqdev_schedule sched = { .flags = MQDEV_SCHED_RELATIVE };
	struct mqdev_swriter *w = writer(self->name, 0);
	struct mqdev_consumer *c = reader(self->name, 0);
	const struct mqdev_record *recs[8];
	/* 0 plain, 1 and 2 expired, 3 expiring in ~290 years, 4 plain */
	const uint64_t expiry[5] = { 0, 1, 2, UINT64_MAX >> 1, 0 };
	struct mqdev_msg msgs[5];
	char v[5][VALUE];
	int i;

	ASSERT_NE(NULL, w);
	ASSERT_NE(NULL, c);
	mqdev_msg_init(&sched.msg, NULL, 0, "x", 1, 0);
	EXPECT_EQ(-EOPNOTSUPP, xioctl(mqdev_swriter_fd(w), MQDEV_IOC_SCHEDULE,
				      &sched));
	for (i = 0; i < 5; i++) {
		memset(v[i], 0, VALUE);
		memcpy(v[i], &expiry[i], sizeof(expiry[i]));
		mqdev_msg_init(&msgs[i], NULL, 0, v[i], VALUE, 0);
		msgs[i].flags = expiry[i] ? MQDEV_MSG_EXPIRES : 0;
	}
	ASSERT_EQ(5, mqdev_swriter_send(w, msgs, 5));
	ASSERT_EQ(1, mqdev_consumer_peek_batch(c, recs, 8));
	EXPECT_EQ(0, recs[0]->offset);
	EXPECT_EQ(0, mqdev_consumer_release(c));
	ASSERT_EQ(2, mqdev_consumer_peek_batch(c, recs, 8));
	EXPECT_EQ(3, recs[0]->offset);
	EXPECT_EQ(4, recs[1]->offset);
	EXPECT_EQ(0, mqdev_consumer_release(c));
	EXPECT_EQ(2, mqdev_consumer_expired(c));
	/* A TTL of a nanosecond: everything is old. */
	ASSERT_EQ(0, mqdev_topic_set_ttl(self->fd, self->name, 1));
	ASSERT_EQ(0, send_n(w, 5, 3));
	/*
	 * Old only once the clock has moved past their time: let it (on
	 * the debug kernel under TCG, a reader that looked at once kept
	 * them, every time).
	 */
	usleep(50 * 1000);
	EXPECT_EQ(NULL, mqdev_consumer_peek(c));
	EXPECT_EQ(0, mqdev_consumer_error(c));
	EXPECT_EQ(5, mqdev_consumer_expired(c));
	ASSERT_EQ(0, mqdev_topic_set_ttl(self->fd, self->name, 0));
	ASSERT_EQ(0, send_n(w, 8, 1));
	EXPECT_EQ(0, read_n(c, 8, 1, 1000));
	mqdev_consumer_free(c);
	mqdev_swriter_free(w);
}

/*
 * A single writer stamps its own records, with any value: one stamped near
 * the clock's end is not old under a TTL (stamp + TTL would wrap round to
 * a time long past), and one stamped at 0 is.
 */
TEST_F(sw, a_stamp_near_the_end_of_time_is_not_old)
{
	const uint64_t hour = 3600ULL * 1000000000;
	const uint64_t stamps[3] = { UINT64_MAX - 1, 0, UINT64_MAX - hour };
	struct mqdev_swriter *w = writer(self->name, 0);
	struct mqdev_consumer *c = reader(self->name, 0);
	const struct mqdev_record *recs[8];
	struct mqdev_record *rec;
	int i;

	ASSERT_NE(NULL, w);
	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, mqdev_topic_set_ttl(self->fd, self->name, hour));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, mqdev_swriter_reserve(w, 0, 0, VALUE, 0, &rec));
		memset(rec + 1, 0, VALUE);
		rec->timestamp = stamps[i];
		ASSERT_EQ(0, mqdev_swriter_commit(w));
	}
	ASSERT_EQ(1, mqdev_consumer_peek_batch(c, recs, 8));
	EXPECT_EQ(0, recs[0]->offset);
	EXPECT_EQ(0, mqdev_consumer_release(c));
	ASSERT_EQ(1, mqdev_consumer_peek_batch(c, recs, 8));
	EXPECT_EQ(2, recs[0]->offset);
	EXPECT_EQ(0, mqdev_consumer_release(c));
	EXPECT_EQ(1, mqdev_consumer_expired(c));
	EXPECT_EQ(0, mqdev_consumer_lost(c));
	mqdev_consumer_free(c);
	mqdev_swriter_free(w);
}

/*
 * Exchanges never append into a writer's ring: a single-writer topic is
 * refused as a binding's topic and as an exchange's alternate, and nothing
 * is left behind by either refusal.
 */
TEST_F(sw, exchange_binding_and_alternate_refused)
{
	LIBMQDEV_OPTS(mqdev_exchange_opts, alt, .alternate = self->name);
	char ex[MQDEV_NAME_MAX + 1];
	struct mqdev_exchange_info info;

	strcpy(ex, topic_name("swx"));
	EXPECT_EQ(-EOPNOTSUPP, mqdev_exchange_create(self->fd, ex, &alt));
	EXPECT_EQ(-ENOENT, mqdev_exchange_describe(self->fd, ex, &info,
						   NULL, 0));
	ASSERT_EQ(0, mqdev_exchange_create(self->fd, ex, NULL));
	EXPECT_EQ(-EOPNOTSUPP, mqdev_exchange_bind(self->fd, ex, self->name,
						   "k", NULL));
	ASSERT_EQ(0, mqdev_exchange_describe(self->fd, ex, &info, NULL, 0));
	EXPECT_EQ(0, info.bindings_count);
	EXPECT_EQ(0, mqdev_exchange_delete(self->fd, ex));
}

/*
 * The library's edges: no copying consumer; a bad record stops a reader
 * until a seek; a writer learns its topic was deleted.
 */
TEST_F(sw, a_seek_clears_ebadmsg_copy_refused_deletion_seen)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, copy, .flags = MQDEV_CONSUMER_COPY);
	struct mqdev_consumer *c;
	struct mqdev_swriter *w;
	struct mqdev_record *rec;
	int fd;

	EXPECT_EQ(-EOPNOTSUPP, mqdev_consumer_new(self->name, &copy, &c));
	c = reader_at(self->name, MQDEV_SEEK_LATEST, 0);
	ASSERT_NE(NULL, c);
	fd = scribble(self->name, G_OFFSET_SKIP);
	ASSERT_LE(0, fd);
	ASSERT_NE(NULL, mqdev_consumer_peek(c));
	mqdev_consumer_release(c);
	EXPECT_EQ(NULL, mqdev_consumer_peek(c));
	EXPECT_EQ(-EBADMSG, mqdev_consumer_error(c));
	/* Not "there may be one": a wait-and-peek loop would spin. */
	EXPECT_EQ(-EBADMSG, mqdev_consumer_wait(c, 1000));
	close(fd);	/* the hand-over cuts the garbage off */
	EXPECT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_LATEST, 0, 0, NULL));
	EXPECT_EQ(0, mqdev_consumer_error(c));
	w = writer(self->name, 0);
	ASSERT_NE(NULL, w);
	ASSERT_EQ(0, send_n(w, 1, 1));
	EXPECT_EQ(0, read_n(c, 1, 1, 1000));
	mqdev_consumer_free(c);
	ASSERT_EQ(0, mqdev_topic_delete(self->fd, self->name));
	EXPECT_EQ(-EIDRM, mqdev_swriter_reserve(w, 0, 0, VALUE, 0, &rec));
	mqdev_swriter_free(w);
}

/*
 * A writer that rewrites what the kernel and readers already checked, and
 * moves its tail anywhere, on two partitions of an overwrite topic, while a
 * describe, seeks and peeks go on: they get answers or errors, never more
 * than a ring; the kernel's log stays clean (tools/vm/run checks it).
 */
struct scribbler {
	char			*data[2];
	struct mqdev_writer_page *wp[2];
	uint64_t		head[2], off[2], start[2];
	volatile int		stop;
	unsigned int		seed;
};

#define SCR_REC	48

static void scribbler_records(struct scribbler *s, uint32_t p)
{
	struct mqdev_record *r;
	uint64_t floor;
	int i;

	for (i = 0; i < 8; i++) {
		r = (void *)(s->data[p] + (s->head[p] & (CAP - 1)));
		memset(r, 0, SCR_REC);
		r->len = SCR_REC;
		r->partition = p;
		r->offset = s->off[p]++;
		s->head[p] += SCR_REC;
	}
	/* The first record boundary a ring back. */
	if (s->head[p] - s->start[p] > CAP) {
		floor = s->head[p] - CAP - s->start[p];
		floor = s->start[p] + (floor + SCR_REC - 1) / SCR_REC * SCR_REC;
		__atomic_store_n(&s->wp[p]->tail, floor, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_RELEASE);
	}
	__atomic_store_n(&s->wp[p]->head, s->head[p], __ATOMIC_RELEASE);
}

static void *scribbler_run(void *arg)
{
	struct scribbler *s = arg;
	uint64_t word, *q;
	uint32_t p, r;

	while (!s->stop) {
		r = rand_r(&s->seed);
		p = r & 1;
		scribbler_records(s, p);
		q = (uint64_t *)(s->data[p] + 8 * ((r >> 1) % (CAP / 8)));
		word = rand_r(&s->seed);
		switch ((r >> 20) % 8) {
		case 0: *q = word; break;		/* any word */
		case 1: *q ^= 1ULL << (word % 64); break;	/* one bit */
		case 2: s->wp[p]->tail = s->head[p] - (word % CAP); break;
		case 3: s->wp[p]->tail = s->head[p] + word; break;
		default: break;
		}
	}
	return NULL;
}

TEST_F(sw, a_scribbler_on_two_partitions)
{
	static const uint32_t whence[] = { MQDEV_SEEK_EARLIEST,
		MQDEV_SEEK_LATEST, MQDEV_SEEK_OFFSET, MQDEV_SEEK_TIMESTAMP };
	struct scribbler s = { .seed = 1 };
	struct mqdev_partition_info pi[2];
	const struct mqdev_record *rec;
	struct mqdev_attach att;
	struct mqdev_consumer *c;
	uint64_t target;
	pthread_t thread;
	time_t end;
	uint32_t p;
	int fd, i, err, turns = 0;
	size_t len;

	ASSERT_EQ(0, create_topic(self->fd, "sw-scr", 2, CAP,
				  MQDEV_TOPIC_SINGLE_WRITER |
				  MQDEV_TOPIC_OVERWRITE));
	fd = attach("sw-scr", MQDEV_ATTACH_PRODUCE | MQDEV_ATTACH_WRITER, &att);
	ASSERT_LE(0, fd);
	len = att.off.ring_size - att.off.data;
	for (p = 0; p < 2; p++) {
		s.data[p] = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
				 fd, att.off.writer_mmap + p * att.off.part_stride);
		ASSERT_NE(MAP_FAILED, s.data[p]);
		s.wp[p] = (void *)(s.data[p] + att.off.writer_page -
				   att.off.data);
		s.head[p] = s.start[p] = s.wp[p]->head;
		s.off[p] = s.wp[p]->next_offset;
	}
	c = reader("sw-scr", 0);
	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, pthread_create(&thread, NULL, scribbler_run, &s));
	end = time(NULL) + 3;
	while (time(NULL) < end) {
		turns++;
		ASSERT_EQ(0, describe_n(self->fd, "sw-scr", pi, 2));
		for (p = 0; p < 2; p++) {
			EXPECT_GE(CAP, pi[p].bytes_used);
			EXPECT_GE(CAP / 40, pi[p].records);
		}
		p = turns & 1;
		target = pi[p].first_offset + turns % (pi[p].records + 1);
		err = mqdev_consumer_seek(c, p, whence[turns % 4], target, 0,
					  NULL);
		EXPECT_TRUE(!err || err == -EBADMSG || err == -ERANGE)
			TH_LOG("seek: %d", err);
		for (i = 0; i < 16 && (rec = mqdev_consumer_peek(c)); i++) {
			EXPECT_GE(CAP, rec->len);
			mqdev_consumer_release(c);
		}
		err = mqdev_consumer_error(c);
		EXPECT_TRUE(!err || err == -EBADMSG) TH_LOG("peek: %d", err);
	}
	s.stop = 1;
	pthread_join(thread, NULL);
	mqdev_consumer_free(c);
	for (p = 0; p < 2; p++)
		munmap(s.data[p], len);
	close(fd);
	ASSERT_EQ(0, describe_n(self->fd, "sw-scr", pi, 2));
	for (p = 0; p < 2; p++)
		EXPECT_GE(CAP, pi[p].bytes_used);
	TH_LOG("%d turns", turns);
	EXPECT_EQ(0, mqdev_topic_delete(self->fd, "sw-scr"));
}

/*
 * A writer that moves the tail past the reader every time it looks keeps
 * no peek in the library: after a few laps (CONSUMER_MAX_LAPS in
 * lib/consumer.c) the peek returns nothing, with no error, and the next
 * one goes on.  A racing thread could miss the reader's few loads between
 * its two looks at the tail, and the test would pass by luck; a hardware
 * watchpoint on the tail in the reader's mapping never does: its SIGTRAP
 * comes right after each load, and the handler, being the writer, moves
 * the tail then, writing a good record where it now points.
 */
#define LAP_LOOKS_MAX	10000	/* then the writer stops: far past any cap */
#define LAP_LOOKS_CAPPED 100	/* 9 laps of 2 looks: 18; and room */

static struct {
	struct mqdev_writer_page *wp;
	char		*data;		/* the writer's mapping of the data */
	uint64_t	next;		/* the next record's offset */
	unsigned int	period;		/* move after looks n * period - 1 */
	unsigned int	quiet;		/* and before this look */
	volatile unsigned int looks;
	volatile int	armed;
} lapper;

static void lapper_put(uint64_t pos)
{
	struct mqdev_record *r = (void *)(lapper.data + (pos & (CAP - 1)));

	memset(r, 0, REC);
	r->len = REC;
	r->offset = lapper.next++;
}

static void lapper_trap(int sig, siginfo_t *si, void *uc)
{
	uint64_t t;

	lapper.looks++;
	if (!lapper.armed || lapper.looks >= lapper.quiet ||
	    lapper.looks % lapper.period != lapper.period - 1)
		return;
	t = lapper.wp->tail + REC;
	lapper_put(t);
	__atomic_store_n(&lapper.wp->tail, t, __ATOMIC_RELEASE);
}

/* The reader's own (read-only) mapping of partition 0's ring, or NULL. */
static char *reader_ring(const struct mqdev_attach *att)
{
	unsigned long long start, end, off;
	char line[512], perms[8];
	char *ring = NULL;
	FILE *f = fopen("/proc/self/maps", "r");

	while (f && !ring && fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx-%llx %7s %llx", &start, &end, perms,
			   &off) == 4 && !strcmp(perms, "r--s") &&
		    off == att->off.ring_mmap && strstr(line, MQDEV_DEVICE))
			ring = (char *)(uintptr_t)start;
	if (f)
		fclose(f);
	return ring;
}

/*
 * The mapping of @name's partition 0 that this process's one reader has,
 * with the layout a reader's attach reports (*@ratt), or NULL.
 */
static char *reader_ring_of(const char *name, struct mqdev_attach *ratt)
{
	int fd = attach(name, MQDEV_ATTACH_CONSUME, ratt);

	if (fd < 0)
		return NULL;
	close(fd);
	return reader_ring(ratt);
}

/* A watchpoint on @addr whose every hit is a SIGTRAP; -errno. */
static int watch(void *addr)
{
	struct perf_event_attr pe = {
		.type = PERF_TYPE_BREAKPOINT,
		.size = sizeof(pe),
		.bp_type = HW_BREAKPOINT_RW,	/* x86 has no read-only one */
		.bp_addr = (uintptr_t)addr,
		.bp_len = HW_BREAKPOINT_LEN_8,
		.sample_period = 1,
		.sigtrap = 1,
		.remove_on_exec = 1,		/* sigtrap's condition */
		.exclude_kernel = 1,
		.exclude_hv = 1,
	};
	int fd = syscall(__NR_perf_event_open, &pe, 0, -1, -1,
			 PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/*
 * The writer moves the tail after looks n * @period - 1 before look @quiet;
 * LAP_LOOKS_MAX: as long as the reader looks.
 */
static void lapped_every_look(struct __test_metadata *_metadata,
			      const char *name, unsigned int period,
			      unsigned int quiet)
{
	struct sigaction sa = { .sa_sigaction = lapper_trap,
				.sa_flags = SA_SIGINFO }, old;
	const struct mqdev_record *rec;
	struct mqdev_attach att, ratt;
	struct mqdev_consumer *c;
	uint64_t *tailp, h;
	char *ring;
	int fd, wfd;

	wfd = raw_writer(name, &att, &lapper.data, &lapper.wp);
	ASSERT_LE(0, wfd);
	c = reader_at(name, MQDEV_SEEK_LATEST, 0);
	ASSERT_NE(NULL, c);
	ring = reader_ring_of(name, &ratt);
	ASSERT_NE(NULL, ring);
	tailp = (uint64_t *)(ring + ratt.off.tail);
	/* A good record at the reader's position, the tail there, head far. */
	h = lapper.wp->head;
	lapper.next = lapper.wp->next_offset;
	lapper.period = period;
	lapper.quiet = quiet;
	lapper_put(h);
	lapper.wp->tail = h;
	__atomic_store_n(&lapper.wp->head, h + (1ULL << 40), __ATOMIC_RELEASE);

	ASSERT_EQ(0, sigaction(SIGTRAP, &sa, &old));
	fd = watch(tailp);
	if (fd == -ENOENT || fd == -ENODEV || fd == -EOPNOTSUPP ||
	    fd == -ENOSYS)
		SKIP(goto out, "no hardware watchpoints: %s", strerror(-fd));
	ASSERT_LE(0, fd);
	/* The watchpoint fires on our own look, or the test proves nothing. */
	lapper.looks = 0;
	ASSERT_EQ(h, *(volatile uint64_t *)tailp);
	ASSERT_EQ(1, lapper.looks);

	lapper.looks = 0;
	lapper.armed = 1;
	rec = mqdev_consumer_peek(c);
	lapper.armed = 0;
	TH_LOG("period %u: the peek looked at the tail %u times", period,
	       lapper.looks);
	EXPECT_GT(LAP_LOOKS_CAPPED, lapper.looks);
	EXPECT_EQ(0, mqdev_consumer_error(c));
	if (quiet == LAP_LOOKS_MAX) {
		EXPECT_EQ(NULL, rec);
	} else {
		/* Two tries of two looks each; the first copy was lapped. */
		EXPECT_EQ(4, lapper.looks);
		EXPECT_NE(NULL, rec);
	}
	/* Nothing now, but the writer is quiet: the next wait and peek go on. */
	if (!rec) {
		EXPECT_EQ(1, mqdev_consumer_wait(c, 0));
		rec = mqdev_consumer_peek(c);
	}
	ASSERT_NE(NULL, rec);
	EXPECT_EQ(lapper.next - 1, rec->offset);
	EXPECT_EQ(0, mqdev_consumer_release(c));
	close(fd);
out:
	sigaction(SIGTRAP, &old, NULL);
	mqdev_consumer_free(c);
	munmap(lapper.data, att.off.ring_size - att.off.data);
	close(wfd);
}

/*
 * The tail moves after every look: the one before the copy and the one
 * after it (sw_shadow()) always differ.
 */
TEST_F(sw, a_writer_lapping_every_look_cannot_keep_a_peek)
{
	lapped_every_look(_metadata, self->name, 1, LAP_LOOKS_MAX);
}

/*
 * The tail moves once, after the first look, so while the record was being
 * copied: that copy may be torn and is not handed out.  The peek tries
 * again from the tail and hands out the record there, whole; its release
 * finds nothing overwritten.
 */
TEST_F(sw, a_record_lapped_while_copied_is_not_handed_out)
{
	lapped_every_look(_metadata, self->name, 1, 2);
}

/*
 * A writer that makes an expired record every time the reader looks at
 * head keeps no peek in the library either: after CONSUMER_MAX_SKIPS
 * (lib/consumer.c) records skipped, the peek returns nothing, with no
 * error, and the next one goes on.  The watchpoint is on head in the
 * reader's mapping; its handler, being the writer, appends one more record
 * whose expiry has passed, so the reader always has one more to skip.
 */
#define SKIP_MAX	4096	/* CONSUMER_MAX_SKIPS */
#define SKIP_RUN	64	/* CONSUMER_BURST: a single writer's run, whole */
#define SKIP_LOOKS_MAX	20000	/* then the writer stops: far past the cap */
#define SKIP_CAP	(1 << 20) /* room for SKIP_LOOKS_MAX: nothing laps */

static struct {
	struct mqdev_swriter *w;	/* a single writer, or */
	int		pfd;		/* an ordinary topic's producer */
	volatile unsigned int looks;
	volatile int	armed;
} skipper;

/* One record that expired long ago (its expiry leads its value). */
static int send_expired(void)
{
	const uint64_t expiry = 1;
	struct mqdev_produce req = { .count = 1 };
	struct mqdev_msg msg;

	mqdev_msg_init(&msg, NULL, 0, &expiry, sizeof(expiry), 0);
	msg.flags = MQDEV_MSG_EXPIRES;
	if (skipper.w)
		return mqdev_swriter_send(skipper.w, &msg, 1) == 1 ? 0 : -EIO;
	req.msgs = (uintptr_t)&msg;
	req.msg_size = sizeof(msg);
	return ioctl(skipper.pfd, MQDEV_IOC_PRODUCE, &req) == 1 ? 0 : -errno;
}

static void skipper_trap(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	if (skipper.looks++ < SKIP_LOOKS_MAX && skipper.armed)
		send_expired();
	errno = saved;
}

static void expiring_every_look(struct __test_metadata *_metadata,
				const char *name, uint32_t topic_flags)
{
	struct sigaction sa = { .sa_sigaction = skipper_trap,
				.sa_flags = SA_SIGINFO }, old;
	const struct mqdev_record *rec;
	struct mqdev_consumer *c;
	struct mqdev_attach ratt;
	uint64_t *headp, skipped;
	int fd, mq;
	char *ring;

	mq = mqdev_open();
	ASSERT_LE(0, mq);
	ASSERT_EQ(0, create_topic(mq, name, 1, SKIP_CAP, topic_flags));
	memset(&skipper, 0, sizeof(skipper));
	skipper.pfd = -1;
	if (topic_flags & MQDEV_TOPIC_SINGLE_WRITER) {
		skipper.w = writer(name, 0);
		ASSERT_NE(NULL, skipper.w);
	} else {
		skipper.pfd = attach(name, MQDEV_ATTACH_PRODUCE, NULL);
		ASSERT_LE(0, skipper.pfd);
	}
	c = reader(name, 0);
	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, send_expired());
	ring = reader_ring_of(name, &ratt);
	ASSERT_NE(NULL, ring);
	headp = (uint64_t *)(ring + ratt.off.head);

	ASSERT_EQ(0, sigaction(SIGTRAP, &sa, &old));
	fd = watch(headp);
	if (fd == -ENOENT || fd == -ENODEV || fd == -EOPNOTSUPP ||
	    fd == -ENOSYS)
		SKIP(goto out, "no hardware watchpoints: %s", strerror(-fd));
	ASSERT_LE(0, fd);
	/* The watchpoint fires on our own look, or the test proves nothing. */
	ASSERT_NE(0, *(volatile uint64_t *)headp);
	ASSERT_EQ(1, skipper.looks);

	skipper.looks = 0;
	skipper.armed = 1;
	rec = mqdev_consumer_peek(c);
	skipper.armed = 0;
	skipped = mqdev_consumer_expired(c);
	TH_LOG("the peek looked at head %u times, skipped %llu", skipper.looks,
	       (unsigned long long)skipped);
	EXPECT_EQ(NULL, rec);
	EXPECT_EQ(0, mqdev_consumer_error(c));
	EXPECT_LE(SKIP_MAX, skipped);
	EXPECT_GE(SKIP_MAX + SKIP_RUN, skipped);
	EXPECT_GT(SKIP_LOOKS_MAX, skipper.looks);
	close(fd);
	/* The writer is quiet: the next wait returns at once, a peek goes on. */
	EXPECT_EQ(1, mqdev_consumer_wait(c, 0));
	ASSERT_EQ(0, skipper.w ? send_n(skipper.w, 0, 1) :
		  produce_one(skipper.pfd, 0, NULL, 0, "v", 1, NULL));
	EXPECT_EQ(1, mqdev_consumer_wait(c, 0));
	rec = mqdev_consumer_peek(c);
	ASSERT_NE(NULL, rec);
	EXPECT_EQ(skipper.looks + 1, rec->offset);
	EXPECT_EQ(skipper.looks + 1, mqdev_consumer_expired(c));
	EXPECT_EQ(0, mqdev_consumer_release(c));
out:
	sigaction(SIGTRAP, &old, NULL);
	mqdev_consumer_free(c);
	if (skipper.w)
		mqdev_swriter_free(skipper.w);
	if (skipper.pfd >= 0)
		close(skipper.pfd);
	mqdev_topic_delete(mq, name);
	close(mq);
}

/*
 * Some 4,100 watchpoint traps, each with a send: 24-30 s on the debug
 * kernel under TCG (check-debug), where the harness's default 30 s timed
 * the producer's case out, and its teardown with it.
 */
#define EXPIRING_TIMEOUT	180

TEST_F_TIMEOUT(sw, a_writer_expiring_every_look_cannot_keep_a_peek,
	       EXPIRING_TIMEOUT)
{
	expiring_every_look(_metadata, topic_name("swx"),
			    MQDEV_TOPIC_SINGLE_WRITER);
}

/* The same with the kernel as the writer: the producer's records expired. */
TEST_F_TIMEOUT(sw, a_producer_expiring_every_look_cannot_keep_a_peek,
	       EXPIRING_TIMEOUT)
{
	expiring_every_look(_metadata, topic_name("ordx"), 0);
}

TEST_HARNESS_MAIN
