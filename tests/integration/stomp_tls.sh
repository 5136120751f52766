#!/bin/sh
# stomp+ssl:// against Debian's ActiveMQ with a TLS transport connector: a private broker
# (scripts/activemq-node.sh with ACTIVEMQ_STOMP_SSL_PORT: a test CA and a certificate for
# 127.0.0.1) on ports next to the shared one's. An independent client sends over plain STOMP to
# /queue/in; msgbridge moves the queue to /queue/out with both its source and its sink over TLS
# (the CA in ca_file); the client checks every message byte for byte. Then what fails, with
# the reason in the log: a broker certificate from another CA, a url host the certificate does
# not name; and verify_peer = false connecting anyway. -t warns about TLS keys on stomp://.
. "$(dirname "$0")/lib.sh"
t_need activemq
. "$(dirname "$0")/stomp_lib.sh"
command -v openssl >/dev/null 2>&1 || t_skip "openssl is not installed"

N=$(t_count 2000)
base=${BRG_TEST_STOMP_PORT:-36613}
plain=$((base + 150)); tls=$((base + 151)); ow=$((base + 153))
amq_dir=$T_DIR/amq
node() {
    BRG_TEST_STATE_DIR=$amq_dir ACTIVEMQ_STOMP_PORT=$plain ACTIVEMQ_OPENWIRE_PORT=$ow \
        ACTIVEMQ_STOMP_SSL_PORT=$tls sh "$top_srcdir/scripts/activemq-node.sh" "$@"
}
trap 'node stop >/dev/null 2>&1; t_cleanup' EXIT
node start >"$T_DIR/node.log" 2>&1 || t_fail "private ActiveMQ with TLS: $(tail -5 "$T_DIR/node.log")"
# shellcheck disable=SC1091
. "$amq_dir/activemq.env"
ST_HOSTPORT=127.0.0.1:$plain
qin=stls.in.$$
qout=stls.out.$$

conf() { # conf FILE URL EXTRA_ENDPOINT_KEYS
    cat >"$1" <<EOT
bridge = { id = "stls-$$"; };
endpoints = ( { name = "amq"; type = "stomp"; url = "$2"; heartbeat = 2000; $3 } );
routes = (
  { name = "in-to-out"; from = { endpoint = "amq"; destination = "/queue/$qin"; };
    to = { endpoint = "amq"; destination = "/queue/$qout"; }; max_in_flight = 500; }
);
EOT
}

# -t: TLS keys do nothing on a plain url.
conf "$T_DIR/plain.conf" "stomp://127.0.0.1:$plain" "ca_file = \"$BRG_TEST_STOMP_SSL_CA\";"
"$MSGBRIDGE" -t -c "$T_DIR/plain.conf" >"$T_DIR/check.log" 2>&1 || t_fail "-t: $(cat "$T_DIR/check.log")"
grep -q 'plain.conf:2: warning: endpoints\[0\].ca_file: ca_file has no effect without a stomp+ssl:// url' \
    "$T_DIR/check.log" || t_fail "no warning for ca_file on stomp://: $(cat "$T_DIR/check.log")"

# Through TLS both ways, checked byte for byte by the independent client.
stc send "/queue/$qin" "$N" >"$T_DIR/send.log" || t_fail "send: $(cat "$T_DIR/send.log")"
conf "$T_DIR/tls.conf" "$BRG_TEST_STOMP_SSL_URL" "ca_file = \"$BRG_TEST_STOMP_SSL_CA\";"
"$MSGBRIDGE" -t -c "$T_DIR/tls.conf" >"$T_DIR/check2.log" 2>&1 || t_fail "-t: $(cat "$T_DIR/check2.log")"
grep -q warning "$T_DIR/check2.log" && t_fail "unexpected warning: $(cat "$T_DIR/check2.log")"
t_bridge tls "$T_DIR/tls.conf"
out=$(stc recv "/queue/$qout" "$N" --timeout 90) || t_fail "through TLS: $out"
t_log "through TLS: $out"
grep -q "connected to 127.0.0.1:$tls (STOMP 1.2 over TLS" "$T_DIR/tls.log" ||
    t_fail "no TLS connection logged: $(head -5 "$T_DIR/tls.log")"
t_stop "$T_BRIDGE_PID"
t_assert_eq "$(stc count "/queue/$qin" | sed 's/[^0-9]//g')" 0 "left in /queue/$qin"

# A certificate from a CA we do not trust: refused, and the log says why.
conf "$T_DIR/other.conf" "$BRG_TEST_STOMP_SSL_URL" "ca_file = \"$BRG_TEST_STOMP_SSL_OTHER_CA\";"
t_bridge other "$T_DIR/other.conf"
want="cannot connect: TLS handshake with 127.0.0.1:$tls: certificate verify failed: self-signed certificate in certificate chain"
logged() { grep -qF "$1" "$2"; }
t_wait_for 20 logged "$want" "$T_DIR/other.log" || t_fail "no verification error: $(tail -3 "$T_DIR/other.log")"
t_stop "$T_BRIDGE_PID"

# The right CA, but the url names a host the certificate does not (it names IP 127.0.0.1).
conf "$T_DIR/host.conf" "stomp+ssl://localhost:$tls" "ca_file = \"$BRG_TEST_STOMP_SSL_CA\";"
t_bridge host "$T_DIR/host.conf"
want="cannot connect: TLS handshake with localhost:$tls: certificate verify failed: hostname mismatch"
t_wait_for 20 logged "$want" "$T_DIR/host.log" || t_fail "no host name error: $(tail -3 "$T_DIR/host.log")"
t_stop "$T_BRIDGE_PID"

# verify_peer = false: connects whatever the certificate (for tests only).
conf "$T_DIR/noverify.conf" "$BRG_TEST_STOMP_SSL_URL" \
    "ca_file = \"$BRG_TEST_STOMP_SSL_OTHER_CA\"; verify_peer = false;"
t_bridge noverify "$T_DIR/noverify.conf"
t_wait_for 20 logged "over TLS" "$T_DIR/noverify.log" || t_fail "verify_peer = false: $(tail -3 "$T_DIR/noverify.log")"
t_stop "$T_BRIDGE_PID"
t_log "ok"
