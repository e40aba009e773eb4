#!/usr/bin/env bash
# Through the controller: workspaces applied with klangkc, routed by
# proxy-gen, and their hosted traffic recorded as activity.
#   - a workspace with hostedPorts: 0 runs but gets no routes;
#   - a hosted request writes /klangk/activity/<ns>/<name> (RFC 3339 UTC) at
#     once; a burst of requests within the interval is coalesced into one
#     more write carrying the latest request's time; requests to a known id
#     that has no route (hostedPorts 0) count too;
#   - requests for unknown ids record nothing;
#   - after a proxy-gen restart nginx's lines reach the new socket;
#   - a deleted workspace's traffic records nothing.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up
source "$HERE/proxy_helpers.sh"

INTERVAL=3
bed_start_controller
px_start_proxygen --activity-interval-seconds "$INTERVAL" --log-level debug

cat >"$BED/ws.yaml" <<YAML
apiVersion: klangk.io/v1alpha1
kind: Workspace
metadata: {name: hello, namespace: alice}
spec: {image: $KLANGK_TEST_IMAGE, hostedPorts: 2}
---
apiVersion: klangk.io/v1alpha1
kind: Workspace
metadata: {name: quiet, namespace: alice}
spec: {image: $KLANGK_TEST_IMAGE, hostedPorts: 0}
YAML
"$BIN/klangkc" apply -f "$BED/ws.yaml" >/dev/null
for w in hello quiet; do
	wait_for "$w Running" 60 sh -c "[ \"\$('$BIN/klangkc' get $w -n alice -o json | jq -r .status.phase)\" = Running ]" ||
		fail "$w never Running: $(ws_json "$w" alice)"
done
id="$(ws_field hello alice .status.id)"
qid="$(ws_field quiet alice .status.id)"
mapfile -t hosts < <(ws_field hello alice '.status.ports[].host')
assert_eq 2 "${#hosts[@]}" "hello's ports"
assert_eq 0 "$(ws_field quiet alice '.status.ports | length')" "quiet's ports"

echo "== hostedPorts: 0 gets no routes"
url="$NGX/hosted/$id/${hosts[0]}/"
wait_for "hello's route" 30 px_body_has "$url" "workspace=$id" || fail "hello not served"
assert_eq 2 "$(px_metric klangk_proxygen_routes)" "routes"
! grep -q "$qid" "$NGINX_DIR/nginx.conf" || fail "quiet has routes"
for p in "${hosts[@]}" "$KLANGK_PORT_RANGE_START"; do
	assert_eq 404 "$(http_code "$NGX/hosted/$qid/$p/")" "quiet's id with port $p"
done

echo "== activity"
akey=/klangk/activity/alice/hello
# key_version KEY: the key's version (0 when absent).
key_version() {
	etcdctl get "$1" -w json | jq -r '.kvs[0].version // 0'
}
# time_past US: true once the clock has passed US (microseconds).
time_past() {
	(($(_bed_now_us) >= $1))
}
# settle: waits until one interval (+1 s) has passed since now, so that
# whatever was pending has been written and nothing holds a write back.
settle() {
	local until=$(($(_bed_now_us) + (INTERVAL + 1) * 1000000))
	wait_for "one activity interval to pass" $((INTERVAL + 3)) time_past "$until"
}
settle
# quiet's URLs answered 404, but its id is known: opening them counts (so a
# stopped workspace's URL being opened is activity too).
[ -n "$(etcdget /klangk/activity/alice/quiet)" ] || fail "no activity for requests to quiet's id"
v1="$(key_version "$akey")"

curl -sf -o /dev/null "$url"
wait_for "a write for one request" 10 sh -c "[ \"\$(etcdctl get $akey -w json | jq -r .kvs[0].version)\" -ge $((v1 + 1)) ]" ||
	fail "no write for a request after a quiet interval"
t1="$(etcdget "$akey")"
[[ "$t1" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]] || fail "activity value '$t1' is not RFC 3339 UTC"
skew=$(($(date -u +%s) - $(date -u -d "$t1" +%s)))
((skew >= 0 && skew < 10)) || fail "activity time $t1 is ${skew}s from now"

# A burst within the interval: one more write, with the latest time.
for _ in $(seq 20); do
	curl -sf -o /dev/null "$url"
done
t_burst="$(date -u +%s)"
wait_for "the coalesced write" $((INTERVAL + 10)) sh -c "[ \"\$(etcdctl get $akey -w json | jq -r .kvs[0].version)\" -ge $((v1 + 2)) ]" ||
	fail "no coalesced write after the burst"
t2="$(etcdget "$akey")"
(($(date -u -d "$t2" +%s) >= t_burst - 1)) || fail "coalesced time $t2 is older than the burst ($t_burst)"
settle
# 21 requests: 2 writes (3 if a request was slow enough to miss the
# coalesced write), never one per request.
v="$(key_version "$akey")"
((v - v1 <= 3)) || fail "$((v - v1)) writes for 21 requests"
# And never two writes of one workspace within the interval (proxy-gen's
# debug log records each write).
gaps="$(grep 'msg="activity recorded" workspace=alice/hello' "$BED/proxy-gen.log" |
	sed -E 's/^ts=([^ ]+) .*/\1/' | while read -r t; do date -u -d "$t" +%s%3N; done |
	awk 'NR > 1 { print $1 - prev } { prev = $1 }')"
[ -n "$gaps" ] || fail "no activity writes in the log"
for g in $gaps; do
	((g >= INTERVAL * 1000 - 500)) || fail "two activity writes ${g} ms apart (interval ${INTERVAL}s)"
done
echo "ok: activity writes of alice/hello were $(echo $gaps | tr ' ' ',') ms apart"

echo "== unknown ids"
unknown="$(px_metric klangk_proxygen_activity_unknown_total)"
assert_eq 404 "$(http_code "$NGX/hosted/0123456789ab/${hosts[0]}/")" "unknown id"
wait_for "the unknown line" 10 px_metric_ge klangk_proxygen_activity_unknown_total $((unknown + 1)) || fail "unknown not counted"
assert_eq "$akey
/klangk/activity/alice/quiet" "$(etcd_keys /klangk/activity/)" "activity keys"

echo "== a proxy-gen restart"
bed_stop_proxygen
v2="$(key_version "$akey")"
px_start_proxygen --activity-interval-seconds "$INTERVAL" --log-level debug
# nginx's worker reconnects to the new socket (the first lines may still go
# to the old one and are lost: retry until one arrives).
wait_for "a line in the new proxy-gen" 20 sh -c "curl -s -o /dev/null '$url'; curl -sf http://127.0.0.1:$PX_METRICS_PORT/metrics | grep -q '^klangk_proxygen_activity_lines_total [1-9]'" ||
	fail "no line reached the restarted proxy-gen"
wait_for "a write from the new proxy-gen" 10 sh -c "[ \"\$(etcdctl get $akey -w json | jq -r .kvs[0].version)\" -gt $v2 ]" ||
	fail "no write after the restart"

echo "== a deleted workspace"
"$BIN/klangkc" delete hello -n alice >/dev/null
wait_for "hello's status gone" 60 sh -c '[ -z "$(etcdctl get --keys-only /klangk/status/alice/hello)" ]' ||
	fail "hello not deleted"
# Past the interval, so a write would not be held back by coalescing.
settle
v3="$(key_version "$akey")"
t3="$(etcdget "$akey")"
unknown="$(px_metric klangk_proxygen_activity_unknown_total)"
assert_eq 404 "$(http_code "$url")" "deleted workspace's URL"
wait_for "the line for the deleted workspace" 10 px_metric_ge klangk_proxygen_activity_unknown_total $((unknown + 1)) ||
	fail "the deleted workspace's request was not counted as unknown"
assert_eq "$v3" "$(key_version "$akey")" "activity key version after delete"
assert_eq "$t3" "$(etcdget "$akey")" "activity time after delete"

echo "PASS: test_proxy_activity"
