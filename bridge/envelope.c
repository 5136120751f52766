#include "bridge/envelope.h"

#include <pthread.h>
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
        if (!v->borrowed) {
            free(v->u.bytes.data);
        }
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

static void field_fini(brg_field_t *fld)
{
    if (!fld->name_borrowed) {
        free(fld->name);
    }
    brg_value_fini(&fld->value);
}

void brg_fields_clear(brg_fields_t *f)
{
    for (size_t i = 0; i < f->count; i++) {
        field_fini(&f->items[i]);
    }
    f->count = 0;
}

void brg_fields_fini(brg_fields_t *f)
{
    brg_fields_clear(f);
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
        /* From 2: most messages carry one or two (the provenance entry, a trace id), and the
         * array lives as long as its envelope, in flight or on a free list. A recycled
         * envelope keeps its array. */
        f->cap = f->cap ? f->cap * 2 : 2;
        f->items = brg_xrealloc(f->items, f->cap * sizeof(brg_field_t));
    }
    brg_field_t *fld = &f->items[f->count++];
    fld->name = name ? brg_xstrndup(name, name_len) : NULL;
    fld->name_len = name ? name_len : 0;
    fld->name_borrowed = false;
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
            field_fini(fld);
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

/* ---- the thread's free list ---------------------------------------------------------------
 * Envelopes recycled on a thread wait there for the next brg_envelope_new on the same thread:
 * a source creates its envelopes on its endpoint's thread and gets them back there
 * (brg_source_done), so in steady state it reuses the same few thousand envelopes and their
 * buffers. No lock: the list is the thread's own. A pthread key frees it when the thread exits. */

typedef struct env_cache {
    brg_envelope_t *head;
    size_t count;
    size_t bytes; /* buffers held by the cached envelopes */
} env_cache_t;

static _Thread_local env_cache_t *tl_cache;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void env_free(brg_envelope_t *env);

static void cache_drop(env_cache_t *c)
{
    while (c->head) {
        brg_envelope_t *e = c->head;
        c->head = e->next_free;
        env_free(e);
    }
    c->count = 0;
    c->bytes = 0;
}

static void cache_destructor(void *p)
{
    env_cache_t *c = p;
    cache_drop(c);
    free(c);
    tl_cache = NULL;
}

static void cache_key_init(void)
{
    (void)pthread_key_create(&cache_key, cache_destructor);
}

static env_cache_t *cache_get(void)
{
    if (!tl_cache) {
        pthread_once(&cache_once, cache_key_init);
        tl_cache = brg_xcalloc(1, sizeof(*tl_cache));
        (void)pthread_setspecific(cache_key, tl_cache);
    }
    return tl_cache;
}

size_t brg_envelope_cache_count(void)
{
    return tl_cache ? tl_cache->count : 0;
}

void brg_envelope_cache_clear(void)
{
    if (tl_cache) {
        cache_drop(tl_cache);
    }
}

static size_t env_buffers(const brg_envelope_t *env)
{
    return env->body_cap + env->key_cap + brg_arena_capacity(&env->arena) +
           env->headers.cap * sizeof(brg_field_t);
}

/* ---- envelope --------------------------------------------------------------------------- */

/* The state of a new envelope: absent properties and origin numbers; buffers untouched. */
static void env_blank(brg_envelope_t *env)
{
    env->body = NULL;
    env->body_len = 0;
    env->key = NULL;
    env->key_len = 0;
    memset(&env->props, 0, sizeof(env->props));
    memset(&env->origin, 0, sizeof(env->origin));
    env->src_token = NULL;
    env->src_seq = 0;
    env->src_epoch = 0;
    env->reject_reason = NULL;
    env->dlv = NULL;
    env->body_free = NULL;
    env->body_opaque = NULL;
    env->next_free = NULL;
    env->props.priority = -1;
    env->props.durable = -1;
    env->props.ttl_ms = -1;
    env->props.timestamp_ms = -1;
    env->origin.partition = -1;
    env->origin.offset = -1;
}

brg_envelope_t *brg_envelope_new(void)
{
    env_cache_t *c = tl_cache;
    if (c && c->head) {
        brg_envelope_t *env = c->head;
        c->head = env->next_free;
        c->count--;
        c->bytes -= env_buffers(env);
        env->next_free = NULL;
        return env;
    }
    brg_envelope_t *env = brg_xcalloc(1, sizeof(*env));
    env_blank(env);
    return env;
}

/* Let go of a borrowed body (its free callback); an owned buffer stays for reuse. */
static void release_body(brg_envelope_t *env)
{
    if (env->body_free) {
        env->body_free(env->body_opaque);
    }
    env->body_free = NULL;
    env->body_opaque = NULL;
    env->body = NULL;
    env->body_len = 0;
}

void brg_envelope_free_str(brg_envelope_t *env, char *s)
{
    if (s && !brg_arena_owns(&env->arena, s)) {
        free(s);
    }
}

static void props_fini(brg_envelope_t *env)
{
    brg_props_t *p = &env->props;
    brg_envelope_free_str(env, p->message_id);
    brg_envelope_free_str(env, p->correlation_id);
    brg_envelope_free_str(env, p->content_type);
    brg_envelope_free_str(env, p->content_encoding);
    brg_envelope_free_str(env, p->reply_to);
    brg_envelope_free_str(env, p->subject);
    brg_envelope_free_str(env, p->user_id);
    brg_envelope_free_str(env, p->app_id);
    brg_envelope_free_str(env, p->group_id);
}

static void origin_fini(brg_envelope_t *env)
{
    brg_origin_t *o = &env->origin;
    if (!o->endpoint_borrowed) {
        brg_envelope_free_str(env, o->endpoint);
    }
    brg_envelope_free_str(env, o->stream);
    brg_envelope_free_str(env, o->stream_read);
    brg_envelope_free_str(env, o->exchange);
    brg_envelope_free_str(env, o->routing_key);
}

/* Release what the message holds; the buffers (body, key, arena, header array) stay. */
static void env_clear(brg_envelope_t *env)
{
    release_body(env);
    if (env->key && env->key != env->key_buf) {
        free(env->key); /* a decoder's own buffer (the file adapter's JSON) */
    }
    brg_fields_clear(&env->headers);
    props_fini(env);
    origin_fini(env);
    brg_envelope_free_str(env, env->reject_reason);
}

static void env_free(brg_envelope_t *env)
{
    free(env->body_owned);
    free(env->key_buf);
    brg_fields_fini(&env->headers);
    brg_arena_fini(&env->arena);
    free(env);
}

void brg_envelope_destroy(brg_envelope_t *env)
{
    if (!env) {
        return;
    }
    env_clear(env);
    env_free(env);
}

void brg_envelope_recycle(brg_envelope_t *env)
{
    if (!env) {
        return;
    }
    env_clear(env);
    /* Keep buffers of an ordinary message's size only: one large message must not pin its
     * memory in the free list for ever. */
    if (env->body_cap > BRG_ENVELOPE_KEEP_BYTES) {
        free(env->body_owned);
        env->body_owned = NULL;
        env->body_cap = 0;
    }
    if (env->key_cap > BRG_ENVELOPE_KEEP_BYTES) {
        free(env->key_buf);
        env->key_buf = NULL;
        env->key_cap = 0;
    }
    if (env->headers.cap > 64) {
        free(env->headers.items);
        env->headers.items = NULL;
        env->headers.cap = 0;
    }
    brg_arena_reset(&env->arena, BRG_ENVELOPE_KEEP_BYTES);
    env_blank(env);
    env_cache_t *c = cache_get();
    size_t bytes = env_buffers(env);
    if (c->count >= BRG_ENVELOPE_CACHE_MAX || c->bytes + bytes > BRG_ENVELOPE_CACHE_BYTES) {
        env_free(env);
        return;
    }
    env->next_free = c->head;
    c->head = env;
    c->count++;
    c->bytes += bytes;
}

void brg_envelope_set_reject_reason(brg_envelope_t *env, const char *reason)
{
    if (!env->reject_reason) {
        env->reject_reason = brg_xstrdup(reason ? reason : "the source could not decode it");
    }
}

uint8_t *brg_envelope_body_buf(brg_envelope_t *env, size_t len)
{
    release_body(env);
    if (!env->body_owned || env->body_cap < len + 1) {
        free(env->body_owned);
        env->body_cap = len + 1 > 64 ? len + 1 : 64;
        env->body_owned = brg_xmalloc(env->body_cap);
    }
    env->body_owned[len] = 0;
    env->body = env->body_owned;
    env->body_len = len;
    return env->body_owned;
}

void brg_envelope_set_body(brg_envelope_t *env, const void *data, size_t len)
{
    const uint8_t *d = data;
    if (d && env->body_owned && d >= env->body_owned && d + len < env->body_owned + env->body_cap) {
        /* Bytes of its own buffer (a part of its body): move them, the buffer is large enough. */
        release_body(env);
        memmove(env->body_owned, d, len);
        env->body_owned[len] = 0;
        env->body = env->body_owned;
        env->body_len = len;
        return;
    }
    uint8_t *buf = brg_envelope_body_buf(env, len);
    if (len) {
        memcpy(buf, data, len);
    }
}

void brg_envelope_take_body(brg_envelope_t *env, uint8_t *data, size_t len)
{
    release_body(env);
    free(env->body_owned);
    env->body_owned = data;
    env->body_cap = len;
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
    if (env->key && env->key != env->key_buf) {
        free(env->key);
    }
    env->key = NULL;
    env->key_len = 0;
    if (data) {
        /* An empty key stays present: Kafka distinguishes a null key from an empty one. */
        if (!env->key_buf || env->key_cap < len + 1) {
            free(env->key_buf);
            env->key_cap = len + 1 > 32 ? len + 1 : 32;
            env->key_buf = brg_xmalloc(env->key_cap);
        }
        memmove(env->key_buf, data, len);
        env->key_buf[len] = 0;
        env->key = env->key_buf;
        env->key_len = len;
    }
}

void brg_props_set(char **slot, const char *value)
{
    free(*slot);
    *slot = value ? brg_xstrdup(value) : NULL;
}

char *brg_envelope_strndup(brg_envelope_t *env, const void *s, size_t len)
{
    return brg_arena_strndup(&env->arena, s, len);
}

void brg_envelope_set_str(brg_envelope_t *env, char **slot, const char *s, size_t len)
{
    brg_envelope_free_str(env, *slot);
    *slot = s ? brg_arena_strndup(&env->arena, s, len) : NULL;
}

brg_value_t brg_envelope_value(brg_envelope_t *env, brg_vtype_t type, const void *p, size_t len)
{
    brg_value_t v = {.type = type, .borrowed = true};
    /* A trailing NUL as brg_value_typed_bytes keeps, so that strings work as C strings. */
    v.u.bytes.data = (uint8_t *)brg_arena_strndup(&env->arena, p, len);
    v.u.bytes.len = len;
    return v;
}

void brg_envelope_add_header(brg_envelope_t *env, const char *name, size_t name_len,
                             brg_value_t *value)
{
    brg_fields_t *f = &env->headers;
    brg_fields_add(f, NULL, 0, value);
    brg_field_t *fld = &f->items[f->count - 1];
    fld->name = brg_arena_strndup(&env->arena, name, name_len);
    fld->name_len = name_len;
    fld->name_borrowed = true;
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
    c->origin.stream_read = o->stream_read ? brg_xstrdup(o->stream_read) : NULL;
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
    brg_value_t v = brg_envelope_value(env, BRG_V_STRING, value, strlen(value));
    brg_envelope_add_header(env, name, strlen(name), &v);
}

void brg_envelope_add_header_bytes(brg_envelope_t *env, const char *name, const void *value,
                                   size_t len)
{
    brg_value_t v = brg_envelope_value(env, BRG_V_BYTES, value, len);
    brg_envelope_add_header(env, name, strlen(name), &v);
}
