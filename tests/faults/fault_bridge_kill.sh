#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# Kafka -> Kafka: msgbridge is killed (SIGKILL) mid-stream and started again; nothing missing.
# (tests/faults/scenario.sh k2k bridge_kill; docs/reliability.md)
exec sh "$(dirname "$0")/ci.sh" k2k bridge_kill
