#!/bin/sh
# The source queue of an AMQP 1.0 route deleted under a running bridge (RabbitMQ 3.10's plugin
# then drops the connection, and closes the next ones with amqp:not-found when the receiver
# attaches): /routes shows the route's source_error naming the queue, the receiver backs off
# on its own while the endpoint's other route keeps moving messages; once the queue is
# declared again, messages sent to it flow and source_error is null again.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
. "$(dirname "$0")/amqp1_lib.sh"
. "$(dirname "$0")/rabbitmq_lib.sh"
command -v curl >/dev/null || t_skip "curl not installed"

N=$(t_count 200)
qin=a1d.in.$$; qout=a1d.out.$$; oin=a1d.oin.$$; oout=a1d.oout.$$
a1_queue "$qin" "$qout" "$oin" "$oout"
trap 'a1_delete "$qin" "$qout" "$oin" "$oout"; t_cleanup' EXIT
PORT=$(t_free_port)
RMQ_HTTP=http://127.0.0.1:$PORT
cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "a1d"; metrics = "127.0.0.1:$PORT"; };
endpoints = (
  { name = "amq"; type = "amqp1"; url = "amqp://$A1_HOSTPORT"; user = "guest"; password = "guest"; }
);
routes = (
  { name = "deleted";
    from = { endpoint = "amq"; address = "queue://$qin"; };
    to = { endpoint = "amq"; address = "/amq/queue/$qout"; }; },
  { name = "other";
    from = { endpoint = "amq"; address = "queue://$oin"; };
    to = { endpoint = "amq"; address = "/amq/queue/$oout"; }; }
);
EOT
t_bridge bridge "$T_DIR/bridge.conf"
out=$(a1c send "/amq/queue/$qin" "$N" --tag del) || t_fail "send: $out"
out=$(a1c recv "/amq/queue/$qout" "$N" --tag del --idle 10 --timeout 30) || t_fail "first batch: $out"
rmq_route_json deleted | grep -q '"source_error": null' || t_fail "source_error before: $(rmq_route_json deleted)"

amqp-delete-queue -u "$A1_RMQ_URL" -q "$qin" >/dev/null || t_fail "delete $qin"
has_error() { rmq_route_json deleted | grep -q "\"source_error\": \"receiving from .*amqp:not-found: NOT_FOUND - no queue '$qin'"; }
t_wait_for 20 has_error || t_fail "no source_error after the delete: $(rmq_route_json deleted)"
t_log "while deleted: $(rmq_route_json deleted | sed 's/.*"source_error"/source_error/')"
rmq_route_json deleted | grep -q '"state": "running"' || t_fail "route stopped: $(rmq_route_json deleted)"
rmq_route_json other | grep -q '"source_error": null' || t_fail "other route blamed: $(rmq_route_json other)"
# The other route of the endpoint still moves messages.
out=$(a1c send "/amq/queue/$oin" "$N" --tag oth) || t_fail "send other: $out"
out=$(a1c recv "/amq/queue/$oout" "$N" --tag oth --idle 15 --timeout 40) || t_fail "other route while the queue is missing: $out"
t_log "other route: $out"

amqp-declare-queue -u "$A1_RMQ_URL" -q "$qin" -d >/dev/null || t_fail "declare $qin again"
out=$(a1c send "/amq/queue/$qin" "$N" --start "$N" --tag del) || t_fail "send again: $out"
out=$(a1c recv "/amq/queue/$qout" "$N" --start "$N" --tag del --idle 40 --timeout 50) || t_fail "after the queue came back: $out"
t_log "after: $out"
no_error() { rmq_route_json deleted | grep -q '"source_error": null'; }
t_wait_for 10 no_error || t_fail "source_error not cleared: $(rmq_route_json deleted)"
t_stop "$T_BRIDGE_PID"
t_log "ok"
