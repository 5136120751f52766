/* The rabbitmq adapter (AMQP 0-9-1 with rabbitmq-c): its keys, load-time checks and the
 * endpoint thread's loop. See rmq.h for how the work is split between files and
 * docs/rabbitmq.md for what users see. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters/rabbitmq/rmq.h"
#include "bridge/buf.h"

/* ---- keys --------------------------------------------------------------------------------- */

static const char *const reject_policies[] = {"keep", "reject", NULL};

static const brg_conf_key_t endpoint_keys[] = {
    {.name = "url", .type = BRG_KEY_STRING, .flags = BRG_KEY_REQUIRED,
     .help = "amqp://user:password@host:port/vhost, or amqps:// for TLS (vhost \"/\" is %2f)"},
    {.name = "user", .type = BRG_KEY_STRING, .help = "user name (instead of the url's)"},
    {.name = "password", .type = BRG_KEY_STRING, .flags = BRG_KEY_SECRET,
     .help = "password (instead of the url's); password_file reads it from a file"},
    {.name = "ca_file", .type = BRG_KEY_STRING,
     .help = "CA certificates (PEM) that sign the broker's certificate (amqps; default: the "
             "system's)"},
    {.name = "cert_file", .type = BRG_KEY_STRING, .help = "client certificate (PEM) for amqps"},
    {.name = "key_file", .type = BRG_KEY_STRING, .help = "client private key (PEM) for amqps"},
    {.name = "verify_peer", .type = BRG_KEY_BOOL,
     .help = "verify the broker's certificate (amqps; default true)"},
    {.name = "verify_hostname", .type = BRG_KEY_BOOL,
     .help = "check that the certificate names the url's host (amqps; default true)"},
    {.name = "heartbeat", .type = BRG_KEY_INT, .flags = BRG_KEY_RANGE, .min = 0, .max = 3600,
     .help = "heartbeat interval in seconds (default 30; 0 disables)"},
    {.name = "connect_timeout", .type = BRG_KEY_INT, .flags = BRG_KEY_RANGE, .min = 1, .max = 300,
     .help = "seconds to connect and log in (default 10)"},
    {.name = "connection_name", .type = BRG_KEY_STRING,
     .help = "name shown in the management UI (default \"msgbridge BRIDGE/ENDPOINT\")"},
    {.name = "window", .type = BRG_KEY_INT, .flags = BRG_KEY_RANGE, .min = 1, .max = 100000,
     .help = "publishes awaiting the broker's confirm (default 1000)"},
    {.name = "frame_max", .type = BRG_KEY_INT, .flags = BRG_KEY_RANGE, .min = 4096, .max = 16777216,
     .help = "largest frame in bytes (default 131072)"},
    {.name = NULL},
};

static const brg_conf_key_t source_keys[] = {
    {.name = "queue", .type = BRG_KEY_STRING,
     .help = "queue to consume; with exchange, the name of the durable queue to declare"},
    {.name = "exchange", .type = BRG_KEY_STRING,
     .help = "declare a durable queue and bind it to this exchange (queue defaults to "
             "\"msgbridge.BRIDGE.ROUTE\")"},
    {.name = "binding_key", .type = BRG_KEY_STRING,
     .help = "binding key with exchange (default \"#\")"},
    {.name = "queue_arguments", .type = BRG_KEY_GROUP,
     .help = "with exchange: arguments of the declared queue, e.g. { x-dead-letter-exchange = "
             "\"dlx\"; }"},
    {.name = "on_reject", .type = BRG_KEY_STRING, .words = reject_policies,
     .help = "a message the route rejects without a dead_letter: keep (default: the route stops, "
             "the queue keeps it) or reject (basic.reject to the queue's dead-letter exchange)"},
    {.name = "check_dead_letter_exchange", .type = BRG_KEY_BOOL,
     .help = "with on_reject = reject: reject only if the queue has an x-dead-letter-exchange "
             "argument (default true; false when a policy sets it)"},
    {.name = NULL},
};

static const brg_conf_key_t sink_keys[] = {
    {.name = "exchange", .type = BRG_KEY_TEMPLATE,
     .help = "exchange to publish to (default \"\", the default exchange)"},
    {.name = "routing_key", .type = BRG_KEY_TEMPLATE, .help = "routing key (default \"\")"},
    {.name = "mandatory", .type = BRG_KEY_BOOL,
     .help = "publish mandatory: an unroutable message is rejected (dead letter) instead of "
             "dropped by the broker (default true)"},
    {.name = NULL},
};

/* ---- checks ------------------------------------------------------------------------------- */

static void check_file(const brg_conf_node_t *cs, const char *key, brg_diag_t *d)
{
    const brg_conf_node_t *n = brg_conf_get(cs, key);
    if (n && n->type == BRG_CONF_STRING && access(n->v.s, R_OK) != 0) {
        brg_diag_error(d, n, "cannot read \"%s\": %s", n->v.s, strerror(errno));
    }
}

static void free_settings(void *settings)
{
    brg_rmq_conf_fini(settings);
    free(settings);
}

/* adapter.h compile_endpoint: the connection settings, parsed and checked once, at load. */
static void *compile_endpoint(const brg_conf_node_t *ep_cs, brg_diag_t *d)
{
    size_t errors = d->errors;
    rmq_conf_t *c = brg_xcalloc(1, sizeof(*c));
    char err[600];
    bool parsed = brg_rmq_conf_parse(ep_cs, c, err, sizeof(err)) == BRG_OK;
    if (!parsed) {
        const brg_conf_node_t *u = brg_conf_get(ep_cs, "url");
        brg_diag_error(d, u ? u : ep_cs, "%s", err);
    }
    static const char *const tls_keys[] = {"ca_file", "cert_file", "key_file", "verify_peer",
                                           "verify_hostname"};
    for (size_t i = 0; i < BRG_ARRAY_SIZE(tls_keys); i++) {
        const brg_conf_node_t *n = brg_conf_get(ep_cs, tls_keys[i]);
        if (n && parsed && !c->tls) {
            brg_diag_warn(d, n, "has no effect without TLS (the url is not amqps://)");
        }
    }
    check_file(ep_cs, "ca_file", d);
    check_file(ep_cs, "cert_file", d);
    check_file(ep_cs, "key_file", d);
    const brg_conf_node_t *key = brg_conf_get(ep_cs, "key_file");
    if (key && !brg_conf_get(ep_cs, "cert_file")) {
        brg_diag_error(d, key, "key_file needs cert_file");
    }
    if (d->errors != errors) {
        free_settings(c);
        return NULL;
    }
    return c;
}

static void check_len(const brg_conf_node_t *cs, const char *key, brg_diag_t *d)
{
    const brg_conf_node_t *n = brg_conf_get(cs, key);
    if (n && n->type == BRG_CONF_STRING && strlen(n->v.s) > 255) {
        brg_diag_error(d, n, "longer than 255 bytes (AMQP 0-9-1 names are short strings)");
    }
}

/* on_reject, check_dead_letter_exchange and queue_arguments (only where msgbridge declares
 * the queue: an existing queue keeps the arguments it was declared with). */
static void check_reject(const brg_conf_node_t *from_cs, bool declares, brg_diag_t *d)
{
    const brg_conf_node_t *qa = brg_conf_get(from_cs, "queue_arguments");
    bool has_dlx = false;
    if (qa && !declares) {
        brg_diag_error(d, qa,
                       "queue_arguments needs exchange (msgbridge declares the queue only then; "
                       "an existing queue keeps the arguments it was declared with)");
    }
    for (size_t i = 0; qa && qa->type == BRG_CONF_GROUP && i < qa->nkids; i++) {
        const brg_conf_node_t *k = qa->kids[i];
        if (k->type == BRG_CONF_GROUP || k->type == BRG_CONF_LIST) {
            brg_diag_error(d, k, "a queue argument is a string, an integer, a float or a bool, "
                                 "not a %s", brg_conf_type_name(k->type));
        }
        if (strlen(k->name) > 255) {
            brg_diag_error(d, k, "longer than 255 bytes (AMQP 0-9-1 names are short strings)");
        }
        if (strcmp(k->name, "x-dead-letter-exchange") == 0) {
            has_dlx = true;
            if (k->type != BRG_CONF_STRING) {
                brg_diag_error(d, k, "must be a string (an exchange name)");
            }
        }
    }
    const brg_conf_node_t *r = brg_conf_get(from_cs, "on_reject");
    bool reject = strcmp(brg_conf_str(from_cs, "on_reject", "keep"), "reject") == 0;
    const brg_conf_node_t *c = brg_conf_get(from_cs, "check_dead_letter_exchange");
    if (c && !reject) {
        brg_diag_warn(d, c, "has no effect without on_reject = \"reject\"");
    }
    bool check = !c || c->type != BRG_CONF_BOOL || c->v.b;
    if (reject && declares && check && !has_dlx) {
        brg_diag_warn(d, r,
                      "the declared queue has no x-dead-letter-exchange in queue_arguments: "
                      "unless it already has one, a rejected message stops the route (set "
                      "check_dead_letter_exchange = false if a policy sets it)");
    }
}

static void check_source(const brg_conf_node_t *ep_cs, const brg_conf_node_t *from_cs, brg_diag_t *d)
{
    (void)ep_cs;
    const brg_conf_node_t *q = brg_conf_get(from_cs, "queue");
    const brg_conf_node_t *x = brg_conf_get(from_cs, "exchange");
    const brg_conf_node_t *bk = brg_conf_get(from_cs, "binding_key");
    if (!q && !x) {
        brg_diag_error(d, from_cs,
                       "set queue (to consume an existing queue), or exchange (and binding_key) "
                       "to declare a durable queue bound to it");
    }
    if (bk && !x) {
        brg_diag_error(d, bk, "binding_key needs exchange");
    }
    if (q && q->type == BRG_CONF_STRING && q->v.s[0] == 0) {
        brg_diag_error(d, q, "must not be empty");
    }
    check_len(from_cs, "queue", d);
    check_len(from_cs, "exchange", d);
    check_len(from_cs, "binding_key", d);
    check_reject(from_cs, x != NULL, d);
}

static void check_sink(const brg_conf_node_t *ep_cs, const brg_conf_node_t *to_cs, brg_diag_t *d)
{
    (void)ep_cs;
    if (!brg_conf_get(to_cs, "exchange") && !brg_conf_get(to_cs, "routing_key")) {
        brg_diag_error(d, to_cs,
                       "set exchange and/or routing_key (with the default exchange \"\", the "
                       "routing key is a queue name)");
    }
}

/* The same broker (same url), and the sink publishes to the default exchange with the source
 * queue's name as routing key, or to the exchange the source binds with a matching key. */
static const brg_conf_node_t *writes_to_source(const brg_conf_node_t *src_ep_cs, const brg_conf_node_t *from_cs,
                                         const brg_conf_node_t *sink_ep_cs, const brg_conf_node_t *to_cs)
{
    if (strcmp(brg_conf_str(src_ep_cs, "url", ""), brg_conf_str(sink_ep_cs, "url", "")) != 0) {
        return NULL;
    }
    const char *queue = brg_conf_str(from_cs, "queue", NULL);
    const char *from_x = brg_conf_str(from_cs, "exchange", NULL);
    const char *bkey = brg_conf_str(from_cs, "binding_key", "");
    const char *to_x = brg_conf_str(to_cs, "exchange", "");
    const brg_conf_node_t *rk = brg_conf_get(to_cs, "routing_key");
    const char *key = rk && rk->type == BRG_CONF_STRING ? rk->v.s : "";
    if (strchr(key, '$')) {
        return NULL; /* a template: known only per message */
    }
    if (to_x[0] == 0 && queue && strcmp(key, queue) == 0) {
        return rk;
    }
    if (from_x && strcmp(to_x, from_x) == 0 &&
        (strcmp(bkey, "#") == 0 || strcmp(bkey, key) == 0)) {
        return brg_conf_get(to_cs, "exchange");
    }
    return NULL;
}

/* ---- open / close ------------------------------------------------------------------------- */

/* A route's `to` here: its templates and settings, looked up once (the sink's opaque). */
static rmq_sink_t *sink_new(brg_sink_t *sink)
{
    rmq_sink_t *rs = brg_xcalloc(1, sizeof(*rs));
    rs->sink = sink;
    rs->exchange = brg_sink_template(sink, "exchange");
    rs->routing_key = brg_sink_template(sink, "routing_key");
    rs->mandatory = brg_conf_bool(brg_sink_conf(sink), "mandatory", true);
    brg_sink_set_opaque(sink, rs);
    return rs;
}

static brg_err_t rmq_open(brg_endpoint_t *ep, void **statep, char *errstr, size_t errstr_size)
{
    brg_rmq_t *r = brg_xcalloc(1, sizeof(*r));
    r->ep = ep;
    r->log = brg_endpoint_logctx(ep);
    r->conf = brg_endpoint_settings(ep); /* never NULL: brg_endpoint_start checks */
    r->ring_cap = r->conf->window;
    r->ring = brg_xcalloc(r->ring_cap, sizeof(*r->ring));
    init_amqp_pool(&r->pool, 4096);
    /* Reconnect after 0.5 s growing to 30 s: quick after a broker restart, gentle on a broker
     * that stays down. A closed publish channel is reopened sooner. */
    brg_backoff_init(&r->bo, 500, 30000);
    brg_backoff_init(&r->pub_bo, 200, 10000);
    r->nsrcs = brg_endpoint_source_count(ep);
    r->srcs = r->nsrcs ? brg_xcalloc(r->nsrcs, sizeof(*r->srcs)) : NULL;
    r->bl.ch = (amqp_channel_t)(RMQ_CH_SOURCE0 + r->nsrcs);
    for (size_t i = 0; i < r->nsrcs; i++) {
        r->srcs[i] = brg_xmalloc(sizeof(rmq_src_t));
        brg_rmq_source_init(r, r->srcs[i], brg_endpoint_source(ep, i),
                            (amqp_channel_t)(RMQ_CH_SOURCE0 + i));
    }
    r->nsinks = brg_endpoint_sink_count(ep);
    r->sinks = r->nsinks ? brg_xcalloc(r->nsinks, sizeof(*r->sinks)) : NULL;
    for (size_t i = 0; i < r->nsinks; i++) {
        r->sinks[i] = sink_new(brg_endpoint_sink(ep, i));
    }
    *statep = r;
    return BRG_OK;
}

/* ---- routes changed by a reload (adapter.h add_source) ---------------------------------------- */

static bool channel_taken(const brg_rmq_t *r, amqp_channel_t ch)
{
    if (ch == r->bl.ch) {
        return true;
    }
    for (size_t i = 0; i < r->nsrcs; i++) {
        if (r->srcs[i]->ch == ch) {
            return true;
        }
    }
    for (size_t i = 0; i < r->nclosing; i++) {
        if (r->closing[i] == ch) {
            return true;
        }
    }
    return false;
}

void brg_rmq_channel_close_ok(brg_rmq_t *r, amqp_channel_t ch)
{
    for (size_t i = 0; i < r->nclosing; i++) {
        if (r->closing[i] == ch) {
            r->closing[i] = r->closing[--r->nclosing];
            return;
        }
    }
}

/* A new source's channel: the lowest number no source, the backlog check or a closing
 * channel holds (the broker's channel_max is 2047 by default: far more than routes). */
static brg_err_t rmq_add_source(void *state, brg_source_t *src, char *errstr, size_t errstr_size)
{
    brg_rmq_t *r = state;
    amqp_channel_t ch = RMQ_CH_SOURCE0;
    while (channel_taken(r, ch)) {
        if (ch == 65535) {
            brg_errfmt(errstr, errstr_size, "no free AMQP channel number");
            return BRG_ERR_INVALID;
        }
        ch++;
    }
    rmq_src_t *s = brg_xmalloc(sizeof(*s));
    brg_rmq_source_init(r, s, src, ch);
    r->srcs = brg_xrealloc(r->srcs, (r->nsrcs + 1) * sizeof(*r->srcs));
    r->srcs[r->nsrcs++] = s;
    /* Subscribed by brg_rmq_sources_maintain at the loop's next turn, or after a connect. */
    return BRG_OK;
}

static void rmq_remove_source(void *state, brg_source_t *src)
{
    brg_rmq_t *r = state;
    rmq_src_t *s = brg_source_opaque(src);
    for (size_t i = 0; i < r->nsrcs; i++) {
        if (r->srcs[i] == s) {
            memmove(r->srcs + i, r->srcs + i + 1, (r->nsrcs - i - 1) * sizeof(*r->srcs));
            r->nsrcs--;
            break;
        }
    }
    if (r->bl.asking == s) {
        r->bl.asking = NULL; /* its answer, when it comes, is for nobody */
    }
    amqp_channel_t closing = brg_rmq_source_detach(s);
    if (closing) {
        r->closing = brg_xrealloc(r->closing, (r->nclosing + 1) * sizeof(*r->closing));
        r->closing[r->nclosing++] = closing;
    }
    brg_rmq_source_fini(s);
    free(s);
    brg_source_set_opaque(src, NULL);
}

static brg_err_t rmq_add_sink(void *state, brg_sink_t *sink, char *errstr, size_t errstr_size)
{
    brg_rmq_t *r = state;
    r->sinks = brg_xrealloc(r->sinks, (r->nsinks + 1) * sizeof(*r->sinks));
    r->sinks[r->nsinks++] = sink_new(sink);
    return BRG_OK;
}

static void rmq_remove_sink(void *state, brg_sink_t *sink)
{
    brg_rmq_t *r = state;
    /* Drained: no publish of it waits for a confirm. */
    for (size_t i = 0; i < r->nsinks; i++) {
        if (r->sinks[i]->sink == sink) {
            free(r->sinks[i]);
            memmove(r->sinks + i, r->sinks + i + 1, (r->nsinks - i - 1) * sizeof(*r->sinks));
            r->nsinks--;
            break;
        }
    }
    brg_sink_set_opaque(sink, NULL);
}

static void rmq_close(void *state)
{
    brg_rmq_t *r = state;
    if (!r) {
        return;
    }
    if (r->conn) {
        amqp_destroy_connection(r->conn);
        r->conn = NULL;
    }
    for (size_t i = 0; i < r->nsrcs; i++) {
        brg_rmq_source_fini(r->srcs[i]);
        free(r->srcs[i]);
    }
    free(r->srcs);
    free(r->closing);
    for (size_t i = 0; i < r->ring_cap; i++) {
        free(r->ring[i].returned);
    }
    for (size_t i = 0; i < r->nsinks; i++) {
        brg_sink_set_opaque(r->sinks[i]->sink, NULL);
        free(r->sinks[i]);
    }
    free(r->sinks);
    free(r->ring);
    brg_rmq_asm_reset(&r->pub_as);
    empty_amqp_pool(&r->pool);
    for (size_t i = 0; i < r->nexchanges; i++) {
        free(r->exchanges[i]);
    }
    free(r->exchanges);
    free(r->lost_reason);
    brg_buf_fini(&r->scratch_ex);
    brg_buf_fini(&r->scratch_rk);
    free(r);
}

/* ---- the loop ----------------------------------------------------------------------------- */

/* Settled envelopes that arrive while there is no connection: their deliveries were requeued
 * by the broker when the connection went, so there is nothing to acknowledge. */
static void drop_settled(brg_rmq_t *r)
{
    brg_outcome_t o;
    brg_envelope_t *env;
    while ((env = brg_endpoint_take_settled(r->ep, &o)) != NULL) {
        brg_source_done(env);
    }
}

/* Sleep ms while disconnected, still returning credit for settles that come back.
 * Returns: true if stopping. */
static bool wait_disconnected(brg_rmq_t *r, uint32_t ms)
{
    int64_t deadline = brg_now_ns() + (int64_t)ms * 1000000;
    while (!brg_endpoint_stopping(r->ep)) {
        int64_t left = (deadline - brg_now_ns()) / 1000000;
        if (left <= 0) {
            break;
        }
        if (brg_endpoint_sleep(r->ep, (uint32_t)left)) {
            break;
        }
        /* Woken by the mailbox: publishes wait for the connection, settles are dropped. */
        brg_endpoint_clear_wake(r->ep);
        brg_endpoint_sync_routes(r->ep);
        drop_settled(r);
    }
    return brg_endpoint_stopping(r->ep);
}

/* Wait for the socket or the mailbox. Returns: true if the socket has something to read (or
 * failed: reading then reports it). */
static bool poll_once(brg_rmq_t *r, int timeout_ms)
{
    struct pollfd pfd[2];
    pfd[0].fd = amqp_get_sockfd(r->conn);
    pfd[0].events = POLLIN;
    pfd[1].fd = brg_endpoint_wakefd(r->ep);
    pfd[1].events = POLLIN;
    brg_endpoint_flush(r->ep);
    int n = poll(pfd, 2, timeout_ms);
    if (n > 0 && (pfd[1].revents & POLLIN)) {
        /* Cleared before the next drain: anything pushed after this wakes the next poll. */
        brg_endpoint_clear_wake(r->ep);
    }
    return n < 0 || (n > 0 && pfd[0].revents != 0);
}

/* Whether to ask rabbitmq-c for frames now. An attempt on a drained socket costs a recv and a
 * poll that find nothing, which on a quiet route happened twice per message for nothing (a
 * third of the endpoint thread's system calls); so read when the last poll saw the socket
 * readable, when rabbitmq-c holds frames or bytes already (an RPC reads ahead), and otherwise
 * at least every RMQ_READ_EVERY_NS: while the mailbox keeps the loop busy (a backlog being
 * published) confirms and deliveries are still read about every millisecond, and an idle loop
 * (woken every second) still lets rabbitmq-c send heartbeats and notice a silent broker. */
#define RMQ_READ_EVERY_NS (1000000LL)
static bool read_due(brg_rmq_t *r, bool sock_ready, int64_t now, int64_t last_read_ns)
{
    return sock_ready || amqp_frames_enqueued(r->conn) || amqp_data_in_buffer(r->conn) ||
           now - last_read_ns >= RMQ_READ_EVERY_NS;
}

/* Stopping: the core has drained the routes (or given up waiting). Wait a little for the
 * confirms of what is still in flight, acknowledge what is settled, close cleanly. */
static void shutdown_conn(brg_rmq_t *r)
{
    char err[600] = "";
    int64_t deadline = brg_now_ns() + (int64_t)5000 * 1000000;
    while (r->conn && r->inflight > 0 && brg_now_ns() < deadline) {
        bool did = false;
        int nf = 0;
        int64_t next = INT64_MAX;
        if (brg_rmq_sources_settle(r, brg_now_ns(), &next, &did, err, sizeof(err)) != BRG_OK ||
            brg_rmq_read_frames(r, 512, &nf, err, sizeof(err)) != BRG_OK) {
            brg_rmq_disconnect(r, err, false);
            break;
        }
        if (!did && nf == 0 && !amqp_frames_enqueued(r->conn) && !amqp_data_in_buffer(r->conn)) {
            poll_once(r, 20);
        }
    }
    if (r->conn) {
        bool did = false;
        /* Retries still waiting for their backoff are not nacked: closing requeues them. */
        int64_t next = INT64_MAX;
        if (brg_rmq_sources_settle(r, brg_now_ns(), &next, &did, err, sizeof(err)) != BRG_OK) {
            brg_rmq_disconnect(r, err, false);
        }
    }
    for (size_t i = 0; i < r->nsrcs; i++) {
        brg_rmq_source_drop_waiting(r->srcs[i]);
    }
    brg_rmq_disconnect(r, "the bridge is stopping", r->conn != NULL);
    drop_settled(r);
}

/* Move messages until the connection is lost (returns the error) or the endpoint is asked to
 * stop (returns BRG_OK after closing). */
static brg_err_t loop(brg_rmq_t *r, char *errstr, size_t errstr_size)
{
    bool sock_ready = true;
    int64_t last_read_ns = 0;
    for (;;) {
        if (brg_endpoint_stopping(r->ep)) {
            shutdown_conn(r);
            return BRG_OK;
        }
        /* The stall watchdog saw this connection take work and answer nothing: drop it as if
         * lost (unconfirmed publishes settle RETRY, unacked deliveries go back to the queue). */
        char why[300];
        if (brg_endpoint_reconnect_requested(r->ep, why, sizeof(why))) {
            brg_errfmt(errstr, errstr_size, "%s", why);
            return BRG_ERR_TRANSPORT;
        }
        brg_endpoint_sync_routes(r->ep);
        bool did = false, waiting = false;
        int64_t now = brg_now_ns();
        /* Wake at least every second: rabbitmq-c sends heartbeats and notices a silent broker
         * only while it is called. */
        int64_t next = now + (int64_t)1000 * 1000000;
        brg_err_t rc = brg_rmq_sink_maintain(r, now, &next, errstr, errstr_size);
        if (rc == BRG_OK) {
            rc = brg_rmq_sources_maintain(r, now, &next, errstr, errstr_size);
        }
        if (rc == BRG_OK) {
            rc = brg_rmq_backlog_maintain(r, now, &next, errstr, errstr_size);
        }
        if (rc == BRG_OK) {
            rc = brg_rmq_sources_settle(r, now, &next, &did, errstr, errstr_size);
        }
        if (rc == BRG_OK && brg_rmq_sources_submit_waiting(r, &waiting)) {
            did = true;
        }
        if (rc == BRG_OK) {
            rc = brg_rmq_sink_publish(r, &did, errstr, errstr_size);
        }
        int nf = 0;
        if (rc == BRG_OK && r->conn && read_due(r, sock_ready, now, last_read_ns)) {
            rc = brg_rmq_read_frames(r, 512, &nf, errstr, errstr_size);
            last_read_ns = now;
            /* Fewer than asked for: it stopped at an empty socket. */
            sock_ready = nf == 512;
        }
        if (rc != BRG_OK) {
            return rc;
        }
        if (did || nf > 0 || amqp_frames_enqueued(r->conn) || amqp_data_in_buffer(r->conn)) {
            continue;
        }
        int64_t ms = (next - brg_now_ns()) / 1000000;
        if (ms < 0) {
            ms = 0;
        }
        /* Deliveries waiting for credit: credit comes back with settles (which wake us), but
         * a route leaving a pause does not wake anyone, so look again soon. */
        if (waiting && ms > 20) {
            ms = 20;
        }
        sock_ready = poll_once(r, (int)ms);
    }
}

static brg_err_t rmq_run(void *state, brg_endpoint_t *ep, char *errstr, size_t errstr_size)
{
    (void)errstr;
    (void)errstr_size;
    brg_rmq_t *r = state;
    bool attempted = false;
    while (!brg_endpoint_stopping(ep)) {
        char err[600] = "";
        if (attempted) {
            brg_endpoint_count_reconnect(ep);
        }
        attempted = true;
        brg_err_t rc = brg_rmq_connect(r, err, sizeof(err));
        if (rc != BRG_OK) {
            brg_endpoint_set_connected(ep, false, err);
            uint32_t wait = brg_backoff_next(&r->bo);
            /* Refused credentials or vhost need an operator: say so loudly, keep trying. */
            brg_log(rc == BRG_ERR_AUTH ? BRG_LOG_ERROR : BRG_LOG_WARN, r->log,
                    "%s (retrying in %u ms)", err, wait);
            if (wait_disconnected(r, wait)) {
                break;
            }
            continue;
        }
        brg_backoff_reset(&r->bo);
        brg_log_info(r->log, "connected to %s (vhost \"%s\", frame_max %d, heartbeat %d s)",
                     r->conf->url_redacted, r->conf->vhost, amqp_get_frame_max(r->conn),
                     amqp_get_heartbeat(r->conn));
        brg_endpoint_set_connected(ep, true, NULL);
        rc = loop(r, err, sizeof(err));
        if (rc == BRG_OK) {
            break;
        }
        brg_endpoint_set_connected(ep, false, err);
        brg_rmq_disconnect(r, err, false);
        uint32_t wait = brg_backoff_next(&r->bo);
        brg_log_warn(r->log, "%s (reconnecting in %u ms)", err, wait);
        if (wait_disconnected(r, wait)) {
            break;
        }
    }
    /* Stopping while disconnected: nothing is in flight (a lost connection settled it all). */
    for (size_t i = 0; i < r->nsrcs; i++) {
        brg_rmq_source_drop_waiting(r->srcs[i]);
    }
    brg_rmq_disconnect(r, "the bridge is stopping", false);
    drop_settled(r);
    return BRG_OK;
}

/* ---- metrics ------------------------------------------------------------------------------ */

void brg_rmq_metrics(brg_endpoint_t *const *eps, size_t n, struct brg_metrics_out *out)
{
    static const struct {
        const char *name, *type, *help;
    } ep_fams[] = {
        {"msgbridge_rabbitmq_published_total", "counter", "Messages published (basic.publish)."},
        {"msgbridge_rabbitmq_confirmed_total", "counter",
         "Publishes confirmed by the broker (basic.ack)."},
        {"msgbridge_rabbitmq_returned_total", "counter",
         "Mandatory publishes returned unroutable (basic.return)."},
        {"msgbridge_rabbitmq_nacked_total", "counter",
         "Publishes the broker refused (basic.nack), retried."},
        {"msgbridge_rabbitmq_publish_in_flight", "gauge", "Publishes awaiting the confirm."},
        {"msgbridge_rabbitmq_blocked", "gauge",
         "1 while the broker blocks publishing (connection.blocked: memory or disk alarm)."},
    };
    char e[256], rt[256], q[512];
    for (size_t f = 0; f < BRG_ARRAY_SIZE(ep_fams); f++) {
        brg_metrics_printf(out, "# HELP %s %s\n# TYPE %s %s\n", ep_fams[f].name, ep_fams[f].help,
                           ep_fams[f].name, ep_fams[f].type);
        for (size_t i = 0; i < n; i++) {
            brg_rmq_t *r = brg_endpoint_state(eps[i]);
            uint64_t v = f == 0   ? r->published
                         : f == 1 ? r->confirmed
                         : f == 2 ? r->returned
                         : f == 3 ? r->nacked
                         : f == 4 ? r->inflight_gauge
                                  : (uint64_t)r->blocked_gauge;
            brg_metrics_printf(out, "%s{endpoint=\"%s\"} %llu\n", ep_fams[f].name,
                               brg_prom_label(brg_endpoint_name(eps[i]), e, sizeof(e)),
                               (unsigned long long)v);
        }
    }
    static const struct {
        const char *name, *help;
    } src_fams[] = {
        {"msgbridge_rabbitmq_delivered_total", "Deliveries received from the route's queue."},
        {"msgbridge_rabbitmq_acked_total", "Deliveries acknowledged (basic.ack)."},
        {"msgbridge_rabbitmq_requeued_total", "Deliveries requeued for a retry (basic.nack)."},
        {"msgbridge_rabbitmq_dead_lettered_total",
         "Deliveries rejected to the queue's dead-letter exchange (basic.reject, on_reject = "
         "reject)."},
    };
    for (size_t f = 0; f < BRG_ARRAY_SIZE(src_fams); f++) {
        brg_metrics_printf(out, "# HELP %s %s\n# TYPE %s counter\n", src_fams[f].name,
                           src_fams[f].help, src_fams[f].name);
        for (size_t i = 0; i < n; i++) {
            brg_rmq_t *r = brg_endpoint_state(eps[i]);
            for (size_t j = 0; j < r->nsrcs; j++) {
                rmq_src_t *s = r->srcs[j];
                uint64_t v = f == 0   ? s->delivered
                             : f == 1 ? s->acked
                             : f == 2 ? s->requeued
                                      : s->dead_lettered;
                brg_metrics_printf(out, "%s{endpoint=\"%s\",route=\"%s\",queue=\"%s\"} %llu\n",
                                   src_fams[f].name, brg_prom_label(brg_endpoint_name(eps[i]), e, sizeof(e)),
                                   brg_prom_label(brg_source_route_name(s->src), rt, sizeof(rt)),
                                   brg_prom_label(s->queue, q, sizeof(q)), (unsigned long long)v);
            }
        }
    }
}

const brg_adapter_t brg_rabbitmq_adapter = {
    .name = "rabbitmq",
    .description = "RabbitMQ and other AMQP 0-9-1 brokers (rabbitmq-c): queues, exchanges, "
                   "publisher confirms",
    .caps = BRG_CAP_SOURCE | BRG_CAP_SINK,
    .endpoint_keys = endpoint_keys,
    .source_keys = source_keys,
    .sink_keys = sink_keys,
    .compile_endpoint = compile_endpoint,
    .sink_window = BRG_BROKER_SINK_WINDOW,
    .free_settings = free_settings,
    .check_source = check_source,
    .check_sink = check_sink,
    .writes_to_source = writes_to_source,
    .open = rmq_open,
    .run = rmq_run,
    .wake = NULL,
    .close = rmq_close,
    .add_source = rmq_add_source,
    .remove_source = rmq_remove_source,
    .add_sink = rmq_add_sink,
    .remove_sink = rmq_remove_sink,
    .metrics = brg_rmq_metrics,
};
