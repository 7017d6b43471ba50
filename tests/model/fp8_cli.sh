#!/bin/sh
# Meta's FP8 checkpoints (fbgemm_fp8): a tiny checkpoint in that layout (written by
# make_fp8_checkpoint.py from tiny-maverick, experts as one Linear each and as transformers'
# fused tensors) runs; with f32 activations its logits are within 1e-3 of the reference
# checkpoint holding the dequantized weights in F32; with dynamic FP8 activations (--act auto,
# per token E4M3 as fbgemm) within 3% RMS of the logits' spread and the same top-1 on >= 9 of 10
# positions; `herd quantize` converts it to GGUFs that load (f32: the reference's logits); bad
# files end in one line, exit 1, nothing written.
HERD="$1"
command -v python3 >/dev/null || exit 77
fail=0; pass=0
T="${TMPDIR:-/tmp}/herd_fp8_cli.$$"
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }
GEN="python3 ../model/make_fp8_checkpoint.py llama4/tiny-maverick"
IDS=1,199,37,313,342,120,259,12,118,119

# compare.py A B MAXABS RMS_OF_SPREAD MIN_TOP1: logits .npy files (f32, 128-byte header, vocab 512)
cat > "$T/cmp.py" <<'EOF'
import math, struct, sys
def rd(p):
    b = open(p, 'rb').read()[128:]
    return struct.unpack('<%df' % (len(b) // 4), b)
a, b = rd(sys.argv[1]), rd(sys.argv[2])
lim, rel, top = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
V = 512
d = [x - y for x, y in zip(a, b)]
mx = max(abs(v) for v in d)
rms = math.sqrt(sum(v * v for v in d) / len(d)) / (max(a) - min(a))
t1 = sum(1 for i in range(len(a) // V)
         if max(range(V), key=lambda j: a[i * V + j]) == max(range(V), key=lambda j: b[i * V + j]))
print('max %.3g rms/spread %.4f top1 %d/%d' % (mx, rms, t1, len(a) // V))
sys.exit(0 if len(a) == len(b) and mx <= lim and rms <= rel and t1 >= top else 1)
EOF
close() { python3 "$T/cmp.py" "$@" >>"$T/figures"; }

check "generate linear layout" '$GEN "$T/lin" "$T/ref" >/dev/null'
check "generate fused layout" '$GEN "$T/fus" "$T/ref2" --layout fused >/dev/null'
check "reference logits" '"$HERD" logits -m "$T/ref" --ids $IDS --act f32 -o "$T/ref.npy" 2>/dev/null'
for L in lin fus; do
  check "$L: loads as fp8_e4m3" '"$HERD" logits -m "$T/$L" --ids $IDS --act f32 -o "$T/$L.npy" 2>"$T/err" && grep -q "experts fp8_e4m3" "$T/err"'
  check "$L: f32 activations within 1e-3 of the dequantized reference" 'close "$T/ref.npy" "$T/$L.npy" 1e-3 1 10'
  check "$L: fp8 activations within 3% RMS, top-1 9/10" '"$HERD" logits -m "$T/$L" --ids $IDS --act auto -o "$T/${L}a.npy" 2>/dev/null && close "$T/ref.npy" "$T/${L}a.npy" 100 0.03 9'
done

# herd quantize: FP8 in, any type out
check "quantize fp8 -> f32" '"$HERD" quantize "$T/lin" "$T/f.gguf" --type f32 >/dev/null 2>&1'
check "f32 gguf logits = reference" '"$HERD" logits -m "$T/f.gguf" --ids $IDS --act f32 -o "$T/f.npy" 2>/dev/null && close "$T/ref.npy" "$T/f.npy" 1e-5 1 10'
check "quantize fused fp8 -> f32 = reference" '"$HERD" quantize "$T/fus" "$T/g.gguf" --type f32 >/dev/null 2>&1 && "$HERD" logits -m "$T/g.gguf" --ids $IDS --act f32 -o "$T/g.npy" 2>/dev/null && close "$T/ref.npy" "$T/g.npy" 1e-5 1 10'
check "quantize fp8 -> q8_0 loads" '"$HERD" quantize "$T/lin" "$T/q.gguf" --type q8_0 >/dev/null 2>&1 && "$HERD" logits -m "$T/q.gguf" --ids $IDS -o "$T/q.npy" 2>/dev/null && close "$T/ref.npy" "$T/q.npy" 100 0.05 8'

# malformed: one line, exit 1, nothing written
bad() { # kind, expected text
  rm -rf "$T/bad" "$T/badref"
  $GEN "$T/bad" "$T/badref" --break "$1" >/dev/null || return 1
  "$HERD" logits -m "$T/bad" --ids $IDS -o "$T/never.npy" 2>"$T/err" >/dev/null
  rc=$?
  [ $rc -eq 1 ] && [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q "$2" "$T/err" && [ ! -e "$T/never.npy" ] || { cat "$T/err"; return 1; }
  "$HERD" quantize "$T/bad" "$T/never.gguf" --type q8_0 2>"$T/err" >/dev/null
  rc=$?
  [ $rc -eq 1 ] && [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q "$2" "$T/err" && [ ! -e "$T/never.gguf" ] || { cat "$T/err"; return 1; }
}
check "missing weight_scale" 'bad missing-scale "has no row scale"'
check "scale of the wrong shape" 'bad scale-shape "expected one scale per output row"'
check "scale of a bad dtype" 'bad scale-dtype "has dtype I32, expected F32 or BF16"'
check "NaN code" 'bad nan-code "NaN"'
check "F8 without quantization_config" 'rm -rf "$T/nq" && cp -r "$T/lin" "$T/nq" && python3 -c "
import json,sys; p=sys.argv[1]; c=json.load(open(p)); del c[\"quantization_config\"]; json.dump(c,open(p,\"w\"))" "$T/nq/config.json" && ! "$HERD" logits -m "$T/nq" --ids 1 -o "$T/never.npy" 2>"$T/err" && [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q "no quantization_config" "$T/err"'
check "another quant_method" 'sed "s/fbgemm_fp8/fp8/" "$T/lin/config.json" > "$T/nq/config.json" && ! "$HERD" logits -m "$T/nq" --ids 1 -o "$T/never.npy" 2>"$T/err" && [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q "herd reads fbgemm_fp8" "$T/err"'

sed 's/^/  /' "$T/figures"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
