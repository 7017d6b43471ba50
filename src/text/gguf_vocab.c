/* Tokenizers in GGUF files, with llama.cpp's keys: tokenizer.ggml.model "gpt2" (byte-level
 * BPE), .pre (which pattern), .tokens (byte-level text; control tokens as raw text),
 * .token_type, .merges ("a b"), and the bos/eos/eot/eom ids. Read and written, so herd's own
 * GGUF files carry their tokenizer and llama.cpp can use them. */
#include "text/tokenizer_internal.h"

#include "herd/io_gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* llama.cpp's token types */
enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER_DEFINED = 4, TT_UNUSED = 5 };

static const char llama3_pattern[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* The pattern for tokenizer.ggml.pre (or herd.tokenizer.pattern when present). */
static herd_status gguf_pattern(const herd_gguf *g, const char **pattern, bool *ignore_merges)
{
    const char *path = g->file.path, *s;
    size_t n;
    static _Thread_local char own[4096];
    *ignore_merges = false;
    if (herd_gguf_find_kv(g, "herd.tokenizer.pattern")) {
        herd_status st = herd_gguf_get_str(g, "herd.tokenizer.pattern", &s, &n);
        if (st)
            return st;
        if (n == 0 || n >= sizeof own || memchr(s, 0, n))
            return herd_fail(HERD_ERR_FORMAT, "%s: herd.tokenizer.pattern is empty or too long",
                             path);
        memcpy(own, s, n);
        own[n] = 0;
        *pattern = own;
        *ignore_merges = true;
        return HERD_OK;
    }
    if (!herd_gguf_find_kv(g, "tokenizer.ggml.pre")) {
        *pattern = gpt2_pattern;
        return HERD_OK;
    }
    herd_status st = herd_gguf_get_str(g, "tokenizer.ggml.pre", &s, &n);
    if (st)
        return st;
#define IS(name) (n == strlen(name) && memcmp(s, name, n) == 0)
    if (IS("llama4") || IS("gpt-4o")) {
        *pattern = herd_o200k_pattern;
        *ignore_merges = true;
    } else if (IS("llama3") || IS("llama-v3") || IS("llama-bpe")) {
        *pattern = llama3_pattern;
        *ignore_merges = true;
    } else if (IS("default") || IS("gpt2") || IS("gpt-2")) {
        *pattern = gpt2_pattern;
    } else {
        return herd_fail(HERD_ERR_UNSUPPORTED, "%s: tokenizer.ggml.pre '%.*s' is not supported",
                         path, (int)(n > 64 ? 64 : n), s);
    }
#undef IS
    return HERD_OK;
}

static herd_status gguf_tokens(herd_tokenizer *t, const herd_gguf *g)
{
    const char *path = g->file.path;
    const herd_gguf_kv *tokens = herd_gguf_find_kv(g, "tokenizer.ggml.tokens");
    const herd_gguf_kv *types = herd_gguf_find_kv(g, "tokenizer.ggml.token_type");
    if (!tokens || tokens->type != HERD_GGUF_ARRAY || tokens->elem_type != HERD_GGUF_STRING)
        return herd_fail(HERD_ERR_FORMAT, "%s: no tokenizer.ggml.tokens string array", path);
    if (tokens->count > TOK_MAX_IDS)
        return herd_fail(HERD_ERR_RANGE, "%s: %llu tokens is too many", path,
                         (unsigned long long)tokens->count);
    if (types && (types->type != HERD_GGUF_ARRAY || types->count != tokens->count))
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: tokenizer.ggml.token_type does not have one type per token", path);
    uint8_t buf[4096];
    for (uint64_t i = 0; i < tokens->count; i++) {
        const char *s;
        size_t n;
        int64_t type = TT_NORMAL;
        if (!herd_gguf_arr_str(tokens, i, &s, &n) || (types && !herd_gguf_arr_int(types, i, &type)))
            return herd_fail(HERD_ERR_FORMAT, "%s: token %llu cannot be read", path,
                             (unsigned long long)i);
        herd_status st;
        if (type == TT_UNUSED || n == 0)
            continue;
        if (type == TT_CONTROL || type == TT_USER_DEFINED) {
            st = tok_set(t, (int32_t)i, (const uint8_t *)s, n, true);
        } else {
            long bl = tok_byte_level_decode(s, n, buf, sizeof buf);
            if (bl <= 0)
                return herd_fail(HERD_ERR_FORMAT, "%s: token %llu is not byte-level text", path,
                                 (unsigned long long)i);
            st = tok_set(t, (int32_t)i, buf, (size_t)bl, false);
        }
        if (st)
            return st;
    }
    return HERD_OK;
}

static herd_status gguf_merges(herd_tokenizer *t, const herd_gguf *g)
{
    const char *path = g->file.path;
    const herd_gguf_kv *m = herd_gguf_find_kv(g, "tokenizer.ggml.merges");
    if (!m || m->type != HERD_GGUF_ARRAY || m->elem_type != HERD_GGUF_STRING)
        return herd_fail(HERD_ERR_FORMAT, "%s: no tokenizer.ggml.merges string array", path);
    herd_status st = tok_pairs_build(t, (size_t)m->count);
    for (uint64_t i = 0; i < m->count && !st; i++) {
        const char *s, *sp;
        size_t n;
        if (!herd_gguf_arr_str(m, i, &s, &n) || !(sp = memchr(s, ' ', n)) || sp == s ||
            sp + 1 == s + n || memchr(sp + 1, ' ', (size_t)(s + n - sp - 1)))
            return herd_fail(HERD_ERR_FORMAT, "%s: merge %llu is not \"a b\"", path,
                             (unsigned long long)i);
        st = tok_add_merge(t, path, (size_t)i, s, (size_t)(sp - s), sp + 1,
                           (size_t)(s + n - sp - 1));
    }
    return st;
}

static herd_status gguf_stops(herd_tokenizer *t, const herd_gguf *g)
{
    static const char *const keys[] = {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
                                       "tokenizer.ggml.eom_token_id"};
    herd_status st = HERD_OK;
    int64_t v;
    for (size_t i = 0; i < sizeof keys / sizeof *keys && !st; i++)
        if (herd_gguf_find_kv(g, keys[i]) && !(st = herd_gguf_get_int(g, keys[i], &v)))
            st = herd_tokenizer_add_stop(t, (int32_t)(v < TOK_MAX_IDS ? v : -1));
    const herd_gguf_kv *list = herd_gguf_find_kv(g, "herd.llama4.eos_token_ids");
    for (uint64_t i = 0; list && i < list->count && !st; i++)
        st = herd_gguf_arr_int(list, i, &v)
                 ? herd_tokenizer_add_stop(t, (int32_t)(v < TOK_MAX_IDS ? v : -1))
                 : herd_fail(HERD_ERR_FORMAT, "%s: bad eos id list", g->file.path);
    return st;
}

herd_status herd_tokenizer_from_gguf(const herd_gguf *g, herd_tokenizer **out)
{
    *out = NULL;
    const char *path = g->file.path, *model;
    size_t n;
    herd_status st = herd_gguf_find_kv(g, "tokenizer.ggml.model")
                         ? herd_gguf_get_str(g, "tokenizer.ggml.model", &model, &n)
                         : herd_fail(HERD_ERR_FORMAT, "%s: no tokenizer in the GGUF file", path);
    if (st)
        return st;
    if (n != 4 || memcmp(model, "gpt2", 4) != 0)
        return herd_fail(HERD_ERR_UNSUPPORTED,
                         "%s: tokenizer.ggml.model '%.*s' is not supported (gpt2 only)", path,
                         (int)(n > 32 ? 32 : n), model);
    const char *pattern = NULL;
    bool ignore_merges = false;
    if ((st = gguf_pattern(g, &pattern, &ignore_merges)))
        return st;
    herd_tokenizer *t;
    if ((st = tok_create(path, &t)))
        return st;
    t->ignore_merges = ignore_merges;
    if (!(st = gguf_tokens(t, g)) && !(st = tok_finish(t)) && !(st = gguf_merges(t, g)) &&
        !(st = gguf_stops(t, g)))
        st = tok_compile_pattern(t, pattern);
    if (st) {
        herd_tokenizer_free(t);
        return st;
    }
    *out = t;
    return HERD_OK;
}

herd_status herd_tokenizer_load_gguf(const char *path, herd_tokenizer **out)
{
    herd_gguf g;
    herd_status st = herd_gguf_open(path, &g);
    if (st)
        return st;
    st = herd_tokenizer_from_gguf(&g, out);
    herd_gguf_close(&g);
    return st;
}

/* ---- writing ---- */

static int cmp_rank(const void *a, const void *b)
{
    const tok_pair *x = a, *y = b;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* The merge list in rank order as "a b" strings appended to *text (offsets in *off). */
static herd_status merge_list(const herd_tokenizer *t, tok_pair **pairs, size_t *n)
{
    *n = 0;
    if (t->use_pairs) {
        *pairs = malloc((t->pair_mask + 1) * sizeof **pairs);
        if (!*pairs)
            return herd_fail(HERD_ERR_NOMEM, "out of memory for the merges");
        for (size_t i = 0; i <= t->pair_mask; i++)
            if (t->pairs[i].key != UINT64_MAX)
                (*pairs)[(*n)++] = t->pairs[i];
        qsort(*pairs, *n, sizeof **pairs, cmp_rank);
        return HERD_OK;
    }
    /* A rank file has no merge list: each token of two or more bytes is the merge of the two
     * tokens that BPE with only lower ranks makes of its bytes (as HF's converter does). */
    *pairs = malloc((size_t)t->n_ids * sizeof **pairs);
    if (!*pairs)
        return herd_fail(HERD_ERR_NOMEM, "out of memory for the merges");
    bpe_work w = {0};
    for (int32_t id = 0; id < t->n_ids; id++) {
        int32_t l, r;
        if ((t->flags[id] & TOK_ORDINARY) && t->len[id] >= 2 && bpe_split_token(t, id, &w, &l, &r))
            (*pairs)[(*n)++] =
                (tok_pair){(uint64_t)(uint32_t)l << 32 | (uint32_t)r, (uint32_t)id, (uint32_t)id};
    }
    bpe_work_free(&w);
    return HERD_OK;
}

herd_status herd_tokenizer_write_gguf(const herd_tokenizer *t, herd_gguf_writer *w)
{
    size_t n = (size_t)t->n_ids, n_merges = 0, cap = t->blob_len * 2 + n * 16 + 64;
    char *text = malloc(cap), **strs = malloc(n * sizeof *strs);
    size_t *lens = malloc(n * sizeof *lens);
    int32_t *types = malloc(n * sizeof *types);
    tok_pair *pairs = NULL;
    herd_status st = HERD_OK;
    if (!text || !strs || !lens || !types)
        st = herd_fail(HERD_ERR_NOMEM, "out of memory writing the tokenizer");
    size_t at = 0;
    for (size_t i = 0; i < n && !st; i++) {
        strs[i] = text + at;
        if (t->flags[i] & TOK_ORDINARY) {
            lens[i] = tok_byte_level_encode(t->blob + t->off[i], t->len[i], text + at);
            types[i] = TT_NORMAL;
        } else if (t->flags[i] & TOK_SPECIAL) {
            memcpy(text + at, t->blob + t->off[i], t->len[i]);
            lens[i] = t->len[i];
            types[i] = TT_CONTROL;
        } else {
            lens[i] = (size_t)sprintf(text + at, "[PAD%zu]", i);
            types[i] = TT_UNUSED;
        }
        at += lens[i];
    }
    if (!st)
        st = merge_list(t, &pairs, &n_merges);
    char **mstrs = NULL;
    size_t *mlens = NULL;
    char *mtext = NULL;
    if (!st) {
        size_t mcap = 0;
        for (size_t i = 0; i < n_merges; i++)
            mcap += 2 * (t->len[pairs[i].key >> 32] + t->len[(uint32_t)pairs[i].key]) + 1;
        mstrs = malloc((n_merges + 1) * sizeof *mstrs);
        mlens = malloc((n_merges + 1) * sizeof *mlens);
        mtext = malloc(mcap + 1);
        if (!mstrs || !mlens || !mtext)
            st = herd_fail(HERD_ERR_NOMEM, "out of memory writing the merges");
        size_t m = 0;
        for (size_t i = 0; i < n_merges && !st; i++) {
            uint32_t l = (uint32_t)(pairs[i].key >> 32), r = (uint32_t)pairs[i].key;
            mstrs[i] = mtext + m;
            size_t a = tok_byte_level_encode(t->blob + t->off[l], t->len[l], mtext + m);
            mtext[m + a] = ' ';
            size_t b = tok_byte_level_encode(t->blob + t->off[r], t->len[r], mtext + m + a + 1);
            mlens[i] = a + 1 + b;
            m += mlens[i];
        }
    }
    if (!st)
        st = herd_gguf_set_str(w, "tokenizer.ggml.model", "gpt2");
    if (!st) {
        bool o200k = t->pattern && strcmp(t->pattern, herd_o200k_pattern) == 0;
        st = herd_gguf_set_str(w, "tokenizer.ggml.pre", o200k ? "llama4" : "herd");
        if (!st && !o200k && t->pattern)
            st = herd_gguf_set_str(w, "herd.tokenizer.pattern", t->pattern);
    }
    if (!st)
        st = herd_gguf_set_str_arr(w, "tokenizer.ggml.tokens", (const char *const *)strs, lens, n);
    if (!st)
        st = herd_gguf_set_arr(w, "tokenizer.ggml.token_type", HERD_GGUF_INT32, types, n);
    if (!st)
        st = herd_gguf_set_str_arr(w, "tokenizer.ggml.merges", (const char *const *)mstrs, mlens,
                                   n_merges);
    static const char *const ids[][2] = {
        {"tokenizer.ggml.bos_token_id", "<|begin_of_text|>"},
        {"tokenizer.ggml.eos_token_id", "<|eot|>"},
        {"tokenizer.ggml.eot_token_id", "<|eot|>"},
        {"tokenizer.ggml.eom_token_id", "<|eom|>"},
        {"tokenizer.ggml.padding_token_id", "<|finetune_right_pad|>"}};
    for (size_t i = 0; i < sizeof ids / sizeof *ids && !st; i++) {
        int32_t id = herd_tokenizer_special_id(t, ids[i][1]);
        if (id >= 0 && !herd_gguf_writer_has(w, ids[i][0])) /* the model's config wins */
            st = herd_gguf_set_u32(w, ids[i][0], (uint32_t)id);
    }
    free(text);
    free(strs);
    free(lens);
    free(types);
    free(pairs);
    free(mstrs);
    free(mlens);
    free(mtext);
    return st;
}
