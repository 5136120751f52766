#!/bin/sh
# The one case where a parked fan-out route sends a healthy destination a message again, as
# docs/operations.md says: msgbridge stopped (SIGTERM) while parked. The drain does not wait
# for the missing RabbitMQ exchange: it hands the held copies back (nothing was acknowledged at
# the Kafka source) and exits 0 at once. After the restart the source redelivers the window,
# so the healthy Kafka destination gets exactly those messages a second time and nothing else;
# the RabbitMQ destination, once declared, gets every message once.
. "$(dirname "$0")/lib.sh"
FAN=fanr
. "$(dirname "$0")/fanout_lib.sh"

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
kafka_dst_tally
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
