#!/bin/sh
# ENTRYPOINT of the redis:7.0.15-bookworm stand-in, with the official image's rules:
#  - a first argument that is an option (`--port 7000`) or a config file (`/x/redis.conf`)
#    means redis-server with those arguments;
#  - started as root with redis-server as the command: the working directory (/data) is handed
#    to the redis user, and the server runs as redis (setpriv from util-linux stands in for
#    the official image's gosu, HOME set as gosu sets it);
#  - a umask of 0077 unless the caller set one other than the default 0022.
set -e
case ${1-} in
  -*|*.conf) set -- redis-server "$@" ;;
esac
if [ "${1-}" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . ! -user redis -exec chown redis '{}' +
  HOME=$(getent passwd redis | cut -d: -f6); export HOME
  exec setpriv --reuid=redis --regid=redis --init-groups -- "$0" "$@"
fi
if [ "$(umask)" = 0022 ]; then umask 0077; fi
exec "$@"
