/* Source gaps (bridge/gap.h): a short list per source, one row per partition that ever had a
 * gap, so a gap counter survives the partition moving to another process and back. Rare
 * events: a mutex and a linear search are plenty. */
#include "bridge/gap.h"

#include <stdlib.h>
#include <string.h>

#include "bridge/endpoint.h"

void brg_source_count_gap(brg_source_t *src, const char *stream, int32_t partition,
                          uint64_t records)
{
    pthread_mutex_lock(&src->lock);
    brg_gap_row_t *row = NULL;
    for (size_t i = 0; i < src->ngaps; i++) {
        if (src->gaps[i].partition == partition && strcmp(src->gaps[i].stream, stream) == 0) {
            row = &src->gaps[i];
            break;
        }
    }
    if (!row) {
        src->gaps = brg_xrealloc(src->gaps, (src->ngaps + 1) * sizeof(*src->gaps));
        row = &src->gaps[src->ngaps++];
        *row = (brg_gap_row_t){brg_xstrdup(stream), partition, 0, 0};
    }
    row->records += records;
    row->gaps++;
    pthread_mutex_unlock(&src->lock);
}

size_t brg_source_gap_rows(brg_source_t *src, brg_gap_row_t **rows)
{
    pthread_mutex_lock(&src->lock);
    size_t n = src->ngaps;
    *rows = n ? brg_xcalloc(n, sizeof(**rows)) : NULL;
    for (size_t i = 0; i < n; i++) {
        (*rows)[i] = src->gaps[i];
        (*rows)[i].stream = brg_xstrdup(src->gaps[i].stream);
    }
    pthread_mutex_unlock(&src->lock);
    return n;
}

void brg_gap_rows_free(brg_gap_row_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].stream);
    }
    free(rows);
}

void brg_source_gaps_fini(brg_source_t *src)
{
    brg_gap_rows_free(src->gaps, src->ngaps);
    src->gaps = NULL;
    src->ngaps = 0;
}

void brg_source_stop(brg_source_t *src, const char *reason)
{
    brg_route_t *rt = src->rt;
    pthread_mutex_lock(&rt->lock);
    bool first = rt->stop_reason == NULL;
    if (first) {
        rt->stop_reason = brg_xstrdup(reason);
    }
    atomic_store(&rt->state, BRG_ROUTE_STOPPED);
    pthread_mutex_unlock(&rt->lock);
    if (first) {
        brg_log_error(&src->ep->logctx, "route \"%s\" stopped: %s", rt->name, reason);
    }
}
