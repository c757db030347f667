#!/bin/sh
# ENTRYPOINT of the valkey/valkey:8.0.1-bookworm stand-in, with the official image's rules
# (valkey-io/valkey-container, 8.0/debian/docker-entrypoint.sh as of the 8.0.1 release):
#  - a first argument that is an option (`--port 7000`) or a config file (`/x/valkey.conf`)
#    means valkey-server with those arguments;
#  - started as root with valkey-server as the command: the working directory (/data) is handed
#    to the valkey user, and the server runs as valkey through setpriv (util-linux), as the
#    official image does it: no supplementary groups, HOME left as it is;
#  - a umask of 0077 unless the caller set one other than the default 0022;
#  - VALKEY_EXTRA_FLAGS, split on blanks, appended to the command.
set -e
case ${1-} in
  -*|*.conf) set -- valkey-server "$@" ;;
esac
if [ "${1-}" = valkey-server ] && [ "$(id -u)" = 0 ]; then
  find . ! -user valkey -exec chown valkey '{}' +
  exec setpriv --reuid=valkey --regid=valkey --clear-groups -- "$0" "$@"
fi
if [ "$(umask)" = 0022 ]; then umask 0077; fi
# shellcheck disable=SC2086 # split on purpose: several flags in one variable
exec "$@" ${VALKEY_EXTRA_FLAGS-}
