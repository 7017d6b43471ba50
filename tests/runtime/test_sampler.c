/* Samplers and the generation loop's stop conditions. */
#include "harness.h"
#include "herd/model.h"
#include "herd/runtime.h"
#include "herd/text.h"

#include <math.h>

static int32_t draw(const herd_sampler_params *p, const float *lg, int64_t V)
{
    herd_sampler *s;
    CHECK(herd_sampler_create(p, V, &s) == HERD_OK);
    int32_t t = herd_sample(s, lg);
    herd_sampler_free(s);
    return t;
}

/* herd_argmax against the plain scan (first index of the largest, NaNs skipped) on lengths
 * around its block size, with ties, a repeated maximum, signed zeros and NaNs. */
TEST(test_argmax)
{
    static float x[5000];
    uint64_t r = 9;
    for (int trial = 0; trial < 400; trial++) {
        int64_t n = 1 + trial * 37 % 4999;
        for (int64_t i = 0; i < n; i++) {
            r = r * 6364136223846793005u + 1442695040888963407u;
            x[i] = (float)(int)((r >> 33) % 7) - 3.0f; /* few values: many ties */
        }
        if (trial % 3 == 0)
            x[(r >> 20) % (uint64_t)n] = NAN;
        if (trial % 5 == 0)
            x[0] = trial % 10 ? -0.0f : NAN;
        if (trial % 7 == 0)
            for (int64_t i = 0; i < n; i++)
                x[i] = i % 2 ? -0.0f : 0.0f;
        int32_t want = 0;
        for (int64_t i = 1; i < n; i++)
            if (x[i] > x[want])
                want = (int32_t)i;
        CHECK_MSG(herd_argmax(x, n) == want, "n %lld: %d, want %d", (long long)n, herd_argmax(x, n),
                  want);
    }
}

TEST(test_sampler_rules)
{
    float lg[6] = {0.1f, 2.0f, 1.9f, -3, 1.0f, 0.5f};
    herd_sampler_params p = {.temperature = 0, .top_p = 1};
    CHECK(draw(&p, lg, 6) == 1); /* greedy */
    p.temperature = 5;
    p.top_k = 1;
    for (uint64_t seed = 0; seed < 50; seed++) {
        p.seed = seed;
        CHECK(draw(&p, lg, 6) == 1); /* top-1 leaves the argmax only */
    }
    p.top_k = 0;
    p.top_p = 1e-6f;
    CHECK(draw(&p, lg, 6) == 1);
    p.top_p = 1;
    p.min_p = 1;
    CHECK(draw(&p, lg, 6) == 1);
    /* top-k 2: only the two best ever come out */
    p = (herd_sampler_params){.temperature = 10, .top_k = 2, .top_p = 1};
    for (uint64_t seed = 0; seed < 200; seed++) {
        p.seed = seed;
        int32_t t = draw(&p, lg, 6);
        CHECK(t == 1 || t == 2);
    }
    herd_sampler *s;
    p.top_p = 0;
    CHECK(herd_sampler_create(&p, 6, &s) == HERD_ERR_ARG);
}

TEST(test_sampler_distribution)
{
    /* temperature 1 on logits {0, ln 3}: probabilities 1/4 and 3/4 */
    float lg[2] = {0, logf(3)};
    herd_sampler_params p = {.temperature = 1, .top_p = 1, .seed = 7};
    herd_sampler *s;
    CHECK(herd_sampler_create(&p, 2, &s) == HERD_OK);
    int ones = 0, n = 20000;
    for (int i = 0; i < n; i++)
        ones += herd_sample(s, lg) == 1;
    CHECK_NEAR((double)ones / n, 0.75, 0.015);
    herd_sampler_free(s);
    /* the same seed repeats the same sequence */
    herd_sampler *a, *b;
    CHECK(herd_sampler_create(&p, 2, &a) == HERD_OK && herd_sampler_create(&p, 2, &b) == HERD_OK);
    bool same = true;
    for (int i = 0; i < 100; i++)
        same &= herd_sample(a, lg) == herd_sample(b, lg);
    CHECK(same);
    herd_sampler_free(a);
    herd_sampler_free(b);
}

TEST(test_sampler_penalties)
{
    /* greedy with penalties: the penalized copy decides, the caller's logits stay */
    float lg[4] = {3.0f, 2.5f, -1.0f, 0.0f};
    herd_sampler_params p = {
        .temperature = 0, .top_p = 1, .repeat_penalty = 1.5f, .repeat_last_n = 2};
    herd_sampler *s;
    CHECK(herd_sampler_create(&p, 4, &s) == HERD_OK);
    CHECK(herd_sample(s, lg) == 0); /* empty window: no penalty */
    herd_sampler_accept(s, 0);      /* 3 / 1.5 = 2 < 2.5 */
    CHECK(herd_sample(s, lg) == 1);
    CHECK(lg[0] == 3.0f);
    herd_sampler_accept(s, 1); /* 2.5 / 1.5 < 2: 0 wins again */
    CHECK(herd_sample(s, lg) == 0);
    herd_sampler_accept(s, 3); /* window 2: 0 left it, only 1 and 3 are penalized */
    herd_sampler_accept(s, 3);
    CHECK(herd_sample(s, lg) == 0);
    herd_sampler_free(s);
    /* a negative logit is multiplied: -1 x 2 = -2 falls below 3's -0.5 */
    float neg[2] = {-1.0f, -1.5f};
    p = (herd_sampler_params){
        .temperature = 0, .top_p = 1, .repeat_penalty = 2, .repeat_last_n = -1};
    CHECK(herd_sampler_create(&p, 2, &s) == HERD_OK);
    for (int i = 0; i < 1000; i++) /* -1: the whole history, grown past its first ring */
        herd_sampler_accept(s, 0);
    CHECK(herd_sample(s, neg) == 1);
    herd_sampler_free(s);
    /* frequency x count and presence once */
    float fl[3] = {5.0f, 4.0f, 3.5f};
    p = (herd_sampler_params){
        .temperature = 0, .top_p = 1, .frequency_penalty = 0.4f, .repeat_last_n = 8};
    CHECK(herd_sampler_create(&p, 3, &s) == HERD_OK);
    herd_sampler_accept(s, 0);
    herd_sampler_accept(s, 0);
    CHECK(herd_sample(s, fl) == 0); /* 5 - 0.8 = 4.2 > 4 */
    herd_sampler_accept(s, 0);
    CHECK(herd_sample(s, fl) == 1); /* 5 - 1.2 = 3.8 < 4 */
    herd_sampler_free(s);
    p = (herd_sampler_params){
        .temperature = 0, .top_p = 1, .presence_penalty = 1.2f, .repeat_last_n = 8};
    CHECK(herd_sampler_create(&p, 3, &s) == HERD_OK);
    herd_sampler_accept(s, 0);
    herd_sampler_accept(s, 0);
    herd_sampler_accept(s, 0);
    CHECK(herd_sample(s, fl) == 1); /* 5 - 1.2 = 3.8 < 4, whatever the count */
    herd_sampler_free(s);
    /* zeroed params: no penalties; a negative repeat penalty is refused */
    p = (herd_sampler_params){
        .temperature = 0, .top_p = 1, .repeat_penalty = -1, .repeat_last_n = 4};
    CHECK(herd_sampler_create(&p, 3, &s) == HERD_ERR_ARG);
}

static int seen[64], n_seen;
static char text[1024];
static size_t n_text;
static bool collect(void *user, const herd_gen_token *t)
{
    (void)user;
    if (t->id >= 0)
        seen[n_seen++] = t->id;
    if (t->text) {
        memcpy(text + n_text, t->text, t->len);
        n_text += t->len;
    }
    return true;
}

static void reset(herd_kv_cache *kv)
{
    herd_kv_reset(kv);
    n_seen = 0;
    n_text = 0;
}

TEST(test_generate_stops)
{
    herd_model_opts o;
    herd_model_opts_default(&o);
    o.quiet = true;
    o.threads = 1;
    herd_model *m;
    CHECK(herd_model_load("llama4/tiny-scout", &o, &m) == HERD_OK);
    herd_tokenizer *tok;
    CHECK(herd_tokenizer_load_file("tokenizer/tiny/tokenizer.json", NULL, &tok) == HERD_OK);
    herd_kv_cache *kv;
    CHECK(herd_kv_create(m, 64, &kv) == HERD_OK);
    const int32_t prompt[4] = {1, 199, 37, 313};
    herd_gen_params g;
    herd_gen_params_default(&g);
    g.sampler = (herd_sampler_params){.temperature = 0, .top_p = 1};
    g.n_predict = 10;
    g.ignore_eos = true;
    g.special = true; /* the text of special tokens too, as herd_tokenizer_decode gives it */
    herd_gen_result r;
    reset(kv);
    CHECK(herd_generate(kv, 0, tok, prompt, 4, &g, collect, NULL, &r) == HERD_OK);
    CHECK(r.reason == HERD_STOP_LENGTH && r.n_generated == 10 && n_seen == 10);
    CHECK_EQ_INT(herd_kv_pos(kv), 14); /* every sampled token was fed */
    int32_t ref[10];
    memcpy(ref, seen, sizeof ref);
    char *want;
    size_t n_want;
    CHECK(herd_tokenizer_decode(tok, ref, 10, 0, &want, &n_want) == HERD_OK);
    CHECK(n_text == n_want && !memcmp(text, want, n_want));
    /* generation continues where the cache is: the same as one longer run */
    reset(kv);
    g.n_predict = 4;
    CHECK(herd_generate(kv, 0, NULL, prompt, 4, &g, collect, NULL, &r) == HERD_OK);
    CHECK(herd_generate(kv, 0, NULL, &ref[4], 1, &g, collect, NULL, &r) == HERD_OK);
    CHECK(n_seen == 8 && !memcmp(seen, ref, 4 * sizeof *ref) &&
          !memcmp(seen + 4, ref + 5, 4 * sizeof *ref));
    /* a stop token of the tokenizer ends the run after passing it on, without text */
    g.n_predict = 10;
    g.ignore_eos = false;
    g.special = false;
    CHECK(herd_tokenizer_add_stop(tok, ref[2]) == HERD_OK);
    reset(kv);
    CHECK(herd_generate(kv, 0, tok, prompt, 4, &g, collect, NULL, &r) == HERD_OK);
    CHECK(r.reason == HERD_STOP_EOS && n_seen == 3 && seen[2] == ref[2]);
    CHECK_EQ_INT(herd_kv_pos(kv), 7);
    char *two;
    size_t n_two;
    CHECK(herd_tokenizer_decode(tok, ref, 2, HERD_DECODE_SKIP_SPECIAL, &two, &n_two) == HERD_OK);
    CHECK(n_text == n_two && !memcmp(text, two, n_two));
    free(two);
    /* a stop string: the text stops before it */
    herd_tokenizer_free(tok);
    CHECK(herd_tokenizer_load_file("tokenizer/tiny/tokenizer.json", NULL, &tok) == HERD_OK);
    size_t cut = n_want / 2;
    char stop[8] = {0};
    memcpy(stop, want + cut, n_want - cut < 3 ? n_want - cut : 3);
    size_t first = (size_t)(strstr(want, stop) - want);
    g.stop[0] = stop;
    g.special = true;
    reset(kv);
    CHECK(herd_generate(kv, 0, tok, prompt, 4, &g, collect, NULL, &r) == HERD_OK);
    CHECK_MSG(r.reason == HERD_STOP_STRING && n_text == first && !memcmp(text, want, first),
              "stop string '%s': reason %d, %zu bytes of text (want %zu)", stop, (int)r.reason,
              n_text, first);
    g.stop[0] = NULL;
    free(want);
    /* the context limit */
    herd_kv_free(kv);
    CHECK(herd_kv_create(m, 6, &kv) == HERD_OK);
    reset(kv);
    CHECK(herd_generate(kv, 0, NULL, prompt, 4, &g, collect, NULL, &r) == HERD_OK);
    CHECK(r.reason == HERD_STOP_CTX && n_seen == 3);
    herd_kv_free(kv);
    herd_tokenizer_free(tok);
    herd_model_free(m);
}

/* ---- the whole-vocabulary sampler the prefilter must equal, draw for draw ---------------- */
typedef struct ref_tp {
    float p;
    int32_t id;
} ref_tp;

static int ref_cmp(const void *a, const void *b)
{
    const ref_tp *x = a, *y = b;
    if (x->p != y->p)
        return x->p > y->p ? -1 : 1;
    return x->id - y->id;
}

static uint64_t ref_next(uint64_t *s)
{
#define ROTL(x, k) (((x) << (k)) | ((x) >> (64 - (k))))
    uint64_t r = ROTL(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = ROTL(s[3], 45);
    return r;
#undef ROTL
}

static int32_t ref_sample(const herd_sampler_params *p, uint64_t *rng, const float *lg, int64_t V,
                          ref_tp *c)
{
    float mx = lg[0];
    for (int64_t i = 1; i < V; i++)
        mx = lg[i] > mx ? lg[i] : mx;
    double sum = 0;
    for (int64_t i = 0; i < V; i++) {
        c[i] = (ref_tp){expf((lg[i] - mx) / p->temperature), (int32_t)i};
        sum += c[i].p;
    }
    for (int64_t i = 0; i < V; i++)
        c[i].p = (float)(c[i].p / sum);
    qsort(c, (size_t)V, sizeof *c, ref_cmp);
    int64_t n = p->top_k > 0 && p->top_k < V ? p->top_k : V;
    if (p->top_p < 1) {
        double acc = 0;
        for (int64_t i = 0; i < n; i++)
            if ((acc += c[i].p) >= p->top_p) {
                n = i + 1;
                break;
            }
    }
    if (p->min_p > 0) {
        int64_t keep = 1;
        while (keep < n && c[keep].p >= p->min_p * c[0].p)
            keep++;
        n = keep;
    }
    double total = 0, acc = 0;
    for (int64_t i = 0; i < n; i++)
        total += c[i].p;
    double r = (double)(ref_next(rng) >> 11) * 0x1p-53 * total;
    for (int64_t i = 0; i < n; i++)
        if (r < (acc += c[i].p))
            return c[i].id;
    return c[n - 1].id;
}

/* The prefilter draws exactly what sorting the whole vocabulary draws: peaked and flat
 * distributions (the flat ones need the fallback), top-k alone, min-p, plain temperature. */
TEST(test_sampler_prefilter)
{
    enum { V = 3000 };
    static float lg[V];
    static ref_tp c[V];
    const herd_sampler_params ps[6] = {
        {.temperature = 0.6f, .top_p = 0.9f, .seed = 1},
        {.temperature = 3, .top_p = 0.95f, .seed = 2},
        {.temperature = 1, .top_k = 40, .top_p = 1, .seed = 3},
        {.temperature = 1, .top_k = 2900, .top_p = 1, .seed = 3},
        {.temperature = 1, .top_p = 1, .min_p = 0.05f, .seed = 4},
        {.temperature = 1, .top_p = 1, .seed = 5},
    };
    for (int spread = 0; spread < 2; spread++) {
        uint64_t x = 3;
        for (int i = 0; i < V; i++) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            lg[i] = (float)((x >> 40) % 1000) / (spread ? 900.0f : 60.0f);
        }
        for (int k = 0; k < 6; k++) {
            herd_sampler *s;
            CHECK(herd_sampler_create(&ps[k], V, &s) == HERD_OK);
            uint64_t rng[4], z = ps[k].seed;
            for (int i = 0; i < 4; i++) { /* splitmix64, as the sampler seeds itself */
                uint64_t y = (z += 0x9e3779b97f4a7c15u);
                y = (y ^ (y >> 30)) * 0xbf58476d1ce4e5b9u;
                y = (y ^ (y >> 27)) * 0x94d049bb133111ebu;
                rng[i] = y ^ (y >> 31);
            }
            int same = 0;
            for (int i = 0; i < 200; i++)
                same += herd_sample(s, lg) == ref_sample(&ps[k], rng, lg, V, c);
            CHECK_MSG(same == 200, "rule set %d, spread %d: %d of 200 draws agree", k, spread,
                      same);
            herd_sampler_free(s);
        }
    }
}

int main(void)
{
    RUN(test_argmax);
    RUN(test_sampler_rules);
    RUN(test_sampler_distribution);
    RUN(test_sampler_penalties);
    RUN(test_generate_stops);
    RUN(test_sampler_prefilter);
    return harness_finish();
}
