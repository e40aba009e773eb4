#!/usr/bin/env bash
# manifests/systemd/: every unit passes `systemd-analyze verify` (syntax,
# known directives and values, executables present), with the binaries'
# directory put where the units expect /usr/local/bin; each restarts, reads
# an optional environment file from /etc/klangk/ and is hardened; the two
# that reload do it with SIGHUP; and the example settings file is one the
# controller accepts (klangk-controller --check), a bad one is refused.
# No systemd needs to run: verify works offline.
# e2e: engine-independent
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
source "$HERE/assert.sh"
: "${BIN:=$REPO/bin}"

command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing (apt-get install systemd)"
DIR="$(mktemp -d /tmp/klangk-units.XXXXXX)"
trap 'rm -rf "$DIR"' EXIT

units=("$REPO"/manifests/systemd/*.service)
assert_eq 4 "${#units[@]}" "units"
for u in "${units[@]}"; do
	# The units name the installed paths; verify checks that executables
	# exist, so point them at this build instead.
	grep -q '^ExecStart=/usr/' "$u" || fail "$(basename "$u"): ExecStart is not an installed path"
	sed "s#/usr/local/bin/#$BIN/#g" "$u" >"$DIR/$(basename "$u")"
done
out="$(systemd-analyze verify --man=no "$DIR"/*.service 2>&1)" || fail "systemd-analyze verify: $out"
# Warnings count too (an unknown directive is only a warning).
[ -z "$out" ] || fail "systemd-analyze verify said: $out"

# Each unit has what an operator expects of it.
for u in "${units[@]}"; do
	n="$(basename "$u")"
	grep -q '^Restart=' "$u" || fail "$n: no Restart="
	grep -q '^EnvironmentFile=-/etc/klangk/' "$u" || fail "$n: no optional EnvironmentFile in /etc/klangk"
	grep -q '^NoNewPrivileges=yes' "$u" || fail "$n: not hardened"
	grep -q '^ProtectSystem=strict' "$u" || fail "$n: not hardened"
done
for n in klangk-controller klangk-proxy; do
	grep -q '^ExecReload=/bin/kill -HUP \$MAINPID' "$REPO/manifests/systemd/$n.service" ||
		fail "$n: no ExecReload sending SIGHUP"
done

# The example settings file is one the controller accepts.
"$BIN/klangk-controller" --config "$REPO/manifests/systemd/klangk.conf" --check >/dev/null ||
	fail "the example klangk.conf is refused"
conf="$DIR/klangk.conf"
cp "$REPO/manifests/systemd/klangk.conf" "$conf"
echo "KLANGK_NO_SUCH_SETTING=1" >>"$conf"
out="$("$BIN/klangk-controller" --config "$conf" --check 2>&1)" && fail "a bad settings file was accepted"
assert_contains "$out" "unknown setting KLANGK_NO_SUCH_SETTING" "a bad line is named"
echo "ok"
