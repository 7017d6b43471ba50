#!/bin/sh
# Fails if any C source differs from .clang-format's style (fix with: sh scripts/format.sh).
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find src include tests bench -name '*.[ch]')
[ -z "$files" ] && exit 0
clang-format --dry-run -Werror $files
