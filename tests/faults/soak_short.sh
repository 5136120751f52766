#!/bin/sh
# lane: alone (scripts/test.sh, tests/lane.sh)
# lane: side (scripts/test.sh, tests/lane.sh)
# make check: bench/soak.sh for 60 s (25 s under the sanitizers) (Kafka -> Kafka and RabbitMQ -> Kafka, 1000 msg/s each, one
# msgbridge) on private brokers (tests/faults/ci.sh's node and ports): nothing missing, open file
# descriptors flat, memory flat after a 30 s warm-up (reported only in sanitizer builds, where
# ASan's quarantine grows by design). The 10-minute soak is `bench/soak.sh` (docs/reliability.md).
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${FAULTS_RABBITMQ_NAME:=faultsci}"
: "${FAULTS_RABBITMQ_PORT:=45702}"
: "${FAULTS_KAFKA_PORT:=26500}"
: "${FAULTS_STATE_DIR:=/tmp/msgbridge-faults}"
export top_srcdir FAULTS_RABBITMQ_NAME FAULTS_RABBITMQ_PORT FAULTS_KAFKA_PORT FAULTS_STATE_DIR
set -- --seconds 60 --warmup 30 --rate 1000
if grep -q -- '-fsanitize=address' "${top_builddir:-$top_srcdir}/Makefile" 2>/dev/null; then
    # No memory check under ASan, so no warm-up to wait out: 25 s still checks that nothing is
    # missing and that file descriptors stay flat, with the sanitizers watching every path.
    set -- --seconds 25 --warmup 10 --rate 1000 --no-memory-check
fi
mkdir -p "$FAULTS_STATE_DIR"
out=$(mktemp -d "$FAULTS_STATE_DIR/soak-ci.XXXXXX")
sh "$top_srcdir/bench/soak.sh" "$@" --out "$out"
rc=$?
[ $rc = 0 ] && rm -rf "$out"
exit $rc
