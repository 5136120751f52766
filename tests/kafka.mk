# Tests of the kafka adapter, and the Kafka test cluster they run against.
#
# tools/kafka-mock/kafka-mock-cluster: N mock brokers (librdkafka's rdkafka_mock.h) on fixed
# loopback ports; scripts/kafka-cluster.sh starts and stops it and writes kafka.env.
# Integration tests use it through the real msgbridge binary and check with kcat.
if HAVE_ADAPTER_KAFKA
noinst_PROGRAMS += tools/kafka-mock/kafka-mock-cluster
tools_kafka_mock_kafka_mock_cluster_SOURCES = tools/kafka-mock/kafka-mock-cluster.c
tools_kafka_mock_kafka_mock_cluster_CFLAGS = $(AM_CFLAGS) $(KAFKA_CFLAGS)
tools_kafka_mock_kafka_mock_cluster_LDADD = $(KAFKA_LIBS) -ldl

# A producer on librdkafka alone (not the adapter) that writes numbered records with keys,
# headers and timestamps for the integration tests.
check_PROGRAMS += tests/adapters/kafka_test_producer
tests_adapters_kafka_test_producer_SOURCES = %D%/adapters/kafka_test_producer.c
tests_adapters_kafka_test_producer_CFLAGS = $(AM_CFLAGS) $(KAFKA_CFLAGS)
tests_adapters_kafka_test_producer_LDADD = $(KAFKA_LIBS)
check_PROGRAMS += tests/adapters/kafka_test_commit
tests_adapters_kafka_test_commit_SOURCES = %D%/adapters/kafka_test_commit.c
tests_adapters_kafka_test_commit_CFLAGS = $(AM_CFLAGS) $(KAFKA_CFLAGS)
tests_adapters_kafka_test_commit_LDADD = $(KAFKA_LIBS)

if HAVE_CHECK
check_PROGRAMS += tests/adapters/check_kafka
TESTS += tests/adapters/check_kafka
tests_adapters_check_kafka_SOURCES = %D%/adapters/check_kafka.c tests/check_main.c %D%/adapters/check_kafka_types.c \
	%D%/adapters/check_kafka_offset_sync.c %D%/adapters/check_kafka_topics.c \
	%D%/adapters/check_kafka_group_sync.c \
	%D%/unit/test_adapters.c
tests_adapters_check_kafka_CFLAGS = $(UNIT_CFLAGS) $(KAFKA_CFLAGS)
tests_adapters_check_kafka_LDADD = adapters/kafka/libbrg_kafka.a $(UNIT_CORE_LDADD) $(KAFKA_LIBS)
endif
endif

KAFKA_INTEGRATION = \
	tests/integration/kafka_to_kafka.sh \
	tests/integration/kafka_offset_syncs.sh \
	tests/integration/kafka_dest_topics.sh \
	tests/integration/kafka_group_sync.sh \
	tests/integration/kafka_restart.sh \
	tests/integration/kafka_broker_faults.sh \
	tests/integration/kafka_dead_letter.sh \
	tests/integration/kafka_config.sh \
	tests/integration/kafka_group_failover.sh \
	tests/integration/kafka_to_stdio.sh \
	tests/integration/kafka_retry_rewind.sh \
	tests/integration/kafka_sink_parks.sh \
	tests/integration/kafka_consumer_lag.sh \
	tests/integration/kafka_memory_bound.sh \
	tests/integration/kafka_scale_join_leave.sh \
	tests/integration/kafka_source_gap.sh \
	tests/integration/kafka_stop_unreachable.sh
# With RabbitMQ (and its AMQP 1.0 plugin): the node of scripts/rabbitmq-node.sh.
KAFKA_RABBITMQ_INTEGRATION = \
	tests/integration/kafka_typed_headers.sh \
	tests/integration/kafka_stall.sh \
	tests/integration/kafka_scale_out.sh
EXTRA_DIST += $(KAFKA_INTEGRATION) $(KAFKA_RABBITMQ_INTEGRATION) tests/integration/kafka_lib.sh \
	tests/integration/kafka_group_lib.sh scripts/kafka-cluster.sh
if HAVE_ADAPTER_KAFKA
TESTS += $(KAFKA_INTEGRATION)
if HAVE_ADAPTER_RABBITMQ
if HAVE_ADAPTER_AMQP1
TESTS += $(KAFKA_RABBITMQ_INTEGRATION)
endif
endif
endif
