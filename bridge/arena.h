/* Arenas: the storage an envelope keeps for the variable-length parts of one message (header
 * names and values, property and origin strings) so that a recycled envelope carries the next
 * message without a heap allocation (DESIGN.md section 7).
 *
 * Bytes are bump-allocated from chunks and never move, so pointers into an arena stay valid
 * until brg_arena_reset. Reset forgets everything but keeps the memory: one chunk at least as
 * large as everything the arena held, so a message of the same shape next time fits in it
 * without allocating. Memory stays bounded: a reset never keeps more than `keep_max` bytes.
 * Not thread-safe: an arena belongs to its envelope, touched by one thread at a time. */
#ifndef BRG_ARENA_H
#define BRG_ARENA_H

#include <stdbool.h>
#include <stddef.h>

typedef struct brg_arena_chunk brg_arena_chunk_t;

typedef struct brg_arena {
    brg_arena_chunk_t *head; /* the chunk being filled; older chunks follow */
    size_t used;             /* bytes handed out since the last reset, over all chunks */
} brg_arena_t;

/* Zero-initialised is an empty arena. */
void brg_arena_init(brg_arena_t *a);
/* Free every chunk. */
void brg_arena_fini(brg_arena_t *a);

/* Returns: n bytes (not initialised, no alignment: for text and bytes), valid until the next
 * reset. Allocates a chunk only when the current one is full. Thread: the owner's. */
void *brg_arena_alloc(brg_arena_t *a, size_t n);
/* Returns: a NUL-terminated copy of len bytes of s in the arena (s may hold NUL bytes). */
char *brg_arena_strndup(brg_arena_t *a, const void *s, size_t len);

/* Forget what was handed out. Keeps one chunk of at least what was used (at most keep_max
 * bytes; a larger one is freed), so the next message of that size needs no allocation. */
void brg_arena_reset(brg_arena_t *a, size_t keep_max);

/* Returns: true if p points into memory handed out by this arena (since any reset). Lets an
 * owner tell its arena's strings from heap ones it must free. */
bool brg_arena_owns(const brg_arena_t *a, const void *p);

/* Returns: the bytes the arena's chunks hold (its capacity). */
size_t brg_arena_capacity(const brg_arena_t *a);

#endif
