#!/bin/sh
# CMD of the test image localhost/klangk-test:latest (a busybox-static root
# file system built by tests/bed.sh with `podman import`).
#
# Serves HTTP on container ports 8000..8003 with busybox httpd, each port
# from its own document root, so a response tells which container port
# served it:
#
#   /srv/<C>/index.html
#   /srv/<C>${KLANGK_HOSTING_BASE_PATH}/hosted/${KLANGK_WORKSPACE_ID}/<H>/index.html
#
# both containing
#
#   klangk-test workspace=<id> container-port=<C> host-port=<H>
#
# for every mapping C:H of KLANGK_PORT_MAPPINGS (e.g. "8000:9000,8001:9001").
# The proxy passes the raw URI through, so a request for
# <base>/hosted/<id>/<H>/ reaches the container unchanged and finds the file.
# A container port with no mapping still serves /index.html (host-port=none).
#
# Container port 8004 runs /bin/wsecho (tests/image/wsecho.c): a WebSocket
# echo server that answers any other request with its request head, so a
# test sees the headers the proxy sent.
#
# SIGTERM/SIGINT stop the servers and exit at once (0).
#
# TEST_MAIN, when set, is run by sh instead of all that (exec'd: it
# is the container's main process), so a test makes a workspace that exits
# with a code ("exit 3") or hogs memory ("tail /dev/zero").

set -u
if [ -n "${TEST_MAIN:-}" ]; then
	exec sh -c "$TEST_MAIN"
fi

id="${KLANGK_WORKSPACE_ID:-unknown}"
base="${KLANGK_HOSTING_BASE_PATH:-}"
# "/" or "/apps/" -> "" or "/apps": the hosted prefix is "${base}/hosted/".
while [ -n "$base" ] && [ "${base%/}" != "$base" ]; do
	base="${base%/}"
done
case "$base" in
"" | /*) ;;
*) base="/$base" ;;
esac
mappings="${KLANGK_PORT_MAPPINGS:-}"

# host_port_of C: prints the host port mapped to container port C, or "none".
host_port_of() {
	old_ifs="$IFS"
	IFS=,
	for m in $mappings; do
		if [ "${m%%:*}" = "$1" ]; then
			IFS="$old_ifs"
			echo "${m#*:}"
			return 0
		fi
	done
	IFS="$old_ifs"
	echo none
}

pids=""

# stop: kills the servers and exits (the TERM/INT trap).
# shellcheck disable=SC2317 # invoked by the trap
stop() {
	trap - TERM INT
	# shellcheck disable=SC2086 # word splitting of the pid list is wanted
	[ -n "$pids" ] && kill $pids 2>/dev/null
	exit 0
}
trap stop TERM INT

for c in 8000 8001 8002 8003; do
	root="/srv/$c"
	h="$(host_port_of "$c")"
	text="klangk-test workspace=$id container-port=$c host-port=$h"
	mkdir -p "$root"
	echo "$text" >"$root/index.html"
	if [ "$h" != none ]; then
		d="$root$base/hosted/$id/$h"
		mkdir -p "$d"
		echo "$text" >"$d/index.html"
	fi
	busybox httpd -f -p "$c" -h "$root" &
	pids="$pids $!"
done

/bin/wsecho 8004 &
pids="$pids $!"

echo "klangk-test: workspace=$id base=$base mappings=$mappings serving 8000-8004"
# `wait` returns early when a trapped signal arrives; the trap then exits.
# Returning otherwise means every server has died.
wait
echo "klangk-test: all servers exited" >&2
exit 1
