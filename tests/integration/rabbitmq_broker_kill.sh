#!/bin/sh
# The broker is killed with SIGKILL in the middle of RabbitMQ -> RabbitMQ streams and
# restarted: the bridge reconnects by itself and nothing is lost (durable queues, persistent
# messages, acknowledgements only after the publish was confirmed). Duplicates of what was in
# flight at the crash are allowed and counted.
# Runs its own RabbitMQ node, which is killed; a second route reads from the shared node (which
# stays up) and writes to the killed one: its publishes in flight come back as retries and the
# live source requeues them (basic.nack). With the Kafka test cluster running, a third route
# reads a Kafka topic into the killed node (the Kafka source seeks back on retries).
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
. "$(dirname "$0")/rabbitmq_lib.sh"

node_script=$top_srcdir/scripts/rabbitmq-node.sh
# The private node's ports follow the shared node's (+100), so checkouts with their own shared
# node on other ports can run this test at the same time.
PORT=$((BRG_TEST_RABBITMQ_PORT + 100))
node() {
    BRG_TEST_STATE_DIR="$T_DIR/state" RABBITMQ_TEST_NAME=brgkill$$ RABBITMQ_TEST_PORT=$PORT \
        sh "$node_script" "$@"
}
trap 'node stop >/dev/null 2>&1; t_cleanup' EXIT
node start >"$T_DIR/node.log" 2>&1 || t_fail "private node did not start: $(tail -5 "$T_DIR/node.log")"
SHARED_URL=$RMQ_URL
RMQ_URL=amqp://guest:guest@127.0.0.1:$PORT/%2f

N=$(t_count 50000)
M=$(t_count 20000)
rmq_fresh kill.in kill.out kill.out2
rmqc publish "" kill.in "$N" --key --header h1 >/dev/null || t_fail "publish"
RMQ_URL=$SHARED_URL rmq_fresh kill.shared.in
RMQ_URL=$SHARED_URL rmqc publish "" kill.shared.in "$M" --key >/dev/null || t_fail "publish"

kafka_endpoint=""
kafka_route=""
if [ -r "$BRG_TEST_STATE_DIR/kafka.env" ] && "$MSGBRIDGE" -V 2>&1 | grep -q kafka &&
    command -v kcat >/dev/null 2>&1; then
    . "$BRG_TEST_STATE_DIR/kafka.env"
    topic=rmq-kill-$$
    rmq_fresh kill.out3
    rmqc lines "$N" >"$T_DIR/records.txt"
    kcat -P -b "$BRG_TEST_KAFKA_BROKERS" -t "$topic" -K '	' -z none -l "$T_DIR/records.txt" \
        2>"$T_DIR/kcat.log" || t_fail "kcat: $(cat "$T_DIR/kcat.log")"
    kafka_endpoint=", { name = \"kafka\"; type = \"kafka\"; brokers = \"$BRG_TEST_KAFKA_BROKERS\";
    properties = [ $K_PROPS_GROUP, \"queued.min.messages=1000000\" ]; }"
    kafka_route=", { name = \"kafka-to-dying\";
    from = { endpoint = \"kafka\"; topic = \"$topic\"; group = \"kill-$$\"; };
    to = { endpoint = \"rabbit\"; routing_key = \"kill.out3\"; };
    rate = { messages_per_second = $((N / 8)); }; }"
fi

MPORT=$(t_free_port)
cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "kill"; metrics = "127.0.0.1:$MPORT"; };
endpoints = (
  { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; heartbeat = 5; },
  { name = "shared"; type = "rabbitmq"; url = "$SHARED_URL"; }
  $kafka_endpoint
);
routes = (
  { name = "survive";
    from = { endpoint = "rabbit"; queue = "kill.in"; };
    to = { endpoint = "rabbit"; routing_key = "kill.out"; };
    rate = { messages_per_second = $((N / 12)); }; },
  { name = "sink-dies";
    from = { endpoint = "shared"; queue = "kill.shared.in"; };
    to = { endpoint = "rabbit"; routing_key = "kill.out2"; }; }
  $kafka_route
);
EOT
t_bridge bridge "$T_DIR/bridge.conf"
# The streams are paced (about 12 and 8 s; the Kafka group join takes a few seconds) and the
# kill comes when the bridge's own counters say both are under way: without, under the
# sanitizers the RabbitMQ stream had all moved before rabbitmqctl's first answer, and nothing
# was in flight at the kill.
moved() {
    curl -s "http://127.0.0.1:$MPORT/metrics" |
        sed -n "s/^msgbridge_route_messages_out_total{route=\"$1\"} \([0-9]*\)$/\1/p"
}
under_way() {
    [ "$(moved survive)" -ge $((N / 10)) ] 2>/dev/null || return 1
    [ -z "$kafka_route" ] || [ "$(moved kafka-to-dying)" -ge $((N / 20)) ] 2>/dev/null
}
t_wait_for 60 under_way || t_fail "the bridge did not start moving messages"
survived=$(moved survive)
[ "$survived" -lt "$N" ] || t_fail "the whole stream had moved before the kill"
t_log "killing the broker with $survived of $N moved"
lines=$(wc -l <"$T_DIR/bridge.log")
node kill >>"$T_DIR/node.log" 2>&1
# The bridge notices (a WARN or ERROR line) and keeps running.
t_wait_for 30 t_log_after "$T_DIR/bridge.log" "$lines" -E 'WARN|ERROR' ||
    t_fail "the bridge logged nothing about the broker's death"
kill -0 "$T_BRIDGE_PID" 2>/dev/null || t_fail "the bridge exited when the broker died"
node restart >>"$T_DIR/node.log" 2>&1 || t_fail "restart failed: $(tail -5 "$T_DIR/node.log")"
t_log "broker restarted"
out=$(rmqc verify kill.out "$N" --key --header h1 --timeout 60) || t_fail "after the crash: $out"
t_log "source and sink killed: $out"
out=$(rmqc verify kill.out2 "$M" --key --timeout 60) || t_fail "sink killed: $out"
t_log "sink killed: $out"
if [ -n "$kafka_route" ]; then
    out=$(rmqc verify kill.out3 "$N" --key --timeout 60) || t_fail "from Kafka, sink killed: $out"
    t_log "from Kafka, sink killed: $out"
fi
t_wait_for 20 t_log_has "$T_DIR/bridge.log" "reconnecting in" || t_fail "no reconnect in the log"
t_stop "$T_BRIDGE_PID"
grep "INFO  route" "$T_DIR/bridge.log" | tail -3 | sed 's/.*route \([^:]*\):.*\(retried=[0-9]*\).*/  \1: \2/'
t_assert_eq "$(rmq_count kill.in)" 0 "kill.in after the run"
t_assert_eq "$(RMQ_URL=$SHARED_URL rmq_count kill.shared.in)" 0 "kill.shared.in after the run"
t_log "ok"
