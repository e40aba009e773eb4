#!/usr/bin/env bash
# The walking skeleton end to end: a Workspace applied with klangkc becomes
# a running container, with its ports leased in etcd and published, its
# volumes labelled, and its hosted app reachable through nginx at
# /hosted/<id>/<port>/; anything not leased to it is a 404; deleting it
# removes container, volumes, leases, status and route.  A workspace being
# created is Pending with its ports and URLs and already routed.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up
bed_start_controller
bed_start_proxygen

NGX="http://127.0.0.1:$KLANGK_NGINX_PORT"
cat >"$BED/hello.yaml" <<YAML
apiVersion: klangk.io/v1alpha1
kind: Workspace
metadata:
  name: hello
  namespace: alice
  labels: {team: ml}
spec:
  image: $KLANGK_TEST_IMAGE
  env: [{name: GREETING, value: "hi there"}]
  mounts:
    - {source: alice-cache, target: /cache}
YAML

out="$("$BIN/klangkc" apply -f "$BED/hello.yaml")"
assert_eq "workspace.klangk.io/hello created" "$out" "apply output"

wait_for "workspace Running" 30 \
	sh -c '[ "$("$BIN/klangkc" get hello -n alice -o json | jq -r .status.phase)" = Running ]' ||
	fail "workspace never became Running: $(ws_json hello alice)"
id="$(ws_field hello alice .status.id)"
[[ "$id" =~ ^[0-9a-f]{12}$ ]] || fail "status.id '$id' is not 12 lowercase hex digits"
mapfile -t hosts < <(ws_field hello alice '.status.ports[].host')
assert_eq 5 "${#hosts[@]}" "number of leased ports"
assert_eq "8000 8001 8002 8003 8004" "$(ws_field hello alice '[.status.ports[].container] | join(" ")')" "container ports"
assert_eq "True" "$(ws_field hello alice '.status.conditions[] | select(.type=="Ready") | .status')" "Ready condition"
for h in "${hosts[@]}"; do
	[ "$h" -ge "$KLANGK_PORT_RANGE_START" ] && [ "$h" -lt $((KLANGK_PORT_RANGE_START + 1000)) ] ||
		fail "port $h outside the range starting at $KLANGK_PORT_RANGE_START"
done

# The status's first version, written before the volumes and the container,
# already has the id, the ports and the URLs (so proxy-gen routes the
# workspace while its container is created and started).
first="$(etcdctl get --rev="$(etcdctl get /klangk/status/alice/hello -w json | jq -r '.kvs[0].create_revision')" \
	/klangk/status/alice/hello --print-value-only)"
assert_eq "Pending $id 5 5" "$(jq -r '[.phase, .id, (.ports | length), (.urls | length)] | join(" ")' <<<"$first")" \
	"the status's first version"

# Leases: one key per port, owned by alice/hello, nothing else.
assert_eq 5 "$(etcd_keys /klangk/leases/ports/ | wc -l)" "lease keys"
for h in "${hosts[@]}"; do
	assert_eq "alice/hello" "$(etcdget "/klangk/leases/ports/$h")" "owner of lease $h"
done

# The hosted app answers through nginx, from the right container port.
url="$NGX/hosted/$id/${hosts[0]}/"
wait_for "hosted app through nginx" 30 sh -c "curl -sf --max-time 5 '$url' | grep -q 'workspace=$id'" ||
	fail "GET $url never returned the app: $(curl -s "$url")"
body="$(curl -sf "$url")"
assert_contains "$body" "container-port=8000 host-port=${hosts[0]}" "app response"
body="$(curl -sf "$NGX/hosted/$id/${hosts[3]}/")"
assert_contains "$body" "container-port=8003 host-port=${hosts[3]}" "fourth port's response"
assert_eq 200 "$(http_code "$NGX/hosted/$id/${hosts[0]}/index.html?x=1")" "query string passes"

# The URL without its slash redirects relative to itself.
loc="$(curl -s -o /dev/null -w '%{http_code} %header{location}' "$NGX/hosted/$id/${hosts[0]}")"
assert_eq "301 /hosted/$id/${hosts[0]}/" "$loc" "slash-less redirect"

# Not leased to this id: 404, never an open proxy.
other_id="0123456789ab"
assert_eq 404 "$(http_code "$NGX/hosted/$other_id/${hosts[0]}/")" "another id on a leased port"
assert_eq 404 "$(http_code "$NGX/hosted/$id/$((KLANGK_PORT_RANGE_START + 150))/")" "unleased port"
assert_eq 404 "$(http_code "$NGX/hosted/$id/$ETCD_PORT/")" "etcd's port through the proxy"
assert_eq 404 "$(http_code "$NGX/hosted/${id^^}/${hosts[0]}/")" "upper-case id"
assert_eq 404 "$(http_code "$NGX/hosted/$id/")" "no port"
assert_eq 404 "$(http_code "$NGX/other/")" "outside /hosted/"

# The container: name, labels, env, published ports.
cname="klangk_${KLANGK_INSTANCE_ID}_alice_hello"
info="$(engine_get "/v1.41/containers/$cname/json")"
env="$(jq -r '.Config.Env[]' <<<"$info")"
mapping="8000:${hosts[0]},8001:${hosts[1]},8002:${hosts[2]},8003:${hosts[3]},8004:${hosts[4]}"
assert_contains "$env" "KLANGK_PORT_MAPPINGS=$mapping" "container env"
assert_contains "$env" "KLANGK_WORKSPACE_ID=$id" "container env"
assert_contains "$env" "KLANGK_HOSTING_HOSTNAME=localhost:$KLANGK_NGINX_PORT" "container env"
assert_contains "$env" "KLANGK_HOSTING_PROTO=http" "container env"
assert_contains "$env" "GREETING=hi there" "user env"
assert_eq "true" "$(jq -r '.State.Running' <<<"$info")" "container running"
assert_eq "true" "$(jq -r '.HostConfig.Init' <<<"$info")" "HostConfig.Init"
for k in klangk.managed klangk.instance klangk.workspace klangk.user-id klangk.spec-hash; do
	[ -n "$(jq -r --arg k "$k" '.Config.Labels[$k] // empty' <<<"$info")" ] || fail "container label $k missing"
done
assert_eq "$KLANGK_INSTANCE_ID" "$(jq -r '.Config.Labels["klangk.instance"]' <<<"$info")" "instance label"
assert_eq "alice" "$(jq -r '.Config.Labels["klangk.user-id"]' <<<"$info")" "user label"
assert_eq "127.0.0.1:${hosts[0]}" \
	"$(jq -r '.HostConfig.PortBindings["8000/tcp"][0] | "\(.HostIp):\(.HostPort)"' <<<"$info")" \
	"port binding"

# Volumes: home, work and the named one, each labelled for this instance and user.
vols="$(engine_get /v1.41/volumes)"
for v in "klangk_${KLANGK_INSTANCE_ID}_alice_hello_home" "klangk_${KLANGK_INSTANCE_ID}_alice_hello_work" alice-cache; do
	assert_eq "$KLANGK_INSTANCE_ID alice" \
		"$(jq -r --arg v "$v" '.Volumes[] | select(.Name==$v) | "\(.Labels["klangk.instance"]) \(.Labels["klangk.user-id"])"' <<<"$vols")" \
		"labels of volume $v"
done

# A second reconcile of a converged workspace changes nothing: the same
# container stays (adopted, not recreated).
cid="$(jq -r .Id <<<"$info")"
bed_stop_controller
bed_start_controller
rv="$(ws_field hello alice .metadata.resourceVersion)"
wait_for "controller restarted and listed" 15 grep -q "listed workspaces" "$BED/controller.log" || true
wait_for "status untouched after restart" 5 sh -c "[ \"\$(etcdctl get /klangk/status/alice/hello -w json | jq -r '.kvs[0].mod_revision')\" != '' ]"
assert_eq "$cid" "$(engine_get "/v1.41/containers/$cname/json" | jq -r .Id)" "container after controller restart"
assert_eq "$rv" "$(ws_field hello alice .metadata.resourceVersion)" "spec untouched"

# Delete: everything goes.
assert_eq 'workspace.klangk.io "hello" deleted' "$("$BIN/klangkc" delete hello -n alice)" "delete output"
wait_for "status removed" 30 sh -c '[ -z "$(etcdctl get --prefix --keys-only /klangk/status/)" ]' ||
	fail "status not removed: $(etcdctl get --prefix /klangk/status/)"
assert_eq 0 "$(etcd_keys /klangk/leases/ | wc -l)" "leases after delete"
assert_eq 0 "$(engine_get '/v1.41/containers/json?all=1' | jq 'length')" "containers after delete"
remaining="$(engine_get /v1.41/volumes | jq -r '.Volumes[]?.Name' | grep "^klangk_" || true)"
assert_eq "" "$remaining" "workspace volumes after delete"
wait_for "route gone" 15 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$url')\" = 404 ]" ||
	fail "route still served after delete"
# A workspace being created is Pending with its id, ports and URLs before
# its container exists, and proxy-gen routes it already: here its image is
# missing, so it stays Pending, and its URL is routed (nginx's 502, nothing
# listens yet) rather than unknown (404).  Once the image exists the same
# URL serves the app.
cat >"$BED/later.yaml" <<YAML
apiVersion: klangk.io/v1alpha1
kind: Workspace
metadata: {name: later, namespace: alice}
spec: {image: localhost/klangk-later:v1}
YAML
"$BIN/klangkc" apply -f "$BED/later.yaml" >/dev/null
wait_for "Pending workspace with ports" 30 \
	sh -c '[ "$("$BIN/klangkc" get later -n alice -o json | jq -r "[.status.phase, (.status.ports | length), (.status.urls | length)] | join(\" \")")" = "Pending 5 5" ]' ||
	fail "no Pending status with ports: $(ws_json later alice)"
lid="$(ws_field later alice .status.id)"
lport="$(ws_field later alice '.status.ports[0].host')"
assert_contains "$(ws_field later alice '.status.urls[0]')" "/hosted/$lid/$lport/" "Pending workspace's URL"
assert_eq "" "$(engine_get '/v1.41/containers/json?all=1' | jq -r '.[].Names[]' | grep later || true)" "no container yet"
lurl="$NGX/hosted/$lid/$lport/"
wait_for "the Pending workspace routed" 15 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$lurl')\" = 502 ]" ||
	fail "Pending workspace not routed: $(http_code "$lurl")"
engine_post "/v1.41/images/$KLANGK_TEST_IMAGE/tag?repo=localhost/klangk-later&tag=v1" >/dev/null
wait_for "the workspace Running once its image exists" 60 \
	sh -c '[ "$("$BIN/klangkc" get later -n alice -o json | jq -r .status.phase)" = Running ]' ||
	fail "never Running: $(ws_json later alice)"
assert_eq "$lid" "$(ws_field later alice .status.id)" "id kept from Pending to Running"
wait_for "the app at the URL it had while Pending" 30 sh -c "curl -sf --max-time 5 '$lurl' | grep -q 'workspace=$lid'" ||
	fail "GET $lurl: $(curl -s "$lurl")"
"$BIN/klangkc" delete later -n alice --wait --timeout=60s >/dev/null
assert_eq 0 "$(etcd_keys /klangk/leases/ | wc -l)" "leases after deleting the second workspace"
echo "PASS: test_workspace"
