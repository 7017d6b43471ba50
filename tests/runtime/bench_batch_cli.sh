#!/bin/sh
# herd bench batch on the tiny synthetic model: one JSON object per sequence count with the
# fields the issue asks for, and usage errors exit 2.
HERD="$1"
fail=0; pass=0
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }

out=$("$HERD" bench batch --synthetic tiny --seqs 1,3 -t 1 -p 8 -n 4 -r 1 --json 2>/dev/null)
check "exit 0" '[ $? -eq 0 ]'
check "one object per count" '[ "$(echo "$out" | wc -l)" -eq 2 ]'
for f in seqs threads type tokens_per_s per_seq_tokens_per_s bytes_per_step; do
  check "field $f" 'echo "$out" | grep -q "\"$f\": "'
done
check "3 sequences" 'echo "$out" | grep -q "\"seqs\": 3, \"threads\": 1"'
"$HERD" bench batch --synthetic tiny --seqs 0 2>/dev/null; check "bad --seqs" '[ $? -eq 2 ]'
"$HERD" bench batch --seqs 2 2>/dev/null; check "no model" '[ $? -eq 2 ]'
"$HERD" bench batch --synthetic nosuch 2>/dev/null; check "unknown model" '[ $? -eq 1 ]'
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
