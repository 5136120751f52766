/* Mappings: filters, header and key rules, stream rename, provenance and loop prevention. */
#include "tests/check_main.h"
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
    extern brg_conf_node_t *test_parse_group(const char *text);
    brg_conf_node_t *cs = test_parse_group(text);
    brg_diag_t d;
    brg_diag_init(&d);
    brg_mapping_t *m = brg_mapping_new(cs, bridge, route, &d);
    ck_assert_msg(m != NULL, "%s", d.count ? d.lines[0] : "?");
    brg_diag_fini(&d);
    brg_conf_node_destroy(cs);
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
    /* The name as read stays beside it (what a Kafka offset sync names), in a copy too. */
    ck_assert_str_eq(env->origin.stream_read, "orders.eu");
    brg_envelope_t *copy = brg_envelope_copy(env);
    ck_assert_str_eq(copy->origin.stream_read, "orders.eu");
    brg_envelope_destroy(copy);
    /* The key rule runs after the rename: the pattern no longer matches, the key stays. */
    ck_assert_str_eq((char *)env->key, "cust-42");
    brg_envelope_destroy(env);
    brg_mapping_destroy(m);

    m = mapping("provenance = false; key_regex = { pattern = \"^orders\\\\.(.*)$\"; };", "e", "r");
    env = sample();
    brg_mapping_apply(m, env, NULL, 0);
    ck_assert_str_eq((char *)env->key, "eu");
    ck_assert_ptr_null(env->origin.stream_read); /* not renamed */
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
    ck_assert_str_eq(why, "crossed 1 other bridge (max_hops 1)");
    /* With max_hops 2 it crosses, and the path grows. */
    ck_assert_int_eq(brg_mapping_apply(west2, env, NULL, 0), BRG_MAP_PASS);
    p = brg_fields_get(&env->headers, "x-msgbridge-path");
    ck_assert_str_eq((char *)p->value.u.bytes.data, "east/to-west,west/to-east");
    /* Back at east: one other bridge crossed, max_hops 1. */
    ck_assert_int_eq(brg_mapping_apply(east, env, why, sizeof(why)), BRG_MAP_LOOP);
    ck_assert_str_eq(why, "crossed 1 other bridge (max_hops 1)");
    brg_envelope_destroy(env);
    brg_mapping_destroy(east);
    brg_mapping_destroy(west);
    brg_mapping_destroy(west2);
}
END_TEST


/* ---- loop prevention by stream: one bridge "b" whose routes are given as config text ---- */

#define NROUTES 8
static brg_conf_node_t *route_cs[NROUTES];
static brg_streams_t *streams;
static brg_mapping_t *maps[NROUTES];
static size_t nmaps;

/* Each text is one route group ("name = ...; from = {...}; to = {...};"). */
static void bridge_of(const char *const *routes)
{
    extern brg_conf_node_t *test_parse_group(const char *text);
    nmaps = 0;
    while (routes[nmaps]) {
        route_cs[nmaps] = test_parse_group(routes[nmaps]);
        nmaps++;
    }
    streams = brg_streams_new((const brg_conf_node_t *const *)route_cs, nmaps);
    for (size_t i = 0; i < nmaps; i++) {
        brg_diag_t d;
        brg_diag_init(&d);
        maps[i] = brg_mapping_new(route_cs[i], "b", brg_conf_str(route_cs[i], "name", "?"), &d);
        ck_assert_ptr_nonnull(maps[i]);
        brg_diag_fini(&d);
        brg_mapping_set_streams(maps[i], streams);
    }
}

static void bridge_done(void)
{
    for (size_t i = 0; i < nmaps; i++) {
        brg_mapping_destroy(maps[i]);
        brg_conf_node_destroy(route_cs[i]);
    }
    brg_streams_destroy(streams);
}

/* A message read from stream (and exchange, for AMQP 0-9-1) with the path so far. */
static brg_envelope_t *read_from(const char *stream, const char *exchange, const char *path)
{
    brg_envelope_t *env = brg_envelope_new();
    env->origin.stream = strdup(stream);
    env->origin.exchange = exchange ? strdup(exchange) : NULL;
    if (path) {
        brg_envelope_add_header_str(env, "x-msgbridge-path", path);
    }
    return env;
}

static const char *path_of(const brg_envelope_t *env)
{
    const brg_field_t *p = brg_fields_get(&env->headers, "x-msgbridge-path");
    return p ? (const char *)p->value.u.bytes.data : "";
}

/* Hand env on as the next route reads it (from the stream it was written to). */
static brg_envelope_t *hand_on(brg_envelope_t *env, const char *stream, const char *exchange)
{
    brg_envelope_t *next = read_from(stream, exchange, path_of(env));
    brg_envelope_destroy(env);
    return next;
}

START_TEST(test_loop_chains_allowed)
{
    /* The hub: AMQP 1.0 audit -> Kafka audit -> RabbitMQ exchange; and the round trip. */
    const char *routes[] = {
        "name = \"in\"; from = { endpoint = \"a1\"; address = \"audit\"; };"
        " to = { endpoint = \"k\"; topic = \"audit\"; };",
        "name = \"out\"; from = { endpoint = \"k\"; topic = \"audit\"; group = \"g\"; };"
        " to = { endpoint = \"r\"; exchange = \"audit.x\"; };",
        "name = \"rt-out\"; from = { endpoint = \"k\"; topic = \"rt.src\"; group = \"g\"; };"
        " to = { endpoint = \"r\"; exchange = \"rt.x\"; };",
        "name = \"rt-back\"; from = { endpoint = \"r\"; queue = \"rt.q\"; };"
        " to = { endpoint = \"k\"; topic = \"rt.back\"; };",
        NULL};
    bridge_of(routes);
    char why[256] = "";
    brg_envelope_t *env = read_from("audit", NULL, NULL);
    ck_assert_int_eq(brg_mapping_apply(maps[0], env, why, sizeof(why)), BRG_MAP_PASS);
    env = hand_on(env, "audit", NULL);
    ck_assert_int_eq(brg_mapping_apply(maps[1], env, why, sizeof(why)), BRG_MAP_PASS);
    ck_assert_str_eq(path_of(env), "b/in,b/out");
    brg_envelope_destroy(env);
    env = read_from("rt.src", NULL, NULL);
    ck_assert_int_eq(brg_mapping_apply(maps[2], env, why, sizeof(why)), BRG_MAP_PASS);
    env = hand_on(env, "rt.q", "rt.x");
    ck_assert_int_eq(brg_mapping_apply(maps[3], env, why, sizeof(why)), BRG_MAP_PASS);
    ck_assert_str_eq(path_of(env), "b/rt-out,b/rt-back>rt.x");
    brg_envelope_destroy(env);
    /* A reload without the route "in": its old entries are now a loop for "out". */
    brg_streams_t *reloaded = brg_streams_new((const brg_conf_node_t *const *)route_cs + 1, nmaps - 1);
    brg_mapping_set_streams(maps[1], reloaded);
    brg_streams_destroy(reloaded);
    env = read_from("audit", NULL, "b/in");
    ck_assert_int_eq(brg_mapping_apply(maps[1], env, why, sizeof(why)), BRG_MAP_LOOP);
    ck_assert_str_eq(why, "already crossed bridge \"b\" (route \"in\" unknown)");
    brg_envelope_destroy(env);
    bridge_done();
}
END_TEST

START_TEST(test_loop_own_stream_dropped)
{
    /* Kafka ev <-> RabbitMQ exchange ev.x (bound to ev.q by hand) in one bridge. */
    const char *routes[] = {
        "name = \"k2r\"; from = { endpoint = \"k\"; topic = \"ev\"; group = \"g\"; };"
        " to = { endpoint = \"r\"; exchange = \"ev.x\"; };",
        "name = \"r2k\"; from = { endpoint = \"r\"; queue = \"ev.q\"; };"
        " to = { endpoint = \"k\"; topic = \"ev\"; };",
        NULL};
    bridge_of(routes);
    char why[256] = "";
    /* Published to Kafka: crosses once, never comes back to Kafka ev. */
    brg_envelope_t *env = read_from("ev", NULL, NULL);
    ck_assert_int_eq(brg_mapping_apply(maps[0], env, why, sizeof(why)), BRG_MAP_PASS);
    env = hand_on(env, "ev.q", "ev.x");
    ck_assert_int_eq(brg_mapping_apply(maps[1], env, why, sizeof(why)), BRG_MAP_LOOP);
    ck_assert_str_eq(why, "it would be written to k/topic:ev, which it was read from at hop "
                          "\"b/k2r\"");
    brg_envelope_destroy(env);
    /* Published to RabbitMQ ev.x: crosses once, never goes back to the exchange. */
    env = read_from("ev.q", "ev.x", NULL);
    ck_assert_int_eq(brg_mapping_apply(maps[1], env, why, sizeof(why)), BRG_MAP_PASS);
    ck_assert_str_eq(path_of(env), "b/r2k>ev.x");
    env = hand_on(env, "ev", NULL);
    ck_assert_int_eq(brg_mapping_apply(maps[0], env, why, sizeof(why)), BRG_MAP_LOOP);
    ck_assert_str_eq(why, "it would be written to r/exchange:ev.x, which it was read from at "
                          "hop \"b/r2k>ev.x\"");
    brg_envelope_destroy(env);
    bridge_done();
}
END_TEST

START_TEST(test_loop_patterns_templates_and_old_entries)
{
    const char *routes[] = {
        "name = \"fan\"; from = { endpoint = \"k\"; topic = \"^ev\\\\..*\"; group = \"g\"; };"
        " to = { endpoint = \"r\"; exchange = \"all\"; };",
        "name = \"back\"; from = { endpoint = \"r\"; queue = \"all.q\"; };"
        " to = { endpoint = \"k\"; topic = \"${header.dest}\"; };",
        NULL};
    bridge_of(routes);
    char why[256] = "";
    /* The pattern's entry names the topic read; the template renders per message. */
    brg_envelope_t *env = read_from("ev.a", NULL, NULL);
    ck_assert_int_eq(brg_mapping_apply(maps[0], env, why, sizeof(why)), BRG_MAP_PASS);
    ck_assert_str_eq(path_of(env), "b/fan@ev.a");
    env = hand_on(env, "all.q", NULL);
    brg_envelope_add_header_str(env, "dest", "ev.b");
    ck_assert_int_eq(brg_mapping_apply(maps[1], env, why, sizeof(why)), BRG_MAP_PASS);
    brg_envelope_destroy(env);
    env = read_from("all.q", NULL, "b/fan@ev.a");
    brg_envelope_add_header_str(env, "dest", "ev.a");
    ck_assert_int_eq(brg_mapping_apply(maps[1], env, why, sizeof(why)), BRG_MAP_LOOP);
    ck_assert_str_eq(why, "it would be written to k/topic:ev.a, which it was read from at hop "
                          "\"b/fan@ev.a\"");
    brg_envelope_destroy(env);
    /* Old entries: "b/fan" cannot say which topic the pattern read, and "b/gone" is no route
     * of this config: both count as a loop, as every own entry did before. */
    env = read_from("all.q", NULL, "b/fan");
    brg_envelope_add_header_str(env, "dest", "other");
    ck_assert_int_eq(brg_mapping_apply(maps[1], env, why, sizeof(why)), BRG_MAP_LOOP);
    brg_envelope_destroy(env);
    env = read_from("all.q", NULL, "b/gone");
    brg_envelope_add_header_str(env, "dest", "other");
    ck_assert_int_eq(brg_mapping_apply(maps[1], env, why, sizeof(why)), BRG_MAP_LOOP);
    ck_assert_str_eq(why, "already crossed bridge \"b\" (route \"gone\" unknown)");
    brg_envelope_destroy(env);
    /* An old entry of a route with a named source is read with the config's streams. */
    env = read_from("ev.x", NULL, "b/back");
    ck_assert_int_eq(brg_mapping_apply(maps[0], env, why, sizeof(why)), BRG_MAP_PASS);
    brg_envelope_destroy(env);
    bridge_done();
}
END_TEST

START_TEST(test_loop_max_hops_counts_other_bridges)
{
    const char *routes[] = {
        "name = \"in\"; from = { endpoint = \"a1\"; address = \"audit\"; };"
        " to = { endpoint = \"k\"; topic = \"audit\"; };",
        "name = \"out\"; from = { endpoint = \"k\"; topic = \"audit\"; group = \"g\"; };"
        " to = { endpoint = \"r\"; exchange = \"audit.x\"; };",
        NULL};
    bridge_of(routes);
    char why[256] = "";
    /* Own hops do not count toward max_hops (1): the chain forwards. */
    brg_envelope_t *env = read_from("audit", NULL, "b/in");
    ck_assert_int_eq(brg_mapping_apply(maps[1], env, why, sizeof(why)), BRG_MAP_PASS);
    brg_envelope_destroy(env);
    /* One hop through another bridge is max_hops 1. */
    env = read_from("audit", NULL, "east/x");
    ck_assert_int_eq(brg_mapping_apply(maps[0], env, why, sizeof(why)), BRG_MAP_LOOP);
    ck_assert_str_eq(why, "crossed 1 other bridge (max_hops 1)");
    brg_envelope_destroy(env);
    /* A bridge id that is a prefix of ours is another bridge. */
    env = read_from("audit", NULL, "bb/in");
    ck_assert_int_eq(brg_mapping_apply(maps[1], env, why, sizeof(why)), BRG_MAP_LOOP);
    brg_envelope_destroy(env);
    bridge_done();
}
END_TEST

START_TEST(test_loop_chain_printing)
{
    const char *routes[] = {
        "name = \"k2r\"; from = { endpoint = \"k\"; topic = \"ev\"; group = \"g\"; };"
        " to = { endpoint = \"r\"; exchange = \"ev.x\"; };",
        "name = \"r2k\"; from = { endpoint = \"r\"; queue = \"ev.q\"; exchange = \"ev.x\"; };"
        " to = { endpoint = \"k\"; topic = \"ev\"; };",
        "name = \"tail\"; from = { endpoint = \"k\"; topic = \"ev\"; group = \"h\"; };"
        " to = { endpoint = \"k\"; topic = \"ev.copy\"; };",
        NULL};
    bridge_of(routes);
    char buf[2048] = "";
    FILE *f = fmemopen(buf, sizeof(buf), "w");
    ck_assert_uint_eq(brg_streams_print_chains(streams, f), 1);
    fclose(f);
    ck_assert_str_eq(buf, "chain: route k2r -> route r2k\n"
                          "warning: routes k2r and r2k form a cycle (each writes to what the "
                          "other reads): loop prevention stops each message where it would go "
                          "back to a stream it was read from\n"
                          "chain: route r2k -> route k2r\n"
                          "chain: route r2k -> route tail\n");
    bridge_done();
}
END_TEST

START_TEST(test_mapping_config_errors)
{
    extern brg_conf_node_t *test_parse_group(const char *text);
    brg_conf_node_t *cs = test_parse_group("mapping = {\n where = \"key = \";\n"
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
    brg_conf_node_destroy(cs);
}
END_TEST

Suite *check_suite(void)
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
    tcase_add_test(tc, test_loop_chains_allowed);
    tcase_add_test(tc, test_loop_own_stream_dropped);
    tcase_add_test(tc, test_loop_patterns_templates_and_old_entries);
    tcase_add_test(tc, test_loop_max_hops_counts_other_bridges);
    tcase_add_test(tc, test_loop_chain_printing);
    suite_add_tcase(s, tc);
    return s;
}
