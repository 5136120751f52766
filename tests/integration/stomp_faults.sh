#!/bin/sh
# Faults on STOMP routes, both ways: ActiveMQ /queue/IN -> Kafka (bridge east) and Kafka ->
# ActiveMQ /queue/OUT (bridge west), 10k messages, while
#   1. the broker is SIGKILLed and restarted mid-stream (persistent messages and unacked
#      deliveries survive in KahaDB; both bridges reconnect with backoff),
#   2. bridge east is SIGKILLed mid-stream and started again (unacked messages are redelivered),
#   3. bridge west is SIGKILLed mid-stream and started again (Kafka offsets not committed are
#      read again).
# Checked by the independent client at the end: nothing missing, every message byte for byte;
# duplicates are allowed (at-least-once) and counted.
. "$(dirname "$0")/lib.sh"
t_need activemq
t_need kafka
. "$(dirname "$0")/stomp_lib.sh"
command -v kcat >/dev/null 2>&1 || t_skip "kcat is not installed"
command -v curl >/dev/null 2>&1 || t_skip "curl is not installed"

N=$(t_count 10000)
qin=stf.in.$$
qout=stf.out.$$
topic=stomp-faults-$$
trap 't_cleanup' EXIT

endpoints="
  { name = \"amq\"; type = \"stomp\"; url = \"$BRG_TEST_STOMP_URL\"; heartbeat = 1000; },
  { name = \"kafka\"; type = \"kafka\"; brokers = \"$BRG_TEST_KAFKA_BROKERS\";
    properties = [ $K_PROPS_GROUP ]; }"
pe=$(t_free_port)
pw=$(t_free_port)
cat >"$T_DIR/east.conf" <<EOT
bridge = { id = "stf-east"; metrics = "127.0.0.1:$pe"; };
endpoints = ( $endpoints );
routes = (
  { name = "stomp-to-kafka";
    from = { endpoint = "amq"; destination = "/queue/$qin"; };
    to = { endpoint = "kafka"; topic = "$topic"; key = "\${key}"; };
    max_in_flight = 10; }   # slower, so that the faults come mid-stream
);
EOT
cat >"$T_DIR/west.conf" <<EOT
bridge = { id = "stf-west"; metrics = "127.0.0.1:$pw"; };
endpoints = ( $endpoints );
routes = (
  { name = "kafka-to-stomp";
    from = { endpoint = "kafka"; topic = "$topic"; group = "stf-$$"; start = "earliest"; };
    to = { endpoint = "amq"; destination = "/queue/$qout"; };
    mapping = { max_hops = 2; };
    max_in_flight = 10; }   # slower, so that the faults come mid-stream
);
EOT
kafka_count() {
    kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$topic" -e -q -f 'x\n' 2>/dev/null | wc -l
}
# moved PORT N: the bridge with metrics on PORT has settled at least N messages (this process).
moved() {
    n=$(curl -sf "http://127.0.0.1:$1/metrics" |
        sed -n 's/^msgbridge_route_messages_out_total{[^}]*} \([0-9]*\).*/\1/p' | head -1)
    [ "${n:-0}" -ge "$2" ]
}

out=$(stc send "/queue/$qin" "$N" --tag ft) || t_fail "send: $out"
t_bridge east "$T_DIR/east.conf"
east=$T_BRIDGE_PID
t_bridge west "$T_DIR/west.conf"
west=$T_BRIDGE_PID

t_wait_for 60 moved "$pe" $((N / 10)) || t_fail "no progress: $(tail -3 "$T_DIR/east.log")"
t_log "broker SIGKILL at $(kafka_count) records on Kafka"
"$BRG_TEST_ACTIVEMQ_NODE_SCRIPT" kill
"$BRG_TEST_ACTIVEMQ_NODE_SCRIPT" restart 2>"$T_DIR/restart.log" || t_fail "restart: $(cat "$T_DIR/restart.log")"

t_wait_for 60 moved "$pe" $((N * 3 / 10)) || t_fail "no progress after the broker restart: $(tail -3 "$T_DIR/east.log")"
t_log "bridge east SIGKILL at $(kafka_count) records on Kafka"
kill -KILL "$east"
wait "$east" 2>/dev/null
t_bridge east2 "$T_DIR/east.conf"
east=$T_BRIDGE_PID

t_wait_for 60 moved "$pw" $((N / 10)) || t_fail "no progress after east restart: $(tail -3 "$T_DIR/east2.log")"
t_log "bridge west SIGKILL at $(kafka_count) records on Kafka"
kill -KILL "$west"
wait "$west" 2>/dev/null
t_bridge west2 "$T_DIR/west.conf"
west=$T_BRIDGE_PID

out=$(stc recv "/queue/$qout" "$N" --tag ft --idle 20 --timeout 150) || t_fail "$out"
t_log "$out (records on Kafka: $(kafka_count))"
t_stop "$east"
t_stop "$west"
grep -q "connection lost" "$T_DIR/east.log" || t_fail "east did not see the broker go: $(tail -3 "$T_DIR/east.log")"
t_log "ok"
