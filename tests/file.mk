# Tests of the file/stdio adapters and the JSON envelope codec.
if HAVE_ADAPTER_FILE
if HAVE_CHECK
check_PROGRAMS += tests/unit/check_json
TESTS += tests/unit/check_json
tests_unit_check_json_SOURCES = %D%/unit/check_json.c tests/check_main.c
tests_unit_check_json_CFLAGS = $(UNIT_CFLAGS) $(FILE_CFLAGS)
tests_unit_check_json_LDADD = adapters/file/libbrg_file.a $(UNIT_LDADD) $(FILE_LIBS) -lm

# The adapters in a running engine, against memory endpoints (own adapter table, no network).
check_PROGRAMS += tests/adapters/check_file
TESTS += tests/adapters/check_file
tests_adapters_check_file_SOURCES = %D%/adapters/check_file.c tests/check_main.c
tests_adapters_check_file_CFLAGS = $(UNIT_CFLAGS) $(FILE_CFLAGS)
tests_adapters_check_file_LDADD = adapters/file/libbrg_file.a adapters/memory/libbrg_memory.a \
	$(UNIT_LDADD) $(FILE_LIBS)
endif
endif

# Process tests: msgbridge run with stdio/file endpoints (no broker needed).
FILE_INTEGRATION_TESTS = tests/integration/file_stdio_json.sh tests/integration/file_lines.sh \
	tests/integration/file_json_data.sh
if HAVE_ADAPTER_FILE
TESTS += $(FILE_INTEGRATION_TESTS)
endif
EXTRA_DIST += $(FILE_INTEGRATION_TESTS)
