#!/bin/sh
# Installs the Debian packages herd needs to build, test and benchmark (run as root).
# Library deps: jansson (JSON), PCRE2 (tokenizer regex), libpng and libjpeg-turbo (images), libedit (herd chat's line editing;
# BSD-licensed, unlike GNU readline), libmicrohttpd (herd serve's HTTP). Tools: cmake, a C
# compiler, clang (fuzzing, sanitizer runtime), clang-format, tmux (the chat test drives a
# terminal). Benchmark-only peers: OpenBLAS, oneDNN. scripts/check-page.sh (a browser's look at
# the server's chat page) also needs chromium, which is large and not installed here.
set -e
PKGS="build-essential cmake pkg-config libjansson-dev libpcre2-dev libpng-dev libjpeg62-turbo-dev libedit-dev libmicrohttpd-dev tmux clang libclang-rt-14-dev clang-format libopenblas-dev libdnnl-dev"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq $missing
fi
