/* The adapter table for unit tests: the in-process memory adapter, and "compiled", an adapter
 * that only has settings (tests/unit/test_adapters.h). */
#include <stdlib.h>
#include <string.h>

#include "adapters/memory/memory.h"
#include "bridge/registry.h"
#include "tests/unit/test_adapters.h"

test_settings_counts_t test_settings_counts;

static const brg_conf_key_t compiled_endpoint_keys[] = {
    {.name = "port", .type = BRG_KEY_STRING, .help = "a port number, compiled at load"},
    {.name = NULL},
};
static const brg_conf_key_t no_keys[] = {{.name = NULL}};

static void compiled_free(void *settings)
{
    test_settings_counts.freed++;
    free(settings);
}

static void *compiled_compile(const brg_conf_node_t *ep_cs, brg_diag_t *d)
{
    test_settings_counts.compiled++;
    const brg_conf_node_t *p = brg_conf_get(ep_cs, "port");
    const char *text = p ? p->v.s : "0";
    char *end;
    long v = strtol(text, &end, 10);
    if (*end != '\0' || v < 0 || v > 65535) {
        brg_diag_error(d, p ? p : ep_cs, "not a port number: \"%s\"", text);
        return NULL;
    }
    test_settings_t *s = malloc(sizeof(*s));
    s->port = (int)v;
    return s;
}

const brg_adapter_t test_compiled_adapter = {
    .name = "compiled",
    .description = "unit tests: settings compiled at load",
    .caps = BRG_CAP_SINK,
    .endpoint_keys = compiled_endpoint_keys,
    .source_keys = no_keys,
    .sink_keys = no_keys,
    .compile_endpoint = compiled_compile,
    .free_settings = compiled_free,
};

const brg_adapter_t *brg_adapters[] = {&brg_memory_adapter, &test_compiled_adapter, NULL};
