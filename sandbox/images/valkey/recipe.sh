#!/usr/bin/env bash
# docker.io/valkey/valkey:8.0.1-bookworm stand-in: Debian bookworm (minbase, slimmed) + Debian's
# valkey-server, valkey-sentinel and valkey-tools 8.0.1 from bookworm-backports (bookworm has no
# Valkey; lib.sh's --from-backports pins everything else to bookworm), and tzdata.
# What the official image is, read in valkey-io/valkey-container at commit 305f68b ("updates for
# 7.2.7 and 8.0.1"; 8.0/debian/Dockerfile and docker-entrypoint.sh, unchanged until 8.0.2):
#  - FROM debian:bookworm-slim; user valkey 999:999 (`groupadd -r -g 999 valkey; useradd -r -g
#    valkey -u 999 valkey`), written here before the packages install so Debian's postinst
#    (adduser --system valkey) keeps it; tzdata installed explicitly;
#  - Valkey 8.0.1 compiled from source into /usr/local/bin (BUILD_TLS=yes, protected-mode's
#    default patched to no); valkey-sentinel, -check-aof and -check-rdb are links to
#    valkey-server; `make install` (USE_REDIS_SYMLINKS defaults to yes in 8.0, as its README
#    says) adds redis-server, redis-sentinel, redis-cli, redis-benchmark, redis-check-aof and
#    redis-check-rdb as links to the valkey-* names. Here /usr/local/bin links to Debian's
#    /usr/bin binaries under the same names, redis-* to valkey-* as there;
#  - ENV VALKEY_VERSION 8.0.1 (also VALKEY_DOWNLOAD_URL/_SHA of the source tarball, not set here:
#    nothing here was built from it; nor is its /usr/local/valkey.spdx.json written);
#  - /data owned by valkey, VOLUME /data, WORKDIR /data, EXPOSE 6379, ENTRYPOINT
#    ["docker-entrypoint.sh"] (its rules in ours: setpriv, VALKEY_EXTRA_FLAGS), CMD ["valkey-server"].
# Differences: Debian's build (protected-mode defaults to yes: the manifests' redis.conf sets it
# to no; Sentinel turns it off itself), and the backports source + pin stay in /etc/apt.
# mmdebstrap keeps the packages' services from starting in the chroot (its own policy-rc.d).
set -euo pipefail
source "$IMAGES_DIR/lib.sh"
VALKEY_VERSION=8.0.1

root="$WORK/rootfs"
debian_rootfs "$root" minbase --from-backports=valkey-server,valkey-sentinel,valkey-tools \
  --include=valkey-server,valkey-sentinel,valkey-tools,tzdata \
  --essential-hook='echo "valkey:x:999:" >>"$1/etc/group" && echo "valkey:x:999:999::/home/valkey:/bin/sh" >>"$1/etc/passwd"'

for b in server sentinel cli benchmark check-aof check-rdb; do
  ln -s "/usr/bin/valkey-$b" "$root/usr/local/bin/valkey-$b"
  ln -s "valkey-$b" "$root/usr/local/bin/redis-$b"
done
install -m 0755 "$IMAGES_DIR/valkey/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
install -d -m 0755 -o 999 -g 999 "$root/data"

[ "$(chroot "$root" id -u valkey):$(chroot "$root" id -g valkey)" = 999:999 ]
got=$(chroot "$root" valkey-server --version)
case $got in
  *" v=$VALKEY_VERSION "*) ;;
  *) echo "Debian's valkey-server is not $VALKEY_VERSION: $got" >&2; exit 1 ;;
esac
# The redis-* names reach Valkey (no Debian redis-tools here), and the pin held: the three valkey
# packages, and nothing else, come from backports.
[ "$(chroot "$root" redis-cli --version)" = "valkey-cli $VALKEY_VERSION" ]
from_backports=$(chroot "$root" dpkg-query -W -f='${Package} ${Version}\n' | awk '$2 ~ /~bpo/ {print $1}' | sort | xargs)
[ "$from_backports" = "valkey-sentinel valkey-server valkey-tools" ] ||
  { echo "from bookworm-backports: '$from_backports', expected only the valkey packages" >&2; exit 1; }
echo "$got (Debian $(chroot "$root" dpkg-query -W -f='${Version}' valkey-server))"

pack_rootfs "$root" "$WORK/rootfs.tar"
commit_rootfs "$WORK/rootfs.tar" \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env VALKEY_VERSION="$VALKEY_VERSION" \
  --volume /data --workingdir /data --port 6379/tcp \
  --entrypoint '["docker-entrypoint.sh"]' --cmd '["valkey-server"]'
