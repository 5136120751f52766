#!/bin/sh
# Permanent publish failures: an unroutable mandatory publish (basic.return) and a publish to
# an exchange that does not exist are dead-lettered with the broker's reason; without a
# dead_letter the route stops and the source queue keeps the messages.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
. "$(dirname "$0")/rabbitmq_lib.sh"

rmq_fresh unr.in unr.in2 unr.in3 unr.dlq
rmqc publish "" unr.in 10 >/dev/null || t_fail "publish"
rmqc publish "" unr.in3 5 --start 100 >/dev/null || t_fail "publish"
rmqc publish "" unr.in2 3 >/dev/null || t_fail "publish"

cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "unr"; };
endpoints = ( { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; } );
routes = (
  { name = "unroutable";
    from = { endpoint = "rabbit"; queue = "unr.in"; };
    to = { endpoint = "rabbit"; exchange = "amq.direct"; routing_key = "nowhere"; };
    dead_letter = { endpoint = "rabbit"; routing_key = "unr.dlq"; }; },
  { name = "no-exchange";
    from = { endpoint = "rabbit"; queue = "unr.in3"; };
    to = { endpoint = "rabbit"; exchange = "no-such-exchange"; routing_key = "x"; };
    dead_letter = { endpoint = "rabbit"; routing_key = "unr.dlq"; }; },
  { name = "no-dead-letter";
    from = { endpoint = "rabbit"; queue = "unr.in2"; };
    to = { endpoint = "rabbit"; exchange = "amq.direct"; routing_key = "nowhere"; }; }
);
EOT
t_bridge bridge "$T_DIR/bridge.conf"
rmq_wait_count unr.dlq 15 20 || t_fail "dead letter queue has $(rmq_count unr.dlq) of 15 messages"
t_wait_for 10 t_log_has "$T_DIR/bridge.log" 'route "no-dead-letter" stopped: unroutable: NO_ROUTE' ||
    t_fail "the route without dead letter did not stop: $(tail -5 "$T_DIR/bridge.log")"
t_stop "$T_BRIDGE_PID"

rmqc dump unr.dlq 100 >"$T_DIR/dlq.txt"
n=$(grep -c '"x-msgbridge-dlq-reason"=S:"unroutable: NO_ROUTE (exchange \\x22amq.direct\\x22, routing key \\x22nowhere\\x22)"' "$T_DIR/dlq.txt")
t_assert_eq "$n" 10 "dead letters with reason unroutable"
n=$(grep -c "\"x-msgbridge-dlq-reason\"=S:\"exchange \\\\x22no-such-exchange\\\\x22: NOT_FOUND - no exchange 'no-such-exchange' in vhost '/'\"" "$T_DIR/dlq.txt")
t_assert_eq "$n" 5 "dead letters with reason exchange not found"
n=$(grep -c '"x-msgbridge-dlq-route"=S:"unroutable"' "$T_DIR/dlq.txt")
t_assert_eq "$n" 10 "dead letters naming their route"
# Bodies arrive as they were sent.
grep -q 'body="msg-9-' "$T_DIR/dlq.txt" || t_fail "message 9 not in the dead letter queue"
grep -q 'body="msg-104-' "$T_DIR/dlq.txt" || t_fail "message 104 not in the dead letter queue"
t_assert_eq "$(rmq_count unr.in)" 0 "unr.in after the run"
t_assert_eq "$(rmq_count unr.in3)" 0 "unr.in3 after the run"
# The stopped route never acknowledged: the broker kept its messages.
t_assert_eq "$(rmq_count unr.in2)" 3 "unr.in2 after the run"
t_log "ok"
