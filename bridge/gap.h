/* Source gaps: records a source should have read and never can, because its broker no longer
 * has them (Kafka retention or DeleteRecords removed them before the route read them, or the
 * partition's log started again: a topic deleted and recreated). Counted per source stream and
 * partition for msgbridge_source_gap_records_total and /routes. Engine-internal: adapters use
 * brg_source_count_gap() and brg_source_stop() from bridge/adapter.h. */
#ifndef BRG_GAP_H
#define BRG_GAP_H

#include <stddef.h>
#include <stdint.h>

#include "bridge/adapter.h"

/* One stream partition's count. */
typedef struct brg_gap_row {
    char *stream; /* owned */
    int32_t partition;
    uint64_t records; /* records skipped, summed over every gap */
    uint64_t gaps;    /* gaps detected */
} brg_gap_row_t;

/* A copy of a source's rows, in the order first seen. Ownership: the caller frees it with
 * brg_gap_rows_free. Thread: any (under the source's lock). Returns: the number of rows. */
size_t brg_source_gap_rows(brg_source_t *src, brg_gap_row_t **rows);
void brg_gap_rows_free(brg_gap_row_t *rows, size_t n);

/* Free a source's rows at teardown. Thread: the engine's, once no endpoint runs. */
void brg_source_gaps_fini(brg_source_t *src);

#endif
