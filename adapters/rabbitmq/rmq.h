/* The rabbitmq adapter's internal state, shared by its files (not a public header).
 *
 * One endpoint = one AMQP 0-9-1 connection, owned by the endpoint's thread (rabbitmq-c
 * connections are not thread-safe). Channels:
 *   1        publishing, in confirm mode (every sink of this endpoint)
 *   2        control: passive exchange checks (a failed check closes only this channel)
 *   3 + i    source i: its own channel, so delivery tags, prefetch and channel errors are
 *            per route.
 *   3 + n    backlog checks (n sources): passive queue.declare, sent without waiting for the
 *            answer; a missing queue closes only this channel.
 *
 * Files: rabbitmq.c (adapter table, keys, checks, the endpoint loop), rmq_conn.c (URL,
 * connect, TLS, login, RPC errors, frame dispatch), rmq_source.c (consume, settle -> ack),
 * rmq_sink.c (publish, confirms, returns), rmq_codec.c (properties and headers), rmq_dlx.c
 * (does a source queue have a dead-letter exchange), rmq_backlog.c (sources' ready counts for
 * the stall watchdog).
 *
 * Thread: every function declared here runs on the endpoint's own thread (open/close on the
 * main thread, before and after it), so none of this state is locked.
 * Ownership: envelopes taken from the mailbox belong to the endpoint until brg_settle() (sink)
 * or brg_source_done() (source); deliveries waiting for credit are not yet the core's. */
#ifndef BRG_RMQ_H
#define BRG_RMQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <amqp.h>
#include <amqp_framing.h>

#include "bridge/adapter.h"

#define RMQ_CH_PUBLISH 1
#define RMQ_CH_CONTROL 2
#define RMQ_CH_SOURCE0 3

/* The broker's message size limit is 512 MiB at most (max_message_size): anything larger in
 * a content header is not a RabbitMQ message. */
#define RMQ_MAX_BODY ((uint64_t)512 * 1024 * 1024)

/* Endpoint settings, parsed once at open(). Strings are owned. */
typedef struct rmq_conf {
    char *host;
    int port;
    char *vhost;
    char *user;
    char *password;
    bool tls;
    char *ca_file, *cert_file, *key_file;
    bool verify_peer, verify_hostname;
    int heartbeat_s;
    int connect_timeout_s;
    int frame_max;
    size_t window;
    char *connection_name;
    char *url_redacted; /* for log lines */
} rmq_conf_t;

/* A message being assembled from its method, header and body frames on one channel. */
typedef struct rmq_asm {
    bool active;
    bool skip;          /* body too large or out of memory: frames are read and dropped */
    brg_envelope_t *env; /* deliveries: properties decoded at the header frame */
    uint64_t tag;
    uint8_t *body;
    bool body_in_env; /* body is env's own buffer (brg_envelope_body_buf): not freed here */
    uint64_t body_size, body_got;
    bool have_header;
    /* basic.return only */
    char *reply_text;
    char *exchange, *routing_key;
} rmq_asm_t;

typedef enum rmq_dstate {
    RMQ_D_PENDING = 0, /* submitted (or waiting for credit), outcome not known yet */
    RMQ_D_ACCEPTED,
    RMQ_D_RETRY,
    RMQ_D_REJECTED, /* kept unacknowledged: the route stopped */
    RMQ_D_DEAD,     /* basic.reject without requeue: the queue's dead-letter exchange takes it */
} rmq_dstate_t;

/* What brg_rmq_dlx_probe() learned about a queue. */
typedef enum rmq_dlx_result {
    RMQ_DLX_R_YES = 0, /* x-dead-letter-exchange is set */
    RMQ_DLX_R_NO,      /* no such argument (a policy may still set one: invisible) */
    RMQ_DLX_R_UNKNOWN, /* the broker would not say (permissions, exclusive queue...) */
    RMQ_DLX_R_CONN_LOST,
} rmq_dlx_result_t;

typedef struct rmq_out {
    uint64_t tag;
    uint8_t st; /* rmq_dstate_t */
} rmq_out_t;

typedef struct brg_rmq brg_rmq_t;

/* Backlog checks (rmq_backlog.c): one passive queue.declare outstanding at a time on a channel
 * of their own, answered through the frame dispatch. */
typedef enum rmq_bl_state {
    RMQ_BL_CLOSED = 0, /* channel not open (new connection, or the broker closed it) */
    RMQ_BL_OPENING,    /* channel.open sent */
    RMQ_BL_IDLE,       /* open, nothing outstanding */
    RMQ_BL_ASKING,     /* queue.declare (passive) sent for source `asking` */
} rmq_bl_state_t;

typedef struct rmq_backlog {
    amqp_channel_t ch;
    rmq_bl_state_t st;
    size_t next;           /* round robin over the sources */
    struct rmq_src *asking; /* the source asked about (NULL: it was removed since) */
    int64_t sent_ns;       /* when the outstanding method went out */
    int64_t due_ns;        /* when to send the next one */
    bool overdue;          /* sources were told the answer is overdue */
} rmq_backlog_t;

/* One route's `from` on this endpoint. */
typedef struct rmq_src {
    brg_source_t *src;
    brg_rmq_t *r;
    amqp_channel_t ch;
    char *queue;          /* the queue consumed (configured or generated) */
    const char *exchange; /* set: declare `queue` durable and bind it */
    const char *binding_key;
    amqp_table_t qargs;   /* queue_arguments for the declare (values point into the config) */
    /* on_reject = "reject": a REJECTED delivery is basic.reject'ed without requeue when the
     * queue dead-letters (broker_dlx), else kept and the route stops. */
    bool reject_mode;
    bool check_dlx;       /* check_dead_letter_exchange: probe the queue at each subscribe */
    bool broker_dlx;      /* what brg_source_set_broker_dead_letter() was last told */
    int dlx_seen;         /* the last probe's rmq_dlx_result_t (+1; 0 = none yet), to log changes */
    uint16_t prefetch;
    bool ch_open, consuming;
    uint64_t gen;        /* src_epoch of its deliveries; a new one per channel (re)open */
    int64_t retry_at_ns; /* when to (re)subscribe; 0 = now */
    brg_backoff_t bo;
    char *error; /* last error, to log a repeated one at debug level only */
    /* Deliveries not yet acknowledged at the broker, in delivery-tag order (a ring). */
    rmq_out_t *out;
    size_t out_head, out_len, out_cap;
    bool held_unacked; /* a REJECTED delivery is left unacked: no `multiple` acks past it */
    bool dirty;        /* settles arrived: acks to flush */
    /* Requeues back off: a message the sink keeps refusing (basic.nack, a full queue) would
     * otherwise circle between broker and bridge as fast as both can go. */
    brg_backoff_t retry_bo;
    int64_t nack_at_ns;  /* the next basic.nack not before this; 0: at once */
    bool nack_waiting;   /* a retried run waits at the head for nack_at_ns */
    /* Received while the route had no credit: submitted in order when credit returns. */
    brg_envelope_t **wait;
    size_t wait_head, wait_len, wait_cap;
    rmq_asm_t as;
    int64_t backlog;     /* the last ready count reported (rmq_backlog.c) */
    bool unanswered;     /* what brg_source_set_backlog_unanswered() was last told */
    /* For /metrics (read by the HTTP thread). */
    _Atomic uint64_t delivered, acked, requeued, dead_lettered;
} rmq_src_t;

/* A publish awaiting its confirm (slot seq % window of the ring). The names are kept in the
 * slot itself (AMQP short strings: at most 255 bytes) to match a basic.return: no allocation
 * per publish. */
typedef struct rmq_pub {
    brg_envelope_t *env; /* NULL: free slot */
    char exchange[256], routing_key[256];
    char *returned; /* reply text of a basic.return matched to it */
} rmq_pub_t;

/* A route's `to` at this endpoint: its templates and settings, looked up once at open (the
 * sink's opaque pointer). */
typedef struct rmq_sink {
    brg_sink_t *sink;
    const brg_template_t *exchange, *routing_key; /* NULL: "" */
    bool mandatory;
} rmq_sink_t;

struct brg_rmq {
    brg_endpoint_t *ep;
    const brg_log_ctx_t *log;
    const rmq_conf_t *conf; /* compiled at load (compile_endpoint), owned by the configuration */

    amqp_connection_state_t conn; /* NULL when not connected */
    bool connected;
    bool blocked; /* connection.blocked (resource alarm): publishing would stall */
    char *lost_reason;
    uint64_t next_gen;
    brg_backoff_t bo;

    /* publishing */
    bool pub_open;
    bool corked; /* TCP_CORK is on: only inside brg_rmq_sink_publish, which ends uncorked */
    brg_buf_t scratch_ex, scratch_rk; /* templated names of the message being published */
    int64_t pub_retry_at_ns;
    brg_backoff_t pub_bo;
    uint64_t pub_next_seq, pub_base, return_cursor;
    rmq_pub_t *ring;
    size_t ring_cap, inflight;
    rmq_sink_t **sinks; /* one per brg_endpoint_sink, the sink's opaque */
    size_t nsinks;
    rmq_asm_t pub_as; /* a basic.return being assembled */
    amqp_pool_t pool; /* scratch for one publish's properties */
    bool ctl_open;
    char **exchanges; /* exchanges known to exist on this connection */
    size_t nexchanges;
    /* For /metrics (read by the HTTP thread). */
    _Atomic uint64_t published, confirmed, returned, nacked;
    _Atomic uint64_t inflight_gauge;
    _Atomic bool blocked_gauge;

    rmq_src_t **srcs; /* each the source's opaque; a reload adds and removes some */
    size_t nsrcs;
    rmq_backlog_t bl;
    /* Channels closed for sources a reload removed, until their close-ok: not reused before. */
    amqp_channel_t *closing;
    size_t nclosing;
};

/* ---- rmq_conn.c ---------------------------------------------------------------------------- */

/* Parse the endpoint group into c. Returns: BRG_OK, or BRG_ERR_CONFIG with errstr (the load
 * checks have caught these already; this guards open()). */
brg_err_t brg_rmq_conf_parse(const brg_conf_node_t *cs, rmq_conf_t *c, char *errstr, size_t errstr_size);
void brg_rmq_conf_fini(rmq_conf_t *c);

/* Open the socket (TLS if amqps), log in, open the publish (confirm mode) and control
 * channels. On failure r->conn is NULL and errstr says why, with the broker's reply text.
 * Returns: BRG_OK, BRG_ERR_AUTH (refused credentials or vhost), BRG_ERR_TRANSPORT. */
brg_err_t brg_rmq_connect(brg_rmq_t *r, char *errstr, size_t errstr_size);

/* Forget the connection: settle in-flight publishes RETRY, void sources' delivery tags, close
 * the socket. reason (may be NULL) is logged. clean: say connection.close first. */
void brg_rmq_disconnect(brg_rmq_t *r, const char *reason, bool clean);

/* Result of a synchronous call (amqp_simple_rpc and friends). */
typedef enum rmq_rpc {
    RMQ_RPC_OK = 0,
    RMQ_RPC_CHANNEL_CLOSED, /* the broker closed that channel (close-ok sent) */
    RMQ_RPC_CONN_LOST,      /* the connection is unusable */
} rmq_rpc_t;

/* Inspect amqp_get_rpc_reply() after a call on channel ch; on a broker close, answer it and
 * format "<what>: <reply code> <reply text>" into errstr. *code gets the reply code (0 if none). */
rmq_rpc_t brg_rmq_rpc_result(brg_rmq_t *r, amqp_channel_t ch, const char *what, int *code,
                             char *errstr, size_t errstr_size);

/* Open channel ch. Returns: as brg_rmq_rpc_result. */
rmq_rpc_t brg_rmq_channel_open(brg_rmq_t *r, amqp_channel_t ch, char *errstr, size_t errstr_size);
/* Open the control channel (passive checks; a refusal closes only it) if it is closed.
 * Returns: as brg_rmq_rpc_result. */
rmq_rpc_t brg_rmq_control_open(brg_rmq_t *r, char *errstr, size_t errstr_size);

/* Read and dispatch every frame available without blocking (at most max).
 * Returns: BRG_OK, or BRG_ERR_TRANSPORT with errstr once the connection is lost. *nframes
 * gets how many frames were handled. */
brg_err_t brg_rmq_read_frames(brg_rmq_t *r, int max, int *nframes, char *errstr,
                              size_t errstr_size);

/* ---- rmq_source.c -------------------------------------------------------------------------- */

void brg_rmq_source_init(brg_rmq_t *r, rmq_src_t *s, brg_source_t *src, amqp_channel_t ch);
void brg_rmq_source_fini(rmq_src_t *s);
/* (Re)subscribe sources whose time has come: open the channel, declare/bind, qos, consume.
 * Returns: BRG_OK, or BRG_ERR_TRANSPORT if the connection was lost meanwhile. */
brg_err_t brg_rmq_sources_maintain(brg_rmq_t *r, int64_t now_ns, int64_t *next_ns, char *errstr,
                                   size_t errstr_size);
/* Frames on a source channel (method frames other than channel.close, content frames). */
brg_err_t brg_rmq_source_on_frame(rmq_src_t *s, const amqp_frame_t *f, char *errstr,
                                  size_t errstr_size);
/* The broker closed the source's channel: its delivery tags are void. */
void brg_rmq_source_channel_closed(rmq_src_t *s, const char *reason);
/* The connection is gone: every source's channel is gone with it. */
void brg_rmq_source_conn_lost(rmq_src_t *s);
/* Take every settled envelope from the mailbox and acknowledge at the broker (requeues of
 * retried deliveries wait for their backoff: *next_ns is lowered to when one is due).
 * Returns: BRG_OK, or BRG_ERR_TRANSPORT if a write failed. *did gets true if any. */
brg_err_t brg_rmq_sources_settle(brg_rmq_t *r, int64_t now_ns, int64_t *next_ns, bool *did,
                                 char *errstr, size_t errstr_size);
/* Submit deliveries that waited for credit. Returns: true if any was submitted; *waiting
 * gets true if some still wait. */
bool brg_rmq_sources_submit_waiting(brg_rmq_t *r, bool *waiting);
rmq_src_t *brg_rmq_source_by_channel(brg_rmq_t *r, amqp_channel_t ch);
/* Drop deliveries that wait for credit (stopping): the broker redelivers them. */
void brg_rmq_source_drop_waiting(rmq_src_t *s);
/* A source a reload removes (its route drained): acknowledge what is settled, close its
 * channel without waiting for the close-ok, drop what waited for credit. The caller frees it.
 * Returns: the channel whose close-ok is outstanding, or 0. */
amqp_channel_t brg_rmq_source_detach(rmq_src_t *s);
/* A close-ok arrived on channel ch: a removed source's channel number is free again. */
void brg_rmq_channel_close_ok(brg_rmq_t *r, amqp_channel_t ch);

/* ---- rmq_sink.c ---------------------------------------------------------------------------- */

/* Open the publish channel and put it in confirm mode. Returns: as brg_rmq_rpc_result. */
rmq_rpc_t brg_rmq_sink_open(brg_rmq_t *r, char *errstr, size_t errstr_size);
/* Publish what the mailbox holds, up to the confirm window. Returns: BRG_OK, or
 * BRG_ERR_TRANSPORT if the connection was lost. *did gets true if any. */
brg_err_t brg_rmq_sink_publish(brg_rmq_t *r, bool *did, char *errstr, size_t errstr_size);
/* Frames on the publish channel (confirms, returns). */
void brg_rmq_sink_on_frame(brg_rmq_t *r, const amqp_frame_t *f);
/* The publish channel or the connection is gone: settle every unconfirmed publish RETRY. */
void brg_rmq_sink_fail_all(brg_rmq_t *r, const char *reason);
/* The broker closed the publish channel with code and text (why: the line to log): 403
 * ACCESS_REFUSED and 404 NOT_FOUND settle the window's publishes to the exchange the text
 * names unroutable (brg_settle_unroutable), every other one RETRY; other codes all RETRY. */
void brg_rmq_sink_channel_failed(brg_rmq_t *r, int code, const char *text, const char *why);
/* Reopen the publish channel if it was closed and its time has come. */
brg_err_t brg_rmq_sink_maintain(brg_rmq_t *r, int64_t now_ns, int64_t *next_ns, char *errstr,
                                size_t errstr_size);

/* ---- rmq_dlx.c ----------------------------------------------------------------------------- */

/* Read back whether queue has an x-dead-letter-exchange argument (see rmq_dlx.h), on the
 * control channel (each probe round closes it; it is reopened as needed). Never creates or
 * changes a queue. dlx gets the exchange's name (YES); why gets the reason (UNKNOWN) or the
 * connection error (CONN_LOST). Returns: what was learned. */
rmq_dlx_result_t brg_rmq_dlx_probe(brg_rmq_t *r, const char *queue, char *dlx, size_t dlx_size,
                                   char *why, size_t why_size);

/* ---- rmq_backlog.c ------------------------------------------------------------------------- */

/* Ask the broker for the next consuming source's ready count when due (at least four times
 * per stall_timeout; sources without a watchdog are not asked), and mark the sources overdue
 * when the outstanding question has gone unanswered for as long. Never waits for an answer.
 * Returns: BRG_OK, or BRG_ERR_TRANSPORT if a write failed. */
brg_err_t brg_rmq_backlog_maintain(brg_rmq_t *r, int64_t now_ns, int64_t *next_ns, char *errstr,
                                   size_t errstr_size);
/* A method frame on the backlog channel (channel.open-ok, queue.declare-ok). */
void brg_rmq_backlog_on_frame(brg_rmq_t *r, const amqp_frame_t *f);
/* The broker closed the backlog channel (close-ok already sent): a 404 means the asked
 * source's queue is gone (backlog 0); reopened when the next check is due. */
void brg_rmq_backlog_channel_closed(brg_rmq_t *r, int code, const char *reason);
/* The connection is gone: the channel with it; nothing is overdue any more. */
void brg_rmq_backlog_conn_lost(brg_rmq_t *r);

/* ---- rabbitmq.c ---------------------------------------------------------------------------- */

/* Prometheus families of the rabbitmq endpoints (brg_adapter_t.metrics).
 * Thread: the HTTP thread; reads only atomics. */
void brg_rmq_metrics(brg_endpoint_t *const *eps, size_t n, struct brg_metrics_out *out);

/* ---- shared helpers ------------------------------------------------------------------------ */

char *brg_rmq_bytes_dup(amqp_bytes_t b);
void brg_rmq_asm_reset(rmq_asm_t *a);

#endif
