#!/bin/sh
# Issue #20 item 9: a GGUF whose expert_used_count (9) exceeds its expert_count (4) is refused at
# load, by logits and by quantize, naming the file; a model directory's tokenizer.json that is a
# link to a device (our own mknod'd zero, never /dev) or a FIFO is reported as what it is, not
# as missing; a tensor under language_model.* that herd does not know is not counted as vision.
. "$(dirname "$0")/common.shlib"

"$HERD" quantize llama4/tiny-maverick "$T/good.gguf" --type f32 -t 1 >/dev/null 2>&1 ||
  bad "quantize of the tiny model failed"
python3 - "$T/good.gguf" "$T/topk9.gguf" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
key = b"llama4.expert_used_count"
i = b.find(struct.pack("<Q", len(key)) + key)
assert i > 0, "no expert_used_count"
at = i + 8 + len(key)
assert struct.unpack_from("<I", b, at)[0] == 4  # GGUF type u32
struct.pack_into("<I", b, at + 4, 9)
open(sys.argv[2], "wb").write(b)
PY
timeout 60 "$HERD" logits -m "$T/topk9.gguf" --ids 1,2 -o "$T/o.npy" 2>"$T/err"
one_error "logits on a GGUF with top-k 9 of 4 experts" $? "$T/err" "topk9.gguf"
grep -q "num_experts_per_tok 9" "$T/err" && ok || bad "the message does not say what: $(cat "$T/err")"
timeout 60 "$HERD" quantize "$T/topk9.gguf" "$T/q.gguf" --type f32 -t 1 >/dev/null 2>"$T/err"
one_error "quantize of a GGUF with top-k 9 of 4 experts" $? "$T/err" "topk9.gguf"
[ ! -e "$T/q.gguf" ] && ok || bad "quantize copied the bad GGUF"

# tokenizer.json is there but unusable: say what it is
mkdir "$T/m"; cp "$TINY/config.json" "$T/m/"; ln -s "$PWD/$TINY/model.safetensors" "$T/m/"
mkfifo "$T/fifo"; ln -s "$T/fifo" "$T/m/tokenizer.json"
timeout 20 "$HERD" tokenize -m "$T/m" -p hi 2>"$T/err"
one_error "tokenizer.json a link to a FIFO" $? "$T/err" "FIFO"
if can_mknod; then
  mknod "$T/zero" c 1 5; ln -sf "$T/zero" "$T/m/tokenizer.json"
  timeout 20 "$HERD" tokenize -m "$T/m" -p hi 2>"$T/err"
  one_error "tokenizer.json a link to a zero device" $? "$T/err" "character device"
else
  skip "zero device: mknod not permitted here; the FIFO case ran"
fi

# an unknown language_model.* tensor: a warning naming it; the vision count stays 26
mkdir "$T/u"; cp "$TINY/config.json" "$T/u/"
python3 - "$TINY/model.safetensors" "$T/u/model.safetensors" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n]); data = b[8 + n:]
h["language_model.mystery.weight"] = {"dtype": "F32", "shape": [1], "data_offsets": [len(data), len(data) + 4]}
hb = json.dumps(h).encode(); hb += b" " * (-len(hb) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(hb)) + hb + data + b"\0\0\0\0")
PY
HERD_LOG=info timeout 60 "$HERD" logits -m "$T/u" --ids 1,2 -o "$T/o.npy" 2>"$T/err"
[ $? -eq 0 ] && ok || bad "logits with an extra tensor failed: $(cat "$T/err")"
grep -q "language_model.mystery.weight" "$T/err" && ok || bad "the unknown tensor is not named: $(cat "$T/err")"
grep -q "skipped 26 tensors" "$T/err" && ok || bad "the vision count is wrong: $(cat "$T/err")"
finish
