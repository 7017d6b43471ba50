#!/usr/bin/env python3
"""Writes a tiny Llama 4 checkpoint in the layout of Meta's FP8 release (fbgemm_fp8) from a BF16
one, and the reference checkpoint that holds the same weights dequantized to F32.

    make_fp8_checkpoint.py SRC OUT REF [--layout linear|fused] [--break KIND]

FP8 tensors: routed experts, shared expert and dense MLP projections (F8_E4M3, with an F32
`<name>_scale` of one value per output row, fbgemm's quantize_fp8_per_row: scale = max|row|/448,
code = round-to-nearest-even(x / scale)). Attention, router, embeddings, lm_head, norms and the
vision tower stay BF16 and are listed in quantization_config.modules_to_not_convert.
  --layout linear  experts as one Linear each: feed_forward.experts.N.{gate,up,down}_proj.weight
                   [out, in] + .weight_scale [out, 1]
  --layout fused   transformers' FbgemmFp8Llama4TextExperts: experts.gate_up_proj [E, H, 2I] +
                   gate_up_proj_scale [E, 1, 2I], experts.down_proj [E, I, H] + down_proj_scale
                   [E, H, 1]
REF keeps the source's names and layout with every FP8 tensor replaced by code value × scale in
F32 (the product rounded once, as herd's f32 multiply does).
  --break missing-scale | scale-shape | scale-dtype | nan-code   malformed variants
Standard library only."""
import bisect
import json
import os
import struct
import sys


def read_st(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        hdr = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, v in hdr.items():
        if name == '__metadata__':
            continue
        a, b = v['data_offsets']
        out[name] = (v['dtype'], v['shape'], data[a:b])
    return out


def write_st(path, tensors):
    hdr, blobs, off = {}, [], 0
    for name in sorted(tensors):
        dtype, shape, raw = tensors[name]
        hdr[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(hdr).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def bf16_values(raw):
    return [struct.unpack('<f', b'\0\0' + raw[i:i + 2])[0] for i in range(0, len(raw), 2)]


def f32(x):
    return struct.unpack('<f', struct.pack('<f', x))[0]


def e4m3_value(c):
    e, m = (c >> 3) & 15, c & 7
    v = m * 2.0 ** -9 if e == 0 else (8 + m) * 2.0 ** (e - 10)
    return -v if c & 0x80 else v


POS = [(e4m3_value(c), c) for c in range(0x7F)]  # 0x00..0x7E, increasing; 0x7F is NaN
POS_V = [v for v, _ in POS]


def e4m3_encode(x):
    a = min(abs(x), 448.0)
    i = bisect.bisect_left(POS_V, a)
    if i == len(POS_V):
        i -= 1
    elif i > 0 and POS_V[i] != a:
        lo, hi = POS_V[i - 1], POS_V[i]
        if a - lo < hi - a or (a - lo == hi - a and POS[i - 1][1] % 2 == 0):
            i -= 1
    c = POS[i][1]
    return c | 0x80 if x < 0 and c else c


def quant_rows(rows):
    """rows: list of float lists -> (codes bytes per row, scales)"""
    codes, scales = [], []
    for r in rows:
        amax = max(abs(x) for x in r)
        s = f32(amax / 448.0)
        scales.append(s)
        codes.append(bytes(e4m3_encode(f32(x / s)) if s > 0 else 0 for x in r))
    return codes, scales


def deq(codes, s):
    return [f32(e4m3_value(c) * s) for c in codes]


def f32_raw(vals):
    return struct.pack('<%df' % len(vals), *vals)


def main():
    args = sys.argv[1:]
    layout, brk = 'linear', None
    if '--layout' in args:
        i = args.index('--layout')
        layout = args[i + 1]
        del args[i:i + 2]
    if '--break' in args:
        i = args.index('--break')
        brk = args[i + 1]
        del args[i:i + 2]
    src, out, ref = args
    t = read_st(os.path.join(src, 'model.safetensors'))
    cfg = json.load(open(os.path.join(src, 'config.json')))
    fp8, refd = {}, {}
    nlayers = 0

    def matrix(name):
        dtype, shape, raw = t[name]
        v = bf16_values(raw)
        return [v[i * shape[1]:(i + 1) * shape[1]] for i in range(shape[0])]

    def add_linear(name, rows):
        codes, scales = quant_rows(rows)
        fp8[name] = ('F8_E4M3', [len(rows), len(rows[0])], b''.join(codes))
        fp8[name + '_scale'] = ('F32', [len(rows), 1], f32_raw(scales))
        return [deq(c, s) for c, s in zip(codes, scales)]

    for name, (dtype, shape, raw) in t.items():
        if '.layers.' in name and name.startswith('language_model.'):
            nlayers = max(nlayers, int(name.split('.layers.')[1].split('.')[0]) + 1)
        mlp = ('shared_expert.' in name or '.feed_forward.gate_proj' in name or
               '.feed_forward.up_proj' in name or '.feed_forward.down_proj' in name)
        if name.startswith('language_model.') and mlp and name.endswith('.weight'):
            d = add_linear(name, matrix(name))
            refd[name] = ('F32', shape, f32_raw([x for r in d for x in r]))
        elif name.endswith('feed_forward.experts.gate_up_proj') or \
                name.endswith('feed_forward.experts.down_proj'):
            E, K, W = shape
            v = bf16_values(raw)
            gate_up = name.endswith('gate_up_proj')
            base = name.rsplit('.', 1)[0]
            # per expert: [out, in] rows = columns of the stored [in, out]
            deq_full = [[[0.0] * W for _ in range(K)] for _ in range(E)]
            fused_codes = bytearray(E * K * W)
            fused_scales = [0.0] * (E * W)
            for e in range(E):
                cols = [[v[(e * K + k) * W + j] for k in range(K)] for j in range(W)]
                parts = [(0, W // 2, 'gate'), (W // 2, W, 'up')] if gate_up else [(0, W, 'down')]
                for a, b, proj in parts:
                    codes, scales = quant_rows(cols[a:b])
                    if layout == 'linear':
                        lname = '%s.%d.%s_proj.weight' % (base, e, proj)
                        fp8[lname] = ('F8_E4M3', [b - a, K], b''.join(codes))
                        fp8[lname + '_scale'] = ('F32', [b - a, 1], f32_raw(scales))
                    for j in range(a, b):
                        fused_scales[e * W + j] = scales[j - a]
                        for k in range(K):
                            fused_codes[(e * K + k) * W + j] = codes[j - a][k]
                            deq_full[e][k][j] = f32(e4m3_value(codes[j - a][k]) * scales[j - a])
            if layout == 'fused':
                fp8[name] = ('F8_E4M3', shape, bytes(fused_codes))
                fp8[name + '_scale'] = ('F32', [E, 1, W] if gate_up else [E, W, 1],
                                        f32_raw(fused_scales))
            refd[name] = ('F32', shape,
                          f32_raw([x for e in range(E) for k in range(K) for x in deq_full[e][k]]))
        else:
            fp8[name] = (dtype, shape, raw)
            refd[name] = (dtype, shape, raw)

    keep = ['language_model.model.layers.%d.self_attn' % i for i in range(nlayers)]
    keep += ['language_model.model.layers.%d.feed_forward.router' % i for i in range(nlayers)]
    keep += ['language_model.lm_head', 'vision_model', 'multi_modal_projector']
    qcfg = dict(cfg)
    qcfg['quantization_config'] = {'quant_method': 'fbgemm_fp8', 'activation_scale_ub': 1200.0,
                                   'modules_to_not_convert': keep}

    victim = sorted(n for n in fp8 if n.endswith('_scale'))[0]
    if brk == 'missing-scale':
        del fp8[victim]
    elif brk == 'scale-shape':
        d, s, raw = fp8[victim]
        fp8[victim] = (d, [s[0], 2] if len(s) == 2 else [s[0], 2, s[2]], raw + raw)
    elif brk == 'scale-dtype':
        d, s, raw = fp8[victim]
        fp8[victim] = ('I32', s, raw)
    elif brk == 'nan-code':
        w = victim[:-len('_scale')]
        d, s, raw = fp8[w]
        fp8[w] = (d, s, b'\x7f' + raw[1:])
    elif brk:
        sys.exit('unknown --break ' + brk)

    for d, tensors, c in ((out, fp8, qcfg), (ref, refd, cfg)):
        os.makedirs(d, exist_ok=True)
        write_st(os.path.join(d, 'model.safetensors'), tensors)
        with open(os.path.join(d, 'config.json'), 'w') as f:
            json.dump(c, f, indent=1)


if __name__ == '__main__':
    main()
