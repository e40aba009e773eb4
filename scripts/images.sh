#!/usr/bin/env bash
# scripts/images.sh [TAG] — build the images of the top-level Dockerfile in
# the engine at DOCKER_HOST (or the local podman): klangk-controller:TAG
# (the default target), klangk-proxy:TAG (--target proxy), klangk-gateway:TAG
# (--target gateway) and
# klangk-etcd:TAG (--target etcd, for manifests/compose/), TAG "latest" by
# default.  `make images` runs it.
#
# Where no registry is reachable (here), the Debian base comes from
# scripts/base-image.sh (a debootstrap root file system kept once per
# machine) and the build gets --build-arg BASE=localhost/debian:bookworm-slim.
# Set KLANGK_BASE_IMAGE=debian:bookworm-slim to build from a registry's
# image instead.
#
# Builds are cached by the source tree: both images carry the label
# klangk.source-hash, a SHA-256 of everything the build reads (Dockerfile,
# Makefile, lib/, cli/, controller/, proxy-gen/) and of the base.  Nothing
# is built when the engine already has the images with the current hash;
# otherwise the images saved after the last build with this hash
# (KLANGK_CACHE_DIR, default /var/cache/klangk, images-<hash>.tar) are
# loaded; otherwise they are built and saved there (only the newest build
# is kept).  KLANGK_IMAGES_NO_CACHE=1 always builds.
#
# The engine's CLI: KLANGK_ENGINE (docker | podman; scripts/engine.sh); by
# default docker when DOCKER_HOST is set and docker is installed, else podman.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TAG="${1:-latest}"
BASE="${KLANGK_BASE_IMAGE:-localhost/debian:bookworm-slim}"
# Unqualified names: what compose files name, on Docker and Podman alike.
TARGETS=(proxy etcd gateway controller)

# shellcheck source=engine.sh
source "$REPO/scripts/engine.sh"
cli="$(engine_name)"
log() {
	echo "images: $*" >&2
}

cache_dir="$(klangk_cache_dir)"

# The base: imported from the machine's tarball unless it comes from a
# registry.  Its identity (the tarball's size and time) is part of the hash.
base_id="$BASE"
if [ "$BASE" = localhost/debian:bookworm-slim ]; then
	tarball="$(KLANGK_CACHE_DIR="$cache_dir" bash "$REPO/scripts/base-image.sh" --tarball)"
	base_id="$BASE $(stat -c '%s %Y' "$tarball")"
	KLANGK_ENGINE="$cli" KLANGK_CACHE_DIR="$cache_dir" \
		bash "$REPO/scripts/base-image.sh" "$BASE"
fi

# The page's pinned npm packages, fetched on the host where the registry's
# TLS chain is trusted (the build copies them; Dockerfile).
make -C "$REPO" -s gateway/web/node_modules/.package-lock.json

# The source hash: every file the build copies, by name and content.
hash="$(
	cd "$REPO"
	{
		echo "$base_id"
		find Dockerfile Makefile lib cli controller proxy-gen gateway -type f \
			! -name '*.o' ! -name '*.d' ! -path '*/node_modules/*' -print0 |
			sort -z | xargs -0 sha256sum
	} | sha256sum | cut -c1-32
)"

label_of() { # IMAGE: its klangk.source-hash label, or nothing
	engine image inspect --format '{{ index .Config.Labels "klangk.source-hash" }}' "$1" \
		2>/dev/null || true
}

up_to_date() { # every image is there with this hash
	local t
	for t in "${TARGETS[@]}"; do
		[ "$(label_of "klangk-$t:$TAG")" = "$hash" ] || return 1
	done
}
names() { # IMAGE names with SUFFIX as their tag
	local t
	for t in "${TARGETS[@]}"; do
		echo "klangk-$t:$1"
	done
}

if [ "${KLANGK_IMAGES_NO_CACHE:-0}" != 1 ]; then
	if up_to_date; then
		log "$(names "$TAG" | xargs) are up to date ($hash)"
		exit 0
	fi
	if [ -s "$cache_dir/images-$hash.tar" ]; then
		engine load -i "$cache_dir/images-$hash.tar" >/dev/null
		# The archive names the images by the hash they were built from
		# (Podman qualifies the names with localhost/, Docker does not;
		# an archive of either loads into both).
		for t in "${TARGETS[@]}"; do
			engine tag "klangk-$t:src-$hash" "klangk-$t:$TAG" 2>/dev/null ||
				engine tag "localhost/klangk-$t:src-$hash" "klangk-$t:$TAG"
		done
		if up_to_date; then
			log "loaded $(names "$TAG" | xargs) from $cache_dir/images-$hash.tar"
			exit 0
		fi
		log "the cached archive did not hold the images; building"
	fi
fi

# --network host: a RUN apt-get needs the host's network (a test bed's
# engine has no outbound network of its own).
t0=$SECONDS
for t in "${TARGETS[@]}"; do
	log "building klangk-$t:$TAG (--target $t)"
	engine build --network host --target "$t" --build-arg "BASE=$BASE" \
		--label "klangk.source-hash=$hash" -t "klangk-$t:$TAG" \
		-t "klangk-$t:src-$hash" -f "$REPO/Dockerfile" "$REPO"
done
log "built $(names "$TAG" | xargs) in $((SECONDS - t0)) s ($hash)"

# Keep this build for the next time (written beside, then renamed).
tmp="$cache_dir/images-$hash.tar.tmp.$$"
trap 'rm -f "$tmp"' EXIT
if [ "$cli" = docker ]; then
	# shellcheck disable=SC2046 # one word per image
	engine save -o "$tmp" $(names "src-$hash")
else
	# shellcheck disable=SC2046
	engine save -q -m --format docker-archive -o "$tmp" $(names "src-$hash")
fi
find "$cache_dir" -maxdepth 1 -name 'images-*.tar' ! -name "images-$hash.tar" -delete
mv -f "$tmp" "$cache_dir/images-$hash.tar"
trap - EXIT
log "saved them as $cache_dir/images-$hash.tar"
