/* The growable buffer and the Prometheus label escaper (see buf.h). */
#include "bridge/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/err.h"

/* Grow to hold len + extra + 1 (the NUL): doubling keeps appends amortised O(1). */
static void reserve(brg_buf_t *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) {
        return;
    }
    size_t ncap = b->cap ? b->cap : 32;
    while (ncap < b->len + extra + 1) {
        ncap *= 2;
    }
    b->data = brg_xrealloc(b->data, ncap);
    b->cap = ncap;
}

void brg_buf_add(brg_buf_t *b, const void *p, size_t n)
{
    reserve(b, n);
    if (n) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
}

void brg_buf_reset(brg_buf_t *b)
{
    b->len = 0;
    if (b->data) {
        b->data[0] = '\0';
    }
}

void brg_buf_str(brg_buf_t *b, const char *s)
{
    if (s) {
        brg_buf_add(b, s, strlen(s));
    }
}

void brg_buf_byte(brg_buf_t *b, char c)
{
    brg_buf_add(b, &c, 1);
}

void brg_buf_printf(brg_buf_t *b, const char *fmt, ...)
{
    /* Format in place; when it did not fit, grow to the size vsnprintf reported and again. */
    for (;;) {
        size_t room = b->cap - b->len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        reserve(b, (size_t)n);
    }
}

char *brg_buf_steal(brg_buf_t *b, size_t *len)
{
    reserve(b, 0);
    b->data[b->len] = '\0'; /* a buffer nothing was added to has no NUL yet */
    char *data = b->data;
    if (len) {
        *len = b->len;
    }
    memset(b, 0, sizeof(*b));
    return data;
}

void brg_buf_fini(brg_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

const char *brg_prom_label(const char *s, char *out, size_t size)
{
    size_t o = 0;
    if (!size) {
        return out;
    }
    /* o + 3 < size leaves room for an escape pair and the NUL. */
    for (; s && *s && o + 3 < size; s++) {
        if (*s == '\\' || *s == '"') {
            out[o++] = '\\';
            out[o++] = *s;
        } else if (*s == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
    return out;
}

void brg_buf_json_str(brg_buf_t *b, const char *s)
{
    brg_buf_printf(b, "\"");
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            brg_buf_printf(b, "\\%c", c);
        } else if (c < 0x20) {
            brg_buf_printf(b, "\\u%04x", c);
        } else {
            brg_buf_printf(b, "%c", c);
        }
    }
    brg_buf_printf(b, "\"");
}
