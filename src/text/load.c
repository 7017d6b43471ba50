/* Loading tiktoken rank files (.tiktoken, Meta's tokenizer.model), special-token TSV files and
 * model directories. tokenizer.json is in load_json.c. */
#include "herd/io_json.h"
#include "text/tokenizer_internal.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int b64_value(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Standard base64 with '=' padding; returns the decoded length or -1. */
static long b64_decode(const uint8_t *s, size_t n, uint8_t *out)
{
    if (n == 0 || n % 4)
        return -1;
    size_t pad = s[n - 1] == '=' ? (s[n - 2] == '=' ? 2 : 1) : 0;
    long o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) {
            bool padded = i + 4 == n && k >= 4 - (int)pad;
            v[k] = padded ? 0 : b64_value(s[i + k]);
            if (v[k] < 0)
                return -1;
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[o++] = (uint8_t)(w >> 16);
        if (!(i + 4 == n && pad == 2))
            out[o++] = (uint8_t)(w >> 8);
        if (!(i + 4 == n && pad >= 1))
            out[o++] = (uint8_t)w;
    }
    return o;
}

static herd_status parse_ranks(herd_tokenizer *t, const herd_mapped_file *f, int32_t *n_ranks)
{
    const uint8_t *p = f->data, *endp = f->data + f->size;
    uint8_t buf[1024];
    size_t line = 0;
    *n_ranks = 0;
    while (p < endp) {
        const uint8_t *eol = memchr(p, '\n', (size_t)(endp - p));
        if (!eol)
            eol = endp;
        line++;
        const uint8_t *q = eol;
        if (q > p && q[-1] == '\r')
            q--;
        if (q > p) {
            const uint8_t *sp = memchr(p, ' ', (size_t)(q - p));
            if (!sp)
                return herd_fail(HERD_ERR_FORMAT, "%s:%zu: expected 'base64 rank'", t->source,
                                 line);
            size_t tl = (size_t)(sp - p);
            long bl = tl > 4 * (sizeof buf / 3) ? -1 : b64_decode(p, tl, buf);
            if (bl <= 0)
                return herd_fail(HERD_ERR_FORMAT, "%s:%zu: the token is not valid base64",
                                 t->source, line);
            int64_t rank = 0;
            const uint8_t *r = sp + 1;
            if (r == q)
                return herd_fail(HERD_ERR_FORMAT, "%s:%zu: missing rank", t->source, line);
            for (; r < q; r++) {
                if (!isdigit(*r) || rank > TOK_MAX_IDS)
                    return herd_fail(HERD_ERR_FORMAT, "%s:%zu: the rank is not a number below %d",
                                     t->source, line, TOK_MAX_IDS);
                rank = rank * 10 + (*r - '0');
            }
            herd_status st = tok_set(t, (int32_t)rank, buf, (size_t)bl, false);
            if (st) { /* add the line number to tok_set's message */
                char msg[512];
                snprintf(msg, sizeof msg, "%s", herd_last_error());
                return herd_fail(st, "%s (line %zu)", msg, line);
            }
            ++*n_ranks;
        }
        p = eol + 1;
    }
    if (*n_ranks == 0)
        return herd_fail(HERD_ERR_FORMAT, "%s: no ranks in the file", t->source);
    return HERD_OK;
}

herd_status herd_tokenizer_load_tiktoken(const char *path, const char *pattern,
                                         herd_tokenizer **out)
{
    *out = NULL;
    herd_mapped_file f;
    herd_status st = herd_map_file(path, &f);
    if (st)
        return st;
    herd_tokenizer *t;
    if ((st = tok_create(path, &t))) {
        herd_unmap_file(&f);
        return st;
    }
    int32_t n_ranks = 0;
    st = parse_ranks(t, &f, &n_ranks);
    herd_unmap_file(&f);
    if (!st)
        st = tok_finish(t);
    /* Meta's Llama 4 tokenizer.model: 200,000 ranks, then 2,048 special tokens. */
    if (!st && n_ranks == 200000 && t->n_ids == 200000)
        tok_add_llama4_specials(t, 200000, &st);
    if (!st)
        st = tok_compile_pattern(t, pattern ? pattern : herd_o200k_pattern);
    if (st) {
        herd_tokenizer_free(t);
        return st;
    }
    *out = t;
    return HERD_OK;
}

herd_status herd_tokenizer_load_specials(herd_tokenizer *tok, const char *tsv_path)
{
    herd_mapped_file f;
    herd_status st = herd_map_file(tsv_path, &f);
    if (st)
        return st;
    const char *p = (const char *)f.data, *endp = p + f.size;
    char text[1024];
    for (size_t line = 1; p < endp && !st; line++) {
        const char *eol = memchr(p, '\n', (size_t)(endp - p));
        if (!eol)
            eol = endp;
        const char *q = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
        if (q > p && !(line == 1 && !isdigit((unsigned char)*p))) {
            const char *tab = memchr(p, '\t', (size_t)(q - p));
            long id = 0;
            const char *r = p;
            for (; tab && r < tab && isdigit((unsigned char)*r) && id <= TOK_MAX_IDS; r++)
                id = id * 10 + (*r - '0');
            const char *te = tab ? memchr(tab + 1, '\t', (size_t)(q - tab - 1)) : NULL;
            if (!te)
                te = q;
            size_t tl = tab ? (size_t)(te - tab - 1) : 0;
            if (!tab || r != tab || r == p || id >= TOK_MAX_IDS || tl == 0 || tl >= sizeof text)
                st = herd_fail(HERD_ERR_FORMAT, "%s:%zu: expected 'id<TAB>token text'", tsv_path,
                               line);
            else {
                memcpy(text, tab + 1, tl);
                text[tl] = 0;
                if (strlen(text) != tl)
                    st = herd_fail(HERD_ERR_FORMAT, "%s:%zu: NUL in token text", tsv_path, line);
                else if ((st = herd_tokenizer_add_special(tok, (int32_t)id, text))) {
                    char msg[512]; /* name the TSV too: the message names the vocabulary */
                    snprintf(msg, sizeof msg, "%s", herd_last_error());
                    st = herd_fail(st, "%s:%zu: %s", tsv_path, line, msg);
                }
            }
        }
        p = eol + 1;
    }
    herd_unmap_file(&f);
    return st;
}

herd_status herd_tokenizer_load_file(const char *path, const char *pattern, herd_tokenizer **out)
{
    *out = NULL;
    int fd;
    size_t size;
    herd_status st = herd_open_input(path, &fd, &size);
    if (st)
        return st;
    FILE *fp = fdopen(fd, "rb");
    if (!fp) {
        close(fd);
        return herd_fail(HERD_ERR_NOMEM, "%s: cannot open: %s", path, strerror(errno));
    }
    char magic[4] = {0};
    size_t got = fread(magic, 1, 4, fp);
    rewind(fp);
    int c;
    while ((c = fgetc(fp)) != EOF && isspace(c))
        ;
    fclose(fp);
    if (got == 4 && memcmp(magic, "GGUF", 4) == 0) {
        if (pattern)
            return herd_fail(HERD_ERR_ARG, "%s: a GGUF tokenizer carries its own pattern", path);
        return herd_tokenizer_load_gguf(path, out);
    }
    if (c == '{') {
        if (pattern)
            return herd_fail(HERD_ERR_ARG, "%s: a tokenizer.json carries its own pattern", path);
        return herd_tokenizer_load_json(path, out);
    }
    return herd_tokenizer_load_tiktoken(path, pattern, out);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Whether the name is there: a link to /dev/zero or a FIFO is then refused by its reader with
 * what it is, rather than reported as missing. */
static bool is_file(const char *path)
{
    return herd_path_exists(path);
}

/* generation_config.json's eos_token_id (one id or a list) joins the stop set. */
static herd_status load_generation_config(herd_tokenizer *t, const char *path)
{
    json_t *root;
    herd_status st = herd_json_load_file(path, &root);
    if (st)
        return st;
    json_t *eos = json_is_object(root) ? json_object_get(root, "eos_token_id") : NULL;
    if (!json_is_object(root))
        st = herd_fail(HERD_ERR_FORMAT, "%s: expected a JSON object", path);
    else if (eos && !json_is_null(eos)) {
        size_t n = json_is_array(eos) ? json_array_size(eos) : 1;
        for (size_t i = 0; i < n && !st; i++) {
            json_t *v = json_is_array(eos) ? json_array_get(eos, i) : eos;
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) >= TOK_MAX_IDS)
                st = herd_fail(HERD_ERR_FORMAT, "%s: eos_token_id must be token ids", path);
            else
                st = herd_tokenizer_add_stop(t, (int32_t)json_integer_value(v));
        }
    }
    json_decref(root);
    return st;
}

herd_status herd_tokenizer_load_dir(const char *dir, herd_tokenizer **out)
{
    *out = NULL;
    size_t dl0 = strlen(dir);
    if (dl0 > 5 && strcmp(dir + dl0 - 5, ".gguf") == 0 && herd_path_exists(dir) && !is_dir(dir))
        return herd_tokenizer_load_gguf(dir, out);
    static const char *const names[] = {"tokenizer.json", "tokenizer.model",
                                        "original/tokenizer.model"};
    size_t dl = strlen(dir);
    char *path = malloc(dl + 64);
    if (!path)
        return herd_fail(HERD_ERR_NOMEM, "out of memory");
    herd_status st = HERD_OK;
    bool found = false;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, dl + 64, "%s/%s", dir, names[i]);
        if (is_file(path)) {
            found = true;
            st = i == 0 ? herd_tokenizer_load_json(path, out)
                        : herd_tokenizer_load_tiktoken(path, NULL, out);
            break;
        }
    }
    if (!found)
        st = herd_fail(HERD_ERR_IO, "%s: no tokenizer.json or tokenizer.model in the directory",
                       dir);
    if (!st) {
        snprintf(path, dl + 64, "%s/generation_config.json", dir);
        if (is_file(path) && (st = load_generation_config(*out, path))) {
            herd_tokenizer_free(*out);
            *out = NULL;
        }
    }
    free(path);
    return st;
}
