#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# AMQP 1.0 -> Kafka: both brokers stopped (SIGSTOP) for 10 s mid-stream; nothing missing.
# (tests/faults/scenario.sh a2k stall; docs/reliability.md)
exec sh "$(dirname "$0")/ci.sh" a2k stall
