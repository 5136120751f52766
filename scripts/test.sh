#!/bin/sh
# Set everything up and run every test: installs what is missing (apt-get, as root), builds
# msgbridge twice (normal, and with AddressSanitizer + UndefinedBehaviorSanitizer), starts the
# test brokers (Kafka mock cluster, RabbitMQ with AMQP 1.0), runs `make check` in both builds,
# and stops what it started. Exit status 0 only if every test passed.
#   scripts/test.sh            everything
#   SKIP_SANITIZERS=1 scripts/test.sh   only the normal build
#   BRG_TEST_LANES=0 scripts/test.sh    one test at a time, not two lanes: about 50 minutes, not 37
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export BRG_TEST_STATE_DIR="${BRG_TEST_STATE_DIR:-/tmp/msgbridge-test}"

sh scripts/deps.sh || exit 1

status=0
summary=""
brokers_up=""

stop_brokers() {
    if [ -n "$brokers_up" ]; then
        sh scripts/brokers.sh stop "$brokers_up" >/dev/null 2>&1
        brokers_up=""
    fi
}
trap stop_brokers EXIT
# Interrupted or terminated: stop (the EXIT trap stops the brokers), not go on to the next
# suite with the brokers gone.
trap 'exit 130' INT
trap 'exit 143' TERM

run_suite() {  # run_suite NAME BUILD_DIR [configure options...]
    name=$1; dir=$2; shift 2
    echo "==> building ($name) in $dir"
    if ! sh scripts/build.sh "$dir" "$@"; then
        echo "build ($name) failed"; status=1; return
    fi
    echo "==> starting test brokers"
    sh scripts/brokers.sh start "$dir" || { echo "brokers failed to start"; status=1; }
    brokers_up=$dir
    # Two lanes unless BRG_TEST_LANES=0 (37 minutes instead of 50 here; one at a time tells a
    # race between the lanes from a failure, or suits a machine too small for two).
    if [ "${BRG_TEST_LANES:-1}" = 1 ]; then
        echo "==> make check ($name), two lanes (tests/lane.sh; BRG_TEST_LANES=0: one at a time)"
        run_lanes "$dir"
    else
        echo "==> make check ($name), one test at a time"
        (cd "$dir" && make -s check -j1)
    fi
    if [ $? = 0 ]; then
        summary="$summary\n$name: all tests passed"
    else
        summary="$summary\n$name: FAILED (see $dir/test-suite.log and $dir/test-suite-side.log)"
        status=1
        for log in test-suite.log test-suite-side.log; do
            grep -q '^# FAIL: *[1-9]\|^# ERROR: *[1-9]' "$dir/$log" 2>/dev/null && tail -80 "$dir/$log"
        done
    fi
    stop_brokers
}

# run_lanes BUILD_DIR: `make check` as two lanes at once, each one test at a time: the side lane
# (Check programs and scripts marked "# lane: side", which use no shared broker) and the main
# lane (the tests on the shared brokers, in their order). A test marked "# lane: alone" runs with
# nothing beside it (tests/lane.sh). The side lane's output follows the main lane's.
run_lanes() {
    d=$1
    (cd "$d" && make -s check TESTS= >/dev/null) || return 1
    side="" main=""
    for t in $(cd "$d" && make -s print-tests); do
        case $t in
        *.sh) if grep -q '^# lane: side' "$top/$t"; then side="$side $t"; else main="$main $t"; fi ;;
        *) side="$side $t" ;;
        esac
    done
    lock=$d/lanes.lock
    : >"$lock"
    (cd "$d" && BRG_TEST_LANE_LOCK=$lock make -s check -j1 TESTS="$side" \
        TEST_SUITE_LOG=test-suite-side.log LOG_COMPILER="$top/tests/lane.sh") >"$d/side-lane.out" 2>&1 &
    side_pid=$!
    (cd "$d" && BRG_TEST_LANE_LOCK=$lock make -s check -j1 TESTS="$main" LOG_COMPILER="$top/tests/lane.sh")
    main_rc=$?
    wait "$side_pid"
    side_rc=$?
    echo "==> side lane"
    cat "$d/side-lane.out"
    [ "$main_rc" = 0 ] && [ "$side_rc" = 0 ]
}

run_unit_tsan() {
    # ThreadSanitizer on the core's unit tests (threads, mailboxes, timer, settle paths).
    dir="$top/build/tsan"
    echo "==> building (tsan) in $dir"
    if ! sh scripts/build.sh "$dir" --enable-tsan; then
        echo "build (tsan) failed"; status=1; return
    fi
    units=$(cd "$dir" && ls tests/unit/check_* 2>/dev/null | grep -v '\.' | tr '\n' ' ')
    if (cd "$dir" && TSAN_OPTIONS="halt_on_error=1" make -s check TESTS="$units"); then
        summary="$summary\ntsan (core unit tests): all tests passed"
    else
        summary="$summary\ntsan: FAILED (see $dir/test-suite.log)"
        status=1
    fi
}

run_suite normal "$top/build/normal" --enable-werror
if [ "${SKIP_SANITIZERS:-0}" != 1 ]; then
    # Leaks are checked by LeakSanitizer; libraries' own one-time allocations are suppressed.
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
    export LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    # Integration tests move fewer messages under the sanitizers (5x slower).
    BRG_TEST_QUICK=1 run_suite sanitizers "$top/build/asan" --enable-sanitizers
fi
if [ "${SKIP_SANITIZERS:-0}" != 1 ]; then
    run_unit_tsan
fi
if [ -x scripts/fuzz.sh ] && [ "${SKIP_FUZZ:-0}" != 1 ]; then
    echo "==> fuzzing (short bounded run)"
    # The fuzzers bring their own sanitizer options (fuzz/lsan.supp).
    env -u LSAN_OPTIONS -u ASAN_OPTIONS -u UBSAN_OPTIONS sh scripts/fuzz.sh 15; frc=$?
    if [ $frc = 0 ]; then
        summary="$summary\nfuzz: no crash"
    elif [ $frc = 77 ]; then
        summary="$summary\nfuzz: skipped (clang cannot build libFuzzer programs)"
    else
        summary="$summary\nfuzz: FAILED"
        status=1
    fi
fi
printf "$summary\n"
exit $status
