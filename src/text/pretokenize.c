/* The pre-tokenizer pattern: the o200k text, and its translation from the Rust-regex dialect
 * (tiktoken's fancy-regex, HF's Oniguruma) to PCRE2 in UTF + UCP mode.
 *
 * The one difference that matters for these patterns is \s. Rust regex and Oniguruma take it as
 * Unicode White_Space, which includes U+0085 (NEL); PCRE2's UCP \s is "Z or HT/LF/VT/FF/CR" and
 * misses NEL. So \s and \S are spelled out as the White_Space list. */
#include "text/tokenizer_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char herd_o200k_pattern[] =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*"
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* Unicode White_Space (PropList.txt), as class items. */
static const char white_space[] = "\\x{9}-\\x{D}\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}"
                                  "\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

char *tok_rewrite_pattern(const char *pattern)
{
    size_t n = strlen(pattern), cap = n * (sizeof white_space + 3) + 1;
    char *out = malloc(cap), *o = out;
    if (!out)
        return NULL;
    int depth = 0; /* nesting of [...] classes */
    for (size_t i = 0; i < n; i++) {
        char c = pattern[i];
        if (c == '\\' && i + 1 < n) {
            char e = pattern[++i];
            if (e == 's' && depth > 0) {
                o += sprintf(o, "%s", white_space);
            } else if (e == 's' || e == 'S') {
                /* \S inside a class has no exact spelling; it is left to PCRE2 (rare). */
                if (depth > 0)
                    o += sprintf(o, "\\S");
                else
                    o += sprintf(o, "[%s%s]", e == 'S' ? "^" : "", white_space);
            } else {
                *o++ = '\\';
                *o++ = e;
            }
            continue;
        }
        *o++ = c;
        if (c == '[') {
            /* "[]" or "[^]" at the start of a class: that ']' is a literal. */
            if (depth == 0 || (i + 1 < n && pattern[i + 1] == ':')) {
                if (depth == 0) {
                    depth = 1;
                    if (i + 1 < n && pattern[i + 1] == '^')
                        *o++ = pattern[++i];
                    if (i + 1 < n && pattern[i + 1] == ']')
                        *o++ = pattern[++i];
                } else {
                    depth++; /* [:alpha:] inside a class */
                }
            } else {
                depth++; /* a nested class (Rust syntax) */
            }
        } else if (c == ']' && depth > 0) {
            depth--;
        }
    }
    *o = 0;
    return out;
}

herd_status tok_compile_pattern(herd_tokenizer *t, const char *pattern)
{
    if (strlen(pattern) > HERD_PATTERN_MAX_BYTES)
        return herd_fail(HERD_ERR_RANGE, "%s: the pattern is longer than %zu bytes", t->source,
                         HERD_PATTERN_MAX_BYTES);
    char *rewritten = tok_rewrite_pattern(pattern);
    free(t->pattern);
    t->pattern = strdup(pattern);
    if (!rewritten || !t->pattern)
        return herd_fail(HERD_ERR_NOMEM, "%s: out of memory for the pattern", t->source);
    int err;
    PCRE2_SIZE at;
    if (t->re)
        pcre2_code_free(t->re);
    t->re = pcre2_compile((PCRE2_SPTR)rewritten, PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &at, NULL);
    free(rewritten);
    if (!t->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return herd_fail(HERD_ERR_FORMAT, "%s: the pre-tokenizer pattern does not compile: %s",
                         t->source, (const char *)msg);
    }
    t->jit = pcre2_jit_compile(t->re, PCRE2_JIT_COMPLETE) == 0;
    return HERD_OK;
}
