/* Training a byte-level BPE tokenizer (herd tokenizer train): the text is split into pieces by
 * the Llama 4 (o200k) pre-tokenizer pattern, the distinct pieces are counted, and the most
 * frequent adjacent pair of tokens is merged until the vocabulary is full (ties go to the pair
 * of lower ids, so the result depends only on the text). Ids 0..255 are the bytes, then the
 * merges in order, then the Llama 4 special tokens. Written as a Hugging Face tokenizer.json
 * (BPE model, ignore_merges, Split + ByteLevel pre-tokenizer, BOS post-processor) that herd and
 * HF `tokenizers` load. */
#include "text/tokenizer_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const specials[] = {
    "<|begin_of_text|>", "<|end_of_text|>",  "<|fim_prefix|>",        "<|fim_middle|>",
    "<|fim_suffix|>",    "<|header_start|>", "<|header_end|>",        "<|eom|>",
    "<|eot|>",           "<|step|>",         "<|finetune_right_pad|>"};
enum { N_SPECIALS = sizeof specials / sizeof specials[0] };

/* distinct pieces: open addressing on their bytes */
typedef struct word {
    uint32_t off, len; /* bytes in the text blob */
    uint64_t count;
    uint32_t *sym; /* current tokens */
    uint32_t n;
} word;
typedef struct wordset {
    word *w;
    size_t n, cap;
    uint32_t *slot; /* index + 1 */
    size_t mask;
    const uint8_t *text;
} wordset;

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static herd_status ws_add(wordset *s, const uint8_t *text, size_t off, size_t len)
{
    if ((s->n + 1) * 2 > s->mask + 1) { /* grow the table */
        size_t cap = (s->mask + 1) * 2;
        uint32_t *slot = calloc(cap, sizeof *slot);
        if (!slot)
            return herd_fail(HERD_ERR_NOMEM, "out of memory counting pieces");
        for (size_t i = 0; i < s->n; i++) {
            size_t j = hash_bytes(text + s->w[i].off, s->w[i].len) & (cap - 1);
            while (slot[j])
                j = (j + 1) & (cap - 1);
            slot[j] = (uint32_t)i + 1;
        }
        free(s->slot);
        s->slot = slot;
        s->mask = cap - 1;
    }
    size_t j = hash_bytes(text + off, len) & s->mask;
    for (; s->slot[j]; j = (j + 1) & s->mask) {
        word *w = &s->w[s->slot[j] - 1];
        if (w->len == len && memcmp(text + w->off, text + off, len) == 0) {
            w->count++;
            return HERD_OK;
        }
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        word *nw = realloc(s->w, cap * sizeof *nw);
        if (!nw)
            return herd_fail(HERD_ERR_NOMEM, "out of memory counting pieces");
        s->w = nw;
        s->cap = cap;
    }
    s->w[s->n] = (word){(uint32_t)off, (uint32_t)len, 1, NULL, 0};
    s->slot[j] = (uint32_t)++s->n;
    return HERD_OK;
}

/* pair counts: open addressing keyed by (a << 32 | b), cleared through the list of used slots */
typedef struct pairmap {
    uint64_t *key;
    uint64_t *count;
    uint32_t *used;
    size_t n_used, mask;
} pairmap;

static void pm_add(pairmap *m, uint64_t key, uint64_t c)
{
    size_t j = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & m->mask;
    while (m->key[j] != UINT64_MAX && m->key[j] != key)
        j = (j + 1) & m->mask;
    if (m->key[j] == UINT64_MAX) {
        m->key[j] = key;
        m->count[j] = 0;
        m->used[m->n_used++] = (uint32_t)j;
    }
    m->count[j] += c;
}

herd_status herd_bpe_train(const char *text, size_t len, int32_t vocab, const char *out_path,
                           bool progress)
{
    int32_t n_merges = vocab - 256 - N_SPECIALS;
    if (n_merges < 0 || vocab > 1000000)
        return herd_fail(HERD_ERR_ARG, "--vocab must be %d..1000000 (256 bytes + %d specials)",
                         256 + N_SPECIALS, N_SPECIALS);
    herd_tokenizer *re = NULL; /* a bare tokenizer, for its compiled pattern */
    herd_status st = tok_create("tokenizer training", &re);
    if (!st)
        st = tok_compile_pattern(re, herd_o200k_pattern);
    wordset ws = {.mask = 4095, .text = (const uint8_t *)text};
    ws.slot = calloc(4096, sizeof *ws.slot);
    pcre2_match_data *md = re ? pcre2_match_data_create_from_pattern(re->re, NULL) : NULL;
    if (!st && (!ws.slot || !md))
        st = herd_fail(HERD_ERR_NOMEM, "out of memory for tokenizer training");
    /* 1. pieces, as the encoder splits them (text between matches is a piece too) */
    const uint8_t *s = (const uint8_t *)text;
    size_t pos = 0, gap = 0;
    while (!st && pos < len) {
        int rc = pcre2_match(re->re, s, len, pos, 0, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            st = herd_fail(HERD_ERR_INTERNAL, "pre-tokenizer failed at byte %zu", pos);
            break;
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t a = ov[0], b = ov[1];
        if (b <= a) {
            pos = a + 1;
            continue;
        }
        if (a > gap)
            st = ws_add(&ws, s, gap, a - gap);
        if (!st)
            st = ws_add(&ws, s, a, b - a);
        pos = gap = b;
    }
    if (!st && gap < len)
        st = ws_add(&ws, s, gap, len - gap);
    for (size_t i = 0; !st && i < ws.n; i++) {
        word *w = &ws.w[i];
        w->sym = malloc(w->len * sizeof *w->sym);
        if (!w->sym)
            st = herd_fail(HERD_ERR_NOMEM, "out of memory for tokenizer training");
        for (uint32_t k = 0; w->sym && k < w->len; k++)
            w->sym[k] = s[w->off + k];
        w->n = w->len;
    }
    /* 2. merges */
    uint32_t *left = malloc((size_t)(n_merges + 1) * sizeof *left);
    uint32_t *right = malloc((size_t)(n_merges + 1) * sizeof *right);
    uint8_t **tokb = calloc((size_t)vocab, sizeof *tokb);
    uint32_t *tokn = calloc((size_t)vocab, sizeof *tokn);
    pairmap pm = {.mask = (1u << 21) - 1};
    pm.key = malloc((pm.mask + 1) * sizeof *pm.key);
    pm.count = malloc((pm.mask + 1) * sizeof *pm.count);
    pm.used = malloc((pm.mask + 1) * sizeof *pm.used);
    if (!st && (!left || !right || !tokb || !tokn || !pm.key || !pm.count || !pm.used))
        st = herd_fail(HERD_ERR_NOMEM, "out of memory for tokenizer training");
    if (!st)
        memset(pm.key, 0xFF, (pm.mask + 1) * sizeof *pm.key);
    for (int i = 0; !st && i < 256; i++) {
        tokb[i] = malloc(1);
        if (!tokb[i]) {
            st = herd_fail(HERD_ERR_NOMEM, "out of memory for tokenizer training");
            break;
        }
        tokb[i][0] = (uint8_t)i;
        tokn[i] = 1;
    }
    int32_t done = 0;
    for (; !st && done < n_merges; done++) {
        for (size_t i = 0; i < pm.n_used; i++)
            pm.key[pm.used[i]] = UINT64_MAX;
        pm.n_used = 0;
        for (size_t i = 0; i < ws.n; i++)
            for (uint32_t k = 0; k + 1 < ws.w[i].n; k++) {
                if (pm.n_used * 2 > pm.mask)
                    break; /* keeps the table from filling; rarer pairs wait a round */
                pm_add(&pm, (uint64_t)ws.w[i].sym[k] << 32 | ws.w[i].sym[k + 1], ws.w[i].count);
            }
        uint64_t best = UINT64_MAX, bc = 0;
        for (size_t i = 0; i < pm.n_used; i++) {
            size_t j = pm.used[i];
            if (pm.count[j] > bc || (pm.count[j] == bc && pm.key[j] < best)) {
                bc = pm.count[j];
                best = pm.key[j];
            }
        }
        if (bc < 2)
            break; /* nothing left worth merging */
        uint32_t a = (uint32_t)(best >> 32), b = (uint32_t)best, id = 256 + (uint32_t)done;
        left[done] = a;
        right[done] = b;
        tokn[id] = tokn[a] + tokn[b];
        tokb[id] = malloc(tokn[id]);
        if (!tokb[id]) {
            st = herd_fail(HERD_ERR_NOMEM, "out of memory for tokenizer training");
            break;
        }
        memcpy(tokb[id], tokb[a], tokn[a]);
        memcpy(tokb[id] + tokn[a], tokb[b], tokn[b]);
        for (size_t i = 0; i < ws.n; i++) {
            word *w = &ws.w[i];
            uint32_t o = 0;
            for (uint32_t k = 0; k < w->n; k++) {
                if (k + 1 < w->n && w->sym[k] == a && w->sym[k + 1] == b) {
                    w->sym[o++] = id;
                    k++;
                } else {
                    w->sym[o++] = w->sym[k];
                }
            }
            w->n = o;
        }
        if (progress && done % 100 == 99)
            fprintf(stderr, "\rmerges: %d of %d", done + 1, n_merges);
    }
    if (progress)
        fprintf(stderr, "\rmerges: %d of %d\n", done, n_merges);
    /* 3. tokenizer.json */
    json_t *root = NULL;
    if (!st) {
        json_t *vj = json_object(), *mj = json_array(), *added = json_array();
        char bl[2 * 4096 + 1], bl2[2 * 4096 + 1], pair[4 * 4096 + 2];
        int32_t n_ord = 256 + done;
        for (int32_t i = 0; i < n_ord; i++) {
            size_t n = tok_byte_level_encode(tokb[i], tokn[i] < 4096 ? tokn[i] : 4096, bl);
            bl[n] = 0;
            json_object_set_new(vj, bl, json_integer(i));
        }
        for (int32_t i = 0; i < done; i++) {
            size_t n = tok_byte_level_encode(tokb[left[i]], tokn[left[i]], bl);
            bl[n] = 0;
            n = tok_byte_level_encode(tokb[right[i]], tokn[right[i]], bl2);
            bl2[n] = 0;
            snprintf(pair, sizeof pair, "%s %s", bl, bl2);
            json_array_append_new(mj, json_string(pair));
        }
        for (int i = 0; i < N_SPECIALS; i++)
            json_array_append_new(added,
                                  json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", n_ord + i,
                                            "content", specials[i], "single_word", 0, "lstrip", 0,
                                            "rstrip", 0, "normalized", 0, "special", 1));
        root = json_pack(
            "{s:s, s:n, s:o, s:n, s:{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, {s:s, s:b, s:b, s:b}]},"
            " s:{s:s, s:[{s:{s:s, s:i}}, {s:{s:s, s:i}}], s:[{s:{s:s, s:i}}, {s:{s:s, s:i}},"
            " {s:{s:s, s:i}}, {s:{s:s, s:i}}], s:{s:{s:s, s:[i], s:[s]}}},"
            " s:{s:s, s:b, s:b, s:b},"
            " s:{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o, s:o}}",
            "version", "1.0", "truncation", "added_tokens", added, "padding", "pre_tokenizer",
            "type", "Sequence", "pretokenizers", "type", "Split", "pattern", "Regex",
            herd_o200k_pattern, "behavior", "Isolated", "invert", 0, "type", "ByteLevel",
            "add_prefix_space", 0, "trim_offsets", 1, "use_regex", 0, "post_processor", "type",
            "TemplateProcessing", "single", "SpecialToken", "id", specials[0], "type_id", 0,
            "Sequence", "id", "A", "type_id", 0, "pair", "SpecialToken", "id", specials[0],
            "type_id", 0, "Sequence", "id", "A", "type_id", 0, "SpecialToken", "id", specials[0],
            "type_id", 1, "Sequence", "id", "B", "type_id", 1, "special_tokens", specials[0], "id",
            specials[0], "ids", n_ord, "tokens", specials[0], "decoder", "type", "ByteLevel",
            "add_prefix_space", 1, "trim_offsets", 1, "use_regex", 1, "model", "type", "BPE",
            "dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk",
            0, "byte_fallback", 0, "ignore_merges", 1, "vocab", vj, "merges", mj);
        if (!root)
            st = herd_fail(HERD_ERR_NOMEM, "out of memory writing %s", out_path);
        else if (!json_object_get(root, "normalizer"))
            json_object_set_new(root, "normalizer", json_null());
    }
    if (!st) {
        char *dump = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        st = dump ? herd_atomic_save(out_path, dump, strlen(dump), true)
                  : herd_fail(HERD_ERR_NOMEM, "out of memory writing %s", out_path);
        free(dump);
    }
    json_decref(root);
    for (size_t i = 0; i < ws.n; i++)
        free(ws.w[i].sym);
    free(ws.w);
    free(ws.slot);
    for (int32_t i = 0; tokb && i < vocab; i++)
        free(tokb[i]);
    free(tokb);
    free(tokn);
    free(left);
    free(right);
    free(pm.key);
    free(pm.count);
    free(pm.used);
    if (md)
        pcre2_match_data_free(md);
    herd_tokenizer_free(re);
    return st;
}
