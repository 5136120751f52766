/* A route's mapping: the hop count through other bridges, filter, stream rename, header rules,
 * key rules, the loop check by stream and the provenance stamp, applied in that order. */
#include "mappings/mapping.h"

#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mappings/filter.h"
#include "mappings/regex.h"
#include "mappings/template.h"

/* The provenance header: entries joined by ",", oldest first. An entry is "bridge/route",
 * followed, where the route's config alone cannot tell what the message was read from, by
 * "@name" (the stream read, for a source given as a pattern or a list of topics) and/or
 * ">name" (the AMQP 0-9-1 exchange the message had been published to). An entry without them
 * (also what versions before 1.1 wrote) stands for the streams the route's config names. */
#define PATH_HEADER "x-msgbridge-path"
/* A chain inside one bridge is at most this many hops: a safety net for cycles through
 * streams whose feeding the config cannot show (an exchange bound to a queue by hand). */
#define MAX_OWN_HOPS 10

/* A stream, protocol-neutral: an endpoint name, a kind and a name in it. */
typedef struct stream_ref {
    char *endpoint;
    const char *kind;     /* "topic", "queue", "exchange", "address", "stream" */
    char *name;           /* NULL when tmpl is set */
    brg_template_t *tmpl; /* writes only: a name known per message */
} stream_ref_t;

typedef struct route_streams {
    char *name;
    char *src_endpoint;
    const char *src_kind;  /* the kind of "@name" entries */
    stream_ref_t *reads, *writes;
    size_t nreads, nwrites;
    bool reads_open;       /* reads streams the config does not name (a pattern, a list) */
    bool record;           /* so its entries name the stream read ("@name") */
} route_streams_t;

/* Shared by the mappings of one engine; copies its strings, since a reload frees the config
 * while routes it keeps still run. */
struct brg_streams {
    route_streams_t *routes;
    size_t n;
    atomic_int refs;
};

typedef struct streams_view {
    brg_streams_t *streams;         /* a reference */
    const route_streams_t *me;      /* this route in streams, NULL if absent */
    struct streams_view *prev;      /* the view this one replaced */
} streams_view_t;

typedef struct set_rule {
    char *name;
    brg_template_t *value;
} set_rule_t;

typedef struct rename_rule {
    char *from, *to;
} rename_rule_t;

typedef struct regex_rule {
    char *field;
    regex_t re;
    char *replace; /* NULL: the first capture group (or the whole match) */
} regex_rule_t;

struct brg_mapping {
    char *stamp; /* "bridge/route" */
    char *bridge_id;
    bool provenance;
    int max_hops;
    bool strict;
    brg_filter_t *where;
    regex_rule_t *rename; /* on the source stream name */
    char **remove;
    size_t nremove;
    rename_rule_t *renames;
    size_t nrenames;
    set_rule_t *sets;
    size_t nsets;
    brg_template_t *key;
    regex_rule_t *key_regex;
    /* The stream table (NULL: every own hop is a loop). Swapped by a reload while apply runs
     * on other threads, so the views it replaced live on until the mapping is destroyed. */
    _Atomic(struct streams_view *) view;
    const char *route_name;       /* points into stamp */
};

const brg_conf_key_t brg_mapping_keys[] = {
    {.name = "provenance", .type = BRG_KEY_BOOL,
     .help = "stamp and check the x-msgbridge-path header (default true)"},
    {.name = "max_hops", .type = BRG_KEY_INT,
     .help = "drop messages that already crossed this many bridges (default 1)"},
    {.name = "strict", .type = BRG_KEY_BOOL,
     .help = "dead-letter a message a sink cannot carry losslessly"},
    {.name = "where", .type = BRG_KEY_STRING, .help = "filter expression"},
    {.name = "rename", .type = BRG_KEY_GROUP,
     .help = "{ pattern = \"^orders\\\\.(.*)$\"; replace = \"east.\\\\1\"; } on the source stream "
             "name"},
    {.name = "remove_headers", .type = BRG_KEY_STRING_LIST, .help = "header names to drop"},
    {.name = "rename_headers", .type = BRG_KEY_GROUP_OR_LIST,
     .help = "( { from = \"a\"; to = \"b\"; }, ... )"},
    {.name = "set_headers", .type = BRG_KEY_GROUP_OR_LIST,
     .help = "( { name = \"x\"; value = \"${topic}\"; }, ... )"},
    {.name = "key", .type = BRG_KEY_TEMPLATE, .help = "set the key from a template"},
    {.name = "key_regex", .type = BRG_KEY_GROUP,
     .help = "{ field = \"topic\"; pattern = \"...(capture)...\"; }"},
    {.name = NULL},
};

static const brg_conf_key_t rename_keys[] = {
    {.name = "pattern", .type = BRG_KEY_STRING, .flags = BRG_KEY_REQUIRED,
     .help = "POSIX extended regex"},
    {.name = "replace", .type = BRG_KEY_STRING, .flags = BRG_KEY_REQUIRED,
     .help = "replacement; \\1..\\9 are captures"},
    {.name = NULL},
};
static const brg_conf_key_t key_regex_keys[] = {
    {.name = "field", .type = BRG_KEY_STRING, .help = "field to match (default topic)"},
    {.name = "pattern", .type = BRG_KEY_STRING, .flags = BRG_KEY_REQUIRED,
     .help = "POSIX extended regex"},
    {.name = "replace", .type = BRG_KEY_STRING,
     .help = "replacement (default: the first capture group)"},
    {.name = NULL},
};
static const brg_conf_key_t rename_header_keys[] = {
    {.name = "from", .type = BRG_KEY_STRING, .flags = BRG_KEY_REQUIRED, .help = "header name"},
    {.name = "to", .type = BRG_KEY_STRING, .flags = BRG_KEY_REQUIRED, .help = "new name"},
    {.name = NULL},
};
static const brg_conf_key_t set_header_keys[] = {
    {.name = "name", .type = BRG_KEY_STRING, .flags = BRG_KEY_REQUIRED, .help = "header name"},
    {.name = "value", .type = BRG_KEY_TEMPLATE, .flags = BRG_KEY_REQUIRED,
     .help = "value (template)"},
    {.name = NULL},
};

static regex_rule_t *compile_regex(const brg_conf_node_t *g, const char *def_field, brg_diag_t *d)
{
    const brg_conf_node_t *pat = brg_conf_get(g, "pattern");
    if (!pat || pat->type != BRG_CONF_STRING) {
        return NULL;
    }
    regex_rule_t *r = brg_xcalloc(1, sizeof(*r));
    char msg[160];
    if (brg_regex_compile(&r->re, pat->v.s, REG_EXTENDED, msg, sizeof(msg)) != 0) {
        brg_diag_error(d, pat, "bad regular expression \"%s\": %s", pat->v.s, msg);
        free(r);
        return NULL;
    }
    r->field = brg_xstrdup(brg_conf_str(g, "field", def_field));
    const char *rep = brg_conf_str(g, "replace", NULL);
    r->replace = rep ? brg_xstrdup(rep) : NULL;
    if (!brg_field_known(r->field)) {
        const brg_conf_node_t *f = brg_conf_get(g, "field");
        brg_diag_error(d, f ? f : g,
                       "unknown field \"%s\" (valid: key, topic, partition, routing_key, exchange, "
                       "subject, message_id, correlation_id, content_type, header.NAME)",
                       r->field);
    }
    return r;
}

static void free_regex(regex_rule_t *r)
{
    if (r) {
        regfree(&r->re);
        free(r->field);
        free(r->replace);
        free(r);
    }
}

/* Apply a regex rule to text. Returns: a malloc'd result, or NULL if it does not match. */
static char *regex_apply(const regex_rule_t *r, const char *text)
{
    regmatch_t m[10];
    if (regexec(&r->re, text, 10, m, 0) != 0) {
        return NULL;
    }
    if (!r->replace) {
        int g = m[1].rm_so >= 0 ? 1 : 0;
        return brg_xstrndup(text + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
    }
    size_t cap = strlen(r->replace) + strlen(text) + 1, n = 0;
    char *out = brg_xmalloc(cap);
    for (const char *p = r->replace; *p; p++) {
        const char *add = p;
        size_t len = 1;
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '9') {
            int g = p[1] - '0';
            p++;
            if (m[g].rm_so < 0) {
                continue;
            }
            add = text + m[g].rm_so;
            len = (size_t)(m[g].rm_eo - m[g].rm_so);
        }
        if (n + len + 1 > cap) {
            cap = (n + len + 1) * 2;
            out = brg_xrealloc(out, cap);
        }
        memcpy(out + n, add, len);
        n += len;
    }
    out[n] = 0;
    return out;
}

char *brg_mapping_stream_name(const brg_mapping_t *m, const char *stream)
{
    char *renamed = m->rename ? regex_apply(m->rename, stream) : NULL;
    return renamed ? renamed : brg_xstrdup(stream);
}

brg_mapping_t *brg_mapping_new(const brg_conf_node_t *route_cs, const char *bridge_id,
                               const char *route_name, brg_diag_t *d)
{
    const brg_conf_node_t *g = brg_conf_get(route_cs, "mapping");
    size_t errors = d->errors;
    brg_mapping_t *m = brg_xcalloc(1, sizeof(*m));
    m->bridge_id = brg_xstrdup(bridge_id);
    size_t sl = strlen(bridge_id) + strlen(route_name) + 2;
    m->stamp = brg_xmalloc(sl);
    snprintf(m->stamp, sl, "%s/%s", bridge_id, route_name);
    m->route_name = m->stamp + strlen(bridge_id) + 1;
    m->provenance = true;
    m->max_hops = 1;
    if (g && g->type == BRG_CONF_GROUP) {
        brg_conf_check_keys(g, brg_mapping_keys, NULL, d);
        m->provenance = brg_conf_bool(g, "provenance", true);
        m->strict = brg_conf_bool(g, "strict", false);
        const brg_conf_node_t *mh = brg_conf_get(g, "max_hops");
        if (mh && mh->type == BRG_CONF_INT) {
            if (mh->v.i < 1 || mh->v.i > 100) {
                brg_diag_error(d, mh, "must be between 1 and 100");
            }
            m->max_hops = (int)mh->v.i;
        }
        const brg_conf_node_t *where = brg_conf_get(g, "where");
        if (where && where->type == BRG_CONF_STRING) {
            char err[512];
            m->where = brg_filter_parse(where->v.s, err, sizeof(err));
            if (!m->where) {
                brg_diag_error(d, where, "%s", err);
            }
        }
        const brg_conf_node_t *rn = brg_conf_get(g, "rename");
        if (rn && rn->type == BRG_CONF_GROUP) {
            brg_conf_check_keys(rn, rename_keys, NULL, d);
            m->rename = compile_regex(rn, "topic", d);
        }
        const brg_conf_node_t *kr = brg_conf_get(g, "key_regex");
        if (kr && kr->type == BRG_CONF_GROUP) {
            brg_conf_check_keys(kr, key_regex_keys, NULL, d);
            m->key_regex = compile_regex(kr, "topic", d);
        }
        const brg_conf_node_t *key = brg_conf_get(g, "key");
        if (key && key->type == BRG_CONF_STRING) {
            char err[512];
            m->key = brg_template_parse(key->v.s, err, sizeof(err));
            if (!m->key) {
                brg_diag_error(d, key, "%s", err);
            }
        }
        const brg_conf_node_t *rm = brg_conf_get(g, "remove_headers");
        if (rm && rm->type == BRG_CONF_LIST) {
            m->remove = brg_xcalloc(rm->nkids + 1, sizeof(char *));
            for (size_t i = 0; i < rm->nkids; i++) {
                if (rm->kids[i]->type == BRG_CONF_STRING) {
                    m->remove[m->nremove++] = brg_xstrdup(rm->kids[i]->v.s);
                }
            }
        }
        const brg_conf_node_t *rh = brg_conf_get(g, "rename_headers");
        if (rh && (rh->type == BRG_CONF_GROUP || rh->type == BRG_CONF_LIST)) {
            size_t n = rh->type == BRG_CONF_GROUP ? 1 : rh->nkids;
            m->renames = brg_xcalloc(n + 1, sizeof(rename_rule_t));
            for (size_t i = 0; i < n; i++) {
                const brg_conf_node_t *r = rh->type == BRG_CONF_GROUP ? rh : rh->kids[i];
                brg_conf_check_keys(r, rename_header_keys, NULL, d);
                const char *from = brg_conf_str(r, "from", NULL), *to = brg_conf_str(r, "to", NULL);
                if (from && to) {
                    m->renames[m->nrenames++] = (rename_rule_t){brg_xstrdup(from), brg_xstrdup(to)};
                }
            }
        }
        const brg_conf_node_t *sh = brg_conf_get(g, "set_headers");
        if (sh && (sh->type == BRG_CONF_GROUP || sh->type == BRG_CONF_LIST)) {
            size_t n = sh->type == BRG_CONF_GROUP ? 1 : sh->nkids;
            m->sets = brg_xcalloc(n + 1, sizeof(set_rule_t));
            for (size_t i = 0; i < n; i++) {
                const brg_conf_node_t *r = sh->type == BRG_CONF_GROUP ? sh : sh->kids[i];
                brg_conf_check_keys(r, set_header_keys, NULL, d);
                const char *name = brg_conf_str(r, "name", NULL);
                const brg_conf_node_t *val = brg_conf_get(r, "value");
                if (!name || !val || val->type != BRG_CONF_STRING) {
                    continue;
                }
                char err[512];
                brg_template_t *t = brg_template_parse(val->v.s, err, sizeof(err));
                if (!t) {
                    brg_diag_error(d, val, "%s", err);
                    continue;
                }
                m->sets[m->nsets++] = (set_rule_t){brg_xstrdup(name), t};
            }
        }
    }
    if (d->errors > errors) {
        brg_mapping_destroy(m);
        return NULL;
    }
    return m;
}

void brg_mapping_destroy(brg_mapping_t *m)
{
    if (!m) {
        return;
    }
    streams_view_t *v = atomic_load(&m->view);
    while (v) {
        streams_view_t *prev = v->prev;
        brg_streams_destroy(v->streams);
        free(v);
        v = prev;
    }
    free(m->stamp);
    free(m->bridge_id);
    brg_filter_destroy(m->where);
    free_regex(m->rename);
    free_regex(m->key_regex);
    for (size_t i = 0; i < m->nremove; i++) {
        free(m->remove[i]);
    }
    free(m->remove);
    for (size_t i = 0; i < m->nrenames; i++) {
        free(m->renames[i].from);
        free(m->renames[i].to);
    }
    free(m->renames);
    for (size_t i = 0; i < m->nsets; i++) {
        free(m->sets[i].name);
        brg_template_destroy(m->sets[i].value);
    }
    free(m->sets);
    brg_template_destroy(m->key);
    free(m);
}

bool brg_mapping_strict(const brg_mapping_t *m)
{
    return m && m->strict;
}

/* ---- streams ------------------------------------------------------------------------------ */

static void add_ref(stream_ref_t **v, size_t *n, const char *ep, const char *kind, const char *name)
{
    *v = brg_xrealloc(*v, (*n + 1) * sizeof(**v));
    stream_ref_t *r = &(*v)[(*n)++];
    *r = (stream_ref_t){brg_xstrdup(ep), kind, NULL, NULL};
    char err[256];
    if (strchr(name, '$')) {
        r->tmpl = brg_template_parse(name, err, sizeof(err));
    }
    if (!r->tmpl) {
        r->name = brg_xstrdup(name);
    }
}

static void scan_reads(route_streams_t *rs, const brg_conf_node_t *from)
{
    static const char *const kinds[] = {"topic", "queue", "address", "stream"};
    const char *ep = rs->src_endpoint;
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        const char *v = brg_conf_str(from, kinds[k], NULL);
        if (v) {
            rs->src_kind = kinds[k];
            if (v[0] == '^') {
                rs->reads_open = rs->record = true;
            } else {
                add_ref(&rs->reads, &rs->nreads, ep, kinds[k], v);
            }
        }
    }
    const brg_conf_node_t *topics = brg_conf_get(from, "topics");
    if (topics && topics->type == BRG_CONF_LIST) {
        /* A list: which topic a message came from is recorded per message ("@topic"). */
        rs->src_kind = "topic";
        rs->reads_open = rs->record = true;
    }
    /* A RabbitMQ source bound to an exchange reads what is published to that exchange. */
    const char *x = brg_conf_str(from, "exchange", NULL);
    if (x && x[0]) {
        add_ref(&rs->reads, &rs->nreads, ep, "exchange", x);
    }
    if (!rs->src_kind) {
        rs->src_kind = "stream";
        rs->reads_open = rs->nreads == 0;
    }
}

static void scan_writes(route_streams_t *rs, const brg_conf_node_t *to)
{
    const char *ep = brg_conf_str(to, "endpoint", "");
    static const char *const kinds[] = {"topic", "address", "stream", "queue"};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        const char *v = brg_conf_str(to, kinds[k], NULL);
        if (v) {
            add_ref(&rs->writes, &rs->nwrites, ep, kinds[k], v);
        }
    }
    /* AMQP 0-9-1: a named exchange, or the default exchange, which delivers to the queue named
     * by the routing key. */
    const char *x = brg_conf_str(to, "exchange", NULL);
    const char *rk = brg_conf_str(to, "routing_key", NULL);
    if (x && x[0]) {
        add_ref(&rs->writes, &rs->nwrites, ep, "exchange", x);
    } else if (rk && (x || !brg_conf_get(to, "topic"))) {
        add_ref(&rs->writes, &rs->nwrites, ep, "queue", rk);
    }
}

brg_streams_t *brg_streams_new(const brg_conf_node_t *const *routes, size_t nroutes)
{
    brg_streams_t *s = brg_xcalloc(1, sizeof(*s));
    s->routes = brg_xcalloc(nroutes + 1, sizeof(route_streams_t));
    atomic_init(&s->refs, 1);
    for (size_t i = 0; i < nroutes; i++) {
        const brg_conf_node_t *rcs = routes[i];
        route_streams_t *rs = &s->routes[s->n++];
        rs->name = brg_xstrdup(brg_conf_str(rcs, "name", ""));
        const brg_conf_node_t *from = brg_conf_get(rcs, "from");
        rs->src_endpoint = brg_xstrdup(brg_conf_str(from, "endpoint", ""));
        if (from && from->type == BRG_CONF_GROUP) {
            scan_reads(rs, from);
        } else {
            rs->reads_open = true;
            rs->src_kind = "stream";
        }
        const brg_conf_node_t *to = brg_conf_get(rcs, "to");
        if (to && to->type == BRG_CONF_GROUP) {
            scan_writes(rs, to);
        } else if (to && to->type == BRG_CONF_LIST) {
            for (size_t k = 0; k < to->nkids; k++) {
                if (to->kids[k]->type == BRG_CONF_GROUP) {
                    scan_writes(rs, to->kids[k]);
                }
            }
        }
    }
    return s;
}

static void free_refs(stream_ref_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].endpoint);
        brg_template_destroy(v[i].tmpl);
    }
    free(v);
}

void brg_streams_destroy(brg_streams_t *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) > 1) {
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        free(s->routes[i].name);
        free(s->routes[i].src_endpoint);
        free_refs(s->routes[i].reads, s->routes[i].nreads);
        free_refs(s->routes[i].writes, s->routes[i].nwrites);
    }
    free(s->routes);
    free(s);
}


static const route_streams_t *find_route(const brg_streams_t *s, const char *name, size_t len)
{
    for (size_t i = 0; s && i < s->n; i++) {
        if (strlen(s->routes[i].name) == len && memcmp(s->routes[i].name, name, len) == 0) {
            return &s->routes[i];
        }
    }
    return NULL;
}

void brg_mapping_set_streams(brg_mapping_t *m, const brg_streams_t *s)
{
    streams_view_t *cur = m ? atomic_load(&m->view) : NULL;
    if (!m || !s || (cur && cur->streams == s)) {
        return;
    }
    streams_view_t *v = brg_xcalloc(1, sizeof(*v));
    atomic_fetch_add(&((brg_streams_t *)s)->refs, 1);
    v->streams = (brg_streams_t *)s;
    v->me = find_route(s, m->route_name, strlen(m->route_name));
    v->prev = cur;
    atomic_store(&m->view, v);
}

static bool same_ref(const stream_ref_t *a, const stream_ref_t *b)
{
    return a->name && b->name && strcmp(a->endpoint, b->endpoint) == 0 &&
           strcmp(a->kind, b->kind) == 0 && strcmp(a->name, b->name) == 0;
}

/* a feeds b: a fixed destination of a is a stream b's config names as its source. */
static bool feeds(const route_streams_t *a, const route_streams_t *b)
{
    for (size_t w = 0; w < a->nwrites; w++) {
        for (size_t r = 0; r < b->nreads; r++) {
            if (same_ref(&a->writes[w], &b->reads[r])) {
                return true;
            }
        }
    }
    return false;
}

/* One stream a route reads, for finding readers by stream in O(log n). */
typedef struct read_index {
    const stream_ref_t *ref;
    size_t route;
} read_index_t;

static int ref_cmp(const stream_ref_t *a, const stream_ref_t *b)
{
    int c = strcmp(a->endpoint, b->endpoint);
    if (c == 0) {
        c = strcmp(a->kind, b->kind);
    }
    return c != 0 ? c : strcmp(a->name, b->name);
}

static int read_index_cmp(const void *pa, const void *pb)
{
    const read_index_t *a = pa, *b = pb;
    int c = ref_cmp(a->ref, b->ref);
    return c != 0 ? c : (a->route > b->route) - (a->route < b->route);
}

/* Printing every pair would be quadratic in the routes (40,000 routes: minutes), so the reads
 * are sorted once and each fixed write looks up its readers by binary search. */
size_t brg_streams_print_chains(const brg_streams_t *s, FILE *out)
{
    size_t nidx = 0;
    for (size_t i = 0; i < s->n; i++) {
        nidx += s->routes[i].nreads;
    }
    read_index_t *idx = brg_xcalloc(nidx + 1, sizeof(*idx));
    nidx = 0;
    for (size_t i = 0; i < s->n; i++) {
        for (size_t r = 0; r < s->routes[i].nreads; r++) {
            if (s->routes[i].reads[r].name) {
                idx[nidx++] = (read_index_t){&s->routes[i].reads[r], i};
            }
        }
    }
    qsort(idx, nidx, sizeof(*idx), read_index_cmp);
    size_t cycles = 0;
    for (size_t i = 0; i < s->n; i++) {
        const route_streams_t *a = &s->routes[i];
        size_t last = SIZE_MAX; /* a route fed through two streams is printed once */
        for (size_t w = 0; w < a->nwrites; w++) {
            if (!a->writes[w].name) {
                continue;
            }
            size_t lo = 0, hi = nidx;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (ref_cmp(idx[mid].ref, &a->writes[w]) < 0) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            for (size_t k = lo; k < nidx && ref_cmp(idx[k].ref, &a->writes[w]) == 0; k++) {
                size_t j = idx[k].route;
                if (j == i || j == last) {
                    continue;
                }
                last = j;
                fprintf(out, "chain: route %s -> route %s\n", a->name, s->routes[j].name);
                if (j > i && feeds(&s->routes[j], a)) {
                    cycles++;
                    fprintf(out,
                            "warning: routes %s and %s form a cycle (each writes to what the "
                            "other reads): loop prevention stops each message where it would go "
                            "back to a stream it was read from\n",
                            a->name, s->routes[j].name);
                }
            }
        }
    }
    free(idx);
    return cycles;
}

/* ---- loop prevention ------------------------------------------------------------------------ */

/* Does a stream the route writes to (rendered for env) equal one of the streams an own hop
 * (route rs, with the entry's "@name"/">name" modifiers in mods) read? */
static bool writes_hit(const route_streams_t *me, const brg_envelope_t *env,
                       const route_streams_t *rs, const char *mods, size_t mlen, char *hit,
                       size_t hit_size)
{
    for (size_t w = 0; w < me->nwrites; w++) {
        stream_ref_t wr = me->writes[w];
        char *rendered = NULL;
        if (wr.tmpl) {
            size_t len;
            rendered = brg_template_render(wr.tmpl, env, &len);
            wr.name = rendered;
        }
        bool found = false;
        for (size_t r = 0; r < rs->nreads && !found; r++) {
            found = same_ref(&wr, &rs->reads[r]);
        }
        /* The modifiers: streams this message was read from that the config does not name. */
        size_t i = 0;
        while (!found && i < mlen) {
            char c = mods[i];
            size_t j = i + 1;
            while (j < mlen && mods[j] != '@' && mods[j] != '>') {
                j++;
            }
            const char *kind = c == '>' ? "exchange" : rs->src_kind;
            size_t nl = j - i - 1;
            found = wr.name && strcmp(wr.endpoint, rs->src_endpoint) == 0 &&
                    strcmp(wr.kind, kind) == 0 && strlen(wr.name) == nl &&
                    memcmp(wr.name, mods + i + 1, nl) == 0;
            i = j;
        }
        if (found) {
            brg_errfmt(hit, hit_size, "%s/%s:%s", wr.endpoint, wr.kind, wr.name);
        }
        free(rendered);
        if (found) {
            return true;
        }
    }
    return false;
}

/* The modifiers this route adds to its entry for env (see PATH_HEADER), written into buf when
 * they fit (the usual case: no allocation per message). Returns: buf, or a malloc'd string
 * (release either with mods_free). */
static char *entry_mods(const route_streams_t *me, const brg_envelope_t *env, char *buf,
                        size_t size)
{
    const char *st = me && me->record ? env->origin.stream : NULL;
    const char *x = env->origin.exchange && env->origin.exchange[0] ? env->origin.exchange : NULL;
    for (size_t r = 0; x && me && r < me->nreads; r++) {
        if (strcmp(me->reads[r].kind, "exchange") == 0 && me->reads[r].name &&
            strcmp(me->reads[r].name, x) == 0) {
            x = NULL; /* the config already says so */
        }
    }
    size_t stl = st ? strlen(st) : 0, xl = x ? strlen(x) : 0;
    size_t n = (st ? stl + 1 : 0) + (x ? xl + 1 : 0);
    char *mods = n + 1 <= size ? buf : brg_xmalloc(n + 1);
    /* "@STREAM>EXCHANGE", either part optional; by hand: snprintf was 2% of a Kafka -> Kafka
     * route's endpoint threads for a string that is usually empty. */
    char *w = mods;
    if (st) {
        *w++ = '@';
        memcpy(w, st, stl);
        w += stl;
    }
    if (x) {
        *w++ = '>';
        memcpy(w, x, xl);
        w += xl;
    }
    *w = '\0';
    return mods;
}

static void mods_free(char *mods, const char *buf)
{
    if (mods != buf) {
        free(mods);
    }
}

/* Judge the path. own_mods: this hop's modifiers (it counts as an own hop too).
 * Returns: true (with why) if the message must not be written where this route writes. */
static bool path_loops(const brg_mapping_t *m, const streams_view_t *v,
                       const brg_envelope_t *env, const char *path, size_t len,
                       const char *own_mods, char *why, size_t why_size)
{
    size_t idl = strlen(m->bridge_id);
    const route_streams_t *me = v ? v->me : NULL;
    int own = 0;
    char hit[256];
    if (me && writes_hit(me, env, me, own_mods, strlen(own_mods), hit, sizeof(hit))) {
        brg_errfmt(why, why_size, "it would be written to %s, which this route read it from",
                   hit);
        return true;
    }
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && path[j] != ',') {
            j++;
        }
        if (j - i > idl && memcmp(path + i, m->bridge_id, idl) == 0 && path[i + idl] == '/') {
            own++;
            const char *rn = path + i + idl + 1;
            size_t rl = 0;
            while (rn + rl < path + j && rn[rl] != '@' && rn[rl] != '>') {
                rl++;
            }
            const route_streams_t *rs = me ? find_route(v->streams, rn, rl) : NULL;
            if (!rs) {
                /* A route this config does not have (renamed, removed, or no stream table):
                 * nothing tells what it read, so as before, a second pass is a loop. */
                brg_errfmt(why, why_size, "already crossed bridge \"%s\" (route \"%.*s\" unknown)",
                           m->bridge_id, (int)rl, rn);
                return true;
            }
            size_t ml = (size_t)(path + j - (rn + rl));
            if (rs->reads_open && ml == 0) {
                brg_errfmt(why, why_size,
                           "already crossed bridge \"%s\" (route \"%s\" reads a pattern and the "
                           "entry does not say which stream)",
                           m->bridge_id, rs->name);
                return true;
            }
            if (writes_hit(me, env, rs, rn + rl, ml, hit, sizeof(hit))) {
                brg_errfmt(why, why_size, "it would be written to %s, which it was read from at "
                           "hop \"%.*s\"", hit, (int)(j - i), path + i);
                return true;
            }
        }
        i = j + 1;
    }
    if (own >= MAX_OWN_HOPS) {
        brg_errfmt(why, why_size, "crossed bridge \"%s\" %d times", m->bridge_id, own);
        return true;
    }
    return false;
}

brg_map_verdict_t brg_mapping_apply(const brg_mapping_t *m, brg_envelope_t *env, char *why,
                                    size_t why_size)
{
    brg_field_t *path = brg_fields_get(&env->headers, PATH_HEADER);
    bool path_is_text = path && (path->value.type == BRG_V_STRING || path->value.type == BRG_V_BYTES);
    if (m->provenance && path_is_text && m->max_hops > 0) {
        /* Cheap first: the other bridges' hop count, before any transform. */
        const char *p = (const char *)path->value.u.bytes.data;
        size_t len = path->value.u.bytes.len, idl = strlen(m->bridge_id);
        int other = 0;
        for (size_t i = 0; i < len;) {
            size_t j = i;
            while (j < len && p[j] != ',') {
                j++;
            }
            if (j > i && !(j - i > idl && memcmp(p + i, m->bridge_id, idl) == 0 &&
                           p[i + idl] == '/')) {
                other++;
            }
            i = j + 1;
        }
        if (other >= m->max_hops) {
            brg_errfmt(why, why_size, "crossed %d other bridge%s (max_hops %d)", other,
                       other == 1 ? "" : "s", m->max_hops);
            return BRG_MAP_LOOP;
        }
    }
    char *mods = NULL, modsbuf[256];
    const streams_view_t *view = atomic_load(&m->view);
    if (m->provenance) {
        /* Before any rename: the entry records the stream as the message was read. */
        mods = entry_mods(view ? view->me : NULL, env, modsbuf, sizeof(modsbuf));
    }
    if (m->where && !brg_filter_match(m->where, env)) {
        mods_free(mods, modsbuf);
        return BRG_MAP_FILTERED;
    }
    if (m->rename && env->origin.stream) {
        char *renamed = regex_apply(m->rename, env->origin.stream);
        if (renamed) {
            /* The name as read stays for what must name the source (Kafka offset syncs). */
            if (env->origin.stream_read) {
                brg_envelope_free_str(env, env->origin.stream);
            } else {
                env->origin.stream_read = env->origin.stream;
            }
            env->origin.stream = renamed;
        }
    }
    for (size_t i = 0; i < m->nremove; i++) {
        brg_fields_remove(&env->headers, m->remove[i]);
    }
    for (size_t i = 0; i < m->nrenames; i++) {
        size_t fl = strlen(m->renames[i].from);
        for (size_t k = 0; k < env->headers.count; k++) {
            brg_field_t *f = &env->headers.items[k];
            if (f->name && f->name_len == fl && memcmp(f->name, m->renames[i].from, fl) == 0) {
                if (!f->name_borrowed) {
                    free(f->name);
                }
                f->name = brg_xstrdup(m->renames[i].to);
                f->name_borrowed = false;
                f->name_len = strlen(f->name);
            }
        }
    }
    /* Set values are rendered from the envelope as it was before any of them is applied. */
    if (m->nsets) {
        char **vals = brg_xcalloc(m->nsets, sizeof(char *));
        size_t *lens = brg_xcalloc(m->nsets, sizeof(size_t));
        for (size_t i = 0; i < m->nsets; i++) {
            vals[i] = brg_template_render(m->sets[i].value, env, &lens[i]);
        }
        for (size_t i = 0; i < m->nsets; i++) {
            brg_fields_remove(&env->headers, m->sets[i].name);
            brg_value_t v = brg_value_string(vals[i], lens[i]);
            brg_fields_add(&env->headers, m->sets[i].name, strlen(m->sets[i].name), &v);
            free(vals[i]);
        }
        free(vals);
        free(lens);
    }
    if (m->key) {
        size_t len;
        char *k = brg_template_render(m->key, env, &len);
        brg_envelope_set_key(env, k, len);
        free(k);
    }
    if (m->key_regex) {
        bool present;
        char *text = brg_field_text(env, m->key_regex->field, &present);
        char *k = text ? regex_apply(m->key_regex, text) : NULL;
        if (k) {
            brg_envelope_set_key(env, k, strlen(k));
        }
        free(k);
        free(text);
    }
    if (m->provenance) {
        /* After the transforms: a templated destination renders as the sink will render it. */
        path = brg_fields_get(&env->headers, PATH_HEADER);
        bool text = path && (path->value.type == BRG_V_STRING || path->value.type == BRG_V_BYTES);
        if (path_loops(m, view, env, text ? (const char *)path->value.u.bytes.data : "",
                       text ? path->value.u.bytes.len : 0, mods, why, why_size)) {
            mods_free(mods, modsbuf);
            return BRG_MAP_LOOP;
        }
        size_t stl = strlen(m->stamp), ml = strlen(mods);
        char entrybuf[512];
        char *entry = stl + ml + 1 <= sizeof(entrybuf) ? entrybuf : brg_xmalloc(stl + ml + 1);
        memcpy(entry, m->stamp, stl);
        memcpy(entry + stl, mods, ml + 1);
        mods_free(mods, modsbuf);
        if (text) {
            /* Joined in the envelope's arena: no heap allocation per message. */
            size_t ol = path->value.u.bytes.len, sl = stl + ml;
            char *joined = brg_arena_alloc(&env->arena, ol + sl + 2);
            memcpy(joined, path->value.u.bytes.data, ol);
            joined[ol] = ',';
            memcpy(joined + ol + 1, entry, sl + 1);
            brg_value_fini(&path->value);
            path->value = (brg_value_t){.type = BRG_V_STRING, .borrowed = true};
            path->value.u.bytes.data = (uint8_t *)joined;
            path->value.u.bytes.len = ol + 1 + sl;
        } else {
            brg_fields_remove(&env->headers, PATH_HEADER);
            brg_envelope_add_header_str(env, PATH_HEADER, entry);
        }
        if (entry != entrybuf) {
            free(entry);
        }
    }
    return BRG_MAP_PASS;
}
