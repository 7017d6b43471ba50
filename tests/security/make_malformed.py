#!/usr/bin/env python3
"""Writes the malformed-file suite's inputs to tests/data/security/ (run from the repository
root; the output is committed, CI never runs this). One folder per way in:
  npy/ (herd mx cast), gguf/ (herd logits -m FILE), safetensors/ (a checkpoint's
  model.safetensors), index/ (its model.safetensors.index.json, next to shards a/b),
  config/ (its config.json), tiktoken/ and tokenizer_json/ (herd tokenize --vocab),
  specials/ (herd tokenize --specials).
Each folder also holds cuts/BASE: a good file and cuts/BASE.at, the byte offsets of its
structural boundaries; malformed.sh truncates the file at each one."""
import json
import os
import struct

OUT = os.path.join("tests", "data", "security")
U63 = 2**63
written = 0


def put(kind, name, data):
    global written
    path = os.path.join(OUT, kind, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    written += 1


def cuts(kind, name, data, offsets):
    put(kind, os.path.join("cuts", name), data)
    offs = sorted(set(o for o in offsets if 0 <= o < len(data)))
    put(kind, os.path.join("cuts", name + ".at"), "".join("%d\n" % o for o in offs))


# ---- .npy ----
def npy(dict_text, body, version=1, hlen=None):
    pre = 10 if version == 1 else 12
    total = (pre + len(dict_text) + 1 + 63) // 64 * 64
    d = dict_text + " " * (total - pre - len(dict_text) - 1) + "\n"
    n = len(d) if hlen is None else hlen
    head = b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<H" if version == 1 else "<I", n)
    return head + d.encode("latin-1") + body


def npy_dict(descr="<f4", fortran="False", shape="(2, 3)"):
    return "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)


good = npy(npy_dict(), struct.pack("<6f", *range(6)))
cuts("npy", "good.npy", good, list(range(0, 12)) + [20, 40, 63, 64, 65, 80, 87])
put("npy", "bad_magic.npy", b"\x93NUMPX" + good[6:])
put("npy", "version_9.npy", good[:6] + b"\x09\x00" + good[8:])
put("npy", "header_past_end.npy", npy(npy_dict(), b"", hlen=60000))
put("npy", "dtype_f8.npy", npy(npy_dict("<f8"), b"\0" * 48))
put("npy", "big_endian.npy", npy(npy_dict(">f4"), b"\0" * 24))
put("npy", "fortran.npy", npy(npy_dict(fortran="True"), b"\0" * 24))
put("npy", "shape_2_63.npy", npy(npy_dict(shape="(%d,)" % U63), b"\0" * 8))
put("npy", "shape_product_overflow.npy", npy(npy_dict(shape="(4294967296, 4294967296)"), b""))
put("npy", "dim_too_long.npy", npy(npy_dict(shape="(" + "9" * 40 + ",)"), b""))
put("npy", "negative_dim.npy", npy(npy_dict(shape="(-3,)"), b"\0" * 12))
put("npy", "nine_dims.npy", npy(npy_dict(shape="(1, 1, 1, 1, 1, 1, 1, 1, 1)"), b"\0" * 4))
put("npy", "dtype_shape_mismatch.npy", npy(npy_dict(shape="(2, 4)"), b"\0" * 24))
put("npy", "trailing_bytes.npy", good + b"\0\0\0")
put("npy", "non_utf8_descr.npy", npy(npy_dict("\xff\xfe4"), b"\0" * 24))
put("npy", "duplicate_shape.npy",
    npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'shape': (1,), }", b"\0" * 24))
put("npy", "structured.npy", npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", b"\0" * 4))


# ---- GGUF ----
def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def kv_str(k, v):
    return gstr(k) + struct.pack("<I", 8) + gstr(v)


def kv_u32(k, v):
    return gstr(k) + struct.pack("<II", 4, v)


def tinfo(name, dims, tid, off):
    return gstr(name) + struct.pack("<I", len(dims)) + b"".join(
        struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", tid, off)


def gguf(kvs, infos, data, nt=None, nkv=None, version=3, align=32):
    head = b"GGUF" + struct.pack("<IQQ", version, len(infos) if nt is None else nt,
                                 len(kvs) if nkv is None else nkv)
    body = head + b"".join(kvs) + b"".join(infos)
    return body + b"\0" * ((-len(body)) % align) + data


ARCH = kv_str("general.architecture", "llama4")
BL = kv_u32("llama4.block_count", 1)
T1 = tinfo("a.weight", [4], 0, 0)
T2 = tinfo("b.weight", [2, 2], 0, 32)
DATA = b"\x11" * 16 + b"\0" * 16 + b"\x22" * 16
g = gguf([ARCH, BL], [T1, T2], DATA)
b1 = 24 + len(ARCH)
b2 = b1 + len(BL)
b3 = b2 + len(T1)
b4 = b3 + len(T2)
cuts("gguf", "good.gguf", g, list(range(0, 25)) + [
    32, b1 - 6, b1 - 1, b1, b1 + 8, b2 - 4, b2, b2 + 8, b2 + 16, b3 - 12, b3 - 4, b3, b4 - 1,
    b4, b4 + 1, (b4 + 31) // 32 * 32, (b4 + 31) // 32 * 32 + 15, len(g) - 1])
put("gguf", "bad_magic.gguf", b"GGUG" + g[4:])
put("gguf", "version_1.gguf", gguf([ARCH], [], b"", version=1))
put("gguf", "version_4.gguf", gguf([ARCH], [], b"", version=4))
put("gguf", "tensor_count_2_63.gguf", gguf([ARCH], [], b"", nt=U63))
put("gguf", "kv_count_2_63.gguf", gguf([ARCH], [], b"", nkv=U63))
put("gguf", "kv_count_2_64_minus_1.gguf", gguf([ARCH], [], b"", nkv=2**64 - 1))
put("gguf", "string_length_2_63.gguf",
    gguf([gstr("general.architecture") + struct.pack("<IQ", 8, U63) + b"llama4"], [], b""))
put("gguf", "key_length_2_63.gguf", gguf([struct.pack("<Q", U63) + b"x" * 16], [], b""))
put("gguf", "array_count_2_63.gguf",
    gguf([ARCH, gstr("x.arr") + struct.pack("<IIQ", 9, 4, U63) + b"\0" * 8], [], b""))
put("gguf", "string_array_count_2_63.gguf",
    gguf([ARCH, gstr("x.arr") + struct.pack("<IIQ", 9, 8, U63) + gstr("a")], [], b""))
put("gguf", "array_of_arrays.gguf",
    gguf([ARCH, gstr("x.arr") + struct.pack("<IIQ", 9, 9, 1)], [], b""))
put("gguf", "unknown_value_type.gguf", gguf([ARCH, gstr("x.v") + struct.pack("<II", 13, 0)], [], b""))
put("gguf", "empty_key.gguf", gguf([ARCH, gstr("") + struct.pack("<II", 4, 1)], [], b""))
put("gguf", "control_byte_key.gguf", gguf([ARCH, gstr("a\nb") + struct.pack("<II", 4, 1)], [], b""))
put("gguf", "non_utf8_arch.gguf", gguf([kv_str("general.architecture", b"\xff\xfellama4")], [], b""))
put("gguf", "duplicate_key.gguf", gguf([ARCH, BL, BL], [], b""))
put("gguf", "duplicate_tensor.gguf", gguf([ARCH], [T1, tinfo("a.weight", [4], 0, 32)], DATA))
put("gguf", "overlapping_offsets.gguf", gguf([ARCH], [T1, tinfo("b.weight", [4], 0, 0)], DATA))
put("gguf", "gap_between_tensors.gguf", gguf([ARCH], [T1, tinfo("b.weight", [4], 0, 64)], DATA + b"\0" * 32))
put("gguf", "misaligned_offset.gguf", gguf([ARCH], [tinfo("a.weight", [4], 0, 4)], DATA))
put("gguf", "offset_2_63.gguf", gguf([ARCH], [tinfo("a.weight", [4], 0, U63)], DATA))
put("gguf", "offset_past_end.gguf", gguf([ARCH], [T1, tinfo("b.weight", [64], 0, 32)], DATA))
put("gguf", "five_dims.gguf", gguf([ARCH], [tinfo("a.weight", [1, 1, 1, 1, 4], 0, 0)], DATA))
put("gguf", "dim_2_63.gguf", gguf([ARCH], [tinfo("a.weight", [U63], 0, 0)], DATA))
put("gguf", "shape_product_overflow.gguf", gguf([ARCH], [tinfo("a.weight", [2**32, 2**32, 2**32], 0, 0)], DATA))
put("gguf", "unknown_tensor_type.gguf", gguf([ARCH], [tinfo("a.weight", [4], 77, 0)], DATA))
put("gguf", "row_not_whole_blocks.gguf", gguf([ARCH], [tinfo("a.weight", [31], 8, 0)], DATA))
put("gguf", "long_tensor_name.gguf", gguf([ARCH], [tinfo("n" * 64, [4], 0, 0)], DATA))
put("gguf", "alignment_3.gguf", gguf([ARCH, kv_u32("general.alignment", 3)], [], b""))
put("gguf", "alignment_0.gguf", gguf([ARCH, kv_u32("general.alignment", 0)], [], b""))
put("gguf", "alignment_string.gguf", gguf([ARCH, kv_str("general.alignment", "32")], [], b""))
put("gguf", "not_llama4.gguf", gguf([kv_str("general.architecture", "llama")], [T1], DATA[:16]))
put("gguf", "llama4_no_sizes.gguf", gguf([ARCH], [T1], DATA[:16]))
put("gguf", "llama4_heads_2_63.gguf",
    gguf([ARCH, kv_u32("llama4.block_count", 1), kv_u32("llama4.embedding_length", 64),
          gstr("llama4.attention.head_count") + struct.pack("<IQ", 10, U63)], [T1], DATA[:16]))


# ---- safetensors ----
def st(header, data, hlen=None):
    h = (json.dumps(header) if not isinstance(header, (bytes, str)) else header)
    h = h.encode("latin-1") if isinstance(h, str) else h
    return struct.pack("<Q", len(h) if hlen is None else hlen) + h + data


def ent(dtype, shape, b, e):
    return {"dtype": dtype, "shape": shape, "data_offsets": [b, e]}


sgood_h = {"__metadata__": {"format": "pt"}, "a": ent("F32", [2, 2], 0, 16), "b": ent("BF16", [4], 16, 24)}
sgood = st(sgood_h, bytes(range(24)))
hl = len(sgood) - 24 - 8
hj = sgood[8:8 + hl]
cuts("safetensors", "good.safetensors", sgood, list(range(0, 10)) + [
    8 + hj.index(b'"a"'), 8 + hj.index(b'"b"'), 8 + hl - 2, 8 + hl - 1, 8 + hl, 8 + hl + 1,
    8 + hl + 15, 8 + hl + 16, 8 + hl + 23])
put("safetensors", "header_len_2_63", st(sgood_h, b"", hlen=U63))
put("safetensors", "header_len_past_end", st(sgood_h, b"", hlen=5000))
put("safetensors", "header_not_json", st("{\"a\": ", b""))
put("safetensors", "header_not_object", st("[1, 2]", b""))
put("safetensors", "unknown_dtype", st({"a": ent("F128", [1], 0, 16)}, b"\0" * 16))
put("safetensors", "dtype_shape_mismatch", st({"a": ent("F32", [3], 0, 8)}, b"\0" * 8))
put("safetensors", "negative_offset", st({"a": ent("F32", [1], -4, 0)}, b"\0" * 4))
put("safetensors", "reversed_offsets", st({"a": ent("F32", [1], 4, 0)}, b"\0" * 4))
put("safetensors", "offset_2_63", st({"a": ent("U8", [1], 2**63 - 1, 2**63)}, b"\0"))
put("safetensors", "overlapping", st({"a": ent("F32", [2], 0, 8), "b": ent("F32", [2], 4, 12)}, b"\0" * 12))
put("safetensors", "hole", st({"a": ent("F32", [1], 0, 4), "b": ent("F32", [1], 8, 12)}, b"\0" * 12))
put("safetensors", "past_end", st({"a": ent("F32", [4], 0, 16)}, b"\0" * 8))
put("safetensors", "trailing_bytes", st({"a": ent("F32", [1], 0, 4)}, b"\0" * 9))
put("safetensors", "shape_2_63", st({"a": ent("U8", [2**63 - 1, 2], 0, 0)}, b""))
put("safetensors", "negative_dim", st({"a": ent("F32", [-1], 0, 4)}, b"\0" * 4))
put("safetensors", "nine_dims", st({"a": ent("F32", [1] * 9, 0, 4)}, b"\0" * 4))
put("safetensors", "duplicate_names",
    st('{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, '
       '"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}', b"\0" * 8))
put("safetensors", "non_utf8_name", st(b'{"\xff\xfe": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', b"\0" * 4))
put("safetensors", "nul_in_name", st('{"a\\u0000b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', b"\0" * 4))
put("safetensors", "escape_in_name", st('{"a\\u001b[31mb\\n": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', b"\0" * 4))
put("safetensors", "deep_nesting", st("[" * 5000 + "]" * 5000, b""))
put("safetensors", "float_shape", st({"a": ent("F32", [1.5], 0, 4)}, b"\0" * 4))
put("safetensors", "truncated_tensor_data", sgood[:-1])

# ---- sharded index (next to shards a.safetensors, b.safetensors made by malformed.sh) ----
put("index", "not_json", "{\"weight_map\": ")
put("index", "no_weight_map", json.dumps({"metadata": {}}))
put("index", "empty_weight_map", json.dumps({"weight_map": {}}))
put("index", "shard_not_string", json.dumps({"weight_map": {"a": 3}}))
put("index", "shard_path_escape", json.dumps({"weight_map": {"a": "../a.safetensors"}}))
put("index", "shard_absolute", json.dumps({"weight_map": {"a": "/etc/passwd"}}))
put("index", "shard_dotdot", json.dumps({"weight_map": {"a": ".."}}))
put("index", "shard_missing", json.dumps({"weight_map": {"a": "nope.safetensors"}}))
put("index", "tensor_not_in_shard", json.dumps({"weight_map": {"zz": "a.safetensors"}}))
put("index", "tensor_in_two_shards", json.dumps({"weight_map": {"a": "a.safetensors", "b": "b.safetensors"}}))
put("index", "duplicate_entries", '{"weight_map": {"a": "a.safetensors", "a": "a.safetensors"}}')
put("index", "non_utf8", b'{"weight_map": {"\xff": "a.safetensors"}}')

# ---- config.json (next to tiny-scout's weights) ----
base = json.load(open(os.path.join("tests", "data", "llama4", "tiny-scout", "config.json")))


def cfg(name, **text):
    c = json.loads(json.dumps(base))
    for k, v in text.items():
        if v is Ellipsis:
            del c["text_config"][k]
        else:
            c["text_config"][k] = v
    put("config", name, json.dumps(c))


put("config", "not_json", json.dumps(base)[:300])
put("config", "not_object", "[]")
put("config", "unknown_architecture", json.dumps(dict(base, architectures=["GPT2LMHeadModel"])))
put("config", "no_text_config", json.dumps({k: v for k, v in base.items() if k != "text_config"}))
cfg("heads_2_63", num_attention_heads=2**63 - 1)
cfg("hidden_negative", hidden_size=-64)
cfg("layers_huge", num_hidden_layers=2**40)
cfg("kv_heads_not_divisor", num_key_value_heads=3)
cfg("head_dim_odd", head_dim=15)
cfg("top_k_over_experts", num_experts_per_tok=99)
cfg("intermediate_2_62", intermediate_size=2**62)
cfg("string_size", hidden_size="64")
cfg("real_size", hidden_size=64.5)
cfg("moe_layer_out_of_range", moe_layers=[0, 99])
cfg("no_rope_layers_wrong_length", no_rope_layers=[1, 0])
cfg("rope_scaling_bad_type", rope_scaling={"rope_type": "yarn", "factor": 8})
cfg("rope_scaling_zero_factor", rope_scaling={"rope_type": "llama3", "factor": 0,
                                              "low_freq_factor": 1, "high_freq_factor": 4,
                                              "original_max_position_embeddings": 8192})
cfg("eps_zero", rms_norm_eps=0)
cfg("hidden_act_gelu", hidden_act="gelu")
cfg("shape_mismatch_with_weights", hidden_size=128)
put("config", "non_utf8", json.dumps(base).replace('"silu"', '"\xff\xfe"').encode("latin-1"))
put("config", "duplicate_key", json.dumps(base)[:-1] + ', "text_config": {}}')
put("config", "deep_nesting", '{"a": ' + "[" * 5000 + "]" * 5000 + "}")

# ---- tiktoken rank files ----
import base64


def ranks(n=256, extra=()):
    lines = ["%s %d" % (base64.b64encode(bytes([b])).decode(), b) for b in range(n)]
    return "\n".join(list(lines) + list(extra)) + "\n"


good_tt = ranks()
cuts("tiktoken", "good.tiktoken", good_tt.encode(), [0, 3, 4, 5, 6, 7, 100, len(good_tt) // 2, len(good_tt) - 2])
put("tiktoken", "missing_byte", ranks(255))
put("tiktoken", "bad_base64", ranks(extra=["@@@@ 300"]))
put("tiktoken", "no_rank", ranks(extra=["YWI="]))
put("tiktoken", "rank_2_63", ranks(extra=["YWI= 9223372036854775808"]))
put("tiktoken", "rank_huge", ranks(extra=["YWI= 16777215"]))
put("tiktoken", "negative_rank", ranks(extra=["YWI= -1"]))
put("tiktoken", "duplicate_token", ranks(extra=["YQ== 300"]))
put("tiktoken", "duplicate_rank", ranks(extra=["YWI= 5"]))
put("tiktoken", "empty", "")
put("tiktoken", "binary", bytes(range(256)) * 4)
put("tiktoken", "long_token", ranks(extra=[base64.b64encode(b"x" * 2000).decode() + " 300"]))

# ---- tokenizer.json ----
tj_path = os.path.join("tests", "data", "fuzz", "corpus", "tokenizer_json", "split_bytelevel")
tj = json.load(open(tj_path))


def tjput(name, f):
    t = json.loads(json.dumps(tj))
    f(t)
    put("tokenizer_json", name, json.dumps(t))


put("tokenizer_json", "not_json", json.dumps(tj)[:200])
tjput("no_model", lambda t: t.pop("model"))
tjput("wordpiece", lambda t: t["model"].update(type="WordPiece"))
tjput("vocab_not_object", lambda t: t["model"].update(vocab=[1, 2]))
tjput("vocab_id_2_63", lambda t: t["model"]["vocab"].update({"zz": 2**63 - 1}))
tjput("vocab_id_negative", lambda t: t["model"]["vocab"].update({"zz": -1}))
tjput("vocab_duplicate_id", lambda t: t["model"]["vocab"].update({"zz": 5}))
tjput("vocab_not_byte_level", lambda t: t["model"]["vocab"].update({"\u4e2d": 900}))
tjput("merge_unknown_token", lambda t: t["model"]["merges"].append(["q", "\u4e2d"]))
tjput("merge_not_in_vocab", lambda t: t["model"]["merges"].append(["q", "q"]))
tjput("merge_bad_form", lambda t: t["model"]["merges"].append("abc"))
tjput("missing_bytes", lambda t: t["model"]["vocab"].pop("a"))
tjput("normalizer", lambda t: t.update(normalizer={"type": "NFC"}))
tjput("bad_regex", lambda t: t["pre_tokenizer"]["pretokenizers"][0]["pattern"].update(Regex="(unclosed"))
tjput("added_token_no_id", lambda t: t["added_tokens"].append({"content": "<x>"}))
tjput("added_token_empty", lambda t: t["added_tokens"].append({"id": 999, "content": ""}))
put("tokenizer_json", "non_utf8", open(tj_path, "rb").read().replace(b'"BPE"', b'"\xff\xfe"'))
put("tokenizer_json", "deep_nesting", '{"model": ' + "[" * 5000 + "]" * 5000 + "}")

# ---- specials TSV (on top of tokenizer/o200k_base.subset.tiktoken) ----
put("specials", "no_tab", "100\n")
put("specials", "id_2_63", "9223372036854775808\t<|x|>\n")
put("specials", "id_huge", "16777215\t<|x|>\n")
put("specials", "negative_id", "id\ttext\n-1\t<|x|>\n")
put("specials", "empty_text", "300000\t\n")
put("specials", "duplicate_id", "300000\t<|x|>\n300000\t<|y|>\n")
put("specials", "duplicate_text", "300000\t<|x|>\n300001\t<|x|>\n")
put("specials", "nul_in_text", "300000\t<|x\0|>\n")
put("specials", "too_long", "300000\t" + "x" * 5000 + "\n")
print("wrote %d files under %s" % (written, OUT))
