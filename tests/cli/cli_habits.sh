#!/bin/sh
# The habits llama.cpp and Ollama users bring (issue 16): run --tokenizer, -f/-p -, -c, -s -1,
# -n -1, penalties, --special, -V; quantize refusing a tokenizer too large for the model; help
# that matches the tool; bad HERD_LOG/HERD_ISA, --svg paths and -m FILE.safetensors refused up
# front; a default context the memory holds. Runs from tests/data.
HERD="$1"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0; pass=0
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }
D=llama4/tiny-scout
TOK=tokenizer/tiny/tokenizer.json
one_line() { [ "$(wc -l < "$1")" -eq 1 ]; }

# 1. run --tokenizer; without any tokenizer -p fails before the model loads, naming --tokenizer
check "run --tokenizer" '"$HERD" run -m $D --tokenizer $TOK -p "Hello world" -n 4 --temp 0 > "$T/o" 2>/dev/null && [ -s "$T/o" ]'
check "run -p without a tokenizer names --tokenizer" '! "$HERD" run -m $D -p hi 2> "$T/e" && one_line "$T/e" && grep -q -- "--tokenizer" "$T/e"'
check "run --tokenizer too large for the model" '! "$HERD" run -m $D --tokenizer tokenizer/hf/o200k_4k.tokenizer.json -p hi 2> "$T/e" && grep -q "vocabulary of 512" "$T/e"'

# 2. quantize refuses a tokenizer whose ids do not fit the model, and writes nothing
check "quantize refuses a larger vocabulary" '! "$HERD" quantize $D "$T/q.gguf" --type q8_0 --tokenizer tokenizer/hf/o200k_4k.tokenizer.json > /dev/null 2> "$T/e" && grep -q "vocabulary of 512" "$T/e" && [ ! -e "$T/q.gguf" ]'
check "quantize takes the model's own tokenizer" '"$HERD" quantize $D "$T/q.gguf" --type q8_0 --tokenizer $TOK > /dev/null 2>&1 && [ -s "$T/q.gguf" ]'
check "quantize --tokenizer with a GGUF input is refused" '"$HERD" quantize "$T/q.gguf" "$T/q2.gguf" --type q8_0 --tokenizer $TOK 2>/dev/null; [ $? -eq 2 ] && [ ! -e "$T/q2.gguf" ]'

# 5. help that matches the tool
check "herd --help lists mx table" '"$HERD" --help | grep -q "mx table"'
check "profile --help lists small" '"$HERD" profile --help | grep -q "scout|small|tiny"'
check "README: profile --synthetic small runs" '"$HERD" profile --synthetic small --prompt-len 4 -n 1 -t 1 > /dev/null 2>&1'
check "perplexity --help: one ctx default" '"$HERD" perplexity --help > "$T/h" && ! grep -q max_position "$T/h" && [ "$(grep -c -- "--ctx" "$T/h")" -eq 1 ]'
check "mx table --help: --ctx once" '[ "$("$HERD" mx table --help | grep -c -- "--ctx")" -eq 1 ]'
check "quantize --help documents --llama-cpp" '"$HERD" quantize --help | grep -q "^  --llama-cpp"'
check "model commands take GGUF" '"$HERD" run --help | grep -q "GGUF" && ! for c in run chat logits tokenize perplexity profile; do "$HERD" $c --help; done | grep -q -- "-m DIR"'

# 6. habits: -f, -p -, -c/--ctx-size, -s, -n -1, penalties, --special, -V
ids() { "$HERD" run -m $D --tokenizer $TOK --temp 0 --print-ids "$@" 2>/dev/null; }
want=$(ids -p "Hello world" -n 6)
printf 'Hello world' > "$T/p.txt"
check "-f FILE" '[ -n "$want" ] && [ "$(ids -f "$T/p.txt" -n 6)" = "$want" ]'
check "--file FILE" '[ "$(ids --file "$T/p.txt" -n 6)" = "$want" ]'
check "-p - reads stdin" '[ "$(printf "Hello world" | ids -p - -n 6)" = "$want" ]'
check "-f missing file" '! "$HERD" run -m $D -f "$T/none.txt" 2> "$T/e" && one_line "$T/e" && grep -q "none.txt" "$T/e"'
check "-p and -f together" '"$HERD" run -m $D -p hi -f "$T/p.txt" 2>/dev/null; [ $? -eq 2 ]'
check "-c N" '[ "$(ids --ids 1,2,3 -c 5 -n 16 | wc -w)" -eq 3 ]'
check "--ctx-size N" '[ "$(ids --ids 1,2,3 --ctx-size 5 -n 16 | wc -w)" -eq 3 ]'
check "a prompt over the context names the context" '! "$HERD" run -m $D --ids 1,2,3,4,5,6 -c 4 -n 2 2> "$T/e" && grep -q "does not fit the context of 4 tokens" "$T/e"'
check "-n -1 runs until the context is full" '[ "$(ids --ids 1,2,3 -c 8 -n -1 | wc -w)" -eq 6 ]'
smp() { "$HERD" run -m $D --ids 1,2,3 -n 12 --temp 1 --print-ids "$@" 2>/dev/null; }
check "-s repeats" '[ "$(smp -s 5)" = "$(smp --seed 5)" ]'
check "the default seed is random" '[ "$(smp)" != "$(smp)" ] || [ "$(smp)" != "$(smp)" ]'
check "-s -1 is random, -v prints the seed" '"$HERD" run -m $D --ids 1,2,3 -n 12 --temp 1 --print-ids -s -1 -v > "$T/o" 2> "$T/e" && s=$(sed -n "s/.*seed \([0-9]*\).*/\1/p" "$T/e") && [ -n "$s" ] && [ "$(smp -s $s)" = "$(cat "$T/o")" ]'
repeats() { tr ' ' '\n' | sort | uniq -d | grep -q .; }
check "greedy repeats itself without penalties" 'ids --ids 1,2,3 -n 24 | repeats'
check "--repeat-penalty over the whole history" '! ids --ids 1,2,3 -n 24 --repeat-penalty 100 --repeat-last-n -1 | repeats'
check "--presence-penalty" '! ids --ids 1,2,3 -n 24 --presence-penalty 100 --repeat-last-n -1 | repeats'
check "--frequency-penalty" '! ids --ids 1,2,3 -n 24 --frequency-penalty 100 --repeat-last-n -1 | repeats'
check "--repeat-last-n 0 turns penalties off" '[ "$(ids --ids 1,2,3 -n 24 --repeat-penalty 100 --repeat-last-n 0)" = "$(ids --ids 1,2,3 -n 24)" ]'
check "bad --repeat-penalty" '"$HERD" run -m $D --ids 1 --repeat-penalty -1 2>/dev/null; [ $? -eq 2 ]'
# special tokens are hidden unless --special; control bytes are never printed raw
txt() { "$HERD" run -m $D --tokenizer $TOK --ids 1,2,3 -n 80 --temp 1 --ignore-eos "$@" 2>/dev/null; }
shown=0; hidden=1; clean=1
for s in 1 2 3 4 5 6; do
  txt -s $s --special > "$T/sp"
  txt -s $s > "$T/nsp"
  grep -q "<|" "$T/sp" && shown=1
  grep -q "<|" "$T/nsp" && hidden=0
  LC_ALL=C tr -d '\n\t' < "$T/nsp" | LC_ALL=C grep -q '[[:cntrl:]]' && clean=0
  LC_ALL=C tr -d '\n\t' < "$T/sp" | LC_ALL=C grep -q '[[:cntrl:]]' && clean=0
done
check "--special shows special tokens" '[ $shown -eq 1 ]'
check "special tokens hidden by default" '[ $hidden -eq 1 ]'
check "control bytes never raw" '[ $clean -eq 1 ] && cat "$T"/sp "$T"/nsp | grep -q "\\\\x"'
check "herd help CMD" '"$HERD" help run | grep -q "^usage: herd run"'
check "-V" '"$HERD" -V | grep -q "^herd "'

# 7. bad environment, output paths and model paths are said up front
check "HERD_LOG=bogus" 'HERD_LOG=bogus "$HERD" run -m $D --ids 1 -n 1 > /dev/null 2> "$T/e"; [ $? -eq 2 ] && one_line "$T/e" && grep -q HERD_LOG "$T/e"'
check "HERD_ISA=avx9" 'HERD_ISA=avx9 "$HERD" run -m $D --ids 1 -n 1 > /dev/null 2> "$T/e"; [ $? -eq 2 ] && one_line "$T/e" && grep -q HERD_ISA "$T/e"'
check "HERD_ISA=avx2 still works" 'HERD_ISA=avx2 "$HERD" run -m $D --ids 1 -n 1 --print-ids > /dev/null 2>&1'
check "profile --svg bad path before the run" '! "$HERD" profile --synthetic tiny --svg "$T/no/such/x.svg" > "$T/o" 2> "$T/e" && one_line "$T/e" && [ ! -s "$T/o" ] && grep -q "no such directory" "$T/e"'
check "profile --svg a directory" '! "$HERD" profile --synthetic tiny --svg "$T" > /dev/null 2>&1'
for c in "run --ids 1" "profile" "bench model" "perplexity -f $T/p.txt" "logits --ids 1 -o $T/l.npy"; do
  check "$c -m FILE.safetensors says pass the folder" '! "$HERD" $c -m $D/model.safetensors 2> "$T/e" > /dev/null && one_line "$T/e" && grep -q "pass the folder" "$T/e"'
done
mkdir "$T/long"
sed 's/"max_position_embeddings": *[0-9]*/"max_position_embeddings": 10485760/' $D/config.json > "$T/long/config.json"
ln -s "$PWD/$D/model.safetensors" "$T/long/"
check "a 10M training length is capped by default" '"$HERD" run -m "$T/long" --ids 1,2 -n 1 --print-ids 2> "$T/e" > /dev/null && grep -q "at ctx 8192, .*the model.s 10485760 capped" "$T/e"'
check "-c asks for more" '"$HERD" run -m "$T/long" --ids 1,2 -n 1 --print-ids -c 20000 2> "$T/e" > /dev/null && grep -q "at ctx 20000" "$T/e"'
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
