// SPDX-License-Identifier: GPL-2.0
/*
 * Many producers on one partition, threads and processes, some killed while
 * they produce: nothing acknowledged is lost, nothing is duplicated, records
 * never interleave, and each producer's order is kept.
 */
#include <pthread.h>
#include "common.h"
#include "kselftest_harness.h"

#define WRITERS 4
#define PER_WRITER 4000
#define BATCH 16

struct tag {
	uint32_t writer;
	uint32_t seq;
	char fill[40];
};

FIXTURE(conc) {
	int fd;
	char name[MQDEV_NAME_MAX + 1];
};

FIXTURE_SETUP(conc)
{
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("conc"));
	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 4 << 20, 0));
}

FIXTURE_TEARDOWN(conc)
{
	mqdev_topic_delete(self->fd, self->name);
	close(self->fd);
}

static void tag_fill(struct tag *t, uint32_t writer, uint32_t seq)
{
	t->writer = writer;
	t->seq = seq;
	pattern_fill(t->fill, sizeof(t->fill), (uint64_t)writer << 32 | seq);
}

/* Produce @count tagged records in batches; returns the number acked. */
static int write_tags(const char *name, uint32_t writer, uint32_t count,
		      uint64_t *acked_offsets)
{
	struct tag tags[BATCH];
	struct mqdev_msg msgs[BATCH];
	struct mqdev_produce req = {
		.msgs = (uintptr_t)msgs, .msg_size = sizeof(msgs[0]),
	};
	uint32_t seq = 0, i, n;
	int prod, ret;

	prod = attach(name, MQDEV_ATTACH_PRODUCE, NULL);
	if (prod < 0)
		return prod;
	while (seq < count) {
		n = count - seq < BATCH ? count - seq : BATCH;
		for (i = 0; i < n; i++) {
			tag_fill(&tags[i], writer, seq + i);
			mqdev_msg_init(&msgs[i], NULL, 0, &tags[i],
				       sizeof(tags[i]), 0);
		}
		req.count = n;
		ret = ioctl(prod, MQDEV_IOC_PRODUCE, &req);
		if (ret <= 0)
			break;
		for (i = 0; acked_offsets && i < (uint32_t)ret; i++)
			acked_offsets[seq + i] = msgs[i].offset;
		seq += ret;
	}
	close(prod);
	return seq;
}

/*
 * Read the whole partition and check it: offsets contiguous from 0, every
 * record a whole tag, every writer's sequence contiguous from 0 with no
 * repeat.  Returns the number of records, or -1.
 */
static long check_partition(struct __test_metadata *_metadata,
			    const char *name, uint32_t writers,
			    uint32_t *next_seq)
{
	const struct mqdev_record *rec;
	struct mqdev_consumer *c;
	struct tag t;
	long n = 0;

	memset(next_seq, 0, writers * sizeof(*next_seq));
	if (mqdev_consumer_new(name, NULL, &c))
		return -1;
	if (mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0, 0, NULL))
		return -1;
	while ((rec = mqdev_consumer_peek(c))) {
		EXPECT_EQ(n, rec->offset);
		EXPECT_EQ(sizeof(t), mqdev_record_value_len(rec));
		memcpy(&t, mqdev_record_value(rec), sizeof(t));
		EXPECT_GT(writers, t.writer);
		if (t.writer >= writers)
			break;
		EXPECT_EQ(next_seq[t.writer], t.seq);
		EXPECT_EQ(0, pattern_check(t.fill, sizeof(t.fill),
					   (uint64_t)t.writer << 32 | t.seq));
		next_seq[t.writer] = t.seq + 1;
		mqdev_consumer_release(c);
		n++;
	}
	EXPECT_EQ(0, mqdev_consumer_lost(c));
	mqdev_consumer_free(c);
	return n;
}

struct writer_arg {
	const char *name;
	uint32_t writer;
	uint64_t offsets[PER_WRITER];
	int acked;
};

static void *writer_thread(void *arg)
{
	struct writer_arg *w = arg;

	w->acked = write_tags(w->name, w->writer, PER_WRITER, w->offsets);
	return NULL;
}

TEST_F(conc, threads_on_one_partition)
{
	static struct writer_arg w[WRITERS];
	uint32_t next_seq[WRITERS];
	static uint8_t seen[WRITERS * PER_WRITER];
	pthread_t t[WRITERS];
	int i, j;

	for (i = 0; i < WRITERS; i++) {
		w[i].name = self->name;
		w[i].writer = i;
		ASSERT_EQ(0, pthread_create(&t[i], NULL, writer_thread, &w[i]));
	}
	for (i = 0; i < WRITERS; i++)
		pthread_join(t[i], NULL);

	/* every ack names a distinct offset, and they cover the partition */
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < WRITERS; i++) {
		ASSERT_EQ(PER_WRITER, w[i].acked);
		for (j = 0; j < PER_WRITER; j++) {
			ASSERT_GT(WRITERS * PER_WRITER, w[i].offsets[j]);
			EXPECT_EQ(0, seen[w[i].offsets[j]]++);
			if (j)
				EXPECT_LT(w[i].offsets[j - 1], w[i].offsets[j]);
		}
	}
	EXPECT_EQ(WRITERS * PER_WRITER,
		  check_partition(_metadata, self->name, WRITERS, next_seq));
	for (i = 0; i < WRITERS; i++)
		EXPECT_EQ(PER_WRITER, next_seq[i]);
}

TEST_F(conc, processes_on_one_partition)
{
	uint32_t next_seq[WRITERS];
	pid_t pids[WRITERS];
	int i, status;

	for (i = 0; i < WRITERS; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (!pids[i])
			_exit(write_tags(self->name, i, PER_WRITER, NULL) ==
			      PER_WRITER ? 0 : 1);
	}
	for (i = 0; i < WRITERS; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	}
	EXPECT_EQ(WRITERS * PER_WRITER,
		  check_partition(_metadata, self->name, WRITERS, next_seq));
}

/* Writers killed with SIGKILL at random moments leave a whole log behind. */
TEST_F(conc, writers_killed_mid_produce)
{
	uint32_t next_seq[WRITERS];
	pid_t pids[WRITERS];
	long total;
	int i, round;

	for (round = 0; round < 5; round++) {
		for (i = 0; i < WRITERS; i++) {
			pids[i] = fork();
			ASSERT_LE(0, pids[i]);
			if (!pids[i]) {
				write_tags(self->name, i, 1 << 30, NULL);
				_exit(0);
			}
		}
		usleep(20000 + round * 15000);
		for (i = 0; i < WRITERS; i++) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
		/* a new round restarts every writer's sequence */
		total = check_partition(_metadata, self->name, WRITERS, next_seq);
		ASSERT_LT(0, total);
		ASSERT_EQ(0, mqdev_topic_delete(self->fd, self->name));
		ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 4 << 20, 0));
	}
}

/* A writer killed while it sleeps on a full partition goes away cleanly. */
TEST_F(conc, writer_killed_while_blocked)
{
	struct mqdev_consumer *holder;
	uint32_t next_seq[1];
	long before, after;
	pid_t pid;
	int status;

	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &holder));
	ASSERT_EQ(0, mqdev_consumer_seek(holder, 0, MQDEV_SEEK_EARLIEST, 0,
					 MQDEV_SEEK_HOLD, NULL));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		write_tags(self->name, 0, 1 << 30, NULL);
		_exit(0);
	}
	/* wait until the partition is full and the writer asleep */
	do {
		usleep(50000);
		before = check_partition(_metadata, self->name, 1, next_seq);
		usleep(50000);
		after = check_partition(_metadata, self->name, 1, next_seq);
	} while (before != after);
	EXPECT_EQ(0, waitpid(pid, &status, WNOHANG));
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(after, check_partition(_metadata, self->name, 1, next_seq));
	EXPECT_EQ(after, next_seq[0]);
	mqdev_consumer_free(holder);
}

TEST_HARNESS_MAIN
