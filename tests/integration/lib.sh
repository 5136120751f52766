# The start of every integration test (sourced by tests/integration/*.sh).
# Exit status convention (automake): 0 pass, 1 fail, 77 skip, 99 hard error.
# The shared helpers (paths, t_wait_for, t_log_has, K_PROPS, ...) are in tests/testlib.sh;
# this file adds what one test run needs: its name, its folder, its clean-up.
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck disable=SC1091
. "$top_srcdir/tests/testlib.sh"

T_NAME=$(basename "$0" .sh)
T_DIR=$(mktemp -d "/tmp/brg-$T_NAME.XXXXXX")
T_PIDS=""

t_cleanup() {
    for p in $T_PIDS; do kill "$p" 2>/dev/null; done
    for p in $T_PIDS; do wait "$p" 2>/dev/null; done
    if [ "${T_FAILED:-0}" = 0 ] && [ "${BRG_TEST_KEEP:-0}" = 0 ]; then rm -rf "$T_DIR"; fi
}
trap t_cleanup EXIT

t_log() { echo "[$T_NAME] $*"; }
t_fail() {
    T_FAILED=1
    echo "FAIL [$T_NAME] $*" >&2
    t_show_logs >&2
    echo "  (files kept in $T_DIR)" >&2
    exit 1
}
# t_show_logs: the last lines of every log in $T_DIR (the bridges', the brokers'), so that a
# failure on a CI machine, whose files are gone, still shows what led to it.
t_show_logs() {
    for f in "$T_DIR"/*.log; do
        [ -s "$f" ] || continue
        echo "  --- last lines of $(basename "$f") (DEBUG left out):"
        grep -v '^[^ ]* DEBUG ' "$f" | tail -n 20 | cut -c1-400 | sed 's/^/  | /'
    done
}
t_skip() { echo "SKIP [$T_NAME] $*"; exit 77; }

# t_need kafka|rabbitmq: source the broker's env file or skip the test.
t_need() {
    f="$BRG_TEST_STATE_DIR/$1.env"
    # A RabbitMQ node started under another name (RABBITMQ_TEST_NAME, several checkouts on one
    # machine) writes its env file under that name.
    [ "$1" = rabbitmq ] && f="$BRG_TEST_STATE_DIR/${RABBITMQ_TEST_NAME:-rabbitmq}.env"
    [ -r "$f" ] || t_skip "$1 test broker not running (scripts/test.sh starts it)"
    # shellcheck disable=SC1090
    . "$f"
}

# t_bridge NAME CONF [ARGS...]: start msgbridge in the background, log in $T_DIR/NAME.log;
# sets T_BRIDGE_PID.
t_bridge() {
    name=$1; conf=$2; shift 2
    "$MSGBRIDGE" -c "$conf" "$@" >"$T_DIR/$name.log" 2>&1 &
    T_BRIDGE_PID=$!
    T_PIDS="$T_PIDS $T_BRIDGE_PID"
}

# t_stop PID [TIMEOUT_S]: SIGTERM and wait; fails if it does not exit 0 in time.
t_stop() {
    pid=$1; to=${2:-30}
    kill -TERM "$pid" 2>/dev/null || return 0
    i=0
    while kill -0 "$pid" 2>/dev/null; do
        i=$((i + 1)); [ $i -gt $((to * 10)) ] && t_fail "pid $pid did not stop within ${to}s"
        sleep 0.1
    done
    wait "$pid"; rc=$?
    [ $rc = 0 ] || t_fail "pid $pid exited with status $rc"
}

t_assert_eq() { [ "$1" = "$2" ] || t_fail "${3:-values differ}: expected '$2', got '$1'"; }
