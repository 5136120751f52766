#!/bin/sh
# RabbitMQ -> AMQP 1.0 -> RabbitMQ: messages with every basic property and headers of every
# AMQP 0-9-1 field type (nested tables, arrays such as x-death, decimals, timestamps) go out
# through an AMQP 1.0 queue and come back to RabbitMQ with the same body, key, properties and
# headers (names, order, values and types), none missing. Plus 20k plain numbered messages
# with keys, none missing. Checked by the independent rabbitmq-c client.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
. "$(dirname "$0")/rabbitmq_lib.sh"

T=$(t_count 2000)
N=$(t_count 20000)
rmq_fresh ra.in.$$ ra.mid.$$ ra.back.$$
rmqc publish "" ra.in.$$ "$T" --typed --key >/dev/null || t_fail "publish typed"

cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "rar"; };
endpoints = (
  { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; },
  { name = "amqp1"; type = "amqp1"; url = "$BRG_TEST_AMQP1_URL"; user = "guest"; password = "guest"; }
);
routes = (
  { name = "out"; from = { endpoint = "rabbit"; queue = "ra.in.$$"; };
    to = { endpoint = "amqp1"; address = "/amq/queue/ra.mid.$$"; };
    mapping = { provenance = false; }; },
  { name = "back"; from = { endpoint = "amqp1"; address = "/amq/queue/ra.mid.$$"; };
    to = { endpoint = "rabbit"; routing_key = "ra.back.$$"; };
    mapping = { provenance = false; }; }
);
EOT
t_bridge bridge "$T_DIR/bridge.conf"
out=$(rmqc verify ra.back.$$ "$T" --typed --key --timeout 40) ||
    t_fail "typed round trip via AMQP 1.0: $out"
t_log "typed: $out"
rmqc publish "" ra.in.$$ "$N" --key --header trace --start 100000 >/dev/null || t_fail "publish"
out=$(rmqc verify ra.back.$$ "$N" --key --header trace --start 100000 --timeout 40) ||
    t_fail "plain round trip via AMQP 1.0: $out"
t_log "plain: $out"
t_stop "$T_BRIDGE_PID"
t_assert_eq "$(rmq_count ra.in.$$)" 0 "left in the source queue"
t_assert_eq "$(rmq_count ra.mid.$$)" 0 "left in the middle queue"
for q in ra.in.$$ ra.mid.$$ ra.back.$$; do rmqc delete "$q" >/dev/null 2>&1; done
t_log "ok"
