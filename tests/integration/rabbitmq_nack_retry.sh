#!/bin/sh
# basic.nack from the broker is a retry, not a loss: the destination queue is limited to 10
# messages with overflow = reject-publish, so the broker nacks publishes beyond that; the
# source requeues them (basic.nack, requeue) and they cross once a consumer makes room.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
. "$(dirname "$0")/rabbitmq_lib.sh"

pol=brg-nack-$$
trap 'rmq_ctl clear_policy "$pol" >/dev/null 2>&1; t_cleanup' EXIT
rmq_ctl set_policy "$pol" '^nack\.out$' '{"max-length":10,"overflow":"reject-publish"}' \
    --apply-to queues >/dev/null 2>&1 || t_fail "set_policy"
rmq_fresh nack.in nack.out
N=200
rmqc publish "" nack.in "$N" >/dev/null || t_fail "publish"

cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "nack"; };
endpoints = ( { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; } );
routes = (
  { name = "limited";
    from = { endpoint = "rabbit"; queue = "nack.in"; };
    to = { endpoint = "rabbit"; routing_key = "nack.out"; }; }
);
EOT
t_bridge bridge "$T_DIR/bridge.conf"
rmq_wait_count nack.out 10 10 || t_fail "nack.out never filled"
t_steady 1 10 rmq_count nack.out || t_fail "nack.out keeps changing while full"
t_assert_eq "$(rmq_count nack.out)" 10 "nack.out while full"
# A consumer drains the limited queue: everything arrives, nothing is dropped.
out=$(rmqc verify nack.out "$N" --timeout 30) || t_fail "$out"
t_log "$out"
kill -USR1 "$T_BRIDGE_PID"
t_wait_for 5 grep -q "route limited:.*retried=[1-9]" "$T_DIR/bridge.log" ||
    t_fail "no retries counted: $(grep 'route limited' "$T_DIR/bridge.log" | tail -1)"
t_log "$(grep 'route limited' "$T_DIR/bridge.log" | tail -1 | sed 's/.*\(accepted=[0-9]* retried=[0-9]*\).*/\1/')"
t_stop "$T_BRIDGE_PID"
t_assert_eq "$(rmq_count nack.in)" 0 "nack.in after the run"
t_log "ok"
