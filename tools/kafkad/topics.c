// SPDX-License-Identifier: GPL-2.0
/*
 * mqdev-kafkad: the libmqdev handles of the topics clients use, opened on
 * first use and kept; dropped when an operation on them fails (the topic
 * may have been deleted, or deleted and created again), to be opened anew.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "kafkad.h"

/*
 * A Kafka name into a uapi name field: false if it is null, empty, too
 * long, or holds a NUL.
 */
bool kname(char dst[MQDEV_NAME_SIZE], const struct kstr *s)
{
	if (s->len <= 0 || s->len > MQDEV_NAME_SIZE - 1 ||
	    memchr(s->p, 0, s->len))
		return false;
	memcpy(dst, s->p, s->len);
	dst[s->len] = 0;
	return true;
}

/**
 * topic_get() - The cached handles of topic @name, opened if need be.
 * @d: the daemon
 * @name: the topic's name, from a request
 * @th: set to the handles
 *
 * Return: 0, -EINVAL for a name mqdev cannot have, or libmqdev's -errno
 * (-ENOENT: no such topic).
 */
int topic_get(struct daemon *d, const struct kstr *name,
	      struct topic_handle **th)
{
	char n[MQDEV_NAME_SIZE];
	struct mqdev_topic_info info;
	struct topic_handle *t;
	int err;

	if (!kname(n, name))
		return -EINVAL;
	for (t = d->topics; t; t = t->next) {
		if (!strcmp(t->name, n)) {
			*th = t;
			return 0;
		}
	}
	err = mqdev_topic_describe(d->mqfd, n, &info, NULL, 0);
	if (err)
		return err;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cons = calloc(info.partitions, sizeof(*t->cons));
	if (!t->cons) {
		free(t);
		return -ENOMEM;
	}
	strcpy(t->name, n);
	t->partitions = info.partitions;
	t->max_record = info.max_record;
	t->topic_flags = info.flags;
	t->capacity = info.capacity;
	t->next = d->topics;
	d->topics = t;
	*th = t;
	return 0;
}

static void topic_free(struct topic_handle *t)
{
	uint32_t p;

	mqdev_producer_free(t->prod);
	mqdev_producer_free(t->prod_all);
	for (p = 0; p < t->partitions; p++)
		mqdev_consumer_free(t->cons[p]);
	free(t->cons);
	free(t);
}

void topic_drop(struct daemon *d, struct topic_handle *th)
{
	struct topic_handle **pp;
	uint32_t p;

	for (pp = &d->topics; *pp; pp = &(*pp)->next) {
		if (*pp == th) {
			*pp = th->next;
			for (p = 0; p < th->partitions; p++)
				d->nconsumers -= !!th->cons[p];
			topic_free(th);
			return;
		}
	}
}

void topics_free(struct daemon *d)
{
	while (d->topics)
		topic_drop(d, d->topics);
}

/**
 * topic_describe() - A topic and all its partitions.
 * @d: the daemon
 * @name: the topic
 * @info: filled
 * @parts: set to a static array of info->partitions entries, valid until
 *	the next call
 *
 * Return: 0 or libmqdev's -errno.
 */
int topic_describe(struct daemon *d, const char *name,
		   struct mqdev_topic_info *info,
		   struct mqdev_partition_info **parts)
{
	static struct mqdev_partition_info buf[MQDEV_MAX_PARTITIONS];
	int err;

	err = mqdev_topic_describe(d->mqfd, name, info, buf,
				   MQDEV_MAX_PARTITIONS);
	if (err)
		return err;
	if (info->partitions > MQDEV_MAX_PARTITIONS)
		return -EIO;
	*parts = buf;
	return 0;
}
