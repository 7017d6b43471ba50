/* The tokenizer of an HF checkpoint (tokenizer.json, byte-level BPE) as llama.cpp's
 * tokenizer.ggml.* metadata: token strings stay in their byte-level spelling, ids with no token
 * become "[PAD<id>]" (UNUSED), added tokens are CONTROL (special) or USER_DEFINED, merges are
 * "a b" strings in rank order. */
#include "herd/io_json.h"
#include "herd/model_gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TT_NORMAL = 1, TT_CONTROL = 3, TT_USER_DEFINED = 4, TT_UNUSED = 5 };
/* At most this many ids (as the tokenizer loader's TOK_MAX_IDS): every id gets a string, so a
 * one-line file naming id 2^24 would otherwise cost 16M allocations. */
#define VOCAB_MAX ((size_t)1 << 20)

typedef struct vocab {
    char **tok;
    int32_t *type;
    size_t n;
} vocab;

static herd_status set_token(vocab *v, const char *path, json_int_t id, const char *s, int type)
{
    if (id < 0 || (size_t)id >= v->n)
        return herd_fail(HERD_ERR_FORMAT, "%s: token id %lld is outside the vocabulary (%zu)", path,
                         (long long)id, v->n);
    free(v->tok[id]);
    v->tok[id] = strdup(s);
    v->type[id] = type;
    return v->tok[id] ? HERD_OK : herd_fail(HERD_ERR_NOMEM, "out of memory");
}

/* One past the highest id in the file (VOCAB_MAX + 1 past the cap). */
static size_t vocab_size(const json_t *vocab_obj, const json_t *added)
{
    json_int_t max = -1;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)vocab_obj, key, val) if (json_integer_value(val) > max) max =
        json_integer_value(val);
    for (size_t i = 0; i < json_array_size(added); i++) {
        json_int_t id = json_integer_value(json_object_get(json_array_get(added, i), "id"));
        max = id > max ? id : max;
    }
    /* ids from the file may be anything up to 2^63-1: past the cap, say so without overflow */
    return max >= (json_int_t)VOCAB_MAX ? VOCAB_MAX + 1 : (size_t)(max + 1);
}

static herd_status fill(vocab *v, const char *path, json_t *root, herd_gguf_writer *w)
{
    json_t *model = json_object_get(root, "model"), *added = json_object_get(root, "added_tokens");
    json_t *vobj = json_object_get(model, "vocab"), *merges = json_object_get(model, "merges");
    const char *type = json_string_value(json_object_get(model, "type"));
    if (!type || strcmp(type, "BPE") != 0 || !json_is_object(vobj) || !json_is_array(merges))
        return herd_fail(HERD_ERR_UNSUPPORTED, "%s: not a byte-level BPE tokenizer", path);
    herd_status st = HERD_OK;
    const char *key;
    json_t *val;
    json_object_foreach(vobj, key, val)
    {
        if (!st)
            st = set_token(v, path, json_integer_value(val), key, TT_NORMAL);
    }
    for (size_t i = 0; i < json_array_size(added) && !st; i++) {
        json_t *a = json_array_get(added, i);
        const char *content = json_string_value(json_object_get(a, "content"));
        if (!content)
            return herd_fail(HERD_ERR_FORMAT, "%s: added_tokens[%zu] has no content", path, i);
        st = set_token(v, path, json_integer_value(json_object_get(a, "id")), content,
                       json_is_true(json_object_get(a, "special")) ? TT_CONTROL : TT_USER_DEFINED);
    }
    char pad[32];
    for (size_t i = 0; i < v->n && !st; i++)
        if (!v->tok[i]) {
            snprintf(pad, sizeof pad, "[PAD%zu]", i);
            st = set_token(v, path, (json_int_t)i, pad, TT_UNUSED);
        }
    if (!st)
        st = herd_gguf_set_str_arr(w, "tokenizer.ggml.tokens", (const char *const *)v->tok, NULL,
                                   v->n);
    if (!st)
        st = herd_gguf_set_arr(w, "tokenizer.ggml.token_type", HERD_GGUF_INT32, v->type, v->n);
    /* merges: "a b" strings (tokenizers >= 0.20 write ["a", "b"] pairs) */
    size_t nm = json_array_size(merges);
    char **m = calloc(nm ? nm : 1, sizeof *m);
    if (!m)
        return herd_fail(HERD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < nm && !st; i++) {
        json_t *e = json_array_get(merges, i);
        const char *a = json_string_value(json_array_get(e, 0));
        const char *b = json_string_value(json_array_get(e, 1));
        if (json_is_string(e))
            m[i] = strdup(json_string_value(e));
        else if (a && b && (m[i] = malloc(strlen(a) + strlen(b) + 2)))
            sprintf(m[i], "%s %s", a, b);
        else if (!a || !b)
            st = herd_fail(HERD_ERR_FORMAT, "%s: merge %zu is not \"a b\" or [\"a\", \"b\"]", path,
                           i);
        if (!st && !m[i])
            st = herd_fail(HERD_ERR_NOMEM, "out of memory");
    }
    if (!st)
        st = herd_gguf_set_str_arr(w, "tokenizer.ggml.merges", (const char *const *)m, NULL, nm);
    for (size_t i = 0; i < nm; i++)
        free(m[i]);
    free(m);
    return st;
}

/* tokenizer_config.json's chat_template, or chat_template.json's. */
static herd_status chat_template(const char *dir, herd_gguf_writer *w)
{
    static const char *const files[] = {"tokenizer_config.json", "chat_template.json"};
    char path[4200];
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (!herd_path_exists(path))
            continue;
        json_t *root;
        herd_status st = herd_json_load_file(path, &root);
        if (st)
            return st;
        const char *t = json_string_value(json_object_get(root, "chat_template"));
        if (t)
            st = herd_gguf_set_str(w, "tokenizer.chat_template", t);
        json_decref(root);
        if (st || t)
            return st;
    }
    return HERD_OK;
}

herd_status herd_gguf_set_tokenizer(herd_gguf_writer *w, const char *tokenizer_json,
                                    int64_t config_vocab)
{
    json_t *root;
    herd_status st = herd_json_load_file(tokenizer_json, &root);
    if (st)
        return st;
    json_t *model = json_object_get(root, "model");
    vocab v = {0};
    v.n = vocab_size(json_object_get(model, "vocab"), json_object_get(root, "added_tokens"));
    if (v.n == 0 || v.n > VOCAB_MAX) {
        json_decref(root);
        return herd_fail(HERD_ERR_FORMAT, "%s: no usable vocabulary", tokenizer_json);
    }
    /* A larger vocabulary than the model's would give ids the model has no rows for: refuse it
     * here rather than write a GGUF that fails at its first such token. */
    if (config_vocab > 0 && v.n > (size_t)config_vocab) {
        json_decref(root);
        return herd_fail(HERD_ERR_FORMAT,
                         "%s: the tokenizer has ids up to %zu, more than the model's vocabulary "
                         "of %lld; give the model's own tokenizer",
                         tokenizer_json, v.n - 1, (long long)config_vocab);
    }
    if (config_vocab > 0)
        v.n = (size_t)config_vocab; /* padded to the config's size */
    v.tok = calloc(v.n, sizeof *v.tok);
    v.type = calloc(v.n, sizeof *v.type);
    st = v.tok && v.type ? fill(&v, tokenizer_json, root, w)
                         : herd_fail(HERD_ERR_NOMEM, "out of memory");
    if (!st)
        st = herd_gguf_set_str(w, "tokenizer.ggml.model", "gpt2");
    if (!st)
        st = herd_gguf_set_str(w, "tokenizer.ggml.pre", "llama4");
    if (!st)
        st = herd_gguf_set_bool(w, "tokenizer.ggml.add_bos_token", true);
    if (!st) { /* the template lives beside tokenizer.json */
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", tokenizer_json);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(dir, sizeof dir, ".");
        st = chat_template(dir, w);
    }
    for (size_t i = 0; v.tok && i < v.n; i++)
        free(v.tok[i]);
    free(v.tok);
    free(v.type);
    json_decref(root);
    return st;
}
