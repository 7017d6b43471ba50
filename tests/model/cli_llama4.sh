#!/bin/sh
# herd run / herd logits on the tiny Llama 4 cases: greedy ids equal the reference's
# generated_ids, logits (full and --incremental) are within 1e-3 of logits.bin, and bad inputs
# end in one line on stderr with exit code 1.
HERD="$1"
fail=0; pass=0
T="${TMPDIR:-/tmp}/herd_cli_llama4.$$"
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }

# ids of a golden.json list, comma-separated ("prompt_ids" or "generated_ids")
ids() { tr -d ' \n' < "$1/golden.json" | sed -n "s/.*\"$2\":\[\([0-9,]*\)\].*/\1/p"; }

# max |a - b| over two float32 files (a: .npy with a 128-byte header, b: raw), <= 1e-3?
close_enough() {
  tail -c +129 "$1" | od -An -v -f | tr -s ' ' '\n' | grep -v '^$' > "$T/a"
  head -c "$3" "$2" | od -An -v -f | tr -s ' ' '\n' | grep -v '^$' > "$T/b"
  [ "$(wc -l < "$T/a")" -eq "$(wc -l < "$T/b")" ] &&
    paste "$T/a" "$T/b" | awk '{d=$1-$2; if (d<0) d=-d; if (d>m) m=d} END {exit !(m <= 1e-3)}'
}

for c in tiny-scout tiny-maverick; do
  D=llama4/$c
  P=$(ids $D prompt_ids); G=$(ids $D generated_ids)
  GEN=$(echo "$G" | tr ',' ' ')
  n=$(echo "$P" | tr ',' '\n' | wc -l)
  check "$c run greedy" '[ "$("$HERD" run -m $D --ids $P -n 16 --temp 0 --print-ids 2>/dev/null)" = "$GEN" ]'
  check "$c run greedy 1 thread" '[ "$("$HERD" run -m $D --ids $P -n 16 --temp 0 --print-ids -t 1 2>/dev/null)" = "$GEN" ]'
  check "$c logits" '"$HERD" logits -m $D --ids $P -o "$T/l.npy" 2>/dev/null && close_enough "$T/l.npy" $D/logits.bin $((n*512*4))'
  check "$c logits incremental" '"$HERD" logits -m $D --ids $P,$G -o "$T/i.npy" --incremental 2>/dev/null && close_enough "$T/i.npy" $D/logits.bin $(((n+16)*512*4))'
  check "$c logits --dtype f32" '"$HERD" logits -m $D --ids $P -o "$T/f.npy" --dtype f32 -t 1 2>/dev/null && close_enough "$T/f.npy" $D/logits.bin $((n*512*4))'
done

# seeded sampling repeats itself
D=llama4/tiny-scout
check "seeded run repeats" '[ "$("$HERD" run -m $D --ids 1,2,3 -n 8 --temp 1 --top-k 40 --top-p 0.95 --min-p 0.01 --seed 7 --print-ids 2>/dev/null)" = "$("$HERD" run -m $D --ids 1,2,3 -n 8 --temp 1 --top-k 40 --top-p 0.95 --min-p 0.01 --seed 7 --print-ids 2>/dev/null)" ]'
check "ctx limit stops" '[ "$("$HERD" run -m $D --ids 1,2,3 -n 16 --temp 0 --print-ids --ctx 5 2>/dev/null | wc -w)" -eq 3 ]'

# -p with a tokenizer: the same as --ids of its encoding with <|begin_of_text|>
mkdir -p "$T/tok"
cp $D/config.json $D/model.safetensors tokenizer/tiny/tokenizer.json "$T/tok/"
PIDS=$("$HERD" tokenize -m "$T/tok" -p "Hello world" --bos --special | tr ' ' ',')
check "-p equals --ids" '[ -n "$PIDS" ] && [ "$("$HERD" run -m "$T/tok" -p "Hello world" -n 8 --temp 0 --print-ids 2>/dev/null)" = "$("$HERD" run -m "$T/tok" --ids $PIDS -n 8 --temp 0 --print-ids 2>/dev/null)" ]'
check "-p streams text" '"$HERD" run -m "$T/tok" -p "Hello world" -n 8 --temp 0 > "$T/text" 2>/dev/null && [ -s "$T/text" ]'

# bad inputs: exit 1 and exactly one line on stderr naming the problem
one_line_error() { # dir, expected text
  "$HERD" logits -m "$1" --ids 1,2,3 -o "$T/never.npy" 2>"$T/err" >/dev/null
  rc=$?
  [ $rc -eq 1 ] && [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q "$2" "$T/err" && [ ! -e "$T/never.npy" ]
}
mkdir -p "$T/trunc" "$T/cfg" "$T/arch" "$T/none"
cp $D/config.json "$T/trunc/"; head -c 500000 $D/model.safetensors > "$T/trunc/model.safetensors"
check "truncated shard" 'one_line_error "$T/trunc" "truncated"'
printf '{"architectures": ["Llama4ForCausalLM"], "hidden_size": 64,\n "num_hidden_layers": }' > "$T/cfg/config.json"
cp $D/model.safetensors "$T/cfg/"
check "bad config json" 'one_line_error "$T/cfg" "config.json:2:"'
sed 's/Llama4ForConditionalGeneration/MistralForCausalLM/' $D/config.json > "$T/arch/config.json"
cp $D/model.safetensors "$T/arch/"
check "unsupported architecture" 'one_line_error "$T/arch" "unsupported architecture"'
cp $D/config.json "$T/none/"
check "no weights" 'one_line_error "$T/none" "no model.safetensors"'
check "no such dir" 'one_line_error "$T/missing" "no such file"'
check "bad ids" '! "$HERD" logits -m $D --ids 1,x -o "$T/x.npy" 2>/dev/null'
check "id out of vocab" 'one_line_error_ids() { "$HERD" logits -m $D --ids 1,9999 -o "$T/x.npy" 2>"$T/err"; [ $? -eq 1 ] && grep -q vocabulary "$T/err"; }; one_line_error_ids'
check "-p without tokenizer" '! "$HERD" run -m $D -p hello -n 1 2>/dev/null'

# KV cache types: -ctk/-ctv and --cache-type-k/-v, any case, K and V apart, in every command
# that makes a context; an unknown type is one line (exit 2) before anything loads
P=$(ids $D prompt_ids)
check "run -ctk bf16 -ctv Q8_0" '[ "$("$HERD" run -m $D --ids $P -n 8 --temp 0 --print-ids -ctk bf16 -ctv Q8_0 2>/dev/null | wc -w)" -eq 8 ]'
check "logits --cache-type-k q8_0" '"$HERD" logits -m $D --ids $P -o "$T/q.npy" --cache-type-k q8_0 --cache-type-v BF16 2>"$T/plan" && [ -s "$T/q.npy" ] && grep -q "k q8_0, v bf16" "$T/plan"'
check "logits -ctk f32 is the default" '"$HERD" logits -m $D --ids $P -o "$T/d.npy" 2>/dev/null && "$HERD" logits -m $D --ids $P -o "$T/e.npy" -ctk F32 -ctv f32 2>/dev/null && cmp -s "$T/d.npy" "$T/e.npy"'
bad_cache_type() { # command words..., then the bad option is appended
  "$@" 2>"$T/err" >/dev/null
  rc=$?
  [ $rc -eq 2 ] && [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q "unknown KV cache type 'q4_0'" "$T/err"
}
check "run bad -ctk" 'bad_cache_type "$HERD" run -m $D --ids 1 -ctk q4_0'
check "chat bad -ctv" 'bad_cache_type "$HERD" chat -m $D -ctv q4_0'
check "logits bad type" 'bad_cache_type "$HERD" logits -m $D --ids 1 --cache-type-v q4_0'
check "perplexity bad type" 'bad_cache_type "$HERD" perplexity -m $D -f x -ctk q4_0'
check "serve bad type" 'bad_cache_type "$HERD" serve -m $D -ctk q4_0'
check "bench model bad type" 'bad_cache_type "$HERD" bench model --synthetic tiny -ctk q4_0'
check "bench batch bad type" 'bad_cache_type "$HERD" bench batch --synthetic tiny -ctv q4_0'
check "profile bad type" 'bad_cache_type "$HERD" profile --synthetic tiny -ctk q4_0'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
