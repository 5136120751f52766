#!/bin/sh
# A record the sink's producer refuses as too large (message.max.bytes) goes to the route's
# dead letter, whole, with headers that say why; the records around it are copied in order
# and the route keeps running.
. "$(dirname "$0")/lib.sh"
t_need kafka
. "$(dirname "$0")/kafka_lib.sh"

SRC=$K_ID.src
DST=$K_ID.dst
DLQ=$K_ID.dlq
k_topic "$SRC" 1
k_topic "$DST" 1
k_topic "$DLQ" 1
k_produce "$SRC" 10 1 0 100
k_produce "$SRC" 1 1 10 300000 # record 10: 300 kB
k_produce "$SRC" 10 1 11 100

cat >"$T_DIR/bridge.conf" <<EOC
bridge = { id = "dlq"; };
endpoints = (
  { name = "in"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $K_PROPS ]; },
  { name = "small"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    producer_properties = [ "message.max.bytes=100000" ]; },
  { name = "parking"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS"; }
);
routes = (
  { name = "sized";
    from = { endpoint = "in"; topic = "$SRC"; group = "$K_ID"; };
    to = { endpoint = "small"; topic = "$DST"; };
    dead_letter = { endpoint = "parking"; topic = "$DLQ"; };
    mapping = { provenance = false; }; }
);
EOC
t_bridge bridge "$T_DIR/bridge.conf"
k_wait_count "$DST" 20 30 || t_fail "only $(k_count "$DST") of 20 small records copied"
k_wait_count "$DLQ" 1 10 || t_fail "nothing in the dead letter topic"
t_stop "$T_BRIDGE_PID"

t_assert_eq "$(k_count "$DST")" 20 "records in the destination"
t_assert_eq "$(k_count "$DLQ")" 1 "records in the dead letter topic"
# The small ones in order, without record 10.
kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$DST" -o beginning -e -q -f '%h\n' |
    sed -n 's/^seq=\([0-9]*\),.*/\1/p' | tr '\n' ' ' >"$T_DIR/order"
t_assert_eq "$(cat "$T_DIR/order")" "0 1 2 3 4 5 6 7 8 9 11 12 13 14 15 16 17 18 19 20 " \
    "destination order"
# The dead letter: the whole record (key, value size, its own headers first) and why.
kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$DLQ" -o beginning -e -q -f '%k|%S|%h\n' >"$T_DIR/dlq"
t_log "dead letter: $(cut -c1-400 "$T_DIR/dlq")"
grep -q '^key-10|300000|seq=10,dup=first,empty=,dup=second,' "$T_DIR/dlq" ||
    t_fail "dead letter record is not record 10 whole: $(cut -c1-200 "$T_DIR/dlq")"
grep -q 'x-msgbridge-dlq-reason=kafka: message too large for topic "'"$DST"'" (300' "$T_DIR/dlq" ||
    t_fail "no reason header: $(cut -c1-400 "$T_DIR/dlq")"
grep -q "x-msgbridge-dlq-route=sized" "$T_DIR/dlq" || t_fail "no route header"
grep -q "x-msgbridge-dlq-source=in/$SRC\[0\]@10" "$T_DIR/dlq" || t_fail "no source header"
grep -q 'dead-lettered' "$T_DIR/bridge.log" || t_fail "the dead letter was not logged"
t_log "ok: too large record dead-lettered with its reason, 20 others copied in order"
