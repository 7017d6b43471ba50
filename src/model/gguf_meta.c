/* Llama 4 config <-> GGUF metadata. llama.cpp's llama4 keys carry the sizes; what llama.cpp
 * hard-codes (NoPE pattern, chunk size, temperature tuning, RoPE scaling parameters) or stores
 * only as f32 (eps, theta) also goes to herd.llama4.* keys, so a herd file reproduces the
 * checkpoint's forward pass exactly. Files without herd keys (llama.cpp's own) are read with
 * llama.cpp's rules (spec formats.md §4). */
#include "herd/model_gguf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRY(x)                                                                                     \
    do {                                                                                           \
        herd_status st_ = (x);                                                                     \
        if (st_)                                                                                   \
            return st_;                                                                            \
    } while (0)

static herd_status set_u32(herd_gguf_writer *w, const char *key, int64_t v)
{
    return herd_gguf_set_u32(w, key, v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v);
}

static herd_status set_f64(herd_gguf_writer *w, const char *key, double v)
{
    return herd_gguf_set(w, key, HERD_GGUF_FLOAT64, &v);
}

/* interleave_moe_layer_step if layer_moe follows one, else 0. */
static int64_t moe_step(const herd_llama4_config *c)
{
    for (int64_t s = 1; s <= c->n_layers; s++) {
        bool ok = true;
        for (int64_t i = 0; ok && i < c->n_layers; i++)
            ok = c->layer_moe[i] == ((i + 1) % s == 0);
        if (ok)
            return s;
    }
    return 0;
}

bool herd_llama4_rope_freqs(const herd_llama4_config *c, float *out)
{
    const herd_rope_scaling *sc = &c->rope_scaling;
    if (!sc->llama3)
        return false;
    double n0 = sc->original_max_pos, lo = sc->low_freq_factor, hi = sc->high_freq_factor;
    for (int64_t i = 0; i < c->head_dim / 2; i++) {
        double f = 1.0 / pow(c->rope_theta, (double)(2 * i) / (double)c->head_dim);
        double wl = 2 * M_PI / f, d = 1.0;
        if (wl > n0 / lo)
            d = sc->factor;
        else if (wl >= n0 / hi && hi != lo) {
            double s = (n0 / wl - lo) / (hi - lo);
            d = 1.0 / ((1 - s) / sc->factor + s);
        }
        out[i] = (float)d;
    }
    return true;
}

/* llama.cpp's sliding_window_pattern P marks layer i chunked when i % P < P - 1: the smallest P
 * that gives c's chunked (RoPE) layers, or 0 if none does. */
static int64_t chunk_pattern(const herd_llama4_config *c)
{
    for (int64_t p = 1; p <= c->n_layers + 1; p++) {
        bool ok = true;
        for (int64_t i = 0; ok && i < c->n_layers; i++)
            ok = c->layer_rope[i] == (i % p < p - 1);
        if (ok)
            return p;
    }
    return 0;
}

/* Appends "; "-separated text to buf (truncating, always terminated). */
static void add_gap(char *buf, size_t n, int *count, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add_gap(char *buf, size_t n, int *count, const char *fmt, ...)
{
    size_t used = n ? strlen(buf) : 0;
    if (used + 3 < n) {
        if (*count)
            used += (size_t)snprintf(buf + used, n - used, "; ");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf + used, n - used, fmt, ap);
        va_end(ap);
    }
    (*count)++;
}

int herd_llama4_llamacpp_gaps(const herd_llama4_config *c, char *buf, size_t n)
{
    /* What llama.cpp v0.4.0 does with a llama4 file (src/models/llama4.cpp): unless
     * sliding_window is 0, chunk 8192 on the layers sliding_window_pattern names, NoPE on every
     * 4th layer, temperature tuning with floor 8192 and scale 0.1 on those; QK norm unless 128
     * experts; MoE on every interleave_moe_layer_step-th layer; at least one expert. */
    int count = 0;
    if (n)
        buf[0] = 0;
    if (c->n_experts < 1)
        add_gap(buf, n, &count, "no experts (llama.cpp refuses llama4 without experts)");
    bool nope4 = true;
    for (int64_t i = 0; i < c->n_layers; i++)
        nope4 &= c->layer_rope[i] == ((i + 1) % 4 != 0);
    if (c->chunk == 0) {
        add_gap(buf, n, &count,
                "no chunked attention (llama.cpp reads sliding_window 0 as MobileLLM's layout)");
    } else {
        if (c->chunk != 8192)
            add_gap(buf, n, &count, "attention chunk %lld (llama.cpp: always 8192)",
                    (long long)c->chunk);
        if (!nope4)
            add_gap(buf, n, &count, "NoPE layers not every 4th (llama.cpp: always every 4th)");
        if (!c->temp_tuning)
            add_gap(buf, n, &count, "no temperature tuning (llama.cpp: always on NoPE layers)");
        else if (c->floor_scale != 8192 || (float)c->attn_scale != 0.1f)
            add_gap(buf, n, &count,
                    "temperature tuning floor %g scale %g (llama.cpp: always 8192 and 0.1)",
                    c->floor_scale, c->attn_scale);
    }
    if (c->use_qk_norm != (c->n_experts != 128))
        add_gap(buf, n, &count, "QK norm %s (llama.cpp: %s with %lld experts)",
                c->use_qk_norm ? "on" : "off", c->n_experts != 128 ? "on" : "off",
                (long long)c->n_experts);
    if (c->n_experts > 0 && moe_step(c) == 0)
        add_gap(buf, n, &count, "MoE layers follow no interleave step");
    if (c->attn_bias)
        add_gap(buf, n, &count, "attention bias (llama.cpp's llama4 has none)");
    return count;
}

herd_status herd_llama4_gguf_set_meta(herd_gguf_writer *w, const herd_llama4_config *c,
                                      bool llama_cpp_only)
{
    int64_t L = c->n_layers, step = moe_step(c), pattern = chunk_pattern(c);
    TRY(herd_gguf_set_str(w, "general.architecture", "llama4"));
    TRY(set_u32(w, "llama4.context_length", c->max_pos));
    TRY(set_u32(w, "llama4.embedding_length", c->hidden));
    TRY(set_u32(w, "llama4.block_count", L));
    TRY(set_u32(w, "llama4.feed_forward_length", c->inter_mlp));
    TRY(set_u32(w, "llama4.expert_feed_forward_length", c->inter));
    TRY(set_u32(w, "llama4.expert_count", c->n_experts));
    TRY(set_u32(w, "llama4.expert_used_count", c->top_k));
    TRY(set_u32(w, "llama4.interleave_moe_layer_step", step ? step : 1));
    TRY(set_u32(w, "llama4.attention.head_count", c->n_heads));
    TRY(set_u32(w, "llama4.attention.head_count_kv", c->n_kv_heads));
    TRY(set_u32(w, "llama4.attention.key_length", c->head_dim));
    TRY(set_u32(w, "llama4.attention.value_length", c->head_dim));
    TRY(set_u32(w, "llama4.rope.dimension_count", c->head_dim));
    TRY(herd_gguf_set_f32(w, "llama4.rope.freq_base", (float)c->rope_theta));
    TRY(herd_gguf_set_f32(w, "llama4.attention.layer_norm_rms_epsilon", (float)c->eps));
    TRY(set_u32(w, "llama4.vocab_size", c->vocab));
    /* the standard chunked-attention keys: llama.cpp reads the pattern (which layers are
     * chunked) and 0 (none); it fixes the size at 8192, other readers take the value */
    TRY(set_u32(w, "llama4.attention.sliding_window", c->chunk));
    if (c->chunk > 0 && pattern > 0)
        TRY(set_u32(w, "llama4.attention.sliding_window_pattern", pattern));
    if (c->bos >= 0)
        TRY(set_u32(w, "tokenizer.ggml.bos_token_id", c->bos));
    if (c->n_eos > 0) /* llama.cpp's one eos: the last of HF's list (<|eot|> when instruct) */
        TRY(set_u32(w, "tokenizer.ggml.eos_token_id", c->eos[c->n_eos - 1]));
    if (llama_cpp_only)
        return HERD_OK;
    /* ollama's keys, which herd reads too */
    TRY(set_u32(w, "llama4.attention.chunk_size", c->chunk));
    TRY(herd_gguf_set_bool(w, "llama4.use_qk_norm", c->use_qk_norm));
    /* exact values and what llama.cpp hard-codes */
    uint8_t *rope = malloc((size_t)L), *moe = malloc((size_t)L);
    if (!rope || !moe) {
        free(rope);
        free(moe);
        return herd_fail(HERD_ERR_NOMEM, "out of memory");
    }
    for (int64_t i = 0; i < L; i++) {
        rope[i] = c->layer_rope[i];
        moe[i] = c->layer_moe[i];
    }
    herd_status st =
        herd_gguf_set_arr(w, "herd.llama4.layer_rope", HERD_GGUF_UINT8, rope, (size_t)L);
    if (!st)
        st = herd_gguf_set_arr(w, "herd.llama4.layer_moe", HERD_GGUF_UINT8, moe, (size_t)L);
    free(rope);
    free(moe);
    TRY(st);
    TRY(set_f64(w, "herd.llama4.rms_norm_eps", c->eps));
    TRY(set_f64(w, "herd.llama4.rope_theta", c->rope_theta));
    TRY(herd_gguf_set_bool(w, "herd.llama4.attn_temperature_tuning", c->temp_tuning));
    TRY(set_f64(w, "herd.llama4.floor_scale", c->floor_scale));
    TRY(set_f64(w, "herd.llama4.attn_scale", c->attn_scale));
    TRY(herd_gguf_set_bool(w, "herd.llama4.attention_bias", c->attn_bias));
    if (c->rope_scaling.llama3) {
        double r[4] = {c->rope_scaling.factor, c->rope_scaling.low_freq_factor,
                       c->rope_scaling.high_freq_factor, c->rope_scaling.original_max_pos};
        TRY(herd_gguf_set_arr(w, "herd.llama4.rope_scaling_llama3", HERD_GGUF_FLOAT64, r, 4));
    }
    if (c->n_eos > 0)
        TRY(herd_gguf_set_arr(w, "herd.llama4.eos_token_ids", HERD_GGUF_INT64, c->eos,
                              (size_t)c->n_eos));
    return HERD_OK;
}

/* ---- reading ---------------------------------------------------------------------------- */

static herd_status get_int(const herd_gguf *g, const char *key, int64_t def, int64_t max,
                           int64_t *out)
{
    const herd_gguf_kv *kv = herd_gguf_find_kv(g, key);
    if (!kv) {
        if (def < 0)
            return herd_fail(HERD_ERR_FORMAT, "%s: GGUF key '%s' is missing", g->file.path, key);
        *out = def;
        return HERD_OK;
    }
    TRY(herd_gguf_get_int(g, key, out));
    if (*out < 0 || *out > max)
        return herd_fail(HERD_ERR_FORMAT, "%s: GGUF key '%s' = %lld is out of range 0..%lld",
                         g->file.path, key, (long long)*out, (long long)max);
    return HERD_OK;
}

static herd_status get_real(const herd_gguf *g, const char *exact, const char *key, double def,
                            double *out)
{
    *out = def;
    if (exact && herd_gguf_find_kv(g, exact))
        return herd_gguf_get_float(g, exact, out);
    if (herd_gguf_find_kv(g, key))
        return herd_gguf_get_float(g, key, out);
    return HERD_OK;
}

static herd_status get_flag(const herd_gguf *g, const char *key, bool def, bool *out)
{
    *out = def;
    return herd_gguf_find_kv(g, key) ? herd_gguf_get_bool(g, key, out) : HERD_OK;
}

/* A per-layer u8/bool array of herd's, if present and of the right length. */
static herd_status layer_list(const herd_gguf *g, const char *key, bool *dst, int64_t L,
                              bool *found)
{
    const herd_gguf_kv *kv = herd_gguf_find_kv(g, key);
    *found = kv != NULL;
    if (!kv)
        return HERD_OK;
    if (kv->type != HERD_GGUF_ARRAY || kv->count != (uint64_t)L)
        return herd_fail(HERD_ERR_FORMAT, "%s: GGUF key '%s' should list %lld layers", g->file.path,
                         key, (long long)L);
    for (int64_t i = 0; i < L; i++) {
        int64_t v;
        if (!herd_gguf_arr_int(kv, (uint64_t)i, &v))
            return herd_fail(HERD_ERR_FORMAT, "%s: GGUF key '%s' should hold integers",
                             g->file.path, key);
        dst[i] = v != 0;
    }
    return HERD_OK;
}

/* llama.cpp-made files carry the Llama-3 RoPE scaling only as rope_freqs divisors. Recognize the
 * published Scout settings by recomputing them. */
static herd_status rope_from_freqs(const herd_gguf *g, herd_llama4_config *c)
{
    const herd_gguf_tensor *t = herd_gguf_find_tensor(g, "rope_freqs.weight");
    if (!t)
        return HERD_OK;
    if (t->type != HERD_TYPE_F32 || t->ne[0] != c->head_dim / 2 || t->n_dims != 1)
        return herd_fail(HERD_ERR_FORMAT, "%s: rope_freqs.weight should be f32 [%lld]",
                         g->file.path, (long long)c->head_dim / 2);
    const float *d = t->data;
    float mx = 0;
    for (int64_t i = 0; i < c->head_dim / 2; i++)
        mx = d[i] > mx ? d[i] : mx;
    static const double cand[][3] = {{1, 1, 8192}, {1, 4, 8192}, {1, 1, 64}, {1, 4, 64}};
    float *tmp = malloc((size_t)(c->head_dim / 2) * sizeof *tmp);
    if (!tmp)
        return herd_fail(HERD_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < sizeof cand / sizeof cand[0]; k++) {
        c->rope_scaling = (herd_rope_scaling){true, mx, cand[k][0], cand[k][1], cand[k][2]};
        herd_llama4_rope_freqs(c, tmp);
        bool same = true;
        for (int64_t i = 0; same && i < c->head_dim / 2; i++)
            same = fabsf(tmp[i] - d[i]) <= 1e-6f * d[i];
        if (same) {
            free(tmp);
            return HERD_OK;
        }
    }
    free(tmp);
    memset(&c->rope_scaling, 0, sizeof c->rope_scaling);
    return herd_fail(HERD_ERR_UNSUPPORTED,
                     "%s: rope_freqs.weight does not match a Llama-3 RoPE scaling herd knows",
                     g->file.path);
}

static herd_status read_config(const herd_gguf *g, herd_llama4_config *c)
{
    const char *arch;
    size_t alen;
    TRY(herd_gguf_get_str(g, "general.architecture", &arch, &alen));
    if (alen != 6 || memcmp(arch, "llama4", 6) != 0)
        return herd_fail(HERD_ERR_UNSUPPORTED, "%s: architecture '%.*s' is not llama4",
                         g->file.path, (int)(alen < 64 ? alen : 64), arch);
    snprintf(c->architecture, sizeof c->architecture, "Llama4ForCausalLM");
    const int64_t big = (int64_t)1 << 24;
    TRY(get_int(g, "llama4.embedding_length", -1, big, &c->hidden));
    TRY(get_int(g, "llama4.block_count", -1, 4096, &c->n_layers));
    TRY(get_int(g, "llama4.attention.head_count", -1, 4096, &c->n_heads));
    TRY(get_int(g, "llama4.attention.head_count_kv", c->n_heads, 4096, &c->n_kv_heads));
    TRY(get_int(g, "llama4.attention.key_length", c->n_heads ? c->hidden / c->n_heads : 0, 65536,
                &c->head_dim));
    TRY(get_int(g, "llama4.feed_forward_length", 0, big, &c->inter_mlp));
    TRY(get_int(g, "llama4.expert_feed_forward_length", c->inter_mlp, big, &c->inter));
    TRY(get_int(g, "llama4.expert_count", 0, 65536, &c->n_experts));
    TRY(get_int(g, "llama4.expert_used_count", 1, 65536, &c->top_k));
    const herd_gguf_tensor *emb = herd_gguf_find_tensor(g, "token_embd.weight");
    TRY(get_int(g, "llama4.vocab_size", emb ? emb->ne[1] : 0, (int64_t)1 << 31, &c->vocab));
    TRY(get_int(g, "llama4.context_length", 8192, (int64_t)1 << 40, &c->max_pos));
    TRY(get_real(g, "herd.llama4.rms_norm_eps", "llama4.attention.layer_norm_rms_epsilon", 1e-5,
                 &c->eps));
    TRY(get_real(g, "herd.llama4.rope_theta", "llama4.rope.freq_base", 500000.0, &c->rope_theta));
    TRY(get_real(g, NULL, "herd.llama4.floor_scale", 8192, &c->floor_scale));
    TRY(get_real(g, NULL, "herd.llama4.attn_scale", 0.1, &c->attn_scale));
    TRY(get_flag(g, "herd.llama4.attn_temperature_tuning", true, &c->temp_tuning));
    TRY(get_flag(g, "herd.llama4.attention_bias", false, &c->attn_bias));
    TRY(get_flag(g, "llama4.use_qk_norm", c->n_experts != 128, &c->use_qk_norm));
    c->tie_embeddings = herd_gguf_find_tensor(g, "output.weight") == NULL;
    if (c->hidden < 1 || c->n_layers < 1 || c->n_heads < 1 || c->n_kv_heads < 1 ||
        c->head_dim < 2 || c->head_dim % 2 || c->n_heads % c->n_kv_heads || c->vocab < 1 ||
        !(c->eps > 0) || !(c->rope_theta > 0))
        return herd_fail(HERD_ERR_FORMAT, "%s: inconsistent llama4 sizes in the GGUF metadata",
                         g->file.path);

    /* chunked attention: llama.cpp's sliding_window = 0 means "none, RoPE everywhere" */
    int64_t sw = -1, step;
    if (herd_gguf_find_kv(g, "llama4.attention.sliding_window"))
        TRY(get_int(g, "llama4.attention.sliding_window", 0, (int64_t)1 << 40, &sw));
    TRY(get_int(g, "llama4.attention.chunk_size", sw == 0 ? 0 : 8192, (int64_t)1 << 40, &c->chunk));
    TRY(get_int(g, "llama4.interleave_moe_layer_step", 1, 4096, &step));
    c->layer_rope = herd_calloc((size_t)c->n_layers * sizeof(bool), "config");
    c->layer_moe = herd_calloc((size_t)c->n_layers * sizeof(bool), "config");
    if (!c->layer_rope || !c->layer_moe)
        return HERD_ERR_NOMEM;
    bool found;
    TRY(layer_list(g, "herd.llama4.layer_rope", c->layer_rope, c->n_layers, &found));
    for (int64_t i = 0; !found && i < c->n_layers; i++)
        c->layer_rope[i] = sw == 0 || (i + 1) % 4 != 0;
    if (!found && c->chunk > 0 && herd_gguf_find_kv(g, "llama4.attention.sliding_window_pattern")) {
        /* llama.cpp chunks the layers the pattern names, independently of NoPE; herd chunks the
         * RoPE layers. The two agree up to position `chunk`, so say where they part. */
        int64_t p;
        TRY(get_int(g, "llama4.attention.sliding_window_pattern", 4, 4096, &p));
        bool same = true;
        for (int64_t i = 0; i < c->n_layers; i++)
            same &= c->layer_rope[i] == (p == 0 || i % p < p - 1);
        if (!same)
            herd_log(HERD_LOG_WARN,
                     "warning: %s: sliding_window_pattern %lld chunks other layers than the RoPE "
                     "ones, which herd chunks; results differ from llama.cpp's past position %lld",
                     g->file.path, (long long)p, (long long)c->chunk);
    }
    TRY(layer_list(g, "herd.llama4.layer_moe", c->layer_moe, c->n_layers, &found));
    for (int64_t i = 0; !found && i < c->n_layers; i++)
        c->layer_moe[i] = step > 0 && (i + 1) % step == 0 && c->n_experts > 0;

    const herd_gguf_kv *rs = herd_gguf_find_kv(g, "herd.llama4.rope_scaling_llama3");
    if (rs) {
        double v[4];
        for (int i = 0; i < 4; i++)
            if (rs->count != 4 || !herd_gguf_arr_float(rs, (uint64_t)i, &v[i]))
                return herd_fail(HERD_ERR_FORMAT,
                                 "%s: herd.llama4.rope_scaling_llama3 should hold 4 numbers",
                                 g->file.path);
        c->rope_scaling = (herd_rope_scaling){true, v[0], v[1], v[2], v[3]};
    } else {
        TRY(rope_from_freqs(g, c));
    }

    c->bos = -1;
    if (herd_gguf_find_kv(g, "tokenizer.ggml.bos_token_id"))
        TRY(get_int(g, "tokenizer.ggml.bos_token_id", 0, (int64_t)1 << 31, &c->bos));
    const herd_gguf_kv *eos = herd_gguf_find_kv(g, "herd.llama4.eos_token_ids");
    c->n_eos = 0;
    for (uint64_t i = 0; eos && i < eos->count && c->n_eos < HERD_MAX_EOS; i++)
        if (herd_gguf_arr_int(eos, i, &c->eos[c->n_eos]))
            c->n_eos++;
    static const char *const stop_keys[] = {"tokenizer.ggml.eos_token_id",
                                            "tokenizer.ggml.eot_token_id",
                                            "tokenizer.ggml.eom_token_id"};
    for (int k = 0; !eos && k < 3; k++) {
        int64_t id;
        if (herd_gguf_find_kv(g, stop_keys[k]) && herd_gguf_get_int(g, stop_keys[k], &id) == 0)
            c->eos[c->n_eos++] = id;
    }
    return herd_llama4_config_check(g->file.path, c);
}

herd_status herd_llama4_config_from_gguf(const herd_gguf *g, herd_llama4_config *out)
{
    memset(out, 0, sizeof *out);
    out->bos = -1;
    herd_status st = read_config(g, out);
    if (st)
        herd_llama4_config_free(out);
    return st;
}
