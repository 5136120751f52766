/* The stomp adapter: STOMP 1.2 over TCP (ActiveMQ Classic, including Debian's package, which
 * has no AMQP module; ActiveMQ Artemis; RabbitMQ's STOMP plugin). This file holds the adapter
 * table, the configuration schema and checks, and the endpoint state's life cycle; see
 * stomp_int.h for the other files. Keys and semantics: docs/activemq.md, msgbridge.conf(5). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters/stomp/stomp_int.h"

#define DEFAULT_PORT "61613"
/* ActiveMQ's and Artemis's stomp+ssl port (RabbitMQ's STOMP over TLS listens on 61614 too). */
#define DEFAULT_TLS_PORT "61614"
#define DEFAULT_MAX_FRAME (16u * 1024 * 1024)

static const char *const reject_policies[] = {"keep", "reject", NULL};

static const brg_conf_key_t endpoint_keys[] = {
    {.name = "url", .type = BRG_KEY_STRING, .flags = BRG_KEY_REQUIRED,
     .help = "stomp://[user:password@]host[:port], stomp+ssl://... (TLS)"},
    {.name = "user", .type = BRG_KEY_STRING, .help = "login (CONNECT login header)"},
    {.name = "password", .type = BRG_KEY_STRING, .flags = BRG_KEY_SECRET,
     .help = "passcode (or password_file)"},
    {.name = "vhost", .type = BRG_KEY_STRING,
     .help = "CONNECT host header (default: the url's host)"},
    {.name = "heartbeat", .type = BRG_KEY_INT, .flags = BRG_KEY_RANGE, .min = 0, .max = 3600000,
     .help = "heart-beat interval both ways in ms (10000; 0 off)"},
    {.name = "max_frame_size", .type = BRG_KEY_INT, .flags = BRG_KEY_RANGE, .min = 4096, .max = 1073741824,
     .help = "largest frame accepted from the broker in bytes (16 MiB)"},
    {.name = "receipt_window", .type = BRG_KEY_INT, .flags = BRG_KEY_RANGE, .min = 1, .max = 65536,
     .help = "SEND frames awaiting their RECEIPT at once (256)"},
    {.name = "client_id", .type = BRG_KEY_STRING,
     .help = "CONNECT client-id for durable topic subscriptions (default "
             "msgbridge-BRIDGE-ENDPOINT)"},
    BRG_CONF_TLS_KEYS,
    {.name = NULL},
};

static const brg_conf_key_t source_keys[] = {
    {.name = "destination", .type = BRG_KEY_STRING, .flags = BRG_KEY_REQUIRED,
     .help = "/queue/NAME or /topic/NAME to receive from"},
    {.name = "durable", .type = BRG_KEY_BOOL,
     .help = "a /topic/ subscription survives restarts (true)"},
    {.name = "subscription", .type = BRG_KEY_STRING,
     .help = "durable subscription name (default msgbridge-ROUTE)"},
    {.name = "on_reject", .type = BRG_KEY_STRING, .words = reject_policies,
     .help = "a message the route rejects without a dead letter: keep (default) or reject (NACK)"},
    {.name = NULL},
};

static const brg_conf_key_t sink_keys[] = {
    {.name = "destination", .type = BRG_KEY_TEMPLATE, .flags = BRG_KEY_REQUIRED,
     .help = "/queue/NAME or /topic/NAME (a template)"},
    {.name = "persistent", .type = BRG_KEY_BOOL,
     .help = "persistent:true unless the message says otherwise (true)"},
    {.name = NULL},
};

/* Parse stomp://[user[:password]@]host[:port][/] or stomp+ssl:// (also stomp+tls://).
 * Ownership: *host, *port, *user, *password are the caller's (user and password NULL when
 * absent). */
static brg_err_t parse_url(const char *url, char **host, char **port, char **user,
                           char **password, bool *tls, char *errstr, size_t errstr_size)
{
    *host = *port = *user = *password = NULL;
    *tls = false;
    const char *p;
    if (strncmp(url, "stomp://", 8) == 0) {
        p = url + 8;
    } else if (strncmp(url, "stomp+ssl://", 12) == 0 || strncmp(url, "stomp+tls://", 12) == 0) {
#ifndef HAVE_STOMP_TLS
        brg_errfmt(errstr, errstr_size,
                   "\"%.*s\": this msgbridge was built without OpenSSL (install libssl-dev and "
                   "rebuild); use stomp:// (or the amqp1 adapter with amqps://)", 12, url);
        return BRG_ERR_UNSUPPORTED;
#endif
        p = url + 12;
        *tls = true;
    } else {
        brg_errfmt(errstr, errstr_size, "url \"%s\" does not start with stomp:// or stomp+ssl://",
                   url);
        return BRG_ERR_INVALID;
    }
    const char *end = p + strcspn(p, "/?#");
    if (end[0] != '\0' && strcmp(end, "/") != 0) {
        brg_errfmt(errstr, errstr_size, "url \"%s\": only a host and port are allowed after "
                   "stomp:// (the destination is a route key)", url);
        return BRG_ERR_INVALID;
    }
    const char *at = memchr(p, '@', (size_t)(end - p));
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        *user = brg_xstrndup(p, (size_t)((colon ? colon : at) - p));
        if (colon) {
            *password = brg_xstrndup(colon + 1, (size_t)(at - colon - 1));
        }
        p = at + 1;
    }
    const char *hs = p, *he;
    if (*p == '[') {
        he = memchr(p, ']', (size_t)(end - p));
        if (!he) {
            brg_errfmt(errstr, errstr_size, "url \"%s\": unterminated [IPv6 address]", url);
            goto fail;
        }
        hs = p + 1;
        p = he + 1;
    } else {
        he = p + strcspn(p, ":/");
        if (he > end) {
            he = end;
        }
        p = he;
    }
    if (he == hs) {
        brg_errfmt(errstr, errstr_size, "url \"%s\" has no host", url);
        goto fail;
    }
    *host = brg_xstrndup(hs, (size_t)(he - hs));
    if (*p == ':') {
        p++;
        size_t n = (size_t)(end - p);
        if (n == 0 || n > 5 || strspn(p, "0123456789") < n || atoi(p) < 1 || atoi(p) > 65535) {
            brg_errfmt(errstr, errstr_size, "url \"%s\": bad port", url);
            goto fail;
        }
        *port = brg_xstrndup(p, n);
    } else {
        *port = brg_xstrdup(*tls ? DEFAULT_TLS_PORT : DEFAULT_PORT);
    }
    return BRG_OK;
fail:
    free(*host);
    free(*user);
    free(*password);
    *host = *user = *password = NULL;
    return BRG_ERR_INVALID;
}

static bool is_topic(const char *dest)
{
    return strncmp(dest, "/topic/", 7) == 0;
}

/* ---- checks (pass 4 of the config load) ----------------------------------------------------- */

static void free_settings(void *settings)
{
    stomp_settings_t *c = settings;
    free(c->host);
    free(c->port);
    free(c->user);
    brg_free_secret(c->password);
    free(c->vhost);
    free(c);
}

/* adapter.h compile_endpoint: the connection settings, parsed and checked once, at load. */
static void *compile_endpoint(const brg_conf_node_t *ep_cs, brg_diag_t *d)
{
    size_t errors = d->errors;
    stomp_settings_t *c = brg_xcalloc(1, sizeof(*c));
    const brg_conf_node_t *url = brg_conf_get(ep_cs, "url");
    char err[512];
    char *uu = NULL, *upw = NULL;
    if (url && url->type == BRG_CONF_STRING &&
        parse_url(url->v.s, &c->host, &c->port, &uu, &upw, &c->tls, err, sizeof(err)) != BRG_OK) {
        brg_diag_error(d, url, "%s", err);
    }
    brg_conf_check_tls_keys(ep_cs, url != NULL, c->tls, "a stomp+ssl://", d);
    const brg_conf_node_t *pw = brg_conf_get(ep_cs, "password");
    if (pw && !brg_conf_get(ep_cs, "user")) {
        brg_diag_error(d, pw, "a password needs a user");
    }
    /* The keys win over credentials written in the url. */
    const char *u = brg_conf_str(ep_cs, "user", NULL);
    const char *p = brg_conf_str(ep_cs, "password", NULL);
    c->user = u ? brg_xstrdup(u) : uu;
    c->password = p ? brg_xstrdup(p) : upw;
    if (u) {
        free(uu);
    }
    if (p) {
        free(upw);
    }
    c->tls_conf = (stomp_tls_conf_t){
        .ca_file = brg_conf_str(ep_cs, "ca_file", NULL),
        .cert_file = brg_conf_str(ep_cs, "cert_file", NULL),
        .key_file = brg_conf_str(ep_cs, "key_file", NULL),
        .verify_peer = brg_conf_bool(ep_cs, "verify_peer", true),
    };
    c->vhost = brg_xstrdup(brg_conf_str(ep_cs, "vhost", c->host ? c->host : ""));
    c->heartbeat_ms = (uint32_t)brg_conf_int(ep_cs, "heartbeat", 10000);
    c->max_frame = (size_t)brg_conf_int(ep_cs, "max_frame_size", DEFAULT_MAX_FRAME);
    c->receipt_window = (size_t)brg_conf_int(ep_cs, "receipt_window", 256);
    if (d->errors != errors || !c->host) {
        free_settings(c);
        return NULL;
    }
    return c;
}

static void check_destination(const brg_conf_node_t *node, const char *text, brg_diag_t *d)
{
    if (text[0] != '/') {
        brg_diag_error(d, node,
                       "destination \"%s\" should start with /queue/ or /topic/ (ActiveMQ, "
                       "Artemis and RabbitMQ name destinations that way)", text);
    }
}

static void check_source(const brg_conf_node_t *ep_cs, const brg_conf_node_t *from_cs, brg_diag_t *d)
{
    const brg_conf_node_t *dest = brg_conf_get(from_cs, "destination");
    if (dest && dest->type == BRG_CONF_STRING) {
        check_destination(dest, dest->v.s, d);
        const brg_conf_node_t *dur = brg_conf_get(from_cs, "durable");
        if (is_topic(dest->v.s) && dur && dur->type == BRG_CONF_BOOL && !dur->v.b) {
            brg_diag_warn(d, dur,
                          "durable = false: messages published to %s while msgbridge is "
                          "stopped or reconnecting are lost", dest->v.s);
        } else if (dur && !is_topic(dest->v.s)) {
            brg_diag_warn(d, dur, "durable has no effect on %s (only /topic/ subscriptions)",
                          dest->v.s);
        }
    }
}

static void check_sink(const brg_conf_node_t *ep_cs, const brg_conf_node_t *to_cs, brg_diag_t *d)
{
    const brg_conf_node_t *dest = brg_conf_get(to_cs, "destination");
    if (dest && dest->type == BRG_CONF_STRING && !strstr(dest->v.s, "${")) {
        check_destination(dest, dest->v.s, d);
    }
}

/* ---- life cycle ------------------------------------------------------------------------------ */

static void stomp_close(void *state);

static char *joined(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 16;
    char *s = brg_xmalloc(n);
    brg_errfmt(s, n, "msgbridge-%s-%s", a, b);
    return s;
}

static brg_err_t stomp_open(brg_endpoint_t *ep, void **statep, char *errstr, size_t errstr_size)
{
    const brg_conf_node_t *cs = brg_endpoint_conf(ep);
    const stomp_settings_t *c = brg_endpoint_settings(ep); /* brg_endpoint_start checks */
    brg_stomp_t *s = brg_xcalloc(1, sizeof(*s));
    s->ep = ep;
    s->fd = -1;
    s->log = brg_endpoint_logctx(ep);
    s->conf = c;
    if (c->tls) {
        /* The context reads the certificate files: at each start, so that renewed files are
         * taken up by a restart of the endpoint. */
        brg_err_t rc = stomp_tls_init(s, &c->tls_conf, errstr, errstr_size);
        if (rc != BRG_OK) {
            stomp_close(s);
            return rc;
        }
    }
    const char *bid = brg_endpoint_bridge_id(ep);
    const char *cid = brg_conf_str(cs, "client_id", NULL);
    s->client_id = cid ? brg_xstrdup(cid) : joined(bid ? bid : "bridge", brg_endpoint_name(ep));

    s->nsrcs = brg_endpoint_source_count(ep);
    s->srcs = brg_xcalloc(s->nsrcs ? s->nsrcs : 1, sizeof(*s->srcs));
    for (size_t i = 0; i < s->nsrcs; i++) {
        stomp_src_t *x = &s->srcs[i];
        x->src = brg_endpoint_source(ep, i);
        x->index = i;
        const brg_conf_node_t *fcs = brg_source_conf(x->src);
        x->destination = brg_conf_str(fcs, "destination", "");
        x->durable = is_topic(x->destination) && brg_conf_bool(fcs, "durable", true);
        if (x->durable) {
            const char *sn = brg_conf_str(fcs, "subscription", NULL);
            const char *rn = brg_source_route_name(x->src);
            size_t n = strlen(rn) + 16;
            x->sub_name = brg_xmalloc(n);
            brg_errfmt(x->sub_name, n, "msgbridge-%s", rn);
            if (sn) {
                free(x->sub_name);
                x->sub_name = brg_xstrdup(sn);
            }
            s->need_client_id = true;
        }
        x->reject = strcmp(brg_conf_str(fcs, "on_reject", "keep"), "reject") == 0;
        /* The operator says the broker parks what is NACKed (RabbitMQ with a dead-letter
         * exchange, Artemis): a rejection then does not stop the route. */
        brg_source_set_broker_dead_letter(x->src, x->reject);
        /* A RETRY resubscribes after 0.1 s, growing to 5 s. */
        brg_backoff_init(&x->retry_bo, 100, 5000);
        brg_source_set_opaque(x->src, x);
    }
    /* Reconnect after 0.5 s, growing with jitter to 30 s. */
    brg_backoff_init(&s->bo, 500, 30000);
    *statep = s;
    return BRG_OK;
}

static void stomp_close(void *state)
{
    brg_stomp_t *s = state;
    if (!s) {
        return;
    }
    for (size_t i = 0; i < s->nsrcs; i++) {
        free(s->srcs[i].sub_name);
    }
    free(s->srcs);
    brg_stomp_buf_free(&s->in);
    brg_stomp_buf_free(&s->out);
    free(s->client_id);
    brg_buf_fini(&s->scratch_destination);
    stomp_tls_fini(s);
    free(s);
}

const brg_adapter_t brg_stomp_adapter = {
    .name = "stomp",
    .description = "STOMP 1.2: ActiveMQ Classic (Debian's package), Artemis, RabbitMQ STOMP",
    .caps = BRG_CAP_SOURCE | BRG_CAP_SINK,
    .endpoint_keys = endpoint_keys,
    .source_keys = source_keys,
    .sink_keys = sink_keys,
    .compile_endpoint = compile_endpoint,
    .sink_window = BRG_BROKER_SINK_WINDOW,
    .free_settings = free_settings,
    .check_source = check_source,
    .check_sink = check_sink,
    .open = stomp_open,
    .run = stomp_run,
    .close = stomp_close,
};
