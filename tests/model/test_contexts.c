/* Contexts, batches and per-sequence KV caches on a small synthetic model with a tiny
 * attention_chunk_size (5) and a context long enough for the chunked layers' rings to wrap:
 *   - a batch mixing three sequences at different positions (two crossing a chunk boundary)
 *     gives each sequence the logits it gets alone;
 *   - truncate + re-feed equals a fresh run; a prefix copied to another sequence continues
 *     exactly as the original; truncating past what the rings hold fails cleanly;
 *   - a batch with a bad row, and a prefill cancelled between layers (one that would wrap the
 *     ring), leave every sequence exactly as before;
 *   - two contexts on one model on two threads give the bits of running one after the other
 *     (this test also runs under ThreadSanitizer: scripts/test.sh builds build-tsan);
 *   - all of the above but the threads again for each KV cache type (bf16, q8_0, K and V
 *     apart), whose logits stay close to the f32 cache's and whose memory is what it says. */
#include "harness.h"
#include "herd/model.h"

#include <pthread.h>

static const char *CONFIG =
    "{\"architectures\": [\"Llama4ForCausalLM\"], \"vocab_size\": 97, \"hidden_size\": 48,"
    " \"num_hidden_layers\": 4, \"num_attention_heads\": 6, \"num_key_value_heads\": 2,"
    " \"head_dim\": 12, \"intermediate_size\": 32, \"intermediate_size_mlp\": 40,"
    " \"num_local_experts\": 4, \"num_experts_per_tok\": 1, \"interleave_moe_layer_step\": 2,"
    " \"no_rope_layers\": [], \"attention_chunk_size\": 5, \"attn_temperature_tuning\": 1,"
    " \"floor_scale\": 3, \"attn_scale\": 0.2, \"use_qk_norm\": true,"
    " \"max_position_embeddings\": 2048, \"rope_theta\": 1000.0}";

enum { V = 97, CTX = 1400, LONG = 1100 };

static herd_model *model;
static int32_t ids[LONG];
static herd_type cache_k = HERD_TYPE_F32, cache_v = HERD_TYPE_F32; /* of every context made */

static herd_model *make_model(void)
{
    herd_llama4_config c;
    herd_weight_source src;
    herd_model *m = NULL;
    CHECK(herd_llama4_config_parse(CONFIG, strlen(CONFIG), "config", &c) == HERD_OK);
    CHECK(herd_synthetic_source(&c, 77, HERD_TYPE_BF16, &src) == HERD_OK);
    herd_model_opts o;
    herd_model_opts_default(&o);
    o.threads = 2;
    o.quiet = true;
    herd_status st = herd_model_load_source(&c, &src, &o, &m);
    CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
    return m;
}

static herd_context *make_ctx(int n_seqs, int threads)
{
    herd_context_opts o;
    herd_context_opts_default(&o);
    o.ctx = CTX;
    o.n_seqs = n_seqs;
    o.threads = threads;
    o.type_k = cache_k;
    o.type_v = cache_v;
    herd_context *c = NULL;
    herd_status st = herd_context_create(model, &o, &c);
    CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
    return c;
}

/* Feeds ids[from .. from+n) to `seq` in batches of up to HERD_BATCH_MAX; logits of every row
 * (NULL: none). */
static herd_status feed(herd_context *c, int seq, const int32_t *t, int64_t n, float *logits)
{
    bool all[HERD_BATCH_MAX];
    int32_t seqs[HERD_BATCH_MAX];
    for (int i = 0; i < HERD_BATCH_MAX; i++) {
        all[i] = true;
        seqs[i] = seq;
    }
    for (int64_t d = 0; d < n; d += HERD_BATCH_MAX) {
        int64_t k = n - d < HERD_BATCH_MAX ? n - d : HERD_BATCH_MAX;
        herd_batch b = {.n = k, .token = t + d, .seq = seqs, .logits = logits ? all : NULL};
        herd_status st = herd_forward(c, &b, logits ? logits + d * V : NULL);
        if (st)
            return st;
    }
    return HERD_OK;
}

/* Logits of positions from .. from+n-1 of ids[] for a sequence that starts fresh. */
static void solo(int64_t from, int64_t n, float *out)
{
    herd_context *c = make_ctx(1, 2);
    float *lg = malloc((size_t)(from + n) * V * sizeof(float));
    CHECK(feed(c, 0, ids, from + n, lg) == HERD_OK);
    memcpy(out, lg + from * V, (size_t)(n * V) * sizeof(float));
    free(lg);
    herd_context_free(c);
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - (double)b[i]));
    return d;
}

TEST(test_mixed_batch)
{
    /* three sequences, all reading ids[] from different starting lengths: 3, 9 and 4 */
    herd_context *c = make_ctx(3, 2);
    const int64_t len[3] = {3, 9, 4};
    for (int s = 0; s < 3; s++)
        CHECK(feed(c, s, ids, len[s], NULL) == HERD_OK);
    /* rows interleaved: seq 1 crosses the chunk boundary at 10, seq 2 at 5 */
    int32_t seq[6] = {1, 0, 2, 1, 2, 1}, tok[6];
    int64_t pos[6], next[3] = {3, 9, 4};
    bool want[6] = {1, 1, 1, 1, 1, 1};
    for (int i = 0; i < 6; i++) {
        pos[i] = next[seq[i]]++;
        tok[i] = ids[pos[i]];
    }
    float got[6 * V];
    herd_batch b = {.n = 6, .token = tok, .seq = seq, .pos = pos, .logits = want};
    herd_status st = herd_forward(c, &b, got);
    CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
    for (int i = 0; i < 6; i++) {
        float ref[V];
        solo(pos[i], 1, ref);
        double d = max_diff(got + i * V, ref, V);
        CHECK_MSG(d <= 1e-5, "row %d (seq %d, pos %lld) differs from alone by %g", i, seq[i],
                  (long long)pos[i], d);
    }
    CHECK_EQ_INT(herd_seq_len(c, 0), 4);
    CHECK_EQ_INT(herd_seq_len(c, 1), 12);
    CHECK_EQ_INT(herd_seq_len(c, 2), 6);
    /* a wrong position, a bad sequence, an empty batch: refused, nothing changes */
    pos[0] = 11;
    CHECK(herd_forward(c, &b, got) == HERD_ERR_ARG);
    seq[0] = 3;
    CHECK(herd_forward(c, &b, got) == HERD_ERR_ARG);
    b.n = 0;
    CHECK(herd_forward(c, &b, got) == HERD_ERR_ARG);
    CHECK_EQ_INT(herd_seq_len(c, 1), 12);
    /* only the last row by default; an embedding row in place of a token */
    float one[V];
    int32_t t2[2] = {-1, ids[12]}, s2[2] = {1, 1};
    float emb[2 * 48] = {0};
    b = (herd_batch){.n = 2, .token = t2, .embd = emb, .seq = s2};
    CHECK(herd_forward(c, &b, one) == HERD_OK);
    CHECK_EQ_INT(herd_seq_len(c, 1), 14);
    herd_context_free(c);
}

TEST(test_decode_step)
{
    /* one row for each of four sequences (decode of many: their attention runs as the pool's
     * claims, their routed experts as one GEMM run), at lengths 3, 9, 4 and 14: seq 1 crosses
     * the chunk boundary at 10, seq 2 sits at 5 */
    herd_context *c = make_ctx(4, 2);
    const int64_t len[4] = {3, 9, 4, 14};
    for (int s = 0; s < 4; s++)
        CHECK(feed(c, s, ids, len[s], NULL) == HERD_OK);
    int32_t seq[4] = {2, 0, 3, 1}, tok[4];
    bool want[4] = {1, 1, 1, 1};
    for (int i = 0; i < 4; i++)
        tok[i] = ids[len[seq[i]]];
    float got[4 * V];
    herd_batch b = {.n = 4, .token = tok, .seq = seq, .logits = want};
    herd_status st = herd_forward(c, &b, got);
    CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
    for (int i = 0; i < 4; i++) {
        float ref[V];
        solo(len[seq[i]], 1, ref);
        double d = max_diff(got + i * V, ref, V);
        CHECK_MSG(d <= 1e-5, "row %d (seq %d) differs from alone by %g", i, seq[i], d);
        CHECK_EQ_INT(herd_seq_len(c, seq[i]), len[seq[i]] + 1);
    }
    herd_context_free(c);
}

/* The decode step of four sequences at one, two and three threads: the same bits (each
 * sequence's preparation and attention run whole on whichever thread claims it). */
TEST(test_decode_threads)
{
    const int64_t len[4] = {3, 9, 4, 14};
    int32_t seq[4] = {2, 0, 3, 1}, tok[4];
    bool want[4] = {1, 1, 1, 1};
    for (int i = 0; i < 4; i++)
        tok[i] = ids[len[seq[i]]];
    float ref[4 * V], got[4 * V];
    for (int threads = 1; threads <= 3; threads++) {
        herd_context *c = make_ctx(4, threads);
        for (int s = 0; s < 4; s++)
            CHECK(feed(c, s, ids, len[s], NULL) == HERD_OK);
        herd_batch b = {.n = 4, .token = tok, .seq = seq, .logits = want};
        /* two steps: the second reads the rows the first stored */
        for (int step = 0; step < 2; step++) {
            herd_status st = herd_forward(c, &b, threads == 1 ? ref : got);
            CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
        }
        if (threads > 1)
            CHECK_MSG(memcmp(ref, got, sizeof ref) == 0, "%d threads differ from one", threads);
        herd_context_free(c);
    }
}

TEST(test_truncate_copy)
{
    herd_context *c = make_ctx(2, 2);
    enum { N = 40, CUT = 23 };
    float ref[V], got[V];
    /* truncate + re-feed = fresh */
    CHECK(feed(c, 0, ids, N, NULL) == HERD_OK);
    CHECK(herd_seq_truncate(c, 0, CUT) == HERD_OK);
    CHECK_EQ_INT(herd_seq_len(c, 0), CUT);
    CHECK(feed(c, 0, ids + CUT, 1, got) == HERD_OK);
    solo(CUT, 1, ref);
    CHECK_MSG(max_diff(got, ref, V) == 0, "truncate + re-feed differs by %g",
              max_diff(got, ref, V));
    /* a prefix copied to sequence 1 continues exactly as the original would */
    CHECK(herd_seq_copy(c, 0, 1, 17) == HERD_OK);
    CHECK_EQ_INT(herd_seq_len(c, 1), 17);
    CHECK(feed(c, 1, ids + 17, 3, NULL) == HERD_OK);
    CHECK(feed(c, 1, ids + 20, 1, got) == HERD_OK);
    solo(20, 1, ref);
    CHECK_MSG(max_diff(got, ref, V) == 0, "copied prefix differs by %g", max_diff(got, ref, V));
    CHECK(herd_seq_bytes(c, 1) > 0);
    CHECK(herd_seq_copy(c, 0, 1, CUT + 2) == HERD_ERR_RANGE); /* longer than the source */
    CHECK(herd_seq_truncate(c, 2, 0) == HERD_ERR_ARG);
    /* once the rings wrap, a truncation far back fails cleanly; one batch back always works */
    herd_seq_clear(c, 0);
    CHECK_EQ_INT(herd_seq_len(c, 0), 0);
    CHECK_EQ_INT(herd_seq_bytes(c, 0), 0);
    CHECK(feed(c, 0, ids, LONG, NULL) == HERD_OK);
    CHECK(herd_seq_truncate(c, 0, 101) == HERD_ERR_RANGE);
    CHECK(herd_seq_copy(c, 0, 1, 101) == HERD_ERR_RANGE);
    CHECK_EQ_INT(herd_seq_len(c, 0), LONG);
    CHECK(herd_seq_truncate(c, 0, LONG - HERD_BATCH_MAX) == HERD_OK);
    CHECK(feed(c, 0, ids + LONG - HERD_BATCH_MAX, 1, got) == HERD_OK);
    solo(LONG - HERD_BATCH_MAX, 1, ref);
    CHECK_MSG(max_diff(got, ref, V) == 0, "truncate after wrap differs by %g",
              max_diff(got, ref, V));
    CHECK(herd_seq_copy(c, 0, 1, LONG - HERD_BATCH_MAX) == HERD_OK);
    CHECK(feed(c, 1, ids + LONG - HERD_BATCH_MAX, 1, got) == HERD_OK);
    CHECK_MSG(max_diff(got, ref, V) == 0, "copy after wrap differs by %g", max_diff(got, ref, V));
    herd_context_free(c);
}

static int cancel_after, cancel_calls;
static bool cancel_fn(void *user)
{
    (void)user;
    return ++cancel_calls > cancel_after;
}

TEST(test_failures_leave_caches)
{
    herd_context_opts o;
    herd_context_opts_default(&o);
    o.ctx = CTX;
    o.n_seqs = 2;
    o.threads = 2;
    o.cancel = cancel_fn;
    o.type_k = cache_k;
    o.type_v = cache_v;
    cancel_after = 1 << 30;
    herd_context *c = NULL;
    CHECK(herd_context_create(model, &o, &c) == HERD_OK);
    if (!c)
        return;
    enum { A = 603 }; /* past chunk + batch: the rings have wrapped */
    CHECK(feed(c, 0, ids, A, NULL) == HERD_OK);
    CHECK(feed(c, 1, ids, 7, NULL) == HERD_OK);
    /* an out-of-range id mid-batch */
    int32_t tok[4] = {ids[A], ids[7], V + 3, ids[A + 1]}, seq[4] = {0, 1, 1, 0};
    herd_batch b = {.n = 4, .token = tok, .seq = seq};
    float got[V], ref[V];
    CHECK(herd_forward(c, &b, got) == HERD_ERR_ARG);
    CHECK_EQ_INT(herd_seq_len(c, 0), A);
    CHECK_EQ_INT(herd_seq_len(c, 1), 7);
    /* a long prefill, cancelled before its third layer: it would overwrite ring rows */
    cancel_calls = 0;
    cancel_after = 2;
    CHECK(feed(c, 0, ids + A, 490, NULL) == HERD_ERR_CANCELLED);
    cancel_after = 1 << 30;
    CHECK_EQ_INT(herd_seq_len(c, 0), A);
    CHECK(feed(c, 0, ids + A, 1, got) == HERD_OK);
    solo(A, 1, ref);
    CHECK_MSG(max_diff(got, ref, V) == 0, "after the cancelled prefill: differs by %g",
              max_diff(got, ref, V));
    CHECK(feed(c, 1, ids + 7, 1, got) == HERD_OK);
    solo(7, 1, ref);
    CHECK_MSG(max_diff(got, ref, V) == 0, "after the failed batch: differs by %g",
              max_diff(got, ref, V));
    /* a full context: refused before any work */
    CHECK(feed(c, 0, ids, HERD_BATCH_MAX, NULL) == HERD_OK);
    CHECK(feed(c, 0, ids, HERD_BATCH_MAX, NULL) == HERD_ERR_RANGE);
    CHECK_EQ_INT(herd_seq_len(c, 0), A + 1 + HERD_BATCH_MAX);
    herd_context_free(c);
}

/* ---- two contexts on two threads ---------------------------------------------------------- */

enum { STEPS = 12, PROMPT = 30 };

typedef struct job {
    int which;
    float out[(STEPS + 1) * V];
    herd_status st;
} job;

/* A prompt, then greedy decode for STEPS tokens, in a context of its own. */
static void *work(void *p)
{
    job *j = p;
    herd_context *c = make_ctx(2, 2);
    if (!c) {
        j->st = HERD_ERR_INTERNAL;
        return NULL;
    }
    int32_t t[PROMPT];
    for (int i = 0; i < PROMPT; i++)
        t[i] = ids[i * (j->which + 1) % LONG];
    j->st = feed(c, j->which, t, PROMPT, NULL);
    for (int s = 0; s <= STEPS && !j->st; s++) {
        int32_t seq[1] = {j->which}, tok[1] = {t[s % PROMPT]};
        herd_batch b = {.n = 1, .token = tok, .seq = seq};
        j->st = herd_forward(c, &b, j->out + s * V);
        int best = 0;
        for (int v = 1; v < V; v++)
            best = j->out[s * V + v] > j->out[s * V + best] ? v : best;
        t[s % PROMPT] = best;
    }
    herd_context_free(c);
    return NULL;
}

TEST(test_two_threads)
{
    static job seq_jobs[2], par_jobs[2];
    for (int i = 0; i < 2; i++) {
        seq_jobs[i].which = par_jobs[i].which = i;
        work(&seq_jobs[i]);
    }
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&th[i], NULL, work, &par_jobs[i]) == 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        CHECK(seq_jobs[i].st == HERD_OK && par_jobs[i].st == HERD_OK);
        CHECK_MSG(memcmp(seq_jobs[i].out, par_jobs[i].out, sizeof seq_jobs[i].out) == 0,
                  "context %d on its own thread differs from the sequential run", i);
    }
}

/* The cache types: names, memory, and logits near the f32 cache's over a long run (the rings
 * wrap). Bounds are the measured differences with headroom: on average 1.3e-3 (bf16), 4.6e-3
 * (q8_0), 1.6e-3 (q8_0 K, bf16 V) for logits up to 2.6; at most 0.32, where a nudge flips a
 * token's top-1 expert (random router). docs/MODEL.md has the KL on a trained model. */
TEST(test_cache_types)
{
    herd_type t;
    CHECK(herd_kv_type_parse("BF16", &t) && t == HERD_TYPE_BF16);
    CHECK(herd_kv_type_parse("q8_0", &t) && t == HERD_TYPE_Q8_0);
    CHECK(herd_kv_type_parse("F32", &t) && t == HERD_TYPE_F32);
    CHECK(!herd_kv_type_parse("q4_0", &t) && !herd_kv_type_parse("f16", &t));
    CHECK(!herd_kv_type_parse("", &t) && !herd_kv_type_parse(NULL, &t));
    herd_context_opts o;
    herd_context_opts_default(&o);
    o.type_v = HERD_TYPE_Q4_0;
    herd_context *bad = NULL;
    CHECK(herd_context_create(model, &o, &bad) == HERD_ERR_ARG && !bad);
    CHECK(strstr(herd_last_error(), "q4_0") != NULL);

    enum { N = 700, PICK = 5 };
    static const herd_type kinds[][2] = {{HERD_TYPE_F32, HERD_TYPE_F32},
                                         {HERD_TYPE_BF16, HERD_TYPE_BF16},
                                         {HERD_TYPE_Q8_0, HERD_TYPE_Q8_0},
                                         {HERD_TYPE_Q8_0, HERD_TYPE_BF16}};
    static const double tol_mean[] = {0, 3e-3, 1e-2, 4e-3};
    float *ref = malloc((size_t)N * V * sizeof(float)),
          *got = malloc((size_t)N * V * sizeof(float));
    size_t bytes_f32 = 0;
    for (int k = 0; k < 4; k++) {
        cache_k = kinds[k][0];
        cache_v = kinds[k][1];
        herd_context *c = make_ctx(1, 2);
        /* a prompt in one batch, then one token at a time: later rows read the stored type */
        CHECK(feed(c, 0, ids, N - PICK, k ? got : ref) == HERD_OK);
        for (int i = N - PICK; i < N; i++)
            CHECK(feed(c, 0, ids + i, 1, (k ? got : ref) + (size_t)i * V) == HERD_OK);
        size_t bytes = herd_seq_bytes(c, 0);
        if (!k)
            bytes_f32 = bytes;
        size_t per_f32 = 2 * herd_type_row_bytes(HERD_TYPE_F32, 12);
        size_t per = herd_type_row_bytes(cache_k, 12) + herd_type_row_bytes(cache_v, 12);
        CHECK_MSG(bytes * per_f32 == bytes_f32 * per, "%s/%s: %zu bytes, f32 %zu",
                  herd_type_name(cache_k), herd_type_name(cache_v), bytes, bytes_f32);
        if (k) {
            double d = max_diff(got, ref, (size_t)N * V), mean = 0;
            for (size_t i = 0; i < (size_t)N * V; i++)
                mean += fabs((double)got[i] - ref[i]) / ((double)N * V);
            CHECK_MSG(mean <= tol_mean[k] && d <= 0.5 && mean > 0,
                      "k %s v %s: logits differ from f32 by %g on average, %g at most",
                      herd_type_name(cache_k), herd_type_name(cache_v), mean, d);
        }
        herd_context_free(c);
    }
    cache_k = cache_v = HERD_TYPE_F32;
    free(ref);
    free(got);
}

int main(void)
{
    model = make_model();
    if (!model)
        return harness_finish();
    uint64_t x = 5;
    for (int i = 0; i < LONG; i++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        ids[i] = (int32_t)((x >> 33) % V);
    }
    RUN(test_mixed_batch);
    RUN(test_decode_step);
    RUN(test_decode_threads);
    RUN(test_truncate_copy);
    RUN(test_failures_leave_caches);
    RUN(test_two_threads);
    RUN(test_cache_types);
    /* the KV operations and failures again for each cache type (bit-identical where f32 is) */
    static const herd_type kinds[][2] = {{HERD_TYPE_BF16, HERD_TYPE_BF16},
                                         {HERD_TYPE_Q8_0, HERD_TYPE_Q8_0},
                                         {HERD_TYPE_Q8_0, HERD_TYPE_BF16}};
    for (int k = 0; k < 3; k++) {
        cache_k = kinds[k][0];
        cache_v = kinds[k][1];
        printf("KV cache k %s, v %s:\n", herd_type_name(cache_k), herd_type_name(cache_v));
        RUN(test_mixed_batch);
        RUN(test_decode_step);
        RUN(test_decode_threads);
        RUN(test_truncate_copy);
        RUN(test_failures_leave_caches);
    }
    herd_model_free(model);
    return harness_finish();
}
