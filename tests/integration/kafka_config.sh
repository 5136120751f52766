#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
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
    to = { endpoint = "k"; topic = "copy"; partition = "first"; }; },
  { name = "r2";
    from = { endpoint = "k"; topic = "orders"; group = "g2"; on_gap = "skip"; };
    to = { endpoint = "k"; topic = "copy2"; }; }
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
expect "$f:13: routes[0].from.start: unknown start \"soon\" (valid: earliest, latest)"
expect "$f:14: routes[0].to.partition: \"first\" is not a partition number (or a template)"
expect "$f:16: routes[1].from.on_gap: unknown on_gap \"skip\" (valid: continue, stop)"

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
             start = "latest"; on_gap = "stop"; };
    to = { endpoint = "k"; topic = "copy"; partition = "${partition}"; }; }
);
EOC
"$MSGBRIDGE" -t -c "$T_DIR/good.conf" >"$T_DIR/good.out" 2>&1 ||
    t_fail "good config refused: $(cat "$T_DIR/good.out")"
t_log "ok: 7 errors reported at their lines; the fixed file passes"

# The Kafka examples are valid.
for ex in "$top_srcdir"/examples/kafka-mirror.conf "$top_srcdir"/examples/kafka-to-stdout.conf; do
    KAFKA=127.0.0.1:9092 "$MSGBRIDGE" -t -c "$ex" >"$T_DIR/ex.out" 2>&1 ||
        t_fail "$(basename "$ex") is not valid: $(cat "$T_DIR/ex.out")"
done
t_log "ok: examples/kafka-mirror.conf and kafka-to-stdout.conf are valid"

# A Kafka-sourced route is windowed in bytes (docs/configuration.md): 2 MiB, and as many
# records as that allows at 400 bytes each, but no more messages than its slowest kind of
# sink can use (1000 for RabbitMQ, AMQP 1.0 and STOMP); a key the user sets is kept exactly,
# the other follows the defaults. Other sources keep 1000 messages and 16 MiB.
cat >"$T_DIR/window.conf" <<'EOC'
bridge = { id = "cfg"; };
endpoints = ( { name = "k"; type = "kafka"; brokers = "127.0.0.1:1"; },
              { name = "m"; type = "memory"; },
              { name = "r"; type = "rabbitmq"; url = "amqp://guest:guest@127.0.0.1:1/"; },
              { name = "a"; type = "amqp1"; url = "amqp://127.0.0.1:1"; },
              { name = "s"; type = "stomp"; url = "stomp://127.0.0.1:1"; } );
routes = (
  { name = "dflt"; from = { endpoint = "k"; topic = "a"; group = "g1"; };
    to = { endpoint = "k"; topic = "a2"; }; },
  { name = "count"; max_in_flight = 1000; from = { endpoint = "k"; topic = "b"; group = "g2"; };
    to = { endpoint = "k"; topic = "b2"; }; },
  { name = "bytes"; max_in_flight_bytes = 1048576;
    from = { endpoint = "k"; topic = "c"; group = "g3"; }; to = { endpoint = "k"; topic = "c2"; }; },
  { name = "both"; max_in_flight = 50; max_in_flight_bytes = 65536;
    from = { endpoint = "k"; topic = "d"; group = "g4"; }; to = { endpoint = "k"; topic = "d2"; }; },
  { name = "mem"; from = { endpoint = "m"; }; to = { endpoint = "k"; topic = "e"; }; },
  { name = "k2m"; from = { endpoint = "k"; topic = "f"; group = "g5"; }; to = { endpoint = "m"; }; },
  { name = "k2r"; from = { endpoint = "k"; topic = "g"; group = "g6"; };
    to = { endpoint = "r"; exchange = ""; routing_key = "q"; }; },
  { name = "k2a"; from = { endpoint = "k"; topic = "h"; group = "g7"; };
    to = { endpoint = "a"; address = "q"; }; },
  { name = "k2s"; from = { endpoint = "k"; topic = "i"; group = "g8"; };
    to = { endpoint = "s"; destination = "/queue/q"; }; },
  { name = "fan"; from = { endpoint = "k"; topic = "j"; group = "g9"; };
    to = ( { endpoint = "k"; topic = "j2"; }, { endpoint = "r"; exchange = ""; routing_key = "q"; } ); },
  { name = "k2rbytes"; max_in_flight_bytes = 262144; from = { endpoint = "k"; topic = "l"; group = "g10"; };
    to = { endpoint = "r"; exchange = ""; routing_key = "q"; }; },
  { name = "k2rcount"; max_in_flight = 3000; from = { endpoint = "k"; topic = "m"; group = "g11"; };
    to = { endpoint = "r"; exchange = ""; routing_key = "q"; }; }
);
EOC
"$MSGBRIDGE" -t -c "$T_DIR/window.conf" >"$T_DIR/window.out" 2>&1 ||
    t_fail "window config refused: $(cat "$T_DIR/window.out")"
window() {
    sed -n "/^  $1: /,/max_in_flight=/p" "$T_DIR/window.out" | sed -n 's/.*(\(max_in_flight=.*\))$/\1/p'
}
t_assert_eq "$(window dflt)" "max_in_flight=5242, max_in_flight_bytes=2097152" "default Kafka window"
t_assert_eq "$(window count)" "max_in_flight=1000, max_in_flight_bytes=2097152" "max_in_flight set"
t_assert_eq "$(window bytes)" "max_in_flight=2621, max_in_flight_bytes=1048576" "max_in_flight_bytes set"
t_assert_eq "$(window both)" "max_in_flight=50, max_in_flight_bytes=65536" "both set"
t_assert_eq "$(window mem)" "max_in_flight=1000, max_in_flight_bytes=16777216" "memory source"
t_assert_eq "$(window k2m)" "max_in_flight=5242, max_in_flight_bytes=2097152" "Kafka to memory"
for r in k2r k2a k2s fan; do
    t_assert_eq "$(window $r)" "max_in_flight=1000, max_in_flight_bytes=2097152" "$r: bounded by its sink"
done
t_assert_eq "$(window k2rbytes)" "max_in_flight=655, max_in_flight_bytes=262144" "fewer than the sink's bound"
t_assert_eq "$(window k2rcount)" "max_in_flight=3000, max_in_flight_bytes=2097152" "max_in_flight set, to RabbitMQ"
t_log "ok: Kafka-sourced windows in bytes by default, bounded by RabbitMQ, AMQP 1.0 and STOMP sinks, user settings kept exactly"
