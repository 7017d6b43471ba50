#!/bin/sh
# Writes herd(1) in roff on stdout from the help texts of the built binary, so the man page
# never drifts from `herd --help`: usage: sh scripts/herd-man.sh path/to/herd > herd.1
set -e
HERD="$1"
[ -x "$HERD" ] || { echo "usage: $0 path/to/herd" >&2; exit 2; }
version=$("$HERD" --version | sed -n 's/^herd \([^ ]*\).*/\1/p')
# roff-safe preformatted text: backslashes doubled, lines starting with . or ' protected
esc() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }
block() { echo ".nf"; esc; echo ".fi"; }
cat <<HEAD
.TH HERD 1 "" "herd $version" "User Commands"
.SH NAME
herd \- Llama 4 mixture-of-experts inference on CPUs, with MX and int8 kernels
.SH SYNOPSIS
.B herd
.I COMMAND
[\fIOPTIONS\fR]
.br
.B herd
.I COMMAND
.B \-\-help
.SH DESCRIPTION
HEAD
"$HERD" --help | block
echo ".SH COMMANDS"
# the command names from the "commands:" list, then the subcommands that have their own help
cmds=$("$HERD" --help | sed -n '/^commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p')
for c in $cmds; do
  echo ".SS herd $c"
  "$HERD" "$c" --help | block
  case $c in
    mx) subs="cast table" ;;
    bench) subs=$("$HERD" bench --help | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p') ;;
    *) subs="" ;;
  esac
  for s in $subs; do
    echo ".SS herd $c $s"
    "$HERD" "$c" "$s" --help | block
  done
done
cat <<TAIL
.SH EXIT STATUS
0 on success, 1 when the work failed (a bad file, bad data), 2 for bad usage. Errors are one
line on standard error naming the problem.
.SH FILES
~/.cache/herd/limits.json: the machine's measured limits (herd profile \-\-limits).
.SH SEE ALSO
pkg\-config(1) (herd.pc for libherd), the README and docs/ of the herd sources.
TAIL
