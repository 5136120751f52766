#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# Logs and counters, without brokers (memory endpoints):
#  - bridge.log.format = "json": every line is one JSON object with ts, level and msg;
#  - a summary line per route every bridge.stats_interval, with rates that match the route's
#    rate limit, and one on SIGUSR1;
#  - secrets (${env.X} and NAME_file) appear nowhere: not in the log, not in `-t` output,
#    not in /routes or /metrics;
#  - /metrics counters match exactly what the route moved;
#  - level = "warn" keeps INFO lines out.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x $PY ] || PY=python3

SECRET1=hunter2-env-$$
SECRET2=swordfish-file-$$
printf '%s\n' "$SECRET2" >"$T_DIR/token"
port=$((19300 + $$ % 100))
cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "logs"; log = { level = "info"; format = "json"; }; stats_interval = 1;
           metrics = "127.0.0.1:$port"; };
endpoints = (
  { name = "gen"; type = "memory"; token = "\${env.LOG_TEST_SECRET}"; },
  { name = "sink"; type = "memory"; token_file = "$T_DIR/token"; }
);
routes = ( { name = "paced";
  from = { endpoint = "gen"; count = 2000; body_size = 50; };
  to = { endpoint = "sink"; };
  rate = { messages_per_second = 500; }; } );
EOT
export LOG_TEST_SECRET="$SECRET1"
"$MSGBRIDGE" -t -c "$T_DIR/bridge.conf" >"$T_DIR/check.out" 2>&1 || t_fail "config: $(cat "$T_DIR/check.out")"
t_bridge bridge "$T_DIR/bridge.conf"
t_wait_for 10 curl -sf "http://127.0.0.1:$port/healthz" || t_fail "no /healthz"
# SIGUSR1 mid-run, once two periodic summaries show the route running at its pace.
t_wait_for 10 t_log_more "$T_DIR/bridge.log" '"route paced: state=running' 1 ||
    t_fail "no periodic summary: $(tail -3 "$T_DIR/bridge.log")"
kill -USR1 "$T_BRIDGE_PID"
# 2000 messages at 500/s: done after about 4 s.
done_moving() { curl -s "http://127.0.0.1:$port/metrics" | grep -q '^msgbridge_route_messages_out_total{route="paced"} 2000$'; }
t_wait_for 20 done_moving || t_fail "the route did not move its 2000 messages"
curl -s "http://127.0.0.1:$port/metrics" >"$T_DIR/metrics.txt"
curl -s "http://127.0.0.1:$port/routes" >"$T_DIR/routes.json"
t_stop "$T_BRIDGE_PID"

# Every line is a JSON object with ts, level, msg.
$PY - "$T_DIR/bridge.log" <<'PYEOF' || t_fail "log is not JSON lines: $(head -3 "$T_DIR/bridge.log")"
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(line)
    assert {"ts", "level", "msg"} <= set(o), line
    assert o["level"] in ("DEBUG", "INFO", "WARN", "ERROR"), line
    n += 1
assert n >= 5, n
PYEOF

# Summary lines: one per second while running plus one for SIGUSR1, rates near 500/s.
grep '"route paced: state=running' "$T_DIR/bridge.log" >"$T_DIR/summaries"
[ "$(wc -l <"$T_DIR/summaries")" -ge 3 ] || t_fail "too few summary lines: $(cat "$T_DIR/summaries")"
rate=$(sed -n 's/.*in=\([0-9]*\) .* in_rate=\([0-9.]*\)\/s.*/\1 \2/p' "$T_DIR/summaries" | awk '$1 > 0 && $1 < 2000 {print int($2); exit}')
[ -n "$rate" ] && [ "$rate" -ge 300 ] && [ "$rate" -le 700 ] ||
    t_fail "summary rate should be near the 500/s limit, got '$rate': $(head -2 "$T_DIR/summaries")"

# No secret anywhere.
for f in "$T_DIR/bridge.log" "$T_DIR/check.out" "$T_DIR/metrics.txt" "$T_DIR/routes.json"; do
    grep -q -e "$SECRET1" -e "$SECRET2" "$f" && t_fail "a secret leaked into $(basename "$f")"
done
grep -q '\*\*\*' "$T_DIR/check.out" || t_fail "-t output should show secrets as ***: $(cat "$T_DIR/check.out")"

# Counters match what moved: 2000 messages of 50 bytes, all accepted.
m() { sed -n "s/^$1 \([0-9]*\)$/\1/p" "$T_DIR/metrics.txt"; }
t_assert_eq "$(m 'msgbridge_route_messages_in_total{route="paced"}')" 2000 "messages in"
t_assert_eq "$(m 'msgbridge_route_bytes_in_total{route="paced"}')" 100000 "bytes in"
t_assert_eq "$(m 'msgbridge_route_bytes_out_total{route="paced"}')" 100000 "bytes out"
t_assert_eq "$(m 'msgbridge_route_settled_total{route="paced",outcome="accepted"}')" 2000 "accepted"
t_assert_eq "$(m 'msgbridge_route_settled_total{route="paced",outcome="retry"}')" 0 "retried"
t_assert_eq "$(m 'msgbridge_route_latency_seconds_count{route="paced"}')" 2000 "latency count"
t_assert_eq "$(m 'msgbridge_route_in_flight_messages{route="paced"}')" 0 "in flight"
grep -q '"name": "paced", "state": "running"' "$T_DIR/routes.json" || t_fail "/routes: $(cat "$T_DIR/routes.json")"
grep -q '"source_error": null' "$T_DIR/routes.json" || t_fail "/routes has no source_error"

# level = "warn": no INFO lines (text format).
sed -e 's/level = "info"; format = "json";/level = "warn";/' -e 's/count = 2000/count = 10/' \
    -e "s/$port/$((port + 100))/" "$T_DIR/bridge.conf" >"$T_DIR/warn.conf"
t_bridge quiet "$T_DIR/warn.conf"
quiet_done() { curl -s "http://127.0.0.1:$((port + 100))/metrics" | grep -q '^msgbridge_route_messages_out_total{route="paced"} 10$'; }
t_wait_for 10 quiet_done || t_fail "the quiet bridge did not move its 10 messages"
t_stop "$T_BRIDGE_PID"
grep -q ' INFO ' "$T_DIR/quiet.log" && t_fail "INFO lines at level warn: $(head -2 "$T_DIR/quiet.log")"
t_log "ok"
