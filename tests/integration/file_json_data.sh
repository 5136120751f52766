#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# The stdio pipe on the files in tests/data/json, as a process:
#   normalize.in.ndjson  -> exactly normalize.out.ndjson (non-canonical input written back in
#                           canonical form; blank lines ignored; origin = stdin and line number)
#   malformed.ndjson     -> only its good lines come out, and standard error has exactly the
#                           "stdin:LINE: error" lines of malformed.errors
# and `msgbridge -t` on the stdio/file examples (valid) and on a config with bad file/stdio keys
# (every error, with its line).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

[ -x "$MSGBRIDGE" ] || t_skip "no msgbridge binary at $MSGBRIDGE"
"$MSGBRIDGE" --version | grep -q ' stdio' || t_skip "msgbridge built without the stdio adapter"
DATA="$top_srcdir/tests/data/json"

cat >"$T_DIR/pipe.conf" <<CONF
bridge = { id = "json-data"; stats_interval = 0; };
endpoints = ( { name = "in"; type = "stdio"; } );
routes = ( { name = "pipe"; from = { endpoint = "in"; }; to = { endpoint = "in"; };
             mapping = { provenance = false; }; } );
CONF

# pipe NAME INPUT LINES: run the stdio pipe on INPUT until LINES lines came out.
pipe() {
    "$MSGBRIDGE" -c "$T_DIR/pipe.conf" <"$2" >"$T_DIR/$1.out" 2>"$T_DIR/$1.log" &
    pid=$!
    T_PIDS="$T_PIDS $pid"
    enough() { [ "$(wc -l <"$T_DIR/$1.out")" -ge "$2" ]; }
    t_wait_for 30 enough "$1" "$3" || t_fail "$1: $(wc -l <"$T_DIR/$1.out") of $3 lines out"
    t_stop "$pid"
}

pipe normalize "$DATA/normalize.in.ndjson" "$(wc -l <"$DATA/normalize.out.ndjson")"
cmp "$T_DIR/normalize.out" "$DATA/normalize.out.ndjson" || {
    diff "$T_DIR/normalize.out" "$DATA/normalize.out.ndjson"
    t_fail "normalized output differs"
}

pipe malformed "$DATA/malformed.ndjson" 2
printf '{"body":"ok 1","origin":{"adapter":"stdio","endpoint":"in","stream":"stdin","offset":1}}\n{"body":"ok 10","origin":{"adapter":"stdio","endpoint":"in","stream":"stdin","offset":10}}\n' |
    cmp - "$T_DIR/malformed.out" || t_fail "good lines of malformed.ndjson differ"
sed -n 's/.*\] ([^)]*) \(stdin:[0-9]*: .*\); line skipped .*/\1/p' "$T_DIR/malformed.log" \
    >"$T_DIR/malformed.errors"
cmp "$T_DIR/malformed.errors" "$DATA/malformed.errors" || {
    diff "$T_DIR/malformed.errors" "$DATA/malformed.errors"
    t_fail "error lines differ"
}
grep -q "stdin: end of input after 10 lines (8 skipped)" "$T_DIR/malformed.log" ||
    t_fail "no end-of-input summary"

# -t on the examples that use these adapters.
n=0
for conf in "$top_srcdir"/examples/stdio-*.conf "$top_srcdir"/examples/file-*.conf; do
    [ -f "$conf" ] || continue
    "$MSGBRIDGE" -t -c "$conf" >"$T_DIR/t.out" 2>&1 || { cat "$T_DIR/t.out"; t_fail "-t $conf"; }
    grep -q "configuration $conf is valid" "$T_DIR/t.out" || t_fail "-t $conf: no verdict"
    n=$((n + 1))
done
[ "$n" -ge 4 ] || t_fail "only $n example configs found"

# -t on bad keys: every error, with its line; exit status 1.
cat >"$T_DIR/bad.conf" <<CONF
bridge = { id = "bad"; };
endpoints = (
  { name = "f"; type = "file"; format = "xml"; max_line_bytes = 0; },
  { name = "s"; type = "stdio"; follow = true; }
);
routes = ( { name = "r"; from = { endpoint = "s"; }; to = { endpoint = "f"; path = "x"; }; } );
CONF
"$MSGBRIDGE" -t -c "$T_DIR/bad.conf" >"$T_DIR/bad.out" 2>&1
rc=$?
t_assert_eq "$rc" 1 "exit status of -t on a bad config"
for want in \
    "bad.conf:3: endpoints\[0\]: missing required key \"path\"" \
    "bad.conf:3: endpoints\[0\].format: unknown format \"xml\" (valid: json, lines)" \
    "bad.conf:3: endpoints\[0\].max_line_bytes: must be between 1 and 1073741824, not 0" \
    "bad.conf:4: endpoints\[1\].follow: unknown key \"follow\"" \
    "bad.conf:6: routes\[0\].to.path: unknown key \"path\""; do
    grep -q "$want" "$T_DIR/bad.out" || { cat "$T_DIR/bad.out"; t_fail "missing diagnostic: $want"; }
done
t_log "normalize, malformed and $n example configs ok"
exit 0
