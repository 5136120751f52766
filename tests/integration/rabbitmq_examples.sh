#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# The rabbitmq example configurations pass `msgbridge -t` (no broker needed), and the
# adapter's load-time checks report bad settings with their line.
. "$(dirname "$0")/lib.sh"

EAST_PASSWORD=x WEST_PASSWORD=y "$MSGBRIDGE" -t -c "$top_srcdir/examples/rabbitmq-mirror.conf" \
    >"$T_DIR/mirror.log" 2>&1 || t_fail "rabbitmq-mirror.conf: $(cat "$T_DIR/mirror.log")"
if "$MSGBRIDGE" -V 2>&1 | grep -q kafka; then
    "$MSGBRIDGE" -t -c "$top_srcdir/examples/rabbitmq-to-kafka.conf" >"$T_DIR/r2k.log" 2>&1 ||
        t_fail "rabbitmq-to-kafka.conf: $(cat "$T_DIR/r2k.log")"
fi

cat >"$T_DIR/bad.conf" <<'EOT'
endpoints = (
  { name = "r"; type = "rabbitmq"; url = "http://localhost";
    heartbeat = 99999; key_file = "/nonexistent/key.pem"; }
);
routes = (
  { name = "a"; from = { endpoint = "r"; binding_key = "x"; }; to = { endpoint = "r"; }; }
);
EOT
"$MSGBRIDGE" -t -c "$T_DIR/bad.conf" >"$T_DIR/bad.log" 2>&1 && t_fail "bad.conf was accepted"
for want in \
    "bad.conf:2: endpoints[0].url: invalid url \"http://localhost\"" \
    "bad.conf:3: endpoints[0].heartbeat: must be between 0 and 3600, not 99999" \
    "bad.conf:3: endpoints[0].key_file: cannot read \"/nonexistent/key.pem\": No such file or directory" \
    "bad.conf:3: endpoints[0].key_file: key_file needs cert_file" \
    "routes[0].from: set queue (to consume an existing queue), or exchange" \
    "bad.conf:6: routes[0].from.binding_key: binding_key needs exchange" \
    "routes[0].to: set exchange and/or routing_key"; do
    grep -F -q -- "$want" "$T_DIR/bad.log" || t_fail "missing diagnostic: $want; got: $(cat "$T_DIR/bad.log")"
done
t_log "ok"
