#!/bin/sh
# cmake --install into a temporary prefix: herd, libherd.a, the public headers, herd.pc and
# herd(1) land in the usual places, and examples/logits.c builds with nothing but
# `pkg-config --cflags --libs herd`, loads the tiny model and prints the logits herd does.
HERD="$1"
BUILD=$(cd "$(dirname "$HERD")" && pwd)
SRC=$(cd ../.. && pwd) # tests run from tests/data
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0; pass=0
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }
P="$T/prefix"
cmake --install "$BUILD" --prefix "$P" > "$T/log" 2>&1
check "cmake --install" '[ $? -eq 0 ]'
check "bin/herd" '"$P/bin/herd" --version | grep -q "^herd "'
check "the built-in model" '[ -f "$P/share/herd/kjv/model.gguf" ]'
check "libherd.a" '[ -n "$(find "$P" -name libherd.a)" ]'
check "public headers" '[ -f "$P/include/herd/herd.h" ] && [ -f "$P/include/herd/runtime.h" ]'
pc=$(find "$P" -name herd.pc)
check "herd.pc" '[ -n "$pc" ] && case "$pc" in "$P"/lib*/pkgconfig/herd.pc) true;; *) false;; esac'
check "man page" '[ -f "$P/share/man/man1/herd.1" ] && grep -q "^\.TH HERD 1" "$P/share/man/man1/herd.1"'
check "man page holds every command's help" '[ "$(grep -c -e "^\.SS herd run\$" -e "^\.SS herd chat\$" -e "^\.SS herd quantize\$" -e "^\.SS herd mx table\$" -e "^\.SS herd perplexity\$" "$P/share/man/man1/herd.1")" -eq 5 ]'
if command -v man > /dev/null 2>&1; then
  check "man renders it" 'MANWIDTH=80 man -l "$P/share/man/man1/herd.1" 2>/dev/null | grep -q "repeat-penalty"'
fi
# a sanitizer build's library needs its runtime in the program too
san=""
grep -q "^HERD_SANITIZE:BOOL=ON" "$BUILD/CMakeCache.txt" 2>/dev/null && san="-fsanitize=address,undefined"
export PKG_CONFIG_PATH="$(dirname "$pc")"
check "pkg-config --cflags --libs herd" 'pkg-config --cflags --libs herd > "$T/flags" && grep -q -- "-lherd" "$T/flags"'
check "a program builds against libherd" 'cc -std=c11 $san "$SRC/examples/logits.c" $(pkg-config --cflags --libs herd) -o "$T/logits" 2> "$T/cc.log" || { cat "$T/cc.log"; false; }'
D=llama4/tiny-scout
check "it loads the tiny model and prints logits" '"$T/logits" $D 1 2 3 > "$T/out" && grep -q "^logits\[0..3\] -*[0-9.]* " "$T/out"'
want=$("$HERD" run -m $D --ids 1,2,3 -n 1 --temp 0 --print-ids 2>/dev/null)
check "its next token is herd run's" '[ -n "$want" ] && grep -q "next token $want\$" "$T/out"'
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
