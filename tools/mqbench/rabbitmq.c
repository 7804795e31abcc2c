// SPDX-License-Identifier: GPL-2.0
/*
 * RabbitMQ, the exchange scenario's other peer.  Not there yet: starting
 * an Erlang VM in the benchmark's guest from the host's /usr (HOME and
 * RABBITMQ_MNESIA_BASE writable, a cookie, the AMQP port on loopback) and
 * a librabbitmq producer are still to be written, so the scenario reports
 * RabbitMQ's column as "not run".
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
