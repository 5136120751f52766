/* raw_stomp: the fastest a plain STOMP 1.2 client does the same protocol work as msgbridge's
 * stomp adapter against the bench ActiveMQ, to put msgbridge's STOMP figures next to
 * (bench/run). Its own few lines of framing over a blocking socket, not msgbridge's code.
 *
 *   raw_stomp send -H HOST:PORT -d DEST -n COUNT [-s SIZE] [-w WINDOW] [-r RATE] [-L]
 *       SEND persistent:true with content-length and a receipt, up to WINDOW (default 256,
 *       msgbridge's receipt_window) awaiting their RECEIPT; rate from the first SEND to the
 *       last RECEIPT. -r paces the sends; -L stamps each body with the send time.
 *   raw_stomp receive -H HOST:PORT -d DEST -n COUNT [-p PREFETCH] [-T IDLE_S] [-L]
 *       SUBSCRIBE ack:client-individual with activemq.prefetchSize PREFETCH (default 1000,
 *       msgbridge's default max_in_flight), an ACK per message; rate from the first MESSAGE to
 *       the COUNT-th. -L also prints the latency percentiles of stamped bodies.
 *   raw_stomp wait -H HOST:PORT -d DEST -n COUNT [-T IDLE_S] [-P FILE]
 *       receive as above, printing the "wait" line bench/run expects of a destination count.
 *       STOMP cannot count a queue without consuming it: -P writes the count received so far
 *       to FILE (every 1000 messages and at the end) for other waiters to watch.
 *
 * Each mode prints one JSON line (bench_util.h). Exit status: 0 done, 1 fewer than COUNT
 * (nothing for IDLE_S seconds, default 30), 2 setup or protocol error. */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"

static int fd = -1;
static char *in;
static size_t in_len, in_cap;

static void connect_to(const char *hostport)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (!colon || (size_t)(colon - hostport) >= sizeof(host)) {
        bench_die("raw_stomp: -H wants HOST:PORT, not \"%s\"", hostport);
    }
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0) {
        bench_die("raw_stomp: cannot resolve %s", host);
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            break;
        }
        if (fd >= 0) {
            close(fd);
        }
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        bench_die("raw_stomp: cannot connect to %s: %s", hostport, strerror(errno));
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void write_all(const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            bench_die("raw_stomp: write: %s", strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
}

/* A received frame: command, the headers block, the body (pointers into `in`). */
typedef struct frame {
    char cmd[16];
    const char *hdrs;
    size_t hdrs_len;
    const char *body;
    size_t body_len;
    size_t total; /* bytes of `in` it used, the NUL included */
} frame_t;

/* The value of header `name` in f (the first one: STOMP 1.2), copied into buf. */
static bool header(const frame_t *f, const char *name, char *buf, size_t size)
{
    size_t nl = strlen(name);
    const char *p = f->hdrs, *end = f->hdrs + f->hdrs_len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) {
            eol = end;
        }
        if ((size_t)(eol - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == ':') {
            size_t vl = (size_t)(eol - p - nl - 1);
            if (vl && p[nl + 1 + vl - 1] == '\r') {
                vl--;
            }
            if (vl >= size) {
                vl = size - 1;
            }
            memcpy(buf, p + nl + 1, vl);
            buf[vl] = 0;
            return true;
        }
        p = eol + 1;
    }
    return false;
}

/* Parse one complete frame at the start of `in`. Returns: false if more bytes are needed. */
static bool parse(frame_t *f)
{
    size_t i = 0;
    while (i < in_len && (in[i] == '\n' || in[i] == '\r')) {
        i++; /* heart-beats */
    }
    char *nl = memchr(in + i, '\n', in_len - i);
    if (!nl) {
        return false;
    }
    size_t cl = (size_t)(nl - (in + i));
    if (cl && in[i + cl - 1] == '\r') {
        cl--;
    }
    snprintf(f->cmd, sizeof(f->cmd), "%.*s", (int)cl, in + i);
    /* The headers end at the first empty line ("\n" or "\r\n"); sep is its '\n'. */
    const char *h = nl + 1, *end = in + in_len, *sep = NULL;
    for (const char *p = h; p < end && !sep; p++) {
        bool line_start = p == h || p[-1] == '\n';
        if (line_start && *p == '\n') {
            sep = p;
        } else if (line_start && *p == '\r' && p + 1 < end && p[1] == '\n') {
            sep = p + 1;
        }
    }
    if (!sep) {
        return false;
    }
    f->hdrs = h;
    f->hdrs_len = (size_t)(sep - h);
    f->body = sep + 1;
    char v[32];
    size_t avail = (size_t)(in + in_len - f->body);
    if (header(f, "content-length", v, sizeof(v))) {
        f->body_len = strtoul(v, NULL, 10);
        if (avail < f->body_len + 1) {
            return false;
        }
    } else {
        const char *z = memchr(f->body, 0, avail);
        if (!z) {
            return false;
        }
        f->body_len = (size_t)(z - f->body);
    }
    f->total = (size_t)(f->body - in) + f->body_len + 1;
    return true;
}

/* Read the next frame, waiting at most idle_s seconds. Returns: false on timeout. */
static bool next_frame(frame_t *f, int idle_s)
{
    static size_t consumed;
    if (consumed) {
        memmove(in, in + consumed, in_len - consumed);
        in_len -= consumed;
        consumed = 0;
    }
    while (!parse(f)) {
        if (in_cap - in_len < 65536) {
            in_cap = in_cap ? in_cap * 2 : 1 << 20;
            in = realloc(in, in_cap);
            if (!in) {
                bench_die("out of memory");
            }
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, idle_s * 1000);
        if (r == 0) {
            return false;
        }
        ssize_t n = recv(fd, in + in_len, in_cap - in_len, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            bench_die("raw_stomp: the broker closed the connection");
        }
        in_len += (size_t)n;
    }
    if (strcmp(f->cmd, "ERROR") == 0) {
        char m[512] = "";
        header(f, "message", m, sizeof(m));
        bench_die("raw_stomp: ERROR from the broker: %s", m);
    }
    consumed = f->total;
    return true;
}

static void stomp_connect(const char *hostport)
{
    connect_to(hostport);
    static const char c[] = "CONNECT\naccept-version:1.2\nhost:localhost\nheart-beat:0,0\n\n";
    write_all(c, sizeof(c)); /* the NUL included */
    frame_t f;
    if (!next_frame(&f, 10) || strcmp(f.cmd, "CONNECTED") != 0) {
        bench_die("raw_stomp: no CONNECTED from %s", hostport);
    }
}

static int do_send(const char *dest, uint64_t n, size_t size, uint64_t window, double rate,
                   bool stamp)
{
    char *body = bench_body(size);
    char head[512];
    uint64_t sent = 0, confirmed = 0;
    double t0 = bench_now();
    while (confirmed < n) {
        while (sent < n && sent - confirmed < window) {
            bench_pace(t0, sent, rate);
            if (stamp) {
                bench_stamp(body, size);
            }
            int hl = snprintf(head, sizeof(head),
                              "SEND\ndestination:%s\npersistent:true\ncontent-length:%zu\n"
                              "receipt:%llu\n\n",
                              dest, size, (unsigned long long)sent);
            write_all(head, (size_t)hl);
            write_all(body, size);
            write_all("", 1);
            sent++;
        }
        frame_t f;
        if (!next_frame(&f, 30)) {
            bench_die("raw_stomp: no RECEIPT for 30 s (%llu of %llu confirmed)",
                      (unsigned long long)confirmed, (unsigned long long)n);
        }
        if (strcmp(f.cmd, "RECEIPT") == 0) {
            confirmed++;
        }
    }
    bench_report("raw_stomp", "send", n, n * size, bench_now() - t0, 0);
    free(body);
    return 0;
}

/* Write the count to path atomically (a temporary file renamed over it). */
static void progress(const char *path, uint64_t count)
{
    if (!path) {
        return;
    }
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f) {
        fprintf(f, "%llu\n", (unsigned long long)count);
        fclose(f);
        rename(tmp, path);
    }
}

static int do_receive(const char *dest, uint64_t n, int prefetch, int idle_s, bool stamp,
                      bool as_wait, const char *progress_file)
{
    progress(progress_file, 0);
    char sub[512];
    int sl = snprintf(sub, sizeof(sub),
                      "SUBSCRIBE\nid:0\ndestination:%s\nack:client-individual\n"
                      "activemq.prefetchSize:%d\n\n",
                      dest, prefetch);
    write_all(sub, (size_t)sl + 1);
    uint64_t got = 0, bytes = 0;
    double t0 = bench_now(), t_first = 0, t_last = 0;
    char ack[600], id[256];
    while (got < n) {
        frame_t f;
        if (!next_frame(&f, idle_s)) {
            break;
        }
        if (strcmp(f.cmd, "MESSAGE") != 0) {
            continue;
        }
        if (!got) {
            t_first = bench_now();
        }
        got++;
        bytes += f.body_len;
        if (stamp) {
            bench_lat_add(f.body, f.body_len);
        }
        if (!header(&f, "ack", id, sizeof(id))) {
            bench_die("raw_stomp: a MESSAGE without an ack header");
        }
        int al = snprintf(ack, sizeof(ack), "ACK\nid:%s\n\n", id);
        write_all(ack, (size_t)al + 1);
        t_last = bench_now();
        if (got % 1000 == 0) {
            progress(progress_file, got);
        }
    }
    progress(progress_file, got);
    if (as_wait) {
        bench_report_wait("raw_stomp", n, got, got ? 1 : 0, t_first ? t_first - t0 : 0,
                          t_last ? t_last - t0 : 0);
    } else {
        bench_report("raw_stomp", "receive", got, bytes, t_last - t_first, n - got);
        if (stamp) {
            bench_lat_report("raw_stomp");
        }
    }
    return got >= n ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        bench_die("usage: raw_stomp send|receive|wait -H HOST:PORT -d DEST -n COUNT [-s SIZE] "
                  "[-w WINDOW] [-p PREFETCH] [-T IDLE_S] [-r RATE] [-L] [-P FILE]");
    }
    const char *mode = argv[1], *hostport = "127.0.0.1:61613", *dest = NULL, *pfile = NULL;
    bench_opts_t o = bench_opts_default(256);
    int c;
    optind = 2;
    while ((c = getopt(argc, argv, "H:d:n:s:w:p:T:r:LP:")) != -1) {
        if (bench_common_opt(&o, c, optarg)) {
            continue;
        }
        switch (c) {
        case 'H': hostport = optarg; break;
        case 'd': dest = optarg; break;
        case 'P': pfile = optarg; break;
        default: return 2;
        }
    }
    if (!dest || !o.n || !o.window || o.prefetch < 1) {
        bench_die("raw_stomp: -d DEST and -n COUNT are required; -w and -p must be positive");
    }
    signal(SIGPIPE, SIG_IGN);
    stomp_connect(hostport);
    int rc;
    if (strcmp(mode, "send") == 0) {
        rc = do_send(dest, o.n, o.size, o.window, o.rate, o.stamp);
    } else if (strcmp(mode, "receive") == 0 || strcmp(mode, "wait") == 0) {
        rc = do_receive(dest, o.n, o.prefetch, o.idle_s, o.stamp, mode[0] == 'w', pfile);
    } else {
        bench_die("raw_stomp: unknown mode \"%s\"", mode);
    }
    write_all("DISCONNECT\n\n", 13);
    close(fd);
    free(in);
    return rc;
}
