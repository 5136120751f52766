# Helpers for the amqp1 integration tests (sourced after lib.sh and `t_need rabbitmq`).
# The broker is RabbitMQ's rabbitmq_amqp1_0 plugin (a real AMQP 1.0 broker); the independent
# client is tests/integration/amqp1_client.py on Debian's python3-qpid-proton (its own proton
# binding, not the adapter); queues are declared durable through AMQP 0-9-1 (amqp-tools).

# Debian's python3 has the proton module; a pyenv or venv python first in PATH may not.
A1_PY=/usr/bin/python3
"$A1_PY" -c "import proton" 2>/dev/null || t_skip "python3-qpid-proton is not installed"
command -v amqp-declare-queue >/dev/null 2>&1 || t_skip "amqp-tools is not installed"
A1_CLIENT=$top_srcdir/tests/integration/amqp1_client.py

# a1_env HOSTPORT RMQ_URL RABBITMQCTL: point the helpers at a broker.
a1_env() {
    A1_HOSTPORT=$1
    A1_RMQ_URL=$2
    A1_CTL=$3
    A1_URL=amqp://guest:guest@$A1_HOSTPORT
}
a1_env "${BRG_TEST_AMQP1_URL#amqp://}" "${BRG_TEST_RABBITMQ_URL:-}" "${BRG_TEST_RABBITMQCTL:-false}"

# a1c send|recv|drain ADDRESS ARGS...: the python client against $A1_URL.
a1c() { cmd=$1; shift; "$A1_PY" "$A1_CLIENT" "$cmd" "$A1_URL" "$@"; }

# a1_queue NAME...: delete and declare each queue (durable).
a1_queue() { t_amqp_queues "$A1_RMQ_URL" "$@" || t_fail "cannot declare queues $*"; }

# a1_delete NAME...: delete queues (end of a test).
a1_delete() { t_amqp_delete "$A1_RMQ_URL" "$@"; }

# a1_count QUEUE: messages in the queue (ready + unacknowledged), -1 if unknown.
a1_count() { t_rabbitmq_messages "$A1_CTL" "$1"; }
