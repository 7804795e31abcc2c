// SPDX-License-Identifier: GPL-2.0
/* The module refuses to unload while anything holds it, and reloads clean. */
#include <sys/syscall.h>
#include "common.h"
#include "kselftest_harness.h"

static int unload(void)
{
	return syscall(SYS_delete_module, "mqdev", O_NONBLOCK) ? -errno : 0;
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
	ASSERT_EQ(0, module_load());
	fd = mqdev_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, topic_count(fd));
	EXPECT_EQ(-ENOENT, mqdev_topic_delete(fd, name));
	close(fd);
}

/*
 * A transaction left undecided, its checker asked and silent, its work still
 * pending: unloading aborts it and frees everything, and the checker's
 * socket outliving the module is harmless.
 */
TEST(unload_with_undecided_txn)
{
	const char *name = topic_name("module-txn");
	struct mqdev_producer *p;
	struct mqdev_session *s;
	LIBMQDEV_OPTS(mqdev_event, ev);
	struct mqdev_nl *nl;
	char producer[32];
	int fd;

	if (!getenv("MQDEV_KO"))
		SKIP(return, "MQDEV_KO is not set: not in the test VM");
	snprintf(producer, sizeof(producer), "unload-%d", getpid());
	fd = mqdev_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, create_topic(fd, name, 1, 4096, 0));
	close(fd);
	ASSERT_EQ(0, mqdev_nl_open(&nl));
	ASSERT_EQ(0, mqdev_nl_checker_register(nl, producer));
	ASSERT_EQ(0, mqdev_session_new(producer, 60000, &s));
	ASSERT_EQ(0, mqdev_producer_new(name, NULL, &p));
	ASSERT_EQ(0, mqdev_producer_bind(p, s));
	ASSERT_EQ(0, mqdev_txn_begin(s, 1));
	ASSERT_EQ(0, mqdev_producer_send(p, NULL, 0, "x", 1, 0, NULL));
	ASSERT_EQ(1, mqdev_producer_flush(p));
	mqdev_producer_free(p);
	mqdev_session_free(s);		/* orphaned: the checker is asked */
	ASSERT_EQ(1, mqdev_nl_event(nl, &ev, 5000));
	EXPECT_EQ(MQDEV_CMD_TXN_CHECK, ev.cmd);

	ASSERT_EQ(0, unload());
	mqdev_nl_close(nl);
	ASSERT_EQ(0, module_load());
	fd = mqdev_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, topic_count(fd));
	close(fd);
}

TEST_HARNESS_MAIN
