/* STOMP 1.2 frame parser and encoder (see stomp_frame.h). */
#include "adapters/stomp/stomp_frame.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A frame with more headers than this is refused: the parser's work stays bounded. */
#define MAX_HEADERS 1024

void brg_stomp_frame_init(brg_stomp_frame_t *f)
{
    memset(f, 0, sizeof(*f));
}

void brg_stomp_frame_fini(brg_stomp_frame_t *f)
{
    for (size_t i = 0; i < f->nheaders; i++) {
        free(f->headers[i].name);
        free(f->headers[i].value);
    }
    free(f->headers);
    free(f->body);
    memset(f, 0, sizeof(*f));
}

const char *brg_stomp_get(const brg_stomp_frame_t *f, const char *name, size_t *len)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < f->nheaders; i++) {
        const brg_stomp_header_t *h = &f->headers[i];
        if (h->name_len == n && memcmp(h->name, name, n) == 0) {
            if (len) {
                *len = h->value_len;
            }
            return h->value;
        }
    }
    return NULL;
}

/* Unescape s[0..len) into a new string. Returns: NULL for an undefined escape (*bad set to
 * the offending character, or -1 for a trailing backslash). */
static char *unescape(const char *s, size_t len, bool escaped, size_t *out_len, int *bad)
{
    char *out = brg_xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\\' && escaped) {
            if (i + 1 == len) {
                *bad = -1;
                free(out);
                return NULL;
            }
            char e = s[++i];
            switch (e) {
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 'c': c = ':'; break;
            case '\\': c = '\\'; break;
            default:
                *bad = (unsigned char)e;
                free(out);
                return NULL;
            }
        }
        out[o++] = c;
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

/* Find the end of the line starting at pos: *eol is the LF, *next the byte after it, and the
 * line's content ends before a CR that precedes the LF. Returns: false if no LF yet. */
static bool line_at(const uint8_t *data, size_t len, size_t pos, size_t *content_end,
                    size_t *next)
{
    const uint8_t *lf = memchr(data + pos, '\n', len - pos);
    if (!lf) {
        return false;
    }
    size_t e = (size_t)(lf - data);
    *next = e + 1;
    if (e > pos && data[e - 1] == '\r') {
        e--;
    }
    *content_end = e;
    return true;
}

static brg_stomp_parse_rc_t bad(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static brg_stomp_parse_rc_t bad(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
    return BRG_STOMP_BAD;
}

brg_stomp_parse_rc_t brg_stomp_parse(const uint8_t *data, size_t len, size_t max_frame,
                                     brg_stomp_frame_t *f, size_t *consumed, char *errstr,
                                     size_t errstr_size)
{
    *consumed = 0;
    if (len == 0) {
        return BRG_STOMP_NEED_MORE;
    }
    /* Heart-beats: EOLs between frames. */
    if (data[0] == '\n') {
        *consumed = 1;
        return BRG_STOMP_HEARTBEAT;
    }
    if (data[0] == '\r') {
        if (len < 2) {
            return BRG_STOMP_NEED_MORE;
        }
        if (data[1] != '\n') {
            return bad(errstr, errstr_size, "malformed frame: a CR not followed by LF before a command");
        }
        *consumed = 2;
        return BRG_STOMP_HEARTBEAT;
    }
    /* First find the blank line that ends the headers, without allocating. */
    size_t pos = 0, end, next;
    size_t nlines = 0;
    size_t body_at = 0;
    for (;;) {
        if (!line_at(data, len, pos, &end, &next)) {
            if (len > max_frame) {
                return bad(errstr, errstr_size,
                           "frame too large: more than %zu bytes without the end of its headers "
                           "(max_frame_size)", max_frame);
            }
            return BRG_STOMP_NEED_MORE;
        }
        if (end == pos && nlines > 0) {
            body_at = next;
            break;
        }
        if (++nlines > MAX_HEADERS + 1) {
            return bad(errstr, errstr_size, "malformed frame: more than %d headers", MAX_HEADERS);
        }
        pos = next;
    }
    if (body_at > max_frame) {
        return bad(errstr, errstr_size, "frame too large: %zu bytes of headers (max_frame_size %zu)",
                   body_at, max_frame);
    }
    /* The command. */
    line_at(data, len, 0, &end, &next);
    size_t clen = end;
    if (clen == 0 || clen >= sizeof(f->command)) {
        return bad(errstr, errstr_size, "malformed frame: a command of %zu bytes", clen);
    }
    for (size_t i = 0; i < clen; i++) {
        if (data[i] < 'A' || data[i] > 'Z') {
            return bad(errstr, errstr_size,
                       "malformed frame: the command \"%.*s\" is not upper-case letters",
                       (int)(clen > 40 ? 40 : clen), (const char *)data);
        }
    }
    memcpy(f->command, data, clen);
    f->command[clen] = '\0';
    /* CONNECT and CONNECTED headers are not escaped (STOMP 1.2, "Value Encoding"). */
    bool escaped = strcmp(f->command, "CONNECTED") != 0 && strcmp(f->command, "CONNECT") != 0;
    pos = next;
    while (pos < body_at) {
        line_at(data, len, pos, &end, &next);
        if (end == pos) {
            break; /* the blank line */
        }
        const uint8_t *colon = memchr(data + pos, ':', end - pos);
        if (!colon) {
            return bad(errstr, errstr_size,
                       "malformed frame: %s header line \"%.*s\" has no ':'", f->command,
                       (int)(end - pos > 60 ? 60 : end - pos), (const char *)data + pos);
        }
        size_t nlen = (size_t)(colon - (data + pos));
        int badc = 0;
        size_t on, ov;
        char *name = unescape((const char *)data + pos, nlen, escaped, &on, &badc);
        char *value = name ? unescape((const char *)colon + 1, end - pos - nlen - 1, escaped, &ov,
                                      &badc)
                           : NULL;
        if (!value) {
            free(name);
            if (badc < 0) {
                return bad(errstr, errstr_size,
                           "malformed frame: %s header \"%.*s\" ends with a lone backslash",
                           f->command, (int)(nlen > 60 ? 60 : nlen), (const char *)data + pos);
            }
            return bad(errstr, errstr_size,
                       "malformed frame: %s header \"%.*s\" has the undefined escape \\%c "
                       "(valid: \\n \\r \\c \\\\)",
                       f->command, (int)(nlen > 60 ? 60 : nlen), (const char *)data + pos,
                       badc >= 0x20 && badc < 0x7f ? badc : '?');
        }
        if (f->nheaders == f->cap) {
            f->cap = f->cap ? f->cap * 2 : 8;
            f->headers = brg_xrealloc(f->headers, f->cap * sizeof(*f->headers));
        }
        f->headers[f->nheaders++] = (brg_stomp_header_t){name, on, value, ov};
        pos = next;
    }
    /* The body: content-length bytes and a NUL, or up to the first NUL. */
    size_t vlen;
    const char *cl = brg_stomp_get(f, "content-length", &vlen);
    size_t body_len;
    if (cl) {
        uint64_t n = 0;
        if (vlen == 0 || vlen > 19) {
            return bad(errstr, errstr_size, "malformed frame: content-length \"%.20s\" is not a number",
                       cl);
        }
        for (size_t i = 0; i < vlen; i++) {
            if (cl[i] < '0' || cl[i] > '9') {
                return bad(errstr, errstr_size,
                           "malformed frame: content-length \"%.20s\" is not a number", cl);
            }
            n = n * 10 + (uint64_t)(cl[i] - '0');
        }
        if (n > max_frame || body_at + n > max_frame) {
            return bad(errstr, errstr_size,
                       "frame too large: a %s body of %" PRIu64 " bytes (max_frame_size %zu)",
                       f->command, n, max_frame);
        }
        body_len = (size_t)n;
        if (len < body_at + body_len + 1) {
            return BRG_STOMP_NEED_MORE;
        }
        if (data[body_at + body_len] != '\0') {
            return bad(errstr, errstr_size,
                       "malformed frame: no NUL after the %zu body bytes of content-length",
                       body_len);
        }
    } else {
        const uint8_t *nul = memchr(data + body_at, '\0', len - body_at);
        if (!nul) {
            if (len > max_frame) {
                return bad(errstr, errstr_size,
                           "frame too large: a %s body without NUL after %zu bytes "
                           "(max_frame_size %zu)", f->command, len - body_at, max_frame);
            }
            return BRG_STOMP_NEED_MORE;
        }
        body_len = (size_t)(nul - (data + body_at));
    }
    if (body_len > 0) {
        f->body = brg_xmalloc(body_len + 1);
        memcpy(f->body, data + body_at, body_len);
        f->body[body_len] = '\0';
    }
    f->body_len = body_len;
    *consumed = body_at + body_len + 1;
    return BRG_STOMP_FRAME;
}

void brg_stomp_buf_append(brg_stomp_buf_t *b, const void *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1) {
            cap *= 2;
        }
        b->p = brg_xrealloc(b->p, cap);
        b->cap = cap;
    }
    if (len) {
        memcpy(b->p + b->len, data, len);
    }
    b->len += len;
}

void brg_stomp_buf_consume(brg_stomp_buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

void brg_stomp_buf_free(brg_stomp_buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

void brg_stomp_enc_begin(brg_stomp_buf_t *b, const char *command)
{
    brg_stomp_buf_append(b, command, strlen(command));
    brg_stomp_buf_append(b, "\n", 1);
}

static void append_escaped(brg_stomp_buf_t *b, const char *s, size_t len, bool escape)
{
    if (!escape) {
        brg_stomp_buf_append(b, s, len);
        return;
    }
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        const char *e = NULL;
        switch (s[i]) {
        case '\n': e = "\\n"; break;
        case '\r': e = "\\r"; break;
        case ':': e = "\\c"; break;
        case '\\': e = "\\\\"; break;
        default: continue;
        }
        brg_stomp_buf_append(b, s + run, i - run);
        brg_stomp_buf_append(b, e, 2);
        run = i + 1;
    }
    brg_stomp_buf_append(b, s + run, len - run);
}

void brg_stomp_enc_header(brg_stomp_buf_t *b, const char *name, size_t name_len,
                          const char *value, size_t value_len, bool escape)
{
    append_escaped(b, name, name_len, escape);
    brg_stomp_buf_append(b, ":", 1);
    append_escaped(b, value, value_len, escape);
    brg_stomp_buf_append(b, "\n", 1);
}

void brg_stomp_enc_hdr(brg_stomp_buf_t *b, const char *name, const char *value)
{
    brg_stomp_enc_header(b, name, strlen(name), value, strlen(value), true);
}

void brg_stomp_enc_end(brg_stomp_buf_t *b, const void *body, size_t body_len)
{
    char cl[48];
    int n = snprintf(cl, sizeof(cl), "content-length:%zu\n\n", body_len);
    brg_stomp_buf_append(b, cl, (size_t)n);
    brg_stomp_buf_append(b, body, body_len);
    brg_stomp_buf_append(b, "", 1);
}
