#!/bin/sh
# An AMQP 1.0 route whose target address does not exist (RabbitMQ closes the sender with
# amqp:not-found) parks: /readyz 503, /routes "parked", nothing taken from the source queue
# for good; once the exchange is declared and bound, the route resumes by itself and every
# message arrives once, in order.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
. "$(dirname "$0")/amqp1_lib.sh"
. "$(dirname "$0")/rabbitmq_lib.sh"
command -v curl >/dev/null || t_skip "curl not installed"

N=$(t_count 100)
qin=a1p.in.$$; qout=a1p.out.$$; xout=a1p.x.$$
a1_queue "$qin"
a1_delete "$qout"
trap 'a1_delete "$qin" "$qout"; t_cleanup' EXIT
PORT=$(t_free_port)
RMQ_HTTP=http://127.0.0.1:$PORT
cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "a1p"; metrics = "127.0.0.1:$PORT"; };
endpoints = (
  { name = "amq"; type = "amqp1"; url = "amqp://$A1_HOSTPORT"; user = "guest"; password = "guest"; }
);
routes = (
  { name = "late";
    from = { endpoint = "amq"; address = "queue://$qin"; };
    to = { endpoint = "amq"; address = "/exchange/$xout/k"; };
    park_retry_min = 0.2; park_retry_max = 1; }
);
EOT
out=$(a1c send "/amq/queue/$qin" "$N" --tag late) || t_fail "send: $out"
t_bridge bridge "$T_DIR/bridge.conf"
t_wait_for 20 t_log_has "$T_DIR/bridge.log" 'route "late" parked: sender for' ||
    t_fail "the route did not park: $(tail -5 "$T_DIR/bridge.log")"
grep 'route "late" parked' "$T_DIR/bridge.log" | grep -q 'amqp:not-found' ||
    t_fail "park reason: $(grep 'parked' "$T_DIR/bridge.log")"
t_assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$RMQ_HTTP/readyz")" 503 "/readyz while parked"
rmq_route_json late | grep -q '"state": "parked"' || t_fail "/routes: $(rmq_route_json late)"
t_log "parked: $(rmq_route_json late | sed 's/.*"park_reason"/park_reason/')"

rmqc declare-exchange "$xout" direct || t_fail "declare exchange"
rmqc declare "$qout" "$xout" k || t_fail "declare $qout"
out=$(a1c recv "/amq/queue/$qout" "$N" --tag late --idle 15 --timeout 40) || t_fail "after the fix: $out"
t_log "after: $out"
t_wait_for 10 t_log_has "$T_DIR/bridge.log" 'route "late" resumed after' ||
    t_fail "no resume line: $(tail -3 "$T_DIR/bridge.log")"
t_wait_for 10 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $RMQ_HTTP/readyz)\" = 200 ]" ||
    t_fail "/readyz after the fix: $(curl -s "$RMQ_HTTP/readyz")"
t_stop "$T_BRIDGE_PID"
t_log "ok"
