#!/bin/sh
# Runs one of Porthole's programs from the build tree (the package.json `bin` entries, so
# `npx porthole-capture …` works in a checkout). Brings the bundle up to date first; ninja's
# output goes to stderr only when the build fails, so a tool's stdout stays its own.
# Usage: build-aux/run-in-tree.sh PROGRAM [ARG…]
set -eu
top=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
name=$1
shift
if [ ! -f "$top/_build/build.ninja" ]; then
  echo "$name: the build tree is not set up; run 'npm run setup' in $top first" >&2
  exit 1
fi
if ! log=$(ninja -C "$top/_build" "src/$name.js" 2>&1); then
  printf '%s\n' "$log" >&2
  echo "$name: the build failed" >&2
  exit 1
fi
exec gjs -m "$top/_build/src/$name.js" "$@"
