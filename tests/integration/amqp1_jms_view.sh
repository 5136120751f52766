#!/bin/sh
# What a JMS (or any AMQP 1.0) consumer reads from the AMQP 1.0 sink, through RabbitMQ's AMQP 1.0
# plugin, read by the independent python-qpid-proton client: a plain Kafka record's key and
# header values that are UTF-8 arrive as AMQP strings ("café", a backslash: no escaping), a
# header value that is not UTF-8 stays binary, and x-msgbridge-amqp-types lists the ones that
# were bytes. Then the same records go Kafka -> AMQP 1.0 -> Kafka and come back byte for byte
# (no type hint added on Kafka). Also what `msgbridge -t` says about topic sources: durable =
# false loses messages, and RabbitMQ 3.x cannot subscribe durably.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
t_need kafka
. "$(dirname "$0")/amqp1_lib.sh"
command -v kcat >/dev/null 2>&1 || t_skip "kcat is not installed"
. "$(dirname "$0")/kafka_lib.sh"

# ---- msgbridge -t on topic sources (no broker involved) ----
cat >"$T_DIR/topics.conf" <<EOT
bridge = { id = "jv"; };
endpoints = (
  { name = "amq"; type = "amqp1"; url = "amqp://127.0.0.1:1"; broker = "activemq"; },
  { name = "rmq"; type = "amqp1"; url = "amqp://127.0.0.1:1"; broker = "rabbitmq"; },
  { name = "mem"; type = "memory"; }
);
routes = (
  { name = "durable"; from = { endpoint = "amq"; address = "topic://prices"; subscription = "px"; };
    to = { endpoint = "mem"; stream = "a"; }; },
  { name = "lossy"; from = { endpoint = "amq"; address = "topic://ticks"; durable = false; };
    to = { endpoint = "mem"; stream = "b"; }; },
  { name = "queue"; from = { endpoint = "amq"; address = "queue://orders"; durable = true; };
    to = { endpoint = "mem"; stream = "c"; }; },
  { name = "rabbit-topic"; from = { endpoint = "rmq"; address = "/topic/prices"; };
    to = { endpoint = "mem"; stream = "d"; }; }
);
EOT
"$MSGBRIDGE" -t -c "$T_DIR/topics.conf" >"$T_DIR/check.log" 2>&1 || t_fail "-t: $(cat "$T_DIR/check.log")"
grep -q 'topics.conf:10: warning: routes\[1\].from.durable: durable = false: messages published to topic://ticks while msgbridge is stopped or reconnecting are lost' "$T_DIR/check.log" ||
    t_fail "no durable = false warning: $(cat "$T_DIR/check.log")"
grep -q 'topics.conf:12: warning: routes\[2\].from.durable: durable has no effect on queue://orders (only topic subscriptions)' "$T_DIR/check.log" ||
    t_fail "no warning for durable on a queue: $(cat "$T_DIR/check.log")"
grep -q 'topics.conf:14: warning: routes\[3\].from.address: RabbitMQ 3.x has no durable AMQP 1.0 topic subscriptions: messages published to /topic/prices while msgbridge is stopped are lost (read a queue bound to the exchange instead)' "$T_DIR/check.log" ||
    t_fail "no RabbitMQ topic warning: $(cat "$T_DIR/check.log")"
t_assert_eq "$(grep -c 'warning' "$T_DIR/check.log")" 3 "warnings from -t"

# ---- what a consumer reads ----
src=jv.src.$$
dst=jv.dst.$$
q=jv.q.$$
k_topic "$src" 1
k_topic "$dst" 1
a1_queue "$q"
trap 'a1_delete "$q"; t_cleanup' EXIT
# Record 1: UTF-8 key and headers (é, a backslash, a comma and '%' in a name); record 2: a
# header value that is not UTF-8 (kcat -H takes the raw bytes) and no key.
printf 'k01|v1\n' | kcat -P -b "$BRG_TEST_KAFKA_BROKERS" -t "$src" -p 0 -K '|' \
    -H "$(printf 'city=caf\303\251')" -H 'path=a\b' -H 'a,b%c=v' 2>/dev/null || t_fail "kcat produce"
printf 'v2\n' | kcat -P -b "$BRG_TEST_KAFKA_BROKERS" -t "$src" -p 0 \
    -H "$(printf 'raw=\377\376')" -H 'ok=plain' 2>/dev/null || t_fail "kcat produce"

cat >"$T_DIR/out.conf" <<EOT
bridge = { id = "jv"; };
endpoints = (
  { name = "kafka"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS"; properties = [ $K_PROPS ]; },
  { name = "amq"; type = "amqp1"; url = "amqp://guest:guest@$A1_HOSTPORT"; }
);
routes = (
  { name = "out"; from = { endpoint = "kafka"; topic = "$src"; group = "jv-$$"; start = "earliest"; };
    to = { endpoint = "amq"; address = "queue://$q"; }; mapping = { provenance = false; }; }
);
EOT
t_bridge out "$T_DIR/out.conf"
two_queued() { [ "$(a1_count "$q")" -ge 2 ]; }
t_wait_for 30 two_queued || t_fail "only $(a1_count "$q") of 2 messages reached $q"
t_stop "$T_BRIDGE_PID"
a1c dump "/amq/queue/$q" 2 --idle 5 --timeout 30 >"$T_DIR/dump.txt" || t_fail "dump: $(cat "$T_DIR/dump.txt")"
cat >"$T_DIR/want.txt" <<'EOT'
a,b%c	str	'v'
city	str	'café'
path	str	'a\\b'
x-msgbridge-amqp-types	str	'city=binary,path=binary,a%2Cb%25c=binary'
x-msgbridge-key	str	'k01'
--
ok	str	'plain'
raw	bytes	b'\xff\xfe'
x-msgbridge-amqp-types	str	'ok=binary'
--
EOT
cmp -s "$T_DIR/want.txt" "$T_DIR/dump.txt" ||
    t_fail "application properties differ: $(diff "$T_DIR/want.txt" "$T_DIR/dump.txt")"

# ---- and back: Kafka -> AMQP 1.0 -> Kafka, byte for byte ----
cat >"$T_DIR/rt.conf" <<EOT
bridge = { id = "jv"; };
endpoints = (
  { name = "kafka"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS"; properties = [ $K_PROPS ]; },
  { name = "amq"; type = "amqp1"; url = "amqp://guest:guest@$A1_HOSTPORT"; }
);
routes = (
  { name = "out"; from = { endpoint = "kafka"; topic = "$src"; group = "jv2-$$"; start = "earliest"; };
    to = { endpoint = "amq"; address = "queue://$q"; }; mapping = { provenance = false; }; },
  { name = "back"; from = { endpoint = "amq"; address = "queue://$q"; };
    to = { endpoint = "kafka"; topic = "$dst"; }; mapping = { provenance = false; }; }
);
EOT
t_bridge rt "$T_DIR/rt.conf"
k_wait_count "$dst" 2 60 || t_fail "only $(k_count "$dst") of 2 records came back"
t_stop "$T_BRIDGE_PID"
# Headers are printed as raw bytes by kcat (%h): compare them exactly, keys included.
dump() { kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$1" -o beginning -e -q -f '%K:%k|%h|%s\n' 2>/dev/null; }
dump "$src" >"$T_DIR/src.txt"
dump "$dst" >"$T_DIR/dst.txt"
cmp -s "$T_DIR/src.txt" "$T_DIR/dst.txt" ||
    t_fail "records differ after Kafka -> AMQP 1.0 -> Kafka: $(diff "$T_DIR/src.txt" "$T_DIR/dst.txt" | od -c | head -20)"
grep -q 'x-msgbridge' "$T_DIR/dst.txt" && t_fail "a reserved header leaked into Kafka: $(cat "$T_DIR/dst.txt")"
t_log "ok: strings for JMS, bytes back on Kafka"
