/* The file and stdio adapters inside a running engine, against memory endpoints that script
 * outcomes: retries keep line order, rejected lines are kept, malformed and over-long lines are
 * skipped with their line numbers, the sink writes one line per envelope and settles RETRY on a
 * write error, follow mode sees appends, truncation and rotation, and the config checks. */
#include "tests/check_main.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adapters/file/file.h"
#include "adapters/memory/memory.h"
#include "bridge/engine.h"
#include "bridge/registry.h"

/* The adapter table of this test binary. */
const brg_adapter_t *brg_adapters[] = {&brg_memory_adapter, &brg_file_adapter, &brg_stdio_adapter,
                                       NULL};

static brg_engine_t *engine;
static char dir[64];

static void setup(void)
{
    strcpy(dir, "/tmp/check_file.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    /* Logs are checked by the process tests; here they would only be noise (a sink writing to
     * /dev/full logs every retry). */
    static int devnull = -1;
    if (devnull < 0) {
        devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    }
    brg_log_setup(BRG_LOG_ERROR, BRG_LOG_TEXT, devnull);
}

static void teardown(void)
{
    brg_engine_destroy(engine);
    engine = NULL;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static char *path_of(const char *name)
{
    static char p[4][128];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
    return p[k];
}

/* Write a whole file at once (temp + rename, so a follower never sees half of it). */
static void write_file(const char *name, const char *data, size_t len)
{
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path_of(name));
    FILE *f = fopen(tmp, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
    ck_assert_int_eq(rename(tmp, path_of(name)), 0);
}

static void append_file(const char *name, const char *data)
{
    FILE *f = fopen(path_of(name), "ab");
    ck_assert_ptr_nonnull(f);
    fputs(data, f);
    fclose(f);
}

static char *read_file(const char *name, size_t *len)
{
    FILE *f = fopen(path_of(name), "rb");
    if (!f) {
        *len = 0;
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            buf = realloc(buf, cap *= 2);
        }
    }
    fclose(f);
    buf = realloc(buf, n + 1);
    buf[n] = 0;
    *len = n;
    return buf;
}

static brg_engine_t *start(const char *text)
{
    brg_diag_t d;
    brg_diag_init(&d);
    brg_conf_t *conf = brg_conf_load_string(text, "test.conf", &d);
    ck_assert_msg(conf != NULL, "config: %s", d.count ? d.lines[0] : "?");
    brg_diag_fini(&d);
    char err[256];
    brg_engine_t *e = brg_engine_new(conf, err, sizeof(err));
    ck_assert_msg(e != NULL, "engine: %s", err);
    ck_assert_int_eq(brg_engine_start(e, err, sizeof(err)), BRG_OK);
    return e;
}

static brg_memory_t *mem(const char *name)
{
    brg_memory_t *m = brg_memory_of(brg_engine_endpoint(engine, name));
    ck_assert_ptr_nonnull(m);
    return m;
}

static brg_file_src_t *file_src(const char *endpoint)
{
    brg_file_t *f = brg_endpoint_state(brg_engine_endpoint(engine, endpoint));
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(f->nsrcs, 1);
    return &f->srcs[0];
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Poll a condition for up to 10 s. */
#define WAIT_FOR(cond)                                                                             \
    do {                                                                                           \
        int waited_ = 0;                                                                           \
        while (!(cond) && waited_ < 10000) {                                                       \
            sleep_ms(5);                                                                           \
            waited_ += 5;                                                                          \
        }                                                                                          \
        ck_assert_msg((cond), "timed out waiting for %s", #cond);                                  \
    } while (0)

static size_t received(const char *m)
{
    return brg_memory_received_count(mem(m));
}

static void assert_body(const brg_envelope_t *env, const char *body)
{
    ck_assert_uint_eq(env->body_len, strlen(body));
    ck_assert_mem_eq(env->body, body, env->body_len);
}

/* Config text with the file endpoint `in` (extra keys given) to memory `dst`. */
static char *file_to_memory(const char *in_keys, const char *route_keys)
{
    static char text[1024];
    snprintf(text, sizeof(text),
             "bridge = { id = \"t\"; stats_interval = 0; };\n"
             "endpoints = ( { name = \"in\"; type = \"file\"; path = \"%s\"; %s },\n"
             "  { name = \"dst\"; type = \"memory\"; } );\n"
             "routes = ( { name = \"r\"; from = { endpoint = \"in\"; }; to = { endpoint = \"dst\"; "
             "}; mapping = { provenance = false; }; %s } );\n",
             path_of("in.ndjson"), in_keys, route_keys);
    return text;
}

static brg_outcome_t retry_line3_twice(const brg_envelope_t *env, unsigned attempt, void *ctx)
{
    (void)ctx;
    return env->origin.offset == 3 && attempt <= 2 ? BRG_RETRY : BRG_ACCEPTED;
}

START_TEST(test_file_retry_resubmits_the_same_line_in_order)
{
    /* follow = true: the file is written only once the script is in place. */
    engine = start(file_to_memory("follow = true;", "max_in_flight = 1;"));
    brg_memory_set_script(mem("dst"), retry_line3_twice, NULL);
    const char *in = "{\"body\":\"m1\"}\n{\"body\":\"m2\"}\n{\"body\":\"m3\",\"key\":\"k3\"}\n"
                     "{\"body\":\"m4\"}\n{\"body\":\"m5\"}\n";
    write_file("in.ndjson", in, strlen(in));
    WAIT_FOR(received("dst") >= 5);
    brg_memory_t *dst = mem("dst");
    ck_assert_uint_eq(brg_memory_delivery_count(dst), 7); /* 5 + 2 retries */
    const char *want[] = {"m1", "m2", "m3", "m4", "m5"};
    for (size_t i = 0; i < 5; i++) {
        const brg_envelope_t *env = brg_memory_received(dst, i);
        assert_body(env, want[i]);
        ck_assert_int_eq(env->origin.offset, (int64_t)i + 1);
        ck_assert_str_eq(env->origin.stream, path_of("in.ndjson"));
        ck_assert_str_eq(env->origin.adapter, "file");
        ck_assert_int_eq(env->origin.redelivered, i == 2);
    }
    ck_assert_mem_eq(brg_memory_received(dst, 2)->key, "k3", 2);
    brg_file_src_t *fs = file_src("in");
    WAIT_FOR(fs->accepted == 5);
    ck_assert_uint_eq(fs->nretry, 0);
    ck_assert_uint_eq(fs->skipped, 0);
}
END_TEST

static brg_outcome_t reject_line2(const brg_envelope_t *env, unsigned attempt, void *ctx)
{
    (void)attempt;
    (void)ctx;
    return env->origin.offset == 2 ? BRG_REJECTED : BRG_ACCEPTED;
}

START_TEST(test_file_rejected_line_is_kept_and_route_stops)
{
    engine = start(file_to_memory("follow = true;", "max_in_flight = 1;"));
    brg_memory_set_script(mem("dst"), reject_line2, NULL);
    const char *in = "{\"body\":\"a\"}\n{\"body\":\"b\"}\n{\"body\":\"c\"}\n";
    write_file("in.ndjson", in, strlen(in));
    brg_file_src_t *fs = file_src("in");
    WAIT_FOR(fs->nkept == 1);
    ck_assert_uint_eq(fs->kept[0]->lineno, 2);
    ck_assert_mem_eq(fs->kept[0]->line, "{\"body\":\"b\"}", fs->kept[0]->len);
    sleep_ms(300);
    /* The route stopped: line 3 was never taken. */
    ck_assert_uint_eq(received("dst"), 1);
    ck_assert_uint_eq(fs->accepted, 1);
}
END_TEST

START_TEST(test_file_malformed_and_long_lines_are_skipped_with_line_numbers)
{
    char in[512];
    char longline[101];
    memset(longline, 'x', 100);
    longline[100] = 0;
    snprintf(in, sizeof(in),
             "{\"body\":\"one\"}\n"
             "{\"body\":1}\n"
             "\n"
             "{\"body\":\"four\"}\n"
             "{\"body\":\"%s\"}\n"
             "{\"body\":\"six\"}\n"
             "{\"body\":\"seven, no newline\"}",
             longline);
    write_file("in.ndjson", in, strlen(in));
    engine = start(file_to_memory("max_line_bytes = 64;", ""));
    WAIT_FOR(received("dst") >= 4);
    brg_file_src_t *fs = file_src("in");
    WAIT_FOR(fs->eof);
    ck_assert_uint_eq(fs->skipped, 2);
    ck_assert_uint_eq(fs->lineno, 7);
    sleep_ms(50);
    ck_assert_uint_eq(received("dst"), 4);
    const char *want[] = {"one", "four", "six", "seven, no newline"};
    const int64_t line[] = {1, 4, 6, 7};
    for (size_t i = 0; i < 4; i++) {
        const brg_envelope_t *env = brg_memory_received(mem("dst"), i);
        assert_body(env, want[i]);
        ck_assert_int_eq(env->origin.offset, line[i]);
    }
}
END_TEST

START_TEST(test_file_over_long_line_across_reads_is_skipped)
{
    /* A 300 KiB line spans several 64 KiB reads; max_line_bytes = 100000. */
    size_t big = 300 * 1024;
    char *in = malloc(big + 64);
    size_t n = (size_t)sprintf(in, "{\"body\":\"before\"}\n{\"body\":\"");
    memset(in + n, 'y', big);
    n += big;
    n += (size_t)sprintf(in + n, "\"}\n{\"body\":\"after\"}\n");
    write_file("in.ndjson", in, n);
    free(in);
    engine = start(file_to_memory("max_line_bytes = 100000;", ""));
    brg_file_src_t *fs = file_src("in");
    WAIT_FOR(fs->eof);
    WAIT_FOR(received("dst") >= 2);
    ck_assert_uint_eq(fs->skipped, 1);
    assert_body(brg_memory_received(mem("dst"), 0), "before");
    assert_body(brg_memory_received(mem("dst"), 1), "after");
    ck_assert_int_eq(brg_memory_received(mem("dst"), 1)->origin.offset, 3);
}
END_TEST

START_TEST(test_file_sink_writes_one_json_line_per_envelope)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "bridge = { id = \"t\"; stats_interval = 0; };\n"
             "endpoints = ( { name = \"src\"; type = \"memory\"; },\n"
             "  { name = \"out\"; type = \"file\"; path = \"%s\"; fsync = true; } );\n"
             "routes = ( { name = \"r\"; from = { endpoint = \"src\"; stream = \"s\"; count = 500; "
             "body_size = 20; }; to = { endpoint = \"out\"; }; mapping = { provenance = false; "
             "}; } );\n",
             path_of("out.ndjson"));
    append_file("out.ndjson", "{\"body\":\"already there\"}\n"); /* append = true (default) */
    engine = start(text);
    WAIT_FOR(brg_memory_acked_count(mem("src")) == 500);
    size_t len;
    char *data = read_file("out.ndjson", &len);
    char *save = NULL;
    size_t lines = 0;
    for (char *l = strtok_r(data, "\n", &save); l; l = strtok_r(NULL, "\n", &save), lines++) {
        brg_envelope_t *env;
        char err[256];
        ck_assert_msg(brg_json_decode(l, strlen(l), &env, err, sizeof(err)) == BRG_OK, "%s", err);
        if (lines == 0) {
            assert_body(env, "already there");
        } else {
            char want[32];
            snprintf(want, sizeof(want), "message %zu ", lines);
            ck_assert_msg(env->body_len == 20 && memcmp(env->body, want, strlen(want)) == 0,
                          "line %zu: %.*s", lines + 1, (int)env->body_len, env->body);
            ck_assert_str_eq(env->origin.adapter, "memory");
            ck_assert_str_eq(env->origin.stream, "s");
        }
        brg_envelope_destroy(env);
    }
    ck_assert_uint_eq(lines, 501);
    free(data);
}
END_TEST

START_TEST(test_file_lines_format_both_ways)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "bridge = { id = \"t\"; stats_interval = 0; };\n"
             "endpoints = ( { name = \"in\"; type = \"file\"; path = \"%s\"; format = \"lines\"; },\n"
             "  { name = \"out\"; type = \"file\"; path = \"%s\"; format = \"lines\"; append = false; "
             "} );\n"
             "routes = ( { name = \"r\"; from = { endpoint = \"in\"; }; to = { endpoint = \"out\"; "
             "}; } );\n",
             path_of("in.txt"), path_of("out.txt"));
    /* Raw bytes: empty lines, CRLF, invalid UTF-8, "JSON" that stays text; the last line has
     * no newline and gets one. */
    const char in[] = "alpha\n\n{\"body\":\"not decoded\"}\r\n\xff\xfe binary\nlast";
    write_file("in.txt", in, sizeof(in) - 1);
    write_file("out.txt", "old content\n", 12); /* append = false truncates */
    engine = start(text);
    brg_file_src_t *fs = file_src("in");
    WAIT_FOR(fs->accepted == 5);
    size_t len;
    char *out = read_file("out.txt", &len);
    const char want[] = "alpha\n\n{\"body\":\"not decoded\"}\r\n\xff\xfe binary\nlast\n";
    ck_assert_uint_eq(len, sizeof(want) - 1);
    ck_assert_mem_eq(out, want, len);
    free(out);
}
END_TEST

START_TEST(test_file_follow_sees_appends_truncation_and_rotation)
{
    write_file("in.ndjson", "{\"body\":\"1\"}\n{\"body\":\"2\"}\n", 26);
    engine = start(file_to_memory("follow = true;", ""));
    WAIT_FOR(received("dst") >= 2);
    append_file("in.ndjson", "{\"body\":\"3\"}\n{\"body\":\"4\"");
    WAIT_FOR(received("dst") >= 3);
    sleep_ms(600); /* a partial line is not a line while following */
    ck_assert_uint_eq(received("dst"), 3);
    append_file("in.ndjson", "}\n");
    WAIT_FOR(received("dst") >= 4);
    assert_body(brg_memory_received(mem("dst"), 3), "4");

    /* Truncated (copytruncate rotation): read again from the top. */
    FILE *f = fopen(path_of("in.ndjson"), "wb");
    fputs("{\"body\":\"5\"}\n", f);
    fclose(f);
    WAIT_FOR(received("dst") >= 5);
    assert_body(brg_memory_received(mem("dst"), 4), "5");
    ck_assert_int_eq(brg_memory_received(mem("dst"), 4)->origin.offset, 5);

    /* Rotated: a new file under the name. */
    char old[160];
    snprintf(old, sizeof(old), "%s.1", path_of("in.ndjson"));
    ck_assert_int_eq(rename(path_of("in.ndjson"), old), 0);
    write_file("in.ndjson", "{\"body\":\"6\"}\n", 13);
    WAIT_FOR(received("dst") >= 6);
    assert_body(brg_memory_received(mem("dst"), 5), "6");
    ck_assert_uint_eq(file_src("in")->skipped, 0);
}
END_TEST

START_TEST(test_file_sink_write_error_settles_retry)
{
    const char *text = "bridge = { id = \"t\"; stats_interval = 0; };\n"
                       "endpoints = ( { name = \"src\"; type = \"memory\"; },\n"
                       "  { name = \"out\"; type = \"file\"; path = \"/dev/full\"; } );\n"
                       "routes = ( { name = \"r\"; from = { endpoint = \"src\"; count = 3; }; "
                       "to = { endpoint = \"out\"; }; } );\n";
    engine = start(text);
    brg_memory_t *src = mem("src");
    WAIT_FOR(brg_memory_retried_count(src) >= 3);
    ck_assert_uint_eq(brg_memory_acked_count(src), 0);
}
END_TEST

START_TEST(test_file_missing_input_fails_and_is_retried)
{
    engine = start(file_to_memory("", ""));
    /* The loop fails ("cannot open"), the core restarts it after 1 s: then the file is there. */
    sleep_ms(200);
    write_file("in.ndjson", "{\"body\":\"late\"}\n", 16);
    WAIT_FOR(received("dst") >= 1);
    assert_body(brg_memory_received(mem("dst"), 0), "late");
}
END_TEST

START_TEST(test_stdio_cannot_feed_two_routes)
{
    const char *text = "bridge = { id = \"t\"; };\n"
                       "endpoints = ( { name = \"in\"; type = \"stdio\"; },\n"
                       "  { name = \"a\"; type = \"memory\"; }, { name = \"b\"; type = \"memory\"; } );\n"
                       "routes = ( { name = \"r1\"; from = { endpoint = \"in\"; }; to = { endpoint = "
                       "\"a\"; }; },\n"
                       "  { name = \"r2\"; from = { endpoint = \"in\"; }; to = { endpoint = \"b\"; "
                       "}; } );\n";
    brg_diag_t d;
    brg_diag_init(&d);
    brg_conf_t *conf = brg_conf_load_string(text, "test.conf", &d);
    ck_assert_ptr_nonnull(conf);
    brg_diag_fini(&d);
    char err[256] = "";
    engine = brg_engine_new(conf, err, sizeof(err));
    ck_assert_ptr_nonnull(engine);
    ck_assert_int_ne(brg_engine_start(engine, err, sizeof(err)), BRG_OK);
    ck_assert_msg(strstr(err, "stdio endpoint \"in\" is the source of 2 routes; standard input "
                              "can feed only one") != NULL,
                  "%s", err);
}
END_TEST

/* Diagnostics of the config checks: exact text and line. */
static const struct {
    const char *endpoint;
    const char *diag;
} bad_confs[] = {
    {"{ name = \"f\"; type = \"file\"; path = \"/tmp/x\"; format = \"xml\"; }",
     "test.conf:2: endpoints[0].format: unknown format \"xml\" (valid: json, lines)"},
    {"{ name = \"f\"; type = \"file\"; path = \"/tmp/x\"; max_line_bytes = 0; }",
     "test.conf:2: endpoints[0].max_line_bytes: must be between 1 and 1073741824, not 0"},
    {"{ name = \"f\"; type = \"file\"; path = \"\"; }", "test.conf:2: endpoints[0].path: path is "
                                                          "empty"},
    {"{ name = \"f\"; type = \"stdio\"; format = \"csv\"; }",
     "test.conf:2: endpoints[0].format: unknown format \"csv\" (valid: json, lines)"},
};

START_TEST(test_file_config_checks)
{
    char text[512];
    snprintf(text, sizeof(text),
             "bridge = { id = \"t\"; };\n"
             "endpoints = ( %s,\n"
             "  { name = \"m\"; type = \"memory\"; } );\n"
             "routes = ( { name = \"r\"; from = { endpoint = \"m\"; }; to = { endpoint = \"f\"; }; "
             "} );\n",
             bad_confs[_i].endpoint);
    brg_diag_t d;
    brg_diag_init(&d);
    brg_conf_t *conf = brg_conf_load_string(text, "test.conf", &d);
    ck_assert_ptr_null(conf);
    ck_assert_uint_ge(d.count, 1);
    bool found = false;
    for (size_t i = 0; i < d.count; i++) {
        found = found || strcmp(d.lines[i], bad_confs[_i].diag) == 0;
    }
    ck_assert_msg(found, "expected: %s\n got: %s", bad_confs[_i].diag, d.lines[0]);
    brg_diag_fini(&d);
}
END_TEST

START_TEST(test_file_config_unknown_and_missing_keys)
{
    const char *text = "bridge = { id = \"t\"; };\n"
                       "endpoints = ( { name = \"f\"; type = \"file\"; },\n"
                       "  { name = \"s\"; type = \"stdio\"; path = \"/tmp/x\"; } );\n"
                       "routes = ( { name = \"r\"; from = { endpoint = \"s\"; }; to = { endpoint = "
                       "\"f\"; }; } );\n";
    brg_diag_t d;
    brg_diag_init(&d);
    ck_assert_ptr_null(brg_conf_load_string(text, "test.conf", &d));
    ck_assert_uint_eq(d.errors, 2);
    char all[2048] = "";
    for (size_t i = 0; i < d.count; i++) {
        strncat(all, d.lines[i], sizeof(all) - strlen(all) - 2);
        strcat(all, "\n");
    }
    ck_assert_msg(strstr(all, "test.conf:2: endpoints[0]: ") && strstr(all, "\"path\""), "%s", all);
    ck_assert_msg(strstr(all, "test.conf:3: endpoints[1].path: ") && strstr(all, "format") &&
                      strstr(all, "max_line_bytes"),
                  "%s", all);
    brg_diag_fini(&d);
}
END_TEST

Suite *check_suite(void)
{
    Suite *s = suite_create("file");
    TCase *tc = tcase_create("adapter");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_file_retry_resubmits_the_same_line_in_order);
    tcase_add_test(tc, test_file_rejected_line_is_kept_and_route_stops);
    tcase_add_test(tc, test_file_malformed_and_long_lines_are_skipped_with_line_numbers);
    tcase_add_test(tc, test_file_over_long_line_across_reads_is_skipped);
    tcase_add_test(tc, test_file_sink_writes_one_json_line_per_envelope);
    tcase_add_test(tc, test_file_lines_format_both_ways);
    tcase_add_test(tc, test_file_follow_sees_appends_truncation_and_rotation);
    tcase_add_test(tc, test_file_sink_write_error_settles_retry);
    tcase_add_test(tc, test_file_missing_input_fails_and_is_retried);
    tcase_add_test(tc, test_stdio_cannot_feed_two_routes);
    tcase_add_loop_test(tc, test_file_config_checks, 0,
                        (int)(sizeof(bad_confs) / sizeof(bad_confs[0])));
    tcase_add_test(tc, test_file_config_unknown_and_missing_keys);
    suite_add_tcase(s, tc);
    return s;
}
