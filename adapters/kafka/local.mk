# The Kafka adapter (librdkafka).
if HAVE_ADAPTER_KAFKA
noinst_LIBRARIES += adapters/kafka/libbrg_kafka.a
adapters_kafka_libbrg_kafka_a_SOURCES = \
	%D%/kafka.c %D%/kafka.h \
	%D%/kafka_conf.c \
	%D%/kafka_source.c \
	%D%/kafka_sink.c \
	%D%/kafka_codec.c %D%/kafka_codec.h \
	%D%/kafka_types.c %D%/kafka_types.h \
	%D%/kafka_offsets.c %D%/kafka_offsets.h \
	%D%/kafka_offset_sync.c %D%/kafka_offset_sync.h \
	%D%/kafka_topics.c %D%/kafka_topics.h \
	%D%/kafka_group_sync.c %D%/kafka_group_sync.h \
	%D%/kafka_gap.c %D%/kafka_gap.h
adapters_kafka_libbrg_kafka_a_CFLAGS = $(AM_CFLAGS) $(KAFKA_CFLAGS)
ADAPTER_LIBS += adapters/kafka/libbrg_kafka.a
ADAPTER_LDADD += $(KAFKA_LIBS)
endif
