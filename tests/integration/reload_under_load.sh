#!/bin/sh
# SIGHUP under load, through real brokers: while records stream in, one route is removed
# (RabbitMQ -> Kafka, mid-drain, rate-limited so that it has messages in flight) and one is
# added (Kafka -> RabbitMQ, a new consumer group from the earliest offset); a third route keeps
# running. Checked: the kept route's endpoints were not restarted or reconnected and its queue
# holds every record exactly once; the removed route lost nothing (every message is either on
# its Kafka topic or still in its source queue); the added route copies every record; a bad
# file sent with SIGHUP changes nothing.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
t_need kafka
. "$(dirname "$0")/rabbitmq_lib.sh"
. "$(dirname "$0")/kafka_lib.sh"

N=$(t_count 10000)  # records streamed into Kafka topic A while the reload happens
M=$(t_count 5000)   # messages waiting in the removed route's source queue
A=rl-a-$$; B=rl-b-$$
k_topic "$A" 2
k_topic "$B" 1
rmq_fresh "rl.a.$$" "rl.in.$$" "rl.c.$$"
rmqc publish "" "rl.in.$$" "$M" --size 64 >/dev/null || t_fail "publish"
port=$((19900 + $$ % 90))

# Each route has endpoints of its own, so changing one route leaves the others' connections
# alone (an endpoint is restarted when any route on it changes; see docs/operations.md).
head_conf() {
    cat <<EOT
bridge = { id = "rl"; metrics = "127.0.0.1:$port"; shutdown_timeout = 20; };
endpoints = (
  { name = "kafka-a"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS"; properties = [ $K_PROPS ]; },
  { name = "rabbit-a"; type = "rabbitmq"; url = "$RMQ_URL"; }$1
);
EOT
}
kept_route='{ name = "kept";
    from = { endpoint = "kafka-a"; topic = "'$A'"; group = "rl-kept-'$$'"; start = "earliest"; };
    to = { endpoint = "rabbit-a"; routing_key = "rl.a.'$$'"; }; }'
{ head_conf ',
  { name = "rabbit-b"; type = "rabbitmq"; url = "'"$RMQ_URL"'"; },
  { name = "kafka-b"; type = "kafka"; brokers = "'"$BRG_TEST_KAFKA_BROKERS"'"; properties = [ '"$K_PROPS"' ]; }'
  cat <<EOT
routes = ( $kept_route,
  { name = "removed";
    from = { endpoint = "rabbit-b"; queue = "rl.in.$$"; };
    to = { endpoint = "kafka-b"; topic = "$B"; };
    rate = { messages_per_second = $((M / 5)); }; }
);
EOT
} >"$T_DIR/v1.conf"
{ head_conf ',
  { name = "kafka-c"; type = "kafka"; brokers = "'"$BRG_TEST_KAFKA_BROKERS"'"; properties = [ '"$K_PROPS"' ]; },
  { name = "rabbit-c"; type = "rabbitmq"; url = "'"$RMQ_URL"'"; }'
  cat <<EOT
routes = ( $kept_route,
  { name = "added";
    from = { endpoint = "kafka-c"; topic = "$A"; group = "rl-added-$$"; start = "earliest"; };
    to = { endpoint = "rabbit-c"; routing_key = "rl.c.$$"; }; }
);
EOT
} >"$T_DIR/v2.conf"
"$MSGBRIDGE" -t -c "$T_DIR/v1.conf" >/dev/null || t_fail "v1 config: $("$MSGBRIDGE" -t -c "$T_DIR/v1.conf" 2>&1)"
"$MSGBRIDGE" -t -c "$T_DIR/v2.conf" >/dev/null || t_fail "v2 config: $("$MSGBRIDGE" -t -c "$T_DIR/v2.conf" 2>&1)"

cp "$T_DIR/v1.conf" "$T_DIR/bridge.conf"
t_bridge bridge "$T_DIR/bridge.conf"
t_wait_for 30 curl -sf "http://127.0.0.1:$port/readyz" || t_fail "not ready: $(cat "$T_DIR/bridge.log")"

metric() { # NAME LABELS
    curl -s "http://127.0.0.1:$port/metrics" | grep -F "$1{$2}" | sed 's/.* //'
}
# Stream N records into A over about 4 s (any N) and reload in the middle of it; the removed
# route drains its M messages over about 5 s.
k_produce "$A" "$N" 2 0 100 $((N / 4)) &
kp=$!
# Reload in the middle of the stream: once a quarter of it has arrived.
t_wait_for 30 rmq_at_least "rl.a.$$" $((N / 4)) || t_fail "the stream did not start"
# A broken file first: logged, nothing changes.
echo 'routes = ( { name = "x"; from = ' >"$T_DIR/bridge.conf"
kill -HUP "$T_BRIDGE_PID"
t_wait_for 10 grep -q "has errors; the running configuration is unchanged" "$T_DIR/bridge.log" ||
    t_fail "bad reload not reported: $(cat "$T_DIR/bridge.log")"
moved=$(metric msgbridge_route_messages_out_total 'route="removed"')
[ "${moved:-0}" -gt 0 ] && [ "$moved" -lt "$M" ] ||
    t_fail "the removed route should be mid-drain at the reload (moved $moved of $M)"
cp "$T_DIR/v2.conf" "$T_DIR/bridge.conf"
kill -HUP "$T_BRIDGE_PID"
t_wait_for 20 grep -q "reload: done" "$T_DIR/bridge.log" || t_fail "reload did not finish: $(cat "$T_DIR/bridge.log")"
grep -q "reload: done: 2 endpoints kept running, 2 started" "$T_DIR/bridge.log" ||
    t_fail "expected the kept route's 2 endpoints to keep running: $(grep 'reload' "$T_DIR/bridge.log")"
wait $kp || t_fail "producer failed"

# The kept route: all N once, its endpoints never reconnected.
rmq_wait_count "rl.a.$$" "$N" 60 || t_fail "kept route: $(rmq_count "rl.a.$$") of $N"
rmq_wait_count "rl.c.$$" "$N" 60 || t_fail "added route: $(rmq_count "rl.c.$$") of $N"
t_assert_eq "$(metric msgbridge_endpoint_reconnects_total 'endpoint="kafka-a",adapter="kafka"')" 0 "kafka-a reconnects"
t_assert_eq "$(metric msgbridge_endpoint_reconnects_total 'endpoint="rabbit-a",adapter="rabbitmq"')" 0 "rabbit-a reconnects"
counts() { rmq_count "rl.a.$$"; rmq_count "rl.c.$$"; }
t_steady 1 30 counts || t_fail "messages still arriving"
t_stop "$T_BRIDGE_PID"

distinct_values() { # QUEUE -> distinct "value-<i>" bodies (and total in $T_DIR/total)
    rmqc dump "$1" $((N * 2 + 10)) >"$T_DIR/dump.$1"
    wc -l <"$T_DIR/dump.$1" >"$T_DIR/total"
    sed -n 's/.*body="\(value-[0-9]*\)\..*/\1/p' "$T_DIR/dump.$1" | sort -u | wc -l
}
t_assert_eq "$(distinct_values "rl.a.$$")" "$N" "kept route: distinct records"
t_assert_eq "$(cat "$T_DIR/total")" "$N" "kept route: no duplicates (it was never restarted)"
t_assert_eq "$(distinct_values "rl.c.$$")" "$N" "added route: distinct records"

# The removed route: each of the M messages is on topic B or still in its queue.
kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$B" -o beginning -e -q -f '%s\n' 2>/dev/null |
    sed -n 's/^\(msg-[0-9]*\)-.*/\1/p' >"$T_DIR/removed.kafka"
rmqc dump "rl.in.$$" $((M + 10)) | sed -n 's/.*body="\(msg-[0-9]*\)-.*/\1/p' >"$T_DIR/removed.queue"
on_kafka=$(sort -u "$T_DIR/removed.kafka" | wc -l)
in_queue=$(wc -l <"$T_DIR/removed.queue")
all=$(cat "$T_DIR/removed.kafka" "$T_DIR/removed.queue" | sort -u | wc -l)
t_assert_eq "$all" "$M" "removed route: messages accounted for (on Kafka $on_kafka, left in queue $in_queue)"
[ "$in_queue" -gt 0 ] || t_fail "the removed route had drained before the reload; the test did not test"
rmqc delete "rl.a.$$" >/dev/null 2>&1; rmqc delete "rl.in.$$" >/dev/null 2>&1; rmqc delete "rl.c.$$" >/dev/null 2>&1
t_log "ok: kept $N once, added $N, removed route: $on_kafka moved + $in_queue left = $M"
