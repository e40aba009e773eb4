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

if [ "$cached" = 0 ]; then
	bash "$HERE/base-image.sh"
	engine_build "$IMAGE" "$SRC"
	echo "workspace-image: built $IMAGE" >&2
	exit 0
fi
engine_cached_build "$IMAGE" "$SRC"
