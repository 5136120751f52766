#!/bin/sh
# RabbitMQ -> Kafka: 100k numbered messages published with a key (x-msgbridge-key) and a
# header arrive in a Kafka topic with their bodies, record keys and headers; checked with kcat.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
t_need kafka
. "$(dirname "$0")/rabbitmq_lib.sh"
command -v kcat >/dev/null 2>&1 || t_skip "kcat is not installed"

. "$(dirname "$0")/kafka_lib.sh"

N=$(t_count 100000)
topic=rmq-to-kafka-$$
# 8 partitions: the mock cluster keeps about 5 MiB per partition, and all N must stay readable.
k_topic "$topic" 8
rmq_fresh r2k.in
rmqc publish "" r2k.in "$N" --key --header h1 >/dev/null || t_fail "publish"

cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "r2k"; };
endpoints = (
  { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; },
  { name = "kafka"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS"; }
);
routes = (
  { name = "rabbit-to-kafka";
    from = { endpoint = "rabbit"; queue = "r2k.in"; };
    to = { endpoint = "kafka"; topic = "$topic"; }; }
);
EOT
start=$(date +%s)
t_bridge bridge "$T_DIR/bridge.conf"
# The source queue empties once every record was acknowledged by Kafka (acks=all).
i=0
while :; do
    c=$(rmq_count r2k.in)
    [ "$c" = 0 ] && grep -q "accepted=$N " "$T_DIR/bridge.log" 2>/dev/null && break
    [ "$c" = 0 ] && kill -USR1 "$T_BRIDGE_PID" 2>/dev/null
    i=$((i + 1)); [ $i -gt 600 ] && t_fail "not done after 120 s: $c left in r2k.in"
    sleep 0.2
done
t_log "moved $N in $(($(date +%s) - start)) s"
t_stop "$T_BRIDGE_PID"

kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$topic" -o beginning -e -q -f '%k\t%s\t%h\n' \
    >"$T_DIR/records.txt" 2>"$T_DIR/kcat.log" || t_fail "kcat: $(cat "$T_DIR/kcat.log")"
# Each record: key "key-<i>", body "msg-<i>-<letters>", header h1=h1-<i>; count distinct and
# duplicated numbers, and records that do not match.
awk -F '\t' -v n="$N" '
    {
        if (match($2, /^msg-[0-9]+-/) == 0) { bad++; next }
        i = substr($2, 5, RLENGTH - 5) + 0
        if ($1 != "key-" i || index($3, "h1=h1-" i) == 0 || length($2) != 100) { bad++; next }
        if (seen[i]++) dup++; else distinct++
    }
    END {
        missing = n - distinct
        printf "records %d distinct %d duplicates %d missing %d mismatched %d\n", NR, distinct, dup, missing, bad
        exit (missing == 0 && bad == 0) ? 0 : 1
    }' "$T_DIR/records.txt" >"$T_DIR/check.txt" || t_fail "$(cat "$T_DIR/check.txt"); first record: $(head -c 300 "$T_DIR/records.txt")"
t_log "$(cat "$T_DIR/check.txt")"
t_log "ok"
