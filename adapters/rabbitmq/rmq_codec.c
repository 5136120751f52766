/* AMQP 0-9-1 basic properties and field tables <-> envelope (see rmq_codec.h). */
#include "adapters/rabbitmq/rmq_codec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- table -> fields ---------------------------------------------------------------------- */

/* ar: where names and string values go: an envelope's arena (no allocation per header), or
 * NULL for the heap. */
static brg_err_t value_from_amqp(const amqp_field_value_t *fv, brg_value_t *out, int depth,
                                 const char *name, brg_arena_t *ar, char *errstr,
                                 size_t errstr_size);

static brg_err_t array_from_amqp(const amqp_array_t *a, brg_fields_t *out, int depth,
                                 const char *name, brg_arena_t *ar, char *errstr,
                                 size_t errstr_size)
{
    if (a->num_entries < 0 || (a->num_entries > 0 && !a->entries)) {
        brg_errfmt(errstr, errstr_size, "header \"%s\": malformed array", name);
        return BRG_ERR_INVALID;
    }
    for (int i = 0; i < a->num_entries; i++) {
        brg_value_t v;
        brg_err_t rc = value_from_amqp(&a->entries[i], &v, depth, name, ar, errstr, errstr_size);
        if (rc != BRG_OK) {
            return rc;
        }
        brg_fields_add(out, NULL, 0, &v);
    }
    return BRG_OK;
}

static brg_err_t table_from_amqp(const amqp_table_t *t, brg_fields_t *out, int depth,
                                 const char *parent, brg_arena_t *ar, char *errstr,
                                 size_t errstr_size)
{
    if (t->num_entries < 0 || (t->num_entries > 0 && !t->entries)) {
        brg_errfmt(errstr, errstr_size, "header \"%s\": malformed table", parent ? parent : "");
        return BRG_ERR_INVALID;
    }
    for (int i = 0; i < t->num_entries; i++) {
        const amqp_table_entry_t *e = &t->entries[i];
        if (e->key.len > 0 && !e->key.bytes) {
            brg_errfmt(errstr, errstr_size, "header table entry %d: malformed name", i);
            return BRG_ERR_INVALID;
        }
        /* A NUL-terminated copy of the name for messages; names are at most 255 bytes. */
        char name[256];
        size_t nlen = e->key.len < sizeof(name) ? e->key.len : sizeof(name) - 1;
        if (nlen) {
            memcpy(name, e->key.bytes, nlen);
        }
        name[nlen] = 0;
        brg_value_t v;
        brg_err_t rc = value_from_amqp(&e->value, &v, depth, name, ar, errstr, errstr_size);
        if (rc != BRG_OK) {
            return rc;
        }
        if (ar) {
            brg_fields_add(out, NULL, 0, &v);
            brg_field_t *fld = &out->items[out->count - 1];
            fld->name = brg_arena_strndup(ar, e->key.bytes, e->key.len);
            fld->name_len = e->key.len;
            fld->name_borrowed = true;
        } else {
            brg_fields_add(out, e->key.len ? (const char *)e->key.bytes : "", e->key.len, &v);
        }
    }
    return BRG_OK;
}

static brg_err_t value_from_amqp(const amqp_field_value_t *fv, brg_value_t *out, int depth,
                                 const char *name, brg_arena_t *ar, char *errstr,
                                 size_t errstr_size)
{
    *out = brg_value_null();
    switch (fv->kind) {
    case AMQP_FIELD_KIND_VOID: return BRG_OK;
    case AMQP_FIELD_KIND_BOOLEAN: *out = brg_value_bool(fv->value.boolean != 0); return BRG_OK;
    case AMQP_FIELD_KIND_I8: *out = brg_value_int(fv->value.i8, 8); return BRG_OK;
    case AMQP_FIELD_KIND_I16: *out = brg_value_int(fv->value.i16, 16); return BRG_OK;
    case AMQP_FIELD_KIND_I32: *out = brg_value_int(fv->value.i32, 32); return BRG_OK;
    case AMQP_FIELD_KIND_I64: *out = brg_value_int(fv->value.i64, 64); return BRG_OK;
    case AMQP_FIELD_KIND_U8: *out = brg_value_uint(fv->value.u8, 8); return BRG_OK;
    case AMQP_FIELD_KIND_U16: *out = brg_value_uint(fv->value.u16, 16); return BRG_OK;
    case AMQP_FIELD_KIND_U32: *out = brg_value_uint(fv->value.u32, 32); return BRG_OK;
    case AMQP_FIELD_KIND_U64: *out = brg_value_uint(fv->value.u64, 64); return BRG_OK;
    case AMQP_FIELD_KIND_F32: *out = brg_value_float(fv->value.f32, 32); return BRG_OK;
    case AMQP_FIELD_KIND_F64: *out = brg_value_float(fv->value.f64, 64); return BRG_OK;
    case AMQP_FIELD_KIND_DECIMAL:
        out->type = BRG_V_DECIMAL;
        out->u.dec.scale = fv->value.decimal.decimals;
        out->u.dec.value = (int32_t)fv->value.decimal.value;
        return BRG_OK;
    case AMQP_FIELD_KIND_TIMESTAMP:
        /* AMQP 0-9-1 timestamps are seconds; the envelope keeps ms. A value too large for
         * ms in an int64 (year 292 million) is kept exactly as an unsigned 64-bit integer. */
        if (fv->value.u64 > (uint64_t)INT64_MAX / 1000) {
            *out = brg_value_uint(fv->value.u64, 64);
        } else {
            *out = brg_value_timestamp((int64_t)fv->value.u64 * 1000);
        }
        return BRG_OK;
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES:
        if (fv->value.bytes.len > 0 && !fv->value.bytes.bytes) {
            brg_errfmt(errstr, errstr_size, "header \"%s\": malformed string", name);
            return BRG_ERR_INVALID;
        }
        /* 'S' (long string) is carried as a string byte for byte, even if it is not UTF-8. */
        *out = brg_value_null();
        out->type = fv->kind == AMQP_FIELD_KIND_UTF8 ? BRG_V_STRING : BRG_V_BYTES;
        if (ar) {
            out->borrowed = true;
            out->u.bytes.data = (uint8_t *)brg_arena_strndup(ar, fv->value.bytes.bytes,
                                                             fv->value.bytes.len);
            out->u.bytes.len = fv->value.bytes.len;
        } else {
            *out = brg_value_typed_bytes(out->type, fv->value.bytes.bytes, fv->value.bytes.len);
        }
        return BRG_OK;
    case AMQP_FIELD_KIND_TABLE:
    case AMQP_FIELD_KIND_ARRAY: {
        if (depth + 1 > BRG_RMQ_MAX_DEPTH) {
            brg_errfmt(errstr, errstr_size, "header \"%s\": nested deeper than %d levels", name,
                       BRG_RMQ_MAX_DEPTH);
            return BRG_ERR_INVALID;
        }
        brg_fields_t *f = brg_fields_new();
        brg_err_t rc = fv->kind == AMQP_FIELD_KIND_TABLE
                           ? table_from_amqp(&fv->value.table, f, depth + 1, name, ar, errstr,
                                             errstr_size)
                           : array_from_amqp(&fv->value.array, f, depth + 1, name, ar, errstr,
                                             errstr_size);
        if (rc != BRG_OK) {
            brg_fields_destroy(f);
            return rc;
        }
        *out = fv->kind == AMQP_FIELD_KIND_TABLE ? brg_value_table(f) : brg_value_array(f);
        return BRG_OK;
    }
    default:
        brg_errfmt(errstr, errstr_size, "header \"%s\": unknown AMQP field type 0x%02x", name,
                   (unsigned)fv->kind);
        return BRG_ERR_INVALID;
    }
}

brg_err_t brg_rmq_table_to_fields(const amqp_table_t *t, brg_fields_t *out, char *errstr,
                                  size_t errstr_size)
{
    return table_from_amqp(t, out, 0, NULL, NULL, errstr, errstr_size);
}

/* ---- fields -> table ---------------------------------------------------------------------- */

/* The encoder's context: where losses are reported. */
typedef struct enc {
    amqp_pool_t *pool;
    brg_rmq_loss_fn *loss;
    void *loss_ctx;
} enc_t;

static brg_err_t value_to_amqp(const brg_value_t *v, const enc_t *x, amqp_field_value_t *fv,
                               int depth, const char *name, char *errstr, size_t errstr_size);

/* Report a loss. Returns: BRG_ERR_INVALID (with errstr) if it is refused. */
static brg_err_t lost(const enc_t *x, const char *field, const char *name, const char *what,
                      char *errstr, size_t errstr_size)
{
    if (x->loss && x->loss(x->loss_ctx, field)) {
        if (name) {
            brg_errfmt(errstr, errstr_size, "header \"%s\": %s (strict mapping)", name, what);
        } else {
            brg_errfmt(errstr, errstr_size, "%s (strict mapping)", what);
        }
        return BRG_ERR_INVALID;
    }
    return BRG_OK;
}

static amqp_bytes_t bytes_of(const void *p, size_t len)
{
    amqp_bytes_t b = {len, len ? (void *)p : NULL};
    return b;
}

static void *pool_alloc(amqp_pool_t *pool, size_t size)
{
    if (size == 0) {
        return NULL;
    }
    void *p = amqp_pool_alloc(pool, size);
    if (!p) {
        /* Header tables are bounded by the envelope, which is in memory already. */
        abort();
    }
    return p;
}

/* The entries of an AMQP table (array_name NULL) or of the array of header array_name for f,
 * from the pool: NULL when there is nothing to encode (*rc BRG_OK) or when f has more than
 * AMQP's 32-bit count holds (*rc set, errstr says so). */
static void *entries_for(const brg_fields_t *f, const enc_t *x, size_t entry_size,
                         const char *array_name, brg_err_t *rc, char *errstr, size_t errstr_size)
{
    *rc = BRG_OK;
    if (!f || f->count == 0) {
        return NULL;
    }
    if (f->count > INT32_MAX) {
        if (array_name) {
            brg_errfmt(errstr, errstr_size, "header \"%s\": array too long", array_name);
        } else {
            brg_errfmt(errstr, errstr_size, "too many headers (%zu)", f->count);
        }
        *rc = BRG_ERR_INVALID;
        return NULL;
    }
    return pool_alloc(x->pool, f->count * entry_size);
}

static brg_err_t table_to_amqp(const brg_fields_t *f, const enc_t *x, amqp_table_t *out,
                               int depth, const char *top, char *errstr, size_t errstr_size)
{
    brg_err_t rc;
    out->num_entries = 0;
    out->entries =
        entries_for(f, x, sizeof(amqp_table_entry_t), NULL, &rc, errstr, errstr_size);
    if (!out->entries) {
        return rc;
    }
    for (size_t i = 0; i < f->count; i++) {
        const brg_field_t *fl = &f->items[i];
        const char *name = fl->name ? fl->name : "";
        size_t nlen = fl->name ? fl->name_len : 0;
        if (nlen > 255) {
            brg_errfmt(errstr, errstr_size,
                       "header \"%.40s...\": name longer than 255 bytes (%zu) has no AMQP 0-9-1 "
                       "form",
                       name, nlen);
            return BRG_ERR_INVALID;
        }
        amqp_table_entry_t *e = &out->entries[i];
        e->key = bytes_of(name, nlen);
        /* Nested values are reported under their top-level header's name. */
        rc = value_to_amqp(&fl->value, x, &e->value, depth, top ? top : name, errstr,
                           errstr_size);
        if (rc != BRG_OK) {
            return rc;
        }
        out->num_entries++;
    }
    return BRG_OK;
}

static brg_err_t array_to_amqp(const brg_fields_t *f, const enc_t *x, amqp_array_t *out,
                               int depth, const char *name, char *errstr, size_t errstr_size)
{
    brg_err_t rc;
    out->num_entries = 0;
    out->entries =
        entries_for(f, x, sizeof(amqp_field_value_t), name, &rc, errstr, errstr_size);
    if (!out->entries) {
        return rc;
    }
    for (size_t i = 0; i < f->count; i++) {
        rc = value_to_amqp(&f->items[i].value, x, &out->entries[i], depth, name,
                                     errstr, errstr_size);
        if (rc != BRG_OK) {
            return rc;
        }
        out->num_entries++;
    }
    return BRG_OK;
}

static brg_err_t value_to_amqp(const brg_value_t *v, const enc_t *x, amqp_field_value_t *fv,
                               int depth, const char *name, char *errstr, size_t errstr_size)
{
    memset(fv, 0, sizeof(*fv));
    brg_err_t rc;
    switch (v->type) {
    case BRG_V_NULL: fv->kind = AMQP_FIELD_KIND_VOID; return BRG_OK;
    case BRG_V_BOOL:
        fv->kind = AMQP_FIELD_KIND_BOOLEAN;
        fv->value.boolean = v->u.b;
        return BRG_OK;
    case BRG_V_INT:
        /* The width chooses the AMQP type; a value that does not fit its declared width
         * (a bug upstream) widens rather than being truncated. */
        if (v->width == 8 && v->u.i >= INT8_MIN && v->u.i <= INT8_MAX) {
            fv->kind = AMQP_FIELD_KIND_I8;
            fv->value.i8 = (int8_t)v->u.i;
        } else if (v->width == 16 && v->u.i >= INT16_MIN && v->u.i <= INT16_MAX) {
            fv->kind = AMQP_FIELD_KIND_I16;
            fv->value.i16 = (int16_t)v->u.i;
        } else if (v->width == 32 && v->u.i >= INT32_MIN && v->u.i <= INT32_MAX) {
            fv->kind = AMQP_FIELD_KIND_I32;
            fv->value.i32 = (int32_t)v->u.i;
        } else {
            fv->kind = AMQP_FIELD_KIND_I64;
            fv->value.i64 = v->u.i;
            if (v->width != 64) {
                return lost(x, "header.type", name, "integer wider than its declared width",
                            errstr, errstr_size);
            }
        }
        return BRG_OK;
    case BRG_V_UINT:
        if (v->width == 8 && v->u.u <= UINT8_MAX) {
            fv->kind = AMQP_FIELD_KIND_U8;
            fv->value.u8 = (uint8_t)v->u.u;
        } else if (v->width == 16 && v->u.u <= UINT16_MAX) {
            fv->kind = AMQP_FIELD_KIND_U16;
            fv->value.u16 = (uint16_t)v->u.u;
        } else if (v->width == 32 && v->u.u <= UINT32_MAX) {
            fv->kind = AMQP_FIELD_KIND_U32;
            fv->value.u32 = (uint32_t)v->u.u;
        } else {
            fv->kind = AMQP_FIELD_KIND_U64;
            fv->value.u64 = v->u.u;
            if (v->width != 64) {
                return lost(x, "header.type", name, "integer wider than its declared width",
                            errstr, errstr_size);
            }
        }
        return BRG_OK;
    case BRG_V_FLOAT:
        if (v->width == 32) {
            fv->kind = AMQP_FIELD_KIND_F32;
            fv->value.f32 = (float)v->u.f;
        } else {
            fv->kind = AMQP_FIELD_KIND_F64;
            fv->value.f64 = v->u.f;
        }
        return BRG_OK;
    case BRG_V_DECIMAL:
        fv->kind = AMQP_FIELD_KIND_DECIMAL;
        fv->value.decimal.decimals = v->u.dec.scale;
        fv->value.decimal.value = (uint32_t)v->u.dec.value;
        return BRG_OK;
    case BRG_V_TIMESTAMP:
        /* Seconds on the wire: a sub-second part is lost (floor), a time before 1970 is 0. */
        fv->kind = AMQP_FIELD_KIND_TIMESTAMP;
        fv->value.u64 = v->u.ts_ms > 0 ? (uint64_t)(v->u.ts_ms / 1000) : 0;
        if (v->u.ts_ms < 0 || v->u.ts_ms % 1000 != 0) {
            return lost(x, "header.timestamp", name,
                        "timestamp with milliseconds or before 1970 (AMQP 0-9-1 keeps seconds)",
                        errstr, errstr_size);
        }
        return BRG_OK;
    case BRG_V_STRING:
    case BRG_V_SYMBOL:
        fv->kind = AMQP_FIELD_KIND_UTF8;
        fv->value.bytes = bytes_of(v->u.bytes.data, v->u.bytes.len);
        if (v->type == BRG_V_SYMBOL) {
            return lost(x, "header.type", name, "symbol written as a string", errstr,
                        errstr_size);
        }
        return BRG_OK;
    case BRG_V_BYTES:
    case BRG_V_UUID:
        fv->kind = AMQP_FIELD_KIND_BYTES;
        fv->value.bytes = bytes_of(v->u.bytes.data, v->u.bytes.len);
        if (v->type == BRG_V_UUID) {
            return lost(x, "header.type", name, "uuid written as bytes", errstr, errstr_size);
        }
        return BRG_OK;
    case BRG_V_TABLE:
    case BRG_V_ARRAY:
        if (depth + 1 > BRG_RMQ_MAX_DEPTH) {
            brg_errfmt(errstr, errstr_size, "header \"%s\": nested deeper than %d levels", name,
                       BRG_RMQ_MAX_DEPTH);
            return BRG_ERR_INVALID;
        }
        if (v->type == BRG_V_TABLE) {
            fv->kind = AMQP_FIELD_KIND_TABLE;
            return table_to_amqp(v->u.fields, x, &fv->value.table, depth + 1, name, errstr,
                                 errstr_size);
        }
        fv->kind = AMQP_FIELD_KIND_ARRAY;
        rc = array_to_amqp(v->u.fields, x, &fv->value.array, depth + 1, name, errstr,
                           errstr_size);
        return rc;
    }
    brg_errfmt(errstr, errstr_size, "header \"%s\": value of unknown type %d", name, (int)v->type);
    return BRG_ERR_INVALID;
}

brg_err_t brg_rmq_fields_to_table(const brg_fields_t *f, amqp_pool_t *pool, amqp_table_t *out,
                                  char *errstr, size_t errstr_size)
{
    enc_t x = {pool, NULL, NULL};
    return table_to_amqp(f, &x, out, 0, NULL, errstr, errstr_size);
}

/* ---- wire size ---------------------------------------------------------------------------- */

static size_t value_wire_size(const amqp_field_value_t *fv);

static size_t array_wire_size(const amqp_array_t *a)
{
    size_t n = 4;
    for (int i = 0; i < a->num_entries; i++) {
        n += value_wire_size(&a->entries[i]);
    }
    return n;
}

size_t brg_rmq_table_wire_size(const amqp_table_t *t)
{
    size_t n = 4;
    for (int i = 0; i < t->num_entries; i++) {
        n += 1 + t->entries[i].key.len + value_wire_size(&t->entries[i].value);
    }
    return n;
}

static size_t value_wire_size(const amqp_field_value_t *fv)
{
    switch (fv->kind) {
    case AMQP_FIELD_KIND_VOID: return 1;
    case AMQP_FIELD_KIND_BOOLEAN:
    case AMQP_FIELD_KIND_I8:
    case AMQP_FIELD_KIND_U8: return 2;
    case AMQP_FIELD_KIND_I16:
    case AMQP_FIELD_KIND_U16: return 3;
    case AMQP_FIELD_KIND_I32:
    case AMQP_FIELD_KIND_U32:
    case AMQP_FIELD_KIND_F32: return 5;
    case AMQP_FIELD_KIND_DECIMAL: return 6;
    case AMQP_FIELD_KIND_I64:
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_F64:
    case AMQP_FIELD_KIND_TIMESTAMP: return 9;
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES: return 5 + fv->value.bytes.len;
    case AMQP_FIELD_KIND_TABLE: return 1 + brg_rmq_table_wire_size(&fv->value.table);
    case AMQP_FIELD_KIND_ARRAY: return 1 + array_wire_size(&fv->value.array);
    default: return 1;
    }
}

/* ---- properties -> envelope --------------------------------------------------------------- */

/* A property string, in the envelope's arena (no allocation per message). */
static void set_prop(brg_envelope_t *env, char **slot, amqp_bytes_t b)
{
    brg_envelope_set_str(env, slot, b.len ? (const char *)b.bytes : "", b.len);
}

/* Parse a non-negative decimal integer (the expiration property). Returns: -1 if invalid. */
static int64_t parse_ms(amqp_bytes_t b)
{
    if (b.len == 0 || b.len > 19) {
        return -1;
    }
    int64_t v = 0;
    const char *s = b.bytes;
    for (size_t i = 0; i < b.len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Take the reserved header `name` out of env->headers. Returns: its value (the caller
 * finalizes it), or a NULL-typed value if absent. */
static brg_value_t take_header(brg_envelope_t *env, const char *name)
{
    brg_field_t *f = brg_fields_get(&env->headers, name);
    if (!f) {
        return brg_value_null();
    }
    brg_value_t v = f->value;
    f->value = brg_value_null();
    brg_fields_remove(&env->headers, name);
    return v;
}

brg_err_t brg_rmq_props_to_envelope(const amqp_basic_properties_t *p, brg_envelope_t *env,
                                    char *errstr, size_t errstr_size)
{
    amqp_flags_t fl = p->_flags;
    if (fl & AMQP_BASIC_CONTENT_TYPE_FLAG) {
        set_prop(env, &env->props.content_type, p->content_type);
    }
    if (fl & AMQP_BASIC_CONTENT_ENCODING_FLAG) {
        set_prop(env, &env->props.content_encoding, p->content_encoding);
    }
    if (fl & AMQP_BASIC_DELIVERY_MODE_FLAG) {
        /* RabbitMQ persists only delivery mode 2; anything else is transient. */
        env->props.durable = p->delivery_mode == 2 ? 1 : 0;
    }
    if (fl & AMQP_BASIC_PRIORITY_FLAG) {
        env->props.priority = p->priority;
    }
    if (fl & AMQP_BASIC_CORRELATION_ID_FLAG) {
        set_prop(env, &env->props.correlation_id, p->correlation_id);
    }
    if (fl & AMQP_BASIC_REPLY_TO_FLAG) {
        set_prop(env, &env->props.reply_to, p->reply_to);
    }
    if (fl & AMQP_BASIC_EXPIRATION_FLAG) {
        /* The broker only accepts a decimal number of ms here. */
        env->props.ttl_ms = parse_ms(p->expiration);
    }
    if (fl & AMQP_BASIC_MESSAGE_ID_FLAG) {
        set_prop(env, &env->props.message_id, p->message_id);
    }
    if (fl & AMQP_BASIC_TYPE_FLAG) {
        set_prop(env, &env->props.subject, p->type);
    }
    if (fl & AMQP_BASIC_USER_ID_FLAG) {
        set_prop(env, &env->props.user_id, p->user_id);
    }
    if (fl & AMQP_BASIC_APP_ID_FLAG) {
        set_prop(env, &env->props.app_id, p->app_id);
    }
    bool have_ts = (fl & AMQP_BASIC_TIMESTAMP_FLAG) && p->timestamp <= (uint64_t)INT64_MAX / 1000;
    if (have_ts) {
        env->props.timestamp_ms = (int64_t)p->timestamp * 1000;
    }
    brg_err_t rc = BRG_OK;
    if (fl & AMQP_BASIC_HEADERS_FLAG) {
        rc = table_from_amqp(&p->headers, &env->headers, 0, NULL, &env->arena, errstr,
                             errstr_size);
    }

    /* Reserved headers: restore what a bridge put there, drop them from the headers. */
    brg_value_t v = take_header(env, BRG_RMQ_HDR_KEY);
    if (v.type == BRG_V_BYTES || v.type == BRG_V_STRING) {
        brg_envelope_set_key(env, v.u.bytes.data, v.u.bytes.len);
    }
    brg_value_fini(&v);
    v = take_header(env, BRG_RMQ_HDR_TIMESTAMP_MS);
    if (v.type == BRG_V_INT) {
        /* Trust the ms only when they agree with the seconds (the property may have been
         * rewritten by someone who did not know the header). */
        int64_t ms = v.u.i;
        if (ms >= 0 && (!have_ts || ms / 1000 == (int64_t)p->timestamp)) {
            env->props.timestamp_ms = ms;
        }
    }
    brg_value_fini(&v);
    v = take_header(env, BRG_RMQ_HDR_GROUP_ID);
    if (v.type == BRG_V_STRING) {
        brg_props_set(&env->props.group_id, (const char *)v.u.bytes.data);
    }
    brg_value_fini(&v);
    v = take_header(env, BRG_RMQ_HDR_USER_ID);
    if (v.type == BRG_V_STRING && !env->props.user_id) {
        brg_props_set(&env->props.user_id, (const char *)v.u.bytes.data);
    }
    brg_value_fini(&v);
    return rc;
}

/* ---- envelope -> properties --------------------------------------------------------------- */

static brg_err_t set_shortstr(amqp_basic_properties_t *p, amqp_flags_t flag, amqp_bytes_t *slot,
                              const char *value, const char *what, size_t *size, char *errstr,
                              size_t errstr_size)
{
    if (!value) {
        return BRG_OK;
    }
    size_t len = strlen(value);
    if (len > 255) {
        brg_errfmt(errstr, errstr_size,
                   "%s longer than 255 bytes (%zu) has no AMQP 0-9-1 form: \"%.40s...\"", what, len,
                   value);
        return BRG_ERR_INVALID;
    }
    *slot = bytes_of(value, len);
    p->_flags |= flag;
    *size += 1 + len;
    return BRG_OK;
}

/* Append a reserved header entry to a table being built in pool. */
static void add_entry(amqp_table_t *t, size_t *cap, amqp_pool_t *pool, const char *name,
                      amqp_field_value_t value)
{
    if ((size_t)t->num_entries == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        amqp_table_entry_t *n = pool_alloc(pool, ncap * sizeof(*n));
        if (t->num_entries) {
            memcpy(n, t->entries, (size_t)t->num_entries * sizeof(*n));
        }
        t->entries = n;
        *cap = ncap;
    }
    amqp_table_entry_t *e = &t->entries[t->num_entries++];
    e->key = bytes_of(name, strlen(name));
    e->value = value;
}

brg_err_t brg_rmq_envelope_to_props(const brg_envelope_t *env, const char *login_user,
                                    amqp_pool_t *pool, amqp_basic_properties_t *p,
                                    size_t *wire_size, char *errstr, size_t errstr_size)
{
    return brg_rmq_envelope_to_props_checked(env, login_user, pool, p, wire_size, NULL, NULL,
                                             errstr, errstr_size);
}

brg_err_t brg_rmq_envelope_to_props_checked(const brg_envelope_t *env, const char *login_user,
                                            amqp_pool_t *pool, amqp_basic_properties_t *p,
                                            size_t *wire_size, brg_rmq_loss_fn *loss,
                                            void *loss_ctx, char *errstr, size_t errstr_size)
{
    enc_t x = {pool, loss, loss_ctx};
    const brg_props_t *pr = &env->props;
    memset(p, 0, sizeof(*p));
    /* class id, weight, body size, property flags */
    size_t size = 2 + 2 + 8 + 2;
    brg_err_t rc;
#define SHORTSTR(flag, field, value, what)                                                        \
    rc = set_shortstr(p, flag, &p->field, value, what, &size, errstr, errstr_size);               \
    if (rc != BRG_OK) {                                                                           \
        return rc;                                                                                \
    }
    SHORTSTR(AMQP_BASIC_CONTENT_TYPE_FLAG, content_type, pr->content_type, "content_type");
    SHORTSTR(AMQP_BASIC_CONTENT_ENCODING_FLAG, content_encoding, pr->content_encoding,
             "content_encoding");
    SHORTSTR(AMQP_BASIC_CORRELATION_ID_FLAG, correlation_id, pr->correlation_id, "correlation_id");
    SHORTSTR(AMQP_BASIC_REPLY_TO_FLAG, reply_to, pr->reply_to, "reply_to");
    SHORTSTR(AMQP_BASIC_MESSAGE_ID_FLAG, message_id, pr->message_id, "message_id");
    SHORTSTR(AMQP_BASIC_TYPE_FLAG, type, pr->subject, "subject (type)");
    SHORTSTR(AMQP_BASIC_APP_ID_FLAG, app_id, pr->app_id, "app_id");
    bool user_id_moved = false;
    if (pr->user_id) {
        /* RabbitMQ closes the channel on a user_id other than the authenticated user. */
        if (login_user && strcmp(pr->user_id, login_user) == 0) {
            SHORTSTR(AMQP_BASIC_USER_ID_FLAG, user_id, pr->user_id, "user_id");
        } else {
            user_id_moved = true;
        }
    }
#undef SHORTSTR

    /* Persistent unless the source said transient (DESIGN.md section 3). */
    p->_flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
    p->delivery_mode = pr->durable == 0 ? 1 : 2;
    size += 1;
    if (pr->priority >= 0) {
        p->_flags |= AMQP_BASIC_PRIORITY_FLAG;
        p->priority = pr->priority > 255 ? 255 : (uint8_t)pr->priority;
        size += 1;
        if (pr->priority > 255 &&
            lost(&x, "priority", NULL, "priority above 255", errstr, errstr_size) != BRG_OK) {
            return BRG_ERR_INVALID;
        }
    }
    char *exp = NULL;
    if (pr->ttl_ms >= 0) {
        exp = pool_alloc(pool, 24);
        int n = snprintf(exp, 24, "%" PRId64, pr->ttl_ms);
        p->_flags |= AMQP_BASIC_EXPIRATION_FLAG;
        p->expiration = bytes_of(exp, (size_t)n);
        size += 1 + (size_t)n;
    }
    bool ts_ms_header = false;
    /* -1 is "absent"; anything below is a time before 1970, which the property cannot hold. */
    if (pr->timestamp_ms < -1 &&
        lost(&x, "timestamp", NULL, "timestamp before 1970", errstr, errstr_size) != BRG_OK) {
        return BRG_ERR_INVALID;
    }
    if (pr->timestamp_ms >= 0) {
        p->_flags |= AMQP_BASIC_TIMESTAMP_FLAG;
        p->timestamp = (uint64_t)(pr->timestamp_ms / 1000);
        size += 8;
        ts_ms_header = pr->timestamp_ms % 1000 != 0;
    }

    amqp_table_t t;
    rc = table_to_amqp(&env->headers, &x, &t, 0, NULL, errstr, errstr_size);
    if (rc != BRG_OK) {
        return rc;
    }
    size_t cap = (size_t)t.num_entries;
    amqp_field_value_t fv;
    if (env->key) {
        memset(&fv, 0, sizeof(fv));
        fv.kind = AMQP_FIELD_KIND_BYTES;
        fv.value.bytes = bytes_of(env->key, env->key_len);
        add_entry(&t, &cap, pool, BRG_RMQ_HDR_KEY, fv);
    }
    if (ts_ms_header) {
        memset(&fv, 0, sizeof(fv));
        fv.kind = AMQP_FIELD_KIND_I64;
        fv.value.i64 = pr->timestamp_ms;
        add_entry(&t, &cap, pool, BRG_RMQ_HDR_TIMESTAMP_MS, fv);
    }
    if (pr->group_id) {
        memset(&fv, 0, sizeof(fv));
        fv.kind = AMQP_FIELD_KIND_UTF8;
        fv.value.bytes = bytes_of(pr->group_id, strlen(pr->group_id));
        add_entry(&t, &cap, pool, BRG_RMQ_HDR_GROUP_ID, fv);
    }
    if (user_id_moved) {
        memset(&fv, 0, sizeof(fv));
        fv.kind = AMQP_FIELD_KIND_UTF8;
        fv.value.bytes = bytes_of(pr->user_id, strlen(pr->user_id));
        add_entry(&t, &cap, pool, BRG_RMQ_HDR_USER_ID, fv);
    }
    if (t.num_entries > 0) {
        p->_flags |= AMQP_BASIC_HEADERS_FLAG;
        p->headers = t;
        size += brg_rmq_table_wire_size(&t);
    }
    if (wire_size) {
        *wire_size = size;
    }
    return BRG_OK;
}
