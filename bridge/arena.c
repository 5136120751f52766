#include "bridge/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/err.h"

struct brg_arena_chunk {
    brg_arena_chunk_t *next;
    size_t cap, used;
    unsigned char data[];
};

/* The first chunk: a message's provenance entry, stream name and a few headers fit. */
#define ARENA_MIN_CHUNK 256

void brg_arena_init(brg_arena_t *a)
{
    a->head = NULL;
    a->used = 0;
}

static void free_chain(brg_arena_chunk_t *c)
{
    while (c) {
        brg_arena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
}

void brg_arena_fini(brg_arena_t *a)
{
    free_chain(a->head);
    brg_arena_init(a);
}

static brg_arena_chunk_t *chunk_new(size_t cap)
{
    brg_arena_chunk_t *c = brg_xmalloc(sizeof(*c) + cap);
    c->next = NULL;
    c->cap = cap;
    c->used = 0;
    return c;
}

void *brg_arena_alloc(brg_arena_t *a, size_t n)
{
    brg_arena_chunk_t *c = a->head;
    if (!c || c->cap - c->used < n) {
        /* Grow geometrically, so a message with many headers costs a few chunks, not one per
         * header; the old chunks stay (pointers into them must remain valid). */
        size_t cap = c ? c->cap * 2 : ARENA_MIN_CHUNK;
        while (cap < n) {
            cap *= 2;
        }
        brg_arena_chunk_t *nc = chunk_new(cap);
        nc->next = c;
        a->head = c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    a->used += n;
    return p;
}

char *brg_arena_strndup(brg_arena_t *a, const void *s, size_t len)
{
    char *p = brg_arena_alloc(a, len + 1);
    if (len) {
        memcpy(p, s, len);
    }
    p[len] = 0;
    return p;
}

void brg_arena_reset(brg_arena_t *a, size_t keep_max)
{
    brg_arena_chunk_t *c = a->head;
    if (!c) {
        return;
    }
    if (c->next || c->cap > keep_max) {
        /* Several chunks (the last message outgrew the first), or one too large to keep:
         * replace them by one chunk that holds what the message needed, if that is allowed. */
        size_t need = a->used > ARENA_MIN_CHUNK ? a->used : ARENA_MIN_CHUNK;
        free_chain(c);
        a->head = need <= keep_max ? chunk_new(need) : NULL;
    } else {
        c->used = 0;
    }
    a->used = 0;
}

bool brg_arena_owns(const brg_arena_t *a, const void *p)
{
    uintptr_t x = (uintptr_t)p;
    for (const brg_arena_chunk_t *c = a->head; c; c = c->next) {
        if (x >= (uintptr_t)c->data && x < (uintptr_t)(c->data + c->cap)) {
            return true;
        }
    }
    return false;
}

size_t brg_arena_capacity(const brg_arena_t *a)
{
    size_t n = 0;
    for (const brg_arena_chunk_t *c = a->head; c; c = c->next) {
        n += c->cap;
    }
    return n;
}
