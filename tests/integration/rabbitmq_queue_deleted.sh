#!/bin/sh
# The source queue deleted under a running bridge (consumer cancel notification): /routes
# shows the reason as the route's source_error, the source keeps trying; once the queue is
# declared again, messages published to it flow and source_error is null again.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
. "$(dirname "$0")/rabbitmq_lib.sh"
command -v curl >/dev/null || t_skip "curl not installed"
command -v python3 >/dev/null || t_skip "python3 not installed"

N=$(t_count 500)
rmq_fresh del.in del.out
PORT=$(t_free_port)
RMQ_HTTP=http://127.0.0.1:$PORT
cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "del"; metrics = "127.0.0.1:$PORT"; };
endpoints = ( { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; } );
routes = (
  { name = "deleted";
    from = { endpoint = "rabbit"; queue = "del.in"; };
    to = { endpoint = "rabbit"; routing_key = "del.out"; }; }
);
EOT
t_bridge bridge "$T_DIR/bridge.conf"
rmqc publish "" del.in "$N" >/dev/null || t_fail "publish"
rmq_wait_count del.out "$N" 20 || t_fail "del.out has $(rmq_count del.out) of $N"
rmq_route_json deleted | grep -q '"source_error": null' || t_fail "source_error before: $(rmq_route_json deleted)"

rmqc delete del.in >/dev/null || t_fail "delete del.in"
has_error() { rmq_route_json deleted | grep -q '"source_error": ".*del.in'; }
t_wait_for 10 has_error || t_fail "no source_error after the delete: $(rmq_route_json deleted)"
j=$(rmq_route_json deleted)
t_log "while deleted: $(echo "$j" | sed 's/.*"source_error"/source_error/')"
echo "$j" | grep -q '"state": "running"' || t_fail "route not running: $j"
t_log_has "$T_DIR/bridge.log" 'route "deleted": the broker cancelled the consumer of queue "del.in" (queue deleted?)' ||
    t_fail "no cancel line in the log"
# It keeps trying (the queue is missing now) and says why.
t_wait_for 10 t_log_has "$T_DIR/bridge.log" "queue \"del.in\": NOT_FOUND - no queue 'del.in' in vhost '/'" ||
    t_fail "no retry naming the missing queue: $(tail -3 "$T_DIR/bridge.log")"
rmq_route_json deleted | grep -q "\"source_error\": \"queue \\\\\"del.in\\\\\": NOT_FOUND - no queue 'del.in' in vhost '/'\"" ||
    t_fail "source_error while missing: $(rmq_route_json deleted)"

rmqc declare del.in >/dev/null || t_fail "declare del.in again"
rmqc publish "" del.in "$N" --start "$N" >/dev/null || t_fail "publish again"
rmq_wait_count del.out $((2 * N)) 40 || t_fail "del.out has $(rmq_count del.out) of $((2 * N)) after the queue came back"
no_error() { rmq_route_json deleted | grep -q '"source_error": null'; }
t_wait_for 10 no_error || t_fail "source_error not cleared: $(rmq_route_json deleted)"
t_log_has "$T_DIR/bridge.log" 'route "deleted": consuming queue "del.in" (prefetch 1000) again' ||
    t_fail "no line saying it consumes again"
t_stop "$T_BRIDGE_PID"
out=$(rmqc verify del.out $((2 * N)) --timeout 10) || t_fail "verify: $out"
t_log "$out"
t_assert_eq "$(rmq_count del.in)" 0 "del.in after the run"
t_log "ok"
