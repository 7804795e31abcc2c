// SPDX-License-Identifier: GPL-2.0
/*
 * Redis Streams: a real broker that no one here wrote, run in the same
 * guest and used the way its users use it at its fastest: XADD pipelined a
 * batch at a time, XREADGROUP a batch at a time with every entry's XACK in
 * one command, over loopback TCP, persistence off.
 *
 * Debian ships the server as redis-check-rdb with redis-server as a link to
 * it; the binary picks its role by the name it was started as.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <hiredis/hiredis.h>
#include "mqbench.h"

#define REDIS_HOST	"127.0.0.1"
#define REDIS_PORT	6399
#define STREAM		"mqbench"
#define GROUP		"g"

static pid_t redis_pid;

static redisContext *redis_connect_to(int port)
{
	struct timeval tv = { .tv_sec = 30 };
	redisContext *c = redisConnectWithTimeout(REDIS_HOST, port, tv);

	if (c && c->err) {
		redisFree(c);
		return NULL;
	}
	return c;
}

static redisContext *redis_connect(void)
{
	return redis_connect_to(REDIS_PORT);
}

/* Run a command and check it did not fail; the reply is freed. */
static int redis_do(redisContext *c, const char *fmt, ...)
{
	redisReply *r;
	va_list ap;
	int err;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (!r)
		return -1;
	err = r->type == REDIS_REPLY_ERROR ? -1 : 0;
	freeReplyObject(r);
	return err;
}

static void redis_kill(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	waitpid(*pid, NULL, 0);
	*pid = 0;
}

/*
 * Start a server on @port in the background, with @persist (its
 * persistence options) after the common ones, into *@pid; 0 once it
 * answers PING.
 */
static int redis_launch(pid_t *pid, int port, char *const persist[6])
{
	char port_s[16];
	redisContext *c;
	int i;

	snprintf(port_s, sizeof(port_s), "%d", port);
	*pid = fork();
	if (*pid < 0)
		return -1;
	if (!*pid) {
		char *argv[] = {
			"redis-server", "--bind", REDIS_HOST, "--port", port_s,
			"--save", "", "--protected-mode", "no", "--loglevel",
			"warning", "--logfile", "/dev/null", persist[0],
			persist[1], persist[2], persist[3], persist[4],
			persist[5], NULL,
		};

		execvp("redis-check-rdb", argv);
		execvp("redis-server", argv);
		_exit(127);
	}
	for (i = 0; i < 100; i++) {
		c = redis_connect_to(port);
		if (c) {
			i = redis_do(c, "PING");
			redisFree(c);
			if (i)
				redis_kill(pid);
			return i;
		}
		usleep(50 * 1000);
	}
	redis_kill(pid);
	return -1;
}

/* Start the server in the background; 0 once it answers PING. */
int redis_start(void)
{
	char *const persist[6] = { "--appendonly", "no" };

	return redis_launch(&redis_pid, REDIS_PORT, persist);
}

void redis_stop(void)
{
	redis_kill(&redis_pid);
}

static int redis_do_argv(redisContext *c, int argc, const char **argv)
{
	redisReply *r = redisCommandArgv(c, argc, argv, NULL);
	int err;

	if (!r)
		return -1;
	err = r->type == REDIS_REPLY_ERROR ? -1 : 0;
	freeReplyObject(r);
	return err;
}

int redis_setup(struct bench *b, void **ctx)
{
	redisContext *c;
	int err;

	*ctx = NULL;
	if (redis_pid <= 0)
		return -1;
	c = redis_connect();
	if (!c)
		return -1;
	redis_do(c, "DEL " STREAM);
	err = redis_do(c, "XGROUP CREATE " STREAM " " GROUP " $ MKSTREAM");
	redisFree(c);
	return err;
}

int redis_produce(struct bench *b, void *ctx)
{
	redisContext *c = redis_connect();
	char *buf = malloc(b->size * BATCH);
	void *tmpl = template_of(b->size);
	redisReply *r;
	uint64_t i = 0;
	int n, j, err = 0;

	if (!c || !buf || !tmpl)
		return -1;
	while (i < b->count && !err) {
		n = b->count - i < BATCH ? b->count - i : BATCH;
		for (j = 0; j < n; j++) {
			fill(buf + j * b->size, b->size, i + j, tmpl);
			redisAppendCommand(c, "XADD " STREAM " * d %b",
					   buf + j * b->size, b->size);
		}
		for (j = 0; j < n; j++) {
			if (redisGetReply(c, (void **)&r) != REDIS_OK) {
				err = -1;
				break;
			}
			err |= r->type == REDIS_REPLY_ERROR ? -1 : 0;
			freeReplyObject(r);
		}
		i += n;
	}
	redisFree(c);
	free(buf);
	free(tmpl);
	return err;
}

/* Check one entry [id, [field, value]]; its id goes to the XACK. */
static int redis_entry(const redisReply *e, size_t size, const char **id)
{
	const redisReply *kv;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
		return -1;
	*id = e->element[0]->str;
	kv = e->element[1];
	if (kv->type != REDIS_REPLY_ARRAY || kv->elements != 2 ||
	    kv->element[1]->len != size)
		return -1;
	return check(kv->element[1]->str, size);
}

int redis_consume(struct bench *b, void *ctx)
{
	const char *argv[3 + BATCH];
	redisContext *c = redis_connect();
	const redisReply *entries;
	redisReply *r;
	uint64_t i = 0, ok = 0;
	size_t j;

	if (!c)
		return -1;
	argv[0] = "XACK";
	argv[1] = STREAM;
	argv[2] = GROUP;
	while (i < b->count) {
		r = redisCommand(c, "XREADGROUP GROUP " GROUP " c COUNT %d "
				 "BLOCK 10000 STREAMS " STREAM " >", BATCH);
		if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 1) {
			if (r)
				freeReplyObject(r);
			return -1;
		}
		entries = r->element[0]->element[1];
		for (j = 0; j < entries->elements; j++)
			ok += redis_entry(entries->element[j], b->size,
					  &argv[3 + j]) == 0;
		i += entries->elements;
		if (redis_do_argv(c, 3 + entries->elements, argv))
			return -1;
		freeReplyObject(r);
	}
	redisFree(c);
	return ok == b->count ? 0 : -1;
}

void redis_teardown(void *ctx)
{
	redisContext *c = redis_connect();

	if (c) {
		redis_do(c, "DEL " STREAM);
		redisFree(c);
	}
}

/* What the server says it uses, from INFO memory. */
static long long redis_used_memory(redisContext *c)
{
	redisReply *r = redisCommand(c, "INFO memory");
	long long used = -1;
	const char *at;

	if (r && r->type == REDIS_REPLY_STRING) {
		at = strstr(r->str, "used_memory:");
		if (at)
			used = atoll(at + strlen("used_memory:"));
	}
	if (r)
		freeReplyObject(r);
	return used;
}

/* The server's memory growth per entry while @n messages sit in a stream. */
double redis_bytes_per_msg(size_t size, uint64_t n)
{
	struct bench b = { .size = size, .count = n };
	long long before, after;
	redisContext *c;
	void *ctx;

	if (redis_setup(&b, &ctx))
		return -1;
	c = redis_connect();
	if (!c)
		return -1;
	before = redis_used_memory(c);
	if (redis_produce(&b, ctx)) {
		redisFree(c);
		return -1;
	}
	after = redis_used_memory(c);
	redisFree(c);
	redis_teardown(ctx);
	return before < 0 || after < 0 ? -1 : (double)(after - before) / n;
}

/*
 * A second server, for the durable scenario: its append-only file on the
 * disk of tools/vm/run --disk, fsynced as @policy says (always: before each
 * reply; everysec: once a second, a second of acknowledged writes at risk).
 */
#define REDIS_AOF_PORT	6400
#define REDIS_AOF_DIR	"/var/lib/mqdev/redis"
static pid_t redis_aof_pid;

/**
 * redis_aof_start() - start the durable scenario's Redis server
 * @policy: its appendfsync, "always" or "everysec"
 *
 * Return: 0 once it answers PING, -1 if it does not start.
 */
int redis_aof_start(const char *policy)
{
	char dir[64];
	char *const persist[6] = {
		"--appendonly", "yes", "--appendfsync", (char *)policy,
		"--dir", dir,
	};

	/* a directory of its own: no earlier file to load first */
	snprintf(dir, sizeof(dir), REDIS_AOF_DIR "-%s", policy);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -1;
	return redis_launch(&redis_aof_pid, REDIS_AOF_PORT, persist);
}

/**
 * redis_aof_stop() - stop the server redis_aof_start() started, if any
 */
void redis_aof_stop(void)
{
	redis_kill(&redis_aof_pid);
}

/**
 * redis_aof_produce() - XADD to the durable scenario's server
 * @size: bytes in each entry
 * @until: now_ns() at which to stop
 *
 * Entries go BATCH pipelined at a time, each batch's replies awaited.
 *
 * Return: how many entries the server acknowledged, or -1.
 */
int64_t redis_aof_produce(size_t size, uint64_t until)
{
	redisContext *c = redis_connect_to(REDIS_AOF_PORT);
	char *buf = calloc(1, size);
	redisReply *r;
	int64_t n = 0;
	int j;

	if (!c || !buf)
		return -1;
	while (now_ns() < until) {
		for (j = 0; j < BATCH; j++)
			redisAppendCommand(c, "XADD " STREAM " * d %b", buf,
					   size);
		for (j = 0; j < BATCH; j++) {
			if (redisGetReply(c, (void **)&r) != REDIS_OK)
				return -1;
			if (r->type == REDIS_REPLY_ERROR)
				n = -BATCH * (int64_t)1000000;
			freeReplyObject(r);
		}
		n += BATCH;
		if (n < 0)
			return -1;
	}
	redisFree(c);
	free(buf);
	return n;
}
