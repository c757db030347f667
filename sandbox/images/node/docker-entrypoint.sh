#!/bin/sh
# ENTRYPOINT of the node:24-bookworm-slim stand-in, with the official image's rule:
# the arguments run through `node` when the first one is an option (`-e ...`, `--watch x.js`),
# names no command on PATH (`app.js`), or is a file that is not executable; otherwise they are
# exec'd as a command (`npm ci`, `sh -c ...`). No arguments: CMD ["node"] supplies one.
set -e
first=${1-}
as_node=0
case $first in
  -*) as_node=1 ;;
esac
if [ "$as_node" = 0 ] && ! command -v -- "$first" >/dev/null 2>&1; then as_node=1; fi
if [ "$as_node" = 0 ] && [ -f "$first" ] && [ ! -x "$first" ]; then as_node=1; fi
if [ "$as_node" = 1 ]; then set -- node "$@"; fi
exec "$@"
