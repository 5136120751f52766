#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# msgbridge-audit end to end through the file adapter: numbered messages written to a file and
# read back by a following file source. Nothing missing -> exit 0; a route that drops some
# (a filter) -> exit 1 with the exact missing count and the first missing numbers.
. "$(dirname "$0")/lib.sh"
AUDIT=${MSGBRIDGE%/msgbridge}/msgbridge-audit
[ -x "$AUDIT" ] || t_skip "msgbridge-audit not built"
"$MSGBRIDGE" --version | grep -q ' file' || t_skip "file adapter not built"
N=$(t_count 20000)

write_conf() {  # write_conf FILE EXTRA_PRODUCE_MAPPING
    cat >"$1" <<EOC
bridge = { id = "audit"; stats_interval = 0; };
endpoints = (
  { name = "gen"; type = "audit"; },
  { name = "check"; type = "audit"; },
  { name = "sink"; type = "file"; path = "$2"; },
  { name = "tail"; type = "file"; path = "$2"; follow = true; }
);
routes = (
  { name = "produce"; from = { endpoint = "gen"; }; to = { endpoint = "sink"; };
    mapping = { provenance = false; $3 }; },
  { name = "consume"; from = { endpoint = "tail"; }; to = { endpoint = "check"; };
    mapping = { provenance = false; }; }
);
EOC
}

write_conf "$T_DIR/ok.conf" "$T_DIR/ok.ndjson" ""
"$AUDIT" -c "$T_DIR/ok.conf" -n "$N" -t 10 -j "$T_DIR/ok.json" >"$T_DIR/ok.out" 2>"$T_DIR/ok.err"
rc=$?
cat "$T_DIR/ok.out"
[ $rc = 0 ] || t_fail "audit exit $rc: $(cat "$T_DIR/ok.err" | tail -5)"
grep -q "sent $N, received $N, missing 0, duplicates 0, reordered 0, foreign 0" "$T_DIR/ok.out" || t_fail "report"
grep -q "\"missing\": 0" "$T_DIR/ok.json" || t_fail "json report"

# A route that filters out every message whose number ends in 7: a tenth is missing.
write_conf "$T_DIR/lossy.conf" "$T_DIR/lossy.ndjson" "where = \"not header.x-audit-seq ~ '7\$'\";"
"$AUDIT" -c "$T_DIR/lossy.conf" -n 1000 -t 2 >"$T_DIR/lossy.out" 2>"$T_DIR/lossy.err"
rc=$?
cat "$T_DIR/lossy.out"
t_assert_eq "$rc" 1 "exit status with messages missing"
grep -q "sent 1000, received 900, missing 100," "$T_DIR/lossy.out" || t_fail "lossy report"
grep -q "first missing: 7 17 27 37 47 57 67 77 87 97" "$T_DIR/lossy.out" || t_fail "first missing"

# Without provenance = false the audit refuses to run (it would be dropped by loop prevention).
sed 's/provenance = false; //' "$T_DIR/ok.conf" >"$T_DIR/bad.conf"
"$AUDIT" -c "$T_DIR/bad.conf" -n 10 >/dev/null 2>"$T_DIR/bad.err"
t_assert_eq "$?" 2 "exit status for a config without provenance = false"
grep -q 'needs routes "produce" and "consume"' "$T_DIR/bad.err" || t_fail "refusal message"
t_log ok
