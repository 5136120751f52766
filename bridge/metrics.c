#include "config.h"

#include "bridge/metrics.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_MHD
#include <microhttpd.h>
#endif

#include "bridge/gap.h"

struct brg_metrics_out {
    brg_buf_t *buf;
};

void brg_metrics_printf(struct brg_metrics_out *out, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(line)) {
        /* Rare long line: format again into the growable buffer. */
        char *big = brg_xmalloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        brg_buf_printf(out->buf, "%s", big);
        free(big);
        return;
    }
    if (n > 0) {
        brg_buf_printf(out->buf, "%s", line);
    }
}

static void help(brg_buf_t *b, const char *name, const char *type, const char *text)
{
    brg_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

#define LOAD(x) ((uint64_t)atomic_load(&(x)))

/* One Prometheus histogram series: cumulative buckets, +Inf, sum and count. */
static void histogram(brg_buf_t *b, const char *name, const char *route, const double *bounds,
                      const atomic_uint_fast64_t *buckets, size_t n, double sum, uint64_t count)
{
    uint64_t cum = 0;
    for (size_t k = 0; k < n; k++) {
        cum += LOAD(buckets[k]);
        brg_buf_printf(b, "%s_bucket{route=\"%s\",le=\"%g\"} %" PRIu64 "\n", name, route,
                       bounds[k], cum);
    }
    cum += LOAD(buckets[n]);
    brg_buf_printf(b, "%s_bucket{route=\"%s\",le=\"+Inf\"} %" PRIu64 "\n", name, route, cum);
    brg_buf_printf(b, "%s_sum{route=\"%s\"} %.6f\n", name, route, sum);
    brg_buf_printf(b, "%s_count{route=\"%s\"} %" PRIu64 "\n", name, route, count);
}

/* Route counters, each family over every route (snap: each route's counters, summed). */
static void render_route_counters(brg_engine_t *e, const brg_route_counts_t *snap, brg_buf_t *b)
{
    char r[256];
    static const struct {
        const char *name, *help;
        size_t off;
    } route_counters[] = {
        {"msgbridge_route_messages_in_total", "Messages taken from the route's source.",
         offsetof(brg_route_stats_t, in_msgs)},
        {"msgbridge_route_bytes_in_total", "Body bytes taken from the route's source.",
         offsetof(brg_route_stats_t, in_bytes)},
        {"msgbridge_route_messages_out_total", "Messages confirmed by a sink (each sink counts).",
         offsetof(brg_route_stats_t, out_msgs)},
        {"msgbridge_route_bytes_out_total", "Body bytes confirmed by a sink.",
         offsetof(brg_route_stats_t, out_bytes)},
        {"msgbridge_route_dead_lettered_total", "Messages parked in the dead letter.",
         offsetof(brg_route_stats_t, dead_lettered)},
        {"msgbridge_route_filtered_total", "Messages the route's filter did not select.",
         offsetof(brg_route_stats_t, filtered)},
        {"msgbridge_route_loop_dropped_total", "Messages dropped by loop prevention.",
         offsetof(brg_route_stats_t, loop_dropped)},
        {"msgbridge_route_mapping_lost_total", "Fields converted with loss or dropped.",
         offsetof(brg_route_stats_t, mapping_lost)},
        {"msgbridge_route_broker_rejected_total",
         "Messages rejected to the source broker's own dead letter (on_reject = \"reject\").",
         offsetof(brg_route_stats_t, broker_rejected)},
        {"msgbridge_route_parks_total",
         "Times the route parked because its destination was missing or refused.",
         offsetof(brg_route_stats_t, parks)},
    };
    for (size_t k = 0; k < BRG_ARRAY_SIZE(route_counters); k++) {
        help(b, route_counters[k].name, "counter", route_counters[k].help);
        for (size_t i = 0; i < e->nroutes; i++) {
            brg_route_t *rt = e->routes[i];
            const atomic_uint_fast64_t *c =
                (const atomic_uint_fast64_t *)((const char *)&snap[i].s + route_counters[k].off);
            brg_buf_printf(b, "%s{route=\"%s\"} %" PRIu64 "\n", route_counters[k].name,
                           brg_prom_label(rt->name, r, sizeof(r)), LOAD(*c));
        }
    }
}

/* Per-field mapping losses and per-partition source gaps. */
static void render_route_details(brg_engine_t *e, brg_buf_t *b)
{
    char r[256], ep[256];
    help(b, "msgbridge_route_mapping_lost_field_total", "counter",
         "Fields a sink could not carry losslessly, per field.");
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_route_t *rt = e->routes[i];
        size_t n = atomic_load(&rt->nloss);
        for (size_t k = 0; k < n; k++) {
            brg_buf_printf(b, "msgbridge_route_mapping_lost_field_total{route=\"%s\",field=\"%s\"} %" PRIu64 "\n",
                           brg_prom_label(rt->name, r, sizeof(r)), brg_prom_label(rt->loss[k].name, ep, sizeof(ep)),
                           LOAD(rt->loss[k].count));
        }
    }
    help(b, "msgbridge_source_gap_records_total", "counter",
         "Records a source could not read because its broker no longer had them (Kafka: "
         "retention or DeleteRecords removed them first, or the partition's log started again).");
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_gap_row_t *rows;
        size_t n = brg_source_gap_rows(e->routes[i]->src, &rows);
        brg_prom_label(e->routes[i]->name, r, sizeof(r));
        for (size_t k = 0; k < n; k++) {
            brg_buf_printf(b,
                           "msgbridge_source_gap_records_total{route=\"%s\",topic=\"%s\","
                           "partition=\"%" PRId32 "\"} %" PRIu64 "\n",
                           r, brg_prom_label(rows[k].stream, ep, sizeof(ep)), rows[k].partition,
                           rows[k].records);
        }
        brg_gap_rows_free(rows, n);
    }
}

/* Outcomes, what is in flight, and the up / parked gauges. */
static void render_route_states(brg_engine_t *e, const brg_route_counts_t *snap, brg_buf_t *b)
{
    char r[256];
    help(b, "msgbridge_route_settled_total", "counter",
         "Source messages by final outcome (accepted, retry, rejected).");
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_route_t *rt = e->routes[i];
        brg_prom_label(rt->name, r, sizeof(r));
        brg_buf_printf(b,
                       "msgbridge_route_settled_total{route=\"%s\",outcome=\"accepted\"} %" PRIu64
                       "\nmsgbridge_route_settled_total{route=\"%s\",outcome=\"retry\"} %" PRIu64
                       "\nmsgbridge_route_settled_total{route=\"%s\",outcome=\"rejected\"} %" PRIu64
                       "\n",
                       r, LOAD(snap[i].s.accepted), r, LOAD(snap[i].s.retried), r,
                       LOAD(snap[i].s.rejected));
    }
    help(b, "msgbridge_route_in_flight_messages", "gauge", "Messages taken but not yet settled.");
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_buf_printf(b, "msgbridge_route_in_flight_messages{route=\"%s\"} %zu\n",
                       brg_prom_label(e->routes[i]->name, r, sizeof(r)), atomic_load(&e->routes[i]->in_flight));
    }
    help(b, "msgbridge_route_in_flight_bytes", "gauge", "Bytes taken but not yet settled.");
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_buf_printf(b, "msgbridge_route_in_flight_bytes{route=\"%s\"} %zu\n",
                       brg_prom_label(e->routes[i]->name, r, sizeof(r)),
                       atomic_load(&e->routes[i]->in_flight_bytes));
    }
    help(b, "msgbridge_route_up", "gauge", "1 while the route runs, 0 once stopped.");
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_buf_printf(b, "msgbridge_route_up{route=\"%s\"} %d\n",
                       brg_prom_label(e->routes[i]->name, r, sizeof(r)),
                       atomic_load(&e->routes[i]->state) != BRG_ROUTE_STOPPED);
    }
    help(b, "msgbridge_route_parked", "gauge",
         "1 while the route is parked (its destination missing or refusing), else 0.");
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_buf_printf(b, "msgbridge_route_parked{route=\"%s\"} %d\n",
                       brg_prom_label(e->routes[i]->name, r, sizeof(r)),
                       atomic_load(&e->routes[i]->state) == BRG_ROUTE_PARKED);
    }
}

static void render_route_latency(brg_engine_t *e, const brg_route_counts_t *snap, brg_buf_t *b)
{
    char r[256];
    help(b, "msgbridge_route_latency_seconds", "histogram",
         "Bridge latency: source receive to final settle of accepted messages.");
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_route_t *rt = e->routes[i];
        histogram(b, "msgbridge_route_latency_seconds", brg_prom_label(rt->name, r, sizeof(r)),
                  brg_latency_bounds, snap[i].latency_buckets, BRG_LAT_BUCKETS,
                  (double)LOAD(snap[i].s.latency_ns_sum) / 1e9, LOAD(snap[i].s.latency_count));
    }
    help(b, "msgbridge_route_end_to_end_latency_seconds", "histogram",
         "End-to-end latency: the message's own timestamp (its producer's clock, ms) to the "
         "final settle of accepted messages; messages without a timestamp are not counted.");
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_route_t *rt = e->routes[i];
        histogram(b, "msgbridge_route_end_to_end_latency_seconds", brg_prom_label(rt->name, r, sizeof(r)),
                  brg_e2e_bounds, snap[i].e2e_buckets, BRG_E2E_BUCKETS,
                  (double)LOAD(snap[i].s.e2e_ms_sum) / 1e3, LOAD(snap[i].s.e2e_count));
    }
}

static void render_sinks(brg_engine_t *e, brg_buf_t *b)
{
    char r[256], ep[256];
    static const struct {
        const char *name, *help;
        size_t off;
    } sink_counters[] = {
        {"msgbridge_sink_messages_out_total", "Messages a sink's broker confirmed.",
         offsetof(brg_sink_counts_t, out_msgs)},
        {"msgbridge_sink_bytes_out_total", "Body bytes a sink's broker confirmed.",
         offsetof(brg_sink_counts_t, out_bytes)},
        {"msgbridge_sink_retries_total", "Publishes a sink settled RETRY.",
         offsetof(brg_sink_counts_t, retried)},
        {"msgbridge_sink_rejected_total", "Publishes a sink settled REJECTED.",
         offsetof(brg_sink_counts_t, rejected)},
    };
    for (size_t k = 0; k < BRG_ARRAY_SIZE(sink_counters); k++) {
        help(b, sink_counters[k].name, "counter", sink_counters[k].help);
        for (size_t i = 0; i < e->nendpoints; i++) {
            brg_endpoint_t *p = e->endpoints[i];
            for (size_t j = 0; j < p->nsinks; j++) {
                brg_sink_t *s = p->sinks[j];
                brg_sink_counts_t sum; /* kept per thread */
                brg_sink_counts_read(s, &sum);
                atomic_uint_fast64_t *c =
                    (atomic_uint_fast64_t *)((char *)&sum + sink_counters[k].off);
                brg_buf_printf(b, "%s{route=\"%s\",endpoint=\"%s\",adapter=\"%s\",dead_letter=\"%s\"} %" PRIu64 "\n",
                               sink_counters[k].name, brg_prom_label(s->rt->name, r, sizeof(r)),
                               brg_prom_label(p->name, ep, sizeof(ep)), p->adapter->name,
                               s->is_dead_letter ? "true" : "false", LOAD(*c));
            }
        }
    }
}

static void render_endpoints(brg_engine_t *e, brg_buf_t *b)
{
    char ep[256];
    help(b, "msgbridge_endpoint_connected", "gauge", "1 when the endpoint's broker connection is up.");
    for (size_t i = 0; i < e->nendpoints; i++) {
        brg_endpoint_t *p = e->endpoints[i];
        brg_buf_printf(b, "msgbridge_endpoint_connected{endpoint=\"%s\",adapter=\"%s\"} %d\n",
                       brg_prom_label(p->name, ep, sizeof(ep)), p->adapter->name, atomic_load(&p->connected));
    }
    help(b, "msgbridge_endpoint_reconnects_total", "counter", "Reconnect attempts.");
    for (size_t i = 0; i < e->nendpoints; i++) {
        brg_endpoint_t *p = e->endpoints[i];
        brg_buf_printf(b, "msgbridge_endpoint_reconnects_total{endpoint=\"%s\",adapter=\"%s\"} %" PRIu64 "\n",
                       brg_prom_label(p->name, ep, sizeof(ep)), p->adapter->name, LOAD(p->reconnects));
    }
    help(b, "msgbridge_endpoint_restarts_total", "counter", "Endpoint loops restarted after a failure.");
    for (size_t i = 0; i < e->nendpoints; i++) {
        brg_endpoint_t *p = e->endpoints[i];
        brg_buf_printf(b, "msgbridge_endpoint_restarts_total{endpoint=\"%s\",adapter=\"%s\"} %" PRIu64 "\n",
                       brg_prom_label(p->name, ep, sizeof(ep)), p->adapter->name, LOAD(p->restarts));
    }
}

/* Adapter-specific families, once per adapter with all of its endpoints. */
static void render_adapter_families(brg_engine_t *e, brg_buf_t *b)
{
    struct brg_metrics_out out = {b};
    brg_endpoint_t **same = brg_xcalloc(e->nendpoints + 1, sizeof(*same));
    for (size_t i = 0; i < e->nendpoints; i++) {
        const brg_adapter_t *ad = e->endpoints[i]->adapter;
        bool first = true;
        for (size_t j = 0; j < i; j++) {
            first = first && e->endpoints[j]->adapter != ad;
        }
        if (!first || !ad->metrics) {
            continue;
        }
        size_t n = 0;
        for (size_t j = i; j < e->nendpoints; j++) {
            if (e->endpoints[j]->adapter == ad && e->endpoints[j]->state) {
                same[n++] = e->endpoints[j];
            }
        }
        if (n) {
            ad->metrics(same, n, &out);
        }
    }
    free(same);
}

void brg_metrics_render(brg_engine_t *e, brg_buf_t *b)
{
    brg_buf_printf(b, "# HELP msgbridge_build_info msgbridge version.\n"
                      "# TYPE msgbridge_build_info gauge\n"
                      "msgbridge_build_info{version=\"%s\"} 1\n",
                   PACKAGE_VERSION);
    help(b, "msgbridge_start_time_seconds", "gauge", "Unix time the bridge started.");
    brg_buf_printf(b, "msgbridge_start_time_seconds %" PRId64 "\n", e->started_ms / 1000);
    /* The counters are kept per thread: sum each route's once for this page. */
    brg_route_counts_t *snap = e->nroutes ? brg_xcalloc(e->nroutes, sizeof(*snap)) : NULL;
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_route_counts_read(e->routes[i], &snap[i]);
    }
    render_route_counters(e, snap, b);
    render_route_details(e, b);
    render_route_states(e, snap, b);
    render_route_latency(e, snap, b);
    free(snap);
    render_sinks(e, b);
    render_endpoints(e, b);
    brg_watchdog_metrics(e, b);
    render_adapter_families(e, b);
}

void brg_metrics_render_routes(brg_engine_t *e, brg_buf_t *b)
{
    brg_buf_printf(b, "[");
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_route_t *rt = e->routes[i];
        brg_route_counts_t st;
        brg_route_counts_read(rt, &st);
        char *why = brg_route_stop_reason(rt);
        char *src_err = brg_source_error(rt->src);
        brg_buf_printf(b, "%s\n  {\"name\": ", i ? "," : "");
        brg_buf_json_str(b, rt->name);
        brg_buf_printf(b, ", \"state\": \"%s\", \"source\": ",
                       brg_route_state_name(atomic_load(&rt->state)));
        brg_buf_json_str(b, rt->src->ep->name);
        brg_buf_printf(b, ", \"sinks\": [");
        for (size_t j = 0; j < rt->nsinks; j++) {
            brg_buf_printf(b, "%s", j ? ", " : "");
            brg_buf_json_str(b, rt->sinks[j]->ep->name);
        }
        brg_buf_printf(b, "], \"dead_letter\": ");
        if (rt->dead_letter) {
            brg_buf_json_str(b, rt->dead_letter->ep->name);
        } else {
            brg_buf_printf(b, "null");
        }
        brg_buf_printf(b,
                       ", \"in\": %" PRIu64 ", \"out\": %" PRIu64 ", \"accepted\": %" PRIu64
                       ", \"retried\": %" PRIu64 ", \"rejected\": %" PRIu64
                       ", \"dead_lettered\": %" PRIu64 ", \"filtered\": %" PRIu64
                       ", \"loop_dropped\": %" PRIu64 ", \"broker_rejected\": %" PRIu64
                       ", \"in_flight\": %zu, \"in_flight_bytes\": %zu, \"max_in_flight\": %zu, "
                       "\"max_in_flight_bytes\": %zu, \"stop_reason\": ",
                       LOAD(st.s.in_msgs), LOAD(st.s.out_msgs), LOAD(st.s.accepted),
                       LOAD(st.s.retried), LOAD(st.s.rejected),
                       LOAD(st.s.dead_lettered), LOAD(st.s.filtered),
                       LOAD(st.s.loop_dropped), LOAD(st.s.broker_rejected),
                       atomic_load(&rt->in_flight),
                       atomic_load(&rt->in_flight_bytes), rt->max_in_flight,
                       rt->max_in_flight_bytes);
        if (why) {
            brg_buf_json_str(b, why);
        } else {
            brg_buf_printf(b, "null");
        }
        brg_buf_printf(b, ", \"source_error\": ");
        if (src_err) {
            brg_buf_json_str(b, src_err);
        } else {
            brg_buf_printf(b, "null");
        }
        brg_watchdog_routes_json(rt, b);
        brg_gap_row_t *gaps;
        size_t ngaps = brg_source_gap_rows(rt->src, &gaps);
        uint64_t gap_total = 0;
        for (size_t k = 0; k < ngaps; k++) {
            gap_total += gaps[k].records;
        }
        brg_buf_printf(b, ", \"gap_records\": %" PRIu64 ", \"gaps\": [", gap_total);
        for (size_t k = 0; k < ngaps; k++) {
            brg_buf_printf(b, "%s{\"topic\": ", k ? ", " : "");
            brg_buf_json_str(b, gaps[k].stream);
            brg_buf_printf(b, ", \"partition\": %" PRId32 ", \"records\": %" PRIu64
                              ", \"gaps\": %" PRIu64 "}",
                           gaps[k].partition, gaps[k].records, gaps[k].gaps);
        }
        brg_buf_printf(b, "]");
        brg_gap_rows_free(gaps, ngaps);
        int64_t next_ms = 0;
        char *park = brg_route_park_reason(rt, &next_ms);
        bool parked = atomic_load(&rt->state) == BRG_ROUTE_PARKED;
        brg_buf_printf(b, ", \"parks\": %" PRIu64 ", \"park_reason\": ", LOAD(rt->stats.parks));
        if (parked && park) {
            brg_buf_json_str(b, park);
            brg_buf_printf(b, ", \"next_retry_ms\": %" PRId64, next_ms);
        } else {
            brg_buf_printf(b, "null, \"next_retry_ms\": null");
        }
        /* Fan-out copies waiting for the missing destination (their siblings confirmed). */
        brg_buf_printf(b, ", \"held\": %zu", atomic_load(&rt->nheld));
        brg_buf_printf(b, "}");
        free(park);
        free(why);
        free(src_err);
    }
    brg_buf_printf(b, "\n]\n");
}

bool brg_metrics_ready(brg_engine_t *e, brg_buf_t *b)
{
    bool ready = true;
    for (size_t i = 0; i < e->nendpoints; i++) {
        brg_endpoint_t *p = e->endpoints[i];
        if (!atomic_load(&p->connected)) {
            char why[256];
            brg_endpoint_reason(p, why, sizeof(why));
            brg_buf_printf(b, "endpoint %s (%s) not connected%s%s\n", p->name, p->adapter->name,
                           why[0] ? ": " : "", why);
            ready = false;
        }
    }
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_route_t *rt = e->routes[i];
        if (atomic_load(&rt->state) == BRG_ROUTE_STOPPED) {
            char *why = brg_route_stop_reason(rt);
            brg_buf_printf(b, "route %s stopped: %s\n", rt->name, why ? why : "?");
            free(why);
            ready = false;
        } else if (atomic_load(&rt->state) == BRG_ROUTE_PARKED) {
            int64_t next_ms = 0;
            char *why = brg_route_park_reason(rt, &next_ms);
            brg_buf_printf(b, "route %s parked: %s (next retry in %.1f s)\n", rt->name,
                           why ? why : "?", (double)next_ms / 1000.0);
            free(why);
            ready = false;
        }
        if (brg_route_only_loops(rt, brg_now_ns())) {
            brg_buf_printf(b, "route %s dropped every message it read in the last %lld s as a "
                           "loop (%" PRIu64 " in all; see the WARN lines and docs/mapping.md)\n",
                           rt->name, (long long)(brg_route_loop_window_ns() / 1000000000LL),
                           (uint64_t)atomic_load(&rt->stats.loop_dropped));
            ready = false;
        }
    }
    ready = brg_watchdog_ready(e, b) && ready;
    if (ready) {
        brg_buf_printf(b, "ready\n");
    }
    return ready;
}

/* ---- HTTP server ---------------------------------------------------------------------------- */

struct brg_http {
#ifdef HAVE_MHD
    struct MHD_Daemon *daemon;
#endif
    pthread_mutex_t lock; /* guards engine against a reload */
    brg_engine_t *engine;
};

#ifdef HAVE_MHD
static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             brg_buf_t *body)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(body->len, body->data ? body->data : "",
                                        MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", type);
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    brg_buf_fini(body);
    return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req_cls)
{
    brg_http_t *h = cls;
    brg_buf_t b = {0};
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        brg_buf_printf(&b, "method not allowed\n");
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", &b);
    }
    if (strcmp(url, "/healthz") == 0) {
        brg_buf_printf(&b, "ok\n");
        return reply(conn, MHD_HTTP_OK, "text/plain", &b);
    }
    pthread_mutex_lock(&h->lock);
    if (!h->engine) {
        pthread_mutex_unlock(&h->lock);
        brg_buf_printf(&b, "reloading\n");
        return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", &b);
    }
    unsigned status = MHD_HTTP_OK;
    const char *type = "text/plain; charset=utf-8";
    if (strcmp(url, "/metrics") == 0) {
        brg_metrics_render(h->engine, &b);
        type = "text/plain; version=0.0.4; charset=utf-8";
    } else if (strcmp(url, "/readyz") == 0) {
        status = brg_metrics_ready(h->engine, &b) ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
    } else if (strcmp(url, "/routes") == 0) {
        brg_metrics_render_routes(h->engine, &b);
        type = "application/json";
    } else {
        brg_buf_printf(&b, "not found; try /metrics, /healthz, /readyz, /routes\n");
        status = MHD_HTTP_NOT_FOUND;
    }
    pthread_mutex_unlock(&h->lock);
    return reply(conn, status, type, &b);
}
#endif

brg_http_t *brg_http_start(const char *addr, brg_engine_t *e, char *errstr, size_t errstr_size)
{
#ifdef HAVE_MHD
    const char *colon = strrchr(addr, ':');
    char host[128];
    snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - addr) : 0, addr);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_port = htons((uint16_t)atoi(colon ? colon + 1 : "0"));
    if (strcmp(host, "localhost") == 0) {
        snprintf(host, sizeof(host), "127.0.0.1");
    }
    if (inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &sin.sin_addr) != 1) {
        brg_errfmt(errstr, errstr_size, "metrics address \"%s\": host must be an IPv4 address",
                   addr);
        return NULL;
    }
    brg_http_t *h = brg_xcalloc(1, sizeof(*h));
    pthread_mutex_init(&h->lock, NULL);
    h->engine = e;
    /* One internal thread with poll(): scrapes are rare and cheap; the engine is never blocked
     * by a slow client beyond the copy of one page. */
    h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL,
                                 handle, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (!h->daemon) {
        brg_errfmt(errstr, errstr_size, "cannot serve metrics on \"%s\" (address in use?)", addr);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return NULL;
    }
    return h;
#else
    brg_errfmt(errstr, errstr_size,
               "bridge.metrics is set but this msgbridge was built without libmicrohttpd "
               "(rebuild with --enable-metrics)");
    return NULL;
#endif
}

void brg_http_set_engine(brg_http_t *h, brg_engine_t *e)
{
    pthread_mutex_lock(&h->lock);
    h->engine = e;
    pthread_mutex_unlock(&h->lock);
}

void brg_http_stop(brg_http_t *h)
{
    if (!h) {
        return;
    }
#ifdef HAVE_MHD
    MHD_stop_daemon(h->daemon);
#endif
    pthread_mutex_destroy(&h->lock);
    free(h);
}
