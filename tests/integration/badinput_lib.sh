# Helpers for the bad-input tests (sourced after lib.sh): tests/integration/badinput_*.sh.
# Every case these tests cover is listed in docs/bad-input.md with what msgbridge does.

BI_CLIENT=$top_builddir/tests/integration/badinput_client
BI_PY=/usr/bin/python3
# A name unique to this run, for topics, queues and consumer groups on the shared brokers.
BI_ID=$(echo "$T_NAME" | tr '_' '-')-$$-$(date +%s)

# bi_need_client: the librdkafka/rabbitmq-c client (built by make check), or skip.
bi_need_client() {
    if [ ! -x "$BI_CLIENT" ]; then
        make -C "$top_builddir" tests/integration/badinput_client >/dev/null 2>&1 ||
            t_skip "cannot build $BI_CLIENT"
    fi
}

# bi_check FILE: msgbridge -t -c FILE; output in $T_DIR/check.out, exit status in BI_RC, wall
# time in BI_SECS (whole seconds, rounded up). A check may use at most BI_LIMIT seconds of CPU
# (default 20; RLIMIT_CPU, so the kernel kills it there and BI_RC is 137): CPU time,
# not wall time, because what these tests catch is work that grows too fast with the input,
# and a loaded machine (a CI neighbour, a sanitizer build) stretches wall time tenfold without
# one more instruction run. A hang that burns no CPU is caught by a wall-clock net ten times
# wider (SIGKILL, BI_RC 137 too; msgbridge blocks SIGTERM and SIGINT before it loads the file, so
# neither interrupts a slow check).
bi_check() {
    s=$(date +%s%N)
    (ulimit -t "${BI_LIMIT:-20}" && exec timeout -s KILL $((${BI_LIMIT:-20} * 10)) \
        "$MSGBRIDGE" -t -c "$1") >"$T_DIR/check.out" 2>&1
    BI_RC=$?
    BI_SECS=$(( ($(date +%s%N) - s + 999999999) / 1000000000 ))
}

# bi_expect_error FILE LINE...: -t exits 1 and prints each LINE exactly.
bi_expect_error() {
    f=$1; shift
    bi_check "$f"
    [ "$BI_RC" = 1 ] || t_fail "$f: msgbridge -t exited $BI_RC, expected 1: $(head -c 600 "$T_DIR/check.out")"
    for want in "$@"; do
        grep -qxF -- "$want" "$T_DIR/check.out" ||
            t_fail "$f: expected the line '$want', got: $(head -c 600 "$T_DIR/check.out")"
    done
}

# bi_expect_valid FILE: -t exits 0 and says the file is valid.
bi_expect_valid() {
    bi_check "$1"
    [ "$BI_RC" = 0 ] || t_fail "$1: msgbridge -t exited $BI_RC: $(head -c 600 "$T_DIR/check.out")"
    grep -qxF "configuration $1 is valid" "$T_DIR/check.out" ||
        t_fail "$1: no 'is valid' line: $(tail -c 300 "$T_DIR/check.out")"
}

# bi_alive PID: msgbridge is still running (no crash, no exit).
bi_alive() {
    kill -0 "$1" 2>/dev/null || { wait "$1"; t_fail "msgbridge exited (status $?): $(tail -c 1500 "$T_DIR"/*.log)"; }
}

# bi_a1dump URL ADDRESS N IDLE_S: print the messages of an AMQP 1.0 address, one line each
# ("body=TYPE:VALUE props=NAME=TYPE:VALUE,..." in repr form), with python3-qpid-proton (an
# independent client). A message a standard client cannot decode is printed as
# "undecodable ERROR" (and accepted, so that it does not block the queue).
bi_a1dump() {
    cat >"$T_DIR/a1dump.py" <<'EOP'
import sys, time
from proton import Array, Delivery, Described, Message
from proton.handlers import MessagingHandler
from proton.reactor import Container

def show(v):
    if isinstance(v, dict):
        return "map{" + ",".join("%s=%s" % (show(k), show(x)) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "list[" + ",".join(show(x) for x in v) + "]"
    if isinstance(v, Array):
        return "array[" + ",".join(show(x) for x in v.elements) + "]"
    if isinstance(v, Described):
        return "described(%s,%s)" % (show(v.descriptor), show(v.value))
    if isinstance(v, memoryview):
        v = bytes(v)
    return "%s:%r" % (type(v).__name__, v)

class Dump(MessagingHandler):
    def __init__(self, url, addr, n, idle):
        super().__init__(auto_accept=False, prefetch=100)
        self.url, self.addr, self.n, self.idle, self.got = url, addr, n, idle, 0
    def on_start(self, e):
        self.conn = e.container.connect(self.url)
        e.container.create_receiver(self.conn, self.addr)
        self.last = time.time()
        e.container.schedule(0.2, self)
    def on_timer_task(self, e):
        if time.time() - self.last > self.idle:
            self.conn.close()
        else:
            e.container.schedule(0.2, self)
    def on_delivery(self, e):
        dlv = e.delivery
        if not dlv.readable or dlv.partial:
            return
        raw = dlv.link.recv(dlv.pending)
        dlv.link.advance()
        m, err = Message(), None
        try:
            m.decode(raw)
        except Exception as ex:
            err = "%s: %s" % (type(ex).__name__, ex)
        dlv.update(Delivery.ACCEPTED)
        dlv.settle()
        self.got += 1
        self.last = time.time()
        if err:
            print("undecodable %s" % err)
        else:
            props = m.properties or {}
            print("body=%s props=%s" % (show(m.body), ",".join(
                "%s=%s" % (show(k), show(v)) for k, v in props.items())))
        sys.stdout.flush()
        if self.got >= self.n:
            self.conn.close()

Container(Dump(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))).run()
EOP
    "$BI_PY" "$T_DIR/a1dump.py" "$@"
}

# bi_kafka_topic TOPIC: create a one-partition topic on the shared cluster and wait for it
# (the command is sent again if the cluster missed it: several tests share its control fifo).
bi_kafka_topic() {
    for attempt in 1 2 3 4; do
        echo "topic $1 1" >"$BRG_TEST_KAFKA_CTL"
        t_wait_for 5 sh -c "kcat -L -b '$BRG_TEST_KAFKA_BROKERS' -t '$1' 2>/dev/null | grep -q 'with 1 partitions'" &&
            return 0
    done
    t_fail "topic $1 was not created"
}

# bi_queue NAME...: delete and declare each RabbitMQ queue (durable), with the rabbitmq-c client.
bi_queue() {
    for q in "$@"; do
        "$BI_RMQC" "$BRG_TEST_RABBITMQ_URL" delete "$q" >/dev/null 2>&1
        "$BI_RMQC" "$BRG_TEST_RABBITMQ_URL" declare "$q" >/dev/null || t_fail "cannot declare queue $q"
    done
}
BI_RMQC=$top_builddir/tests/adapters/check_rabbitmq_client

# bi_delete_queues NAME...: delete queues at the end of a test.
bi_delete_queues() {
    for q in "$@"; do "$BI_RMQC" "$BRG_TEST_RABBITMQ_URL" delete "$q" >/dev/null 2>&1; done
}

# bi_field FILE LINE_NO: line LINE_NO (from 1) of FILE.
bi_line() { sed -n "${2}p" "$1"; }
