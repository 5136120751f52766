#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# RabbitMQ -> Kafka: a message too large for the destination mid-stream goes to the dead letter, the rest flows.
# (tests/faults/scenario.sh r2k poison; docs/reliability.md)
exec sh "$(dirname "$0")/ci.sh" r2k poison
