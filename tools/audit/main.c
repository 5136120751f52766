/* msgbridge-audit: produce numbered messages into one stream, read another, report what is
 * missing, duplicated or reordered, and the latency. See docs/reliability.md, "Check your own deployment". */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/conf.h"
#include "bridge/engine.h"
#include "bridge/metrics.h"
#include "bridge/registry.h"
#include "tools/audit/audit.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: msgbridge-audit -c FILE [-n COUNT] [-r RATE] [-s BYTES] [-t SECONDS]\n"
            "                       [-i ID] [-j FILE]\n"
            "  -c FILE     endpoints and two routes, \"produce\" (from an audit endpoint) and\n"
            "              \"consume\" (to an audit endpoint), in msgbridge.conf syntax\n"
            "  -n COUNT    messages to send (default 10000)\n"
            "  -r RATE     messages per second (default 0: as fast as the broker confirms)\n"
            "  -s BYTES    body size (default 100)\n"
            "  -t SECONDS  give up this long after the last message arrived (default 30)\n"
            "  -i ID       run id written into every message (default: random)\n"
            "  -j FILE     also write the report as JSON\n"
            "exit status: 0 nothing missing, 1 messages missing, 2 usage or configuration error\n");
}

static bool route_unstamped(const brg_conf_t *conf, const char *name)
{
    for (size_t i = 0; i < conf->nroutes; i++) {
        if (conf->routes[i].name && strcmp(conf->routes[i].name, name) == 0) {
            const brg_conf_node_t *m = brg_conf_get(conf->routes[i].cs, "mapping");
            return m && !brg_conf_bool(m, "provenance", true);
        }
    }
    return false;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *json = NULL;
    char run_id[64];
    snprintf(run_id, sizeof(run_id), "%08x", (unsigned)(brg_now_ns() ^ (int64_t)getpid() << 16));
    uint64_t count = 10000;
    double rate = 0;
    size_t size = 100;
    int idle_s = 30;
    int c;
    while ((c = getopt(argc, argv, "c:n:r:s:t:i:j:h")) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'n': count = strtoull(optarg, NULL, 10); break;
        case 'r': rate = strtod(optarg, NULL); break;
        case 's': size = (size_t)strtoul(optarg, NULL, 10); break;
        case 't': idle_s = atoi(optarg); break;
        case 'i': snprintf(run_id, sizeof(run_id), "%s", optarg); break;
        case 'j': json = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!path || count == 0) {
        usage(stderr);
        return 2;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    brg_conf_t *conf = brg_conf_load_report(path, stderr, NULL);
    if (!conf) {
        return 2;
    }
    if (!route_unstamped(conf, "produce") || !route_unstamped(conf, "consume")) {
        fprintf(stderr, "msgbridge-audit: %s needs routes \"produce\" and \"consume\", each with "
                        "mapping = { provenance = false; } (so the audit itself leaves no trace "
                        "and reads what a bridge stamped)\n",
                path);
        brg_conf_destroy(conf);
        return 2;
    }
    brg_log_setup(conf->log_level, conf->log_format, 2);
    brg_audit_setup(run_id, count, rate, size);
    char err[512];
    brg_engine_t *e = brg_engine_new(conf, err, sizeof(err));
    if (!e || brg_engine_start(e, err, sizeof(err)) != BRG_OK) {
        fprintf(stderr, "msgbridge-audit: %s\n", err);
        brg_engine_destroy(e);
        return 2;
    }
    /* Wait until every endpoint is connected (at most the idle limit), then generate. */
    int64_t ready_by = brg_now_ns() + (int64_t)idle_s * 1000000000;
    for (;;) {
        brg_buf_t why = {0};
        bool ready = brg_metrics_ready(e, &why);
        if (ready || brg_now_ns() > ready_by) {
            if (!ready) {
                fprintf(stderr, "msgbridge-audit: starting although not ready: %s",
                        why.data ? why.data : "?\n");
            }
            brg_buf_fini(&why);
            break;
        }
        brg_buf_fini(&why);
        struct timespec pause = {0, 50 * 1000000};
        nanosleep(&pause, NULL);
    }
    brg_audit_start();
    int64_t t0 = brg_now_ns(), last_change = t0, t_done = 0;
    uint64_t last_received = 0, last_sent = 0;
    brg_audit_stats_t st;
    bool interrupted = false;
    for (;;) {
        struct timespec tick = {0, 100 * 1000000};
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            interrupted = true;
            break;
        }
        brg_audit_snapshot(&st);
        int64_t now = brg_now_ns();
        if (st.received != last_received || st.sent != last_sent) {
            last_change = now;
            last_received = st.received;
            last_sent = st.sent;
        }
        if (st.unique >= count && st.sent >= count) {
            t_done = now;
            break;
        }
        if (now - last_change > (int64_t)idle_s * 1000000000) {
            break;
        }
    }
    int64_t t_end = t_done ? t_done : last_change;
    brg_engine_drain(e, 5000);
    brg_engine_destroy(e);
    brg_audit_snapshot(&st);
    uint64_t missing = count - st.unique;
    double secs = (double)(t_end - t0) / 1e9;
    printf("audit run %s: sent %" PRIu64 ", received %" PRIu64 ", missing %" PRIu64
           ", duplicates %" PRIu64 ", reordered %" PRIu64 ", foreign %" PRIu64 "\n",
           run_id, st.sent, st.received, missing, st.duplicates, st.reordered, st.foreign);
    printf("latency ms: p50 %.2f, p99 %.2f, p99.9 %.2f, max %.2f (%" PRIu64 " samples)\n",
           st.lat_ns[0] / 1e6, st.lat_ns[1] / 1e6, st.lat_ns[2] / 1e6, st.lat_ns[3] / 1e6,
           st.lat_count);
    printf("elapsed %.2f s, %.0f msg/s received%s\n", secs, secs > 0 ? st.unique / secs : 0,
           interrupted ? " (interrupted)" : "");
    if (missing) {
        uint64_t first[10];
        size_t n = brg_audit_missing(first, 10);
        printf("first missing:");
        for (size_t i = 0; i < n; i++) {
            printf(" %" PRIu64, first[i]);
        }
        printf("\n");
    }
    if (json) {
        FILE *f = fopen(json, "w");
        if (f) {
            fprintf(f,
                    "{\"run\": \"%s\", \"count\": %" PRIu64 ", \"sent\": %" PRIu64
                    ", \"received\": %" PRIu64 ", \"missing\": %" PRIu64 ", \"duplicates\": %" PRIu64
                    ", \"reordered\": %" PRIu64 ", \"foreign\": %" PRIu64
                    ", \"elapsed_s\": %.3f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"p999_ms\": %.3f"
                    ", \"max_ms\": %.3f}\n",
                    run_id, count, st.sent, st.received, missing, st.duplicates, st.reordered,
                    st.foreign, secs, st.lat_ns[0] / 1e6, st.lat_ns[1] / 1e6, st.lat_ns[2] / 1e6,
                    st.lat_ns[3] / 1e6);
            fclose(f);
        }
    }
    brg_audit_cleanup();
    return missing ? 1 : 0;
}
