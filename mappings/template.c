#include "mappings/template.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/buf.h"

typedef enum {
    PART_LITERAL,
    PART_STREAM,
    PART_KEY,
    PART_PARTITION,
    PART_ROUTING_KEY,
    PART_EXCHANGE,
    PART_SUBJECT,
    PART_MESSAGE_ID,
    PART_CORRELATION_ID,
    PART_ENDPOINT,
    PART_HEADER,
} part_kind_t;

typedef struct part {
    part_kind_t kind;
    char *text; /* literal text, or the header name */
    size_t len;
} part_t;

struct brg_template {
    char *source;
    part_t *parts;
    size_t nparts;
};

static const struct {
    const char *name;
    part_kind_t kind;
} variables[] = {
    {"topic", PART_STREAM},           {"stream", PART_STREAM},
    {"queue", PART_STREAM},           {"address", PART_STREAM},
    {"key", PART_KEY},                {"partition", PART_PARTITION},
    {"routing_key", PART_ROUTING_KEY}, {"exchange", PART_EXCHANGE},
    {"subject", PART_SUBJECT},        {"message_id", PART_MESSAGE_ID},
    {"correlation_id", PART_CORRELATION_ID}, {"endpoint", PART_ENDPOINT},
};

static void add_part(brg_template_t *t, part_kind_t kind, const char *text, size_t len)
{
    /* Merge adjacent literals so rendering a plain name is one copy. */
    if (kind == PART_LITERAL && t->nparts && t->parts[t->nparts - 1].kind == PART_LITERAL) {
        part_t *p = &t->parts[t->nparts - 1];
        p->text = brg_xrealloc(p->text, p->len + len + 1);
        memcpy(p->text + p->len, text, len);
        p->len += len;
        p->text[p->len] = 0;
        return;
    }
    t->parts = brg_xrealloc(t->parts, (t->nparts + 1) * sizeof(part_t));
    t->parts[t->nparts++] = (part_t){kind, text ? brg_xstrndup(text, len) : NULL, len};
}

brg_template_t *brg_template_parse(const char *text, char *errstr, size_t errstr_size)
{
    brg_template_t *t = brg_xcalloc(1, sizeof(*t));
    t->source = brg_xstrdup(text);
    const char *p = text;
    while (*p) {
        const char *dollar = strchr(p, '$');
        if (!dollar) {
            add_part(t, PART_LITERAL, p, strlen(p));
            break;
        }
        if (dollar > p) {
            add_part(t, PART_LITERAL, p, (size_t)(dollar - p));
        }
        if (dollar[1] == '$') {
            add_part(t, PART_LITERAL, "$", 1);
            p = dollar + 2;
            continue;
        }
        if (dollar[1] != '{') {
            brg_errfmt(errstr, errstr_size,
                       "\"$\" at column %d must start \"${name}\" (write \"$$\" for a dollar)",
                       (int)(dollar - text) + 1);
            goto fail;
        }
        const char *end = strchr(dollar + 2, '}');
        if (!end) {
            brg_errfmt(errstr, errstr_size, "unterminated \"${\" at column %d",
                       (int)(dollar - text) + 1);
            goto fail;
        }
        const char *name = dollar + 2;
        size_t nlen = (size_t)(end - name);
        bool found = false;
        if (nlen > 7 && strncmp(name, "header.", 7) == 0) {
            add_part(t, PART_HEADER, name + 7, nlen - 7);
            found = true;
        }
        for (size_t i = 0; !found && i < BRG_ARRAY_SIZE(variables); i++) {
            if (strlen(variables[i].name) == nlen && strncmp(variables[i].name, name, nlen) == 0) {
                add_part(t, variables[i].kind, NULL, 0);
                found = true;
            }
        }
        if (!found) {
            brg_errfmt(errstr, errstr_size,
                       "unknown variable \"${%.*s}\" (valid: ${topic}, ${key}, ${partition}, "
                       "${routing_key}, ${exchange}, ${subject}, ${message_id}, "
                       "${correlation_id}, ${endpoint}, ${header.NAME})",
                       (int)nlen, name);
            goto fail;
        }
        p = end + 1;
    }
    return t;
fail:
    brg_template_destroy(t);
    return NULL;
}

void brg_template_destroy(brg_template_t *t)
{
    if (!t) {
        return;
    }
    for (size_t i = 0; i < t->nparts; i++) {
        free(t->parts[i].text);
    }
    free(t->parts);
    free(t->source);
    free(t);
}

bool brg_template_is_literal(const brg_template_t *t)
{
    return t->nparts == 0 || (t->nparts == 1 && t->parts[0].kind == PART_LITERAL);
}

const char *brg_template_literal(const brg_template_t *t, size_t *len_out)
{
    if (!brg_template_is_literal(t)) {
        return NULL;
    }
    if (len_out) {
        *len_out = t->nparts ? t->parts[0].len : 0;
    }
    return t->nparts ? t->parts[0].text : "";
}

const char *brg_template_text(const brg_template_t *t)
{
    return t->source;
}

/* Render a header value as text: strings and bytes as they are, numbers in decimal. */
static void sb_value(brg_buf_t *b, const brg_value_t *v)
{
    char num[64];
    switch (v->type) {
    case BRG_V_STRING:
    case BRG_V_BYTES:
    case BRG_V_SYMBOL: brg_buf_add(b, v->u.bytes.data, v->u.bytes.len); break;
    case BRG_V_INT: snprintf(num, sizeof(num), "%" PRId64, v->u.i); brg_buf_str(b, num); break;
    case BRG_V_UINT: snprintf(num, sizeof(num), "%" PRIu64, v->u.u); brg_buf_str(b, num); break;
    case BRG_V_TIMESTAMP: snprintf(num, sizeof(num), "%" PRId64, v->u.ts_ms); brg_buf_str(b, num); break;
    case BRG_V_FLOAT: snprintf(num, sizeof(num), "%.17g", v->u.f); brg_buf_str(b, num); break;
    case BRG_V_BOOL: brg_buf_str(b, v->u.b ? "true" : "false"); break;
    default: break; /* null, tables, arrays, uuid, decimal: no text form for a name */
    }
}

/* Append the rendering of t for env to b. */
static void render(const brg_template_t *t, const brg_envelope_t *env, brg_buf_t *b)
{
    char num[32];
    brg_buf_add(b, "", 0);
    for (size_t i = 0; i < t->nparts; i++) {
        const part_t *p = &t->parts[i];
        switch (p->kind) {
        case PART_LITERAL: brg_buf_add(b, p->text, p->len); break;
        case PART_STREAM: brg_buf_str(b, env->origin.stream); break;
        case PART_KEY:
            if (env->key) {
                brg_buf_add(b, env->key, env->key_len);
            }
            break;
        case PART_PARTITION:
            if (env->origin.partition >= 0) {
                snprintf(num, sizeof(num), "%" PRId32, env->origin.partition);
                brg_buf_str(b, num);
            }
            break;
        case PART_ROUTING_KEY: brg_buf_str(b, env->origin.routing_key); break;
        case PART_EXCHANGE: brg_buf_str(b, env->origin.exchange); break;
        case PART_SUBJECT: brg_buf_str(b, env->props.subject); break;
        case PART_MESSAGE_ID: brg_buf_str(b, env->props.message_id); break;
        case PART_CORRELATION_ID: brg_buf_str(b, env->props.correlation_id); break;
        case PART_ENDPOINT: brg_buf_str(b, env->origin.endpoint); break;
        case PART_HEADER: {
            const brg_field_t *f = brg_fields_get(&env->headers, p->text);
            if (f) {
                sb_value(b, &f->value);
            }
            break;
        }
        }
    }
}

char *brg_template_render(const brg_template_t *t, const brg_envelope_t *env, size_t *len_out)
{
    brg_buf_t b = {0};
    render(t, env, &b);
    return brg_buf_steal(&b, len_out);
}

const char *brg_template_value(const brg_template_t *t, const brg_envelope_t *env,
                               brg_buf_t *scratch, size_t *len_out)
{
    const char *lit = brg_template_literal(t, len_out);
    if (lit) {
        return lit;
    }
    brg_buf_reset(scratch);
    render(t, env, scratch);
    if (len_out) {
        *len_out = scratch->len;
    }
    return scratch->data;
}
