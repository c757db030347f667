#!/usr/bin/env bash
# docker.io/library/nats:<version>-alpine stand-in. The official image is Alpine + the
# nats-server release binary; Alpine's package archive is not reachable from this machine, so
# the stand-in is Debian bookworm (minbase, slimmed: a shell and coreutils, as Alpine's busybox
# gives) + the sandbox's own nats-server, built from the pinned Go module by
# sandbox/setup/build-binaries.sh ($NATS_BIN, version $NATS_VERSION) -> /usr/local/bin.
# /etc/nats/nats-server.conf (client 4222, monitoring 8222, cluster 6222), EXPOSE 4222 6222 8222,
# ENTRYPOINT docker-entrypoint.sh (the official rule), CMD nats-server --config that file;
# root, like the official image (the manifests choose their own user).
set -euo pipefail
source "$IMAGES_DIR/lib.sh"
: "${NATS_BIN:?}" "${NATS_VERSION:?}"

root="$WORK/rootfs"
debian_rootfs "$root" minbase
install -m 0755 "$NATS_BIN" "$root/usr/local/bin/nats-server"
install -d -m 0755 "$root/etc/nats"
install -m 0644 "$IMAGES_DIR/nats/nats-server.conf" "$root/etc/nats/nats-server.conf"
install -m 0755 "$IMAGES_DIR/nats/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"

got=$(chroot "$root" nats-server --version)
[ "$got" = "nats-server: v${NATS_VERSION#v}" ] || { echo "unexpected: $got" >&2; exit 1; }
echo "$got"

pack_rootfs "$root" "$WORK/rootfs.tar"
commit_rootfs "$WORK/rootfs.tar" \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --port 4222/tcp --port 6222/tcp --port 8222/tcp \
  --entrypoint '["docker-entrypoint.sh"]' --cmd '["nats-server","--config","/etc/nats/nats-server.conf"]'
