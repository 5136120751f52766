/* The amqp1 adapter: AMQP 1.0 over qpid-proton's proactor (ActiveMQ Classic and Artemis,
 * Qpid, Azure Service Bus, RabbitMQ's rabbitmq_amqp1_0 plugin). This file holds the adapter
 * table, the configuration schema and checks, and the endpoint state's life cycle; see
 * amqp1_int.h for the other files. Keys and semantics: docs/amqp1.md. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters/amqp1/amqp1_int.h"

/* The words of brg_amqp1_family_parse. */
static const char *const families[] = {"auto", "activemq", "artemis", "rabbitmq", "generic", NULL};
static const char *const reject_policies[] = {"keep", "reject", NULL};
static const char *const retry_outcomes[] = {"released", "modified", NULL};

static const brg_conf_key_t endpoint_keys[] = {
    {.name = "url", .type = BRG_KEY_STRING, .flags = BRG_KEY_REQUIRED,
     .help = "amqp://[user:password@]host[:port], amqps://... (TLS) or host:port"},
    {.name = "user", .type = BRG_KEY_STRING,
     .help = "SASL user (PLAIN); without it the connection is ANONYMOUS"},
    {.name = "password", .type = BRG_KEY_STRING, .flags = BRG_KEY_SECRET,
     .help = "SASL password (or password_file)"},
    {.name = "sasl_mechanisms", .type = BRG_KEY_STRING,
     .help = "space-separated SASL mechanisms to allow (default PLAIN with a user, else "
             "ANONYMOUS)"},
    BRG_CONF_TLS_KEYS,
    {.name = "container_id", .type = BRG_KEY_STRING,
     .help = "AMQP container id (default msgbridge-BRIDGE-ENDPOINT)"},
    {.name = "idle_timeout", .type = BRG_KEY_INT, .flags = BRG_KEY_RANGE, .min = 0, .max = 3600,
     .help = "seconds without traffic before the link is dead (60; 0 off)"},
    {.name = "broker", .type = BRG_KEY_STRING, .words = families,
     .help = "address dialect: auto (default), activemq, artemis, rabbitmq or generic"},
    {.name = NULL},
};

static const brg_conf_key_t source_keys[] = {
    {.name = "address", .type = BRG_KEY_STRING, .flags = BRG_KEY_REQUIRED,
     .help = "queue or topic to receive from"},
    {.name = "on_reject", .type = BRG_KEY_STRING, .words = reject_policies,
     .help = "a message the route rejects without a dead letter: keep (default) or reject"},
    {.name = "on_retry", .type = BRG_KEY_STRING, .words = retry_outcomes,
     .help = "redelivery: released (default) or modified"},
    {.name = "durable", .type = BRG_KEY_BOOL,
     .help = "a topic subscription keeps what is published while msgbridge is away (true)"},
    {.name = "subscription", .type = BRG_KEY_STRING,
     .help = "durable subscription (link) name (default msgbridge-ROUTE)"},
    {.name = NULL},
};

static const brg_conf_key_t sink_keys[] = {
    {.name = "address", .type = BRG_KEY_TEMPLATE, .flags = BRG_KEY_REQUIRED,
     .help = "queue or topic to send to (a template)"},
    {.name = NULL},
};

/* ---- checks (pass 4 of the config load) ----------------------------------------------------- */

static brg_amqp1_family_t endpoint_family(const brg_conf_node_t *ep_cs)
{
    brg_amqp1_family_t f = BRG_AMQP1_AUTO;
    brg_amqp1_family_parse(brg_conf_str(ep_cs, "broker", "auto"), &f);
    return f;
}

static char *dup_opt(const char *s)
{
    return s ? brg_xstrdup(s) : NULL;
}

static void free_settings(void *settings)
{
    amqp1_settings_t *c = settings;
    brg_amqp1_url_fini(&c->url);
    free(c->user);
    brg_free_secret(c->password);
    free(c->mechs);
    free(c);
}

/* adapter.h compile_endpoint: the connection settings, parsed and checked once, at load. */
static void *compile_endpoint(const brg_conf_node_t *ep_cs, brg_diag_t *d)
{
    size_t errors = d->errors;
    amqp1_settings_t *c = brg_xcalloc(1, sizeof(*c));
    const brg_conf_node_t *url = brg_conf_get(ep_cs, "url");
    char err[512];
    bool parsed = false;
    if (url && url->type == BRG_CONF_STRING) {
        parsed = brg_amqp1_url_parse(url->v.s, &c->url, err, sizeof(err)) == BRG_OK;
        if (!parsed) {
            brg_diag_error(d, url, "%s", err);
        }
    }
    const brg_conf_node_t *pw = brg_conf_get(ep_cs, "password");
    if (pw && !brg_conf_get(ep_cs, "user")) {
        brg_diag_error(d, pw, "a password needs a user");
    }
    brg_conf_check_tls_keys(ep_cs, url != NULL, parsed && c->url.tls, "an amqps://", d);
    if (d->errors != errors || !parsed) {
        free_settings(c);
        return NULL;
    }
    /* The keys win over credentials written in the url. */
    c->user = dup_opt(brg_conf_str(ep_cs, "user", c->url.user));
    c->password = dup_opt(brg_conf_str(ep_cs, "password", c->url.password));
    /* proton otherwise prefers ANONYMOUS when the broker offers it, and the password is never
     * checked (DESIGN.md section 9). */
    c->mechs = dup_opt(brg_conf_str(ep_cs, "sasl_mechanisms", c->user ? "PLAIN" : "ANONYMOUS"));
    c->ca_file = brg_conf_str(ep_cs, "ca_file", NULL);
    c->cert_file = brg_conf_str(ep_cs, "cert_file", NULL);
    c->key_file = brg_conf_str(ep_cs, "key_file", NULL);
    c->verify_peer = brg_conf_bool(ep_cs, "verify_peer", true);
    c->idle_timeout_ms = (uint32_t)brg_conf_int(ep_cs, "idle_timeout", 60) * 1000u;
    c->family = endpoint_family(ep_cs);
    return c;
}

static void check_address(const brg_conf_node_t *ep_cs, const brg_conf_node_t *node, const char *text,
                          brg_diag_t *d)
{
    brg_amqp1_addr_t a;
    char err[512];
    /* With broker = "auto" the dialect is only known once connected: check the portable
     * forms (an empty name), and the RabbitMQ forms when the dialect is explicit. */
    if (brg_amqp1_address_resolve(endpoint_family(ep_cs), text, &a, err, sizeof(err)) != BRG_OK) {
        brg_diag_error(d, node, "%s", err);
        return;
    }
    brg_amqp1_addr_fini(&a);
}

/* Whether a source address names a topic for the endpoint's broker dialect (with "auto":
 * the portable topic:// form; a dialect's own forms once it is set). */
static bool source_is_topic(const brg_conf_node_t *ep_cs, const char *text)
{
    brg_amqp1_addr_t a;
    char err[512];
    if (brg_amqp1_address_resolve(endpoint_family(ep_cs), text, &a, err, sizeof(err)) != BRG_OK) {
        return false;
    }
    bool topic = a.jms_dest == 1;
    brg_amqp1_addr_fini(&a);
    return topic;
}

/* durable / subscription: what they do for this address, said by msgbridge -t. */
static void check_durable(const brg_conf_node_t *ep_cs, const brg_conf_node_t *from_cs, const char *text,
                          brg_diag_t *d)
{
    const brg_conf_node_t *dur = brg_conf_get(from_cs, "durable");
    const brg_conf_node_t *sub = brg_conf_get(from_cs, "subscription");
    bool off = dur && dur->type == BRG_CONF_BOOL && !dur->v.b;
    bool topic = source_is_topic(ep_cs, text);
    if (topic && off) {
        brg_diag_warn(d, dur,
                      "durable = false: messages published to %s while msgbridge is stopped or "
                      "reconnecting are lost", text);
    } else if (!topic && (dur || sub)) {
        brg_diag_warn(d, dur ? dur : sub, "%s has no effect on %s (only topic subscriptions)",
                      dur ? "durable" : "subscription", text);
    }
    if (topic && off && sub) {
        brg_diag_warn(d, sub, "subscription has no effect with durable = false");
    }
    if (topic && !off && endpoint_family(ep_cs) == BRG_AMQP1_RABBITMQ) {
        brg_diag_warn(d, dur ? dur : brg_conf_get(from_cs, "address"),
                      "RabbitMQ 3.x has no durable AMQP 1.0 topic subscriptions: messages "
                      "published to %s while msgbridge is stopped are lost (read a queue bound "
                      "to the exchange instead)", text);
    }
}

static void check_source(const brg_conf_node_t *ep_cs, const brg_conf_node_t *from_cs, brg_diag_t *d)
{
    const brg_conf_node_t *addr = brg_conf_get(from_cs, "address");
    if (addr && addr->type == BRG_CONF_STRING) {
        check_address(ep_cs, addr, addr->v.s, d);
        check_durable(ep_cs, from_cs, addr->v.s, d);
    }
    const brg_conf_node_t *sub = brg_conf_get(from_cs, "subscription");
    if (sub && sub->type == BRG_CONF_STRING && !*sub->v.s) {
        brg_diag_error(d, sub, "subscription is empty");
    }
}

static void check_sink(const brg_conf_node_t *ep_cs, const brg_conf_node_t *to_cs, brg_diag_t *d)
{
    const brg_conf_node_t *addr = brg_conf_get(to_cs, "address");
    /* Only a literal address can be checked now; a template is checked per message. */
    if (addr && addr->type == BRG_CONF_STRING && !strstr(addr->v.s, "${")) {
        check_address(ep_cs, addr, addr->v.s, d);
    }
}

/* ---- life cycle ------------------------------------------------------------------------------ */

static void amqp1_close(void *state);

static brg_err_t amqp1_open(brg_endpoint_t *ep, void **statep, char *errstr, size_t errstr_size)
{
    const brg_conf_node_t *cs = brg_endpoint_conf(ep);
    const amqp1_settings_t *set = brg_endpoint_settings(ep); /* brg_endpoint_start checks */
    brg_amqp1_t *a = brg_xcalloc(1, sizeof(*a));
    a->ep = ep;
    a->log = brg_endpoint_logctx(ep);
    brg_err_t rc = BRG_OK;
    a->url = &set->url;
    a->user = set->user;
    a->password = set->password;
    a->mechs = set->mechs;
    a->idle_timeout_ms = set->idle_timeout_ms;
    a->family_cfg = set->family;
    const char *cid = brg_conf_str(cs, "container_id", NULL);
    if (cid) {
        a->container_id = brg_xstrdup(cid);
    } else {
        const char *bid = brg_endpoint_bridge_id(ep);
        size_t n = strlen(bid ? bid : "") + strlen(brg_endpoint_name(ep)) + 16;
        a->container_id = brg_xmalloc(n);
        brg_errfmt(a->container_id, n, "msgbridge-%s-%s", bid ? bid : "bridge",
                   brg_endpoint_name(ep));
    }

    if (a->url->tls) {
        /* The domain reads the certificate files: at each start, so that renewed files are
         * taken up by a restart of the endpoint. */
        a->ssl_domain = pn_ssl_domain(PN_SSL_MODE_CLIENT);
        if (!a->ssl_domain) {
            brg_errfmt(errstr, errstr_size, "this qpid-proton has no TLS support");
            rc = BRG_ERR_UNSUPPORTED;
            goto fail;
        }
        if (set->ca_file && pn_ssl_domain_set_trusted_ca_db(a->ssl_domain, set->ca_file) != 0) {
            brg_errfmt(errstr, errstr_size, "ca_file \"%s\": cannot load CA certificates",
                       set->ca_file);
            rc = BRG_ERR_CONFIG;
            goto fail;
        }
        if (set->cert_file &&
            pn_ssl_domain_set_credentials(a->ssl_domain, set->cert_file, set->key_file, NULL) !=
                0) {
            brg_errfmt(errstr, errstr_size,
                       "cert_file \"%s\" / key_file \"%s\": cannot load the client certificate",
                       set->cert_file, set->key_file);
            rc = BRG_ERR_CONFIG;
            goto fail;
        }
        pn_ssl_verify_mode_t mode = set->verify_peer ? PN_SSL_VERIFY_PEER_NAME
                                                   : PN_SSL_ANONYMOUS_PEER;
        if (pn_ssl_domain_set_peer_authentication(a->ssl_domain, mode, NULL) != 0) {
            brg_errfmt(errstr, errstr_size, "cannot set TLS peer verification");
            rc = BRG_ERR_CONFIG;
            goto fail;
        }
    }

    a->nrx = brg_endpoint_source_count(ep);
    a->rx = brg_xcalloc(a->nrx ? a->nrx : 1, sizeof(*a->rx));
    for (size_t i = 0; i < a->nrx; i++) {
        amqp1_rx_t *rx = &a->rx[i];
        rx->src = brg_endpoint_source(ep, i);
        const brg_conf_node_t *fcs = brg_source_conf(rx->src);
        rx->address = brg_conf_str(fcs, "address", "");
        rx->reject_on_rejected = strcmp(brg_conf_str(fcs, "on_reject", "keep"), "reject") == 0;
        /* The operator says the broker parks rejected messages (ActiveMQ's DLQ, a RabbitMQ
         * queue with a dead-letter exchange): a rejection then does not stop the route. */
        brg_source_set_broker_dead_letter(rx->src, rx->reject_on_rejected);
        rx->modified_on_retry = strcmp(brg_conf_str(fcs, "on_retry", "released"), "modified") == 0;
        rx->want_durable = brg_conf_bool(fcs, "durable", true);
        rx->subscription = brg_conf_str(fcs, "subscription", NULL);
        /* A refused link is retried after 1 s, growing to 30 s. */
        brg_backoff_init(&rx->backoff, 1000, 30000);
        brg_source_set_opaque(rx->src, rx);
    }

    a->msg = pn_message();
    /* Reconnect after 0.5 s, growing with jitter to 30 s: quick after a broker restart, quiet
     * when the broker is down for long. */
    brg_backoff_init(&a->backoff, 500, 30000);
    /* Created here, not in run(), so that wake() from other threads always has a target. */
    a->proactor = pn_proactor();
    *statep = a;
    return BRG_OK;
fail:
    amqp1_close(a);
    return rc;
}

static void amqp1_wake(void *state)
{
    brg_amqp1_t *a = state;
    /* Thread-safe and non-blocking; the endpoint thread then wakes its connection. */
    if (a && a->proactor) {
        pn_proactor_interrupt(a->proactor);
    }
}

static void amqp1_close(void *state)
{
    brg_amqp1_t *a = state;
    if (!a) {
        return;
    }
    if (a->proactor) {
        pn_proactor_free(a->proactor); /* also frees a connection left behind */
    }
    if (a->ssl_domain) {
        pn_ssl_domain_free(a->ssl_domain);
    }
    if (a->msg) {
        pn_message_free(a->msg);
    }
    for (size_t i = 0; i < a->nrx; i++) {
        brg_amqp1_addr_fini(&a->rx[i].addr);
    }
    free(a->rx);
    free(a->buf.start);
    free(a->container_id);
    brg_buf_fini(&a->scratch_address);
    free(a);
}

const brg_adapter_t brg_amqp1_adapter = {
    .name = "amqp1",
    .description = "AMQP 1.0 (qpid-proton): ActiveMQ, Artemis, Qpid, RabbitMQ amqp1_0 plugin",
    .caps = BRG_CAP_SOURCE | BRG_CAP_SINK,
    .endpoint_keys = endpoint_keys,
    .source_keys = source_keys,
    .sink_keys = sink_keys,
    .compile_endpoint = compile_endpoint,
    .sink_window = BRG_BROKER_SINK_WINDOW, /* each unsettled message: a proton delivery */
    .free_settings = free_settings,
    .check_source = check_source,
    .check_sink = check_sink,
    .open = amqp1_open,
    .run = brg_amqp1_run,
    .wake = amqp1_wake,
    .close = amqp1_close,
};
