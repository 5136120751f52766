#!/bin/sh
# Kafka -> ActiveMQ (STOMP) -> Kafka: the same checks as kafka_rabbitmq_round_trip.sh through a
# queue of Debian's ActiveMQ (keys, empty vs absent key, headers with a repeated name, null and
# empty values, millisecond timestamps, values).
RT_VIA=stomp exec sh "$(dirname "$0")/kafka_rabbitmq_round_trip.sh"
