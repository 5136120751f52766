/* Kafka record <-> envelope (see kafka_codec.h and docs/kafka.md). */
#include "adapters/kafka/kafka_codec.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/err.h"

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
            brg_envelope_set_str(env, prop_slot(&env->props, ph), val, n);
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
            /* Only "transient" is worth a header: every AMQP sink publishes a message of
             * unknown durability as persistent anyway, so a persistent message needs no
             * header, and a Kafka record that crossed RabbitMQ comes back without one. */
            if (p->durable == 0) {
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

/* The record's type hint: the first BRG_KAFKA_H_TYPES header that parses (*at is its index:
 * it types the headers after it and is not kept), or else the AMQP 1.0 adapter's older
 * BRG_KAFKA_H_AMQP_TYPES (*old set: it types headers anywhere and stays an ordinary header,
 * which the AMQP 1.0 sink drops). Returns: false if the record has neither. */
static bool find_hint(const rd_kafka_headers_t *hdrs, brg_kafka_hint_t *hint, size_t *at,
                      bool *old)
{
    const char *name;
    const void *val;
    size_t size;
    bool maybe_old = false;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == 0; i++) {
        if (strncmp(name, BRG_KAFKA_OWN_PREFIX, sizeof(BRG_KAFKA_OWN_PREFIX) - 1) != 0) {
            continue;
        }
        if (strcmp(name, BRG_KAFKA_H_TYPES) == 0 && val && brg_kafka_hint_parse(hint, val, size)) {
            *at = i;
            *old = false;
            return true;
        }
        maybe_old = maybe_old || strcmp(name, BRG_KAFKA_H_AMQP_TYPES) == 0;
    }
    if (maybe_old && rd_kafka_header_get(hdrs, 0, BRG_KAFKA_H_AMQP_TYPES, &val, &size) == 0 &&
        val && brg_kafka_hint_parse(hint, val, size)) {
        *at = SIZE_MAX;
        *old = true;
        return true;
    }
    return false;
}

/* Headers -> env->headers (typed as the hint says) and env->props (reserved headers). */
static void decode_headers(brg_envelope_t *env, const rd_kafka_headers_t *hdrs)
{
    brg_kafka_hint_t hint;
    size_t at = SIZE_MAX;
    bool old = false;
    bool typed = find_hint(hdrs, &hint, &at, &old);
    bool seen[BRG_ARRAY_SIZE(prop_headers)] = {false};
    const char *name;
    const void *val;
    size_t size;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == 0; i++) {
        if (typed && !old && i == at) {
            continue;
        }
        size_t name_len = strlen(name);
        const char *type;
        size_t type_len;
        brg_value_t v;
        if (typed && (old || i > at) &&
            brg_kafka_hint_take(&hint, name, name_len, &type, &type_len)) {
            /* A listed header is never a property; one whose value does not read as its
             * type (changed by someone on the way) is kept as it is. */
            if (!brg_kafka_value_parse(type, type_len, val, size, &v)) {
                v = !val ? brg_value_null() : brg_envelope_value(env, BRG_V_BYTES, val, size);
            }
        } else if ((!typed || old || i < at) && take_prop_header(env, name, val, size, seen)) {
            /* The sink writes the property headers before the hint: after it, a header of
             * such a name is the envelope's own. */
            continue;
        } else if (!val) {
            v = brg_value_null();
        } else if ((typed && !old) ||
                   strncmp(name, BRG_KAFKA_OWN_PREFIX, sizeof(BRG_KAFKA_OWN_PREFIX) - 1) == 0) {
            /* Unlisted in a hinted record, or msgbridge's own: text. */
            v = brg_envelope_value(env, BRG_V_STRING, val, size);
        } else {
            v = brg_envelope_value(env, BRG_V_BYTES, val, size);
        }
        /* Names and values in the envelope's arena: no allocation per header. */
        brg_envelope_add_header(env, name, name_len, &v);
    }
    if (typed) {
        brg_kafka_hint_fini(&hint);
    }
}

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
        decode_headers(env, rec->headers);
    }
    if (rec->tstype != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && rec->timestamp >= 0) {
        env->props.timestamp_ms = rec->timestamp;
        env->props.timestamp_type = rec->tstype == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME ? 2 : 1;
    }
    if (rec->topic) {
        brg_envelope_set_str(env, &env->origin.stream, rec->topic, strlen(rec->topic));
    }
    env->origin.partition = rec->partition;
    env->origin.offset = rec->offset;
    return env;
}

/* ---- encode -------------------------------------------------------------------------------- */

static bool same_name(const brg_field_t *a, const brg_field_t *b)
{
    size_t al = a->name ? a->name_len : 0, bl = b->name ? b->name_len : 0;
    return al == bl && (al == 0 || memcmp(a->name, b->name, al) == 0);
}

/* Write the BRG_KAFKA_H_TYPES header if a header needs a type: then every header but strings
 * and nulls is listed (unlisted ones read back as strings). When one header of a name is
 * listed, every header of that name is, so that the k-th entry for a name types the k-th
 * header of that name. The hint is written also when a header of the envelope has the hint's
 * own name, so that the first one in the record is always the hint. */
static void add_hint(rd_kafka_headers_t *h, const brg_fields_t *f)
{
    bool need = false;
    for (size_t i = 0; i < f->count && !need; i++) {
        const brg_field_t *fld = &f->items[i];
        need = brg_kafka_type_needs_hint(fld->name, fld->name ? fld->name_len : 0, &fld->value) ||
               (fld->name && fld->name_len == sizeof(BRG_KAFKA_H_TYPES) - 1 &&
                memcmp(fld->name, BRG_KAFKA_H_TYPES, fld->name_len) == 0);
    }
    if (!need) {
        return;
    }
    bool small[32];
    bool *listed = f->count <= 32 ? small : brg_xmalloc(f->count * sizeof(*listed));
    for (size_t i = 0; i < f->count; i++) {
        listed[i] = brg_kafka_type_listed(&f->items[i].value);
    }
    for (size_t i = 0; i < f->count; i++) {
        for (size_t j = 0; !listed[i] && j < f->count; j++) {
            listed[i] = listed[j] && j != i && same_name(&f->items[i], &f->items[j]);
        }
    }
    brg_kafka_hint_buf_t hint = {0};
    for (size_t i = 0; i < f->count; i++) {
        const brg_field_t *fld = &f->items[i];
        if (listed[i]) {
            brg_kafka_hint_add(&hint, fld->name ? fld->name : "", fld->name ? fld->name_len : 0,
                               &fld->value);
        }
    }
    rd_kafka_header_add(h, BRG_KAFKA_H_TYPES, -1, hint.p ? hint.p : "", (ssize_t)hint.len);
    free(hint.p);
    if (listed != small) {
        free(listed);
    }
}

rd_kafka_headers_t *brg_kafka_encode_headers(const brg_envelope_t *env)
{
    const brg_fields_t *f = &env->headers;
    rd_kafka_headers_t *h = rd_kafka_headers_new(f->count + 5);
    add_prop_headers(h, &env->props);

    /* The type hint, before the headers it types. */
    if (f->count) {
        add_hint(h, f);
    }

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
