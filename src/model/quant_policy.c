/* Quantization policies: which type each class of Llama 4 tensor gets. Built-in ones by name,
 * or a small text file of `class = type` lines. Norms always stay F32 (they are tiny and the
 * forward pass reads them as f32); the router defaults to F32 because top-1 routing flips on
 * small errors, and a flipped expert costs far more than the bytes saved. */
#include "herd/quant.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>

static const char *const class_names[HERD_QC_COUNT] = {
    [HERD_QC_EMBED] = "embeddings", [HERD_QC_OUTPUT] = "output", [HERD_QC_ATTN] = "attention",
    [HERD_QC_EXPERTS] = "experts",  [HERD_QC_SHARED] = "shared", [HERD_QC_DENSE] = "dense",
    [HERD_QC_ROUTER] = "router",    [HERD_QC_NORM] = "norms",
};

const char *herd_qclass_name(herd_qclass c)
{
    return (unsigned)c < HERD_QC_COUNT ? class_names[c] : "?";
}

#define T_ HERD_TYPE_COUNT /* the command line's --type */
typedef struct builtin {
    const char *name, *about;
    herd_type type[HERD_QC_COUNT]; /* in herd_qclass order */
} builtin;

/* order: embeddings, output, attention, experts, shared, dense, router, norms */
static const builtin builtins[] = {
    {"uniform",
     "every matrix in --type (router and norms F32): the MX paper's direct cast",
     {T_, T_, T_, T_, T_, T_, HERD_TYPE_F32, HERD_TYPE_F32}},
    {"experts",
     "routed experts in --type, everything else BF16 (the experts are ~95% of Scout's bytes)",
     {HERD_TYPE_BF16, HERD_TYPE_BF16, HERD_TYPE_BF16, T_, HERD_TYPE_BF16, HERD_TYPE_BF16,
      HERD_TYPE_F32, HERD_TYPE_F32}},
    {"mx-moe",
     "experts MXFP4, shared expert and attention MXFP8 E4M3, embeddings and head Q8_0",
     {HERD_TYPE_Q8_0, HERD_TYPE_Q8_0, HERD_TYPE_MXFP8_E4M3, HERD_TYPE_MXFP4, HERD_TYPE_MXFP8_E4M3,
      HERD_TYPE_MXFP8_E4M3, HERD_TYPE_F32, HERD_TYPE_F32}},
    {"mx-moe6",
     "experts MXFP6 E3M2, the rest MXINT8, head Q8_0 (higher accuracy, ~6.5 bits/weight)",
     {HERD_TYPE_MXINT8, HERD_TYPE_Q8_0, HERD_TYPE_MXINT8, HERD_TYPE_MXFP6_E3M2, HERD_TYPE_MXINT8,
      HERD_TYPE_MXINT8, HERD_TYPE_F32, HERD_TYPE_F32}},
    {"ggml-moe",
     "experts MXFP4, everything else Q8_0: only ggml types, so llama.cpp loads it",
     {HERD_TYPE_Q8_0, HERD_TYPE_Q8_0, HERD_TYPE_Q8_0, HERD_TYPE_MXFP4, HERD_TYPE_Q8_0,
      HERD_TYPE_Q8_0, HERD_TYPE_F32, HERD_TYPE_F32}},
};
enum { NBUILTINS = sizeof builtins / sizeof builtins[0] };

const char *const *herd_quant_policy_names(void)
{
    static const char *names[NBUILTINS + 1];
    for (int i = 0; i < NBUILTINS; i++)
        names[i] = builtins[i].name;
    names[NBUILTINS] = NULL;
    return names;
}

const char *herd_quant_policy_describe(const char *name)
{
    for (int i = 0; i < NBUILTINS; i++)
        if (strcmp(builtins[i].name, name) == 0)
            return builtins[i].about;
    return NULL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

static herd_status parse_file(const char *path, herd_quant_policy *p)
{
    if (!herd_path_exists(path))
        return herd_fail(HERD_ERR_ARG, "policy '%s' is neither a built-in policy nor a file", path);
    int fd;
    size_t size;
    herd_status ost = herd_open_input(path, &fd, &size);
    if (ost)
        return ost;
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        return herd_fail(HERD_ERR_NOMEM, "%s: cannot open: out of memory", path);
    }
    for (int c = 0; c < HERD_QC_COUNT; c++)
        p->type[c] = T_;
    p->type[HERD_QC_ROUTER] = HERD_TYPE_F32;
    p->type[HERD_QC_NORM] = HERD_TYPE_F32;
    char line[256];
    int lineno = 0;
    herd_status st = HERD_OK;
    while (st == HERD_OK && fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *s = trim(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            st = herd_fail(HERD_ERR_FORMAT, "%s:%d: expected 'class = type'", path, lineno);
            break;
        }
        *eq = 0;
        char *key = trim(s), *val = trim(eq + 1);
        herd_type t;
        if (!herd_type_parse(val, &t)) {
            st = herd_fail(HERD_ERR_FORMAT, "%s:%d: unknown type '%s' (valid: %s)", path, lineno,
                           val, herd_type_names());
            break;
        }
        if (!herd_type_can_quantize(t)) {
            st = herd_fail(HERD_ERR_FORMAT,
                           "%s:%d: herd cannot write type '%s' (it computes "
                           "with files that hold it)",
                           path, lineno, val);
            break;
        }
        int c = -1;
        for (int k = 0; k < HERD_QC_COUNT; k++)
            if (strcmp(key, class_names[k]) == 0)
                c = k;
        if (strcmp(key, "default") == 0) {
            for (int k = 0; k < HERD_QC_COUNT; k++)
                if (k != HERD_QC_NORM && k != HERD_QC_ROUTER && p->type[k] == T_)
                    p->type[k] = t;
        } else if (c < 0) {
            st = herd_fail(HERD_ERR_FORMAT,
                           "%s:%d: unknown class '%s' (embeddings, output, attention, experts, "
                           "shared, dense, router, default)",
                           path, lineno, key);
        } else if (c == HERD_QC_NORM && t != HERD_TYPE_F32) {
            st = herd_fail(HERD_ERR_FORMAT, "%s:%d: norms are always f32", path, lineno);
        } else {
            p->type[c] = t;
        }
    }
    fclose(f);
    return st;
}

herd_status herd_quant_policy_load(const char *name_or_path, herd_quant_policy *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < NBUILTINS; i++)
        if (strcmp(builtins[i].name, name_or_path) == 0) {
            snprintf(out->name, sizeof out->name, "%s", builtins[i].name);
            memcpy(out->type, builtins[i].type, sizeof out->type);
            return HERD_OK;
        }
    const char *base = strrchr(name_or_path, '/');
    snprintf(out->name, sizeof out->name, "%s", base ? base + 1 : name_or_path);
    return parse_file(name_or_path, out);
}

/* r, or what a row of row_len takes instead when r's blocks do not fit it. */
static herd_type fit_row(herd_type r, int64_t row_len)
{
    const herd_type_info *ti = herd_type_get(r);
    if (ti && ti->block_elems == 256 && row_len % 256 != 0 && row_len % 32 == 0) {
        /* a K-quant on a row that is not whole super-blocks: the nearest 32-block type, as
         * llama-quantize does (4 bits and less -> IQ4_NL, 5-6 bits -> Q8_0) */
        r = r == HERD_TYPE_Q5_K || r == HERD_TYPE_Q6_K || r == HERD_TYPE_Q8_K ? HERD_TYPE_Q8_0
                                                                              : HERD_TYPE_IQ4_NL;
        ti = herd_type_get(r);
    }
    if (!ti || row_len % ti->block_elems != 0)
        return HERD_TYPE_BF16;
    return r;
}

herd_type herd_quant_policy_type(const herd_quant_policy *p, herd_qclass c, herd_type t,
                                 int64_t row_len)
{
    if (c == HERD_QC_NORM)
        return HERD_TYPE_F32;
    return fit_row(p->type[c] == T_ ? t : p->type[c], row_len);
}

/* ---- llama.cpp's recipes ------------------------------------------------------------------ */

/* The mixtures llama-quantize writes (its llama_tensor_get_type, read for Llama 4's tensors and
 * checked against its output, docs/GGUF.md): a base type, the head in Q6_K, and more bits for
 * attn_v / attn_k / attn_output / ffn_down in some, depending on the layer, the model's GQA
 * factor (heads per KV head) and its expert count. */
static const struct {
    const char *name;
    herd_type base;
    int ftype; /* llama_ftype, for general.file_type */
} recipes[] = {
    {"q2_k", HERD_TYPE_Q2_K, 10},     {"q3_k_s", HERD_TYPE_Q3_K, 11},
    {"q3_k_m", HERD_TYPE_Q3_K, 12},   {"q3_k_l", HERD_TYPE_Q3_K, 13},
    {"q4_k_s", HERD_TYPE_Q4_K, 14},   {"q4_k_m", HERD_TYPE_Q4_K, 15},
    {"q5_k_s", HERD_TYPE_Q5_K, 16},   {"q5_k_m", HERD_TYPE_Q5_K, 17},
    {"q6_k", HERD_TYPE_Q6_K, 18},     {"iq4_nl", HERD_TYPE_IQ4_NL, 25},
    {"iq4_xs", HERD_TYPE_IQ4_XS, 30},
};
enum { NRECIPES = sizeof recipes / sizeof recipes[0] };

int herd_quant_recipe_parse(const char *name)
{
    for (int i = 0; i < NRECIPES; i++)
        if (strcasecmp(name, recipes[i].name) == 0)
            return i;
    if (strcasecmp(name, "q4_k") == 0 || strcasecmp(name, "q5_k") == 0 ||
        strcasecmp(name, "q3_k") == 0) /* llama-quantize's aliases: the _M recipe */
        return herd_quant_recipe_parse(name[1] == '4'   ? "q4_k_m"
                                       : name[1] == '5' ? "q5_k_m"
                                                        : "q3_k_m");
    return -1;
}

const char *herd_quant_recipe_name(int r)
{
    return r >= 0 && r < NRECIPES ? recipes[r].name : "?";
}
herd_type herd_quant_recipe_base(int r)
{
    return r >= 0 && r < NRECIPES ? recipes[r].base : HERD_TYPE_COUNT;
}
int herd_quant_recipe_ftype(int r)
{
    return r >= 0 && r < NRECIPES ? recipes[r].ftype : -1;
}

/* llama.cpp's "more bits" layers: the first and last eighth, and every third in between. */
static bool more_bits(int64_t i, int64_t n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static bool is_recipe(const char *n, const char *a, const char *b)
{
    return !strcmp(n, a) || (b && !strcmp(n, b));
}

/* attn_v: the small V projection (n_gqa times narrower than Q) gets more bits cheaply. */
static herd_type attn_v_type(const char *n, herd_type t, long long il, const herd_recipe_model *m)
{
    if (!strcmp(n, "q2_k"))
        t = m->n_gqa >= 4 ? HERD_TYPE_Q4_K : HERD_TYPE_Q3_K;
    else if (!strcmp(n, "q3_k_m"))
        t = il < 2 ? HERD_TYPE_Q5_K : HERD_TYPE_Q4_K;
    else if (!strcmp(n, "q3_k_l"))
        t = HERD_TYPE_Q5_K;
    else if (is_recipe(n, "iq4_nl", "iq4_xs")) {
        if (m->n_gqa >= 4)
            t = HERD_TYPE_Q5_K;
    } else if (is_recipe(n, "q4_k_m", "q5_k_m")) {
        if (more_bits(il, m->n_layers))
            t = HERD_TYPE_Q6_K;
    } else if (!strcmp(n, "q4_k_s") && il < 4)
        t = HERD_TYPE_Q5_K;
    return m->n_experts == 8 ? HERD_TYPE_Q8_0 : t; /* llama.cpp's rule for 8-expert models */
}

static herd_type ffn_down_type(const char *n, herd_type t, long long il, int64_t nl)
{
    if (!strcmp(n, "q2_k"))
        return HERD_TYPE_Q3_K;
    if (!strcmp(n, "q3_k_m"))
        return il < nl / 16 ? HERD_TYPE_Q5_K : HERD_TYPE_Q4_K;
    if (!strcmp(n, "q3_k_l"))
        return HERD_TYPE_Q5_K;
    if (is_recipe(n, "q4_k_m", "q5_k_m"))
        return more_bits(il, nl) ? HERD_TYPE_Q6_K : t;
    if (is_recipe(n, "iq4_nl", "iq4_xs") || !strcmp(n, "q4_k_s")) /* without an imatrix */
        return il < nl / 8 ? HERD_TYPE_Q5_K : t;
    return t;
}

static herd_type attn_output_type(const char *n, herd_type t, const herd_recipe_model *m)
{
    if (m->n_experts == 8) { /* llama.cpp's list for 8-expert models (Q3_K_L not in it) */
        bool up = is_recipe(n, "q2_k", "q3_k_s") || is_recipe(n, "q3_k_m", "q4_k_s") ||
                  is_recipe(n, "q4_k_m", "iq4_nl") || is_recipe(n, "iq4_xs", NULL);
        return up ? HERD_TYPE_Q5_K : t;
    }
    if (!strcmp(n, "q2_k"))
        return HERD_TYPE_Q3_K;
    if (!strcmp(n, "q3_k_m"))
        return HERD_TYPE_Q4_K;
    if (!strcmp(n, "q3_k_l"))
        return HERD_TYPE_Q5_K;
    return t;
}

herd_type herd_quant_recipe_type(int r, const char *name, const herd_recipe_model *m, herd_type cur,
                                 int64_t row_len)
{
    if (r < 0 || r >= NRECIPES || cur != fit_row(recipes[r].base, row_len))
        return cur; /* norms, router, fallbacks: as planned */
    const char *n = recipes[r].name;
    long long il = -1;
    sscanf(name, "blk.%lld.", &il);
    herd_type t = recipes[r].base;
    if (strcmp(name, "output.weight") == 0)
        t = HERD_TYPE_Q6_K;
    else if (strstr(name, ".attn_v."))
        t = attn_v_type(n, t, il, m);
    else if (strstr(name, ".attn_k.") && m->n_experts == 8)
        t = HERD_TYPE_Q8_0;
    else if (strstr(name, ".attn_output."))
        t = attn_output_type(n, t, m);
    else if (strstr(name, ".ffn_down"))
        t = ffn_down_type(n, t, il, m->n_layers);
    return fit_row(t, row_len);
}
