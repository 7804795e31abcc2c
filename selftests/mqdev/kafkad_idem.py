#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""An idempotent confluent-kafka producer whose connections are cut.

  kafkad_idem.py PROXY_PORT DAEMON_PORT TOPIC N SEED

Listens on 127.0.0.1:PROXY_PORT (the daemon under test advertises that
port) and forwards each connection to the daemon on DAEMON_PORT.  Now and
then (a seeded choice per chunk) it throws away an answer the daemon sent
and closes both ends, or closes a connection in the middle of a request:
the client then cannot know whether its batch landed, reconnects and sends
it again with the same producer id and sequence numbers.  Meanwhile an
idempotent producer (enable.idempotence) sends N records "idem-I", keyed
so that they spread over the topic's partitions.

Prints "cuts: A answers dropped, R requests cut" and exits non-zero if a
record was not delivered or no connection was cut at all.  What landed is
checked by the caller (mqctl verify and the records' values).
"""
import random
import select
import socket
import sys
import threading


class Proxy:
    def __init__(self, port, upstream, seed):
        self.upstream = upstream
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.dropped = 0
        self.cut = 0
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", port))
        self.ls.listen(16)
        threading.Thread(target=self.accept, daemon=True).start()

    def chance(self, p):
        with self.lock:
            return self.rng.random() < p

    def accept(self):
        while True:
            c, _ = self.ls.accept()
            try:
                u = socket.create_connection(("127.0.0.1", self.upstream))
            except OSError:
                c.close()
                continue
            threading.Thread(target=self.pump, args=(c, u),
                             daemon=True).start()

    def pump(self, c, u):
        """Forward both ways until one end closes or a cut is chosen."""
        try:
            while True:
                r, _, _ = select.select([c, u], [], [])
                if c in r:
                    data = c.recv(65536)
                    if not data:
                        break
                    if len(data) > 64 and self.chance(0.02):
                        # half a request: the daemon sees a truncated frame
                        u.sendall(data[:len(data) // 2])
                        with self.lock:
                            self.cut += 1
                        break
                    u.sendall(data)
                if u in r:
                    data = u.recv(65536)
                    if not data:
                        break
                    if self.chance(0.08):
                        # an answer lost: what it acknowledged has landed
                        with self.lock:
                            self.dropped += 1
                        break
                    c.sendall(data)
        except OSError:
            pass
        for s in (c, u):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def main(argv):
    from confluent_kafka import Producer

    proxy_port, daemon_port, topic, n, seed = (
        int(argv[1]), int(argv[2]), argv[3], int(argv[4]), int(argv[5]))
    proxy = Proxy(proxy_port, daemon_port, seed)
    errors = []
    p = Producer({
        "bootstrap.servers": "127.0.0.1:%d" % proxy_port,
        "enable.idempotence": True,
        "linger.ms": 5,
        "batch.num.messages": 40,
        "message.timeout.ms": 120000,
        "retry.backoff.ms": 20,
        "reconnect.backoff.ms": 10,
        "reconnect.backoff.max.ms": 200,
        "socket.timeout.ms": 5000,
        "topic.metadata.refresh.interval.ms": -1,
    })

    def done(err, msg):
        if err:
            errors.append(str(err))

    for i in range(n):
        while True:
            try:
                p.produce(topic, key=b"k%d" % (i % 7), value=b"idem-%d" % i,
                          on_delivery=done)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
        if i % 100 == 99:
            p.flush(0.01)
    left = p.flush(120)
    print("cuts: %d answers dropped, %d requests cut" %
          (proxy.dropped, proxy.cut))
    if errors or left:
        print("errors:", errors[:5], "undelivered:", left, file=sys.stderr)
        return 1
    return 0 if proxy.dropped + proxy.cut > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
