/* The vision tower, adapter and projector on tiny-vision's golden pixel values: encoder,
 * adapter and features each within 1e-4·max|golden| (spec §11.9), the prompt expansion of
 * both images, and the config checks. */
#include "harness.h"
#include "herd/io_gguf.h"
#include "herd/io_json.h"
#include "herd/io_npy.h"
#include "herd/vision.h"

#include <unistd.h>

#define DIR "llama4/tiny-vision/"

static float *load(const char *path, size_t *count)
{
    float *d = NULL;
    size_t shape[HERD_NPY_MAX_DIMS];
    int nd;
    if (herd_npy_read_f32(path, &d, shape, &nd)) {
        fprintf(stderr, "%s\n", herd_last_error());
        return NULL;
    }
    herd_npy_count(shape, nd, count);
    return d;
}

/* max|got − want| / max|want| */
static double rel_err(const float *got, const float *want, size_t n)
{
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        e = d > e || d != d ? d : e;
        m = fabs(want[i]) > m ? fabs(want[i]) : m;
    }
    return e / m;
}

static void check_image(herd_vision_model *m, int k, double tol, bool report)
{
    const herd_vision_config *c = herd_vision_model_config(m);
    char path[128];
    size_t np, ne, na, nf;
    snprintf(path, sizeof path, DIR "image%d.pixel_values.npy", k);
    float *px = load(path, &np);
    snprintf(path, sizeof path, DIR "image%d.encoder.npy", k);
    float *enc = load(path, &ne);
    snprintf(path, sizeof path, DIR "image%d.adapter.npy", k);
    float *ad = load(path, &na);
    snprintf(path, sizeof path, DIR "image%d.features.npy", k);
    float *ft = load(path, &nf);
    if (!px || !enc || !ad || !ft) {
        CHECK(0);
        return;
    }
    int64_t tiles = (int64_t)(np / (size_t)(3 * c->image_size * c->image_size));
    float *genc = malloc(ne * 4), *gad = malloc(na * 4), *gft = malloc(nf * 4);
    herd_status st = herd_vision_encode(m, px, tiles, genc, gad, gft);
    CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
    double e1 = rel_err(genc, enc, ne), e2 = rel_err(gad, ad, na), e3 = rel_err(gft, ft, nf);
    if (report)
        printf("image%d (%lld tiles): encoder %.2e adapter %.2e features %.2e of max|golden|\n", k,
               (long long)tiles, e1, e2, e3);
    CHECK_MSG(e1 <= tol && e2 <= tol && e3 <= tol, "image%d: %.3g %.3g %.3g > %g", k, e1, e2, e3,
              tol);
    /* features alone (no debug outputs) give the same rows */
    float *gft2 = malloc(nf * 4);
    CHECK(herd_vision_encode(m, px, tiles, NULL, NULL, gft2) == HERD_OK);
    CHECK(memcmp(gft, gft2, nf * 4) == 0);
    free(gft2);
    free(genc);
    free(gad);
    free(gft);
    herd_free(px);
    herd_free(enc);
    herd_free(ad);
    herd_free(ft);
}

TEST(encoder_adapter_features_exact_activations)
{
    for (int batch = 1; batch <= 4; batch += 3) {
        herd_vision_opts o;
        herd_vision_opts_default(&o);
        o.aprep = HERD_APREP_EXACT;
        o.threads = 2;
        o.max_batch = batch;
        herd_vision_model *m;
        herd_status st = herd_vision_load_hf(DIR, &o, &m);
        CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
        if (st)
            return;
        check_image(m, 0, 1e-4, batch == 1);
        check_image(m, 1, 1e-4, batch == 1);
        herd_vision_model_free(m);
    }
}

TEST(encoder_bf16_activations_close)
{
    /* the fast path (activations rounded to bf16 for the BF16 kernels) stays near: HF itself
     * runs the tower in bf16 */
    herd_vision_opts o;
    herd_vision_opts_default(&o);
    o.threads = 1;
    herd_vision_model *m;
    if (herd_vision_load_hf(DIR, &o, &m)) {
        CHECK_MSG(0, "%s", herd_last_error());
        return;
    }
    check_image(m, 1, 3e-2, true);
    herd_vision_model_free(m);
}

TEST(prompt_expansion)
{
    herd_vision_config c;
    CHECK(herd_vision_config_load(DIR "config.json", &c) == HERD_OK);
    CHECK_EQ_INT(c.tokens_per_tile, 16);
    CHECK_EQ_INT(c.image_id, 90);
    CHECK_EQ_INT(c.tile_x_id, 84);
    CHECK_EQ_INT(c.tile_y_id, 85);
    CHECK_EQ_INT(c.patch_id, 92);
    static const int32_t unexpanded[] = {1,   5,  280, 6,   298, 204, 90,  458, 200,
                                         249, 90, 265, 276, 8,   5,   406, 6,   195};
    int32_t ids[400];
    int64_t n = 0, img = 0;
    static const int64_t grid[2][2] = {{1, 1}, {2, 4}};
    for (size_t i = 0; i < sizeof unexpanded / 4; i++) {
        if (unexpanded[i] == c.image_id) {
            n += herd_vision_expand(&c, grid[img][0], grid[img][1], ids + n, 400 - n);
            img++;
        } else {
            ids[n++] = unexpanded[i];
        }
    }
    CHECK_EQ_INT(n, 190);
    CHECK_EQ_INT(herd_vision_expand(&c, 2, 2, NULL, 0), 5 * 16 + 7);
    json_t *g = NULL;
    CHECK(herd_json_load_file(DIR "golden.json", &g) == HERD_OK);
    const json_t *want = json_object_get(g, "prompt_ids");
    CHECK_EQ_INT(json_array_size(want), n);
    int bad = 0;
    for (int64_t i = 0; i < n && i < (int64_t)json_array_size(want); i++)
        bad += ids[i] != json_integer_value(json_array_get(want, (size_t)i));
    CHECK_EQ_INT(bad, 0);
    json_decref(g);
    int patches = 0;
    for (int64_t i = 0; i < n; i++)
        patches += ids[i] == 92;
    CHECK_EQ_INT(patches, 160);
}

TEST(mmproj_written_and_read_back)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/herd_test_mmproj_%d.gguf", (int)getpid());
    herd_status st = herd_vision_write_mmproj(DIR, path);
    CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
    herd_gguf g;
    CHECK(herd_gguf_open(path, &g) == HERD_OK);
    const char *s;
    size_t n;
    CHECK(herd_gguf_get_str(&g, "general.architecture", &s, &n) == HERD_OK && n == 4 &&
          memcmp(s, "clip", 4) == 0);
    CHECK(herd_gguf_get_str(&g, "clip.projector_type", &s, &n) == HERD_OK && n == 6);
    CHECK(herd_gguf_find_tensor(&g, "v.blk.1.attn_out.weight") != NULL);
    CHECK(herd_gguf_find_tensor(&g, "v.blk.0.ffn_up.bias") != NULL);
    CHECK(herd_gguf_find_tensor(&g, "mm.model.fc.weight") != NULL);
    CHECK(herd_gguf_find_tensor(&g, "mm.model.mlp.2.weight") != NULL);
    CHECK(herd_gguf_find_tensor(&g, "v.class_embd") != NULL);
    CHECK(herd_gguf_find_tensor(&g, "v.position_embd.weight") != NULL);
    herd_gguf_close(&g);
    herd_vision_config a, b;
    CHECK(herd_vision_config_load(DIR "config.json", &a) == HERD_OK);
    CHECK(herd_vision_gguf_config(path, &b) == HERD_OK);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    /* the same features, bit for bit, from either file */
    herd_vision_opts o;
    herd_vision_opts_default(&o);
    o.aprep = HERD_APREP_EXACT;
    o.threads = 1;
    herd_vision_model *m1 = NULL, *m2 = NULL;
    CHECK(herd_vision_load_hf(DIR, &o, &m1) == HERD_OK);
    st = herd_vision_load(DIR, path, &o, &m2);
    CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
    size_t np;
    float *px = load(DIR "image1.pixel_values.npy", &np);
    if (m1 && m2 && px) {
        size_t nf = 9 * 16 * 64;
        float *f1 = malloc(nf * 4), *f2 = malloc(nf * 4);
        CHECK(herd_vision_encode(m1, px, 9, NULL, NULL, f1) == HERD_OK);
        CHECK(herd_vision_encode(m2, px, 9, NULL, NULL, f2) == HERD_OK);
        CHECK(memcmp(f1, f2, nf * 4) == 0);
        free(f1);
        free(f2);
    }
    herd_free(px);
    herd_vision_model_free(m1);
    herd_vision_model_free(m2);
    /* a text-only or damaged file says what is missing */
    CHECK(herd_vision_gguf_config(DIR "config.json", &b) != HERD_OK);
    remove(path);
}

TEST(synthetic_batch_and_thread_invariance)
{
    /* the same features whatever the batch of tiles and the thread count, in both activation
     * modes; the ISA-specific paths against the plain C ones within float rounding */
    herd_vision_config c;
    CHECK(herd_vision_config_load(DIR "config.json", &c) == HERD_OK);
    int64_t tiles = 5, S = c.image_size;
    size_t np = (size_t)(tiles * 3 * S * S),
           nf = (size_t)(tiles * c.tokens_per_tile * c.text_hidden);
    float *px = malloc(np * 4), *ref = malloc(nf * 4), *got = malloc(nf * 4);
    uint32_t r = 7;
    for (size_t i = 0; i < np; i++) {
        r = r * 1664525u + 1013904223u;
        px[i] = (float)(r >> 8) / (float)(1u << 23) - 1.0f;
    }
    for (int act = 0; act < 2; act++)
        for (int k = 0; k < 3; k++) {
            static const int batch[3] = {1, 2, 5}, threads[3] = {1, 2, 2};
            herd_vision_opts o;
            herd_vision_opts_default(&o);
            o.aprep = act ? HERD_APREP_AUTO : HERD_APREP_EXACT;
            o.max_batch = batch[k];
            o.threads = threads[k];
            herd_vision_model *m;
            if (herd_vision_synthetic(&c, 3, HERD_TYPE_BF16, &o, &m)) {
                CHECK_MSG(0, "%s", herd_last_error());
                continue;
            }
            CHECK(herd_vision_encode(m, px, tiles, NULL, NULL, k ? got : ref) == HERD_OK);
            if (k)
                CHECK_MSG(memcmp(ref, got, nf * 4) == 0, "act %d batch %d threads %d differs", act,
                          batch[k], threads[k]);
            herd_vision_model_free(m);
        }
    free(px);
    free(ref);
    free(got);
}

int main(void)
{
    RUN(encoder_adapter_features_exact_activations);
    RUN(encoder_bf16_activations_close);
    RUN(prompt_expansion);
    RUN(mmproj_written_and_read_back);
    RUN(synthetic_batch_and_thread_invariance);
    return harness_finish();
}
