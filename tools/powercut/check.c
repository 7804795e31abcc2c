// SPDX-License-Identifier: GPL-2.0
/*
 * pccheck: the power-cut test's invariant checker, run on the host after a
 * round (tools/powercut/run), as mqtorture's checker is after its run.
 *
 *   pccheck LOGDIR DUMP
 *
 * LOGDIR holds what the guest's producers and consumers wrote before the
 * power went (pcload load: producer-N, consumer-N), DUMP what the topic
 * served after the restore (pcload dump).  A line cut short by the power cut
 * (no newline) was never written as far as anyone knew, and is left out.
 * Checked:
 *
 *   1. no torn record is served, and each partition's records run on from
 *      its first offset without a hole;
 *   2. every record acknowledged with acks=all is there, exactly once, at
 *      the offset it was acknowledged with;
 *   3. every record a consumer was given is there, at the same offset (no
 *      consumer saw a record the power cut took back), and none was torn;
 *   4. the group's committed offsets did not go back: each partition's is
 *      at least the highest one whose commit returned, and not past its
 *      high watermark; nor did one member's commits go back in its own log;
 *   5. each producer's records are in order in each partition.
 *
 * Prints what it checked; exits 1 at the end if any check failed, 2 on bad
 * input.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARTS		64
#define PRODUCERS	64
#define REPORT_MAX	10	/* failures told of each kind */

struct slot {
	uint32_t producer;
	uint32_t n;
	bool present;
};

/* What the dump says of one partition. */
struct part {
	struct slot *slot;	/* by offset */
	uint64_t size;		/* room in slot */
	uint64_t first, end;	/* offsets served: [first, end) */
	bool any;
	bool has_group, has_hw;
	uint64_t group;		/* committed offset after the restore */
	uint64_t hw;
	uint64_t committed;	/* the highest commit that returned */
	bool committed_any;
};

static struct part parts[PARTS];
static int failures;
static unsigned long told[8];

static void fail(int kind, const char *fmt, ...)
{
	va_list ap;

	failures++;
	if (told[kind]++ >= REPORT_MAX)
		return;
	va_start(ap, fmt);
	printf("pccheck: FAIL: ");
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "pccheck: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static struct slot *slot_at(struct part *p, uint64_t off)
{
	uint64_t size;

	if (off >= p->size) {
		size = p->size ? p->size : 1024;
		while (size <= off)
			size *= 2;
		p->slot = realloc(p->slot, size * sizeof(*p->slot));
		if (!p->slot)
			die("no memory");
		memset(p->slot + p->size, 0, (size - p->size) * sizeof(*p->slot));
		p->size = size;
	}
	return &p->slot[off];
}

static struct part *part_of(unsigned int part, const char *where)
{
	if (part >= PARTS)
		die("%s: partition %u", where, part);
	return &parts[part];
}

/*
 * Each whole line of @path to @fn; a last line without its newline was cut
 * by the power and is not.  Returns the lines handed on.
 */
static unsigned long each_line(const char *path,
			       void (*fn)(const char *line, const char *path,
					  void *ctx), void *ctx)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned long lines = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		die("%s: %s", path, strerror(errno));
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] != '\n')
			break;
		fn(line, path, ctx);
		lines++;
	}
	free(line);
	fclose(f);
	return lines;
}

static unsigned long served, torn_served;

static void dump_line(const char *line, const char *path, void *ctx)
{
	unsigned int part, producer, n;
	uint64_t off;
	struct part *p;
	struct slot *s;

	if (sscanf(line, "R %u %" SCNu64 " %u %u", &part, &off, &producer,
		   &n) == 4) {
		p = part_of(part, path);
		if (p->any && off != p->end)
			fail(0, "partition %u: offset %" PRIu64 " served after %"
			     PRIu64 " (a hole, or out of order)", part, off,
			     p->end - 1);
		if (!p->any)
			p->first = off;
		p->any = true;
		p->end = off + 1;
		s = slot_at(p, off);
		*s = (struct slot){ producer, n, true };
		served++;
	} else if (sscanf(line, "T %u %" SCNu64, &part, &off) == 2) {
		fail(0, "partition %u: a torn record served at offset %" PRIu64,
		     part, off);
		p = part_of(part, path);
		if (!p->any)
			p->first = off;
		p->any = true;
		p->end = off + 1;
		torn_served++;
	} else if (sscanf(line, "G %u %" SCNu64, &part, &off) == 2) {
		p = part_of(part, path);
		p->has_group = true;
		p->group = off;
	} else if (sscanf(line, "H %u %" SCNu64, &part, &off) == 2) {
		p = part_of(part, path);
		p->has_hw = true;
		p->hw = off;
	} else {
		die("%s: cannot read: %s", path, line);
	}
}

/* The record the dump has at @off of @part, or NULL. */
static struct slot *served_at(unsigned int part, uint64_t off)
{
	struct part *p = &parts[part];

	if (!p->any || off < p->first || off >= p->end || off >= p->size ||
	    !p->slot[off].present)
		return NULL;
	return &p->slot[off];
}

static unsigned long acked, seen, commits;

/* How many acknowledgements name each (producer, n), to find doubles. */
static uint8_t *ack_count[PRODUCERS];
static uint32_t ack_room[PRODUCERS];

static void count_ack(uint32_t producer, uint32_t n)
{
	uint32_t room = ack_room[producer];

	if (n >= room) {
		while (room <= n)
			room = room ? room * 2 : 4096;
		ack_count[producer] = realloc(ack_count[producer], room);
		if (!ack_count[producer])
			die("no memory");
		memset(ack_count[producer] + ack_room[producer], 0,
		       room - ack_room[producer]);
		ack_room[producer] = room;
	}
	if (ack_count[producer][n] < 255)
		ack_count[producer][n]++;
}

static void log_line(const char *line, const char *path, void *ctx)
{
	uint64_t *last_commit = ctx;
	unsigned int part, producer, n;
	struct slot *s;
	uint64_t off;
	char kind;

	if (sscanf(line, "%c %u %" SCNu64 " %u %u", &kind, &part, &off,
		   &producer, &n) == 5 && (kind == 'A' || kind == 'S')) {
		part_of(part, path);
		if (producer >= PRODUCERS)
			die("%s: producer %u", path, producer);
		s = served_at(part, off);
		if (kind == 'A') {
			acked++;
			count_ack(producer, n);
		} else {
			seen++;
		}
		if (!s)
			fail(kind == 'A' ? 1 : 2,
			     "%s: partition %u offset %" PRIu64 " (producer %u,"
			     " record %u) %s, is gone", path, part, off,
			     producer, n,
			     kind == 'A' ? "was acknowledged" : "was consumed");
		else if (s->producer != producer || s->n != n)
			fail(kind == 'A' ? 1 : 2,
			     "%s: partition %u offset %" PRIu64 " is producer"
			     " %u's record %u, not %u's %u as %s", path, part,
			     off, s->producer, s->n, producer, n,
			     kind == 'A' ? "acknowledged" : "consumed");
	} else if (sscanf(line, "T %u %" SCNu64, &part, &off) == 2) {
		fail(2, "%s: a consumer was given a torn record at partition"
		     " %u offset %" PRIu64, path, part, off);
	} else if (sscanf(line, "C %u %" SCNu64, &part, &off) == 2) {
		struct part *p = part_of(part, path);

		commits++;
		if (off < last_commit[part])
			fail(3, "%s: partition %u: commit %" PRIu64 " after %"
			     PRIu64 " (went back)", path, part, off,
			     last_commit[part]);
		last_commit[part] = off;
		if (!p->committed_any || off > p->committed)
			p->committed = off;
		p->committed_any = true;
	} else {
		die("%s: cannot read: %s", path, line);
	}
}

static void read_logs(const char *dir)
{
	uint64_t last_commit[PARTS];
	struct dirent *de;
	char path[4096];
	DIR *d = opendir(dir);
	int files = 0;

	if (!d)
		die("%s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "producer-", 9) &&
		    strncmp(de->d_name, "consumer-", 9))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		memset(last_commit, 0, sizeof(last_commit));
		each_line(path, log_line, last_commit);
		files++;
	}
	closedir(d);
	if (!files)
		die("%s: no producer or consumer logs", dir);
}

/* 2: each record acknowledged once is served once; 5: in order. */
static void check_once(void)
{
	uint32_t *last_n = calloc(PARTS * PRODUCERS, sizeof(*last_n));
	uint8_t *times;
	unsigned int part, pr;
	uint64_t off;
	struct slot *s;

	if (!last_n)
		die("no memory");
	for (pr = 0; pr < PRODUCERS; pr++) {
		times = calloc(ack_room[pr] ? ack_room[pr] : 1, 1);
		if (!times)
			die("no memory");
		for (part = 0; part < PARTS; part++)
			for (off = parts[part].first; off < parts[part].end;
			     off++) {
				s = served_at(part, off);
				if (!s || s->producer != pr)
					continue;
				if (s->n < ack_room[pr] && times[s->n] < 255)
					times[s->n]++;
				if (last_n[part * PRODUCERS + pr] > s->n)
					fail(5, "partition %u: producer %u's"
					     " record %u after its %u", part,
					     pr, s->n,
					     last_n[part * PRODUCERS + pr] - 1);
				last_n[part * PRODUCERS + pr] = s->n + 1;
			}
		for (off = 0; off < ack_room[pr]; off++)
			if (ack_count[pr][off] && times[off] != 1)
				fail(1, "producer %u's record %" PRIu64
				     " (acknowledged) is served %u times", pr,
				     off, times[off]);
		free(times);
	}
	free(last_n);
}

/* 4: committed offsets after the restore. */
static void check_commits(void)
{
	unsigned int part;
	struct part *p;

	for (part = 0; part < PARTS; part++) {
		p = &parts[part];
		if (p->committed_any && (!p->has_group || p->group < p->committed))
			fail(3, "partition %u: the group's offset is %s%" PRIu64
			     " after the restore, but a commit of %" PRIu64
			     " had returned", part,
			     p->has_group ? "" : "gone, not ",
			     p->has_group ? p->group : 0, p->committed);
		if (p->has_group && p->has_hw && p->group > p->hw)
			fail(3, "partition %u: the group's offset %" PRIu64
			     " is past the high watermark %" PRIu64, part,
			     p->group, p->hw);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: pccheck LOGDIR DUMP\n");
		return 2;
	}
	each_line(argv[2], dump_line, NULL);
	read_logs(argv[1]);
	check_once();
	check_commits();
	printf("pccheck: %lu records served (%lu torn), %lu acknowledged, "
	       "%lu consumed, %lu commits: %s\n", served, torn_served, acked,
	       seen, commits, failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
