#include "bridge/conf.h"

#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/conf_scan.h"
#include "bridge/registry.h"
#include "mappings/mapping.h"

/* Interned file names: every node points at one of these; freed with the tree's owner. */
typedef struct loader {
    brg_diag_t *d;
    char **files;
    size_t nfiles;
} loader_t;

static const char *intern_file(loader_t *ld, const char *file)
{
    if (!file) {
        return ld->nfiles ? ld->files[0] : "<config>";
    }
    for (size_t i = 0; i < ld->nfiles; i++) {
        if (strcmp(ld->files[i], file) == 0) {
            return ld->files[i];
        }
    }
    ld->files = brg_xrealloc(ld->files, (ld->nfiles + 1) * sizeof(char *));
    ld->files[ld->nfiles] = brg_xstrdup(file);
    return ld->files[ld->nfiles++];
}

/* ---- pass 1: libconfig -> brg_conf_node_t, with ${env.NAME} ----------------------------------- */

/* Expand ${env.NAME} references; other ${...} are templates and stay as they are.
 * Returns: a malloc'd string, or NULL after reporting an unset variable. */
static char *expand_env(const char *s, brg_conf_node_t *at, brg_diag_t *d)
{
    size_t cap = strlen(s) + 1, len = 0;
    char *out = brg_xmalloc(cap);
    bool ok = true;
    while (*s) {
        if (strncmp(s, "${env.", 6) == 0) {
            const char *end = strchr(s + 6, '}');
            if (end) {
                char *name = brg_xstrndup(s + 6, (size_t)(end - s - 6));
                const char *val = getenv(name);
                if (!val) {
                    brg_diag_error(d, at, "environment variable \"%s\" is not set", name);
                    ok = false;
                    val = "";
                }
                size_t vl = strlen(val);
                cap += vl;
                out = brg_xrealloc(out, cap);
                memcpy(out + len, val, vl);
                len += vl;
                free(name);
                s = end + 1;
                continue;
            }
        }
        out[len++] = *s++;
    }
    out[len] = 0;
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

static brg_conf_node_t *convert(loader_t *ld, config_setting_t *s, const char *parent_path, int index,
                          const char *parent_file)
{
    brg_conf_node_t *c = brg_xcalloc(1, sizeof(*c));
    const char *name = config_setting_name(s);
    c->name = name ? brg_xstrdup(name) : NULL;
    c->line = (int)config_setting_source_line(s);
    const char *f = config_setting_source_file(s);
    c->file = f ? intern_file(ld, f) : parent_file;
    char path[512];
    if (!parent_path) {
        path[0] = 0;
    } else if (!name) {
        snprintf(path, sizeof(path), "%s[%d]", parent_path, index);
    } else if (parent_path[0]) {
        snprintf(path, sizeof(path), "%s.%s", parent_path, name);
    } else {
        snprintf(path, sizeof(path), "%s", name);
    }
    c->path = brg_xstrdup(path);
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_GROUP: c->type = BRG_CONF_GROUP; break;
    case CONFIG_TYPE_LIST:
    case CONFIG_TYPE_ARRAY: c->type = BRG_CONF_LIST; break;
    case CONFIG_TYPE_INT: c->type = BRG_CONF_INT; c->v.i = config_setting_get_int(s); break;
    case CONFIG_TYPE_INT64: c->type = BRG_CONF_INT; c->v.i = config_setting_get_int64(s); break;
    case CONFIG_TYPE_FLOAT: c->type = BRG_CONF_FLOAT; c->v.f = config_setting_get_float(s); break;
    case CONFIG_TYPE_BOOL: c->type = BRG_CONF_BOOL; c->v.b = config_setting_get_bool(s); break;
    case CONFIG_TYPE_STRING: {
        c->type = BRG_CONF_STRING;
        c->v.s = expand_env(config_setting_get_string(s), c, ld->d);
        if (!c->v.s) {
            c->v.s = brg_xstrdup("");
        }
        break;
    }
    default: c->type = BRG_CONF_STRING; c->v.s = brg_xstrdup(""); break;
    }
    if (c->type == BRG_CONF_GROUP || c->type == BRG_CONF_LIST) {
        int n = config_setting_length(s);
        c->kids = brg_xcalloc((size_t)n + 1, sizeof(brg_conf_node_t *));
        for (int i = 0; i < n; i++) {
            c->kids[c->nkids++] = convert(ld, config_setting_get_elem(s, (unsigned)i), c->path, i,
                                          c->file);
        }
    }
    return c;
}

/* ---- pass 2: schemas ---------------------------------------------------------------------- */

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const log_formats[] = {"text", "json", NULL};
static const char *const deliveries[] = {"at-least-once", "at-most-once", "exactly-once", NULL};
static const char *const unroutable_policies[] = {"park", "dead_letter", "stop", NULL};

static const brg_conf_key_t top_keys[] = {
    {.name = "bridge", .type = BRG_KEY_GROUP,
     .help = "this bridge: id, metrics, log, shutdown_timeout"},
    {.name = "endpoints", .type = BRG_KEY_GROUP, .flags = BRG_KEY_REQUIRED,
     .help = "list of broker connections"},
    {.name = "routes", .type = BRG_KEY_GROUP, .flags = BRG_KEY_REQUIRED, .help = "list of routes"},
    {.name = NULL},
};

static const brg_conf_key_t bridge_keys[] = {
    {.name = "id", .type = BRG_KEY_STRING,
     .help = "this bridge's name in provenance headers (default: hostname)"},
    {.name = "metrics", .type = BRG_KEY_STRING,
     .help = "HOST:PORT for /metrics, /healthz, /readyz, /routes"},
    {.name = "shutdown_timeout", .type = BRG_KEY_INT, .flags = BRG_KEY_RANGE, .min = 0, .max = 3600,
     .help = "seconds to drain on SIGTERM (default 30)"},
    {.name = "stats_interval", .type = BRG_KEY_INT, .flags = BRG_KEY_RANGE, .min = 0,
     .max = INFINITY, .help = "seconds between per-route summary log lines (default 60, 0 off)"},
    {.name = "stall_timeout", .type = BRG_KEY_INT, .flags = BRG_KEY_RANGE, .min = 0, .max = 86400,
     .help = "routes' default stall_timeout (default 60, 0 off)"},
    {.name = "log", .type = BRG_KEY_GROUP,
     .help = "{ level = \"info\"; format = \"text\" | \"json\"; }"},
    {.name = NULL},
};

static const brg_conf_key_t log_keys[] = {
    {.name = "level", .type = BRG_KEY_STRING, .words = log_levels,
     .help = "error, warn, info (default) or debug"},
    {.name = "format", .type = BRG_KEY_STRING, .words = log_formats,
     .help = "text (default) or json"},
    {.name = NULL},
};

static const brg_conf_key_t endpoint_core_keys[] = {
    {.name = "name", .type = BRG_KEY_STRING, .flags = BRG_KEY_REQUIRED,
     .help = "unique endpoint name"},
    {.name = "type", .type = BRG_KEY_STRING, .flags = BRG_KEY_REQUIRED,
     .help = "adapter: kafka, rabbitmq, amqp1, stomp, file, stdio, memory"},
    {.name = NULL},
};

static const brg_conf_key_t route_keys[] = {
    {.name = "name", .type = BRG_KEY_STRING, .flags = BRG_KEY_REQUIRED,
     .help = "unique route name"},
    {.name = "from", .type = BRG_KEY_GROUP, .flags = BRG_KEY_REQUIRED,
     .help = "the source: { endpoint = ...; ... }"},
    {.name = "to", .type = BRG_KEY_GROUP_OR_LIST, .flags = BRG_KEY_REQUIRED,
     .help = "the sink, or a list of sinks for fan-out"},
    {.name = "dead_letter", .type = BRG_KEY_GROUP, .help = "where rejected messages go"},
    {.name = "max_in_flight", .type = BRG_KEY_INT, .flags = BRG_KEY_RANGE, .min = 1,
     .max = 1000000,
     .help = "messages taken but not yet settled (default 1000; Kafka sources: from the bytes)"},
    {.name = "max_in_flight_bytes", .type = BRG_KEY_INT, .flags = BRG_KEY_RANGE, .min = 1,
     .max = INFINITY,
     .help = "bytes taken but not yet settled (default 16 MiB; Kafka sources: 2 MiB)"},
    {.name = "mapping", .type = BRG_KEY_GROUP, .help = "header rules, filters, strict mode"},
    {.name = "delivery", .type = BRG_KEY_STRING, .words = deliveries,
     .help = "at-least-once (default; the others are not supported yet)"},
    {.name = "rate", .type = BRG_KEY_GROUP,
     .help = "{ messages_per_second = N; bytes_per_second = N; }"},
    {.name = "stall_timeout", .type = BRG_KEY_INT, .flags = BRG_KEY_RANGE, .min = 0, .max = 86400,
     .help = "seconds of waiting work and no progress before a stall (bridge's, 60; 0 off)"},
    {.name = "description", .type = BRG_KEY_STRING, .help = "free text"},
    {.name = "on_unroutable", .type = BRG_KEY_STRING, .words = unroutable_policies,
     .help = "when the destination is missing or refuses: park, dead_letter or stop (default: "
             "dead_letter if the route has one, else park)"},
    {.name = "park_retry_min", .type = BRG_KEY_FLOAT, .flags = BRG_KEY_RANGE, .min = 0.01,
     .max = 3600, .help = "seconds before a parked route first retries (default 1)"},
    {.name = "park_retry_max", .type = BRG_KEY_FLOAT, .flags = BRG_KEY_RANGE, .min = 0.01,
     .max = 86400, .help = "most seconds between retries of a parked route (default 60)"},
    {.name = NULL},
};

static const brg_conf_key_t side_core_keys[] = {
    {.name = "endpoint", .type = BRG_KEY_STRING, .flags = BRG_KEY_REQUIRED,
     .help = "name of an endpoint"},
    {.name = NULL},
};

/* Replace NAME_file by NAME (the file's contents, trailing newline removed), marking it secret;
 * mark a directly given secret too. */
static void resolve_secrets(brg_conf_node_t *group, const brg_conf_key_t *keys, brg_diag_t *d)
{
    for (const brg_conf_key_t *k = keys; k && k->name; k++) {
        if (!(k->flags & BRG_KEY_SECRET)) {
            continue;
        }
        brg_conf_node_t *direct = (brg_conf_node_t *)brg_conf_get(group, k->name);
        char fname[128];
        snprintf(fname, sizeof(fname), "%s_file", k->name);
        brg_conf_node_t *viafile = (brg_conf_node_t *)brg_conf_get(group, fname);
        if (direct) {
            direct->secret = true;
        }
        if (!viafile || viafile->type != BRG_CONF_STRING) {
            continue;
        }
        if (direct) {
            brg_diag_error(d, viafile, "set either \"%s\" or \"%s\", not both", k->name, fname);
            continue;
        }
        FILE *f = fopen(viafile->v.s, "r");
        if (!f) {
            brg_diag_error(d, viafile, "cannot read \"%s\": %s", viafile->v.s, strerror(errno));
            continue;
        }
        char buf[4096];
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        int rerr = ferror(f) ? errno : 0;
        bool too_long = !rerr && !feof(f);
        fclose(f);
        if (rerr) {
            brg_diag_error(d, viafile, "cannot read \"%s\": %s", viafile->v.s, strerror(rerr));
            continue;
        }
        if (too_long) {
            brg_diag_error(d, viafile, "\"%s\" is larger than %zu bytes", viafile->v.s,
                           sizeof(buf) - 1);
            continue;
        }
        buf[n] = 0;
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
            buf[--n] = 0;
        }
        brg_conf_node_t *c = brg_xcalloc(1, sizeof(*c));
        c->name = brg_xstrdup(k->name);
        size_t plen = strlen(group->path) + strlen(k->name) + 2;
        c->path = brg_xmalloc(plen);
        snprintf(c->path, plen, "%s.%s", group->path, k->name);
        c->file = viafile->file;
        c->line = viafile->line;
        c->type = BRG_CONF_STRING;
        c->secret = true;
        c->v.s = brg_xstrdup(buf);
        group->kids = brg_xrealloc(group->kids, (group->nkids + 1) * sizeof(brg_conf_node_t *));
        group->kids[group->nkids++] = c;
    }
}

static const brg_adapter_t *endpoint_adapter(const brg_conf_node_t *ep_cs)
{
    const char *type = brg_conf_str(ep_cs, "type", NULL);
    return type ? brg_adapter_find(type) : NULL;
}

static void list_adapter_names(char *buf, size_t size)
{
    buf[0] = 0;
    for (size_t i = 0; brg_adapters[i]; i++) {
        size_t l = strlen(buf);
        snprintf(buf + l, size - l, "%s%s", i ? ", " : "", brg_adapters[i]->name);
    }
}

static void check_endpoint_schema(brg_conf_node_t *ep_cs, brg_diag_t *d)
{
    if (ep_cs->type != BRG_CONF_GROUP) {
        brg_diag_error(d, ep_cs, "must be a group { name = ...; type = ...; }");
        return;
    }
    const brg_conf_node_t *type = brg_conf_get(ep_cs, "type");
    const brg_adapter_t *ad = endpoint_adapter(ep_cs);
    if (type && type->type == BRG_CONF_STRING && !ad) {
        const char *hint = brg_adapter_enable_hint(type->v.s);
        if (hint) {
            brg_diag_error(d, type,
                           "adapter \"%s\" is not built into this msgbridge (rebuild with %s)",
                           type->v.s, hint);
        } else {
            char names[256];
            list_adapter_names(names, sizeof(names));
            brg_diag_error(d, type, "unknown endpoint type \"%s\" (built in: %s)", type->v.s,
                           names);
        }
    }
    if (!ad) {
        /* Without an adapter only the core keys can be checked. */
        for (const brg_conf_key_t *k = endpoint_core_keys; k->name; k++) {
            if ((k->flags & BRG_KEY_REQUIRED) && !brg_conf_get(ep_cs, k->name)) {
                brg_diag_error(d, ep_cs, "missing required key \"%s\"", k->name);
            }
        }
        return;
    }
    resolve_secrets(ep_cs, ad->endpoint_keys, d);
    brg_conf_check_keys(ep_cs, endpoint_core_keys, ad->endpoint_keys, d);
}

/* ---- the loader --------------------------------------------------------------------------- */

const brg_conf_node_t *brg_conf_endpoint(const brg_conf_t *conf, const char *name)
{
    for (size_t i = 0; i < conf->nendpoints; i++) {
        const char *n = brg_conf_str(conf->endpoints[i], "name", NULL);
        if (n && strcmp(n, name) == 0) {
            return conf->endpoints[i];
        }
    }
    return NULL;
}

static void templates_free(brg_conf_templates_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        brg_template_destroy(t->tpls[i]);
    }
    free(t->tpls);
    free(t->keys);
    *t = (brg_conf_templates_t){0};
}

/* Check a route's `from`, `to` or `dead_letter` group: its endpoint, the adapter's keys and
 * capability, templates (compiled into tpls for a sink; NULL for a source).
 * Returns: the endpoint's config or NULL. */
static const brg_conf_node_t *check_side(brg_conf_t *conf, brg_conf_node_t *side, bool is_source,
                                   brg_conf_templates_t *tpls, brg_diag_t *d)
{
    if (side->type != BRG_CONF_GROUP) {
        brg_diag_error(d, side, "must be a group { endpoint = ...; ... }");
        return NULL;
    }
    const brg_conf_node_t *epname = brg_conf_get(side, "endpoint");
    if (!epname) {
        brg_diag_error(d, side, "missing required key \"endpoint\"");
        return NULL;
    }
    if (epname->type != BRG_CONF_STRING) {
        brg_diag_error(d, epname, "must be a string, not %s", brg_conf_type_name(epname->type));
        return NULL;
    }
    const brg_conf_node_t *ep_cs = brg_conf_endpoint(conf, epname->v.s);
    if (!ep_cs) {
        brg_diag_error(d, epname, "unknown endpoint \"%s\"", epname->v.s);
        return NULL;
    }
    const brg_adapter_t *ad = endpoint_adapter(ep_cs);
    if (!ad) {
        return NULL; /* already reported at the endpoint */
    }
    unsigned need = is_source ? BRG_CAP_SOURCE : BRG_CAP_SINK;
    if (!(ad->caps & need)) {
        brg_diag_error(d, epname, "endpoint \"%s\" (%s) cannot be used as a %s", epname->v.s,
                       ad->name, is_source ? "source" : "sink");
        return NULL;
    }
    const brg_conf_key_t *keys = is_source ? ad->source_keys : ad->sink_keys;
    resolve_secrets(side, keys, d);
    size_t shape_errors = brg_conf_check_keys(side, side_core_keys, keys, d);
    size_t before = d->errors;
    for (const brg_conf_key_t *k = keys; k && k->name; k++) {
        const brg_conf_node_t *v = brg_conf_get(side, k->name);
        if (k->type != BRG_KEY_TEMPLATE || !v || v->type != BRG_CONF_STRING) {
            continue;
        }
        char err[512];
        brg_template_t *t = brg_template_parse(v->v.s, err, sizeof(err));
        if (!t) {
            brg_diag_error(d, v, "%s", err);
        } else if (tpls) {
            tpls->keys = brg_xrealloc(tpls->keys, (tpls->n + 1) * sizeof(*tpls->keys));
            tpls->tpls = brg_xrealloc(tpls->tpls, (tpls->n + 1) * sizeof(*tpls->tpls));
            tpls->keys[tpls->n] = k->name;
            tpls->tpls[tpls->n++] = t;
        } else {
            brg_template_destroy(t);
        }
    }
    if (shape_errors == 0 && d->errors == before) {
        if (is_source && ad->check_source) {
            ad->check_source(ep_cs, side, d);
        } else if (!is_source && ad->check_sink) {
            ad->check_sink(ep_cs, side, d);
        }
    }
    return ep_cs;
}

/* A route that writes into the stream it reads from loops forever: warn. */
static void warn_if_loop(const brg_conf_node_t *src_ep, const brg_conf_node_t *from, const brg_conf_node_t *sink_ep,
                         const brg_conf_node_t *side, brg_diag_t *d)
{
    const brg_adapter_t *sad = src_ep ? endpoint_adapter(src_ep) : NULL;
    const brg_conf_node_t *loop = NULL;
    if (sad && sink_ep && sad == endpoint_adapter(sink_ep) && sad->writes_to_source) {
        loop = sad->writes_to_source(src_ep, from, sink_ep, side);
    }
    if (loop) {
        brg_diag_warn(d, loop, "route writes into its own source (the %s sink delivers "
                      "into what the route reads)", sad->name);
        return;
    }
    if (!src_ep || sink_ep != src_ep) {
        return;
    }
    for (size_t k = 0; k < side->nkids; k++) {
        const brg_conf_node_t *sv = side->kids[k];
        const brg_conf_node_t *fv = brg_conf_get(from, sv->name);
        if (sv->type == BRG_CONF_STRING && fv && fv->type == BRG_CONF_STRING &&
            strcmp(sv->name, "endpoint") != 0 && strcmp(sv->v.s, fv->v.s) == 0) {
            brg_diag_warn(d, sv, "route writes into its own source (%s = \"%s\")", sv->name,
                          sv->v.s);
        }
    }
}

static void check_route(brg_conf_t *conf, brg_conf_node_t *rcs, brg_conf_route_t *r, brg_diag_t *d)
{
    r->cs = rcs;
    r->max_in_flight = BRG_DEFAULT_MAX_IN_FLIGHT;
    r->max_in_flight_bytes = BRG_DEFAULT_MAX_IN_FLIGHT_BYTES;
    if (rcs->type != BRG_CONF_GROUP) {
        brg_diag_error(d, rcs, "must be a group { name = ...; from = ...; to = ...; }");
        return;
    }
    const brg_conf_node_t *to = brg_conf_get(rcs, "to");
    brg_conf_check_keys(rcs, route_keys, NULL, d);
    r->name = brg_conf_str(rcs, "name", NULL);
    r->max_in_flight = brg_conf_int(rcs, "max_in_flight", BRG_DEFAULT_MAX_IN_FLIGHT);
    r->max_in_flight_bytes =
        brg_conf_int(rcs, "max_in_flight_bytes", BRG_DEFAULT_MAX_IN_FLIGHT_BYTES);
    const brg_conf_node_t *mif = brg_conf_get(rcs, "max_in_flight");
    const brg_conf_node_t *mifb = brg_conf_get(rcs, "max_in_flight_bytes");
    r->stall_timeout_ms = brg_conf_int(rcs, "stall_timeout", conf->stall_timeout_ms / 1000) * 1000;
    const char *delivery = brg_conf_str(rcs, "delivery", "at-least-once");
    if (strcmp(delivery, "at-most-once") == 0 || strcmp(delivery, "exactly-once") == 0) {
        brg_diag_error(d, brg_conf_get(rcs, "delivery"),
                       "delivery \"%s\" is not supported by this version (at-least-once only)",
                       delivery);
    }
    /* At least one message (or byte) in 1000 s: below that a route is better stopped. */
    static const brg_conf_key_t rate_keys[] = {
        {.name = "messages_per_second", .type = BRG_KEY_FLOAT, .flags = BRG_KEY_RANGE,
         .min = 0.001, .max = INFINITY, .help = "message rate limit"},
        {.name = "bytes_per_second", .type = BRG_KEY_FLOAT, .flags = BRG_KEY_RANGE, .min = 0.001,
         .max = INFINITY, .help = "body byte rate limit"},
        {.name = NULL},
    };
    brg_conf_check_keys(brg_conf_get(rcs, "rate"), rate_keys, NULL, d);
    brg_conf_node_t *from = (brg_conf_node_t *)brg_conf_get(rcs, "from");
    const brg_conf_node_t *src_ep = NULL;
    if (from && from->type == BRG_CONF_GROUP) {
        r->from = from;
        src_ep = check_side(conf, from, true, NULL, d);
    }
    size_t sink_window = 0; /* the smallest of the sinks' (brg_adapter_t.sink_window) */
    if (to && brg_conf_type_ok(to, BRG_KEY_GROUP_OR_LIST)) {
        size_t n = to->type == BRG_CONF_GROUP ? 1 : to->nkids;
        r->to = brg_xcalloc(n, sizeof(brg_conf_node_t *));
        r->to_templates = brg_xcalloc(n, sizeof(*r->to_templates));
        for (size_t i = 0; i < n; i++) {
            brg_conf_node_t *side = to->type == BRG_CONF_GROUP ? (brg_conf_node_t *)to : to->kids[i];
            r->to[r->nto++] = side;
            const brg_conf_node_t *sink_ep = check_side(conf, side, false, &r->to_templates[i], d);
            warn_if_loop(src_ep, from, sink_ep, side, d);
            const brg_adapter_t *sink_ad = sink_ep ? endpoint_adapter(sink_ep) : NULL;
            if (sink_ad && sink_ad->sink_window &&
                (!sink_window || sink_ad->sink_window < sink_window)) {
                sink_window = sink_ad->sink_window;
            }
        }
    }
    /* A source that reads ahead in bulk is windowed in bytes (brg_adapter_t.source_record_cost):
     * its defaults come from the adapter, the message count bounded by what the sinks can use;
     * a key the user set stays as it is. */
    const brg_adapter_t *src_ad = src_ep ? endpoint_adapter(src_ep) : NULL;
    if (src_ad && src_ad->source_record_cost) {
        if (!mifb && src_ad->source_window_bytes) {
            r->max_in_flight_bytes = (int64_t)src_ad->source_window_bytes;
        }
        if (!mif) {
            int64_t n = r->max_in_flight_bytes / (int64_t)src_ad->source_record_cost;
            if (sink_window && n > (int64_t)sink_window) {
                n = (int64_t)sink_window;
            }
            r->max_in_flight = n < 1 ? 1 : n > 1000000 ? 1000000 : n;
        }
    }
    brg_conf_node_t *dl = (brg_conf_node_t *)brg_conf_get(rcs, "dead_letter");
    if (dl && dl->type == BRG_CONF_GROUP) {
        r->dead_letter = dl;
        check_side(conf, dl, false, &r->dead_letter_templates, d);
    }
    const brg_conf_node_t *unr = brg_conf_get(rcs, "on_unroutable");
    if (unr && unr->type == BRG_CONF_STRING && strcmp(unr->v.s, "dead_letter") == 0 &&
        !r->dead_letter) {
        brg_diag_error(d, unr, "on_unroutable = \"dead_letter\" needs a dead_letter group in "
                               "the route");
    }
    double pmin = brg_conf_float(rcs, "park_retry_min", 1);
    const brg_conf_node_t *pmax_c = brg_conf_get(rcs, "park_retry_max");
    if (pmax_c && brg_conf_float(rcs, "park_retry_max", 60) < pmin) {
        brg_diag_error(d, pmax_c, "must be at least park_retry_min (%g)", pmin);
    }
    r->mapping = brg_mapping_new(rcs, conf->bridge_id, r->name ? r->name : "", d);
}

typedef struct {
    const brg_conf_node_t *name;
    size_t index;
} named_t;

static int cmp_named(const void *pa, const void *pb)
{
    const named_t *a = pa, *b = pb;
    int c = strcmp(a->name->v.s, b->name->v.s);
    return c ? c : (a->index > b->index) - (a->index < b->index);
}

/* Names must be unique: sorted, so that 40,000 routes check in milliseconds. Each repeat is
 * reported at its own line, pointing at the first definition. */
static void check_unique(const brg_conf_node_t *const *items, size_t n, const char *what, brg_diag_t *d)
{
    named_t *v = brg_xcalloc(n + 1, sizeof(*v));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const brg_conf_node_t *a = brg_conf_get(items[i], "name");
        if (a && a->type == BRG_CONF_STRING) {
            v[m++] = (named_t){a, i};
        }
    }
    qsort(v, m, sizeof(*v), cmp_named);
    for (size_t i = 1; i < m; i++) {
        size_t first = i - 1;
        while (i < m && strcmp(v[i].name->v.s, v[first].name->v.s) == 0) {
            brg_diag_error(d, v[i].name, "duplicate %s name \"%s\" (first defined at %s:%d)", what,
                           v[i].name->v.s, v[first].name->file, v[first].name->line);
            i++;
        }
    }
    free(v);
}

static void load_bridge_section(brg_conf_t *conf, brg_diag_t *d)
{
    const brg_conf_node_t *b = brg_conf_get(conf->root, "bridge");
    static char hostname[256];
    if (!hostname[0] && gethostname(hostname, sizeof(hostname) - 1) != 0) {
        snprintf(hostname, sizeof(hostname), "msgbridge");
    }
    conf->bridge_id = hostname;
    conf->shutdown_timeout_ms = 30000;
    conf->stats_interval_ms = 60000;
    conf->stall_timeout_ms = 60000;
    conf->log_level = BRG_LOG_INFO;
    conf->log_format = BRG_LOG_TEXT;
    if (!b || b->type != BRG_CONF_GROUP) {
        return;
    }
    brg_conf_check_keys(b, bridge_keys, NULL, d);
    conf->bridge_id = brg_conf_str(b, "id", hostname);
    conf->metrics_addr = brg_conf_str(b, "metrics", NULL);
    const brg_conf_node_t *m = brg_conf_get(b, "metrics");
    if (m && m->type == BRG_CONF_STRING) {
        const char *colon = strrchr(m->v.s, ':');
        char *end = NULL;
        long port = colon ? strtol(colon + 1, &end, 10) : -1;
        if (!colon || colon == m->v.s || !end || *end || port < 1 || port > 65535) {
            brg_diag_error(d, m, "must be HOST:PORT (for example \"127.0.0.1:9464\"), not \"%s\"",
                           m->v.s);
        }
    }
    conf->shutdown_timeout_ms =
        brg_conf_int(b, "shutdown_timeout", conf->shutdown_timeout_ms / 1000) * 1000;
    conf->stats_interval_ms =
        brg_conf_int(b, "stats_interval", conf->stats_interval_ms / 1000) * 1000;
    conf->stall_timeout_ms = brg_conf_int(b, "stall_timeout", conf->stall_timeout_ms / 1000) * 1000;
    const brg_conf_node_t *log = brg_conf_get(b, "log");
    brg_conf_check_keys(log, log_keys, NULL, d);
    brg_log_level_parse(brg_conf_str(log, "level", "info"), &conf->log_level);
    if (strcmp(brg_conf_str(log, "format", "text"), "json") == 0) {
        conf->log_format = BRG_LOG_JSON;
    }
}

static brg_conf_t *load(config_t *lc, const char *file, brg_diag_t *d)
{
    loader_t ld = {.d = d};
    intern_file(&ld, file);
    brg_conf_t *conf = brg_xcalloc(1, sizeof(*conf));
    conf->file = brg_xstrdup(file);
    conf->root = convert(&ld, config_root_setting(lc), NULL, 0, ld.files[0]);
    conf->root->file = ld.files[0];
    conf->root->line = 1;
    /* The interned file names live as long as the tree. */
    conf->files = ld.files;
    conf->nfiles = ld.nfiles;

    /* Top-level keys. */
    for (size_t i = 0; i < conf->root->nkids; i++) {
        const brg_conf_node_t *c = conf->root->kids[i];
        bool known = false;
        for (const brg_conf_key_t *k = top_keys; k->name; k++) {
            known = known || strcmp(k->name, c->name) == 0;
        }
        if (!known) {
            brg_diag_error(d, c, "unknown key \"%s\" (valid keys: bridge, endpoints, routes)",
                           c->name);
        }
    }
    load_bridge_section(conf, d);

    const brg_conf_node_t *eps = brg_conf_get(conf->root, "endpoints");
    if (!eps) {
        brg_diag_error(d, conf->root, "missing required key \"endpoints\"");
    } else if (eps->type != BRG_CONF_LIST) {
        brg_diag_error(d, eps, "must be a list ( { name = ...; type = ...; }, ... )");
    } else {
        conf->endpoints = brg_xcalloc(eps->nkids + 1, sizeof(brg_conf_node_t *));
        for (size_t i = 0; i < eps->nkids; i++) {
            check_endpoint_schema(eps->kids[i], d);
            if (eps->kids[i]->type == BRG_CONF_GROUP) {
                conf->endpoints[conf->nendpoints++] = eps->kids[i];
            }
        }
        check_unique(conf->endpoints, conf->nendpoints, "endpoint", d);
        conf->endpoint_settings = brg_xcalloc(conf->nendpoints + 1, sizeof(void *));
        for (size_t i = 0; i < conf->nendpoints; i++) {
            const brg_adapter_t *ad = endpoint_adapter(conf->endpoints[i]);
            if (ad && ad->check_endpoint) {
                ad->check_endpoint(conf->endpoints[i], d);
            }
            if (ad && ad->compile_endpoint) {
                conf->endpoint_settings[i] = ad->compile_endpoint(conf->endpoints[i], d);
            }
        }
    }
    const brg_conf_node_t *rts = brg_conf_get(conf->root, "routes");
    if (!rts) {
        brg_diag_error(d, conf->root, "missing required key \"routes\"");
    } else if (rts->type != BRG_CONF_LIST) {
        brg_diag_error(d, rts, "must be a list ( { name = ...; from = ...; to = ...; }, ... )");
    } else {
        conf->routes = brg_xcalloc(rts->nkids + 1, sizeof(brg_conf_route_t));
        const brg_conf_node_t **groups = brg_xcalloc(rts->nkids + 1, sizeof(brg_conf_node_t *));
        size_t ng = 0;
        for (size_t i = 0; i < rts->nkids; i++) {
            check_route(conf, rts->kids[i], &conf->routes[conf->nroutes++], d);
            if (rts->kids[i]->type == BRG_CONF_GROUP) {
                groups[ng++] = rts->kids[i];
            }
        }
        check_unique(groups, ng, "route", d);
        free(groups);
    }
    if (d->errors) {
        brg_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

static void report_parse_error(config_t *lc, const char *file, brg_diag_t *d)
{
    const char *efile = config_error_file(lc) ? config_error_file(lc) : file;
    if (config_error_type(lc) == CONFIG_ERR_FILE_IO) {
        brg_diag_error_at(d, efile, 0, NULL, "cannot read the file: %s", strerror(errno));
    } else {
        brg_diag_error_at(d, efile, config_error_line(lc), NULL, "%s",
                          config_error_text(lc) ? config_error_text(lc) : "syntax error");
    }
}

brg_conf_t *brg_conf_load_report(const char *path, FILE *err, size_t *errors)
{
    brg_diag_t d;
    brg_diag_init(&d);
    brg_conf_t *conf = brg_conf_load(path, &d);
    for (size_t i = 0; i < d.count; i++) {
        fprintf(err, "%s\n", d.lines[i]);
    }
    if (errors) {
        *errors = d.errors;
    }
    brg_diag_fini(&d);
    return conf;
}

brg_conf_t *brg_conf_load(const char *path, brg_diag_t *d)
{
    config_t lc;
    config_init(&lc);
    /* @include paths are relative to the including file's folder. */
    char *dir = brg_xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        config_set_include_dir(&lc, dir);
    }
    brg_conf_t *conf = NULL;
    /* Read it whole (libconfig's file reader is quadratic on long tokens) and check the raw
     * text for what libconfig would hide (see conf_scan.h). */
    size_t len = 0;
    char *text = brg_conf_read_text(path, NULL, 0, &len, d);
    if (!text || !brg_conf_scan(text, len, path, slash ? dir : NULL, d)) {
        goto out;
    }
    if (!config_read_string(&lc, text)) {
        report_parse_error(&lc, path, d);
        goto out;
    }
    conf = load(&lc, path, d);
out:
    free(text);
    config_destroy(&lc);
    free(dir);
    return conf;
}

brg_conf_t *brg_conf_load_string(const char *text, const char *name, brg_diag_t *d)
{
    config_t lc;
    config_init(&lc);
    brg_conf_t *conf = NULL;
    if (!config_read_string(&lc, text)) {
        report_parse_error(&lc, name, d);
    } else {
        conf = load(&lc, name, d);
    }
    config_destroy(&lc);
    return conf;
}

brg_conf_node_t *brg_conf_parse_tree(const char *text, const char *name)
{
    config_t lc;
    config_init(&lc);
    brg_conf_node_t *root = NULL;
    if (config_read_string(&lc, text)) {
        brg_diag_t d;
        brg_diag_init(&d);
        loader_t ld = {.d = &d};
        char *file = brg_xstrdup(name);
        root = convert(&ld, config_root_setting(&lc), NULL, 0, file);
        root->file_owned = file;
        root->file = file;
        root->line = 1;
        for (size_t i = 0; i < ld.nfiles; i++) {
            free(ld.files[i]);
        }
        free(ld.files);
        brg_diag_fini(&d);
    }
    config_destroy(&lc);
    return root;
}

void *brg_conf_endpoint_settings(const brg_conf_t *conf, size_t i)
{
    return conf->endpoint_settings && i < conf->nendpoints ? conf->endpoint_settings[i] : NULL;
}

void brg_conf_destroy(brg_conf_t *conf)
{
    if (!conf) {
        return;
    }
    for (size_t i = 0; i < conf->nroutes; i++) {
        brg_conf_route_t *r = &conf->routes[i];
        for (size_t j = 0; r->to_templates && j < r->nto; j++) {
            templates_free(&r->to_templates[j]);
        }
        templates_free(&r->dead_letter_templates);
        free(r->to_templates);
        free(r->to);
        brg_mapping_destroy(r->mapping);
    }
    free(conf->routes);
    for (size_t i = 0; conf->endpoint_settings && i < conf->nendpoints; i++) {
        const brg_adapter_t *ad = endpoint_adapter(conf->endpoints[i]);
        if (conf->endpoint_settings[i] && ad && ad->free_settings) {
            ad->free_settings(conf->endpoint_settings[i]);
        }
    }
    free(conf->endpoint_settings);
    free(conf->endpoints);
    brg_conf_node_destroy(conf->root);
    for (size_t i = 0; i < conf->nfiles; i++) {
        free(conf->files[i]);
    }
    free(conf->files);
    free(conf->file);
    free(conf);
}

/* ---- -t output ---------------------------------------------------------------------------- */

static void print_keys(const brg_conf_node_t *g, FILE *out)
{
    for (size_t i = 0; i < g->nkids; i++) {
        const brg_conf_node_t *c = g->kids[i];
        if (!c->name || strcmp(c->name, "endpoint") == 0 || strcmp(c->name, "name") == 0 ||
            strcmp(c->name, "type") == 0) {
            continue;
        }
        size_t n = strlen(c->name);
        bool secret_file = n > 5 && strcmp(c->name + n - 5, "_file") == 0;
        if (c->secret) {
            fprintf(out, " %s=***", c->name);
        } else if (c->type == BRG_CONF_STRING) {
            if (strstr(c->v.s, "://")) {
                char red[512];
                fprintf(out, " %s=%s", c->name, brg_redact_url(c->v.s, red, sizeof(red)));
            } else {
                fprintf(out, " %s=%s", c->name, secret_file ? c->v.s : c->v.s);
            }
        } else if (c->type == BRG_CONF_INT) {
            fprintf(out, " %s=%lld", c->name, (long long)c->v.i);
        } else if (c->type == BRG_CONF_BOOL) {
            fprintf(out, " %s=%s", c->name, c->v.b ? "true" : "false");
        } else if (c->type == BRG_CONF_LIST) {
            fprintf(out, " %s=[%zu]", c->name, c->nkids);
        }
    }
}

void brg_conf_print_graph(const brg_conf_t *conf, FILE *out)
{
    fprintf(out, "bridge %s\n", conf->bridge_id);
    fprintf(out, "endpoints:\n");
    for (size_t i = 0; i < conf->nendpoints; i++) {
        const brg_conf_node_t *e = conf->endpoints[i];
        fprintf(out, "  %s (%s)", brg_conf_str(e, "name", "?"), brg_conf_str(e, "type", "?"));
        print_keys(e, out);
        fprintf(out, "\n");
    }
    fprintf(out, "routes:\n");
    for (size_t i = 0; i < conf->nroutes; i++) {
        const brg_conf_route_t *r = &conf->routes[i];
        fprintf(out, "  %s: %s", r->name ? r->name : "?",
                brg_conf_str(r->from, "endpoint", "?"));
        print_keys(r->from, out);
        for (size_t j = 0; j < r->nto; j++) {
            fprintf(out, "\n      -> %s", brg_conf_str(r->to[j], "endpoint", "?"));
            print_keys(r->to[j], out);
        }
        if (r->dead_letter) {
            fprintf(out, "\n      dead letter -> %s", brg_conf_str(r->dead_letter, "endpoint", "?"));
            print_keys(r->dead_letter, out);
        }
        fprintf(out, "\n      (max_in_flight=%lld, max_in_flight_bytes=%lld)\n",
                (long long)r->max_in_flight, (long long)r->max_in_flight_bytes);
    }
    /* Chains: a route's fixed destination named as another route's source. Feeding only the
     * broker knows (a RabbitMQ exchange bound to a queue by hand) is not shown. */
    const brg_conf_node_t **cs = brg_xcalloc(conf->nroutes + 1, sizeof(*cs));
    for (size_t i = 0; i < conf->nroutes; i++) {
        cs[i] = conf->routes[i].cs;
    }
    brg_streams_t *st = brg_streams_new(cs, conf->nroutes);
    brg_streams_print_chains(st, out);
    brg_streams_destroy(st);
    free(cs);
}
