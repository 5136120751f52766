/* Unit tests of the stomp adapter's pure parts: the STOMP 1.2 frame parser and encoder, and the
 * codec (frame <-> envelope). No network. */
#include "tests/check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/stomp/stomp_codec.h"
#include "adapters/stomp/stomp_frame.h"

#define MAXF (1024 * 1024)

/* Parse exactly one frame from the whole of data. */
static brg_stomp_parse_rc_t parse_all(const void *data, size_t len, brg_stomp_frame_t *f,
                                      size_t *used, char *err)
{
    brg_stomp_frame_init(f);
    return brg_stomp_parse(data, len, MAXF, f, used, err, 256);
}

START_TEST(test_parse_basic)
{
    static const char in[] = "MESSAGE\ndestination:/queue/a\nmessage-id:ID:x:1\n\nhello\0\n";
    brg_stomp_frame_t f;
    size_t used;
    char err[256];
    ck_assert_int_eq(parse_all(in, sizeof(in) - 1, &f, &used, err), BRG_STOMP_FRAME);
    ck_assert_str_eq(f.command, "MESSAGE");
    ck_assert_uint_eq(used, sizeof(in) - 2); /* the trailing EOL is a heart-beat */
    ck_assert_str_eq(brg_stomp_get(&f, "destination", NULL), "/queue/a");
    /* ActiveMQ writes raw colons in values: the first colon splits. */
    ck_assert_str_eq(brg_stomp_get(&f, "message-id", NULL), "ID:x:1");
    ck_assert_uint_eq(f.body_len, 5);
    ck_assert_mem_eq(f.body, "hello", 5);
    brg_stomp_frame_fini(&f);
    brg_stomp_frame_init(&f);
    ck_assert_int_eq(brg_stomp_parse((const uint8_t *)in + used, 1, MAXF, &f, &used, err, 256),
                     BRG_STOMP_HEARTBEAT);
    ck_assert_uint_eq(used, 1);
    brg_stomp_frame_fini(&f);
}
END_TEST

START_TEST(test_heartbeats_crlf)
{
    static const char in[] = "\r\n\nRECEIPT\r\nreceipt-id:7\r\n\r\n\0";
    brg_stomp_frame_t f;
    size_t used, off = 0;
    char err[256];
    ck_assert_int_eq(parse_all(in, sizeof(in) - 1, &f, &used, err), BRG_STOMP_HEARTBEAT);
    ck_assert_uint_eq(used, 2);
    off += used;
    ck_assert_int_eq(parse_all(in + off, sizeof(in) - 1 - off, &f, &used, err),
                     BRG_STOMP_HEARTBEAT);
    off += used;
    ck_assert_int_eq(parse_all(in + off, sizeof(in) - 1 - off, &f, &used, err), BRG_STOMP_FRAME);
    ck_assert_str_eq(f.command, "RECEIPT");
    ck_assert_str_eq(brg_stomp_get(&f, "receipt-id", NULL), "7");
    ck_assert_uint_eq(f.body_len, 0);
    brg_stomp_frame_fini(&f);
    /* A lone CR waits for its LF; CR then something else is an error. */
    ck_assert_int_eq(parse_all("\r", 1, &f, &used, err), BRG_STOMP_NEED_MORE);
    ck_assert_int_eq(parse_all("\rX", 2, &f, &used, err), BRG_STOMP_BAD);
    ck_assert_ptr_nonnull(strstr(err, "CR not followed by LF"));
}
END_TEST

START_TEST(test_content_length_nul)
{
    static const char in[] = "MESSAGE\ncontent-length:5\n\na\0b\0c\0";
    brg_stomp_frame_t f;
    size_t used;
    char err[256];
    ck_assert_int_eq(parse_all(in, sizeof(in) - 1, &f, &used, err), BRG_STOMP_FRAME);
    ck_assert_uint_eq(f.body_len, 5);
    ck_assert_mem_eq(f.body, "a\0b\0c", 5);
    ck_assert_uint_eq(used, sizeof(in) - 1);
    brg_stomp_frame_fini(&f);
    /* Without content-length the body ends at the first NUL. */
    ck_assert_int_eq(parse_all("MESSAGE\n\na\0b\0", 12, &f, &used, err), BRG_STOMP_FRAME);
    ck_assert_uint_eq(f.body_len, 1);
    ck_assert_uint_eq(used, 11);
    brg_stomp_frame_fini(&f);
}
END_TEST

START_TEST(test_partial_reads)
{
    /* Feed a frame one byte at a time: NEED_MORE until the last byte. */
    static const char in[] = "MESSAGE\nk:v\ncontent-length:3\n\n\0\0\0\0";
    size_t n = sizeof(in) - 1;
    for (size_t len = 0; len < n; len++) {
        brg_stomp_frame_t f;
        size_t used;
        char err[256];
        ck_assert_int_eq(parse_all(in, len, &f, &used, err), BRG_STOMP_NEED_MORE);
        ck_assert_uint_eq(used, 0);
        brg_stomp_frame_fini(&f);
    }
    brg_stomp_frame_t f;
    size_t used;
    char err[256];
    ck_assert_int_eq(parse_all(in, n, &f, &used, err), BRG_STOMP_FRAME);
    ck_assert_uint_eq(f.body_len, 3);
    brg_stomp_frame_fini(&f);
}
END_TEST

START_TEST(test_escaping)
{
    brg_stomp_buf_t b = {0};
    static const char v[] = "a:b\\c\nd\re";
    brg_stomp_enc_begin(&b, "SEND");
    brg_stomp_enc_header(&b, "na:me", 5, v, sizeof(v) - 1, true);
    brg_stomp_enc_end(&b, "x", 1);
    static const char want[] = "SEND\nna\\cme:a\\cb\\\\c\\nd\\re\ncontent-length:1\n\nx";
    ck_assert_uint_eq(b.len, sizeof(want)); /* + the NUL */
    ck_assert_mem_eq(b.p, want, sizeof(want));
    brg_stomp_frame_t f;
    size_t used;
    char err[256];
    ck_assert_int_eq(parse_all(b.p, b.len, &f, &used, err), BRG_STOMP_FRAME);
    size_t vl;
    const char *got = brg_stomp_get(&f, "na:me", &vl);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(vl, sizeof(v) - 1);
    ck_assert_mem_eq(got, v, vl);
    brg_stomp_frame_fini(&f);
    brg_stomp_buf_free(&b);
    /* CONNECTED headers are not unescaped. */
    static const char c[] = "CONNECTED\nserver:a\\cb\n\n\0";
    ck_assert_int_eq(parse_all(c, sizeof(c) - 1, &f, &used, err), BRG_STOMP_FRAME);
    ck_assert_str_eq(brg_stomp_get(&f, "server", NULL), "a\\cb");
    brg_stomp_frame_fini(&f);
}
END_TEST

START_TEST(test_malformed)
{
    static const struct {
        const char *in;
        const char *err;
    } cases[] = {
        {"MESSAGE\nnocolon\n\n\0", "has no ':'"},
        {"MESSAGE\nk:a\\tb\n\n\0", "undefined escape \\t"},
        {"MESSAGE\nk:ab\\\n\n\0", "lone backslash"},
        {"message\n\n\0", "not upper-case"},
        {"MESSAGE\ncontent-length:abc\n\nx\0", "not a number"},
        {"MESSAGE\ncontent-length:2\n\nabc\0", "no NUL after the 2 body bytes"},
        {"MESSAGE\ncontent-length:99999999\n\n", "frame too large"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        brg_stomp_frame_t f;
        size_t used;
        char err[256] = "";
        ck_assert_msg(parse_all(cases[i].in, strlen(cases[i].in) + (i == 6 ? 0 : 1), &f, &used,
                                err) == BRG_STOMP_BAD,
                      "case %zu not BAD", i);
        ck_assert_msg(strstr(err, cases[i].err) != NULL, "case %zu: %s", i, err);
        brg_stomp_frame_fini(&f);
    }
}
END_TEST

START_TEST(test_oversize)
{
    /* A body without content-length and without NUL beyond the limit. */
    size_t n = 5000;
    char *in = malloc(n);
    memcpy(in, "SEND\n\n", 6);
    memset(in + 6, 'x', n - 6);
    brg_stomp_frame_t f;
    brg_stomp_frame_init(&f);
    size_t used;
    char err[256];
    ck_assert_int_eq(brg_stomp_parse((uint8_t *)in, n, 4096, &f, &used, err, sizeof(err)),
                     BRG_STOMP_BAD);
    ck_assert_ptr_nonnull(strstr(err, "frame too large"));
    brg_stomp_frame_fini(&f);
    /* Headers that never end. */
    memset(in, 'A', n);
    in[7] = '\n';
    memset(in + 8, 'h', n - 8);
    brg_stomp_frame_init(&f);
    ck_assert_int_eq(brg_stomp_parse((uint8_t *)in, n, 4096, &f, &used, err, sizeof(err)),
                     BRG_STOMP_BAD);
    ck_assert_ptr_nonnull(strstr(err, "without the end of its headers"));
    brg_stomp_frame_fini(&f);
    free(in);
}
END_TEST

/* envelope -> SEND frame -> parse -> (as if it were a MESSAGE) -> envelope. */
static brg_envelope_t *round_trip(const brg_envelope_t *in, brg_stomp_buf_t *wire)
{
    brg_stomp_encode_opts_t o = {.destination = "/queue/q", .receipt = "1", .persistent = true,
                                 .now_ms = 1000};
    char err[256];
    ck_assert_int_eq(brg_stomp_encode(wire, in, &o, err, sizeof(err)), BRG_OK);
    brg_stomp_frame_t f;
    size_t used;
    ck_assert_int_eq(parse_all(wire->p, wire->len, &f, &used, err), BRG_STOMP_FRAME);
    ck_assert_uint_eq(used, wire->len);
    brg_envelope_t *out = brg_envelope_new();
    ck_assert_int_eq(brg_stomp_decode(&f, out, 1000, err, sizeof(err)), BRG_OK);
    brg_stomp_frame_fini(&f);
    return out;
}

START_TEST(test_codec_round_trip)
{
    brg_envelope_t *e = brg_envelope_new();
    static const uint8_t body[] = {'a', 0, 'b', 0xff, 0};
    brg_envelope_set_body(e, body, sizeof(body));
    static const uint8_t key[] = {'k', 0, 0xfe}; /* not text: goes in base64 */
    brg_envelope_set_key(e, key, sizeof(key));
    brg_envelope_add_header_str(e, "plain", "v:a\\l\nue");
    brg_envelope_add_header_bytes(e, "bin", "\x00\x01\xfe", 3);
    brg_envelope_add_header_bytes(e, "textbytes", "abc", 3);
    brg_value_t v = brg_value_int(-42, 64);
    brg_fields_add(&e->headers, "seq", 3, &v);
    v = brg_value_bool(true);
    brg_fields_add(&e->headers, "flag", 4, &v);
    brg_props_set(&e->props.content_type, "application/octet-stream");
    brg_props_set(&e->props.correlation_id, "corr");
    brg_props_set(&e->props.reply_to, "/queue/replies");
    brg_props_set(&e->props.message_id, "mid-1");
    brg_props_set(&e->props.subject, "kind");
    brg_props_set(&e->props.group_id, "g1");
    brg_props_set(&e->props.user_id, "alice");
    e->props.priority = 7;
    e->props.durable = 0;
    e->props.ttl_ms = 5000;
    e->props.timestamp_ms = 123456;
    brg_stomp_buf_t w = {0};
    brg_envelope_t *o = round_trip(e, &w);
    ck_assert_ptr_nonnull(memmem(w.p, w.len, "persistent:false\n", 17));
    ck_assert_ptr_nonnull(memmem(w.p, w.len, "expires:6000\n", 13));
    ck_assert_ptr_nonnull(memmem(w.p, w.len, "content-length:5\n", 17));
    ck_assert_uint_eq(o->body_len, sizeof(body));
    ck_assert_mem_eq(o->body, body, sizeof(body));
    ck_assert_uint_eq(o->key_len, sizeof(key));
    ck_assert_mem_eq(o->key, key, sizeof(key));
    ck_assert_msg(brg_fields_equal(&o->headers, &e->headers), "headers differ");
    ck_assert_str_eq(o->props.content_type, "application/octet-stream");
    ck_assert_str_eq(o->props.correlation_id, "corr");
    ck_assert_str_eq(o->props.reply_to, "/queue/replies");
    ck_assert_str_eq(o->props.message_id, "mid-1");
    ck_assert_str_eq(o->props.subject, "kind");
    ck_assert_str_eq(o->props.group_id, "g1");
    ck_assert_str_eq(o->props.user_id, "alice");
    ck_assert_int_eq(o->props.priority, 7);
    ck_assert_int_eq(o->props.durable, 0);
    ck_assert_int_eq(o->props.ttl_ms, 5000);
    ck_assert_int_eq(o->props.timestamp_ms, 123456);
    brg_envelope_destroy(o);
    brg_envelope_destroy(e);
    brg_stomp_buf_free(&w);
}
END_TEST

START_TEST(test_codec_plain_message)
{
    /* What ActiveMQ delivers from a plain STOMP producer: broker headers are not envelope
     * headers; other headers are strings; persistent:true; the broker's message-id. */
    static const char in[] = "MESSAGE\ncontent-length:2\nexpires:0\ndestination:/queue/a\n"
                             "ack:ID\\cx\nsubscription:s0-1\npriority:4\nredelivered:true\n"
                             "custom:h\\c1\nmessage-id:ID\\cvm-1\npersistent:true\n"
                             "timestamp:1700000000000\n\nhi\0";
    brg_stomp_frame_t f;
    size_t used;
    char err[256];
    ck_assert_int_eq(parse_all(in, sizeof(in) - 1, &f, &used, err), BRG_STOMP_FRAME);
    brg_envelope_t *e = brg_envelope_new();
    ck_assert_int_eq(brg_stomp_decode(&f, e, 1000, err, sizeof(err)), BRG_OK);
    ck_assert_uint_eq(e->headers.count, 1);
    ck_assert_str_eq(e->headers.items[0].name, "custom");
    ck_assert_int_eq(e->headers.items[0].value.type, BRG_V_STRING);
    ck_assert_str_eq((char *)e->headers.items[0].value.u.bytes.data, "h:1");
    ck_assert_str_eq(e->props.message_id, "ID:vm-1");
    ck_assert_int_eq(e->props.durable, 1);
    ck_assert_int_eq(e->props.priority, 4);
    ck_assert_int_eq(e->props.ttl_ms, -1);
    ck_assert_int_eq(e->props.timestamp_ms, 1700000000000LL);
    ck_assert(e->origin.redelivered);
    ck_assert_str_eq(e->origin.stream, "/queue/a");
    ck_assert_ptr_null(e->key);
    brg_envelope_destroy(e);
    brg_stomp_frame_fini(&f);
}
END_TEST

START_TEST(test_codec_repeated_names)
{
    /* The type and base64 hints type the k-th header of a name with the k-th entry: repeated
     * names (a string, a long, a null, bytes that are not text) keep each its own type. */
    brg_envelope_t *e = brg_envelope_new();
    brg_envelope_add_header_str(e, "d", "text");
    brg_value_t v = brg_value_int(5, 64);
    brg_fields_add(&e->headers, "d", 1, &v);
    v = brg_value_null();
    brg_fields_add(&e->headers, "d", 1, &v);
    brg_envelope_add_header_bytes(e, "d", "\x00\xff", 2);
    brg_envelope_add_header_str(e, "other", "x");
    brg_stomp_buf_t w = {0};
    brg_envelope_t *o = round_trip(e, &w);
    ck_assert_msg(brg_fields_equal(&o->headers, &e->headers), "headers differ");
    brg_envelope_destroy(o);
    brg_envelope_destroy(e);
    brg_stomp_buf_free(&w);
}
END_TEST

START_TEST(test_codec_absent)
{
    /* What msgbridge sent without priority, message id, timestamp or durability comes back
     * without them, although ActiveMQ fills in its defaults. */
    static const char in[] = "MESSAGE\nx-msgbridge-absent:priority,message-id,timestamp,"
                             "persistent\npriority:4\nmessage-id:ID\\cb-1\npersistent:true\n"
                             "timestamp:1700000000000\nx-msgbridge-group-id:g\n\n\0";
    brg_stomp_frame_t f;
    size_t used;
    char err[256];
    ck_assert_int_eq(parse_all(in, sizeof(in) - 1, &f, &used, err), BRG_STOMP_FRAME);
    brg_envelope_t *e = brg_envelope_new();
    ck_assert_int_eq(brg_stomp_decode(&f, e, 1000, err, sizeof(err)), BRG_OK);
    ck_assert_int_eq(e->props.priority, -1);
    ck_assert_ptr_null(e->props.message_id);
    ck_assert_int_eq(e->props.timestamp_ms, -1);
    ck_assert_int_eq(e->props.durable, -1);
    ck_assert_str_eq(e->props.group_id, "g");
    ck_assert_uint_eq(e->headers.count, 0);
    brg_envelope_destroy(e);
    brg_stomp_frame_fini(&f);
    /* And the encoder writes that list. */
    e = brg_envelope_new();
    brg_stomp_buf_t w = {0};
    brg_stomp_encode_opts_t o = {.destination = "/queue/q", .persistent = true};
    ck_assert_int_eq(brg_stomp_encode(&w, e, &o, err, sizeof(err)), BRG_OK);
    ck_assert_ptr_nonnull(memmem(w.p, w.len, "x-msgbridge-absent:priority,message-id,timestamp,"
                                 "persistent\n", 59));
    brg_envelope_destroy(e);
    brg_stomp_buf_free(&w);
}
END_TEST

static bool loss_refuse(void *ctx, const char *field)
{
    (*(int *)ctx)++;
    return strcmp(field, "header.name") == 0;
}

START_TEST(test_codec_loss)
{
    brg_envelope_t *e = brg_envelope_new();
    brg_envelope_add_header_str(e, "destination", "/queue/elsewhere");
    int n = 0;
    brg_stomp_encode_opts_t o = {.destination = "/queue/q", .loss = loss_refuse, .loss_ctx = &n};
    brg_stomp_buf_t w = {0};
    char err[256];
    ck_assert_int_eq(brg_stomp_encode(&w, e, &o, err, sizeof(err)), BRG_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "destination"));
    ck_assert_uint_eq(w.len, 0);
    ck_assert_int_eq(n, 1);
    brg_envelope_destroy(e);
    brg_stomp_buf_free(&w);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("stomp");
    TCase *tc = tcase_create("frame");
    tcase_add_test(tc, test_parse_basic);
    tcase_add_test(tc, test_heartbeats_crlf);
    tcase_add_test(tc, test_content_length_nul);
    tcase_add_test(tc, test_partial_reads);
    tcase_add_test(tc, test_escaping);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_oversize);
    suite_add_tcase(s, tc);
    tc = tcase_create("codec");
    tcase_add_test(tc, test_codec_round_trip);
    tcase_add_test(tc, test_codec_plain_message);
    tcase_add_test(tc, test_codec_loss);
    tcase_add_test(tc, test_codec_repeated_names);
    tcase_add_test(tc, test_codec_absent);
    suite_add_tcase(s, tc);
    return s;
}

Suite *check_suite(void)
{
    return suite();
}
