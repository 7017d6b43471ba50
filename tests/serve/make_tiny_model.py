#!/usr/bin/env python3
"""Makes a tiny Llama 4 checkpoint that carries the real Llama 4 tokenizer, for the server
tests: tiny-scout's layers (hidden 64, 4 layers, 4 experts) with a 202,048-row embedding and
lm_head (row r is tiny-scout's row r % 512 with its columns rotated by r // 512, so rows
differ), the special-token ids of Llama 4 in config.json, and tokenizer.model copied in.

usage: make_tiny_model.py TESTS_DATA_DIR OUT_DIR   (about 50 MB written, a second or two)
"""
import json
import os
import shutil
import struct
import sys

data, out = sys.argv[1], sys.argv[2]
src = os.path.join(data, "llama4", "tiny-scout")
os.makedirs(out, exist_ok=True)
VOCAB = 202048

cfg = json.load(open(os.path.join(src, "config.json")))
t = cfg["text_config"]
t.update(vocab_size=VOCAB, bos_token_id=200000, eos_token_id=[200001, 200007, 200008],
         pad_token_id=200018)
cfg.update(boi_token_index=200080, eoi_token_index=200081, image_token_index=200092)
json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=2)
shutil.copy(os.path.join(data, "tokenizer", "llama4", "tokenizer.model"),
            os.path.join(out, "tokenizer.model"))

f = open(os.path.join(src, "model.safetensors"), "rb")
n = struct.unpack("<Q", f.read(8))[0]
header = json.loads(f.read(n))
blob = f.read()
tensors = {}
for name, info in header.items():
    if name == "__metadata__":
        continue
    a, b = info["data_offsets"]
    tensors[name] = (info["dtype"], info["shape"], blob[a:b])


def widen(name):
    dtype, shape, raw = tensors[name]
    rows, cols = shape
    width = cols * 2  # bf16
    base = [raw[r * width:(r + 1) * width] for r in range(rows)]
    rotations = (VOCAB + rows - 1) // rows
    table = [[row[(k % cols) * 2:] + row[:(k % cols) * 2] for row in base] for k in range(rotations)]
    body = b"".join(table[r // rows][r % rows] for r in range(VOCAB))
    tensors[name] = (dtype, [VOCAB, cols], body)


widen("language_model.model.embed_tokens.weight")
widen("language_model.lm_head.weight")

head, offset = {}, 0
for name in sorted(tensors):
    dtype, shape, raw = tensors[name]
    head[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
    offset += len(raw)
hj = json.dumps(head).encode()
hj += b" " * (-len(hj) % 8)
tmp = os.path.join(out, "model.safetensors.tmp")
with open(tmp, "wb") as w:
    w.write(struct.pack("<Q", len(hj)))
    w.write(hj)
    for name in sorted(tensors):
        w.write(tensors[name][2])
os.replace(tmp, os.path.join(out, "model.safetensors"))
