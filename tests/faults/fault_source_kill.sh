#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# RabbitMQ -> Kafka: the source RabbitMQ node is killed (SIGKILL) mid-stream and restarted; nothing missing.
# (tests/faults/scenario.sh r2k source_kill; docs/reliability.md)
exec sh "$(dirname "$0")/ci.sh" r2k source_kill
