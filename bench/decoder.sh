#!/usr/bin/env bash
# bench/decoder.sh - drain one backlog through the tide decoder, pgoutput
# and the no-op floor, in the same run on the same cluster.
#
# Usage: bench/decoder.sh [insert|tpcb] [SIZE] [WORKDIR]
#   insert: SIZE transactions of 100 jsonb-heavy rows (the anchors' workload)
#   tpcb:   SIZE pgbench tpcb-like transactions at scale 10
# Defaults: insert 5000 (the anchors' 500k rows), tpcb 50000.
#
# Every drain is pg_recvlogical --endpos into a file, as the anchors do; the
# figures that matter are the ratios printed at the end: tide against the
# floor (time) and against pgoutput binary (bytes), both measured here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}
. "$here/lib.sh"
. "$here/workload.sh"
kind=${1:-insert}
case $kind in insert) size=${2:-5000} ;; tpcb) size=${2:-50000} ;;
	*) echo "usage: $0 insert|tpcb [SIZE] [WORKDIR]" >&2; exit 2 ;; esac
W=${3:-/tmp/tide-bench-decoder}
S=$W/src; SP=56442
mkdir -p "$W"; [ "$(id -u)" = 0 ] && chown postgres "$W"

# The floor: the anchors' no-op plugin, built here from its source.
noop_src=$here/noop
make -s -C "$noop_src" >/dev/null
export TIDE_LIBDIR="$TIDE_ROOT/decoder:$noop_src"
[ -f "$TIDE_ROOT/decoder/tide.so" ] || { echo "build first: make" >&2; exit 1; }

pg_down "$S"; rm -f "$W"/*.out
pg_up "$S" $SP
trap 'pg_down "$S"' EXIT
ps() { psql -X -q -h "$S" -p $SP -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

bench_schema "$kind"
ps -c "CREATE PUBLICATION pub FOR ALL TABLES"
for s in nd:noop_decoding po:pgoutput td:tide tt:test_decoding; do
	ps -c "SELECT pg_create_logical_replication_slot('${s%%:*}', '${s##*:}')" >/dev/null
done

bench_run "$kind" "$size"
lsn1=$(ps -Atc "SELECT pg_current_wal_lsn()")
# Row changes, counted once through test_decoding (not timed).
changes=$(ps -Atc "SELECT count(*) FROM pg_logical_slot_get_changes('tt', NULL, NULL)
                   WHERE data NOT LIKE 'BEGIN%' AND data NOT LIKE 'COMMIT%'")
echo "workload $kind x $size: $changes row changes, up to $lsn1"

declare -A secs bytes zbytes
drain() { # name slot options...
	local name=$1 slot=$2; shift 2
	local out=$W/$name.out a b
	sync; a=$(now)
	pg_recvlogical -h "$S" -p $SP -U postgres -d postgres -S "$slot" --start \
		--endpos="$lsn1" --no-loop -f "$out" "$@"
	b=$(now)
	secs[$name]=$(el "$a" "$b")
	bytes[$name]=$(stat -c %s "$out")
	zbytes[$name]=$(zstd -q -3 -c "$out" | wc -c)
	printf '%-10s %8.2f s %12d bytes %8.1f B/change %10d zstd-3 %7.1f B/change\n' "$name" \
		"${secs[$name]}" "${bytes[$name]}" "$(echo "${bytes[$name]}/$changes" | bc -l)" \
		"${zbytes[$name]}" "$(echo "${zbytes[$name]}/$changes" | bc -l)"
}
drain floor nd
drain pgoutput po -o proto_version=1 -o publication_names=pub -o binary=true
drain tide td

# What tide sent must be the whole backlog: count its row messages.
got=$("$TIDE_ROOT/tide" inspect "$W/tide.out" | grep -c -E '^(INSERT|UPDATE|DELETE) ')
[ "$got" = "$changes" ] || { echo "tide stream holds $got row changes, expected $changes" >&2; exit 1; }

echo
printf 'tide drain / floor:            %5.2fx  (target <= 1.5)\n' "$(echo "${secs[tide]}/${secs[floor]}" | bc -l)"
printf 'tide / pgoutput time:          %5.2fx\n' "$(echo "${secs[tide]}/${secs[pgoutput]}" | bc -l)"
printf 'tide / pgoutput raw bytes:     %5.2fx  (target < 1)\n' "$(echo "${bytes[tide]}/${bytes[pgoutput]}" | bc -l)"
printf 'tide / pgoutput zstd-3 bytes:  %5.2fx\n' "$(echo "${zbytes[tide]}/${zbytes[pgoutput]}" | bc -l)"
