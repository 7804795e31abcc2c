// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * Exchanges: create, bind, describe, and produce through one with a
 * routing key per message (uapi: MQDEV_IOC_EXCHANGE_*).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

/* A key for a uapi pointer and length: at most MQDEV_ROUTING_KEY_MAX. */
static int key_set(const char *key, __u64 *ptr, __u32 *len)
{
	size_t n = key ? strlen(key) : 0;

	if (n > MQDEV_ROUTING_KEY_MAX)
		return -EINVAL;
	*ptr = (uint64_t)(uintptr_t)key;
	*len = n;
	return 0;
}

MQDEV_EXPORT int mqdev_exchange_create(int fd, const char *name,
				       const struct mqdev_exchange_opts *opts)
{
	struct mqdev_exchange_create req = {};
	const char *alt;
	int err;

	if (!OPTS_VALID(opts, mqdev_exchange_opts))
		return -EINVAL;
	req.type = OPTS_GET(opts, type, MQDEV_EXCHANGE_DIRECT);
	req.mode = OPTS_GET(opts, mode, 0);
	alt = OPTS_GET(opts, alternate, NULL);
	err = mqdev_name_set(req.name, name);
	if (!err && alt)
		err = mqdev_name_set(req.alternate, alt);
	return err ?: mqdev_ioctl(fd, MQDEV_IOC_EXCHANGE_CREATE, &req);
}

MQDEV_EXPORT int mqdev_exchange_delete(int fd, const char *name)
{
	struct mqdev_topic_id req = {};
	int err = mqdev_name_set(req.name, name);

	return err ?: mqdev_ioctl(fd, MQDEV_IOC_EXCHANGE_DELETE, &req);
}

MQDEV_EXPORT int mqdev_exchange_list(int fd, char (**names)[MQDEV_NAME_SIZE])
{
	return mqdev_list_names(fd, MQDEV_IOC_EXCHANGE_LIST, names);
}

MQDEV_EXPORT int mqdev_exchange_describe(int fd, const char *name,
					 struct mqdev_exchange_info *info,
					 struct mqdev_binding_info *bindings,
					 uint32_t nbindings)
{
	int err;

	memset(info, 0, sizeof(*info));
	err = mqdev_name_set(info->name, name);
	if (err)
		return err;
	info->bindings = (uint64_t)(uintptr_t)bindings;
	info->bindings_count = bindings ? nbindings : 0;
	info->binding_info_size = sizeof(*bindings);
	return mqdev_ioctl(fd, MQDEV_IOC_EXCHANGE_DESCRIBE, info);
}

/* A headers exchange binding's headers, encoded into @block. */
static int bind_headers(struct mqdev_exchange_bind *req,
			const struct mqdev_bind_opts *opts,
			unsigned char block[MQDEV_BIND_HEADERS_MAX])
{
	const struct mqdev_header *h = OPTS_GET(opts, headers, NULL);
	unsigned int n = OPTS_GET(opts, nheaders, 0);
	int len;

	req->match = OPTS_GET(opts, match, MQDEV_MATCH_ALL);
	if (!n)		/* no block: no headers, as an empty one */
		return 0;
	len = mqdev_headers_encode(block, MQDEV_BIND_HEADERS_MAX, h, n);
	if (len < 0)
		return len == -ENOSPC ? -E2BIG : len;
	req->headers = (uint64_t)(uintptr_t)block;
	req->headers_len = len;
	return 0;
}

static int bind_req(struct mqdev_exchange_bind *req, const char *exchange,
		    const char *topic, const char *key,
		    const struct mqdev_bind_opts *opts,
		    unsigned char block[MQDEV_BIND_HEADERS_MAX])
{
	if (!OPTS_VALID(opts, mqdev_bind_opts))
		return -EINVAL;
	memset(req, 0, sizeof(*req));
	req->partition = OPTS_GET(opts, partition_set, false) ?
			 OPTS_GET(opts, partition, 0) : MQDEV_PARTITION_ANY;
	if (OPTS_GET(opts, to_exchange, false))
		req->flags |= MQDEV_BIND_EXCHANGE;
	return mqdev_name_set(req->exchange, exchange) ?:
	       mqdev_name_set(req->topic, topic) ?:
	       key_set(key, &req->key, &req->key_len) ?:
	       bind_headers(req, opts, block);
}

MQDEV_EXPORT int mqdev_exchange_bind(int fd, const char *exchange,
				     const char *topic, const char *key,
				     const struct mqdev_bind_opts *opts)
{
	unsigned char block[MQDEV_BIND_HEADERS_MAX];
	struct mqdev_exchange_bind req;
	int err = bind_req(&req, exchange, topic, key, opts, block);

	return err ?: mqdev_ioctl(fd, MQDEV_IOC_EXCHANGE_BIND, &req);
}

MQDEV_EXPORT int mqdev_exchange_unbind(int fd, const char *exchange,
				       const char *topic, const char *key,
				       const struct mqdev_bind_opts *opts)
{
	unsigned char block[MQDEV_BIND_HEADERS_MAX];
	struct mqdev_exchange_bind req;
	int err = bind_req(&req, exchange, topic, key, opts, block);

	return err ?: mqdev_ioctl(fd, MQDEV_IOC_EXCHANGE_UNBIND, &req);
}

MQDEV_EXPORT int mqdev_exchange_program(int fd, const char *exchange,
					const struct sock_filter *insns,
					uint32_t len, char *log,
					size_t log_size)
{
	struct mqdev_exchange_program req = {
		.insns = (uint64_t)(uintptr_t)insns,
		.len = insns ? len : 0,
		.flags = insns ? 0 : MQDEV_PROG_DETACH,
		.log = (uint64_t)(uintptr_t)log,
		.log_size = log ? (log_size > UINT32_MAX ? UINT32_MAX :
				   (uint32_t)log_size) : 0,
	};
	int err = mqdev_name_set(req.name, exchange);

	if (log && log_size)
		log[0] = '\0';
	return err ?: mqdev_ioctl(fd, MQDEV_IOC_EXCHANGE_PROGRAM, &req);
}

MQDEV_EXPORT int mqdev_exchange_attach(int fd, const char *exchange)
{
	struct mqdev_exchange_attach req = {};
	int err = mqdev_name_set(req.name, exchange);

	return err ?: mqdev_ioctl(fd, MQDEV_IOC_EXCHANGE_ATTACH, &req);
}

MQDEV_EXPORT int mqdev_exchange_produce(int fd, struct mqdev_exchange_msg *msgs,
					uint32_t count,
					struct mqdev_exchange_ack *acks,
					uint32_t nacks)
{
	struct mqdev_exchange_produce req = {
		.msgs = (uint64_t)(uintptr_t)msgs,
		.count = count,
		.msg_size = sizeof(*msgs),
		.acks = (uint64_t)(uintptr_t)acks,
		.acks_count = acks ? nacks : 0,
		.ack_size = sizeof(*acks),
	};

	return mqdev_ioctl(fd, MQDEV_IOC_EXCHANGE_PRODUCE, &req);
}

MQDEV_EXPORT int mqdev_exchange_send(int fd, const char *routing_key,
				     const void *value, uint32_t value_len,
				     const struct mqdev_exchange_send_opts *opts,
				     struct mqdev_exchange_ack *acks,
				     uint32_t nacks)
{
	struct mqdev_exchange_msg msg = {
		.value = (uint64_t)(uintptr_t)value,
		.value_len = value_len,
	};
	const void *key;
	int n;

	if (!OPTS_VALID(opts, mqdev_exchange_send_opts))
		return -EINVAL;
	if (key_set(routing_key, &msg.routing_key, &msg.routing_key_len))
		return -EINVAL;
	key = OPTS_GET(opts, key, NULL);
	msg.key = (uint64_t)(uintptr_t)key;
	msg.key_len = key ? OPTS_GET(opts, key_len, 0) : 0;
	msg.flags = OPTS_GET(opts, mandatory, false) ? MQDEV_EXMSG_MANDATORY : 0;
	msg.record_flags = OPTS_GET(opts, record_flags, 0);
	n = mqdev_exchange_produce(fd, &msg, 1, acks, nacks);
	if (n < 0)
		return n;
	if (n != 1)
		return -EAGAIN;
	if (msg.status & MQDEV_EXMSG_DROPPED)
		return -ENOENT;	/* never silent: dropped, and counted */
	return msg.nr_acks;
}
