#!/bin/sh
# Destinations rendered per message: one route fans out to an ActiveMQ queue chosen by
# `destination = "/queue/tpl.${key}"` (STOMP) and to a RabbitMQ queue chosen by
# `address = "queue://tpl.${header.region}"` (AMQP 1.0). Each message lands in the queue its own
# key or header names, none elsewhere. The sinks render into reused memory (no allocation per
# message): this checks that a shorter name after a longer one, and names that alternate, come
# out right. (A message for a RabbitMQ queue that does not exist would be dropped by RabbitMQ
# itself, see docs/amqp1.md: every region here has its queue.)
. "$(dirname "$0")/lib.sh"
t_need activemq
t_need rabbitmq
. "$(dirname "$0")/stomp_lib.sh"
. "$(dirname "$0")/amqp1_lib.sh"

P=tpl$$
# Keys and regions of different lengths, alternating, so that a rendering reuses the memory of
# a longer one before it.
KEYS="north-east-1 s w"
REGIONS="eu america ap"
a1_queue "$P.eu" "$P.america" "$P.ap"
trap 'a1_delete "$P.eu" "$P.america" "$P.ap"; t_cleanup' EXIT

N=30 # per key
i=0
while [ $i -lt $((N * 3)) ]; do
    k=$(echo "$KEYS" | cut -d' ' -f$((i % 3 + 1)))
    r=$(echo "$REGIONS" | cut -d' ' -f$((i % 3 + 1)))
    printf '{"body":"m-%d","key":"%s","headers":[{"name":"region","type":"string","value":"%s"}]}\n' \
        "$i" "$k" "$r"
    i=$((i + 1))
done >"$T_DIR/in.jsonl"

cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "$P"; };
endpoints = (
  { name = "in"; type = "file"; path = "$T_DIR/in.jsonl"; },
  { name = "amq"; type = "stomp"; url = "$BRG_TEST_STOMP_URL"; },
  { name = "rmq"; type = "amqp1"; url = "$A1_URL"; broker = "rabbitmq"; }
);
routes = (
  { name = "by-key-and-region";
    from = { endpoint = "in"; };
    to = ( { endpoint = "amq"; destination = "/queue/$P.\${key}"; },
           { endpoint = "rmq"; address = "queue://$P.\${header.region}"; } ); }
);
EOT
"$MSGBRIDGE" -t -c "$T_DIR/bridge.conf" >"$T_DIR/check.log" 2>&1 || t_fail "-t: $(cat "$T_DIR/check.log")"
t_bridge bridge "$T_DIR/bridge.conf"

rmq_has() { [ "$(a1_count "$P.$1")" = "$2" ]; }
for r in $REGIONS; do
    t_wait_for 60 rmq_has "$r" "$N" || t_fail "RabbitMQ queue $P.$r holds $(a1_count "$P.$r"), not $N"
done
# ActiveMQ by key.
for k in $KEYS; do
    t_assert_eq "$(stc count "/queue/$P.$k" --idle 3)" "$N" "messages in ActiveMQ queue $P.$k"
done
# RabbitMQ by header: every message in a region's queue carries that region.
for r in $REGIONS; do
    a1c dump "/amq/queue/$P.$r" "$N" --idle 3 >"$T_DIR/$r.dump" 2>&1 || t_fail "dump $P.$r"
    t_assert_eq "$(grep -c "^region	" "$T_DIR/$r.dump")" "$N" "messages with a region in $P.$r"
    t_assert_eq "$(grep "^region	" "$T_DIR/$r.dump" | grep -vc "'$r'")" 0 \
        "messages of another region in $P.$r"
done
t_log "ok: $((N * 3)) messages to 3 ActiveMQ and 3 RabbitMQ queues by key and by header"
