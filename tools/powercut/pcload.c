// SPDX-License-Identifier: GPL-2.0
/*
 * pcload: the guest's side of the power-cut test (tools/powercut/run).
 *
 *   pcload load --dir DIR [--seed S] [--producers N] [--idempotent M]
 *               [--consumers C] [--seconds T]
 *	On durable topic "powercut" (made if missing), N producers with
 *	acks=all (the first M bound to a named, idempotent session) and C
 *	members of group "pc" run until the machine dies (or T seconds).
 *	Each writes its own log in DIR (on the 9p share, which writes through
 *	to the host: a line written is the host's even if qemu is killed the
 *	next instant), one write(2) a line set, the moment it knows:
 *	  A part offset producer n   acknowledged (acks=all) at offset
 *	  S part offset producer n   a consumer was given it
 *	  T part offset              a consumer was given a torn record
 *	  C part offset              the group's commit up to offset returned
 *
 *   pcload dump --out FILE [--wait SECONDS]
 *	After the restore: every record of every partition from offset 0
 *	(history older than the ring read from mqdev-persistd's segments in
 *	/var/lib/mqdev, or $MQDEV_DATA_DIR) up to the high watermark, and
 *	the group's committed offsets:
 *	  R part offset producer n   a whole record
 *	  T part offset              one whose value does not check
 *	  G part offset              the group's committed offset
 *	  H part hw                  the partition's high watermark
 *	Waits up to SECONDS (30) for the topic to be open after the restore.
 *
 * Every value says who made it and regenerates from that: a torn or
 * scrambled record cannot pass for a whole one.  tools/powercut/check.c
 * compares the logs with the dump.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "libmqdev.h"

#define TOPIC		"powercut"
#define GROUP		"pc"
#define PARTS		4
#define CAPACITY	(256 * 1024)
#define MAX_VALUE	512
#define LINE_MAX_BUF	65536

/* The head of every value; the rest is fill() of it. */
struct pc_value {
	uint32_t producer;
	uint32_t n;
	uint32_t len;		/* of the whole value */
	uint32_t hash;		/* FNV-1a of the fill */
};

static uint32_t fnv1a(const unsigned char *p, size_t len)
{
	uint32_t h = 2166136261u;

	while (len--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

static void fill(struct pc_value *v, unsigned char *buf)
{
	uint32_t i, x = v->producer * 2654435761u ^ v->n;

	for (i = sizeof(*v); i < v->len; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = x >> 24;
	}
	v->hash = fnv1a(buf + sizeof(*v), v->len - sizeof(*v));
	memcpy(buf, v, sizeof(*v));
}

/* Does the record's value regenerate from its head?  Fills *@v. */
static bool value_whole(const struct mqdev_record *rec, struct pc_value *v)
{
	unsigned char want[MAX_VALUE];
	uint32_t len = mqdev_record_value_len(rec);

	if (len < sizeof(*v) || len > MAX_VALUE)
		return false;
	memcpy(v, mqdev_record_value(rec), sizeof(*v));
	if (v->len != len)
		return false;
	fill(v, want);
	return !memcmp(want, mqdev_record_value(rec), len);
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "pcload: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* A log's lines gathered, and written in one write(2). */
struct logbuf {
	int fd;
	size_t used;
	char buf[LINE_MAX_BUF];
};

static void log_open(struct logbuf *lb, const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	lb->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (lb->fd < 0)
		die("%s: %s", path, strerror(errno));
	lb->used = 0;
}

static void log_flush(struct logbuf *lb)
{
	size_t off = 0;
	ssize_t n;

	while (off < lb->used) {
		n = write(lb->fd, lb->buf + off, lb->used - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("log: %s", strerror(errno));
		off += n;
	}
	lb->used = 0;
}

static void log_line(struct logbuf *lb, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (lb->used > sizeof(lb->buf) - 128)
		log_flush(lb);
	va_start(ap, fmt);
	n = vsnprintf(lb->buf + lb->used, sizeof(lb->buf) - lb->used, fmt, ap);
	va_end(ap);
	lb->used += n;
}

struct producer_ctx {
	struct logbuf log;
	uint32_t id;
};

static void on_ack(void *ctx, const struct mqdev_ack *ack)
{
	struct producer_ctx *pc = ctx;

	if (ack->error)
		return;		/* not acknowledged: nothing is promised */
	log_line(&pc->log, "A %u %" PRIu64 " %u %u\n", ack->partition,
		 ack->offset, pc->id, (uint32_t)(uintptr_t)ack->opaque);
}

static void run_producer(const char *dir, uint32_t id, bool idempotent,
			 unsigned int seed)
{
	LIBMQDEV_OPTS(mqdev_producer_opts, opts,
		.flags = MQDEV_PRODUCER_ACKS_ALL);
	unsigned char buf[MAX_VALUE];
	struct mqdev_session *session = NULL;
	struct mqdev_producer *p;
	struct producer_ctx pc = { .id = id };
	struct pc_value v = { .producer = id };
	char name[32], logname[32];
	uint32_t batch, i;
	int err;

	snprintf(logname, sizeof(logname), "producer-%u", id);
	log_open(&pc.log, dir, logname);
	opts.ack_fn = on_ack;
	opts.ack_ctx = &pc;
	err = mqdev_producer_new(TOPIC, &opts, &p);
	if (err)
		die("producer %u: %s", id, strerror(-err));
	if (idempotent) {
		snprintf(name, sizeof(name), "pc-%u", id);
		err = mqdev_session_new(name, 0, &session);
		if (!err)
			err = mqdev_producer_bind(p, session);
		if (err)
			die("producer %u: session: %s", id, strerror(-err));
	}
	srandom(seed * 7919 + id);
	for (;;) {
		batch = 1 + random() % 8;
		for (i = 0; i < batch; i++) {
			v.len = sizeof(v) + random() % (MAX_VALUE - sizeof(v));
			fill(&v, buf);
			err = mqdev_producer_send(p, NULL, 0, buf, v.len,
						  random() % PARTS,
						  (void *)(uintptr_t)v.n);
			if (err)
				die("producer %u: send: %s", id, strerror(-err));
			v.n++;
		}
		err = mqdev_producer_flush(p);
		log_flush(&pc.log);	/* the moment they are acknowledged */
		if (err < 0 && err != -ENOLINK)
			die("producer %u: flush: %s", id, strerror(-err));
		if (err < 0)
			usleep(10000);	/* too few replicas: a moment */
	}
}

static void log_commit(struct mqdev_consumer *c, struct logbuf *lb)
{
	uint64_t pos[PARTS];
	bool owned[PARTS];
	uint32_t i;

	/* what the commit covers is what was released before it */
	for (i = 0; i < PARTS; i++) {
		owned[i] = mqdev_consumer_owns(c, i);
		pos[i] = owned[i] ? mqdev_consumer_position(c, i) : 0;
	}
	if (mqdev_consumer_commit(c))
		return;		/* taken away, or refused: nothing promised */
	for (i = 0; i < PARTS; i++)
		if (owned[i])
			log_line(lb, "C %u %" PRIu64 "\n", i, pos[i]);
	log_flush(lb);
}

static void run_consumer(const char *dir, uint32_t id)
{
	const struct mqdev_record *recs[64];
	struct mqdev_consumer *c;
	struct logbuf *lb = malloc(sizeof(*lb));
	struct pc_value v;
	char logname[32];
	unsigned int seen = 0;
	int n, i, err;

	if (!lb)
		die("consumer: no memory");
	snprintf(logname, sizeof(logname), "consumer-%u", id);
	log_open(lb, dir, logname);
	err = mqdev_consumer_new(TOPIC, NULL, &c);
	if (!err)
		err = mqdev_consumer_join(c, GROUP, MQDEV_SEEK_EARLIEST);
	if (err)
		die("consumer %u: %s", id, strerror(-err));
	for (;;) {
		n = mqdev_consumer_peek_batch(c, recs, 64);
		if (n < 0)
			die("consumer %u: peek: %s", id, strerror(-n));
		if (!n) {
			if (mqdev_consumer_error(c))
				die("consumer %u: %s", id,
				    strerror(-mqdev_consumer_error(c)));
			mqdev_consumer_wait(c, 20);
			continue;
		}
		for (i = 0; i < n; i++) {
			if (value_whole(recs[i], &v))
				log_line(lb, "S %u %" PRIu64 " %u %u\n",
					 recs[i]->partition, (uint64_t)recs[i]->offset,
					 v.producer, v.n);
			else
				log_line(lb, "T %u %" PRIu64 "\n",
					 recs[i]->partition, (uint64_t)recs[i]->offset);
		}
		log_flush(lb);	/* seen, before anything is done with it */
		mqdev_consumer_release(c);
		seen += n;
		if (seen >= 32) {
			log_commit(c, lb);
			seen = 0;
		}
	}
}

static void make_topic(void)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, opts,
		.partitions = PARTS,
		.capacity = CAPACITY,
		.flags = MQDEV_TOPIC_DURABLE,
		.min_insync = 1);
	int fd = mqdev_open(), err;

	if (fd < 0)
		die("/dev/mq: %s", strerror(-fd));
	err = mqdev_topic_create(fd, TOPIC, &opts);
	if (err && err != -EEXIST)
		die("topic: %s", strerror(-err));
	close(fd);
}

static int cmd_load(const char *dir, unsigned int seed, int producers,
		    int idempotent, int consumers, int seconds)
{
	pid_t pids[80], pid;
	int i, status, failed = 0;

	make_topic();
	for (i = 0; i < producers + consumers; i++) {
		pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (!pid) {
			if (i < producers)
				run_producer(dir, i, i < idempotent, seed);
			else
				run_consumer(dir, i - producers);
			_exit(0);
		}
		pids[i] = pid;
	}
	fprintf(stderr, "pcload: %d producers (%d idempotent), %d consumers\n",
		producers, idempotent, consumers);
	/* until the power goes, or for a time */
	if (seconds) {
		sleep(seconds);
		for (i = 0; i < producers + consumers; i++)
			kill(pids[i], SIGKILL);
	}
	while ((pid = wait(&status)) > 0)
		if (WIFEXITED(status) && WEXITSTATUS(status))
			failed = 1;
	return failed;
}

struct dump_ctx {
	FILE *out;
};

static int dump_group(void *ctx, const struct mqdev_group_info *info)
{
	struct dump_ctx *d = ctx;
	uint32_t i;

	for (i = 0; i < info->nr_parts; i++)
		if (info->part[i].committed)
			fprintf(d->out, "G %u %" PRIu64 "\n",
				info->part[i].partition, info->part[i].position);
	return 0;
}

/* The topic, once the restore let consumers in, or die. */
static struct mqdev_consumer *dump_attach(int wait_s)
{
	struct mqdev_consumer *c;
	int err, tries = wait_s * 10;

	for (;;) {
		err = mqdev_consumer_new(TOPIC, NULL, &c);
		if (!err)
			return c;
		if ((err != -EAGAIN && err != -ENOENT) || tries-- <= 0)
			die("dump: %s: %s", TOPIC, strerror(-err));
		usleep(100000);
	}
}

/* Partition @part from offset 0, history from the disk included. */
static void dump_part(FILE *out, uint32_t part, int wait_s)
{
	struct mqdev_consumer *c = dump_attach(wait_s);
	const struct mqdev_record *rec;
	struct pc_value v;
	int err;

	err = mqdev_consumer_seek(c, MQDEV_PARTITION_ALL, MQDEV_SEEK_LATEST, 0,
				  0, NULL);
	if (!err)
		err = mqdev_consumer_seek(c, part, MQDEV_SEEK_OFFSET, 0, 0,
					  NULL);
	if (err)
		die("seek %u: %s", part, strerror(-err));
	for (;;) {
		rec = mqdev_consumer_peek(c);
		if (!rec) {
			err = mqdev_consumer_error(c);
			if (err)
				die("dump %u: %s", part, strerror(-err));
			if (mqdev_consumer_wait(c, 500) <= 0)
				break;	/* everything up to the watermark */
			continue;
		}
		if (value_whole(rec, &v))
			fprintf(out, "R %u %" PRIu64 " %u %u\n", rec->partition,
				(uint64_t)rec->offset, v.producer, v.n);
		else
			fprintf(out, "T %u %" PRIu64 "\n", rec->partition,
				(uint64_t)rec->offset);
		mqdev_consumer_release(c);
	}
	if (mqdev_consumer_lost(c))
		die("dump %u: %" PRIu64 " records lost while reading", part,
		    mqdev_consumer_lost(c));
	mqdev_consumer_free(c);
}

static int cmd_dump(const char *path, int wait_s)
{
	struct mqdev_partition_info parts[PARTS];
	struct mqdev_consumer *c;
	struct mqdev_topic_info info;
	struct dump_ctx d;
	struct mqdev_nl *nl;
	int fd, err;
	uint32_t i;

	d.out = fopen(path, "we");
	if (!d.out)
		die("%s: %s", path, strerror(errno));
	c = dump_attach(wait_s);	/* the restore is over */
	mqdev_consumer_free(c);
	fd = mqdev_open();
	memset(&info, 0, sizeof(info));
	err = fd < 0 ? fd : mqdev_topic_describe(fd, TOPIC, &info, parts, PARTS);
	if (err)
		die("describe: %s", strerror(-err));
	close(fd);
	for (i = 0; i < PARTS; i++) {
		fprintf(d.out, "H %u %" PRIu64 "\n", i,
			(uint64_t)parts[i].high_watermark);
		dump_part(d.out, i, wait_s);
	}
	err = mqdev_nl_open(&nl);
	if (!err)
		err = mqdev_group_get(nl, GROUP, TOPIC, dump_group, &d);
	if (err && err != -ENOENT)
		die("group %s: %s", GROUP, strerror(-err));
	if (!err)
		mqdev_nl_close(nl);
	if (fclose(d.out))
		die("%s: %s", path, strerror(errno));
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: pcload load --dir DIR [--seed S] [--producers N] [--idempotent M]\n"
		"                   [--consumers C] [--seconds T]\n"
		"       pcload dump --out FILE [--wait SECONDS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "seed", required_argument, NULL, 's' },
		{ "producers", required_argument, NULL, 'p' },
		{ "idempotent", required_argument, NULL, 'i' },
		{ "consumers", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 't' },
		{ "out", required_argument, NULL, 'o' },
		{ "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	int producers = 4, idempotent = 2, consumers = 2, seconds = 0;
	int wait_s = 30, opt;
	const char *dir = NULL, *out = NULL, *cmd;
	unsigned int seed = 1;

	if (argc < 2)
		usage();
	cmd = argv[1];
	optind = 2;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd': dir = optarg; break;
		case 's': seed = strtoul(optarg, NULL, 0); break;
		case 'p': producers = atoi(optarg); break;
		case 'i': idempotent = atoi(optarg); break;
		case 'c': consumers = atoi(optarg); break;
		case 't': seconds = atoi(optarg); break;
		case 'o': out = optarg; break;
		case 'w': wait_s = atoi(optarg); break;
		default: usage();
		}
	}
	if (producers < 1 || producers > 64 || idempotent < 0 ||
	    idempotent > producers || consumers < 0 || consumers > 16)
		die("want 1..64 producers, 0..producers idempotent, 0..16 consumers");
	if (!strcmp(cmd, "load") && dir)
		return cmd_load(dir, seed, producers, idempotent, consumers,
				seconds);
	if (!strcmp(cmd, "dump") && out)
		return cmd_dump(out, wait_s);
	usage();
	return 2;
}
