/* Kafka record <-> envelope (see kafka_codec.h and docs/kafka.md). */
#include "adapters/kafka/kafka_codec.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/err.h"

/* ---- a growable byte buffer ---------------------------------------------------------------- */

typedef struct kbuf {
    uint8_t *p;
    size_t len, cap;
} kbuf_t;

static void kb_add(kbuf_t *b, const void *data, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 32;
        while (ncap < b->len + n + 1) {
            ncap *= 2;
        }
        b->p = brg_xrealloc(b->p, ncap);
        b->cap = ncap;
    }
    if (n) {
        memcpy(b->p + b->len, data, n);
    }
    b->len += n;
    b->p[b->len] = '\0';
}

static void kb_str(kbuf_t *b, const char *s)
{
    kb_add(b, s, strlen(s));
}

static void kb_printf(kbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void kb_printf(kbuf_t *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    kb_add(b, tmp, n < 0 ? 0 : ((size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1));
}

/* ---- header values as bytes ---------------------------------------------------------------- */

/* The shortest "%.Ng" text that reads back as the same double (15 digits usually suffice). */
static void put_float(kbuf_t *b, double f, uint8_t width)
{
    if (isnan(f) || isinf(f)) {
        kb_str(b, isnan(f) ? "nan" : (f < 0 ? "-inf" : "inf"));
        return;
    }
    char tmp[40];
    if (width == 32) {
        float x = (float)f;
        for (int prec = 6; prec <= 9; prec++) {
            snprintf(tmp, sizeof(tmp), "%.*g", prec, (double)x);
            if (strtof(tmp, NULL) == x) {
                break;
            }
        }
    } else {
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(tmp, sizeof(tmp), "%.*g", prec, f);
            if (strtod(tmp, NULL) == f) {
                break;
            }
        }
    }
    kb_str(b, tmp);
}

/* AMQP 0-9-1 decimal: value / 10^scale, written out ("-12.345"). */
static void put_decimal(kbuf_t *b, int32_t value, uint8_t scale)
{
    char digits[24];
    int64_t v = value;
    bool neg = v < 0;
    snprintf(digits, sizeof(digits), "%" PRId64, neg ? -v : v);
    size_t n = strlen(digits);
    if (neg) {
        kb_str(b, "-");
    }
    if (scale == 0) {
        kb_str(b, digits);
        return;
    }
    if (n <= scale) {
        kb_str(b, "0.");
        for (size_t i = n; i < scale; i++) {
            kb_str(b, "0");
        }
        kb_str(b, digits);
        return;
    }
    kb_add(b, digits, n - scale);
    kb_str(b, ".");
    kb_add(b, digits + n - scale, scale);
}

static void put_uuid(kbuf_t *b, const uint8_t *u)
{
    for (int i = 0; i < 16; i++) {
        kb_printf(b, "%02x", u[i]);
        if (i == 3 || i == 5 || i == 7 || i == 9) {
            kb_str(b, "-");
        }
    }
}

/* A JSON string: quotes, backslash and control characters escaped; other bytes as they are
 * (UTF-8 text stays readable). */
static void put_json_string(kbuf_t *b, const uint8_t *s, size_t n)
{
    kb_str(b, "\"");
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\') {
            kb_add(b, "\\", 1);
            kb_add(b, &c, 1);
        } else if (c < 0x20) {
            kb_printf(b, "\\u%04x", c);
        } else {
            kb_add(b, &c, 1);
        }
    }
    kb_str(b, "\"");
}

static void put_value(kbuf_t *b, const brg_value_t *v, bool nested);

static void put_fields(kbuf_t *b, const brg_fields_t *f, bool object)
{
    kb_str(b, object ? "{" : "[");
    for (size_t i = 0; f && i < f->count; i++) {
        if (i) {
            kb_str(b, ",");
        }
        if (object) {
            const char *name = f->items[i].name ? f->items[i].name : "";
            put_json_string(b, (const uint8_t *)name, f->items[i].name ? f->items[i].name_len : 0);
            kb_str(b, ":");
        }
        put_value(b, &f->items[i].value, true);
    }
    kb_str(b, object ? "}" : "]");
}

/* Top-level values are written bare (a string is its bytes); nested ones as JSON values. */
static void put_value(kbuf_t *b, const brg_value_t *v, bool nested)
{
    switch (v->type) {
    case BRG_V_NULL: kb_str(b, "null"); break;
    case BRG_V_BOOL: kb_str(b, v->u.b ? "true" : "false"); break;
    case BRG_V_INT: kb_printf(b, "%" PRId64, v->u.i); break;
    case BRG_V_UINT: kb_printf(b, "%" PRIu64, v->u.u); break;
    case BRG_V_FLOAT:
        if (nested && (isnan(v->u.f) || isinf(v->u.f))) {
            kb_str(b, "\"");
            put_float(b, v->u.f, v->width);
            kb_str(b, "\"");
        } else {
            put_float(b, v->u.f, v->width);
        }
        break;
    case BRG_V_DECIMAL: put_decimal(b, v->u.dec.value, v->u.dec.scale); break;
    case BRG_V_TIMESTAMP: kb_printf(b, "%" PRId64, v->u.ts_ms); break;
    case BRG_V_UUID:
        if (v->u.bytes.len == 16) {
            if (nested) {
                kb_str(b, "\"");
            }
            put_uuid(b, v->u.bytes.data);
            if (nested) {
                kb_str(b, "\"");
            }
            break;
        }
        /* fall through - not 16 bytes: written as they are */
    case BRG_V_STRING:
    case BRG_V_BYTES:
    case BRG_V_SYMBOL:
        if (nested) {
            put_json_string(b, v->u.bytes.data, v->u.bytes.len);
        } else {
            kb_add(b, v->u.bytes.data, v->u.bytes.len);
        }
        break;
    case BRG_V_TABLE: put_fields(b, v->u.fields, true); break;
    case BRG_V_ARRAY: put_fields(b, v->u.fields, false); break;
    }
}

uint8_t *brg_kafka_value_bytes(const brg_value_t *v, size_t *len)
{
    if (v->type == BRG_V_NULL) {
        *len = 0;
        return NULL;
    }
    kbuf_t b = {0};
    put_value(&b, v, false);
    if (!b.p) {
        kb_add(&b, "", 0); /* an empty string is an empty, non-null value */
    }
    *len = b.len;
    return b.p;
}

/* ---- reserved property headers ------------------------------------------------------------ */

typedef enum { P_STR, P_PRIORITY, P_DURABLE, P_TTL } ptype_t;

typedef struct prop_header {
    const char *name;
    ptype_t type;
    size_t str_off; /* offsetof(brg_props_t, field) for P_STR */
} prop_header_t;

static const prop_header_t prop_headers[] = {
    {BRG_KAFKA_H_MESSAGE_ID, P_STR, offsetof(brg_props_t, message_id)},
    {BRG_KAFKA_H_CORRELATION_ID, P_STR, offsetof(brg_props_t, correlation_id)},
    {BRG_KAFKA_H_CONTENT_TYPE, P_STR, offsetof(brg_props_t, content_type)},
    {BRG_KAFKA_H_CONTENT_ENCODING, P_STR, offsetof(brg_props_t, content_encoding)},
    {BRG_KAFKA_H_REPLY_TO, P_STR, offsetof(brg_props_t, reply_to)},
    {BRG_KAFKA_H_SUBJECT, P_STR, offsetof(brg_props_t, subject)},
    {BRG_KAFKA_H_USER_ID, P_STR, offsetof(brg_props_t, user_id)},
    {BRG_KAFKA_H_APP_ID, P_STR, offsetof(brg_props_t, app_id)},
    {BRG_KAFKA_H_GROUP_ID, P_STR, offsetof(brg_props_t, group_id)},
    {BRG_KAFKA_H_PRIORITY, P_PRIORITY, 0},
    {BRG_KAFKA_H_DURABLE, P_DURABLE, 0},
    {BRG_KAFKA_H_TTL_MS, P_TTL, 0},
};

static char **prop_slot(brg_props_t *p, const prop_header_t *ph)
{
    return (char **)((char *)p + ph->str_off);
}

/* Parse a decimal integer in [lo, hi] from exactly n bytes. */
static bool parse_int(const void *data, size_t n, int64_t lo, int64_t hi, int64_t *out)
{
    if (n == 0 || n > 20) {
        return false;
    }
    char tmp[24];
    memcpy(tmp, data, n);
    tmp[n] = '\0';
    char *end;
    long long v = strtoll(tmp, &end, 10);
    if (*end || (tmp[0] != '-' && (tmp[0] < '0' || tmp[0] > '9')) || v < lo || v > hi) {
        return false;
    }
    *out = v;
    return true;
}

/* If name is a reserved header not yet seen, store its value in env->props.
 * Returns: true if consumed (the header is not kept as an ordinary header). A value that does
 * not fit (a NUL byte in a string, a priority out of range) stays an ordinary header. */
static bool take_prop_header(brg_envelope_t *env, const char *name, const void *val, size_t n,
                             bool *seen)
{
    if (strncmp(name, "x-msgbridge-", 12) != 0 || !val) {
        return false;
    }
    for (size_t i = 0; i < BRG_ARRAY_SIZE(prop_headers); i++) {
        const prop_header_t *ph = &prop_headers[i];
        if (strcmp(name, ph->name) != 0) {
            continue;
        }
        if (seen[i]) {
            return false;
        }
        int64_t x;
        switch (ph->type) {
        case P_STR:
            if (memchr(val, '\0', n)) {
                return false;
            }
            *prop_slot(&env->props, ph) = brg_xstrndup(val, n);
            break;
        case P_PRIORITY:
            if (!parse_int(val, n, 0, 255, &x)) {
                return false;
            }
            env->props.priority = (int)x;
            break;
        case P_DURABLE:
            if (!parse_int(val, n, 0, 1, &x)) {
                return false;
            }
            env->props.durable = (int)x;
            break;
        case P_TTL:
            if (!parse_int(val, n, 0, INT64_MAX, &x)) {
                return false;
            }
            env->props.ttl_ms = x;
            break;
        }
        seen[i] = true;
        return true;
    }
    return false;
}

static void add_prop_headers(rd_kafka_headers_t *h, const brg_props_t *p)
{
    char num[32];
    for (size_t i = 0; i < BRG_ARRAY_SIZE(prop_headers); i++) {
        const prop_header_t *ph = &prop_headers[i];
        const char *val = NULL;
        switch (ph->type) {
        case P_STR: val = *prop_slot((brg_props_t *)p, ph); break;
        case P_PRIORITY:
            if (p->priority >= 0) {
                snprintf(num, sizeof(num), "%d", p->priority);
                val = num;
            }
            break;
        case P_DURABLE:
            if (p->durable >= 0) {
                snprintf(num, sizeof(num), "%d", p->durable);
                val = num;
            }
            break;
        case P_TTL:
            if (p->ttl_ms >= 0) {
                snprintf(num, sizeof(num), "%" PRId64, p->ttl_ms);
                val = num;
            }
            break;
        }
        if (val) {
            rd_kafka_header_add(h, ph->name, -1, val, (ssize_t)strlen(val));
        }
    }
}

/* ---- decode -------------------------------------------------------------------------------- */

void brg_kafka_record_from_message(brg_kafka_record_t *rec, const rd_kafka_message_t *rkm)
{
    memset(rec, 0, sizeof(*rec));
    rec->topic = rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : NULL;
    rec->partition = rkm->partition;
    rec->offset = rkm->offset;
    rec->key = rkm->key;
    rec->key_len = rkm->key_len;
    rec->value = rkm->payload;
    rec->value_len = rkm->len;
    rd_kafka_headers_t *h = NULL;
    /* The headers are parsed lazily by librdkafka and stay owned by the message. */
    if (rd_kafka_message_headers(rkm, &h) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rec->headers = h;
    }
    rec->timestamp = rd_kafka_message_timestamp(rkm, &rec->tstype);
}

brg_envelope_t *brg_kafka_decode(const brg_kafka_record_t *rec, brg_body_free_cb *body_free,
                                 void *opaque)
{
    brg_envelope_t *env = brg_envelope_new();
    if (body_free) {
        brg_envelope_set_body_ref(env, rec->value, rec->value ? rec->value_len : 0, body_free,
                                  opaque);
    } else if (rec->value) {
        brg_envelope_set_body(env, rec->value, rec->value_len);
    }
    if (rec->key) {
        brg_envelope_set_key(env, rec->key, rec->key_len);
    }
    if (rec->headers) {
        bool seen[BRG_ARRAY_SIZE(prop_headers)] = {false};
        const char *name;
        const void *val;
        size_t size;
        for (size_t i = 0;
             rd_kafka_header_get_all(rec->headers, i, &name, &val, &size) == 0; i++) {
            if (take_prop_header(env, name, val, size, seen)) {
                continue;
            }
            brg_value_t v = val ? brg_value_bytes(val, size) : brg_value_null();
            brg_fields_add(&env->headers, name, strlen(name), &v);
        }
    }
    if (rec->tstype != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && rec->timestamp >= 0) {
        env->props.timestamp_ms = rec->timestamp;
        env->props.timestamp_type = rec->tstype == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME ? 2 : 1;
    }
    if (rec->topic) {
        env->origin.stream = brg_xstrdup(rec->topic);
    }
    env->origin.partition = rec->partition;
    env->origin.offset = rec->offset;
    return env;
}

/* ---- encode -------------------------------------------------------------------------------- */

rd_kafka_headers_t *brg_kafka_encode_headers(const brg_envelope_t *env)
{
    const brg_fields_t *f = &env->headers;
    rd_kafka_headers_t *h = rd_kafka_headers_new(f->count + 4);
    add_prop_headers(h, &env->props);
    for (size_t i = 0; i < f->count; i++) {
        const brg_field_t *fld = &f->items[i];
        const brg_value_t *v = &fld->value;
        const char *name = fld->name ? fld->name : "";
        ssize_t name_len = fld->name ? (ssize_t)fld->name_len : 0;
        if (v->type == BRG_V_STRING || v->type == BRG_V_BYTES || v->type == BRG_V_SYMBOL) {
            /* The common case: no conversion, librdkafka copies the bytes once. */
            rd_kafka_header_add(h, name, name_len, v->u.bytes.data, (ssize_t)v->u.bytes.len);
            continue;
        }
        size_t len;
        uint8_t *bytes = brg_kafka_value_bytes(v, &len);
        rd_kafka_header_add(h, name, name_len, bytes, bytes ? (ssize_t)len : 0);
        free(bytes);
    }
    if (rd_kafka_header_cnt(h) == 0) {
        rd_kafka_headers_destroy(h);
        return NULL;
    }
    return h;
}
