#include "mappings/filter.h"
#include "mappings/regex.h"

#include <ctype.h>
#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { N_AND, N_OR, N_NOT, N_CMP } node_kind_t;
typedef enum { OP_EQ, OP_NE, OP_PREFIX, OP_REGEX, OP_EXISTS } op_t;

typedef struct node {
    node_kind_t kind;
    op_t op;
    struct node *l, *r;
    char *field;
    char *lit;
    size_t litlen;
    regex_t re;
    bool has_re;
} node_t;

struct brg_filter {
    node_t *root;
};

static const char *const fields[] = {"key",         "topic",      "stream",     "queue",
                                     "address",     "partition",  "routing_key", "exchange",
                                     "subject",     "message_id", "correlation_id",
                                     "content_type"};

bool brg_field_known(const char *name)
{
    if (strncmp(name, "header.", 7) == 0 && name[7]) {
        return true;
    }
    for (size_t i = 0; i < BRG_ARRAY_SIZE(fields); i++) {
        if (strcmp(fields[i], name) == 0) {
            return true;
        }
    }
    return false;
}

/* ---- field access ----------------------------------------------------------------------- */

static char *value_text(const brg_value_t *v)
{
    char num[64];
    switch (v->type) {
    case BRG_V_STRING:
    case BRG_V_BYTES:
    case BRG_V_SYMBOL: return brg_xstrndup((const char *)v->u.bytes.data, v->u.bytes.len);
    case BRG_V_INT: snprintf(num, sizeof(num), "%" PRId64, v->u.i); break;
    case BRG_V_UINT: snprintf(num, sizeof(num), "%" PRIu64, v->u.u); break;
    case BRG_V_TIMESTAMP: snprintf(num, sizeof(num), "%" PRId64, v->u.ts_ms); break;
    case BRG_V_FLOAT: snprintf(num, sizeof(num), "%.17g", v->u.f); break;
    case BRG_V_BOOL: snprintf(num, sizeof(num), "%s", v->u.b ? "true" : "false"); break;
    case BRG_V_NULL: num[0] = 0; break;
    default: return NULL;
    }
    return brg_xstrdup(num);
}

char *brg_field_text(const brg_envelope_t *env, const char *field, bool *present)
{
    const char *s = NULL;
    *present = false;
    if (strncmp(field, "header.", 7) == 0) {
        const brg_field_t *f = brg_fields_get(&env->headers, field + 7);
        if (!f) {
            return NULL;
        }
        *present = true;
        char *t = value_text(&f->value);
        return t ? t : brg_xstrdup("");
    }
    if (strcmp(field, "key") == 0) {
        if (!env->key) {
            return NULL;
        }
        *present = true;
        return brg_xstrndup((const char *)env->key, env->key_len);
    }
    if (strcmp(field, "partition") == 0) {
        if (env->origin.partition < 0) {
            return NULL;
        }
        char num[16];
        snprintf(num, sizeof(num), "%" PRId32, env->origin.partition);
        *present = true;
        return brg_xstrdup(num);
    }
    if (!strcmp(field, "topic") || !strcmp(field, "stream") || !strcmp(field, "queue") ||
        !strcmp(field, "address")) {
        s = env->origin.stream;
    } else if (!strcmp(field, "routing_key")) {
        s = env->origin.routing_key;
    } else if (!strcmp(field, "exchange")) {
        s = env->origin.exchange;
    } else if (!strcmp(field, "subject")) {
        s = env->props.subject;
    } else if (!strcmp(field, "message_id")) {
        s = env->props.message_id;
    } else if (!strcmp(field, "correlation_id")) {
        s = env->props.correlation_id;
    } else if (!strcmp(field, "content_type")) {
        s = env->props.content_type;
    }
    if (!s) {
        return NULL;
    }
    *present = true;
    return brg_xstrdup(s);
}

/* ---- parser ------------------------------------------------------------------------------- */

typedef struct parser {
    const char *text;
    const char *p;
    char *err;
    size_t errsize;
    bool failed;
} parser_t;

static int col(const parser_t *ps)
{
    return (int)(ps->p - ps->text) + 1;
}

static void fail(parser_t *ps, const char *fmt, const char *arg)
{
    if (ps->failed) {
        return;
    }
    ps->failed = true;
    char msg[256];
    snprintf(msg, sizeof(msg), fmt, arg);
    brg_errfmt(ps->err, ps->errsize, "%s at column %d", msg, col(ps));
}

static void skip_ws(parser_t *ps)
{
    while (isspace((unsigned char)*ps->p)) {
        ps->p++;
    }
}

/* A word: letters, digits, '_', '.', '-' (header names may contain dots and dashes). */
static size_t word_len(const char *p)
{
    size_t n = 0;
    while (isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == '.' || p[n] == '-') {
        n++;
    }
    return n;
}

static bool accept_word(parser_t *ps, const char *w)
{
    skip_ws(ps);
    size_t n = word_len(ps->p);
    if (n == strlen(w) && strncmp(ps->p, w, n) == 0) {
        ps->p += n;
        return true;
    }
    return false;
}

static void free_node(node_t *n)
{
    if (!n) {
        return;
    }
    free_node(n->l);
    free_node(n->r);
    free(n->field);
    free(n->lit);
    if (n->has_re) {
        regfree(&n->re);
    }
    free(n);
}

static node_t *parse_or(parser_t *ps);

static char *parse_string(parser_t *ps, size_t *len, const char *after)
{
    skip_ws(ps);
    char q = *ps->p;
    if (q != '\'' && q != '"') {
        fail(ps, "expected a quoted string after \"%s\"", after);
        return NULL;
    }
    ps->p++;
    size_t cap = 16, n = 0;
    char *out = brg_xmalloc(cap);
    while (*ps->p && *ps->p != q) {
        char c = *ps->p++;
        if (c == '\\' && *ps->p) {
            c = *ps->p++;
        }
        if (n + 2 > cap) {
            cap *= 2;
            out = brg_xrealloc(out, cap);
        }
        out[n++] = c;
    }
    if (*ps->p != q) {
        free(out);
        fail(ps, "unterminated string%s", "");
        return NULL;
    }
    ps->p++;
    out[n] = 0;
    *len = n;
    return out;
}

static node_t *parse_cmp(parser_t *ps)
{
    skip_ws(ps);
    size_t n = word_len(ps->p);
    if (n == 0) {
        fail(ps, "expected a field (key, topic, header.NAME, ...)%s", "");
        return NULL;
    }
    char *field = brg_xstrndup(ps->p, n);
    if (!brg_field_known(field)) {
        fail(ps,
             "unknown field \"%s\" (valid: key, topic, partition, routing_key, exchange, subject, "
             "message_id, correlation_id, content_type, header.NAME)",
             field);
        free(field);
        return NULL;
    }
    ps->p += n;
    node_t *node = brg_xcalloc(1, sizeof(*node));
    node->kind = N_CMP;
    node->field = field;
    skip_ws(ps);
    const char *opname;
    if (strncmp(ps->p, "!=", 2) == 0) {
        node->op = OP_NE;
        opname = "!=";
        ps->p += 2;
    } else if (*ps->p == '=') {
        node->op = OP_EQ;
        opname = "=";
        ps->p += (ps->p[1] == '=') ? 2 : 1;
    } else if (*ps->p == '~') {
        node->op = OP_REGEX;
        opname = "~";
        ps->p++;
    } else if (accept_word(ps, "matches")) {
        node->op = OP_REGEX;
        opname = "matches";
    } else if (accept_word(ps, "prefix")) {
        node->op = OP_PREFIX;
        opname = "prefix";
    } else if (accept_word(ps, "exists")) {
        node->op = OP_EXISTS;
        return node;
    } else {
        fail(ps, "expected =, !=, prefix, ~ or exists after \"%s\"", field);
        free_node(node);
        return NULL;
    }
    const char *at = ps->p;
    node->lit = parse_string(ps, &node->litlen, opname);
    if (!node->lit) {
        free_node(node);
        return NULL;
    }
    if (node->op == OP_REGEX) {
        char msg[160];
        if (brg_regex_compile(&node->re, node->lit, REG_EXTENDED | REG_NOSUB, msg, sizeof(msg)) != 0) {
            ps->p = at;
            skip_ws(ps);
            fail(ps, "bad regular expression: %s", msg);
            free_node(node);
            return NULL;
        }
        node->has_re = true;
    }
    return node;
}

static node_t *parse_unary(parser_t *ps)
{
    skip_ws(ps);
    if (accept_word(ps, "not")) {
        node_t *inner = parse_unary(ps);
        if (!inner) {
            return NULL;
        }
        node_t *n = brg_xcalloc(1, sizeof(*n));
        n->kind = N_NOT;
        n->l = inner;
        return n;
    }
    if (*ps->p == '(') {
        ps->p++;
        node_t *inner = parse_or(ps);
        if (!inner) {
            return NULL;
        }
        skip_ws(ps);
        if (*ps->p != ')') {
            fail(ps, "expected \")\"%s", "");
            free_node(inner);
            return NULL;
        }
        ps->p++;
        return inner;
    }
    return parse_cmp(ps);
}

static node_t *parse_binary(parser_t *ps, const char *word, node_kind_t kind,
                            node_t *(*next)(parser_t *))
{
    node_t *l = next(ps);
    while (l && accept_word(ps, word)) {
        node_t *r = next(ps);
        if (!r) {
            free_node(l);
            return NULL;
        }
        node_t *n = brg_xcalloc(1, sizeof(*n));
        n->kind = kind;
        n->l = l;
        n->r = r;
        l = n;
    }
    return l;
}

static node_t *parse_and(parser_t *ps)
{
    return parse_binary(ps, "and", N_AND, parse_unary);
}

static node_t *parse_or(parser_t *ps)
{
    return parse_binary(ps, "or", N_OR, parse_and);
}

brg_filter_t *brg_filter_parse(const char *text, char *errstr, size_t errstr_size)
{
    parser_t ps = {text, text, errstr, errstr_size, false};
    node_t *root = parse_or(&ps);
    if (root) {
        skip_ws(&ps);
        if (*ps.p) {
            fail(&ps, "unexpected \"%s\"", ps.p);
            free_node(root);
            root = NULL;
        }
    }
    if (!root) {
        if (!ps.failed) {
            fail(&ps, "empty expression%s", "");
        }
        return NULL;
    }
    brg_filter_t *f = brg_xcalloc(1, sizeof(*f));
    f->root = root;
    return f;
}

void brg_filter_destroy(brg_filter_t *f)
{
    if (f) {
        free_node(f->root);
        free(f);
    }
}

static bool eval(const node_t *n, const brg_envelope_t *env)
{
    switch (n->kind) {
    case N_AND: return eval(n->l, env) && eval(n->r, env);
    case N_OR: return eval(n->l, env) || eval(n->r, env);
    case N_NOT: return !eval(n->l, env);
    case N_CMP: break;
    }
    bool present;
    char *v = brg_field_text(env, n->field, &present);
    bool r = false;
    switch (n->op) {
    case OP_EXISTS: r = present; break;
    case OP_EQ: r = v && strcmp(v, n->lit) == 0; break;
    case OP_NE: r = !v || strcmp(v, n->lit) != 0; break;
    case OP_PREFIX: r = v && strncmp(v, n->lit, n->litlen) == 0; break;
    case OP_REGEX: r = v && regexec(&n->re, v, 0, NULL, 0) == 0; break;
    }
    free(v);
    return r;
}

bool brg_filter_match(const brg_filter_t *f, const brg_envelope_t *env)
{
    return eval(f->root, env);
}
