/* Bad-input test client: writes odd messages into Kafka and RabbitMQ and prints what a
 * consumer sees there, exactly (absent vs empty keys, null header values, invalid UTF-8
 * names, huge and deeply nested header tables, huge bodies). It uses librdkafka and
 * rabbitmq-c directly and shares no code with msgbridge's adapters, so it checks them
 * independently.
 *
 *   badinput_client kproduce BROKERS TOPIC      < SPECS   one record per spec line
 *   badinput_client kdump BROKERS TOPIC N IDLE_S         print N records (or until idle)
 *   badinput_client rpublish URL EXCHANGE RK     < SPECS   one message per spec line,
 *                                                         publisher confirms
 *   badinput_client rdump URL QUEUE N IDLE_S             print N messages (basic.get + ack)
 *
 * A spec line is whitespace-separated tokens; TEXT may use \xHH escapes (\x20 is a space):
 *   key=TEXT        the key (Kafka record key; RabbitMQ header x-msgbridge-key, bytes)
 *   body=TEXT       the body / record value       size=N   N bytes "0123456789abcdef..."
 *   nobody          Kafka: a null value (tombstone)
 *   h=NAME=TEXT     a header (Kafka bytes; AMQP long string S)
 *   hnull=NAME      a header without value (Kafka null; AMQP void V)
 *   hmany=N         N headers h0..h(N-1) (Kafka "1"; AMQP boolean t)
 *   deep=D          AMQP: header "deep", a table nested D levels, innermost {leaf: t}
 * The name of a header is bytes too: h=\xff\xfe=x names a header with two non-UTF-8 bytes.
 *
 * Dump lines: "key=absent|key="..." body=len:N:fnv:HASH|body="..." hcount=N h=[...]",
 * bytes escaped as \xHH outside printable ASCII, bodies longer than 200 bytes summarized.
 * AMQP values are KIND:VALUE (S:"x", x:"..", V, t:1, l:-5, F{...}, A[...]).
 * Exit status 0 when everything was written / N messages were read, 1 otherwise, 2 on
 * usage or connection errors. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <librdkafka/rdkafka.h>

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "badinput_client: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        die("out of memory (%zu bytes)", n);
    }
    return p;
}

/* ---- byte strings and the spec language ------------------------------------------------- */

typedef struct bytes {
    char *p; /* NULL: absent / null */
    size_t len;
} bytes_t;

/* Decode TEXT with \xHH escapes up to END (exclusive) or a NUL. */
static bytes_t unescape(const char *s, const char *end)
{
    if (!end) {
        end = s + strlen(s);
    }
    bytes_t b = {xmalloc((size_t)(end - s) + 1), 0};
    while (s < end) {
        unsigned v;
        if (s[0] == '\\' && s[1] == 'x' && end - s >= 4 && sscanf(s + 2, "%2x", &v) == 1) {
            b.p[b.len++] = (char)v;
            s += 4;
        } else {
            b.p[b.len++] = *s++;
        }
    }
    b.p[b.len] = 0;
    return b;
}

typedef enum { H_TEXT, H_NULL, H_BOOL, H_DEEP } hkind_t;

typedef struct header {
    bytes_t name;
    bytes_t value;
    hkind_t kind;
    int depth;
} header_t;

typedef struct spec {
    bytes_t key, body; /* key.p NULL: no key; body.p NULL: null value */
    header_t *h;
    size_t nh, caph;
} spec_t;

static void add_header(spec_t *s, header_t h)
{
    if (s->nh == s->caph) {
        s->caph = s->caph ? s->caph * 2 : 16;
        s->h = realloc(s->h, s->caph * sizeof(header_t));
        if (!s->h) {
            die("out of memory");
        }
    }
    s->h[s->nh++] = h;
}

static bool parse_spec(char *line, spec_t *s)
{
    memset(s, 0, sizeof(*s));
    s->body = unescape("", NULL);
    bool any = false;
    for (char *tok = strtok(line, " \t\r\n"); tok; tok = strtok(NULL, " \t\r\n")) {
        any = true;
        if (strncmp(tok, "key=", 4) == 0) {
            s->key = unescape(tok + 4, NULL);
        } else if (strncmp(tok, "body=", 5) == 0) {
            free(s->body.p);
            s->body = unescape(tok + 5, NULL);
        } else if (strncmp(tok, "size=", 5) == 0) {
            free(s->body.p);
            s->body.len = (size_t)atol(tok + 5);
            s->body.p = xmalloc(s->body.len + 1);
            for (size_t i = 0; i < s->body.len; i++) {
                s->body.p[i] = "0123456789abcdef"[i % 16];
            }
        } else if (strcmp(tok, "nobody") == 0) {
            free(s->body.p);
            s->body.p = NULL;
            s->body.len = 0;
        } else if (strncmp(tok, "h=", 2) == 0) {
            /* The name ends at the first '=' that is not part of an escape. */
            const char *eq = strchr(tok + 2, '=');
            if (!eq) {
                die("bad token %s (h=NAME=VALUE)", tok);
            }
            header_t h = {unescape(tok + 2, eq), unescape(eq + 1, NULL), H_TEXT, 0};
            add_header(s, h);
        } else if (strncmp(tok, "hnull=", 6) == 0) {
            header_t h = {unescape(tok + 6, NULL), {NULL, 0}, H_NULL, 0};
            add_header(s, h);
        } else if (strncmp(tok, "hmany=", 6) == 0) {
            long n = atol(tok + 6);
            for (long i = 0; i < n; i++) {
                char name[32];
                snprintf(name, sizeof(name), "h%ld", i);
                header_t h = {unescape(name, NULL), unescape("1", NULL), H_BOOL, 0};
                add_header(s, h);
            }
        } else if (strncmp(tok, "deep=", 5) == 0) {
            header_t h = {unescape("deep", NULL), {NULL, 0}, H_DEEP, atoi(tok + 5)};
            add_header(s, h);
        } else {
            die("unknown spec token %s", tok);
        }
    }
    return any;
}

static void free_spec(spec_t *s)
{
    free(s->key.p);
    free(s->body.p);
    for (size_t i = 0; i < s->nh; i++) {
        free(s->h[i].name.p);
        free(s->h[i].value.p);
    }
    free(s->h);
}

/* ---- printing ---------------------------------------------------------------------------- */

static void put_bytes(FILE *out, const void *p, size_t len)
{
    const unsigned char *c = p;
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        if (c[i] >= 32 && c[i] < 127 && c[i] != '"' && c[i] != '\\') {
            fputc(c[i], out);
        } else {
            fprintf(out, "\\x%02x", c[i]);
        }
    }
    fputc('"', out);
}

/* A body: as text when short, else its length and FNV-1a hash. */
static void put_body(FILE *out, const void *p, size_t len)
{
    if (!p) {
        fputs("body=null", out);
        return;
    }
    if (len <= 200) {
        fputs("body=", out);
        put_bytes(out, p, len);
        return;
    }
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ULL;
    }
    fprintf(out, "body=len:%zu:fnv:%016" PRIx64, len, h);
}

/* ---- Kafka --------------------------------------------------------------------------------- */

static long kfailed;

static void kdr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err) {
        kfailed++;
        fprintf(stderr, "badinput_client: delivery failed: %s\n", rd_kafka_err2str(m->err));
    }
}

static rd_kafka_conf_t *kconf(const char *brokers)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* Large enough for the 16 MiB records of the huge-body test. */
    const char *kv[][2] = {
        {"bootstrap.servers", brokers},   {"message.max.bytes", "40000000"},
        {"fetch.max.bytes", "40000000"},  {"max.partition.fetch.bytes", "40000000"},
        {"receive.message.max.bytes", "80000000"}, {"log_level", "3"},
    };
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            die("%s", err);
        }
    }
    return conf;
}

static int cmd_kproduce(const char *brokers, const char *topic)
{
    char err[512];
    rd_kafka_conf_t *conf = kconf(brokers);
    rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err));
    rd_kafka_conf_set_dr_msg_cb(conf, kdr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        die("%s", err);
    }
    size_t cap = 1 << 20;
    char *line = xmalloc(cap);
    long n = 0;
    while (fgets(line, (int)cap, stdin)) {
        spec_t s;
        if (!parse_spec(line, &s)) {
            continue;
        }
        rd_kafka_headers_t *hdrs = rd_kafka_headers_new(s.nh ? s.nh : 1);
        for (size_t i = 0; i < s.nh; i++) {
            /* librdkafka header names are C strings: a name cannot hold a NUL byte. */
            rd_kafka_header_add(hdrs, s.h[i].name.p, (ssize_t)s.h[i].name.len,
                                s.h[i].kind == H_NULL ? NULL : s.h[i].value.p,
                                s.h[i].kind == H_NULL ? 0 : (ssize_t)s.h[i].value.len);
        }
        rd_kafka_resp_err_t e;
        do {
            e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_KEY(s.key.p, s.key.len),
                                  RD_KAFKA_V_VALUE(s.body.p, s.body.len),
                                  RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 100);
            }
        } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        if (e) {
            rd_kafka_headers_destroy(hdrs);
            die("produce: %s", rd_kafka_err2str(e));
        }
        rd_kafka_poll(rk, 0);
        free_spec(&s);
        n++;
    }
    free(line);
    rd_kafka_flush(rk, 60000);
    long left = rd_kafka_outq_len(rk);
    rd_kafka_destroy(rk);
    if (left || kfailed) {
        fprintf(stderr, "badinput_client: %ld records not delivered\n", left + kfailed);
        return 1;
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmd_kdump(const char *brokers, const char *topic, long want, double idle_s)
{
    char err[512], group[128];
    rd_kafka_conf_t *conf = kconf(brokers);
    snprintf(group, sizeof(group), "badinput-dump-%ld-%ld", (long)getpid(), (long)time(NULL));
    rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err));
    rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
    rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        die("%s", err);
    }
    rd_kafka_poll_set_consumer(rk);
    /* Partition 0 from the beginning, no group join (quicker on the mock cluster). */
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tl, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, tl);
    rd_kafka_topic_partition_list_destroy(tl);
    long got = 0;
    double last = now_s();
    while (got < want && now_s() - last < idle_s) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            continue;
        }
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                fprintf(stderr, "badinput_client: consume: %s\n", rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        last = now_s();
        got++;
        printf("offset=%" PRId64 " key=", m->offset);
        if (m->key) {
            put_bytes(stdout, m->key, m->key_len);
        } else {
            fputs("absent", stdout);
        }
        putchar(' ');
        put_body(stdout, m->payload, m->len);
        rd_kafka_headers_t *h = NULL;
        size_t nh = rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR && h
                        ? rd_kafka_header_cnt(h)
                        : 0;
        printf(" hcount=%zu h=[", nh);
        for (size_t i = 0; i < nh; i++) {
            const char *name;
            const void *val;
            size_t vlen;
            rd_kafka_header_get_all(h, i, &name, &val, &vlen);
            put_bytes(stdout, name, strlen(name));
            putchar('=');
            if (val) {
                put_bytes(stdout, val, vlen);
            } else {
                fputs("null", stdout);
            }
            putchar(i + 1 < nh ? ',' : ']');
        }
        if (!nh) {
            putchar(']');
        }
        putchar('\n');
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    fflush(stdout);
    if (got < want) {
        fprintf(stderr, "badinput_client: read %ld of %ld records\n", got, want);
        return 1;
    }
    return 0;
}

/* ---- RabbitMQ ------------------------------------------------------------------------------ */

static amqp_connection_state_t conn;

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

static void rconnect(const char *url)
{
    char *buf = strdup(url);
    struct amqp_connection_info ci;
    amqp_default_connection_info(&ci);
    if (amqp_parse_url(buf, &ci) != AMQP_STATUS_OK) {
        die("bad url %s", url);
    }
    conn = amqp_new_connection();
    amqp_socket_t *s = amqp_tcp_socket_new(conn);
    int rc = amqp_socket_open(s, ci.host, ci.port);
    if (rc != AMQP_STATUS_OK) {
        die("connect %s:%d: %s", ci.host, ci.port, amqp_error_string2(rc));
    }
    /* The broker's frame_max (131072 by default) bounds one message's properties and headers. */
    check_reply(amqp_login(conn, ci.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, ci.user,
                           ci.password),
                "login");
    amqp_channel_open(conn, 1);
    check_reply(amqp_get_rpc_reply(conn), "channel.open");
    free(buf);
}

static void rclose(void)
{
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
}

/* A table nested DEPTH levels: {next: {next: ... {leaf: t}}}. Allocated once per level. */
static amqp_table_t deep_table(int depth)
{
    amqp_table_entry_t *e = xmalloc(sizeof(*e));
    memset(e, 0, sizeof(*e));
    if (depth <= 1) {
        e->key = amqp_cstring_bytes("leaf");
        e->value.kind = AMQP_FIELD_KIND_BOOLEAN;
        e->value.value.boolean = 1;
    } else {
        e->key = amqp_cstring_bytes("next");
        e->value.kind = AMQP_FIELD_KIND_TABLE;
        e->value.value.table = deep_table(depth - 1);
    }
    amqp_table_t t = {1, e};
    return t;
}

static void free_deep(amqp_table_t *t)
{
    if (t->entries[0].value.kind == AMQP_FIELD_KIND_TABLE) {
        free_deep(&t->entries[0].value.value.table);
    }
    free(t->entries);
}

/* Wait for the confirm of publish number SEQ. Returns: true when acked. */
static bool wait_confirm(uint64_t seq)
{
    for (;;) {
        amqp_frame_t f;
        struct timeval tv = {30, 0};
        int rc = amqp_simple_wait_frame_noblock(conn, &f, &tv);
        if (rc != AMQP_STATUS_OK) {
            die("waiting for a confirm: %s", amqp_error_string2(rc));
        }
        if (f.frame_type != AMQP_FRAME_METHOD) {
            continue;
        }
        if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            amqp_basic_ack_t *a = f.payload.method.decoded;
            if (a->delivery_tag >= seq) {
                return true;
            }
        } else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            return false;
        } else if (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
            amqp_channel_close_t *c = f.payload.method.decoded;
            die("channel closed: %.*s", (int)c->reply_text.len, (char *)c->reply_text.bytes);
        } else if (f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_connection_close_t *c = f.payload.method.decoded;
            die("connection closed: %.*s", (int)c->reply_text.len, (char *)c->reply_text.bytes);
        }
    }
}

static int cmd_rpublish(const char *url, const char *exchange, const char *rk)
{
    rconnect(url);
    amqp_confirm_select(conn, 1);
    check_reply(amqp_get_rpc_reply(conn), "confirm.select");
    size_t cap = 1 << 20;
    char *line = xmalloc(cap);
    uint64_t seq = 0;
    int failed = 0;
    while (fgets(line, (int)cap, stdin)) {
        spec_t s;
        if (!parse_spec(line, &s)) {
            continue;
        }
        size_t n = s.nh + (s.key.p ? 1 : 0);
        amqp_table_entry_t *e = xmalloc(n * sizeof(*e));
        memset(e, 0, n * sizeof(*e));
        for (size_t i = 0; i < s.nh; i++) {
            e[i].key.bytes = s.h[i].name.p;
            e[i].key.len = s.h[i].name.len;
            switch (s.h[i].kind) {
            case H_TEXT:
                e[i].value.kind = AMQP_FIELD_KIND_UTF8;
                e[i].value.value.bytes.bytes = s.h[i].value.p;
                e[i].value.value.bytes.len = s.h[i].value.len;
                break;
            case H_NULL: e[i].value.kind = AMQP_FIELD_KIND_VOID; break;
            case H_BOOL:
                e[i].value.kind = AMQP_FIELD_KIND_BOOLEAN;
                e[i].value.value.boolean = 1;
                break;
            case H_DEEP:
                e[i].value.kind = AMQP_FIELD_KIND_TABLE;
                e[i].value.value.table = deep_table(s.h[i].depth);
                break;
            }
        }
        if (s.key.p) {
            e[n - 1].key = amqp_cstring_bytes("x-msgbridge-key");
            e[n - 1].value.kind = AMQP_FIELD_KIND_BYTES;
            e[n - 1].value.value.bytes.bytes = s.key.p;
            e[n - 1].value.value.bytes.len = s.key.len;
        }
        amqp_basic_properties_t p;
        memset(&p, 0, sizeof(p));
        p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_HEADERS_FLAG;
        p.delivery_mode = 2;
        p.headers.num_entries = (int)n;
        p.headers.entries = e;
        amqp_bytes_t body = {s.body.len, s.body.p};
        int rc = amqp_basic_publish(conn, 1, amqp_cstring_bytes(exchange),
                                    amqp_cstring_bytes(rk), 0, 0, &p, body);
        if (rc != AMQP_STATUS_OK) {
            die("publish: %s", amqp_error_string2(rc));
        }
        if (!wait_confirm(++seq)) {
            fprintf(stderr, "badinput_client: publish %" PRIu64 " nacked\n", seq);
            failed++;
        }
        for (size_t i = 0; i < s.nh; i++) {
            if (s.h[i].kind == H_DEEP) {
                free_deep(&e[i].value.value.table);
            }
        }
        free(e);
        free_spec(&s);
    }
    free(line);
    rclose();
    return failed ? 1 : 0;
}

static void put_table(FILE *out, const amqp_table_t *t);

static void put_value(FILE *out, const amqp_field_value_t *v)
{
    fprintf(out, "%c", v->kind);
    switch (v->kind) {
    case 't': fprintf(out, ":%d", v->value.boolean); break;
    case 'b': fprintf(out, ":%d", v->value.i8); break;
    case 'B': fprintf(out, ":%u", v->value.u8); break;
    case 's': fprintf(out, ":%d", v->value.i16); break;
    case 'u': fprintf(out, ":%u", v->value.u16); break;
    case 'I': fprintf(out, ":%" PRId32, v->value.i32); break;
    case 'i': fprintf(out, ":%" PRIu32, v->value.u32); break;
    case 'l': fprintf(out, ":%" PRId64, v->value.i64); break;
    case 'L': fprintf(out, ":%" PRIu64, v->value.u64); break;
    case 'f': fprintf(out, ":%.9g", v->value.f32); break;
    case 'd': fprintf(out, ":%.17g", v->value.f64); break;
    case 'D': fprintf(out, ":%u/%u", v->value.decimal.decimals, v->value.decimal.value); break;
    case 'T': fprintf(out, ":%" PRIu64, v->value.u64); break;
    case 'S':
    case 'x':
        fputc(':', out);
        put_bytes(out, v->value.bytes.bytes, v->value.bytes.len);
        break;
    case 'V': break;
    case 'F': put_table(out, &v->value.table); break;
    case 'A':
        fputc('[', out);
        for (int i = 0; i < v->value.array.num_entries; i++) {
            put_value(out, &v->value.array.entries[i]);
            fputc(i + 1 < v->value.array.num_entries ? ',' : ']', out);
        }
        if (!v->value.array.num_entries) {
            fputc(']', out);
        }
        break;
    default: fputc('?', out); break;
    }
}

static void put_table(FILE *out, const amqp_table_t *t)
{
    fputc('{', out);
    for (int i = 0; i < t->num_entries; i++) {
        put_bytes(out, t->entries[i].key.bytes, t->entries[i].key.len);
        fputc('=', out);
        put_value(out, &t->entries[i].value);
        fputc(i + 1 < t->num_entries ? ',' : '}', out);
    }
    if (!t->num_entries) {
        fputc('}', out);
    }
}

static int cmd_rdump(const char *url, const char *queue, long want, double idle_s)
{
    rconnect(url);
    long got = 0;
    double last = now_s();
    while (got < want && now_s() - last < idle_s) {
        amqp_rpc_reply_t r = amqp_basic_get(conn, 1, amqp_cstring_bytes(queue), 0);
        check_reply(r, "basic.get");
        if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) {
            struct timespec ts = {0, 100000000};
            nanosleep(&ts, NULL);
            continue;
        }
        uint64_t tag = ((amqp_basic_get_ok_t *)r.reply.decoded)->delivery_tag;
        amqp_message_t m;
        check_reply(amqp_read_message(conn, 1, &m, 0), "read message");
        last = now_s();
        got++;
        const amqp_basic_properties_t *p = &m.properties;
        const amqp_table_t *t = &p->headers;
        int nh = (p->_flags & AMQP_BASIC_HEADERS_FLAG) ? t->num_entries : 0;
        /* The key the way the bridge carries it: header x-msgbridge-key. */
        fputs("key=", stdout);
        bool key = false;
        for (int i = 0; i < nh && !key; i++) {
            if (t->entries[i].key.len == 15 &&
                memcmp(t->entries[i].key.bytes, "x-msgbridge-key", 15) == 0) {
                put_bytes(stdout, t->entries[i].value.value.bytes.bytes,
                          t->entries[i].value.value.bytes.len);
                key = true;
            }
        }
        if (!key) {
            fputs("absent", stdout);
        }
        putchar(' ');
        /* AMQP has no null body: an empty one may come back without a buffer. */
        put_body(stdout, m.body.len ? m.body.bytes : "", m.body.len);
        printf(" hcount=%d h=", nh);
        if (nh) {
            put_table(stdout, t);
        } else {
            fputs("{}", stdout);
        }
        putchar('\n');
        amqp_destroy_message(&m);
        amqp_basic_ack(conn, 1, tag, 0);
    }
    fflush(stdout);
    rclose();
    if (got < want) {
        fprintf(stderr, "badinput_client: read %ld of %ld messages\n", got, want);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "kproduce") == 0) {
        return cmd_kproduce(argv[2], argv[3]);
    }
    if (argc == 6 && strcmp(argv[1], "kdump") == 0) {
        return cmd_kdump(argv[2], argv[3], atol(argv[4]), atof(argv[5]));
    }
    if (argc == 5 && strcmp(argv[1], "rpublish") == 0) {
        return cmd_rpublish(argv[2], argv[3], argv[4]);
    }
    if (argc == 6 && strcmp(argv[1], "rdump") == 0) {
        return cmd_rdump(argv[2], argv[3], atol(argv[4]), atof(argv[5]));
    }
    fprintf(stderr, "usage: badinput_client kproduce BROKERS TOPIC < SPECS\n"
                    "       badinput_client kdump BROKERS TOPIC N IDLE_S\n"
                    "       badinput_client rpublish URL EXCHANGE ROUTING_KEY < SPECS\n"
                    "       badinput_client rdump URL QUEUE N IDLE_S\n");
    return 2;
}
