#!/bin/sh
# The demo: install what is missing, build msgbridge, start a Kafka test cluster and a RabbitMQ
# node (with its AMQP 1.0 plugin) on 127.0.0.1, run msgbridge on examples/demo.conf and show
# events crossing Kafka -> RabbitMQ and AMQP 1.0 ("ActiveMQ") -> Kafka. Stops what it started.
#   scripts/demo.sh           run the demo and exit
#   scripts/demo.sh --keep    leave the bridge and brokers running until Ctrl-C
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

say "starting a Kafka test cluster and a RabbitMQ node on 127.0.0.1"
sh scripts/brokers.sh start "$build" || { echo "brokers failed to start"; exit 1; }
. "$BRG_TEST_STATE_DIR/kafka.env"
. "$BRG_TEST_STATE_DIR/rabbitmq.env"
export DEMO_KAFKA_BROKERS="$BRG_TEST_KAFKA_BROKERS"
export DEMO_RABBITMQ_URL="$BRG_TEST_RABBITMQ_URL"
export DEMO_AMQP1_URL="$BRG_TEST_AMQP1_URL"
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

say "sending 3 AMQP 1.0 messages to queue 'audit' (python3-qpid-proton, like an ActiveMQ client)"
# Debian's python3 has the proton module; a pyenv or venv python first in PATH may not.
/usr/bin/python3 - "$DEMO_AMQP1_URL" <<'PY' || { echo "sending over AMQP 1.0 failed"; exit 1; }
import sys
from proton import Message
from proton.utils import BlockingConnection
conn = BlockingConnection(sys.argv[1].replace("amqp://", "amqp://guest:guest@"), allowed_mechs="PLAIN")
snd = conn.create_sender("/amq/queue/audit")
for n, who in enumerate(["acme", "globex", "acme"], 1):
    m = Message(body=("login by %s #%d" % (who, n)).encode(), properties={"customer": who, "n": n})
    m.inferred = True
    snd.send(m)
conn.close()
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
