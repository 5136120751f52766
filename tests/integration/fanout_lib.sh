# Shared by fanout_park.sh and fanout_park_restart.sh (sourced after lib.sh): a Kafka topic
# fanned out to a Kafka topic and to a RabbitMQ exchange that does not exist yet, window W.
# Set FAN (a name prefix) before sourcing. Defines N, W, SRC, KDST, GROUP, LATE_X, PORT,
# RMQ_HTTP, writes $T_DIR/bridge.conf and the source records, and the helpers below.
t_need rabbitmq
t_need kafka
. "$(dirname "$0")/rabbitmq_lib.sh"
. "$(dirname "$0")/kafka_lib.sh"
command -v curl >/dev/null || t_skip "curl not installed"

N=$(t_count 3000)
# The in-flight window: at most this many messages reach the healthy destination before the
# route notices the missing one and stops taking.
W=200
SRC=$FAN-src-$K_ID
KDST=$FAN-dst-$K_ID
GROUP=$FAN-$K_ID
# A fresh exchange per run: the test client cannot delete one.
LATE_X=$FAN.late.x.$$
rmq_fresh $FAN.out
k_topic "$SRC" 2
k_topic "$KDST" 1

rmqc lines "$N" >"$T_DIR/records.txt" || t_fail "lines"
kcat -P -b "$BRG_TEST_KAFKA_BROKERS" -t "$SRC" -K '	' -z none -l "$T_DIR/records.txt" \
    2>"$T_DIR/kcat.log" || t_fail "kcat: $(cat "$T_DIR/kcat.log")"

PORT=$(rmq_free_port)
RMQ_HTTP=http://127.0.0.1:$PORT
cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "fan"; metrics = "127.0.0.1:$PORT"; };
endpoints = (
  { name = "kafka"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $K_PROPS ]; },
  { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; }
);
routes = (
  { name = "fan"; max_in_flight = $W; park_retry_min = 1; park_retry_max = 2;
    from = { endpoint = "kafka"; topic = "$SRC"; group = "$GROUP"; start = "earliest"; };
    to = ( { endpoint = "kafka"; topic = "$KDST"; },
           { endpoint = "rabbit"; exchange = "$LATE_X"; routing_key = "x"; } ); }
);
EOT

# kafka_dst_numbers FILE: the message numbers at the Kafka destination, one per line.
kafka_dst_numbers() {
    kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$KDST" -o beginning -e -q -f '%s\n' 2>/dev/null |
        sed -n 's/^msg-\([0-9]*\)-.*/\1/p' >"$1"
}
# rabbit_retries: how many publishes the RabbitMQ sink settled RETRY (each refusal counts).
rabbit_retries() {
    curl -sf "$RMQ_HTTP/metrics" |
        sed -n 's/^msgbridge_sink_retries_total{route="fan",endpoint="rabbit".*} \([0-9]*\)$/\1/p'
}
retries_at_least() { [ "$(rabbit_retries)" -ge "$1" ]; }

# kafka_dst_tally: count what the Kafka destination holds once msgbridge stopped: sets
# k_missing and k_dups (message numbers 0..N-1; numbers in $T_DIR/final.kafka).
kafka_dst_tally() {
    kafka_dst_numbers "$T_DIR/final.kafka"
    seq 0 $((N - 1)) | sort >"$T_DIR/want"
    sort -u "$T_DIR/final.kafka" >"$T_DIR/have"
    k_missing=$(comm -23 "$T_DIR/want" "$T_DIR/have" | wc -l)
    k_dups=$(( $(wc -l <"$T_DIR/final.kafka") - $(wc -l <"$T_DIR/have") ))
    t_log "Kafka destination: $(wc -l <"$T_DIR/final.kafka") records, $k_missing missing, $k_dups duplicates"
}
