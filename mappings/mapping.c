/* A route's mapping: loop prevention, filter, stream rename, header rules, key rules and the
 * provenance stamp, applied in that order. */
#include "mappings/mapping.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mappings/filter.h"
#include "mappings/regex.h"
#include "mappings/template.h"

/* The provenance header: "bridge/route" entries joined by ",", oldest first. */
#define PATH_HEADER "x-msgbridge-path"

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
};

const brg_conf_key_t brg_mapping_keys[] = {
    {"provenance", BRG_KEY_BOOL, 0, "stamp and check the x-msgbridge-path header (default true)"},
    {"max_hops", BRG_KEY_INT, 0, "drop messages that already crossed this many bridges (default 1)"},
    {"strict", BRG_KEY_BOOL, 0, "dead-letter a message a sink cannot carry losslessly"},
    {"where", BRG_KEY_STRING, 0, "filter expression"},
    {"rename", BRG_KEY_GROUP, 0, "{ pattern = \"^orders\\\\.(.*)$\"; replace = \"east.\\\\1\"; } on the source stream name"},
    {"remove_headers", BRG_KEY_STRING_LIST, 0, "header names to drop"},
    {"rename_headers", BRG_KEY_GROUP_OR_LIST, 0, "( { from = \"a\"; to = \"b\"; }, ... )"},
    {"set_headers", BRG_KEY_GROUP_OR_LIST, 0, "( { name = \"x\"; value = \"${topic}\"; }, ... )"},
    {"key", BRG_KEY_TEMPLATE, 0, "set the key from a template"},
    {"key_regex", BRG_KEY_GROUP, 0, "{ field = \"topic\"; pattern = \"...(capture)...\"; }"},
    {NULL, 0, 0, NULL},
};

static const brg_conf_key_t rename_keys[] = {
    {"pattern", BRG_KEY_STRING, BRG_KEY_REQUIRED, "POSIX extended regex"},
    {"replace", BRG_KEY_STRING, BRG_KEY_REQUIRED, "replacement; \\1..\\9 are captures"},
    {NULL, 0, 0, NULL},
};
static const brg_conf_key_t key_regex_keys[] = {
    {"field", BRG_KEY_STRING, 0, "field to match (default topic)"},
    {"pattern", BRG_KEY_STRING, BRG_KEY_REQUIRED, "POSIX extended regex"},
    {"replace", BRG_KEY_STRING, 0, "replacement (default: the first capture group)"},
    {NULL, 0, 0, NULL},
};
static const brg_conf_key_t rename_header_keys[] = {
    {"from", BRG_KEY_STRING, BRG_KEY_REQUIRED, "header name"},
    {"to", BRG_KEY_STRING, BRG_KEY_REQUIRED, "new name"},
    {NULL, 0, 0, NULL},
};
static const brg_conf_key_t set_header_keys[] = {
    {"name", BRG_KEY_STRING, BRG_KEY_REQUIRED, "header name"},
    {"value", BRG_KEY_TEMPLATE, BRG_KEY_REQUIRED, "value (template)"},
    {NULL, 0, 0, NULL},
};

static regex_rule_t *compile_regex(const brg_cfg_t *g, const char *def_field, brg_diag_t *d)
{
    const brg_cfg_t *pat = brg_cfg_get(g, "pattern");
    if (!pat || pat->type != BRG_CFG_STRING) {
        return NULL;
    }
    regex_rule_t *r = brg_xcalloc(1, sizeof(*r));
    char msg[160];
    if (brg_regex_compile(&r->re, pat->v.s, REG_EXTENDED, msg, sizeof(msg)) != 0) {
        brg_diag_error(d, pat, "bad regular expression \"%s\": %s", pat->v.s, msg);
        free(r);
        return NULL;
    }
    r->field = brg_xstrdup(brg_cfg_str(g, "field", def_field));
    const char *rep = brg_cfg_str(g, "replace", NULL);
    r->replace = rep ? brg_xstrdup(rep) : NULL;
    if (!brg_field_known(r->field)) {
        const brg_cfg_t *f = brg_cfg_get(g, "field");
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

brg_mapping_t *brg_mapping_new(const brg_cfg_t *route_cs, const char *bridge_id,
                               const char *route_name, brg_diag_t *d)
{
    const brg_cfg_t *g = brg_cfg_get(route_cs, "mapping");
    size_t errors = d->errors;
    brg_mapping_t *m = brg_xcalloc(1, sizeof(*m));
    m->bridge_id = brg_xstrdup(bridge_id);
    size_t sl = strlen(bridge_id) + strlen(route_name) + 2;
    m->stamp = brg_xmalloc(sl);
    snprintf(m->stamp, sl, "%s/%s", bridge_id, route_name);
    m->provenance = true;
    m->max_hops = 1;
    if (g && g->type == BRG_CFG_GROUP) {
        brg_cfg_check_keys(g, brg_mapping_keys, NULL, d);
        m->provenance = brg_cfg_bool(g, "provenance", true);
        m->strict = brg_cfg_bool(g, "strict", false);
        const brg_cfg_t *mh = brg_cfg_get(g, "max_hops");
        if (mh && mh->type == BRG_CFG_INT) {
            if (mh->v.i < 1 || mh->v.i > 100) {
                brg_diag_error(d, mh, "must be between 1 and 100");
            }
            m->max_hops = (int)mh->v.i;
        }
        const brg_cfg_t *where = brg_cfg_get(g, "where");
        if (where && where->type == BRG_CFG_STRING) {
            char err[512];
            m->where = brg_filter_parse(where->v.s, err, sizeof(err));
            if (!m->where) {
                brg_diag_error(d, where, "%s", err);
            }
        }
        const brg_cfg_t *rn = brg_cfg_get(g, "rename");
        if (rn && rn->type == BRG_CFG_GROUP) {
            brg_cfg_check_keys(rn, rename_keys, NULL, d);
            m->rename = compile_regex(rn, "topic", d);
        }
        const brg_cfg_t *kr = brg_cfg_get(g, "key_regex");
        if (kr && kr->type == BRG_CFG_GROUP) {
            brg_cfg_check_keys(kr, key_regex_keys, NULL, d);
            m->key_regex = compile_regex(kr, "topic", d);
        }
        const brg_cfg_t *key = brg_cfg_get(g, "key");
        if (key && key->type == BRG_CFG_STRING) {
            char err[512];
            m->key = brg_template_parse(key->v.s, err, sizeof(err));
            if (!m->key) {
                brg_diag_error(d, key, "%s", err);
            }
        }
        const brg_cfg_t *rm = brg_cfg_get(g, "remove_headers");
        if (rm && rm->type == BRG_CFG_LIST) {
            m->remove = brg_xcalloc(rm->nkids + 1, sizeof(char *));
            for (size_t i = 0; i < rm->nkids; i++) {
                if (rm->kids[i]->type == BRG_CFG_STRING) {
                    m->remove[m->nremove++] = brg_xstrdup(rm->kids[i]->v.s);
                }
            }
        }
        const brg_cfg_t *rh = brg_cfg_get(g, "rename_headers");
        if (rh && (rh->type == BRG_CFG_GROUP || rh->type == BRG_CFG_LIST)) {
            size_t n = rh->type == BRG_CFG_GROUP ? 1 : rh->nkids;
            m->renames = brg_xcalloc(n + 1, sizeof(rename_rule_t));
            for (size_t i = 0; i < n; i++) {
                const brg_cfg_t *r = rh->type == BRG_CFG_GROUP ? rh : rh->kids[i];
                brg_cfg_check_keys(r, rename_header_keys, NULL, d);
                const char *from = brg_cfg_str(r, "from", NULL), *to = brg_cfg_str(r, "to", NULL);
                if (from && to) {
                    m->renames[m->nrenames++] = (rename_rule_t){brg_xstrdup(from), brg_xstrdup(to)};
                }
            }
        }
        const brg_cfg_t *sh = brg_cfg_get(g, "set_headers");
        if (sh && (sh->type == BRG_CFG_GROUP || sh->type == BRG_CFG_LIST)) {
            size_t n = sh->type == BRG_CFG_GROUP ? 1 : sh->nkids;
            m->sets = brg_xcalloc(n + 1, sizeof(set_rule_t));
            for (size_t i = 0; i < n; i++) {
                const brg_cfg_t *r = sh->type == BRG_CFG_GROUP ? sh : sh->kids[i];
                brg_cfg_check_keys(r, set_header_keys, NULL, d);
                const char *name = brg_cfg_str(r, "name", NULL);
                const brg_cfg_t *val = brg_cfg_get(r, "value");
                if (!name || !val || val->type != BRG_CFG_STRING) {
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

/* Count entries in a path and whether one of them is ours ("id/..."). */
static void path_scan(const char *path, size_t len, const char *id, int *hops, bool *ours)
{
    size_t idl = strlen(id);
    *hops = 0;
    *ours = false;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && path[j] != ',') {
            j++;
        }
        if (j > i) {
            (*hops)++;
            if (j - i > idl && memcmp(path + i, id, idl) == 0 && path[i + idl] == '/') {
                *ours = true;
            }
        }
        i = j + 1;
    }
}

brg_map_verdict_t brg_mapping_apply(const brg_mapping_t *m, brg_envelope_t *env, char *why,
                                    size_t why_size)
{
    brg_field_t *path = brg_fields_get(&env->headers, PATH_HEADER);
    bool path_is_text = path && (path->value.type == BRG_V_STRING || path->value.type == BRG_V_BYTES);
    if (m->provenance && path_is_text) {
        int hops;
        bool ours;
        path_scan((const char *)path->value.u.bytes.data, path->value.u.bytes.len, m->bridge_id,
                  &hops, &ours);
        if (ours) {
            brg_errfmt(why, why_size, "already crossed bridge \"%s\"", m->bridge_id);
            return BRG_MAP_LOOP;
        }
        if (hops >= m->max_hops) {
            brg_errfmt(why, why_size, "crossed %d bridges (max_hops %d)", hops, m->max_hops);
            return BRG_MAP_LOOP;
        }
    }
    if (m->where && !brg_filter_match(m->where, env)) {
        return BRG_MAP_FILTERED;
    }
    if (m->rename && env->origin.stream) {
        char *renamed = regex_apply(m->rename, env->origin.stream);
        if (renamed) {
            free(env->origin.stream);
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
                free(f->name);
                f->name = brg_xstrdup(m->renames[i].to);
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
        path = brg_fields_get(&env->headers, PATH_HEADER);
        if (path && (path->value.type == BRG_V_STRING || path->value.type == BRG_V_BYTES)) {
            size_t ol = path->value.u.bytes.len, sl = strlen(m->stamp);
            char *joined = brg_xmalloc(ol + sl + 2);
            memcpy(joined, path->value.u.bytes.data, ol);
            joined[ol] = ',';
            memcpy(joined + ol + 1, m->stamp, sl + 1);
            brg_value_fini(&path->value);
            path->value = brg_value_string(joined, ol + 1 + sl);
            free(joined);
        } else {
            brg_fields_remove(&env->headers, PATH_HEADER);
            brg_envelope_add_header_str(env, PATH_HEADER, m->stamp);
        }
    }
    return BRG_MAP_PASS;
}
