#!/bin/sh
# ActiveMQ (STOMP) -> Kafka -> ActiveMQ (STOMP), against Debian's ActiveMQ Classic 5.17: an
# independent client sends 10k persistent messages (binary bodies with NUL bytes, a key,
# headers that need STOMP escaping, a non-ASCII header, correlation-id, content-type) to a
# queue; one bridge moves them to a Kafka topic, a second bridge moves the topic to another
# queue. Checked:
#  - on Kafka (kcat): one record per message, keyed by the message key, with the headers;
#  - at the end, by the client: every message byte for byte what was sent, none missing; the
#    source queue ends empty.
. "$(dirname "$0")/lib.sh"
t_need activemq
t_need kafka
. "$(dirname "$0")/stomp_lib.sh"
command -v kcat >/dev/null 2>&1 || t_skip "kcat is not installed"

N=$(t_count 10000)
qin=stk.in.$$
qout=stk.out.$$
topic=stomp-round-trip-$$
trap 't_cleanup' EXIT

# Two bridges (two ids), as between two sites.
t_kafka_round_trip_confs stk stomp \
    "type = \"stomp\"; url = \"$BRG_TEST_STOMP_URL\"; heartbeat = 2000;" \
    "destination = \"/queue/$qin\";" "destination = \"/queue/$qout\";" "$topic" 2000

start=$(date +%s)
t_bridge east "$T_DIR/east.conf"
east_pid=$T_BRIDGE_PID
t_bridge west "$T_DIR/west.conf"
west_pid=$T_BRIDGE_PID
out=$(stc send "/queue/$qin" "$N" --tag rt) || t_fail "send: $out"
t_log "$out"
out=$(stc recv "/queue/$qout" "$N" --tag rt --idle 20 --timeout 120) || t_fail "$out"
t_log "$out"
t_log "$N messages through Kafka and back in $(($(date +%s) - start)) s"
t_stop "$east_pid"
t_stop "$west_pid"
left=$(stc count "/queue/$qin")
t_assert_eq "$left" 0 "messages left in /queue/$qin"

# The Kafka leg, as a Kafka consumer sees it: one record per message, keyed by the STOMP
# message's key, with its headers (ActiveMQ does not keep header order; the "escaped" header's
# newline is a real newline in the Kafka header value).
kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$topic" -e -q -f '@@%k\t%h\n' >"$T_DIR/kafka.txt" \
    2>"$T_DIR/kcat.err" || t_fail "kcat: $(cat "$T_DIR/kcat.err")"
t_assert_eq "$(grep -c '^@@key-' "$T_DIR/kafka.txt")" "$N" "records on Kafka"
grep -q "^@@key-7	" "$T_DIR/kafka.txt" || t_fail "no record with key key-7 on Kafka"
grep -q "seq=7\(,\|\$\)" "$T_DIR/kafka.txt" || t_fail "no header seq=7 on Kafka"
grep -q "escaped=a:b\\\\c" "$T_DIR/kafka.txt" || t_fail "the escaped header is not a:b\\c... on Kafka"
grep -q "text=t$(printf '\303\251')xt-7" "$T_DIR/kafka.txt" || t_fail "no header text=t\u00e9xt-7 on Kafka"
t_log "ok"
