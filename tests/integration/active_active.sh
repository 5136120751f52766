#!/bin/sh
# Active-active across protocols: two msgbridge processes, "east" (Kafka -> RabbitMQ) and
# "west" (RabbitMQ -> Kafka), bridge one Kafka topic and one RabbitMQ exchange in both
# directions. Producers write to both sides at once. Every message must appear exactly once on
# each side (its own, plus one copy on the other), no echo: each bridge drops (acknowledges and
# counts) what the other bridged, because the provenance header says it already made its one
# hop (max_hops = 1). After the last message, both sides stay quiet.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
t_need kafka
. "$(dirname "$0")/rabbitmq_lib.sh"
. "$(dirname "$0")/kafka_lib.sh"

N=$(t_count 5000)   # written to Kafka
M=$(t_count 4000)   # written to RabbitMQ
topic=aa-events-$$
exch=aa-events-$$
k_topic "$topic" 3
rmqc declare-exchange "$exch" fanout >/dev/null || t_fail "declare exchange"
# west's source queue and an observer queue (what a RabbitMQ consumer in the west reads).
rmq_fresh "aa.west.$$" "aa.observe.$$"
rmqc declare "aa.west.$$" "$exch" "" >/dev/null || t_fail "bind west queue"
rmqc declare "aa.observe.$$" "$exch" "" >/dev/null || t_fail "bind observer queue"

port_e=$((19500 + $$ % 200)); port_w=$((port_e + 200))
cat >"$T_DIR/east.conf" <<EOT
bridge = { id = "east"; metrics = "127.0.0.1:$port_e"; };
endpoints = (
  { name = "kafka"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS"; properties = [ $K_PROPS ]; },
  { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; }
);
routes = ( {
  name = "kafka-to-rabbit";
  from = { endpoint = "kafka"; topic = "$topic"; group = "aa-east-$$"; start = "earliest"; };
  to = { endpoint = "rabbit"; exchange = "$exch"; routing_key = ""; };
} );
EOT
cat >"$T_DIR/west.conf" <<EOT
bridge = { id = "west"; metrics = "127.0.0.1:$port_w"; };
endpoints = (
  { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; },
  { name = "kafka"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS"; properties = [ $K_PROPS ]; }
);
routes = ( {
  name = "rabbit-to-kafka";
  from = { endpoint = "rabbit"; queue = "aa.west.$$"; };
  to = { endpoint = "kafka"; topic = "$topic"; };
} );
EOT
"$MSGBRIDGE" -t -c "$T_DIR/east.conf" >/dev/null || t_fail "east config"
"$MSGBRIDGE" -t -c "$T_DIR/west.conf" >/dev/null || t_fail "west config"
t_bridge east "$T_DIR/east.conf"; east=$T_BRIDGE_PID
t_bridge west "$T_DIR/west.conf"; west=$T_BRIDGE_PID
t_wait_for 30 curl -sf "http://127.0.0.1:$port_e/readyz" || t_fail "east not ready: $(cat "$T_DIR/east.log")"
t_wait_for 30 curl -sf "http://127.0.0.1:$port_w/readyz" || t_fail "west not ready: $(cat "$T_DIR/west.log")"

# Both sides at once, while both bridges run.
k_produce "$topic" "$N" 3 0 &
kp=$!
rmqc publish "$exch" "" "$M" --start 1000000 --size 64 >/dev/null || t_fail "publish to RabbitMQ"
wait $kp || t_fail "produce to Kafka"

metric() { # PORT NAME ROUTE
    curl -s "http://127.0.0.1:$1/metrics" |
        sed -n "s/^$2{route=\"$3\"} \([0-9]*\)$/\1/p"
}
settled() { # every message either bridged or dropped as a loop, on both bridges
    [ "$(metric $port_e msgbridge_route_messages_in_total kafka-to-rabbit)" = $((N + M)) ] &&
    [ "$(metric $port_w msgbridge_route_messages_in_total rabbit-to-kafka)" = $((N + M)) ] &&
    [ "$(metric $port_e msgbridge_route_messages_out_total kafka-to-rabbit)" = "$N" ] &&
    [ "$(metric $port_w msgbridge_route_messages_out_total rabbit-to-kafka)" = "$M" ]
}
t_wait_for 90 settled || t_fail "did not settle: east in=$(metric $port_e msgbridge_route_messages_in_total kafka-to-rabbit) out=$(metric $port_e msgbridge_route_messages_out_total kafka-to-rabbit), west in=$(metric $port_w msgbridge_route_messages_in_total rabbit-to-kafka) out=$(metric $port_w msgbridge_route_messages_out_total rabbit-to-kafka)"
t_assert_eq "$(metric $port_e msgbridge_route_loop_dropped_total kafka-to-rabbit)" "$M" "east dropped as loops"
t_assert_eq "$(metric $port_w msgbridge_route_loop_dropped_total rabbit-to-kafka)" "$N" "west dropped as loops"

# Quiet: for a few seconds nothing more moves (no echo).
counters() { for p in $port_e $port_w; do curl -s "http://127.0.0.1:$p/metrics" | grep '^msgbridge_route_messages_\(in\|out\)_total'; done; }
t_steady 3 30 counters || t_fail "traffic after the last message: an echo"
settled || t_fail "traffic after the last message: an echo"

# Kafka side: N originals and M copies, each exactly once.
k_dump "$topic" "$T_DIR/kafka.txt"
t_assert_eq "$(wc -l <"$T_DIR/kafka.txt")" $((N + M)) "records on the Kafka topic"
cut -d'|' -f6 "$T_DIR/kafka.txt" | sed -n 's/^\(value-[0-9]*\).*/\1/p' | sort -u >"$T_DIR/k_own"
cut -d'|' -f6 "$T_DIR/kafka.txt" | sed -n 's/^\(msg-[0-9]*\)-.*/\1/p' | sort -u >"$T_DIR/k_copies"
t_assert_eq "$(wc -l <"$T_DIR/k_own")" "$N" "distinct Kafka originals"
t_assert_eq "$(wc -l <"$T_DIR/k_copies")" "$M" "distinct copies from RabbitMQ on Kafka"
# The copies carry west's provenance; the originals carry none.
t_assert_eq "$(grep -c 'x-msgbridge-path=west/rabbit-to-kafka' "$T_DIR/kafka.txt")" "$M" "west provenance on Kafka"

# RabbitMQ side (observer queue): M originals and N copies, each exactly once.
t_assert_eq "$(rmq_count "aa.observe.$$")" $((N + M)) "messages in the observer queue"
rmqc dump "aa.observe.$$" $((N + M + 10)) >"$T_DIR/rabbit.txt"
sed -n 's/.*body="\(msg-[0-9]*\)-.*/\1/p' "$T_DIR/rabbit.txt" | sort -u >"$T_DIR/r_own"
sed -n 's/.*body="\(value-[0-9]*\).*/\1/p' "$T_DIR/rabbit.txt" | sort -u >"$T_DIR/r_copies"
t_assert_eq "$(wc -l <"$T_DIR/r_own")" "$M" "distinct RabbitMQ originals"
t_assert_eq "$(wc -l <"$T_DIR/r_copies")" "$N" "distinct copies from Kafka on RabbitMQ"
t_assert_eq "$(grep -c 'east/kafka-to-rabbit' "$T_DIR/rabbit.txt")" "$N" "east provenance on RabbitMQ"

t_stop "$east"
t_stop "$west"
rmqc delete "aa.west.$$" >/dev/null 2>&1
rmqc delete "aa.observe.$$" >/dev/null 2>&1
t_log "ok: $N from Kafka and $M from RabbitMQ, each once on each side, loops dropped $M/$N"
