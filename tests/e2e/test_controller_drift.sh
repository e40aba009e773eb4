#!/usr/bin/env bash
# The controller puts drift right and survives its infrastructure: a
# container removed, stopped, or recreated with other env behind its back;
# events recorded; the engine service restarted; etcd restarted mid-watch;
# etcd compacted past the watch revision (relist); SIGHUP reloads a good
# configuration and refuses a bad one; SIGTERM exits 0 and resigns.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up

printf 'KLANGK_HOSTING_PROTO=http\n' >"$BED/controller.conf"
read -r MPORT _ <<<"$BED_FREE_PORTS"
bed_start_controller --config "$BED/controller.conf" --resync-seconds 300 \
	--metrics-address "127.0.0.1:$MPORT"
M="http://127.0.0.1:$MPORT"
wait_for "healthz" 10 curl -sf "$M/healthz" || fail "/healthz not served"
wait_for "readyz" 10 curl -sf "$M/readyz" || fail "/readyz never ready"

cname() { echo "klangk_${KLANGK_INSTANCE_ID}_alice_$1"; }
running() { [ "$(engine_get "/v1.41/containers/$(cname "$1")/json" 2>/dev/null | jq -r .State.Running)" = true ]; }
# cid NAME: the container's id.  Podman may answer 500 ("does not exist in
# database") for a name whose container is being replaced at that moment:
# ask again until it answers (with a deadline).
cid_once() { engine_get "/v1.41/containers/$(cname "$1")/json" 2>/dev/null | jq -er .Id >"$BED/cid"; }
cid() {
	wait_for "inspect $1" 10 cid_once "$1" >/dev/null || fail "cannot inspect $(cname "$1")"
	cat "$BED/cid"
}
# engine_accepts METHOD PATH CODE...: the engine answers METHOD PATH with
# one of the CODEs.  Podman may answer 500 to a remove or a stop made while
# the controller inspects the same container (CI runs saw both), so the
# changes made behind the controller's back below are retried until accepted
# (with a deadline).
engine_accepts() {
	local method="$1" path="$2" code c
	shift 2
	code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
		--unix-socket "${DOCKER_HOST#unix://}" -X "$method" "http://d$path")"
	for c in "$@"; do [ "$code" = "$c" ] && return 0; done
	return 1
}
# remove NAME: force-remove; accepted (204) or already gone (404).
remove() {
	wait_for "remove $1" 20 engine_accepts DELETE "/v1.41/containers/$(cname "$1")?force=true" 204 404 ||
		fail "could not remove $1"
}
# stop NAME: stopped (204) or already stopped (304).
stop() {
	wait_for "stop $1" 20 engine_accepts POST "/v1.41/containers/$(cname "$1")/stop?t=1" 204 304 ||
		fail "could not stop $1"
}
apply_ws() {
	"$BIN/klangkc" apply -f - >/dev/null <<YAML
apiVersion: klangk.io/v1alpha1
kind: Workspace
metadata: {name: $1, namespace: alice}
spec: {image: $KLANGK_TEST_IMAGE, hostedPorts: 1}
YAML
}

apply_ws one
wait_for "one running" 30 running one || fail "workspace one never ran"

# Events: Created and Started, recorded once each.
wait_for "events recorded" 10 sh -c '[ "$(etcdctl get --prefix --print-value-only /klangk/events/alice/one/ | grep -c reason)" -ge 2 ]' ||
	fail "no events: $(etcdctl get --prefix /klangk/events/)"
evs="$(etcdctl get --prefix --print-value-only /klangk/events/alice/one/ | sed '/^$/d')"
assert_contains "$evs" '"reason":"Created"' "events"
assert_contains "$evs" '"reason":"Started"' "events"
lease="$(etcdctl get --prefix /klangk/events/alice/one/ -w json | jq -r '.kvs[0].lease')"
[ "$lease" != null ] && [ "$lease" != 0 ] || fail "events are not under an etcd lease"

# Metrics: reconciles, their durations, engine latency, queue depth.
metrics="$(curl -sf "$M/metrics")"
ok="$(awk '/^klangk_reconcile_total\{result="success"\}/ {print $2}' <<<"$metrics")"
[ "${ok:-0}" -ge 1 ] 2>/dev/null || fail "no successful reconciles counted: $metrics"
assert_contains "$metrics" "klangk_reconcile_duration_seconds_bucket" "metrics"
assert_contains "$metrics" 'klangk_engine_request_duration_seconds_count{method="POST"}' "metrics"
assert_contains "$metrics" "klangk_workqueue_depth" "metrics"
assert_contains "$metrics" "klangk_leader 1" "metrics"
assert_eq 404 "$(http_code "$M/nope")" "unknown metrics path"

# The engine's events for the controller's own create and start (and
# Podman's init before a start) wake no second reconcile: the one that
# created the container converged it.  Once their echoes are counted, no
# other event was seen, and "one" was reconciled once (twice if the resync
# right after the election found it too); before, each echo woke one.
metric() { curl -sf "$M/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
own_at_least() { [ "$(metric 'klangk_engine_events_total{source="own"}')" -ge "$1" ] 2>/dev/null; }
echoes=2
[ "$BED_ENGINE" = podman ] && echoes=3
wait_for "echoes of create and start" 10 own_at_least "$echoes" ||
	fail "own events not recognised: $(curl -sf "$M/metrics" | grep engine_events)"
assert_eq 0 "$(metric 'klangk_engine_events_total{source="other"}')" "engine events not of our own"
[ "$(metric 'klangk_reconcile_total{result="success"}')" -le 2 ] ||
	fail "own events woke reconciles: $(curl -sf "$M/metrics" | grep -E 'reconcile_total|engine_events')"

# Removed behind its back: recreated (engine events wake the controller;
# resync is 300 s, so a quick fix proves the event path).
old="$(cid one)"
remove one
wait_for "one recreated after removal" 20 running one || fail "removed container not recreated"
new="$(cid one)"
[ "$new" != "$old" ] || fail "container id did not change"

# Stopped behind its back: started again.
stop one
wait_for "one restarted after stop" 20 sh -c "[ \"\$(curl -s --unix-socket ${DOCKER_HOST#unix://} http://d/v1.41/containers/$(cname one)/json | jq -r .State.Running)\" = true ]" ||
	fail "stopped container not restarted"

# Recreated behind its back with our labels (spec-hash included) but other
# env: recreated with the right env.
# The controller is frozen meanwhile, or it would recreate the container
# between our remove and our create.
info="$(engine_get "/v1.41/containers/$(cname one)/json")"
forged="$(jq -c '{Image: .Config.Image, Labels: .Config.Labels, Env: ["KLANGK_PORT_MAPPINGS=8000:1"], HostConfig: {Init: true}}' <<<"$info")"
kill -STOP "$BED_CONTROLLER_PID"
remove one
engine_post "/v1.41/containers/create?name=$(cname one)" "$forged" >/dev/null
engine_post "/v1.41/containers/$(cname one)/start" >/dev/null
kill -CONT "$BED_CONTROLLER_PID"
port="$(ws_field one alice '.status.ports[0].host')"
wait_for "env put right" 20 sh -c "curl -s --unix-socket ${DOCKER_HOST#unix://} http://d/v1.41/containers/$(cname one)/json | jq -r '.Config.Env[]' | grep -qx 'KLANGK_PORT_MAPPINGS=8000:$port'" ||
	fail "forged env not corrected: $(engine_get "/v1.41/containers/$(cname one)/json" | jq -c .Config.Env)"
wait_for "one running again" 20 running one || fail "not running after env fix"

# The engine service restarted: the event stream reconnects.
bed_restart_engine
wait_for "controller reconnected to engine events" 20 grep -q "engine event stream broken" "$BED/controller.log" || true
remove one
wait_for "recreated after engine restart" 40 running one || fail "not recreated after an engine restart"

# etcd restarted mid-watch: new objects still converge.
bed_restart_etcd KILL
apply_ws two
wait_for "two running after etcd restart" 40 running two || fail "workspace applied after an etcd restart never ran"

# Compaction past the watch revision: freeze the controller, break its
# watch by restarting etcd, change and compact, then let it resume.
kill -STOP "$BED_CONTROLLER_PID"
bed_restart_etcd
apply_ws three
for i in $(seq 20); do etcdput /klangk/noise "$i"; done
rev="$(etcdctl endpoint status -w json | jq -r '.[0].Status.header.revision')"
etcdctl compact "$rev" >/dev/null
kill -CONT "$BED_CONTROLLER_PID"
wait_for "three running after compaction" 60 running three || fail "workspace three never ran after compaction"
grep -q "compacted; relisting" "$BED/controller.log" || fail "the controller did not relist after compaction"

# SIGHUP: a bad configuration is refused and the old one kept...
printf 'KLANGK_HOSTING_PROTO=gopher\n' >"$BED/controller.conf"
kill -HUP "$BED_CONTROLLER_PID"
wait_for "bad reload refused" 10 grep -q "configuration reload refused" "$BED/controller.log" || fail "bad configuration not refused"
assert_contains "$(engine_get "/v1.41/containers/$(cname two)/json" | jq -r '.Config.Env[]')" "KLANGK_HOSTING_PROTO=http" "env after refused reload"
# ...a good one is applied to every workspace.
printf 'KLANGK_HOSTING_PROTO=https\nKLANGK_HOSTING_HOSTNAME=apps.example.com\n' >"$BED/controller.conf"
kill -HUP "$BED_CONTROLLER_PID"
for w in one two three; do
	wait_for "$w got the new settings" 40 sh -c "curl -s --unix-socket ${DOCKER_HOST#unix://} http://d/v1.41/containers/$(cname $w)/json | jq -r '.Config.Env[]' | grep -qx KLANGK_HOSTING_PROTO=https" ||
		fail "$w kept the old settings"
done
wait_for "urls updated" 20 sh -c '"$BIN/klangkc" get two -n alice -o json | jq -r ".status.urls[0]" | grep -q "^https://apps.example.com/hosted/"' ||
	fail "status urls not updated: $(ws_field two alice .status.urls)"

# SIGTERM: exit 0, and the leader key is released at once.
[ -n "$(etcdget "/klangk/leader/$KLANGK_INSTANCE_ID")" ] || fail "no leader key while running"
bed_stop_controller 20
assert_eq 0 "$BED_LAST_RC" "controller exit status on SIGTERM"
assert_eq "" "$(etcdget "/klangk/leader/$KLANGK_INSTANCE_ID")" "leader key after SIGTERM"
echo "PASS: test_controller_drift"
