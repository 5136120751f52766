#!/bin/sh
# Kafka -> stdio (the JSON envelope view, docs/envelope-json.md) with a regex subscription:
# every record of the matching topics comes out as one JSON line with its body, key, headers
# (null header kept), timestamp and origin; a matching topic created while msgbridge runs is
# picked up; a topic that does not match is not read.
. "$(dirname "$0")/lib.sh"
t_need kafka
. "$(dirname "$0")/kafka_lib.sh"
"$MSGBRIDGE" -V 2>&1 | grep -qw stdio || t_skip "msgbridge built without the stdio adapter"

N=$(t_count 2000)
k_topic "$K_ID.in.a" 2
k_topic "$K_ID.in.b" 1
k_topic "$K_ID.other" 1
k_produce "$K_ID.in.a" "$N" 2 0
k_produce "$K_ID.in.b" "$N" 1 "$N"
k_produce "$K_ID.other" 10 1 0

re=$(echo "$K_ID" | sed 's/\./\\\\./g')
cat >"$T_DIR/bridge.conf" <<EOC
bridge = { id = "k2s"; };
endpoints = (
  { name = "k"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $K_PROPS ]; },
  { name = "screen"; type = "stdio"; format = "json"; }
);
routes = (
  { name = "view";
    from = { endpoint = "k"; topics = [ "^$re\\\\.in\\\\..*" ]; group = "$K_ID"; };
    to = { endpoint = "screen"; };
    mapping = { provenance = false; }; }
);
EOC
"$MSGBRIDGE" -c "$T_DIR/bridge.conf" >"$T_DIR/out.ndjson" 2>"$T_DIR/bridge.log" &
pid=$!
T_PIDS="$T_PIDS $pid"
lines() { [ "$(wc -l <"$T_DIR/out.ndjson")" -ge "$1" ]; }
t_wait_for 30 lines $((2 * N)) || t_fail "only $(wc -l <"$T_DIR/out.ndjson") of $((2 * N)) lines"

# A new topic that matches is picked up at the next metadata refresh.
k_topic "$K_ID.in.c" 1
k_produce "$K_ID.in.c" "$N" 1 $((2 * N))
t_wait_for 40 lines $((3 * N)) || t_fail "the new topic was not picked up: $(wc -l <"$T_DIR/out.ndjson") lines"
t_steady 1 30 wc -l "$T_DIR/out.ndjson" || t_fail "lines still arriving"
t_stop "$pid"

t_assert_eq "$(wc -l <"$T_DIR/out.ndjson")" $((3 * N)) "JSON lines written"
grep -q "\"stream\":\"$K_ID.other\"" "$T_DIR/out.ndjson" && t_fail "a topic that does not match was read"
# Record 7 (partition 1 of topic a, offset 3), field by field.
line=$(grep '"body":"value-7"' "$T_DIR/out.ndjson")
t_log "record 7: $line"
for want in '"key":"key-7"' \
    '"headers":[{"name":"seq","type":"bytes","value":"7"},{"name":"dup","type":"bytes","value":"first"},{"name":"empty","type":"bytes","value":""},{"name":"nullable","type":"null"},{"name":"dup","type":"bytes","value":"second"}]' \
    '"timestamp_ms":1600000000007' \
    "\"origin\":{\"adapter\":\"kafka\",\"endpoint\":\"k\",\"stream\":\"$K_ID.in.a\",\"partition\":1,\"offset\":3"; do
    case $line in *"$want"*) ;; *) t_fail "record 7 lacks $want" ;; esac
done
# Every record once, in order within each partition.
sed -n 's/.*"name":"seq","type":"bytes","value":"\([0-9]*\)".*"stream":"\([^"]*\)","partition":\([0-9]*\).*/\2 \3 \1/p' \
    "$T_DIR/out.ndjson" >"$T_DIR/seqs"
t_assert_eq "$(awk '{ print $3 }' "$T_DIR/seqs" | sort -u | wc -l)" $((3 * N)) "distinct records"
awk '{ k = $1 " " $2; if (k in last && $3 <= last[k]) { bad = 1 } last[k] = $3 } END { exit bad }' \
    "$T_DIR/seqs" || t_fail "records out of order within a partition"
t_log "ok: $((3 * N)) records as JSON lines, a new matching topic picked up"
