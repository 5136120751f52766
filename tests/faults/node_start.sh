#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# Starts the private RabbitMQ node that the fault tests of `make check` share (faultsci@localhost
# on port 45702, state in /tmp/msgbridge-faults); node_stop.sh, the last of them, stops it.
# A fault test run alone starts and stops the node itself. Skips when RabbitMQ is not installed.
. "$(dirname "$0")/ci_env.sh"
mkdir -p "$FAULTS_STATE_DIR"
if [ -z "${F_LOCKED:-}" ] && command -v flock >/dev/null 2>&1; then
    F_LOCKED=1 exec flock -o -w 3600 "$FAULTS_STATE_DIR/lock" sh "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || { echo "SKIP rabbitmq-server is not installed"; exit 77; }
f_node_up || exit 99
touch "$F_NODE_SHARED"
f_log "node $FAULTS_RABBITMQ_NAME@localhost runs (pid $(f_node_pid)); the fault tests share it"
