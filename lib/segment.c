// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The segment files of a durable topic's partition (see segment.h): the
 * format's one home, used by mqdev-persistd to write and restore and by
 * libmqdev to read history older than the ring.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "segment.h"

/* The reflected Castagnoli polynomial, 0x1EDC6F41 bit-reversed. */
#define CRC32C_POLY	0x82f63b78U

static uint32_t crc32c_table[8][256];

/*
 * Eight tables, "slicing by 8": table[k][b] is the CRC of byte b followed
 * by k zero bytes, so that eight input bytes take eight look-ups.
 */
static void crc32c_init(void)
{
	uint32_t c;
	int i, j, k;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = (c >> 1) ^ (c & 1 ? CRC32C_POLY : 0);
		crc32c_table[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 8; k++)
			crc32c_table[k][i] = (crc32c_table[k - 1][i] >> 8) ^
				crc32c_table[0][crc32c_table[k - 1][i] & 0xff];
}

uint32_t mqseg_crc32c(uint32_t crc, const void *buf, size_t len)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const unsigned char *p = buf;
	uint64_t w;

	pthread_once(&once, crc32c_init);
	crc = ~crc;
	for (; len >= 8; len -= 8, p += 8) {
		memcpy(&w, p, 8);
		w ^= crc;	/* little-endian: the CRC meets the first bytes */
		crc = crc32c_table[7][w & 0xff] ^
		      crc32c_table[6][(w >> 8) & 0xff] ^
		      crc32c_table[5][(w >> 16) & 0xff] ^
		      crc32c_table[4][(w >> 24) & 0xff] ^
		      crc32c_table[3][(w >> 32) & 0xff] ^
		      crc32c_table[2][(w >> 40) & 0xff] ^
		      crc32c_table[1][(w >> 48) & 0xff] ^
		      crc32c_table[0][w >> 56];
	}
	while (len--)
		crc = (crc >> 8) ^ crc32c_table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

static uint32_t batch_crc(const struct mqseg_batch *b)
{
	size_t skip = offsetof(struct mqseg_batch, base_offset);

	return mqseg_crc32c(0, (const char *)b + skip,
			    sizeof(*b) - skip + b->len);
}

void mqseg_batch_seal(struct mqseg_batch *b)
{
	b->magic = MQSEG_MAGIC;
	b->crc = batch_crc(b);
}

/* The records add up to @b->len, with offsets from @b->base_offset on. */
static bool batch_records_sane(const struct mqseg_batch *b)
{
	const char *recs = (const char *)(b + 1);
	const struct mqdev_record *rec;
	uint32_t pos = 0, n = 0;

	while (pos < b->len) {
		if (b->len - pos < sizeof(*rec))
			return false;
		rec = (const void *)(recs + pos);
		if (rec->len < sizeof(*rec) || rec->len > b->len - pos ||
		    rec->key_len > rec->len - sizeof(*rec) ||
		    rec->offset != b->base_offset + n)
			return false;
		pos += MQDEV_RECORD_SPACE(rec->len);
		n++;
	}
	return pos == b->len && n == b->count && n;
}

bool mqseg_batch_check(const struct mqseg_batch *b)
{
	return b->magic == MQSEG_MAGIC && b->len <= MQSEG_BATCH_MAX &&
	       b->crc == batch_crc(b) && batch_records_sane(b);
}

void mqseg_name(char *buf, uint64_t base, const char *ext)
{
	snprintf(buf, MQSEG_NAME_LEN, "%020" PRIu64 ".%s", base, ext);
}

/* @name is BASE.log: its base, or -1. */
static int64_t segment_base(const char *name)
{
	char *end;
	uint64_t base;

	if (strlen(name) != 24 || strcmp(name + 20, ".log"))
		return -1;
	errno = 0;
	base = strtoull(name, &end, 10);
	if (errno || end != name + 20 || base > INT64_MAX)
		return -1;
	return base;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int mqseg_list(int dirfd, uint64_t **bases)
{
	uint64_t *v = NULL, *nv;
	size_t n = 0, room = 0;
	struct dirent *de;
	int64_t base;
	DIR *d;
	int fd;

	fd = dup(dirfd);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		base = segment_base(de->d_name);
		if (base < 0)
			continue;
		if (n == room) {
			room = room ? room * 2 : 16;
			nv = realloc(v, room * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = base;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_u64);
	*bases = v;
	return n;
}

/* Read exactly @len at @pos: 1, 0 when the file ends first, or -errno. */
static int read_at(int fd, void *buf, size_t len, uint64_t pos)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(fd, (char *)buf + done, len - done, pos + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return 0;
		done += n;
	}
	return 1;
}

/* Make room for a batch of @len bytes of records. */
static int buf_fit(char **buf, uint32_t *size, uint32_t len)
{
	uint32_t want = sizeof(struct mqseg_batch) + len;
	char *nb;

	if (want <= *size)
		return 0;
	nb = realloc(*buf, want);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*size = want;
	return 0;
}

/*
 * The batch at @pos into *@buf: 1 when whole and intact, 0 when short or
 * bad (the end of the valid log), or -errno.
 */
static int batch_load(int fd, uint64_t pos, char **buf, uint32_t *size)
{
	struct mqseg_batch h;
	int ret;

	ret = read_at(fd, &h, sizeof(h), pos);
	if (ret <= 0)
		return ret;
	if (h.magic != MQSEG_MAGIC || !h.len || h.len > MQSEG_BATCH_MAX)
		return 0;
	ret = buf_fit(buf, size, h.len);
	if (ret)
		return ret;
	memcpy(*buf, &h, sizeof(h));
	ret = read_at(fd, *buf + sizeof(h), h.len, pos + sizeof(h));
	if (ret <= 0)
		return ret;
	return mqseg_batch_check((const void *)*buf);
}

static void scan_records(const struct mqseg_batch *b, mqseg_record_fn fn,
			 void *ctx)
{
	const char *recs = (const char *)(b + 1);
	const struct mqdev_record *rec;
	uint32_t pos;

	for (pos = 0; pos < b->len; pos += MQDEV_RECORD_SPACE(rec->len)) {
		rec = (const void *)(recs + pos);
		fn(ctx, rec);
	}
}

int mqseg_scan(int fd, uint64_t base, mqseg_record_fn fn, void *ctx,
	       struct mqseg_scan *out)
{
	const struct mqseg_batch *b;
	uint32_t size = 0;
	char *buf = NULL;
	struct stat st;
	int ret;

	memset(out, 0, sizeof(*out));
	out->next_offset = base;
	if (fstat(fd, &st))
		return -errno;
	out->size = st.st_size;
	while ((ret = batch_load(fd, out->valid, &buf, &size)) > 0) {
		b = (const void *)buf;
		/* offsets only rise; a gap is records the replica never had */
		if (b->base_offset < out->next_offset)
			break;
		if (fn)
			scan_records(b, fn, ctx);
		out->valid += sizeof(*b) + b->len;
		out->next_offset = b->base_offset + b->count;
		if (b->max_timestamp > out->max_timestamp)
			out->max_timestamp = b->max_timestamp;
		out->batches++;
	}
	free(buf);
	return ret < 0 ? ret : 0;
}

/*
 * Where in segment @fd (base @base) to start looking for @offset: the
 * position of the last indexed batch at or before it, from BASE.index.
 */
/*
 * A file of a topic's directory, to read: its owner owns the directory, so
 * no link is followed and nothing but a regular file is taken (a FIFO
 * planted there would block the reader in open(2)).  The fd, or -errno.
 */
static int mqseg_open_file(int dirfd, const char *name, struct stat *st)
{
	int fd = openat(dirfd, name,
			O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, st) || !S_ISREG(st->st_mode)) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

static uint64_t index_lookup(int dirfd, uint64_t base, uint64_t offset)
{
	struct mqseg_index e;
	char name[MQSEG_NAME_LEN];
	uint64_t lo = 0, hi, mid, found = 0;
	struct stat st;
	int fd;

	mqseg_name(name, base, "index");
	fd = mqseg_open_file(dirfd, name, &st);
	if (fd < 0)
		return 0;
	hi = st.st_size / sizeof(e);
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (read_at(fd, &e, sizeof(e), mid * sizeof(e)) <= 0)
			break;
		if (base + e.rel_offset <= offset) {
			found = e.pos;
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	close(fd);
	return found;
}

static int reader_open_segment(struct mqseg_reader *r, uint64_t base)
{
	char name[MQSEG_NAME_LEN];
	struct stat st;
	int fd;

	mqseg_name(name, base, "log");
	fd = mqseg_open_file(r->dirfd, name, &st);
	if (fd < 0)
		return fd;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = fd;
	r->base = base;
	r->pos = 0;
	r->rec_pos = 0;
	if (r->buf)
		((struct mqseg_batch *)r->buf)->len = 0;
	return 0;
}

int mqseg_reader_open(struct mqseg_reader *r, int dirfd, uint64_t offset)
{
	uint64_t *bases;
	int n, i, err;

	memset(r, 0, sizeof(*r));
	r->dirfd = dirfd;
	r->fd = -1;
	n = mqseg_list(dirfd, &bases);
	if (n <= 0) {
		close(dirfd);
		return n ? n : -ENOENT;
	}
	for (i = n - 1; i > 0 && bases[i] > offset; i--)
		;
	if (offset < bases[0])
		offset = bases[0];
	err = reader_open_segment(r, bases[i]);
	free(bases);
	if (err) {
		close(dirfd);
		return err;
	}
	r->pos = index_lookup(dirfd, r->base, offset);
	r->next_offset = offset;
	return 0;
}

/* The segment after the one being read, if there is one now. */
static int reader_next_segment(struct mqseg_reader *r)
{
	uint64_t *bases;
	int n, i, err = 0;

	n = mqseg_list(r->dirfd, &bases);
	if (n < 0)
		return n;
	for (i = 0; i < n && bases[i] <= r->base; i++)
		;
	if (i < n)
		err = reader_open_segment(r, bases[i]);
	else
		err = -EAGAIN;
	free(bases);
	return err;
}

/* Load the next batch: 1, 0 at the end of the log for now, or -errno. */
static int reader_load(struct mqseg_reader *r)
{
	const struct mqseg_batch *b;
	struct stat st;
	uint64_t end;
	int ret;

	for (;;) {
		ret = batch_load(r->fd, r->pos, &r->buf, &r->buf_size);
		if (ret < 0)
			return ret;
		if (ret) {
			b = (const void *)r->buf;
			r->pos += sizeof(*b) + b->len;
			r->rec_pos = sizeof(*b);
			return 1;
		}
		/* short or bad: the end of this segment, or a corrupted one */
		if (fstat(r->fd, &st))
			return -errno;
		end = r->pos;
		ret = reader_next_segment(r);
		if (ret == -EAGAIN)
			return 0;	/* the last segment: written to later */
		if (ret)
			return ret;
		/* a later segment began: what is left of this one is bad */
		if ((uint64_t)st.st_size > end)
			return -EBADMSG;
	}
}

const struct mqdev_record *mqseg_reader_next(struct mqseg_reader *r)
{
	const struct mqdev_record *rec;
	int ret;

	if (r->error)
		return NULL;
	for (;;) {
		if (!mqseg_reader_batch_left(r)) {
			ret = reader_load(r);
			if (ret <= 0) {
				r->error = ret;
				return NULL;
			}
		}
		rec = (const void *)(r->buf + r->rec_pos);
		r->rec_pos += MQDEV_RECORD_SPACE(rec->len);
		if (rec->offset < r->next_offset)
			continue;	/* before where the reader began */
		r->next_offset = rec->offset + 1;
		return rec;
	}
}

void mqseg_reader_close(struct mqseg_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	if (r->dirfd >= 0)
		close(r->dirfd);
	free(r->buf);
	r->buf = NULL;
	r->fd = r->dirfd = -1;
}
