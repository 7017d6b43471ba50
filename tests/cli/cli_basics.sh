#!/bin/sh
# The herd command: --version, --help for every subcommand, and usage errors exit non-zero
# with one line on stderr.
HERD="$1"
fail=0; pass=0
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }

check "version" '"$HERD" --version | grep -q "^herd "'
check "help" '"$HERD" --help | grep -q "commands:"'
for c in run chat logits tokenize quantize mx bench profile perplexity; do
  check "$c --help" '"$HERD" $c --help >/dev/null'
done
check "unknown command" '! "$HERD" frobnicate 2>/tmp/herd_cli_err.$$ && [ "$(wc -l < /tmp/herd_cli_err.$$)" -eq 1 ]'
rm -f /tmp/herd_cli_err.$$
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
