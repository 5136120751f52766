/* The static table of adapters built into this binary (nginx-style module list).
 * An adapter is in the table only if configure found its library (HAVE_ADAPTER_X). */
#include "config.h"

#include <stddef.h>

#include "bridge/err.h"

#include "bridge/registry.h"

/* BOOTSTRAP: while the adapters are being written in parallel, a configured-in adapter whose
 * library is not there yet links as a weak NULL reference and is skipped by
 * brg_adapters_init(). To be made strong once every adapter exists. */
#define BRG_WEAK __attribute__((weak))

extern const brg_adapter_t brg_memory_adapter;
#ifdef HAVE_ADAPTER_FILE
extern const brg_adapter_t brg_file_adapter BRG_WEAK;
extern const brg_adapter_t brg_stdio_adapter BRG_WEAK;
#endif
#ifdef HAVE_ADAPTER_KAFKA
extern const brg_adapter_t brg_kafka_adapter BRG_WEAK;
#endif
#ifdef HAVE_ADAPTER_RABBITMQ
extern const brg_adapter_t brg_rabbitmq_adapter BRG_WEAK;
#endif
#ifdef HAVE_ADAPTER_AMQP1
extern const brg_adapter_t brg_amqp1_adapter; /* amqp1 exists: strong */
#endif

const brg_adapter_t *brg_adapters[] = {
    &brg_memory_adapter,
#ifdef HAVE_ADAPTER_FILE
    &brg_file_adapter,
    &brg_stdio_adapter,
#endif
#ifdef HAVE_ADAPTER_KAFKA
    &brg_kafka_adapter,
#endif
#ifdef HAVE_ADAPTER_RABBITMQ
    &brg_rabbitmq_adapter,
#endif
#ifdef HAVE_ADAPTER_AMQP1
    &brg_amqp1_adapter,
#endif
    NULL,
};

void brg_adapters_init(void)
{
    size_t w = 0;
    for (size_t i = 0; i + 1 < BRG_ARRAY_SIZE(brg_adapters); i++) {
        if (brg_adapters[i]) {
            brg_adapters[w++] = brg_adapters[i];
        }
    }
    brg_adapters[w] = NULL;
}
