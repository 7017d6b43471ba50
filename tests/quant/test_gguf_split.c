/* Split GGUF models (NAME-00001-of-00002.gguf ...): a model split in two loads from its first
 * part and gives the same logits as the single file; wrong starts, missing parts, mismatched
 * split keys and tensors present twice end in one-line errors. */
#include "harness.h"
#include "herd/model.h"
#include "herd/model_gguf.h"
#include "herd/quant.h"

#include <unistd.h>

static char whole[80], part1[96], part2[96];

/* Writes tensors [t0, t1) of g as part `no` of `count` (metadata only in part 0). */
static void write_part(const herd_gguf *g, const char *path, int no, int count, size_t t0,
                       size_t t1, bool dup_first)
{
    herd_gguf_writer *w;
    CHECK(herd_gguf_writer_create(&w) == HERD_OK);
    for (size_t i = 0; no == 0 && i < g->n_kv; i++)
        CHECK(herd_gguf_set_kv(w, &g->kv[i]) == HERD_OK);
    uint16_t sno = (uint16_t)no, scount = (uint16_t)count;
    int32_t nt = (int32_t)g->n_tensors;
    CHECK(herd_gguf_set(w, "split.no", HERD_GGUF_UINT16, &sno) == HERD_OK);
    CHECK(herd_gguf_set(w, "split.count", HERD_GGUF_UINT16, &scount) == HERD_OK);
    CHECK(herd_gguf_set(w, "split.tensors.count", HERD_GGUF_INT32, &nt) == HERD_OK);
    if (dup_first)
        t0--;
    for (size_t i = t0; i < t1; i++)
        CHECK(herd_gguf_add_tensor(w, g->tensors[i].name, g->tensors[i].type, g->tensors[i].n_dims,
                                   g->tensors[i].ne) == HERD_OK);
    CHECK(herd_gguf_writer_begin(w, path) == HERD_OK);
    for (size_t i = t0; i < t1; i++)
        CHECK(herd_gguf_writer_write(w, g->tensors[i].data, g->tensors[i].bytes) == HERD_OK);
    CHECK(herd_gguf_writer_commit(w) == HERD_OK);
    herd_gguf_writer_free(w);
}

static float *logits(const char *model, int64_t *V)
{
    static const int32_t ids[8] = {1, 199, 37, 313, 342, 120, 259, 12};
    herd_model_opts o;
    herd_model_opts_default(&o);
    o.threads = 1;
    o.quiet = true;
    herd_model *m = NULL;
    herd_kv_cache *kv = NULL;
    herd_status st = herd_model_load(model, &o, &m);
    CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
    if (st)
        return NULL;
    *V = herd_model_config(m)->vocab;
    float *lg = malloc(8 * (size_t)*V * sizeof *lg);
    CHECK(herd_kv_create(m, 8, &kv) == HERD_OK && herd_model_forward(m, kv, ids, 8, lg, true) == 0);
    herd_kv_free(kv);
    herd_model_free(m);
    return lg;
}

static void expect_fail(const char *path, const char *want)
{
    herd_gguf_split s;
    herd_status st = herd_gguf_open_split(path, &s);
    CHECK_MSG(st != HERD_OK, "%s opened", path);
    if (st == HERD_OK) {
        herd_gguf_close_split(&s);
        return;
    }
    CHECK_MSG(strstr(herd_last_error(), want) && !strchr(herd_last_error(), '\n'),
              "'%s' not in: %s", want, herd_last_error());
}

TEST(split_in_two)
{
    herd_quantize_opts o = {.type = HERD_TYPE_BF16};
    herd_quant_policy_load("uniform", &o.policy);
    herd_quantize_report r;
    CHECK(herd_quantize_model("llama4/tiny-scout", whole, &o, &r) == HERD_OK);
    herd_gguf g;
    CHECK(herd_gguf_open(whole, &g) == HERD_OK);
    size_t half = g.n_tensors / 2;
    write_part(&g, part1, 0, 2, 0, half, false);
    write_part(&g, part2, 1, 2, half, g.n_tensors, false);
    herd_gguf_split s;
    CHECK(herd_gguf_open_split(part1, &s) == HERD_OK);
    CHECK_EQ_INT(s.n_parts, 2);
    CHECK_EQ_INT(s.merged.n_tensors, g.n_tensors);
    CHECK(herd_gguf_find_tensor(&s.merged, "output.weight") != NULL);
    CHECK(herd_gguf_find_tensor(&s.merged, "token_embd.weight") != NULL);
    herd_gguf_close_split(&s);

    int64_t V1 = 0, V2 = 0;
    float *a = logits(whole, &V1), *b = logits(part1, &V2);
    CHECK(a && b && V1 == V2 && memcmp(a, b, 8 * (size_t)V1 * sizeof *a) == 0);
    free(a);
    free(b);
    /* a split model re-quantizes like one file */
    char out[112];
    snprintf(out, sizeof out, "%s.q8.gguf", whole);
    o.type = HERD_TYPE_Q8_0;
    herd_status st = herd_quantize_model(part1, out, &o, &r);
    CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
    CHECK_EQ_INT(r.tensors, g.n_tensors);
    unlink(out);

    expect_fail(part2, "open the first part");
    write_part(&g, part2, 1, 2, half, g.n_tensors, true); /* a tensor in both parts */
    expect_fail(part1, "duplicate tensor");
    write_part(&g, part2, 0, 2, half, g.n_tensors, false); /* says it is part 1 */
    expect_fail(part1, "expected 2 of 2");
    unlink(part2);
    expect_fail(part1, "cannot open");
    CHECK(strstr(herd_last_error(), "-00002-of-00002.gguf") != NULL);
    /* a part 1 whose name does not say so */
    write_part(&g, whole, 0, 2, 0, half, false);
    expect_fail(whole, "does not end in -00001-of-00002.gguf");
    herd_gguf_close(&g);
}

int main(void)
{
    long pid = (long)getpid();
    snprintf(whole, sizeof whole, "/tmp/herd_test_split_%ld.gguf", pid);
    snprintf(part1, sizeof part1, "/tmp/herd_test_split_%ld-00001-of-00002.gguf", pid);
    snprintf(part2, sizeof part2, "/tmp/herd_test_split_%ld-00002-of-00002.gguf", pid);
    RUN(split_in_two);
    unlink(whole);
    unlink(part1);
    unlink(part2);
    return harness_finish();
}
