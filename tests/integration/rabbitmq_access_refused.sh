#!/bin/sh
# A sink user without write permission on the exchange: RabbitMQ closes the publish channel
# with 403 ACCESS_REFUSED at the first publish of a window of many. The route parks once (one
# ERROR line naming the user, exchange, vhost and the permission to grant; /readyz 503; /routes
# "parked"), nothing is acknowledged at the source, and once the permission is granted
# (rabbitmqctl set_permissions) the route heals by itself: everything arrives.
# A second route publishes through the same endpoint (one publish channel) to an exchange the
# user may write: its publishes caught in the closed channel's window are retried, never
# parked, and all of them arrive.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
. "$(dirname "$0")/rabbitmq_lib.sh"
command -v curl >/dev/null 2>&1 || t_skip "curl is not installed"

N=$(t_count 500)
port=$BRG_TEST_RABBITMQ_PORT
user=brgro$$
cleanup_broker() { rmq_ctl delete_user "$user" >/dev/null 2>&1; rmqc delete ar.ok.q >/dev/null 2>&1; }
trap 'cleanup_broker; t_cleanup' EXIT
cleanup_broker
rmq_ctl add_user "$user" "pw-$$" >/dev/null 2>&1 || t_fail "add_user"
# Configure and read everything, write only amq.topic (not the default exchange).
rmq_ctl set_permissions -p / "$user" ".*" "^amq\.topic$" ".*" >/dev/null 2>&1 || t_fail "set_permissions"
rmq_fresh ar.in ar.out ar.ok.in ar.ok.out
rmqc delete ar.ok.q >/dev/null 2>&1
rmqc publish "" ar.in "$N" >/dev/null || t_fail "publish"
rmqc publish "" ar.ok.in "$N" >/dev/null || t_fail "publish ok"

PORT=$(t_free_port)
RMQ_HTTP=http://127.0.0.1:$PORT
cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "ar"; metrics = "127.0.0.1:$PORT"; };
endpoints = (
  { name = "src"; type = "rabbitmq"; url = "$RMQ_URL"; },
  { name = "read-only"; type = "rabbitmq"; url = "amqp://127.0.0.1:$port/%2f";
    user = "$user"; password = "pw-$$"; }
);
routes = (
  { name = "refused"; max_in_flight = 100; park_retry_max = 2;
    from = { endpoint = "src"; queue = "ar.in"; };
    to = { endpoint = "read-only"; exchange = ""; routing_key = "ar.out"; }; },
  { name = "allowed"; max_in_flight = 100;
    from = { endpoint = "src"; queue = "ar.ok.in"; };
    to = { endpoint = "read-only"; exchange = "amq.topic"; routing_key = "ar.ok"; }; },
  { name = "collect";
    from = { endpoint = "src"; exchange = "amq.topic"; binding_key = "ar.ok"; queue = "ar.ok.q"; };
    to = { endpoint = "src"; exchange = ""; routing_key = "ar.ok.out"; }; }
);
EOT
t_bridge bridge "$T_DIR/bridge.conf"
want="route \"refused\" parked: access refused: user \"$user\" may not publish to exchange \"\" in vhost \"/\"; grant it write permission on that exchange"
t_wait_for 15 t_log_has "$T_DIR/bridge.log" "$want" ||
    t_fail "no park line: $(grep -E 'refused|parked' "$T_DIR/bridge.log" | tail -3)"
grep -F "$want" "$T_DIR/bridge.log" | grep -q ' ERROR ' || t_fail "not an ERROR line"
t_log "$(grep -F 'parked:' "$T_DIR/bridge.log" | head -1)"
# Let a few probes fail (park_retry_max 2 s): still one park, no message through, none lost.
t_wait_for 15 sh -c "[ \$(grep -c 'the broker closed the publish channel' '$T_DIR/bridge.log') -ge 3 ]" ||
    t_fail "no probe retried: $(grep -c 'closed the publish channel' "$T_DIR/bridge.log")"
t_assert_eq "$(grep -c 'route "refused" parked' "$T_DIR/bridge.log")" 1 "ERROR lines per park"
t_assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$RMQ_HTTP/readyz")" 503 "/readyz while parked"
rmq_route_json refused | grep -q '"state": "parked"' || t_fail "/routes: $(rmq_route_json refused)"
t_assert_eq "$(rmq_count ar.out)" 0 "ar.out while refused"
kill -0 "$T_BRIDGE_PID" 2>/dev/null || t_fail "the bridge exited"

out=$(rmqc verify ar.ok.out "$N" --timeout 30) || t_fail "the allowed route, beside the refused one: $out"
t_log "allowed route: $out; $(curl -sf "$RMQ_HTTP/metrics" | grep '^msgbridge_route_settled_total{route="allowed"')"
grep -q 'route "allowed" parked' "$T_DIR/bridge.log" && t_fail "the allowed route parked"
rmq_route_json allowed | grep -q '"state": "running"' || t_fail "/routes: $(rmq_route_json allowed)"
rmq_ctl set_permissions -p / "$user" ".*" ".*" ".*" >/dev/null 2>&1 || t_fail "set_permissions"
t_wait_for 20 t_log_has "$T_DIR/bridge.log" 'route "refused" resumed after' ||
    t_fail "not resumed: $(tail -3 "$T_DIR/bridge.log")"
out=$(rmqc verify ar.out "$N" --timeout 30) || t_fail "after granting: $out"
t_log "$out"
t_wait_for 10 sh -c "[ \"\$($RMQC $RMQ_URL count ar.in)\" = 0 ]" || t_fail "ar.in: $(rmq_count ar.in)"
t_wait_for 10 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $RMQ_HTTP/readyz)\" = 200 ]" ||
    t_fail "/readyz after granting: $(curl -s "$RMQ_HTTP/readyz")"
rmq_route_json refused | grep -q '"state": "running"' || t_fail "/routes: $(rmq_route_json refused)"
t_stop "$T_BRIDGE_PID"
t_log "ok"
