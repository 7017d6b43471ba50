/* Fuzzes the Hugging Face tokenizer.json loader (byte-level vocab, merges in both spellings,
 * added tokens, pre-tokenizer forms and their regex), then encodes sample text with the result. */
#include "tok_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_mem_file(0, data, size);
    herd_tokenizer *tok;
    if (herd_tokenizer_load_json(path, &tok) != HERD_OK) {
        fuzz_check_message(herd_last_error());
        return 0;
    }
    tok_check_samples(tok);
    herd_tokenizer_free(tok);
    return 0;
}
