/* The static table of adapters built into this binary (nginx-style module list).
 * BRG_LINK_<name> is defined by bridge/local.mk exactly when the adapter's library is linked
 * (configure found its client library: --enable-<name>). */
#include "config.h"

#include <stddef.h>

#include "bridge/registry.h"

extern const brg_adapter_t brg_memory_adapter;
#ifdef BRG_LINK_audit
extern const brg_adapter_t brg_audit_adapter;
#endif
#ifdef BRG_LINK_file
extern const brg_adapter_t brg_file_adapter;
extern const brg_adapter_t brg_stdio_adapter;
#endif
#ifdef BRG_LINK_kafka
extern const brg_adapter_t brg_kafka_adapter;
#endif
#ifdef BRG_LINK_rabbitmq
extern const brg_adapter_t brg_rabbitmq_adapter;
#endif
#ifdef BRG_LINK_amqp1
extern const brg_adapter_t brg_amqp1_adapter;
#endif
#ifdef BRG_LINK_stomp
extern const brg_adapter_t brg_stomp_adapter;
#endif

const brg_adapter_t *brg_adapters[] = {
    &brg_memory_adapter,
#ifdef BRG_LINK_audit
    &brg_audit_adapter,
#endif
#ifdef BRG_LINK_file
    &brg_file_adapter,
    &brg_stdio_adapter,
#endif
#ifdef BRG_LINK_kafka
    &brg_kafka_adapter,
#endif
#ifdef BRG_LINK_rabbitmq
    &brg_rabbitmq_adapter,
#endif
#ifdef BRG_LINK_amqp1
    &brg_amqp1_adapter,
#endif
#ifdef BRG_LINK_stomp
    &brg_stomp_adapter,
#endif
    NULL,
};
