# Tests of the stomp adapter: Check unit tests of the frame parser/encoder and codec (no
# network), and integration tests against Debian's ActiveMQ Classic (scripts/activemq-node.sh,
# which scripts/brokers.sh starts when the activemq package is installed).
if HAVE_ADAPTER_STOMP
if HAVE_CHECK
check_PROGRAMS += tests/adapters/check_stomp
TESTS += tests/adapters/check_stomp
tests_adapters_check_stomp_SOURCES = tests/adapters/check_stomp.c tests/check_main.c
tests_adapters_check_stomp_CFLAGS = $(UNIT_CFLAGS)
# kafka_types and base64 come from those adapters' libraries when they are built.
tests_adapters_check_stomp_LDADD = adapters/stomp/libbrg_stomp.a
if HAVE_ADAPTER_FILE
tests_adapters_check_stomp_LDADD += adapters/file/libbrg_file.a
endif
if HAVE_ADAPTER_KAFKA
tests_adapters_check_stomp_LDADD += adapters/kafka/libbrg_kafka.a
endif
tests_adapters_check_stomp_LDADD += $(UNIT_LDADD) $(OPENSSL_LIBS)
endif
endif

STOMP_INTEGRATION = \
	tests/integration/stomp_jms_view.sh \
	tests/integration/stomp_kafka_round_trip.sh \
	tests/integration/stomp_faults.sh \
	tests/integration/stomp_stall.sh
# With RabbitMQ too.
STOMP_RABBITMQ_INTEGRATION = \
	tests/integration/kafka_stomp_round_trip.sh \
	tests/integration/rabbitmq_stomp_round_trip.sh \
	tests/integration/stop_frozen_brokers.sh
# With RabbitMQ's AMQP 1.0 plugin and the file adapter.
STOMP_AMQP1_INTEGRATION = tests/integration/templated_destinations.sh
STOMP_ONLY_INTEGRATION = \
	tests/integration/stomp_tls.sh \
	tests/integration/stomp_durable_topic.sh \
	tests/integration/stomp_poison.sh
EXTRA_DIST += tests/integration/stomp_lib.sh tests/integration/stomp_client.py \
	tests/integration/JmsDump.java \
	scripts/activemq-node.sh $(STOMP_INTEGRATION) $(STOMP_ONLY_INTEGRATION) \
	$(STOMP_RABBITMQ_INTEGRATION) $(STOMP_AMQP1_INTEGRATION)
if HAVE_ADAPTER_STOMP
if HAVE_ADAPTER_FILE
TESTS += $(STOMP_ONLY_INTEGRATION)
if HAVE_ADAPTER_AMQP1
TESTS += $(STOMP_AMQP1_INTEGRATION)
endif
endif
if HAVE_ADAPTER_KAFKA
TESTS += $(STOMP_INTEGRATION)
if HAVE_ADAPTER_RABBITMQ
TESTS += $(STOMP_RABBITMQ_INTEGRATION)
endif
endif
endif
