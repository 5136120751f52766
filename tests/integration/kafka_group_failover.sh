#!/bin/sh
# Scaling out: two msgbridge processes with the same route and group share the source's
# partitions (3 each). When one is SIGKILLed mid-stream, the other takes all 6 over after the
# session timeout and every record still arrives (0 missing; duplicates counted).
. "$(dirname "$0")/lib.sh"
t_need kafka
. "$(dirname "$0")/kafka_lib.sh"
. "$(dirname "$0")/kafka_group_lib.sh"

N=$(t_count 30000)
RATE=$((N / 10))
SRC=$K_ID.src
DST=$K_ID.dst
k_topic "$SRC" 6
k_topic "$DST" 6

for id in A B; do
    cat >"$T_DIR/$id.conf" <<EOC
bridge = { id = "$id"; };
endpoints = (
  { name = "k"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $K_PROPS, "auto.commit.interval.ms=1000" ]; }
);
routes = (
  { name = "share";
    from = { endpoint = "k"; topic = "$SRC"; group = "$K_ID"; $K_SRC_MOCK_GROUP };
    to = { endpoint = "k"; topic = "$DST"; partition = "\${partition}"; }; }
);
EOC
done
t_bridge A "$T_DIR/A.conf"
pid_a=$T_BRIDGE_PID
kg_wait_shares 20 share A=6
t_bridge B "$T_DIR/B.conf"
pid_b=$T_BRIDGE_PID
# Cooperative rebalancing: A gives up 3 partitions (logged "revoked 3") and B gets them.
kg_wait_shares 40 share A=3 B=3
t_log "A and B share the partitions: 3 each"

"$K_PRODUCER" "$BRG_TEST_KAFKA_BROKERS" "$SRC" "$N" 6 0 0 "$RATE" &
prod=$!
t_wait_for 20 k_more_than "$DST" $((N / 4)) || t_fail "nothing copied"
kill -KILL "$pid_a"
wait "$pid_a" 2>/dev/null
t_log "A killed at $(k_count "$DST") records"
kg_wait_shares 30 share B=6
wait $prod || t_fail "producer failed"
k_wait_count "$DST" "$N" 40 || t_fail "only $(k_count "$DST") of $N records"
t_steady 1 30 k_count "$DST" || t_fail "records still arriving at $DST"
t_stop "$pid_b"
k_check_complete "$DST" 0 "$N"
t_assert_eq "$K_MISSING" 0 "records missing after one of two bridges was killed"
# Both bridges carried records (the provenance header names the bridge).
kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$DST" -o beginning -e -q -f '%h\n' |
    sed -n 's/.*x-msgbridge-path=\([AB]\)\/share.*/\1/p' | sort | uniq -c >"$T_DIR/by_bridge"
by_a=$(awk '$2 == "A" { print $1 }' "$T_DIR/by_bridge")
by_b=$(awk '$2 == "B" { print $1 }' "$T_DIR/by_bridge")
[ "${by_a:-0}" -gt 0 ] && [ "${by_b:-0}" -gt 0 ] || t_fail "not both bridges carried records: $(cat "$T_DIR/by_bridge")"
t_log "ok: A carried $by_a, B carried $by_b records; 0 missing, $K_DUPS duplicates after SIGKILL of A"
