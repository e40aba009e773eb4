# shellcheck shell=bash
# tests/e2e/proxy_helpers.sh — helpers for the proxy tests (test_proxy*.sh),
# sourced after tests/bed.sh and assert.sh. Most proxy tests need no
# controller: proxy-gen only reads /klangk/status/, so a test writes status
# keys itself and runs test-image containers as the backends.

NGX="http://127.0.0.1:$KLANGK_NGINX_PORT"
WSCLIENT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/wsclient.py"
# The metrics port of proxy-gen in these tests.
PX_METRICS_PORT="${BED_FREE_PORTS%% *}"

# px_container NAME ID HOST_PORT...: starts a test-image container whose
# container ports 8000.. are published on 127.0.0.1 at the given host ports,
# with the env a workspace would get (base path from PX_BASE, default "").
# Waits until every published port answers; prints the container id.
px_container() {
	local name="$1" id="$2" body cid i map="" ports="" bind="" expose=""
	shift 2
	i=0
	for h in "$@"; do
		map="$map${map:+,}$((8000 + i)):$h"
		expose="$expose${expose:+,}\"$((8000 + i))/tcp\": {}"
		bind="$bind${bind:+,}\"$((8000 + i))/tcp\": [{\"HostIp\": \"127.0.0.1\", \"HostPort\": \"$h\"}]"
		i=$((i + 1))
	done
	body="{\"Image\": \"$KLANGK_TEST_IMAGE\",
		\"Env\": [\"KLANGK_WORKSPACE_ID=$id\", \"KLANGK_PORT_MAPPINGS=$map\",
			\"KLANGK_HOSTING_BASE_PATH=${PX_BASE:-}\"],
		\"Labels\": {\"klangk.test\": \"proxy\"},
		\"ExposedPorts\": {$expose},
		\"HostConfig\": {\"Init\": true, \"PortBindings\": {$bind}}}"
	cid="$(engine_post "/v1.41/containers/create?name=$name" "$body" | jq -r .Id)" || return 1
	[ -n "$cid" ] && [ "$cid" != null ] || return 1
	engine_post "/v1.41/containers/$cid/start" >/dev/null || return 1
	for h in "$@"; do
		ports="$ports $h"
	done
	# shellcheck disable=SC2086 # one argument per port
	wait_for "container $name to serve on$ports" 30 _px_all_answer $ports || return 1
	echo "$cid"
}

# _px_all_answer PORT...: true when every port answers HTTP.
_px_all_answer() {
	local p
	for p in "$@"; do
		curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$p/" || return 1
	done
}

# px_status NS NAME ID PHASE [HOST_PORT...]: writes the status key of
# NS/NAME as the controller would (container ports 8000.. in order).
px_status() {
	etcdput "/klangk/status/$1/$2" "$(px_status_json "$@")"
}

# px_status_json NS NAME ID PHASE [HOST_PORT...]: prints that status object.
px_status_json() {
	local id="$3" phase="$4" ports="" i=0
	shift 4
	for h in "$@"; do
		ports="$ports${ports:+,}{\"container\": $((8000 + i)), \"host\": $h}"
		i=$((i + 1))
	done
	printf '{"id": "%s", "phase": "%s", "ports": [%s]}' "$id" "$phase" "$ports"
}

# px_status_series NS COUNT FIRST_PORT ID_DIGIT PACE_MS: writes COUNT status
# keys NS/w0.. of Running workspaces (ids ID_DIGIT followed by 15 hex
# digits of the index, one port each from FIRST_PORT) through etcd's HTTP
# API, one every PACE_MS (0: as fast as possible); prints the milliseconds
# it took and the longest time between two writes.
px_status_series() {
	python3 - "$ETCD_PORT" "$@" <<'PY'
import base64, http.client, json, sys, time
port, ns, count, start, digit, pace = sys.argv[1:7]
port, count, start, pace = int(port), int(count), int(start), int(pace) / 1000
c = http.client.HTTPConnection("127.0.0.1", port)
b64 = lambda s: base64.b64encode(s.encode()).decode()
t0 = last = time.monotonic()
gap = 0
for i in range(count):
    if i and pace:
        time.sleep(max(0, t0 + i * pace - time.monotonic()))
    val = {"id": "%s%015x" % (digit, i), "phase": "Running",
           "ports": [{"container": 8000, "host": start + i}]}
    c.request("POST", "/v3/kv/put", json.dumps({"key": b64("/klangk/status/%s/w%d" % (ns, i)),
              "value": b64(json.dumps(val))}), {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
    now = time.monotonic()
    gap = max(gap, now - last)
    last = now
print(int((last - t0) * 1000), int(gap * 1000))
PY
}

# px_generation: the generation nginx serves (status socket), or nothing.
px_generation() {
	curl -s --max-time 2 --unix-socket "$NGINX_DIR/status.sock" http://nginx/generation
}

# px_live_generation: the generation in the header of the live nginx.conf.
px_live_generation() {
	sed -n '2s/^# generation \([0-9a-f]*\),.*/\1/p' "$NGINX_DIR/nginx.conf"
}

# px_generation_is GEN / px_generation_not GEN: for wait_for.
px_generation_is() {
	[ "$(px_generation)" = "$1" ]
}
px_generation_not() {
	local g
	g="$(px_generation)"
	[ -n "$g" ] && [ "$g" != "$1" ]
}
# px_applied_since GEN: for wait_for: a generation other than GEN serves
# and proxy-gen has settled (no old worker takes connections any more), so
# that every request from now on sees the new configuration.
px_applied_since() {
	px_generation_not "$1" && px_settled
}

# px_metric NAME: the value of one sample on proxy-gen's /metrics (NAME may
# carry labels, e.g. 'x_total{stage="validate"}'); fails when absent.
px_metric() {
	local out
	out="$(curl -sf --max-time 2 "http://127.0.0.1:$PX_METRICS_PORT/metrics")" || return 1
	awk -v n="$1" '$1 == n { print $2; found = 1 } END { exit !found }' <<<"$out"
}

# px_metric_is NAME VALUE / px_metric_ge NAME VALUE: for wait_for.
px_metric_is() {
	[ "$(px_metric "$1")" = "$2" ]
}
px_metric_ge() {
	local v
	v="$(px_metric "$1")" || return 1
	[ "${v%.*}" -ge "$2" ]
}

# px_master: nginx's master pid (pid file).
px_master() {
	cat "$NGINX_DIR/nginx.pid" 2>/dev/null
}

# px_workers: nginx's worker pids, sorted, space-separated.
px_workers() {
	pgrep -P "$(px_master)" | sort -n | tr '\n' ' '
}

# px_body_has URL TEXT [CURL_ARGS...]: true when GET URL answers 200 with a
# body containing TEXT.
px_body_has() {
	local url="$1" text="$2" body
	shift 2
	body="$(curl -sf --max-time 5 "$@" "$url")" || return 1
	[[ "$body" == *"$text"* ]]
}

# px_code_is CODE URL: true when GET URL answers CODE.
px_code_is() {
	[ "$(http_code "$2")" = "$1" ]
}

# px_start_proxygen ARGS...: bed_start_proxygen with metrics on
# PX_METRICS_PORT, then waits for /readyz. Sets PX_READYZ (its URL), which
# tells wait_hosted_app (assert.sh) to wait for px_settled too.
px_start_proxygen() {
	bed_start_proxygen --metrics-address "127.0.0.1:$PX_METRICS_PORT" "$@" || return 1
	PX_READYZ="http://127.0.0.1:$PX_METRICS_PORT/readyz"
	wait_for "proxy-gen ready" 30 curl -sf --max-time 2 "$PX_READYZ"
}

# px_settled: true when proxy-gen's /readyz says ready with no change
# pending: the newest rendering of what it saw is the only configuration
# nginx accepts connections with (no old worker takes any more).
px_settled() {
	local out
	out="$(curl -sf --max-time 2 "http://127.0.0.1:$PX_METRICS_PORT/readyz")" || return 1
	[[ "$out" == "ok: generation "* && "$out" != *pending* ]]
}

# px_new_ports N: prints N fresh host ports from the bed's range (a counter
# in $BED/px-ports), never the same twice in a bed.
px_new_ports() {
	local n="$1" next
	next="$(cat "$BED/px-ports" 2>/dev/null || echo "$KLANGK_PORT_RANGE_START")"
	seq -s ' ' "$next" $((next + n - 1))
	echo $((next + n)) >"$BED/px-ports"
}

# px_ws_expect LINE: reads the next line of the WS coproc (fd $WS_OUT) within
# 10 s and checks it equals LINE.
px_ws_expect() {
	local line=""
	IFS= read -r -t 10 line <&"$WS_OUT" || fail "websocket: no '$1' within 10 s (got '$line')"
	assert_eq "$1" "$line" "websocket line"
}
