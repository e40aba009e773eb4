#!/usr/bin/env bash
# bench/converge.sh [N] — how long N workspaces (default 20) take to come up,
# side by side on the same engine in one run:
#   klangk      klangkc apply of N manifests -> every workspace Ready (status
#               Running) and every first hosted URL answering through nginx;
#   compose     docker-compose up -d of N equivalent services (same image,
#               5 published ports, home and work volumes, env, labels);
#   raw loop    the same engine API calls made one after another with curl
#               (2 volume creates, container create, start per workspace);
# and one workspace: apply -> Ready against the engine's own create + start.
# The peers are also timed until every first port answers, as ours are.
# KLANGK_E2E_ENGINE=docker runs it on dockerd instead of Podman;
# BENCH_WORKERS sets the controller's --workers (4); BENCH_PGEN_ARGS adds
# klangk-proxy-gen flags (e.g. --min-reload-interval-ms 250); BENCH_PEERS=0
# skips compose and the raw loop (to compare two builds of ours: BIN=DIR
# runs the binaries in DIR).
# Prints a Markdown table (BENCHMARKS.md has the figures).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
export BIN="${BIN:-$REPO/bin}"
source "$REPO/tests/bed.sh"
trap bed_down EXIT
command -v docker-compose >/dev/null || {
	echo "bench: needs docker-compose (apt-get install docker-compose)" >&2
	exit 1
}
N="${1:-20}"
bed_up >/dev/null 2>&1
SOCK="${DOCKER_HOST#unix://}"
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc -l | xargs printf '%.2f\n'; }

# ---- peer: docker-compose ----
{
	echo "version: '3'"
	echo "services:"
	p=$KLANGK_PORT_RANGE_START
	for i in $(seq 1 "$N"); do
		echo "  w$i:"
		echo "    image: $KLANGK_TEST_IMAGE"
		echo "    init: true"
		echo "    environment: {KLANGK_WORKSPACE_ID: bench$i, KLANGK_PORT_MAPPINGS: '8000:$p'}"
		echo "    labels: {klangk.bench: 'true'}"
		echo "    ports:"
		for k in 0 1 2 3 4; do echo "      - '127.0.0.1:$((p + k)):$((8000 + k))'"; done
		echo "    volumes: ['home$i:/home/u', 'work$i:/home/u/work']"
		p=$((p + 5))
	done
	echo "volumes:"
	for i in $(seq 1 "$N"); do echo "  home$i: {}"; echo "  work$i: {}"; done
} >"$BED/compose.yml"
# answering FILE: every URL in FILE has answered with a 2xx.  The peers'
# figures stop when their last request returns (compose up -d, the last
# start); the "answering" rows also wait for every first port to serve, as
# ours do.  A URL that answered is dropped from FILE, so each round asks
# only the ones still silent (asking all 20 again each time added up to
# half a second of curl starts to every "answering" figure).
answering() {
	local u left=()
	while read -r u; do
		curl -sf --max-time 2 "$u" >/dev/null || left+=("$u")
	done <"$1"
	{ [ "${#left[@]}" = 0 ] || printf '%s\n' "${left[@]}"; } >"$1.left"
	mv "$1.left" "$1"
	[ "${#left[@]}" = 0 ]
}
peer_urls() {
	local i
	for i in $(seq 1 "$N"); do
		echo "http://127.0.0.1:$((KLANGK_PORT_RANGE_START + 5 * (i - 1)))/"
	done >"$BED/peer-urls"
}
compose_peer() {
	peer_urls
	t=$(now)
	DOCKER_HOST="unix://$SOCK" docker-compose -p kbench -f "$BED/compose.yml" up -d >/dev/null 2>&1
	compose_s=$(since "$t")
	wait_for "compose's services answering" 60 answering "$BED/peer-urls" >/dev/null
	compose_up_s=$(since "$t")
	DOCKER_HOST="unix://$SOCK" docker-compose -p kbench -f "$BED/compose.yml" down -v >/dev/null 2>&1
}

# ---- peer: the raw engine API loop ----
raw_one() { # i port
	local i="$1" p="$2" body
	curl -sf --unix-socket "$SOCK" -XPOST -H 'Content-Type: application/json' \
		http://d/v1.41/volumes/create -d "{\"Name\":\"rawhome$i\"}" >/dev/null
	curl -sf --unix-socket "$SOCK" -XPOST -H 'Content-Type: application/json' \
		http://d/v1.41/volumes/create -d "{\"Name\":\"rawwork$i\"}" >/dev/null
	body="{\"Image\":\"$KLANGK_TEST_IMAGE\",\"Env\":[\"KLANGK_WORKSPACE_ID=raw$i\"],\"ExposedPorts\":{\"8000/tcp\":{},\"8001/tcp\":{},\"8002/tcp\":{},\"8003/tcp\":{},\"8004/tcp\":{}},\"HostConfig\":{\"Init\":true,\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"rawhome$i\",\"Target\":\"/home/u\"},{\"Type\":\"volume\",\"Source\":\"rawwork$i\",\"Target\":\"/home/u/work\"}],\"PortBindings\":{"
	for k in 0 1 2 3 4; do
		body+="\"$((8000 + k))/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"$((p + k))\"}]"
		[ $k = 4 ] || body+=","
	done
	body+="}}}"
	curl -sf --unix-socket "$SOCK" -XPOST -H 'Content-Type: application/json' \
		"http://d/v1.41/containers/create?name=raw$i" -d "$body" >/dev/null
	curl -sf --unix-socket "$SOCK" -XPOST "http://d/v1.41/containers/raw$i/start" >/dev/null
}
raw_clean() {
	local i
	for i in $(seq 1 "$1"); do
		curl -s --unix-socket "$SOCK" -XDELETE "http://d/v1.41/containers/raw$i?force=true" >/dev/null
		curl -s --unix-socket "$SOCK" -XDELETE "http://d/v1.41/volumes/rawhome$i" >/dev/null
		curl -s --unix-socket "$SOCK" -XDELETE "http://d/v1.41/volumes/rawwork$i" >/dev/null
	done
}
raw_peer() {
	peer_urls
	t=$(now)
	for i in $(seq 1 "$N"); do raw_one "$i" $((KLANGK_PORT_RANGE_START + 5 * (i - 1))); done
	raw_s=$(since "$t")
	wait_for "the raw containers answering" 60 answering "$BED/peer-urls" >/dev/null
	raw_up_s=$(since "$t")
	raw_clean "$N"
}
if [ "${BENCH_PEERS:-1}" = 1 ]; then
	compose_peer
	raw_peer
fi

# ---- klangk ----
bed_start_controller --workers "${BENCH_WORKERS:-4}"
# shellcheck disable=SC2086 # BENCH_PGEN_ARGS is a list of flags
bed_start_proxygen --debounce-ms 100 ${BENCH_PGEN_ARGS:-}
wait_for "controller ready" 20 grep -q "elected leader" "$BED/controller.log" >/dev/null
for i in $(seq 1 "$N"); do
	printf -- '---\napiVersion: klangk.io/v1alpha1\nkind: Workspace\nmetadata: {name: w%02d, namespace: bench}\nspec: {image: %s}\n' "$i" "$KLANGK_TEST_IMAGE"
done >"$BED/all.yaml"
# klangkc wait watches etcd, so Ready is seen when the controller writes it,
# not at the next tick of a polling loop.
t=$(now)
"$BIN/klangkc" apply -f "$BED/all.yaml" >/dev/null
"$BIN/klangkc" wait -n bench --for=condition=Ready --timeout=300s \
	$(seq -f 'w%02g' 1 "$N") >/dev/null
ours_ready_s=$(since "$t")
# A Ready workspace's status already carries its URLs.
"$BIN/klangkc" get -n bench -o json | jq -r '.items[].status.urls[0] // empty' >"$BED/urls"
[ "$(wc -l <"$BED/urls")" = "$N" ] || { echo "bench: Ready without URLs" >&2; exit 1; }
wait_for "all routed" 60 answering "$BED/urls" >/dev/null
ours_s=$(since "$t")
"$BIN/klangkc" delete -n bench $(seq -f 'w%02g' 1 "$N") >/dev/null
wait_for "all gone" 120 sh -c '[ -z "$(etcdctl get --prefix --keys-only /klangk/status/)" ]' >/dev/null

# One workspace against one raw create + start, alternated ROUNDS times
# (median of each), so that a moment of load hits both alike.
printf -- '---\napiVersion: klangk.io/v1alpha1\nkind: Workspace\nmetadata: {name: one, namespace: bench}\nspec: {image: %s}\n' "$KLANGK_TEST_IMAGE" >"$BED/one.yaml"
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
: >"$BED/one.txt"
: >"$BED/raw1.txt"
for _ in $(seq 1 "${ROUNDS:-5}"); do
	t=$(now)
	raw_one 1 $((KLANGK_PORT_RANGE_START + 150))
	since "$t" >>"$BED/raw1.txt"
	raw_clean 1
	t=$(now)
	"$BIN/klangkc" apply -f "$BED/one.yaml" >/dev/null
	"$BIN/klangkc" wait -n bench --for=condition=Ready --timeout=60s one >/dev/null
	since "$t" >>"$BED/one.txt"
	"$BIN/klangkc" delete -n bench --wait --timeout=60s one >/dev/null
done
one_s=$(median <"$BED/one.txt")
raw1_s=$(median <"$BED/raw1.txt")

ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }
if [ "${BENCH_PEERS:-1}" != 1 ]; then
	cat <<MD
Engine: $BED_ENGINE; N = $N; $(nproc) cores; peers skipped (BENCH_PEERS=0).

| what | seconds |
| --- | --- |
| klangk: apply -> all Ready | $ours_ready_s |
| klangk: apply -> all Ready and routed | $ours_s |
| one workspace: apply -> Ready (median of ${ROUNDS:-5}) | $one_s |
| one container: raw volumes + create + start (median) | $raw1_s |
MD
	exit 0
fi
cat <<MD
Engine: $BED_ENGINE; N = $N; $(nproc) cores.

| what | seconds | vs compose | vs raw loop |
| --- | --- | --- | --- |
| klangk: apply -> all Ready | $ours_ready_s | $(ratio "$ours_ready_s" "$compose_s") | $(ratio "$ours_ready_s" "$raw_s") |
| klangk: apply -> all Ready and routed | $ours_s | $(ratio "$ours_s" "$compose_s") | $(ratio "$ours_s" "$raw_s") |
| docker-compose up -d | $compose_s | 1.00 | $(ratio "$compose_s" "$raw_s") |
| raw engine API loop | $raw_s | $(ratio "$raw_s" "$compose_s") | 1.00 |
| docker-compose up -d, then every first port answering | $compose_up_s | $(ratio "$compose_up_s" "$compose_s") | $(ratio "$compose_up_s" "$raw_s") |
| raw loop, then every first port answering | $raw_up_s | $(ratio "$raw_up_s" "$compose_s") | $(ratio "$raw_up_s" "$raw_s") |
| one workspace: apply -> Ready (median of ${ROUNDS:-5}) | $one_s | | $(ratio "$one_s" "$raw1_s") |
| one container: raw volumes + create + start (median) | $raw1_s | | 1.00 |

One workspace minus one raw container: $(echo "($one_s - $raw1_s) * 1000" | bc -l | xargs printf '%.0f') ms (goal: at most 100 ms).
MD
