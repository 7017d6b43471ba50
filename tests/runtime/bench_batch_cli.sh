#!/bin/sh
# herd bench batch on the tiny synthetic model: one JSON object per sequence count with the
# fields the issue asks for, and usage errors exit 2.
HERD="$1"
fail=0; pass=0
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }

out=$("$HERD" bench batch --synthetic tiny --seqs 1,3 -t 1 -p 8 -n 4 -r 1 --json 2>/dev/null)
check "exit 0" '[ $? -eq 0 ]'
check "one object per count" '[ "$(echo "$out" | wc -l)" -eq 2 ]'
for f in seqs threads type tokens_per_s per_seq_tokens_per_s bytes_per_step bound_tokens_per_s \
         roofline_tokens_per_s pct_roofline pct_bound int8_gops; do
  check "field $f" 'echo "$out" | grep -q "\"$f\": "'
done
check "3 sequences" 'echo "$out" | grep -q "\"seqs\": 3, \"threads\": 1"'
# --ops: per sequence count, the op classes (routed experts among them) and the pool's waits
out=$("$HERD" bench batch --synthetic tiny --seqs 1,3 -t 2 -p 8 -n 4 -r 1 --json --ops 2>/dev/null)
check "ops exit 0" '[ $? -eq 0 ]'
check "ops objects" '[ "$(echo "$out" | grep -c "\"ops\": {")" -eq 2 ]'
check "ops expert" 'echo "$out" | grep "\"seqs\": 3, \"ops\"" | grep -q "\"expert\": {\"calls\""'
check "ops pool" 'echo "$out" | grep -q "\"pool\": {\"runs\": "'
check "ops roofline" 'echo "$out" | grep "\"ops\"" | grep -q "\"traffic_model_ms\": "'
out=$("$HERD" bench batch --synthetic tiny --seqs 2 -t 1 -p 8 -n 4 -r 1 --ops --cputime 2>/dev/null)
check "ops table" 'echo "$out" | grep -q "^| expert | "'
"$HERD" bench batch --synthetic tiny -t 2 --cputime 2>/dev/null; check "cputime needs -t 1" '[ $? -eq 2 ]'
"$HERD" bench batch --synthetic tiny --seqs 0 2>/dev/null; check "bad --seqs" '[ $? -eq 2 ]'
"$HERD" bench batch --synthetic tiny --limits soon 2>/dev/null; check "bad --limits" '[ $? -eq 2 ]'
"$HERD" bench batch --seqs 2 2>/dev/null; check "no model" '[ $? -eq 2 ]'
"$HERD" bench batch --synthetic nosuch 2>/dev/null; check "unknown model" '[ $? -eq 1 ]'
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
