#!/usr/bin/python3
"""Independent STOMP 1.2 test client for msgbridge's stomp integration tests (Debian's
python3-stomp, not msgbridge's code).

  stomp_client.py send HOST:PORT DEST COUNT [--start N] [--tag T]
      Send COUNT persistent messages numbered START.. with a binary body (NUL bytes included),
      a key (the reserved header x-msgbridge-key), headers that need STOMP escaping (':' '\\'
      and a newline), a non-ASCII header, correlation-id and content-type; each with a receipt,
      pipelined.
  stomp_client.py recv HOST:PORT DEST COUNT [--start N] [--tag T] [--idle S] [--timeout S]
      Receive (ack:client-individual) until COUNT distinct messages arrived (or nothing came
      for --idle seconds, or --timeout passed), check every one byte for byte against what
      `send` made and print
        received=R unique=U duplicates=D missing=M mismatched=X
      Exit 0 only if missing=0 and mismatched=0.
  stomp_client.py count HOST:PORT DEST
      Receive and acknowledge everything until DEST is idle for a second; print the count.
Message i is fully determined by (tag, i).
"""
import argparse
import socket
import sys
import threading
import time

import stomp


def body_of(tag, i):
    return b"%s-body-%d-" % (tag.encode(), i) + bytes([0, 255, i % 256, 0]) + b"x" * (i % 50)


def headers_of(tag, i):
    return {
        "x-msgbridge-key": "key-%d" % i,
        "seq": str(i),
        "text": "t\u00e9xt-%d" % i,
        "escaped": "a:b\\c\nd-%d" % i,
        "correlation-id": "corr-%d" % i,
        "content-type": "application/octet-stream",
        "tag": tag,
    }


def connect(hostport, listener=None):
    host, port = hostport.rsplit(":", 1)
    c = stomp.Connection12([(host, int(port))], auto_decode=False, heartbeats=(0, 0))
    if listener:
        c.set_listener("l", listener)
    c.connect(wait=True)
    return c


class Receipts(stomp.ConnectionListener):
    def __init__(self):
        self.cv = threading.Condition()
        self.n = 0
        self.errors = []

    def on_receipt(self, frame):
        with self.cv:
            self.n += 1
            self.cv.notify_all()

    def on_error(self, frame):
        with self.cv:
            self.errors.append(frame.headers.get("message", "?"))
            self.cv.notify_all()


def send(a):
    r = Receipts()
    c = connect(a.hostport, r)
    window = 500
    for k in range(a.count):
        i = a.start + k
        h = headers_of(a.tag, i)
        with r.cv:
            while k - r.n >= window and not r.errors:
                r.cv.wait(10)
        if r.errors:
            sys.exit("ERROR from the broker: %s" % r.errors)
        c.send(a.dest, body_of(a.tag, i), headers=dict(h, persistent="true",
                                                       receipt="r%d" % k))
    with r.cv:
        deadline = time.time() + 60
        while r.n < a.count and time.time() < deadline and not r.errors:
            r.cv.wait(1)
    c.disconnect()
    if r.n < a.count:
        sys.exit("only %d of %d receipts %s" % (r.n, a.count, r.errors))
    print("sent=%d" % a.count)


class RawReader:
    """A STOMP 1.2 subscriber on a plain socket. python3-stomp 8.0 splits a MESSAGE whose
    body holds NUL bytes when the frame arrives across reads (its receive buffer looks for the
    first NUL before it knows the content-length), so receiving is done here, by the book."""

    def __init__(self, hostport, dest, prefetch=1000):
        host, port = hostport.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=5)
        self.buf = b""
        self.s.sendall(b"CONNECT\naccept-version:1.2\nhost:localhost\nheart-beat:0,0\n\n\0")
        f = self.frame(10)
        if not f or f[0] != "CONNECTED":
            sys.exit("no CONNECTED: %r" % (f,))
        self.write("SUBSCRIBE", {"id": "1", "destination": dest, "ack": "client-individual",
                                 "activemq.prefetchSize": str(prefetch)})

    @staticmethod
    def esc(v):
        return v.replace("\\", "\\\\").replace("\n", "\\n").replace(":", "\\c")

    def write(self, cmd, headers, body=b""):
        out = cmd + "\n" + "".join("%s:%s\n" % (self.esc(k), self.esc(v))
                                  for k, v in headers.items()) + "\n"
        self.s.sendall(out.encode() + body + b"\0")

    @staticmethod
    def unesc(v):
        out, i = [], 0
        while i < len(v):
            c = v[i]
            if c == "\\" and i + 1 < len(v):
                out.append({"n": "\n", "r": "\r", "c": ":", "\\": "\\"}[v[i + 1]])
                i += 2
            else:
                out.append(c)
                i += 1
        return "".join(out)

    def frame(self, timeout):
        """The next frame as (command, headers, body), or None after timeout s of nothing."""
        self.s.settimeout(timeout)
        while True:
            while self.buf[:1] in (b"\n", b"\r"):
                self.buf = self.buf[1:]
            he = self.buf.find(b"\n\n")
            if he >= 0:
                lines = self.buf[:he].decode("utf-8").replace("\r", "").split("\n")
                cmd, headers = lines[0], {}
                for line in lines[1:]:
                    k, v = line.split(":", 1)
                    if cmd != "CONNECTED":
                        k, v = self.unesc(k), self.unesc(v)
                    headers.setdefault(k, v)
                start = he + 2
                if "content-length" in headers:
                    end = start + int(headers["content-length"])
                else:
                    end = self.buf.find(b"\0", start)
                if end >= 0 and len(self.buf) > end:
                    assert self.buf[end:end + 1] == b"\0", "no NUL after the body"
                    body = self.buf[start:end]
                    self.buf = self.buf[end + 1:]
                    return cmd, headers, body
            try:
                chunk = self.s.recv(1 << 16)
            except socket.timeout:
                return None
            if not chunk:
                sys.exit("the broker closed the connection")
            self.buf += chunk


def recv(a):
    r = RawReader(a.hostport, a.dest)
    seen = {}
    dup = mism = done = 0
    deadline = time.time() + a.timeout
    first_bad = None
    while len(seen) < a.count and time.time() < deadline:
        f = r.frame(a.idle)
        if f is None:
            break
        cmd, h, body = f
        if cmd != "MESSAGE":
            sys.exit("%s: %s" % (cmd, h.get("message")))
        done += 1
        r.write("ACK", {"id": h["ack"]})
        if h.get("tag") != a.tag:
            continue
        try:
            i = int(h.get("seq", "-1"))
        except ValueError:
            i = -1
        if i in seen:
            dup += 1
            continue
        seen[i] = True
        bad = []
        if body != body_of(a.tag, i):
            bad.append("body %r" % body[:60])
        for k, v in headers_of(a.tag, i).items():
            if h.get(k) != v:
                bad.append("%s=%r (want %r)" % (k, h.get(k), v))
        if bad:
            mism += 1
            if first_bad is None:
                first_bad = "message %d: %s" % (i, "; ".join(bad))
    r.write("DISCONNECT", {"receipt": "bye"})
    r.frame(2)
    want = set(range(a.start, a.start + a.count))
    missing = len(want - set(seen))
    print("received=%d unique=%d duplicates=%d missing=%d mismatched=%d" %
          (done, len(seen), dup, missing, mism))
    if first_bad:
        print("first mismatch: %s" % first_bad)
    sys.exit(0 if missing == 0 and mism == 0 else 1)


def count(a):
    r = RawReader(a.hostport, a.dest)
    done = 0
    while True:
        f = r.frame(a.idle)
        if f is None:
            break
        done += 1
        r.write("ACK", {"id": f[1]["ack"]})
    r.write("DISCONNECT", {"receipt": "bye"})
    r.frame(2)
    print(done)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["send", "recv", "count"])
    p.add_argument("hostport")
    p.add_argument("dest")
    p.add_argument("count", type=int, nargs="?", default=0)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--tag", default="t")
    p.add_argument("--idle", type=float, default=1.0)
    p.add_argument("--timeout", type=float, default=60.0)
    a = p.parse_args()
    {"send": send, "recv": recv, "count": count}[a.cmd](a)


if __name__ == "__main__":
    main()
