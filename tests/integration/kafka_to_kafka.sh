#!/bin/sh
# Kafka -> Kafka through msgbridge: 100k records over 6 partitions and three large ones (16 KiB
# to 200 KB) arrive with keys, headers (order, duplicate names, null and empty values) and
# timestamps byte-identical, in order per partition, once each; SIGTERM then exits 0 having committed everything (a second run with
# the same group copies nothing more).
. "$(dirname "$0")/lib.sh"
t_need kafka
. "$(dirname "$0")/kafka_lib.sh"

N=$(t_count 100000)
SRC=$K_ID.src
DST=$K_ID.dst
k_topic "$SRC" 6
k_topic "$DST" 6
k_produce "$SRC" "$N" 6
# Three large records after them on partition 5: up to 16 KiB a record's body is copied into
# its envelope, past that it is borrowed from librdkafka's message (kafka_source.c,
# record_envelope). Both must arrive byte-identical.
for size in 16384 16385 200000; do
    head -c $((size * 3 / 4 + 3)) /dev/urandom | base64 -w0 | head -c $size
    echo
done | kcat -P -b "$BRG_TEST_KAFKA_BROKERS" -t "$SRC" -p 5 -k big 2>"$T_DIR/kcat.log" ||
    t_fail "kcat could not write the large records: $(cat "$T_DIR/kcat.log")"
N=$((N + 3))

cat >"$T_DIR/bridge.conf" <<EOC
bridge = { id = "k2k"; };
endpoints = (
  { name = "east"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $K_PROPS ]; },
  { name = "west"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ "linger.ms=5" ]; }
);
routes = (
  { name = "mirror";
    from = { endpoint = "east"; topic = "$SRC"; group = "$K_ID"; };
    to = { endpoint = "west"; topic = "$DST"; partition = "\${partition}"; };
    mapping = { provenance = false; }; }
);
EOC
start=$(date +%s)
t_bridge bridge "$T_DIR/bridge.conf"
k_wait_count "$DST" "$N" 50 || t_fail "only $(k_count "$DST") of $N records copied in 50 s"
t_log "$N records copied in $(( $(date +%s) - start )) s (group join included)"
t_stop "$T_BRIDGE_PID"

k_dump "$SRC" "$T_DIR/src.txt"
k_dump "$DST" "$T_DIR/dst.txt"
t_assert_eq "$(wc -l <"$T_DIR/dst.txt")" "$N" "records in the destination"
# Same partition, same offset (nothing duplicated), key, timestamp, headers and value.
cmp -s "$T_DIR/src.txt" "$T_DIR/dst.txt" ||
    t_fail "destination differs from the source: $(diff "$T_DIR/src.txt" "$T_DIR/dst.txt" | head -3)"
grep -q '|key-7|1600000000007|seq=7,dup=first,empty=,nullable=NULL,dup=second|value-7$' \
    "$T_DIR/dst.txt" || t_fail "record 7 lost its null header"
t_assert_eq "$(awk -F'|' '$3 == "big" { printf "%s ", length($6) }' "$T_DIR/dst.txt")" \
    "16384 16385 200000 " "the large records' sizes in the destination"

# Everything was committed at SIGTERM: the same group finds nothing left to copy.
t_bridge again "$T_DIR/bridge.conf"
t_wait_for 20 grep -q 'assigned 6 partitions' "$T_DIR/again.log" || t_fail "no assignment on restart"
t_steady 2 30 k_count "$DST" || t_fail "records still arriving at $DST"
t_stop "$T_BRIDGE_PID"
t_assert_eq "$(k_count "$DST")" "$N" "records after a restart with the same group"
t_log "ok: $N records byte-identical, in order, committed"
