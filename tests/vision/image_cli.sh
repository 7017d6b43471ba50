# herd image on tiny-vision: pixel values from the PNG bit-identical to the golden file, the
# same features from the image, from the golden pixel values, from a llama.cpp-style mmproj
# written by --export-mmproj, from herd's single-file GGUF and from quantize's mmproj-NAME;
# bad input ends in one line.
set -e
HERD="$1"
D=llama4/tiny-vision
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$HERD" image -m $D $D/image1.png --pixel-values "$T/pv.npy" --features "$T/f.npy" >"$T/out"
grep -q "canvas 2x4 tiles, resized to 224x448, 9 tiles of 112, 155 prompt tokens" "$T/out" ||
  fail "plan line: $(cat "$T/out")"
cmp -s "$T/pv.npy" $D/image1.pixel_values.npy || fail "pixel values differ from golden"
"$HERD" image -m $D --from-pixel-values $D/image1.pixel_values.npy --features "$T/f2.npy" \
  --encoder "$T/e.npy" --adapter "$T/a.npy" 2>/dev/null
cmp -s "$T/f.npy" "$T/f2.npy" || fail "features from the image and from pixel values differ"
[ -s "$T/e.npy" ] && [ -s "$T/a.npy" ] || fail "encoder/adapter outputs missing"

"$HERD" image -m $D --export-mmproj "$T/mmproj.gguf" 2>/dev/null
"$HERD" image -m $D --mmproj "$T/mmproj.gguf" --from-pixel-values $D/image1.pixel_values.npy \
  --features "$T/f3.npy" 2>/dev/null
cmp -s "$T/f.npy" "$T/f3.npy" || fail "features through the mmproj differ"
"$HERD" quantize $D "$T/one.gguf" --type bf16 --single-file >/dev/null 2>&1
"$HERD" image -m "$T/one.gguf" --from-pixel-values $D/image1.pixel_values.npy \
  --features "$T/f4.npy" 2>/dev/null
cmp -s "$T/f.npy" "$T/f4.npy" || fail "features through the single-file GGUF differ"
"$HERD" quantize $D "$T/two.gguf" --type bf16 >/dev/null 2>&1
[ -f "$T/mmproj-two.gguf" ] || fail "default quantize wrote no mmproj-two.gguf"
"$HERD" image -m "$T/two.gguf" --from-pixel-values $D/image1.pixel_values.npy \
  --features "$T/f5.npy" 2>/dev/null
cmp -s "$T/f.npy" "$T/f5.npy" || fail "features through mmproj-NAME beside the GGUF differ"

# bad input: exit 1 (2 for usage), one line on stderr, no output file
head -c 300 $D/image0.png >"$T/cut.png"
for args in "$T/cut.png --features $T/bad.npy" "$T/missing.png --features $T/bad.npy" \
            "--from-pixel-values $D/image1.encoder.npy --features $T/bad.npy"; do
  set +e
  "$HERD" image -m $D $args >/dev/null 2>"$T/err"
  rc=$?
  set -e
  [ $rc -eq 1 ] || fail "exit $rc for $args"
  [ "$(wc -l <"$T/err")" -eq 1 ] || fail "not one line for $args: $(cat "$T/err")"
  [ ! -e "$T/bad.npy" ] || fail "output written for $args"
done
set +e
"$HERD" image -m $D >/dev/null 2>&1; [ $? -eq 2 ] || fail "no image: not a usage error"
"$HERD" image $D/image0.png >/dev/null 2>&1; [ $? -eq 2 ] || fail "no -m: not a usage error"
"$HERD" image -m $D/config.json $D/image0.png --features "$T/bad.npy" >/dev/null 2>"$T/err"
[ $? -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] || fail "not a model: $(cat "$T/err")"
set -e
echo ok
