#!/usr/bin/env bash
# The idle timeout: a workspace with no activity for idleTimeoutSeconds is
# stopped (phase Stopped, reason IdleTimeout, an event) with its ports still
# leased and its volumes kept; activity (the key proxy-gen and klangkc
# write) starts it again; spec.running: false stops it for good until set
# true again.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up
bed_start_controller

apply_ws() { # running timeout
	"$BIN/klangkc" apply -f - >/dev/null <<YAML
apiVersion: klangk.io/v1alpha1
kind: Workspace
metadata: {name: sleepy, namespace: alice}
spec: {image: $KLANGK_TEST_IMAGE, hostedPorts: 2, idleTimeoutSeconds: $2, running: $1}
YAML
}
phase() { ws_field sleepy alice .status.phase; }
ready_reason() { ws_field sleepy alice '.status.conditions[] | select(.type=="Ready") | .reason'; }
cname="klangk_${KLANGK_INSTANCE_ID}_alice_sleepy"
container_running() { engine_get "/v1.41/containers/$cname/json" | jq -r .State.Running; }

apply_ws true 4
wait_for "running" 30 sh -c '[ "$("$BIN/klangkc" get sleepy -n alice -o json | jq -r .status.phase)" = Running ]' ||
	fail "never ran"
ports_before="$(ws_field sleepy alice '[.status.ports[].host] | join(",")')"
wait_for "stopped for idleness" 30 sh -c '[ "$("$BIN/klangkc" get sleepy -n alice -o json | jq -r ".status.conditions[] | select(.type==\"Ready\") | .reason")" = IdleTimeout ]' ||
	fail "not stopped when idle: $(ws_json sleepy alice)"
assert_eq Stopped "$(phase)" "phase when idle"
assert_eq false "$(container_running)" "container when idle"
assert_eq "$ports_before" "$(ws_field sleepy alice '[.status.ports[].host] | join(",")')" "ports kept when idle"
assert_eq 2 "$(etcd_keys /klangk/leases/ports/ | wc -l)" "leases kept when idle"
assert_contains "$(etcdctl get --prefix --print-value-only /klangk/events/alice/sleepy/)" '"reason":"IdleTimeout"' "events"

# Activity starts it again.
etcdput /klangk/activity/alice/sleepy "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
wait_for "resumed" 30 sh -c '[ "$("$BIN/klangkc" get sleepy -n alice -o json | jq -r .status.phase)" = Running ]' ||
	fail "activity did not start it: $(ws_json sleepy alice)"
assert_eq true "$(container_running)" "container after activity"
assert_eq "$ports_before" "$(ws_field sleepy alice '[.status.ports[].host] | join(",")')" "same ports after resuming"

# running: false stops it for good; true brings it back (and 0 = never idle).
apply_ws false 0
wait_for "stopped by spec" 30 sh -c '[ "$("$BIN/klangkc" get sleepy -n alice -o json | jq -r ".status.conditions[] | select(.type==\"Ready\") | .reason")" = Stopped ]' ||
	fail "running: false did not stop it"
assert_eq false "$(container_running)" "container with running: false"
apply_ws true 0
wait_for "running again" 30 sh -c '[ "$("$BIN/klangkc" get sleepy -n alice -o json | jq -r .status.phase)" = Running ]' ||
	fail "running: true did not start it"
assert_eq "" "$(ws_field sleepy alice '.status.idleSince // ""')" "idleSince with timeout 0"
echo "PASS: test_idle"
