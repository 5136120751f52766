# Tests: Check unit tests per area, adapter tests, integration tests against real brokers.
# Integration tests are shell scripts that exit 77 (skip) when their broker is not running;
# scripts/test.sh starts the brokers so that CI runs them all.
AM_TESTS_ENVIRONMENT = \
	top_srcdir='$(abs_top_srcdir)'; export top_srcdir; \
	top_builddir='$(abs_top_builddir)'; export top_builddir; \
	MSGBRIDGE='$(abs_top_builddir)/msgbridge'; export MSGBRIDGE;
EXTRA_DIST += tests/testlib.sh tests/integration/lib.sh tests/data tests/check_layering.sh tests/lane.sh
CORE_INTEGRATION = tests/integration/core_operations.sh tests/integration/core_valgrind.sh \
	tests/integration/core_logs.sh tests/integration/core_install.sh \
	tests/integration/audit_file.sh
TESTS += tests/check_layering.sh $(CORE_INTEGRATION)
EXTRA_DIST += $(CORE_INTEGRATION)

# Tests that need more than one broker adapter (run by the lead's core suite).
CROSS_INTEGRATION = tests/integration/active_active.sh tests/integration/reload_under_load.sh \
	tests/integration/reload_in_place.sh \
	tests/integration/kafka_rabbitmq_round_trip.sh tests/integration/loops_echo.sh
EXTRA_DIST += $(CROSS_INTEGRATION) $(CROSS_AMQP1_INTEGRATION)
# ... and the AMQP 1.0 adapter.
CROSS_AMQP1_INTEGRATION = tests/integration/kafka_amqp1_round_trip.sh \
	tests/integration/rabbitmq_amqp1_round_trip.sh tests/integration/valgrind_routes.sh \
	tests/integration/loops_chains.sh
if HAVE_ADAPTER_KAFKA
if HAVE_ADAPTER_RABBITMQ
TESTS += $(CROSS_INTEGRATION)
if HAVE_ADAPTER_AMQP1
TESTS += $(CROSS_AMQP1_INTEGRATION)
endif
endif
endif

include %D%/unit/local.mk
include %D%/file.mk
include %D%/kafka.mk
include %D%/rabbitmq.mk
include %D%/amqp1.mk
include %D%/stomp.mk
include %D%/badinput.mk
include %D%/faults.mk
include %D%/kit.mk
