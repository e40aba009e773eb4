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
