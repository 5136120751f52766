#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# Gaps in a Kafka source (issue 15): records that disappear from the broker before the route
# reads them are reported and counted, and everything after the gap arrives.
#
# 1. Retention under a running route that fell behind: the test cluster keeps about 5 MiB per
#    partition (older records are deleted as new ones come). A rate-limited route reads a
#    one-partition topic while 12 MiB are written to it at full speed: records are deleted
#    before the route reaches them. Expected: one ERROR naming the topic, the partition, the
#    offset expected and the one found and how many records were skipped;
#    msgbridge_source_gap_records_total equal to the records missing at the destination (one
#    contiguous range, exactly the one the ERROR names); every record after the gap arrives.
# 2. on_gap = "stop", with records deleted while msgbridge was down (the group's committed
#    offset is no longer in the log): the same ERROR, the route stopped with that reason in
#    /routes, nothing taken after the gap.
# 3. Offsets going backwards: the test cluster cannot delete a topic (librdkafka 2.0.2's mock
#    has no DeleteTopics nor DeleteRecords), so the whole cluster is restarted under a running
#    route, which is what a deleted and recreated topic looks like to a consumer: the partition
#    starts again at offset 0 and ends before the offsets already read. Expected: the ERROR, the
#    metric (0: everything of the old log had been bridged), and every record of the new log
#    arrives (before this change they were dropped as "already taken" until the offsets passed
#    the old ones).
. "$(dirname "$0")/lib.sh"
t_need kafka
. "$(dirname "$0")/kafka_lib.sh"
command -v curl >/dev/null 2>&1 || t_skip "curl is not installed"

k_private_cluster 39460 1
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HTTP=http://127.0.0.1:$PORT

# gap_metric ROUTE TOPIC: msgbridge_source_gap_records_total of the route's partition 0, or
# nothing if there is no sample.
gap_metric() {
    curl -sf "$HTTP/metrics" 2>/dev/null |
        sed -n "s/^msgbridge_source_gap_records_total{route=\"$1\",topic=\"$2\",partition=\"0\"} //p"
}

# conf ROUTE SRC DST [FROM_EXTRA] [ROUTE_EXTRA]
# One produce request in flight per connection: part 1 takes the destination's leaders away
# and gives them back, and librdkafka 2.0.2's mock cluster does not check an idempotent
# producer's sequence numbers. With requests pipelined, a batch refused for "not leader" and
# the next one accepted a moment later (the leader back) leave a hole the mock takes without
# complaint; librdkafka then counts the refused batch as written ("implicitly acked by
# subsequent batch success") and those records are never retried. A Kafka broker refuses the
# later batch (OUT_OF_ORDER_SEQUENCE_NUMBER) and librdkafka resends both in order
# (docs/reliability.md, "The mock cluster and leadership changes").
conf() {
    cat >"$T_DIR/$1.conf" <<EOC
bridge = { id = "gap"; metrics = "127.0.0.1:$PORT"; shutdown_timeout = 10; };
endpoints = (
  { name = "k"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $K_PROPS, "auto.commit.interval.ms=200" ];
    producer_properties = [ "max.in.flight.requests.per.connection=1" ]; }
);
routes = (
  { name = "$1"; ${5:-}
    from = { endpoint = "k"; topic = "$2"; group = "$K_ID-$1"; ${4:-} };
    to = { endpoint = "k"; topic = "$3"; }; }
);
EOC
}

# ---- 1. retention under a running route -------------------------------------------------------
SIZE=4000  # 3000 records of 4000 bytes: 12 MB, more than twice what the cluster keeps
SRC=$K_ID.src
DST=$K_ID.dst
k_topic "$SRC" 1
k_topic "$DST" 4 # the copy spreads over 4 partitions: each stays under the 5 MiB kept
conf behind "$SRC" "$DST" "" 'max_in_flight = 20; max_in_flight_bytes = 100000;'
t_bridge behind "$T_DIR/behind.conf"
t_wait_for 20 grep -q 'assigned 1 partitions' "$T_DIR/behind.log" || t_fail "no assignment"
k_produce "$SRC" 200 1 0 "$SIZE"
k_wait_count "$DST" 200 30 || t_fail "only $(k_count "$DST") of the first 200 copied"
# The route falls behind: its destination has no leader, so what it took stays in flight and
# its source pauses; meanwhile 3000 more records push the oldest out of the source topic.
for p in 0 1 2 3; do k_ctl leader "$DST" $p -1; done
k_produce "$SRC" 3000 1 200 "$SIZE"
N=3200
for p in 0 1 2 3; do k_ctl leader "$DST" $p 1; done
t_wait_for 30 grep -q '": gap in' "$T_DIR/behind.log" || t_fail "no gap reported"
line=$(grep '": gap in' "$T_DIR/behind.log")
t_log "$line"
[ "$(grep -c '": gap in' "$T_DIR/behind.log")" = 1 ] || t_fail "more than one gap reported"
echo "$line" | grep -q "^.*ERROR .*route \"behind\": gap in $SRC \[0\]: expected offset [0-9]*, found [0-9]*: [0-9]* records were removed from the broker (retention or DeleteRecords) before the route read them; continuing from offset [0-9]* (on_gap = \"continue\")$" ||
    t_fail "unexpected gap line: $line"
expected=$(echo "$line" | sed 's/.*expected offset \([0-9]*\),.*/\1/')
found=$(echo "$line" | sed 's/.*, found \([0-9]*\):.*/\1/')
skipped=$(echo "$line" | sed 's/.*found [0-9]*: \([0-9]*\) records.*/\1/')
t_assert_eq "$skipped" $((found - expected)) "records skipped in the ERROR line"
t_wait_for 10 test -n "$(gap_metric behind "$SRC")" || t_fail "no gap metric"
t_assert_eq "$(gap_metric behind "$SRC")" "$skipped" "msgbridge_source_gap_records_total"
curl -sf "$HTTP/routes" | grep -q "\"gap_records\": $skipped, \"gaps\": \[{\"topic\": \"$SRC\", \"partition\": 0, \"records\": $skipped, \"gaps\": 1}\]" ||
    t_fail "/routes does not show the gap: $(curl -sf "$HTTP/routes")"
k_wait_count "$DST" $((N - skipped)) 60 || t_fail "only $(k_count "$DST") of $((N - skipped)) arrived"
t_stop "$T_BRIDGE_PID"
# What is missing is exactly [expected, found): seq i is offset i of the one-partition topic.
k_seqs "$DST" "$T_DIR/seqs"
sort -u "$T_DIR/seqs" >"$T_DIR/have"
seq 0 $((N - 1)) | sort >"$T_DIR/want"
comm -23 "$T_DIR/want" "$T_DIR/have" | sort -n >"$T_DIR/missing"
seq "$expected" $((found - 1)) >"$T_DIR/gap"
cmp -s "$T_DIR/missing" "$T_DIR/gap" ||
    t_fail "missing records are not the gap [$expected, $found): $(head -3 "$T_DIR/missing" | tr '\n' ' ')... ($(wc -l <"$T_DIR/missing") missing)"
t_log "ok: retention: $skipped records skipped ($expected..$((found - 1))), counted, the $((N - found)) after the gap all arrived"

# ---- 2. on_gap = "stop", records deleted while msgbridge was down --------------------------------
SRC2=$K_ID.src2
DST2=$K_ID.dst2
k_topic "$SRC2" 1
k_topic "$DST2" 1
k_produce "$SRC2" 100 1 0
conf halt "$SRC2" "$DST2" 'on_gap = "stop";'
t_bridge halt1 "$T_DIR/halt.conf"
k_wait_count "$DST2" 100 30 || t_fail "only $(k_count "$DST2") of 100 copied"
t_stop "$T_BRIDGE_PID" # commits offset 100
k_produce "$SRC2" 2000 1 100 "$SIZE" # 8 MB: offset 100 is deleted
t_bridge halt2 "$T_DIR/halt.conf"
t_wait_for 30 grep -q '": gap in' "$T_DIR/halt2.log" || t_fail "no gap reported after the restart"
line=$(grep '": gap in' "$T_DIR/halt2.log")
t_log "$line"
echo "$line" | grep -q "ERROR .*route \"halt\": gap in $SRC2 \[0\]: expected offset 100, found [0-9]*: [0-9]* records were removed from the broker (retention or DeleteRecords) before the route read them; stopping the route (on_gap = \"stop\")$" ||
    t_fail "unexpected gap line: $line"
found=$(echo "$line" | sed 's/.*, found \([0-9]*\):.*/\1/')
t_wait_for 10 test -n "$(gap_metric halt "$SRC2")" || t_fail "no gap metric"
t_assert_eq "$(gap_metric halt "$SRC2")" $((found - 100)) "msgbridge_source_gap_records_total (stop)"
grep -q "ERROR .*route \"halt\" stopped: gap in $SRC2 \[0\]: expected offset 100, found $found, $((found - 100)) records skipped (on_gap = \"stop\")" "$T_DIR/halt2.log" ||
    t_fail "the route's stop is not logged"
curl -sf "$HTTP/routes" | grep -q "\"state\": \"stopped\".*\"stop_reason\": \"gap in $SRC2 \[0\]" ||
    t_fail "/routes does not show the stopped route: $(curl -sf "$HTTP/routes")"
sleep 1 # nothing may arrive after the gap: give it a chance to
t_assert_eq "$(k_count "$DST2")" 100 "records copied after a gap with on_gap = stop"
t_stop "$T_BRIDGE_PID"
t_log "ok: on_gap = stop: route stopped at the gap, $((found - 100)) counted, nothing taken after it"

# ---- 3. offsets going backwards (the log starts again) -----------------------------------------
SRC3=$K_ID.src3
DST3=$K_ID.dst3
k_topic "$SRC3" 1
k_topic "$DST3" 1
k_produce "$SRC3" 300 1 0
conf again "$SRC3" "$DST3"
t_bridge again "$T_DIR/again.conf"
k_wait_count "$DST3" 300 30 || t_fail "only $(k_count "$DST3") of 300 copied"
sleep 1 # the metrics snapshot (every 250 ms) has seen the high watermark
# Restart the cluster on the same port with the topics recreated empty.
port=$(echo "$BRG_TEST_KAFKA_BROKERS" | sed 's/^127.0.0.1:\([0-9]*\).*/\1/')
kill "$k_pid"; wait "$k_pid" 2>/dev/null
rm -f "$T_DIR/bootstrap"
"$K_MOCK" -n 1 -p "$port" -f "$T_DIR/bootstrap" -c "$T_DIR/ctl" -t "$SRC3:1" -t "$DST3:1" \
    >"$T_DIR/cluster2.log" 2>&1 &
k_pid=$!
T_PIDS="$T_PIDS $k_pid"
t_wait_for 10 test -s "$T_DIR/bootstrap" || t_fail "the cluster did not restart: $(cat "$T_DIR/cluster2.log")"
k_produce "$SRC3" 100 1 1000 # offsets 0..99, seqs 1000..1099
t_wait_for 60 grep -q '": gap in' "$T_DIR/again.log" || t_fail "no gap reported after the log restarted"
line=$(grep '": gap in' "$T_DIR/again.log")
t_log "$line"
echo "$line" | grep -q "ERROR .*route \"again\": gap in $SRC3 \[0\]: expected offset 300, found 0: the partition's log now ends at offset [0-9]*, before what was already read (topic deleted and recreated, or log truncated): 0 records of the old log were not read; continuing from offset 0 (on_gap = \"continue\")$" ||
    t_fail "unexpected gap line: $line"
t_assert_eq "$(gap_metric again "$SRC3")" 0 "msgbridge_source_gap_records_total (log restarted)"
k_wait_count "$DST3" 100 30 || t_fail "only $(k_count "$DST3") of the new log's 100 records arrived"
t_stop "$T_BRIDGE_PID"
k_check_complete "$DST3" 1000 100
t_assert_eq "$K_MISSING" 0 "records of the new log missing"
t_log "ok: offsets went backwards: reported, and all 100 records of the new log arrived"
