#!/bin/sh
# A RabbitMQ header table nested deeper than 32 levels (RabbitMQ accepts it) is not cut:
# the rabbitmq source marks the delivery as not decodable and the core sends it to the
# route's dead letter with the reason (counted in msgbridge_route_mapping_lost_total); the
# messages around it arrive in Kafka with all their headers.
. "$(dirname "$0")/lib.sh"
t_need kafka
t_need rabbitmq
. "$(dirname "$0")/badinput_lib.sh"
bi_need_client
[ -x "$BI_RMQC" ] || make -C "$top_builddir" tests/adapters/check_rabbitmq_client >/dev/null 2>&1 ||
    t_skip "cannot build $BI_RMQC"
Q=$BI_ID.q
DST=$BI_ID.dst
bi_kafka_topic "$DST"
bi_queue "$Q"
printf 'body=msg-0 h=seq=0\nbody=msg-1 h=seq=1 deep=40 h=after=1\nbody=msg-2 h=seq=2 deep=100 h=after=2\nbody=msg-3 h=seq=3\n' |
    "$BI_CLIENT" rpublish "$BRG_TEST_RABBITMQ_URL" "" "$Q" || t_fail "cannot publish"
cat >"$T_DIR/bridge.conf" <<EOC
bridge = { id = "bi"; stats_interval = 0; };
endpoints = (
  { name = "r"; type = "rabbitmq"; url = "$BRG_TEST_RABBITMQ_URL"; },
  { name = "k"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS"; },
  { name = "dl"; type = "file"; path = "$T_DIR/dead.ndjson"; }
);
routes = ( { name = "to-kafka"; from = { endpoint = "r"; queue = "$Q"; };
    to = { endpoint = "k"; topic = "$DST"; }; dead_letter = { endpoint = "dl"; };
    mapping = { provenance = false; }; } );
EOC
t_bridge bridge "$T_DIR/bridge.conf"
"$BI_CLIENT" kdump "$BRG_TEST_KAFKA_BROKERS" "$DST" 4 8 >"$T_DIR/dst"
t_stop "$T_BRIDGE_PID"
bi_delete_queues "$Q"
dead=$(grep -c . "$T_DIR/dead.ndjson" 2>/dev/null || true)
t_log "Kafka: $(cut -c1-160 "$T_DIR/dst")"
t_log "dead letters: ${dead:-0}"
for i in 1 2; do
    if grep -q "body=\"msg-$i\"" "$T_DIR/dst"; then
        grep "body=\"msg-$i\"" "$T_DIR/dst" | grep -q "\"after\"=\"$i\"" ||
            t_fail "message $i reached Kafka without its nested header and the header after it"
    fi
done
t_assert_eq "$(( $(wc -l <"$T_DIR/dst") + ${dead:-0} ))" 4 "messages in Kafka plus dead letters"
t_log "ok: deeply nested tables are carried or dead-lettered, never cut"
