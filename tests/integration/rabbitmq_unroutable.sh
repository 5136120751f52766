#!/bin/sh
# Destinations that lead nowhere: an unroutable mandatory publish (basic.return) and a publish
# to an exchange that does not exist are dead-lettered with the broker's reason; without a
# dead_letter the route parks (/readyz 503, /routes "parked", nothing acknowledged) and resumes
# by itself once the queue is bound or the exchange declared: every message arrives, in order.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
. "$(dirname "$0")/rabbitmq_lib.sh"

command -v curl >/dev/null || t_skip "curl not installed"
rmqc delete unr.nowhere >/dev/null 2>&1
rmqc delete unr.late >/dev/null 2>&1
rmq_fresh unr.in unr.in2 unr.in3 unr.in4 unr.dlq
rmqc publish "" unr.in 10 >/dev/null || t_fail "publish"
rmqc publish "" unr.in3 5 --start 100 >/dev/null || t_fail "publish"
rmqc publish "" unr.in2 30 >/dev/null || t_fail "publish"
rmqc publish "" unr.in4 20 --start 200 >/dev/null || t_fail "publish"
# A fresh exchange name per run: an exchange cannot be deleted with this client.
LATE_X="unr.late.x.$$"

PORT=$(t_free_port)
RMQ_HTTP=http://127.0.0.1:$PORT
cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "unr"; metrics = "127.0.0.1:$PORT"; };
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
    to = { endpoint = "rabbit"; exchange = "amq.direct"; routing_key = "nowhere"; };
    park_retry_min = 0.2; park_retry_max = 1; },
  { name = "late-exchange";
    from = { endpoint = "rabbit"; queue = "unr.in4"; };
    to = { endpoint = "rabbit"; exchange = "$LATE_X"; routing_key = "x"; };
    park_retry_min = 0.2; park_retry_max = 1; }
);
EOT
t_bridge bridge "$T_DIR/bridge.conf"
rmq_wait_count unr.dlq 15 20 || t_fail "dead letter queue has $(rmq_count unr.dlq) of 15 messages"
t_wait_for 10 t_log_has "$T_DIR/bridge.log" 'route "no-dead-letter" parked: unroutable: NO_ROUTE' ||
    t_fail "the route without dead letter did not park: $(tail -5 "$T_DIR/bridge.log")"
t_wait_for 10 t_log_has "$T_DIR/bridge.log" "route \"late-exchange\" parked: exchange \"$LATE_X\": NOT_FOUND" ||
    t_fail "the route to a missing exchange did not park: $(tail -5 "$T_DIR/bridge.log")"
t_assert_eq "$(grep -c 'route "no-dead-letter" parked' "$T_DIR/bridge.log")" 1 "ERROR lines per park"
t_assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$RMQ_HTTP/readyz")" 503 "/readyz while parked"
curl -s "$RMQ_HTTP/readyz" | grep -q '^route no-dead-letter parked: unroutable: NO_ROUTE' ||
    t_fail "/readyz: $(curl -s "$RMQ_HTTP/readyz")"
j=$(rmq_route_json no-dead-letter)
echo "$j" | grep -q '"state": "parked"' || t_fail "/routes: $j"
echo "$j" | grep -q '"parks": 1, "park_reason": "unroutable: NO_ROUTE' || t_fail "/routes: $j"
echo "$j" | grep -q '"next_retry_ms": [0-9]' || t_fail "/routes: $j"
curl -sf "$RMQ_HTTP/metrics" >"$T_DIR/metrics.txt" || t_fail "no /metrics"
grep -q '^msgbridge_route_parked{route="no-dead-letter"} 1$' "$T_DIR/metrics.txt" ||
    t_fail "metrics: $(grep route_parked "$T_DIR/metrics.txt")"
grep -q '^msgbridge_route_parks_total{route="late-exchange"} 1$' "$T_DIR/metrics.txt" ||
    t_fail "metrics: $(grep parks_total "$T_DIR/metrics.txt")"
grep -q '^msgbridge_route_parked{route="unroutable"} 0$' "$T_DIR/metrics.txt" ||
    t_fail "metrics: $(grep route_parked "$T_DIR/metrics.txt")"
# Parked: nothing acknowledged, nothing published anywhere.
t_assert_eq "$(rmq_count unr.dlq)" 15 "dead letters while parked"

# The operator fixes the destinations; the routes resume by themselves.
rmqc declare unr.nowhere amq.direct nowhere || t_fail "declare unr.nowhere"
rmqc declare-exchange "$LATE_X" direct || t_fail "declare $LATE_X"
rmqc declare unr.late "$LATE_X" x || t_fail "declare unr.late"
rmq_wait_count unr.nowhere 30 20 || t_fail "unr.nowhere has $(rmq_count unr.nowhere) of 30 messages"
rmq_wait_count unr.late 20 20 || t_fail "unr.late has $(rmq_count unr.late) of 20 messages"
t_wait_for 10 t_log_has "$T_DIR/bridge.log" 'route "no-dead-letter" resumed after' ||
    t_fail "no resume line: $(tail -5 "$T_DIR/bridge.log")"
t_wait_for 10 t_log_has "$T_DIR/bridge.log" 'route "late-exchange" resumed after' ||
    t_fail "no resume line: $(tail -5 "$T_DIR/bridge.log")"
t_wait_for 10 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $RMQ_HTTP/readyz)\" = 200 ]" ||
    t_fail "/readyz after the fix: $(curl -s "$RMQ_HTTP/readyz")"
rmq_route_json no-dead-letter | grep -q '"state": "running"' || t_fail "/routes: $(rmq_route_json no-dead-letter)"
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
# The parked routes lost nothing, duplicated nothing, and kept the order.
t_assert_eq "$(rmq_count unr.in2)" 0 "unr.in2 after the run"
t_assert_eq "$(rmq_count unr.in4)" 0 "unr.in4 after the run"
rmqc dump unr.nowhere 100 >"$T_DIR/nowhere.txt"
t_assert_eq "$(rmq_bodies "$T_DIR/nowhere.txt" | tr '\n' ' ')" "$(seq 0 29 | tr '\n' ' ')" "unr.nowhere bodies"
rmqc dump unr.late 100 >"$T_DIR/late.txt"
t_assert_eq "$(rmq_bodies "$T_DIR/late.txt" | tr '\n' ' ')" "$(seq 200 219 | tr '\n' ' ')" "unr.late bodies"
t_log "ok"
