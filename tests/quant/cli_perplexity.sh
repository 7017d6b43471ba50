#!/bin/sh
# herd perplexity on the tiny models: chunked perplexity, KL/top-1 against a base model (zero
# and 100% against itself; a bf16 GGUF scores exactly like its checkpoint), one-line errors.
HERD="$1"
fail=0; pass=0
T="${TMPDIR:-/tmp}/herd_cli_ppl.$$"
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }
D=llama4/tiny-scout
TOK=tokenizer/tiny/tokenizer.json
i=0; : > "$T/text.txt"
while [ $i -lt 60 ]; do echo "The quick brown fox $i jumps over the lazy dog, and then it rests." >> "$T/text.txt"; i=$((i+1)); done
PPL() { "$HERD" perplexity "$@" --tokenizer $TOK -f "$T/text.txt" --ctx 64 --chunks 4 2>/dev/null; }

check "perplexity runs" 'PPL -m $D > "$T/a" && grep -q "^Final estimate: PPL = " "$T/a" && grep -q "^\[1\]" "$T/a"'
check "against itself: KL 0, top-1 100%" 'PPL -m $D --kl-base $D > "$T/s" && grep -q "mean 0.000000, 99th percentile 0.000000; top-1 agreement 100.00%" "$T/s"'
check "bf16 gguf scores like the checkpoint" '"$HERD" quantize $D "$T/b.gguf" --type bf16 >/dev/null 2>&1 && PPL -m "$T/b.gguf" > "$T/b" && [ "$(grep Final "$T/a" | cut -d"(" -f1)" = "$(grep Final "$T/b" | cut -d"(" -f1)" ]'
check "q8_0 against bf16" '"$HERD" quantize $D "$T/q.gguf" --type q8_0 >/dev/null 2>&1 && PPL -m "$T/q.gguf" --kl-base $D | grep -q "KL divergence vs"'

# herd mx table: one row per type, bf16 identical to the checkpoint
check "mx table" 'TMPDIR="$T" "$HERD" mx table -m $D -f "$T/text.txt" --tokenizer $TOK --ctx 32 --chunks 1 --decode 4 --types bf16,mxfp4 -t 2 > "$T/tab" 2>/dev/null && grep -q "^| bf16 | 16.07 | .* | 0.000000 | 0.000000 | 100.00% |" "$T/tab" && grep -q "^| mxfp4 | 4.37 |" "$T/tab" && [ -z "$(ls "$T" | grep "herd_mx_table_")" ]'
# K- and i-quant rows (herd's quantizers) and a llama.cpp recipe beside the MX rows, every
# column filled (bits, size, KL, top-1, PPL, prefill and decode speed)
KQ=q6_k,q5_k,q4_k,q3_k,q2_k,iq4_xs,iq4_nl,q4_k_m
num='[0-9][0-9.]*'
rows_ok() { for t in mxfp4 $(echo $KQ | tr , " "); do
  grep -q "^| $t\( (fallback kernel: [a-z0-9_. ]*)\)\? | $num | $num [KM]iB | $num | $num | $num% | $num | $num | $num |\$" "$T/kq" || { echo "no row $t"; cat "$T/kq"; return 1; }; done; }
check "mx table K/i-quant rows" 'TMPDIR="$T" "$HERD" mx table -m $D -f "$T/text.txt" --tokenizer $TOK --ctx 32 --chunks 1 --decode 4 --types mxfp4,$KQ -t 2 > "$T/kq" 2>/dev/null && grep -q "| prefill tok/s | decode tok/s |" "$T/kq" && rows_ok'
# a row whose matrices ran on a C twin says so (HERD_ISA=ref: every family is the C twin; tiny-scout's
# q4_k rows are short, so its matrices are iq4_nl); the "mx table" check above shows a row
# without the label
check "mx table flags fallback kernels" 'HERD_ISA=ref TMPDIR="$T" "$HERD" mx table -m $D -f "$T/text.txt" --tokenizer $TOK --ctx 32 --chunks 1 --decode 2 --types q4_k -t 2 > "$T/fb" 2>/dev/null && grep -q "^| q4_k (fallback kernel: [a-z0-9_]*\.ref) | " "$T/fb"'
check "mx table bad type" '"$HERD" mx table -m $D -f "$T/text.txt" --types bf16,q9_k 2>&1 >/dev/null | grep -q "unknown type .q9_k."'

one_line() { want=$1; text=$2; shift 2
  "$HERD" "$@" >/dev/null 2>"$T/err"; rc=$?
  [ $rc -eq "$want" ] && [ "$(grep -v "memory plan\|skipped" "$T/err" | wc -l)" -eq 1 ] && grep -q "$text" "$T/err"; }
check "no -f" 'one_line 2 "are required" perplexity -m $D'
check "missing text" 'one_line 1 "cannot open" perplexity -m $D -f "$T/none.txt" --tokenizer $TOK'
echo "short" > "$T/short.txt"
check "text too short" 'one_line 1 "fewer than one chunk" perplexity -m $D -f "$T/short.txt" --tokenizer $TOK --ctx 64'
check "bad base" 'one_line 1 "no such file" perplexity -m $D -f "$T/text.txt" --tokenizer $TOK --kl-base "$T/nope"'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
