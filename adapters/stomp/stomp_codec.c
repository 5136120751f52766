/* STOMP frame <-> envelope (see stomp_codec.h). */
#include "adapters/stomp/stomp_codec.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/file/base64.h"
#include "adapters/kafka/kafka_types.h"

/* Headers of the STOMP frame itself or of the broker, never envelope headers. */
static const char *const frame_headers[] = {
    "destination", "message-id", "subscription", "ack", "content-length", "content-type",
    "correlation-id", "reply-to", "expires", "priority", "persistent", "timestamp",
    "redelivered", "type", "JMSXGroupID", "receipt", "receipt-id", "transaction",
    BRG_STOMP_H_KEY, BRG_STOMP_H_TYPES, BRG_STOMP_H_BASE64, BRG_STOMP_H_MESSAGE_ID,
    BRG_STOMP_H_USER_ID, BRG_STOMP_H_APP_ID, BRG_STOMP_H_CONTENT_ENCODING, BRG_STOMP_H_GROUP_ID,
    BRG_STOMP_H_ABSENT, BRG_STOMP_H_ORDER, BRG_STOMP_H_TTL_MS,
};

static bool is_frame_header(const char *name, size_t len);

#define DUP_PREFIX "x-msgbridge-dup-"

/* The envelope header name of a wire name "x-msgbridge-dup-K-NAME" (the K-th occurrence of a
 * repeated NAME), or the wire name itself. */
static const char *real_name(const char *wire, size_t len, size_t *real_len)
{
    size_t pl = sizeof(DUP_PREFIX) - 1;
    if (len > pl && memcmp(wire, DUP_PREFIX, pl) == 0) {
        size_t i = pl;
        while (i < len && wire[i] >= '0' && wire[i] <= '9') {
            i++;
        }
        if (i > pl && i + 1 < len && wire[i] == '-') {
            *real_len = len - i - 1;
            return wire + i + 1;
        }
    }
    *real_len = len;
    return wire;
}

/* Append name to the order list, ',' and '%' percent-encoded. */
static void order_add(brg_stomp_buf_t *o, const char *name, size_t len)
{
    if (o->len) {
        brg_stomp_buf_append(o, ",", 1);
    }
    for (size_t i = 0; i < len; i++) {
        if (name[i] == ',' || name[i] == '%') {
            char e[4];
            snprintf(e, sizeof(e), "%%%02X", (unsigned char)name[i]);
            brg_stomp_buf_append(o, e, 3);
        } else {
            brg_stomp_buf_append(o, name + i, 1);
        }
    }
}

/* The frame's headers that are envelope headers (or the key), in the order the sender had
 * them: the order list first (each wire name once), then the others as they came.
 * Ownership: the caller frees the array; *n its length. */
static size_t *header_order(const brg_stomp_frame_t *f, const char *order, size_t *n)
{
    size_t *idx = brg_xcalloc(f->nheaders ? f->nheaders : 1, sizeof(*idx));
    bool *used = brg_xcalloc(f->nheaders ? f->nheaders : 1, sizeof(*used));
    size_t k = 0;
    for (size_t i = 0; i < f->nheaders; i++) {
        const brg_stomp_header_t *h = &f->headers[i];
        bool is_key = h->name_len == sizeof(BRG_STOMP_H_KEY) - 1 &&
                      memcmp(h->name, BRG_STOMP_H_KEY, h->name_len) == 0;
        used[i] = !is_key && is_frame_header(h->name, h->name_len);
    }
    char *name = order ? brg_xmalloc(strlen(order) + 1) : NULL;
    for (const char *p = order; p && *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p), nl = 0;
        for (size_t j = 0; j < l; j++) {
            unsigned v;
            if (p[j] == '%' && j + 2 < l + 1 && sscanf(p + j + 1, "%2x", &v) == 1) {
                name[nl++] = (char)v;
                j += 2;
            } else {
                name[nl++] = p[j];
            }
        }
        for (size_t i = 0; i < f->nheaders; i++) {
            if (!used[i] && f->headers[i].name_len == nl &&
                memcmp(f->headers[i].name, name, nl) == 0) {
                used[i] = true;
                idx[k++] = i;
                break;
            }
        }
        p = e ? e + 1 : NULL;
    }
    free(name);
    for (size_t i = 0; i < f->nheaders; i++) {
        if (!used[i]) {
            idx[k++] = i;
        }
    }
    free(used);
    *n = k;
    return idx;
}

/* Whether the comma-separated list has the item. */
static bool listed(const char *list, const char *item)
{
    size_t n = strlen(item);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && memcmp(p, item, n) == 0) {
            return true;
        }
        p = e ? e + 1 : NULL;
    }
    return false;
}

static bool is_frame_header(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(frame_headers) / sizeof(frame_headers[0]); i++) {
        if (strlen(frame_headers[i]) == len && memcmp(frame_headers[i], name, len) == 0) {
            return true;
        }
    }
    return false;
}

/* Whether a value can go as it is in a STOMP header: UTF-8 without NUL. */
static bool header_safe(const void *p, size_t len)
{
    return brg_utf8_is_text(p, len);
}

static bool parse_i64(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 19) {
        return false;
    }
    bool neg = s[0] == '-';
    int64_t v = 0;
    for (size_t i = neg ? 1 : 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (neg && len == 1) {
        return false;
    }
    *out = neg ? -v : v;
    return true;
}

/* The value of header h, base64-decoded if listed in b64. Returns: false on bad base64. */
static bool header_bytes(const brg_stomp_header_t *h, const char *name, size_t name_len,
                         brg_kafka_hint_t *b64, uint8_t **owned, const uint8_t **val, size_t *len)
{
    const char *t;
    size_t tl;
    *owned = NULL;
    if (b64 && brg_kafka_hint_take(b64, name, name_len, &t, &tl)) {
        char why[64];
        if (!brg_b64_decode(h->value, h->value_len, owned, len, why, sizeof(why))) {
            return false;
        }
        *val = *owned;
        return true;
    }
    *val = (const uint8_t *)h->value;
    *len = h->value_len;
    return true;
}

brg_err_t brg_stomp_decode(const brg_stomp_frame_t *f, brg_envelope_t *env, int64_t now_ms,
                           char *errstr, size_t errstr_size)
{
    brg_err_t rc = BRG_OK;
    brg_envelope_set_body(env, f->body, f->body_len);
    size_t len;
    const char *v;
    brg_kafka_hint_t hint, b64;
    bool has_hint = false, has_b64 = false;
    if ((v = brg_stomp_get(f, BRG_STOMP_H_TYPES, &len)) != NULL) {
        has_hint = brg_kafka_hint_parse(&hint, v, len);
    }
    if ((v = brg_stomp_get(f, BRG_STOMP_H_BASE64, &len)) != NULL) {
        has_b64 = brg_kafka_hint_parse(&b64, v, len);
    }
    brg_props_t *p = &env->props;
    int64_t n;
    const char *absent = brg_stomp_get(f, BRG_STOMP_H_ABSENT, NULL);
    if ((v = brg_stomp_get(f, "content-type", NULL)) != NULL) {
        brg_props_set(&p->content_type, v);
    }
    if ((v = brg_stomp_get(f, "correlation-id", NULL)) != NULL) {
        brg_props_set(&p->correlation_id, v);
    }
    if ((v = brg_stomp_get(f, "reply-to", NULL)) != NULL) {
        brg_props_set(&p->reply_to, v);
    }
    if ((v = brg_stomp_get(f, "type", NULL)) != NULL) {
        brg_props_set(&p->subject, v);
    }
    if ((v = brg_stomp_get(f, "JMSXGroupID", NULL)) != NULL ||
        (v = brg_stomp_get(f, BRG_STOMP_H_GROUP_ID, NULL)) != NULL) {
        brg_props_set(&p->group_id, v);
    }
    if ((v = brg_stomp_get(f, BRG_STOMP_H_USER_ID, NULL)) != NULL) {
        brg_props_set(&p->user_id, v);
    }
    if ((v = brg_stomp_get(f, BRG_STOMP_H_APP_ID, NULL)) != NULL) {
        brg_props_set(&p->app_id, v);
    }
    if ((v = brg_stomp_get(f, BRG_STOMP_H_CONTENT_ENCODING, NULL)) != NULL) {
        brg_props_set(&p->content_encoding, v);
    }
    if ((v = brg_stomp_get(f, BRG_STOMP_H_MESSAGE_ID, NULL)) != NULL ||
        (!listed(absent, "message-id") && (v = brg_stomp_get(f, "message-id", NULL)) != NULL)) {
        brg_props_set(&p->message_id, v);
    }
    if (!listed(absent, "priority") && (v = brg_stomp_get(f, "priority", &len)) != NULL &&
        parse_i64(v, len, &n) && n >= 0 && n <= 255) {
        p->priority = (int)n;
    }
    if (!listed(absent, "persistent") && (v = brg_stomp_get(f, "persistent", NULL)) != NULL) {
        p->durable = strcmp(v, "true") == 0 ? 1 : 0;
    }
    if (!listed(absent, "timestamp") && (v = brg_stomp_get(f, "timestamp", &len)) != NULL &&
        parse_i64(v, len, &n) && n > 0) {
        p->timestamp_ms = n;
    }
    /* expires is an absolute time (0: never); the envelope keeps what is left of it. */
    if ((v = brg_stomp_get(f, "expires", &len)) != NULL && parse_i64(v, len, &n) && n > 0) {
        p->ttl_ms = n > now_ms ? n - now_ms : 1;
    }
    /* msgbridge's own SEND also has the TTL as it was (a round trip keeps it exactly). */
    if ((v = brg_stomp_get(f, BRG_STOMP_H_TTL_MS, &len)) != NULL && parse_i64(v, len, &n) &&
        n >= 0) {
        p->ttl_ms = n;
    }
    if ((v = brg_stomp_get(f, "redelivered", NULL)) != NULL && strcmp(v, "true") == 0) {
        env->origin.redelivered = true;
    }
    if ((v = brg_stomp_get(f, "destination", NULL)) != NULL) {
        brg_props_set(&env->origin.stream, v);
    }
    /* ActiveMQ keeps neither the order of headers nor repeated names: msgbridge's SEND lists
     * the order in x-msgbridge-order and sends the k-th occurrence (k > 1) of a name as
     * x-msgbridge-dup-K-NAME. */
    const char *order = brg_stomp_get(f, BRG_STOMP_H_ORDER, NULL);
    size_t nidx;
    size_t *idx = header_order(f, order, &nidx);
    for (size_t ii = 0; ii < nidx; ii++) {
        const brg_stomp_header_t *h = &f->headers[idx[ii]];
        bool is_key = strcmp(h->name, BRG_STOMP_H_KEY) == 0 &&
                      h->name_len == sizeof(BRG_STOMP_H_KEY) - 1;
        size_t rl;
        const char *rn = order ? real_name(h->name, h->name_len, &rl) : h->name;
        if (!order) {
            rl = h->name_len;
        }
        if (h->name_len == 0 || !header_safe(h->name, h->name_len)) {
            /* STOMP header names are UTF-8 text: this one could not be sent on either. */
            if (rc == BRG_OK) {
                brg_errfmt(errstr, errstr_size, "a header name of %zu bytes that is not UTF-8 "
                           "text (or is empty, or holds a NUL)", h->name_len);
                rc = BRG_ERR_INVALID;
            }
            continue;
        }
        uint8_t *owned;
        const uint8_t *val;
        size_t vl;
        if (!header_bytes(h, rn, rl, has_b64 ? &b64 : NULL, &owned, &val, &vl)) {
            if (rc == BRG_OK) {
                brg_errfmt(errstr, errstr_size, "header \"%.80s\" listed in %s is not base64",
                           h->name, BRG_STOMP_H_BASE64);
                rc = BRG_ERR_INVALID;
            }
            continue;
        }
        if (is_key) {
            if (!env->key) {
                brg_envelope_set_key(env, val, vl);
            }
            free(owned);
            continue;
        }
        brg_value_t value;
        const char *t;
        size_t tl;
        bool typed = has_hint && brg_kafka_hint_take(&hint, rn, rl, &t, &tl);
        if (typed && tl == 4 && memcmp(t, "null", 4) == 0) {
            /* A STOMP header always has a value: the hint says it stands for none. */
            value = brg_value_null();
        } else if (typed && brg_kafka_value_parse(t, tl, val, vl, &value)) {
            /* typed as listed */
        } else if (owned || !header_safe(val, vl)) {
            /* Base64 on the wire, or a value that is not text. */
            value = brg_value_bytes(val, vl);
        } else {
            value = brg_value_string((const char *)val, vl);
        }
        brg_fields_add(&env->headers, rn, rl, &value);
        free(owned);
    }
    free(idx);
    if (has_hint) {
        brg_kafka_hint_fini(&hint);
    }
    if (has_b64) {
        brg_kafka_hint_fini(&b64);
    }
    return rc;
}


static void add_prop(brg_stomp_buf_t *b, const char *name, const char *v)
{
    if (v) {
        brg_stomp_enc_hdr(b, name, v);
    }
}

/* Whether another header has the name of header i. The hints type the k-th header of a name
 * with the k-th entry for it, so a repeated name is listed at every occurrence. */
static bool name_repeated(const brg_fields_t *h, size_t i)
{
    for (size_t j = 0; j < h->count; j++) {
        if (j != i && h->items[j].name_len == h->items[i].name_len &&
            memcmp(h->items[j].name, h->items[i].name, h->items[i].name_len) == 0) {
            return true;
        }
    }
    return false;
}

brg_err_t brg_stomp_encode(brg_stomp_buf_t *b, const brg_envelope_t *env,
                           const brg_stomp_encode_opts_t *o, char *errstr, size_t errstr_size)
{
    brg_stomp_buf_t hb = {0}; /* the envelope headers, written after the hints */
    brg_stomp_buf_t order = {0};
    brg_stomp_buf_t wn = {0}; /* a wire name */
    brg_kafka_hint_buf_t hint = {0}, b64 = {0};
    static const brg_value_t bytes_marker = {.type = BRG_V_BYTES};
    brg_err_t rc = BRG_OK;
    for (size_t i = 0; i < env->headers.count; i++) {
        const brg_field_t *fl = &env->headers.items[i];
        if (!header_safe(fl->name, fl->name_len) || fl->name_len == 0 ||
            is_frame_header(fl->name, fl->name_len)) {
            if (o->loss && o->loss(o->loss_ctx, "header.name")) {
                brg_errfmt(errstr, errstr_size,
                           "header \"%.80s\" cannot be a STOMP header (a frame header, or not "
                           "UTF-8 text)", fl->name);
                rc = BRG_ERR_INVALID;
                goto out;
            }
            continue;
        }
        size_t vl = 0;
        uint8_t *val = brg_kafka_value_bytes(&fl->value, &vl);
        bool repeated = name_repeated(&env->headers, i);
        size_t occurrence = 1;
        for (size_t j = 0; j < i; j++) {
            if (env->headers.items[j].name_len == fl->name_len &&
                memcmp(env->headers.items[j].name, fl->name, fl->name_len) == 0) {
                occurrence++;
            }
        }
        wn.len = 0;
        if (occurrence > 1) {
            char pre[48];
            int pl = snprintf(pre, sizeof(pre), DUP_PREFIX "%zu-", occurrence);
            brg_stomp_buf_append(&wn, pre, (size_t)pl);
        }
        brg_stomp_buf_append(&wn, fl->name, fl->name_len);
        order_add(&order, (const char *)wn.p, wn.len);
        if (brg_kafka_type_listed(&fl->value) || repeated || fl->value.type == BRG_V_NULL) {
            brg_kafka_hint_add(&hint, fl->name, fl->name_len, &fl->value);
        }
        if (repeated || (val && !header_safe(val, vl))) {
            size_t el;
            char *enc = brg_b64_encode(val ? (const void *)val : "", vl, &el);
            brg_kafka_hint_add(&b64, fl->name, fl->name_len, &bytes_marker);
            brg_stomp_enc_header(&hb, (const char *)wn.p, wn.len, enc, el, true);
            free(enc);
        } else {
            brg_stomp_enc_header(&hb, (const char *)wn.p, wn.len, val ? (const char *)val : "",
                                 vl, true);
        }
        free(val);
    }
    if (env->props.priority > 9 && o->loss && o->loss(o->loss_ctx, "priority")) {
        brg_errfmt(errstr, errstr_size, "priority %d is above STOMP's (JMS) 9",
                   env->props.priority);
        rc = BRG_ERR_INVALID;
        goto out;
    }

    brg_stomp_enc_begin(b, "SEND");
    brg_stomp_enc_hdr(b, "destination", o->destination);
    if (o->receipt) {
        brg_stomp_enc_hdr(b, "receipt", o->receipt);
    }
    const brg_props_t *p = &env->props;
    bool persistent = p->durable < 0 ? o->persistent : p->durable == 1;
    brg_stomp_enc_hdr(b, "persistent", persistent ? "true" : "false");
    add_prop(b, "content-type", p->content_type);
    add_prop(b, "correlation-id", p->correlation_id);
    add_prop(b, "reply-to", p->reply_to);
    add_prop(b, "type", p->subject);
    add_prop(b, "JMSXGroupID", p->group_id);
    add_prop(b, BRG_STOMP_H_GROUP_ID, p->group_id);
    add_prop(b, BRG_STOMP_H_MESSAGE_ID, p->message_id);
    add_prop(b, BRG_STOMP_H_USER_ID, p->user_id);
    add_prop(b, BRG_STOMP_H_APP_ID, p->app_id);
    add_prop(b, BRG_STOMP_H_CONTENT_ENCODING, p->content_encoding);
    char num[32];
    if (p->priority >= 0) {
        snprintf(num, sizeof(num), "%d", p->priority > 9 ? 9 : p->priority);
        brg_stomp_enc_hdr(b, "priority", num);
    }
    if (p->timestamp_ms >= 0) {
        snprintf(num, sizeof(num), "%" PRId64, p->timestamp_ms);
        brg_stomp_enc_hdr(b, "timestamp", num);
    }
    if (p->ttl_ms > 0) {
        snprintf(num, sizeof(num), "%" PRId64, o->now_ms + p->ttl_ms);
        brg_stomp_enc_hdr(b, "expires", num);
    }
    if (p->ttl_ms >= 0) {
        snprintf(num, sizeof(num), "%" PRId64, p->ttl_ms);
        brg_stomp_enc_hdr(b, BRG_STOMP_H_TTL_MS, num);
    }
    char absent[64] = "";
    if (p->priority < 0) {
        strcat(absent, ",priority");
    }
    if (!p->message_id) {
        strcat(absent, ",message-id");
    }
    if (p->timestamp_ms < 0) {
        strcat(absent, ",timestamp");
    }
    if (p->durable < 0) {
        strcat(absent, ",persistent");
    }
    if (absent[0]) {
        brg_stomp_enc_hdr(b, BRG_STOMP_H_ABSENT, absent + 1);
    }
    if (env->key) {
        if (header_safe(env->key, env->key_len)) {
            brg_stomp_enc_header(b, BRG_STOMP_H_KEY, sizeof(BRG_STOMP_H_KEY) - 1,
                                 (const char *)env->key, env->key_len, true);
        } else {
            size_t el;
            char *enc = brg_b64_encode(env->key, env->key_len, &el);
            brg_kafka_hint_add(&b64, BRG_STOMP_H_KEY, sizeof(BRG_STOMP_H_KEY) - 1,
                               &bytes_marker);
            brg_stomp_enc_header(b, BRG_STOMP_H_KEY, sizeof(BRG_STOMP_H_KEY) - 1, enc, el, true);
            free(enc);
        }
    }
    if (hint.len) {
        brg_stomp_enc_header(b, BRG_STOMP_H_TYPES, sizeof(BRG_STOMP_H_TYPES) - 1, hint.p, hint.len,
                             true);
    }
    if (b64.len) {
        brg_stomp_enc_header(b, BRG_STOMP_H_BASE64, sizeof(BRG_STOMP_H_BASE64) - 1, b64.p,
                             b64.len, true);
    }
    if (env->headers.count > 1) {
        brg_stomp_enc_header(b, BRG_STOMP_H_ORDER, sizeof(BRG_STOMP_H_ORDER) - 1,
                             (const char *)order.p, order.len, true);
    }
    brg_stomp_buf_append(b, hb.p, hb.len);
    brg_stomp_enc_end(b, env->body, env->body_len);
out:
    brg_stomp_buf_free(&hb);
    brg_stomp_buf_free(&order);
    brg_stomp_buf_free(&wn);
    free(hint.p);
    free(b64.p);
    return rc;
}
