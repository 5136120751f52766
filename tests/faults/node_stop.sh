#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# Stops the private RabbitMQ node that node_start.sh started for the fault tests.
. "$(dirname "$0")/ci_env.sh"
mkdir -p "$FAULTS_STATE_DIR"
if [ -z "${F_LOCKED:-}" ] && command -v flock >/dev/null 2>&1; then
    F_LOCKED=1 exec flock -o -w 3600 "$FAULTS_STATE_DIR/lock" sh "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
if [ ! -e "$F_NODE_SHARED" ]; then
    echo "SKIP no node started by node_start.sh"
    exit 77
fi
rm -f "$F_NODE_SHARED"
f_node stop >/dev/null 2>&1
f_node status && { echo "the node still runs"; exit 1; }
f_log "node $FAULTS_RABBITMQ_NAME@localhost stopped"
