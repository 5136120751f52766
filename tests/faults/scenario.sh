#!/bin/sh
# tests/faults/scenario.sh ROUTE SCENARIO: one cell of the fault matrix (docs/reliability.md).
#
#   ROUTE      k2r (Kafka -> RabbitMQ), r2k (RabbitMQ -> Kafka), a2k (AMQP 1.0 -> Kafka), k2k
#   SCENARIO   source_kill   the source broker is killed (SIGKILL) and restarted
#              dest_kill     the destination broker is killed and restarted
#              bridge_kill   msgbridge is killed (SIGKILL) and started again
#              stall         both brokers are stopped (SIGSTOP) for 10 s, then continued
#              slow          the destination is slower than the source for 15 s
#              poison        a message the destination refuses is put in the middle of the stream
#
# msgbridge runs one route, source stream -> destination stream, on private brokers.
# msgbridge-audit writes COUNT numbered messages into the source at RATE per second and reads the
# destination. Once msgbridge has forwarded a quarter of them the fault is injected; the audit
# then runs until every message arrived (or nothing arrived for 60 s). Meanwhile msgbridge's
# RSS, open files and /metrics are sampled every 0.2 s.
#
# Pass: nothing missing, msgbridge never died except when killed on purpose, it stops cleanly
# on SIGTERM at the end; slow: the route's in-flight gauge stayed within max_in_flight and
# RSS within the bound (see docs/reliability.md); poison: it is in the dead letter, alone.
# Duplicates and reordering are reported, not failures.
#
# Environment: FAULTS_COUNT (50000), FAULTS_RATE (COUNT / 12, at least 200), FAULTS_RESULT
# (append the result as one JSON line to this file), FAULTS_KEEP=1 (keep the run folder even
# when it passes), FAULTS_DOWN_S (8: how long a Kafka cluster stays down), FAULTS_STALL_S (10),
# FAULTS_SLOW_S (15), FAULTS_SLOW_RTT_MS (2000 * max_in_flight / RATE, at least 1000), and the broker settings of tests/faults/lib.sh.
# Exit status: 0 pass, 1 fail, 77 skipped (something needed is not installed or built), 99 the
# brokers could not be set up.
: "${FAULTS_STATE_DIR:=/tmp/msgbridge-faults}"
mkdir -p "$FAULTS_STATE_DIR"
# One scenario at a time on this machine (they share ports and the private node). flock -o: the
# lock stays with flock itself, not with the brokers and daemons started below.
if [ -z "${F_LOCKED:-}" ] && command -v flock >/dev/null 2>&1; then
    F_LOCKED=1 exec flock -o -w 3600 "$FAULTS_STATE_DIR/lock" sh "$0" "$@"
fi

. "$(dirname "$0")/lib.sh"

if [ $# -ne 2 ]; then
    sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
ROUTE=$1
SCENARIO=$2
case $SCENARIO in
source_kill | dest_kill | bridge_kill | stall | slow | poison) ;;
*) echo "scenario.sh: unknown scenario \"$SCENARIO\"" >&2; exit 2 ;;
esac
f_kinds "$ROUTE" >/dev/null || exit 2
cd "$FAULTS_STATE_DIR" || exit 99  # crash dumps and stray files land here, not in the tree
why=$(f_missing "$ROUTE")
if [ -n "$why" ]; then
    echo "SKIP [$ROUTE $SCENARIO] $why"
    exit 77
fi

N=${FAULTS_COUNT:-50000}
RATE=${FAULTS_RATE:-$((N / 12))}
[ "$RATE" -ge 200 ] || RATE=200
DOWN_S=${FAULTS_DOWN_S:-8}
STALL_S=${FAULTS_STALL_S:-10}
SLOW_S=${FAULTS_SLOW_S:-15}
# Slow enough that max_in_flight messages per round trip is at most half the produce rate.
SLOW_RTT=${FAULTS_SLOW_RTT_MS:-$(( 2000 * ${FAULTS_MAX_IN_FLIGHT:-1000} / RATE ))}
[ "$SLOW_RTT" -ge 1000 ] || SLOW_RTT=1000

mkdir -p "$FAULTS_STATE_DIR/runs"
D=$(mktemp -d "$FAULTS_STATE_DIR/runs/$ROUTE-$SCENARIO.XXXXXX")
f_setup_names "$ROUTE"
AUDIT_PID=""
STOPPED_PIDS=""
SLOW_ON=0
RESULT_OK=0

cleanup() {
    f_sampler_stop
    [ -n "$STOPPED_PIDS" ] && kill -CONT $STOPPED_PIDS 2>/dev/null
    if [ "$SLOW_ON" = 1 ]; then slow_off; fi
    [ -n "$AUDIT_PID" ] && kill "$AUDIT_PID" 2>/dev/null
    if [ -n "${F_BRIDGE_PID:-}" ] && kill -0 "$F_BRIDGE_PID" 2>/dev/null; then
        kill -KILL "$F_BRIDGE_PID" 2>/dev/null
    fi
    f_brokers_down
    if [ "$F_NODE_STARTED" = 1 ] && [ ! -e "$F_NODE_SHARED" ]; then
        f_node stop >/dev/null 2>&1
    fi
    if [ "$RESULT_OK" = 1 ] && [ "${FAULTS_KEEP:-0}" = 0 ]; then
        rm -rf "$D"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

say() { echo "[$ROUTE $SCENARIO] $*"; }
hard_error() { echo "ERROR [$ROUTE $SCENARIO] $* (files in $D)" >&2; exit 99; }

# ---- the faults ---------------------------------------------------------------------------------
# Each sets T_FS (fault start) and T_FE (fault end: the broker serves again, msgbridge runs again,
# the stall or slowness is over), as seconds since the epoch.

side_kind() { if [ "$1" = src ]; then echo "$SRC_KIND"; else echo "$DST_KIND"; fi; }

# A Kafka broker "killed": the mock cluster keeps its partition logs in memory, so killing its
# process would lose the data a real broker keeps on disk. Instead every broker of the cluster
# goes down (connections cut, clients refused) and comes back with its log, which is what a
# real cluster does when all its brokers crash and restart.
kill_side() {
    if [ "$(side_kind "$1")" = kafka ]; then
        T_FS=$(f_now)
        f_kctl "$1" down all
        sleep "$DOWN_S"
        f_kctl "$1" up all
        T_FE=$(f_now)
    else
        T_FS=$(f_now)
        f_node kill >>"$D/node.log" 2>&1
        sleep 2 # the outage lasts 2 s (the scenario, not a wait)
        f_node restart >>"$D/node.log" 2>&1 || hard_error "the RabbitMQ node did not restart"
        T_FE=$(f_now)
    fi
}

kill_bridge() {
    T_FS=$(f_now)
    kill -KILL "$F_BRIDGE_PID"
    wait "$F_BRIDGE_PID" 2>/dev/null
    echo "---- killed with SIGKILL $(f_now)" >>"$D/bridge.log"
    sleep 2 # msgbridge stays dead 2 s (the scenario, not a wait)
    f_bridge_start
    T_FE=$(f_now)
}

stall() {
    STOPPED_PIDS=$( (f_side_pid src; f_side_pid dst) | sort -u | tr '\n' ' ')
    T_FS=$(f_now)
    kill -STOP $STOPPED_PIDS || hard_error "cannot stop the brokers (pids $STOPPED_PIDS)"
    sleep "$STALL_S"
    kill -CONT $STOPPED_PIDS
    T_FE=$(f_now)
    STOPPED_PIDS=""
}

# The destination slower than the source: a Kafka cluster answers every request $SLOW_RTT ms
# late (a far-away cluster: with max_in_flight messages per round trip the route moves at most
# half the produce rate); RabbitMQ blocks publishers (memory alarm: set_vm_memory_high_watermark 0), a paused
# destination.
slow_on() {
    SLOW_ON=1
    if [ "$DST_KIND" = kafka ]; then
        for b in 1 2 3; do f_kctl dst rtt $b "$SLOW_RTT"; done
    else
        "$F_RMQCTL" set_vm_memory_high_watermark 0 >>"$D/node.log" 2>&1
    fi
}
slow_off() {
    if [ "$DST_KIND" = kafka ]; then
        for b in 1 2 3; do f_kctl dst rtt $b 0; done
    else
        "$F_RMQCTL" set_vm_memory_high_watermark 0.6 >>"$D/node.log" 2>&1
    fi
    SLOW_ON=0
}
slow() {
    slow_on
    T_FS=$(f_now)
    sleep "$SLOW_S"
    slow_off
    T_FE=$(f_now)
}

# The poison: a 400 KiB message with header x-poison: ".nowhere". A Kafka destination refuses
# it (larger than the producer's message.max.bytes = 256 KiB); to RabbitMQ it is unroutable
# (routing key "$Q_DST.nowhere", no such queue). Written by an independent client (kcat,
# amqp-publish) into the source while the audit's stream flows.
poison() {
    T_FS=$(f_now)
    T_FE=""
    head -c "$F_POISON_BYTES" /dev/zero | tr '\0' 'p' >"$D/poison.body"
    if [ "$SRC_KIND" = kafka ]; then
        kcat -P -b "$src_BROKERS" -t src -H x-poison=.nowhere -z none "$D/poison.body" \
            >>"$D/poison.log" 2>&1 || hard_error "kcat could not write the poison"
    else
        amqp-publish -u "$F_RMQ_URL" -r "$Q_SRC" -p -H "x-poison: .nowhere" \
            <"$D/poison.body" >>"$D/poison.log" 2>&1 || hard_error "amqp-publish failed"
    fi
}

dlq_count() {
    if [ "$DST_KIND" = kafka ]; then
        kcat -C -b "$dst_BROKERS" -t dlq -o beginning -e -q -f '%h\n' 2>/dev/null |
            grep -c 'x-msgbridge-dlq-reason='
    else
        f_queue_count "$Q_DLQ"
    fi
}

# ---- the run -------------------------------------------------------------------------------------

say "$(f_route_title "$ROUTE"), $N messages at $RATE/s, folder $D"
f_brokers_up >"$D/setup.log" 2>&1 || hard_error "brokers: $(tail -3 "$D/setup.log")"
f_bridge_conf "$D/bridge.conf"
f_audit_conf "$D/audit.conf"
"$MSGBRIDGE" -t -c "$D/bridge.conf" >"$D/check.log" 2>&1 || hard_error "bridge.conf: $(cat "$D/check.log")"

f_bridge_start
f_bridge_ready 40 || hard_error "msgbridge not ready: $(tail -5 "$D/bridge.log")"
f_sampler_start 0.2

RUN_ID=$ROUTE-$SCENARIO-$$
"$F_AUDIT" -c "$D/audit.conf" -n "$N" -r "$RATE" -t 60 -i "$RUN_ID" -j "$D/audit.json" \
    >"$D/audit.out" 2>"$D/audit.log" &
AUDIT_PID=$!
T0=$(f_now)

T_FS=""
T_FE=""
if f_wait_out $((N / 4)) 120; then
    say "fault at $(f_out) messages forwarded"
    case $SCENARIO in
    source_kill) kill_side src ;;
    dest_kill) kill_side dst ;;
    bridge_kill) kill_bridge ;;
    stall) stall ;;
    slow) slow ;;
    poison) poison ;;
    esac
else
    say "msgbridge forwarded only $(f_out) messages in 120 s: no fault injected"
fi

# The audit ends when every message arrived, or 60 s after the last arrival; never wait more
# than FAULTS_AUDIT_TIMEOUT s.
i=0
while kill -0 "$AUDIT_PID" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt $((${FAULTS_AUDIT_TIMEOUT:-600} * 5)) ]; then
        kill -INT "$AUDIT_PID"
        break
    fi
    sleep 0.2
done
wait "$AUDIT_PID"
AUDIT_RC=$?
AUDIT_PID=""
# A last metrics sample (dead letters, final counts).
n=$(wc -l <"$D/samples" 2>/dev/null || echo 0)
t_wait_for 5 t_log_after "$D/samples" "$n" . || true
f_sampler_stop

# msgbridge must still run (a crash is a failure whatever the audit says) and stop cleanly.
BRIDGE_EXIT=-
CRASHED=0
if kill -0 "$F_BRIDGE_PID" 2>/dev/null; then
    kill -TERM "$F_BRIDGE_PID"
    i=0
    while kill -0 "$F_BRIDGE_PID" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.2; i=$((i + 1)); done
    kill -0 "$F_BRIDGE_PID" 2>/dev/null && kill -KILL "$F_BRIDGE_PID"
    wait "$F_BRIDGE_PID"
    BRIDGE_EXIT=$?
else
    wait "$F_BRIDGE_PID"
    BRIDGE_EXIT=$?
    CRASHED=1
fi
F_BRIDGE_PID=""

# ---- measures --------------------------------------------------------------------------------------

A=$D/audit.json
if [ -s "$A" ]; then
    SENT=$(f_json_get "$A" sent); RECEIVED=$(f_json_get "$A" received)
    MISSING=$(f_json_get "$A" missing); DUPS=$(f_json_get "$A" duplicates)
    REORDERED=$(f_json_get "$A" reordered); FOREIGN=$(f_json_get "$A" foreign)
    ELAPSED=$(f_json_get "$A" elapsed_s); P99=$(f_json_get "$A" p99_ms)
    MAXLAT=$(f_json_get "$A" max_ms)
else
    SENT=0 RECEIVED=0 MISSING=$N DUPS=0 REORDERED=0 FOREIGN=0 ELAPSED=0 P99=0 MAXLAT=0
fi
# Duplicates the audit saw include what its own consumer read twice (a Kafka consumer re-reads
# from its last commit after a rebalance; RabbitMQ redelivers what it had not acknowledged when
# its connection broke). A Kafka destination can be counted exactly: records of this run in
# topic "dst" minus distinct sequence numbers = records msgbridge wrote twice.
STORED_DUPS=null
if [ "$DST_KIND" = kafka ]; then
    kcat -C -b "$dst_BROKERS" -t dst -o beginning -e -q -f '%h\n' 2>/dev/null |
        grep "x-audit-run=$RUN_ID\(,\|\$\)" | grep -o 'x-audit-seq=[0-9][0-9]*' >"$D/dst.seqs"
    STORED_DUPS=$(sort "$D/dst.seqs" | uniq -c | awk '{ n += $1; u++ } END { print n - u }')
fi
# Kafka partitions merged into one queue arrive interleaved: the audit's per-queue order check
# does not apply to k2r.
ORDER_CHECKED=true
[ "$SRC_KIND" = kafka ] && [ "$DST_KIND" = rabbitmq ] && ORDER_CHECKED=false

S=$D/samples
PEAK_RSS_KB=$(awk '$3 > m { m = $3 } END { print m + 0 }' "$S")
PEAK_FDS=$(awk '$4 > m { m = $4 } END { print m + 0 }' "$S")
PEAK_IF=$(awk '$6 != "-" && $6 > m { m = $6 } END { print m + 0 }' "$S")
PEAK_IF_BYTES=$(awk '$7 != "-" && $7 > m { m = $7 } END { print m + 0 }' "$S")
DEAD_LETTERED=$(awk '$8 != "-" { d = $8 } END { print d + 0 }' "$S")

# Recovery: from the fault's end to the first sample in which msgbridge confirmed more messages
# than in the sample before (a restarted msgbridge: any message at all).
RECOVERY=null
FAULT_S=null
if [ -n "$T_FE" ]; then
    FAULT_S=$(awk -v a="$T_FS" -v b="$T_FE" 'BEGIN { printf "%.1f", b - a }')
    RECOVERY=$(awk -v te="$T_FE" '
        $5 == "-" { next }
        $1 > te && po != "" && (($2 == pp && $5 > po) || ($2 != pp && $5 > 0)) {
            printf "%.1f", $1 - te; found = 1; exit }
        { pp = $2; po = $5 }
        END { if (!found) print "null" }' "$S")
fi

PASS=true
REASON=""
fail() { PASS=false; REASON="${REASON:+$REASON; }$*"; }
[ "$AUDIT_RC" = 0 ] || fail "audit exit $AUDIT_RC"
[ "$MISSING" = 0 ] || fail "$MISSING missing"
[ "$CRASHED" = 0 ] || fail "msgbridge died (exit $BRIDGE_EXIT)"
[ "$CRASHED" = 1 ] || [ "$BRIDGE_EXIT" = 0 ] || fail "msgbridge exit $BRIDGE_EXIT on SIGTERM"
[ -n "$T_FS" ] || fail "no fault injected"
[ "$FOREIGN" = 0 ] || fail "$FOREIGN foreign messages at the destination"

EXTRA=""
if [ "$SCENARIO" = slow ] && [ -n "$T_FE" ]; then
    # Memory while the destination is slow: RSS just before it, the peak until 5 s after it,
    # and the bound: that RSS + max_in_flight_bytes + the source's read-ahead (Kafka:
    # librdkafka's queue, queued.max.messages.kbytes, plus one fetch response per partition,
    # 12 x max.partition.fetch.bytes = 12 MiB: records borrow their response's buffer until
    # settled; AMQP: max_in_flight messages of up to 1 KiB, twice for RabbitMQ's AMQP 1.0
    # plugin, which may exceed link credit) + 16 MiB for allocator and library buffers. Backlog: what the source held when it ended (sent, not yet forwarded).
    RSS_BEFORE=$(awk -v t="$T_FS" '$1 < t && $3 > 0 { r = $3 } END { print r + 0 }' "$S")
    RSS_SLOW=$(awk -v a="$T_FS" -v b="$T_FE" '$1 >= a && $1 <= b + 5 && $3 > m { m = $3 } END { print m + 0 }' "$S")
    OUT_A=$(awk -v t="$T_FS" '$1 < t && $5 != "-" { o = $5 } END { print o + 0 }' "$S")
    OUT_B=$(awk -v t="$T_FE" '$1 <= t && $5 != "-" { o = $5 } END { print o + 0 }' "$S")
    case $SRC_KIND in
    kafka) READAHEAD_KB=$((F_KAFKA_READAHEAD_KB + 12 * 1024)) ;;
    amqp1) READAHEAD_KB=$((2 * F_MAX_IN_FLIGHT)) ;;
    *) READAHEAD_KB=$F_MAX_IN_FLIGHT ;;
    esac
    BOUND_KB=$((RSS_BEFORE + F_MAX_IN_FLIGHT_BYTES / 1024 + READAHEAD_KB + 16384))
    # The audit sends at RATE from T0 until COUNT: the backlog at the end of the slow period.
    BACKLOG=$(awk -v r="$RATE" -v n="$N" -v t0="$T0" -v b="$T_FE" -v ob="$OUT_B" \
        'BEGIN { s = r * (b - t0); if (s > n) s = n; x = s - ob; printf "%d", x < 0 ? 0 : x }')
    [ "$PEAK_IF" -le "$F_MAX_IN_FLIGHT" ] || fail "in flight $PEAK_IF > max_in_flight $F_MAX_IN_FLIGHT"
    if [ "$F_SANITIZED" = 1 ]; then
        say "sanitizer build: RSS reported, not compared with the bound"
    elif [ "$RSS_SLOW" -gt "$BOUND_KB" ]; then
        fail "RSS $((RSS_SLOW / 1024)) MiB > bound $((BOUND_KB / 1024)) MiB"
    fi
    EXTRA=", \"rss_before_mib\": $(awk -v k="$RSS_BEFORE" 'BEGIN { printf "%.1f", k / 1024 }')"
    EXTRA="$EXTRA, \"rss_slow_peak_mib\": $(awk -v k="$RSS_SLOW" 'BEGIN { printf "%.1f", k / 1024 }')"
    EXTRA="$EXTRA, \"rss_bound_mib\": $(awk -v k="$BOUND_KB" 'BEGIN { printf "%.1f", k / 1024 }')"
    EXTRA="$EXTRA, \"backlog_messages\": $BACKLOG, \"forwarded_while_slow\": $((OUT_B - OUT_A))"
    say "slow: RSS $((RSS_BEFORE / 1024)) MiB before, peak $((RSS_SLOW / 1024)) MiB, bound $((BOUND_KB / 1024)) MiB; in flight peak $PEAK_IF (max $F_MAX_IN_FLIGHT); ~$BACKLOG messages waited at the source"
fi
if [ "$SCENARIO" = poison ]; then
    DLQ=$(dlq_count)
    DLQ_REASON=$(sed -n 's/.*message dead-lettered: //p' "$D/bridge.log" | head -1 | tr -d '"\\' | cut -c1-200)
    [ "$DLQ" = 1 ] || fail "dead letter holds $DLQ messages, expected the poison alone"
    EXTRA=", \"dead_letter\": $DLQ, \"dead_lettered_metric\": $DEAD_LETTERED, \"dead_letter_reason\": \"$DLQ_REASON\""
    say "poison: $DLQ in the dead letter ($DLQ_REASON)"
fi

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
LINE="{\"route\": \"$ROUTE\", \"scenario\": \"$SCENARIO\", \"count\": $N, \"rate\": $RATE"
LINE="$LINE, \"sent\": $SENT, \"received\": $RECEIVED, \"missing\": $MISSING, \"duplicates\": $DUPS"
LINE="$LINE, \"stored_duplicates\": $STORED_DUPS"
LINE="$LINE, \"reordered\": $REORDERED, \"order_checked\": $ORDER_CHECKED, \"foreign\": $FOREIGN"
LINE="$LINE, \"fault_s\": $FAULT_S, \"recovery_s\": $RECOVERY, \"elapsed_s\": ${ELAPSED:-0}"
LINE="$LINE, \"p99_ms\": ${P99:-0}, \"max_latency_ms\": ${MAXLAT:-0}"
LINE="$LINE, \"peak_rss_mib\": $(mib "$PEAK_RSS_KB"), \"peak_fds\": $PEAK_FDS"
LINE="$LINE, \"peak_in_flight\": $PEAK_IF, \"peak_in_flight_bytes\": $PEAK_IF_BYTES"
LINE="$LINE, \"max_in_flight\": $F_MAX_IN_FLIGHT, \"max_in_flight_bytes\": $F_MAX_IN_FLIGHT_BYTES"
LINE="$LINE, \"bridge_exit\": \"$BRIDGE_EXIT\"$EXTRA, \"pass\": $PASS, \"reason\": \"$REASON\"}"
[ -n "${FAULTS_RESULT:-}" ] && echo "$LINE" >>"$FAULTS_RESULT"
echo "$LINE" >"$D/result.json"

say "sent $SENT, received $RECEIVED, missing $MISSING, duplicates $DUPS (written twice: $STORED_DUPS), reordered $REORDERED$([ $ORDER_CHECKED = false ] && echo ' (not checked: partitions merged)'), fault ${FAULT_S} s, recovery ${RECOVERY} s, peak RSS $(mib "$PEAK_RSS_KB") MiB, peak in flight $PEAK_IF"
if [ "$PASS" = true ]; then
    RESULT_OK=1
    say "PASS"
    exit 0
fi
say "FAIL: $REASON (files kept in $D)"
tail -5 "$D/audit.out" | sed 's/^/  audit: /'
exit 1
