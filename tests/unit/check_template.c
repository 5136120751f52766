#include "tests/check_main.h"
#include <stdlib.h>
#include <string.h>

#include "mappings/template.h"

static char *render(const char *text, const brg_envelope_t *env)
{
    char err[256];
    brg_template_t *t = brg_template_parse(text, err, sizeof(err));
    ck_assert_msg(t != NULL, "parse failed: %s", err);
    char *out = brg_template_render(t, env, NULL);
    brg_template_destroy(t);
    return out;
}

static brg_envelope_t *sample(void)
{
    brg_envelope_t *env = brg_envelope_new();
    env->origin.stream = strdup("orders");
    env->origin.partition = 4;
    env->origin.routing_key = strdup("eu.created");
    brg_envelope_set_key(env, "cust-9", 6);
    brg_props_set(&env->props.subject, "Created");
    brg_envelope_add_header_str(env, "customer", "acme");
    brg_value_t v = brg_value_int(42, 32);
    brg_fields_add(&env->headers, "n", 1, &v);
    return env;
}

START_TEST(test_template_renders_every_variable)
{
    brg_envelope_t *env = sample();
    char *s = render("east.${topic}/${partition}/${key}/${routing_key}/${subject}/${header.customer}"
                     "/${header.n}/$$",
                     env);
    ck_assert_str_eq(s, "east.orders/4/cust-9/eu.created/Created/acme/42/$");
    free(s);
    brg_envelope_destroy(env);
}
END_TEST

START_TEST(test_template_absent_values_render_empty)
{
    brg_envelope_t *env = brg_envelope_new();
    char *s = render("a${key}b${header.none}c${partition}d", env);
    ck_assert_str_eq(s, "abcd");
    free(s);
    brg_envelope_destroy(env);
}
END_TEST

START_TEST(test_template_literal_detected)
{
    char err[128];
    brg_template_t *t = brg_template_parse("plain.name", err, sizeof(err));
    ck_assert(brg_template_is_literal(t));
    ck_assert_str_eq(brg_template_text(t), "plain.name");
    brg_template_destroy(t);
    t = brg_template_parse("x.${topic}", err, sizeof(err));
    ck_assert(!brg_template_is_literal(t));
    brg_template_destroy(t);
}
END_TEST

/* A sink's per-message value: a literal is its own text (no copy); a rendering reuses the
 * scratch buffer's memory, and a binary key keeps its length. */
START_TEST(test_template_value_reuses_scratch)
{
    brg_envelope_t *env = sample();
    char err[128];
    brg_template_t *lit = brg_template_parse("fixed.topic", err, sizeof(err));
    brg_template_t *var = brg_template_parse("copy.${topic}.${partition}", err, sizeof(err));
    brg_template_t *key = brg_template_parse("${key}", err, sizeof(err));
    brg_buf_t scratch = {0};
    size_t len = 0;
    const char *v = brg_template_value(lit, env, &scratch, &len);
    ck_assert_ptr_eq(v, brg_template_literal(lit, NULL));
    ck_assert_uint_eq(len, 11);
    ck_assert_ptr_null(scratch.data);
    v = brg_template_value(var, env, &scratch, &len);
    ck_assert_str_eq(v, "copy.orders.4");
    ck_assert_uint_eq(len, 13);
    const char *first = scratch.data;
    free(env->origin.stream);
    env->origin.stream = strdup("x");
    v = brg_template_value(var, env, &scratch, &len);
    ck_assert_str_eq(v, "copy.x.4");
    ck_assert_ptr_eq(v, first); /* the same memory: no allocation for a shorter value */
    brg_envelope_set_key(env, "a\0b", 3);
    v = brg_template_value(key, env, &scratch, &len);
    ck_assert_uint_eq(len, 3);
    ck_assert_mem_eq(v, "a\0b", 3);
    brg_buf_fini(&scratch);
    brg_template_destroy(lit);
    brg_template_destroy(var);
    brg_template_destroy(key);
    brg_envelope_destroy(env);
}
END_TEST

START_TEST(test_template_errors_say_where)
{
    char err[512];
    ck_assert_ptr_null(brg_template_parse("a.${topic", err, sizeof(err)));
    ck_assert_str_eq(err, "unterminated \"${\" at column 3");
    ck_assert_ptr_null(brg_template_parse("${nope}", err, sizeof(err)));
    ck_assert_msg(strncmp(err, "unknown variable \"${nope}\"", 26) == 0, "got: %s", err);
    ck_assert_ptr_null(brg_template_parse("cost $5", err, sizeof(err)));
    ck_assert_str_eq(err, "\"$\" at column 6 must start \"${name}\" (write \"$$\" for a dollar)");
}
END_TEST

Suite *check_suite(void)
{
    Suite *s = suite_create("template");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_template_renders_every_variable);
    tcase_add_test(tc, test_template_absent_values_render_empty);
    tcase_add_test(tc, test_template_literal_detected);
    tcase_add_test(tc, test_template_errors_say_where);
    tcase_add_test(tc, test_template_value_reuses_scratch);
    suite_add_tcase(s, tc);
    return s;
}
