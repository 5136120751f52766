#!/bin/sh
# Kafka consumer lag on /metrics: N records are preloaded over 2 partitions and a route limited
# to 500 msg/s copies them. While it runs, msgbridge_kafka_consumer_lag_messages summed over
# the partitions is N minus what has arrived (within what is in flight); at the end it is 0 on
# each partition and msgbridge_kafka_committed_offset is each partition's record count.
. "$(dirname "$0")/lib.sh"
t_need kafka
. "$(dirname "$0")/kafka_lib.sh"
command -v curl >/dev/null 2>&1 || t_skip "curl is not installed"

N=10000 # not scaled down: the rate limit, not the machine, sets the pace
RATE=500
INFLIGHT=100
SRC=$K_ID.src
DST=$K_ID.dst
k_topic "$SRC" 2
k_topic "$DST" 2
k_produce "$SRC" "$N" 2
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HTTP=http://127.0.0.1:$PORT

cat >"$T_DIR/bridge.conf" <<EOC
bridge = { id = "lag"; metrics = "127.0.0.1:$PORT"; };
endpoints = (
  { name = "src"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $K_PROPS ]; consumer_properties = [ "auto.commit.interval.ms=500" ]; },
  { name = "dst"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS"; }
);
routes = (
  { name = "slow"; max_in_flight = $INFLIGHT; rate = { messages_per_second = $RATE; };
    from = { endpoint = "src"; topic = "$SRC"; group = "$K_ID"; };
    to = { endpoint = "dst"; topic = "$DST"; partition = "\${partition}"; }; }
);
EOC
t_bridge bridge "$T_DIR/bridge.conf"

# metric FAMILY: the sum of the family's samples for the route over both partitions, or
# nothing until both partitions have one.
metric() {
    curl -sf "$HTTP/metrics" >"$T_DIR/metrics.txt" 2>/dev/null || return 0
    grep "^$1{route=\"slow\",endpoint=\"src\",topic=\"$SRC\",partition=\"[01]\"} " \
        "$T_DIR/metrics.txt" | awk '{ s += $2; n++ } END { if (n == 2) print s }'
}
lag_known() { [ -n "$(metric msgbridge_kafka_consumer_lag_messages)" ]; }
t_wait_for 20 lag_known || t_fail "no lag samples: $(grep kafka_ "$T_DIR/metrics.txt" | head -5)"

# While it runs: a lag between N - (arrived after the scrape) and N - (arrived before it) plus
# what may be in flight and not settled yet (max_in_flight, and 250 ms of the snapshot's age).
checks=0
for i in 1 2 3 4; do
    sleep 1
    before=$(k_count "$DST")
    lag=$(metric msgbridge_kafka_consumer_lag_messages)
    after=$(k_count "$DST")
    [ "$after" -lt "$N" ] || break
    t_log "arrived $before..$after of $N, lag $lag"
    [ "$lag" -gt 0 ] || t_fail "lag $lag while $after of $N arrived"
    [ "$lag" -ge $((N - after)) ] || t_fail "lag $lag below $N - $after not yet arrived"
    [ "$lag" -le $((N - before + INFLIGHT + RATE / 4)) ] ||
        t_fail "lag $lag above $N - $before arrived + $INFLIGHT in flight"
    checks=$((checks + 1))
done
[ "$checks" -ge 2 ] || t_fail "the route finished before the lag could be watched ($checks checks)"

k_wait_count "$DST" "$N" 60 || t_fail "only $(k_count "$DST") of $N records copied"
lag_zero() { [ "$(metric msgbridge_kafka_consumer_lag_messages)" = 0 ]; }
t_wait_for 10 lag_zero || t_fail "lag at the end: $(grep consumer_lag "$T_DIR/metrics.txt")"
committed_all() { [ "$(metric msgbridge_kafka_committed_offset)" = "$N" ]; }
t_wait_for 10 committed_all || t_fail "committed at the end: $(grep committed_offset "$T_DIR/metrics.txt")"
for p in 0 1; do
    n=$(kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$SRC" -p "$p" -o beginning -e -q -f '.\n' | wc -l)
    grep -q "^msgbridge_kafka_committed_offset{route=\"slow\",endpoint=\"src\",topic=\"$SRC\",partition=\"$p\"} $n\$" \
        "$T_DIR/metrics.txt" || t_fail "partition $p ($n records): $(grep committed_offset "$T_DIR/metrics.txt")"
    grep -q "^msgbridge_kafka_consumer_lag_messages{route=\"slow\",endpoint=\"src\",topic=\"$SRC\",partition=\"$p\"} 0\$" \
        "$T_DIR/metrics.txt" || t_fail "partition $p lag: $(grep consumer_lag "$T_DIR/metrics.txt")"
done
grep -q '^# TYPE msgbridge_kafka_consumer_lag_messages gauge$' "$T_DIR/metrics.txt" ||
    t_fail "no TYPE line for the lag"
t_stop "$T_BRIDGE_PID"
t_log "ok: lag followed $N - arrived in $checks checks, 0 at the end, committed $N"
