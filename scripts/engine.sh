# shellcheck shell=bash
# scripts/engine.sh — sourced by the image scripts: `engine ARGS...` runs
# the container engine's CLI. KLANGK_ENGINE picks it: `docker` (on
# DOCKER_HOST when set) or `podman`; unset, docker when DOCKER_HOST is set
# and a docker CLI exists, else podman.
engine() {
	local which="${KLANGK_ENGINE:-}"
	if [ -z "$which" ]; then
		if [ -n "${DOCKER_HOST:-}" ] && command -v docker >/dev/null; then
			which=docker
		else
			which=podman
		fi
	fi
	if [ "$which" = docker ]; then
		if [ -n "${DOCKER_HOST:-}" ]; then
			docker -H "$DOCKER_HOST" "$@"
		else
			docker "$@"
		fi
	else
		podman "$@"
	fi
}

# engine_name: prints docker or podman (what `engine` runs).
engine_name() {
	if [ -n "${KLANGK_ENGINE:-}" ]; then
		echo "$KLANGK_ENGINE"
	elif [ -n "${DOCKER_HOST:-}" ] && command -v docker >/dev/null; then
		echo docker
	else
		echo podman
	fi
}

# klangk_cache_dir: prints (and creates) the machine's cache directory:
# KLANGK_CACHE_DIR, /var/cache/klangk, or ~/.cache/klangk when that is not
# writable.
klangk_cache_dir() {
	local d="${KLANGK_CACHE_DIR:-/var/cache/klangk}"
	if ! mkdir -p "$d" 2>/dev/null || [ ! -w "$d" ]; then
		d="${XDG_CACHE_HOME:-$HOME/.cache}/klangk"
		mkdir -p "$d"
	fi
	echo "$d"
}

# engine_build IMAGE DIR [BUILD_ARGS...]: builds DIR/Dockerfile as IMAGE,
# quietly. --network host: a RUN apt-get needs the network, and dockerd's
# containers have none here (--iptables=false).
engine_build() {
	local image="$1" dir="$2"
	shift 2
	if [ "$(engine_name)" = docker ]; then
		DOCKER_BUILDKIT=0 engine build -q --network host -t "$image" "$@" "$dir" >/dev/null
	else
		engine build -q --network host -t "$image" "$@" "$dir" >/dev/null
	fi
}

# engine_cached_build IMAGE DIR: puts IMAGE, built from DIR/Dockerfile on
# the Debian base (scripts/base-image.sh), into the engine, keeping the
# build as an archive in the machine's cache named after a hash of DIR's
# files and the base: a later call (also into another engine's storage:
# an archive either engine saved loads into the other) loads it in seconds
# where a build (apt-get inside) takes minutes. Older archives of IMAGE are
# deleted.
engine_cached_build() {
	local image="$1" dir="$2" here cache base key archive name
	here="$(dirname "${BASH_SOURCE[0]}")"
	cache="$(klangk_cache_dir)"
	base="$(bash "$here/base-image.sh" --tarball)"
	key="$({
		echo "$image"
		stat -c '%s %Y' "$base"
		cat "$dir"/*
	} | sha256sum | cut -c1-16)"
	name="${image##*/}"
	name="${name%%:*}"
	archive="$cache/$name-$key.tar"
	if [ -s "$archive" ]; then
		engine load -q -i "$archive" >/dev/null || return 1
		# Podman's archive names the image localhost/NAME, which Docker
		# does not take for NAME; give it the name asked for.
		engine image inspect "$image" >/dev/null 2>&1 ||
			engine tag "localhost/$image" "$image" || return 1
		return 0
	fi
	bash "$here/base-image.sh" || return 1
	engine_build "$image" "$dir" || return 1
	engine save -o "$archive.tmp.$$" "$image" >/dev/null || return 1
	mv -f "$archive.tmp.$$" "$archive" || return 1
	find "$cache" -maxdepth 1 -name "$name-????????????????.tar" ! -name "${archive##*/}" -delete
	echo "engine: built $image (cached as $archive)" >&2
}
