#!/bin/sh
# herd chat's commands and context handling through piped input (issue 16, item 3): /help,
# /bye, /clear, unknown commands, """ multi-line messages (equal to herd run on the rendered
# history), the per-turn speed line, and a full context that drops the oldest turns and goes
# on. chat_tmux.sh drives the same on a terminal with line editing.
HERD="$1"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0; pass=0
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }
M="$T/model"
mkdir "$M"
for f in llama4/tiny-scout/*; do ln -s "$PWD/$f" "$M/"; done
cp tokenizer/tiny/tokenizer.json "$M/"
NL='
'
chat() { "$HERD" chat -m "$M" --temp 0 --special "$@"; }
turns() { grep -c "herd chat: turn" "$1"; }

printf '/help\nHi\n' | chat -n 3 -v > "$T/o" 2> "$T/e"
check "/help lists the commands" 'grep -q "^  /clear" "$T/o" && grep -q "^  /bye" "$T/o" && grep -q "\"\"\"" "$T/o"'
check "/help is not sent to the model" '[ "$(turns "$T/e")" -eq 1 ] && grep -q "turn 1: prefilled" "$T/e"'
check "speed line per turn" '[ "$(grep -c "^\[ Prompt: [0-9.]* t/s | Generation: [0-9.]* t/s \]$" "$T/e")" -eq 1 ]'

printf 'Hi\n/bye\nnever answered\n' | chat -n 3 -v > "$T/o" 2> "$T/e"
check "/bye quits with 0" '[ $? -eq 0 ] && [ "$(turns "$T/e")" -eq 1 ]'

printf '/frobnicate\nHi\n' | chat -n 3 -v > /dev/null 2> "$T/e"
check "unknown command is said, not sent" 'grep -q "unknown command ./frobnicate" "$T/e" && [ "$(turns "$T/e")" -eq 1 ]'

printf 'Hi\n' | chat -n 4 > "$T/fresh" 2>/dev/null
printf 'Hello there\n/clear\nHi\n' | chat -n 4 -v > "$T/o" 2> "$T/e"
check "/clear starts over" 'grep -q "turn 2: prefilled [0-9]* tokens (cache 0 ->" "$T/e" && [ "$(tail -n 1 "$T/o")" = "$(cat "$T/fresh")" ]'

# """ multi-line: the message is "first line\nsecond line", as herd run sees it rendered
ids() { "$HERD" tokenize --vocab "$M/tokenizer.json" --special -p "$1" | tr ' ' ','; }
P=$(ids "<|begin_of_text|><|header_start|>user<|header_end|>$NL${NL}first line${NL}second line<|eot|><|header_start|>assistant<|header_end|>$NL$NL")
R=$("$HERD" run -m "$M" --ids "$P" -n 5 --temp 0 --print-ids 2>/dev/null | tr ' ' ',')
"$HERD" tokenize --vocab "$M/tokenizer.json" --decode -p "$R" > "$T/want"
printf '"""first line\nsecond line"""\n' | chat -n 5 > "$T/got" 2>/dev/null
check '""" message equals herd run on its rendering' '[ -n "$R" ] && cmp -s "$T/got" "$T/want"'
printf '"""\nfirst line\nsecond line\n"""\n' | chat -n 5 > "$T/got2" 2>/dev/null
check '""" on lines of their own' 'cmp -s "$T/got2" "$T/want"'
printf '//help me\n' | chat -n 2 -v > /dev/null 2> "$T/e"
check "// sends a leading /" '[ "$(turns "$T/e")" -eq 1 ]'

# a full context: the reply is cut, the oldest turns go, the chat goes on (exit 0)
printf 'Hello there\nWhat now\nAnd then\nOne more\n' | chat -c 40 -v > "$T/o" 2> "$T/e"
code=$?
check "full context keeps the session" '[ $code -eq 0 ] && [ "$(turns "$T/e")" -eq 4 ]'
check "full context is said" 'grep -q "context of 40 tokens is full: the reply was cut" "$T/e" && grep -q "dropped the oldest 1 turn" "$T/e"'
check "after dropping, the kept history is prefilled again" 'grep -q "turn 2: prefilled [0-9]* tokens (cache 0 ->" "$T/e"'
# a message too long for the context even alone, after a turn: refused, the chat goes on
long=$(printf 'word %.0s' $(seq 1 60))
printf 'Hello there\n%s\nHi\n' "$long" | chat -c 40 -n 3 -v > "$T/o" 2> "$T/e"
code=$?
check "an oversized message is refused and the chat goes on" '[ $code -eq 1 ] && grep -q "does not fit the context of 40" "$T/e" && [ "$(turns "$T/e")" -eq 2 ] && grep -q "turn 2: prefilled [0-9]* tokens (cache 0 ->" "$T/e"'
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
