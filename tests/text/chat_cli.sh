#!/bin/sh
# herd chat on the tiny random Llama 4 model with the tiny 512-token tokenizer, driven by piped
# stdin: greedy replies equal `herd run` on the whole rendered history (so keeping the KV cache
# between turns changes nothing), each turn prefills only its new tokens, end of input and
# Ctrl-C quit cleanly, and errors are one line.
HERD="$1"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0; pass=0
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }

# A model directory: the tiny model's files plus the tiny tokenizer.
M="$T/model"
mkdir "$M"
for f in llama4/tiny-scout/*; do ln -s "$PWD/$f" "$M/"; done
cp tokenizer/tiny/tokenizer.json "$M/"
TOK="--vocab $M/tokenizer.json"
NL='
'
ids() { "$HERD" tokenize $TOK --special -p "$1" | tr ' ' ','; }
HDR="<|header_start|>user<|header_end|>$NL$NL"
AST="<|header_start|>assistant<|header_end|>$NL$NL"

# Reference: herd run, greedy, 6 tokens, on the full history each time.
P1=$(ids "<|begin_of_text|>$HDR""Hello there<|eot|>$AST")
R1=$("$HERD" run -m "$M" --ids "$P1" -n 6 --temp 0 --print-ids 2>/dev/null | tr ' ' ',')
P2="$P1,$R1,$(ids "<|eot|>$HDR""What is up?<|eot|>$AST")"
R2=$("$HERD" run -m "$M" --ids "$P2" -n 6 --temp 0 --print-ids 2>/dev/null | tr ' ' ',')
{ "$HERD" tokenize $TOK --decode -p "$R1"; "$HERD" tokenize $TOK --decode -p "$R2"; } > "$T/want"
check "reference replies" '[ -n "$R1" ] && [ -n "$R2" ]'

# (--special: the tiny random model says special tokens, which tokenize --decode shows)
printf 'Hello there\n\nWhat is up?\n' | "$HERD" chat -m "$M" -n 6 --temp 0 -v --special > "$T/got" 2> "$T/err"
check "chat exits 0 at end of input" '[ $? -eq 0 ]'
check "greedy replies equal herd run on the whole history" 'cmp -s "$T/got" "$T/want"'
n1=$(echo "$P1" | tr ',' '\n' | wc -l)
n2=$(ids "<|eot|>$HDR""What is up?<|eot|>$AST" | tr ',' '\n' | wc -l)
check "turn 1 prefills the prompt" 'grep -q "turn 1: prefilled $n1 tokens (cache 0 -> $n1), reply 6 tokens" "$T/err"'
# generation feeds every sampled token, so the cache holds the whole reply
check "turn 2 prefills only the new tokens" 'grep -q "turn 2: prefilled $n2 tokens (cache $((n1 + 6)) -> " "$T/err"'
check "empty lines are skipped" '[ "$(grep -c "herd chat: turn" "$T/err")" -eq 2 ]'

# A system prompt goes first; the reply equals herd run on that prompt.
P3=$(ids "<|begin_of_text|><|header_start|>system<|header_end|>$NL${NL}Be brief.<|eot|>$HDR""Hi<|eot|>$AST")
R3=$("$HERD" run -m "$M" --ids "$P3" -n 4 --temp 0 --print-ids 2>/dev/null | tr ' ' ',')
"$HERD" tokenize $TOK --decode -p "$R3" > "$T/want3"
check "--system" 'echo Hi | "$HERD" chat -m "$M" --system " Be brief. " -n 4 --temp 0 --special 2>/dev/null | cmp -s - "$T/want3"'
check "--tokenizer FILE" 'echo Hi | "$HERD" chat -m llama4/tiny-scout --tokenizer "$M/tokenizer.json" --system "Be brief." -n 4 --temp 0 --special 2>/dev/null | cmp -s - "$T/want3"'
check "sampled chat with a seed repeats" '[ "$(printf "a\nb\n" | "$HERD" chat -m "$M" -n 5 --seed 3 --temp 1 2>/dev/null)" = "$(printf "a\nb\n" | "$HERD" chat -m "$M" -n 5 --seed 3 --temp 1 2>/dev/null)" ]'
check "no input" '"$HERD" chat -m "$M" < /dev/null > "$T/empty" 2>/dev/null && [ ! -s "$T/empty" ]'

# Ctrl-C at the prompt quits with exit 0 (wait until the model is loaded before sending it).
mkfifo "$T/fifo"
(sleep 60 > "$T/fifo") &
holder=$!
"$HERD" chat -m "$M" < "$T/fifo" > /dev/null 2> "$T/err_int" &
pid=$!
i=0
while [ $i -lt 300 ] && ! grep -q "memory plan" "$T/err_int"; do sleep 0.1; i=$((i+1)); done
sleep 0.5
kill -INT $pid
wait $pid
code=$?
kill $holder 2>/dev/null
check "Ctrl-C at the prompt exits 0" '[ $code -eq 0 ]'

# herd run -p: <|begin_of_text|> + the text through the model directory's tokenizer, text out.
PR=$(ids "<|begin_of_text|>Hello there")
check "run -p ids" '[ "$("$HERD" run -m "$M" -p "Hello there" -n 5 --temp 0 --print-ids 2>/dev/null)" = "$("$HERD" run -m "$M" --ids "$PR" -n 5 --temp 0 --print-ids 2>/dev/null)" ]'
"$HERD" tokenize $TOK --decode -p "$("$HERD" run -m "$M" --ids "$PR" -n 5 --temp 0 --print-ids 2>/dev/null)" > "$T/want_run"
check "run -p text" '"$HERD" run -m "$M" -p "Hello there" -n 5 --temp 0 2>/dev/null | cmp -s - "$T/want_run"'

# Errors.
mkdir "$T/notok"
for f in llama4/tiny-scout/*; do ln -s "$PWD/$f" "$T/notok/"; done
check "model dir without a tokenizer" '! "$HERD" chat -m "$T/notok" < /dev/null 2> "$T/e1" && [ "$(wc -l < "$T/e1")" -eq 1 ] && grep -q "no tokenizer.json or tokenizer.model" "$T/e1"'
check "run -p without a tokenizer" '! "$HERD" run -m "$T/notok" -p hi 2> "$T/e4" && grep -q "no tokenizer.json" "$T/e4"'
check "not a Llama 4 tokenizer" '! echo hi | "$HERD" chat -m "$M" --tokenizer tokenizer/hf/o200k_4k.tokenizer.json 2> "$T/e2" && grep -q "begin_of_text" "$T/e2"'
check "a message larger than the context" '! printf "hello there how are you today\n" | "$HERD" chat -m "$M" --ctx 16 2> "$T/e3" && grep -q "does not fit the context of 16" "$T/e3"'
check "--ids is refused" '! "$HERD" chat -m "$M" --ids 1,2 < /dev/null 2>/dev/null'
# no -m: the built-in model (models/kjv) when the source tree has it, else a usage error
if [ -f ../../models/kjv/model.gguf ]; then
  check "no -m: the built-in model" 'echo "And God said" | "$HERD" chat -n 4 >/dev/null 2>&1'
else
  check "-m is required" '"$HERD" chat < /dev/null 2>/dev/null; [ $? -eq 2 ]'
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
