#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# The layering rules of DESIGN.md section 8 (also in docs/architecture.md), checked two ways:
#  1. includes: the core and the mappings never include a broker library's header; mappings
#     and adapters never include engine internals;
#  2. calls: with nm over the built objects, every symbol a file uses must be defined in a file
#     of the same layer or a lower one. The layers, bottom first:
#       1 bridge/envelope arena err log buf utf8 clock tslot conf_node   (the parsed configuration tree)
#       2 mappings/*
#       3 bridge/delivery inbox mailbox route_counts timer route gap endpoint endpoint_routes watchdog conf conf_scan registry metrics reload_plan
#       4 bridge/engine
#       5 adapters/*/*
#       6 bridge/adapters.c, bridge/main.c
#     The one reference upward is the adapter table brg_adapters[] (bridge/adapters.c, or a
#     test's own table), resolved by the linker like nginx's ngx_modules[]: the registry and
#     conf read it by that name only.
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
build=${top_builddir:-$top}
bad=$(grep -nE '#include *[<"](librdkafka/|rdkafka|amqp\.h|amqp_|rabbitmq-c/|proton/|jansson)' \
      "$top"/bridge/*.c "$top"/bridge/*.h "$top"/mappings/*.c "$top"/mappings/*.h)
if [ -n "$bad" ]; then
    echo "FAIL: broker library headers included in the core or mappings:"; echo "$bad"; exit 1
fi
bad=$(grep -nE '#include *"bridge/(route|endpoint|engine|conf|inbox|delivery|metrics)\.h"' \
      "$top"/mappings/*.c "$top"/mappings/*.h "$top"/adapters/*/*.c "$top"/adapters/*/*.h 2>/dev/null)
if [ -n "$bad" ]; then
    echo "FAIL: engine internals included outside the engine:"; echo "$bad"; exit 1
fi

objs=$(ls "$build"/bridge/*.o "$build"/mappings/*.o "$build"/adapters/*/*.o 2>/dev/null)
if [ -z "$objs" ]; then
    echo "layering: includes ok; no objects under $build to check calls (build first)"; exit 77
fi
if ! command -v nm >/dev/null 2>&1; then
    echo "layering: includes ok; nm not found, calls not checked"; exit 77
fi
# One line per symbol: "D|U layer file symbol". An object is named after its source file
# (automake prefixes per-target objects with "<target>-").
for o in $objs; do
    dir=$(basename "$(dirname "$o")")
    f=$(basename "$o" .o); f=${f#*-}
    case "$dir" in bridge) unit=bridge/$f ;; mappings) unit=mappings/$f ;;
        *) unit=adapters/$dir/$f ;; esac
    case "$unit" in
    bridge/envelope | bridge/arena | bridge/err | bridge/log | bridge/buf | bridge/utf8 | \
        bridge/clock | bridge/tslot | bridge/conf_node) layer=1 ;;
    mappings/*) layer=2 ;;
    bridge/delivery | bridge/inbox | bridge/mailbox | bridge/route_counts | bridge/timer | \
        bridge/route | bridge/gap | bridge/endpoint | \
        bridge/watchdog | bridge/conf | bridge/conf_scan | bridge/registry | bridge/metrics | \
        bridge/reload_plan | bridge/endpoint_routes) layer=3 ;;
    bridge/engine) layer=4 ;;
    adapters/*) layer=5 ;;
    bridge/adapters | bridge/main) layer=6 ;;
    *) echo "NOLAYER $unit"; continue ;;
    esac
    nm -P "$o" | awk -v l="$layer" -v u="$unit" '
        $2 == "U" { print "U", l, u, $1; next }
        $2 ~ /^[TDBRC]$/ { print "D", l, u, $1 }'
done >"${TMPDIR:-/tmp}/layering.$$"
out=$(awk '
    $1 == "NOLAYER" { printf "FAIL: %s has no layer: add it to tests/check_layering.sh and the docs\n", $2; next }
    $1 == "D" { if (!($4 in low) || $2 < low[$4]) { low[$4] = $2; home[$4] = $3 } next }
    { use[NR] = $0 }
    END {
        for (i in use) {
            split(use[i], f, " ")
            s = f[4]
            if (!(s in low)) { continue }       # a library symbol (libc, librdkafka, ...)
            if (s == "brg_adapters") { continue } # the link-time adapter table, see above
            if (home[s] != f[3]) { dep[f[3] " " home[s]] = 1 }
            if (low[s] > f[2]) {
                printf "FAIL: %s (layer %d) uses %s of %s (layer %d)\n", f[3], f[2], s, home[s], low[s]
            }
        }
        # Files of one layer that call each other: allowed by the layer rule, but DESIGN.md
        # wants none in the core (the last pairs went 2026-12-06: bridge/mailbox.c and
        # bridge/route_counts.c sit below delivery.c, which holds the parked route probe).
        for (d in dep) {
            split(d, p, " ")
            if (p[1] ~ /^bridge\// && p[1] < p[2] && ((p[2] " " p[1]) in dep)) { printf "FAIL: %s <-> %s call each other (a cycle: move what both need into a file below them)\n", p[1], p[2] }
        }
    }' "${TMPDIR:-/tmp}/layering.$$" | sort -u)
rm -f "${TMPDIR:-/tmp}/layering.$$"
if echo "$out" | grep -q '^FAIL'; then
    echo "$out" | grep '^FAIL'; exit 1
fi
echo "layering: ok (includes, and calls between $(echo "$objs" | wc -l) objects)"
