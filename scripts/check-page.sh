#!/bin/sh
# Looks at herd serve's chat page in a real browser: starts a server on a tiny model that has
# the real Llama 4 tokenizer, loads / in headless Chromium with a question in the URL (the page
# sends it and streams the reply), and saves a screenshot. Needs chromium (apt-get install
# chromium) and a build (build/herd).
#   usage: sh scripts/check-page.sh [HERD] [OUT.png]
set -e
cd "$(dirname "$0")/.."
HERD="${1:-build/herd}"
OUT="${2:-build/page.png}"
BROWSER=$(command -v chromium || command -v chromium-browser || true)
[ -n "$BROWSER" ] || { echo "check-page: chromium is not installed (apt-get install chromium)" >&2; exit 2; }
T=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; rm -rf "$T"' EXIT
(cd tests/data && python3 ../serve/make_tiny_model.py . "$T/tiny")
"$HERD" serve -m "$T/tiny" --port 0 --port-file "$T/port" --ctx 1024 -t 1 2>"$T/log" &
PID=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
PORT=$(cat "$T/port")
timeout 60 "$BROWSER" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --user-data-dir="$T/profile" --window-size=1000,640 --virtual-time-budget=30000 \
  --screenshot="$OUT" "http://127.0.0.1:$PORT/?max=24&temp=0&q=Hello%2C%20who%20are%20you%3F" 2>"$T/browser.log" ||
  { cat "$T/browser.log" >&2; exit 1; }
echo "check-page: screenshot in $OUT"
