#!/bin/sh
# herd serve over loopback, group "api" of server_test.py, on a tiny model with the real Llama 4
# tokenizer (made by make_tiny_model.py into a temporary directory).
HERD="$1"
T="${TMPDIR:-/tmp}/herd_serve_api.$$"
trap 'rm -rf "$T"' EXIT
python3 ../serve/make_tiny_model.py . "$T/tiny" || exit 1
python3 ../serve/server_test.py "$HERD" "$T/tiny" api
