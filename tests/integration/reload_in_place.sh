#!/bin/sh
# A reload that changes routes on shared endpoints, under load, through real brokers: one Kafka
# endpoint and one RabbitMQ endpoint carry five routes. The reload changes one route each way
# (Kafka -> RabbitMQ gets a new routing key, RabbitMQ -> Kafka a new rate), adds one (RabbitMQ ->
# Kafka) and keeps two. Checked: both endpoints keep running ("routes changed in place", never
# reconnected); the kept routes see nothing of it (the Kafka one is assigned its partitions
# once, each kept route delivers every message exactly once); the changed routes lose nothing;
# the added route copies its whole queue.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
t_need kafka
. "$(dirname "$0")/rabbitmq_lib.sh"
. "$(dirname "$0")/kafka_lib.sh"

N=$(t_count 8000) # records streamed into each Kafka source topic while the reload happens
M=$(t_count 4000) # messages waiting in each RabbitMQ source queue
A=rip-a-$$; B=rip-b-$$; C=rip-c-$$; D=rip-d-$$; E=rip-e-$$
for t in "$A" "$B"; do k_topic "$t" 2; done
for t in "$C" "$D" "$E"; do k_topic "$t" 1; done
RQ=rip.$$
rmq_fresh "$RQ.kept" "$RQ.ch1" "$RQ.ch2" "$RQ.in.kept" "$RQ.in.ch" "$RQ.in.add"
port=$(t_free_port)

# conf K_CH_KEY R_CH_RATE ADDED: the whole file; the two changed routes take their setting.
conf() {
    cat <<EOT
bridge = { id = "rip"; metrics = "127.0.0.1:$port"; shutdown_timeout = 20; };
endpoints = (
  { name = "kafka"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS"; properties = [ $K_PROPS ]; },
  { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; }
);
routes = (
  { name = "k-kept";
    from = { endpoint = "kafka"; topic = "$A"; group = "rip-kept-$$"; start = "earliest"; };
    to = { endpoint = "rabbit"; routing_key = "$RQ.kept"; }; },
  { name = "k-ch";
    from = { endpoint = "kafka"; topic = "$B"; group = "rip-ch-$$"; start = "earliest"; };
    to = { endpoint = "rabbit"; routing_key = "$1"; }; },
  { name = "r-kept"; rate = { messages_per_second = $((M / 5)).0; };
    from = { endpoint = "rabbit"; queue = "$RQ.in.kept"; };
    to = { endpoint = "kafka"; topic = "$C"; }; },
  { name = "r-ch"; rate = { messages_per_second = $2; };
    from = { endpoint = "rabbit"; queue = "$RQ.in.ch"; };
    to = { endpoint = "kafka"; topic = "$D"; }; }$3
);
EOT
}
conf "$RQ.ch1" "$((M / 5)).0" "" >"$T_DIR/v1.conf"
conf "$RQ.ch2" "$((M / 4)).0" ',
  { name = "r-add";
    from = { endpoint = "rabbit"; queue = "'"$RQ.in.add"'"; };
    to = { endpoint = "kafka"; topic = "'"$E"'"; }; }' >"$T_DIR/v2.conf"
for v in v1 v2; do
    "$MSGBRIDGE" -t -c "$T_DIR/$v.conf" >/dev/null ||
        t_fail "$v config: $("$MSGBRIDGE" -t -c "$T_DIR/$v.conf" 2>&1)"
done

cp "$T_DIR/v1.conf" "$T_DIR/bridge.conf"
t_bridge bridge "$T_DIR/bridge.conf"
t_wait_for 30 curl -sf "http://127.0.0.1:$port/readyz" || t_fail "not ready: $(cat "$T_DIR/bridge.log")"
metric() { # NAME LABELS
    curl -s "http://127.0.0.1:$port/metrics" | grep -F "$1{$2}" | sed 's/.* //'
}

# The streams start once both Kafka routes have their partitions (a group join takes seconds).
t_wait_for 30 grep -q 'route "k-kept": assigned' "$T_DIR/bridge.log" || t_fail "k-kept got no partitions"
t_wait_for 30 grep -q 'route "k-ch": assigned' "$T_DIR/bridge.log" || t_fail "k-ch got no partitions"
# The RabbitMQ queues fill only now, r-kept's last: it drains at M/5 a second from its first
# message, and a group join that took more than 5 s on a busy machine had let it finish
# before the reload (a clean-export run with two lanes: "moved 4000 of 4000").
for src in ch add kept; do
    rmqc publish "" "$RQ.in.$src" "$M" --size 64 >/dev/null || t_fail "publish to $RQ.in.$src"
done
# Topic A streams over about 4 s, and the reload comes a quarter of the way in; the RabbitMQ
# routes drain their queues over 4-5 s. Topic B streams over about 8 s, so that k-ch still has
# records to take after the reload even when the old route's drain is slow (on a busy machine it
# took 2 s, and the old route had taken all of a 4-second stream by then).
k_produce "$A" "$N" 2 0 100 $((N / 4)) &
pa=$!
k_produce "$B" "$N" 2 0 100 $((N / 8)) &
pb=$!
t_wait_for 30 rmq_at_least "$RQ.kept" $((N / 4)) || t_fail "the stream did not start"
moved=$(metric msgbridge_route_messages_out_total 'route="r-kept"')
[ "${moved:-0}" -gt 0 ] && [ "$moved" -lt "$M" ] ||
    t_fail "r-kept should be mid-drain at the reload (moved $moved of $M)"
cp "$T_DIR/v2.conf" "$T_DIR/bridge.conf"
kill -HUP "$T_BRIDGE_PID"
t_wait_for 30 grep -q "reload: done" "$T_DIR/bridge.log" || t_fail "reload did not finish: $(cat "$T_DIR/bridge.log")"
grep -q 'reload: endpoint "kafka" kept running: routes changed in place' "$T_DIR/bridge.log" &&
    grep -q 'reload: endpoint "rabbit" kept running: routes changed in place' "$T_DIR/bridge.log" ||
    t_fail "expected both endpoints to keep running: $(grep 'reload' "$T_DIR/bridge.log")"
grep -q "reload: done: 2 endpoints kept running, 0 started; routes: 2 kept, 3 built" "$T_DIR/bridge.log" ||
    t_fail "expected 2 routes kept and 3 built: $(grep 'reload' "$T_DIR/bridge.log")"
wait $pa || t_fail "producer A failed"
wait $pb || t_fail "producer B failed"

rmq_wait_count "$RQ.kept" "$N" 60 || t_fail "k-kept: $(rmq_count "$RQ.kept") of $N"
k_wait_count "$C" "$M" 60 || t_fail "r-kept: $(k_count "$C") of $M"
k_wait_count "$E" "$M" 60 || t_fail "r-add: $(k_count "$E") of $M"
k_wait_count "$D" "$M" 60 || t_fail "r-ch: $(k_count "$D") of $M"
ch_total() { echo $(( $(rmq_count "$RQ.ch1") + $(rmq_count "$RQ.ch2") )); }
ch_complete() { [ "$(ch_total)" -ge "$N" ]; } # evaluated on each try, not once
t_wait_for 60 ch_complete || t_fail "k-ch: $(ch_total) of $N"
counts() { rmq_count "$RQ.kept"; rmq_count "$RQ.ch1"; rmq_count "$RQ.ch2"; k_count "$C"; k_count "$D"; k_count "$E"; }
t_steady 1 30 counts || t_fail "messages still arriving"
t_assert_eq "$(metric msgbridge_endpoint_reconnects_total 'endpoint="kafka",adapter="kafka"')" 0 "kafka reconnects"
t_assert_eq "$(metric msgbridge_endpoint_reconnects_total 'endpoint="rabbit",adapter="rabbitmq"')" 0 "rabbit reconnects"
t_stop "$T_BRIDGE_PID"
t_assert_eq "$(grep -c 'route "k-kept": assigned' "$T_DIR/bridge.log")" 1 \
    "k-kept's consumer was assigned its partitions once (no rebalance)"

# QUEUE... -> distinct Kafka record values (value-<i>) in those queues; total in $T_DIR/total
rmq_values() {
    : >"$T_DIR/values"
    for qq in "$@"; do
        rmqc dump "$qq" $((N * 2 + 10)) | sed -n 's/.*body="\(value-[0-9]*\)\..*/\1/p' >>"$T_DIR/values"
    done
    wc -l <"$T_DIR/values" >"$T_DIR/total"
    sort -u "$T_DIR/values" | wc -l
}
# TOPIC -> distinct RabbitMQ message numbers (msg-<i>) on it; total in $T_DIR/total
k_values() {
    kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$1" -o beginning -e -q -f '%s\n' 2>/dev/null |
        sed -n 's/^\(msg-[0-9]*\)-.*/\1/p' >"$T_DIR/values"
    wc -l <"$T_DIR/values" >"$T_DIR/total"
    sort -u "$T_DIR/values" | wc -l
}
t_assert_eq "$(rmq_values "$RQ.kept")" "$N" "k-kept: distinct records"
t_assert_eq "$(cat "$T_DIR/total")" "$N" "k-kept: no duplicates"
t_assert_eq "$(k_values "$C")" "$M" "r-kept: distinct messages"
t_assert_eq "$(cat "$T_DIR/total")" "$M" "r-kept: no duplicates"
ch1=$(rmq_count "$RQ.ch1") ch2=$(rmq_count "$RQ.ch2") # before rmq_values takes them
[ "$ch2" -gt 0 ] || t_fail "k-ch: nothing went to the new routing key"
[ "$ch1" -gt 0 ] || t_fail "k-ch: the change came before the stream; the test did not test"
t_assert_eq "$(rmq_values "$RQ.ch1" "$RQ.ch2")" "$N" "k-ch: every record, before or after the change"
t_assert_eq "$(k_values "$D")" "$M" "r-ch: every message"
t_assert_eq "$(k_values "$E")" "$M" "r-add: every message"
for x in kept ch1 ch2 in.kept in.ch in.add; do rmqc delete "$RQ.$x" >/dev/null 2>&1; done
t_log "ok: kept routes $N and $M exactly once on endpoints that kept running; changed and added routes complete"
