#include "bridge/envelope.h"

#include <stdlib.h>
#include <string.h>

/* ---- values ----------------------------------------------------------------------------- */

brg_value_t brg_value_null(void)
{
    return (brg_value_t){.type = BRG_V_NULL};
}

brg_value_t brg_value_bool(bool b)
{
    return (brg_value_t){.type = BRG_V_BOOL, .u.b = b};
}

brg_value_t brg_value_int(int64_t i, uint8_t width)
{
    return (brg_value_t){.type = BRG_V_INT, .width = width, .u.i = i};
}

brg_value_t brg_value_uint(uint64_t u, uint8_t width)
{
    return (brg_value_t){.type = BRG_V_UINT, .width = width, .u.u = u};
}

brg_value_t brg_value_float(double f, uint8_t width)
{
    return (brg_value_t){.type = BRG_V_FLOAT, .width = width, .u.f = f};
}

brg_value_t brg_value_timestamp(int64_t ms)
{
    return (brg_value_t){.type = BRG_V_TIMESTAMP, .u.ts_ms = ms};
}

brg_value_t brg_value_typed_bytes(brg_vtype_t type, const void *p, size_t len)
{
    brg_value_t v = {.type = type};
    /* Always keep a trailing NUL so that strings can be used as C strings. */
    v.u.bytes.data = brg_xmalloc(len + 1);
    if (len) {
        memcpy(v.u.bytes.data, p, len);
    }
    v.u.bytes.data[len] = 0;
    v.u.bytes.len = len;
    return v;
}

brg_value_t brg_value_string(const char *s, size_t len)
{
    return brg_value_typed_bytes(BRG_V_STRING, s, len);
}

brg_value_t brg_value_bytes(const void *p, size_t len)
{
    return brg_value_typed_bytes(BRG_V_BYTES, p, len);
}

brg_value_t brg_value_table(brg_fields_t *fields)
{
    return (brg_value_t){.type = BRG_V_TABLE, .u.fields = fields ? fields : brg_fields_new()};
}

brg_value_t brg_value_array(brg_fields_t *fields)
{
    return (brg_value_t){.type = BRG_V_ARRAY, .u.fields = fields ? fields : brg_fields_new()};
}

static bool has_bytes(brg_vtype_t t)
{
    return t == BRG_V_STRING || t == BRG_V_BYTES || t == BRG_V_SYMBOL || t == BRG_V_UUID;
}

void brg_value_fini(brg_value_t *v)
{
    if (has_bytes(v->type)) {
        free(v->u.bytes.data);
    } else if (v->type == BRG_V_TABLE || v->type == BRG_V_ARRAY) {
        brg_fields_destroy(v->u.fields);
    }
    *v = brg_value_null();
}

brg_value_t brg_value_copy(const brg_value_t *v)
{
    if (has_bytes(v->type)) {
        return brg_value_typed_bytes(v->type, v->u.bytes.data, v->u.bytes.len);
    }
    if (v->type == BRG_V_TABLE || v->type == BRG_V_ARRAY) {
        brg_fields_t *f = brg_fields_new();
        brg_fields_copy(f, v->u.fields);
        brg_value_t c = *v;
        c.u.fields = f;
        return c;
    }
    return *v;
}

bool brg_value_equal(const brg_value_t *a, const brg_value_t *b)
{
    if (a->type != b->type || a->width != b->width) {
        return false;
    }
    switch (a->type) {
    case BRG_V_NULL: return true;
    case BRG_V_BOOL: return a->u.b == b->u.b;
    case BRG_V_INT: return a->u.i == b->u.i;
    case BRG_V_UINT: return a->u.u == b->u.u;
    case BRG_V_FLOAT: return memcmp(&a->u.f, &b->u.f, sizeof(double)) == 0 || a->u.f == b->u.f;
    case BRG_V_DECIMAL: return a->u.dec.scale == b->u.dec.scale && a->u.dec.value == b->u.dec.value;
    case BRG_V_TIMESTAMP: return a->u.ts_ms == b->u.ts_ms;
    case BRG_V_STRING:
    case BRG_V_BYTES:
    case BRG_V_SYMBOL:
    case BRG_V_UUID:
        return a->u.bytes.len == b->u.bytes.len &&
               (a->u.bytes.len == 0 || memcmp(a->u.bytes.data, b->u.bytes.data, a->u.bytes.len) == 0);
    case BRG_V_TABLE:
    case BRG_V_ARRAY: return brg_fields_equal(a->u.fields, b->u.fields);
    }
    return false;
}

const char *brg_vtype_name(brg_vtype_t t)
{
    static const char *const names[] = {"null",   "bool",   "int",    "uint",  "float",
                                        "decimal", "timestamp", "string", "bytes", "symbol",
                                        "uuid",   "table",  "array"};
    return (size_t)t < BRG_ARRAY_SIZE(names) ? names[t] : "?";
}

/* ---- field lists ------------------------------------------------------------------------ */

brg_fields_t *brg_fields_new(void)
{
    return brg_xcalloc(1, sizeof(brg_fields_t));
}

void brg_fields_init(brg_fields_t *f)
{
    memset(f, 0, sizeof(*f));
}

void brg_fields_fini(brg_fields_t *f)
{
    for (size_t i = 0; i < f->count; i++) {
        free(f->items[i].name);
        brg_value_fini(&f->items[i].value);
    }
    free(f->items);
    memset(f, 0, sizeof(*f));
}

void brg_fields_destroy(brg_fields_t *f)
{
    if (f) {
        brg_fields_fini(f);
        free(f);
    }
}

void brg_fields_add(brg_fields_t *f, const char *name, size_t name_len, brg_value_t *value)
{
    if (f->count == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        f->items = brg_xrealloc(f->items, f->cap * sizeof(brg_field_t));
    }
    brg_field_t *fld = &f->items[f->count++];
    fld->name = name ? brg_xstrndup(name, name_len) : NULL;
    fld->name_len = name ? name_len : 0;
    fld->value = *value;
    *value = brg_value_null();
}

brg_field_t *brg_fields_get(const brg_fields_t *f, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < f->count; i++) {
        if (f->items[i].name && f->items[i].name_len == len &&
            memcmp(f->items[i].name, name, len) == 0) {
            return &f->items[i];
        }
    }
    return NULL;
}

size_t brg_fields_remove(brg_fields_t *f, const char *name)
{
    size_t len = strlen(name), removed = 0, w = 0;
    for (size_t i = 0; i < f->count; i++) {
        brg_field_t *fld = &f->items[i];
        if (fld->name && fld->name_len == len && memcmp(fld->name, name, len) == 0) {
            free(fld->name);
            brg_value_fini(&fld->value);
            removed++;
        } else {
            f->items[w++] = *fld;
        }
    }
    f->count = w;
    return removed;
}

void brg_fields_copy(brg_fields_t *dst, const brg_fields_t *src)
{
    for (size_t i = 0; i < src->count; i++) {
        brg_value_t v = brg_value_copy(&src->items[i].value);
        brg_fields_add(dst, src->items[i].name, src->items[i].name_len, &v);
    }
}

bool brg_fields_equal(const brg_fields_t *a, const brg_fields_t *b)
{
    if (a->count != b->count) {
        return false;
    }
    for (size_t i = 0; i < a->count; i++) {
        const brg_field_t *x = &a->items[i], *y = &b->items[i];
        if ((x->name == NULL) != (y->name == NULL) || x->name_len != y->name_len ||
            (x->name && memcmp(x->name, y->name, x->name_len) != 0) ||
            !brg_value_equal(&x->value, &y->value)) {
            return false;
        }
    }
    return true;
}

/* ---- envelope --------------------------------------------------------------------------- */

brg_envelope_t *brg_envelope_new(void)
{
    brg_envelope_t *env = brg_xcalloc(1, sizeof(*env));
    env->props.priority = -1;
    env->props.durable = -1;
    env->props.ttl_ms = -1;
    env->props.timestamp_ms = -1;
    env->origin.partition = -1;
    env->origin.offset = -1;
    return env;
}

static void release_body(brg_envelope_t *env)
{
    if (env->body_free) {
        env->body_free(env->body_opaque);
    }
    free(env->body_owned);
    env->body_owned = NULL;
    env->body_free = NULL;
    env->body_opaque = NULL;
    env->body = NULL;
    env->body_len = 0;
}

static void props_fini(brg_props_t *p)
{
    free(p->message_id);
    free(p->correlation_id);
    free(p->content_type);
    free(p->content_encoding);
    free(p->reply_to);
    free(p->subject);
    free(p->user_id);
    free(p->app_id);
    free(p->group_id);
}

static void origin_fini(brg_origin_t *o)
{
    if (!o->endpoint_borrowed) {
        free(o->endpoint);
    }
    free(o->stream);
    free(o->exchange);
    free(o->routing_key);
}

void brg_envelope_destroy(brg_envelope_t *env)
{
    if (!env) {
        return;
    }
    release_body(env);
    free(env->key);
    brg_fields_fini(&env->headers);
    props_fini(&env->props);
    origin_fini(&env->origin);
    free(env->reject_reason);
    free(env);
}

void brg_envelope_set_reject_reason(brg_envelope_t *env, const char *reason)
{
    if (!env->reject_reason) {
        env->reject_reason = brg_xstrdup(reason ? reason : "the source could not decode it");
    }
}

void brg_envelope_set_body(brg_envelope_t *env, const void *data, size_t len)
{
    brg_envelope_take_body(env, brg_xmemdup(data, len), len);
}

void brg_envelope_take_body(brg_envelope_t *env, uint8_t *data, size_t len)
{
    release_body(env);
    env->body_owned = data;
    env->body = data;
    env->body_len = len;
}

void brg_envelope_set_body_ref(brg_envelope_t *env, const void *data, size_t len,
                               brg_body_free_cb *free_cb, void *opaque)
{
    release_body(env);
    env->body = data;
    env->body_len = len;
    env->body_free = free_cb;
    env->body_opaque = opaque;
}

void brg_envelope_set_key(brg_envelope_t *env, const void *data, size_t len)
{
    free(env->key);
    env->key = NULL;
    env->key_len = 0;
    if (data) {
        /* An empty key stays present: Kafka distinguishes a null key from an empty one. */
        env->key = brg_xmalloc(len + 1);
        memcpy(env->key, data, len);
        env->key[len] = 0;
        env->key_len = len;
    }
}

void brg_props_set(char **slot, const char *value)
{
    free(*slot);
    *slot = value ? brg_xstrdup(value) : NULL;
}

brg_envelope_t *brg_envelope_copy(const brg_envelope_t *env)
{
    brg_envelope_t *c = brg_envelope_new();
    /* A NULL body (a Kafka tombstone) stays NULL: it is not the same as an empty one. */
    if (env->body) {
        brg_envelope_set_body(c, env->body, env->body_len);
    }
    if (env->key) {
        brg_envelope_set_key(c, env->key, env->key_len);
    }
    brg_fields_copy(&c->headers, &env->headers);
    const brg_props_t *p = &env->props;
    c->props = *p;
    c->props.message_id = brg_xstrdup(p->message_id);
    c->props.correlation_id = brg_xstrdup(p->correlation_id);
    c->props.content_type = brg_xstrdup(p->content_type);
    c->props.content_encoding = brg_xstrdup(p->content_encoding);
    c->props.reply_to = brg_xstrdup(p->reply_to);
    c->props.subject = brg_xstrdup(p->subject);
    c->props.user_id = brg_xstrdup(p->user_id);
    c->props.app_id = brg_xstrdup(p->app_id);
    c->props.group_id = brg_xstrdup(p->group_id);
    const brg_origin_t *o = &env->origin;
    c->origin = *o;
    /* A copy owns its strings: it may outlive the endpoint (a test sink keeps it). */
    c->origin.endpoint = brg_xstrdup(o->endpoint);
    c->origin.endpoint_borrowed = false;
    c->origin.stream = brg_xstrdup(o->stream);
    c->origin.exchange = brg_xstrdup(o->exchange);
    c->origin.routing_key = brg_xstrdup(o->routing_key);
    /* Sequence numbers identify the message for the source and for tests; the token is the
     * source's private handle and is never shared. */
    c->src_seq = env->src_seq;
    c->src_epoch = env->src_epoch;
    return c;
}

static size_t fields_size(const brg_fields_t *f)
{
    size_t n = 0;
    for (size_t i = 0; i < f->count; i++) {
        const brg_value_t *v = &f->items[i].value;
        n += f->items[i].name_len + 8;
        if (has_bytes(v->type)) {
            n += v->u.bytes.len;
        } else if (v->type == BRG_V_TABLE || v->type == BRG_V_ARRAY) {
            n += fields_size(v->u.fields);
        }
    }
    return n;
}

size_t brg_envelope_size(const brg_envelope_t *env)
{
    return env->body_len + env->key_len + fields_size(&env->headers);
}

void brg_envelope_add_header_str(brg_envelope_t *env, const char *name, const char *value)
{
    brg_value_t v = brg_value_string(value, strlen(value));
    brg_fields_add(&env->headers, name, strlen(name), &v);
}

void brg_envelope_add_header_bytes(brg_envelope_t *env, const char *name, const void *value,
                                   size_t len)
{
    brg_value_t v = brg_value_bytes(value, len);
    brg_fields_add(&env->headers, name, strlen(name), &v);
}
