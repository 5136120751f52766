# tests of the amqp1 adapter (owned by that adapter's work)
if HAVE_ADAPTER_AMQP1
if HAVE_CHECK
check_PROGRAMS += tests/adapters/check_amqp1
TESTS += tests/adapters/check_amqp1
tests_adapters_check_amqp1_SOURCES = tests/adapters/check_amqp1.c
tests_adapters_check_amqp1_CFLAGS = $(UNIT_CFLAGS) $(AMQP1_CFLAGS)
tests_adapters_check_amqp1_LDADD = adapters/amqp1/libbrg_amqp1.a $(UNIT_LDADD) $(AMQP1_LIBS)
endif
endif
