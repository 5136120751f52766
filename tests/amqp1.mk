# tests of the amqp1 adapter (owned by that adapter's work)
if HAVE_ADAPTER_AMQP1
if HAVE_CHECK
check_PROGRAMS += tests/adapters/check_amqp1
TESTS += tests/adapters/check_amqp1
tests_adapters_check_amqp1_SOURCES = tests/adapters/check_amqp1.c tests/check_main.c
tests_adapters_check_amqp1_CFLAGS = $(UNIT_CFLAGS) $(AMQP1_CFLAGS)
tests_adapters_check_amqp1_LDADD = adapters/amqp1/libbrg_amqp1.a $(UNIT_LDADD) $(AMQP1_LIBS)
endif
# Integration tests against RabbitMQ's AMQP 1.0 plugin (skip when the node is not running).
AMQP1_INTEGRATION = \
	tests/integration/amqp1_to_amqp1.sh \
	tests/integration/amqp1_bad_login.sh \
	tests/integration/amqp1_tls.sh \
	tests/integration/amqp1_broker_kill.sh \
	tests/integration/amqp1_kafka_round_trip.sh \
	tests/integration/amqp1_queue_deleted.sh \
	tests/integration/amqp1_stall.sh \
	tests/integration/amqp1_sink_parks.sh \
	tests/integration/amqp1_jms_view.sh
TESTS += $(AMQP1_INTEGRATION)
endif
EXTRA_DIST += \
	tests/integration/amqp1_jms_view.sh \
	tests/integration/amqp1_lib.sh \
	tests/integration/amqp1_client.py \
	tests/integration/amqp1_to_amqp1.sh \
	tests/integration/amqp1_bad_login.sh \
	tests/integration/amqp1_tls.sh \
	tests/integration/amqp1_broker_kill.sh \
	tests/integration/amqp1_kafka_round_trip.sh \
	tests/integration/amqp1_queue_deleted.sh \
	tests/integration/amqp1_stall.sh \
	tests/integration/amqp1_sink_parks.sh
