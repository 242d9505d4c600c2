#!/bin/sh
# Makes the base images deploy/Containerfile builds on, debian:bookworm and
# debian:bookworm-slim, from Debian's package mirror with mmdebstrap, for a
# machine that reaches the mirror but no container registry. An image that
# already exists (pulled from a registry, or made by an earlier run) is
# left alone.
#
#   deploy/base-images.sh            # make the missing ones
#   deploy/base-images.sh --force    # make both again
#
# Environment: HERALD_DEBIAN_MIRROR (default: mmdebstrap's, deb.debian.org,
# with bookworm-updates and bookworm-security). Needs root (or a user
# podman and mmdebstrap's unshare mode work for), podman and mmdebstrap
# (apt-get install podman mmdebstrap).
#
# debian:bookworm is the apt variant (Essential packages and apt), like
# the registry's image; debian:bookworm-slim is the same without the
# documentation, manual pages and translations, as the registry's slim
# image (dpkg path-exclude, kept in the image for what is installed later).
set -eu

force=0
case "${1:-}" in
  --force) force=1 ;;
  "") ;;
  -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "base-images: unknown argument '$1'" >&2; exit 2 ;;
esac

for tool in podman mmdebstrap; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "base-images: needs $tool (apt-get install podman mmdebstrap)" >&2
    exit 2
  }
done

mirror=${HERALD_DEBIAN_MIRROR:-}

# make NAME [MMDEBSTRAP OPTIONS...]: builds NAME unless it exists.
make_image() {
  name=$1
  shift
  if [ "$force" -eq 0 ] && podman image exists "$name"; then
    echo "base-images: $name exists"
    return 0
  fi
  echo "base-images: making $name with mmdebstrap" >&2
  # shellcheck disable=SC2086
  mmdebstrap --quiet --variant=apt --format=tar "$@" bookworm - $mirror \
    | podman import --change 'CMD ["/bin/bash"]' - "$name" >/dev/null
  podman image exists "$name" || { echo "base-images: $name not made" >&2; exit 1; }
  echo "base-images: made $name"
}

make_image debian:bookworm
make_image debian:bookworm-slim \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/groff/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-include=/usr/share/locale/locale.alias'
