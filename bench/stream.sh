#!/usr/bin/env bash
# bench/stream.sh - drain one backlog to durable files: tide stream into
# segments, beside pgoutput + pg_recvlogical (fsync'ed) and the no-op
# floor, in the same run on the same cluster.
#
# Usage: bench/stream.sh [insert|tpcb|bigtxn] [SIZE] [WORKDIR]
#   insert: SIZE transactions of 100 jsonb-heavy rows (default 5000)
#   tpcb:   SIZE pgbench tpcb-like transactions (default 50000)
#   bigtxn: one transaction of about SIZE MB (default 1024): peak RSS
# Prints seconds, bytes on disk per change and peak RSS, then tide's ratios
# against the floor (time) and pgoutput + zstd -3 (bytes).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}
. "$here/lib.sh"
. "$here/workload.sh"
kind=${1:-insert}
case $kind in insert) size=${2:-5000} ;; tpcb) size=${2:-50000} ;; bigtxn) size=${2:-1024} ;;
	*) echo "usage: $0 insert|tpcb|bigtxn [SIZE] [WORKDIR]" >&2; exit 2 ;; esac
W=${3:-/tmp/tide-bench-stream}
S=$W/src; SP=56443
mkdir -p "$W"; [ "$(id -u)" = 0 ] && chown postgres "$W"
make -s -C "$here/noop" >/dev/null 2>&1
export TIDE_LIBDIR="$TIDE_ROOT/decoder:$here/noop"
[ -x "$TIDE_ROOT/tide" ] && [ -f "$TIDE_ROOT/decoder/tide.so" ] || { echo "build first: make" >&2; exit 1; }

pg_down "$S"; rm -rf "$W"/*.out "$W/segs"
pg_up "$S" $SP
trap 'pg_down "$S"' EXIT
ps() { psql -X -q -h "$S" -p $SP -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
bench_schema "$kind"
ps -c "CREATE PUBLICATION pub FOR ALL TABLES"
for s in nd:noop_decoding po:pgoutput tide:tide tt:test_decoding; do
	ps -c "SELECT pg_create_logical_replication_slot('${s%%:*}', '${s##*:}')" >/dev/null
done
bench_run "$kind" "$size"
lsn1=$(ps -Atc "SELECT pg_current_wal_lsn()")
changes=$(ps -Atc "SELECT count(*) FROM pg_logical_slot_get_changes('tt', NULL, NULL)
                   WHERE data NOT LIKE 'BEGIN%' AND data NOT LIKE 'COMMIT%'")
echo "workload $kind x $size: $changes row changes, up to $lsn1"

declare -A secs bytes rss usr sys
recv=(pg_recvlogical -h "$S" -p $SP -U postgres -d postgres --start --endpos="$lsn1" --no-loop)

measure floor "${recv[@]}" -S nd -f "$W/floor.out"
bytes[floor]=$(stat -c %s "$W/floor.out")
measure pgoutput "${recv[@]}" -S po -F 1 -f "$W/pgoutput.out" -o proto_version=1 -o publication_names=pub -o binary=true
bytes[pgoutput]=$(stat -c %s "$W/pgoutput.out")
bytes[pgoutput_zstd]=$(zstd -q -3 -c "$W/pgoutput.out" | wc -c)
measure tide "$TIDE_ROOT/tide" stream -q -d "host=$S port=$SP user=postgres dbname=postgres" \
	-S tide -D "$W/segs" --endpos "$lsn1"
bytes[tide]=$(cat "$W"/segs/*.tseg* | wc -c)

# Everything must be there, once.
got=$("$TIDE_ROOT/tide" ls --json "$W/segs" | sed -n 's/.*"changes":\([0-9]*\).*/\1/p' | paste -sd+ | bc)
[ "$got" = "$changes" ] || { echo "segments hold $got changes, expected $changes" >&2; exit 1; }

for n in floor pgoutput tide; do
	printf '%-10s %8.2f s %12d bytes %8.1f B/change  peak RSS %6.1f MiB\n' "$n" "${secs[$n]}" \
		"${bytes[$n]}" "$(echo "${bytes[$n]}/$changes" | bc -l)" "$(echo "${rss[$n]}/1024" | bc -l)"
done
printf '%-10s %8s   %12d bytes %8.1f B/change (pgoutput after zstd -3)\n' pgout+zstd "" \
	"${bytes[pgoutput_zstd]}" "$(echo "${bytes[pgoutput_zstd]}/$changes" | bc -l)"
echo
printf 'tide drain to durable segments / floor:  %5.2fx  (target <= 1.5)\n' "$(echo "${secs[tide]}/${secs[floor]}" | bc -l)"
printf 'tide / pgoutput+pg_recvlogical time:     %5.2fx\n' "$(echo "${secs[tide]}/${secs[pgoutput]}" | bc -l)"
printf 'tide bytes on disk / pgoutput+zstd-3:     %5.2fx  (target <= 0.8)\n' "$(echo "${bytes[tide]}/${bytes[pgoutput_zstd]}" | bc -l)"
printf 'tide peak RSS:                            %5.1f MiB (target <= 64)\n' "$(echo "${rss[tide]}/1024" | bc -l)"
