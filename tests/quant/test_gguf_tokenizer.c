/* The tokenizer travels through GGUF: tokenizer.json -> tokenizer.ggml.* (herd quantize's
 * writer, src/model/gguf_tokenizer.c) -> the text layer's herd_tokenizer_load_gguf encodes and
 * decodes exactly like the tokenizer.json it came from. */
#include "harness.h"
#include "herd/model_gguf.h"
#include "herd/quant.h"
#include "herd/text.h"

#include <unistd.h>

static char path[64];

TEST(same_as_json)
{
    herd_quantize_opts o = {.type = HERD_TYPE_BF16, .tokenizer = "tokenizer/tiny/tokenizer.json"};
    herd_quant_policy_load("uniform", &o.policy);
    herd_quantize_report r;
    herd_status st = herd_quantize_model("llama4/tiny-scout", path, &o, &r);
    CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
    herd_tokenizer *a = NULL, *b = NULL;
    CHECK(herd_tokenizer_load_json("tokenizer/tiny/tokenizer.json", &a) == HERD_OK);
    st = herd_tokenizer_load_gguf(path, &b);
    CHECK_MSG(st == HERD_OK, "%s", herd_last_error());
    if (!a || !b) {
        herd_tokenizer_free(a);
        herd_tokenizer_free(b);
        return;
    }
    CHECK_EQ_INT(herd_tokenizer_vocab_size(a), herd_tokenizer_vocab_size(b));
    static const char *const texts[] = {
        "Hello, world! The quick brown fox jumps over the lazy dog.",
        "<|begin_of_text|><|header_start|>user<|header_end|>\n\nHi there<|eot|>",
        "  spaces\tand\nnewlines\r\n 123 4567 89",
        "caf\xc3\xa9 na\xc3\xafve \xe2\x82\xac 5 \xf0\x9f\x98\x80 \xff\xfe invalid",
        "",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        for (unsigned flags = 0; flags < 4; flags++) {
            herd_tokens ta = {0}, tb = {0};
            CHECK(herd_tokenizer_encode(a, texts[i], strlen(texts[i]), flags, &ta) == HERD_OK);
            CHECK(herd_tokenizer_encode(b, texts[i], strlen(texts[i]), flags, &tb) == HERD_OK);
            CHECK_MSG(ta.n == tb.n && (ta.n == 0 || memcmp(ta.ids, tb.ids, ta.n * 4) == 0),
                      "text %zu flags %u: %zu vs %zu ids", i, flags, ta.n, tb.n);
            char *da = NULL, *db = NULL;
            size_t la = 0, lb = 0;
            CHECK(herd_tokenizer_decode(a, ta.ids, ta.n, 0, &da, &la) == HERD_OK);
            CHECK(herd_tokenizer_decode(b, tb.ids, tb.n, 0, &db, &lb) == HERD_OK);
            CHECK(la == lb && memcmp(da, db, la) == 0);
            free(da);
            free(db);
            herd_tokens_free(&ta);
            herd_tokens_free(&tb);
        }
    int32_t eot = herd_tokenizer_special_id(b, "<|eot|>");
    CHECK(eot >= 0 && eot == herd_tokenizer_special_id(a, "<|eot|>"));
    CHECK(herd_tokenizer_is_stop(b, eot));
    herd_tokenizer_free(a);
    herd_tokenizer_free(b);
}

TEST(no_tokenizer)
{
    herd_quantize_opts o = {.type = HERD_TYPE_BF16};
    herd_quant_policy_load("uniform", &o.policy);
    herd_quantize_report r;
    CHECK(herd_quantize_model("llama4/tiny-scout", path, &o, &r) == HERD_OK);
    herd_tokenizer *b = NULL;
    CHECK(herd_tokenizer_load_gguf(path, &b) != HERD_OK);
    CHECK(strstr(herd_last_error(), "tokenizer") != NULL);
    CHECK(strchr(herd_last_error(), '\n') == NULL);
    herd_tokenizer_free(b);
}

int main(void)
{
    snprintf(path, sizeof path, "/tmp/herd_test_gguf_tok_%ld.gguf", (long)getpid());
    RUN(same_as_json);
    RUN(no_tokenizer);
    unlink(path);
    return harness_finish();
}
