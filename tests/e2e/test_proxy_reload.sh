#!/usr/bin/env bash
# proxy-gen's apply pipeline on a real nginx:
#   1. a status change that leaves the routes as they are causes no reload,
#      and neither does a restart of proxy-gen (same master, same workers);
#      the restart removes the temp files a crash left behind;
#   2. 50 status changes in a burst cause exactly one render and one reload;
#      changes that never pause are applied within --max-delay-ms;
#   3. a WebSocket opened before a reload keeps working after it, on the old
#      worker, until worker_shutdown_timeout closes it; new connections use
#      the new configuration;
#   3b. a reload is confirmed (/readyz) only once no old worker takes new
#      connections (one held with SIGSTOP keeps it unconfirmed);
#   4. two changes in a row are applied at least --min-reload-interval-ms
#      apart;
#   5. a render that `nginx -t` refuses (an nginx wrapper that fails -t on
#      demand: a legitimate failure of the real validation step) leaves the
#      old configuration serving, is counted in /metrics, and is applied once
#      validation passes again;
#   6. the apply pipeline's steps, as strace sees them: a temp file in the
#      directory, written and fsynced, `nginx -t` on that file, renamed over
#      nginx.conf, the directory fsynced, then SIGHUP;
#   7. a reload nginx does not take (nginx -t passes, but the new listen
#      port is taken) is not confirmed by the status socket: counted as
#      stage="confirm", the old generation keeps serving;
#   8. the periodic resync starts again an nginx that died, without any
#      change in etcd.
# e2e: engine-independent
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
# What a crash between writing and renaming leaves behind goes at start;
# other files stay.
echo "stale" >"$NGINX_DIR/.nginx.conf.tmp.99999"
echo "keep" >"$NGINX_DIR/keep.me"
px_start_proxygen "${ARGS[@]}"
[ ! -e "$NGINX_DIR/.nginx.conf.tmp.99999" ] || fail "a stale temp file survived the start"
[ -e "$NGINX_DIR/keep.me" ] || fail "the start removed a file that is not a temp file"
rm -f "$NGINX_DIR/keep.me"
assert_eq 0 "$(px_metric klangk_proxygen_reloads_total)" "reloads after a restart"
assert_eq 1 "$(px_metric klangk_proxygen_unchanged_total)" "identical renders after a restart"
assert_eq "$master" "$(px_master)" "nginx master after a restart"
assert_eq "$workers" "$(px_workers)" "nginx workers after a restart"
grep -q "nginx already serves this configuration; no reload" "$BED/proxy-gen.log" ||
	fail "no 'already serves' in the log"
echo "ok: no reload for identical renders, also across a restart"

echo "== 2. a burst of 50 changes: one reload"
renders="$(px_metric klangk_proxygen_renders_total)"
read -ra PBURST <<<"$(px_new_ports 50)"
read -r ms _ <<<"$(px_status_series burst 50 "${PBURST[0]}" e 0)"
echo "50 status writes took ${ms} ms"
wait_for "the burst's routes" 15 px_metric_is klangk_proxygen_routes 55 || fail "routes: $(px_metric klangk_proxygen_routes)"
wait_for "nothing pending" 10 px_settled || fail "changes still pending"
assert_eq 1 "$(px_metric klangk_proxygen_reloads_total)" "reloads for a burst of 50 changes"
assert_eq $((renders + 1)) "$(px_metric klangk_proxygen_renders_total)" "renders for a burst of 50 changes"
assert_eq 55 "$(grep -cE "^ +[0-9a-f]+/[0-9]+ 127.0.0.1:[0-9]+;" "$NGINX_DIR/nginx.conf")" "routes in nginx.conf"

echo "== 2b. changes that never pause: applied by --max-delay-ms"
# A change every 100 ms for 3 s never leaves a 1 s quiet window; with a
# maximum delay of 1.5 s the first of them is rendered (and applied) before
# the last is written.
bed_stop_proxygen
px_start_proxygen "${ARGS[@]}" --debounce-ms 1000 --max-delay-ms 1500
renders="$(px_metric klangk_proxygen_renders_total)"
read -ra PSTREAM <<<"$(px_new_ports 30)"
read -r ms gap <<<"$(px_status_series stream 30 "${PSTREAM[0]}" f 100)"
echo "30 status writes took ${ms} ms, the longest pause ${gap} ms"
(($(px_metric klangk_proxygen_renders_total) > renders)) ||
	fail "nothing applied during ${ms} ms of changes (max delay 1.5 s)"
bed_stop_proxygen
px_start_proxygen "${ARGS[@]}"

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

echo "== 3b. confirmed only when no old worker takes connections"
# A reload starts the new workers before the old ones are told to stop, and
# an old worker takes new connections with the old configuration until it
# handles that. One old worker is held (SIGSTOP) so that it cannot: the new
# generation answers, yet the apply is not confirmed while the held worker
# could still take a connection; it is once the worker is let go.
read -r held _ <<<"$(px_workers)"
gen="$(px_generation)"
kill -STOP "$held"
px_status fay f ffff00000000000f Running "$(px_new_ports 1)"
wait_for "the new generation answering" 15 px_generation_not "$gen" || fail "no reload"
if wait_for "proxy-gen settled" 3 px_settled 2>/dev/null; then
	fail "confirmed while old worker $held (held) was still taking connections"
fi
assert_contains "$(curl -s "http://127.0.0.1:$PX_METRICS_PORT/readyz")" "pending" "readyz while the old worker is held"
kill -CONT "$held"
wait_for "proxy-gen settled" 15 px_settled || fail "not confirmed after the old worker was let go"
title="$(tr '\0' ' ' <"/proc/$held/cmdline" 2>/dev/null || true)"
[ -z "$title" ] || assert_contains "$title" "shutting down" "the old worker once confirmed"
echo "ok: confirmed only after the old worker stopped taking connections"

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

echo "== 6. the pipeline's steps"
bed_stop_proxygen
px_start_proxygen --min-reload-interval-ms 0
dir="$(realpath "$NGINX_DIR")"
master="$(px_master)"
gen="$(px_generation)"
strace -f -y -s 256 -o "$BED/strace.log" -e trace=openat,write,fsync,rename,renameat,renameat2,execve,kill \
	-p "$BED_PROXYGEN_PID" 2>"$BED/strace.err" &
strace_pid=$!
wait_for "strace to attach" 10 grep -q attached "$BED/strace.err" || fail "strace did not attach"
px_status grace g 99990000000000a9 Running "$(px_new_ports 1)"
wait_for "the reload" 15 px_generation_not "$gen" || fail "no reload"
kill -INT "$strace_pid"
wait "$strace_pid" || true
# The steps that touch the temp file, the directory and nginx, in order
# (repeats collapsed: several writes, execvp trying each PATH entry).
steps="$(awk -v dir="$dir" -v master="$master" '
	function step(s) { if (s != last) { printf "%s ", s; last = s } }
	{
		tmp = index($0, dir "/.nginx.conf.tmp.")
		if ($2 ~ /^openat\(/ && tmp && /O_CREAT/) step("open-tmp")
		else if ($2 ~ /^write\(/ && tmp) step("write-tmp")
		else if ($2 ~ /^fsync\(/ && tmp) step("fsync-tmp")
		else if ($2 ~ /^execve\(/ && tmp && index($0, "\"-t\"")) step("nginx-t")
		else if ($2 ~ /^rename/ && tmp && index($0, dir "/nginx.conf\"")) step("rename")
		else if ($2 ~ /^fsync\(/ && index($0, "<" dir ">")) step("fsync-dir")
		else if ($2 ~ /^kill\(/ && index($0, "kill(" master ", SIGHUP)")) step("sighup")
	}' "$BED/strace.log")"
assert_eq "open-tmp write-tmp fsync-tmp nginx-t rename fsync-dir sighup " "$steps" "the apply's steps"
# nginx -t checked the very file that was renamed into place.
tmpfile="$(grep -E '^[0-9]+ +rename' "$BED/strace.log" | grep -o "\"$dir/\.nginx\.conf\.tmp\.[0-9]*\"" | tr -d '"')"
[ -n "$tmpfile" ] || fail "no rename of a temp file in the trace"
grep -E '^[0-9]+ +execve\(' "$BED/strace.log" | grep -F '"-t"' | grep -qF "\"-c\", \"$tmpfile\"]" ||
	fail "nginx -t did not run on $tmpfile"
echo "ok: $steps"

echo "== 7. a reload nginx does not take"
bed_stop_proxygen
gen="$(px_generation)"
failed="$(grep -c "nginx did not confirm" "$BED/proxy-gen.log" || true)"
# nginx -t does not bind, so a port that is taken (etcd's) passes it; the
# master then fails to bind it on SIGHUP and keeps the old configuration.
bed_start_proxygen --port "$ETCD_PORT" --min-reload-interval-ms 0 \
	--metrics-address "127.0.0.1:$PX_METRICS_PORT"
wait_for "the unconfirmed reload" 30 px_metric_ge 'klangk_proxygen_apply_failures_total{stage="confirm"}' 1 ||
	fail "the reload was not reported unconfirmed"
assert_eq 0 "$(px_metric klangk_proxygen_reloads_total)" "reloads counted"
assert_eq "$gen" "$(px_generation)" "generation serving"
assert_eq 503 "$(http_code "http://127.0.0.1:$PX_METRICS_PORT/readyz")" "readyz with an unconfirmed configuration"
assert_contains "$(curl -sf "$NGX/hosted/$A/${PA[0]}/")" "workspace=$A" "the old configuration serves"
(($(grep -c "nginx did not confirm generation" "$BED/proxy-gen.log") > failed)) || fail "the failure is not logged"
grep -q "bind() to 127.0.0.1:$ETCD_PORT failed" "$NGINX_DIR/error.log" || fail "no bind failure in nginx's error.log"
bed_stop_proxygen
assert_eq 0 "$BED_LAST_RC" "proxy-gen's exit status"

echo "== 8. the periodic resync"
px_start_proxygen --resync-seconds 2
gen="$(px_generation)"
starts="$(px_metric klangk_proxygen_nginx_starts_total)"
bed_stop_nginx
assert_eq 000 "$(http_code "$NGX/hosted/$A/${PA[0]}/")" "nothing listens while nginx is down"
wait_for "nginx started again" 15 px_body_has "$NGX/hosted/$A/${PA[0]}/" "workspace=$A" ||
	fail "the resync did not start nginx again"
assert_eq $((starts + 1)) "$(px_metric klangk_proxygen_nginx_starts_total)" "nginx starts"
assert_eq "$gen" "$(px_generation)" "generation after the resync"

echo "PASS: test_proxy_reload"
