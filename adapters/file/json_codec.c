/* Envelope <-> one JSON object per line (docs/envelope-json.md), on top of jansson.
 *
 * Byte strings (body, key, header names and values, property strings) are written as JSON text
 * when they are valid UTF-8 without NUL, and otherwise as base64 under the same member name
 * plus "_base64": exactly one of the two is present. The encoder writes members in one fixed
 * order and leaves out what is absent, which makes its output canonical. */
#include "adapters/file/json_codec.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/file/base64.h"

/* jansson returns NULL only on out-of-memory (or for values we never pass it, such as a
 * non-finite real): like brg_xmalloc, treat that as fatal. */
static json_t *must(json_t *v)
{
    if (!v) {
        abort();
    }
    return v;
}

static void put(json_t *obj, const char *member, json_t *v)
{
    if (json_object_set_new_nocheck(obj, member, must(v)) != 0) {
        abort();
    }
}

/* ---- encoding --------------------------------------------------------------------------- */

/* member = text, or member_base64 = base64 when the bytes are not text. */
static void put_bytes(json_t *obj, const char *member, const void *data, size_t len)
{
    if (!data) {
        data = "";
    }
    if (brg_utf8_is_text(data, len)) {
        put(obj, member, json_stringn_nocheck(data, len));
        return;
    }
    char name[64];
    snprintf(name, sizeof(name), "%s_base64", member);
    size_t n;
    char *b64 = brg_b64_encode(data, len, &n);
    put(obj, name, json_stringn_nocheck(b64, n));
    free(b64);
}

static void put_str(json_t *obj, const char *member, const char *s)
{
    if (s) {
        put_bytes(obj, member, s, strlen(s));
    }
}

/* jansson's integers are signed 64-bit: larger unsigned values are written as decimal text. */
static json_t *uint_json(uint64_t u)
{
    if (u <= (uint64_t)INT64_MAX) {
        return json_integer((json_int_t)u);
    }
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRIu64, u);
    return json_string(buf);
}

static json_t *encode_fields(const brg_fields_t *f, bool named);

static json_t *encode_field(const brg_field_t *fld, bool named)
{
    const brg_value_t *v = &fld->value;
    json_t *o = must(json_object());
    if (named && fld->name) {
        put_bytes(o, "name", fld->name, fld->name_len);
    }
    put(o, "type", json_string(brg_vtype_name(v->type)));
    if ((v->type == BRG_V_INT || v->type == BRG_V_UINT || v->type == BRG_V_FLOAT) &&
        v->width != 64 && v->width != 0) {
        put(o, "width", json_integer(v->width));
    }
    switch (v->type) {
    case BRG_V_NULL: break;
    case BRG_V_BOOL: put(o, "value", json_boolean(v->u.b)); break;
    case BRG_V_INT: put(o, "value", json_integer(v->u.i)); break;
    case BRG_V_UINT: put(o, "value", uint_json(v->u.u)); break;
    case BRG_V_FLOAT:
        /* JSON has no NaN or infinities: they are written as the strings JavaScript uses. */
        if (isnan(v->u.f)) {
            put(o, "value", json_string("NaN"));
        } else if (isinf(v->u.f)) {
            put(o, "value", json_string(v->u.f > 0 ? "Infinity" : "-Infinity"));
        } else {
            put(o, "value", json_real(v->u.f));
        }
        break;
    case BRG_V_DECIMAL:
        put(o, "scale", json_integer(v->u.dec.scale));
        put(o, "value", json_integer(v->u.dec.value));
        break;
    case BRG_V_TIMESTAMP: put(o, "value", json_integer(v->u.ts_ms)); break;
    case BRG_V_UUID:
        if (v->u.bytes.len == 16) {
            const uint8_t *b = v->u.bytes.data;
            char s[37];
            snprintf(s, sizeof(s),
                     "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                     b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                     b[13], b[14], b[15]);
            put(o, "value", json_string(s));
        } else {
            /* Not a real UUID: keep the bytes anyway, they must survive the trip. */
            char *b64 = brg_b64_encode(v->u.bytes.data, v->u.bytes.len, NULL);
            put(o, "value_base64", json_string(b64));
            free(b64);
        }
        break;
    case BRG_V_STRING:
    case BRG_V_BYTES:
    case BRG_V_SYMBOL: put_bytes(o, "value", v->u.bytes.data, v->u.bytes.len); break;
    case BRG_V_TABLE: put(o, "value", encode_fields(v->u.fields, true)); break;
    case BRG_V_ARRAY: put(o, "value", encode_fields(v->u.fields, false)); break;
    }
    return o;
}

static json_t *encode_fields(const brg_fields_t *f, bool named)
{
    json_t *a = must(json_array());
    for (size_t i = 0; f && i < f->count; i++) {
        if (json_array_append_new(a, encode_field(&f->items[i], named)) != 0) {
            abort();
        }
    }
    return a;
}

static json_t *encode_props(const brg_props_t *p)
{
    json_t *o = must(json_object());
    put_str(o, "message_id", p->message_id);
    put_str(o, "correlation_id", p->correlation_id);
    put_str(o, "content_type", p->content_type);
    put_str(o, "content_encoding", p->content_encoding);
    put_str(o, "reply_to", p->reply_to);
    put_str(o, "subject", p->subject);
    put_str(o, "user_id", p->user_id);
    put_str(o, "app_id", p->app_id);
    put_str(o, "group_id", p->group_id);
    if (p->priority >= 0) {
        put(o, "priority", json_integer(p->priority));
    }
    if (p->durable >= 0) {
        put(o, "durable", json_boolean(p->durable));
    }
    if (p->ttl_ms >= 0) {
        put(o, "ttl_ms", json_integer(p->ttl_ms));
    }
    if (p->timestamp_ms >= 0) {
        put(o, "timestamp_ms", json_integer(p->timestamp_ms));
    }
    if (p->timestamp_type == 1 || p->timestamp_type == 2) {
        put(o, "timestamp_type",
            json_string(p->timestamp_type == 1 ? "create_time" : "log_append_time"));
    }
    return o;
}

static json_t *encode_origin(const brg_origin_t *g)
{
    json_t *o = must(json_object());
    put_str(o, "adapter", g->adapter);
    put_str(o, "endpoint", g->endpoint);
    put_str(o, "stream", g->stream);
    if (g->partition >= 0) {
        put(o, "partition", json_integer(g->partition));
    }
    if (g->offset >= 0) {
        put(o, "offset", json_integer(g->offset));
    }
    if (g->delivery_tag) {
        put(o, "delivery_tag", uint_json(g->delivery_tag));
    }
    put_str(o, "exchange", g->exchange);
    put_str(o, "routing_key", g->routing_key);
    if (g->redelivered) {
        put(o, "redelivered", json_true());
    }
    return o;
}

static json_t *encode_env(const brg_envelope_t *env)
{
    json_t *o = must(json_object());
    put_bytes(o, "body", env->body, env->body_len);
    if (env->key) {
        put_bytes(o, "key", env->key, env->key_len);
    }
    if (env->headers.count) {
        put(o, "headers", encode_fields(&env->headers, true));
    }
    json_t *p = encode_props(&env->props);
    if (json_object_size(p)) {
        put(o, "properties", p);
    } else {
        json_decref(p);
    }
    json_t *g = encode_origin(&env->origin);
    if (json_object_size(g)) {
        put(o, "origin", g);
    } else {
        json_decref(g);
    }
    return o;
}

/* Compact, members in insertion order (jansson keeps it), non-ASCII left as UTF-8. The
 * default real precision (17 significant digits) reads back the very same double. */
#define DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

void brg_json_encode_append(const brg_envelope_t *env, brg_jbuf_t *out)
{
    json_t *o = encode_env(env);
    for (;;) {
        size_t room = out->cap - out->len;
        size_t need = json_dumpb(o, out->data ? out->data + out->len : NULL, room, DUMP_FLAGS);
        if (need == 0) {
            abort(); /* only on out-of-memory: every value we build is dumpable */
        }
        if (need < room) { /* room for the object and the newline */
            out->len += need;
            out->data[out->len++] = '\n';
            break;
        }
        size_t cap = out->cap ? out->cap : 4096;
        while (cap < out->len + need + 1) {
            cap *= 2;
        }
        out->data = brg_xrealloc(out->data, cap);
        out->cap = cap;
    }
    json_decref(o);
}

char *brg_json_encode(const brg_envelope_t *env, size_t *len_out)
{
    brg_jbuf_t b = {0};
    brg_json_encode_append(env, &b);
    b.data[--b.len] = 0; /* replace the newline */
    if (len_out) {
        *len_out = b.len;
    }
    return b.data;
}

/* ---- decoding --------------------------------------------------------------------------- */

typedef struct dec {
    char *errstr;
    size_t errstr_size;
} dec_t;

static bool fail(dec_t *d, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool fail(dec_t *d, const char *path, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (path && path[0]) {
        brg_errfmt(d->errstr, d->errstr_size, "%s: %s", path, msg);
    } else {
        brg_errfmt(d->errstr, d->errstr_size, "%s", msg);
    }
    return false;
}

static const char *json_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* "a.b" path joins; a long path (deep nesting) is cut and ends with "...". */
static void join(char *out, size_t size, const char *path, const char *member)
{
    int n = snprintf(out, size, "%s%s%s", path, path[0] ? "." : "", member);
    if (n < 0 || (size_t)n >= size) {
        memcpy(out + size - 4, "...", 4);
    }
}

/* Every member of obj must be in the NULL-terminated list allowed. */
static bool check_members(dec_t *d, json_t *obj, const char *path, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++) {
            if (strcmp(k, allowed[i]) == 0) {
                ok = true;
                break;
            }
        }
        if (!ok) {
            char list[512] = "";
            size_t n = 0;
            for (size_t i = 0; allowed[i] && n < sizeof(list); i++) {
                n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "",
                                      allowed[i]);
            }
            return fail(d, path, "unknown member \"%s\" (valid: %s)", k, list);
        }
    }
    return true;
}

/* Read member or member_base64 (at most one of them; required if `required`).
 * *out is malloc'd with a trailing NUL, NULL if absent. */
static bool get_bytes(dec_t *d, json_t *obj, const char *path, const char *member, bool required,
                      uint8_t **out, size_t *out_len)
{
    char b64name[64], where[320];
    snprintf(b64name, sizeof(b64name), "%s_base64", member);
    json_t *t = json_object_get(obj, member);
    json_t *b = json_object_get(obj, b64name);
    *out = NULL;
    *out_len = 0;
    if (t && b) {
        return fail(d, path, "both \"%s\" and \"%s\" are set (exactly one is allowed)", member,
                    b64name);
    }
    if (!t && !b) {
        if (required) {
            return fail(d, path, "missing \"%s\" (or \"%s\")", member, b64name);
        }
        return true;
    }
    json_t *j = t ? t : b;
    join(where, sizeof(where), path, t ? member : b64name);
    if (!json_is_string(j)) {
        return fail(d, where, "expected a string, got %s", json_kind(j));
    }
    const char *s = json_string_value(j);
    size_t len = json_string_length(j);
    if (t) {
        *out = brg_xmalloc(len + 1);
        memcpy(*out, s, len);
        (*out)[len] = 0;
        *out_len = len;
        return true;
    }
    char why[128];
    if (!brg_b64_decode(s, len, out, out_len, why, sizeof(why))) {
        return fail(d, where, "bad base64: %s", why);
    }
    return true;
}

/* A property or origin string: a C string, so it may not contain a NUL byte. */
static bool get_cstr(dec_t *d, json_t *obj, const char *path, const char *member, char **slot)
{
    uint8_t *s;
    size_t len;
    if (!get_bytes(d, obj, path, member, false, &s, &len)) {
        return false;
    }
    if (s && memchr(s, 0, len)) {
        char where[320], b64name[64];
        snprintf(b64name, sizeof(b64name), "%s_base64", member);
        join(where, sizeof(where), path, b64name);
        free(s);
        return fail(d, where, "contains a NUL byte (not allowed in a property)");
    }
    free(*slot);
    *slot = (char *)s;
    return true;
}

/* An integer member in [lo, hi]. *present tells whether it was there. */
static bool get_int(dec_t *d, json_t *obj, const char *path, const char *member, int64_t lo,
                    int64_t hi, int64_t *out, bool *present)
{
    json_t *j = json_object_get(obj, member);
    *present = j != NULL;
    if (!j) {
        return true;
    }
    char where[320];
    join(where, sizeof(where), path, member);
    if (!json_is_integer(j)) {
        return fail(d, where, "expected an integer, got %s", json_kind(j));
    }
    json_int_t v = json_integer_value(j);
    if (v < lo || v > hi) {
        return fail(d, where, "%lld is out of range (%" PRId64 "..%" PRId64 ")", (long long)v, lo,
                    hi);
    }
    *out = v;
    return true;
}

static bool get_bool(dec_t *d, json_t *obj, const char *path, const char *member, int *out)
{
    json_t *j = json_object_get(obj, member);
    if (!j) {
        return true;
    }
    if (!json_is_boolean(j)) {
        char where[320];
        join(where, sizeof(where), path, member);
        return fail(d, where, "expected true or false, got %s", json_kind(j));
    }
    *out = json_is_true(j) ? 1 : 0;
    return true;
}

/* An unsigned 64-bit value: a non-negative integer, or decimal digits in a string for values
 * past INT64_MAX (which JSON parsers commonly cannot hold). */
static bool uint_value(dec_t *d, json_t *j, const char *where, uint64_t max, uint64_t *out)
{
    uint64_t u;
    if (json_is_integer(j)) {
        json_int_t v = json_integer_value(j);
        if (v < 0) {
            return fail(d, where, "%lld is negative (an unsigned value is expected)",
                        (long long)v);
        }
        u = (uint64_t)v;
    } else if (json_is_string(j)) {
        const char *s = json_string_value(j);
        size_t len = json_string_length(j);
        if (len == 0 || len > 20 || strspn(s, "0123456789") != len) {
            return fail(d, where, "\"%.40s\" is not an unsigned decimal integer", s);
        }
        errno = 0;
        u = strtoull(s, NULL, 10);
        if (errno == ERANGE) {
            return fail(d, where, "%s is out of range for 64 bits", s);
        }
    } else {
        return fail(d, where, "expected an unsigned integer, got %s", json_kind(j));
    }
    if (u > max) {
        return fail(d, where, "%" PRIu64 " is out of range (0..%" PRIu64 ")", u, max);
    }
    *out = u;
    return true;
}

typedef struct type_name {
    const char *name;
    brg_vtype_t type;
} type_name_t;

static const type_name_t type_names[] = {
    {"string", BRG_V_STRING}, {"bytes", BRG_V_BYTES},   {"int", BRG_V_INT},
    {"uint", BRG_V_UINT},     {"float", BRG_V_FLOAT},   {"bool", BRG_V_BOOL},
    {"null", BRG_V_NULL},     {"timestamp", BRG_V_TIMESTAMP}, {"decimal", BRG_V_DECIMAL},
    {"symbol", BRG_V_SYMBOL}, {"uuid", BRG_V_UUID},     {"table", BRG_V_TABLE},
    {"array", BRG_V_ARRAY},
};

static bool parse_uuid(const char *s, size_t len, uint8_t out[16])
{
    if (len != 36) {
        return false;
    }
    size_t o = 0;
    for (size_t i = 0; i < 36;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return false;
            }
            i++;
            continue;
        }
        int hi = -1, lo = -1;
        const char *hex = "0123456789abcdef0123456789ABCDEF";
        const char *p = memchr(hex, s[i], 32), *q = memchr(hex, s[i + 1], 32);
        if (p && s[i]) {
            hi = (int)((p - hex) % 16);
        }
        if (q && s[i + 1]) {
            lo = (int)((q - hex) % 16);
        }
        if (hi < 0 || lo < 0) {
            return false;
        }
        out[o++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    return true;
}

static bool decode_fields(dec_t *d, json_t *arr, const char *path, int depth, bool named,
                          brg_fields_t *out);

static bool decode_value(dec_t *d, json_t *item, const char *path, int depth, brg_vtype_t type,
                         brg_value_t *out)
{
    json_t *jv = json_object_get(item, "value");
    json_t *jb = json_object_get(item, "value_base64");
    char where[320];
    join(where, sizeof(where), path, "value");
    bool byteish = type == BRG_V_STRING || type == BRG_V_BYTES || type == BRG_V_SYMBOL ||
                   type == BRG_V_UUID;
    if (jb && !byteish) {
        return fail(d, path, "\"value_base64\" is only for types string, bytes, symbol, uuid");
    }
    if (type == BRG_V_NULL) {
        if (jv && !json_is_null(jv)) {
            return fail(d, where, "expected null for type \"null\", got %s", json_kind(jv));
        }
        *out = brg_value_null();
        return true;
    }
    if (!byteish && !jv) {
        return fail(d, path, "missing \"value\"");
    }

    int64_t width = 64;
    bool has_width;
    bool is_int = type == BRG_V_INT || type == BRG_V_UINT;
    if (!get_int(d, item, path, "width", 0, 64, &width, &has_width)) {
        return false;
    }
    if (has_width) {
        char wpath[320];
        join(wpath, sizeof(wpath), path, "width");
        if (!is_int && type != BRG_V_FLOAT) {
            return fail(d, wpath, "only int, uint and float values have a width");
        }
        if (is_int && width != 8 && width != 16 && width != 32 && width != 64) {
            return fail(d, wpath, "%" PRId64 " is not a valid width (8, 16, 32, 64)", width);
        }
        if (type == BRG_V_FLOAT && width != 32 && width != 64) {
            return fail(d, wpath, "%" PRId64 " is not a valid width for a float (32, 64)",
                        width);
        }
    }
    if (json_object_get(item, "scale") && type != BRG_V_DECIMAL) {
        return fail(d, path, "only decimal values have a \"scale\"");
    }

    switch (type) {
    case BRG_V_NULL: break; /* handled above */
    case BRG_V_BOOL:
        if (!json_is_boolean(jv)) {
            return fail(d, where, "expected true or false for type \"bool\", got %s",
                        json_kind(jv));
        }
        *out = brg_value_bool(json_is_true(jv));
        return true;
    case BRG_V_INT: {
        if (!json_is_integer(jv)) {
            return fail(d, where, "expected an integer for type \"int\", got %s", json_kind(jv));
        }
        int64_t v = json_integer_value(jv);
        int64_t hi = width == 64 ? INT64_MAX : (int64_t)((UINT64_C(1) << (width - 1)) - 1);
        int64_t lo = -hi - 1;
        if (v < lo || v > hi) {
            return fail(d, where, "%" PRId64 " is out of range for int width %d (%" PRId64
                        "..%" PRId64 ")",
                        v, (int)width, lo, hi);
        }
        *out = brg_value_int(v, (uint8_t)width);
        return true;
    }
    case BRG_V_UINT: {
        uint64_t max = width == 64 ? UINT64_MAX : (UINT64_C(1) << width) - 1;
        uint64_t u;
        if (!uint_value(d, jv, where, max, &u)) {
            return false;
        }
        *out = brg_value_uint(u, (uint8_t)width);
        return true;
    }
    case BRG_V_FLOAT: {
        double f;
        if (json_is_number(jv)) {
            f = json_number_value(jv);
        } else if (json_is_string(jv) && strcmp(json_string_value(jv), "NaN") == 0) {
            f = NAN;
        } else if (json_is_string(jv) && strcmp(json_string_value(jv), "Infinity") == 0) {
            f = INFINITY;
        } else if (json_is_string(jv) && strcmp(json_string_value(jv), "-Infinity") == 0) {
            f = -INFINITY;
        } else {
            return fail(d, where,
                        "expected a number, \"NaN\", \"Infinity\" or \"-Infinity\" for type "
                        "\"float\", got %s",
                        json_kind(jv));
        }
        if (width == 32) {
            if (isfinite(f) && fabs(f) > FLT_MAX) {
                return fail(d, where, "%g is out of range for float width 32", f);
            }
            f = (double)(float)f; /* what a 32-bit float can hold */
        }
        *out = brg_value_float(f, (uint8_t)width);
        return true;
    }
    case BRG_V_DECIMAL: {
        int64_t scale = 0, v = 0;
        bool has;
        if (!get_int(d, item, path, "scale", 0, 255, &scale, &has)) {
            return false;
        }
        if (!has) {
            return fail(d, path, "missing \"scale\" for type \"decimal\"");
        }
        if (!json_is_integer(jv)) {
            return fail(d, where, "expected an integer for type \"decimal\", got %s",
                        json_kind(jv));
        }
        v = json_integer_value(jv);
        if (v < INT32_MIN || v > INT32_MAX) {
            return fail(d, where, "%" PRId64 " is out of range for a decimal (32-bit value)", v);
        }
        *out = (brg_value_t){.type = BRG_V_DECIMAL};
        out->u.dec.scale = (uint8_t)scale;
        out->u.dec.value = (int32_t)v;
        return true;
    }
    case BRG_V_TIMESTAMP:
        if (!json_is_integer(jv)) {
            return fail(d, where,
                        "expected an integer (milliseconds) for type \"timestamp\", got %s",
                        json_kind(jv));
        }
        *out = brg_value_timestamp(json_integer_value(jv));
        return true;
    case BRG_V_UUID:
        if (jv) {
            uint8_t u[16];
            if (jb) {
                break; /* both: reported by get_bytes below */
            }
            if (!json_is_string(jv)) {
                return fail(d, where, "expected a string for type \"uuid\", got %s",
                            json_kind(jv));
            }
            if (!parse_uuid(json_string_value(jv), json_string_length(jv), u)) {
                return fail(d, where,
                            "\"%.40s\" is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
                            json_string_value(jv));
            }
            *out = brg_value_typed_bytes(BRG_V_UUID, u, 16);
            return true;
        }
        break;
    case BRG_V_STRING:
    case BRG_V_BYTES:
    case BRG_V_SYMBOL: break;
    case BRG_V_TABLE:
    case BRG_V_ARRAY: {
        if (!json_is_array(jv)) {
            return fail(d, where, "expected an array of %s for type \"%s\", got %s",
                        type == BRG_V_TABLE ? "named values" : "values", brg_vtype_name(type),
                        json_kind(jv));
        }
        if (depth >= BRG_JSON_MAX_DEPTH) {
            return fail(d, where, "tables and arrays nested deeper than %d levels",
                        BRG_JSON_MAX_DEPTH);
        }
        brg_fields_t *f = brg_fields_new();
        if (!decode_fields(d, jv, where, depth + 1, type == BRG_V_TABLE, f)) {
            brg_fields_destroy(f);
            return false;
        }
        *out = type == BRG_V_TABLE ? brg_value_table(f) : brg_value_array(f);
        return true;
    }
    }
    /* String-like types: value (text) or value_base64. */
    uint8_t *data;
    size_t len;
    if (!get_bytes(d, item, path, "value", true, &data, &len)) {
        return false;
    }
    *out = (brg_value_t){.type = type};
    out->u.bytes.data = data; /* get_bytes NUL-terminates, as brg_value_typed_bytes does */
    out->u.bytes.len = len;
    return true;
}

static const char *const named_members[] = {"name", "name_base64", "type", "width",
                                            "scale", "value", "value_base64", NULL};
static const char *const element_members[] = {"type", "width", "scale", "value", "value_base64",
                                              NULL};

static bool decode_item(dec_t *d, json_t *item, const char *path, int depth, bool named,
                        brg_fields_t *out)
{
    if (!json_is_object(item)) {
        return fail(d, path, "expected an object, got %s", json_kind(item));
    }
    if (!check_members(d, item, path, named ? named_members : element_members)) {
        return false;
    }
    json_t *jt = json_object_get(item, "type");
    char where[320];
    join(where, sizeof(where), path, "type");
    if (!jt) {
        return fail(d, path, "missing \"type\"");
    }
    if (!json_is_string(jt)) {
        return fail(d, where, "expected a string, got %s", json_kind(jt));
    }
    const char *tn = json_string_value(jt);
    const type_name_t *t = NULL;
    for (size_t i = 0; i < BRG_ARRAY_SIZE(type_names); i++) {
        if (strcmp(type_names[i].name, tn) == 0) {
            t = &type_names[i];
        }
    }
    if (!t) {
        return fail(d, where,
                    "unknown type \"%.40s\" (valid: string, bytes, int, uint, float, bool, "
                    "null, timestamp, decimal, symbol, uuid, table, array)",
                    tn);
    }
    uint8_t *name = NULL;
    size_t name_len = 0;
    if (named && !get_bytes(d, item, path, "name", true, &name, &name_len)) {
        return false;
    }
    brg_value_t v;
    if (!decode_value(d, item, path, depth, t->type, &v)) {
        free(name);
        return false;
    }
    brg_fields_add(out, (const char *)name, name_len, &v);
    free(name);
    return true;
}

static bool decode_fields(dec_t *d, json_t *arr, const char *path, int depth, bool named,
                          brg_fields_t *out)
{
    size_t i;
    json_t *item;
    json_array_foreach(arr, i, item) {
        char where[320];
        int n = snprintf(where, sizeof(where), "%s[%zu]", path, i);
        if (n < 0 || (size_t)n >= sizeof(where)) {
            memcpy(where + sizeof(where) - 4, "...", 4);
        }
        if (!decode_item(d, item, where, depth, named, out)) {
            return false;
        }
    }
    return true;
}

static const char *const prop_members[] = {
    "message_id",        "message_id_base64",     "correlation_id", "correlation_id_base64",
    "content_type",      "content_type_base64",   "content_encoding",
    "content_encoding_base64",                    "reply_to",       "reply_to_base64",
    "subject",           "subject_base64",        "user_id",        "user_id_base64",
    "app_id",            "app_id_base64",         "group_id",       "group_id_base64",
    "priority",          "durable",               "ttl_ms",         "timestamp_ms",
    "timestamp_type",    NULL};

static bool decode_props(dec_t *d, json_t *o, brg_props_t *p)
{
    const char *path = "properties";
    if (!json_is_object(o)) {
        return fail(d, path, "expected an object, got %s", json_kind(o));
    }
    if (!check_members(d, o, path, prop_members) ||
        !get_cstr(d, o, path, "message_id", &p->message_id) ||
        !get_cstr(d, o, path, "correlation_id", &p->correlation_id) ||
        !get_cstr(d, o, path, "content_type", &p->content_type) ||
        !get_cstr(d, o, path, "content_encoding", &p->content_encoding) ||
        !get_cstr(d, o, path, "reply_to", &p->reply_to) ||
        !get_cstr(d, o, path, "subject", &p->subject) ||
        !get_cstr(d, o, path, "user_id", &p->user_id) ||
        !get_cstr(d, o, path, "app_id", &p->app_id) ||
        !get_cstr(d, o, path, "group_id", &p->group_id)) {
        return false;
    }
    int64_t v;
    bool has;
    if (!get_int(d, o, path, "priority", 0, 255, &v, &has)) {
        return false;
    }
    if (has) {
        p->priority = (int)v;
    }
    if (!get_bool(d, o, path, "durable", &p->durable)) {
        return false;
    }
    if (!get_int(d, o, path, "ttl_ms", 0, INT64_MAX, &v, &has)) {
        return false;
    }
    if (has) {
        p->ttl_ms = v;
    }
    if (!get_int(d, o, path, "timestamp_ms", 0, INT64_MAX, &v, &has)) {
        return false;
    }
    if (has) {
        p->timestamp_ms = v;
    }
    json_t *tt = json_object_get(o, "timestamp_type");
    if (tt) {
        const char *s = json_is_string(tt) ? json_string_value(tt) : NULL;
        if (s && strcmp(s, "create_time") == 0) {
            p->timestamp_type = 1;
        } else if (s && strcmp(s, "log_append_time") == 0) {
            p->timestamp_type = 2;
        } else {
            return fail(d, "properties.timestamp_type",
                        "expected \"create_time\" or \"log_append_time\"");
        }
    }
    return true;
}

/* origin.adapter is a static string in the envelope: only names of adapters are kept. */
static const char *const adapter_names[] = {"memory", "file",     "stdio", "kafka",
                                            "rabbitmq", "amqp1", NULL};

static const char *const origin_members[] = {
    "adapter",  "adapter_base64",  "endpoint",    "endpoint_base64",    "stream",
    "stream_base64", "partition",  "offset",      "delivery_tag",       "exchange",
    "exchange_base64", "routing_key", "routing_key_base64", "redelivered", NULL};

static bool decode_origin(dec_t *d, json_t *o, brg_origin_t *g)
{
    const char *path = "origin";
    if (!json_is_object(o)) {
        return fail(d, path, "expected an object, got %s", json_kind(o));
    }
    char *adapter = NULL;
    if (!check_members(d, o, path, origin_members) ||
        !get_cstr(d, o, path, "adapter", &adapter)) {
        return false;
    }
    for (size_t i = 0; adapter && adapter_names[i]; i++) {
        if (strcmp(adapter, adapter_names[i]) == 0) {
            g->adapter = adapter_names[i];
        }
    }
    free(adapter);
    if (!get_cstr(d, o, path, "endpoint", &g->endpoint) ||
        !get_cstr(d, o, path, "stream", &g->stream) ||
        !get_cstr(d, o, path, "exchange", &g->exchange) ||
        !get_cstr(d, o, path, "routing_key", &g->routing_key)) {
        return false;
    }
    int64_t v;
    bool has;
    if (!get_int(d, o, path, "partition", 0, INT32_MAX, &v, &has)) {
        return false;
    }
    if (has) {
        g->partition = (int32_t)v;
    }
    if (!get_int(d, o, path, "offset", 0, INT64_MAX, &v, &has)) {
        return false;
    }
    if (has) {
        g->offset = v;
    }
    json_t *tag = json_object_get(o, "delivery_tag");
    if (tag && !uint_value(d, tag, "origin.delivery_tag", UINT64_MAX, &g->delivery_tag)) {
        return false;
    }
    int redelivered = 0;
    if (!get_bool(d, o, path, "redelivered", &redelivered)) {
        return false;
    }
    g->redelivered = redelivered == 1;
    return true;
}

static const char *const top_members[] = {"body",       "body_base64", "key",    "key_base64",
                                          "headers",    "properties",  "origin", NULL};

static bool decode_env(dec_t *d, json_t *root, brg_envelope_t *env)
{
    if (!json_is_object(root)) {
        return fail(d, NULL, "expected a JSON object, got %s", json_kind(root));
    }
    if (!check_members(d, root, "", top_members)) {
        return false;
    }
    uint8_t *data;
    size_t len;
    if (!get_bytes(d, root, "", "body", true, &data, &len)) {
        return false;
    }
    brg_envelope_take_body(env, data, len);
    if (!get_bytes(d, root, "", "key", false, &data, &len)) {
        return false;
    }
    if (data) {
        /* get_bytes already made a NUL-terminated copy, as brg_envelope_set_key would. */
        env->key = data;
        env->key_len = len;
    }
    json_t *h = json_object_get(root, "headers");
    if (h) {
        if (!json_is_array(h)) {
            return fail(d, "headers", "expected an array, got %s", json_kind(h));
        }
        if (!decode_fields(d, h, "headers", 0, true, &env->headers)) {
            return false;
        }
    }
    json_t *p = json_object_get(root, "properties");
    if (p && !decode_props(d, p, &env->props)) {
        return false;
    }
    json_t *g = json_object_get(root, "origin");
    if (g && !decode_origin(d, g, &env->origin)) {
        return false;
    }
    return true;
}

brg_err_t brg_json_decode(const char *line, size_t len, brg_envelope_t **envp, char *errstr,
                          size_t errstr_size)
{
    *envp = NULL;
    dec_t d = {errstr, errstr_size};
    json_error_t jerr;
    /* Duplicate members are refused: which one would win is a guess. NUL bytes inside JSON
     * strings are refused too: text never contains one (binary goes to *_base64). */
    json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        /* jansson counts columns in characters and reports 0 for an empty input. */
        brg_errfmt(errstr, errstr_size, "invalid JSON at column %d: %s",
                   jerr.column > 0 ? jerr.column : 1, jerr.text);
        return BRG_ERR_INVALID;
    }
    brg_envelope_t *env = brg_envelope_new();
    bool ok = decode_env(&d, root, env);
    json_decref(root);
    if (!ok) {
        brg_envelope_destroy(env);
        return BRG_ERR_INVALID;
    }
    *envp = env;
    return BRG_OK;
}
