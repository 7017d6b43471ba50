#!/bin/sh
# Issue #20 item 2: the temporary file cannot be redirected. A symlink planted at the old
# predictable name (OUT.tmp.PID) must not be followed; as another user (nobody) in a sticky
# world-writable directory, 99 planted links to a root-owned file must leave it untouched, and a
# symlink at OUT itself planted by that user is refused (the protected_symlinks rule) - those run
# only as root with a `nobody` account and say so otherwise.
. "$(dirname "$0")/common.shlib"

echo "precious" >"$T/victim"
# the pid of `sh -c` is the pid herd runs with after exec
(cd "$T" && sh -c 'ln -s victim out.npy.tmp.$$; exec "$0" mx cast --format mxfp4_e2m1 "$1" out.npy' \
  "$HERD" "$OLDPWD/$GOOD_NPY") 2>"$T/err"
rc=$?
[ "$rc" -eq 0 ] && ok || bad "mx cast failed: $(cat "$T/err")"
[ "$(cat "$T/victim")" = precious ] && ok || bad "the planted link's target was overwritten"
[ -f "$T/out.npy" ] && [ ! -L "$T/out.npy" ] && ok || bad "out.npy is not a regular file"

if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
  as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
  pub="$T/pub"; mkdir "$pub"; chmod 1777 "$pub"; chmod 755 "$T"
  echo "root secret" >"$T/root_file"; chmod 644 "$T/root_file"
  # links for the next pids (the old naming) and for the new naming's prefix
  next=$(sh -c 'echo $$')
  as_nobody sh -c 'i=0; while [ $i -lt 99 ]; do ln -s "$2" "$1/out.npy.tmp.$(($3 + i))"; i=$((i + 1)); done' \
    sh "$pub" "$T/root_file" "$next"
  "$HERD" mx cast --format mxfp4_e2m1 "$GOOD_NPY" "$pub/out.npy" 2>"$T/err"
  [ "$(cat "$T/root_file")" = "root secret" ] && ok || bad "root's file was overwritten through a planted link"
  # a link at OUT itself, planted by nobody, pointing at root's file: refused
  rm -f "$pub/out.npy"
  as_nobody ln -s "$T/root_file" "$pub/out.npy"
  "$HERD" mx cast --format mxfp4_e2m1 "$GOOD_NPY" "$pub/out.npy" 2>"$T/err"
  one_error "a link planted by another user in a sticky directory" $? "$T/err" "another user"
  [ "$(cat "$T/root_file")" = "root secret" ] && ok || bad "root's file was replaced through OUT"
  # our own link to our own file is followed: the target is rewritten, the link stays
  ln -s "$T/mine.npy" "$T/mylink.npy"
  "$HERD" mx cast --format mxfp4_e2m1 "$GOOD_NPY" "$T/mylink.npy" 2>"$T/err"
  [ -L "$T/mylink.npy" ] && [ -f "$T/mine.npy" ] && ok || bad "own link not followed: $(cat "$T/err")"
else
  skip "cross-user symlinks: needs root, a 'nobody' account and setpriv"
fi
finish
