#!/bin/sh
# RabbitMQ -> Kafka -> RabbitMQ keeps header types: every AMQP field type (widths, nested
# tables, x-death) comes back as it was sent. The Kafka leg writes typed values as text and
# lists their types in x-msgbridge-types (docs/kafka.md, "Header types"); a plain Kafka
# consumer (kcat) sees readable values.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
t_need kafka
. "$(dirname "$0")/rabbitmq_lib.sh"

T=$(t_count 500)
topic=rmq-typed-headers-$$
rmq_fresh rtt.in rtt.back
rmqc publish "" rtt.in "$T" --typed --key >/dev/null || t_fail "publish"

cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "rtt"; };
endpoints = (
  { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; },
  { name = "kafka"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $K_PROPS_GROUP, "queued.min.messages=1000000" ]; }
);
routes = (
  { name = "out";
    from = { endpoint = "rabbit"; queue = "rtt.in"; };
    to = { endpoint = "kafka"; topic = "$topic"; };
    mapping = { provenance = false; }; },
  { name = "back";
    from = { endpoint = "kafka"; topic = "$topic"; group = "rtt-$$"; start = "earliest"; };
    to = { endpoint = "rabbit"; routing_key = "rtt.back"; };
    mapping = { provenance = false; }; }
);
EOT
t_bridge bridge "$T_DIR/bridge.conf"
out=$(rmqc verify rtt.back "$T" --typed --key --timeout 40) ||
    t_fail "round trip: $out"
t_log "$out"
t_stop "$T_BRIDGE_PID"
t_log "ok"
