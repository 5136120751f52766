#!/bin/sh
# Stopping is prompt when a broker is frozen (issue 15): RabbitMQ (AMQP 0-9-1 and AMQP 1.0
# endpoints on one node) and ActiveMQ (STOMP) are SIGSTOPped in turn under idle routes (their
# connections stay open, nothing answers), msgbridge gets SIGTERM and must exit within
# bridge.shutdown_timeout plus half a second, with status 0 (nothing was in flight).
# RabbitMQ runs as a private node (port + 300) so that no other test sees it frozen; ActiveMQ is
# the shared broker, frozen for a few seconds only (stomp_faults.sh kills it outright).
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
t_need activemq
. "$(dirname "$0")/rabbitmq_lib.sh"
"$MSGBRIDGE" -V 2>&1 | grep -q amqp1 || t_skip "the amqp1 adapter is not built"

TIMEOUT=3
MARGIN_MS=1500
node_script=$top_srcdir/scripts/rabbitmq-node.sh
PORT=$((BRG_TEST_RABBITMQ_PORT + 300))
node() {
    BRG_TEST_STATE_DIR="$T_DIR/state" RABBITMQ_TEST_NAME=brgfrz$$ RABBITMQ_TEST_PORT=$PORT \
        sh "$node_script" "$@"
}
frozen=""
trap '[ -n "$frozen" ] && kill -CONT $frozen; node stop >/dev/null 2>&1; t_cleanup' EXIT
node start >"$T_DIR/node.log" 2>&1 || t_fail "private node did not start: $(tail -5 "$T_DIR/node.log")"
RMQ_URL=amqp://guest:guest@127.0.0.1:$PORT/%2f
rmq_fresh frz.in frz.back frz.a1
rmq_pid=$(cat "$T_DIR/state/brgfrz$$/rabbitmq.pid")
amq_pid=$(cat "$BRG_TEST_STATE_DIR/activemq/activemq.pid")

cat >"$T_DIR/bridge.conf" <<EOC
bridge = { id = "frz"; shutdown_timeout = $TIMEOUT; };
endpoints = (
  { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; },
  { name = "a1"; type = "amqp1"; url = "amqp://127.0.0.1:$PORT"; user = "guest"; password = "guest"; },
  { name = "amq"; type = "stomp"; url = "$BRG_TEST_STOMP_URL"; }
);
routes = (
  { name = "out"; from = { endpoint = "rabbit"; queue = "frz.in"; };
    to = { endpoint = "amq"; destination = "/queue/frz.mid.$$"; }; },
  { name = "back"; from = { endpoint = "amq"; destination = "/queue/frz.mid.$$"; };
    to = { endpoint = "rabbit"; routing_key = "frz.back"; }; },
  { name = "one"; from = { endpoint = "a1"; address = "/amq/queue/frz.a1"; };
    to = { endpoint = "rabbit"; routing_key = "frz.back"; }; }
);
EOC

now_ms() { date +%s%3N; }

# frozen_stop NAME PID: run msgbridge until 100 messages made the round trip, freeze PID,
# SIGTERM msgbridge and time its exit.
frozen_stop() {
    t_bridge "$1" "$T_DIR/bridge.conf"
    rmqc publish "" frz.in 100 >/dev/null || t_fail "$1: publish"
    out=$(rmqc verify frz.back 100 --timeout 30) || t_fail "$1: round trip: $out"
    kill -STOP "$2"; frozen=$2
    sleep 0.5
    t0=$(now_ms)
    kill -TERM "$T_BRIDGE_PID"
    while kill -0 "$T_BRIDGE_PID" 2>/dev/null; do
        [ $(($(now_ms) - t0)) -gt $((TIMEOUT * 1000 + 10000)) ] && t_fail "$1: still running 10 s after the deadline"
        sleep 0.05
    done
    elapsed=$(($(now_ms) - t0))
    wait "$T_BRIDGE_PID"; rc=$?
    kill -CONT "$2"; frozen=""
    t_log "$1: exited with status $rc after $elapsed ms (shutdown_timeout = $TIMEOUT s)"
    [ "$elapsed" -le $((TIMEOUT * 1000 + MARGIN_MS)) ] ||
        t_fail "$1: took $elapsed ms: $(tail -5 "$T_DIR/$1.log")"
    t_assert_eq "$rc" 0 "$1: exit status"
}

frozen_stop rabbitmq "$rmq_pid"
sleep 2 # the node answers again
frozen_stop activemq "$amq_pid"
t_log "ok: msgbridge stopped within shutdown_timeout with RabbitMQ frozen and with ActiveMQ frozen"
