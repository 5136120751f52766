#!/bin/sh
# Kafka -> RabbitMQ: 100k records written by kcat (keys, a header) arrive in a RabbitMQ queue
# with their bodies, their keys (x-msgbridge-key) and their headers, nothing missing; checked
# by the independent rabbitmq-c client.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
t_need kafka
. "$(dirname "$0")/rabbitmq_lib.sh"
command -v kcat >/dev/null 2>&1 || t_skip "kcat is not installed"

N=$(t_count 100000)
topic=rmq-from-kafka-$$
rmq_fresh k2r.out

t_log "producing $N records with kcat"
rmqc lines "$N" >"$T_DIR/records.txt" || t_fail "lines"
kcat -P -b "$BRG_TEST_KAFKA_BROKERS" -t "$topic" -K '	' -H "origin=kcat" -z none \
    -X queue.buffering.max.messages=200000 -l "$T_DIR/records.txt" 2>"$T_DIR/kcat.log" ||
    t_fail "kcat: $(cat "$T_DIR/kcat.log")"

cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "k2r"; };
endpoints = (
  { name = "kafka"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $K_PROPS_GROUP, "queued.min.messages=1000000" ]; },
  { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; }
);
routes = (
  { name = "kafka-to-rabbit";
    from = { endpoint = "kafka"; topic = "$topic"; group = "k2r-$$"; start = "earliest"; };
    to = { endpoint = "rabbit"; exchange = ""; routing_key = "k2r.out"; }; }
);
EOT
start=$(date +%s)
t_bridge bridge "$T_DIR/bridge.conf"
out=$(rmqc verify k2r.out "$N" --key --const origin=kcat --timeout 40) || t_fail "$out"
t_log "$out (in $(($(date +%s) - start)) s)"
t_stop "$T_BRIDGE_PID"
t_assert_eq "$(rmq_count k2r.out)" 0 "k2r.out after verify"
t_log "ok"
