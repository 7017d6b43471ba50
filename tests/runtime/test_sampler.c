/* Samplers and the generation loop's stop conditions. */
#include "harness.h"
#include "herd/model.h"
#include "herd/runtime.h"

static int32_t draw(const herd_sampler_params *p, const float *lg, int64_t V)
{
    herd_sampler *s;
    CHECK(herd_sampler_create(p, V, &s) == HERD_OK);
    int32_t t = herd_sample(s, lg);
    herd_sampler_free(s);
    return t;
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
static bool collect(void *user, int32_t tok)
{
    (void)user;
    seen[n_seen++] = tok;
    return true;
}

TEST(test_generate_stops)
{
    herd_model_opts o;
    herd_model_opts_default(&o);
    o.quiet = true;
    o.threads = 1;
    herd_model *m;
    CHECK(herd_model_load("llama4/tiny-scout", &o, &m) == HERD_OK);
    herd_kv_cache *kv;
    CHECK(herd_kv_create(m, 64, &kv) == HERD_OK);
    const int32_t prompt[4] = {1, 199, 37, 313};
    herd_gen_params g = {.sampler = {.temperature = 0, .top_p = 1}, .n_predict = 10};
    static const int32_t none[1] = {-1};
    g.stop_ids = none;
    g.n_stop = 0;
    herd_gen_result r;
    n_seen = 0;
    CHECK(herd_generate(m, kv, prompt, 4, &g, collect, NULL, &r) == HERD_OK);
    CHECK(r.reason == HERD_STOP_LENGTH && r.n_generated == 10 && n_seen == 10);
    int32_t third = seen[2];
    /* a stop id ends the run after passing it to the callback */
    herd_kv_reset(kv);
    g.stop_ids = &third;
    g.n_stop = 1;
    n_seen = 0;
    CHECK(herd_generate(m, kv, prompt, 4, &g, collect, NULL, &r) == HERD_OK);
    CHECK(r.reason == HERD_STOP_EOS && n_seen == 3 && seen[2] == third);
    /* the context limit */
    herd_kv_free(kv);
    CHECK(herd_kv_create(m, 6, &kv) == HERD_OK);
    g.stop_ids = none;
    g.n_stop = 0;
    n_seen = 0;
    CHECK(herd_generate(m, kv, prompt, 4, &g, collect, NULL, &r) == HERD_OK);
    CHECK(r.reason == HERD_STOP_CTX && n_seen == 3);
    herd_kv_free(kv);
    herd_model_free(m);
}

int main(void)
{
    RUN(test_sampler_rules);
    RUN(test_sampler_distribution);
    RUN(test_sampler_penalties);
    RUN(test_generate_stops);
    return harness_finish();
}
