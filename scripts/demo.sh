#!/bin/sh
# The demo: install what is missing, build msgbridge, start a Kafka test cluster, a RabbitMQ node
# and Debian's ActiveMQ Classic (a private JVM, STOMP and OpenWire only) on 127.0.0.1, run
# msgbridge on examples/demo.conf and show events crossing Kafka -> RabbitMQ and ActiveMQ
# (STOMP) -> Kafka. Stops everything it started when it is done.
#   scripts/demo.sh           run the demo and exit
#   scripts/demo.sh --keep    leave the bridge and brokers running until Ctrl-C
# The brokers' state directory and ports follow the test scripts' variables
# (BRG_TEST_STATE_DIR, KAFKA_PORT, RABBITMQ_TEST_PORT, ACTIVEMQ_STOMP_PORT, ...).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
keep=0; [ "${1:-}" = "--keep" ] && keep=1
export BRG_TEST_STATE_DIR="${BRG_TEST_STATE_DIR:-/tmp/msgbridge-demo}"
build="$top/build/normal"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "installing what is missing and building msgbridge"
sh scripts/deps.sh || exit 1
sh scripts/build.sh "$build" || { echo "build failed"; exit 1; }

bridge_pid=""
cleanup() {
    [ -n "$bridge_pid" ] && kill -TERM "$bridge_pid" 2>/dev/null && wait "$bridge_pid" 2>/dev/null
    sh scripts/brokers.sh stop "$build" >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting a Kafka test cluster, a RabbitMQ node and ActiveMQ on 127.0.0.1"
sh scripts/brokers.sh start "$build" || { echo "brokers failed to start"; exit 1; }
. "$BRG_TEST_STATE_DIR/kafka.env"
. "$BRG_TEST_STATE_DIR/${RABBITMQ_TEST_NAME:-rabbitmq}.env"
[ -r "$BRG_TEST_STATE_DIR/activemq.env" ] || { echo "ActiveMQ did not start (apt-get install activemq)"; exit 1; }
. "$BRG_TEST_STATE_DIR/activemq.env"
echo "ActiveMQ: $(sed -n 's/.*\(Apache ActiveMQ [0-9.]*\) (.*) started.*/\1/p' "$BRG_TEST_ACTIVEMQ_LOG" | tail -1), STOMP on $BRG_TEST_STOMP_URL"
export DEMO_KAFKA_BROKERS="$BRG_TEST_KAFKA_BROKERS"
export DEMO_RABBITMQ_URL="$BRG_TEST_RABBITMQ_URL"
export DEMO_STOMP_URL="$BRG_TEST_STOMP_URL"
amqp-declare-queue --url="$DEMO_RABBITMQ_URL" -q orders -d >/dev/null
amqp-declare-queue --url="$DEMO_RABBITMQ_URL" -q audit -d >/dev/null

say "checking the configuration: msgbridge -t -c examples/demo.conf"
"$build/msgbridge" -t -c examples/demo.conf || exit 1

say "starting msgbridge"
"$build/msgbridge" -c examples/demo.conf 2>"$BRG_TEST_STATE_DIR/demo-bridge.log" &
bridge_pid=$!
i=0
until curl -sf http://127.0.0.1:9464/readyz >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 150 ] && { echo "bridge not ready:"; curl -s http://127.0.0.1:9464/readyz; cat "$BRG_TEST_STATE_DIR/demo-bridge.log"; exit 1; }
    sleep 0.2
done
echo "ready: $(curl -s http://127.0.0.1:9464/readyz)"

say "producing 5 orders to Kafka topic 'orders' (kcat, with keys and headers)"
for n in 1 2 3 4 5; do
    echo "{\"order\": $n, \"item\": \"widget-$n\", \"qty\": $((n * 3))}" |
        kcat -P -b "$DEMO_KAFKA_BROKERS" -t orders -k "customer-$((n % 2 + 1))" \
             -H "source=web" -H "order-no=$n"
done
echo "sent"

say "reading them from RabbitMQ queue 'orders' (amqp-get)"
got=0; tries=0
while [ $got -lt 5 ] && [ $tries -lt 100 ]; do
    if out=$(amqp-get --url="$DEMO_RABBITMQ_URL" -q orders 2>/dev/null); then
        got=$((got + 1)); echo "  rabbitmq <- $out"
    else
        tries=$((tries + 1)); sleep 0.2
    fi
done
[ $got = 5 ] || { echo "only $got of 5 arrived"; exit 1; }

say "sending 3 messages to ActiveMQ queue 'audit' (python3-stomp, an ordinary STOMP client)"
# Debian's python3 has the stomp module; a pyenv or venv python first in PATH may not.
/usr/bin/python3 - "${DEMO_STOMP_URL#stomp://}" <<'PY' || { echo "sending to ActiveMQ failed"; exit 1; }
import sys
import stomp
host, port = sys.argv[1].rsplit(":", 1)
conn = stomp.Connection12([(host, int(port))])
conn.connect(wait=True)
for n, who in enumerate(["acme", "globex", "acme"], 1):
    conn.send("/queue/audit", "login by %s #%d" % (who, n),
              headers={"customer": who, "n": str(n), "persistent": "true"})
conn.disconnect()
print("sent")
PY

say "reading them from Kafka topic 'audit' (kcat: key, headers, body)"
got=$(timeout 20 kcat -C -b "$DEMO_KAFKA_BROKERS" -t audit -o beginning -c 3 -q \
     -f '  kafka <- key=%k headers=%h body=%s\n' 2>/dev/null)
echo "$got"
[ "$(echo "$got" | grep -c 'kafka <-')" = 3 ] || { echo "only some of 3 arrived"; cat "$BRG_TEST_STATE_DIR/demo-bridge.log"; exit 1; }

say "what msgbridge counted (/metrics)"
curl -s http://127.0.0.1:9464/metrics | grep -E '^msgbridge_route_(messages_in|messages_out)_total'

if [ $keep = 1 ]; then
    say "running; bridge log: $BRG_TEST_STATE_DIR/demo-bridge.log; Ctrl-C to stop"
    wait "$bridge_pid"
fi
say "stopping (SIGTERM drains, then the brokers stop)"
kill -TERM "$bridge_pid"; wait "$bridge_pid"; echo "msgbridge exited with status $?"
bridge_pid=""
