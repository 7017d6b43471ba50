#!/bin/sh
# The malformed-file suite: every file in tests/data/security/<way in>/ (made by
# make_malformed.py), and every good file there truncated at each of its structural boundaries
# (cuts/), goes through the herd command that reads that kind of file. Each must end with an
# exit code from 1 to 127 (an error, not a signal), exactly one line on stderr naming the file,
# and no output file (nor a temporary one) left behind.
HERD="$1"
S=security
T="${TMPDIR:-/tmp}/herd_malformed.$$"
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
pass=0; fail=0

# reject NAME FILE_IN_MESSAGE CMD...: runs CMD, checks exit code, stderr and leftovers.
reject() {
  desc=$1; name=$2; shift 2
  rm -f "$T"/out.*
  "$@" >"$T/stdout" 2>"$T/stderr"
  rc=$?
  why=""
  if [ "$rc" -eq 0 ]; then why="exit 0"
  elif [ "$rc" -ge 128 ]; then why="killed by signal $((rc - 128))"
  elif [ "$(wc -l <"$T/stderr")" -ne 1 ] || [ "$(tail -c 1 "$T/stderr" | od -An -c | tr -d ' ')" != '\n' ]; then
    why="stderr is not one line"
  elif ! grep -qF -- "$name" "$T/stderr"; then why="message does not name $name"
  elif ls "$T"/out.* >/dev/null 2>&1; then why="left $(ls "$T"/out.*)"
  fi
  if [ -z "$why" ]; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL: $desc: $why (exit $rc): $(head -c 400 "$T/stderr")"
  fi
}

# ---- .npy: herd mx cast ----
npy() { reject "npy $2" "$1" "$HERD" mx cast --format mxfp4_e2m1 "$1" "$T/out.npy"; }
for f in $S/npy/*.npy; do npy "$f" "$(basename "$f")"; done
for at in $(cat $S/npy/cuts/good.npy.at); do
  head -c "$at" $S/npy/cuts/good.npy >"$T/cut.npy"; npy "$T/cut.npy" "cut at $at"
done

# ---- GGUF: herd logits -m FILE, and herd quantize FILE ----
gguf() { reject "gguf $2 (logits)" "$1" "$HERD" logits -m "$1" --ids 1 -o "$T/out.npy"; }
for f in $S/gguf/*.gguf; do gguf "$f" "$(basename "$f")"; done
for at in $(cat $S/gguf/cuts/good.gguf.at); do
  head -c "$at" $S/gguf/cuts/good.gguf >"$T/cut.gguf"; gguf "$T/cut.gguf" "cut at $at"
done
for f in $S/gguf/tensor_count_2_63.gguf $S/gguf/overlapping_offsets.gguf $S/gguf/duplicate_tensor.gguf \
    $S/gguf/not_llama4.gguf; do
  reject "gguf $(basename "$f") (quantize)" "$f" "$HERD" quantize "$f" "$T/out.gguf" --type f32
done

# ---- checkpoint directories: herd logits -m DIR ----
ckpt() { # DIR: config.json from tiny-scout unless given, then the files
  rm -rf "$T/m"; mkdir -p "$T/m"; cp llama4/tiny-scout/config.json "$T/m/"
}
logits_dir() { reject "$1" "$2" "$HERD" logits -m "$T/m" --ids 1 -o "$T/out.npy"; }
for f in $S/safetensors/*; do
  [ -f "$f" ] || continue
  name=model.safetensors
  [ "$(basename "$f")" = escape_in_name ] && name="$T/m" # valid, but the model's tensors are missing
  ckpt; cp "$f" "$T/m/model.safetensors"; logits_dir "safetensors $(basename "$f")" "$name"
done
for at in $(cat $S/safetensors/cuts/good.safetensors.at); do
  ckpt; head -c "$at" $S/safetensors/cuts/good.safetensors >"$T/m/model.safetensors"
  logits_dir "safetensors cut at $at" model.safetensors
done
for f in $S/index/*; do
  ckpt; cp $S/safetensors/cuts/good.safetensors "$T/m/a.safetensors"
  cp $S/safetensors/cuts/good.safetensors "$T/m/b.safetensors"
  cp "$f" "$T/m/model.safetensors.index.json"
  case "$(basename "$f")" in
    tensor_in_two_shards|shard_*|tensor_not_in_shard) name="$T/m" ;; # the message names a shard
    *) name=model.safetensors.index.json ;;
  esac
  logits_dir "index $(basename "$f")" "$name"
done
for f in $S/config/*; do
  ckpt; cp "$f" "$T/m/config.json"; ln -s "$PWD/llama4/tiny-scout/model.safetensors" "$T/m/"
  case "$(basename "$f")" in
    shape_mismatch_with_weights) name=model.safetensors ;; # the weights disagree with it
    *) name=config.json ;;
  esac
  logits_dir "config $(basename "$f")" "$name"
done

# ---- tokenizers: herd tokenize --vocab FILE [--specials TSV] ----
for f in $S/tiktoken/* $S/tokenizer_json/*; do
  [ -f "$f" ] || continue
  reject "tokenizer $(basename "$f")" "$f" "$HERD" tokenize --vocab "$f" -p "hello world"
done
for at in $(cat $S/tiktoken/cuts/good.tiktoken.at); do
  head -c "$at" $S/tiktoken/cuts/good.tiktoken >"$T/cut.tiktoken"
  reject "tiktoken cut at $at" "$T/cut.tiktoken" "$HERD" tokenize --vocab "$T/cut.tiktoken" -p hi
done
for f in $S/tokenizer_json/vocab_id_2_63 $S/tokenizer_json/not_json $S/tokenizer_json/no_model; do
  reject "quantize --tokenizer $(basename "$f")" "$f" "$HERD" quantize llama4/tiny-scout \
    "$T/out.gguf" --type f32 --tokenizer "$f"
done
for f in $S/specials/*; do
  reject "specials $(basename "$f")" "$f" "$HERD" tokenize --vocab tokenizer/o200k_base.subset.tiktoken \
    --specials "$f" -p hi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
