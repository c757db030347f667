#!/usr/bin/env bash
# docker.io/library/redis:7.0.15-bookworm stand-in: Debian bookworm (minbase, slimmed) + Debian's
# redis-server, redis-sentinel and redis-tools (the official image compiles the same 7.0.15 from
# source into /usr/local/bin; here /usr/local/bin links to Debian's /usr/bin binaries).
# User redis 999:999 as the official image creates it (`useradd -r -g redis -u 999 redis`),
# written before the packages install so Debian's postinst (adduser --system redis) keeps it.
# /data owned by redis, WORKDIR /data, VOLUME /data, EXPOSE 6379, ENTRYPOINT
# docker-entrypoint.sh (the official rules, setpriv instead of gosu), CMD ["redis-server"].
# mmdebstrap keeps the packages' services from starting in the chroot (its own policy-rc.d).
set -euo pipefail
source "$IMAGES_DIR/lib.sh"
REDIS_VERSION=7.0.15

root="$WORK/rootfs"
debian_rootfs "$root" minbase --include=redis-server,redis-sentinel,redis-tools \
  --essential-hook='echo "redis:x:999:" >>"$1/etc/group" && echo "redis:x:999:999::/home/redis:/bin/sh" >>"$1/etc/passwd"'

for b in redis-server redis-sentinel redis-cli redis-benchmark redis-check-aof redis-check-rdb; do
  ln -s "/usr/bin/$b" "$root/usr/local/bin/$b"
done
install -m 0755 "$IMAGES_DIR/redis/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
install -d -m 0755 -o 999 -g 999 "$root/data"

[ "$(chroot "$root" id -u redis):$(chroot "$root" id -g redis)" = 999:999 ]
got=$(chroot "$root" redis-server --version)
case $got in
  *" v=$REDIS_VERSION "*) ;;
  *) echo "Debian's redis-server is not $REDIS_VERSION: $got" >&2; exit 1 ;;
esac
echo "$got (Debian $(chroot "$root" dpkg-query -W -f='${Version}' redis-server))"

pack_rootfs "$root" "$WORK/rootfs.tar"
commit_rootfs "$WORK/rootfs.tar" \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env REDIS_VERSION="$REDIS_VERSION" \
  --volume /data --workingdir /data --port 6379/tcp \
  --entrypoint '["docker-entrypoint.sh"]' --cmd '["redis-server"]'
