#!/bin/sh
# Wrong credentials: the endpoint logs a clear error with the broker's condition (SASL
# authentication failed, and what to check), never prints the password, keeps retrying with
# backoff instead of exiting, and stops cleanly on SIGTERM. Without a password the default
# mechanism is ANONYMOUS, which this broker refuses too.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
. "$(dirname "$0")/amqp1_lib.sh"

cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "badlogin"; };
endpoints = (
  { name = "amq"; type = "amqp1"; url = "amqp://$A1_HOSTPORT"; user = "guest";
    password = "not-the-password-$$"; }
);
routes = (
  { name = "never";
    from = { endpoint = "amq"; address = "queue://badlogin.$$"; };
    to = { endpoint = "amq"; address = "queue://badlogin.out.$$"; }; }
);
EOT
t_bridge bridge "$T_DIR/bridge.conf"
log=$T_DIR/bridge.log
t_wait_for 20 t_log_has "$log" "amqp:unauthorized-access" || t_fail "no authentication error: $(cat "$log")"
line=$(grep -F "amqp:unauthorized-access" "$log" | head -1)
t_log "$line"
case $line in
*"ERROR [amqp1:amq]"*"cannot connect to 127.0.0.1:"*"check user, password and sasl_mechanisms"*"retrying in"*) ;;
*) t_fail "unexpected error line: $line" ;;
esac
# Still retrying a few seconds later (backoff starts at 0.5 s).
t_wait_for 20 sh -c "[ \$(grep -F -c 'amqp:unauthorized-access' '$log') -ge 3 ]" ||
    t_fail "did not retry: $(cat "$log")"
kill -0 "$T_BRIDGE_PID" 2>/dev/null || t_fail "msgbridge exited"
grep -F -q "not-the-password-$$" "$log" && t_fail "the password appears in the log"
t_stop "$T_BRIDGE_PID" 10
t_log "ok ($(grep -F -c 'amqp:unauthorized-access' "$log") attempts refused)"
