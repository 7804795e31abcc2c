// SPDX-License-Identifier: GPL-2.0
/* The module refuses to unload while anything holds it, and reloads clean. */
#include <sys/syscall.h>
#include "common.h"
#include "kselftest_harness.h"

static int unload(void)
{
	return syscall(SYS_delete_module, "mqdev", O_NONBLOCK) ? -errno : 0;
}

static int load(void)
{
	const char *ko = getenv("MQDEV_KO");
	int fd, ret;

	if (!ko)
		return -ENOENT;
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	return ret;
}

TEST(unload_while_in_use)
{
	const char *name = topic_name("module");
	struct mqdev_attach att;
	void *ring;
	int fd, cons;

	if (!getenv("MQDEV_KO"))
		SKIP(return, "MQDEV_KO is not set: not in the test VM");

	fd = mqdev_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, create_topic(fd, name, 2, 4096, 0));
	EXPECT_EQ(-EWOULDBLOCK, unload());

	/* a mapping keeps the module too, after its descriptor is gone */
	cons = attach(name, MQDEV_ATTACH_CONSUME, &att);
	ASSERT_LE(0, cons);
	ring = mmap(NULL, att.off.ring_size, PROT_READ, MAP_SHARED, cons,
		    att.off.ring_mmap);
	ASSERT_NE(MAP_FAILED, ring);
	close(cons);
	close(fd);
	EXPECT_EQ(-EWOULDBLOCK, unload());
	EXPECT_EQ(0, *(uint64_t *)((char *)ring + att.off.head));
	munmap(ring, att.off.ring_size);

	/* now nothing holds it: it goes, with its topics */
	ASSERT_EQ(0, unload());
	EXPECT_EQ(-1, access(MQDEV_DEVICE, F_OK));
	ASSERT_EQ(0, load());
	fd = mqdev_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, topic_count(fd));
	EXPECT_EQ(-ENOENT, mqdev_topic_delete(fd, name));
	close(fd);
}

TEST_HARNESS_MAIN
