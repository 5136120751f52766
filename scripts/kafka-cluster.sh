#!/bin/sh
# Start or stop the Kafka test cluster (tools/kafka-mock/kafka-mock-cluster, built on
# librdkafka's mock cluster) for tests and the demo.
#
#   scripts/kafka-cluster.sh start|stop|status
#
# start writes $BRG_TEST_STATE_DIR/kafka.env once the brokers accept connections:
#   BRG_TEST_KAFKA_BROKERS=127.0.0.1:39092,127.0.0.1:39093,127.0.0.1:39094
#   BRG_TEST_KAFKA_CTL=<FIFO that takes fault commands: "down 2", "up all", ...>
#   BRG_TEST_KAFKA_PID=<pid>  BRG_TEST_KAFKA_LOG=<log file>
# Environment:
#   KAFKA_MOCK          the program (default: $top_builddir/tools/kafka-mock/kafka-mock-cluster,
#                       built with make if missing)
#   top_builddir        build tree (default: .)
#   BRG_TEST_STATE_DIR  state dir (default /tmp/msgbridge-test)
#   KAFKA_BROKER_COUNT  brokers (default 3); KAFKA_PORT first port (default 39092)
#   KAFKA_TOPICS        topics to create, "name:partitions ..." (default "demo.in:6 demo.out:6")
set -eu

: "${BRG_TEST_STATE_DIR:=/tmp/msgbridge-test}"
: "${top_builddir:=.}"
: "${KAFKA_BROKER_COUNT:=3}"
: "${KAFKA_PORT:=39092}"
: "${KAFKA_TOPICS:=demo.in:6 demo.out:6}"

dir=$BRG_TEST_STATE_DIR/kafka
env_file=$BRG_TEST_STATE_DIR/kafka.env
pid_file=$dir/pid

log() { echo "kafka-cluster: $*" >&2; }

find_program() {
    prog=${KAFKA_MOCK:-$top_builddir/tools/kafka-mock/kafka-mock-cluster}
    # Not built yet: build it in its build tree (the path's top, or $top_builddir).
    case $prog in
    */tools/kafka-mock/kafka-mock-cluster) bdir=${prog%/tools/kafka-mock/kafka-mock-cluster} ;;
    *) bdir=$top_builddir ;;
    esac
    if [ ! -x "$prog" ] && [ -f "$bdir/Makefile" ]; then
        log "building $prog"
        make -C "$bdir" tools/kafka-mock/kafka-mock-cluster >&2 || true
    fi
    [ -x "$prog" ] || { log "$prog not found: build with ./configure --enable-kafka && make, or set KAFKA_MOCK"; exit 1; }
    echo "$prog"
}

running_pid() {
    [ -r "$pid_file" ] || return 1
    p=$(cat "$pid_file")
    kill -0 "$p" 2>/dev/null || return 1
    echo "$p"
}

do_start() {
    if p=$(running_pid); then
        log "already running (pid $p)"
        [ -r "$env_file" ] && return 0
        log "but $env_file is missing: stopping it first"
        do_stop
    fi
    prog=$(find_program)
    case $prog in /*) ;; *) prog=$(pwd)/$prog ;; esac
    mkdir -p "$dir"
    rm -f "$env_file" "$dir/bootstrap"
    set -- -n "$KAFKA_BROKER_COUNT" -p "$KAFKA_PORT" -f "$dir/bootstrap" -c "$dir/ctl"
    for t in $KAFKA_TOPICS; do set -- "$@" -t "$t"; done
    # setsid: the cluster outlives the shell that started it (CI steps, test harnesses).
    setsid "$prog" "$@" </dev/null >"$dir/log" 2>&1 &
    echo $! >"$pid_file"
    # The program writes the bootstrap file once every listener is bound and topics exist:
    # bench/run's three dozen topics of up to 64 partitions take the mock over 10 s on a
    # busy machine, so the wait ends at 60 s (at once when the file is there).
    i=0
    while [ ! -s "$dir/bootstrap" ]; do
        if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
            log "the cluster exited at start:"; cat "$dir/log" >&2; exit 1
        fi
        i=$((i + 1))
        [ $i -gt 600 ] && { log "not ready after 60 s"; do_stop; exit 1; }
        sleep 0.1
    done
    cat >"$env_file.tmp" <<EOT
BRG_TEST_KAFKA_BROKERS=$(cat "$dir/bootstrap")
BRG_TEST_KAFKA_CTL=$dir/ctl
BRG_TEST_KAFKA_PID=$(cat "$pid_file")
BRG_TEST_KAFKA_LOG=$dir/log
export BRG_TEST_KAFKA_BROKERS BRG_TEST_KAFKA_CTL BRG_TEST_KAFKA_PID BRG_TEST_KAFKA_LOG
EOT
    mv "$env_file.tmp" "$env_file"
    log "started: $(cat "$dir/bootstrap") (pid $(cat "$pid_file"), log $dir/log)"
}

do_stop() {
    rm -f "$env_file"
    if p=$(running_pid); then
        kill -TERM "$p" 2>/dev/null || true
        i=0
        while kill -0 "$p" 2>/dev/null; do
            i=$((i + 1))
            if [ $i -gt 100 ]; then log "pid $p ignored SIGTERM for 10 s: killing"; kill -KILL "$p"; fi
            sleep 0.1
        done
        log "stopped (pid $p)"
    fi
    rm -f "$pid_file" "$dir/bootstrap" "$dir/ctl"
}

case "${1:-}" in
start) do_start ;;
stop) do_stop ;;
status)
    if p=$(running_pid); then echo "running (pid $p): $(cat "$dir/bootstrap" 2>/dev/null)"; else echo "stopped"; exit 3; fi ;;
*) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
