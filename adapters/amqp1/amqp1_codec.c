/* AMQP 1.0 message <-> envelope. See amqp1_codec.h and docs/amqp1.md for the mapping. */
#include "adapters/amqp1/amqp1_codec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/utf8.h"

/* ---- typed values ------------------------------------------------------------------------ */

/* A map key as a field name. Keys of application properties are strings by the spec; other
 * maps may use symbols or integers, which are rendered as text. Returns: false for a key type
 * that has no sensible text (it is then skipped by the caller). */
static bool key_text(pn_data_t *data, char *buf, size_t size, const char **name, size_t *len)
{
    pn_bytes_t b;
    switch (pn_data_type(data)) {
    case PN_STRING:
        b = pn_data_get_string(data);
        break;
    case PN_SYMBOL:
        b = pn_data_get_symbol(data);
        break;
    case PN_ULONG:
        snprintf(buf, size, "%" PRIu64, pn_data_get_ulong(data));
        b = pn_bytes(strlen(buf), buf);
        break;
    case PN_LONG:
        snprintf(buf, size, "%" PRId64, pn_data_get_long(data));
        b = pn_bytes(strlen(buf), buf);
        break;
    case PN_UINT:
        snprintf(buf, size, "%" PRIu32, pn_data_get_uint(data));
        b = pn_bytes(strlen(buf), buf);
        break;
    case PN_INT:
        snprintf(buf, size, "%" PRId32, pn_data_get_int(data));
        b = pn_bytes(strlen(buf), buf);
        break;
    default:
        return false;
    }
    *name = b.start ? b.start : "";
    *len = b.size;
    return true;
}

/* Read `count` child nodes of the current compound node into a fields list. Map children come
 * in key/value pairs. */
static brg_err_t get_children(pn_data_t *data, size_t count, bool is_map, brg_fields_t *out,
                              int depth, char *errstr, size_t errstr_size)
{
    if (!pn_data_enter(data)) {
        return BRG_OK;
    }
    brg_err_t rc = BRG_OK;
    size_t step = is_map ? 2 : 1;
    for (size_t i = 0; i + step <= count; i += step) {
        const char *name = NULL;
        size_t name_len = 0;
        char kbuf[32];
        bool keep = true;
        if (is_map) {
            if (!pn_data_next(data)) {
                break;
            }
            keep = key_text(data, kbuf, sizeof(kbuf), &name, &name_len);
        }
        if (!pn_data_next(data)) {
            break;
        }
        brg_value_t v;
        rc = brg_amqp1_value_get(data, &v, depth + 1, errstr, errstr_size);
        if (rc != BRG_OK) {
            brg_value_fini(&v);
            break;
        }
        if (keep) {
            brg_fields_add(out, name, name_len, &v);
        } else {
            brg_value_fini(&v);
        }
    }
    pn_data_exit(data);
    return rc;
}

/* AMQP 1.0 decimal64 is IEEE 754-2008 decimal64; msgbridge uses the binary integer decimal
 * (BID) encoding. An AMQP 0-9-1 decimal (int32 value / 10^scale, scale 0..255) always fits
 * BID's short form: sign, 10-bit exponent biased by 398, 53-bit coefficient. */
#define BID64_BIAS 398
#define BID64_COEFF_MASK ((UINT64_C(1) << 53) - 1)

static uint64_t dec_to_decimal64(const brg_value_t *v)
{
    int64_t val = v->u.dec.value;
    uint64_t sign = val < 0 ? UINT64_C(1) << 63 : 0;
    uint64_t coeff = (uint64_t)(val < 0 ? -val : val);
    uint64_t exp = (uint64_t)(BID64_BIAS - (int)v->u.dec.scale);
    return sign | exp << 53 | coeff;
}

/* A decimal64 back into an AMQP 0-9-1 decimal when it is one exactly (short BID form, a
 * coefficient within int32, 0..255 decimal places). Returns: false to keep its raw bits. */
static bool decimal64_to_dec(uint64_t d, brg_value_t *out)
{
    if (((d >> 61) & 3) == 3) {
        return false; /* large-coefficient form, infinity or NaN */
    }
    int exp = (int)((d >> 53) & 0x3ff) - BID64_BIAS;
    uint64_t coeff = d & BID64_COEFF_MASK;
    if (exp > 0 || exp < -255 || coeff > INT32_MAX) {
        return false;
    }
    out->type = BRG_V_DECIMAL;
    out->width = 0;
    out->u.dec.scale = (uint8_t)-exp;
    out->u.dec.value = (int32_t)((d >> 63) ? -(int64_t)coeff : (int64_t)coeff);
    return true;
}

brg_err_t brg_amqp1_value_get(pn_data_t *data, brg_value_t *out, int depth, char *errstr,
                              size_t errstr_size)
{
    *out = brg_value_null();
    if (depth > BRG_AMQP1_MAX_DEPTH) {
        brg_errfmt(errstr, errstr_size, "values nested deeper than %d levels",
                   BRG_AMQP1_MAX_DEPTH);
        return BRG_ERR_INVALID;
    }
    pn_bytes_t b;
    switch (pn_data_type(data)) {
    case PN_NULL: return BRG_OK;
    case PN_BOOL: *out = brg_value_bool(pn_data_get_bool(data)); return BRG_OK;
    case PN_UBYTE: *out = brg_value_uint(pn_data_get_ubyte(data), 8); return BRG_OK;
    case PN_BYTE: *out = brg_value_int(pn_data_get_byte(data), 8); return BRG_OK;
    case PN_USHORT: *out = brg_value_uint(pn_data_get_ushort(data), 16); return BRG_OK;
    case PN_SHORT: *out = brg_value_int(pn_data_get_short(data), 16); return BRG_OK;
    case PN_UINT: *out = brg_value_uint(pn_data_get_uint(data), 32); return BRG_OK;
    case PN_INT: *out = brg_value_int(pn_data_get_int(data), 32); return BRG_OK;
    case PN_ULONG: *out = brg_value_uint(pn_data_get_ulong(data), 64); return BRG_OK;
    case PN_LONG: *out = brg_value_int(pn_data_get_long(data), 64); return BRG_OK;
    case PN_FLOAT: *out = brg_value_float(pn_data_get_float(data), 32); return BRG_OK;
    case PN_DOUBLE: *out = brg_value_float(pn_data_get_double(data), 64); return BRG_OK;
    case PN_TIMESTAMP: *out = brg_value_timestamp(pn_data_get_timestamp(data)); return BRG_OK;
    case PN_CHAR: {
        /* No envelope type for a single UTF-32 character: it becomes a one-character string. */
        char u[4];
        size_t n = brg_utf8_encode(pn_data_get_char(data), u);
        *out = brg_value_string(u, n);
        return BRG_OK;
    }
    case PN_DECIMAL32: {
        /* IEEE 754 decimal has no envelope type: its bits travel as bytes (big-endian). */
        uint32_t d = pn_data_get_decimal32(data);
        uint8_t be[4];
        for (int i = 0; i < 4; i++) {
            be[i] = (uint8_t)(d >> (24 - 8 * i));
        }
        *out = brg_value_bytes(be, sizeof(be));
        return BRG_OK;
    }
    case PN_DECIMAL64: {
        uint64_t d = pn_data_get_decimal64(data);
        if (decimal64_to_dec(d, out)) {
            return BRG_OK;
        }
        uint8_t be[8];
        for (int i = 0; i < 8; i++) {
            be[i] = (uint8_t)(d >> (56 - 8 * i));
        }
        *out = brg_value_bytes(be, sizeof(be));
        return BRG_OK;
    }
    case PN_DECIMAL128: {
        pn_decimal128_t d = pn_data_get_decimal128(data);
        *out = brg_value_bytes(d.bytes, sizeof(d.bytes));
        return BRG_OK;
    }
    case PN_UUID: {
        pn_uuid_t u = pn_data_get_uuid(data);
        *out = brg_value_typed_bytes(BRG_V_UUID, u.bytes, sizeof(u.bytes));
        return BRG_OK;
    }
    case PN_BINARY:
        b = pn_data_get_binary(data);
        *out = brg_value_bytes(b.start, b.size);
        return BRG_OK;
    case PN_STRING:
        b = pn_data_get_string(data);
        *out = brg_value_string(b.start, b.size);
        return BRG_OK;
    case PN_SYMBOL:
        b = pn_data_get_symbol(data);
        *out = brg_value_typed_bytes(BRG_V_SYMBOL, b.start, b.size);
        return BRG_OK;
    case PN_DESCRIBED: {
        /* A described value keeps its value; the descriptor has no envelope home. */
        brg_err_t rc = BRG_OK;
        if (pn_data_enter(data)) {
            if (pn_data_next(data) && pn_data_next(data)) {
                rc = brg_amqp1_value_get(data, out, depth + 1, errstr, errstr_size);
            }
            pn_data_exit(data);
        }
        return rc;
    }
    case PN_MAP: {
        size_t n = pn_data_get_map(data);
        brg_fields_t *f = brg_fields_new();
        brg_err_t rc = get_children(data, n, true, f, depth, errstr, errstr_size);
        *out = brg_value_table(f);
        return rc;
    }
    case PN_LIST:
    case PN_ARRAY: {
        bool is_list = pn_data_type(data) == PN_LIST;
        size_t n = is_list ? pn_data_get_list(data) : pn_data_get_array(data);
        if (!is_list && pn_data_is_array_described(data)) {
            /* The descriptor of a described array is its first child: skip it. */
            n++;
        }
        brg_fields_t *f = brg_fields_new();
        brg_err_t rc = BRG_OK;
        if (!is_list && pn_data_is_array_described(data)) {
            if (pn_data_enter(data)) {
                pn_data_next(data); /* descriptor */
                for (size_t i = 1; i < n && pn_data_next(data); i++) {
                    brg_value_t v;
                    rc = brg_amqp1_value_get(data, &v, depth + 1, errstr, errstr_size);
                    if (rc != BRG_OK) {
                        brg_value_fini(&v);
                        break;
                    }
                    brg_fields_add(f, NULL, 0, &v);
                }
                pn_data_exit(data);
            }
        } else {
            rc = get_children(data, n, false, f, depth, errstr, errstr_size);
        }
        *out = brg_value_array(f);
        return rc;
    }
    default:
        brg_errfmt(errstr, errstr_size, "unsupported AMQP type %s",
                   pn_type_name(pn_data_type(data)));
        return BRG_ERR_INVALID;
    }
}

/* Write an INT/UINT/FLOAT by its width; width 0 (unknown) takes the widest type. */
static void put_number(pn_data_t *data, const brg_value_t *v)
{
    if (v->type == BRG_V_INT) {
        switch (v->width) {
        case 8: pn_data_put_byte(data, (int8_t)v->u.i); return;
        case 16: pn_data_put_short(data, (int16_t)v->u.i); return;
        case 32: pn_data_put_int(data, (int32_t)v->u.i); return;
        default: pn_data_put_long(data, v->u.i); return;
        }
    }
    if (v->type == BRG_V_UINT) {
        switch (v->width) {
        case 8: pn_data_put_ubyte(data, (uint8_t)v->u.u); return;
        case 16: pn_data_put_ushort(data, (uint16_t)v->u.u); return;
        case 32: pn_data_put_uint(data, (uint32_t)v->u.u); return;
        default: pn_data_put_ulong(data, v->u.u); return;
        }
    }
    if (v->width == 32) {
        pn_data_put_float(data, (float)v->u.f);
    } else {
        pn_data_put_double(data, v->u.f);
    }
}

void brg_amqp1_value_put(pn_data_t *data, const brg_value_t *v)
{
    switch (v->type) {
    case BRG_V_NULL: pn_data_put_null(data); return;
    case BRG_V_BOOL: pn_data_put_bool(data, v->u.b); return;
    case BRG_V_INT:
    case BRG_V_UINT:
    case BRG_V_FLOAT: put_number(data, v); return;
    case BRG_V_DECIMAL: pn_data_put_decimal64(data, dec_to_decimal64(v)); return;
    case BRG_V_TIMESTAMP: pn_data_put_timestamp(data, v->u.ts_ms); return;
    case BRG_V_STRING:
        pn_data_put_string(data, pn_bytes(v->u.bytes.len, (const char *)v->u.bytes.data));
        return;
    case BRG_V_BYTES:
        pn_data_put_binary(data, pn_bytes(v->u.bytes.len, (const char *)v->u.bytes.data));
        return;
    case BRG_V_SYMBOL:
        pn_data_put_symbol(data, pn_bytes(v->u.bytes.len, (const char *)v->u.bytes.data));
        return;
    case BRG_V_UUID:
        if (v->u.bytes.len == 16) {
            pn_uuid_t u;
            memcpy(u.bytes, v->u.bytes.data, 16);
            pn_data_put_uuid(data, u);
        } else {
            pn_data_put_binary(data, pn_bytes(v->u.bytes.len, (const char *)v->u.bytes.data));
        }
        return;
    case BRG_V_TABLE:
    case BRG_V_ARRAY: {
        bool map = v->type == BRG_V_TABLE;
        if (map) {
            pn_data_put_map(data);
        } else {
            pn_data_put_list(data);
        }
        pn_data_enter(data);
        const brg_fields_t *f = v->u.fields;
        for (size_t i = 0; f && i < f->count; i++) {
            if (map) {
                const char *n = f->items[i].name ? f->items[i].name : "";
                pn_data_put_string(data, pn_bytes(f->items[i].name_len, n));
            }
            brg_amqp1_value_put(data, &f->items[i].value);
        }
        pn_data_exit(data);
        return;
    }
    }
    pn_data_put_null(data);
}

/* ---- message ids --------------------------------------------------------------------------
 * The envelope keeps ids as text. AMQP ids may be ulong, uuid, binary or string; non-string ids
 * are written with qpid-jms's prefixes so that JMS clients and the way back agree:
 * "ID:AMQP_ULONG:42", "ID:AMQP_UUID:<canonical>", "ID:AMQP_BINARY:<HEX>", and a string that
 * would look like one of those gets "ID:AMQP_STRING:" in front. */

static const char P_ULONG[] = "ID:AMQP_ULONG:";
static const char P_UUID[] = "ID:AMQP_UUID:";
static const char P_BINARY[] = "ID:AMQP_BINARY:";
static const char P_STRING[] = "ID:AMQP_STRING:";

static bool starts(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

static bool looks_encoded(const char *s, size_t len)
{
    return starts(s, len, P_ULONG) || starts(s, len, P_UUID) || starts(s, len, P_BINARY) ||
           starts(s, len, P_STRING);
}

/* Returns: a malloc'd text form of the id, or NULL for an absent id. */
static char *msgid_text(pn_msgid_t id)
{
    char buf[64];
    switch (id.type) {
    case PN_ULONG:
        snprintf(buf, sizeof(buf), "%s%" PRIu64, P_ULONG, id.u.as_ulong);
        return brg_xstrdup(buf);
    case PN_UUID: {
        const uint8_t *u = (const uint8_t *)id.u.as_uuid.bytes;
        snprintf(buf, sizeof(buf),
                 "%s%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", P_UUID,
                 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
                 u[13], u[14], u[15]);
        return brg_xstrdup(buf);
    }
    case PN_BINARY: {
        pn_bytes_t b = id.u.as_bytes;
        size_t pl = strlen(P_BINARY);
        char *s = brg_xmalloc(pl + 2 * b.size + 1);
        memcpy(s, P_BINARY, pl);
        for (size_t i = 0; i < b.size; i++) {
            snprintf(s + pl + 2 * i, 3, "%02X", (uint8_t)b.start[i]);
        }
        s[pl + 2 * b.size] = 0;
        return s;
    }
    case PN_STRING:
    case PN_SYMBOL: {
        pn_bytes_t b = id.u.as_bytes;
        const char *p = b.start ? b.start : "";
        if (looks_encoded(p, b.size)) {
            size_t pl = strlen(P_STRING);
            char *s = brg_xmalloc(pl + b.size + 1);
            memcpy(s, P_STRING, pl);
            memcpy(s + pl, p, b.size);
            s[pl + b.size] = 0;
            return s;
        }
        return brg_xstrndup(p, b.size);
    }
    default:
        return NULL;
    }
}

/* Decode up to max hex digit pairs (dashes skipped). Returns: bytes written, or -1. */
static long unhex(const char *s, uint8_t *out, size_t max)
{
    size_t n = 0;
    while (*s) {
        if (*s == '-') {
            s++;
            continue;
        }
        int hi = brg_hex_digit(s[0]), lo = hi < 0 ? -1 : brg_hex_digit(s[1]);
        if (hi < 0 || lo < 0 || n >= max) {
            return -1;
        }
        out[n++] = (uint8_t)(hi << 4 | lo);
        s += 2;
    }
    return (long)n;
}

/* Write the id text back in its original AMQP type (see above). buf holds binary ids.
 * Returns: the atom to set. A prefixed text that does not parse stays a string. */
static pn_msgid_t msgid_atom(const char *s, uint8_t *buf, size_t bufsize)
{
    pn_msgid_t id;
    memset(&id, 0, sizeof(id));
    size_t len = strlen(s);
    if (starts(s, len, P_ULONG)) {
        char *end;
        const char *num = s + strlen(P_ULONG);
        unsigned long long v = strtoull(num, &end, 10);
        if (*num && *end == 0 && *num != '-') {
            id.type = PN_ULONG;
            id.u.as_ulong = v;
            return id;
        }
    } else if (starts(s, len, P_UUID)) {
        uint8_t u[16];
        if (strlen(s + strlen(P_UUID)) == 36 && unhex(s + strlen(P_UUID), u, 16) == 16) {
            id.type = PN_UUID;
            memcpy(id.u.as_uuid.bytes, u, 16);
            return id;
        }
    } else if (starts(s, len, P_BINARY)) {
        long n = unhex(s + strlen(P_BINARY), buf, bufsize);
        if (n >= 0) {
            id.type = PN_BINARY;
            id.u.as_bytes = pn_bytes((size_t)n, (const char *)buf);
            return id;
        }
    } else if (starts(s, len, P_STRING)) {
        s += strlen(P_STRING);
        len -= strlen(P_STRING);
    }
    id.type = PN_STRING;
    id.u.as_bytes = pn_bytes(len, s);
    return id;
}

/* ---- type hints (BRG_AMQP1_TYPES_PROP) ---------------------------------------------------- */

/* Older msgbridge versions wrote these hints at the AMQP 1.0 source for a trip through Kafka;
 * the AMQP 1.0 sink still honours them (the Kafka adapter now restores types itself). The
 * sink's own list of bytes values sent as strings uses the same syntax (see the header). */

/* Whether the hint entry that starts at p names `name`: then *tag gets its type and *next
 * the start of the following entry. Returns: false (outputs untouched) otherwise. */
static bool hint_entry(const char *p, const char *name, size_t name_len, char *tag,
                       size_t tag_size, const char **next)
{
    const char *end = strchr(p, ',');
    if (!end) {
        end = p + strlen(p);
    }
    const char *eq = memchr(p, '=', (size_t)(end - p));
    if (!eq) {
        return false;
    }
    /* Compare the percent-decoded name with `name`. */
    size_t k = 0;
    bool same = true;
    for (const char *q = p; q < eq && same; q++, k++) {
        char c = *q;
        if (c == '%' && q + 2 < eq + 1 && brg_hex_digit(q[1]) >= 0 && brg_hex_digit(q[2]) >= 0) {
            c = (char)(brg_hex_digit(q[1]) << 4 | brg_hex_digit(q[2]));
            q += 2;
        }
        same = k < name_len && name[k] == c;
    }
    if (!same || k != name_len) {
        return false;
    }
    brg_errfmt(tag, tag_size, "%.*s", (int)(end - eq - 1), eq + 1);
    *next = *end ? end + 1 : end;
    return true;
}

/* Find the hinted type of header `name` in the hint text. Returns: false if not listed. */
static bool hint_lookup(const char *hints, const char *name, size_t name_len, char *tag,
                        size_t tag_size)
{
    const char *p = hints;
    while (*p) {
        const char *next;
        if (hint_entry(p, name, name_len, tag, tag_size, &next)) {
            return true;
        }
        const char *end = strchr(p, ',');
        p = end ? end + 1 : p + strlen(p);
    }
    return false;
}

/* Parse text (as Kafka carries header values) into the hinted type. Returns: false if the
 * text is not a value of that type (the header then stays as it is). */
static bool parse_hinted(const char *tag, const char *s, size_t len, brg_value_t *out)
{
    char tmp[64];
    if (strcmp(tag, "string") == 0) {
        *out = brg_value_string(s, len);
        return true;
    }
    if (strcmp(tag, "symbol") == 0) {
        *out = brg_value_typed_bytes(BRG_V_SYMBOL, s, len);
        return true;
    }
    if (len == 0 || len >= sizeof(tmp)) {
        return false;
    }
    memcpy(tmp, s, len);
    tmp[len] = 0;
    char *end = NULL;
    if (strcmp(tag, "boolean") == 0) {
        if (strcmp(tmp, "true") != 0 && strcmp(tmp, "false") != 0) {
            return false;
        }
        *out = brg_value_bool(tmp[0] == 't');
        return true;
    }
    if (strcmp(tag, "uuid") == 0) {
        uint8_t u[16];
        if (len != 36 || unhex(tmp, u, 16) != 16) {
            return false;
        }
        *out = brg_value_typed_bytes(BRG_V_UUID, u, 16);
        return true;
    }
    static const struct {
        const char *tag;
        brg_vtype_t type;
        uint8_t width;
    } nums[] = {
        {"byte", BRG_V_INT, 8},       {"short", BRG_V_INT, 16},      {"int", BRG_V_INT, 32},
        {"long", BRG_V_INT, 64},      {"ubyte", BRG_V_UINT, 8},      {"ushort", BRG_V_UINT, 16},
        {"uint", BRG_V_UINT, 32},     {"ulong", BRG_V_UINT, 64},     {"float", BRG_V_FLOAT, 32},
        {"double", BRG_V_FLOAT, 64},  {"timestamp", BRG_V_TIMESTAMP, 64},
    };
    for (size_t i = 0; i < BRG_ARRAY_SIZE(nums); i++) {
        if (strcmp(tag, nums[i].tag) != 0) {
            continue;
        }
        errno = 0;
        if (nums[i].type == BRG_V_FLOAT) {
            double d = strtod(tmp, &end);
            if (*end) {
                return false;
            }
            *out = brg_value_float(d, nums[i].width);
        } else if (nums[i].type == BRG_V_UINT) {
            if (tmp[0] == '-') {
                return false;
            }
            unsigned long long u = strtoull(tmp, &end, 10);
            uint64_t max = nums[i].width == 64 ? UINT64_MAX : (1ull << nums[i].width) - 1;
            if (*end || errno || u > max) {
                return false;
            }
            *out = brg_value_uint(u, nums[i].width);
        } else {
            long long v = strtoll(tmp, &end, 10);
            int64_t lim = nums[i].width == 64 ? INT64_MAX : (int64_t)((1ull << (nums[i].width - 1)) - 1);
            if (*end || errno || v > lim || v < -lim - 1) {
                return false;
            }
            *out = nums[i].type == BRG_V_TIMESTAMP ? brg_value_timestamp(v)
                                                   : brg_value_int(v, nums[i].width);
        }
        return true;
    }
    return false; /* null, map, list: nothing to restore from text */
}

void brg_amqp1_hint_add_binary(brg_amqp1_hint_buf_t *b, const char *name, size_t name_len)
{
    /* Worst case: every name byte percent-encoded, a ',' and "=binary" and the NUL. */
    size_t need = b->len + 3 * name_len + 9;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < need) {
            cap *= 2;
        }
        char *p = brg_xmalloc(cap);
        memcpy(p, b->p, b->len);
        if (b->p != b->small) {
            free(b->p);
        }
        b->p = p;
        b->cap = cap;
    }
    if (b->len) {
        b->p[b->len++] = ',';
    }
    for (size_t i = 0; i < name_len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '%' || c == ',' || c == '=' || c < 0x20 || c == 0x7f) {
            b->len += (size_t)snprintf(b->p + b->len, 4, "%%%02X", c);
        } else {
            b->p[b->len++] = (char)c;
        }
    }
    memcpy(b->p + b->len, "=binary", 8);
    b->len += 7;
}

void brg_amqp1_hint_buf_init(brg_amqp1_hint_buf_t *b)
{
    b->p = b->small;
    b->len = 0;
    b->cap = sizeof(b->small);
    b->small[0] = 0;
}

void brg_amqp1_hint_buf_fini(brg_amqp1_hint_buf_t *b)
{
    if (b->p != b->small) {
        free(b->p);
    }
    brg_amqp1_hint_buf_init(b);
}

/* The value to send for header f: its own, or the hinted type restored from bytes/text.
 * Returns: true if *out was filled (and must be freed). */
static bool restore_type(const char *hints, const brg_field_t *f, brg_value_t *out)
{
    if (!hints || (f->value.type != BRG_V_BYTES && f->value.type != BRG_V_STRING)) {
        return false;
    }
    char tag[16];
    if (!hint_lookup(hints, f->name, f->name_len, tag, sizeof(tag))) {
        return false;
    }
    if (f->value.type == BRG_V_STRING && strcmp(tag, "string") == 0) {
        return false;
    }
    return parse_hinted(tag, (const char *)f->value.u.bytes.data, f->value.u.bytes.len, out);
}

/* Put header f's value into data, in the type an old hint restores if there is one.
 * With bin set, bytes that are valid UTF-8 go out as an AMQP string (JMS consumers read
 * binary properties as escaped text) and f's name is appended to *bin as "NAME=binary", so
 * that an AMQP 1.0 source gives the value back as bytes. */
static void put_header_value(pn_data_t *data, const char *hints, const brg_field_t *f,
                             brg_amqp1_hint_buf_t *bin)
{
    brg_value_t restored;
    const brg_value_t *v = &f->value;
    bool own = restore_type(hints, f, &restored);
    if (own) {
        v = &restored;
    }
    if (bin && v->type == BRG_V_BYTES && brg_utf8_valid(v->u.bytes.data, v->u.bytes.len)) {
        pn_data_put_string(data, pn_bytes(v->u.bytes.len, (const char *)v->u.bytes.data));
        brg_amqp1_hint_add_binary(bin, f->name, f->name_len);
    } else {
        brg_amqp1_value_put(data, v);
    }
    if (own) {
        brg_value_fini(&restored);
    }
}

/* ---- decode -------------------------------------------------------------------------------- */

static void set_prop(char **slot, const char *s)
{
    if (s) {
        brg_props_set(slot, s);
    }
}

/* Message annotations: the JMS ones are regenerated by the sink, RabbitMQ's exchange and
 * routing key fill the origin, everything else travels as a prefixed header. */
static brg_err_t decode_annotations(pn_data_t *ma, brg_envelope_t *env, char *errstr,
                                    size_t errstr_size)
{
    pn_data_rewind(ma);
    if (!pn_data_next(ma) || pn_data_type(ma) != PN_MAP) {
        return BRG_OK;
    }
    size_t n = pn_data_get_map(ma);
    brg_err_t rc = BRG_OK;
    pn_data_enter(ma);
    for (size_t i = 0; i + 2 <= n; i += 2) {
        if (!pn_data_next(ma)) {
            break;
        }
        const char *k;
        size_t klen;
        char kbuf[32];
        bool keep = key_text(ma, kbuf, sizeof(kbuf), &k, &klen);
        if (!pn_data_next(ma)) {
            break;
        }
        if (!keep || starts(k, klen, "x-opt-jms-")) {
            continue;
        }
        brg_value_t v;
        rc = brg_amqp1_value_get(ma, &v, 1, errstr, errstr_size);
        if (rc != BRG_OK) {
            brg_value_fini(&v);
            break;
        }
        bool is_text = v.type == BRG_V_STRING || v.type == BRG_V_SYMBOL;
        if (v.type == BRG_V_UINT && klen == strlen(BRG_AMQP1_PRIORITY_MA) &&
            memcmp(k, BRG_AMQP1_PRIORITY_MA, klen) == 0) {
            env->props.priority = v.u.u > 255 ? 255 : (int)v.u.u;
            continue;
        }
        if (is_text && klen == 10 && memcmp(k, "x-exchange", 10) == 0) {
            brg_props_set(&env->origin.exchange, (const char *)v.u.bytes.data);
            brg_value_fini(&v);
            continue;
        }
        if (is_text && klen == 13 && memcmp(k, "x-routing-key", 13) == 0) {
            brg_props_set(&env->origin.routing_key, (const char *)v.u.bytes.data);
            brg_value_fini(&v);
            continue;
        }
        size_t pl = strlen(BRG_AMQP1_MA_PREFIX);
        char *name = brg_xmalloc(pl + klen + 1);
        memcpy(name, BRG_AMQP1_MA_PREFIX, pl);
        memcpy(name + pl, k, klen);
        name[pl + klen] = 0;
        brg_fields_add(&env->headers, name, pl + klen, &v);
        free(name);
    }
    pn_data_exit(ma);
    return rc;
}

/* The headers of a BRG_AMQP1_HEADERS_PROP list, in order (a name that is not UTF-8 is
 * binary there). */
static void add_listed_headers(brg_envelope_t *env, const brg_fields_t *all)
{
    for (size_t i = 0; i + 1 < all->count; i += 2) {
        const brg_value_t *k = &all->items[i].value;
        if (k->type != BRG_V_STRING && k->type != BRG_V_BYTES) {
            continue;
        }
        brg_value_t v = brg_value_copy(&all->items[i + 1].value);
        brg_fields_add(&env->headers, (const char *)k->u.bytes.data, k->u.bytes.len, &v);
    }
}

/* Application properties become headers in their types; the reserved ones fill the key and
 * the app id. */
static brg_err_t decode_app_props(pn_data_t *ap, brg_envelope_t *env, char *errstr,
                                  size_t errstr_size)
{
    pn_data_rewind(ap);
    if (!pn_data_next(ap) || pn_data_type(ap) != PN_MAP) {
        return BRG_OK;
    }
    size_t n = pn_data_get_map(ap);
    brg_fields_t props;
    brg_fields_init(&props);
    brg_err_t rc = get_children(ap, n, true, &props, 0, errstr, errstr_size);

    /* Repeated header names travel in BRG_AMQP1_HEADERS_PROP: its names replace the map's. */
    const brg_fields_t *all = NULL;
    for (size_t i = 0; rc == BRG_OK && i < props.count; i++) {
        if (props.items[i].value.type == BRG_V_ARRAY &&
            strcmp(props.items[i].name, BRG_AMQP1_HEADERS_PROP) == 0) {
            all = props.items[i].value.u.fields;
        }
    }
    if (all) {
        add_listed_headers(env, all);
    }
    /* The sink's list of bytes values it sent as strings (BRG_AMQP1_TYPES_PROP). */
    const char *bin = NULL;
    for (size_t i = 0; rc == BRG_OK && !all && i < props.count; i++) {
        if (props.items[i].value.type == BRG_V_STRING &&
            strcmp(props.items[i].name, BRG_AMQP1_TYPES_PROP) == 0) {
            bin = (const char *)props.items[i].value.u.bytes.data;
        }
    }
    const char *bin_at = bin;
    for (size_t i = 0; rc == BRG_OK && i < props.count; i++) {
        brg_field_t *f = &props.items[i];
        brg_value_t *v = &f->value;
        bool bytes_like = v->type == BRG_V_BYTES || v->type == BRG_V_STRING;
        if (bin && strcmp(f->name, BRG_AMQP1_TYPES_PROP) == 0) {
            continue; /* consumed here, never forwarded */
        }
        char tag[16];
        if (bin && v->type == BRG_V_STRING) {
            /* The sink lists the names in map order (keys are unique), so one cursor walks
             * both: linear however many properties a message has. */
            if (hint_entry(bin_at, f->name, f->name_len, tag, sizeof(tag), &bin_at) &&
                strcmp(tag, "binary") == 0) {
                v->type = BRG_V_BYTES; /* same representation: only the type changes back */
            }
        }
        if (bytes_like && strcmp(f->name, BRG_AMQP1_KEY_PROP) == 0) {
            brg_envelope_set_key(env, v->u.bytes.data, v->u.bytes.len);
            continue;
        }
        if (bytes_like && strcmp(f->name, BRG_AMQP1_APP_ID_PROP) == 0) {
            brg_props_set(&env->props.app_id, (const char *)v->u.bytes.data);
            continue;
        }
        if (all) {
            continue; /* the list has every header; the map only their first values */
        }
        brg_fields_add(&env->headers, f->name, f->name_len, v);
    }
    brg_fields_fini(&props);
    return rc;
}

/* The body: one data section (inferred binary), or an amqp-value. */
static brg_err_t decode_body(pn_message_t *msg, brg_envelope_t *env, char *errstr,
                             size_t errstr_size)
{
    pn_data_t *body = pn_message_body(msg);
    pn_data_rewind(body);
    if (!pn_data_next(body)) {
        return BRG_OK; /* no body section: an empty body */
    }
    pn_type_t t = pn_data_type(body);
    if (t == PN_BINARY) {
        pn_bytes_t b = pn_data_get_binary(body);
        brg_envelope_set_body(env, b.start, b.size);
        return BRG_OK;
    }
    if (t == PN_STRING) {
        pn_bytes_t b = pn_data_get_string(body);
        brg_envelope_set_body(env, b.start, b.size);
        brg_envelope_add_header_str(env, BRG_AMQP1_BODY_PROP, "string");
        return BRG_OK;
    }
    if (t == PN_NULL && !pn_message_is_inferred(msg)) {
        /* proton reports an absent body as a null value. */
        return BRG_OK;
    }
    /* Any other amqp-value (a map from a JMS MapMessage, a number...) or sequence travels as
     * its AMQP encoding so that an AMQP 1.0 sink can restore it. */
    pn_rwbytes_t buf = {0, NULL};
    size_t cap = 256;
    for (;;) {
        buf.start = brg_xrealloc(buf.start, cap);
        buf.size = cap;
        pn_data_rewind(body);
        pn_data_next(body);
        ssize_t n = pn_data_encode(body, buf.start, buf.size);
        if (n >= 0) {
            brg_envelope_take_body(env, (uint8_t *)buf.start, (size_t)n);
            brg_envelope_add_header_str(env, BRG_AMQP1_BODY_PROP,
                                        pn_message_is_inferred(msg) ? "sequence" : "value");
            return BRG_OK;
        }
        if (n != PN_OVERFLOW || cap > (64u << 20)) {
            free(buf.start);
            brg_errfmt(errstr, errstr_size, "cannot re-encode the %s body: %s", pn_type_name(t),
                       pn_code((int)n));
            return BRG_ERR_INVALID;
        }
        cap *= 4;
    }
}

/* pn_message_decode (0.37) skips what it cannot parse and still succeeds, so the sections are
 * checked first with the strict pn_data_decode: each must be one complete described value
 * whose descriptor is a message section (0x70 header .. 0x78 footer). */
static brg_err_t check_sections(const char *bytes, size_t len, char *errstr, size_t errstr_size)
{
    pn_data_t *d = pn_data(16);
    brg_err_t rc = BRG_OK;
    size_t off = 0;
    while (off < len) {
        pn_data_clear(d);
        ssize_t n = pn_data_decode(d, bytes + off, len - off);
        if (n <= 0) {
            brg_errfmt(errstr, errstr_size,
                       "malformed AMQP 1.0 message (%zu bytes): bad encoding at byte %zu (%s)",
                       len, off, n == 0 ? "empty value" : pn_code((int)n));
            rc = BRG_ERR_INVALID;
            break;
        }
        pn_data_rewind(d);
        bool ok = pn_data_next(d) && pn_data_type(d) == PN_DESCRIBED && pn_data_enter(d) &&
                  pn_data_next(d);
        uint64_t code = 0;
        if (ok && pn_data_type(d) == PN_ULONG) {
            code = pn_data_get_ulong(d);
        } else if (ok && pn_data_type(d) == PN_SYMBOL) {
            code = 0x70; /* symbolic descriptors ("amqp:data:binary") are accepted as is */
        }
        if (code < 0x70 || code > 0x78) {
            brg_errfmt(errstr, errstr_size,
                       "malformed AMQP 1.0 message (%zu bytes): byte %zu is not a message section",
                       len, off);
            rc = BRG_ERR_INVALID;
            break;
        }
        off += (size_t)n;
    }
    pn_data_free(d);
    return rc;
}

brg_err_t brg_amqp1_decode(pn_message_t *msg, const char *bytes, size_t len,
                           brg_envelope_t *env, char *errstr, size_t errstr_size)
{
    pn_message_clear(msg);
    brg_err_t rc = check_sections(bytes, len, errstr, errstr_size);
    if (rc != BRG_OK) {
        return rc;
    }
    int e = len ? pn_message_decode(msg, bytes, len) : 0;
    if (e != 0) {
        const char *why = pn_error_text(pn_message_error(msg));
        brg_errfmt(errstr, errstr_size, "malformed AMQP 1.0 message (%zu bytes): %s", len,
                   why && *why ? why : pn_code(e));
        return BRG_ERR_INVALID;
    }

    /* header section: durable false and priority 4 are also what an absent header means, so
     * the default priority is reported as absent. */
    env->props.durable = pn_message_is_durable(msg) ? 1 : 0;
    uint8_t prio = pn_message_get_priority(msg);
    env->props.priority = prio == PN_DEFAULT_PRIORITY ? -1 : prio;
    pn_millis_t ttl = pn_message_get_ttl(msg);
    env->props.ttl_ms = ttl ? (int64_t)ttl : -1;
    env->origin.redelivered = pn_message_get_delivery_count(msg) > 0;

    /* properties section */
    env->props.message_id = msgid_text(pn_message_get_id(msg));
    env->props.correlation_id = msgid_text(pn_message_get_correlation_id(msg));
    pn_bytes_t uid = pn_message_get_user_id(msg);
    if (uid.size) {
        brg_props_set(&env->props.user_id, NULL);
        env->props.user_id = brg_xstrndup(uid.start, uid.size);
    }
    set_prop(&env->props.subject, pn_message_get_subject(msg));
    set_prop(&env->props.reply_to, pn_message_get_reply_to(msg));
    set_prop(&env->props.content_type, pn_message_get_content_type(msg));
    set_prop(&env->props.content_encoding, pn_message_get_content_encoding(msg));
    set_prop(&env->props.group_id, pn_message_get_group_id(msg));
    pn_timestamp_t ct = pn_message_get_creation_time(msg);
    env->props.timestamp_ms = ct ? (int64_t)ct : -1;

    /* The headers keep their AMQP types in the envelope; a sink that cannot (Kafka) writes
     * its own type hint, so none is added here. */
    rc = decode_app_props(pn_message_properties(msg), env, errstr, errstr_size);
    if (rc == BRG_OK) {
        rc = decode_annotations(pn_message_annotations(msg), env, errstr, errstr_size);
    }
    if (rc == BRG_OK) {
        rc = decode_body(msg, env, errstr, errstr_size);
    }
    return rc;
}

/* ---- encode -------------------------------------------------------------------------------- */

static bool is_texty(const char *ct)
{
    return ct && (strncmp(ct, "text/", 5) == 0 || strncmp(ct, "application/json", 16) == 0 ||
                  strncmp(ct, "application/xml", 15) == 0);
}

/* JMS message types (the AMQP JMS mapping, as ActiveMQ and qpid-jms read them). */
enum { JMS_MESSAGE = 0, JMS_OBJECT = 1, JMS_MAP = 2, JMS_BYTES = 3, JMS_STREAM = 4, JMS_TEXT = 5 };

static brg_err_t encode_body(pn_message_t *msg, const brg_envelope_t *env, int *jms_type,
                             char *errstr, size_t errstr_size)
{
    pn_data_t *body = pn_message_body(msg);
    const brg_field_t *kind = brg_fields_get(&env->headers, BRG_AMQP1_BODY_PROP);
    const char *k = kind && kind->value.type == BRG_V_STRING ? (const char *)kind->value.u.bytes.data
                                                              : NULL;
    const char *p = env->body ? (const char *)env->body : "";
    if (k && strcmp(k, "string") == 0) {
        pn_data_put_string(body, pn_bytes(env->body_len, p));
        pn_message_set_inferred(msg, false);
        *jms_type = JMS_TEXT;
        return BRG_OK;
    }
    if (k && (strcmp(k, "value") == 0 || strcmp(k, "sequence") == 0)) {
        ssize_t n = pn_data_decode(body, p, env->body_len);
        if (n < 0 || (size_t)n != env->body_len) {
            pn_data_clear(body);
            brg_errfmt(errstr, errstr_size,
                       "the body is marked \"%s: %s\" but is not one AMQP-encoded value",
                       BRG_AMQP1_BODY_PROP, k);
            return BRG_ERR_INVALID;
        }
        bool seq = strcmp(k, "sequence") == 0;
        pn_message_set_inferred(msg, seq);
        pn_data_rewind(body);
        pn_data_next(body);
        pn_type_t t = pn_data_type(body);
        *jms_type = t == PN_MAP ? JMS_MAP : (t == PN_LIST || seq) ? JMS_STREAM : JMS_OBJECT;
        return BRG_OK;
    }
    /* The normal case: raw bytes as a single data section (inferred binary). */
    pn_data_put_binary(body, pn_bytes(env->body_len, p));
    pn_message_set_inferred(msg, true);
    *jms_type = is_texty(env->props.content_type) ? JMS_TEXT : JMS_BYTES;
    return BRG_OK;
}

static bool has_prefix(const char *name, const char *prefix)
{
    return name && strncmp(name, prefix, strlen(prefix)) == 0;
}

/* A name that is not UTF-8 as an AMQP string: each stray byte becomes U+FFFD. */
static void put_name_replacing(pn_data_t *ap, const char *name, size_t len)
{
    char *out = brg_xmalloc(len * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = brg_utf8_seq_len((const unsigned char *)name + i, len - i);
        if (n == 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, name + i, n);
            o += n;
            i += n;
        }
    }
    pn_data_put_string(ap, pn_bytes(o, out));
    free(out);
}

/* A header that becomes an application property (not one of the reserved carriers). */
static bool header_is_property(const brg_field_t *f)
{
    return f->name && !has_prefix(f->name, BRG_AMQP1_MA_PREFIX) &&
           strcmp(f->name, BRG_AMQP1_BODY_PROP) != 0 &&
           strcmp(f->name, BRG_AMQP1_TYPES_PROP) != 0 &&
           strcmp(f->name, BRG_AMQP1_KEY_PROP) != 0 &&
           strcmp(f->name, BRG_AMQP1_APP_ID_PROP) != 0 &&
           strcmp(f->name, BRG_AMQP1_HEADERS_PROP) != 0;
}

brg_err_t brg_amqp1_encode(pn_message_t *msg, const brg_envelope_t *env,
                           const brg_amqp1_encode_opts_t *opts, char *errstr,
                           size_t errstr_size)
{
    pn_message_clear(msg);
    const brg_props_t *p = &env->props;

    /* header section: persistent unless the source said transient (DESIGN.md section 3). */
    pn_message_set_durable(msg, p->durable != 0);
    if (p->priority >= 0) {
        pn_message_set_priority(msg, (uint8_t)(p->priority > 255 ? 255 : p->priority));
    }
    if (p->ttl_ms > 0) {
        pn_message_set_ttl(msg, p->ttl_ms > UINT32_MAX ? UINT32_MAX : (pn_millis_t)p->ttl_ms);
    }

    /* properties section */
    uint8_t idbuf[256];
    if (p->message_id) {
        pn_message_set_id(msg, msgid_atom(p->message_id, idbuf, sizeof(idbuf)));
    }
    uint8_t cidbuf[256];
    if (p->correlation_id) {
        pn_message_set_correlation_id(msg, msgid_atom(p->correlation_id, cidbuf, sizeof(cidbuf)));
    }
    if (p->user_id) {
        pn_message_set_user_id(msg, pn_bytes(strlen(p->user_id), p->user_id));
    }
    if (opts && opts->address) {
        pn_message_set_address(msg, opts->address);
    }
    if (p->subject) {
        pn_message_set_subject(msg, p->subject);
    }
    if (p->reply_to) {
        pn_message_set_reply_to(msg, p->reply_to);
    }
    if (p->content_type) {
        pn_message_set_content_type(msg, p->content_type);
    }
    if (p->content_encoding) {
        pn_message_set_content_encoding(msg, p->content_encoding);
    }
    if (p->group_id) {
        pn_message_set_group_id(msg, p->group_id);
    }
    if (p->timestamp_ms >= 0) {
        pn_message_set_creation_time(msg, p->timestamp_ms);
    }

    int jms_type = JMS_BYTES;
    brg_err_t rc = encode_body(msg, env, &jms_type, errstr, errstr_size);
    if (rc != BRG_OK) {
        return rc;
    }

    /* application properties: headers in their types, the first of repeated names (AMQP maps
     * have unique keys), then the reserved key and app id. */
    const brg_field_t *hf = brg_fields_get(&env->headers, BRG_AMQP1_TYPES_PROP);
    const char *hints = hf && (hf->value.type == BRG_V_STRING || hf->value.type == BRG_V_BYTES)
                            ? (const char *)hf->value.u.bytes.data
                            : NULL;
    pn_data_t *ap = pn_message_properties(msg);
    pn_data_put_map(ap);
    pn_data_enter(ap);
    const brg_fields_t *h = &env->headers;
    bool repeated = false;
    brg_amqp1_hint_buf_t bin; /* the map's bytes values sent as strings (BRG_AMQP1_TYPES_PROP) */
    brg_amqp1_hint_buf_init(&bin);
    for (size_t i = 0; i < h->count; i++) {
        const brg_field_t *f = &h->items[i];
        if (!header_is_property(f)) {
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++) {
            dup = h->items[j].name && h->items[j].name_len == f->name_len &&
                  memcmp(h->items[j].name, f->name, f->name_len) == 0;
        }
        if (dup) {
            repeated = true; /* carried in BRG_AMQP1_HEADERS_PROP below */
            continue;
        }
        bool name_ok = brg_utf8_valid(f->name, f->name_len);
        if (!name_ok) {
            /* AMQP strings are UTF-8: the map gets a readable name, the list the exact one. */
            repeated = true;
            put_name_replacing(ap, f->name, f->name_len);
        } else {
            pn_data_put_string(ap, pn_bytes(f->name_len, f->name));
        }
        /* The hint is an AMQP string too: only UTF-8 names go into it (with a list, which
         * exists whenever a name is not UTF-8, the source ignores the map and its hint). */
        put_header_value(ap, hints, f, name_ok ? &bin : NULL);
    }
    if (repeated) {
        /* Every header in order, so that repeated names survive (BRG_AMQP1_HEADERS_PROP). */
        pn_data_put_string(ap, pn_bytes(strlen(BRG_AMQP1_HEADERS_PROP), BRG_AMQP1_HEADERS_PROP));
        pn_data_put_list(ap);
        pn_data_enter(ap);
        for (size_t i = 0; i < h->count; i++) {
            const brg_field_t *f = &h->items[i];
            if (!header_is_property(f)) {
                continue;
            }
            if (brg_utf8_valid(f->name, f->name_len)) {
                pn_data_put_string(ap, pn_bytes(f->name_len, f->name));
            } else {
                pn_data_put_binary(ap, pn_bytes(f->name_len, f->name));
            }
            /* The list keeps exact types (bytes stay binary): only the map is read by JMS. */
            put_header_value(ap, hints, f, NULL);
        }
        pn_data_exit(ap);
    }
    if (bin.len) {
        pn_data_put_string(ap, pn_bytes(strlen(BRG_AMQP1_TYPES_PROP), BRG_AMQP1_TYPES_PROP));
        pn_data_put_string(ap, pn_bytes(bin.len, bin.p));
    }
    brg_amqp1_hint_buf_fini(&bin);
    if (env->key) {
        /* The key is always bytes in the envelope, so a UTF-8 key can go as a string (what a
         * JMS consumer reads as text) with no hint: the source accepts either type. */
        pn_data_put_string(ap, pn_bytes(strlen(BRG_AMQP1_KEY_PROP), BRG_AMQP1_KEY_PROP));
        pn_bytes_t kb = pn_bytes(env->key_len, (const char *)env->key);
        if (brg_utf8_valid(env->key, env->key_len)) {
            pn_data_put_string(ap, kb);
        } else {
            pn_data_put_binary(ap, kb);
        }
    }
    if (p->app_id) {
        pn_data_put_string(ap, pn_bytes(strlen(BRG_AMQP1_APP_ID_PROP), BRG_AMQP1_APP_ID_PROP));
        pn_data_put_string(ap, pn_bytes(strlen(p->app_id), p->app_id));
    }
    pn_data_exit(ap);

    /* message annotations: the JMS ones, then the carried ones. */
    pn_data_t *ma = pn_message_annotations(msg);
    pn_data_put_map(ma);
    pn_data_enter(ma);
    pn_data_put_symbol(ma, pn_bytes(18, "x-opt-jms-msg-type"));
    pn_data_put_byte(ma, (int8_t)jms_type);
    if (opts && opts->jms_dest >= 0) {
        pn_data_put_symbol(ma, pn_bytes(14, "x-opt-jms-dest"));
        pn_data_put_byte(ma, (int8_t)opts->jms_dest);
    }
    if (p->priority == PN_DEFAULT_PRIORITY) {
        /* The header section cannot tell an explicit 4 from none (RabbitMQ's priority queues
         * treat none as 0): say it here. */
        pn_data_put_symbol(ma, pn_bytes(strlen(BRG_AMQP1_PRIORITY_MA), BRG_AMQP1_PRIORITY_MA));
        pn_data_put_ubyte(ma, PN_DEFAULT_PRIORITY);
    }
    size_t pl = strlen(BRG_AMQP1_MA_PREFIX);
    for (size_t i = 0; i < h->count; i++) {
        const brg_field_t *f = &h->items[i];
        if (!has_prefix(f->name, BRG_AMQP1_MA_PREFIX) || f->name_len == pl ||
            has_prefix(f->name + pl, "x-opt-jms-")) {
            continue;
        }
        pn_data_put_symbol(ma, pn_bytes(f->name_len - pl, f->name + pl));
        put_header_value(ma, hints, f, NULL);
    }
    pn_data_exit(ma);
    return BRG_OK;
}
