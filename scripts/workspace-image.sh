#!/usr/bin/env bash
# scripts/workspace-image.sh [--cached] [IMAGE] — build the workspace image
# (default tag klangk-workspace, the default spec.image) from
# images/workspace/ with the local engine (see scripts/engine.sh), after
# making the Debian base with scripts/base-image.sh (no registry needed).
#
# --cached: keep the built image as an archive in the machine's cache
# (scripts/engine.sh: klangk_cache_dir), named after a hash of the image's
# sources and the base, and load that archive instead of building when it
# exists. An archive either engine saved loads into the other, so a machine
# that tests on Podman and on dockerd builds the image once. Test beds use it: each bed has its own storage,
# and a load takes seconds where a build (apt-get inside) takes minutes.
set -euo pipefail
cached=0
if [ "${1:-}" = "--cached" ]; then
	cached=1
	shift
fi
IMAGE="${1:-klangk-workspace}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$HERE/../images/workspace"
# shellcheck source=engine.sh
source "$HERE/engine.sh"

build() {
	bash "$HERE/base-image.sh"
	# --network host: a RUN apt-get needs the network, and dockerd's
	# containers have none here (--iptables=false).
	if [ "$(engine_name)" = docker ]; then
		DOCKER_BUILDKIT=0 engine build -q --network host -t "$IMAGE" "$SRC" >/dev/null
	else
		engine build -q --network host -t "$IMAGE" "$SRC" >/dev/null
	fi
}

if [ "$cached" = 0 ]; then
	build
	echo "workspace-image: built $IMAGE" >&2
	exit 0
fi

cache="$(klangk_cache_dir)"
base="$(bash "$HERE/base-image.sh" --tarball)"
key="$({
	echo "$IMAGE"
	stat -c '%s %Y' "$base"
	cat "$SRC"/*
} | sha256sum | cut -c1-16)"
archive="$cache/klangk-workspace-$key.tar"
if [ -s "$archive" ]; then
	engine load -q -i "$archive" >/dev/null
	# Podman's archive names the image localhost/NAME, which Docker does
	# not take for NAME; give it the name spec.image uses.
	engine image inspect "$IMAGE" >/dev/null 2>&1 ||
		engine tag "localhost/$IMAGE" "$IMAGE"
	exit 0
fi
build
engine save -o "$archive.tmp.$$" "$IMAGE" >/dev/null
mv -f "$archive.tmp.$$" "$archive"
# Older archives (other sources) are of no further use.
find "$cache" -maxdepth 1 -name "klangk-workspace-*.tar" ! -name "${archive##*/}" -delete
echo "workspace-image: built $IMAGE (cached as $archive)" >&2
