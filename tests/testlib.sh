# The one shell library of the integration tests (tests/integration/*.sh, through
# tests/integration/lib.sh), the fault scenarios and the soak (tests/faults/lib.sh): paths,
# waiting on a condition with a deadline, log checks, client settings, broker helpers.
# Sourcing it only sets variables and defines functions: no temporary folder, no trap (that is
# tests/integration/lib.sh's part for one test; tests/faults/lib.sh has its own run folder).
# The per-broker parts that skip a test when a client is missing stay beside the tests:
# kafka_lib.sh (kcat), rabbitmq_lib.sh, amqp1_lib.sh, stomp_lib.sh, badinput_lib.sh.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${MSGBRIDGE:=$top_builddir/msgbridge}"
# Where scripts/kafka-cluster.sh and scripts/rabbitmq-node.sh write their *.env files.
: "${BRG_TEST_STATE_DIR:=/tmp/msgbridge-test}"
# BRG_TEST_QUICK=1 (sanitizer builds) divides message counts by 5.
: "${BRG_TEST_QUICK:=0}"
# The Kafka test cluster program (tools/kafka-mock); KAFKA_MOCK overrides it.
T_KAFKA_MOCK=${KAFKA_MOCK:-$top_builddir/tools/kafka-mock/kafka-mock-cluster}

# ---- waiting and checking -----------------------------------------------------------------------

# t_count N: N scaled down in quick mode.
t_count() { if [ "$BRG_TEST_QUICK" = 1 ]; then echo $(( $1 / 5 )); else echo "$1"; fi; }

# t_wait_for SECONDS CMD...: poll CMD every 0.2 s until it succeeds; false after SECONDS.
t_wait_for() {
    to=$1; shift
    i=0
    until "$@" >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -gt $((to * 5)) ] && return 1
        sleep 0.2
    done
    return 0
}

# t_wait_gone SECONDS PID: wait until process PID has exited; false after SECONDS.
t_wait_gone() { t_wait_for "$1" t_not_running "$2"; }
t_not_running() { ! kill -0 "$1" 2>/dev/null; }

# t_log_has FILE TEXT: the log contains TEXT (fixed string).
t_log_has() { grep -F -q -- "$2" "$1"; }
# t_log_count FILE TEXT: how many lines contain TEXT.
t_log_count() { grep -F -c -- "$2" "$1" 2>/dev/null || true; }
# t_log_more FILE TEXT N: more than N lines contain TEXT (for t_wait_for).
t_log_more() { [ "$(t_log_count "$1" "$2")" -gt "$3" ]; }

# t_free_port: a TCP port free on 127.0.0.1 right now (for bridge.metrics).
t_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- Kafka client settings ----------------------------------------------------------------------

# For the mock cluster (DESIGN.md section 9). Every client: quick group joins and quick empty
# fetches. Clients that outlive a broker restart: quick reconnects and metadata. K_PROPS, for
# most tests, also lets a consumer read at full speed (queued.min.messages); the fault tests
# leave that out, as it would hide their bound on read-ahead memory.
K_PROPS_GROUP='"session.timeout.ms=6000", "heartbeat.interval.ms=500", "fetch.wait.max.ms=10"'
# For a Kafka source whose group has several members (the scale-out tests): the mock cluster
# refuses commits once any member rejoins, so a member that gives up partitions waits for the
# others' revoke commits (docs/kafka.md, "Rebalance"). A `from` group key, not a property.
K_SRC_MOCK_GROUP='revoke_grace_ms = 3500;'
K_PROPS_RECONNECT='"reconnect.backoff.max.ms=1000", "topic.metadata.refresh.interval.ms=2000"'
K_PROPS="$K_PROPS_GROUP,
      \"queued.min.messages=1000000\", $K_PROPS_RECONNECT"

# t_kafka_mock FIRST_PORT STEP BROKERS BOOTFILE CTL LOG [-t TOPIC:PARTITIONS]...: start a
# private mock cluster ($T_KAFKA_MOCK) of BROKERS brokers; a port still taken (a previous
# test's socket) is retried STEP further, five times. Sets T_KAFKA_PID (the caller kills it); false if it did
# not start (LOG says why).
t_kafka_mock() {
    first=$1; step=$2; nb=$3; boot=$4; ctl=$5; klog=$6; shift 6
    for attempt in 0 1 2 3 4; do
        rm -f "$boot"
        "$T_KAFKA_MOCK" -n "$nb" -p $((first + attempt * step)) -f "$boot" -c "$ctl" "$@" >"$klog" 2>&1 &
        T_KAFKA_PID=$!
        # It writes the bootstrap file once every broker listens; a port in use ends it at once.
        if t_wait_for 10 t_started "$boot" "$T_KAFKA_PID"; then
            [ -s "$boot" ] && return 0
        fi
        kill "$T_KAFKA_PID" 2>/dev/null; wait "$T_KAFKA_PID" 2>/dev/null
    done
    return 1
}
# t_started FILE PID: FILE is written, or PID is gone (nothing more to wait for).
t_started() { [ -s "$1" ] || ! kill -0 "$2" 2>/dev/null; }

# t_kafka_round_trip_confs ID PROTO ENDPOINT_KEYS SOURCE_KEYS SINK_KEYS TOPIC MAX_IN_FLIGHT:
# $T_DIR/east.conf (PROTO -> Kafka topic TOPIC, bridge id ID-east) and $T_DIR/west.conf (TOPIC
# -> PROTO, bridge id ID-west), two bridges as between two sites; the second allows a chain of
# two hops. ENDPOINT_KEYS are the PROTO endpoint's keys beside its name; SOURCE_KEYS and
# SINK_KEYS its stream keys. Both files are checked with msgbridge -t.
t_kafka_round_trip_confs() {
    endpoints="
  { name = \"amq\"; $3 },
  { name = \"kafka\"; type = \"kafka\"; brokers = \"$BRG_TEST_KAFKA_BROKERS\";
    properties = [ $K_PROPS_GROUP ]; }"
    cat >"$T_DIR/east.conf" <<EOT
bridge = { id = "$1-east"; };
endpoints = ( $endpoints );
routes = (
  { name = "$2-to-kafka";
    from = { endpoint = "amq"; $4 };
    to = { endpoint = "kafka"; topic = "$6"; key = "\${key}"; };
    max_in_flight = $7; }
);
EOT
    cat >"$T_DIR/west.conf" <<EOT
bridge = { id = "$1-west"; };
endpoints = ( $endpoints );
routes = (
  { name = "kafka-to-$2";
    from = { endpoint = "kafka"; topic = "$6"; group = "$1-$$"; start = "earliest"; };
    to = { endpoint = "amq"; $5 };
    mapping = { max_hops = 2; };   # the second bridge of a chain
    max_in_flight = $7; }
);
EOT
    for c in east west; do
        "$MSGBRIDGE" -t -c "$T_DIR/$c.conf" >"$T_DIR/check.log" 2>&1 ||
            t_fail "-t $c: $(cat "$T_DIR/check.log")"
    done
}

# ---- AMQP queues through amqp-tools and rabbitmqctl ---------------------------------------------

# t_amqp_queues URL Q...: delete and declare each queue (durable). False if one cannot be.
t_amqp_queues() {
    url=$1; shift
    for q in "$@"; do
        amqp-delete-queue -u "$url" -q "$q" >/dev/null 2>&1
        amqp-declare-queue -u "$url" -q "$q" -d >/dev/null || return 1
    done
}
# t_amqp_delete URL Q...: delete queues (end of a test).
t_amqp_delete() {
    url=$1; shift
    for q in "$@"; do amqp-delete-queue -u "$url" -q "$q" >/dev/null 2>&1; done
}
# t_rabbitmq_messages RABBITMQCTL QUEUE: messages in QUEUE (ready + unacknowledged), -1 if
# unknown.
t_rabbitmq_messages() {
    $1 list_queues -q name messages 2>/dev/null |
        awk -v q="$2" '$1 == q { print $2; found = 1 } END { if (!found) print -1 }'
}

# ---- conditions over time -----------------------------------------------------------------------

# t_steady QUIET DEADLINE CMD...: wait until CMD's output has stayed the same for QUIET whole
# seconds (nothing more arrives, nothing more moves); false if it still changes after DEADLINE
# seconds. For "no duplicate or echo comes after the last message" before counting.
t_steady() {
    quiet=$1; to=$2; shift 2
    last=$("$@" 2>/dev/null); same=0; i=0
    while [ $same -lt $((quiet * 5)) ]; do
        i=$((i + 1)); [ $i -gt $((to * 5)) ] && return 1
        sleep 0.2
        now=$("$@" 2>/dev/null)
        if [ "$now" = "$last" ]; then same=$((same + 1)); else same=0; last=$now; fi
    done
    return 0
}

# t_log_after FILE N GREP_ARGS...: a line after the first N lines of FILE matches (grep -q).
# Take N with `wc -l <FILE` before the event, then t_wait_for the line the event causes.
t_log_after() { f=$1; n=$2; shift 2; tail -n +$((n + 1)) "$f" | grep -q "$@"; }
