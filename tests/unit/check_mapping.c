/* Mappings: filters, header and key rules, stream rename, provenance and loop prevention. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mappings/filter.h"
#include "mappings/mapping.h"

static brg_envelope_t *sample(void)
{
    brg_envelope_t *env = brg_envelope_new();
    env->origin.stream = strdup("orders.eu");
    env->origin.partition = 2;
    brg_envelope_set_key(env, "cust-42", 7);
    brg_envelope_add_header_str(env, "type", "order");
    brg_envelope_add_header_str(env, "region", "eu-west");
    brg_value_t v = brg_value_int(7, 32);
    brg_fields_add(&env->headers, "prio", 4, &v);
    brg_props_set(&env->props.content_type, "application/json");
    return env;
}

static bool match(const char *expr, const brg_envelope_t *env)
{
    char err[256];
    brg_filter_t *f = brg_filter_parse(expr, err, sizeof(err));
    ck_assert_msg(f != NULL, "%s: %s", expr, err);
    bool r = brg_filter_match(f, env);
    brg_filter_destroy(f);
    return r;
}

START_TEST(test_filter_operators)
{
    brg_envelope_t *env = sample();
    ck_assert(match("header.type = 'order'", env));
    ck_assert(!match("header.type = 'refund'", env));
    ck_assert(match("header.type != 'refund'", env));
    ck_assert(match("header.missing != 'x'", env));
    ck_assert(!match("header.missing = ''", env));
    ck_assert(match("key prefix 'cust-'", env));
    ck_assert(match("topic ~ '^orders\\\\.[a-z]+$'", env));
    ck_assert(match("topic matches 'eu$'", env));
    ck_assert(match("header.prio = '7'", env));
    ck_assert(match("partition = '2'", env));
    ck_assert(match("content_type = \"application/json\"", env));
    ck_assert(match("header.region exists", env));
    ck_assert(!match("header.nope exists", env));
    ck_assert(match("header.type = 'order' and not (key prefix 'test' or header.debug exists)", env));
    ck_assert(!match("header.type = 'x' or header.region = 'us'", env));
    ck_assert(match("not not header.type exists", env));
    brg_envelope_destroy(env);
}
END_TEST

static void parse_error(const char *expr, const char *want)
{
    char err[512];
    brg_filter_t *f = brg_filter_parse(expr, err, sizeof(err));
    ck_assert_msg(f == NULL, "%s parsed", expr);
    ck_assert_str_eq(err, want);
}

START_TEST(test_filter_errors_have_columns)
{
    parse_error("header.type =", "expected a quoted string after \"=\" at column 14");
    parse_error("colour = 'red'",
                "unknown field \"colour\" (valid: key, topic, partition, routing_key, exchange, "
                "subject, message_id, correlation_id, content_type, header.NAME) at column 1");
    parse_error("key = 'a' and", "expected a field (key, topic, header.NAME, ...) at column 14");
    parse_error("(key exists", "expected \")\" at column 12");
    parse_error("key = 'a' key = 'b'", "unexpected \"key = 'b'\" at column 11");
    parse_error("key = 'abc", "unterminated string at column 11");
    parse_error("key ~ '('", "bad regular expression: Unmatched ( or \\( at column 7");
    parse_error("", "expected a field (key, topic, header.NAME, ...) at column 1");
    parse_error("topic ~ '(((((a+)+)+)+)+'",
                "bad regular expression: repetitions nested more than 3 deep at column 9");
    parse_error("topic ~ 'a+++'",
                "bad regular expression: a repetition follows another one at column 3 at column 9");
    /* The filter string's own escape turns 'e\\++' into the regex e++. */
    parse_error("topic ~ 'e\\++'",
                "bad regular expression: a repetition follows another one at column 3 at column 9");
    char err[256];
    brg_filter_t *ok = brg_filter_parse("topic ~ '^(ab+|c[+*]d)*(x{2,3})?$'", err, sizeof(err));
    ck_assert_msg(ok != NULL, "%s", err);
    brg_filter_destroy(ok);
    parse_error("key like 'x'", "expected =, !=, prefix, ~ or exists after \"key\" at column 5");
}
END_TEST

static brg_mapping_t *mapping(const char *mapping_text, const char *bridge, const char *route)
{
    char text[2048];
    snprintf(text, sizeof(text), "mapping = { %s };", mapping_text);
    extern brg_cfg_t *test_parse_group(const char *text);
    brg_cfg_t *cs = test_parse_group(text);
    brg_diag_t d;
    brg_diag_init(&d);
    brg_mapping_t *m = brg_mapping_new(cs, bridge, route, &d);
    ck_assert_msg(m != NULL, "%s", d.count ? d.lines[0] : "?");
    brg_diag_fini(&d);
    brg_cfg_destroy(cs);
    return m;
}

START_TEST(test_mapping_header_rules_and_key)
{
    brg_mapping_t *m = mapping("provenance = false;"
                               "remove_headers = [ \"prio\" ];"
                               "rename_headers = ( { from = \"region\"; to = \"x-region\"; } );"
                               "set_headers = ( { name = \"origin\"; value = \"east.${topic}\"; },"
                               "                { name = \"type\"; value = \"${header.type}!\"; } );"
                               "key = \"${header.region}/${key}\";",
                               "east", "r1");
    brg_envelope_t *env = sample();
    ck_assert_int_eq(brg_mapping_apply(m, env, NULL, 0), BRG_MAP_PASS);
    ck_assert_ptr_null(brg_fields_get(&env->headers, "prio"));
    ck_assert_ptr_null(brg_fields_get(&env->headers, "region"));
    ck_assert_str_eq((char *)brg_fields_get(&env->headers, "x-region")->value.u.bytes.data, "eu-west");
    ck_assert_str_eq((char *)brg_fields_get(&env->headers, "origin")->value.u.bytes.data,
                     "east.orders.eu");
    ck_assert_str_eq((char *)brg_fields_get(&env->headers, "type")->value.u.bytes.data, "order!");
    /* The key template sees the headers after the rules: region was renamed away. */
    ck_assert_str_eq((char *)env->key, "/cust-42");
    ck_assert_ptr_null(brg_fields_get(&env->headers, "x-msgbridge-path"));
    brg_envelope_destroy(env);
    brg_mapping_destroy(m);
}
END_TEST

START_TEST(test_mapping_key_regex_and_rename)
{
    brg_mapping_t *m = mapping("provenance = false;"
                               "key_regex = { field = \"topic\"; pattern = \"^orders\\\\.(.*)$\"; };"
                               "rename = { pattern = \"^orders\\\\.(.*)$\"; replace = \"east.orders-\\\\1\"; };",
                               "east", "r1");
    brg_envelope_t *env = sample();
    ck_assert_int_eq(brg_mapping_apply(m, env, NULL, 0), BRG_MAP_PASS);
    ck_assert_str_eq(env->origin.stream, "east.orders-eu");
    /* The key rule runs after the rename: the pattern no longer matches, the key stays. */
    ck_assert_str_eq((char *)env->key, "cust-42");
    brg_envelope_destroy(env);
    brg_mapping_destroy(m);

    m = mapping("provenance = false; key_regex = { pattern = \"^orders\\\\.(.*)$\"; };", "e", "r");
    env = sample();
    brg_mapping_apply(m, env, NULL, 0);
    ck_assert_str_eq((char *)env->key, "eu");
    brg_envelope_destroy(env);
    brg_mapping_destroy(m);
}
END_TEST

START_TEST(test_mapping_filter_verdict)
{
    brg_mapping_t *m = mapping("where = \"header.type = 'refund'\";", "east", "r1");
    brg_envelope_t *env = sample();
    ck_assert_int_eq(brg_mapping_apply(m, env, NULL, 0), BRG_MAP_FILTERED);
    brg_envelope_destroy(env);
    brg_mapping_destroy(m);
}
END_TEST

START_TEST(test_provenance_stamps_and_stops_echo)
{
    brg_mapping_t *east = mapping("", "east", "to-west");
    brg_mapping_t *west = mapping("", "west", "to-east");
    brg_mapping_t *west2 = mapping("max_hops = 2;", "west", "to-east");
    brg_envelope_t *env = sample();
    ck_assert_int_eq(brg_mapping_apply(east, env, NULL, 0), BRG_MAP_PASS);
    const brg_field_t *p = brg_fields_get(&env->headers, "x-msgbridge-path");
    ck_assert_str_eq((char *)p->value.u.bytes.data, "east/to-west");
    /* The message comes back through the other bridge: one hop already, max_hops 1. */
    char why[128];
    ck_assert_int_eq(brg_mapping_apply(west, env, why, sizeof(why)), BRG_MAP_LOOP);
    ck_assert_str_eq(why, "crossed 1 bridges (max_hops 1)");
    /* With max_hops 2 it crosses, and the path grows. */
    ck_assert_int_eq(brg_mapping_apply(west2, env, NULL, 0), BRG_MAP_PASS);
    p = brg_fields_get(&env->headers, "x-msgbridge-path");
    ck_assert_str_eq((char *)p->value.u.bytes.data, "east/to-west,west/to-east");
    /* Back at east: its own id is in the path, whatever max_hops says. */
    ck_assert_int_eq(brg_mapping_apply(east, env, why, sizeof(why)), BRG_MAP_LOOP);
    ck_assert_str_eq(why, "already crossed bridge \"east\"");
    brg_envelope_destroy(env);
    brg_mapping_destroy(east);
    brg_mapping_destroy(west);
    brg_mapping_destroy(west2);
}
END_TEST

START_TEST(test_mapping_config_errors)
{
    extern brg_cfg_t *test_parse_group(const char *text);
    brg_cfg_t *cs = test_parse_group("mapping = {\n where = \"key = \";\n"
                                     " key_regex = { pattern = \"(\"; };\n colour = 1; };");
    brg_diag_t d;
    brg_diag_init(&d);
    ck_assert_ptr_null(brg_mapping_new(cs, "b", "r", &d));
    ck_assert_uint_eq(d.errors, 3);
    ck_assert_str_eq(d.lines[0],
                     "t.conf:4: mapping.colour: unknown key \"colour\" (valid keys: provenance, "
                     "max_hops, strict, where, rename, remove_headers, rename_headers, "
                     "set_headers, key, key_regex)");
    ck_assert_str_eq(d.lines[1],
                     "t.conf:2: mapping.where: expected a quoted string after \"=\" at column 7");
    ck_assert_str_eq(d.lines[2],
                     "t.conf:3: mapping.key_regex.pattern: bad regular expression \"(\": "
                     "Unmatched ( or \\(");
    brg_diag_fini(&d);
    brg_cfg_destroy(cs);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mapping");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_filter_operators);
    tcase_add_test(tc, test_filter_errors_have_columns);
    tcase_add_test(tc, test_mapping_header_rules_and_key);
    tcase_add_test(tc, test_mapping_key_regex_and_rename);
    tcase_add_test(tc, test_mapping_filter_verdict);
    tcase_add_test(tc, test_provenance_stamps_and_stops_echo);
    tcase_add_test(tc, test_mapping_config_errors);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
