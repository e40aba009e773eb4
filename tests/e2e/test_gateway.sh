#!/usr/bin/env bash
# The gateway end to end, with etcd authentication on and real etcd users
# (alice owns alice/proj; bob is a coder member, carol a spectator, dave a
# stranger).  klangkc runs with no engine socket (DOCKER_HOST points
# nowhere): exec, logs, top, export and import go through the gateway.
#   - with etcd auth off, a gateway asked to listen beyond loopback refuses
#     to start and says why;
#   - the owner's exec works (output, exit status);
#   - a coder member gets a terminal and sees the owner's tmux session;
#   - the spectator is refused exec but reads logs and top;
#   - the stranger, an anonymous caller and a page of another origin are
#     refused, with JSON reasons;
#   - removing a member cuts their next request;
#   - export then import through the gateway round-trips the files.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up
bed_workspace_image || fail "the workspace image could not be built or loaded"

# Auth off: listening on every address is refused at start.
set +e
out="$(KLANGK_GATEWAY_LISTEN=0.0.0.0:0 timeout 30 "$BIN/klangk-gateway" 2>&1)"
rc=$?
set -e
assert_eq 1 "$rc" "a gateway beyond loopback with etcd auth off"
assert_contains "$out" "listens on a loopback address only" "it says why"

bed_etcd_users alice bob carol dave || fail "etcd users"
# as USER CMD...: CMD as etcd user USER, with no engine socket.
as() { bed_as_tenant "$@"; }
# refused USER WHAT CMD...: CMD as USER fails and says so.
refused() {
	local u="$1" what="$2" out rc=0
	shift 2
	out="$(as "$u" "$@" 2>&1)" || rc=$?
	[ "$rc" != 0 ] || fail "$what: $u was allowed: $out"
	assert_contains "$out" "permission denied" "$what"
}
KC="$BIN/klangkc"
KLANGK_ETCD_USERNAME=klangk-controller KLANGK_ETCD_PASSWORD_FILE="$BED/secrets/klangk-controller" \
	bed_start_controller --resync-seconds 2
bed_start_gateway
G="$KLANGK_GATEWAY_URL"
API="$G/api/v1/namespaces/alice/workspaces/proj"

# The controller grants each tenant's role at its start: apply as alice
# only once hers is there (etcd refuses her before).
_has_key() { etcdctl role get "klangk:user:$1" | grep -q -- "$2"; }
bed_wait_tenant_role alice || fail "no role for alice"

members() { # JSON array
	jq -n --argjson m "$1" '{apiVersion: "klangk.io/v1alpha1", kind: "Workspace",
		metadata: {name: "proj", namespace: "alice"}, spec: {members: $m}}'
}
members '[{"user":"bob","role":"coder"},{"user":"carol","role":"spectator"}]' |
	as alice "$KC" apply -f - >/dev/null
as alice "$KC" wait --for=condition=Ready proj -n alice --timeout=120s >/dev/null ||
	fail "alice/proj not Ready: $(as alice "$KC" get proj -n alice -o yaml 2>&1)"

# The owner: output and exit status, through the gateway only.
out="$(as alice "$KC" exec proj -n alice -- sh -c 'echo hi-$(id -un)' </dev/null)"
assert_eq "hi-klangk" "$out" "the owner's exec"
set +e
as alice "$KC" exec proj -n alice -- sh -c 'exit 7' </dev/null
rc=$?
set -e
assert_eq 7 "$rc" "the exit status through the gateway"

# A coder member: a terminal (tmux "main"), showing the owner's session.
wait_for "bob's activity grant" 30 _has_key bob /klangk/activity/alice/proj || fail "no grant for bob"
wait_for "carol's read grant" 30 _has_key carol /klangk/workspaces/alice/proj || fail "no grant for carol"
as alice "$KC" exec proj -n alice -- sh -c \
	"tmux new-session -d -s main && tmux send-keys -t main 'echo owner-was-here' Enter" </dev/null ||
	fail "the owner's tmux session"
cat >"$BED/member.py" <<'PY'
import os, pty, select, sys, time
k = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "xterm"
    os.execv(k, [k, "exec", "proj", "-n", "alice"])
screen, end = b"", time.time() + 60
while b"owner-was-here" not in screen and time.time() < end:
    r, _, _ = select.select([fd], [], [], 0.5)
    if r:
        try:
            screen += os.read(fd, 65536)
        except OSError:
            break
if b"owner-was-here" not in screen:
    sys.exit("the owner's session is not on the member's screen: " + repr(screen[-400:]))
os.write(fd, b"\x02d")  # detach: the session stays
_, st = os.waitpid(pid, 0)
sys.exit(0 if os.waitstatus_to_exitcode(st) == 0 else "exec exited %d" % os.waitstatus_to_exitcode(st))
PY
out="$(as bob /usr/bin/python3 "$BED/member.py" "$KC" 2>&1)" || fail "bob's terminal: $out"

# The spectator: no exec; logs and top.
refused carol "the spectator's exec" "$KC" exec proj -n alice -- true
as carol "$KC" logs proj -n alice >/dev/null || fail "the spectator cannot read logs"
as carol "$KC" top proj -n alice | grep -q '^proj ' || fail "the spectator cannot read top"

# The stranger is refused everything by the gateway itself.
refused dave "the stranger's logs" "$KC" logs proj -n alice
refused dave "the stranger's top" "$KC" top proj -n alice
refused dave "the stranger's export" "$KC" export proj -n alice -o "$BED/dave.tar.gz"
dave="dave:$(cat "$BED/secrets/dave")"
code="$(curl -s -o "$BED/body" -w '%{http_code}' -u "$dave" "$API/top")"
assert_eq 403 "$code" "the stranger's top over HTTP"
assert_eq Forbidden "$(jq -r .reason "$BED/body")" "a JSON reason"
code="$(curl -s -o "$BED/body" -w '%{http_code}' -u "dave:wrong" "$API/top")"
assert_eq 401 "$code" "a wrong password"
# Anonymous (etcd decides: auth is on) and a page of another origin.
code="$(curl -s -o "$BED/body" -w '%{http_code}' "$API/top")"
assert_eq 401 "$code" "an anonymous caller with etcd auth on"
alice="alice:$(cat "$BED/secrets/alice")"
code="$(curl -s -o "$BED/body" -w '%{http_code}' -u "$alice" -H 'Origin: http://evil.example' "$API/top")"
assert_eq 403 "$code" "a request from another origin"
code="$(curl -s -o /dev/null -w '%{http_code}' -u "$alice" "$API/top")"
assert_eq 200 "$code" "the owner's top over HTTP"

# Export then import through the gateway.
as alice "$KC" exec proj -n alice -- sh -c 'echo keep-me >notes.txt; mkdir -p work/p && echo w >work/p/f' </dev/null ||
	fail "writing the files to export"
as alice "$KC" export proj -n alice -o "$BED/proj.tar.gz" >/dev/null || fail "export"
tar -tzf "$BED/proj.tar.gz" >"$BED/list"
grep -qx 'home/notes.txt' "$BED/list" || fail "notes.txt not exported: $(head -20 "$BED/list")"
as alice "$KC" import "$BED/proj.tar.gz" --name copy -n alice >/dev/null || fail "import"
as alice "$KC" wait --for=condition=Ready copy -n alice --timeout=120s >/dev/null || fail "copy not Ready"
assert_eq "keep-me
w" "$(as alice "$KC" exec copy -n alice -- cat notes.txt work/p/f </dev/null)" "the files round-trip"

# Removing a member cuts their next request.
as bob "$KC" top proj -n alice >/dev/null || fail "bob's top before removal"
members '[{"user":"carol","role":"spectator"}]' | as alice "$KC" apply -f - >/dev/null
_lacks_key() { ! _has_key "$1" "$2"; }
wait_for "bob's grants revoked" 30 _lacks_key bob /klangk/workspaces/alice/proj || fail "bob keeps his grant"
refused bob "a removed member's top" "$KC" top proj -n alice
bob="bob:$(cat "$BED/secrets/bob")"
code="$(curl -s -o /dev/null -w '%{http_code}' -u "$bob" "$API/export")"
assert_eq 403 "$code" "a removed member's export"
echo "PASS: test_gateway"
