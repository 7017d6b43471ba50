#!/bin/sh
# Quantizes a checkpoint with a default `herd quantize` (what a user gets), loads the file in
# llama.cpp (node-llama-cpp's prebuilt build, installed outside the repo) and compares its
# next-token probabilities with herd's on the same file and ids.
# usage: sh scripts/llamacpp/check.sh HERD CHECKPOINT_DIR TOKENIZER_JSON IDS [TYPES...]
#   e.g. (from tests/data) sh ../../scripts/llamacpp/check.sh ../../build/herd llama4/tiny-scout \
#        tokenizer/tiny/tokenizer.json 1,199,37,313 f32 bf16 q8_0 mxfp4
# QUANT_ARGS adds quantize options (e.g. --llama-cpp). herd warns at write time when llama.cpp
# cannot express the checkpoint (it hard-codes chunk 8192, NoPE every 4th layer...); the
# warning is printed here. Needs node and `npm i -E node-llama-cpp@3.21.1` in $LLAMACPP_DIR
# (default /tmp/llamacpp-check).
set -e
HERD="$1"; CK="$2"; TOK="$3"; IDS="$4"; shift 4
HERE="$(cd "$(dirname "$0")" && pwd)"
L="${LLAMACPP_DIR:-/tmp/llamacpp-check}"
T="${TMPDIR:-/tmp}/herd_llamacpp.$$"
mkdir -p "$T"; trap 'rm -rf "$T"' EXIT
cp "$HERE/probs.mjs" "$L/"
for t in "$@"; do
  case "$t" in *-moe) a="--policy $t" ;; *) a="--type $t" ;; esac
  # shellcheck disable=SC2086
  "$HERD" quantize "$CK" "$T/m.gguf" $a $QUANT_ARGS --tokenizer "$TOK" 2>"$T/q.err" >/dev/null
  grep -i warning "$T/q.err" | sed 's/^/  /' || true
  "$HERD" logits -m "$T/m.gguf" --ids "$IDS" -o "$T/h.npy" 2>/dev/null
  (cd "$L" && node probs.mjs "$T/m.gguf" "$IDS" "$T/l.json" >/dev/null 2>&1)
  printf '%-9s ' "$t"; node "$HERE/cmp.mjs" "$T/h.npy" "$T/l.json"
done
