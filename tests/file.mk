# Tests of the file/stdio adapters and the JSON envelope codec.
if HAVE_ADAPTER_FILE
if HAVE_CHECK
check_PROGRAMS += tests/unit/check_json
TESTS += tests/unit/check_json
tests_unit_check_json_SOURCES = %D%/unit/check_json.c
tests_unit_check_json_CFLAGS = $(UNIT_CFLAGS) $(FILE_CFLAGS)
tests_unit_check_json_LDADD = adapters/file/libbrg_file.a $(UNIT_LDADD) $(FILE_LIBS) -lm
endif
endif
