#!/bin/sh
# lane: alone (scripts/test.sh, tests/lane.sh)
# A Kafka-sourced route's memory stays bounded behind a slow sink, and a paused partition
# resumes without a stall (docs/kafka.md, "Memory"). A backlog of N x 1 KiB records over 16
# partitions, far more than the route's window, is copied by a route limited to RATE msg/s (the
# slow sink), at the default window and librdkafka settings: the source must pause partitions
# itself and resume them as the route takes records.
# - memory: msgbridge's peak RSS (VmHWM) stays under 40 MiB. Without the source's own pauses
#   librdkafka prefetched up to its queue limit (41-42 MiB peak at the old 4 MiB window, the
#   whole backlog at the older 16 MiB one); with them 22-28 MiB is measured now (2 MiB window,
#   librdkafka's queue bounded: docs/kafka.md "Memory");
# - no stall: the route's count of records out, sampled every 10 ms on /metrics, never stands
#   still for more than 100 ms (400 ms in a sanitizer build) between the first record and the
#   last (librdkafka 2.0 stops fetching for up to a second when its own limits are the brake);
# - the source said it paused; every record arrived once, in order within each partition.
# Then drains at full speed (no rate limit) of N2 x 100 B and of the same N x 1 KiB, where
# librdkafka's own queue limits (queued.min.messages and queued.max.messages.kbytes, which
# msgbridge sets to a few thousand records: the first is reached by small records, the second
# by large ones) are the brake and the source must wake librdkafka's fetchers as it reads the
# queue down:
# - no stall: the route never stands still for more than 100 ms (without the wake-up: 842 and
#   912 ms; judged after each batch instead of before, 929 ms once on the 1 KiB drain);
# - memory: peak RSS under 36 MiB (28-30 MiB measured since records up to 16 KiB are copied
#   into their envelopes; 32-38 MiB when each kept librdkafka's message until it settled,
#   96-101 MiB at librdkafka's default of 100000 queued records, about 300 bytes each, and
#   50-54 MiB at the old 4 MiB window).
# - every record arrived once, in order within each partition.
. "$(dirname "$0")/lib.sh"
t_need kafka
. "$(dirname "$0")/kafka_lib.sh"
command -v python3 >/dev/null 2>&1 || t_skip "python3 is not installed"

N=$(t_count 40000)
RATE=8000   # 5 s for the whole backlog (1 s in quick mode)
BOUND_KB=$((40 * 1024))
N2=$(t_count 300000)
BOUND2_KB=$((36 * 1024))
SRC=$K_ID.src
DST=$K_ID.dst
k_topic "$SRC" 16
k_topic "$DST" 16
k_produce "$SRC" "$N" 16 0 1024
k_topic "$SRC.small" 16
k_topic "$DST.small" 16
k_topic "$DST.1k" 16
k_produce "$SRC.small" "$N2" 16 0 100
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SANITIZED=0
if ldd "$MSGBRIDGE" 2>/dev/null | grep -q 'libasan\|libtsan'; then SANITIZED=1; fi
# The stalls this guards against last 600-1000 ms (librdkafka's fetch backoff, a resume it
# notices late). A sanitizer build on a loaded 2-core machine stands still 250 ms now and then
# for no reason of ours (seen once with the load average at 18), so it gets 400 ms: still far
# below the stalls, and the normal build keeps the issue's 100 ms.
STILL_MS=100
[ $SANITIZED = 1 ] && STILL_MS=400

# drain NAME SRC DST COUNT BOUND_KB ROUTE_EXTRA: one msgbridge copies COUNT records from SRC to
# DST on route NAME, with only the mock cluster's test settings (K_PROPS without its
# queued.min.messages): the prefetch limits are msgbridge's defaults. Checks the stand-still,
# the peak RSS and that every record arrived once, in order within each partition; leaves the
# bridge's log in $T_DIR/NAME.log.
drain() {
    name=$1 src=$2 dst=$3 n=$4 bound_kb=$5 extra=$6
    cat >"$T_DIR/$name.conf" <<EOC
bridge = { id = "mem"; metrics = "127.0.0.1:$PORT"; };
endpoints = (
  { name = "src"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $K_PROPS_GROUP ]; },
  { name = "dst"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS"; }
);
routes = (
  { name = "$name"; $extra
    from = { endpoint = "src"; topic = "$src"; group = "$K_ID.$name"; };
    to = { endpoint = "dst"; topic = "$dst"; partition = "\${partition}"; }; }
);
EOC
    t_bridge "$name" "$T_DIR/$name.conf"

    # Sample the route's count every 10 ms from the first record out to the n-th; print the
    # longest time it stood still in between (ms) and how many samples were taken.
    python3 - "http://127.0.0.1:$PORT/metrics" "$n" "$name" >"$T_DIR/gaps" 2>"$T_DIR/gaps.err" <<'EOPY'
import re, sys, time, urllib.request
url, n, route = sys.argv[1], int(sys.argv[2]), sys.argv[3]
pat = re.compile(r'^msgbridge_route_messages_out_total\{route="%s"[^}]*\} (\d+)' % re.escape(route), re.M)
def count():
    try:
        m = pat.search(urllib.request.urlopen(url, timeout=1).read().decode())
        return int(m.group(1)) if m else 0
    except OSError:
        return 0
deadline = time.monotonic() + 120
last, t_last, worst, samples = 0, None, 0.0, 0
while time.monotonic() < deadline:
    c, now = count(), time.monotonic()
    samples += 1
    if c != last:
        if t_last is not None and last > 0:
            worst = max(worst, now - t_last)
            if now - t_last > 0.05:
                print(f"gap {(now - t_last) * 1000:.0f} ms ending {time.strftime('%H:%M:%S', time.gmtime())}.{int(time.time() * 1000) % 1000:03d} at {c}", file=sys.stderr)
        last, t_last = c, now
        if c >= n:
            break
    time.sleep(0.01)
print(f"{worst * 1000:.0f} {samples} {last}")
EOPY
    read -r worst samples seen <"$T_DIR/gaps"
    t_log "$name: longest stand-still ${worst} ms over $samples samples; $seen of $n out"
    t_assert_eq "$seen" "$n" "$name: records out of the route (metrics)"
    [ "$worst" -le "$STILL_MS" ] ||
        t_fail "$name: the route stood still for $worst ms (over $STILL_MS ms) while records waited: $(cat "$T_DIR/gaps.err")"

    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$T_BRIDGE_PID/status")
    t_log "$name: peak RSS $((hwm / 1024)) MiB ($hwm kB)"
    if [ $SANITIZED = 1 ]; then
        t_log "sanitizer build: peak RSS not checked (the sanitizer's shadow memory)"
    elif [ "$hwm" -ge "$bound_kb" ]; then
        t_fail "$name: peak RSS $hwm kB, over $bound_kb kB"
    fi

    k_wait_count "$dst" "$n" 60 || t_fail "$name: only $(k_count "$dst") of $n records copied"
    t_stop "$T_BRIDGE_PID"
    k_check_complete "$dst" 0 "$n"
    t_assert_eq "$K_MISSING" 0 "$name: records missing"
    t_assert_eq "$K_DUPS" 0 "$name: records copied twice"
    # In order within each partition: the seq header increases along each partition's offsets.
    kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$dst" -o beginning -e -q -f '%p %o %h\n' 2>/dev/null |
        sed -n 's/^\([0-9]*\) \([0-9]*\) seq=\([0-9]*\),.*/\1 \2 \3/p' | sort -k1,1n -k2,2n |
        awk 'NR > 1 && $1 == p && $3 <= s { bad++ } { p = $1; s = $3 } END { print bad + 0 }' >"$T_DIR/order"
    t_assert_eq "$(cat "$T_DIR/order")" 0 "$name: records out of order within a partition"
}

drain slow "$SRC" "$DST" "$N" "$BOUND_KB" "rate = { messages_per_second = $RATE; };"
grep -q 'route "slow": the route takes records slower than the cluster gives them: partitions are paused while 1024 KiB are held' \
    "$T_DIR/slow.log" || t_fail "the source never paused: $(tail -5 "$T_DIR/slow.log")"
t_log "ok: $N x 1 KiB behind a $RATE msg/s route: peak RSS $((hwm / 1024)) MiB, longest stand-still $worst ms, complete and in order"

drain fast "$SRC.small" "$DST.small" "$N2" "$BOUND2_KB" ""
t_log "ok: $N2 x 100 B at full speed: peak RSS $((hwm / 1024)) MiB, longest stand-still $worst ms, complete and in order"

drain fast1k "$SRC" "$DST.1k" "$N" "$BOUND2_KB" ""
t_log "ok: $N x 1 KiB at full speed: peak RSS $((hwm / 1024)) MiB, longest stand-still $worst ms, complete and in order"
