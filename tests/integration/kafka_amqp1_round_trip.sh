#!/bin/sh
# Kafka -> AMQP 1.0 -> Kafka: the same checks as kafka_rabbitmq_round_trip.sh through an AMQP 1.0
# queue (keys, empty vs absent key, headers with a repeated name, null and empty values,
# millisecond timestamps, values).
RT_VIA=amqp1 exec sh "$(dirname "$0")/kafka_rabbitmq_round_trip.sh"
