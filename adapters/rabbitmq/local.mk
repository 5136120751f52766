if HAVE_ADAPTER_RABBITMQ
# (filled in by the rabbitmq adapter)
endif
