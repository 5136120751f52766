/* Replays the committed fuzz inputs of the core targets (fuzz/corpus/fuzz_conf, fuzz_template,
 * fuzz_filter) through the same calls the libFuzzer targets make, in the normal and the
 * ASan/UBSan builds: every seed and every input that once crashed (committed there with a
 * name saying what it found) keeps loading, parsing and rendering without a crash, a leak or
 * a refusal without a reason. The libFuzzer targets themselves need clang: scripts/fuzz.sh. */
#include "tests/check_main.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/conf_node.h"
#include "bridge/conf.h"
#include "fuzz/fuzz_envelope.h"
#include "mappings/filter.h"
#include "mappings/template.h"

/* Read a file whole, NUL-terminated (inputs are text; an embedded NUL ends it, as in the
 * targets). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[4096];
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            buf = realloc(buf, cap);
        }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (!buf) {
        buf = calloc(1, 1);
    }
    buf[len] = 0;
    return buf;
}

/* Call fn on every file in fuzz/corpus/<target>. Returns: how many. */
static size_t each_input(const char *target, void (*fn)(const char *path, const char *text))
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/%s", FUZZ_CORPUS_DIR, target);
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    size_t count = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        char path[2048];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        char *text = slurp(path);
        fn(path, text);
        free(text);
        count++;
    }
    closedir(d);
    return count;
}

static void load_conf(const char *path, const char *text)
{
    brg_diag_t d;
    brg_diag_init(&d);
    brg_conf_t *conf = brg_conf_load_string(text, "fuzz.conf", &d);
    ck_assert_msg(conf != NULL || d.errors > 0, "%s: refused without a diagnostic", path);
    if (conf) {
        FILE *devnull = fopen("/dev/null", "w");
        brg_conf_print_graph(conf, devnull);
        fclose(devnull);
    }
    brg_conf_destroy(conf);
    brg_diag_fini(&d);
}

START_TEST(test_fuzz_conf_inputs_load_or_explain)
{
    ck_assert_uint_ge(each_input("fuzz_conf", load_conf), 20);
}
END_TEST

static void render_template(const char *path, const char *text)
{
    char err[256] = "";
    brg_template_t *t = brg_template_parse(text, err, sizeof(err));
    if (!t) {
        ck_assert_msg(err[0] != 0, "%s: refused without a reason", path);
        return;
    }
    brg_envelope_t *full = fuzz_envelope_new(), *empty = brg_envelope_new();
    size_t len;
    char *s = brg_template_render(t, full, &len);
    ck_assert_msg(s != NULL && s[len] == 0, "%s: rendering is not NUL-terminated", path);
    free(s);
    s = brg_template_render(t, empty, &len);
    ck_assert_msg(s != NULL && s[len] == 0, "%s: rendering is not NUL-terminated", path);
    free(s);
    brg_envelope_destroy(full);
    brg_envelope_destroy(empty);
    brg_template_destroy(t);
}

START_TEST(test_fuzz_template_inputs_render_or_explain)
{
    ck_assert_uint_ge(each_input("fuzz_template", render_template), 10);
}
END_TEST

static void match_filter(const char *path, const char *text)
{
    char err[256] = "";
    brg_filter_t *f = brg_filter_parse(text, err, sizeof(err));
    if (!f) {
        ck_assert_msg(err[0] != 0, "%s: refused without a reason", path);
        return;
    }
    brg_envelope_t *full = fuzz_envelope_new(), *empty = brg_envelope_new();
    bool a = brg_filter_match(f, full);
    ck_assert_int_eq(a, brg_filter_match(f, full));
    bool b = brg_filter_match(f, empty);
    ck_assert_int_eq(b, brg_filter_match(f, empty));
    brg_envelope_destroy(full);
    brg_envelope_destroy(empty);
    brg_filter_destroy(f);
}

START_TEST(test_fuzz_filter_inputs_match_or_explain)
{
    ck_assert_uint_ge(each_input("fuzz_filter", match_filter), 10);
}
END_TEST

/* The seed that selects: the fixed envelope really has the fields the filter seeds name. */
START_TEST(test_fuzz_envelope_matches_seed_filter)
{
    char err[256];
    brg_filter_t *f = brg_filter_parse(
        "header.type = 'order' and key prefix 'order-' and topic = 'orders' and partition = '3'",
        err, sizeof(err));
    ck_assert_msg(f != NULL, "%s", err);
    brg_envelope_t *env = fuzz_envelope_new();
    ck_assert(brg_filter_match(f, env));
    brg_envelope_destroy(env);
    brg_filter_destroy(f);
}
END_TEST

Suite *check_suite(void)
{
    Suite *s = suite_create("fuzz_regressions");
    TCase *tc = tcase_create("replay");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fuzz_conf_inputs_load_or_explain);
    tcase_add_test(tc, test_fuzz_template_inputs_render_or_explain);
    tcase_add_test(tc, test_fuzz_filter_inputs_match_or_explain);
    tcase_add_test(tc, test_fuzz_envelope_matches_seed_filter);
    suite_add_tcase(s, tc);
    return s;
}
