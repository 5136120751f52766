# Sourced by the `make check` fault tests (node_start.sh, node_stop.sh, ci.sh): the private
# RabbitMQ node they share (faultsci@localhost on 45702), Kafka mock clusters from 26500, and
# the state folder. Never the shared test brokers.
: "${FAULTS_RABBITMQ_NAME:=faultsci}"
: "${FAULTS_RABBITMQ_PORT:=45702}"
: "${FAULTS_KAFKA_PORT:=26500}"
: "${FAULTS_STATE_DIR:=/tmp/msgbridge-faults}"
export FAULTS_RABBITMQ_NAME FAULTS_RABBITMQ_PORT FAULTS_KAFKA_PORT FAULTS_STATE_DIR
