/* Checks shared by the tokenizer harnesses: whatever a loaded tokenizer is, encoding any bytes
 * and decoding the ids gives the bytes back, whole and streaming. */
#ifndef HERD_FUZZ_TOK_CHECK_H
#define HERD_FUZZ_TOK_CHECK_H

#include "fuzz_util.h"
#include "herd/text.h"

static inline void tok_round_trip(const herd_tokenizer *tok, const uint8_t *s, size_t n,
                                  unsigned flags)
{
    herd_tokens ids = {0};
    herd_status st = herd_tokenizer_encode(tok, (const char *)s, n, flags, &ids);
    if (st != HERD_OK) { /* only BOS without a <|begin_of_text|>, or a regex limit */
        fuzz_check_message(herd_last_error());
        herd_tokens_free(&ids);
        return;
    }
    size_t skip = (flags & HERD_ENCODE_BOS) ? 1 : 0;
    FUZZ_ASSERT(ids.n >= skip);
    char *text = NULL;
    size_t len = 0;
    FUZZ_ASSERT(herd_tokenizer_decode(tok, ids.n ? ids.ids + skip : NULL, ids.n - skip, 0, &text,
                                      &len) == HERD_OK);
    FUZZ_ASSERT(len == n && memcmp(text, s, n) == 0);
    free(text);

    herd_decoder d;
    herd_decoder_init(&d, tok, 0);
    size_t at = 0;
    for (size_t i = skip; i < ids.n; i++) {
        const char *piece;
        size_t pl;
        FUZZ_ASSERT(herd_decoder_push(&d, ids.ids[i], &piece, &pl) == HERD_OK);
        FUZZ_ASSERT(pl <= n - at && memcmp(piece, s + at, pl) == 0);
        at += pl;
    }
    const char *piece;
    size_t pl;
    herd_decoder_finish(&d, &piece, &pl);
    FUZZ_ASSERT(pl == n - at && memcmp(piece, s + at, pl) == 0);
    herd_decoder_free(&d);
    herd_tokens_free(&ids);
}

/* A few texts that reach every pre-tokenizer branch. */
static inline void tok_check_samples(const herd_tokenizer *tok)
{
    static const char sample[] = "Hello, world! It's 2024... \xC3\xA9t\xC3\xA9 \xE4\xB8\xAD\xE6\x96"
                                 "\x87\n\n  \t<|eot|> don't\xF0\x9F\x98\x80 \xFF\xC3(\r\n123456";
    tok_round_trip(tok, (const uint8_t *)sample, sizeof sample - 1, 0);
    tok_round_trip(tok, (const uint8_t *)sample, sizeof sample - 1, HERD_ENCODE_SPECIAL);
    int32_t n = herd_tokenizer_vocab_size(tok);
    FUZZ_ASSERT(n >= 256);
    size_t len;
    (void)herd_tokenizer_token_bytes(tok, n - 1, &len);
    FUZZ_ASSERT(herd_tokenizer_token_bytes(tok, n, &len) == NULL);
}

#endif
