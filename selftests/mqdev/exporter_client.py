#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Drive mqdev-exporter with good and bad requests, for exporter_test.sh.

usage: exporter_client.py PORT METRICS_FILE

Prints one line per check, "ok NAME" or "not ok NAME: why", and writes the
body of a good GET /metrics to METRICS_FILE (for promtool).  Every socket
has a timeout, and every loop a bound: it stops by itself.
"""
import socket
import sys
import time

HOST = "127.0.0.1"


def connect(port):
    s = socket.create_connection((HOST, port), timeout=10)
    return s


def exchange(port, data, chunk=None):
    """Send data (in chunks of `chunk` bytes, if given), read to EOF."""
    s = connect(port)
    try:
        if chunk:
            for i in range(0, len(data), chunk):
                s.sendall(data[i:i + chunk])
                time.sleep(0.001)
        else:
            s.sendall(data)
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
        return out
    finally:
        s.close()


def status(resp):
    line = resp.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


results = []


def check(name, cond, why=""):
    results.append(cond)
    print(("ok " if cond else "not ok ") + name + ("" if cond else ": " + why))


def main():
    port = int(sys.argv[1])
    get = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"

    r = exchange(port, get)
    check("GET /metrics is 200", status(r) == 200, repr(r[:200]))
    body = r.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in r else b""
    check("its Content-Type is the text format 0.0.4",
          b"text/plain; version=0.0.4" in r.split(b"\r\n\r\n", 1)[0])
    check("its body has the partition counters",
          b"mqdev_partition_records_total{" in body)
    with open(sys.argv[2], "wb") as f:
        f.write(body)

    r = exchange(port, b"GET /other HTTP/1.1\r\n\r\n")
    check("another path is 404", status(r) == 404, repr(r[:100]))
    r = exchange(port, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
    check("POST is 405", status(r) == 405 and b"Allow: GET" in r,
          repr(r[:100]))
    r = exchange(port, b"garbage\r\n\r\n")
    check("garbage is 400", status(r) == 400, repr(r[:100]))
    r = exchange(port, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000 +
                 b"\r\n\r\n")
    check("huge headers are 431", status(r) == 431, repr(r[:100]))
    r = exchange(port, get, chunk=1)
    check("a request byte by byte is 200", status(r) == 200, repr(r[:100]))
    r = exchange(port, b"HEAD /metrics HTTP/1.0\r\n\r\n")
    check("HEAD has headers only",
          status(r) == 200 and r.endswith(b"\r\n\r\n"), repr(r[-50:]))

    # More clients than it serves at once: the extra ones are closed, and
    # it serves again once they are gone.
    many = []
    for _ in range(40):
        try:
            many.append(connect(port))
        except OSError:
            break
    time.sleep(0.5)
    closed = 0
    for s in many:
        try:
            s.settimeout(0.2)
            if s.recv(1) == b"":
                closed += 1
        except (socket.timeout, OSError):
            pass
    check("connections past the cap are closed", closed >= 40 - 8,
          "%d of %d closed" % (closed, len(many)))
    for s in many:
        s.close()
    time.sleep(0.3)
    r = exchange(port, get)
    check("served again after the crowd", status(r) == 200, repr(r[:100]))

    # A client that sends half a request and goes quiet, and one that asks
    # and never reads: both are dropped at the idle timeout (2 s here).
    quiet = connect(port)
    quiet.sendall(b"GET /metr")
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    slow.settimeout(10)
    slow.connect((HOST, port))
    slow.sendall(get)
    start = time.time()
    quiet.settimeout(10)
    try:
        got = quiet.recv(100)
    except OSError:
        got = b""
    check("a silent client is dropped at the idle timeout",
          got == b"" and time.time() - start < 8, repr(got))
    time.sleep(1)
    try:
        while slow.recv(65536):
            pass
        dropped = True
    except OSError:
        dropped = True
    check("a client that never reads is dropped", dropped)
    quiet.close()
    slow.close()
    r = exchange(port, get)
    check("still serving", status(r) == 200, repr(r[:100]))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
