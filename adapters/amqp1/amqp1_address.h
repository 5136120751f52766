/* AMQP 1.0 endpoint URLs and node addresses per broker family (docs/amqp1.md "Addresses").
 *
 * Each broker family names its nodes differently: ActiveMQ Classic "queue://NAME",
 * "topic://NAME" or a bare queue name; Artemis "NAME" with a queue/topic capability or the
 * fully qualified "address::queue"; RabbitMQ 3.x "/amq/queue/NAME", "/queue/NAME",
 * "/exchange/NAME/KEY", "/topic/KEY". The configuration may use the portable "queue://" and
 * "topic://" forms everywhere; this module turns them into what the broker expects.
 * Also what a receiver link asks for (durable topic subscriptions). Pure: no I/O, no threads. */
#ifndef BRG_AMQP1_ADDRESS_H
#define BRG_AMQP1_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <proton/terminus.h>

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

/* What a receiver link asks the broker for (docs/amqp1.md "Durable topic subscriptions").
 * A topic source (an address that resolves to a topic) subscribes durably unless the route
 * says `durable = false`: the link name is the subscription name (`subscription`, default
 * "msgbridge-ROUTE"), stable across restarts, and the source terminus asks for durability
 * unsettled-state, expiry policy never and distribution mode copy. ActiveMQ Classic turns
 * that into a JMS durable subscription (client id = the container id, subscription name =
 * the link name), Artemis into a durable subscription queue "CONTAINER.NAME". RabbitMQ 3.x has
 * no durable AMQP 1.0 topic subscriptions: there, and for queues, the link is the plain one
 * (a unique name, non-durable, expiring with the session). */
typedef struct brg_amqp1_rx_link {
    char *name;     /* owned: the link name */
    bool durable;   /* a durable subscription is asked for */
    pn_durability_t durability;       /* PN_DELIVERIES when durable, else PN_NONDURABLE */
    pn_expiry_policy_t expiry;        /* PN_EXPIRE_NEVER when durable, else WITH_SESSION */
    pn_distribution_mode_t dist_mode; /* PN_DIST_MODE_COPY when durable, else unspecified */
} brg_amqp1_rx_link_t;

/* Fill out for a receiver of the resolved address addr on a broker of family f, for route
 * `route` with the route's `durable` key (want_durable) and `subscription` key (NULL for the
 * default); container_id and seq name a non-durable link uniquely
 * ("CONTAINER:from:ADDRESS:SEQ"). Pure. Ownership: out->name is the caller's
 * (brg_amqp1_rx_link_fini). */
void brg_amqp1_rx_link_settings(brg_amqp1_family_t f, const brg_amqp1_addr_t *addr,
                                const char *address, const char *container_id,
                                const char *route, bool want_durable, const char *subscription,
                                uint64_t seq, brg_amqp1_rx_link_t *out);
void brg_amqp1_rx_link_fini(brg_amqp1_rx_link_t *l);

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
