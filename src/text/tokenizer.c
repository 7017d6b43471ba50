/* The tokenizer's tables: id -> bytes, bytes -> id (ordinary and special), merge pairs, stop
 * ids, and Meta's Llama 4 special-token list. */
#include "text/tokenizer_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- token id lists ---- */

herd_status herd_tokens_append(herd_tokens *t, const int32_t *ids, size_t n)
{
    if (t->n + n > t->cap) {
        size_t cap = t->cap ? t->cap : 64;
        while (cap < t->n + n)
            cap *= 2;
        int32_t *p = realloc(t->ids, cap * sizeof *p);
        if (!p)
            return herd_fail(HERD_ERR_NOMEM, "out of memory for %zu token ids", cap);
        t->ids = p;
        t->cap = cap;
    }
    if (n)
        memcpy(t->ids + t->n, ids, n * sizeof *ids);
    t->n += n;
    return HERD_OK;
}

herd_status herd_tokens_push(herd_tokens *t, int32_t id)
{
    if (t->n < t->cap) {
        t->ids[t->n++] = id;
        return HERD_OK;
    }
    return herd_tokens_append(t, &id, 1);
}

void herd_tokens_free(herd_tokens *t)
{
    free(t->ids);
    memset(t, 0, sizeof *t);
}

/* ---- UTF-8 ---- */

size_t tok_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
    uint8_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, v = c & 0x07, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

/* ---- hash maps ---- */

static herd_status map_insert(herd_tokenizer *t, tok_map *m, int32_t id)
{
    if ((m->count + 1) * 2 > m->mask) { /* keep the load at most one half */
        size_t cap = m->mask ? (m->mask + 1) * 2 : 1024;
        tok_slot *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return herd_fail(HERD_ERR_NOMEM, "%s: out of memory for the vocabulary", t->source);
        for (size_t i = 0; m->mask && i <= m->mask; i++) {
            tok_slot s = m->slots[i];
            if (!s.id1)
                continue;
            uint64_t head;
            size_t j = tok_hash(t->blob + t->off[s.id1 - 1], s.len, &head) & (cap - 1);
            while (slots[j].id1)
                j = (j + 1) & (cap - 1);
            slots[j] = s;
        }
        free(m->slots);
        m->slots = slots;
        m->mask = cap - 1;
    }
    uint64_t head;
    size_t j = tok_hash(t->blob + t->off[id], t->len[id], &head) & m->mask;
    while (m->slots[j].id1)
        j = (j + 1) & m->mask;
    m->slots[j] = (tok_slot){head, (uint32_t)id + 1, t->len[id]};
    m->count++;
    return HERD_OK;
}

/* ---- the id table ---- */

herd_status tok_create(const char *source, herd_tokenizer **out)
{
    *out = NULL;
    herd_tokenizer *t = calloc(1, sizeof *t);
    if (!t || !(t->source = strdup(source))) {
        free(t);
        return herd_fail(HERD_ERR_NOMEM, "%s: out of memory", source);
    }
    t->ignore_merges = true;
    for (int i = 0; i < 256; i++)
        t->byte_id[i] = -1;
    *out = t;
    return HERD_OK;
}

static herd_status grow_ids(herd_tokenizer *t, int32_t n)
{
    if (n <= t->n_ids)
        return HERD_OK;
    if (n > t->cap_ids) {
        int32_t cap = t->cap_ids ? t->cap_ids : 1024;
        while (cap < n)
            cap *= 2;
        uint32_t *off = realloc(t->off, (size_t)cap * sizeof *off);
        if (off)
            t->off = off;
        uint32_t *len = realloc(t->len, (size_t)cap * sizeof *len);
        if (len)
            t->len = len;
        uint8_t *flags = realloc(t->flags, (size_t)cap);
        if (flags)
            t->flags = flags;
        if (!off || !len || !flags)
            return herd_fail(HERD_ERR_NOMEM, "%s: out of memory for %d token ids", t->source, n);
        t->cap_ids = cap;
    }
    for (int32_t i = t->n_ids; i < n; i++) {
        t->off[i] = 0;
        t->len[i] = 0;
        t->flags[i] = 0;
    }
    t->n_ids = n;
    return HERD_OK;
}

static bool is_default_stop(const uint8_t *b, size_t n)
{
    static const char *const names[] = {"<|eot|>", "<|eom|>", "<|end_of_text|>"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strlen(names[i]) == n && memcmp(names[i], b, n) == 0)
            return true;
    return false;
}

/* Makes id (already in the table) findable as a special token. */
static herd_status register_special(herd_tokenizer *t, int32_t id)
{
    const uint8_t *bytes = t->blob + t->off[id];
    size_t len = t->len[id];
    herd_status st = map_insert(t, &t->special, id);
    if (st)
        return st;
    t->flags[id] |= TOK_SPECIAL;
    t->special_first[bytes[0] >> 3] |= (uint8_t)(1u << (bytes[0] & 7));
    int k = 0;
    while (k < t->n_special_lens && t->special_lens[k] > len)
        k++;
    if (k == t->n_special_lens || t->special_lens[k] != len) {
        if (t->n_special_lens == 64)
            return herd_fail(HERD_ERR_UNSUPPORTED,
                             "%s: special tokens have more than 64 distinct lengths", t->source);
        memmove(t->special_lens + k + 1, t->special_lens + k,
                (size_t)(t->n_special_lens - k) * sizeof *t->special_lens);
        t->special_lens[k] = (uint32_t)len;
        t->n_special_lens++;
    }
    return is_default_stop(bytes, len) ? herd_tokenizer_add_stop(t, id) : HERD_OK;
}

herd_status tok_set(herd_tokenizer *t, int32_t id, const uint8_t *bytes, size_t len, bool special)
{
    if (id < 0 || id >= TOK_MAX_IDS)
        return herd_fail(HERD_ERR_RANGE, "%s: token id %d is out of range 0..%d", t->source, id,
                         TOK_MAX_IDS - 1);
    if (len == 0 || len > (1u << 20))
        return herd_fail(HERD_ERR_FORMAT, "%s: token %d has %s", t->source, id,
                         len ? "more than 1 MiB of text" : "empty text");
    herd_status st = grow_ids(t, id + 1);
    if (st)
        return st;
    tok_map *m = special ? &t->special : &t->ordinary;
    int32_t dup = tok_map_find(t, m, bytes, len);
    if (t->flags[id]) {
        /* An added token that is also in the BPE vocabulary (GPT-2's <|endoftext|>). */
        if (special && dup < 0 && !(t->flags[id] & TOK_SPECIAL) && t->len[id] == len &&
            memcmp(t->blob + t->off[id], bytes, len) == 0)
            return register_special(t, id);
        return herd_fail(HERD_ERR_FORMAT, "%s: token id %d is defined twice", t->source, id);
    }
    if (dup >= 0)
        return herd_fail(HERD_ERR_FORMAT, "%s: ids %d and %d have the same %stext", t->source, dup,
                         id, special ? "special-token " : "");
    if (t->blob_len + len > t->blob_cap) {
        size_t cap = t->blob_cap ? t->blob_cap : 1 << 16;
        while (cap < t->blob_len + len)
            cap *= 2;
        uint8_t *b = realloc(t->blob, cap);
        if (!b)
            return herd_fail(HERD_ERR_NOMEM, "%s: out of memory for token text", t->source);
        t->blob = b;
        t->blob_cap = cap;
    }
    if (t->blob_len > UINT32_MAX - len)
        return herd_fail(HERD_ERR_RANGE, "%s: token text exceeds 4 GiB", t->source);
    memcpy(t->blob + t->blob_len, bytes, len);
    t->off[id] = (uint32_t)t->blob_len;
    t->len[id] = (uint32_t)len;
    t->blob_len += len;
    t->flags[id] = TOK_PRESENT;
    if (!special) {
        t->flags[id] |= TOK_ORDINARY;
        return map_insert(t, m, id);
    }
    return register_special(t, id);
}

/* ---- merge pairs (tokenizer.json) ---- */

static size_t pair_hash(uint64_t key)
{
    key *= 0x9E3779B97F4A7C15ull;
    return (size_t)(key ^ (key >> 31));
}

herd_status tok_pairs_build(herd_tokenizer *t, size_t n_pairs)
{
    if (n_pairs > TOK_MAX_MERGES)
        return herd_fail(HERD_ERR_RANGE, "%s: %zu merges, more than the %u allowed", t->source,
                         n_pairs, TOK_MAX_MERGES);
    size_t cap = 16;
    while (cap < n_pairs * 2 + 16)
        cap *= 2;
    t->pairs = malloc(cap * sizeof *t->pairs);
    if (!t->pairs)
        return herd_fail(HERD_ERR_NOMEM, "%s: out of memory for %zu merges", t->source, n_pairs);
    for (size_t i = 0; i < cap; i++)
        t->pairs[i].key = UINT64_MAX;
    t->pair_mask = cap - 1;
    t->use_pairs = true;
    return HERD_OK;
}

herd_status tok_pair_add(herd_tokenizer *t, int32_t left, int32_t right, uint32_t rank, int32_t id)
{
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    size_t i = pair_hash(key) & t->pair_mask;
    while (t->pairs[i].key != UINT64_MAX) {
        if (t->pairs[i].key == key) /* a list that repeats itself is not a merge list */
            return herd_fail(HERD_ERR_FORMAT, "%s: merge %u repeats merge %u", t->source, rank,
                             t->pairs[i].rank);
        i = (i + 1) & t->pair_mask;
    }
    t->pairs[i] = (tok_pair){key, rank, (uint32_t)id};
    return HERD_OK;
}

const tok_pair *tok_pair_find(const herd_tokenizer *t, int32_t left, int32_t right)
{
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    for (size_t i = pair_hash(key) & t->pair_mask;; i = (i + 1) & t->pair_mask) {
        if (t->pairs[i].key == key)
            return &t->pairs[i];
        if (t->pairs[i].key == UINT64_MAX)
            return NULL;
    }
}

herd_status tok_finish(herd_tokenizer *t)
{
    for (int b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        t->byte_id[b] = tok_map_find(t, &t->ordinary, &c, 1);
        if (t->byte_id[b] < 0)
            return herd_fail(HERD_ERR_FORMAT,
                             "%s: byte 0x%02X has no token (byte-level BPE needs all 256 bytes)",
                             t->source, b);
    }
    return HERD_OK;
}

/* ---- Meta's Llama 4 special tokens (llama-models, models/llama4/tokenizer.py) ---- */

void tok_add_llama4_specials(herd_tokenizer *t, int32_t first_id, herd_status *st)
{
    /* Runs of the list: a fixed name (to < 0) or "<|prefix_N|>" for N in from..to. */
    static const struct {
        const char *name;
        int from, to;
    } runs[] = {
        {"begin_of_text", 0, -1},
        {"end_of_text", 0, -1},
        {"fim_prefix", 0, -1},
        {"fim_middle", 0, -1},
        {"fim_suffix", 0, -1},
        {"header_start", 0, -1},
        {"header_end", 0, -1},
        {"eom", 0, -1},
        {"eot", 0, -1},
        {"step", 0, -1},
        {"text_post_train_reserved_special_token", 0, 5},
        {"python_start", 0, -1},
        {"python_end", 0, -1},
        {"finetune_right_pad", 0, -1},
        {"text_post_train_reserved_special_token", 8, 68},
        {"image_start", 0, -1},
        {"image_end", 0, -1},
        {"vision_reserved_special_token", 0, 1},
        {"tile_x_separator", 0, -1},
        {"tile_y_separator", 0, -1},
        {"vision_reserved_special_token", 2, 5},
        {"image", 0, -1},
        {"vision_reserved_special_token", 6, 6},
        {"patch", 0, -1},
        {"vision_reserved_special_token", 7, 1047},
        {"reasoning_reserved_special_token", 0, 7},
        {"reasoning_thinking_start", 0, -1},
        {"reasoning_thinking_end", 0, -1},
        {"reserved_special_token", 0, 903},
    };
    int32_t id = first_id;
    char buf[96];
    for (size_t r = 0; r < sizeof runs / sizeof *runs; r++) {
        for (int k = runs[r].from; k <= (runs[r].to < 0 ? runs[r].from : runs[r].to); k++) {
            int n = runs[r].to < 0 ? snprintf(buf, sizeof buf, "<|%s|>", runs[r].name)
                                   : snprintf(buf, sizeof buf, "<|%s_%d|>", runs[r].name, k);
            if (*st == HERD_OK)
                *st = tok_set(t, id, (const uint8_t *)buf, (size_t)n, true);
            id++;
        }
    }
}

/* ---- public inspectors ---- */

int32_t herd_tokenizer_vocab_size(const herd_tokenizer *tok)
{
    return tok->n_ids;
}

int32_t herd_tokenizer_special_id(const herd_tokenizer *tok, const char *text)
{
    return tok_map_find(tok, &tok->special, (const uint8_t *)text, strlen(text));
}

bool herd_tokenizer_is_special(const herd_tokenizer *tok, int32_t id)
{
    return id >= 0 && id < tok->n_ids && (tok->flags[id] & TOK_SPECIAL);
}

int32_t herd_tokenizer_bos(const herd_tokenizer *tok)
{
    return herd_tokenizer_special_id(tok, "<|begin_of_text|>");
}

const uint8_t *herd_tokenizer_token_bytes(const herd_tokenizer *tok, int32_t id, size_t *len)
{
    if (id < 0 || id >= tok->n_ids || !tok->flags[id])
        return NULL;
    *len = tok->len[id];
    return tok->blob + tok->off[id];
}

bool herd_tokenizer_is_stop(const herd_tokenizer *tok, int32_t id)
{
    for (size_t i = 0; i < tok->n_stops; i++)
        if (tok->stops[i] == id)
            return true;
    return false;
}

size_t herd_tokenizer_stop_ids(const herd_tokenizer *tok, const int32_t **ids)
{
    *ids = tok->stops;
    return tok->n_stops;
}

herd_status herd_tokenizer_add_stop(herd_tokenizer *tok, int32_t id)
{
    if (id < 0)
        return herd_fail(HERD_ERR_RANGE, "%s: stop token id %d is negative", tok->source, id);
    if (herd_tokenizer_is_stop(tok, id))
        return HERD_OK;
    int32_t *s = realloc(tok->stops, (tok->n_stops + 1) * sizeof *s);
    if (!s)
        return herd_fail(HERD_ERR_NOMEM, "out of memory");
    tok->stops = s;
    tok->stops[tok->n_stops++] = id;
    return HERD_OK;
}

herd_status herd_tokenizer_add_special(herd_tokenizer *tok, int32_t id, const char *text)
{
    size_t n = strlen(text);
    if (id >= 0 && id < tok->n_ids && (tok->flags[id] & TOK_SPECIAL) && tok->len[id] == n &&
        memcmp(tok->blob + tok->off[id], text, n) == 0)
        return HERD_OK; /* already there */
    return tok_set(tok, id, (const uint8_t *)text, n, true);
}

void herd_tokenizer_free(herd_tokenizer *tok)
{
    if (!tok)
        return;
    free(tok->source);
    free(tok->pattern);
    free(tok->off);
    free(tok->len);
    free(tok->flags);
    free(tok->blob);
    free(tok->ordinary.slots);
    free(tok->special.slots);
    free(tok->pairs);
    free(tok->stops);
    if (tok->re)
        pcre2_code_free(tok->re);
    free(tok);
}
