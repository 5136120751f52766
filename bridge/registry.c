/* The adapter registry: look an adapter up by name in the table the binary links in
 * (bridge/adapters.c in msgbridge, a smaller table in tests). See registry.h. */
#include "bridge/registry.h"

#include <string.h>

const brg_adapter_t *brg_adapter_find(const char *name)
{
    for (size_t i = 0; brg_adapters[i]; i++) {
        if (strcmp(brg_adapters[i]->name, name) == 0) {
            return brg_adapters[i];
        }
    }
    return NULL;
}

const char *brg_adapter_enable_hint(const char *name)
{
    static const struct {
        const char *name, *hint;
    } known[] = {
        {"kafka", "--enable-kafka (needs librdkafka-dev)"},
        {"rabbitmq", "--enable-rabbitmq (needs librabbitmq-dev)"},
        {"amqp1", "--enable-amqp1 (needs libqpid-proton11-dev)"},
        {"stomp", "--enable-stomp (needs nothing)"},
        {"file", "--enable-file (needs libjansson-dev)"},
        {"stdio", "--enable-file (needs libjansson-dev)"},
    };
    for (size_t i = 0; i < BRG_ARRAY_SIZE(known); i++) {
        if (strcmp(known[i].name, name) == 0) {
            return known[i].hint;
        }
    }
    return NULL;
}
