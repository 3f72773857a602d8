#!/usr/bin/env bash
# bench/apply.sh - catch a replica up on one backlog: tide apply from
# segments beside the built-in subscription (pgoutput, binary) and a COPY
# of the final tables, in the same run on the same clusters.
#
# Usage: bench/apply.sh [--jobs N | --jobs-scan N,N,...] insert|tpcb [SIZE] [WORKDIR]
#   insert: SIZE transactions of 100 jsonb-heavy rows (default 5000)
#   tpcb:   SIZE pgbench tpcb-like transactions (default 50000)
# Both replicas start from a dump of the source taken before the workload;
# slots "tide" (tide) and "sub" (pgoutput) are created before it too.
# Prints seconds, replica XIDs per 100 source transactions (from the
# snapshot's xmax, which spends no XID to read), tide apply's peak RSS, and
# the ratios against the subscriber and COPY.  Exits non-zero when a replica
# differs from the source.
# --jobs N: tide apply also catches up a second database of replica 1
# (restored from the same base) with --jobs N, in the same run, and the
# ratios against --jobs 1 and the subscriber are printed for both;
# JOBS_ARGS="--batch 150000" adds options to those runs only.
# --jobs-scan 2,3,4: the same for each N in the list (a database each, one
# after the other on the same segments), then a table of ratios against
# --jobs 1 (the plain run), the subscriber and COPY; a 1 in the list is the
# plain run.
# APPLY_ARGS="--values text" adds options to the first tide apply run.
# APPLY_WRAP="perf record -a -g -o /tmp/apply.perf --" runs tide apply under
# a profiler (system-wide, so the replica backend shows up too).
# PROFILE_DIR=DIR records each tide apply run system-wide with perf
# (DIR/NAME.perf) and the PIDs that belong to it (DIR/NAME.pids: tide, its
# threads, and the replica's backends and background processes, sampled
# while it runs); PERF_RECORD="--call-graph dwarf -F 300" replaces perf
# record's default options "-g -F 999"; bench/profile-apply.sh reads them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}
. "$here/lib.sh"
. "$here/workload.sh"
scan=()	# the --jobs values beside the plain run, each > 1
case ${1:-} in
--jobs | --jobs-scan)
	IFS=, read -r -a l <<<"${2:?$1 needs a number or a list}"
	for n in "${l[@]}"; do
		case $n in '' | *[!0-9]*) echo "$1: \"$n\" is not a number" >&2; exit 2 ;; esac
		[ "$n" -gt 1 ] && scan+=("$n")
	done
	shift 2 ;;
esac
jobs=1	# the last, for the summary lines
[ ${#scan[@]} = 0 ] || jobs=${scan[-1]}
kind=${1:-insert}
case $kind in insert) size=${2:-5000} ;; tpcb) size=${2:-50000} ;;
	*) echo "usage: $0 [--jobs N | --jobs-scan N,N,...] insert|tpcb [SIZE] [WORKDIR]" >&2; exit 2 ;; esac
W=${3:-/tmp/tide-bench-apply}
pb=${BENCH_PORT:-56450}  # BENCH_PORT: the first of the three ports the clusters take
S=$W/src; SP=$pb; R1=$W/rep1; R1P=$((pb + 1)); R2=$W/rep2; R2P=$((pb + 2))
mkdir -p "$W"; [ "$(id -u)" = 0 ] && chown postgres "$W"
[ -x "$TIDE_ROOT/tide" ] && [ -f "$TIDE_ROOT/decoder/tide.so" ] || { echo "build first: make" >&2; exit 1; }

pg_down "$S"; pg_down "$R1"; pg_down "$R2"; rm -rf "$W"/*.copy "$W"/*.time "$W/segs"
pg_up "$S" $SP
trap 'pg_down "$S"; pg_down "$R1"; pg_down "$R2"; rm -f "$W"/*.copy' EXIT
pg_up "$R1" $R1P ${BENCH_REPLICA_CONF:-}
pg_up "$R2" $R2P
q() { local h=$1 p=$2; shift 2; psql -X -q -h "$h" -p "$p" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
ps() { q "$S" $SP "$@"; }
p1() { q "$R1" $R1P "$@"; }
p2() { q "$R2" $R2P "$@"; }
xmax() { "$1" -Atc "SELECT pg_snapshot_xmax(pg_current_snapshot())"; }
tables() { ps -Atc "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"; }

# Base copy: schema and initial data, before the workload, into both replicas.
bench_schema "$kind"
pg_dump -h "$S" -p $SP -U postgres -Fc -f "$W/base.dump" postgres
pg_restore -h "$R1" -p $R1P -U postgres -d postgres "$W/base.dump"
for n in "${scan[@]}"; do
	p1 -c "CREATE DATABASE jobs$n"
	pg_restore -h "$R1" -p $R1P -U postgres -d "jobs$n" "$W/base.dump"
done
pg_restore -h "$R2" -p $R2P -U postgres -d postgres "$W/base.dump"

ps -c "CREATE PUBLICATION pub FOR ALL TABLES"
for s in tide:tide sub:pgoutput; do
	ps -c "SELECT pg_create_logical_replication_slot('${s%%:*}', '${s##*:}')" >/dev/null
done
sx0=$(xmax ps)
bench_run "$kind" "$size"
lsn1=$(ps -Atc "SELECT pg_current_wal_lsn()")
srcxacts=$size
echo "workload $kind x $size: $srcxacts source transactions ($(( $(xmax ps) - sx0 )) source XIDs), up to $lsn1"

declare -A secs rss usr sys xid

# sample_pids NAME - until $W/$NAME.stop exists, every 0.1 s: the PIDs and
# thread IDs of tide (from $W/$NAME.pid) and of replica 1's processes
# (children of its postmaster) with what they are, into $PROFILE_DIR/NAME.pids
sample_pids() {
	local name=$1 pm t c
	pm=$(head -1 "$R1/data/postmaster.pid")
	while [ ! -e "$W/$name.stop" ]; do
		if [ -s "$W/$name.pid" ]; then
			local pid; pid=$(cat "$W/$name.pid")
			for t in /proc/"$pid"/task/*; do
				[ -e "$t" ] || continue
				if [ "${t##*/}" = "$pid" ]; then echo "$pid tide-main"; else echo "${t##*/} tide-thread"; fi
			done
		fi
		for c in $(pgrep -P "$pm" || true); do
			t=$({ tr '\0' ' ' <"/proc/$c/cmdline"; } 2>/dev/null || true)
			case $t in
			*"[local]"*) echo "$c backend" ;;
			*) echo "$c background" ;;
			esac
		done
		sleep 0.1
	done | awk '{ r[$1] = r[$1] == "backend" ? r[$1] : $2 } END { for (p in r) print p, r[p] }' |
		sort -n >"$PROFILE_DIR/$name.pids"	# a backend is "background" until it sets its title
}

# apply_run NAME DB [tide apply options...] - one timed tide apply into DB
# of replica 1, profiled when PROFILE_DIR is set; replica XIDs into xid[NAME]
apply_run() {
	local name=$1 db=$2 x0 perf_pid sampler
	shift 2
	local cmd=("$TIDE_ROOT/tide" apply -d "host=$R1 port=$R1P user=postgres dbname=$db" -D "$W/segs" "$@")
	x0=$(xmax p1)
	if [ -n "${PROFILE_DIR:-}" ]; then
		mkdir -p "$PROFILE_DIR"; rm -f "$W/$name.pid" "$W/$name.stop"
		perf record -a ${PERF_RECORD:--g -F 999} -o "$PROFILE_DIR/$name.perf" >/dev/null 2>&1 &
		perf_pid=$!
		sample_pids "$name" & sampler=$!
		sleep 1	# perf is recording
		measure "$name" sh -c 'echo $$ >"$0"; exec "$@"' "$W/$name.pid" "${cmd[@]}"
		kill -INT "$perf_pid"; wait "$perf_pid" || true
		touch "$W/$name.stop"; wait "$sampler"
	else
		measure "$name" ${APPLY_WRAP:-} "${cmd[@]}"
	fi
	xid[$name]=$(( $(xmax p1) - x0 ))
}

# The streamer's part, timed on its own.
measure stream "$TIDE_ROOT/tide" stream -q -d "host=$S port=$SP user=postgres dbname=postgres" \
	-S tide -D "$W/segs" --endpos "$lsn1"

# tide apply: catch replica 1 up from the segments.
apply_run apply postgres ${APPLY_ARGS:-}
xids[0]=${xid[apply]}
for n in "${scan[@]}"; do
	apply_run "apply$n" "jobs$n" --jobs "$n" ${JOBS_ARGS:-}
done
if [ "$jobs" -gt 1 ]; then
	secs[applyj]=${secs[apply$jobs]}; rss[applyj]=${rss[apply$jobs]}
	usr[applyj]=${usr[apply$jobs]}; sys[applyj]=${sys[apply$jobs]}
	xids[2]=${xid[apply$jobs]}
fi

# The built-in subscriber catching replica 2 up from slot "sub" (as the anchors).
x0=$(xmax p2)
a=$(now)
p2 -c "CREATE SUBSCRIPTION sub CONNECTION 'host=$S port=$SP user=postgres dbname=postgres'
       PUBLICATION pub WITH (create_slot = false, slot_name = 'sub', copy_data = false, binary = true)"
until [ "$(p2 -Atc "SELECT coalesce(bool_or(remote_lsn >= '$lsn1'), false) FROM pg_replication_origin_status")" = t ]; do
	sleep 0.05
done
b=$(now)
secs[sub]=$(el "$a" "$b")
xids[1]=$(( $(xmax p2) - x0 ))
p2 -c "ALTER SUBSCRIPTION sub DISABLE" -c "ALTER SUBSCRIPTION sub SET (slot_name = NONE)" -c "DROP SUBSCRIPTION sub"

# Both replicas must equal the source, table by table.
bad=0
md5() { "$1" -Atc "SELECT count(*) || ' ' || coalesce(md5(string_agg(x::text, '' ORDER BY x::text)), '-') FROM $2 x"; }
for n in "${scan[@]}"; do
	eval "pj$n() { psql -X -q -h \"\$R1\" -p \$R1P -U postgres -d jobs$n -v ON_ERROR_STOP=1 \"\$@\"; }"
done
for t in $(tables); do
	m=$(md5 ps "$t"); m1=$(md5 p1 "$t"); m2=$(md5 p2 "$t")
	r1=equal; [ "$m" = "$m1" ] || { r1=DIFFERENT; bad=1; }
	r2=equal; [ "$m" = "$m2" ] || { r2=DIFFERENT; bad=1; }
	rj=""
	for n in "${scan[@]}"; do
		if [ "$m" = "$(md5 "pj$n" "$t")" ]; then rj="$rj, --jobs $n equal"; else rj="$rj, --jobs $n DIFFERENT"; bad=1; fi
	done
	echo "verify $t (${m%% *} rows): tide apply $r1$rj, subscriber $r2"
done

# Bulk-load floor: COPY the final tables out and into an empty schema.
p2 -c "SET client_min_messages = warning" -c "DROP SCHEMA public CASCADE" -c "CREATE SCHEMA public"
pg_dump -h "$S" -p $SP -U postgres -s postgres | p2 >/dev/null
a=$(now)
for t in $(tables); do
	ps -c "\\copy $t TO '$W/$t.copy'"
	p2 -c "\\copy $t FROM '$W/$t.copy'"
done
b=$(now)
secs[copy]=$(el "$a" "$b")

echo
printf '%-36s %8.2f s\n' "tide stream --endpos (segments)" "${secs[stream]}"
printf '%-36s %8.2f s  %6d replica XIDs  peak RSS %6.1f MiB  (tide CPU %.2f s user, %.2f s sys)\n' \
	"tide apply (catch-up from segments)" "${secs[apply]}" "${xids[0]}" "$(echo "${rss[apply]}/1024" | bc -l)" \
	"${usr[apply]}" "${sys[apply]}"
if [ "$jobs" -gt 1 ]; then
	printf '%-36s %8.2f s  %6d replica XIDs  peak RSS %6.1f MiB  (tide CPU %.2f s user, %.2f s sys)\n' \
		"tide apply --jobs $jobs" "${secs[applyj]}" "${xids[2]}" "$(echo "${rss[applyj]}/1024" | bc -l)" \
		"${usr[applyj]}" "${sys[applyj]}"
fi
printf '%-36s %8.2f s  %6d replica XIDs\n' "built-in subscription (binary)" "${secs[sub]}" "${xids[1]}"
printf '%-36s %8.2f s\n' "COPY out+in of final tables" "${secs[copy]}"
echo
printf 'built-in / tide apply:                %5.2fx  (target >= %s)\n' \
	"$(echo "${secs[sub]}/${secs[apply]}" | bc -l)" "$([ "$kind" = tpcb ] && echo 3 || echo 1.5)"
printf 'built-in / (tide stream + apply):     %5.2fx\n' \
	"$(echo "${secs[sub]}/(${secs[stream]}+${secs[apply]})" | bc -l)"
printf 'tide apply / COPY:                    %5.2fx\n' "$(echo "${secs[apply]}/${secs[copy]}" | bc -l)"
printf 'replica XIDs per 100 source xacts:    tide %.2f (target <= 1), subscriber %.2f\n' \
	"$(echo "100*${xids[0]}/$srcxacts" | bc -l)" "$(echo "100*${xids[1]}/$srcxacts" | bc -l)"
printf 'tide apply peak RSS:                  %5.1f MiB\n' "$(echo "${rss[apply]}/1024" | bc -l)"
if [ "$jobs" -gt 1 ]; then
	printf 'tide apply --jobs 1 / --jobs %d:        %5.2fx\n' "$jobs" "$(echo "${secs[apply]}/${secs[applyj]}" | bc -l)"
	printf 'built-in / tide apply --jobs %d:        %5.2fx  (target >= %s)\n' "$jobs" \
		"$(echo "${secs[sub]}/${secs[applyj]}" | bc -l)" "$([ "$kind" = tpcb ] && echo 5 || echo 2.5)"
	printf 'tide apply --jobs %d / COPY:            %5.2fx\n' "$jobs" "$(echo "${secs[applyj]}/${secs[copy]}" | bc -l)"
	printf 'replica XIDs per 100 source xacts:    tide --jobs %d %.2f\n' "$jobs" "$(echo "100*${xids[2]}/$srcxacts" | bc -l)"
	printf 'tide apply --jobs %d peak RSS:         %5.1f MiB\n' "$jobs" "$(echo "${rss[applyj]}/1024" | bc -l)"
fi
if [ ${#scan[@]} -gt 1 ]; then
	echo
	echo "tide apply --jobs N, one after the other on the same segments ($kind x $size):"
	printf '%-6s %8s %10s %10s %10s %8s %9s %10s %9s\n' N seconds 'jobs1/N' 'sub/N' 'N/COPY' 'XIDs/100' 'peak MiB' 'tide usr' 'tide sys'
	for n in 1 "${scan[@]}"; do
		k=apply; [ "$n" = 1 ] || k=apply$n
		printf '%-6s %8.2f %9.2fx %9.2fx %9.2fx %8.2f %9.1f %10.2f %9.2f\n' "$n" "${secs[$k]}" \
			"$(echo "${secs[apply]}/${secs[$k]}" | bc -l)" "$(echo "${secs[sub]}/${secs[$k]}" | bc -l)" \
			"$(echo "${secs[$k]}/${secs[copy]}" | bc -l)" "$(echo "100*${xid[$k]}/$srcxacts" | bc -l)" \
			"$(echo "${rss[$k]}/1024" | bc -l)" "${usr[$k]}" "${sys[$k]}"
	done
	printf '%-6s %8.2f   (built-in subscription, binary)\n' sub "${secs[sub]}"
	printf '%-6s %8.2f   (COPY out+in of the final tables)\n' COPY "${secs[copy]}"
fi
[ $bad = 0 ] || { echo "a replica differs from the source" >&2; exit 1; }
