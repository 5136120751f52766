/* The Kafka source: one consumer (one consumer group) per route reading from this endpoint,
 * polled by the endpoint thread.
 *
 * At-least-once (DESIGN.md section 3): enable.auto.offset.store=false, and an offset is stored
 * only when every record before it in its partition is settled (kafka_offsets.c); librdkafka's
 * auto-commit then commits what was stored, and stop/revoke commit it at once. RETRY rewinds the
 * partition (seek) after a growing pause; REJECTED blocks the partition's prefix (the core has
 * stopped the route).
 *
 * Backpressure (docs/kafka.md, "Memory"): the source reads whatever librdkafka has fetched into
 * its own hold at once, and hands records from the hold to the route as the route gives credit.
 * It pauses a partition itself (rd_kafka_pause_partitions) once the hold has enough of it, and
 * resumes it while the hold still has records to give, so the route never waits for a fetch.
 * librdkafka's own prefetch limits (queued.max.messages.kbytes, queued.min.messages) are set
 * above what the hold lets in and are never reached: librdkafka 2.0 takes a partition off its
 * fetch list when they are, and its broker thread may then sleep for up to a second before it
 * looks again (librdkafka issue #2879), while a resume wakes the broker thread at once.
 *
 * Bodies: a record of up to 16 KiB is copied into its envelope's recycled buffer when it goes to
 * the route, and its rd_kafka_message_t destroyed then (record_envelope); a larger record's
 * value stays in its message, kept alive as the envelope's body until the envelope is
 * destroyed. The consumer handle is reference counted by those messages (kholder_t), so that
 * it is destroyed only after the last one, whichever thread frees it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/kafka/kafka.h"
#include "adapters/kafka/kafka_codec.h"
#include "adapters/kafka/kafka_gap.h"

/* Records read from librdkafka per source per loop turn, so that settles and publishes are
 * served between. */
#define TAKE_BATCH 1000
/* What a record in the hold costs besides its key and value: librdkafka's op and message
 * (about 250 bytes, docs/kafka.md "Memory"). Counting it keeps a flood of tiny records bounded
 * too. */
#define HELD_OVERHEAD 256
/* Retry pause: 100 ms doubling per consecutive rewind of a partition, capped at 5 s, so that a
 * sink that keeps failing is not hammered with redeliveries. */
#define RETRY_BASE_MS 100
#define RETRY_CAP_MS 5000
/* Bounds on blocking calls at stop and revoke: a cluster that is down must not hold up
 * msgbridge's shutdown (what is not committed is redelivered: at-least-once). */
#define COMMIT_TIMEOUT_MS 5000
#define CLOSE_TIMEOUT_MS 10000
#define COMMITTED_TIMEOUT_MS 1000
/* A revoke (cooperative rebalance) waits this long at most for the records of the partitions
 * it gives up that the route already has: enough for a full in-flight window at a few
 * thousand records per second, and short next to a rebalance on a real cluster. */
#define REVOKE_SETTLE_MS 3000

typedef struct kholder {
    brg_kafka_logctx_t log; /* first: the rd_kafka_t's opaque for the log callback */
    atomic_int refs;
    rd_kafka_t *rk;
    brg_kafka_src_t *ks; /* NULL once the source stopped: callbacks then do nothing */
    bool assigned_once;  /* a rebalance gave it an assignment (written before the last unref) */
    bool close_abandoned; /* its close did not finish by the deadline (set before the unref) */
} kholder_t;

/* A record read from librdkafka and not yet handed to the route. */
typedef struct held {
    rd_kafka_message_t *rkm;
    uint32_t idx;   /* its partition (ks->parts) */
    uint32_t epoch; /* its tracker epoch, given when it was read */
} held_t;

typedef struct kpart {
    char *topic;
    int32_t partition;
    brg_kafka_track_t track;
    bool assigned;
    bool dirty;        /* settles arrived since the last flush */
    bool retry_paused; /* paused after a rewind until resume_at_ns */
    bool bp_paused;    /* paused because the hold has enough of it (steer) */
    size_t held_bytes; /* cost of its records in the hold */
    int64_t resume_at_ns;
    int streak;   /* rewinds without progress in between */
    int64_t high; /* highest offset ever taken: lower ones are redeliveries */
    int64_t committed; /* the group's committed offset as last seen, -1 unknown (metrics) */
    int64_t seen_high; /* highest high watermark seen, -1 unknown (gap reports) */
    bool gap_stopped;  /* a gap stopped the route (on_gap = "stop"): take nothing more */
} kpart_t;

struct brg_kafka_src {
    brg_kafka_ep_t *k;
    brg_source_t *src;
    kholder_t *h;
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    kpart_t **parts; /* never shrinks while running: envelopes refer to parts by index */
    size_t nparts;
    size_t hint; /* index of the last part looked up */
    /* The hold: records read from librdkafka and not yet handed to the route, in the order
     * read (a ring: no allocation per record once it has grown). */
    struct held *hold;
    size_t hold_head, hold_len, hold_cap;
    size_t held_bytes;  /* their cost (record_cost) */
    size_t hold_budget; /* what the hold may reach before every partition is paused */
    /* librdkafka's queue limits (queued.min.messages, queued.max.messages.kbytes in bytes):
     * it stops fetching at either; queue_full: the queue neared one since the last
     * wake_drained; record_bytes: the average key + value of the records last read, to
     * estimate the queue's bytes from its length (librdkafka tells only the length). */
    size_t queue_min, queue_max_bytes, record_bytes;
    bool queue_full;
    bool told_paused;   /* the first backpressure pause was logged */
    bool stopping;      /* source_stop runs: a revoke only commits (the sink is gone) */
    rd_kafka_resp_err_t last_err;
    int64_t last_err_ns;
    int on_gap; /* BRG_KAFKA_GAP_CONTINUE or _STOP (kafka_gap.h) */
    /* revoke_grace_ms: a member that gives up partitions keeps them until this long after the
     * revoke began before it lets librdkafka rejoin the group. A real broker accepts commits at
     * the current generation until the rebalance completes: 0. librdkafka's mock cluster (the
     * test cluster) refuses them ("rebalance in progress") as soon as any member rejoins: the
     * first member to finish its revoke made the others' commits fail, and what they settled
     * since their last commit was delivered twice. Every member commits within
     * REVOKE_SETTLE_MS of its revoke (all start together, at the same SyncGroup): a grace of
     * REVOKE_SETTLE_MS + 500 lets every commit land first. A fixed 300 ms after the commit
     * (before) failed under load, when one member's settle took longer than another's. */
    int revoke_grace_ms;
};

/* ---- the consumer's reference count ------------------------------------------------------- */

/* Consumers that cannot be destroyed safely (holder_unref), kept reachable until the process
 * exits. */
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static rd_kafka_t **kept_rks;
static size_t nkept_rks;

/* Is the cooperative-sticky assignor among the strategies rk was configured with? */
static bool strategy_cooperative(rd_kafka_t *rk)
{
    char strategy[256] = "";
    size_t n = sizeof(strategy);
    return rd_kafka_conf_get(rd_kafka_conf(rk), "partition.assignment.strategy", strategy, &n) ==
               RD_KAFKA_CONF_OK &&
           strstr(strategy, "cooperative-sticky") != NULL;
}

/* librdkafka before 2.3.0 asserts (aborts the process) when it destroys a consumer whose
 * group chose the cooperative-sticky assignor before its first assignment arrived: the
 * assignor's state is created with the first assignment and destroyed unchecked (librdkafka
 * issue #4312). A msgbridge stopped while its consumer joins a group would abort. The
 * protocol the consumer reports (rd_kafka_rebalance_protocol) still says NONE for part of
 * that window (seen: a stop 4 s after start under AddressSanitizer aborted), so what counts is
 * the strategy configured. Returns: true if rk is such a consumer. */
static bool destroy_would_abort(const kholder_t *h)
{
    if (h->assigned_once || rd_kafka_version() >= 0x020300ff) {
        return false;
    }
    return strategy_cooperative(h->rk);
}

static void holder_unref(kholder_t *h)
{
    if (atomic_fetch_sub(&h->refs, 1) != 1) {
        return;
    }
    /* The consumer was closed (or given up on) by brg_kafka_sources_stop: never block here, this
     * may run on whichever thread freed the last envelope. */
    /* A consumer whose close was given up on (the cluster did not answer by the shutdown
     * deadline) is not destroyed either: librdkafka 2.0.2's destroy then waits for the group
     * to finish terminating, which needs the close queue served, and its main thread spins
     * at 100% CPU for ever (seen: a stop after a 30 s drain, the deadline spent). */
    if (destroy_would_abort(h) || h->close_abandoned) {
        /* Closed or given up on, it holds no partitions we act on: leave it to the process
         * exit (rare: a stop in the middle of a first join, or against a cluster that does not
         * answer). The log context goes with it (librdkafka may still log). */
        pthread_mutex_lock(&kept_lock);
        kept_rks = brg_xrealloc(kept_rks, (nkept_rks + 1) * sizeof(*kept_rks));
        kept_rks[nkept_rks++] = h->rk;
        pthread_mutex_unlock(&kept_lock);
        return;
    }
    rd_kafka_destroy_flags(h->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    brg_kafka_logctx_fini(&h->log);
    free(h);
}

/* An envelope body lets go of its message (the opaque is the rd_kafka_message_t). The holder
 * is the topic's opaque (source_start sets it on the default topic configuration), which
 * saves an allocation per record. */
static void kmsg_free(void *opaque)
{
    rd_kafka_message_t *rkm = opaque;
    kholder_t *h = rd_kafka_topic_opaque(rkm->rkt);
    rd_kafka_message_destroy(rkm);
    holder_unref(h);
}

/* ---- partitions ----------------------------------------------------------------------------- */

static long part_find(brg_kafka_src_t *ks, const char *topic, int32_t partition)
{
    if (ks->hint < ks->nparts) {
        kpart_t *p = ks->parts[ks->hint];
        if (p->partition == partition && strcmp(p->topic, topic) == 0) {
            return (long)ks->hint;
        }
    }
    for (size_t i = 0; i < ks->nparts; i++) {
        kpart_t *p = ks->parts[i];
        if (p->partition == partition && strcmp(p->topic, topic) == 0) {
            ks->hint = i;
            return (long)i;
        }
    }
    return -1;
}

static kpart_t *part_get(brg_kafka_src_t *ks, const char *topic, int32_t partition)
{
    long i = part_find(ks, topic, partition);
    if (i >= 0) {
        return ks->parts[i];
    }
    kpart_t *p = brg_xcalloc(1, sizeof(*p));
    p->topic = brg_xstrdup(topic);
    p->partition = partition;
    p->high = -1;
    p->committed = -1;
    p->seen_high = -1;
    brg_kafka_track_init(&p->track);
    ks->parts = brg_xrealloc(ks->parts, (ks->nparts + 1) * sizeof(*ks->parts));
    ks->parts[ks->nparts++] = p;
    return p;
}

/* A Kafka envelope's src_epoch is not one epoch: it packs what a settle needs to find its
 * record's tracker: the endpoint's run (generation, 8 bits), the partition's index in
 * ks->parts (24 bits) and the tracker's epoch (32 bits). The offset is in src_seq. */
static uint64_t pack_epoch(uint8_t gen, size_t idx, uint32_t epoch)
{
    return (uint64_t)gen << 56 | (uint64_t)(idx & 0xffffff) << 32 | epoch;
}
static void unpack_epoch(uint64_t packed, uint8_t *gen, size_t *idx, uint32_t *epoch)
{
    *gen = (uint8_t)(packed >> 56);
    *idx = (size_t)((packed >> 32) & 0xffffff);
    *epoch = (uint32_t)packed;
}

static void wake_fetchers(brg_kafka_src_t *ks, const rd_kafka_topic_partition_list_t *resumed);
static void flush_source(brg_kafka_src_t *ks);

/* Pause or resume a single partition. */
static void part_pause(brg_kafka_src_t *ks, kpart_t *p, bool pause)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    if (pause) {
        rd_kafka_pause_partitions(ks->rk, l);
    } else {
        rd_kafka_resume_partitions(ks->rk, l);
        wake_fetchers(ks, l);
    }
    /* Lists hold references on librdkafka's partitions: never keep one around (a consumer
     * whose list outlives it cannot be destroyed). */
    rd_kafka_topic_partition_list_destroy(l);
}

static void part_seek(brg_kafka_src_t *ks, kpart_t *p, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = offset;
    /* Asynchronous (timeout 0): records fetched before the seek are discarded by librdkafka's
     * version barrier; the tracker's expected offset catches anything else. */
    rd_kafka_error_t *err = rd_kafka_seek_partitions(ks->rk, l, 0);
    if (err) {
        brg_log_warn(&ks->k->log.ctx, "route \"%s\": seek %s [%" PRId32 "] to %" PRId64 ": %s",
                     brg_source_route_name(ks->src), p->topic, p->partition, offset,
                     rd_kafka_error_string(err));
        rd_kafka_error_destroy(err);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* ---- the hold ------------------------------------------------------------------------------ */

static size_t record_cost(const rd_kafka_message_t *rkm)
{
    return rkm->len + rkm->key_len + HELD_OVERHEAD;
}

static void hold_push(brg_kafka_src_t *ks, rd_kafka_message_t *rkm, size_t idx, uint32_t epoch)
{
    if (ks->hold_len == ks->hold_cap) {
        /* Grow by doubling, unrolled into the new array: rare, and never per record in the
         * steady state. */
        size_t cap = ks->hold_cap ? ks->hold_cap * 2 : 1024;
        held_t *n = brg_xmalloc(cap * sizeof(*n));
        for (size_t i = 0; i < ks->hold_len; i++) {
            n[i] = ks->hold[(ks->hold_head + i) % ks->hold_cap];
        }
        free(ks->hold);
        ks->hold = n;
        ks->hold_cap = cap;
        ks->hold_head = 0;
    }
    ks->hold[(ks->hold_head + ks->hold_len++) % ks->hold_cap] =
        (held_t){rkm, (uint32_t)idx, epoch};
    size_t cost = record_cost(rkm);
    ks->parts[idx]->held_bytes += cost;
    ks->held_bytes += cost;
}

static held_t hold_pop(brg_kafka_src_t *ks)
{
    held_t h = ks->hold[ks->hold_head];
    ks->hold_head = (ks->hold_head + 1) % ks->hold_cap;
    ks->hold_len--;
    size_t cost = record_cost(h.rkm);
    ks->parts[h.idx]->held_bytes -= cost;
    ks->held_bytes -= cost;
    return h;
}

/* Drop the held records of one partition (all == true: of every partition). They are read again
 * from librdkafka: after a rewind or a new assignment, from the position the caller sets. */
static void hold_drop(brg_kafka_src_t *ks, size_t idx, bool all)
{
    size_t kept = 0;
    for (size_t i = 0; i < ks->hold_len; i++) {
        held_t h = ks->hold[(ks->hold_head + i) % ks->hold_cap];
        if (all || h.idx == idx) {
            size_t cost = record_cost(h.rkm);
            ks->parts[h.idx]->held_bytes -= cost;
            ks->held_bytes -= cost;
            rd_kafka_message_destroy(h.rkm);
        } else {
            ks->hold[(ks->hold_head + kept++) % ks->hold_cap] = h;
        }
    }
    ks->hold_len = kept;
}

/* Make the broker threads of resumed partitions look at them now. librdkafka 2.0 serves a
 * resume on its main thread, and a broker thread that has nothing else to do (every partition
 * it leads paused) decides what to fetch only at its next wake-up, up to a second later (its
 * loop waits 1000 ms; 2.1 wakes it). Any request queued to a broker wakes its thread: a
 * ListOffsets for the resumed partitions (rd_kafka_offsets_for_times, one request per leader,
 * leaders from the cached metadata), not waited for (timeout 0: librdkafka drops the replies,
 * as on any timeout). */
static void wake_fetchers(brg_kafka_src_t *ks, const rd_kafka_topic_partition_list_t *resumed)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_copy(resumed);
    for (int i = 0; i < l->cnt; i++) {
        l->elems[i].offset = RD_KAFKA_OFFSET_END; /* "the latest": any query does */
    }
    (void)rd_kafka_offsets_for_times(ks->rk, l, 0); /* _TIMED_OUT: the replies are not needed */
    rd_kafka_topic_partition_list_destroy(l);
}

/* librdkafka 2.0 stops fetching every partition whose queue holds queued.min.messages records
 * or queued.max.messages.kbytes (the partitions' queues are forwarded to the consumer's, whose
 * size is what it compares), and its broker threads look again only at their next wake-up, up
 * to a second later (issue #2879). The source reads the queue a batch per loop turn: once it
 * has read a queue that held half of either limit or more (queued: its length before the
 * turn's batch, when a fetch response has just landed whole) down to a quarter of both, it
 * wakes the fetchers of every partition that may fetch. A drain of 1M x 100 B
 * (docs/performance.md) at the old 4 MiB window: a limit of 5000 records and this wake, 51-57
 * MiB peak and 400-585k msg/s; 5000 without it, 30k msg/s; librdkafka's 100000, 95-110 MiB and
 * 250-280k msg/s. */
static void wake_drained(brg_kafka_src_t *ks, size_t queued)
{
    if (ks->queue_min == 0 || ks->queue_max_bytes == 0) {
        return;
    }
    if (queued >= ks->queue_min / 2 || queued * ks->record_bytes >= ks->queue_max_bytes / 2) {
        ks->queue_full = true;
    }
    size_t len = rd_kafka_queue_length(ks->q);
    if (!ks->queue_full || len > ks->queue_min / 4 ||
        len * ks->record_bytes > ks->queue_max_bytes / 4) {
        return;
    }
    ks->queue_full = false;
    rd_kafka_topic_partition_list_t *l = NULL;
    for (size_t i = 0; i < ks->nparts; i++) {
        kpart_t *p = ks->parts[i];
        if (p->assigned && !p->bp_paused && !p->retry_paused) {
            if (!l) {
                l = rd_kafka_topic_partition_list_new((int)ks->nparts);
            }
            rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
        }
    }
    if (l) {
        wake_fetchers(ks, l);
        rd_kafka_topic_partition_list_destroy(l);
    }
}

/* Pause the partitions the hold has enough of, resume those it is running out of. Thresholds
 * on the hold's total (hold_budget, H) and on each partition's share of it (H / assigned):
 * - at H or more, every partition is paused: the route takes less than the cluster gives;
 * - from 3/4 H, a partition holding its share or more is paused (the others go on fetching);
 * - a paused partition resumes once the hold is down to 3/4 H and the partition to half its
 *   share: what is left still feeds the route while its next fetch comes back (one round trip:
 *   wake_fetchers), so the route does not wait for records.
 * Pausing drops what librdkafka prefetched of the partition and not yet read (little: the hold
 * reads everything at once); resuming fetches from the last record read. */
static void steer(brg_kafka_src_t *ks)
{
    size_t assigned = 0;
    for (size_t i = 0; i < ks->nparts; i++) {
        assigned += ks->parts[i]->assigned;
    }
    if (assigned == 0) {
        return;
    }
    size_t budget = ks->hold_budget, share = budget / assigned;
    rd_kafka_topic_partition_list_t *pause = NULL, *resume = NULL;
    for (size_t i = 0; i < ks->nparts; i++) {
        kpart_t *p = ks->parts[i];
        if (!p->assigned || p->retry_paused) {
            continue;
        }
        if (!p->bp_paused && (ks->held_bytes >= budget ||
                              (ks->held_bytes >= budget / 4 * 3 && p->held_bytes >= share))) {
            if (!pause) {
                pause = rd_kafka_topic_partition_list_new((int)assigned);
            }
            rd_kafka_topic_partition_list_add(pause, p->topic, p->partition);
            p->bp_paused = true;
        } else if (p->bp_paused && ks->held_bytes <= budget / 4 * 3 &&
                   p->held_bytes <= share / 2) {
            if (!resume) {
                resume = rd_kafka_topic_partition_list_new((int)assigned);
            }
            rd_kafka_topic_partition_list_add(resume, p->topic, p->partition);
            p->bp_paused = false;
        }
    }
    /* Lists hold references on librdkafka's partitions: never keep one around. */
    if (pause) {
        if (!ks->told_paused) {
            /* Once per source: normal for a route slower than its cluster, and worth one line
             * for whoever wonders why the consumer lag grows. */
            ks->told_paused = true;
            brg_log_info(&ks->k->log.ctx,
                         "route \"%s\": the route takes records slower than the cluster gives "
                         "them: partitions are paused while %zu KiB are held (logged once)",
                         brg_source_route_name(ks->src), ks->hold_budget / 1024);
        }
        rd_kafka_pause_partitions(ks->rk, pause);
        rd_kafka_topic_partition_list_destroy(pause);
    }
    if (resume) {
        rd_kafka_resume_partitions(ks->rk, resume);
        wake_fetchers(ks, resume);
        rd_kafka_topic_partition_list_destroy(resume);
    }
}

/* Remember the offsets a commit reached (for msgbridge_kafka_committed_offset). */
static void note_committed(brg_kafka_src_t *ks, const rd_kafka_topic_partition_list_t *l)
{
    for (int i = 0; l && i < l->cnt; i++) {
        const rd_kafka_topic_partition_t *e = &l->elems[i];
        long idx = e->err || e->offset < 0 ? -1 : part_find(ks, e->topic, e->partition);
        if (idx >= 0) {
            ks->parts[idx]->committed = e->offset;
        }
    }
}

/* Keep serving the endpoint until the brg_now_ns() time until (see revoke_grace_ms). */
static void serve_until(brg_kafka_src_t *ks, int64_t until)
{
    int64_t left_ms;
    while ((left_ms = (until - brg_now_ns()) / 1000000) > 0) {
        brg_kafka_serve_settles(ks->k, left_ms < 10 ? (int)left_ms : 10);
    }
}

static rd_kafka_resp_err_t commit_once(brg_kafka_src_t *ks,
                                       const rd_kafka_topic_partition_list_t *l, int timeout_ms)
{
    rd_kafka_queue_t *cq = rd_kafka_queue_new(ks->rk);
    rd_kafka_resp_err_t err = rd_kafka_commit_queue(ks->rk, l, cq, NULL, NULL);
    if (!err) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(cq, timeout_ms);
        if (!ev) {
            err = RD_KAFKA_RESP_ERR__TIMED_OUT;
        } else {
            err = rd_kafka_event_error(ev);
            note_committed(ks, rd_kafka_event_topic_partition_list(ev));
            rd_kafka_event_destroy(ev);
        }
    }
    rd_kafka_queue_destroy(cq);
    return err;
}

/* Commit explicit offsets (or the stored ones if l is NULL) and wait at most timeout_ms each
 * time. A commit refused because the group is
 * rebalancing is tried again every 100 ms (serving the endpoint meanwhile) until retry_until
 * (brg_now_ns time; 0: no retry): in a revoke, the group may still be waiting for a slow
 * member's SyncGroup, and then accepts the commit a moment later. */
static void commit_bounded(brg_kafka_src_t *ks, const rd_kafka_topic_partition_list_t *l,
                           int timeout_ms, const char *why, int64_t retry_until)
{
    timeout_ms = brg_kafka_stop_budget_ms(ks->k, timeout_ms); /* at shutdown: less */
    rd_kafka_resp_err_t err = commit_once(ks, l, timeout_ms);
    while (err == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS && brg_now_ns() < retry_until) {
        serve_until(ks, brg_now_ns() + 100 * (int64_t)1000000);
        err = commit_once(ks, l, timeout_ms);
    }
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        brg_log_warn(&ks->k->log.ctx,
                     "route \"%s\": offset commit (%s) failed: %s; uncommitted records will be "
                     "delivered again",
                     brg_source_route_name(ks->src), why, rd_kafka_err2str(err));
    }
}

/* ---- rebalances ------------------------------------------------------------------------------ */

static void log_parts(brg_kafka_src_t *ks, const char *what,
                      const rd_kafka_topic_partition_list_t *parts)
{
    char buf[512];
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < parts->cnt && used < sizeof(buf) - 40; i++) {
        used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%s[%" PRId32 "]",
                                 i ? " " : "", parts->elems[i].topic, parts->elems[i].partition);
    }
    brg_log_info(&ks->k->log.ctx, "route \"%s\": %s %d partitions: %s%s",
                 brg_source_route_name(ks->src), what, parts->cnt, buf,
                 used >= sizeof(buf) - 40 ? " ..." : "");
}

static void on_assign(brg_kafka_src_t *ks, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                      bool cooperative)
{
    for (int i = 0; i < parts->cnt; i++) {
        kpart_t *p = part_get(ks, parts->elems[i].topic, parts->elems[i].partition);
        /* A fresh start from the committed offset: whatever was in flight from an earlier
         * assignment is stale (its settles are ignored, the records come again). */
        brg_kafka_track_reset(&p->track);
        hold_drop(ks, (size_t)part_find(ks, p->topic, p->partition), false);
        p->assigned = true;
        p->retry_paused = false;
        p->bp_paused = false;
        p->streak = 0;
        p->dirty = false;
        p->committed = -1;
    }
    if (cooperative) {
        rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
        if (e) {
            brg_log_error(&ks->k->log.ctx, "incremental assign: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    } else {
        rd_kafka_assign(rk, parts);
    }
    /* The group's committed offsets, so that /metrics has a lag for partitions that have
     * nothing to read (no record will tell where they stand). One round trip to the group
     * coordinator, bounded: without it the lag is known from the first record on. */
    rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_copy(parts);
    if (rd_kafka_committed(rk, c, COMMITTED_TIMEOUT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        note_committed(ks, c);
    }
    rd_kafka_topic_partition_list_destroy(c);
    log_parts(ks, "assigned", parts);
    brg_source_set_error(ks->src, NULL);
    brg_kafka_set_connected(ks->k, true, NULL);
}

/* Wait, serving the endpoint, until every record of the partitions in parts that was handed to
 * the route has settled (or REVOKE_SETTLE_MS passed), so that the offsets committed next
 * cover them and their next owner does not deliver them again. Records still in the hold were
 * never handed on: they are dropped first (read again by the next owner). */
static void settle_revoked(brg_kafka_src_t *ks, const rd_kafka_topic_partition_list_t *parts)
{
    int64_t *upto = brg_xmalloc((size_t)parts->cnt * sizeof(*upto) + 1);
    for (int i = 0; i < parts->cnt; i++) {
        long idx = part_find(ks, parts->elems[i].topic, parts->elems[i].partition);
        upto[i] = INT64_MAX; /* first offset not handed on: the partition's oldest held one */
        for (size_t j = 0; idx >= 0 && j < ks->hold_len; j++) {
            held_t h = ks->hold[(ks->hold_head + j) % ks->hold_cap];
            if (h.idx == (uint32_t)idx) {
                upto[i] = h.rkm->offset; /* the hold is in offset order per partition */
                break;
            }
        }
        if (idx >= 0) {
            hold_drop(ks, (size_t)idx, false);
        }
    }
    int64_t deadline = brg_now_ns() + REVOKE_SETTLE_MS * (int64_t)1000000;
    for (;;) {
        flush_source(ks); /* stores what settled, rewinds what is to be retried */
        bool waiting = false;
        for (int i = 0; i < parts->cnt && !waiting; i++) {
            long idx = part_find(ks, parts->elems[i].topic, parts->elems[i].partition);
            if (idx < 0) {
                continue;
            }
            const brg_kafka_track_t *t = &ks->parts[idx]->track;
            int64_t first = brg_kafka_track_first(t);
            /* A rejected record blocks the partition until the route is reconfigured: nothing
             * to wait for. */
            waiting = first >= 0 && first < upto[i] && !brg_kafka_track_blocked(t);
        }
        int64_t left_ms = (deadline - brg_now_ns()) / 1000000;
        if (!waiting || left_ms <= 0) {
            if (waiting) {
                brg_log_warn(&ks->k->log.ctx,
                             "route \"%s\": records of revoked partitions still in flight "
                             "after %d ms: their next owner delivers them again",
                             brg_source_route_name(ks->src), REVOKE_SETTLE_MS);
            }
            break;
        }
        brg_kafka_serve_settles(ks->k, left_ms < 10 ? (int)left_ms : 10);
    }
    free(upto);
}


static void on_revoke(brg_kafka_src_t *ks, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                      bool cooperative)
{
    int64_t began = brg_now_ns();
    bool lost = rd_kafka_assignment_lost(rk);
    /* Partitions lost (the group went on without us) are someone else's already: whatever is
     * in flight is delivered again by their new owner, and a commit would be refused. While
     * stopping, the route was drained and the sink is gone: nothing to wait for. */
    if (!lost && !ks->stopping) {
        settle_revoked(ks, parts);
    }
    /* Store and commit what is settled before letting go: the next owner starts there. */
    brg_kafka_sources_flush_offsets(ks->k);
    flush_source(ks); /* while stopping, ks is no longer on the endpoint's list */
    if (!lost) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts->cnt);
        for (int i = 0; i < parts->cnt; i++) {
            long idx = part_find(ks, parts->elems[i].topic, parts->elems[i].partition);
            /* Only what the group does not have yet: at stop, the commit before the close
             * usually covered everything, and the group may be rebalancing by now. */
            if (idx >= 0 && ks->parts[idx]->track.committable >= 0 &&
                ks->parts[idx]->track.committable != ks->parts[idx]->committed) {
                rd_kafka_topic_partition_list_add(l, parts->elems[i].topic,
                                                  parts->elems[i].partition)
                    ->offset = ks->parts[idx]->track.committable;
            }
        }
        if (l->cnt > 0) {
            commit_bounded(ks, l, COMMIT_TIMEOUT_MS, "revoke",
                           began + ks->revoke_grace_ms * (int64_t)1000000);
        }
        rd_kafka_topic_partition_list_destroy(l);
    }
    for (int i = 0; i < parts->cnt; i++) {
        long idx = part_find(ks, parts->elems[i].topic, parts->elems[i].partition);
        if (idx >= 0) {
            /* Records of a revoked partition still in flight (lost, or not settled in time) are
             * dropped without acknowledgement: their settles are stale from now on (new epoch)
             * and the new owner reads them again from the committed offset. */
            brg_kafka_track_reset(&ks->parts[idx]->track);
            hold_drop(ks, (size_t)idx, false);
            ks->parts[idx]->assigned = false;
            ks->parts[idx]->retry_paused = false;
            ks->parts[idx]->bp_paused = false;
        }
    }
    if (cooperative) {
        if (!lost && !ks->stopping) {
            serve_until(ks, began + ks->revoke_grace_ms * (int64_t)1000000);
        }
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
        if (e) {
            brg_log_error(&ks->k->log.ctx, "incremental unassign: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    } else {
        rd_kafka_assign(rk, NULL);
    }
    log_parts(ks, lost ? "lost" : "revoked", parts);
}

/* Does the group rebalance incrementally? librdkafka answers NULL instead of a protocol once
 * the consumer's group handler is shutting down (rd_kafka_consumer_close calls the rebalance
 * callback then, seen under UndefinedBehaviorSanitizer): the strategy configured says it. */
static bool rebalance_cooperative(rd_kafka_t *rk)
{
    const char *protocol = rd_kafka_rebalance_protocol(rk);
    return protocol ? strcmp(protocol, "COOPERATIVE") == 0 : strategy_cooperative(rk);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    kholder_t *h = opaque;
    brg_kafka_src_t *ks = h->ks;
    bool cooperative = rebalance_cooperative(rk);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        h->assigned_once = true; /* the assignor's state exists from now on */
    }
    if (!ks) {
        /* The source stopped: let go of what is revoked (the cooperative protocol accepts
         * only incremental changes), take nothing new. */
        if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && cooperative) {
            rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
            rd_kafka_error_destroy(e); /* accepts NULL */
        } else if (err != RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
            rd_kafka_assign(rk, NULL);
        }
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        on_assign(ks, rk, parts, cooperative);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        on_revoke(ks, rk, parts, cooperative);
    } else {
        brg_log_error(&ks->k->log.ctx, "route \"%s\": rebalance failed: %s",
                      brg_source_route_name(ks->src), rd_kafka_err2str(err));
        rd_kafka_assign(rk, NULL);
    }
}

/* Auto-commits (served by rd_kafka_consumer_poll on the endpoint thread). */
static void offset_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    (void)err; /* per-partition errors are in the list */
    kholder_t *h = opaque;
    if (h->ks) {
        note_committed(h->ks, offsets);
    }
}

static void consumer_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    kholder_t *h = opaque;
    if (h->ks) {
        brg_kafka_on_error(h->ks->k, rk, err, reason);
    }
}

/* ---- start ---------------------------------------------------------------------------------- */

/* A numeric librdkafka setting as configured (0 if it cannot be read). */
static size_t conf_size(const rd_kafka_conf_t *conf, const char *name)
{
    char v[32];
    size_t n = sizeof(v);
    if (rd_kafka_conf_get(conf, name, v, &n) != RD_KAFKA_CONF_OK) {
        return 0;
    }
    return (size_t)strtoull(v, NULL, 10);
}

static brg_err_t source_start(brg_kafka_ep_t *k, brg_source_t *src, char *errstr,
                              size_t errstr_size)
{
    const brg_conf_node_t *cs = brg_source_conf(src);
    char err[512];
    rd_kafka_conf_t *conf = brg_kafka_settings_conf(k->settings, BRG_KAFKA_CONSUMER_ROLE,
                                                    k->client_id);
    size_t hold_budget = brg_kafka_hold_budget(brg_source_max_in_flight_bytes(src));
    brg_kafka_conf_bound_consumer(conf, k->cs, hold_budget);
    if (rd_kafka_conf_set(conf, "group.id", brg_conf_str(cs, "group", ""), err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "auto.offset.reset", brg_conf_str(cs, "start", "earliest"), err,
                          sizeof(err))) {
        rd_kafka_conf_destroy(conf);
        brg_errfmt(errstr, errstr_size, "%s", err);
        return BRG_ERR_CONFIG;
    }
    brg_kafka_src_t *ks = brg_xcalloc(1, sizeof(*ks));
    kholder_t *h = brg_xcalloc(1, sizeof(*h));
    brg_kafka_logctx_init(&h->log, &k->log.ctx);
    atomic_init(&h->refs, 1);
    h->ks = ks;
    ks->k = k;
    ks->src = src;
    ks->h = h;
    ks->hold_budget = hold_budget;
    ks->queue_min = conf_size(conf, "queued.min.messages");
    ks->queue_max_bytes = conf_size(conf, "queued.max.messages.kbytes") * 1024;
    ks->revoke_grace_ms = (int)brg_conf_int(cs, "revoke_grace_ms", 0);
    ks->on_gap = brg_kafka_gap_policy(brg_conf_str(cs, "on_gap", "continue")) == BRG_KAFKA_GAP_STOP
                     ? BRG_KAFKA_GAP_STOP
                     : BRG_KAFKA_GAP_CONTINUE;
    rd_kafka_conf_set_opaque(conf, h);
    /* Every topic's opaque is the holder (kmsg_free). The default topic configuration already
     * exists: auto.offset.reset above is a topic property. */
    rd_kafka_topic_conf_t *tc = rd_kafka_conf_get_default_topic_conf(conf);
    if (!tc) {
        tc = rd_kafka_topic_conf_new();
        rd_kafka_conf_set_default_topic_conf(conf, tc);
    }
    rd_kafka_topic_conf_set_opaque(tc, h);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_offset_commit_cb(conf, offset_commit_cb);
    rd_kafka_conf_set_error_cb(conf, consumer_error_cb);
    rd_kafka_conf_set_log_cb(conf, brg_kafka_log_cb);
    h->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!h->rk) {
        rd_kafka_conf_destroy(conf);
        brg_kafka_logctx_fini(&h->log);
        free(h);
        free(ks);
        brg_errfmt(errstr, errstr_size, "cannot create a consumer: %s", err);
        return BRG_ERR_CONFIG;
    }
    ks->rk = h->rk;
    /* Everything (records, rebalances, errors, logs' events) comes through one queue, which
     * wakes the endpoint thread's poll(2) through the shared pipe. */
    rd_kafka_poll_set_consumer(ks->rk);
    ks->q = rd_kafka_queue_get_consumer(ks->rk);
    rd_kafka_queue_io_event_enable(ks->q, k->evfd[1], "c", 1);
    k->srcs = brg_xrealloc(k->srcs, (k->nsrcs + 1) * sizeof(*k->srcs));
    k->srcs[k->nsrcs++] = ks;
    brg_source_set_opaque(src, ks);

    const brg_conf_node_t *topics = brg_conf_get(cs, "topics");
    const char *topic = brg_conf_str(cs, "topic", NULL);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    if (topic) {
        rd_kafka_topic_partition_list_add(l, topic, RD_KAFKA_PARTITION_UA);
    }
    for (size_t i = 0; topics && i < topics->nkids; i++) {
        if (topics->kids[i]->type == BRG_CONF_STRING) {
            rd_kafka_topic_partition_list_add(l, topics->kids[i]->v.s, RD_KAFKA_PARTITION_UA);
        }
    }
    /* Names starting with '^' are regexes: librdkafka matches them against the cluster's topics
     * at every metadata refresh, so new matching topics are picked up. */
    rd_kafka_resp_err_t e = rd_kafka_subscribe(ks->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        brg_errfmt(errstr, errstr_size, "route \"%s\": subscribe: %s",
                   brg_source_route_name(src), rd_kafka_err2str(e));
        return BRG_ERR_INVALID;
    }
    return BRG_OK;
}

brg_err_t brg_kafka_sources_start(brg_kafka_ep_t *k, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < brg_endpoint_source_count(k->ep); i++) {
        brg_err_t rc = source_start(k, brg_endpoint_source(k->ep, i), errstr, errstr_size);
        if (rc != BRG_OK) {
            return rc; /* the caller stops what was started */
        }
    }
    return BRG_OK;
}

/* ---- taking records ------------------------------------------------------------------------- */

static void log_consumer_error(brg_kafka_src_t *ks, const rd_kafka_message_t *rkm)
{
    /* The same error repeats for every fetch (a missing topic): say it once per 30 s. */
    int64_t now = brg_now_ns();
    if (rkm->err == ks->last_err && now - ks->last_err_ns < 30 * (int64_t)1000000000) {
        return;
    }
    ks->last_err = rkm->err;
    ks->last_err_ns = now;
    char reason[512];
    brg_errfmt(reason, sizeof(reason), "%s%s%s", rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "",
               rkm->rkt ? ": " : "", rd_kafka_message_errstr(rkm));
    brg_log_warn(&ks->k->log.ctx, "route \"%s\": consumer: %s", brg_source_route_name(ks->src),
                 reason);
    if (rkm->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
        rkm->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
        rkm->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
        brg_source_set_error(ks->src, reason);
    }
}

/* Held records of one partition. */
static size_t hold_count(const brg_kafka_src_t *ks, size_t idx)
{
    size_t n = 0;
    for (size_t i = 0; i < ks->hold_len; i++) {
        n += ks->hold[(ks->hold_head + i) % ks->hold_cap].idx == idx;
    }
    return n;
}

/* Is the record the one the partition should deliver next, and if not, were records lost on
 * the broker (kafka_gap.h)? A gap is logged as an ERROR, counted
 * (msgbridge_source_gap_records_total) and handled per on_gap: "continue" goes on from the
 * earliest offset the log still has, "stop" stops the route and takes nothing more from the
 * partition (nothing past the gap is committed: a restart finds the gap again).
 * Returns: true to take the record; false if it was destroyed. */
static bool gap_check(brg_kafka_src_t *ks, kpart_t *p, size_t idx, rd_kafka_message_t *rkm)
{
    if (p->gap_stopped) {
        rd_kafka_message_destroy(rkm);
        return false;
    }
    /* Expected: after the last record taken (or the rewind point); right after an assignment,
     * the group's committed offset (on_assign looked it up). */
    int64_t expected = p->track.last_taken >= 0 ? p->track.last_taken + 1 : p->committed;
    int64_t read_high = p->high > p->track.last_taken ? p->high : p->track.last_taken;
    if (rkm->offset == expected || (expected < 0 && rkm->offset > read_high)) {
        return true; /* the steady state: no look-up */
    }
    /* The watermarks of the fetch that brought the record (librdkafka's cache, no request). */
    int64_t low = -1, high = -1;
    (void)rd_kafka_get_watermark_offsets(ks->rk, p->topic, p->partition, &low, &high);
    int64_t skipped;
    brg_kafka_gap_t kind =
        brg_kafka_gap_check(expected, read_high, rkm->offset, low, high, &skipped);
    if (kind == BRG_KAFKA_GAP_NONE) {
        return true;
    }
    /* Go on from the earliest offset still there: librdkafka reset per auto.offset.reset, which
     * may be the end of the log ("start" = "latest"). */
    int64_t resume = low >= 0 && low < rkm->offset ? low : rkm->offset;
    bool stop = ks->on_gap == BRG_KAFKA_GAP_STOP;
    char what[200], then[100];
    if (kind == BRG_KAFKA_GAP_RESTARTED) {
        /* What was on the old log and never read: up to its last high watermark seen, plus the
         * records held and not handed on yet (they belong to the old log's offsets). */
        int64_t from = read_high >= 0 ? read_high + 1 : expected;
        int64_t unread = p->seen_high > from ? p->seen_high - from : 0;
        skipped = unread + (int64_t)hold_count(ks, idx);
        if (expected < 0) {
            expected = read_high + 1;
        }
        brg_errfmt(what, sizeof(what),
                   "the partition's log now ends at offset %" PRId64
                   ", before what was already read (topic deleted and recreated, or log "
                   "truncated): %" PRId64 " records of the old log were not read",
                   high, skipped);
    } else {
        brg_errfmt(what, sizeof(what),
                   "%" PRId64 " records were removed from the broker (retention or "
                   "DeleteRecords) before the route read them",
                   skipped);
    }
    if (stop) {
        brg_errfmt(then, sizeof(then), "stopping the route (on_gap = \"stop\")");
    } else {
        brg_errfmt(then, sizeof(then), "continuing from offset %" PRId64 " (on_gap = \"continue\")",
                   resume);
    }
    const char *route = brg_source_route_name(ks->src);
    brg_log_error(&ks->k->log.ctx,
                  "route \"%s\": gap in %s [%" PRId32 "]: expected offset %" PRId64
                  ", found %" PRId64 ": %s; %s",
                  route, p->topic, p->partition, expected, rkm->offset, what, then);
    brg_source_count_gap(ks->src, p->topic, p->partition, (uint64_t)skipped);
    if (stop) {
        char reason[300];
        brg_errfmt(reason, sizeof(reason),
                   "gap in %s [%" PRId32 "]: expected offset %" PRId64 ", found %" PRId64
                   ", %" PRId64 " records skipped (on_gap = \"stop\")",
                   p->topic, p->partition, expected, rkm->offset, skipped);
        brg_source_stop(ks->src, reason);
        p->gap_stopped = true;
        /* Paused for good: the retry pause with no end (source_poll never resumes it). */
        if (!p->retry_paused && !p->bp_paused) {
            part_pause(ks, p, true);
        }
        p->bp_paused = false;
        p->retry_paused = true;
        p->resume_at_ns = INT64_MAX;
        rd_kafka_message_destroy(rkm);
        return false;
    }
    if (kind == BRG_KAFKA_GAP_RESTARTED) {
        /* A new log: what is tracked refers to the old one (late settles become stale, and no
         * offset of the old log is ever stored for the new one). */
        hold_drop(ks, idx, false);
        brg_kafka_track_reset(&p->track);
        p->high = -1;
        p->seen_high = high;
    }
    brg_kafka_track_gap(&p->track, resume);
    if (rkm->offset != resume) {
        part_seek(ks, p, resume);
        rd_kafka_message_destroy(rkm);
        return false;
    }
    return true;
}

/* Read one record (or event) from librdkafka into the hold. */
static void hold_record(brg_kafka_src_t *ks, rd_kafka_message_t *rkm)
{
    if (rkm->err) {
        if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            log_consumer_error(ks, rkm);
        }
        rd_kafka_message_destroy(rkm);
        return;
    }
    const char *topic = rd_kafka_topic_name(rkm->rkt);
    long idx = part_find(ks, topic, rkm->partition);
    kpart_t *p = idx >= 0 ? ks->parts[idx] : NULL;
    if (!p || !p->assigned) {
        rd_kafka_message_destroy(rkm); /* from a partition already revoked */
        return;
    }
    if (!gap_check(ks, p, (size_t)idx, rkm)) {
        return; /* destroyed: a gap stopped the partition, or it goes back to the log start */
    }
    if (!brg_kafka_track_check_expected(&p->track, rkm->offset)) {
        /* A record past the rewind point arrived: the seek did not take yet. Seek again. */
        part_seek(ks, p, p->track.expect);
        rd_kafka_message_destroy(rkm);
        return;
    }
    /* Tracked from now on (in order, as pending): the offset committed never passes a held
     * record, and a rewind drops the held ones with everything after the retried record. A
     * record that arrives for a partition just paused is kept too: librdkafka resumes after
     * the last record read. */
    uint32_t epoch;
    if (!brg_kafka_track_take(&p->track, rkm->offset, &epoch)) {
        rd_kafka_message_destroy(rkm); /* already taken in this epoch */
        return;
    }
    hold_push(ks, rkm, (size_t)idx, epoch);
}

/* A record's envelope. A body up to BRG_ENVELOPE_KEEP_BYTES is copied into the envelope's own
 * (recycled) buffer and the message destroyed at once: a message kept until its record settles
 * keeps librdkafka's op and the fetch response it points into alive for the record's round
 * trip (Kafka -> Kafka drains peaked about 2.5 MiB lower copying 100-byte records, 9 MiB lower
 * with 1 KiB, at the same rate). A larger body is borrowed: the message, and the consumer it
 * came from, live until the envelope lets go of it. Records wait in the hold as messages: an
 * envelope there would cost more than the op (measured: 1-2 MiB more). */
static brg_envelope_t *record_envelope(brg_kafka_src_t *ks, rd_kafka_message_t *rkm)
{
    brg_kafka_record_t rec;
    brg_kafka_record_from_message(&rec, rkm);
    if (rkm->len <= BRG_ENVELOPE_KEEP_BYTES) {
        brg_envelope_t *env = brg_kafka_decode(&rec, NULL, NULL);
        rd_kafka_message_destroy(rkm);
        return env;
    }
    atomic_fetch_add(&ks->h->refs, 1);
    return brg_kafka_decode(&rec, kmsg_free, rkm);
}

/* Hand the oldest held record to the route. */
static void submit_held(brg_kafka_src_t *ks)
{
    held_t h = hold_pop(ks);
    kpart_t *p = ks->parts[h.idx];
    int64_t offset = h.rkm->offset;
    brg_envelope_t *env = record_envelope(ks, h.rkm); /* h.rkm may be gone */
    env->src_seq = (uint64_t)offset;
    env->src_epoch = pack_epoch(ks->k->generation, h.idx, h.epoch);
    env->origin.redelivered = offset <= p->high;
    if (offset > p->high) {
        p->high = offset;
    }
    brg_source_submit(ks->src, env);
}

/* Hand held records to the route while it gives credit. Returns: the credit left. */
static size_t feed(brg_kafka_src_t *ks)
{
    size_t credit = ks->hold_len ? brg_source_credit(ks->src) : 0;
    brg_clock_batch_begin(); /* one arrival time for the batch (route metrics) */
    while (credit > 0 && ks->hold_len > 0) {
        submit_held(ks);
        credit = brg_source_credit(ks->src);
    }
    brg_clock_batch_end();
    return credit;
}

/* Returns: true if there is more to do at once: librdkafka may have more records ready (it
 * signals the pipe only when its queue turns non-empty), or the hold has records and the route
 * has credit for them. */
static bool source_poll(brg_kafka_src_t *ks)
{
    int64_t now = brg_now_ns();
    for (size_t i = 0; i < ks->nparts; i++) {
        kpart_t *p = ks->parts[i];
        if (p->retry_paused && now >= p->resume_at_ns) {
            p->retry_paused = false;
            if (p->assigned && !p->bp_paused) {
                part_pause(ks, p, false);
            }
        }
    }
    feed(ks);
    /* Read a batch of what librdkafka has, credit or not: its queue stays short (when a fetch
     * round fills it to its limits, wake_drained restarts the fetchers once it is read down),
     * and rebalances and errors are served (the consumer stays inside max.poll.interval.ms
     * however long the route waits). The hold is bounded by steer(). */
    size_t queued = rd_kafka_queue_length(ks->q);
    int n = 0;
    size_t bytes = 0;
    for (; n < TAKE_BATCH; n++) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(ks->rk, 0);
        if (!rkm) {
            break;
        }
        bytes += rkm->len + rkm->key_len;
        hold_record(ks, rkm);
    }
    if (n > 0) {
        ks->record_bytes = bytes / (size_t)n;
    }
    wake_drained(ks, queued);
    size_t credit = feed(ks);
    steer(ks);
    return n == TAKE_BATCH || (credit > 0 && ks->hold_len > 0);
}

bool brg_kafka_sources_poll(brg_kafka_ep_t *k)
{
    bool more = false;
    for (size_t i = 0; i < k->nsrcs; i++) {
        more = source_poll(k->srcs[i]) || more;
    }
    brg_kafka_sources_publish_metrics(k, false);
    return more;
}

/* ---- metrics -------------------------------------------------------------------------------- */

/* Records of a partition not bridged yet: the high watermark (as of the last fetch response,
 * no request of its own) minus the first offset not settled: the oldest record in flight, else
 * the position the settled prefix reached, else the position of the last record read, else
 * the group's committed offset. Returns: -1 if unknown (nothing fetched yet). */
static int64_t part_lag(brg_kafka_src_t *ks, kpart_t *p)
{
    int64_t low, high;
    if (rd_kafka_get_watermark_offsets(ks->rk, p->topic, p->partition, &low, &high) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0) {
        return -1;
    }
    if (high > p->seen_high) {
        p->seen_high = high; /* for gap reports: how far the log went */
    }
    int64_t next = brg_kafka_track_first(&p->track);
    if (next < 0) {
        next = p->track.committable;
    }
    if (next < 0) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
        if (rd_kafka_position(ks->rk, l) == RD_KAFKA_RESP_ERR_NO_ERROR && !l->elems[0].err) {
            next = l->elems[0].offset;
        }
        rd_kafka_topic_partition_list_destroy(l);
    }
    if (next < 0) {
        next = p->committed;
    }
    if (next < 0) {
        return -1;
    }
    return high > next ? high - next : 0;
}

void brg_kafka_rows_free(brg_kafka_part_row_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].route);
        free(rows[i].topic);
    }
    free(rows);
}

void brg_kafka_sources_publish_metrics(brg_kafka_ep_t *k, bool force)
{
    int64_t now = brg_now_ns();
    if (!force && now < k->next_rows_ns) {
        return;
    }
    k->next_rows_ns = now + 250 * (int64_t)1000000;
    size_t n = 0;
    for (size_t i = 0; i < k->nsrcs; i++) {
        for (size_t j = 0; j < k->srcs[i]->nparts; j++) {
            n += k->srcs[i]->parts[j]->assigned;
        }
    }
    brg_kafka_part_row_t *rows = n ? brg_xcalloc(n, sizeof(*rows)) : NULL;
    size_t r = 0;
    for (size_t i = 0; i < k->nsrcs; i++) {
        brg_kafka_src_t *ks = k->srcs[i];
        int64_t backlog = 0;
        for (size_t j = 0; j < ks->nparts; j++) {
            kpart_t *p = ks->parts[j];
            if (!p->assigned) {
                continue;
            }
            int64_t lag = part_lag(ks, p);
            rows[r++] = (brg_kafka_part_row_t){brg_xstrdup(brg_source_route_name(ks->src)),
                                               brg_xstrdup(p->topic), p->partition, lag,
                                               p->committed};
            backlog += lag > 0 ? lag : 0;
        }
        /* The stall watchdog's view: records waiting (in flight ones included). */
        brg_source_set_backlog(ks->src, backlog);
    }
    pthread_mutex_lock(&k->mlock);
    brg_kafka_part_row_t *old = k->rows;
    size_t nold = k->nrows;
    k->rows = rows;
    k->nrows = n;
    pthread_mutex_unlock(&k->mlock);
    brg_kafka_rows_free(old, nold);
}

/* ---- settles and offsets ------------------------------------------------------------------ */

void brg_kafka_sources_settled(brg_kafka_ep_t *k, brg_envelope_t *env, brg_outcome_t outcome)
{
    brg_source_t *src = brg_envelope_source(env);
    brg_kafka_src_t *ks = src ? brg_source_opaque(src) : NULL;
    uint8_t gen;
    size_t idx;
    uint32_t epoch;
    unpack_epoch(env->src_epoch, &gen, &idx, &epoch);
    if (ks && gen == k->generation && idx < ks->nparts) {
        kpart_t *p = ks->parts[idx];
        if (brg_kafka_track_settle(&p->track, (int64_t)env->src_seq, epoch, outcome) ==
            BRG_KAFKA_SETTLE_OK) {
            p->dirty = true;
            if (outcome == BRG_REJECTED) {
                brg_log_warn(&k->log.ctx,
                             "route \"%s\": %s [%" PRId32 "] offset %" PRIu64
                             " was rejected: its offset is not committed past it",
                             brg_source_route_name(src), p->topic, p->partition, env->src_seq);
            }
        }
    }
    brg_source_done(env);
}

static void flush_source(brg_kafka_src_t *ks)
{
    rd_kafka_topic_partition_list_t *store = NULL;
    for (size_t i = 0; i < ks->nparts; i++) {
        kpart_t *p = ks->parts[i];
        if (!p->dirty || !p->assigned) {
            continue;
        }
        p->dirty = false;
        int64_t next, to;
        if (brg_kafka_track_advance(&p->track, &next)) {
            if (!store) {
                store = rd_kafka_topic_partition_list_new(8);
            }
            rd_kafka_topic_partition_list_add(store, p->topic, p->partition)->offset = next;
            p->streak = 0;
        }
        if (brg_kafka_track_rewind(&p->track, &to)) {
            p->streak++;
            int shift = p->streak - 1 < 6 ? p->streak - 1 : 6;
            int64_t ms = (int64_t)RETRY_BASE_MS << shift;
            if (ms > RETRY_CAP_MS) {
                ms = RETRY_CAP_MS;
            }
            if (brg_source_parked(ks->src)) {
                ms = 0; /* the parked route paces its probes itself: no second backoff */
            }
            brg_log(p->streak == 1 || p->streak % 10 == 0 ? BRG_LOG_INFO : BRG_LOG_DEBUG,
                    &ks->k->log.ctx,
                    "route \"%s\": %s [%" PRId32 "] goes back to offset %" PRId64
                    " in %" PRId64 " ms to retry (attempt %d)",
                    brg_source_route_name(ks->src), p->topic, p->partition, to, ms, p->streak);
            /* Seek first, then pause: the pause keeps the sought position (librdkafka resumes
             * from the consumer's position), and nothing after the retried record is taken
             * before it. */
            hold_drop(ks, i, false); /* all after the retried record: read again */
            part_seek(ks, p, to);
            if (!p->retry_paused && !p->bp_paused) {
                part_pause(ks, p, true);
            }
            p->bp_paused = false; /* the retry pause holds it now (source_poll resumes it) */
            p->retry_paused = true;
            p->resume_at_ns = brg_now_ns() + ms * 1000000;
        }
    }
    if (store) {
        rd_kafka_resp_err_t err = rd_kafka_offsets_store(ks->rk, store);
        /* Per-partition failures (_STATE: no longer assigned) need nothing: the partition's
         * next owner starts from the last committed offset. */
        if (err && err != RD_KAFKA_RESP_ERR__STATE && err != RD_KAFKA_RESP_ERR__INVALID_ARG) {
            brg_log_warn(&ks->k->log.ctx, "route \"%s\": storing offsets: %s",
                         brg_source_route_name(ks->src), rd_kafka_err2str(err));
        }
        rd_kafka_topic_partition_list_destroy(store);
    }
}

void brg_kafka_sources_flush_offsets(brg_kafka_ep_t *k)
{
    for (size_t i = 0; i < k->nsrcs; i++) {
        flush_source(k->srcs[i]);
    }
}

rd_kafka_t *brg_kafka_sources_handle(brg_kafka_ep_t *k)
{
    return k->nsrcs ? k->srcs[0]->rk : NULL;
}

/* ---- stop ------------------------------------------------------------------------------------ */

static void source_stop(brg_kafka_src_t *ks)
{
    ks->stopping = true;
    hold_drop(ks, 0, true); /* never handed on: read again by the partitions' next owner */
    flush_source(ks);
    commit_bounded(ks, NULL, COMMIT_TIMEOUT_MS, "stop", 0); /* bounded by the shutdown deadline */
    /* Close asynchronously so that a cluster that is down cannot hold shutdown forever; the
     * revoke during close commits once more (rebalance_cb, served by the poll below). */
    rd_kafka_queue_t *cq = rd_kafka_queue_new(ks->rk);
    rd_kafka_error_t *e = rd_kafka_consumer_close_queue(ks->rk, cq);
    if (e) {
        brg_log_warn(&ks->k->log.ctx, "route \"%s\": closing the consumer: %s",
                     brg_source_route_name(ks->src), rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        ks->h->close_abandoned = !rd_kafka_consumer_closed(ks->rk);
    } else {
        /* Bounded by the bridge's shutdown deadline too: a cluster that is gone or frozen never
         * answers the final commit and LeaveGroup. */
        int close_ms = brg_kafka_stop_budget_ms(ks->k, CLOSE_TIMEOUT_MS);
        int64_t deadline = brg_now_ns() + close_ms * (int64_t)1000000;
        while (!rd_kafka_consumer_closed(ks->rk) && brg_now_ns() < deadline) {
            /* The close queue hands out events, not callbacks: a rebalance (the final revoke)
             * is acted on like rebalance_cb would; the rest is only drained. */
            rd_kafka_event_t *ev = rd_kafka_queue_poll(cq, 100);
            if (ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE) {
                rebalance_cb(ks->rk, rd_kafka_event_error(ev),
                             rd_kafka_event_topic_partition_list(ev), ks->h);
            }
            if (ev) {
                rd_kafka_event_destroy(ev);
            }
        }
        if (!rd_kafka_consumer_closed(ks->rk)) {
            ks->h->close_abandoned = true;
            brg_log_warn(&ks->k->log.ctx,
                         "route \"%s\": the consumer did not leave its group within %d ms (%sthe "
                         "cluster did not answer): stopping without it; records not committed "
                         "will be delivered again, to this group's next member",
                         brg_source_route_name(ks->src), close_ms,
                         close_ms < CLOSE_TIMEOUT_MS ? "the shutdown deadline; " : "");
        }
    }
    rd_kafka_queue_destroy(cq);
    rd_kafka_queue_io_event_enable(ks->q, -1, NULL, 0);
    rd_kafka_queue_destroy(ks->q);
    brg_source_set_opaque(ks->src, NULL);
    for (size_t i = 0; i < ks->nparts; i++) {
        brg_kafka_track_fini(&ks->parts[i]->track);
        free(ks->parts[i]->topic);
        free(ks->parts[i]);
    }
    free(ks->parts);
    free(ks->hold);
    ks->h->ks = NULL;
    holder_unref(ks->h); /* the consumer goes once the last envelope body lets go of it */
    free(ks);
}

brg_err_t brg_kafka_source_add(brg_kafka_ep_t *k, brg_source_t *src, char *errstr,
                               size_t errstr_size)
{
    const char *group = brg_conf_str(brg_source_conf(src), "group", "");
    for (size_t i = 0; i < k->nsrcs; i++) {
        if (strcmp(brg_conf_str(brg_source_conf(k->srcs[i]->src), "group", ""), group) == 0) {
            brg_errfmt(errstr, errstr_size,
                       "route \"%s\" reads with the same group \"%s\": give each route its own "
                       "group",
                       brg_source_route_name(k->srcs[i]->src), group);
            return BRG_ERR_CONFIG;
        }
    }
    return source_start(k, src, errstr, errstr_size);
}

void brg_kafka_source_remove(brg_kafka_ep_t *k, brg_source_t *src)
{
    for (size_t i = 0; i < k->nsrcs; i++) {
        brg_kafka_src_t *ks = k->srcs[i];
        if (ks->src != src) {
            continue;
        }
        /* Off the list first, as brg_kafka_sources_stop does: its consumer's final revoke
         * flushes the offsets of every source still listed. */
        memmove(k->srcs + i, k->srcs + i + 1, (k->nsrcs - i - 1) * sizeof(*k->srcs));
        k->nsrcs--;
        source_stop(ks);
        return;
    }
}

void brg_kafka_sources_stop(brg_kafka_ep_t *k)
{
    /* Take each source off the list before stopping it: closing a consumer runs its final
     * revoke, which flushes the offsets of every source still listed (a freed one would be
     * read after free). */
    while (k->nsrcs > 0) {
        brg_kafka_src_t *ks = k->srcs[--k->nsrcs];
        source_stop(ks);
    }
    free(k->srcs);
    k->srcs = NULL;
    k->nsrcs = 0;
    brg_kafka_sources_publish_metrics(k, true); /* no partitions: no samples */
}
