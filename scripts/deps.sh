#!/usr/bin/env bash
# Installs, from Debian's packages, whatever the build, `make run` and the
# test suite need and is not present yet. Idempotent: when every package is
# already installed it does nothing (no apt-get update, no network); then the
# npm packages of the lockfiles, when not installed yet (npm_deps below).
# It also gives Podman's user namespaces their subordinate ids (subids).
set -euo pipefail

PKGS=(
	build-essential pkg-config
	libcurl4-openssl-dev libyaml-dev libjansson-dev libssl-dev libmicrohttpd-dev
	libarchive-dev
	etcd-server etcd-client
	podman runc conmon catatonit containernetworking-plugins iptables
	# Podman's other network backend, for the tenant-scale benchmark
	# (BED_PODMAN_NETWORK=netavark): with CNI every network create and list
	# costs ~90 ms per network that exists (BENCHMARKS.md).
	netavark aardvark-dns
	# the controller's egress firewall (controller/egress.h)
	nftables
	docker.io tini
	# the Debian base image (scripts/base-image.sh)
	debootstrap
	nginx-light
	busybox-static
	curl jq python3 python3-websockets procps iproute2 valgrind
	# test_proxy_reload watches proxy-gen's apply pipeline with strace.
	strace
	# Images and deployment (make images, tests/e2e/test_compose.sh,
	# test_systemd_units.sh, test_examples.sh).
	debootstrap docker-compose systemd python3-yaml
	# make fuzz: clang with libFuzzer (libclang-rt-14-dev); the tests make
	# etcd's certificates with openssl.
	clang libclang-rt-14-dev openssl
	# The CRD agreement test runs ajv (tests/schema, `npm ci`); man-db checks
	# the man page; diffutils is klangkc diff's default diff.
	nodejs man-db diffutils
	# The gateway's page is tested in Debian's chromium, driven by
	# playwright-core (tests/e2e/test_gateway_browser.sh), which never
	# downloads a browser of its own.
	chromium
)
# Debian's npm, unless an npm is already there (a nodejs package from
# elsewhere may bundle its own, and Debian's npm would conflict with it).
command -v npm >/dev/null 2>&1 || PKGS+=(npm)

# The npm packages, from their lockfiles (`npm ci`): xterm.js for the
# gateway's page (bundled by `make`, gateway/web) and playwright-core for
# the browser test (tests/browser).  Run when node_modules is missing or
# older than the lockfile, after the Debian packages (npm comes with them).
npm_deps() {
	local here d
	here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
	for d in gateway/web tests/browser; do
		if [ ! "$here/$d/node_modules/.package-lock.json" -nt "$here/$d/package-lock.json" ]; then
			echo "deps: npm ci in $d" >&2
			npm ci --prefix "$here/$d" --no-audit --no-fund --loglevel=error >&2
		fi
	done
}

# Subordinate ids for Podman's user namespaces (KLANGK_USERNS=auto takes
# each container's range from those of the user "containers";
# tests/e2e/test_userns.sh).  The range is Podman's documented one, above
# every uid a system gives out; an entry the machine has already is kept.
subids() {
	local f sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	for f in /etc/subuid /etc/subgid; do
		grep -q '^containers:' "$f" 2>/dev/null ||
			echo "containers:2147483647:2147483648" | $sudo tee -a "$f" >/dev/null
	done
}
subids

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	npm_deps
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi

echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# nginx-light's postinst tries to start the system nginx on port 80; a
# policy-rc.d that forbids service starts keeps the machine's services
# untouched (we start our own nginx in a private directory).
prc=/usr/sbin/policy-rc.d
created_prc=0
if [ ! -e "$prc" ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$prc" >/dev/null
	$SUDO chmod +x "$prc"
	created_prc=1
fi
trap '[ "$created_prc" = 1 ] && $SUDO rm -f "$prc"' EXIT
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
npm_deps
