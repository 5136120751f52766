/* The AMQP 0-9-1 connection: URL and settings, connect (TCP or TLS), login, the broker's
 * errors with their reply text, and reading frames without blocking. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>

#include "adapters/rabbitmq/rmq.h"

/* Debian's system CA bundle: the trust store when amqps verifies peers without a ca_file
 * (rabbitmq-c does not load OpenSSL's default paths itself). */
#define RMQ_SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

/* rabbitmq-c says only "a socket error occurred": add the system's reason when there is one. */
static const char *status_text(int rc, int err, char *buf, size_t size)
{
    if ((rc == AMQP_STATUS_SOCKET_ERROR || rc == AMQP_STATUS_SOCKET_CLOSED) && err != 0) {
        snprintf(buf, size, "%s (%s)", amqp_error_string2(rc), strerror(err));
        return buf;
    }
    return amqp_error_string2(rc);
}

char *brg_rmq_bytes_dup(amqp_bytes_t b)
{
    return brg_xstrndup(b.len ? (const char *)b.bytes : "", b.len);
}

void brg_rmq_asm_reset(rmq_asm_t *a)
{
    brg_envelope_destroy(a->env);
    if (!a->body_in_env) {
        free(a->body);
    }
    free(a->reply_text);
    free(a->exchange);
    free(a->routing_key);
    memset(a, 0, sizeof(*a));
}

/* ---- settings ----------------------------------------------------------------------------- */

brg_err_t brg_rmq_conf_parse(const brg_conf_node_t *cs, rmq_conf_t *c, char *errstr, size_t errstr_size)
{
    memset(c, 0, sizeof(*c));
    const char *url = brg_conf_str(cs, "url", "amqp://localhost");
    char red[512];
    brg_redact_url(url, red, sizeof(red));
    c->url_redacted = brg_xstrdup(red);
    /* amqp_parse_url decodes in place and points into its buffer. */
    char *buf = brg_xstrdup(url);
    struct amqp_connection_info ci;
    amqp_default_connection_info(&ci);
    int rc = amqp_parse_url(buf, &ci);
    if (rc != AMQP_STATUS_OK) {
        brg_errfmt(errstr, errstr_size,
                   "invalid url \"%s\": %s (expected amqp://user:password@host:port/vhost or "
                   "amqps://...)",
                   red, amqp_error_string2(rc));
        free(buf);
        return BRG_ERR_CONFIG;
    }
    c->host = brg_xstrdup(ci.host);
    c->port = ci.port;
    c->vhost = brg_xstrdup(ci.vhost);
    c->tls = ci.ssl != 0;
    const char *user = brg_conf_str(cs, "user", NULL);
    const char *password = brg_conf_str(cs, "password", NULL);
    c->user = brg_xstrdup(user ? user : ci.user);
    c->password = brg_xstrdup(password ? password : ci.password);
    free(buf);

    c->verify_peer = brg_conf_bool(cs, "verify_peer", true);
    c->verify_hostname = brg_conf_bool(cs, "verify_hostname", true);
    const char *ca = brg_conf_str(cs, "ca_file", NULL);
    if (!ca && c->tls && c->verify_peer && access(RMQ_SYSTEM_CA_FILE, R_OK) == 0) {
        ca = RMQ_SYSTEM_CA_FILE;
    }
    c->ca_file = ca ? brg_xstrdup(ca) : NULL;
    const char *cert = brg_conf_str(cs, "cert_file", NULL);
    const char *key = brg_conf_str(cs, "key_file", NULL);
    c->cert_file = cert ? brg_xstrdup(cert) : NULL;
    c->key_file = key ? brg_xstrdup(key) : NULL;
    c->heartbeat_s = (int)brg_conf_int(cs, "heartbeat", 30);
    c->connect_timeout_s = (int)brg_conf_int(cs, "connect_timeout", 10);
    c->frame_max = (int)brg_conf_int(cs, "frame_max", 131072);
    c->window = (size_t)brg_conf_int(cs, "window", 1000);
    if (c->window < 1) {
        c->window = 1;
    }
    const char *name = brg_conf_str(cs, "connection_name", NULL);
    c->connection_name = name ? brg_xstrdup(name) : NULL;
    return BRG_OK;
}

void brg_rmq_conf_fini(rmq_conf_t *c)
{
    free(c->host);
    free(c->vhost);
    free(c->user);
    brg_free_secret(c->password);
    free(c->ca_file);
    free(c->cert_file);
    free(c->key_file);
    free(c->connection_name);
    free(c->url_redacted);
    memset(c, 0, sizeof(*c));
}

/* ---- broker errors ------------------------------------------------------------------------ */

static void send_close_ok(amqp_connection_state_t conn, amqp_channel_t ch, bool connection)
{
    /* Best effort: the peer has given up on the channel (or connection) already. */
    if (connection) {
        amqp_connection_close_ok_t ok = {0};
        (void)amqp_send_method(conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    } else {
        amqp_channel_close_ok_t ok = {0};
        (void)amqp_send_method(conn, ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
    }
}

static rmq_rpc_t reply_result(brg_rmq_t *r, amqp_connection_state_t conn, amqp_rpc_reply_t rep,
                              amqp_channel_t ch, const char *what, int *code, char *errstr,
                              size_t errstr_size)
{
    (void)r;
    if (code) {
        *code = 0;
    }
    switch (rep.reply_type) {
    case AMQP_RESPONSE_NORMAL: return RMQ_RPC_OK;
    case AMQP_RESPONSE_NONE:
        brg_errfmt(errstr, errstr_size, "%s: no reply from the broker", what);
        return RMQ_RPC_CONN_LOST;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        brg_errfmt(errstr, errstr_size, "%s: %s", what, amqp_error_string2(rep.library_error));
        return RMQ_RPC_CONN_LOST;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (rep.reply.id == AMQP_CONNECTION_CLOSE_METHOD && rep.reply.decoded) {
            const amqp_connection_close_t *m = rep.reply.decoded;
            if (code) {
                *code = m->reply_code;
            }
            brg_errfmt(errstr, errstr_size, "%s: %.*s", what, (int)m->reply_text.len,
                       m->reply_text.len ? (const char *)m->reply_text.bytes : "");
            send_close_ok(conn, 0, true);
            return RMQ_RPC_CONN_LOST;
        }
        if (rep.reply.id == AMQP_CHANNEL_CLOSE_METHOD && rep.reply.decoded) {
            const amqp_channel_close_t *m = rep.reply.decoded;
            if (code) {
                *code = m->reply_code;
            }
            brg_errfmt(errstr, errstr_size, "%s: %.*s", what, (int)m->reply_text.len,
                       m->reply_text.len ? (const char *)m->reply_text.bytes : "");
            send_close_ok(conn, ch, false);
            return RMQ_RPC_CHANNEL_CLOSED;
        }
        brg_errfmt(errstr, errstr_size, "%s: unexpected method 0x%08x from the broker", what,
                   (unsigned)rep.reply.id);
        return RMQ_RPC_CONN_LOST;
    }
    brg_errfmt(errstr, errstr_size, "%s: unknown reply", what);
    return RMQ_RPC_CONN_LOST;
}

rmq_rpc_t brg_rmq_rpc_result(brg_rmq_t *r, amqp_channel_t ch, const char *what, int *code,
                             char *errstr, size_t errstr_size)
{
    return reply_result(r, r->conn, amqp_get_rpc_reply(r->conn), ch, what, code, errstr,
                        errstr_size);
}

rmq_rpc_t brg_rmq_channel_open(brg_rmq_t *r, amqp_channel_t ch, char *errstr, size_t errstr_size)
{
    amqp_channel_open(r->conn, ch);
    char what[48];
    snprintf(what, sizeof(what), "channel.open %u", (unsigned)ch);
    return brg_rmq_rpc_result(r, ch, what, NULL, errstr, errstr_size);
}

rmq_rpc_t brg_rmq_control_open(brg_rmq_t *r, char *errstr, size_t errstr_size)
{
    if (r->ctl_open) {
        return RMQ_RPC_OK;
    }
    rmq_rpc_t rr = brg_rmq_channel_open(r, RMQ_CH_CONTROL, errstr, errstr_size);
    r->ctl_open = rr == RMQ_RPC_OK;
    return rr;
}

/* ---- connect ------------------------------------------------------------------------------ */

static amqp_table_entry_t str_entry(const char *key, const char *value)
{
    amqp_table_entry_t e;
    memset(&e, 0, sizeof(e));
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = amqp_cstring_bytes(value);
    return e;
}

static amqp_table_entry_t bool_entry(const char *key)
{
    amqp_table_entry_t e;
    memset(&e, 0, sizeof(e));
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_BOOLEAN;
    e.value.value.boolean = 1;
    return e;
}

brg_err_t brg_rmq_connect(brg_rmq_t *r, char *errstr, size_t errstr_size)
{
    /* Connecting blocks (TCP, login, declares): what the last connection settled goes out
     * first. */
    brg_endpoint_flush(r->ep);
    const rmq_conf_t *c = r->conf;
    brg_err_t ret = BRG_ERR_TRANSPORT;
    amqp_connection_state_t conn = amqp_new_connection();
    if (!conn) {
        brg_errfmt(errstr, errstr_size, "cannot create a connection (out of memory)");
        return BRG_ERR_TRANSPORT;
    }
    amqp_socket_t *sock;
    if (c->tls) {
        sock = amqp_ssl_socket_new(conn);
        if (!sock) {
            brg_errfmt(errstr, errstr_size, "cannot create a TLS socket");
            goto fail;
        }
        amqp_ssl_socket_set_verify_peer(sock, c->verify_peer);
        amqp_ssl_socket_set_verify_hostname(sock, c->verify_peer && c->verify_hostname);
        if (c->ca_file && amqp_ssl_socket_set_cacert(sock, c->ca_file) != AMQP_STATUS_OK) {
            brg_errfmt(errstr, errstr_size, "cannot load ca_file \"%s\"", c->ca_file);
            goto fail;
        }
        if (c->cert_file &&
            amqp_ssl_socket_set_key(sock, c->cert_file, c->key_file ? c->key_file : c->cert_file) !=
                AMQP_STATUS_OK) {
            brg_errfmt(errstr, errstr_size, "cannot load cert_file \"%s\" / key_file \"%s\"",
                       c->cert_file, c->key_file ? c->key_file : c->cert_file);
            goto fail;
        }
    } else {
        sock = amqp_tcp_socket_new(conn);
        if (!sock) {
            brg_errfmt(errstr, errstr_size, "cannot create a socket");
            goto fail;
        }
    }
    struct timeval tv = {c->connect_timeout_s, 0};
    amqp_set_handshake_timeout(conn, &tv);
    /* Declarations and channel opens are quick; 30 s covers a busy broker without letting a
     * dead one hang the endpoint thread (and its shutdown) for long. */
    struct timeval rpc_tv = {30, 0};
    amqp_set_rpc_timeout(conn, &rpc_tv);
    errno = 0;
    int rc = amqp_socket_open_noblock(sock, c->host, c->port, &tv);
    if (rc != AMQP_STATUS_OK) {
        char sbuf[160];
        brg_errfmt(errstr, errstr_size, "cannot connect to %s:%d: %s", c->host, c->port,
                   status_text(rc, errno, sbuf, sizeof(sbuf)));
        goto fail;
    }

    char name[256];
    if (c->connection_name) {
        snprintf(name, sizeof(name), "%s", c->connection_name);
    } else {
        const char *bid = brg_endpoint_bridge_id(r->ep);
        snprintf(name, sizeof(name), "msgbridge %s/%s", bid ? bid : "", brg_endpoint_name(r->ep));
    }
    /* Capabilities beyond rabbitmq-c's default (authentication_failure_close): the broker only
     * sends consumer cancel and connection.blocked notifications to clients that ask. */
    amqp_table_entry_t caps[] = {bool_entry("consumer_cancel_notify"),
                                 bool_entry("connection.blocked"),
                                 bool_entry("publisher_confirms"), bool_entry("basic.nack"),
                                 bool_entry("authentication_failure_close")};
    amqp_table_entry_t props[3];
    props[0] = str_entry("connection_name", name);
    props[1] = str_entry("product", "msgbridge");
    memset(&props[2], 0, sizeof(props[2]));
    props[2].key = amqp_cstring_bytes("capabilities");
    props[2].value.kind = AMQP_FIELD_KIND_TABLE;
    props[2].value.value.table.num_entries = (int)BRG_ARRAY_SIZE(caps);
    props[2].value.value.table.entries = caps;
    amqp_table_t ptable = {(int)BRG_ARRAY_SIZE(props), props};

    amqp_rpc_reply_t rep =
        amqp_login_with_properties(conn, c->vhost, 0, c->frame_max, c->heartbeat_s, &ptable,
                                   AMQP_SASL_METHOD_PLAIN, c->user, c->password);
    char what[512];
    snprintf(what, sizeof(what), "login to %s:%d vhost \"%s\" as \"%s\" refused", c->host,
             c->port, c->vhost, c->user);
    int code = 0;
    if (reply_result(r, conn, rep, 0, what, &code, errstr, errstr_size) != RMQ_RPC_OK) {
        /* 403 ACCESS_REFUSED (credentials, or no permission on the vhost), 530 NOT_ALLOWED
         * (no such vhost). A connection reset during login is RabbitMQ's answer to a wrong
         * password when the client did not ask for authentication_failure_close. */
        if (code == 403 || code == 530 || rep.library_error == AMQP_STATUS_CONNECTION_CLOSED ||
            rep.library_error == AMQP_STATUS_SOCKET_CLOSED) {
            ret = BRG_ERR_AUTH;
        }
        if (code == 0 && rep.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
            snprintf(what, sizeof(what), "login to %s:%d vhost \"%s\" as \"%s\" failed", c->host,
                     c->port, c->vhost, c->user);
            brg_errfmt(errstr, errstr_size, "%s: %s", what, amqp_error_string2(rep.library_error));
        }
        goto fail;
    }
    r->conn = conn;
    rmq_rpc_t rr = brg_rmq_sink_open(r, errstr, errstr_size);
    if (rr == RMQ_RPC_OK) {
        rr = brg_rmq_channel_open(r, RMQ_CH_CONTROL, errstr, errstr_size);
        r->ctl_open = rr == RMQ_RPC_OK;
    }
    if (rr != RMQ_RPC_OK) {
        r->conn = NULL;
        goto fail;
    }
    r->connected = true;
    r->blocked = false;
    return BRG_OK;

fail:
    amqp_destroy_connection(conn);
    return ret;
}

void brg_rmq_disconnect(brg_rmq_t *r, const char *reason, bool clean)
{
    if (r->conn) {
        if (clean) {
            /* amqp_connection_close waits for close-ok within the RPC timeout. */
            struct timeval tv = {2, 0};
            amqp_set_rpc_timeout(r->conn, &tv);
            amqp_connection_close(r->conn, AMQP_REPLY_SUCCESS);
        }
        amqp_destroy_connection(r->conn);
        r->conn = NULL;
    }
    r->connected = false;
    r->pub_open = false;
    r->ctl_open = false;
    r->blocked = false;
    r->blocked_gauge = false;
    brg_rmq_sink_fail_all(r, reason ? reason : "connection closed");
    for (size_t i = 0; i < r->nsrcs; i++) {
        brg_rmq_source_conn_lost(r->srcs[i]);
    }
    brg_rmq_backlog_conn_lost(r);
    r->nclosing = 0; /* a new connection has all its channels free */
    for (size_t i = 0; i < r->nexchanges; i++) {
        free(r->exchanges[i]);
    }
    r->nexchanges = 0;
    brg_rmq_asm_reset(&r->pub_as);
}

/* ---- frames ------------------------------------------------------------------------------- */

static void on_channel_close(brg_rmq_t *r, amqp_channel_t ch, const amqp_channel_close_t *m)
{
    char reason[512];
    brg_errfmt(reason, sizeof(reason), "%.*s", (int)m->reply_text.len,
               m->reply_text.len ? (const char *)m->reply_text.bytes : "");
    send_close_ok(r->conn, ch, false);
    if (ch == RMQ_CH_PUBLISH) {
        char why[600];
        brg_errfmt(why, sizeof(why), "the broker closed the publish channel: %s", reason);
        brg_log_warn(r->log, "%s", why);
        r->pub_open = false;
        brg_rmq_asm_reset(&r->pub_as);
        r->pub_retry_at_ns = brg_now_ns() + (int64_t)brg_backoff_next(&r->pub_bo) * 1000000;
        brg_rmq_sink_channel_failed(r, m->reply_code, reason, why);
        /* Exchanges may have been deleted: check them again. */
        for (size_t i = 0; i < r->nexchanges; i++) {
            free(r->exchanges[i]);
        }
        r->nexchanges = 0;
    } else if (ch == RMQ_CH_CONTROL) {
        r->ctl_open = false;
    } else if (ch == r->bl.ch) {
        brg_rmq_backlog_channel_closed(r, m->reply_code, reason);
    } else {
        rmq_src_t *s = brg_rmq_source_by_channel(r, ch);
        if (s) {
            char why[700];
            brg_errfmt(why, sizeof(why), "the broker closed the channel of queue \"%s\": %s",
                       s->queue, reason);
            brg_rmq_source_channel_closed(s, why);
        }
    }
}

brg_err_t brg_rmq_read_frames(brg_rmq_t *r, int max, int *nframes, char *errstr, size_t errstr_size)
{
    *nframes = 0;
    for (int i = 0; i < max && r->conn; i++) {
        amqp_frame_t f;
        /* Zero timeout: take what is buffered or readable now, never block (the caller
         * polls the socket and the wake fd together). */
        struct timeval tv0 = {0, 0};
        errno = 0;
        int rc = amqp_simple_wait_frame_noblock(r->conn, &f, &tv0);
        if (rc == AMQP_STATUS_TIMEOUT) {
            break;
        }
        if (rc != AMQP_STATUS_OK) {
            char sbuf[160];
            brg_errfmt(errstr, errstr_size, "connection lost: %s",
                       status_text(rc, errno, sbuf, sizeof(sbuf)));
            return BRG_ERR_TRANSPORT;
        }
        (*nframes)++;
        amqp_channel_t ch = f.channel;
        if (f.frame_type == AMQP_FRAME_METHOD) {
            switch (f.payload.method.id) {
            case AMQP_CONNECTION_CLOSE_METHOD: {
                const amqp_connection_close_t *m = f.payload.method.decoded;
                brg_errfmt(errstr, errstr_size, "the broker closed the connection: %.*s",
                           (int)m->reply_text.len,
                           m->reply_text.len ? (const char *)m->reply_text.bytes : "");
                send_close_ok(r->conn, 0, true);
                return BRG_ERR_TRANSPORT;
            }
            case AMQP_CONNECTION_BLOCKED_METHOD: {
                const amqp_connection_blocked_t *m = f.payload.method.decoded;
                brg_log_warn(r->log, "the broker blocked publishing: %.*s", (int)m->reason.len,
                             m->reason.len ? (const char *)m->reason.bytes : "");
                r->blocked = true;
                r->blocked_gauge = true;
                break;
            }
            case AMQP_CONNECTION_UNBLOCKED_METHOD:
                brg_log_info(r->log, "the broker unblocked publishing");
                r->blocked = false;
                r->blocked_gauge = false;
                break;
            case AMQP_CHANNEL_CLOSE_METHOD:
                on_channel_close(r, ch, f.payload.method.decoded);
                break;
            case AMQP_CHANNEL_CLOSE_OK_METHOD:
                brg_rmq_channel_close_ok(r, ch);
                break;
            default:
                if (ch == RMQ_CH_PUBLISH) {
                    brg_rmq_sink_on_frame(r, &f);
                } else if (ch == r->bl.ch) {
                    brg_rmq_backlog_on_frame(r, &f);
                } else {
                    rmq_src_t *s = brg_rmq_source_by_channel(r, ch);
                    if (s && brg_rmq_source_on_frame(s, &f, errstr, errstr_size) != BRG_OK) {
                        return BRG_ERR_TRANSPORT;
                    }
                }
                break;
            }
        } else if (f.frame_type == AMQP_FRAME_HEADER || f.frame_type == AMQP_FRAME_BODY) {
            if (ch == RMQ_CH_PUBLISH) {
                brg_rmq_sink_on_frame(r, &f);
            } else {
                rmq_src_t *s = brg_rmq_source_by_channel(r, ch);
                if (s && brg_rmq_source_on_frame(s, &f, errstr, errstr_size) != BRG_OK) {
                    return BRG_ERR_TRANSPORT;
                }
            }
        }
        /* Everything needed from the frame has been copied: give its memory back. */
        if (r->conn) {
            amqp_maybe_release_buffers_on_channel(r->conn, ch);
        }
    }
    return BRG_OK;
}
