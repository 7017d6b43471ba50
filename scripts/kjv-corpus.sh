#!/bin/sh
# The training corpus of the built-in model: the King James Bible (public domain) from Debian's
# bible-kjv-text package, one verse per line without its reference, split into
# OUT/kjv-train.txt and a fixed held-out OUT/kjv-val.txt (every 50th block of 100 verses, 2%).
# usage: sh scripts/kjv-corpus.sh OUT_DIR   (needs `bible`: apt-get install bible-kjv)
set -e
out="${1:?usage: kjv-corpus.sh OUT_DIR}"
command -v bible >/dev/null 2>&1 || { echo "kjv-corpus.sh: needs 'bible' (apt-get install bible-kjv)" >&2; exit 1; }
mkdir -p "$out"
bible -f "Gen1:1-Rev22:21" | sed -E 's/^[1-3]?[A-Za-z]+[0-9]+:[0-9]+ //' |
  awk -v tr="$out/kjv-train.txt.tmp" -v va="$out/kjv-val.txt.tmp" \
    '{ if (int((NR - 1) / 100) % 50 == 49) print > va; else print > tr }'
mv "$out/kjv-train.txt.tmp" "$out/kjv-train.txt"
mv "$out/kjv-val.txt.tmp" "$out/kjv-val.txt"
wc -lc "$out/kjv-train.txt" "$out/kjv-val.txt"
