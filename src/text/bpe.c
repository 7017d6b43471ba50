/* Byte-pair merging of one pre-token piece.
 *
 * The piece starts as one part per byte; repeatedly the adjacent pair with the lowest rank is
 * merged (the leftmost one on ties) until no pair has a rank. tiktoken files rank a pair by the
 * rank of its concatenated bytes (which is also the merged token's id); tokenizer.json files by
 * the index of the pair in the merge list. Short pieces use a plain scan (fastest for the common
 * case); long ones a binary heap of pairs over a linked list of parts, so a 100 KB word costs
 * O(n log n), not tiktoken's O(n^2). */
#include "text/tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

size_t bpe_small_limit = 64;

#define NO_RANK UINT32_MAX

/* The rank of merging parts [a, mid) and [mid, b) with ids ia, ib; *merged gets the new id. */
static inline uint32_t pair_rank(const herd_tokenizer *t, const bpe_work *w, const uint8_t *p,
                                 uint32_t a, uint32_t b, int32_t ia, int32_t ib, int32_t *merged)
{
    uint32_t rank;
    if (t->use_pairs) {
        const tok_pair *q = tok_pair_find(t, ia, ib);
        if (!q)
            return NO_RANK;
        *merged = (int32_t)q->id;
        rank = q->rank;
    } else {
        int32_t id = tok_map_find(t, &t->ordinary, p + a, b - a);
        if (id < 0)
            return NO_RANK;
        *merged = id;
        rank = (uint32_t)id;
    }
    return w->rank_limit && rank >= w->rank_limit ? NO_RANK : rank;
}

static herd_status work_reserve(bpe_work *w, size_t n)
{
    if (n + 1 <= w->cap)
        return HERD_OK;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < n + 1)
        cap *= 2;
    uint32_t **arrays[] = {&w->a, &w->b, &w->c, &w->d};
    for (int i = 0; i < 4; i++) {
        uint32_t *p = realloc(*arrays[i], cap * sizeof *p);
        if (!p)
            return herd_fail(HERD_ERR_NOMEM, "out of memory for a %zu-byte piece", n);
        *arrays[i] = p;
    }
    w->cap = cap;
    return HERD_OK;
}

void bpe_work_free(bpe_work *w)
{
    free(w->a);
    free(w->b);
    free(w->c);
    free(w->d);
    free(w->heap);
    memset(w, 0, sizeof *w);
}

/* ---- short pieces: rescan an array of parts ---- */

static herd_status merge_small(const herd_tokenizer *t, const uint8_t *p, size_t n, bpe_work *w,
                               herd_tokens *out)
{
    uint32_t *start = w->a, *rank = w->c;
    int32_t *ids = (int32_t *)w->b, *merged = (int32_t *)w->d;
    size_t m = n;
    for (size_t i = 0; i <= n; i++)
        start[i] = (uint32_t)i;
    for (size_t i = 0; i < n; i++)
        ids[i] = t->byte_id[p[i]];
    for (size_t i = 0; i + 1 < m; i++)
        rank[i] = pair_rank(t, w, p, start[i], start[i + 2], ids[i], ids[i + 1], &merged[i]);
    for (;;) {
        uint32_t best = NO_RANK;
        size_t at = 0;
        for (size_t i = 0; i + 1 < m; i++)
            if (rank[i] < best)
                best = rank[i], at = i;
        if (best == NO_RANK)
            break;
        ids[at] = merged[at];
        m--;
        memmove(start + at + 1, start + at + 2, (m - at) * sizeof *start);
        memmove(ids + at + 1, ids + at + 2, (m - at - 1) * sizeof *ids);
        if (at + 1 < m) {
            memmove(rank + at + 1, rank + at + 2, (m - at - 2) * sizeof *rank);
            memmove(merged + at + 1, merged + at + 2, (m - at - 2) * sizeof *merged);
            rank[at] =
                pair_rank(t, w, p, start[at], start[at + 2], ids[at], ids[at + 1], &merged[at]);
        }
        if (at > 0)
            rank[at - 1] = pair_rank(t, w, p, start[at - 1], start[at + 1], ids[at - 1], ids[at],
                                     &merged[at - 1]);
    }
    return herd_tokens_append(out, ids, m);
}

/* ---- long pieces: heap of candidate pairs over a linked list of parts ---- */

typedef struct heap_entry {
    uint32_t rank, left, right_end;
} heap_entry;

static inline bool heap_less(const heap_entry *x, const heap_entry *y)
{
    return x->rank < y->rank || (x->rank == y->rank && x->left < y->left);
}

typedef struct heap {
    heap_entry *e;
    size_t n, cap;
} heap;

static bool heap_push(heap *h, heap_entry v)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        heap_entry *e = realloc(h->e, cap * sizeof *e);
        if (!e)
            return false;
        h->e = e;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0 && heap_less(&v, &h->e[(i - 1) / 2])) {
        h->e[i] = h->e[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->e[i] = v;
    return true;
}

static heap_entry heap_pop(heap *h)
{
    heap_entry top = h->e[0], v = h->e[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && heap_less(&h->e[c + 1], &h->e[c]))
            c++;
        if (!heap_less(&h->e[c], &v))
            break;
        h->e[i] = h->e[c];
        i = c;
    }
    if (h->n)
        h->e[i] = v;
    return top;
}

static herd_status merge_heap(const herd_tokenizer *t, const uint8_t *p, size_t n, bpe_work *w,
                              herd_tokens *out)
{
    /* Parts are named by their first byte; end[i] == 0 marks a byte that no longer starts one. */
    uint32_t *end = w->a, *prev = w->b;
    int32_t *ids = (int32_t *)w->c;
    heap h = {w->heap, 0, w->heap_cap};
    herd_status st = HERD_OK;
    for (size_t i = 0; i < n; i++) {
        end[i] = (uint32_t)i + 1;
        prev[i] = (uint32_t)i - 1; /* UINT32_MAX for the first */
        ids[i] = t->byte_id[p[i]];
    }
#define PUSH_PAIR(l)                                                                               \
    do {                                                                                           \
        uint32_t l_ = (l), r_ = end[l_];                                                           \
        int32_t m_;                                                                                \
        uint32_t rk_ = pair_rank(t, w, p, l_, end[r_], ids[l_], ids[r_], &m_);                     \
        if (rk_ != NO_RANK && !heap_push(&h, (heap_entry){rk_, l_, end[r_]})) {                    \
            st = herd_fail(HERD_ERR_NOMEM, "out of memory merging a %zu-byte piece", n);           \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)
    for (size_t i = 0; i + 1 < n; i++)
        PUSH_PAIR((uint32_t)i);
    while (h.n) {
        heap_entry e = heap_pop(&h);
        uint32_t l = e.left, r = end[l];
        if (r == 0 || r >= n || end[r] != e.right_end)
            continue; /* stale: one of the two parts has changed since the pair was pushed */
        int32_t merged = -1;
        pair_rank(t, w, p, l, e.right_end, ids[l], ids[r], &merged);
        ids[l] = merged;
        end[l] = e.right_end;
        end[r] = 0;
        if (e.right_end < n)
            prev[e.right_end] = l;
        if (prev[l] != UINT32_MAX)
            PUSH_PAIR(prev[l]);
        if (end[l] < n)
            PUSH_PAIR(l);
    }
#undef PUSH_PAIR
    for (uint32_t i = 0; i < n; i = end[i])
        if ((st = herd_tokens_push(out, ids[i])))
            break;
done:
    w->heap = h.e;
    w->heap_cap = h.cap;
    return st;
}

herd_status bpe_encode_piece(const herd_tokenizer *t, const uint8_t *p, size_t n, bpe_work *w,
                             herd_tokens *out)
{
    if (n == 0)
        return HERD_OK;
    if (n == 1)
        return herd_tokens_push(out, t->byte_id[p[0]]);
    if (!t->use_pairs || t->ignore_merges) {
        int32_t id = tok_map_find(t, &t->ordinary, p, n);
        if (id >= 0)
            return herd_tokens_push(out, id);
    }
    if (n > UINT32_MAX - 2)
        return herd_fail(HERD_ERR_RANGE, "a pre-token piece of %zu bytes is too long", n);
    herd_status st = work_reserve(w, n);
    if (st)
        return st;
    return n <= bpe_small_limit ? merge_small(t, p, n, w, out) : merge_heap(t, p, n, w, out);
}

bool bpe_split_token(const herd_tokenizer *t, int32_t id, bpe_work *w, int32_t *left,
                     int32_t *right)
{
    size_t n = t->len[id];
    const uint8_t *p = t->blob + t->off[id];
    if (n < 2 || work_reserve(w, n))
        return false;
    herd_tokens parts = {0};
    w->rank_limit = (uint32_t)id;
    herd_status st =
        n <= bpe_small_limit ? merge_small(t, p, n, w, &parts) : merge_heap(t, p, n, w, &parts);
    w->rank_limit = 0;
    bool ok = st == HERD_OK && parts.n == 2;
    if (ok) {
        *left = parts.ids[0];
        *right = parts.ids[1];
    }
    herd_tokens_free(&parts);
    return ok;
}
