if HAVE_ADAPTER_AMQP1
noinst_LIBRARIES += adapters/amqp1/libbrg_amqp1.a
adapters_amqp1_libbrg_amqp1_a_SOURCES = \
	%D%/amqp1.c \
	%D%/amqp1_int.h \
	%D%/amqp1_conn.c \
	%D%/amqp1_source.c \
	%D%/amqp1_sink.c \
	%D%/amqp1_codec.c %D%/amqp1_codec.h \
	%D%/amqp1_address.c %D%/amqp1_address.h
adapters_amqp1_libbrg_amqp1_a_CFLAGS = $(AM_CFLAGS) $(AMQP1_CFLAGS)
ADAPTER_LIBS += adapters/amqp1/libbrg_amqp1.a
ADAPTER_LDADD += $(AMQP1_LIBS)
endif
