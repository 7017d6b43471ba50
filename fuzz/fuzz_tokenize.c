/* Fuzzes the tokenize/chat input path: arbitrary bytes (any UTF-8 or not, special-token text)
 * through Meta's Llama 4 tokenizer, with and without special tokens and BOS, and as a chat
 * message; decoding must give the bytes back. The first input byte picks the flags. */
#include "tok_check.h"

static herd_tokenizer *tok;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (herd_tokenizer_load_tiktoken(HERD_TEST_DATA "/tokenizer/llama4/tokenizer.model", NULL,
                                     &tok) != HERD_OK) {
        fprintf(stderr, "%s\n", herd_last_error());
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tok)
        LLVMFuzzerInitialize(NULL, NULL);
    if (size == 0)
        return 0;
    unsigned mode = data[0];
    data++;
    size--;
    tok_round_trip(tok, data, size, mode & (HERD_ENCODE_SPECIAL | HERD_ENCODE_BOS));
    if (mode & 4) { /* as chat messages: the text may not inject special tokens */
        char *text = malloc(size + 1);
        FUZZ_ASSERT(text);
        memcpy(text, data, size);
        text[size] = 0;
        herd_chat_message msgs[2] = {{"system", text}, {"user", text}};
        herd_tokens ids = {0};
        FUZZ_ASSERT(herd_chat_render(tok, msgs, 2, true, &ids) == HERD_OK);
        int32_t eot = herd_tokenizer_special_id(tok, "<|eot|>");
        size_t n_eot = 0;
        for (size_t i = 0; i < ids.n; i++)
            n_eot += ids.ids[i] == eot;
        FUZZ_ASSERT(n_eot == 2);
        herd_tokens_free(&ids);
        free(text);
    }
    return 0;
}
