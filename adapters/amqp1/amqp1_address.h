/* AMQP 1.0 endpoint URLs and node addresses per broker family (docs/amqp1.md "Addresses").
 *
 * Each broker family names its nodes differently: ActiveMQ Classic "queue://NAME",
 * "topic://NAME" or a bare queue name; Artemis "NAME" with a queue/topic capability or the
 * fully qualified "address::queue"; RabbitMQ 3.x "/amq/queue/NAME", "/queue/NAME",
 * "/exchange/NAME/KEY", "/topic/KEY". The configuration may use the portable "queue://" and
 * "topic://" forms everywhere; this module turns them into what the broker expects.
 * Pure: no I/O, no threads. */
#ifndef BRG_AMQP1_ADDRESS_H
#define BRG_AMQP1_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/err.h"

typedef enum brg_amqp1_family {
    BRG_AMQP1_AUTO = 0, /* detect from the broker's "product" connection property */
    BRG_AMQP1_GENERIC,  /* Qpid, Azure Service Bus and anything else */
    BRG_AMQP1_ACTIVEMQ, /* ActiveMQ Classic */
    BRG_AMQP1_ARTEMIS,  /* ActiveMQ Artemis */
    BRG_AMQP1_RABBITMQ, /* RabbitMQ 3.x rabbitmq_amqp1_0 plugin */
} brg_amqp1_family_t;

/* Parse the endpoint's `broker` key ("auto", "generic", "activemq", "artemis", "rabbitmq").
 * Returns: false if unknown. */
bool brg_amqp1_family_parse(const char *s, brg_amqp1_family_t *out);
/* Returns: the static name of a family. */
const char *brg_amqp1_family_name(brg_amqp1_family_t f);
/* The family a broker announces in its open frame's "product" property ("RabbitMQ",
 * "ActiveMQ", "apache-activemq-artemis"); NULL or anything else is GENERIC. */
brg_amqp1_family_t brg_amqp1_family_detect(const char *product);

/* An address resolved for one broker family. */
typedef struct brg_amqp1_addr {
    char *address;          /* owned: the terminus address to attach to */
    const char *capability; /* static: "queue", "topic" or NULL: terminus capability to send */
    int jms_dest;           /* x-opt-jms-dest for messages sent there: 0 queue, 1 topic */
} brg_amqp1_addr_t;

/* Resolve a configured address for a family (AUTO resolves like GENERIC).
 * Ownership: out->address is the caller's (brg_amqp1_addr_fini).
 * Returns: BRG_OK, or BRG_ERR_INVALID with errstr set (empty name, a RabbitMQ address of an
 * unknown form). */
brg_err_t brg_amqp1_address_resolve(brg_amqp1_family_t f, const char *in, brg_amqp1_addr_t *out,
                                    char *errstr, size_t errstr_size);
void brg_amqp1_addr_fini(brg_amqp1_addr_t *a);

/* A parsed endpoint URL: "amqp://[user[:password]@]host[:port]", "amqps://...", "host:port"
 * or "host". IPv6 hosts are written in brackets. */
typedef struct brg_amqp1_url {
    bool tls;       /* amqps:// */
    char *host;     /* owned, without brackets */
    char *port;     /* owned: the port as text ("5672" / "5671" by default) */
    char *user;     /* owned, percent-decoded; NULL if absent */
    char *password; /* owned, percent-decoded; NULL if absent */
} brg_amqp1_url_t;

/* Parse url into out. Ownership: out's strings are the caller's (brg_amqp1_url_fini).
 * Returns: BRG_OK, or BRG_ERR_INVALID with errstr quoting the problem (the password is never
 * quoted). */
brg_err_t brg_amqp1_url_parse(const char *url, brg_amqp1_url_t *out, char *errstr,
                              size_t errstr_size);
void brg_amqp1_url_fini(brg_amqp1_url_t *u);

#endif
