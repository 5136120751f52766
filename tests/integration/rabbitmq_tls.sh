#!/bin/sh
# amqps: messages cross a TLS connection verified against the test CA (and with a client
# certificate); a broker certificate from another CA is refused with a clear error unless
# verify_peer = false.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
. "$(dirname "$0")/rabbitmq_lib.sh"
[ -n "${BRG_TEST_RABBITMQ_TLS_URL:-}" ] || t_skip "the test node has no TLS listener"
tls=$BRG_TEST_RABBITMQ_TLS_DIR

rmq_fresh tls.in tls.out tls.in2 tls.out2 tls.in3
rmqc publish "" tls.in 200 --key --header h1 >/dev/null || t_fail "publish"
rmqc publish "" tls.in2 30 >/dev/null || t_fail "publish"
rmqc publish "" tls.in3 3 >/dev/null || t_fail "publish"

cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "tls"; shutdown_timeout = 2; };
endpoints = (
  { name = "plain"; type = "rabbitmq"; url = "$RMQ_URL"; },
  { name = "tls"; type = "rabbitmq"; url = "$BRG_TEST_RABBITMQ_TLS_URL"; ca_file = "$tls/ca.pem"; },
  { name = "tls-client-cert"; type = "rabbitmq"; url = "$BRG_TEST_RABBITMQ_TLS_URL";
    ca_file = "$tls/ca.pem"; cert_file = "$tls/client.pem"; key_file = "$tls/client.key"; },
  { name = "wrong-ca"; type = "rabbitmq"; url = "$BRG_TEST_RABBITMQ_TLS_URL";
    ca_file = "$tls/other-ca.pem"; connect_timeout = 5; },
  { name = "no-verify"; type = "rabbitmq"; url = "$BRG_TEST_RABBITMQ_TLS_URL";
    ca_file = "$tls/other-ca.pem"; verify_peer = false; }
);
routes = (
  { name = "over-tls";
    from = { endpoint = "tls"; queue = "tls.in"; };
    to = { endpoint = "tls-client-cert"; routing_key = "tls.out"; }; },
  { name = "unverified";
    from = { endpoint = "plain"; queue = "tls.in2"; };
    to = { endpoint = "no-verify"; routing_key = "tls.out2"; }; },
  { name = "refused";
    from = { endpoint = "plain"; queue = "tls.in3"; };
    to = { endpoint = "wrong-ca"; routing_key = "tls.out3"; }; }
);
EOT
t_bridge bridge "$T_DIR/bridge.conf"
out=$(rmqc verify tls.out 200 --key --header h1 --timeout 20) || t_fail "over TLS: $out"
t_log "verified TLS with a client certificate: $out"
out=$(rmqc verify tls.out2 30 --timeout 20) || t_fail "verify_peer = false: $out"
t_log "verify_peer = false: $out"
t_wait_for 15 t_log_has "$T_DIR/bridge.log" "[rabbitmq:wrong-ca]" || t_fail "no line from wrong-ca"
line=$(grep "\[rabbitmq:wrong-ca\]" "$T_DIR/bridge.log" | head -1)
case $line in
*"cannot connect to localhost:"*) t_log "wrong CA: ${line#*) }" ;;
*) t_fail "unclear error for a wrong CA: $line" ;;
esac
# The refused route still holds its messages: the drain gives up after shutdown_timeout and
# says so with exit status 4; the source queue keeps them.
kill -TERM "$T_BRIDGE_PID"
wait "$T_BRIDGE_PID"
t_assert_eq "$?" 4 "exit status with messages in flight"
t_assert_eq "$(rmq_count tls.in3)" 3 "tls.in3 after the run"
t_log "ok"
