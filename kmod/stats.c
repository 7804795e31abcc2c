// SPDX-License-Identifier: GPL-2.0
/*
 * Statistics: what each partition, group and the module counts, read over
 * the netlink family (MQDEV_CMD_STATS_GET, MQDEV_CMD_MODULE_STATS_GET).
 *
 * Nothing here may slow the data path down, so each counter is kept where
 * it costs least:
 *
 *   counter              kept                     cost on its path
 *   -------------------  -----------------------  -------------------------
 *   records, bytes in    next_offset and head,    none: the ring's own
 *                        under part->lock         positions only grow
 *   drops                tail_offset, of an       none
 *                        overwrite topic
 *   records, bytes out   per CPU, per partition   two adds per read(2)
 *   waits for room, ns   per CPU                  only when a producer sleeps
 *   wake-ups             per CPU                  only when someone sleeps
 *   refusals by reason   per CPU                  only on a refusal
 *   group commits,       in the group, under      an add under the lock
 *     rebalances         groups_lock              taken anyway
 *   lag                  derived when read        none
 *   module charges       limits.c, under          an add under the lock
 *                        mqdev_users_lock         taken anyway
 *
 * The per-CPU counters of a topic are one allocation of nr_parts + 1
 * entries: the last counts refusals that came before a partition was
 * chosen (a bad partition, a message that could not be copied).  They are
 * summed when read, without stopping anyone, so a read sees each counter
 * of some recent moment, not all of one moment.  A u64 per CPU is read
 * whole on 64-bit machines; a 32-bit one may see a counter torn while it
 * carries.
 */

#include <linux/percpu.h>
#include "mqdev.h"

/**
 * mqdev_stats_init() - allocate a topic's per-CPU counters
 * @topic: the topic, its nr_parts set
 *
 * Return: 0 or -ENOMEM.
 */
int mqdev_stats_init(struct mqdev_topic *topic)
{
	u32 i;

	topic->stats = __alloc_percpu_gfp((topic->nr_parts + 1) *
					  sizeof(struct mqdev_part_pcpu),
					  __alignof__(struct mqdev_part_pcpu),
					  GFP_KERNEL_ACCOUNT);
	if (!topic->stats)
		return -ENOMEM;
	for (i = 0; i < topic->nr_parts; i++)
		topic->parts[i].stats = topic->stats + i;
	return 0;
}

/**
 * mqdev_stats_free() - free what mqdev_stats_init() allocated
 * @topic: the topic
 */
void mqdev_stats_free(struct mqdev_topic *topic)
{
	free_percpu(topic->stats);
}

/* The reason a produce's error counts as, or -1 for one that is no refusal. */
static int stats_reason(int err)
{
	switch (err) {
	case -EAGAIN:
		return MQDEV_REFUSED_FULL;
	case -EMSGSIZE:
		return MQDEV_REFUSED_TOO_BIG;
	case -EINVAL:
	case -E2BIG:
		return MQDEV_REFUSED_INVALID;
	case -EFAULT:
		return MQDEV_REFUSED_FAULT;
	case -ESTALE:
		return MQDEV_REFUSED_FENCED;
	case -EBADMSG:
		return MQDEV_REFUSED_SEQUENCE;
	case -ETIMEDOUT:
	case -EFBIG:
		return MQDEV_REFUSED_TXN;
	case -EINTR:
	case -ERESTARTSYS:
	case -EIDRM:
		return -1;	/* the producer's signal, the topic's end */
	}
	return MQDEV_REFUSED_OTHER;
}

/**
 * mqdev_stats_refused() - count a refused produce
 * @topic: the topic
 * @part: the partition it was for; past the last, none was chosen yet
 * @err: the error the producer gets
 */
void mqdev_stats_refused(struct mqdev_topic *topic, u32 part, int err)
{
	int reason = stats_reason(err);

	if (reason < 0)
		return;
	this_cpu_inc(topic->stats[min(part, topic->nr_parts)].refused[reason]);
}

/* Add up one entry of the per-CPU array, counter by counter. */
static void stats_sum(struct mqdev_part_pcpu __percpu *stats,
		      struct mqdev_part_pcpu *sum)
{
	const u64 *c;
	u64 *s = (u64 *)sum;
	unsigned int i;
	int cpu;

	static_assert(sizeof(*sum) % sizeof(u64) == 0);
	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		c = (const u64 *)per_cpu_ptr(stats, cpu);
		for (i = 0; i < sizeof(*sum) / sizeof(u64); i++)
			s[i] += READ_ONCE(c[i]);
	}
}

/**
 * mqdev_stats_read() - a partition's counters
 * @part: the partition
 * @st: filled in
 *
 * What appends count is read under part->lock, as a describe reads it.
 * Every record an overwrite topic reclaims is reclaimed to make room, read
 * or not, so its tail's offset counts its drops; a blocking topic drops
 * none (it reclaims only what every holding reader has read).
 */
void mqdev_stats_read(struct mqdev_part *part, struct mqdev_part_stats *st)
{
	bool overwrite = part->topic->flags & MQDEV_TOPIC_OVERWRITE;

	stats_sum(part->stats, &st->pcpu);
	mutex_lock(&part->lock);
	st->records_in = part->next_offset;
	st->bytes_in = part->head;
	st->drops = overwrite ? part->tail_offset : 0;
	st->kept_records = part->next_offset - part->tail_offset;
	st->kept_bytes = part->head - part->tail;
	mutex_unlock(&part->lock);
}

/**
 * mqdev_stats_read_topic() - what a topic counted before choosing a partition
 * @topic: the topic
 * @sum: filled in: refusals only
 */
void mqdev_stats_read_topic(struct mqdev_topic *topic,
			    struct mqdev_part_pcpu *sum)
{
	stats_sum(topic->stats + topic->nr_parts, sum);
}
