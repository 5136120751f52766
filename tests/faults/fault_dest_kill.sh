#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# Kafka -> RabbitMQ: the destination RabbitMQ node is killed (SIGKILL) mid-stream and restarted; nothing missing.
# (tests/faults/scenario.sh k2r dest_kill; docs/reliability.md)
exec sh "$(dirname "$0")/ci.sh" k2r dest_kill
