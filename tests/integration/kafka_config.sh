#!/bin/sh
# Bad Kafka settings are configuration errors with the line of the offending list element
# (msgbridge -t exits 1 and lists every error), before anything connects.
# (The closing "]" of the list is on the same line as its last element: libconfig reports the
# last element of a list at the line of the token after it.)
. "$(dirname "$0")/lib.sh"

"$MSGBRIDGE" -V 2>&1 | grep -qw kafka || t_skip "msgbridge built without the kafka adapter"

cat >"$T_DIR/bad.conf" <<'EOC'
bridge = { id = "cfg"; };
endpoints = (
  { name = "k"; type = "kafka"; brokers = "127.0.0.1:1";
    properties = [
      "linger.ms=5",
      "no.such.property=1",
      "compression.type=zip",
      "enable.auto.offset.store=true" ]; }
);
routes = (
  { name = "r";
    from = { endpoint = "k"; topics = [ "orders", "^orders\\.(eu|us" ]; group = "g";
             start = "soon"; };
    to = { endpoint = "k"; topic = "copy"; partition = "first"; }; }
);
EOC
"$MSGBRIDGE" -t -c "$T_DIR/bad.conf" >"$T_DIR/out" 2>&1
rc=$?
cat "$T_DIR/out"
t_assert_eq "$rc" 1 "exit status of msgbridge -t on a bad file"
f=$T_DIR/bad.conf
expect() {
    grep -qF -- "$1" "$T_DIR/out" || t_fail "missing diagnostic: $1"
}
expect "$f:6: endpoints[0].properties[1]: unknown librdkafka property \"no.such.property\""
expect "$f:7: endpoints[0].properties[2]: bad value for librdkafka property \"compression.type\": "
expect "$f:8: endpoints[0].properties[3]: librdkafka property \"enable.auto.offset.store\" is set by msgbridge"
expect "$f:12: routes[0].from.topics[1]: bad regex \"^orders\\.(eu|us\": "
expect "$f:13: routes[0].from.start: must be \"earliest\" or \"latest\", not \"soon\""
expect "$f:14: routes[0].to.partition: \"first\" is not a partition number (or a template)"

# The same file, fixed, passes.
cat >"$T_DIR/good.conf" <<'EOC'
bridge = { id = "cfg"; };
endpoints = (
  { name = "k"; type = "kafka"; brokers = "127.0.0.1:1";
    properties = [ "linger.ms=5", "compression.type=lz4" ]; }
);
routes = (
  { name = "r";
    from = { endpoint = "k"; topics = [ "orders", "^orders\\.(eu|us)$" ]; group = "g";
             start = "latest"; };
    to = { endpoint = "k"; topic = "copy"; partition = "${partition}"; }; }
);
EOC
"$MSGBRIDGE" -t -c "$T_DIR/good.conf" >"$T_DIR/good.out" 2>&1 ||
    t_fail "good config refused: $(cat "$T_DIR/good.out")"
t_log "ok: 6 errors reported at their lines; the fixed file passes"

# The Kafka examples are valid.
for ex in "$top_srcdir"/examples/kafka-mirror.conf "$top_srcdir"/examples/kafka-to-stdout.conf; do
    KAFKA=127.0.0.1:9092 "$MSGBRIDGE" -t -c "$ex" >"$T_DIR/ex.out" 2>&1 ||
        t_fail "$(basename "$ex") is not valid: $(cat "$T_DIR/ex.out")"
done
t_log "ok: examples/kafka-mirror.conf and kafka-to-stdout.conf are valid"
