if HAVE_ADAPTER_KAFKA
# (filled in by the kafka adapter)
endif
