#!/bin/sh
# Chained routes in ONE bridge forward everything (loop prevention is by stream, not by
# bridge): the hub AMQP 1.0 queue -> Kafka topic -> RabbitMQ exchange (bound to a queue), and the
# round trip Kafka rt.src -> RabbitMQ exchange rt.x (bound to rt.q) -> Kafka rt.back, with the
# default mapping settings. Every message arrives at the end with its body, key and headers;
# loop_dropped stays 0; `msgbridge -t` prints the chains.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
t_need kafka
. "$(dirname "$0")/rabbitmq_lib.sh"
. "$(dirname "$0")/kafka_lib.sh"
. "$(dirname "$0")/amqp1_lib.sh"
command -v kcat >/dev/null 2>&1 || t_skip "kcat is not installed"

N=$(t_count 2000)   # through the hub
R=$(t_count 3000)   # through the round trip
hin=hub.in.$$; hx=hub.x.$$; hout=hub.out.$$; htopic=hub-audit-$$
SRC=rt.src.$$; BACK=rt.back.$$; RTX=rt.x.$$; RTQ=rt.q.$$
a1_queue "$hin"
rmqc declare-exchange "$hx" fanout >/dev/null || t_fail "declare exchange"
rmq_fresh "$hout" "$RTQ"
rmqc declare "$hout" "$hx" "" >/dev/null || t_fail "bind $hout"
rmqc declare-exchange "$RTX" topic >/dev/null || t_fail "declare exchange"
rmqc declare "$RTQ" "$RTX" "#" >/dev/null || t_fail "bind $RTQ"
k_topic "$htopic" 3
k_topic "$SRC" 3
k_topic "$BACK" 3
trap 'a1_delete "$hin" "$hout" "$RTQ"; t_cleanup' EXIT

PORT=$(t_free_port)
RMQ_HTTP=http://127.0.0.1:$PORT
cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "hub"; metrics = "127.0.0.1:$PORT"; };
endpoints = (
  { name = "amq"; type = "amqp1"; url = "amqp://guest:guest@$A1_HOSTPORT"; },
  { name = "kafka"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS"; properties = [ $K_PROPS ]; },
  { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; }
);
routes = (
  { name = "audit-in"; from = { endpoint = "amq"; address = "queue://$hin"; };
    to = { endpoint = "kafka"; topic = "$htopic"; key = "\${key}"; }; },
  { name = "audit-out";
    from = { endpoint = "kafka"; topic = "$htopic"; group = "hub-$$"; start = "earliest"; };
    to = { endpoint = "rabbit"; exchange = "$hx"; }; },
  { name = "rt-out"; from = { endpoint = "kafka"; topic = "$SRC"; group = "rt-$$"; start = "earliest"; };
    to = { endpoint = "rabbit"; exchange = "$RTX"; routing_key = "rt"; }; },
  { name = "rt-back"; from = { endpoint = "rabbit"; queue = "$RTQ"; };
    to = { endpoint = "kafka"; topic = "$BACK"; }; }
);
EOT
"$MSGBRIDGE" -t -c "$T_DIR/bridge.conf" >"$T_DIR/check.log" 2>&1 || t_fail "-t: $(cat "$T_DIR/check.log")"
t_log_has "$T_DIR/check.log" "chain: route audit-in -> route audit-out" ||
    t_fail "-t does not print the chain: $(cat "$T_DIR/check.log")"
grep -q "cycle" "$T_DIR/check.log" && t_fail "-t sees a cycle: $(cat "$T_DIR/check.log")"

k_produce "$SRC" "$R" 3
t_bridge bridge "$T_DIR/bridge.conf"
a1c send "/amq/queue/$hin" "$N" --tag hub >"$T_DIR/send.out" 2>&1 || t_fail "send: $(cat "$T_DIR/send.out")"
rmq_wait_count "$hout" "$N" 60 || t_fail "hub: $(rmq_count "$hout") of $N arrived: $(tail -3 "$T_DIR/bridge.log")"
k_wait_count "$BACK" "$R" 60 || t_fail "round trip: $(k_count "$BACK") of $R came back: $(tail -3 "$T_DIR/bridge.log")"
for r in audit-in audit-out rt-out rt-back; do
    j=$(rmq_route_json "$r")
    echo "$j" | grep -q '"loop_dropped": 0,' || t_fail "route $r dropped loops: $j"
done
grep -F "dropped as a loop" "$T_DIR/bridge.log" && t_fail "loop WARN in the log"
t_stop "$T_BRIDGE_PID"

# The hub's end, read as an AMQP 0-9-1 consumer (RabbitMQ's own 0-9-1 -> 1.0 conversion would
# move headers out of the application properties): per message, its id, body, key and headers.
rmqc dump "$hout" $((N + 10)) >"$T_DIR/hub.txt" || t_fail "dump $hout"
t_assert_eq "$(wc -l <"$T_DIR/hub.txt")" "$N" "messages at the hub's end"
ok=$(sed -n 's/.*message_id="hub-id-\([0-9]*\)".*"i32"=I:-10*\1,.*"text"=S:"t\\xc3\\xa9xt-\1".*"x-msgbridge-path"=S:"hub\/audit-in,hub\/audit-out","x-msgbridge-key"=x:"key-\1".* body="hub-body-\1-.*/\1/p' \
    "$T_DIR/hub.txt" | sort -un | wc -l)
t_assert_eq "$ok" "$N" "messages with their id, body, key and headers at the hub's end (e.g. $(head -1 "$T_DIR/hub.txt"))"
# The round trip: key, value and the producer's headers back on Kafka (the bridge adds only
# x-msgbridge-path), none missing, none twice.
dump() {
    kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$1" -o beginning -e -q -f '%k|%h|%s\n' 2>/dev/null |
        sed "s/,*x-msgbridge-path=hub\/rt-out,hub\/rt-back>$RTX//; s/|,/|/" | sort >"$2"
}
dump "$SRC" "$T_DIR/src.txt"
dump "$BACK" "$T_DIR/back.txt"
t_assert_eq "$(wc -l <"$T_DIR/back.txt")" "$R" "records back on Kafka"
cmp -s "$T_DIR/src.txt" "$T_DIR/back.txt" ||
    t_fail "records differ after the round trip: $(diff "$T_DIR/src.txt" "$T_DIR/back.txt" | head -6)"
path=$(kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$BACK" -o beginning -c 1 -e -q -f '%h\n' 2>/dev/null)
case "$path" in
*"x-msgbridge-path=hub/rt-out,hub/rt-back>$RTX"*) ;;
*) t_fail "path on the way back: $path" ;;
esac
rmqc delete "$RTQ" >/dev/null 2>&1
t_log "ok: $N through the hub, $R through the round trip, no loop drops"
