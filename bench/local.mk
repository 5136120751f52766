# bench/: throughput, latency and memory harness (bench/run; docs/performance.md). Not part of
# `make check`: the raw client tools below are the ceilings msgbridge is measured against.
EXTRA_DIST += %D%/run %D%/brokers.sh %D%/report.py %D%/bench_util.h

if HAVE_ADAPTER_KAFKA
noinst_PROGRAMS += bench/raw_kafka
bench_raw_kafka_SOURCES = %D%/raw_kafka.c %D%/bench_util.h
bench_raw_kafka_CFLAGS = $(AM_CFLAGS) $(KAFKA_CFLAGS)
bench_raw_kafka_LDADD = $(KAFKA_LIBS)
endif

if HAVE_ADAPTER_RABBITMQ
noinst_PROGRAMS += bench/raw_rabbitmq
bench_raw_rabbitmq_SOURCES = %D%/raw_rabbitmq.c %D%/bench_util.h
bench_raw_rabbitmq_CFLAGS = $(AM_CFLAGS) $(RABBITMQ_CFLAGS)
bench_raw_rabbitmq_LDADD = $(RABBITMQ_LIBS)
endif

if HAVE_ADAPTER_AMQP1
noinst_PROGRAMS += bench/raw_amqp1
bench_raw_amqp1_SOURCES = %D%/raw_amqp1.c %D%/bench_util.h
bench_raw_amqp1_CFLAGS = $(AM_CFLAGS) $(AMQP1_CFLAGS)
bench_raw_amqp1_LDADD = $(AMQP1_LIBS)
endif
