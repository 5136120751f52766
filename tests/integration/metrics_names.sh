#!/bin/sh
# Every metric name that contrib/grafana/msgbridge.json and contrib/prometheus/msgbridge.rules.yml
# query exists on a live /metrics: one bridge runs a memory route, a Kafka -> RabbitMQ route
# (Kafka source: per-partition lag and committed offsets; RabbitMQ sink: publish counters) and a
# RabbitMQ -> memory route (RabbitMQ source counters), each with messages moving.
. "$(dirname "$0")/lib.sh"
t_need kafka
t_need rabbitmq
. "$top_srcdir/tests/integration/rabbitmq_lib.sh"
. "$top_srcdir/tests/integration/kafka_lib.sh"
command -v curl >/dev/null || t_skip "curl not installed"
command -v python3 >/dev/null || t_skip "python3 not installed"

dash=$top_srcdir/contrib/grafana/msgbridge.json
rules=$top_srcdir/contrib/prometheus/msgbridge.rules.yml
# The names the queries use: the dashboard's target expressions and template-variable queries
# (JSON), the rules' expr blocks (from `expr:` to the rule's `for:` or `labels:`).
python3 - "$dash" >"$T_DIR/queries" <<'EOP' || t_fail "dashboard is not valid JSON"
import json, sys
d = json.load(open(sys.argv[1]))
def walk(panels):
    for p in panels:
        for t in p.get('targets', []):
            print(t['expr'])
        walk(p.get('panels', []))
walk(d['panels'])
for v in d['templating']['list']:
    if v['type'] == 'query':
        print(v['definition'])
EOP
awk '/^ *expr:/ { on = 1 } /^ *(for|labels):/ { on = 0 } on' "$rules" >>"$T_DIR/queries"
grep -o 'msgbridge_[a-z0-9_]*' "$T_DIR/queries" | sort -u >"$T_DIR/used"
[ "$(wc -l <"$T_DIR/used")" -ge 40 ] || t_fail "only $(wc -l <"$T_DIR/used") names found in the queries"

SRC=$K_ID.src
k_topic "$SRC" 2
k_produce "$SRC" 200 2
rmq_fresh metrics-names.k2r metrics-names.in
rmqc publish "" metrics-names.in 100 >/dev/null || t_fail "publish"
PORT=$(rmq_free_port)
cat >"$T_DIR/bridge.conf" <<EOC
bridge = { id = "names"; stats_interval = 0; metrics = "127.0.0.1:$PORT"; };
endpoints = (
  { name = "gen"; type = "memory"; record = false; }, { name = "mem"; type = "memory"; record = false; },
  { name = "kafka"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS"; properties = [ $K_PROPS ]; },
  { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; }
);
routes = (
  { name = "memory"; from = { endpoint = "gen"; count = 1000; }; to = { endpoint = "mem"; }; },
  { name = "k2r"; from = { endpoint = "kafka"; topic = "$SRC"; group = "$K_ID"; };
    to = { endpoint = "rabbit"; exchange = ""; routing_key = "metrics-names.k2r"; }; },
  { name = "r2m"; from = { endpoint = "rabbit"; queue = "metrics-names.in"; }; to = { endpoint = "mem"; }; }
);
EOC
"$MSGBRIDGE" -t -c "$T_DIR/bridge.conf" >/dev/null || t_fail "config rejected"
t_bridge names "$T_DIR/bridge.conf"

# all_present: every used name has a sample line on /metrics (lists the missing ones).
all_present() {
    curl -sf "http://127.0.0.1:$PORT/metrics" >"$T_DIR/metrics" || return 1
    grep -v '^#' "$T_DIR/metrics" | sed 's/[{ ].*//' | sort -u >"$T_DIR/exported"
    comm -23 "$T_DIR/used" "$T_DIR/exported" >"$T_DIR/missing"
    [ ! -s "$T_DIR/missing" ]
}
# Kafka partitions appear once the group has joined (about session.timeout.ms on the mock).
t_wait_for 40 all_present || t_fail "used by the dashboard or the rules but not on /metrics: $(tr '\n' ' ' <"$T_DIR/missing")"
# And the routes did move their messages (the samples are real, not placeholders).
t_wait_for 20 sh -c "[ \"\$(curl -s http://127.0.0.1:$PORT/metrics | sed -n 's/^msgbridge_route_messages_out_total{route=\"k2r\"} //p')\" = 200 ]" \
    || t_fail "k2r did not move its 200 records"
t_wait_for 20 sh -c "[ \"\$(curl -s http://127.0.0.1:$PORT/metrics | sed -n 's/^msgbridge_route_messages_out_total{route=\"r2m\"} //p')\" = 100 ]" \
    || t_fail "r2m did not move its 100 messages"
grep -q "^msgbridge_kafka_consumer_lag_messages{route=\"k2r\",endpoint=\"kafka\",topic=\"$SRC\",partition=\"1\"} " "$T_DIR/metrics" \
    || t_fail "no lag sample for partition 1"
t_stop "$T_BRIDGE_PID"
t_log "ok: all $(wc -l <"$T_DIR/used") names used by the dashboard and the rules are on /metrics"
