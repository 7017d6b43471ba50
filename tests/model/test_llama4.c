/* Llama 4 forward pass against the reference's golden logits (tests/data/llama4/<case>, copied
 * from the spec's test vectors): full prompt, token by token, random prefill pieces, greedy
 * decoding, and the hidden states after each layer. */
#include "harness.h"
#include "herd/io_json.h"
#include "herd/model.h"

static const double ATOL = 1e-3;

typedef struct golden {
    int32_t ids[256];
    int n_prompt, n_total;
    float *logits; /* [n_total, V] */
    float *hidden; /* [L+1, n_prompt, H] */
} golden;

static void load_golden(const char *dir, golden *g)
{
    char path[256];
    snprintf(path, sizeof path, "%s/golden.json", dir);
    json_t *j;
    if (herd_json_load_file(path, &j)) {
        fprintf(stderr, "%s\n", herd_last_error());
        exit(2);
    }
    json_t *p = json_object_get(j, "prompt_ids"), *gen = json_object_get(j, "generated_ids");
    g->n_prompt = (int)json_array_size(p);
    g->n_total = g->n_prompt + (int)json_array_size(gen);
    for (int i = 0; i < g->n_total; i++)
        g->ids[i] = (int32_t)json_integer_value(
            i < g->n_prompt ? json_array_get(p, (size_t)i)
                            : json_array_get(gen, (size_t)(i - g->n_prompt)));
    json_decref(j);
    size_t n;
    snprintf(path, sizeof path, "%s/logits.bin", dir);
    g->logits = harness_read_file(path, &n);
    snprintf(path, sizeof path, "%s/hidden_states.bin", dir);
    g->hidden = harness_read_file(path, &n);
}

static herd_model *load(const char *dir)
{
    herd_model_opts o;
    herd_model_opts_default(&o);
    o.aprep = HERD_APREP_EXACT;
    o.threads = 2;
    o.quiet = true;
    herd_model *m = NULL;
    herd_status st = herd_model_load(dir, &o, &m);
    CHECK_MSG(st == HERD_OK, "load %s: %s", dir, herd_last_error());
    return m;
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - (double)b[i]));
    return d;
}

static int argmax(const float *x, int64_t n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

static void check_case(const char *dir)
{
    golden g;
    load_golden(dir, &g);
    herd_model *m = load(dir);
    if (!m)
        return;
    const herd_llama4_config *c = herd_model_config(m);
    int64_t V = c->vocab, H = c->hidden, L = c->n_layers;
    float *lg = malloc((size_t)(g.n_total * V) * sizeof(float));
    float *hid = malloc((size_t)((L + 1) * g.n_prompt * H) * sizeof(float));
    herd_kv_cache *kv;
    CHECK(herd_kv_create(m, g.n_total, &kv) == HERD_OK);

    /* 1. the whole prompt at once, with the hidden states */
    CHECK(herd_model_forward_ex(m, kv, g.ids, g.n_prompt, lg, true, hid) == HERD_OK);
    for (int64_t l = 0; l <= L; l++) {
        double d = max_diff(hid + l * g.n_prompt * H, g.hidden + l * g.n_prompt * H,
                            (size_t)(g.n_prompt * H));
        CHECK_MSG(d <= ATOL, "%s: hidden state %lld differs by %g", dir, (long long)l, d);
    }
    double d = max_diff(lg, g.logits, (size_t)(g.n_prompt * V));
    CHECK_MSG(d <= ATOL, "%s: full-prompt logits differ by %g", dir, d);
    if (getenv("VERBOSE"))
        printf("%s: full-prompt max diff %g\n", dir, d);

    /* 2. greedy decoding continues from the prompt's cache */
    int32_t tok = (int32_t)argmax(lg + (g.n_prompt - 1) * V, V);
    for (int i = g.n_prompt; i < g.n_total; i++) {
        CHECK_MSG(tok == g.ids[i], "%s: greedy token %d is %d, expected %d", dir, i - g.n_prompt,
                  tok, g.ids[i]);
        float *row = lg + (size_t)i * (size_t)V;
        CHECK(herd_model_forward(m, kv, &g.ids[i], 1, row, false) == HERD_OK);
        tok = (int32_t)argmax(row, V);
    }
    d = max_diff(lg, g.logits, (size_t)(g.n_total * V));
    CHECK_MSG(d <= ATOL, "%s: decode logits differ by %g", dir, d);

    /* 3. token by token from an empty cache (--incremental) */
    herd_kv_reset(kv);
    memset(lg, 0, (size_t)(g.n_total * V) * sizeof(float));
    for (int i = 0; i < g.n_total; i++)
        CHECK(herd_model_forward(m, kv, &g.ids[i], 1, lg + (size_t)i * (size_t)V, true) == HERD_OK);
    d = max_diff(lg, g.logits, (size_t)(g.n_total * V));
    CHECK_MSG(d <= ATOL, "%s: token-by-token logits differ by %g", dir, d);

    /* 4. random prefill pieces */
    uint64_t seed = 0x9e3779b97f4a7c15u;
    for (int trial = 0; trial < 3; trial++) {
        herd_kv_reset(kv);
        memset(lg, 0, (size_t)(g.n_total * V) * sizeof(float));
        for (int i = 0; i < g.n_total;) {
            int k = 1 + (int)(harness_rand(&seed) % 11);
            if (k > g.n_total - i)
                k = g.n_total - i;
            CHECK(herd_model_forward(m, kv, &g.ids[i], k, lg + (size_t)i * (size_t)V, true) ==
                  HERD_OK);
            i += k;
        }
        d = max_diff(lg, g.logits, (size_t)(g.n_total * V));
        CHECK_MSG(d <= ATOL, "%s: logits from random pieces differ by %g", dir, d);
    }

    /* the context limit ends a run cleanly, leaving the cache as it was */
    CHECK(herd_kv_pos(kv) == g.n_total);
    CHECK(herd_model_forward(m, kv, g.ids, 1, NULL, false) == HERD_ERR_RANGE);
    CHECK(herd_kv_pos(kv) == g.n_total);

    herd_kv_free(kv);
    herd_model_free(m);
    free(lg);
    free(hid);
    free(g.logits);
    free(g.hidden);
}

TEST(test_tiny_scout)
{
    check_case("llama4/tiny-scout");
}

TEST(test_tiny_maverick)
{
    check_case("llama4/tiny-maverick");
}

int main(void)
{
    RUN(test_tiny_scout);
    RUN(test_tiny_maverick);
    return harness_finish();
}
