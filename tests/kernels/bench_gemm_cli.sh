#!/bin/sh
# herd bench gemm: help, and usage errors exit 2 with one line on stderr (the benchmark itself
# is timing, not a test).
HERD="$1"
fail=0; pass=0
err=/tmp/herd_bench_gemm_err.$$
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }

check "help" '"$HERD" bench gemm --help | grep -q -- "--cputime"'
check "unknown option" '"$HERD" bench gemm --bogus 2>$err; [ $? -eq 2 ] && [ "$(wc -l < $err)" -eq 1 ]'
check "unknown type" '"$HERD" bench gemm --type nope 2>$err; [ $? -eq 2 ] && grep -q "nope" $err'
check "bad threads" '"$HERD" bench gemm -t 0 2>$err; [ $? -eq 2 ]'
check "bad M" '"$HERD" bench gemm --m 0 2>$err; [ $? -eq 2 ] && [ "$(wc -l < $err)" -eq 1 ]'
check "bad shape" '"$HERD" bench gemm --shape 64x 2>$err; [ $? -eq 2 ] && grep -q "64x" $err'
check "help lists --m" '"$HERD" bench gemm --help | grep -q -- "--shape"'
check "missing value" '"$HERD" bench gemm -t 2>$err; [ $? -eq 2 ]'
rm -f $err
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
