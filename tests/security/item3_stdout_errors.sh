#!/bin/sh
# Issue #20 item 3: a failed write to standard output ends the command with one line and a
# non-zero exit. /dev/full is our own mknod'd node (never the real /dev; skipped without
# CAP_MKNOD); the closed-pipe case (EPIPE with SIGPIPE ignored) runs everywhere.
. "$(dirname "$0")/common.shlib"

# to_broken KIND DESC CMD...: runs CMD with stdout on a full device or a closed pipe
to_full() {
  desc=$1; shift
  timeout 60 "$@" >"$T/full" 2>"$T/err" </dev/null
  one_error "$desc > full device" $? "$T/err" "No space left on device"
}
to_closed_pipe() {
  desc=$1; shift
  # the reader is gone before herd writes; SIGPIPE ignored so the write fails with EPIPE
  : | { (trap '' PIPE; exec timeout 60 "$@" 2>"$T/err" </dev/null); echo $? >"$T/rc"; } | true
  one_error "$desc | closed pipe" "$(cat "$T/rc")" "$T/err" "Broken pipe"
}
for mode in to_full to_closed_pipe; do
  if [ $mode = to_full ] && ! can_mknod; then
    skip "/dev/full: mknod not permitted here; the closed-pipe cases ran"; continue
  fi
  [ $mode = to_full ] && { rm -f "$T/full"; mknod "$T/full" c 1 7; }
  $mode "run --ids" "$HERD" run -m "$TINY" --ids 1,2,3 -n 50 --print-ids
  $mode "mx cast --report" "$HERD" mx cast --format mxfp4_e2m1 --report "$GOOD_NPY" "$T/o.npy"
  $mode "tokenize" "$HERD" tokenize --vocab tokenizer/tiny/tokenizer.json -p "hello world"
  $mode "quantize summary" "$HERD" quantize "$TINY" "$T/q.gguf" --type f32 -t 1
  $mode "logits -o -" "$HERD" logits -m "$TINY" --ids 1,2 -o -
  $mode "--help" "$HERD" --help
  $mode "--version" "$HERD" --version
  $mode "run --help" "$HERD" run --help
done
# nothing half-written: the failed -o - left no temporary file
ls "$T" | grep -q herd-tmp && bad "temporary files left: $(ls "$T")" || ok
finish
