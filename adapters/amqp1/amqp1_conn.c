/* The amqp1 endpoint thread: proton proactor loop, connection set-up (SASL, TLS), event
 * dispatch, reconnect with jittered backoff and the orderly close when stopping.
 *
 * Other threads reach this loop only through amqp1_wake() -> pn_proactor_interrupt. The
 * interrupt arrives in a proactor batch, where this thread calls pn_connection_wake on its own
 * connection; all work on the connection (acknowledgements, publishing, credit) then happens in
 * service(), inside one of the connection's own batches, so that proton writes the frames at
 * once. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <proton/condition.h>
#include <proton/event.h>
#include <proton/sasl.h>
#include <proton/terminus.h>
#include <proton/transport.h>

#include "adapters/amqp1/amqp1_int.h"

/* The housekeeping tick: link re-attach timers and credit top-ups are checked at least this
 * often even when no event arrives. */
#define TICK_MS 1000
/* How long an orderly close may take when stopping before the socket is just dropped. */
#define CLOSE_TIMEOUT_MS 5000

bool brg_amqp1_condition_text(pn_condition_t *cond, char *buf, size_t size)
{
    if (!cond || !pn_condition_is_set(cond)) {
        return false;
    }
    const char *name = pn_condition_get_name(cond);
    const char *desc = pn_condition_get_description(cond);
    if (desc && *desc) {
        brg_errfmt(buf, size, "%s: %s", name ? name : "error", desc);
    } else {
        brg_errfmt(buf, size, "%s", name ? name : "error");
    }
    /* The broker's words are kept; the hint says what to do about the common case. */
    if (name && strcmp(name, "amqp:unauthorized-access") == 0) {
        size_t n = strlen(buf);
        brg_errfmt(buf + n, size - n, " (check user, password and sasl_mechanisms)");
    }
    return true;
}

void brg_amqp1_link_name(brg_amqp1_t *a, const char *kind, const char *address, char *buf,
                         size_t size)
{
    brg_errfmt(buf, size, "%s:%s:%s:%" PRIu64, a->container_id, kind, address, ++a->link_seq);
}

static void remember_error(brg_amqp1_t *a, pn_condition_t *cond)
{
    char buf[sizeof(a->error)];
    if (brg_amqp1_condition_text(cond, buf, sizeof(buf))) {
        memcpy(a->error, buf, sizeof(buf));
    }
}

/* ---- connect / disconnect ------------------------------------------------------------------ */

static void arm_timer(brg_amqp1_t *a)
{
    int64_t now = brg_now_ns();
    int64_t ms = TICK_MS;
    if (!a->conn && a->reconnect_at_ns) {
        int64_t left = (a->reconnect_at_ns - now) / 1000000;
        ms = left < ms ? left : ms;
    }
    pn_proactor_set_timeout(a->proactor, (pn_millis_t)(ms > 0 ? ms : 0));
}

static void start_connect(brg_amqp1_t *a)
{
    a->reconnect_at_ns = 0;
    a->error[0] = 0;
    a->conn = pn_connection();
    pn_connection_set_container(a->conn, a->container_id);
    pn_connection_set_hostname(a->conn, a->url->host);
    if (a->user) {
        pn_connection_set_user(a->conn, a->user);
    }
    if (a->password) {
        pn_connection_set_password(a->conn, a->password);
    }
    pn_transport_t *t = pn_transport();
    if (a->idle_timeout_ms) {
        pn_transport_set_idle_timeout(t, a->idle_timeout_ms);
    }
    pn_sasl_t *sasl = pn_sasl(t);
    pn_sasl_allowed_mechs(sasl, a->mechs);
    if (!a->url->tls) {
        /* PLAIN over a cleartext amqp:// url is what the operator configured; proton refuses
         * it otherwise. */
        pn_sasl_set_allow_insecure_mechs(sasl, true);
    } else {
        pn_ssl_t *ssl = pn_ssl(t);
        pn_ssl_init(ssl, a->ssl_domain, NULL);
        pn_ssl_set_peer_hostname(ssl, a->url->host);
    }
    pn_connection_open(a->conn);
    a->ssn = pn_session(a->conn);
    pn_session_open(a->ssn);
    a->open = false;
    a->closing = false;
    char addr[PN_MAX_ADDR];
    pn_proactor_addr(addr, sizeof(addr), a->url->host, a->url->port);
    brg_log_debug(a->log, "connecting to %s", addr);
    pn_proactor_connect2(a->proactor, a->conn, t, addr);
}

/* The broker's "product" and "version" open properties ("RabbitMQ", "3.10.8"), or "". */
static void remote_product(pn_connection_t *c, char *prod, size_t psize, char *ver,
                           size_t vsize)
{
    pn_data_t *p = pn_connection_remote_properties(c);
    prod[0] = ver[0] = 0;
    pn_data_rewind(p);
    if (!pn_data_next(p) || pn_data_type(p) != PN_MAP) {
        return;
    }
    size_t n = pn_data_get_map(p);
    pn_data_enter(p);
    for (size_t i = 0; i + 2 <= n && pn_data_next(p); i += 2) {
        pn_bytes_t k = pn_data_type(p) == PN_SYMBOL ? pn_data_get_symbol(p) : pn_bytes(0, "");
        if (!pn_data_next(p) || pn_data_type(p) != PN_STRING) {
            continue;
        }
        pn_bytes_t v = pn_data_get_string(p);
        if (k.size == 7 && memcmp(k.start, "product", 7) == 0) {
            brg_errfmt(prod, psize, "%.*s", (int)v.size, v.start);
        } else if (k.size == 7 && memcmp(k.start, "version", 7) == 0) {
            brg_errfmt(ver, vsize, "%.*s", (int)v.size, v.start);
        }
    }
    pn_data_exit(p);
}

static void on_remote_open(brg_amqp1_t *a)
{
    char prod[96], ver[64];
    remote_product(a->conn, prod, sizeof(prod), ver, sizeof(ver));
    a->family = a->family_cfg != BRG_AMQP1_AUTO ? a->family_cfg
                                                : brg_amqp1_family_detect(prod[0] ? prod : NULL);
    a->open = true;
    brg_backoff_reset(&a->backoff);
    brg_log_info(a->log, "connected to %s:%s (%s%s%s, %s addresses, container %s)", a->url->host,
                 a->url->port, prod[0] ? prod : "unknown broker", ver[0] ? " " : "", ver,
                 brg_amqp1_family_name(a->family), a->container_id);
    brg_endpoint_set_connected(a->ep, true, NULL);
    brg_amqp1_rx_attach_all(a);
}

static void on_transport_closed(brg_amqp1_t *a, pn_transport_t *t)
{
    remember_error(a, pn_transport_condition(t));
    if (!a->error[0]) {
        brg_errfmt(a->error, sizeof(a->error), "connection closed");
    }
    bool was_open = a->open;
    /* Every envelope this endpoint holds as a sink settles RETRY: its confirm can no longer
     * come. Deliveries received as a source die with the connection: the broker redelivers
     * them, and their late settles are recognised by src_epoch and only freed. */
    brg_amqp1_tx_reset(a, a->error);
    brg_amqp1_rx_reset(a);
    a->conn = NULL; /* the proactor frees it after this batch */
    a->ssn = NULL;
    a->open = false;
    a->conn_gen++;
    if (brg_endpoint_stopping(a->ep)) {
        return;
    }
    uint32_t delay = brg_backoff_next(&a->backoff);
    a->reconnect_at_ns = brg_now_ns() + (int64_t)delay * 1000000;
    brg_endpoint_count_reconnect(a->ep);
    brg_endpoint_set_connected(a->ep, false, a->error);
    if (was_open) {
        brg_log_error(a->log, "connection to %s:%s lost: %s; reconnecting in %u ms", a->url->host,
                      a->url->port, a->error, delay);
    } else {
        brg_log_error(a->log, "cannot connect to %s:%s: %s; retrying in %u ms", a->url->host,
                      a->url->port, a->error, delay);
    }
}

/* ---- events -------------------------------------------------------------------------------- */

static void on_link_closed(brg_amqp1_t *a, pn_link_t *l)
{
    char why[512];
    if (!brg_amqp1_condition_text(pn_link_remote_condition(l), why, sizeof(why))) {
        brg_errfmt(why, sizeof(why), "detached by the broker");
    }
    if (pn_link_is_receiver(l)) {
        amqp1_rx_t *rx = brg_amqp1_rx_of_link(a, l);
        if (rx) {
            brg_amqp1_rx_link_closed(a, rx, why);
            return;
        }
    } else {
        amqp1_tx_t *tx = brg_amqp1_tx_of_link(a, l);
        if (tx) {
            brg_amqp1_tx_link_closed(a, tx, why);
            return;
        }
    }
    if (pn_link_state(l) & PN_LOCAL_ACTIVE) {
        pn_link_close(l);
    }
}

static void handle(brg_amqp1_t *a, pn_event_t *e)
{
    switch (pn_event_type(e)) {
    case PN_CONNECTION_REMOTE_OPEN:
        on_remote_open(a);
        break;
    case PN_CONNECTION_REMOTE_CLOSE:
        remember_error(a, pn_connection_remote_condition(pn_event_connection(e)));
        brg_amqp1_rx_connection_refused(a, pn_connection_remote_condition(pn_event_connection(e)));
        pn_connection_close(pn_event_connection(e));
        break;
    case PN_SESSION_REMOTE_CLOSE:
        /* One session carries every link: losing it is losing the connection. */
        remember_error(a, pn_session_remote_condition(pn_event_session(e)));
        brg_amqp1_rx_connection_refused(a, pn_session_remote_condition(pn_event_session(e)));
        pn_connection_close(pn_event_connection(e));
        break;
    case PN_LINK_REMOTE_OPEN: {
        pn_link_t *l = pn_event_link(e);
        amqp1_rx_t *rx = pn_link_is_receiver(l) ? brg_amqp1_rx_of_link(a, l) : NULL;
        /* A refused attach is answered with a null source and an immediate detach (which
         * sets the error): only a real source clears it. */
        if (rx && pn_terminus_get_type(pn_link_remote_source(l)) != PN_UNSPECIFIED) {
            rx->attach_after_ns = 0;
            brg_source_set_error(rx->src, NULL);
        }
        break;
    }
    case PN_LINK_REMOTE_CLOSE:
    case PN_LINK_REMOTE_DETACH:
        on_link_closed(a, pn_event_link(e));
        break;
    case PN_LINK_FLOW: {
        pn_link_t *l = pn_event_link(e);
        if (pn_link_is_sender(l)) {
            brg_amqp1_tx_flow(a, l);
        }
        break;
    }
    case PN_DELIVERY: {
        pn_delivery_t *d = pn_event_delivery(e);
        if (pn_link_is_receiver(pn_delivery_link(d))) {
            brg_amqp1_rx_delivery(a, d);
        } else {
            brg_amqp1_tx_delivery(a, d);
        }
        break;
    }
    case PN_TRANSPORT_ERROR:
        remember_error(a, pn_transport_condition(pn_event_transport(e)));
        brg_amqp1_rx_connection_refused(a, pn_transport_condition(pn_event_transport(e)));
        break;
    case PN_TRANSPORT_CLOSED:
        if (pn_event_connection(e) == a->conn) {
            on_transport_closed(a, pn_event_transport(e));
        }
        break;
    case PN_PROACTOR_INTERRUPT:
    case PN_PROACTOR_TIMEOUT:
        /* The mailbox has work, or a timer is due: do it inside the connection's batch. */
        if (a->conn && a->open) {
            pn_connection_wake(a->conn);
        }
        break;
    default:
        break;
    }
}

/* Work on the connection: called only inside one of its event batches. */
/* When an orderly close gives up: CLOSE_TIMEOUT_MS from now, or the bridge's shutdown deadline
 * if that comes first (a frozen broker never confirms). */
static int64_t close_deadline(const brg_amqp1_t *a, int64_t now)
{
    return now + (int64_t)brg_endpoint_stop_budget_ms(a->ep, CLOSE_TIMEOUT_MS) * 1000000;
}

static void service(brg_amqp1_t *a)
{
    int64_t now = brg_now_ns();
    brg_amqp1_rx_drain_settled(a);
    if (brg_endpoint_stopping(a->ep)) {
        if (!a->closing) {
            /* Confirms for what was sent still arrive before the broker's close; what is left
             * unconfirmed at TRANSPORT_CLOSED settles RETRY. */
            a->closing = true;
            if (!a->close_deadline_ns) {
                a->close_deadline_ns = close_deadline(a, now);
            }
            pn_connection_close(a->conn);
        }
        return;
    }
    if (!a->open) {
        return;
    }
    brg_amqp1_rx_service(a, now);
    brg_amqp1_tx_service(a, now);
}

/* At most this long after the loop ends, wait for the proactor to free what it closed. */
#define FREE_WAIT_MS 250

/* Let the proactor finish with the connection it closed, until it says it is inactive (at
 * most FREE_WAIT_MS): proton frees a dropped connection in a later batch, and pn_proactor_free
 * does not free one it is still closing (LeakSanitizer: the pconnection and its transport,
 * after the socket of a frozen broker was dropped at the shutdown deadline). */
static void await_inactive(brg_amqp1_t *a)
{
    pn_proactor_cancel_timeout(a->proactor);
    int64_t until = brg_now_ns() + FREE_WAIT_MS * 1000000LL;
    bool inactive = false;
    while (!inactive && brg_now_ns() < until) {
        pn_event_batch_t *b = pn_proactor_get(a->proactor);
        if (!b) {
            struct timespec ts = {0, 2 * 1000000};
            nanosleep(&ts, NULL);
            continue;
        }
        pn_event_t *e;
        while ((e = pn_event_batch_next(b))) {
            inactive = inactive || pn_event_type(e) == PN_PROACTOR_INACTIVE;
        }
        pn_proactor_done(a->proactor, b);
    }
}

brg_err_t brg_amqp1_run(void *state, brg_endpoint_t *ep, char *errstr, size_t errstr_size)
{
    (void)errstr;
    (void)errstr_size;
    brg_amqp1_t *a = state;
    a->ep = ep;
    char why[300];
    start_connect(a);
    arm_timer(a);
    for (;;) {
        brg_endpoint_flush(ep);
        pn_event_batch_t *batch = pn_proactor_wait(a->proactor);
        pn_connection_t *bc = NULL;
        pn_event_t *e;
        while ((e = pn_event_batch_next(batch))) {
            if (!bc) {
                bc = pn_event_connection(e);
            }
            handle(a, e);
        }
        if (bc && bc == a->conn) {
            service(a);
        }
        pn_proactor_done(a->proactor, batch);

        bool stopping = brg_endpoint_stopping(ep);
        if (!a->conn) {
            /* No connection: settled envelopes can only be freed (the broker redelivers). */
            brg_amqp1_rx_drain_settled(a);
            if (stopping) {
                break;
            }
            if (a->reconnect_at_ns && brg_now_ns() >= a->reconnect_at_ns) {
                start_connect(a);
            }
        } else if (!stopping && brg_endpoint_reconnect_requested(ep, why, sizeof(why))) {
            /* The stall watchdog saw this connection hold work and move nothing: drop it as if
             * lost (TRANSPORT_CLOSED settles what was sent RETRY, the broker redelivers what
             * it sent us) and connect again. */
            brg_log_warn(a->log, "re-establishing the connection: %s", why);
            pn_condition_t *cond = pn_condition();
            pn_condition_set_name(cond, "amqp:connection:forced");
            pn_condition_set_description(cond, why);
            pn_proactor_disconnect(a->proactor, cond);
            pn_condition_free(cond);
        } else if (stopping) {
            if (!a->close_deadline_ns) {
                a->close_deadline_ns = close_deadline(a, brg_now_ns());
            }
            if (!a->closing) {
                pn_connection_wake(a->conn);
            }
            if (brg_now_ns() >= a->close_deadline_ns) {
                /* The broker did not answer our close in time: drop the socket. */
                brg_log_warn(a->log,
                             "broker did not confirm the close in time (%d ms, or the shutdown "
                             "deadline): closing the socket; what was not acknowledged will be "
                             "delivered again",
                             CLOSE_TIMEOUT_MS);
                pn_proactor_disconnect(a->proactor, NULL);
                a->close_deadline_ns = INT64_MAX;
            }
        }
        arm_timer(a);
    }
    await_inactive(a);
    brg_endpoint_set_connected(ep, false, "stopped");
    return BRG_OK;
}
