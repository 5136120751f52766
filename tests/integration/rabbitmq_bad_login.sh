#!/bin/sh
# A wrong password and a missing vhost are clear errors in the log (with the broker's reply
# text), the bridge keeps running and retrying, and it recovers once the user and the vhost
# exist: the messages then arrive. The queue in the new vhost is declared only after the bridge
# got in and found nowhere to publish: the route parks and heals by itself, nothing missing.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
. "$(dirname "$0")/rabbitmq_lib.sh"

port=$BRG_TEST_RABBITMQ_PORT
user=brgtest$$
vhost=brgtest-vh$$
cleanup_broker() {
    rmq_ctl delete_user "$user" >/dev/null 2>&1
    rmq_ctl delete_vhost "$vhost" >/dev/null 2>&1
}
trap 'cleanup_broker; t_cleanup' EXIT
cleanup_broker
rmq_fresh bl.in bl.in2 bl.out
rmqc publish "" bl.in 5 >/dev/null || t_fail "publish"
rmqc publish "" bl.in2 7 --start 50 >/dev/null || t_fail "publish"
echo "s3cret-$$" >"$T_DIR/password"

cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "bl"; };
endpoints = (
  { name = "src"; type = "rabbitmq"; url = "$RMQ_URL"; },
  { name = "bad-user"; type = "rabbitmq"; url = "amqp://127.0.0.1:$port/%2f";
    user = "$user"; password_file = "$T_DIR/password"; connect_timeout = 5; },
  { name = "bad-vhost"; type = "rabbitmq"; url = "amqp://guest:guest@127.0.0.1:$port/$vhost"; }
);
routes = (
  { name = "to-bad-user";
    from = { endpoint = "src"; queue = "bl.in"; };
    to = { endpoint = "bad-user"; routing_key = "bl.out"; }; },
  { name = "to-bad-vhost";
    from = { endpoint = "src"; queue = "bl.in2"; };
    to = { endpoint = "bad-vhost"; routing_key = "bl.vh.out"; }; }
);
EOT
t_bridge bridge "$T_DIR/bridge.conf"
t_wait_for 15 t_log_has "$T_DIR/bridge.log" "[rabbitmq:bad-user]" ||
    t_fail "no log line from bad-user"
t_wait_for 15 t_log_has "$T_DIR/bridge.log" \
    "login to 127.0.0.1:$port vhost \"/\" as \"$user\" refused: ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN" ||
    t_fail "no clear error for the wrong password: $(grep bad-user "$T_DIR/bridge.log" | tail -3)"
t_wait_for 15 t_log_has "$T_DIR/bridge.log" \
    "login to 127.0.0.1:$port vhost \"$vhost\" as \"guest\" refused: NOT_ALLOWED - vhost $vhost not found" ||
    t_fail "no clear error for the missing vhost: $(grep bad-vhost "$T_DIR/bridge.log" | tail -3)"
# The password never appears in the log.
! grep -q "s3cret" "$T_DIR/bridge.log" || t_fail "the password is in the log"
refusals() { grep -c "as \"$user\" refused" "$T_DIR/bridge.log"; }
t_wait_for 15 sh -c "[ \$(grep -c 'as \"$user\" refused' '$T_DIR/bridge.log') -ge 2 ]" ||
    t_fail "the bridge did not retry (only $(refusals) attempts)"
kill -0 "$T_BRIDGE_PID" 2>/dev/null || t_fail "the bridge exited"
n=$(refusals)
t_log "refused $n times so far; creating the user and the vhost"

rmq_ctl add_user "$user" "s3cret-$$" >/dev/null 2>&1 || t_fail "add_user"
rmq_ctl set_permissions -p / "$user" ".*" ".*" ".*" >/dev/null 2>&1 || t_fail "set_permissions"
rmq_ctl add_vhost "$vhost" >/dev/null 2>&1 || t_fail "add_vhost"
rmq_ctl set_permissions -p "$vhost" guest ".*" ".*" ".*" >/dev/null 2>&1 || t_fail "set_permissions"
# Backoff is capped at 30 s: the bridge gets into the vhost well within 45 s, publishes at once
# and finds no queue bound: the route parks (it used to stop for good here).
t_wait_for 45 t_log_has "$T_DIR/bridge.log" 'route "to-bad-vhost" parked: unroutable: NO_ROUTE' ||
    t_fail "the route did not park on the empty vhost: $(grep -i 'bad-vhost' "$T_DIR/bridge.log" | tail -3)"
"$RMQC" "amqp://guest:guest@127.0.0.1:$port/$vhost" declare bl.vh.out || t_fail "declare in vhost"

# Backoff is capped at 30 s; a retry comes well within 45 s.
out=$(rmqc verify bl.out 5 --timeout 45) || t_fail "after fixing the user: $out"
t_log "bad-user recovered: $out"
out=$("$RMQC" "amqp://guest:guest@127.0.0.1:$port/$vhost" verify bl.vh.out 7 --start 50 --timeout 45) ||
    t_fail "after creating the vhost: $out"
t_log "bad-vhost recovered: $out"
t_wait_for 10 t_log_has "$T_DIR/bridge.log" 'route "to-bad-vhost" resumed after' ||
    t_fail "no resume line: $(tail -3 "$T_DIR/bridge.log")"
t_assert_eq "$(rmq_count bl.in2)" 0 "bl.in2 after the run"
t_stop "$T_BRIDGE_PID"
t_log "ok"
