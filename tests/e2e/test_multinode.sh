#!/usr/bin/env bash
# Several nodes on one etcd cluster:
#   - a 3-member etcd cluster on loopback (the bed's etcd makes way for it)
#     and every client given all three endpoints;
#   - two nodes, "a" and "b", of one instance on one engine, each with its
#     own port range; node a runs two replicas (leader election per node);
#   - unplaced workspaces are spread over both nodes by free capacity, each
#     placed exactly once and converged by its own node only, with its
#     port leases under its node's prefix and in its node's range;
#   - an etcd member is killed mid-run and everything still converges;
#   - node a's leader is killed and its replica takes over, registering the
#     node again and converging node a's changes;
#   - spec.nodeName places a workspace on that node; changing it later is
#     reported (Stalled, NodeNameMismatch) and the workspace is not moved;
#   - node b's proxy-gen (KLANGK_NODE_NAME=b) routes node b's workspaces
#     only;
#   - deleting every workspace leaves no placement, lease, status or
#     container behind.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"

MEMBER_PIDS=()
CTL_PIDS=()
cleanup() {
	local rc=$? p
	for p in "${CTL_PIDS[@]}"; do
		_bed_stop_pid "$p" klangk-controller 10 TERM klangk-controller
	done
	for p in "${MEMBER_PIDS[@]}"; do
		_bed_stop_pid "$p" "etcd member" 10 TERM etcd
	done
	(exit "$rc")
	bed_down
}
trap cleanup EXIT
bed_up

echo "== a 3-member etcd cluster"
# The bed's single etcd makes way: its ports and the bed's four spare
# ones serve the three members.
_bed_stop_pid "$(cat "$BED/etcd.pid")" etcd 10 TERM "$BED/etcd"
read -r S1 S2 S3 S4 <<<"$BED_FREE_PORTS"
CLIENT=("$ETCD_PORT" "$S1" "$S3")
PEER=("$PEER_PORT" "$S2" "$S4")
cluster=""
for i in 0 1 2; do
	cluster+="${cluster:+,}m$i=http://127.0.0.1:${PEER[$i]}"
done
start_member() { # INDEX
	local i="$1"
	env -u ETCD_PORT etcd --name "m$i" --data-dir "$BED/etcd-m$i" \
		--listen-client-urls "http://127.0.0.1:${CLIENT[$i]}" \
		--advertise-client-urls "http://127.0.0.1:${CLIENT[$i]}" \
		--listen-peer-urls "http://127.0.0.1:${PEER[$i]}" \
		--initial-advertise-peer-urls "http://127.0.0.1:${PEER[$i]}" \
		--initial-cluster "$cluster" --initial-cluster-state new \
		--heartbeat-interval 50 --election-timeout 500 \
		</dev/null >>"$BED/etcd-m$i.log" 2>&1 &
	MEMBER_PIDS[$i]=$!
}
for i in 0 1 2; do start_member "$i"; done
export KLANGK_ETCD_ENDPOINTS="http://127.0.0.1:${CLIENT[0]},http://127.0.0.1:${CLIENT[1]},http://127.0.0.1:${CLIENT[2]}"
export ETCDCTL_ENDPOINTS="$KLANGK_ETCD_ENDPOINTS"
wait_for "the etcd cluster" 30 etcdctl endpoint health || fail "the etcd cluster never became healthy"
assert_eq 3 "$(etcdctl member list | wc -l)" "etcd members"

echo "== two nodes, node a with two replicas"
HALF=$((BED_PORT_RANGE_SIZE / 2))
A_START=$KLANGK_PORT_RANGE_START
B_START=$((KLANGK_PORT_RANGE_START + HALF))
start_ctl() { # NAME NODE RANGE_START
	"$BIN/klangk-controller" --node-name "$2" --node-capacity 10 \
		--port-range-start "$3" --port-range-end $(($3 + HALF - 1)) \
		--leader-ttl-seconds 3 --resync-seconds 5 --leader-identity "$1" \
		</dev/null >>"$BED/controller-$1.log" 2>&1 &
	CTL_PIDS+=($!)
	eval "PID_$1=\$!"
}
start_ctl a1 a "$A_START"
start_ctl a2 a "$A_START"
start_ctl b1 b "$B_START"
node_up() { [ -n "$(etcdget "/klangk/nodes/$1")" ]; }
wait_for "node a registered" 30 node_up a || fail "node a never registered"
wait_for "node b registered" 30 node_up b || fail "node b never registered"
assert_eq '{"capacity":10}' "$(etcdget /klangk/nodes/a)" "node a's record"

# leader_pid NODE: the pid of the replica (a1, a2, b1: its leader identity)
# holding the node's leader key.
leader_pid() {
	local id
	id="$(etcdget "/klangk/leader/$KLANGK_INSTANCE_ID/$1")"
	[[ "$id" =~ ^[ab][12]$ ]] && eval "echo \"\$PID_$id\""
}
wait_for "a leader on node a" 30 sh -c "[ -n \"\$(etcdctl get --print-value-only /klangk/leader/$KLANGK_INSTANCE_ID/a)\" ]" ||
	fail "node a has no leader"

# converged_all N...: every workspace wN of namespace multi runs its
# current generation.
converged_all() {
	local n
	for n in "$@"; do
		_ws_converged "w$n" multi || return 1
	done
}
apply_ws() { # N...
	local n
	for n in "$@"; do
		ws_apply multi "w$n" '{"hostedPorts": 1}'
	done
}
# check_ws N...: placed once, on the node its status and container name,
# with its lease under that node's prefix, in that node's range.
check_ws() {
	local n node port start
	for n in "$@"; do
		node="$(etcdget "/klangk/placements/multi/w$n")"
		[[ "$node" =~ ^[ab]$ ]] || fail "w$n placed on '$node'"
		assert_eq "$node" "$(ws_field "w$n" multi .status.nodeName)" "w$n status.nodeName"
		assert_eq "$node" "$(engine_get "/v1.41/containers/klangk_${KLANGK_INSTANCE_ID}_multi_w$n/json" |
			jq -r '.Config.Labels["klangk.node"]')" "w$n container's node label"
		port="$(ws_field "w$n" multi '.status.ports[0].host')"
		assert_eq "multi/w$n" "$(etcdget "/klangk/leases/ports/$node/$port")" "w$n lease on node $node"
		start=$A_START
		[ "$node" = a ] || start=$B_START
		[ "$port" -ge "$start" ] && [ "$port" -lt $((start + HALF)) ] ||
			fail "w$n: port $port outside node $node's range"
	done
}

echo "== workspaces spread over both nodes"
apply_ws 1 2 3 4
wait_for "w1..w4 converged" 60 converged_all 1 2 3 4 || fail "w1..w4 did not converge"
check_ws 1 2 3 4
assert_eq 4 "$(etcd_keys /klangk/placements/multi/ | wc -l)" "placements"
assert_eq 2 "$(etcdctl get --prefix --print-value-only /klangk/placements/ | grep -cx a)" "workspaces on node a"
assert_eq 2 "$(etcdctl get --prefix --print-value-only /klangk/placements/ | grep -cx b)" "workspaces on node b"
# Each node converged only its own (the other node's log never names them).
for n in 1 2 3 4; do
	node="$(etcdget "/klangk/placements/multi/w$n")"
	other=b
	[ "$node" = b ] && other=a
	if grep -h "container created" "$BED"/controller-"$other"*.log | grep -Eq "workspace=multi/w$n( |\$)"; then
		fail "w$n (node $node) was created by node $other"
	fi
done

echo "== an etcd member killed mid-run"
apply_ws 5 6
kill -KILL "${MEMBER_PIDS[0]}"
wait_for "w1..w6 converged" 60 converged_all 1 2 3 4 5 6 ||
	fail "w1..w6 did not converge with a member down"
check_ws 5 6
ws_apply multi w1 '{"hostedPorts": 1, "env": [{"name": "AFTER", "value": "member-kill"}]}'
wait_for "w1's change" 30 converged_all 1 || fail "w1's change did not converge"

echo "== node a's leader killed; its replica takes over"
old="$(leader_pid a)"
[ "$old" = "$PID_a1" ] || [ "$old" = "$PID_a2" ] || fail "node a's leader pid '$old' is neither replica"
kill -KILL "$old"
new_leader() { local p; p="$(leader_pid a)"; [ -n "$p" ] && [ "$p" != "$old" ]; }
wait_for "node a's new leader" 30 new_leader || fail "node a's replica never took over"
new="$(leader_pid a)"
[ "$new" = "$PID_a1" ] || [ "$new" = "$PID_a2" ] || fail "node a's new leader pid '$new' is neither replica"
wait_for "node a registered again" 30 node_up a || fail "node a's registration is gone"
a_ws="$(etcdctl get --prefix /klangk/placements/multi/ | paste - - | awk '$2 == "a" {print $1}' | head -1)"
a_ws="${a_ws##*/}"
ws_apply multi "$a_ws" '{"hostedPorts": 1, "env": [{"name": "AFTER", "value": "leader-kill"}]}'
apply_ws 7 8
wait_for "everything converged" 60 converged_all 1 2 3 4 5 6 7 8 ||
	fail "not everything converged after the leader's death"
check_ws 7 8

echo "== spec.nodeName"
ws_apply multi w9 '{"hostedPorts": 1, "nodeName": "b"}'
wait_for "w9 converged" 30 converged_all 9 || fail "w9 did not converge"
assert_eq b "$(etcdget /klangk/placements/multi/w9)" "w9's placement"
check_ws 9
ws_apply multi w9 '{"hostedPorts": 1, "nodeName": "a", "env": [{"name": "X", "value": "y"}]}'
wait_ws_reason w9 multi NodeNameMismatch
assert_eq True "$(ws_cond w9 multi Stalled status)" "w9 Stalled"
assert_eq b "$(etcdget /klangk/placements/multi/w9)" "w9 still placed on b"
assert_eq running "$(engine_get "/v1.41/containers/klangk_${KLANGK_INSTANCE_ID}_multi_w9/json" | jq -r .State.Status)" \
	"w9's container untouched"

echo "== node b's proxy routes node b's workspaces only"
KLANGK_NODE_NAME=b bed_start_proxygen
route() { # N: the hosted URL of wN
	echo "http://127.0.0.1:$KLANGK_NGINX_PORT/hosted/$(ws_field "w$1" multi .status.id)/$(ws_field "w$1" multi '.status.ports[0].host')/"
}
b_ws="$(etcdctl get --prefix /klangk/placements/multi/ | paste - - | awk '$2 == "b" {print $1}' | head -1)"
b_ws="${b_ws##*/w}"
a_n="${a_ws#w}"
url="$(route "$b_ws")"
wait_for "node b's app through node b's nginx" 30 sh -c "curl -sf --max-time 5 '$url' | grep -q workspace=" ||
	fail "GET $url: $(curl -s "$url")"
assert_eq 404 "$(http_code "$(route "$a_n")")" "node a's workspace through node b's nginx"

echo "== delete everything"
for n in $(seq 1 9); do "$BIN/klangkc" delete "w$n" -n multi >/dev/null; done
all_gone() {
	[ -z "$(etcd_keys /klangk/placements/)" ] && [ -z "$(etcd_keys /klangk/status/)" ] &&
		[ -z "$(etcd_keys /klangk/leases/ports/)" ] && [ -z "$(container_names | grep multi)" ]
}
wait_for "every workspace torn down" 60 all_gone ||
	fail "left: $(etcd_keys /klangk/placements/) $(etcd_keys /klangk/leases/ports/) $(container_names)"
echo "ok"
