#!/usr/bin/env bash
# registry.k8s.io/pause:3.10.1 stand-in: the static `pause` binary built from pause.c, alone in
# an image FROM scratch, ENTRYPOINT ["/pause"], USER 65535:65535 (the official image's).
# Compiled with the machine's gcc when it can link statically (libc6-dev); otherwise in a
# throwaway bookworm chroot with gcc, so the recipe needs nothing that setup.sh does not install.
set -euo pipefail
source "$IMAGES_DIR/lib.sh"
src="$IMAGES_DIR/pause/pause.c"
mkdir -p "$WORK/root"
flags=(-static -Os -s -Wall -Wextra -Werror)
if command -v gcc >/dev/null && [ -f "$(gcc -print-file-name=libc.a)" ]; then
  gcc "${flags[@]}" -o "$WORK/root/pause" "$src"
  echo "compiled with the machine's $(gcc --version | head -n 1)"
else
  echo "no static-capable gcc on the machine: compiling in a bookworm chroot"
  export PAUSE_SRC=$src PAUSE_OUT=$WORK/root PAUSE_FLAGS="${flags[*]}"
  debian_rootfs /dev/null minbase --include=gcc,libc6-dev \
    --customize-hook='cp "$PAUSE_SRC" "$1/tmp/pause.c"' \
    --customize-hook='chroot "$1" gcc $PAUSE_FLAGS -o /tmp/pause /tmp/pause.c' \
    --customize-hook='cp "$1/tmp/pause" "$PAUSE_OUT/pause"'
fi
"$WORK/root/pause" --version
chmod 0755 "$WORK/root/pause"
pack_rootfs "$WORK/root" "$WORK/rootfs.tar"
commit_rootfs "$WORK/rootfs.tar" --entrypoint '["/pause"]' --user 65535:65535
