/* The training graph in float32: weight GEMMs go through tprec (precision modes, threads),
 * attention's batched products through herd_sgemm. */
#define R      float
#define TG_EXP expf
#define S      f32
#define TG_GEMM(pc, ta, tb, M, N, K, A, lda, B, ldb, C, ldc, acc)                                  \
    (void)herd_sgemm(ta, tb, M, N, K, A, lda, B, ldb, C, ldc, acc, NULL)
#define TG_LIN_FWD(pc, Y, X, W, N, K, M, hp) tprec_lin_fwd(pc, Y, X, W, N, K, M, hp)
#define TG_LIN_BWD(pc, dX, acc, dW, dY, X, W, N, K, M, hp)                                         \
    tprec_lin_bwd(pc, dX, acc, dW, dY, X, W, N, K, M, hp)
#include "herd/kernels.h"
#include "train/graph_impl.h"
