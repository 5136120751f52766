#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# RETRY from the sink rewinds the source: every destination partition is led by broker 3,
# which goes down for 8 s while the producer's message.timeout.ms is 2 s. Delivery reports
# time out (RETRY), the source seeks each partition back to its lowest retried offset with a
# growing pause, and once the broker is back every record arrives (0 missing, duplicates
# counted). The source partitions are led by broker 1, which stays up. Private cluster.
. "$(dirname "$0")/lib.sh"
t_need kafka
. "$(dirname "$0")/kafka_lib.sh"
k_private_cluster 39320 3

N=$(t_count 10000)
SRC=retry.src
DST=retry.dst
k_topic "$SRC" 3
k_topic "$DST" 3
for p in 0 1 2; do
    k_ctl leader "$SRC" $p 1
    k_ctl leader "$DST" $p 3
done
# The group's coordinator must stay up too.
k_ctl coordinator group retry 1
t_wait_for 10 t_log_has "$T_DIR/cluster.log" "coordinator group retry -> broker 1" ||
    t_fail "the cluster did not move the coordinator: $(tail -3 "$T_DIR/cluster.log")"
k_produce "$SRC" "$N" 3 0

cat >"$T_DIR/bridge.conf" <<EOC
bridge = { id = "retry"; };
endpoints = (
  { name = "k"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $K_PROPS ];
    producer_properties = [ "message.timeout.ms=2000" ]; }
);
routes = (
  { name = "copy"; max_in_flight = 500;
    from = { endpoint = "k"; topic = "$SRC"; group = "retry"; };
    to = { endpoint = "k"; topic = "$DST"; partition = "\${partition}"; }; }
);
EOC
k_ctl down 3
t_bridge bridge "$T_DIR/bridge.conf"
t_wait_for 20 grep -q 'assigned 3 partitions' "$T_DIR/bridge.log" || t_fail "no assignment"
# Broker 3 (the destination's leader) stays down until the source has gone back at least once.
t_wait_for 60 t_log_has "$T_DIR/bridge.log" 'goes back to offset' ||
    t_fail "no rewind while broker 3 was down: $(tail -3 "$T_DIR/bridge.log")"
k_ctl up 3
k_wait_count "$DST" "$N" 60 || t_fail "only $(k_count "$DST") of $N records after the outage"
t_steady 1 30 k_count "$DST" || t_fail "records still arriving at $DST"
t_stop "$T_BRIDGE_PID"
grep -q 'goes back to offset' "$T_DIR/bridge.log" || t_fail "no rewind happened (nothing retried?)"
k_check_complete "$DST" 0 "$N"
t_assert_eq "$K_MISSING" 0 "records missing after retries"
rewinds=$(grep -c 'goes back to offset' "$T_DIR/bridge.log")
t_log "ok: $N records, $rewinds logged rewinds, 0 missing, $K_DUPS duplicates"
