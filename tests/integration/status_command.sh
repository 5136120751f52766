#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# `msgbridge status` against a running bridge (memory routes): one line per route with its state,
# in/out rates (a route limited to 1000 msg/s shows about 1000), dead letters and last error
# (a stopped route shows why); --json gives the same for scripts; the URL comes from the
# configuration's bridge.metrics by default; an unreachable bridge is exit 1 with the reason;
# --watch refreshes in place in a terminal (tmux) and ends on Ctrl-C with status 0.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || t_skip "curl not installed"
command -v python3 >/dev/null || t_skip "python3 not installed"
"$MSGBRIDGE" status -h >/dev/null 2>&1 || t_skip "msgbridge built without the status command (libcurl, jansson)"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
conf=$T_DIR/bridge.conf
cat >"$conf" <<EOC
bridge = { id = "status"; stats_interval = 0; metrics = "127.0.0.1:$PORT"; };
endpoints = (
  { name = "g1"; type = "memory"; record = false; }, { name = "s1"; type = "memory"; record = false; },
  { name = "g2"; type = "memory"; record = false; }, { name = "s2"; type = "memory"; outcome = "reject"; },
  { name = "g3"; type = "memory"; record = false; }, { name = "s3"; type = "memory"; outcome = "reject"; },
  { name = "dl"; type = "memory"; record = false; }
);
routes = (
  { name = "steady"; from = { endpoint = "g1"; count = 100000000; }; to = { endpoint = "s1"; };
    rate = { messages_per_second = 1000; }; },
  { name = "broken"; from = { endpoint = "g2"; count = 10; }; to = { endpoint = "s2"; }; },
  { name = "poison"; from = { endpoint = "g3"; count = 7; }; to = { endpoint = "s3"; };
    dead_letter = { endpoint = "dl"; }; }
);
EOC
t_bridge status "$conf"
t_wait_for 10 curl -sf "http://127.0.0.1:$PORT/healthz" || t_fail "bridge did not start"
t_wait_for 10 sh -c "curl -sf http://127.0.0.1:$PORT/routes | grep -q '\"dead_lettered\": 7'" || t_fail "poison did not dead-letter its 7"

# The table, URL from the configuration file; rates over a 2 s interval.
"$MSGBRIDGE" status -c "$conf" -i 2 >"$T_DIR/table" 2>"$T_DIR/table.err" || t_fail "status failed: $(cat "$T_DIR/table.err")"
cat "$T_DIR/table"
head -1 "$T_DIR/table" | grep -q "^msgbridge [0-9.]* at http://127.0.0.1:$PORT, up 0d 00:00:[0-9][0-9], 3 routes$" || t_fail "header: $(head -1 "$T_DIR/table")"
t_assert_eq "$(sed -n 2p "$T_DIR/table" | tr -s ' ')" "ROUTE STATE IN/s OUT/s IN_FLIGHT LAG DEAD LAST ERROR" "column titles"
t_assert_eq "$(wc -l <"$T_DIR/table")" 5 "lines (header, titles, one per route)"
set -- $(grep '^steady ' "$T_DIR/table")
t_assert_eq "$2" running "steady's state"
# 1000 msg/s by the route's rate limit; the two samples are about 2 s apart.
awk -v i="$3" -v o="$4" 'BEGIN { exit !(i >= 850 && i <= 1150 && o >= 850 && o <= 1150) }' || t_fail "steady's rates: in $3 out $4"
t_assert_eq "$(grep '^broken ' "$T_DIR/table" | tr -s ' ')" "broken stopped 0.0 0.0 0 0 0 memory sink: scripted reject" "broken's line"
t_assert_eq "$(grep '^poison ' "$T_DIR/table" | tr -s ' ')" "poison running 0.0 0.0 0 0 7 -" "poison's line"

# JSON, with --url as bridge.metrics spells it.
"$MSGBRIDGE" status --url "127.0.0.1:$PORT" --json -i 1 >"$T_DIR/json" || t_fail "status --json failed"
python3 - "$T_DIR/json" "$PORT" <<'EOP' || t_fail "JSON: $(cat "$T_DIR/json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d['url'] == 'http://127.0.0.1:' + sys.argv[2], d['url']
r = {x['name']: x for x in d['routes']}
assert list(r) == ['steady', 'broken', 'poison'], list(r)
assert r['steady']['state'] == 'running' and 800 <= r['steady']['in_per_second'] <= 1200, r['steady']
assert r['broken'] == {'name': 'broken', 'state': 'stopped', 'stalled': False, 'in_per_second': 0.0,
                       'out_per_second': 0.0, 'in_flight': 0, 'lag': 0, 'dead_letters': 0,
                       'last_error': 'memory sink: scripted reject'}, r['broken']
assert r['poison']['dead_letters'] == 7 and r['poison']['last_error'] is None, r['poison']
EOP

# No bridge there: exit 1 and why.
DEAD=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$MSGBRIDGE" status --url "http://127.0.0.1:$DEAD" >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
t_assert_eq "$rc" 1 "exit status without a bridge"
t_assert_eq "$(cat "$T_DIR/err")" "msgbridge status: cannot read http://127.0.0.1:$DEAD/routes: Couldn't connect to server" "error without a bridge"
"$MSGBRIDGE" status -c "$T_DIR/none.conf" 2>"$T_DIR/err"; rc=$?
t_assert_eq "$rc:$(cat "$T_DIR/err")" "1:msgbridge status: cannot read $T_DIR/none.conf: pass --url, or -c with the bridge's configuration" "missing configuration"
"$MSGBRIDGE" status --interval 0 2>"$T_DIR/err"; rc=$?
t_assert_eq "$rc:$(cat "$T_DIR/err")" "2:msgbridge status: --interval \"0\": seconds from 0.1 to 3600" "bad interval"

# --watch in a terminal: the view refreshes in place (the uptime moves on) and Ctrl-C ends it.
if command -v tmux >/dev/null; then
    sess=brg-status-$$
    sock=$T_DIR/tmux.sock
    tmux -S "$sock" new-session -d -s "$sess" -x 160 -y 20 \
        "'$MSGBRIDGE' status -c '$conf' --watch -i 0.5; echo \"exit=\$?\"; sleep 30"
    pane() { tmux -S "$sock" capture-pane -p -t "$sess"; }
    t_wait_for 10 sh -c "tmux -S '$sock' capture-pane -p -t '$sess' | grep -q '^steady  *running'" || t_fail "--watch shows no table: $(pane)"
    first=$(pane | head -1)
    t_wait_for 5 sh -c "[ \"\$(tmux -S '$sock' capture-pane -p -t '$sess' | head -1)\" != '$first' ]" || t_fail "--watch did not refresh: $(pane)"
    # In place: one table on the screen, not one below the other.
    t_assert_eq "$(pane | grep -c '^ROUTE ')" 1 "tables on the screen"
    tmux -S "$sock" send-keys -t "$sess" C-c
    t_wait_for 5 sh -c "tmux -S '$sock' capture-pane -p -t '$sess' | grep -q 'exit=0$'" || t_fail "--watch did not end with 0 on Ctrl-C: $(pane)"
    tmux -S "$sock" kill-server
    # Watching a bridge that is not there (yet): it says why, in place, and keeps trying.
    sock=$T_DIR/tmux2.sock
    tmux -S "$sock" new-session -d -s "$sess" -x 160 -y 20 \
        "'$MSGBRIDGE' status --url 127.0.0.1:$DEAD --watch -i 0.3; echo \"exit=\$?\"; sleep 30"
    t_wait_for 10 sh -c "tmux -S '$sock' capture-pane -p -t '$sess' | grep -q '^msgbridge status: cannot read http://127.0.0.1:$DEAD/routes: Couldn'" \
        || t_fail "--watch without a bridge: $(pane)"
    t_assert_eq "$(pane | grep -c 'cannot read')" 1 "error lines on the screen"
    tmux -S "$sock" send-keys -t "$sess" C-c
    t_wait_for 5 sh -c "tmux -S '$sock' capture-pane -p -t '$sess' | grep -q 'exit=0$'" || t_fail "--watch without a bridge did not end on Ctrl-C: $(pane)"
    tmux -S "$sock" kill-server
else
    t_log "tmux not installed: --watch not checked"
fi
t_stop "$T_BRIDGE_PID"
t_log "ok"
