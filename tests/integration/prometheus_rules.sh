#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# contrib/prometheus: the rules load (`promtool check rules`) and their unit tests pass
# (`promtool test rules`: synthetic series that make each alert fire and not fire). Every alert
# in the rules file has at least one test that expects it to fire. And the Grafana dashboard is
# the output of its generator.
. "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || t_skip "promtool not installed (Debian package prometheus; scripts/deps.sh installs it)"
dir=$top_srcdir/contrib/prometheus
promtool check rules "$dir/msgbridge.rules.yml" >"$T_DIR/check.log" 2>&1 || { cat "$T_DIR/check.log"; t_fail "promtool check rules"; }
grep -q "SUCCESS: 10 rules found" "$T_DIR/check.log" || t_fail "expected 10 rules: $(cat "$T_DIR/check.log")"
promtool test rules "$dir/msgbridge.rules.test.yml" >"$T_DIR/test.log" 2>&1 || { cat "$T_DIR/test.log"; t_fail "promtool test rules"; }
# Each alert has a test that expects it to fire (an exp_labels block under its name).
for a in $(sed -n 's/^ *- alert: //p' "$dir/msgbridge.rules.yml"); do
    awk -v a="$a" '/alertname: / { cur = $2 } /exp_labels:/ && cur == a { found = 1 } END { exit !found }' \
        "$dir/msgbridge.rules.test.yml" || t_fail "no test makes $a fire"
done
# The committed Grafana dashboard is what its generator writes (edits go to the generator).
cp "$top_srcdir/contrib/grafana/dashboard.py" "$T_DIR/"
python3 "$T_DIR/dashboard.py" || t_fail "contrib/grafana/dashboard.py failed"
cmp -s "$T_DIR/msgbridge.json" "$top_srcdir/contrib/grafana/msgbridge.json" ||
    t_fail "contrib/grafana/msgbridge.json differs from what dashboard.py writes: run it"
t_log "ok: 10 rules load, unit tests pass, every alert has a firing test; the dashboard is generated"
