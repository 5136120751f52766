#!/bin/sh
# A fan-out route with one destination missing: Kafka topic -> ( Kafka topic, RabbitMQ exchange
# that does not exist yet ). The route parks; the healthy Kafka destination keeps what it has
# confirmed and gets nothing again while the route probes the missing one; once the operator
# declares the exchange the route resumes by itself. Counted per destination with independent
# clients (kcat, rabbitmq-c): every message at each, none twice, and the source's group
# committed nothing past the first message RabbitMQ had not confirmed while parked.
. "$(dirname "$0")/lib.sh"
FAN=fan
. "$(dirname "$0")/fanout_lib.sh"

t_bridge bridge "$T_DIR/bridge.conf"
t_wait_for 30 t_log_has "$T_DIR/bridge.log" "route \"fan\" parked: exchange \"$LATE_X\": NOT_FOUND" ||
    t_fail "the route did not park: $(tail -5 "$T_DIR/bridge.log")"
# At most W copies failed when it parked; wait for four probes more (at least 1 s apart: long
# enough for the Kafka source to pause its partitions for want of credit, after 2 s).
t_wait_for 30 retries_at_least $((W + 4)) || t_fail "fewer than 4 probes: $(rabbit_retries) retries"
# Nothing acknowledged early: no message was confirmed by RabbitMQ, so none is accepted at the
# source; the whole window is in flight, RabbitMQ's copies held.
j=$(rmq_route_json fan)
echo "$j" | grep -q '"state": "parked"' || t_fail "/routes while parked: $j"
echo "$j" | grep -q '"accepted": 0, ' || t_fail "accepted at the source while parked: $j"
echo "$j" | grep -q "\"in_flight\": $W, " || t_fail "in flight while parked: $j"
# (W - 1 while the probe is out.)
echo "$j" | grep -q -E "\"held\": ($W|$((W - 1)))}" || t_fail "held copies while parked: $j"
t_assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$RMQ_HTTP/readyz")" 503 "/readyz while parked"
kafka_dst_numbers "$T_DIR/parked.kafka"
in_park=$(wc -l <"$T_DIR/parked.kafka")
park_dups=$(( in_park - $(sort -u "$T_DIR/parked.kafka" | wc -l) ))
t_log "while parked: $in_park at the Kafka destination ($park_dups twice), $(rabbit_retries) refused publishes at RabbitMQ"
[ "$in_park" -le "$W" ] || t_fail "the healthy destination got $in_park messages while parked (window $W)"

# The operator declares the exchange and binds a queue: the route resumes by itself.
rmqc declare-exchange "$LATE_X" direct || t_fail "declare $LATE_X"
rmqc declare fan.out "$LATE_X" x || t_fail "bind fan.out"
out=$(rmqc verify fan.out "$N" --key --timeout 60) || t_fail "RabbitMQ destination: $out"
t_log "RabbitMQ destination: $out"
t_wait_for 10 t_log_has "$T_DIR/bridge.log" 'route "fan" resumed after' ||
    t_fail "no resume line: $(tail -3 "$T_DIR/bridge.log")"
parked_s=$(sed -n 's/.*route "fan" resumed after \([0-9]*\) s parked.*/\1/p' "$T_DIR/bridge.log" | head -1)
[ "${parked_s:-0}" -ge 3 ] || t_fail "parked only ${parked_s:-?} s"
t_assert_eq "$(grep -c 'route "fan" parked' "$T_DIR/bridge.log")" 1 "parks"
t_wait_for 30 sh -c "[ \"\$(kcat -C -b $BRG_TEST_KAFKA_BROKERS -t $KDST -o beginning -e -q -f '.\n' 2>/dev/null | wc -l)\" -ge $N ]" ||
    t_fail "the Kafka destination has $(k_count "$KDST") of $N"
t_stop "$T_BRIDGE_PID"
kafka_dst_tally
t_assert_eq "$k_missing" 0 "missing at the Kafka destination"
t_assert_eq "$k_dups" 0 "duplicates at the healthy Kafka destination"
echo "$out" | grep -q 'duplicates 0 missing 0 mismatched 0' || t_fail "RabbitMQ destination: $out"
t_assert_eq "$(rmq_count fan.out)" 0 "fan.out after verify"
t_log "ok: $N messages at each destination, none missing, none twice, parked $parked_s s"
