#!/bin/sh
# The one case where a parked fan-out route sends a healthy destination a message again, as
# docs/operations.md says: msgbridge stopped (SIGTERM) while parked. The drain does not wait
# for the missing RabbitMQ exchange: it hands the held copies back (nothing was acknowledged at
# the Kafka source) and exits 0 at once. After the restart the source redelivers the window,
# so the healthy Kafka destination gets exactly those messages a second time and nothing else;
# the RabbitMQ destination, once declared, gets every message once.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
t_need kafka
. "$(dirname "$0")/rabbitmq_lib.sh"
. "$(dirname "$0")/kafka_lib.sh"
command -v curl >/dev/null || t_skip "curl not installed"

N=$(t_count 3000)
# The in-flight window: at most this many messages reach the healthy destination before the
# route notices the missing one and stops taking.
W=200
SRC=fanr-src-$K_ID
KDST=fanr-dst-$K_ID
GROUP=fanr-$K_ID
# A fresh exchange per run: the test client cannot delete one.
LATE_X=fanr.late.x.$$
rmq_fresh fanr.out
k_topic "$SRC" 2
k_topic "$KDST" 1

rmqc lines "$N" >"$T_DIR/records.txt" || t_fail "lines"
kcat -P -b "$BRG_TEST_KAFKA_BROKERS" -t "$SRC" -K '	' -z none -l "$T_DIR/records.txt" \
    2>"$T_DIR/kcat.log" || t_fail "kcat: $(cat "$T_DIR/kcat.log")"

PORT=$(rmq_free_port)
RMQ_HTTP=http://127.0.0.1:$PORT
cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "fan"; metrics = "127.0.0.1:$PORT"; };
endpoints = (
  { name = "kafka"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $K_PROPS ]; },
  { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; }
);
routes = (
  { name = "fan"; max_in_flight = $W; park_retry_min = 1; park_retry_max = 2;
    from = { endpoint = "kafka"; topic = "$SRC"; group = "$GROUP"; start = "earliest"; };
    to = ( { endpoint = "kafka"; topic = "$KDST"; },
           { endpoint = "rabbit"; exchange = "$LATE_X"; routing_key = "x"; } ); }
);
EOT

# kafka_dst_numbers FILE: the message numbers at the Kafka destination, one per line.
kafka_dst_numbers() {
    kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$KDST" -o beginning -e -q -f '%s\n' 2>/dev/null |
        sed -n 's/^msg-\([0-9]*\)-.*/\1/p' >"$1"
}
# rabbit_retries: how many publishes the RabbitMQ sink settled RETRY (each refusal counts).
rabbit_retries() {
    curl -sf "$RMQ_HTTP/metrics" |
        sed -n 's/^msgbridge_sink_retries_total{route="fan",endpoint="rabbit".*} \([0-9]*\)$/\1/p'
}
retries_at_least() { [ "$(rabbit_retries)" -ge "$1" ]; }

wait_parked() {
    t_wait_for 30 t_log_has "$T_DIR/$1.log" "route \"fan\" parked: exchange \"$LATE_X\": NOT_FOUND" ||
        t_fail "$1: the route did not park: $(tail -5 "$T_DIR/$1.log")"
    t_wait_for 30 retries_at_least $((W + 1)) || t_fail "$1: no probe: $(rabbit_retries) retries"
}

t_bridge bridge "$T_DIR/bridge.conf"
wait_parked bridge
t0=$(date +%s)
t_stop "$T_BRIDGE_PID" 10
t_log "stopped in $(($(date +%s) - t0)) s"
# Read once it exited: all it confirmed at Kafka is there.
kafka_dst_numbers "$T_DIR/first.kafka"
first=$(wc -l <"$T_DIR/first.kafka")
t_assert_eq "$(sort -u "$T_DIR/first.kafka" | wc -l)" "$first" "distinct at the Kafka destination while parked"
[ "$first" -le "$W" ] || t_fail "$first at the Kafka destination while parked (window $W)"
t_log "parked: $first at the Kafka destination"

# The same configuration on a fresh metrics port (the old one may linger for a moment).
PORT=$(rmq_free_port)
RMQ_HTTP=http://127.0.0.1:$PORT
sed "s/metrics = \"127.0.0.1:[0-9]*\"/metrics = \"127.0.0.1:$PORT\"/" "$T_DIR/bridge.conf" >"$T_DIR/bridge2.conf"
t_bridge bridge2 "$T_DIR/bridge2.conf"
wait_parked bridge2
rmqc declare-exchange "$LATE_X" direct || t_fail "declare $LATE_X"
rmqc declare fanr.out "$LATE_X" x || t_fail "bind fanr.out"
out=$(rmqc verify fanr.out "$N" --key --timeout 60) || t_fail "RabbitMQ destination: $out"
t_log "RabbitMQ destination: $out"
t_wait_for 10 t_log_has "$T_DIR/bridge2.log" 'route "fan" resumed after' ||
    t_fail "no resume line: $(tail -3 "$T_DIR/bridge2.log")"
t_wait_for 30 sh -c "[ \"\$(kcat -C -b $BRG_TEST_KAFKA_BROKERS -t $KDST -o beginning -e -q -f '.\n' 2>/dev/null | wc -l)\" -ge $((N + first)) ]" ||
    t_fail "the Kafka destination has $(k_count "$KDST") of $((N + first))"
t_stop "$T_BRIDGE_PID"
kafka_dst_numbers "$T_DIR/final.kafka"
seq 0 $((N - 1)) | sort >"$T_DIR/want"
sort -u "$T_DIR/final.kafka" >"$T_DIR/have"
k_missing=$(comm -23 "$T_DIR/want" "$T_DIR/have" | wc -l)
k_dups=$(( $(wc -l <"$T_DIR/final.kafka") - $(wc -l <"$T_DIR/have") ))
t_log "Kafka destination: $(wc -l <"$T_DIR/final.kafka") records, $k_missing missing, $k_dups duplicates"
t_assert_eq "$k_missing" 0 "missing at the Kafka destination"
# Exactly the messages it had confirmed before the stop came again, each once more.
sort "$T_DIR/final.kafka" | uniq -d >"$T_DIR/twice"
sort -u "$T_DIR/first.kafka" >"$T_DIR/first.sorted"
cmp -s "$T_DIR/twice" "$T_DIR/first.sorted" ||
    t_fail "duplicates are not the messages confirmed before the stop: $(diff "$T_DIR/first.sorted" "$T_DIR/twice" | head -5)"
t_assert_eq "$k_dups" "$first" "duplicates at the Kafka destination"
t_assert_eq "$(sort "$T_DIR/final.kafka" | uniq -c | awk '$1 > 2' | wc -l)" 0 "messages three times"
echo "$out" | grep -q 'duplicates 0 missing 0 mismatched 0' || t_fail "RabbitMQ destination: $out"
t_log "ok: $N at each destination, none missing; the $first messages confirmed before the stop came twice to Kafka, nothing else"
