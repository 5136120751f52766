if HAVE_ADAPTER_AMQP1
# (filled in by the amqp1 adapter)
endif
