#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# A Kafka sink the broker refuses (TOPIC_AUTHORIZATION_FAILED on Produce, injected in the mock
# cluster) parks its route: /readyz 503, /routes "parked" with the broker's reason, nothing
# committed past the refused records; when the broker accepts again the route resumes by itself
# and every record arrives (0 missing), in order per partition. Private cluster.
. "$(dirname "$0")/lib.sh"
t_need kafka
. "$(dirname "$0")/kafka_lib.sh"
command -v curl >/dev/null || t_skip "curl not installed"
k_private_cluster 39420 1

N=$(t_count 500)
SRC=park.src
DST=park.dst
k_topic "$SRC" 1
k_topic "$DST" 1
k_produce "$SRC" "$N" 1 0
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT

cat >"$T_DIR/bridge.conf" <<EOC
bridge = { id = "kpark"; metrics = "127.0.0.1:$PORT"; };
endpoints = (
  { name = "k"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $K_PROPS ]; }
);
routes = (
  { name = "copy"; park_retry_min = 0.2; park_retry_max = 1;
    from = { endpoint = "k"; topic = "$SRC"; group = "kpark"; };
    to = { endpoint = "k"; topic = "$DST"; }; }
);
EOC
# Enough refusals for the first publishes and probes over more than 2 s (the Kafka source
# pauses its partitions after 2 s without credit and must resume them for a probe).
k_ctl error Produce TOPIC_AUTHORIZATION_FAILED 10
t_bridge bridge "$T_DIR/bridge.conf"
t_wait_for 20 grep -q 'route "copy" parked: kafka: topic "park.dst"' "$T_DIR/bridge.log" ||
    t_fail "the route did not park: $(tail -5 "$T_DIR/bridge.log")"
grep 'route "copy" parked' "$T_DIR/bridge.log" | grep -q -i 'authoriz' ||
    t_fail "park reason: $(grep parked "$T_DIR/bridge.log")"
k_wait_count "$DST" "$N" 60 || t_fail "only $(k_count "$DST") of $N records after the broker accepted again"
t_wait_for 10 grep -q 'route "copy" resumed after' "$T_DIR/bridge.log" ||
    t_fail "no resume line: $(tail -3 "$T_DIR/bridge.log")"
parked_s=$(sed -n 's/.*route "copy" resumed after \([0-9]*\) s parked.*/\1/p' "$T_DIR/bridge.log" | head -1)
[ "${parked_s:-0}" -ge 3 ] || t_fail "parked only ${parked_s:-?} s: the backpressure pause was not exercised"
t_log "parked for $parked_s s"
t_wait_for 10 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $URL/readyz)\" = 200 ]" ||
    t_fail "/readyz after: $(curl -s "$URL/readyz")"
curl -s "$URL/metrics" | grep -q '^msgbridge_route_parks_total{route="copy"} [1-9]' ||
    t_fail "metrics: $(curl -s "$URL/metrics" | grep park)"
t_stop "$T_BRIDGE_PID"
k_check_complete "$DST" 0 "$N"
t_assert_eq "$K_MISSING" 0 "records missing"
k_seqs "$DST" "$T_DIR/order"
# One partition: the first copy of each record comes in source order.
awk '!seen[$1]++' "$T_DIR/order" >"$T_DIR/first"
seq 0 $((N - 1)) >"$T_DIR/want"
cmp -s "$T_DIR/first" "$T_DIR/want" || t_fail "records out of order: $(diff "$T_DIR/want" "$T_DIR/first" | head -5)"
t_log "ok: $N records, 0 missing, $K_DUPS duplicates"
