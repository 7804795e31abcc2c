// SPDX-License-Identifier: GPL-2.0
/*
 * Routing programs: a classic BPF program attached to an exchange chooses
 * the bindings of each message (the context and the verdicts are in the
 * uapi header, MQDEV_IOC_EXCHANGE_PROGRAM).
 *
 * The program is checked and run by the kernel's own classic BPF code, as
 * seccomp's filters are: bpf_prog_create_from_user() runs the classic
 * checker (bpf_check_classic(): known opcodes, jumps forward and within the
 * program, scratch slots written before they are read, a return at the
 * end) and then prog_check() below, which allows only what makes sense on
 * a struct in memory instead of a packet, and turns the context's word
 * loads into loads from that struct.  The result is translated to eBPF (or
 * JITed) and run with bpf_prog_run_pin_on_cpu(): a program of n
 * instructions runs at most n of them, never loops, and reads nothing but
 * its context, so any user who may write to the exchange may attach one.
 *
 * The classic checker says no more than EINVAL; prog_explain() goes over a
 * refused program again to tell the caller which instruction and why.
 */

#include <linux/filter.h>
#include <linux/slab.h>
#include <linux/string.h>
#include "xroute.h"

#define CTX_SIZE	sizeof(struct mqdev_prog_ctx)
#define CTX_BYTES	offsetof(struct mqdev_prog_ctx, routing_key)
#define LOG_MAX		160

static_assert(CTX_SIZE % 4 == 0 && CTX_BYTES % 4 == 0);

/* Why @f, at @pc of @len, may not be in a routing program, or NULL. */
static const char *insn_refusal(const struct sock_filter *f, u32 pc, u32 len)
{
	switch (f->code) {
	case BPF_LD | BPF_W | BPF_ABS:
		if (f->k >= CTX_SIZE || f->k & 3)
			return "a load outside the context or not 4-aligned";
		return NULL;
	case BPF_LD | BPF_H | BPF_ABS:
	case BPF_LD | BPF_B | BPF_ABS:
	case BPF_LD | BPF_W | BPF_IND:
	case BPF_LD | BPF_H | BPF_IND:
	case BPF_LD | BPF_B | BPF_IND:
	case BPF_LDX | BPF_B | BPF_MSH:
		return "a packet load: only ld [k] of whole words reads the context";
	case BPF_LD | BPF_W | BPF_LEN:
	case BPF_LDX | BPF_W | BPF_LEN:
	case BPF_RET | BPF_K:
	case BPF_RET | BPF_A:
	case BPF_ALU | BPF_ADD | BPF_K:
	case BPF_ALU | BPF_ADD | BPF_X:
	case BPF_ALU | BPF_SUB | BPF_K:
	case BPF_ALU | BPF_SUB | BPF_X:
	case BPF_ALU | BPF_MUL | BPF_K:
	case BPF_ALU | BPF_MUL | BPF_X:
	case BPF_ALU | BPF_DIV | BPF_X:
	case BPF_ALU | BPF_MOD | BPF_X:
	case BPF_ALU | BPF_AND | BPF_K:
	case BPF_ALU | BPF_AND | BPF_X:
	case BPF_ALU | BPF_OR | BPF_K:
	case BPF_ALU | BPF_OR | BPF_X:
	case BPF_ALU | BPF_XOR | BPF_K:
	case BPF_ALU | BPF_XOR | BPF_X:
	case BPF_ALU | BPF_LSH | BPF_X:
	case BPF_ALU | BPF_RSH | BPF_X:
	case BPF_ALU | BPF_NEG:
	case BPF_LD | BPF_IMM:
	case BPF_LDX | BPF_IMM:
	case BPF_MISC | BPF_TAX:
	case BPF_MISC | BPF_TXA:
		return NULL;
	case BPF_ALU | BPF_DIV | BPF_K:
	case BPF_ALU | BPF_MOD | BPF_K:
		return f->k ? NULL : "a division by the constant 0";
	case BPF_ALU | BPF_LSH | BPF_K:
	case BPF_ALU | BPF_RSH | BPF_K:
		return f->k < 32 ? NULL : "a shift by 32 or more";
	case BPF_LD | BPF_MEM:
	case BPF_LDX | BPF_MEM:
	case BPF_ST:
	case BPF_STX:
		return f->k < BPF_MEMWORDS ? NULL : "a scratch slot past M[15]";
	case BPF_JMP | BPF_JA:
		return f->k < len - pc - 1 ? NULL : "a jump past the end";
	case BPF_JMP | BPF_JEQ | BPF_K:
	case BPF_JMP | BPF_JEQ | BPF_X:
	case BPF_JMP | BPF_JGE | BPF_K:
	case BPF_JMP | BPF_JGE | BPF_X:
	case BPF_JMP | BPF_JGT | BPF_K:
	case BPF_JMP | BPF_JGT | BPF_X:
	case BPF_JMP | BPF_JSET | BPF_K:
	case BPF_JMP | BPF_JSET | BPF_X:
		return f->jt < len - pc - 1 && f->jf < len - pc - 1 ? NULL :
		       "a jump past the end";
	default:
		return "an opcode routing programs do not have";
	}
}

/*
 * bpf_prepare_filter()'s extra check, after the classic checker's: every
 * instruction one of a routing program's, and the context's loads turned
 * into loads from the struct the program runs on (as seccomp does).
 */
static int prog_check(struct sock_filter *filter, unsigned int len)
{
	struct sock_filter *f;
	u32 pc;

	for (pc = 0; pc < len; pc++) {
		f = &filter[pc];
		if (insn_refusal(f, pc, len))
			return -EINVAL;
		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			f->code = BPF_LDX | BPF_W | BPF_ABS;
			break;
		case BPF_LD | BPF_W | BPF_LEN:
			f->code = BPF_LD | BPF_IMM;
			f->k = CTX_SIZE;
			break;
		case BPF_LDX | BPF_W | BPF_LEN:
			f->code = BPF_LDX | BPF_IMM;
			f->k = CTX_SIZE;
			break;
		}
	}
	return 0;
}

/* The first instruction refused and why, into @log; @insns is the user's. */
static void prog_explain(const struct mqdev_exchange_program *req,
			 char *log)
{
	struct sock_filter *insns;
	const char *why = NULL;
	u32 pc;

	insns = kvmalloc_array(req->len, sizeof(*insns), GFP_KERNEL);
	if (!insns) {
		strscpy(log, "no memory to say why", LOG_MAX);
		return;
	}
	if (copy_from_user(insns, u64_to_user_ptr(req->insns),
			   req->len * sizeof(*insns))) {
		strscpy(log, "the instructions are not readable", LOG_MAX);
		goto out;
	}
	for (pc = 0; pc < req->len && !why; pc++)
		why = insn_refusal(&insns[pc], pc, req->len);
	if (why)
		snprintf(log, LOG_MAX, "instruction %u: %s", pc - 1, why);
	else if (BPF_CLASS(insns[req->len - 1].code) != BPF_RET)
		snprintf(log, LOG_MAX, "instruction %u: the last must return",
			 req->len - 1);
	else
		strscpy(log,
			"refused by the classic BPF checker: a scratch slot read before it is written?",
			LOG_MAX);
out:
	kvfree(insns);
}

static void prog_log(const struct mqdev_exchange_program *req,
		     const char *log)
{
	u32 n = min_t(u32, strlen(log) + 1, req->log_size);
	char __user *dst = u64_to_user_ptr(req->log);

	/* the error is the answer; the log, a courtesy: its fault is ignored */
	if (n && (copy_to_user(dst, log, n - 1) || put_user(0, dst + n - 1)))
		return;
}

/**
 * mqdev_prog_load() - check and load a routing program
 * @req: MQDEV_IOC_EXCHANGE_PROGRAM's request, not a detach
 *
 * A refused program's reason goes to the caller's log.  The program's
 * memory is charged to the caller's memory cgroup (bpf_prog_alloc()).
 *
 * Return: the program, or ERR_PTR(-EINVAL) for a program refused or of no
 * or too many instructions, -EFAULT or -ENOMEM.
 */
struct bpf_prog *mqdev_prog_load(const struct mqdev_exchange_program *req)
{
	struct sock_fprog fprog = {
		.len = req->len,
		.filter = u64_to_user_ptr(req->insns),
	};
	char log[LOG_MAX];
	struct bpf_prog *prog;
	int err;

	if (!req->len || req->len > MQDEV_PROG_MAX_INSNS) {
		snprintf(log, sizeof(log), "%u instructions: 1 to %u may be",
			 req->len, MQDEV_PROG_MAX_INSNS);
		prog_log(req, log);
		return ERR_PTR(-EINVAL);
	}
	err = bpf_prog_create_from_user(&prog, &fprog, prog_check, false);
	if (err == -EINVAL) {
		prog_explain(req, log);
		prog_log(req, log);
	}
	return err ? ERR_PTR(err) : prog;
}

/**
 * mqdev_prog_free() - free a routing program no one runs any more
 * @prog: the program, or NULL
 */
void mqdev_prog_free(struct bpf_prog *prog)
{
	if (prog)
		bpf_prog_destroy(prog);
}

/**
 * mqdev_prog_ctx_fill() - a message's context, for a routing program
 * @ctx: MQDEV_PROG_CTX_WORDS words
 * @m: the message
 * @rkey: its routing key
 * @key: its key
 * @value: its value's first @value_bytes bytes
 * @value_bytes: how many, at most MQDEV_ROUTE_VALUE_BYTES
 *
 * The byte arrays are laid out so that a word load reads four bytes in
 * network order, as a packet filter reads a packet.
 */
void mqdev_prog_ctx_fill(u32 *ctx, const struct mqdev_exchange_msg *m,
			 const void *rkey, const void *key,
			 const void *value, u32 value_bytes)
{
	struct mqdev_prog_ctx *rc = (struct mqdev_prog_ctx *)ctx;
	u32 i;

	memset(rc, 0, sizeof(*rc));
	rc->routing_key_len = m->routing_key_len;
	rc->key_len = m->key_len;
	rc->value_len = m->value_len;
	rc->record_flags = m->record_flags;
	memcpy(rc->routing_key, rkey, m->routing_key_len);
	memcpy(rc->key, key, min_t(u32, m->key_len, sizeof(rc->key)));
	memcpy(rc->value, value, min_t(u32, value_bytes, sizeof(rc->value)));
	for (i = CTX_BYTES / 4; i < MQDEV_PROG_CTX_WORDS; i++)
		ctx[i] = be32_to_cpup((__be32 *)&ctx[i]);
}

/**
 * mqdev_prog_run() - a routing program's verdict on a message
 * @prog: the program
 * @ctx: the message's context, from mqdev_prog_ctx_fill()
 * @nr_bindings: the exchange's bindings now
 *
 * Return: the verdict, as MQDEV_IOC_EXCHANGE_PROGRAM says.
 */
u32 mqdev_prog_run(const struct bpf_prog *prog, u32 *ctx, u32 nr_bindings)
{
	((struct mqdev_prog_ctx *)ctx)->nr_bindings = nr_bindings;
	return bpf_prog_run_pin_on_cpu(prog, ctx);
}
