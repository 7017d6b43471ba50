#!/bin/sh
# Rewrites every C source in place in .clang-format's style.
cd "$(dirname "$0")/.."
git ls-files '*.c' '*.h' | xargs clang-format -i
