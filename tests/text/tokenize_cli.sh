#!/bin/sh
# herd tokenize: the tiktoken/HF vectors through the command (--per-line, -p, --decode, -m DIR,
# --pattern, --special), and hostile files giving one-line errors that name the file.
HERD="$1"
D=tokenizer
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0; pass=0
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }
# one_error NAME WANT_CODE PATTERN CMD...: fails with exit WANT_CODE and one stderr line matching PATTERN
one_error() {
  name="$1"; want="$2"; pat="$3"; shift 3
  "$@" >"$T/out" 2>"$T/err"; code=$?
  if [ "$code" -eq "$want" ] && [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q -- "$pat" "$T/err"; then
    pass=$((pass+1))
  else
    echo "FAIL: $name (exit $code, stderr: $(head -c 300 "$T/err"))"; fail=$((fail+1))
  fi
}

O200K="--vocab $D/o200k_base.subset.tiktoken"
L4="--vocab $D/llama4/tokenizer.model"
check "o200k per-line" '"$HERD" tokenize $O200K --per-line $D/corpus.txt | cmp -s - $D/corpus.o200k.ids'
check "llama4 per-line" '"$HERD" tokenize $L4 --per-line $D/corpus.txt | cmp -s - $D/corpus.llama4.ids'
check "o200k --pattern" '"$HERD" tokenize $O200K --pattern $D/o200k_base.pattern.txt --per-line $D/corpus.txt | cmp -s - $D/corpus.o200k.ids'
check "hf json per-line" '"$HERD" tokenize --vocab $D/hf/o200k_4k.tokenizer.json --per-line $D/corpus.txt | cmp -s - $D/hf/corpus.o200k_4k.ids'
check "hf legacy merges" '"$HERD" tokenize --vocab $D/hf/o200k_4k.legacy_merges.tokenizer.json --per-line $D/corpus.txt | cmp -s - $D/hf/corpus.o200k_4k.ids'
check "llama4 decode round trip" '"$HERD" tokenize $L4 --per-line $D/corpus.llama4.ids --decode | cmp -s - $D/corpus.txt'
check "o200k decode round trip" '"$HERD" tokenize $O200K --per-line $D/corpus.o200k.ids --decode | cmp -s - $D/corpus.txt'

# -m DIR finds tokenizer.model, or tokenizer.json first.
mkdir "$T/meta" "$T/hf"
ln -s "$PWD/$D/llama4/tokenizer.model" "$T/meta/tokenizer.model"
ln -s "$PWD/$D/hf/o200k_4k.tokenizer.json" "$T/hf/tokenizer.json"
ln -s "$PWD/$D/llama4/tokenizer.model" "$T/hf/tokenizer.model"
check "-m DIR (tokenizer.model)" '"$HERD" tokenize -m "$T/meta" --per-line $D/corpus.txt | cmp -s - $D/corpus.llama4.ids'
check "-m DIR (tokenizer.json first)" '"$HERD" tokenize -m "$T/hf" --per-line $D/corpus.txt | cmp -s - $D/hf/corpus.o200k_4k.ids'

check "-p" '[ "$("$HERD" tokenize $L4 -p "Hello world")" = "19873 3817" ]'
check "-p --decode" '[ "$("$HERD" tokenize $L4 -p "19873, 3817" --decode)" = "Hello world" ]'
check "special text is plain by default" '[ "$("$HERD" tokenize $L4 -p "<|eot|>")" != "200008" ]'
check "--special" '[ "$("$HERD" tokenize $L4 --special -p "<|eot|><|eot|>x<|eot|>")" = "200008 200008 100 200008" ]'
check "--bos" '[ "$("$HERD" tokenize $L4 --bos -p "Hello")" = "200000 19873" ]'
check "empty -p" '[ "$("$HERD" tokenize $L4 -p "")" = "" ]'
printf 'caf\351 \377\376 ok\n' > "$T/bad.txt"
check "invalid UTF-8 round trip" '"$HERD" tokenize $L4 --per-line "$T/bad.txt" > "$T/bad.ids" && "$HERD" tokenize $L4 --per-line "$T/bad.ids" --decode | cmp -s - "$T/bad.txt"'

# Hostile files: exit 1, one line, naming the file.
printf 'IQ== 0\nnot-base64! 1\n' > "$T/b64.tiktoken"
one_error "bad base64" 1 "b64.tiktoken:2" "$HERD" tokenize --vocab "$T/b64.tiktoken" -p x
printf 'IQ== 0\nIg==\n' > "$T/norank.tiktoken"
one_error "missing rank" 1 "norank.tiktoken:2" "$HERD" tokenize --vocab "$T/norank.tiktoken" -p x
printf 'IQ== 0\nIg== 0\n' > "$T/dup.tiktoken"
one_error "duplicate rank" 1 "dup.tiktoken" "$HERD" tokenize --vocab "$T/dup.tiktoken" -p x
printf 'IQ== 99999999999\n' > "$T/huge.tiktoken"
one_error "huge rank" 1 "huge.tiktoken" "$HERD" tokenize --vocab "$T/huge.tiktoken" -p x
printf 'IQ== 0\nIg== 1\n' > "$T/few.tiktoken"
one_error "missing bytes" 1 "few.tiktoken: byte 0x00 has no token" "$HERD" tokenize --vocab "$T/few.tiktoken" -p x
: > "$T/empty.tiktoken"
one_error "empty rank file" 1 "empty.tiktoken" "$HERD" tokenize --vocab "$T/empty.tiktoken" -p x
head -c 100000 $D/hf/o200k_4k.tokenizer.json > "$T/cut.json"
one_error "truncated tokenizer.json" 1 "cut.json" "$HERD" tokenize --vocab "$T/cut.json" -p x
printf '{"model": {"type": "Unigram", "vocab": []}}' > "$T/unigram.json"
one_error "unsupported model" 1 "unigram.json" "$HERD" tokenize --vocab "$T/unigram.json" -p x
sed 's/"Ġ": 220/"Ġ": "x"/' $D/hf/o200k_4k.tokenizer.json > "$T/badid.json"
one_error "non-integer vocab id" 1 "badid.json" "$HERD" tokenize --vocab "$T/badid.json" -p x
awk '/"merges"/ {m=1} m && !done && /"Ġ",/ {sub(/"Ġ",/, "\"zzzz\","); done=1} {print}' \
  $D/hf/o200k_4k.tokenizer.json > "$T/badmerge.json"
one_error "merge of an unknown token" 1 "badmerge.json: merge" "$HERD" tokenize --vocab "$T/badmerge.json" -p x
printf '[' > "$T/bad.pattern"
one_error "bad pattern" 1 "does not compile" "$HERD" tokenize $O200K --pattern "$T/bad.pattern" -p x
one_error "missing vocab" 1 "nope.tiktoken" "$HERD" tokenize --vocab "$T/nope.tiktoken" -p x
one_error "dir without tokenizer" 1 "no tokenizer.json or tokenizer.model" "$HERD" tokenize -m "$T" -p x
one_error "bad id to decode" 1 "not a token id" "$HERD" tokenize $L4 -p "12 x3" --decode
one_error "unknown id to decode" 1 "not in the vocabulary" "$HERD" tokenize $L4 -p "999999" --decode
printf '1\t<|x|>\n' > "$T/specials.tsv"
one_error "special id taken" 1 "defined twice" "$HERD" tokenize $L4 --specials "$T/specials.tsv" -p x

# Usage errors: exit 2.
one_error "no vocab" 2 "exactly one of --vocab" "$HERD" tokenize -p x
one_error "no input" 2 "exactly one of --per-line" "$HERD" tokenize $L4
one_error "unknown option" 2 "unknown option" "$HERD" tokenize $L4 -p x --frob
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
