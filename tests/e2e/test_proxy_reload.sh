#!/usr/bin/env bash
# proxy-gen's apply pipeline on a real nginx:
#   1. a status change that leaves the routes as they are causes no reload,
#      and neither does a restart of proxy-gen (same master, same workers);
#   2. 50 status changes in a burst cause exactly one reload;
#   3. a WebSocket opened before a reload keeps working after it, on the old
#      worker, until worker_shutdown_timeout closes it; new connections use
#      the new configuration;
#   4. two changes in a row are applied at least --min-reload-interval-ms
#      apart;
#   5. a render that `nginx -t` refuses (an nginx wrapper that fails -t on
#      demand: a legitimate failure of the real validation step) leaves the
#      old configuration serving, is counted in /metrics, and is applied once
#      validation passes again.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up
source "$HERE/proxy_helpers.sh"

A=aaaa00000000000a
read -ra PA <<<"$(px_new_ports 5)"
px_container px-a "$A" "${PA[@]}" >/dev/null || fail "container a"
px_status alice a "$A" Running "${PA[@]}"
ARGS=(--worker-shutdown-timeout 3 --min-reload-interval-ms 0)
px_start_proxygen "${ARGS[@]}"
wait_for "a's route" 20 px_body_has "$NGX/hosted/$A/${PA[0]}/" "workspace=$A" || fail "a not served"

echo "== 1. identical renders: no reload"
master="$(px_master)"
workers="$(px_workers)"
gen="$(px_generation)"
reloads="$(px_metric klangk_proxygen_reloads_total)"
unchanged="$(px_metric klangk_proxygen_unchanged_total)"
assert_eq 1 "$reloads" "reloads after the first apply"
# Routes stay the same: another workspace is Stopped, a's status gains a field.
px_status bob b bbbb00000000000b Stopped "$(px_new_ports 1)"
etcdput /klangk/status/alice/a "$(px_status_json alice a "$A" Running "${PA[@]}" | jq -c '. + {conditions: [{type: "Ready", status: "True"}]}')"
wait_for "the render of the changes" 10 px_metric_ge klangk_proxygen_unchanged_total $((unchanged + 1)) ||
	fail "no render after the changes"
assert_eq "$reloads" "$(px_metric klangk_proxygen_reloads_total)" "reloads after an identical render"
assert_eq "$workers" "$(px_workers)" "nginx workers after an identical render"
assert_eq "$gen" "$(px_generation)" "generation after an identical render"

bed_stop_proxygen
px_start_proxygen "${ARGS[@]}"
assert_eq 0 "$(px_metric klangk_proxygen_reloads_total)" "reloads after a restart"
assert_eq 1 "$(px_metric klangk_proxygen_unchanged_total)" "identical renders after a restart"
assert_eq "$master" "$(px_master)" "nginx master after a restart"
assert_eq "$workers" "$(px_workers)" "nginx workers after a restart"
grep -q "nginx already serves this configuration; no reload" "$BED/proxy-gen.log" ||
	fail "no 'already serves' in the log"
echo "ok: no reload for identical renders, also across a restart"

echo "== 2. a burst of 50 changes: one reload"
read -ra PBURST <<<"$(px_new_ports 50)"
ms="$(python3 - "$ETCD_PORT" "${PBURST[0]}" <<'PY'
import base64, http.client, json, sys, time
port, start = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port)
b64 = lambda s: base64.b64encode(s.encode()).decode()
t = time.monotonic()
for i in range(50):
    val = {"id": "e%015x" % i, "phase": "Running", "ports": [{"container": 8000, "host": start + i}]}
    c.request("POST", "/v3/kv/put", json.dumps({"key": b64("/klangk/status/burst/w%d" % i),
              "value": b64(json.dumps(val))}), {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
print(int((time.monotonic() - t) * 1000))
PY
)"
echo "50 status writes took ${ms} ms"
wait_for "the burst's routes" 15 px_metric_is klangk_proxygen_routes 55 || fail "routes: $(px_metric klangk_proxygen_routes)"
wait_for "nothing pending" 10 sh -c "curl -sf http://127.0.0.1:$PX_METRICS_PORT/readyz | grep -qv pending" || fail "changes still pending"
assert_eq 1 "$(px_metric klangk_proxygen_reloads_total)" "reloads for a burst of 50 changes"
assert_eq 55 "$(grep -cE "^ +[0-9a-f]+/[0-9]+ 127.0.0.1:[0-9]+;" "$NGINX_DIR/nginx.conf")" "routes in nginx.conf"

echo "== 3. a WebSocket across a reload"
coproc WS { exec /usr/bin/python3 "$WSCLIENT" "ws://127.0.0.1:$KLANGK_NGINX_PORT/hosted/$A/${PA[4]}/live"; }
WS_OUT="${WS[0]}"
WS_IN="${WS[1]}"
ws_pid="$WS_PID"
px_ws_expect open
echo one >&"$WS_IN"
px_ws_expect "echo one"
old_workers="$(px_workers)"
gen="$(px_generation)"
px_status carol c cccc00000000000c Running "$(px_new_ports 1)"
wait_for "the reload" 15 px_generation_not "$gen" || fail "no reload"
t_reload="$(_bed_now_us)"
[ "$(px_workers)" != "$old_workers" ] || fail "the workers did not change on reload"
echo two >&"$WS_IN"
px_ws_expect "echo two"
echo "ok: the WebSocket works after the reload"
out="$(/usr/bin/python3 "$WSCLIENT" "ws://127.0.0.1:$KLANGK_NGINX_PORT/hosted/$A/${PA[4]}/new" fresh)" ||
	fail "a new WebSocket after the reload: $out"
# The old worker closes it at worker_shutdown_timeout (3 s), not before.
line=""
IFS= read -r -t 15 line <&"$WS_OUT" || fail "the WebSocket was not closed within 15 s of the reload"
t_closed="$(_bed_now_us)"
assert_contains "$line" "closed" "the WebSocket's end"
held_ms=$(((t_closed - t_reload) / 1000))
echo "the WebSocket was closed ${held_ms} ms after the reload"
((held_ms >= 2000)) || fail "closed after ${held_ms} ms, before worker_shutdown_timeout (3 s)"
for w in $old_workers; do
	wait_for "old worker $w to exit" 10 _bed_not_alive "$w" || fail "old worker $w still alive"
done
wait "$ws_pid" 2>/dev/null || true

echo "== 4. minimum interval between reloads"
bed_stop_proxygen
px_start_proxygen --min-reload-interval-ms 2500 --debounce-ms 100
gen="$(px_generation)"
px_status dave d dddd00000000000d Running "$(px_new_ports 1)"
wait_for "first reload" 15 px_generation_not "$gen" || fail "no first reload"
t1="$(_bed_now_us)"
gen="$(px_generation)"
px_status erin e eeee00000000000e Running "$(px_new_ports 1)"
wait_for "second reload" 15 px_generation_not "$gen" || fail "no second reload"
gap_ms=$((($(_bed_now_us) - t1) / 1000))
echo "second reload ${gap_ms} ms after the first"
((gap_ms >= 2200)) || fail "reloads ${gap_ms} ms apart, minimum interval 2500 ms"

echo "== 5. a configuration nginx -t refuses"
bed_stop_proxygen
cat >"$BED/nginx-wrap" <<EOF
#!/bin/sh
# The real nginx, except that -t fails while $BED/fail-t exists.
for a; do
	if [ "\$a" = -t ] && [ -e "$BED/fail-t" ]; then
		echo "nginx: [emerg] validation refused by the test's wrapper" >&2
		exit 1
	fi
done
exec nginx "\$@"
EOF
chmod +x "$BED/nginx-wrap"
px_start_proxygen --nginx "$BED/nginx-wrap" --min-reload-interval-ms 0
gen="$(px_generation)"
touch "$BED/fail-t"
F=ffff00000000000f
px_status frank f "$F" Running "${PA[4]}"
wait_for "a refused validation" 15 px_metric_ge 'klangk_proxygen_apply_failures_total{stage="validate"}' 1 ||
	fail "no validation failure counted"
assert_eq "$gen" "$(px_generation)" "generation serving after a refused render"
assert_eq "$gen" "$(px_live_generation)" "generation of the live nginx.conf after a refused render"
assert_eq 404 "$(http_code "$NGX/hosted/$F/${PA[4]}/")" "the refused route"
assert_contains "$(curl -sf "$NGX/hosted/$A/${PA[0]}/")" "workspace=$A" "old routes keep serving"
# proxy-gen retries the refused render with backoff, so a retry's temp file
# may exist for the moment its nginx -t runs; what must not happen is one
# left behind.
_no_tmp() { [ -z "$(find "$NGINX_DIR" -maxdepth 1 -name '.nginx.conf.tmp.*')" ]; }
wait_for "no temp file left after a refused render" 10 _no_tmp ||
	fail "temp files after a refused render: $(find "$NGINX_DIR" -maxdepth 1 -name '.nginx.conf.tmp.*')"
grep -q "nginx -t refused the new configuration.*validation refused by the test" "$BED/proxy-gen.log" ||
	fail "the refusal is not logged"
rm -f "$BED/fail-t"
wait_for "the route once validation passes" 40 px_body_has "$NGX/hosted/$F/${PA[4]}/" "klangk-echo workspace=$A" ||
	fail "not applied after validation passed again"
assert_contains "$(curl -sf "$NGX/hosted/$A/${PA[0]}/")" "workspace=$A" "old routes after recovery"

echo "PASS: test_proxy_reload"
