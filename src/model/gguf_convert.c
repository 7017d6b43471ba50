/* Converting a Llama 4 checkpoint (HF directory or llama4 GGUF) into a quantized GGUF: the
 * tensor plan, the llama4 metadata, general.* keys (name, file type, license) and the write. */
#include "herd/io_safetensors.h"
#include "herd/model_gguf.h"
#include "herd/quant.h"
#include "herd/vision.h"
#include "model/hf_fp8.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- HF checkpoint input ---- */
static bool st_find(void *ctx, const char *name, herd_src_tensor *out)
{
    const herd_st_tensor *t = herd_st_dir_find(ctx, name);
    if (!t || !(t->has_type || hf_is_fp8(t)) || t->ndim > 4)
        return false;
    *out = (herd_src_tensor){t->type, t->ndim, {0}, t->data, NULL, HERD_TYPE_F32};
    if (hf_is_fp8(t)) { /* checked by hf_fp8_check_all before planning */
        char sname[600];
        snprintf(sname, sizeof sname, "%s_scale", name);
        const herd_st_tensor *s = herd_st_dir_find(ctx, sname);
        if (!s)
            return false;
        out->type = HERD_TYPE_FP8_E4M3;
        out->scale = s->data;
        out->scale_type = s->type;
    }
    for (int i = 0; i < t->ndim; i++)
        out->shape[i] = t->shape[i];
    return true;
}

/* The first `max` bytes of an optional text file: *out NULL if there is no such file; an
 * error if there is one but it cannot be read (a FIFO, a device, no permission). */
static herd_status read_text(const char *path, size_t max, char **out)
{
    *out = NULL;
    if (!herd_path_exists(path))
        return HERD_OK;
    int fd;
    size_t size;
    herd_status st = herd_open_input(path, &fd, &size);
    if (st)
        return st;
    char *buf = malloc(max + 1);
    size_t n = 0;
    ssize_t r = 1;
    while (buf && n < max && (r = read(fd, buf + n, max - n)) > 0)
        n += (size_t)r;
    close(fd);
    if (!buf)
        return herd_fail(HERD_ERR_NOMEM, "%s: out of memory", path);
    if (r < 0) {
        free(buf);
        return herd_fail(HERD_ERR_IO, "%s: read failed: %s", path, strerror(errno));
    }
    buf[n] = 0;
    *out = buf;
    return HERD_OK;
}

/* A `key: value` line of README.md's YAML front matter (HF model cards), copied to out. */
static bool front_matter(const char *text, const char *key, char *out, size_t n)
{
    if (!text || strncmp(text, "---", 3) != 0)
        return false;
    const char *end = strstr(text + 3, "\n---");
    size_t klen = strlen(key);
    for (const char *p = strchr(text, '\n'); p && (!end || p < end); p = strchr(p + 1, '\n')) {
        const char *l = p + 1;
        if (strncmp(l, key, klen) == 0 && l[klen] == ':') {
            l += klen + 1;
            while (*l == ' ' || *l == '"' || *l == '\'')
                l++;
            size_t k = strcspn(l, "\"'\r\n");
            while (k > 0 && l[k - 1] == ' ')
                k--;
            snprintf(out, n, "%.*s", (int)k, l);
            return k > 0;
        }
    }
    return false;
}

/* Copies the checkpoint's license information into general.license*; describes it in `said`. */
static herd_status hf_license(const char *dir, herd_gguf_writer *w, char *said, size_t n)
{
    char path[4200], v[256];
    snprintf(path, sizeof path, "%s/README.md", dir);
    char *readme;
    herd_status st = read_text(path, 1 << 20, &readme);
    said[0] = 0;
    if (!st && front_matter(readme, "license", v, sizeof v))
        st = herd_gguf_set_str(w, "general.license", v);
    if (!st && front_matter(readme, "license_name", v, sizeof v)) {
        st = herd_gguf_set_str(w, "general.license.name", v);
        snprintf(said, n, "license '%s'", v);
    }
    if (!st && front_matter(readme, "license_link", v, sizeof v))
        st = herd_gguf_set_str(w, "general.license.link", v);
    free(readme);
    static const char *const files[] = {"LICENSE", "LICENSE.txt", "LICENSE.md"};
    for (int i = 0; !st && i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        char *text;
        if ((st = read_text(path, 1 << 20, &text)) || !text)
            continue;
        st = herd_gguf_set_str(w, "general.license.text", text);
        free(text);
        size_t k = strlen(said);
        snprintf(said + k, n - k, "%s%s", k ? " and " : "", files[i]);
        break;
    }
    return st;
}

/* The vision tower rides along in llama.cpp's mmproj names and keys (vision.h), so the one file
 * carries images too: matrices in the checkpoint's type, vectors in f32. */
static herd_status plan_vision(const char *dir, herd_st_dir *d, herd_gguf_writer *w,
                               herd_qplan *plan)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    herd_vision_config vc;
    herd_status st = herd_vision_config_load(path, &vc);
    if (st == HERD_ERR_UNSUPPORTED && !strstr(herd_last_error(), "vision_config"))
        return st;
    if (st == HERD_ERR_UNSUPPORTED)
        return HERD_OK; /* a text-only model */
    if (st || (st = herd_vision_gguf_set_meta(w, &vc)))
        return st;
    for (size_t i = 0; i < herd_st_dir_count(d) && !st; i++) {
        const herd_st_tensor *t = herd_st_dir_at(d, i);
        const char *hf = strncmp(t->name, "vision_model.", 13) == 0 ? t->name + 13 : t->name;
        herd_qentry e = {
            .n_dims = t->ndim,
            .ne = {t->ndim ? t->shape[t->ndim - 1] : 0, t->ndim == 2 ? t->shape[0] : 1, 1, 1},
            .layout = HERD_QSRC_ROWS,
            .src_type = t->type,
            .src = t->data};
        if ((hf == t->name && strncmp(hf, "multi_modal_projector.", 22) != 0) ||
            !herd_vision_gguf_name(hf, e.name, sizeof e.name))
            continue;
        if (!t->has_type || t->ndim < 1 || t->ndim > 2)
            return herd_fail(HERD_ERR_UNSUPPORTED, "%s: vision tensor '%s' has dtype %s, %d dims",
                             t->file, t->name, t->dtype, t->ndim);
        e.cls = t->ndim == 1 ? HERD_QC_NORM : HERD_QC_DENSE;
        e.type = t->ndim == 1 ? HERD_TYPE_F32 : t->type;
        st = herd_qplan_add(plan, &e);
    }
    return st;
}

static herd_status plan_hf(const char *dir, const herd_quant_policy *p, herd_type t,
                           bool llama_cpp_only, bool text_only, herd_st_dir **d,
                           herd_llama4_config *cfg, float **rope, herd_gguf_writer *w,
                           herd_qplan *plan)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    herd_status st = herd_llama4_config_load(path, cfg);
    if (!st)
        st = herd_st_dir_open(dir, d);
    hf_fp8 fp8;
    if (!st && !(st = hf_fp8_open(dir, &fp8))) {
        st = hf_fp8_check_all(*d, &fp8); /* every FP8 tensor has a good row scale */
        hf_fp8_close(&fp8);
    }
    int64_t nl = 0;
    if (!st)
        st = herd_llama4_plan_hf(st_find, *d, dir, p, t, plan, &nl);
    if (!st && nl != cfg->n_layers)
        st = herd_fail(HERD_ERR_FORMAT, "%s: config.json says %lld layers, the weights have %lld",
                       dir, (long long)cfg->n_layers, (long long)nl);
    if (!st)
        st = herd_llama4_gguf_set_meta(w, cfg, llama_cpp_only);
    if (!st && (*rope = malloc((size_t)(cfg->head_dim / 2) * sizeof **rope)) &&
        herd_llama4_rope_freqs(cfg, *rope)) {
        herd_qentry e = {.name = "rope_freqs.weight",
                         .cls = HERD_QC_NORM,
                         .type = HERD_TYPE_F32,
                         .n_dims = 1,
                         .ne = {cfg->head_dim / 2, 1, 1, 1},
                         .values = *rope};
        st = herd_qplan_add(plan, &e);
    }
    if (!st && !text_only)
        st = plan_vision(dir, *d, w, plan);
    return st;
}

/* ---- GGUF input: every tensor re-quantized by its class, metadata copied ---- */
static herd_status plan_gguf(const herd_gguf *g, const herd_quant_policy *p, herd_type t,
                             bool llama_cpp_only, herd_gguf_writer *w, herd_qplan *plan)
{
    static const char *const recomputed[] = {
        "general.alignment", "general.file_type", "general.quantization_version", "general.name",
        "split.no",          "split.count",       "split.tensors.count"};
    herd_status st = HERD_OK;
    for (size_t i = 0; i < g->n_kv && !st; i++) {
        bool skip = false;
        for (int k = 0; k < 7; k++)
            skip |= strcmp(g->kv[i].key, recomputed[k]) == 0;
        skip |= llama_cpp_only && (strncmp(g->kv[i].key, "herd.", 5) == 0 ||
                                   strcmp(g->kv[i].key, "llama4.attention.chunk_size") == 0 ||
                                   strcmp(g->kv[i].key, "llama4.use_qk_norm") == 0);
        if (!skip)
            st = herd_gguf_set_kv(w, &g->kv[i]);
    }
    for (size_t i = 0; i < g->n_tensors && !st; i++) {
        const herd_gguf_tensor *s = &g->tensors[i];
        if (s->type == HERD_TYPE_COUNT)
            return herd_fail(HERD_ERR_UNSUPPORTED,
                             "%s: tensor '%s' has type %s, which herd cannot read", g->file.path,
                             s->name, herd_gguf_type_id_name(s->type_id));
        herd_qclass c = herd_llama4_gguf_class(s->name);
        herd_qentry e = {.cls = c,
                         .n_dims = s->n_dims,
                         .ne = {s->ne[0], s->ne[1], s->ne[2], s->ne[3]},
                         .layout = HERD_QSRC_ROWS,
                         .src_type = s->type,
                         .src = s->data};
        snprintf(e.name, sizeof e.name, "%s", s->name);
        e.type = c == HERD_QC_COUNT ? s->type : herd_quant_policy_type(p, c, t, s->ne[0]);
        st = herd_qplan_add(plan, &e);
    }
    return st;
}

/* general.file_type (llama_ftype) when the file is one of llama.cpp's recipes, else -1. */
static int ftype_of(const herd_qplan *plan)
{
    herd_type main_t = HERD_TYPE_COUNT, exp_t = HERD_TYPE_COUNT;
    for (size_t i = 0; i < plan->n; i++) {
        const herd_qentry *e = &plan->e[i];
        if (e->cls == HERD_QC_EXPERTS)
            exp_t = e->type;
        else if (e->cls == HERD_QC_ATTN)
            main_t = e->type;
    }
    if (exp_t == HERD_TYPE_MXFP4 && main_t != HERD_TYPE_MXFP4)
        return 38; /* MXFP4_MOE */
    switch (exp_t != HERD_TYPE_COUNT ? exp_t : main_t) {
    case HERD_TYPE_F32: return 0;
    case HERD_TYPE_F16: return 1;
    case HERD_TYPE_Q4_0: return 2;
    case HERD_TYPE_Q8_0: return 7;
    case HERD_TYPE_BF16: return 32;
    default: return -1;
    }
}

static void default_name(const char *in, const char *suffix, char *out, size_t n)
{
    char base[256];
    size_t len = strlen(in);
    while (len > 1 && in[len - 1] == '/')
        len--;
    const char *b = in + len;
    while (b > in && b[-1] != '/')
        b--;
    snprintf(base, sizeof base, "%.*s", (int)(in + len - b), b);
    char *dot = strstr(base, ".gguf");
    if (dot)
        *dot = 0;
    if ((size_t)snprintf(out, n, "%s%s-%s", strncmp(base, "Llama", 5) == 0 ? "" : "Llama-4-", base,
                         suffix) >= n)
        out[n - 1] = 0; /* a long name is cut, still beginning with "Llama" */
}

static double total_elems(const herd_qplan *p)
{
    double t = 0;
    for (size_t i = 0; i < p->n; i++)
        t += (double)p->e[i].ne[0] * (double)(p->e[i].ne[1] * p->e[i].ne[2] * p->e[i].ne[3]);
    return t;
}

herd_status herd_quantize_model(const char *in, const char *out, const herd_quantize_opts *o,
                                herd_quantize_report *rep)
{
    memset(rep, 0, sizeof *rep);
    bool open_slot = false;
    for (int c = 0; c < HERD_QC_COUNT; c++)
        open_slot |= o->policy.type[c] == HERD_TYPE_COUNT;
    herd_type t = o->type;
    if (open_slot && !herd_type_get(t))
        return herd_fail(HERD_ERR_ARG, "policy '%s' needs a type", o->policy.name);
    if (o->name && strncmp(o->name, "Llama", 5) != 0)
        return herd_fail(HERD_ERR_ARG, "the model name '%s' must begin with \"Llama\"", o->name);

    struct stat in_st;
    if (stat(in, &in_st) == 0 && !S_ISDIR(in_st.st_mode)) { /* a FIFO, a device: say which */
        int fd;
        size_t size;
        herd_status ist = herd_open_input(in, &fd, &size);
        if (ist)
            return ist;
        close(fd);
    }
    herd_gguf_writer *w = NULL;
    herd_qplan plan = {0};
    herd_gguf_split gin = {0};
    herd_st_dir *dir = NULL;
    herd_llama4_config cfg = {0};
    float *rope = NULL;
    bool from_gguf = herd_is_gguf_file(in);
    herd_status st = herd_gguf_writer_create(&w);
    if (st)
        return st;
    if (from_gguf) {
        st = herd_gguf_open_split(in, &gin);
        if (!st) /* a Llama 4 model only (architecture and hyperparameters), not any GGUF */
            st = herd_llama4_config_from_gguf(&gin.merged, &cfg);
        if (!st)
            st = plan_gguf(&gin.merged, &o->policy, t, o->llama_cpp_only, w, &plan);
        if (!st && herd_gguf_find_kv(&gin.merged, "general.license"))
            snprintf(rep->license, sizeof rep->license, "general.license*");
    } else {
        st = plan_hf(in, &o->policy, t, o->llama_cpp_only, o->text_only, &dir, &cfg, &rope, w,
                     &plan);
        if (!st)
            st = hf_license(in, w, rep->license, sizeof rep->license);
        char tj[4200];
        snprintf(tj, sizeof tj, "%s/tokenizer.json", in);
        const char *tok = o->tokenizer ? o->tokenizer : herd_path_exists(tj) ? tj : NULL;
        if (!st && tok)
            st = herd_gguf_set_tokenizer(w, tok, cfg.vocab);
    }
    if (!st)
        rep->llamacpp_gaps =
            herd_llama4_llamacpp_gaps(&cfg, rep->llamacpp_gap, sizeof rep->llamacpp_gap);
    const int recipe = o->recipe ? herd_quant_recipe_parse(o->recipe) : -1;
    if (!st && o->recipe && recipe < 0)
        st = herd_fail(HERD_ERR_ARG, "'%s' is not one of llama.cpp's recipes", o->recipe);
    const herd_recipe_model rm = {cfg.n_layers, cfg.n_kv_heads ? cfg.n_heads / cfg.n_kv_heads : 1,
                                  cfg.n_experts};
    for (size_t i = 0; !st && recipe >= 0 && i < plan.n; i++)
        plan.e[i].type =
            herd_quant_recipe_type(recipe, plan.e[i].name, &rm, plan.e[i].type, plan.e[i].ne[0]);
    char suffix[48];
    if (recipe >= 0)
        snprintf(suffix, sizeof suffix, "%s", herd_quant_recipe_name(recipe));
    else if (!open_slot)
        snprintf(suffix, sizeof suffix, "%s", o->policy.name);
    else if (strcmp(o->policy.name, "uniform") == 0)
        snprintf(suffix, sizeof suffix, "%s", herd_type_name(t));
    else
        snprintf(suffix, sizeof suffix, "%s-%s", o->policy.name, herd_type_name(t));
    for (char *p = suffix; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    if (o->name)
        snprintf(rep->name, sizeof rep->name, "%s", o->name);
    else
        default_name(in, suffix, rep->name, sizeof rep->name);
    int ft = recipe >= 0 ? herd_quant_recipe_ftype(recipe) : ftype_of(&plan);
    if (!st)
        st = herd_gguf_set_str(w, "general.name", rep->name);
    if (!st && ft >= 0)
        st = herd_gguf_set_u32(w, "general.file_type", (uint32_t)ft);
    if (!st)
        st = herd_gguf_set_u32(w, "general.quantization_version", 2);
    /* the GGUF default, not 64: llama-quantize copies this key but lays tensors out at 32,
     * so any other value makes the files it writes from ours unreadable (to llama.cpp too) */
    if (!st)
        st = herd_gguf_set_u32(w, "general.alignment", 32);
    if (!st)
        st = herd_gguf_set_str(w, "general.quantized_by", "herd " HERD_VERSION);

    struct stat sb;
    if (stat(out, &sb) == 0 && S_ISDIR(sb.st_mode))
        snprintf(rep->path, sizeof rep->path, "%s/%s.gguf", out, rep->name);
    else
        snprintf(rep->path, sizeof rep->path, "%s", out);
    if (!st) {
        double t0 = herd_now();
        if (o->active)
            *o->active = w;
        herd_gguf_writer_finish_only(w, o->finished);
        st = herd_quantize_write(&plan, w, rep->path, o->pool, o->progress);
        if (o->active)
            *o->active = NULL;
        rep->seconds = herd_now() - t0;
        rep->tensors = plan.n;
        rep->bytes = herd_qplan_bytes(&plan);
        rep->bits_per_weight = 8 * (double)rep->bytes / total_elems(&plan);
    }
    herd_gguf_writer_free(w);
    herd_qplan_free(&plan);
    free(rope);
    if (from_gguf)
        herd_gguf_close_split(&gin);
    herd_st_dir_close(dir);
    herd_llama4_config_free(&cfg);
    return st;
}
