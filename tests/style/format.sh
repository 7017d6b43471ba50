#!/bin/sh
# Style: every tracked C source must match .clang-format (fix with: sh scripts/format.sh).
cd "$(dirname "$0")/../.." || exit 1
if sh scripts/check-format.sh >/dev/null 2>&1; then
  echo "1 passed, 0 failed"
else
  sh scripts/check-format.sh 2>&1 | grep -o '^[^:]*:[0-9]*' | sort -u | head -20
  echo "0 passed, 1 failed"
  exit 1
fi
