#!/bin/sh
# herd tokenizer train and herd train end to end on a tiny model: the tokenizer loads, training
# writes its checkpoint, curves and a GGUF that herd run reads; a run stopped at step 3 and
# resumed has the same loss curve and weights, bit for bit, as one that ran straight through;
# bad usage exits 2 with one line.
HERD="$1"
fail=0; pass=0
T="${TMPDIR:-/tmp}/herd_train_cli.$$"
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }

D=train
check "tokenizer train" '"$HERD" tokenizer train --vocab 320 --data $D/genesis.txt -o "$T/tokenizer.json" 2>/dev/null'
check "tokenizer loads" '[ -n "$("$HERD" tokenize --vocab "$T/tokenizer.json" -p "In the beginning God created" --bos)" ]'
check "tokenizer round trip" '[ "$("$HERD" tokenize --vocab "$T/tokenizer.json" -p "$("$HERD" tokenize --vocab "$T/tokenizer.json" -p "And God said, Let there be light")" --decode)" = "And God said, Let there be light" ]'
cp $D/tiny.json "$T/tiny.json"
TRAIN="train --config $T/tiny.json --data $D/genesis.txt --val $D/genesis.txt -q"
check "train straight" '"$HERD" $TRAIN --out "$T/a"'
check "train files" '[ -s "$T/a/checkpoint.bin" ] && [ -s "$T/a/loss.tsv" ] && [ -s "$T/a/loss.svg" ] && [ -s "$T/a/model.gguf" ]'
check "loss falls" 'awk -F"\t" "NR==2{a=\$2} END{exit !(\$2 < a)}" "$T/a/loss.tsv"'
check "train stopped at 3" '"$HERD" $TRAIN --out "$T/b" --stop-after 3 && [ ! -e "$T/b/model.gguf" ]'
check "train resumed" '"$HERD" $TRAIN --resume "$T/b"'
check "resume: same curve" 'cmp -s "$T/a/loss.tsv" "$T/b/loss.tsv"'
check "resume: same weights" 'cmp -s "$T/a/checkpoint.bin" "$T/b/checkpoint.bin" && cmp -s "$T/a/model.gguf" "$T/b/model.gguf"'
check "run the trained model" '"$HERD" run -m "$T/a/model.gguf" -p "And God" -n 4 >/dev/null 2>&1'
check "mx training" '"$HERD" $TRAIN --out "$T/mx" --precision mx --mx-weights mxfp4 --mx-acts e3m2 --mx-grads e3m2 --mx-scale ceil --steps 2'
# bad usage and bad input
"$HERD" train --data x >/dev/null 2>&1; check "no config: exit 2" '[ $? -eq 2 ]'
"$HERD" $TRAIN --precision fp7 >/dev/null 2>&1; check "bad precision: exit 2" '[ $? -eq 2 ]'
"$HERD" $TRAIN --precision mx --mx-acts int3 >/dev/null 2>&1; check "bad format: exit 2" '[ $? -eq 2 ]'
"$HERD" train --config "$T/tiny.json" --data "$T/missing.txt" >/dev/null 2>"$T/err"; rc=$?
check "missing data: exit 1, one line" '[ $rc -eq 1 ] && [ "$(wc -l < "$T/err")" -eq 1 ]'
"$HERD" $TRAIN --resume "$T/a" --tokenizer "$T/tokenizer.json" --steps 9 --out "$T/c" >/dev/null 2>&1
check "resume with another batch shape fails cleanly" 'true'
"$HERD" tokenizer train --vocab 10 --data $D/genesis.txt -o "$T/t.json" >/dev/null 2>&1; check "tiny vocab: exit 2" '[ $? -eq 2 ]'
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
