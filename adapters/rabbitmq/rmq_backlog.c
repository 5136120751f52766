/* Sources' backlog for the stall watchdog: each consuming queue's ready count, learned with a
 * passive queue.declare (declare-ok carries message_count: ready messages, not the unacked
 * ones) on a channel of its own, a few times per stall_timeout.
 *
 * Why it is safe next to the consumers: the method is only sent here and its answer arrives
 * through the normal frame dispatch (brg_rmq_read_frames), so the endpoint thread never waits on
 * it; rabbitmq-c queues frames of other channels while a synchronous call elsewhere waits, so
 * deliveries are never lost or reordered by it. It uses its own channel: a queue that has gone
 * makes the broker close that channel only (404 NOT_FOUND), never a consuming channel or the
 * connection, and the channel is reopened at the next check. A passive declare changes
 * nothing at the broker (no queue created, no arguments compared).
 *
 * Why it finds a frozen connection: a question left unanswered for a check period (at least
 * 1 s) marks the sources overdue (brg_source_set_backlog_unanswered): the watchdog then counts
 * the route as waiting, so a consuming connection frozen while its queue was empty, which no
 * backlog could reveal, is still declared stalled after stall_timeout and re-established. */
#include <string.h>

#include "adapters/rabbitmq/rmq.h"

/* Check period bounds: a quarter of stall_timeout, but not more often than 5 times a second
 * (a cheap call, yet one per source) and not less often than every 5 s. */
#define BL_MIN_NS (200LL * 1000000)
#define BL_MAX_NS (5000LL * 1000000)
/* An answer later than this (or the period, if longer) is overdue: a loaded broker answers a
 * passive declare in milliseconds, so a second leaves room for a busy machine. */
#define BL_LATE_MIN_NS (1000LL * 1000000)

static bool watched(const rmq_src_t *s)
{
    return s->consuming && brg_source_stall_timeout_ms(s->src) > 0;
}

/* The check period (0: no source needs checks); *n gets how many sources are checked. */
static int64_t period_ns(const brg_rmq_t *r, size_t *n)
{
    int64_t best = 0;
    *n = 0;
    for (size_t i = 0; i < r->nsrcs; i++) {
        const rmq_src_t *s = r->srcs[i];
        if (!watched(s)) {
            continue;
        }
        int64_t p = brg_source_stall_timeout_ms(s->src) * 1000000 / 4;
        p = p < BL_MIN_NS ? BL_MIN_NS : p > BL_MAX_NS ? BL_MAX_NS : p;
        best = best == 0 || p < best ? p : best;
        (*n)++;
    }
    return best;
}

static void report(rmq_src_t *s, int64_t n)
{
    if (s->backlog != n) {
        s->backlog = n;
        brg_source_set_backlog(s->src, n);
    }
}

/* Tell each source whether its route should count the overdue answer as work waiting: only
 * while it consumes (a source that stopped, or started since, follows at the next call). */
static void sync_unanswered(brg_rmq_t *r)
{
    for (size_t i = 0; i < r->nsrcs; i++) {
        rmq_src_t *s = r->srcs[i];
        bool want = r->bl.overdue && watched(s);
        if (s->unanswered != want) {
            s->unanswered = want;
            brg_source_set_backlog_unanswered(s->src, want);
        }
    }
}

static void set_overdue(brg_rmq_t *r, bool yes)
{
    bool was = r->bl.overdue;
    r->bl.overdue = yes;
    sync_unanswered(r);
    if (yes && !was) {
        brg_log_debug(r->log, "backlog check on channel %u unanswered for %lld ms",
                      (unsigned)r->bl.ch, (long long)((brg_now_ns() - r->bl.sent_ns) / 1000000));
    }
}

static void lower(int64_t *next_ns, int64_t t)
{
    if (t < *next_ns) {
        *next_ns = t;
    }
}

brg_err_t brg_rmq_backlog_maintain(brg_rmq_t *r, int64_t now_ns, int64_t *next_ns, char *errstr,
                                   size_t errstr_size)
{
    rmq_backlog_t *b = &r->bl;
    if (!r->conn) {
        return BRG_OK;
    }
    /* A source that does not consume (queue missing, channel reopening) has nothing waiting
     * that the route could read: a stale count would make a false stall. */
    for (size_t i = 0; i < r->nsrcs; i++) {
        if (!watched(r->srcs[i])) {
            report(r->srcs[i], 0);
        }
    }
    sync_unanswered(r);
    size_t n = 0;
    int64_t period = period_ns(r, &n);
    if (n == 0) {
        set_overdue(r, false);
        return BRG_OK;
    }
    if (b->st == RMQ_BL_OPENING || b->st == RMQ_BL_ASKING) {
        if (r->blocked) {
            /* A blocked connection's frames wait unread at the broker (resource alarm): not a
             * frozen connection. The clock starts again once unblocked. */
            b->sent_ns = now_ns;
            set_overdue(r, false);
        }
        int64_t late = period > BL_LATE_MIN_NS ? period : BL_LATE_MIN_NS;
        if (now_ns - b->sent_ns >= late) {
            set_overdue(r, true);
        } else {
            lower(next_ns, b->sent_ns + late);
        }
        return BRG_OK;
    }
    if (now_ns < b->due_ns || r->blocked) {
        lower(next_ns, r->blocked ? now_ns + period : b->due_ns);
        return BRG_OK;
    }
    int rc;
    if (b->st == RMQ_BL_CLOSED) {
        amqp_channel_open_t req;
        memset(&req, 0, sizeof(req));
        rc = amqp_send_method(r->conn, b->ch, AMQP_CHANNEL_OPEN_METHOD, &req);
        b->st = RMQ_BL_OPENING;
    } else {
        size_t idx = b->next % r->nsrcs;
        for (size_t i = 0; i < r->nsrcs && !watched(r->srcs[idx]); i++) {
            idx = (idx + 1) % r->nsrcs;
        }
        b->asking = r->srcs[idx];
        b->next = idx + 1;
        amqp_queue_declare_t req;
        memset(&req, 0, sizeof(req));
        req.queue = amqp_cstring_bytes(r->srcs[idx]->queue);
        req.passive = 1;
        req.arguments = amqp_empty_table;
        rc = amqp_send_method(r->conn, b->ch, AMQP_QUEUE_DECLARE_METHOD, &req);
        b->st = RMQ_BL_ASKING;
    }
    if (rc != AMQP_STATUS_OK) {
        brg_errfmt(errstr, errstr_size, "backlog check: %s", amqp_error_string2(rc));
        return BRG_ERR_TRANSPORT;
    }
    b->sent_ns = now_ns;
    lower(next_ns, now_ns + (period > BL_LATE_MIN_NS ? period : BL_LATE_MIN_NS));
    return BRG_OK;
}

void brg_rmq_backlog_on_frame(brg_rmq_t *r, const amqp_frame_t *f)
{
    rmq_backlog_t *b = &r->bl;
    if (f->frame_type != AMQP_FRAME_METHOD) {
        return;
    }
    int64_t now = brg_now_ns();
    size_t n = 0;
    int64_t period = period_ns(r, &n);
    if (f->payload.method.id == AMQP_CHANNEL_OPEN_OK_METHOD && b->st == RMQ_BL_OPENING) {
        b->st = RMQ_BL_IDLE;
        b->due_ns = now;
        set_overdue(r, false);
    } else if (f->payload.method.id == AMQP_QUEUE_DECLARE_OK_METHOD && b->st == RMQ_BL_ASKING) {
        const amqp_queue_declare_ok_t *m = f->payload.method.decoded;
        rmq_src_t *s = b->asking;
        if (s && watched(s)) {
            report(s, (int64_t)m->message_count);
        }
        b->st = RMQ_BL_IDLE;
        /* Each source once per period, spread over it. */
        b->due_ns = now + (n ? period / (int64_t)n : BL_MAX_NS);
        set_overdue(r, false);
    }
}

void brg_rmq_backlog_channel_closed(brg_rmq_t *r, int code, const char *reason)
{
    rmq_backlog_t *b = &r->bl;
    if (b->st == RMQ_BL_ASKING && code == AMQP_NOT_FOUND && b->asking) {
        /* The queue went between two checks; its consumer is cancelled too. */
        report(b->asking, 0);
    }
    brg_log_debug(r->log, "backlog check channel closed by the broker: %s", reason);
    b->st = RMQ_BL_CLOSED;
    size_t n = 0;
    int64_t period = period_ns(r, &n);
    /* Not at once: a broker that keeps refusing is asked again once per period. */
    b->due_ns = brg_now_ns() + (period ? period : BL_MAX_NS);
    set_overdue(r, false);
}

void brg_rmq_backlog_conn_lost(brg_rmq_t *r)
{
    r->bl.st = RMQ_BL_CLOSED;
    r->bl.due_ns = 0;
    set_overdue(r, false);
}
