/* msgbridge-audit: measure a deployment end to end. A generator source produces
 * sequence-numbered messages (headers x-audit-run, x-audit-seq, x-audit-ts-ns) into one broker
 * stream through the normal adapters; a checker sink reads another stream and counts what
 * arrived: missing, duplicated, reordered (per partition or queue), and latency. */
#ifndef BRG_AUDIT_H
#define BRG_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/adapter.h"

typedef struct brg_audit_stats {
    uint64_t sent;       /* generator messages confirmed by the produce broker */
    uint64_t received;   /* messages of this run read back (duplicates included) */
    uint64_t unique;     /* distinct sequence numbers read back */
    uint64_t duplicates; /* received - unique */
    uint64_t reordered;  /* arrivals with a lower sequence than an earlier one, same partition */
    uint64_t foreign;    /* messages without this run's id (other runs, other producers) */
    uint64_t lat_count;
    int64_t lat_ns[4];   /* p50, p99, p99.9, max */
} brg_audit_stats_t;

/* Configure the run before the engine starts. Thread: main. */
void brg_audit_setup(const char *run_id, uint64_t count, double rate, size_t body_size);
/* Snapshot of the counters (latency percentiles computed now). Thread: any. */
void brg_audit_snapshot(brg_audit_stats_t *st);
/* Let the generator start (main calls it once every endpoint is connected, so that what is
 * measured is the bridge, not a consumer still joining its group). Thread: any. */
void brg_audit_start(void);
/* First missing sequence numbers (up to max) into out. Returns: how many were written. */
size_t brg_audit_missing(uint64_t *out, size_t max);
/* Free what the checker recorded. */
void brg_audit_cleanup(void);

extern const brg_adapter_t brg_audit_adapter;

#endif
