#!/bin/sh
# The other way round from fanout_park.sh: a RabbitMQ queue fanned out to a RabbitMQ queue and a
# Kafka topic whose broker refuses the writes (TOPIC_AUTHORIZATION_FAILED, injected in a private
# mock cluster, then cleared as when an operator grants the ACL). As a real broker does, the
# mock refuses the topic in its metadata too (topic-error): with Produce refused alone,
# librdkafka 2.0.2 held records it had queued for the topic (its partition count read as 0)
# and sent them once cleared, ahead of the copies the route held: out of order, or probes
# blocked by copies never answered. The Kafka sink writes to partition 0 by number. The route parks with the RabbitMQ deliveries unacknowledged, probes with the Kafka
# copies it holds, and resumes by itself: every message at each destination, the healthy
# RabbitMQ queue none twice, nothing acknowledged at the source before both confirmed it.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
t_need kafka
. "$(dirname "$0")/rabbitmq_lib.sh"
. "$(dirname "$0")/kafka_lib.sh"
command -v curl >/dev/null || t_skip "curl not installed"
k_private_cluster 39460 1

N=$(t_count 2000)
W=100
KDST=fan.kt
rmq_fresh fank.in fank.out
k_topic "$KDST" 1
rmqc publish "" fank.in "$N" >/dev/null || t_fail "publish"

PORT=$(rmq_free_port)
RMQ_HTTP=http://127.0.0.1:$PORT
cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "fank"; metrics = "127.0.0.1:$PORT"; };
endpoints = (
  { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; },
  { name = "kafka"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $K_PROPS ]; }
);
routes = (
  { name = "fan"; max_in_flight = $W; park_retry_min = 0.5; park_retry_max = 1;
    from = { endpoint = "rabbit"; queue = "fank.in"; };
    to = ( { endpoint = "rabbit"; exchange = ""; routing_key = "fank.out"; },
           { endpoint = "kafka"; topic = "$KDST"; partition = "0"; } ); }
);
EOT

# kafka_retries: how many publishes the Kafka sink settled RETRY (each refused record counts).
kafka_retries() {
    curl -sf "$RMQ_HTTP/metrics" |
        sed -n 's/^msgbridge_sink_retries_total{route="fan",endpoint="kafka".*} \([0-9]*\)$/\1/p'
}
retries_at_least() { [ "$(kafka_retries)" -ge "$1" ]; }

# Every Produce refused until cleared.
k_ctl error Produce TOPIC_AUTHORIZATION_FAILED 100000
k_ctl topic-error "$KDST" TOPIC_AUTHORIZATION_FAILED
t_bridge bridge "$T_DIR/bridge.conf"
t_wait_for 30 t_log_has "$T_DIR/bridge.log" "route \"fan\" parked: kafka: topic \"$KDST\"" ||
    t_fail "the route did not park: $(tail -5 "$T_DIR/bridge.log")"
# Parked: the healthy queue has at most the window, each message once; nothing was acknowledged
# at the source (the rest of the window is unacknowledged at RabbitMQ, not lost).
# The source stops taking at the park: the window fills only if the first refusal came back
# after W messages were taken (on a slow machine it comes first), so count what it took.
route_field() { rmq_route_json fan | sed -n "s/.*\"$1\": \([0-9]*\).*/\1/p"; }
t_steady 1 20 route_field in || t_fail "the source still takes messages while parked"
took=$(route_field in)
[ "$took" -ge 1 ] && [ "$took" -le "$W" ] || t_fail "took $took while parked (window $W)"
# Each copy taken was refused once, then the held copies probe (at least two probes).
t_wait_for 30 retries_at_least $((took + 2)) || t_fail "fewer than 2 probes: $(kafka_retries) retries for $took taken"
j=$(rmq_route_json fan)
echo "$j" | grep -q '"state": "parked"' || t_fail "/routes while parked: $j"
echo "$j" | grep -q '"accepted": 0, ' || t_fail "accepted at the source while parked: $j"
echo "$j" | grep -q "\"in_flight\": $took, " || t_fail "in flight while parked (took $took): $j"
[ "$(rmq_count fank.out)" -le "$took" ] || t_fail "fank.out has $(rmq_count fank.out) while parked"
t_log "while parked: $(rmq_count fank.out) at the RabbitMQ destination, $(kafka_retries) refused at Kafka"
k_ctl clear Produce
k_ctl topic-error "$KDST" NO_ERROR
t_wait_for 60 t_log_has "$T_DIR/bridge.log" 'route "fan" resumed after' ||
    t_fail "no resume line: $(tail -3 "$T_DIR/bridge.log")"
out=$(rmqc verify fank.out "$N" --timeout 60) || t_fail "RabbitMQ destination: $out"
t_log "RabbitMQ destination: $out"
t_wait_for 30 sh -c "[ \"\$(kcat -C -b $BRG_TEST_KAFKA_BROKERS -t $KDST -o beginning -e -q -f '.\n' 2>/dev/null | wc -l)\" -ge $N ]" ||
    t_fail "the Kafka destination has $(k_count "$KDST") of $N"
t_stop "$T_BRIDGE_PID"
t_assert_eq "$(rmq_count fank.in)" 0 "left in fank.in"
kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$KDST" -o beginning -e -q -f '%s\n' 2>/dev/null |
    sed -n 's/^msg-\([0-9]*\)-.*/\1/p' >"$T_DIR/kafka"
seq 0 $((N - 1)) | sort >"$T_DIR/want"
sort -u "$T_DIR/kafka" >"$T_DIR/have"
k_missing=$(comm -23 "$T_DIR/want" "$T_DIR/have" | wc -l)
k_dups=$(( $(wc -l <"$T_DIR/kafka") - $(wc -l <"$T_DIR/have") ))
t_log "Kafka destination: $(wc -l <"$T_DIR/kafka") records, $k_missing missing, $k_dups duplicates"
t_assert_eq "$k_missing" 0 "missing at the Kafka destination"
echo "$out" | grep -q 'duplicates 0 missing 0 mismatched 0' || t_fail "RabbitMQ destination: $out"
# One partition, one probe at a time: the Kafka copies arrive in order, each once.
awk '!seen[$1]++' "$T_DIR/kafka" >"$T_DIR/first"
seq 0 $((N - 1)) >"$T_DIR/order"
cmp -s "$T_DIR/first" "$T_DIR/order" || t_fail "Kafka records out of order: $(diff "$T_DIR/order" "$T_DIR/first" | head -5)"
t_assert_eq "$k_dups" 0 "duplicates at the Kafka destination"
t_log "ok: $N messages at each destination, none missing, none twice"
