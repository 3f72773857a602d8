#!/usr/bin/env bash
# tests/man/check.sh - every command has a manual page whose options are
# exactly those its --help prints, tide(1) has the exit codes tide --help
# lists, and every page renders without a warning.
#
# Options of --help are read from its option lines (two to eight spaces, then
# a dash; longer indents are continuation lines) and its Usage line; those of
# a page from the lines of its OPTIONS section that start with "*-". Both
# long and short options are compared. Runs in a second, needs ./tide built.
set -euo pipefail
cd "$(dirname "$0")/../.."
TIDE=${TIDE:-./tide}
SCDOC=${SCDOC:-scdoc}
fail=0
err() { echo "tests/man/check.sh: $*" >&2; fail=1; }

[ -x "$TIDE" ] || { echo "tests/man/check.sh: $TIDE is not built (make)" >&2; exit 1; }
command -v "$SCDOC" >/dev/null || { echo "tests/man/check.sh: no scdoc (make deps)" >&2; exit 1; }

# help_options CMD - the options `tide CMD --help` prints, one a line
help_options() {
	"$TIDE" "$1" --help 2>&1 | awk '
		/^Usage:/ { print; next }
		match($0, /^ +-/) && RLENGTH >= 3 && RLENGTH <= 9 {
			sub(/^ +/, ""); sub(/  .*/, ""); print }' |
		grep -oE '(^|[][ ,])--?[A-Za-z?][A-Za-z-]*' | sed -E 's/^[][ ,]//' |
		grep -vxE -- '-|--' | sort -u
}

# man_options PAGE - the options the OPTIONS section of PAGE lists
man_options() {
	awk '/^# / { in_opts = ($0 == "# OPTIONS"); next }
		in_opts && /^\*-/ { gsub(/[*_]/, ""); print }' "$1" |
		grep -oE '(^|[ ,])--?[A-Za-z?][A-Za-z-]*' | sed -E 's/^[ ,]//' | sort -u
}

# the commands tide --help lists
commands=$("$TIDE" --help | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }')
[ -n "$commands" ] || err "tide --help lists no command"
n=0
for c in $commands; do
	page=man/tide-$c.1.scd
	if [ ! -f "$page" ]; then err "tide $c has no manual page ($page)"; continue; fi
	h=$(help_options "$c")
	[ -n "$h" ] || { err "tide $c --help lists no option"; continue; }
	m=$(man_options "$page")
	missing=$(comm -23 <(echo "$h") <(echo "$m") | tr '\n' ' ')
	extra=$(comm -13 <(echo "$h") <(echo "$m") | tr '\n' ' ')
	[ -z "$missing" ] || err "$page lacks what 'tide $c --help' prints: $missing"
	[ -z "$extra" ] || err "$page lists what 'tide $c --help' does not print: $extra"
	grep -q "\\*tide-$c\\*(1)" man/tide.1.scd || err "man/tide.1.scd does not name tide-$c(1)"
	n=$((n + 1))
done
# a page for a command tide no longer has
for page in man/tide-*.1.scd; do
	c=${page#man/tide-}; c=${c%.1.scd}
	grep -qxF "$c" <<<"$commands" || err "$page documents 'tide $c', which tide --help does not list"
done
# tide(1) documents the exit codes tide --help lists, no more, no fewer
h=$("$TIDE" --help | awk '/^Exit codes:/ { on = 1; next } on && /^  [0-9]/ { print $1 }' | sort -n | tr '\n' ' ')
m=$(awk '/^# EXIT STATUS/ { on = 1; next } /^# / { on = 0 }
	on && /^\*[0-9]+\*$/ { gsub(/\*/, ""); print }' man/tide.1.scd | sort -n | tr '\n' ' ')
[ -n "$h" ] || err "tide --help lists no exit code"
[ "$h" = "$m" ] || err "man/tide.1.scd documents the exit codes $m, tide --help lists $h"

# every page renders without a warning, from scdoc or from groff; scdoc
# accepts an unclosed *bold* or _underline_ (the rest of the page is then
# set in it), so its font changes must pair up
for page in man/*.scd; do
	out=$("$SCDOC" < "$page" 2>&1 >/dev/null) || err "$page does not render: $out"
	[ -z "$out" ] || err "$page renders with warnings: $out"
	"$SCDOC" < "$page" 2>/dev/null | awk '{ o += gsub(/\\f[BI]/, "&"); c += gsub(/\\fR/, "&") }
		END { exit o != c }' || err "$page has an unclosed *bold* or _underline_"
	out=$("$SCDOC" < "$page" 2>/dev/null | groff -man -Tutf8 -ww -z 2>&1) || true
	[ -z "$out" ] || err "$page: groff warns: $out"
done
[ "$fail" = 0 ] || exit 1
echo "tests/man/check.sh: $n commands, their pages list exactly the options of --help; $(ls man/*.scd | wc -l) pages render"
