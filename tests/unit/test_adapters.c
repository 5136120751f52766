/* The adapter table for unit tests: only the in-process memory adapter. */
#include <stddef.h>

#include "adapters/memory/memory.h"
#include "bridge/registry.h"

const brg_adapter_t *brg_adapters[] = {&brg_memory_adapter, NULL};
