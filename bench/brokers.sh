#!/bin/sh
# The benchmark's own brokers, on ports and state folders of their own so that a benchmark never
# collides with the test fixtures (35672, 39092..) that may be running at the same time. It
# reuses the fixture scripts with other settings.
#
#   bench/brokers.sh start|stop BUILD_DIR
#
#   start  a Kafka mock cluster (3 brokers from $BENCH_KAFKA_PORT, topics $BENCH_KAFKA_TOPICS)
#          and a RabbitMQ node $BENCH_RABBITMQ_NAME@localhost on $BENCH_RABBITMQ_PORT (AMQP
#          0-9-1 and 1.0)
#          with the rabbitmq_shovel plugin; writes $BENCH_STATE_DIR/{kafka,$BENCH_RABBITMQ_NAME}.env.
#   stop   stop both by PID; epmd only if no other Erlang node is registered.
#
# Environment: BENCH_STATE_DIR (/tmp/msgbridge-bench), BENCH_RABBITMQ_PORT (55672; the
# distribution port is the next one, TLS the one before), BENCH_RABBITMQ_NAME (bench: the
# Erlang node name, unique on the machine: two benchmarks at once need two names, two state
# dirs and two sets of ports), BENCH_KAFKA_PORT (59092), BENCH_KAFKA_TOPICS
# ("name:partitions ..."), BENCH_NO_KAFKA=1 / BENCH_NO_RABBITMQ=1 to skip one.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}
build=${2:-$top/build/bench}

: "${BENCH_STATE_DIR:=/tmp/msgbridge-bench}"
: "${BENCH_RABBITMQ_PORT:=55672}"
: "${BENCH_RABBITMQ_NAME:=bench}"
: "${BENCH_KAFKA_PORT:=59092}"
: "${BENCH_KAFKA_TOPICS:=bench.probe:1}"
export BRG_TEST_STATE_DIR="$BENCH_STATE_DIR"
export RABBITMQ_TEST_NAME="$BENCH_RABBITMQ_NAME" RABBITMQ_TEST_PORT="$BENCH_RABBITMQ_PORT"
export RABBITMQ_TEST_DIST_PORT=$((BENCH_RABBITMQ_PORT + 1))
export KAFKA_PORT="$BENCH_KAFKA_PORT" KAFKA_BROKER_COUNT=3 KAFKA_TOPICS="$BENCH_KAFKA_TOPICS"
export top_builddir="$build"
rmq_dir=$BENCH_STATE_DIR/$BENCH_RABBITMQ_NAME

log() { echo "bench-brokers: $*" >&2; }

# The mock cluster program: the build's own if tests/kafka.mk built it, else compiled here
# from tools/kafka-mock (one C file on librdkafka).
kafka_mock() {
    p=$build/tools/kafka-mock/kafka-mock-cluster
    if [ ! -x "$p" ]; then
        make -C "$build" tools/kafka-mock/kafka-mock-cluster >/dev/null 2>&1 || true
    fi
    if [ ! -x "$p" ]; then
        p=$build/bench/kafka-mock-cluster
        src=$top/tools/kafka-mock/kafka-mock-cluster.c
        [ -r "$src" ] || { log "$src is missing"; return 1; }
        if [ ! -x "$p" ] || [ "$src" -nt "$p" ]; then
            mkdir -p "$build/bench"
            # shellcheck disable=SC2046
            cc -std=c11 -D_GNU_SOURCE -O2 -o "$p" "$src" $(pkg-config --cflags --libs rdkafka) -ldl
        fi
    fi
    echo "$p"
}

start() {
    mkdir -p "$BENCH_STATE_DIR"
    if [ "${BENCH_NO_KAFKA:-0}" != 1 ]; then
        KAFKA_MOCK=$(kafka_mock)
        export KAFKA_MOCK
        "$top/scripts/kafka-cluster.sh" start
    fi
    if [ "${BENCH_NO_RABBITMQ:-0}" != 1 ]; then
        "$top/scripts/rabbitmq-node.sh" start
        # Shovel for the comparison: enabled on the running node (the fixture script enables
        # its plugins offline on a fresh node; a second plugin is one more command here).
        "$rmq_dir/rabbitmq-plugins" enable rabbitmq_shovel >"$rmq_dir/shovel-plugin.log" 2>&1 || {
            log "enabling rabbitmq_shovel failed:"; cat "$rmq_dir/shovel-plugin.log" >&2; return 1; }
    fi
}

stop() {
    [ -x "$top/scripts/kafka-cluster.sh" ] && "$top/scripts/kafka-cluster.sh" stop || true
    if [ -r "$rmq_dir/rabbitmq.pid" ]; then
        # The node only; epmd below, and only if nobody else (the test node) still uses it.
        pid=$(cat "$rmq_dir/rabbitmq.pid")
        if kill -0 "$pid" 2>/dev/null; then
            "$rmq_dir/rabbitmqctl" stop "$rmq_dir/rabbitmq.pid" >"$rmq_dir/stop.log" 2>&1 ||
                kill -9 "$pid" 2>/dev/null || true
            i=0
            while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do i=$((i + 1)); sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$BENCH_STATE_DIR/$BENCH_RABBITMQ_NAME.env"
        if ! ERL_EPMD_ADDRESS=127.0.0.1 epmd -names 2>/dev/null | grep -q '^name '; then
            ERL_EPMD_ADDRESS=127.0.0.1 epmd -kill >/dev/null 2>&1 || true
        fi
    fi
}

case $cmd in
start) start ;;
stop) stop ;;
*) echo "usage: $0 start|stop [BUILD_DIR]" >&2; exit 2 ;;
esac
