/* The training GEMM (herd_sgemm) in its four transpose forms against its C twin and a double
 * reference, on shapes with every tail (rows of 8, panels of 32, k blocks of 256), with and
 * without accumulation, leading dimensions wider than the matrices, and 1 or 2 threads. */
#include "harness.h"
#include "herd/kernels.h"

static uint64_t rng = 99;
static float frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) * 0x1p-53 * 2 - 1);
}

TEST(forms_and_tails)
{
    static const int64_t shapes[][3] = {{1, 1, 1},     {8, 32, 16}, {9, 33, 17},  {7, 31, 300},
                                        {17, 65, 513}, {3, 100, 5}, {40, 20, 257}};
    herd_pool *pool = NULL;
    CHECK(herd_pool_create(2, &pool) == HERD_OK);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int form = 0; form < 4; form++)
            for (int acc = 0; acc < 2; acc++) {
                bool ta = form & 1, tb = form & 2;
                int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
                int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
                size_t na = (size_t)((ta ? K : M) * lda), nb = (size_t)((tb ? N : K) * ldb),
                       nc = (size_t)(M * ldc);
                float *A = malloc(na * 4), *B = malloc(nb * 4), *C0 = malloc(nc * 4),
                      *C1 = malloc(nc * 4), *C2 = malloc(nc * 4);
                for (size_t i = 0; i < na; i++)
                    A[i] = frand();
                for (size_t i = 0; i < nb; i++)
                    B[i] = frand();
                for (size_t i = 0; i < nc; i++)
                    C0[i] = C1[i] = C2[i] = frand();
                CHECK(herd_sgemm(ta, tb, M, N, K, A, lda, B, ldb, C1, ldc, acc, pool) == HERD_OK);
                CHECK(herd_sgemm_ref(ta, tb, M, N, K, A, lda, B, ldb, C2, ldc, acc) == HERD_OK);
                double worst = 0;
                for (int64_t i = 0; i < M; i++)
                    for (int64_t j = 0; j < ldc; j++) {
                        double r = acc || j >= N ? C0[i * ldc + j] : 0;
                        for (int64_t k = 0; k < K && j < N; k++)
                            r += (double)(ta ? A[k * lda + i] : A[i * lda + k]) *
                                 (tb ? B[j * ldb + k] : B[k * ldb + j]);
                        double e1 = fabs(C1[i * ldc + j] - r), e2 = fabs(C2[i * ldc + j] - r);
                        worst = e1 > worst ? e1 : worst;
                        worst = e2 > worst ? e2 : worst;
                    }
                CHECK_MSG(worst <= 1e-5 * (double)K + 1e-6,
                          "M %lld N %lld K %lld ta %d tb %d acc %d: error %.3g", (long long)M,
                          (long long)N, (long long)K, ta, tb, acc, worst);
                free(A);
                free(B);
                free(C0);
                free(C1);
                free(C2);
            }
    herd_pool_destroy(pool);
}

int main(void)
{
    RUN(forms_and_tails);
    return harness_finish();
}
