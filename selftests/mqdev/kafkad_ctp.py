#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A consume-transform-produce pipeline, killed at random points.

  kafkad_ctp.py BOOTSTRAP IN OUT GROUP TXN_ID N KILLS SEED

The pipeline (confluent-kafka: a read_committed group consumer of IN and a
transactional producer) reads up to 5 records at a time and, in one
transaction, writes "out-VALUE" to OUT for each and sends the consumer's
positions with it (send_offsets_to_transaction), and says so on its
standard output.  The driver starts it and SIGKILLs it KILLS times, each
after a random number of its transactions (seeded) and a random fraction
of the next one's time, then lets a last one run until IN has been idle
for a while.  A read_committed consumer of OUT
must then find out-VALUE for each of IN's N records exactly once.
Prints what it did; exits non-zero if that does not hold.
"""
import random
import signal
import subprocess
import sys
import time


def worker(bootstrap, src, dst, group, txn_id):
    from confluent_kafka import Consumer, Producer

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "isolation.level": "read_committed",
                  "enable.auto.commit": False,
                  "auto.offset.reset": "earliest",
                  "session.timeout.ms": 3000,
                  "heartbeat.interval.ms": 300})
    p = Producer({"bootstrap.servers": bootstrap,
                  "transactional.id": txn_id,
                  "transaction.timeout.ms": 60000,
                  "linger.ms": 2})
    p.init_transactions(30)
    c.subscribe([src])
    idle = 0
    while idle < 12:
        msgs = c.consume(num_messages=5, timeout=0.5)
        msgs = [m for m in msgs if not m.error()]
        if not msgs:
            idle += 1
            continue
        idle = 0
        p.begin_transaction()
        for m in msgs:
            p.produce(dst, key=m.key(), value=b"out-" + m.value())
        p.send_offsets_to_transaction(c.position(c.assignment()),
                                      c.consumer_group_metadata(), 30)
        p.commit_transaction(30)
        print("committed", flush=True)
    c.close()
    return 0


def read_all(bootstrap, topic, want):
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "ctp-check",
                  "isolation.level": "read_committed",
                  "enable.auto.commit": False})
    meta = c.list_topics(topic, timeout=10).topics[topic]
    c.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
    got, idle = [], 0
    while idle < 8:
        m = c.poll(0.5)
        if m is None:
            idle += 1
            continue
        if not m.error():
            got.append(m.value().decode())
            idle = 0 if len(got) < want else idle
    c.close()
    return got


def main(argv):
    bootstrap, src, dst, group, txn_id = argv[1:6]
    if argv[6:] == ["worker"]:
        return worker(bootstrap, src, dst, group, txn_id)
    n, kills, seed = int(argv[6]), int(argv[7]), int(argv[8])
    rng = random.Random(seed)
    cmd = [sys.executable, __file__, bootstrap, src, dst, group, txn_id,
           "worker"]
    for k in range(kills):
        w = subprocess.Popen(cmd, stdout=subprocess.PIPE)
        want, done = rng.randint(3, 10), 0
        while done < want and w.stdout.readline():
            done += 1
        time.sleep(rng.uniform(0, 0.3))
        w.send_signal(signal.SIGKILL)
        w.wait()
        w.stdout.close()
        print("worker %d killed after %d transactions" % (k + 1, done),
              flush=True)
    rc = subprocess.call(cmd, timeout=300, stdout=subprocess.DEVNULL)
    print("the last worker ended %d" % rc, flush=True)
    got = read_all(bootstrap, dst, n)
    want = sorted("out-r-%d" % i for i in range(n))
    dups = len(got) - len(set(got))
    missing = len(set(want) - set(got))
    print("out: %d records, %d distinct, %d repeated, %d missing" %
          (len(got), len(set(got)), dups, missing))
    return 0 if rc == 0 and sorted(got) == want else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
