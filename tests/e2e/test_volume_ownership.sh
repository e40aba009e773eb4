#!/usr/bin/env bash
# Volume ownership on a real engine: named volumes are created with
# klangk.instance and klangk.user-id (the owner's namespace); a volume made
# through the engine API for another instance, for another user, or with no
# labels at all is refused — the workspace is Stalled with VolumeNotOwned
# naming the volume, and no container is created — and so is a volume
# another user's workspace created. The volume itself is left untouched.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up
bed_start_controller --resync-seconds 2
cname() { echo "klangk_${KLANGK_INSTANCE_ID}_$1_$2"; }
vol_labels() {
	engine_get "/v1.41/volumes/$1" | jq -c '.Labels // {}'
}

engine_post /v1.41/volumes/create \
	'{"Name":"other-instance","Labels":{"klangk.instance":"someoneelse","klangk.user-id":"alice"}}' >/dev/null
engine_post /v1.41/volumes/create \
	'{"Name":"other-user","Labels":{"klangk.instance":"'"$KLANGK_INSTANCE_ID"'","klangk.user-id":"bob"}}' >/dev/null
engine_post /v1.41/volumes/create '{"Name":"unlabelled"}' >/dev/null
engine_post /v1.41/volumes/create \
	'{"Name":"half-labelled","Labels":{"klangk.instance":"'"$KLANGK_INSTANCE_ID"'"}}' >/dev/null

# A volume the workspace creates itself carries both labels.
ws_apply alice own '{"hostedPorts":0,"mounts":[{"source":"alice-cache","target":"/cache"}]}'
wait_ws_reason own alice ContainerRunning
assert_eq "{\"klangk.instance\":\"$KLANGK_INSTANCE_ID\",\"klangk.managed\":\"true\",\"klangk.user-id\":\"alice\"}" \
	"$(vol_labels alice-cache | jq -cS .)" "labels of a created volume"

# expect_refused NS NAME VOLUME NEEDLE
expect_refused() {
	local ns="$1" name="$2" vol="$3" needle="$4" before msg
	before="$(vol_labels "$vol")"
	ws_apply "$ns" "$name" '{"hostedPorts":0,"mounts":[{"source":"'"$vol"'","target":"/v"}]}'
	wait_ws_reason "$name" "$ns" VolumeNotOwned
	msg="$(ws_cond "$name" "$ns" Ready message)"
	assert_contains "$msg" "volume $vol belongs to $needle" "message for $vol"
	assert_contains "$msg" "not to user \"$ns\" of instance \"$KLANGK_INSTANCE_ID\"" "message for $vol"
	assert_eq True "$(ws_cond "$name" "$ns" Stalled status)" "Stalled for $vol"
	assert_not_contains "$(container_names)" "$(cname "$ns" "$name")" "containers for $vol"
	assert_eq "$before" "$(vol_labels "$vol")" "labels of $vol untouched"
}
expect_refused alice a1 other-instance 'someone else (instance "someoneelse", user "alice")'
expect_refused alice a2 other-user "someone else (instance \"$KLANGK_INSTANCE_ID\", user \"bob\")"
expect_refused alice a3 unlabelled 'nobody known (instance "", user "")'
expect_refused alice a4 half-labelled "someone else (instance \"$KLANGK_INSTANCE_ID\", user \"\")"
# Another user's volume, created by that user's workspace.
expect_refused bob b1 alice-cache "someone else (instance \"$KLANGK_INSTANCE_ID\", user \"alice\")"
# Another user's home volume by name: refused before it reaches the engine.
rc=0
err="$(ws_apply bob b2 '{"mounts":[{"source":"'"$(cname alice own)_home"'","target":"/v"}]}' 2>&1)" || rc=$?
assert_eq 1 "$rc" "apply mounting another workspace's home"
assert_contains "$err" "spec.mounts[0].source: volume names starting with klangk_ are reserved" "reserved name"

# The owner's other workspace may share her volume.
ws_apply alice own2 '{"hostedPorts":0,"mounts":[{"source":"alice-cache","target":"/cache"}]}'
wait_ws_reason own2 alice ContainerRunning
echo "PASS: test_volume_ownership"
