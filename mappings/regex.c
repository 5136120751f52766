#include "mappings/regex.h"

#include <stdbool.h>
#include <string.h>

#include "bridge/err.h"

static bool is_quantifier(char c)
{
    return c == '*' || c == '+' || c == '?' || c == '{';
}

/* Skip a {m,n} bound starting at p[0] == '{'. Returns: the index after it. */
static size_t skip_bound(const char *p, size_t i)
{
    while (p[i] && p[i] != '}') {
        i++;
    }
    return p[i] ? i + 1 : i;
}

int brg_regex_compile(regex_t *re, const char *pattern, int flags, char *errstr,
                      size_t errstr_size)
{
    size_t len = strlen(pattern);
    if (len > BRG_REGEX_MAX_LEN) {
        brg_errfmt(errstr, errstr_size, "longer than %d characters", BRG_REGEX_MAX_LEN);
        return 1;
    }
    /* depth[k]: the deepest repetition nesting inside the group open at level k. */
    int depth[BRG_REGEX_MAX_LEN + 2] = {0};
    int level = 0, worst = 0;
    bool prev_quant = false;
    for (size_t i = 0; i < len;) {
        char c = pattern[i];
        if (c == '\\' && pattern[i + 1]) {
            i += 2;
            prev_quant = false;
            continue;
        }
        if (c == '[') {
            /* A bracket expression: quantifier characters inside are literal. */
            size_t j = i + 1;
            if (pattern[j] == '^') {
                j++;
            }
            if (pattern[j] == ']') {
                j++;
            }
            while (pattern[j] && pattern[j] != ']') {
                j++;
            }
            i = pattern[j] ? j + 1 : j;
            prev_quant = false;
            continue;
        }
        if (c == '(') {
            level++;
            depth[level] = 0;
            i++;
            prev_quant = false;
            continue;
        }
        if (c == ')' && level > 0) {
            int inner = depth[level];
            level--;
            i++;
            if (pattern[i] && is_quantifier(pattern[i])) {
                inner++;
                i = pattern[i] == '{' ? skip_bound(pattern, i) : i + 1;
                if (pattern[i] && is_quantifier(pattern[i])) {
                    brg_errfmt(errstr, errstr_size,
                               "a repetition follows another one at column %zu", i + 1);
                    return 1;
                }
            }
            if (inner > depth[level]) {
                depth[level] = inner;
            }
            if (inner > worst) {
                worst = inner;
            }
            prev_quant = false;
            continue;
        }
        if (is_quantifier(c)) {
            if (prev_quant) {
                brg_errfmt(errstr, errstr_size,
                           "a repetition follows another one at column %zu", i + 1);
                return 1;
            }
            if (depth[level] < 1) {
                depth[level] = 1;
            }
            if (worst < 1) {
                worst = 1;
            }
            i = c == '{' ? skip_bound(pattern, i) : i + 1;
            prev_quant = true;
            continue;
        }
        prev_quant = false;
        i++;
    }
    if (worst > BRG_REGEX_MAX_REPEAT_DEPTH) {
        brg_errfmt(errstr, errstr_size, "repetitions nested more than %d deep",
                   BRG_REGEX_MAX_REPEAT_DEPTH);
        return 1;
    }
    int rc = regcomp(re, pattern, flags);
    if (rc != 0) {
        char msg[128];
        regerror(rc, re, msg, sizeof(msg));
        brg_errfmt(errstr, errstr_size, "%s", msg);
        return rc;
    }
    return 0;
}
