/* msgbridge: the command line, signals and the supervisor loop of the main thread. */
#include "config.h"

#include <getopt.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
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
#ifdef HAVE_STATUS
#include "tools/status/status.h"
#endif
#ifdef BRG_LINK_kafka
#include "tools/offsets/offsets.h"
#endif

#define DEFAULT_CONF "/etc/msgbridge/msgbridge.conf"

/* Exit codes, documented in msgbridge(1). */
enum {
    EXIT_OK = 0,
    EXIT_CONFIG = 1,   /* the configuration is invalid */
    EXIT_USAGE = 2,    /* bad command line */
    EXIT_START = 3,    /* an endpoint could not be started */
    EXIT_DRAIN = 4,    /* shutdown deadline passed with messages in flight (they are redelivered) */
};

/* How long after the shutdown deadline an endpoint thread is still waited for before the process
 * exits without it. Its adapter bounds its own waits by the deadline; what can still run late
 * is a library's teardown (rd_kafka_destroy waits for requests in flight to a cluster that is
 * gone or frozen, seconds or more), after everything that could be acknowledged was. */
#define STOP_GRACE_MS 500

static void usage(FILE *out)
{
    fprintf(out,
            "usage: msgbridge [-c FILE] [-t] [-l LEVEL]\n"
            "       msgbridge status [--url URL] [--json] [--watch] (msgbridge status -h)\n"
            "       msgbridge offsets [-c FILE] --route NAME --group GROUP [--json]\n"
            "                (Kafka failover: msgbridge offsets -h)\n"
            "  -c, --config FILE   configuration file (default " DEFAULT_CONF ")\n"
            "  -t, --test          check the configuration, print the route graph and exit\n"
            "  -l, --log-level L   error, warn, info or debug (overrides bridge.log.level)\n"
            "  -V, --version       print the version and the built-in adapters\n"
            "  -h, --help          this help\n"
            "signals: SIGTERM/SIGINT drain and exit (a second one exits at once),\n"
            "         SIGHUP reloads the configuration, SIGUSR1 logs route statistics\n"
            "exit codes: 0 ok, 1 invalid configuration, 2 usage, 3 start failed,\n"
            "            4 shutdown deadline passed with messages in flight\n");
}

static void version(void)
{
    printf("msgbridge %s\nadapters:", PACKAGE_VERSION);
    for (size_t i = 0; brg_adapters[i]; i++) {
        printf(" %s", brg_adapters[i]->name);
    }
    printf("\n");
}

/* The signals the main thread waits for (sigtimedwait) and every thread blocks. */
static void handled_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
}

/* SIGHUP: check the file first; a bad file changes nothing. */
static brg_engine_t *reload(brg_engine_t *e, brg_http_t *http, const char *path, int64_t drain_ms)
{
    brg_log_info(NULL, "SIGHUP: reloading %s", path);
    brg_diag_t d;
    brg_diag_init(&d);
    brg_conf_t *conf = brg_conf_load(path, &d);
    for (size_t i = 0; i < d.count; i++) {
        brg_log(conf ? BRG_LOG_WARN : BRG_LOG_ERROR, NULL, "reload: %s", d.lines[i]);
    }
    brg_diag_fini(&d);
    if (!conf) {
        brg_log_error(NULL, "reload: %s has errors; the running configuration is unchanged", path);
        return e;
    }
    const char *old_metrics = e->conf->metrics_addr ? e->conf->metrics_addr : "";
    if (strcmp(old_metrics, conf->metrics_addr ? conf->metrics_addr : "") != 0) {
        brg_log_warn(NULL, "reload: bridge.metrics changed; the HTTP address changes at restart");
    }
    brg_log_setup(conf->log_level, conf->log_format, 2);
    if (http) {
        brg_http_set_engine(http, NULL);
    }
    brg_reload_plan_t *plan = brg_reload_plan(e->conf, conf, brg_engine_in_place, NULL);
    e = brg_engine_reload_apply(e, conf, &plan, drain_ms);
    for (size_t i = 0; i < plan->nendpoints; i++) {
        const char *name = brg_conf_str(conf->endpoints[i], "name", "?");
        if (plan->endpoint_why[i] == BRG_RELOAD_IN_PLACE) {
            brg_log_info(NULL, "reload: endpoint \"%s\" kept running: routes changed in place",
                         name);
        } else if (plan->endpoint_why[i] != BRG_RELOAD_KEPT &&
                   plan->endpoint_why[i] != BRG_RELOAD_NEW) {
            brg_log_info(NULL, "reload: endpoint \"%s\" restarts: %s", name,
                         brg_reload_why_name(plan->endpoint_why[i]));
        }
    }
    if (http) {
        brg_http_set_engine(http, e);
    }
    brg_log_info(NULL, "reload: done: %zu endpoints kept running, %zu started; routes: %zu kept, "
                       "%zu built",
                 plan->kept_endpoints, plan->nendpoints - plan->kept_endpoints, plan->kept_routes,
                 plan->nroutes - plan->kept_routes);
    brg_reload_plan_free(plan);
    return e;
}

static int run(brg_conf_t *conf, const char *path)
{
    char err[1024];
    brg_log_info(NULL, "msgbridge %s starting: bridge id \"%s\", %zu endpoints, %zu routes",
                 PACKAGE_VERSION, conf->bridge_id, conf->nendpoints, conf->nroutes);
    int64_t shutdown_ms = conf->shutdown_timeout_ms;
    int64_t stats_ms = conf->stats_interval_ms;
    brg_engine_t *e = brg_engine_new(conf, err, sizeof(err));
    if (!e) {
        brg_log_error(NULL, "%s", err);
        return EXIT_START;
    }
    brg_http_t *http = NULL;
    if (e->conf->metrics_addr) {
        http = brg_http_start(e->conf->metrics_addr, e, err, sizeof(err));
        if (!http) {
            brg_log_error(NULL, "%s", err);
            brg_engine_destroy(e);
            return EXIT_START;
        }
        brg_log_info(NULL, "serving /metrics, /healthz, /readyz, /routes on http://%s",
                     e->conf->metrics_addr);
    }
    if (brg_engine_start(e, err, sizeof(err)) != BRG_OK) {
        brg_log_error(NULL, "%s", err);
        brg_http_stop(http);
        brg_engine_destroy(e);
        return EXIT_START;
    }
    sigset_t set;
    handled_signals(&set);
    int64_t next_stats = brg_now_ns() + stats_ms * 1000000;
    int rc = EXIT_OK;
    for (;;) {
        struct timespec tick = {1, 0};
        int sig = sigtimedwait(&set, NULL, &tick);
        if (stats_ms > 0 && brg_now_ns() >= next_stats) {
            brg_engine_log_stats(e);
            next_stats = brg_now_ns() + stats_ms * 1000000;
        }
        if (sig == SIGUSR1) {
            brg_engine_log_stats(e);
        } else if (sig == SIGHUP) {
            e = reload(e, http, path, shutdown_ms);
        } else if (sig == SIGTERM || sig == SIGINT) {
            brg_log_info(NULL, "%s: draining (%zu in flight, deadline %lld s; send it again to "
                               "exit at once)",
                         sig == SIGTERM ? "SIGTERM" : "SIGINT", brg_engine_in_flight(e),
                         (long long)(shutdown_ms / 1000));
            break;
        }
    }
    /* Drain: stop taking, let in-flight messages settle, watching for a second signal. */
    int64_t deadline = brg_now_ns() + shutdown_ms * 1000000;
    bool drained = false;
    while (!(drained = brg_engine_drain(e, 100))) {
        struct timespec none = {0, 0};
        int sig = sigtimedwait(&set, NULL, &none);
        if (sig == SIGTERM || sig == SIGINT) {
            brg_log_warn(NULL, "second signal: exiting now; %zu unacknowledged messages will be "
                               "redelivered by their sources",
                         brg_engine_in_flight(e));
            deadline = brg_now_ns(); /* the endpoints stop without waiting for brokers */
            break;
        }
        if (brg_now_ns() >= deadline) {
            brg_log_warn(NULL, "shutdown deadline passed with %zu messages in flight; their "
                               "sources will redeliver them",
                         brg_engine_in_flight(e));
            rc = EXIT_DRAIN;
            break;
        }
    }
    brg_engine_log_stats(e);
    brg_http_stop(http);
    /* The endpoints stop (flush, acknowledge, commit, close) within what is left of the same
     * deadline, whatever their brokers do: each adapter bounds its waits by it. A library call
     * that still blocks a thread past it (a client library tearing down its connections to a
     * cluster that is gone or frozen) is not waited for: the process exits without freeing what
     * that thread uses (_exit: no exit handlers run under it). Everything that could be
     * acknowledged was; the exit status says whether the drain finished. */
    if (!brg_engine_stop(e, deadline, STOP_GRACE_MS)) {
        brg_log_warn(NULL, "stopped at the shutdown deadline%s, without waiting for every "
                           "endpoint's client library to finish",
                     drained ? " (drained)" : "");
        _exit(rc);
    }
    brg_engine_destroy(e);
    brg_log_info(NULL, "stopped%s", drained ? " (drained)" : "");
    return rc;
}

/* glibc's allocator gives freed memory back to the system as soon as the top of a heap is
 * 128 KiB free, and serves blocks of 128 KiB and more with mmap. A Kafka client frees and
 * allocates its fetched records in bursts of megabytes on several threads, so by default every
 * burst re-faults its pages: perf put a third of msgbridge's cycles on a Kafka -> Kafka drain
 * in sysmalloc, page faults and MADV_DONTNEED (docs/performance.md, "The allocator"). Keeping
 * 8 MiB at the top of each heap and mapping only blocks of 4 MiB and more took that drain from
 * 6.0-7.9 to 3.7-4.3 CPU seconds per million records, for 15-30 MiB more peak RSS. An operator's
 * own GLIBC_TUNABLES for malloc wins (and sets none of these). */
static void tune_heap(void)
{
#ifdef __GLIBC__
    const char *tunables = getenv("GLIBC_TUNABLES");
    if (tunables && strstr(tunables, "glibc.malloc."))
        return;
    mallopt(M_TOP_PAD, 8 << 20);
    mallopt(M_TRIM_THRESHOLD, 16 << 20);
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    /* glibc makes up to 8 heaps per CPU, one per thread that meets a locked one, and each keeps
     * its own top pad: a Kafka route's dozen threads (librdkafka's broker threads, ours) made
     * several. Two held 6-7 MiB less on a Kafka -> Kafka drain at the same rate; msgbridge's
     * own threads allocate nothing per message in steady state. */
    mallopt(M_ARENA_MAX, 2);
#endif
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"test", no_argument, NULL, 't'},
        {"log-level", required_argument, NULL, 'l'}, {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    /* SIGHUP and SIGUSR1 would end the process by default: hold them from the first moment
     * (a reload or a stats request sent just as msgbridge starts must not kill it). SIGTERM and
     * SIGINT keep their default until the configuration is loaded, so that a slow check can
     * still be interrupted. */
    sigset_t early;
    sigemptyset(&early);
    sigaddset(&early, SIGHUP);
    sigaddset(&early, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &early, NULL);
    /* `msgbridge status ...`: a client of a running bridge (tools/status/status.c). */
    if (argc > 1 && strcmp(argv[1], "status") == 0) {
#ifdef HAVE_STATUS
        return brg_status_main(argc - 1, argv + 1, DEFAULT_CONF);
#else
        fprintf(stderr, "msgbridge: this build has no status command (rebuild with "
                        "--enable-status; it needs libcurl and jansson)\n");
        return EXIT_USAGE;
#endif
    }
    /* `msgbridge offsets ...`: a Kafka -> Kafka route's translation of a group's position. */
    if (argc > 1 && strcmp(argv[1], "offsets") == 0) {
#ifdef BRG_LINK_kafka
        return brg_offsets_main(argc - 1, argv + 1, DEFAULT_CONF);
#else
        fprintf(stderr, "msgbridge: this build has no Kafka adapter, so no offsets command\n");
        return EXIT_USAGE;
#endif
    }
    const char *path = DEFAULT_CONF;
    const char *level = NULL;
    bool test = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:tl:Vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 't': test = true; break;
        case 'l': level = optarg; break;
        case 'V': version(); return EXIT_OK;
        case 'h': usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "msgbridge: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }
    brg_log_level_t lv = BRG_LOG_INFO;
    if (level && !brg_log_level_parse(level, &lv)) {
        fprintf(stderr, "msgbridge: unknown log level \"%s\" (error, warn, info, debug)\n", level);
        return EXIT_USAGE;
    }

    size_t errors = 0;
    brg_conf_t *conf = brg_conf_load_report(path, stderr, &errors);
    if (!conf) {
        fprintf(stderr, "msgbridge: %zu error%s in %s\n", errors, errors == 1 ? "" : "s", path);
        return EXIT_CONFIG;
    }
    if (test) {
        brg_conf_print_graph(conf, stdout);
        printf("configuration %s is valid\n", path);
        brg_conf_destroy(conf);
        return EXIT_OK;
    }
    /* Block the signals we handle before any thread exists (the engine starts them), so every
     * thread inherits the mask and only the main thread's sigtimedwait sees them. SIGPIPE is
     * ignored: a closed socket is reported by write's EPIPE. */
    sigset_t set;
    handled_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    brg_log_setup(level ? lv : conf->log_level, conf->log_format, 2);
    tune_heap();
    return run(conf, path);
}
