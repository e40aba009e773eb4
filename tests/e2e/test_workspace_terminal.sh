#!/usr/bin/env bash
# The workspace image and its terminal: klangk-workspace (images/workspace,
# built or loaded from the machine's cache by bed_workspace_image) is the
# default image; `klangkc exec NAME -- CMD` runs CMD as the workspace user
# in the home and exits with its status, stdout and stderr apart and stdin's
# end passed on; a file in the home and in work/ survives a spec change
# that recreates the container; `klangkc exec NAME` with a TTY opens the
# default terminal (tmux, attached again by the next exec) whose size
# follows the local one; spec.command is what the terminal runs; the
# container stops at once on SIGTERM.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up
bed_workspace_image || fail "the workspace image could not be built or loaded"
bed_start_controller
bed_start_gateway

K="$BIN/klangkc"
cat >"$BED/ws.yaml" <<'YAML'
apiVersion: klangk.io/v1alpha1
kind: Workspace
metadata: {name: dev, namespace: alice}
spec:
  hostedPorts: 1
  env: [{name: STAGE, value: one}]
YAML
"$K" apply -f "$BED/ws.yaml" >/dev/null
wait_ws_converged dev alice 60
assert_eq klangk-workspace "$(ws_field dev alice '.spec.image // "klangk-workspace"')" "default image"
cname="$(ws_field dev alice .status.container.name)"
img="$(engine_get "/v1.41/containers/$cname/json" | jq -r .Config.Image)"
assert_contains "$img" "klangk-workspace" "the container's image"

# One command: the workspace user, in the home, its exit status.
out="$("$K" exec dev -n alice -- sh -c 'id -un; id -u; pwd; echo "$HOME"; for t in git tmux python3 bash; do command -v $t; done')"
assert_eq "klangk
1000
/home/alice
/home/alice
/usr/bin/git
/usr/bin/tmux
/usr/bin/python3
/usr/bin/bash" "$out" "exec: user, home, tools"
set +e
"$K" exec dev -n alice -- sh -c 'exit 7' </dev/null
rc=$?
set -e
assert_eq 7 "$rc" "exec: the command's exit status"
out="$("$K" exec dev -n alice -- sh -c 'echo to-out; echo to-err >&2' 2>"$BED/err")"
assert_eq to-out "$out" "exec: stdout alone"
assert_eq to-err "$(cat "$BED/err")" "exec: stderr apart"
assert_eq "hello from stdin" "$(echo "hello from stdin" | "$K" exec dev -n alice -- cat)" \
	"exec: stdin, and its end"
# Dotfiles from the image's skeleton in a fresh home.
"$K" exec dev -n alice -- test -f .bashrc || fail "no .bashrc in a fresh home"
set +e
"$K" exec nosuch -n alice -- true 2>"$BED/err"
rc=$?
set -e
assert_eq 4 "$rc" "exec on a missing workspace: not found"

# Files in the home and in work/ survive a recreation of the container.
"$K" exec dev -n alice -- sh -c 'echo keep-me >notes.txt; mkdir -p work/proj &&
	echo shared >work/proj/readme; echo "ls -la" >>.bash_history'
old_id="$(engine_get "/v1.41/containers/$cname/json" | jq -r .Id)"
sed -i 's/value: one/value: two/' "$BED/ws.yaml"
"$K" apply -f "$BED/ws.yaml" >/dev/null
wait_ws_converged dev alice 60
new_id="$(engine_get "/v1.41/containers/$cname/json" | jq -r .Id)"
[ "$old_id" != "$new_id" ] || fail "the spec change did not recreate the container"
assert_eq "two" "$("$K" exec dev -n alice -- sh -c 'echo $STAGE')" "the new env"
assert_eq "keep-me
shared
ls -la" "$("$K" exec dev -n alice -- cat notes.txt work/proj/readme .bash_history)" \
	"home, work and history after the recreation"

# A stop is prompt: tini passes SIGTERM on (no 10 s grace period). The
# engine's own record of how it ended says so: exit status 143 (SIGTERM),
# not 137 (killed after the grace period).
"$K" stop dev -n alice >/dev/null
wait_ws_reason dev alice Stopped 30
assert_eq 143 "$(engine_get "/v1.41/containers/$cname/json" | jq -r .State.ExitCode)" \
	"the main process ended by SIGTERM"
"$K" start dev -n alice >/dev/null
wait_ws_converged dev alice 60

# The terminal, with a TTY: tmux running a login shell, its size following
# the local terminal's. Driven through a pseudo-terminal.
cat >"$BED/terminal.py" <<'PY'
import fcntl, os, pty, select, signal, struct, subprocess, sys, termios, time
k, bed = sys.argv[1], sys.argv[2]

def setsize(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

def run(cmd):
    return subprocess.run([k, "exec", "dev", "-n", "alice", "--", "sh", "-c", cmd],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL).stdout.strip()

def until(desc, fn, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        pump(0.1)
        if fn():
            return
    sys.exit("timed out waiting for " + desc + "; screen: " + repr(screen[-500:]))

screen = b""
def pump(t):
    global screen
    r, _, _ = select.select([fd], [], [], t)
    if r:
        try:
            screen += os.read(fd, 65536)
        except OSError:
            pass

pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "xterm"
    os.execv(k, [k, "exec", "dev", "-n", "alice"])
setsize(fd, 30, 100)
os.kill(pid, signal.SIGWINCH)
until("the tmux session", lambda: "main:" in run("tmux list-sessions 2>/dev/null"))
until("the window at 100x29", lambda: run("tmux display -p '#{window_width}x#{window_height}'") == "100x29")
os.write(fd, b"stty size >size1; echo $0 >shell\r")
until("stty size in tmux", lambda: run("cat size1 2>/dev/null") == "29 100")
assert run("cat shell") == "-bash", "not a login shell: " + run("cat shell")
# The local terminal grows: SIGWINCH, and the exec's TTY follows.
setsize(fd, 40, 120)
os.kill(pid, signal.SIGWINCH)
until("the window at 120x39", lambda: run("tmux display -p '#{window_width}x#{window_height}'") == "120x39")
os.write(fd, b"stty size >size2\r")
until("the new stty size", lambda: run("cat size2 2>/dev/null") == "39 120")
# Detach (C-b d): the session stays for the next exec.
os.write(fd, b"\x02d")
_, st = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(st) == 0, "exec exited %d" % os.waitstatus_to_exitcode(st)
assert "main:" in run("tmux list-sessions"), "the session did not survive the detach"
print("ok")
PY
out="$(/usr/bin/python3 "$BED/terminal.py" "$K" "$BED" 2>&1)" || fail "terminal: $out"
assert_eq ok "$out" "the terminal through a pseudo-terminal"

# spec.command is what the terminal runs (here without a TTY).
cat >>"$BED/ws.yaml" <<'YAML'
  command: ["sh", "-c", "echo terminal-runs-$(id -un)-in-$(pwd); exit 3"]
YAML
"$K" apply -f "$BED/ws.yaml" >/dev/null
wait_ws_converged dev alice 60
set +e
out="$("$K" exec dev -n alice </dev/null)"
rc=$?
set -e
assert_eq "terminal-runs-klangk-in-/home/alice" "$out" "spec.command as the terminal"
assert_eq 3 "$rc" "spec.command's exit status"
# Deleting the workspace removes its activity key (exec wrote it) too.
[ -n "$(etcdget /klangk/activity/alice/dev)" ] || fail "exec recorded no activity"
"$K" delete dev -n alice --wait >/dev/null
assert_eq "" "$(etcd_keys /klangk/activity/alice/)" "activity key after the delete"
echo "PASS test_workspace_terminal"
