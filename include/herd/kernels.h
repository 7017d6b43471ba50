/* herd kernel layer: fbgemm-style GEMM with weights packed once and a fused output pipeline.
 *
 *     C[M×N] = epilogue(A[M×K] · W[N×K]ᵀ)
 *
 * W is packed once (herd_pack) into the kernel's layout for its type and the ISA in force at
 * pack time (herd_isa()); A is float32 and arrives per call; each weight type decides how A is
 * prepared (kept f32, bf16, or quantized per row/block) unless args->aprep asks for exact.
 * The epilogue is data (herd_gemm_args), applied while the tile is hot: bias, activation
 * (SiLU, or SwiGLU from a packed gate|up pair), residual add, f32 or bf16 out. */
#ifndef HERD_KERNELS_H
#define HERD_KERNELS_H

#include "herd/base.h"
#include "herd/formats.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct herd_packed herd_packed;

/* Source rows of a weight: N rows of K elements of `type` (f32/f16/bf16 are converted and
 * quantized to the packed type; a block type equal to the packed type is copied as is).
 * row_bytes = 0 means rows are contiguous (herd_type_row_bytes(type, K)). */
typedef struct herd_wsrc {
    herd_type type;
    const void *data;
    size_t row_bytes;
} herd_wsrc;

herd_status herd_pack(herd_type type, int64_t N, int64_t K, herd_wsrc src, herd_packed **out);
/* Packs gate and up (each N×K) together for act = HERD_ACT_SWIGLU, whose output is
 * C[M×N] = silu(A·gateᵀ) ⊙ (A·upᵀ). */
herd_status herd_pack_swiglu(herd_type type, int64_t N, int64_t K, herd_wsrc gate, herd_wsrc up,
                             herd_packed **out);
void herd_packed_free(herd_packed *w);
/* FP8 E4M3 rowwise weights (HERD_TYPE_FP8_E4M3): the upper bound of the dynamic per-token
 * activation scale in AUTO mode (a checkpoint's activation_scale_ub; <= 0: none). */
void herd_packed_set_act_scale_ub(herd_packed *w, float ub);
herd_type herd_packed_type(const herd_packed *w);
int64_t herd_packed_n(const herd_packed *w); /* output columns (N, not 2N for SwiGLU) */
int64_t herd_packed_k(const herd_packed *w);
size_t herd_packed_bytes(const herd_packed *w); /* bytes a GEMV streams */
/* The kernel family the weight was packed for, "<type>.<isa>" (e.g. "int8.avx512vnni"), or
 * "emulated" when no family exists for the type yet (f32 kernels on weights rounded to it).
 * The ISA is fixed at pack time: herd_isa() when herd_pack ran. */
const char *herd_packed_kernel(const herd_packed *w);
/* Unpacks to float32 rows [rows×K] (rows = 2N for SwiGLU: gate then up), for tests. */
herd_status herd_unpack(const herd_packed *w, float *dst);

typedef enum herd_act { HERD_ACT_NONE = 0, HERD_ACT_SILU, HERD_ACT_SWIGLU } herd_act;
typedef enum herd_aprep {
    HERD_APREP_AUTO = 0, /* the weight type's fast choice (may quantize A) */
    HERD_APREP_EXACT,    /* A kept f32: for tests and accuracy studies */
} herd_aprep;

typedef struct herd_gemm_args {
    int64_t M;
    const float *A; /* M×K, row stride lda elements */
    size_t lda;
    void *C; /* M×N float or bf16 (out_bf16), row stride ldc elements */
    size_t ldc;
    const float *bias; /* [N] or NULL */
    herd_act act;
    const float *residual; /* M×N, stride ldr, added last; may equal C; or NULL */
    size_t ldr;
    bool out_bf16;
    herd_aprep aprep;
} herd_gemm_args;

/* Runs on the pool's threads (NULL: the caller's only). Results do not depend on the thread
 * count. */
herd_status herd_gemm(const herd_packed *w, const herd_gemm_args *args, herd_pool *pool);
/* n independent GEMMs (w[i], args[i]; M = 0 allowed) in one pool run, their panels claimed
 * from one counter: what n herd_gemm calls give, bit for bit, for one wake-up of the pool
 * instead of n (the routed experts of a MoE layer, each with a few rows). The outputs must not
 * overlap each other or any A or residual of the list. */
herd_status herd_gemm_many(int n, const herd_packed *const *w, const herd_gemm_args *args,
                           herd_pool *pool);

/* ---- float32 GEMM in every transpose form (training) --------------------------------------
 * C[M×N] = (accumulate ? C : 0) + op(A)·op(B), row-major with leading dimensions; op(A) is
 * A [M×K] or, with ta, Aᵀ of A [K×M]; op(B) is B [K×N] or, with tb, Bᵀ of B [N×K]. So the
 * layer forward Y = X·Wᵀ is (false, true), dX = dY·W is (false, false) and dW = dYᵀ·X is
 * (true, false). Nothing is packed ahead (weights change every step). Results do not depend on
 * the thread count; herd_sgemm_ref is the plain C twin. */
herd_status herd_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A,
                       int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc,
                       bool accumulate, herd_pool *pool);
herd_status herd_sgemm_ref(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A,
                           int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc,
                           bool accumulate);

#ifdef __cplusplus
}
#endif
#endif
