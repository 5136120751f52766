#!/bin/sh
# The stall watchdog, source side: the connection a route consumes on freezes without closing
# (a TCP proxy that stops forwarding, heartbeats off so rabbitmq-c cannot notice) while its
# queue is empty and nothing is in flight; then messages arrive. The source's backlog check
# (a passive queue.declare on a channel of its own) goes unanswered, the route is declared
# stalled (ERROR line, /readyz, /routes, msgbridge_route_stalls_total), the source connection
# is re-established, and everything is delivered: no reload, nothing missing.
# First, with the checks running every 750 ms next to the consumer, a batch goes through
# exactly: the checks do not disturb consuming.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
. "$(dirname "$0")/rabbitmq_lib.sh"
command -v python3 >/dev/null 2>&1 || t_skip "python3 is not installed"
command -v curl >/dev/null 2>&1 || t_skip "curl is not installed"
"$MSGBRIDGE" -V | grep -qw rabbitmq || t_skip "msgbridge was built without the rabbitmq adapter"

N1=$(t_count 2000)
N2=$(t_count 2000)
MIF=50
qin=srcstall.in
qout=srcstall.out
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

PORT=$(t_free_port)
RMQ_HTTP=http://127.0.0.1:$PORT
cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "srcstall"; metrics = "127.0.0.1:$PORT"; };
endpoints = (
  { name = "rabbit-in"; type = "rabbitmq"; url = "$PROXY_URL"; heartbeat = 0; },
  { name = "rabbit-out"; type = "rabbitmq"; url = "$RMQ_URL"; }
);
routes = (
  { name = "srcfrozen"; stall_timeout = 3; max_in_flight = $MIF;
    from = { endpoint = "rabbit-in"; queue = "$qin"; };
    to = { endpoint = "rabbit-out"; exchange = ""; routing_key = "$qout"; }; }
);
EOT
t_bridge bridge "$T_DIR/bridge.conf"
t_wait_for 20 sh -c "curl -sf $RMQ_HTTP/readyz" || t_fail "not ready: $(curl -s $RMQ_HTTP/readyz)"

# 1. Checks and consuming side by side: everything arrives, nothing stalls.
rmqc publish "" "$qin" "$N1" >/dev/null || t_fail "publish 1"
out=$(rmqc verify "$qout" "$N1" --timeout 30) || t_fail "with backlog checks running: $out"
t_log "$out"
echo "$out" | grep -q "duplicates 0" || t_log "note: $out"
t_assert_eq "$(rmq_route_json srcfrozen | grep -c '"stalls": 0')" 1 "stalls after phase 1"
# The ready count is checked every 750 ms: it reads 0 once the queue is drained.
drained() { curl -sf "$RMQ_HTTP/metrics" | grep -q '^msgbridge_route_source_backlog{route="srcfrozen"} 0$'; }
t_wait_for 10 drained ||
    t_fail "msgbridge_route_source_backlog: $(curl -sf "$RMQ_HTTP/metrics" | grep source_backlog)"

# 2. Freeze the consuming connection while the queue is empty and nothing is in flight, hold
# new connections (the stall stays visible while the watchdog reconnects), then publish.
kill -USR1 "$PROXY_PID"
t_wait_for 5 grep -q froze "$T_DIR/proxy.log" || t_fail "the proxy did not freeze"
kill -USR2 "$PROXY_PID"
t_wait_for 5 grep -q held "$T_DIR/proxy.log" || t_fail "the proxy did not hold"
rmqc publish "" "$qin" "$N2" >/dev/null || t_fail "publish 2"

t_wait_for 20 t_log_has "$T_DIR/bridge.log" 'route "srcfrozen" stalled: ' ||
    t_fail "no stall ERROR line: $(tail -5 "$T_DIR/bridge.log")"
line=$(grep -F 'route "srcfrozen" stalled: ' "$T_DIR/bridge.log" | head -1)
t_log "$line"
echo "$line" | grep -q ' ERROR ' || t_fail "not an ERROR line: $line"
echo "$line" | grep -q 'route "srcfrozen" stalled: endpoint "rabbit-in" answers no backlog check (last known backlog 0) and nothing read for 3 s; re-establishing the connection' ||
    t_fail "the line does not say what it waits on: $line"
ready=$(curl -s -w ' HTTP %{http_code}' "$RMQ_HTTP/readyz")
t_log "/readyz: $ready"
echo "$ready" | grep -q 'route srcfrozen stalled: endpoint "rabbit-in" answers no backlog check' ||
    t_fail "/readyz does not name the stalled route: $ready"
echo "$ready" | grep -q 'HTTP 503' || t_fail "/readyz not 503: $ready"
json=$(rmq_route_json srcfrozen)
echo "$json" | grep -q '"stalled": true, "stalls": 1, "stalled_on": "endpoint \\"rabbit-in\\" answers no backlog check' ||
    t_fail "/routes during the stall: $json"
# The watchdog re-established the source's connection (not the sink's, not the process).
t_wait_for 10 t_log_has "$T_DIR/bridge.log" "WARN  [rabbitmq:rabbit-in]" ||
    t_fail "rabbit-in was not reconnected: $(tail -5 "$T_DIR/bridge.log")"
t_log_has "$T_DIR/bridge.log" "WARN  [rabbitmq:rabbit-out]" &&
    t_fail "rabbit-out was reconnected: $(grep 'rabbit-out' "$T_DIR/bridge.log" | tail -3)"
kill -USR2 "$PROXY_PID"

# 3. The new connection reads what is ready. The broker had sent up to max_in_flight
# deliveries to the frozen consumer: they stay unacknowledged there until that connection
# closes at the broker (its heartbeat or TCP timeout in real life; here the proxy passes on
# the bridge's close of the old socket, and SIGHUP closes whatever frozen pair is left).
rmq_wait_count "$qout" $((N2 - MIF)) 40 ||
    t_fail "after the reconnect: $(rmq_count "$qout") of at least $((N2 - MIF)) in $qout"
kill -HUP "$PROXY_PID"
t_wait_for 5 grep -q "closed [0-9]* frozen" "$T_DIR/proxy.log" ||
    t_fail "the proxy did not close the frozen connection: $(tail -3 "$T_DIR/proxy.log")"
out=$(rmqc verify "$qout" "$N2" --timeout 40) || t_fail "after the stall: $out"
t_log "$out"
stalls=$(curl -sf "$RMQ_HTTP/metrics" | sed -n 's/^msgbridge_route_stalls_total{route="srcfrozen"} //p')
t_assert_eq "$stalls" 1 "msgbridge_route_stalls_total"
resumed() { rmq_route_json srcfrozen | grep -q '"stalled": false, "stalls": 1, "stalled_on": null'; }
t_wait_for 10 resumed || t_fail "/routes after resuming: $(rmq_route_json srcfrozen)"
t_log_has "$T_DIR/bridge.log" 'route "srcfrozen" resumed after a stall' || t_fail "no resumed line"
t_wait_for 10 sh -c "curl -sf $RMQ_HTTP/readyz" || t_fail "/readyz after resuming: $(curl -s $RMQ_HTTP/readyz)"
t_wait_for 10 sh -c "[ \"\$($RMQC $RMQ_URL count $qin)\" = 0 ]" || t_fail "$qin after the run: $(rmq_count "$qin")"
grep -q "reload" "$T_DIR/bridge.log" && t_fail "reloaded: $(grep reload "$T_DIR/bridge.log")"
t_stop "$T_BRIDGE_PID"
kill "$PROXY_PID" 2>/dev/null
t_log "ok"
