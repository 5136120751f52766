# The file and stdio adapters (NDJSON envelopes or raw lines) and the JSON envelope codec.
if HAVE_ADAPTER_FILE
noinst_LIBRARIES += adapters/file/libbrg_file.a
adapters_file_libbrg_file_a_SOURCES = \
	%D%/base64.c %D%/base64.h \
	%D%/json_codec.c %D%/json_codec.h \
	%D%/file.c %D%/file.h \
	%D%/file_source.c \
	%D%/file_sink.c
adapters_file_libbrg_file_a_CFLAGS = $(AM_CFLAGS) $(FILE_CFLAGS)
ADAPTER_LIBS += adapters/file/libbrg_file.a
ADAPTER_LDADD += $(FILE_LIBS)
endif
