# Helpers for the fault scenarios (tests/faults/scenario.sh), the soak (bench/soak.sh) and their
# CI tests. Sourced by POSIX sh scripts after setting top_srcdir / top_builddir (or not: the
# defaults below find them from the sourcing script's place in the tree).
#
# Everything runs on PRIVATE brokers, never on the shared test brokers:
#   - one RabbitMQ node (scripts/rabbitmq-node.sh) named $FAULTS_RABBITMQ_NAME on
#     127.0.0.1:$FAULTS_RABBITMQ_PORT (AMQP 0-9-1 and AMQP 1.0; it also takes the port - 1 for
#     TLS and + 1 .. + 12 for Erlang distribution), its state in $FAULTS_STATE_DIR;
#   - Kafka mock clusters (tools/kafka-mock/kafka-mock-cluster), one per side and scenario,
#     3 brokers each, on ports from $FAULTS_KAFKA_PORT on (up to + 64); msgbridge's /metrics
#     on $FAULTS_KAFKA_PORT + 90.
# Routes: k2r (Kafka -> RabbitMQ), r2k (RabbitMQ -> Kafka), a2k (AMQP 1.0 -> Kafka), k2k.
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# The one shell library of the tests: paths, t_wait_for, client settings, queue helpers.
# shellcheck disable=SC1091
. "$top_srcdir/tests/testlib.sh"
# Absolute paths: the scripts change folder.
top_srcdir=$(cd "$top_srcdir" && pwd)
F_BUILD=$(cd "$(dirname "$MSGBRIDGE")" 2>/dev/null && pwd) || F_BUILD=$(dirname "$MSGBRIDGE")
MSGBRIDGE=$F_BUILD/$(basename "$MSGBRIDGE")
# A sanitizer build: AddressSanitizer's quarantine keeps freed memory, so RSS grows by design.
F_SANITIZED=0
grep -q -- '-fsanitize=address' "$F_BUILD/Makefile" 2>/dev/null && F_SANITIZED=1
F_AUDIT=$F_BUILD/msgbridge-audit
F_KMOCK=${KAFKA_MOCK:-$F_BUILD/tools/kafka-mock/kafka-mock-cluster}
T_KAFKA_MOCK=$F_KMOCK
: "${FAULTS_STATE_DIR:=/tmp/msgbridge-faults}"
: "${FAULTS_RABBITMQ_NAME:=faults}"
: "${FAULTS_RABBITMQ_PORT:=45672}"
: "${FAULTS_KAFKA_PORT:=26000}"
: "${FAULTS_METRICS_PORT:=$((FAULTS_KAFKA_PORT + 90))}"
mkdir -p "$FAULTS_STATE_DIR"

f_log() { echo "[faults] $*"; }
f_now() { date +%s.%N | cut -c1-14; }   # seconds, 3 decimals

# Client settings for the mock cluster (tests/testlib.sh): quick group joins and empty fetches,
# quick reconnects once a broker is back; not K_PROPS' queued.min.messages, which would hide the
# bound on read-ahead memory these tests check.
F_KPROPS="$K_PROPS_GROUP, $K_PROPS_RECONNECT"

# ---- what is installed ----------------------------------------------------------------------

# f_missing ROUTE: print why ROUTE cannot run here (nothing if it can).
f_missing() {
    [ -x "$MSGBRIDGE" ] || { echo "$MSGBRIDGE not built"; return; }
    [ -x "$F_AUDIT" ] || { echo "msgbridge-audit not built"; return; }
    grep -q '^#define HAVE_MHD 1' "$F_BUILD/config.h" 2>/dev/null ||
        { echo "msgbridge built without /metrics (libmicrohttpd)"; return; }
    command -v curl >/dev/null 2>&1 || { echo "curl is not installed"; return; }
    adapters=$("$MSGBRIDGE" -V 2>&1)
    for k in $(f_kinds "$1"); do
        echo "$adapters" | grep -q " $k" || { echo "msgbridge built without the $k adapter"; return; }
        case $k in
        kafka)
            [ -x "$F_KMOCK" ] || { echo "$F_KMOCK not built"; return; }
            command -v kcat >/dev/null 2>&1 || { echo "kcat is not installed"; return; } ;;
        rabbitmq | amqp1)
            [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] ||
                { echo "rabbitmq-server is not installed"; return; }
            command -v amqp-declare-queue >/dev/null 2>&1 ||
                { echo "amqp-tools is not installed"; return; } ;;
        esac
    done
}

# f_kinds ROUTE: the adapter of the source and of the destination ("kafka rabbitmq").
f_kinds() {
    case $1 in
    k2r) echo "kafka rabbitmq" ;;
    r2k) echo "rabbitmq kafka" ;;
    a2k) echo "amqp1 kafka" ;;
    k2k) echo "kafka kafka" ;;
    *) echo "unknown route \"$1\" (k2r, r2k, a2k, k2k)" >&2; return 1 ;;
    esac
}

f_route_title() {
    case $1 in
    k2r) echo "Kafka -> RabbitMQ" ;; r2k) echo "RabbitMQ -> Kafka" ;;
    a2k) echo "AMQP 1.0 -> Kafka" ;; k2k) echo "Kafka -> Kafka" ;; *) echo "$1" ;;
    esac
}

# ---- the private RabbitMQ node ----------------------------------------------------------------

# f_node start|stop|kill|restart|status: scripts/rabbitmq-node.sh on the private node.
# (From the state folder: an Erlang crash dump lands there, not in the caller's folder.)
f_node() {
    (cd "$FAULTS_STATE_DIR" && BRG_TEST_STATE_DIR=$FAULTS_STATE_DIR \
        RABBITMQ_TEST_NAME=$FAULTS_RABBITMQ_NAME RABBITMQ_TEST_PORT=$FAULTS_RABBITMQ_PORT \
        sh "$top_srcdir/scripts/rabbitmq-node.sh" "$@")
}
F_NODE_DIR=$FAULTS_STATE_DIR/$FAULTS_RABBITMQ_NAME
# Marker: a node started for a group of tests (node_start.sh ... node_stop.sh); scenarios leave
# such a node running.
F_NODE_SHARED=$FAULTS_STATE_DIR/$FAULTS_RABBITMQ_NAME.shared
F_RMQ_URL=amqp://guest:guest@127.0.0.1:$FAULTS_RABBITMQ_PORT/%2f
F_AMQP1_URL=amqp://guest:guest@127.0.0.1:$FAULTS_RABBITMQ_PORT
F_RMQCTL=$F_NODE_DIR/rabbitmqctl
F_NODE_STARTED=0

f_node_pid() { p=$(cat "$F_NODE_DIR/rabbitmq.pid" 2>/dev/null) && echo "$p"; }  # (no newline in the file)

# f_node_up: start the node unless it runs; F_NODE_STARTED=1 if this call started it.
f_node_up() {
    if f_node status; then
        return 0
    fi
    f_log "starting RabbitMQ node $FAULTS_RABBITMQ_NAME@localhost on port $FAULTS_RABBITMQ_PORT"
    f_node start >"$FAULTS_STATE_DIR/node-start.log" 2>&1 || {
        cat "$FAULTS_STATE_DIR/node-start.log" >&2
        return 1
    }
    F_NODE_STARTED=1
}

# f_queues Q...: delete and declare durable queues on the private node.
f_queues() { t_amqp_queues "$F_RMQ_URL" "$@"; }
f_queues_delete() { t_amqp_delete "$F_RMQ_URL" "$@"; }
# f_queue_count Q: messages in Q (ready + unacknowledged), -1 if unknown.
f_queue_count() { t_rabbitmq_messages "$F_RMQCTL" "$1"; }

# ---- private Kafka mock clusters ----------------------------------------------------------------

# f_kafka SIDE OFFSET TOPIC:PARTITIONS...: start a 3-broker mock cluster for SIDE (src or dst)
# with its ports at $FAULTS_KAFKA_PORT + OFFSET (+ 10 per retry when a port is taken); sets
# <SIDE>_BROKERS, <SIDE>_CTL (control FIFO) and <SIDE>_KPID. Logs in $D/kafka-SIDE.log.
f_kafka() {
    side=$1; off=$2; shift 2
    targs=""
    for t in "$@"; do targs="$targs -t $t"; done
    # shellcheck disable=SC2086
    if t_kafka_mock $((FAULTS_KAFKA_PORT + off)) 10 3 "$D/boot-$side" "$D/ctl-$side" \
        "$D/kafka-$side.log" $targs; then
        eval "${side}_BROKERS=\$(cat \"\$D/boot-\$side\")"
        eval "${side}_CTL=\$D/ctl-\$side"
        eval "${side}_KPID=$T_KAFKA_PID"
        F_KPIDS="${F_KPIDS:-} $T_KAFKA_PID"
        return 0
    fi
    echo "kafka mock cluster for $side did not start: $(tail -3 "$D/kafka-$side.log")" >&2
    return 1
}

# f_kctl SIDE COMMAND...: a fault command to SIDE's cluster ("down all", "rtt 1 500").
f_kctl() {
    side=$1; shift
    eval "echo \"\$*\" >\"\$${side}_CTL\""
}

# ---- configurations -----------------------------------------------------------------------------

# f_setup_names ROUTE: queue and topic names for one run (unique per run: queues outlive runs
# on the shared private node).
f_setup_names() {
    set -- $(f_kinds "$1")
    SRC_KIND=$1
    DST_KIND=$2
    F_TAG=$(echo "$ROUTE.$SCENARIO.$$" | tr '_' '-')
    Q_SRC=faults.$F_TAG.src
    Q_DST=faults.$F_TAG.dst
    Q_DLQ=faults.$F_TAG.dlq
}

# Endpoint text for one side. f_endpoint NAME KIND SIDE [MORE_PROPERTIES] [MORE_KEYS]
# (SIDE: src or dst, whose Kafka cluster; the last two for Kafka only).
f_endpoint() {
    case $2 in
    kafka)
        eval "b=\$${3}_BROKERS"
        printf '  { name = "%s"; type = "kafka"; brokers = "%s";\n    properties = [ %s%s ]%s; }' \
            "$1" "$b" "$F_KPROPS" "${4:-}" "${5:-}" ;;
    rabbitmq)
        printf '  { name = "%s"; type = "rabbitmq"; url = "%s"; heartbeat = 5; }' "$1" "$F_RMQ_URL" ;;
    amqp1)
        printf '  { name = "%s"; type = "amqp1"; url = "%s"; idle_timeout = 5; }' "$1" "$F_AMQP1_URL" ;;
    esac
}

# The bridge under test: one route "bridge" from the source stream to the destination stream,
# with a dead letter, its in-flight bounds, and /metrics for the sampler.
#  - Kafka source: commits every second; its read-ahead is bounded too
#    (queued.max.messages.kbytes = $F_KAFKA_READAHEAD_KB), so memory has a known bound.
#  - Kafka destination: producer message.max.bytes = 262144; a larger message is a permanent
#    failure (the poison) and goes to topic "dlq" through a second endpoint with the default
#    limit (1 MB).
#  - RabbitMQ destination: routing key "$Q_DST${header.x-poison}"; the poison's header makes it
#    unroutable (mandatory publish -> basic.return), and it goes to queue $Q_DLQ.
F_MAX_IN_FLIGHT=${FAULTS_MAX_IN_FLIGHT:-1000}
F_MAX_IN_FLIGHT_BYTES=${FAULTS_MAX_IN_FLIGHT_BYTES:-1048576}
F_KAFKA_READAHEAD_KB=${FAULTS_KAFKA_READAHEAD_KB:-8192}
F_POISON_BYTES=409600

f_bridge_conf() {
    case $SRC_KIND in
    kafka) src_keys='topic = "src"; group = "bridge";' ;;
    rabbitmq) src_keys="queue = \"$Q_SRC\";" ;;
    amqp1) src_keys="address = \"queue://$Q_SRC\";" ;;
    esac
    case $DST_KIND in
    kafka)
        dst_keys='topic = "dst";'
        [ "$SRC_KIND" = kafka ] && dst_keys='topic = "dst"; partition = "${partition}";'
        dlq='{ endpoint = "dlq"; topic = "dlq"; }' ;;
    rabbitmq)
        dst_keys="routing_key = \"$Q_DST\${header.x-poison}\";"
        dlq="{ endpoint = \"dst\"; routing_key = \"$Q_DLQ\"; }" ;;
    esac
    {
        cat <<EOC
# The bridge under test ($ROUTE, $SCENARIO), written by tests/faults/lib.sh.
bridge = { id = "faults"; metrics = "127.0.0.1:$FAULTS_METRICS_PORT"; stats_interval = 10; };
endpoints = (
EOC
        f_endpoint src "$SRC_KIND" src ', "auto.commit.interval.ms=1000"' ";
    consumer_properties = [ \"queued.max.messages.kbytes=$F_KAFKA_READAHEAD_KB\" ]"
        echo ","
        f_endpoint dst "$DST_KIND" dst "" ';
    producer_properties = [ "message.max.bytes=262144" ]'
        if [ "$DST_KIND" = kafka ]; then
            echo ","
            f_endpoint dlq kafka dst
        fi
        cat <<EOC

);
routes = (
  { name = "bridge";
    from = { endpoint = "src"; $src_keys };
    to = { endpoint = "dst"; $dst_keys };
    dead_letter = $dlq;
    max_in_flight = $F_MAX_IN_FLIGHT; max_in_flight_bytes = $F_MAX_IN_FLIGHT_BYTES; }
);
EOC
    } >"$1"
}

# msgbridge-audit's configuration: "produce" writes numbered messages into the source stream,
# "consume" reads the destination stream, both through the normal adapters.
f_audit_conf() {
    case $SRC_KIND in
    kafka) to='topic = "src";' ;;
    rabbitmq) to="routing_key = \"$Q_SRC\";" ;;
    amqp1) to="address = \"queue://$Q_SRC\";" ;;
    esac
    case $DST_KIND in
    kafka) from='topic = "dst"; group = "audit";' ;;
    rabbitmq) from="queue = \"$Q_DST\";" ;;
    esac
    {
        cat <<EOC
# msgbridge-audit for $ROUTE ($SCENARIO), written by tests/faults/lib.sh.
bridge = { id = "faults-audit"; stats_interval = 0; };
endpoints = (
  { name = "gen"; type = "audit"; },
  { name = "check"; type = "audit"; },
EOC
        f_endpoint asrc "$SRC_KIND" src
        echo ","
        # Frequent commits: fewer records re-read (and counted as duplicates) after a rebalance.
        f_endpoint adst "$DST_KIND" dst ', "auto.commit.interval.ms=200"'
        cat <<EOC

);
routes = (
  { name = "produce"; from = { endpoint = "gen"; stream = "audit"; };
    to = { endpoint = "asrc"; $to }; mapping = { provenance = false; }; },
  { name = "consume"; from = { endpoint = "adst"; $from };
    to = { endpoint = "check"; }; mapping = { provenance = false; }; }
);
EOC
    } >"$1"
}

# ---- brokers of a route -------------------------------------------------------------------------

# f_brokers_up: start what ROUTE needs (Kafka clusters fresh per run; the RabbitMQ node shared)
# and declare its queues.
f_brokers_up() {
    F_KPIDS=""
    if [ "$SRC_KIND" = kafka ]; then
        f_kafka src 0 src:12 || return 1
    fi
    if [ "$DST_KIND" = kafka ]; then
        f_kafka dst 5 dst:12 dlq:1 || return 1
    fi
    if [ "$SRC_KIND" != kafka ] || [ "$DST_KIND" != kafka ]; then
        f_node_up || return 1
        f_queues "$Q_SRC" "$Q_DST" "$Q_DLQ" || { echo "cannot declare queues" >&2; return 1; }
    fi
}

f_brokers_down() {
    for p in $F_KPIDS; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
    for p in $F_KPIDS; do wait "$p" 2>/dev/null; done
    F_KPIDS=""
    if [ "$SRC_KIND" != kafka ] || [ "$DST_KIND" != kafka ]; then
        f_node status && f_queues_delete "$Q_SRC" "$Q_DST" "$Q_DLQ"
    fi
}

# f_side_pid SIDE: the process of SIDE's broker (for SIGSTOP).
f_side_pid() {
    eval "kind=\$$(echo "$1" | tr a-z A-Z)_KIND"
    if [ "$kind" = kafka ]; then
        eval "echo \$${1}_KPID"
    else
        f_node_pid
    fi
}

# ---- msgbridge under test -----------------------------------------------------------------------

# f_bridge_start: start msgbridge on $D/bridge.conf (log appended to $D/bridge.log); its pid in
# $D/bridge.pid and F_BRIDGE_PID.
f_bridge_start() {
    echo "---- start $(f_now)" >>"$D/bridge.log"
    "$MSGBRIDGE" -c "$D/bridge.conf" >>"$D/bridge.log" 2>&1 &
    F_BRIDGE_PID=$!
    echo $F_BRIDGE_PID >"$D/bridge.pid"
}

# f_metrics [ROUTE]: "out in_flight_messages in_flight_bytes dead_lettered" of ROUTE ("bridge";
# "all": summed over every route), or "- - - -" when msgbridge does not answer.
f_metrics() {
    curl -s -m 1 "http://127.0.0.1:$FAULTS_METRICS_PORT/metrics" 2>/dev/null |
        awk -v r="route=\"${1:-bridge}\"" '
        /^msgbridge_route_/ && (r == "route=\"all\"" || index($0, "{" r "}")) {
            if ($1 ~ /^msgbridge_route_messages_out_total/) { o += $2; seen = 1 }
            if ($1 ~ /^msgbridge_route_in_flight_messages/) m += $2
            if ($1 ~ /^msgbridge_route_in_flight_bytes/) b += $2
            if ($1 ~ /^msgbridge_route_dead_lettered_total/) d += $2
        }
        END { if (!seen) print "- - - -"; else printf "%d %d %d %d\n", o, m, b, d }'
}
f_out() { f_metrics | cut -d' ' -f1; }

# f_bridge_ready SECONDS: /readyz answers 200 and a Kafka source has its partitions.
f_bridge_ready() { t_wait_for "$1" f_bridge_is_ready && kill -0 "$F_BRIDGE_PID" 2>/dev/null; }
f_bridge_is_ready() {
    # A bridge that exited is not going to be ready: stop waiting (the caller sees it gone).
    kill -0 "$F_BRIDGE_PID" 2>/dev/null || return 0
    curl -s -f -m 1 "http://127.0.0.1:$FAULTS_METRICS_PORT/readyz" >/dev/null 2>&1 || return 1
    [ "$SRC_KIND" != kafka ] || grep -q 'assigned [0-9]* partitions' "$D/bridge.log"
}

# f_sampler_start [INTERVAL] [ROUTE]: every INTERVAL s (0.2) append to $D/samples
#   TIME PID RSS_KB FDS OUT IN_FLIGHT_MSGS IN_FLIGHT_BYTES DEAD_LETTERED
# for the msgbridge whose pid is in $D/bridge.pid (metrics of ROUTE, see f_metrics). Stopped by
# f_sampler_stop.
f_sampler_start() {
    rm -f "$D/sampler.stop"
    (
        while [ ! -e "$D/sampler.stop" ]; do
            t=$(f_now)
            p=$(cat "$D/bridge.pid" 2>/dev/null)
            rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$p/status" 2>/dev/null)
            fds=$(ls "/proc/$p/fd" 2>/dev/null | wc -l)
            echo "$t $p ${rss:-0} $fds $(f_metrics "${2:-bridge}")"
            sleep "${1:-0.2}"
        done
    ) >>"$D/samples" 2>/dev/null &
    F_SAMPLER_PID=$!
}
f_sampler_stop() {
    [ -n "${F_SAMPLER_PID:-}" ] || return 0
    touch "$D/sampler.stop"
    wait "$F_SAMPLER_PID" 2>/dev/null
    F_SAMPLER_PID=""
}

# f_wait_out N SECONDS: wait until the bridge confirmed at least N messages.
f_wait_out() { t_wait_for "$2" f_out_at_least "$1"; }
f_out_at_least() { o=$(f_out); [ "$o" != - ] && [ "$o" -ge "$1" ]; }

# f_json_get FILE KEY: a number or string value from a flat one-line JSON object.
f_json_get() {
    sed -n "s/.*\"$2\": *\"\{0,1\}\([^,\"}]*\)\"\{0,1\}[,}].*/\1/p" "$1" | head -1
}
