# Shared by sandbox/images/build.sh and the recipes (<image>/recipe.sh), sourced, not run.
# Expects CACHE (the project's cache dir) and IMAGES_DIR (this directory); a recipe also gets
# IMAGE (the full name to tag), WORK (a scratch dir, removed afterwards) and RECIPE_HASH.

# The project's own image storage, never the machine's default /var/lib/containers; without the
# private bind mount containers/storage otherwise puts on its overlay directory and never removes.
bh() {
  buildah --root "$CACHE/images/storage" --runroot "$CACHE/images/run" --storage-driver overlay --storage-opt overlay.skip_mount_home=true \
    --registries-conf "$IMAGES_DIR/registries.conf" "$@"
}

# Debian bookworm as the official images see it: the release, its updates and its security
# archive (so a package is at the version `apt-cache policy` shows on an up-to-date bookworm).
# The keyring is named, so mmdebstrap needs no gpg to work it out (setup.sh installs none).
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
debian_sources=(
  "deb [signed-by=$keyring] http://deb.debian.org/debian bookworm main"
  "deb [signed-by=$keyring] http://deb.debian.org/debian bookworm-updates main"
  "deb [signed-by=$keyring] http://deb.debian.org/debian-security bookworm-security main"
)
# Debian's bookworm-backports, for a package bookworm lacks (Valkey: 8.0.1 there, none in
# bookworm). Only in a rootfs that asks for it (debian_rootfs --from-backports=...).
backports_source="deb [signed-by=$keyring] http://deb.debian.org/debian bookworm-backports main"

# debian_rootfs <dir|/dev/null> <variant> [--from-backports=<pkg>,...] [mmdebstrap options...]:
# a bookworm root filesystem in a new directory (mode root: real owners), slimmed like Docker's
# debian:*-slim images: no manual pages, info pages, docs (copyright files stay) or translations,
# no recommended packages. The dpkg excludes stay in the image (/etc/dpkg/dpkg.cfg.d/99mmdebstrap)
# for packages added later.
# Merged /usr by directory symlinks, as debootstrap and Docker's debian images do it (mmdebstrap's
# own hook; without it bookworm gets there by installing usrmerge, which pulls in all of perl).
# mmdebstrap mounts /proc, /sys and /dev into it while it runs and unmounts them itself.
# --from-backports=<pkg>[,<pkg>...] (first, if given): bookworm-backports as one more source, and
# an apt pin that takes only those packages from it, as sandbox/setup/setup.sh pins the machine:
# backports at 100 (never chosen over bookworm's version), the named packages at 500. The pin is
# in place before apt first runs (a setup hook) and stays in the image, with the source, so a
# later apt-get there keeps to it. Without the option nothing changes: bookworm's three sources.
debian_rootfs() {
  local out=$1 variant=$2; shift 2
  local sources=("${debian_sources[@]}") pin=()
  case ${1-} in
    --from-backports=?*)
      local pref=$WORK/apt-preferences/failover-bookworm-backports
      mkdir -p "${pref%/*}"
      printf '%s\n' "Package: *" "Pin: release n=bookworm-backports" "Pin-Priority: 100" "" \
        "Package: $(tr ',' ' ' <<<"${1#--from-backports=}")" "Pin: release n=bookworm-backports" \
        "Pin-Priority: 500" >"$pref"
      sources+=("$backports_source")
      pin=(--setup-hook="copy-in $pref /etc/apt/preferences.d")
      shift ;;
  esac
  TMPDIR="$WORK" mmdebstrap --mode=root --variant="$variant" \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/groff/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    "${pin[@]}" "$@" bookworm "$out" "${sources[@]}"
}

# pack_rootfs <dir> <out.tar>: the directory as a tarball for `buildah add`, numeric owners kept.
# Like the official images: /dev empty (the runtime provides it) and no trace of the build
# machine (/etc/resolv.conf and /etc/hostname empty: the runtime bind-mounts its own).
pack_rootfs() {
  local dir=$1 out=$2
  find "$dir/dev" -mindepth 1 -delete 2>/dev/null || true
  for f in etc/resolv.conf etc/hostname; do [ ! -e "$dir/$f" ] || : >"$dir/$f"; done
  tar --numeric-owner --xattrs --xattrs-include='security.capability' -C "$dir" -cf "$out" .
}

# npm_pack <package>@<version>: downloads the package's tarball from the npm registry with the
# machine's npm (and its TLS settings) into $WORK/npm; prints the tarball's path.
npm_pack() {
  mkdir -p "$WORK/npm"
  local file
  file=$(cd "$WORK/npm" && npm pack --silent "$1" | tail -n 1)
  [ -f "$WORK/npm/$file" ] || { echo "npm pack $1 produced no tarball" >&2; return 1; }
  echo "$WORK/npm/$file"
}

# commit_rootfs <rootfs.tar> [buildah config options...]: a one-layer image FROM scratch holding
# the tarball's files (`buildah add` keeps their owners and modes), tagged $IMAGE, Docker format
# (so the image ID is the config digest that a docker-archive, and containerd, carry unchanged).
commit_rootfs() {
  local tar=$1; shift
  local c
  c=$(bh from --name "failover-images-$$" scratch)
  if ! { bh add --quiet "$c" "$tar" / >/dev/null &&
         bh config --label "io.failover-functions.stand-in-for=$IMAGE" \
           --label "io.failover-functions.recipe=$RECIPE_HASH" \
           --created-by "sandbox/images build.sh: stand-in for $IMAGE" "$@" "$c" &&
         bh commit --quiet --format docker --rm "$c" "$IMAGE" >/dev/null; }; then
    bh rm "$c" >/dev/null 2>&1 || true
    return 1
  fi
}

# npm_ca_mount: sets the array mount_args to what `buildah bud` needs for the Dockerfile's
# `RUN npm ci` on this machine. It reaches the npm registry through a TLS-intercepting proxy whose
# CA is only in the machine's CA bundle, so npm would fail its certificate checks. As a user behind
# a corporate proxy does, npm is told at build time and the Dockerfile stays as it is: a directory
# with the machine's CA bundle and an npmrc naming it is bind-mounted read-only over /usr/local/etc,
# npm's global config directory in the node image (empty there), for the RUN steps only. A mount
# is never part of a layer. FAILOVER_BUILD_CA_FILE names another bundle; set but empty, no mount.
npm_ca_mount() {
  local ca_file npm_etc=$CACHE/images/npm-etc
  if [ -n "${FAILOVER_BUILD_CA_FILE+set}" ]; then ca_file=$FAILOVER_BUILD_CA_FILE
  elif [ -r /etc/ssl/certs/ca-certificates.crt ]; then ca_file=/etc/ssl/certs/ca-certificates.crt
  else ca_file=""; fi
  mount_args=()
  [ -n "$ca_file" ] || return 0
  [ -r "$ca_file" ] || { echo "images: CA bundle $ca_file (FAILOVER_BUILD_CA_FILE) is not readable" >&2; return 1; }
  mkdir -p "$npm_etc"
  cmp -s "$ca_file" "$npm_etc/ca-certificates.crt" ||
    { cp "$ca_file" "$npm_etc/ca-certificates.crt.tmp" && mv -f "$npm_etc/ca-certificates.crt.tmp" "$npm_etc/ca-certificates.crt"; }
  printf '%s\n' "# Build-time only (sandbox/images/lib.sh): the build machine's CA bundle, for its TLS proxy." \
    "cafile=/usr/local/etc/ca-certificates.crt" >"$npm_etc/npmrc.tmp" && mv -f "$npm_etc/npmrc.tmp" "$npm_etc/npmrc"
  mount_args=(--volume "$npm_etc:/usr/local/etc:ro")
}
