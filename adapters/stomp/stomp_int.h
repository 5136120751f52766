/* The stomp adapter's internal state, shared by its files (not part of any public API).
 *
 * One endpoint = one TCP connection speaking STOMP 1.2, driven by poll(2) on the endpoint thread.
 *   stomp.c         the adapter table, config schema and checks, open/close
 *   stomp_conn.c    the loop: connect (CONNECT/CONNECTED), heart-beats, read/parse/write,
 *                   reconnect with backoff
 *   stomp_source.c  subscriptions (one per source): MESSAGE -> envelope, ACK/NACK, resubscribe
 *   stomp_sink.c    SEND with receipts, a window of outstanding receipts, RECEIPT/ERROR
 *   stomp_frame.c   frame parser and encoder;  stomp_codec.c  frame <-> envelope
 * Thread: everything runs on the endpoint thread. */
#ifndef BRG_STOMP_INT_H
#define BRG_STOMP_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "adapters/stomp/stomp_frame.h"
#include "bridge/adapter.h"

/* An envelope sent and waiting for its receipt, or received and waiting for route credit. */
typedef struct stomp_pending {
    brg_envelope_t *env;
    uint64_t receipt;
    struct stomp_pending *next;
} stomp_pending_t;

typedef struct stomp_src {
    brg_source_t *src;
    size_t index;
    const char *destination;
    bool durable;        /* a /topic/ subscribed with activemq.subscriptionName */
    char *sub_name;      /* the durable subscription's name */
    bool reject;         /* on_reject = "reject": NACK a REJECTED message */
    uint32_t sub_gen;    /* bumped at each SUBSCRIBE: part of the subscription id */
    bool subscribed;
    int64_t resub_at_ns; /* a RETRY came back: resubscribe (redelivery) at this time; 0 none */
    brg_backoff_t retry_bo;
    stomp_pending_t *held_head, *held_tail; /* received beyond the route's credit */
} stomp_src_t;

typedef struct brg_stomp {
    brg_endpoint_t *ep;
    const brg_log_ctx_t *log;

    /* URL, credentials, limits: compiled at load, owned by the configuration */
    const struct stomp_settings *conf;
    char *client_id;
    bool need_client_id;

    /* TLS (stomp+ssl://, stomp_io.c): the context is made at open, a session per connection */
    struct ssl_ctx_st *tls_ctx; /* OpenSSL SSL_CTX; NULL for plain TCP */
    struct ssl_st *ssl;         /* OpenSSL SSL while connected over TLS */
    bool verify_peer;

    /* connection */
    int fd; /* -1 when not connected */
    uint32_t conn_gen;
    brg_stomp_buf_t in, out;
    int64_t last_rx_ns, last_tx_ns;
    uint32_t send_hb_ms, recv_hb_ms; /* negotiated; 0 off */
    char error[512];
    brg_backoff_t bo;

    /* sink */
    stomp_pending_t *sent_head, *sent_tail;
    size_t nsent;
    uint64_t next_receipt;
    brg_buf_t scratch_destination; /* a templated destination, rendered into reused memory */

    stomp_src_t *srcs;
    size_t nsrcs;
} brg_stomp_t;

/* ---- stomp_io.c: the byte stream, plain TCP or TLS ---- */

/* The TLS keys of the endpoint (docs/activemq.md): NULL when unset. */
typedef struct stomp_tls_conf {
    const char *ca_file, *cert_file, *key_file;
    bool verify_peer;
} stomp_tls_conf_t;

/* An endpoint's settings, compiled once at load (adapter.h compile_endpoint); the strings of
 * `tls` are the configuration's own. */
typedef struct stomp_settings {
    char *host, *port, *user, *password, *vhost;
    bool tls;
    stomp_tls_conf_t tls_conf;
    uint32_t heartbeat_ms;
    size_t max_frame;
    size_t receipt_window;
} stomp_settings_t;

/* Make s->tls_ctx for stomp+ssl:// (CA certificates, client certificate, verification).
 * Returns: BRG_OK, or an error with errstr naming the file and OpenSSL's reason
 * (BRG_ERR_UNSUPPORTED when built without OpenSSL). Thread: the opening thread. */
brg_err_t stomp_tls_init(brg_stomp_t *s, const stomp_tls_conf_t *c, char *errstr,
                         size_t errstr_size);
/* Free s->tls_ctx (NULL is fine). */
void stomp_tls_fini(brg_stomp_t *s);
/* After the TCP connect: the TLS handshake on s->fd (nothing for plain TCP), with the
 * broker's certificate verified against the url's host when verify_peer. Polls, at most
 * timeout_ms. Returns: BRG_OK, BRG_ERR_STOPPED, or a transport error with errstr set.
 * Thread: the endpoint's. */
brg_err_t stomp_io_start(brg_stomp_t *s, int timeout_ms, char *errstr, size_t errstr_size);
/* End the TLS session (before the socket is closed). */
void stomp_io_stop(brg_stomp_t *s);
/* Move bytes. Returns: the count moved (> 0); 0 when the socket is not ready (poll, then call
 * again: a send must be retried with the same bytes first); -1 on an error (errstr set); -2
 * from recv when the broker closed the connection. Thread: the endpoint's. */
ssize_t stomp_io_send(brg_stomp_t *s, const void *p, size_t n, char *errstr, size_t errstr_size);
ssize_t stomp_io_recv(brg_stomp_t *s, void *p, size_t n, char *errstr, size_t errstr_size);
/* Whether TLS holds decrypted bytes that poll cannot see. */
bool stomp_io_pending(const brg_stomp_t *s);

/* ---- stomp_conn.c ---- */
brg_err_t stomp_run(void *state, brg_endpoint_t *ep, char *errstr, size_t errstr_size);

/* ---- stomp_source.c ---- */
/* Append SUBSCRIBE frames for every source (after CONNECTED). */
void stomp_src_subscribe_all(brg_stomp_t *s);
/* A MESSAGE frame arrived. */
void stomp_src_message(brg_stomp_t *s, brg_stomp_frame_t *f);
/* Act on settled envelopes (ACK / NACK / resubscribe) and submit held messages as credit
 * allows; resubscribe due sources. Without a connection settled envelopes are only freed.
 * *next_ns is lowered to the next resubscribe time. */
void stomp_src_service(brg_stomp_t *s, int64_t now_ns, int64_t *next_ns);
/* The connection is gone: forget subscriptions and held messages. */
void stomp_src_reset(brg_stomp_t *s);
/* Free an envelope this source produced (and its ack id) that never reached the core. */
void stomp_src_drop(brg_envelope_t *env);

/* ---- stomp_sink.c ---- */
/* Take envelopes from the publish queue and SEND them while the receipt window has room. */
void stomp_sink_service(brg_stomp_t *s);
/* A RECEIPT frame arrived. */
void stomp_sink_receipt(brg_stomp_t *s, const brg_stomp_frame_t *f);
/* An ERROR frame arrived with a receipt-id of one of our SENDs: settle it REJECTED with the
 * broker's text. Returns: true if it named one. */
bool stomp_sink_error(brg_stomp_t *s, const brg_stomp_frame_t *f, const char *text);
/* The connection is gone: every SEND without receipt settles RETRY with reason. */
void stomp_sink_reset(brg_stomp_t *s, const char *reason);

#endif
