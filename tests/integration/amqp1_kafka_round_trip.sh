#!/bin/sh
# AMQP 1.0 -> Kafka -> AMQP 1.0: an independent client sends 100k messages (data-section
# bodies, keys, typed application properties, properties) to an AMQP 1.0 queue; one route moves
# them to a Kafka topic, a second route moves the topic to another AMQP 1.0 queue. Checked:
#  - on Kafka (kcat): records keyed by the message key, with the properties as headers (the
#    mock cluster keeps only the last few MiB, so the records it still holds);
#  - at the end: every message identical to what was sent (each property in its AMQP type,
#    restored from the Kafka hint x-msgbridge-types), none missing; the source queue ends empty.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
t_need kafka
. "$(dirname "$0")/amqp1_lib.sh"
command -v kcat >/dev/null 2>&1 || t_skip "kcat is not installed"

N=$(t_count 30000)
qin=a1k.in.$$
qout=a1k.out.$$
topic=amqp1-round-trip-$$
a1_queue "$qin" "$qout"
trap 'a1_delete "$qin" "$qout"; t_cleanup' EXIT

# Two bridges (two ids), as between two sites (one bridge would do too, see loops_chains.sh).
t_kafka_round_trip_confs a1k amqp1 "type = \"amqp1\"; url = \"amqp://guest:guest@$A1_HOSTPORT\";" \
    "address = \"queue://$qin\";" "address = \"queue://$qout\";" "$topic" 5000

start=$(date +%s)
t_bridge east "$T_DIR/east.conf"
east_pid=$T_BRIDGE_PID
t_bridge west "$T_DIR/west.conf"
west_pid=$T_BRIDGE_PID
# Send while the bridges run: the python client is the slowest part.
a1c send "/amq/queue/$qin" "$N" --tag rt >"$T_DIR/send.out" 2>&1 &
send_pid=$!
T_PIDS="$T_PIDS $send_pid"
wait "$send_pid" || t_fail "send: $(cat "$T_DIR/send.out")"
t_log "$(cat "$T_DIR/send.out")"
# Read once everything arrived: RabbitMQ 3.x's AMQP 1.0 plugin can starve a consumer of a
# queue that is being filled at full speed (link credit accounting), which would make the
# checking client, not the bridge, the subject of the test.
i=0
while [ "$(a1_count "$qout")" -lt "$N" ]; do
    i=$((i + 1)); [ $i -gt 500 ] && t_fail "only $(a1_count "$qout") of $N arrived in $qout"
    sleep 0.2
done
t_log "$N messages through Kafka and back in $(($(date +%s) - start)) s"
out=$(a1c recv "/amq/queue/$qout" "$N" --tag rt --idle 20 --timeout 110) || t_fail "$out"
t_log "$out"
t_stop "$east_pid"
t_stop "$west_pid"
t_assert_eq "$(a1_count "$qin")" 0 "$qin after the run"

# The Kafka leg, as a Kafka consumer sees it: one record per message, keyed, with headers.
kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$topic" -e -q -f '%k\t%h\n' >"$T_DIR/kafka.txt" \
    2>"$T_DIR/kcat.log" || t_fail "kcat: $(cat "$T_DIR/kcat.log")"
# The mock cluster keeps only the last few MiB per partition: check what it still holds.
total=$(wc -l <"$T_DIR/kafka.txt")
[ "$total" -gt 0 ] || t_fail "no records left on Kafka"
keys=$(cut -f1 "$T_DIR/kafka.txt" | grep -c '^key-[0-9][0-9]*$')
t_assert_eq "$keys" "$total" "records keyed key-N on Kafka"
t_assert_eq "$(cut -f1 "$T_DIR/kafka.txt" | sort -u | wc -l)" "$total" "distinct keys on Kafka"
last=$(tail -1 "$T_DIR/kafka.txt")
i=${last%%	*}
i=${i#key-}
for h in "seq=$i," "i32=$((-100000 - i))," "x-msgbridge-message-id=rt-id-$i," "x-msgbridge-types=seq=ulong" \
    "x-msgbridge-group-id=group-$((i % 3))," "text=t"; do
    case $last in *"$h"*) ;; *) t_fail "record key-$i has no header $h: $last" ;; esac
done
t_log "kafka: the $total records still held are keyed and carry the properties as headers"
t_log "ok"
