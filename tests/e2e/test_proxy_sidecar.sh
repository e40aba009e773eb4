#!/usr/bin/env bash
# proxy-gen's two sidecar modes against a real nginx:
#   1. --no-start: with no nginx yet, the configuration is validated and put
#      in place and the missing nginx is reported; an nginx started apart
#      (as a sidecar container would run it: foreground, same directory) is
#      then reloaded, never restarted nor started by proxy-gen, and keeps
#      serving when proxy-gen stops.
#   2. --supervise: proxy-gen starts nginx as its child; a SIGKILLed master
#      is replaced (its orphaned workers killed, the route served again); a
#      SIGTERM to proxy-gen stops nginx; a SIGKILLed proxy-gen takes its
#      nginx along.
# e2e: engine-independent
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up
source "$HERE/proxy_helpers.sh"

A=aaaa00000000000a
B=bbbb00000000000b
read -ra PA <<<"$(px_new_ports 5)"
px_container px-a "$A" "${PA[@]}" >/dev/null || fail "container a"
px_status alice a "$A" Running "${PA[@]}"

# ready: proxy-gen's /readyz answers 200.
ready() {
	curl -sf --max-time 2 "http://127.0.0.1:$PX_METRICS_PORT/readyz"
}

echo "== 1. --no-start: reload an nginx found by its pid file"
bed_start_proxygen --no-start --metrics-address "127.0.0.1:$PX_METRICS_PORT"
wait_for "the missing nginx to be reported" 15 grep -q "no nginx running" "$BED/proxy-gen.log" ||
	fail "no error for the missing nginx"
assert_eq 503 "$(http_code "http://127.0.0.1:$PX_METRICS_PORT/readyz")" "readyz without nginx"
[ -s "$NGINX_DIR/nginx.conf" ] || fail "no validated nginx.conf in place"
nginx -t -q -p "$NGINX_DIR/" -e "$NGINX_DIR/error.log" -c "$NGINX_DIR/nginx.conf" || fail "the live nginx.conf is invalid"
nginx -g 'daemon off;' -p "$NGINX_DIR/" -e "$NGINX_DIR/error.log" -c "$NGINX_DIR/nginx.conf" \
	</dev/null >>"$BED/sidecar-nginx.log" 2>&1 &
sidecar=$!
wait_for "proxy-gen to confirm the sidecar serves" 30 ready || fail "never ready with the sidecar nginx"
assert_contains "$(curl -sf "$NGX/hosted/$A/${PA[0]}/")" "workspace=$A" "route through the sidecar"
assert_eq "$sidecar" "$(px_master)" "the master is the sidecar's"
gen="$(px_generation)"
px_status bob b "$B" Running "${PA[4]}"
wait_for "the reload" 15 px_generation_not "$gen" || fail "the sidecar was not reloaded"
assert_contains "$(curl -sf "$NGX/hosted/$B/${PA[4]}/")" "klangk-echo" "new route through the sidecar"
assert_eq "$sidecar" "$(px_master)" "master after a reload (reloaded, not restarted)"
assert_eq 0 "$(px_metric klangk_proxygen_nginx_starts_total)" "nginx starts by proxy-gen"
bed_stop_proxygen
assert_eq 0 "$BED_LAST_RC" "proxy-gen's exit status"
_bed_alive "$sidecar" || fail "the sidecar nginx died with proxy-gen"
assert_contains "$(curl -sf "$NGX/hosted/$A/${PA[0]}/")" "workspace=$A" "serving after proxy-gen stopped"
kill -QUIT "$sidecar"
wait_for "the sidecar to stop" 15 _bed_not_alive "$sidecar" || fail "the sidecar did not stop"
wait "$sidecar" || true

echo "== 2. --supervise: nginx as a supervised child"
px_start_proxygen --supervise
master="$(px_master)"
assert_eq "$BED_PROXYGEN_PID" "$(ps -o ppid= -p "$master" | tr -d ' ')" "nginx's parent"
assert_contains "$(curl -sf "$NGX/hosted/$A/${PA[0]}/")" "workspace=$A" "route through the supervised nginx"
workers="$(px_workers)"
[ -n "$workers" ] || fail "no workers"
kill -KILL "$master"
wait_for "a new master" 20 sh -c "[ -s '$NGINX_DIR/nginx.pid' ] && [ \"\$(cat '$NGINX_DIR/nginx.pid')\" != '$master' ] && kill -0 \"\$(cat '$NGINX_DIR/nginx.pid')\"" ||
	fail "nginx was not restarted"
wait_for "the route again" 20 px_body_has "$NGX/hosted/$A/${PA[0]}/" "workspace=$A" || fail "not served after the restart"
for w in $workers; do
	wait_for "orphaned worker $w to go" 10 _bed_not_alive "$w" || fail "orphaned worker $w of the killed master lives"
done
assert_eq 1 "$(px_metric klangk_proxygen_nginx_deaths_total)" "deaths counted"
assert_eq 2 "$(px_metric klangk_proxygen_nginx_starts_total)" "starts counted"
grep -q "nginx exited unexpectedly; restarting it" "$BED/proxy-gen.log" || fail "the death is not logged"
master="$(px_master)"
workers="$(px_workers)"
bed_stop_proxygen
assert_eq 0 "$BED_LAST_RC" "proxy-gen's exit status"
for p in $master $workers; do
	_bed_not_alive "$p" || fail "nginx process $p outlived proxy-gen"
done
assert_eq 000 "$(http_code "$NGX/hosted/$A/${PA[0]}/")" "nothing listens after the stop"

px_start_proxygen --supervise
master="$(px_master)"
kill -KILL "$BED_PROXYGEN_PID"
wait_for "nginx to follow a killed proxy-gen" 15 _bed_not_alive "$master" || fail "nginx outlived a SIGKILLed proxy-gen"
bed_stop_proxygen

echo "PASS: test_proxy_sidecar"
