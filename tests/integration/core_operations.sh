#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# Operations without brokers (memory endpoints): /healthz, /readyz, /metrics, /routes with curl;
# SIGHUP reload (route added: the running one keeps counting; bad file: nothing changes; route
# removed); SIGTERM drain (exit 0), second SIGTERM (exits at once), shutdown deadline (exit 4).
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || t_skip "curl not installed"
PORT=$((20000 + $$ % 5000))
URL=http://127.0.0.1:$PORT
conf=$T_DIR/bridge.conf

write_conf() {  # write_conf WITH_R1 WITH_R2
    {
        echo "bridge = { id = \"ops\"; stats_interval = 0; metrics = \"127.0.0.1:$PORT\"; };"
        echo "endpoints = ( { name = \"g1\"; type = \"memory\"; }, { name = \"s1\"; type = \"memory\"; },"
        echo "              { name = \"g2\"; type = \"memory\"; }, { name = \"s2\"; type = \"memory\"; } );"
        echo "routes = ("
        [ "$1" = 1 ] && echo "  { name = \"r1\"; from = { endpoint = \"g1\"; count = 100000000; }; to = { endpoint = \"s1\"; };"
        [ "$1" = 1 ] && echo "    rate = { messages_per_second = 5000; }; }$([ "$2" = 1 ] && echo ,)"
        [ "$2" = 1 ] && echo "  { name = \"r2\"; from = { endpoint = \"g2\"; count = 300; }; to = { endpoint = \"s2\"; }; }"
        echo ");"
    } >"$conf"
}
route_in() {  # route_in NAME: the route's "in" counter from /routes
    curl -sf "$URL/routes" | tr '{' '\n' | grep "\"name\": \"$1\"" | sed 's/.*"in": \([0-9]*\).*/\1/'
}

write_conf 1 0
"$MSGBRIDGE" -t -c "$conf" >/dev/null || t_fail "config rejected"
t_bridge ops "$conf"
pid=$T_BRIDGE_PID
t_wait_for 10 curl -sf "$URL/healthz" || t_fail "/healthz did not answer"
t_assert_eq "$(curl -s "$URL/healthz")" "ok" "/healthz body"
t_assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" "200" "/readyz status"
t_assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/nope")" "404" "unknown path"
r1_in() { curl -s "$URL/metrics" | sed -n 's/^msgbridge_route_messages_in_total{route="r1"} //p'; }
r1_moved() { n=$(r1_in); [ -n "$n" ] && [ "$n" -gt 1000 ]; }
t_wait_for 10 r1_moved || t_fail "r1 moved too little: '$(r1_in)'"
m=$(curl -s "$URL/metrics")
echo "$m" | grep -q '^# TYPE msgbridge_route_messages_in_total counter$' || t_fail "metrics type line missing"
in1=$(echo "$m" | sed -n 's/^msgbridge_route_messages_in_total{route="r1"} //p')
[ -n "$in1" ] && [ "$in1" -gt 1000 ] || t_fail "r1 moved too little: '$in1'"
echo "$m" | grep -q '^msgbridge_endpoint_connected{endpoint="g1",adapter="memory"} 1$' || t_fail "connected gauge"

# Reload: add r2; r1 keeps running without a restart (its counter keeps growing from where it was).
before=$(route_in r1)
write_conf 1 1
kill -HUP "$pid"
t_wait_for 10 sh -c "curl -sf $URL/routes | grep -q '\"name\": \"r2\"'" || t_fail "r2 did not appear"
after=$(route_in r1)
[ "$after" -ge "$before" ] || t_fail "r1 was restarted: in went from $before to $after"
t_wait_for 10 sh -c "[ \"\$(curl -s $URL/routes | tr '{' '\n' | grep '\"name\": \"r2\"' | sed 's/.*\"accepted\": \([0-9]*\).*/\1/')\" = 300 ]" \
    || t_fail "r2 did not move its 300 messages"
# g2 and s2 were running without routes: r2 is added to them in place, nothing restarts.
grep -q "reload: done: 4 endpoints kept running, 0 started; routes: 1 kept, 1 built" "$T_DIR/ops.log" ||
    t_fail "reload summary: $(grep 'reload' "$T_DIR/ops.log")"
for e in g2 s2; do
    grep -q "reload: endpoint \"$e\" kept running: routes changed in place" "$T_DIR/ops.log" ||
        t_fail "$e was not changed in place: $(grep 'reload' "$T_DIR/ops.log")"
done

# A bad file changes nothing and is reported with its line.
cp "$conf" "$T_DIR/good.conf"
sed -i 's/count = 300;/count = 300; colour = 1;/' "$conf"
kill -HUP "$pid"
t_wait_for 10 grep -q "running configuration is unchanged" "$T_DIR/ops.log" || t_fail "bad reload not refused"
grep -q "bridge.conf:7: routes\[1\].from.colour: unknown key \"colour\"" "$T_DIR/ops.log" || t_fail "bad reload diagnostic"
curl -sf "$URL/routes" | grep -q '"name": "r1", "state": "running"' || t_fail "r1 not running after a bad reload"

# Remove r1: it drains and stops; r2 stays.
write_conf 0 1
kill -HUP "$pid"
t_wait_for 10 sh -c "! curl -sf $URL/routes | grep -q '\"name\": \"r1\"'" || t_fail "r1 not removed"
t_stop "$pid" 10
grep -q "stopped (drained)" "$T_DIR/ops.log" || t_fail "no drained shutdown"

# Shutdown deadline: a sink that never confirms in time; exit status 4 after ~1 s.
cat >"$T_DIR/slow.conf" <<EOC
bridge = { id = "slow"; shutdown_timeout = 1; stats_interval = 0; };
endpoints = ( { name = "g"; type = "memory"; }, { name = "s"; type = "memory"; settle_delay_ms = 60000; } );
routes = ( { name = "r"; from = { endpoint = "g"; count = 10; }; to = { endpoint = "s"; }; } );
EOC
"$MSGBRIDGE" -c "$T_DIR/slow.conf" >"$T_DIR/slow.log" 2>&1 &
spid=$!
# SIGTERM once its 10 messages are in flight (the sink holds them): SIGUSR1 logs the route's
# statistics (sent once it logged its start: before exec a signal would end it).
took_all() { t_log_has "$2" starting && kill -USR1 "$1" && grep -q 'route r: state=[a-z]* in=10 ' "$2"; }
t_wait_for 10 took_all "$spid" "$T_DIR/slow.log" || t_fail "did not take 10: $(cat "$T_DIR/slow.log")"
kill -TERM "$spid"
wait "$spid"; rc=$?
t_assert_eq "$rc" 4 "exit status after the shutdown deadline"
grep -q "shutdown deadline passed with 10 messages in flight" "$T_DIR/slow.log" || t_fail "deadline message"

# A second SIGTERM exits at once.
sed -i 's/shutdown_timeout = 1;/shutdown_timeout = 60;/' "$T_DIR/slow.conf"
"$MSGBRIDGE" -c "$T_DIR/slow.conf" >"$T_DIR/slow2.log" 2>&1 &
spid=$!
t_wait_for 10 took_all "$spid" "$T_DIR/slow2.log" || t_fail "did not take 10: $(cat "$T_DIR/slow2.log")"
kill -TERM "$spid"
t_wait_for 10 t_log_has "$T_DIR/slow2.log" "draining" || t_fail "no draining: $(cat "$T_DIR/slow2.log")"
kill -TERM "$spid"
i=0; while kill -0 "$spid" 2>/dev/null; do i=$((i + 1)); [ $i -gt 30 ] && t_fail "second SIGTERM did not exit at once"; sleep 0.1; done
wait "$spid"
grep -q "second signal: exiting now; 10 unacknowledged messages" "$T_DIR/slow2.log" || t_fail "second signal message"
t_log "ok"
