#!/bin/sh
# Restarting msgbridge resumes from the committed offsets. Records keep arriving at the source
# (a paced producer) while msgbridge is stopped mid-stream with SIGTERM (it drains and commits)
# and started again: every record arrives exactly once. Then it is SIGKILLed mid-stream (no
# drain, no final commit) and started again: nothing is lost, and the duplicates (records in
# flight or not yet committed at the kill) are counted.
. "$(dirname "$0")/lib.sh"
t_need kafka
. "$(dirname "$0")/kafka_lib.sh"

N=$(t_count 20000)
RATE=$((N / 5)) # each batch takes 5 s to produce
SRC=$K_ID.src
DST=$K_ID.dst
k_topic "$SRC" 6
k_topic "$DST" 6

cat >"$T_DIR/bridge.conf" <<EOC
bridge = { id = "restart"; };
endpoints = (
  { name = "k"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $K_PROPS, "auto.commit.interval.ms=1000" ]; }
);
routes = (
  { name = "copy";
    from = { endpoint = "k"; topic = "$SRC"; group = "$K_ID"; };
    to = { endpoint = "k"; topic = "$DST"; }; }
);
EOC
t_bridge first "$T_DIR/bridge.conf"
t_wait_for 20 grep -q 'assigned 6 partitions' "$T_DIR/first.log" || t_fail "no assignment"

# SIGTERM mid-stream.
"$K_PRODUCER" "$BRG_TEST_KAFKA_BROKERS" "$SRC" "$N" 6 0 0 "$RATE" &
prod=$!
t_wait_for 20 k_more_than "$DST" $((N / 5)) || t_fail "nothing copied"
t_stop "$T_BRIDGE_PID"
stopped_at=$(k_count "$DST")
wait $prod || t_fail "producer failed"
[ "$stopped_at" -lt "$N" ] || t_fail "the copy finished before the stop: nothing to resume"
t_log "SIGTERM after $stopped_at of $N records"
t_bridge second "$T_DIR/bridge.conf"
k_wait_count "$DST" "$N" 30 || t_fail "only $(k_count "$DST") of $N after restart"
k_check_complete "$DST" 0 "$N"
t_assert_eq "$K_MISSING" 0 "records missing after a SIGTERM restart"
t_assert_eq "$K_DUPS" 0 "records duplicated after a SIGTERM restart (everything was committed)"

# SIGKILL mid-stream.
"$K_PRODUCER" "$BRG_TEST_KAFKA_BROKERS" "$SRC" "$N" 6 "$N" 0 "$RATE" &
prod=$!
t_wait_for 20 k_more_than "$DST" $((N + N / 5)) || t_fail "second batch not flowing"
kill -KILL "$T_BRIDGE_PID"
wait "$T_BRIDGE_PID" 2>/dev/null
killed_at=$(( $(k_count "$DST") - N ))
wait $prod || t_fail "producer failed"
[ "$killed_at" -lt "$N" ] || t_fail "the copy finished before the kill"
t_log "SIGKILL after $killed_at of the second $N"
t_bridge third "$T_DIR/bridge.conf"
k_wait_count "$DST" $((2 * N)) 40 || t_fail "only $(k_count "$DST") of $((2 * N)) after SIGKILL"
t_steady 1 30 k_count "$DST" || t_fail "records still arriving at $DST"
t_stop "$T_BRIDGE_PID"
k_check_complete "$DST" 0 $((2 * N))
t_assert_eq "$K_MISSING" 0 "records missing after SIGKILL"
t_log "ok: SIGTERM restart: 0 missing, 0 duplicates; SIGKILL restart: 0 missing, $K_DUPS duplicates"
