#!/bin/sh
# scripts/reliability.sh [--quick] [options]: run the whole fault matrix (docs/reliability.md) and
# write its table.
#
# Builds msgbridge if needed, starts a private RabbitMQ node (never the shared test brokers;
# Kafka mock clusters are started per scenario), runs tests/faults/scenario.sh for every route
# (k2r r2k a2k k2k) and scenario (source_kill dest_kill bridge_kill stall slow poison), writes
# the results as JSON and as a Markdown table, and stops what it started.
#
#   --quick            10000 messages per scenario instead of 50000; docs are not touched
#   --count N          messages per scenario
#   --routes "A B"     only these routes
#   --scenarios "A B"  only these scenarios
#   --build DIR        the build folder (default build/reliability; configured and built if
#                      msgbridge is missing there, otherwise brought up to date with make)
#   --out DIR          where the results go (default $FAULTS_STATE_DIR/reliability-DATE)
#   --label TEXT       what was measured, for the table, e.g. "commit 65f5178" (default: the
#                      commit of this tree, whether it had uncommitted changes, and the build's
#                      source folder when it is another one)
#   --docs / --no-docs update docs/reliability.md and tests/faults/results/reliability.json
#                      (default: yes for a full matrix run, no with --quick or a subset)
#
# Environment: FAULTS_STATE_DIR (/tmp/msgbridge-faults), FAULTS_RABBITMQ_NAME (faults),
# FAULTS_RABBITMQ_PORT (45672), FAULTS_KAFKA_PORT (26000), and scenario.sh's settings.
# Exit status: 0 if every scenario passed.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
count=50000
routes="k2r r2k a2k k2k"
scenarios="source_kill dest_kill bridge_kill stall slow poison"
build=$top/build/reliability
out=""
docs=auto
label=""
quick=0
subset=0
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1; count=10000 ;;
    --count) count=$2; shift ;;
    --routes) routes=$2; subset=1; shift ;;
    --scenarios) scenarios=$2; subset=1; shift ;;
    --build) build=$2; shift ;;
    --out) out=$2; shift ;;
    --label) label=$2; shift ;;
    --docs) docs=yes ;;
    --no-docs) docs=no ;;
    -h | --help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "reliability.sh: unknown option \"$1\" (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ $docs = auto ]; then
    if [ $quick = 0 ] && [ $subset = 0 ]; then docs=yes; else docs=no; fi
fi

export FAULTS_STATE_DIR=${FAULTS_STATE_DIR:-/tmp/msgbridge-faults}
export FAULTS_RABBITMQ_NAME=${FAULTS_RABBITMQ_NAME:-faults}
export FAULTS_RABBITMQ_PORT=${FAULTS_RABBITMQ_PORT:-45672}
export FAULTS_KAFKA_PORT=${FAULTS_KAFKA_PORT:-26000}
mkdir -p "$FAULTS_STATE_DIR"
[ -n "$out" ] || out=$FAULTS_STATE_DIR/reliability-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
results=$out/results.jsonl
: >"$results"

# ---- build ----------------------------------------------------------------------------------------
case $build in /*) ;; *) build=$(pwd)/$build ;; esac
[ -x "$top/configure" ] || (cd "$top" && ./autogen.sh >/dev/null 2>&1) || {
    echo "reliability.sh: autogen.sh failed" >&2; exit 1; }
mkdir -p "$build"
if [ ! -f "$build/Makefile" ]; then
    echo "==> configuring in $build"
    (cd "$build" && "$top/configure" -q) || exit 1
fi
echo "==> building in $build"
(cd "$build" && make -s -j"$(nproc)" >"$out/build.log" 2>&1) || {
    tail -20 "$out/build.log"; echo "reliability.sh: build failed" >&2; exit 1; }
export top_srcdir=$top top_builddir=$build MSGBRIDGE=$build/msgbridge

# ---- the private RabbitMQ node, shared by every scenario of the run ------------------------------
. "$top/tests/faults/lib.sh"
started_node=0
cleanup() {
    if [ $started_node = 1 ]; then
        echo "==> stopping the private RabbitMQ node"
        f_node stop >/dev/null 2>&1
        rm -f "$F_NODE_SHARED"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
need_node=0
for r in $routes; do [ "$r" != k2k ] && need_node=1; done
if [ $need_node = 1 ] && [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] && ! f_node status; then
    echo "==> starting the private RabbitMQ node $FAULTS_RABBITMQ_NAME@localhost on port $FAULTS_RABBITMQ_PORT"
    f_node start >"$out/node.log" 2>&1 || { cat "$out/node.log"; exit 1; }
    started_node=1
    touch "$F_NODE_SHARED"
fi

# ---- the matrix -------------------------------------------------------------------------------------
t_start=$(date +%s)
status=0
for s in $scenarios; do
    for r in $routes; do
        echo "==> $s on $r ($(( $(date +%s) - t_start )) s)"
        before=$(wc -l <"$results")
        FAULTS_COUNT=$count FAULTS_RESULT=$results sh "$top/tests/faults/scenario.sh" "$r" "$s" \
            >"$out/$r-$s.log" 2>&1
        rc=$?
        sed 's/^/    /' "$out/$r-$s.log" | grep -v '^    {' 
        if [ "$(wc -l <"$results")" = "$before" ]; then
            # No result line: skipped (77) or the setup failed (99).
            what=error
            [ $rc = 77 ] && what=skipped
            echo "{\"route\": \"$r\", \"scenario\": \"$s\", \"count\": $count, \"pass\": false, \"$what\": true, \"reason\": \"$what (exit $rc): $(tail -1 "$out/$r-$s.log" | tr -d '"\\' | cut -c1-160)\"}" >>"$results"
        fi
        [ $rc = 0 ] || status=1
    done
done
duration=$(( $(date +%s) - t_start ))

# ---- JSON and the table ------------------------------------------------------------------------------
commit="commit $(cd "$top" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
# Others may be editing the tree: say so when the build had uncommitted changes.
(cd "$top" && git diff --quiet HEAD -- . 2>/dev/null) || commit="$commit (with uncommitted changes)"
# A build configured from another source folder (an export of some commit, say) is not this tree.
bsrc=$(sed -n 's/^abs_top_srcdir = //p' "$build/Makefile" 2>/dev/null)
[ -z "$bsrc" ] || [ "$bsrc" = "$top" ] || commit="a build of $bsrc; this tree is at $commit"
[ -z "$label" ] || commit=$label
version=$("$MSGBRIDGE" --version 2>/dev/null | head -1)
machine="$(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr)"
when=$(date -u +%Y-%m-%dT%H:%M:%SZ)
{
    echo "{\"generated\": \"$when\", \"commit\": \"$commit\", \"version\": \"$version\","
    echo " \"machine\": \"$machine\", \"count\": $count, \"duration_s\": $duration,"
    echo " \"results\": ["
    sed '$!s/$/,/' "$results" | sed 's/^/  /'
    echo " ]}"
} >"$out/reliability.json"

sh "$top/tests/faults/table.sh" "$results" >"$out/table.md"
{
    echo "Measured $when on $machine: $version ($commit), $count messages per scenario,"
    echo "whole matrix in $((duration / 60)) min $((duration % 60)) s (\`scripts/reliability.sh\`)."
    echo
    cat "$out/table.md"
} >"$out/table-section.md"
cat "$out/table-section.md"

if [ $docs = yes ]; then
    doc=$top/docs/reliability.md
    if grep -q '<!-- reliability-table:begin -->' "$doc" 2>/dev/null; then
        awk -v sect="$out/table-section.md" '
            /<!-- reliability-table:begin -->/ { print; while ((getline l < sect) > 0) print l; skip = 1; next }
            /<!-- reliability-table:end -->/ { skip = 0 }
            !skip { print }' "$doc" >"$doc.tmp" && mv "$doc.tmp" "$doc"
        echo "==> table written to docs/reliability.md"
    else
        echo "reliability.sh: $doc has no <!-- reliability-table:begin --> marker: table not written" >&2
    fi
    mkdir -p "$top/tests/faults/results"
    cp "$out/reliability.json" "$top/tests/faults/results/reliability.json"
    echo "==> results written to tests/faults/results/reliability.json"
fi
echo "==> results in $out (reliability.json, table.md, one log per scenario); $duration s"
[ $status = 0 ] && echo "==> every scenario passed" || echo "==> some scenarios FAILED"
exit $status
