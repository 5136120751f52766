/* A small AMQP 0-9-1 test client for the rabbitmq integration tests, written directly on
 * rabbitmq-c (it shares no code with the adapter, so it checks the adapter independently).
 *
 *   check_rabbitmq_client URL declare QUEUE [EXCHANGE BINDING_KEY] [--arg NAME=VALUE]...
 *                  (queue arguments: long strings, or longs when VALUE is all digits)
 *   check_rabbitmq_client URL declare-transient QUEUE        (not durable)
 *   check_rabbitmq_client URL declare-exchange NAME TYPE
 *   check_rabbitmq_client URL delete QUEUE
 *   check_rabbitmq_client URL count QUEUE
 *   check_rabbitmq_client URL publish EXCHANGE ROUTING_KEY N [opts]
 *   check_rabbitmq_client URL verify QUEUE N [opts]
 *   check_rabbitmq_client URL dump QUEUE MAX
 *   check_rabbitmq_client - lines N [--size B] [--start I]
 *                  prints "key-<i>\t<body>" lines (input for kcat -P -K '\t'), no broker
 *
 * Messages are numbered 0..N-1: the body is "msg-<i>-" padded to --size bytes. Options:
 *   --typed        properties of every kind and a header of every AMQP field type, nested
 *                  tables and an x-death array; verify compares them exactly, in order
 *   --key          a key in x-msgbridge-key (bytes "key-<i>") (the bridge's Kafka key)
 *   --header NAME  a header NAME = "NAME-<i>" (publish: long string; verify: string or bytes)
 *   --size B       body size (default 100)   --start I   first number (default 0)
 *   --transient    delivery mode 1           --timeout S verify gives up after S idle seconds
 *   --ignore NAME  verify: ignore header NAME (one the bridge adds, e.g. provenance)
 *   --untyped      verify with --typed: header names, order and string/bytes values must match,
 *                  the types and the other values are not compared (a hop that keeps only text)
 *   --const NAME=VALUE  publish: header NAME = VALUE (long string) on every message;
 *                  verify: header NAME is VALUE in every message (string or bytes)
 * verify consumes and acknowledges until every number was seen, then prints
 *   received R distinct D duplicates U missing M mismatched X
 * and exits 0 only if nothing is missing or mismatched. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#define MAX_OPT 16

typedef struct opts {
    bool typed, key, transient, untyped;
    const char *headers[MAX_OPT];
    int nheaders;
    const char *ignore[MAX_OPT];
    int nignore;
    char *consts[MAX_OPT]; /* "NAME=VALUE" */
    int nconsts;
    size_t size;
    long start;
    int timeout_s;
} opts_t;

static amqp_connection_state_t conn;
static char login_user[128] = "guest";

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "check_rabbitmq_client: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static void check_reply(amqp_rpc_reply_t r, const char *what)
{
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        return;
    }
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
        (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD || r.reply.id == AMQP_CONNECTION_CLOSE_METHOD)) {
        amqp_bytes_t t = r.reply.id == AMQP_CHANNEL_CLOSE_METHOD
                             ? ((amqp_channel_close_t *)r.reply.decoded)->reply_text
                             : ((amqp_connection_close_t *)r.reply.decoded)->reply_text;
        die("%s: %.*s", what, (int)t.len, (char *)t.bytes);
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
        die("%s: %s", what, amqp_error_string2(r.library_error));
    }
    die("%s: failed", what);
}

static void connect_url(const char *url)
{
    char *buf = strdup(url);
    struct amqp_connection_info ci;
    amqp_default_connection_info(&ci);
    if (amqp_parse_url(buf, &ci) != AMQP_STATUS_OK) {
        die("bad url %s", url);
    }
    snprintf(login_user, sizeof(login_user), "%s", ci.user);
    conn = amqp_new_connection();
    amqp_socket_t *s = amqp_tcp_socket_new(conn);
    int rc = amqp_socket_open(s, ci.host, ci.port);
    if (rc != AMQP_STATUS_OK) {
        die("connect %s:%d: %s", ci.host, ci.port, amqp_error_string2(rc));
    }
    check_reply(amqp_login(conn, ci.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, ci.user,
                           ci.password),
                "login");
    amqp_channel_open(conn, 1);
    check_reply(amqp_get_rpc_reply(conn), "channel.open");
    free(buf);
}

/* ---- the numbered messages ---------------------------------------------------------------- */

typedef struct gen {
    amqp_basic_properties_t p;
    amqp_table_entry_t hdr[32];
    amqp_table_entry_t inner[4], deep[1], death[6];
    amqp_field_value_t death_arr[1], rks[1];
    char strs[8][64];
    char hvals[MAX_OPT][160];
    uint8_t *body;
    size_t body_len;
} gen_t;

static amqp_table_entry_t entry(const char *key, char kind)
{
    amqp_table_entry_t e;
    memset(&e, 0, sizeof(e));
    e.key = amqp_cstring_bytes(key);
    e.value.kind = (uint8_t)kind;
    return e;
}

static amqp_table_entry_t str_entry(const char *key, char kind, const char *v, size_t len)
{
    amqp_table_entry_t e = entry(key, kind);
    e.value.value.bytes.bytes = (void *)v;
    e.value.value.bytes.len = len;
    return e;
}

static void generate(gen_t *g, long i, const opts_t *o)
{
    memset(&g->p, 0, sizeof(g->p));
    int n = snprintf((char *)g->body, o->size + 32, "msg-%ld-", i);
    size_t len = o->size > (size_t)n ? o->size : (size_t)n;
    for (size_t j = (size_t)n; j < len; j++) {
        /* Typed messages carry every byte value; simple ones stay printable for kcat. */
        g->body[j] = o->typed ? (uint8_t)((size_t)i * 31 + j) : (uint8_t)('a' + (j % 26));
    }
    g->body_len = len;
    int h = 0;
    g->p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    g->p.delivery_mode = o->transient ? 1 : 2;
    amqp_table_entry_t e = entry("seq", 'l');
    e.value.value.i64 = i;
    g->hdr[h++] = e;
    if (o->typed) {
        g->p._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CONTENT_ENCODING_FLAG |
                       AMQP_BASIC_PRIORITY_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG |
                       AMQP_BASIC_REPLY_TO_FLAG | AMQP_BASIC_EXPIRATION_FLAG |
                       AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG |
                       AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_USER_ID_FLAG | AMQP_BASIC_APP_ID_FLAG;
        g->p.content_type = amqp_cstring_bytes("application/x-test");
        g->p.content_encoding = amqp_cstring_bytes("identity");
        g->p.priority = (uint8_t)(i % 10);
        snprintf(g->strs[0], 64, "corr-%ld", i);
        g->p.correlation_id = amqp_cstring_bytes(g->strs[0]);
        g->p.reply_to = amqp_cstring_bytes("replies");
        g->p.expiration = amqp_cstring_bytes("3600000");
        snprintf(g->strs[1], 64, "id-%ld", i);
        g->p.message_id = amqp_cstring_bytes(g->strs[1]);
        g->p.timestamp = 1700000000u + (uint64_t)i;
        g->p.type = amqp_cstring_bytes("test.typed");
        g->p.user_id = amqp_cstring_bytes(login_user);
        g->p.app_id = amqp_cstring_bytes("rmq-client");
        e = entry("t", 't'); e.value.value.boolean = 1; g->hdr[h++] = e;
        e = entry("b", 'b'); e.value.value.i8 = -5; g->hdr[h++] = e;
        e = entry("B", 'B'); e.value.value.u8 = 200; g->hdr[h++] = e;
        e = entry("s", 's'); e.value.value.i16 = -300; g->hdr[h++] = e;
        e = entry("u", 'u'); e.value.value.u16 = 60000; g->hdr[h++] = e;
        e = entry("I", 'I'); e.value.value.i32 = -70000; g->hdr[h++] = e;
        e = entry("i", 'i'); e.value.value.u32 = 4000000000u; g->hdr[h++] = e;
        e = entry("l", 'l'); e.value.value.i64 = -5000000000000LL - i; g->hdr[h++] = e;
        e = entry("L", 'L'); e.value.value.u64 = 18000000000000000000ULL; g->hdr[h++] = e;
        e = entry("f", 'f'); e.value.value.f32 = 1.5f; g->hdr[h++] = e;
        e = entry("d", 'd'); e.value.value.f64 = 2.25 + (double)i; g->hdr[h++] = e;
        e = entry("D", 'D'); e.value.value.decimal.decimals = 2;
        e.value.value.decimal.value = 12345; g->hdr[h++] = e;
        e = entry("T", 'T'); e.value.value.u64 = 1700000000u; g->hdr[h++] = e;
        snprintf(g->strs[2], 64, "text-%ld", i);
        g->hdr[h++] = str_entry("S", 'S', g->strs[2], strlen(g->strs[2]));
        g->strs[3][0] = 0;
        g->strs[3][1] = 1;
        int bl = snprintf(g->strs[3] + 2, 60, "bin-%ld", i) + 2;
        g->hdr[h++] = str_entry("x", 'x', g->strs[3], (size_t)bl);
        g->hdr[h++] = entry("V", 'V');
        /* F: {a: I 1, b: S "x", nested: {deep: t}} */
        e = entry("a", 'I'); e.value.value.i32 = 1; g->inner[0] = e;
        g->inner[1] = str_entry("b", 'S', "x", 1);
        e = entry("deep", 't'); e.value.value.boolean = 1; g->deep[0] = e;
        e = entry("nested", 'F'); e.value.value.table.num_entries = 1;
        e.value.value.table.entries = g->deep; g->inner[2] = e;
        e = entry("F", 'F'); e.value.value.table.num_entries = 3;
        e.value.value.table.entries = g->inner; g->hdr[h++] = e;
        /* x-death as RabbitMQ writes it */
        e = entry("count", 'l'); e.value.value.i64 = 1; g->death[0] = e;
        g->death[1] = str_entry("reason", 'S', "rejected", 8);
        g->death[2] = str_entry("queue", 'S', "orders", 6);
        e = entry("time", 'T'); e.value.value.u64 = 1700000000u; g->death[3] = e;
        g->death[4] = str_entry("exchange", 'S', "", 0);
        memset(&g->rks[0], 0, sizeof(g->rks[0]));
        g->rks[0].kind = 'S';
        g->rks[0].value.bytes = amqp_cstring_bytes("orders.eu");
        e = entry("routing-keys", 'A'); e.value.value.array.num_entries = 1;
        e.value.value.array.entries = g->rks; g->death[5] = e;
        memset(&g->death_arr[0], 0, sizeof(g->death_arr[0]));
        g->death_arr[0].kind = 'F';
        g->death_arr[0].value.table.num_entries = 6;
        g->death_arr[0].value.table.entries = g->death;
        e = entry("x-death", 'A'); e.value.value.array.num_entries = 1;
        e.value.value.array.entries = g->death_arr; g->hdr[h++] = e;
    }
    for (int k = 0; k < o->nheaders; k++) {
        int l = snprintf(g->hvals[k], sizeof(g->hvals[k]), "%s-%ld", o->headers[k], i);
        g->hdr[h++] = str_entry(o->headers[k], 'S', g->hvals[k], (size_t)l);
    }
    for (int k = 0; k < o->nconsts; k++) {
        const char *eq = strchr(o->consts[k], '=');
        amqp_table_entry_t c = str_entry("", 'S', eq + 1, strlen(eq + 1));
        c.key.bytes = o->consts[k];
        c.key.len = (size_t)(eq - o->consts[k]);
        g->hdr[h++] = c;
    }
    if (o->key) {
        int l = snprintf(g->strs[4], 64, "key-%ld", i);
        g->hdr[h++] = str_entry("x-msgbridge-key", 'x', g->strs[4], (size_t)l);
    }
    g->p._flags |= AMQP_BASIC_HEADERS_FLAG;
    g->p.headers.num_entries = h;
    g->p.headers.entries = g->hdr;
}

/* ---- canonical text of a message, for exact comparison ------------------------------------ */

typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)n + 64;
        b->s = realloc(b->s, b->cap);
    }
}

static void sb_bytes(sbuf_t *b, amqp_bytes_t v)
{
    sb_add(b, "\"");
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = ((unsigned char *)v.bytes)[i];
        if (c >= 32 && c < 127 && c != '"' && c != '\\') {
            sb_add(b, "%c", c);
        } else {
            sb_add(b, "\\x%02x", c);
        }
    }
    sb_add(b, "\"");
}

static void sb_table(sbuf_t *b, const amqp_table_t *t, const opts_t *o, bool top);

static void sb_value(sbuf_t *b, const amqp_field_value_t *v, const opts_t *o)
{
    if (o->untyped) {
        /* Names and order only here; string and bytes values are compared separately. */
        sb_add(b, "?");
        return;
    }
    sb_add(b, "%c:", v->kind);
    switch (v->kind) {
    case 't': sb_add(b, "%d", v->value.boolean); break;
    case 'b': sb_add(b, "%d", v->value.i8); break;
    case 'B': sb_add(b, "%u", v->value.u8); break;
    case 's': sb_add(b, "%d", v->value.i16); break;
    case 'u': sb_add(b, "%u", v->value.u16); break;
    case 'I': sb_add(b, "%" PRId32, v->value.i32); break;
    case 'i': sb_add(b, "%" PRIu32, v->value.u32); break;
    case 'l': sb_add(b, "%" PRId64, v->value.i64); break;
    case 'L': sb_add(b, "%" PRIu64, v->value.u64); break;
    case 'f': sb_add(b, "%.9g", v->value.f32); break;
    case 'd': sb_add(b, "%.17g", v->value.f64); break;
    case 'D': sb_add(b, "%u/%u", v->value.decimal.decimals, v->value.decimal.value); break;
    case 'T': sb_add(b, "%" PRIu64, v->value.u64); break;
    case 'S':
    case 'x': sb_bytes(b, v->value.bytes); break;
    case 'V': break;
    case 'F': sb_table(b, &v->value.table, o, false); break;
    case 'A':
        sb_add(b, "[");
        for (int i = 0; i < v->value.array.num_entries; i++) {
            sb_value(b, &v->value.array.entries[i], o);
            sb_add(b, ",");
        }
        sb_add(b, "]");
        break;
    default: sb_add(b, "?"); break;
    }
}

static bool ignored(const opts_t *o, amqp_bytes_t key)
{
    for (int i = 0; i < o->nignore; i++) {
        if (strlen(o->ignore[i]) == key.len && memcmp(o->ignore[i], key.bytes, key.len) == 0) {
            return true;
        }
    }
    return false;
}

static void sb_table(sbuf_t *b, const amqp_table_t *t, const opts_t *o, bool top)
{
    sb_add(b, "{");
    for (int i = 0; i < t->num_entries; i++) {
        if (top && ignored(o, t->entries[i].key)) {
            continue;
        }
        sb_bytes(b, t->entries[i].key);
        sb_add(b, "=");
        sb_value(b, &t->entries[i].value, o);
        sb_add(b, ",");
    }
    sb_add(b, "}");
}

static char *canonical(const amqp_basic_properties_t *p, amqp_bytes_t body, const opts_t *o)
{
    sbuf_t b = {malloc(256), 0, 256};
    b.s[0] = 0;
#define PSTR(flag, field)                                                                         \
    if (p->_flags & flag) {                                                                       \
        sb_add(&b, #field "=");                                                                   \
        sb_bytes(&b, p->field);                                                                   \
        sb_add(&b, " ");                                                                          \
    }
    PSTR(AMQP_BASIC_CONTENT_TYPE_FLAG, content_type)
    PSTR(AMQP_BASIC_CONTENT_ENCODING_FLAG, content_encoding)
    PSTR(AMQP_BASIC_CORRELATION_ID_FLAG, correlation_id)
    PSTR(AMQP_BASIC_REPLY_TO_FLAG, reply_to)
    PSTR(AMQP_BASIC_EXPIRATION_FLAG, expiration)
    PSTR(AMQP_BASIC_MESSAGE_ID_FLAG, message_id)
    PSTR(AMQP_BASIC_TYPE_FLAG, type)
    PSTR(AMQP_BASIC_USER_ID_FLAG, user_id)
    PSTR(AMQP_BASIC_APP_ID_FLAG, app_id)
#undef PSTR
    if (p->_flags & AMQP_BASIC_DELIVERY_MODE_FLAG) {
        sb_add(&b, "delivery_mode=%u ", p->delivery_mode);
    }
    if (p->_flags & AMQP_BASIC_PRIORITY_FLAG) {
        sb_add(&b, "priority=%u ", p->priority);
    }
    if (p->_flags & AMQP_BASIC_TIMESTAMP_FLAG) {
        sb_add(&b, "timestamp=%" PRIu64 " ", p->timestamp);
    }
    if (p->_flags & AMQP_BASIC_HEADERS_FLAG) {
        sb_add(&b, "headers=");
        sb_table(&b, &p->headers, o, true);
        sb_add(&b, " ");
    }
    sb_add(&b, "body=");
    sb_bytes(&b, body);
    return b.s;
}

/* ---- commands ----------------------------------------------------------------------------- */

static void parse_opts(int argc, char **argv, int from, opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->size = 100;
    o->timeout_s = 30;
    for (int i = from; i < argc; i++) {
        if (strcmp(argv[i], "--typed") == 0) {
            o->typed = true;
        } else if (strcmp(argv[i], "--key") == 0) {
            o->key = true;
        } else if (strcmp(argv[i], "--untyped") == 0) {
            o->untyped = true;
        } else if (strcmp(argv[i], "--transient") == 0) {
            o->transient = true;
        } else if (strcmp(argv[i], "--header") == 0 && i + 1 < argc && o->nheaders < MAX_OPT) {
            o->headers[o->nheaders++] = argv[++i];
        } else if (strcmp(argv[i], "--ignore") == 0 && i + 1 < argc && o->nignore < MAX_OPT) {
            o->ignore[o->nignore++] = argv[++i];
        } else if (strcmp(argv[i], "--const") == 0 && i + 1 < argc && o->nconsts < MAX_OPT &&
                   strchr(argv[i + 1], '=')) {
            o->consts[o->nconsts++] = argv[++i];
        } else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
            o->size = (size_t)atol(argv[++i]);
        } else if (strcmp(argv[i], "--start") == 0 && i + 1 < argc) {
            o->start = atol(argv[++i]);
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            o->timeout_s = atoi(argv[++i]);
        } else {
            die("unknown option %s", argv[i]);
        }
    }
}

/* Wait for confirms up to and including seq (publisher confirms, channel 1). */
static void wait_confirms(uint64_t upto, uint64_t *confirmed)
{
    while (*confirmed < upto) {
        amqp_frame_t f;
        struct timeval tv = {30, 0};
        int rc = amqp_simple_wait_frame_noblock(conn, &f, &tv);
        if (rc != AMQP_STATUS_OK) {
            die("waiting for confirms: %s", amqp_error_string2(rc));
        }
        if (f.frame_type != AMQP_FRAME_METHOD) {
            continue;
        }
        if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            amqp_basic_ack_t *a = f.payload.method.decoded;
            if (a->delivery_tag > *confirmed) {
                *confirmed = a->delivery_tag;
            }
        } else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            die("the broker nacked a publish");
        } else if (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
            amqp_channel_close_t *m = f.payload.method.decoded;
            die("channel closed: %.*s", (int)m->reply_text.len, (char *)m->reply_text.bytes);
        }
        amqp_maybe_release_buffers(conn);
    }
}

static int cmd_publish(const char *exchange, const char *rk, long n, const opts_t *o)
{
    amqp_confirm_select(conn, 1);
    check_reply(amqp_get_rpc_reply(conn), "confirm.select");
    gen_t *g = calloc(1, sizeof(*g));
    g->body = malloc(o->size + 64);
    uint64_t seq = 0, confirmed = 0;
    for (long i = o->start; i < o->start + n; i++) {
        generate(g, i, o);
        amqp_bytes_t body = {g->body_len, g->body};
        int rc = amqp_basic_publish(conn, 1, amqp_cstring_bytes(exchange), amqp_cstring_bytes(rk), 0,
                                    0, &g->p, body);
        if (rc != AMQP_STATUS_OK) {
            die("publish %ld: %s", i, amqp_error_string2(rc));
        }
        seq++;
        /* Pipelined: at most 1000 unconfirmed. */
        if (seq - confirmed >= 1000) {
            wait_confirms(seq - 500, &confirmed);
        }
    }
    wait_confirms(seq, &confirmed);
    printf("published %ld\n", n);
    free(g->body);
    free(g);
    return 0;
}

static long body_seq(amqp_bytes_t body)
{
    if (body.len < 5 || memcmp(body.bytes, "msg-", 4) != 0) {
        return -1;
    }
    const char *s = (const char *)body.bytes + 4;
    long v = 0;
    size_t i = 4;
    bool any = false;
    while (i < body.len && *s >= '0' && *s <= '9') {
        v = v * 10 + (*s - '0');
        s++;
        i++;
        any = true;
    }
    return any ? v : -1;
}

static bool header_matches(const amqp_table_t *t, const char *name, const char *want)
{
    for (int i = 0; i < t->num_entries; i++) {
        const amqp_table_entry_t *e = &t->entries[i];
        if (e->key.len == strlen(name) && memcmp(e->key.bytes, name, e->key.len) == 0) {
            if (e->value.kind != 'S' && e->value.kind != 'x') {
                return false;
            }
            return e->value.value.bytes.len == strlen(want) &&
                   memcmp(e->value.value.bytes.bytes, want, strlen(want)) == 0;
        }
    }
    return false;
}

/* Header NAME is a string or bytes equal to want. */
static bool header_bytes_equal(const amqp_table_t *t, const char *name, amqp_bytes_t want)
{
    for (int i = 0; i < t->num_entries; i++) {
        const amqp_table_entry_t *e = &t->entries[i];
        if (e->key.len == strlen(name) && memcmp(e->key.bytes, name, e->key.len) == 0) {
            return (e->value.kind == 'S' || e->value.kind == 'x') &&
                   e->value.value.bytes.len == want.len &&
                   (want.len == 0 || memcmp(e->value.value.bytes.bytes, want.bytes, want.len) == 0);
        }
    }
    return false;
}

static int cmd_verify(const char *queue, long n, const opts_t *o)
{
    amqp_basic_qos(conn, 1, 0, 1000, 0);
    check_reply(amqp_get_rpc_reply(conn), "basic.qos");
    amqp_basic_consume(conn, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0,
                       amqp_empty_table);
    check_reply(amqp_get_rpc_reply(conn), "basic.consume");
    uint8_t *seen = calloc((size_t)n, 1);
    gen_t *g = calloc(1, sizeof(*g));
    g->body = malloc(o->size + 64);
    long received = 0, distinct = 0, dups = 0, bad = 0;
    uint64_t last_tag = 0, acked = 0;
    while (distinct < n) {
        amqp_envelope_t env;
        amqp_maybe_release_buffers(conn);
        struct timeval tv = {o->timeout_s, 0};
        amqp_rpc_reply_t r = amqp_consume_message(conn, &env, &tv, 0);
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            r.library_error == AMQP_STATUS_TIMEOUT) {
            fprintf(stderr, "verify: idle for %d s with %ld of %ld\n", o->timeout_s, distinct, n);
            break;
        }
        if (r.reply_type != AMQP_RESPONSE_NORMAL) {
            if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
                r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
                amqp_frame_t f;
                if (amqp_simple_wait_frame(conn, &f) != AMQP_STATUS_OK) {
                    die("connection lost");
                }
                if (f.frame_type == AMQP_FRAME_METHOD &&
                    (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
                     f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD ||
                     f.payload.method.id == AMQP_BASIC_CANCEL_METHOD)) {
                    die("consumer stopped by the broker");
                }
                continue;
            }
            check_reply(r, "consume");
        }
        received++;
        last_tag = env.delivery_tag;
        long seq = body_seq(env.message.body) - o->start;
        if (seq < 0 || seq >= n) {
            if (bad < 5) {
                char *c = canonical(&env.message.properties, env.message.body, o);
                fprintf(stderr, "verify: unexpected message: %.300s\n", c);
                free(c);
            }
            bad++;
        } else if (seen[seq]) {
            dups++;
        } else {
            seen[seq] = 1;
            distinct++;
            bool ok = true;
            generate(g, seq + o->start, o);
            amqp_bytes_t gb = {g->body_len, g->body};
            if (o->typed) {
                char *want = canonical(&g->p, gb, o);
                char *got = canonical(&env.message.properties, env.message.body, o);
                /* --untyped: the expected string and bytes values, whatever their type now. */
                for (int k = 0; o->untyped && k < g->p.headers.num_entries; k++) {
                    const amqp_table_entry_t *e = &g->p.headers.entries[k];
                    if (e->value.kind != 'S' && e->value.kind != 'x') {
                        continue;
                    }
                    char name[256];
                    snprintf(name, sizeof(name), "%.*s", (int)e->key.len, (char *)e->key.bytes);
                    if (!header_bytes_equal(&env.message.properties.headers, name,
                                            e->value.value.bytes)) {
                        ok = false;
                    }
                }
                if (strcmp(want, got) != 0) {
                    ok = false;
                    if (bad < 3) {
                        fprintf(stderr, "verify: message %ld differs\n  want %s\n  got  %s\n",
                                seq + o->start, want, got);
                    }
                }
                free(want);
                free(got);
            } else {
                if (env.message.body.len != gb.len ||
                    memcmp(env.message.body.bytes, gb.bytes, gb.len) != 0) {
                    ok = false;
                }
                const amqp_table_t *t = &env.message.properties.headers;
                char want[200];
                for (int k = 0; k < o->nheaders && ok; k++) {
                    snprintf(want, sizeof(want), "%s-%ld", o->headers[k], seq + o->start);
                    ok = header_matches(t, o->headers[k], want);
                }
                for (int k = 0; k < o->nconsts && ok; k++) {
                    char name[128];
                    const char *eq = strchr(o->consts[k], '=');
                    snprintf(name, sizeof(name), "%.*s", (int)(eq - o->consts[k]), o->consts[k]);
                    ok = header_matches(t, name, eq + 1);
                }
                if (o->key && ok) {
                    snprintf(want, sizeof(want), "key-%ld", seq + o->start);
                    ok = header_matches(t, "x-msgbridge-key", want);
                }
                if (!ok && bad < 3) {
                    char *c = canonical(&env.message.properties, env.message.body, o);
                    fprintf(stderr, "verify: message %ld differs: %.400s\n", seq + o->start, c);
                    free(c);
                }
            }
            if (!ok) {
                bad++;
            }
        }
        amqp_destroy_envelope(&env);
        if (last_tag - acked >= 200) {
            amqp_basic_ack(conn, 1, last_tag, 1);
            acked = last_tag;
        }
    }
    if (last_tag > acked) {
        amqp_basic_ack(conn, 1, last_tag, 1);
    }
    long missing = n - distinct;
    printf("received %ld distinct %ld duplicates %ld missing %ld mismatched %ld\n", received,
           distinct, dups, missing, bad);
    if (missing > 0) {
        int shown = 0;
        fprintf(stderr, "verify: missing:");
        for (long i = 0; i < n && shown < 10; i++) {
            if (!seen[i]) {
                fprintf(stderr, " %ld", i + o->start);
                shown++;
            }
        }
        fprintf(stderr, "%s\n", missing > 10 ? " ..." : "");
    }
    free(seen);
    free(g->body);
    free(g);
    return missing == 0 && bad == 0 ? 0 : 1;
}

static int cmd_dump(const char *queue, long max)
{
    opts_t o;
    memset(&o, 0, sizeof(o));
    for (long i = 0; i < max; i++) {
        amqp_rpc_reply_t r = amqp_basic_get(conn, 1, amqp_cstring_bytes(queue), 1);
        check_reply(r, "basic.get");
        if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) {
            break;
        }
        amqp_message_t m;
        check_reply(amqp_read_message(conn, 1, &m, 0), "read message");
        char *c = canonical(&m.properties, m.body, &o);
        printf("%s\n", c);
        free(c);
        amqp_destroy_message(&m);
    }
    return 0;
}

/* Lines "key-<i>\t<body>" for kcat -P -K '\t': the same bodies as publish. */
static int cmd_lines(long n, const opts_t *o)
{
    gen_t *g = calloc(1, sizeof(*g));
    g->body = malloc(o->size + 64);
    for (long i = o->start; i < o->start + n; i++) {
        generate(g, i, o);
        printf("key-%ld\t%.*s\n", i, (int)g->body_len, (const char *)g->body);
    }
    free(g->body);
    free(g);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[2], "lines") == 0) {
        opts_t lo;
        parse_opts(argc, argv, 4, &lo);
        return cmd_lines(atol(argv[3]), &lo);
    }
    if (argc < 4) {
        fprintf(stderr, "usage: %s URL declare|declare-exchange|delete|count|publish|verify|dump "
                        "ARGS... (see the source)\n", argv[0]);
        return 2;
    }
    connect_url(argv[1]);
    const char *cmd = argv[2];
    int rc = 0;
    opts_t o;
    if (strcmp(cmd, "declare") == 0) {
        /* Positional EXCHANGE BINDING_KEY, then --arg NAME=VALUE options. */
        int npos = 4;
        while (npos < argc && strncmp(argv[npos], "--", 2) != 0) {
            npos++;
        }
        amqp_table_entry_t qa[MAX_OPT];
        int nqa = 0;
        for (int i = npos; i < argc; i++) {
            char *eq = i + 1 < argc ? strchr(argv[i + 1], '=') : NULL;
            if (strcmp(argv[i], "--arg") != 0 || !eq || nqa == MAX_OPT) {
                die("bad declare option %s", argv[i]);
            }
            *eq = 0;
            const char *v = eq + 1;
            bool digits = *v != 0 && strspn(v, "0123456789") == strlen(v);
            qa[nqa] = digits ? entry(argv[i + 1], 'l') : str_entry(argv[i + 1], 'S', v, strlen(v));
            if (digits) {
                qa[nqa].value.value.i64 = atoll(v);
            }
            nqa++;
            i++;
        }
        amqp_table_t qargs = {nqa, qa};
        amqp_queue_declare(conn, 1, amqp_cstring_bytes(argv[3]), 0, 1, 0, 0, qargs);
        check_reply(amqp_get_rpc_reply(conn), "queue.declare");
        if (npos >= 6) {
            amqp_queue_bind(conn, 1, amqp_cstring_bytes(argv[3]), amqp_cstring_bytes(argv[4]),
                            amqp_cstring_bytes(argv[5]), amqp_empty_table);
            check_reply(amqp_get_rpc_reply(conn), "queue.bind");
        }
    } else if (strcmp(cmd, "declare-transient") == 0) {
        amqp_queue_declare(conn, 1, amqp_cstring_bytes(argv[3]), 0, 0, 0, 0, amqp_empty_table);
        check_reply(amqp_get_rpc_reply(conn), "queue.declare");
    } else if (strcmp(cmd, "declare-exchange") == 0 && argc >= 5) {
        amqp_exchange_declare(conn, 1, amqp_cstring_bytes(argv[3]), amqp_cstring_bytes(argv[4]), 0,
                              1, 0, 0, amqp_empty_table);
        check_reply(amqp_get_rpc_reply(conn), "exchange.declare");
    } else if (strcmp(cmd, "delete") == 0) {
        amqp_queue_delete(conn, 1, amqp_cstring_bytes(argv[3]), 0, 0);
        check_reply(amqp_get_rpc_reply(conn), "queue.delete");
    } else if (strcmp(cmd, "count") == 0) {
        amqp_queue_declare_ok_t *ok =
            amqp_queue_declare(conn, 1, amqp_cstring_bytes(argv[3]), 1, 0, 0, 0, amqp_empty_table);
        check_reply(amqp_get_rpc_reply(conn), "queue.declare");
        printf("%u\n", ok->message_count);
    } else if (strcmp(cmd, "publish") == 0 && argc >= 6) {
        parse_opts(argc, argv, 6, &o);
        rc = cmd_publish(argv[3], argv[4], atol(argv[5]), &o);
    } else if (strcmp(cmd, "verify") == 0 && argc >= 5) {
        parse_opts(argc, argv, 5, &o);
        rc = cmd_verify(argv[3], atol(argv[4]), &o);
    } else if (strcmp(cmd, "dump") == 0 && argc >= 5) {
        rc = cmd_dump(argv[3], atol(argv[4]));
    } else {
        die("bad command or arguments: %s", cmd);
    }
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    return rc;
}
