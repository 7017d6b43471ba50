#!/bin/sh
# Issue #20 item 1: an existing OUT that is not a regular file is refused, never replaced: a FIFO,
# a directory, a socket-free symlink to a pipe (what /dev/stdout is), and char devices made with
# mknod in our own scratch directory (never the real /dev; skipped without CAP_MKNOD). `-o -`
# writes to standard output instead. A rewritten file keeps its mode (item 9).
. "$(dirname "$0")/common.shlib"

cast() { timeout 20 "$HERD" mx cast --format mxfp4_e2m1 "$GOOD_NPY" "$1" 2>"$T/err" </dev/null; }

mkfifo "$T/fifo"
cast "$T/fifo"; one_error "mx cast onto a FIFO" $? "$T/err" "FIFO"
[ -p "$T/fifo" ] && ok || bad "the FIFO was replaced"

timeout 20 "$HERD" serve -m "$TINY" --port 0 --port-file "$T/fifo" 2>"$T/err" </dev/null
one_error "serve --port-file onto a FIFO" $? "$T/err" "FIFO"

mkdir "$T/dir"
timeout 60 "$HERD" logits -m "$TINY" --ids 1,2 -o "$T/dir" 2>"$T/err"
one_error "logits -o onto a directory" $? "$T/err" "directory"

# /dev/stdout is a link to the pipe: here our own link to /proc/self/fd/1
ln -s /proc/self/fd/1 "$T/stdout"
{ timeout 60 "$HERD" logits -m "$TINY" --ids 1,2 -o "$T/stdout" 2>"$T/err"; echo $? >"$T/rc"; } | cat >"$T/piped"
one_error "logits -o a link to the pipe" "$(cat "$T/rc")" "$T/err" "FIFO"
[ -L "$T/stdout" ] && ok || bad "the link to stdout became a file"

if can_mknod; then
  mknod "$T/null" c 1 3; mknod "$T/full" c 1 7
  for dev in null full; do
    cast "$T/$dev"; one_error "mx cast onto a char device ($dev)" $? "$T/err" "character device"
    [ -c "$T/$dev" ] && ok || bad "$dev was replaced by a regular file"
  done
  timeout 60 "$HERD" quantize "$TINY" "$T/null" --type f32 -t 1 >/dev/null 2>"$T/err"
  one_error "quantize onto a char device" $? "$T/err" "character device"
  [ -c "$T/null" ] && ok || bad "quantize replaced the device"
  ln -s "$T/null" "$T/link_to_null"
  cast "$T/link_to_null"; one_error "mx cast onto a link to a device" $? "$T/err" "character device"
  [ -L "$T/link_to_null" ] && [ -c "$T/null" ] && ok || bad "the link or the device was replaced"
else
  skip "char devices: mknod not permitted here (needs CAP_MKNOD); FIFO/directory/pipe cases ran"
fi

# -o - is standard output: the same bytes as a file
timeout 60 "$HERD" logits -m "$TINY" --ids 1,2 -o "$T/file.npy" 2>/dev/null
timeout 60 "$HERD" logits -m "$TINY" --ids 1,2 -o - 2>"$T/err" | cat >"$T/stdout.npy"
cmp -s "$T/file.npy" "$T/stdout.npy" && ok || bad "logits -o - differs from -o FILE"
"$HERD" mx cast --format mxfp4_e2m1 "$GOOD_NPY" - 2>/dev/null | cat >"$T/cast_stdout.npy"
cast "$T/cast_file.npy"
cmp -s "$T/cast_file.npy" "$T/cast_stdout.npy" && ok || bad "mx cast to - differs from a file"
ls "$T" | grep -q herd-tmp && bad "temporary files left: $(ls "$T")" || ok

# a 0600 output stays 0600 when rewritten, and a 0640 one 0640 (item 9)
for m in 600 640; do
  cast "$T/mode.npy"; chmod "$m" "$T/mode.npy"; cast "$T/mode.npy"
  got=$(stat -c %a "$T/mode.npy")
  [ "$got" = "$m" ] && ok || bad "a $m file came back $got"
done
finish
