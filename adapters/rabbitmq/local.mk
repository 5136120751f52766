if HAVE_ADAPTER_RABBITMQ
noinst_LIBRARIES += adapters/rabbitmq/libbrg_rabbitmq.a
adapters_rabbitmq_libbrg_rabbitmq_a_SOURCES = \
	%D%/rabbitmq.c %D%/rmq.h \
	%D%/rmq_conn.c \
	%D%/rmq_source.c \
	%D%/rmq_sink.c \
	%D%/rmq_codec.c %D%/rmq_codec.h \
	%D%/rmq_dlx.c %D%/rmq_dlx.h \
	%D%/rmq_backlog.c
adapters_rabbitmq_libbrg_rabbitmq_a_CFLAGS = $(AM_CFLAGS) $(RABBITMQ_CFLAGS)
ADAPTER_LIBS += adapters/rabbitmq/libbrg_rabbitmq.a
ADAPTER_LDADD += $(RABBITMQ_LIBS)
endif
