#!/bin/sh
# An empty RabbitMQ body stays an empty body: it reaches Kafka as an empty value, not a
# tombstone (a null value would delete the key in a compacted topic).
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
printf 'body=msg-0 h=seq=0\nbody= h=seq=1 key=k1\nbody=msg-2 h=seq=2\n' |
    "$BI_CLIENT" rpublish "$BRG_TEST_RABBITMQ_URL" "" "$Q" || t_fail "cannot publish"
cat >"$T_DIR/bridge.conf" <<EOC
bridge = { id = "bi"; stats_interval = 0; };
endpoints = (
  { name = "r"; type = "rabbitmq"; url = "$BRG_TEST_RABBITMQ_URL"; },
  { name = "k"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS"; }
);
routes = ( { name = "to-kafka"; from = { endpoint = "r"; queue = "$Q"; };
    to = { endpoint = "k"; topic = "$DST"; }; mapping = { provenance = false; }; } );
EOC
t_bridge bridge "$T_DIR/bridge.conf"
"$BI_CLIENT" kdump "$BRG_TEST_KAFKA_BROKERS" "$DST" 3 30 >"$T_DIR/dst" || t_fail "$(wc -l <"$T_DIR/dst") of 3 records"
t_stop "$T_BRIDGE_PID"
bi_delete_queues "$Q"
cat "$T_DIR/dst"
grep -q '^offset=1 key="k1" body="" ' "$T_DIR/dst" ||
    t_fail "the empty body arrived as: $(sed -n 2p "$T_DIR/dst" | cut -d' ' -f2-3)"
t_log "ok: an empty RabbitMQ body is an empty Kafka value"
