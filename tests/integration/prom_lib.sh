# Helpers for the tests of contrib/prometheus (sourced after lib.sh): a private Prometheus
# server on a free loopback port with its own data folder under $T_DIR, stopped by t_cleanup.
# Debian's `prometheus` package provides it (scripts/deps.sh installs it; its own service is
# not used).

PROM_API="$top_srcdir/tests/integration/prom_api.py"
PROM_RULES="$top_srcdir/contrib/prometheus/msgbridge.rules.yml"

# prom_free_port: print a TCP port free on 127.0.0.1 right now (the kernel picks it).
prom_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# prom_need: skip the test when Prometheus or python3 is missing.
prom_need() {
    command -v prometheus >/dev/null || t_skip "prometheus not installed (scripts/deps.sh installs it)"
    command -v python3 >/dev/null || t_skip "python3 not installed"
    command -v curl >/dev/null || t_skip "curl not installed"
}

# prom_rules_for ALERT DURATION OUT: copy the rules with ALERT's `for:` set to DURATION (so that
# a test need not wait a minute).
prom_rules_for() {
    awk -v a="$1" -v d="$2" '
        /- alert: / { mine = ($3 == a) }
        mine && /^ *for: / { sub(/for: .*/, "for: " d) }
        { print }' "$PROM_RULES" >"$3"
    grep -A3 "alert: $1\$" "$3" | grep -q "for: $2\$" || t_fail "could not set for: $2 on $1"
}

# prom_start TARGET RULES: scrape TARGET (host:port) every second and evaluate RULES every
# second; sets PROM_URL and PROM_PID and waits until the server is ready.
prom_start() {
    port=$(prom_free_port)
    PROM_URL=http://127.0.0.1:$port
    cat >"$T_DIR/prometheus.yml" <<EOC
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [ "$2" ]
scrape_configs:
  - job_name: msgbridge
    static_configs:
      - targets: [ "$1" ]
EOC
    prometheus --config.file="$T_DIR/prometheus.yml" --storage.tsdb.path="$T_DIR/prom-data" \
        --web.listen-address="127.0.0.1:$port" --log.level=warn >"$T_DIR/prometheus.log" 2>&1 &
    PROM_PID=$!
    T_PIDS="$T_PIDS $PROM_PID"
    t_wait_for 30 curl -sf "$PROM_URL/-/ready" || t_fail "prometheus did not start (see $T_DIR/prometheus.log)"
}

# prom_api CMD ARGS...: see prom_api.py.
prom_api() { python3 "$PROM_API" "$PROM_URL" "$@"; }
