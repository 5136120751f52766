#!/bin/sh
# The stall watchdog with a Kafka source: the whole (private) mock cluster is frozen with
# SIGSTOP while the route has records waiting (its connections stay open and answer nothing:
# the freezing proxy cannot sit in front of the mock, which advertises its own addresses).
# After stall_timeout the route is stalled (ERROR line naming the source backlog,
# msgbridge_route_stalls_total, /routes, /readyz) and the Kafka endpoint is re-established;
# after SIGCONT the route resumes by itself: every record arrives in RabbitMQ, no reload.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
t_need kafka
. "$(dirname "$0")/rabbitmq_lib.sh"
. "$(dirname "$0")/kafka_lib.sh"
command -v curl >/dev/null 2>&1 || t_skip "curl is not installed"

# Not scaled down under the sanitizers: fewer records would all be fetched before the freeze.
N=20000
k_private_cluster 39440 1
# A stopped process keeps SIGTERM pending: continue the cluster before the cleanup kills it.
trap 'kill -CONT "$k_pid" 2>/dev/null; t_cleanup' EXIT
topic=kstall-$$
k_topic "$topic" 1
rmq_fresh kstall.out
rmqc lines "$N" >"$T_DIR/records.txt" || t_fail "lines"

PORT=$(t_free_port)
RMQ_HTTP=http://127.0.0.1:$PORT
# Prefetch kept small (a few KiB per fetch and in librdkafka's queue, and the route's byte
# window, which sizes the Kafka source's own buffer), so that records still wait at the
# broker, not in the bridge, when the cluster freezes.
cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "kstall"; metrics = "127.0.0.1:$PORT"; };
endpoints = (
  { name = "k"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $K_PROPS_GROUP, "reconnect.backoff.max.ms=1000",
                   "fetch.max.bytes=16384", "message.max.bytes=16384",
                   "max.partition.fetch.bytes=4096", "queued.max.messages.kbytes=8" ]; },
  { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; }
);
routes = (
  { name = "kstall"; stall_timeout = 3; max_in_flight = 100; max_in_flight_bytes = 16384;
    from = { endpoint = "k"; topic = "$topic"; group = "kstall-$$"; start = "earliest"; };
    to = { endpoint = "rabbit"; exchange = ""; routing_key = "kstall.out"; }; }
);
EOT
t_bridge bridge "$T_DIR/bridge.conf"
t_wait_for 30 sh -c "curl -sf $RMQ_HTTP/readyz" || t_fail "not ready: $(curl -s $RMQ_HTTP/readyz)"
kcat -P -b "$BRG_TEST_KAFKA_BROKERS" -t "$topic" -K '	' -H "origin=kcat" -z none \
    -X queue.buffering.max.messages=200000 -l "$T_DIR/records.txt" 2>"$T_DIR/kcat.log" ||
    t_fail "kcat: $(cat "$T_DIR/kcat.log")"
# Freeze once the route is moving (so its lag is known) and far from done.
t_wait_for 30 sh -c "[ \"\$($RMQC $RMQ_URL count kstall.out)\" -gt 0 ]" || t_fail "nothing bridged"
kill -STOP "$k_pid"
t_log "froze the cluster with $(rmq_count kstall.out) of $N bridged"

t_wait_for 20 t_log_has "$T_DIR/bridge.log" 'route "kstall" stalled: ' ||
    t_fail "no stall ERROR line: $(tail -5 "$T_DIR/bridge.log")"
line=$(grep -F 'route "kstall" stalled: ' "$T_DIR/bridge.log" | head -1)
t_log "$line"
echo "$line" | grep -q ' ERROR ' || t_fail "not an ERROR line: $line"
echo "$line" | grep -Eq 'route "kstall" stalled: source backlog [1-9][0-9]* at endpoint "k" and nothing read for 3 s; re-establishing the connection' ||
    t_fail "the line does not say what it waits on: $line"
[ "$(rmq_count kstall.out)" -lt "$N" ] || t_fail "everything was bridged before the freeze"
ready=$(curl -s -w ' HTTP %{http_code}' "$RMQ_HTTP/readyz")
echo "$ready" | grep -q 'route kstall stalled: source backlog' || t_fail "/readyz: $ready"
echo "$ready" | grep -q 'HTTP 503' || t_fail "/readyz not 503: $ready"
rmq_route_json kstall | grep -q '"stalled": true, "stalls": 1, "stalled_on": "source backlog' ||
    t_fail "/routes during the stall: $(rmq_route_json kstall)"
stalls=$(curl -sf "$RMQ_HTTP/metrics" | sed -n 's/^msgbridge_route_stalls_total{route="kstall"} //p')
[ "${stalls:-0}" -ge 1 ] || t_fail "msgbridge_route_stalls_total: '$stalls'"
kill -CONT "$k_pid"
t_log "continued the cluster"
# The watchdog had the Kafka endpoint re-established (new librdkafka handles). Closing the old
# consumer waits for the frozen brokers (up to about 15 s here), so this may come after SIGCONT.
restarted() { grep -F '[kafka:k]' "$T_DIR/bridge.log" | grep -F 'endpoint loop failed' | grep -qF 'route "kstall" stalled'; }
t_wait_for 40 restarted || t_fail "the Kafka endpoint was not re-established: $(tail -3 "$T_DIR/bridge.log")"
t_log "$(grep -F 'endpoint loop failed' "$T_DIR/bridge.log" | head -1)"

out=$(rmqc verify kstall.out "$N" --key --const origin=kcat --timeout 60) || t_fail "after the stall: $out"
t_log "$out"
resumed() { rmq_route_json kstall | grep -q '"stalled": false, "stalls": [1-9][0-9]*, "stalled_on": null'; }
t_wait_for 20 resumed || t_fail "/routes after resuming: $(rmq_route_json kstall)"
t_log_has "$T_DIR/bridge.log" 'route "kstall" resumed after a stall' || t_fail "no resumed line"
t_wait_for 20 sh -c "curl -sf $RMQ_HTTP/readyz" || t_fail "/readyz after resuming: $(curl -s $RMQ_HTTP/readyz)"
grep -q "reload" "$T_DIR/bridge.log" && t_fail "reloaded: $(grep reload "$T_DIR/bridge.log")"
t_stop "$T_BRIDGE_PID"
t_log "ok"
