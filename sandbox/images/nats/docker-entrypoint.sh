#!/bin/sh
# ENTRYPOINT of the nats:2.15.2-alpine stand-in, with the official image's rule: no arguments,
# or a first argument that is an option (`-c /etc/nats/nats.conf`, `--js`), means nats-server
# with those arguments; anything else is exec'd as a command.
set -e
if [ "$#" = 0 ]; then set -- nats-server; fi
case $1 in
  -*) set -- nats-server "$@" ;;
esac
exec "$@"
