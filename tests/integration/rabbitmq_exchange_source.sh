#!/bin/sh
# A source given as exchange + binding_key declares a durable queue and binds it: only the
# matching messages cross, routed by a routing_key template. When the queue is deleted under
# the bridge (consumer cancel notification), the route says so, declares it again and goes on.
# Sources the broker refuses (a missing queue, a queue declared differently) log the broker's
# reply (once as a warning, repeats at debug level) and keep retrying without disturbing the
# other routes.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
. "$(dirname "$0")/rabbitmq_lib.sh"

rmqc delete ex.q >/dev/null 2>&1
rmqc declare-exchange ex.events topic || t_fail "declare exchange"
rmq_fresh copy.orders.created
rmqc delete ex.transient >/dev/null 2>&1
rmqc declare-transient ex.transient || t_fail "declare"
rmqc delete ex.missing >/dev/null 2>&1

cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "ex"; log = { level = "debug"; }; };
endpoints = ( { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; } );
routes = (
  { name = "orders";
    from = { endpoint = "rabbit"; exchange = "ex.events"; binding_key = "orders.#"; queue = "ex.q"; };
    to = { endpoint = "rabbit"; exchange = ""; routing_key = "copy.\${routing_key}"; }; },
  { name = "inequivalent";
    from = { endpoint = "rabbit"; exchange = "ex.events"; queue = "ex.transient"; };
    to = { endpoint = "rabbit"; routing_key = "nowhere"; }; },
  { name = "missing";
    from = { endpoint = "rabbit"; queue = "ex.missing"; };
    to = { endpoint = "rabbit"; routing_key = "nowhere"; }; }
);
EOT
t_bridge bridge "$T_DIR/bridge.conf"
t_wait_for 10 t_log_has "$T_DIR/bridge.log" 'route "orders": consuming queue "ex.q"' ||
    t_fail "not consuming: $(tail -3 "$T_DIR/bridge.log")"
t_wait_for 10 t_log_has "$T_DIR/bridge.log" \
    "route \"inequivalent\": declaring queue \"ex.transient\": PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'ex.transient'" ||
    t_fail "no PRECONDITION_FAILED: $(tail -3 "$T_DIR/bridge.log")"
t_wait_for 10 t_log_has "$T_DIR/bridge.log" \
    "route \"missing\": queue \"ex.missing\": NOT_FOUND - no queue 'ex.missing' in vhost '/' (subscribing again in" ||
    t_fail "no NOT_FOUND: $(tail -3 "$T_DIR/bridge.log")"
rmqc publish ex.events orders.created 50 --header h1 >/dev/null || t_fail "publish"
rmqc publish ex.events other.thing 50 --start 1000 >/dev/null || t_fail "publish"
out=$(rmqc verify copy.orders.created 50 --header h1 --timeout 20) || t_fail "matching: $out"
t_log "bound queue: $out"

t_log "deleting the queue under the bridge"
rmqc delete ex.q || t_fail "delete"
t_wait_for 10 t_log_has "$T_DIR/bridge.log" 'the broker cancelled the consumer of queue "ex.q"' ||
    t_fail "no consumer cancel in the log: $(tail -3 "$T_DIR/bridge.log")"
# Re-declared and bound again after a short backoff.
i=0
while [ "$(grep -c 'route "orders": consuming queue "ex.q"' "$T_DIR/bridge.log")" -lt 2 ]; do
    i=$((i + 1)); [ $i -gt 100 ] && t_fail "did not subscribe again: $(tail -3 "$T_DIR/bridge.log")"
    sleep 0.2
done
rmqc publish ex.events orders.created 20 --start 500 >/dev/null || t_fail "publish"
out=$(rmqc verify copy.orders.created 20 --start 500 --timeout 20) || t_fail "after re-declare: $out"
t_log "after re-declare: $out"
retried() { [ "$(grep -c 'route "missing": queue "ex.missing": NOT_FOUND' "$T_DIR/bridge.log")" -ge 2 ]; }
t_wait_for 10 retried || t_fail "the missing queue was not retried"
# The same error again is logged at debug level only: one warning.
t_assert_eq "$(grep 'WARN' "$T_DIR/bridge.log" | grep -c 'route "missing": queue "ex.missing": NOT_FOUND')" 1 \
    "warnings about the missing queue"
t_stop "$T_BRIDGE_PID"
# Nothing of the non-matching messages crossed; the durable queue stays for next time.
t_assert_eq "$(rmq_count copy.orders.created)" 0 "copy.orders.created after the run"
t_assert_eq "$(rmq_count ex.q)" 0 "ex.q after the run"
rmqc delete ex.q >/dev/null 2>&1
rmqc delete ex.transient >/dev/null 2>&1
t_log "ok"
