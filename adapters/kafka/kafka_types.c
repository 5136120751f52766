/* Typed header values through Kafka: value text, the x-msgbridge-types hint, and reading both
 * back (see kafka_types.h and docs/kafka.md, "Header types"). */
#include "adapters/kafka/kafka_types.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/buf.h"
#include "bridge/envelope.h"
#include "bridge/utf8.h"
#include "bridge/err.h"

/* ---- type names ------------------------------------------------------------------------------ */

typedef enum tkind {
    T_UNKNOWN = 0,
    T_STRING,
    T_SYMBOL,
    T_BINARY,
    T_BOOLEAN,
    T_BYTE,
    T_SHORT,
    T_INT,
    T_LONG,
    T_UBYTE,
    T_USHORT,
    T_UINT,
    T_ULONG,
    T_FLOAT,
    T_DOUBLE,
    T_DECIMAL,
    T_TIMESTAMP,
    T_UUID,
    T_NULL,
    T_MAP,
    T_LIST,
} tkind_t;

static const char *const tnames[] = {
    [T_STRING] = "string",   [T_SYMBOL] = "symbol",       [T_BINARY] = "binary",
    [T_BOOLEAN] = "boolean", [T_BYTE] = "byte",           [T_SHORT] = "short",
    [T_INT] = "int",         [T_LONG] = "long",           [T_UBYTE] = "ubyte",
    [T_USHORT] = "ushort",   [T_UINT] = "uint",           [T_ULONG] = "ulong",
    [T_FLOAT] = "float",     [T_DOUBLE] = "double",       [T_DECIMAL] = "decimal",
    [T_TIMESTAMP] = "timestamp", [T_UUID] = "uuid",       [T_NULL] = "null",
    [T_MAP] = "map",         [T_LIST] = "list",
};

static tkind_t tkind_of(const char *s, size_t n)
{
    for (size_t k = T_STRING; k < BRG_ARRAY_SIZE(tnames); k++) {
        if (strlen(tnames[k]) == n && memcmp(tnames[k], s, n) == 0) {
            return (tkind_t)k;
        }
    }
    return T_UNKNOWN;
}

/* The type a value is listed as. */
static tkind_t tkind_for(const brg_value_t *v)
{
    switch (v->type) {
    case BRG_V_NULL: return T_NULL;
    case BRG_V_BOOL: return T_BOOLEAN;
    case BRG_V_INT:
        return v->width == 8 ? T_BYTE : v->width == 16 ? T_SHORT : v->width == 32 ? T_INT : T_LONG;
    case BRG_V_UINT:
        return v->width == 8    ? T_UBYTE
               : v->width == 16 ? T_USHORT
               : v->width == 32 ? T_UINT
                                : T_ULONG;
    case BRG_V_FLOAT: return v->width == 32 ? T_FLOAT : T_DOUBLE;
    case BRG_V_DECIMAL: return T_DECIMAL;
    case BRG_V_TIMESTAMP: return T_TIMESTAMP;
    case BRG_V_STRING: return T_STRING;
    case BRG_V_BYTES: return T_BINARY;
    case BRG_V_SYMBOL: return T_SYMBOL;
    case BRG_V_UUID: return v->u.bytes.len == 16 ? T_UUID : T_BINARY; /* written as it is */
    case BRG_V_TABLE: return T_MAP;
    case BRG_V_ARRAY: return T_LIST;
    }
    return T_BINARY;
}

/* ---- writing values -------------------------------------------------------------------------- */

/* The shortest "%.Ng" text that reads back as the same value (float: as the same float). */
static void put_float(brg_buf_t *b, double f, uint8_t width)
{
    if (isnan(f) || isinf(f)) {
        brg_buf_str(b, isnan(f) ? "nan" : (f < 0 ? "-inf" : "inf"));
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
    brg_buf_str(b, tmp);
}

/* AMQP 0-9-1 decimal: value / 10^scale, written out with exactly `scale` decimals. */
static void put_decimal(brg_buf_t *b, int32_t value, uint8_t scale)
{
    char digits[24];
    int64_t v = value;
    bool neg = v < 0;
    snprintf(digits, sizeof(digits), "%" PRId64, neg ? -v : v);
    size_t n = strlen(digits);
    if (neg) {
        brg_buf_str(b, "-");
    }
    if (scale == 0) {
        brg_buf_str(b, digits);
        return;
    }
    if (n <= scale) {
        brg_buf_str(b, "0.");
        for (size_t i = n; i < scale; i++) {
            brg_buf_str(b, "0");
        }
        brg_buf_str(b, digits);
        return;
    }
    brg_buf_add(b, digits, n - scale);
    brg_buf_str(b, ".");
    brg_buf_add(b, digits + n - scale, scale);
}

static void put_uuid(brg_buf_t *b, const uint8_t *u)
{
    for (int i = 0; i < 16; i++) {
        brg_buf_printf(b, "%02x", u[i]);
        if (i == 3 || i == 5 || i == 7 || i == 9) {
            brg_buf_str(b, "-");
        }
    }
}

/* A JSON string. Quotes, backslashes and control characters are escaped; UTF-8 text stays as
 * it is (readable); a byte that is not part of well-formed UTF-8 is written \u0080-\u00ff,
 * which msgbridge reads back as that single byte, so any bytes survive and the text stays
 * valid JSON (a plain JSON reader sees such a byte as the Latin-1 character of that code). */
static void put_json_string(brg_buf_t *b, const uint8_t *s, size_t n)
{
    brg_buf_str(b, "\"");
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\') {
            brg_buf_byte(b, '\\');
            brg_buf_byte(b, c);
            i++;
            continue;
        }
        if (c < 0x20 || c == 0x7f) {
            brg_buf_printf(b, "\\u%04x", c);
            i++;
            continue;
        }
        size_t len = brg_utf8_seq_len(s + i, n - i);
        if (len == 0) {
            brg_buf_printf(b, "\\u%04x", c);
            i++;
            continue;
        }
        brg_buf_add(b, s + i, len);
        i += len;
    }
    brg_buf_str(b, "\"");
}

static void put_value(brg_buf_t *b, const brg_value_t *v, bool nested);

static void put_fields(brg_buf_t *b, const brg_fields_t *f, bool object)
{
    brg_buf_str(b, object ? "{" : "[");
    for (size_t i = 0; f && i < f->count; i++) {
        if (i) {
            brg_buf_str(b, ",");
        }
        if (object) {
            const char *name = f->items[i].name ? f->items[i].name : "";
            put_json_string(b, (const uint8_t *)name, f->items[i].name ? f->items[i].name_len : 0);
            brg_buf_str(b, ":");
        }
        put_value(b, &f->items[i].value, true);
    }
    brg_buf_str(b, object ? "}" : "]");
}

/* Top-level values are written bare (a string is its bytes); nested ones as JSON values. */
static void put_value(brg_buf_t *b, const brg_value_t *v, bool nested)
{
    switch (v->type) {
    case BRG_V_NULL: brg_buf_str(b, "null"); break;
    case BRG_V_BOOL: brg_buf_str(b, v->u.b ? "true" : "false"); break;
    case BRG_V_INT: brg_buf_printf(b, "%" PRId64, v->u.i); break;
    case BRG_V_UINT: brg_buf_printf(b, "%" PRIu64, v->u.u); break;
    case BRG_V_FLOAT:
        if (nested && (isnan(v->u.f) || isinf(v->u.f))) {
            brg_buf_str(b, "\""); /* JSON has no nan or inf: a string */
            put_float(b, v->u.f, v->width);
            brg_buf_str(b, "\"");
        } else {
            put_float(b, v->u.f, v->width);
        }
        break;
    case BRG_V_DECIMAL: put_decimal(b, v->u.dec.value, v->u.dec.scale); break;
    case BRG_V_TIMESTAMP: brg_buf_printf(b, "%" PRId64, v->u.ts_ms); break;
    case BRG_V_UUID:
        if (v->u.bytes.len == 16) {
            if (nested) {
                brg_buf_str(b, "\"");
            }
            put_uuid(b, v->u.bytes.data);
            if (nested) {
                brg_buf_str(b, "\"");
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
            brg_buf_add(b, v->u.bytes.data, v->u.bytes.len);
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
    brg_buf_t b = {0};
    put_value(&b, v, false);
    /* brg_buf_steal never returns NULL: an empty string is an empty, non-null value. */
    return (uint8_t *)brg_buf_steal(&b, len);
}

/* ---- writing the hint ------------------------------------------------------------------------ */

static bool own_name(const char *name, size_t name_len)
{
    size_t pl = sizeof(BRG_KAFKA_OWN_PREFIX) - 1;
    return name && name_len >= pl && memcmp(name, BRG_KAFKA_OWN_PREFIX, pl) == 0;
}

bool brg_kafka_type_needs_hint(const char *name, size_t name_len, const brg_value_t *v)
{
    switch (tkind_for(v)) {
    case T_NULL: return false;                       /* a null header value */
    case T_BINARY: return own_name(name, name_len);  /* bytes unless "x-msgbridge-..." */
    case T_STRING: return !own_name(name, name_len); /* string if "x-msgbridge-..." */
    default: return true;
    }
}

bool brg_kafka_type_listed(const brg_value_t *v)
{
    tkind_t k = tkind_for(v);
    return k != T_NULL && k != T_STRING;
}

static void put_type(brg_buf_t *b, const brg_value_t *v)
{
    tkind_t k = tkind_for(v);
    brg_buf_str(b, tnames[k]);
    if (k == T_MAP || k == T_LIST) {
        brg_buf_str(b, "(");
        const brg_fields_t *f = v->u.fields;
        for (size_t i = 0; f && i < f->count; i++) {
            if (i) {
                brg_buf_str(b, ",");
            }
            put_type(b, &f->items[i].value);
        }
        brg_buf_str(b, ")");
    }
}

void brg_kafka_hint_add(brg_kafka_hint_buf_t *hb, const char *name, size_t name_len,
                        const brg_value_t *v)
{
    brg_buf_t b = {hb->p, hb->len, hb->cap};
    if (b.len) {
        brg_buf_str(&b, ",");
    }
    for (size_t i = 0; i < name_len; i++) {
        uint8_t c = (uint8_t)name[i];
        if (c == '%' || c == ',' || c == '=' || c < 0x20 || c == 0x7f) {
            brg_buf_printf(&b, "%%%02X", c);
        } else {
            brg_buf_byte(&b, c);
        }
    }
    brg_buf_str(&b, "=");
    put_type(&b, v);
    hb->p = b.data;
    hb->len = b.len;
    hb->cap = b.cap;
}

/* ---- reading the hint ------------------------------------------------------------------------ */

typedef struct tcur {
    const char *p, *end;
} tcur_t;

/* A type name: [a-z0-9_]+ (unknown names are skipped over, so that a hint from a newer
 * version still types the headers this version knows). Returns: its kind, T_UNKNOWN if none. */
static tkind_t read_tname(tcur_t *t, bool *any)
{
    const char *s = t->p;
    while (t->p < t->end &&
           ((*t->p >= 'a' && *t->p <= 'z') || (*t->p >= '0' && *t->p <= '9') || *t->p == '_')) {
        t->p++;
    }
    *any = t->p > s;
    return tkind_of(s, (size_t)(t->p - s));
}

static bool tpeek(const tcur_t *t, char c)
{
    return t->p < t->end && *t->p == c;
}

/* Skip one type with its parenthesized members, without recursion (a hint is untrusted input:
 * its nesting is bounded only where values are read, by BRG_KAFKA_MAX_DEPTH).
 * Returns: false if malformed. */
static bool skip_type(tcur_t *t)
{
    size_t depth = 0;
    for (;;) {
        bool any;
        read_tname(t, &any);
        if (!any) {
            return false;
        }
        if (tpeek(t, '(')) {
            t->p++;
            depth++;
            if (!tpeek(t, ')')) {
                continue; /* its first member */
            }
            t->p++; /* "map()" */
            depth--;
        }
        while (depth > 0 && tpeek(t, ')')) {
            t->p++;
            depth--;
        }
        if (depth == 0) {
            return true;
        }
        if (!tpeek(t, ',')) {
            return false;
        }
        t->p++;
    }
}

bool brg_kafka_hint_parse(brg_kafka_hint_t *h, const void *text, size_t len)
{
    h->entries = h->small;
    h->count = 0;
    size_t cap = BRG_ARRAY_SIZE(h->small);
    if (!text) {
        return false;
    }
    const char *p = text, *end = p + len;
    while (p < end) {
        const char *name = p;
        while (p < end && *p != '=' && *p != ',') {
            p++;
        }
        if (p == end || *p != '=') {
            goto bad;
        }
        tcur_t t = {p + 1, end};
        if (!skip_type(&t) || (t.p < end && *t.p != ',')) {
            goto bad;
        }
        if (h->count == cap) {
            cap *= 2;
            if (h->entries == h->small) {
                h->entries = brg_xmalloc(cap * sizeof(*h->entries));
                memcpy(h->entries, h->small, sizeof(h->small));
            } else {
                h->entries = brg_xrealloc(h->entries, cap * sizeof(*h->entries));
            }
        }
        h->entries[h->count++] = (brg_kafka_hint_entry_t){
            name, (size_t)(p - name), p + 1, (size_t)(t.p - (p + 1)), false};
        p = t.p < end ? t.p + 1 : end;
        if (t.p < end && p == end) {
            goto bad; /* a trailing ',' */
        }
    }
    return true;
bad:
    brg_kafka_hint_fini(h);
    return false;
}

void brg_kafka_hint_fini(brg_kafka_hint_t *h)
{
    if (h->entries && h->entries != h->small) {
        free(h->entries);
    }
    h->entries = h->small;
    h->count = 0;
}

/* Compare a percent-encoded entry name with a header name. */
static bool name_equal(const char *enc, size_t enc_len, const char *name, size_t name_len)
{
    size_t k = 0;
    for (size_t i = 0; i < enc_len; i++, k++) {
        char c = enc[i];
        if (c == '%' && i + 2 < enc_len && brg_hex_digit(enc[i + 1]) >= 0 &&
            brg_hex_digit(enc[i + 2]) >= 0) {
            c = (char)(brg_hex_digit(enc[i + 1]) << 4 | brg_hex_digit(enc[i + 2]));
            i += 2;
        }
        if (k >= name_len || name[k] != c) {
            return false;
        }
    }
    return k == name_len;
}

bool brg_kafka_hint_take(brg_kafka_hint_t *h, const char *name, size_t name_len,
                         const char **type, size_t *type_len)
{
    for (size_t i = 0; i < h->count; i++) {
        brg_kafka_hint_entry_t *e = &h->entries[i];
        if (!e->used && name_equal(e->name, e->name_len, name, name_len)) {
            e->used = true;
            *type = e->type;
            *type_len = e->type_len;
            return true;
        }
    }
    return false;
}

/* ---- reading values: scalars from text --------------------------------------------------------- */

/* Copy a short token NUL-terminated into tmp. Returns: false if empty or too long. */
static bool token(const void *s, size_t n, char *tmp, size_t size)
{
    if (n == 0 || n >= size) {
        return false;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return true;
}

/* A decimal integer in [lo, hi] (signed) with nothing around it. */
static bool parse_signed(const void *s, size_t n, int64_t lo, int64_t hi, int64_t *out)
{
    char tmp[32];
    if (!token(s, n, tmp, sizeof(tmp)) || !(tmp[0] == '-' || (tmp[0] >= '0' && tmp[0] <= '9'))) {
        return false;
    }
    char *end;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (*end || errno || end == tmp || v < lo || v > hi) {
        return false;
    }
    *out = v;
    return true;
}

static bool parse_unsigned(const void *s, size_t n, uint64_t hi, uint64_t *out)
{
    char tmp[32];
    if (!token(s, n, tmp, sizeof(tmp)) || tmp[0] < '0' || tmp[0] > '9') {
        return false;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(tmp, &end, 10);
    if (*end || errno || v > hi) {
        return false;
    }
    *out = v;
    return true;
}

static bool parse_float(const void *s, size_t n, bool single, double *out)
{
    char tmp[64];
    if (!token(s, n, tmp, sizeof(tmp)) || tmp[0] == ' ' || tmp[0] == '\t' || tmp[0] == '+') {
        return false;
    }
    char *end;
    double d = single ? (double)strtof(tmp, &end) : strtod(tmp, &end);
    if (*end) {
        return false;
    }
    *out = d;
    return true;
}

/* "-12.345" -> value -12345, scale 3 (the scale is the number of decimals written). */
static bool parse_decimal(const void *s, size_t n, brg_value_t *out)
{
    const char *p = s, *end = p + n;
    bool neg = p < end && *p == '-';
    p += neg;
    int64_t v = 0;
    int digits = 0, scale = 0;
    bool dot = false;
    for (; p < end; p++) {
        if (*p == '.' && !dot && digits > 0) {
            dot = true;
            continue;
        }
        if (*p < '0' || *p > '9') {
            return false;
        }
        v = v * 10 + (*p - '0');
        digits++;
        scale += dot;
        if (v > (int64_t)INT32_MAX + 1) {
            return false;
        }
    }
    if (digits == 0 || (dot && scale == 0) || scale > 255 || (!neg && v > INT32_MAX)) {
        return false;
    }
    out->type = BRG_V_DECIMAL;
    out->width = 0;
    out->u.dec.scale = (uint8_t)scale;
    out->u.dec.value = (int32_t)(neg ? -v : v);
    return true;
}

static bool parse_uuid(const void *s, size_t n, brg_value_t *out)
{
    const char *p = s;
    uint8_t u[16];
    if (n != 36) {
        return false;
    }
    for (size_t i = 0, k = 0; i < 36; k++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (p[i] != '-') {
                return false;
            }
            i++;
        }
        int hi = brg_hex_digit(p[i]), lo = brg_hex_digit(p[i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        u[k] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    *out = brg_value_typed_bytes(BRG_V_UUID, u, 16);
    return true;
}

/* A scalar of kind k from its text (the header value, or a JSON number or string inside a
 * table). Strings, symbols and binaries are the bytes themselves. */
static bool scalar_from_text(tkind_t k, const void *s, size_t n, brg_value_t *out)
{
    int64_t i;
    uint64_t u;
    double d;
    switch (k) {
    case T_STRING: *out = brg_value_typed_bytes(BRG_V_STRING, s, n); return true;
    case T_SYMBOL: *out = brg_value_typed_bytes(BRG_V_SYMBOL, s, n); return true;
    case T_BINARY: *out = brg_value_typed_bytes(BRG_V_BYTES, s, n); return true;
    case T_BOOLEAN:
        if (n == 4 && memcmp(s, "true", 4) == 0) {
            *out = brg_value_bool(true);
            return true;
        }
        if (n == 5 && memcmp(s, "false", 5) == 0) {
            *out = brg_value_bool(false);
            return true;
        }
        return false;
    case T_BYTE:
        return parse_signed(s, n, INT8_MIN, INT8_MAX, &i) && (*out = brg_value_int(i, 8), true);
    case T_SHORT:
        return parse_signed(s, n, INT16_MIN, INT16_MAX, &i) &&
               (*out = brg_value_int(i, 16), true);
    case T_INT:
        return parse_signed(s, n, INT32_MIN, INT32_MAX, &i) &&
               (*out = brg_value_int(i, 32), true);
    case T_LONG:
        return parse_signed(s, n, INT64_MIN, INT64_MAX, &i) &&
               (*out = brg_value_int(i, 64), true);
    case T_TIMESTAMP:
        return parse_signed(s, n, INT64_MIN, INT64_MAX, &i) &&
               (*out = brg_value_timestamp(i), true);
    case T_UBYTE: return parse_unsigned(s, n, UINT8_MAX, &u) && (*out = brg_value_uint(u, 8), true);
    case T_USHORT:
        return parse_unsigned(s, n, UINT16_MAX, &u) && (*out = brg_value_uint(u, 16), true);
    case T_UINT:
        return parse_unsigned(s, n, UINT32_MAX, &u) && (*out = brg_value_uint(u, 32), true);
    case T_ULONG:
        return parse_unsigned(s, n, UINT64_MAX, &u) && (*out = brg_value_uint(u, 64), true);
    case T_FLOAT: return parse_float(s, n, true, &d) && (*out = brg_value_float(d, 32), true);
    case T_DOUBLE: return parse_float(s, n, false, &d) && (*out = brg_value_float(d, 64), true);
    case T_DECIMAL: return parse_decimal(s, n, out);
    case T_UUID: return parse_uuid(s, n, out);
    case T_NULL: /* only as a null header value or a JSON null */
    case T_MAP:
    case T_LIST:
    case T_UNKNOWN: return false;
    }
    return false;
}

/* ---- reading values: JSON inside tables and arrays ------------------------------------------- */

typedef struct jcur {
    const uint8_t *p, *end;
} jcur_t;

static void jws(jcur_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) {
        j->p++;
    }
}

static bool jeat(jcur_t *j, char c)
{
    jws(j);
    if (j->p < j->end && *j->p == (uint8_t)c) {
        j->p++;
        return true;
    }
    return false;
}

static bool jlit(jcur_t *j, const char *lit)
{
    size_t n = strlen(lit);
    jws(j);
    if ((size_t)(j->end - j->p) >= n && memcmp(j->p, lit, n) == 0) {
        j->p += n;
        return true;
    }
    return false;
}

static bool jhex4(jcur_t *j, uint32_t *cp)
{
    if (j->end - j->p < 4) {
        return false;
    }
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = brg_hex_digit((char)j->p[i]);
        if (h < 0) {
            return false;
        }
        v = v << 4 | (uint32_t)h;
    }
    j->p += 4;
    *cp = v;
    return true;
}

/* A JSON string into b (b->data is set even when empty). \u0000-\u00ff are single bytes (the
 * writer's convention for bytes that are not UTF-8, see put_json_string); other escapes
 * become UTF-8. */
static bool jstring(jcur_t *j, brg_buf_t *b)
{
    if (!jeat(j, '"')) {
        return false;
    }
    brg_buf_add(b, "", 0);
    while (j->p < j->end) {
        uint8_t c = *j->p++;
        if (c == '"') {
            return true;
        }
        if (c != '\\') {
            brg_buf_byte(b, c);
            continue;
        }
        if (j->p == j->end) {
            return false;
        }
        c = *j->p++;
        uint32_t cp;
        switch (c) {
        case '"':
        case '\\':
        case '/': brg_buf_byte(b, c); break;
        case 'b': brg_buf_byte(b, '\b'); break;
        case 'f': brg_buf_byte(b, '\f'); break;
        case 'n': brg_buf_byte(b, '\n'); break;
        case 'r': brg_buf_byte(b, '\r'); break;
        case 't': brg_buf_byte(b, '\t'); break;
        case 'u':
            if (!jhex4(j, &cp)) {
                return false;
            }
            if (cp <= 0xff) {
                brg_buf_byte(b, (uint8_t)cp);
                break;
            }
            if (cp >= 0xd800 && cp <= 0xdbff && j->end - j->p >= 6 && j->p[0] == '\\' &&
                j->p[1] == 'u') {
                jcur_t save = *j;
                uint32_t lo;
                j->p += 2;
                if (jhex4(j, &lo) && lo >= 0xdc00 && lo <= 0xdfff) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                } else {
                    *j = save;
                }
            }
            char u[4];
            brg_buf_add(b, u, brg_utf8_encode(cp, u));
            break;
        default: return false;
        }
    }
    return false;
}

/* A JSON number's text (validated later by the scalar parser of the expected type). */
static bool jnumber(jcur_t *j, const uint8_t **s, size_t *n)
{
    jws(j);
    *s = j->p;
    while (j->p < j->end && ((*j->p >= '0' && *j->p <= '9') || *j->p == '-' || *j->p == '+' ||
                             *j->p == '.' || *j->p == 'e' || *j->p == 'E')) {
        j->p++;
    }
    *n = (size_t)(j->p - *s);
    return *n > 0;
}

/* One value of type t->p.. from JSON. */
static bool json_typed(tcur_t *t, jcur_t *j, brg_value_t *out, int depth)
{
    bool any;
    tkind_t k = read_tname(t, &any);
    if (depth > BRG_KAFKA_MAX_DEPTH) {
        return false;
    }
    if (k == T_MAP || k == T_LIST) {
        bool map = k == T_MAP;
        if (!tpeek(t, '(') || !jeat(j, map ? '{' : '[')) {
            return false;
        }
        t->p++;
        brg_fields_t *f = brg_fields_new();
        brg_buf_t name = {0};
        bool ok = false;
        if (tpeek(t, ')')) {
            t->p++;
            ok = jeat(j, map ? '}' : ']');
        } else {
            for (;;) {
                brg_value_t v;
                name.len = 0;
                if ((map && (!jstring(j, &name) || !jeat(j, ':'))) ||
                    !json_typed(t, j, &v, depth + 1)) {
                    break;
                }
                brg_fields_add(f, map ? name.data : NULL, map ? name.len : 0, &v);
                if (tpeek(t, ')')) {
                    t->p++;
                    ok = jeat(j, map ? '}' : ']');
                    break;
                }
                if (!tpeek(t, ',') || !jeat(j, ',')) {
                    break;
                }
                t->p++;
            }
        }
        free(name.data);
        if (!ok) {
            brg_fields_destroy(f);
            return false;
        }
        *out = map ? brg_value_table(f) : brg_value_array(f);
        return true;
    }
    if (tpeek(t, '(')) {
        return false;
    }
    const uint8_t *s;
    size_t n;
    switch (k) {
    case T_NULL:
        if (!jlit(j, "null")) {
            return false;
        }
        *out = brg_value_null();
        return true;
    case T_BOOLEAN:
        if (jlit(j, "true")) {
            *out = brg_value_bool(true);
            return true;
        }
        if (jlit(j, "false")) {
            *out = brg_value_bool(false);
            return true;
        }
        return false;
    case T_STRING:
    case T_SYMBOL:
    case T_BINARY:
    case T_UUID:
    case T_FLOAT:
    case T_DOUBLE: {
        jws(j);
        if ((k == T_FLOAT || k == T_DOUBLE) && !(j->p < j->end && *j->p == '"')) {
            return jnumber(j, &s, &n) && scalar_from_text(k, s, n, out);
        }
        brg_buf_t b = {0};
        bool ok = jstring(j, &b) && scalar_from_text(k, b.data, b.len, out);
        free(b.data);
        return ok;
    }
    case T_UNKNOWN:
    case T_MAP:
    case T_LIST: return false;
    default: return jnumber(j, &s, &n) && scalar_from_text(k, s, n, out);
    }
}

bool brg_kafka_value_parse(const char *type, size_t type_len, const void *val, size_t len,
                           brg_value_t *out)
{
    tcur_t t = {type, type + type_len};
    bool any;
    tkind_t k = read_tname(&t, &any);
    if (!val) {
        /* A null header value is a null whatever the hint says it was. */
        if (k == T_NULL && t.p == t.end) {
            *out = brg_value_null();
            return true;
        }
        return false;
    }
    if (k == T_MAP || k == T_LIST) {
        t.p = type;
        jcur_t j = {val, (const uint8_t *)val + len};
        brg_value_t v;
        if (!json_typed(&t, &j, &v, 0)) {
            return false;
        }
        jws(&j);
        if (t.p != t.end || j.p != j.end) {
            brg_value_fini(&v);
            return false;
        }
        *out = v;
        return true;
    }
    return t.p == t.end && scalar_from_text(k, val, len, out);
}
