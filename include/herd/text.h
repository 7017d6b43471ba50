/* herd text layer: the exact Llama 4 (o200k-style) tokenizer and the Llama 4 chat template.
 *
 * A tokenizer is byte-level BPE: a PCRE2 pre-tokenizer splits UTF-8 text into pieces with the
 * o200k pattern, and each piece is merged by rank over its bytes. It loads from a tiktoken rank
 * file (.tiktoken, Meta's tokenizer.model), a Hugging Face tokenizer.json, or a model
 * directory. A loaded tokenizer is immutable, so one may be shared by threads.
 * See docs/TOKENIZER.md for the exact rules (special tokens, invalid UTF-8, stop tokens). */
#ifndef HERD_TEXT_H
#define HERD_TEXT_H

#include "herd/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- token id lists ------------------------------------------------------------------------ */
typedef struct herd_tokens {
    int32_t *ids;
    size_t n, cap;
} herd_tokens;
herd_status herd_tokens_push(herd_tokens *t, int32_t id);
herd_status herd_tokens_append(herd_tokens *t, const int32_t *ids, size_t n);
void herd_tokens_free(herd_tokens *t); /* frees and zeroes; a zeroed herd_tokens is empty */

/* ---- loading ------------------------------------------------------------------------------- */
typedef struct herd_tokenizer herd_tokenizer;

/* The o200k_base / Llama 4 pre-tokenizer pattern (the default for rank files). */
extern const char herd_o200k_pattern[];
/* The longest pre-tokenizer pattern accepted (o200k's is under 1 KB). */
#define HERD_PATTERN_MAX_BYTES ((size_t)64 << 10)

/* A tiktoken rank file ("base64(bytes) rank" per line). `pattern` NULL means the o200k pattern.
 * A file of exactly 200,000 ranks (0..199999) gets Meta's 2,048 Llama 4 special tokens at ids
 * 200000..202047; other files get none (add them with herd_tokenizer_load_specials). */
herd_status herd_tokenizer_load_tiktoken(const char *path, const char *pattern,
                                         herd_tokenizer **out);
/* A Hugging Face tokenizer.json with a byte-level BPE model (merges as "a b" or ["a","b"]). */
herd_status herd_tokenizer_load_json(const char *path, herd_tokenizer **out);
/* Any of these, told apart by the file's start ('{' JSON, "GGUF" GGUF, else a rank file). */
herd_status herd_tokenizer_load_file(const char *path, const char *pattern, herd_tokenizer **out);
/* A model directory: DIR/tokenizer.json, else DIR/tokenizer.model, else
 * DIR/original/tokenizer.model (or DIR may be a .gguf file). Also reads
 * DIR/generation_config.json's eos_token_id (one id or a list) into the stop set when present. */
herd_status herd_tokenizer_load_dir(const char *dir, herd_tokenizer **out);
/* A GGUF file's tokenizer (llama.cpp's tokenizer.ggml.* keys, model "gpt2"; pre "llama4",
 * "gpt-4o", "llama-bpe"/"llama3", "gpt2"/"default"); from a path or an open file. */
struct herd_gguf;
struct herd_gguf_writer;
herd_status herd_tokenizer_load_gguf(const char *path, herd_tokenizer **out);
herd_status herd_tokenizer_from_gguf(const struct herd_gguf *g, herd_tokenizer **out);
/* Writes the tokenizer into a GGUF being built: tokens, types, merges (derived from the ranks for
 * a rank file), model "gpt2", pre "llama4" for the o200k pattern, and the bos/eos/eot/eom/pad
 * ids unless already set. llama.cpp can load the result. */
herd_status herd_tokenizer_write_gguf(const herd_tokenizer *tok, struct herd_gguf_writer *w);
/* Adds special tokens from a TSV file: "id<TAB>text[<TAB>anything]" per line; a first line
 * that does not start with a digit is a header. Ids may extend the vocabulary. */
herd_status herd_tokenizer_load_specials(herd_tokenizer *tok, const char *tsv_path);
herd_status herd_tokenizer_add_special(herd_tokenizer *tok, int32_t id, const char *text);
void herd_tokenizer_free(herd_tokenizer *tok);

/* ---- inspecting ---------------------------------------------------------------------------- */
int32_t herd_tokenizer_vocab_size(const herd_tokenizer *tok); /* highest id + 1 */
/* The id of a special token's text ("<|eot|>"), or -1. */
int32_t herd_tokenizer_special_id(const herd_tokenizer *tok, const char *text);
bool herd_tokenizer_is_special(const herd_tokenizer *tok, int32_t id);
int32_t herd_tokenizer_bos(const herd_tokenizer *tok); /* <|begin_of_text|>, or -1 */
/* The bytes of one token (special tokens give their text); NULL for an unknown id. */
const uint8_t *herd_tokenizer_token_bytes(const herd_tokenizer *tok, int32_t id, size_t *len);

/* Stop tokens end generation: <|eot|>, <|eom|>, <|end_of_text|> when the vocabulary has them,
 * generation_config.json's eos_token_id (herd_tokenizer_load_dir) and any added here. */
bool herd_tokenizer_is_stop(const herd_tokenizer *tok, int32_t id);
size_t herd_tokenizer_stop_ids(const herd_tokenizer *tok, const int32_t **ids);
herd_status herd_tokenizer_add_stop(herd_tokenizer *tok, int32_t id);

/* ---- encoding and decoding ----------------------------------------------------------------- */
enum {
    HERD_ENCODE_SPECIAL = 1, /* special-token text becomes its id (tiktoken allowed_special="all");
                                without it, special-token text is plain text */
    HERD_ENCODE_BOS = 2,     /* prepend <|begin_of_text|> */
};
/* Appends the ids of text[0..len) to *out. Never fails on content: invalid UTF-8 bytes are
 * encoded losslessly as byte tokens (see docs/TOKENIZER.md). */
herd_status herd_tokenizer_encode(const herd_tokenizer *tok, const char *text, size_t len,
                                  unsigned flags, herd_tokens *out);

enum { HERD_DECODE_SKIP_SPECIAL = 1 };
/* Decodes ids to bytes: *text is malloc'd and NUL-terminated (free() it), *len its length. */
herd_status herd_tokenizer_decode(const herd_tokenizer *tok, const int32_t *ids, size_t n,
                                  unsigned flags, char **text, size_t *len);

/* Streaming decode for generation: push ids one at a time and get text that ends on a UTF-8
 * character boundary; bytes of a character split across tokens are held until it completes.
 * Invalid UTF-8 is passed through as bytes, never held forever. */
typedef struct herd_decoder {
    const herd_tokenizer *tok;
    unsigned flags;
    uint8_t held[4];
    size_t n_held;
    char *buf;
    size_t cap;
} herd_decoder;
void herd_decoder_init(herd_decoder *d, const herd_tokenizer *tok, unsigned flags);
/* *text (valid until the next call) gets the printable bytes now complete; *len may be 0. */
herd_status herd_decoder_push(herd_decoder *d, int32_t id, const char **text, size_t *len);
/* Returns whatever is still held (an incomplete character at the end of a stream). */
void herd_decoder_finish(herd_decoder *d, const char **text, size_t *len);
void herd_decoder_free(herd_decoder *d);

/* ---- training a tokenizer ------------------------------------------------------------------
 * Byte-level BPE trained on text[0..len) (Llama 4 pre-tokenizer pattern, ties to the lower
 * ids): ids 0..255 the bytes, then the merges, then 11 Llama 4 special tokens (BOS
 * <|begin_of_text|> first), vocab ids in all; written to out_path as a tokenizer.json that herd
 * and Hugging Face `tokenizers` load. progress: merge counts on stderr. */
herd_status herd_bpe_train(const char *text, size_t len, int32_t vocab, const char *out_path,
                           bool progress);

/* ---- Llama 4 chat template -----------------------------------------------------------------
 * Builds ids directly: special tokens are inserted as ids, message text is encoded as plain
 * text (so a user typing "<|eot|>" cannot inject a special token). Equals HF's rendering of
 * the Jinja template followed by tokenization for text free of special-token strings:
 *   <|begin_of_text|>[<|header_start|>system<|header_end|>\n\n{system|trim}<|eot|>]
 *   (<|header_start|>{role}<|header_end|>\n\n{content}<|eot|>)* [<|header_start|>assistant
 *   <|header_end|>\n\n] */
typedef struct herd_chat_message {
    const char *role; /* "system", "user", "assistant", "ipython" */
    const char *content;
} herd_chat_message;
/* A whole conversation from its start (BOS). A first "system" message is trimmed. */
herd_status herd_chat_render(const herd_tokenizer *tok, const herd_chat_message *msgs, size_t n,
                             bool add_generation_prompt, herd_tokens *out);
/* Incremental pieces, for a chat that keeps its KV cache: the start (BOS and the optional system
 * block), one message block, and the assistant header that asks for a reply. */
herd_status herd_chat_begin(const herd_tokenizer *tok, const char *system, herd_tokens *out);
herd_status herd_chat_add_message(const herd_tokenizer *tok, const char *role, const char *content,
                                  herd_tokens *out);
herd_status herd_chat_add_generation_prompt(const herd_tokenizer *tok, herd_tokens *out);
/* A message with n_images image items before its text: each renders as the <|image|> id (the
 * caller expands it into the image's block, spec §11.4); "\n\n", the images and the text are
 * then separate pieces, as tokenizing the rendered template splits them. */
herd_status herd_chat_add_message_images(const herd_tokenizer *tok, const char *role, int n_images,
                                         const char *content, herd_tokens *out);

#ifdef __cplusplus
}
#endif
#endif
