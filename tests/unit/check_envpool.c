/* The envelope's recycling (bridge/arena.c, brg_envelope_recycle): arenas keep their memory and
 * never move what they handed out; the per-thread free list reuses envelopes, stays bounded, and
 * a recycled envelope carries nothing of its previous message. */
#include "tests/check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/arena.h"
#include "bridge/envelope.h"

START_TEST(test_arena_pointers_stay_valid_while_it_grows)
{
    brg_arena_t a;
    brg_arena_init(&a);
    char *first = brg_arena_strndup(&a, "first", 5);
    char *many[200];
    for (int i = 0; i < 200; i++) {
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "string number %d", i);
        many[i] = brg_arena_strndup(&a, buf, (size_t)n);
    }
    ck_assert_str_eq(first, "first");
    for (int i = 0; i < 200; i++) {
        char buf[32];
        snprintf(buf, sizeof(buf), "string number %d", i);
        ck_assert_str_eq(many[i], buf);
        ck_assert(brg_arena_owns(&a, many[i]));
    }
    int on_stack = 0;
    ck_assert(!brg_arena_owns(&a, &on_stack));
    brg_arena_fini(&a);
}
END_TEST

START_TEST(test_arena_reset_keeps_one_chunk_that_fits)
{
    brg_arena_t a;
    brg_arena_init(&a);
    for (int i = 0; i < 100; i++) {
        brg_arena_alloc(&a, 100); /* 10000 bytes over several chunks */
    }
    brg_arena_reset(&a, 1 << 20);
    size_t cap = brg_arena_capacity(&a);
    ck_assert_uint_ge(cap, 10000);
    /* The same shape again fits in what was kept: the capacity does not change. */
    for (int i = 0; i < 100; i++) {
        brg_arena_alloc(&a, 100);
    }
    ck_assert_uint_eq(brg_arena_capacity(&a), cap);
    /* Over the bound: nothing is kept. */
    brg_arena_reset(&a, 1000);
    ck_assert_uint_eq(brg_arena_capacity(&a), 0);
    brg_arena_fini(&a);
}
END_TEST

START_TEST(test_recycled_envelope_is_reused)
{
    brg_envelope_cache_clear();
    brg_envelope_t *env = brg_envelope_new();
    brg_envelope_set_body(env, "abc", 3);
    brg_envelope_recycle(env);
    ck_assert_uint_eq(brg_envelope_cache_count(), 1);
    brg_envelope_t *again = brg_envelope_new();
    ck_assert_ptr_eq(again, env);
    ck_assert_uint_eq(brg_envelope_cache_count(), 0);
    brg_envelope_destroy(again);
}
END_TEST

START_TEST(test_free_list_is_bounded)
{
    brg_envelope_cache_clear();
    size_t n = BRG_ENVELOPE_CACHE_MAX + 10;
    brg_envelope_t **envs = malloc(n * sizeof(*envs));
    for (size_t i = 0; i < n; i++) {
        envs[i] = brg_envelope_new();
    }
    for (size_t i = 0; i < n; i++) {
        brg_envelope_recycle(envs[i]);
    }
    ck_assert_uint_eq(brg_envelope_cache_count(), BRG_ENVELOPE_CACHE_MAX);
    brg_envelope_cache_clear();
    ck_assert_uint_eq(brg_envelope_cache_count(), 0);
    /* Bytes bound too: envelopes with large bodies are not all kept. */
    size_t big = BRG_ENVELOPE_KEEP_BYTES - 1, fit = BRG_ENVELOPE_CACHE_BYTES / big;
    size_t nbig = fit + 100;
    ck_assert_uint_lt(nbig, n);
    for (size_t i = 0; i < nbig; i++) {
        envs[i] = brg_envelope_new();
        brg_envelope_body_buf(envs[i], big - 1);
    }
    for (size_t i = 0; i < nbig; i++) {
        brg_envelope_recycle(envs[i]);
    }
    ck_assert_uint_le(brg_envelope_cache_count(), fit);
    brg_envelope_cache_clear();
    free(envs);
}
END_TEST

START_TEST(test_large_body_buffer_not_kept)
{
    brg_envelope_cache_clear();
    brg_envelope_t *env = brg_envelope_new();
    brg_envelope_body_buf(env, BRG_ENVELOPE_KEEP_BYTES * 4);
    brg_envelope_recycle(env);
    brg_envelope_t *again = brg_envelope_new();
    ck_assert_ptr_eq(again, env);
    ck_assert_uint_eq(again->body_cap, 0);
    brg_envelope_destroy(again);
}
END_TEST

static int released;
static void count_release(void *opaque)
{
    (void)opaque;
    released++;
}

START_TEST(test_recycled_envelope_carries_nothing_old)
{
    brg_envelope_cache_clear();
    brg_envelope_t *env = brg_envelope_new();
    brg_envelope_set_body(env, "a long first body with many bytes", 33);
    brg_envelope_set_key(env, "first-key", 9);
    brg_envelope_add_header_str(env, "h1", "value one");
    brg_envelope_add_header_str(env, "h2", "value two");
    brg_value_t heap = brg_value_string("on the heap", 11);
    brg_fields_add(&env->headers, "h3", 2, &heap);
    brg_envelope_set_str(env, &env->props.message_id, "id-1", 4);
    brg_props_set(&env->props.content_type, "text/plain");
    brg_envelope_set_str(env, &env->origin.stream, "stream-1", 8);
    env->origin.exchange = strdup("ex-1");
    env->origin.partition = 3;
    env->origin.offset = 77;
    env->origin.redelivered = true;
    env->props.priority = 5;
    env->src_seq = 42;
    brg_envelope_set_reject_reason(env, "bad");
    brg_envelope_recycle(env);

    brg_envelope_t *e2 = brg_envelope_new();
    ck_assert_ptr_eq(e2, env);
    ck_assert_ptr_null(e2->body);
    ck_assert_uint_eq(e2->body_len, 0);
    ck_assert_ptr_null(e2->key);
    ck_assert_uint_eq(e2->headers.count, 0);
    ck_assert_ptr_null(e2->props.message_id);
    ck_assert_ptr_null(e2->props.content_type);
    ck_assert_ptr_null(e2->origin.stream);
    ck_assert_ptr_null(e2->origin.exchange);
    ck_assert_ptr_null(e2->reject_reason);
    ck_assert_int_eq(e2->origin.partition, -1);
    ck_assert_int_eq(e2->origin.offset, -1);
    ck_assert(!e2->origin.redelivered);
    ck_assert_int_eq(e2->props.priority, -1);
    ck_assert_int_eq(e2->props.timestamp_ms, -1);
    ck_assert_uint_eq(e2->src_seq, 0);
    ck_assert_ptr_null(e2->dlv);

    /* A shorter message in the same buffers: exactly its bytes, nothing left of the first. */
    brg_envelope_set_body(e2, "short", 5);
    ck_assert_uint_eq(e2->body_len, 5);
    ck_assert_mem_eq(e2->body, "short", 6); /* NUL right after */
    brg_envelope_set_key(e2, "k", 1);
    ck_assert_uint_eq(e2->key_len, 1);
    ck_assert_mem_eq(e2->key, "k", 2);
    brg_envelope_add_header_str(e2, "x", "y");
    ck_assert_uint_eq(e2->headers.count, 1);
    ck_assert_uint_eq(e2->headers.items[0].name_len, 1);
    ck_assert_str_eq(e2->headers.items[0].name, "x");
    ck_assert_uint_eq(e2->headers.items[0].value.u.bytes.len, 1);
    ck_assert_str_eq((const char *)e2->headers.items[0].value.u.bytes.data, "y");
    ck_assert_uint_eq(brg_envelope_size(e2), 5 + 1 + 1 + 8 + 1);

    /* A borrowed body is released once, at recycle, not again when reused. */
    released = 0;
    brg_envelope_set_body_ref(e2, "ref", 3, count_release, NULL);
    brg_envelope_recycle(e2);
    ck_assert_int_eq(released, 1);
    brg_envelope_t *e3 = brg_envelope_new();
    ck_assert_ptr_null(e3->body);
    brg_envelope_destroy(e3);
    ck_assert_int_eq(released, 1);
}
END_TEST

START_TEST(test_arena_values_copy_to_owned)
{
    brg_envelope_cache_clear();
    brg_envelope_t *env = brg_envelope_new();
    brg_value_t v = brg_envelope_value(env, BRG_V_BYTES, "\0\1\2", 3);
    ck_assert(v.borrowed);
    brg_envelope_add_header(env, "bin", 3, &v);
    brg_envelope_t *c = brg_envelope_copy(env);
    /* The copy owns its headers: it outlives the original's arena. */
    brg_envelope_recycle(env);
    brg_envelope_t *reused = brg_envelope_new();
    brg_envelope_add_header_str(reused, "other", "xxxxxxxxxxxx");
    ck_assert_uint_eq(c->headers.count, 1);
    ck_assert_str_eq(c->headers.items[0].name, "bin");
    ck_assert_mem_eq(c->headers.items[0].value.u.bytes.data, "\0\1\2", 3);
    /* Removing an arena header frees nothing it does not own (ASan/valgrind check it). */
    ck_assert_uint_eq(brg_fields_remove(&reused->headers, "other"), 1);
    brg_envelope_destroy(reused);
    brg_envelope_destroy(c);
    brg_envelope_cache_clear();
}
END_TEST

Suite *check_suite(void)
{
    Suite *s = suite_create("envpool");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_arena_pointers_stay_valid_while_it_grows);
    tcase_add_test(tc, test_arena_reset_keeps_one_chunk_that_fits);
    tcase_add_test(tc, test_recycled_envelope_is_reused);
    tcase_add_test(tc, test_free_list_is_bounded);
    tcase_add_test(tc, test_large_body_buffer_not_kept);
    tcase_add_test(tc, test_recycled_envelope_carries_nothing_old);
    tcase_add_test(tc, test_arena_values_copy_to_owned);
    suite_add_tcase(s, tc);
    return s;
}
