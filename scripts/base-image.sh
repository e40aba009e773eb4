#!/usr/bin/env bash
# scripts/base-image.sh [IMAGE] — make the Debian bookworm base image
# (default localhost/debian:bookworm-slim) in the engine at DOCKER_HOST
# (or the local podman), for machines with no image registry: debootstrap
# --variant=minbase into a temporary directory, then import it.  A no-op
# when the image exists.  KLANGK_DEBOOTSTRAP_CACHE=DIR keeps the downloaded
# packages between runs (60 s instead of 85 s here).
set -euo pipefail
IMAGE="${1:-localhost/debian:bookworm-slim}"
MIRROR="${KLANGK_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

engine() {
	if [ -n "${DOCKER_HOST:-}" ] && command -v docker >/dev/null; then
		docker -H "$DOCKER_HOST" "$@"
	else
		podman "$@"
	fi
}

if engine image inspect "$IMAGE" >/dev/null 2>&1; then
	exit 0
fi
command -v debootstrap >/dev/null || {
	echo "base-image: needs debootstrap (apt-get install debootstrap)" >&2
	exit 1
}
root="$(mktemp -d /tmp/klangk-base.XXXXXX)"
trap 'rm -rf "$root"' EXIT
cache=()
if [ -n "${KLANGK_DEBOOTSTRAP_CACHE:-}" ]; then
	mkdir -p "$KLANGK_DEBOOTSTRAP_CACHE"
	cache=(--cache-dir "$(cd "$KLANGK_DEBOOTSTRAP_CACHE" && pwd)")
fi
echo "base-image: debootstrap bookworm into $root (about a minute)" >&2
debootstrap --variant=minbase "${cache[@]}" bookworm "$root/fs" "$MIRROR" >"$root/log" 2>&1 || {
	tail -20 "$root/log" >&2
	exit 1
}
# What a slim image leaves out, and an apt that works in a build.
rm -rf "$root/fs/var/cache/apt/archives"/*.deb "$root/fs/var/lib/apt/lists"/*
printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$MIRROR" "$MIRROR" \
	>"$root/fs/etc/apt/sources.list"
tar --numeric-owner -C "$root/fs" -c . | engine import \
	--change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	- "$IMAGE" >/dev/null
echo "base-image: imported $IMAGE" >&2
