/* The tokenizer against ids made by tiktoken and HF tokenizers (tests/data/tokenizer/README.md):
 * every corpus line, the whole corpus, the edge cases and the special-token cases, for
 * o200k_base, the real Llama 4 vocabulary and the small tokenizer.json fixtures; every encoding
 * must also decode back to the same bytes. */
#include "text_testutil.h"

#include "text/tokenizer_internal.h"

static herd_tokenizer *o200k, *llama4, *hf4k, *hf4k_legacy;

static void check_corpus_lines(const herd_tokenizer *tok, const char *ids_path, const char *what)
{
    line_file text = lines_read("tokenizer/corpus.txt"), ids = lines_read(ids_path);
    CHECK_EQ_INT(text.n, 329);
    CHECK_EQ_INT(ids.n, text.n);
    int bad = 0;
    for (size_t i = 0; i < text.n && i < ids.n && bad < 5; i++) {
        herd_tokens want = ids_parse(ids.line[i], ids.len[i]);
        char name[96];
        snprintf(name, sizeof name, "%s line %zu", what, i + 1);
        bad += !check_encoding(tok, text.line[i], text.len[i], 0, &want, name);
        herd_tokens_free(&want);
    }
    lines_free(&text);
    lines_free(&ids);
}

static void check_corpus_full(const herd_tokenizer *tok, const char *ids_path, const char *what)
{
    size_t n, m;
    char *text = harness_read_file("tokenizer/corpus.txt", &n);
    char *ids = harness_read_file(ids_path, &m);
    herd_tokens want = ids_parse(ids, m);
    check_encoding(tok, text, n, 0, &want, what);
    herd_tokens_free(&want);
    free(text);
    free(ids);
}

/* Runs each JSON line of `path`: text, and the expected ids under key `key` (with `flags`);
 * lines whose name starts with `skip` (if not NULL) are left out. */
static void check_jsonl_skip(const herd_tokenizer *tok, const char *path, const char *key,
                             unsigned flags, const char *skip)
{
    line_file f = lines_read(path);
    CHECK(f.n > 0);
    for (size_t i = 0; i < f.n; i++) {
        json_error_t err;
        json_t *o = json_loadb(f.line[i], f.len[i], JSON_ALLOW_NUL, &err);
        json_t *text = json_object_get(o, "text"), *ids = json_object_get(o, key);
        const char *name = json_string_value(json_object_get(o, "name"));
        if (skip && name && strncmp(name, skip, strlen(skip)) == 0) {
            json_decref(o);
            continue;
        }
        CHECK_MSG(o && text && json_is_array(ids), "%s:%zu: no text or %s", path, i + 1, key);
        if (o && text && json_is_array(ids)) {
            herd_tokens want = ids_from_json(ids);
            char what[160];
            snprintf(what, sizeof what, "%s %s %s", path, name, key);
            check_encoding(tok, json_string_value(text), json_string_length(text), flags, &want,
                           what);
            herd_tokens_free(&want);
        }
        json_decref(o);
    }
    lines_free(&f);
}

static void check_jsonl(const herd_tokenizer *tok, const char *path, const char *key,
                        unsigned flags)
{
    check_jsonl_skip(tok, path, key, flags, NULL);
}

TEST(o200k_corpus)
{
    check_corpus_lines(o200k, "tokenizer/corpus.o200k.ids", "o200k");
    check_corpus_full(o200k, "tokenizer/corpus.o200k.full.ids", "o200k whole corpus");
    check_jsonl(o200k, "tokenizer/cases.jsonl", "o200k", 0);
}

TEST(llama4_corpus)
{
    check_corpus_lines(llama4, "tokenizer/corpus.llama4.ids", "llama4");
    check_corpus_full(llama4, "tokenizer/corpus.llama4.full.ids", "llama4 whole corpus");
    check_jsonl(llama4, "tokenizer/cases.jsonl", "llama4", 0);
}

TEST(special_tokens)
{
    check_jsonl(o200k, "tokenizer/specials.jsonl", "o200k_ordinary", 0);
    check_jsonl(o200k, "tokenizer/specials.jsonl", "o200k_allowed_all", HERD_ENCODE_SPECIAL);
    check_jsonl(llama4, "tokenizer/specials.jsonl", "llama4_ordinary", 0);
    check_jsonl(llama4, "tokenizer/specials.jsonl", "llama4_allowed_all", HERD_ENCODE_SPECIAL);
    /* HF always splits out its added tokens; with BOS added by its post-processor. Its
     * tokenizer.json lacks Meta's reserved and reasoning tokens above 201133. */
    check_jsonl_skip(llama4, "tokenizer/llama4/specials.hf.jsonl", "llama4_hf_with_bos",
                     HERD_ENCODE_SPECIAL | HERD_ENCODE_BOS, "llama4_re");
    CHECK_EQ_INT(herd_tokenizer_bos(llama4), 200000);
    CHECK_EQ_INT(herd_tokenizer_special_id(llama4, "<|eot|>"), 200008);
    CHECK_EQ_INT(herd_tokenizer_special_id(llama4, "<|patch|>"), 200092);
    CHECK_EQ_INT(herd_tokenizer_special_id(llama4, "<|eot"), -1);
    CHECK(herd_tokenizer_is_special(llama4, 200008));
    CHECK(!herd_tokenizer_is_special(llama4, 199999));
    CHECK_EQ_INT(herd_tokenizer_vocab_size(llama4), 202048);
    const int32_t *stops;
    CHECK_EQ_INT(herd_tokenizer_stop_ids(llama4, &stops), 3);
    CHECK(herd_tokenizer_is_stop(llama4, 200001) && herd_tokenizer_is_stop(llama4, 200007) &&
          herd_tokenizer_is_stop(llama4, 200008) && !herd_tokenizer_is_stop(llama4, 200000));
}

/* Meta's 2,048-entry special list, generated in tokenizer.c, against the published table. */
TEST(llama4_special_table)
{
    line_file f = lines_read("tokenizer/llama4_special_tokens.tsv");
    CHECK_EQ_INT(f.n, 2049);
    for (size_t i = 1; i < f.n; i++) {
        const char *tab1 = memchr(f.line[i], '\t', f.len[i]);
        const char *tab2 =
            tab1 ? memchr(tab1 + 1, '\t', f.len[i] - (size_t)(tab1 + 1 - f.line[i])) : NULL;
        if (!tab2) {
            CHECK_MSG(0, "bad table line %zu", i + 1);
            continue;
        }
        int32_t id = (int32_t)strtol(f.line[i], NULL, 10);
        size_t n;
        const uint8_t *b = herd_tokenizer_token_bytes(llama4, id, &n);
        CHECK_MSG(b && n == (size_t)(tab2 - tab1 - 1) && memcmp(b, tab1 + 1, n) == 0,
                  "special %d differs from the table", id);
    }
    lines_free(&f);
}

TEST(hf_tokenizer_json)
{
    check_corpus_lines(hf4k, "tokenizer/hf/corpus.o200k_4k.ids", "o200k_4k.tokenizer.json");
    check_jsonl(hf4k, "tokenizer/hf/cases.o200k_4k.jsonl", "o200k_4k", 0);
    check_corpus_lines(hf4k_legacy, "tokenizer/hf/corpus.o200k_4k.ids", "legacy merges");
    check_jsonl(hf4k_legacy, "tokenizer/hf/cases.o200k_4k.jsonl", "o200k_4k", 0);
}

/* The heap merge (long pieces) and the scan merge (short ones) agree on random words, in both
 * rank modes (tiktoken ranks, tokenizer.json merges). */
TEST(merge_paths_agree)
{
    uint64_t seed = 42;
    const herd_tokenizer *toks[] = {llama4, hf4k};
    size_t saved = bpe_small_limit;
    for (int k = 0; k < 2; k++) {
        for (int trial = 0; trial < 60; trial++) {
            size_t n = 2 + harness_rand(&seed) % 300;
            char *s = malloc(n);
            for (size_t i = 0; i < n; i++) /* few letters, so many merges apply */
                s[i] = "etaoinshr"[harness_rand(&seed) % (trial % 2 ? 3 : 9)];
            herd_tokens a = {0}, b = {0};
            bpe_small_limit = 1;
            herd_tokenizer_encode(toks[k], s, n, 0, &a);
            bpe_small_limit = 1u << 20;
            herd_tokenizer_encode(toks[k], s, n, 0, &b);
            CHECK_MSG(a.n == b.n && memcmp(a.ids, b.ids, a.n * sizeof *a.ids) == 0,
                      "heap and scan merges differ (tokenizer %d, %zu bytes)", k, n);
            herd_tokens_free(&a);
            herd_tokens_free(&b);
            free(s);
        }
    }
    bpe_small_limit = saved;
}

/* A 100,000-letter word is one piece; the heap merge keeps it O(n log n) (tiktoken's merge is
 * quadratic there). Also 100,000 spaces and digits. */
TEST(long_pieces)
{
    size_t n = 100000;
    char *s = malloc(n);
    uint64_t seed = 7;
    const char *alphabets[] = {"a", "abcdefghijklmnopqrstuvwxyz", " ", "0123456789"};
    for (int k = 0; k < 4; k++) {
        for (size_t i = 0; i < n; i++)
            s[i] = alphabets[k][harness_rand(&seed) % strlen(alphabets[k])];
        double t0 = herd_now();
        herd_tokens ids = {0};
        CHECK(herd_tokenizer_encode(llama4, s, n, 0, &ids) == HERD_OK);
        char *back = NULL;
        size_t blen = 0;
        CHECK(herd_tokenizer_decode(llama4, ids.ids, ids.n, 0, &back, &blen) == HERD_OK);
        CHECK(blen == n && memcmp(back, s, n) == 0);
        printf("  %zu bytes of \"%.10s\": %zu ids in %.1f ms\n", n, alphabets[k], ids.n,
               (herd_now() - t0) * 1e3);
        free(back);
        herd_tokens_free(&ids);
    }
    free(s);
}

/* Invalid UTF-8 never fails: it is encoded as bytes and decodes back exactly. */
TEST(invalid_utf8)
{
    uint64_t seed = 99;
    for (int trial = 0; trial < 300; trial++) {
        size_t n = harness_rand(&seed) % 200;
        char s[200];
        for (size_t i = 0; i < n; i++) {
            uint64_t r = harness_rand(&seed);
            s[i] = r % 3 ? "a \n\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80.1"[r % 14] : (char)(r >> 8);
        }
        herd_tokens ids = {0};
        CHECK(herd_tokenizer_encode(trial % 2 ? llama4 : hf4k, s, n, 0, &ids) == HERD_OK);
        char *back = NULL;
        size_t blen = 0;
        CHECK(herd_tokenizer_decode(trial % 2 ? llama4 : hf4k, ids.ids, ids.n, 0, &back, &blen) ==
              HERD_OK);
        CHECK(blen == n && memcmp(back, s, n) == 0);
        free(back);
        herd_tokens_free(&ids);
    }
    /* A lone invalid byte between letters is a piece of its own. */
    herd_tokens ids = {0};
    herd_tokenizer_encode(llama4,
                          "ab\xff"
                          "cd",
                          5, 0, &ids);
    herd_tokens want = {0};
    herd_tokenizer_encode(llama4, "ab", 2, 0, &want);
    herd_tokenizer_encode(llama4, "\xff", 1, 0, &want);
    herd_tokenizer_encode(llama4, "cd", 2, 0, &want);
    CHECK(ids.n == want.n && memcmp(ids.ids, want.ids, ids.n * sizeof *ids.ids) == 0);
    herd_tokens_free(&ids);
    herd_tokens_free(&want);
}

/* Decoding one id at a time gives the same bytes, each chunk ending on a character boundary. */
TEST(streaming_decoder)
{
    size_t n;
    char *text = harness_read_file("tokenizer/corpus.txt", &n);
    herd_tokens ids = {0};
    CHECK(herd_tokenizer_encode(llama4, text, n, 0, &ids) == HERD_OK);
    herd_decoder d;
    herd_decoder_init(&d, llama4, 0);
    char *out = malloc(n + 16);
    size_t at = 0, split_chars = 0;
    for (size_t i = 0; i < ids.n; i++) {
        const char *chunk;
        size_t len;
        CHECK(herd_decoder_push(&d, ids.ids[i], &chunk, &len) == HERD_OK);
        if (len && ((unsigned char)chunk[len - 1] & 0xC0) == 0x80) {
            /* ends in a continuation byte: must complete the character */
            size_t j = len - 1;
            while (j > 0 && ((unsigned char)chunk[j] & 0xC0) == 0x80)
                j--;
            uint32_t cp;
            CHECK(tok_utf8_decode((const uint8_t *)chunk + j, len - j, &cp) == len - j);
        }
        split_chars += d.n_held > 0;
        if (at + len <= n)
            memcpy(out + at, chunk, len);
        at += len;
    }
    const char *rest;
    size_t len;
    herd_decoder_finish(&d, &rest, &len);
    CHECK_EQ_INT(len, 0);
    CHECK(at == n && memcmp(out, text, n) == 0);
    CHECK(split_chars > 0); /* the corpus has characters split across tokens */
    /* A character cut off at the end comes out at finish; an unknown id is an error. */
    const char *chunk;
    CHECK(herd_decoder_push(&d, herd_tokenizer_vocab_size(llama4), &chunk, &len) != HERD_OK);
    herd_decoder_free(&d);
    free(out);
    free(text);
    herd_tokens_free(&ids);
}

int main(void)
{
    herd_tokenizer *t;
    o200k =
        load_or_die(herd_tokenizer_load_tiktoken("tokenizer/o200k_base.subset.tiktoken", NULL, &t),
                    &t, "o200k subset");
    load_or_die(herd_tokenizer_load_specials(o200k, "tokenizer/o200k_specials.tsv"), &o200k,
                "o200k specials");
    llama4 = load_or_die(herd_tokenizer_load_tiktoken("tokenizer/llama4/tokenizer.model", NULL, &t),
                         &t, "llama4 tokenizer.model");
    hf4k = load_or_die(herd_tokenizer_load_file("tokenizer/hf/o200k_4k.tokenizer.json", NULL, &t),
                       &t, "o200k_4k.tokenizer.json");
    hf4k_legacy = load_or_die(
        herd_tokenizer_load_json("tokenizer/hf/o200k_4k.legacy_merges.tokenizer.json", &t), &t,
        "legacy merges");
    RUN(o200k_corpus);
    RUN(llama4_corpus);
    RUN(special_tokens);
    RUN(llama4_special_table);
    RUN(hf_tokenizer_json);
    RUN(merge_paths_agree);
    RUN(long_pieces);
    RUN(invalid_utf8);
    RUN(streaming_decoder);
    herd_tokenizer_free(o200k);
    herd_tokenizer_free(llama4);
    herd_tokenizer_free(hf4k);
    herd_tokenizer_free(hf4k_legacy);
    return harness_finish();
}
