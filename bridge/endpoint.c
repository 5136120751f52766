/* Endpoint threads and their mailboxes. The mailbox is two inboxes (bridge/inbox.h: intrusive,
 * lock-free, batch push and take-all) sharing one eventfd: a producer writes the eventfd only
 * when the inbox it pushed to was not already signalled, so a burst costs one wake. The
 * endpoint thread reads the eventfd, then takes. A write to an eventfd never blocks for a
 * counter this small, so no thread ever waits on another endpoint's I/O. */
#include "bridge/endpoint.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "bridge/conf.h"
#include "bridge/gap.h"
#include "bridge/mailbox.h"

brg_endpoint_t *brg_endpoint_new(const char *name, const brg_adapter_t *adapter,
                                 const brg_conf_node_t *cs, const void *settings,
                                 const char *bridge_id)
{
    brg_endpoint_t *ep = brg_xcalloc(1, sizeof(*ep));
    ep->name = brg_xstrdup(name);
    ep->adapter = adapter;
    ep->cs = cs;
    ep->settings = settings;
    ep->bridge_id = bridge_id;
    ep->logctx = (brg_log_ctx_t){adapter->name, ep->name, cs ? cs->file : NULL, cs ? cs->line : 0};
    ep->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ep->wakefd < 0) {
        /* Without an eventfd nothing can be woken: this only fails when out of descriptors. */
        brg_log_error(&ep->logctx, "eventfd: %s", strerror(errno));
        abort();
    }
    pthread_mutex_init(&ep->lock, NULL);
    pthread_cond_init(&ep->change_applied, NULL);
    brg_inbox_init(&ep->publish);
    brg_inbox_init(&ep->settled);
    return ep;
}

/* Deliveries still queued at teardown: delivery.c releases each exactly once. */
static void free_queue(brg_inbox_t *ib, brg_dfifo_t *q)
{
    brg_inbox_take_all(ib, q);
    brg_delivery_t *d;
    while ((d = brg_dfifo_pop(q))) {
        brg_delivery_abandon(d);
    }
}

void brg_endpoint_free_source(brg_source_t *src)
{
    brg_delivery_source_fini(src);
    pthread_mutex_destroy(&src->lock);
    free(src->error);
    brg_source_gaps_fini(src);
    free(src);
}

void brg_endpoint_free_sink(brg_sink_t *sink)
{
    free(sink->shares);
    free(sink);
}

void brg_endpoint_destroy(brg_endpoint_t *ep)
{
    if (!ep) {
        return;
    }
    free_queue(&ep->publish, &ep->taken_publish);
    free_queue(&ep->settled, &ep->taken_settled);
    for (size_t i = 0; i < ep->nsources; i++) {
        brg_endpoint_free_source(ep->sources[i]);
    }
    for (size_t i = 0; i < ep->nsinks; i++) {
        brg_endpoint_free_sink(ep->sinks[i]);
    }
    for (size_t i = 0; i < ep->nrefused_sources; i++) {
        brg_endpoint_free_source(ep->refused_sources[i]);
    }
    for (size_t i = 0; i < ep->nrefused_sinks; i++) {
        brg_endpoint_free_sink(ep->refused_sinks[i]);
    }
    free(ep->sources);
    free(ep->sinks);
    free(ep->refused_sources);
    free(ep->refused_sinks);
    pthread_cond_destroy(&ep->change_applied); /* the engine applied what it staged */
    close(ep->wakefd);
    pthread_mutex_destroy(&ep->lock);
    free(ep->name);
    free(ep);
}

brg_source_t *brg_endpoint_add_source(brg_endpoint_t *ep, brg_route_t *rt, const brg_conf_node_t *cs)
{
    brg_source_t *src = brg_endpoint_new_source(ep, rt, cs);
    ep->sources = brg_xrealloc(ep->sources, (ep->nsources + 1) * sizeof(*ep->sources));
    ep->sources[ep->nsources++] = src;
    return src;
}

brg_source_t *brg_endpoint_new_source(brg_endpoint_t *ep, brg_route_t *rt, const brg_conf_node_t *cs)
{
    brg_source_t *src = brg_xcalloc(1, sizeof(*src));
    src->rt = rt;
    src->ep = ep;
    src->cs = cs;
    pthread_mutex_init(&src->lock, NULL);
    return src;
}

brg_sink_t *brg_endpoint_add_sink(brg_endpoint_t *ep, brg_route_t *rt, const brg_conf_node_t *cs,
                                  const brg_conf_templates_t *tpls, bool dead_letter)
{
    brg_sink_t *sink = brg_endpoint_new_sink(ep, rt, cs, tpls, dead_letter);
    ep->sinks = brg_xrealloc(ep->sinks, (ep->nsinks + 1) * sizeof(*ep->sinks));
    ep->sinks[ep->nsinks++] = sink;
    return sink;
}

brg_sink_t *brg_endpoint_new_sink(brg_endpoint_t *ep, brg_route_t *rt, const brg_conf_node_t *cs,
                                  const brg_conf_templates_t *tpls, bool dead_letter)
{
    static const brg_conf_templates_t none;
    brg_sink_t *sink = brg_xcalloc(1, sizeof(*sink));
    sink->rt = rt;
    sink->ep = ep;
    sink->cs = cs;
    sink->tpls = tpls ? tpls : &none;
    sink->is_dead_letter = dead_letter;
    sink->shares = brg_xaligned_calloc(_Alignof(brg_sink_counts_t),
                                       (BRG_TSLOTS + 1) * sizeof(brg_sink_counts_t));
    return sink;
}

/* ---- accessors ---------------------------------------------------------------------------- */

const char *brg_endpoint_name(const brg_endpoint_t *ep) { return ep->name; }
const brg_adapter_t *brg_endpoint_adapter(const brg_endpoint_t *ep) { return ep->adapter; }
const brg_conf_node_t *brg_endpoint_conf(const brg_endpoint_t *ep) { return ep->cs; }
const void *brg_endpoint_settings(const brg_endpoint_t *ep) { return ep->settings; }
const brg_log_ctx_t *brg_endpoint_logctx(const brg_endpoint_t *ep) { return &ep->logctx; }
const char *brg_endpoint_bridge_id(const brg_endpoint_t *ep) { return ep->bridge_id; }
bool brg_endpoint_stopping(const brg_endpoint_t *ep) { return atomic_load(&ep->stopping); }

int64_t brg_endpoint_stop_deadline(const brg_endpoint_t *ep)
{
    return atomic_load(&ep->stopping) ? atomic_load(&ep->stop_deadline_ns) : 0;
}

int brg_endpoint_stop_budget_ms(const brg_endpoint_t *ep, int want_ms)
{
    int64_t deadline = brg_endpoint_stop_deadline(ep);
    if (deadline <= 0) {
        return want_ms;
    }
    int64_t left = (deadline - brg_now_ns()) / 1000000;
    return left <= 0 ? 0 : left < want_ms ? (int)left : want_ms;
}
int brg_endpoint_wakefd(const brg_endpoint_t *ep) { return ep->wakefd; }
size_t brg_endpoint_source_count(const brg_endpoint_t *ep) { return ep->nsources; }
brg_source_t *brg_endpoint_source(const brg_endpoint_t *ep, size_t i) { return ep->sources[i]; }
size_t brg_endpoint_sink_count(const brg_endpoint_t *ep) { return ep->nsinks; }
brg_sink_t *brg_endpoint_sink(const brg_endpoint_t *ep, size_t i) { return ep->sinks[i]; }
void *brg_endpoint_state(const brg_endpoint_t *ep) { return ep->state; }

void brg_endpoint_set_connected(brg_endpoint_t *ep, bool connected, const char *reason)
{
    bool was = atomic_exchange(&ep->connected, connected);
    pthread_mutex_lock(&ep->lock);
    snprintf(ep->reason, sizeof(ep->reason), "%s", reason ? reason : "");
    pthread_mutex_unlock(&ep->lock);
    if (was != connected) {
        if (connected) {
            brg_log_info(&ep->logctx, "connected");
        } else {
            brg_log_warn(&ep->logctx, "disconnected%s%s", reason ? ": " : "", reason ? reason : "");
        }
    }
}

void brg_endpoint_reason(brg_endpoint_t *ep, char *buf, size_t size)
{
    pthread_mutex_lock(&ep->lock);
    snprintf(buf, size, "%s", ep->reason);
    pthread_mutex_unlock(&ep->lock);
}

void brg_endpoint_count_reconnect(brg_endpoint_t *ep)
{
    atomic_fetch_add(&ep->reconnects, 1);
}

bool brg_endpoint_sleep(brg_endpoint_t *ep, uint32_t ms)
{
    int64_t deadline = brg_now_ns() + (int64_t)ms * 1000000;
    brg_endpoint_flush(ep);
    while (!brg_endpoint_stopping(ep)) {
        int64_t left = (deadline - brg_now_ns()) / 1000000;
        if (left <= 0) {
            break;
        }
        struct pollfd pfd = {.fd = ep->wakefd, .events = POLLIN};
        /* A wake during a backoff sleep is not consumed: the caller's loop still sees it. */
        if (poll(&pfd, 1, (int)left) > 0) {
            break;
        }
    }
    return brg_endpoint_stopping(ep);
}

/* ---- the thread and its supervisor -------------------------------------------------------- */

static void *endpoint_main(void *arg)
{
    brg_endpoint_t *ep = arg;
    brg_backoff_t bo;
    /* Restart a failed loop after 1 s, growing to 60 s: quick recovery from a transient bug
     * trigger without a tight crash loop that floods the log. */
    brg_backoff_init(&bo, 1000, 60000);
    brg_mailbox_thread_begin();
    while (!brg_endpoint_stopping(ep)) {
        char err[512] = "";
        brg_err_t rc = ep->adapter->run(ep->state, ep, err, sizeof(err));
        brg_endpoint_flush(ep);
        if (brg_endpoint_stopping(ep)) {
            break;
        }
        atomic_fetch_add(&ep->restarts, 1);
        uint32_t wait = brg_backoff_next(&bo);
        brg_log_error(&ep->logctx, "endpoint loop failed (%s): %s; restarting in %u ms",
                      brg_err_name(rc), err[0] ? err : "no detail", wait);
        brg_endpoint_set_connected(ep, false, err[0] ? err : brg_err_name(rc));
        brg_endpoint_sleep(ep, wait);
    }
    brg_mailbox_thread_end();
    return NULL;
}

brg_err_t brg_endpoint_start(brg_endpoint_t *ep, char *errstr, size_t errstr_size)
{
    /* An adapter that compiles its settings at load reads them in open() and parses nothing:
     * an endpoint made without them (a caller that skipped brg_conf_load) cannot start. */
    if (ep->adapter->compile_endpoint && !ep->settings) {
        brg_errfmt(errstr, errstr_size, "the endpoint's settings were not compiled at load");
        return BRG_ERR_CONFIG;
    }
    brg_err_t rc = ep->adapter->open(ep, &ep->state, errstr, errstr_size);
    if (rc != BRG_OK) {
        return rc;
    }
    /* Signals are handled by the main thread only (sigwait): endpoint threads inherit a
     * mask with them blocked. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int e = pthread_create(&ep->thread, NULL, endpoint_main, ep);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        brg_errfmt(errstr, errstr_size, "pthread_create: %s", strerror(e));
        ep->adapter->close(ep->state);
        ep->state = NULL;
        return BRG_ERR_IO;
    }
    ep->thread_started = true;
    return BRG_OK;
}

bool brg_endpoint_join(brg_endpoint_t *ep, int64_t until_ns)
{
    if (!ep->thread_started) {
        return true;
    }
    if (until_ns > 0) {
        /* pthread_timedjoin_np takes a CLOCK_REALTIME time; the deadline is monotonic. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wall = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + (until_ns - brg_now_ns());
        ts.tv_sec = (time_t)(wall / 1000000000);
        ts.tv_nsec = (long)(wall % 1000000000);
        if (pthread_timedjoin_np(ep->thread, NULL, &ts) != 0) {
            return false;
        }
    } else {
        pthread_join(ep->thread, NULL);
    }
    ep->thread_started = false;
    return true;
}

void brg_endpoint_stop(brg_endpoint_t *ep)
{
    atomic_store(&ep->stopping, true);
    brg_endpoint_wake(ep);
    brg_endpoint_join(ep, 0);
    if (ep->state) {
        ep->adapter->close(ep->state);
        ep->state = NULL;
    }
}
