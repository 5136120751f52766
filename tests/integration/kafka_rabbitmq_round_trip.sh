#!/bin/sh
# Kafka -> RabbitMQ -> Kafka (and Kafka -> AMQP 1.0 -> Kafka with RT_VIA=amqp1, Kafka -> ActiveMQ
# (STOMP) -> Kafka with RT_VIA=stomp): records with
# keys (and an empty key, and no key), headers (order, a repeated name, null and empty values)
# and millisecond timestamps cross a RabbitMQ queue and come back to Kafka with the same key,
# headers, timestamp and value, none missing, none twice. Partitions are compared per key (the
# way back partitions by key). Provenance is off so that the records compare
# byte for byte (loops_chains.sh runs the round trip with it on).
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
t_need kafka
. "$(dirname "$0")/rabbitmq_lib.sh"
. "$(dirname "$0")/kafka_lib.sh"

via=${RT_VIA:-rabbitmq}
N=$(t_count 20000)
SRC=$K_ID.src; DST=$K_ID.dst; Q=rt.k.$$
k_topic "$SRC" 3
k_topic "$DST" 3
rmq_fresh "$Q"
k_produce "$SRC" "$N" 3
# Keys: an empty key and an absent key must stay different.
printf 'empty-key-value\n' | kcat -P -b "$BRG_TEST_KAFKA_BROKERS" -t "$SRC" -p 0 -K '|' -k '' -H "kind=empty" 2>/dev/null ||
    t_fail "kcat produce"
printf '|empty-key-by-delimiter\n' | kcat -P -b "$BRG_TEST_KAFKA_BROKERS" -t "$SRC" -p 0 -K '|' -H "kind=empty2" 2>/dev/null
printf 'no-key-value\n' | kcat -P -b "$BRG_TEST_KAFKA_BROKERS" -t "$SRC" -p 0 -H "kind=none" 2>/dev/null
TOTAL=$((N + 3))

if [ "$via" = stomp ]; then
    t_need activemq
    mid_ep='{ name = "mid"; type = "stomp"; url = "'"$BRG_TEST_STOMP_URL"'"; }'
    to_mid='to = { endpoint = "mid"; destination = "/queue/'"$Q"'"; };'
    from_mid='from = { endpoint = "mid"; destination = "/queue/'"$Q"'"; };'
elif [ "$via" = amqp1 ]; then
    mid_ep='{ name = "mid"; type = "amqp1"; url = "'"$BRG_TEST_AMQP1_URL"'"; user = "guest"; password = "guest"; }'
    to_mid='to = { endpoint = "mid"; address = "/amq/queue/'"$Q"'"; };'
    from_mid='from = { endpoint = "mid"; address = "/amq/queue/'"$Q"'"; };'
else
    mid_ep='{ name = "mid"; type = "rabbitmq"; url = "'"$RMQ_URL"'"; }'
    to_mid='to = { endpoint = "mid"; routing_key = "'"$Q"'"; };'
    from_mid='from = { endpoint = "mid"; queue = "'"$Q"'"; };'
fi
cat >"$T_DIR/bridge.conf" <<EOC
bridge = { id = "krk"; };
endpoints = (
  { name = "kafka"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS"; properties = [ $K_PROPS ]; },
  $mid_ep
);
routes = (
  { name = "out"; from = { endpoint = "kafka"; topic = "$SRC"; group = "$K_ID"; start = "earliest"; };
    $to_mid mapping = { provenance = false; }; },
  { name = "back"; $from_mid
    to = { endpoint = "kafka"; topic = "$DST"; }; mapping = { provenance = false; }; }
);
EOC
t_bridge bridge "$T_DIR/bridge.conf"
k_wait_count "$DST" "$TOTAL" 90 || t_fail "only $(k_count "$DST") of $TOTAL records came back: $(tail -5 "$T_DIR/bridge.log")"
t_steady 1 30 k_count "$DST" || t_fail "records still arriving at $DST"
t_stop "$T_BRIDGE_PID"

# key|timestamp|headers|value, sorted; the key printed with its length so that an empty key
# and an absent one differ (kcat prints both as empty, but %K is -1 for a null key).
dump() {
    kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$1" -o beginning -e -q \
         -f '%K:%k|%T|%h|%s\n' 2>/dev/null | sort >"$2"
}
dump "$SRC" "$T_DIR/src.txt"
dump "$DST" "$T_DIR/dst.txt"
t_assert_eq "$(wc -l <"$T_DIR/dst.txt")" "$TOTAL" "records back on Kafka"
cmp -s "$T_DIR/src.txt" "$T_DIR/dst.txt" ||
    t_fail "records differ after the round trip via $via: $(diff "$T_DIR/src.txt" "$T_DIR/dst.txt" | head -6)"
grep -q '^-1:|' "$T_DIR/dst.txt" || t_fail "the record without a key came back with one"
grep -q '^0:|.*empty-key-value$' "$T_DIR/dst.txt" || t_fail "the empty key did not come back as empty"
# The same key lands in the same partition on the way back (keyed partitioning): per key, one
# partition.
kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$DST" -o beginning -e -q -f '%k %p\n' 2>/dev/null |
    sort -u | awk '{print $1}' | uniq -d >"$T_DIR/split"
[ -s "$T_DIR/split" ] && t_fail "keys split over partitions: $(head -3 "$T_DIR/split")"
rmqc delete "$Q" >/dev/null 2>&1
t_log "ok: $TOTAL records identical after Kafka -> $via -> Kafka"
