#!/bin/sh
# herd chat on a real terminal (tmux): libedit line editing (cursor keys, history recall),
# /help, a """ multi-line message with its continuation prompt, a context overflow that keeps
# the chat, /clear and /bye. Skipped (exit 77) without tmux. Every wait is bounded.
HERD="$1"
command -v tmux > /dev/null 2>&1 || { echo "SKIP: tmux is not installed"; exit 77; }
T=$(mktemp -d)
SOCK="herd-chat-test-$$"
trap 'tmux -L "$SOCK" kill-server 2>/dev/null; rm -rf "$T"' EXIT
fail=0; pass=0
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }
M="$T/model"
mkdir "$M"
for f in llama4/tiny-scout/*; do ln -s "$PWD/$f" "$M/"; done
cp tokenizer/tiny/tokenizer.json "$M/"

# what the model must see for "hello world" typed plainly
n_hw=$(printf 'hello world\n' | "$HERD" chat -m "$M" -n 1 --temp 0 -v 2>&1 >/dev/null | sed -n 's/.*turn 1: prefilled \([0-9]*\) tokens.*/\1/p')

screen() { tmux -L "$SOCK" capture-pane -p -J -S -200 -t chat; }
# waits (at most 15 s) until the screen shows $1 at least ${2:-1} times
wait_for() {
  i=0
  while [ $i -lt 150 ]; do
    [ "$(screen | grep -c -F -- "$1")" -ge "${2:-1}" ] && return 0
    sleep 0.1; i=$((i+1))
  done
  echo "timed out waiting for: $1"; screen | tail -n 15; return 1
}
keys() { tmux -L "$SOCK" send-keys -t chat "$@"; }

HOME="$T" tmux -L "$SOCK" -f /dev/null new-session -d -s chat -x 120 -y 50 \
  "TERM=xterm HOME=$T '$HERD' chat -m '$M' -n 4 --temp 0 -c 64 -v; echo CHAT-EXIT=\$?; sleep 60"
check "starts with a prompt" 'wait_for "memory plan" && wait_for "> "'

# line editing: type "hello wrld", move left 3, insert o -> "hello world"
keys "hello wrld" Left Left Left o Enter
check "cursor keys edit the line" 'wait_for "Generation:" && screen | grep -q -F "> hello world"'
check "the model saw the edited line" '[ -n "$n_hw" ] && wait_for "turn 1: prefilled $n_hw tokens"'

keys "/help" Enter
check "/help" 'wait_for "/clear       forget the conversation"'
check "/help is not a turn" '! screen | grep -q "turn 2:"'

# history: Up twice recalls "hello world" (after /help)
keys Up Up Enter
check "Up recalls the earlier line" 'wait_for "> hello world" 2 && wait_for "turn 2:"'

keys '"""first line' Enter 'second line"""' Enter
check '""" continuation prompt' 'wait_for "... second line"'
check '""" message is one turn' 'wait_for "turn 3:"'

# the context (64) fills up: older turns are dropped and the chat goes on
keys "one more message to fill it" Enter
wait_for "turn 4:" > /dev/null
keys "and another one after that" Enter
check "a full context drops old turns and keeps the chat" 'wait_for "dropped the oldest" && wait_for "turn 5:"'

keys "/clear" Enter
check "/clear" 'wait_for "cleared; a new conversation starts"'
keys "hi again" Enter
check "after /clear the cache starts at 0" 'wait_for "turn 6: prefilled" && screen | grep -q "turn 6: prefilled [0-9]* tokens (cache 0 ->"'

keys "/bye" Enter
check "/bye exits 0" 'wait_for "CHAT-EXIT=0"'
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
