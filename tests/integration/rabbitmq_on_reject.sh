#!/bin/sh
# on_reject: a message the route rejects (a mandatory publish that routes nowhere, from a
# routing key taken from a header) while the route has no dead_letter.
#   reject + the queue has x-dead-letter-exchange: basic.reject, the broker dead-letters it
#            (x-death names the queue), the other messages arrive in order, the route runs on
#            and counts it (msgbridge_route_broker_rejected_total 1);
#   reject + queue_arguments on a queue msgbridge declares: the same;
#   keep (default): the destination leads nowhere and there is no dead letter: the route parks
#            (it retries until the queue exists), /routes says why, the message stays queued;
#   reject + no dead-letter exchange: checked at start (logged), the route parks instead of
#            letting RabbitMQ drop the message.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
. "$(dirname "$0")/rabbitmq_lib.sh"
command -v curl >/dev/null || t_skip "curl not installed"
command -v python3 >/dev/null || t_skip "python3 not installed"

rmqc declare-exchange rej.dlx fanout >/dev/null || t_fail "declare exchange rej.dlx"
rmq_fresh rej.dlq rej.out1 rej.out2 rej.out3 rej.out4 rej.keep rej.nodlx
rmqc declare rej.dlq rej.dlx "" >/dev/null || t_fail "bind rej.dlq"
rmqc delete rej.in >/dev/null 2>&1
rmqc delete rej.nowhere >/dev/null 2>&1
rmqc delete rej.declared >/dev/null 2>&1
rmqc declare rej.in --arg x-dead-letter-exchange=rej.dlx --arg x-message-ttl=3600000 >/dev/null ||
    t_fail "declare rej.in"

# 0..9 and 11..19 go to DEST; 10 names a queue that does not exist.
publish20() {  # publish20 EXCHANGE KEY DEST
    rmqc publish "$1" "$2" 10 --const dest="$3" >/dev/null &&
        rmqc publish "$1" "$2" 1 --start 10 --const dest=rej.nowhere >/dev/null &&
        rmqc publish "$1" "$2" 9 --start 11 --const dest="$3" >/dev/null || t_fail "publish to $2"
}
publish20 "" rej.in rej.out1
publish20 "" rej.keep rej.out2
publish20 "" rej.nodlx rej.out3

PORT=$(t_free_port)
RMQ_HTTP=http://127.0.0.1:$PORT
cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "rej"; metrics = "127.0.0.1:$PORT"; };
endpoints = ( { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; } );
routes = (
  { name = "r-dlx";
    from = { endpoint = "rabbit"; queue = "rej.in"; on_reject = "reject"; };
    to = { endpoint = "rabbit"; routing_key = "\${header.dest}"; }; },
  { name = "r-declared";
    from = { endpoint = "rabbit"; exchange = "amq.direct"; binding_key = "rej.declared.k";
             queue = "rej.declared"; on_reject = "reject";
             queue_arguments = { x-dead-letter-exchange = "rej.dlx"; x-max-length = 100000; }; };
    to = { endpoint = "rabbit"; routing_key = "\${header.dest}"; }; },
  { name = "r-keep";
    from = { endpoint = "rabbit"; queue = "rej.keep"; };
    to = { endpoint = "rabbit"; routing_key = "\${header.dest}"; }; },
  { name = "r-nodlx";
    from = { endpoint = "rabbit"; queue = "rej.nodlx"; on_reject = "reject"; };
    to = { endpoint = "rabbit"; routing_key = "\${header.dest}"; }; }
);
EOT
"$MSGBRIDGE" -t -c "$T_DIR/bridge.conf" >"$T_DIR/check.txt" 2>&1 || t_fail "config refused: $(cat "$T_DIR/check.txt")"
t_bridge bridge "$T_DIR/bridge.conf"
# The declared queue exists once the route consumes it: then feed it.
t_wait_for 15 rmqc count rej.declared || t_fail "rej.declared was not declared: $(tail -5 "$T_DIR/bridge.log")"
publish20 amq.direct rej.declared.k rej.out4

rmq_wait_count rej.out1 19 20 || t_fail "rej.out1 has $(rmq_count rej.out1) of 19"
rmq_wait_count rej.out4 19 20 || t_fail "rej.out4 has $(rmq_count rej.out4) of 19"
rmq_wait_count rej.dlq 2 20 || t_fail "rej.dlq has $(rmq_count rej.dlq) of 2"
t_wait_for 10 t_log_has "$T_DIR/bridge.log" 'route "r-keep" parked' || t_fail "r-keep did not park"
t_wait_for 10 t_log_has "$T_DIR/bridge.log" 'route "r-nodlx" parked' || t_fail "r-nodlx did not park"
t_assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$RMQ_HTTP/readyz")" 503 "/readyz with parked routes"

# What an operator sees.
j=$(rmq_route_json r-dlx)
echo "$j" | grep -q '"state": "running"' || t_fail "r-dlx not running: $j"
echo "$j" | grep -q '"broker_rejected": 1,' || t_fail "r-dlx broker_rejected: $j"
echo "$j" | grep -q '"stop_reason": null' || t_fail "r-dlx stop_reason: $j"
j=$(rmq_route_json r-declared)
echo "$j" | grep -q '"state": "running"' || t_fail "r-declared not running: $j"
j=$(rmq_route_json r-keep)
echo "$j" | grep -q '"state": "parked"' || t_fail "r-keep not parked: $j"
echo "$j" | grep -q '"park_reason": "unroutable: NO_ROUTE (exchange \\"\\", routing key \\"rej.nowhere\\")"' ||
    t_fail "r-keep park_reason: $j"
echo "$j" | grep -q '"broker_rejected": 0,' || t_fail "r-keep broker_rejected: $j"
j=$(rmq_route_json r-nodlx)
echo "$j" | grep -q '"state": "parked"' || t_fail "r-nodlx not parked: $j"
curl -sf "$RMQ_HTTP/metrics" >"$T_DIR/metrics.txt" || t_fail "no /metrics"
grep -q '^msgbridge_route_broker_rejected_total{route="r-dlx"} 1$' "$T_DIR/metrics.txt" ||
    t_fail "metrics: $(grep broker_rejected "$T_DIR/metrics.txt")"
grep -q '^msgbridge_route_broker_rejected_total{route="r-keep"} 0$' "$T_DIR/metrics.txt" ||
    t_fail "metrics: $(grep broker_rejected "$T_DIR/metrics.txt")"
grep -q '^msgbridge_rabbitmq_dead_lettered_total{endpoint="rabbit",route="r-dlx",queue="rej.in"} 1$' \
    "$T_DIR/metrics.txt" || t_fail "metrics: $(grep dead_lettered "$T_DIR/metrics.txt")"
t_log_has "$T_DIR/bridge.log" 'queue "rej.in" dead-letters to exchange "rej.dlx"' ||
    t_fail "no dead-letter exchange found for rej.in"
t_log_has "$T_DIR/bridge.log" 'queue "rej.nodlx" has no x-dead-letter-exchange argument' ||
    t_fail "no warning about rej.nodlx"
t_stop "$T_BRIDGE_PID"

# The poison messages are in the dead-letter queue, with RabbitMQ's x-death.
rmqc dump rej.dlq 10 >"$T_DIR/dlq.txt"
t_assert_eq "$(rmq_bodies "$T_DIR/dlq.txt" | tr '\n' ' ')" "10 10 " "dead-lettered bodies"
grep 'body="msg-10-' "$T_DIR/dlq.txt" | grep -q '"x-death"=A:\[F:{"count"=l:1,"reason"=S:"rejected","queue"=S:"rej.in",' ||
    t_fail "x-death of rej.in's message: $(cat "$T_DIR/dlq.txt")"
grep -q '"x-death"=A:\[F:{"count"=l:1,"reason"=S:"rejected","queue"=S:"rej.declared",' "$T_DIR/dlq.txt" ||
    t_fail "x-death of rej.declared's message: $(cat "$T_DIR/dlq.txt")"
grep -q '"dest"=S:"rej.nowhere"' "$T_DIR/dlq.txt" || t_fail "headers lost: $(cat "$T_DIR/dlq.txt")"
want="0 1 2 3 4 5 6 7 8 9 11 12 13 14 15 16 17 18 19 "
for q in rej.out1 rej.out4; do
    rmqc dump $q 100 >"$T_DIR/$q.txt"
    t_assert_eq "$(rmq_bodies "$T_DIR/$q.txt" | tr '\n' ' ')" "$want" "$q in order"
done
t_assert_eq "$(rmq_count rej.in)" 0 "rej.in after the run"

# Parked routes: the unroutable message is still in its source queue, nothing is missing.
for p in keep:rej.out2 nodlx:rej.out3; do
    q=rej.${p%%:*}; out=${p#*:}
    rmqc dump "$out" 100 >"$T_DIR/$out.txt"
    rmqc dump "$q" 100 >"$T_DIR/$q.txt"
    rmq_bodies "$T_DIR/$q.txt" | grep -qx 10 || t_fail "message 10 not kept in $q"
    got=$(cat "$T_DIR/$out.txt" "$T_DIR/$q.txt" | rmq_bodies /dev/stdin | sort -n | uniq | tr '\n' ' ')
    t_assert_eq "$got" "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 " "$q: every message delivered or kept"
    rmq_bodies "$T_DIR/$out.txt" | grep -qx 10 && t_fail "message 10 reached $out"
done
t_log "ok"
