#include "bridge/conf_node.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/err.h"

const brg_conf_node_t *brg_conf_get(const brg_conf_node_t *cs, const char *name)
{
    if (!cs || cs->type != BRG_CONF_GROUP) {
        return NULL;
    }
    for (size_t i = 0; i < cs->nkids; i++) {
        if (cs->kids[i]->name && strcmp(cs->kids[i]->name, name) == 0) {
            return cs->kids[i];
        }
    }
    return NULL;
}

const char *brg_conf_str(const brg_conf_node_t *cs, const char *name, const char *def)
{
    const brg_conf_node_t *c = brg_conf_get(cs, name);
    return c && c->type == BRG_CONF_STRING ? c->v.s : def;
}

int64_t brg_conf_int(const brg_conf_node_t *cs, const char *name, int64_t def)
{
    const brg_conf_node_t *c = brg_conf_get(cs, name);
    return c && c->type == BRG_CONF_INT ? c->v.i : def;
}

double brg_conf_float(const brg_conf_node_t *cs, const char *name, double def)
{
    const brg_conf_node_t *c = brg_conf_get(cs, name);
    if (c && c->type == BRG_CONF_FLOAT) {
        return c->v.f;
    }
    return c && c->type == BRG_CONF_INT ? (double)c->v.i : def;
}

bool brg_conf_bool(const brg_conf_node_t *cs, const char *name, bool def)
{
    const brg_conf_node_t *c = brg_conf_get(cs, name);
    return c && c->type == BRG_CONF_BOOL ? c->v.b : def;
}

const char *brg_conf_type_name(brg_conf_node_type_t t)
{
    switch (t) {
    case BRG_CONF_GROUP: return "group";
    case BRG_CONF_LIST: return "list";
    case BRG_CONF_STRING: return "string";
    case BRG_CONF_INT: return "integer";
    case BRG_CONF_FLOAT: return "float";
    case BRG_CONF_BOOL: return "boolean";
    }
    return "?";
}

void brg_conf_node_destroy(brg_conf_node_t *cs)
{
    if (!cs) {
        return;
    }
    for (size_t i = 0; i < cs->nkids; i++) {
        brg_conf_node_destroy(cs->kids[i]);
    }
    free(cs->kids);
    free(cs->file_owned);
    free(cs->name);
    free(cs->path);
    if (cs->type == BRG_CONF_STRING && cs->secret) {
        brg_free_secret(cs->v.s);
    } else if (cs->type == BRG_CONF_STRING) {
        free(cs->v.s);
    }
    free(cs);
}

/* ---- diagnostics ------------------------------------------------------------------------ */

void brg_diag_init(brg_diag_t *d)
{
    memset(d, 0, sizeof(*d));
}

void brg_diag_fini(brg_diag_t *d)
{
    for (size_t i = 0; i < d->count; i++) {
        free(d->lines[i]);
    }
    free(d->lines);
    memset(d, 0, sizeof(*d));
}

static void diag_push(brg_diag_t *d, const char *file, int line, const char *path, bool warn,
                      const char *fmt, va_list ap)
{
    char msg[1024], full[1400];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    bool has_path = path && path[0];
    snprintf(full, sizeof(full), "%s:%d: %s%s%s%s", file ? file : "<config>", line,
             warn ? "warning: " : "", has_path ? path : "", has_path ? ": " : "", msg);
    if (d->count == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->lines = brg_xrealloc(d->lines, d->cap * sizeof(char *));
    }
    d->lines[d->count++] = brg_xstrdup(full);
    if (warn) {
        d->warnings++;
    } else {
        d->errors++;
    }
}

void brg_diag_error(brg_diag_t *d, const brg_conf_node_t *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_push(d, at ? at->file : NULL, at ? at->line : 0, at ? at->path : NULL, false, fmt, ap);
    va_end(ap);
}

void brg_diag_error_at(brg_diag_t *d, const char *file, int line, const char *path,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_push(d, file, line, path, false, fmt, ap);
    va_end(ap);
}

void brg_diag_warn(brg_diag_t *d, const brg_conf_node_t *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_push(d, at ? at->file : NULL, at ? at->line : 0, at ? at->path : NULL, true, fmt, ap);
    va_end(ap);
}

/* ---- schema checks ---------------------------------------------------------------------- */

static const brg_conf_key_t *find_key(const brg_conf_key_t *keys, const char *name)
{
    for (; keys && keys->name; keys++) {
        if (strcmp(keys->name, name) == 0) {
            return keys;
        }
    }
    return NULL;
}

/* For "password_file" find the secret key "password" it stands in for. */
static const brg_conf_key_t *find_secret_file_key(const brg_conf_key_t *keys, const char *name)
{
    size_t n = strlen(name);
    if (n <= 5 || strcmp(name + n - 5, "_file") != 0) {
        return NULL;
    }
    for (; keys && keys->name; keys++) {
        if ((keys->flags & BRG_KEY_SECRET) && strlen(keys->name) == n - 5 &&
            strncmp(keys->name, name, n - 5) == 0) {
            return keys;
        }
    }
    return NULL;
}

bool brg_conf_type_ok(const brg_conf_node_t *c, brg_key_type_t t)
{
    switch (t) {
    case BRG_KEY_STRING:
    case BRG_KEY_TEMPLATE: return c->type == BRG_CONF_STRING;
    case BRG_KEY_INT: return c->type == BRG_CONF_INT;
    case BRG_KEY_FLOAT: return c->type == BRG_CONF_FLOAT || c->type == BRG_CONF_INT;
    case BRG_KEY_BOOL: return c->type == BRG_CONF_BOOL;
    case BRG_KEY_GROUP: return c->type == BRG_CONF_GROUP;
    case BRG_KEY_GROUP_OR_LIST:
        if (c->type == BRG_CONF_GROUP) {
            return true;
        }
        if (c->type != BRG_CONF_LIST || c->nkids == 0) {
            return false;
        }
        for (size_t i = 0; i < c->nkids; i++) {
            if (c->kids[i]->type != BRG_CONF_GROUP) {
                return false;
            }
        }
        return true;
    case BRG_KEY_STRING_OR_LIST:
        if (c->type == BRG_CONF_STRING) {
            return true;
        }
        /* fall through */
    case BRG_KEY_STRING_LIST:
        if (c->type != BRG_CONF_LIST) {
            return false;
        }
        for (size_t i = 0; i < c->nkids; i++) {
            if (c->kids[i]->type != BRG_CONF_STRING) {
                return false;
            }
        }
        return true;
    }
    return false;
}

static const char *key_type_name(brg_key_type_t t)
{
    switch (t) {
    case BRG_KEY_STRING: return "a string";
    case BRG_KEY_TEMPLATE: return "a string (template)";
    case BRG_KEY_INT: return "an integer";
    case BRG_KEY_FLOAT: return "a number";
    case BRG_KEY_BOOL: return "a boolean (true or false)";
    case BRG_KEY_GROUP: return "a group { ... }";
    case BRG_KEY_GROUP_OR_LIST: return "a group { ... } or a list of groups";
    case BRG_KEY_STRING_LIST: return "a list of strings";
    case BRG_KEY_STRING_OR_LIST: return "a string or a list of strings";
    }
    return "?";
}

static void append_names(char *buf, size_t size, const brg_conf_key_t *keys, bool *first)
{
    for (; keys && keys->name; keys++) {
        size_t used = strlen(buf);
        snprintf(buf + used, size - used, "%s%s", *first ? "" : ", ", keys->name);
        *first = false;
        if (keys->flags & BRG_KEY_SECRET) {
            used = strlen(buf);
            snprintf(buf + used, size - used, ", %s_file", keys->name);
        }
    }
}

/* A number as the user wrote it: integers without a fraction. */
static void format_number(double v, bool integer, char *out, size_t size)
{
    if (integer) {
        snprintf(out, size, "%lld", (long long)v);
    } else {
        snprintf(out, size, "%g", v);
    }
}

/* The declared words and range of a key whose type is right. */
static void check_value(const brg_conf_node_t *c, const brg_conf_key_t *k, brg_diag_t *d)
{
    if (k->words && c->type == BRG_CONF_STRING) {
        char valid[512] = "";
        size_t n = 0;
        for (const char *const *w = k->words; *w; w++) {
            if (strcmp(*w, c->v.s) == 0) {
                return;
            }
            n += (size_t)snprintf(valid + n, n < sizeof(valid) ? sizeof(valid) - n : 0, "%s%s",
                                  w == k->words ? "" : ", ", *w);
        }
        brg_diag_error(d, c, "unknown %s \"%s\" (valid: %s)", c->name, c->v.s, valid);
        return;
    }
    if ((k->flags & BRG_KEY_RANGE) && (c->type == BRG_CONF_INT || c->type == BRG_CONF_FLOAT)) {
        double v = c->type == BRG_CONF_INT ? (double)c->v.i : c->v.f;
        if (v >= k->min && v <= k->max) {
            return;
        }
        char lo[32], hi[32] = "", got[32];
        bool integer = k->type == BRG_KEY_INT;
        format_number(k->min, integer, lo, sizeof(lo));
        if (!isinf(k->max)) { /* (long long)INFINITY is undefined (fuzz_conf found it) */
            format_number(k->max, integer, hi, sizeof(hi));
        }
        if (c->type == BRG_CONF_INT) {
            snprintf(got, sizeof(got), "%lld", (long long)c->v.i);
        } else {
            snprintf(got, sizeof(got), "%g", c->v.f);
        }
        if (isinf(k->max)) {
            brg_diag_error(d, c, "must be at least %s, not %s", lo, got);
        } else {
            brg_diag_error(d, c, "must be between %s and %s, not %s", lo, hi, got);
        }
    }
}

size_t brg_conf_check_keys(const brg_conf_node_t *group, const brg_conf_key_t *keys,
                        const brg_conf_key_t *extra, brg_diag_t *d)
{
    size_t shape = 0;
    if (!group || group->type != BRG_CONF_GROUP) {
        return 0;
    }
    for (size_t i = 0; i < group->nkids; i++) {
        const brg_conf_node_t *c = group->kids[i];
        const brg_conf_key_t *k = find_key(keys, c->name);
        if (!k) {
            k = find_key(extra, c->name);
        }
        if (!k) {
            const brg_conf_key_t *sk = find_secret_file_key(keys, c->name);
            if (!sk) {
                sk = find_secret_file_key(extra, c->name);
            }
            if (sk) {
                if (c->type != BRG_CONF_STRING) {
                    brg_diag_error(d, c, "must be a string (a file path)");
                    shape++;
                }
                continue;
            }
            char valid[1024] = "";
            bool first = true;
            append_names(valid, sizeof(valid), keys, &first);
            append_names(valid, sizeof(valid), extra, &first);
            brg_diag_error(d, c, "unknown key \"%s\" (valid keys: %s)", c->name, valid);
            shape++;
            continue;
        }
        if (!brg_conf_type_ok(c, k->type)) {
            brg_diag_error(d, c, "must be %s, not %s", key_type_name(k->type),
                           brg_conf_type_name(c->type));
            shape++;
        } else {
            check_value(c, k, d);
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        for (const brg_conf_key_t *k = pass ? extra : keys; k && k->name; k++) {
            if (!(k->flags & BRG_KEY_REQUIRED) || brg_conf_get(group, k->name)) {
                continue;
            }
            char alt[128];
            snprintf(alt, sizeof(alt), "%s_file", k->name);
            if ((k->flags & BRG_KEY_SECRET) && brg_conf_get(group, alt)) {
                continue;
            }
            brg_diag_error(d, group, "missing required key \"%s\"", k->name);
            shape++;
        }
    }
    return shape;
}

static void check_readable(const brg_conf_node_t *ep_cs, const char *key, brg_diag_t *d)
{
    const brg_conf_node_t *c = brg_conf_get(ep_cs, key);
    if (c && c->type == BRG_CONF_STRING && access(c->v.s, R_OK) != 0) {
        brg_diag_error(d, c, "cannot read \"%s\"", c->v.s);
    }
}

void brg_conf_check_tls_keys(const brg_conf_node_t *ep_cs, bool has_url, bool tls, const char *tls_url,
                            brg_diag_t *d)
{
    bool has_cert = brg_conf_get(ep_cs, "cert_file") != NULL;
    bool has_key = brg_conf_get(ep_cs, "key_file") != NULL;
    if (has_cert != has_key) {
        brg_diag_error(d, brg_conf_get(ep_cs, has_cert ? "cert_file" : "key_file"),
                       "cert_file and key_file go together");
    }
    static const char *const tls_keys[] = {"ca_file", "cert_file", "key_file", "verify_peer"};
    for (size_t i = 0; i < sizeof(tls_keys) / sizeof(tls_keys[0]); i++) {
        const brg_conf_node_t *c = brg_conf_get(ep_cs, tls_keys[i]);
        if (c && !tls && has_url) {
            brg_diag_warn(d, c, "%s has no effect without %s url", tls_keys[i], tls_url);
        }
    }
    check_readable(ep_cs, "ca_file", d);
    check_readable(ep_cs, "cert_file", d);
    check_readable(ep_cs, "key_file", d);
}
