#!/usr/bin/env bash
# bench/cli.sh — klangkc against a local etcd, side by side with the same
# work done one etcdctl call per object, in the same run:
#
#   apply -f DIR of 1,000 manifests (create, then unchanged, then all changed)
#       vs 1,000 × `etcdctl put`
#   get -A of 10,000 workspaces (table and -o json)
#       vs 10,000 × `etcdctl get KEY` (and one `etcdctl get --prefix`)
#
# Usage: bash bench/cli.sh [RUNS]   (BIN=... for another build; default bin/)
# Prints a Markdown table for BENCHMARKS.md. Starts its own etcd on free
# loopback ports in a temporary directory and removes it afterwards. Not part
# of `make test`.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${BIN:-$REPO/bin}"
K="$BIN/klangkc"
RUNS="${1:-3}"
[ -x "$K" ] || { echo "build first: make" >&2; exit 1; }
for t in etcd etcdctl python3; do
	command -v "$t" >/dev/null || { echo "missing $t (bash scripts/deps.sh)" >&2; exit 1; }
done

DIR="$(mktemp -d /tmp/klangk-bench.XXXXXX)"
ETCD_PID=
cleanup() {
	[ -z "$ETCD_PID" ] || { kill "$ETCD_PID" 2>/dev/null; wait "$ETCD_PID" 2>/dev/null || true; }
	rm -rf "$DIR"
}
trap cleanup EXIT

read -r P1 P2 < <(python3 -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
etcd --name bench --data-dir "$DIR/etcd" \
	--listen-client-urls "http://127.0.0.1:$P1" --advertise-client-urls "http://127.0.0.1:$P1" \
	--listen-peer-urls "http://127.0.0.1:$P2" --initial-advertise-peer-urls "http://127.0.0.1:$P2" \
	--initial-cluster "bench=http://127.0.0.1:$P2" >"$DIR/etcd.log" 2>&1 &
ETCD_PID=$!
export KLANGK_ETCD_ENDPOINTS="http://127.0.0.1:$P1" ETCDCTL_API=3 ETCDCTL_ENDPOINTS="http://127.0.0.1:$P1"
for _ in $(seq 100); do
	curl -s "$KLANGK_ETCD_ENDPOINTS/health" | grep -q true && break
	sleep 0.1
done

now() { echo "${EPOCHREALTIME/./}"; }
# ms START END
ms() { echo "$((($2 - $1) / 1000))"; }
# median of numbers on stdin
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# gen DIR N NAMESPACES IMAGE: N manifests spread over NAMESPACES namespaces.
gen() {
	mkdir -p "$1"
	python3 - "$@" <<'PY'
import sys
d, n, spaces, image = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
for i in range(n):
    with open(f"{d}/ws-{i:05d}.yaml", "w") as f:
        f.write(f"""apiVersion: klangk.io/v1alpha1
kind: Workspace
metadata:
  name: ws-{i:05d}
  namespace: user-{i % spaces:03d}
  labels: {{team: t{i % 7}, bench: "yes"}}
spec:
  image: {image}
  command: ["pi"]
  env: [{{name: FOO, value: bar}}, {{name: N, value: "{i}"}}]
  mounts:
    - {{source: /srv/data, target: /data, readOnly: true}}
    - {{source: nix-store, target: /nix}}
  hostedPorts: 5
  idleTimeoutSeconds: 1800
  members: [{{user: bob@example.com, role: coder}}]
""")
PY
}

declare -A R
# time_klangkc LABEL CMD...: the median wall time of RUNS runs, in ms.
time_runs() {
	local label="$1" t0 t1 i
	shift
	for i in $(seq "$RUNS"); do
		[ -z "${SETUP:-}" ] || eval "$SETUP"
		t0="$(now)"
		"$@" >/dev/null
		t1="$(now)"
		ms "$t0" "$t1"
	done | median >"$DIR/m"
	R[$label]="$(cat "$DIR/m")"
}

echo "generating manifests..." >&2
gen "$DIR/m1k" 1000 10 klangk-workspace
gen "$DIR/m1k-changed" 1000 10 klangk-workspace:2
gen "$DIR/m10k" 10000 100 klangk-workspace

# apply of 1,000: each run starts from an empty store.
echo "apply x1000..." >&2
SETUP='etcdctl del --prefix /klangk/ >/dev/null' time_runs apply_create "$K" apply -f "$DIR/m1k"
SETUP='' time_runs apply_unchanged "$K" apply -f "$DIR/m1k"
SETUP='' time_runs apply_changed_a "$K" apply -f "$DIR/m1k-changed"
R[apply_changed]="${R[apply_changed_a]}"

# The peer: one etcdctl put per object, of the JSON klangkc stores.
echo "etcdctl put x1000..." >&2
"$K" get -A -o json | python3 -c '
import json, sys
for o in json.load(sys.stdin)["items"]:
    m = o["metadata"]
    print(m["namespace"], m["name"], json.dumps(o["spec"], separators=(",", ":")))' >"$DIR/objs"
etcdctl del --prefix /klangk/ >/dev/null
t0="$(now)"
while read -r ns name spec; do
	etcdctl put "/klangk/workspaces/$ns/$name" "$spec" >/dev/null
done <"$DIR/objs"
t1="$(now)"
R[etcdctl_put]="$(ms "$t0" "$t1")"

# get -A of 10,000.
echo "loading 10,000..." >&2
etcdctl del --prefix /klangk/ >/dev/null
t0="$(now)"
"$K" apply -f "$DIR/m10k" >/dev/null
t1="$(now)"
R[apply_10k]="$(ms "$t0" "$t1")"
echo "get -A x10000..." >&2
SETUP='' time_runs get_table "$K" get -A
SETUP='' time_runs get_json "$K" get -A -o json
SETUP='' time_runs etcdctl_prefix etcdctl get --prefix /klangk/workspaces/
etcdctl get --prefix --keys-only /klangk/workspaces/ | sed '/^$/d' >"$DIR/keys"
echo "etcdctl get x10000 (slow)..." >&2
t0="$(now)"
while read -r key; do
	etcdctl get "$key" >/dev/null
done <"$DIR/keys"
t1="$(now)"
R[etcdctl_get]="$(ms "$t0" "$t1")"

cat <<EOF2
Run on $(date -u +%Y-%m-%d), $(nproc) cores, etcd $(etcd --version | sed -n 's/^etcd Version: //p'), median of $RUNS runs for klangkc:

| operation | klangkc | peer | peer |
| --- | ---: | ---: | --- |
| apply 1,000 manifests, all new | ${R[apply_create]} ms | ${R[etcdctl_put]} ms | 1,000 × \`etcdctl put\` |
| apply 1,000 manifests, unchanged | ${R[apply_unchanged]} ms | | |
| apply 1,000 manifests, all changed | ${R[apply_changed]} ms | | |
| apply 10,000 manifests, all new (one run) | ${R[apply_10k]} ms | | |
| get -A, 10,000 workspaces (table) | ${R[get_table]} ms | ${R[etcdctl_get]} ms | 10,000 × \`etcdctl get KEY\` |
| get -A -o json, 10,000 workspaces | ${R[get_json]} ms | ${R[etcdctl_prefix]} ms | 1 × \`etcdctl get --prefix\` |
EOF2
