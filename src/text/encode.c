/* Encoding (special tokens, then the pre-tokenizer, then BPE per piece) and decoding, whole and
 * streaming. */
#include "text/tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct encoder {
    const herd_tokenizer *t;
    pcre2_match_data *md;
    pcre2_match_context *mc;
    pcre2_jit_stack *stack;
    bpe_work w;
} encoder;

static void encoder_free(encoder *e)
{
    if (e->md)
        pcre2_match_data_free(e->md);
    if (e->mc)
        pcre2_match_context_free(e->mc);
    if (e->stack)
        pcre2_jit_stack_free(e->stack);
    bpe_work_free(&e->w);
}

static herd_status encoder_init(encoder *e, const herd_tokenizer *t)
{
    memset(e, 0, sizeof *e);
    e->t = t;
    e->md = pcre2_match_data_create_from_pattern(t->re, NULL);
    e->mc = pcre2_match_context_create(NULL);
    if (t->jit) {
        e->stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
        if (e->stack && e->mc)
            pcre2_jit_stack_assign(e->mc, NULL, e->stack);
    }
    if (!e->md || !e->mc || (t->jit && !e->stack)) {
        encoder_free(e);
        return herd_fail(HERD_ERR_NOMEM, "out of memory for the pre-tokenizer");
    }
    return HERD_OK;
}

/* Ordinary encoding of s[0..n): every regex match is a piece, and so is any text between
 * matches (bytes that are not valid UTF-8 match nothing, so each run of them is a piece). */
static herd_status encode_ordinary(encoder *e, const uint8_t *s, size_t n, herd_tokens *out)
{
    const herd_tokenizer *t = e->t;
    size_t pos = 0, gap = 0;
    herd_status st = HERD_OK;
    while (pos < n && st == HERD_OK) {
        int rc = t->jit ? pcre2_jit_match(t->re, s, n, pos, 0, e->md, e->mc)
                        : pcre2_match(t->re, s, n, pos, 0, e->md, e->mc);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return herd_fail(HERD_ERR_INTERNAL, "%s: pre-tokenizer failed at byte %zu: %s",
                             t->source, pos, (const char *)msg);
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(e->md);
        size_t a = ov[0], b = ov[1];
        if (b <= a) { /* an empty match (not possible with o200k): step over one character */
            uint32_t cp;
            size_t step = tok_utf8_decode(s + a, n - a, &cp);
            pos = a + (step ? step : 1);
            continue;
        }
        if (a > gap)
            st = bpe_encode_piece(t, s + gap, a - gap, &e->w, out);
        if (st == HERD_OK)
            st = bpe_encode_piece(t, s + a, b - a, &e->w, out);
        pos = gap = b;
    }
    if (st == HERD_OK && gap < n)
        st = bpe_encode_piece(t, s + gap, n - gap, &e->w, out);
    return st;
}

/* The special token starting at s[0..n), or -1. Longest first, so no prefix can shadow. */
static int32_t special_at(const herd_tokenizer *t, const uint8_t *s, size_t n, size_t *len)
{
    if (!(t->special_first[s[0] >> 3] & (1u << (s[0] & 7))))
        return -1;
    for (int k = 0; k < t->n_special_lens; k++) {
        size_t l = t->special_lens[k];
        if (l > n)
            continue;
        int32_t id = tok_map_find(t, &t->special, s, l);
        if (id >= 0) {
            *len = l;
            return id;
        }
    }
    return -1;
}

herd_status herd_tokenizer_encode(const herd_tokenizer *tok, const char *text, size_t len,
                                  unsigned flags, herd_tokens *out)
{
    const uint8_t *s = (const uint8_t *)text;
    herd_status st;
    if (flags & HERD_ENCODE_BOS) {
        int32_t bos = herd_tokenizer_bos(tok);
        if (bos < 0)
            return herd_fail(HERD_ERR_UNSUPPORTED, "%s: the vocabulary has no <|begin_of_text|>",
                             tok->source);
        if ((st = herd_tokens_push(out, bos)))
            return st;
    }
    encoder e;
    if ((st = encoder_init(&e, tok)))
        return st;
    size_t seg = 0;
    if ((flags & HERD_ENCODE_SPECIAL) && tok->special.count) {
        for (size_t i = 0; i < len && st == HERD_OK;) {
            size_t l;
            int32_t id = special_at(tok, s + i, len - i, &l);
            if (id < 0) {
                i++;
                continue;
            }
            st = encode_ordinary(&e, s + seg, i - seg, out);
            if (st == HERD_OK)
                st = herd_tokens_push(out, id);
            i += l;
            seg = i;
        }
    }
    if (st == HERD_OK)
        st = encode_ordinary(&e, s + seg, len - seg, out);
    encoder_free(&e);
    return st;
}

static herd_status token_or_fail(const herd_tokenizer *tok, int32_t id, const uint8_t **b,
                                 size_t *n)
{
    *b = herd_tokenizer_token_bytes(tok, id, n);
    if (!*b)
        return herd_fail(HERD_ERR_RANGE, "%s: token id %d is not in the vocabulary (%d ids)",
                         tok->source, id, tok->n_ids);
    return HERD_OK;
}

herd_status herd_tokenizer_decode(const herd_tokenizer *tok, const int32_t *ids, size_t n,
                                  unsigned flags, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    size_t total = 0;
    const uint8_t *b;
    size_t bn;
    herd_status st;
    for (size_t i = 0; i < n; i++) {
        if ((st = token_or_fail(tok, ids[i], &b, &bn)))
            return st;
        if (!((flags & HERD_DECODE_SKIP_SPECIAL) && herd_tokenizer_is_special(tok, ids[i])))
            total += bn;
    }
    char *out = malloc(total + 1);
    if (!out)
        return herd_fail(HERD_ERR_NOMEM, "out of memory decoding %zu tokens", n);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if ((flags & HERD_DECODE_SKIP_SPECIAL) && herd_tokenizer_is_special(tok, ids[i]))
            continue;
        b = herd_tokenizer_token_bytes(tok, ids[i], &bn);
        memcpy(out + at, b, bn);
        at += bn;
    }
    out[at] = 0;
    *text = out;
    *len = at;
    return HERD_OK;
}

/* ---- streaming ---- */

/* How many bytes at the end of s[0..n) are the start of a UTF-8 character that is still
 * valid so far but incomplete (0..3). */
static size_t incomplete_tail(const uint8_t *s, size_t n)
{
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        uint8_t c = s[n - k];
        if ((c & 0xC0) == 0x80)
            continue; /* a continuation byte: look further back for the lead */
        size_t need = c >= 0xC2 && c <= 0xDF   ? 2
                      : c >= 0xE0 && c <= 0xEF ? 3
                      : c >= 0xF0 && c <= 0xF4 ? 4
                                               : 0;
        if (need <= k)
            return 0; /* ASCII, an invalid lead, or a complete character */
        if (k >= 2) { /* the second byte's range depends on the lead */
            uint8_t c2 = s[n - k + 1];
            uint8_t lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
            uint8_t hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
            if (c2 < lo || c2 > hi)
                return 0;
        }
        return k;
    }
    return 0;
}

void herd_decoder_init(herd_decoder *d, const herd_tokenizer *tok, unsigned flags)
{
    memset(d, 0, sizeof *d);
    d->tok = tok;
    d->flags = flags;
}

herd_status herd_decoder_push(herd_decoder *d, int32_t id, const char **text, size_t *len)
{
    *text = "";
    *len = 0;
    const uint8_t *b;
    size_t n;
    herd_status st = token_or_fail(d->tok, id, &b, &n);
    if (st)
        return st;
    if ((d->flags & HERD_DECODE_SKIP_SPECIAL) && herd_tokenizer_is_special(d->tok, id))
        return HERD_OK;
    if (d->n_held + n + 1 > d->cap) {
        size_t cap = d->cap ? d->cap : 256;
        while (cap < d->n_held + n + 1)
            cap *= 2;
        char *buf = realloc(d->buf, cap);
        if (!buf)
            return herd_fail(HERD_ERR_NOMEM, "out of memory decoding");
        d->buf = buf;
        d->cap = cap;
    }
    memcpy(d->buf, d->held, d->n_held);
    memcpy(d->buf + d->n_held, b, n);
    size_t total = d->n_held + n, keep = incomplete_tail((const uint8_t *)d->buf, total);
    memcpy(d->held, d->buf + total - keep, keep);
    d->n_held = keep;
    d->buf[total - keep] = 0;
    *text = d->buf;
    *len = total - keep;
    return HERD_OK;
}

void herd_decoder_finish(herd_decoder *d, const char **text, size_t *len)
{
    *text = "";
    *len = 0;
    if (!d->n_held)
        return;
    if (d->cap < 5) { /* always room in practice: held bytes came through buf */
        d->n_held = 0;
        return;
    }
    memcpy(d->buf, d->held, d->n_held);
    d->buf[d->n_held] = 0;
    *text = d->buf;
    *len = d->n_held;
    d->n_held = 0;
}

void herd_decoder_free(herd_decoder *d)
{
    free(d->buf);
    memset(d, 0, sizeof *d);
}
