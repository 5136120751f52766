# Helpers for the stomp adapter's integration tests (sourced after lib.sh and t_need activemq).
# The broker is Debian's ActiveMQ Classic run by scripts/activemq-node.sh; the checking client
# is tests/integration/stomp_client.py (python3-stomp and a plain-socket reader, not msgbridge).
# Debian's python3 has the stomp module; a pyenv or venv python first in PATH may not.
ST_PY=/usr/bin/python3
"$ST_PY" -c 'import stomp' 2>/dev/null || t_skip "python3-stomp is not installed"
ST_HOSTPORT=${BRG_TEST_STOMP_URL#stomp://}
ST_CLIENT="$(dirname "$0")/stomp_client.py"
case $ST_CLIENT in /*) ;; *) ST_CLIENT="$(pwd)/$ST_CLIENT" ;; esac

# stc send|recv|count DEST [COUNT] [ARGS...]
stc() {
    cmd=$1; shift
    "$ST_PY" "$ST_CLIENT" "$cmd" "$ST_HOSTPORT" "$@"
}
