#!/usr/bin/env bash
# bench/decoder.sh - drain one backlog through the tide decoder, pgoutput
# and the no-op floor, in the same run on the same cluster.
#
# Usage: bench/decoder.sh [insert|tpcb] [SIZE] [WORKDIR]
#   insert: SIZE transactions of 100 jsonb-heavy rows (the anchors' workload)
#   tpcb:   SIZE pgbench tpcb-like transactions at scale 10
# Defaults: insert 5000 (the anchors' 500k rows), tpcb 50000.  REPS=3: the
# floor and tide are drained that many times each, alternately, each from a
# fresh copy of its slot, after one untimed drain that brings the WAL into
# the page cache (else the first drain alone pays for reading it).
#
# Every drain is pg_recvlogical --endpos into a file, as the anchors do; the
# figures that matter are the ratios printed at the end: tide against the
# floor (median time) and against pgoutput binary (bytes), both measured
# here.  Beside the wall time, the walsender's own CPU time (utime + stime
# from /proc, sampled until it exits): on a shared machine the steadier
# figure of what the decoder costs the source.
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

declare -A secs bytes zbytes cpu
tck=$(getconf CLK_TCK)
# drain_once SLOT OUT OPTIONS... - sets $d_secs and $d_cpu (walsender CPU)
drain_once() {
	local slot=$1 out=$2 a b pid="" t=0 last=0; shift 2
	rm -f "$out"	# pg_recvlogical -f appends
	sync; a=$(now)
	pg_recvlogical -h "$S" -p $SP -U postgres -d postgres -S "$slot" --start \
		--endpos="$lsn1" --no-loop -f "$out" "$@" &
	local rl=$!
	while kill -0 "$rl" 2>/dev/null; do
		[ -n "$pid" ] || pid=$(ps -Atc "SELECT active_pid FROM pg_replication_slots WHERE slot_name = '$slot'")
		if [ -n "$pid" ] && [ -r "/proc/$pid/stat" ]; then
			t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo "$t")
			[ -n "$t" ] && last=$t
		fi
		sleep 0.02
	done
	wait "$rl"
	b=$(now)
	# a copy is drained once: dropped, so the copies fit max_replication_slots
	ps -c "SELECT pg_drop_replication_slot('$slot')" >/dev/null
	d_secs=$(el "$a" "$b")
	d_cpu=$(echo "$last / $tck" | bc -l)
}
# drain NAME TEMPLATE-SLOT OPTIONS... - REPS drains from copies of the slot
drain() {
	local name=$1 slot=$2 i; shift 2
	local out=$W/$name.out
	for i in $(seq 1 "$REPS"); do
		ps -c "SELECT pg_copy_logical_replication_slot('$slot', '${slot}_$i')" >/dev/null
	done
	eval "${name}_runs=()"
	for i in $(seq 1 "$REPS"); do
		drain_once "${slot}_$i" "$out" "$@"
		eval "${name}_runs+=(\"$d_secs $d_cpu\")"
	done
}
# report NAME - medians of its runs
report() {
	local name=$1 runs
	eval "runs=(\"\${${name}_runs[@]}\")"
	secs[$name]=$(printf '%s\n' "${runs[@]}" | awk '{print $1}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
	cpu[$name]=$(printf '%s\n' "${runs[@]}" | awk '{print $2}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
	bytes[$name]=$(stat -c %s "$W/$name.out")
	zbytes[$name]=$(zstd -q -3 -c "$W/$name.out" | wc -c)
	printf '%-10s %8.2f s (walsender CPU %5.2f s; runs: %s) %12d bytes %8.1f B/change %10d zstd-3 %7.1f B/change\n' "$name" \
		"${secs[$name]}" "${cpu[$name]}" "$(printf '%s ' "${runs[@]}" | awk '{for (i = 1; i <= NF; i += 2) printf "%s%.2f", (i > 1 ? " " : ""), $i}')" \
		"${bytes[$name]}" "$(echo "${bytes[$name]}/$changes" | bc -l)" \
		"${zbytes[$name]}" "$(echo "${zbytes[$name]}/$changes" | bc -l)"
}
REPS=${REPS:-3}
# untimed: the WAL into the page cache
ps -c "SELECT pg_copy_logical_replication_slot('nd', 'warm')" >/dev/null
drain_once warm "$W/warm.out"
floor_runs=(); tide_runs=()
for i in $(seq 1 "$REPS"); do
	# alternate, so that a slow moment of a shared machine hits both
	ps -c "SELECT pg_copy_logical_replication_slot('nd', 'nd_$i'), pg_copy_logical_replication_slot('td', 'td_$i')" >/dev/null
	drain_once "nd_$i" "$W/floor.out"; floor_runs+=("$d_secs $d_cpu")
	drain_once "td_$i" "$W/tide.out"; tide_runs+=("$d_secs $d_cpu")
done
REPS=1 drain pgoutput po -o proto_version=1 -o publication_names=pub -o binary=true
report floor
report pgoutput
report tide

# What tide sent must be the whole backlog: count its row messages.
got=$("$TIDE_ROOT/tide" inspect "$W/tide.out" | grep -c -E '^(INSERT|UPDATE|DELETE) ')
[ "$got" = "$changes" ] || { echo "tide stream holds $got row changes, expected $changes" >&2; exit 1; }

echo
printf 'tide drain / floor:            %5.2fx  (target <= 1.5)\n' "$(echo "${secs[tide]}/${secs[floor]}" | bc -l)"
printf 'walsender CPU, tide / floor:   %5.2fx\n' "$(echo "${cpu[tide]}/${cpu[floor]}" | bc -l)"
printf 'tide / pgoutput time:          %5.2fx\n' "$(echo "${secs[tide]}/${secs[pgoutput]}" | bc -l)"
printf 'tide / pgoutput raw bytes:     %5.2fx  (target < 1)\n' "$(echo "${bytes[tide]}/${bytes[pgoutput]}" | bc -l)"
printf 'tide / pgoutput zstd-3 bytes:  %5.2fx\n' "$(echo "${zbytes[tide]}/${zbytes[pgoutput]}" | bc -l)"
