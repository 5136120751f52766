if HAVE_ADAPTER_FILE
# (filled in by the file/stdio adapter)
endif
