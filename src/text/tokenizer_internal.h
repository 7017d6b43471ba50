/* Inside the tokenizer: the id table, the byte-string hash maps, the merge-pair map and the
 * pre-tokenizer. Shared by the files of src/text/ and by tests/text (white-box checks). */
#ifndef HERD_TEXT_TOKENIZER_INTERNAL_H
#define HERD_TEXT_TOKENIZER_INTERNAL_H

#include "herd/text.h"

#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* Ids above this are refused when loading (keeps a hostile file from asking for huge tables:
 * the id tables take 9 bytes per id up to the highest, so one line "AA== 16777215" cost 150 MB;
 * 2^20 is 4x the largest real vocabularies and caps them at 9 MB). */
#define TOK_MAX_IDS (1 << 20)
/* Merge lists longer than this are refused before any table is built (Llama 3/4's have ~2.2
 * merges per id; 4 per id of the largest vocabulary allowed leaves room; the pair table then
 * costs at most 128 MB). */
#define TOK_MAX_MERGES (4u << 20)

enum { TOK_PRESENT = 1, TOK_SPECIAL = 2, TOK_ORDINARY = 4 };

/* Byte string -> id, open addressing. A slot keeps the key's first 8 bytes and its length, so
 * a lookup of a key of up to 8 bytes (most pre-token pieces) touches one cache line; longer
 * keys compare the rest in the blob. */
typedef struct tok_slot {
    uint64_t head; /* the key's first 8 bytes, zero-padded */
    uint32_t id1;  /* id + 1, 0 = empty */
    uint32_t len;
} tok_slot;
typedef struct tok_map {
    tok_slot *slots;
    size_t mask; /* capacity - 1 (capacity a power of two), 0 when empty */
    size_t count;
} tok_map;

/* (left id, right id) -> (merge rank, merged id), for tokenizer.json merges. */
typedef struct tok_pair {
    uint64_t key; /* left << 32 | right, UINT64_MAX = empty */
    uint32_t rank, id;
} tok_pair;

struct herd_tokenizer {
    char *source; /* the file it came from, for messages */
    /* id -> bytes */
    int32_t n_ids, cap_ids;
    uint32_t *off, *len;
    uint8_t *flags;
    uint8_t *blob;
    size_t blob_len, blob_cap;
    /* bytes -> id */
    tok_map ordinary;          /* BPE vocabulary */
    tok_map special;           /* special tokens, matched only with HERD_ENCODE_SPECIAL */
    uint8_t special_first[32]; /* bitmap of first bytes of special tokens */
    uint32_t special_lens[64]; /* distinct special lengths, longest first */
    int n_special_lens;
    int32_t byte_id[256];
    /* merges: tiktoken files rank a pair by the rank of its concatenation (rank == id);
     * tokenizer.json files by the merge list (pairs). */
    bool use_pairs;
    bool ignore_merges; /* a whole piece that is in the vocabulary is emitted as is */
    tok_pair *pairs;
    size_t pair_mask;
    /* pre-tokenizer */
    char *pattern; /* as given (before the PCRE2 rewrite) */
    pcre2_code *re;
    bool jit;
    /* stop tokens */
    int32_t *stops;
    size_t n_stops;
};

/* ---- tokenizer.c: the tables ---- */
herd_status tok_create(const char *source, herd_tokenizer **out);
/* Sets token `id` to `bytes` (ordinary vocabulary or special). Fails on duplicates. */
herd_status tok_set(herd_tokenizer *t, int32_t id, const uint8_t *bytes, size_t len, bool special);
static inline uint64_t tok_hash(const uint8_t *p, size_t n, uint64_t *head)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull), w = 0;
    memcpy(&w, p, n < 8 ? n : 8);
    *head = w;
    while (n > 8) {
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        p += 8;
        n -= 8;
        w = 0;
        memcpy(&w, p, n < 8 ? n : 8);
    }
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
}

/* The id of key[0..len) in the map, or -1. */
static inline int32_t tok_map_find(const herd_tokenizer *t, const tok_map *m, const uint8_t *key,
                                   size_t len)
{
    if (!m->mask)
        return -1;
    uint64_t head;
    for (size_t i = tok_hash(key, len, &head) & m->mask;; i = (i + 1) & m->mask) {
        const tok_slot *s = &m->slots[i];
        if (!s->id1)
            return -1;
        if (s->len == len && s->head == head &&
            (len <= 8 || memcmp(t->blob + t->off[s->id1 - 1] + 8, key + 8, len - 8) == 0))
            return (int32_t)s->id1 - 1;
    }
}
herd_status tok_pairs_build(herd_tokenizer *t, size_t n_pairs);
herd_status tok_pair_add(herd_tokenizer *t, int32_t left, int32_t right, uint32_t rank, int32_t id);
const tok_pair *tok_pair_find(const herd_tokenizer *t, int32_t left, int32_t right);
/* Checks all 256 bytes have a token and fills byte_id; adds default stop ids. */
herd_status tok_finish(herd_tokenizer *t);
void tok_add_llama4_specials(herd_tokenizer *t, int32_t first_id, herd_status *st);

/* ---- pretokenize.c ---- */
/* Compiles `pattern` (Rust-regex / Oniguruma syntax as used by tiktoken and HF) with PCRE2. */
herd_status tok_compile_pattern(herd_tokenizer *t, const char *pattern);
/* Rewrites \s and \S to Unicode White_Space classes; returns malloc'd text or NULL (no memory). */
char *tok_rewrite_pattern(const char *pattern);

/* ---- bpe.c ---- */
typedef struct bpe_work {
    uint32_t *a, *b, *c, *d; /* per-byte scratch (sized cap) */
    void *heap;
    size_t cap, heap_cap;
    uint32_t rank_limit; /* if not 0, only pairs of a lower rank merge (deriving merges) */
} bpe_work;
/* Appends the ids of one pre-token piece. */
herd_status bpe_encode_piece(const herd_tokenizer *t, const uint8_t *p, size_t n, bpe_work *w,
                             herd_tokens *out);
void bpe_work_free(bpe_work *w);
/* For a rank file: the two tokens whose merge makes token `id` (BPE of its bytes with only
 * lower ranks); false if they do not come out as exactly two tokens. */
bool bpe_split_token(const herd_tokenizer *t, int32_t id, bpe_work *w, int32_t *left,
                     int32_t *right);
/* Pieces up to this many bytes use the simple scan, longer ones the heap (tests change it). */
extern size_t bpe_small_limit;

/* ---- byte_level.c ---- */
/* GPT-2 byte-level text -> bytes; the length, or -1 (a character outside the alphabet, or more
 * than cap bytes). */
long tok_byte_level_decode(const char *s, size_t n, uint8_t *out, size_t cap);
/* Bytes -> byte-level text (at most 2n bytes, not terminated); returns the length. */
size_t tok_byte_level_encode(const uint8_t *b, size_t n, char *out);
/* Adds merge number `index`: the byte-level tokens a and b (both in the vocabulary, and their
 * concatenation too). */
herd_status tok_add_merge(herd_tokenizer *t, const char *path, size_t index, const char *a,
                          size_t an, const char *b, size_t bn);

/* ---- utf8 helpers (tokenizer.c) ---- */
/* Decodes one UTF-8 character at s[0..n); returns its length (1..4) and sets *cp, or 0 if the
 * bytes there are not a valid (shortest-form, non-surrogate) character. */
size_t tok_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);

#endif
