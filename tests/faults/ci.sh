#!/bin/sh
# tests/faults/ci.sh ROUTE SCENARIO: one fault scenario with the settings of `make check`: its own
# private RabbitMQ node (faultsci@localhost on 45702, started by node_start.sh and stopped by
# node_stop.sh, or by the scenario itself when run alone), Kafka mock clusters from port 26500,
# 20000 messages (4000 under BRG_TEST_QUICK=1). Never touches the shared test brokers.
. "$(dirname "$0")/ci_env.sh"
n=20000
[ "${BRG_TEST_QUICK:-0}" = 1 ] && n=4000
: "${FAULTS_COUNT:=$n}"
export FAULTS_COUNT
exec sh "$(dirname "$0")/scenario.sh" "$@"
