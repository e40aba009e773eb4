#!/usr/bin/env bash
# klangkc's options are declared once: for every option of every table
# (`klangkc help --options`, klangkc's own and each verb's), getopt accepts
# it (short, long and --long=ARG), `--help` lists it, the man page lists it
# and bash completion offers it; docs/klangkc.1 is what the tables generate
# and renders without warnings. No etcd is needed: --help ends the parse
# before anything connects.
# e2e: engine-independent
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
source "$HERE/assert.sh"
: "${BIN:=$REPO/bin}"
K="$BIN/klangkc"
W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT

# sample ARG: a value each option argument accepts, by its name in help.
sample() {
	case "$1" in
	NS) echo default ;;
	PATH | FILE) echo "$W/x.yaml" ;;
	MODE) echo client ;;
	SEL) echo app=x ;;
	FORMAT) echo json ;;
	DURATION) echo 30s ;;
	COND) echo delete ;;
	NEW) echo copy ;;
	SIZE) echo 1G ;;
	ROLE) echo coder ;;
	URLS | URL) echo http://127.0.0.1:1 ;;
	N) echo 10 ;;
	*) fail "no sample value for an option argument named $1 (add one here)" ;;
	esac
}

"$K" help --options >"$W/options" || fail "klangkc help --options failed"
[ -s "$W/options" ] || fail "klangkc help --options listed nothing"
"$K" help --man >"$W/klangkc.1"
diff -u "$REPO/docs/klangkc.1" "$W/klangkc.1" >&2 ||
	fail "docs/klangkc.1 is not what the tables generate (klangkc help --man >docs/klangkc.1)"
warnings="$(LC_ALL=C MANWIDTH=100 man --warnings -l "$REPO/docs/klangkc.1" 2>&1 >"$W/man.txt")"
assert_eq "" "$warnings" "man -l docs/klangkc.1 renders without warnings"
# The rendered page, without the indentation of the option paragraphs.
man="$(sed 's/^ *//' "$W/man.txt")"
source <("$K" completion bash)

n=0
while read -r verb short long arg; do
	if [ "$verb" = klangkc ]; then cmd=("$K") section="OPTIONS"; else cmd=("$K" "$verb") section="$verb"; fi
	what="${cmd[*]#"$K"} $long"
	args=()
	if [ "$arg" != - ]; then
		args=("$(sample "$arg")")
	fi
	# getopt accepts it (--help after it still prints the help, exit 0).
	for form in "$long" "$short"; do
		[ "$form" != - ] || continue
		r=0
		"${cmd[@]}" "$form" "${args[@]}" --help >"$W/out" 2>"$W/err" || r=$?
		assert_eq 0 "$r" "$what: '$form ${args[*]}' accepted ($(cat "$W/err"))"
	done
	if [ "$arg" != - ]; then
		r=0
		"${cmd[@]}" "$long=${args[0]}" --help >/dev/null 2>"$W/err" || r=$?
		assert_eq 0 "$r" "$what: '$long=${args[0]}' accepted ($(cat "$W/err"))"
	fi
	# --help lists it, with its short form and argument.
	entry="$long"
	[ "$short" = - ] || entry="$short, $long"
	[ "$arg" = - ] || entry="$entry $arg"
	[ -e "$W/help.$verb" ] || "${cmd[@]}" --help >"$W/help.$verb"
	grep -qE "^  $entry( |$)" "$W/help.$verb" ||
		fail "$what: --help does not list '$entry': $(cat "$W/help.$verb")"
	# The man page lists it under the verb (or under OPTIONS).
	if [ "$verb" = klangkc ]; then
		part="$(sed -n '/^OPTIONS$/,/^VERBS$/p' <<<"$man")"
	else
		part="$(awk -v v="$verb" '$0 == v {on = 1; next} on && /^[a-z]+$/ {exit} on' <<<"$man")"
	fi
	grep -qE -- "^$entry( |$)" <<<"$part" ||
		fail "$what: the man page does not list '$entry' in $section"
	# Completion offers it after a dash.
	if [ "$verb" = klangkc ]; then COMP_WORDS=(klangkc -); else COMP_WORDS=(klangkc "$verb" -); fi
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_klangkc
	for form in "$long" "$short"; do
		[ "$form" != - ] || continue
		grep -qxF -- "$form" <<<"$(printf '%s\n' "${COMPREPLY[@]}")" ||
			fail "$what: completion does not offer $form (offers: ${COMPREPLY[*]})"
	done
	n=$((n + 1))
done <"$W/options"
[ "$n" -gt 40 ] || fail "only $n options listed"

# Every verb of klangkc --help has a table (at least --help).
for v in $("$K" --help | sed -n '/^Verbs:/,/^$/p' | awk 'NF > 1 {print $1}'); do
	grep -q "^$v -h --help -$" "$W/options" || fail "$v has no --help in its table"
done

# Option values: fixed sets complete, file arguments complete file names.
touch "$W/x.yaml"
COMP_WORDS=(klangkc apply --dry-run = cl)
COMP_CWORD=4
_klangkc
assert_eq "client" "${COMPREPLY[*]}" "completion of --dry-run=VALUE"
COMP_WORDS=(klangkc export -o "$W/x.y")
COMP_CWORD=3
_klangkc
assert_eq "$W/x.yaml" "${COMPREPLY[*]}" "export -o completes a file name, not a format"
COMP_WORDS=(klangkc get -o ya)
COMP_CWORD=3
_klangkc
assert_eq "yaml" "${COMPREPLY[*]}" "get -o completes a format"

# An option a verb does not have is refused with a usage error.
r=0
"$K" unshare a b --role=owner >/dev/null 2>&1 || r=$?
assert_eq 2 "$r" "unshare --role is not an option"
echo "PASS: test_cli_options ($n options)"
