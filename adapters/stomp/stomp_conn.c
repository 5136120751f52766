/* The stomp endpoint's loop: connect, CONNECT/CONNECTED, heart-beats, read, parse, write,
 * reconnect with backoff (see stomp_int.h). */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include "adapters/stomp/stomp_int.h"

#define CONNECT_TIMEOUT_MS 10000
/* When stopping, how long to wait for outstanding receipts before closing. */
#define STOP_GRACE_MS 5000

static brg_err_t fail(char *errstr, size_t errstr_size, brg_err_t rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static brg_err_t fail(char *errstr, size_t errstr_size, brg_err_t rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
    return rc;
}

static void disconnect(brg_stomp_t *s, const char *reason)
{
    if (s->fd >= 0) {
        stomp_io_stop(s);
        close(s->fd);
        s->fd = -1;
    }
    s->in.len = 0;
    s->out.len = 0;
    stomp_sink_reset(s, reason);
    stomp_src_reset(s);
}

/* TCP connect with a timeout; the socket stays non-blocking. */
static brg_err_t tcp_connect(brg_stomp_t *s, char *errstr, size_t errstr_size)
{
    /* Connecting blocks: what the last connection settled goes out first. */
    brg_endpoint_flush(s->ep);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
    int g = getaddrinfo(s->conf->host, s->conf->port, &hints, &res);
    if (g != 0) {
        return fail(errstr, errstr_size, BRG_ERR_TRANSPORT, "cannot resolve %s: %s", s->conf->host,
                    gai_strerror(g));
    }
    brg_err_t rc = BRG_ERR_TRANSPORT;
    for (ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);
        if (fd < 0) {
            fail(errstr, errstr_size, rc, "socket: %s", strerror(errno));
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
            fail(errstr, errstr_size, rc, "connect to %s:%s: %s", s->conf->host, s->conf->port,
                 strerror(errno));
            close(fd);
            continue;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int pr = poll(&pfd, 1, CONNECT_TIMEOUT_MS);
        int err = 0;
        socklen_t el = sizeof(err);
        if (pr <= 0) {
            err = pr == 0 ? ETIMEDOUT : errno;
        } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0) {
            err = errno;
        }
        if (err != 0) {
            fail(errstr, errstr_size, rc, "connect to %s:%s: %s", s->conf->host, s->conf->port,
                 strerror(err));
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        s->fd = fd;
        rc = BRG_OK;
        break;
    }
    freeaddrinfo(res);
    return rc;
}

/* Write what is buffered. Returns: BRG_OK (maybe with bytes left), or a transport error. */
static brg_err_t flush_out(brg_stomp_t *s, char *errstr, size_t errstr_size)
{
    while (s->out.len > 0) {
        ssize_t n = stomp_io_send(s, s->out.p, s->out.len, errstr, errstr_size);
        if (n == 0) {
            return BRG_OK;
        }
        if (n < 0) {
            return BRG_ERR_TRANSPORT;
        }
        brg_stomp_buf_consume(&s->out, (size_t)n);
        s->last_tx_ns = brg_now_ns();
    }
    return BRG_OK;
}

/* Read what is there. Returns: BRG_OK, or a transport error (closed, reset). */
static brg_err_t read_in(brg_stomp_t *s, char *errstr, size_t errstr_size)
{
    for (;;) {
        if (s->in.cap - s->in.len < 65536) {
            brg_stomp_buf_append(&s->in, NULL, 0);
            size_t cap = s->in.cap < 131072 ? 131072 : s->in.cap * 2;
            s->in.p = brg_xrealloc(s->in.p, cap);
            s->in.cap = cap;
        }
        ssize_t n = stomp_io_recv(s, s->in.p + s->in.len, s->in.cap - s->in.len - 1, errstr,
                                  errstr_size);
        if (n > 0) {
            s->in.len += (size_t)n;
            s->last_rx_ns = brg_now_ns();
            /* A short read emptied the socket, unless TLS still holds decrypted bytes (which
             * poll cannot see). */
            if ((size_t)n < 65536 && !stomp_io_pending(s)) {
                return BRG_OK;
            }
            continue;
        }
        if (n == 0) {
            return BRG_OK;
        }
        if (n == -2) {
            return fail(errstr, errstr_size, BRG_ERR_TRANSPORT,
                        "the broker closed the connection");
        }
        return BRG_ERR_TRANSPORT;
    }
}

/* The broker's text of an ERROR frame: its message header and body. */
static void error_text(const brg_stomp_frame_t *f, char *buf, size_t size)
{
    const char *m = brg_stomp_get(f, "message", NULL);
    size_t bl = f->body_len;
    while (bl > 0 && (f->body[bl - 1] == '\n' || f->body[bl - 1] == '\r')) {
        bl--;
    }
    /* ActiveMQ puts a Java stack trace in the body: its first line is enough. */
    const uint8_t *nl = bl ? memchr(f->body, '\n', bl) : NULL;
    if (nl) {
        bl = (size_t)(nl - f->body);
    }
    snprintf(buf, size, "%s%s%.*s", m ? m : "ERROR", bl ? ": " : "", (int)(bl > 300 ? 300 : bl),
             bl ? (const char *)f->body : "");
}

/* Parse and dispatch every complete frame in the input buffer. */
static brg_err_t dispatch(brg_stomp_t *s, char *errstr, size_t errstr_size)
{
    size_t off = 0;
    brg_err_t rc = BRG_OK;
    for (;;) {
        brg_stomp_frame_t f;
        brg_stomp_frame_init(&f);
        size_t used;
        char err[256];
        brg_stomp_parse_rc_t pr = brg_stomp_parse(s->in.p + off, s->in.len - off, s->conf->max_frame,
                                                  &f, &used, err, sizeof(err));
        if (pr == BRG_STOMP_NEED_MORE) {
            brg_stomp_frame_fini(&f);
            break;
        }
        if (pr == BRG_STOMP_BAD) {
            brg_stomp_frame_fini(&f);
            rc = fail(errstr, errstr_size, BRG_ERR_TRANSPORT, "from the broker: %s", err);
            break;
        }
        off += used;
        if (pr == BRG_STOMP_HEARTBEAT) {
            continue;
        }
        if (strcmp(f.command, "MESSAGE") == 0) {
            stomp_src_message(s, &f);
        } else if (strcmp(f.command, "RECEIPT") == 0) {
            stomp_sink_receipt(s, &f);
        } else if (strcmp(f.command, "ERROR") == 0) {
            char text[512];
            error_text(&f, text, sizeof(text));
            if (!stomp_sink_error(s, &f, text)) {
                rc = fail(errstr, errstr_size, BRG_ERR_TRANSPORT, "the broker sent ERROR: %s",
                          text);
            } else {
                /* STOMP: the server closes the connection after an ERROR. */
                rc = fail(errstr, errstr_size, BRG_ERR_TRANSPORT,
                          "the broker refused a SEND and closes the connection: %s", text);
            }
        } else {
            brg_log_warn(s->log, "ignoring an unexpected %s frame from the broker", f.command);
        }
        brg_stomp_frame_fini(&f);
        if (rc != BRG_OK) {
            break;
        }
    }
    brg_stomp_buf_consume(&s->in, off);
    return rc;
}

/* The heart-beat pair we send: "cx,cy" (STOMP 1.2, "Heart-beating"). */
static brg_err_t handshake(brg_stomp_t *s, char *errstr, size_t errstr_size)
{
    char hb[48];
    snprintf(hb, sizeof(hb), "%u,%u", s->conf->heartbeat_ms, s->conf->heartbeat_ms);
    brg_stomp_enc_begin(&s->out, "CONNECT");
    brg_stomp_enc_header(&s->out, "accept-version", 14, "1.2", 3, false);
    brg_stomp_enc_header(&s->out, "host", 4, s->conf->vhost, strlen(s->conf->vhost), false);
    if (s->conf->user) {
        brg_stomp_enc_header(&s->out, "login", 5, s->conf->user, strlen(s->conf->user), false);
        brg_stomp_enc_header(&s->out, "passcode", 8, s->conf->password ? s->conf->password : "",
                             s->conf->password ? strlen(s->conf->password) : 0, false);
    }
    brg_stomp_enc_header(&s->out, "heart-beat", 10, hb, strlen(hb), false);
    if (s->need_client_id) {
        brg_stomp_enc_header(&s->out, "client-id", 9, s->client_id, strlen(s->client_id), false);
    }
    brg_stomp_buf_append(&s->out, "\n", 1);
    brg_stomp_buf_append(&s->out, "", 1);
    int64_t deadline = brg_now_ns() + (int64_t)CONNECT_TIMEOUT_MS * 1000000;
    for (;;) {
        brg_err_t rc = flush_out(s, errstr, errstr_size);
        if (rc != BRG_OK) {
            return rc;
        }
        brg_stomp_frame_t f;
        brg_stomp_frame_init(&f);
        size_t used;
        char err[256];
        brg_stomp_parse_rc_t pr = brg_stomp_parse(s->in.p, s->in.len, s->conf->max_frame, &f, &used,
                                                  err, sizeof(err));
        if (pr == BRG_STOMP_BAD) {
            brg_stomp_frame_fini(&f);
            return fail(errstr, errstr_size, BRG_ERR_TRANSPORT, "from the broker: %s", err);
        }
        if (pr == BRG_STOMP_HEARTBEAT) {
            brg_stomp_buf_consume(&s->in, used);
            continue;
        }
        if (pr == BRG_STOMP_FRAME) {
            brg_stomp_buf_consume(&s->in, used);
            if (strcmp(f.command, "ERROR") == 0) {
                char text[512];
                error_text(&f, text, sizeof(text));
                brg_stomp_frame_fini(&f);
                return fail(errstr, errstr_size, BRG_ERR_AUTH,
                            "the broker refused the connection: %s", text);
            }
            if (strcmp(f.command, "CONNECTED") != 0) {
                brg_err_t r = fail(errstr, errstr_size, BRG_ERR_TRANSPORT,
                                   "the broker answered CONNECT with %s", f.command);
                brg_stomp_frame_fini(&f);
                return r;
            }
            const char *ver = brg_stomp_get(&f, "version", NULL);
            if (ver && strcmp(ver, "1.2") != 0) {
                brg_log_warn(s->log, "the broker speaks STOMP %s, not 1.2", ver);
            }
            unsigned sx = 0, sy = 0;
            const char *shb = brg_stomp_get(&f, "heart-beat", NULL);
            if (shb && sscanf(shb, "%u,%u", &sx, &sy) != 2) {
                sx = sy = 0;
            }
            /* We send every max(cx, sy) if both ask; we expect every max(cy, sx). */
            s->send_hb_ms = s->conf->heartbeat_ms && sy ? (s->conf->heartbeat_ms > sy ? s->conf->heartbeat_ms : sy)
                                                 : 0;
            s->recv_hb_ms = s->conf->heartbeat_ms && sx ? (s->conf->heartbeat_ms > sx ? s->conf->heartbeat_ms : sx)
                                                 : 0;
            brg_stomp_frame_fini(&f);
            return BRG_OK;
        }
        brg_stomp_frame_fini(&f);
        int64_t left = (deadline - brg_now_ns()) / 1000000;
        if (left <= 0) {
            return fail(errstr, errstr_size, BRG_ERR_TRANSPORT,
                        "no CONNECTED from %s:%s within %d s", s->conf->host, s->conf->port,
                        CONNECT_TIMEOUT_MS / 1000);
        }
        struct pollfd pfd = {.fd = s->fd, .events = POLLIN | (s->out.len ? POLLOUT : 0)};
        brg_endpoint_flush(s->ep);
        if (poll(&pfd, 1, (int)(left > 200 ? 200 : left)) < 0 && errno != EINTR) {
            return fail(errstr, errstr_size, BRG_ERR_IO, "poll: %s", strerror(errno));
        }
        if (brg_endpoint_stopping(s->ep)) {
            return fail(errstr, errstr_size, BRG_ERR_STOPPED, "stopping");
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            rc = read_in(s, errstr, errstr_size);
            if (rc != BRG_OK) {
                return rc;
            }
        }
    }
}

/* One connection's life. Returns: BRG_OK when stopping, else why the connection ended. */
static brg_err_t session(brg_stomp_t *s, char *errstr, size_t errstr_size)
{
    int64_t stop_deadline = 0;
    bool disconnect_sent = false;
    for (;;) {
        int64_t now = brg_now_ns();
        bool stopping = brg_endpoint_stopping(s->ep);
        if (stopping && stop_deadline == 0) {
            stop_deadline = now + (int64_t)STOP_GRACE_MS * 1000000;
        }
        int64_t next = now + 1000000000LL;
        stomp_src_service(s, now, &next);
        if (!stopping) {
            stomp_sink_service(s);
        } else if (!disconnect_sent && (s->nsent == 0 || now >= stop_deadline)) {
            /* Everything settled has been ACKed (above): say goodbye. */
            brg_stomp_enc_begin(&s->out, "DISCONNECT");
            brg_stomp_buf_append(&s->out, "\n", 1);
            brg_stomp_buf_append(&s->out, "", 1);
            disconnect_sent = true;
        }
        if (s->send_hb_ms && s->out.len == 0 &&
            now - s->last_tx_ns >= (int64_t)s->send_hb_ms * 1000000) {
            brg_stomp_buf_append(&s->out, "\n", 1);
        }
        brg_err_t rc = flush_out(s, errstr, errstr_size);
        if (rc != BRG_OK) {
            return rc;
        }
        if (disconnect_sent && s->out.len == 0) {
            return BRG_OK;
        }
        if (stopping && now >= stop_deadline + 1000000000LL) {
            return BRG_OK;
        }
        if (s->recv_hb_ms && now - s->last_rx_ns > (int64_t)s->recv_hb_ms * 2000000) {
            return fail(errstr, errstr_size, BRG_ERR_TRANSPORT,
                        "nothing from the broker for %u ms (heart-beat %u ms)",
                        s->recv_hb_ms * 2, s->recv_hb_ms);
        }
        char why[256];
        if (!stopping && brg_endpoint_reconnect_requested(s->ep, why, sizeof(why))) {
            /* The stall watchdog saw this connection hold work and move nothing (a broker that
             * stopped answering, heart-beats off or not yet due): drop it as if lost (the
             * SENDs without RECEIPT settle RETRY, the broker redelivers what it sent us) and
             * connect again. */
            return fail(errstr, errstr_size, BRG_ERR_TRANSPORT, "re-establishing the connection: %s",
                        why);
        }
        if (s->send_hb_ms) {
            int64_t t = s->last_tx_ns + (int64_t)s->send_hb_ms * 1000000;
            if (t < next) {
                next = t;
            }
        }
        int timeout = (int)((next - now) / 1000000);
        if (timeout < 0) {
            timeout = 0;
        }
        if (stopping && timeout > 50) {
            timeout = 50;
        }
        struct pollfd pfd[2] = {
            {.fd = s->fd, .events = POLLIN | (s->out.len ? POLLOUT : 0)},
            {.fd = brg_endpoint_wakefd(s->ep), .events = POLLIN},
        };
        brg_endpoint_flush(s->ep);
        if (poll(pfd, 2, timeout) < 0 && errno != EINTR) {
            return fail(errstr, errstr_size, BRG_ERR_IO, "poll: %s", strerror(errno));
        }
        if (pfd[1].revents & POLLIN) {
            brg_endpoint_clear_wake(s->ep);
        }
        if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            rc = read_in(s, errstr, errstr_size);
            brg_err_t drc = dispatch(s, errstr, errstr_size);
            if (drc != BRG_OK) {
                return drc;
            }
            if (rc != BRG_OK) {
                return rc;
            }
        }
    }
}

brg_err_t stomp_run(void *state, brg_endpoint_t *ep, char *errstr, size_t errstr_size)
{
    brg_stomp_t *s = state;
    bool was_down_logged = false;
    while (!brg_endpoint_stopping(ep)) {
        char err[512];
        brg_err_t rc = tcp_connect(s, err, sizeof(err));
        if (rc == BRG_OK) {
            rc = stomp_io_start(s, CONNECT_TIMEOUT_MS, err, sizeof(err));
        }
        if (rc == BRG_OK) {
            s->last_rx_ns = s->last_tx_ns = brg_now_ns();
            rc = handshake(s, err, sizeof(err));
        }
        if (rc == BRG_OK) {
            brg_log_info(s->log, "connected to %s:%s (STOMP 1.2%s, heart-beat send %u ms, "
                         "expect %u ms)", s->conf->host, s->conf->port, s->ssl ? " over TLS" : "",
                         s->send_hb_ms, s->recv_hb_ms);
            brg_endpoint_set_connected(ep, true, NULL);
            brg_backoff_reset(&s->bo);
            was_down_logged = false;
            s->conn_gen++;
            stomp_src_subscribe_all(s);
            rc = session(s, err, sizeof(err));
            if (rc == BRG_OK) {
                break; /* stopping */
            }
            brg_log_warn(s->log, "connection lost: %s", err);
        } else if (rc == BRG_ERR_STOPPED) {
            break;
        } else if (!was_down_logged || strcmp(err, s->error) != 0) {
            brg_log_warn(s->log, "cannot connect: %s", err);
            was_down_logged = true;
        }
        snprintf(s->error, sizeof(s->error), "%s", err);
        disconnect(s, err);
        brg_endpoint_set_connected(ep, false, err);
        brg_endpoint_count_reconnect(ep);
        uint32_t wait = brg_backoff_next(&s->bo);
        int64_t until = brg_now_ns() + (int64_t)wait * 1000000;
        while (!brg_endpoint_stopping(ep)) {
            int64_t left = (until - brg_now_ns()) / 1000000;
            if (left <= 0) {
                break;
            }
            int64_t dummy = INT64_MAX;
            stomp_src_service(s, brg_now_ns(), &dummy); /* frees what comes back settled */
            if (brg_endpoint_sleep(ep, (uint32_t)left)) {
                break;
            }
            brg_endpoint_clear_wake(ep);
        }
    }
    disconnect(s, "the bridge is stopping");
    int64_t dummy = INT64_MAX;
    stomp_src_service(s, brg_now_ns(), &dummy);
    (void)errstr;
    (void)errstr_size;
    return BRG_OK;
}
