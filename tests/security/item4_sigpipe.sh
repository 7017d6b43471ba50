#!/bin/sh
# Issue #20 item 4: generation stops when its reader goes away, whether SIGPIPE is ignored (the
# write fails with EPIPE: one line, exit 1) or not (herd dies of SIGPIPE, as `yes | head` does).
# The run asks for far more tokens than the reader takes; a 60 s timeout marks a hang.
. "$(dirname "$0")/common.shlib"

gen() { exec timeout 60 "$HERD" run -m "$TINY" --ids 1,2,3 -n 4000 --ctx 4096 --print-ids --ignore-eos; }
{ (trap '' PIPE; gen) 2>"$T/err"; echo $? >"$T/rc"; } | head -c 10 >/dev/null
one_error "run with SIGPIPE ignored | head" "$(cat "$T/rc")" "$T/err" "Broken pipe"
{ (gen) 2>"$T/err"; echo $? >"$T/rc"; } | head -c 10 >/dev/null
rc=$(cat "$T/rc")
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && ok || bad "run | head with SIGPIPE default: exit $rc"
# chat: a reply into a closed pipe ends the chat. The tiny model's replies end at a stop token
# after a few dozen bytes, which chat could write whole before a reader of one byte goes away;
# so the reader leaves at once (head -c 0), while chat is still loading the model.
echo "hello" >"$T/in"
{ (trap '' PIPE; exec timeout 60 "$HERD" chat -m "$TINY" --tokenizer tokenizer/tiny/tokenizer.json \
    -n 2000 --ctx 4096 <"$T/in" 2>"$T/err"); echo $? >"$T/rc"; } | head -c 0 >/dev/null
one_error "chat with SIGPIPE ignored | head" "$(cat "$T/rc")" "$T/err" "Broken pipe"
finish
