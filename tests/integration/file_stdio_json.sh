#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# A stdio -> file route run as a process: N JSON envelopes (headers of every type, binary and
# text bodies, absent/empty/binary keys, properties, foreign origins) piped into msgbridge, and
# the output file compared byte for byte with the expected output, written here independently
# of the codec. A few malformed lines must be skipped with "stdin:LINE: error" in the log.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

N=$(t_count 10000)
[ -x "$MSGBRIDGE" ] || t_skip "no msgbridge binary at $MSGBRIDGE"
"$MSGBRIDGE" --version | grep -q ' stdio' || t_skip "msgbridge built without the stdio adapter"

# gen MODE: MODE=in writes the input lines, MODE=out the expected output. Input lines 1..N are
# canonical envelopes (some with an origin from elsewhere, which the source replaces); three
# malformed lines and one blank line are mixed in and must not reach the output. The expected
# origin's offset is the input line number.
gen() {
    awk -v n="$N" -v mode="$1" '
    function hdrs(i,   h) {
        h = "{\"name\":\"s\",\"type\":\"string\",\"value\":\"v" i " caf\303\251 \\\"q\\\"\\n\\t\"}"
        h = h ",{\"name\":\"b\",\"type\":\"bytes\",\"value_base64\":\"AP8A\"}"
        h = h ",{\"name\":\"bt\",\"type\":\"bytes\",\"value\":\"text-bytes\"}"
        h = h ",{\"name\":\"i8\",\"type\":\"int\",\"width\":8,\"value\":" (i % 129 ? "-" (i % 129) : "0") "}"
        h = h ",{\"name\":\"i16\",\"type\":\"int\",\"width\":16,\"value\":" (i % 32768) "}"
        h = h ",{\"name\":\"i32\",\"type\":\"int\",\"width\":32,\"value\":-2147483648}"
        h = h ",{\"name\":\"i64\",\"type\":\"int\",\"value\":" sprintf("%.0f", i * 1000003) "}"
        h = h ",{\"name\":\"u8\",\"type\":\"uint\",\"width\":8,\"value\":" (i % 256) "}"
        h = h ",{\"name\":\"u32\",\"type\":\"uint\",\"width\":32,\"value\":4294967295}"
        h = h ",{\"name\":\"u64\",\"type\":\"uint\",\"value\":\"18446744073709551615\"}"
        h = h ",{\"name\":\"f32\",\"type\":\"float\",\"width\":32,\"value\":1.5}"
        h = h ",{\"name\":\"f64\",\"type\":\"float\",\"value\":" i ".25}"
        h = h ",{\"name\":\"nan\",\"type\":\"float\",\"value\":\"NaN\"}"
        h = h ",{\"name\":\"inf\",\"type\":\"float\",\"value\":\"-Infinity\"}"
        h = h ",{\"name\":\"t\",\"type\":\"bool\",\"value\":" (i % 2 ? "true" : "false") "}"
        h = h ",{\"name\":\"n\",\"type\":\"null\"}"
        h = h ",{\"name\":\"ts\",\"type\":\"timestamp\",\"value\":" sprintf("1700000%06d", i) "}"
        h = h ",{\"name\":\"d\",\"type\":\"decimal\",\"scale\":2,\"value\":-" i "}"
        h = h ",{\"name\":\"sym\",\"type\":\"symbol\",\"value\":\"amqp:x\"}"
        h = h ",{\"name\":\"id\",\"type\":\"uuid\",\"value\":\"123e4567-e89b-12d3-a456-4266141740" sprintf("%02x", i % 256) "\"}"
        h = h ",{\"name_base64\":\"/w==\",\"type\":\"string\",\"value\":\"binary name\"}"
        h = h ",{\"name\":\"dup\",\"type\":\"string\",\"value\":\"1\"}"
        h = h ",{\"name\":\"dup\",\"type\":\"string\",\"value_base64\":\"gA==\"}"
        h = h ",{\"name\":\"tbl\",\"type\":\"table\",\"value\":[{\"name\":\"a\",\"type\":\"array\",\"value\":[{\"type\":\"int\",\"width\":16,\"value\":7},{\"type\":\"table\",\"value\":[]},{\"type\":\"bytes\",\"value_base64\":\"3q2+7w==\"}]},{\"name\":\"x-death\",\"type\":\"uint\",\"value\":" i "}]}"
        return h
    }
    function body(i) {
        if (i % 4 == 0) return "\"body_base64\":\"" b64[i % 3] "\""
        if (i % 4 == 1) return "\"body\":\"message " i "\""
        if (i % 4 == 2) return "\"body\":\"line\\nbreak \\\"quoted\\\" \\\\ \303\251 \342\202\254 \360\237\230\200 /" i "\""
        return "\"body\":\"\""
    }
    function key(i) {
        if (i % 5 == 0) return ""
        if (i % 5 == 1) return ",\"key\":\"k" i "\""
        if (i % 5 == 2) return ",\"key\":\"\""
        if (i % 5 == 3) return ",\"key_base64\":\"AP8=\""
        return ",\"key\":\"customer-" (i % 17) "\""
    }
    function props(i) {
        if (i % 2 == 0) return ""
        return ",\"properties\":{\"message_id\":\"m" i "\",\"content_type\":\"application/octet-stream\",\"priority\":" (i % 10) ",\"durable\":" (i % 3 ? "true" : "false") ",\"ttl_ms\":60000,\"timestamp_ms\":" sprintf("1700000%06d", i) "}"
    }
    BEGIN {
        b64[0] = "AAEC/w=="; b64[1] = "//79/A=="; b64[2] = "gICAgICAgICA"
        line = 0
        for (i = 1; i <= n; i++) {
            if (i == 2 || i == n / 2 || i == n) {
                # malformed lines (skipped), and a blank one (ignored)
                line++
                if (mode == "in") {
                    if (i == 2) print "{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"int\",\"value\":\"1\"}]}"
                    else if (i == n) print "{\"body\":\"truncated"
                    else print "{\"body_base64\":\"not base64!\"}"
                }
                line++
                if (mode == "in") print ""
            }
            line++
            e = "{" body(i) key(i) ",\"headers\":[" hdrs(i) "]" props(i)
            if (mode == "in") {
                if (i % 7 == 0) e = e ",\"origin\":{\"adapter\":\"kafka\",\"endpoint\":\"east\",\"stream\":\"orders\",\"partition\":3,\"offset\":" i ",\"redelivered\":true}"
                print e "}"
            } else {
                print e ",\"origin\":{\"adapter\":\"stdio\",\"endpoint\":\"in\",\"stream\":\"stdin\",\"offset\":" line "}}"
            }
        }
    }'
}

gen in >"$T_DIR/in.ndjson"
gen out >"$T_DIR/expected.ndjson"
[ "$(wc -l <"$T_DIR/expected.ndjson")" -eq "$N" ] || t_fail "generator wrote the wrong count"

cat >"$T_DIR/bridge.conf" <<EOF
bridge = { id = "file-test"; stats_interval = 0; };
endpoints = (
  { name = "in"; type = "stdio"; },
  { name = "out"; type = "file"; path = "$T_DIR/out.ndjson"; append = false; }
);
routes = (
  { name = "copy"; from = { endpoint = "in"; }; to = { endpoint = "out"; };
    mapping = { provenance = false; }; }
);
EOF

start=$(date +%s)
# Through a real pipe (the pollable stdin path), not a redirected file.
cat "$T_DIR/in.ndjson" | "$MSGBRIDGE" -c "$T_DIR/bridge.conf" >"$T_DIR/stdout" 2>"$T_DIR/bridge.log" &
pid=$!
T_PIDS="$T_PIDS $pid"
lines() { [ -f "$T_DIR/out.ndjson" ] && [ "$(wc -l <"$T_DIR/out.ndjson")" -ge "$N" ]; }
t_wait_for 60 lines || t_fail "output has $(wc -l <"$T_DIR/out.ndjson" 2>/dev/null) of $N lines after 60 s"
# stdin is at EOF but the bridge keeps running (the source is idle): SIGTERM must exit 0.
kill -0 "$pid" 2>/dev/null || t_fail "msgbridge exited at end of input"
t_stop "$pid"
t_log "$N envelopes in $(( $(date +%s) - start )) s"

cmp "$T_DIR/out.ndjson" "$T_DIR/expected.ndjson" || {
    diff "$T_DIR/out.ndjson" "$T_DIR/expected.ndjson" | head -5
    t_fail "output differs from the expected output"
}
[ -s "$T_DIR/stdout" ] && t_fail "a file sink wrote to standard output"

# Each malformed line is reported with its line number, and counted.
half=$((N / 2))
l2=2; lh=$((half + 2)); ln=$((N + 4))
grep -q "WARN  \[stdio:in\] (.*bridge.conf:3) stdin:$l2: headers\[0\]\.value: expected an integer for type \"int\", got a string; line skipped (1 skipped so far)" "$T_DIR/bridge.log" ||
    t_fail "no error for line $l2 in the log"
grep -q "stdin:$lh: body_base64: bad base64: length 11 is not a multiple of 4; line skipped (2 skipped so far)" "$T_DIR/bridge.log" ||
    t_fail "no error for line $lh in the log"
grep -q "stdin:$ln: invalid JSON at column 18: premature end of input near '\"truncated'; line skipped (3 skipped so far)" "$T_DIR/bridge.log" ||
    t_fail "no error for line $ln in the log"
grep -q "stdin: end of input after $((N + 6)) lines (3 skipped); the source stays idle" "$T_DIR/bridge.log" ||
    t_fail "no end-of-input line in the log"
exit 0
