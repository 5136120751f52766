#!/bin/sh
# The stall watchdog: a route's sink connection freezes without closing (a TCP proxy that stops
# forwarding but keeps the sockets open: publishes go out, no confirm comes back, heartbeats
# off so rabbitmq-c cannot notice). After stall_timeout the route is declared stalled (ERROR
# line naming what it waits on, msgbridge_route_stalls_total, /routes, /readyz), the sink's
# connection is re-established, and the route resumes with no reload and nothing missing.
# The sink is a rabbitmq endpoint, or an amqp1 one when STALL_SINK=amqp1 (amqp1_stall.sh).
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
. "$(dirname "$0")/rabbitmq_lib.sh"
command -v python3 >/dev/null 2>&1 || t_skip "python3 is not installed"
command -v curl >/dev/null 2>&1 || t_skip "curl is not installed"
"$MSGBRIDGE" -V | grep -qw rabbitmq || t_skip "msgbridge was built without the rabbitmq adapter"
[ "${STALL_SINK:-rabbitmq}" = rabbitmq ] || "$MSGBRIDGE" -V | grep -qw "$STALL_SINK" ||
    t_skip "msgbridge was built without the $STALL_SINK adapter"

N=$(t_count 2000)
SINK=${STALL_SINK:-rabbitmq}
qin=stall.$SINK.in
qout=stall.$SINK.out
rmq_fresh "$qin" "$qout"
rmq_hostport=$(echo "$RMQ_URL" | sed 's|.*@||; s|/.*||')
rmq_host=${rmq_hostport%:*}
rmq_port=${rmq_hostport##*:}
python3 "$top_srcdir/tests/integration/freeze_proxy.py" "$T_DIR/proxy.port" "$rmq_host" "$rmq_port" \
    >"$T_DIR/proxy.log" 2>&1 &
PROXY_PID=$!
T_PIDS="$T_PIDS $PROXY_PID"
t_wait_for 10 test -s "$T_DIR/proxy.port" || t_fail "the proxy did not start"
PROXY_URL=$(echo "$RMQ_URL" | sed "s|@$rmq_hostport|@127.0.0.1:$(cat "$T_DIR/proxy.port")|")
if [ "$SINK" = amqp1 ]; then
    # RabbitMQ's AMQP 1.0 listens on the same port; no idle timeout, so only the watchdog acts.
    sink_ep="type = \"amqp1\"; url = \"amqp://127.0.0.1:$(cat "$T_DIR/proxy.port")\"; user = \"guest\"; password = \"guest\"; idle_timeout = 0;"
    sink_to="address = \"/amq/queue/$qout\";"
else
    sink_ep="type = \"rabbitmq\"; url = \"$PROXY_URL\"; heartbeat = 0;"
    sink_to="exchange = \"\"; routing_key = \"$qout\";"
fi

PORT=$(t_free_port)
RMQ_HTTP=http://127.0.0.1:$PORT
cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "stall"; metrics = "127.0.0.1:$PORT"; };
endpoints = (
  { name = "rabbit-in"; type = "rabbitmq"; url = "$RMQ_URL"; },
  { name = "rabbit-out"; $sink_ep }
);
routes = (
  { name = "frozen"; stall_timeout = 3; max_in_flight = 200;
    from = { endpoint = "rabbit-in"; queue = "$qin"; };
    to = { endpoint = "rabbit-out"; $sink_to }; }
);
EOT
t_bridge bridge "$T_DIR/bridge.conf"
t_wait_for 20 sh -c "curl -sf $RMQ_HTTP/readyz" || t_fail "not ready: $(curl -s $RMQ_HTTP/readyz)"

# Freeze the bridge's connection to the sink and hold new connections (so the stall stays
# visible while the watchdog reconnects), then give the route work.
kill -USR1 "$PROXY_PID"
t_wait_for 5 grep -q froze "$T_DIR/proxy.log" || t_fail "the proxy did not freeze"
kill -USR2 "$PROXY_PID"
t_wait_for 5 grep -q held "$T_DIR/proxy.log" || t_fail "the proxy did not hold"
rmqc publish "" "$qin" "$N" >/dev/null || t_fail "publish"

t_wait_for 20 t_log_has "$T_DIR/bridge.log" 'route "frozen" stalled: ' ||
    t_fail "no stall ERROR line: $(tail -5 "$T_DIR/bridge.log")"
line=$(grep -F 'route "frozen" stalled: ' "$T_DIR/bridge.log" | head -1)
t_log "$line"
echo "$line" | grep -q ' ERROR ' || t_fail "not an ERROR line: $line"
echo "$line" | grep -Eq 'route "frozen" stalled: [0-9]+ messages in flight to endpoint "rabbit-out" and no confirm for 3 s' ||
    t_fail "the line does not say what it waits on: $line"
# While the new connection is held, the stall shows in /readyz and /routes.
ready=$(curl -s -w ' HTTP %{http_code}' "$RMQ_HTTP/readyz")
t_log "/readyz: $ready"
echo "$ready" | grep -q 'route frozen stalled: .*messages in flight to endpoint "rabbit-out"' ||
    t_fail "/readyz does not name the stalled route: $ready"
echo "$ready" | grep -q 'HTTP 503' || t_fail "/readyz not 503: $ready"
json=$(rmq_route_json frozen)
echo "$json" | grep -q '"stalled": true, "stalls": 1, "stalled_on": "[0-9]* messages in flight' ||
    t_fail "/routes during the stall: $json"
# The source's backlog check (passive queue.declare beside the consumer) sees what waits in
# $qin behind the full window.
backlog_seen() { rmq_route_json frozen | grep -q '"source_backlog": [1-9]'; }
t_wait_for 5 backlog_seen || t_fail "no source_backlog during the stall: $(rmq_route_json frozen)"
t_log "source backlog: $(rmq_route_json frozen | sed 's/.*"source_backlog": \([0-9]*\).*/\1/')"
# The watchdog re-established the sink's connection (not the process, not a reload).
t_wait_for 10 t_log_has "$T_DIR/bridge.log" "WARN  [$SINK:rabbit-out]" ||
    t_fail "rabbit-out was not reconnected: $(tail -5 "$T_DIR/bridge.log")"
kill -USR2 "$PROXY_PID"

out=$(rmqc verify "$qout" "$N" --timeout 40) || t_fail "after the stall: $out"
t_log "$out"
stalls=$(curl -sf "$RMQ_HTTP/metrics" | sed -n 's/^msgbridge_route_stalls_total{route="frozen"} //p')
[ "${stalls:-0}" -ge 1 ] || t_fail "msgbridge_route_stalls_total: '$stalls'"
resumed() { rmq_route_json frozen | grep -q '"stalled": false, "stalls": [1-9][0-9]*, "stalled_on": null'; }
t_wait_for 10 resumed || t_fail "/routes after resuming: $(rmq_route_json frozen)"
t_log_has "$T_DIR/bridge.log" 'route "frozen" resumed after a stall' || t_fail "no resumed line"
t_wait_for 10 sh -c "curl -sf $RMQ_HTTP/readyz" || t_fail "/readyz after resuming: $(curl -s $RMQ_HTTP/readyz)"
t_assert_eq "$(rmq_count "$qin")" 0 "$qin after the run"
grep -q "reload" "$T_DIR/bridge.log" && t_fail "reloaded: $(grep reload "$T_DIR/bridge.log")"
t_stop "$T_BRIDGE_PID"
kill "$PROXY_PID" 2>/dev/null
t_log "ok"
