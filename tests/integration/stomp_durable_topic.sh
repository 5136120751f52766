#!/bin/sh
# A /topic/ source subscribes durably (ActiveMQ's activemq.subscriptionName and a stable
# client-id): what is published while msgbridge is stopped arrives after it restarts. Route:
# ActiveMQ /topic/T (stomp) -> ActiveMQ /queue/Q (stomp), checked by the independent client.
# Also: `msgbridge -t` warns about durable = false, and the subscription is logged.
. "$(dirname "$0")/lib.sh"
t_need activemq
. "$(dirname "$0")/stomp_lib.sh"

N=$(t_count 1000)
topic=std.t.$$
qout=std.out.$$
trap 't_cleanup' EXIT

cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "std-$$"; };
endpoints = ( { name = "amq"; type = "stomp"; url = "$BRG_TEST_STOMP_URL"; heartbeat = 2000; } );
routes = (
  { name = "topic-to-queue";
    from = { endpoint = "amq"; destination = "/topic/$topic"; };
    to = { endpoint = "amq"; destination = "/queue/$qout"; };
    max_in_flight = 500; }
);
EOT
"$MSGBRIDGE" -t -c "$T_DIR/bridge.conf" >"$T_DIR/check.log" 2>&1 || t_fail "-t: $(cat "$T_DIR/check.log")"

# durable = false: -t says what it costs.
sed 's|destination = "/topic/\([^"]*\)";|destination = "/topic/\1"; durable = false;|' \
    "$T_DIR/bridge.conf" >"$T_DIR/nondurable.conf"
"$MSGBRIDGE" -t -c "$T_DIR/nondurable.conf" >"$T_DIR/check2.log" 2>&1 ||
    t_fail "-t nondurable: $(cat "$T_DIR/check2.log")"
grep -q "durable = false: messages published to /topic/$topic while msgbridge is stopped or reconnecting are lost" \
    "$T_DIR/check2.log" || t_fail "no durable = false warning: $(cat "$T_DIR/check2.log")"

subscribed() { grep -q "subscribed to /topic/$topic (durable subscription \"msgbridge-topic-to-queue\"" "$T_DIR/$1.log"; }

# 1. Run once: the durable subscription is created; messages published now arrive.
t_bridge first "$T_DIR/bridge.conf"
pid=$T_BRIDGE_PID
t_wait_for 20 subscribed first || t_fail "not subscribed: $(cat "$T_DIR/first.log")"
out=$(stc send "/topic/$topic" "$N" --tag dt) || t_fail "send 1: $out"
out=$(stc recv "/queue/$qout" "$N" --tag dt --idle 10) || t_fail "while running: $out"
t_log "while running: $out"
t_stop "$pid"

# 2. Publish while msgbridge is stopped: the broker keeps them for the subscription.
out=$(stc send "/topic/$topic" "$N" --start "$N" --tag dt) || t_fail "send 2: $out"

# 3. Restart: all of them arrive.
t_bridge second "$T_DIR/bridge.conf"
pid=$T_BRIDGE_PID
out=$(stc recv "/queue/$qout" "$N" --start "$N" --tag dt --idle 10) || t_fail "after restart: $out"
t_log "published while stopped, after restart: $out"
t_stop "$pid"
t_log "ok"
