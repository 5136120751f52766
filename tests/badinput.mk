# Bad input (issue 8 item 4): configuration files that are wrong in every way a user can get
# them wrong, and messages that push every mapping to its edge, through the real msgbridge
# binary and real brokers. Each case is listed in docs/bad-input.md with what msgbridge does.
# (The static bad configurations are tests/data/conf/bad/*.conf, checked by tests/unit/check_conf.)
BADINPUT_CONF = \
	tests/integration/badinput_conf.sh \
	tests/integration/badinput_conf_slow.sh \
	tests/integration/badinput_include_dir.sh \
	tests/integration/badinput_conf_unclear.sh
EXTRA_DIST += $(BADINPUT_CONF) tests/integration/badinput_lib.sh
TESTS += $(BADINPUT_CONF)

# Message-level cases need Kafka and RabbitMQ (AMQP 0-9-1 and 1.0); the client writes and reads
# them with librdkafka and rabbitmq-c directly, independent of the adapters.
BADINPUT_MSG = \
	tests/integration/badinput_kafka_edges.sh \
	tests/integration/badinput_rabbitmq_edges.sh \
	tests/integration/badinput_amqp1_types.sh \
	tests/integration/badinput_kafka_shared_stop.sh \
	tests/integration/badinput_amqp1_names.sh \
	tests/integration/badinput_rabbitmq_empty_body.sh \
	tests/integration/badinput_rabbitmq_deep.sh
EXTRA_DIST += $(BADINPUT_MSG) tests/integration/badinput_client.c
if HAVE_ADAPTER_KAFKA
if HAVE_ADAPTER_RABBITMQ
check_PROGRAMS += tests/integration/badinput_client
tests_integration_badinput_client_SOURCES = %D%/integration/badinput_client.c
tests_integration_badinput_client_CFLAGS = $(AM_CFLAGS) $(KAFKA_CFLAGS) $(RABBITMQ_CFLAGS)
tests_integration_badinput_client_LDADD = $(KAFKA_LIBS) $(RABBITMQ_LIBS)
# The message cases also use AMQP 1.0 and JSON files (dead letters, the JSON view).
if HAVE_ADAPTER_AMQP1
if HAVE_ADAPTER_FILE
TESTS += $(BADINPUT_MSG)
endif
endif
endif
endif
