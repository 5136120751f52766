# libFuzzer targets (owned by the fuzz work; docs/fuzzing.md). They are built with clang by
# scripts/fuzz.sh, outside this build: every object a fuzzer links needs
# -fsanitize=fuzzer-no-link, which the normal and sanitizer builds do not use.
#   make fuzz       each target for 5 minutes (scripts/fuzz.sh 300)
#   make fuzz-short each target for 20 seconds, as CI does
.PHONY: fuzz fuzz-short
fuzz:
	FUZZ_BUILD_DIR=$(abs_top_builddir)/fuzz/build sh $(top_srcdir)/scripts/fuzz.sh 300
fuzz-short:
	FUZZ_BUILD_DIR=$(abs_top_builddir)/fuzz/build sh $(top_srcdir)/scripts/fuzz.sh 20

# Not hooked into `make clean` (clean-local belongs to no one file here); run it by hand.
clean-fuzz:
	rm -rf $(abs_top_builddir)/fuzz/build
.PHONY: clean-fuzz

EXTRA_DIST += scripts/fuzz.sh docs/fuzzing.md %D%/corpus %D%/dict %D%/findings %D%/lsan.supp \
	%D%/fuzz_conf.c %D%/fuzz_template.c %D%/fuzz_filter.c %D%/fuzz_json.c \
	%D%/fuzz_amqp1_codec.c %D%/fuzz_rmq_table.c %D%/gen_seeds.c %D%/fuzz_regex_guard.h

# The committed fuzz inputs of the core targets, replayed through the same calls with the
# normal compiler (and under ASan/UBSan in the sanitizer build): a crash found once stays fixed.
if HAVE_CHECK
check_PROGRAMS += tests/unit/check_fuzz_regressions
TESTS += tests/unit/check_fuzz_regressions
tests_unit_check_fuzz_regressions_SOURCES = tests/unit/check_fuzz_regressions.c tests/check_main.c \
	tests/unit/test_adapters.c %D%/fuzz_envelope.c %D%/fuzz_envelope.h
tests_unit_check_fuzz_regressions_CFLAGS = $(UNIT_CFLAGS) \
	-DFUZZ_CORPUS_DIR='"$(abs_top_srcdir)/fuzz/corpus"'
tests_unit_check_fuzz_regressions_LDADD = $(UNIT_CORE_LDADD)
endif
