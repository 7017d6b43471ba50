/* herd model: Llama 4 in GGUF files. The llama4 metadata (llama.cpp's keys, plus herd.* keys
 * for what llama.cpp hard-codes) to and from herd_llama4_config, and a weight source that hands
 * the model mapped rows in the file's own types. */
#ifndef HERD_MODEL_GGUF_H
#define HERD_MODEL_GGUF_H

#include "herd/io_gguf.h"
#include "herd/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes general.architecture and the llama4.* / herd.* keys of c. The standard keys always
 * carry what llama.cpp reads (sizes, experts, interleave, sliding_window and its pattern), so a
 * checkpoint llama.cpp can express is computed alike by both (herd_llama4_llamacpp_gaps names
 * what it cannot). herd.* keys only add what llama.cpp hard-codes. With
 * llama_cpp_only, no herd.* keys: herd then reads the file by llama.cpp's rules too (chunk 8192,
 * NoPE every 4th layer, temperature-tuning floor 8192), so both compute llama.cpp's model. */
herd_status herd_llama4_gguf_set_meta(herd_gguf_writer *w, const herd_llama4_config *c,
                                      bool llama_cpp_only);
/* What llama.cpp (v0.4.0, which hard-codes part of Llama 4) would compute differently from c's
 * model given c's file: a "; "-separated description into buf (n bytes, truncated) and the
 * number of differences; 0 when both engines compute the same model. herd quantize and bench
 * model --write-gguf warn with it. */
int herd_llama4_llamacpp_gaps(const herd_llama4_config *c, char *buf, size_t n);
/* The rope_freqs.weight values llama.cpp uses for Llama-3 RoPE scaling: head_dim/2 divisors of
 * the unscaled inverse frequencies. False (nothing written) when c has no such scaling. */
bool herd_llama4_rope_freqs(const herd_llama4_config *c, float *out);
/* Reads the config of a llama4 GGUF (herd's or llama.cpp's). */
herd_status herd_llama4_config_from_gguf(const herd_gguf *g, herd_llama4_config *out);

/* Writes tokenizer.ggml.* (llama.cpp's "gpt2"/"llama4" byte-level BPE) from an HF
 * tokenizer.json, padding the vocabulary to config_vocab ids, plus tokenizer.chat_template from
 * tokenizer_config.json beside it when present. */
herd_status herd_gguf_set_tokenizer(herd_gguf_writer *w, const char *tokenizer_json,
                                    int64_t config_vocab);

/* Opens a llama4 GGUF as a weight source and reads its config. Matrices are handed out as
 * mapped rows in the file's types (herd_pack converts or copies them); the expert tensors
 * {K, N, E} give expert e's N rows in place. */
herd_status herd_gguf_source_open(const char *path, herd_llama4_config *cfg,
                                  herd_weight_source *out);
/* True if path is a file that starts with the GGUF magic. */
bool herd_is_gguf_file(const char *path);

#ifdef __cplusplus
}
#endif
#endif
