#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Kafka's own Python clients against mqdev-kafkad (kafkad_test.sh).

  kafkad_clients.py BOOTSTRAP kp-produce TOPIC N [COMPRESSION]
  kafkad_clients.py BOOTSTRAP kp-consume TOPIC GROUP N
  kafkad_clients.py BOOTSTRAP ck-produce TOPIC N [COMPRESSION]
  kafkad_clients.py BOOTSTRAP ck-consume TOPIC GROUP N

kafka-python (kp-) and confluent-kafka, i.e. librdkafka (ck-): a producer
of N records "key-I" = "value-I", and a group member that reads N records,
commits them, and prints each as KEY=VALUE.  Exits non-zero on any error.
"""
import sys


def kp_produce(bootstrap, topic, n, compression=None):
    from kafka import KafkaProducer

    p = KafkaProducer(bootstrap_servers=bootstrap, acks=1,
                      compression_type=compression, linger_ms=5)
    futs = [p.send(topic, key=b"key-%d" % i, value=b"value-%d" % i)
            for i in range(n)]
    p.flush(30)
    for f in futs:
        f.get(timeout=30)
    p.close()


def kp_consume(bootstrap, topic, group, n):
    from kafka import KafkaConsumer

    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      consumer_timeout_ms=20000)
    got = 0
    for m in c:
        print("%s=%s" % (m.key.decode() if m.key is not None else "",
                         m.value.decode()))
        got += 1
        if got == n:
            break
    c.commit()
    c.close()
    return 0 if got == n else 1


def ck_produce(bootstrap, topic, n, compression=None):
    from confluent_kafka import Producer

    errors = []
    conf = {"bootstrap.servers": bootstrap, "linger.ms": 5}
    if compression:
        conf["compression.type"] = compression
    p = Producer(conf)

    def done(err, msg):
        if err:
            errors.append(err)

    for i in range(n):
        p.produce(topic, key=b"key-%d" % i, value=b"value-%d" % i,
                  on_delivery=done)
        p.poll(0)
    left = p.flush(30)
    if errors or left:
        print("errors:", errors[:3], "undelivered:", left, file=sys.stderr)
        return 1
    return 0


def ck_consume(bootstrap, topic, group, n):
    from confluent_kafka import Consumer

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe([topic])
    got = 0
    idle = 0
    while got < n and idle < 40:
        m = c.poll(0.5)
        if m is None:
            idle += 1
            continue
        if m.error():
            print("error:", m.error(), file=sys.stderr)
            continue
        print("%s=%s" % (m.key().decode() if m.key() else "",
                         m.value().decode()))
        got += 1
        c.commit(message=m, asynchronous=False)
    c.close()
    return 0 if got == n else 1


def main(argv):
    bootstrap, mode = argv[1], argv[2]
    if mode == "kp-produce":
        return kp_produce(bootstrap, argv[3], int(argv[4]),
                          argv[5] if len(argv) > 5 else None) or 0
    if mode == "kp-consume":
        return kp_consume(bootstrap, argv[3], argv[4], int(argv[5]))
    if mode == "ck-produce":
        return ck_produce(bootstrap, argv[3], int(argv[4]),
                          argv[5] if len(argv) > 5 else None)
    if mode == "ck-consume":
        return ck_consume(bootstrap, argv[3], argv[4], int(argv[5]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
