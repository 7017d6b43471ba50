#!/bin/sh
# herd bench model: the llama-bench-like table and --json lines on the tiny synthetic model,
# --write-gguf in standard ggml types read back with -m, and usage errors.
HERD="$1"
T="${TMPDIR:-/tmp}/herd_bench_model.$$"
mkdir -p "$T"; trap 'rm -rf "$T"' EXIT
fail=0; pass=0
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }
B="bench model --synthetic tiny -p 8 -n 4 -r 1"

check "table" '"$HERD" $B -t 1 > "$T/out" 2>/dev/null && grep -q "| bf16 .* pp8 " "$T/out" && grep -q "| bf16 .* tg4 " "$T/out"'
check "json: 2 phases x 2 thread counts" '"$HERD" $B -t 1,2 --json > "$T/j" 2>/dev/null && [ "$(grep -c "^{" "$T/j")" -eq 4 ]'
for k in phase threads type tokens_per_s weight_bytes_per_token flops_per_token; do
  check "json key $k" '[ "$(grep -c "\"$k\": " "$T/j")" -eq 4 ]'
done
check "-n 0: prefill only" '"$HERD" bench model --synthetic tiny -p 8 -n 0 -r 1 -t 1 --json > "$T/p" 2>/dev/null && [ "$(grep -c "^{" "$T/p")" -eq 1 ] && grep -q "\"phase\": \"prefill\"" "$T/p"'
check "json phases" 'grep -q "\"phase\": \"prefill\", .*\"threads\": 2" "$T/j" && grep -q "\"phase\": \"decode\"" "$T/j"'
for t in f32 f16 bf16 q8_0 q4_0 mxfp4; do
  check "write-gguf $t" '"$HERD" bench model --synthetic tiny --type $t --write-gguf "$T/m.gguf" --tokenizer tokenizer/tiny/tokenizer.json -t 2 2>/dev/null && [ -s "$T/m.gguf" ]'
  check "-m the $t gguf" '"$HERD" bench model -m "$T/m.gguf" -p 4 -n 2 -r 1 -t 1 --json 2>/dev/null | grep -q "\"type\": \"$t\""'
done
check "no model" '! "$HERD" bench model 2>/dev/null'
check "both models" '! "$HERD" bench model --synthetic tiny -m x.gguf 2>/dev/null'
check "bad -t" '! "$HERD" $B -t 1,x 2>/dev/null'
check "write-gguf without tokenizer" '! "$HERD" bench model --synthetic tiny --write-gguf "$T/n.gguf" 2>/dev/null && [ ! -e "$T/n.gguf" ]'
check "missing file" '! "$HERD" bench model -m "$T/none.gguf" 2>/dev/null'
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
