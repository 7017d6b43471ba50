#!/usr/bin/env python3
"""Writes tests/data/tokenizer/tiny/tokenizer.json: a 512-token byte-level BPE tokenizer that
fits the tiny random Llama 4 test models (vocab_size 512), for the chat tests.

Ids 0..99 are the first 100 Llama 4 special tokens at their Llama 4 index (so <|eot|> is 8,
<|patch|> 92, matching the tiny configs' pad 18 / boi 80 / image 92), 100..355 the 256 bytes,
and 356..511 the first 156 merges of o200k_4k.tokenizer.json whose parts are already tokens.

usage: make_tiny_tokenizer.py TESTS_DATA_TOKENIZER_DIR
"""
import json
import sys

d = sys.argv[1]
specials = [l.split("\t")[1] for l in open(f"{d}/llama4_special_tokens.tsv", encoding="utf-8")][1:101]
src = json.load(open(f"{d}/hf/o200k_4k.tokenizer.json", encoding="utf-8"))

# GPT-2 bytes_to_unicode
bs = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
cs = bs[:]
n = 0
for b in range(256):
    if b not in bs:
        bs.append(b)
        cs.append(256 + n)
        n += 1
byte_char = {b: chr(c) for b, c in zip(bs, cs)}

vocab = {byte_char[b]: 100 + b for b in range(256)}
merges = []
for a, b in src["model"]["merges"]:
    if len(vocab) == 412:
        break
    if a in vocab and b in vocab and a + b not in vocab:
        vocab[a + b] = 100 + len(vocab)
        merges.append([a, b])

tok = {
    "version": "1.0",
    "truncation": None,
    "padding": None,
    "added_tokens": [
        {"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for i, s in enumerate(specials)
    ],
    "normalizer": None,
    "pre_tokenizer": src["pre_tokenizer"],
    "post_processor": None,
    "decoder": src["decoder"],
    "model": {"type": "BPE", "dropout": None, "unk_token": None,
              "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": False,
              "byte_fallback": False, "ignore_merges": True, "vocab": vocab, "merges": merges},
}
json.dump(tok, open(f"{d}/tiny/tokenizer.json", "w", encoding="utf-8"), ensure_ascii=False,
          indent=1)
print(len(vocab) + len(specials), "tokens,", len(merges), "merges")
