#!/bin/sh
# Interrupted writers leave nothing behind: `herd quantize` is killed with SIGTERM and with
# SIGINT while its temporary output exists; it must die of that signal and leave neither the
# output nor the temporary file. (If a run finishes before the temporary file is seen, it is
# retried; a machine too fast for all tries makes the case inconclusive, not failed.) One file:
# --single-file keeps tiny-maverick's vision tower inside (its own mmproj writer is atomic too).
HERD="$1"
T="${TMPDIR:-/tmp}/herd_interrupt.$$"
mkdir -p "$T" "$T.ref"
trap 'rm -rf "$T" "$T.ref"' EXIT
# what an uninterrupted run writes: an output the signal arrived too late to stop must equal it
"$HERD" quantize llama4/tiny-maverick "$T.ref/out.gguf" --type mxfp4 -t 1 --single-file >/dev/null 2>&1 ||
  { echo "FAIL: reference quantize failed"; exit 1; }
pass=0; fail=0

for sig in TERM INT; do
  [ "$sig" = TERM ] && num=15
  [ "$sig" = INT ] && num=2
  done_case=0
  try=0
  while [ $try -lt 20 ] && [ $done_case -eq 0 ]; do
    try=$((try + 1))
    rm -rf "$T"/*
    "$HERD" quantize llama4/tiny-maverick "$T/out.gguf" --type mxfp4 -t 1 --single-file >/dev/null 2>&1 &
    pid=$!
    seen=""
    while kill -0 $pid 2>/dev/null; do
      for f in "$T"/out.gguf.herd-tmp.*; do [ -e "$f" ] && seen=$f; done
      [ -n "$seen" ] && break
    done
    if [ -z "$seen" ]; then
      wait $pid
      continue
    fi
    kill -s "$sig" $pid
    wait $pid
    rc=$?
    # The run may have committed (renamed) its output between our seeing the temporary file and
    # the signal: then the output is complete, and this try is not a case of interruption.
    if [ -e "$T/out.gguf" ] && cmp -s "$T/out.gguf" "$T.ref/out.gguf" &&
       [ -z "$(ls "$T" | grep -v '^out.gguf$')" ]; then
      continue
    fi
    done_case=1
    left=$(ls "$T")
    if [ "$rc" -eq $((128 + num)) ] && [ -z "$left" ]; then
      pass=$((pass + 1))
    else
      fail=$((fail + 1))
      echo "FAIL: SIG$sig during quantize: exit $rc, left: $left"
    fi
  done
  [ $done_case -eq 0 ] && echo "inconclusive: SIG$sig: quantize finished before its temporary file was seen (20 tries)"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
