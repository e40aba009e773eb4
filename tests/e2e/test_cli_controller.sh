#!/usr/bin/env bash
# The verbs that need the controller, on the real thing (etcd, Podman):
# wait --for=condition=Ready after apply (a watch, and only once the
# controller has observed the new generation), describe with its container
# (as the controller recorded it in the status: klangkc never asks the
# engine), volumes, ports, URLs and events, stop/start followed by wait, and
# delete --wait returning only when the controller has torn everything down.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up
bed_start_controller
K="$BIN/klangkc"

cat >"$BED/ws.yaml" <<YAML
apiVersion: klangk.io/v1alpha1
kind: Workspace
metadata: {name: dev, namespace: alice}
spec:
  image: $KLANGK_TEST_IMAGE
  hostedPorts: 2
  mounts: [{source: alice-cache, target: /cache}]
YAML
"$K" apply -f "$BED/ws.yaml" >/dev/null
out="$("$K" wait dev -n alice --for=condition=Ready --timeout=60s)" ||
	fail "wait for Ready failed: $out $(ws_json dev alice)"
assert_eq "workspace.klangk.io/dev condition met" "$out" "wait output"
assert_eq Running "$(ws_field dev alice .status.phase)" "phase after wait"
gen="$(ws_field dev alice .metadata.generation)"
[ "$(ws_field dev alice .status.observedGeneration)" -ge "$gen" ] || fail "wait returned before the generation was observed"

# describe: spec, status, the container as status.container has it,
# volumes, events.
etcdput "/klangk/events/alice/dev/0001" '{"type":"Normal","reason":"Created","message":"container created","lastTimestamp":"2026-01-01T00:00:00Z"}'
d="$("$K" describe dev -n alice)"
assert_contains "$d" "Phase:               Running" "describe phase"
assert_contains "$d" "ID:                  $(ws_field dev alice .status.id)" "describe id"
assert_contains "$d" "8000 -> $(ws_field dev alice '.status.ports[0].host')" "describe ports"
assert_contains "$d" "$(ws_field dev alice '.status.urls[1]')" "describe urls"
grep -qE '^  Ready +True +' <<<"$d" || fail "describe conditions: $d"
assert_contains "$d" "Name:                klangk_${KLANGK_INSTANCE_ID}_alice_dev" "describe container name"
assert_contains "$d" "State:               running" "describe container state"
cid="$(ws_field dev alice .status.container.id)"
[ "${#cid}" -eq 12 ] || fail "status.container.id is \"$cid\", not the engine's short id"
assert_contains "$d" "ID:                  $cid" "describe container id"
assert_contains "$d" "Image:               $(ws_field dev alice .status.container.image)" "describe image"
assert_contains "$d" "Spec Hash:           $(ws_field dev alice .status.specHash)" "describe spec hash"
assert_contains "$d" "klangk_${KLANGK_INSTANCE_ID}_alice_dev_home" "describe home volume"
assert_contains "$d" "/home/alice/work" "describe work volume"
assert_contains "$d" "alice-cache" "describe named volume"
grep -qE '^  2026-01-01T00:00:00Z +Normal +Created +container created$' <<<"$d" ||
	fail "describe events: $d"
# The engine the client could reach plays no part (right after make run,
# describe used to print "unknown (engine at unix:///var/run/docker.sock:
# ... Couldn't connect to server)").
d="$(DOCKER_HOST=unix://$BED/nonexistent.sock "$K" describe dev -n alice)"
assert_contains "$d" "State:               running" "describe without an engine in reach"
assert_not_contains "$d" "engine at" "describe does not call the engine"

# A new generation: wait does not return on the old Ready.
sed -i 's/hostedPorts: 2/hostedPorts: 1/' "$BED/ws.yaml"
"$K" apply -f "$BED/ws.yaml" >/dev/null
"$K" wait dev -n alice --for=condition=Ready --timeout=60s >/dev/null || fail "wait after update: $(ws_json dev alice)"
assert_eq 1 "$(ws_field dev alice '.status.ports | length')" "the new generation is what wait saw"

# stop: the controller reports Stopped; start brings it back.
"$K" stop dev -n alice >/dev/null
"$K" wait dev -n alice --for=condition=Ready --timeout=60s >/dev/null || fail "wait after stop"
assert_eq Stopped "$(ws_field dev alice .status.phase)" "phase after stop"
d="$("$K" describe dev -n alice)"
assert_contains "$d" "State:               exited" "describe a stopped container"
assert_contains "$d" "Exit Code:" "describe the exit code of a stopped container"
assert_contains "$d" "Finished:" "describe when it stopped"
"$K" start dev -n alice >/dev/null
"$K" wait dev -n alice --for=condition=Ready --timeout=60s >/dev/null || fail "wait after start"
assert_eq Running "$(ws_field dev alice .status.phase)" "phase after start"

# A condition that never comes: exit 1 at the deadline.
rc=0
"$K" wait dev -n alice --for=condition=Stalled --timeout=1s >/dev/null 2>"$BED/err" || rc=$?
assert_eq 1 "$rc" "wait timeout"
assert_contains "$(cat "$BED/err")" "timed out waiting for the condition on workspace.klangk.io/dev" "timeout message"

# delete --wait returns when the controller has removed everything.
out="$("$K" delete dev -n alice --wait --timeout=60s)" || fail "delete --wait: $out"
assert_eq "" "$(etcd_keys /klangk/status/)" "status gone after delete --wait"
assert_eq "" "$(etcd_keys /klangk/leases/)" "leases gone after delete --wait"
names="$(engine_get '/v1.41/containers/json?all=1' | jq -r '.[].Names[]')"
assert_not_contains "$names" "_alice_dev" "container gone after delete --wait"
rc=0
"$K" wait dev -n alice --for=delete --timeout=1s >/dev/null || rc=$?
assert_eq 0 "$rc" "wait --for=delete of a deleted workspace"
echo "PASS: test_cli_controller"
