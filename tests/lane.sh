#!/bin/sh
# tests/lane.sh TEST: run one test of `make check` under scripts/test.sh's lane lock.
# scripts/test.sh runs the tests in two lanes at once: the side lane holds the tests that use no
# shared test broker (Check programs, and scripts marked "# lane: side": they start every broker
# they need themselves, or need none), the main lane everything else, one test at a time each.
# A script marked "# lane: alone" judges something by the machine's pace (duplicates bounded by
# a rate, memory over a timed soak): it takes the lock exclusively, so nothing runs beside it;
# every other test takes it shared. Without BRG_TEST_LANE_LOCK the test just runs.
t=$1
if [ -z "${BRG_TEST_LANE_LOCK:-}" ]; then exec "$t"; fi
mode=-s
grep -q '^# lane: alone' "$t" 2>/dev/null && mode=-x
# -o: the lock stays with flock itself, not with the test, so that a daemon a test leaves
# running (node_start.sh's RabbitMQ node) does not hold it for ever; -w: a lock never granted
# fails the test instead of hanging the suite.
exec flock -o -w 1200 $mode "$BRG_TEST_LANE_LOCK" "$t"
