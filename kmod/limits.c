// SPDX-License-Identifier: GPL-2.0
/*
 * Limits and per-user accounting: what one user may make the kernel hold.
 *
 * Every object a user can create through /dev/mq or the netlink family is
 * counted against the user that made it, from its creation until it is
 * freed, in the manner of RLIMIT_MSGQUEUE for POSIX message queues:
 *
 *   charge              counted against the limit      freed with
 *   -----------------   ----------------------------   -------------------
 *   topics              max_user_topics                the topic
 *   partitions          max_user_partitions            the topic
 *   ring bytes          max_user_bytes                 the topic
 *   consumer groups     max_user_groups                the group
 *   producer names      max_user_producers             the identity
 *   producer states     max_user_producer_states       the topic, or the
 *     (partitions of a producer's sequence table)        last bound handle
 *   open transactions   max_user_txns                  the decision
 *   delayed messages    max_user_scheduled             the append, the
 *   their bytes         max_user_scheduled_bytes         cancel or the topic
 *
 * The global limits (max_topics, max_bytes, max_producers, max_txns...) stay
 * beside the objects they bound.  Objects are counted whoever makes them;
 * CAP_SYS_RESOURCE in the initial namespace goes past a user's limits, as it
 * does for RLIMIT_MSGQUEUE, but is still counted.  Users are kuids: a user
 * in a container is the same user everywhere.
 *
 * Every limit is a module parameter that refuses values out of its range
 * when it is set, so no size the module multiplies can be made to overflow.
 */

#include <linux/capability.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include <linux/xarray.h>
#include "mqdev.h"

static int limit_set(const char *val, const struct kernel_param *kp)
{
	struct mqdev_limit *limit = kp->arg;
	unsigned long v;
	int err;

	err = kstrtoul(val, 0, &v);
	if (err)
		return err;
	if (v < limit->min || v > limit->max)
		return -EINVAL;
	WRITE_ONCE(limit->val, v);
	return 0;
}

static int limit_get(char *buffer, const struct kernel_param *kp)
{
	const struct mqdev_limit *limit = kp->arg;

	return sysfs_emit(buffer, "%lu\n", READ_ONCE(limit->val));
}

const struct kernel_param_ops mqdev_limit_ops = {
	.set	= limit_set,
	.get	= limit_get,
};

MQDEV_LIMIT(max_user_topics, 256, 0, 65536,
	    "Most topics one user may have");
MQDEV_LIMIT(max_user_partitions, 1024, 0, 1 << 20,
	    "Most partitions one user's topics may have");
MQDEV_LIMIT(max_user_bytes, 64UL << 20, 0, MQDEV_MAX_TOTAL_BYTES,
	    "Most bytes of ring one user's topics may use");
MQDEV_LIMIT(max_user_groups, 64, 0, 65536,
	    "Most consumer groups one user may have made");
MQDEV_LIMIT(max_user_producers, 64, 0, 65536,
	    "Most producer names one user may have");
MQDEV_LIMIT(max_user_producer_states, 4096, 0, 1 << 20,
	    "Most partitions of producer sequence state one user may hold");
MQDEV_LIMIT(max_user_txns, 8, 0, 1024,
	    "Most transactions one user may have open");
MQDEV_LIMIT(max_user_scheduled, 131072, 0, 1 << 24,
	    "Most delayed messages one user may have scheduled");
MQDEV_LIMIT(max_user_scheduled_bytes, 64UL << 20, 0, MQDEV_MAX_TOTAL_BYTES,
	    "Most bytes of delayed messages one user may have scheduled");

static struct mqdev_limit *const user_limits[MQDEV_NR_CHARGES] = {
	[MQDEV_CHARGE_TOPICS]		= &max_user_topics,
	[MQDEV_CHARGE_PARTITIONS]	= &max_user_partitions,
	[MQDEV_CHARGE_BYTES]		= &max_user_bytes,
	[MQDEV_CHARGE_GROUPS]		= &max_user_groups,
	[MQDEV_CHARGE_PRODUCERS]	= &max_user_producers,
	[MQDEV_CHARGE_PRODUCER_STATES]		= &max_user_producer_states,
	[MQDEV_CHARGE_TXNS]		= &max_user_txns,
	[MQDEV_CHARGE_SCHEDULED]	= &max_user_scheduled,
	[MQDEV_CHARGE_SCHEDULED_BYTES]	= &max_user_scheduled_bytes,
};

/* What one user holds; freed when it holds nothing. */
struct mqdev_user {
	u64	used[MQDEV_NR_CHARGES];
};

static DEFINE_MUTEX(mqdev_users_lock);
static DEFINE_XARRAY(mqdev_users);	/* by uid: under mqdev_users_lock */
static u64 mqdev_used[MQDEV_NR_CHARGES];	/* every user's: same lock */

/* The module-wide limits, where a kind has one beside its objects. */
static struct mqdev_limit *const global_limits[MQDEV_NR_CHARGES] = {
	[MQDEV_CHARGE_TOPICS]		= &max_topics,
	[MQDEV_CHARGE_BYTES]		= &max_bytes,
	[MQDEV_CHARGE_PRODUCERS]	= &max_producers,
	[MQDEV_CHARGE_SCHEDULED]	= &max_scheduled,
	[MQDEV_CHARGE_SCHEDULED_BYTES]	= &max_scheduled_bytes,
};

static bool user_idle(const struct mqdev_user *u)
{
	return !memchr_inv(u->used, 0, sizeof(u->used));
}

static bool user_over(const struct mqdev_user *u, const u64 *amount)
{
	u64 sum;
	int i;

	for (i = 0; i < MQDEV_NR_CHARGES; i++)
		if (amount[i] &&
		    (check_add_overflow(u->used[i], amount[i], &sum) ||
		     sum > mqdev_limit(user_limits[i])))
			return true;
	return false;
}

static struct mqdev_user *user_get(unsigned long uid)
{
	struct mqdev_user *u;
	int err;

	lockdep_assert_held(&mqdev_users_lock);
	u = xa_load(&mqdev_users, uid);
	if (u)
		return u;
	u = kzalloc(sizeof(*u), GFP_KERNEL);
	if (!u)
		return ERR_PTR(-ENOMEM);
	err = xa_err(xa_store(&mqdev_users, uid, u, GFP_KERNEL));
	if (err) {
		kfree(u);
		return ERR_PTR(err);
	}
	return u;
}

static void user_put_if_idle(unsigned long uid, struct mqdev_user *u)
{
	if (user_idle(u)) {
		xa_erase(&mqdev_users, uid);
		kfree(u);
	}
}

/**
 * mqdev_charge_many() - count objects against a user's limits
 * @uid: the user the objects belong to
 * @amount: how much of each charge, MQDEV_NR_CHARGES entries
 *
 * All of @amount is charged, or none of it.
 *
 * Return: 0, -EDQUOT when a limit would be passed (and the caller has no
 * CAP_SYS_RESOURCE), or -ENOMEM.
 */
int mqdev_charge_many(kuid_t uid, const u64 *amount)
{
	unsigned long key = __kuid_val(uid);
	struct mqdev_user *u;
	int i, err = 0;

	mutex_lock(&mqdev_users_lock);
	u = user_get(key);
	if (IS_ERR(u)) {
		err = PTR_ERR(u);
		goto out_unlock;
	}
	if (user_over(u, amount) && !capable(CAP_SYS_RESOURCE)) {
		err = -EDQUOT;
		user_put_if_idle(key, u);
		goto out_unlock;
	}
	for (i = 0; i < MQDEV_NR_CHARGES; i++) {
		u->used[i] += amount[i];
		mqdev_used[i] += amount[i];
	}
out_unlock:
	mutex_unlock(&mqdev_users_lock);
	return err;
}

/**
 * mqdev_uncharge_many() - give back what mqdev_charge_many() counted
 * @uid: the user it was charged to
 * @amount: exactly what was charged
 */
void mqdev_uncharge_many(kuid_t uid, const u64 *amount)
{
	unsigned long key = __kuid_val(uid);
	struct mqdev_user *u;
	int i;

	mutex_lock(&mqdev_users_lock);
	u = xa_load(&mqdev_users, key);
	if (!WARN_ON_ONCE(!u)) {
		for (i = 0; i < MQDEV_NR_CHARGES; i++) {
			mqdev_used[i] -= min(u->used[i], amount[i]);
			u->used[i] -= min(u->used[i], amount[i]);
		}
		user_put_if_idle(key, u);
	}
	mutex_unlock(&mqdev_users_lock);
}

/**
 * mqdev_charge() - count @n of one kind of object against a user's limit
 * @uid: the user the objects belong to
 * @what: the kind of object
 * @n: how many
 *
 * Return: 0, -EDQUOT or -ENOMEM, as mqdev_charge_many().
 */
int mqdev_charge(kuid_t uid, enum mqdev_charge_kind what, u64 n)
{
	u64 amount[MQDEV_NR_CHARGES] = {};

	amount[what] = n;
	return mqdev_charge_many(uid, amount);
}

/**
 * mqdev_uncharge() - give back what mqdev_charge() counted
 * @uid: the user it was charged to
 * @what: the kind of object
 * @n: how many
 */
void mqdev_uncharge(kuid_t uid, enum mqdev_charge_kind what, u64 n)
{
	u64 amount[MQDEV_NR_CHARGES] = {};

	amount[what] = n;
	mqdev_uncharge_many(uid, amount);
}

/**
 * mqdev_charges_read() - what is charged, against which limits
 * @uid: the user asking
 * @used: every user's charges, MQDEV_NR_CHARGES entries
 * @user_used: @uid's charges, as many
 * @limit: the module-wide limits, U64_MAX where a kind has none
 * @user_limit: the limits of one user
 *
 * For the statistics: a copy under the lock, so each array is of one
 * moment.
 */
void mqdev_charges_read(kuid_t uid, u64 *used, u64 *user_used,
			u64 *limit, u64 *user_limit)
{
	struct mqdev_user *u;
	int i;

	mutex_lock(&mqdev_users_lock);
	u = xa_load(&mqdev_users, __kuid_val(uid));
	for (i = 0; i < MQDEV_NR_CHARGES; i++) {
		used[i] = mqdev_used[i];
		user_used[i] = u ? u->used[i] : 0;
		limit[i] = global_limits[i] ? mqdev_limit(global_limits[i]) :
			   U64_MAX;
		user_limit[i] = mqdev_limit(user_limits[i]);
	}
	mutex_unlock(&mqdev_users_lock);
}

/**
 * mqdev_users_destroy() - free what is left of the per-user accounting
 *
 * Module exit: every object is gone, so is every charge.
 */
void mqdev_users_destroy(void)
{
	struct mqdev_user *u;
	unsigned long uid;

	/* a charge that was never given back is a bug: say so, then free */
	xa_for_each(&mqdev_users, uid, u) {
		WARN_ON_ONCE(1);
		kfree(u);
	}
	xa_destroy(&mqdev_users);
}
