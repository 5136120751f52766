# Helpers for the Kafka integration tests (sourced after lib.sh). Records are written by
# tests/adapters/kafka_test_producer (librdkafka alone) and read back with kcat, the independent
# client; msgbridge is the real binary.
#
# Each test uses its own topics and groups (names carry the test name and pid), so tests can
# share the cluster of scripts/kafka-cluster.sh; tests that inject faults start a private
# cluster (k_private_cluster) so that they disturb nobody else.

K_PRODUCER=$top_builddir/tests/adapters/kafka_test_producer
K_MOCK=$T_KAFKA_MOCK
# Topic and group names: the shared cluster keeps topics until it stops, and pids come round.
K_ID=$(echo "$T_NAME" | tr '_' '-')-$$-$(date +%s)

command -v kcat >/dev/null 2>&1 || t_skip "kcat is not installed"
[ -x "$K_PRODUCER" ] || t_skip "$K_PRODUCER not built (make check builds it)"

# Client settings for the mock cluster: K_PROPS in tests/testlib.sh.

# k_private_cluster FIRST_PORT [BROKERS]: start a cluster for this test only; sets
# BRG_TEST_KAFKA_BROKERS and BRG_TEST_KAFKA_CTL.
k_private_cluster() {
    [ -x "$K_MOCK" ] || t_skip "$K_MOCK not built"
    # Ports below Linux's ephemeral range (32768+), so that no client connection holds them.
    t_kafka_mock $(($1 - 10000)) 5 "${2:-3}" "$T_DIR/bootstrap" "$T_DIR/ctl" "$T_DIR/cluster.log" ||
        t_fail "private cluster did not start: $(cat "$T_DIR/cluster.log")"
    k_pid=$T_KAFKA_PID
    T_PIDS="$T_PIDS $k_pid"
    BRG_TEST_KAFKA_BROKERS=$(cat "$T_DIR/bootstrap")
    BRG_TEST_KAFKA_CTL=$T_DIR/ctl
}

# k_ctl COMMAND...: send a fault command to the cluster ("down 2", "up all", "topic t 6").
k_ctl() { echo "$*" >"$BRG_TEST_KAFKA_CTL"; }

# k_partitions TOPIC: how many partitions the cluster reports for TOPIC.
k_partitions() {
    kcat -L -b "$BRG_TEST_KAFKA_BROKERS" -t "$1" 2>/dev/null | grep -c '^    partition '
}

# k_has_partitions TOPIC N: the metadata shows TOPIC with N partitions (for t_wait_for: asked
# again on each try).
k_has_partitions() { [ "$(k_partitions "$1")" = "$2" ]; }

# k_topic TOPIC PARTITIONS: create a topic and wait until its metadata shows it.
k_topic() {
    k_ctl topic "$1" "$2"
    t_wait_for 30 k_has_partitions "$1" "$2" || t_fail "topic $1 was not created in 30 s"
}

# k_count TOPIC: records in TOPIC (reads it to the end).
k_count() {
    kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$1" -o beginning -e -q -f '.\n' 2>/dev/null | wc -l
}

# k_more_than TOPIC N: true if TOPIC holds more than N records (for t_wait_for).
k_more_than() { [ "$(k_count "$1")" -gt "$2" ]; }

# k_wait_count TOPIC N SECONDS: wait until TOPIC holds at least N records.
k_wait_count() {
    i=0
    while [ "$(k_count "$1")" -lt "$2" ]; do
        i=$((i + 1)); [ $i -gt "$3" ] && return 1
        sleep 1
    done
    return 0
}

# k_dump TOPIC FILE: every record as "partition|offset|key|timestamp|headers|value", in offset
# order within each partition.
k_dump() {
    kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$1" -o beginning -e -q \
         -f '%p|%o|%k|%T|%h|%s\n' 2>/dev/null | sort -s -t'|' -k1,1n >"$2"
}

# k_seqs TOPIC FILE: the "seq" header of every record, one per line (as written).
k_seqs() {
    kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$1" -o beginning -e -q -f '%h\n' 2>/dev/null |
        sed -n 's/^seq=\([0-9]*\),.*/\1/p' >"$2"
}

# k_check_complete TOPIC FIRST COUNT: every seq FIRST..FIRST+COUNT-1 is in TOPIC; sets
# K_MISSING and K_DUPS (records present more than once).
k_check_complete() {
    k_seqs "$1" "$T_DIR/seqs.$1"
    seq "$2" $(($2 + $3 - 1)) | sort >"$T_DIR/want.$1"
    sort -u "$T_DIR/seqs.$1" >"$T_DIR/have.$1"
    K_MISSING=$(comm -23 "$T_DIR/want.$1" "$T_DIR/have.$1" | wc -l)
    K_DUPS=$(( $(wc -l <"$T_DIR/seqs.$1") - $(wc -l <"$T_DIR/have.$1") ))
}

# k_produce TOPIC COUNT [PARTITIONS] [FIRST] [VALUE_SIZE]
k_produce() {
    "$K_PRODUCER" "$BRG_TEST_KAFKA_BROKERS" "$@" || t_fail "kafka_test_producer failed"
}
