# Images in the text stream on tiny-vision: herd logits --image gives every row of logits.bin
# within 1e-3, fed whole, one id at a time and in pieces that split the <|patch|> runs; herd
# run --image gives the golden greedy ids; prompts whose <|image|> count does not match fail.
HERD="$1"
D=llama4/tiny-vision
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
check() { if eval "$2"; then :; else echo "FAIL: $1"; fail=1; fi; }
ids() { tr -d ' \n' < $D/golden.json | sed -n "s/.*\"$1\":\[\([0-9,]*\)\].*/\1/p"; }
close_enough() { # max |a - b| over a .npy (128-byte header) and raw float32, <= 1e-3
  tail -c +129 "$1" | od -An -v -f | tr -s ' ' '\n' | grep -v '^$' > "$T/a"
  od -An -v -f "$2" | tr -s ' ' '\n' | grep -v '^$' > "$T/b"
  [ "$(wc -l < "$T/a")" -eq "$(wc -l < "$T/b")" ] &&
    paste "$T/a" "$T/b" | awk '{d=$1-$2; if (d<0) d=-d; if (d>m) m=d} END {exit !(m <= 1e-3)}'
}
P=$(ids prompt_ids_unexpanded); G=$(ids generated_ids)
IMG="--image $D/image0.png --image $D/image1.png"
for how in "" "--incremental" "--piece 7" "--piece 100"; do
  check "logits $how" '"$HERD" logits -m $D --ids $P,$G $IMG -o "$T/l.npy" $how 2>/dev/null &&
    close_enough "$T/l.npy" $D/logits.bin'
done
check "run greedy" '[ "$("$HERD" run -m $D --ids $P $IMG -n 8 --temp 0 --print-ids 2>/dev/null)" = "$(echo $G | tr , " ")" ]'
check "run greedy, 1 thread" '[ "$("$HERD" run -m $D --ids $P $IMG -n 8 --temp 0 --print-ids -t 1 2>/dev/null)" = "$(echo $G | tr , " ")" ]'
# three <|image|> ids, two images: one line, exit 1, nothing written
"$HERD" logits -m $D --ids 1,90,90,90,5 $IMG -o "$T/x.npy" 2>"$T/err"
check "too few images" '[ $? -eq 1 ] && [ "$(wc -l < "$T/err")" -eq 1 ] && [ ! -e "$T/x.npy" ]'
"$HERD" logits -m $D --ids 1,5 --image "$T/none.png" -o "$T/x.npy" 2>"$T/err"
check "missing image" '[ $? -eq 1 ] && [ "$(wc -l < "$T/err")" -eq 1 ] && [ ! -e "$T/x.npy" ]'
"$HERD" logits -m $D --ids 1,5 -o "$T/x.npy" --image 2>/dev/null
check "--image without a value" '[ $? -eq 2 ]'
exit $fail
