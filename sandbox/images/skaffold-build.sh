#!/usr/bin/env bash
# skaffold's custom builder on the sandbox (skaffold.yaml, profiles `sandbox` and
# `sandbox-production`): this machine has no Docker daemon, so the unchanged Dockerfile is built
# with buildah, in the same storage, layer cache and npm CA mount as build.sh (an unchanged
# `npm ci` layer comes from the cache, so nothing is downloaded), then pushed to the node's
# registry. skaffold sets IMAGE (<--default-repo>/failover-functions:<tag>), PUSH_IMAGE and
# BUILD_CONTEXT, and after the push reads the image's digest from the registry itself.
# Usage: skaffold-build.sh <Dockerfile target>
set -euo pipefail
target=${1:?usage: skaffold-build.sh <Dockerfile target: dev|production>}
: "${IMAGE:?is unset: this script is the custom builder that skaffold runs, setting IMAGE, PUSH_IMAGE and BUILD_CONTEXT}"
context=${BUILD_CONTEXT:-.}
IMAGES_DIR=$(cd "$(dirname "$0")" && pwd)
CACHE=${FAILOVER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/failover-functions}
export IMAGES_DIR CACHE
source "$IMAGES_DIR/lib.sh"
fail() { echo "skaffold-build: $*" >&2; exit 1; }

command -v buildah >/dev/null || fail "'buildah' is not installed; run 'npm run setup'"
[ -d "$CACHE/images/storage" ] || fail "no image storage in $CACHE/images; run 'npm run setup' (it builds the base images)"
mkdir -p "$CACHE/images"
# One buildah user of the storage at a time (build.sh takes the same lock).
exec 9>"$CACHE/images/.lock"
flock 9

npm_ca_mount || fail "cannot prepare the build-time npm CA mount"
old_id=$(bh images --quiet --no-trunc "$IMAGE" 2>/dev/null | head -n 1 || true)
echo "skaffold-build: building $IMAGE (Dockerfile target $target) with buildah"
bh bud --force-rm --isolation chroot --layers --pull=never --format docker --target "$target" \
  "${mount_args[@]}" --tag "$IMAGE" --file "$context/Dockerfile" "$context" ||
  fail "buildah bud failed. Inside the sandbox namespace there is no network: a step that misses the layer cache (npm ci after package-lock.json changed) cannot download; run 'bash sandbox/images/build.sh' outside it first (npm test and npm run setup do)"
# The image this tag named before (a rebuild under a fixed --tag), unless something still uses it.
new_id=$(bh images --quiet --no-trunc "$IMAGE" | head -n 1)
[ -z "$old_id" ] || [ "$old_id" = "$new_id" ] || bh rmi "$old_id" >/dev/null 2>&1 || true
if [ "${PUSH_IMAGE:-false}" = true ]; then
  # The sandbox registry speaks plain HTTP (what skaffold's --insecure-registry names).
  bh push --quiet --tls-verify=false "$IMAGE" "docker://$IMAGE"
  echo "skaffold-build: pushed $IMAGE"
fi
