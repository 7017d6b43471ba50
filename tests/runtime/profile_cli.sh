#!/bin/sh
# herd profile on the synthetic tiny model: the table, the SVG and the JSON it writes, and its
# usage errors (exit 2) and failures (exit 1, one line, no half-written file). The machine
# limits are measured once into a private cache.
HERD="$1"
fail=0; pass=0
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }
T=$(mktemp -d)
export XDG_CACHE_HOME="$T/cache"

check "limits measured and cached" '"$HERD" profile --limits -t 1 >"$T/lim" 2>/dev/null && grep -q "memory read" "$T/lim" && [ -f "$T/cache/herd/limits.json" ]'
check "limits from the cache" '"$HERD" profile --limits -t 1 | grep -q "(cached, measured 20[0-9-]* [0-9:]* UTC; --remeasure to renew)"'
check "profile runs" '"$HERD" profile --synthetic tiny --prompt-len 12 -n 3 -t 1 --svg "$T/r.svg" --json "$T/r.json" >"$T/out" 2>"$T/err"'
check "prefill table" 'grep -q "^prefill: 12 tokens" "$T/out" && grep -q "^  expert " "$T/out" && grep -q "^  attention " "$T/out"'
check "decode table" 'grep -q "^decode: 3 tokens" "$T/out" && grep -q "^  lm_head " "$T/out"'
check "svg points" '[ "$(grep -c "<circle class=\"op\"" "$T/r.svg")" -ge 20 ] && tail -1 "$T/r.svg" | grep -q "</svg>"'
check "json" 'grep -q "\"phase\": \"decode\"" "$T/r.json" && grep -q "\"op\": \"shared\"" "$T/r.json"'
check "f32 weights" '"$HERD" profile --synthetic tiny --type f32 --prompt-len 4 -n 1 -t 1 | grep -q "^weights f32, activations f32"'
check "int8, fast activations" '"$HERD" profile --synthetic tiny --dtype int8 --act auto --prompt-len 4 -n 1 -t 1 | grep -q "^weights int8, activations auto"'
check "bad --act: usage" '"$HERD" profile --synthetic tiny --act fast 2>/dev/null; [ $? -eq 2 ]'
# no model: the built-in one (models/kjv) when the source tree has it, else a usage error
if [ -f ../../models/kjv/model.gguf ]; then
  check "no model: the built-in one" '"$HERD" profile --prompt-len 4 -n 1 -t 1 >/dev/null 2>&1'
else
  check "no model: usage" '"$HERD" profile --prompt-len 4 2>"$T/e"; [ $? -eq 2 ] && [ "$(wc -l < "$T/e")" -eq 1 ]'
fi
check "-p needs -m: usage" '"$HERD" profile --synthetic tiny -p hi 2>/dev/null; [ $? -eq 2 ]'
check "bad type: usage" '"$HERD" profile --synthetic tiny --type nope 2>/dev/null; [ $? -eq 2 ]'
check "bad synthetic name" '"$HERD" profile --synthetic huge 2>"$T/e"; [ $? -eq 1 ] && [ "$(wc -l < "$T/e")" -eq 1 ]'
check "missing model dir" '"$HERD" profile -m "$T/none" 2>"$T/e"; [ $? -eq 1 ] && [ "$(wc -l < "$T/e")" -eq 1 ]'
check "unwritable svg" '"$HERD" profile --synthetic tiny --prompt-len 4 -n 1 -t 1 --svg "$T/no/dir/r.svg" >/dev/null 2>"$T/e"; [ $? -eq 1 ] && [ "$(wc -l < "$T/e")" -eq 1 ] && [ ! -e "$T/no" ]'
check "cpu clock" '"$HERD" profile --synthetic tiny --cputime -t 1 --prompt-len 4 -n 1 | grep -q "CPU clock"'
check "cpu clock needs -t 1" '"$HERD" profile --synthetic tiny --cputime -t 2 2>/dev/null; [ $? -eq 2 ]'
check "help" '"$HERD" profile --help | grep -q -- "--synthetic"'
rm -rf "$T"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
