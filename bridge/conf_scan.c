/* Raw-text checks of configuration files (see conf_scan.h). The scanner follows libconfig's
 * lexical rules only as far as it must: strings with backslash escapes, the three comment
 * forms, @include at the start of a line, and integer literals. */
#include "bridge/conf_scan.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bridge/err.h"

char *brg_conf_read_text(const char *path, const char *file, int line, size_t *len,
                         brg_diag_t *d)
{
    struct stat st;
    const char *where = file ? file : path;
    if (stat(path, &st) != 0) {
        if (file) {
            brg_diag_error_at(d, where, line, NULL, "cannot open include file \"%s\": %s", path,
                              strerror(errno));
        } else {
            brg_diag_error_at(d, path, 0, NULL, "cannot read the file: %s", strerror(errno));
        }
        return NULL;
    }
    /* Pipes and devices (/dev/stdin, /dev/null) are read like files; a directory is not. */
    if (S_ISDIR(st.st_mode)) {
        brg_diag_error_at(d, where, line, NULL,
                          "\"%s\" is a directory, not a configuration file", path);
        return NULL;
    }
    if (S_ISREG(st.st_mode) && st.st_size > BRG_CONF_MAX_BYTES) {
        brg_diag_error_at(d, where, line, NULL,
                          "\"%s\" is %lld bytes; a configuration is limited to %ld MiB", path,
                          (long long)st.st_size, BRG_CONF_MAX_BYTES / (1024 * 1024));
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        brg_diag_error_at(d, where, line, NULL, "cannot read \"%s\": %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = (S_ISREG(st.st_mode) ? (size_t)st.st_size : 4096) + 1, n = 0;
    char *text = brg_xmalloc(cap);
    size_t got;
    while (n <= (size_t)BRG_CONF_MAX_BYTES && (got = fread(text + n, 1, cap - 1 - n, f)) > 0) {
        n += got;
        if (n == cap - 1) {
            cap *= 2;
            text = brg_xrealloc(text, cap);
        }
    }
    bool failed = ferror(f);
    fclose(f);
    if (failed || n > (size_t)BRG_CONF_MAX_BYTES) {
        if (failed) {
            brg_diag_error_at(d, where, line, NULL, "cannot read \"%s\"", path);
        } else {
            brg_diag_error_at(d, where, line, NULL,
                              "\"%s\" is larger than %ld MiB, the limit for a configuration",
                              path, BRG_CONF_MAX_BYTES / (1024 * 1024));
        }
        free(text);
        return NULL;
    }
    text[n] = 0;
    *len = n;
    return text;
}

/* Is the decimal digit run s[0..n) larger than INT64_MAX (leading zeros ignored)? */
static bool too_big_decimal(const char *s, size_t n)
{
    while (n > 1 && *s == '0') {
        s++;
        n--;
    }
    static const char max[] = "9223372036854775807";
    size_t maxlen = sizeof(max) - 1;
    return n > maxlen || (n == maxlen && memcmp(s, max, n) > 0);
}

/* Does a number start at text[i] (not inside a name such as "a1" or after a '.')? */
static bool starts_number(const char *text, size_t i)
{
    if (i == 0) {
        return true;
    }
    char p = text[i - 1];
    return !(isalnum((unsigned char)p) || p == '_' || p == '.');
}

/* The files being scanned, outermost first (to name an include cycle). */
#define MAX_CHAIN 10
typedef struct {
    char *real[MAX_CHAIN + 1];
    size_t n;
} chain_t;

static bool scan(const char *text, size_t len, const char *file, const char *dir, chain_t *ch,
                 brg_diag_t *d);
static bool include_target(const char *text, size_t len, size_t *i, int line, const char *file,
                           const char *dir, chain_t *ch, brg_diag_t *d);

bool brg_conf_scan(const char *text, size_t len, const char *file, const char *dir,
                   brg_diag_t *d)
{
    chain_t ch = {.n = 0};
    ch.real[ch.n++] = realpath(file, NULL);
    bool ok = scan(text, len, file, dir, &ch, d);
    for (size_t i = 0; i < ch.n; i++) {
        free(ch.real[i]);
    }
    return ok;
}

static bool scan(const char *text, size_t len, const char *file, const char *dir, chain_t *ch,
                 brg_diag_t *d)
{
    size_t before = d->errors;
    int line = 1;
    bool line_start = true;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == 0) {
            brg_diag_error_at(d, file, line, NULL,
                              "a NUL byte: this is not a text file (binary, or a wrong encoding)");
            return false; /* one is enough: the rest is not text either */
        }
        if (c == '\n') {
            line++;
            line_start = true;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r') {
            continue;
        }
        bool at_start = line_start;
        line_start = false;
        if (c == '#' || (c == '/' && i + 1 < len && text[i + 1] == '/')) {
            while (i + 1 < len && text[i + 1] != '\n') {
                i++;
            }
        } else if (c == '/' && i + 1 < len && text[i + 1] == '*') {
            for (i += 2; i + 1 < len && !(text[i] == '*' && text[i + 1] == '/'); i++) {
                line += text[i] == '\n';
            }
            i++;
        } else if (c == '"') {
            for (i++; i < len && text[i] != '"'; i++) {
                if (text[i] == '\n') {
                    line++;
                } else if (text[i] == '\\' && i + 1 < len) {
                    if (i + 3 < len && (text[i + 1] == 'x' || text[i + 1] == 'X') &&
                        text[i + 2] == '0' && text[i + 3] == '0') {
                        brg_diag_error_at(d, file, line, NULL,
                                          "\"\\x00\" in a string: a NUL cannot be part of a "
                                          "configuration value");
                    }
                    i++;
                }
            }
        } else if (at_start && c == '@' && len - i >= 8 && memcmp(text + i, "@include", 8) == 0) {
            i += 8;
            include_target(text, len, &i, line, file, dir, ch, d);
        } else if (isdigit((unsigned char)c) && starts_number(text, i)) {
            size_t start = i;
            bool hex = c == '0' && i + 1 < len && (text[i + 1] == 'x' || text[i + 1] == 'X');
            if (hex) {
                i += 2;
                while (i < len && isxdigit((unsigned char)text[i])) {
                    i++;
                }
            } else {
                while (i < len && isdigit((unsigned char)text[i])) {
                    i++;
                }
            }
            bool is_float = !hex && i < len && (text[i] == '.' || text[i] == 'e' || text[i] == 'E');
            size_t digits = i - start - (hex ? 2 : 0);
            if (!is_float && (hex ? digits > 16 : too_big_decimal(text + start, i - start))) {
                brg_diag_error_at(d, file, line, NULL,
                                  "integer %.*s is too large (at most 9223372036854775807)",
                                  (int)(i - start > 40 ? 40 : i - start), text + start);
            }
            i--; /* the loop's i++ moves past the number */
        }
    }
    return d->errors == before;
}

/* After "@include": the quoted path; check the file exists, is a regular file, and scan it. */
static bool include_target(const char *text, size_t len, size_t *i, int line, const char *file,
                           const char *dir, chain_t *ch, brg_diag_t *d)
{
    size_t j = *i;
    while (j < len && (text[j] == ' ' || text[j] == '\t')) {
        j++;
    }
    if (j >= len || text[j] != '"') {
        *i = j;
        return true; /* malformed: libconfig reports the syntax error */
    }
    size_t start = ++j;
    while (j < len && text[j] != '"' && text[j] != '\n') {
        j++;
    }
    *i = j;
    if (j >= len || text[j] != '"') {
        return true;
    }
    char name[4096];
    size_t n = j - start;
    if (n == 0 || n >= sizeof(name) - 1) {
        return true;
    }
    char path[8192];
    if (text[start] == '/' || !dir) {
        snprintf(path, sizeof(path), "%.*s", (int)n, text + start);
    } else {
        snprintf(path, sizeof(path), "%s/%.*s", dir, (int)n, text + start);
    }
    char *real = realpath(path, NULL);
    for (size_t k = 0; real && k < ch->n; k++) {
        if (ch->real[k] && strcmp(ch->real[k], real) == 0) {
            brg_diag_error_at(d, file, line, NULL, "@include \"%s\" is an include cycle (%s is "
                              "already being read)", path, real);
            free(real);
            return false;
        }
    }
    if (ch->n >= MAX_CHAIN) {
        brg_diag_error_at(d, file, line, NULL, "@include \"%s\": includes nested deeper than %d",
                          path, MAX_CHAIN);
        free(real);
        return false;
    }
    size_t sublen = 0;
    char *sub = brg_conf_read_text(path, file, line, &sublen, d);
    if (!sub) {
        free(real);
        return false;
    }
    ch->real[ch->n++] = real;
    bool ok = scan(sub, sublen, path, dir, ch, d);
    free(ch->real[--ch->n]);
    free(sub);
    return ok;
}
