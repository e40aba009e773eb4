#!/usr/bin/env bash
# bench/tenantnet.sh [NETS] [WORKSPACES] [TENANTS] — what tenant networks
# cost (issue 15 item 4), on a private bed:
#   1. NETS (200) networks made one after another through the engine API
#      with the controller's body (labels, bridge name, isolate): seconds
#      per create, and per remove;
#   2. the egress table for NETS bridges: one `nft -c` + `nft -f` of the
#      script controller/egress.c renders for them (the resync re-applies
#      it, so this is the firewall's cost per resync);
#   3. WORKSPACES (40) workspaces converged (klangkc apply -> all Ready),
#      spread over TENANTS (8) namespaces, then the same number in one
#      namespace: the difference is what TENANTS - 1 extra networks cost
#      at converge.
#   With BATCH set (e.g. `BATCH=100 bash bench/tenantnet.sh 0 1000 200`),
#   step 3 is the scale run instead: WORKSPACES workspaces over TENANTS
#   namespaces applied BATCH at a time, each batch timed to all Running
#   with the ones before it still running, then all deleted and timed until
#   the controller has removed every container and tenant network.  The
#   first batches create the tenants' networks, the later ones find them:
#   the per-batch figures show what a network and a crowded engine cost.
#   HOSTED_PORTS (1) is each workspace's spec.hostedPorts; the bed leases
#   200 host ports, so a scale run past 200 workspaces needs HOSTED_PORTS=0.
# KLANGK_E2E_ENGINE=docker runs it on dockerd; BED_PODMAN_NETWORK=netavark on
# Podman with netavark instead of CNI.  Prints a Markdown table
# (BENCHMARKS.md has the figures).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
export BIN="${BIN:-$REPO/bin}"
source "$REPO/tests/bed.sh"
trap bed_down EXIT
NETS="${1:-200}" W="${2:-40}" T="${3:-8}"
HP="${HOSTED_PORTS:-1}" BATCH="${BATCH:-}"
bed_up >/dev/null 2>&1
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc -l | xargs printf '%.3f\n'; }
per() { echo "$1 / $2 * 1000" | bc -l | xargs printf '%.1f'; }
bridge() { echo "kt$(printf '%s/%s' "$KLANGK_INSTANCE_ID" "$1" | sha256sum | cut -c1-12)"; }

# Steps 1 and 2 only when NETS > 0 (a scale run may want step 3 alone).
if [ "$NETS" -gt 0 ]; then
# ---- 1. networks -----------------------------------------------------------
: >"$BED/create.txt"
t=$(now)
for i in $(seq 1 "$NETS"); do
	t1=$(now)
	jq -n --arg n "bn$i" --arg b "$(bridge "bn$i")" --arg inst "$KLANGK_INSTANCE_ID" \
		'{Name: ("klangk_" + $inst + "_" + $n), CheckDuplicate: true,
		  Labels: {"klangk.managed": "true", "klangk.instance": ("bench-" + $inst),
			   "klangk.user-id": $n},
		  Options: {"com.docker.network.bridge.name": $b, isolate: "true"}}' |
		engine_post /v1.41/networks/create "$(cat)" >/dev/null
	since "$t1" >>"$BED/create.txt"
done
create_s=$(since "$t")
# The mean of the first and of the last tenth of the creates: whether a
# network costs more when there are many.
tenth=$(((NETS + 9) / 10))
first_ms=$(head -n "$tenth" "$BED/create.txt" | awk '{s += $1} END {printf "%.0f", s / NR * 1000}')
last_ms=$(tail -n "$tenth" "$BED/create.txt" | awk '{s += $1} END {printf "%.0f", s / NR * 1000}')

# ---- 2. the egress table for as many bridges ------------------------------
{
	echo "table inet klangk-bench$KLANGK_INSTANCE_ID"
	echo "delete table inet klangk-bench$KLANGK_INSTANCE_ID"
	echo "table inet klangk-bench$KLANGK_INSTANCE_ID {"
	printf '\tset own {\n\t\ttype ifname\n\t\telements = { '
	for i in $(seq 1 "$NETS"); do
		[ "$i" = 1 ] || printf ', '
		printf '"%s"' "$(bridge "bn$i")"
	done
	printf ' }\n\t}\n'
	printf '\tset same {\n\t\ttype ifname . ifname\n\t\telements = { '
	for i in $(seq 1 "$NETS"); do
		b="$(bridge "bn$i")"
		[ "$i" = 1 ] || printf ', '
		printf '"%s" . "%s"' "$b" "$b"
	done
	printf ' }\n\t}\n'
	printf '\tset deny4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\tauto-merge\n\t\telements = { 169.254.0.0/16 }\n\t}\n'
	printf '\tchain forward {\n\t\ttype filter hook forward priority filter - 10; policy accept;\n'
	printf '\t\tiifname @own oifname "kt*" iifname . oifname != @same counter drop\n'
	printf '\t\tiifname "kt*" oifname @own iifname . oifname != @same counter drop\n'
	printf '\t\tiifname @own ip daddr @deny4 counter drop\n\t}\n}\n'
} >"$BED/bench.nft"
t=$(now)
nft -c -f "$BED/bench.nft" && nft -f "$BED/bench.nft"
nft_s=$(since "$t")
nft delete table inet "klangk-bench$KLANGK_INSTANCE_ID"

t=$(now)
for i in $(seq 1 "$NETS"); do
	engine_req DELETE "/v1.41/networks/klangk_${KLANGK_INSTANCE_ID}_bn$i" >/dev/null
done
remove_s=$(since "$t")
for i in $(seq 1 "$NETS"); do bed_forget_bridge "$(bridge "bn$i")"; done
fi

# ---- 3. converge: T tenants, then one ------------------------------------
bed_start_controller
wait_for "controller ready" 20 grep -q "elected leader" "$BED/controller.log" >/dev/null
# converge NSFMT: seconds from apply to all Ready of W workspaces, the i-th
# in namespace printf(NSFMT, i % T); then all deleted.
converge() {
	local i ns t0 s
	for i in $(seq 1 "$W"); do
		# shellcheck disable=SC2059 # the format is the caller's
		ns="$(printf "$1" $((i % T)))"
		printf -- '---\napiVersion: klangk.io/v1alpha1\nkind: Workspace\nmetadata: {name: w%02d, namespace: %s}\nspec: {image: %s, hostedPorts: %d}\n' \
			"$i" "$ns" "$KLANGK_TEST_IMAGE" "$HP"
	done >"$BED/all.yaml"
	t0=$(now)
	"$BIN/klangkc" apply -f "$BED/all.yaml" >/dev/null
	wait_for "all Ready" 600 sh -c "[ \"\$('$BIN/klangkc' get -A -o json | jq '[.items[] | select(.status.phase == \"Running\")] | length')\" = $W ]" >/dev/null
	s=$(since "$t0")
	"$BIN/klangkc" delete -f "$BED/all.yaml" >/dev/null
	wait_for "all gone" 300 sh -c '[ -z "$(etcdctl get --prefix --keys-only /klangk/status/)" ]' >/dev/null
	echo "$s"
}
# running: how many workspaces the controller reports Running.
running() {
	"$BIN/klangkc" get -A -o json | jq '[.items[] | select(.status.phase == "Running")] | length'
}
# wait_count N: polls (every half second, a 1,000-item list is not free)
# until running() is N; fails after 1,800 s.
wait_count() {
	local deadline=$((SECONDS + 1800))
	until [ "$(running)" = "$1" ]; do
		[ "$SECONDS" -lt "$deadline" ] || { echo "timed out waiting for $1 Running" >&2; return 1; }
		sleep 0.5
	done
}
# scale: the BATCH run described at the top; prints one table row a batch.
scale() {
	local b i ns t0 n=0 nets0 nets
	: >"$BED/scale.yaml"
	for b in $(seq 1 $(((W + BATCH - 1) / BATCH))); do
		: >"$BED/batch.yaml"
		for i in $(seq $(((b - 1) * BATCH + 1)) $((b * BATCH > W ? W : b * BATCH))); do
			ns="t$((i % T))"
			printf -- '---\napiVersion: klangk.io/v1alpha1\nkind: Workspace\nmetadata: {name: w%04d, namespace: %s}\nspec: {image: %s, hostedPorts: %d}\n' \
				"$i" "$ns" "$KLANGK_TEST_IMAGE" "$HP" >>"$BED/batch.yaml"
			n=$i
		done
		cat "$BED/batch.yaml" >>"$BED/scale.yaml"
		nets0=$(bed_networks_count)
		t0=$(now)
		"$BIN/klangkc" apply -f "$BED/batch.yaml" >/dev/null
		wait_count "$n"
		s=$(since "$t0")
		nets=$(bed_networks_count)
		echo "| $b | $n | $((nets - nets0)) | $nets | $s | $(per "$s" $((n - (b - 1) * BATCH))) | $(cut -d' ' -f1 /proc/loadavg) |"
	done
	t0=$(now)
	"$BIN/klangkc" delete -f "$BED/scale.yaml" >/dev/null
	wait_for "all gone" 1800 sh -c '[ -z "$(etcdctl get --prefix --keys-only /klangk/status/)" ]' >/dev/null
	gone=$(since "$t0")
	# The controller collects a tenant's network at a resync that lists
	# the engine (every tenth); SIGHUP forces one, so this times the
	# removal, not the wait for the resync.
	t0=$(now)
	kill -HUP "$BED_CONTROLLER_PID"
	local deadline=$((SECONDS + 1800))
	until [ "$(bed_networks_count)" = 0 ]; do
		[ "$SECONDS" -lt "$deadline" ] || { echo "timed out waiting for the networks to go" >&2; return 1; }
		sleep 0.5
	done
	echo ""
	echo "Delete all $W, until every container is removed (status gone): $gone s; then SIGHUP, until the $T tenant networks are collected: $(since "$t0") s."
}
# (On Podman through its libpod endpoint: the compat listing looks at every
# container for each network and times out at this scale, as lib/engine.c
# says.)
bed_networks_count() {
	if [ "$BED_ENGINE" = docker ]; then
		engine_get /v1.41/networks | jq '[.[] | select(.Labels["klangk.managed"] == "true")] | length'
	else
		engine_get /v4.0.0/libpod/networks/json |
			jq '[.[] | select((.labels // {})["klangk.managed"] == "true")] | length'
	fi
}

if [ -n "$BATCH" ]; then
	cat <<MD
Engine: $BED_ENGINE; $(nproc) cores; $W workspaces over $T tenants, $BATCH a batch, hostedPorts $HP.

| batch | workspaces running after it | networks created | networks in all | seconds (apply -> batch Running) | per workspace (ms) | load |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: |
MD
	scale
	exit 0
fi
multi_s=$(converge "t%d")
one_s=$(converge "solo%.0s")
for i in $(seq 0 $((T - 1))); do bed_forget_bridge "$(bridge "t$i")"; done
bed_forget_bridge "$(bridge solo)"

cat <<MD
Engine: $BED_ENGINE; $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg).

| what | seconds | per item (ms) |
| --- | --- | --- |
| create $NETS networks, one after another | $create_s | $(per "$create_s" "$NETS") (first tenth $first_ms, last tenth $last_ms) |
| remove them | $remove_s | $(per "$remove_s" "$NETS") |
| nft -c + nft -f of the egress table for $NETS bridges | $nft_s | |
| converge $W workspaces over $T tenants (apply -> all Running) | $multi_s | $(per "$multi_s" "$W") |
| converge $W workspaces in 1 tenant | $one_s | $(per "$one_s" "$W") |
MD
