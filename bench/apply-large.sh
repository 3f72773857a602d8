#!/usr/bin/env bash
# bench/apply-large.sh - tide apply's memory on a large source transaction:
# one transaction of about SIZE_MB among small ones, streamed into
# segments, then applied with --jobs N and without, each into a database
# of its own on one replica, in the same run.
#
# Usage: bench/apply-large.sh [--jobs N] [SIZE_MB] [WORKDIR]
#   N defaults to 4, SIZE_MB to 1024 (2.56M jsonb-heavy rows, workload.sh's
#   "bigtxn"), with SMALL (default 200) transactions of 100 rows before it
#   and as many after it, so that --jobs has units in flight when the large
#   one arrives.
# A transaction that spans segment blocks is never handed to a worker:
# tide apply --jobs drains the workers and applies it on its own session,
# streaming (applier/jobs.c, "Large transactions").  Prints the time, tide's
# peak RSS (GNU time, the kernel's high-water mark) against the 64 MiB
# target, and the replica XIDs of each run; exits non-zero when a replica
# differs from the source.  What holds the memory: run the same tide apply
# under heaptrack (README, "Benchmarks").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}
. "$here/lib.sh"
. "$here/workload.sh"
jobs=4
if [ "${1:-}" = --jobs ]; then jobs=${2:?--jobs needs a number}; shift 2; fi
mb=${1:-1024}
small=${SMALL:-200}
W=${2:-/tmp/tide-bench-apply-large}
S=$W/src; SP=56460; R=$W/rep; RP=56461
mkdir -p "$W"; [ "$(id -u)" = 0 ] && chown postgres "$W"
[ -x "$TIDE_ROOT/tide" ] && [ -f "$TIDE_ROOT/decoder/tide.so" ] || { echo "build first: make" >&2; exit 1; }

pg_down "$S"; pg_down "$R"; rm -rf "$W"/*.time "$W/segs"
pg_up "$S" $SP
trap 'pg_down "$S"; pg_down "$R"' EXIT
pg_up "$R" $RP
q() { local h=$1 p=$2 d=$3; shift 3; psql -X -q -h "$h" -p "$p" -U postgres -d "$d" -v ON_ERROR_STOP=1 "$@"; }
xmax() { q "$R" $RP postgres -Atc "SELECT pg_snapshot_xmax(pg_current_snapshot())"; }

bench_schema bigtxn
pg_dump -h "$S" -p $SP -U postgres -Fc -f "$W/base.dump" postgres
for db in serial jobs; do
	q "$R" $RP postgres -c "CREATE DATABASE $db"
	pg_restore -h "$R" -p $RP -U postgres -d "$db" "$W/base.dump"
done
q "$S" $SP postgres -c "SELECT pg_create_logical_replication_slot('tide', 'tide')" >/dev/null

bench_run insert "$small"
a=$(now)
bench_run bigtxn "$mb"
b=$(now)
bench_run insert "$small"
lsn1=$(q "$S" $SP postgres -Atc "SELECT pg_current_wal_lsn()")
rows=$(q "$S" $SP postgres -Atc "SELECT count(*) FROM messages")
echo "workload: $small + 1 + $small source transactions, the large one of $mb MB ($(( mb * 1000000 / 400 )) rows, $(el "$a" "$b") s on the source); $rows rows"

declare -A secs rss usr sys xid

measure stream "$TIDE_ROOT/tide" stream -q -d "host=$S port=$SP user=postgres dbname=postgres" \
	-S tide -D "$W/segs" --endpos "$lsn1"
segbytes=$(cat "$W"/segs/*.tseg* | wc -c)
changes=$("$TIDE_ROOT/tide" ls --json "$W/segs" | sed -n 's/.*"changes":\([0-9]*\).*/\1/p' | paste -sd+ | bc)
echo "segments: $(ls "$W/segs" | wc -l) files, $segbytes bytes, $changes changes"

for run in jobs serial; do
	x0=$(xmax)
	if [ $run = jobs ]; then opt=(--jobs "$jobs"); else opt=(); fi
	measure "$run" "$TIDE_ROOT/tide" apply -d "host=$R port=$RP user=postgres dbname=$run" -D "$W/segs" "${opt[@]}"
	xid[$run]=$(( $(xmax) - x0 ))
done

bad=0
sum() { q "$1" "$2" "$3" -Atc "SELECT count(*) || ' ' || md5(string_agg(md5(x::text), '' ORDER BY x.id)) FROM messages x"; }
m=$(sum "$S" $SP postgres)
for run in jobs serial; do
	r=equal; [ "$m" = "$(sum "$R" $RP $run)" ] || { r=DIFFERENT; bad=1; }
	echo "verify messages (${m%% *} rows): $run $r"
done


echo
printf '%-30s %8.2f s  peak RSS %6.1f MiB\n' "tide stream --endpos" "${secs[stream]}" "$(echo "${rss[stream]}/1024" | bc -l)"
for run in jobs serial; do
	name="tide apply"; [ $run = jobs ] && name="tide apply --jobs $jobs"
	printf '%-30s %8.2f s  peak RSS %6.1f MiB  %4d replica XIDs  (tide CPU %.2f s user, %.2f s sys)\n' "$name" \
		"${secs[$run]}" "$(echo "${rss[$run]}/1024" | bc -l)" "${xid[$run]}" "${usr[$run]}" "${sys[$run]}"
done
echo
printf 'tide apply --jobs %d peak RSS:       %6.1f MiB (target <= 64)\n' "$jobs" "$(echo "${rss[jobs]}/1024" | bc -l)"
printf 'tide apply --jobs %d / --jobs 1 time: %5.2fx\n' "$jobs" "$(echo "${secs[jobs]}/${secs[serial]}" | bc -l)"
[ $bad = 0 ] || { echo "a replica differs from the source" >&2; exit 1; }
