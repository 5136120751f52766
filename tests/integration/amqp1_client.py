#!/usr/bin/python3
"""Independent AMQP 1.0 test client for msgbridge's amqp1 integration tests (python3-qpid-proton).

  amqp1_client.py send URL ADDRESS COUNT [--start N] [--tag T]
      Send COUNT messages numbered START.. with a data-section body, a key (the reserved
      application property x-msgbridge-key), typed application properties and properties,
      each confirmed by the broker (unsettled sends, waits for every disposition).
  amqp1_client.py recv URL ADDRESS COUNT [--start N] [--tag T] [--idle S] [--timeout S]
      Receive until COUNT distinct messages arrived (or nothing came for --idle seconds, or
      --timeout passed), check every one against what `send` made (body, key, typed
      application properties, properties; the key, sent as binary, is expected back as a
      string: msgbridge sends UTF-8 keys as strings) and print
        received=R unique=U duplicates=D missing=M mismatched=X
      Exit 0 only if missing=0 and mismatched=0.
  amqp1_client.py drain URL ADDRESS
      Receive and accept everything until the address is idle for a second; print the count.
  amqp1_client.py dump URL ADDRESS COUNT
      Receive COUNT messages (or until idle) and print, per message, one line per application
      property, sorted: NAME<TAB>TYPE<TAB>VALUE with TYPE the Python type the AMQP value
      decoded to (str for an AMQP string, bytes for binary) and VALUE its repr(); messages
      are separated by a line "--".

URL is amqp://[user:password@]host:port. Message i is fully determined by (tag, i).
"""
import argparse
import sys
import time
import uuid

from proton import (Message, byte, float32, int32, short, symbol, timestamp, ubyte, uint,
                    ulong, ushort)
from proton.handlers import MessagingHandler
from proton.reactor import Container


def expected(tag, i):
    """The message number i of run tag, exactly as `send` makes it."""
    body = b"%s-body-%d-" % (tag.encode(), i) + bytes([0, 255, i % 256]) + b"x" * (i % 50)
    props = {
        "x-msgbridge-key": b"key-%d" % i,
        "seq": ulong(i),
        "i8": byte(-(i % 100)),
        "u8": ubyte(i % 256),
        "i16": short(-1234),
        "u16": ushort(60000),
        "i32": int32(-100000 - i),
        "u32": uint(4000000000),
        "i64": -(2 ** 40) - i,
        "f32": float32(0.5),
        "f64": 3.25 + i,
        "flag": (i % 2 == 0),
        "text": "t\u00e9xt-%d" % i,
        "bin": b"\x00\x01\xfe",
        "when": timestamp(1700000000000 + i),
        "id": uuid.UUID(int=i),
        "sym": symbol("sym-%d" % (i % 7)),
        "none": None,
    }
    m = Message()
    m.inferred = True  # a data section, not an amqp-value binary
    m.body = body
    m.properties = props
    m.id = "%s-id-%d" % (tag, i)
    m.correlation_id = "corr-%d" % i
    m.subject = "subject-%d" % (i % 10)
    m.content_type = "application/octet-stream"
    m.reply_to = "/queue/replies"
    m.group_id = "group-%d" % (i % 3)
    m.creation_time = 1700000000.123 + i  # seconds (proton converts to ms)
    m.priority = 6
    m.durable = True
    return m


def describe(m):
    """A comparable view of what a consumer sees."""
    def typed(v):
        return (type(v).__name__, v)
    # x-msgbridge-path is the bridge's provenance (loop prevention), not message content.
    props = {k: typed(v) for k, v in (m.properties or {}).items() if k != "x-msgbridge-path"}
    return {
        "body": (type(m.body).__name__, bytes(m.body) if m.body is not None else None),
        "props": props,
        "id": m.id, "correlation_id": m.correlation_id, "subject": m.subject,
        "content_type": m.content_type, "reply_to": m.reply_to, "group_id": m.group_id,
        "creation_time": round(m.creation_time * 1000) if m.creation_time else None,
        "priority": m.priority, "durable": m.durable,
    }


def seq_of(m, tag):
    mid = m.id if isinstance(m.id, str) else ""
    prefix = "%s-id-" % tag
    if not mid.startswith(prefix):
        return None
    try:
        return int(mid[len(prefix):])
    except ValueError:
        return None


def parse_url(url):
    rest = url.split("://", 1)[1] if "://" in url else url
    user = password = None
    if "@" in rest:
        cred, rest = rest.rsplit("@", 1)
        user, _, password = cred.partition(":")
    return "amqp://" + rest.rstrip("/"), user, password


class Sender(MessagingHandler):
    def __init__(self, url, address, count, start, tag):
        super().__init__(auto_settle=True)
        self.url, self.address, self.count, self.start, self.tag = url, address, count, start, tag
        self.sent = self.confirmed = self.refused = 0

    def on_start(self, event):
        url, user, password = parse_url(self.url)
        kw = {}
        if user:
            kw = dict(user=user, password=password, allowed_mechs="PLAIN",
                      allow_insecure_mechs=True)
        conn = event.container.connect(url, **kw)
        event.container.create_sender(conn, self.address)

    def on_sendable(self, event):
        while event.sender.credit and self.sent < self.count:
            event.sender.send(expected(self.tag, self.start + self.sent))
            self.sent += 1

    def on_accepted(self, event):
        self.confirmed += 1
        self._maybe_done(event)

    def on_rejected(self, event):
        self.refused += 1
        self._maybe_done(event)

    def on_released(self, event):
        self.refused += 1
        self._maybe_done(event)

    def _maybe_done(self, event):
        if self.confirmed + self.refused == self.count:
            event.connection.close()


class Receiver(MessagingHandler):
    def __init__(self, url, address, count, start, tag, idle, timeout, check=True):
        super().__init__(prefetch=500, auto_accept=True)
        self.url, self.address, self.count, self.start, self.tag = url, address, count, start, tag
        self.idle, self.timeout, self.check = idle, timeout, check
        self.dump = False
        self.received = 0
        self.seen = set()
        self.dups = 0
        self.mismatched = 0
        self.examples = []
        self.last = time.monotonic()
        self.t0 = time.monotonic()

    def on_start(self, event):
        url, user, password = parse_url(self.url)
        kw = {}
        if user:
            kw = dict(user=user, password=password, allowed_mechs="PLAIN",
                      allow_insecure_mechs=True)
        self.conn = event.container.connect(url, **kw)
        self.connect_args = (url, kw)
        self.receiver = event.container.create_receiver(self.conn, self.address)
        self.reattached = 0
        self.last_reattach = time.monotonic()
        event.container.schedule(0.2, self)

    def on_timer_task(self, event):
        now = time.monotonic()
        if (now - self.last > self.idle or now - self.t0 > self.timeout or
                (self.count and len(self.seen) >= self.count)):
            self.conn.close()
            return
        # RabbitMQ 3.x's AMQP 1.0 plugin can lose track of link credit under load and stop
        # sending to a receiver: a quiet link is re-attached (every message received so far
        # was accepted, so nothing is redelivered twice because of this).
        if now - self.last > 4 and now - self.last_reattach > 4:
            # Every other re-attach uses a new connection: the stall can be session-wide.
            if self.reattached % 2:
                self.conn.close()
                url, kw = self.connect_args
                self.conn = event.container.connect(url, **kw)
            else:
                self.receiver.close()
            self.receiver = event.container.create_receiver(self.conn, self.address)
            self.reattached += 1
            self.last_reattach = now
        event.container.schedule(0.2, self)

    def on_message(self, event):
        self.received += 1
        self.last = time.monotonic()
        if self.dump:
            for k, v in sorted((event.message.properties or {}).items()):
                print("%s\t%s\t%r" % (k, type(v).__name__, v))
            print("--")
            if self.count and self.received >= self.count:
                self.conn.close()
            return
        if not self.check:
            return
        m = event.message
        i = seq_of(m, self.tag)
        if i is None or not (self.start <= i < self.start + self.count):
            self.mismatched += 1
            if len(self.examples) < 3:
                self.examples.append("unexpected message id %r" % (m.id,))
            return
        if i in self.seen:
            self.dups += 1
            return
        self.seen.add(i)
        got, want = describe(m), describe(expected(self.tag, i))
        # The key is sent as binary; msgbridge's sink sends a UTF-8 key as a string (what JMS
        # consumers read as text), whatever its type at the source.
        k = want["props"].get("x-msgbridge-key")
        if k and k[0] == "bytes":
            want["props"]["x-msgbridge-key"] = ("str", k[1].decode())
        if got != want:
            self.mismatched += 1
            if len(self.examples) < 3:
                diff = {k: (got[k], want[k]) for k in want if got.get(k) != want[k]}
                if "props" in diff:
                    g, w = diff["props"]
                    diff["props"] = {k: (g.get(k), w.get(k)) for k in set(g) | set(w)
                                     if g.get(k) != w.get(k)}
                self.examples.append("message %d differs (got, want): %r" % (i, diff))
        if len(self.seen) >= self.count:
            self.conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["send", "recv", "drain", "dump"])
    ap.add_argument("url")
    ap.add_argument("address")
    ap.add_argument("count", type=int, nargs="?", default=0)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--tag", default="t")
    ap.add_argument("--idle", type=float, default=10.0)
    ap.add_argument("--timeout", type=float, default=120.0)
    a = ap.parse_args()
    if a.cmd == "send":
        h = Sender(a.url, a.address, a.count, a.start, a.tag)
        Container(h).run()
        print("sent=%d confirmed=%d refused=%d" % (h.sent, h.confirmed, h.refused))
        return 0 if h.confirmed == a.count else 1
    if a.cmd == "dump":
        h = Receiver(a.url, a.address, a.count, 0, a.tag, a.idle, a.timeout, check=False)
        h.dump = True
        Container(h).run()
        return 0 if h.received >= a.count else 1
    if a.cmd == "drain":
        h = Receiver(a.url, a.address, 0, 0, a.tag, 1.0, a.timeout, check=False)
        Container(h).run()
        print("drained=%d" % h.received)
        return 0
    h = Receiver(a.url, a.address, a.count, a.start, a.tag, a.idle, a.timeout)
    Container(h).run()
    missing = a.count - len(h.seen)
    print("received=%d unique=%d duplicates=%d missing=%d mismatched=%d" %
          (h.received, len(h.seen), h.dups, missing, h.mismatched))
    for e in h.examples:
        print("  " + e)
    return 0 if missing == 0 and h.mismatched == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
