// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuzz: a system call fuzzer for /dev/mq's whole surface.
 *
 * Several processes, each with several threads, call everything the module
 * offers with arguments that are mostly well formed and then mutated: every
 * ioctl (valid structs with one field broken, random bytes, bad pointers,
 * odd sizes and counts, names, flags and partitions), mmap with odd offsets,
 * lengths and protections (and reads of what was mapped), read(2) and
 * poll(2), the generic netlink family with valid, malformed and random
 * attributes; share groups (joins with random dead-letter settings and
 * back-off tables, acquires, acks of every kind, describe, dead-letter info)
 * with members that die holding records; and they open, close, fork and exit
 * at random, so that every release path runs with work in flight.  The
 * kernel's own checks (and the VM runner's scan of its log) are the oracle.
 *
 * Each thread's calls follow from the seed, so a failing seed can be run
 * again (the interleaving between threads differs).
 *
 * Every random choice a call makes is a draw from its tape: a fresh call
 * draws from the seed and records the draws, so that a call can be replayed
 * and mutated a choice at a time.  With --kcov (a kernel with CONFIG_KCOV,
 * such as make check-debug's), each thread traces the kernel's PCs during
 * each call with KCOV, keeps those inside mqdev.ko, and turns consecutive
 * ones into edges in a bitmap the processes share; a call that reached a new
 * edge goes into a shared corpus, and half the calls then mutate a corpus
 * entry instead of drawing afresh.  The run ends with the module's coverage.
 *
 *   mqfuzz [--seed S] [--seconds T | --calls N] [--procs P] [--threads T]
 *          [--kcov [--no-feedback] [--kcov-report FILE]]
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/filter.h>
#include <linux/genetlink.h>
#include <linux/kcov.h>
#include "libmqdev.h"

#define NR_FDS		16
#define NR_MAPS		8
#define NR_NAMES	4
#define RBUF_SIZE	(64 << 10)
#define PAGE_SIZE_	(256 << 10)	/* f->page, guard page excluded */
#define TAPE_MAX	192	/* draws a call records; later ones are fresh */

/* The random draws of one call: replayed, it makes the same choices. */
struct tape {
	uint32_t	len;
	uint32_t	picked;		/* in the corpus: times mutated */
	uint64_t	v[TAPE_MAX];
};

struct fuzzer {
	uint64_t	rng;
	struct tape	tape;		/* this call's draws */
	uint32_t	pos;		/* the next draw in tape */
	uint64_t	*cover;		/* KCOV's buffer: count, then PCs */
	int		fd[NR_FDS];
	struct {
		void	*addr;
		size_t	len;
	} map[NR_MAPS];
	struct mnl_socket *nl;
	uint16_t	family;
	uint64_t	calls;
	uint64_t	ok[0x80];	/* ioctls that succeeded, by number */
	uint64_t	maps;		/* mmaps that succeeded */
	uint64_t	scribbles;	/* garbage through a writer mapping */
	uint64_t	progs;		/* routing programs attached */
	uint32_t	share_taken;	/* records the last acquire took */
	char		*rbuf;		/* RBUF_SIZE, then a PROT_NONE page */
	/*
	 * Every buffer the kernel may write goes in page, never on the stack
	 * or the heap, and a PROT_NONE page follows it: a count or a size the
	 * fuzzer made up can make the kernel write far, and it must fault
	 * (EFAULT), not scribble on what we live on.  Layout: [0, 1K) keys
	 * and values, [1K, 2K) message arrays, [2K, 3K) and [3K, 4K) other
	 * arrays and the ioctl argument, [4K, 8K) topic lists, [8K, 24K)
	 * record batches.
	 */
	char		*page;
};

#define PAGE_MSGS	1024
#define PAGE_ARRAY	2048
#define PAGE_ARRAY2	3072
#define PAGE_SCRATCH	(PAGE_ARRAY2 + 512)
#define PAGE_LIST	4096
#define PAGE_BATCH	8192
#define PAGE_BATCH_SIZE	16384

static uint64_t seed = 1, max_calls;
static __thread const char *doing = "starting";	/* for a crash report */
static __thread uint64_t doing_call;
static unsigned int seconds = 10, nr_procs = 2, nr_threads = 2;
static uint64_t deadline_ns;
static char *bad_page;		/* mapped PROT_NONE: a pointer that faults */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* xorshift64*: small, fast, and the same everywhere for a seed */
static uint64_t next(struct fuzzer *f)
{
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * 0x2545f4914f6cdd1dULL;
}

/*
 * Every choice of a call goes through here: from the tape while it lasts
 * (a replayed or mutated call), then fresh from the seed, recorded.  A call
 * drawn fresh draws exactly what it drew before tapes existed.
 */
static uint64_t rnd(struct fuzzer *f)
{
	struct tape *t = &f->tape;
	uint64_t v;

	if (f->pos < t->len)
		return t->v[f->pos++];
	v = next(f);
	if (f->pos < TAPE_MAX) {
		t->v[f->pos++] = v;
		t->len = f->pos;
	}
	return v;
}

static uint32_t below(struct fuzzer *f, uint32_t n)
{
	return n ? rnd(f) % n : 0;
}

static bool chance(struct fuzzer *f, unsigned int percent)
{
	return below(f, 100) < percent;
}

/* A number that is usually interesting: small, a boundary, or anything. */
static uint64_t number(struct fuzzer *f)
{
	static const uint64_t edges[] = {
		0, 1, 2, 3, 7, 8, 63, 64, 255, 256, 4095, 4096, 4097, 65536,
		1 << 20, 0x7fffffff, 0x80000000, 0xffffffff, ~0ULL, ~0ULL >> 1,
	};

	switch (below(f, 3)) {
	case 0:
		return below(f, 16);
	case 1:
		return edges[below(f, sizeof(edges) / sizeof(edges[0]))];
	default:
		return rnd(f);
	}
}

/* A user pointer: good memory, NULL, a faulting page, kernel space. */
static uint64_t pointer(struct fuzzer *f, void *good)
{
	switch (below(f, 10)) {
	case 0:
		return 0;
	case 1:
		return (uintptr_t)bad_page;
	case 2:
		return 0xffff888000000000ULL + below(f, 4096);
	case 3:		/* off by a little: still inside f->page */
		return (uintptr_t)good + below(f, 32);
	default:
		return (uintptr_t)good;
	}
}

static void name(struct fuzzer *f, char dst[MQDEV_NAME_SIZE])
{
	memset(dst, 0, MQDEV_NAME_SIZE);
	switch (below(f, 10)) {
	case 0:			/* not terminated */
		memset(dst, 'a' + below(f, 26), MQDEV_NAME_SIZE);
		break;
	case 1:			/* odd characters */
		snprintf(dst, MQDEV_NAME_SIZE, "f/%c\x01", (char)rnd(f));
		break;
	case 2:
		break;		/* empty */
	default:
		snprintf(dst, MQDEV_NAME_SIZE, "fz%u", below(f, NR_NAMES));
	}
}

/*
 * Break one thing in a struct that was built well: a random byte.  A byte
 * of one of our own pointers would send the kernel's writes anywhere in this
 * process, stack and heap included: such a word has only its lowest byte
 * changed, which keeps it inside the page-aligned buffer it points into.
 */
static void mutate(struct fuzzer *f, void *buf, size_t len)
{
	unsigned char *p = buf;
	size_t i, word;
	uint64_t w;

	if (!chance(f, 30))
		return;
	i = below(f, len);
	word = i & ~(size_t)7;
	if (word + 8 <= len) {
		memcpy(&w, p + word, 8);
		if (w >= 0x10000 && w < 0x800000000000ULL)
			i = word;
	}
	p[i] = rnd(f);
}

static int *any_fd(struct fuzzer *f)
{
	return &f->fd[below(f, NR_FDS)];
}

/*
 * The argument goes to the kernel from f->page, so that what it writes back
 * through a pointer nudged off the struct lands there, not on our stack.
 */
static bool fuzz_ioctl(struct fuzzer *f, int fd, unsigned long cmd, void *arg,
		       size_t len)
{
	char *scratch = f->page + PAGE_SCRATCH;

	mutate(f, arg, len);
	memcpy(scratch, arg, len);
	if (ioctl(fd, cmd, chance(f, 5) ?
		  (void *)(uintptr_t)pointer(f, scratch) : scratch) < 0)
		return false;
	f->ok[_IOC_NR(cmd) & 0x7f]++;
	return true;
}

/* ---- the actions ------------------------------------------------------- */

static void do_open(struct fuzzer *f)
{
	int *fd = any_fd(f);

	if (*fd >= 0)
		close(*fd);
	*fd = open(MQDEV_DEVICE, chance(f, 50) ? O_RDWR | O_NONBLOCK : O_RDWR);
}

static void do_close(struct fuzzer *f)
{
	int *fd = any_fd(f);

	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void do_topic(struct fuzzer *f, int fd)
{
	union {
		struct mqdev_topic_create create;
		struct mqdev_topic_id id;
		struct mqdev_topic_list list;
		struct mqdev_topic_info info;
	} u;
	void *parts = f->page + PAGE_ARRAY;

	memset(&u, 0, sizeof(u));
	switch (below(f, 4)) {
	case 0:
		name(f, u.create.name);
		u.create.partitions = chance(f, 80) ? 1 + below(f, 4) : number(f);
		u.create.capacity = chance(f, 80) ? 4096ULL << below(f, 4) :
						    number(f);
		/* overwrite, durable, single writer, and their mixes */
		u.create.flags = chance(f, 80) ? below(f, 8) : number(f);
		fuzz_ioctl(f, fd, MQDEV_IOC_TOPIC_CREATE, &u.create,
			   sizeof(u.create));
		break;
	case 1:
		if (chance(f, 70))	/* topics come back often enough */
			return;
		name(f, u.id.name);
		fuzz_ioctl(f, fd, MQDEV_IOC_TOPIC_DELETE, &u.id, sizeof(u.id));
		break;
	case 2:
		u.list.names = pointer(f, f->page + PAGE_LIST);
		u.list.count = chance(f, 80) ? below(f, 56) : number(f);
		fuzz_ioctl(f, fd, MQDEV_IOC_TOPIC_LIST, &u.list, sizeof(u.list));
		break;
	default:
		name(f, u.info.name);
		u.info.parts = pointer(f, parts);
		u.info.parts_count = below(f, 5);
		u.info.part_info_size = chance(f, 80) ?
			sizeof(struct mqdev_partition_info) : below(f, 256);
		fuzz_ioctl(f, fd, MQDEV_IOC_TOPIC_DESCRIBE, &u.info,
			   sizeof(u.info));
	}
}

/* Keys that match one another in every way a topic exchange matches. */
static const char *routing_key(struct fuzzer *f, uint32_t *len)
{
	static const char *const keys[] = {
		"", "#", "*", "#.#", "a.*", "a.#", "*.b.#", "a..b", "a.b",
		".", "a.#.#.b", "#.*", "a*", "a.#b",
	};
	const char *k = keys[below(f, sizeof(keys) / sizeof(keys[0]))];

	*len = strlen(k);
	if (chance(f, 5)) {		/* random bytes, NUL included */
		*len = below(f, 300);
		return f->page;
	}
	return k;
}

/* Exchanges: made, bound, described and produced through, by the pool. */
/* ---- routing programs (MQDEV_IOC_EXCHANGE_PROGRAM) ---------------------- */

#define PROG_CTX_WORDS	(sizeof(struct mqdev_prog_ctx) / 4)
/* Room for twice the longest program, in the record batches' part of page */
#define PROG_ROOM	(2 * MQDEV_PROG_MAX_INSNS)

/* What a program returns: a binding, often past the last; a mask; ... */
static uint32_t prog_verdict(struct fuzzer *f)
{
	switch (below(f, 6)) {
	case 0:
		return MQDEV_ROUTE_TO(below(f, 40));
	case 1:
		return MQDEV_ROUTE_MASK(rnd(f));
	case 2:
		return MQDEV_ROUTE_MATCH;
	case 3:
		return MQDEV_ROUTE_NONE;
	default:
		return number(f);
	}
}

/*
 * One instruction a checker should accept at @i of @len, whose last is
 * the return: a context word, its length, arithmetic, a scratch store and
 * load, or a forward jump that stays inside the program.
 */
static struct sock_filter prog_good_insn(struct fuzzer *f, uint32_t i,
					 uint32_t len)
{
	static const uint16_t alu[] = {
		BPF_ADD, BPF_SUB, BPF_MUL, BPF_AND, BPF_OR, BPF_XOR, BPF_LSH,
		BPF_RSH,
	};
	static const uint16_t jmp[] = { BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET };
	uint32_t room = len - 2 - i;	/* instructions between here and ret */

	switch (below(f, 7)) {
	case 0:
	case 1:
		return (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						    4 * below(f, PROG_CTX_WORDS));
	case 2:
		return (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0);
	case 3:
		return (struct sock_filter)BPF_STMT(BPF_ALU | BPF_K |
						    alu[below(f, 8)], below(f, 32));
	case 4:
		return (struct sock_filter)BPF_STMT(chance(f, 50) ? BPF_ST :
						    BPF_MISC | BPF_TAX, below(f, 16));
	case 5:
		return (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_K |
						    jmp[below(f, 4)], number(f),
						    below(f, room + 1),
						    below(f, room + 1));
	default:
		return (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA,
						    below(f, room + 1));
	}
}

/* A program the checks should accept: @len instructions, the last a ret. */
static void prog_good(struct fuzzer *f, struct sock_filter *p, uint32_t len)
{
	uint32_t i;

	for (i = 0; i + 1 < len; i++)
		p[i] = prog_good_insn(f, i, len);
	/* the scratch words it reads are the ones it wrote first */
	for (i = 0; i + 1 < len; i++)
		if (p[i].code == BPF_ST && i + 2 < len &&
		    p[i + 1].code == (BPF_MISC | BPF_TAX))
			p[i + 1] = (struct sock_filter)
				BPF_STMT(BPF_LD | BPF_MEM, p[i].k);
	if (chance(f, 70)) {
		p[len - 1] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
							  prog_verdict(f));
		return;
	}
	/* A: a binding index computed from nr_bindings, past it or not */
	p[len - 1] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_A, 0);
	if (len >= 3) {
		p[len - 3] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			offsetof(struct mqdev_prog_ctx, nr_bindings));
		p[len - 2] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_ADD |
							  BPF_K, below(f, 3));
	}
}

/* Break one thing in a good program of @len instructions. */
static void prog_break(struct fuzzer *f, struct sock_filter *p, uint32_t len)
{
	static const uint16_t refused[] = {
		BPF_LD | BPF_B | BPF_ABS, BPF_LD | BPF_H | BPF_ABS,
		BPF_LD | BPF_W | BPF_IND, BPF_LDX | BPF_B | BPF_MSH,
		BPF_LD | BPF_IMM | 0xe0, 0xffff,
	};
	struct sock_filter *at = &p[below(f, len)];

	switch (below(f, 7)) {
	case 0:		/* a jump past the end */
		*at = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0,
						   len + below(f, 200), 0);
		break;
	case 1:
		*at = (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA,
						   chance(f, 50) ? len : number(f));
		break;
	case 2:		/* a load past the context, or not word-aligned */
		*at = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			chance(f, 50) ? 4 * (PROG_CTX_WORDS + below(f, 64)) :
					4 * below(f, PROG_CTX_WORDS) + 1 +
					below(f, 3));
		break;
	case 3:		/* a load the checks do not allow */
		*at = (struct sock_filter)BPF_STMT(refused[below(f, 6)], 0);
		break;
	case 4:		/* no return at the end */
		p[len - 1] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W |
							  BPF_LEN, 0);
		break;
	case 5:		/* a division by a constant zero, a bad scratch word */
		*at = chance(f, 50) ?
		      (struct sock_filter)BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0) :
		      (struct sock_filter)BPF_STMT(BPF_LD | BPF_MEM,
						   16 + below(f, 100));
		break;
	default:	/* anything */
		at->code = rnd(f);
		at->jt = rnd(f);
		at->jf = rnd(f);
		at->k = number(f);
	}
}

/*
 * Past the tape: a long program's body from a generator seeded by one
 * draw, so that replaying a call replays it.  All loads, then a return.
 */
static void prog_long(struct fuzzer *f, struct sock_filter *p, uint32_t len)
{
	uint64_t x = rnd(f) | 1;
	uint32_t i;

	if (!len)
		return;
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						    4 * (x % PROG_CTX_WORDS));
	}
	p[len - 1] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_A, 0);
}

/*
 * Attach a routing program, or detach one: good programs (whose verdicts
 * are often bindings past the last one), good ones with one thing broken,
 * random instructions, the longest allowed and longer, odd lengths and
 * pointers, and a log buffer of any size for the checker's reason.
 */
static void do_exchange_program(struct fuzzer *f, int fd)
{
	struct sock_filter *p = (void *)(f->page + PAGE_BATCH);
	struct mqdev_exchange_program u;
	uint32_t len = 1 + below(f, 24), i;

	memset(&u, 0, sizeof(u));
	name(f, u.name);
	switch (below(f, 6)) {
	case 0:
	case 1:
		prog_good(f, p, len);
		break;
	case 2:
		prog_good(f, p, len);
		prog_break(f, p, len);
		break;
	case 3:		/* random instructions */
		for (i = 0; i < len; i++) {
			p[i].code = rnd(f);
			p[i].jt = below(f, 4);
			p[i].jf = below(f, 4);
			p[i].k = number(f);
		}
		break;
	case 4:		/* the longest, or longer, or any length at all */
		len = chance(f, 50) ? MQDEV_PROG_MAX_INSNS + below(f, 2) :
				      number(f);
		prog_long(f, p, len < PROG_ROOM ? len : PROG_ROOM);
		break;
	default:	/* detach, now and then with something beside it */
		u.flags = MQDEV_PROG_DETACH;
		len = chance(f, 80) ? 0 : number(f);
		if (chance(f, 80))
			p = NULL;
	}
	u.insns = p ? pointer(f, p) : 0;
	u.len = len;
	if (chance(f, 70)) {
		u.log = pointer(f, f->page + PAGE_LIST);
		u.log_size = chance(f, 80) ? below(f, 4096) : number(f);
	}
	if (chance(f, 3))
		u.flags |= number(f);
	if (fuzz_ioctl(f, fd, MQDEV_IOC_EXCHANGE_PROGRAM, &u, sizeof(u)) &&
	    !(u.flags & MQDEV_PROG_DETACH))
		f->progs++;
}

static void do_exchange(struct fuzzer *f, int fd)
{
	struct mqdev_exchange_msg *msgs = (void *)(f->page + PAGE_MSGS);
	union {
		struct mqdev_exchange_create create;
		struct mqdev_topic_id id;
		struct mqdev_topic_list list;
		struct mqdev_exchange_info info;
		struct mqdev_exchange_bind bind;
		struct mqdev_exchange_attach attach;
		struct mqdev_exchange_produce produce;
	} u;
	uint32_t n, i;

	memset(&u, 0, sizeof(u));
	switch (below(f, 10)) {
	case 0:
		name(f, u.create.name);
		if (chance(f, 20))
			name(f, u.create.alternate);
		u.create.type = chance(f, 90) ? below(f, 3) : number(f);
		fuzz_ioctl(f, fd, MQDEV_IOC_EXCHANGE_CREATE, &u.create,
			   sizeof(u.create));
		break;
	case 1:
		if (chance(f, 70))	/* exchanges come back often enough */
			return;
		name(f, u.id.name);
		fuzz_ioctl(f, fd, MQDEV_IOC_EXCHANGE_DELETE, &u.id, sizeof(u.id));
		break;
	case 2:
		u.list.names = pointer(f, f->page + PAGE_LIST);
		u.list.count = chance(f, 80) ? below(f, 56) : number(f);
		fuzz_ioctl(f, fd, MQDEV_IOC_EXCHANGE_LIST, &u.list,
			   sizeof(u.list));
		break;
	case 3:
		name(f, u.info.name);
		u.info.bindings = pointer(f, f->page + PAGE_ARRAY);
		u.info.bindings_count = below(f, 3);
		u.info.binding_info_size = chance(f, 80) ?
			sizeof(struct mqdev_binding_info) : number(f);
		fuzz_ioctl(f, fd, MQDEV_IOC_EXCHANGE_DESCRIBE, &u.info,
			   sizeof(u.info));
		break;
	case 4:
	case 5:
		name(f, u.bind.exchange);
		name(f, u.bind.topic);
		u.bind.key = pointer(f, (void *)routing_key(f, &u.bind.key_len));
		u.bind.partition = chance(f, 70) ? MQDEV_PARTITION_ANY :
						   below(f, 5);
		/* to another exchange: cycles and chains to be refused */
		if (chance(f, 30))
			u.bind.flags = chance(f, 95) ? MQDEV_BIND_EXCHANGE :
						       number(f);
		fuzz_ioctl(f, fd, chance(f, 70) ? MQDEV_IOC_EXCHANGE_BIND :
						  MQDEV_IOC_EXCHANGE_UNBIND,
			   &u.bind, sizeof(u.bind));
		break;
	case 6:
		name(f, u.attach.name);
		fuzz_ioctl(f, fd, MQDEV_IOC_EXCHANGE_ATTACH, &u.attach,
			   sizeof(u.attach));
		break;
	case 7:
	case 8:
		do_exchange_program(f, fd);
		break;
	default:
		n = 1 + below(f, 8);
		for (i = 0; i < n; i++) {
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].routing_key = (uintptr_t)routing_key(f,
						&msgs[i].routing_key_len);
			msgs[i].value = (uintptr_t)(f->page + 100);
			msgs[i].value_len = below(f, 900);
			msgs[i].flags = chance(f, 30) ? MQDEV_EXMSG_MANDATORY : 0;
			if (chance(f, 30)) {
				msgs[i].key = (uintptr_t)f->page;
				msgs[i].key_len = below(f, 16);
			}
			mutate(f, &msgs[i], sizeof(msgs[i]));
		}
		u.produce.msgs = pointer(f, msgs);
		u.produce.count = chance(f, 90) ? n : number(f);
		u.produce.msg_size = chance(f, 90) ? sizeof(msgs[0]) : number(f);
		u.produce.acks = pointer(f, f->page + PAGE_ARRAY2);
		u.produce.acks_count = below(f, 10);
		u.produce.ack_size = chance(f, 90) ?
			sizeof(struct mqdev_exchange_ack) : number(f);
		fuzz_ioctl(f, fd, MQDEV_IOC_EXCHANGE_PRODUCE, &u.produce,
			   sizeof(u.produce));
	}
}

static void do_attach(struct fuzzer *f, int fd)
{
	struct mqdev_attach req = {};

	name(f, req.name);
	/*
	 * produce, consume, both; a replica's or an acks=all producer's; a
	 * single writer
	 */
	req.flags = chance(f, 90) ? 1 + below(f, 31) : number(f);
	fuzz_ioctl(f, fd, MQDEV_IOC_ATTACH, &req, sizeof(req));
}

static void do_produce(struct fuzzer *f, int fd)
{
	struct mqdev_msg *msgs = (void *)(f->page + PAGE_MSGS);
	struct mqdev_produce req = {};
	uint32_t n = 1 + below(f, 8), i;

	for (i = 0; i < n; i++) {
		mqdev_msg_init(&msgs[i], chance(f, 30) ? f->page : NULL,
			       below(f, 16), f->page + 100, below(f, 900),
			       chance(f, 50) ? MQDEV_PARTITION_ANY : below(f, 5));
		msgs[i].sequence = chance(f, 80) ? i : number(f);
		if (chance(f, 10))
			msgs[i].value = pointer(f, f->page);
		if (chance(f, 5))
			msgs[i].value_len = number(f);
		mutate(f, &msgs[i], sizeof(msgs[i]));
	}
	req.msgs = pointer(f, msgs);
	req.count = chance(f, 90) ? n : number(f);
	req.msg_size = chance(f, 80) ? sizeof(msgs[0]) :
		       chance(f, 50) ? MQDEV_MSG_SIZE_VER0 : number(f);
	fuzz_ioctl(f, fd, MQDEV_IOC_PRODUCE, &req, sizeof(req));
}

/* A record batch laid out well, then broken a byte at a time. */
/* A batch of up to 8 records, laid out at PAGE_BATCH, and its request. */
static void batch_fill(struct fuzzer *f, struct mqdev_produce_batch *req)
{
	char *batch = f->page + PAGE_BATCH;
	struct mqdev_record *rec;
	uint32_t n = 1 + below(f, 8), i, len = 0, rlen;

	for (i = 0; i < n; i++) {
		rlen = sizeof(*rec) + below(f, 1500);
		if (len + MQDEV_RECORD_SPACE(rlen) > PAGE_BATCH_SIZE)
			break;
		rec = (struct mqdev_record *)(batch + len);
		memset(rec, 0, sizeof(*rec));
		rec->len = chance(f, 95) ? rlen : number(f);
		rec->key_len = chance(f, 70) ? 0 :
			       below(f, rlen - sizeof(*rec) + 1);
		mutate(f, rec, sizeof(*rec));
		len += MQDEV_RECORD_SPACE(rlen);
	}
	memset(req, 0, sizeof(*req));
	req->records = pointer(f, batch);
	req->len = chance(f, 90) ? len : number(f);
	req->partition = chance(f, 50) ? MQDEV_PARTITION_ANY : below(f, 5);
}

static void do_produce_batch(struct fuzzer *f, int fd)
{
	struct mqdev_produce_batch req;

	batch_fill(f, &req);
	fuzz_ioctl(f, fd, MQDEV_IOC_PRODUCE_BATCH, &req, sizeof(req));
}

/*
 * A send before the wait (MQDEV_WAIT_SEND) on any handle: a batch, a
 * single writer's wake-up (never a wait for room: it could last), or any
 * command at all.  Its struct stays put in PAGE_ARRAY2 while the wait's
 * own goes to the scratch.
 */
static void wait_send_fill(struct fuzzer *f, struct mqdev_wait *w)
{
	void *arg = f->page + PAGE_ARRAY2;
	struct mqdev_produce_batch *batch = arg;
	struct mqdev_writer *writer = arg;

	w->flags = MQDEV_WAIT_SEND;
	w->send_fd = chance(f, 90) ? *any_fd(f) : (int)number(f);
	w->send_arg = pointer(f, arg);
	switch (below(f, 3)) {
	case 0:
		batch_fill(f, batch);
		w->send_cmd = MQDEV_IOC_PRODUCE_BATCH;
		break;
	case 1:
		memset(writer, 0, sizeof(*writer));
		writer->partition = chance(f, 90) ? below(f, 5) : number(f);
		writer->flags = MQDEV_WRITER_WAKE;
		w->send_cmd = MQDEV_IOC_WRITER;
		break;
	default:
		w->send_cmd = _IOC(below(f, 4), MQDEV_IOC_MAGIC,
				   below(f, 0x65), below(f, 512));
	}
}

/*
 * Delayed messages: scheduled mostly due within a few milliseconds (so the
 * kernel's timer and work run while the others fuzz), cancelled by ids
 * that may be real, listed a page at a time.
 */
static void do_schedule(struct fuzzer *f, int fd)
{
	union {
		struct mqdev_schedule sched;
		struct mqdev_sched_cancel cancel;
		struct mqdev_sched_list list;
		struct mqdev_sched_snapshot snap;
		struct mqdev_sched_restore restore;
	} u;

	memset(&u, 0, sizeof(u));
	switch (below(f, 5)) {
	case 0:
		mqdev_msg_init(&u.sched.msg, chance(f, 30) ? f->page : NULL,
			       below(f, 16), f->page + 100, below(f, 900),
			       chance(f, 50) ? MQDEV_PARTITION_ANY :
					       below(f, 5));
		if (chance(f, 20))
			u.sched.msg.flags = below(f, 128);
		u.sched.flags = chance(f, 80) ? MQDEV_SCHED_RELATIVE :
						below(f, 4);
		u.sched.at = chance(f, 80) ? (int64_t)below(f, 5000000) :
					     (int64_t)number(f);
		fuzz_ioctl(f, fd, MQDEV_IOC_SCHEDULE, &u.sched,
			   sizeof(u.sched));
		break;
	case 1:
		u.cancel.id = chance(f, 80) ? below(f, 64) : number(f);
		fuzz_ioctl(f, fd, MQDEV_IOC_SCHED_CANCEL, &u.cancel,
			   sizeof(u.cancel));
		break;
	case 2:
		/* a replica's snapshot (EBADF on other handles); a hold rarely */
		u.snap.buf = pointer(f, f->page + PAGE_BATCH);
		u.snap.size = chance(f, 80) ? below(f, 8192) : number(f);
		u.snap.flags = chance(f, 95) ? 0 : below(f, 4);
		u.snap.start = below(f, 64);
		u.snap.ends = chance(f, 50) ? pointer(f, f->page + PAGE_ARRAY) : 0;
		u.snap.ends_count = below(f, 6);
		fuzz_ioctl(f, fd, MQDEV_IOC_SCHED_SNAPSHOT, &u.snap,
			   sizeof(u.snap));
		break;
	case 3:
		/* refused unless the topic is being restored */
		mqdev_msg_init(&u.restore.msg, NULL, 0, f->page + 100,
			       below(f, 900), below(f, 5));
		u.restore.id = chance(f, 80) ? below(f, 64) : number(f);
		u.restore.due = number(f);
		u.restore.uid = chance(f, 80) ? 0 : number(f);
		fuzz_ioctl(f, fd, MQDEV_IOC_SCHED_RESTORE, &u.restore,
			   sizeof(u.restore));
		break;
	default:
		u.list.entries = pointer(f, f->page + PAGE_LIST);
		u.list.count = chance(f, 80) ? below(f, 16) : number(f);
		u.list.entry_size = chance(f, 80) ?
				    sizeof(struct mqdev_sched_info) : number(f);
		u.list.start = below(f, 64);
		fuzz_ioctl(f, fd, MQDEV_IOC_SCHED_LIST, &u.list,
			   sizeof(u.list));
	}
}

static void do_consume(struct fuzzer *f, int fd)
{
	struct mqdev_seek seek = {};
	struct mqdev_wakeup wake = {};
	struct mqdev_wait wait = {};
	struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLOUT | POLLPRI };

	switch (below(f, 5)) {
	case 0:
		seek.partition = chance(f, 50) ? MQDEV_PARTITION_ALL :
						 below(f, 5);
		seek.whence = below(f, 5);
		seek.offset = number(f);
		seek.flags = below(f, 3);
		fuzz_ioctl(f, fd, MQDEV_IOC_SEEK, &seek, sizeof(seek));
		break;
	case 1:
		/* any length: the kernel stops at the guard page after rbuf */
		if (read(fd, chance(f, 90) ? f->rbuf : bad_page,
			 chance(f, 80) ? below(f, RBUF_SIZE) : number(f)) < 0)
			break;
		break;
	case 2:
		poll(&pfd, 1, 0);
		break;
	case 3:
		/* never long: a thread asleep here fuzzes nothing */
		wait.timeout_ns = chance(f, 30) ? 0 : below(f, 2000000);
		wait.min_bytes = chance(f, 50) ? below(f, 4096) : number(f);
		if (chance(f, 40))
			wait_send_fill(f, &wait);
		fuzz_ioctl(f, fd, MQDEV_IOC_WAIT, &wait, sizeof(wait));
		break;
	default:
		wake.partition = chance(f, 50) ? MQDEV_PARTITION_ALL :
						 below(f, 5);
		fuzz_ioctl(f, fd, MQDEV_IOC_WAKEUP, &wake, sizeof(wake));
	}
}

/*
 * RECONSUME_LATER: mostly an offset near the start and a topic of the run
 * as the retry topic or DLQ, now and then anything, a bad flag, a back-off.
 */
static void group_reconsume(struct fuzzer *f, int fd)
{
	struct mqdev_reconsume req;

	memset(&req, 0, sizeof(req));
	req.partition = below(f, 5);
	req.generation = below(f, 8);
	req.offset = chance(f, 80) ? below(f, 16) : number(f);
	req.flags = chance(f, 90) ? below(f, 2) : number(f);
	req.max_deliveries = chance(f, 90) ? below(f, 5) : number(f);
	req.delay_ms = chance(f, 80) ? below(f, 50) : number(f);
	if (chance(f, 20)) {
		req.nr_backoff = below(f, MQDEV_SHARE_BACKOFF_LEVELS + 2);
		req.backoff_ms[0] = below(f, 100);
	}
	snprintf(req.retry_topic, sizeof(req.retry_topic), "f%c%u",
		 chance(f, 80) ? 's' : 'z', below(f, NR_NAMES));
	if (chance(f, 50))
		snprintf(req.dlq, sizeof(req.dlq), "f%c%u",
			 chance(f, 80) ? 's' : 'z', below(f, NR_NAMES));
	else if (chance(f, 10))
		name(f, req.dlq);
	if (chance(f, 30))
		snprintf(req.error, sizeof(req.error), "e%u", below(f, 9));
	if (chance(f, 5))
		req.reserved = number(f);
	fuzz_ioctl(f, fd, MQDEV_IOC_GROUP_RECONSUME, &req, sizeof(req));
}

static void do_group(struct fuzzer *f, int fd)
{
	void *starts = f->page + PAGE_ARRAY;
	union {
		struct mqdev_group_join join;
		struct mqdev_group_assignment as;
		struct mqdev_group_commit commit;
	} u;

	memset(&u, 0, sizeof(u));
	switch (below(f, 4)) {
	case 0:
		snprintf(u.join.group, sizeof(u.join.group), "g%u",
			 below(f, 3));
		u.join.reset = below(f, 3);
		fuzz_ioctl(f, fd, MQDEV_IOC_GROUP_JOIN, &u.join,
			   sizeof(u.join));
		break;
	case 1:
		u.as.starts = pointer(f, starts);
		u.as.starts_count = below(f, 9);
		fuzz_ioctl(f, fd, MQDEV_IOC_GROUP_ASSIGNMENT, &u.as,
			   sizeof(u.as));
		break;
	case 2:
		group_reconsume(f, fd);
		break;
	default:
		u.commit.partition = below(f, 5);
		u.commit.generation = below(f, 8);
		u.commit.offset = number(f);
		fuzz_ioctl(f, fd, MQDEV_IOC_GROUP_COMMIT, &u.commit,
			   sizeof(u.commit));
	}
}

/*
 * Share groups: joins with random dead-letter settings and back-off
 * tables, acquires into the page, acks of ranges near what was acquired
 * (or anywhere) of every kind, describe and dead-letter info.  A member
 * that dies holding records is do_share_die's.
 */
static void share_dlq(struct fuzzer *f, struct mqdev_share_dlq *dlq)
{
	uint32_t i;

	memset(dlq, 0, sizeof(*dlq));
	/* mostly the size this build knows; now and then a wrong one */
	dlq->size = chance(f, 90) ? sizeof(*dlq) : number(f);
	if (chance(f, 80))
		snprintf(dlq->topic, sizeof(dlq->topic), "f%c%u",
			 chance(f, 80) ? 's' : 'z', below(f, NR_NAMES));
	else
		name(f, dlq->topic);
	dlq->nr_backoff = chance(f, 85) ?
			  below(f, MQDEV_SHARE_BACKOFF_LEVELS + 1) : number(f);
	for (i = 0; i < MQDEV_SHARE_BACKOFF_LEVELS; i++)
		dlq->backoff_ms[i] = chance(f, 85) ? below(f, 50) : number(f);
	if (chance(f, 5))
		dlq->flags = number(f);
	else if (chance(f, 30))
		dlq->flags = MQDEV_SHARE_DLQ_EXPIRED;
	if (chance(f, 5))
		dlq->reserved = number(f);
	mutate(f, dlq, sizeof(*dlq));
}

/* One of a few share groups' names, now and then a bad name. */
static void share_group(struct fuzzer *f, char dst[MQDEV_NAME_SIZE])
{
	if (chance(f, 5))
		name(f, dst);
	else
		snprintf(dst, MQDEV_NAME_SIZE, "s%u", below(f, 3));
}

static void share_join(struct fuzzer *f, int fd)
{
	struct mqdev_share_dlq *dlq = (void *)(f->page + PAGE_ARRAY);
	struct mqdev_share_join join = {};

	share_group(f, join.group);
	join.reset = chance(f, 90) ? below(f, 3) : number(f);
	join.lock_ms = chance(f, 70) ? 10 + below(f, 200) : number(f);
	join.max_deliveries = chance(f, 80) ? below(f, 6) : number(f);
	if (chance(f, 60)) {
		share_dlq(f, dlq);
		join.dlq = pointer(f, dlq);
	}
	if (chance(f, 5))
		join.flags = number(f);
	fuzz_ioctl(f, fd, MQDEV_IOC_SHARE_JOIN, &join, sizeof(join));
}

/*
 * A handle that may join: the topic "fsN" made if need be (with a few
 * records in it, so that acquires find some), a fresh handle attached to
 * consume it in a slot of f->fd, where the other calls find it too.
 * Share groups have topics of their own: the others' ("fzN") are soon made
 * durable or single-writer by do_topic, where no share group may be.  Now
 * and then the topic is deleted first, under its groups' members.
 * Returns the handle, or -1.
 */
static int share_handle(struct fuzzer *f)
{
	struct mqdev_topic_create create = {
		.capacity = 65536, .partitions = 1 + below(f, 3),
	};
	struct mqdev_attach att = { .flags = MQDEV_ATTACH_PRODUCE };
	struct mqdev_topic_id id = {};
	struct mqdev_msg *msgs = (void *)(f->page + PAGE_MSGS);
	struct mqdev_produce req = {
		.msgs = (uintptr_t)msgs, .count = 1 + below(f, 8),
		.msg_size = sizeof(*msgs),
	};
	int *slot = any_fd(f), fd;
	uint32_t i;

	snprintf(create.name, sizeof(create.name), "fs%u", below(f, NR_NAMES));
	memcpy(att.name, create.name, sizeof(att.name));
	fd = open(MQDEV_DEVICE, O_RDWR | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (chance(f, 3)) {
		memcpy(id.name, create.name, sizeof(id.name));
		ioctl(fd, MQDEV_IOC_TOPIC_DELETE, &id);
	}
	ioctl(fd, MQDEV_IOC_TOPIC_CREATE, &create);
	for (i = 0; i < req.count; i++)
		mqdev_msg_init(&msgs[i], NULL, 0, f->page + 100,
			       below(f, 200), MQDEV_PARTITION_ANY);
	if (!ioctl(fd, MQDEV_IOC_ATTACH, &att))
		ioctl(fd, MQDEV_IOC_PRODUCE, &req);
	close(fd);
	fd = open(MQDEV_DEVICE, O_RDWR | O_NONBLOCK);
	/* the produce attach wrote its answers back: a fresh request */
	memset(&att, 0, sizeof(att));
	memcpy(att.name, create.name, sizeof(att.name));
	att.flags = MQDEV_ATTACH_CONSUME;
	if (fd >= 0 && ioctl(fd, MQDEV_IOC_ATTACH, &att)) {
		close(fd);
		fd = -1;
	}
	if (*slot >= 0)
		close(*slot);
	*slot = fd;
	return fd;
}

/* The records acquired last by this thread: acks aim at them. */
static void share_acquire(struct fuzzer *f, int fd)
{
	struct mqdev_share_acquire acq = {};
	char *scratch = f->page + PAGE_SCRATCH;

	acq.records = pointer(f, f->page + PAGE_LIST);
	acq.count = chance(f, 85) ? 1 + below(f, 16) : number(f);
	acq.record_size = chance(f, 80) ? sizeof(struct mqdev_share_record) :
			  chance(f, 50) ? 0 : number(f);
	acq.partition = chance(f, 50) ? MQDEV_PARTITION_ANY : below(f, 5);
	if (chance(f, 5))
		acq.flags = number(f);
	/* a waiting acquire, a few ms at most: other threads go on */
	if (chance(f, 10))
		acq.timeout_ns = below(f, 4) * 1000000ULL;
	if (fuzz_ioctl(f, fd, MQDEV_IOC_SHARE_ACQUIRE, &acq, sizeof(acq))) {
		memcpy(&acq, scratch, sizeof(acq));
		f->share_taken = acq.count;
	}
}

static void share_ack(struct fuzzer *f, int fd)
{
	const struct mqdev_share_record *recs =
		(const void *)(f->page + PAGE_LIST);
	struct mqdev_share_ack ack = {};
	uint32_t n = f->share_taken, i, j;

	if (n && n <= MQDEV_SHARE_ACQUIRE_MAX && chance(f, 80)) {
		/* acquired records need not be next to each other */
		i = below(f, n);
		j = chance(f, 60) ? i : i + below(f, n - i);
		ack.partition = recs[i].partition;
		ack.first = recs[i].offset;
		ack.last = recs[j].offset + 1;
		if (chance(f, 10))
			ack.last = ack.first;	/* empty */
	} else {
		ack.partition = below(f, 5);
		ack.first = number(f);
		ack.last = chance(f, 50) ? ack.first + below(f, 8) : number(f);
	}
	ack.type = chance(f, 90) ? 1 + below(f, 3) : number(f);
	if (ack.type == MQDEV_SHARE_RELEASE || chance(f, 5))
		ack.backoff_ms = chance(f, 80) ? below(f, 30) : number(f);
	if (chance(f, 5))
		ack.flags = number(f);
	if (chance(f, 3))
		ack.reserved[below(f, 2)] = number(f);
	fuzz_ioctl(f, fd, MQDEV_IOC_SHARE_ACK, &ack, sizeof(ack));
}

static void share_describe(struct fuzzer *f, int fd)
{
	union {
		struct mqdev_share_info info;
		struct mqdev_share_dlq_info dlq;
	} u;

	memset(&u, 0, sizeof(u));
	if (chance(f, 50)) {
		share_group(f, u.info.group);
		u.info.partition = chance(f, 90) ? below(f, 5) : number(f);
		fuzz_ioctl(f, fd, MQDEV_IOC_SHARE_DESCRIBE, &u.info,
			   sizeof(u.info));
		return;
	}
	share_group(f, u.dlq.group);
	if (chance(f, 5))
		u.dlq.flags = number(f);
	fuzz_ioctl(f, fd, MQDEV_IOC_SHARE_DLQ_INFO, &u.dlq, sizeof(u.dlq));
}

/*
 * A member dies: a child attaches to consume a topic, joins a share group,
 * acquires, and exits or is SIGKILLed holding what it took, so that the
 * group's release of a dead member's records races the others' calls.
 */
static void do_share_die(struct fuzzer *f)
{
	pid_t pid;
	int fd;

	pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		fd = share_handle(f);
		if (fd < 0)
			_exit(0);
		share_join(f, fd);
		share_acquire(f, fd);
		if (chance(f, 30))
			share_ack(f, fd);
		share_acquire(f, fd);
		if (chance(f, 50))
			raise(SIGKILL);
		_exit(0);
	}
	/* the child's draws are its own: ours go on from the same tape */
	if (chance(f, 50))
		kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void do_share(struct fuzzer *f, int fd)
{
	switch (below(f, 7)) {
	case 0:
		share_join(f, fd);
		break;
	case 6:		/* a member's life: join, acquire, ack */
		fd = share_handle(f);
		if (fd < 0)
			break;
		share_join(f, fd);
		share_acquire(f, fd);
		while (chance(f, 70))
			share_ack(f, fd);
		break;
	case 1:
	case 2:
		share_acquire(f, fd);
		break;
	case 3:
	case 4:
		share_ack(f, fd);
		break;
	default:
		share_describe(f, fd);
	}
}

static void do_producer(struct fuzzer *f, int fd)
{
	struct mqdev_group_commit *commits = (void *)(f->page + PAGE_ARRAY2);
	uint32_t *next = (void *)(f->page + PAGE_ARRAY);
	union {
		struct mqdev_producer_init init;
		struct mqdev_producer_bind bind;
		struct mqdev_txn txn;
		struct mqdev_txn_offsets off;
	} u;

	memset(&u, 0, sizeof(u));
	switch (below(f, 4)) {
	case 0:
		if (chance(f, 50))
			snprintf(u.init.name, sizeof(u.init.name), "p%u",
				 below(f, 3));
		u.init.txn_timeout_ms = chance(f, 80) ? 50 + below(f, 200) :
							number(f);
		fuzz_ioctl(f, fd, MQDEV_IOC_PRODUCER_INIT, &u.init,
			   sizeof(u.init));
		break;
	case 1:
		u.bind.session_fd = chance(f, 90) ? *any_fd(f) : (int)number(f);
		u.bind.next_seq = pointer(f, next);
		u.bind.next_seq_count = chance(f, 90) ? 8 : below(f, 300);
		fuzz_ioctl(f, fd, MQDEV_IOC_PRODUCER_BIND, &u.bind,
			   sizeof(u.bind));
		break;
	case 2:
		u.txn.op = chance(f, 90) ? 2 + below(f, 3) : number(f);
		u.txn.cookie = u.txn.op == MQDEV_TXN_BEGIN ? rnd(f) : 0;
		fuzz_ioctl(f, fd, MQDEV_IOC_TXN, &u.txn, sizeof(u.txn));
		break;
	default:
		memset(commits, 0, 4 * sizeof(*commits));
		commits[0].partition = below(f, 5);
		commits[0].generation = below(f, 8);
		commits[0].offset = number(f);
		u.off.consumer_fd = *any_fd(f);
		u.off.count = chance(f, 90) ? 1 + below(f, 4) : number(f);
		u.off.commits = pointer(f, commits);
		u.off.commit_size = chance(f, 80) ? sizeof(commits[0]) :
						    below(f, 256);
		fuzz_ioctl(f, fd, MQDEV_IOC_TXN_OFFSETS, &u.off, sizeof(u.off));
	}
}

/* A replica's confirmations, and the restore calls of a durable topic. */
static void do_replica(struct fuzzer *f, int fd)
{
	void *array = f->page + PAGE_ARRAY;
	union {
		struct mqdev_replica_confirm confirm;
		struct mqdev_replica_groups groups;
		struct mqdev_topic_id id;
	} u;

	memset(&u, 0, sizeof(u));
	switch (below(f, 3)) {
	case 0:
		u.confirm.partition = below(f, 5);
		u.confirm.flags = chance(f, 90) ? below(f, 2) : number(f);
		/* mostly within a short log: past its end is only ERANGE */
		u.confirm.offset = chance(f, 90) ? below(f, 4) : number(f);
		fuzz_ioctl(f, fd, MQDEV_IOC_REPLICA_CONFIRM, &u.confirm,
			   sizeof(u.confirm));
		break;
	case 1:
		u.groups.states = pointer(f, array);
		u.groups.count = chance(f, 80) ? below(f, 4) : number(f);
		u.groups.state_size = chance(f, 80) ?
			sizeof(struct mqdev_group_state) + 8 * below(f, 5) :
			below(f, 512);
		fuzz_ioctl(f, fd, MQDEV_IOC_REPLICA_GROUPS, &u.groups,
			   sizeof(u.groups));
		break;
	default:
		name(f, u.id.name);
		fuzz_ioctl(f, fd, MQDEV_IOC_TOPIC_OPEN, &u.id, sizeof(u.id));
	}
}

static void do_restore(struct fuzzer *f, int fd)
{
	struct mqdev_part_restore *parts = (void *)(f->page + PAGE_ARRAY);
	void *array2 = f->page + PAGE_ARRAY2;
	union {
		struct mqdev_topic_restore topic;
		struct mqdev_group_restore group;
		struct mqdev_producer_restore producer;
		struct mqdev_identity_state identity;
		struct mqdev_identity_list list;
	} u;
	uint32_t i;

	memset(&u, 0, sizeof(u));
	switch (below(f, 5)) {
	case 0:
		name(f, u.topic.topic.name);
		u.topic.topic.partitions = chance(f, 80) ? 1 + below(f, 4) :
							   number(f);
		u.topic.topic.capacity = 4096ULL << below(f, 4);
		u.topic.topic.flags = chance(f, 80) ? MQDEV_TOPIC_DURABLE :
						      number(f);
		for (i = 0; i < 4; i++) {
			parts[i].next_offset = chance(f, 80) ? below(f, 64) :
							       number(f);
			parts[i].last_timestamp = number(f);
		}
		u.topic.parts = pointer(f, parts);
		u.topic.parts_count = chance(f, 80) ?
			u.topic.topic.partitions : below(f, 8);
		u.topic.part_size = chance(f, 80) ? sizeof(*parts) :
						    below(f, 64);
		fuzz_ioctl(f, fd, MQDEV_IOC_TOPIC_RESTORE, &u.topic,
			   sizeof(u.topic));
		break;
	case 1:
		snprintf(u.group.name, sizeof(u.group.name), "g%u",
			 below(f, 3));
		u.group.count = chance(f, 80) ? 1 + below(f, 4) : number(f);
		u.group.offsets = pointer(f, array2);
		fuzz_ioctl(f, fd, MQDEV_IOC_GROUP_RESTORE, &u.group,
			   sizeof(u.group));
		break;
	case 2:
		u.producer.producer_id = chance(f, 80) ? 1 + below(f, 8) :
							 number(f);
		u.producer.partition = below(f, 5);
		u.producer.next_seq = chance(f, 80) ? below(f, 16) : number(f);
		u.producer.entries = pointer(f, array2);
		u.producer.count = chance(f, 80) ? below(f, 8) : number(f);
		u.producer.entry_size = chance(f, 80) ?
			sizeof(struct mqdev_seq_restore) : below(f, 64);
		fuzz_ioctl(f, fd, MQDEV_IOC_PRODUCER_RESTORE, &u.producer,
			   sizeof(u.producer));
		break;
	case 3:
		snprintf(u.identity.name, sizeof(u.identity.name), "p%u",
			 below(f, 3));
		u.identity.producer_id = chance(f, 80) ? 1 + below(f, 8) :
							 number(f);
		u.identity.epoch = below(f, 4);
		fuzz_ioctl(f, fd, MQDEV_IOC_IDENTITY_RESTORE, &u.identity,
			   sizeof(u.identity));
		break;
	default:
		u.list.states = pointer(f, array2);
		u.list.count = chance(f, 80) ? below(f, 8) : number(f);
		u.list.state_size = chance(f, 80) ?
			sizeof(struct mqdev_identity_state) : below(f, 128);
		fuzz_ioctl(f, fd, MQDEV_IOC_IDENTITY_LIST, &u.list,
			   sizeof(u.list));
	}
}

/* An ioctl of any number, with any argument: ENOTTY, or EINVAL, or sense. */
static void do_random_ioctl(struct fuzzer *f, int fd)
{
	unsigned long cmd = chance(f, 50) ?
		_IOC(below(f, 4), MQDEV_IOC_MAGIC, below(f, 0x53), below(f, 512)) :
		(unsigned long)rnd(f);

	memset(f->page + PAGE_LIST, (int)rnd(f), 512);
	ioctl(fd, cmd, chance(f, 80) ? f->page + PAGE_LIST :
				       (void *)(uintptr_t)rnd(f));
}

/* A few words of one page: small numbers (lengths) or any. */
static void scribble(struct fuzzer *f, char *page)
{
	unsigned int k = 1 + below(f, 8);
	uint64_t w;

	while (k--) {
		w = chance(f, 50) ? below(f, 1 << 16) : number(f);
		memcpy(page + 8 * below(f, 4096 / 8), &w, sizeof(w));
	}
}

static void do_mmap(struct fuzzer *f, int fd)
{
	static const uint64_t bases[] = {
		0, 1ULL << 32, 2ULL << 32, 1ULL << 40, 1ULL << 41, 3ULL << 40,
		1ULL << 42, (1ULL << 42) + (1ULL << 32),	/* a writer's */
	};
	unsigned int slot = below(f, NR_MAPS);
	uint64_t off = bases[below(f, 8)] + (chance(f, 80) ? 0 :
					      4096ULL * below(f, 4));
	size_t len = chance(f, 70) ? 4096 * (1 + below(f, 40)) : number(f);
	int prot = chance(f, 70) ? PROT_READ : below(f, 8);
	volatile const char *p;
	void *addr;
	size_t i;

	if (f->map[slot].addr) {
		munmap(f->map[slot].addr, f->map[slot].len);
		f->map[slot].addr = NULL;
	}
	addr = mmap(NULL, len, prot, chance(f, 90) ? MAP_SHARED : MAP_PRIVATE,
		    fd, off);
	if (addr == MAP_FAILED)
		return;
	f->map[slot].addr = addr;
	f->map[slot].len = len;
	f->maps++;
	/* Read what was mapped, a page at a time, as a consumer would. */
	if (prot & PROT_READ)
		for (i = 0, p = addr; i < len && i < (64 << 10); i += 4096)
			(void)p[i];
	if (chance(f, 20))
		mprotect(addr, 4096, PROT_READ | PROT_WRITE);
	/*
	 * A single writer's mapping: garbage in its records and its page
	 * (at the end), for its readers and the kernel's syncs to meet.
	 */
	if ((prot & (PROT_READ | PROT_WRITE)) == (PROT_READ | PROT_WRITE) &&
	    len >= 4096 && !(len % 4096)) {
		scribble(f, (char *)addr + (chance(f, 50) ? len - 4096 :
					    4096ULL * below(f, len / 4096)));
		f->scribbles += off >= bases[6];
	}
}

/*
 * Be the writer of a single-writer topic of our own for a moment: garbage
 * through the writer mapping, then a reader's seek and a describe (the
 * kernel's checked walks) and the hand-over (its sync).
 */
/*
 * A run of records at the writer's head that mostly hold, one field of one
 * changed, and head (sometimes tail) published near the run's end: random
 * words alone almost never form a record the kernel walks past.
 */
static void writer_records(struct fuzzer *f, char *map,
			   const struct mqdev_attach *att)
{
	struct mqdev_writer_page *wp = (void *)(map + att->off.writer_page -
						att->off.data);
	uint64_t cap = att->capacity, pos = wp->head, off = wp->next_offset;
	unsigned int n = 1 + below(f, 16), bad = below(f, 2 * n), i;
	struct mqdev_record *r;
	uint32_t len;

	for (i = 0; i < n; i++) {
		len = sizeof(*r) + 8 * below(f, 8);
		/* The data is mapped twice: a record may run over the end. */
		r = (void *)(map + (pos & (cap - 1)));
		memset(r, 0, len);
		r->len = len;
		r->offset = off++;
		if (i == bad) {
			switch (below(f, 6)) {
			case 0: r->len = number(f); break;
			case 1: r->offset = number(f); break;
			case 2: r->partition = number(f); break;
			case 3: r->flags = number(f); break;
			case 4: r->key_len = number(f); break;
			default: r->offset = UINT64_MAX; break;
			}
		}
		pos += MQDEV_RECORD_SPACE(len);
	}
	if (chance(f, 20))
		wp->tail = chance(f, 50) ? pos - cap + 8 * below(f, 8) :
					   number(f);
	if (chance(f, 20))
		pos += 8 * below(f, 64);
	__atomic_store_n(&wp->head, pos, __ATOMIC_RELEASE);
}

static void writer_garbage(struct fuzzer *f)
{
	struct mqdev_topic_create create = {
		.capacity = 4096, .partitions = 1,
		.flags = MQDEV_TOPIC_SINGLE_WRITER | (chance(f, 50) ?
						      MQDEV_TOPIC_OVERWRITE : 0),
	};
	struct mqdev_attach att = { .flags = MQDEV_ATTACH_PRODUCE |
					     MQDEV_ATTACH_WRITER };
	struct mqdev_seek seek = { .whence = below(f, 4), .offset = below(f, 64) };
	int wfd = open(MQDEV_DEVICE, O_RDWR), rfd = open(MQDEV_DEVICE, O_RDWR);
	struct mqdev_topic_id id = {};
	unsigned int k;
	int fd;
	size_t len;
	char *map;

	snprintf(create.name, sizeof(create.name), "fz-sw-%d", getpid());
	memcpy(att.name, create.name, sizeof(att.name));
	if (wfd < 0 || rfd < 0)
		goto out;
	ioctl(wfd, MQDEV_IOC_TOPIC_CREATE, &create);
	if (ioctl(wfd, MQDEV_IOC_ATTACH, &att))
		goto out;
	len = att.off.ring_size - att.off.data;
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, wfd,
		   att.off.writer_mmap);
	if (map == MAP_FAILED)
		goto out;
	if (chance(f, 70))
		writer_records(f, map, &att);
	else
		for (k = 0; k < 4; k++)
			scribble(f, map + 4096 * below(f, 3));
	f->scribbles++;
	memset(&att, 0, sizeof(att));
	memcpy(att.name, create.name, sizeof(att.name));
	att.flags = MQDEV_ATTACH_CONSUME;
	if (!ioctl(rfd, MQDEV_IOC_ATTACH, &att))
		ioctl(rfd, MQDEV_IOC_SEEK, &seek);
	munmap(map, len);
out:
	if (wfd >= 0)
		close(wfd);
	if (rfd >= 0)
		close(rfd);
	/* Not left behind: one topic per turn, then gone. */
	fd = open(MQDEV_DEVICE, O_RDWR);
	if (fd >= 0) {
		memcpy(id.name, create.name, sizeof(id.name));
		ioctl(fd, MQDEV_IOC_TOPIC_DELETE, &id);
		close(fd);
	}
}

/* The single writer's ioctl: wake readers, ask for room. */
static void do_writer(struct fuzzer *f, int fd)
{
	struct mqdev_writer req = {};
	bool nonblock = fcntl(fd, F_GETFL) & O_NONBLOCK;

	if (chance(f, 30)) {
		writer_garbage(f);
		return;
	}
	req.partition = chance(f, 90) ? below(f, 5) : number(f);
	req.flags = chance(f, 90) ? 1 + below(f, 3) : number(f);
	/* A blocking wait for room could last: only a non-blocking one. */
	req.need = nonblock && chance(f, 50) ? number(f) : 0;
	fuzz_ioctl(f, fd, MQDEV_IOC_WRITER, &req, sizeof(req));
}

/* ---- netlink ------------------------------------------------------------- */

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID)
			*(uint16_t *)data = mnl_attr_get_u16(a);
	return MNL_CB_OK;
}

static void nl_open(struct fuzzer *f)
{
	char buf[8192];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;
	ssize_t n;

	f->nl = mnl_socket_open(NETLINK_GENERIC);
	if (!f->nl || mnl_socket_bind(f->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return;
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, MQDEV_GENL_NAME);
	if (mnl_socket_sendto(f->nl, nlh, nlh->nlmsg_len) < 0)
		return;
	n = mnl_socket_recvfrom(f->nl, buf, sizeof(buf));
	if (n > 0)
		mnl_cb_run(buf, n, 0, 0, family_cb, &f->family);
}

/* A request of any command with attributes well typed, or not. */
static void do_netlink(struct fuzzer *f)
{
	char buf[4096];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;
	struct nlattr *nest;
	unsigned int i, n = below(f, 6);
	uint16_t type;
	int flags = MSG_DONTWAIT;

	if (!f->nl || !f->family)
		return;
	nlh->nlmsg_type = f->family;
	nlh->nlmsg_flags = NLM_F_REQUEST | (chance(f, 50) ? NLM_F_ACK : 0) |
			   (chance(f, 20) ? NLM_F_DUMP : 0);
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = below(f, MQDEV_CMD_MAX + 3);
	g->version = chance(f, 90) ? MQDEV_GENL_VERSION : below(f, 256);
	for (i = 0; i < n; i++) {
		type = below(f, MQDEV_A_MAX + 3);
		switch (below(f, 6)) {
		case 0:
			mnl_attr_put_u32(nlh, type, number(f));
			break;
		case 1:
			mnl_attr_put_u64(nlh, type, number(f));
			break;
		case 2: {
			char s[MQDEV_NAME_SIZE];

			name(f, s);
			mnl_attr_put_strz(nlh, type, s);
			break;
		}
		case 3:
			nest = mnl_attr_nest_start(nlh, type);
			mnl_attr_put_u32(nlh, below(f, 10), number(f));
			mnl_attr_nest_end(nlh, nest);
			break;
		case 4:
			mnl_attr_put(nlh, type, 0, NULL);
			break;
		default:
			memset(f->page, (int)rnd(f), 64);
			mnl_attr_put(nlh, type, below(f, 64), f->page);
		}
	}
	if (chance(f, 5))	/* a length that lies */
		nlh->nlmsg_len -= below(f, 8);
	mnl_socket_sendto(f->nl, nlh, nlh->nlmsg_len);
	while (recv(mnl_socket_get_fd(f->nl), buf, sizeof(buf), flags) > 0)
		;
}

/* ---- coverage (KCOV) ------------------------------------------------------ */

#define KCOV_PATH	"/sys/kernel/debug/kcov"
#define MOD_SYSFS	"/sys/module/mqdev"
#define COVER_WORDS	(1 << 18)	/* a thread's trace buffer: 2 MiB */
#define EDGE_BITS	20		/* a million edge slots: few collide */
#define CORPUS_MAX	4096
#define NR_SECTS	16
#define EDGE_START	0x5a5a5a5aULL	/* where every call's first edge is from */

/*
 * mqdev.ko's code as the kernel loaded it.  Its sections are numbered one
 * after the other, so that a PC is an offset in [0, span) whatever section
 * it is in, and the same offset in every process and every boot.
 */
struct sect {
	char		name[32];
	unsigned int	shndx;		/* its index in mqdev.ko */
	uint64_t	addr;		/* where it was loaded */
	uint64_t	size;
	uint64_t	base;		/* the offset of its first byte */
};

struct func {
	const char	*name;
	uint64_t	start, end;	/* offsets */
};

static struct {
	struct sect	sect[NR_SECTS];
	unsigned int	nr;
	uint64_t	lo, hi;		/* every section lies in [lo, hi) */
	uint64_t	span;
	const char	*ko;		/* NULL: the call sites are unknown */
	const char	*map;		/* mqdev.ko, mapped */
	size_t		map_len;
	uint32_t	*site;		/* KCOV's PCs, as offsets, sorted */
	uint32_t	nr_sites;
	struct func	*func;
	uint32_t	nr_funcs;
} mod;

/* What the processes share: the coverage so far, and the corpus. */
struct shared {
	uint64_t	edge[(1 << EDGE_BITS) / 64];
	uint32_t	nr_edges;
	uint32_t	corpus_len;	/* entries added: may pass CORPUS_MAX */
	uint64_t	calls[2];	/* drawn fresh, mutated from the corpus */
	uint64_t	found[2];	/* of those, the ones with a new edge */
	struct tape	corpus[CORPUS_MAX];
	uint64_t	pc[];		/* a bit for each byte of module code */
};

static bool kcov, feedback = true;
static const char *kcov_report;
static struct shared *cov;

static int read_u64(const char *path, int base, uint64_t *v)
{
	char buf[64];
	FILE *fp = fopen(path, "r");
	bool ok;

	if (!fp)
		return -1;
	ok = fgets(buf, sizeof(buf), fp);
	fclose(fp);
	if (!ok)
		return -1;
	*v = strtoull(buf, NULL, base);
	return 0;
}

/* A section of the module, at the address sysfs gives for it. */
static int sect_add(const char *name, unsigned int shndx, uint64_t size)
{
	struct sect *s = &mod.sect[mod.nr];
	char path[128];
	uint64_t addr;

	/*
	 * Init code has run and gone, exit code runs at rmmod, after us, and
	 * so do the constructors and destructors (KASAN's, of the module's
	 * globals) gcc puts in .text.startup and .text.exit: none is ours.
	 */
	if (!strncmp(name, ".init", 5) || !strncmp(name, ".exit", 5) ||
	    !strcmp(name, ".text.startup") || !strcmp(name, ".text.exit"))
		return 0;
	snprintf(path, sizeof(path), MOD_SYSFS "/sections/%s", name);
	if (mod.nr == NR_SECTS || read_u64(path, 16, &addr))
		return 0;
	if (!addr) {
		fprintf(stderr, "mqfuzz: kcov: %s reads 0: kernel pointers "
			"are hidden (not root, or kernel.kptr_restrict=2)\n",
			path);
		return -1;
	}
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->shndx = shndx;
	s->addr = addr;
	s->size = size;
	s->base = mod.span;
	mod.span += size;
	if (!mod.nr || addr < mod.lo)
		mod.lo = addr;
	if (addr + size > mod.hi)
		mod.hi = addr + size;
	mod.nr++;
	return 0;
}

static struct sect *sect_of(unsigned int shndx)
{
	unsigned int i;

	for (i = 0; i < mod.nr; i++)
		if (mod.sect[i].shndx == shndx)
			return &mod.sect[i];
	return NULL;
}

/* @len bytes at @off of mqdev.ko, or NULL if the file is shorter. */
static const void *ko_at(uint64_t off, uint64_t len)
{
	if (off > mod.map_len || len > mod.map_len - off)
		return NULL;
	return mod.map + off;
}

/* The string at @off of string table @strtab, if it ends inside it. */
static const char *ko_str(const Elf64_Shdr *strtab, uint32_t off)
{
	const char *s = ko_at(strtab->sh_offset, strtab->sh_size);

	if (!s || off >= strtab->sh_size ||
	    !memchr(s + off, 0, strtab->sh_size - off))
		return NULL;
	return s + off;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int func_cmp(const void *a, const void *b)
{
	const struct func *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Room for one more in an array of @n: it doubles when @n is a power of 2. */
static void *grow(void *p, uint32_t n, size_t size)
{
	if (n & (n - 1))
		return p;
	p = realloc(p, (n ? 2 * n : 1) * size);
	if (!p) {
		perror("mqfuzz: kcov");
		exit(2);
	}
	return p;
}

/*
 * The functions of mqdev.ko, and its KCOV call sites: each is a 5-byte
 * call of __sanitizer_cov_trace_pc, whose 4-byte displacement a relocation
 * fills in, and KCOV records its return address: the relocation's offset
 * plus 4.  A block that only returns may jump to it instead (a tail call):
 * then KCOV records the return address of whoever called the function,
 * which is no site of ours; those blocks are not counted.
 */
static int ko_symbols(const Elf64_Shdr *sh, unsigned int shnum,
		      const Elf64_Shdr *symtab)
{
	const Elf64_Sym *sym = ko_at(symtab->sh_offset, symtab->sh_size);
	uint32_t nr = symtab->sh_size / sizeof(*sym), k, cov_sym = 0;
	const uint8_t *code;
	const Elf64_Rela *rela;
	const struct sect *s;
	const char *name;
	unsigned int i;
	uint64_t at;

	if (!sym || symtab->sh_link >= shnum)
		return -1;
	for (k = 1; k < nr; k++) {
		name = ko_str(&sh[symtab->sh_link], sym[k].st_name);
		if (!name)
			continue;
		if (sym[k].st_shndx == SHN_UNDEF &&
		    !strcmp(name, "__sanitizer_cov_trace_pc"))
			cov_sym = k;
		s = sect_of(sym[k].st_shndx);
		if (ELF64_ST_TYPE(sym[k].st_info) != STT_FUNC || !s)
			continue;
		mod.func = grow(mod.func, mod.nr_funcs, sizeof(*mod.func));
		mod.func[mod.nr_funcs++] = (struct func){ name,
			s->base + sym[k].st_value,
			s->base + sym[k].st_value + sym[k].st_size };
	}
	if (!cov_sym)
		return 1;
	for (i = 0; i < shnum; i++) {
		s = sect_of(sh[i].sh_info);
		rela = ko_at(sh[i].sh_offset, sh[i].sh_size);
		if (sh[i].sh_type != SHT_RELA || !s || !rela)
			continue;
		code = ko_at(sh[s->shndx].sh_offset, s->size);
		for (k = 0; code && k < sh[i].sh_size / sizeof(*rela); k++) {
			at = rela[k].r_offset;
			if (ELF64_R_SYM(rela[k].r_info) != cov_sym ||
			    at < 1 || at + 4 > s->size || code[at - 1] != 0xe8)
				continue;	/* not a call */
			mod.site = grow(mod.site, mod.nr_sites,
					sizeof(*mod.site));
			mod.site[mod.nr_sites++] = s->base + at + 4;
		}
	}
	qsort(mod.site, mod.nr_sites, sizeof(*mod.site), u32_cmp);
	qsort(mod.func, mod.nr_funcs, sizeof(*mod.func), func_cmp);
	return 0;
}

/* The loaded module's code sections and call sites, from its .ko. */
static int ko_load(const char *path)
{
	const Elf64_Shdr *sh, *symtab = NULL;
	const Elf64_Ehdr *eh;
	const char *name;
	struct stat st;
	unsigned int i;
	int fd, ret;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		goto fail;
	if (fstat(fd, &st)) {
		close(fd);
		goto fail;
	}
	mod.map_len = st.st_size;
	mod.map = mmap(NULL, mod.map_len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (mod.map == MAP_FAILED)
		goto fail;
	eh = ko_at(0, sizeof(*eh));
	if (!eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_type != ET_REL ||
	    eh->e_shstrndx >= eh->e_shnum)
		goto bad;
	sh = ko_at(eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(*sh));
	if (!sh)
		goto bad;
	for (i = 0; i < eh->e_shnum; i++) {
		name = ko_str(&sh[eh->e_shstrndx], sh[i].sh_name);
		if (sh[i].sh_type == SHT_SYMTAB)
			symtab = &sh[i];
		if (!name || !sh[i].sh_size || (sh[i].sh_flags &
		    (SHF_ALLOC | SHF_EXECINSTR)) != (SHF_ALLOC | SHF_EXECINSTR))
			continue;
		if (sect_add(name, i, sh[i].sh_size))
			return -1;
	}
	if (!mod.nr) {
		fprintf(stderr, "mqfuzz: kcov: no section of %s under "
			MOD_SYSFS "/sections: is it loaded?\n", path);
		return -1;
	}
	ret = symtab ? ko_symbols(sh, eh->e_shnum, symtab) : -1;
	if (ret > 0) {
		fprintf(stderr, "mqfuzz: kcov: %s calls no "
			"__sanitizer_cov_trace_pc: it was built without KCOV "
			"(see README, Robustness runs)\n", path);
		return -1;
	}
	if (ret < 0)
		goto bad;
	mod.ko = path;
	return 0;
bad:
	fprintf(stderr, "mqfuzz: kcov: %s: not a module this fuzzer reads\n",
		path);
	return -1;
fail:
	fprintf(stderr, "mqfuzz: kcov: %s: %s\n", path, strerror(errno));
	return -1;
}

/*
 * Without the .ko, the module's .text is all we know of: from its address
 * to the size of its loaded code, which overshoots into its data; the call
 * sites, and so the share of them reached, stay unknown.
 */
static int text_load(void)
{
	uint64_t size;

	if (read_u64(MOD_SYSFS "/coresize", 10, &size)) {
		fprintf(stderr, "mqfuzz: kcov: no " MOD_SYSFS
			": mqdev is not loaded\n");
		return -1;
	}
	return sect_add(".text", 0, size) || !mod.nr ? -1 : 0;
}

/*
 * Before the workers fork: find KCOV (debugfs mounted if it is not), the
 * module's code, and map what the processes share.
 */
static int kcov_setup(void)
{
	const char *ko = getenv("MQDEV_KO");
	size_t len;

	if (access(KCOV_PATH, R_OK | W_OK))
		mount("none", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (access(KCOV_PATH, R_OK | W_OK)) {
		fprintf(stderr, "mqfuzz: --kcov: " KCOV_PATH ": %s (a kernel "
			"without CONFIG_KCOV?)\n", strerror(errno));
		return -1;
	}
	if (ko && *ko ? ko_load(ko) : text_load())
		return -1;
	len = sizeof(*cov) + (mod.span + 63) / 64 * 8;
	cov = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (cov == MAP_FAILED) {
		cov = NULL;
		perror("mqfuzz: kcov");
		return -1;
	}
	return 0;
}

/*
 * KCOV traces the task that enabled it: each thread has its own buffer.
 * It stays enabled, and each call starts by emptying the buffer (what the
 * thread does between calls never enters the module).  A thread that
 * cannot have one fuzzes without feedback, and says so.
 */
static void kcov_thread(struct fuzzer *f)
{
	size_t len = COVER_WORDS * sizeof(uint64_t);
	void *p;
	int fd;

	fd = open(KCOV_PATH, O_RDWR);
	if (fd < 0 || ioctl(fd, KCOV_INIT_TRACE, COVER_WORDS))
		goto fail;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	if (ioctl(fd, KCOV_ENABLE, KCOV_TRACE_PC)) {
		munmap(p, len);
		goto fail;
	}
	f->cover = p;
	return;
fail:
	fprintf(stderr, "mqfuzz: kcov: a thread goes without: %s\n",
		strerror(errno));
	if (fd >= 0)
		close(fd);
}

static bool module_offset(uint64_t pc, uint64_t *off)
{
	const struct sect *s;
	unsigned int i;

	if (pc < mod.lo || pc >= mod.hi)
		return false;
	for (i = 0, s = mod.sect; i < mod.nr; i++, s++) {
		if (pc - s->addr < s->size) {
			*off = s->base + pc - s->addr;
			return true;
		}
	}
	return false;
}

/* Set a bit that any process may be setting; true if it was not set. */
static bool set_new(uint64_t *map, uint64_t bit)
{
	uint64_t *w = &map[bit / 64], m = 1ULL << (bit % 64);

	if (__atomic_load_n(w, __ATOMIC_RELAXED) & m)
		return false;
	return !(__atomic_fetch_or(w, m, __ATOMIC_RELAXED) & m);
}

/* An edge as AFL has it: where from, shifted so that a->b is not b->a. */
static uint64_t edge_hash(uint64_t prev, uint64_t cur)
{
	return ((prev << 1 ^ cur) * 0x9e3779b97f4a7c15ULL) >> (64 - EDGE_BITS);
}

/*
 * Change a few draws of a corpus call: another value (another choice),
 * the one next to it (below() takes it modulo: the next option), or an end
 * to the tape (the call goes its way and draws the rest fresh).
 */
static void tape_mutate(struct fuzzer *f)
{
	struct tape *t = &f->tape;
	unsigned int n = 1 + next(f) % 4, pos;

	while (n-- && t->len) {
		pos = next(f) % t->len;
		switch (next(f) % 4) {
		case 0:
			t->v[pos] = next(f);
			break;
		case 1:
			t->v[pos]++;
			break;
		case 2:
			t->v[pos]--;
			break;
		default:
			t->len = pos;
		}
	}
}

/*
 * Pick the corpus entry to mutate: of two at random, the one mutated less,
 * so that every entry gets its turns and the new ones catch up.  An entry
 * another process is writing may be torn: then it is one more mutation.
 */
static bool corpus_pick(struct fuzzer *f)
{
	uint32_t n = __atomic_load_n(&cov->corpus_len, __ATOMIC_ACQUIRE);
	struct tape *a, *b;
	uint32_t len;

	if (n > CORPUS_MAX)
		n = CORPUS_MAX;
	if (!n || next(f) >> 63)		/* half the calls stay fresh */
		return false;
	a = &cov->corpus[next(f) % n];
	b = &cov->corpus[next(f) % n];
	if (b->picked < a->picked)
		a = b;
	len = __atomic_load_n(&a->len, __ATOMIC_ACQUIRE);
	if (!len || len > TAPE_MAX)
		return false;
	a->picked++;
	memcpy(f->tape.v, a->v, len * sizeof(a->v[0]));
	f->tape.len = len;
	tape_mutate(f);
	return true;
}

static void corpus_add(struct fuzzer *f)
{
	uint32_t i = __atomic_fetch_add(&cov->corpus_len, 1, __ATOMIC_RELAXED);
	struct tape *t;

	/* full: a new entry takes the place of any */
	t = &cov->corpus[i < CORPUS_MAX ? i : next(f) % CORPUS_MAX];
	t->picked = 0;
	memcpy(t->v, f->tape.v, f->tape.len * sizeof(t->v[0]));
	__atomic_store_n(&t->len, f->tape.len, __ATOMIC_RELEASE);
}

/* A call begins: fresh, or mutated from the corpus; its trace empty. */
static bool call_start(struct fuzzer *f)
{
	bool mutated = false;

	f->pos = 0;
	f->tape.len = 0;
	if (!f->cover)
		return false;
	if (feedback)
		mutated = corpus_pick(f);
	__atomic_store_n(&f->cover[0], 0, __ATOMIC_RELAXED);
	return mutated;
}

/* A call ended: its module PCs, and its edges; if one is new, keep it. */
static void call_end(struct fuzzer *f, bool mutated)
{
	uint64_t n, i, off, prev = EDGE_START;
	bool found = false;

	if (!f->cover)
		return;
	n = __atomic_load_n(&f->cover[0], __ATOMIC_RELAXED);
	if (n >= COVER_WORDS)
		n = COVER_WORDS - 1;
	for (i = 1; i <= n; i++) {
		if (!module_offset(f->cover[i], &off))
			continue;
		set_new(cov->pc, off);
		if (set_new(cov->edge, edge_hash(prev, off))) {
			__atomic_add_fetch(&cov->nr_edges, 1, __ATOMIC_RELAXED);
			found = true;
		}
		prev = off;
	}
	__atomic_add_fetch(&cov->calls[mutated], 1, __ATOMIC_RELAXED);
	if (!found)
		return;
	__atomic_add_fetch(&cov->found[mutated], 1, __ATOMIC_RELAXED);
	if (!feedback)
		return;
	if (f->pos < f->tape.len)	/* draws the call went without */
		f->tape.len = f->pos;
	corpus_add(f);
}

static bool reached(uint64_t off)
{
	return cov->pc[off / 64] >> (off % 64) & 1;
}

static bool is_site(uint64_t off)
{
	uint32_t key = off;

	return bsearch(&key, mod.site, mod.nr_sites, sizeof(key), u32_cmp);
}

static const struct func *func_of(uint64_t off)
{
	uint32_t i;

	for (i = 0; i < mod.nr_funcs; i++)
		if (off > mod.func[i].start && off <= mod.func[i].end)
			return &mod.func[i];
	return NULL;
}

/*
 * Each function: its call sites reached, of all, in address order; then
 * the PCs that are no call site, and after which call they are.
 */
static void kcov_functions(const char *path, uint64_t strays)
{
	const struct func *fn;
	uint32_t i, j, total, hit;
	uint64_t off;
	FILE *fp = fopen(path, "w");

	if (!fp) {
		fprintf(stderr, "mqfuzz: kcov: %s: %s\n", path,
			strerror(errno));
		return;
	}
	fprintf(fp, "# reached sites function (mqfuzz --kcov, seed %" PRIu64
		")\n", seed);
	for (i = 0, fn = mod.func; i < mod.nr_funcs; i++, fn++) {
		for (j = 0, total = hit = 0; j < mod.nr_sites; j++) {
			if (mod.site[j] <= fn->start || mod.site[j] > fn->end)
				continue;
			total++;
			hit += reached(mod.site[j]);
		}
		if (total)
			fprintf(fp, "%u %u %s\n", hit, total, fn->name);
	}
	fprintf(fp, "# %" PRIu64 " PCs reached that are no call site\n",
		strays);
	for (off = 0; strays && off < mod.span; off++) {
		if (!reached(off) || is_site(off))
			continue;
		fn = func_of(off);
		fprintf(fp, "# %s+0x%" PRIx64 "\n", fn ? fn->name : "?",
			fn ? off - fn->start : off);
	}
	fclose(fp);
}

/*
 * The module's coverage, after the run: the call sites reached.  The other
 * PCs are those after calls of functions that end in a tail call of KCOV's
 * (they count as edges); when they are many, MQDEV_KO is not the module
 * that was loaded, or the kernel has KASLR and its KCOV PCs are off by its
 * offset: then the share is meaningless.
 */
static void kcov_summary(void)
{
	uint64_t off, pcs = 0, strays = 0;

	for (off = 0; off < mod.span; off++) {
		if (!reached(off))
			continue;
		if (mod.ko && !is_site(off))
			strays++;
		else
			pcs++;
	}
	if (mod.ko)
		printf("kcov: %" PRIu64 " of %u module PCs reached (%.1f%%), "
		       "%u edges\n", pcs, mod.nr_sites,
		       mod.nr_sites ? 100.0 * pcs / mod.nr_sites : 0.0,
		       cov->nr_edges);
	else
		printf("kcov: %" PRIu64 " module PCs reached, %u edges (no "
		       "MQDEV_KO: the number of sites is unknown)\n", pcs,
		       cov->nr_edges);
	printf("kcov: %s; a new edge from %" PRIu64 " of %" PRIu64
	       " fresh calls and %" PRIu64 " of %" PRIu64 " mutated\n",
	       feedback ? "feedback on" : "no feedback", cov->found[0],
	       cov->calls[0], cov->found[1], cov->calls[1]);
	if (feedback)
		printf("kcov: corpus of %u calls (%u kept)\n", cov->corpus_len,
		       cov->corpus_len < CORPUS_MAX ? cov->corpus_len :
						      CORPUS_MAX);
	if (strays > pcs)
		printf("kcov: %" PRIu64 " PCs reached are no call site of %s: "
		       "not the module loaded?\n", strays, mod.ko);
	if (kcov_report && mod.ko)
		kcov_functions(kcov_report, strays);
	fflush(stdout);
}

/* ---- the loop -------------------------------------------------------------- */

static bool done(struct fuzzer *f)
{
	if (max_calls)
		return f->calls >= max_calls;
	return (f->calls & 63) == 0 && now_ns() >= deadline_ns;
}

static void fuzz_call(struct fuzzer *f)
{
	int fd = *any_fd(f);
	pid_t pid;

	switch (below(f, 100)) {
	case 0 ... 9:
		doing = "open";
		do_open(f);
		return;
	case 10 ... 13:
		doing = "close";
		do_close(f);
		return;
	case 14 ... 15:
		/* a child with our descriptors and mappings dies at once */
		pid = fork();
		if (pid == 0)
			_exit(0);
		if (pid > 0)
			waitpid(pid, NULL, 0);
		return;
	case 16 ... 22:
		doing = "netlink";
		do_netlink(f);
		return;
	}
	if (fd < 0)
		return;
	switch (below(f, 16)) {
	case 0:
		doing = "topic";
		do_topic(f, fd);
		break;
	case 1:
		doing = "attach";
		do_attach(f, fd);
		break;
	case 2:
		doing = "produce";
		do_produce(f, fd);
		break;
	case 3:
		doing = "consume";
		do_consume(f, fd);
		break;
	case 4:
		doing = "group";
		do_group(f, fd);
		break;
	case 5:
		doing = "producer";
		do_producer(f, fd);
		break;
	case 6:
		doing = "mmap";
		do_mmap(f, fd);
		break;
	case 7:
		doing = "random_ioctl";
		do_random_ioctl(f, fd);
		break;
	case 8:
		doing = "replica";
		do_replica(f, fd);
		break;
	case 9:
		doing = "restore";
		do_restore(f, fd);
		break;
	case 10:
		doing = "schedule";
		do_schedule(f, fd);
		break;
	case 11:
		doing = "exchange";
		do_exchange(f, fd);
		break;
	case 12:
		doing = "writer";
		do_writer(f, fd);
		break;
	case 13:
		doing = "share";
		do_share(f, fd);
		break;
	case 14:
		/* a fork in the VM costs tens of calls: not too often */
		if (chance(f, 30)) {
			doing = "share_die";
			do_share_die(f);
		} else {
			doing = "share";
			do_share(f, fd);
		}
		break;
	default:
		doing = "produce_batch";
		do_produce_batch(f, fd);
	}
}

static void fuzz_one(struct fuzzer *f)
{
	bool mutated = call_start(f);

	doing_call = ++f->calls;
	fuzz_call(f);
	call_end(f, mutated);
}

/* @len bytes of memory with an inaccessible page after them. */
static char *guarded(size_t len)
{
	char *p = mmap(NULL, len + 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || mprotect(p + len, 4096, PROT_NONE))
		return NULL;
	return p;
}

static void *fuzz_thread(void *arg)
{
	struct fuzzer *f = arg;
	unsigned int i;

	for (i = 0; i < NR_FDS; i++)
		f->fd[i] = -1;
	f->rbuf = guarded(RBUF_SIZE);
	f->page = guarded(PAGE_SIZE_);
	if (!f->rbuf || !f->page)
		return NULL;
	nl_open(f);
	if (cov)
		kcov_thread(f);
	while (!done(f))
		fuzz_one(f);
	return NULL;
}

static uint64_t fuzz_process(unsigned int proc)
{
	struct fuzzer *f = calloc(nr_threads, sizeof(*f));
	pthread_t *tid = calloc(nr_threads, sizeof(*tid));
	uint64_t calls = 0;
	unsigned int t, i, n;

	for (t = 0; t < nr_threads; t++) {
		f[t].rng = (seed * 1000003 + proc * 1009 + t) | 1;
		pthread_create(&tid[t], NULL, fuzz_thread, &f[t]);
	}
	for (t = 0; t < nr_threads; t++) {
		pthread_join(tid[t], NULL);
		calls += f[t].calls;
		for (i = 1; i < nr_threads && !t; i++) {
			f[0].maps += f[i].maps;
			f[0].scribbles += f[i].scribbles;
			f[0].progs += f[i].progs;
			for (n = 0; n < 0x80; n++)
				f[0].ok[n] += f[i].ok[n];
		}
	}
	/* proof that the calls got past the argument checks, too */
	printf("mqfuzz: process %u succeeded: create %" PRIu64 ", attach %"
	       PRIu64 ", produce %" PRIu64 ", batch %" PRIu64 ", seek %"
	       PRIu64 ", wait %" PRIu64 ", join %" PRIu64
	       ", commit %" PRIu64 ", init %" PRIu64 ", bind %" PRIu64
	       ", txn %" PRIu64 ", txn-offsets %" PRIu64 ", confirm %" PRIu64
	       ", replica-groups %" PRIu64 ", restore %" PRIu64
	       ", identity-list %" PRIu64 ", schedule %" PRIu64
	       ", mmap %" PRIu64
	       ", exchange %" PRIu64 ", ex-bind %" PRIu64 ", ex-produce %"
	       PRIu64 ", ex-program %" PRIu64 ", writer %" PRIu64
	       ", writer-scribbles %" PRIu64 ", share-join %" PRIu64
	       ", share-acquire %" PRIu64 ", share-ack %" PRIu64
	       ", share-describe %" PRIu64 ", dlq-info %" PRIu64 "\n",
	       proc, f[0].ok[0x01], f[0].ok[0x10], f[0].ok[0x11], f[0].ok[0x14],
	       f[0].ok[0x12], f[0].ok[0x15],
	       f[0].ok[0x20], f[0].ok[0x22], f[0].ok[0x30], f[0].ok[0x31],
	       f[0].ok[0x32], f[0].ok[0x33], f[0].ok[0x16], f[0].ok[0x17],
	       f[0].ok[0x05] + f[0].ok[0x23] + f[0].ok[0x34] + f[0].ok[0x35],
	       f[0].ok[0x36], f[0].ok[0x50], f[0].maps, f[0].ok[0x40],
	       f[0].ok[0x44], f[0].ok[0x47], f[0].progs, f[0].ok[0x18],
	       f[0].scribbles, f[0].ok[0x60], f[0].ok[0x61], f[0].ok[0x62],
	       f[0].ok[0x63], f[0].ok[0x64]);
	fflush(stdout);
	return calls;
}

/* A fuzzer that crashes says where, so that the seed can be chased. */
static void on_crash(int sig)
{
	char msg[160];
	int n;

	n = snprintf(msg, sizeof(msg), "mqfuzz: signal %d in call %" PRIu64
		     " (%s) of a thread of seed %" PRIu64 "\n", sig, doing_call,
		     doing, seed);
	if (write(STDOUT_FILENO, msg, n) < 0)
		_exit(4);
	signal(sig, SIG_DFL);
	raise(sig);
}

static pid_t workers[64];

static const char usage[] =
"usage: mqfuzz [--seed S] [--seconds T | --calls N] [--procs P] [--threads T]\n"
"              [--kcov [--no-feedback] [--kcov-report FILE]]\n"
"  --kcov         coverage-guided, on a kernel with CONFIG_KCOV (debugfs is\n"
"                 mounted if need be): the module PCs and edges each call\n"
"                 reaches, and a corpus of the calls that reached new edges,\n"
"                 which half the calls mutate; ends with \"kcov: N of M module\n"
"                 PCs reached\", M being the KCOV call sites of the mqdev.ko\n"
"                 that $MQDEV_KO names (the VM's runner sets it).  Needs\n"
"                 root; a seed no longer replays the same calls\n"
"  --no-feedback  with --kcov: measure the coverage, every call drawn fresh\n"
"                 (the calls of a run without --kcov)\n"
"  --kcov-report FILE  with --kcov: each function's call sites reached\n";

/* The deadline passed a while ago: every worker still there goes. */
static void on_alarm(int sig)
{
	unsigned int i;

	for (i = 0; i < nr_procs; i++)
		kill(workers[i], SIGKILL);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ "calls", required_argument, NULL, 'n' },
		{ "procs", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 'j' },
		{ "kcov", no_argument, NULL, 'k' },
		{ "no-feedback", no_argument, NULL, 'F' },
		{ "kcov-report", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	uint64_t calls, total = 0;
	int fds[2], status, opt, failed = 0, killed = 0;
	unsigned int p;
	pid_t pid;

	while ((opt = getopt_long(argc, argv, "s:t:n:p:j:kFr:h", opts,
				  NULL)) != -1) {
		switch (opt) {
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 't': seconds = atoi(optarg); break;
		case 'n': max_calls = strtoull(optarg, NULL, 0); break;
		case 'p': nr_procs = atoi(optarg); break;
		case 'j': nr_threads = atoi(optarg); break;
		case 'k': kcov = true; break;
		case 'F': feedback = false; break;
		case 'r': kcov_report = optarg; break;
		default:
			fputs(usage, stderr);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (!nr_procs || !nr_threads || nr_procs > 64 || nr_threads > 64)
		return 2;
	if (!kcov && (!feedback || kcov_report)) {
		fprintf(stderr, "mqfuzz: --no-feedback and --kcov-report go "
			"with --kcov\n");
		return 2;
	}
	if (kcov && kcov_setup())
		return 2;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGSEGV, on_crash);
	signal(SIGBUS, on_crash);
	signal(SIGABRT, on_crash);
	bad_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	deadline_ns = now_ns() + seconds * 1000000000ULL;
	if (pipe(fds))
		return 2;
	for (p = 0; p < nr_procs; p++) {
		workers[p] = fork();
		if (workers[p])
			continue;
		calls = fuzz_process(p);
		if (write(fds[1], &calls, sizeof(calls)) != sizeof(calls))
			_exit(3);
		_exit(0);
	}
	close(fds[1]);
	/*
	 * A thread may sleep for good (a blocking read, a full partition):
	 * whatever still runs a little after the deadline is killed, which
	 * is one more path worth taking.
	 */
	if (!max_calls) {
		signal(SIGALRM, on_alarm);
		alarm(seconds + 5);
	}
	while (read(fds[0], &calls, sizeof(calls)) == sizeof(calls))
		total += calls;
	for (p = 0; p < nr_procs; p++) {
		pid = wait(&status);
		if (pid < 0)
			break;
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			killed++;
		else if (!WIFEXITED(status) || WEXITSTATUS(status))
			failed++, printf("mqfuzz: a worker %s %d\n",
					 WIFEXITED(status) ? "exited" : "died of",
					 WIFEXITED(status) ? WEXITSTATUS(status) :
							     WTERMSIG(status));
	}
	printf("mqfuzz: seed %" PRIu64 ", %u processes x %u threads, %" PRIu64
	       " calls by those that finished, %d killed at the deadline, %d "
	       "failed\n", seed, nr_procs, nr_threads, total, killed, failed);
	if (cov)
		kcov_summary();
	return failed ? 1 : 0;
}
