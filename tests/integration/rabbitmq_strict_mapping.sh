#!/bin/sh
# What AMQP 0-9-1 cannot carry exactly is counted per route and field
# (msgbridge_route_mapping_lost...), and a route in strict mapping mode sends such a message to
# its dead letter with a reason naming the header instead of publishing it lossy. Input: NDJSON
# envelopes (file adapter) with an AMQP 1.0 symbol header, a millisecond timestamp header and
# a uuid nested in a table; a clean envelope passes in both modes.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
. "$(dirname "$0")/rabbitmq_lib.sh"
"$MSGBRIDGE" -V 2>&1 | grep -q " file" || t_skip "the file adapter is not built"

rmq_fresh strict.out strict.dlq lossy.out
cat >"$T_DIR/in.ndjson" <<'EOT'
{"body":"msg-0-clean","headers":[{"name":"n","type":"int","width":16,"value":7}]}
{"body":"msg-1-symbol","headers":[{"name":"kind","type":"symbol","value":"amqp:order"}]}
{"body":"msg-2-ms","headers":[{"name":"at","type":"timestamp","value":1700000000123}]}
{"body":"msg-3-uuid","headers":[{"name":"t","type":"table","value":[{"name":"id","type":"uuid","value":"00112233-4455-6677-8899-aabbccddeeff"}]}]}
EOT
cp "$T_DIR/in.ndjson" "$T_DIR/in2.ndjson"

cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "strict"; metrics = "127.0.0.1:39471"; };
endpoints = (
  { name = "in"; type = "file"; path = "$T_DIR/in.ndjson"; },
  { name = "in2"; type = "file"; path = "$T_DIR/in2.ndjson"; },
  { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; }
);
routes = (
  { name = "strict";
    from = { endpoint = "in"; };
    to = { endpoint = "rabbit"; routing_key = "strict.out"; };
    dead_letter = { endpoint = "rabbit"; routing_key = "strict.dlq"; };
    mapping = { strict = true; provenance = false; }; },
  { name = "lossy";
    from = { endpoint = "in2"; };
    to = { endpoint = "rabbit"; routing_key = "lossy.out"; };
    mapping = { provenance = false; }; }
);
EOT
t_bridge bridge "$T_DIR/bridge.conf"
rmq_wait_count strict.dlq 3 20 || t_fail "strict.dlq has $(rmq_count strict.dlq) of 3"
rmq_wait_count lossy.out 4 20 || t_fail "lossy.out has $(rmq_count lossy.out) of 4"
rmq_wait_count strict.out 1 20 || t_fail "strict.out has $(rmq_count strict.out) of 1"
curl -s "http://127.0.0.1:39471/metrics" >"$T_DIR/metrics.txt" || t_fail "no /metrics"
t_stop "$T_BRIDGE_PID"

rmqc dump strict.dlq 10 >"$T_DIR/dlq.txt"
for want in \
    'x-msgbridge-dlq-reason"=S:"header \x22kind\x22: symbol written as a string (strict mapping)"' \
    'x-msgbridge-dlq-reason"=S:"header \x22at\x22: timestamp with milliseconds or before 1970 (AMQP 0-9-1 keeps seconds) (strict mapping)"' \
    'x-msgbridge-dlq-reason"=S:"header \x22t\x22: uuid written as bytes (strict mapping)"'; do
    grep -F -q -- "$want" "$T_DIR/dlq.txt" || t_fail "dead letter reason missing: $want; got: $(cat "$T_DIR/dlq.txt")"
done
rmqc dump strict.out 10 >"$T_DIR/out.txt"
grep -q '"n"=s:7,} body="msg-0-clean"' "$T_DIR/out.txt" || t_fail "clean message: $(cat "$T_DIR/out.txt")"
# Not strict: published as well as AMQP 0-9-1 allows (string, seconds, 255), and counted.
rmqc dump lossy.out 10 >"$T_DIR/lossy.txt"
grep -q '"kind"=S:"amqp:order",} body="msg-1-symbol"' "$T_DIR/lossy.txt" || t_fail "lossy symbol: $(cat "$T_DIR/lossy.txt")"
grep -q '"at"=T:1700000000,} body="msg-2-ms"' "$T_DIR/lossy.txt" || t_fail "lossy timestamp: $(cat "$T_DIR/lossy.txt")"
grep "mapping" "$T_DIR/metrics.txt" | grep 'route="lossy"' >"$T_DIR/loss.txt"
for want in 'field="header.type"} 2' 'field="header.timestamp"} 1'; do
    grep -q "$want" "$T_DIR/loss.txt" || t_fail "loss not counted ($want): $(cat "$T_DIR/loss.txt")"
done
t_log "ok"
