/* kafka-mock-cluster: a Kafka test cluster for msgbridge's tests and demo, built on
 * librdkafka's mock cluster (rdkafka_mock.h), because no Kafka broker is packaged for Debian.
 *
 *   kafka-mock-cluster [-n BROKERS] [-p FIRST_PORT] [-t TOPIC:PARTITIONS]... [-f BOOTSTRAP_FILE]
 *                      [-c CONTROL_FIFO] [-d]
 *
 * It starts BROKERS mock brokers listening on 127.0.0.1:FIRST_PORT, FIRST_PORT+1, ..., creates
 * the topics, writes the bootstrap list ("127.0.0.1:39092,127.0.0.1:39093") to BOOTSTRAP_FILE
 * once everything is ready, then reads fault commands, one per line, from CONTROL_FIFO (see
 * usage()) until SIGTERM or SIGINT.
 *
 * Fixed ports: librdkafka 2.0.2 binds each mock broker's listener to port 0 (an ephemeral
 * port), which would make every test run's bootstrap list different and would let a restarted
 * cluster come up elsewhere. This program defines its own bind(): the dynamic linker resolves
 * librdkafka's call to it (the executable comes first in the global symbol scope), and while
 * the cluster is being created it rewrites a loopback port 0 to the next configured port before
 * calling the C library's bind() found with dlsym(RTLD_NEXT). No LD_PRELOAD is needed.
 *
 * The mock's limits (see DESIGN.md section 9): memory only, about 5 MiB kept per partition,
 * no transaction markers, auto-created topics get 4 partitions. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_BROKERS 16
#define MAX_TOPICS 64

/* ---- fixed ports through an interposed bind() -------------------------------------------- */

/* Ports handed out, in order, to the listeners created while `rewriting` is set. Written by
 * main() before rd_kafka_mock_cluster_new(), which creates the brokers' listeners on the
 * calling thread one after the other (broker 1 first). */
static int fixed_ports[MAX_BROKERS];
static int fixed_count;
static int fixed_next;
static volatile bool rewriting;

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

int bind(int fd, const struct sockaddr *addr, socklen_t len);
int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    static bind_fn real_bind;
    if (!real_bind) {
        real_bind = (bind_fn)dlsym(RTLD_NEXT, "bind");
        if (!real_bind) {
            errno = ENOSYS;
            return -1;
        }
    }
    if (rewriting && addr && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
        if (sin->sin_port == 0 && fixed_next < fixed_count) {
            struct sockaddr_in fixed = *sin;
            fixed.sin_port = htons((uint16_t)fixed_ports[fixed_next++]);
            /* A previous cluster's listener may linger in TIME_WAIT: allow the rebind. */
            int one = 1;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            return real_bind(fd, (const struct sockaddr *)&fixed, sizeof(fixed));
        }
    }
    return real_bind(fd, addr, len);
}

/* ---- logging ------------------------------------------------------------------------------ */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char line[1024];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int n = snprintf(line, sizeof(line), "%ld.%03ld kafka-mock: ", (long)ts.tv_sec,
                     ts.tv_nsec / 1000000);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 2) {
        n = (int)sizeof(line) - 2;
    }
    line[n++] = '\n';
    /* One write per line: librdkafka logs from its own threads. */
    ssize_t w = write(2, line, (size_t)n);
    (void)w;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    say("rdkafka %d %s: %s", level, fac, buf);
}

/* ---- control commands ---------------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kafka-mock-cluster [-n BROKERS] [-p FIRST_PORT] [-t TOPIC:PARTITIONS]...\n"
            "                          [-f BOOTSTRAP_FILE] [-c CONTROL_FIFO] [-d]\n"
            "  -n  number of brokers (default 3, ids 1..N)\n"
            "  -p  port of broker 1; broker i listens on FIRST_PORT+i-1 (default 39092; 0: any)\n"
            "  -t  create a topic with that many partitions (repeatable)\n"
            "  -f  write the bootstrap list to this file once ready (atomically)\n"
            "  -c  read commands from this FIFO (created if missing)\n"
            "  -d  librdkafka mock debug logging\n"
            "commands (one per line on the FIFO):\n"
            "  down BROKER | up BROKER          disconnect a broker and refuse clients / restore\n"
            "  down all | up all                the whole cluster\n"
            "  rtt BROKER MS                    add latency to a broker's responses\n"
            "  leader TOPIC PARTITION BROKER    move a partition's leadership (-1: none)\n"
            "  topic TOPIC PARTITIONS           create a topic\n"
            "  error APIKEY ERR [COUNT]         next COUNT requests of APIKEY fail with ERR\n"
            "  broker-error BROKER APIKEY ERR [COUNT] [RTT_MS]  same, on one broker\n"
            "  clear APIKEY                     drop pending injected errors\n"
            "  topic-error TOPIC ERR            metadata reports ERR for TOPIC (NO_ERROR: clear)\n"
            "  coordinator group|transaction KEY BROKER\n"
            "APIKEY is a number or Produce, Fetch, ListOffsets, Metadata, OffsetCommit,\n"
            "OffsetFetch, FindCoordinator, JoinGroup, Heartbeat, LeaveGroup, SyncGroup,\n"
            "InitProducerId; ERR is a number or a librdkafka error name such as\n"
            "NOT_LEADER_FOR_PARTITION or _TRANSPORT.\n");
}

static int parse_apikey(const char *s)
{
    static const struct {
        const char *name;
        int key;
    } keys[] = {
        {"Produce", 0},        {"Fetch", 1},      {"ListOffsets", 2},     {"Metadata", 3},
        {"OffsetCommit", 8},   {"OffsetFetch", 9}, {"FindCoordinator", 10}, {"JoinGroup", 11},
        {"Heartbeat", 12},     {"LeaveGroup", 13}, {"SyncGroup", 14},      {"InitProducerId", 22},
    };
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end) {
        return (int)v;
    }
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strcasecmp(keys[i].name, s) == 0) {
            return keys[i].key;
        }
    }
    return -1;
}

/* Returns: true and *err if s is an error number or a name from rd_kafka_get_err_descs(). */
static bool parse_err(const char *s, rd_kafka_resp_err_t *err)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end) {
        *err = (rd_kafka_resp_err_t)v;
        return true;
    }
    const struct rd_kafka_err_desc *descs;
    size_t n;
    rd_kafka_get_err_descs(&descs, &n);
    for (size_t i = 0; i < n; i++) {
        if (descs[i].name && strcasecmp(descs[i].name, s) == 0) {
            *err = descs[i].code;
            return true;
        }
    }
    return false;
}

static bool parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi) {
        return false;
    }
    *out = v;
    return true;
}

static void broker_updown(rd_kafka_mock_cluster_t *mc, int nbrokers, const char *which, bool up)
{
    long id;
    int lo = 1, hi = nbrokers;
    if (strcmp(which, "all") != 0) {
        if (!parse_int(which, 1, nbrokers, &id)) {
            say("bad broker \"%s\" (1..%d or all)", which, nbrokers);
            return;
        }
        lo = hi = (int)id;
    }
    for (int b = lo; b <= hi; b++) {
        rd_kafka_resp_err_t e =
            up ? rd_kafka_mock_broker_set_up(mc, b) : rd_kafka_mock_broker_set_down(mc, b);
        say("broker %d %s: %s", b, up ? "up" : "down", rd_kafka_err2str(e));
    }
}

/* Execute one command line. Unknown or malformed commands are logged and ignored. */
static void run_command(rd_kafka_mock_cluster_t *mc, int nbrokers, char *line)
{
    char *argv[8];
    int argc = 0;
    for (char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save); tok && argc < 8;
         tok = strtok_r(NULL, " \t\r\n", &save)) {
        argv[argc++] = tok;
    }
    if (argc == 0 || argv[0][0] == '#') {
        return;
    }
    const char *cmd = argv[0];
    long a, b, c;
    rd_kafka_resp_err_t err, e;

    if ((strcmp(cmd, "down") == 0 || strcmp(cmd, "up") == 0) && argc == 2) {
        broker_updown(mc, nbrokers, argv[1], cmd[0] == 'u');
    } else if (strcmp(cmd, "rtt") == 0 && argc == 3 && parse_int(argv[1], 1, nbrokers, &a) &&
               parse_int(argv[2], 0, 3600000, &b)) {
        e = rd_kafka_mock_broker_set_rtt(mc, (int32_t)a, (int)b);
        say("broker %ld rtt %ld ms: %s", a, b, rd_kafka_err2str(e));
    } else if (strcmp(cmd, "leader") == 0 && argc == 4 && parse_int(argv[2], 0, 1 << 20, &a) &&
               parse_int(argv[3], -1, nbrokers, &b)) {
        e = rd_kafka_mock_partition_set_leader(mc, argv[1], (int32_t)a, (int32_t)b);
        say("%s [%ld] leader %ld: %s", argv[1], a, b, rd_kafka_err2str(e));
    } else if (strcmp(cmd, "topic") == 0 && argc == 3 && parse_int(argv[2], 1, 10000, &a)) {
        e = rd_kafka_mock_topic_create(mc, argv[1], (int)a, nbrokers < 3 ? nbrokers : 3);
        say("topic %s with %ld partitions: %s", argv[1], a, rd_kafka_err2str(e));
    } else if (strcmp(cmd, "error") == 0 && (argc == 3 || argc == 4) &&
               (a = parse_apikey(argv[1])) >= 0 && parse_err(argv[2], &err) &&
               (argc == 3 || parse_int(argv[3], 1, 1000000, &b))) {
        size_t cnt = argc == 4 ? (size_t)b : 1;
        rd_kafka_resp_err_t *errs = calloc(cnt, sizeof(*errs));
        for (size_t i = 0; errs && i < cnt; i++) {
            errs[i] = err;
        }
        if (errs) {
            rd_kafka_mock_push_request_errors_array(mc, (int16_t)a, cnt, errs);
            free(errs);
        }
        say("next %zu ApiKey %ld requests fail with %s", cnt, a, rd_kafka_err2name(err));
    } else if (strcmp(cmd, "broker-error") == 0 && argc >= 4 && argc <= 6 &&
               parse_int(argv[1], 1, nbrokers, &a) && (b = parse_apikey(argv[2])) >= 0 &&
               parse_err(argv[3], &err)) {
        long cnt = 1, rtt = 0;
        if ((argc >= 5 && !parse_int(argv[4], 1, 1000, &cnt)) ||
            (argc == 6 && !parse_int(argv[5], 0, 3600000, &rtt))) {
            say("bad count or rtt in broker-error");
            return;
        }
        /* The varargs API takes (err, rtt) pairs: push them one request at a time. */
        for (long i = 0; i < cnt; i++) {
            e = rd_kafka_mock_broker_push_request_error_rtts(mc, (int32_t)a, (int16_t)b, 1, err,
                                                             (int)rtt);
            if (e) {
                say("broker-error: %s", rd_kafka_err2str(e));
                return;
            }
        }
        say("broker %ld: next %ld ApiKey %ld requests fail with %s (rtt %ld ms)", a, cnt, b,
            rd_kafka_err2name(err), rtt);
    } else if (strcmp(cmd, "topic-error") == 0 && argc == 3 && parse_err(argv[2], &err)) {
        /* As a broker that refuses a topic: its metadata carries the error too, so clients
         * fail what they queued for it instead of holding it for an unknown partition. */
        rd_kafka_mock_topic_set_error(mc, argv[1], err);
        say("topic %s: metadata error %s", argv[1], rd_kafka_err2name(err));
    } else if (strcmp(cmd, "clear") == 0 && argc == 2 && (a = parse_apikey(argv[1])) >= 0) {
        rd_kafka_mock_clear_request_errors(mc, (int16_t)a);
        say("cleared injected errors for ApiKey %ld", a);
    } else if (strcmp(cmd, "coordinator") == 0 && argc == 4 &&
               parse_int(argv[3], 1, nbrokers, &c)) {
        e = rd_kafka_mock_coordinator_set(mc, argv[1], argv[2], (int32_t)c);
        say("coordinator %s %s -> broker %ld: %s", argv[1], argv[2], c, rd_kafka_err2str(e));
    } else {
        say("unknown or malformed command \"%s\" (see --help)", cmd);
    }
}

/* ---- main -------------------------------------------------------------------------------- */

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig)
{
    stop_signal = sig;
}

/* Write path atomically (temp file + rename) so that a waiting script never reads half. */
static int write_file_atomic(const char *path, const char *text)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        return -1;
    }
    fprintf(f, "%s\n", text);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int nbrokers = 3;
    long first_port = 39092;
    const char *bootstrap_file = NULL, *ctl_path = NULL;
    const char *topics[MAX_TOPICS];
    int topic_parts[MAX_TOPICS];
    int ntopics = 0;
    bool debug = false;
    long v;
    int opt;

    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    while ((opt = getopt(argc, argv, "n:p:t:f:c:dh")) != -1) {
        switch (opt) {
        case 'n':
            if (!parse_int(optarg, 1, MAX_BROKERS, &v)) {
                fprintf(stderr, "kafka-mock: -n: \"%s\" is not 1..%d\n", optarg, MAX_BROKERS);
                return 2;
            }
            nbrokers = (int)v;
            break;
        case 'p':
            if (!parse_int(optarg, 0, 65535 - MAX_BROKERS, &first_port)) {
                fprintf(stderr, "kafka-mock: -p: bad port \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 't': {
            char *colon = strrchr(optarg, ':');
            if (ntopics == MAX_TOPICS || !colon || colon == optarg ||
                !parse_int(colon + 1, 1, 10000, &v)) {
                fprintf(stderr, "kafka-mock: -t: expected TOPIC:PARTITIONS, got \"%s\"\n",
                        optarg);
                return 2;
            }
            *colon = '\0';
            topics[ntopics] = optarg;
            topic_parts[ntopics++] = (int)v;
            break;
        }
        case 'f': bootstrap_file = optarg; break;
        case 'c': ctl_path = optarg; break;
        case 'd': debug = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int ctl = -1;
    if (ctl_path) {
        if (mkfifo(ctl_path, 0600) != 0 && errno != EEXIST) {
            fprintf(stderr, "kafka-mock: mkfifo \"%s\": %s\n", ctl_path, strerror(errno));
            return 1;
        }
        /* O_RDWR keeps a writer open ourselves, so the FIFO never reports EOF between
         * commands and writers never block waiting for a reader. */
        ctl = open(ctl_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (ctl < 0) {
            fprintf(stderr, "kafka-mock: open \"%s\": %s\n", ctl_path, strerror(errno));
            return 1;
        }
    }

    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    /* Notices such as "no bootstrap.servers" are about this host handle, not the cluster. */
    rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr));
    if (debug && rd_kafka_conf_set(conf, "debug", "mock", errstr, sizeof(errstr)) !=
                     RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka-mock: %s\n", errstr);
    }
    /* The handle only hosts the mock cluster; it never connects anywhere itself. */
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "kafka-mock: rd_kafka_new: %s\n", errstr);
        return 1;
    }

    if (first_port > 0) {
        for (int i = 0; i < nbrokers; i++) {
            fixed_ports[i] = (int)first_port + i;
        }
        fixed_count = nbrokers;
    }
    fixed_next = 0;
    rewriting = true;
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, nbrokers);
    rewriting = false;
    if (!mc) {
        fprintf(stderr, "kafka-mock: could not create the mock cluster (ports %ld..%ld in use?)\n",
                first_port, first_port + nbrokers - 1);
        rd_kafka_destroy(rk);
        return 1;
    }
    const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
    if (first_port > 0 && fixed_next != nbrokers) {
        fprintf(stderr, "kafka-mock: only %d of %d listeners got fixed ports (%s)\n", fixed_next,
                nbrokers, bootstraps);
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        return 1;
    }

    int rc = 0;
    for (int i = 0; i < ntopics; i++) {
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, topics[i], topic_parts[i],
                                                           nbrokers < 3 ? nbrokers : 3);
        if (e) {
            fprintf(stderr, "kafka-mock: topic \"%s\": %s\n", topics[i], rd_kafka_err2str(e));
            rc = 1;
            goto out;
        }
    }

    if (bootstrap_file && write_file_atomic(bootstrap_file, bootstraps) != 0) {
        fprintf(stderr, "kafka-mock: cannot write \"%s\": %s\n", bootstrap_file, strerror(errno));
        rc = 1;
        goto out;
    }
    say("ready: %d brokers at %s, %d topics, pid %ld", nbrokers, bootstraps, ntopics,
        (long)getpid());

    char buf[4096];
    size_t used = 0;
    while (!stop_signal) {
        struct pollfd pfd = {.fd = ctl, .events = POLLIN};
        /* A short timeout bounds how long a signal that arrived just before poll() waits. */
        int n = poll(&pfd, ctl >= 0 ? 1 : 0, 200);
        if (n <= 0 || !(pfd.revents & POLLIN)) {
            continue;
        }
        ssize_t r = read(ctl, buf + used, sizeof(buf) - 1 - used);
        if (r <= 0) {
            continue;
        }
        used += (size_t)r;
        char *start = buf, *nl;
        while ((nl = memchr(start, '\n', used - (size_t)(start - buf)))) {
            *nl = '\0';
            run_command(mc, nbrokers, start);
            start = nl + 1;
        }
        used -= (size_t)(start - buf);
        memmove(buf, start, used);
        if (used == sizeof(buf) - 1) {
            say("command line too long: discarded");
            used = 0;
        }
    }
    say("stopping on signal %d", (int)stop_signal);

out:
    if (bootstrap_file) {
        unlink(bootstrap_file);
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    if (ctl >= 0) {
        close(ctl);
    }
    return rc;
}
