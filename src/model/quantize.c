/* The quantizer: streams a plan of tensors into a GGUF file. Each tensor is cut into chunks of
 * rows; the pool's threads turn a chunk's source rows into float32 (transposing input-major
 * sources in 32-row tiles, so every cache line read is used whole) and quantize them with
 * herd_row_from_f32; the caller's thread then appends the chunk to the file. Rows are
 * independent, so the output does not depend on the thread count. */
#include "herd/quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TILE = 32, CHUNK_BYTES = 16 << 20 };

herd_status herd_qplan_add(herd_qplan *p, const herd_qentry *e)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 256;
        herd_qentry *n = realloc(p->e, cap * sizeof *n);
        if (!n)
            return herd_fail(HERD_ERR_NOMEM, "out of memory for the quantization plan");
        p->e = n;
        p->cap = cap;
    }
    p->e[p->n++] = *e;
    return HERD_OK;
}

void herd_qplan_free(herd_qplan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->e[i].mats);
        free(p->e[i].mat_scales);
    }
    free(p->e);
    memset(p, 0, sizeof *p);
}

static int64_t entry_rows(const herd_qentry *e)
{
    return e->ne[1] * e->ne[2] * e->ne[3];
}

size_t herd_qplan_bytes(const herd_qplan *p)
{
    size_t total = 0;
    for (size_t i = 0; i < p->n; i++)
        total +=
            herd_type_row_bytes(p->e[i].type, (size_t)p->e[i].ne[0]) * (size_t)entry_rows(&p->e[i]);
    return total;
}

typedef struct job {
    const herd_qentry *e;
    int64_t r0, nrows; /* the chunk */
    size_t out_row_bytes;
    uint8_t *out;
    float **scratch; /* per thread: TILE rows of ne0 floats + one tile row */
    herd_status *st;
    char (*msg)[256];
} job;

static float scale_at(herd_type t, const uint8_t *p, int64_t i)
{
    float v = 0;
    herd_row_to_f32(t, p + (size_t)i * herd_type_row_bytes(t, 1), &v, 1);
    return v;
}

static herd_status nan_code(const herd_qentry *e, int64_t row)
{
    return herd_fail(HERD_ERR_FORMAT, "tensor '%s' row %lld: NaN element (E4M3 0x7F/0xFF)", e->name,
                     (long long)row);
}

/* fill_rows for FP8 sources (code value × row scale: what fbgemm multiplies) and for matrices
 * given one by one. */
static herd_status fill_fp8_or_mats(const herd_qentry *e, int64_t r, int64_t n, float *dst)
{
    const int64_t K = e->ne[0];
    const bool fp8 = e->src_type == HERD_TYPE_FP8_E4M3;
    for (int64_t i = 0; i < n; i++) {
        int64_t row = r + i, m = row / e->ne[1], j = row % e->ne[1];
        float *d = dst + (size_t)(i * K);
        if (e->layout == HERD_QSRC_COLS) { /* fp8 only (herd_llama4_plan_hf) */
            const uint8_t *mat = e->src + (size_t)m * (size_t)K * (size_t)e->src_ld;
            float s = scale_at(e->scale_type, e->scale, m * e->src_ld + e->col_off + j);
            for (int64_t k = 0; k < K; k++) {
                uint8_t c = mat[(size_t)k * (size_t)e->src_ld + (size_t)(e->col_off + j)];
                if ((c & 0x7F) == 0x7F)
                    return nan_code(e, row);
                d[k] = herd_mx_decode(HERD_MX_FP8_E4M3, c) * s;
            }
            continue;
        }
        const uint8_t *base = e->layout == HERD_QSRC_MATS ? e->mats[m] : e->src;
        int64_t at = e->layout == HERD_QSRC_MATS ? j : row;
        if (!fp8) {
            herd_status st = herd_row_to_f32(
                e->src_type, base + (size_t)at * herd_type_row_bytes(e->src_type, K), d, (size_t)K);
            if (st)
                return st;
            continue;
        }
        const uint8_t *sc = e->layout == HERD_QSRC_MATS ? e->mat_scales[m] : e->scale;
        float s = scale_at(e->scale_type, sc, at);
        const uint8_t *codes = base + (size_t)at * (size_t)K;
        for (int64_t k = 0; k < K; k++) {
            if ((codes[k] & 0x7F) == 0x7F)
                return nan_code(e, row);
            d[k] = herd_mx_decode(HERD_MX_FP8_E4M3, codes[k]) * s;
        }
    }
    return HERD_OK;
}

/* Float rows [r, r+n) of e (n <= TILE, all in one source matrix for COLS) into dst. */
static herd_status fill_rows(const herd_qentry *e, int64_t r, int64_t n, float *dst, float *tmp)
{
    int64_t K = e->ne[0];
    if (e->values) {
        memcpy(dst, e->values + (size_t)r * (size_t)K, (size_t)(n * K) * sizeof *dst);
        return HERD_OK;
    }
    if (e->src_type == HERD_TYPE_FP8_E4M3 || e->layout == HERD_QSRC_MATS)
        return fill_fp8_or_mats(e, r, n, dst);
    if (e->layout == HERD_QSRC_ROWS) {
        size_t rb = e->src_row_bytes ? e->src_row_bytes : herd_type_row_bytes(e->src_type, K);
        for (int64_t i = 0; i < n; i++) {
            herd_status st = herd_row_to_f32(e->src_type, e->src + (size_t)(r + i) * rb,
                                             dst + (size_t)(i * K), (size_t)K);
            if (st != HERD_OK)
                return st;
        }
        return HERD_OK;
    }
    /* COLS: row i of matrix m is column col_off + i of an input-major [K × ld] matrix */
    size_t es = herd_type_row_bytes(e->src_type, 1);
    int64_t m = r / e->ne[1], i0 = r % e->ne[1];
    const uint8_t *mat = e->src + (size_t)m * (size_t)K * (size_t)e->src_ld * es;
    for (int64_t k = 0; k < K; k++) {
        const uint8_t *p = mat + ((size_t)k * (size_t)e->src_ld + (size_t)(e->col_off + i0)) * es;
        herd_status st = herd_row_to_f32(e->src_type, p, tmp, (size_t)n);
        if (st != HERD_OK)
            return st;
        for (int64_t i = 0; i < n; i++)
            dst[(size_t)(i * K + k)] = tmp[i];
    }
    return HERD_OK;
}

static void run_chunk(void *ctx, int tid, int nthreads)
{
    job *j = ctx;
    const herd_qentry *e = j->e;
    size_t b, end;
    herd_split_range((size_t)j->nrows, TILE, tid, nthreads, &b, &end);
    float *rows = j->scratch[tid], *tmp = rows + (size_t)TILE * (size_t)e->ne[0];
    for (size_t r = b; r < end && j->st[tid] == HERD_OK;) {
        int64_t gr = j->r0 + (int64_t)r, n = (int64_t)(end - r) < TILE ? (int64_t)(end - r) : TILE;
        if (e->layout == HERD_QSRC_COLS && !e->values) { /* a tile stays inside one matrix */
            int64_t left = e->ne[1] - gr % e->ne[1];
            n = n < left ? n : left;
        }
        herd_status st = fill_rows(e, gr, n, rows, tmp);
        for (int64_t i = 0; st == HERD_OK && i < n; i++)
            st = herd_row_from_f32(e->type, rows + (size_t)(i * e->ne[0]),
                                   j->out + (r + (size_t)i) * j->out_row_bytes, (size_t)e->ne[0]);
        if (st != HERD_OK) {
            j->st[tid] = st;
            snprintf(j->msg[tid], sizeof j->msg[tid], "%s", herd_last_error());
        }
        r += (size_t)n;
    }
}

static herd_status check_entry(const herd_qentry *e)
{
    const herd_type_info *ti = herd_type_get(e->type);
    if (!ti || e->ne[0] <= 0 || e->ne[0] % ti->block_elems != 0)
        return herd_fail(HERD_ERR_ARG, "tensor '%s': rows of %lld cannot be stored as %s", e->name,
                         (long long)e->ne[0], herd_type_name(e->type));
    if (!e->values && e->layout == HERD_QSRC_COLS) {
        const herd_type_info *si = herd_type_get(e->src_type);
        if (!si || si->block_elems != 1 || e->col_off + e->ne[1] > e->src_ld)
            return herd_fail(HERD_ERR_ARG, "tensor '%s': bad transposed source", e->name);
    }
    return HERD_OK;
}

herd_status herd_quantize_write(const herd_qplan *p, herd_gguf_writer *w, const char *path,
                                herd_pool *pool, bool progress)
{
    herd_status st = HERD_OK;
    int64_t max_k = 1;
    double total = 0;
    for (size_t i = 0; i < p->n && st == HERD_OK; i++) {
        const herd_qentry *e = &p->e[i];
        if ((st = check_entry(e)) == HERD_OK)
            st = herd_gguf_add_tensor(w, e->name, e->type, e->n_dims, e->ne);
        max_k = e->ne[0] > max_k ? e->ne[0] : max_k;
        total += (double)e->ne[0] * (double)entry_rows(e);
    }
    if (st != HERD_OK)
        return st;
    int nt = herd_pool_size(pool);
    if (nt < 1)
        nt = 1;
    float **scratch = calloc((size_t)nt, sizeof *scratch);
    herd_status *tst = calloc((size_t)nt, sizeof *tst);
    char(*msg)[256] = calloc((size_t)nt, sizeof *msg);
    uint8_t *out = herd_alloc(CHUNK_BYTES + (size_t)max_k * 4 * TILE, "quantizer output");
    if (!scratch || !tst || !msg || !out)
        st = herd_fail(HERD_ERR_NOMEM, "out of memory for the quantizer");
    for (int t = 0; st == HERD_OK && t < nt; t++)
        if (!(scratch[t] = herd_alloc((size_t)(TILE + 1) * (size_t)max_k * sizeof(float),
                                      "quantizer scratch")))
            st = HERD_ERR_NOMEM;
    if (st == HERD_OK)
        st = herd_gguf_writer_begin(w, path);

    herd_progress bar;
    if (progress)
        herd_progress_begin(&bar, "quantize", total);
    double done = 0;
    for (size_t i = 0; i < p->n && st == HERD_OK; i++) {
        const herd_qentry *e = &p->e[i];
        size_t rb = herd_type_row_bytes(e->type, (size_t)e->ne[0]);
        int64_t rows = entry_rows(e), per = (int64_t)(CHUNK_BYTES / rb);
        per = per < TILE ? TILE : per / TILE * TILE; /* whole tiles, at least one */
        for (int64_t r0 = 0; r0 < rows && st == HERD_OK; r0 += per) {
            job j = {e, r0, rows - r0 < per ? rows - r0 : per, rb, out, scratch, tst, msg};
            herd_pool_run(pool, run_chunk, &j);
            for (int t = 0; t < nt && st == HERD_OK; t++)
                if (tst[t] != HERD_OK)
                    st = herd_fail(tst[t], "tensor '%s': %s", e->name, msg[t]);
            if (st == HERD_OK)
                st = herd_gguf_writer_write(w, out, (size_t)j.nrows * rb);
            done += (double)j.nrows * (double)e->ne[0];
            if (progress)
                herd_progress_update(&bar, done);
        }
    }
    if (progress && st == HERD_OK)
        herd_progress_end(&bar);
    else if (progress && bar.tty)
        fputc('\n', stderr); /* leave the error on a line of its own */
    if (st == HERD_OK)
        st = herd_gguf_writer_commit(w);
    for (int t = 0; scratch && t < nt; t++)
        herd_free(scratch[t]);
    free(scratch);
    free(tst);
    free(msg);
    herd_free(out);
    return st;
}
