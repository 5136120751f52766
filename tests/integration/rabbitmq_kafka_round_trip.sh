#!/bin/sh
# RabbitMQ -> Kafka -> RabbitMQ: messages with every basic property and headers of every AMQP
# field type (nested tables, x-death) come back with the same body, key, properties (all of
# them, timestamp included), header names and order, and string and byte header values.
# Header *types* are checked by rabbitmq_kafka_typed_headers.sh (see there). Provenance is off
# so that the messages compare byte for byte (it would add its path header).
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
t_need kafka
. "$(dirname "$0")/rabbitmq_lib.sh"

T=$(t_count 5000)
topic=rmq-round-trip-$$
rmq_fresh rt.in rt.back
rmqc publish "" rt.in "$T" --typed --key >/dev/null || t_fail "publish"

cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "rt"; };
endpoints = (
  { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; },
  { name = "kafka"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $K_PROPS_GROUP, "queued.min.messages=1000000" ]; }
);
routes = (
  { name = "out";
    from = { endpoint = "rabbit"; queue = "rt.in"; };
    to = { endpoint = "kafka"; topic = "$topic"; };
    mapping = { provenance = false; }; },
  { name = "back";
    from = { endpoint = "kafka"; topic = "$topic"; group = "rt-$$"; start = "earliest"; };
    to = { endpoint = "rabbit"; routing_key = "rt.back"; };
    mapping = { provenance = false; }; }
);
EOT
t_bridge bridge "$T_DIR/bridge.conf"
out=$(rmqc verify rt.back "$T" --typed --untyped --key --timeout 40) ||
    t_fail "round trip: $out"
t_log "$out"
t_stop "$T_BRIDGE_PID"
t_log "ok"
