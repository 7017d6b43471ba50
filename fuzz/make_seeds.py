#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses to tests/data/fuzz/corpus/<harness>/ (small
valid files of each format, plus a few near-misses), from the standard library only. Run from
the repository root; the output is committed, so CI never runs this."""
import base64
import json
import os
import struct

ROOT = os.path.join("tests", "data", "fuzz", "corpus")


def put(harness, name, data):
    d = os.path.join(ROOT, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- .npy ----
def npy(shape, descr="<f4", fortran=False, version=1, data=None):
    sh = "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
    d = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, sh)
    pre = 10 if version == 1 else 12
    total = (pre + len(d) + 1 + 63) // 64 * 64
    d = d + " " * (total - pre - len(d) - 1) + "\n"
    head = b"\x93NUMPY" + bytes([version, 0])
    head += struct.pack("<H" if version == 1 else "<I", len(d))
    n = 1
    for s in shape:
        n *= s
    body = data if data is not None else struct.pack("<%df" % n, *[i * 0.5 for i in range(n)])
    return head + d.encode() + body


put("npy", "matrix", npy((3, 4)))
put("npy", "scalar", npy(()))
put("npy", "empty", npy((0,)))
put("npy", "v2", npy((2, 2, 2), version=2))
put("npy", "fortran", npy((2, 3), fortran=True))
put("npy", "f8", npy((2,), descr="<f8", data=b"\0" * 16))


# ---- GGUF ----
def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


SCALARS = [(0, "<B", 200), (1, "<b", -100), (2, "<H", 60000), (3, "<h", -30000),
           (4, "<I", 4000000000), (5, "<i", -2000000000), (6, "<f", 1.5), (7, "<B", 1),
           (10, "<Q", 2**63 + 5), (11, "<q", -2**62), (12, "<d", 2.25)]


def gguf(kvs, tensors, alignment=32, version=3):
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for k, v in kvs:
        out += gstr(k) + v
    off = 0
    infos, datas = b"", []
    for name, dims, tid, nbytes in tensors:
        infos += gstr(name) + struct.pack("<I", len(dims))
        infos += b"".join(struct.pack("<Q", d) for d in dims)
        infos += struct.pack("<IQ", tid, off)
        datas.append((off, bytes((i * 7 + 3) & 0xFF for i in range(nbytes))))
        off = (off + nbytes + alignment - 1) // alignment * alignment
    out += infos
    out += b"\0" * ((-len(out)) % alignment)
    data = bytearray()
    for o, b in datas:
        data += b"\0" * (o - len(data)) + b
    return out + bytes(data)


kvs = [("general.architecture", struct.pack("<I", 8) + gstr("llama4"))]
for t, fmt, v in SCALARS:
    kvs.append(("test.scalar.%d" % t, struct.pack("<I", t) + struct.pack(fmt, v)))
    kvs.append(("test.array.%d" % t,
                struct.pack("<IIQ", 9, t, 3) + struct.pack(fmt, v) * 3))
kvs.append(("test.strings", struct.pack("<IIQ", 9, 8, 3) + gstr("a") + gstr("") + gstr("\u00e9t\u00e9")))
kvs.append(("test.empty", struct.pack("<IIQ", 9, 4, 0)))
tensors = [("f32", [4, 2], 0, 32), ("f16", [8], 1, 16), ("q4_0", [32, 2], 2, 36),
           ("q8_0", [32], 8, 34), ("bf16", [2, 1, 1, 2], 30, 8), ("mxfp4", [32], 39, 17),
           ("q4_K", [256], 12, 144)]
put("gguf", "all_types", gguf(kvs, tensors))
put("gguf", "align64", gguf([("general.alignment", struct.pack("<II", 4, 64))],
                            [("a", [3], 0, 12), ("b", [5], 0, 20)], alignment=64))
put("gguf", "empty", gguf([], []))
put("gguf", "v2_meta_only", gguf(kvs[:5], [], version=2))


# ---- safetensors ----
def safetensors(entries, meta=None, pad=0):
    header = {}
    if meta is not None:
        header["__metadata__"] = meta
    data = b""
    for name, dtype, shape, nbytes in entries:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + nbytes]}
        data += bytes((i * 5 + 1) & 0xFF for i in range(nbytes))
    h = json.dumps(header).encode() + b" " * pad
    return struct.pack("<Q", len(h)) + h + data


put("safetensors", "small", safetensors(
    [("a.weight", "F32", [2, 3], 24), ("b", "BF16", [4], 8), ("c", "F16", [1], 2),
     ("d", "I64", [1], 8), ("e", "U8", [0], 0), ("f", "F4", [2], 1), ("g", "F6_E2M3", [4], 3)],
    meta={"format": "pt"}))
put("safetensors", "unaligned", safetensors([("x", "F32", [3], 12)], pad=3))
put("safetensors", "empty", safetensors([]))

# ---- sharded index (shards a, b, t, j are made by the harness) ----
put("st_index", "good", json.dumps({"metadata": {"total_size": 18}, "weight_map": {
    "x": "a.safetensors", "y": "a.safetensors", "z": "b.safetensors"}}))
put("st_index", "truncated_shard", json.dumps({"weight_map": {"w": "t.safetensors"}}))
put("st_index", "not_safetensors", json.dumps({"weight_map": {"w": "j.safetensors"}}))
put("st_index", "missing", json.dumps({"weight_map": {"q": "a.safetensors"}}))

# ---- config.json ----
for name in ("tiny-scout", "tiny-maverick"):
    with open(os.path.join("tests", "data", "llama4", name, "config.json")) as f:
        put("config", name, f.read())
put("config", "text_only", json.dumps({
    "architectures": ["Llama4ForCausalLM"], "hidden_size": 64, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": None, "attention_chunk_size": None,
    "layer_types": ["chunked_attention", "full_attention"], "moe_layers": [],
    "rope_parameters": {"rope_type": "llama3", "rope_theta": 1e4, "factor": 8.0,
                        "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                        "original_max_position_embeddings": 8192},
    "eos_token_id": 5}))
put("config", "model_type", json.dumps({"model_type": "llama4_text", "num_hidden_layers": 1,
                                        "rope_scaling": {"type": "default"}}))

# ---- tokenizer.json: byte-level BPE over 256 bytes and a few merges ----
def byte_chars():
    bs = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BC = byte_chars()


def bl(s):
    return "".join(BC[b] for b in s.encode())


merges = [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o"), (" ", "w"), ("o", "r"),
          (" w", "or"), ("l", "d"), (" wor", "ld")]
vocab = {BC[b]: b for b in range(256)}
for a, b in merges:
    vocab[bl(a + b)] = len(vocab)
o200k = open(os.path.join("tests", "data", "tokenizer", "o200k_base.pattern.txt")).read().strip()
tj = {"version": "1.0", "normalizer": None, "added_tokens": [
    {"id": len(vocab), "content": "<|eot|>", "special": True},
    {"id": len(vocab) + 1, "content": "<|begin_of_text|>", "special": True}],
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": o200k}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
         "use_regex": False}]},
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "ignore_merges": False,
              "byte_fallback": False, "vocab": vocab,
              "merges": [[bl(a), bl(b)] for a, b in merges]}}
put("tokenizer_json", "split_bytelevel", json.dumps(tj))
tj["model"]["merges"] = ["%s %s" % (bl(a), bl(b)) for a, b in merges]
tj["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True}
tj["model"]["ignore_merges"] = True
put("tokenizer_json", "legacy_gpt2", json.dumps(tj))

# ---- tiktoken rank files ----
ranks = [bytes([b]) for b in range(256)] + [(a + b).encode() for a, b in merges]
put("tiktoken", "small", "".join("%s %d\n" % (base64.b64encode(t).decode(), i)
                                 for i, t in enumerate(ranks)))
put("tiktoken", "crlf_gap", "".join("%s %d\r\n" % (base64.b64encode(t).decode(), i * 2)
                                    for i, t in enumerate(ranks)))
put("tiktoken", "specials", "#specials\nid\ttext\n200000\t<|begin_of_text|>\n200008\t<|eot|>\n"
    "7000\t<|x|>\textra\n")

# ---- tokenize: mode byte (1 special, 2 BOS, 4 chat) + text ----
with open(os.path.join("tests", "data", "tokenizer", "corpus.txt"), "rb") as f:
    lines = [l for l in f.read().split(b"\n") if l]
for i, l in enumerate(lines[:24]):
    put("tokenize", "line%02d" % i, bytes([i % 8]) + l[:300])
put("tokenize", "specials", b"\x05<|begin_of_text|><|header_start|>user<|header_end|>\n\nhi<|eot|>")
put("tokenize", "invalid_utf8", b"\x01\xff\xfe\xc3\x28\xe2\x82\xf0\x9f\x98 \xed\xa0\x80 \xc2\x85x")
put("tokenize", "long_word", b"\x00" + b"ab" * 300)

# ---- llama4 GGUFs (gguf_model): from `herd quantize tests/data/llama4/tiny-scout X.gguf
# --type q4_0` (and --llama-cpp), given as arguments; kept are the metadata and the global and
# layer-0 tensors of at most 16 KB (the others are dropped, the offsets rebuilt). ----
import sys


def read_gguf(path):
    b = open(path, "rb").read()
    pos = 8
    nt, nkv = struct.unpack_from("<QQ", b, pos)
    pos += 16
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

    def skip_value(p, t):
        if t == 8:
            n, = struct.unpack_from("<Q", b, p)
            return p + 8 + n
        if t == 9:
            et, n = struct.unpack_from("<IQ", b, p)
            p += 12
            for _ in range(n):
                p = skip_value(p, et)
            return p
        return p + sizes[t]

    kv_start = pos
    for _ in range(nkv):
        n, = struct.unpack_from("<Q", b, pos)
        pos += 8 + n
        t, = struct.unpack_from("<I", b, pos)
        pos = skip_value(pos + 4, t)
    kvs = b[kv_start:pos]
    infos = []
    for _ in range(nt):
        n, = struct.unpack_from("<Q", b, pos)
        name = b[pos + 8:pos + 8 + n]
        pos += 8 + n
        nd, = struct.unpack_from("<I", b, pos)
        dims = struct.unpack_from("<%dQ" % nd, b, pos + 4)
        pos += 4 + 8 * nd
        tid, off = struct.unpack_from("<IQ", b, pos)
        pos += 12
        infos.append((name, dims, tid, off))
    align = 32
    data_start = (pos + align - 1) // align * align
    ends = sorted(o for _, _, _, o in infos) + [len(b) - data_start]
    out = []
    for name, dims, tid, off in infos:
        nxt = min(e for e in ends if e > off)
        out.append((name, dims, tid, b[data_start + off:data_start + nxt]))
    return nkv, kvs, out


# textfiles: the first byte picks the line and read limits; then a policy file or plain lines
put("textfiles", "policy", b"\x10default = q8_0\nexperts = mxfp4  # the MoE experts\n\nattention = bf16\n")
put("textfiles", "lines", b"\x03hello\nworld\r\n\nthis line is longer than the limit of four\n")
put("textfiles", "noeol", b"\xffno newline at the end")
put("textfiles", "empty", b"\x00")

for i, path in enumerate(sys.argv[1:]):
    nkv, kvs, tensors = read_gguf(path)
    keep = [t for t in tensors if len(t[3]) <= 16384 and (not t[0].startswith(b"blk.") or t[0].startswith(b"blk.0."))]
    infos, data = b"", b""
    for name, dims, tid, raw in keep:
        infos += struct.pack("<Q", len(name)) + name + struct.pack("<I", len(dims))
        infos += b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", tid, len(data))
        data += raw + b"\0" * ((-len(raw)) % 32)
    head = b"GGUF" + struct.pack("<IQQ", 3, len(keep), nkv) + kvs + infos
    put("gguf_model", "tiny_%d" % i, head + b"\0" * ((-len(head)) % 32) + data)
    put("gguf_model", "tiny_%d_meta" % i, b"GGUF" + struct.pack("<IQQ", 3, 0, nkv) + kvs)
