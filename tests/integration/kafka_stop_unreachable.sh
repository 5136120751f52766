#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# Stopping is prompt when Kafka is unreachable (issue 15): with the cluster gone (SIGKILL) or
# frozen (SIGSTOP: connections stay open and nothing answers) at the moment of SIGTERM,
# msgbridge exits within bridge.shutdown_timeout (plus half a second for the last client
# teardown), saying why: what it could not commit is delivered again.
# 1. cluster killed, nothing in flight: exit status 0 (drained);
# 2. cluster frozen, nothing in flight: exit status 0 (drained);
# 3. cluster frozen while records flow (slowed first, so that records are usually in flight):
#    exit status 4 if the drain deadline passed with messages in flight, else 0.
# Before this, 1 and 2 took 6-11 s with shutdown_timeout = 5 (a 5 s commit, a 10 s close,
# then librdkafka's teardown), and up to 45 s with records in flight.
. "$(dirname "$0")/lib.sh"
t_need kafka
. "$(dirname "$0")/kafka_lib.sh"

TIMEOUT=4
MARGIN_MS=1500 # the 0.5 s teardown grace, plus process start-up of `kill` and polling slack
k_private_cluster 39480 1
port=$(echo "$BRG_TEST_KAFKA_BROKERS" | sed 's/^127.0.0.1:\([0-9]*\).*/\1/')
SRC=$K_ID.src
DST=$K_ID.dst

cat >"$T_DIR/bridge.conf" <<EOC
bridge = { id = "stop"; shutdown_timeout = $TIMEOUT; };
endpoints = (
  { name = "k"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $K_PROPS, "auto.commit.interval.ms=200" ]; }
);
routes = (
  { name = "copy";
    from = { endpoint = "k"; topic = "$SRC"; group = "$K_ID"; };
    to = { endpoint = "k"; topic = "$DST"; }; }
);
EOC

# start_cluster: (re)start the private cluster on its port, with both topics.
start_cluster() {
    rm -f "$T_DIR/bootstrap"
    "$K_MOCK" -n 1 -p "$port" -f "$T_DIR/bootstrap" -c "$T_DIR/ctl" -t "$SRC:2" -t "$DST:2" \
        >>"$T_DIR/cluster.log" 2>&1 &
    k_pid=$!
    T_PIDS="$T_PIDS $k_pid"
    t_wait_for 10 test -s "$T_DIR/bootstrap" || t_fail "the cluster did not start"
}

now_ms() { date +%s%3N; }

# A frozen cluster must be thawed whatever happens, or the cleanup's kill never ends it.
frozen=""
trap '[ -n "$frozen" ] && kill -CONT $frozen; t_cleanup' EXIT
freeze() { kill -STOP "$1"; frozen=$1; }
thaw() { kill -CONT "$1"; frozen=""; }

# stop_timed NAME WANT_STATUS: SIGTERM msgbridge, wait for it; fails if it takes longer than
# the timeout plus the margin or exits with another status. Sets ELAPSED_MS.
stop_timed() {
    t0=$(now_ms)
    kill -TERM "$T_BRIDGE_PID"
    while kill -0 "$T_BRIDGE_PID" 2>/dev/null; do
        if [ $(($(now_ms) - t0)) -gt $((TIMEOUT * 1000 + 10000)) ]; then
            kill -KILL "$T_BRIDGE_PID" # a hung shutdown ignores the clean-up's SIGTERM too
            t_fail "$1: msgbridge still runs 10 s after its deadline"
        fi
        sleep 0.05
    done
    ELAPSED_MS=$(($(now_ms) - t0))
    wait "$T_BRIDGE_PID"; rc=$?
    t_log "$1: exited with status $rc after $ELAPSED_MS ms (shutdown_timeout = $TIMEOUT s)"
    [ "$ELAPSED_MS" -le $((TIMEOUT * 1000 + MARGIN_MS)) ] ||
        t_fail "$1: took $ELAPSED_MS ms, more than $TIMEOUT s + $MARGIN_MS ms"
    # 4 only if something was in flight at SIGTERM (the drain could not finish), else 0.
    want=$2
    if [ "$want" = drain ]; then
        want=0
        grep -q 'SIGTERM: draining ([1-9][0-9]* in flight' "$T_DIR/$1.log" && want=4
    fi
    t_assert_eq "$rc" "$want" "$1: exit status"
}

# copy_some NAME FIRST: start msgbridge, copy 200 records, wait until the group committed them.
copy_some() {
    t_bridge "$1" "$T_DIR/bridge.conf"
    t_wait_for 20 grep -q 'assigned 2 partitions' "$T_DIR/$1.log" || t_fail "$1: no assignment"
    k_produce "$SRC" 200 2 "$2"
    k_wait_count "$DST" 200 30 || t_fail "$1: only $(k_count "$DST") of 200 copied"
    sleep 1 # auto-commit (200 ms) has committed everything
}

# 1. The cluster is gone.
kill "$k_pid"; wait "$k_pid" 2>/dev/null
start_cluster
copy_some gone 0
kill -KILL "$k_pid"; wait "$k_pid" 2>/dev/null
stop_timed gone 0
grep -q 'records not committed will be delivered again' "$T_DIR/gone.log" ||
    t_fail "gone: the reason is not logged: $(tail -5 "$T_DIR/gone.log")"

# 2. The cluster is frozen.
start_cluster
copy_some frozen 0
freeze "$k_pid"
stop_timed frozen 0
thaw "$k_pid"
grep -q 'records not committed will be delivered again' "$T_DIR/frozen.log" ||
    t_fail "frozen: the reason is not logged: $(tail -5 "$T_DIR/frozen.log")"
kill "$k_pid"; wait "$k_pid" 2>/dev/null

# 3. Frozen while records flow: the producer holds records the cluster never confirms.
start_cluster
copy_some busy 0
"$K_PRODUCER" "$BRG_TEST_KAFKA_BROKERS" "$SRC" 100000 2 200 100 20000 >/dev/null 2>&1 &
prod=$!
t_wait_for 20 k_more_than "$DST" 1000 || t_fail "busy: records are not flowing"
# Every answer 3 s late first, so that records are surely in flight when the cluster freezes.
k_ctl rtt 1 3000
sleep 1
freeze "$k_pid"
stop_timed busy drain
thaw "$k_pid"
kill "$prod" 2>/dev/null; wait "$prod" 2>/dev/null
[ "$rc" = 0 ] || grep -q 'shutdown deadline passed with [1-9][0-9]* messages in flight; their sources will redeliver them' "$T_DIR/busy.log" ||
    t_fail "busy: the drain deadline is not logged: $(tail -5 "$T_DIR/busy.log")"

# 4. The cluster answers, but the destination never confirms (a memory sink that settles after
# ten minutes): the drain spends the whole deadline, the consumer's close gets no time left and
# is given up on. librdkafka 2.0.2's destroy of such a consumer spun at 100% CPU for ever once
# every endpoint thread had returned (a STOMP route whose broker had stopped hung a test run).
kill "$k_pid" 2>/dev/null; wait "$k_pid" 2>/dev/null
start_cluster
cat >"$T_DIR/held.conf" <<EOC
bridge = { id = "held"; shutdown_timeout = $TIMEOUT; };
endpoints = (
  { name = "k"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS"; properties = [ $K_PROPS ]; },
  { name = "m"; type = "memory"; settle_delay_ms = 600000; }
);
routes = (
  { name = "held"; max_in_flight = 50;
    from = { endpoint = "k"; topic = "$SRC"; group = "$K_ID-held"; start = "earliest"; };
    to = { endpoint = "m"; }; }
);
EOC
t_bridge held "$T_DIR/held.conf"
held_full() { grep -q 'assigned 2 partitions' "$T_DIR/held.log"; }
t_wait_for 20 held_full || t_fail "held: no assignment: $(tail -3 "$T_DIR/held.log")"
k_produce "$SRC" 100 2 0
sleep 1 # records reach the sink and wait there
stop_timed held 4
grep -q 'the consumer did not leave its group within 0 ms' "$T_DIR/held.log" ||
    t_fail "held: the close was not given up on: $(tail -5 "$T_DIR/held.log")"

t_log "ok: msgbridge stopped within shutdown_timeout with the cluster gone, frozen idle, frozen busy, and a destination that never confirms"
