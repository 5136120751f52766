/* The stall watchdog (issue 13): a route that has work waiting (envelopes in flight that no
 * sink confirms, or a backlog its source reports) but moved nothing for stall_timeout while
 * its endpoints say connected is STALLED: it logs an ERROR naming what it waits on, counts
 * msgbridge_route_stalls_total, shows in /routes and /readyz, and asks the stalled endpoint to
 * re-establish its broker connection (at most once per stall_timeout). Engine-internal. */
#ifndef BRG_WATCHDOG_H
#define BRG_WATCHDOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Per-route watchdog state, embedded in brg_route_t (zeroed at creation). The decision fields
 * belong to the thread that runs brg_wd_step() (the engine's timer thread); `stalled` and
 * `stalls` are read by the HTTP thread; `stalled_on` is guarded by the route's lock. */
typedef struct brg_wd {
    int64_t timeout_ms;     /* 0: the watchdog is off for this route */
    uint64_t last_progress; /* the progress counter when it last moved */
    int64_t last_move_ns;   /* when it last moved, or when the route last had nothing to wait on */
    int64_t last_action_ns; /* the last reconnect request */
    int64_t last_check_ns;
    bool primed;            /* a first sample was taken */
    atomic_bool stalled;
    atomic_uint_fast64_t stalls;
    char stalled_on[256];
} brg_wd_t;

/* What the watchdog sees of a route at one instant. */
typedef struct brg_wd_sample {
    uint64_t progress; /* moves when the route completes work (confirms, final settles) */
    size_t in_flight;  /* taken from the source, not yet settled */
    int64_t backlog;   /* what the source says waits at the broker (0: none or unknown) */
    bool eligible;     /* running, not rate-limited, every endpoint connected */
    bool unanswered;   /* the source's backlog check is overdue: work may be waiting */
    bool reconnecting; /* running, but one of its endpoints is not connected */
} brg_wd_sample_t;

typedef enum brg_wd_verdict {
    BRG_WD_OK = 0,     /* moving, or nothing to wait on */
    BRG_WD_STALLED,    /* just declared stalled: log, count, act */
    BRG_WD_STILL,      /* still stalled; *act says whether to request a reconnect again */
    BRG_WD_RESUMED,    /* was stalled and moved again */
} brg_wd_verdict_t;

/* The decision, a pure function of the state and the sample (unit-tested).
 * An ineligible route (paused on purpose, or an endpoint reconnecting, which is reconnect's
 * job) restarts the clock but keeps a declared stall until the route moves, so the watchdog's
 * own reconnect does not hide the stall. *act: request a reconnect now (at most once per
 * timeout). Thread: one caller at a time per wd. */
brg_wd_verdict_t brg_wd_step(brg_wd_t *wd, const brg_wd_sample_t *s, int64_t now_ns, bool *act);

struct brg_engine;
struct brg_route;
struct brg_buf;

/* Check every route (rate-limited inside to a few times a second). Thread: the engine's timer
 * thread (its periodic tick). */
void brg_watchdog_tick(struct brg_engine *e);

/* /routes: append `, "stalled": B, "stalls": N, "stalled_on": "..."|null, "source_backlog": N`.
 * Thread: any. */
void brg_watchdog_routes_json(struct brg_route *rt, struct brg_buf *b);
/* /readyz: append a line per stalled route. Returns: false if any route is stalled. */
bool brg_watchdog_ready(struct brg_engine *e, struct brg_buf *b);
/* /metrics: the msgbridge_route_stalls_total, msgbridge_route_source_backlog and
 * msgbridge_route_stalled families. */
void brg_watchdog_metrics(struct brg_engine *e, struct brg_buf *b);

#endif
