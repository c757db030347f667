#!/usr/bin/env bash
# A hook's image, as `docker build -t <image> .` makes it from the Dockerfile `failover new hook`
# writes (FROM ghcr.io/failover-functions/failover-functions:<version> + its compiled module),
# built with buildah in the project's image storage and pushed to the node's registry.
# Stand-in: no registry here has ghcr.io's image, so `--from` puts this checkout's production
# target (localhost/failover-functions:production, built by build.sh) in the FROM's place; the rest
# of the Dockerfile is the user's, unchanged.
# Usage: build-hook.sh <hook dir> <image, e.g. 198.18.0.5:5000/acme-record:tag>
set -euo pipefail
context=${1:?usage: build-hook.sh <hook dir> <image>}
image=${2:?usage: build-hook.sh <hook dir> <image>}
IMAGES_DIR=$(cd "$(dirname "$0")" && pwd)
CACHE=${FAILOVER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/failover-functions}
export IMAGES_DIR CACHE
source "$IMAGES_DIR/lib.sh"
fail() { echo "build-hook: $*" >&2; exit 1; }
base=localhost/failover-functions:production

[ -f "$context/Dockerfile" ] || fail "no Dockerfile in $context"
[ -d "$CACHE/images/storage" ] || fail "no image storage in $CACHE/images; run 'npm run setup' (it builds the production image)"
# One buildah user of the storage at a time (build.sh and skaffold-build.sh take the same lock).
exec 9>"$CACHE/images/.lock"
flock 9
bh inspect --type image "$base" >/dev/null 2>&1 || fail "$base is not built; run 'npm run setup'"
bh bud --isolation chroot --pull=never --format docker --from "$base" --tag "$image" --file "$context/Dockerfile" "$context" >/dev/null ||
  fail "buildah bud of $context failed"
# The registry speaks plain HTTP; the local tag goes once it is pushed (the registry keeps the image).
bh push --quiet --tls-verify=false "$image" "docker://$image"
bh rmi "$image" >/dev/null
echo "build-hook: pushed $image (FROM $base)"
