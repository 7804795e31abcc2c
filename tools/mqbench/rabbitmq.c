// SPDX-License-Identifier: GPL-2.0
/*
 * RabbitMQ, the exchange scenario's other peer.  Not there yet, so the
 * scenario reports RabbitMQ's column as "not run".  What was found trying
 * to start Debian's rabbitmq-server 3.10 in the guest from the host's /usr
 * (tools/vm/run --host-usr, mounted at $MQDEV_HOST_USR):
 *
 *   - Debian's erl names /usr/lib/erlang outright: an erl of our own, first
 *     in PATH, must export ROOTDIR=$MQDEV_HOST_USR/lib/erlang, BINDIR (its
 *     erts-N/bin), EMU=beam, PROGNAME=erl and exec $BINDIR/erlexec;
 *   - LD_LIBRARY_PATH=$MQDEV_HOST_USR/lib/x86_64-linux-gnu, a writable HOME
 *     (the cookie), RABBITMQ_MNESIA_BASE, _LOG_BASE, _ENABLED_PLUGINS_FILE
 *     ("[]."), _CONFIG_FILE, _PID_FILE, RABBITMQ_NODENAME=rabbit@localhost
 *     and the guest's hostname set to localhost;
 *   - epmd started by hand first (ERL_EPMD_ADDRESS=127.0.0.1 epmd -daemon),
 *     else the node dies with "nodistribution";
 *   - so set up, the node boots, but under TCG it had not opened 5672
 *     after four minutes: the peer must wait that long, once per run.
 *
 * Left: that start and stop here, and a producer on librabbitmq (Debian's
 * librabbitmq-dev) declaring the same exchange and bindings and publishing
 * BATCH messages a round with publisher confirms; rabbitmq-server and
 * librabbitmq-dev then go into scripts/deps.sh.
 */
#include "mqbench.h"

int rabbitmq_start(void)
{
	return -1;
}

void rabbitmq_stop(void)
{
}

double rabbitmq_rate(int type, uint32_t bindings, size_t size, uint64_t n,
		     int reps)
{
	return -1;
}
