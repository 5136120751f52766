#!/usr/bin/env python3
"""A TCP proxy that can freeze its connections without closing them (stall watchdog tests).

freeze_proxy.py LISTEN_PORT_FILE TARGET_HOST TARGET_PORT

Listens on a free 127.0.0.1 port (written to LISTEN_PORT_FILE) and forwards every connection
to TARGET. On SIGUSR1 every connection open at that moment is frozen: its sockets stay open and
are still read (so the peer's writes never block) but nothing is forwarded any more, in either
direction: the peer sees a connection that takes everything and answers nothing. Connections
accepted later forward normally. SIGUSR2 toggles holding new connections: while held, nothing
is accepted (a connect completes in the kernel's backlog and waits for its first reply); on
release they are accepted and forwarded. SIGHUP closes every frozen connection (both sockets),
as the peer's own timeout would in the end (the broker then requeues what it had sent on it)."""
import selectors
import signal
import socket
import sys

sel = selectors.DefaultSelector()
pairs = {}  # socket -> [peer socket, frozen]
freeze_now = False
toggle_hold = False
close_frozen = False


def on_hup(signum, frame):
    global close_frozen
    close_frozen = True


def on_usr1(signum, frame):
    global freeze_now
    freeze_now = True


def on_usr2(signum, frame):
    global toggle_hold
    toggle_hold = True


def main():
    global freeze_now, toggle_hold, close_frozen
    held = False
    port_file, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGUSR2, on_usr2)
    signal.signal(signal.SIGHUP, on_hup)
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    sel.register(lsock, selectors.EVENT_READ)
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % lsock.getsockname()[1])
    import os
    os.rename(port_file + ".tmp", port_file)
    while True:
        if freeze_now:
            freeze_now = False
            for st in pairs.values():
                st[1] = True
            print("froze %d sockets" % len(pairs), flush=True)
        if close_frozen:
            close_frozen = False
            frozen = [x for x, st in pairs.items() if st[1]]
            for x in frozen:
                sel.unregister(x)
                del pairs[x]
                x.close()
            print("closed %d frozen sockets" % len(frozen), flush=True)
        if toggle_hold:
            toggle_hold = False
            held = not held
            if held:
                sel.unregister(lsock)
            else:
                sel.register(lsock, selectors.EVENT_READ)
            print("held" if held else "released", flush=True)
        try:
            events = sel.select(timeout=0.2)
        except InterruptedError:
            continue
        for key, _ in events:
            s = key.fileobj
            if s is lsock:
                c, _ = lsock.accept()
                try:
                    t = socket.create_connection((host, port))
                except OSError:
                    c.close()
                    continue
                pairs[c] = [t, False]
                pairs[t] = [c, False]
                sel.register(c, selectors.EVENT_READ)
                sel.register(t, selectors.EVENT_READ)
                continue
            st = pairs.get(s)
            if st is None:
                continue
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                for x in (s, st[0]):
                    if x in pairs:
                        sel.unregister(x)
                        del pairs[x]
                        x.close()
                continue
            if not st[1]:
                try:
                    st[0].sendall(data)
                except OSError:
                    pass


if __name__ == "__main__":
    main()
