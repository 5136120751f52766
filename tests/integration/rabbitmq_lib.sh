# Helpers for the rabbitmq integration tests (sourced after lib.sh and `t_need rabbitmq`).
# The test client is tests/adapters/check_rabbitmq_client (rabbitmq-c, independent of the
# adapter): it publishes numbered messages and verifies them exactly.

RMQC=$top_builddir/tests/adapters/check_rabbitmq_client
if [ ! -x "$RMQC" ]; then
    make -C "$top_builddir" tests/adapters/check_rabbitmq_client >/dev/null 2>&1 ||
        t_skip "cannot build $RMQC"
fi
RMQ_URL=${BRG_TEST_RABBITMQ_URL:-}

# rmqc ARGS...: run the client against $RMQ_URL.
rmqc() { "$RMQC" "$RMQ_URL" "$@"; }

# rmq_fresh QUEUE...: delete and declare each queue (durable).
rmq_fresh() {
    for q in "$@"; do
        rmqc delete "$q" >/dev/null 2>&1
        rmqc declare "$q" || t_fail "cannot declare queue $q"
    done
}

# rmq_count QUEUE: ready messages in the queue.
rmq_count() { rmqc count "$1" 2>/dev/null || echo -1; }

# rmq_wait_count QUEUE N SECONDS: wait until QUEUE holds at least N ready messages.
rmq_wait_count() {
    i=0
    while [ "$(rmq_count "$1")" -lt "$2" ]; do
        i=$((i + 1)); [ $i -gt $(($3 * 5)) ] && return 1
        sleep 0.2
    done
    return 0
}

# rmq_at_least QUEUE N: QUEUE holds at least N ready messages (for t_wait_for).
rmq_at_least() { [ "$(rmq_count "$1")" -ge "$2" ]; }

# rmq_ctl ARGS...: rabbitmqctl against the test node.
rmq_ctl() { $BRG_TEST_RABBITMQCTL "$@"; }

# rmq_free_port: t_free_port (older name).
rmq_free_port() { t_free_port; }

# rmq_bodies FILE: the message numbers of a `rmqc dump` output, one per line, in order.
rmq_bodies() { sed -n 's/.*body="msg-\([0-9]*\)-.*/\1/p' "$1"; }

# rmq_route_json NAME: the route's object from /routes (one line) at $RMQ_HTTP.
rmq_route_json() { curl -sf "$RMQ_HTTP/routes" | tr -d '\n' | sed 's/},/}\n/g' | grep "\"name\": \"$1\""; }
