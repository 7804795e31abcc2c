// SPDX-License-Identifier: GPL-2.0
/*
 * Wake-ups are never lost: two threads pass a message back and forth
 * through two topics many thousand times, each sleeping in MQDEV_IOC_WAIT
 * (no busy-polling) for the other's message with a time-out.  Every round
 * trip needs one wake-up each way, right after its sleeper went to sleep or
 * while it is on its way there: the race a missing barrier between the
 * producer's publish and the sleeper's check loses, and a lost wake-up here
 * is a wait that times out.  Ordinary and single-writer topics, whose
 * writers wake readers through MQDEV_RING_READER_WAIT; each also with the
 * send and the next wait in one call (MQDEV_WAIT_SEND), where the wake-up
 * comes from inside the sender's own wait.
 */
#include <pthread.h>
#include "common.h"
#include "kselftest_harness.h"

#define VALUE		64
#define ROUND_TRIPS	3000
#define WAIT_MS		5000

FIXTURE(pingpong) {
	int fd;
	char name[2][MQDEV_NAME_MAX + 1];
};

FIXTURE_VARIANT(pingpong) {
	uint32_t flags;
	bool send_wait;		/* the send in the wait's call */
};

FIXTURE_VARIANT_ADD(pingpong, produce) {
	.flags = 0,
};

FIXTURE_VARIANT_ADD(pingpong, single_writer) {
	.flags = MQDEV_TOPIC_SINGLE_WRITER,
};

FIXTURE_VARIANT_ADD(pingpong, produce_batch_wait) {
	.flags = 0,
	.send_wait = true,
};

FIXTURE_VARIANT_ADD(pingpong, swriter_commit_wait) {
	.flags = MQDEV_TOPIC_SINGLE_WRITER,
	.send_wait = true,
};

FIXTURE_SETUP(pingpong)
{
	int i;

	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	for (i = 0; i < 2; i++) {
		strcpy(self->name[i], topic_name("pingpong"));
		ASSERT_EQ(0, create_topic(self->fd, self->name[i], 1, 65536,
					  variant->flags));
	}
}

FIXTURE_TEARDOWN(pingpong)
{
	mqdev_topic_delete(self->fd, self->name[0]);
	mqdev_topic_delete(self->fd, self->name[1]);
	close(self->fd);
}

/* One side: sends on name[me], takes from name[!me]. */
struct side {
	const char *out, *in;
	bool sw;
	bool send_wait;
	int me;
	int err;		/* 0, or what went wrong */
	uint64_t done;		/* round trips completed */
	const char *what;
};

/* Send one record whose value is @i, as the topic wants it sent. */
static int side_send(struct side *s, struct mqdev_swriter *w,
		     struct mqdev_producer *p, uint64_t i)
{
	struct mqdev_record *rec;
	char value[VALUE] = {};
	struct mqdev_msg msg;
	int err;

	memcpy(value, &i, sizeof(i));
	if (s->sw) {
		err = mqdev_swriter_reserve(w, 0, 0, VALUE, 0, &rec);
		if (err)
			return err;
		memcpy(rec + 1, value, VALUE);
		return mqdev_swriter_commit(w);
	}
	mqdev_msg_init(&msg, NULL, 0, value, VALUE, 0);
	err = mqdev_produce(p, &msg, 1);
	return err == 1 ? 0 : err < 0 ? err : -EIO;
}

/* Take record @i, sleeping for it: -ETIMEDOUT is a lost wake-up. */
static int side_take(struct side *s, struct mqdev_consumer *c, uint64_t i)
{
	const struct mqdev_record *rec;
	uint64_t got;
	int n;

	while (!(rec = mqdev_consumer_peek(c))) {
		n = mqdev_consumer_wait(c, WAIT_MS);
		if (n < 0)
			return n;
		if (!n) {
			s->what = "a wait timed out: a lost wake-up";
			return -ETIMEDOUT;
		}
	}
	memcpy(&got, mqdev_record_value(rec), sizeof(got));
	if (mqdev_record_value_len(rec) != VALUE || got != i) {
		s->what = "a wrong record";
		return -EBADMSG;
	}
	return mqdev_consumer_release(c);
}

/* The ways to send: a writer, or a producer and its batch. */
struct sender {
	struct mqdev_swriter *w;
	struct mqdev_producer *p;
	struct mqdev_batch *b;
};

/*
 * Send record @i and sleep in the same call until something comes back
 * (mqdev_swriter_commit_wait(), mqdev_produce_batch_wait()); then take
 * record @next.
 */
static int side_send_wait(struct side *s, struct sender *x,
			  struct mqdev_consumer *c, uint64_t i, uint64_t next)
{
	struct mqdev_record *rec;
	uint32_t part = 0;
	void *value;
	int n;

	n = s->sw ? mqdev_swriter_reserve(x->w, 0, 0, VALUE, 0, &rec) :
		    mqdev_batch_add(x->b, NULL, 0, VALUE, &value);
	if (n)
		return n;
	if (s->sw)
		value = rec + 1;
	memset(value, 0, VALUE);
	memcpy(value, &i, sizeof(i));
	n = s->sw ? mqdev_swriter_commit_wait(x->w, c, WAIT_MS) :
		    mqdev_produce_batch_wait(x->p, x->b, &part, NULL, c,
					     WAIT_MS);
	if (!s->sw && mqdev_batch_count(x->b)) {
		s->what = "the batch was not sent";
		return n < 0 ? n : -EIO;
	}
	if (n < 0)
		return n;
	if (!n) {
		s->what = "a send's wait timed out: a lost wake-up";
		return -ETIMEDOUT;
	}
	return side_take(s, c, next);
}

/* Send @i, then take @next: in one call, or in two. */
static int side_send_take(struct side *s, struct sender *x,
			  struct mqdev_consumer *c, uint64_t i, uint64_t next)
{
	if (s->send_wait)
		return side_send_wait(s, x, c, i, next);
	return side_send(s, x->w, x->p, i) ?: side_take(s, c, next);
}

static int sender_new(struct side *s, struct sender *x)
{
	if (s->sw)
		return mqdev_swriter_new(s->out, NULL, &x->w);
	return mqdev_producer_new(s->out, NULL, &x->p) ?:
	       mqdev_batch_new(4096, &x->b);
}

/*
 * The pinging side sends i and takes the answer i; the answering side
 * takes the ping 0 first, then answers i and takes the ping i + 1.
 */
static void *side_run(void *arg)
{
	struct side *s = arg;
	struct sender x = {};
	struct mqdev_consumer *c = NULL;
	uint64_t i, last = ROUND_TRIPS - 1;

	s->what = "setting up";
	s->err = sender_new(s, &x) ?:
		 mqdev_consumer_new(s->in, NULL, &c) ?:
		 mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0,
				     MQDEV_SEEK_HOLD, NULL);
	if (!s->err && s->me) {
		s->what = "taking the first ping";
		s->err = side_take(s, c, 0);
	}
	for (i = 0; i < ROUND_TRIPS && !s->err; i++) {
		s->what = s->me ? "answering" : "pinging";
		if (s->me && i == last)
			s->err = side_send(s, x.w, x.p, i);
		else
			s->err = side_send_take(s, &x, c, i, i + s->me);
		if (!s->err)
			s->done = i + 1;
	}
	mqdev_consumer_free(c);
	mqdev_batch_free(x.b);
	mqdev_producer_free(x.p);
	mqdev_swriter_free(x.w);
	return NULL;
}

TEST_F_TIMEOUT(pingpong, no_lost_wakeup, 600)
{
	struct side s[2] = {
		{ .out = self->name[0], .in = self->name[1], .me = 0 },
		{ .out = self->name[1], .in = self->name[0], .me = 1 },
	};
	pthread_t t[2];
	int i;

	for (i = 0; i < 2; i++) {
		s[i].sw = variant->flags & MQDEV_TOPIC_SINGLE_WRITER;
		s[i].send_wait = variant->send_wait;
		ASSERT_EQ(0, pthread_create(&t[i], NULL, side_run, &s[i]));
	}
	for (i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		if (s[i].err)
			TH_LOG("side %d, round trip %llu, %s: %s", i,
			       (unsigned long long)s[i].done, s[i].what,
			       strerror(-s[i].err));
		EXPECT_EQ(0, s[i].err);
		EXPECT_EQ(ROUND_TRIPS, s[i].done);
	}
}

TEST_HARNESS_MAIN
