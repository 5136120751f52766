#!/bin/sh
# lane: alone (scripts/test.sh, tests/lane.sh)
# Scaling out, and one process killed: three msgbridge processes run the same two routes from a
# 12-partition topic, one to Kafka and one to a RabbitMQ queue, each route's three consumers in
# one group (cooperative rebalancing, the default). Records are produced at a steady rate and
# process A is SIGKILLed mid-stream. Checked, per route, by record number: every record arrives;
# each process carried records; the survivors gave up no partition (they only took A's over);
# and the duplicates are at most what A could not commit: its in-flight window (max_in_flight)
# plus one commit interval of its own traffic (a third of the rate), with 250 ms for the commit
# to travel.
. "$(dirname "$0")/lib.sh"
t_need kafka
t_need rabbitmq
. "$(dirname "$0")/kafka_lib.sh"
. "$(dirname "$0")/kafka_group_lib.sh"
. "$(dirname "$0")/rabbitmq_lib.sh"

N=$(t_count 36000)
RATE=$((N / 12)) # 12 s of traffic, 1/3 of it through each process
MIF=1000
COMMIT_MS=1000
BOUND=$((MIF + RATE / 3 * (COMMIT_MS + 250) / 1000))
SRC=$K_ID.src
DST=$K_ID.dst
Q=kg.scale.$$
k_topic "$SRC" 12
k_topic "$DST" 12
rmq_fresh "$Q"

for id in A B C; do
    cat >"$T_DIR/$id.conf" <<EOC
bridge = { id = "$id"; };
endpoints = (
  { name = "k"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $KG_PROPS, "auto.commit.interval.ms=$COMMIT_MS" ]; },
  { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; }
);
routes = (
  { name = "k2k"; max_in_flight = $MIF;
    from = { endpoint = "k"; topic = "$SRC"; group = "$K_ID.k2k"; $K_SRC_MOCK_GROUP };
    to = { endpoint = "k"; topic = "$DST"; partition = "\${partition}"; }; },
  { name = "k2r"; max_in_flight = $MIF;
    from = { endpoint = "k"; topic = "$SRC"; group = "$K_ID.k2r"; $K_SRC_MOCK_GROUP };
    to = { endpoint = "rabbit"; exchange = ""; routing_key = "$Q"; }; }
);
EOC
    t_bridge "$id" "$T_DIR/$id.conf"
    eval "pid_$id=\$T_BRIDGE_PID"
done
for r in k2k k2r; do
    kg_wait_shares 60 "$r" A=4 B=4 C=4
done
t_log "three processes own 4 partitions each in both groups"

"$K_PRODUCER" "$BRG_TEST_KAFKA_BROKERS" "$SRC" "$N" 12 0 0 "$RATE" &
prod=$!
t_wait_for 30 k_more_than "$DST" $((N / 3)) || t_fail "nothing copied"
revoked_before=$(cat "$T_DIR/B.log" "$T_DIR/C.log" | grep -c 'revoked [0-9]* partitions')
kill -KILL "$pid_A"
wait "$pid_A" 2>/dev/null
t_log "A killed at $(k_count "$DST") records in $DST"
for r in k2k k2r; do
    kg_wait_shares 60 "$r" B=6 C=6
done
wait $prod || t_fail "producer failed"
t_wait_for 60 kg_kafka_complete "$DST" "$N" || t_fail "k2k: $K_MISSING of $N records missing in $DST"
t_wait_for 60 kg_rmq_settled "$Q" "$N" || t_fail "k2r: $(rmq_count "$Q") of $N messages in $Q"
revoked_after=$(cat "$T_DIR/B.log" "$T_DIR/C.log" | grep -c 'revoked [0-9]* partitions')
t_assert_eq "$revoked_after" "$revoked_before" "partitions revoked from the survivors"
kg_no_failed_commits B C
t_stop "$pid_B"
t_stop "$pid_C"

# Kafka -> Kafka: by the "seq" header.
k_check_complete "$DST" 0 "$N"
t_assert_eq "$K_MISSING" 0 "k2k: records missing after A was killed"
kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$DST" -o beginning -e -q -f '%h\n' >"$T_DIR/k2k.h"
kg_by_bridge "$T_DIR/k2k.h" >"$T_DIR/k2k.by"
[ "$(wc -l <"$T_DIR/k2k.by")" = 3 ] || t_fail "k2k: not every process carried records: $(cat "$T_DIR/k2k.by")"
[ "$K_DUPS" -le "$BOUND" ] || t_fail "k2k: $K_DUPS duplicates, more than the bound $BOUND"
t_log "k2k: $N records, 0 missing, $K_DUPS duplicates (bound $BOUND); by process: $(tr '\n' ' ' <"$T_DIR/k2k.by")"

# Kafka -> RabbitMQ: by the record number in the body ("value-<i>").
rmqc dump "$Q" $((N * 2)) >"$T_DIR/k2r.dump"
sed -n 's/.*body="value-\([0-9]*\).*/\1/p' "$T_DIR/k2r.dump" >"$T_DIR/k2r.seqs"
sort -u "$T_DIR/k2r.seqs" >"$T_DIR/k2r.have"
seq 0 $((N - 1)) | sort >"$T_DIR/k2r.want"
missing=$(comm -23 "$T_DIR/k2r.want" "$T_DIR/k2r.have" | wc -l)
dups=$(($(wc -l <"$T_DIR/k2r.seqs") - $(wc -l <"$T_DIR/k2r.have")))
t_assert_eq "$missing" 0 "k2r: messages missing after A was killed"
kg_by_bridge "$T_DIR/k2r.dump" >"$T_DIR/k2r.by"
[ "$(wc -l <"$T_DIR/k2r.by")" = 3 ] || t_fail "k2r: not every process carried messages: $(cat "$T_DIR/k2r.by")"
[ "$dups" -le "$BOUND" ] || t_fail "k2r: $dups duplicates, more than the bound $BOUND"
t_log "k2r: $N messages, 0 missing, $dups duplicates (bound $BOUND); by process: $(tr '\n' ' ' <"$T_DIR/k2r.by")"
t_log "ok"
