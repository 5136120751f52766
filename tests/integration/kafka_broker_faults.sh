#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# Broker failures mid-stream lose nothing: while records flow through msgbridge, one broker
# goes down for 3 s and comes back, then the whole cluster goes down for 4 s and comes back.
# Every record reaches the destination (0 missing); duplicates are counted. Runs on a private
# cluster so that the faults disturb no other test.
. "$(dirname "$0")/lib.sh"
t_need kafka
. "$(dirname "$0")/kafka_lib.sh"
k_private_cluster 39310 3

N=$(t_count 30000)
RATE=$((N / 10))
SRC=faults.src
DST=faults.dst
k_topic "$SRC" 6
k_topic "$DST" 6

cat >"$T_DIR/bridge.conf" <<EOC
bridge = { id = "faults"; };
endpoints = (
  { name = "k"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $K_PROPS, "auto.commit.interval.ms=1000" ]; }
);
routes = (
  { name = "copy";
    from = { endpoint = "k"; topic = "$SRC"; group = "faults"; };
    to = { endpoint = "k"; topic = "$DST"; partition = "\${partition}"; }; }
);
EOC
t_bridge bridge "$T_DIR/bridge.conf"
t_wait_for 20 grep -q 'assigned 6 partitions' "$T_DIR/bridge.log" || t_fail "no assignment"

"$K_PRODUCER" "$BRG_TEST_KAFKA_BROKERS" "$SRC" "$N" 6 0 0 "$RATE" >"$T_DIR/producer.log" 2>&1 &
prod=$!
# The faults hit a stream in motion: records are arriving.
t_wait_for 30 k_more_than "$DST" 0 || t_fail "nothing arrived before the faults"
t_log "broker 2 down at $(k_count "$DST") records"
# Each fault lasts a set time (the scenario, not a wait for something).
k_ctl down 2
sleep 3
k_ctl up 2
# Recovered: records arrive again before the next fault.
before=$(k_count "$DST")
t_wait_for 30 k_more_than "$DST" "$before" || t_fail "nothing arrived after broker 2 came back"
t_log "whole cluster down at $(k_count "$DST") records"
k_ctl down all
sleep 4
k_ctl up all
wait $prod || t_fail "the test producer failed: $(cat "$T_DIR/producer.log")"
t_assert_eq "$(k_count "$SRC")" "$N" "records in the source"
k_wait_count "$DST" "$N" 60 || t_fail "only $(k_count "$DST") of $N records after the faults"
t_steady 2 30 k_count "$DST" || t_fail "records still arriving at $DST"
t_stop "$T_BRIDGE_PID"
k_check_complete "$DST" 0 "$N"
t_assert_eq "$K_MISSING" 0 "records missing after broker faults"
t_log "ok: $N records through a broker outage and a cluster outage: 0 missing, $K_DUPS duplicates"
