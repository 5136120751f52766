#!/bin/sh
# One bridge, both directions: Kafka topic ev -> RabbitMQ exchange ev.x, and queue ev.q (bound
# to ev.x by hand, not in the config) -> Kafka ev, default mapping settings. A message published
# once appears once on each side, never echoed: the route that would write it back to the
# stream it was read from drops it, counts it as loop_dropped (not accepted) and says so in a
# rate-limited WARN. Then only drops for a while: /readyz turns 503 naming the route (the
# window is shortened for the test with BRG_TEST_LOOP_WINDOW_MS), and 200 again once the
# route reads nothing more.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
t_need kafka
. "$(dirname "$0")/rabbitmq_lib.sh"
. "$(dirname "$0")/kafka_lib.sh"

N=$(t_count 3000)   # written to Kafka
M=$(t_count 2000)   # written to RabbitMQ
topic=ev-$$; exch=ev.x.$$; EVQ=ev.q.$$; obs=ev.observe.$$
k_topic "$topic" 3
rmqc declare-exchange "$exch" fanout >/dev/null || t_fail "declare exchange"
rmq_fresh "$EVQ" "$obs"
rmqc declare "$EVQ" "$exch" "" >/dev/null || t_fail "bind $EVQ"
rmqc declare "$obs" "$exch" "" >/dev/null || t_fail "bind $obs"

PORT=$(t_free_port)
RMQ_HTTP=http://127.0.0.1:$PORT
cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "loops"; metrics = "127.0.0.1:$PORT"; };
endpoints = (
  { name = "kafka"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS"; properties = [ $K_PROPS ]; },
  { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; }
);
routes = (
  { name = "k2r"; from = { endpoint = "kafka"; topic = "$topic"; group = "ev-$$"; start = "earliest"; };
    to = { endpoint = "rabbit"; exchange = "$exch"; }; },
  { name = "r2k"; from = { endpoint = "rabbit"; queue = "$EVQ"; };
    to = { endpoint = "kafka"; topic = "$topic"; }; }
);
EOT
BRG_TEST_LOOP_WINDOW_MS=3000 t_bridge bridge "$T_DIR/bridge.conf"
t_wait_for 30 curl -sf "$RMQ_HTTP/readyz" || t_fail "not ready: $(tail -5 "$T_DIR/bridge.log")"

field() { rmq_route_json "$1" | sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p"; }
settled() { # every message either bridged or dropped as a loop, by both routes
    [ "$(field k2r in)" = $((N + M)) ] && [ "$(field r2k in)" = $((N + M)) ] &&
    [ "$(field k2r out)" = "$N" ] && [ "$(field r2k out)" = "$M" ] &&
    [ "$(field k2r loop_dropped)" = "$M" ] && [ "$(field r2k loop_dropped)" = "$N" ]
}
k_produce "$topic" "$N" 3 0 &
kp=$!
rmqc publish "$exch" "" "$M" --start 1000000 --size 64 >/dev/null || t_fail "publish to RabbitMQ"
wait $kp || t_fail "produce to Kafka"
t_wait_for 60 settled || t_fail "did not settle: $(rmq_route_json k2r) $(rmq_route_json r2k)"
# Loop drops are not "accepted".
t_assert_eq "$(field k2r accepted)" "$N" "k2r accepted"
t_assert_eq "$(field r2k accepted)" "$M" "r2k accepted"
counters() { for r in k2r r2k; do field $r in; field $r out; field $r accepted; done; }
t_steady 2 30 counters || t_fail "traffic after the last message: an echo"
settled || t_fail "traffic after the last message: an echo: $(rmq_route_json k2r) $(rmq_route_json r2k)"
t_assert_eq "$(k_count "$topic")" $((N + M)) "records on Kafka"
t_assert_eq "$(rmq_count "$obs")" $((N + M)) "messages bound to the exchange (observer)"
t_assert_eq "$(rmq_count "$EVQ")" 0 "messages left in $EVQ"
# The WARN: route, the stream it would write to, the path; at most one per route per 10 s.
t_log_has "$T_DIR/bridge.log" "route \"r2k\": message from $EVQ dropped as a loop: it would be written to kafka/topic:$topic, which it was read from at hop \"loops/k2r\"; x-msgbridge-path \"loops/k2r\"" ||
    t_fail "no WARN for r2k: $(grep -F 'as a loop' "$T_DIR/bridge.log" | head -3)"
t_log_has "$T_DIR/bridge.log" "route \"k2r\": message from $topic dropped as a loop: it would be written to rabbit/exchange:$exch, which it was read from at hop \"loops/r2k>$exch\"; x-msgbridge-path \"loops/r2k>$exch\"" ||
    t_fail "no WARN for k2r: $(grep -F 'as a loop' "$T_DIR/bridge.log" | head -3)"
t_assert_eq "$(grep -c 'route "r2k": .* dropped as a loop' "$T_DIR/bridge.log")" 1 "r2k loop WARN lines"
# Ready once the window has passed with nothing read (a route that forwarded within the
# window, or read nothing in it, is not reported).
t_wait_for 15 curl -sf "$RMQ_HTTP/readyz" || t_fail "not ready after the drops: $(curl -s "$RMQ_HTTP/readyz")"

# Only drops on r2k for longer than the window: /readyz says so while it lasts.
t_log "producing to Kafka only, until /readyz reports r2k"
i=0
while :; do
    k_produce "$topic" 5 1 $((100000 + i * 5)) >/dev/null
    code=$(curl -s -o "$T_DIR/readyz" -w '%{http_code}' "$RMQ_HTTP/readyz")
    [ "$code" = 503 ] && break
    i=$((i + 1)); [ $i -gt 60 ] && t_fail "/readyz still $code: $(cat "$T_DIR/readyz")"
    sleep 0.2
done
grep -q "^route r2k dropped every message it read in the last 3 s as a loop" "$T_DIR/readyz" ||
    t_fail "/readyz: $(cat "$T_DIR/readyz")"
grep -q "k2r" "$T_DIR/readyz" && t_fail "/readyz blames k2r, which forwards: $(cat "$T_DIR/readyz")"
t_log "readyz: $(cat "$T_DIR/readyz")"
# Nothing read for a window: ready again.
t_wait_for 15 curl -sf "$RMQ_HTTP/readyz" || t_fail "not ready again: $(curl -s "$RMQ_HTTP/readyz")"
t_stop "$T_BRIDGE_PID"
rmqc delete "$EVQ" >/dev/null 2>&1
rmqc delete "$obs" >/dev/null 2>&1
t_log "ok: $N from Kafka and $M from RabbitMQ, each once on each side; loops dropped $M/$N"
