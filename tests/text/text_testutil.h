/* Helpers shared by the text-layer tests: reading line files and id lists, comparing an
 * encoding with expected ids and checking that it decodes back to the same bytes. */
#ifndef HERD_TEXT_TESTUTIL_H
#define HERD_TEXT_TESTUTIL_H

#include "harness.h"
#include "herd/text.h"

#include <jansson.h>

typedef struct line_file {
    char *data;
    size_t size, n;
    const char **line;
    size_t *len;
} line_file;

/* Splits a file on LF only; a final LF does not start another line. */
static inline line_file lines_read(const char *path)
{
    line_file f = {0};
    f.data = harness_read_file(path, &f.size);
    f.line = malloc((f.size + 1) * sizeof *f.line);
    f.len = malloc((f.size + 1) * sizeof *f.len);
    size_t start = 0;
    for (size_t i = 0; i <= f.size; i++) {
        if (i == f.size && start == f.size)
            break;
        if (i == f.size || f.data[i] == '\n') {
            f.line[f.n] = f.data + start;
            f.len[f.n++] = i - start;
            start = i + 1;
        }
    }
    return f;
}

static inline void lines_free(line_file *f)
{
    free(f->data);
    free(f->line);
    free(f->len);
}

static inline herd_tokens ids_parse(const char *s, size_t n)
{
    herd_tokens t = {0};
    for (size_t i = 0; i < n;) {
        if (s[i] < '0' || s[i] > '9') {
            i++;
            continue;
        }
        long v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            v = v * 10 + (s[i++] - '0');
        herd_tokens_push(&t, (int32_t)v);
    }
    return t;
}

static inline herd_tokens ids_from_json(json_t *a)
{
    herd_tokens t = {0};
    for (size_t i = 0; i < json_array_size(a); i++)
        herd_tokens_push(&t, (int32_t)json_integer_value(json_array_get(a, i)));
    return t;
}

/* Encodes text and compares with `want`; then decodes and compares with the text (when the
 * encoding was ordinary). Returns true when all matched. */
static inline bool check_encoding(const herd_tokenizer *tok, const char *text, size_t len,
                                  unsigned flags, const herd_tokens *want, const char *what)
{
    herd_tokens got = {0};
    herd_status st = herd_tokenizer_encode(tok, text, len, flags, &got);
    bool ok = st == HERD_OK && got.n == want->n &&
              (got.n == 0 || memcmp(got.ids, want->ids, got.n * sizeof *got.ids) == 0);
    if (!ok) {
        size_t i = 0;
        while (i < got.n && i < want->n && got.ids[i] == want->ids[i])
            i++;
        CHECK_MSG(0, "%s: encoding differs at id %zu (got %zu ids, want %zu; %d vs %d) %s", what, i,
                  got.n, want->n, i < got.n ? got.ids[i] : -1, i < want->n ? want->ids[i] : -1,
                  st ? herd_last_error() : "");
    } else if (!(flags & HERD_ENCODE_SPECIAL)) {
        char *back = NULL;
        size_t blen = 0;
        st = herd_tokenizer_decode(tok, got.ids, got.n, 0, &back, &blen);
        ok = st == HERD_OK && blen == len && memcmp(back, text, len) == 0;
        CHECK_MSG(ok, "%s: does not decode back to the same bytes", what);
        free(back);
    }
    herd_tokens_free(&got);
    return ok;
}

/* Exits the test program when loading test data failed; else returns *tok. */
static inline herd_tokenizer *load_or_die(herd_status st, herd_tokenizer **tok, const char *what)
{
    if (st) {
        fprintf(stderr, "cannot load %s: %s\n", what, herd_last_error());
        exit(2);
    }
    return *tok;
}

#endif
