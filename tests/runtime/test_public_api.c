/* Embedding libherd from its public header alone (no harness internals, no src/ headers): load
 * the tiny model, run two contexts on two threads, a batch of three sequences, and generation
 * with a tokenizer. */
#include "herd/herd.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static int failures;
#define EXPECT(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: EXPECT(%s) failed: %s\n", __FILE__, __LINE__, #c,              \
                    herd_last_error());                                                            \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

enum { MAXV = 1024, STEPS = 6 };
static const herd_model *model;
static int64_t vocab;

typedef struct worker {
    int32_t first;
    int32_t out[STEPS];
} worker;

/* Greedy decode in a context of its own. */
static void *greedy(void *p)
{
    worker *w = p;
    herd_context_opts o;
    herd_context_opts_default(&o);
    o.ctx = 64;
    o.threads = 1;
    herd_context *c;
    if (herd_context_create(model, &o, &c)) {
        failures++;
        return NULL;
    }
    float logits[MAXV];
    int32_t tok = w->first;
    for (int s = 0; s < STEPS; s++) {
        herd_batch b = {.n = 1, .token = &tok};
        if (herd_forward(c, &b, logits)) {
            failures++;
            break;
        }
        int best = 0;
        for (int v = 1; v < vocab; v++)
            best = logits[v] > logits[best] ? v : best;
        w->out[s] = tok = best;
    }
    herd_context_free(c);
    return NULL;
}

static bool count(void *user, const herd_gen_token *t)
{
    *(int *)user += t->id >= 0;
    return true;
}

int main(void)
{
    herd_model_opts mo;
    herd_model_opts_default(&mo);
    mo.quiet = true;
    herd_model *m;
    EXPECT(herd_model_load("llama4/tiny-scout", &mo, &m) == HERD_OK);
    if (failures)
        return 1;
    model = m;
    vocab = herd_model_config(m)->vocab;
    EXPECT(vocab <= MAXV);

    /* two contexts on two threads = one after the other */
    worker a[2] = {{.first = 7}, {.first = 300}}, b[2] = {{.first = 7}, {.first = 300}};
    greedy(&a[0]);
    greedy(&a[1]);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        EXPECT(pthread_create(&th[i], NULL, greedy, &b[i]) == 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    EXPECT(!memcmp(a, b, sizeof a));

    /* a batch of three sequences, each at its own position */
    herd_context_opts o;
    herd_context_opts_default(&o);
    o.ctx = 64;
    o.n_seqs = 3;
    o.threads = 2;
    herd_context *c;
    EXPECT(herd_context_create(m, &o, &c) == HERD_OK);
    const int32_t p0[3] = {1, 2, 3}, p1[1] = {4};
    int32_t s1[1] = {1};
    herd_batch pre0 = {.n = 3, .token = p0}, pre1 = {.n = 1, .token = p1, .seq = s1};
    EXPECT(herd_forward(c, &pre0, NULL) == HERD_OK);
    EXPECT(herd_forward(c, &pre1, NULL) == HERD_OK);
    int32_t tok[3] = {10, 11, 12}, seq[3] = {2, 0, 1};
    bool want[3] = {true, true, true};
    static float logits[3 * MAXV];
    herd_batch batch = {.n = 3, .token = tok, .seq = seq, .logits = want};
    EXPECT(herd_forward(c, &batch, logits) == HERD_OK);
    EXPECT(herd_seq_len(c, 0) == 4 && herd_seq_len(c, 1) == 2 && herd_seq_len(c, 2) == 1);
    EXPECT(herd_seq_bytes(c, 0) > 0);

    /* generation on sequence 2 with the checkpoint's tokenizer (and its stop set) */
    herd_tokenizer *tk = NULL;
    EXPECT(herd_tokenizer_load_file("tokenizer/tiny/tokenizer.json", NULL, &tk) == HERD_OK);
    herd_gen_params g;
    herd_gen_params_default(&g);
    g.n_predict = 5;
    g.ignore_eos = true;
    herd_gen_result r;
    int n = 0;
    EXPECT(herd_generate(c, 2, tk, p0, 3, &g, count, &n, &r) == HERD_OK);
    EXPECT(r.reason == HERD_STOP_LENGTH && n == 5 && herd_seq_len(c, 2) == 1 + 3 + 5);
    herd_tokenizer_free(tk);
    herd_context_free(c);
    herd_model_free(m);
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
