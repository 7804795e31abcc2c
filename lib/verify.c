// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The loss and duplicate detector.  A bound producer numbers its records
 * 0, 1, 2, ... in each partition, so a reader that sees every record of a
 * partition in order sees each producer's numbers run on by one: a number
 * ahead of the one due is a gap (records lost: overwritten, or never
 * appended), a number behind it is a repeat (a record delivered twice, or a
 * retry appended twice).  Numbers are compared in 32-bit serial arithmetic.
 */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#define VERIFIER_MIN_SLOTS	64

struct stream {
	uint64_t	producer_id;	/* 0: empty slot */
	uint32_t	partition;
	uint32_t	next;		/* the sequence number due */
};

struct mqdev_verifier {
	unsigned int			flags;
	mqdev_anomaly_fn		fn;
	void				*ctx;
	struct stream			*slots;
	size_t				nr_slots;	/* a power of two */
	size_t				used;
	struct mqdev_verify_stats	stats;
};

MQDEV_EXPORT int mqdev_verifier_new(unsigned int flags, mqdev_anomaly_fn fn,
				    void *ctx, struct mqdev_verifier **verifier)
{
	struct mqdev_verifier *v;

	if (flags & ~MQDEV_VERIFY_FROM_START)
		return -EINVAL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->slots = calloc(VERIFIER_MIN_SLOTS, sizeof(*v->slots));
	if (!v->slots) {
		free(v);
		return -ENOMEM;
	}
	v->nr_slots = VERIFIER_MIN_SLOTS;
	v->flags = flags;
	v->fn = fn;
	v->ctx = ctx;
	*verifier = v;
	return 0;
}

MQDEV_EXPORT void mqdev_verifier_free(struct mqdev_verifier *v)
{
	if (!v)
		return;
	free(v->slots);
	free(v);
}

static size_t stream_hash(uint64_t producer_id, uint32_t partition)
{
	uint64_t h = (producer_id ^ ((uint64_t)partition << 48)) *
		     0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 32);
}

static struct stream *stream_slot(struct stream *slots, size_t nr_slots,
				  uint64_t producer_id, uint32_t partition)
{
	size_t i = stream_hash(producer_id, partition) & (nr_slots - 1);

	while (slots[i].producer_id &&
	       (slots[i].producer_id != producer_id ||
		slots[i].partition != partition))
		i = (i + 1) & (nr_slots - 1);
	return &slots[i];
}

/* Keep the table at most half full. */
static int verifier_grow(struct mqdev_verifier *v)
{
	size_t nr = v->nr_slots * 2, i;
	struct stream *slots, *s;

	slots = calloc(nr, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (i = 0; i < v->nr_slots; i++) {
		if (!v->slots[i].producer_id)
			continue;
		s = stream_slot(slots, nr, v->slots[i].producer_id,
				v->slots[i].partition);
		*s = v->slots[i];
	}
	free(v->slots);
	v->slots = slots;
	v->nr_slots = nr;
	return 0;
}

static void verifier_report(struct mqdev_verifier *v,
			    const struct mqdev_record *rec, uint32_t kind,
			    uint32_t expected)
{
	struct mqdev_anomaly a = {
		.sz = sizeof(a),
		.kind = kind,
		.partition = rec->partition,
		.producer_id = rec->producer_id,
		.expected = expected,
		.sequence = rec->sequence,
		.offset = rec->offset,
		.count = kind == MQDEV_ANOMALY_GAP ? rec->sequence - expected : 0,
	};

	if (kind == MQDEV_ANOMALY_GAP) {
		v->stats.gaps++;
		v->stats.missing += a.count;
	} else {
		v->stats.repeats++;
	}
	if (v->fn)
		v->fn(v->ctx, &a);
}

/* 0, or the MQDEV_ANOMALY_* the record shows (reported), or -ENOMEM. */
MQDEV_EXPORT int mqdev_verifier_check(struct mqdev_verifier *v,
				      const struct mqdev_record *rec)
{
	struct stream *s;
	int32_t ahead;
	int err;

	if (!rec->producer_id)
		return 0;
	if (2 * (v->used + 1) > v->nr_slots) {
		err = verifier_grow(v);
		if (err)
			return err;
	}
	v->stats.records++;
	s = stream_slot(v->slots, v->nr_slots, rec->producer_id,
			rec->partition);
	if (!s->producer_id) {
		s->producer_id = rec->producer_id;
		s->partition = rec->partition;
		/* Joined mid-stream, the first number seen is where it starts. */
		s->next = v->flags & MQDEV_VERIFY_FROM_START ? 0 : rec->sequence;
		v->used++;
		v->stats.producers++;
	}
	ahead = (int32_t)(rec->sequence - s->next);
	if (!ahead) {
		s->next++;
		return 0;
	}
	if (ahead < 0) {
		verifier_report(v, rec, MQDEV_ANOMALY_REPEAT, s->next);
		return MQDEV_ANOMALY_REPEAT;
	}
	verifier_report(v, rec, MQDEV_ANOMALY_GAP, s->next);
	s->next = rec->sequence + 1;
	return MQDEV_ANOMALY_GAP;
}

MQDEV_EXPORT int mqdev_verifier_stats(const struct mqdev_verifier *v,
				      struct mqdev_verify_stats *stats)
{
	int err = mqdev_out_check(stats);

	if (err)
		return err;
	OUT_COPY(stats, &v->stats, mqdev_verify_stats);
	return 0;
}
