# Tests of the rabbitmq adapter: codec unit tests (no broker), a small AMQP 0-9-1 test client
# built on rabbitmq-c (independent of the adapter), and integration tests against the private
# node started by scripts/rabbitmq-node.sh (they skip when it is not running).
if HAVE_ADAPTER_RABBITMQ
check_PROGRAMS += tests/adapters/check_rabbitmq_client
tests_adapters_check_rabbitmq_client_SOURCES = %D%/adapters/check_rabbitmq_client.c
tests_adapters_check_rabbitmq_client_CFLAGS = $(AM_CFLAGS) $(RABBITMQ_CFLAGS)
tests_adapters_check_rabbitmq_client_LDADD = $(RABBITMQ_LIBS)

if HAVE_CHECK
check_PROGRAMS += tests/adapters/check_rabbitmq_codec
TESTS += tests/adapters/check_rabbitmq_codec
tests_adapters_check_rabbitmq_codec_SOURCES = %D%/adapters/check_rabbitmq_codec.c tests/check_main.c \
	%D%/unit/test_adapters.c
tests_adapters_check_rabbitmq_codec_CFLAGS = $(UNIT_CFLAGS) $(RABBITMQ_CFLAGS)
tests_adapters_check_rabbitmq_codec_LDADD = adapters/rabbitmq/libbrg_rabbitmq.a \
	$(UNIT_CORE_LDADD) $(RABBITMQ_LIBS)
check_PROGRAMS += tests/adapters/check_rabbitmq_dlx
TESTS += tests/adapters/check_rabbitmq_dlx
tests_adapters_check_rabbitmq_dlx_SOURCES = %D%/adapters/check_rabbitmq_dlx.c tests/check_main.c \
	%D%/unit/test_adapters.c
tests_adapters_check_rabbitmq_dlx_CFLAGS = $(UNIT_CFLAGS) $(RABBITMQ_CFLAGS)
tests_adapters_check_rabbitmq_dlx_LDADD = adapters/rabbitmq/libbrg_rabbitmq.a \
	$(UNIT_CORE_LDADD) $(RABBITMQ_LIBS)
endif
endif

RABBITMQ_INTEGRATION = \
	tests/integration/rabbitmq_to_rabbitmq.sh \
	tests/integration/rabbitmq_unroutable.sh \
	tests/integration/rabbitmq_bad_login.sh \
	tests/integration/rabbitmq_broker_kill.sh \
	tests/integration/rabbitmq_exchange_source.sh \
	tests/integration/rabbitmq_examples.sh \
	tests/integration/rabbitmq_tls.sh \
	tests/integration/rabbitmq_nack_retry.sh \
	tests/integration/rabbitmq_strict_mapping.sh \
	tests/integration/rabbitmq_on_reject.sh \
	tests/integration/rabbitmq_queue_deleted.sh \
	tests/integration/rabbitmq_stall.sh \
	tests/integration/rabbitmq_source_stall.sh \
	tests/integration/rabbitmq_access_refused.sh \
	tests/integration/rabbitmq_backlog_checks.sh
# With Kafka (the mock cluster of scripts/kafka-cluster.sh, checked with kcat).
RABBITMQ_KAFKA_INTEGRATION = \
	tests/integration/rabbitmq_to_kafka.sh \
	tests/integration/rabbitmq_from_kafka.sh \
	tests/integration/rabbitmq_kafka_round_trip.sh \
	tests/integration/rabbitmq_kafka_typed_headers.sh \
	tests/integration/fanout_park.sh \
	tests/integration/fanout_park_kafka.sh \
	tests/integration/fanout_park_restart.sh
EXTRA_DIST += $(RABBITMQ_INTEGRATION) $(RABBITMQ_KAFKA_INTEGRATION) \
	tests/integration/rabbitmq_lib.sh tests/integration/fanout_lib.sh tests/integration/freeze_proxy.py \
	scripts/rabbitmq-node.sh
if HAVE_ADAPTER_RABBITMQ
TESTS += $(RABBITMQ_INTEGRATION)
if HAVE_ADAPTER_KAFKA
TESTS += $(RABBITMQ_KAFKA_INTEGRATION)
endif
endif
