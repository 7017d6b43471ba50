/* Split GGUF models (NAME-00001-of-0000N.gguf, as llama.cpp's gguf-split writes them): every
 * part is a complete GGUF holding some of the tensors; the model's metadata is in the first,
 * and every part carries split.no (u16, 0-based) and split.count (u16). */
#include "io/gguf_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static herd_status split_keys(const herd_gguf *g, int64_t *no, int64_t *count)
{
    *no = 0;
    *count = 1;
    if (!herd_gguf_find_kv(g, "split.count"))
        return HERD_OK;
    herd_status st = herd_gguf_get_int(g, "split.count", count);
    if (!st)
        st = herd_gguf_get_int(g, "split.no", no);
    if (!st && (*count < 1 || *count > 9999 || *no < 0 || *no >= *count))
        st = herd_fail(HERD_ERR_FORMAT, "%s: bad split.no %lld / split.count %lld", g->file.path,
                       (long long)*no, (long long)*count);
    return st;
}

herd_status herd_gguf_open_split(const char *path, herd_gguf_split *out)
{
    memset(out, 0, sizeof *out);
    herd_gguf first;
    herd_status st = herd_gguf_open(path, &first);
    if (st)
        return st;
    int64_t no, count;
    if ((st = split_keys(&first, &no, &count))) {
        herd_gguf_close(&first);
        return st;
    }
    if (no != 0) {
        herd_gguf_close(&first);
        return herd_fail(HERD_ERR_ARG, "%s: part %lld of %lld; open the first part", path,
                         (long long)no + 1, (long long)count);
    }
    /* the other parts' names: ...-00001-of-0000N.gguf -> ...-0000K-of-0000N.gguf */
    size_t len = strlen(path);
    char suffix[32];
    snprintf(suffix, sizeof suffix, "-00001-of-%05lld.gguf", (long long)count);
    size_t sl = strlen(suffix);
    if (count > 1 && (len < sl || strcmp(path + len - sl, suffix) != 0)) {
        herd_gguf_close(&first);
        return herd_fail(HERD_ERR_FORMAT, "%s: part 1 of %lld, but the name does not end in %s",
                         path, (long long)count, suffix);
    }
    out->parts = calloc((size_t)count, sizeof *out->parts);
    char *name = malloc(len + 1);
    if (!out->parts || !name) {
        free(name);
        herd_gguf_close(&first);
        free(out->parts);
        out->parts = NULL;
        return herd_fail(HERD_ERR_NOMEM, "%s: out of memory", path);
    }
    out->parts[0] = first;
    out->n_parts = 1;
    size_t total = first.n_tensors;
    for (int64_t k = 1; k < count && !st; k++) {
        memcpy(name, path, len - sl);
        if ((size_t)snprintf(name + len - sl, sl + 1, "-%05d-of-%05d.gguf", (int)k + 1,
                             (int)count) > sl)
            break; /* cannot happen: count <= 9999 */
        herd_gguf *g = &out->parts[k];
        if ((st = herd_gguf_open(name, g)))
            break;
        out->n_parts++;
        int64_t pno, pcount;
        if (!(st = split_keys(g, &pno, &pcount)) && (pno != k || pcount != count))
            st = herd_fail(HERD_ERR_FORMAT, "%s: says part %lld of %lld, expected %lld of %lld",
                           name, (long long)pno + 1, (long long)pcount, (long long)k + 1,
                           (long long)count);
        total += g->n_tensors;
    }
    free(name);
    /* one index over every part's tensors (names and data stay owned by the parts) */
    herd_gguf *m = &out->merged;
    if (!st) {
        *m = out->parts[0];
        m->n_tensors = total;
        m->tensors = malloc((total ? total : 1) * sizeof *m->tensors);
        m->by_name = malloc((total ? total : 1) * sizeof *m->by_name);
        if (!m->tensors || !m->by_name)
            st = herd_fail(HERD_ERR_NOMEM, "%s: out of memory", path);
        for (size_t p = 0, k = 0; !st && p < out->n_parts; p++)
            for (size_t i = 0; i < out->parts[p].n_tensors; i++)
                m->tensors[k++] = out->parts[p].tensors[i];
        if (!st)
            st = gguf_index_names(m->by_name, total, &m->tensors[0].name, sizeof *m->tensors, path,
                                  "tensor (across parts)");
    }
    if (st)
        herd_gguf_close_split(out);
    return st;
}

void herd_gguf_close_split(herd_gguf_split *s)
{
    if (s->parts && s->merged.tensors != s->parts[0].tensors) {
        free(s->merged.tensors);
        free(s->merged.by_name);
    }
    for (size_t p = 0; p < s->n_parts; p++)
        herd_gguf_close(&s->parts[p]);
    free(s->parts);
    memset(s, 0, sizeof *s);
}
