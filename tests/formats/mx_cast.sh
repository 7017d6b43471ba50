#!/bin/sh
# herd mx cast: every MX golden vector file (main, specials, tail; edge against our exact
# reference) through the command, bit for bit, both rounding modes; then the error cases:
# one line on stderr, non-zero exit, no output file left behind.
HERD="$1"
fail=0; pass=0
tmp=$(mktemp -d /tmp/herd_mx_cast.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
ok() { pass=$((pass+1)); }
bad() { echo "FAIL: $1"; fail=$((fail+1)); }

# mknpy IN.bin ROWS COLS OUT.npy [DESCR] [FORTRAN]: a v1.0 .npy header (128 bytes) + raw data.
mknpy() {
  dict="{'descr': '${5:-<f4}', 'fortran_order': ${6:-False}, 'shape': ($2, $3), }"
  pad=$((117 - ${#dict}))
  { printf '\223NUMPY\001\000\166\000'; printf '%s' "$dict"; printf "%${pad}s\n" ""; cat "$1"; } > "$4"
}

# Golden vectors: the output's data bytes must equal microxcaling's output file exactly.
for dir in fp8_e4m3 fp8_e5m2 fp6_e3m2 fp6_e2m3 fp4_e2m1 int8; do
  case $dir in int8) fmt=mxint8 ;; fp4_e2m1) fmt=mxfp4_e2m1 ;; *) fmt=mx$dir ;; esac
  for set in main specials tail edge; do
    in=mx/$dir/$set.input.f32.bin
    cols=32; [ $set = tail ] && cols=70
    rows=$(( $(wc -c < "$in") / 4 / cols ))
    mknpy "$in" $rows $cols "$tmp/in.npy"
    for mode in even nearest; do
      want=mx/$dir/$set.$mode.output.f32.bin
      [ $set = edge ] && want=mx/$dir/$set.$mode.exact_ref.output.f32.bin
      r=even; [ $mode = nearest ] && r=away
      if "$HERD" mx cast --format $fmt --rounding $r "$tmp/in.npy" "$tmp/out.npy" &&
         head -c 128 "$tmp/out.npy" | grep -q "'shape': ($rows, $cols)" &&
         tail -c "$(wc -c < "$want")" "$tmp/out.npy" | cmp -s - "$want"; then
        ok
      else
        bad "$fmt $set $mode"
      fi
      rm -f "$tmp/out.npy"
    done
  done
done

# The report.
mknpy mx/fp4_e2m1/main.input.f32.bin 1471 32 "$tmp/in.npy"
if "$HERD" mx cast --format mxfp4_e2m1 --report "$tmp/in.npy" "$tmp/out.npy" > "$tmp/report" &&
   grep -q "rms error" "$tmp/report" && grep -q "max abs error" "$tmp/report" &&
   grep -q "SQNR .* dB" "$tmp/report"; then ok; else bad "report"; fi
rm -f "$tmp/out.npy"

# Errors: exit status, exactly one line on stderr, and no output file (nor temporary) left.
expect_error() { # NAME CODE ARGS...
  name=$1; code=$2; shift 2
  "$HERD" mx cast "$@" 2> "$tmp/err"
  rc=$?
  left=$(ls "$tmp" | grep -v -e '^in.npy$' -e '^err$' -e '^report$' -e '^bad' | wc -l)
  if [ $rc -eq "$code" ] && [ "$(wc -l < "$tmp/err")" -eq 1 ] && [ "$left" -eq 0 ]; then
    ok
  else
    bad "$name (exit $rc, $(wc -l < "$tmp/err") lines, $left files left)"; cat "$tmp/err"
  fi
  rm -f "$tmp/out.npy" "$tmp"/out.npy.tmp.*
}
head -c 256 mx/fp4_e2m1/main.input.f32.bin > "$tmp/bad_data"
mknpy "$tmp/bad_data" 2 32 "$tmp/bad_f8.npy" '<f8'
mknpy "$tmp/bad_data" 4 16 "$tmp/bad_fortran.npy" '<f4' True
mknpy "$tmp/bad_data" 4 32 "$tmp/bad_truncated.npy"
head -c 100 "$tmp/in.npy" > "$tmp/bad_header.npy"
printf 'not an npy file at all' > "$tmp/bad_magic.npy"
expect_error "unknown format" 2 --format mxfp5 "$tmp/in.npy" "$tmp/out.npy"
expect_error "missing format" 2 "$tmp/in.npy" "$tmp/out.npy"
expect_error "bad rounding" 2 --format mxint8 --rounding up "$tmp/in.npy" "$tmp/out.npy"
expect_error "missing output" 2 --format mxint8 "$tmp/in.npy"
expect_error "unknown option" 2 --format mxint8 --fast "$tmp/in.npy" "$tmp/out.npy"
expect_error "wrong dtype" 1 --format mxint8 "$tmp/bad_f8.npy" "$tmp/out.npy"
expect_error "fortran order" 1 --format mxint8 "$tmp/bad_fortran.npy" "$tmp/out.npy"
expect_error "truncated data" 1 --format mxint8 "$tmp/bad_truncated.npy" "$tmp/out.npy"
expect_error "truncated header" 1 --format mxint8 "$tmp/bad_header.npy" "$tmp/out.npy"
expect_error "not npy" 1 --format mxint8 "$tmp/bad_magic.npy" "$tmp/out.npy"
expect_error "missing input" 1 --format mxint8 "$tmp/nonexistent.npy" "$tmp/out.npy"
expect_error "unwritable output" 1 --format mxint8 "$tmp/in.npy" "$tmp/no/such/dir/out.npy"
"$HERD" mx cast --format mxint8 "$tmp/bad_f8.npy" "$tmp/out.npy" 2>&1 | grep -q "bad_f8.npy: dtype '<f8' is not float32" && ok || bad "dtype message"
"$HERD" mx cast --format mxint8 "$tmp/bad_fortran.npy" "$tmp/out.npy" 2>&1 | grep -q "Fortran" && ok || bad "fortran message"
"$HERD" mx cast --format mxint8 "$tmp/bad_truncated.npy" "$tmp/out.npy" 2>&1 | grep -q "truncated" && ok || bad "truncated message"
"$HERD" mx --help | grep -q "mxfp6_e2m3" && ok || bad "help"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
