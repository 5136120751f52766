#!/bin/sh
# The broker is killed with SIGKILL in the middle of an AMQP 1.0 -> AMQP 1.0 stream and
# restarted: the bridge keeps running, reconnects by itself (jittered backoff), re-attaches its
# links, and nothing is lost (durable queues, durable messages, `accepted` only after the
# destination confirmed). Duplicates of what was in flight at the crash are counted.
# Runs its own RabbitMQ node (the shared one serves the other tests).
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
. "$(dirname "$0")/amqp1_lib.sh"

node_script=$top_srcdir/scripts/rabbitmq-node.sh
# The private node's ports follow the shared node's (+200): see rabbitmq_broker_kill.sh.
PORT=$((BRG_TEST_RABBITMQ_PORT + 200))
node() {
    BRG_TEST_STATE_DIR="$T_DIR/state" RABBITMQ_TEST_NAME=brgamqp1kill$$ RABBITMQ_TEST_PORT=$PORT \
        sh "$node_script" "$@"
}
trap 'node stop >/dev/null 2>&1; t_cleanup' EXIT
node start >"$T_DIR/node.log" 2>&1 || t_fail "private node did not start: $(tail -5 "$T_DIR/node.log")"
. "$T_DIR/state/brgamqp1kill$$.env"
a1_env "127.0.0.1:$PORT" "$BRG_TEST_RABBITMQ_URL" "$BRG_TEST_RABBITMQCTL"

N=$(t_count 30000)
a1_queue kill.in kill.out
out=$(a1c send /amq/queue/kill.in "$N" --tag kill) || t_fail "send: $out"
t_log "$out"

MPORT=$(t_free_port)
cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "kill"; metrics = "127.0.0.1:$MPORT"; };
endpoints = (
  { name = "amq"; type = "amqp1"; url = "amqp://guest:guest@127.0.0.1:$PORT"; idle_timeout = 5; }
);
routes = (
  { name = "survive";
    from = { endpoint = "amq"; address = "queue://kill.in"; };
    to = { endpoint = "amq"; address = "queue://kill.out"; };
    max_in_flight = 500; }
);
EOT
t_bridge bridge "$T_DIR/bridge.conf"
# The bridge's own counter, polled every 20 ms (rabbitmqctl takes a second: under the sanitizers
# the whole stream had moved before the first answer, and nothing was in flight at the kill).
moved=0
i=0
while [ "$moved" -lt $((N / 10)) ]; do
    i=$((i + 1)); [ $i -gt 3000 ] && t_fail "the bridge did not start moving messages"
    sleep 0.02
    moved=$(curl -s "http://127.0.0.1:$MPORT/metrics" |
        sed -n 's/^msgbridge_route_messages_out_total{route="survive"} \([0-9]*\)$/\1/p')
    moved=${moved:-0}
done
[ "$moved" -lt "$N" ] || t_fail "the whole stream had moved before the kill ($moved of $N)"
t_log "killing the broker with $moved of $N moved"
lines=$(wc -l <"$T_DIR/bridge.log")
node kill >>"$T_DIR/node.log" 2>&1
# The bridge notices (a WARN or ERROR line) and keeps running.
t_wait_for 30 t_log_after "$T_DIR/bridge.log" "$lines" -E 'WARN|ERROR' ||
    t_fail "the bridge logged nothing about the broker's death"
kill -0 "$T_BRIDGE_PID" 2>/dev/null || t_fail "the bridge exited when the broker died"
node restart >>"$T_DIR/node.log" 2>&1 || t_fail "restart failed: $(tail -5 "$T_DIR/node.log")"
t_log "broker restarted"
out=$(a1c recv /amq/queue/kill.out "$N" --tag kill --idle 45 --timeout 180)
rc=$?
t_log "$out"
[ $rc = 0 ] || t_fail "after the crash: $out"
t_wait_for 20 t_log_has "$T_DIR/bridge.log" "reconnecting in" || t_fail "no reconnect in the log"
# Acknowledgements not yet on disk when the broker died bring their messages back to kill.in;
# the bridge moves them again (duplicates, counted above or left in kill.out) once it is back.
drained() { [ "$(a1_count kill.in)" = 0 ]; }
t_wait_for 60 drained || t_fail "kill.in still holds $(a1_count kill.in) messages"
# The reconnect follows a jittered backoff: the messages may all be counted before it is logged.
t_wait_for 60 t_log_more "$T_DIR/bridge.log" ") connected to 127.0.0.1:$PORT" 1 || t_fail "did not connect again after the crash"
t_stop "$T_BRIDGE_PID"
t_log "ok"
