# herd chat with images on tiny-vision (issue 18): /image and --image give the same greedy reply
# as herd run --image on the rendered conversation; an image in a later turn extends the cache;
# a full context drops the oldest turn and feeds the kept image's rows again at their places;
# a bad /image is one line and the chat goes on.
HERD="$1"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
check() { if eval "$2"; then :; else echo "FAIL: $1"; fail=1; fi; }
D=$PWD/llama4/tiny-vision
M="$T/model"
mkdir "$M"
for f in "$D"/*; do ln -s "$f" "$M/"; done
cp tokenizer/tiny/tokenizer.json "$M/"
NL='
'
U='<|header_start|>user<|header_end|>'"$NL$NL"
A='<|header_start|>assistant<|header_end|>'"$NL$NL"
ids() { "$HERD" tokenize --vocab "$M/tokenizer.json" --special -p "$1" | tr ' ' ','; }
run() { # run IDS N IMAGES...: the greedy ids, comma separated
  p=$1 n=$2; shift 2
  "$HERD" run -m "$M" --ids "$p" -n "$n" --temp 0 --print-ids "$@" 2>/dev/null | tr ' ' ','
}
text() { "$HERD" tokenize --vocab "$M/tokenizer.json" --decode -p "$1"; }
chat() { "$HERD" chat -m "$M" --temp 0 --special "$@"; }

# one message with two images (/image, then --image): as herd run --image on its rendering
R=$(run "$(ids "<|begin_of_text|>$U<|image|><|image|>Describe them<|eot|>$A")" 8 \
  --image "$D/image0.png" --image "$D/image1.png")
text "$R" > "$T/want"
printf '/image %s\n/image %s\nDescribe them\n' "$D/image0.png" "$D/image1.png" | chat -n 8 \
  > "$T/got" 2>/dev/null
check "/image x2 equals herd run --image" '[ -n "$R" ] && cmp -s "$T/got" "$T/want"'
printf 'Describe them\n' | chat -n 8 --image "$D/image0.png" --image "$D/image1.png" \
  > "$T/got" 2>/dev/null
check "--image equals herd run --image" 'cmp -s "$T/got" "$T/want"'

# a bad file, a missing name and a damaged image: one line each, the chat goes on (exit 1)
head -c 300 "$D/image0.png" > "$T/cut.png"
printf '/image %s\n/image %s\n/image\n/image %s\n/image %s\nDescribe them\n' "$T/none.png" \
  "$T/cut.png" "$D/image0.png" "$D/image1.png" | chat -n 8 > "$T/got" 2> "$T/err"
code=$?
check "bad /image: said, the chat goes on" '[ $code -eq 1 ] && cmp -s "$T/got" "$T/want" &&
  [ "$(grep -c "none.png" "$T/err")" -eq 1 ] && [ "$(grep -c "cut.png" "$T/err")" -eq 1 ] &&
  grep -q "/image needs a file" "$T/err"'

# turn 1 text, turn 2 with an image (fed as an extension of the cache), turn 3 after the
# context filled: turn 1 dropped, the kept transcript with turn 2's image prefilled again
P1=$(ids "<|begin_of_text|>${U}Hi<|eot|>$A")
R1=$(run "$P1" 3)
P2="$P1,$R1,8,$(ids "$U<|image|>Look<|eot|>$A")"
R2=$(run "$P2" 3 --image "$D/image0.png")
P3="$(ids "<|begin_of_text|>$U<|image|>Look<|eot|>$A"),$R2,8,$(ids "${U}Go on<|eot|>$A")"
R3=$(run "$P3" 3 --image "$D/image0.png")
{ text "$R1"; text "$R2"; text "$R3"; } > "$T/want3"
printf 'Hi\n/image %s\nLook\nGo on\n' "$D/image0.png" | chat -n 3 -c 82 -v > "$T/got3" 2> "$T/err"
check "image in turn 2, re-prefilled after turn 1 is dropped" 'cmp -s "$T/got3" "$T/want3" &&
  grep -q "dropped the oldest 1 turn" "$T/err" && grep -q "turn 3: prefilled [0-9]* tokens (cache 0 ->" "$T/err"'
# a vision tower that cannot load (a projector file that is not one): one line per try, and
# text goes on
printf 'not a gguf' > "$T/bad.gguf"
printf '/image %s\n/image %s\nHi\n' "$D/image0.png" "$D/image0.png" |
  chat --mmproj "$T/bad.gguf" -n 2 -v > /dev/null 2> "$T/err"
check "tower that cannot load: one line per /image, the chat goes on" '[ "$(grep -c "bad.gguf" "$T/err")" -eq 2 ] && grep -q "turn 1:" "$T/err"'
exit $fail
