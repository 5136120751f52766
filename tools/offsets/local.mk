# `msgbridge offsets`: a Kafka -> Kafka route's translation of a consumer group's position,
# linked into the msgbridge program when the Kafka adapter is (bridge/main.c dispatches to it).
# Outside bridge/: it uses librdkafka, which the core's layering rule keeps out of bridge/.
if HAVE_ADAPTER_KAFKA
msgbridge_SOURCES += %D%/offsets.c %D%/offsets.h
msgbridge_CFLAGS += $(KAFKA_CFLAGS)
endif
