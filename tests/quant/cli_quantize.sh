#!/bin/sh
# herd quantize and GGUF models on the command line: HF dir -> GGUF (bf16) -> herd logits equals
# the directory's logits byte for byte, GGUF -> GGUF re-quantization, naming and license
# metadata, and bad inputs ending in one line with nothing left behind.
HERD="$1"
fail=0; pass=0
T="${TMPDIR:-/tmp}/herd_cli_quantize.$$"
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }
D=llama4/tiny-scout
IDS=1,199,37,313,342,120,259,12,118,119

check "quantize bf16" '"$HERD" quantize $D "$T/b.gguf" --type bf16 -t 2 >"$T/out" 2>/dev/null'
check "says name and license in one line" 'grep -q "named \"Llama-4-tiny-scout-BF16\"" "$T/out"'
check "logits from dir" '"$HERD" logits -m $D --ids $IDS -o "$T/a.npy" 2>/dev/null'
check "logits from gguf" '"$HERD" logits -m "$T/b.gguf" --ids $IDS -o "$T/b.npy" 2>/dev/null'
check "bf16 gguf logits == dir logits" 'cmp -s "$T/a.npy" "$T/b.npy"'
check "run from gguf" '[ "$("$HERD" run -m $D --ids $IDS -n 8 --temp 0 --print-ids 2>/dev/null)" = "$("$HERD" run -m "$T/b.gguf" --ids $IDS -n 8 --temp 0 --print-ids 2>/dev/null)" ]'

# GGUF in: re-quantized by class; the metadata (and so the model) travels
check "gguf -> mxint8" '"$HERD" quantize "$T/b.gguf" "$T/m.gguf" --type mxint8 >/dev/null 2>&1'
check "mxint8 gguf runs" '"$HERD" logits -m "$T/m.gguf" --ids $IDS -o "$T/m.npy" 2>/dev/null'
check "gguf -> bf16 is lossless" '"$HERD" quantize "$T/b.gguf" "$T/b2.gguf" --type bf16 >/dev/null 2>&1 && "$HERD" logits -m "$T/b2.gguf" --ids $IDS -o "$T/b2.npy" 2>/dev/null && cmp -s "$T/a.npy" "$T/b2.npy"'

# license information and the default file name when OUT is a directory
mkdir -p "$T/ck" "$T/outdir"
cp $D/config.json "$T/ck/"; ln -s "$PWD/$D/model.safetensors" "$T/ck/model.safetensors"
printf -- '---\nlicense: other\nlicense_name: llama4\nlicense_link: LICENSE\n---\n# card\n' > "$T/ck/README.md"
printf 'LLAMA 4 COMMUNITY LICENSE AGREEMENT (test copy)\n' > "$T/ck/LICENSE"
check "policy mx-moe into a directory" '"$HERD" quantize "$T/ck" "$T/outdir" --policy mx-moe >"$T/out" 2>/dev/null && [ -f "$T/outdir/Llama-4-ck-MX-MOE.gguf" ]'
check "license carried" 'grep -q "license .llama4. and LICENSE copied into general.license" "$T/out" && grep -q "LLAMA 4 COMMUNITY LICENSE AGREEMENT" "$T/outdir/Llama-4-ck-MX-MOE.gguf"'
check "policy file" 'printf "experts = mxfp4\ndefault = q8_0\n" > "$T/p.txt" && "$HERD" quantize $D "$T/p.gguf" --policy "$T/p.txt" >/dev/null 2>&1'

# tokenizer metadata, and llama.cpp-only metadata that herd reads by llama.cpp's rules
check "tokenizer keys" '"$HERD" quantize $D "$T/t.gguf" --type q8_0 --tokenizer tokenizer/tiny/tokenizer.json >/dev/null 2>&1 && grep -q "tokenizer.ggml.merges" "$T/t.gguf" && grep -q "<|eot|>" "$T/t.gguf"'
check "run -p with the GGUF's tokenizer" '[ "$("$HERD" run -m "$T/t.gguf" -p "Hello world" -n 5 --temp 0 --print-ids 2>/dev/null | wc -w)" -eq 5 ]'
check "--llama-cpp has no herd keys" '"$HERD" quantize $D "$T/l.gguf" --type f32 --llama-cpp >/dev/null 2>&1 && ! grep -q "herd.llama4" "$T/l.gguf" && grep -q "rope_freqs.weight" "$T/l.gguf"'
check "--llama-cpp file runs" '"$HERD" logits -m "$T/l.gguf" --ids $IDS -o "$T/l.npy" 2>/dev/null'

# interop by default: the standard keys carry what llama.cpp reads, a warning names what it
# cannot express (tiny-scout's chunk 8 and floor 4), the vision tower goes to mmproj-NAME
check "default warns what llama.cpp cannot express" '"$HERD" quantize $D "$T/i.gguf" --type f32 >/dev/null 2>"$T/err" && grep -q "warning: llama.cpp (v0.4.0) will compute a different model.*attention chunk 8 (llama.cpp: always 8192).*floor 4" "$T/err"'
check "default has the standard keys" 'grep -q "llama4.attention.sliding_window_pattern" "$T/i.gguf" && grep -q "llama4.attention.sliding_window" "$T/i.gguf" && grep -q "herd.llama4.layer_rope" "$T/i.gguf"'
check "vision tower in mmproj-NAME, not in the model file" '[ -f "$T/mmproj-i.gguf" ] && ! grep -q "v.patch_embd" "$T/i.gguf" && grep -q "v.patch_embd" "$T/mmproj-i.gguf"'
check "--single-file keeps it inside" '"$HERD" quantize $D "$T/s.gguf" --type f32 --single-file >/dev/null 2>&1 && [ ! -e "$T/mmproj-s.gguf" ] && grep -q "v.patch_embd" "$T/s.gguf"'
mkdir -p "$T/ck8k"
sed -e "s/\"attention_chunk_size\": 8,/\"attention_chunk_size\": 8192,/" -e "s/\"floor_scale\": 4,/\"floor_scale\": 8192,/" $D/config.json > "$T/ck8k/config.json"
ln -s "$PWD/$D/model.safetensors" "$T/ck8k/model.safetensors"
check "a checkpoint llama.cpp can express: no warning" '"$HERD" quantize "$T/ck8k" "$T/k.gguf" --type f32 >/dev/null 2>"$T/err" && ! grep -q warning "$T/err"'

# bad inputs: exit 1 (2 for usage) with one line, no output and no temporary file left
one_line() { # expected exit code, expected text, args...
  want=$1; text=$2; shift 2
  "$HERD" "$@" >/dev/null 2>"$T/err"; rc=$?
  [ $rc -eq "$want" ] && [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q "$text" "$T/err"
}
# the model and its mmproj are installed together: a failed tower write (mmproj-NAME is a
# directory) leaves a file already at OUT as it was, and a second run replaces both files
echo old > "$T/pair.gguf"; mkdir "$T/mmproj-pair.gguf"
check "failed mmproj: exit 1, OUT kept, no temporaries" '! "$HERD" quantize $D "$T/pair.gguf" --type f32 >/dev/null 2>"$T/err" && grep -q "mmproj-pair.gguf: exists and is a directory" "$T/err" && [ "$(cat "$T/pair.gguf")" = old ] && [ -z "$(ls "$T" | grep tmp)" ]'
rmdir "$T/mmproj-pair.gguf"; echo old > "$T/mmproj-pair.gguf"
check "both replaced" '"$HERD" quantize $D "$T/pair.gguf" --type f32 >/dev/null 2>&1 && cmp -s "$T/pair.gguf" "$T/i.gguf" && cmp -s "$T/mmproj-pair.gguf" "$T/mmproj-i.gguf" && [ -z "$(ls "$T" | grep tmp)" ]'
check "no type" 'one_line 2 "type is required" quantize $D "$T/x.gguf"'
check "recipe" '"$HERD" quantize $D "$T/r.gguf" --type Q4_K_M >/dev/null 2>&1 && "$HERD" logits -m "$T/r.gguf" --ids 1,2,3 -o "$T/r.npy" 2>"$T/err" && grep -q "iq4_nl" "$T/err"'
check "bad type" 'one_line 2 "unknown --type" quantize $D "$T/x.gguf" --type q9_k'
check "grid i-quant refused" 'one_line 2 "cannot write iq2_xxs" quantize $D "$T/x.gguf" --type IQ2_XXS'
check "bad policy" 'one_line 2 "neither a built-in policy" quantize $D "$T/x.gguf" --policy nope --type q8_0'
check "bad name" 'one_line 2 "must begin with" quantize $D "$T/x.gguf" --type q8_0 --name Foo'
check "missing input" 'one_line 1 "config.json" quantize "$T/missing" "$T/x.gguf" --type q8_0'
head -c 100000 "$T/b.gguf" > "$T/trunc.gguf"
check "truncated gguf in" 'one_line 1 "truncated GGUF" quantize "$T/trunc.gguf" "$T/x.gguf" --type q8_0'
check "truncated gguf model" 'one_line 1 "truncated GGUF" logits -m "$T/trunc.gguf" --ids 1,2 -o "$T/x.npy"'
check "nothing left behind" '[ ! -e "$T/x.gguf" ] && [ ! -e "$T/x.npy" ] && [ -z "$(ls "$T" | grep tmp)" ]'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
