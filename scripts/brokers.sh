#!/bin/sh
# Start or stop every test broker: scripts/brokers.sh start|stop BUILD_DIR
# Each fixture writes $BRG_TEST_STATE_DIR/<name>.env when ready (see tests/integration/lib.sh).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cmd=$1
build=${2:-$top/build/normal}
export top_builddir="$build"
export KAFKA_MOCK="$build/tools/kafka-mock/kafka-mock-cluster"
rc=0
case "$cmd" in
start)
    if [ -x "$top/scripts/kafka-cluster.sh" ]; then
        "$top/scripts/kafka-cluster.sh" start || rc=1
    fi
    if [ -x "$top/scripts/rabbitmq-node.sh" ]; then
        "$top/scripts/rabbitmq-node.sh" start || rc=1
    fi
    # Debian's ActiveMQ Classic (STOMP + OpenWire), for the stomp adapter's tests.
    if [ -x "$top/scripts/activemq-node.sh" ] && [ -r /usr/share/activemq/bin/activemq.jar ]; then
        "$top/scripts/activemq-node.sh" start || rc=1
    fi
    ;;
stop)
    [ -x "$top/scripts/activemq-node.sh" ] && [ -r /usr/share/activemq/bin/activemq.jar ] &&
        "$top/scripts/activemq-node.sh" stop
    [ -x "$top/scripts/rabbitmq-node.sh" ] && "$top/scripts/rabbitmq-node.sh" stop
    [ -x "$top/scripts/kafka-cluster.sh" ] && "$top/scripts/kafka-cluster.sh" stop
    ;;
*) echo "usage: $0 start|stop [BUILD_DIR]" >&2; exit 2 ;;
esac
exit $rc
