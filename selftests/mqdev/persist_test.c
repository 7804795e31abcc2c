// SPDX-License-Identifier: GPL-2.0
/*
 * mqdev-persistd, the disk replica of durable topics, end to end: acks=all
 * through it, its segment files checked here with a CRC-32C of the test's
 * own, history older than the ring read back through libmqdev, retention,
 * a read-only and a full disk, torn and corrupted segments, a restart of
 * the daemon, and a restore across rmmod/insmod.  The daemon is the one
 * built with the address and undefined-behaviour sanitizers
 * (mqdev-persistd-asan, beside this program); each test checks it exits
 * cleanly with no sanitizer report.
 */
#include <dirent.h>
#include <libgen.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include "common.h"
#include "kselftest_harness.h"

/*
 * Every test here starts mqdev-persist, built with the sanitizers: on the
 * debug kernel under TCG they took 10 to 25 s of the harness's default 30
 * (run.sh's "slow" lines, on a slow boot).  Their own default, for the
 * TEST_F()s below.
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT	90

/*
 * replica_lag_ms for these tests: a killed daemon leaves the in-sync set
 * when its handle closes, whatever this is; a slow one, under ASan on a
 * debug kernel under TCG, must not fall out of it for being slow.
 */
#define LAG_MS		2000
#define VALUE_LEN	100

/* ---- the test's own reading of the segment format ---------------------- */

struct disk_batch {
	uint32_t magic, crc;
	uint64_t base_offset, max_timestamp;
	uint32_t count, len;
};

/* CRC-32C bit by bit: slow and plain, a check on the daemon's tables. */
static uint32_t crc32c_bitwise(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t crc = ~0U;
	int k;

	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78U : crc >> 1;
	}
	return ~crc;
}

struct disk_scan {
	uint64_t first;		/* the oldest offset on disk */
	uint64_t next;		/* after the newest */
	uint64_t records;
	uint64_t segments;
	uint64_t bytes;
	int bad;		/* batches failing the check */
	uint16_t flags[512];	/* of the records at offsets below 512 */
};

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Check one segment's batches; false at the first bad one. */
static bool scan_segment(const char *path, struct disk_scan *s)
{
	struct disk_batch *b;
	const struct mqdev_record *rec;
	size_t pos = 0, rp;
	char *buf;
	struct stat st;
	bool ok = true;
	FILE *f = fopen(path, "r");

	if (!f || fstat(fileno(f), &st))
		return false;
	buf = malloc(st.st_size + 1);
	if (!buf || fread(buf, 1, st.st_size, f) != (size_t)st.st_size)
		ok = false;
	fclose(f);
	s->bytes += st.st_size;
	while (ok && pos < (size_t)st.st_size) {
		b = (void *)(buf + pos);
		if (st.st_size - pos < sizeof(*b) ||
		    st.st_size - pos - sizeof(*b) < b->len ||
		    b->magic != 0x3142514d ||
		    b->crc != crc32c_bitwise(&b->base_offset,
					     sizeof(*b) - 8 + b->len)) {
			ok = false;
			break;
		}
		if (!s->records)
			s->first = b->base_offset;
		for (rp = 0; rp < b->len; rp += MQDEV_RECORD_SPACE(rec->len)) {
			rec = (const void *)(buf + pos + sizeof(*b) + rp);
			if (rec->offset < s->next && s->records)
				ok = false;
			s->next = rec->offset + 1;
			s->records++;
			if (rec->offset < 512)
				s->flags[rec->offset] = rec->flags;
		}
		pos += sizeof(*b) + b->len;
	}
	free(buf);
	return ok;
}

/*
 * Up to @max segment files of partition @part of @topic, oldest first (a
 * name is its base offset, zero-padded), into @names, each the caller's to
 * free: how many, or -1 with no such directory.
 */
static int segment_names(const char *dir, const char *topic, uint32_t part,
			 char **names, int max)
{
	struct dirent *de;
	char path[512];
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s/%u", dir, topic, part);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)) && n < max)
		if (strstr(de->d_name, ".log"))
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_names);
	return n;
}

static struct disk_scan disk_scan(const char *dir, const char *topic,
				  uint32_t part)
{
	struct disk_scan s = {};
	char path[512], *names[4096];
	int n, i;

	n = segment_names(dir, topic, part, names, 4096);
	if (n < 0) {
		s.bad = -1;
		return s;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s/%u/%s", dir, topic, part,
			 names[i]);
		if (!scan_segment(path, &s))
			s.bad++;
		free(names[i]);
	}
	s.segments = n;
	return s;
}

/* ---- the daemon ---------------------------------------------------------- */

struct daemon {
	pid_t pid;
	char dir[64];
	char log[96];
	char conf[96];
};

static void daemon_config(struct daemon *d, const char *extra)
{
	FILE *f = fopen(d->conf, "w");

	fprintf(f, "data_dir = %s\nfsync = always\nretention_ms = 0\n%s\n",
		d->dir, extra ? extra : "");
	fclose(f);
}

static pid_t daemon_start(struct daemon *d)
{
	char exe[512], bin[600];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	pid_t pid;
	int fd;

	exe[n > 0 ? n : 0] = '\0';
	snprintf(bin, sizeof(bin), "%s/mqdev-persistd-asan", dirname(exe));
	pid = fork();
	if (!pid) {
		fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 2);
		dup2(fd, 1);
		setenv("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0", 1);
		setenv("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1", 1);
		execl(bin, bin, "--config", d->conf, "--foreground", NULL);
		_exit(127);
	}
	d->pid = pid;
	return pid;
}

static void log_dump(struct daemon *d);

/* Its exit status once it exits by itself. */
static int daemon_exit(struct daemon *d)
{
	int status;

	if (d->pid <= 0 || waitpid(d->pid, &status, 0) != d->pid)
		return -1;
	d->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* SIGTERM; its exit status (0: clean), -1 when it was already gone. */
static int daemon_stop(struct daemon *d)
{
	int status;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	if (waitpid(d->pid, &status, 0) != d->pid)
		return -1;
	d->pid = 0;
	status = WIFEXITED(status) ? WEXITSTATUS(status) :
		 128 + WTERMSIG(status);
	if (status)
		log_dump(d);
	return status;
}

static bool daemon_alive(struct daemon *d)
{
	return d->pid > 0 && waitpid(d->pid, NULL, WNOHANG) == 0;
}

/* The daemon's log says @what (sanitizer reports are "ERROR:"/"runtime"). */
static bool log_has(struct daemon *d, const char *what)
{
	return log_lines(d->log, what) > 0;
}

static void log_dump(struct daemon *d)
{
	log_print(d->log, "persistd");
}

/* The daemon's log says @what within 20 s. */
static bool log_wait(struct daemon *d, const char *what)
{
	int i;

	for (i = 0; i < 400 && !log_has(d, what); i++)
		sleep_ms(50);
	return log_has(d, what);
}

/* The daemon listens for topics: it said "ready". */
static bool daemon_ready(struct daemon *d)
{
	return log_wait(d, "ready: ");
}

/* Wait until the daemon replicates @name and is in sync everywhere. */
static bool wait_in_sync(const char *name, uint32_t parts)
{
	struct mqdev_partition_info pi[8];
	struct mqdev_topic_info info;
	int fd = mqdev_open(), i, p;
	bool ok = false;

	for (i = 0; i < 200 && !ok; i++) {
		if (!mqdev_topic_describe(fd, name, &info, pi, parts)) {
			ok = info.replicas == 1;
			for (p = 0; p < (int)parts; p++)
				ok = ok && pi[p].in_sync == 1;
		}
		if (!ok)
			sleep_ms(50);
	}
	close(fd);
	return ok;
}

static void value_of(char *buf, uint64_t i)
{
	memset(buf, 'a' + i % 26, VALUE_LEN);
	snprintf(buf, VALUE_LEN, "value-%08llu", (unsigned long long)i);
	buf[strlen(buf)] = '.';
}

/*
 * Produce @n records into @part, values value_of(@from + i), @flags
 * MQDEV_PRODUCER_*: how many were acknowledged before the first error
 * (*@err gets it).
 */
static int produce_n_as(const char *name, uint32_t part, int from, int n,
			uint32_t flags, uint32_t msg_flags, int *err);

static int produce_n(const char *name, uint32_t part, int from, int n,
		     uint32_t flags, int *err)
{
	return produce_n_as(name, part, from, n, flags, 0, err);
}

/*
 * The same with @msg_flags on each; with MQDEV_MSG_EXPIRES, each value
 * starts with an expiry long past.
 */
static int produce_n_as(const char *name, uint32_t part, int from, int n,
			uint32_t flags, uint32_t msg_flags, int *err)
{
	LIBMQDEV_OPTS(mqdev_producer_opts, opts, .flags = flags);
	const uint64_t long_past = 1;
	struct mqdev_producer *pr;
	struct mqdev_msg msgs[16];
	char vals[16][VALUE_LEN];
	int done = 0, k, got;

	*err = mqdev_producer_new(name, &opts, &pr);
	if (*err)
		return 0;
	while (done < n) {
		for (k = 0; k < 16 && done + k < n; k++) {
			value_of(vals[k], from + done + k);
			if (msg_flags & MQDEV_MSG_EXPIRES)
				memcpy(vals[k], &long_past, sizeof(long_past));
			mqdev_msg_init(&msgs[k], NULL, 0, vals[k], VALUE_LEN,
				       part);
			msgs[k].flags = msg_flags;
		}
		got = mqdev_produce(pr, msgs, k);
		if (got < 0) {
			*err = got;
			break;
		}
		done += got;
		if (got < k) {
			*err = -EIO;
			break;
		}
	}
	mqdev_producer_free(pr);
	return done;
}

/*
 * Read partition @part from offset @from with a consumer whose data_dir
 * is @dir: records in order, value_of(offset) each; how many until @want
 * or nothing more comes.
 */
static int consume_check(const char *name, const char *dir, uint32_t part,
			 uint64_t from, int want, uint64_t *landed, int *err)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts, .data_dir = dir);
	const struct mqdev_record *rec;
	struct mqdev_consumer *c;
	char val[VALUE_LEN];
	uint64_t expect;
	int got = 0;

	*err = mqdev_consumer_new(name, &opts, &c);
	if (*err)
		return 0;
	*err = mqdev_consumer_seek(c, part, MQDEV_SEEK_OFFSET, from, 0, landed);
	expect = *landed;
	while (!*err && got < want) {
		rec = mqdev_consumer_peek(c);
		if (!rec) {
			*err = mqdev_consumer_error(c);
			if (*err || mqdev_consumer_wait(c, 500) <= 0)
				break;
			continue;
		}
		value_of(val, rec->offset);
		if (rec->offset != expect ||
		    mqdev_record_value_len(rec) != VALUE_LEN ||
		    memcmp(mqdev_record_value(rec), val, VALUE_LEN)) {
			*err = -EILSEQ;
			break;
		}
		expect++;
		got++;
		mqdev_consumer_release(c);
	}
	if (!*err && mqdev_consumer_lost(c))
		*err = -ENODATA;
	mqdev_consumer_free(c);
	return got;
}

/*
 * With no replica in sync, a block topic's ring moves on only as its
 * readers do: produce @n in chunks, a holding reader consuming each.
 */
static int produce_consumed(const char *name, int from, int n)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts, .data_dir = "/nonexistent");
	struct mqdev_consumer *c;
	int done = 0, got, err;

	if (mqdev_consumer_new(name, &opts, &c))
		return -1;
	if (mqdev_consumer_seek(c, 0, MQDEV_SEEK_LATEST, 0, MQDEV_SEEK_HOLD,
				NULL))
		n = 0;
	while (done < n) {
		got = produce_n(name, 0, from + done, 40, 0, &err);
		if (got != 40)
			break;
		done += got;
		while (mqdev_consumer_peek(c))
			mqdev_consumer_release(c);
	}
	mqdev_consumer_free(c);
	return done;
}

/* Lines mqctl consume --from earliest prints from @topic, or -1. */
static int mqctl_count(const char *dir, const char *topic)
{
	char cmd[256];
	int n = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "MQDEV_DATA_DIR=%s mqctl consume %s "
		 "--from earliest --timeout 1000 | wc -l", dir, topic);
	f = popen(cmd, "r");
	if (f && fscanf(f, "%d", &n) != 1)
		n = -1;
	if (f)
		pclose(f);
	return n;
}

/*
 * A new member of @group: its position in partition 0, and the offset of
 * the first record it is given, which must be of partition 0.
 */
static int member_first(const char *name, const char *dir, const char *group,
			uint64_t *pos, uint64_t *first)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts, .data_dir = dir);
	const struct mqdev_record *rec;
	struct mqdev_consumer *c;
	int err;

	err = mqdev_consumer_new(name, &opts, &c);
	if (err)
		return err;
	err = mqdev_consumer_join(c, group, MQDEV_SEEK_LATEST);
	*pos = mqdev_consumer_position(c, 0);
	rec = err ? NULL : mqdev_consumer_peek(c);
	if (rec && rec->partition == 0)
		*first = rec->offset;
	else
		err = -ENODATA;
	mqdev_consumer_free(c);
	return err;
}

/* The next record, waiting up to a second for it; or NULL. */
static const struct mqdev_record *next_record(struct mqdev_consumer *c)
{
	const struct mqdev_record *rec = mqdev_consumer_peek(c);

	if (!rec && mqdev_consumer_wait(c, 1000) > 0)
		rec = mqdev_consumer_peek(c);
	return rec;
}

/* ---- the fixture ---------------------------------------------------------- */

FIXTURE(persist) {
	struct daemon d;
	int fd;
	char name[MQDEV_NAME_SIZE];
	unsigned long lag;
	bool mounted;
};

FIXTURE_SETUP(persist)
{
	snprintf(self->d.dir, sizeof(self->d.dir), "/tmp/persist-%d", getpid());
	snprintf(self->d.log, sizeof(self->d.log), "%s.log", self->d.dir);
	snprintf(self->d.conf, sizeof(self->d.conf), "%s.conf", self->d.dir);
	unlink(self->d.log);
	ASSERT_EQ(0, mkdir(self->d.dir, 0755));
	self->fd = mqdev_open();
	ASSERT_LE(0, self->fd);
	strcpy(self->name, topic_name("persist"));
	self->lag = get_param("replica_lag_ms");
	ASSERT_EQ(0, set_param("replica_lag_ms", LAG_MS));
}

FIXTURE_TEARDOWN(persist)
{
	char cmd[160];
	int status = daemon_stop(&self->d);

	mqdev_topic_delete(self->fd, self->name);
	close(self->fd);
	set_param("replica_lag_ms", self->lag);
	if (status > 0 || log_has(&self->d, "Sanitizer") ||
	    log_has(&self->d, "runtime error")) {
		log_dump(&self->d);
		fprintf(stderr, "# the daemon exited %d\n", status);
		_metadata->exit_code = KSFT_FAIL;
	}
	if (self->mounted)
		umount2(self->d.dir, MNT_DETACH);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s.conf", self->d.dir,
		 self->d.dir);
	if (system(cmd))
		fprintf(stderr, "# could not clean %s\n", self->d.dir);
}

/* Start the daemon with @extra settings, then make the durable topic. */
static int start_with_topic(struct __test_metadata *_metadata,
			    FIXTURE_DATA(persist) *self, const char *extra,
			    uint32_t parts, uint64_t capacity)
{
	daemon_config(&self->d, extra);
	if (daemon_start(&self->d) <= 0 || !daemon_ready(&self->d))
		return -1;
	return create_topic(self->fd, self->name, parts, capacity,
			    MQDEV_TOPIC_DURABLE);
}

/* Replicas in sync in partition 0 of @name, or -1. */
static int part_in_sync(int fd, const char *name)
{
	struct mqdev_partition_info pi;
	struct mqdev_topic_info info;

	if (mqdev_topic_describe(fd, name, &info, &pi, 1))
		return -1;
	return pi.in_sync;
}

/* The permission bits of a partition's first segment, or -1. */
static int segment_mode(const char *dir, const char *topic, uint32_t part)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s/%u/%020d.log", dir, topic, part, 0);
	return stat(path, &st) ? -1 : (int)(st.st_mode & 0777);
}

/* The permission bits of the daemon's state file @what of @topic, or -1. */
static int state_file(const char *dir, const char *topic, const char *what)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s@%s", dir, topic, what);
	return stat(path, &st) ? -1 : (int)(st.st_mode & 0777);
}

/* acks=all through the daemon: acknowledged means in a checked segment. */
TEST_F(persist, acks_all_on_disk)
{
	struct disk_scan s;
	uint64_t landed;
	int err, n;

	ASSERT_EQ(0, start_with_topic(_metadata, self, NULL, 2, 16384));
	ASSERT_TRUE(wait_in_sync(self->name, 2)) {
		log_dump(&self->d);
	}
	n = produce_n(self->name, 1, 0, 100, MQDEV_PRODUCER_ACKS_ALL, &err);
	ASSERT_EQ(0, err);
	ASSERT_EQ(100, n);
	/* acknowledged: so on disk already, whole, its CRCs right */
	s = disk_scan(self->d.dir, self->name, 1);
	EXPECT_EQ(0, s.bad);
	EXPECT_EQ(100, s.records);
	EXPECT_EQ(0, s.first);
	EXPECT_EQ(100, s.next);
	s = disk_scan(self->d.dir, self->name, 0);
	EXPECT_EQ(0, s.records);
	/* and readable back, from the ring */
	EXPECT_EQ(100, consume_check(self->name, self->d.dir, 1, 0, 100,
				     &landed, &err));
	EXPECT_EQ(0, err);
	/* the topic's files are readable as the topic is (0644: by all) */
	EXPECT_EQ(0444, segment_mode(self->d.dir, self->name, 1));
	/* its configuration is the daemon's own */
	EXPECT_EQ(0600, state_file(self->d.dir, self->name, "config"));
	/* deleting the topic deletes its files, the segments first */
	ASSERT_EQ(0, mqdev_topic_delete(self->fd, self->name));
	for (n = 0; n < 200 &&
	     state_file(self->d.dir, self->name, "config") != -1; n++)
		sleep_ms(50);
	EXPECT_EQ(-1, disk_scan(self->d.dir, self->name, 1).bad);
	EXPECT_EQ(-1, state_file(self->d.dir, self->name, "config"));
}

/* Produce @n values, value_of(@from + i), in a transaction of @s. */
static int txn_produce(struct mqdev_session *s, struct mqdev_producer *pr,
		       int from, int n, bool commit)
{
	struct mqdev_msg msgs[8];
	char vals[8][VALUE_LEN];
	int i, err;

	err = mqdev_txn_begin(s, from);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		value_of(vals[i], from + i);
		mqdev_msg_init(&msgs[i], NULL, 0, vals[i], VALUE_LEN, 0);
	}
	mqdev_producer_stamp(pr, msgs, n);
	if (mqdev_produce(pr, msgs, n) != n)
		return -EIO;
	return commit ? mqdev_txn_commit(s) : mqdev_txn_abort(s);
}

/*
 * Transactions' records are kept with their decision: committed ones
 * marked so, aborted ones as bare aborted headers; a history reader
 * delivers the committed and skips the aborted, as the ring's readers do.
 */
TEST_F(persist, txn_decisions)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts, .data_dir = self->d.dir);
	const struct mqdev_record *rec;
	struct mqdev_consumer *c;
	struct mqdev_session *se;
	struct mqdev_producer *pr;
	struct disk_scan s;
	uint64_t expect;
	int err, i;

	ASSERT_EQ(0, start_with_topic(_metadata, self, "segment_bytes = 8192",
				      1, 4096));
	ASSERT_TRUE(wait_in_sync(self->name, 1)) {
		log_dump(&self->d);
	}
	ASSERT_EQ(0, mqdev_session_new(NULL, 0, &se));
	ASSERT_EQ(0, mqdev_producer_new(self->name, NULL, &pr));
	ASSERT_EQ(0, mqdev_producer_bind(pr, se));
	ASSERT_EQ(0, txn_produce(se, pr, 0, 5, true));	/* 0..4 */
	ASSERT_EQ(0, txn_produce(se, pr, 5, 3, false));	/* 5..7 */
	ASSERT_EQ(0, txn_produce(se, pr, 8, 2, true));	/* 8..9 */
	mqdev_producer_free(pr);
	mqdev_session_free(se);
	/*
	 * Acknowledged after them: so they are on disk before it.  A replica
	 * slower than replica_lag_ms (LAG_MS here) at writing them may have
	 * fallen out of sync, and acks=all is refused until it is back.
	 */
	ASSERT_TRUE(wait_in_sync(self->name, 1)) {
		log_dump(&self->d);
	}
	ASSERT_EQ(300, produce_n(self->name, 0, 10, 300,
				 MQDEV_PRODUCER_ACKS_ALL, &err)) {
		TH_LOG("acks=all: %s", strerror(-err));
	}
	s = disk_scan(self->d.dir, self->name, 0);
	EXPECT_EQ(0, s.bad);
	EXPECT_EQ(310, s.records);
	for (i = 0; i < 10; i++)
		EXPECT_EQ(MQDEV_RECORD_TXN | (i >= 5 && i < 8 ?
					      MQDEV_RECORD_ABORTED :
					      MQDEV_RECORD_COMMITTED),
			  s.flags[i]);
	EXPECT_EQ(0, s.flags[10]);

	/* from 0, long gone from the ring: the aborted three skipped */
	ASSERT_EQ(0, mqdev_consumer_new(self->name, &opts, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_OFFSET, 0, 0, NULL));
	for (expect = 0; expect < 310; expect = expect == 4 ? 8 : expect + 1) {
		rec = next_record(c);
		ASSERT_NE(NULL, rec);
		ASSERT_EQ(expect, rec->offset);
		mqdev_consumer_release(c);
	}
	EXPECT_EQ(3, mqdev_consumer_aborted(c));
	EXPECT_EQ(0, mqdev_consumer_lost(c));
	mqdev_consumer_free(c);
}

/* 400 records acknowledged, most of them gone from the ring: on disk only. */
static void history_of_400(struct __test_metadata *_metadata,
			   FIXTURE_DATA(persist) *self)
{
	struct mqdev_partition_info pi;
	struct mqdev_topic_info info;
	int err, n;

	ASSERT_EQ(0, start_with_topic(_metadata, self,
				      "segment_bytes = 8192", 1, 4096));
	ASSERT_TRUE(wait_in_sync(self->name, 1)) {
		log_dump(&self->d);
	}
	n = produce_n(self->name, 0, 0, 400, MQDEV_PRODUCER_ACKS_ALL, &err);
	ASSERT_EQ(0, err);
	ASSERT_EQ(400, n);
	ASSERT_EQ(0, mqdev_topic_describe(self->fd, self->name, &info, &pi, 1));
	ASSERT_LT(100, pi.first_offset);	/* the ring moved on */
}

/* A consumer at an offset the ring no longer has reads it from disk. */
TEST_F(persist, history_by_offset)
{
	uint64_t landed;
	int err;

	history_of_400(_metadata, self);
	EXPECT_LT(3, disk_scan(self->d.dir, self->name, 0).segments);
	/* from 0: the disk, then the ring, every record once, in order */
	EXPECT_EQ(400, consume_check(self->name, self->d.dir, 0, 0, 400,
				     &landed, &err));
	EXPECT_EQ(0, err);
	EXPECT_EQ(0, landed);
	/* from the middle of a segment */
	EXPECT_EQ(263, consume_check(self->name, self->d.dir, 0, 137, 400,
				     &landed, &err));
	EXPECT_EQ(0, err);
	EXPECT_EQ(137, landed);
	/* mqctl consume --from earliest: from 0, through $MQDEV_DATA_DIR */
	EXPECT_EQ(400, mqctl_count(self->d.dir, self->name));
}

/*
 * History read under a TTL that every record is past: each one is skipped
 * and counted as expired, none as lost.  A run from disk is a batch (16
 * records here), so a take of many must end before a record the TTL may
 * have expired: skipping a run by its first record once lost the other 15.
 */
TEST_F(persist, history_past_its_ttl_is_expired_not_lost)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts, .data_dir = self->d.dir);
	const struct mqdev_record *recs[64];
	struct mqdev_consumer *c;

	history_of_400(_metadata, self);
	ASSERT_EQ(0, mqdev_topic_set_ttl(self->fd, self->name, 1));

	ASSERT_EQ(0, mqdev_consumer_new(self->name, &opts, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_OFFSET, 0, 0, NULL));
	EXPECT_EQ(0, mqdev_consumer_peek_batch(c, recs, 64));
	EXPECT_EQ(0, mqdev_consumer_error(c));
	EXPECT_EQ(400, mqdev_consumer_expired(c));
	EXPECT_EQ(0, mqdev_consumer_lost(c));
	mqdev_consumer_free(c);
}

/*
 * History under a TTL no record is past yet still comes in runs, not a
 * record at a time: the first take from disk is more than one record, and
 * all 400 come in order.
 */
TEST_F(persist, history_under_a_ttl_comes_in_runs)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts, .data_dir = self->d.dir);
	const struct mqdev_record *recs[64];
	const uint64_t an_hour = 3600ULL * 1000000000;
	struct mqdev_consumer *c;
	uint64_t landed;
	int err;

	history_of_400(_metadata, self);
	ASSERT_EQ(0, mqdev_topic_set_ttl(self->fd, self->name, an_hour));

	ASSERT_EQ(0, mqdev_consumer_new(self->name, &opts, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_OFFSET, 0, 0, NULL));
	EXPECT_LT(1, mqdev_consumer_peek_batch(c, recs, 64));
	EXPECT_EQ(0, recs[0]->offset);
	mqdev_consumer_free(c);
	EXPECT_EQ(400, consume_check(self->name, self->d.dir, 0, 0, 400,
				     &landed, &err));
	EXPECT_EQ(0, err);
}

/*
 * In partition 0's first segment of @topic, the first half of its first
 * batch's records and the second half of its second's stamped @back ns
 * earlier, both batches sealed again with their CRCs, as the topic's
 * owner, who owns the files, could do.  @n: the two batches' sizes.
 * Returns 0, or -1.
 */
static int disk_restamp(const char *dir, const char *topic, uint64_t back,
			uint32_t n[2])
{
	struct mqdev_record *rec;
	struct disk_batch *b;
	size_t pos = 0, rp;
	char path[512], *buf = NULL;
	uint32_t k, i;
	struct stat st;
	int fd, err = -1;

	snprintf(path, sizeof(path), "%s/%s/0/%020d.log", dir, topic, 0);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !(buf = malloc(st.st_size)) ||
	    pread(fd, buf, st.st_size, 0) != st.st_size)
		goto out;
	for (k = 0, err = 0; k < 2 && !err; k++) {
		b = (void *)(buf + pos);
		if (st.st_size - pos < sizeof(*b) ||
		    st.st_size - pos - sizeof(*b) < b->len) {
			err = -1;
			break;
		}
		n[k] = b->count;
		for (rp = 0, i = 0; rp < b->len;
		     rp += MQDEV_RECORD_SPACE(rec->len), i++) {
			rec = (void *)(buf + pos + sizeof(*b) + rp);
			/* a header within the batch, and a length that moves */
			if (b->len - rp < sizeof(*rec) ||
			    rec->len < sizeof(*rec)) {
				err = -1;
				break;
			}
			if (k ? i >= b->count / 2 : i < b->count / 2)
				rec->timestamp -= back;
		}
		b->crc = crc32c_bitwise(&b->base_offset,
					sizeof(*b) - 8 + b->len);
		pos += sizeof(*b) + b->len;
	}
	if (!err && pwrite(fd, buf, pos, 0) != (ssize_t)pos)
		err = -1;
out:
	free(buf);
	close(fd);
	return err;
}

/*
 * A TTL's cut inside a batch on disk, both ways round: under a TTL of an
 * hour, the first half of the first batch and the second half of the
 * second stamped two hours back.  In the first batch the expired lead: each
 * is skipped and counted, then the rest of it comes as one run.  In the
 * second they follow: its first half comes as a run that stops before
 * them, then they are skipped.  None is lost, none expired is handed out,
 * and the rest come in order.
 */
TEST_F(persist, history_cut_by_a_ttl_inside_a_batch)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts, .data_dir = self->d.dir);
	const uint64_t hour = 3600ULL * 1000000000;
	const struct mqdev_record *recs[64];
	uint32_t b[2], dead, next;
	struct mqdev_consumer *c;
	int got = 0, n, i;

	history_of_400(_metadata, self);
	ASSERT_EQ(0, disk_restamp(self->d.dir, self->name, 2 * hour, b));
	ASSERT_LE(2, b[0]);
	ASSERT_LE(2, b[1]);
	dead = b[0] / 2 + (b[1] - b[1] / 2);
	ASSERT_EQ(0, mqdev_topic_set_ttl(self->fd, self->name, hour));

	ASSERT_EQ(0, mqdev_consumer_new(self->name, &opts, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_OFFSET, 0, 0, NULL));
	/* the first batch's live half, the expired before it counted */
	ASSERT_EQ(b[0] - b[0] / 2, mqdev_consumer_peek_batch(c, recs, 64));
	EXPECT_EQ(b[0] / 2, recs[0]->offset);
	EXPECT_EQ(b[0] / 2, mqdev_consumer_expired(c));
	ASSERT_EQ(0, mqdev_consumer_release(c));
	/* the second's live half, alone: its expired are not yet counted */
	ASSERT_EQ(b[1] / 2, mqdev_consumer_peek_batch(c, recs, 64));
	EXPECT_EQ(b[0], recs[0]->offset);
	EXPECT_EQ(b[0] / 2, mqdev_consumer_expired(c));
	ASSERT_EQ(0, mqdev_consumer_release(c));
	/* then everything after the two batches, in order */
	next = b[0] + b[1];
	while ((n = mqdev_consumer_peek_batch(c, recs, 64)) > 0 ||
	       mqdev_consumer_wait(c, 500) > 0) {
		for (i = 0; i < n; i++)
			EXPECT_EQ(next++, recs[i]->offset);
		got += n > 0 ? n : 0;
		if (n > 0)
			ASSERT_EQ(0, mqdev_consumer_release(c));
	}
	EXPECT_EQ(0, mqdev_consumer_error(c));
	EXPECT_EQ(400, next);
	EXPECT_EQ(400 - b[0] - b[1], got);
	EXPECT_EQ(dead, mqdev_consumer_expired(c));
	EXPECT_EQ(0, mqdev_consumer_lost(c));
	mqdev_consumer_free(c);
}

/*
 * More records in history to skip than one call may (4200 expired by their
 * own expiry, then plain ones): a mapped reader and a copying one each get
 * an empty call of exactly 4096 skips, with no record of the ring passing
 * the history meanwhile, then the first plain record, every expired one
 * counted and none lost.
 */
#define HIST_EXPIRED	4200

TEST_F(persist, history_skips_are_bounded_and_keep_the_order)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts, .data_dir = self->d.dir);
	const struct mqdev_record *recs[64];
	const uint32_t flags[2] = { 0, MQDEV_CONSUMER_COPY };
	struct mqdev_consumer *c;
	int err, i, n;

	ASSERT_EQ(0, start_with_topic(_metadata, self,
				      "segment_bytes = 65536", 1, 4096));
	ASSERT_TRUE(wait_in_sync(self->name, 1)) {
		log_dump(&self->d);
	}
	ASSERT_EQ(HIST_EXPIRED, produce_n_as(self->name, 0, 0, HIST_EXPIRED,
					     MQDEV_PRODUCER_ACKS_ALL,
					     MQDEV_MSG_EXPIRES, &err));
	ASSERT_EQ(0, err);
	ASSERT_EQ(50, produce_n(self->name, 0, HIST_EXPIRED, 50,
				MQDEV_PRODUCER_ACKS_ALL, &err));
	ASSERT_EQ(0, err);

	for (i = 0; i < 2; i++) {
		opts.flags = flags[i];
		ASSERT_EQ(0, mqdev_consumer_new(self->name, &opts, &c));
		ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_OFFSET, 0, 0,
						 NULL));
		EXPECT_EQ(0, mqdev_consumer_peek_batch(c, recs, 64));
		EXPECT_EQ(0, mqdev_consumer_error(c));
		EXPECT_EQ(4096, mqdev_consumer_expired(c));
		EXPECT_EQ(1, mqdev_consumer_wait(c, 0));
		n = mqdev_consumer_peek_batch(c, recs, 64);
		ASSERT_LT(0, n);
		EXPECT_EQ(HIST_EXPIRED, recs[0]->offset);
		EXPECT_EQ(HIST_EXPIRED, mqdev_consumer_expired(c));
		EXPECT_EQ(0, mqdev_consumer_lost(c));
		mqdev_consumer_free(c);
	}
}

/*
 * Partition 0's segments of @topic from the one holding @from on removed
 * (each file whose name, its base offset, is at least @from's segment's):
 * the disk's new end, or 0.
 */
static uint64_t disk_cut(const char *dir, const char *topic, uint64_t from)
{
	uint64_t base, cut = UINT64_MAX, below = 0;
	char path[512], name[512 + 256];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s/0", dir, topic);
	d = opendir(path);
	while (d && (de = readdir(d)))		/* the segment holding @from */
		if (strstr(de->d_name, ".log") &&
		    (base = strtoull(de->d_name, NULL, 10)) <= from &&
		    base >= below)
			below = base;
	if (d)
		rewinddir(d);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9' ||
		    (base = strtoull(de->d_name, NULL, 10)) < below)
			continue;
		snprintf(name, sizeof(name), "%s/%s", path, de->d_name);
		if (!unlink(name) && base < cut)
			cut = base;
	}
	if (d)
		closedir(d);
	return cut == UINT64_MAX ? 0 : cut;
}

/*
 * The disk ends before the ring's oldest record: its newest segments are
 * gone (the topic's owner, who owns the files, removed them).  A reader
 * from 0 reads the disk, then the ring from its oldest, the records
 * between counted as lost.  It used to reopen the disk for more, find none
 * and reopen it again, inside one peek, for ever.
 */
TEST_F(persist, history_ending_before_the_ring_goes_on_from_the_ring)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts, .data_dir = self->d.dir);
	const struct mqdev_record *rec;
	struct mqdev_partition_info pi;
	struct mqdev_topic_info info;
	struct mqdev_consumer *c;
	uint64_t expect = 0, end;

	history_of_400(_metadata, self);
	ASSERT_EQ(0, daemon_stop(&self->d));
	ASSERT_EQ(0, mqdev_topic_describe(self->fd, self->name, &info, &pi, 1));
	end = disk_cut(self->d.dir, self->name, 200);
	ASSERT_LT(0, end);
	ASSERT_GT(pi.first_offset, end);	/* a gap to the ring */

	ASSERT_EQ(0, mqdev_consumer_new(self->name, &opts, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_OFFSET, 0, 0, NULL));
	while ((rec = next_record(c))) {
		if (expect == end)
			expect = pi.first_offset;
		ASSERT_EQ(expect, rec->offset);
		expect++;
		mqdev_consumer_release(c);
	}
	EXPECT_EQ(0, mqdev_consumer_error(c));
	EXPECT_EQ(400, expect);
	EXPECT_EQ(pi.first_offset - end, mqdev_consumer_lost(c));
	mqdev_consumer_free(c);
}

/*
 * A holding reader that does not read keeps nothing from the producers of
 * a durable topic once a replica is in sync: they wait for the disk only,
 * and the reader, lapped, reads what it missed from the disk, every record
 * once and in order.
 */
TEST_F(persist, a_slow_reader_does_not_stop_producers)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts, .data_dir = self->d.dir);
	const struct mqdev_record *rec;
	struct mqdev_consumer *c;
	uint64_t expect = 0;
	int err, n;

	ASSERT_EQ(0, start_with_topic(_metadata, self,
				      "segment_bytes = 8192", 1, 4096));
	ASSERT_TRUE(wait_in_sync(self->name, 1)) {
		log_dump(&self->d);
	}
	ASSERT_EQ(0, mqdev_consumer_new(self->name, &opts, &c));
	ASSERT_EQ(0, mqdev_consumer_seek(c, 0, MQDEV_SEEK_EARLIEST, 0,
					 MQDEV_SEEK_HOLD, NULL));
	/* far more than the ring, while the reader holds offset 0 */
	n = produce_n(self->name, 0, 0, 400, MQDEV_PRODUCER_ACKS_ALL, &err);
	EXPECT_EQ(0, err);
	EXPECT_EQ(400, n);
	while (expect < 400) {
		rec = mqdev_consumer_peek(c);
		if (!rec) {
			ASSERT_EQ(0, mqdev_consumer_error(c));
			ASSERT_LT(0, mqdev_consumer_wait(c, 2000));
			continue;
		}
		ASSERT_EQ(expect, rec->offset);
		expect++;
		mqdev_consumer_release(c);
	}
	EXPECT_EQ(0, mqdev_consumer_lost(c));
	mqdev_consumer_free(c);
}

/* A group whose position is older than the ring reads it from disk. */
TEST_F(persist, history_by_group)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts, .data_dir = self->d.dir);
	const struct mqdev_record *rec;
	struct mqdev_consumer *c;
	struct mqdev_nl *nl;
	uint64_t expect = 0, pos, first;
	int err;

	ASSERT_EQ(0, start_with_topic(_metadata, self, "segment_bytes = 8192\n"
				      "fsync = interval=50", 1, 4096));
	ASSERT_TRUE(wait_in_sync(self->name, 1)) {
		log_dump(&self->d);
	}
	ASSERT_EQ(300, produce_n(self->name, 0, 0, 300,
				 MQDEV_PRODUCER_ACKS_ALL, &err));
	/* a group placed at offset 10, long gone from the ring */
	ASSERT_EQ(0, mqdev_nl_open(&nl));
	ASSERT_EQ(0, mqdev_group_reset(nl, "persist-hg", self->name, 0,
				       MQDEV_SEEK_OFFSET, 10, true));
	mqdev_nl_close(nl);
	ASSERT_EQ(0, mqdev_consumer_new(self->name, &opts, &c));
	ASSERT_EQ(0, mqdev_consumer_join(c, "persist-hg", MQDEV_SEEK_LATEST));
	EXPECT_EQ(10, mqdev_consumer_position(c, 0));
	for (expect = 10; expect < 300; expect++) {
		rec = next_record(c);
		ASSERT_NE(NULL, rec);
		ASSERT_EQ(expect, rec->offset);
		mqdev_consumer_release(c);
		/* it commits as it goes, older than the ring or not */
		if (expect == 100)
			ASSERT_EQ(0, mqdev_consumer_commit(c));
	}
	EXPECT_EQ(0, mqdev_consumer_lost(c));
	mqdev_consumer_free(c);
	/* a new member resumes from the commit, from disk again */
	ASSERT_EQ(0, member_first(self->name, self->d.dir, "persist-hg", &pos,
				  &first));
	EXPECT_EQ(101, pos);
	EXPECT_EQ(101, first);
}

/* Whole old segments go, by size and by age; what is left reads back. */
TEST_F(persist, retention)
{
	char extra[256];
	struct disk_scan s;
	uint64_t landed;
	int err, n, i;

	snprintf(extra, sizeof(extra),
		 "[topic %s]\nsegment_bytes = 4096\nretention_bytes = 12288\n"
		 "fsync = os\n",
		 self->name);
	ASSERT_EQ(0, start_with_topic(_metadata, self, extra, 1, 4096));
	ASSERT_TRUE(wait_in_sync(self->name, 1)) {
		log_dump(&self->d);
	}
	n = produce_n(self->name, 0, 0, 300, MQDEV_PRODUCER_ACKS_ALL, &err);
	ASSERT_EQ(300, n) {
		TH_LOG("produce: %s", strerror(-err));
		log_dump(&self->d);
	}
	for (i = 0; i < 60; i++) {
		s = disk_scan(self->d.dir, self->name, 0);
		if (s.bytes <= 12288 + 4096)
			break;
		sleep_ms(100);
	}
	EXPECT_EQ(0, s.bad);
	EXPECT_GE(12288 + 4096, s.bytes);
	EXPECT_LT(0, s.first);
	EXPECT_EQ(300, s.next);
	/*
	 * The oldest offset kept is where reading from 0 lands.  Retention
	 * may still be trimming (the debug kernel's daemon once dropped a
	 * segment between the scan and the read): read again until the disk
	 * kept its oldest offset across one read.
	 */
	for (i = 0; i < 10; i++) {
		n = consume_check(self->name, self->d.dir, 0, 0, 300, &landed,
				  &err);
		if (disk_scan(self->d.dir, self->name, 0).first == s.first)
			break;
		s = disk_scan(self->d.dir, self->name, 0);
	}
	EXPECT_EQ(0, err);
	EXPECT_EQ(s.first, landed);
	EXPECT_EQ(300 - s.first, n);
}

/* The base offset of partition 0's segment @k of @topic, oldest first. */
static uint64_t segment_base(const char *dir, const char *topic, int k)
{
	char *names[4096];
	uint64_t base = 0;
	int n, i;

	n = segment_names(dir, topic, 0, names, 4096);
	for (i = 0; i < n; i++) {
		if (i == k)
			base = strtoull(names[i], NULL, 10);
		free(names[i]);
	}
	return base;
}

/* Set partition 0's segment of @topic from @base's mtime to @sec. */
static int segment_touch(const char *dir, const char *topic, uint64_t base,
			 time_t sec)
{
	struct timespec t[2] = { { .tv_sec = sec }, { .tv_sec = sec } };
	char path[512];

	snprintf(path, sizeof(path), "%s/%s/0/%020llu.log", dir, topic,
		 (unsigned long long)base);
	return utimensat(AT_FDCWD, path, t, 0);
}

/*
 * Retention by age reads a segment's mtime, which the topic's owner may set
 * to anything: a segment dated 1938 is old under an hour's retention (its
 * time in ms, plus the hour, once wrapped round to the far future), one
 * dated 2200 is not, and retention stops there, as it stops at any
 * segment it keeps.
 */
TEST_F(persist, retention_by_age_takes_any_mtime)
{
	struct disk_scan s;
	uint64_t second;
	char extra[256];
	int err, i;

	snprintf(extra, sizeof(extra),
		 "[topic %s]\nsegment_bytes = 4096\nretention_ms = 3600000\n"
		 "fsync = os\n", self->name);
	ASSERT_EQ(0, start_with_topic(_metadata, self, extra, 1, 4096));
	ASSERT_TRUE(wait_in_sync(self->name, 1)) {
		log_dump(&self->d);
	}
	ASSERT_EQ(300, produce_n(self->name, 0, 0, 300,
				 MQDEV_PRODUCER_ACKS_ALL, &err));
	s = disk_scan(self->d.dir, self->name, 0);
	ASSERT_EQ(0, s.first);
	ASSERT_LT(3, s.segments);
	/* the first offset left once the first segment goes */
	second = segment_base(self->d.dir, self->name, 1);
	ASSERT_LT(0, second);
	ASSERT_EQ(0, segment_touch(self->d.dir, self->name, 0, -1000000000));
	ASSERT_EQ(0, segment_touch(self->d.dir, self->name, second,
				   7258118400));	/* 2200-01-01 */
	for (i = 0; i < 150; i++) {	/* a pass each 5 s */
		s = disk_scan(self->d.dir, self->name, 0);
		if (s.first)
			break;
		sleep_ms(100);
	}
	EXPECT_EQ(second, s.first) {
		log_dump(&self->d);
	}
	EXPECT_EQ(300, s.next);
	/* and no more go in the next passes */
	sleep_ms(6000);
	EXPECT_EQ(second, disk_scan(self->d.dir, self->name, 0).first);
}

/* The daemon restarted, the module not: it resumes where the disk ends. */
TEST_F_TIMEOUT(persist, restart, 120)
{
	struct disk_scan s;
	int err, i;

	ASSERT_EQ(0, start_with_topic(_metadata, self, NULL, 1, 16384));
	ASSERT_TRUE(wait_in_sync(self->name, 1)) {
		log_dump(&self->d);
	}
	ASSERT_EQ(50, produce_n(self->name, 0, 0, 50, MQDEV_PRODUCER_ACKS_ALL,
				&err));
	ASSERT_EQ(0, daemon_stop(&self->d));
	/* with no replica in sync, acks=all is refused, acks=1 appends */
	EXPECT_EQ(0, produce_n(self->name, 0, 50, 1, MQDEV_PRODUCER_ACKS_ALL,
			       &err));
	EXPECT_EQ(-ENOLINK, err);
	ASSERT_EQ(30, produce_n(self->name, 0, 50, 30, 0, &err));
	ASSERT_GT(daemon_start(&self->d), 0);
	ASSERT_TRUE(wait_in_sync(self->name, 1)) {
		log_dump(&self->d);
	}
	s = disk_scan(self->d.dir, self->name, 0);
	EXPECT_EQ(0, s.bad);
	EXPECT_EQ(80, s.records);
	EXPECT_EQ(80, s.next);

	/* down while the ring moved on: it says loudly what was lost */
	ASSERT_EQ(0, daemon_stop(&self->d));
	ASSERT_EQ(400, produce_consumed(self->name, 80, 400));
	ASSERT_GT(daemon_start(&self->d), 0);
	ASSERT_TRUE(wait_in_sync(self->name, 1)) {
		log_dump(&self->d);
	}
	for (i = 0; i < 40 && disk_scan(self->d.dir, self->name, 0).next < 480;
	     i++)
		sleep_ms(50);
	EXPECT_TRUE(log_wait(&self->d, "were never made safe here and are lost")) {
		log_dump(&self->d);
	}
	s = disk_scan(self->d.dir, self->name, 0);
	EXPECT_EQ(0, s.bad);
	EXPECT_EQ(480, s.next);
	EXPECT_GT(480, s.records);
}

/* A torn tail and a corrupted batch are cut at start, and made good again. */
TEST_F(persist, torn_and_corrupted)
{
	char path[256];
	struct disk_scan s;
	struct stat st;
	uint64_t landed;
	int err, fd, k;
	char c;

	ASSERT_EQ(0, start_with_topic(_metadata, self, NULL, 1, 65536));
	ASSERT_TRUE(wait_in_sync(self->name, 1)) {
		log_dump(&self->d);
	}
	for (k = 0; k < 4; k++)		/* four batches or more */
		ASSERT_EQ(25, produce_n(self->name, 0, k * 25, 25,
					MQDEV_PRODUCER_ACKS_ALL, &err));
	ASSERT_EQ(0, daemon_stop(&self->d));
	snprintf(path, sizeof(path), "%s/%s/0/%020d.log", self->d.dir,
		 self->name, 0);
	ASSERT_EQ(0, stat(path, &st));
	/* a flipped byte in the last batch, and 7 bytes cut off the end */
	fd = open(path, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, pread(fd, &c, 1, st.st_size - 50));
	c ^= 0x40;
	ASSERT_EQ(1, pwrite(fd, &c, 1, st.st_size - 50));
	ASSERT_EQ(0, ftruncate(fd, st.st_size - 7));
	close(fd);
	EXPECT_LT(0, disk_scan(self->d.dir, self->name, 0).bad);
	/* the ring still has them: the daemon cuts the tail, then refills */
	ASSERT_GT(daemon_start(&self->d), 0);
	ASSERT_TRUE(wait_in_sync(self->name, 1)) {
		log_dump(&self->d);
	}
	EXPECT_TRUE(log_wait(&self->d, "cutting off a torn or corrupted tail")) {
		log_dump(&self->d);
	}
	sleep_ms(300);
	s = disk_scan(self->d.dir, self->name, 0);
	EXPECT_EQ(0, s.bad);
	EXPECT_EQ(100, s.next);
	EXPECT_EQ(100, s.records);
	EXPECT_EQ(100, consume_check(self->name, self->d.dir, 0, 0, 100,
				     &landed, &err));
	EXPECT_EQ(0, err);
}

/*
 * A hard link planted under the name of a segment the daemon is about to
 * open (the topic's owner owns its directory): root's daemon neither
 * chowns nor writes the file it points to, and goes on running.
 */
TEST_F(persist, a_planted_link_is_not_followed)
{
	char dir[256], path[300], victim[300];
	struct stat before, after;
	int fd, err;

	snprintf(dir, sizeof(dir), "%s/%s", self->d.dir, self->name);
	ASSERT_EQ(0, mkdir(dir, 0755));
	snprintf(dir, sizeof(dir), "%s/%s/0", self->d.dir, self->name);
	ASSERT_EQ(0, mkdir(dir, 0755));
	snprintf(victim, sizeof(victim), "%s.victim", self->d.dir);
	fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(6, write(fd, "secret", 6));
	close(fd);
	ASSERT_EQ(0, chown(victim, 0, 0));
	snprintf(path, sizeof(path), "%s/%020d.log", dir, 0);
	ASSERT_EQ(0, link(victim, path));
	ASSERT_EQ(0, stat(victim, &before));

	daemon_config(&self->d, "");
	ASSERT_LT(0, daemon_start(&self->d));
	ASSERT_TRUE(daemon_ready(&self->d));
	ASSERT_EQ(0, create_topic(self->fd, self->name, 1, 4096,
				  MQDEV_TOPIC_DURABLE | 0));
	/* the daemon tried, refused, and never was in sync to confirm */
	produce_n(self->name, 0, 0, 10, 0, &err);
	sleep_ms(1500);
	EXPECT_TRUE(daemon_alive(&self->d));
	ASSERT_EQ(0, stat(victim, &after));
	EXPECT_EQ(before.st_size, after.st_size);
	EXPECT_EQ(before.st_uid, after.st_uid);
	EXPECT_EQ(before.st_mode, after.st_mode);
	EXPECT_EQ(0, part_in_sync(self->fd, self->name));
	unlink(path);
	unlink(victim);
}

/* A corrupted old segment: a history reader is told, not fed garbage. */
TEST_F(persist, corrupted_history)
{
	char path[256];
	uint64_t landed;
	int err, fd, n;
	char c = 0x5a;

	ASSERT_EQ(0, start_with_topic(_metadata, self, "segment_bytes = 8192",
				      1, 4096));
	ASSERT_TRUE(wait_in_sync(self->name, 1)) {
		log_dump(&self->d);
	}
	ASSERT_EQ(300, produce_n(self->name, 0, 0, 300,
				 MQDEV_PRODUCER_ACKS_ALL, &err));
	snprintf(path, sizeof(path), "%s/%s/0/%020d.log", self->d.dir,
		 self->name, 0);
	fd = open(path, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, pwrite(fd, &c, 1, 200));
	close(fd);
	n = consume_check(self->name, self->d.dir, 0, 0, 300, &landed, &err);
	EXPECT_EQ(-EBADMSG, err);
	EXPECT_GT(300, n);
	EXPECT_TRUE(daemon_alive(&self->d));
}

/* An unwritable data dir: nothing is confirmed, the daemon says why. */
TEST_F(persist, read_only_dir)
{
	int err;

	ASSERT_EQ(0, mount("tmpfs", self->d.dir, "tmpfs", MS_RDONLY,
			   "size=1m"));
	self->mounted = true;
	ASSERT_EQ(0, start_with_topic(_metadata, self, NULL, 1, 16384));
	sleep_ms(500);
	EXPECT_EQ(0, produce_n(self->name, 0, 0, 5, MQDEV_PRODUCER_ACKS_ALL,
			       &err));
	EXPECT_EQ(-ENOLINK, err);
	EXPECT_TRUE(daemon_alive(&self->d));
	EXPECT_TRUE(log_wait(&self->d, "Read-only file system")) {
		log_dump(&self->d);
	}
	/* writable again: it replicates the topic, with what came before */
	ASSERT_EQ(0, mount(NULL, self->d.dir, NULL, MS_REMOUNT, "size=1m"));
	ASSERT_TRUE(wait_in_sync(self->name, 1)) {
		log_dump(&self->d);
	}
	EXPECT_EQ(5, produce_n(self->name, 0, 0, 5, MQDEV_PRODUCER_ACKS_ALL,
			       &err));
	EXPECT_EQ(0, err);
}

/* A full disk: what was acknowledged is on disk, the rest was refused. */
TEST_F(persist, disk_full)
{
	struct disk_scan s;
	int err, n, i;

	ASSERT_EQ(0, mount("tmpfs", self->d.dir, "tmpfs", 0, "size=64k"));
	self->mounted = true;
	ASSERT_EQ(0, start_with_topic(_metadata, self, NULL, 1, 65536));
	ASSERT_TRUE(wait_in_sync(self->name, 1)) {
		log_dump(&self->d);
	}
	n = produce_n(self->name, 0, 0, 2000, MQDEV_PRODUCER_ACKS_ALL, &err);
	EXPECT_EQ(-ENOLINK, err);
	EXPECT_GT(2000, n);
	EXPECT_TRUE(daemon_alive(&self->d));
	EXPECT_TRUE(log_wait(&self->d, "No space left on device")) {
		log_dump(&self->d);
	}
	s = disk_scan(self->d.dir, self->name, 0);
	EXPECT_EQ(0, s.bad);
	EXPECT_LE(n, s.next);		/* every acknowledged one is there */
	/* room again: it writes what it holds, and acks=all works again */
	ASSERT_EQ(0, mount(NULL, self->d.dir, NULL, MS_REMOUNT, "size=4m"));
	for (i = 0; i < 100 && !wait_in_sync(self->name, 1); i++)
		;
	EXPECT_EQ(10, produce_n(self->name, 0, 0, 10, MQDEV_PRODUCER_ACKS_ALL,
				&err));
	EXPECT_EQ(0, err);
	EXPECT_TRUE(log_wait(&self->d, "writing works again")) {
		log_dump(&self->d);
	}
}

/* A bad configuration is refused, saying where; --help says how. */
TEST_F(persist, config_errors)
{
	char line[256] = "";
	FILE *f;

	daemon_config(&self->d, "[topic x]\nfsync = sometimes");
	ASSERT_GT(daemon_start(&self->d), 0);
	EXPECT_EQ(1, daemon_exit(&self->d));
	EXPECT_TRUE(log_has(&self->d, ".conf:5: not valid"));
	daemon_config(&self->d, "colour = blue");
	ASSERT_GT(daemon_start(&self->d), 0);
	EXPECT_EQ(1, daemon_exit(&self->d));
	EXPECT_TRUE(log_has(&self->d, ".conf:4: unknown setting"));
	unlink(self->d.log);
	f = popen("mqdev-persistd --help", "r");
	ASSERT_NE(NULL, f);
	EXPECT_NE(NULL, fgets(line, sizeof(line), f));
	EXPECT_EQ(0, pclose(f));
	EXPECT_EQ(0, strncmp(line, "usage: mqdev-persistd", 21));
}

/* ---- restore across rmmod/insmod ---------------------------------------- */

static int module_unload(void)
{
	int i;

	/* handles closed by others a moment ago may still be going away */
	for (i = 0; i < 50; i++) {
		if (!syscall(SYS_delete_module, "mqdev", O_NONBLOCK))
			return 0;
		sleep_ms(100);
	}
	return -errno;
}

/*
 * Stop the daemon cleanly, load the module again, start the daemon: 0, or
 * the step that failed (1 to 4).
 */
/*
 * Write @topic's config with a TTL past MQDEV_TTL_MAX, as a hand edit or
 * a bad disk could leave it: the topic must still come back.
 */
static int config_bad_ttl(const char *dir, const char *topic)
{
	char path[PATH_MAX], text[512], *at;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s@config", dir, topic);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	at = strstr(text, "ttl_ns ");
	if (!at)
		return -EINVAL;
	snprintf(at, sizeof(text) - (at - text), "ttl_ns %llu\n",
		 (unsigned long long)MQDEV_TTL_MAX + 1);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) ? -errno : 0;
}

static int reload_module_bad_ttl(FIXTURE_DATA(persist) *self, bool bad_ttl)
{
	if (daemon_stop(&self->d))
		return 1;
	close(self->fd);
	self->fd = -1;
	if (bad_ttl && config_bad_ttl(self->d.dir, self->name))
		return 5;
	if (module_unload() || module_load())
		return 2;
	self->fd = mqdev_open();
	if (self->fd < 0 || set_param("replica_lag_ms", LAG_MS))
		return 3;
	return daemon_start(&self->d) > 0 ? 0 : 4;
}

static int reload_module(FIXTURE_DATA(persist) *self)
{
	return reload_module_bad_ttl(self, false);
}

/*
 * The topic is back after the reload: the daemon restored it.  A restore
 * replays the topic's state from disk, which on the debug kernel under
 * TCG has taken more than 5 s: 30 s before giving up.
 */
static bool topic_back(int fd, const char *name)
{
	struct mqdev_topic_info info;
	int i;

	for (i = 0; i < 600 && mqdev_topic_describe(fd, name, &info, NULL, 0);
	     i++)
		sleep_ms(50);
	return !mqdev_topic_describe(fd, name, &info, NULL, 0);
}

/*
 * Produce with acks=all as a named idempotent producer, commit a group,
 * reload the module, restart the daemon: the topic is back with its
 * offsets, the group where it committed, the producer's resend answered
 * as a duplicate, and the history readable.
 */
TEST_F_TIMEOUT(persist, restore_after_reload, 120)
{
	LIBMQDEV_OPTS(mqdev_producer_opts, popts,
		      .flags = MQDEV_PRODUCER_ACKS_ALL);
	LIBMQDEV_OPTS(mqdev_consumer_opts, copts, .data_dir = self->d.dir);
	struct mqdev_partition_info pi[2];
	struct mqdev_topic_info info;
	struct mqdev_producer *pr;
	struct mqdev_session *se;
	struct mqdev_consumer *c;
	struct mqdev_msg msgs[20];
	char vals[20][VALUE_LEN], sname[40];
	const struct mqdev_record *rec;
	uint64_t offsets[20], landed, pos, first, ttl = 1;
	int err, i;

	if (!getenv("MQDEV_KO"))
		SKIP(return, "MQDEV_KO is not set: not in the test VM");
	snprintf(sname, sizeof(sname), "persist-idem-%d", getpid());
	ASSERT_EQ(0, start_with_topic(_metadata, self, NULL, 2, 16384));
	ASSERT_TRUE(wait_in_sync(self->name, 2)) {
		log_dump(&self->d);
	}
	ASSERT_EQ(0, mqdev_session_new(sname, 0, &se));
	ASSERT_EQ(0, mqdev_producer_new(self->name, &popts, &pr));
	ASSERT_EQ(0, mqdev_producer_bind(pr, se));
	for (i = 0; i < 20; i++) {
		value_of(vals[i], i / 2);	/* at offset i / 2 */
		mqdev_msg_init(&msgs[i], NULL, 0, vals[i], VALUE_LEN, i % 2);
	}
	mqdev_producer_stamp(pr, msgs, 20);
	ASSERT_EQ(20, mqdev_produce(pr, msgs, 20));
	for (i = 0; i < 20; i++)
		offsets[i] = msgs[i].offset;
	mqdev_producer_free(pr);
	mqdev_session_free(se);

	/* a group reads partition 0's first 4 and commits them */
	ASSERT_EQ(0, mqdev_consumer_new(self->name, NULL, &c));
	ASSERT_EQ(0, mqdev_consumer_join(c, "persist-g", MQDEV_SEEK_EARLIEST));
	for (i = 0; i < 4 && mqdev_consumer_wait(c, 1000) > 0;) {
		rec = mqdev_consumer_peek(c);
		if (!rec)
			continue;
		if (rec->partition == 0)
			i++;
		else
			break;
		mqdev_consumer_release(c);
	}
	/* on a durable topic it returns once the daemon kept the offsets */
	ASSERT_EQ(0, mqdev_consumer_commit(c));
	mqdev_consumer_free(c);

	/* a TTL past the limit in its config costs the TTL, not the topic */
	ASSERT_EQ(0, reload_module_bad_ttl(self, true));
	ASSERT_TRUE(topic_back(self->fd, self->name)) {
		log_dump(&self->d);
	}
	ASSERT_EQ(0, mqdev_topic_describe(self->fd, self->name, &info, pi, 2));
	EXPECT_EQ(2, info.partitions);
	EXPECT_EQ(10, pi[0].next_offset);
	EXPECT_EQ(10, pi[1].next_offset);
	ASSERT_TRUE(wait_in_sync(self->name, 2)) {
		log_dump(&self->d);
	}
	EXPECT_EQ(0, mqdev_topic_get_ttl(self->fd, self->name, &ttl));
	EXPECT_EQ(0, ttl);
	EXPECT_TRUE(log_has(&self->d, "restored without a TTL"));

	/* the producer's resend is a duplicate, at the same offsets */
	ASSERT_EQ(0, mqdev_session_new(sname, 0, &se));
	ASSERT_EQ(0, mqdev_producer_new(self->name, &popts, &pr));
	ASSERT_EQ(0, mqdev_producer_bind(pr, se));
	ASSERT_EQ(20, mqdev_produce(pr, msgs, 20));
	for (i = 0; i < 20; i++) {
		EXPECT_TRUE(msgs[i].status & MQDEV_MSG_DUPLICATE);
		EXPECT_EQ(offsets[i], msgs[i].offset);
	}
	mqdev_producer_free(pr);
	mqdev_session_free(se);

	/* the group resumes where it committed, reading history from disk */
	ASSERT_EQ(0, member_first(self->name, self->d.dir, "persist-g", &pos,
				  &first));
	EXPECT_EQ(4, pos);
	EXPECT_EQ(4, first);
	/* by offset: all of partition 1 from disk */
	EXPECT_EQ(10, consume_check(self->name, self->d.dir, 1, 0, 10, &landed,
				    &err));
	EXPECT_EQ(0, err);
}

/* ---- scheduled messages and the TTL across rmmod/insmod ------------------ */

#define SCHED_N		6
#define SCHED_CANCELLED	2
#define SCHED_EARLY	SCHED_N		/* the one due before the restart */
/*
 * The first due time, this far after the plan is made: past the early
 * one's append, the reload and the restore (topic_back() waits 30 s for
 * it), with SCHED_MARGIN_NS to spare for the checks that need every one
 * still scheduled.  The early one is due a second after the plan.
 */
#define SCHED_AHEAD_NS	45000000000ULL
#define SCHED_MARGIN_NS	5000000000ULL

struct sched_payload {
	uint64_t due;
	uint32_t n;
	uint32_t pad;
};

struct sched_plan {
	const char *name;
	uint64_t base;			/* the first due time */
	uint64_t ids[SCHED_N + 1];	/* filled in by the scheduler */
};

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t sched_due_of(const struct sched_plan *pl, uint32_t n)
{
	return n == SCHED_EARLY ? pl->base - SCHED_AHEAD_NS + 1000000000ULL :
	       pl->base + n * 500000000ULL;
}

/* As a user: schedule message @n of the plan into partition n % 2. */
static int sched_plan_one(int fd, struct sched_plan *pl, uint32_t n)
{
	struct sched_payload v = { .due = sched_due_of(pl, n), .n = n };
	struct mqdev_schedule req = { .at = v.due };
	int err;

	mqdev_msg_init(&req.msg, NULL, 0, &v, sizeof(v), n % 2);
	err = xioctl(fd, MQDEV_IOC_SCHEDULE, &req);
	pl->ids[n] = req.id;
	return err;
}

static int sched_plan_run(void *arg)
{
	struct sched_plan *pl = arg;
	int fd = attach(pl->name, MQDEV_ATTACH_PRODUCE, NULL), err = 0;
	uint32_t n;

	if (fd < 0)
		return 100;
	for (n = 0; n <= SCHED_N && !err; n++)
		err = sched_plan_one(fd, pl, n);
	close(fd);
	return -err;
}

/* One more, due in a minute: its -errno as an exit status. */
static int sched_one_more(void *name)
{
	struct mqdev_schedule req = { .at = 60000000000LL,
				      .flags = MQDEV_SCHED_RELATIVE };
	int fd = attach(name, MQDEV_ATTACH_PRODUCE, NULL), err;

	if (fd < 0)
		return 100;
	mqdev_msg_init(&req.msg, NULL, 0, "x", 1, 0);
	err = xioctl(fd, MQDEV_IOC_SCHEDULE, &req);
	close(fd);
	return -err;
}

/* The topic's scheduled messages now; their uid and ids into @infos. */
static int sched_now(const char *name, struct mqdev_sched_info *infos,
		     uint32_t room)
{
	int fd = attach(name, MQDEV_ATTACH_CONSUME, NULL), err;
	struct mqdev_sched_list l = {
		.entries = (uintptr_t)infos, .count = room,
		.entry_size = sizeof(*infos),
	};

	if (fd < 0)
		return fd;
	err = xioctl(fd, MQDEV_IOC_SCHED_LIST, &l);
	close(fd);
	return err ? err : (int)l.scheduled;
}

/*
 * Every record of partition @part, history from disk included: how many
 * times each message of the plan came (@seen), and whether each came at
 * or after its due time and after the one before it.
 */
static int sched_read_part(const char *name, const char *dir, uint32_t part,
			   int *seen, bool *in_order)
{
	LIBMQDEV_OPTS(mqdev_consumer_opts, opts, .data_dir = dir);
	const struct mqdev_record *rec;
	struct sched_payload v;
	struct mqdev_consumer *c;
	uint64_t landed, last = 0;
	int err;

	err = mqdev_consumer_new(name, &opts, &c);
	if (err)
		return err;
	err = mqdev_consumer_seek(c, part, MQDEV_SEEK_OFFSET, 0, 0, &landed);
	while (!err) {
		rec = mqdev_consumer_peek(c);
		if (!rec) {
			err = mqdev_consumer_error(c);
			if (err || mqdev_consumer_wait(c, 1000) <= 0)
				break;
			continue;
		}
		memcpy(&v, mqdev_record_value(rec), sizeof(v));
		if (rec->partition == part && v.n <= SCHED_N) {
			seen[v.n]++;
			if (rec->timestamp < v.due || v.due < last)
				*in_order = false;
			last = v.due;
		}
		mqdev_consumer_release(c);
	}
	mqdev_consumer_free(c);
	return err;
}

/*
 * Messages scheduled by a user on a durable topic, one cancelled, one due
 * (and appended) before the restart; the daemon stopped cleanly, the
 * module reloaded, the daemon restores: every one still scheduled comes
 * back with its id, is charged to its user again and is appended at its
 * due time, in order, once; the cancelled one never, the early one not a
 * second time; the topic's TTL is back.
 */
TEST_F_TIMEOUT(persist, scheduled_messages_survive_a_reload, 120)
{
	LIBMQDEV_OPTS(mqdev_topic_opts, topts, .partitions = 2,
		      .capacity = 65536, .flags = MQDEV_TOPIC_DURABLE,
		      .mode = 0666);
	struct mqdev_sched_info infos[SCHED_N + 2];
	struct mqdev_sched_cancel cancel = {};
	struct sched_plan *pl;
	unsigned long was = get_param("max_user_scheduled");
	uint64_t ttl = 0;
	int seen[SCHED_N + 1] = {}, i, p;
	bool in_order = true;

	if (!getenv("MQDEV_KO"))
		SKIP(return, "MQDEV_KO is not set: not in the test VM");
	pl = mmap(NULL, sizeof(*pl), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, pl);
	daemon_config(&self->d, NULL);
	ASSERT_GT(daemon_start(&self->d), 0);
	ASSERT_TRUE(daemon_ready(&self->d));
	ASSERT_EQ(0, mqdev_topic_create(self->fd, self->name, &topts));
	ASSERT_TRUE(wait_in_sync(self->name, 2)) {
		log_dump(&self->d);
	}
	/* returns once the daemon kept it, as a commit does */
	ASSERT_EQ(0, mqdev_topic_set_ttl(self->fd, self->name,
					 3600000000000ULL));

	pl->name = self->name;
	pl->base = wall_ns() + SCHED_AHEAD_NS;
	ASSERT_EQ(0, as_user(USER_UID, sched_plan_run, pl));
	p = attach(self->name, MQDEV_ATTACH_PRODUCE, NULL);
	ASSERT_LE(0, p);
	cancel.id = pl->ids[SCHED_CANCELLED];
	ASSERT_EQ(0, xioctl(p, MQDEV_IOC_SCHED_CANCEL, &cancel));
	close(p);
	/* the early one is appended and dropped from what the daemon keeps */
	for (i = 0; i < 200 && sched_now(self->name, NULL, 0) != SCHED_N - 1;
	     i++)
		sleep_ms(50);
	ASSERT_EQ(SCHED_N - 1, sched_now(self->name, NULL, 0));

	ASSERT_EQ(0, reload_module(self));
	ASSERT_TRUE(topic_back(self->fd, self->name)) {
		log_dump(&self->d);
	}
	ASSERT_LT(wall_ns() + SCHED_MARGIN_NS, pl->base) {
		TH_LOG("the restart took until the first due time");
	}

	EXPECT_EQ(0, mqdev_topic_get_ttl(self->fd, self->name, &ttl));
	EXPECT_EQ(3600000000000ULL, ttl);
	ASSERT_EQ(SCHED_N - 1, sched_now(self->name, infos, SCHED_N + 2)) {
		log_dump(&self->d);
	}
	for (i = 0, p = 0; i < SCHED_N - 1; i++, p++) {
		if (p == SCHED_CANCELLED)
			p++;
		EXPECT_EQ(pl->ids[p], infos[i].id);
		EXPECT_EQ(USER_UID, infos[i].uid);
		EXPECT_EQ(sched_due_of(pl, p), infos[i].due);
	}
	/* charged to their user again: with room for them, no more */
	ASSERT_EQ(0, set_param("max_user_scheduled", SCHED_N - 1));
	EXPECT_EQ(EDQUOT, as_user(USER_UID, sched_one_more, self->name));
	set_param("max_user_scheduled", was);

	/* all due, and appended */
	while (wall_ns() < sched_due_of(pl, SCHED_N - 1) + 1000000000ULL)
		sleep_ms(100);
	for (i = 0; i < 100 && sched_now(self->name, NULL, 0); i++)
		sleep_ms(50);
	EXPECT_EQ(0, sched_now(self->name, NULL, 0));
	for (p = 0; p < 2; p++)
		EXPECT_EQ(0, sched_read_part(self->name, self->d.dir, p, seen,
					     &in_order));
	for (i = 0; i <= SCHED_N; i++) {
		if (seen[i] != (i == SCHED_CANCELLED ? 0 : 1))
			TH_LOG("message %d came %d times", i, seen[i]);
		EXPECT_EQ(i == SCHED_CANCELLED ? 0 : 1, seen[i]);
	}
	EXPECT_TRUE(in_order);
	munmap(pl, sizeof(*pl));
}

TEST_HARNESS_MAIN
