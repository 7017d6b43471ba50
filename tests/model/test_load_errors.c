/* Loading checkpoints: sharded and F32 variants of tiny-scout give the same logits; broken
 * ones (missing tensor, wrong shape, wrong dtype, truncated or missing shard, bad config)
 * fail with one line naming the file and the tensor. Variants are written under tmp/. */
#include "harness.h"
#include "herd/io_json.h"
#include "herd/io_safetensors.h"
#include "herd/model.h"

#include <sys/stat.h>
#include <unistd.h>

static const char *SRC = "llama4/tiny-scout";
static char tmp[128];

static void *read_all(const char *path, size_t *n)
{
    return harness_read_file(path, n);
}

static void write_all(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    fclose(f);
}

/* A fresh directory tmp/NAME holding config.json, optionally the model file as is. */
static const char *variant(const char *name, bool with_model)
{
    static char dir[256];
    char path[512];
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    mkdir(dir, 0755);
    size_t n;
    snprintf(path, sizeof path, "%s/config.json", SRC);
    void *cfg = read_all(path, &n);
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_all(path, cfg, n);
    free(cfg);
    if (with_model) {
        snprintf(path, sizeof path, "%s/model.safetensors", SRC);
        void *m = read_all(path, &n);
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        write_all(path, m, n);
        free(m);
    }
    return dir;
}

/* Copies the model with `from` replaced by `to` in its header (the length field follows). */
static const char *patched(const char *name, const char *from, const char *to)
{
    const char *dir = variant(name, false);
    char path[512];
    size_t n;
    snprintf(path, sizeof path, "%s/model.safetensors", SRC);
    uint8_t *m = read_all(path, &n);
    uint64_t hl = 0;
    memcpy(&hl, m, 8);
    char *hdr = malloc(hl + strlen(to) + 1);
    memcpy(hdr, m + 8, hl);
    hdr[hl] = 0;
    char *at = strstr(hdr, from);
    CHECK_MSG(at != NULL, "'%s' not in the header", from);
    if (!at)
        exit(2);
    size_t pre = (size_t)(at - hdr), fl = strlen(from), tl = strlen(to);
    memmove(at + tl, at + fl, hl - pre - fl + 1);
    memcpy(at, to, tl);
    uint64_t nl = hl - fl + tl;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "wb");
    fwrite(&nl, 8, 1, f);
    fwrite(hdr, 1, nl, f);
    fwrite(m + 8 + hl, 1, n - 8 - hl, f);
    fclose(f);
    free(hdr);
    free(m);
    return dir;
}

static void write_str(const char *path, const char *s)
{
    write_all(path, s, strlen(s));
}

static void expect_load_error(const char *dir, const char *text)
{
    herd_model_opts o;
    herd_model_opts_default(&o);
    o.quiet = true;
    o.threads = 1;
    herd_model *m = NULL;
    herd_status st = herd_model_load(dir, &o, &m);
    CHECK_MSG(st != HERD_OK && !m, "%s loaded", dir);
    const char *e = herd_last_error();
    CHECK_MSG(strstr(e, text) && !strchr(e, '\n'), "%s: message '%s' lacks '%s'", dir, e, text);
    herd_model_free(m);
}

TEST(test_broken)
{
    char want[512];
    const char *d = patched("missing", "model.norm.weight", "model.norx.weight");
    snprintf(want, sizeof want, "%s: missing tensor 'language_model.model.norm.weight'", d);
    expect_load_error(d, want);
    d = patched("shape", "k_proj.weight\":{\"dtype\":\"BF16\",\"shape\":[32,64]",
                "k_proj.weight\":{\"dtype\":\"BF16\",\"shape\":[64,32]");
    expect_load_error(d, "tensor 'language_model.model.layers.0.self_attn.k_proj.weight' has "
                         "shape [64, 32], expected [32, 64]");
    d = patched("dtype", "k_proj.weight\":{\"dtype\":\"BF16\"",
                "k_proj.weight\":{\"dtype\":\"I16\"");
    expect_load_error(d, "k_proj.weight' has dtype I16, expected BF16, F16 or F32");
    d = patched("size", "k_proj.weight\":{\"dtype\":\"BF16\"",
                "k_proj.weight\":{\"dtype\":\"F32\"");
    expect_load_error(d,
                      "model.safetensors: tensor 'language_model.model.layers.0.self_attn.k_proj");
    d = patched("json", "{\"__metadata__\"", "{\"__metadata__\"\n:,");
    expect_load_error(d, "model.safetensors (header):2:");

    /* truncated: the last tensor runs past the end */
    d = variant("trunc", true);
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", d);
    CHECK(truncate(path, 400000) == 0);
    expect_load_error(d, "truncated");
    CHECK(truncate(path, 5) == 0);
    expect_load_error(d, "truncated");

    /* config problems */
    d = variant("cfg", true);
    snprintf(path, sizeof path, "%s/config.json", d);
    write_str(path, "{\"architectures\": [\"Llama4ForCausalLM\"], \"hidden_size\": 64, "
                    "\"num_attention_heads\": 4, \"num_key_value_heads\": 2}");
    expect_load_error(d, "embed_tokens.weight' has shape [512, 64], expected [202048, 64]");
    write_str(path, "{\"architectures\": [\"Llama4ForConditionalGeneration\"], \"text_config\": "
                    "{\"hidden_size\": 64, \"num_hidden_layers\": 4, \"vocab_size\": 512, "
                    "\"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"head_dim\": 16, "
                    "\"intermediate_size\": 64, \"num_local_experts\": 5}}");
    expect_load_error(d, "router.weight' has shape [4, 64], expected [5, 64]");
    write_str(path, "{\"architectures\": [\"GPT2LMHeadModel\"]}");
    expect_load_error(d, "unsupported architecture 'GPT2LMHeadModel'");
    remove(path);
    expect_load_error(d, "config.json: cannot open");
}

/* Writes the tensors t[from..to) of `f` as one safetensors file, converting BF16 to `type`. */
static const char *strip_prefix; /* when set, dropped from names (text-only checkpoints) */

static void write_shard(const char *path, const herd_safetensors *f, size_t from, size_t to,
                        herd_type type)
{
    json_t *h = json_object();
    size_t off = 0;
    for (size_t i = from; i < to; i++) {
        const herd_st_tensor *t = herd_safetensors_at(f, i);
        size_t nb = t->type == HERD_TYPE_BF16 && type == HERD_TYPE_F32 ? t->nbytes * 2 : t->nbytes;
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++)
            json_array_append_new(shape, json_integer(t->shape[d]));
        const char *name = t->name;
        if (strip_prefix && strncmp(name, strip_prefix, strlen(strip_prefix)) == 0)
            name += strlen(strip_prefix);
        json_object_set_new(h, name,
                            json_pack("{s:s, s:o, s:[I,I]}", "dtype",
                                      nb != t->nbytes ? "F32" : t->dtype, "shape", shape,
                                      "data_offsets", (json_int_t)off, (json_int_t)(off + nb)));
        off += nb;
    }
    char *text = json_dumps(h, JSON_COMPACT);
    uint64_t hl = strlen(text);
    FILE *o = fopen(path, "wb");
    fwrite(&hl, 8, 1, o);
    fwrite(text, 1, hl, o);
    for (size_t i = from; i < to; i++) {
        const herd_st_tensor *t = herd_safetensors_at(f, i);
        if (t->type == HERD_TYPE_BF16 && type == HERD_TYPE_F32) {
            float *w = malloc((size_t)t->nelems * sizeof(float));
            herd_row_to_f32(HERD_TYPE_BF16, t->data, w, (size_t)t->nelems);
            fwrite(w, sizeof(float), (size_t)t->nelems, o);
            free(w);
        } else {
            fwrite(t->data, 1, t->nbytes, o);
        }
    }
    fclose(o);
    free(text);
    json_decref(h);
}

static float *logits_of(const char *dir, int n)
{
    herd_model_opts o;
    herd_model_opts_default(&o);
    o.quiet = true;
    o.threads = 1;
    herd_model *m = NULL;
    herd_status st = herd_model_load(dir, &o, &m);
    CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
    if (st)
        return NULL;
    int32_t ids[8] = {1, 199, 37, 313, 342, 120, 259, 12};
    float *lg = malloc((size_t)n * 512 * sizeof(float));
    herd_kv_cache *kv;
    CHECK(herd_kv_create(m, n, &kv) == HERD_OK);
    CHECK(herd_model_forward(m, kv, ids, n, lg, true) == HERD_OK);
    herd_kv_free(kv);
    herd_model_free(m);
    return lg;
}

TEST(test_shards_and_f32)
{
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", SRC);
    herd_safetensors *f;
    CHECK(herd_safetensors_open(path, &f) == HERD_OK);
    size_t n = herd_safetensors_count(f), half = n / 2;

    const char *d = variant("sharded", false);
    char shard[600];
    json_t *wm = json_object();
    for (int s = 0; s < 2; s++) {
        char name[64];
        snprintf(name, sizeof name, "model-%05d-of-00002.safetensors", s + 1);
        snprintf(shard, sizeof shard, "%s/%s", d, name);
        write_shard(shard, f, s ? half : 0, s ? n : half, HERD_TYPE_BF16);
        for (size_t i = s ? half : 0; i < (s ? n : half); i++)
            json_object_set_new(wm, herd_safetensors_at(f, i)->name, json_string(name));
    }
    json_t *index = json_pack("{s:{s:i}, s:o}", "metadata", "total_size", 1, "weight_map", wm);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", d);
    json_dump_file(index, path, 0);

    float *ref = logits_of(SRC, 8), *sh = logits_of(d, 8);
    CHECK(ref && sh && memcmp(ref, sh, 8 * 512 * sizeof(float)) == 0);
    free(sh);

    /* an index naming a shard that is not there */
    json_object_set_new(wm, "language_model.model.norm.weight",
                        json_string("model-00003-of-00002.safetensors"));
    json_dump_file(index, path, 0);
    expect_load_error(d, "model-00003-of-00002.safetensors: cannot open");
    json_decref(index);

    /* F32 tensors: the same bf16 values widened, so the same logits */
    d = variant("f32", false);
    snprintf(path, sizeof path, "%s/model.safetensors", d);
    write_shard(path, f, 0, n, HERD_TYPE_F32);
    float *f32 = logits_of(d, 8);
    double diff = 0;
    for (int i = 0; ref && f32 && i < 8 * 512; i++)
        diff = fmax(diff, fabs(ref[i] - f32[i]));
    CHECK_MSG(f32 && diff < 1e-5, "f32 checkpoint differs by %g", diff);
    free(f32);

    /* text-only Llama4ForCausalLM: the text_config at the top level, names without the
     * language_model. prefix (vision tensors dropped by the writer's caller) */
    d = variant("textonly", false);
    snprintf(path, sizeof path, "%s/config.json", SRC);
    json_t *cfg = json_load_file(path, 0, NULL), *tc = json_object_get(cfg, "text_config");
    json_object_set_new(tc, "architectures", json_pack("[s]", "Llama4ForCausalLM"));
    snprintf(path, sizeof path, "%s/config.json", d);
    json_dump_file(tc, path, 0);
    json_decref(cfg);
    size_t first = n, last = 0; /* the language_model.* tensors are one contiguous name range */
    for (size_t i = 0; i < n; i++)
        if (strncmp(herd_safetensors_at(f, i)->name, "language_model.", 15) == 0) {
            first = i < first ? i : first;
            last = i + 1;
        }
    strip_prefix = "language_model.";
    snprintf(path, sizeof path, "%s/model.safetensors", d);
    write_shard(path, f, first, last, HERD_TYPE_BF16);
    strip_prefix = NULL;
    float *txt = logits_of(d, 8);
    CHECK(ref && txt && memcmp(ref, txt, 8 * 512 * sizeof(float)) == 0);
    free(txt);
    free(ref);
    herd_safetensors_close(f);
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "tmp");
    mkdir(tmp, 0755);
    snprintf(tmp, sizeof tmp, "tmp/load_errors.%ld", (long)getpid());
    mkdir(tmp, 0755);
    RUN(test_broken);
    RUN(test_shards_and_f32);
    int rc = harness_finish();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
