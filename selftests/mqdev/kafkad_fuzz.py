#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Bad input for mqdev-kafkad: malformed frames, and clients that misbehave.

Usage: kafkad_fuzz.py HOST PORT PID TOPIC [SEED]

Each case runs on its own connection and expects the daemon either to answer
it (with the error code Kafka gives) or to close that connection; after each,
a well-formed ApiVersions on a fresh connection must be answered, and the
daemon (PID) must be alive.  Prints one "ok N - ..." or "not ok N - ..." line
per case, then exits 1 if any failed.
"""
import os
import random
import socket
import struct
import sys
import time

HOST, PORT, PID, TOPIC = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
SEED = int(sys.argv[5]) if len(sys.argv) > 5 else 1
failed = 0
n = 0


def report(ok, what):
    global failed, n
    n += 1
    print(("ok" if ok else "not ok"), n, "-", what, flush=True)
    if not ok:
        failed += 1


def conn(timeout=5.0):
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def kstr(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def header(key, ver, corr=7, client="fuzz"):
    return struct.pack(">hhi", key, ver, corr) + kstr(client)


def frame(body):
    return struct.pack(">i", len(body)) + body


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def recv_answer(s):
    """An answer's body after its correlation id, or None on close."""
    try:
        size = recv_exact(s, 4)
        if size is None:
            return None
        body = recv_exact(s, struct.unpack(">i", size)[0])
        return body
    except (ConnectionResetError, socket.timeout):
        return None


def closed(s):
    try:
        s.settimeout(5)
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def api_versions_ok():
    try:
        s = conn()
        s.sendall(frame(header(18, 0, 42)))
        a = recv_answer(s)
        s.close()
        return a is not None and struct.unpack(">ih", a[:6]) == (42, 0)
    except OSError:
        return False


def alive():
    try:
        os.kill(PID, 0)
    except OSError:
        return False
    return api_versions_ok()


def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82f63b78 if crc & 1 else crc >> 1
    return crc ^ 0xffffffff


def varint(v):
    v = (v << 1) ^ (v >> 63)
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7f) | 0x80])
        v >>= 7
    return out + bytes([v])


def record_batch(values, bad_crc=False, pid=-1, epoch=-1, seq=-1):
    recs = b""
    for i, v in enumerate(values):
        body = b"\0" + varint(0) + varint(i) + varint(-1) + varint(len(v)) + v + varint(0)
        recs += varint(len(body)) + body
    after_crc = struct.pack(">hiqqqhii", 0, len(values) - 1, 0, 0, pid, epoch,
                            seq, len(values)) + recs
    crc = crc32c(after_crc) ^ (1 if bad_crc else 0)
    rest = struct.pack(">ibI", 0, 2, crc) + after_crc
    return struct.pack(">qi", 0, len(rest)) + rest


def produce(batch, topic=TOPIC, acks=1):
    body = header(0, 3) + kstr(None) + struct.pack(">hi", acks, 5000)
    body += struct.pack(">i", 1) + kstr(topic) + struct.pack(">i", 1)
    body += struct.pack(">i", 0) + struct.pack(">i", len(batch)) + batch
    return frame(body)


def produce_error(answer):
    # corr, topics count, name, partitions count, partition, error
    off = 4 + 4
    (nlen,) = struct.unpack(">h", answer[off:off + 2])
    off += 2 + nlen + 4 + 4
    return struct.unpack(">h", answer[off:off + 2])[0]


def produce_offset(answer):
    off = 4 + 4
    (nlen,) = struct.unpack(">h", answer[off:off + 2])
    off += 2 + nlen + 4 + 4 + 2
    return struct.unpack(">q", answer[off:off + 8])[0]


def init_producer_id(s, txn_id=None, ver=1, timeout=60000):
    """InitProducerId: (error, producer id, epoch)."""
    s.sendall(frame(header(22, ver, 9) + kstr(txn_id) + struct.pack(">i", timeout)))
    a = recv_answer(s)
    if a is None or len(a) != 20:
        return (None, None, None)
    return struct.unpack(">iihqh", a)[2:]


def idempotence():
    """A producer session's sequence numbers, as Kafka answers them."""
    s = conn()
    err, pid, epoch = init_producer_id(s)
    report(err == 0 and pid is not None and pid >= 0 and epoch >= 0,
           "InitProducerId: a producer id (%s) and epoch (%s)" % (pid, epoch))
    if err != 0:
        s.close()
        return

    def send(values, seq, p=pid, e=epoch):
        s.sendall(produce(record_batch(values, pid=p, epoch=e, seq=seq)))
        a = recv_answer(s)
        return (None, None) if a is None else (produce_error(a), produce_offset(a))

    e1, o1 = send([b"i0", b"i1"], 0)
    report(e1 == 0, "an idempotent batch, sequence 0: appended at %s" % o1)
    e2, o2 = send([b"i0", b"i1"], 0)
    report(e2 == 0 and o2 == o1,
           "the same batch again: success with the first offset (%s)" % o2)
    e3, o3 = send([b"i2"], 2)
    report(e3 == 0 and o3 == o1 + 2, "the next sequence is appended after it")
    report(send([b"gap"], 7)[0] == 45,
           "a sequence past the next: OUT_OF_ORDER_SEQUENCE_NUMBER")
    report(send([b"ep"], 3, e=epoch + 1)[0] == 47,
           "another epoch: INVALID_PRODUCER_EPOCH")
    report(send([b"who"], 0, p=pid + 4242)[0] == 59,
           "a producer id the daemon never gave: UNKNOWN_PRODUCER_ID")
    report(send([b"neg"], -1)[0] == 87,
           "a producer id without a sequence: INVALID_RECORD")
    s.close()
    s = conn()
    report(send([b"i3"], 3)[0] == 0 and send([b"i2"], 2) == (0, o1 + 2),
           "from another connection: the producer goes on, its batches known")
    report(init_producer_id(s, ver=0)[1] not in (None, pid),
           "InitProducerId v0: another producer id")
    s.close()

    s = conn()
    report(init_producer_id(s, "fuzz-txn", timeout=3600000)[0] == 50,
           "InitProducerId, transaction timeout 60 min: INVALID_TRANSACTION_TIMEOUT")
    report(init_producer_id(s, "bad/name")[0] == 42,
           "InitProducerId, a transactional id mqdev cannot name: INVALID_REQUEST")
    err, tpid, tepoch = init_producer_id(s, "fuzz-txn", timeout=5000)
    report(err == 0, "InitProducerId with a transactional id: %s, epoch %s" % (tpid, tepoch))
    if err == 0:
        def end_txn(p, e, commit):
            s.sendall(frame(header(26, 0, 9) + kstr("fuzz-txn") +
                            struct.pack(">qhb", p, e, commit)))
            a = recv_answer(s)
            return None if a is None else struct.unpack(">iih", a)[2]
        report(end_txn(tpid, tepoch, 1) == 48, "EndTxn with none open: INVALID_TXN_STATE")
        report(end_txn(tpid + 1, tepoch, 1) == 49,
               "EndTxn of another producer id: INVALID_PRODUCER_ID_MAPPING")
        bb = bytearray(record_batch([b"t"], pid=tpid, epoch=tepoch, seq=0))
        bb[21:23] = struct.pack(">h", 0x10)      # transactional, CRC redone
        bb[17:21] = struct.pack(">I", crc32c(bytes(bb[21:])))
        body = header(0, 3) + kstr("fuzz-txn") + struct.pack(">hi", 1, 5000)
        body += struct.pack(">i", 1) + kstr(TOPIC) + struct.pack(">i", 1)
        body += struct.pack(">i", 0) + struct.pack(">i", len(bb)) + bytes(bb)
        s.sendall(frame(body))
        a = recv_answer(s)
        report(a is not None and produce_error(a) == 48,
               "a transactional batch outside a transaction: INVALID_TXN_STATE")
    s.close()


def case_closed(what, data):
    s = conn()
    s.sendall(data)
    ok = closed(s)
    s.close()
    report(ok and alive(), what)


def case_answer(what, data, check):
    s = conn()
    s.sendall(data)
    a = recv_answer(s)
    s.close()
    report(a is not None and check(a) and alive(), what)


def main():
    rnd = random.Random(SEED)
    report(alive(), "the daemon answers ApiVersions")

    s = conn()
    s.sendall(struct.pack(">i", 100) + b"x" * 50)
    s.close()
    report(alive(), "a truncated frame, then the client goes")

    case_closed("a huge length prefix closes the connection",
                struct.pack(">I", 0x7fffffff) + b"abcd")
    case_closed("a negative length prefix closes it",
                struct.pack(">I", 0xffffff00) + b"abcd")
    case_closed("a frame shorter than a header closes it", frame(b"\0\0"))
    case_closed("an unknown API key closes it", frame(header(999, 0)))
    case_closed("a version not served closes it", frame(header(3, 99)))
    case_closed("a negative client id length closes it",
                frame(struct.pack(">hhih", 3, 1, 1, -7)))
    case_closed("a negative array count closes it",
                frame(header(3, 1) + struct.pack(">i", -5)))
    case_closed("an array count the bytes cannot hold closes it",
                frame(header(3, 1) + struct.pack(">i", 1 << 30)))
    case_closed("a string longer than the frame closes it",
                frame(header(3, 1) + struct.pack(">ih", 1, 3000) + b"ab"))
    case_answer("ApiVersions v99: UNSUPPORTED_VERSION and the list",
                frame(header(18, 99, 5)),
                lambda a: struct.unpack(">ih", a[:6]) == (5, 35))
    case_answer("a batch with a bad CRC: CORRUPT_MESSAGE",
                produce(record_batch([b"x"], bad_crc=True)),
                lambda a: produce_error(a) == 2)
    bb = bytearray(record_batch([b"y"]))
    bb[8:12] = struct.pack(">i", 1 << 30)
    case_answer("a batch length past the frame: CORRUPT_MESSAGE",
                produce(bytes(bb)), lambda a: produce_error(a) == 2)
    bb = bytearray(record_batch([b"z"]))
    bb[16] = 1
    case_answer("a magic 1 batch: UNSUPPORTED_FOR_MESSAGE_FORMAT",
                produce(bytes(bb)), lambda a: produce_error(a) == 43)
    case_answer("a good batch is appended",
                produce(record_batch([b"good"])),
                lambda a: produce_error(a) == 0)
    case_answer("acks=2: INVALID_REQUIRED_ACKS",
                produce(record_batch([b"x"]), acks=2),
                lambda a: produce_error(a) == 21)
    case_answer("an unknown topic: UNKNOWN_TOPIC_OR_PARTITION",
                produce(record_batch([b"x"]), topic="no-such-topic-fuzz"),
                lambda a: produce_error(a) == 3)

    idempotence()

    # A request split byte by byte is served as one.
    s = conn()
    for b in frame(header(18, 1, 77)):
        s.send(bytes([b]))
        time.sleep(0.002)
    a = recv_answer(s)
    s.close()
    report(a is not None and struct.unpack(">ih", a[:6]) == (77, 0) and alive(),
           "a request sent byte by byte is answered")

    # Random bodies behind valid headers, for every API and version.
    keys = [(0, 3), (1, 4), (2, 1), (2, 2), (3, 0), (3, 4), (8, 2), (8, 7),
            (9, 1), (9, 5), (10, 1), (11, 0), (11, 5), (12, 1), (13, 1),
            (14, 1), (18, 3), (22, 0), (22, 1), (24, 0), (26, 0), (26, 1), (15, 0), (15, 4),
            (16, 0), (16, 2), (19, 0), (19, 4), (25, 0), (28, 2)]
    bad = 0
    for i in range(400):
        k, v = rnd.choice(keys)
        body = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 64)))
        if rnd.random() < 0.5:
            # small counts and lengths, more likely to go deeper
            body = struct.pack(">i", rnd.randrange(-2, 3)) + kstr(TOPIC) + body
        try:
            s = conn(timeout=2)
            s.sendall(frame(header(k, v, i) + body))
            recv_answer(s)
            s.close()
        except OSError:
            bad += 1
    report(bad == 0 and alive(), "400 random bodies behind valid headers")

    # A client that never reads: the daemon stops reading it; others go on.
    rss0 = rss()
    s = conn()
    s.setblocking(False)
    req = frame(header(3, 1) + struct.pack(">i", -1))
    sent = 0
    deadline = time.time() + 3
    while time.time() < deadline:
        try:
            sent += s.send(req * 64)
        except BlockingIOError:
            time.sleep(0.05)
    report(alive(), "a client that never reads its answers: others are served")
    grew = rss() - rss0
    report(grew < 64 * 1024, "the daemon grew %d KiB for it (sent %d KiB)" %
           (grew, sent // 1024))
    s.close()

    # Many connections at once: past the cap they are refused, not queued.
    socks = []
    for _ in range(300):
        try:
            socks.append(conn(timeout=2))
        except OSError:
            break
    time.sleep(0.5)
    for x in socks:
        x.close()
    time.sleep(0.5)
    report(alive(), "%d connections at once, then a new one is served" % len(socks))
    return 1 if failed else 0


def rss():
    with open("/proc/%d/status" % PID) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
