#!/usr/bin/env bash
# Leader identity: a controller killed with SIGKILL leaves its key on a
# lease etcd keeps for the TTL (15 s here); the restarted process, with the
# same (default) identity, takes the key over at once, while a replica of
# another identity keeps waiting and never leads meanwhile; a second
# process with the default identity on this host gets "<host>-2" and waits
# too (two live processes never share an identity).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up
: >"$BED/empty.conf" # puts $BED in the command line, so bed_down finds them

KEY="/klangk/leader/$KLANGK_INSTANCE_ID"
HOST="$(hostname)"
declare -A PID
# start_ctl NAME [ARGS...]: a controller logging to controller-NAME.log.
start_ctl() {
	local name="$1"
	shift
	"$BIN/klangk-controller" --config "$BED/empty.conf" --resync-seconds 5 "$@" \
		</dev/null >>"$BED/controller-$name.log" 2>&1 &
	PID[$name]=$!
}
logged() { grep -q "$2" "$BED/controller-$1.log"; }

start_ctl a
wait_for "a to lead" 20 logged a 'msg="elected leader"' || fail "a never led"
assert_eq "$HOST" "$(etcdget "$KEY")" "the leader key's holder (the default identity)"
start_ctl b --leader-identity other
wait_for "b to follow" 20 logged b "msg=\"following: the leader key is held by another replica\".*holder=$HOST" ||
	fail "b did not follow a: $(cat "$BED/controller-b.log")"

# a dies; its lease lives on for the TTL.  The new a takes over at once.
kill -KILL "${PID[a]}"
wait "${PID[a]}" 2>/dev/null || true
start_ctl a2
wait_for "the restarted a to lead (well within the 15 s TTL)" 5 logged a2 'msg="elected leader"' ||
	fail "the restarted controller did not take its key over: $(cat "$BED/controller-a2.log")"
logged a2 'msg="took over the leader key' || fail "no takeover logged"
assert_eq "$HOST" "$(etcdget "$KEY")" "the leader key's holder after the takeover"

# Another process with the default identity: <host>-2, a follower.
start_ctl c
wait_for "c to follow" 20 logged c "following.*identity=$HOST-2" ||
	fail "c did not follow as $HOST-2: $(cat "$BED/controller-c.log")"
! logged b 'msg="elected leader"' || fail "b (another identity) led while a's key was held"
! logged c 'msg="elected leader"' || fail "c led while a2 held the key"

# SIGTERM: each exits 0; the leader resigns.
for k in a2 b c; do kill -TERM "${PID[$k]}"; done
for k in a2 b c; do
	rc=0
	wait "${PID[$k]}" || rc=$?
	assert_eq 0 "$rc" "exit status of controller $k on SIGTERM"
done
echo "PASS: test_leader_takeover"
