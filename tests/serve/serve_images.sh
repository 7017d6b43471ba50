#!/bin/sh
# herd serve with images (issue 18) on tiny-vision: image_url data: URLs give herd run --image's
# greedy reply; a different image after the first is not taken from the prompt cache; malformed
# base64, a non-image and a remote URL are 400s (image_test.py).
HERD="$1"
T="${TMPDIR:-/tmp}/herd_serve_images.$$"
trap 'rm -rf "$T"' EXIT
python3 ../serve/image_test.py "$HERD" "$PWD" "$T"
