/* Loading a Hugging Face tokenizer.json with a byte-level BPE model (docs/TOKENIZER.md lists
 * what is accepted). Token strings are bytes spelled with GPT-2's byte -> character table. */
#include "text/tokenizer_internal.h"

#include "herd/io_json.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct json_loader {
    herd_tokenizer *t;
    const char *path;
    uint8_t buf[4096];
} json_loader;

static herd_status bad(const json_loader *L, const char *what)
{
    return herd_fail(HERD_ERR_FORMAT, "%s: %s", L->path, what);
}

static herd_status load_vocab(json_loader *L, json_t *vocab)
{
    if (!json_is_object(vocab))
        return bad(L, "model.vocab must be an object of token -> id");
    const char *key;
    json_t *v;
    json_object_foreach(vocab, key, v)
    {
        long n = tok_byte_level_decode(key, strlen(key), L->buf, sizeof L->buf);
        if (n <= 0)
            return herd_fail(HERD_ERR_FORMAT, "%s: vocab token \"%.40s\" is not byte-level text",
                             L->path, key);
        if (!json_is_integer(v))
            return herd_fail(HERD_ERR_FORMAT, "%s: vocab token \"%.40s\" has no integer id",
                             L->path, key);
        json_int_t id = json_integer_value(v);
        if (id < 0 || id >= TOK_MAX_IDS)
            return herd_fail(HERD_ERR_RANGE, "%s: vocab id %lld is out of range", L->path,
                             (long long)id);
        herd_status st = tok_set(L->t, (int32_t)id, L->buf, (size_t)n, false);
        if (st)
            return st;
    }
    return HERD_OK;
}

static herd_status load_merges(json_loader *L, json_t *merges)
{
    if (!json_is_array(merges))
        return bad(L, "model.merges must be an array");
    herd_tokenizer *t = L->t;
    herd_status st = tok_pairs_build(t, json_array_size(merges));
    if (st)
        return st;
    char pair[2][1024];
    for (size_t i = 0; i < json_array_size(merges); i++) {
        json_t *m = json_array_get(merges, i);
        bool ok = false;
        if (json_is_string(m)) { /* legacy "a b" */
            const char *s = json_string_value(m), *sp = strchr(s, ' ');
            if (sp && sp > s && sp[1] && !strchr(sp + 1, ' ') &&
                (size_t)(sp - s) < sizeof pair[0] && strlen(sp + 1) < sizeof pair[1]) {
                memcpy(pair[0], s, (size_t)(sp - s));
                pair[0][sp - s] = 0;
                strcpy(pair[1], sp + 1);
                ok = true;
            }
        } else if (json_is_array(m) && json_array_size(m) == 2) { /* ["a", "b"] */
            const char *a = json_string_value(json_array_get(m, 0));
            const char *b = json_string_value(json_array_get(m, 1));
            if (a && b && strlen(a) < sizeof pair[0] && strlen(b) < sizeof pair[1]) {
                strcpy(pair[0], a);
                strcpy(pair[1], b);
                ok = true;
            }
        }
        if (!ok)
            return herd_fail(HERD_ERR_FORMAT, "%s: merge %zu is not \"a b\" or [\"a\", \"b\"]",
                             L->path, i);
        if ((st = tok_add_merge(t, L->path, i, pair[0], strlen(pair[0]), pair[1], strlen(pair[1]))))
            return st;
    }
    return HERD_OK;
}

static herd_status load_added_tokens(json_loader *L, json_t *added)
{
    if (!added || json_is_null(added))
        return HERD_OK;
    if (!json_is_array(added))
        return bad(L, "added_tokens must be an array");
    for (size_t i = 0; i < json_array_size(added); i++) {
        json_t *a = json_array_get(added, i);
        json_t *id = json_object_get(a, "id");
        const char *content = json_string_value(json_object_get(a, "content"));
        if (!json_is_integer(id) || !content || !*content || json_integer_value(id) < 0 ||
            json_integer_value(id) >= TOK_MAX_IDS)
            return herd_fail(HERD_ERR_FORMAT, "%s: added_tokens[%zu] needs an id and content",
                             L->path, i);
        herd_status st = herd_tokenizer_add_special(L->t, (int32_t)json_integer_value(id), content);
        if (st)
            return st;
    }
    return HERD_OK;
}

static const char gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* Accepts Split(Regex, Isolated) and/or ByteLevel(add_prefix_space=false); sets *pattern. */
static herd_status load_pre_tokenizer(json_loader *L, json_t *pre, const char **pattern)
{
    *pattern = NULL;
    json_t *one[1] = {pre};
    json_t *list = json_object_get(pre, "pretokenizers");
    const char *type = json_string_value(json_object_get(pre, "type"));
    if (!type)
        return bad(L, "pre_tokenizer is missing or has no type");
    bool seq = strcmp(type, "Sequence") == 0;
    if (seq && !json_is_array(list))
        return bad(L, "pre_tokenizer Sequence has no pretokenizers array");
    size_t n = seq ? json_array_size(list) : 1;
    const char *split = NULL;
    bool byte_level = false, byte_level_regex = false;
    for (size_t i = 0; i < n; i++) {
        json_t *p = seq ? json_array_get(list, i) : one[0];
        const char *pt = json_string_value(json_object_get(p, "type"));
        if (pt && strcmp(pt, "Split") == 0 && !split) {
            const char *re =
                json_string_value(json_object_get(json_object_get(p, "pattern"), "Regex"));
            const char *beh = json_string_value(json_object_get(p, "behavior"));
            if (!re || !beh || strcmp(beh, "Isolated") != 0 ||
                json_is_true(json_object_get(p, "invert")))
                return herd_fail(HERD_ERR_UNSUPPORTED,
                                 "%s: only a Split with a Regex pattern, behavior Isolated, is "
                                 "supported",
                                 L->path);
            split = re;
        } else if (pt && strcmp(pt, "ByteLevel") == 0 && !byte_level) {
            if (json_is_true(json_object_get(p, "add_prefix_space")))
                return herd_fail(HERD_ERR_UNSUPPORTED,
                                 "%s: ByteLevel add_prefix_space=true is not supported", L->path);
            byte_level = true;
            byte_level_regex = !json_is_false(json_object_get(p, "use_regex"));
        } else {
            return herd_fail(HERD_ERR_UNSUPPORTED, "%s: pre-tokenizer '%s' is not supported",
                             L->path, pt ? pt : "?");
        }
    }
    if (split && byte_level_regex)
        return herd_fail(HERD_ERR_UNSUPPORTED,
                         "%s: Split followed by ByteLevel with use_regex=true is not supported",
                         L->path);
    *pattern = split ? split : byte_level_regex ? gpt2_pattern : NULL;
    if (!*pattern)
        return bad(L, "the pre_tokenizer has no pattern");
    return HERD_OK;
}

static herd_status load_root(json_loader *L, json_t *root)
{
    if (!json_is_object(root))
        return bad(L, "expected a JSON object");
    json_t *norm = json_object_get(root, "normalizer");
    if (norm && !json_is_null(norm))
        return herd_fail(HERD_ERR_UNSUPPORTED, "%s: normalizers are not supported", L->path);
    json_t *model = json_object_get(root, "model");
    if (!json_is_object(model))
        return bad(L, "no model object");
    const char *type = json_string_value(json_object_get(model, "type"));
    if (type && strcmp(type, "BPE") != 0)
        return herd_fail(HERD_ERR_UNSUPPORTED, "%s: model type %s is not supported (BPE only)",
                         L->path, type);
    if (json_is_true(json_object_get(model, "byte_fallback")) ||
        json_is_string(json_object_get(model, "continuing_subword_prefix")) ||
        json_is_string(json_object_get(model, "end_of_word_suffix")))
        return herd_fail(HERD_ERR_UNSUPPORTED,
                         "%s: byte_fallback and subword prefixes/suffixes are not supported",
                         L->path);
    L->t->ignore_merges = json_is_true(json_object_get(model, "ignore_merges"));
    const char *pattern;
    herd_status st = load_pre_tokenizer(L, json_object_get(root, "pre_tokenizer"), &pattern);
    if (!st)
        st = load_vocab(L, json_object_get(model, "vocab"));
    if (!st)
        st = tok_finish(L->t);
    if (!st)
        st = load_merges(L, json_object_get(model, "merges"));
    if (!st)
        st = load_added_tokens(L, json_object_get(root, "added_tokens"));
    if (!st)
        st = tok_compile_pattern(L->t, pattern);
    return st;
}

herd_status herd_tokenizer_load_json(const char *path, herd_tokenizer **out)
{
    *out = NULL;
    json_loader *L = calloc(1, sizeof *L);
    if (!L)
        return herd_fail(HERD_ERR_NOMEM, "out of memory");
    L->path = path;
    herd_status st = tok_create(path, &L->t);
    json_error_t err;
    json_t *root = NULL;
    if (!st) {
        char *text;
        size_t n;
        st = herd_read_file(path, HERD_JSON_MAX_BYTES, &text, &n);
        root = st ? NULL : json_loadb(text, n, 0, &err);
        free(text);
        if (!st && !root)
            st = herd_fail(HERD_ERR_FORMAT, "%s:%d: %s", path, err.line, err.text);
    }
    if (!st)
        st = load_root(L, root);
    json_decref(root);
    if (st)
        herd_tokenizer_free(L->t);
    else
        *out = L->t;
    free(L);
    return st;
}
