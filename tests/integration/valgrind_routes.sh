#!/bin/sh
# valgrind memcheck on the broker routes: one msgbridge with Kafka -> RabbitMQ, RabbitMQ ->
# Kafka and AMQP 1.0 -> Kafka moves a few thousand messages each (with keys and headers), then
# SIGTERM. No invalid access, no leak (definite, indirect or possible), exit 0, nothing missing.
. "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null || t_skip "valgrind not installed"
nm "$MSGBRIDGE" 2>/dev/null | grep -q __asan_init && t_skip "sanitizer build"
"$MSGBRIDGE" --version | grep -q " amqp1" || t_skip "amqp1 adapter not built"
t_need rabbitmq
t_need kafka
. "$(dirname "$0")/rabbitmq_lib.sh"
. "$(dirname "$0")/kafka_lib.sh"
. "$(dirname "$0")/amqp1_lib.sh"

N=$(t_count 3000)
K1=$K_ID.in; K2=$K_ID.out; K3=$K_ID.amqp
k_topic "$K1" 2; k_topic "$K2" 2; k_topic "$K3" 2
rmq_fresh vg.k2r.$$ vg.r2k.$$ vg.a2k.$$
k_produce "$K1" "$N" 2
rmqc publish "" vg.r2k.$$ "$N" --typed --key >/dev/null || t_fail "publish"
a1c send "/amq/queue/vg.a2k.$$" "$N" >/dev/null || t_fail "amqp1 send"

cat >"$T_DIR/v.conf" <<EOT
bridge = { id = "vg"; stats_interval = 0; shutdown_timeout = 60; };
endpoints = (
  { name = "kafka"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS"; properties = [ $K_PROPS ]; },
  { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; },
  { name = "amq"; type = "amqp1"; url = "$BRG_TEST_AMQP1_URL"; user = "guest"; password = "guest"; }
);
routes = (
  { name = "k2r"; from = { endpoint = "kafka"; topic = "$K1"; group = "$K_ID"; start = "earliest"; };
    to = { endpoint = "rabbit"; routing_key = "vg.k2r.$$"; }; },
  { name = "r2k"; from = { endpoint = "rabbit"; queue = "vg.r2k.$$"; };
    to = { endpoint = "kafka"; topic = "$K2"; key = "\${key}"; }; },
  { name = "a2k"; from = { endpoint = "amq"; address = "/amq/queue/vg.a2k.$$"; };
    to = { endpoint = "kafka"; topic = "$K3"; }; }
);
EOT
valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible \
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 \
    --log-file="$T_DIR/valgrind.log" "$MSGBRIDGE" -c "$T_DIR/v.conf" >"$T_DIR/bridge.log" 2>&1 &
pid=$!
T_PIDS="$T_PIDS $pid"
rmq_wait_count vg.k2r.$$ "$N" 240 || t_fail "Kafka -> RabbitMQ: $(rmq_count vg.k2r.$$) of $N"
k_wait_count "$K2" "$N" 240 || t_fail "RabbitMQ -> Kafka: $(k_count "$K2") of $N"
k_wait_count "$K3" "$N" 240 || t_fail "AMQP 1.0 -> Kafka: $(k_count "$K3") of $N"
counts() { rmq_count vg.k2r.$$; k_count "$K2"; k_count "$K3"; }
t_steady 2 120 counts || t_fail "messages still arriving"
kill -TERM "$pid"
wait "$pid"; rc=$?
[ "$rc" = 0 ] || { head -80 "$T_DIR/valgrind.log"; t_fail "valgrind/msgbridge exit status $rc: $(tail -5 "$T_DIR/bridge.log")"; }
grep -q "ERROR SUMMARY: 0 errors" "$T_DIR/valgrind.log" || { head -80 "$T_DIR/valgrind.log"; t_fail "valgrind errors"; }
t_assert_eq "$(rmq_count vg.r2k.$$)" 0 "left in the RabbitMQ source queue"
t_assert_eq "$(rmq_count vg.a2k.$$)" 0 "left in the AMQP 1.0 source queue"
for q in vg.k2r.$$ vg.r2k.$$ vg.a2k.$$; do rmqc delete "$q" >/dev/null 2>&1; done
t_log "ok: 3 x $N messages under valgrind, $(grep -o 'in use at exit: [0-9,]* bytes in [0-9,]* blocks' "$T_DIR/valgrind.log")"
