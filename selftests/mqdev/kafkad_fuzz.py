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
import zlib

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


def raw_batch(recs, count, attrs=0):
    """A batch of @count records already encoded (maybe compressed)."""
    after_crc = struct.pack(">hiqqqhii", attrs, max(count - 1, 0), 0, 0, -1, -1, -1,
                            count) + recs
    rest = struct.pack(">ibI", 0, 2, crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(rest)) + rest


def one_record(v, i=0):
    body = b"\0" + varint(0) + varint(i) + varint(-1) + varint(len(v)) + v + varint(0)
    return varint(len(body)) + body


def produce_parts(parts, topic=TOPIC, acks=1, timeout=5000):
    """A Produce of one topic, partition i holding parts[i]."""
    body = header(0, 3) + kstr(None) + struct.pack(">hi", acks, timeout)
    body += struct.pack(">i", 1) + kstr(topic) + struct.pack(">i", len(parts))
    for i, recs in enumerate(parts):
        body += struct.pack(">ii", i, len(recs)) + recs
    return frame(body)


def produce_errors(answer):
    """Every partition's error code of a one-topic Produce answer."""
    off = 4 + 4
    (nlen,) = struct.unpack(">h", answer[off:off + 2])
    off += 2 + nlen
    (np,) = struct.unpack(">i", answer[off:off + 4])
    off += 4
    errs = []
    for _ in range(np):
        errs.append(struct.unpack(">h", answer[off + 4:off + 6])[0])
        off += 4 + 2 + 8 + 8
    return errs


def uvarint(v):
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7f) | 0x80])
        v >>= 7
    return out + bytes([v])


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


def cases_batches():
    """Empty batches: a partition of them is refused, nothing freed twice."""
    case_answer("a partition of two empty batches: INVALID_RECORD",
                produce(raw_batch(b"", 0) + raw_batch(b"", 0)),
                lambda a: produce_error(a) == 87)
    case_answer("an empty batch after a good one: INVALID_RECORD",
                produce(record_batch([b"x"]) + raw_batch(b"", 0)),
                lambda a: produce_error(a) == 87)


def hwm():
    return rss("VmHWM:")


def cases_compressed():
    """Compressed batches: what they take uncompressed is bounded per request."""
    good = raw_batch(zlib.compress(one_record(b"gz") + one_record(b"gz2", 1)), 2, attrs=1)
    case_answer("a gzip batch of two records, and an uncompressed one",
                produce(good + record_batch([b"plain"])),
                lambda a: produce_error(a) == 0)
    # 4 MiB of zeros in 4 KiB, 100 times in one request: 400 MiB if kept
    bomb = raw_batch(zlib.compress(one_record(b"\0" * (4 << 20)), 9), 1, attrs=1)
    h0 = hwm()
    s = conn(timeout=60)
    s.sendall(produce_parts([bomb] * 100, timeout=0))
    a = recv_answer(s)
    s.close()
    errs = produce_errors(a) if a else []
    grew = hwm() - h0
    report(a is not None and errs.count(10) >= 99 and grew < 160 * 1024 and alive(),
           "100 gzip bombs of 4 MiB in one request: MESSAGE_TOO_LARGE past the first "
           "(%d of %d), peak grew %d KiB" % (errs.count(10), len(errs), grew))
    lie = raw_batch(zlib.compress(one_record(b"x") * 3), 0x7fffffff, attrs=1)
    case_answer("a gzip batch that says 2^31-1 records: CORRUPT_MESSAGE",
                produce(lie), lambda a: produce_error(a) == 2)


def cases_varints():
    # Compact lengths up to 2^64 - 1 (ten varint bytes): no overflow.
    for v in (1 << 63, (1 << 64) - 1, 1 << 31, (1 << 31) + 1):
        hdr = struct.pack(">hhi", 18, 3, 9) + kstr("fuzz") + b"\0"
        s = conn()
        s.sendall(frame(hdr + uvarint(v) + b"ab\0\0"))
        closed(s)
        s.close()
        s = conn()
        # one tagged field in the header, @v bytes long
        s.sendall(frame(struct.pack(">hhi", 18, 3, 9) + kstr("fuzz") + b"\1\0" +
                        uvarint(v) + b"ab"))
        closed(s)
        s.close()
        report(alive(), "a compact length or tag count of %#x" % v)


def cpu_ticks():
    with open("/proc/%d/stat" % PID) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def fetch_req(topic, parts, max_wait=0, corr=7):
    body = header(1, 4, corr) + struct.pack(">iiiib", -1, max_wait, 1, 1 << 20, 0)
    body += struct.pack(">i", 1) + kstr(topic) + struct.pack(">i", len(parts))
    for p in parts:
        body += struct.pack(">iqi", p, 0, 1 << 20)
    return frame(body)


def nfds():
    return len(os.listdir("/proc/%d/fd" % PID))


def cases_fds():
    """A Fetch of every partition of a wide topic (KAFKAD_FUZZ_WIDE, 64 of
    them): the daemon runs with max_consumers=16, and keeps no more."""
    wide = os.environ.get("KAFKAD_FUZZ_WIDE")
    if not wide:
        return
    n0 = nfds()
    for i in range(3):
        s = conn()
        s.sendall(fetch_req(wide, range(64), corr=i))
        a = recv_answer(s)
        s.close()
    grew = nfds() - n0
    report(a is not None and grew <= 16 and alive(),
           "Fetches of 64 partitions: %d more file descriptors" % grew)


def join_req(gid, session=300000, member="", corr=7):
    body = header(11, 0, corr) + kstr(gid) + struct.pack(">i", session)
    body += kstr(member) + kstr("consumer") + struct.pack(">i", 1) + kstr("range")
    body += struct.pack(">i", 1) + b"x"
    return frame(body)


def join_error(a):
    return struct.unpack(">h", a[4:6])[0] if a else None


def cases_joins():
    """JoinGroup floods: one client cannot lock every group out."""
    s = conn(timeout=10)
    errs = {}
    for i in range(1100):
        s.sendall(join_req("flood-%d-%d" % (PID, i), corr=i))
        e = join_error(recv_answer(s))
        errs[e] = errs.get(e, 0) + 1
    report(errs.get(0, 0) <= 16 and errs.get(81, 0) >= 1084,
           "1100 JoinGroups to new groups on one connection: GROUP_MAX_SIZE_REACHED "
           "past 16 %r" % errs)
    s.sendall(join_req("flood-long-%d" % PID, session=3600000))
    e = join_error(recv_answer(s))
    report(e == 26, "a session timeout of an hour: INVALID_SESSION_TIMEOUT (%r)" % e)
    s.close()
    time.sleep(0.5)
    v = conn()
    v.sendall(join_req("victim-%d" % PID, session=10000))
    e = join_error(recv_answer(v))
    v.close()
    report(e == 0, "once the flood's connection is gone another client joins (%r)" % e)
    # one group's members: at most group_max_size (8 here)
    socks, errs = [], {}
    for i in range(10):
        x = conn()
        x.sendall(join_req("wide-%d" % PID, corr=i))
        socks.append(x)
    for x in socks:
        x.settimeout(1)
        try:
            e = join_error(recv_answer(x))
        except OSError:
            e = "parked"
        errs[e] = errs.get(e, 0) + 1
    for x in socks:
        x.close()
    report(errs.get(81, 0) == 2 and alive(),
           "10 members for one group of at most 8: two refused %r" % errs)


def latest(topic, p=0):
    """ListOffsets v1 latest of one partition, or None."""
    body = header(2, 1) + struct.pack(">i", -1) + struct.pack(">i", 1) + kstr(topic)
    body += struct.pack(">iiq", 1, p, -1)
    s = conn()
    s.sendall(frame(body))
    a = recv_answer(s)
    s.close()
    if not a:
        return None
    off = 4 + 4 + 2 + len(topic) + 4 + 4
    err, _, o = struct.unpack(">hqq", a[off:off + 18])
    return o if err == 0 else None


def keyed_record(k, v, i):
    body = b"\0" + varint(0) + varint(i) + varint(len(k)) + k + varint(len(v)) + v + varint(0)
    return varint(len(body)) + body


def cases_sizes():
    """A key or record mqdev cannot take is refused before anything is
    appended (TOPIC; KAFKAD_FUZZ_SMALL: a topic whose records are < 3000 B)."""
    hw = latest(TOPIC)
    recs = keyed_record(b"k", b"a", 0) + keyed_record(b"k" * 5000, b"b", 1)
    case_answer("a key of 5000 bytes after a good record: INVALID_RECORD",
                produce(raw_batch(recs, 2)), lambda a: produce_error(a) == 87)
    report(hw is not None and latest(TOPIC) == hw,
           "nothing of that batch appended (%r, %r)" % (hw, latest(TOPIC)))
    small = os.environ.get("KAFKAD_FUZZ_SMALL")
    if not small:
        return
    hw = latest(small)
    recs = one_record(b"a") + one_record(b"b" * 3000, 1)
    case_answer("a record larger than the topic's max_record: MESSAGE_TOO_LARGE",
                produce(raw_batch(recs, 2), topic=small),
                lambda a: produce_error(a) == 10)
    report(hw is not None and latest(small) == hw,
           "nothing of that batch appended (%r, %r)" % (hw, latest(small)))


def fetch_parse(a):
    """A one-partition Fetch v4 answer: (error, aborted count, records), or
    None when it is not well formed."""
    try:
        off = 4 + 4 + 4
        (nlen,) = struct.unpack(">h", a[off:off + 2])
        off += 2 + nlen + 4
        _, err, _, _, naborted, size = struct.unpack(">ihqqii", a[off:off + 30])
        off += 30
        if naborted > 0 or off + size != len(a):
            return None
        return err, naborted, a[off:off + size]
    except struct.error:
        return None


def cases_recreate():
    """A topic deleted and created again while the daemon has it open: the
    Fetch that finds out answers an error, well formed, and the next reads."""
    import shutil
    import subprocess
    if not shutil.which("mqctl"):
        return
    name = TOPIC + "-re"

    def mqctl(*args, stdin=None):
        return subprocess.run(["mqctl", *args], input=stdin, capture_output=True).returncode

    def fetch():
        s = conn()
        s.sendall(fetch_req(name, [0]))
        a = recv_answer(s)
        s.close()
        return fetch_parse(a) if a else None

    mqctl("topic", "create", name)
    mqctl("produce", name, "--partition", "0", stdin=b"1\n2\n3\n")
    first = fetch()
    mqctl("topic", "delete", name)
    mqctl("topic", "create", name)
    mqctl("produce", name, "--partition", "0", stdin=b"4\n5\n6\n7\n")
    answers = [fetch() for _ in range(3)]
    mqctl("topic", "delete", name)
    report(first is not None and first[0] == 0 and None not in answers and
           answers[-1][0] == 0 and len(answers[-1][2]) > 0 and alive(),
           "a topic deleted and created again: Fetch answers well formed %r" %
           ([first[:2] if first else None] + [x[:2] if x else None for x in answers]))


def cases_bigrecord():
    """A record larger than a Fetch answer's bound is served alone."""
    import shutil
    import subprocess
    if not shutil.which("mqctl"):
        return
    name = TOPIC + "-big"
    subprocess.run(["mqctl", "topic", "create", name, "--capacity", "16M"],
                   capture_output=True)
    big = raw_batch(zlib.compress(one_record(b"\0" * (3 << 20))), 1, attrs=1)
    s = conn(timeout=30)
    s.sendall(produce_parts([big], topic=name))
    e = produce_errors(recv_answer(s) or b"\0" * 40)
    s.sendall(fetch_req(name, [0]))
    a = recv_answer(s)
    s.close()
    f = fetch_parse(a) if a else None
    subprocess.run(["mqctl", "topic", "delete", name], capture_output=True)
    report(e == [0] and f is not None and f[0] == 0 and len(f[2]) > 3 << 20,
           "a record of 3 MiB is fetched whole (%r, %r)" %
           (e, (f[0], len(f[2])) if f else None))


def cases_whole():
    """A full 'block' topic: a batch that does not fit times out whole,
    none of it appended (a client sends it all again)."""
    import shutil
    import subprocess
    if not shutil.which("mqctl"):
        return
    name = TOPIC + "-whole"
    subprocess.run(["mqctl", "topic", "create", name, "--capacity", "8K"],
                   capture_output=True)
    recs = b"".join(one_record(b"%020d" % i, i) for i in range(40))
    before = after = e = None
    for _ in range(10):
        before = latest(name)
        s = conn()
        s.sendall(produce_parts([raw_batch(recs, 40)], topic=name, timeout=500))
        a = recv_answer(s)
        s.close()
        e = produce_errors(a)[0] if a else None
        after = latest(name)
        if e != 0:
            break
    report(e == 7 and before is not None and after == before,
           "a batch a full block topic cannot hold: REQUEST_TIMED_OUT, none of it "
           "appended (%r, %r -> %r)" % (e, before, after))
    recs = b"".join(one_record(b"%020d" % i, i) for i in range(400))
    s = conn()
    s.sendall(produce_parts([raw_batch(recs, 400)], topic=name, timeout=500))
    a = recv_answer(s)
    s.close()
    e = produce_errors(a)[0] if a else None
    report(e == 18 and latest(name) == after,
           "a batch larger than the partition: RECORD_LIST_TOO_LARGE, nothing appended "
           "(%r)" % e)
    subprocess.run(["mqctl", "topic", "delete", name], capture_output=True)


def join_v1(gid, member="", session=10000, rebalance=2000, corr=7, meta=b"x"):
    body = header(11, 1, corr) + kstr(gid) + struct.pack(">ii", session, rebalance)
    body += kstr(member) + kstr("consumer") + struct.pack(">i", 1) + kstr("range")
    body += struct.pack(">i", len(meta)) + meta
    return frame(body)


def join_v1_parse(a):
    """(error, generation, leader, member id) of a JoinGroup v1 answer."""
    off = 4
    err, gen = struct.unpack(">hi", a[off:off + 6])
    off += 6
    out = []
    for _ in range(3):
        (n,) = struct.unpack(">h", a[off:off + 2])
        out.append(a[off + 2:off + 2 + max(n, 0)].decode())
        off += 2 + max(n, 0)
    return err, gen, out[1], out[2]


def sync_v0(gid, gen, member, corr=8):
    return frame(header(14, 0, corr) + kstr(gid) + struct.pack(">i", gen) + kstr(member) +
                 struct.pack(">i", 0))


def cases_sync():
    """A leader that never sends its assignment: the follower's parked
    SyncGroup is answered (REBALANCE_IN_PROGRESS) after the rebalance
    timeout; a second SyncGroup of one member answers the first."""
    gid = "nosync-%d" % PID
    a, b = conn(timeout=20), conn(timeout=20)
    a.sendall(join_v1(gid, corr=1))
    b.sendall(join_v1(gid, corr=2))
    ja, jb = join_v1_parse(recv_answer(a)), join_v1_parse(recv_answer(b))
    follower, fj = (b, jb) if ja[2] == ja[3] else (a, ja)
    t0 = time.time()
    follower.sendall(sync_v0(gid, fj[1], fj[3]))
    c = conn(timeout=20)
    c.sendall(sync_v0(gid, fj[1], fj[3], corr=9))
    first = recv_answer(follower)
    e1 = struct.unpack(">h", first[4:6])[0] if first else None
    second = recv_answer(c)
    e2 = struct.unpack(">h", second[4:6])[0] if second else None
    waited = time.time() - t0
    for x in (a, b, c):
        x.close()
    report(e1 == 27 and e2 == 27 and waited < 15,
           "a member's two SyncGroups, a leader that never syncs: both answered "
           "(%r, %r) in %.1f s" % (e1, e2, waited))
    # the leader's JoinGroup answer holds every member's metadata: bounded
    gid = "fat-%d" % PID
    socks, errs = [], {}
    for i in range(80):
        x = conn(timeout=20)
        x.sendall(join_v1(gid, corr=i, meta=b"m" * 60000))
        socks.append(x)
    time.sleep(3)
    for x in socks:
        x.settimeout(0.2)
        a = recv_answer(x)
        e = struct.unpack(">h", a[4:6])[0] if a else "parked"
        errs[e] = errs.get(e, 0) + 1
    for x in socks:
        x.close()
    kept = errs.get(0, 0)
    report(kept * 60000 <= 4 << 20 and alive(),
           "80 members of 60 KB metadata: at most 4 MiB of it kept %r" % errs)


def cases_conns():
    """Connections that send nothing go after first_request_ms (2 s here):
    at the connection cap (64 here), another client is soon served."""
    idle = open_conns(70)
    t0 = time.time()
    ok = False
    while time.time() - t0 < 8 and not ok:
        ok = api_versions_ok()
        if not ok:
            time.sleep(0.2)
    waited = time.time() - t0
    for x in idle:
        x.close()
    report(ok and waited < 6, "%d idle connections: another client served after %.1f s" %
           (len(idle), waited))


def cases_simple_commit():
    """An OffsetCommit from outside any group (generation -1) makes no
    group: GROUP_AUTHORIZATION_FAILED (allow_simple_commit is off)."""
    gid = "simple-%d" % PID
    body = header(8, 2) + kstr(gid) + struct.pack(">i", -1) + kstr("")
    body += struct.pack(">q", -1) + struct.pack(">i", 1) + kstr(TOPIC)
    body += struct.pack(">iiq", 1, 0, 1) + kstr(None)
    s = conn()
    s.sendall(frame(body))
    a = recv_answer(s)
    s.close()
    e = None
    if a:
        off = 4 + 4 + 2 + len(TOPIC) + 4 + 4
        e = struct.unpack(">h", a[off:off + 2])[0]
    report(e == 30, "OffsetCommit by no member for a new group: GROUP_AUTHORIZATION_FAILED "
           "(%r)" % e)


def open_conns(n):
    """Up to @n connections, as many as connect."""
    socks = []
    for _ in range(n):
        try:
            socks.append(conn(timeout=2))
        except OSError:
            break
    return socks


def cases_emfile():
    """Run against a daemon with few file descriptors (ulimit -n 32)."""
    socks = open_conns(48)
    time.sleep(1)
    t0 = cpu_ticks()
    time.sleep(2)
    spent = cpu_ticks() - t0
    report(spent < os.sysconf("SC_CLK_TCK") // 2,
           "out of file descriptors with %d clients: %d ticks of CPU in 2 s" %
           (len(socks), spent))
    for x in socks:
        x.close()
    time.sleep(0.5)
    ok = False
    for _ in range(20):
        ok = alive()
        if ok:
            break
        time.sleep(0.2)
    report(ok, "once they are gone, a new client is served")


def main():
    only = os.environ.get("KAFKAD_FUZZ_CASES")
    if only:
        for name in only.split():
            globals()[name]()
        return 1 if failed else 0
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

    cases_batches()
    cases_simple_commit()
    cases_sync()
    cases_conns()
    cases_whole()
    cases_bigrecord()
    cases_recreate()
    cases_sizes()
    cases_joins()
    cases_fds()
    cases_compressed()
    cases_varints()
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
    socks = open_conns(300)
    time.sleep(0.5)
    for x in socks:
        x.close()
    time.sleep(0.5)
    report(alive(), "%d connections at once, then a new one is served" % len(socks))
    return 1 if failed else 0


def rss(field="VmRSS:"):
    with open("/proc/%d/status" % PID) as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
