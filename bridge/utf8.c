/* UTF-8 and hex digits (see utf8.h). */
#include "bridge/utf8.h"

#include <string.h>

size_t brg_utf8_seq_len(const unsigned char *s, size_t avail)
{
    if (avail == 0) {
        return 0;
    }
    unsigned char c = s[0];
    if (c < 0x80) {
        return 1;
    }
    /* c0 and c1 only start overlong forms; f5-ff would be past U+10FFFF. */
    size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (n == 0 || c > 0xf4 || n > avail) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    /* The second byte rules out overlong 3- and 4-byte forms, surrogates (ed a0-bf) and code
     * points past U+10FFFF (f4 90-bf). */
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) || (c == 0xf0 && s[1] < 0x90) ||
        (c == 0xf4 && s[1] > 0x8f)) {
        return 0;
    }
    return n;
}

bool brg_utf8_valid(const void *s, size_t len)
{
    const unsigned char *p = s;
    for (size_t i = 0; i < len;) {
        size_t n = brg_utf8_seq_len(p + i, len - i);
        if (n == 0) {
            return false;
        }
        i += n;
    }
    return true;
}

bool brg_utf8_is_text(const void *s, size_t len)
{
    return (!len || !memchr(s, '\0', len)) && brg_utf8_valid(s, len);
}

uint32_t brg_utf8_decode(const unsigned char *s, size_t avail, size_t *seq_len)
{
    size_t n = brg_utf8_seq_len(s, avail);
    *seq_len = n;
    if (n <= 1) {
        return avail ? s[0] : 0;
    }
    /* The lead byte keeps 5, 4 or 3 payload bits for 2, 3 or 4 byte sequences. */
    uint32_t cp = s[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        cp = cp << 6 | (s[i] & 0x3f);
    }
    return cp;
}

size_t brg_utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    if (cp < 0x110000) {
        out[0] = (char)(0xf0 | cp >> 18);
        out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
        out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[3] = (char)(0x80 | (cp & 0x3f));
        return 4;
    }
    return 0;
}

int brg_hex_digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}
