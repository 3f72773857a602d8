#!/bin/bash
# bench/store.sh - figures for segments that leave the machine.
#
# Usage: bench/store.sh topoff|drain|memory [WORKDIR]
#   topoff  a replica one "day" behind (a compressed day: --bucket 10s,
#           DAY_SECONDS of pgbench tpcb at RATE transactions a second on a
#           database of pgbench scale SCALE, defaults 60, 200 and 10) tops
#           itself off from http:// (nginx over
#           the streamer's directory) and from s3:// (s3rver), against
#           restoring a fresh pg_dump of the source: time and bytes moved
#   drain   the streamer drains a backlog (TPCB transactions of pgbench
#           tpcb, default 50000) with --publish to s3:// and without, RUNS
#           times each (default 3, alternating, medians): the time until the
#           slot is confirmed at the end; then tide publish's upload
#           throughput
#   memory  one transaction of SIZE MB (default 1024) of random bytes
#           makes a segment of about that size: peak RSS of tide stream
#           --publish, tide publish and tide apply from s3://
#
# Everything runs on throwaway clusters and test servers on loopback
# (s3rver from tests/store/node_modules: run `make deps` first).  Timings
# on a shared machine are noisy: run it again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}
. "$here/lib.sh"
. "$here/workload.sh"
kind=${1:-topoff}
W=${2:-/tmp/tide-bench-store}
S=$W/src; SP=56451
R=$W/rep; RP=56452
TIDE=$TIDE_ROOT/tide
[ -x "$TIDE" ] && [ -f "$TIDE_ROOT/decoder/tide.so" ] || { echo "build first: make" >&2; exit 1; }
[ -d "$TIDE_ROOT/tests/store/node_modules/@20minutes/s3rver" ] || { echo "run make deps first" >&2; exit 1; }

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	pg_down "$S"; pg_down "$R"
}
trap cleanup EXIT
pg_down "$S"; pg_down "$R"
rm -rf "$W"; mkdir -p "$W"; [ "$(id -u)" = 0 ] && chown postgres "$W"
pg_up "$S" $SP
pg_up "$R" $RP
ps() { psql -X -q -h "$S" -p $SP -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
rs() { local db=$1; shift; psql -X -q -h "$R" -p $RP -U postgres -d "$db" -v ON_ERROR_STOP=1 "$@"; }
SRC="host=$S port=$SP user=postgres dbname=postgres"
rep() { echo "host=$R port=$RP user=postgres dbname=$1"; }

# s3rver on loopback, keys S3RVER/S3RVER
s3_up() {
	mkdir -p "$W/s3"
	# S3 runs on other machines: here it shares the 2 cores with PostgreSQL
	# and tide, so it yields to them (nice), as a remote store would
	nice -n 19 node --openssl-legacy-provider "$TIDE_ROOT/tests/store/s3rver.js" 56453 "$W/s3" bench >"$W/s3.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/56453) 2>/dev/null && break; sleep 0.1; done
	export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_ENDPOINT_URL=http://127.0.0.1:56453
	unset AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION AWS_ENDPOINT_URL_S3 || true
}
# nginx serving $1 on port 56454
web_up() {
	mkdir -p "$W/nginx/tmp"
	cat >"$W/nginx/nginx.conf" <<-EOF
	$([ "$(id -u)" = 0 ] && echo "user root root;")
	daemon off; worker_processes 1; pid $W/nginx/nginx.pid; error_log $W/nginx/error.log;
	events { worker_connections 64; }
	http { access_log $W/nginx/access.log; client_body_temp_path $W/nginx/tmp/b; proxy_temp_path $W/nginx/tmp/p;
	  fastcgi_temp_path $W/nginx/tmp/f; uwsgi_temp_path $W/nginx/tmp/u; scgi_temp_path $W/nginx/tmp/s;
	  default_type application/octet-stream;
	  server { listen 127.0.0.1:56454; root $1; } }
	EOF
	/usr/sbin/nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -e "$W/nginx/error.log" &
	pids+=($!)
	for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/56454) 2>/dev/null && break; sleep 0.1; done
}
mb() { echo "scale=1; $1 / 1000000" | bc; }
# timed VAR command... - elapsed seconds into VAR, peak RSS (kB) into VAR_rss
timed() {
	local var=$1; shift
	/usr/bin/time -f '%e %M' -o "$W/time.out" "$@"
	read -r "${var?}" "${var}_rss" <"$W/time.out"
}
downloaded() { sed -n 's/.*downloaded [0-9]* segments (\([0-9.]*\) MB).*/\1/p' "$1" | tail -1; }
sum_tables="SELECT string_agg(t || ':' || n, ' ' ORDER BY t) FROM (
  SELECT 'a' t, sum(abalance)::text n FROM pgbench_accounts UNION ALL
  SELECT 'b', sum(bbalance)::text FROM pgbench_branches UNION ALL
  SELECT 't', sum(tbalance)::text FROM pgbench_tellers UNION ALL
  SELECT 'h', count(*)::text FROM pgbench_history) x"

case $kind in
topoff)
	day=${DAY_SECONDS:-60}; rate=${RATE:-200}; scale=${SCALE:-10}
	s3_up
	pgbench -q -h "$S" -p $SP -U postgres -i -s "$scale" postgres >/dev/null 2>&1
	"$TIDE" base -q -d "$SRC" -S tide -D "$W/segs"
	# two replicas at the base: yesterday's state
	for db in via_http via_s3; do
		rs postgres -c "CREATE DATABASE $db"
		"$TIDE" bootstrap -q -d "$(rep $db)" -D "$W/segs" >/dev/null 2>&1
	done
	web_up "$W/segs"
	"$TIDE" stream -q -d "$SRC" -S tide -D "$W/segs" --bucket 10s --publish s3://bench/top >"$W/stream.log" 2>&1 &
	spid=$!; pids+=($spid)
	echo "the day: $day s of pgbench tpcb at $rate/s, segments of 10 s"
	pgbench -n -h "$S" -p $SP -U postgres -T "$day" -R "$rate" postgres >/dev/null 2>&1
	end=$(ps -Atc "SELECT pg_current_wal_lsn()")
	kill -TERM $spid; wait $spid || true
	"$TIDE" stream -q -d "$SRC" -S tide -D "$W/segs" --bucket 10s --publish s3://bench/top --endpos "$end"
	nseg=$(ls "$W"/segs/*.tseg | wc -l)
	echo "history: $nseg segments, $(mb $(cat "$W"/segs/*.tseg | wc -c)) MB"

	timed t_http "$TIDE" apply -d "$(rep via_http)" -D http://127.0.0.1:56454 --cache "$W/cache_http" 2>"$W/http.log"
	timed t_s3 "$TIDE" apply -d "$(rep via_s3)" -D s3://bench/top --cache "$W/cache_s3" 2>"$W/s3.log"
	b_http=$(downloaded "$W/http.log"); b_s3=$(downloaded "$W/s3.log")

	timed t_dump pg_dump -h "$S" -p $SP -U postgres -Fc -f "$W/fresh.dump" postgres
	rs postgres -c "CREATE DATABASE from_dump"
	timed t_restore pg_restore -h "$R" -p $RP -U postgres -d from_dump "$W/fresh.dump"
	b_dump=$(stat -c %s "$W/fresh.dump")

	want=$(ps -Atc "$sum_tables")
	for db in via_http via_s3 from_dump; do
		got=$(rs $db -Atc "$sum_tables")
		[ "$got" = "$want" ] || { echo "$db differs from the source: $got / $want" >&2; exit 1; }
	done
	echo
	printf '%-34s %9s %12s\n' "top-off of a replica a day behind" "time" "bytes moved"
	printf '%-34s %8.2fs %9s MB\n' "tide apply from http:// (nginx)" "$t_http" "$b_http"
	printf '%-34s %8.2fs %9s MB\n' "tide apply from s3:// (s3rver)" "$t_s3" "$b_s3"
	printf '%-34s %8.2fs %9s MB  (pg_dump %.2fs + pg_restore %.2fs)\n' "a fresh pg_dump -Fc restored" \
		"$(echo "$t_dump + $t_restore" | bc)" "$(mb "$b_dump")" "$t_dump" "$t_restore"
	printf 'replicas equal to the source: %s\n' "$want"
	;;
drain)
	n=${TPCB:-50000}
	s3_up
	bench_schema tpcb
	runs=${RUNS:-3}
	for i in $(seq "$runs"); do
		ps -c "SELECT pg_create_logical_replication_slot('p$i', 'tide')" \
		   -c "SELECT pg_create_logical_replication_slot('q$i', 'tide')" >/dev/null
	done
	bench_run tpcb "$n"
	end=$(ps -Atc "SELECT pg_current_wal_lsn()")
	echo "backlog: $n tpcb transactions, up to $end; $runs runs each, alternating"
	# drain SLOT [ARGS] - seconds until the slot is confirmed at $end (polled), and until exit
	drain() {
		local slot=$1; shift
		local t0 t1 out=$W/$slot.stream.log
		t0=$(now)
		"$TIDE" stream -q -d "$SRC" -S "$slot" -D "$W/segs_$slot" --bucket 2s --endpos "$end" "$@" >"$out" 2>&1 &
		local p=$!
		until [ "$(ps -Atc "SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots WHERE slot_name = '$slot'")" = t ]; do
			sleep 0.02
		done
		t1=$(now)
		wait $p
		echo "$(el "$t0" "$t1") $(el "$t0" "$(now)")"
	}
	median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
	: >"$W/plain"; : >"$W/pub"
	for i in $(seq "$runs"); do
		drain "p$i" >>"$W/plain"
		drain "q$i" --publish "s3://bench/drain$i" >>"$W/pub"
	done
	d_plain=$(cut -d' ' -f1 "$W/plain" | median); e_plain=$(cut -d' ' -f2 "$W/plain" | median)
	d_pub=$(cut -d' ' -f1 "$W/pub" | median); e_pub=$(cut -d' ' -f2 "$W/pub" | median)
	echo "each run (drain, exit): without --publish $(tr '\n' ';' <"$W/plain") with --publish $(tr '\n' ';' <"$W/pub")"
	bytes=$(cat "$W"/segs_q1/*.tseg | wc -c)
	timed t_up "$TIDE" publish -q "$W/segs_p1" s3://bench/again
	echo
	printf 'drain of the slot (confirmed at the end), median  without --publish %6.2fs   with --publish %6.2fs  (%+.1f%%; target <= +10%%)\n' \
		"$d_plain" "$d_pub" "$(echo "($d_pub / $d_plain - 1) * 100" | bc -l)"
	printf 'the stream process, start to exit, median         without --publish %6.2fs   with --publish %6.2fs  (its last uploads included)\n' \
		"$e_plain" "$e_pub"
	printf 'tide publish of %s MB in %d segments: %.2fs, %.1f MB/s\n' "$(mb "$bytes")" "$(ls "$W"/segs_p1/*.tseg | wc -l)" \
		"$t_up" "$(echo "$bytes / 1000000 / $t_up" | bc -l)"
	;;
memory)
	size=${SIZE:-1024}
	s3_up
	# incompressible rows (random bytes), so the segment is about SIZE MB
	blob_ddl="CREATE TABLE blobs (id bigint PRIMARY KEY, b bytea NOT NULL)"
	ps -c "$blob_ddl"
	ps -c "SELECT pg_create_logical_replication_slot('tide', 'tide')" >/dev/null
	echo "one transaction of about $size MB of random bytes..."
	ps -c "INSERT INTO blobs SELECT g, (SELECT decode(string_agg(md5(random()::text || g || k), ''), 'hex')
	         FROM generate_series(1, 128) k) FROM generate_series(1, $size * 512) g"
	end=$(ps -Atc "SELECT pg_current_wal_lsn()")
	timed t_stream "$TIDE" stream -q -d "$SRC" -S tide -D "$W/segs" --endpos "$end" --publish s3://bench/mem
	seg=$(ls -S "$W"/segs/*.tseg | head -1)
	timed t_pub "$TIDE" publish -q "$W/segs" s3://bench/mem2
	rs postgres -c "$blob_ddl"
	timed t_apply "$TIDE" apply -q -d "$(rep postgres)" -D s3://bench/mem --cache "$W/cache"
	sum="SELECT count(*) || ':' || md5(string_agg(md5(b), '' ORDER BY id)) FROM blobs"
	[ "$(rs postgres -Atc "$sum")" = "$(ps -Atc "$sum")" ] || { echo "the replica differs" >&2; exit 1; }
	echo
	printf 'a segment of %s MB (one transaction of %s MB of rows)\n' "$(mb "$(stat -c %s "$seg")")" "$size"
	printf '%-42s %8.2fs  peak RSS %6.1f MiB (target <= 64)\n' "tide stream --publish s3:// (drain+upload)" "$t_stream" "$(echo "$t_stream_rss / 1024" | bc -l)"
	printf '%-42s %8.2fs  peak RSS %6.1f MiB (target <= 64)\n' "tide publish to s3://" "$t_pub" "$(echo "$t_pub_rss / 1024" | bc -l)"
	printf '%-42s %8.2fs  peak RSS %6.1f MiB (target <= 64)\n' "tide apply from s3:// (download+apply)" "$t_apply" "$(echo "$t_apply_rss / 1024" | bc -l)"
	;;
*)
	echo "usage: $0 topoff|drain|memory [WORKDIR]" >&2; exit 2 ;;
esac
