#!/bin/sh
# Issue #20 item 6: what herd reads whole is bounded (docs/SECURITY.md): a pattern file over
# 64 KiB, a chat line over 4 MiB, a JSON file over 64 MiB are refused at once with one line, as
# are a tokenizer.json whose merge list repeats itself and (with our own mknod'd /dev/zero; never
# the real /dev) an endless pattern or chat line. Memory is capped with ulimit -v so an
# unbounded read fails loudly instead of swapping.
. "$(dirname "$0")/common.shlib"

tok=tokenizer/tiny/tokenizer.json
rank=tokenizer/o200k_base.subset.tiktoken
# (a sanitizer build reserves terabytes of address space and cannot start under ulimit -v)
vlim=4000000
(ulimit -v $vlim; exec "$HERD" --version) >/dev/null 2>&1 || vlim=unlimited
lim() { (ulimit -v $vlim; exec timeout 30 "$@") >/dev/null 2>"$T/err"; }

head -c 70000 /dev/urandom | base64 -w0 >"$T/pattern"
lim "$HERD" tokenize --vocab "$rank" --pattern "$T/pattern" -p hi
one_error "a 90 KB pattern file" $? "$T/err" "allowed"

# a 5 MiB line on standard input of chat
awk 'BEGIN { s = "abcdefghij"; while (length(s) < 5300000) s = s s; print s }' >"$T/line"
(ulimit -v $vlim; exec timeout 60 "$HERD" chat -m "$TINY" --tokenizer "$tok" -n 1 <"$T/line") \
  >/dev/null 2>"$T/err"
one_error "chat with a 5 MiB input line" $? "$T/err" "longer than"

# a tokenizer.json over the JSON limit (sparse: no disk used)
printf '{' >"$T/huge.json"; truncate -s 70M "$T/huge.json"
lim "$HERD" tokenize --vocab "$T/huge.json" -p hi
one_error "a 70 MiB tokenizer.json" $? "$T/err" "allowed"
mkdir "$T/m"; cp "$TINY/config.json" "$T/m/"; ln -s "$PWD/$TINY/model.safetensors" "$T/m/"
printf '{' >"$T/m2.json"; truncate -s 70M "$T/m2.json"; mkdir "$T/m2"
cp "$T/m2.json" "$T/m2/config.json"
lim "$HERD" logits -m "$T/m2" --ids 1 -o "$T/o.npy"
one_error "a 70 MiB config.json" $? "$T/err" "allowed"

# a merge list that repeats a merge
python3 - "$tok" "$T/dup.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
m = d["model"]["merges"]
d["model"]["merges"] = m + [m[5]]
json.dump(d, open(sys.argv[2], "w"))
PY
lim "$HERD" tokenize --vocab "$T/dup.json" -p hi
one_error "a tokenizer.json with a repeated merge" $? "$T/err" "repeats merge"

if can_mknod; then
  mknod "$T/zero" c 1 5
  lim "$HERD" tokenize --vocab "$rank" --pattern "$T/zero" -p hi
  one_error "--pattern on a zero device" $? "$T/err" "character device"
  (ulimit -v $vlim; exec timeout 60 "$HERD" chat -m "$TINY" --tokenizer "$tok" -n 1 <"$T/zero") \
    >/dev/null 2>"$T/err"
  one_error "chat < zero device" $? "$T/err" "longer than"
  (ulimit -v $vlim; exec timeout 60 "$HERD" run -m "$TINY" --tokenizer "$tok" -p - -n 1 <"$T/zero") \
    >/dev/null 2>"$T/err"
  one_error "run -p - < zero device" $? "$T/err" "longer than"
else
  skip "zero device: mknod not permitted here; the regular-file cases ran"
fi
finish
