#!/bin/sh
# bench/soak.sh [--seconds N] [--rate R] [--routes "k2k r2k"] [--warmup S] [--no-memory-check]
#               [--out DIR] [--docs] [--label TEXT]
# A steady stream through msgbridge for N seconds (default 600), memory and file descriptors
# sampled every second.
#
# One msgbridge process runs the routes (k2k: Kafka -> Kafka; r2k: RabbitMQ -> Kafka; both by
# default) on private brokers (a Kafka mock cluster and, for r2k, the RabbitMQ node of
# tests/faults/lib.sh; never the shared test brokers). One msgbridge-audit per route writes R
# numbered messages per second (default 1000) into its source for N seconds and checks the
# destination. Every second: msgbridge's RSS (VmRSS), its open file descriptors, its /metrics.
#
# Verdict (exit 0 only if all hold):
#   memory flat: after a warm-up (--warmup S; default the first 20% of the run, at least 20 s),
#     the least-squares
#     slope of RSS over time, times the length of the measured window, is at most
#     max(4 MiB, 5% of the mean RSS). The slope is printed in KiB/min. --no-memory-check
#     reports it without judging (sanitizer builds: ASan's quarantine grows by design).
#   fds flat: after the warm-up, open descriptors never exceed their count at its end by more
#     than 2.
#   nothing missing: every audit reports 0 missing; msgbridge stops cleanly on SIGTERM.
#
# Writes DIR/soak.json (verdict and numbers) and DIR/samples (TIME PID RSS_KB FDS OUT ...);
# --docs also puts the result in docs/reliability.md and tests/faults/results/soak.json
# (--label: what was measured, default the commit of this tree). The machine's load average is
# recorded too: on a busy machine end-to-end latency says more about the machine than msgbridge.
# Environment: FAULTS_STATE_DIR, FAULTS_RABBITMQ_NAME/PORT, FAULTS_KAFKA_PORT (the soak's
# cluster uses FAULTS_KAFKA_PORT + 20..), MSGBRIDGE / top_builddir (build folder, default the
# source tree's build/reliability, else the source tree itself).
# Exit status: 0 pass, 1 fail, 77 something needed is missing, 99 setup failed.
: "${FAULTS_STATE_DIR:=/tmp/msgbridge-faults}"
mkdir -p "$FAULTS_STATE_DIR"
if [ -z "${F_LOCKED:-}" ] && command -v flock >/dev/null 2>&1; then
    F_LOCKED=1 exec flock -o -w 3600 "$FAULTS_STATE_DIR/lock" sh "$0" "$@"
fi
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
if [ -z "${top_builddir:-}" ] && [ -z "${MSGBRIDGE:-}" ]; then
    if [ -x "$top_srcdir/build/reliability/msgbridge" ]; then
        top_builddir=$top_srcdir/build/reliability
    else
        top_builddir=$top_srcdir
    fi
fi
export top_srcdir
. "$top_srcdir/tests/faults/lib.sh"

SECONDS_=600
RATE=1000
ROUTES="k2k r2k"
OUT=""
WARMUP=""
MEMCHECK=1
DOCS=0
LABEL=""
while [ $# -gt 0 ]; do
    case $1 in
    --seconds) SECONDS_=$2; shift ;;
    --warmup) WARMUP=$2; shift ;;
    --no-memory-check) MEMCHECK=0 ;;
    --rate) RATE=$2; shift ;;
    --routes) ROUTES=$2; shift ;;
    --out) OUT=$2; shift ;;
    --docs) DOCS=1 ;;
    --label) LABEL=$2; shift ;;
    -h | --help) sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak.sh: unknown option \"$1\"" >&2; exit 2 ;;
    esac
    shift
done
for r in $ROUTES; do
    case $r in k2k | r2k) ;; *) echo "soak.sh: route \"$r\": k2k or r2k" >&2; exit 2 ;; esac
    why=$(f_missing "$r")
    [ -z "$why" ] || { echo "SKIP [soak] $why"; exit 77; }
done
[ -n "$OUT" ] || OUT=$FAULTS_STATE_DIR/soak-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$OUT" || exit 99 # crash dumps and stray files land here, not in the caller's folder
D=$OUT
: >"$D/samples"
say() { echo "[soak] $*"; }
N=$((SECONDS_ * RATE))
TAG=soak$$
Q_SRC=faults.$TAG.src
AUDIT_PIDS=""
SRC_KIND=kafka DST_KIND=kafka

cleanup() {
    f_sampler_stop
    for p in $AUDIT_PIDS; do kill "$p" 2>/dev/null; done
    [ -n "${F_BRIDGE_PID:-}" ] && kill -KILL "$F_BRIDGE_PID" 2>/dev/null
    for p in ${F_KPIDS:-}; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    if echo " $ROUTES " | grep -q ' r2k '; then
        f_node status && f_queues_delete "$Q_SRC"
        if [ "$F_NODE_STARTED" = 1 ] && [ ! -e "$F_NODE_SHARED" ]; then f_node stop >/dev/null 2>&1; fi
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- brokers and configurations ---------------------------------------------------------------
F_KPIDS=""
f_kafka k 20 k2k.src:12 k2k.dst:12 r2k.dst:12 >"$D/setup.log" 2>&1 ||
    { cat "$D/setup.log"; exit 99; }
if echo " $ROUTES " | grep -q ' r2k '; then
    f_node_up >>"$D/setup.log" 2>&1 || { cat "$D/setup.log"; exit 99; }
    f_queues "$Q_SRC" || { echo "cannot declare $Q_SRC"; exit 99; }
fi

kafka_ep() {  # kafka_ep NAME [MORE_PROPERTIES]
    printf '  { name = "%s"; type = "kafka"; brokers = "%s";\n    properties = [ %s%s ]; }' \
        "$1" "$k_BROKERS" "$F_KPROPS" "${2:-}"
}
rabbit_ep() {
    if echo " $ROUTES " | grep -q ' r2k '; then
        printf ',\n  { name = "rabbit"; type = "rabbitmq"; url = "%s"; }' "$F_RMQ_URL"
    fi
}
{
    echo "bridge = { id = \"soak\"; metrics = \"127.0.0.1:$FAULTS_METRICS_PORT\"; stats_interval = 60; };"
    echo "endpoints = ("
    kafka_ep k ', "auto.commit.interval.ms=1000"'
    rabbit_ep
    printf '\n);\nroutes = (\n'
    sep=""
    for r in $ROUTES; do
        case $r in
        k2k) from='endpoint = "k"; topic = "k2k.src"; group = "soak";'
             to='endpoint = "k"; topic = "k2k.dst"; partition = "${partition}";' ;;
        r2k) from="endpoint = \"rabbit\"; queue = \"$Q_SRC\";"
             to='endpoint = "k"; topic = "r2k.dst";' ;;
        esac
        printf '%s  { name = "%s"; from = { %s }; to = { %s }; }' "$sep" "$r" "$from" "$to"
        sep=",
"
    done
    printf '\n);\n'
} >"$D/bridge.conf"
for r in $ROUTES; do
    case $r in
    k2k) to='endpoint = "k"; topic = "k2k.src";' from='endpoint = "k"; topic = "k2k.dst"; group = "audit-k2k";' ;;
    r2k) to="endpoint = \"rabbit\"; routing_key = \"$Q_SRC\";" from='endpoint = "k"; topic = "r2k.dst"; group = "audit-r2k";' ;;
    esac
    {
        echo "bridge = { id = \"soak-audit-$r\"; stats_interval = 0; };"
        echo "endpoints = ( { name = \"gen\"; type = \"audit\"; }, { name = \"check\"; type = \"audit\"; },"
        kafka_ep k ', "auto.commit.interval.ms=200"'
        [ $r = r2k ] && rabbit_ep
        printf ' );\n'
        cat <<EOC
routes = (
  { name = "produce"; from = { endpoint = "gen"; }; to = { $to }; mapping = { provenance = false; }; },
  { name = "consume"; from = { $from }; to = { endpoint = "check"; }; mapping = { provenance = false; }; }
);
EOC
    } >"$D/audit-$r.conf"
done
"$MSGBRIDGE" -t -c "$D/bridge.conf" >"$D/check.log" 2>&1 || { cat "$D/check.log"; exit 99; }

# ---- the run ----------------------------------------------------------------------------------------
# f_bridge_ready waits for a Kafka source's partitions only when there is one.
SRC_KIND=rabbitmq
echo " $ROUTES " | grep -q ' k2k ' && SRC_KIND=kafka
f_bridge_start
f_bridge_ready 40 || { say "msgbridge not ready"; tail -5 "$D/bridge.log"; exit 99; }
say "$ROUTES at $RATE msg/s each for $SECONDS_ s ($N messages per route), folder $D"
f_sampler_start 1 all
T0=$(f_now)
for r in $ROUTES; do
    "$F_AUDIT" -c "$D/audit-$r.conf" -n "$N" -r "$RATE" -t 60 -i "$TAG-$r" -j "$D/audit-$r.json" \
        >"$D/audit-$r.out" 2>"$D/audit-$r.log" &
    AUDIT_PIDS="$AUDIT_PIDS $!"
done
status=0
for p in $AUDIT_PIDS; do wait "$p" || status=1; done
AUDIT_PIDS=""
T1=$(f_now)
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
f_sampler_stop
BRIDGE_EXIT=died
if kill -0 "$F_BRIDGE_PID" 2>/dev/null; then
    kill -TERM "$F_BRIDGE_PID"
    wait "$F_BRIDGE_PID"
    BRIDGE_EXIT=$?
fi
F_BRIDGE_PID=""

# ---- verdict -------------------------------------------------------------------------------------------
# Samples while the audits ran; warm-up: the first 20% (at least 20 s) unless --warmup.
awk -v t0="$T0" -v t1="$T1" '$1 >= t0 && $1 <= t1 && $3 > 0' "$D/samples" >"$D/samples.run"
VERDICT=$(awk -v t0="$T0" -v t1="$T1" -v wu="$WARMUP" '
    BEGIN { w = (t1 - t0) * 0.2; if (w < 20) w = 20; if (wu != "") w = wu; tw = t0 + w }
    { if ($1 < tw) { wfd = $4; next }
      if (n == 0 && wfd == "") wfd = $4
      x = ($1 - tw) / 60; y = $3; n++; sx += x; sy += y; sxx += x * x; sxy += x * y
      if ($4 > fmax) fmax = $4
      if ($3 > rmax) rmax = $3; if (rmin == "" || $3 < rmin) rmin = $3
      xl = x }
    END {
      if (n < 5) { print "0 0 0 0 0 0 0 0 0"; exit }
      slope = (n * sxy - sx * sy) / (n * sxx - sx * sx)   # KiB per minute
      mean = sy / n
      growth = slope * xl                                  # KiB over the window
      limit = 4096; if (mean * 0.05 > limit) limit = mean * 0.05
      printf "%.1f %.0f %.0f %.0f %d %d %d %.0f %.0f\n", slope, growth, limit, mean, wfd, fmax, n, rmin, rmax }' "$D/samples.run")
set -- $VERDICT
SLOPE=$1 GROWTH=$2 LIMIT=$3 MEAN=$4 FD_WARM=$5 FD_MAX=$6 NSAMPLES=$7 RSS_MIN=$8 RSS_MAX=$9
REASON=""
fail() { status=1; REASON="${REASON:+$REASON; }$*"; }
[ "$NSAMPLES" -ge 5 ] || fail "too few samples ($NSAMPLES)"
MEM_FLAT=true
if ! awk -v g="$GROWTH" -v l="$LIMIT" 'BEGIN { exit !(g <= l) }'; then
    MEM_FLAT=false
    if [ $MEMCHECK = 1 ]; then fail "memory grew $GROWTH KiB > $LIMIT KiB"; fi
fi
FDS_FLAT=true
[ "$FD_MAX" -le $((FD_WARM + 2)) ] || { FDS_FLAT=false; fail "fds rose from $FD_WARM to $FD_MAX"; }
[ "$BRIDGE_EXIT" = 0 ] || fail "msgbridge exit $BRIDGE_EXIT"
ROUTES_JSON=""
for r in $ROUTES; do
    A=$D/audit-$r.json
    miss=$(f_json_get "$A" missing); dups=$(f_json_get "$A" duplicates); sent=$(f_json_get "$A" sent)
    p99=$(f_json_get "$A" p99_ms); p50=$(f_json_get "$A" p50_ms)
    [ "${miss:-x}" = 0 ] || fail "$r: ${miss:-?} missing"
    say "$r: $(head -1 "$D/audit-$r.out")"
    ROUTES_JSON="$ROUTES_JSON${ROUTES_JSON:+, }{\"route\": \"$r\", \"sent\": ${sent:-0}, \"missing\": ${miss:-null}, \"duplicates\": ${dups:-null}, \"p50_ms\": ${p50:-null}, \"p99_ms\": ${p99:-null}}"
done
PASS=true
[ $status = 0 ] || PASS=false
say "RSS $((RSS_MIN / 1024))-$((RSS_MAX / 1024)) MiB after warm-up (mean $((MEAN / 1024)) MiB), slope $SLOPE KiB/min, growth over the window $GROWTH KiB (limit $LIMIT KiB): $([ $MEM_FLAT = true ] && echo flat || echo GROWING)"
say "open fds: $FD_WARM after warm-up, at most $FD_MAX: $([ $FDS_FLAT = true ] && echo flat || echo GROWING)"
cat >"$D/soak.json" <<EOJ
{"seconds": $SECONDS_, "rate_per_route": $RATE, "samples": $NSAMPLES, "rss_slope_kib_per_min": $SLOPE, "rss_growth_kib": $GROWTH, "rss_growth_limit_kib": $LIMIT, "rss_mean_mib": $(awk -v k="$MEAN" 'BEGIN { printf "%.1f", k / 1024 }'), "rss_min_mib": $(awk -v k="$RSS_MIN" 'BEGIN { printf "%.1f", k / 1024 }'), "rss_max_mib": $(awk -v k="$RSS_MAX" 'BEGIN { printf "%.1f", k / 1024 }'), "memory_flat": $MEM_FLAT, "memory_checked": $([ $MEMCHECK = 1 ] && echo true || echo false), "warmup_s": "${WARMUP:-20%}", "fds_after_warmup": $FD_WARM, "fds_max": $FD_MAX, "fds_flat": $FDS_FLAT, "bridge_exit": "$BRIDGE_EXIT", "loadavg": "$LOADAVG", "routes": [$ROUTES_JSON], "pass": $PASS, "reason": "$REASON"}
EOJ
if [ $DOCS = 1 ]; then
    {
        label=$LABEL
        if [ -z "$label" ]; then
            label="commit $(cd "$top_srcdir" && git rev-parse --short HEAD 2>/dev/null)$(cd "$top_srcdir" && git diff --quiet HEAD -- . 2>/dev/null || echo ' (with uncommitted changes)')"
        fi
        echo "Measured $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) CPUs (load average at the end, 1/5/15 min: $LOADAVG): $("$MSGBRIDGE" --version | head -1), $label, \`bench/soak.sh --seconds $SECONDS_ --rate $RATE\`:"
        echo
        echo "| route | messages | missing | duplicates | audit latency p50 / p99 ms |"
        echo "|---|---:|---:|---:|---:|"
        for r in $ROUTES; do
            A=$D/audit-$r.json
            echo "| $r | $(f_json_get "$A" sent) | $(f_json_get "$A" missing) | $(f_json_get "$A" duplicates) | $(f_json_get "$A" p50_ms | cut -d. -f1) / $(f_json_get "$A" p99_ms | cut -d. -f1) |"
        done
        echo
        echo "- RSS after warm-up: $(awk -v k="$RSS_MIN" 'BEGIN { printf "%.1f", k / 1024 }')-$(awk -v k="$RSS_MAX" 'BEGIN { printf "%.1f", k / 1024 }') MiB (mean $(awk -v k="$MEAN" 'BEGIN { printf "%.1f", k / 1024 }') MiB), slope $SLOPE KiB/min, growth over the measured window $GROWTH KiB (limit $LIMIT KiB): $([ $MEM_FLAT = true ] && echo '**flat**' || echo '**growing**')"
        echo "- open file descriptors: $FD_WARM after warm-up, at most $FD_MAX: $([ $FDS_FLAT = true ] && echo '**flat**' || echo '**growing**')"
        echo "- verdict: $([ $PASS = true ] && echo '**pass**' || echo "**FAIL**: $REASON")"
    } >"$D/soak.md"
    doc=$top_srcdir/docs/reliability.md
    awk -v sect="$D/soak.md" '
        /<!-- soak:begin -->/ { print; while ((getline l < sect) > 0) print l; skip = 1; next }
        /<!-- soak:end -->/ { skip = 0 }
        !skip { print }' "$doc" >"$doc.tmp" && mv "$doc.tmp" "$doc"
    mkdir -p "$top_srcdir/tests/faults/results"
    cp "$D/soak.json" "$top_srcdir/tests/faults/results/soak.json"
    say "result written to docs/reliability.md and tests/faults/results/soak.json"
fi
if [ "$PASS" = true ]; then
    say "PASS ($D/soak.json)"
    exit 0
fi
say "FAIL: $REASON (files in $D)"
exit 1
