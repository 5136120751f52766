/* The adapter registry: bridge/adapters.c defines the table, the core looks names up in it.
 * Adapters known to msgbridge but possibly not built in are listed too, so that a config
 * naming one can say how to enable it. */
#ifndef BRG_REGISTRY_H
#define BRG_REGISTRY_H

#include "bridge/adapter.h"

/* NULL-terminated; defined in bridge/adapters.c (or by a test's own table). It is the one
 * reference from the core up to the top layer, resolved by the linker (like nginx's
 * ngx_modules[]): tests/check_layering.sh allows exactly this symbol. */
extern const brg_adapter_t *brg_adapters[];

/* Returns: the adapter called name, or NULL. */
const brg_adapter_t *brg_adapter_find(const char *name);
/* Returns: the configure option that builds a known-but-absent adapter ("--enable-kafka"),
 * or NULL if name is not a known adapter at all. */
const char *brg_adapter_enable_hint(const char *name);

#endif
