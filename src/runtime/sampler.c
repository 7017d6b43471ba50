/* Samplers: temperature, top-k, top-p, min-p, then a seeded draw (order in runtime.h). */
#include "herd/runtime.h"
#include "runtime/penalties.h"

#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct tok_prob {
    float p;
    int32_t id;
} tok_prob;

struct herd_sampler {
    herd_sampler_params p;
    int64_t vocab;
    uint64_t rng[4];
    tok_prob *cand; /* candidates, sorted by probability */
    herd_penalties pen;
    float *adjusted; /* the penalized copy of the logits; NULL without penalties */
};

void herd_sampler_params_default(herd_sampler_params *p)
{
    *p = (herd_sampler_params){.temperature = 0.6f,
                               .top_k = 0,
                               .top_p = 0.9f,
                               .min_p = 0,
                               .seed = 0,
                               .repeat_penalty = 1,
                               .repeat_last_n = 64};
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t next(uint64_t *s) /* xoshiro256** */
{
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

herd_status herd_sampler_create(const herd_sampler_params *p, int64_t vocab, herd_sampler **out)
{
    *out = NULL;
    if (!(p->temperature >= 0) || p->top_k < 0 || !(p->top_p > 0 && p->top_p <= 1) ||
        !(p->min_p >= 0 && p->min_p <= 1) || vocab < 1)
        return herd_fail(HERD_ERR_ARG, "sampler: temperature >= 0, top-k >= 0, 0 < top-p <= 1 "
                                       "and 0 <= min-p <= 1 are required");
    herd_sampler *s = herd_calloc(sizeof *s, "sampler");
    if (!s)
        return HERD_ERR_NOMEM;
    s->cand = herd_alloc((size_t)vocab * sizeof *s->cand, "sampler");
    if (!s->cand) {
        herd_sampler_free(s);
        return HERD_ERR_NOMEM;
    }
    if (herd_penalties_wanted(p)) {
        herd_status st = herd_penalties_init(&s->pen, p, vocab);
        s->adjusted = st ? NULL : herd_alloc((size_t)vocab * sizeof *s->adjusted, "sampler");
        if (!s->adjusted) {
            herd_sampler_free(s);
            return st ? st : HERD_ERR_NOMEM;
        }
    }
    s->p = *p;
    s->vocab = vocab;
    uint64_t x = p->seed;
    for (int i = 0; i < 4; i++)
        s->rng[i] = splitmix(&x);
    *out = s;
    return HERD_OK;
}

void herd_sampler_free(herd_sampler *s)
{
    if (!s)
        return;
    herd_free(s->cand);
    herd_penalties_free(&s->pen);
    herd_free(s->adjusted);
    herd_free(s);
}

void herd_sampler_accept(herd_sampler *s, int32_t token)
{
    if (s->adjusted)
        herd_penalties_accept(&s->pen, token);
}

static int by_prob_desc(const void *a, const void *b)
{
    const tok_prob *x = a, *y = b;
    if (x->p != y->p)
        return x->p > y->p ? -1 : 1;
    return x->id - y->id; /* ties: lower id first, deterministic */
}

/* Blocks of ARGMAX_BLOCK: the block's maximum with vector max (MAXPS keeps its second
 * operand when the first is a NaN, so NaNs are skipped), and only a block whose maximum beats
 * the best so far is searched for its first index of that value: the answer of the plain scan
 * `x[i] > x[best]`. */
enum { ARGMAX_BLOCK = 1024 };

int32_t herd_argmax(const float *x, int64_t n)
{
    int32_t best = 0;
    float bv = x[0];
    int64_t i = 1;
    for (; i + ARGMAX_BLOCK <= n; i += ARGMAX_BLOCK) {
        __m128 m0 = _mm_set1_ps(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
        for (int64_t j = i; j < i + ARGMAX_BLOCK; j += 16) {
            m0 = _mm_max_ps(_mm_loadu_ps(x + j), m0);
            m1 = _mm_max_ps(_mm_loadu_ps(x + j + 4), m1);
            m2 = _mm_max_ps(_mm_loadu_ps(x + j + 8), m2);
            m3 = _mm_max_ps(_mm_loadu_ps(x + j + 12), m3);
        }
        float lane[4];
        _mm_storeu_ps(lane, _mm_max_ps(_mm_max_ps(m0, m1), _mm_max_ps(m2, m3)));
        float bm = fmaxf(fmaxf(lane[0], lane[1]), fmaxf(lane[2], lane[3]));
        if (!(bm > bv))
            continue;
        int64_t j = i;
        while (!(x[j] == bm)) /* it is there: bm is one of the block's values */
            j++;
        best = (int32_t)j;
        bv = bm;
    }
    for (; i < n; i++)
        if (x[i] > bv) {
            best = (int32_t)i;
            bv = x[i];
        }
    return best;
}

/* The candidates: every token whose e = exp((logit - max) / T) (its probability relative to
 * the top one) is at least `cut`, with probabilities normalized over the whole vocabulary.
 * They are a prefix of the whole vocabulary sorted by probability. Returns their number. */
static int64_t candidates(herd_sampler *s, const float *logits, float mx, float cut)
{
    tok_prob *c = s->cand;
    double sum = 0;
    int64_t n = 0;
    for (int64_t i = 0; i < s->vocab; i++) {
        float e = expf((logits[i] - mx) / s->p.temperature);
        sum += e;
        if (e >= cut)
            c[n++] = (tok_prob){e, (int32_t)i};
    }
    for (int64_t i = 0; i < n; i++)
        c[i].p = (float)(c[i].p / sum);
    qsort(c, (size_t)n, sizeof *c, by_prob_desc);
    return n;
}

/* top-k, top-p and min-p over the sorted candidates c[0..m): how many survive. *more is set
 * when the rules ran out of candidates before they would have stopped over the whole
 * vocabulary (the caller then widens the candidates). */
static int64_t truncate_rules(const herd_sampler *s, int64_t m, bool *more)
{
    const tok_prob *c = s->cand;
    int64_t limit = s->p.top_k > 0 && s->p.top_k < s->vocab ? s->p.top_k : s->vocab;
    int64_t n = m < limit ? m : limit;
    bool decided = n == limit; /* top-k ends the list inside the candidates */
    if (s->p.top_p < 1) {      /* top-p: the smallest prefix reaching p */
        double acc = 0;
        for (int64_t i = 0; i < n; i++) {
            acc += c[i].p;
            if (acc >= s->p.top_p) {
                n = i + 1;
                decided = true;
                break;
            }
        }
    }
    if (s->p.min_p > 0) { /* min-p: relative to the most likely token */
        float floor_p = s->p.min_p * c[0].p;
        int64_t keep = 1;
        while (keep < n && c[keep].p >= floor_p)
            keep++;
        decided |= keep < n;
        n = keep;
    }
    *more = !decided && n == m && m < s->vocab;
    return n;
}

/* Steps, in order: (1) the penalties adjust a copy of the logits; (2) greedy when T = 0; (3)
 * probabilities, and as candidates only the tokens that can survive the cuts (a prefilter, so the
 * sort sees a few hundred tokens rather than the vocabulary); (4) the cuts; (5) the draw. The
 * result is the same as sorting the whole vocabulary: when the cuts could reach past the
 * candidates, they are widened to all. */
int32_t herd_sample(herd_sampler *s, const float *logits)
{
    int64_t V = s->vocab;
    if (s->adjusted) {
        memcpy(s->adjusted, logits, (size_t)V * sizeof *logits);
        herd_penalties_apply(&s->pen, s->adjusted);
        logits = s->adjusted;
    }
    if (s->p.temperature == 0)
        return herd_argmax(logits, V);
    float mx = logits[herd_argmax(logits, V)];
    /* min-p keeps e >= min_p (half of it, against rounding); else a cut that the top-p mass
     * practically never reaches past */
    float cut = s->p.min_p > 0 ? s->p.min_p * 0.5f : 1e-6f;
    if (s->p.top_p >= 1 && s->p.min_p <= 0 && s->p.top_k <= 0)
        cut = 0; /* plain temperature sampling: every token */
    bool more;
    int64_t m = candidates(s, logits, mx, cut);
    int64_t n = truncate_rules(s, m, &more);
    if (more) {
        m = candidates(s, logits, mx, 0);
        n = truncate_rules(s, m, &more);
    }
    const tok_prob *c = s->cand;
    double total = 0;
    for (int64_t i = 0; i < n; i++)
        total += c[i].p;
    double r = (double)(next(s->rng) >> 11) * 0x1p-53 * total, acc = 0;
    for (int64_t i = 0; i < n; i++) {
        acc += c[i].p;
        if (r < acc)
            return c[i].id;
    }
    return c[n - 1].id;
}
