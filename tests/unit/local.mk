# Check unit tests of the core: one binary per area, linked with the memory adapter only.
if HAVE_CHECK
UNIT_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
UNIT_LDADD = $(CORE_LDADD) $(CHECK_LIBS)
# The adapter table for core tests (memory only), then the memory adapter, then the core.
# Each core test also compiles test_adapters.c: the adapter table (memory, and a settings-only adapter).
UNIT_CORE_LDADD = adapters/memory/libbrg_memory.a $(UNIT_LDADD)

UNIT_TESTS = tests/unit/check_envelope tests/unit/check_template tests/unit/check_route \
	tests/unit/check_conf tests/unit/check_mapping tests/unit/check_watchdog \
	tests/unit/check_inbox tests/unit/check_delivery tests/unit/check_buf tests/unit/check_utf8 \
	tests/unit/check_envpool tests/unit/check_counts tests/unit/check_reload_plan
check_PROGRAMS += $(UNIT_TESTS)
TESTS += $(UNIT_TESTS)

# The bottom layer links only the core library (no adapter table: nothing above it is used).
tests_unit_check_buf_SOURCES = %D%/check_buf.c tests/check_main.c tests/check_main.h
tests_unit_check_buf_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_buf_LDADD = $(UNIT_LDADD)
tests_unit_check_utf8_SOURCES = %D%/check_utf8.c tests/check_main.c
tests_unit_check_utf8_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_utf8_LDADD = $(UNIT_LDADD)
tests_unit_check_envelope_SOURCES = %D%/check_envelope.c tests/check_main.c %D%/test_adapters.c
tests_unit_check_envelope_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_envelope_LDADD = $(UNIT_CORE_LDADD)
tests_unit_check_envpool_SOURCES = %D%/check_envpool.c tests/check_main.c %D%/test_adapters.c
tests_unit_check_envpool_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_envpool_LDADD = $(UNIT_CORE_LDADD)
tests_unit_check_counts_SOURCES = %D%/check_counts.c tests/check_main.c %D%/test_adapters.c
tests_unit_check_counts_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_counts_LDADD = $(UNIT_CORE_LDADD)
tests_unit_check_template_SOURCES = %D%/check_template.c tests/check_main.c %D%/test_adapters.c
tests_unit_check_template_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_template_LDADD = $(UNIT_CORE_LDADD)
tests_unit_check_route_SOURCES = %D%/check_route.c tests/check_main.c %D%/test_adapters.c
tests_unit_check_route_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_route_LDADD = $(UNIT_CORE_LDADD)
tests_unit_check_mapping_SOURCES = %D%/check_mapping.c tests/check_main.c %D%/test_adapters.c %D%/test_conf_node.c
tests_unit_check_mapping_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_mapping_LDADD = $(UNIT_CORE_LDADD)
tests_unit_check_watchdog_SOURCES = %D%/check_watchdog.c tests/check_main.c %D%/test_adapters.c
tests_unit_check_watchdog_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_watchdog_LDADD = $(UNIT_CORE_LDADD)
tests_unit_check_inbox_SOURCES = %D%/check_inbox.c tests/check_main.c %D%/test_adapters.c
tests_unit_check_inbox_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_inbox_LDADD = $(UNIT_CORE_LDADD)
tests_unit_check_delivery_SOURCES = %D%/check_delivery.c tests/check_main.c %D%/test_adapters.c
tests_unit_check_delivery_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_delivery_LDADD = $(UNIT_CORE_LDADD)
tests_unit_check_reload_plan_SOURCES = %D%/check_reload_plan.c tests/check_main.c %D%/test_adapters.c
tests_unit_check_reload_plan_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_reload_plan_LDADD = $(UNIT_CORE_LDADD)
tests_unit_check_conf_SOURCES = %D%/check_conf.c tests/check_main.c %D%/test_adapters.c %D%/test_adapters.h
tests_unit_check_conf_CFLAGS = $(UNIT_CFLAGS) -DCONF_DATA_DIR='"$(abs_top_srcdir)/tests/data/conf"'
tests_unit_check_conf_LDADD = $(UNIT_CORE_LDADD)
endif
