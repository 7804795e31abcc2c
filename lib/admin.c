// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* Topic administration over /dev/mq ioctls. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

MQDEV_EXPORT int mqdev_open(void)
{
	int fd = open(MQDEV_DEVICE, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

MQDEV_EXPORT uint64_t mqdev_features(int fd)
{
	struct mqdev_version req = {};

	/* A kernel from before MQDEV_IOC_VERSION (ENOTTY) says nothing. */
	if (mqdev_ioctl(fd, MQDEV_IOC_VERSION, &req))
		return 0;
	return req.features;
}

MQDEV_EXPORT int mqdev_name_set(char dst[MQDEV_NAME_SIZE], const char *name)
{
	size_t len = strlen(name);

	if (len > MQDEV_NAME_MAX)
		return -EINVAL;
	memset(dst, 0, MQDEV_NAME_SIZE);
	memcpy(dst, name, len);
	return 0;
}

int mqdev_attach_fd(const char *topic, uint32_t mode, int oflags,
		    struct mqdev_attach *attach)
{
	int fd, err;

	memset(attach, 0, sizeof(*attach));
	err = mqdev_name_set(attach->name, topic);
	if (err)
		return err;
	attach->flags = mode;

	fd = open(MQDEV_DEVICE, O_RDWR | O_CLOEXEC | oflags);
	if (fd < 0)
		return -errno;
	err = mqdev_ioctl(fd, MQDEV_IOC_ATTACH, attach);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

MQDEV_EXPORT int mqdev_topic_create(int fd, const char *name,
				    const struct mqdev_topic_opts *opts)
{
	struct mqdev_topic_create req = {};
	int err;

	if (!OPTS_VALID(opts, mqdev_topic_opts))
		return -EINVAL;
	req.capacity = OPTS_GET(opts, capacity, 0);
	req.partitions = OPTS_GET(opts, partitions, 0) ?: 1;
	req.flags = OPTS_GET(opts, flags, 0);
	req.mode = OPTS_GET(opts, mode, 0);
	req.min_insync = OPTS_GET(opts, min_insync, 0);
	err = mqdev_name_set(req.name, name);
	return err ?: mqdev_ioctl(fd, MQDEV_IOC_TOPIC_CREATE, &req);
}

MQDEV_EXPORT int mqdev_topic_delete(int fd, const char *name)
{
	struct mqdev_topic_id req = {};
	int err = mqdev_name_set(req.name, name);

	return err ?: mqdev_ioctl(fd, MQDEV_IOC_TOPIC_DELETE, &req);
}

MQDEV_EXPORT int mqdev_topic_list(int fd, char (**names)[MQDEV_NAME_SIZE])
{
	struct mqdev_topic_list req = {};
	char (*buf)[MQDEV_NAME_SIZE] = NULL;
	uint32_t room = 0;
	int err;

	/* Topics may come and go between the calls: retry until it fits. */
	for (;;) {
		req.names = (uint64_t)(uintptr_t)buf;
		req.count = room;
		req.name_size = MQDEV_NAME_SIZE;
		err = mqdev_ioctl(fd, MQDEV_IOC_TOPIC_LIST, &req);
		if (err) {
			free(buf);
			return err;
		}
		if (req.count <= room)
			break;
		free(buf);
		room = req.count + 16;
		buf = calloc(room, MQDEV_NAME_SIZE);
		if (!buf)
			return -ENOMEM;
	}
	*names = buf;
	return req.count;
}

MQDEV_EXPORT int mqdev_topic_describe(int fd, const char *name,
				      struct mqdev_topic_info *info,
				      struct mqdev_partition_info *parts,
				      uint32_t nparts)
{
	int err;

	memset(info, 0, sizeof(*info));
	err = mqdev_name_set(info->name, name);
	if (err)
		return err;
	info->parts = (uint64_t)(uintptr_t)parts;
	info->parts_count = parts ? nparts : 0;
	info->part_info_size = sizeof(*parts);
	return mqdev_ioctl(fd, MQDEV_IOC_TOPIC_DESCRIBE, info);
}

/* MQDEV_IOC_TOPIC_CONFIG, as the caller's settings say. */
static int topic_config(int fd, const char *name, uint32_t flags,
			uint64_t *ttl_ns)
{
	struct mqdev_topic_config req = { .flags = flags, .ttl_ns = *ttl_ns };
	int err = mqdev_name_set(req.name, name);

	if (err)
		return err;
	err = mqdev_ioctl(fd, MQDEV_IOC_TOPIC_CONFIG, &req);
	if (!err)
		*ttl_ns = req.ttl_ns;
	return err;
}

MQDEV_EXPORT int mqdev_topic_set_ttl(int fd, const char *name, uint64_t ttl_ns)
{
	return topic_config(fd, name, MQDEV_CONFIG_TTL, &ttl_ns);
}

MQDEV_EXPORT int mqdev_topic_get_ttl(int fd, const char *name,
				     uint64_t *ttl_ns)
{
	*ttl_ns = 0;
	return topic_config(fd, name, 0, ttl_ns);
}
