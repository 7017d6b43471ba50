/* Checkpoints (the whole trainer state, so a resumed run continues bit for bit) and the export
 * of a trained model as a llama4 GGUF. */
#include "train/train_internal.h"

#include "herd/model_gguf.h"
#include "herd/quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char magic[8] = {'H', 'E', 'R', 'D', 'T', 'R', 'N', '1'};

typedef struct ckpt_header {
    char magic[8];
    uint64_t step, total, n_history, seq, batch, seed;
} ckpt_header;

herd_status herd_trainer_save(const herd_trainer *t, const char *path, const double *history,
                              size_t n_history)
{
    ckpt_header h = {{0},       (uint64_t)t->step,   t->lo.total,
                     n_history, (uint64_t)t->hp.seq, (uint64_t)t->hp.batch,
                     t->hp.seed};
    memcpy(h.magic, magic, 8);
    herd_atomic_file f;
    herd_status st = herd_atomic_open(&f, path);
    if (st)
        return st;
    size_t n = t->lo.total * sizeof(float);
    st = herd_atomic_write(&f, &h, sizeof h);
    if (!st)
        st = herd_atomic_write(&f, t->w, n);
    if (!st)
        st = herd_atomic_write(&f, t->m, n);
    if (!st)
        st = herd_atomic_write(&f, t->v, n);
    if (!st && n_history)
        st = herd_atomic_write(&f, history, n_history * sizeof *history);
    if (!st)
        return herd_atomic_commit(&f);
    herd_atomic_abort(&f);
    return st;
}

herd_status herd_trainer_load(herd_trainer *t, const char *path, double **history,
                              size_t *n_history)
{
    herd_mapped_file mf;
    herd_status st = herd_map_file(path, &mf);
    if (st)
        return st;
    ckpt_header h;
    size_t n = t->lo.total * sizeof(float);
    if (mf.size < sizeof h) {
        herd_unmap_file(&mf);
        return herd_fail(HERD_ERR_FORMAT, "%s: not a herd training checkpoint", path);
    }
    memcpy(&h, mf.data, sizeof h);
    if (memcmp(h.magic, magic, 8) != 0)
        st = herd_fail(HERD_ERR_FORMAT, "%s: not a herd training checkpoint", path);
    else if (h.total != t->lo.total || h.seq != (uint64_t)t->hp.seq ||
             h.batch != (uint64_t)t->hp.batch)
        st = herd_fail(HERD_ERR_FORMAT,
                       "%s: the checkpoint is of another model shape, context or batch", path);
    else if (h.n_history > (1ull << 40) ||
             mf.size != sizeof h + 3 * n + h.n_history * sizeof(double))
        st = herd_fail(HERD_ERR_FORMAT, "%s: the checkpoint is truncated or has extra bytes", path);
    double *hist = NULL;
    if (!st && h.n_history) {
        hist = malloc(h.n_history * sizeof *hist);
        if (!hist)
            st = herd_fail(HERD_ERR_NOMEM, "out of memory reading %s", path);
    }
    if (!st) {
        const uint8_t *p = mf.data + sizeof h;
        memcpy(t->w, p, n);
        memcpy(t->m, p + n, n);
        memcpy(t->v, p + 2 * n, n);
        if (hist)
            memcpy(hist, p + 3 * n, h.n_history * sizeof *hist);
        t->step = (int64_t)h.step;
        *history = hist;
        *n_history = h.n_history;
    }
    herd_unmap_file(&mf);
    return st;
}

herd_status herd_trainer_export_gguf(const herd_trainer *t, const herd_llama4_config *c,
                                     herd_type matrix_type, const char *tokenizer_json,
                                     const char *name, const char *license, const char *path)
{
    herd_gguf_writer *w = NULL;
    herd_qplan plan = {0};
    float *rope = malloc((size_t)(c->head_dim / 2 + 1) * sizeof *rope);
    herd_status st = rope ? herd_gguf_writer_create(&w) : HERD_ERR_NOMEM;
    if (!st)
        st = herd_llama4_gguf_set_meta(w, c, false);
    if (!st && tokenizer_json)
        st = herd_gguf_set_tokenizer(w, tokenizer_json, c->vocab);
    if (!st)
        st = herd_gguf_set_str(w, "general.name", name);
    if (!st && license)
        st = herd_gguf_set_str(w, "general.license", license);
    if (!st)
        st = herd_gguf_set_u32(w, "general.file_type", matrix_type == HERD_TYPE_BF16 ? 32 : 0);
    /* the GGUF default, not 64: llama-quantize copies this key but lays tensors out at 32,
     * so any other value makes the files it writes from ours unreadable (to llama.cpp too) */
    if (!st)
        st = herd_gguf_set_u32(w, "general.alignment", 32);
    if (!st)
        st = herd_gguf_set_str(w, "general.quantized_by", "herd train " HERD_VERSION);
    for (size_t i = 0; i < t->lo.n_tensors && !st; i++) {
        const herd_tparam *p = &t->lo.tensors[i];
        herd_qentry e = {.cls = herd_llama4_gguf_class(p->name),
                         .type = p->matrix ? matrix_type : HERD_TYPE_F32,
                         .n_dims = p->n_dims,
                         .ne = {p->ne[0], p->ne[1], p->ne[2], 1},
                         .layout = HERD_QSRC_ROWS,
                         .src_type = HERD_TYPE_F32,
                         .values = t->w + p->off};
        snprintf(e.name, sizeof e.name, "%s", p->name);
        st = herd_qplan_add(&plan, &e);
    }
    if (!st && herd_llama4_rope_freqs(c, rope)) {
        herd_qentry e = {.name = "rope_freqs.weight",
                         .cls = HERD_QC_NORM,
                         .type = HERD_TYPE_F32,
                         .n_dims = 1,
                         .ne = {c->head_dim / 2, 1, 1, 1},
                         .values = rope};
        st = herd_qplan_add(&plan, &e);
    }
    if (!st)
        st = herd_quantize_write(&plan, w, path, NULL, false);
    herd_qplan_free(&plan);
    herd_gguf_writer_free(w);
    free(rope);
    return st;
}
