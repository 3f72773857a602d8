#!/usr/bin/env bash
# packaging/systemd/check.sh - the service units, checked without a running
# systemd: systemd-analyze verify (syntax, unknown keys, the command and the
# man pages they name) and security (its exposure score), then what tide needs of them: the exit codes that
# wait for a human, the user, the environment file, the hardening, no secret.
# Needs ./tide built; takes a second.
set -euo pipefail
cd "$(dirname "$0")/../.."
fail=0
err() { echo "packaging/systemd/check.sh: $*" >&2; fail=1; }
command -v systemd-analyze >/dev/null || { echo "packaging/systemd/check.sh: no systemd-analyze (make deps)" >&2; exit 1; }
command -v scdoc >/dev/null || { echo "packaging/systemd/check.sh: no scdoc (make deps)" >&2; exit 1; }
[ -x ./tide ] || { echo "packaging/systemd/check.sh: ./tide is not built (make)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the pages Documentation= names, where man finds them
mkdir -p "$tmp/man/man1" "$tmp/man/man5"
for s in man/*.scd; do
	p=${s#man/}; p=${p%.scd}
	scdoc < "$s" > "$tmp/man/man${p##*.}/$p"
done

# required KEY=VALUE lines of every unit (exactly as written)
required='User=tide
Group=tide
EnvironmentFile=/etc/tide/%i.conf
Restart=on-failure
RestartPreventExitStatus=2 4 5
KillSignal=SIGTERM
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
StateDirectory=tide*
CapabilityBoundingSet='

n=0
for unit in packaging/systemd/*@.service; do
	name=$(basename "$unit" @.service)
	# an instance of the template, running the tide just built
	sed "s#/usr/bin/tide #$PWD/tide #" "$unit" > "$tmp/$name@check.service"
	out=$(MANPATH="$tmp/man" systemd-analyze verify "$tmp/$name@check.service" 2>&1) ||
		err "$unit: systemd-analyze verify failed: $out"
	[ -z "$out" ] || err "$unit: systemd-analyze verify warns: $out"
	# systemd's own hardening score (0 best, 10 worst) stays low: a unit that
	# loses its sandboxing fails here even if it keeps the lines below
	if ! out=$(systemd-analyze security --offline=yes --threshold=30 "$tmp/$name@check.service" 2>&1); then
		err "$unit: systemd-analyze security scores it over 3.0: $(tail -1 <<<"$out")"
	fi
	while IFS= read -r kv; do
		grep -qx -- "$kv" "$unit" 2>/dev/null || { case $kv in *\*) grep -q "^${kv%\*}" "$unit" ;; *) false ;; esac; } ||
			err "$unit lacks the line '$kv'"
	done <<<"$required"
	grep -qE '^TimeoutStopSec=[0-9]+(s|min)$' "$unit" || err "$unit sets no TimeoutStopSec for tide's last fsync and publish"
	# the exit codes that retry (3 source, 6 disk, 7 store) must not be prevented
	for code in 3 6 7; do
		grep -qE "^RestartPreventExitStatus=.*\\b$code\\b" "$unit" &&
			err "$unit prevents a restart on exit code $code, which may pass"
	done
	# the command exists and takes every option the unit gives it
	exec=$(sed -n 's/^ExecStart=//p' "$unit")
	cmd=$(awk '{ print $2 }' <<<"$exec")
	help=$(./tide "$cmd" --help 2>&1) || err "$unit runs 'tide $cmd', which this build does not have"
	for o in $(grep -oE '(^| )--?[A-Za-z][A-Za-z-]*' <<<"$exec"); do
		grep -qE -- "(^|[ ,])$o([=, ]|$)" <<<"$help" || err "$unit gives 'tide $cmd' $o, which its --help does not list"
	done
	# every variable it reads is documented, in its header and in the example
	for v in $(grep -oE '\$\{?TIDE_[A-Z_]+' <<<"$exec" | tr -d '${' | sort -u); do
		grep -qE "^#   $v " "$unit" || err "$unit reads $v without documenting it in its header"
		grep -qE "^$v=" packaging/systemd/tide.conf.example || err "tide.conf.example does not set $v ($unit reads it)"
	done
	# secrets live in the 0600 environment file, never in a unit
	grep -iqE '^[^#]*(password|secret|PGPASSWORD|AWS_SECRET)' "$unit" && err "$unit holds a secret"
	n=$((n + 1))
done
[ "$n" = 2 ] || err "expected the units tide-stream@ and tide-apply@, found $n"
[ "$fail" = 0 ] || exit 1
echo "packaging/systemd/check.sh: $n units verify (systemd-analyze) and say what tide needs"
