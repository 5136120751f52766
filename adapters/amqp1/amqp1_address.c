/* AMQP 1.0 endpoint URLs and node addresses per broker family. See amqp1_address.h. */
#include "adapters/amqp1/amqp1_address.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/utf8.h"

static const struct {
    const char *name;
    brg_amqp1_family_t f;
} families[] = {
    {"auto", BRG_AMQP1_AUTO},         {"generic", BRG_AMQP1_GENERIC},
    {"activemq", BRG_AMQP1_ACTIVEMQ}, {"artemis", BRG_AMQP1_ARTEMIS},
    {"rabbitmq", BRG_AMQP1_RABBITMQ},
};

bool brg_amqp1_family_parse(const char *s, brg_amqp1_family_t *out)
{
    for (size_t i = 0; s && i < BRG_ARRAY_SIZE(families); i++) {
        if (strcmp(s, families[i].name) == 0) {
            *out = families[i].f;
            return true;
        }
    }
    return false;
}

const char *brg_amqp1_family_name(brg_amqp1_family_t f)
{
    for (size_t i = 0; i < BRG_ARRAY_SIZE(families); i++) {
        if (families[i].f == f) {
            return families[i].name;
        }
    }
    return "?";
}

brg_amqp1_family_t brg_amqp1_family_detect(const char *product)
{
    if (!product) {
        return BRG_AMQP1_GENERIC;
    }
    if (strcmp(product, "RabbitMQ") == 0) {
        return BRG_AMQP1_RABBITMQ;
    }
    /* Artemis announces "apache-activemq-artemis"; Classic announces "ActiveMQ". */
    if (strstr(product, "artemis") || strstr(product, "Artemis")) {
        return BRG_AMQP1_ARTEMIS;
    }
    if (strcmp(product, "ActiveMQ") == 0) {
        return BRG_AMQP1_ACTIVEMQ;
    }
    return BRG_AMQP1_GENERIC;
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static char *concat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = brg_xmalloc(la + lb + 1);
    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
    return s;
}

/* RabbitMQ 3.x address forms (rabbitmq_amqp1_0): each prefix needs a non-empty rest. */
static const char *const rmq_forms[] = {"/amq/queue/", "/queue/", "/exchange/", "/topic/"};

brg_err_t brg_amqp1_address_resolve(brg_amqp1_family_t f, const char *in, brg_amqp1_addr_t *out,
                                    char *errstr, size_t errstr_size)
{
    memset(out, 0, sizeof(*out));
    if (!in || !*in) {
        brg_errfmt(errstr, errstr_size, "empty address");
        return BRG_ERR_INVALID;
    }
    bool is_queue = starts(in, "queue://"), is_topic = starts(in, "topic://");
    const char *name = is_queue ? in + 8 : is_topic ? in + 8 : in;
    if ((is_queue || is_topic) && !*name) {
        brg_errfmt(errstr, errstr_size, "address \"%s\" has no name after \"%.8s\"", in, in);
        return BRG_ERR_INVALID;
    }
    switch (f) {
    case BRG_AMQP1_ACTIVEMQ:
        /* Classic understands its own prefixes; a bare name is a queue. The capability makes
         * the kind explicit for bare names too. */
        out->address = brg_xstrdup(in);
        out->capability = is_topic ? "topic" : "queue";
        out->jms_dest = is_topic ? 1 : 0;
        return BRG_OK;
    case BRG_AMQP1_RABBITMQ:
        if (is_queue) {
            out->address = concat("/amq/queue/", name);
            out->jms_dest = 0;
            return BRG_OK;
        }
        if (is_topic) {
            out->address = concat("/topic/", name);
            out->jms_dest = 1;
            return BRG_OK;
        }
        if (in[0] == '/') {
            for (size_t i = 0; i < BRG_ARRAY_SIZE(rmq_forms); i++) {
                if (starts(in, rmq_forms[i]) && in[strlen(rmq_forms[i])]) {
                    out->address = brg_xstrdup(in);
                    out->jms_dest = (i >= 2) ? 1 : 0;
                    return BRG_OK;
                }
            }
            brg_errfmt(errstr, errstr_size,
                       "address \"%s\" is not a RabbitMQ AMQP 1.0 address (use /amq/queue/NAME, "
                       "/queue/NAME, /exchange/NAME/KEY, /topic/KEY, queue://NAME or "
                       "topic://KEY)",
                       in);
            return BRG_ERR_INVALID;
        }
        /* RabbitMQ 3.x treats a bare name like /queue/NAME. */
        out->address = brg_xstrdup(in);
        out->jms_dest = 0;
        return BRG_OK;
    case BRG_AMQP1_AUTO:
    case BRG_AMQP1_GENERIC:
    case BRG_AMQP1_ARTEMIS:
        /* The portable prefixes become a bare name plus a capability (Artemis, Qpid); an
         * Artemis fully qualified "address::queue" is passed on as written. */
        out->address = brg_xstrdup(name);
        out->capability = is_topic ? "topic" : is_queue ? "queue" : NULL;
        out->jms_dest = is_topic ? 1 : 0;
        return BRG_OK;
    }
    brg_errfmt(errstr, errstr_size, "unknown broker family");
    return BRG_ERR_INVALID;
}

void brg_amqp1_rx_link_settings(brg_amqp1_family_t f, const brg_amqp1_addr_t *addr,
                                const char *address, const char *container_id,
                                const char *route, bool want_durable, const char *subscription,
                                uint64_t seq, brg_amqp1_rx_link_t *out)
{
    memset(out, 0, sizeof(*out));
    /* RabbitMQ 3.x binds a fresh exclusive queue per /topic/ or /exchange/ link whatever the
     * terminus asks: a durable request would promise what it does not do. */
    out->durable = want_durable && addr->jms_dest == 1 && f != BRG_AMQP1_RABBITMQ;
    if (out->durable) {
        if (subscription) {
            out->name = brg_xstrdup(subscription);
        } else {
            out->name = concat("msgbridge-", route ? route : "");
        }
        out->durability = PN_DELIVERIES;
        out->expiry = PN_EXPIRE_NEVER;
        out->dist_mode = PN_DIST_MODE_COPY;
        return;
    }
    size_t n = strlen(container_id) + strlen(address) + 32;
    out->name = brg_xmalloc(n);
    brg_errfmt(out->name, n, "%s:from:%s:%" PRIu64, container_id, address, seq);
    out->durability = PN_NONDURABLE;
    out->expiry = PN_EXPIRE_WITH_SESSION;
    out->dist_mode = PN_DIST_MODE_UNSPECIFIED;
}

void brg_amqp1_rx_link_fini(brg_amqp1_rx_link_t *l)
{
    if (l) {
        free(l->name);
        l->name = NULL;
    }
}

void brg_amqp1_addr_fini(brg_amqp1_addr_t *a)
{
    if (a) {
        free(a->address);
        a->address = NULL;
    }
}

/* ---- endpoint URLs ------------------------------------------------------------------------ */

/* Percent-decode s[0..n). Returns: a malloc'd string, or NULL if an escape is malformed. */
static char *pct_decode(const char *s, size_t n)
{
    char *out = brg_xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < n + 1 ? brg_hex_digit(s[i + 1]) : -1;
            int lo = hi >= 0 && i + 2 < n ? brg_hex_digit(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = 0;
    return out;
}

/* url with a password in it replaced by "***", for error messages. */
static void redact(const char *url, char *out, size_t size)
{
    const char *scheme = strstr(url, "://");
    const char *start = scheme ? scheme + 3 : url;
    const char *at = strrchr(start, '@');
    const char *colon = at ? memchr(start, ':', (size_t)(at - start)) : NULL;
    if (colon) {
        brg_errfmt(out, size, "%.*s:***%s", (int)(colon - url), url, at);
    } else {
        brg_errfmt(out, size, "%s", url);
    }
}

brg_err_t brg_amqp1_url_parse(const char *in, brg_amqp1_url_t *out, char *errstr,
                              size_t errstr_size)
{
    memset(out, 0, sizeof(*out));
    const char *p = in ? in : "";
    char url[512];
    redact(p, url, sizeof(url));
    if (starts(p, "amqps://")) {
        out->tls = true;
        p += 8;
    } else if (starts(p, "amqp://")) {
        p += 7;
    } else if (strstr(p, "://")) {
        brg_errfmt(errstr, errstr_size, "url \"%s\": scheme must be amqp:// or amqps://", url);
        return BRG_ERR_INVALID;
    }
    /* userinfo: up to the last '@' before any '/' (a password may contain '@' only encoded). */
    const char *slash = strchr(p, '/');
    const char *end = slash ? slash : p + strlen(p);
    const char *at = NULL;
    for (const char *q = p; q < end; q++) {
        if (*q == '@') {
            at = q;
        }
    }
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ulen = colon ? (size_t)(colon - p) : (size_t)(at - p);
        out->user = pct_decode(p, ulen);
        if (colon) {
            out->password = pct_decode(colon + 1, (size_t)(at - colon - 1));
        }
        if (!out->user || (colon && !out->password)) {
            brg_errfmt(errstr, errstr_size, "url: malformed %% escape in the user or password");
            goto fail;
        }
        p = at + 1;
    }
    if (slash && slash[1] != 0) {
        brg_errfmt(errstr, errstr_size,
                   "url \"%s\": unexpected path \"%s\" (the address goes in the route's "
                   "`address`)",
                   url, slash);
        goto fail;
    }
    const char *hend = end, *port = NULL;
    const char *hstart = p;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb) {
            brg_errfmt(errstr, errstr_size, "url \"%s\": unterminated \"[\"", url);
            goto fail;
        }
        hstart = p + 1;
        hend = rb;
        if (rb + 1 < end) {
            if (rb[1] != ':') {
                brg_errfmt(errstr, errstr_size, "url \"%s\": expected \":PORT\" after \"]\"", url);
                goto fail;
            }
            port = rb + 2;
        }
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        if (colon) {
            hend = colon;
            port = colon + 1;
        }
    }
    if (hend == hstart) {
        brg_errfmt(errstr, errstr_size, "url \"%s\": no host", url);
        goto fail;
    }
    out->host = brg_xstrndup(hstart, (size_t)(hend - hstart));
    if (port) {
        size_t plen = (size_t)(end - port);
        bool ok = plen > 0 && plen <= 5;
        long v = 0;
        for (size_t i = 0; ok && i < plen; i++) {
            ok = port[i] >= '0' && port[i] <= '9';
            v = v * 10 + (port[i] - '0');
        }
        if (!ok || v < 1 || v > 65535) {
            brg_errfmt(errstr, errstr_size, "url \"%s\": bad port \"%.*s\"", url, (int)plen,
                       port);
            goto fail;
        }
        out->port = brg_xstrndup(port, plen);
    } else {
        out->port = brg_xstrdup(out->tls ? "5671" : "5672");
    }
    return BRG_OK;
fail:
    brg_amqp1_url_fini(out);
    return BRG_ERR_INVALID;
}

void brg_amqp1_url_fini(brg_amqp1_url_t *u)
{
    if (!u) {
        return;
    }
    free(u->host);
    free(u->port);
    free(u->user);
    brg_free_secret(u->password);
    memset(u, 0, sizeof(*u));
}
