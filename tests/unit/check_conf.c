/* Configuration: every file in tests/data/conf/bad/ must produce exactly the diagnostics its
 * "# expect: LINE: ..." comments announce (each a prefix of a reported line, in any order);
 * every file in tests/data/conf/good/ must load cleanly. */
#include "tests/check_main.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/conf.h"
#include "bridge/endpoint.h"
#include "tests/unit/test_adapters.h"

#ifndef CONF_DATA_DIR
#define CONF_DATA_DIR "tests/data/conf"
#endif

typedef struct expect {
    char text[1100];
} expect_t;

static size_t read_expectations(const char *path, expect_t *out, size_t max)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char line[1024];
    size_t n = 0;
    while (fgets(line, sizeof(line), f) && n < max) {
        if (strncmp(line, "# expect: ", 10) == 0) {
            line[strcspn(line, "\n")] = 0;
            snprintf(out[n++].text, sizeof(out[0].text), "%s", line + 10);
        }
    }
    fclose(f);
    return n;
}

static void check_bad_file(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    expect_t exp[16];
    size_t nexp = read_expectations(path, exp, 16);
    ck_assert_msg(nexp > 0, "%s has no '# expect:' line", name);
    brg_diag_t d;
    brg_diag_init(&d);
    brg_conf_t *conf = brg_conf_load(path, &d);
    ck_assert_msg(conf == NULL, "%s loaded although it is bad", name);
    for (size_t i = 0; i < nexp; i++) {
        char *want = NULL;
        ck_assert_int_gt(asprintf(&want, "%s:%s", path, exp[i].text), 0);
        bool found = false;
        for (size_t j = 0; j < d.count && !found; j++) {
            found = strncmp(d.lines[j], want, strlen(want)) == 0;
        }
        if (!found) {
            for (size_t j = 0; j < d.count; j++) {
                fprintf(stderr, "  got: %s\n", d.lines[j]);
            }
        }
        free(want);
        ck_assert_msg(found, "%s: expected diagnostic not reported: %s", name, exp[i].text);
    }
    ck_assert_msg(d.errors >= nexp, "%s: %zu errors for %zu expectations", name, d.errors, nexp);
    brg_diag_fini(&d);
}

START_TEST(test_conf_bad_files_report_exact_diagnostics)
{
    const char *dir = CONF_DATA_DIR "/bad";
    DIR *dp = opendir(dir);
    ck_assert_ptr_nonnull(dp);
    struct dirent *de;
    int files = 0;
    while ((de = readdir(dp))) {
        size_t n = strlen(de->d_name);
        if (n > 5 && strcmp(de->d_name + n - 5, ".conf") == 0) {
            check_bad_file(dir, de->d_name);
            files++;
        }
    }
    closedir(dp);
    ck_assert_int_ge(files, 20);
}
END_TEST

START_TEST(test_conf_good_files_load)
{
    const char *dir = CONF_DATA_DIR "/good";
    DIR *dp = opendir(dir);
    ck_assert_ptr_nonnull(dp);
    struct dirent *de;
    int files = 0;
    while ((de = readdir(dp))) {
        size_t n = strlen(de->d_name);
        if (n <= 5 || strcmp(de->d_name + n - 5, ".conf") != 0) {
            continue;
        }
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        brg_diag_t d;
        brg_diag_init(&d);
        brg_conf_t *conf = brg_conf_load(path, &d);
        ck_assert_msg(conf != NULL, "%s: %s", de->d_name, d.count ? d.lines[0] : "?");
        brg_conf_destroy(conf);
        brg_diag_fini(&d);
        files++;
    }
    closedir(dp);
    ck_assert_int_ge(files, 1);
}
END_TEST

START_TEST(test_conf_model_has_defaults_and_secrets)
{
    brg_diag_t d;
    brg_diag_init(&d);
    setenv("MSGBRIDGE_TEST_TOKEN", "s3cret", 1);
    brg_conf_t *c = brg_conf_load_string(
        "endpoints = ( { name = \"a\"; type = \"memory\"; token = \"${env.MSGBRIDGE_TEST_TOKEN}\"; },"
        " { name = \"b\"; type = \"memory\"; } );"
        "routes = ( { name = \"r\"; from = { endpoint = \"a\"; }; to = { endpoint = \"b\"; }; } );",
        "inline.conf", &d);
    ck_assert_msg(c != NULL, "%s", d.count ? d.lines[0] : "");
    ck_assert_uint_eq(c->nroutes, 1);
    ck_assert_int_eq(c->routes[0].max_in_flight, BRG_DEFAULT_MAX_IN_FLIGHT);
    ck_assert_int_eq(c->shutdown_timeout_ms, 30000);
    const brg_conf_node_t *tok = brg_conf_get(c->endpoints[0], "token");
    ck_assert(tok->secret);
    ck_assert_str_eq(tok->v.s, "s3cret");
    /* -t output never shows the secret. */
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    brg_conf_print_graph(c, out);
    fclose(out);
    ck_assert_ptr_null(strstr(buf, "s3cret"));
    ck_assert_ptr_nonnull(strstr(buf, "token=***"));
    free(buf);
    brg_conf_destroy(c);
    brg_diag_fini(&d);
}
END_TEST

START_TEST(test_conf_graph_prints_chains_and_cycles)
{
    brg_diag_t d;
    brg_diag_init(&d);
    brg_conf_t *c = brg_conf_load_string(
        "endpoints = ( { name = \"a\"; type = \"memory\"; },"
        " { name = \"b\"; type = \"memory\"; } );"
        "routes = ("
        " { name = \"there\"; from = { endpoint = \"a\"; stream = \"s1\"; };"
        "   to = { endpoint = \"b\"; stream = \"s2\"; }; },"
        " { name = \"back\"; from = { endpoint = \"b\"; stream = \"s2\"; };"
        "   to = { endpoint = \"a\"; stream = \"s1\"; }; },"
        " { name = \"on\"; from = { endpoint = \"b\"; stream = \"s2\"; };"
        "   to = { endpoint = \"b\"; stream = \"s3\"; }; } );",
        "inline.conf", &d);
    ck_assert_msg(c != NULL, "%s", d.count ? d.lines[0] : "");
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    brg_conf_print_graph(c, out);
    fclose(out);
    ck_assert_msg(strstr(buf, "chain: route there -> route back\n"
                              "warning: routes there and back form a cycle (each writes to what "
                              "the other reads): loop prevention stops each message where it "
                              "would go back to a stream it was read from\n"
                              "chain: route there -> route on\n"
                              "chain: route back -> route there\n"),
                  "%s", buf);
    ck_assert_ptr_null(strstr(buf, "route on ->"));
    free(buf);
    brg_conf_destroy(c);
    brg_diag_fini(&d);
}
END_TEST

START_TEST(test_conf_secret_file_is_read_and_hidden)
{
    char path[] = "/tmp/brg-secret-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "from-file\n", 10), 10);
    close(fd);
    char text[1024];
    snprintf(text, sizeof(text),
             "endpoints = ( { name = \"a\"; type = \"memory\"; token_file = \"%s\"; },"
             " { name = \"b\"; type = \"memory\"; } );"
             "routes = ( { name = \"r\"; from = { endpoint = \"a\"; }; to = { endpoint = \"b\"; }; } );",
             path);
    brg_diag_t d;
    brg_diag_init(&d);
    brg_conf_t *c = brg_conf_load_string(text, "inline.conf", &d);
    unlink(path);
    ck_assert_msg(c != NULL, "%s", d.count ? d.lines[0] : "");
    const brg_conf_node_t *tok = brg_conf_get(c->endpoints[0], "token");
    ck_assert_ptr_nonnull(tok);
    ck_assert(tok->secret);
    ck_assert_str_eq(tok->v.s, "from-file");
    brg_conf_destroy(c);
    brg_diag_fini(&d);
}
END_TEST

START_TEST(test_conf_self_loop_is_a_warning)
{
    brg_diag_t d;
    brg_diag_init(&d);
    brg_conf_t *c = brg_conf_load_string(
        "endpoints = ( { name = \"a\"; type = \"memory\"; } );\n"
        "routes = ( { name = \"r\"; from = { endpoint = \"a\"; stream = \"q\"; };\n"
        "  to = { endpoint = \"a\"; stream = \"q\"; }; } );\n",
        "loop.conf", &d);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(d.warnings, 1);
    ck_assert_str_eq(d.lines[0],
                     "loop.conf:3: warning: routes[0].to.stream: route writes into its own source "
                     "(stream = \"q\")");
    brg_conf_destroy(c);
    brg_diag_fini(&d);
}
END_TEST

/* Each endpoint's settings are compiled once, by the load, kept with the configuration in
 * endpoint order, and freed with it; an endpoint of an adapter without the hook has none. */
START_TEST(test_conf_endpoint_settings_compiled_once)
{
    test_settings_counts = (test_settings_counts_t){0, 0};
    brg_diag_t d;
    brg_diag_init(&d);
    brg_conf_t *c = brg_conf_load_string(
        "endpoints = ( { name = \"m\"; type = \"memory\"; },\n"
        "  { name = \"a\"; type = \"compiled\"; port = \"5672\"; },\n"
        "  { name = \"b\"; type = \"compiled\"; port = \"9092\"; } );\n"
        "routes = ( { name = \"r\"; from = { endpoint = \"m\"; stream = \"q\"; };\n"
        "  to = ( { endpoint = \"a\"; }, { endpoint = \"b\"; } ); } );\n",
        "settings.conf", &d);
    ck_assert_msg(c != NULL, "%s", d.count ? d.lines[0] : "");
    ck_assert_int_eq(test_settings_counts.compiled, 2);
    ck_assert_ptr_null(brg_conf_endpoint_settings(c, 0));
    const test_settings_t *a = brg_conf_endpoint_settings(c, 1);
    const test_settings_t *b = brg_conf_endpoint_settings(c, 2);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(a->port, 5672);
    ck_assert_int_eq(b->port, 9092);
    ck_assert_ptr_null(brg_conf_endpoint_settings(c, 3));
    ck_assert_int_eq(test_settings_counts.freed, 0);
    brg_conf_destroy(c);
    ck_assert_int_eq(test_settings_counts.freed, 2);
    ck_assert_int_eq(test_settings_counts.compiled, 2);
    brg_diag_fini(&d);
}
END_TEST

/* A setting that does not compile fails the load with its FILE:LINE, next to every other
 * problem of the file, and what did compile is freed. */
START_TEST(test_conf_endpoint_settings_error_has_its_line)
{
    test_settings_counts = (test_settings_counts_t){0, 0};
    brg_diag_t d;
    brg_diag_init(&d);
    brg_conf_t *c = brg_conf_load_string(
        "endpoints = ( { name = \"m\"; type = \"memory\"; },\n"
        "  { name = \"a\"; type = \"compiled\"; port = \"5672\"; },\n"
        "  { name = \"b\"; type = \"compiled\";\n"
        "    port = \"90x\"; } );\n"
        "routes = ( { name = \"r\"; from = { endpoint = \"m\"; stream = \"q\"; };\n"
        "  to = ( { endpoint = \"a\"; }, { endpoint = \"nowhere\"; } ); } );\n",
        "settings.conf", &d);
    ck_assert_ptr_null(c);
    ck_assert_uint_eq(d.errors, 2);
    ck_assert_str_eq(d.lines[0], "settings.conf:4: endpoints[2].port: not a port number: \"90x\"");
    ck_assert_msg(strstr(d.lines[1], "nowhere") != NULL, "%s", d.lines[1]);
    ck_assert_int_eq(test_settings_counts.compiled, 2);
    ck_assert_int_eq(test_settings_counts.freed, 1);
    brg_diag_fini(&d);
}
END_TEST

/* An endpoint of an adapter that compiles its settings at load cannot start without them
 * (brg_endpoint_start says so before the adapter's open, which reads them unchecked). */
START_TEST(test_endpoint_without_compiled_settings_does_not_start)
{
    brg_endpoint_t *ep = brg_endpoint_new("c", &test_compiled_adapter, NULL, NULL, "test");
    char err[256] = "";
    ck_assert_int_eq(brg_endpoint_start(ep, err, sizeof(err)), BRG_ERR_CONFIG);
    ck_assert_str_eq(err, "the endpoint's settings were not compiled at load");
    brg_endpoint_destroy(ep);
}
END_TEST

Suite *check_suite(void)
{
    Suite *s = suite_create("conf");
    TCase *tc = tcase_create("files");
    tcase_add_test(tc, test_conf_bad_files_report_exact_diagnostics);
    tcase_add_test(tc, test_conf_good_files_load);
    tcase_add_test(tc, test_conf_model_has_defaults_and_secrets);
    tcase_add_test(tc, test_conf_secret_file_is_read_and_hidden);
    tcase_add_test(tc, test_conf_graph_prints_chains_and_cycles);
    tcase_add_test(tc, test_conf_self_loop_is_a_warning);
    tcase_add_test(tc, test_conf_endpoint_settings_compiled_once);
    tcase_add_test(tc, test_conf_endpoint_settings_error_has_its_line);
    tcase_add_test(tc, test_endpoint_without_compiled_settings_does_not_start);
    suite_add_tcase(s, tc);
    return s;
}
