#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""confluent-kafka's transactional producer against mqdev-kafkad.

  kafkad_txn.py BOOTSTRAP TOPIC TXN_ID

One transactional id, several instances:
  A  commits 50 records;
  B  aborts 50;
  C  sends 50 and is killed (SIGKILL) with its transaction open;
  D  a new instance: its InitProducerId aborts C's transaction, and it
     commits 50;
  E  D sends 50 more, and while its transaction is open a newer instance
     takes the id over: D's commit fails (fenced), and E's records with it;
  F  the newest instance commits 50;
  G  and aborts 50 more: the topic ends with aborted records.
Then a read_committed consumer reads the topic from the beginning: it must
see A, D and F, each record once, and nothing of B, C, E or G, and reach
the end of every partition (past G's records, which it is never given).
Prints one line per step; exits non-zero on the first that does not hold.
"""
import os
import subprocess
import sys


def producer(bootstrap, txn_id):
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap,
                  "transactional.id": txn_id,
                  "transaction.timeout.ms": 60000,
                  "linger.ms": 5})
    p.init_transactions(30)
    return p


def send(p, topic, tag, n=50):
    for i in range(n):
        p.produce(topic, key=b"%d" % i, value=b"%s-%d" % (tag.encode(), i))
    left = p.flush(30)
    if left:
        raise RuntimeError("%s: %d records undelivered" % (tag, left))


def read_committed(bootstrap, topic):
    """Every record, and whether each partition's end was reached."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "txn-check",
                  "isolation.level": "read_committed",
                  "enable.auto.commit": False,
                  "enable.partition.eof": True})
    meta = c.list_topics(topic, timeout=10).topics[topic]
    parts = [TopicPartition(topic, p, 0) for p in meta.partitions]
    c.assign(parts)
    got, eof, idle = [], set(), 0
    while len(eof) < len(parts) and idle < 40:
        m = c.poll(0.5)
        if m is None:
            idle += 1
            continue
        if m.error():
            if m.error().code() == -191:	# _PARTITION_EOF
                eof.add(m.partition())
            continue
        got.append(m.value().decode())
    c.close()
    return got, len(eof) == len(parts)


def main(argv):
    from confluent_kafka import KafkaException

    bootstrap, topic, txn_id = argv[1], argv[2], argv[3]
    if argv[4:] == ["killed"]:
        q = producer(bootstrap, txn_id)
        q.begin_transaction()
        send(q, topic, "C")
        os.kill(os.getpid(), 9)

    p = producer(bootstrap, txn_id)
    p.begin_transaction()
    send(p, topic, "A")
    p.commit_transaction(30)
    print("A: committed")
    p.begin_transaction()
    send(p, topic, "B")
    p.abort_transaction(30)
    print("B: aborted")
    del p

    rc = subprocess.call([sys.executable, __file__, bootstrap, topic, txn_id,
                          "killed"])
    if rc != -9:
        print("C: the instance ended %d, not by SIGKILL" % rc, file=sys.stderr)
        return 1
    print("C: killed with its transaction open")

    d = producer(bootstrap, txn_id)
    d.begin_transaction()
    send(d, topic, "D")
    d.commit_transaction(30)
    print("D: a new instance committed")
    d.begin_transaction()
    send(d, topic, "E")
    f = producer(bootstrap, txn_id)
    try:
        d.commit_transaction(30)
        print("E: the fenced instance's commit went through", file=sys.stderr)
        return 1
    except KafkaException as e:
        print("E: the fenced instance's commit failed:", e.args[0].name())
    f.begin_transaction()
    send(f, topic, "F")
    f.commit_transaction(30)
    print("F: the newest instance committed")
    f.begin_transaction()
    send(f, topic, "G")
    f.abort_transaction(30)
    print("G: aborted, at the end of the topic")

    got, ends = read_committed(bootstrap, topic)
    want = sorted("%s-%d" % (t, i) for t in "ADF" for i in range(50))
    print("read_committed: %d records: %s" %
          (len(got), " ".join(sorted(set(x.split("-")[0] for x in got)))))
    if sorted(got) != want:
        print("expected A, D and F once each", file=sys.stderr)
        return 1
    if not ends:
        print("the consumer never reached the end past G's records",
              file=sys.stderr)
        return 1
    print("read_committed: every partition read to its end")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
