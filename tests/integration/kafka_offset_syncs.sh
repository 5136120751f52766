#!/bin/sh
# Offset syncs of a Kafka -> Kafka route (docs/kafka.md, "Failover"), through the test cluster:
# a route that drops a tenth of the records (a filter, so that source and destination offsets
# drift apart) writes its syncs to a topic. Checked against the two topics themselves: every
# sync names a source record and its copy (same value); and for positions spread over every
# partition, the offset a consumer group would be moved to by the documented rule (the sync
# with the largest source offset at or before the committed one, plus one when before) skips
# no copied record after that position and re-reads fewer than BRG_KAFKA_SYNC_EVERY (1000).
# Then `msgbridge offsets` for a group that committed on three of the four source partitions:
# a consumer that starts on the destination where it says receives every copied record after
# the group's source position and re-reads fewer than 1000; the fourth partition is reported
# as having no committed offset. A route that does not keep partitions is refused at load.
. "$(dirname "$0")/lib.sh"
t_need kafka
. "$(dirname "$0")/kafka_lib.sh"

N=$(t_count 40000)
SRC=$K_ID.src
DST=$K_ID.dst
SYNCS=$K_ID.syncs
k_topic "$SRC" 4
k_topic "$DST" 4
k_topic "$SYNCS" 1
k_produce "$SRC" "$N" 4

# conf PARTITION_LINE: the whole file.
conf() {
    cat <<EOC
bridge = { id = "osync"; };
endpoints = (
  { name = "east"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $K_PROPS ]; },
  { name = "west"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS"; }
);
routes = (
  { name = "mirror";
    from = { endpoint = "east"; topic = "$SRC"; group = "$K_ID"; start = "earliest"; };
    to = { endpoint = "west"; topic = "$DST"; $1
           offset_syncs = true;
           offset_syncs_topic = "$SYNCS"; };
    mapping = { provenance = false; where = "not key ~ '7\$'"; }; }
);
EOC
}
conf 'partition = "${partition}";' >"$T_DIR/bridge.conf"
conf '' >"$T_DIR/unkept.conf"
out=$("$MSGBRIDGE" -t -c "$T_DIR/unkept.conf" 2>&1) && t_fail "a route that does not keep partitions was accepted"
line=$(grep -n 'offset_syncs = true' "$T_DIR/unkept.conf" | cut -d: -f1)
echo "$out" | grep -qF "unkept.conf:$line: routes[0].to.offset_syncs: offset_syncs needs partition = \"\${partition}\"" ||
    t_fail "unexpected diagnostic: $out"

# Keys key-0..key-99 round robin: the filter drops the 10 ending in 7, a tenth of the records.
WANT=$((N - N / 10))
t_bridge bridge "$T_DIR/bridge.conf"
k_wait_count "$DST" "$WANT" 60 || t_fail "only $(k_count "$DST") of $WANT records copied"
t_steady 1 20 k_count "$SYNCS" || t_fail "syncs still arriving"
t_stop "$T_BRIDGE_PID"

kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$SRC" -o beginning -e -q -f '%p %o %s\n' >"$T_DIR/src.txt"
kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$DST" -o beginning -e -q -f '%p %o %s\n' >"$T_DIR/dst.txt"
kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$SYNCS" -o beginning -e -q -f '%k %s\n' >"$T_DIR/syncs.txt"
t_assert_eq "$(wc -l <"$T_DIR/dst.txt")" "$WANT" "records in the destination"
nsync=$(wc -l <"$T_DIR/syncs.txt")
# At least one per partition, at most one per 100 source records (BRG_KAFKA_SYNC_DRIFT).
[ "$nsync" -ge 4 ] && [ "$nsync" -le $((N / 100 + 4)) ] || t_fail "$nsync syncs for $N records"

# The syncs as "partition source_offset offset" (the JSON written by the adapter).
sed -n 's/^\([^ ]*\)\/\([0-9]*\) {"source_topic": "\([^"]*\)", "source_partition": \([0-9]*\), "source_offset": \([0-9]*\), "topic": "\([^"]*\)", "partition": \([0-9]*\), "offset": \([0-9]*\)}$/\3 \4 \5 \6 \7 \8/p' \
    "$T_DIR/syncs.txt" >"$T_DIR/pairs.txt"
t_assert_eq "$(wc -l <"$T_DIR/pairs.txt")" "$nsync" "syncs in the documented format"
awk -v s="$SRC" -v d="$DST" '$1 != s || $4 != d || $2 != $5 { bad++ } END { exit bad > 0 }' \
    "$T_DIR/pairs.txt" || t_fail "a sync names other topics or partitions: $(head -3 "$T_DIR/pairs.txt")"

# Each sync pairs a record with its copy; positions translate without skipping.
awk -v every=1000 -v step=$((N / 2000 + 1)) '
    FILENAME ~ /src.txt$/ { sval[$1 " " $2] = $3; next }
    FILENAME ~ /dst.txt$/ { dpos[$3] = $2; dval[$1 " " $2] = $3; next }
    {   # pairs: source_topic partition source_offset dest_topic partition offset
        p = $2; n[p]++; so[p, n[p]] = $3; do_[p, n[p]] = $6
        if (sval[p " " $3] == "" || sval[p " " $3] != dval[p " " $6]) {
            printf "sync %s/%s: source %s is \"%s\", its copy at %s is \"%s\"\n", p, $3, $3, sval[p " " $3], $6, dval[p " " $6]
            bad++
        }
    }
    END {
        checked = 0
        for (key in sval) {
            split(key, k, " "); p = k[1]; c = k[2]
            if (c % step != 0) continue   # about 2000 positions spread over the logs
            t = -1
            for (i = n[p]; i >= 1; i--) if (so[p, i] <= c) { t = do_[p, i] + (so[p, i] < c); break }
            if (t < 0) { printf "position %s/%s: no sync at or before it\n", p, c; bad++; continue }
            # The next copied record at or after c, by source offset.
            first = -1
            for (o = c; (p " " o) in sval; o++) { v = sval[p " " o]; if (v in dpos) { first = dpos[v]; break } }
            if (first < 0) continue
            checked++
            if (t > first) { printf "position %s/%s -> %s skips the copy at %s\n", p, c, t, first; bad++ }
            if (first - t >= every) { printf "position %s/%s -> %s re-reads %d\n", p, c, t, first - t; bad++ }
        }
        if (checked < 100) { printf "only %d positions checked\n", checked; bad++ }
        exit bad > 0
    }' "$T_DIR/src.txt" "$T_DIR/dst.txt" "$T_DIR/pairs.txt" >"$T_DIR/check.txt" ||
    t_fail "$(head -5 "$T_DIR/check.txt")"

# A consumer group that read part of each source partition fails over with `msgbridge offsets`.
G=$K_ID.app
Q=$((N / 4 / 5)) # records per partition / 5
"$top_builddir/tests/adapters/kafka_test_commit" "$BRG_TEST_KAFKA_BROKERS" "$G" "$SRC" \
    0=$Q 1=$((2 * Q + 3)) 2=$((3 * Q + 7)) || t_fail "could not commit for $G"
"$MSGBRIDGE" offsets -c "$T_DIR/bridge.conf" --route mirror --group "$G" >"$T_DIR/offsets.txt" 2>&1 ||
    t_fail "msgbridge offsets: $(cat "$T_DIR/offsets.txt")"
grep -q "^$SRC\[3\]: no committed offset for group \"$G\"" "$T_DIR/offsets.txt" ||
    t_fail "partition 3 should have no committed offset: $(cat "$T_DIR/offsets.txt")"
"$MSGBRIDGE" offsets -c "$T_DIR/bridge.conf" --route mirror --group "$G" --json >"$T_DIR/offsets.json" ||
    t_fail "msgbridge offsets --json failed"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["partitions"]) == 4, d' \
    "$T_DIR/offsets.json" 2>"$T_DIR/json.err" || t_fail "--json: $(cat "$T_DIR/json.err")"
sed -n "s/^$SRC\[\([0-9]*\)\]: committed \([0-9]*\) -> $DST\[\([0-9]*\)\] offset \([0-9]*\)\$/\1 \2 \3 \4/p" \
    "$T_DIR/offsets.txt" >"$T_DIR/moves.txt"
t_assert_eq "$(wc -l <"$T_DIR/moves.txt")" 3 "partitions translated: $(cat "$T_DIR/offsets.txt")"
awk -v every=1000 '
    FILENAME ~ /src.txt$/ { sval[$1 " " $2] = $3; next }
    FILENAME ~ /dst.txt$/ { dpos[$3] = $1 " " $2; next }
    {   # moves: partition committed dest_partition offset
        p = $1; c = $2; dp = $3; t = $4
        if (dp != p) { printf "partition %s moved to %s\n", p, dp; bad++; next }
        need = 0; missing = 0
        for (o = c; (p " " o) in sval; o++) {
            v = sval[p " " o]
            if (!(v in dpos)) continue       # filtered by the route: never copied
            need++
            split(dpos[v], at, " ")
            if (at[2] < t) { missing++ }
        }
        got = 0
        for (key in dpos) { split(dpos[key], at, " "); if (at[1] == p && at[2] >= t) got++ }
        if (missing) { printf "partition %s from %s: %d copied records after the group position skipped\n", p, t, missing; bad++ }
        if (got - need >= every) { printf "partition %s from %s: %d records read again\n", p, t, got - need; bad++ }
        printf "partition %s: committed %s -> offset %s: %d to read, %d read again\n", p, c, t, need, got - need
    }
    END { exit bad > 0 }' "$T_DIR/src.txt" "$T_DIR/dst.txt" "$T_DIR/moves.txt" >"$T_DIR/failover.txt" ||
    t_fail "$(cat "$T_DIR/failover.txt")"
sed 's/^/  /' "$T_DIR/failover.txt"
t_log "ok: $WANT of $N records copied, $nsync syncs; each names a record and its copy, positions translate without skipping, and msgbridge offsets moves a group without skipping"
