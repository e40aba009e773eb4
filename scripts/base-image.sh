#!/usr/bin/env bash
# scripts/base-image.sh [IMAGE] — make the Debian bookworm base image
# (default localhost/debian:bookworm-slim) in the engine at DOCKER_HOST
# (or the local podman), for machines with no image registry.
#
# The root filesystem comes from `debootstrap --variant=minbase` and is kept
# as a tarball in KLANGK_CACHE_DIR (default /var/cache/klangk, or
# ~/.cache/klangk when that is not writable), so a machine runs debootstrap
# once (about a minute) and every later import — into the host's engine, a
# test bed's private Podman or a dockerd — takes seconds. A no-op when the
# image already exists. `scripts/base-image.sh --tarball` only makes the
# tarball and prints its path.
set -euo pipefail
tarball_only=0
if [ "${1:-}" = "--tarball" ]; then
	tarball_only=1
	shift
fi
IMAGE="${1:-localhost/debian:bookworm-slim}"
MIRROR="${KLANGK_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

cache_dir="${KLANGK_CACHE_DIR:-/var/cache/klangk}"
if ! mkdir -p "$cache_dir" 2>/dev/null || [ ! -w "$cache_dir" ]; then
	cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/klangk"
	mkdir -p "$cache_dir"
fi
TARBALL="$cache_dir/debian-bookworm-minbase.tar"

# The engine's CLI: KLANGK_ENGINE_CLI (docker | podman); by default docker
# when DOCKER_HOST is set and docker is installed, else podman.
engine() {
	local cli="${KLANGK_ENGINE_CLI:-}"
	if [ -z "$cli" ]; then
		cli=podman
		[ -z "${DOCKER_HOST:-}" ] || ! command -v docker >/dev/null || cli=docker
	fi
	if [ "$cli" = docker ]; then
		docker ${DOCKER_HOST:+-H "$DOCKER_HOST"} "$@"
	else
		podman "$@"
	fi
}

make_tarball() {
	[ -s "$TARBALL" ] && return 0
	command -v debootstrap >/dev/null || {
		echo "base-image: needs debootstrap (apt-get install debootstrap)" >&2
		exit 1
	}
	local root
	root="$(mktemp -d /tmp/klangk-base.XXXXXX)"
	# shellcheck disable=SC2064
	trap "rm -rf '$root'" EXIT
	echo "base-image: debootstrap bookworm into $root (about a minute, once per machine)" >&2
	mkdir -p "$cache_dir/debootstrap"
	debootstrap --variant=minbase --cache-dir "$cache_dir/debootstrap" bookworm \
		"$root/fs" "$MIRROR" >"$root/log" 2>&1 || {
		tail -20 "$root/log" >&2
		exit 1
	}
	# What a slim image leaves out, and an apt that works in a build.
	rm -rf "$root/fs/var/cache/apt/archives"/*.deb "$root/fs/var/lib/apt/lists"/*
	printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$MIRROR" "$MIRROR" \
		>"$root/fs/etc/apt/sources.list"
	# Written beside the final name and renamed, so an interrupted run never
	# leaves a truncated tarball that later runs would trust.
	tar --numeric-owner -C "$root/fs" -cf "$TARBALL.tmp.$$" .
	mv -f "$TARBALL.tmp.$$" "$TARBALL"
	rm -rf "$root"
	trap - EXIT
}

make_tarball
if [ "$tarball_only" = 1 ]; then
	echo "$TARBALL"
	exit 0
fi
if engine image inspect "$IMAGE" >/dev/null 2>&1; then
	exit 0
fi
engine import \
	--change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	"$TARBALL" "$IMAGE" >/dev/null
echo "base-image: imported $IMAGE" >&2
