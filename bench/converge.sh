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
# BENCH_MODES="host none" measures klangk in each publish mode
# (KLANGK_PUBLISH; default host only) and BENCH_ROUNDS=R repeats compose,
# the raw loop and each mode R times alternated (A B C A B C ...), printing
# medians and ranges; the one-workspace rows also time apply -> its hosted
# URL answering, against a raw create + start that publishes the ports or
# not as the mode does.
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
raw_one() { # i port [publish: host|none]
	local i="$1" p="$2" pub="${3:-host}" body
	curl -sf --unix-socket "$SOCK" -XPOST -H 'Content-Type: application/json' \
		http://d/v1.41/volumes/create -d "{\"Name\":\"rawhome$i\"}" >/dev/null
	curl -sf --unix-socket "$SOCK" -XPOST -H 'Content-Type: application/json' \
		http://d/v1.41/volumes/create -d "{\"Name\":\"rawwork$i\"}" >/dev/null
	body="{\"Image\":\"$KLANGK_TEST_IMAGE\",\"Env\":[\"KLANGK_WORKSPACE_ID=raw$i\"],\"ExposedPorts\":{\"8000/tcp\":{},\"8001/tcp\":{},\"8002/tcp\":{},\"8003/tcp\":{},\"8004/tcp\":{}},\"HostConfig\":{\"Init\":true,\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"rawhome$i\",\"Target\":\"/home/u\"},{\"Type\":\"volume\",\"Source\":\"rawwork$i\",\"Target\":\"/home/u/work\"}],\"PortBindings\":{"
	for k in 0 1 2 3 4; do
		[ "$pub" = host ] || break
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
# ---- klangk, in each publish mode (BENCH_MODES, KLANGK_PUBLISH) ----
MODES="${BENCH_MODES:-host}"
bed_start_proxygen --debounce-ms 100 ${BENCH_PGEN_ARGS:-}
for i in $(seq 1 "$N"); do
	printf -- '---\napiVersion: klangk.io/v1alpha1\nkind: Workspace\nmetadata: {name: w%02d, namespace: bench}\nspec: {image: %s}\n' "$i" "$KLANGK_TEST_IMAGE"
done >"$BED/all.yaml"
controller_in() { # mode
	bed_stop_controller >/dev/null 2>&1 || true
	: >"$BED/controller.log"
	KLANGK_PUBLISH="$1" bed_start_controller --workers "${BENCH_WORKERS:-4}"
	wait_for "controller ready" 20 grep -q "elected leader" "$BED/controller.log" >/dev/null
}
# klangk_run MODE: one converge of N in MODE; appends to $BED/<mode>.ready
# and .routed.
klangk_run() {
	local t
	controller_in "$1"
	# klangkc wait watches etcd, so Ready is seen when the controller
	# writes it, not at the next tick of a polling loop.
	t=$(now)
	"$BIN/klangkc" apply -f "$BED/all.yaml" >/dev/null
	"$BIN/klangkc" wait -n bench --for=condition=Ready --timeout=300s \
		$(seq -f 'w%02g' 1 "$N") >/dev/null
	since "$t" >>"$BED/$1.ready"
	# A Ready workspace's status already carries its URLs.
	"$BIN/klangkc" get -n bench -o json | jq -r '.items[].status.urls[0] // empty' >"$BED/urls"
	[ "$(wc -l <"$BED/urls")" = "$N" ] || { echo "bench: Ready without URLs" >&2; exit 1; }
	wait_for "all routed" 60 answering "$BED/urls" >/dev/null
	since "$t" >>"$BED/$1.routed"
	"$BIN/klangkc" delete -n bench $(seq -f 'w%02g' 1 "$N") >/dev/null
	wait_for "all gone" 120 sh -c '[ -z "$(etcdctl get --prefix --keys-only /klangk/status/)" ]' >/dev/null
}
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
spread() { sort -n | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%s-%s", lo, hi}'; }
# Rounds of compose, raw loop, then each mode, alternated (A B C A B C),
# so that a moment of load on this shared machine hits all alike.
for _ in $(seq 1 "${BENCH_ROUNDS:-1}"); do
	if [ "${BENCH_PEERS:-1}" = 1 ]; then
		compose_peer
		echo "$compose_s" >>"$BED/compose.up"
		echo "$compose_up_s" >>"$BED/compose.answering"
		raw_peer
		echo "$raw_s" >>"$BED/raw.up"
		echo "$raw_up_s" >>"$BED/raw.answering"
	fi
	for m in $MODES; do klangk_run "$m"; done
done

# One workspace (apply -> Ready, and -> its first hosted URL answering)
# against one raw create + start made the same way (ports published or
# not), alternated ROUNDS times in each mode (medians).
printf -- '---\napiVersion: klangk.io/v1alpha1\nkind: Workspace\nmetadata: {name: one, namespace: bench}\nspec: {image: %s}\n' "$KLANGK_TEST_IMAGE" >"$BED/one.yaml"
for m in $MODES; do
	controller_in "$m"
	: >"$BED/one.$m" && : >"$BED/oneurl.$m" && : >"$BED/raw1.$m"
	for _ in $(seq 1 "${ROUNDS:-5}"); do
		t=$(now)
		raw_one 1 $((KLANGK_PORT_RANGE_START + 150)) "$m"
		since "$t" >>"$BED/raw1.$m"
		raw_clean 1
		t=$(now)
		"$BIN/klangkc" apply -f "$BED/one.yaml" >/dev/null
		"$BIN/klangkc" wait -n bench --for=condition=Ready --timeout=60s one >/dev/null
		since "$t" >>"$BED/one.$m"
		"$BIN/klangkc" get one -n bench -o json | jq -r '.status.urls[0]' >"$BED/url1"
		wait_for "one routed" 30 answering "$BED/url1" >/dev/null
		since "$t" >>"$BED/oneurl.$m"
		"$BIN/klangkc" delete -n bench --wait --timeout=60s one >/dev/null
	done
done

ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }
R="${BENCH_ROUNDS:-1}"
echo "Engine: $BED_ENGINE; N = $N; $(nproc) cores; $R round(s) of each, alternated; medians (range)."
echo
if [ "${BENCH_PEERS:-1}" = 1 ]; then
	compose_s=$(median <"$BED/compose.up")
	echo "| what | seconds | range | vs compose up -d |"
	echo "| --- | --- | --- | --- |"
	echo "| docker-compose up -d | $compose_s | $(spread <"$BED/compose.up") | 1.00 |"
	echo "| docker-compose up -d, then every first port answering | $(median <"$BED/compose.answering") | $(spread <"$BED/compose.answering") | $(ratio "$(median <"$BED/compose.answering")" "$compose_s") |"
	echo "| raw engine API loop | $(median <"$BED/raw.up") | $(spread <"$BED/raw.up") | $(ratio "$(median <"$BED/raw.up")" "$compose_s") |"
	for m in $MODES; do
		echo "| klangk ($m): apply -> all Ready | $(median <"$BED/$m.ready") | $(spread <"$BED/$m.ready") | $(ratio "$(median <"$BED/$m.ready")" "$compose_s") |"
		echo "| klangk ($m): apply -> all Ready and routed | $(median <"$BED/$m.routed") | $(spread <"$BED/$m.routed") | $(ratio "$(median <"$BED/$m.routed")" "$compose_s") |"
	done
else
	echo "| what | seconds | range |"
	echo "| --- | --- | --- |"
	for m in $MODES; do
		echo "| klangk ($m): apply -> all Ready | $(median <"$BED/$m.ready") | $(spread <"$BED/$m.ready") |"
		echo "| klangk ($m): apply -> all Ready and routed | $(median <"$BED/$m.routed") | $(spread <"$BED/$m.routed") |"
	done
fi
echo
echo "| one workspace (median of ${ROUNDS:-5}) | seconds | range | minus raw create + start |"
echo "| --- | --- | --- | --- |"
for m in $MODES; do
	raw1=$(median <"$BED/raw1.$m")
	echo "| raw volumes + create + start ($m) | $raw1 | $(spread <"$BED/raw1.$m") | |"
	for k in one oneurl; do
		v=$(median <"$BED/$k.$m")
		label="apply -> Ready"
		[ "$k" = one ] || label="apply -> hosted URL answering"
		echo "| klangk ($m): $label | $v | $(spread <"$BED/$k.$m") | $(echo "($v - $raw1) * 1000" | bc -l | xargs printf '%.0f') ms |"
	done
done
