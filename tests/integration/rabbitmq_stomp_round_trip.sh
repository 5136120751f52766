#!/bin/sh
# RabbitMQ -> ActiveMQ (STOMP) -> RabbitMQ: messages with every basic property and headers of
# every AMQP 0-9-1 field type (nested tables, arrays such as x-death, decimals, timestamps) go
# out through a queue of Debian's ActiveMQ and come back to RabbitMQ with the same body, key,
# properties and headers (names, order, values and types: STOMP headers are strings, the types
# travel in x-msgbridge-types), none missing. Plus plain numbered messages with keys, none
# missing. Checked by the independent rabbitmq-c client.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
t_need activemq
. "$(dirname "$0")/rabbitmq_lib.sh"

T=$(t_count 2000)
N=$(t_count 10000)
rmq_fresh rs.in.$$ rs.back.$$
rmqc publish "" rs.in.$$ "$T" --typed --key >/dev/null || t_fail "publish typed"

cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "rsr"; };
endpoints = (
  { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; },
  { name = "amq"; type = "stomp"; url = "$BRG_TEST_STOMP_URL"; }
);
routes = (
  { name = "out"; from = { endpoint = "rabbit"; queue = "rs.in.$$"; };
    to = { endpoint = "amq"; destination = "/queue/rs.mid.$$"; };
    mapping = { provenance = false; }; },
  { name = "back"; from = { endpoint = "amq"; destination = "/queue/rs.mid.$$"; };
    to = { endpoint = "rabbit"; routing_key = "rs.back.$$"; };
    mapping = { provenance = false; }; }
);
EOT
t_bridge bridge "$T_DIR/bridge.conf"
out=$(rmqc verify rs.back.$$ "$T" --typed --key --timeout 40) ||
    t_fail "typed round trip via STOMP: $out"
t_log "typed: $out"
rmqc publish "" rs.in.$$ "$N" --key --header trace --start 100000 >/dev/null || t_fail "publish"
out=$(rmqc verify rs.back.$$ "$N" --key --header trace --start 100000 --timeout 40) ||
    t_fail "plain round trip via STOMP: $out"
t_log "plain: $out"
t_stop "$T_BRIDGE_PID"
t_assert_eq "$(rmq_count rs.in.$$)" 0 "left in the source queue"
for q in rs.in.$$ rs.back.$$; do rmqc delete "$q" >/dev/null 2>&1; done
t_log "ok"
