#!/bin/sh
# A poison message on a route to ActiveMQ: a 2 MiB line in a file of small ones, to a STOMP
# connector whose wireFormat.maxFrameSize is 1 MiB (scripts/activemq-node.sh). ActiveMQ
# answers with an ERROR without receipt-id and closes the connection; the sink settles that
# SEND REJECTED with the broker's text, the route's dead letter gets it, everything else
# arrives (duplicates allowed: the SENDs in flight when the connection closed are resent).
. "$(dirname "$0")/lib.sh"
t_need activemq
. "$(dirname "$0")/stomp_lib.sh"

qout=stp.out.$$
trap 't_cleanup' EXIT
N=200
i=0
while [ $i -lt $N ]; do
    if [ $i = 100 ]; then
        head -c 2097152 /dev/zero | tr '\0' 'p'
        echo
    else
        echo "line-$i"
    fi
    i=$((i + 1))
done >"$T_DIR/in.txt"

cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "stp-$$"; };
endpoints = (
  { name = "in"; type = "file"; path = "$T_DIR/in.txt"; format = "lines"; },
  { name = "dlq"; type = "file"; path = "$T_DIR/dlq.jsonl"; },
  { name = "amq"; type = "stomp"; url = "$BRG_TEST_STOMP_URL"; }
);
routes = (
  { name = "file-to-stomp";
    from = { endpoint = "in"; };
    to = { endpoint = "amq"; destination = "/queue/$qout"; };
    dead_letter = { endpoint = "dlq"; };
    max_in_flight = 50; }
);
EOT
"$MSGBRIDGE" -t -c "$T_DIR/bridge.conf" >"$T_DIR/check.log" 2>&1 || t_fail "-t: $(cat "$T_DIR/check.log")"
t_bridge bridge "$T_DIR/bridge.conf"
pid=$T_BRIDGE_PID
t_wait_for 60 test -s "$T_DIR/dlq.jsonl" || t_fail "nothing dead-lettered: $(tail -5 "$T_DIR/bridge.log")"
grep -q "maximum frame size was exceeded" "$T_DIR/dlq.jsonl" ||
    t_fail "the dead letter does not carry the broker's text: $(head -c 600 "$T_DIR/dlq.jsonl")"
t_assert_eq "$(wc -l <"$T_DIR/dlq.jsonl")" 1 "dead letters"
# Everything else arrives (count with duplicates, then distinct).
out=$("$ST_PY" -c "
import sys; sys.path.insert(0, '$(dirname "$ST_CLIENT")')
import stomp_client as c
r = c.RawReader('$ST_HOSTPORT', '/queue/$qout')
bodies = []
while True:
    f = r.frame(3)
    if f is None: break
    r.write('ACK', {'id': f[1]['ack']})
    bodies.append(f[2])
want = set(b'line-%d' % i for i in range($N) if i != 100)
got = set(bodies)
print('received=%d distinct=%d missing=%d' % (len(bodies), len(got & want), len(want - got)))
sys.exit(0 if not (want - got) else 1)
") || t_fail "$out"
t_log "$out"
t_stop "$pid"
t_log "ok"
