#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# Kafka -> Kafka: the destination answers 500 ms late for 15 s; in flight and RSS stay bounded, nothing missing.
# (tests/faults/scenario.sh k2k slow; docs/reliability.md)
exec sh "$(dirname "$0")/ci.sh" k2k slow
