/* The training graph in double: the twin the gradient checks difference (plain GEMMs, no
 * precision modes). */
#define R      double
#define TG_EXP exp
#define S      f64
#define TG_GEMM(pc, ta, tb, M, N, K, A, lda, B, ldb, C, ldc, acc)                                  \
    tdgemm(ta, tb, M, N, K, A, lda, B, ldb, C, ldc, acc)
#define TG_LIN_FWD(pc, Y, X, W, N, K, M, hp)                                                       \
    ((void)(pc), (void)(hp), tdgemm(false, true, N, M, K, X, K, W, K, Y, M, false), HERD_OK)
#define TG_LIN_BWD(pc, dX, acc, dW, dY, X, W, N, K, M, hp)                                         \
    ((void)(pc), (void)(hp),                                                                       \
     (dX) ? tdgemm(false, false, N, K, M, dY, M, W, K, dX, K, acc) : (void)0,                      \
     tdgemm(true, false, M, K, N, dY, M, X, K, dW, K, true), HERD_OK)
#include "train/graph_impl.h"

void tdgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const double *A, int64_t lda,
            const double *B, int64_t ldb, double *C, int64_t ldc, bool acc)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = acc ? C[i * ldc + j] : 0;
            for (int64_t k = 0; k < K; k++)
                s +=
                    (ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
            C[i * ldc + j] = s;
        }
}
