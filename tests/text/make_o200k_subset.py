#!/usr/bin/env python3
"""Writes the subset of a tiktoken rank file that the tokenizer tests need.

BPE only ever forms tokens whose bytes occur inside the text being encoded, so keeping every
token that is a substring of some test text (plus all 256 single bytes) gives exactly the ids
the full vocabulary gives on those texts, whatever the merge order. Ranks are kept as they are.

usage: make_o200k_subset.py FULL.tiktoken TESTDATA_DIR OUT.tiktoken
(TESTDATA_DIR holds corpus.txt, cases.jsonl, specials.jsonl, hf/cases.o200k_4k.jsonl)
"""
import base64
import json
import sys

full, data, out = sys.argv[1:4]
texts = [open(f"{data}/corpus.txt", "rb").read()]
for name in ["cases.jsonl", "specials.jsonl", "hf/cases.o200k_4k.jsonl"]:
    for line in open(f"{data}/{name}", encoding="utf-8"):
        texts.append(json.loads(line)["text"].encode("utf-8"))
blob = b"\xff\xfe".join(texts)  # a separator no token spans in the texts themselves
kept = []
for line in open(full, "rb"):
    if not line.strip():
        continue
    tok, rank = line.split()
    b = base64.b64decode(tok)
    if len(b) == 1 or b in blob:
        kept.append(line)
open(out, "wb").writelines(kept)
print(f"{len(kept)} ranks kept")
