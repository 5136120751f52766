#!/bin/sh
# Run a private RabbitMQ node (Debian's rabbitmq-server 3.10) for tests and the demo, as root
# and without systemd (DESIGN.md section 9).
#
#   scripts/rabbitmq-node.sh start|stop|kill|restart|status
#
#   start    start a fresh node (its data from an earlier run is wiped) and wait until it
#            serves AMQP; does nothing if it already runs.
#   stop     stop the node cleanly (rabbitmqctl stop), then epmd if no node is left.
#   kill     SIGKILL the node (a crash: durable queues and persistent messages survive).
#   restart  start the node again keeping its data (after kill or stop); stops it first if
#            it still runs.
#   status   exit 0 if the node runs.
#
# Once the node is ready, start/restart write $BRG_TEST_STATE_DIR/rabbitmq.env:
#   BRG_TEST_RABBITMQ_URL=amqp://guest:guest@127.0.0.1:35672/%2f
#   BRG_TEST_AMQP1_URL=amqp://127.0.0.1:35672          (rabbitmq_amqp1_0 plugin, same port)
#   BRG_TEST_RABBITMQ_PORT=35672
#   BRG_TEST_RABBITMQCTL=<a command that runs rabbitmqctl against this node>
#   BRG_TEST_RABBITMQ_NODE_SCRIPT=<this script>  BRG_TEST_RABBITMQ_LOG=<node log file>
#   BRG_TEST_RABBITMQ_TLS_URL=amqps://guest:guest@localhost:35671/%2f   (AMQP port - 1)
#   BRG_TEST_RABBITMQ_TLS_DIR=<folder with ca.pem, client.pem, client.key, other-ca.pem>
#                           (a test CA made at start; the node asks for, but does not require,
#                           a client certificate)
# kill and stop remove it.
#
# Environment:
#   BRG_TEST_STATE_DIR      state dir (default /tmp/msgbridge-test); the node lives in
#                           $BRG_TEST_STATE_DIR/$RABBITMQ_TEST_NAME
#   RABBITMQ_TEST_NAME      node name before "@localhost" and state folder (default rabbitmq);
#                           two nodes run side by side with different names and ports
#   RABBITMQ_TEST_PORT      AMQP port on 127.0.0.1 (default 35672)
#   RABBITMQ_TEST_DIST_PORT Erlang distribution port (default AMQP port + 1)
#   RABBITMQ_TEST_TLS_PORT  AMQP over TLS port (default AMQP port - 1; no TLS listener if
#                           the openssl command is missing)
set -eu

: "${BRG_TEST_STATE_DIR:=/tmp/msgbridge-test}"
: "${RABBITMQ_TEST_NAME:=rabbitmq}"
: "${RABBITMQ_TEST_PORT:=35672}"
: "${RABBITMQ_TEST_DIST_PORT:=$((RABBITMQ_TEST_PORT + 1))}"
: "${RABBITMQ_TEST_TLS_PORT:=$((RABBITMQ_TEST_PORT - 1))}"
# Debian's /usr/sbin wrappers switch to the rabbitmq user and its cookie; a node started by
# root then refuses them. The scripts in /usr/lib/rabbitmq/bin run as whoever calls them.
: "${RABBITMQ_BIN:=/usr/lib/rabbitmq/bin}"

case $BRG_TEST_STATE_DIR in /*) ;; *) BRG_TEST_STATE_DIR=$(pwd)/$BRG_TEST_STATE_DIR ;; esac
dir=$BRG_TEST_STATE_DIR/$RABBITMQ_TEST_NAME
env_file=$BRG_TEST_STATE_DIR/$RABBITMQ_TEST_NAME.env
pid_file=$dir/rabbitmq.pid
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

log() { echo "rabbitmq-node: $*" >&2; }

# Everything the server and its CLI tools read lives in $dir: the cookie (in HOME), the
# config, the plugin list, the database and the logs. Nothing in /etc/rabbitmq or
# /var/lib/rabbitmq is read or written.
write_env_sh() {
    cat >"$dir/env.sh" <<EOT
# Environment of the private RabbitMQ node $RABBITMQ_TEST_NAME@localhost (sourced by its tools).
export HOME='$dir/home'
export RABBITMQ_NODENAME='$RABBITMQ_TEST_NAME@localhost'
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT=$RABBITMQ_TEST_PORT
export RABBITMQ_DIST_PORT=$RABBITMQ_TEST_DIST_PORT
export RABBITMQ_MNESIA_BASE='$dir/mnesia'
export RABBITMQ_LOG_BASE='$dir/log'
export RABBITMQ_PID_FILE='$pid_file'
export RABBITMQ_CONFIG_FILE='$dir/rabbitmq.conf'
export RABBITMQ_ADVANCED_CONFIG_FILE='$dir/advanced.config'
export RABBITMQ_CONF_ENV_FILE='$dir/rabbitmq-env.conf'
export RABBITMQ_ENABLED_PLUGINS_FILE='$dir/enabled_plugins'
export ERL_EPMD_ADDRESS=127.0.0.1
# Erlang distribution on loopback only, for the node and for its CLI tools. The CLI's own
# default port range (35672-35682) would take our AMQP port: move it next to the node's.
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
export RABBITMQ_CTL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
export RABBITMQ_CTL_DIST_PORT_MIN=$((RABBITMQ_TEST_PORT + 2))
export RABBITMQ_CTL_DIST_PORT_MAX=$((RABBITMQ_TEST_PORT + 12))
EOT
    # A rabbitmqctl bound to this node, for tests (BRG_TEST_RABBITMQCTL).
    for tool in rabbitmqctl rabbitmq-plugins rabbitmq-diagnostics; do
        cat >"$dir/$tool" <<EOT
#!/bin/sh
. '$dir/env.sh'
exec '$RABBITMQ_BIN/$tool' "\$@"
EOT
        chmod 755 "$dir/$tool"
    done
}

# A throw-away CA, a server certificate for localhost/127.0.0.1 and a client certificate, plus
# an unrelated CA (for "wrong CA" tests). EC keys: quick to make.
make_tls() {
    t=$dir/tls
    mkdir -p "$t"
    (
        cd "$t"
        key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1"; }
        key ca.key && openssl req -x509 -new -key ca.key -out ca.pem -days 3650 \
            -subj "/CN=msgbridge test CA"
        key other-ca.key && openssl req -x509 -new -key other-ca.key -out other-ca.pem \
            -days 3650 -subj "/CN=some other CA"
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >server.ext
        printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' >client.ext
        for who in server client; do
            key $who.key && openssl req -new -key $who.key -out $who.csr -subj "/CN=$who" &&
                openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
                    -out $who.pem -days 3650 -extfile $who.ext
        done
    ) >"$dir/tls.log" 2>&1
}

setup_fresh() {
    rm -rf "$dir"
    mkdir -p "$dir/home" "$dir/mnesia" "$dir/log"
    # The Erlang cookie: server and CLI share HOME, so they share it.
    head -c 30 /dev/urandom | od -An -tx1 | tr -d ' \n' | cut -c1-40 >"$dir/home/.erlang.cookie"
    chmod 400 "$dir/home/.erlang.cookie"
    cat >"$dir/rabbitmq.conf" <<EOT
# Private test node: loopback only; guest/guest is allowed from loopback (the default).
listeners.tcp.default = 127.0.0.1:$RABBITMQ_TEST_PORT
loopback_users.guest = true
# Test machines have little free disk and memory: do not block publishers for it.
disk_free_limit.absolute = 50MB
vm_memory_high_watermark.relative = 0.6
log.console = false
log.file.level = info
EOT
    if command -v openssl >/dev/null 2>&1 && make_tls; then
        cat >>"$dir/rabbitmq.conf" <<EOT
listeners.ssl.default = 127.0.0.1:$RABBITMQ_TEST_TLS_PORT
ssl_options.cacertfile = $dir/tls/ca.pem
ssl_options.certfile = $dir/tls/server.pem
ssl_options.keyfile = $dir/tls/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = false
EOT
    else
        log "no TLS listener (openssl missing or failed: see $dir/tls.log)"
    fi
    echo "[]." >"$dir/advanced.config"
    : >"$dir/rabbitmq-env.conf"
    write_env_sh
    # The AMQP 1.0 plugin listens on the AMQP port too (protocol detected per connection).
    "$dir/rabbitmq-plugins" --offline enable rabbitmq_amqp1_0 >"$dir/plugins.log" 2>&1 || {
        log "enabling rabbitmq_amqp1_0 failed:"; cat "$dir/plugins.log" >&2; exit 1; }
}

running_pid() {
    [ -r "$pid_file" ] || return 1
    p=$(cat "$pid_file" 2>/dev/null) || return 1
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 1
    echo "$p"
}

write_env_file() {
    cat >"$env_file.tmp" <<EOT
BRG_TEST_RABBITMQ_URL=amqp://guest:guest@127.0.0.1:$RABBITMQ_TEST_PORT/%2f
BRG_TEST_AMQP1_URL=amqp://127.0.0.1:$RABBITMQ_TEST_PORT
BRG_TEST_RABBITMQ_PORT=$RABBITMQ_TEST_PORT
BRG_TEST_RABBITMQCTL=$dir/rabbitmqctl
BRG_TEST_RABBITMQ_NODE_SCRIPT=$self
BRG_TEST_RABBITMQ_LOG=$dir/log/$RABBITMQ_TEST_NAME@localhost.log
export BRG_TEST_RABBITMQ_URL BRG_TEST_AMQP1_URL BRG_TEST_RABBITMQ_PORT BRG_TEST_RABBITMQCTL
export BRG_TEST_RABBITMQ_NODE_SCRIPT BRG_TEST_RABBITMQ_LOG
EOT
    if [ -s "$dir/tls/client.pem" ]; then
        cat >>"$env_file.tmp" <<EOT
BRG_TEST_RABBITMQ_TLS_URL=amqps://guest:guest@localhost:$RABBITMQ_TEST_TLS_PORT/%2f
BRG_TEST_RABBITMQ_TLS_DIR=$dir/tls
export BRG_TEST_RABBITMQ_TLS_URL BRG_TEST_RABBITMQ_TLS_DIR
EOT
    fi
    mv "$env_file.tmp" "$env_file"
}

# Start the server in the background from the prepared $dir and wait until it serves AMQP.
launch() {
    rm -f "$env_file" "$pid_file"
    write_env_sh
    # setsid: the node outlives the shell that started it (CI steps, test harnesses).
    # rabbitmq-server execs erl, so $! is the node's own pid; it also writes $pid_file.
    (. "$dir/env.sh" && exec setsid "$RABBITMQ_BIN/rabbitmq-server" \
        </dev/null >>"$dir/console.log" 2>&1) &
    echo $! >"$pid_file.launch"
    # `rabbitmqctl wait PIDFILE` waits for the pid file, then for the node to boot
    # (await_startup fails at once while the node is not registered yet). 8-13 s here.
    if ! "$dir/rabbitmqctl" wait --timeout 120 "$pid_file" >"$dir/wait.log" 2>&1; then
        log "the node did not start; console and log:"
        tail -n 30 "$dir/console.log" "$dir"/log/*.log >&2 2>/dev/null || true
        kill -9 "$(cat "$pid_file.launch")" 2>/dev/null || true
        exit 1
    fi
    write_env_file
    log "$RABBITMQ_TEST_NAME@localhost ready on 127.0.0.1:$RABBITMQ_TEST_PORT (pid $(cat "$pid_file"))"
}

do_start() {
    if p=$(running_pid); then
        log "already running (pid $p)"
        [ -r "$env_file" ] || write_env_file
        return 0
    fi
    setup_fresh
    launch
}

do_restart() {
    if running_pid >/dev/null; then
        do_stop_node
    fi
    if [ ! -d "$dir/mnesia" ]; then
        setup_fresh
    fi
    launch
}

do_stop_node() {
    rm -f "$env_file"
    p=$(running_pid) || return 0
    "$dir/rabbitmqctl" stop "$pid_file" >"$dir/stop.log" 2>&1 || {
        log "rabbitmqctl stop failed: killing pid $p"; kill -9 "$p" 2>/dev/null || true; }
    i=0
    while kill -0 "$p" 2>/dev/null; do
        i=$((i + 1)); [ $i -gt 300 ] && { kill -9 "$p" 2>/dev/null || true; break; }
        sleep 0.1
    done
}

# epmd outlives the nodes; `epmd -kill` refuses while any node is still registered, so
# another node running side by side is left alone.
stop_epmd() {
    ERL_EPMD_ADDRESS=127.0.0.1 epmd -kill >/dev/null 2>&1 || true
}

do_stop() {
    do_stop_node
    stop_epmd
}

do_kill() {
    rm -f "$env_file"
    p=$(running_pid) || { log "not running"; return 0; }
    kill -9 "$p"
    i=0
    while kill -0 "$p" 2>/dev/null; do
        i=$((i + 1)); [ $i -gt 100 ] && break
        sleep 0.1
    done
    log "killed pid $p"
}

case ${1:-} in
start) do_start ;;
stop) do_stop ;;
kill) do_kill ;;
restart) do_restart ;;
status) running_pid >/dev/null ;;
*) echo "usage: $0 start|stop|kill|restart|status" >&2; exit 2 ;;
esac
