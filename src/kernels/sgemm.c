/* Float32 GEMM in all transpose forms, for training (herd_sgemm in herd/kernels.h): weights
 * change every step there, so nothing is packed ahead; each call packs op(B) into 32-column
 * panels ([k][32], zero-padded) and walks op(A) row by row. The AVX-512 tile computes 8 rows ×
 * 32 columns per k; its C twin (and the fallback) below adds in the same k order, so the two
 * agree to rounding. Threads claim column panels from a counter: each C element is computed
 * whole by one thread, so results do not depend on the thread count. */
#include "herd/kernels.h"

#include <stdatomic.h>
#include <string.h>

#include "kernels/sgemm_internal.h"

enum { NR = HERD_SGEMM_NR, KC = 256 };

/* C[0..mr)[0..nc) (+)= A[0..mr)[0..kc) · P[0..kc)[0..32): the C tile. */
void herd_sgemm_tile_ref(int64_t mr, int64_t nc, int64_t kc, const float *A, int64_t lda,
                         const float *P, float *C, int64_t ldc, bool acc)
{
    for (int64_t i = 0; i < mr; i++) {
        float t[NR];
        for (int j = 0; j < NR; j++)
            t[j] = acc ? (j < nc ? C[i * ldc + j] : 0) : 0;
        for (int64_t k = 0; k < kc; k++) {
            float a = A[i * lda + k];
            for (int j = 0; j < NR; j++)
                t[j] += a * P[k * NR + j];
        }
        for (int64_t j = 0; j < nc; j++)
            C[i * ldc + j] = t[j];
    }
}

typedef struct sgemm_job {
    int64_t M, N, K, lda, ldc;
    const float *A, *P;
    float *C;
    bool acc;
    herd_sgemm_tile_fn tile;
    atomic_long next;
} sgemm_job;

static void sgemm_panels(void *ctx, int tid, int nthreads)
{
    sgemm_job *j = ctx;
    (void)tid;
    (void)nthreads;
    int64_t panels = (j->N + NR - 1) / NR;
    for (;;) {
        int64_t p = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (p >= panels)
            return;
        int64_t n0 = p * NR, nc = j->N - n0 < NR ? j->N - n0 : NR;
        const float *P = j->P + p * j->K * NR;
        for (int64_t k0 = 0; k0 < j->K; k0 += KC) {
            int64_t kc = j->K - k0 < KC ? j->K - k0 : KC;
            bool acc = j->acc || k0 > 0;
            for (int64_t i = 0; i < j->M; i += 8) {
                int64_t mr = j->M - i < 8 ? j->M - i : 8;
                j->tile(mr, nc, kc, j->A + i * j->lda + k0, j->lda, P + k0 * NR,
                        j->C + i * j->ldc + n0, j->ldc, acc);
            }
        }
    }
}

static herd_sgemm_tile_fn pick_tile(bool ref)
{
    if (!ref && herd_isa() >= HERD_ISA_AVX512)
        return herd_sgemm_tile_avx512;
    return herd_sgemm_tile_ref;
}

static herd_status sgemm(bool ref, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
                         const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                         int64_t ldc, bool accumulate, herd_pool *pool)
{
    if (M <= 0 || N <= 0)
        return HERD_OK;
    if (K <= 0) {
        for (int64_t i = 0; i < M && !accumulate; i++)
            memset(C + i * ldc, 0, (size_t)N * sizeof *C);
        return HERD_OK;
    }
    int64_t panels = (N + NR - 1) / NR;
    size_t pbytes = (size_t)panels * (size_t)K * NR * sizeof(float);
    size_t abytes = ta ? (size_t)M * (size_t)K * sizeof(float) : 0;
    float *P = herd_alloc(pbytes + abytes + 64, "GEMM panels");
    if (!P)
        return HERD_ERR_NOMEM;
    for (int64_t p = 0; p < panels; p++) {
        float *dst = P + p * K * NR;
        for (int64_t k = 0; k < K; k++)
            for (int j = 0; j < NR; j++) {
                int64_t n = p * NR + j;
                dst[k * NR + j] = n >= N ? 0 : tb ? B[n * ldb + k] : B[k * ldb + n];
            }
    }
    const float *a = A;
    if (ta) { /* op(A) = Aᵀ: rows made contiguous once */
        float *t = P + (size_t)panels * (size_t)K * NR;
        for (int64_t i = 0; i < M; i++)
            for (int64_t k = 0; k < K; k++)
                t[i * K + k] = A[k * lda + i];
        a = t;
        lda = K;
    }
    sgemm_job j = {M, N, K, lda, ldc, a, P, C, accumulate, pick_tile(ref), 0};
    if (pool && panels > 1 && (double)M * (double)N * (double)K > 2e5)
        herd_pool_run_claims(pool, sgemm_panels, &j);
    else
        sgemm_panels(&j, 0, 1);
    herd_free(P);
    return HERD_OK;
}

herd_status herd_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A,
                       int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc,
                       bool accumulate, herd_pool *pool)
{
    return sgemm(false, ta, tb, M, N, K, A, lda, B, ldb, C, ldc, accumulate, pool);
}

herd_status herd_sgemm_ref(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A,
                           int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc,
                           bool accumulate)
{
    return sgemm(true, ta, tb, M, N, K, A, lda, B, ldb, C, ldc, accumulate, NULL);
}
