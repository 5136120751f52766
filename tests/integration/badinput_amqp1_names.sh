#!/bin/sh
# A Kafka header whose name is not UTF-8 (Kafka allows any bytes) reaches an AMQP 1.0
# consumer in a form it can decode: the application-property key has each stray byte
# replaced by U+FFFD, and the exact name travels in x-msgbridge-headers (as binary), from
# which msgbridge's own AMQP 1.0 source restores it. The messages around it all arrive.
. "$(dirname "$0")/lib.sh"
t_need kafka
t_need rabbitmq
. "$(dirname "$0")/badinput_lib.sh"
"$BI_PY" -c "import proton" 2>/dev/null || t_skip "python3-qpid-proton is not installed"
bi_need_client
[ -x "$BI_RMQC" ] || make -C "$top_builddir" tests/adapters/check_rabbitmq_client >/dev/null 2>&1 ||
    t_skip "cannot build $BI_RMQC"
SRC=$BI_ID.src
Q=$BI_ID.a
bi_kafka_topic "$SRC"
bi_queue "$Q"
printf 'body=msg-0 h=seq=0\nbody=msg-1 h=seq=1 h=\\xff\\xfe-name=v\nbody=msg-2 h=seq=2\n' |
    "$BI_CLIENT" kproduce "$BRG_TEST_KAFKA_BROKERS" "$SRC" || t_fail "cannot produce"
cat >"$T_DIR/bridge.conf" <<EOC
bridge = { id = "bi"; stats_interval = 0; };
endpoints = (
  { name = "k"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $K_PROPS_GROUP ]; },
  { name = "a"; type = "amqp1"; url = "$BRG_TEST_AMQP1_URL"; user = "guest"; password = "guest"; },
  { name = "dl"; type = "file"; path = "$T_DIR/dead.ndjson"; }
);
routes = (
  { name = "to-amqp1"; from = { endpoint = "k"; topic = "$SRC"; group = "$BI_ID"; };
    to = { endpoint = "a"; address = "/amq/queue/$Q"; };
    dead_letter = { endpoint = "dl"; }; mapping = { provenance = false; }; }
);
EOC
t_bridge bridge "$T_DIR/bridge.conf"
t_wait_for 20 grep -q "assigned" "$T_DIR/bridge.log" || t_fail "no partition assigned: $(tail -3 "$T_DIR/bridge.log")"
# SIGUSR1 logs the route summary line.
t_wait_for 30 sh -c "kill -USR1 $T_BRIDGE_PID; sleep 0.3; grep -Eq 'in=3 out=3 ' '$T_DIR/bridge.log'" ||
    t_fail "the route did not take the 3 records: $(tail -3 "$T_DIR/bridge.log")"
t_stop "$T_BRIDGE_PID"
bi_a1dump "amqp://guest:guest@${BRG_TEST_AMQP1_URL#amqp://}" "/amq/queue/$Q" 3 3 >"$T_DIR/amqp1"
bi_delete_queues "$Q"
dead=$(grep -c . "$T_DIR/dead.ndjson" 2>/dev/null || true)
cat "$T_DIR/amqp1" | cut -c1-200
t_assert_eq "$(grep -c '^body=' "$T_DIR/amqp1")" "$((3 - ${dead:-0}))" "messages an AMQP 1.0 client can decode"
grep -q '^undecodable' "$T_DIR/amqp1" && t_fail "a message no AMQP 1.0 client can decode: $(grep '^undecodable' "$T_DIR/amqp1")"
t_log "ok: a non-UTF-8 header name reaches AMQP 1.0 in a decodable form (or the dead letter)"
