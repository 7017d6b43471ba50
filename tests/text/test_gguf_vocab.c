/* Tokenizers through GGUF: written with herd_tokenizer_write_gguf, read back with
 * herd_tokenizer_load_gguf, they give the expected ids on the whole corpus: the real Llama 4
 * vocabulary (whose merges are derived from its ranks on writing), a tokenizer.json with its own
 * merges, and the tiny chat tokenizer. Broken GGUF tokenizers give one-line errors. */
#include "text_testutil.h"

#include "herd/io_gguf.h"

#include <unistd.h>

static char gguf_path[64];

/* Writes tok's tokenizer (plus `extra` if not NULL) to gguf_path. */
static bool write_gguf(const herd_tokenizer *tok, void (*extra)(herd_gguf_writer *))
{
    herd_gguf_writer *w;
    herd_status st = herd_gguf_writer_create(&w);
    if (!st)
        st = herd_tokenizer_write_gguf(tok, w);
    if (!st && extra)
        extra(w);
    if (!st)
        st = herd_gguf_writer_begin(w, gguf_path);
    if (!st)
        st = herd_gguf_writer_commit(w);
    CHECK_MSG(st == HERD_OK, "writing the GGUF: %s", herd_last_error());
    herd_gguf_writer_free(w);
    return st == HERD_OK;
}

static void check_corpus(const herd_tokenizer *tok, const char *ids_path, const char *what)
{
    line_file text = lines_read("tokenizer/corpus.txt"), ids = lines_read(ids_path);
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

TEST(llama4_via_gguf)
{
    herd_tokenizer *src, *t = NULL;
    CHECK(herd_tokenizer_load_tiktoken("tokenizer/llama4/tokenizer.model", NULL, &src) == HERD_OK);
    double t0 = herd_now();
    if (!write_gguf(src, NULL))
        return;
    herd_gguf g;
    if (herd_gguf_open(gguf_path, &g) == HERD_OK) {
        const herd_gguf_kv *m = herd_gguf_find_kv(&g, "tokenizer.ggml.merges");
        /* HF's converter finds 199,744 merges for the 200,000 ranks */
        CHECK_EQ_INT(m ? m->count : 0, 199744);
        printf("  Llama 4 vocabulary written with %llu derived merges in %.2f s\n",
               m ? (unsigned long long)m->count : 0ull, herd_now() - t0);
        herd_gguf_close(&g);
    }
    CHECK(herd_tokenizer_load_file(gguf_path, NULL, &t) == HERD_OK);
    if (t) {
        check_corpus(t, "tokenizer/corpus.llama4.ids", "llama4 via gguf");
        CHECK_EQ_INT(herd_tokenizer_vocab_size(t), 202048);
        CHECK_EQ_INT(herd_tokenizer_special_id(t, "<|eot|>"), 200008);
        CHECK_EQ_INT(herd_tokenizer_bos(t), 200000);
        CHECK(herd_tokenizer_is_stop(t, 200008) && herd_tokenizer_is_stop(t, 200007) &&
              herd_tokenizer_is_stop(t, 200001));
        /* Chat through the GGUF tokenizer equals chat through the rank file. */
        herd_chat_message m[] = {{"system", "Be kind."}, {"user", "Ça va? 12345 👋🏽"}};
        herd_tokens a = {0}, b = {0};
        CHECK(herd_chat_render(src, m, 2, true, &a) == HERD_OK);
        CHECK(herd_chat_render(t, m, 2, true, &b) == HERD_OK);
        CHECK(a.n == b.n && memcmp(a.ids, b.ids, a.n * sizeof *a.ids) == 0);
        herd_tokens_free(&a);
        herd_tokens_free(&b);
    }
    herd_tokenizer_free(t);
    herd_tokenizer_free(src);
}

TEST(tokenizer_json_via_gguf)
{
    const char *files[] = {"tokenizer/hf/o200k_4k.tokenizer.json", "tokenizer/tiny/tokenizer.json"};
    for (int k = 0; k < 2; k++) {
        herd_tokenizer *src, *t = NULL;
        CHECK(herd_tokenizer_load_json(files[k], &src) == HERD_OK);
        if (!write_gguf(src, NULL))
            return;
        CHECK(herd_tokenizer_load_gguf(gguf_path, &t) == HERD_OK);
        if (t && k == 0)
            check_corpus(t, "tokenizer/hf/corpus.o200k_4k.ids", "o200k_4k via gguf");
        if (t && k == 1) { /* same ids as the tokenizer.json on every line, specials too */
            line_file text = lines_read("tokenizer/corpus.txt");
            for (size_t i = 0; i < text.n; i++) {
                herd_tokens want = {0};
                herd_tokenizer_encode(src, text.line[i], text.len[i], HERD_ENCODE_SPECIAL, &want);
                check_encoding(t, text.line[i], text.len[i], HERD_ENCODE_SPECIAL, &want, "tiny");
                herd_tokens_free(&want);
            }
            lines_free(&text);
            CHECK_EQ_INT(herd_tokenizer_special_id(t, "<|eot|>"), 8);
        }
        herd_tokenizer_free(t);
        herd_tokenizer_free(src);
    }
}

static void set_model_llama(herd_gguf_writer *w)
{
    herd_gguf_set_str(w, "tokenizer.ggml.model", "llama");
}
static void set_pre_unknown(herd_gguf_writer *w)
{
    herd_gguf_set_str(w, "tokenizer.ggml.pre", "qwen2");
}
static void set_bad_merges(herd_gguf_writer *w)
{
    const char *m[] = {"Ġ Ġ", "nospace"};
    herd_gguf_set_str_arr(w, "tokenizer.ggml.merges", m, NULL, 2);
}
static void set_bad_token(herd_gguf_writer *w)
{
    const char *t[] = {"a", "b\x01"};
    herd_gguf_set_str_arr(w, "tokenizer.ggml.tokens", t, NULL, 2);
    int32_t types[2] = {1, 1};
    herd_gguf_set_arr(w, "tokenizer.ggml.token_type", HERD_GGUF_INT32, types, 2);
}
static void set_short_types(herd_gguf_writer *w)
{
    int32_t types[1] = {1};
    herd_gguf_set_arr(w, "tokenizer.ggml.token_type", HERD_GGUF_INT32, types, 1);
}

TEST(broken_gguf_tokenizers)
{
    herd_tokenizer *src, *t = NULL;
    CHECK(herd_tokenizer_load_json("tokenizer/tiny/tokenizer.json", &src) == HERD_OK);
    struct {
        void (*edit)(herd_gguf_writer *);
        const char *message;
    } cases[] = {{set_model_llama, "is not supported"},
                 {set_pre_unknown, "'qwen2' is not supported"},
                 {set_bad_merges, "merge 1 is not"},
                 {set_bad_token, "token 1 is not byte-level text"},
                 {set_short_types, "one type per token"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (!write_gguf(src, cases[i].edit))
            continue;
        CHECK(herd_tokenizer_load_gguf(gguf_path, &t) != HERD_OK && !t);
        CHECK_MSG(strstr(herd_last_error(), cases[i].message) &&
                      strstr(herd_last_error(), gguf_path),
                  "case %zu: message '%s'", i, herd_last_error());
    }
    /* A GGUF without a tokenizer. */
    herd_gguf_writer *w;
    CHECK(herd_gguf_writer_create(&w) == HERD_OK);
    herd_gguf_set_u32(w, "general.alignment", 32);
    CHECK(herd_gguf_writer_begin(w, gguf_path) == HERD_OK && herd_gguf_writer_commit(w) == HERD_OK);
    herd_gguf_writer_free(w);
    CHECK(herd_tokenizer_load_gguf(gguf_path, &t) == HERD_ERR_FORMAT);
    CHECK(strstr(herd_last_error(), "no tokenizer in the GGUF file") != NULL);
    herd_tokenizer_free(src);
}

int main(void)
{
    snprintf(gguf_path, sizeof gguf_path, "/tmp/herd-test-vocab-%d.gguf", (int)getpid());
    RUN(llama4_via_gguf);
    RUN(tokenizer_json_via_gguf);
    RUN(broken_gguf_tokenizers);
    unlink(gguf_path);
    return harness_finish();
}
