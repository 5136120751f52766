#!/bin/sh
# The stall watchdog with an AMQP 1.0 sink: rabbitmq_stall.sh with the frozen connection held by
# the amqp1 adapter (to RabbitMQ's AMQP 1.0 listener).
STALL_SINK=amqp1
. "$(dirname "$0")/rabbitmq_stall.sh"
