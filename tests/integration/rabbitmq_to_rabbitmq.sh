#!/bin/sh
# RabbitMQ -> RabbitMQ through two endpoints (two connections): 100k numbered messages with
# keys and headers arrive complete and intact, and messages with every property and every AMQP
# field type (nested tables, x-death) arrive identical: body, properties, headers with their
# types, in order. Checked by an independent rabbitmq-c client.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
. "$(dirname "$0")/rabbitmq_lib.sh"

N=$(t_count 100000)
T=$(t_count 5000)
rmq_fresh r2r.in r2r.out r2r.typed.in r2r.typed.out

t_log "publishing $N messages and $T typed messages"
rmqc publish "" r2r.in "$N" --key --header h1 --header region >/dev/null || t_fail "publish"
rmqc publish "" r2r.typed.in "$T" --typed --key >/dev/null || t_fail "publish typed"

cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "r2r"; };
endpoints = (
  { name = "rabbit-a"; type = "rabbitmq"; url = "$RMQ_URL"; connection_name = "r2r source"; },
  { name = "rabbit-b"; type = "rabbitmq"; url = "$RMQ_URL"; heartbeat = 5; window = 2000; }
);
routes = (
  { name = "plain";
    from = { endpoint = "rabbit-a"; queue = "r2r.in"; };
    to = { endpoint = "rabbit-b"; exchange = ""; routing_key = "r2r.out"; }; },
  { name = "typed";
    from = { endpoint = "rabbit-a"; queue = "r2r.typed.in"; };
    to = { endpoint = "rabbit-b"; routing_key = "r2r.typed.out"; }; }
);
EOT
"$MSGBRIDGE" -t -c "$T_DIR/bridge.conf" >"$T_DIR/check.log" 2>&1 || t_fail "config check: $(cat "$T_DIR/check.log")"
start=$(date +%s)
t_bridge bridge "$T_DIR/bridge.conf"

# The bridge adds its provenance header (x-msgbridge-path): everything else must be identical.
out=$(rmqc verify r2r.typed.out "$T" --typed --key --ignore x-msgbridge-path --timeout 30) ||
    t_fail "typed messages: $out"
t_log "typed: $out"
out=$(rmqc verify r2r.out "$N" --key --header h1 --header region --timeout 30) ||
    t_fail "plain messages: $out"
end=$(date +%s)
t_log "plain: $out (in $((end - start)) s)"
t_stop "$T_BRIDGE_PID"

# Everything was acknowledged at the source, nothing left behind.
t_assert_eq "$(rmq_count r2r.in)" 0 "r2r.in after the run"
t_assert_eq "$(rmq_count r2r.typed.in)" 0 "r2r.typed.in after the run"
if grep -E "ERROR|WARN" "$T_DIR/bridge.log" | grep -v "SIGTERM" >/dev/null; then
    t_fail "unexpected warnings: $(grep -E 'ERROR|WARN' "$T_DIR/bridge.log" | head -5)"
fi
t_log "ok"
