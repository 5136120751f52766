/* The amqp1 adapter's internal state, shared by its files (not part of any public API).
 *
 * One endpoint = one proton proactor and at most one connection with one session.
 *   amqp1.c         the adapter vtable, config schema and checks, open/close/wake
 *   amqp1_conn.c    the proactor loop: connect (SASL, TLS), events, reconnect with backoff
 *   amqp1_source.c  receiver links (one per source): credit, deliveries, dispositions
 *   amqp1_sink.c    sender links (one per distinct address): publish, settle from dispositions
 *
 * Thread: everything here runs on the endpoint thread, except amqp1_wake() (any thread), which
 * only calls pn_proactor_interrupt. Connection objects are touched only while handling one of
 * that connection's event batches, so that proton writes what we changed. */
#ifndef BRG_AMQP1_INT_H
#define BRG_AMQP1_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <proton/connection.h>
#include <proton/delivery.h>
#include <proton/link.h>
#include <proton/message.h>
#include <proton/proactor.h>
#include <proton/session.h>
#include <proton/ssl.h>

#include "adapters/amqp1/amqp1_address.h"
#include "bridge/adapter.h"

/* An envelope waiting for route credit (sources; not submitted yet, so it has no delivery to
 * link through). */
typedef struct amqp1_pending {
    brg_envelope_t *env;
    struct amqp1_pending *next;
} amqp1_pending_t;

/* One receiver link, for one route's `from`. */
typedef struct amqp1_rx {
    brg_source_t *src;
    const char *address;   /* as configured (origin.stream) */
    brg_amqp1_addr_t addr; /* resolved for the broker family of the current connection */
    pn_link_t *link;       /* NULL while detached */
    uint32_t link_gen;     /* bumped at each attach: part of src_epoch */
    int64_t reattach_at_ns;
    /* Not attached before this, even on a new connection: the broker closed the whole
     * connection over this link's node (RabbitMQ 3.x, a queue that does not exist). */
    int64_t attach_after_ns;
    brg_backoff_t backoff;
    bool reject_on_rejected; /* on_reject = "reject": settle `rejected` instead of keeping */
    bool modified_on_retry;  /* on_retry = "modified": `modified` (delivery-failed) */
    /* Durable topic subscriptions (brg_amqp1_rx_link_settings): the route's `durable` (true
     * by default) and `subscription` keys; durable tells what the current link asked for. */
    bool want_durable;
    const char *subscription; /* borrowed from the route's config; NULL for the default */
    bool durable;
    bool warned_not_durable; /* the RabbitMQ warning is logged once */
    /* Deliveries that arrived beyond the credit we granted (RabbitMQ 3.x's AMQP 1.0 plugin
     * does not always honour link credit): decoded, unsettled, submitted in order as the
     * route's credit returns. At most max_in_flight; beyond that they are released. */
    amqp1_pending_t *held_head, *held_tail;
    size_t nheld;
    uint64_t released_over_credit;
    /* Credit resync: RabbitMQ 3.x can lose track of link credit and stop sending while we
     * believe credit is outstanding; a quiet link with credit is drained (the broker answers
     * with its delivery count and the credit starts afresh). */
    int64_t last_rx_ns;
    int64_t drain_started_ns;
    bool draining;
    uint64_t drains;
} amqp1_rx_t;

/* One sender link, for one distinct resolved address. */
typedef struct amqp1_tx {
    brg_amqp1_addr_t addr;
    char *name;      /* the address as rendered from the template (lookup key) */
    pn_link_t *link; /* NULL while detached */
    brg_envq_t queue; /* envelopes waiting for link credit, in order */
    size_t unsettled;
    int64_t reattach_at_ns;
    brg_backoff_t backoff;
    struct amqp1_tx *next;
} amqp1_tx_t;

/* An endpoint's settings, compiled once at load (adapter.h compile_endpoint). */
typedef struct amqp1_settings {
    brg_amqp1_url_t url;
    char *user, *password, *mechs;
    const char *ca_file, *cert_file, *key_file; /* the configuration's own strings */
    bool verify_peer;
    uint32_t idle_timeout_ms;
    brg_amqp1_family_t family;
} amqp1_settings_t;

typedef struct brg_amqp1 {
    brg_endpoint_t *ep;
    const brg_log_ctx_t *log;

    /* configuration: compiled at load (amqp1_settings_t, owned by the configuration) */
    const brg_amqp1_url_t *url;
    const char *user, *password, *mechs;
    char *container_id;
    uint32_t idle_timeout_ms;
    brg_amqp1_family_t family_cfg;

    /* proton */
    pn_proactor_t *proactor;
    pn_ssl_domain_t *ssl_domain;
    pn_connection_t *conn; /* NULL when not connected or connecting */
    pn_session_t *ssn;
    pn_message_t *msg;     /* scratch for encode/decode */
    pn_rwbytes_t buf;      /* encode / receive buffer */
    uint64_t conn_gen;     /* bumped per connection: high half of src_epoch */
    uint64_t tag;          /* delivery tag counter */
    uint64_t link_seq;     /* link name counter */
    brg_amqp1_family_t family; /* of the current connection */
    bool open;             /* remote open seen: links may be attached */
    bool closing;          /* we closed the connection (stopping) */
    int64_t close_deadline_ns;
    int64_t reconnect_at_ns; /* 0: no reconnect scheduled */
    brg_backoff_t backoff;
    char error[512];       /* last connection error, for the next log line and /readyz */

    amqp1_rx_t *rx;
    size_t nrx;
    amqp1_tx_t *tx;
    brg_buf_t scratch_address; /* a templated address, rendered into reused memory */
} brg_amqp1_t;

/* ---- amqp1_conn.c ---- */
/* The endpoint thread's loop (adapter->run). */
brg_err_t brg_amqp1_run(void *state, brg_endpoint_t *ep, char *errstr, size_t errstr_size);
/* Describe a proton condition ("amqp:unauthorized-access: Authentication failed") into buf.
 * Returns: false if the condition is not set. */
bool brg_amqp1_condition_text(pn_condition_t *cond, char *buf, size_t size);
/* A unique link name on this connection. */
void brg_amqp1_link_name(brg_amqp1_t *a, const char *kind, const char *address, char *buf,
                         size_t size);

/* ---- amqp1_source.c ---- */
void brg_amqp1_rx_attach_all(brg_amqp1_t *a);
void brg_amqp1_rx_attach(brg_amqp1_t *a, amqp1_rx_t *rx);
/* A delivery arrived on a receiver link. */
void brg_amqp1_rx_delivery(brg_amqp1_t *a, pn_delivery_t *d);
/* The broker detached a receiver link. */
void brg_amqp1_rx_link_closed(brg_amqp1_t *a, amqp1_rx_t *rx, const char *why);
/* Act on settled envelopes (acknowledge, release, reject); outside a connection only frees. */
void brg_amqp1_rx_drain_settled(brg_amqp1_t *a);
/* Top up link credit and reattach due links. */
void brg_amqp1_rx_service(brg_amqp1_t *a, int64_t now);
/* The connection is gone: forget links. */
void brg_amqp1_rx_reset(brg_amqp1_t *a);
/* The broker closes the connection with cond (before brg_amqp1_rx_reset): if it is amqp:not-found
 * while a receiver was attaching, that receiver's node is missing (RabbitMQ 3.x closes the
 * connection instead of refusing the link): its route gets the error (/routes source_error)
 * and the receiver waits for its own backoff before it is attached again, so that the other
 * routes of the endpoint keep a working connection meanwhile. */
void brg_amqp1_rx_connection_refused(brg_amqp1_t *a, pn_condition_t *cond);
amqp1_rx_t *brg_amqp1_rx_of_link(brg_amqp1_t *a, pn_link_t *l);
/* The src_epoch of deliveries received on rx now. */
uint64_t brg_amqp1_rx_epoch(const brg_amqp1_t *a, const amqp1_rx_t *rx);

/* ---- amqp1_sink.c ---- */
/* Take envelopes from the publish queue and send what link credit allows. */
void brg_amqp1_tx_service(brg_amqp1_t *a, int64_t now);
/* Credit arrived on a sender link. */
void brg_amqp1_tx_flow(brg_amqp1_t *a, pn_link_t *l);
/* A disposition arrived for a sent delivery. */
void brg_amqp1_tx_delivery(brg_amqp1_t *a, pn_delivery_t *d);
/* The broker detached a sender link: unsettled envelopes RETRY, the link reattaches later. */
void brg_amqp1_tx_link_closed(brg_amqp1_t *a, amqp1_tx_t *tx, const char *why);
amqp1_tx_t *brg_amqp1_tx_of_link(brg_amqp1_t *a, pn_link_t *l);
/* The connection is gone (or stopping): every envelope held settles RETRY with reason. */
void brg_amqp1_tx_reset(brg_amqp1_t *a, const char *reason);

#endif
