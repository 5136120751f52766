#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# Raw lines as a process: stdin (format = lines) -> file (format = lines) must reproduce the
# input byte for byte (binary bytes, CRLF, empty lines; a missing final newline is added), minus
# the one line longer than max_line_bytes, which is logged with its line number. Then lines
# read from a file and written as JSON envelopes to standard output (the debugging view).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

N=$(t_count 20000)
[ -x "$MSGBRIDGE" ] || t_skip "no msgbridge binary at $MSGBRIDGE"
"$MSGBRIDGE" --version | grep -q ' stdio' || t_skip "msgbridge built without the stdio adapter"

# Line i: text, a CRLF line, an empty line, bytes that are not UTF-8, tabs and quotes; line
# LONG is 300 bytes (max_line_bytes = 256) and must be skipped.
LONG=$((N / 3))
awk -v n="$N" -v long="$LONG" 'BEGIN {
    for (i = 1; i <= n; i++) {
        if (i == long) { s = ""; for (k = 0; k < 30; k++) s = s "0123456789"; print s; continue }
        m = i % 5
        if (m == 0) print "line " i
        else if (m == 1) printf "crlf %d\r\n", i
        else if (m == 2) print ""
        else if (m == 3) printf "bin \377\376\001 %d\n", i
        else printf "tab\t\"quoted\" \\ %d\n", i
    }
    printf "last line without newline"
}' >"$T_DIR/in.txt"
awk -v long="$LONG" 'NR != long { print }' "$T_DIR/in.txt" >"$T_DIR/expected.txt"

cat >"$T_DIR/lines.conf" <<CONF
bridge = { id = "lines-test"; stats_interval = 0; };
endpoints = (
  { name = "in"; type = "stdio"; format = "lines"; max_line_bytes = 256; },
  { name = "out"; type = "file"; path = "$T_DIR/out.txt"; format = "lines"; append = false;
    fsync = true; }
);
routes = ( { name = "raw"; from = { endpoint = "in"; }; to = { endpoint = "out"; }; } );
CONF

start=$(date +%s)
"$MSGBRIDGE" -c "$T_DIR/lines.conf" <"$T_DIR/in.txt" >"$T_DIR/lines.stdout" 2>"$T_DIR/lines.log" &
pid=$!
T_PIDS="$T_PIDS $pid"
want=$(wc -l <"$T_DIR/expected.txt")
done_lines() { [ -f "$T_DIR/out.txt" ] && [ "$(wc -l <"$T_DIR/out.txt")" -ge "$want" ]; }
t_wait_for 60 done_lines || t_fail "out.txt has $(wc -l <"$T_DIR/out.txt") of $want lines"
t_stop "$pid"
cmp "$T_DIR/out.txt" "$T_DIR/expected.txt" || t_fail "raw lines differ from the input"
grep -q "stdin:$LONG: line longer than max_line_bytes (256); line skipped (1 skipped so far)" \
    "$T_DIR/lines.log" || t_fail "the over-long line $LONG was not reported"
grep -q "stdin: end of input after $((N + 1)) lines (1 skipped)" "$T_DIR/lines.log" ||
    t_fail "no end-of-input line"
t_log "$want raw lines byte for byte in $(( $(date +%s) - start )) s"

# Five of those lines read from a file, shown as JSON envelopes on standard output.
head -n 5 "$T_DIR/expected.txt" >"$T_DIR/small.txt"
cat >"$T_DIR/json.conf" <<CONF
bridge = { id = "lines-json"; stats_interval = 0; };
endpoints = (
  { name = "txt"; type = "file"; path = "$T_DIR/small.txt"; format = "lines"; },
  { name = "screen"; type = "stdio"; }
);
routes = ( { name = "show"; from = { endpoint = "txt"; }; to = { endpoint = "screen"; };
             mapping = { provenance = false; }; } );
CONF
"$MSGBRIDGE" -c "$T_DIR/json.conf" >"$T_DIR/json.out" 2>"$T_DIR/json.log" </dev/null &
pid=$!
T_PIDS="$T_PIDS $pid"
done_json() { [ "$(wc -l <"$T_DIR/json.out")" -ge 5 ]; }
t_wait_for 30 done_json || t_fail "stdout has $(wc -l <"$T_DIR/json.out") of 5 lines"
t_stop "$pid"
# Each line's bytes as "body" (JSON-escaped text) or "body_base64" (not UTF-8).
o="\"origin\":{\"adapter\":\"file\",\"endpoint\":\"txt\",\"stream\":\"$T_DIR/small.txt\""
{
    printf '{"body":"crlf 1\\r",%s,"offset":1}}\n' "$o"
    printf '{"body":"",%s,"offset":2}}\n' "$o"
    printf '{"body_base64":"YmluIP/+ASAz",%s,"offset":3}}\n' "$o"
    printf '{"body":"tab\\t\\"quoted\\" \\\\ 4",%s,"offset":4}}\n' "$o"
    printf '{"body":"line 5",%s,"offset":5}}\n' "$o"
} >"$T_DIR/json.expected"
cmp "$T_DIR/json.out" "$T_DIR/json.expected" || {
    cat "$T_DIR/json.out"
    t_fail "JSON view of raw lines differs"
}
exit 0
