#include "adapters/file/base64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/err.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *brg_b64_encode(const void *data, size_t len, size_t *out_len)
{
    const uint8_t *p = data;
    size_t n = (len + 2) / 3 * 4;
    char *out = brg_xmalloc(n + 1);
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
        out[o++] = '=';
    }
    out[o] = 0;
    if (out_len) {
        *out_len = o;
    }
    return out;
}

static int sextet(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

bool brg_b64_decode(const char *text, size_t len, uint8_t **out, size_t *out_len, char *why,
                    size_t why_size)
{
    *out = NULL;
    *out_len = 0;
    if (len % 4 != 0) {
        brg_errfmt(why, why_size, "length %zu is not a multiple of 4", len);
        return false;
    }
    size_t pad = 0;
    if (len >= 4 && text[len - 1] == '=') {
        pad = text[len - 2] == '=' ? 2 : 1;
    }
    size_t n = len / 4 * 3 - pad;
    uint8_t *buf = brg_xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int s[4];
        bool last = i + 4 == len;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)text[i + k];
            /* '=' is only allowed as the padding of the last group. */
            if (c == '=' && last && k >= 4 - (int)pad) {
                s[k] = 0;
                continue;
            }
            s[k] = sextet(c);
            if (s[k] < 0) {
                free(buf);
                if (c == '=') {
                    brg_errfmt(why, why_size, "misplaced padding at offset %zu", i + (size_t)k);
                } else if (c >= 0x20 && c < 0x7f) {
                    brg_errfmt(why, why_size, "invalid character '%c' at offset %zu", c,
                               i + (size_t)k);
                } else {
                    brg_errfmt(why, why_size, "invalid byte 0x%02x at offset %zu", c,
                               i + (size_t)k);
                }
                return false;
            }
        }
        uint32_t v = (uint32_t)s[0] << 18 | (uint32_t)s[1] << 12 | (uint32_t)s[2] << 6 | (uint32_t)s[3];
        buf[o++] = (uint8_t)(v >> 16);
        if (!last || pad < 2) {
            buf[o++] = (uint8_t)(v >> 8);
        }
        if (!last || pad < 1) {
            buf[o++] = (uint8_t)v;
        }
        /* Canonical form only: bits below the last encoded byte must be zero. */
        if (last && ((pad == 1 && (v & 0xff)) || (pad == 2 && (v & 0xffff)))) {
            free(buf);
            brg_errfmt(why, why_size, "non-zero padding bits at offset %zu", len - pad - 1);
            return false;
        }
    }
    buf[o] = 0;
    *out = buf;
    *out_len = o;
    return true;
}
