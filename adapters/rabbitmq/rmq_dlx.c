/* Does the source queue dead-letter what msgbridge rejects? See rmq_dlx.h for how a queue's
 * x-dead-letter-exchange argument is read back through RabbitMQ's declare refusals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/rabbitmq/rmq.h"
#include "adapters/rabbitmq/rmq_dlx.h"

/* Each round learns one flag or one argument; RabbitMQ compares at most two arguments
 * (x-expires, x-message-ttl) and two flags before x-dead-letter-exchange. */
#define RMQ_DLX_ROUNDS 8

/* Copy the text between from and the next occurrence of end (or the end of the text). */
static bool copy_until(const char *from, const char *end, char *out, size_t size)
{
    const char *stop = end ? strstr(from, end) : NULL;
    size_t n = stop ? (size_t)(stop - from) : strlen(from);
    if (n >= size) {
        return false;
    }
    memcpy(out, from, n);
    out[n] = 0;
    return true;
}

static bool integer_type(const char *t)
{
    static const char *const ints[] = {"byte",  "unsignedbyte", "short", "unsignedshort",
                                       "signedint", "unsignedint", "long"};
    for (size_t i = 0; i < BRG_ARRAY_SIZE(ints); i++) {
        if (strcmp(t, ints[i]) == 0) {
            return true;
        }
    }
    return false;
}

rmq_dlx_step_t brg_rmq_dlx_parse(int reply_code, const char *reply_text)
{
    rmq_dlx_step_t st;
    memset(&st, 0, sizeof(st));
    st.kind = RMQ_DLX_UNKNOWN;
    const char *t = reply_text ? reply_text : "";
    if (reply_code == 404) {
        st.kind = RMQ_DLX_GONE;
        return st;
    }
    if (reply_code != 406) {
        return st;
    }
    /* Refused before any lookup: the queue does not exist (the argument's type is wrong on
     * purpose, so nothing was created). */
    if (strstr(t, "invalid type 'long' for arg 'x-dead-letter-exchange'")) {
        st.kind = RMQ_DLX_GONE;
        return st;
    }
    const char *arg = strstr(t, "inequivalent arg '");
    if (!arg) {
        return st;
    }
    arg += strlen("inequivalent arg '");
    char name[256];
    if (!copy_until(arg, "'", name, sizeof(name))) {
        return st;
    }
    if (strcmp(name, "durable") == 0) {
        st.kind = RMQ_DLX_FLIP_DURABLE;
        return st;
    }
    if (strcmp(name, "auto_delete") == 0) {
        st.kind = RMQ_DLX_FLIP_AUTO_DELETE;
        return st;
    }
    const char *cur = strstr(t, "but current is ");
    if (!cur) {
        return st;
    }
    cur += strlen("but current is ");
    if (strcmp(name, "x-dead-letter-exchange") == 0) {
        if (strncmp(cur, "none", 4) == 0) {
            st.kind = RMQ_DLX_NONE;
            return st;
        }
        /* "current is 'dlx'" (both sides set) or "current is the value 'dlx' of type ..." */
        const char *v = strncmp(cur, "the value '", 11) == 0 ? cur + 11
                        : cur[0] == '\''                     ? cur + 1
                                                             : NULL;
        if (!v) {
            return st;
        }
        /* The name may itself hold quotes: it ends at the last one (or before " of type"). */
        const char *end = strstr(v, "' of type '");
        if (!end) {
            end = strrchr(v, '\'');
        }
        if (!end || (size_t)(end - v) >= sizeof(st.value)) {
            return st;
        }
        memcpy(st.value, v, (size_t)(end - v));
        st.value[end - v] = 0;
        st.kind = RMQ_DLX_FOUND;
        return st;
    }
    /* An argument compared before x-dead-letter-exchange: "received none but current is the
     * value '60000' of type 'signedint'". Echo it back when it is an integer or a string. */
    if (!strstr(t, "received none but current is the value '")) {
        return st;
    }
    const char *v = cur + strlen("the value '");
    const char *of = strstr(v, "' of type '");
    if (!of || (size_t)(of - v) >= sizeof(st.value)) {
        return st;
    }
    char type[32];
    if (!copy_until(of + strlen("' of type '"), "'", type, sizeof(type))) {
        return st;
    }
    memcpy(st.value, v, (size_t)(of - v));
    st.value[of - v] = 0;
    if (integer_type(type)) {
        char *e = NULL;
        (void)strtoll(st.value, &e, 10);
        if (!st.value[0] || *e) {
            return st;
        }
        st.numeric = true;
    } else if (strcmp(type, "longstr") != 0) {
        return st;
    }
    memcpy(st.name, name, sizeof(name));
    st.kind = RMQ_DLX_ECHO_ARG;
    return st;
}

rmq_dlx_result_t brg_rmq_dlx_probe(brg_rmq_t *r, const char *queue, char *dlx, size_t dlx_size,
                                   char *why, size_t why_size)
{
    /* Echoed arguments first, the probing x-dead-letter-exchange (a number) last. */
    struct {
        char name[256], value[256];
        bool numeric;
    } echo[RMQ_DLX_ROUNDS];
    size_t necho = 0;
    bool durable = true, auto_delete = false;
    dlx[0] = 0;
    for (int round = 0; round < RMQ_DLX_ROUNDS; round++) {
        if (brg_rmq_control_open(r, why, why_size) != RMQ_RPC_OK) {
            return RMQ_DLX_R_CONN_LOST;
        }
        amqp_table_entry_t e[RMQ_DLX_ROUNDS + 1];
        memset(e, 0, sizeof(e));
        for (size_t i = 0; i < necho; i++) {
            e[i].key = amqp_cstring_bytes(echo[i].name);
            if (echo[i].numeric) {
                e[i].value.kind = AMQP_FIELD_KIND_I64;
                e[i].value.value.i64 = strtoll(echo[i].value, NULL, 10);
            } else {
                e[i].value.kind = AMQP_FIELD_KIND_UTF8;
                e[i].value.value.bytes = amqp_cstring_bytes(echo[i].value);
            }
        }
        e[necho].key = amqp_cstring_bytes("x-dead-letter-exchange");
        e[necho].value.kind = AMQP_FIELD_KIND_I64;
        e[necho].value.value.i64 = 0;
        amqp_table_t args = {(int)necho + 1, e};
        amqp_queue_declare(r->conn, RMQ_CH_CONTROL, amqp_cstring_bytes(queue), 0, durable, 0,
                           auto_delete, args);
        amqp_rpc_reply_t rep = amqp_get_rpc_reply(r->conn);
        char text[600] = "";
        int code = 0;
        if (rep.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
            rep.reply.id == AMQP_CHANNEL_CLOSE_METHOD && rep.reply.decoded) {
            const amqp_channel_close_t *m = rep.reply.decoded;
            code = m->reply_code;
            brg_errfmt(text, sizeof(text), "%.*s", (int)m->reply_text.len,
                       m->reply_text.len ? (const char *)m->reply_text.bytes : "");
        }
        /* Let brg_rmq_rpc_result answer the close (close-ok) or report a lost connection. */
        rmq_rpc_t rr = brg_rmq_rpc_result(r, RMQ_CH_CONTROL, "checking the dead-letter exchange",
                                          NULL, why, why_size);
        if (rr == RMQ_RPC_CONN_LOST) {
            return RMQ_DLX_R_CONN_LOST;
        }
        if (rr == RMQ_RPC_OK) {
            /* Never expected (the probe's argument has the wrong type on purpose). */
            brg_errfmt(why, why_size, "the broker accepted the probe declare of queue \"%s\"",
                       queue);
            return RMQ_DLX_R_UNKNOWN;
        }
        r->ctl_open = false;
        rmq_dlx_step_t st = brg_rmq_dlx_parse(code, text);
        switch (st.kind) {
        case RMQ_DLX_FOUND:
            brg_errfmt(dlx, dlx_size, "%s", st.value);
            return RMQ_DLX_R_YES;
        case RMQ_DLX_NONE: return RMQ_DLX_R_NO;
        case RMQ_DLX_FLIP_DURABLE: durable = !durable; break;
        case RMQ_DLX_FLIP_AUTO_DELETE: auto_delete = !auto_delete; break;
        case RMQ_DLX_ECHO_ARG:
            memcpy(echo[necho].name, st.name, sizeof(st.name));
            memcpy(echo[necho].value, st.value, sizeof(st.value));
            echo[necho].numeric = st.numeric;
            necho++;
            break;
        case RMQ_DLX_GONE:
            brg_errfmt(why, why_size, "queue \"%s\" does not exist", queue);
            return RMQ_DLX_R_UNKNOWN;
        case RMQ_DLX_UNKNOWN:
            brg_errfmt(why, why_size, "%s", text[0] ? text : "no reason given");
            return RMQ_DLX_R_UNKNOWN;
        }
    }
    brg_errfmt(why, why_size, "queue \"%s\" has too many arguments to compare", queue);
    return RMQ_DLX_R_UNKNOWN;
}
