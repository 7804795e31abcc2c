// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * RocketMQ's RECONSUME_LATER for consumer group members: a record handed
 * back is retried through the group's retry topic after a back-off, or
 * past its deliveries written to the dead-letter topic, by the kernel
 * (MQDEV_IOC_GROUP_RECONSUME; Documentation/mqdev.rst, "Retries of
 * consumer groups").
 */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

/* The request of @opts for @rec; 0 or -EINVAL. */
static int reconsume_req(struct mqdev_reconsume *req,
			 const struct mqdev_record *rec,
			 const struct mqdev_reconsume_opts *opts)
{
	const char *retry = OPTS_GET(opts, retry_topic, NULL);
	const char *dlq = OPTS_GET(opts, dlq_topic, NULL);
	const char *error = OPTS_GET(opts, error, NULL);
	const uint32_t *backoff = OPTS_GET(opts, backoff_ms, NULL);
	uint32_t n = OPTS_GET(opts, nr_backoff, 0);

	req->partition = rec->partition;
	req->offset = rec->offset;
	req->flags = OPTS_GET(opts, dead_now, false) ? MQDEV_RECONSUME_DEAD : 0;
	req->max_deliveries = OPTS_GET(opts, max_deliveries, 0);
	req->delay_ms = OPTS_GET(opts, delay_ms, 0);
	if ((retry && mqdev_name_set(req->retry_topic, retry)) ||
	    (dlq && mqdev_name_set(req->dlq, dlq)))
		return -EINVAL;
	if (n > MQDEV_SHARE_BACKOFF_LEVELS || (n && !backoff))
		return -EINVAL;
	req->nr_backoff = n;
	if (n)
		memcpy(req->backoff_ms, backoff, n * sizeof(*backoff));
	if (error) {
		if (strlen(error) >= sizeof(req->error))
			return -EINVAL;
		strcpy(req->error, error);
	}
	return 0;
}

MQDEV_EXPORT int
mqdev_consumer_reconsume_later(struct mqdev_consumer *c,
			       const struct mqdev_record *rec,
			       const struct mqdev_reconsume_opts *opts)
{
	struct mqdev_reconsume req = { 0 };
	int err;

	if (!OPTS_VALID(opts, mqdev_reconsume_opts) || !rec || !c ||
	    !mqdev_consumer_holds(c, rec))
		return -EINVAL;
	err = reconsume_req(&req, rec, opts);
	if (err)
		return err;
	req.generation = mqdev_consumer_generation(c);
	err = mqdev_ioctl(mqdev_consumer_fd(c), MQDEV_IOC_GROUP_RECONSUME, &req);
	return err ? err : (int)req.result;
}

MQDEV_EXPORT uint32_t mqdev_record_deliveries(const struct mqdev_record *rec)
{
	static const char name[] = MQDEV_DLQ_HDR_COUNT;
	struct mqdev_header_iter it = { 0 };
	struct mqdev_header h;
	char num[16];
	unsigned long n;

	/* Only the kernel's count: a producer's header of its name is not. */
	if (!(rec->flags & MQDEV_RECORD_RETRY))
		return 1;
	while (mqdev_record_header_next(rec, &it, &h) == 1) {
		if (h.key_len != sizeof(name) - 1 ||
		    memcmp(h.key, name, h.key_len) || h.value_len <= 0 ||
		    (size_t)h.value_len >= sizeof(num))
			continue;
		memcpy(num, h.value, h.value_len);
		num[h.value_len] = 0;
		n = strtoul(num, NULL, 10);
		return n ? n : 1;
	}
	return 1;
}
