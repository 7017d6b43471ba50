/* The internal contract of the kernel layer: one kernel family per (weight type, ISA level).
 *
 * A family owns everything that depends on the weight type: the packed layout of B (weights),
 * how A (activations, f32) is prepared for its dot product, and the micro-kernel that computes
 * one tile of raw dot products. The driver (gemm_driver.c) owns everything else: threading,
 * blocking, the A workspace, and the epilogue (bias, SiLU/SwiGLU, residual, f32/bf16 store),
 * which it applies per tile while the tile is still in L1.
 *
 * Packed layout. W (N rows of K) is cut into panels of `nr` consecutive output columns
 * (rows of W); the last panel is zero-padded. A panel holds all of K, in whatever order the
 * micro-kernel wants (k-major, k-pairs or k-quads interleaved, blocks with their scales...),
 * and is `panel_bytes(K)` long; the driver places panels at a 64-byte aligned stride. For
 * SwiGLU the gate panel p and the up panel p are adjacent (gate first), so the two weights
 * stream together.
 *
 * How the driver calls a family, per herd_gemm call:
 *   1. AUTO mode and a_prep != NULL: every A row is prepared once into a workspace row of
 *      a_row_bytes(K) bytes (64-byte aligned stride; quantize-while-packing, per-row or
 *      per-block scales go inside the row, layout private to the family). The workspace is
 *      reused between calls (no malloc per token in steady state).
 *      EXACT mode, or a_prep == NULL: A is passed as the caller's f32 rows.
 *   2. Each thread takes a contiguous range of panels (split N, never K), and for blocks of
 *      up to `mr` rows calls tile() (or tile_exact() in EXACT mode when the family has one)
 *      once per panel (twice for SwiGLU: gate then up). tile() writes m rows × nr floats of
 *      finished dot products (weight scales already applied) to a small buffer.
 *   3. The driver applies the epilogue to those floats and stores to C.
 * Every output element comes from one tile() call over the whole K, so results never depend
 * on the thread count.
 *
 * How a new weight type (or a faster ISA version of one) plugs in:
 *   1. Write the family in its own files: a plain C twin in ref/<name>_ref.c (the oracle for
 *      tests, any layout you like) and the fast one in x86/<name>_<isa>.c (the file suffix
 *      gives its -m flags). Export one `const kfamily kfam_<type>_<isa>` from each.
 *   2. Declare it below (extern list) and add one line to the table of its ISA in registry.c.
 *      The registry picks, at pack time, the family of the highest ISA <= herd_isa() that has
 *      the type; herd_pack then returns a packed weight bound to that family for good.
 *   3. Helpers you may use: kpack_row_f32() converts a source row to f32 (any type
 *      herd_row_to_f32 knows), kpack_row_raw() gives the raw bytes (copy blocks of your own
 *      type as they are). aprep.c holds shared A quantizers (bf16 pairs, int8 per row) whose
 *      plain C code is used by both the ref and the fast families so integer paths match
 *      bit for bit.
 *   4. Add the type to the lists in tests/kernels/test_gemm.c; the test compares every family
 *      available on the machine against the ref family of the same type.
 */
#ifndef HERD_KERNELS_FAMILY_H
#define HERD_KERNELS_FAMILY_H

#include "herd/kernels.h"

/* Rows [row0, row0 + rows) of a weight source, for a family's pack(). */
typedef struct kpack_src {
    herd_wsrc src; /* row_bytes already resolved (never 0) */
    int64_t row0;  /* first source row of this panel */
    int rows;      /* 1..nr valid rows; the rest of the panel must be zero */
    int64_t k;     /* K */
    float *row;    /* scratch of 2k floats the family may use (e.g. for kpack_row_f32) */
    herd_type via; /* internal: F32, or the emulated type weights are rounded through */
    void *tmp;     /* internal scratch */
} kpack_src;

/* Converts source row r (0..rows-1) to f32 into dst (k floats). */
herd_status kpack_row_f32(const kpack_src *s, int r, float *dst);
/* The raw bytes of source row r. */
const void *kpack_row_raw(const kpack_src *s, int r);

/* One tile of C for tile(): m rows × nr columns of dot products over all of K. */
typedef struct ktile {
    int m;              /* rows, 1..mr */
    int64_t k;          /* K (not padded) */
    const void *a;      /* first row of A: f32 (EXACT or no a_prep) or a prepared row */
    size_t a_stride;    /* bytes between consecutive A rows */
    const void *b;      /* the packed panel */
    const void *b_next; /* the panel this thread reads next (prefetch hint), or NULL */
    float *c;           /* out: m rows of nr floats, row stride nr */
    /* tile2 only: a second panel at b + panel_stride (the next panel, or the up half of a
     * SwiGLU pair) and its output, laid out as c */
    const void *b2;
    float *c2;
} ktile;
typedef void (*ktile_fn)(const ktile *t);

/* A tile body is written for a row count known at compile time, so that the compiler keeps
 * every row's accumulators in registers and unrolls the rows. KTILE_ROWS_<R>(m, F, args...)
 * runs F(args..., r) with r = m for 1 <= m < R and r = R otherwise (drivers pass 1..mr). */
#define KTILE_ROW(r, F, ...)                                                                       \
    case r:                                                                                        \
        F(__VA_ARGS__, r);                                                                         \
        break;
#define KTILE_ROWS_1_3(F, ...)                                                                     \
    KTILE_ROW(1, F, __VA_ARGS__) KTILE_ROW(2, F, __VA_ARGS__) KTILE_ROW(3, F, __VA_ARGS__)
#define KTILE_ROWS_1_5(F, ...)                                                                     \
    KTILE_ROWS_1_3(F, __VA_ARGS__) KTILE_ROW(4, F, __VA_ARGS__) KTILE_ROW(5, F, __VA_ARGS__)
#define KTILE_ROWS_1_7(F, ...)                                                                     \
    KTILE_ROWS_1_5(F, __VA_ARGS__) KTILE_ROW(6, F, __VA_ARGS__) KTILE_ROW(7, F, __VA_ARGS__)
#define KTILE_ROWS_1_11(F, ...)                                                                    \
    KTILE_ROWS_1_7(F, __VA_ARGS__)                                                                 \
    KTILE_ROW(8, F, __VA_ARGS__)                                                                   \
    KTILE_ROW(9, F, __VA_ARGS__) KTILE_ROW(10, F, __VA_ARGS__) KTILE_ROW(11, F, __VA_ARGS__)
#define KTILE_ROWS_1_13(F, ...)                                                                    \
    KTILE_ROWS_1_11(F, __VA_ARGS__) KTILE_ROW(12, F, __VA_ARGS__) KTILE_ROW(13, F, __VA_ARGS__)
#define KTILE_ROWS_SWITCH(m, R, CASES, F, ...)                                                     \
    do {                                                                                           \
        switch (m) {                                                                               \
            CASES(F, __VA_ARGS__)                                                                  \
        default: F(__VA_ARGS__, R); break;                                                         \
        }                                                                                          \
    } while (0)
#define KTILE_ROWS_4(m, F, ...)  KTILE_ROWS_SWITCH(m, 4, KTILE_ROWS_1_3, F, __VA_ARGS__)
#define KTILE_ROWS_6(m, F, ...)  KTILE_ROWS_SWITCH(m, 6, KTILE_ROWS_1_5, F, __VA_ARGS__)
#define KTILE_ROWS_8(m, F, ...)  KTILE_ROWS_SWITCH(m, 8, KTILE_ROWS_1_7, F, __VA_ARGS__)
#define KTILE_ROWS_12(m, F, ...) KTILE_ROWS_SWITCH(m, 12, KTILE_ROWS_1_11, F, __VA_ARGS__)
#define KTILE_ROWS_14(m, F, ...) KTILE_ROWS_SWITCH(m, 14, KTILE_ROWS_1_13, F, __VA_ARGS__)

/* The epilogue as data, resolved once per herd_gemm call. */
typedef struct kepi {
    const float *bias; /* [N] or NULL; for SwiGLU added to the gate */
    herd_act act;
    const float *residual; /* or NULL */
    size_t ldr;
    void *c;
    size_t ldc;
    bool out_bf16;
} kepi;
/* Finishes n columns of C row `row` starting at column `col`: g holds the dot products (the
 * gate's for SwiGLU), u the up projection's (SwiGLU only, else NULL). */
typedef void (*kepi_fn)(const kepi *e, int64_t row, int64_t col, int n, const float *g,
                        const float *u);

typedef struct kfamily {
    const char *name; /* "<type>.<isa>", shown by herd_packed_kernel() */
    herd_type type;
    herd_isa_level isa; /* the level it needs */
    int mr, nr;         /* tile rows (max), panel columns; nr <= KMAX_NR, mr <= KMAX_MR */
    size_t (*panel_bytes)(int64_t k);
    herd_status (*pack)(const kpack_src *s, void *panel); /* panel arrives zeroed */
    /* Writes rows 0..rows-1 of the panel as f32, row r at dst + r*ldd. */
    void (*unpack)(const void *panel, int64_t k, int rows, float *dst, size_t ldd);
    size_t (*a_row_bytes)(int64_t k); /* NULL: A is read as f32 */
    void (*a_prep)(const float *a, int64_t k, void *dst);
    /* Optional: a_prep bounded by the weight's activation scale bound (herd_packed.act_ub, 0 =
     * none); the driver calls it instead of a_prep when set (FP8 rowwise). */
    void (*a_prep_ub)(const float *a, int64_t k, float ub, void *dst);
    const char *a_desc; /* how AUTO prepares A, e.g. "f32", "bf16", "u8 per-row" */
    ktile_fn tile;
    ktile_fn tile_exact; /* A as f32 (EXACT mode); NULL when tile already reads f32 */
    /* Optional, AUTO mode: two adjacent panels in one pass for 1 <= m <= mr2 rows, every load
     * of A feeding both (where those loads, not the dot products, bound the tile); the driver
     * uses it for blocks of 4 and more rows in the blocked GEMM (M > mr). The same bits as tile
     * on each panel. */
    ktile_fn tile2;
    int mr2;
    kepi_fn epilogue; /* the ISA's epilogue (kepi_ref, kepi_avx2, kepi_avx512) */
} kfamily;

enum { KMAX_MR = 16, KMAX_NR = 64 };

/* Epilogues, one per ISA; the vector ones round exactly like kepi_ref (same exp polynomial). */
void kepi_ref(const kepi *e, int64_t row, int64_t col, int n, const float *g, const float *u);
void kepi_avx2(const kepi *e, int64_t row, int64_t col, int n, const float *g, const float *u);
void kepi_avx512(const kepi *e, int64_t row, int64_t col, int n, const float *g, const float *u);
/* exp(x) as every epilogue computes it (|rel err| < 2e-7 on [-87, 88]; clamped outside). */
float kexp_ref(float x);

/* Shared A preparation (aprep.c). */
size_t kaprep_bf16_bytes(int64_t k);                    /* k rounded up to even, bf16 */
void kaprep_bf16(const float *a, int64_t k, void *dst); /* RNE to bf16, zero pad */
size_t kaprep_i8_bytes(int64_t k);                      /* f32 scale + k padded to 4 */
/* q = round(a/s) in [-127,127], s = max|a|/127, stored as u8 q+128; the AVX-512 version
 * (x86/aprep_avx512.c) writes the same bytes. Row layout: float s (a ≈ s·q), 12 bytes pad,
 * then the k bytes padded to a multiple of 4 with 128 (q = 0). */
void kaprep_u8(const float *a, int64_t k, void *dst);
void kaprep_u8_avx512(const float *a, int64_t k, void *dst);
enum { KAPREP_I8_HDR = 16 };

/* Per-row int8 weight quantization used by every INT8 family: scale = max|w| / 127. */
float kquant_i8_row(const float *w, int64_t k, int8_t *q);

/* The registry (registry.c). */
/* Memory of packed weights (packed_arena.c): zeroed, 64-byte aligned; large weights share
 * mappings on 2 MiB pages. Free with the slab kpacked_alloc returned. */
typedef struct kslab kslab;
void *kpacked_alloc(size_t bytes, kslab **slab);
void kpacked_free(void *p, kslab *slab);

const kfamily *kfam_select(herd_type type, herd_isa_level isa);

/* Families (extern list: add yours here and one line in registry.c). */
extern const kfamily kfam_f32_ref, kfam_f16_ref, kfam_bf16_ref, kfam_int8_ref;
extern const kfamily kfam_f32_avx2, kfam_f16_avx2, kfam_bf16_avx2, kfam_int8_avx2;
extern const kfamily kfam_f32_avx512, kfam_f16_avx512, kfam_bf16_avx512, kfam_int8_avx512;
extern const kfamily kfam_int8_avx512vnni, kfam_bf16_avx512bf16;
/* Block-quantized families (quant.h): Q8_0, Q4_0, MXFP8/6/4, MXINT8. */
/* ggml's Q8_K (q8k.h). */
extern const kfamily kfam_q8_k_ref, kfam_q8_k_avx2, kfam_q8_k_avx512vnni;
extern const kfamily kfam_q8_0_ref, kfam_q4_0_ref, kfam_mxfp4_ref, kfam_mxfp6_e2m3_ref,
    kfam_mxint8_ref, kfam_mxfp8_e4m3_ref, kfam_mxfp8_e5m2_ref, kfam_mxfp6_e3m2_ref;
extern const kfamily kfam_q8_0_avx2, kfam_q4_0_avx2, kfam_mxfp4_avx2, kfam_mxfp6_e2m3_avx2,
    kfam_mxint8_avx2, kfam_mxfp8_e4m3_avx2, kfam_mxfp8_e5m2_avx2, kfam_mxfp6_e3m2_avx2;
extern const kfamily kfam_mxfp8_e4m3_avx512, kfam_mxfp8_e5m2_avx512, kfam_mxfp6_e3m2_avx512;
extern const kfamily kfam_q8_0_avx512vnni, kfam_q4_0_avx512vnni, kfam_mxfp4_avx512vnni,
    kfam_mxfp6_e2m3_avx512vnni, kfam_mxint8_avx512vnni;
extern const kfamily kfam_mxfp8_e4m3_avx512bf16, kfam_mxfp8_e5m2_avx512bf16,
    kfam_mxfp6_e3m2_avx512bf16;
/* FP8 E4M3 rowwise (fp8_row.c), on the MXFP8 E4M3 family of each ISA. */
extern const kfamily kfam_fp8_e4m3_ref, kfam_fp8_e4m3_avx2, kfam_fp8_e4m3_avx512,
    kfam_fp8_e4m3_avx512bf16;
/* K/i-quant families (kquant.h): Q2_K..Q6_K, IQ4_NL, IQ4_XS. */
extern const kfamily kfam_q2_k_ref, kfam_q3_k_ref, kfam_q4_k_ref, kfam_q5_k_ref, kfam_q6_k_ref,
    kfam_iq4_nl_ref, kfam_iq4_xs_ref;
extern const kfamily kfam_q2_k_avx512vnni, kfam_q3_k_avx512vnni, kfam_q4_k_avx512vnni,
    kfam_q5_k_avx512vnni, kfam_q6_k_avx512vnni, kfam_iq4_nl_avx512vnni, kfam_iq4_xs_avx512vnni;
extern const kfamily kfam_q2_k_avx2, kfam_q3_k_avx2, kfam_q4_k_avx2, kfam_q5_k_avx2, kfam_q6_k_avx2;
extern const kfamily kfam_iq4_nl_avx2, kfam_iq4_xs_avx2;
extern const kfamily kfam_tq1_0_avx2, kfam_tq2_0_avx2;
/* Ternary families (kquant.h): TQ1_0, TQ2_0. */
extern const kfamily kfam_tq1_0_ref, kfam_tq2_0_ref, kfam_tq1_0_avx512vnni, kfam_tq2_0_avx512vnni;
/* Grid i-quant families (iquant.h): IQ3_S, IQ3_XXS, IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M. */
extern const kfamily kfam_iq3_s_ref, kfam_iq3_xxs_ref, kfam_iq2_xxs_ref, kfam_iq2_xs_ref,
    kfam_iq2_s_ref, kfam_iq1_s_ref, kfam_iq1_m_ref;
extern const kfamily kfam_iq3_s_avx512vnni, kfam_iq3_xxs_avx512vnni, kfam_iq2_xxs_avx512vnni,
    kfam_iq2_xs_avx512vnni, kfam_iq2_s_avx512vnni, kfam_iq1_s_avx512vnni, kfam_iq1_m_avx512vnni;
extern const kfamily kfam_iq3_s_avx2, kfam_iq3_xxs_avx2, kfam_iq2_xxs_avx2, kfam_iq2_xs_avx2,
    kfam_iq2_s_avx2, kfam_iq1_s_avx2, kfam_iq1_m_avx2;

/* A packed weight. */
struct herd_packed {
    herd_type type; /* the requested type */
    const kfamily *fam;
    int64_t n, k;
    int nmat;            /* 1, or 2 for SwiGLU (gate|up) */
    int64_t npanels;     /* ceil(n / nr) */
    size_t panel_stride; /* panel_bytes rounded up to 64 */
    uint8_t *data;       /* npanels × nmat panels */
    kslab *slab;         /* where data lives (kpacked_alloc) */
    bool emulated;       /* no family for `type`: f32 kernels on weights rounded to `type` */
    float act_ub;        /* upper bound of a dynamic activation scale (FP8), 0 = none */
};

#endif
