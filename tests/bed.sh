# shellcheck shell=bash
# tests/bed.sh — a private test bed on loopback: etcd, Podman's Docker-compatible
# API service with its own storage, network and state, the test image, and the
# project's daemons. Sourced by the end-to-end tests:
#
#   source "$(dirname "$0")/../bed.sh"
#   trap bed_down EXIT
#   bed_up
#   bed_start_controller
#   bed_start_proxygen
#   ...
#
# Everything lives in BED=/tmp/klangk-bed.XXXXXX and is removed by bed_down,
# which is idempotent and safe to run from a trap even when bed_up failed
# halfway. Podman runs on private storage (graphroot, runroot, tmp dir, file
# locks, CNI network with its own bridge and IPAM directory), so the bed never
# sees nor touches containers, images, volumes or networks it did not create.
#
# Exported by bed_up:
#   BED                        the bed's directory
#   ETCD_PORT, PEER_PORT       etcd's client and peer ports on 127.0.0.1
#   KLANGK_ETCD_ENDPOINTS      http://127.0.0.1:$ETCD_PORT
#   ETCDCTL_API=3, ETCDCTL_ENDPOINTS   for etcdctl
#   DOCKER_HOST                unix://$BED/podman.sock (docker.sock with dockerd)
#   CONTAINERS_CONF, CONTAINERS_STORAGE_CONF   the private Podman configuration
#                              (a bare `podman` in a test also uses the bed)
#   KLANGK_TEST_IMAGE          localhost/klangk-test:latest (tests/image/serve.sh)
#   NGINX_DIR                  $BED/nginx, nginx's prefix (proxy-gen starts nginx)
#   KLANGK_NGINX_PORT          a free port for nginx
#   KLANGK_PORT_RANGE_START    first of BED_PORT_RANGE_SIZE (200) free ports
#   BED_PORT_RANGE_SIZE        200
#   BED_FREE_PORTS             four more free ports ("p1 p2 p3 p4"), e.g. for the
#                              daemons' /metrics and /healthz endpoints
#   KLANGK_INSTANCE_ID         "bed" + 8 hex digits, unique per bed
#   KLANGK_DATA_DIR            $BED/data
#   BED_NETWORK, BED_BRIDGE, BED_SUBNET   the bed's CNI network (Podman's default
#                              network for this service), its bridge and subnet
#   BIN                        the binaries' directory (kept if set; else ./bin)
#
# A bed can also be torn down from another shell:
#   BED=/tmp/klangk-bed.XXXXXX bash -c 'source tests/bed.sh; bed_down'
#
# Environment read:
#   KLANGK_E2E_RUN   the runner's id, recorded in $BED/bed.env (tests/e2e/run.sh
#                    tears down any bed of its run that a killed test left)
#   BED_KEEP=1       bed_down stops everything but keeps $BED (logs, data)
#   BED_FAILED=1     bed_down treats the test as failed (prints the logs)
#   BED_SHOW_LOGS=1  bed_down always prints the logs' tails
#   BED_PODMAN_LOG_LEVEL   podman service's --log-level (default warn)
#   BED_PODMAN_NETWORK     Podman's network backend, cni (default) or netavark
#   BED_ETCD_TLS=1   etcd serves https only and requires client certificates:
#                    bed_up makes a CA, a server certificate for 127.0.0.1 and
#                    a client certificate with openssl in $BED/pki, and exports
#                    KLANGK_ETCD_CACERT, _CERT, _KEY and ETCDCTL_CACERT, _CERT,
#                    _KEY; the endpoints are https://
#   BED_ETCD_ARGS    extra etcd flags (word-split), e.g. "--auth-token-ttl 2"
#   BED_DOCKERD_ARGS extra dockerd flags (word-split), e.g. a
#                    "--default-address-pool base=10.201.0.0/16,size=24" for
#                    more networks than its default pools hold (~30)
#   BED_OWN_SESSION=1  bed_start_controller and bed_start_proxygen start the
#                    daemon in a session of its own (setsid), so that a
#                    terminal's Ctrl-C, which signals the whole foreground
#                    process group, does not reach it (scripts/run.sh)

BED_SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BED_REPO="$(cd "$BED_SRC_DIR/.." && pwd)"
: "${BIN:=$BED_REPO/bin}"
export BIN
BED_PORT_RANGE_SIZE=200
export BED_PORT_RANGE_SIZE
BED_ENGINE="${KLANGK_E2E_ENGINE:-podman}"
export BED_ENGINE

# _bed_engine_socket: the engine API socket of the bed.
_bed_engine_socket() {
	if [ "$BED_ENGINE" = docker ]; then
		echo "$BED/docker.sock"
	else
		echo "$BED/podman.sock"
	fi
}

# bed_docker ARGS...: the docker CLI on the bed's dockerd.
bed_docker() {
	docker -H "unix://$BED/docker.sock" "$@"
}

# bed_log MSG...: prints a bed message on stderr.
bed_log() {
	echo "bed: $*" >&2
}

# _bed_now_us: prints the monotonic-enough wall clock in microseconds.
_bed_now_us() {
	local t="$EPOCHREALTIME"
	echo "${t/./}"
}

# _bed_s_to_us SECONDS: prints SECONDS (integer or decimal) in microseconds.
_bed_s_to_us() {
	local s="$1" int frac
	int="${s%%.*}"
	if [[ "$s" == *.* ]]; then
		frac="${s#*.}000000"
		frac="${frac:0:6}"
	else
		frac=000000
	fi
	echo $((10#${int:-0} * 1000000 + 10#$frac))
}

# wait_for DESC TIMEOUT_S CMD...: re-runs CMD every 0.1 s until it succeeds
# (returns 0) or TIMEOUT_S seconds have passed. CMD's output is captured; on
# timeout DESC and the last attempt's output are printed and 1 is returned.
# CMD runs in a subshell: it cannot set the caller's variables.
wait_for() {
	local desc="$1" timeout="$2" deadline out=""
	shift 2
	deadline=$(($(_bed_now_us) + $(_bed_s_to_us "$timeout")))
	while :; do
		if out="$("$@" 2>&1)"; then
			return 0
		fi
		if (($(_bed_now_us) >= deadline)); then
			bed_log "timed out after ${timeout}s waiting for: $desc"
			if [ -n "$out" ]; then
				printf '%s\n' "$out" | tail -n 20 | sed 's/^/bed:   | /' >&2
			fi
			return 1
		fi
		sleep 0.1
	done
}

# _bed_alive PID: true when PID is a live (not zombie) process.
_bed_alive() {
	local stat
	[ -n "${1:-}" ] || return 1
	stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
	[ -n "$stat" ] || return 1
	stat="${stat##*) }"
	[ "${stat:0:1}" != Z ]
}

# _bed_not_alive PID: the negation of _bed_alive, for wait_for.
_bed_not_alive() {
	! _bed_alive "$1"
}

# _bed_stop_pid PID NAME TIMEOUT_S SIGNAL MATCH: sends SIGNAL to PID, waits
# up to TIMEOUT_S for it to end, then SIGKILLs it. Only when PID's command
# line contains MATCH (a pid read from a file may have been reused). Reaps it
# when it is our child and sets BED_LAST_RC to its exit status ("" unknown).
_bed_stop_pid() {
	local pid="$1" name="$2" timeout="$3" sig="$4" match="$5" cmd
	BED_LAST_RC=""
	[[ "$pid" =~ ^[0-9]+$ ]] || return 0
	cmd="$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null)" || cmd=""
	if _bed_alive "$pid" && [[ "$cmd" == *"$match"* ]]; then
		kill "-$sig" "$pid" 2>/dev/null || true
		if ! wait_for "$name (pid $pid) to exit" "$timeout" _bed_not_alive "$pid"; then
			bed_log "killing $name (pid $pid)"
			kill -KILL "$pid" 2>/dev/null || true
			wait_for "$name (pid $pid) to die" 5 _bed_not_alive "$pid" || true
		fi
	fi
	# Reap (and learn the status) when it is a child of this shell.
	if wait "$pid" 2>/dev/null; then
		BED_LAST_RC=0
	else
		BED_LAST_RC=$?
		# 127: not our child.
		[ "$BED_LAST_RC" != 127 ] || BED_LAST_RC=""
	fi
	return 0
}

# _bed_wait_daemon NAME PID TIMEOUT_S CMD...: like wait_for, but gives up at
# once when process PID dies meanwhile (bed_down then prints its log).
_bed_wait_daemon() {
	local name="$1" pid="$2" timeout="$3"
	shift 3
	wait_for "$name to be ready" "$timeout" _bed_daemon_check "$pid" "$@" || return 1
	if ! _bed_alive "$pid"; then
		bed_log "$name (pid $pid) died during start-up"
		return 1
	fi
	"$@" >/dev/null 2>&1
}

# _bed_daemon_check PID CMD...: true when CMD succeeds or PID has died.
_bed_daemon_check() {
	local p="$1"
	shift
	"$@" && return 0
	_bed_alive "$p" || return 0
	return 1
}

# _bed_random_hex N: prints 2*N random lowercase hex digits.
_bed_random_hex() {
	od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

# _bed_pick_resources: picks, under a lock shared by all beds, free loopback
# ports (etcd client and peer, nginx, four spare, and a range of
# BED_PORT_RANGE_SIZE) and a free /24 for the bed's container network, and
# records them in $BED/reserved so that concurrent beds never pick the same.
# Ports are below the kernel's ephemeral range when there is room for it.
# Prints "ETCD PEER NGINX S1 S2 S3 S4 RANGE_START SUBNET".
_bed_pick_resources() {
	python3 - "$BED" "$BED_PORT_RANGE_SIZE" <<'PY'
import fcntl, glob, ipaddress, os, random, re, socket, subprocess, sys

bed, size = sys.argv[1], int(sys.argv[2])
parent = os.path.dirname(bed)
lock = os.open(parent, os.O_RDONLY)
fcntl.flock(lock, fcntl.LOCK_EX)

taken_ports, taken_nets = set(), []
for f in glob.glob(os.path.join(parent, "klangk-bed.*", "reserved")):
    try:
        for line in open(f):
            kind, _, val = line.strip().partition(" ")
            if kind == "ports":
                a, b = map(int, val.split("-"))
                taken_ports.update(range(a, b + 1))
            elif kind == "net":
                taken_nets.append(ipaddress.ip_network(val))
    except (OSError, ValueError):
        pass

def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""

# Host ports already forwarded by some container engine.
for m in re.finditer(r"--dport (\d+)", run("iptables", "-w", "-t", "nat", "-S")):
    taken_ports.add(int(m.group(1)))

def free(port):
    if port in taken_ports:
        return False
    for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        try:
            s = socket.socket(fam, socket.SOCK_STREAM)
        except OSError:
            continue  # no IPv6 here
        try:
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((addr, port))
        except OSError:
            return False
        finally:
            s.close()
    return True

try:
    eph_lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    eph_lo = 32768
lo, hi = 20000, eph_lo - 1
if hi - lo < 4 * size:
    lo, hi = 20000, 60999

rng = random.SystemRandom()
start = None
for _ in range(500):
    base = rng.randrange(lo, hi - size - 7)
    if all(free(p) for p in range(base, base + size + 7)):
        start = base
        break
if start is None:
    sys.exit("no free port range found")
# Seven single ports right after the range: etcd, peer, nginx, 4 spare.
singles = list(range(start + size, start + size + 7))

used = []
for line in run("ip", "-4", "route", "show", "table", "all").splitlines():
    tok = line.split()
    for t in tok[:2]:
        try:
            used.append(ipaddress.ip_network(t, strict=False))
        except ValueError:
            pass
for line in run("ip", "-4", "-o", "addr").splitlines():
    m = re.search(r"inet (\S+)", line)
    if m:
        used.append(ipaddress.ip_network(m.group(1), strict=False))
used += taken_nets
net = None
for _ in range(2000):
    cand = ipaddress.ip_network("10.%d.%d.0/24" % (rng.randrange(200, 255), rng.randrange(0, 256)))
    if not any(cand.overlaps(u) for u in used if u.prefixlen > 0):
        net = cand
        break
if net is None:
    sys.exit("no free /24 found for the container network")

with open(os.path.join(bed, "reserved"), "w") as f:
    f.write("ports %d-%d\nnet %s\n" % (start, start + size + 6, net))
print(*singles, start, net)
PY
}

# bed_podman ARGS...: runs the podman CLI on the bed's private storage and
# configuration (never the machine's). The API service is $DOCKER_HOST.
bed_podman() {
	env CONTAINERS_CONF="$BED/containers.conf" \
		CONTAINERS_STORAGE_CONF="$BED/storage.conf" \
		TMPDIR="$BED/tmp" XDG_RUNTIME_DIR="$BED/xdg" \
		podman "$@"
}

# _bed_podman_network: the network backend of the bed's Podman:
# $BED_PODMAN_NETWORK if set; else what an existing containers.conf of this
# state directory says (make run's state outlives a run, and networks made
# by one backend are invisible to the other); else cni.  netavark
# (scripts/deps.sh installs it) is for the tenant-scale benchmark: Podman
# 4.3's CNI plugins cost ~90 ms per existing network on every network
# create and list, netavark's create does not grow (BENCHMARKS.md).
_bed_podman_network() {
	local kept
	if [ -n "${BED_PODMAN_NETWORK:-}" ]; then
		echo "$BED_PODMAN_NETWORK"
	elif kept="$(sed -n 's/^network_backend = "\(cni\|netavark\)"$/\1/p' \
		"$BED/containers.conf" 2>/dev/null)" && [ -n "$kept" ]; then
		echo "$kept"
	else
		echo cni
	fi
}

# _bed_write_podman_conf: writes containers.conf, storage.conf and the
# bed's default network for the backend (_bed_podman_network).
_bed_write_podman_conf() {
	local backend
	backend="$(_bed_podman_network)"
	mkdir -p "$BED/storage" "$BED/runroot" "$BED/podman-tmp" "$BED/tmp" \
		"$BED/cni/ipam" "$BED/netavark" "$BED/xdg"
	chmod 700 "$BED/xdg"
	cat >"$BED/containers.conf" <<EOF
# The bed's Podman: runc with cgroupfs and explicit ulimits (no
# CAP_SYS_RESOURCE, hybrid cgroups here); every piece of state under $BED.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]

[network]
network_backend = "$backend"
network_config_dir = "$BED/$backend"
default_network = "$BED_NETWORK"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$BED/podman-tmp/events/events.log"
tmp_dir = "$BED/podman-tmp"
static_dir = "$BED/storage/libpod"
volume_path = "$BED/storage/volumes"
image_copy_tmp_dir = "$BED/tmp"
# File locks under tmp_dir: the default SHM segment (/libpod_lock) is shared
# by every rootful Podman on the machine and a fresh tmp_dir makes Podman
# "refresh" it, which frees the locks of the others.
lock_type = "file"
# conmon runs "podman container cleanup" when a container exits: it must use
# this same configuration.
conmon_env_vars = [
  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  "CONTAINERS_CONF=$BED/containers.conf",
  "CONTAINERS_STORAGE_CONF=$BED/storage.conf",
  "TMPDIR=$BED/tmp",
]
EOF
	cat >"$BED/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$BED/storage"
runroot = "$BED/runroot"
EOF
	# Netavark's form of the same network (no DNS: the bed's containers
	# are reached by address).
	cat >"$BED/netavark/$BED_NETWORK.json" <<EOF
{
  "name": "$BED_NETWORK",
  "id": "$(printf '%s' "$BED_NETWORK" | sha256sum | cut -c1-64)",
  "driver": "bridge",
  "network_interface": "$BED_BRIDGE",
  "created": "2026-01-01T00:00:00Z",
  "subnets": [{"subnet": "$BED_SUBNET", "gateway": "${BED_SUBNET%.0/*}.1"}],
  "ipv6_enabled": false,
  "internal": false,
  "dns_enabled": false,
  "ipam_options": {"driver": "host-local"}
}
EOF
	cat >"$BED/cni/$BED_NETWORK.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "$BED_NETWORK",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BED_BRIDGE",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$BED/cni/ipam",
        "routes": [{"dst": "0.0.0.0/0"}],
        "ranges": [[{"subnet": "$BED_SUBNET"}]]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "firewall"},
    {"type": "tuning"}
  ]
}
EOF
}

# _bed_build_image: builds $KLANGK_TEST_IMAGE from /bin/busybox (busybox-static),
# tests/image/serve.sh and tests/image/wsecho.c (compiled with gcc -static,
# cached in build/tests/wsecho while the source is older) with `podman import`.
_bed_build_image() {
	local root="$BED/image/rootfs" bb ws="$BED_REPO/build/tests/wsecho"
	bb="$(command -v busybox)" || return 1
	if [ ! -x "$ws" ] || [ "$BED_SRC_DIR/image/wsecho.c" -nt "$ws" ]; then
		mkdir -p "$(dirname "$ws")" || return 1
		# (static glibc warns about NSS functions libcrypto links but never calls)
		gcc -static -s -O2 -o "$ws.$$" "$BED_SRC_DIR/image/wsecho.c" -lcrypto \
			2>"$BED/wsecho-build.log" || { cat "$BED/wsecho-build.log" >&2; return 1; }
		mv -f "$ws.$$" "$ws" || return 1
	fi
	mkdir -p "$root/bin" "$root/etc" "$root/srv" "$root/tmp" "$root/proc" \
		"$root/sys" "$root/dev" "$root/root" || return 1
	chmod 1777 "$root/tmp" || return 1
	cp "$bb" "$root/bin/busybox" || return 1
	# One symlink per applet (one process: ~400 `ln` would take seconds).
	"$bb" --list | python3 -c 'import os, sys
for a in sys.stdin.read().split():
    if a != "busybox":
        os.symlink("busybox", os.path.join(sys.argv[1], a))' "$root/bin" || return 1
	ln -s bin "$root/sbin" || return 1
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
		>"$root/etc/passwd" || return 1
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group" || return 1
	install -m 755 "$BED_SRC_DIR/image/serve.sh" "$root/serve.sh" || return 1
	install -m 755 "$ws" "$root/bin/wsecho" || return 1
	tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$BED/image/rootfs.tar" . || return 1
	local changes=('CMD ["/serve.sh"]' 'WORKDIR /' 'ENV PATH=/bin' 'EXPOSE 8000'
		'EXPOSE 8001' 'EXPOSE 8002' 'EXPOSE 8003' 'EXPOSE 8004') c args=()
	for c in "${changes[@]}"; do
		args+=(--change "$c")
	done
	if [ "$BED_ENGINE" = docker ]; then
		bed_docker import "${args[@]}" \
			--message 'klangk test image (busybox-static + tests/image/serve.sh, wsecho)' \
			"$BED/image/rootfs.tar" "$KLANGK_TEST_IMAGE" >"$BED/image/id" || return 1
	else
		bed_podman import -q "${args[@]}" \
			--message 'klangk test image (busybox-static + tests/image/serve.sh, wsecho)' \
			"$BED/image/rootfs.tar" "$KLANGK_TEST_IMAGE" >"$BED/image/id" || return 1
	fi
	rm -rf "$root" "$BED/image/rootfs.tar"
}

# _bed_image_script SCRIPT ARGS...: runs scripts/SCRIPT with the bed's engine
# (KLANGK_ENGINE and, for Podman, the bed's private storage and state).
_bed_image_script() {
	local script="$1"
	shift
	bed_engine_cli bash "$BED_REPO/scripts/$script" "$@"
}

# bed_base_image [IMAGE]: imports the Debian base image (default
# localhost/debian:bookworm-slim) into the bed's engine from the machine's
# cached debootstrap tarball (scripts/base-image.sh: the first run on a
# machine makes it, about a minute; later imports take seconds).
bed_base_image() {
	_bed_image_script base-image.sh "$@"
}

# bed_workspace_image: puts the workspace image klangk-workspace (the
# default spec.image, images/workspace/) into the bed's engine: loaded from
# the machine's cache when its sources did not change, else built (minutes)
# and cached (scripts/workspace-image.sh --cached).
bed_workspace_image() {
	_bed_image_script workspace-image.sh --cached
}

# _bed_on_signal SIG CODE: turns SIG into `exit CODE` so the EXIT trap
# (bed_down) runs and sees a failure.
_bed_on_signal() {
	bed_log "caught SIG$1, tearing down"
	exit "$2"
}

# _bed_start_engine: starts the bed's Podman API service in the background
# (BED_PODMAN_PID).
_bed_start_engine() {
	if [ "$BED_ENGINE" = docker ]; then
		# Its own roots, bridge and containerd namespace, so parallel
		# beds and the machine's own Docker never meet. --iptables=false:
		# ports are published by docker-proxy on the host.
		# shellcheck disable=SC2086 # BED_DOCKERD_ARGS is a list of flags
		dockerd --host "unix://$BED/docker.sock" --data-root "$BED/docker" \
			--exec-root "$BED/docker-exec" --pidfile "$BED/docker.pid" \
			--iptables=false --bridge "$BED_BRIDGE" \
			--containerd-namespace "k$BED_BRIDGE" \
			--containerd-plugins-namespace "kp$BED_BRIDGE" \
			${BED_DOCKERD_ARGS:-} \
			</dev/null >>"$BED/podman.log" 2>&1 &
		BED_PODMAN_PID=$!
		echo "$BED_PODMAN_PID" >"$BED/podman.pid"
		return 0
	fi
	# In $BED: conmon writes an "oom" file into the service's working
	# directory when a container is OOM-killed.
	env -C "$BED" TMPDIR="$BED/tmp" XDG_RUNTIME_DIR="$BED/xdg" \
		podman --log-level="${BED_PODMAN_LOG_LEVEL:-warn}" \
		system service --time=0 "unix://$BED/podman.sock" \
		</dev/null >>"$BED/podman.log" 2>&1 &
	BED_PODMAN_PID=$!
	echo "$BED_PODMAN_PID" >"$BED/podman.pid"
}

# bed_restart_etcd [SIGNAL]: stops etcd (SIGTERM by default, or e.g. KILL)
# and starts it again on the same data and port; returns when it is healthy.
# (Its simple auth tokens are forgotten; open watches break.)
bed_restart_etcd() {
	local pid
	pid="$(cat "$BED/etcd.pid")"
	_bed_stop_pid "$pid" etcd 10 "${1:-TERM}" etcd
	_bed_start_etcd
	_bed_wait_daemon etcd "$BED_ETCD_PID" 30 _bed_etcd_healthy
}

# bed_restart_engine: stops the Podman API service and starts it again on
# the same socket and storage (containers keep running: conmon owns them);
# returns when it answers.
bed_restart_engine() {
	local pid
	pid="$(cat "$BED/podman.pid")"
	_bed_stop_pid "$pid" "engine service" 20 TERM "$(_bed_engine_socket)"
	rm -f "$(_bed_engine_socket)"
	case "$BED_ENGINE" in
	podman | docker) ;;
	*)
		bed_log "bed_up: KLANGK_E2E_ENGINE must be podman or docker"
		return 1
		;;
	esac
	_bed_start_engine
	_bed_wait_daemon "podman service" "$BED_PODMAN_PID" 30 _bed_engine_ping
}

# bed_up: creates $BED and starts etcd and the Podman API service, builds the
# test image, picks the ports, and exports the variables listed at the top
# of this file. Installs INT/TERM/HUP traps (exit 130/143/129) and an EXIT
# trap running bed_down, each only when the caller has not set one.
bed_up() {
	local ports tool
	if [ -n "${BED:-}" ] && [ -d "$BED" ] && [ ! -e "$BED/down" ]; then
		bed_log "bed_up: a bed is already up at $BED"
		return 1
	fi
	for tool in etcd etcdctl podman runc conmon curl python3 busybox tar ip iptables; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			bed_log "bed_up: '$tool' is missing (run: bash scripts/deps.sh)"
			return 1
		fi
	done
	# Podman's default CNI plugin directories.
	local cni_ok=0 d
	for d in /usr/local/libexec/cni /usr/libexec/cni /usr/local/lib/cni /usr/lib/cni /opt/cni/bin; do
		[ -x "$d/bridge" ] && [ -x "$d/portmap" ] && cni_ok=1
	done
	if [ "$cni_ok" = 0 ]; then
		bed_log "bed_up: the CNI plugins are missing (apt-get install containernetworking-plugins)"
		return 1
	fi
	[ -n "$(trap -p EXIT)" ] || trap bed_down EXIT
	[ -n "$(trap -p INT)" ] || trap '_bed_on_signal INT 130' INT
	[ -n "$(trap -p TERM)" ] || trap '_bed_on_signal TERM 143' TERM
	[ -n "$(trap -p HUP)" ] || trap '_bed_on_signal HUP 129' HUP

	BED="$(mktemp -d /tmp/klangk-bed.XXXXXX)" || return 1
	export BED
	chmod 755 "$BED" && mkdir -p "$BED/data" "$BED/nginx" || return 1

	local suffix
	suffix="$(_bed_random_hex 4)"
	export KLANGK_INSTANCE_ID="bed$suffix"
	export BED_NETWORK="klangk-bed-$suffix"
	export BED_BRIDGE="kbed$suffix"
	export KLANGK_DATA_DIR="$BED/data"
	export NGINX_DIR="$BED/nginx"
	export KLANGK_TEST_IMAGE="localhost/klangk-test:latest"

	ports="$(_bed_pick_resources)" || {
		bed_log "bed_up: could not pick ports"
		return 1
	}
	local p_etcd p_peer p_nginx s1 s2 s3 s4 range subnet
	read -r p_etcd p_peer p_nginx s1 s2 s3 s4 range subnet <<<"$ports"
	export ETCD_PORT="$p_etcd" PEER_PORT="$p_peer"
	export KLANGK_NGINX_PORT="$p_nginx"
	export KLANGK_PORT_RANGE_START="$range"
	export BED_FREE_PORTS="$s1 $s2 $s3 $s4"
	export BED_SUBNET="$subnet"
	# For a bed_down from another shell (BED=... bed_down) and the runner.
	printf 'BED_NETWORK=%s\nBED_BRIDGE=%s\nBED_RUN_ID=%s\n' \
		"$BED_NETWORK" "$BED_BRIDGE" "${KLANGK_E2E_RUN:-}" >"$BED/bed.env" || return 1

	if [ "${BED_ETCD_TLS:-0}" = 1 ]; then
		_bed_make_pki || {
			bed_log "bed_up: making the etcd certificates failed"
			return 1
		}
		export KLANGK_ETCD_CACERT="$BED/pki/ca.pem" KLANGK_ETCD_CERT="$BED/pki/client.pem"
		export KLANGK_ETCD_KEY="$BED/pki/client.key"
		export ETCDCTL_CACERT="$KLANGK_ETCD_CACERT" ETCDCTL_CERT="$KLANGK_ETCD_CERT"
		export ETCDCTL_KEY="$KLANGK_ETCD_KEY"
		BED_ETCD_SCHEME=https
	else
		BED_ETCD_SCHEME=http
	fi
	_bed_start_etcd
	export KLANGK_ETCD_ENDPOINTS="$BED_ETCD_SCHEME://127.0.0.1:$ETCD_PORT"
	export ETCDCTL_API=3
	export ETCDCTL_ENDPOINTS="$KLANGK_ETCD_ENDPOINTS"

	# Podman's API service, private configuration and storage.
	_bed_write_podman_conf || return 1
	export CONTAINERS_CONF="$BED/containers.conf"
	export CONTAINERS_STORAGE_CONF="$BED/storage.conf"
	_bed_start_engine
	if [ "$BED_ENGINE" = docker ]; then
		ip link add name "$BED_BRIDGE" type bridge &&
			ip addr add "${BED_SUBNET%.0/*}.1/${BED_SUBNET#*/}" dev "$BED_BRIDGE" &&
			ip link set "$BED_BRIDGE" up || return 1
	fi
	export DOCKER_HOST="unix://$(_bed_engine_socket)"

	_bed_wait_daemon etcd "$BED_ETCD_PID" 30 _bed_etcd_healthy || return 1
	_bed_wait_daemon "podman service" "$BED_PODMAN_PID" 30 _bed_engine_ping || return 1

	_bed_build_image || {
		bed_log "bed_up: building $KLANGK_TEST_IMAGE failed"
		return 1
	}
	wait_for "the engine to list $KLANGK_TEST_IMAGE" 10 _bed_engine_has_image || return 1
	bed_log "up: $BED etcd=:$ETCD_PORT engine=$DOCKER_HOST nginx=:$KLANGK_NGINX_PORT ports=$KLANGK_PORT_RANGE_START+$BED_PORT_RANGE_SIZE instance=$KLANGK_INSTANCE_ID"
}

# _bed_make_pki: a CA, a server certificate for 127.0.0.1/localhost and a
# client certificate signed by it, in $BED/pki (for BED_ETCD_TLS=1).
_bed_make_pki() {
	local d="$BED/pki" n
	mkdir -p "$d" && chmod 700 "$d" || return 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj "/CN=klangk bed CA" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
		>>"$d/openssl.log" 2>&1 || return 1
	# No CommonName: etcd 3.4's gateway calls etcd with the server's
	# certificate, and refuses every request (authenticate included) when
	# that certificate has a CN once auth is on (CVE-2018-16886's fix).
	for n in server client; do
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout "$d/$n.key" -out "$d/$n.csr" -subj "/O=klangk bed $n" \
			>>"$d/openssl.log" 2>&1 || return 1
		printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
			"extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" \
			>"$d/$n.ext"
		openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
			-days 2 -extfile "$d/$n.ext" -out "$d/$n.pem" >>"$d/openssl.log" 2>&1 || return 1
	done
}

# _bed_start_etcd: starts the bed's etcd on $BED/etcd in the background
# (BED_ETCD_PID): http or, with BED_ETCD_TLS=1, https with client
# certificates; plus BED_ETCD_ARGS.
_bed_start_etcd() {
	local url="${BED_ETCD_SCHEME:-http}://127.0.0.1:$ETCD_PORT" tls=()
	[ "${BED_ETCD_SCHEME:-http}" = http ] || tls=(--cert-file "$BED/pki/server.pem"
		--key-file "$BED/pki/server.key" --trusted-ca-file "$BED/pki/ca.pem"
		--client-cert-auth)
	# etcd reads ETCD_* variables as flags: hide ETCD_PORT from it.
	# shellcheck disable=SC2086 # BED_ETCD_ARGS is a list of flags
	env -u ETCD_PORT etcd --name bed --data-dir "$BED/etcd" \
		--listen-client-urls "$url" --advertise-client-urls "$url" \
		--listen-peer-urls "http://127.0.0.1:$PEER_PORT" \
		--initial-advertise-peer-urls "http://127.0.0.1:$PEER_PORT" \
		--initial-cluster "bed=http://127.0.0.1:$PEER_PORT" \
		--heartbeat-interval 50 --election-timeout 500 "${tls[@]}" ${BED_ETCD_ARGS:-} \
		</dev/null >>"$BED/etcd.log" 2>&1 &
	BED_ETCD_PID=$!
	echo "$BED_ETCD_PID" >"$BED/etcd.pid"
}

# _bed_etcd_healthy: true when etcd's /health says healthy.
_bed_etcd_healthy() {
	local out tls=()
	[ "${BED_ETCD_SCHEME:-http}" = http ] || tls=(--cacert "$BED/pki/ca.pem"
		--cert "$BED/pki/client.pem" --key "$BED/pki/client.key")
	out="$(curl -s --max-time 2 "${tls[@]}" "${BED_ETCD_SCHEME:-http}://127.0.0.1:$ETCD_PORT/health")" || return 1
	[[ "$out" =~ \"health\"\ *:\ *\"true\" ]]
}

# _bed_engine_ping: true when the engine answers GET /_ping with OK.
_bed_engine_ping() {
	[ "$(curl -s --max-time 2 --unix-socket "$(_bed_engine_socket)" http://d/_ping)" = OK ]
}

# _bed_engine_has_image: true when the engine lists $KLANGK_TEST_IMAGE.
_bed_engine_has_image() {
	local out
	out="$(engine_get /v1.41/images/json)" || return 1
	[[ "$out" == *"\"$KLANGK_TEST_IMAGE\""* ]]
}

# bed_engine_cli CMD [ARGS...]: runs CMD (e.g. scripts/images.sh, which
# drive the engine's CLI) against the bed's engine: KLANGK_ENGINE and
# Podman's private directories set (DOCKER_HOST, CONTAINERS_CONF and
# CONTAINERS_STORAGE_CONF are exported by bed_up).
bed_engine_cli() {
	if [ "$BED_ENGINE" = docker ]; then
		env KLANGK_ENGINE=docker "$@"
	else
		env KLANGK_ENGINE=podman TMPDIR="$BED/tmp" XDG_RUNTIME_DIR="$BED/xdg" "$@"
	fi
}


# engine_req METHOD PATH [JSON_BODY]: an HTTP request to the bed's engine
# socket; prints the response body; fails on an HTTP error (>= 400), still
# printing the body.
engine_req() {
	local method="$1" path="$2"
	if [ $# -ge 3 ]; then
		curl -sS --fail-with-body --max-time 60 --unix-socket "$(_bed_engine_socket)" \
			-X "$method" -H 'Content-Type: application/json' --data-binary "$3" \
			"http://d$path"
	else
		curl -sS --fail-with-body --max-time 60 --unix-socket "$(_bed_engine_socket)" \
			-X "$method" "http://d$path"
	fi
}

# engine_get PATH: GET on the bed's engine socket, e.g.
# `engine_get '/v1.41/containers/json?all=1'`; prints the body.
engine_get() {
	engine_req GET "$1"
}

# engine_post PATH [JSON_BODY]: POST on the bed's engine socket.
engine_post() {
	engine_req POST "$@"
}

# etcdget KEY: prints KEY's value from the bed's etcd (empty when absent).
etcdget() {
	etcdctl get --print-value-only "$1"
}

# etcdput KEY VALUE: writes KEY in the bed's etcd.
etcdput() {
	etcdctl put "$1" "$2" >/dev/null
}

# _bed_session: prints the command prefix that starts a daemon in a
# session of its own when BED_OWN_SESSION=1 (setsid does not fork here: a
# background job of a script does not lead its process group, so $! stays
# the daemon's pid).
_bed_session() {
	[ "${BED_OWN_SESSION:-0}" != 1 ] || echo setsid
}

# bed_start_controller [ARGS...]: starts $BIN/klangk-controller ARGS in the
# background with the bed's environment; log $BED/controller.log, pid in
# BED_CONTROLLER_PID (and $BED/controller.pid).
bed_start_controller() {
	if _bed_alive "${BED_CONTROLLER_PID:-}"; then
		bed_log "controller already running (pid $BED_CONTROLLER_PID)"
		return 1
	fi
	# shellcheck disable=SC2046 # the prefix is one word or none
	$(_bed_session) "$BIN/klangk-controller" "$@" </dev/null >>"$BED/controller.log" 2>&1 &
	BED_CONTROLLER_PID=$!
	echo "$BED_CONTROLLER_PID" >"$BED/controller.pid"
}

# bed_stop_controller [TIMEOUT_S]: SIGTERM to the controller, SIGKILL after
# TIMEOUT_S (10). Its exit status is left in BED_LAST_RC.
# shellcheck disable=SC2120 # the argument is optional
bed_stop_controller() {
	local pid="${BED_CONTROLLER_PID:-}"
	if [ -z "$pid" ] && [ -n "${BED:-}" ] && [ -f "$BED/controller.pid" ]; then
		pid="$(cat "$BED/controller.pid")"
	fi
	_bed_stop_pid "$pid" klangk-controller "${1:-10}" TERM klangk-controller
	BED_CONTROLLER_PID=""
	[ -z "${BED:-}" ] || rm -f "$BED/controller.pid"
}

# bed_start_proxygen [ARGS...]: starts $BIN/klangk-proxy-gen --dir $BED/nginx
# --port $KLANGK_NGINX_PORT ARGS in the background; log $BED/proxy-gen.log,
# pid in BED_PROXYGEN_PID (and $BED/proxy-gen.pid).
bed_start_proxygen() {
	if _bed_alive "${BED_PROXYGEN_PID:-}"; then
		bed_log "proxy-gen already running (pid $BED_PROXYGEN_PID)"
		return 1
	fi
	# shellcheck disable=SC2046 # the prefix is one word or none
	$(_bed_session) "$BIN/klangk-proxy-gen" --dir "$NGINX_DIR" --port "$KLANGK_NGINX_PORT" "$@" \
		</dev/null >>"$BED/proxy-gen.log" 2>&1 &
	BED_PROXYGEN_PID=$!
	echo "$BED_PROXYGEN_PID" >"$BED/proxy-gen.pid"
}

# bed_stop_proxygen [TIMEOUT_S]: SIGTERM to proxy-gen, SIGKILL after
# TIMEOUT_S (10). Its exit status is left in BED_LAST_RC. nginx is not
# stopped here (bed_stop_nginx does that).
# shellcheck disable=SC2120 # the argument is optional
bed_stop_proxygen() {
	local pid="${BED_PROXYGEN_PID:-}"
	if [ -z "$pid" ] && [ -n "${BED:-}" ] && [ -f "$BED/proxy-gen.pid" ]; then
		pid="$(cat "$BED/proxy-gen.pid")"
	fi
	_bed_stop_pid "$pid" klangk-proxy-gen "${1:-10}" TERM klangk-proxy-gen
	BED_PROXYGEN_PID=""
	[ -z "${BED:-}" ] || rm -f "$BED/proxy-gen.pid"
}

# bed_browser: what the browser tests need: Debian's chromium, and the
# npm packages of tests/browser (playwright-core: `npm ci` when missing).
# Sets BROWSER_DIR.  Returns 1, saying why, when either is missing.
bed_browser() {
	BROWSER_DIR="$BED_SRC_DIR/browser"
	if [ ! -x /usr/bin/chromium ]; then
		bed_log "no /usr/bin/chromium (run: bash scripts/deps.sh)"
		return 1
	fi
	if [ ! -d "$BROWSER_DIR/node_modules/playwright-core" ] &&
		! npm ci --prefix "$BROWSER_DIR" --no-audit --no-fund --loglevel=error >&2; then
		bed_log "npm ci in tests/browser (playwright-core) failed"
		return 1
	fi
}

# bed_etcd_users USER...: etcd users root and klangk-controller (both with
# the root role) and USER..., each with a random password in
# $BED/secrets/<user>; then etcd's authentication on, and ETCDCTL_USER
# (root) exported for etcdctl.
bed_etcd_users() {
	local u
	mkdir -p -m 700 "$BED/secrets" || return 1
	for u in root klangk-controller "$@"; do
		head -c 18 /dev/urandom | base64 >"$BED/secrets/$u"
		etcdctl user add "$u" --new-user-password "$(cat "$BED/secrets/$u")" >/dev/null ||
			return 1
	done
	etcdctl user grant-role root root >/dev/null &&
		etcdctl user grant-role klangk-controller root >/dev/null &&
		etcdctl auth enable >/dev/null || return 1
	export ETCDCTL_USER="root:$(cat "$BED/secrets/root")"
}

# bed_as_tenant USER CMD...: CMD as etcd user USER (bed_etcd_users), with no
# engine socket: what a tenant has.
bed_as_tenant() {
	local u="$1"
	shift
	KLANGK_ETCD_USERNAME="$u" KLANGK_ETCD_PASSWORD_FILE="$BED/secrets/$u" \
		DOCKER_HOST=unix:///nonexistent "$@"
}

# bed_wait_tenant_role USER: waits (30 s) until the controller has granted
# USER's role its workspaces (it does at its start); etcd refuses USER's
# klangkc before that.
bed_wait_tenant_role() {
	_bed_role_has() { etcdctl role get "klangk:user:$1" 2>/dev/null | grep -q -- "/klangk/workspaces/$1/"; }
	wait_for "$1's etcd role" 30 _bed_role_has "$1"
}

# bed_start_gateway: starts $BIN/klangk-gateway on a free loopback port
# (KLANGK_GATEWAY_LISTEN, default 127.0.0.1:0) with the bed's environment
# and waits until it serves; log $BED/gateway.log, pid in BED_GATEWAY_PID
# (and $BED/gateway.pid); exports KLANGK_GATEWAY_URL for klangkc.
bed_start_gateway() {
	if _bed_alive "${BED_GATEWAY_PID:-}"; then
		bed_log "gateway already running (pid $BED_GATEWAY_PID)"
		return 1
	fi
	: >"$BED/gateway.log"
	# shellcheck disable=SC2046 # the prefix is one word or none
	KLANGK_GATEWAY_LISTEN="${KLANGK_GATEWAY_LISTEN:-127.0.0.1:0}" \
		$(_bed_session) "$BIN/klangk-gateway" </dev/null >>"$BED/gateway.log" 2>&1 &
	BED_GATEWAY_PID=$!
	echo "$BED_GATEWAY_PID" >"$BED/gateway.pid"
	_bed_gateway_port() { sed -n 's/.*msg=serving .*port=\([0-9]*\).*/\1/p' "$BED/gateway.log" | tail -1; }
	_bed_gateway_up() { [ -n "$(_bed_gateway_port)" ]; }
	_bed_wait_daemon gateway "$BED_GATEWAY_PID" 30 _bed_gateway_up ||
		{ tail -5 "$BED/gateway.log" >&2; return 1; }
	export KLANGK_GATEWAY_URL="http://127.0.0.1:$(_bed_gateway_port)"
}

# bed_stop_gateway [TIMEOUT_S]: SIGTERM to the gateway, SIGKILL after
# TIMEOUT_S (10).  Its exit status is left in BED_LAST_RC.
# shellcheck disable=SC2120 # the argument is optional
bed_stop_gateway() {
	local pid="${BED_GATEWAY_PID:-}"
	if [ -z "$pid" ] && [ -n "${BED:-}" ] && [ -f "$BED/gateway.pid" ]; then
		pid="$(cat "$BED/gateway.pid")"
	fi
	_bed_stop_pid "$pid" klangk-gateway "${1:-10}" TERM klangk-gateway
	BED_GATEWAY_PID=""
	[ -z "${BED:-}" ] || rm -f "$BED/gateway.pid"
}

# bed_stop_nginx [TIMEOUT_S]: stops the nginx whose pid is in
# $BED/nginx/nginx.pid: SIGQUIT (graceful), SIGKILL to it and its workers
# after TIMEOUT_S (10).
# shellcheck disable=SC2120 # the argument is optional
bed_stop_nginx() {
	local pidfile="${BED:-}/nginx/nginx.pid" pid workers
	[ -n "${BED:-}" ] && [ -s "$pidfile" ] || return 0
	pid="$(cat "$pidfile")"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 0
	# Only a process that is nginx (a stale pid may have been reused).
	grep -q nginx "/proc/$pid/cmdline" 2>/dev/null || return 0
	workers="$(pgrep -P "$pid" || true)"
	_bed_stop_pid "$pid" nginx "${1:-10}" QUIT nginx
	local w
	for w in $workers; do
		_bed_alive "$w" && kill -KILL "$w" 2>/dev/null
	done
	return 0
}

# _bed_pids_of_bed: prints the pids of processes whose command line mentions
# $BED/ (conmon, container cleanup, nginx, anything left of the bed).
_bed_pids_of_bed() {
	local d pid cmd
	for d in /proc/[0-9]*; do
		pid="${d#/proc/}"
		if [ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ]; then
			continue
		fi
		cmd="$({ tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null)" || continue
		[[ "$cmd" == *"$BED/"* ]] && echo "$pid"
	done
	return 0
}

# _bed_no_pids_of_bed: true when no process mentions $BED/.
_bed_no_pids_of_bed() {
	[ -z "$(_bed_pids_of_bed)" ]
}

# _bed_mounts_of_bed: prints the mount points under $BED, deepest first.
_bed_mounts_of_bed() {
	awk -v bed="$BED" '$2 == bed || index($2, bed "/") == 1 { print $2 }' /proc/mounts | sort -r
}

# _bed_print_logs: prints the last 50 lines of each of the bed's logs.
_bed_print_logs() {
	local f
	for f in "$BED"/*.log "$BED"/nginx/*.log "$BED"/nginx/logs/*.log; do
		[ -f "$f" ] || continue
		echo "----- bed: last 50 lines of ${f#"$BED"/} -----" >&2
		tail -n 50 "$f" >&2
	done
	echo "----- bed: end of logs -----" >&2
}

# bed_free_subnet: prints a /24 of 10.200-254.x.x that no route or address
# of the host uses.
bed_free_subnet() {
	local used cand i
	used="$(ip -4 route show table all; ip -4 -o addr)"
	for i in $(seq 200); do
		cand="10.$((200 + RANDOM % 55)).$((RANDOM % 256))"
		if ! grep -qF " $cand." <<<" $used" && ! grep -qF "$cand.0/" <<<"$used" &&
			! grep -qF "inet $cand." <<<"$used"; then
			echo "$cand.0/24"
			return 0
		fi
	done
	return 1
}

# bed_forget_bridge BRIDGE: deletes a Linux bridge of the bed and the rules
# Podman's CNI firewall plugin (isolate) left for it: neither goes with its
# network on Podman 4.3.
bed_forget_bridge() {
	local b="$1" c="CNI firewall plugin rules (ingressPolicy: same-bridge)"
	ip link delete "$b" 2>/dev/null || true
	while iptables -w -D CNI-ISOLATION-STAGE-1 -i "$b" ! -o "$b" -m comment \
		--comment "$c" -j CNI-ISOLATION-STAGE-2 2>/dev/null; do :; done
	while iptables -w -D CNI-ISOLATION-STAGE-2 -o "$b" -m comment --comment "$c" \
		-j DROP 2>/dev/null; do :; done
}

# _bed_remove_tenant_networks: the controller's tenant networks
# (controller/tnet.h), their bridges ("kt" and 12 hex digits of
# SHA-256("<instance>/<namespace>")) and its egress table (controller/egress.h).
_bed_remove_tenant_networks() {
	local net ns
	[ -n "${KLANGK_INSTANCE_ID:-}" ] || return 0
	while read -r net ns; do
		[ -n "$net" ] || continue
		engine_req DELETE "/v1.41/networks/$net" >/dev/null 2>&1 ||
			[ "$BED_ENGINE" = docker ] || bed_podman network rm -f "$net" >/dev/null 2>&1
		bed_forget_bridge "kt$(printf '%s/%s' "$KLANGK_INSTANCE_ID" "$ns" | sha256sum | cut -c1-12)"
	done < <(engine_get "/v1.41/networks?filters=$(jq -rn --arg l "klangk.instance=$KLANGK_INSTANCE_ID" \
		'{label: [$l]} | tojson | @uri')" 2>/dev/null |
		jq -r '.[] | "\(.Name) \(.Labels["klangk.user-id"] // "")"' 2>/dev/null)
	nft delete table inet "klangk-$KLANGK_INSTANCE_ID" 2>/dev/null
	return 0
}

# bed_down: tears the bed down: controller, proxy-gen, nginx, the bed's
# containers, pods and volumes, the Podman service, etcd, leftover processes,
# the bridge, mounts, then removes $BED (kept with BED_KEEP=1). When the exit
# status it is called with (from an EXIT trap) is non-zero, or BED_FAILED=1,
# it first prints the logs' tails. Idempotent; preserves the status.
# INT/TERM/HUP are ignored meanwhile (a second Ctrl-C must not cut the
# teardown short); the traps are restored after.
bed_down() {
	local rc=$? errexit=0 m p traps
	case "$-" in *e*) errexit=1 ;; esac
	set +e
	traps="$(trap -p INT TERM HUP)"
	trap '' INT TERM HUP
	if [ -n "${BED:-}" ] && [ -d "$BED" ] && [ ! -e "$BED/down" ]; then
		[ -f "$BED/teardown" ] && bed_log "down: again for $BED"
		touch "$BED/teardown"
		if [ -z "${BED_BRIDGE:-}" ] && [ -f "$BED/bed.env" ]; then
			BED_BRIDGE="$(sed -n 's/^BED_BRIDGE=//p' "$BED/bed.env")"
		fi
		bed_stop_gateway
		bed_stop_controller
		bed_stop_proxygen
		bed_stop_nginx
		if [ "$BED_ENGINE" = docker ] && [ -S "$BED/docker.sock" ]; then
			{
				bed_docker ps -aq | xargs -r docker -H "unix://$BED/docker.sock" rm -f -v
				bed_docker volume ls -q | xargs -r docker -H "unix://$BED/docker.sock" volume rm -f
			} >>"$BED/teardown.log" 2>&1
		elif [ -f "$BED/containers.conf" ] && [ -d "$BED/storage" ]; then
			# The local CLI on the private storage works even when the
			# service is gone. rm -t 0 kills at once.
			{
				bed_podman rm -af -t 0
				bed_podman pod rm -af -t 0
				bed_podman volume rm -af
			} >>"$BED/teardown.log" 2>&1
		fi
		_bed_remove_tenant_networks >>"$BED/teardown.log" 2>&1
		[ -n "${BED_PODMAN_PID:-}" ] || BED_PODMAN_PID="$(cat "$BED/podman.pid" 2>/dev/null)"
		_bed_stop_pid "${BED_PODMAN_PID:-}" "engine service" 20 TERM "$(_bed_engine_socket)"
		[ -n "${BED_ETCD_PID:-}" ] || BED_ETCD_PID="$(cat "$BED/etcd.pid" 2>/dev/null)"
		_bed_stop_pid "${BED_ETCD_PID:-}" etcd 10 TERM "$BED/etcd"
		# Anything else of the bed (conmon, `podman container cleanup`):
		# a short grace period, then SIGKILL.
		if ! wait_for "the bed's processes to end" 5 _bed_no_pids_of_bed 2>/dev/null; then
			for p in $(_bed_pids_of_bed); do
				bed_log "down: killing leftover $({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | cut -c1-160)"
				kill -KILL "$p" 2>/dev/null
			done
			wait_for "the bed's processes to die" 10 _bed_no_pids_of_bed
		fi
		if [ -n "${BED_BRIDGE:-}" ] && ip link show "$BED_BRIDGE" >/dev/null 2>&1; then
			ip link delete "$BED_BRIDGE" 2>/dev/null
		fi
		for m in $(_bed_mounts_of_bed); do
			umount -l "$m" 2>/dev/null || umount -f "$m" 2>/dev/null
		done
		if [ "$rc" != 0 ] || [ "${BED_FAILED:-0}" = 1 ] || [ "${BED_SHOW_LOGS:-0}" = 1 ]; then
			[ "$rc" = 0 ] || bed_log "down: exit status $rc"
			_bed_print_logs
		fi
		if [ "${BED_KEEP:-0}" = 1 ]; then
			touch "$BED/down"
			bed_log "down: kept $BED"
		else
			rm -rf "$BED" || rm -rf "$BED"
			[ ! -e "$BED" ] || bed_log "down: could not remove $BED"
		fi
	fi
	BED_CONTROLLER_PID="" BED_PROXYGEN_PID="" BED_PODMAN_PID="" BED_ETCD_PID=""
	trap - INT TERM HUP
	eval "$traps"
	[ "$errexit" = 0 ] || set -e
	return "$rc"
}
