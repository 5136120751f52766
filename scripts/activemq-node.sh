#!/bin/sh
# Run a private ActiveMQ Classic broker (Debian's activemq 5.17.2) for tests and the demo, as a
# plain JVM on 127.0.0.1 (no systemd, nothing in /etc/activemq or /var/lib/activemq is used).
#
#   scripts/activemq-node.sh start|stop|kill|restart|status
#
#   start    start a fresh broker (its data from an earlier run is wiped) and wait until a
#            STOMP CONNECT is answered with CONNECTED; does nothing if it already runs.
#   stop     SIGTERM the JVM and wait for it to exit.
#   kill     SIGKILL the JVM (a crash: persistent messages and durable subscriptions survive
#            in KahaDB).
#   restart  start the broker again keeping its data (after kill or stop).
#   status   exit 0 if the broker runs.
#
# Debian's package ships no AMQP module (README.Debian of libactivemq-java): the broker listens
# on STOMP and OpenWire only, without the web console. Once ready, start/restart write
# $BRG_TEST_STATE_DIR/activemq.env:
#   BRG_TEST_STOMP_URL=stomp://127.0.0.1:36613
#   BRG_TEST_STOMP_PORT=36613   BRG_TEST_OPENWIRE_URL=tcp://127.0.0.1:36616
#   BRG_TEST_ACTIVEMQ_NODE_SCRIPT=<this script>  BRG_TEST_ACTIVEMQ_LOG=<broker log file>
# kill and stop remove it.
#
# Environment:
#   BRG_TEST_STATE_DIR     state dir (default /tmp/msgbridge-test); the broker lives in
#                          $BRG_TEST_STATE_DIR/activemq
#   ACTIVEMQ_STOMP_PORT    STOMP port on 127.0.0.1 (default 36613)
#   ACTIVEMQ_OPENWIRE_PORT OpenWire port on 127.0.0.1 (default 36616)
#   ACTIVEMQ_MAX_FRAME     the STOMP connector's wireFormat.maxFrameSize (default 1048576): a
#                          bigger SEND is refused with an ERROR (tests of poison messages)
#   ACTIVEMQ_STOMP_SSL_PORT also listen for STOMP over TLS (stomp+ssl://) on this port of
#                          127.0.0.1 (default: none). start then makes a test CA and a server
#                          certificate for IP 127.0.0.1 (openssl; a PKCS12 keystore for the
#                          JVM) in $BRG_TEST_STATE_DIR/activemq/tls, plus a second CA that did
#                          not sign it, and activemq.env also gets
#                          BRG_TEST_STOMP_SSL_URL=stomp+ssl://127.0.0.1:PORT
#                          BRG_TEST_STOMP_SSL_CA=<ca.pem>  BRG_TEST_STOMP_SSL_OTHER_CA=<other-ca.pem>
#   ACTIVEMQ_HEAP          JVM heap (default 256M)
#   ACTIVEMQ_JAR           default /usr/share/activemq/bin/activemq.jar
set -eu

: "${BRG_TEST_STATE_DIR:=/tmp/msgbridge-test}"
: "${ACTIVEMQ_STOMP_PORT:=36613}"
: "${ACTIVEMQ_OPENWIRE_PORT:=36616}"
: "${ACTIVEMQ_MAX_FRAME:=1048576}"
: "${ACTIVEMQ_HEAP:=256M}"
: "${ACTIVEMQ_STOMP_SSL_PORT:=}"
: "${ACTIVEMQ_JAR:=/usr/share/activemq/bin/activemq.jar}"

case $BRG_TEST_STATE_DIR in /*) ;; *) BRG_TEST_STATE_DIR=$(pwd)/$BRG_TEST_STATE_DIR ;; esac
dir=$BRG_TEST_STATE_DIR/activemq
# restart keeps the ports of the broker's start (a test calling restart may not know them).
if [ "${1:-}" = restart ] && [ -r "$dir/ports.env" ]; then
    # shellcheck disable=SC1091
    . "$dir/ports.env"
fi
env_file=$BRG_TEST_STATE_DIR/activemq.env
pid_file=$dir/activemq.pid
log_file=$dir/activemq.log
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

log() { echo "activemq-node: $*" >&2; }

running() {
    [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

# A CA, a server certificate for 127.0.0.1 signed by it, as a PKCS12 keystore for the broker;
# and another CA, which signed nothing (tests of verification failures). Kept across restart.
make_tls() {
    t=$dir/tls
    [ -r "$t/broker.p12" ] && return 0
    mkdir -p "$t"
    (
        cd "$t" || exit 1
        key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1"; }
        key ca.key && openssl req -x509 -new -key ca.key -out ca.pem -days 3650 \
            -subj "/CN=msgbridge test ActiveMQ CA" &&
            key other-ca.key && openssl req -x509 -new -key other-ca.key -out other-ca.pem \
            -days 3650 -subj "/CN=msgbridge other CA" &&
            key broker.key && openssl req -new -key broker.key -out broker.csr -subj "/CN=127.0.0.1" &&
            printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >broker.ext &&
            openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
                -out broker.pem -days 3650 -extfile broker.ext &&
            openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem \
                -name broker -out broker.p12 -passout pass:msgbridge
    ) >"$dir/tls.log" 2>&1 || { log "cannot make the TLS files: see $dir/tls.log"; exit 1; }
}

write_conf() {
    mkdir -p "$dir/conf" "$dir/data" "$dir/tmp"
    ssl_context=""
    ssl_connector=""
    if [ -n "$ACTIVEMQ_STOMP_SSL_PORT" ]; then
        make_tls
        ssl_context="    <sslContext>
      <sslContext keyStore=\"file:$dir/tls/broker.p12\" keyStorePassword=\"msgbridge\" keyStoreType=\"pkcs12\"/>
    </sslContext>"
        ssl_connector="      <transportConnector name=\"stomp+ssl\" uri=\"stomp+ssl://127.0.0.1:$ACTIVEMQ_STOMP_SSL_PORT?wireFormat.maxFrameSize=$ACTIVEMQ_MAX_FRAME\"/>"
    fi
    # Debian's broker logs through log4j 1.2: INFO to stdout, which goes to the log file.
    cat >"$dir/conf/log4j.properties" <<EOT
log4j.rootLogger=INFO, out
log4j.appender.out=org.apache.log4j.ConsoleAppender
log4j.appender.out.layout=org.apache.log4j.PatternLayout
log4j.appender.out.layout.ConversionPattern=%d{ISO8601} %-5p %c{1} - %m%n
EOT
    cat >"$dir/conf/activemq.xml" <<EOT
<beans xmlns="http://www.springframework.org/schema/beans"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
  http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <bean class="org.springframework.beans.factory.config.PropertyPlaceholderConfigurer"/>
  <broker xmlns="http://activemq.apache.org/schema/core" useJmx="false" brokerName="msgbridge-test"
          dataDirectory="$dir/data" schedulerSupport="false">
    <destinationPolicy>
      <policyMap>
        <policyEntries>
          <!-- maxPageSize: a client's prefetch (the route's max_in_flight) is served from
               more than the default 200 paged-in messages. -->
          <policyEntry queue="&gt;" maxPageSize="5000" prioritizedMessages="false"/>
          <policyEntry topic="&gt;" maxPageSize="5000"/>
        </policyEntries>
      </policyMap>
    </destinationPolicy>
    <persistenceAdapter>
      <kahaDB directory="$dir/data/kahadb"/>
    </persistenceAdapter>
    <systemUsage>
      <systemUsage>
        <memoryUsage><memoryUsage limit="128 mb"/></memoryUsage>
        <storeUsage><storeUsage limit="2 gb"/></storeUsage>
        <tempUsage><tempUsage limit="1 gb"/></tempUsage>
      </systemUsage>
    </systemUsage>
$ssl_context
    <transportConnectors>
      <transportConnector name="openwire" uri="tcp://127.0.0.1:$ACTIVEMQ_OPENWIRE_PORT"/>
      <transportConnector name="stomp" uri="stomp://127.0.0.1:$ACTIVEMQ_STOMP_PORT?wireFormat.maxFrameSize=$ACTIVEMQ_MAX_FRAME"/>
$ssl_connector
    </transportConnectors>
  </broker>
</beans>
EOT
}

# True when a STOMP CONNECT on the port is answered with CONNECTED.
stomp_ready() {
    python3 - "$ACTIVEMQ_STOMP_PORT" <<'EOT' 2>/dev/null
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.sendall(b"CONNECT\naccept-version:1.2\nhost:localhost\n\n\0")
data = b""
while b"\0" not in data:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
sys.exit(0 if data.startswith(b"CONNECTED") else 1)
EOT
}

launch() {
    write_conf
    # activemq.jar's main reads activemq.home/base/conf/data; "start" runs the broker in this
    # JVM until SIGTERM.
    setsid java -Xms64M -Xmx"$ACTIVEMQ_HEAP" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Djava.io.tmpdir="$dir/tmp" \
        -Dactivemq.home=/usr/share/activemq -Dactivemq.base="$dir" \
        -Dactivemq.conf="$dir/conf" -Dactivemq.data="$dir/data" \
        -Dlog4j.configuration="file:$dir/conf/log4j.properties" \
        -jar "$ACTIVEMQ_JAR" start "xbean:file:$dir/conf/activemq.xml" \
        </dev/null >>"$log_file" 2>&1 &
    echo $! >"$pid_file"
    i=0
    while ! stomp_ready; do
        i=$((i + 1))
        if ! running; then
            log "the broker exited; see $log_file"
            tail -20 "$log_file" >&2
            exit 1
        fi
        if [ $i -gt 300 ]; then
            log "not ready after 60 s; see $log_file"
            exit 1
        fi
        sleep 0.2
    done
    cat >"$env_file" <<EOT
BRG_TEST_STOMP_URL=stomp://127.0.0.1:$ACTIVEMQ_STOMP_PORT
BRG_TEST_STOMP_PORT=$ACTIVEMQ_STOMP_PORT
BRG_TEST_OPENWIRE_URL=tcp://127.0.0.1:$ACTIVEMQ_OPENWIRE_PORT
BRG_TEST_ACTIVEMQ_NODE_SCRIPT=$self
BRG_TEST_ACTIVEMQ_LOG=$log_file
EOT
    if [ -n "$ACTIVEMQ_STOMP_SSL_PORT" ]; then
        cat >>"$env_file" <<EOT
BRG_TEST_STOMP_SSL_URL=stomp+ssl://127.0.0.1:$ACTIVEMQ_STOMP_SSL_PORT
BRG_TEST_STOMP_SSL_CA=$dir/tls/ca.pem
BRG_TEST_STOMP_SSL_OTHER_CA=$dir/tls/other-ca.pem
EOT
    fi
    log "ready: STOMP on 127.0.0.1:$ACTIVEMQ_STOMP_PORT${ACTIVEMQ_STOMP_SSL_PORT:+, STOMP over TLS on 127.0.0.1:$ACTIVEMQ_STOMP_SSL_PORT} (pid $(cat "$pid_file"))"
}

wait_gone() {
    pid=$1
    i=0
    while kill -0 "$pid" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 300 ]; then
            kill -KILL "$pid" 2>/dev/null || :
        fi
        sleep 0.1
    done
}

stop_broker() {
    sig=$1
    rm -f "$env_file"
    if running; then
        pid=$(cat "$pid_file")
        kill -"$sig" "$pid" 2>/dev/null || :
        wait_gone "$pid"
    fi
    rm -f "$pid_file"
}

if [ ! -r "$ACTIVEMQ_JAR" ]; then
    log "$ACTIVEMQ_JAR is missing: apt-get install activemq (scripts/deps.sh)"
    exit 1
fi

case ${1:-} in
start)
    if running; then
        exit 0
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    cat >"$dir/ports.env" <<EOT
ACTIVEMQ_STOMP_PORT=$ACTIVEMQ_STOMP_PORT
ACTIVEMQ_OPENWIRE_PORT=$ACTIVEMQ_OPENWIRE_PORT
ACTIVEMQ_MAX_FRAME=$ACTIVEMQ_MAX_FRAME
ACTIVEMQ_HEAP=$ACTIVEMQ_HEAP
ACTIVEMQ_STOMP_SSL_PORT=$ACTIVEMQ_STOMP_SSL_PORT
EOT
    launch
    ;;
restart)
    stop_broker TERM
    mkdir -p "$dir"
    launch
    ;;
stop) stop_broker TERM ;;
kill) stop_broker KILL ;;
status) running ;;
*) echo "usage: $0 start|stop|kill|restart|status" >&2; exit 2 ;;
esac
