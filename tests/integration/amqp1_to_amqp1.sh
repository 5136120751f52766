#!/bin/sh
# AMQP 1.0 -> AMQP 1.0 through RabbitMQ's AMQP 1.0 plugin: messages sent by an independent
# client (python3-qpid-proton) with data-section bodies, keys (x-msgbridge-key) and typed
# application properties arrive at the destination queue identical (body, key, every property
# in its AMQP type, message id, correlation id, subject, content type, reply-to, group id,
# creation time, priority, durable), none missing, and the source queue ends empty.
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
. "$(dirname "$0")/amqp1_lib.sh"

N=$(t_count 20000)
qin=a1.in.$$
qout=a1.out.$$
a1_queue "$qin" "$qout"
trap 'a1_delete "$qin" "$qout"; t_cleanup' EXIT

cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "a2a"; };
endpoints = (
  { name = "amq"; type = "amqp1"; url = "amqp://$A1_HOSTPORT"; user = "guest";
    password_file = "$T_DIR/password"; }
);
routes = (
  { name = "amqp1-to-amqp1";
    from = { endpoint = "amq"; address = "queue://$qin"; };
    to = { endpoint = "amq"; address = "/amq/queue/$qout"; }; }
);
EOT
printf 'guest\n' >"$T_DIR/password"
"$MSGBRIDGE" -t -c "$T_DIR/bridge.conf" >"$T_DIR/check.log" 2>&1 || t_fail "-t: $(cat "$T_DIR/check.log")"

out=$(a1c send "/amq/queue/$qin" "$N" --tag a2a) || t_fail "send: $out"
t_log "$out"
start=$(date +%s)
t_bridge bridge "$T_DIR/bridge.conf"
out=$(a1c recv "/amq/queue/$qout" "$N" --tag a2a --idle 15 --timeout 50) || t_fail "$out"
t_log "$out (in $(($(date +%s) - start)) s)"
t_stop "$T_BRIDGE_PID"
t_assert_eq "$(a1_count "$qin")" 0 "$qin after the run"
t_log_has "$T_DIR/bridge.log" "(RabbitMQ " || t_fail "no connect line naming the broker"
t_log "ok"
