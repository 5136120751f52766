/* `msgbridge status`: fetch /routes (JSON) and /metrics (Prometheus text) of a running bridge,
 * compute per-route rates from two samples, print a table, JSON, or a refreshing view. */
#include "config.h"

#include "tools/status/status.h"

#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <libconfig.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A response body. */
typedef struct {
    char *data;
    size_t len;
} body_t;

/* One sample of the bridge: /routes parsed, the version and start time from /metrics, and
 * when it was taken. */
typedef struct {
    json_t *routes; /* array, owned */
    char version[64];
    double started; /* Unix seconds, 0 if unknown */
    double at;      /* monotonic seconds */
} sample_t;

static volatile sig_atomic_t stop_watch;

static void on_sigint(int sig)
{
    (void)sig;
    stop_watch = 1;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t on_data(char *p, size_t size, size_t n, void *cls)
{
    body_t *b = cls;
    size_t add = size * n;
    char *grown = realloc(b->data, b->len + add + 1);
    if (!grown) {
        return 0; /* curl reports a write error */
    }
    b->data = grown;
    memcpy(b->data + b->len, p, add);
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

/* GET base+path into *out (NUL-terminated). Returns: 0, or -1 with errstr. */
static int fetch(CURL *curl, const char *base, const char *path, body_t *out, char *errstr,
                 size_t errstr_size)
{
    char url[1024];
    snprintf(url, sizeof(url), "%.900s%s", base, path);
    memset(out, 0, sizeof(*out));
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
    /* A bridge answers from memory at once; a few seconds means it is not there. */
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(curl);
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    if (rc != CURLE_OK || code != 200) {
        if (rc != CURLE_OK) {
            snprintf(errstr, errstr_size, "cannot read %.600s: %s", url, curl_easy_strerror(rc));
        } else {
            snprintf(errstr, errstr_size, "cannot read %.600s: HTTP status %ld", url, code);
        }
        free(out->data);
        memset(out, 0, sizeof(*out));
        return -1;
    }
    if (!out->data) {
        out->data = calloc(1, 1);
    }
    return 0;
}

/* The value of the first sample of family `name` in a Prometheus text page, or NAN. With
 * version/version_size, also copy that sample's `version` label (msgbridge_build_info). */
static double metric_value(const char *text, const char *name, char *version, size_t version_size)
{
    size_t n = strlen(name);
    for (const char *line = text; line && *line;) {
        const char *next = strchr(line, '\n');
        if (strncmp(line, name, n) == 0 && (line[n] == ' ' || line[n] == '{')) {
            const char *value = line + n;
            if (*value == '{') {
                const char *end = strchr(value, '}');
                const char *v = strstr(value, "version=\"");
                if (version && v && end && v < end) {
                    v += strlen("version=\"");
                    size_t k = 0;
                    while (v[k] && v[k] != '"' && k + 1 < version_size) {
                        version[k] = v[k];
                        k++;
                    }
                    version[k] = '\0';
                }
                value = end ? end + 1 : value;
            }
            return strtod(value, NULL);
        }
        line = next ? next + 1 : NULL;
    }
    return NAN;
}

/* Take one sample. Returns: 0, or -1 with errstr. */
static int take(CURL *curl, const char *base, sample_t *s, char *errstr, size_t errstr_size)
{
    body_t routes, metrics;
    memset(s, 0, sizeof(*s));
    if (fetch(curl, base, "/routes", &routes, errstr, errstr_size) != 0) {
        return -1;
    }
    s->at = mono_now();
    json_error_t jerr;
    s->routes = json_loads(routes.data, 0, &jerr);
    free(routes.data);
    if (!json_is_array(s->routes)) {
        snprintf(errstr, errstr_size, "%.600s/routes: not a JSON array (%s)", base, jerr.text);
        json_decref(s->routes);
        s->routes = NULL;
        return -1;
    }
    if (fetch(curl, base, "/metrics", &metrics, errstr, errstr_size) != 0) {
        json_decref(s->routes);
        s->routes = NULL;
        return -1;
    }
    snprintf(s->version, sizeof(s->version), "?");
    metric_value(metrics.data, "msgbridge_build_info", s->version, sizeof(s->version));
    double st = metric_value(metrics.data, "msgbridge_start_time_seconds", NULL, 0);
    s->started = isnan(st) ? 0 : st;
    free(metrics.data);
    return 0;
}

static json_int_t int_of(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? json_integer_value(v) : 0;
}

static const char *str_of(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The route of the same name in an earlier sample, or NULL. */
static json_t *find_route(const sample_t *s, const char *name)
{
    size_t i;
    json_t *r;
    if (!s || !s->routes) {
        return NULL;
    }
    json_array_foreach(s->routes, i, r) {
        const char *n = str_of(r, "name");
        if (n && strcmp(n, name) == 0) {
            return r;
        }
    }
    return NULL;
}

/* What an operator reads first: why it stopped, why it parks, why its source cannot consume,
 * what a stall waits on. NULL when all is well. */
static const char *last_error(json_t *r)
{
    static const char *keys[] = {"stop_reason", "park_reason", "source_error", "stalled_on"};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        const char *v = str_of(r, keys[k]);
        if (v && *v) {
            return v;
        }
    }
    return NULL;
}

/* Per-route figures of cur, with rates against prev (NAN when there is no earlier sample or
 * the route restarted: its counters went down). */
typedef struct {
    const char *name, *state, *error;
    bool stalled;
    double in_rate, out_rate;
    json_int_t in_flight, lag, dead;
} row_t;

static row_t row_of(json_t *r, const sample_t *prev, double now)
{
    row_t w = {0};
    w.name = str_of(r, "name");
    w.state = str_of(r, "state");
    w.stalled = json_is_true(json_object_get(r, "stalled"));
    w.in_flight = int_of(r, "in_flight");
    w.lag = int_of(r, "source_backlog");
    w.dead = int_of(r, "dead_lettered") + int_of(r, "broker_rejected");
    w.error = last_error(r);
    w.in_rate = w.out_rate = NAN;
    json_t *p = w.name ? find_route(prev, w.name) : NULL;
    double dt = prev ? now - prev->at : 0;
    if (p && dt > 0 && int_of(r, "in") >= int_of(p, "in") && int_of(r, "out") >= int_of(p, "out")) {
        w.in_rate = (double)(int_of(r, "in") - int_of(p, "in")) / dt;
        w.out_rate = (double)(int_of(r, "out") - int_of(p, "out")) / dt;
    }
    return w;
}

static void print_json(const char *base, const sample_t *cur, const sample_t *prev)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "url", json_string(base));
    json_object_set_new(doc, "version", json_string(cur->version));
    json_object_set_new(doc, "start_time", json_integer((json_int_t)cur->started));
    json_t *arr = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(cur->routes, i, r) {
        row_t w = row_of(r, prev, cur->at);
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(w.name ? w.name : ""));
        json_object_set_new(o, "state", json_string(w.state ? w.state : ""));
        json_object_set_new(o, "stalled", json_boolean(w.stalled));
        /* Rates to 0.1 message/s: two samples an interval apart say no more than that. */
        json_object_set_new(o, "in_per_second",
                            isnan(w.in_rate) ? json_null() : json_real(round(w.in_rate * 10) / 10));
        json_object_set_new(o, "out_per_second",
                            isnan(w.out_rate) ? json_null() : json_real(round(w.out_rate * 10) / 10));
        json_object_set_new(o, "in_flight", json_integer(w.in_flight));
        json_object_set_new(o, "lag", json_integer(w.lag));
        json_object_set_new(o, "dead_letters", json_integer(w.dead));
        json_object_set_new(o, "last_error", w.error ? json_string(w.error) : json_null());
        json_array_append_new(arr, o);
    }
    json_object_set_new(doc, "routes", arr);
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    printf("%s\n", text);
    free(text);
    json_decref(doc);
}

static void fmt_rate(char *buf, size_t size, double v)
{
    if (isnan(v)) {
        snprintf(buf, size, "-");
    } else if (v >= 10000) {
        snprintf(buf, size, "%.1fk", v / 1000);
    } else {
        snprintf(buf, size, "%.1f", v);
    }
}

static void print_table(const char *base, const sample_t *cur, const sample_t *prev)
{
    time_t now = time(NULL);
    long up = cur->started > 0 ? (long)((double)now - cur->started) : -1;
    printf("msgbridge %s at %s, up %ldd %02ld:%02ld:%02ld, %zu route%s\n", cur->version, base,
           up / 86400, up % 86400 / 3600, up % 3600 / 60, up % 60, json_array_size(cur->routes),
           json_array_size(cur->routes) == 1 ? "" : "s");
    printf("%-24s %-9s %9s %9s %9s %9s %9s  %s\n", "ROUTE", "STATE", "IN/s", "OUT/s", "IN_FLIGHT",
           "LAG", "DEAD", "LAST ERROR");
    size_t i;
    json_t *r;
    json_array_foreach(cur->routes, i, r) {
        row_t w = row_of(r, prev, cur->at);
        char in[32], out[32], state[32];
        fmt_rate(in, sizeof(in), w.in_rate);
        fmt_rate(out, sizeof(out), w.out_rate);
        snprintf(state, sizeof(state), "%s%s", w.state ? w.state : "?", w.stalled ? "+stall" : "");
        printf("%-24s %-9s %9s %9s %9lld %9lld %9lld  %s\n", w.name ? w.name : "?", state, in, out,
               (long long)w.in_flight, (long long)w.lag, (long long)w.dead,
               w.error ? w.error : "-");
    }
}

/* bridge.metrics of the configuration file, as a URL. Returns: 0, or -1 with errstr. */
static int url_from_conf(const char *path, char *url, size_t url_size, char *errstr,
                         size_t errstr_size)
{
    config_t cf;
    config_init(&cf);
    int rc = -1;
    const char *addr = NULL;
    if (!config_read_file(&cf, path)) {
        if (config_error_type(&cf) == CONFIG_ERR_FILE_IO) {
            snprintf(errstr, errstr_size, "cannot read %s: pass --url, or -c with the bridge's "
                     "configuration", path);
        } else {
            snprintf(errstr, errstr_size, "%s:%d: %s (or pass --url)", path,
                     config_error_line(&cf), config_error_text(&cf));
        }
    } else if (!config_lookup_string(&cf, "bridge.metrics", &addr)) {
        snprintf(errstr, errstr_size, "%s: no bridge.metrics: pass --url", path);
    } else {
        /* "0.0.0.0:9464" and ":9464" listen everywhere; ask the local one. */
        const char *colon = strrchr(addr, ':');
        bool any = colon == addr || strncmp(addr, "0.0.0.0:", 8) == 0;
        snprintf(url, url_size, "http://%s%.400s", any ? "127.0.0.1" : "", any ? colon : addr);
        rc = 0;
    }
    config_destroy(&cf);
    return rc;
}

static void usage(FILE *out, const char *conf)
{
    fprintf(out,
            "usage: msgbridge status [--url URL] [-c FILE] [--json] [--watch] [--interval S]\n"
            "  one line per route of a running msgbridge: state, in/out rate, in flight, lag\n"
            "  (source backlog), dead letters, last error\n"
            "  -u, --url URL       the bridge's metrics address (default: bridge.metrics of the\n"
            "                      configuration file)\n"
            "  -c, --config FILE   configuration file (default %s)\n"
            "  -j, --json          print JSON for scripts\n"
            "  -w, --watch         refresh in place every interval, like top (Ctrl-C ends)\n"
            "  -i, --interval S    seconds between the two samples the rates come from (default 1)\n"
            "exit codes: 0 ok, 1 the bridge could not be read, 2 usage\n",
            conf);
}

int brg_status_main(int argc, char **argv, const char *default_conf)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},   {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},        {"watch", no_argument, NULL, 'w'},
        {"interval", required_argument, NULL, 'i'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *conf = default_conf, *url_arg = NULL;
    bool json = false, watch = false;
    double interval = 1.0;
    int c;
    /* getopt's own messages name the command by argv[0]. */
    argv[0] = (char *)"msgbridge status";
    optind = 1;
    while ((c = getopt_long(argc, argv, "u:c:jwi:h", opts, NULL)) != -1) {
        switch (c) {
        case 'u': url_arg = optarg; break;
        case 'c': conf = optarg; break;
        case 'j': json = true; break;
        case 'w': watch = true; break;
        case 'i': {
            char *end;
            interval = strtod(optarg, &end);
            if (*end || !(interval >= 0.1 && interval <= 3600)) {
                fprintf(stderr, "msgbridge status: --interval \"%s\": seconds from 0.1 to 3600\n",
                        optarg);
                return 2;
            }
            break;
        }
        case 'h': usage(stdout, default_conf); return 0;
        default: usage(stderr, default_conf); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "msgbridge status: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    char base[512], errstr[1024];
    if (url_arg) {
        /* Accept "host:port" as bridge.metrics spells it. */
        snprintf(base, sizeof(base), "%s%.480s", strstr(url_arg, "://") ? "" : "http://", url_arg);
        size_t n = strlen(base);
        if (n && base[n - 1] == '/') {
            base[n - 1] = '\0';
        }
    } else if (url_from_conf(conf, base, sizeof(base), errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "msgbridge status: %s\n", errstr);
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *curl = curl_easy_init();
    int rc = 0;
    sample_t prev = {0}, cur = {0};
    if (!curl) {
        fprintf(stderr, "msgbridge status: cannot initialise libcurl\n");
        rc = 1;
        goto out;
    }
    if (take(curl, base, &prev, errstr, sizeof(errstr)) != 0) {
        if (!watch) {
            fprintf(stderr, "msgbridge status: %s\n", errstr);
            rc = 1;
            goto out;
        }
        /* Watching a bridge that is not up yet: say why and keep trying; rates start with the
         * second sample that arrives. */
        printf("\033[H\033[2Jmsgbridge status: %s\n", errstr);
        fflush(stdout);
    }
    if (watch) {
        struct sigaction sa = {.sa_handler = on_sigint};
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
    for (;;) {
        /* Sleep in small steps so that Ctrl-C ends --watch at once. */
        for (double t = 0; t < interval && !stop_watch; t += 0.05) {
            usleep(50000);
        }
        if (stop_watch) {
            break;
        }
        if (take(curl, base, &cur, errstr, sizeof(errstr)) != 0) {
            if (!watch) {
                fprintf(stderr, "msgbridge status: %s\n", errstr);
                rc = 1;
                break;
            }
            /* Watching: say so in place and keep trying (the bridge may be restarting). */
            printf("\033[H\033[2Jmsgbridge status: %s\n", errstr);
            fflush(stdout);
            continue;
        }
        if (watch) {
            printf("\033[H\033[2J"); /* home and clear: the table replaces the last one */
        }
        if (json) {
            print_json(base, &cur, &prev);
        } else {
            print_table(base, &cur, &prev);
        }
        fflush(stdout);
        json_decref(prev.routes);
        prev = cur;
        memset(&cur, 0, sizeof(cur));
        if (!watch) {
            break;
        }
    }
out:
    json_decref(prev.routes);
    json_decref(cur.routes);
    if (curl) {
        curl_easy_cleanup(curl);
    }
    curl_global_cleanup();
    return rc;
}
