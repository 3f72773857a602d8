#!/usr/bin/env bash
# packaging/deb-check.sh - the packages make deb wrote into dist/, checked
# without installing them (dpkg -i would replace the tide.so that the test
# suites of this machine load): each holds what it must, the program runs
# and knows every command the manual pages document, the plugin exports
# its entry points, the maintainer scripts parse.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
err() { echo "packaging/deb-check.sh: $*" >&2; fail=1; }
v=$(dpkg-parsechangelog -S Version)
a=$(dpkg --print-architecture)
tool=dist/tide_${v}_$a.deb
plugin=dist/postgresql-15-tide_${v}_$a.deb
for f in "$tool" "$plugin"; do
	[ -f "$f" ] || { echo "packaging/deb-check.sh: no $f (make deb)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# what each package must hold
files=$(dpkg -c "$tool" | awk '{ print $6 }')
want="./usr/bin/tide ./lib/systemd/system/tide-stream@.service ./lib/systemd/system/tide-apply@.service
./usr/share/doc/tide/examples/tide.conf.example ./etc/tide/"
for s in man/*.scd; do
	p=${s#man/}; p=${p%.scd}
	want="$want ./usr/share/man/man${p##*.}/$p.gz"
done
for w in $want; do
	grep -qxF "$w" <<<"$files" || err "$tool lacks $w"
done
pkglib=$(/usr/lib/postgresql/15/bin/pg_config --pkglibdir)
dpkg -c "$plugin" | awk '{ print $6 }' | grep -qxF ".$pkglib/tide.so" || err "$plugin lacks $pkglib/tide.so"

# the program runs, and has each command a page documents
dpkg -x "$tool" "$tmp/tool"
"$tmp/tool/usr/bin/tide" --version >/dev/null || err "the packaged tide does not run"
for s in man/tide-*.1.scd; do
	c=${s#man/tide-}; c=${c%.1.scd}
	"$tmp/tool/usr/bin/tide" "$c" --help >/dev/null 2>&1 || err "the packaged tide has no command $c"
done
# the plugin is one PostgreSQL loads as an output plugin
dpkg -x "$plugin" "$tmp/plugin"
syms=$(nm -D --defined-only "$tmp/plugin$pkglib/tide.so")
for s in Pg_magic_func _PG_output_plugin_init; do
	grep -qw "$s" <<<"$syms" || err "tide.so does not export $s"
done
# and renders nothing as text: that is tide_render.so's, for the tests
! grep -qw tide_render <<<"$syms" || err "tide.so exports tide_render (it belongs in tide_render.so)"
! grep -qw proto_value_text <<<"$syms" || err "tide.so carries proto/src/value.c"
# the maintainer scripts parse, and postinst makes the user the units name
dpkg-deb -e "$tool" "$tmp/control"
for s in "$tmp"/control/{preinst,postinst,prerm,postrm}; do
	[ ! -e "$s" ] || sh -n "$s" || err "$(basename "$s") does not parse"
done
grep -q 'adduser --system' "$tmp/control/postinst" || err "postinst creates no system user"
dpkg-deb -f "$tool" Depends | grep -q 'postgresql-client' || err "$tool does not depend on postgresql-client (pg_dump, pg_restore)"
[ "$fail" = 0 ] || exit 1
echo "packaging/deb-check.sh: $tool and $plugin hold and run what they must"
