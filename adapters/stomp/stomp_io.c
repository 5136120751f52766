/* The stomp connection's byte stream: plain TCP, or TLS with OpenSSL for stomp+ssl:// urls
 * (see stomp_int.h). The socket is non-blocking in both cases; the callers poll it. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adapters/stomp/stomp_int.h"

/* Plain TCP. Returns: as stomp_io_send / stomp_io_recv. */
static ssize_t plain_send(brg_stomp_t *s, const void *p, size_t n, char *errstr,
                          size_t errstr_size)
{
    for (;;) {
        ssize_t w = send(s->fd, p, n, MSG_NOSIGNAL);
        if (w >= 0) {
            return w;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return 0;
        }
        if (errno != EINTR) {
            brg_errfmt(errstr, errstr_size, "write to %s:%s: %s", s->conf->host, s->conf->port,
                       strerror(errno));
            return -1;
        }
    }
}

static ssize_t plain_recv(brg_stomp_t *s, void *p, size_t n, char *errstr, size_t errstr_size)
{
    for (;;) {
        ssize_t r = recv(s->fd, p, n, 0);
        if (r > 0) {
            return r;
        }
        if (r == 0) {
            return -2;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return 0;
        }
        if (errno != EINTR) {
            brg_errfmt(errstr, errstr_size, "read from %s:%s: %s", s->conf->host, s->conf->port,
                       strerror(errno));
            return -1;
        }
    }
}

#ifdef HAVE_STOMP_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* OpenSSL's queued errors as one line ("" if none); the queue is left empty. */
static void ssl_errors(char *buf, size_t size)
{
    buf[0] = 0;
    size_t n = 0;
    unsigned long e;
    while ((e = ERR_get_error()) != 0) {
        if (n + 3 < size) {
            if (n) {
                buf[n++] = ';';
                buf[n++] = ' ';
            }
            ERR_error_string_n(e, buf + n, size - n);
            n += strlen(buf + n);
        }
    }
}

brg_err_t stomp_tls_init(brg_stomp_t *s, const stomp_tls_conf_t *c, char *errstr,
                         size_t errstr_size)
{
    char why[256];
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        ssl_errors(why, sizeof(why));
        brg_errfmt(errstr, errstr_size, "cannot create a TLS context: %s", why);
        return BRG_ERR_IO;
    }
    /* TLS 1.2 at least: what ActiveMQ, Artemis and RabbitMQ offer by default. */
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* The out buffer grows and moves between retries of one write (stomp_io_send). */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    int ok = c->ca_file ? SSL_CTX_load_verify_locations(ctx, c->ca_file, NULL)
                        : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        ssl_errors(why, sizeof(why));
        brg_errfmt(errstr, errstr_size, "ca_file \"%s\": cannot load CA certificates: %s",
                   c->ca_file ? c->ca_file : "(system default)", why);
        goto fail;
    }
    if (c->cert_file) {
        if (SSL_CTX_use_certificate_chain_file(ctx, c->cert_file) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, c->key_file, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
            ssl_errors(why, sizeof(why));
            brg_errfmt(errstr, errstr_size,
                       "cert_file \"%s\" / key_file \"%s\": cannot load the client certificate: %s",
                       c->cert_file, c->key_file, why);
            goto fail;
        }
    }
    SSL_CTX_set_verify(ctx, c->verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    s->tls_ctx = ctx;
    s->verify_peer = c->verify_peer;
    return BRG_OK;
fail:
    SSL_CTX_free(ctx);
    return BRG_ERR_CONFIG;
}

void stomp_tls_fini(brg_stomp_t *s)
{
    SSL_CTX_free(s->tls_ctx);
    s->tls_ctx = NULL;
}

/* Why a TLS call failed, for the log: the verification result when that is the reason. */
static void tls_failure(brg_stomp_t *s, int rc, const char *what, char *errstr, size_t size)
{
    char why[256];
    int e = SSL_get_error(s->ssl, rc);
    long vr = SSL_get_verify_result(s->ssl);
    ssl_errors(why, sizeof(why));
    if (vr != X509_V_OK) {
        brg_errfmt(errstr, size, "TLS %s with %s:%s: certificate verify failed: %s", what,
                   s->conf->host, s->conf->port, X509_verify_cert_error_string(vr));
    } else if (e == SSL_ERROR_SYSCALL && !why[0]) {
        brg_errfmt(errstr, size, "TLS %s with %s:%s: %s", what, s->conf->host, s->conf->port,
                   errno ? strerror(errno) : "the broker closed the connection");
    } else {
        brg_errfmt(errstr, size, "TLS %s with %s:%s: %s", what, s->conf->host, s->conf->port,
                   why[0] ? why : "failed");
    }
}

brg_err_t stomp_io_start(brg_stomp_t *s, int timeout_ms, char *errstr, size_t errstr_size)
{
    if (!s->tls_ctx) {
        return BRG_OK;
    }
    s->ssl = SSL_new(s->tls_ctx);
    if (!s->ssl || SSL_set_fd(s->ssl, s->fd) != 1) {
        char why[256];
        ssl_errors(why, sizeof(why));
        brg_errfmt(errstr, errstr_size, "cannot start TLS: %s", why);
        return BRG_ERR_IO;
    }
    /* SNI, and the broker's certificate must name the url's host (an IP address is matched
     * against the certificate's IP entries). */
    SSL_set_tlsext_host_name(s->ssl, s->conf->host);
    if (s->verify_peer) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(s->ssl);
        if (X509_VERIFY_PARAM_set1_ip_asc(vp, s->conf->host) != 1) {
            ERR_clear_error(); /* not an IP address: a host name */
            X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            X509_VERIFY_PARAM_set1_host(vp, s->conf->host, 0);
        }
    }
    int64_t deadline = brg_now_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int rc = SSL_connect(s->ssl);
        if (rc == 1) {
            return BRG_OK;
        }
        int e = SSL_get_error(s->ssl, rc);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            tls_failure(s, rc, "handshake", errstr, errstr_size);
            return BRG_ERR_TRANSPORT;
        }
        int64_t left = (deadline - brg_now_ns()) / 1000000;
        if (left <= 0) {
            brg_errfmt(errstr, errstr_size, "TLS handshake with %s:%s: no answer within %d s",
                       s->conf->host, s->conf->port, timeout_ms / 1000);
            return BRG_ERR_TRANSPORT;
        }
        if (brg_endpoint_stopping(s->ep)) {
            brg_errfmt(errstr, errstr_size, "stopping");
            return BRG_ERR_STOPPED;
        }
        /* Poll in short slices so that a stop request is seen. */
        struct pollfd pfd = {.fd = s->fd, .events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
        if (poll(&pfd, 1, (int)(left > 200 ? 200 : left)) < 0 && errno != EINTR) {
            brg_errfmt(errstr, errstr_size, "poll: %s", strerror(errno));
            return BRG_ERR_IO;
        }
    }
}

void stomp_io_stop(brg_stomp_t *s)
{
    if (s->ssl) {
        /* One close_notify, not waiting for the broker's: the socket closes next. */
        SSL_shutdown(s->ssl);
        SSL_free(s->ssl);
        s->ssl = NULL;
    }
}

ssize_t stomp_io_send(brg_stomp_t *s, const void *p, size_t n, char *errstr, size_t errstr_size)
{
    if (!s->ssl) {
        return plain_send(s, p, n, errstr, errstr_size);
    }
    /* One record's worth at a time, so that a retry after WANT_WRITE never asks for less
     * than the first try did (OpenSSL refuses a shorter retry). */
    int len = n > 16384 ? 16384 : (int)n;
    ERR_clear_error();
    errno = 0;
    int w = SSL_write(s->ssl, p, len);
    if (w > 0) {
        return w;
    }
    int e = SSL_get_error(s->ssl, w);
    if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
        return 0;
    }
    tls_failure(s, w, "write", errstr, errstr_size);
    return -1;
}

ssize_t stomp_io_recv(brg_stomp_t *s, void *p, size_t n, char *errstr, size_t errstr_size)
{
    if (!s->ssl) {
        return plain_recv(s, p, n, errstr, errstr_size);
    }
    ERR_clear_error();
    errno = 0;
    int r = SSL_read(s->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
    if (r > 0) {
        return r;
    }
    int e = SSL_get_error(s->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        return 0;
    }
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0 &&
                                       ERR_peek_error() == 0)) {
        return -2; /* close_notify, or the TCP connection closed */
    }
    tls_failure(s, r, "read", errstr, errstr_size);
    return -1;
}

bool stomp_io_pending(const brg_stomp_t *s)
{
    return s->ssl && SSL_pending(s->ssl) > 0;
}

#else /* no OpenSSL: plain TCP only (stomp+ssl:// urls are refused when the config loads) */

brg_err_t stomp_tls_init(brg_stomp_t *s, const stomp_tls_conf_t *c, char *errstr,
                         size_t errstr_size)
{
    (void)s;
    (void)c;
    brg_errfmt(errstr, errstr_size, "this msgbridge was built without OpenSSL: stomp+ssl:// is "
                                    "not available (install libssl-dev and rebuild)");
    return BRG_ERR_UNSUPPORTED;
}

void stomp_tls_fini(brg_stomp_t *s)
{
    (void)s;
}

brg_err_t stomp_io_start(brg_stomp_t *s, int timeout_ms, char *errstr, size_t errstr_size)
{
    (void)s;
    (void)timeout_ms;
    (void)errstr;
    (void)errstr_size;
    return BRG_OK;
}

void stomp_io_stop(brg_stomp_t *s)
{
    (void)s;
}

ssize_t stomp_io_send(brg_stomp_t *s, const void *p, size_t n, char *errstr, size_t errstr_size)
{
    return plain_send(s, p, n, errstr, errstr_size);
}

ssize_t stomp_io_recv(brg_stomp_t *s, void *p, size_t n, char *errstr, size_t errstr_size)
{
    return plain_recv(s, p, n, errstr, errstr_size);
}

bool stomp_io_pending(const brg_stomp_t *s)
{
    (void)s;
    return false;
}

#endif
