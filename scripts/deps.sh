#!/bin/sh
# Install what msgbridge needs to build, test and demo on Debian 12 (as root). Idempotent: it
# only calls apt-get when a package is missing.
set -eu
PKGS="build-essential autoconf automake libtool pkg-config libclang-rt-14-dev
      libconfig-dev check libjansson-dev libmicrohttpd-dev
      librdkafka-dev librabbitmq-dev libqpid-proton11-dev libssl-dev
      rabbitmq-server kcat amqp-tools python3-qpid-proton
      curl valgrind clang procps psmisc
      activemq python3-stomp default-jre-headless default-jdk-headless
      libcurl4-openssl-dev prometheus tmux debhelper lintian git gnuplot-nox"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "deps: missing packages:$missing (run as root to install them)" >&2
        exit 1
    fi
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # The rabbitmq-server and activemq packages try to start their services; we run private
    # nodes instead (scripts/rabbitmq-node.sh, scripts/activemq-node.sh).
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# Debian's prometheus package enables its own server on port 9090 (and, with recommends, a node
# exporter on 9100); the tests start private servers on free ports, so keep the packaged ones
# from running where systemd would start them.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ] && [ "$(id -u)" = 0 ]; then
    for unit in prometheus prometheus-node-exporter; do
        if systemctl is-enabled --quiet "$unit" 2>/dev/null || systemctl is-active --quiet "$unit" 2>/dev/null; then
            systemctl disable --now "$unit" >/dev/null 2>&1 || true
        fi
    done
fi
