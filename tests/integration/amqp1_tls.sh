#!/bin/sh
# AMQP 1.0 over TLS (amqps://) with the test node's CA: a route over a verified connection with
# a client certificate moves messages intact; an endpoint that trusts another CA logs a clear
# certificate error and keeps retrying; verify_peer = false connects anyway.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
. "$(dirname "$0")/amqp1_lib.sh"
[ -n "${BRG_TEST_RABBITMQ_TLS_URL:-}" ] || t_skip "the test node has no TLS listener"
tls=$BRG_TEST_RABBITMQ_TLS_DIR
hp=${BRG_TEST_RABBITMQ_TLS_URL#amqps://guest:guest@}
hp=${hp%%/*}

N=$(t_count 2000)
qin=a1tls.in.$$
qout=a1tls.out.$$
a1_queue "$qin" "$qout"
trap 'a1_delete "$qin" "$qout"; t_cleanup' EXIT

cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "tls"; };
endpoints = (
  { name = "tls"; type = "amqp1"; url = "amqps://$hp"; user = "guest"; password = "guest";
    ca_file = "$tls/ca.pem"; cert_file = "$tls/client.pem"; key_file = "$tls/client.key"; },
  { name = "wrongca"; type = "amqp1"; url = "amqps://$hp"; user = "guest"; password = "guest";
    ca_file = "$tls/other-ca.pem"; },
  { name = "noverify"; type = "amqp1"; url = "amqps://$hp"; user = "guest"; password = "guest";
    verify_peer = false; }
);
routes = (
  { name = "over-tls";
    from = { endpoint = "tls"; address = "queue://$qin"; };
    to = { endpoint = "noverify"; address = "queue://$qout"; }; },
  { name = "wrong-ca";
    from = { endpoint = "wrongca"; address = "queue://$qin"; };
    to = { endpoint = "tls"; address = "queue://$qout"; }; }
);
EOT
out=$(a1c send "/amq/queue/$qin" "$N" --tag tls) || t_fail "send: $out"
t_bridge bridge "$T_DIR/bridge.conf"
out=$(a1c recv "/amq/queue/$qout" "$N" --tag tls --idle 15 --timeout 40) || t_fail "$out"
t_log "$out"
log=$T_DIR/bridge.log
t_wait_for 10 t_log_has "$log" "certificate verify failed" || t_fail "no certificate error: $(cat "$log")"
grep -F "[amqp1:wrongca]" "$log" | grep -F -q "cannot connect to" || t_fail "wrong CA error not on its endpoint"
t_log "$(grep -F "certificate verify failed" "$log" | head -1 | cut -d' ' -f2-)"
grep -F "[amqp1:tls]" "$log" | grep -F -q "connected to" || t_fail "tls endpoint did not connect"
grep -F "[amqp1:noverify]" "$log" | grep -F -q "connected to" || t_fail "noverify endpoint did not connect"
t_stop "$T_BRIDGE_PID"
t_log "ok"
