#!/bin/sh
# Destination topics of Kafka -> Kafka routes checked at start (docs/kafka.md, "Destination
# topics"), five routes from one 4-partition source topic in one msgbridge on the test cluster
# (the sink checks them in order; the slow one, create, last):
#  - too-few: the destination has 2 partitions and the route keeps partitions: the route stops
#    at start with an ERROR naming both counts (shown in /routes), instead of a failure per
#    record; the other routes run on.
#  - create: create_topics = true and the destination is missing: the test cluster has no
#    controller, so its CreateTopics fails; the route stops with that error and the counts.
#  - more: the destination has 6 partitions: nothing said, every record copied to its partition.
#  - missing: the destination is missing, no create_topics: a WARN says so; the cluster creates
#    the topic on first use (4 partitions here) and every record is copied.
#  - renamed: topic = "${topic}" after a mapping.rename, to a 3-partition topic: the renamed
#    name is the one checked (and found short).
. "$(dirname "$0")/lib.sh"
t_need kafka
. "$(dirname "$0")/kafka_lib.sh"
command -v curl >/dev/null 2>&1 || t_skip "curl is not installed"

N=$(t_count 400)
SRC=$K_ID.src
k_topic "$SRC" 4
k_topic "$K_ID.few" 2
k_topic "$K_ID.more" 6
k_topic "$K_ID.renamed" 3
k_produce "$SRC" "$N" 4
PORT=$(t_free_port)

route() {  # route NAME EXTRA
    cat <<EOC
  { name = "$1";
    from = { endpoint = "east"; topic = "$SRC"; group = "$K_ID-$1"; start = "earliest"; };
    to = { endpoint = "west"; topic = "$K_ID.$1"; partition = "\${partition}"; $2 }; }
EOC
}
cat >"$T_DIR/bridge.conf" <<EOC
bridge = { id = "dtopics"; metrics = "127.0.0.1:$PORT"; };
endpoints = (
  { name = "east"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $K_PROPS ]; },
  { name = "west"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS"; }
);
routes = (
$(route few ''),
  { name = "renamed";
    from = { endpoint = "east"; topic = "$SRC"; group = "$K_ID-renamed"; };
    to = { endpoint = "west"; topic = "\${topic}"; partition = "\${partition}"; };
    mapping = { rename = { pattern = "^(.*)\\\\.src\$"; replace = "\\\\1.renamed"; }; }; },
$(route more ''),
$(route missing ''),
$(route create 'create_topics = true;')
);
EOC

t_bridge bridge "$T_DIR/bridge.conf"
LOG=$T_DIR/bridge.log
has_line() {  # has_line LEVEL TEXT: a log line at LEVEL holds TEXT
    grep -F "$2" "$LOG" | grep -q " $1 "
}
t_wait_for 30 grep -q 'route "create" stopped' "$LOG" || t_fail "the create route did not stop: $(cat "$LOG")"
t_wait_for 10 has_line ERROR "route \"few\" stopped: destination topic \"$K_ID.few\" on endpoint \"west\" has 2 partitions, source topic \"$SRC\" has 4, and partition = \"\${partition}\" keeps each record's partition: add partitions to \"$K_ID.few\" (at least 4) and reload" ||
    t_fail "no ERROR with both counts for the route with too few partitions: $(grep few "$LOG")"
t_wait_for 10 has_line ERROR "route \"create\" stopped: create_topics: cannot create topic \"$K_ID.create\" on endpoint \"west\" with 4 partitions (as source topic \"$SRC\"): Failed while waiting for controller" ||
    t_fail "no ERROR for the topic the test cluster cannot create: $(grep create "$LOG")"
t_wait_for 10 has_line WARN "route \"missing\": destination topic \"$K_ID.missing\" does not exist on endpoint \"west\" (source topic \"$SRC\" has 4 partitions)" ||
    t_fail "no WARN for the missing destination: $(grep missing "$LOG")"
t_wait_for 10 has_line ERROR "route \"renamed\" stopped: destination topic \"$K_ID.renamed\" on endpoint \"west\" has 3 partitions, source topic \"$SRC\" has 4" ||
    t_fail "the renamed destination was not checked: $(grep renamed "$LOG")"

k_wait_count "$K_ID.more" "$N" 60 || t_fail "only $(k_count "$K_ID.more") of $N records copied to the larger topic"
k_wait_count "$K_ID.missing" "$N" 60 || t_fail "only $(k_count "$K_ID.missing") of $N records copied to the auto-created topic"
# Each record in its own partition: the producer writes key-I to partition I % 4.
for t in more missing; do
    kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$K_ID.$t" -o beginning -e -q -f '%p %k\n' >"$T_DIR/$t.txt"
    moved=$(awk '{ split($2, a, "-"); if (a[2] % 4 != $1) n++ } END { print n + 0 }' "$T_DIR/$t.txt")
    t_assert_eq "$moved" 0 "records of $t not in their source partition"
done
routes=$(curl -sf "http://127.0.0.1:$PORT/routes")
for r in few create renamed; do
    echo "$routes" | grep -qF "{\"name\": \"$r\", \"state\": \"stopped\"" ||
        t_fail "/routes does not show route $r stopped: $routes"
done
echo "$routes" | grep -q 'has 2 partitions, source topic' || t_fail "/routes has no stop reason: $routes"
# Stopped at start: not a record of theirs was written, and no per-record failure was logged.
t_assert_eq "$(k_count "$K_ID.few")" 0 "records written to the topic with too few partitions"
grep -q 'Unknown partition\|parked' "$LOG" && t_fail "per-record failures: $(grep 'Unknown partition\|parked' "$LOG")"
t_stop "$T_BRIDGE_PID"
t_log "too few partitions and an uncreatable topic stop their routes at start; the others copy $N records each"
