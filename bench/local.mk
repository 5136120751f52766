# bench/: throughput, latency and memory harness (bench/run; docs/performance.md). Not part of
# `make check`: the raw client tools below are the ceilings msgbridge is measured against.
EXTRA_DIST += %D%/run %D%/brokers.sh %D%/report.py %D%/charts.py %D%/bench_util.h %D%/metrics_wait.py

if HAVE_ADAPTER_KAFKA
noinst_PROGRAMS += bench/raw_kafka
bench_raw_kafka_SOURCES = %D%/raw_kafka.c %D%/bench_util.h
bench_raw_kafka_CFLAGS = $(AM_CFLAGS) $(KAFKA_CFLAGS)
bench_raw_kafka_LDADD = $(KAFKA_LIBS) $(PTHREAD_LIBS)
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

if HAVE_ADAPTER_STOMP
noinst_PROGRAMS += bench/raw_stomp
bench_raw_stomp_SOURCES = %D%/raw_stomp.c %D%/bench_util.h
endif

# The allocation-counting LD_PRELOAD shim (bench/alloccount.c): built only when bench/run asks
# for it (`make bench/alloccount.so`), so `make`, `make check` and sanitizer builds never link
# it, and never installed. Its own flags only: a preloaded object must not carry a sanitizer.
EXTRA_PROGRAMS += bench/alloccount.so
bench_alloccount_so_SOURCES = %D%/alloccount.c
bench_alloccount_so_CFLAGS = -O2 -fPIC -fvisibility=default
bench_alloccount_so_LDFLAGS = -shared -fPIC
bench_alloccount_so_LDADD =
CLEANFILES += bench/alloccount.so
