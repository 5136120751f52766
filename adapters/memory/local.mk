noinst_LIBRARIES += adapters/memory/libbrg_memory.a
adapters_memory_libbrg_memory_a_SOURCES = %D%/memory.c %D%/memory.h
ADAPTER_LIBS += adapters/memory/libbrg_memory.a
