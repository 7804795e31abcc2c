/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the mqdev selftests. */
#ifndef _MQDEV_SELFTEST_COMMON_H
#define _MQDEV_SELFTEST_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/landlock.h>

#include "kselftest.h"
#include "libmqdev.h"

#define USER_UID	1000
#define OTHER_UID	1001

/*
 * Every test needs /dev/mq.  Without it (mqdev.ko not loaded, or a kernel
 * built without CONFIG_MQDEV) the whole program skips, saying why, before
 * the harness starts: a constructor, so that every file including this one
 * gets it, whatever its tests and fixtures.
 */
static void __attribute__((constructor)) mqdev_require_device(void)
{
	int fd = open(MQDEV_DEVICE, O_RDWR | O_CLOEXEC);
	int err = errno;

	if (fd >= 0) {
		close(fd);
		return;
	}
	/* anything else (EACCES...) is for the tests to report */
	if (err != ENOENT && err != ENODEV && err != ENXIO)
		return;
	ksft_print_header();
	ksft_exit_skip("%s: %s: the mqdev module is not loaded (CONFIG_MQDEV=m)\n",
		       MQDEV_DEVICE, strerror(err));
}

/* A topic name no other test uses: the test's name and a counter. */
static inline const char *topic_name(const char *test)
{
	static char name[MQDEV_NAME_MAX + 1];
	static unsigned int seq;

	snprintf(name, sizeof(name), "%.40s-%d-%u", test, getpid(), seq++);
	return name;
}

/* ioctl() with the result as -errno, as libmqdev reports it. */
static inline int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

static inline int create_topic(int fd, const char *name, uint32_t parts,
			       uint64_t capacity, uint32_t flags)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, cfg, .partitions = parts,
		      .capacity = capacity, .flags = flags);

	return mqdev_topic_create(fd, name, &cfg);
}

/* A topic for as_user() to create: its exit status is the -errno. */
struct topic_try {
	const char *name;
	uint32_t parts;
	uint64_t capacity;
};

static inline int create_topic_as(void *arg)
{
	const struct topic_try *t = arg;
	int fd = mqdev_open(), err;

	if (fd < 0)
		return 100;
	err = create_topic(fd, t->name, t->parts, t->capacity, 0);
	close(fd);
	return -err;
}

static inline int topic_count(int fd)
{
	struct mqdev_topic_list req = {};

	if (ioctl(fd, MQDEV_IOC_TOPIC_LIST, &req))
		return -errno;
	return req.count;
}

/* Open /dev/mq and attach in @mode; -errno on failure. */
static inline int attach(const char *name, uint32_t mode,
			 struct mqdev_attach *out)
{
	struct mqdev_attach req = { .flags = mode };
	int fd, err;

	if (out)
		memset(out, 0, sizeof(*out));
	mqdev_name_set(req.name, name);
	fd = open(MQDEV_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = xioctl(fd, MQDEV_IOC_ATTACH, &req);
	if (err) {
		close(fd);
		return err;
	}
	if (out)
		*out = req;
	return fd;
}

/* A fresh descriptor attached to exchange @ex as its producer, or -errno. */
static inline int ex_producer(const char *ex)
{
	int fd = mqdev_open(), err;

	if (fd < 0)
		return fd;
	err = mqdev_exchange_attach(fd, ex);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/* Produce one value to @partition on an attached producer fd; -errno. */
static inline int produce_one(int fd, uint32_t partition, const void *key,
			      uint32_t key_len, const void *value,
			      uint32_t value_len, uint64_t *offset)
{
	struct mqdev_msg msg;
	struct mqdev_produce req = {
		.msgs = (uintptr_t)&msg, .count = 1, .msg_size = sizeof(msg),
	};
	int n;

	mqdev_msg_init(&msg, key, key_len, value, value_len, partition);
	n = ioctl(fd, MQDEV_IOC_PRODUCE, &req);
	if (n < 0)
		return -errno;
	if (n != 1)
		return -EPROTO;
	if (offset)
		*offset = msg.offset;
	return msg.partition;
}

/* Partition @part's next offset, as a describe says; UINT64_MAX on error. */
static inline uint64_t next_offset(int fd, const char *name, uint32_t part)
{
	struct mqdev_partition_info parts[MQDEV_MAX_PARTITIONS];
	struct mqdev_topic_info info;

	if (part >= MQDEV_MAX_PARTITIONS ||
	    mqdev_topic_describe(fd, name, &info, parts, part + 1))
		return UINT64_MAX;
	return parts[part].next_offset;
}

static inline int seek(int fd, uint32_t partition, uint32_t whence,
		       uint64_t *offset, uint32_t flags)
{
	struct mqdev_seek req = {
		.partition = partition, .whence = whence,
		.offset = offset ? *offset : 0, .flags = flags,
	};
	int err = xioctl(fd, MQDEV_IOC_SEEK, &req);

	if (!err && offset)
		*offset = req.offset;
	return err;
}

/*
 * Run @fn in a child with the given uid/gid and no supplementary groups;
 * returns the child's exit status (or 255 if it died).
 */
static inline int as_user(uid_t uid, int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(uid) || setuid(uid))
			_exit(254);
		_exit(fn(arg));
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return 255;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

/* A handler that only interrupts: what a caught signal does to a call. */
static inline void caught_signal(int sig)
{
	(void)sig;
}

/*
 * fork(), the child's SIGUSR1 caught by a handler that does nothing, with
 * @sa_flags (0: an interrupted call fails EINTR; SA_RESTART: it restarts).
 * The signal is blocked until the handler is in place: a signal sent at
 * once cannot kill the child.  In the child: 0; in the parent: its pid.
 */
static inline pid_t fork_catching_usr1(int sa_flags)
{
	struct sigaction sa = { .sa_handler = caught_signal,
				.sa_flags = sa_flags };
	sigset_t usr1, was;
	pid_t pid;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &usr1, &was))
		return -1;
	pid = fork();
	if (!pid && sigaction(SIGUSR1, &sa, NULL))
		_exit(99);
	sigprocmask(SIG_SETMASK, &was, NULL);
	return pid;
}

/*
 * SIGUSR1 to @pid every 100 ms until it exits, for 10 s at most (then
 * SIGKILL): a signal sent before it sleeps interrupts nothing, a later one
 * does.  Returns its exit status, or -1 if it did not exit by itself.
 */
static inline int signal_until_exit(pid_t pid)
{
	pid_t reaped = 0;
	int status, i;

	for (i = 0; i <= 100; i++) {
		reaped = waitpid(pid, &status, WNOHANG);
		if (reaped || i == 100)
			break;
		kill(pid, SIGUSR1);
		usleep(100000);
	}
	if (!reaped) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -1;
	}
	return reaped == pid && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * A child opens a transaction of 3 records with @cookie, tells us its id,
 * and is killed: an orphan, for its checker (or the kernel) to decide.
 */
static inline uint64_t open_and_die(const char *topic, const char *producer,
				    uint64_t cookie, uint32_t timeout_ms)
{
	struct mqdev_producer *p;
	struct mqdev_session *s;
	int fds[2], status, i;
	uint64_t id = 0;
	pid_t pid;

	if (pipe(fds))
		return 0;
	pid = fork();
	if (pid == 0) {
		if (mqdev_session_new(producer, timeout_ms, &s) ||
		    mqdev_producer_new(topic, NULL, &p) ||
		    mqdev_producer_bind(p, s) || mqdev_txn_begin(s, cookie))
			_exit(1);
		for (i = 0; i < 3; i++)
			if (mqdev_producer_send(p, NULL, 0, &i, 4, 0, NULL))
				_exit(1);
		if (mqdev_producer_flush(p) != 3)
			_exit(1);
		id = mqdev_txn_id(s);
		if (write(fds[1], &id, sizeof(id)) != sizeof(id))
			_exit(1);
		pause();
		_exit(0);
	}
	close(fds[1]);
	if (read(fds[0], &id, sizeof(id)) != sizeof(id))
		id = 0;
	close(fds[0]);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return id;
}

/* Fill @buf with bytes that depend on @seed, so a reader can check them. */
static inline void pattern_fill(void *buf, size_t len, uint64_t seed)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(seed * 31 + i * 7 + (seed >> 8));
}

static inline int pattern_check(const void *buf, size_t len, uint64_t seed)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (unsigned char)(seed * 31 + i * 7 + (seed >> 8)))
			return -1;
	return 0;
}

/* The module's parameters under /sys/module/mqdev/parameters. */
static inline int set_param(const char *name, unsigned long value)
{
	char path[128], buf[32];
	int fd, len, ret;

	snprintf(path, sizeof(path), "/sys/module/mqdev/parameters/%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%lu", value);
	ret = write(fd, buf, len) == len ? 0 : -errno;
	close(fd);
	return ret;
}

static inline unsigned long get_param(const char *name)
{
	char path[128];
	unsigned long value = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/mqdev/parameters/%s", name);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%lu", &value) != 1)
			value = 0;
		fclose(f);
	}
	return value;
}

/* Load mqdev.ko again, from $MQDEV_KO (set in the test VM): 0 or -errno. */
static inline int module_load(void)
{
	const char *ko = getenv("MQDEV_KO");
	int fd, ret;

	if (!ko)
		return -ENOENT;
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	return ret;
}

/* ---- time ------------------------------------------------------------ */

/* Milliseconds of CLOCK_MONOTONIC: for deadlines and waits a test measures. */
static inline uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static inline void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- daemons' logs: what the tests running a daemon look for ---------- */

/* How many lines of file @path hold @what (0 when it cannot be read). */
static inline int log_lines(const char *path, const char *what)
{
	char line[2048];
	int n = 0;
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		n += !!strstr(line, what);
	if (f)
		fclose(f);
	return n;
}

/* File @path to stderr, each line after "#   @who: ", as TAP comments. */
static inline void log_print(const char *path, const char *who)
{
	char line[2048];
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		fprintf(stderr, "#   %s: %s", who, line);
	if (f)
		fclose(f);
}

/*
 * A dead letter or a retry as read back (dlq_test, reconsume_test): the
 * record's key, value and "trace" header, and its mqdev.dlq.* headers.
 */
struct dead {
	char key[16], value[16], trace[16];
	char topic[MQDEV_NAME_SIZE], reason[32], group[MQDEV_NAME_SIZE];
	char error[32];
	uint64_t partition, offset, count;
	int nr_headers, nr_dlq_headers;
};

static inline void hdr_copy(char *dst, size_t size, const struct mqdev_header *h)
{
	size_t n = h->value_len < 0 ? 0 : (size_t)h->value_len;

	if (n >= size)
		n = size - 1;
	memcpy(dst, h->value, n);
	dst[n] = 0;
}

static inline int hdr_is(const struct mqdev_header *h, const char *name)
{
	return h->key_len == strlen(name) && !memcmp(h->key, name, h->key_len);
}

static inline int dead_parse(const struct mqdev_record *rec, struct dead *d)
{
	struct mqdev_header_iter it = { 0 };
	struct mqdev_header h;
	const void *v;
	uint32_t len;
	char num[32];
	int r;

	memset(d, 0, sizeof(*d));
	if (rec->key_len < sizeof(d->key))
		memcpy(d->key, mqdev_record_key(rec), rec->key_len);
	while ((r = mqdev_record_header_next(rec, &it, &h)) == 1) {
		d->nr_headers++;
		if (h.key_len > 10 && !memcmp(h.key, MQDEV_DLQ_HDR_PREFIX, 10))
			d->nr_dlq_headers++;
		hdr_copy(num, sizeof(num), &h);
		if (hdr_is(&h, "trace"))
			hdr_copy(d->trace, sizeof(d->trace), &h);
		else if (hdr_is(&h, MQDEV_DLQ_HDR_TOPIC))
			hdr_copy(d->topic, sizeof(d->topic), &h);
		else if (hdr_is(&h, MQDEV_DLQ_HDR_REASON))
			hdr_copy(d->reason, sizeof(d->reason), &h);
		else if (hdr_is(&h, MQDEV_DLQ_HDR_GROUP))
			hdr_copy(d->group, sizeof(d->group), &h);
		else if (hdr_is(&h, MQDEV_DLQ_HDR_ERROR))
			hdr_copy(d->error, sizeof(d->error), &h);
		else if (hdr_is(&h, MQDEV_DLQ_HDR_PARTITION))
			d->partition = strtoull(num, NULL, 10);
		else if (hdr_is(&h, MQDEV_DLQ_HDR_OFFSET))
			d->offset = strtoull(num, NULL, 10);
		else if (hdr_is(&h, MQDEV_DLQ_HDR_COUNT))
			d->count = strtoull(num, NULL, 10);
	}
	if (r < 0 || mqdev_record_payload(rec, &v, &len))
		return -EBADMSG;
	if (len < sizeof(d->value))
		memcpy(d->value, v, len);
	return 0;
}

/* Landlock's right to ioctl(2) on a device (6.10, ABI 5): not in 6.1's uapi */
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV	(1ULL << 15)
#endif

/*
 * In this process from now on: no ioctl(2) on a device opened after this,
 * as Landlock's IOCTL_DEV right has it.  -errno when Landlock cannot.
 */
static inline int landlock_no_device_ioctl(void)
{
	struct landlock_ruleset_attr attr = {
		.handled_access_fs = LANDLOCK_ACCESS_FS_IOCTL_DEV,
	};
	int abi, fd;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
		      LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 5)
		return abi < 0 ? -errno : -EOPNOTSUPP;
	fd = syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (fd < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_landlock_restrict_self, fd, 0)) {
		close(fd);
		return -errno;
	}
	close(fd);
	return 0;
}

/*
 * In a child under a Landlock ruleset that handles IOCTL_DEV, a handle
 * opened there sends @req (a batch, any: Landlock refuses before mqdev
 * looks) through a wait on @cons: 0 when it is refused with EACCES, as
 * ioctl(2) on it is first checked to be; KSFT_SKIP without Landlock ABI 5;
 * else which step went wrong (3 to 7).
 */
static inline int landlock_refuses_send(int cons,
					struct mqdev_produce_batch *req)
{
	struct mqdev_wait w = {
		.flags = MQDEV_WAIT_SEND,
		.send_cmd = MQDEV_IOC_PRODUCE_BATCH,
		.send_arg = (uintptr_t)req,
	};
	int err, status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return 100;
	if (!pid) {
		err = landlock_no_device_ioctl();
		if (err)
			_exit(err == -EOPNOTSUPP || err == -ENOSYS ?
			      KSFT_SKIP : 3);
		w.send_fd = mqdev_open();
		if (w.send_fd < 0)
			_exit(5);
		if (xioctl(w.send_fd, MQDEV_IOC_PRODUCE_BATCH, req) != -EACCES)
			_exit(6);	/* Landlock did not refuse the call */
		_exit(xioctl(cons, MQDEV_IOC_WAIT, &w) == -EACCES ? 0 : 7);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 101;
	return WEXITSTATUS(status);
}

static inline int keep_part0(void *ctx, const struct mqdev_stats *st)
{
	if (st->kind == MQDEV_STATS_PARTITION && st->partition == 0)
		memcpy(ctx, st, sizeof(*st));
	return 0;
}

/* Partition 0's counters, as netlink says, into @st: 0 or -errno. */
static inline int part0_stats(const char *topic, struct mqdev_stats *st)
{
	struct mqdev_nl *nl;
	int err;

	memset(st, 0, sizeof(*st));
	st->kind = MQDEV_STATS_TOPIC;	/* until partition 0 is seen */
	err = mqdev_nl_open(&nl);
	if (err)
		return err;
	err = mqdev_stats_get(nl, topic, keep_part0, st);
	mqdev_nl_close(nl);
	if (!err && st->kind != MQDEV_STATS_PARTITION)
		err = -ENOENT;
	return err;
}

/* Partition 0's wake-ups of sleeping readers, as netlink says, or UINT64_MAX. */
static inline uint64_t reader_wakeups(const char *topic)
{
	struct mqdev_stats st;

	return part0_stats(topic, &st) ? UINT64_MAX : st.reader_wakeups;
}

#endif /* _MQDEV_SELFTEST_COMMON_H */
