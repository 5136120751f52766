# Helpers for the scale-out tests: several msgbridge processes in one consumer group (sourced
# after kafka_lib.sh).
#
# The mock cluster holds a group's join for about session.timeout.ms (DESIGN.md section 9),
# and a cooperative rebalance that moves partitions takes two joins: these tests use a short
# session timeout so that a join takes seconds, not tens of seconds.
KG_SESSION_MS=3000
[ "$BRG_TEST_QUICK" = 1 ] && KG_SESSION_MS=5000 # sanitizers: slower turns, no false expiry
KG_PROPS="\"session.timeout.ms=$KG_SESSION_MS\", \"heartbeat.interval.ms=300\",
      \"fetch.wait.max.ms=10\", \"queued.min.messages=1000000\",
      \"topic.metadata.refresh.interval.ms=2000\""

# kg_owned LOG ROUTE: how many partitions the route's consumer in LOG owns now (its log's
# "assigned N" lines minus its "revoked N" and "lost N" ones: cooperative rebalances log
# what changes, not the whole assignment).
kg_owned() {
    grep "route \"$2\": \(assigned\|revoked\|lost\) [0-9]* partitions" "$1" 2>/dev/null |
        sed 's/.*route "[^"]*": \([a-z]*\) \([0-9]*\) partitions.*/\1 \2/' |
        awk '$1 == "assigned" { n += $2 } $1 != "assigned" { n -= $2 } END { print n + 0 }'
}

# kg_shares ROUTE NAME=WANT...: true if each process NAME's consumer of ROUTE owns WANT
# partitions (logs in $T_DIR/NAME.log).
kg_shares() {
    r=$1; shift
    for nw in "$@"; do
        [ "$(kg_owned "$T_DIR/${nw%%=*}.log" "$r")" = "${nw#*=}" ] || return 1
    done
}

# kg_wait_shares SECONDS ROUTE NAME=WANT...: wait until kg_shares holds, or fail saying who
# owns what.
kg_wait_shares() {
    to=$1; shift
    t_wait_for "$to" kg_shares "$@" && return 0
    r=$1; shift
    got=""
    for nw in "$@"; do got="$got ${nw%%=*}=$(kg_owned "$T_DIR/${nw%%=*}.log" "$r")"; done
    t_fail "route $r: partitions owned:$got, expected: $*"
}

# kg_by_bridge FILE: from lines carrying "x-msgbridge-path=NAME/" (kcat's %h, or rmqc dump),
# "COUNT NAME" per bridge.
kg_by_bridge() {
    sed -n 's/.*x-msgbridge-path[=:"S]*\([A-Z]\)\/.*/\1/p' "$1" | sort | uniq -c
}

# kg_no_failed_commits NAME...: no process NAME logged a failed commit before giving up
# partitions (what it settled would be delivered again by the next owner).
kg_no_failed_commits() {
    for n in "$@"; do
        if grep -q 'offset commit (revoke) failed' "$T_DIR/$n.log"; then
            t_fail "$n: $(grep 'offset commit (revoke) failed' "$T_DIR/$n.log" | head -1)"
        fi
    done
}

# kg_failed_commits NAME...: how many commits of partitions being given up (revoke or stop) the
# group refused, over every process NAME (what such a process settled since its last commit is
# delivered again by the next owner).
kg_failed_commits() {
    for n in "$@"; do
        grep -c 'offset commit (\(revoke\|stop\)) failed' "$T_DIR/$n.log"
    done | awk '{ s += $1 } END { print s + 0 }'
}

# kg_kafka_complete TOPIC N: true once TOPIC holds every record 0..N-1 (k_check_complete;
# K_MISSING and K_DUPS are left set).
kg_kafka_complete() {
    k_check_complete "$1" 0 "$2"
    [ "$K_MISSING" = 0 ]
}

# kg_rmq_settled QUEUE N: true if QUEUE holds N messages or more and no more came in a second
# (redeliveries come before the records that follow them, so the count settles last).
kg_rmq_settled() {
    c1=$(rmq_count "$1")
    [ "$c1" -ge "$2" ] || return 1
    sleep 1
    [ "$(rmq_count "$1")" = "$c1" ]
}
