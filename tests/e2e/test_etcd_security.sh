#!/usr/bin/env bash
# etcd security end to end, on a real etcd serving https only with client
# certificates (made here with openssl) and authentication on:
#   1. without the CA, without a client certificate, over http, without a
#      user or with a wrong password, nothing gets through;
#   2. the controller and proxy-gen, each with its own etcd user and a
#      password file, converge a workspace over TLS with auth (watches
#      included) and nginx serves it;
#   3. roles enforced by etcd: the controller keeps each user's role in step
#      with the workspaces; a user writes only in their own namespace,
#      members with the owner role also write that workspace, other members
#      read it; every denied write is denied by etcd (its message, also for
#      etcdctl, which does not go through klangkc); status and leases are
#      the controller's alone; removing a member, deleting the workspace or
#      the etcd user takes the rights away; role syncs at resyncs with no
#      spec change reuse the parsed specs (rbac.h's cache);
#   4. tokens are renewed: after they expire (--auth-token-ttl), and after an
#      etcd restart that forgets them all and breaks every watch.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap 'kill "${WATCH_PID:-}" 2>/dev/null || true; bed_down' EXIT
TTL=3
BED_ETCD_TLS=1 BED_ETCD_ARGS="--auth-token-ttl $TTL" bed_up

# Users, each with a password file.
mkdir -m 700 "$BED/secrets"
for u in root klangk-controller klangk-proxy-gen alice bob carol dave; do
	head -c 18 /dev/urandom | base64 >"$BED/secrets/$u"
	etcdctl user add "$u" --new-user-password "$(cat "$BED/secrets/$u")" >/dev/null
done
etcdctl user grant-role root root >/dev/null
etcdctl user grant-role klangk-controller root >/dev/null
etcdctl role add klangk-proxy-gen >/dev/null
etcdctl role grant-permission klangk-proxy-gen --prefix read /klangk/status/ >/dev/null
etcdctl user grant-role klangk-proxy-gen klangk-proxy-gen >/dev/null
etcdctl auth enable >/dev/null
export ETCDCTL_USER="root:$(cat "$BED/secrets/root")"

# as USER CMD...: runs CMD as etcd user USER (klangkc and etcdctl).
as() {
	local u="$1"
	shift
	KLANGK_ETCD_USERNAME="$u" KLANGK_ETCD_PASSWORD_FILE="$BED/secrets/$u" \
		ETCDCTL_USER="$u:$(cat "$BED/secrets/$u")" "$@"
}
# denied USER WHAT CMD...: CMD as USER fails, and etcd's denial is in its output.
denied() {
	local u="$1" what="$2" out rc=0
	shift 2
	out="$(as "$u" "$@" 2>&1)" || rc=$?
	[ "$rc" != 0 ] || fail "$what: $u was allowed"
	assert_contains "$out" "etcdserver: permission denied" "$what"
}
wsdoc() { # NS NAME MEMBERS_JSON [ENV_VALUE]
	jq -n --arg ns "$1" --arg name "$2" --arg img "$KLANGK_TEST_IMAGE" --argjson m "$3" \
		--arg v "${4:-1}" '{apiVersion: "klangk.io/v1alpha1", kind: "Workspace",
		metadata: {name: $name, namespace: $ns},
		spec: {image: $img, hostedPorts: 1, members: $m, env: [{name: "V", value: $v}]}}'
}
KC="$BIN/klangkc"

# 1. TLS and auth are enforced.
out="$(as root env KLANGK_ETCD_CACERT= "$KC" get -A 2>&1)" && fail "no CA: $out"
out="$(as root env KLANGK_ETCD_CERT= KLANGK_ETCD_KEY= "$KC" get -A 2>&1)" && fail "no client cert: $out"
out="$(as root env KLANGK_ETCD_ENDPOINTS="http://127.0.0.1:$ETCD_PORT" "$KC" get -A 2>&1)" && fail "http: $out"
out="$("$KC" get -A 2>&1)" && fail "no user: $out"
assert_contains "$out" "etcd requires authentication" "no user"
out="$(KLANGK_ETCD_USERNAME=alice KLANGK_ETCD_PASSWORD=wrong "$KC" get -n alice 2>&1)" && fail "bad password: $out"
assert_contains "$out" "authentication as alice failed" "wrong password"
out="$(KLANGK_ETCD_USERNAME=alice "$KC" get -n alice 2>&1)" && fail "no password: $out"
assert_contains "$out" "no password" "user without password"
as root "$KC" get -A >/dev/null 2>&1 || fail "root over TLS with auth"

# 2. The daemons, each as its own user.
KLANGK_RBAC_SERVICE_USERS=klangk-proxy-gen as klangk-controller \
	bed_start_controller --resync-seconds 2 --log-level debug
as klangk-proxy-gen bed_start_proxygen
_role_is_granted() { etcdctl user get "$1" | grep -q "klangk:user:$1"; }
for u in alice bob carol dave; do
	wait_for "role of $u" 30 _role_is_granted "$u" || fail "no role for $u: $(etcdctl role list)"
done
etcdctl user get klangk-proxy-gen | grep -q 'klangk:user' && fail "service user got a tenant role"
etcdctl role list | grep -q 'klangk:user:root\|klangk:user:klangk-controller' && fail "role for root or self"

wsdoc alice proj '[{"user":"bob","role":"owner"},{"user":"carol","role":"coder"}]' >"$BED/proj.yaml"
as alice "$KC" apply -f "$BED/proj.yaml" >/dev/null || fail "alice cannot apply in her namespace"
_running() { [ "$(as alice "$KC" get "$1" -n "$2" -o json | jq -r .status.phase)" = Running ]; }
# klangkc wait as alice: her role refuses a watch of /klangk/, so wait
# watches her namespace's statuses (cli/wait.c); it must not hang.
as alice "$KC" wait --for=condition=Ready proj -n alice --timeout=60s >/dev/null ||
	fail "klangkc wait as alice: $(as root "$KC" get proj -n alice -o json)"
assert_eq Running "$(as alice "$KC" get proj -n alice -o json | jq -r .status.phase)" "alice/proj after wait"
# Activity (klangkc touch, exec, start): the owner and a coder member may
# record it; etcd refuses it to a user with no share in the workspace.
as alice "$KC" touch proj -n alice >/dev/null || fail "alice cannot record activity"
wait_for "carol's role covers alice/proj" 30 sh -c \
	'etcdctl role get klangk:user:carol | grep -q /klangk/activity/alice/proj' ||
	fail "carol's role: $(etcdctl role get klangk:user:carol)"
as carol "$KC" touch proj -n alice >/dev/null || fail "carol (coder) cannot record activity"
denied dave "dave recording activity on alice/proj" "$KC" touch proj -n alice
# get --watch as alice: the same fallback; a stop shows as a new row.
as alice "$KC" get -n alice --watch >"$BED/watch.out" 2>&1 &
WATCH_PID=$!
wait_for "alice's watch lists proj" 20 grep -q '^proj ' "$BED/watch.out" || fail "watch: $(cat "$BED/watch.out")"
as alice "$KC" stop proj -n alice >/dev/null || fail "alice cannot stop proj"
wait_for "alice's watch shows proj stopped" 60 grep -q '^proj .*Stopped' "$BED/watch.out" ||
	fail "watch: $(cat "$BED/watch.out")"
kill "$WATCH_PID"
wait "$WATCH_PID" 2>/dev/null || true
WATCH_PID=
as alice "$KC" start proj -n alice >/dev/null || fail "alice cannot start proj"
as alice "$KC" wait --for=condition=Ready proj -n alice --timeout=60s >/dev/null ||
	fail "proj did not come back"
wait_for "alice/proj Running again" 60 _running proj alice || fail "not Running again"
id="$(as alice "$KC" get proj -n alice -o json | jq -r .status.id)"
port="$(as alice "$KC" get proj -n alice -o json | jq -r '.status.ports[0].host')"
url="http://127.0.0.1:$KLANGK_NGINX_PORT/hosted/$id/$port/"
_serves() { curl -sf --max-time 3 "$url" | grep -q "workspace=$id"; }
wait_for "hosted app through nginx" 30 _serves || fail "proxy-gen over TLS with auth does not route"

# 3. Roles enforced by etcd.
_has_key() { etcdctl role get "klangk:user:$1" | grep -q -- "$2"; }
wait_for "bob's owner grant" 30 _has_key bob /klangk/workspaces/alice/proj || fail "no grant for bob"
wait_for "carol's read grant" 30 _has_key carol /klangk/workspaces/alice/proj || fail "no grant for carol"
# Own namespace: yes.
wsdoc bob own '[]' | as bob "$KC" apply -f - >/dev/null || fail "bob in his own namespace"
# Another namespace: denied by etcd, through klangkc and through etcdctl.
wsdoc alice other '[]' >"$BED/other.yaml"
denied bob "bob creating alice/other" "$KC" apply -f "$BED/other.yaml"
denied bob "bob's etcdctl put into alice's namespace" etcdctl put /klangk/workspaces/alice/other x
denied dave "dave reading alice/proj" "$KC" get proj -n alice
denied alice "alice reading bob/own" "$KC" get own -n bob
denied carol "carol listing alice's namespace" "$KC" get -n alice
# The owner member writes the shared workspace; the coder reads it only.
wsdoc alice proj '[{"user":"bob","role":"owner"},{"user":"carol","role":"coder"}]' 2 |
	as bob "$KC" apply -f - >/dev/null || fail "bob (owner member) cannot write alice/proj"
assert_eq 2 "$(as carol "$KC" get proj -n alice -o json | jq -r '.spec.env[0].value')" "carol reads alice/proj"
wsdoc alice proj '[{"user":"bob","role":"owner"},{"user":"carol","role":"owner"}]' 3 >"$BED/carol.yaml"
denied carol "carol (coder) promoting herself" "$KC" apply -f "$BED/carol.yaml"
denied carol "carol's etcdctl delete" etcdctl del /klangk/workspaces/alice/proj
# Status and leases belong to the controller.
denied alice "alice writing her status" etcdctl put /klangk/status/alice/proj '{"phase":"Running"}'
denied alice "alice taking a port lease" etcdctl put /klangk/leases/ports/1 alice/proj
denied bob "bob deleting alice/proj's status" etcdctl del /klangk/status/alice/proj
as alice etcdctl get /klangk/status/alice/proj >/dev/null || fail "alice cannot read her status"

# Removing a member takes the rights away.
wsdoc alice proj '[{"user":"carol","role":"coder"}]' 4 | as alice "$KC" apply -f - >/dev/null
_lacks_key() { ! _has_key "$1" "$2"; }
wait_for "bob's grant revoked" 30 _lacks_key bob /klangk/workspaces/alice/proj || fail "bob keeps his grant"
denied bob "bob after removal" "$KC" apply -f "$BED/proj.yaml"

# Role syncs (one per resync, every 2 s) reload the specs only when one
# changed: over three syncs with no change, the count of loads stays put.
syncs() { grep -c 'msg="etcd roles in step"' "$BED/controller.log" || true; }
syncs_reach() { [ "$(syncs)" -ge "$1" ]; }
loads() { grep 'msg="etcd roles in step"' "$BED/controller.log" | tail -1 | sed 's/.*spec_loads=//'; }
n0="$(syncs)"
wait_for "a role sync" 15 syncs_reach $((n0 + 1)) ||
	fail "no role sync logged"
l0="$(loads)"
n0="$(syncs)"
wait_for "three role syncs" 20 syncs_reach $((n0 + 3)) ||
	fail "role syncs did not happen"
assert_eq "$l0" "$(loads)" "spec loads over three role syncs without a spec change"

# 4. Token renewal.  Let every token of the daemons expire ...
t_end=$(($(date +%s) + TTL + 1))
_past() { [ "$(date +%s)" -ge "$1" ]; }
wait_for "the token TTL to pass" $((TTL + 5)) _past "$t_end"
wsdoc alice proj '[{"user":"carol","role":"coder"}]' 5 | as alice "$KC" apply -f - >/dev/null
_env_is() { engine_get "/v1.41/containers/klangk_${KLANGK_INSTANCE_ID}_alice_proj/json" | jq -r '.Config.Env[]' | grep -qx "V=$1"; }
wait_for "recreated after the tokens expired" 30 _env_is 5 || fail "controller did not renew its token"
# ... then restart etcd: tokens forgotten, watches broken.
bed_restart_etcd || fail "etcd did not come back"
wsdoc alice next '[]' | as alice "$KC" apply -f - >/dev/null
wait_for "alice/next Running after etcd restart" 60 _running next alice ||
	fail "controller did not re-authenticate its watch: $(tail -5 "$BED/controller.log")"
nid="$(as alice "$KC" get next -n alice -o json | jq -r .status.id)"
nport="$(as alice "$KC" get next -n alice -o json | jq -r '.status.ports[0].host')"
_serves_next() { curl -sf --max-time 3 "http://127.0.0.1:$KLANGK_NGINX_PORT/hosted/$nid/$nport/" | grep -q "workspace=$nid"; }
wait_for "proxy-gen routes after etcd restart" 60 _serves_next || fail "proxy-gen did not re-authenticate"

# Deleting the workspace, and the user, clean up the roles.
as alice "$KC" delete proj -n alice >/dev/null
wait_for "carol's grant gone" 30 _lacks_key carol /klangk/workspaces/alice/proj || fail "carol keeps her grant"
etcdctl user delete dave >/dev/null
_no_role() { ! etcdctl role list | grep -qx "klangk:user:$1"; }
wait_for "dave's role deleted" 30 _no_role dave || fail "role of a deleted user stays"
echo "PASS: test_etcd_security"
