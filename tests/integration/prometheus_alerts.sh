#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# A real Prometheus scrapes a running msgbridge (memory route) with contrib/prometheus's rules:
# the bridge's series arrive (every family on /metrics, with the route's values), the
# MsgbridgeRouteStopped alert fires when the route stops (its sink rejects a message and there
# is no dead letter) and clears when the route runs again (the sink fixed, SIGHUP). Scrapes and
# rule evaluations run every second and the alert's `for:` is 2 s, so this takes about 20 s.
# Every query of contrib/grafana/msgbridge.json runs against the same Prometheus too.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/integration/prom_lib.sh"
prom_need

BPORT=$(prom_free_port)
conf=$T_DIR/bridge.conf
write_conf() {  # write_conf OUTCOME: the sink's scripted outcome (accept, or reject to stop)
    cat >"$conf" <<EOC
bridge = { id = "prom"; stats_interval = 0; metrics = "127.0.0.1:$BPORT"; };
endpoints = ( { name = "gen"; type = "memory"; record = false; },
              { name = "out"; type = "memory"; record = false; outcome = "$1"; } );
routes = ( { name = "orders"; from = { endpoint = "gen"; count = 100000000; }; to = { endpoint = "out"; };
             rate = { messages_per_second = 200; }; } );
EOC
}
write_conf accept
"$MSGBRIDGE" -t -c "$conf" >/dev/null || t_fail "config rejected"
t_bridge prom "$conf"
pid=$T_BRIDGE_PID
t_wait_for 10 curl -sf "http://127.0.0.1:$BPORT/healthz" || t_fail "msgbridge did not serve /healthz"

prom_rules_for MsgbridgeRouteStopped 2s "$T_DIR/rules.yml"
promtool check rules "$T_DIR/rules.yml" >/dev/null || t_fail "rules do not load"
prom_start "127.0.0.1:$BPORT" "$T_DIR/rules.yml"

# The series arrive: the target is up, the route's gauge is 1 and its counter moves.
t_wait_for 20 sh -c "[ \"\$(python3 $PROM_API $PROM_URL target)\" = up ]" || t_fail "target not up: $(prom_api target)"
t_wait_for 20 sh -c "[ \"\$(python3 $PROM_API $PROM_URL value 'msgbridge_route_up{job=\"msgbridge\",route=\"orders\"}')\" = 1 ]" \
    || t_fail "msgbridge_route_up{route=orders} did not arrive as 1"
t_wait_for 20 sh -c "[ \"\$(python3 $PROM_API $PROM_URL value 'increase(msgbridge_route_messages_in_total{route=\"orders\"}[5s]) > 0')\" != '' ]" \
    || t_fail "msgbridge_route_messages_in_total does not grow in Prometheus"
t_assert_eq "$(prom_api value 'msgbridge_build_info')" 1 "msgbridge_build_info"
# Every family the bridge exports is in Prometheus (histograms as _bucket, _sum, _count).
curl -sf "http://127.0.0.1:$BPORT/metrics" | grep -v '^#' | sed 's/[{ ].*//' | sort -u >"$T_DIR/exported"
[ "$(wc -l <"$T_DIR/exported")" -ge 30 ] || t_fail "too few metrics exported: $(wc -l <"$T_DIR/exported")"
prom_api names msgbridge_ | sort -u >"$T_DIR/stored"
missing=$(comm -23 "$T_DIR/exported" "$T_DIR/stored")
[ -z "$missing" ] || t_fail "exported but not in Prometheus: $missing"
t_assert_eq "$(prom_api alert MsgbridgeRouteStopped route=orders)" none "alert before the stop"
# The dashboard's queries are valid PromQL and those not about one adapter return series (rate
# windows of 5 s: scrapes are 1 s apart here, and the increase above already saw two samples).
prom_api dashboard "$top_srcdir/contrib/grafana/msgbridge.json" 5s >"$T_DIR/dashboard.out" ||
    t_fail "dashboard queries: $(cat "$T_DIR/dashboard.out")"

# Stop the route: the sink now rejects, there is no dead letter, so the route stops.
write_conf reject
kill -HUP "$pid"
t_wait_for 20 sh -c "curl -sf http://127.0.0.1:$BPORT/routes | grep -q '\"state\": \"stopped\"'" || t_fail "route did not stop"
t_wait_for 20 sh -c "[ \"\$(python3 $PROM_API $PROM_URL alert MsgbridgeRouteStopped route=orders)\" = firing ]" \
    || t_fail "MsgbridgeRouteStopped did not fire (state: $(prom_api alert MsgbridgeRouteStopped route=orders))"
t_assert_eq "$(prom_api value 'msgbridge_route_up{route="orders"}')" 0 "msgbridge_route_up while stopped"
t_assert_eq "$(prom_api alert MsgbridgeRouteStopped route=orders job=msgbridge instance=127.0.0.1:$BPORT severity=critical)" \
    firing "the alert's labels"

# Fix the sink and reload: the route runs again and the alert clears.
write_conf accept
kill -HUP "$pid"
t_wait_for 20 sh -c "curl -sf http://127.0.0.1:$BPORT/routes | grep -q '\"state\": \"running\"'" || t_fail "route did not run again"
t_wait_for 20 sh -c "[ \"\$(python3 $PROM_API $PROM_URL alert MsgbridgeRouteStopped route=orders)\" = none ]" \
    || t_fail "MsgbridgeRouteStopped did not clear (state: $(prom_api alert MsgbridgeRouteStopped route=orders))"
t_assert_eq "$(prom_api value 'msgbridge_route_up{route="orders"}')" 1 "msgbridge_route_up after the reload"
t_stop "$pid"
t_log "ok: series arrived, $(tail -1 "$T_DIR/dashboard.out") in the dashboard, MsgbridgeRouteStopped fired on the stop and cleared on the reload"
