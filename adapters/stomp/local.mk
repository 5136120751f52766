if HAVE_ADAPTER_STOMP
noinst_LIBRARIES += adapters/stomp/libbrg_stomp.a
adapters_stomp_libbrg_stomp_a_SOURCES = \
	%D%/stomp.c %D%/stomp_int.h \
	%D%/stomp_conn.c \
	%D%/stomp_io.c \
	%D%/stomp_source.c \
	%D%/stomp_sink.c \
	%D%/stomp_codec.c %D%/stomp_codec.h \
	%D%/stomp_frame.c %D%/stomp_frame.h
# The x-msgbridge-types hint (adapters/kafka/kafka_types.c) and base64 (adapters/file) are
# shared with the kafka and file adapters: compiled here only when those are not built, so that
# the program links each once.
if !HAVE_ADAPTER_KAFKA
adapters_stomp_libbrg_stomp_a_SOURCES += adapters/kafka/kafka_types.c adapters/kafka/kafka_types.h
endif
if !HAVE_ADAPTER_FILE
adapters_stomp_libbrg_stomp_a_SOURCES += adapters/file/base64.c adapters/file/base64.h
endif
ADAPTER_LIBS += adapters/stomp/libbrg_stomp.a
# stomp+ssl:// (stomp_io.c); both empty when OpenSSL is missing.
adapters_stomp_libbrg_stomp_a_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
ADAPTER_LDADD += $(OPENSSL_LIBS)
endif
